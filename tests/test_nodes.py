"""Nodes that come and go: ``Cluster.add_node`` / ``remove_node`` / ``stop_kubelet``, and what
DaemonSets, Deployments and the pod garbage collector make of them (chapter 10)."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s.api import resources
from minik8s.clock import parse_rfc3339
from minik8s.cluster import Cluster

PODS = resources.by_plural("", "v1", "pods")
NODES = resources.by_plural("", "v1", "nodes")
LEASES = resources.by_plural("coordination.k8s.io", "v1", "leases")
DS = resources.by_plural("apps", "v1", "daemonsets")


def daemonset(name: str = "agent", pod_spec: str = "") -> str:
    return f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
{pod_spec}      containers: [{{name: a, image: "nginx:1.25"}}]
"""


DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.25"}]
"""


@pytest.fixture
def cluster() -> Any:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def nodes_of(c: Cluster, app: str) -> list[str]:
    """The nodes running a live pod labelled ``app`` (sorted, repeated if a node runs several)."""
    return sorted(p["spec"].get("nodeName", "") for p in c.client.list(PODS, "default")["items"]
                  if p["metadata"]["labels"].get("app") == app and not p["metadata"].get("deletionTimestamp"))


def test_a_joining_node_registers_heartbeats_and_gets_the_daemon_pod(cluster: Cluster) -> None:
    cluster.apply(daemonset())
    cluster.advance(10)
    assert nodes_of(cluster, "agent") == ["node-1", "node-2"]
    assert cluster.add_node() == "node-3"
    cluster.advance(10)
    assert nodes_of(cluster, "agent") == ["node-1", "node-2", "node-3"]
    assert cluster.client.get(DS, "agent", "default")["status"]["desiredNumberScheduled"] == 3
    node = cluster.client.get(NODES, "node-3")
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and node["spec"]["podCIDR"] == "10.244.3.0/24"
    renewed = cluster.client.get(LEASES, "node-3", "kube-node-lease")["spec"]["renewTime"]
    cluster.advance(30)
    assert cluster.client.get(LEASES, "node-3", "kube-node-lease")["spec"]["renewTime"] != renewed
    assert "node-3   Ready" in cluster.kubectl("get nodes")


def test_a_leaving_node_takes_its_daemon_pod_and_podgc_frees_the_others(cluster: Cluster) -> None:
    cluster.apply(daemonset())
    cluster.apply(DEPLOYMENT)
    cluster.advance(10)
    web_on_node_2 = [p["metadata"]["name"] for p in cluster.client.list(PODS, "default")["items"]
                     if p["spec"].get("nodeName") == "node-2" and p["metadata"]["labels"]["app"] == "web"]
    assert web_on_node_2
    departed = next(k for k in cluster.kubelets if k.node_name == "node-2")
    cluster.remove_node("node-2")
    cluster.advance(10)
    assert [n["metadata"]["name"] for n in cluster.client.list(NODES)["items"]] == ["node-1"]
    assert nodes_of(cluster, "agent") == ["node-1"]
    assert cluster.client.get(DS, "agent", "default")["status"]["desiredNumberScheduled"] == 1
    # Orphaned pods are deleted (PodGC) and the ReplicaSet replaces them on the node that is left.
    names = {p["metadata"]["name"] for p in cluster.client.list(PODS, "default")["items"]}
    assert not names & set(web_on_node_2)
    assert nodes_of(cluster, "web") == ["node-1", "node-1"]
    # A pod bound to the departed node by name is an orphan from the start: PodGC deletes it, and the
    # departed kubelet, no longer subscribed to anything, hears nothing of it.
    queued = len(departed.queue)
    cluster.client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray"},
                                 "spec": {"nodeName": "node-2", "containers": [{"name": "c", "image": "nginx"}]}},
                          "default")
    cluster.advance(1)
    assert "stray" not in {p["metadata"]["name"] for p in cluster.client.list(PODS, "default")["items"]}
    assert len(departed.queue) == queued
    with pytest.raises(ValueError, match='no node "node-2"'):
        cluster.stop_kubelet("node-2")
    # A machine that joins later gets a fresh name and address, never the departed one's.
    assert cluster.add_node() == "node-3"
    cluster.advance(10)
    assert nodes_of(cluster, "agent") == ["node-1", "node-3"]


def test_bad_node_names_are_refused_and_nothing_changes(cluster: Cluster) -> None:
    with pytest.raises(ValueError, match='node "node-1" is already in this cluster'):
        cluster.add_node("node-1")
    with pytest.raises(ValueError, match='invalid node name "Node_1"'):
        cluster.add_node("Node_1")
    with pytest.raises(ValueError, match="invalid node labels: metadata.labels: Invalid value: \"-x\""):
        cluster.add_node(labels={"-x": "1"})
    with pytest.raises(ValueError, match='no node "node-9"'):
        cluster.remove_node("node-9")
    assert cluster.add_node() == "node-3"  # the refused attempts used no name
    assert [k.node_name for k in cluster.kubelets] == ["node-1", "node-2", "node-3"]


def test_labels_and_affinity_choose_the_nodes(cluster: Cluster) -> None:
    cluster.apply(daemonset("ssd-agent", "      nodeSelector: {disk: ssd}\n"))
    affinity = """      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{key: zone, operator: In, values: [east, west]}]
"""
    cluster.apply(daemonset("zonal", affinity))
    cluster.advance(10)
    assert nodes_of(cluster, "ssd-agent") == [] and nodes_of(cluster, "zonal") == []
    cluster.add_node("fast-1", labels={"disk": "ssd", "zone": "north"})
    cluster.add_node("east-1", labels={"zone": "east"})
    cluster.advance(10)
    assert nodes_of(cluster, "ssd-agent") == ["fast-1"]
    assert nodes_of(cluster, "zonal") == ["east-1"]
    # The controller pins each pod with node affinity to its node's name, ANDed into nothing else:
    # the template's own affinity is replaced by the node pin (upstream's ReplaceDaemonSetPodNodeNameNodeAffinity).
    pod = next(p for p in cluster.client.list(PODS, "default")["items"] if p["metadata"]["labels"]["app"] == "zonal")
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"] == [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                             "values": ["east-1"]}]}]


def test_a_tainted_node_gets_a_daemon_pod_only_if_tolerated(cluster: Cluster) -> None:
    taint = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    cluster.apply(daemonset("agent"))
    cluster.apply(daemonset("everywhere", "      tolerations: [{key: node-role.kubernetes.io/control-plane, "
                                          "operator: Exists, effect: NoSchedule}]\n"))
    cluster.add_node("control-plane", labels={"node-role.kubernetes.io/control-plane": ""}, taints=taint)
    cluster.advance(10)
    node = cluster.client.get(NODES, "control-plane")
    assert [(t["key"], t["effect"]) for t in node["spec"]["taints"]] == [
        ("node-role.kubernetes.io/control-plane", "NoSchedule")]
    assert nodes_of(cluster, "agent") == ["node-1", "node-2"]
    assert nodes_of(cluster, "everywhere") == ["control-plane", "node-1", "node-2"]
    assert "control-plane   Ready    control-plane" in cluster.kubectl("get nodes")


UPSTREAM_DAEMON_TOLERATIONS = [  # AddOrUpdateDaemonPodTolerations, v1.32
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def test_default_daemon_tolerations_as_upstream(cluster: Cluster) -> None:
    cluster.apply(daemonset("agent"))
    cluster.apply(daemonset("cni", "      hostNetwork: true\n"))
    cluster.advance(10)
    pods = {p["metadata"]["labels"]["app"]: p for p in cluster.client.list(PODS, "default")["items"]}

    def key(t: dict[str, Any]) -> tuple[str, str]:
        return t["key"], t["effect"]

    # No tolerationSeconds on the NoExecute ones: a daemon pod is never evicted from a failing node.
    assert sorted(pods["agent"]["spec"]["tolerations"], key=key) == sorted(UPSTREAM_DAEMON_TOLERATIONS, key=key)
    network = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}
    assert sorted(pods["cni"]["spec"]["tolerations"], key=key) == sorted(
        [*UPSTREAM_DAEMON_TOLERATIONS, network], key=key)
    # A cordoned node keeps (and would get) its daemon pod: unschedulable is tolerated.
    cluster.kubectl("cordon node-2")
    cluster.advance(10)
    assert nodes_of(cluster, "agent") == ["node-1", "node-2"]


def test_a_stopped_node_keeps_its_daemon_pod_and_loses_the_deployment_pod(cluster: Cluster) -> None:
    cluster.apply(daemonset())
    cluster.apply(DEPLOYMENT)
    cluster.advance(10)
    agent = next(p["metadata"]["name"] for p in cluster.client.list(PODS, "default")["items"]
                 if p["spec"]["nodeName"] == "node-2" and p["metadata"]["labels"]["app"] == "agent")
    web = [p["metadata"]["name"] for p in cluster.client.list(PODS, "default")["items"]
           if p["spec"]["nodeName"] == "node-2" and p["metadata"]["labels"]["app"] == "web"]
    assert web
    cluster.stop_kubelet("node-2")
    cluster.advance(60)  # NotReady (Unknown) and tainted unreachable:NoExecute
    assert "node-2   NotReady" in cluster.kubectl("get nodes")

    def deleting(name: str) -> bool:
        pod = cluster.client.get(PODS, name, "default")
        return bool(pod["metadata"].get("deletionTimestamp"))

    taint = next(t for t in cluster.client.get(NODES, "node-2")["spec"]["taints"] if t["effect"] == "NoExecute")
    evict_at = parse_rfc3339(taint["timeAdded"]) + 300  # the Deployment pods' default tolerationSeconds
    cluster.advance(evict_at - 1 - cluster.clock.now())
    assert not any(deleting(name) for name in web)
    cluster.advance(2)
    assert all(deleting(name) for name in web)
    assert not deleting(agent)
    assert nodes_of(cluster, "web") == ["node-1", "node-1"]
    cluster.advance(600)
    assert not deleting(agent) and nodes_of(cluster, "agent") == ["node-1", "node-2"]
