"""Server-side Table cells, checked against upstream's printers (pkg/printers/internalversion)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from minik8s.api.resources import lookup
from minik8s.apiserver.tables import (access_modes, column_definitions, format_selector, pod_cells, selector_string,
                                      to_table)

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(status: dict, spec: dict | None = None, **meta: object) -> dict:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": ts(300), **meta},
            "spec": spec or {"containers": [{"name": "app", "image": "nginx"}]}, "status": status}


def cells(obj: dict) -> list:
    return to_table(lookup(obj["kind"]), [obj], now=NOW)["rows"][0]["cells"]


RUNNING = {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {"startedAt": ts(290)}}}


def test_pending_unscheduled_pod():
    assert pod_cells(pod({"phase": "Pending"}), NOW) == ["web", "0/1", "Pending", "0", "5m", "<none>", "<none>",
                                                       "<none>", "<none>"]


def test_container_creating_pod_shows_waiting_reason():
    status = {"phase": "Pending", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}
    assert cells(pod(status))[1:3] == ["0/1", "ContainerCreating"]


def test_running_pod_with_ip_and_node():
    obj = pod({"phase": "Running", "podIPs": [{"ip": "10.244.0.5"}], "containerStatuses": [RUNNING],
               "conditions": [{"type": "Ready", "status": "True"}]},
              {"nodeName": "node-1", "containers": [{"name": "app"}]})
    assert cells(obj) == ["web", "1/1", "Running", "0", "5m", "10.244.0.5", "node-1", "<none>", "<none>"]


def test_crash_looping_pod_counts_restarts_with_last_restart_age():
    status = {"phase": "Running", "containerStatuses": [{
        "name": "app", "ready": False, "restartCount": 4,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ts(65)}}}]}
    assert cells(pod(status))[1:4] == ["0/1", "CrashLoopBackOff", "4 (65s ago)"]


def test_completed_pod_and_row_condition():
    status = {"phase": "Succeeded", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0,
         "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
    row = to_table(lookup("pods"), [pod(status)], now=NOW)["rows"][0]
    assert row["cells"][1:3] == ["0/1", "Completed"]
    assert row["conditions"][0]["reason"] == "Succeeded"


def test_error_without_reason_uses_exit_code():
    status = {"phase": "Failed", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": {"exitCode": 137}}}]}
    assert cells(pod(status))[2] == "ExitCode:137"


def test_image_pull_back_off():
    status = {"phase": "Pending", "containerStatuses": [
        {"name": "app", "ready": False, "restartCount": 0, "state": {"waiting": {"reason": "ImagePullBackOff"}}}]}
    assert cells(pod(status))[2] == "ImagePullBackOff"


def test_init_container_progress_and_failure():
    spec = {"initContainers": [{"name": "init"}], "containers": [{"name": "app"}]}
    running_init = {"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "restartCount": 0, "state": {"running": {}}}]}
    assert cells(pod(running_init, spec))[1:3] == ["0/1", "Init:0/1"]
    crashing_init = {"phase": "Pending", "initContainerStatuses": [
        {"name": "init", "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
    assert cells(pod(crashing_init, spec))[2:4] == ["Init:CrashLoopBackOff", "2"]


def test_completed_container_with_another_running_reads_running_or_not_ready():
    spec = {"containers": [{"name": "a"}, {"name": "b"}]}
    statuses = [{"name": "a", "ready": True, "state": {"running": {}}},
                {"name": "b", "ready": False, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]
    ready = pod({"phase": "Running", "containerStatuses": statuses,
                 "conditions": [{"type": "Ready", "status": "True"}]}, spec)
    assert cells(ready)[1:3] == ["1/2", "Running"]
    not_ready = pod({"phase": "Running", "containerStatuses": statuses}, spec)
    assert cells(not_ready)[2] == "NotReady"


def test_terminating_and_node_lost_pods():
    obj = pod({"phase": "Running", "containerStatuses": [RUNNING]}, deletionTimestamp=ts(1))
    assert cells(obj)[2] == "Terminating"
    lost = pod({"phase": "Running", "reason": "NodeLost"}, deletionTimestamp=ts(1))
    assert cells(lost)[2] == "Unknown"
    assert cells(pod({"phase": "Running", "reason": "NodeLost"}))[2] == "NodeLost"


def test_deployment_mid_rollout():
    deploy = {"kind": "Deployment", "apiVersion": "apps/v1",
              "metadata": {"name": "nginx", "creationTimestamp": ts(18)},
              "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"}},
                       "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"},
                                                            {"name": "side", "image": "busybox"}]}}},
              "status": {"replicas": 4, "updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3}}
    assert cells(deploy) == ["nginx", "3/3", 1, 3, "18s", "nginx,side", "nginx:1.25,busybox", "app=nginx"]


def test_replicaset_statefulset_daemonset():
    rs = {"kind": "ReplicaSet", "apiVersion": "apps/v1", "metadata": {"name": "r", "creationTimestamp": ts(60)},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "x"}}, "template": {"spec": {"containers": []}}},
          "status": {"replicas": 2, "readyReplicas": 1}}
    assert cells(rs)[:5] == ["r", 2, 2, 1, "60s"]
    sts = {"kind": "StatefulSet", "apiVersion": "apps/v1", "metadata": {"name": "web", "creationTimestamp": ts(60)},
           "spec": {"replicas": 3}, "status": {"readyReplicas": 2}}
    assert cells(sts)[:3] == ["web", "2/3", "60s"]
    ds = {"kind": "DaemonSet", "apiVersion": "apps/v1", "metadata": {"name": "agent", "creationTimestamp": ts(60)},
          "spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}},
          "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                     "updatedNumberScheduled": 2, "numberAvailable": 1}}
    assert cells(ds)[:8] == ["agent", 2, 2, 1, 2, 1, "kubernetes.io/os=linux", "60s"]


def test_job_columns_follow_1_32():
    names = [c["name"] for c in column_definitions("Job")]
    assert names[:5] == ["Name", "Status", "Completions", "Duration", "Age"]
    job = {"kind": "Job", "apiVersion": "batch/v1", "metadata": {"name": "pi", "creationTimestamp": ts(200)},
           "spec": {"completions": 1}, "status": {"succeeded": 1, "startTime": ts(200), "completionTime": ts(190),
                                                  "conditions": [{"type": "Complete", "status": "True"}]}}
    assert cells(job)[:5] == ["pi", "Complete", "1/1", "10s", "3m20s"]
    running = {**job, "spec": {"parallelism": 2}, "status": {"startTime": ts(30)}}
    assert cells(running)[1:4] == ["Running", "0/1 of 2", "30s"]


def test_cronjob():
    cj = {"kind": "CronJob", "apiVersion": "batch/v1", "metadata": {"name": "hello", "creationTimestamp": ts(600)},
          "spec": {"schedule": "*/1 * * * *", "suspend": False}, "status": {}}
    assert cells(cj)[:7] == ["hello", "*/1 * * * *", "<none>", "False", 0, "<none>", "10m"]


def test_services():
    svc = {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "kubernetes", "creationTimestamp": ts(3600)},
           "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                    "ports": [{"port": 443, "protocol": "TCP"}]}}
    assert cells(svc) == ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "60m", "<none>"]
    node_port = {**svc, "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.9"], "selector": {"app": "web"},
                                 "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}]}}
    assert cells(node_port)[3:] == ["<none>", "80:30080/TCP", "60m", "app=web"]
    lb = {**svc, "spec": {"type": "LoadBalancer", "clusterIPs": ["10.96.0.9"], "ports": []}}
    assert cells(lb)[3:5] == ["<pending>", "<none>"]


def test_node_not_ready_and_cordoned():
    node = {"kind": "Node", "apiVersion": "v1",
            "metadata": {"name": "node-1", "creationTimestamp": ts(86400 * 3),
                         "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "False"}],
                       "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0"}}}
    assert cells(node) == ["node-1", "NotReady,SchedulingDisabled", "control-plane", "3d", "v1.32.0", "172.18.0.2",
                           "<none>", "<unknown>", "<unknown>", "<unknown>"]


def test_events_table():
    ev = {"kind": "Event", "apiVersion": "v1", "metadata": {"name": "web.1"}, "type": "Warning", "reason": "BackOff",
          "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
          "source": {"component": "kubelet", "host": "node-1"}, "message": "Back-off restarting\n",
          "firstTimestamp": ts(600), "lastTimestamp": ts(30), "count": 7}
    assert cells(ev) == ["30s", "Warning", "BackOff", "pod/web", "spec.containers{app}", "kubelet, node-1",
                         "Back-off restarting", "10m", 7, "web.1"]
    assert [c["priority"] for c in column_definitions("Event")] == [0, 0, 0, 0, 1, 1, 0, 1, 1, 1]


def test_storage_tables():
    pv = {"kind": "PersistentVolume", "apiVersion": "v1", "metadata": {"name": "pv1", "creationTimestamp": ts(5)},
          "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                   "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "manual",
                   "claimRef": {"namespace": "default", "name": "data"}},
          "status": {"phase": "Bound"}}
    assert cells(pv)[:10] == ["pv1", "10Gi", "RWO,RWX", "Retain", "Bound", "default/data", "manual", "<unset>", "",
                              "5s"]
    pvc = {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
           "metadata": {"name": "data", "creationTimestamp": ts(5)},
           "spec": {"storageClassName": "manual"}, "status": {"phase": "Pending"}}
    assert cells(pvc)[:8] == ["data", "Pending", "", "", "", "manual", "<unset>", "5s"]
    assert access_modes(["ReadWriteOncePod", "ReadOnlyMany"]) == "ROX,RWOP"


def test_config_and_accounts():
    cm = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "c", "creationTimestamp": ts(1)},
          "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert cells(cm) == ["c", 3, "1s"]
    secret = {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s", "creationTimestamp": ts(1)},
              "type": "Opaque", "data": {"k": "dg=="}}
    assert cells(secret) == ["s", "Opaque", 1, "1s"]
    ns = {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "dev", "creationTimestamp": ts(1)},
          "status": {"phase": "Active"}}
    assert cells(ns) == ["dev", "Active", "1s"]


def test_roles_use_default_table_with_created_at():
    role = {"kind": "Role", "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "reader", "creationTimestamp": "2024-01-01T10:00:00Z"}}
    table = to_table(lookup("roles"), [role], now=NOW)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
    assert table["rows"][0]["cells"] == ["reader", "2024-01-01T10:00:00Z"]


def test_rolebinding_subjects_in_wide_columns():
    rb = {"kind": "RoleBinding", "apiVersion": "rbac.authorization.k8s.io/v1",
          "metadata": {"name": "rb", "creationTimestamp": ts(1)}, "roleRef": {"kind": "Role", "name": "reader"},
          "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "dev"}]}
    assert cells(rb) == ["rb", "Role/reader", "1s", "jane", "", "dev/sa"]


def test_selectors_format_like_upstream():
    sel = {"matchLabels": {"tier": "web", "app": "x"},
           "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                                {"key": "old", "operator": "DoesNotExist"}]}
    assert selector_string(sel) == "app=x,env in (dev,prod),!old,tier=web"
    assert format_selector({}) == "<none>"


@pytest.mark.parametrize("include,expected", [("None", None), ("Object", "Pod"), ("Metadata", "PartialObjectMetadata")])
def test_row_objects(include: str, expected: str | None):
    row = to_table(lookup("pods"), [pod({"phase": "Pending"})], now=NOW, include_object=include)["rows"][0]
    assert (row.get("object") or {}).get("kind") == expected


def test_table_envelope_and_column_definitions():
    table = to_table(lookup("pods"), [], now=NOW, list_meta={"resourceVersion": "42"})
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "42"} and table["rows"] == []
    first = table["columnDefinitions"][0]
    assert first["name"] == "Name" and first["format"] == "name" and first["priority"] == 0
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 1] == [
        "IP", "Node", "Nominated Node", "Readiness Gates"]


def test_every_row_has_one_cell_per_column():
    from minik8s.apiserver.tables import CELLS, COLUMNS
    for kind, cell_fn in CELLS.items():
        obj = {"kind": kind, "metadata": {"name": "x", "creationTimestamp": ts(1)}, "spec": {}, "status": {}}
        assert len(cell_fn(obj, NOW)) == len(COLUMNS[kind]), kind
