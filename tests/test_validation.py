"""Tests for minik8s.api.validation: one rule per test, with upstream's exact wording."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minik8s.api.defaults import apply_defaults, job_selector_defaults
from minik8s.api.resources import RESOURCES
from minik8s.api.validation import canonical_quantity, validate, validate_cron_schedule

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 r"validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def messages(obj: dict, old: dict | None = None) -> list[str]:
    return [str(e) for e in validate(obj, old)]


def pod(**spec: object) -> dict:
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"containers": [{"name": "web", "image": "nginx"}], **spec}}
    return apply_defaults(obj)


def with_container(**fields: object) -> dict:
    obj = pod()
    obj["spec"]["containers"][0].update(fields)
    return obj


def deployment(**spec: object) -> dict:
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
           "spec": {"selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx"}]}}, **spec}}
    return apply_defaults(obj)


def workload(kind: str) -> dict:
    obj = deployment()
    obj["kind"] = kind
    del obj["spec"]["strategy"], obj["spec"]["progressDeadlineSeconds"]
    if kind == "StatefulSet":
        del obj["spec"]["revisionHistoryLimit"]
    return apply_defaults(obj)


# --- the valid baseline ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", [pod, deployment, lambda: workload("ReplicaSet"), lambda: workload("StatefulSet")])
def test_defaulted_objects_are_valid(make):
    assert messages(make()) == []


# --- metadata -------------------------------------------------------------------------------------


def test_name_or_generate_name_required():
    obj = pod()
    del obj["metadata"]["name"]
    assert messages(obj) == ["metadata.name: Required value: name or generateName is required"]
    obj["metadata"]["generateName"] = "web-"
    assert messages(obj) == []


def test_name_must_be_a_subdomain():
    obj = pod()
    obj["metadata"]["name"] = "Web_1"
    assert messages(obj) == [f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN_MSG}']


def test_name_length_limit():
    obj = pod()
    obj["metadata"]["name"] = "a" * 254
    assert messages(obj)[0] == f'metadata.name: Invalid value: "{"a" * 254}": must be no more than 253 characters'


def test_namespace_name_is_a_dns_label():
    ns = apply_defaults({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}})
    assert f'metadata.name: Invalid value: "a.b": {LABEL_MSG}' in messages(ns)


def test_service_name_is_a_dns1035_label():
    svc = apply_defaults({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1web", "namespace": "d"},
                          "spec": {"ports": [{"port": 80}]}})
    assert messages(svc) == [f'metadata.name: Invalid value: "1web": {DNS1035_MSG}']


def test_role_names_are_path_segments():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "a/b", "namespace": "d"}}
    assert messages(role) == ["metadata.name: Invalid value: \"a/b\": may not contain '/'"]
    role["metadata"]["name"] = "system:Admin"
    assert messages(role) == []


def test_generate_name_may_end_with_a_dash():
    obj = pod()
    obj["metadata"] = {"generateName": "web-", "namespace": "default"}
    assert messages(obj) == []
    obj["metadata"]["generateName"] = "Web-"
    assert messages(obj)[0].startswith('metadata.generateName: Invalid value: "Web-": a lowercase RFC 1123')


def test_namespace_required_for_namespaced_kinds_and_forbidden_otherwise():
    obj = pod()
    del obj["metadata"]["namespace"]
    assert messages(obj) == ["metadata.namespace: Required value"]
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "namespace": "x"}}
    assert messages(node) == ["metadata.namespace: Forbidden: not allowed on this type"]


def test_label_errors_come_from_selectors():
    obj = pod()
    obj["metadata"]["labels"] = {"app": "-bad-"}
    assert messages(obj)[0].startswith('metadata.labels: Invalid value: "-bad-": a valid label must be')


def test_annotations_total_size():
    obj = pod()
    obj["metadata"]["annotations"] = {"a": "x" * (256 * 1024)}
    assert messages(obj) == ["metadata.annotations: Too long: may not be more than 262144 bytes"]


def test_annotation_keys_are_qualified_names_ignoring_case():
    obj = pod()
    obj["metadata"]["annotations"] = {"Example.com/Note": "ok", "bad key": "x"}
    errors = messages(obj)
    assert len(errors) == 1 and errors[0].startswith('metadata.annotations: Invalid value: "bad key": name part')


def test_metadata_is_immutable_on_update():
    old = pod()
    old["metadata"].update(uid="1", creationTimestamp="2024-01-01T00:00:00Z")
    new = copy.deepcopy(old)
    new["metadata"].update(name="other", uid="2")
    assert messages(new, old) == ['metadata.name: Invalid value: "other": field is immutable',
                                  'metadata.uid: Invalid value: "2": field is immutable']


def test_finalizer_names():
    obj = pod()
    obj["metadata"]["finalizers"] = ["kubernetes", "example.com/cleanup", "cleanup"]
    assert messages(obj) == ['metadata.finalizers[2]: Invalid value: "cleanup": name is neither a standard '
                             'finalizer name nor is it fully qualified']


# --- pods: containers -----------------------------------------------------------------------------


def test_containers_required():
    assert messages(pod(containers=[])) == ["spec.containers: Required value"]


def test_container_name_must_be_a_dns_label():
    assert messages(with_container(name="Web")) == [
        f'spec.containers[0].name: Invalid value: "Web": {LABEL_MSG}']


def test_container_names_unique_across_init_containers():
    obj = pod(initContainers=[{"name": "web", "image": "busybox"}])
    obj = apply_defaults(obj)
    assert messages(obj) == ['spec.containers[0].name: Duplicate value: "web"']


def test_image_required():
    obj = with_container()
    del obj["spec"]["containers"][0]["image"]
    assert messages(obj) == ["spec.containers[0].image: Required value"]


def test_container_port_range_and_required():
    obj = with_container(ports=[{"containerPort": 70000, "protocol": "TCP"}, {"containerPort": 0, "protocol": "TCP"}])
    assert messages(obj) == [
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.containers[0].ports[1].containerPort: Required value"]


def test_port_name_rules():
    obj = with_container(ports=[{"name": "a-very-long-port-name", "containerPort": 80, "protocol": "TCP"},
                                {"name": "http", "containerPort": 81, "protocol": "TCP"},
                                {"name": "http", "containerPort": 82, "protocol": "TCP"},
                                {"name": "8080", "containerPort": 83, "protocol": "TCP"}])
    assert messages(obj) == [
        'spec.containers[0].ports[0].name: Invalid value: "a-very-long-port-name": must be no more than 15 characters',
        'spec.containers[0].ports[2].name: Duplicate value: "http"',
        'spec.containers[0].ports[3].name: Invalid value: "8080": must contain at least one letter (a-z)']


def test_port_protocol_enum():
    obj = with_container(ports=[{"containerPort": 80, "protocol": "HTTP"}])
    assert messages(obj) == ['spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: '
                             '"SCTP", "TCP", "UDP"']


def test_restart_policy_enum():
    assert messages(pod(restartPolicy="Sometimes")) == [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']


def test_dns_policy_enum_and_none_needs_config():
    assert messages(pod(dnsPolicy="Google")) == [
        'spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", '
        '"ClusterFirst", "Default", "None"']
    assert messages(pod(dnsPolicy="None")) == [
        "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]


def test_image_pull_policy_enum():
    assert messages(with_container(imagePullPolicy="Sometimes")) == [
        'spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": supported values: '
        '"Always", "IfNotPresent", "Never"']


# --- probes ---------------------------------------------------------------------------------------


def probe(**handler: object) -> dict:
    return {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3, **handler}


def test_probe_needs_a_handler():
    assert messages(with_container(livenessProbe=probe())) == [
        "spec.containers[0].livenessProbe: Required value: must specify a handler type"]


def test_probe_with_two_handlers():
    both = probe(httpGet={"port": 80, "path": "/", "scheme": "HTTP"}, tcpSocket={"port": 80})
    assert messages(with_container(readinessProbe=both)) == [
        "spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"]


def test_probe_port_range_and_name():
    assert messages(with_container(livenessProbe=probe(tcpSocket={"port": 0}))) == [
        "spec.containers[0].livenessProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, inclusive"]
    assert messages(with_container(livenessProbe=probe(tcpSocket={"port": "web--port"}))) == [
        'spec.containers[0].livenessProbe.tcpSocket.port: Invalid value: "web--port": must not contain '
        'consecutive hyphens']


def test_liveness_and_startup_success_threshold_must_be_1():
    bad = probe(exec={"command": ["true"]}, successThreshold=3)
    assert messages(with_container(livenessProbe=bad, startupProbe=bad, readinessProbe=bad)) == [
        "spec.containers[0].livenessProbe.successThreshold: Invalid value: 3: must be 1",
        "spec.containers[0].startupProbe.successThreshold: Invalid value: 3: must be 1"]


def test_exec_probe_needs_a_command():
    assert messages(with_container(livenessProbe=probe(exec={}))) == [
        "spec.containers[0].livenessProbe.exec.command: Required value"]


def test_negative_probe_timing():
    assert messages(with_container(livenessProbe=probe(exec={"command": ["x"]}, periodSeconds=-1))) == [
        "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0"]


# --- resources ------------------------------------------------------------------------------------


def test_requests_must_not_exceed_limits():
    obj = with_container(resources={"limits": {"cpu": "100m", "memory": "1Gi"},
                                    "requests": {"cpu": "0.2", "memory": "1024Mi"}})
    assert messages(obj) == ['spec.containers[0].resources.requests: Invalid value: "200m": must be less than '
                             'or equal to cpu limit of 100m']


def test_memory_request_over_limit():
    obj = with_container(resources={"limits": {"memory": "512Mi"}, "requests": {"memory": "1Gi"}})
    assert messages(obj) == ['spec.containers[0].resources.requests: Invalid value: "1Gi": must be less than '
                             'or equal to memory limit of 512Mi']


def test_negative_quantity():
    obj = with_container(resources={"requests": {"cpu": "-1"}})
    assert messages(obj) == [
        'spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0']


def test_resource_names_must_be_standard():
    obj = with_container(resources={"limits": {"gpu": "1"}})
    assert messages(obj) == [
        'spec.containers[0].resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers']


def test_extended_resources_must_request_their_limit():
    obj = with_container(resources={"limits": {"example.com/gpu": "2"}, "requests": {"example.com/gpu": "1"}})
    assert messages(obj) == ['spec.containers[0].resources.requests: Invalid value: "1": must be equal to '
                             'example.com/gpu limit of 2']


@pytest.mark.parametrize("given,shown", [("0.5", "500m"), ("1000", "1k"), ("1024Mi", "1Gi"), ("1e3", "1e3"),
                                         ("2000m", "2"), ("1.5Gi", "1536Mi"), ("100Mi", "100Mi"), (1, "1")])
def test_canonical_quantity(given, shown):
    assert canonical_quantity(given) == shown


# --- volumes and env ------------------------------------------------------------------------------


def test_volume_mount_must_name_a_volume():
    obj = with_container(volumeMounts=[{"name": "data", "mountPath": "/data"}])
    assert messages(obj) == ['spec.containers[0].volumeMounts[0].name: Not found: "data"']


def test_volume_names_unique_and_one_source():
    obj = pod(volumes=[{"name": "v", "emptyDir": {}}, {"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}])
    assert messages(obj) == ['spec.volumes[1].name: Duplicate value: "v"',
                             "spec.volumes[1].hostPath: Forbidden: may not specify more than 1 volume type"]


def test_volume_without_source_is_refused_when_not_defaulted():
    obj = pod()
    obj["spec"]["volumes"] = [{"name": "v"}]
    assert messages(obj) == ["spec.volumes[0]: Required value: must specify a volume type"]


def test_volume_source_required_fields():
    obj = pod(volumes=[{"name": "c", "configMap": {}}, {"name": "s", "secret": {}}])
    assert messages(obj) == ["spec.volumes[0].configMap.name: Required value",
                             "spec.volumes[1].secret.secretName: Required value"]


def test_host_path_must_not_step_back():
    obj = pod(volumes=[{"name": "up", "hostPath": {"path": "/var/../etc"}}, {"name": "ok", "hostPath": {"path": "/a..b"}}])
    assert messages(obj) == ['spec.volumes[0].hostPath.path: Invalid value: "/var/../etc": must not contain \'..\'']


def test_env_names():
    obj = with_container(env=[{"name": "A=B", "value": "x"}, {"value": "y"}])
    assert messages(obj) == [
        "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist "
        "only of printable ASCII characters other than '='",
        "spec.containers[0].env[1].name: Required value"]


def test_env_value_and_value_from():
    obj = with_container(env=[{"name": "A", "value": "x", "valueFrom": {
        "configMapKeyRef": {"name": "c", "key": "k"}}}])
    assert messages(obj) == ['spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when '
                             '`value` is not empty']


# --- pod updates ----------------------------------------------------------------------------------


def test_pod_update_may_change_image_and_labels():
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:2"
    new["metadata"]["labels"] = {"tier": "web"}
    new["status"] = {"phase": "Running"}
    assert messages(new, old) == []


def test_pod_update_may_add_tolerations():
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["tolerations"].append({"key": "k", "operator": "Exists", "effect": "NoSchedule"})
    assert messages(new, old) == []


def test_pod_update_forbids_other_spec_changes():
    old = pod()
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    assert messages(new, old) == [
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
        "negative)"]


# --- workloads ------------------------------------------------------------------------------------


def test_selector_required():
    obj = deployment()
    del obj["spec"]["selector"]
    assert messages(obj) == ["spec.selector: Required value"]


def test_selector_must_match_template():
    obj = deployment()
    obj["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    assert messages(obj) == ['spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: '
                             '`selector` does not match template `labels`']


def test_empty_selector_refused():
    obj = deployment(selector={})
    assert messages(obj) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"]


def test_replicas_nonnegative():
    assert messages(deployment(replicas=-1)) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"]


def test_template_restart_policy_must_be_always():
    obj = deployment()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert messages(obj) == [
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"']


def test_template_pod_spec_is_validated_with_prefix():
    obj = deployment()
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    assert messages(obj) == ["spec.template.spec.containers[0].image: Required value"]


def test_selector_immutable():
    old = deployment()
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
    new["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    assert messages(new, old) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web", "v":"2"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"]


def test_max_surge_and_unavailable_not_both_zero():
    obj = deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}})
    assert messages(obj) == [
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0%: may not be 0 when `maxSurge` is 0"]


def test_max_unavailable_at_most_100_percent():
    obj = deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "110%"}})
    assert messages(obj) == [
        "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 110%: must not be greater than 100%"]


def test_bad_percent():
    obj = deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "lots", "maxUnavailable": 1}})
    assert messages(obj) == [
        "spec.strategy.rollingUpdate.maxSurge: Invalid value: lots: a valid percent string must be a numeric "
        "string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"]


def test_recreate_with_rolling_update():
    obj = deployment(strategy={"type": "Recreate", "rollingUpdate": {}})
    assert messages(obj) == [
        "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"]


def test_progress_deadline_must_exceed_min_ready():
    assert messages(deployment(minReadySeconds=600)) == [
        "spec.progressDeadlineSeconds: Invalid value: 600: must be greater than minReadySeconds"]


def test_stateful_set_enums():
    obj = workload("StatefulSet")
    obj["spec"]["podManagementPolicy"] = "Random"
    assert messages(obj) == [
        "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"]


def test_stateful_set_update_limits():
    old = workload("StatefulSet")
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    assert messages(new, old) == []
    new["spec"]["serviceName"] = "other"
    assert messages(new, old) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]


def test_stateful_set_claim_templates():
    obj = workload("StatefulSet")
    obj["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "d"}, "spec": {"resources": {"requests": {}}}}]
    assert messages(obj) == [
        "spec.volumeClaimTemplates[0].spec.accessModes: Required value: at least 1 access mode is required",
        "spec.volumeClaimTemplates[0].spec.resources[storage]: Required value"]


def test_daemon_set_surge_and_unavailable():
    obj = workload("DaemonSet")
    obj["spec"]["updateStrategy"]["rollingUpdate"] = {"maxUnavailable": 1, "maxSurge": 1}
    assert messages(obj) == [
        "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"]


def job(**spec: object) -> dict:
    obj = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "pi", "image": "perl"}]}}, **spec}}
    return job_selector_defaults(apply_defaults(obj))


def test_job_is_valid_with_generated_selector():
    assert messages(job()) == []


def test_job_selector_written_by_hand_needs_manual_selector():
    # The server only adds the uid label to a selector it did not generate; upstream then refuses it.
    obj = job(selector={"matchLabels": {"app": "pi"}})
    obj["spec"]["template"]["metadata"]["labels"]["app"] = "pi"
    assert messages(obj) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"pi", '
        '"batch.kubernetes.io/controller-uid":"u1"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
        '`selector` not auto-generated']
    manual = job(selector={"matchLabels": {"app": "pi"}}, manualSelector=True)
    manual["spec"]["template"]["metadata"] = {"labels": {"app": "pi"}}
    assert messages(manual) == []


def test_job_restart_policy():
    obj = job()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert messages(obj) == ['spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: '
                             '"OnFailure", "Never"']


def test_job_counts_nonnegative():
    assert messages(job(parallelism=-1, backoffLimit=-2)) == [
        "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
        "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0"]


def test_job_template_immutable():
    old = job()
    new = copy.deepcopy(old)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:2"
    assert messages(new, old) == ["spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"]


def cron(schedule: str = "*/5 * * * *", **spec: object) -> dict:
    return apply_defaults({"apiVersion": "batch/v1", "kind": "CronJob",
                           "metadata": {"name": "tick", "namespace": "default"},
                           "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
                               "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "busybox"}]}}}},
                               **spec}})


def test_cron_job_valid():
    assert messages(cron()) == []
    assert messages(cron("@hourly")) == []
    assert messages(cron("0 9 * jan-mar mon-fri")) == []


def test_cron_schedule_required_and_parsed():
    assert messages(cron("")) == ["spec.schedule: Required value"]
    assert messages(cron("* * *")) == [
        'spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]']
    assert messages(cron("61 * * * *")) == [
        'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61']


def test_cron_parser_messages():
    assert validate_cron_schedule("x * * * *") == (
        'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax')
    assert validate_cron_schedule("5-1 * * * *") == "beginning of range (5) beyond end of range (1): 5-1"
    assert validate_cron_schedule("*/0 * * * *") == "step of range should be a positive number: */0"
    assert validate_cron_schedule("@sometimes") == "unrecognized descriptor: @sometimes"


def test_cron_concurrency_policy():
    assert messages(cron(concurrencyPolicy="Sometimes")) == [
        'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"']


def test_cron_job_name_limit():
    obj = cron()
    obj["metadata"]["name"] = "a" * 53
    assert messages(obj) == [f'metadata.name: Invalid value: "{"a" * 53}": must be no more than 52 characters']


# --- services -------------------------------------------------------------------------------------


def service(**spec: object) -> dict:
    return apply_defaults({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "d"},
                           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec}})


def test_service_valid():
    assert messages(service()) == []


def test_service_ports_required_unless_headless():
    assert messages(service(ports=[])) == ["spec.ports: Required value"]
    assert messages(service(ports=[], clusterIP="None")) == []


def test_service_port_range():
    assert messages(service(ports=[{"port": 0, "targetPort": 80}])) == [
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"]


def test_service_multiple_ports_need_names():
    assert messages(service(ports=[{"port": 80}, {"port": 443}])) == [
        "spec.ports[0].name: Required value", "spec.ports[1].name: Required value"]


def test_service_type_enum():
    assert messages(service(type="Internal")) == [
        'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"']


def test_service_cluster_ip_must_be_an_ip():
    assert messages(service(clusterIP="10.0.0.300")) == [
        'spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or '
        '2001:db8::ffff)']


def test_node_port_forbidden_for_cluster_ip():
    assert messages(service(ports=[{"port": 80, "nodePort": 30080}])) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]


# --- configuration --------------------------------------------------------------------------------


def test_config_map_keys():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"},
          "data": {"good.key": "1", "bad key": "2", "..x": "3"}}
    assert messages(cm) == [
        "data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters, "
        "'-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
        "'[-._a-zA-Z0-9]+')",
        "data[..x]: Invalid value: \"..x\": must not start with '..'"]


def test_immutable_config_map():
    old = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"},
           "data": {"a": "1"}, "immutable": True}
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    assert messages(new, old) == ["data: Forbidden: field is immutable when `immutable` is set"]


def test_secret_keys_and_tls():
    secret = apply_defaults({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                             "metadata": {"name": "s", "namespace": "d"}, "data": {"tls.crt": "eA=="}})
    assert messages(secret) == ["data[tls.key]: Required value"]


def test_docker_config_secret_must_hold_json_and_never_shows_it():
    def secret(value: str) -> dict:
        return apply_defaults({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                               "metadata": {"name": "s", "namespace": "d"}, "stringData": {".dockerconfigjson": value}})
    assert messages(secret('{"auths": {}}')) == []
    assert messages(secret("hunter2")) == ['data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": '
                                           "invalid character 'h' looking for beginning of value"]
    assert messages(secret('{"auths":')) == ['data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": '
                                             "unexpected end of JSON input"]


def test_basic_auth_secret_needs_a_username_or_a_password():
    secret = apply_defaults({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
                             "metadata": {"name": "s", "namespace": "d"}, "data": {"other": "eA=="}})
    assert messages(secret) == ["data[username]: Required value", "data[password]: Required value"]
    secret["data"] = {"password": ""}
    assert messages(secret) == []


def test_config_map_over_one_mebibyte_is_too_long():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"},
          "data": {"a": "x" * (1024 * 1024), "b": "y"}}
    # the path is the root (Go prints an empty path as []); v1.32 words TooLong as "may not be more than"
    assert messages(cm) == ["[]: Too long: may not be more than 1048576 bytes"]


def test_immutable_config_map_cannot_be_made_mutable_again():
    old = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "d"},
           "data": {"a": "1"}, "immutable": True}
    new = copy.deepcopy(old)
    new["immutable"] = False
    assert messages(new, old) == ["immutable: Forbidden: field is immutable when `immutable` is set"]


def test_secret_type_immutable():
    old = apply_defaults({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "d"}})
    new = copy.deepcopy(old)
    new["type"] = "example.com/custom"
    assert messages(new, old) == ['type: Invalid value: "example.com/custom": field is immutable']


# --- storage and cluster objects ------------------------------------------------------------------


def claim(**spec: object) -> dict:
    return apply_defaults({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                           "metadata": {"name": "data", "namespace": "d"},
                           "spec": {"accessModes": ["ReadWriteOnce"],
                                    "resources": {"requests": {"storage": "1Gi"}}, **spec}})


def test_claim_valid_and_required_fields():
    assert messages(claim()) == []
    assert messages(claim(accessModes=[], resources={})) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value"]


def test_claim_access_mode_enum():
    assert messages(claim(accessModes=["ReadWriteSometimes"])) == [
        'spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", '
        '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"']


def test_claim_update_only_grows_storage():
    old = claim()
    new = copy.deepcopy(old)
    new["spec"]["resources"]["requests"]["storage"] = "2Gi"
    # Upstream: only a bound claim's request may change (that asks for expansion).
    assert messages(new, old) == ["spec: Forbidden: spec is immutable after creation except resources.requests "
                                  "and volumeAttributesClassName for bound claims"]
    old["status"] = new["status"] = {"phase": "Bound"}
    assert messages(new, old) == []
    new["spec"]["accessModes"] = ["ReadWriteMany"]
    assert messages(new, old) == ["spec: Forbidden: spec is immutable after creation except resources.requests "
                                  "and volumeAttributesClassName for bound claims"]


def test_persistent_volume():
    pv = apply_defaults({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"},
                         "spec": {"accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"},
                                  "hostPath": {"path": "/data"}}})
    assert messages(pv) == []
    del pv["spec"]["hostPath"]
    assert messages(pv) == ["spec: Required value: must specify a volume type"]


def test_node_taints():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
            "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}}
    assert messages(node) == ['spec.taints[0].effect: Unsupported value: "Sometimes": supported values: '
                              '"NoSchedule", "PreferNoSchedule", "NoExecute"']


def test_hpa_replicas():
    hpa = apply_defaults({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                          "metadata": {"name": "h", "namespace": "d"},
                          "spec": {"minReplicas": 3, "maxReplicas": 2,
                                   "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "w"}}})
    assert messages(hpa) == ["spec.maxReplicas: Invalid value: 2: must be greater than or equal to `minReplicas`"]


# --- invariants -----------------------------------------------------------------------------------


def test_validate_does_not_modify_input():
    obj = deployment(replicas=-1)
    before = copy.deepcopy(obj)
    validate(obj, copy.deepcopy(obj))
    assert obj == before


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["spec", "metadata", "name", "containers", "template", "selector", "matchLabels", "ports",
                         "port", "strategy", "rollingUpdate", "maxSurge", "volumes", "resources", "limits",
                         "requests", "labels", "data", "schedule", "type", "image", "x"]), inner, max_size=5),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([(r.api_version, r.kind) for r in RESOURCES]),
       st.dictionaries(st.sampled_from(["metadata", "spec", "data", "type", "status"]), _json, max_size=4),
       st.one_of(st.none(), _json))
def test_validate_never_raises(kind, body, old):
    obj = {"apiVersion": kind[0], "kind": kind[1], **body}
    errors = validate(obj, old)
    assert all(isinstance(str(e), str) for e in errors)
    assert validate(apply_defaults(obj), old) is not None


def _paths(obj: object, prefix: tuple = ()) -> list[tuple]:
    """Every path into a JSON value, so a test can replace any node with garbage."""
    found = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            found += _paths(value, prefix + (i,))
    return found


def _replace(obj: object, path: tuple, value: object) -> object:
    if not path:
        return value
    result = copy.deepcopy(obj)
    target = result
    for step in path[:-1]:
        target = target[step]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    return result


_VALID = [pod(), deployment(), workload("StatefulSet"), workload("DaemonSet"), job(), cron(), service(), claim(),
          with_container(ports=[{"containerPort": 80, "name": "http", "protocol": "TCP"}],
                         livenessProbe=probe(httpGet={"port": "http", "path": "/", "scheme": "HTTP"}),
                         resources={"limits": {"cpu": "1"}, "requests": {"cpu": "1"}},
                         env=[{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}])]


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(_VALID), st.data(), _json)
def test_validate_never_raises_on_corrupted_valid_objects(base, data, garbage):
    path = data.draw(st.sampled_from(_paths(base)[1:]))
    corrupted = _replace(base, path, garbage)
    assert isinstance(validate(corrupted, base), list)
    assert isinstance(validate(base, corrupted), list)
