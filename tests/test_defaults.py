"""Tests for minik8s.api.defaults, against upstream's documented defaults."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minik8s.api.defaults import admission_defaults, apply_defaults, image_pull_policy, job_selector_defaults


def container(**extra: object) -> dict:
    return {"name": "web", "image": "nginx:1.27", **extra}


def pod(**spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
            "spec": {"containers": [container()], **spec}}


def template(**spec: object) -> dict:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [container()], **spec}}


def workload(api_version: str, kind: str, **spec: object) -> dict:
    return {"apiVersion": api_version, "kind": kind, "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(), **spec}}


# --- pods ---------------------------------------------------------------------------------------


def test_pod_spec_defaults():
    spec = apply_defaults(pod())["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True


def test_container_defaults():
    c = apply_defaults(pod())["spec"]["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["resources"] == {}


@pytest.mark.parametrize("image,policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.27", "IfNotPresent"),
    ("registry:5000/team/app", "Always"), ("registry:5000/team/app:v2", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"), ("nginx:latest@sha256:" + "a" * 64, "Always"), ("", "IfNotPresent"),
])
def test_image_pull_policy_rule(image, policy):
    assert image_pull_policy(image) == policy


def test_user_values_are_kept():
    obj = pod(restartPolicy="Never", dnsPolicy="Default", terminationGracePeriodSeconds=0)
    obj["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    spec = apply_defaults(obj)["spec"]
    assert (spec["restartPolicy"], spec["dnsPolicy"], spec["terminationGracePeriodSeconds"]) == ("Never", "Default", 0)
    assert spec["containers"][0]["imagePullPolicy"] == "Never"


def test_requests_default_to_limits_for_pods_only():
    limits = {"cpu": "500m", "memory": "128Mi"}
    obj = pod()
    obj["spec"]["containers"][0]["resources"] = {"limits": dict(limits), "requests": {"cpu": "100m"}}
    resources = apply_defaults(obj)["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"cpu": "100m", "memory": "128Mi"}
    deploy = workload("apps/v1", "Deployment")
    deploy["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": dict(limits)}
    tmpl = apply_defaults(deploy)["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert "requests" not in tmpl


def test_ports_and_probes():
    probe = {"httpGet": {"port": 8080}}
    obj = pod()
    obj["spec"]["containers"][0].update(ports=[{"containerPort": 80}], livenessProbe=probe, readinessProbe={
        "tcpSocket": {"port": 80}, "periodSeconds": 5})
    c = apply_defaults(obj)["spec"]["containers"][0]
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert c["livenessProbe"] == {"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                  "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert c["readinessProbe"]["periodSeconds"] == 5


def test_host_network_copies_container_port_to_host_port():
    obj = pod(hostNetwork=True)
    obj["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
    assert apply_defaults(obj)["spec"]["containers"][0]["ports"][0]["hostPort"] == 8080


def test_volume_defaults():
    obj = pod(volumes=[{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}},
                       {"name": "sec", "secret": {"secretName": "s"}}, {"name": "host", "hostPath": {"path": "/x"}}])
    volumes = apply_defaults(obj)["spec"]["volumes"]
    assert volumes[0] == {"name": "scratch", "emptyDir": {}}
    assert volumes[1]["configMap"]["defaultMode"] == 420
    assert volumes[2]["secret"]["defaultMode"] == 420
    assert volumes[3]["hostPath"]["type"] == ""


def test_env_field_ref_api_version():
    obj = pod()
    obj["spec"]["containers"][0]["env"] = [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    env = apply_defaults(obj)["spec"]["containers"][0]["env"][0]
    assert env["valueFrom"]["fieldRef"]["apiVersion"] == "v1"


def test_admission_defaults_for_pods():
    spec = apply_defaults(pod())["spec"]
    assert spec["serviceAccountName"] == "default"
    assert spec["serviceAccount"] == "default"
    assert "priority" not in spec  # the Priority plugin reads PriorityClasses: tests/test_preemption.py
    assert spec["tolerations"] == [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300},
    ]


def test_admission_can_be_skipped_and_called_alone():
    plain = apply_defaults(pod(), admission=False)["spec"]
    assert "serviceAccountName" not in plain and "tolerations" not in plain
    assert admission_defaults(pod())["spec"]["serviceAccountName"] == "default"


def test_existing_toleration_is_not_duplicated():
    own = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
           "tolerationSeconds": 10}
    tolerations = apply_defaults(pod(tolerations=[own]))["spec"]["tolerations"]
    assert [t["key"] for t in tolerations] == ["node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"]
    assert tolerations[0]["tolerationSeconds"] == 10


def test_templates_get_pod_spec_defaults_but_no_admission():
    spec = apply_defaults(workload("apps/v1", "ReplicaSet"))["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Always" and spec["schedulerName"] == "default-scheduler"
    assert spec["containers"][0]["terminationMessagePolicy"] == "File"
    assert "enableServiceLinks" not in spec and "serviceAccountName" not in spec and "priority" not in spec


# --- workloads -------------------------------------------------------------------------------------


def test_deployment_defaults():
    spec = apply_defaults(workload("apps/v1", "Deployment"))["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600


def test_recreate_deployment_gets_no_rolling_update():
    spec = apply_defaults(workload("apps/v1", "Deployment", strategy={"type": "Recreate"}))["spec"]
    assert spec["strategy"] == {"type": "Recreate"}


def test_replica_set_defaults():
    assert apply_defaults(workload("apps/v1", "ReplicaSet"))["spec"]["replicas"] == 1


def test_stateful_set_defaults():
    sts = workload("apps/v1", "StatefulSet", volumeClaimTemplates=[
        {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                "resources": {"requests": {"storage": "1Gi"}}}}])
    spec = apply_defaults(sts)["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["volumeClaimTemplates"][0]["spec"]["volumeMode"] == "Filesystem"


def test_daemon_set_defaults():
    spec = apply_defaults(workload("apps/v1", "DaemonSet"))["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert spec["revisionHistoryLimit"] == 10


def job(**spec: object) -> dict:
    tmpl = template(restartPolicy="Never")
    tmpl["metadata"] = {}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"}, "spec": {"template": tmpl, **spec}}


def test_job_defaults():
    spec = apply_defaults(job())["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed"
    assert spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert "manualSelector" not in spec and "selector" not in spec


def test_job_with_parallelism_keeps_completions_unset():
    spec = apply_defaults(job(parallelism=3))["spec"]
    assert spec["parallelism"] == 3 and "completions" not in spec


def test_job_with_pod_failure_policy_replaces_failed_only():
    spec = apply_defaults(job(podFailurePolicy={"rules": []}))["spec"]
    assert spec["podReplacementPolicy"] == "Failed"


def test_job_selector_defaults():
    obj = apply_defaults(job())
    obj["metadata"]["uid"] = "1234"
    result = job_selector_defaults(obj)
    labels = {"batch.kubernetes.io/controller-uid": "1234", "batch.kubernetes.io/job-name": "pi",
              "controller-uid": "1234", "job-name": "pi"}
    assert result["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}}
    assert result["spec"]["template"]["metadata"]["labels"] == labels
    assert result["metadata"]["labels"] == labels
    assert "selector" not in obj["spec"]  # input untouched


def test_job_selector_defaults_respects_manual_selector():
    obj = job(manualSelector=True, selector={"matchLabels": {"a": "b"}})
    obj["metadata"]["uid"] = "1"
    assert job_selector_defaults(obj)["spec"]["selector"] == {"matchLabels": {"a": "b"}}


def test_cron_job_defaults():
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template(restartPolicy="Never")}}}}
    spec = apply_defaults(cron)["spec"]
    assert spec["concurrencyPolicy"] == "Allow" and spec["suspend"] is False
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 1)
    job_spec = spec["jobTemplate"]["spec"]
    assert "backoffLimit" not in job_spec  # SetDefaults_Job does not run on job templates
    assert job_spec["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


# --- services and the rest -------------------------------------------------------------------------------


def test_service_defaults():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]}}
    spec = apply_defaults(svc)["spec"]
    assert spec["type"] == "ClusterIP" and spec["sessionAffinity"] == "None"
    assert spec["ports"][0] == {"port": 80, "protocol": "TCP", "targetPort": 80}
    assert spec["ports"][1]["targetPort"] == "https"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["ipFamilyPolicy"] == "SingleStack" and spec["ipFamilies"] == ["IPv4"]
    assert "externalTrafficPolicy" not in spec


def test_node_port_service_defaults():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
           "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "sessionAffinity": "ClientIP"}}
    spec = apply_defaults(svc)["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_external_name_service_has_no_ip_families():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
           "spec": {"type": "ExternalName", "externalName": "db.example.com"}}
    spec = apply_defaults(svc)["spec"]
    assert "ipFamilies" not in spec and "internalTrafficPolicy" not in spec


def test_namespace_defaults():
    ns = apply_defaults({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "dev"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["status"] == {"phase": "Active"}


def test_secret_and_volume_defaults():
    assert apply_defaults({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})["type"] == "Opaque"
    pv = apply_defaults({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"}, "spec": {}})
    assert pv["spec"] == {"persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem"}
    pvc = apply_defaults({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"}, "spec": {}})
    assert pvc["spec"]["volumeMode"] == "Filesystem" and pvc["status"] == {"phase": "Pending"}


def test_node_allocatable_defaults_to_capacity():
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi"}}}
    assert apply_defaults(node)["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi"}


def test_hpa_defaults():
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
           "spec": {"maxReplicas": 5, "scaleTargetRef": {"kind": "Deployment", "name": "web"}}}
    spec = apply_defaults(hpa)["spec"]
    assert spec["minReplicas"] == 1
    assert spec["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
    assert "behavior" not in spec
    hpa["spec"]["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": 60}}
    behavior = apply_defaults(hpa)["spec"]["behavior"]
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 60
    assert behavior["scaleDown"]["policies"] == [{"type": "Percent", "value": 100, "periodSeconds": 15}]
    assert behavior["scaleUp"]["policies"][0] == {"type": "Pods", "value": 4, "periodSeconds": 15}


def test_event_and_config_map_pass_through():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}
    assert apply_defaults(cm) == cm


# --- invariants -------------------------------------------------------------------------------------------------


def test_input_is_never_mutated():
    obj = workload("apps/v1", "Deployment")
    before = copy.deepcopy(obj)
    apply_defaults(obj)
    assert obj == before


@pytest.mark.parametrize("obj", [pod(), workload("apps/v1", "Deployment"), workload("apps/v1", "StatefulSet"),
                                 workload("apps/v1", "DaemonSet"), job()])
def test_defaulting_is_idempotent(obj):
    once = apply_defaults(obj)
    assert apply_defaults(once) == once


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                         st.sampled_from(["spec", "template", "containers", "ports", "volumes", "strategy",
                                          "metadata", "labels", "resources", "limits", "x"]), inner, max_size=4),
                     max_leaves=25)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([("v1", "Pod"), ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("batch/v1", "Job"),
                        ("batch/v1", "CronJob"), ("v1", "Service"), ("v1", "Namespace"), ("apps/v1", "DaemonSet"),
                        ("autoscaling/v2", "HorizontalPodAutoscaler"), ("v1", "LimitRange")]),
       st.dictionaries(st.sampled_from(["spec", "metadata", "status"]), _json, max_size=3))
def test_defaulting_tolerates_garbage(kind, body):
    obj = {"apiVersion": kind[0], "kind": kind[1], **body}
    before = copy.deepcopy(obj)
    apply_defaults(obj)
    assert obj == before
