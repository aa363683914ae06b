"""The garbage collector (minik8s.controllers.garbagecollector): cascading deletion in three modes."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s.api import resources
from minik8s.cluster import Cluster
from minik8s.controllers.garbagecollector import classify_owners

PODS = resources.lookup("pods")
RS = resources.lookup("rs")
DEPLOY = resources.lookup("deploy")
CM = resources.lookup("cm")

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: nginx}
spec:
  replicas: 2
  selector: {matchLabels: {app: nginx}}
  template:
    metadata: {labels: {app: nginx}}
    spec: {containers: [{name: nginx, image: nginx}]}
"""


def names(c: Cluster, resource: Any) -> list[str]:
    return sorted(o["metadata"]["name"] for o in c.client.list(resource, "default")["items"])


@pytest.fixture
def cluster():
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(DEPLOYMENT)
        c.advance(30)
        assert len(names(c, PODS)) == 2
        yield c


def test_background_deletes_the_owner_at_once_then_its_dependents(cluster):
    cluster.client.delete(DEPLOY, "nginx", "default", propagation_policy="Background")
    assert names(cluster, DEPLOY) == []  # gone before anything else happened
    cluster.advance(60)  # pods are deleted gracefully by their kubelet
    assert names(cluster, RS) == [] and names(cluster, PODS) == []


def test_foreground_deletes_dependents_before_the_owner(cluster):
    cluster.client.delete(DEPLOY, "nginx", "default", propagation_policy="Foreground")
    d = cluster.client.get(DEPLOY, "nginx", "default")
    assert d["metadata"]["deletionTimestamp"] and "foregroundDeletion" in d["metadata"]["finalizers"]
    order: list[str] = []

    def snapshot() -> None:
        for resource, label in ((PODS, "pods"), (RS, "rs"), (DEPLOY, "deploy")):
            if not names(cluster, resource) and label not in order:
                order.append(label)

    for _ in range(120):
        cluster.advance(1)
        snapshot()
    assert order == ["pods", "rs", "deploy"]


def test_orphan_keeps_dependents_and_removes_their_owner_references(cluster):
    [rs_name] = names(cluster, RS)
    cluster.kubectl("delete deploy nginx --cascade=orphan")
    cluster.advance(30)
    assert names(cluster, DEPLOY) == []
    rs = cluster.client.get(RS, rs_name, "default")
    assert "ownerReferences" not in rs["metadata"]
    assert len(names(cluster, PODS)) == 2  # still owned by the ReplicaSet, which lives on
    assert all(p["metadata"]["ownerReferences"][0]["name"] == rs_name
               for p in cluster.client.list(PODS, "default")["items"])


def test_an_object_with_a_remaining_owner_is_kept_and_the_dead_reference_dropped(cluster):
    rs = cluster.client.list(RS, "default")["items"][0]
    d = cluster.client.get(DEPLOY, "nginx", "default")
    cm = cluster.client.create(CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}},
                               "default")
    # A pod owned by both the ReplicaSet and a ConfigMap (not a controller): deleting one owner keeps it.
    pod = cluster.client.create(PODS, {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "two-owners", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
             "uid": rs["metadata"]["uid"]},
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nginx", "uid": d["metadata"]["uid"]}]},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, "default")
    assert pod and cm
    cluster.kubectl("delete deploy nginx --cascade=orphan")
    cluster.advance(30)
    refs = cluster.client.get(PODS, "two-owners", "default")["metadata"]["ownerReferences"]
    assert [r["kind"] for r in refs] == ["ReplicaSet"]


def test_classify_owners():
    live = {"a": {"metadata": {"uid": "a"}},
            "w": {"metadata": {"uid": "w", "deletionTimestamp": "x", "finalizers": ["foregroundDeletion"]}},
            "r": {"metadata": {"uid": "other"}}}  # deleted and recreated under the same name
    obj = {"metadata": {"ownerReferences": [{"name": n, "uid": u} for n, u in
                                            (("a", "a"), ("w", "w"), ("r", "r"), ("gone", "g"))]}}
    solid, dangling, waiting = classify_owners(obj, lambda ref: live.get(ref["name"]))
    assert [r["name"] for r in solid] == ["a"]
    assert [r["name"] for r in dangling] == ["r", "gone"]
    assert [r["name"] for r in waiting] == ["w"]
