"""Server-side Table output: the columns ``kubectl get`` prints.

kubectl does not know how to print a Deployment. It asks the API server for
``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` and the server answers
a ``meta.k8s.io/v1`` ``Table``: column definitions plus one row of cells per
object. Upstream computes the cells in pkg/printers/internalversion; this module
does the same, one small function per resource, so ``kubectl get`` against
minik8s prints exactly what it prints against a real cluster.

Interface:
    to_table(resource, objects, *, now, include_object="Metadata", list_meta=None) -> Table dict
    COLUMNS[kind] / CELLS[kind]       # the data that drives it, per Kind

Invariants:
    * every row has one cell per column definition, wide (priority 1) cells included;
      the client drops priority-1 columns unless ``-o wide``;
    * cells are JSON values: strings, integers or booleans;
    * time comes from ``now`` (the cluster may run on a virtual clock).

A kind without a printer gets upstream's default table: NAME and CREATED AT.

Taught in chapter 3 (kubectl and describing objects).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable

from minik8s.api import autoscaling, events, metrics, quantity
from minik8s.api.resources import Resource
from minik8s.api.duration import age, human_duration, parse_time
from minik8s.apiserver.apiextensions import tableconvertor

Obj = dict[str, Any]
Cells = list[Any]

# ---------------------------------------------------------------------------
# Column definitions: (Name, type, priority, description)
# ---------------------------------------------------------------------------

_NAME_DOC = "Name must be unique within a namespace."
_AGE_DOC = "CreationTimestamp is a timestamp representing the server time when this object was created."
_CONTAINERS = ("Containers", "string", 1, "Names of each container in the template.")
_IMAGES = ("Images", "string", 1, "Images referenced by each container in the template.")
_SELECTOR = ("Selector", "string", 1, "A label query over pods.")
_AGE = ("Age", "string", 0, _AGE_DOC)


def _cols(*rest: tuple[str, str, int, str]) -> list[tuple[str, str, int, str]]:
    return [("Name", "string", 0, _NAME_DOC), *rest]


COLUMNS: dict[str, list[tuple[str, str, int, str]]] = {
    "Pod": _cols(("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
                 ("Status", "string", 0, "The aggregate status of the containers in this pod."),
                 ("Restarts", "string", 0, "The number of times the containers in this pod have been restarted "
                  "and when the last container in this pod has restarted."),
                 _AGE,
                 ("IP", "string", 1, "IP address allocated to the pod."),
                 ("Node", "string", 1, "The node the pod is bound to."),
                 ("Nominated Node", "string", 1, "The node the scheduler nominated for a preempting pod."),
                 ("Readiness Gates", "string", 1, "Pod readiness gates that are true, of all declared.")),
    "ReplicaSet": _cols(("Desired", "integer", 0, "Number of desired pods."),
                        ("Current", "integer", 0, "The most recently observed number of replicas."),
                        ("Ready", "integer", 0, "The number of ready replicas."),
                        _AGE, _CONTAINERS, _IMAGES, _SELECTOR),
    "ReplicationController": _cols(("Desired", "integer", 0, "Number of desired pods."),
                                   ("Current", "integer", 0, "The most recently observed number of replicas."),
                                   ("Ready", "integer", 0, "The number of ready replicas."),
                                   _AGE, _CONTAINERS, _IMAGES, _SELECTOR),
    "Deployment": _cols(("Ready", "string", 0, "Number of the pod with ready state"),
                        ("Up-to-date", "string", 0, "Total number of pods that have the desired template."),
                        ("Available", "string", 0, "Total number of available pods."),
                        _AGE, _CONTAINERS, _IMAGES, _SELECTOR),
    "StatefulSet": _cols(("Ready", "string", 0, "Number of the pod with ready state"), _AGE, _CONTAINERS, _IMAGES),
    "DaemonSet": _cols(("Desired", "integer", 0, "Number of nodes that should run the daemon pod."),
                       ("Current", "integer", 0, "Number of nodes running at least one daemon pod."),
                       ("Ready", "integer", 0, "Number of nodes whose daemon pod is ready."),
                       ("Up-to-date", "integer", 0, "Number of nodes running the updated daemon pod."),
                       ("Available", "integer", 0, "Number of nodes whose daemon pod is available."),
                       ("Node Selector", "string", 0, "The pod template's node selector."),
                       _AGE, _CONTAINERS, _IMAGES, _SELECTOR),
    "Job": _cols(("Status", "string", 0, "Status of the job."),
                 ("Completions", "string", 0, "The number of pods which reached phase Succeeded."),
                 ("Duration", "string", 0, "Time required to complete the job."),
                 _AGE, _CONTAINERS, _IMAGES, _SELECTOR),
    "CronJob": _cols(("Schedule", "string", 0, "The schedule in Cron format."),
                     ("Timezone", "string", 0, "The time zone name for the given schedule."),
                     ("Suspend", "boolean", 0, "Whether subsequent executions are suspended."),
                     ("Active", "integer", 0, "The number of currently running jobs."),
                     ("Last Schedule", "string", 0, "When the job was last successfully scheduled."),
                     _AGE, _CONTAINERS, _IMAGES, _SELECTOR),
    "Service": _cols(("Type", "string", 0, "How the Service is exposed."),
                     ("Cluster-IP", "string", 0, "The IP address of the service."),
                     ("External-IP", "string", 0, "External IPs that route to the service."),
                     ("Port(s)", "string", 0, "The ports exposed by the service."),
                     _AGE, ("Selector", "string", 1, "Pods with these labels receive the traffic.")),
    "Endpoints": _cols(("Endpoints", "string", 0, "The set of addresses and ports of the service."), _AGE),
    "EndpointSlice": _cols(("AddressType", "string", 0, "The type of address carried by this EndpointSlice."),
                           ("Ports", "string", 0, "The network ports exposed by each endpoint of this slice."),
                           ("Endpoints", "string", 0, "The unique endpoints of this slice."), _AGE),
    "Node": _cols(("Status", "string", 0, "The status of the node"),
                  ("Roles", "string", 0, "The roles of the node"),
                  _AGE,
                  ("Version", "string", 0, "Kubelet Version reported by the node."),
                  ("Internal-IP", "string", 1, "List of addresses reachable to the node."),
                  ("External-IP", "string", 1, "List of addresses reachable to the node."),
                  ("OS-Image", "string", 1, "OS Image reported by the node."),
                  ("Kernel-Version", "string", 1, "Kernel Version reported by the node."),
                  ("Container-Runtime", "string", 1, "ContainerRuntime Version reported by the node.")),
    "Namespace": _cols(("Status", "string", 0, "The status of the namespace"), _AGE),
    "Event": [("Last Seen", "string", 0, "The time at which the most recent occurrence of this event was recorded."),
              ("Type", "string", 0, "Type of this event (Normal, Warning)."),
              ("Reason", "string", 0, "Short, machine understandable string giving the reason for the event."),
              ("Object", "string", 0, "The object that this event is about."),
              ("Subobject", "string", 1, "The field of the object the event is about."),
              ("Source", "string", 1, "The component reporting this event."),
              ("Message", "string", 0, "A human-readable description of the status of this operation."),
              ("First Seen", "string", 1, "The time at which the event was first recorded."),
              ("Count", "string", 1, "The number of times this event has occurred."),
              ("Name", "string", 1, _NAME_DOC)],
    "ConfigMap": _cols(("Data", "string", 0, "The number of keys in the ConfigMap."), _AGE),
    "Secret": _cols(("Type", "string", 0, "Used to facilitate programmatic handling of secret data."),
                    ("Data", "string", 0, "The number of keys in the Secret."), _AGE),
    "ServiceAccount": _cols(("Secrets", "string", 0, "Secrets the service account may use."), _AGE),
    "PersistentVolume": _cols(("Capacity", "string", 0, "The capacity of the volume."),
                              ("Access Modes", "string", 0, "The ways the volume can be mounted."),
                              ("Reclaim Policy", "string", 0, "What happens to the volume when released."),
                              ("Status", "string", 0, "The phase of the volume."),
                              ("Claim", "string", 0, "The claim bound to this volume."),
                              ("StorageClass", "string", 0, "StorageClass of the pv"),
                              ("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pv"),
                              ("Reason", "string", 0, "Why the volume is in this phase."),
                              _AGE, ("VolumeMode", "string", 1, "Filesystem or Block.")),
    "PersistentVolumeClaim": _cols(("Status", "string", 0, "The phase of the claim."),
                                   ("Volume", "string", 0, "The volume bound to this claim."),
                                   ("Capacity", "string", 0, "The capacity of the bound volume."),
                                   ("Access Modes", "string", 0, "The access modes of the bound volume."),
                                   ("StorageClass", "string", 0, "StorageClass of the pvc"),
                                   ("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pvc"),
                                   _AGE, ("VolumeMode", "string", 1, "Filesystem or Block.")),
    "StorageClass": _cols(("Provisioner", "string", 0, "The provisioner of this class."),
                          ("ReclaimPolicy", "string", 0, "Reclaim policy of dynamically provisioned volumes."),
                          ("VolumeBindingMode", "string", 0, "When volumes are bound and provisioned."),
                          ("AllowVolumeExpansion", "string", 0, "Whether volumes may be expanded."), _AGE),
    "Lease": _cols(("Holder", "string", 0, "The identity of the holder of the lease."), _AGE),
    "ControllerRevision": _cols(("Controller", "string", 0, "Controller of the object"),
                                ("Revision", "string", 0, "The revision of the state."), _AGE),
    "HorizontalPodAutoscaler": _cols(("Reference", "string", 0, "The target resource being scaled."),
                                     ("Targets", "string", 0, "Current and target metric values."),
                                     ("MinPods", "string", 0, "Lower limit for the number of replicas."),
                                     ("MaxPods", "string", 0, "Upper limit for the number of replicas."),
                                     ("Replicas", "string", 0, "Current number of replicas."), _AGE),
    "Ingress": _cols(("Class", "string", 0, "The name of the IngressClass resource that should be used "
                      "for additional configuration"),
                     ("Hosts", "string", 0, "Hosts that incoming requests are matched against before the "
                      "ingress rule"),
                     ("Address", "string", 0, "Address is a list containing ingress points for the load-balancer"),
                     ("Ports", "string", 0, "Ports of TLS configurations that open"), _AGE),
    "IngressClass": _cols(("Controller", "string", 0, "Controller that is responsible for handling this class"),
                          ("Parameters", "string", 0, "A reference to a resource with additional parameters"), _AGE),
    "PriorityClass": _cols(("Value", "integer", 0, "value represents the integer value of this priority class. "
                            "This is the actual priority that pods receive when they have the name of this class "
                            "in their pod spec."),
                           ("Global-Default", "boolean", 0, "globalDefault specifies whether this PriorityClass "
                            "should be considered as the default priority for pods that do not have any priority "
                            "class. Only one PriorityClass can be marked as `globalDefault`. However, if more than "
                            "one PriorityClasses exists with their `globalDefault` field set to true, the smallest "
                            "value of such global default PriorityClasses will be used as the default priority."),
                           _AGE,
                           ("PreemptionPolicy", "string", 0, "preemptionPolicy is the Policy for preempting pods "
                            "with lower priority. One of Never, PreemptLowerPriority. Defaults to "
                            "PreemptLowerPriority if unset."),),
    "NetworkPolicy": _cols(("Pod-Selector", "string", 0, "The pods the policy applies to."), _AGE),
    "PodDisruptionBudget": _cols(("Min Available", "string", 0, "The minimum number of pods that must be available."),
                                 ("Max Unavailable", "string", 0,
                                  "The maximum number of pods that may be unavailable."),
                                 ("Allowed Disruptions", "integer", 0,
                                  "Calculated number of pods that may be disrupted at this time."), _AGE),
    "RoleBinding": _cols(("Role", "string", 0, "The role granted."), _AGE,
                         ("Users", "string", 1, "Users in the roleBinding"),
                         ("Groups", "string", 1, "Groups in the roleBinding"),
                         ("ServiceAccounts", "string", 1, "ServiceAccounts in the roleBinding")),
    "ClusterRoleBinding": _cols(("Role", "string", 0, "The role granted."), _AGE,
                                ("Users", "string", 1, "Users in the clusterRoleBinding"),
                                ("Groups", "string", 1, "Groups in the clusterRoleBinding"),
                                ("ServiceAccounts", "string", 1, "ServiceAccounts in the clusterRoleBinding")),
    "ResourceQuota": _cols(_AGE, ("Request", "string", 0, "Used and hard requests."),
                           ("Limit", "string", 0, "Used and hard limits.")),
    "MutatingWebhookConfiguration": _cols(("Webhooks", "integer", 0, "Webhooks indicates the number of webhooks "
                                                                     "in the configuration."), _AGE),
    "ValidatingWebhookConfiguration": _cols(("Webhooks", "integer", 0, "Webhooks indicates the number of "
                                                                       "webhooks in the configuration."), _AGE),
    "APIService": _cols(("Service", "string", 0, "The reference to the service that hosts this API endpoint."),
                        ("Available", "string", 0, "Whether this service is available."), _AGE),
    "CertificateSigningRequest": _cols(
        _AGE,
        ("SignerName", "string", 0, "signerName indicates the requested signer, and is a qualified name."),
        ("Requestor", "string", 0, "username contains the name of the user that created the "
                                   "CertificateSigningRequest."),
        ("RequestedDuration", "string", 0, "expirationSeconds is the requested duration of validity of the "
                                           "issued certificate."),
        ("Condition", "string", 0, "conditions applied to the request. Known conditions are \"Approved\", "
                                   "\"Denied\", and \"Failed\".")),
    # metrics-server's tables: the usage by resource name, summed over a pod's containers, and the window.
    **{kind: [("Name", "string", 0, "Name of the resource"), ("cpu", "string", 0, ""), ("memory", "string", 0, ""),
              ("Window", "string", 0, "")] for kind in ("PodMetrics", "NodeMetrics")},
}

# Roles and every kind without a printer: upstream's default table convertor.
_DEFAULT_COLUMNS = _cols(("Created At", "date", 0, _AGE_DOC))


# ---------------------------------------------------------------------------
# Shared formatting helpers (labels.FormatLabels, metav1.FormatLabelSelector, ...)
# ---------------------------------------------------------------------------

def format_labels(labels: dict[str, str] | None) -> str:
    """``app=nginx,tier=web`` sorted by key, ``<none>`` when empty (labels.FormatLabels)."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def selector_string(selector: Obj | None) -> str:
    """A LabelSelector as a selector string, requirements sorted by key; ``""`` matches everything."""
    if not selector:
        return ""
    reqs: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], sorted(expr.get("values") or [])
        text = {"In": f"{key} in ({','.join(values)})", "NotIn": f"{key} notin ({','.join(values)})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(op, key)
        reqs.append((key, text))
    return ",".join(text for _, text in sorted(reqs, key=lambda r: r[0]))


def format_selector(selector: Obj | None) -> str:
    """metav1.FormatLabelSelector: the selector string, or ``<none>``."""
    return selector_string(selector) or "<none>"


def _containers(template_spec: Obj) -> tuple[str, str]:
    containers = template_spec.get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def _template_spec(obj: Obj) -> Obj:
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _bool_word(value: bool | None) -> str:
    return "<unset>" if value is None else ("True" if value else "False")


_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))


def access_modes(modes: list[str] | None) -> str:
    """``RWO,RWX``: upstream's fixed order, duplicates removed."""
    present = set(modes or [])
    return ",".join(short for long, short in _ACCESS_MODES if long in present)


# ---------------------------------------------------------------------------
# Pods: READY and STATUS follow upstream's reason logic exactly
# ---------------------------------------------------------------------------

def _restartable(container: Obj | None) -> bool:
    return bool(container) and container.get("restartPolicy") == "Always"  # type: ignore[union-attr]


def _has_condition(status: Obj, ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True" for c in status.get("conditions") or [])


def _later(current: str | None, candidate: str | None) -> str | None:
    if not candidate:
        return current
    if current is None or parse_time(candidate) > parse_time(current):
        return candidate
    return current


def _terminated_reason(term: Obj, prefix: str = "") -> str:
    if term.get("reason"):
        return prefix + term["reason"]
    if term.get("signal"):
        return f"{prefix}Signal:{term['signal']}"
    return f"{prefix}ExitCode:{term.get('exitCode', 0)}"


def pod_cells(pod: Obj, now: datetime) -> Cells:
    """NAME READY STATUS RESTARTS AGE IP NODE NOMINATED-NODE READINESS-GATES, as upstream printPod."""
    spec, status, meta = _spec(pod), _status(pod), _meta(pod)
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c["name"]: c for c in spec.get("initContainers") or []}
    total = len(spec.get("containers") or []) + sum(1 for c in init_specs.values() if _restartable(c))
    ready = restarts = sidecar_restarts = 0
    last_restart: str | None = None
    last_sidecar_restart: str | None = None

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        finished = ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        last_restart = _later(last_restart, finished)
        sidecar = _restartable(init_specs.get(cs.get("name", "")))
        if sidecar:
            sidecar_restarts += cs.get("restartCount", 0)
            last_sidecar_restart = _later(last_sidecar_restart, finished)
        state = cs.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term is not None and term.get("exitCode", 0) == 0:
            continue
        if sidecar and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if term is not None:
            reason = _terminated_reason(term, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _has_condition(status, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += cs.get("restartCount", 0)
            last_restart = _later(last_restart, ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
            state = cs.get("state") or {}
            waiting, term = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif term is not None:
                reason = _terminated_reason(term)
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        # A pod whose last container finished but another still runs is not "Completed".
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(status, "Ready") else "NotReady"

    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"

    restarts_text = str(restarts)
    if restarts and last_restart:
        restarts_text = f"{restarts} ({age(last_restart, now)} ago)"
    ips = status.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        gates_text = f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
    return [meta.get("name", ""), f"{ready}/{total}", reason, restarts_text, age(meta.get("creationTimestamp"), now),
            (ips[0].get("ip") if ips else "") or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", gates_text]


_POD_SUCCEEDED = {"type": "Completed", "status": "True", "reason": "Succeeded",
                  "message": "The pod has completed successfully."}
_POD_FAILED = {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}


# ---------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------

def replicaset_cells(rs: Obj, now: datetime) -> Cells:
    spec, status = _spec(rs), _status(rs)
    names, images = _containers(_template_spec(rs))
    return [_meta(rs).get("name", ""), spec.get("replicas", 0), status.get("replicas", 0),
            status.get("readyReplicas", 0), age(_meta(rs).get("creationTimestamp"), now), names, images,
            format_selector(spec.get("selector"))]


def replicationcontroller_cells(rc: Obj, now: datetime) -> Cells:
    spec = _spec(rc)
    cells = replicaset_cells(rc, now)
    cells[-1] = format_labels(spec.get("selector"))
    return cells


def deployment_cells(d: Obj, now: datetime) -> Cells:
    spec, status = _spec(d), _status(d)
    names, images = _containers(_template_spec(d))
    return [_meta(d).get("name", ""), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0),
            age(_meta(d).get("creationTimestamp"), now), names, images, selector_string(spec.get("selector"))]


def statefulset_cells(s: Obj, now: datetime) -> Cells:
    names, images = _containers(_template_spec(s))
    return [_meta(s).get("name", ""), f"{_status(s).get('readyReplicas', 0)}/{_spec(s).get('replicas', 0)}",
            age(_meta(s).get("creationTimestamp"), now), names, images]


def daemonset_cells(ds: Obj, now: datetime) -> Cells:
    status = _status(ds)
    names, images = _containers(_template_spec(ds))
    return [_meta(ds).get("name", ""), status.get("desiredNumberScheduled", 0),
            status.get("currentNumberScheduled", 0), status.get("numberReady", 0),
            status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            format_labels(_template_spec(ds).get("nodeSelector")), age(_meta(ds).get("creationTimestamp"), now),
            names, images, format_selector(_spec(ds).get("selector"))]


def job_cells(job: Obj, now: datetime) -> Cells:
    spec, status = _spec(job), _status(job)
    succeeded = status.get("succeeded", 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    duration = ""
    if status.get("startTime"):
        end = parse_time(status["completionTime"]) if status.get("completionTime") else now
        duration = human_duration((end - parse_time(status["startTime"])).total_seconds())
    conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if conds.get("Complete") == "True":
        state = "Complete"
    elif conds.get("Failed") == "True":
        state = "Failed"
    elif _meta(job).get("deletionTimestamp"):
        state = "Terminating"
    elif conds.get("Suspended") == "True":
        state = "Suspended"
    elif conds.get("FailureTarget") == "True":
        state = "FailureTarget"
    elif conds.get("SuccessCriteriaMet") == "True":
        state = "SuccessCriteriaMet"
    else:
        state = "Running"
    names, images = _containers(_template_spec(job))
    return [_meta(job).get("name", ""), state, completions, duration, age(_meta(job).get("creationTimestamp"), now),
            names, images, format_selector(spec.get("selector"))]


def cronjob_cells(cj: Obj, now: datetime) -> Cells:
    spec, status = _spec(cj), _status(cj)
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    names, images = _containers(((job_spec.get("template") or {}).get("spec")) or {})
    last = status.get("lastScheduleTime")
    return [_meta(cj).get("name", ""), spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            _bool_word(spec.get("suspend")), len(status.get("active") or []),
            age(last, now) if last else "<none>", age(_meta(cj).get("creationTimestamp"), now),
            names, images, format_selector(job_spec.get("selector"))]


def controllerrevision_cells(cr: Obj, now: datetime) -> Cells:
    controller = "<none>"
    for ref in _meta(cr).get("ownerReferences") or []:
        if ref.get("controller"):
            group = ref.get("apiVersion", "").rpartition("/")[0]
            kind = f"{ref['kind']}.{group}" if group else ref["kind"]
            controller = f"{kind.lower()}/{ref['name']}"
    return [_meta(cr).get("name", ""), controller, cr.get("revision", 0), age(_meta(cr).get("creationTimestamp"), now)]


def hpa_cells(hpa: Obj, now: datetime) -> Cells:
    if hpa.get("apiVersion") == autoscaling.V1:   # upstream prints both versions from one shape
        hpa = autoscaling.to_v2(hpa)
    spec, status = _spec(hpa), _status(hpa)
    ref = spec.get("scaleTargetRef") or {}
    min_pods = spec.get("minReplicas")
    return [_meta(hpa).get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}",
            _hpa_targets(spec.get("metrics") or [], status.get("currentMetrics") or []),
            "<unset>" if min_pods is None else str(min_pods), spec.get("maxReplicas", 0),
            status.get("currentReplicas", 0), age(_meta(hpa).get("creationTimestamp"), now)]


def _hpa_targets(specs: list[Obj], statuses: list[Obj]) -> str:
    """Only Resource metrics are spelled out; other kinds print as upstream's ``<unknown type>``-free minimum."""
    if not specs:
        return "<none>"
    parts = []
    for i, metric in enumerate(specs):
        current_status = statuses[i] if i < len(statuses) else {}
        if metric.get("type") == "Resource":
            res, target = metric["resource"], metric["resource"].get("target") or {}
            current = ((current_status.get("resource") or {}).get("current")) or {}
            if target.get("averageValue") is not None:
                parts.append(f"{res['name']}: {current.get('averageValue', '<unknown>')}/{target['averageValue']}")
            else:
                now_pct = current.get("averageUtilization")
                want = target.get("averageUtilization")
                parts.append(f"{res['name']}: {'<unknown>' if now_pct is None else f'{now_pct}%'}/"
                             f"{'<auto>' if want is None else f'{want}%'}")
        else:
            parts.append("<unknown type>")
    if len(parts) > 2:
        return ", ".join(parts[:2]) + f" + {len(parts) - 2} more..."
    return ", ".join(parts)


# ---------------------------------------------------------------------------
# Services and networking
# ---------------------------------------------------------------------------

def _lb_ips(status: Obj) -> list[str]:
    found: list[str] = []
    for ing in ((status.get("loadBalancer") or {}).get("ingress")) or []:
        value = ing.get("ip") or ing.get("hostname")
        if value and value not in found:
            found.append(value)
    return found


def _external_ip(svc: Obj) -> str:
    spec = _spec(svc)
    svc_type, external = spec.get("type", "ClusterIP"), spec.get("externalIPs") or []
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if svc_type == "LoadBalancer":
        ips = _lb_ips(_status(svc)) + external
        return ",".join(ips) or "<pending>"
    if svc_type == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<unknown>"


def service_cells(svc: Obj, now: datetime) -> Cells:
    spec = _spec(svc)
    ports = ",".join(f"{p['port']}:{p['nodePort']}/{p.get('protocol', 'TCP')}" if p.get("nodePort")
                     else f"{p['port']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [_meta(svc).get("name", ""), spec.get("type", "ClusterIP"), cluster_ips[0] if cluster_ips else "<none>",
            _external_ip(svc), ports or "<none>", age(_meta(svc).get("creationTimestamp"), now),
            format_labels(spec.get("selector"))]


def format_endpoints(ep: Obj, port_names: set[str] | None = None) -> str:
    """``10.0.0.1:80,10.0.0.2:80 + 3 more...``: at most three addresses, as upstream."""
    subsets = ep.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count, more = 0, False
    for subset in subsets:
        addresses = [a.get("ip", "") for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        targets = [(addr, None) for addr in addresses] if not ports else [
            (addr, p["port"]) for p in ports if port_names is None or p.get("name", "") in port_names
            for addr in addresses]
        for addr, port in targets:
            count += 1
            if len(shown) == 3:
                more = True
                continue
            shown.append(addr if port is None else (f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"))
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if more else text


def endpoints_cells(ep: Obj, now: datetime) -> Cells:
    return [_meta(ep).get("name", ""), format_endpoints(ep), age(_meta(ep).get("creationTimestamp"), now)]


def _first_three(values: list[str]) -> str:
    """``a,b,c + 2 more...``, or ``<unset>`` for none (upstream's listWithMoreString)."""
    if len(values) > 3:
        return f"{','.join(values[:3])} + {len(values) - 3} more..."
    return ",".join(values) or "<unset>"


def endpointslice_cells(es: Obj, now: datetime) -> Cells:
    ports = [str(p["port"]) if p.get("port") is not None else (p.get("name") or "*") for p in es.get("ports") or []]
    addresses = [a for e in es.get("endpoints") or [] for a in e.get("addresses") or []]
    return [_meta(es).get("name", ""), es.get("addressType", ""), _first_three(ports), _first_three(addresses),
            age(_meta(es).get("creationTimestamp"), now)]


def ingress_cells(ing: Obj, now: datetime) -> Cells:
    spec = _spec(ing)
    rules = spec.get("rules") or []
    hosts = [r["host"] for r in rules if r.get("host")][:3]
    hosts_text = ",".join(hosts) or "*"
    if len(rules) > 3 and hosts:
        hosts_text += f" + {len(rules) - 3} more..."
    return [_meta(ing).get("name", ""), spec.get("ingressClassName") or "<none>", hosts_text,
            ",".join(_lb_ips(_status(ing))), "80, 443" if spec.get("tls") else "80",
            age(_meta(ing).get("creationTimestamp"), now)]


def ingressclass_cells(ic: Obj, now: datetime) -> Cells:
    params = _spec(ic).get("parameters")
    text = "<none>"
    if params:
        kind = params.get("kind", "") + (f".{params['apiGroup']}" if params.get("apiGroup") else "")
        text = f"{kind}/{params.get('name', '')}"
    return [_meta(ic).get("name", ""), _spec(ic).get("controller", ""), text,
            age(_meta(ic).get("creationTimestamp"), now)]


def priorityclass_cells(pc: Obj, now: datetime) -> Cells:
    return [_meta(pc).get("name", ""), pc.get("value", 0), bool(pc.get("globalDefault")),
            age(_meta(pc).get("creationTimestamp"), now), pc.get("preemptionPolicy") or ""]


def networkpolicy_cells(np: Obj, now: datetime) -> Cells:
    return [_meta(np).get("name", ""), format_selector(_spec(np).get("podSelector")),
            age(_meta(np).get("creationTimestamp"), now)]


def poddisruptionbudget_cells(pdb: Obj, now: datetime) -> Cells:
    spec = _spec(pdb)
    shown = ["N/A" if spec.get(k) is None else str(spec[k]) for k in ("minAvailable", "maxUnavailable")]
    return [_meta(pdb).get("name", ""), *shown, int((pdb.get("status") or {}).get("disruptionsAllowed") or 0),
            age(_meta(pdb).get("creationTimestamp"), now)]


# ---------------------------------------------------------------------------
# Cluster, configuration and storage
# ---------------------------------------------------------------------------

def node_roles(node: Obj) -> list[str]:
    """Roles from ``node-role.kubernetes.io/<role>`` and ``kubernetes.io/role`` labels, sorted."""
    roles = set()
    for key, value in (_meta(node).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key.partition("/")[2]:
            roles.add(key.partition("/")[2])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    return sorted(roles)


def node_address(node: Obj, kind: str) -> str:
    for address in _status(node).get("addresses") or []:
        if address.get("type") == kind:
            return str(address.get("address", ""))
    return "<none>"


def node_cells(node: Obj, now: datetime) -> Cells:
    status, info = _status(node), _status(node).get("nodeInfo") or {}
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    words = [("Ready" if ready[-1].get("status") == "True" else "NotReady")] if ready else ["Unknown"]
    if _spec(node).get("unschedulable"):
        words.append("SchedulingDisabled")
    return [_meta(node).get("name", ""), ",".join(words), ",".join(node_roles(node)) or "<none>",
            age(_meta(node).get("creationTimestamp"), now), info.get("kubeletVersion", ""),
            node_address(node, "InternalIP"), node_address(node, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def namespace_cells(ns: Obj, now: datetime) -> Cells:
    return [_meta(ns).get("name", ""), _status(ns).get("phase", ""), age(_meta(ns).get("creationTimestamp"), now)]


def event_cells(ev: Obj, now: datetime) -> Cells:
    if ev.get("apiVersion") == events.API_VERSION:   # upstream prints both APIs' Events from one shape
        ev = events.to_core(ev)
    first = age(ev["firstTimestamp"], now) if ev.get("firstTimestamp") else age(ev.get("eventTime"), now)
    last = age(ev["lastTimestamp"], now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 1
    if ev.get("series"):
        last = age(ev["series"].get("lastObservedTime"), now)
        count = ev["series"].get("count", count)
    obj = ev.get("involvedObject") or {}
    target = obj.get("kind", "").lower() + (f"/{obj['name']}" if obj.get("name") else "")
    return [last, ev.get("type", ""), ev.get("reason", ""), target, obj.get("fieldPath", ""), event_source(ev),
            (ev.get("message") or "").strip(), first, count, _meta(ev).get("name", "")]


def event_source(ev: Obj) -> str:
    """``kubelet, node-1``: component (or reportingComponent) and host (or reportingInstance)."""
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent") or ""
    host = source.get("host") or ev.get("reportingInstance") or ""
    return f"{component}, {host}" if host else component


def configmap_cells(cm: Obj, now: datetime) -> Cells:
    return [_meta(cm).get("name", ""), len(cm.get("data") or {}) + len(cm.get("binaryData") or {}),
            age(_meta(cm).get("creationTimestamp"), now)]


def secret_cells(s: Obj, now: datetime) -> Cells:
    return [_meta(s).get("name", ""), s.get("type", "Opaque"), len(s.get("data") or {}),
            age(_meta(s).get("creationTimestamp"), now)]


def serviceaccount_cells(sa: Obj, now: datetime) -> Cells:
    return [_meta(sa).get("name", ""), len(sa.get("secrets") or []), age(_meta(sa).get("creationTimestamp"), now)]


def _storage_class(obj: Obj) -> str:
    annotation = (_meta(obj).get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    return str(annotation if annotation is not None else _spec(obj).get("storageClassName") or "")


def pv_cells(pv: Obj, now: datetime) -> Cells:
    spec, status = _spec(pv), _status(pv)
    claim = spec.get("claimRef")
    phase = "Terminating" if _meta(pv).get("deletionTimestamp") else status.get("phase", "")
    return [_meta(pv).get("name", ""), str((spec.get("capacity") or {}).get("storage", "")),
            access_modes(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy", ""), phase,
            f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else "", _storage_class(pv),
            spec.get("volumeAttributesClassName") or "<unset>", status.get("reason", ""),
            age(_meta(pv).get("creationTimestamp"), now), spec.get("volumeMode") or "<unset>"]


def pvc_cells(pvc: Obj, now: datetime) -> Cells:
    spec, status = _spec(pvc), _status(pvc)
    phase = "Terminating" if _meta(pvc).get("deletionTimestamp") else status.get("phase", "")
    bound = bool(spec.get("volumeName"))
    capacity = str((status.get("capacity") or {}).get("storage", "")) if bound else ""
    return [_meta(pvc).get("name", ""), phase, spec.get("volumeName", ""), capacity,
            access_modes(status.get("accessModes")) if bound else "", _storage_class(pvc),
            spec.get("volumeAttributesClassName") or "<unset>", age(_meta(pvc).get("creationTimestamp"), now),
            spec.get("volumeMode") or "<unset>"]


_DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                              "storageclass.beta.kubernetes.io/is-default-class")


def storageclass_cells(sc: Obj, now: datetime) -> Cells:
    annotations = _meta(sc).get("annotations") or {}
    name = _meta(sc).get("name", "")
    if any(annotations.get(key) == "true" for key in _DEFAULT_CLASS_ANNOTATIONS):
        name += " (default)"
    return [name, sc.get("provisioner", ""), sc.get("reclaimPolicy") or "Delete",
            sc.get("volumeBindingMode") or "Immediate", bool(sc.get("allowVolumeExpansion", False)),
            age(_meta(sc).get("creationTimestamp"), now)]


def lease_cells(lease: Obj, now: datetime) -> Cells:
    return [_meta(lease).get("name", ""), _spec(lease).get("holderIdentity") or "",
            age(_meta(lease).get("creationTimestamp"), now)]


def rolebinding_cells(rb: Obj, now: datetime) -> Cells:
    ref = rb.get("roleRef") or {}
    subjects = rb.get("subjects") or []
    users = [s["name"] for s in subjects if s.get("kind") == "User"]
    groups = [s["name"] for s in subjects if s.get("kind") == "Group"]
    sas = [f"{s.get('namespace', '')}/{s['name']}" for s in subjects if s.get("kind") == "ServiceAccount"]
    return [_meta(rb).get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}",
            age(_meta(rb).get("creationTimestamp"), now), ", ".join(users), ", ".join(groups), ", ".join(sas)]


def resourcequota_cells(rq: Obj, now: datetime) -> Cells:
    hard, used = _status(rq).get("hard") or {}, _status(rq).get("used") or {}
    requests, limits = [], []
    for name in sorted((rq.get("spec") or {}).get("hard") or {}):  # upstream lists spec.hard, status values
        text = f"{name}: {used.get(name, '0')}/{hard.get(name, '0')}"
        (limits if name.startswith("limits.") else requests).append(text)
    return [_meta(rq).get("name", ""), age(_meta(rq).get("creationTimestamp"), now), ", ".join(requests),
            ", ".join(limits)]


def webhookconfiguration_cells(config: Obj, now: datetime) -> Cells:
    return [_meta(config).get("name", ""), len(config.get("webhooks") or []),
            age(_meta(config).get("creationTimestamp"), now)]


def apiservice_cells(service: Obj, now: datetime) -> Cells:
    """SERVICE is ``Local`` or ``namespace/name``; AVAILABLE the condition, with its reason unless True."""
    ref = _spec(service).get("service")
    where = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if isinstance(ref, dict) else "Local"
    available = "Unknown"
    for condition in _status(service).get("conditions") or []:
        if condition.get("type") == "Available":
            available = condition.get("status", "Unknown")
            if available != "True" and condition.get("reason"):
                available += f" ({condition['reason']})"
    return [_meta(service).get("name", ""), where, available, age(_meta(service).get("creationTimestamp"), now)]


def csr_condition(csr: Obj) -> str:
    """``Pending``, ``Approved`` or ``Denied``, then ``,Failed`` and ``,Issued`` (kubectl's CONDITION)."""
    kinds = {c.get("type") for c in _status(csr).get("conditions") or [] if isinstance(c, dict)}
    text = "Denied" if "Denied" in kinds else "Approved" if "Approved" in kinds else "Pending"
    if "Failed" in kinds:
        text += ",Failed"
    if _status(csr).get("certificate"):
        text += ",Issued"
    return text


def csr_cells(csr: Obj, now: datetime) -> Cells:
    spec = _spec(csr)
    seconds = spec.get("expirationSeconds")
    return [_meta(csr).get("name", ""), age(_meta(csr).get("creationTimestamp"), now),
            spec.get("signerName") or "<none>", spec.get("username", ""),
            human_duration(seconds) if isinstance(seconds, int) else "<none>", csr_condition(csr)]


def default_cells(obj: Obj, now: datetime) -> Cells:
    """Upstream's default convertor: the name and the creation time in RFC 3339 UTC."""
    created = _meta(obj).get("creationTimestamp")
    when = parse_time(created).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") if created else ""
    return [_meta(obj).get("name", ""), when]


def metrics_cells(obj: Obj, now: datetime) -> Cells:
    """A PodMetrics' or NodeMetrics' usage (a pod's containers added up) and window."""
    usages = [c.get("usage") or {} for c in obj.get("containers") or []] if "containers" in obj else [obj.get("usage") or {}]
    cpu = sum((quantity.parse(u.get("cpu", 0)) for u in usages), start=quantity.parse(0))
    memory = sum((quantity.parse(u.get("memory", 0)) for u in usages), start=quantity.parse(0))
    return [_meta(obj).get("name", ""), metrics.cpu_quantity(int(cpu * 10**9)), metrics.memory_quantity(int(memory)),
            obj.get("window", "")]


CELLS: dict[str, Callable[[Obj, datetime], Cells]] = {
    "Pod": pod_cells, "ReplicaSet": replicaset_cells, "ReplicationController": replicationcontroller_cells,
    "Deployment": deployment_cells, "StatefulSet": statefulset_cells, "DaemonSet": daemonset_cells,
    "Job": job_cells, "CronJob": cronjob_cells, "Service": service_cells, "Endpoints": endpoints_cells,
    "EndpointSlice": endpointslice_cells,
    "Node": node_cells, "Namespace": namespace_cells, "Event": event_cells, "ConfigMap": configmap_cells,
    "Secret": secret_cells, "ServiceAccount": serviceaccount_cells, "PersistentVolume": pv_cells,
    "PersistentVolumeClaim": pvc_cells, "StorageClass": storageclass_cells, "Lease": lease_cells,
    "ControllerRevision": controllerrevision_cells, "HorizontalPodAutoscaler": hpa_cells,
    "Ingress": ingress_cells, "IngressClass": ingressclass_cells, "NetworkPolicy": networkpolicy_cells,
    "PriorityClass": priorityclass_cells,
    "PodDisruptionBudget": poddisruptionbudget_cells,
    "RoleBinding": rolebinding_cells, "ClusterRoleBinding": rolebinding_cells,
    "ResourceQuota": resourcequota_cells,
    "MutatingWebhookConfiguration": webhookconfiguration_cells,
    "ValidatingWebhookConfiguration": webhookconfiguration_cells, "APIService": apiservice_cells,
    "CertificateSigningRequest": csr_cells,
    "PodMetrics": metrics_cells, "NodeMetrics": metrics_cells,
}


# ---------------------------------------------------------------------------
# The Table
# ---------------------------------------------------------------------------

def column_definitions(kind: str) -> list[Obj]:
    """The ``columnDefinitions`` of a kind's table."""
    return [{"name": name, "type": ctype, "format": "name" if name == "Name" and i == 0 else "",
             "description": doc, "priority": priority}
            for i, (name, ctype, priority, doc) in enumerate(COLUMNS.get(kind, _DEFAULT_COLUMNS))]


def _row_object(obj: Obj, include_object: str) -> Obj | None:
    if include_object == "Object":
        return obj
    if include_object == "Metadata":
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": dict(_meta(obj))}
    return None


def to_row(kind: str, obj: Obj, *, now: datetime, include_object: str = "Metadata") -> Obj:
    """One ``TableRow``: cells, and the object as ``includeObject`` asks (None / Metadata / Object)."""
    row: Obj = {"cells": CELLS.get(kind, default_cells)(obj, now)}
    if kind == "Pod":
        phase = _status(obj).get("phase")
        if phase in ("Succeeded", "Failed"):
            row["conditions"] = [dict(_POD_SUCCEEDED if phase == "Succeeded" else _POD_FAILED)]
    partial = _row_object(obj, include_object)
    if partial is not None:
        row["object"] = partial
    return row


def to_table(resource: Resource, objects: list[Obj], *, now: datetime, include_object: str = "Metadata",
             list_meta: Obj | None = None, printer_columns: tuple[Obj, ...] | None = None) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``objects`` (all of ``resource``'s kind), as kube-apiserver returns it.
    ``printer_columns``: a custom resource's ``additionalPrinterColumns`` (see apiextensions.tableconvertor)."""
    if printer_columns is not None:
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": dict(list_meta or {}),
                "columnDefinitions": tableconvertor.column_definitions(printer_columns),
                "rows": [_custom_row(printer_columns, obj, now, include_object) for obj in objects]}
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": dict(list_meta or {}),
            "columnDefinitions": column_definitions(resource.kind),
            "rows": [to_row(resource.kind, obj, now=now, include_object=include_object) for obj in objects]}


def _custom_row(columns: tuple[Obj, ...], obj: Obj, now: datetime, include_object: str) -> Obj:
    row: Obj = {"cells": tableconvertor.cells(columns, obj, now)}
    partial = _row_object(obj, include_object)
    if partial is not None:
        row["object"] = partial
    return row
