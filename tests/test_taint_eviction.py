"""NoExecute taints evict the pods that do not tolerate them (the taint-eviction controller),
a silent node is tainted and emptied after the default 300 s tolerations, and those
tolerations are added by the DefaultTolerationSeconds admission plugin."""

from __future__ import annotations

import json

from minik8s.api import resources
from minik8s.clock import rfc3339
from minik8s.cluster import Cluster
from tests.conftest import needs_kubectl, wait_for

PODS = resources.lookup("pods")
NODES = resources.lookup("nodes")

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  nodeName: node-1
  containers:
  - name: c
    image: nginx:1.27
{tolerations}"""


def pod(name: str, seconds: int | None = None) -> str:
    tolerations = "" if seconds is None else (
        "  tolerations:\n  - {key: dedicated, operator: Exists, effect: NoExecute, "
        f"tolerationSeconds: {seconds}}}\n")
    return POD.format(name=name, tolerations=tolerations)


def taint(cluster: Cluster, node: str, taints: list[dict]) -> None:
    cluster.client.patch(NODES, node, {"spec": {"taints": taints or None}}, patch_type="merge")


def evicted(cluster: Cluster, name: str) -> bool:
    """Deleted, or Terminating (the simulated kubelet finishes the deletion a moment later)."""
    items = {p["metadata"]["name"]: p for p in cluster.client.list(PODS, "default")["items"]}
    return name not in items or bool(items[name]["metadata"].get("deletionTimestamp"))


def disruption_targets(cluster: Cluster) -> dict[str, dict]:
    """The DisruptionTarget condition each pod ever showed, recorded from the pods' watch
    (an evicted pod may be gone by the time the test looks)."""
    seen: dict[str, dict] = {}

    def record(kind: str, obj: dict, old: dict | None) -> None:
        for condition in (obj.get("status") or {}).get("conditions") or []:
            if condition["type"] == "DisruptionTarget":
                seen[obj["metadata"]["name"]] = condition
    cluster.informers.get(PODS).add_handler(record)
    return seen


def events(cluster: Cluster) -> str:
    return cluster.kubectl("get events --field-selector reason=TaintManagerEviction")


def test_no_execute_taint_evicts_at_once_or_after_toleration_seconds():
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as cluster:
        targets = disruption_targets(cluster)
        cluster.apply(pod("plain"))
        cluster.apply(pod("patient", 30))
        cluster.advance(5)
        taint(cluster, "node-1", [{"key": "dedicated", "value": "db", "effect": "NoExecute"}])
        cluster.advance(1)
        target = targets["plain"]
        assert (target["status"], target["reason"], target["message"]) == (
            "True", "DeletionByTaintManager", "Taint manager: deleting due to NoExecute taint")
        assert evicted(cluster, "plain")
        assert "Marking for deletion Pod default/plain" in events(cluster)

        cluster.advance(20)
        assert not evicted(cluster, "patient")  # tolerated for 30 s from the taint
        cluster.advance(10)
        assert evicted(cluster, "patient") and targets["patient"]["reason"] == "DeletionByTaintManager"
        assert "Marking for deletion Pod default/patient" in events(cluster)
        # node-2 was never tainted and nothing was scheduled there: the scheduler never places
        # a pod on a node whose NoExecute taint it does not tolerate either.
        assert not cluster.client.get(NODES, "node-2")["spec"].get("taints")


def test_removing_the_taint_in_time_cancels_the_eviction():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.apply(pod("patient", 60))
        cluster.advance(5)
        taint(cluster, "node-1", [{"key": "dedicated", "effect": "NoExecute"}])
        cluster.advance(20)
        taint(cluster, "node-1", [])
        cluster.advance(120)
        assert not evicted(cluster, "patient")
        assert cluster.client.get(PODS, "patient", "default")["status"]["phase"] == "Running"
        assert "Cancelling deletion of Pod default/patient" in events(cluster)
        assert "Marking for deletion" not in events(cluster)


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx:1.27}]
"""


def test_stopped_kubelet_node_is_tainted_and_its_pods_move_after_300_seconds():
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.apply(DEPLOYMENT)
        cluster.advance(10)
        pods = cluster.client.list(PODS, "default")["items"]
        on_node_1 = {p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] == "node-1"}
        assert on_node_1 and len(pods) == 4
        cluster.stop_kubelet("node-1")
        stopped = cluster.clock.now()

        cluster.advance(60)  # past the 50 s grace period
        node = cluster.client.get(NODES, "node-1")
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
        assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == {
            ("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}
        assert not any(evicted(cluster, name) for name in on_node_1)  # the default 300 s toleration

        cluster.advance(stopped + 40 + 290 - cluster.clock.now())  # the taint came 40-50 s after
        assert not any(evicted(cluster, name) for name in on_node_1)
        cluster.advance(30)
        assert all(evicted(cluster, name) for name in on_node_1)
        live = [p for p in cluster.client.list(PODS, "default")["items"] if not p["metadata"].get("deletionTimestamp")]
        assert len(live) == 4 and all(p["spec"]["nodeName"] == "node-2" for p in live)

        cluster.start_kubelet("node-1")
        cluster.advance(15)
        node = cluster.client.get(NODES, "node-1")
        assert not node["spec"].get("taints")
        assert not [p for p in cluster.client.list(PODS, "default")["items"] if p["spec"]["nodeName"] == "node-1"]


def test_unknown_node_name_is_refused():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as cluster:
        try:
            cluster.stop_kubelet("node-9")
        except ValueError as err:
            assert 'no node "node-9"' in str(err)
        else:
            raise AssertionError("stop_kubelet accepted an unknown node")


@needs_kubectl
def test_default_tolerations_and_kubectl_taint_no_execute(server):
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}
    assert server.kubectl("create", "-f", "-", stdin=json.dumps(node)).returncode == 0
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx:1.27"}],
                         "tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                          "effect": "NoExecute", "tolerationSeconds": 5}]}}
    assert server.kubectl("create", "-f", "-", stdin=json.dumps(manifest)).returncode == 0
    got = json.loads(server.kubectl("get", "pod", "p", "-o", "json").stdout)
    # DefaultTolerationSeconds adds only the missing one (not-ready); the pod's own stays as it is.
    assert got["spec"]["tolerations"] == [
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 5},
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
         "tolerationSeconds": 300}]

    result = server.kubectl("taint", "nodes", "n1", "dedicated=db:NoExecute")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "node/n1 tainted"

    def deleting():
        pod = json.loads(server.kubectl("get", "pod", "p", "-o", "json").stdout or "{}")
        return pod if (pod.get("metadata") or {}).get("deletionTimestamp") else None

    pod = wait_for(deleting, what="the pod marked for deletion")
    target = next(c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert target["reason"] == "DeletionByTaintManager"
    listed = server.kubectl("get", "events", "--field-selector", "reason=TaintManagerEviction").stdout
    assert "Marking for deletion Pod default/p" in listed


def test_not_ready_node_gets_the_not_ready_taints_then_unreachable_when_silent():
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.apply(pod("web"))
        cluster.advance(5)
        cluster.stop_kubelet("node-1")  # so that nothing posts Ready=True over the status below
        node = cluster.client.get(NODES, "node-1")
        now = rfc3339(cluster.clock.now())
        for condition in node["status"]["conditions"]:
            if condition["type"] == "Ready":
                condition.update(status="False", reason="KubeletNotReady", message="container runtime is down",
                                 lastHeartbeatTime=now, lastTransitionTime=now)
        cluster.client.update(NODES, node, subresource="status")
        cluster.advance(1)
        taints = cluster.client.get(NODES, "node-1")["spec"]["taints"]
        assert {(t["key"], t["effect"]) for t in taints} == {
            ("node.kubernetes.io/not-ready", "NoSchedule"), ("node.kubernetes.io/not-ready", "NoExecute")}
        assert "node.kubernetes.io/not-ready:NoExecute" in cluster.kubectl("describe node node-1")
        assert not evicted(cluster, "web")  # tolerated for 300 s by default

        cluster.advance(55)  # the heartbeat above is older than the grace period now
        taints = cluster.client.get(NODES, "node-1")["spec"]["taints"]
        assert {t["key"] for t in taints} == {"node.kubernetes.io/unreachable"}
        cluster.advance(300 - 56 - 2)
        assert not evicted(cluster, "web")
        cluster.advance(3)  # the timer started with the not-ready taint stands (not restarted at 55 s)
        assert evicted(cluster, "web")
