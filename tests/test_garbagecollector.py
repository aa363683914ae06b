"""The garbage collector (minik8s.controllers.garbagecollector): cascading deletion in three modes, for every kind."""

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


# --- every kind: the collector watches every resource that can be listed, watched and deleted ---

SECRETS = resources.lookup("secrets")
SERVICES = resources.lookup("services")
CLUSTER_ROLES = resources.lookup("clusterroles")
EVENTS = resources.lookup("events")


@pytest.fixture
def bare():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def ref_to(owner: dict, **extra: Any) -> dict:
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            **extra}


def make(c: Cluster, resource: Any, name: str, namespace: str | None = "default", owners: tuple = (),
         **fields: Any) -> dict:
    meta: dict[str, Any] = {"name": name}
    if owners:
        meta["ownerReferences"] = list(owners)
    obj = {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": meta, **fields}
    created = c.client.create(resource, obj, namespace)
    c.run_until_stable()
    return created


def exists(c: Cluster, resource: Any, name: str, namespace: str | None = "default") -> bool:
    return any(o["metadata"]["name"] == name for o in c.client.list(resource, namespace)["items"])


def test_deletable_resources_are_upstreams_less_the_events():
    from minik8s.api.resources import Resource
    from minik8s.controllers.garbagecollector import deletable_resources

    v1 = Resource("example.com", "v1", "Widget", "widgets")
    v1beta1 = Resource("example.com", "v1beta1", "Widget", "widgets")
    chosen = deletable_resources([*resources.RESOURCES, v1, v1beta1])
    plurals = {(r.group, r.plural) for r in chosen}
    assert {("", "configmaps"), ("", "secrets"), ("", "namespaces"), ("rbac.authorization.k8s.io", "clusterroles"),
            ("apiextensions.k8s.io", "customresourcedefinitions")} <= plurals
    assert ("", "events") not in plurals                    # ignored, as upstream's GC ignores them
    assert ("", "bindings") not in plurals                  # create-only: nothing to list or watch
    assert [r for r in chosen if r.plural == "widgets"] == [v1]   # one version of each resource: the preferred


@pytest.mark.parametrize("policy", ["Background", "Foreground"])
def test_a_configmap_owned_by_a_configmap_goes_with_it(bare, policy):
    owner = make(bare, CM, "owner")
    make(bare, CM, "child", owners=(ref_to(owner, blockOwnerDeletion=True),))
    assert exists(bare, CM, "child")   # its owner exists: kept
    bare.client.delete(CM, "owner", "default", propagation_policy=policy)
    bare.run_until_stable()
    assert not exists(bare, CM, "child") and not exists(bare, CM, "owner")


def owner_waiting_for_a_held_child(c: Cluster) -> dict:
    """ConfigMap "owner", deleted in foreground, and its blocking dependent "child", which a finalizer holds."""
    owner = make(c, CM, "owner")
    held = {"metadata": {"name": "child", "finalizers": ["example.com/hold"],
                         "ownerReferences": [ref_to(owner, blockOwnerDeletion=True)]}}
    c.client.create(CM, {"apiVersion": "v1", "kind": "ConfigMap", **held}, "default")
    c.client.delete(CM, "owner", "default", propagation_policy="Foreground")
    c.run_until_stable()
    return owner


def test_foreground_waits_for_a_blocking_dependent_of_any_kind(bare):
    owner = owner_waiting_for_a_held_child(bare)
    child = bare.client.get(CM, "child", "default")
    assert child["metadata"]["deletionTimestamp"]   # the collector deleted it; its finalizer holds it
    owner = bare.client.get(CM, "owner", "default")
    assert owner["metadata"]["finalizers"] == ["foregroundDeletion"]   # so the owner waits
    bare.client.patch(CM, "child", {"metadata": {"finalizers": None}}, "default")
    bare.run_until_stable()
    assert not exists(bare, CM, "owner")


def test_orphan_leaves_a_configmap_without_its_owner_reference(bare):
    owner = make(bare, CM, "owner")
    make(bare, CM, "child", owners=(ref_to(owner),))
    bare.client.delete(CM, "owner", "default", propagation_policy="Orphan")
    bare.run_until_stable()
    assert not exists(bare, CM, "owner")
    assert "ownerReferences" not in bare.client.get(CM, "child", "default")["metadata"]


def test_a_secret_owned_by_a_service_goes_with_it(bare):
    svc = make(bare, SERVICES, "web", spec={"ports": [{"port": 80}]})
    make(bare, SECRETS, "web-tls", owners=(ref_to(svc),), data={})
    bare.kubectl("delete service web")
    bare.run_until_stable()
    assert not exists(bare, SECRETS, "web-tls")


@pytest.mark.parametrize("policy", ["Background", "Foreground", "Orphan"])
def test_a_cluster_scoped_dependent_of_a_cluster_scoped_owner(bare, policy):
    owner = make(bare, CLUSTER_ROLES, "owner", None)
    make(bare, CLUSTER_ROLES, "dependent", None, owners=(ref_to(owner, blockOwnerDeletion=True),))
    bare.client.delete(CLUSTER_ROLES, "owner", None, propagation_policy=policy)
    bare.run_until_stable()
    assert not exists(bare, CLUSTER_ROLES, "owner", None)
    if policy == "Orphan":
        assert "ownerReferences" not in bare.client.get(CLUSTER_ROLES, "dependent")["metadata"]
    else:
        assert not exists(bare, CLUSTER_ROLES, "dependent", None)


def test_a_namespaced_dependent_of_a_cluster_scoped_owner(bare):
    owner = make(bare, CLUSTER_ROLES, "owner", None)
    make(bare, CM, "child", owners=(ref_to(owner),))
    bare.client.delete(CLUSTER_ROLES, "owner", None)
    bare.run_until_stable()
    assert not exists(bare, CM, "child")


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


def test_custom_objects_as_owners_and_as_dependents(bare):
    bare.apply(CRD)
    bare.run_until_stable()
    widgets = bare.api.registry.get("example.com", "v1", "widgets")
    config = make(bare, CM, "config")
    widget = make(bare, widgets, "w", owners=(ref_to(config),))   # a custom dependent, watched since its CRD came
    make(bare, SECRETS, "w-secret", owners=(ref_to(widget),), data={})
    assert exists(bare, widgets, "w") and exists(bare, SECRETS, "w-secret")
    bare.client.delete(CM, "config", "default", propagation_policy="Foreground")
    bare.run_until_stable()
    assert not exists(bare, widgets, "w") and not exists(bare, SECRETS, "w-secret")
    assert not exists(bare, CM, "config")


def warnings(c: Cluster, reason: str) -> list[dict]:
    return [e for e in c.client.list(EVENTS, "default")["items"] if e["reason"] == reason]


def test_an_owner_in_another_namespace_counts_as_absent_and_is_reported(bare):
    bare.kubectl("create namespace other")
    owner = make(bare, CM, "owner", "other")
    make(bare, CM, "child", owners=(ref_to(owner),))
    assert not exists(bare, CM, "child")   # looked for in "default", not found: collected
    [event] = warnings(bare, "OwnerRefInvalidNamespace")
    uid = owner["metadata"]["uid"]
    assert event["type"] == "Warning" and event["involvedObject"]["name"] == "child"
    assert event["message"] == f'ownerRef [v1/ConfigMap, namespace: default, name: owner, uid: {uid}] ' \
                               f'does not exist in namespace "default"'
    assert event["source"]["component"] == "garbage-collector-controller"


def test_a_cluster_scoped_dependent_of_a_namespaced_owner_is_reported_and_never_collected(bare):
    owner = make(bare, CM, "owner")
    make(bare, CLUSTER_ROLES, "dependent", None, owners=(ref_to(owner),))
    [event] = warnings(bare, "OwnerRefInvalidNamespace")   # recorded in "default", as upstream does
    assert event["involvedObject"]["kind"] == "ClusterRole" and "namespace" not in event["involvedObject"]
    bare.client.delete(CM, "owner", "default")
    bare.run_until_stable()
    assert exists(bare, CLUSTER_ROLES, "dependent", None)   # an unresolvable reference: left alone


@pytest.mark.parametrize("owner_kind,child_kind", [(CM, SECRETS), (SECRETS, CM)])
def test_the_warning_comes_whichever_the_collector_observes_first(bare, owner_kind, child_kind):
    # Both written before the collector runs: one of the two informers is read first, and either way the
    # collector warns once (owner first: when it adds the dependent; dependent first: when the owner shows up).
    bare.kubectl("create namespace other")
    owner = bare.client.create(owner_kind, {"apiVersion": "v1", "kind": owner_kind.kind,
                                            "metadata": {"name": "owner"}}, "other")
    bare.client.create(child_kind, {"apiVersion": "v1", "kind": child_kind.kind,
                                    "metadata": {"name": "child", "ownerReferences": [ref_to(owner)]}}, "default")
    bare.run_until_stable()
    assert len(warnings(bare, "OwnerRefInvalidNamespace")) == 1
    assert not exists(bare, child_kind, "child")


def test_over_http_a_configmap_set_as_owner_takes_its_dependent_along(tmp_path):
    """What kr8s's ``set_owner`` then ``delete`` does (tests/test_compat_kr8s.py), against a simulated server."""
    import json

    from conftest import start_server, wait_for

    server = start_server(tmp_path, "--nodes", "0", "--runtime", "simulated")
    try:
        path = "/api/v1/namespaces/default/configmaps"
        created = {}
        for name in ("cm-owner", "cm-child"):
            code, _, body = server.request("POST", path, json.dumps({"metadata": {"name": name}}).encode(),
                                           {"Content-Type": "application/json"})
            assert code == 201, body
            created[name] = json.loads(body)
        owner = created["cm-owner"]
        patch = {"metadata": {"ownerReferences": [{
            "controller": True, "blockOwnerDeletion": True, "apiVersion": "v1", "kind": "ConfigMap",
            "name": "cm-owner", "uid": owner["metadata"]["uid"]}]}}
        code, _, body = server.request("PATCH", f"{path}/cm-child", json.dumps(patch).encode(),
                                       {"Content-Type": "application/merge-patch+json"})
        assert code == 200, body
        code, _, body = server.request("DELETE", f"{path}/cm-owner", b"{}", {"Content-Type": "application/json"})
        assert code == 200, body   # kr8s sends empty DeleteOptions: the default policy, Background
        wait_for(lambda: server.request("GET", f"{path}/cm-child")[0] == 404, 5, "the dependent to be collected")
    finally:
        server.stop()


def test_a_custom_resource_deleted_and_defined_again_is_watched_again(bare):
    bare.apply(CRD)
    bare.run_until_stable()
    bare.kubectl("delete crd widgets.example.com")
    bare.run_until_stable()
    bare.apply(CRD)
    bare.run_until_stable()
    widgets = bare.api.registry.get("example.com", "v1", "widgets")
    config = make(bare, CM, "config")
    make(bare, widgets, "w", owners=(ref_to(config),))
    bare.client.delete(CM, "config", "default")
    bare.run_until_stable()
    assert not exists(bare, widgets, "w")


def test_foreground_owner_is_freed_when_its_dependent_stops_blocking(bare):
    owner = owner_waiting_for_a_held_child(bare)
    assert exists(bare, CM, "owner")
    bare.client.patch(CM, "child", {"metadata": {"ownerReferences": [ref_to(owner, blockOwnerDeletion=False)]}},
                      "default")
    bare.run_until_stable()
    assert not exists(bare, CM, "owner") and exists(bare, CM, "child")   # the child's own finalizer still holds it
