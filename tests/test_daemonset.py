"""The DaemonSet controller: one pod per eligible node, rolling updates node by node."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s.api import resources
from minik8s.cluster import Cluster
from minik8s.controllers import daemonset as ds_mod

PODS = resources.by_plural("", "v1", "pods")
NODES = resources.by_plural("", "v1", "nodes")
DS = resources.by_plural("apps", "v1", "daemonsets")
EVENTS = resources.by_plural("", "v1", "events")


def manifest(image: str = "nginx:1.25", extra: str = "", strategy: str = "") -> str:
    return f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
{strategy}  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
{extra}      containers: [{{name: a, image: "{image}"}}]
"""


@pytest.fixture
def cluster() -> Any:
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def by_node(c: Cluster) -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = {}
    for pod in c.client.list(PODS, "default")["items"]:
        result.setdefault(pod["spec"].get("nodeName", ""), []).append(pod)
    return result


def test_one_pod_per_node_pinned_and_tolerant(cluster: Cluster) -> None:
    cluster.apply(manifest())
    cluster.advance(10)
    placed = by_node(cluster)
    assert sorted(placed) == ["node-1", "node-2", "node-3"] and all(len(p) == 1 for p in placed.values())
    pod = placed["node-2"][0]
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms == {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                                              "values": ["node-2"]}]}]}
    keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert ("node.kubernetes.io/unreachable", "NoExecute") in keys
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in keys
    assert pod["metadata"]["labels"]["pod-template-generation"] == "1"
    status = cluster.client.get(DS, "agent", "default")["status"]
    assert (status["desiredNumberScheduled"], status["currentNumberScheduled"], status["numberReady"],
            status["numberAvailable"], status["updatedNumberScheduled"], status["numberMisscheduled"]) == (
        3, 3, 3, 3, 3, 0)
    events = [e["message"] for e in cluster.client.list(EVENTS, "default")["items"]
              if e["involvedObject"]["kind"] == "DaemonSet"]
    assert sorted(events) == sorted(f"Created pod: {p[0]['metadata']['name']}" for p in placed.values())


def test_node_selector_and_taints(cluster: Cluster) -> None:
    cluster.client.patch(NODES, "node-1", {"metadata": {"labels": {"disk": "ssd"}}})
    cluster.client.patch(NODES, "node-2", {"metadata": {"labels": {"disk": "ssd"}},
                                           "spec": {"taints": [{"key": "dedicated", "value": "db",
                                                                "effect": "NoSchedule"}]}})
    cluster.apply(manifest(extra="      nodeSelector: {disk: ssd}\n"))
    cluster.advance(10)
    assert sorted(by_node(cluster)) == ["node-1"]
    assert cluster.client.get(DS, "agent", "default")["status"]["desiredNumberScheduled"] == 1
    # A toleration lets it onto the tainted node too.
    cluster.apply(manifest(extra="      nodeSelector: {disk: ssd}\n"
                                 "      tolerations: [{key: dedicated, operator: Exists}]\n"))
    cluster.advance(30)
    assert sorted(by_node(cluster)) == ["node-1", "node-2"]


def test_node_losing_label_loses_its_pod_and_new_node_gets_one(cluster: Cluster) -> None:
    for node in ("node-1", "node-2", "node-3"):
        cluster.client.patch(NODES, node, {"metadata": {"labels": {"role": "edge"}}})
    cluster.apply(manifest(extra="      nodeSelector: {role: edge}\n"))
    cluster.advance(10)
    assert len(by_node(cluster)) == 3
    cluster.client.patch(NODES, "node-3", {"metadata": {"labels": {"role": None}}})
    cluster.advance(40)
    assert sorted(by_node(cluster)) == ["node-1", "node-2"]
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-9", "labels": {"role": "edge"}},
            "status": {"capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}
    cluster.client.create(NODES, node)
    cluster.advance(5)
    pods = [p for p in cluster.client.list(PODS, "default")["items"] if ds_mod.target_node(p) == "node-9"]
    assert len(pods) == 1


def test_rolling_update_replaces_node_by_node(cluster: Cluster) -> None:
    cluster.apply(manifest())
    cluster.advance(10)
    cluster.apply(manifest(image="nginx:1.26"))
    seen_unavailable = []
    for _ in range(20):
        cluster.advance(0.5)
        status = cluster.client.get(DS, "agent", "default")["status"]
        seen_unavailable.append(status["desiredNumberScheduled"] - status["numberAvailable"])
    assert max(seen_unavailable) <= 1  # maxUnavailable: 1
    placed = by_node(cluster)
    assert all(len(p) == 1 and p[0]["spec"]["containers"][0]["image"] == "nginx:1.26" for p in placed.values())
    assert cluster.client.get(DS, "agent", "default")["status"]["updatedNumberScheduled"] == 3
    assert len(cluster.kubectl("get controllerrevisions").splitlines()) == 3


def test_on_delete_waits_for_deletion(cluster: Cluster) -> None:
    cluster.apply(manifest(strategy="  updateStrategy: {type: OnDelete}\n"))
    cluster.advance(10)
    cluster.apply(manifest(image="nginx:1.26", strategy="  updateStrategy: {type: OnDelete}\n"))
    cluster.advance(30)
    images = {p[0]["spec"]["containers"][0]["image"] for p in by_node(cluster).values()}
    assert images == {"nginx:1.25"}
    victim = by_node(cluster)["node-1"][0]["metadata"]["name"]
    cluster.kubectl(f"delete pod {victim}")
    cluster.advance(30)
    assert by_node(cluster)["node-1"][0]["spec"]["containers"][0]["image"] == "nginx:1.26"


# --- pure decisions ---------------------------------------------------------------------------


def _node(name: str, taints: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {}}, "spec": {"taints": taints or []}}


def _ds(**rolling: Any) -> dict[str, Any]:
    return {"metadata": {"name": "agent", "generation": 2},
            "spec": {"template": {"spec": {"containers": [{"name": "a"}]}},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": rolling}}}


def _pod(name: str, node: str, hash_: str, ready: bool = True) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"controller-revision-hash": hash_}, "creationTimestamp": name},
            "spec": {"nodeName": node},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def test_taints_and_automatic_tolerations() -> None:
    ds = _ds()
    assert ds_mod.node_should_run(_node("n", [{"key": "node.kubernetes.io/unschedulable",
                                               "effect": "NoSchedule"}]), ds) == (True, True)
    assert ds_mod.node_should_run(_node("n", [{"key": "x", "effect": "NoSchedule"}]), ds) == (False, True)
    assert ds_mod.node_should_run(_node("n", [{"key": "x", "effect": "NoExecute"}]), ds) == (False, False)


def test_rolling_update_respects_max_unavailable_and_surge() -> None:
    nodes = [_node(f"n{i}") for i in range(4)]
    old = {f"n{i}": [_pod(f"p{i}", f"n{i}", "old")] for i in range(4)}
    create, delete = ds_mod.rolling_update(_ds(maxUnavailable=2, maxSurge=0), nodes, old, "new", 0)
    assert create == [] and [p["metadata"]["name"] for p in delete] == ["p0", "p1"]
    create, delete = ds_mod.rolling_update(_ds(maxUnavailable=0, maxSurge=1), nodes, old, "new", 0)
    assert create == ["n0"] and delete == []
    surged = {**old, "n0": [old["n0"][0], _pod("q0", "n0", "new")]}
    create, delete = ds_mod.rolling_update(_ds(maxUnavailable=0, maxSurge=1), nodes, surged, "new", 0)
    # n0 is done (its old pod goes), so the surge moves on to n1 in the same pass, as upstream.
    assert [p["metadata"]["name"] for p in delete] == ["p0"] and create == ["n1"]
