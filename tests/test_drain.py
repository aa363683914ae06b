"""PodDisruptionBudgets, the Eviction API honouring them, and kubectl cordon/uncordon/taint/drain.

The status arithmetic is checked directly (minik8s.api.disruption); the rest with the real
kubectl against a minik8s server with two simulated nodes, and minik8s's own kubectl on a
virtual-clock cluster.
"""

from __future__ import annotations

import json
import re

import pytest

from minik8s import Cluster
from minik8s.api import disruption
from minik8s.api.errors import StatusError
from minik8s.clock import rfc3339
from tests.conftest import needs_kubectl, start_server, wait_for

NOW = 1_000_000.0


def _pod(name: str, ready: bool = True, owner: str = "rs-uid", **meta) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "labels": {"app": "web"},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                              "uid": owner, "controller": True}], **meta},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def _pdb(**spec) -> dict:
    return {"metadata": {"name": "web", "namespace": "default", "generation": 1},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec}}


def _status(pdb: dict, pods: list[dict], scale: int = 3, old: dict | None = None) -> dict:
    return disruption.compute_status(pdb, pods, lambda: scale, NOW, old)


def test_integer_min_available_counts_against_the_matching_pods():
    status = _status(_pdb(minAvailable=2), [_pod("a"), _pod("b"), _pod("c", ready=False)], scale=5)
    assert (status["expectedPods"], status["desiredHealthy"], status["currentHealthy"],
            status["disruptionsAllowed"], status["observedGeneration"]) == (3, 2, 2, 0, 1)
    condition = status["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == ("DisruptionAllowed", "False",
                                                                             "InsufficientPods")


def test_max_unavailable_and_percentages_scale_against_the_controllers_replicas_rounding_up():
    pods = [_pod(n) for n in "abcd"]
    status = _status(_pdb(maxUnavailable="30%"), pods, scale=4)   # ceil(1.2) = 2 may be down -> 2 desired
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == (4, 2, 2)
    assert status["conditions"][0]["reason"] == "SufficientPods"
    status = _status(_pdb(minAvailable="50%"), pods, scale=5)     # ceil(2.5) = 3
    assert (status["desiredHealthy"], status["disruptionsAllowed"]) == (3, 1)


def test_pods_being_evicted_or_deleted_do_not_count_as_healthy_until_the_eviction_times_out():
    pods = [_pod("a"), _pod("b"), _pod("c", deletionTimestamp="2025-01-01T00:00:00Z")]
    recent = {"disruptedPods": {"a": rfc3339(NOW - 10)}}
    status = _status(_pdb(maxUnavailable=1), pods, old=recent)
    assert (status["currentHealthy"], status["disruptionsAllowed"], status["disruptedPods"]) == (1, 0, {"a": rfc3339(NOW - 10)})
    stale = {"disruptedPods": {"a": rfc3339(NOW - disruption.DELETION_TIMEOUT_SECONDS - 1)}}
    status = _status(_pdb(maxUnavailable=1), pods, old=stale)
    assert (status["currentHealthy"], "disruptedPods" in status) == (2, False)


def test_a_pod_without_a_controller_makes_the_sync_fail():
    def no_controller() -> int:
        raise ValueError('found no controller ref for pod "a"')
    status = disruption.compute_status(_pdb(maxUnavailable=1), [_pod("a")], no_controller, NOW)
    assert status["disruptionsAllowed"] == 0
    condition = status["conditions"][0]
    assert (condition["status"], condition["reason"], condition["message"]) == (
        "False", "SyncFailed", 'found no controller ref for pod "a"')


def test_an_eviction_spends_one_disruption_and_is_refused_when_none_is_left():
    pdb = _pdb(maxUnavailable=1)
    pdb["status"] = _status(pdb, [_pod("a"), _pod("b"), _pod("c")])
    spent = disruption.evict_decision(pdb, _pod("a"), NOW)
    assert spent is not None
    assert (spent["disruptionsAllowed"], spent["disruptedPods"]) == (0, {"a": rfc3339(NOW)})
    assert spent["conditions"][0]["reason"] == "InsufficientPods"
    pdb["status"] = spent
    with pytest.raises(StatusError) as refused:
        disruption.evict_decision(pdb, _pod("b"), NOW)
    err = refused.value
    assert (err.code, err.reason, err.message) == (429, "TooManyRequests", disruption.REFUSED)
    assert err.details == {"causes": [{"reason": "DisruptionBudget",
                                       "message": "The disruption budget web needs 2 healthy pods and has 3 currently"}]}
    # an unready pod may go while the budget is met, without spending anything
    assert disruption.evict_decision(pdb, _pod("d", ready=False), NOW) is None


def test_an_eviction_waits_for_the_controller_to_observe_a_new_generation():
    pdb = _pdb(maxUnavailable=1)
    pdb["status"] = _status(pdb, [_pod("a"), _pod("b")])
    pdb["metadata"]["generation"] = 2
    with pytest.raises(StatusError) as refused:
        disruption.evict_decision(pdb, _pod("a"), NOW)
    assert refused.value.details["causes"][0]["message"] == "The disruption budget web is still being processed by the server."


# --- the API, through minik8s's own kubectl on a virtual clock ----------------------------------------------

BOTH = """\
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: both}
spec: {minAvailable: 1, maxUnavailable: "120%", selector: {matchLabels: {app: web}}}
"""


def test_validation_refuses_both_bounds_and_over_100_percent():
    cluster = Cluster(nodes=1, runtime="simulated", clock="virtual")
    with pytest.raises(Exception) as refused:
        cluster.kubectl("apply -f -", stdin=BOTH)
    text = str(refused.value)
    assert 'The PodDisruptionBudget "both" is invalid' in text
    assert "spec: Invalid value: policy.PodDisruptionBudgetSpec{MinAvailable:(*intstr.IntOrString)" in text
    assert ": minAvailable and maxUnavailable cannot be both set" in text
    assert "spec.maxUnavailable: Invalid value: 120%: must not be greater than 100%" in text
    assert "both" not in cluster.kubectl("get pdb -A")


WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: nginx}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {%s, selector: {matchLabels: {app: web}}}
"""


def test_own_kubectl_drain_retries_on_429_and_gives_up_at_the_timeout():
    cluster = Cluster(nodes=2, runtime="simulated", clock="virtual")
    cluster.kubectl("apply -f -", stdin=WEB % (2, "minAvailable: 2"))
    cluster.run_until_stable()
    cluster.advance(5)
    assert cluster.kubectl("get pdb").split("\n")[1].split()[1:4] == ["2", "N/A", "0"]
    node = json.loads(cluster.kubectl("get pods -o json"))["items"][0]["spec"]["nodeName"]
    with pytest.raises(Exception) as failed:
        cluster.kubectl(f"drain {node} --timeout=12s")
    text = str(failed.value)
    assert "(will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget." in text
    assert "global timeout reached: 12s" in text
    assert f"There are pending nodes to be drained:\n {node}" in text
    assert len(cluster.kubectl("get pods --no-headers").splitlines()) == 2   # nothing was evicted


# --- the real kubectl against a server --------------------------------------------------------------------


@pytest.fixture
def two_nodes(tmp_path):
    srv = start_server(tmp_path, "--nodes", "2", "--runtime", "simulated")
    yield srv
    if srv.process.poll() is None:
        srv.stop()


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _pods(srv) -> list[dict]:
    return json.loads(_ok(srv.kubectl("get", "pods", "-o", "json")))["items"]


def _allowed(srv, name: str = "web") -> int | None:
    return json.loads(_ok(srv.kubectl("get", "pdb", name, "-o", "json"))).get("status", {}).get("disruptionsAllowed")


@needs_kubectl
def test_cordon_uncordon_and_taint_with_the_real_kubectl(two_nodes):
    k = two_nodes.kubectl
    assert _ok(k("cordon", "node-1")) == "node/node-1 cordoned\n"
    assert _ok(k("cordon", "node-1")) == "node/node-1 already cordoned\n"
    assert json.loads(_ok(k("get", "node", "node-1", "-o", "json")))["spec"]["unschedulable"] is True
    assert "SchedulingDisabled" in _ok(k("get", "nodes"))
    assert _ok(k("uncordon", "node-1")) == "node/node-1 uncordoned\n"
    assert _ok(k("taint", "nodes", "node-2", "dedicated=gpu:NoSchedule")) == "node/node-2 tainted\n"
    taints = json.loads(_ok(k("get", "node", "node-2", "-o", "json")))["spec"]["taints"]
    assert taints == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    bad = k("taint", "nodes", "node-2", "x=y:Sometimes")
    assert bad.returncode == 1 and "unsupported taint effect" in bad.stderr
    assert _ok(k("taint", "nodes", "node-2", "dedicated:NoSchedule-")) == "node/node-2 untainted\n"
    assert "taints" not in json.loads(_ok(k("get", "node", "node-2", "-o", "json")))["spec"]


@needs_kubectl
def test_real_kubectl_drains_a_node_one_pod_at_a_time_under_a_budget(two_nodes):
    k = two_nodes.kubectl
    _ok(k("apply", "-f", "-", stdin=WEB % (4, "maxUnavailable: 1")))
    wait_for(lambda: _allowed(two_nodes) == 1, 30, "the budget to allow one disruption")
    out = _ok(k("get", "pdb"))
    assert out.splitlines()[0].split() == ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED",
                                           "DISRUPTIONS", "AGE"]
    assert out.splitlines()[1].split()[:4] == ["web", "N/A", "1", "1"]
    on_1 = [p["metadata"]["name"] for p in _pods(two_nodes) if p["spec"]["nodeName"] == "node-1"]
    assert on_1
    result = k("drain", "node-1", "--timeout=60s")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "node/node-1 cordoned" and lines[-1] == "node/node-1 drained"
    for name in on_1:
        assert f"evicting pod default/{name}" in lines and f"pod/{name} evicted" in lines
    assert all(p["spec"]["nodeName"] == "node-2" for p in _pods(two_nodes))
    status = json.loads(_ok(k("get", "pdb", "web", "-o", "json")))["status"]
    assert status["expectedPods"] == 4 and status["desiredHealthy"] == 3


@needs_kubectl
def test_real_kubectl_drain_times_out_on_a_budget_that_can_never_be_met(two_nodes):
    k = two_nodes.kubectl
    _ok(k("apply", "-f", "-", stdin=WEB % (2, "minAvailable: 2")))
    wait_for(lambda: len([p for p in _pods(two_nodes) if disruption.is_ready(p)]) == 2, 30, "two ready pods")
    wait_for(lambda: json.loads(_ok(k("get", "pdb", "web", "-o", "json"))).get("status", {}).get("currentHealthy") == 2,
             30, "the budget to see both pods")
    node = _pods(two_nodes)[0]["spec"]["nodeName"]
    victim = next(p["metadata"]["name"] for p in _pods(two_nodes) if p["spec"]["nodeName"] == node)
    result = k("drain", node, "--timeout=6s")
    assert result.returncode == 1
    assert f"evicting pod default/{victim}" in result.stdout
    assert (f'error when evicting pods/"{victim}" -n "default" (will retry after 5s): Cannot evict pod as it '
            "would violate the pod's disruption budget.") in result.stderr
    assert f'error when evicting pods/"{victim}" -n "default": global timeout reached: 6s' in result.stderr
    assert f"There are pending nodes to be drained:\n {node}" in result.stderr
    assert victim in [p["metadata"]["name"] for p in _pods(two_nodes)]


@needs_kubectl
def test_the_eviction_api_refuses_with_upstreams_status(two_nodes):
    _ok(two_nodes.kubectl("apply", "-f", "-", stdin=WEB % (1, "minAvailable: 1")))
    wait_for(lambda: json.loads(_ok(two_nodes.kubectl("get", "pdb", "web", "-o", "json"))).get("status", {})
             .get("currentHealthy") == 1, 30, "the budget to see the pod")
    name = _pods(two_nodes)[0]["metadata"]["name"]
    body = json.dumps({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}).encode()
    code, _, raw = two_nodes.request("POST", f"/api/v1/namespaces/default/pods/{name}/eviction", body,
                                     {"Content-Type": "application/json"})
    status = json.loads(raw)
    assert code == 429
    assert (status["reason"], status["message"]) == ("TooManyRequests", disruption.REFUSED)
    assert status["details"]["causes"] == [{"reason": "DisruptionBudget",
                                            "message": "The disruption budget web needs 1 healthy pods and has 1 currently"}]


def _budgeted_cluster(replicas: int, bound: str) -> tuple[Cluster, list[str]]:
    """A two-node virtual cluster running WEB under a budget, and the names of the pods on node-1."""
    cluster = Cluster(nodes=2, runtime="simulated", clock="virtual")
    cluster.kubectl("apply -f -", stdin=WEB % (replicas, bound))
    cluster.run_until_stable()
    cluster.advance(5)
    return cluster, [p["metadata"]["name"] for p in json.loads(cluster.kubectl("get pods -o json"))["items"]
                     if p["spec"]["nodeName"] == "node-1"]


def test_own_kubectl_drain_waits_for_the_budget_between_evictions():
    cluster, on_1 = _budgeted_cluster(4, "maxUnavailable: 1")
    assert len(on_1) >= 2
    out = cluster.kubectl("drain node-1 --timeout=2m")
    lines = out.splitlines()
    assert lines[0] == "node/node-1 cordoned" and lines[-1] == "node/node-1 drained"
    assert all(f"pod/{name} evicted" in lines for name in on_1)
    assert lines.count(f"evicting pod default/{on_1[-1]}") >= 2    # refused (429) at least once, then retried
    pods = json.loads(cluster.kubectl("get pods -o json"))["items"]
    assert len(pods) == 4 and all(p["spec"]["nodeName"] == "node-2" for p in pods)


def test_own_kubectl_create_pdb_builds_upstreams_object_and_refuses_bad_flags():
    cluster = Cluster(nodes=1, runtime="simulated", clock="virtual")
    assert cluster.kubectl("create pdb web --selector=app=web,tier!=db --max-unavailable=25%") == \
        "poddisruptionbudget.policy/web created\n"
    spec = json.loads(cluster.kubectl("get pdb web -o json"))["spec"]
    assert spec == {"maxUnavailable": "25%", "selector": {
        "matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}}
    for flags, message in (("--selector=app=web", "one of min-available or max-unavailable must be specified"),
                           ("--min-available=1", "a selector must be specified"),
                           ("--selector=app=web --min-available=1 --max-unavailable=1",
                            "min-available and max-unavailable cannot be both specified"),
                           ("--selector=app=web --min-available=10GB", "invalid format specified for min-available")):
        with pytest.raises(Exception) as refused:
            cluster.kubectl(f"create pdb other {flags}")
        assert str(refused.value) == f"error: {message}"


@needs_kubectl
def test_describe_pdb_and_events_match_the_real_kubectl(two_nodes):
    k = two_nodes.kubectl
    _ok(k("create", "pdb", "lonely", "--selector=app=nothing", "--min-available=50%"))
    _ok(k("apply", "-f", "-", stdin=WEB % (3, "maxUnavailable: 1")))
    wait_for(lambda: _allowed(two_nodes) == 1, 30, "the budget to allow one disruption")
    wait_for(lambda: "NoPods" in _ok(k("get", "events")), 30, "the NoPods event")
    for name in ("web", "lonely"):
        ours, real = _ok(k("describe", "pdb", name, real=False)), _ok(k("describe", "pdb", name))
        assert re.sub(r"\d+s\b", "Ns", ours) == re.sub(r"\d+s\b", "Ns", real)   # event ages may tick
    described = _ok(k("describe", "pdb", "lonely"))
    assert "Min available:  50%" in described and "No matching pods found" in described


@needs_kubectl
def test_drain_refuses_unmanaged_pods_without_force_as_the_real_kubectl_does(two_nodes):
    k = two_nodes.kubectl
    _ok(k("run", "bare", "--image=nginx", "--overrides", '{"spec": {"nodeName": "node-1"}}'))
    _ok(k("cordon", "node-1"))
    real, ours = k("drain", "node-1"), k("drain", "node-1", real=False)
    assert real.returncode == ours.returncode == 1
    assert "cannot delete Pods that declare no controller (use --force to override): default/bare" in real.stderr
    assert (ours.stdout, ours.stderr) == (real.stdout, real.stderr)
    forced = k("drain", "node-1", "--force", "--grace-period=0", "--timeout=30s")
    assert forced.returncode == 0, forced.stderr
    assert "Warning: deleting Pods that declare no controller: default/bare" in forced.stderr
    assert "pod/bare evicted" in forced.stdout


@needs_kubectl
@pytest.mark.parametrize("args", [
    ["taint", "nodes", "node-1", "a=b:Sometimes"],
    ["taint", "nodes", "node-1", "gone:NoSchedule-"],
    ["taint", "nodes", "node-1", "gone-"],
    ["taint", "nodes", "node-1"],
    ["taint", "pods", "x", "a=b:NoSchedule"],
])
def test_taint_errors_match_the_real_kubectl(two_nodes, args):
    real, ours = two_nodes.kubectl(*args), two_nodes.kubectl(*args, real=False)
    assert real.returncode != 0
    assert (ours.returncode, ours.stdout, ours.stderr) == (real.returncode, real.stdout, real.stderr)


@needs_kubectl
def test_taint_add_overwrite_and_remove_match_the_real_kubectl(two_nodes):
    for args in (["taint", "nodes", "node-1", "a=b:NoSchedule"], ["taint", "nodes", "node-1", "a=c:NoSchedule"],
                 ["taint", "nodes", "node-1", "a=c:NoSchedule", "--overwrite"], ["taint", "nodes", "node-1", "a-"]):
        node = "node-1"
        real = two_nodes.kubectl(*args)
        before = json.loads(_ok(two_nodes.kubectl("get", "node", node, "-o", "json")))["spec"].get("taints")
        # undo the real kubectl's change, then do it again with ours
        _ok(two_nodes.kubectl("patch", "node", node, "--type=merge", "-p", json.dumps({"spec": {"taints": None}})))
        if args[-1] in ("a=c:NoSchedule", "--overwrite") or args[-1] == "a-":
            _ok(two_nodes.kubectl("taint", "nodes", node, "a=b:NoSchedule"))
        ours = two_nodes.kubectl(*args, real=False)
        after = json.loads(_ok(two_nodes.kubectl("get", "node", node, "-o", "json")))["spec"].get("taints")
        assert (ours.returncode, ours.stdout, ours.stderr) == (real.returncode, real.stdout, real.stderr)
        assert after == before


def test_validation_of_the_other_fields():
    from minik8s.api.validation import validate
    base = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "x", "namespace": "default"}}
    assert validate({**base, "spec": {"selector": {"matchLabels": {"app": "web"}}}}) == []   # neither bound: valid
    errors = validate({**base, "spec": {"minAvailable": -1, "unhealthyPodEvictionPolicy": "Never",
                                        "selector": {"matchExpressions": [{"key": "a", "operator": "Bad"}]}}})
    fields = [e.field for e in errors]
    assert fields == ["spec.minAvailable", "spec.selector.matchExpressions[0].operator",
                      "spec.unhealthyPodEvictionPolicy"]
    assert "must be greater than or equal to 0" in str(errors[0].cause())


def test_own_kubectl_drain_with_eviction_disabled_deletes_past_the_budget():
    cluster, on_1 = _budgeted_cluster(2, "minAvailable: 2")
    out = cluster.kubectl("drain node-1 --disable-eviction --timeout=1m")
    assert out == "node/node-1 cordoned\n" + "".join(f"pod/{n} deleted\n" for n in on_1) + "node/node-1 drained\n"
