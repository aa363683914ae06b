"""A node that stops sending heartbeats becomes NotReady (Unknown), is tainted, and loses its pods."""

from __future__ import annotations

from minik8s.api import resources
from minik8s.cluster import Cluster
from minik8s.controllers.tainteviction import matching_toleration_seconds

PODS = resources.lookup("pods")
NODES = resources.lookup("nodes")

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  nodeName: node-1
  containers:
  - name: c
    image: nginx:1.27
"""


def ready(cluster: Cluster, node: str) -> str:
    conditions = cluster.client.get(NODES, node)["status"]["conditions"]
    return next(c["status"] for c in conditions if c["type"] == "Ready")


def test_silent_node_goes_unknown_after_grace_and_pods_are_evicted_after_toleration():
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.apply(POD)
        cluster.advance(5)
        assert cluster.client.get(PODS, "web", "default")["status"]["phase"] == "Running"
        start = cluster.clock.now()
        cluster.kubelets[0].stop_heartbeats()

        cluster.advance(40)
        assert ready(cluster, "node-1") == "True"  # still within the 50 s grace period
        cluster.advance(20)
        assert ready(cluster, "node-1") == "Unknown"
        assert ready(cluster, "node-2") == "True"
        taints = cluster.client.get(NODES, "node-1")["spec"]["taints"]
        assert {(t["key"], t["effect"]) for t in taints} == {
            ("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")}
        assert "NotReady" in cluster.kubectl("get nodes")

        pod = cluster.client.get(PODS, "web", "default")
        assert not pod["metadata"].get("deletionTimestamp")  # the default toleration lasts 300 s
        cluster.advance(start + 50 + 300 + 10 - cluster.clock.now())
        remaining = cluster.client.list(PODS, "default")["items"]
        # Evicted: deleted, or Terminating if the silent kubelet cannot finish the deletion.
        assert all(p["metadata"].get("deletionTimestamp") for p in remaining)
        events = cluster.kubectl("get events --field-selector involvedObject.name=web")
        assert "TaintManagerEviction" in events and "Marking for deletion Pod default/web" in events

        cluster.kubelets[0].resume_heartbeats()
        cluster.advance(15)
        assert ready(cluster, "node-1") == "True"
        assert not cluster.client.get(NODES, "node-1")["spec"].get("taints")


def test_unschedulable_pod_gets_the_upstream_message_and_is_retried_when_a_node_changes():
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.apply(POD.replace("  nodeName: node-1\n", "").replace(
            "    image: nginx:1.27\n", "    image: nginx:1.27\n    resources:\n      requests:\n        cpu: 64\n"))
        cluster.advance(1)
        events = cluster.kubectl("get events")
        assert "FailedScheduling" in events and "0/3 nodes are available: 3 Insufficient cpu." in events
        pod = cluster.client.get(PODS, "web", "default")
        scheduled = next(c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled")
        assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
        # A bigger node arrives (a node's capacity changes): the pod is tried again and fits.
        node = cluster.client.get(NODES, "node-2")
        node["status"]["capacity"]["cpu"] = "128"
        node["status"]["allocatable"]["cpu"] = "128"
        cluster.client.update(NODES, node, subresource="status")
        cluster.advance(1)
        assert cluster.client.get(PODS, "web", "default")["spec"].get("nodeName") == "node-2"


def test_tolerations_match_as_upstream():
    taint = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
    default = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
               "tolerationSeconds": 300}
    assert matching_toleration_seconds([default], [taint]) == (True, 300.0)
    assert matching_toleration_seconds([{"operator": "Exists"}], [taint]) == (True, None)
    assert matching_toleration_seconds([], [taint]) == (False, 0.0)
    assert matching_toleration_seconds([{"key": "other", "operator": "Exists"}], [taint]) == (False, 0.0)
    # The first matching toleration counts (upstream's getMatchingTolerations), then the smallest time.
    assert matching_toleration_seconds([default, {"operator": "Exists"}], [taint]) == (True, 300.0)
    other = {"key": "k", "value": "v", "effect": "NoExecute"}
    assert matching_toleration_seconds([default, {"key": "k", "operator": "Equal", "value": "v",
                                                  "tolerationSeconds": 20}], [taint, other]) == (True, 20.0)
    assert matching_toleration_seconds([{"operator": "Exists", "tolerationSeconds": -5}], [taint]) == (True, 0.0)
