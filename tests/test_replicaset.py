"""The ReplicaSet controller (minik8s.controllers.replicaset) and pod control helpers (podcontrol)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.clock import VIRTUAL_EPOCH, rfc3339
from minik8s.cluster import Cluster
from minik8s.controllers.podcontrol import Expectations, controller_of, is_pod_active, pod_from_template
from minik8s.controllers.replicaset import (ReplicaSetController, calculate_status, next_available_in,
                                            pods_to_delete, replicas_diff)

PODS = resources.lookup("pods")
RS = resources.lookup("rs")

RS_YAML = """
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
"""

NOW = VIRTUAL_EPOCH + 1000


def pod(name: str, *, node: str = "", phase: str = "Pending", ready_since: float | None = None,
        created: float = VIRTUAL_EPOCH, restarts: int = 0) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "containerStatuses": [{"restartCount": restarts}]}
    if ready_since is not None:
        status["conditions"] = [{"type": "Ready", "status": "True", "lastTransitionTime": rfc3339(ready_since)}]
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": rfc3339(created), "labels": {"app": "web"}},
            "spec": {"nodeName": node} if node else {}, "status": status}


# --- pure functions --------------------------------------------------------------------------


def test_victims_are_ranked_as_upstream():
    running_ready = pod("ready", node="n1", phase="Running", ready_since=NOW - 500)
    running = pod("running", node="n1", phase="Running")
    pending = pod("pending", node="n1")
    unassigned = pod("unassigned")
    pods = [running_ready, running, pending, unassigned]
    assert [p["metadata"]["name"] for p in pods_to_delete(pods, pods, 3, NOW)] == \
        ["unassigned", "pending", "running"]
    assert len(pods_to_delete(pods, pods, 4, NOW)) == 4  # all of them: no ranking needed
    assert [p["metadata"]["name"] for p in pods_to_delete(pods, pods, 2, NOW)] == ["unassigned", "pending"]


def test_newer_and_restarting_pods_go_first_among_equals():
    old = pod("old", node="n1", phase="Running", ready_since=NOW - 900, created=NOW - 1000)
    new = pod("new", node="n2", phase="Running", ready_since=NOW - 5, created=NOW - 10)
    assert pods_to_delete([old, new], [old, new], 1, NOW)[0]["metadata"]["name"] == "new"
    a = pod("a", node="n1", phase="Running", ready_since=NOW - 5, created=NOW - 10)
    b = pod("b", node="n2", phase="Running", ready_since=NOW - 5, created=NOW - 10, restarts=4)
    assert pods_to_delete([a, b], [a, b], 1, NOW)[0]["metadata"]["name"] == "b"


def test_doubled_up_nodes_lose_pods_first():
    a = pod("a", node="busy", phase="Running", ready_since=NOW - 5, created=NOW - 10)
    b = pod("b", node="busy", phase="Running", ready_since=NOW - 5, created=NOW - 10)
    c = pod("c", node="quiet", phase="Running", ready_since=NOW - 5, created=NOW - 10)
    assert pods_to_delete([c, a, b], [a, b, c], 1, NOW)[0]["spec"]["nodeName"] == "busy"


def test_pod_deletion_cost_is_honoured():
    a = pod("a", node="n1", phase="Running", ready_since=NOW - 5)
    b = copy.deepcopy(a)
    b["metadata"].update(name="b", uid="b", annotations={"controller.kubernetes.io/pod-deletion-cost": "-10"})
    assert pods_to_delete([a, b], [a, b], 1, NOW)[0]["metadata"]["name"] == "b"


def test_replicas_diff_is_capped_by_burst_replicas():
    rs = {"spec": {"replicas": 2000}}
    assert replicas_diff(rs, []) == 500
    assert replicas_diff({"spec": {"replicas": 0}}, [pod(str(i)) for i in range(3)]) == -3


def test_status_counts_available_only_after_min_ready_seconds():
    rs = {"metadata": {"generation": 1}, "spec": {"replicas": 2, "minReadySeconds": 10,
                                                    "template": {"metadata": {"labels": {"app": "web"}}}}}
    pods = [pod("a", phase="Running", ready_since=NOW - 20), pod("b", phase="Running", ready_since=NOW - 3)]
    status = calculate_status(rs, pods, NOW, None)
    assert (status["replicas"], status["fullyLabeledReplicas"], status["readyReplicas"],
            status["availableReplicas"]) == (2, 2, 2, 1)
    assert next_available_in(rs, pods, NOW) == pytest.approx(7)


def test_replica_failure_condition_is_set_and_cleared():
    rs = {"metadata": {"generation": 1}, "spec": {"replicas": 2, "template": {}}}
    failed = calculate_status(rs, [], NOW, StatusError(403, "Forbidden", 'pods "web-x" is forbidden: quota'))
    [cond] = failed["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("ReplicaFailure", "True", "FailedCreate")
    assert cond["message"] == 'pods "web-x" is forbidden: quota'
    assert "conditions" not in calculate_status({**rs, "status": failed}, [], NOW, None)


def test_pod_from_template_is_controlled_by_its_owner():
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "uid": "u1"}}
    p = pod_from_template({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}, owner, "default")
    assert p["metadata"]["generateName"] == "web-"
    assert p["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                                 "uid": "u1", "controller": True, "blockOwnerDeletion": True}]


def test_expectations_wait_for_what_was_asked():
    class Clock:
        t = 0.0

        def now(self) -> float:
            return self.t

    clock = Clock()
    e = Expectations(clock)
    assert e.satisfied("k")
    e.expect_creations("k", 2)
    e.creation_observed("k")
    assert not e.satisfied("k")
    e.creation_observed("k")
    assert e.satisfied("k")
    e.expect_deletions("k", ["ns/a"])
    e.deletion_observed("k", "ns/a")
    e.deletion_observed("k", "ns/a")  # a duplicate event does not count twice
    assert e.satisfied("k")
    e.expect_creations("k", 1)
    clock.t = 301  # a lost watch event must not block the controller forever
    assert e.satisfied("k")


# --- whole cluster -----------------------------------------------------------------------------


@pytest.fixture
def cluster():
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def pods_of(c: Cluster) -> list[dict[str, Any]]:
    return [p for p in c.client.list(PODS, "default")["items"] if is_pod_active(p)]


def test_replica_set_creates_owned_pods_and_reports_status(cluster):
    cluster.apply(RS_YAML)
    cluster.advance(30)
    rs = cluster.client.get(RS, "web", "default")
    pods = pods_of(cluster)
    assert len(pods) == 3
    for p in pods:
        assert p["metadata"]["name"].startswith("web-") and len(p["metadata"]["name"]) == len("web-") + 5
        ref = controller_of(p)
        assert ref == {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": rs["metadata"]["uid"],
                       "controller": True, "blockOwnerDeletion": True}
    status = rs["status"]
    assert (status["replicas"], status["fullyLabeledReplicas"], status["readyReplicas"],
            status["availableReplicas"], status["observedGeneration"]) == (3, 3, 3, 3, 1)
    events = cluster.kubectl("get events")
    for p in pods:
        assert f"Created pod: {p['metadata']['name']}" in events
    assert "SuccessfulCreate" in events


def test_scale_down_deletes_extra_pods_with_an_event(cluster):
    cluster.apply(RS_YAML)
    cluster.advance(30)
    assert cluster.kubectl("scale rs web --replicas=1") == "replicaset.apps/web scaled\n"
    cluster.advance(60)
    assert len(pods_of(cluster)) == 1
    events = cluster.kubectl("get events")
    assert events.count("Deleted pod: web-") == 2 and "SuccessfulDelete" in events


def test_orphans_are_adopted_and_relabelled_pods_released(cluster):
    cluster.apply("""
apiVersion: v1
kind: Pod
metadata: {name: stray, labels: {app: web}}
spec: {containers: [{name: web, image: nginx}]}
""")
    cluster.apply(RS_YAML)
    cluster.advance(30)
    stray = cluster.client.get(PODS, "stray", "default")
    assert controller_of(stray)["name"] == "web"
    assert len(pods_of(cluster)) == 3  # the adopted pod counts: only two were created
    cluster.kubectl("label pod stray app=debug --overwrite")
    cluster.advance(30)
    assert controller_of(cluster.client.get(PODS, "stray", "default")) is None
    assert len([p for p in pods_of(cluster) if p["metadata"]["labels"]["app"] == "web"]) == 3


def test_a_stale_cache_does_not_create_duplicates():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        rsc = next(comp for comp in c.components if isinstance(comp, ReplicaSetController))
        c.client.create(RS, __import__("yaml").safe_load(RS_YAML), "default")
        c.informers.pump()
        rsc.reconcile(("default", "web"))
        try:
            rsc.reconcile(("default", "web"))  # the informer has not seen the three new pods yet
        except StatusError as err:
            assert err.code == 409  # its status write is refused too: the cached ReplicaSet is stale
        assert len(c.client.list(PODS, "default")["items"]) == 3
        c.run_until_stable()
        assert len(c.client.list(PODS, "default")["items"]) == 3


def test_min_ready_seconds_delays_availability(cluster):
    cluster.apply(RS_YAML.replace("replicas: 3", "replicas: 2\n  minReadySeconds: 20"))
    cluster.advance(10)
    rs = cluster.client.get(RS, "web", "default")
    assert rs["status"]["readyReplicas"] == 2 and "availableReplicas" not in rs["status"]  # 0 is omitempty
    cluster.advance(30)
    assert cluster.client.get(RS, "web", "default")["status"]["availableReplicas"] == 2
