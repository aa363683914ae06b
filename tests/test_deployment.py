"""The Deployment controller and its rollout math (minik8s.controllers.deployment, .rollout)."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from minik8s.api import resources
from minik8s.cluster import Cluster
from minik8s.controllers import rollout as ro
from minik8s.controllers.podcontrol import is_pod_active, is_pod_ready

PODS = resources.lookup("pods")
RS = resources.lookup("rs")
DEPLOY = resources.lookup("deploy")


def deployment_yaml(replicas: int = 2, image: str = "nginx", surge: Any = "25%", unavailable: Any = "25%",
                    extra: str = "") -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: nginx}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: nginx}}}}
  strategy: {{type: RollingUpdate, rollingUpdate: {{maxSurge: {surge!r}, maxUnavailable: {unavailable!r}}}}}
{extra}
  template:
    metadata: {{labels: {{app: nginx}}}}
    spec: {{containers: [{{name: nginx, image: {image}}}]}}
"""


def drive(c: Cluster, check: Callable[[], None], seconds: float = 600) -> None:
    """Run the cluster step by step for ``seconds`` of virtual time, calling ``check`` after every step."""
    end = c.clock.now() + seconds
    while True:
        while c.step():
            check()
        due = c.next_due()
        if due is None or due > end:
            break
        c.clock.set(due)  # type: ignore[attr-defined]
        check()


def active_pods(c: Cluster) -> list[dict[str, Any]]:
    return [p for p in c.client.list(PODS, "default")["items"] if is_pod_active(p)]


def replica_sets(c: Cluster) -> list[dict[str, Any]]:
    return sorted(c.client.list(RS, "default")["items"], key=ro.revision)


def rolled_out(c: Cluster) -> bool:
    d = c.client.get(DEPLOY, "nginx", "default")
    return ro.deployment_complete(d, d.get("status") or {})


# --- pure math --------------------------------------------------------------------------


@pytest.mark.parametrize("replicas,surge,unavailable,expected", [
    (2, "25%", "25%", (1, 0)),
    (4, "25%", "25%", (1, 1)),
    (10, "25%", "25%", (3, 2)),
    (1, "25%", "25%", (1, 0)),
    (3, 0, "0%", (0, 1)),          # both zero: one may be unavailable, else nothing could move
    (10, "0%", "0%", (0, 1)),
    (5, 2, 1, (2, 1)),
    (10, "50%", "33%", (5, 3)),
])
def test_max_surge_rounds_up_and_max_unavailable_rounds_down(replicas, surge, unavailable, expected):
    assert ro.resolve_fenceposts(surge, unavailable, replicas) == expected


def test_max_unavailable_never_exceeds_replicas_and_is_zero_for_recreate():
    d = {"spec": {"replicas": 2, "strategy": {"type": "RollingUpdate",
                                              "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 5}}}}
    assert ro.max_unavailable(d) == 2
    d["spec"]["strategy"] = {"type": "Recreate"}
    assert ro.max_unavailable(d) == 0 and ro.max_surge(d) == 0


def _rs(name: str, replicas: int, available: int = 0, created: str = "2025-01-01T00:00:00Z",
        max_replicas: int | None = None) -> dict[str, Any]:
    ann = {ro.MAX_REPLICAS: str(max_replicas)} if max_replicas is not None else {}
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": created, "annotations": ann},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas, "availableReplicas": available}}


def _d(replicas: int, surge: Any, unavailable: Any) -> dict[str, Any]:
    return {"metadata": {"name": "d", "generation": 1},
            "spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": surge, "maxUnavailable": unavailable}}}}


def test_new_rs_grows_only_up_to_replicas_plus_surge():
    d = _d(10, 3, 2)
    old, new = _rs("old", 10, 10), _rs("new", 0)
    assert ro.new_rs_new_replicas(d, [old, new], new) == 3
    old, new = _rs("old", 8, 8), _rs("new", 3)
    assert ro.new_rs_new_replicas(d, [old, new], new) == 5
    assert ro.new_rs_new_replicas(d, [_rs("old", 10, 10), _rs("new", 3)], _rs("new", 3)) == 3


def test_old_rs_scale_down_respects_min_available_and_new_unavailable():
    d = _d(10, 3, 2)
    # The example from upstream's reconcileOldReplicaSets: the new pods crash-loop and never become available.
    old, new = _rs("old", 8, 8), _rs("new", 5, 0)
    assert ro.old_rs_scale_down(d, [old, new], [old], new) == {}
    # New pods available: old may go down until 8 remain available.
    old, new = _rs("old", 10, 10), _rs("new", 3, 3)
    assert ro.old_rs_scale_down(d, [old, new], [old], new) == {"old": 5}
    # Unhealthy old replicas are removed first, whatever the availability.
    old, new = _rs("old", 10, 6), _rs("new", 3, 0)
    assert ro.old_rs_scale_down(d, [old, new], [old], new) == {"old": 8}


def test_proportional_scaling_spreads_new_replicas_biggest_first():
    d = _d(20, 3, 2)
    new = _rs("new", 6, created="2025-01-01T00:01:00Z", max_replicas=13)
    old = _rs("old", 7, max_replicas=13)
    sizes, operation = ro.proportional_sizes(d, new, [old])
    assert operation == "up"
    assert sizes == {"old": 12, "new": 11}
    assert sum(sizes.values()) == 20 + 3
    d = _d(5, 3, 2)  # scaled down: the sum shrinks to 5 + 3
    sizes, operation = ro.proportional_sizes(d, new, [old])
    assert operation == "down" and sum(sizes.values()) == 8


def test_pod_template_hash_looks_like_upstreams_and_depends_on_collision_count():
    template = {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    h = ro.pod_template_hash(template)
    assert h == ro.pod_template_hash(dict(template))
    assert 1 <= len(h) <= 10 and set(h) <= set("bcdfg456789")  # the digits 0-9 through the safe alphabet
    assert ro.pod_template_hash(template, 1) != h
    other = {**template, "spec": {"containers": [{"name": "c", "image": "nginx:alpine"}]}}
    assert ro.pod_template_hash(other) != h
    assert ro.safe_encode("0123456789") == "456789bcdf"


def test_equal_ignore_hash():
    a = {"metadata": {"labels": {"app": "x", ro.HASH_LABEL: "abc"}}, "spec": {"x": 1}}
    b = {"metadata": {"labels": {"app": "x"}}, "spec": {"x": 1}}
    assert ro.equal_ignore_hash(a, b)
    assert not ro.equal_ignore_hash(a, {"metadata": {"labels": {"app": "y"}}, "spec": {"x": 1}})


def test_set_condition_keeps_transition_time_when_status_is_unchanged():
    status: dict[str, Any] = {}
    ro.set_condition(status, ro.new_condition("Progressing", "True", ro.NEW_RS_REASON, "a", "t1"))
    ro.set_condition(status, ro.new_condition("Progressing", "True", ro.RS_UPDATED_REASON, "b", "t2"))
    cond = ro.get_condition(status, "Progressing")
    assert cond is not None and cond["reason"] == ro.RS_UPDATED_REASON
    assert cond["lastTransitionTime"] == "t1" and cond["lastUpdateTime"] == "t2"


# --- whole cluster ----------------------------------------------------------------------------


@pytest.fixture
def cluster():
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def test_deployment_creates_named_replica_set_with_hash_label_and_revision(cluster):
    cluster.apply(deployment_yaml())
    cluster.advance(60)
    d = cluster.client.get(DEPLOY, "nginx", "default")
    [rs] = replica_sets(cluster)
    h = rs["metadata"]["labels"][ro.HASH_LABEL]
    assert rs["metadata"]["name"] == f"nginx-{h}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "nginx", ro.HASH_LABEL: h}
    assert rs["spec"]["template"]["metadata"]["labels"][ro.HASH_LABEL] == h
    assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    ann = rs["metadata"]["annotations"]
    assert ann[ro.REVISION] == "1" and ann[ro.DESIRED_REPLICAS] == "2" and ann[ro.MAX_REPLICAS] == "3"
    assert d["metadata"]["annotations"][ro.REVISION] == "1"
    assert all(p["metadata"]["labels"][ro.HASH_LABEL] == h for p in active_pods(cluster))
    status = d["status"]
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"],
            status["availableReplicas"], status.get("unavailableReplicas", 0)) == (2, 2, 2, 2, 0)
    available = ro.get_condition(status, "Available")
    progressing = ro.get_condition(status, "Progressing")
    assert available["reason"] == "MinimumReplicasAvailable"
    assert available["message"] == "Deployment has minimum availability."
    assert progressing["reason"] == "NewReplicaSetAvailable"
    assert progressing["message"] == f'ReplicaSet "nginx-{h}" has successfully progressed.'
    events = cluster.kubectl("get events")
    assert f"Scaled up replica set nginx-{h} to 2" in events


def test_rolling_update_of_two_replicas_never_exceeds_three_pods_or_drops_below_two_available(cluster):
    cluster.apply(deployment_yaml(replicas=2))
    cluster.advance(60)
    assert rolled_out(cluster)
    seen: list[tuple[int, int]] = []

    def check() -> None:
        pods = active_pods(cluster)
        seen.append((len(pods), sum(1 for p in pods if is_pod_ready(p))))
        assert len(pods) <= 3
        assert sum(1 for p in pods if is_pod_ready(p)) >= 2

    cluster.kubectl("set image deploy/nginx nginx=nginx:alpine")
    drive(cluster, check, 300)
    assert rolled_out(cluster)
    assert (3, 2) in seen or (3, 3) in seen  # it did surge
    images = {p["spec"]["containers"][0]["image"] for p in active_pods(cluster)}
    assert images == {"nginx:alpine"}
    old, new = replica_sets(cluster)
    assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 2
    assert new["metadata"]["annotations"][ro.REVISION] == "2"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(replicas=st.integers(1, 7), surge=st.one_of(st.integers(0, 3), st.sampled_from(["0%", "25%", "50%", "100%"])),
       unavailable=st.one_of(st.integers(0, 3), st.sampled_from(["0%", "25%", "50%"])))
def test_rolling_update_respects_surge_and_unavailability_and_finishes(replicas, surge, unavailable):
    if surge in (0, "0%") and unavailable in (0, "0%"):
        unavailable = 1  # validation rejects both being zero
    surge_n, unavailable_n = ro.resolve_fenceposts(surge, unavailable, replicas)
    unavailable_n = min(unavailable_n, replicas)
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=1) as c:
        c.apply(deployment_yaml(replicas, surge=surge, unavailable=unavailable))
        c.advance(120)
        assert rolled_out(c)

        def check() -> None:
            pods = active_pods(c)
            assert len(pods) <= replicas + surge_n
            assert sum(1 for p in pods if is_pod_ready(p)) >= replicas - unavailable_n

        c.kubectl("set image deploy/nginx nginx=nginx:alpine")
        drive(c, check, 900)
        assert rolled_out(c)
        assert {p["spec"]["containers"][0]["image"] for p in active_pods(c)} == {"nginx:alpine"}


def test_deleting_a_pod_brings_a_new_one_with_a_new_name(cluster):
    cluster.apply(deployment_yaml(replicas=2))
    cluster.advance(60)
    before = {p["metadata"]["name"] for p in active_pods(cluster)}
    victim = sorted(before)[0]
    cluster.kubectl(f"delete pod {victim}")
    cluster.advance(60)
    after = {p["metadata"]["name"] for p in active_pods(cluster)}
    assert len(after) == 2 and victim not in after and len(after - before) == 1


def test_rollout_undo_brings_back_the_previous_replica_set_and_its_pods(cluster):
    cluster.apply(deployment_yaml(replicas=2))
    cluster.advance(60)
    [first] = replica_sets(cluster)
    cluster.kubectl("set image deploy/nginx nginx=nginx:alpine")
    cluster.advance(120)
    assert cluster.kubectl("rollout undo deploy/nginx") == "deployment.apps/nginx rolled back\n"
    cluster.advance(120)
    rss = {rs["metadata"]["name"]: rs for rs in replica_sets(cluster)}
    assert len(rss) == 2
    back = rss[first["metadata"]["name"]]
    assert back["spec"]["replicas"] == 2
    assert back["metadata"]["annotations"][ro.REVISION] == "3"
    assert back["metadata"]["annotations"][ro.REVISION_HISTORY] == "1"
    h = back["metadata"]["labels"][ro.HASH_LABEL]
    pods = active_pods(cluster)
    assert len(pods) == 2 and all(p["metadata"]["labels"][ro.HASH_LABEL] == h for p in pods)
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx"}


def test_revision_history_limit_one_keeps_one_old_replica_set(cluster):
    cluster.apply(deployment_yaml(replicas=2, extra="  revisionHistoryLimit: 1"))
    cluster.advance(60)
    for image in ("nginx:1.26", "nginx:1.27", "nginx:alpine"):
        cluster.kubectl(f"set image deploy/nginx nginx={image}")
        cluster.advance(120)
    rss = replica_sets(cluster)
    assert len(rss) == 2
    assert [ro.revision(rs) for rs in rss] == [3, 4]
    assert rss[0]["spec"]["replicas"] == 0


def test_recreate_never_runs_old_and_new_pods_together(cluster):
    cluster.apply(deployment_yaml(replicas=3).replace(
        "strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: '25%', maxUnavailable: '25%'}}",
        "strategy: {type: Recreate}"))
    cluster.advance(60)
    assert rolled_out(cluster)

    def check() -> None:
        images = {p["spec"]["containers"][0]["image"] for p in cluster.client.list(PODS, "default")["items"]}
        assert len(images) <= 1, images  # terminating old pods count too: Recreate waits until they are gone

    cluster.kubectl("set image deploy/nginx nginx=nginx:alpine")
    drive(cluster, check, 300)
    assert rolled_out(cluster)


def test_scaling_mid_rollout_is_proportional(cluster):
    cluster.apply(deployment_yaml(replicas=10, surge=3, unavailable=2))
    cluster.advance(60)
    cluster.kubectl("set image deploy/nginx nginx=nginx:alpine")
    cluster.run_until_stable()  # the first step only: new RS at 3, old at 8
    sizes = sorted(ro.spec_replicas(rs) for rs in replica_sets(cluster))
    assert sum(sizes) == 13
    cluster.kubectl("scale deploy/nginx --replicas=20")
    rss = replica_sets(cluster)
    assert sum(ro.spec_replicas(rs) for rs in rss) == 23  # 20 + maxSurge 3 (absolute)
    assert all(ro.annotations_of(rs)[ro.DESIRED_REPLICAS] == "20" for rs in rss if ro.spec_replicas(rs))
    cluster.advance(300)
    assert rolled_out(cluster)
    assert [ro.spec_replicas(rs) for rs in replica_sets(cluster)] == [0, 20]


def test_paused_deployment_does_not_roll_out_until_resumed(cluster):
    cluster.apply(deployment_yaml(replicas=2))
    cluster.advance(60)
    assert cluster.kubectl("rollout pause deploy/nginx") == "deployment.apps/nginx paused\n"
    cluster.kubectl("set image deploy/nginx nginx=nginx:alpine")
    cluster.advance(60)
    assert len(replica_sets(cluster)) == 1
    cond = ro.get_condition(cluster.client.get(DEPLOY, "nginx", "default")["status"], "Progressing")
    assert (cond["status"], cond["reason"], cond["message"]) == ("Unknown", "DeploymentPaused", "Deployment is paused")
    assert cluster.kubectl("rollout resume deploy/nginx") == "deployment.apps/nginx resumed\n"
    cluster.advance(120)
    assert len(replica_sets(cluster)) == 2 and rolled_out(cluster)


def test_progress_deadline_exceeded_when_pods_never_become_ready():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:  # no node: pods stay Pending
        c.apply(deployment_yaml(replicas=2, extra="  progressDeadlineSeconds: 30"))
        c.advance(10)
        status = c.client.get(DEPLOY, "nginx", "default")["status"]
        h = replica_sets(c)[0]["metadata"]["labels"][ro.HASH_LABEL]
        assert ro.get_condition(status, "Available")["reason"] == "MinimumReplicasUnavailable"
        assert ro.get_condition(status, "Available")["message"] == "Deployment does not have minimum availability."
        progressing = ro.get_condition(status, "Progressing")
        # Created (NewReplicaSetCreated), then its pods appeared: that counts as progress.
        assert progressing["reason"] == "ReplicaSetUpdated"
        assert progressing["message"] == f'ReplicaSet "nginx-{h}" is progressing.'
        c.advance(60)
        progressing = ro.get_condition(c.client.get(DEPLOY, "nginx", "default")["status"], "Progressing")
        assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
        assert progressing["message"] == f'ReplicaSet "nginx-{h}" has timed out progressing.'


def test_change_cause_is_copied_to_the_replica_set(cluster):
    cluster.apply(deployment_yaml(replicas=1).replace("metadata: {name: nginx}",
                                                      "metadata: {name: nginx, annotations: "
                                                      "{kubernetes.io/change-cause: first}}"))
    cluster.advance(30)
    [rs] = replica_sets(cluster)
    assert rs["metadata"]["annotations"][ro.CHANGE_CAUSE] == "first"


def test_scaling_up_a_deployment_complete_for_longer_than_its_progress_deadline():
    # Its Progressing condition was last updated more than progressDeadlineSeconds ago: the controller must
    # look again later (rate-limited, as upstream), not at once forever, or a virtual clock never moves on.
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(deployment_yaml(replicas=2))
        c.advance(700)
        c.kubectl("scale deployment nginx --replicas=6")
        c.advance(30)
        d = c.client.get(DEPLOY, "nginx", "default")
        assert (d["status"].get("availableReplicas"), ro.deployment_complete(d, d["status"])) == (6, True)
