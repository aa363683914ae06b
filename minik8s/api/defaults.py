"""Defaulting: the values the API server fills in for fields you left out.

Write a Pod with only a name, a container name and an image, read it back, and it
has grown ``restartPolicy: Always``, ``dnsPolicy: ClusterFirst``,
``terminationGracePeriodSeconds: 30``, ``imagePullPolicy``... Upstream does this in
``SetDefaults_*`` functions that run whenever an object is decoded, before
validation, so the rest of the system never has to guess what "unset" means.

A few defaults come from admission plugins instead (they run on create, after
defaulting, and only for Pods, not for pod templates): ServiceAccount sets the
service account, DefaultTolerationSeconds adds two NoExecute tolerations. (Priority,
which sets ``priority`` and ``preemptionPolicy`` from the PriorityClasses, is the API
server's plugin: :mod:`minik8s.apiserver.admission.priority`.) They are kept apart in
:func:`admission_defaults` so the book can show which is which.

Interface:
    apply_defaults(obj, admission=True) -> dict   # a defaulted deep copy; obj is untouched
    admission_defaults(pod) -> dict               # the Pod admission-plugin defaults only
    job_selector_defaults(job) -> dict            # Job selector/labels; needs metadata.uid
    image_pull_policy(image) -> str               # the upstream rule for imagePullPolicy

Invariants: defaulting never overwrites a value the user set; it is idempotent
(``apply_defaults(apply_defaults(x)) == apply_defaults(x)``); it tolerates malformed
input (wrong types are left alone for validation to report).

Taught in chapter 3 (the API: defaulting and validation) and chapter 5 (Pods).
"""

from __future__ import annotations

from minik8s.api.objects import deep_copy

from typing import Any, Callable

Obj = dict[str, Any]

# Tunables of the admission plugins, as upstream's defaults.
DEFAULT_TOLERATION_SECONDS = 300  # --default-not-ready-toleration-seconds / unreachable
DEFAULT_SERVICE_ACCOUNT = "default"
SYSTEM_PRIORITIES = {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}


# --- small helpers that tolerate malformed input ----------------------------------------


def _dict(parent: Any, key: str) -> Obj | None:
    """``parent[key]`` if it is a dict (created empty when missing), else None."""
    if not isinstance(parent, dict):
        return None
    if parent.get(key) is None:
        parent[key] = {}
    value = parent[key]
    return value if isinstance(value, dict) else None


def _existing(parent: Any, key: str) -> Obj | None:
    """``parent[key]`` if it is already a dict; never creates it."""
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else None


def _items(parent: Any, key: str) -> list[Obj]:
    """The dict elements of the list ``parent[key]`` (nothing when missing or malformed)."""
    value = parent.get(key) if isinstance(parent, dict) else None
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _default(target: Any, key: str, value: Any) -> None:
    """Set ``target[key]`` unless the user set it (``null`` counts as unset, as in Go)."""
    if isinstance(target, dict) and target.get(key) is None:
        target[key] = deep_copy(value)


# --- containers and pod specs ----------------------------------------------------------------


def image_pull_policy(image: Any) -> str:
    """``Always`` for ``:latest`` or an untagged image without digest, else ``IfNotPresent``."""
    if not isinstance(image, str) or not image:
        return "IfNotPresent"
    name, at, _digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.rpartition(":")[2] if ":" in last else ""
    if not tag and not at:
        tag = "latest"  # docker's implicit tag
    return "Always" if tag == "latest" else "IfNotPresent"


def _probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        _default(probe, key, value)
    _handler(probe)


def _handler(handler: Any) -> None:
    http = _existing(handler, "httpGet")
    if http is not None:
        _default(http, "path", "/")
        _default(http, "scheme", "HTTP")


def _env(container: Obj) -> None:
    for env in _items(container, "env"):
        field_ref = _existing(_existing(env, "valueFrom"), "fieldRef")
        _default(field_ref, "apiVersion", "v1")


def _container(container: Obj, host_network: bool) -> None:
    _default(container, "imagePullPolicy", image_pull_policy(container.get("image")))
    _default(container, "terminationMessagePath", "/dev/termination-log")
    _default(container, "terminationMessagePolicy", "File")
    _default(container, "resources", {})
    for port in _items(container, "ports"):
        _default(port, "protocol", "TCP")
        if host_network:
            _default(port, "hostPort", port.get("containerPort"))
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(container.get(key))
    lifecycle = _existing(container, "lifecycle")
    for hook in ("postStart", "preStop"):
        _handler(_existing(lifecycle, hook))
    _env(container)


def _volume(volume: Obj) -> None:
    sources = [k for k in volume if k != "name"]
    if not sources:
        volume["emptyDir"] = {}  # SetDefaults_Volume: no source means an emptyDir
    for key in ("secret", "configMap", "downwardAPI", "projected"):
        _default(_existing(volume, key), "defaultMode", 420)  # 0644
    _default(_existing(volume, "hostPath"), "type", "")
    for item in _items(_existing(volume, "downwardAPI"), "items"):
        _default(_existing(item, "fieldRef"), "apiVersion", "v1")
    for source in _items(_existing(volume, "projected"), "sources"):
        _default(_existing(source, "serviceAccountToken"), "expirationSeconds", 3600)
    claim = _existing(_existing(_existing(volume, "ephemeral"), "volumeClaimTemplate"), "spec")
    _default(claim, "volumeMode", "Filesystem")


def _pod_spec(spec: Any) -> None:
    """SetDefaults_PodSpec and the defaulters of everything inside it (pods and templates)."""
    if not isinstance(spec, dict):
        return
    _default(spec, "dnsPolicy", "ClusterFirst")
    _default(spec, "restartPolicy", "Always")
    _default(spec, "terminationGracePeriodSeconds", 30)
    _default(spec, "securityContext", {})
    _default(spec, "schedulerName", "default-scheduler")
    host_network = spec.get("hostNetwork") is True
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in _items(spec, key):
            _container(container, host_network)
    for volume in _items(spec, "volumes"):
        _volume(volume)


def _template(parent: Any) -> None:
    _pod_spec(_existing(_existing(parent, "template"), "spec"))


# --- one function per kind ---------------------------------------------------------------------


def _pod(pod: Obj) -> None:
    spec = _existing(pod, "spec")
    _pod_spec(spec)
    _default(spec, "enableServiceLinks", True)
    # SetDefaults_Pod (not PodSpec): requests default to limits, for Pods only, never templates.
    for key in ("initContainers", "containers"):
        for container in _items(spec, key):
            resources = _existing(container, "resources")
            limits = _existing(resources, "limits")
            if resources is not None and limits:
                requests = _dict(resources, "requests")
                for name, amount in limits.items():
                    _default(requests, name, amount)


def _replication_controller(rc: Obj) -> None:
    spec = _existing(rc, "spec")
    _default(spec, "replicas", 1)
    template_labels = _existing(_existing(_existing(spec, "template"), "metadata"), "labels")
    if template_labels and spec is not None and not spec.get("selector"):
        spec["selector"] = dict(template_labels)
    metadata = _existing(rc, "metadata")
    if template_labels and metadata is not None and not metadata.get("labels"):
        metadata["labels"] = dict(template_labels)
    _template(spec)


def _deployment(deployment: Obj) -> None:
    spec = _existing(deployment, "spec")
    _default(spec, "replicas", 1)
    strategy = _dict(spec, "strategy")
    _default(strategy, "type", "RollingUpdate")
    if isinstance(strategy, dict) and strategy.get("type") == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        _default(rolling, "maxUnavailable", "25%")
        _default(rolling, "maxSurge", "25%")
    _default(spec, "revisionHistoryLimit", 10)
    _default(spec, "progressDeadlineSeconds", 600)
    _template(spec)


def _replica_set(rs: Obj) -> None:
    spec = _existing(rs, "spec")
    _default(spec, "replicas", 1)
    _template(spec)


def _claim(claim: Obj) -> None:
    """SetDefaults_PersistentVolumeClaim (also used for StatefulSet claim templates)."""
    _default(_existing(claim, "spec"), "volumeMode", "Filesystem")
    _default(_dict(claim, "status"), "phase", "Pending")


def _stateful_set(sts: Obj) -> None:
    spec = _existing(sts, "spec")
    _default(spec, "replicas", 1)
    _default(spec, "podManagementPolicy", "OrderedReady")
    strategy = _dict(spec, "updateStrategy")
    _default(strategy, "type", "RollingUpdate")
    if isinstance(strategy, dict) and strategy.get("type") == "RollingUpdate":
        _default(_dict(strategy, "rollingUpdate"), "partition", 0)
    _default(spec, "revisionHistoryLimit", 10)
    retention = _dict(spec, "persistentVolumeClaimRetentionPolicy")
    _default(retention, "whenDeleted", "Retain")
    _default(retention, "whenScaled", "Retain")
    for claim in _items(spec, "volumeClaimTemplates"):
        _claim(claim)
    _template(spec)


def _daemon_set(ds: Obj) -> None:
    spec = _existing(ds, "spec")
    strategy = _dict(spec, "updateStrategy")
    _default(strategy, "type", "RollingUpdate")
    if isinstance(strategy, dict) and strategy.get("type") == "RollingUpdate":
        rolling = _dict(strategy, "rollingUpdate")
        _default(rolling, "maxUnavailable", 1)
        _default(rolling, "maxSurge", 0)
    _default(spec, "revisionHistoryLimit", 10)
    _template(spec)


def _job(job: Obj) -> None:
    spec = _existing(job, "spec")
    if spec is None:
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1  # a non-parallel job: one pod, run to completion once
    _default(spec, "parallelism", 1)
    # backoffLimitPerIndex switches the global limit off (MaxInt32).
    _default(spec, "backoffLimit", 2147483647 if spec.get("backoffLimitPerIndex") is not None else 6)
    _default(spec, "completionMode", "NonIndexed")
    _default(spec, "suspend", False)
    failure_policy = _existing(spec, "podFailurePolicy")
    for rule in _items(failure_policy, "rules"):
        for condition in _items(rule, "onPodConditions"):
            _default(condition, "status", "True")
    _default(spec, "podReplacementPolicy", "Failed" if failure_policy is not None else "TerminatingOrFailed")
    _copy_template_labels(job)
    _template(spec)


def _copy_template_labels(job: Obj) -> None:
    """batch/v1 SetDefaults_Job: a Job without labels takes its pod template's."""
    labels = _existing(_existing(_existing(_existing(job, "spec"), "template"), "metadata"), "labels")
    metadata = _existing(job, "metadata")
    if labels and metadata is not None and not metadata.get("labels"):
        metadata["labels"] = dict(labels)


def _cron_job(cron: Obj) -> None:
    spec = _existing(cron, "spec")
    _default(spec, "concurrencyPolicy", "Allow")
    _default(spec, "suspend", False)
    _default(spec, "successfulJobsHistoryLimit", 3)
    _default(spec, "failedJobsHistoryLimit", 1)
    # Only the pod template inside is defaulted; SetDefaults_Job runs on Jobs, not JobSpecs.
    _template(_existing(_existing(spec, "jobTemplate"), "spec"))


def _service(service: Obj) -> None:
    # LoadBalancerIPMode (on by default since 1.30): an ingress IP is a virtual IP unless its controller says Proxy.
    for ingress in _items(_existing(_existing(service, "status"), "loadBalancer"), "ingress"):
        if ingress.get("ip"):
            _default(ingress, "ipMode", "VIP")
    spec = _existing(service, "spec")
    if spec is None:
        return
    _default(spec, "sessionAffinity", "None")
    _default(spec, "type", "ClusterIP")
    for port in _items(spec, "ports"):
        _default(port, "protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    kind = spec.get("type")
    if kind in ("NodePort", "LoadBalancer"):
        _default(spec, "externalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        _default(spec, "allocateLoadBalancerNodePorts", True)
    if kind != "ExternalName":
        _default(spec, "internalTrafficPolicy", "Cluster")
    if spec.get("sessionAffinity") == "ClientIP":
        client_ip = _dict(_dict(spec, "sessionAffinityConfig"), "clientIP")
        _default(client_ip, "timeoutSeconds", 10800)
    _ip_families(spec)


def _ip_families(spec: Obj) -> None:
    """Upstream sets these in the Service REST storage, when it allocates the cluster IP;
    minik8s is a single-stack IPv4 cluster, so the outcome is fixed."""
    if spec.get("type") == "ExternalName":
        return
    headless_without_selector = spec.get("clusterIP") == "None" and not spec.get("selector")
    _default(spec, "ipFamilyPolicy", "RequireDualStack" if headless_without_selector else "SingleStack")
    _default(spec, "ipFamilies", ["IPv4"])


def _namespace(namespace: Obj) -> None:
    metadata = _existing(namespace, "metadata")
    name = metadata.get("name") if metadata is not None else None
    if isinstance(name, str) and name:
        labels = _dict(metadata, "labels")
        if labels is not None:
            labels["kubernetes.io/metadata.name"] = name  # always the name, even if the user set it
    # spec.finalizers is set by the namespace strategy on create (PrepareForCreate).
    _default(_dict(namespace, "spec"), "finalizers", ["kubernetes"])
    _default(_dict(namespace, "status"), "phase", "Active")


def _secret(secret: Obj) -> None:
    _default(secret, "type", "Opaque")


def _persistent_volume(pv: Obj) -> None:
    spec = _existing(pv, "spec")
    _default(spec, "persistentVolumeReclaimPolicy", "Retain")
    _default(spec, "volumeMode", "Filesystem")
    _default(_dict(pv, "status"), "phase", "Pending")


def _node(node: Obj) -> None:
    status = _existing(node, "status")
    capacity = _existing(status, "capacity")
    if capacity is not None and status is not None and status.get("allocatable") is None:
        status["allocatable"] = dict(capacity)  # SetDefaults_NodeStatus


def _endpoints(endpoints: Obj) -> None:
    for subset in _items(endpoints, "subsets"):
        for port in _items(subset, "ports"):
            _default(port, "protocol", "TCP")


def _endpoint_slice(endpoint_slice: Obj) -> None:
    for port in _items(endpoint_slice, "ports"):  # SetDefaults_EndpointPort
        _default(port, "name", "")
        _default(port, "protocol", "TCP")


def _limit_range(limit_range: Obj) -> None:
    """SetDefaults_LimitRangeItem: a container's default limit is its max, its default request
    the default limit (or, failing that, the min)."""
    for item in _items(_existing(limit_range, "spec"), "limits"):
        if item.get("type") != "Container":
            continue
        default = _dict(item, "default")
        for name, amount in (_existing(item, "max") or {}).items():
            _default(default, name, amount)
        request = _dict(item, "defaultRequest")
        for name, amount in (default or {}).items():
            _default(request, name, amount)
        for name, amount in (_existing(item, "min") or {}).items():
            _default(request, name, amount)


def _network_policy(policy: Obj) -> None:
    spec = _existing(policy, "spec")
    for rule_key in ("ingress", "egress"):
        for rule in _items(spec, rule_key):
            for port in _items(rule, "ports"):
                _default(port, "protocol", "TCP")
    if spec is not None and not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def _storage_class(storage_class: Obj) -> None:
    _default(storage_class, "reclaimPolicy", "Delete")
    _default(storage_class, "volumeBindingMode", "Immediate")


_SCALE_UP = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
             "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                          {"type": "Percent", "value": 100, "periodSeconds": 15}]}
_SCALE_DOWN = {"stabilizationWindowSeconds": 300, "selectPolicy": "Max",
               "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _hpa(hpa: Obj) -> None:
    spec = _existing(hpa, "spec")
    if spec is None:
        return
    _default(spec, "minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    behavior = _existing(spec, "behavior")
    if behavior is not None:  # only a behavior the user started is filled in
        for key, rules in (("scaleUp", _SCALE_UP), ("scaleDown", _SCALE_DOWN)):
            target = _dict(behavior, key)
            for field, value in rules.items():
                _default(target, field, value)


def _hpa_v1(hpa: Obj) -> None:
    # autoscaling/v1 SetDefaults_HorizontalPodAutoscaler; the cpu target of 80% is added on conversion to v2.
    spec = _existing(hpa, "spec")
    if spec is not None:
        _default(spec, "minReplicas", 1)


def _rbac_binding(binding: Obj) -> None:
    # rbac/v1 SetDefaults_RoleBinding and SetDefaults_Subject: the API group users leave out.
    ref = _existing(binding, "roleRef")
    if ref is not None and not ref.get("apiGroup"):
        ref["apiGroup"] = "rbac.authorization.k8s.io"
    for subject in binding.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = "rbac.authorization.k8s.io"


def _webhook_configuration(configuration: Obj) -> None:
    """admissionregistration/v1 SetDefaults_{Validating,Mutating}Webhook, SetDefaults_Rule and
    SetDefaults_ServiceReference."""
    mutating = configuration.get("kind") == "MutatingWebhookConfiguration"
    for hook in _items(configuration, "webhooks"):
        _default(hook, "failurePolicy", "Fail")
        _default(hook, "matchPolicy", "Equivalent")
        _default(hook, "namespaceSelector", {})
        _default(hook, "objectSelector", {})
        _default(hook, "timeoutSeconds", 10)
        if mutating:
            _default(hook, "reinvocationPolicy", "Never")
        for rule in _items(hook, "rules"):
            _default(rule, "scope", "*")
        service = _existing(_existing(hook, "clientConfig"), "service")
        _default(service, "port", 443)


def _apiservice(apiservice: Obj) -> None:
    # apiregistration/v1 SetDefaults_ServiceReference
    _default(_existing(_existing(apiservice, "spec"), "service"), "port", 443)


_BY_KIND: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("v1", "Pod"): _pod,
    ("v1", "ReplicationController"): _replication_controller,
    ("v1", "Service"): _service,
    ("v1", "Namespace"): _namespace,
    ("v1", "Secret"): _secret,
    ("v1", "PersistentVolume"): _persistent_volume,
    ("v1", "PersistentVolumeClaim"): _claim,
    ("v1", "Node"): _node,
    ("v1", "Endpoints"): _endpoints,
    ("v1", "LimitRange"): _limit_range,
    ("discovery.k8s.io/v1", "EndpointSlice"): _endpoint_slice,
    ("apps/v1", "Deployment"): _deployment,
    ("apps/v1", "ReplicaSet"): _replica_set,
    ("apps/v1", "StatefulSet"): _stateful_set,
    ("apps/v1", "DaemonSet"): _daemon_set,
    ("batch/v1", "Job"): _job,
    ("batch/v1", "CronJob"): _cron_job,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): _hpa,
    ("autoscaling/v1", "HorizontalPodAutoscaler"): _hpa_v1,
    ("networking.k8s.io/v1", "NetworkPolicy"): _network_policy,
    ("storage.k8s.io/v1", "StorageClass"): _storage_class,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): _rbac_binding,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): _rbac_binding,
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration"): _webhook_configuration,
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration"): _webhook_configuration,
    ("apiregistration.k8s.io/v1", "APIService"): _apiservice,
}
# Kinds without SetDefaults_* (ConfigMap, Event, ServiceAccount, Lease, Roles, Ingress...) pass through.


def apply_defaults(obj: Obj, admission: bool = True) -> Obj:
    """A defaulted deep copy of ``obj``. With ``admission`` (the default, for creates) the
    Pod admission-plugin defaults are applied too; the input is never modified."""
    result = deep_copy(obj)
    if not isinstance(result, dict):
        return result
    defaulter = _BY_KIND.get((str(result.get("apiVersion")), str(result.get("kind"))))
    if defaulter is not None:
        defaulter(result)
    if admission and (result.get("apiVersion"), result.get("kind")) == ("v1", "Pod"):
        _admit_pod(result)
    return result


# --- admission-plugin defaults (Pods on create only) ------------------------------------------


def admission_defaults(pod: Obj) -> Obj:
    """A copy of ``pod`` with the defaults of the ServiceAccount and DefaultTolerationSeconds
    admission plugins. (Mounting the service-account token volume is the apiserver's
    admission chain's job, not defaulting.)"""
    result = deep_copy(pod)
    _admit_pod(result)
    return result


def _admit_pod(pod: Obj) -> None:
    spec = _existing(pod, "spec")
    if spec is None:
        return
    # ServiceAccount admission; serviceAccount is the deprecated mirror of serviceAccountName.
    _default(spec, "serviceAccountName", spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT)
    _default(spec, "serviceAccount", spec.get("serviceAccountName"))
    _default_tolerations(spec)
    # Priority admission (spec.priority, spec.preemptionPolicy) reads the PriorityClasses: it is the
    # apiserver's plugin, minik8s.apiserver.admission.priority.


def _default_tolerations(spec: Obj) -> None:
    """DefaultTolerationSeconds: tolerate not-ready and unreachable nodes for 300s, unless the
    pod already tolerates that taint with NoExecute (or with every effect)."""
    if spec.get("tolerations") is None:
        spec["tolerations"] = []
    tolerations = spec["tolerations"]
    if not isinstance(tolerations, list):
        return
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        covered = any(isinstance(t, dict) and t.get("effect") in ("NoExecute", "", None)
                      and (t.get("key") == key or (not t.get("key") and t.get("operator") == "Exists"))
                      for t in tolerations)
        if not covered:
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})


# --- Job selector (after the uid is known) -------------------------------------------------------


def job_selector_defaults(job: Obj) -> Obj:
    """A copy of ``job`` with the selector and pod labels the Job strategy generates on create
    (unless ``spec.manualSelector`` is true). Call it once ``metadata.uid`` is assigned."""
    result = deep_copy(job)
    spec = _existing(result, "spec")
    metadata = _existing(result, "metadata") or {}
    uid, name = metadata.get("uid"), metadata.get("name")
    if spec is None or spec.get("manualSelector") is True or not uid:
        return result
    template_meta = _dict(_dict(spec, "template"), "metadata")
    labels = _dict(template_meta, "labels")
    if labels is None:
        return result
    for key, value in (("batch.kubernetes.io/controller-uid", uid), ("batch.kubernetes.io/job-name", name),
                       ("controller-uid", uid), ("job-name", name)):
        labels.setdefault(key, value)
    selector = _dict(spec, "selector")
    match_labels = _dict(selector, "matchLabels")
    if match_labels is not None:
        # A uid label the user wrote stays (validation then refuses a wrong one), as upstream.
        match_labels.setdefault("batch.kubernetes.io/controller-uid", uid)
    _copy_template_labels(result)
    return result
