"""Resource sanity: a typo of ``replicas: 1000000000`` leaves pods Pending instead of exhausting the machine.

Three mechanisms, each upstream's, meet here: the kubelet's ``maxPods`` (110) as the node's
``pods`` capacity, which NodeResourcesFit enforces (``Too many pods``); the ReplicaSet
controller's slow start and ``burstReplicas``; and an object-count quota in admission
(``exceeded quota``), which makes the ReplicaSet report ``FailedCreate`` / ``ReplicaFailure``.
"""

from __future__ import annotations

from minik8s.api import resources
from minik8s.cluster import Cluster

PODS = resources.lookup("pods")
NODES = resources.lookup("nodes")
RS = resources.lookup("rs")
DEPLOYMENTS = resources.lookup("deployments")
EVENTS = resources.lookup("events")

CAP = 300  # a low object-count limit keeps the test fast; the default is 10,000

HUGE = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1000000000
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
"""

TOO_MANY_PODS = ("0/1 nodes are available: 1 Too many pods. "
                 "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")


def condition(obj: dict, kind: str) -> dict | None:
    return next((c for c in obj.get("status", {}).get("conditions") or [] if c["type"] == kind), None)


def test_a_node_reports_the_kubelets_max_pods_as_its_pod_capacity():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        node = c.client.get(NODES, "node-1")
        assert node["status"]["capacity"]["pods"] == node["status"]["allocatable"]["pods"] == "110"
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0, max_pods=3) as c:
        assert c.client.get(NODES, "node-1")["status"]["allocatable"]["pods"] == "3"
        c.kubectl("create deployment web --image=nginx --replicas=5")
        c.advance(30)
        pods = c.client.list(PODS, "default")["items"]
        assert sorted(bool(p["spec"].get("nodeName")) for p in pods) == [False, False, True, True, True]


def test_a_billion_replicas_on_one_node_leave_pods_pending_within_the_quota():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0, object_count_limit=CAP) as c:
        c.apply(HUGE)
        for _ in range(12):  # a minute, looking every 5 s: the node never holds more than maxPods
            c.advance(5)
            pods = c.client.list(PODS, "default")["items"]
            assert sum(1 for p in pods if p["spec"].get("nodeName") == "node-1") <= 110
            assert len(c.kubelets[0]._pods) <= 110
            assert len(pods) <= CAP
        pods = c.client.list(PODS, "default")["items"]
        running = [p for p in pods if p["status"].get("phase") == "Running"]
        pending = [p for p in pods if p["status"].get("phase") == "Pending"]
        assert (len(pods), len(running), len(pending)) == (CAP, 110, CAP - 110)
        assert all(p["spec"]["nodeName"] == "node-1" for p in running)
        for pod in pending:
            assert not pod["spec"].get("nodeName")
            scheduled = condition(pod, "PodScheduled")
            assert scheduled is not None
            assert (scheduled["status"], scheduled["reason"], scheduled["message"]) == \
                ("False", "Unschedulable", TOO_MANY_PODS)
        events = c.client.list(EVENTS, "default")["items"]
        failed_scheduling = [e for e in events if e["reason"] == "FailedScheduling"]
        assert {e["involvedObject"]["name"] for e in failed_scheduling} == {p["metadata"]["name"] for p in pending}
        assert {e["message"] for e in failed_scheduling} == {TOO_MANY_PODS}

        # The ReplicaSet (and through it the Deployment) shows the refusal as upstream does.
        [rs] = c.client.list(RS, "default")["items"]
        prefix = rs["metadata"]["name"] + "-"
        refusal = (f'pods "{prefix}" is forbidden: exceeded quota: object-counts, requested: pods=1, '
                   f'used: pods={CAP}, limited: pods={CAP}')
        failure = condition(rs, "ReplicaFailure")
        assert failure is not None
        assert (failure["status"], failure["reason"], failure["message"]) == ("True", "FailedCreate", refusal)
        assert rs["status"]["replicas"] == CAP and rs["status"]["readyReplicas"] == 110
        failed_create = [e for e in events if e["reason"] == "FailedCreate"]
        assert [(e["type"], e["message"]) for e in failed_create] == [("Warning", f"Error creating: {refusal}")]
        deployment_failure = condition(c.client.get(DEPLOYMENTS, "web", "default"), "ReplicaFailure")
        assert deployment_failure is not None and deployment_failure["message"] == refusal

        c.kubectl("delete deployment web")
        c.advance(60)
        assert c.store.count("pods") == 0
        assert c.store.count(RS.qualified) == 0 and c.store.count(DEPLOYMENTS.qualified) == 0
        assert c.kubelets[0]._pods == {}
        assert "No resources found" in c.run_kubectl("get pods")[2]


def test_the_kubelet_rejects_a_pod_bound_past_max_pods_as_out_of_pods():
    # The scheduler never does this; a pod that names its node itself bypasses it.
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0, max_pods=2) as c:
        for name in ("a", "b", "c"):
            c.client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                                   "spec": {"nodeName": "node-1",
                                            "containers": [{"name": "web", "image": "nginx"}]}}, "default")
            c.advance(5)
        phases = {p["metadata"]["name"]: p["status"].get("phase") for p in c.client.list(PODS, "default")["items"]}
        assert phases == {"a": "Running", "b": "Running", "c": "Failed"}
        status = c.client.get(PODS, "c", "default")["status"]
        message = "Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2"
        assert (status["reason"], status["message"]) == ("OutOfpods", f"Pod was rejected: {message}")
        assert "containerStatuses" not in status and len(c.kubelets[0]._pods) == 2
        [event] = [e for e in c.client.list(EVENTS, "default")["items"] if e["involvedObject"]["name"] == "c"]
        assert (event["type"], event["reason"], event["message"]) == ("Warning", "OutOfpods", message)
        c.client.delete(PODS, "c", "default")
        c.advance(5)
        assert c.store.count("pods", "default") == 2
