"""The replica calculator against upstream's documented algorithm (replica_calculator.go and the HPA docs):
ceil(current × ratio), the 0.1 tolerance, truncated utilization, and how missing, unready and ignored pods
dampen a decision."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from minik8s.clock import rfc3339
from minik8s.controllers import replicacalculator as rc
from minik8s.controllers.replicacalculator import CalculationError, PodMetric, PodUsage

NOW = 1_800_000_000.0


def pod(name: str, request: str | None = "1", *, phase: str = "Running", ready: str | None = "True",
        started: float = NOW - 600, transition: float | None = None, deleting: bool = False,
        memory: str | None = None) -> dict:
    requests = {} if request is None else {"cpu": request}
    if memory is not None:
        requests["memory"] = memory
    status: dict = {"phase": phase, "startTime": rfc3339(started)}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready,
                                 "lastTransitionTime": rfc3339(started + 5 if transition is None else transition)}]
    meta: dict = {"name": name, "namespace": "default"}
    if deleting:
        meta["deletionTimestamp"] = rfc3339(NOW)
    return {"metadata": meta, "spec": {"containers": [{"name": "app", "resources": {"requests": requests}}]},
            "status": status}


def samples(**values: int) -> dict[str, PodMetric]:
    return {name: PodMetric(v, timestamp=NOW - 10, window=30) for name, v in values.items()}


def replicas(current: int, target: int, pods: list[dict], metrics: dict[str, PodMetric]) -> tuple[int, int, int]:
    return rc.resource_replicas(current, target, "cpu", pods, metrics, NOW)


# (current, target %, pods, cpu usage in millicores, desired, utilization %): upstream's own table cases.
CASES = [
    # scale up: 1500m of 3000m is 50% against 30%: ceil(3 × 50/30) = 5
    ("scale up", 3, 30, [pod("a"), pod("b"), pod("c")], dict(a=300, b=500, c=700), 5, 50),
    # scale down: 1400m of 5000m is 28% against 50%: ceil(5 × 0.56) = 3
    ("scale down", 5, 50, [pod(n) for n in "abcde"], dict(a=100, b=300, c=500, d=250, e=250), 3, 28),
    # 102% against 100% is within the tolerance of 0.1
    ("tolerance", 3, 100, [pod("a", "0.9"), pod("b", "1"), pod("c", "1.1")], dict(a=1010, b=1030, c=1020), 3, 102),
    # 10% below is within it; 10% above is not, as in Go: abs(1.0 - 55/50) is a hair above 0.1 in float64
    ("tolerance edge below", 4, 50, [pod(n, "100m") for n in "abcd"], dict(a=45, b=45, c=45, d=45), 4, 45),
    ("tolerance edge above", 4, 50, [pod(n, "100m") for n in "abcd"], dict(a=55, b=55, c=55, d=55), 5, 55),
    # utilization is an integer percent, truncated: 200m of 300m is 66%, not 66.7%, so the ratio against
    # 33% is exactly 2 and ceil(3 × 2) = 6 (untruncated it would be 7)
    ("truncated percent", 3, 33, [pod(n, "100m") for n in "abc"], dict(a=200, b=0, c=0), 6, 66),
    # one ready pod far above target, one unready (Pending) counted as 0 on the way up: ratio 1.3, ceil(2 × 1.3) = 3
    ("unready damps scale up", 2, 50, [pod("a", "100m"), pod("b", "300m", phase="Pending")], dict(a=260), 3, 260),
    # missing sample on the way down counts as 100% of its request: 55% would turn the direction round
    ("missing damps scale down", 4, 50, [pod(n, "100m") for n in "abcd"], dict(a=40, b=40, c=40), 4, 40),
    # missing sample on the way up counts as 0: 180m of 400m is 45%, which would turn round, so stay
    ("missing turns round", 4, 50, [pod(n, "100m") for n in "abcd"], dict(a=60, b=60, c=60), 4, 60),
    # missing on the way up, still above after damping: 300m of 400m is 75%, ceil(4 × 1.5) = 6
    ("missing scale up", 4, 50, [pod(n, "100m") for n in "abcd"], dict(a=100, b=100, c=100), 6, 100),
    # a target above 100%: a missing pod is assumed at the target, not at 100%
    ("missing above 100% target", 4, 200, [pod(n, "100m") for n in "abcd"], dict(a=150, b=150, c=150), 4, 150),
    # deleted and failed pods take no part: 2 ready pods at 100% against 50% → 4
    ("ignored pods", 3, 50, [pod("a"), pod("b"), pod("c", deleting=True), pod("d", phase="Failed")],
     dict(a=1000, b=1000, c=0, d=0), 4, 100),
]


@pytest.mark.parametrize("name,current,target,pods,usage,desired,utilization", CASES, ids=[c[0] for c in CASES])
def test_resource_replicas_table(name, current, target, pods, usage, desired, utilization):
    got, percent, _ = replicas(current, target, pods, samples(**usage))
    assert (got, percent) == (desired, utilization)


def test_missing_pod_fallback_uses_the_target_above_100_percent():
    pods = [pod(n, "100m") for n in "abcd"]
    # with the target as fallback (upstream): 650m of 400m = 162%, ratio 0.81, ceil(4 × 0.81) = 4, not 3
    assert replicas(4, 200, pods, samples(a=150, b=150, c=150))[0] == 4
    # every sample present: all four at 150% against 200%, ceil(4 × 0.75) = 3
    assert replicas(4, 200, pods, samples(a=150, b=150, c=150, d=150))[0] == 3


def test_average_is_raw_usage_per_counted_pod():
    _, percent, raw = replicas(3, 50, [pod(n, "500m") for n in "abc"], samples(a=100, b=200, c=600))
    assert (percent, raw) == (60, 300)


def test_cpu_sample_taken_too_soon_after_ready_is_not_counted():
    # Started 60 s ago (within the 5-minute cpu initialization period) and ready 20 s ago: the sample at
    # NOW-10 covers a 30 s window that began before the pod was ready, so the pod is treated as unready.
    fresh = pod("b", started=NOW - 60, transition=NOW - 20)
    groups = rc.group_pods([pod("a"), fresh], samples(a=100, b=900), "cpu", NOW)
    assert (groups.ready, groups.unready) == (1, {"b"})
    # Ready long enough for one window: counted.
    settled = pod("b", started=NOW - 120, transition=NOW - 100)
    assert rc.group_pods([pod("a"), settled], samples(a=100, b=900), "cpu", NOW).ready == 2
    # Memory has no initialization period: the same fresh pod counts.
    assert rc.group_pods([pod("a"), fresh], samples(a=100, b=900), "memory", NOW).ready == 2


def test_pod_that_never_became_ready_is_unready_after_initialization():
    # Past the initialization period, not ready, and Ready last changed within 30 s of the start: never ready.
    never = pod("b", ready="False", started=NOW - 900, transition=NOW - 890)
    assert rc.group_pods([never], samples(b=500), "cpu", NOW).unready == {"b"}
    # Not ready now, but it was ready once (the change came long after the start): its sample counts.
    lapsed = pod("b", ready="False", started=NOW - 900, transition=NOW - 100)
    assert rc.group_pods([lapsed], samples(b=500), "cpu", NOW).ready == 1
    # No Ready condition at all: unready.
    assert rc.group_pods([pod("b", ready=None)], samples(b=500), "cpu", NOW).unready == {"b"}


def test_missing_request_is_an_error_naming_container_and_pod():
    with pytest.raises(CalculationError, match="^missing request for cpu in container app of Pod b$"):
        replicas(2, 50, [pod("a"), pod("b", None)], samples(a=100, b=100))


def test_no_pods_and_no_ready_samples_are_errors():
    with pytest.raises(CalculationError, match="no pods returned by selector while calculating replica count"):
        replicas(2, 50, [], {})
    with pytest.raises(CalculationError, match=r"did not receive metrics for targeted pods \(pods might be unready\)"):
        replicas(1, 50, [pod("a", phase="Pending")], samples(a=100))


def test_sidecar_init_containers_count_towards_the_request():
    p = pod("a", "100m")
    p["spec"]["initContainers"] = [
        {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
        {"name": "setup", "resources": {}}]   # a plain init container is not counted (and needs no request)
    assert rc.pod_requests([p], "cpu") == {"a": 200}
    assert rc.pod_requests([p], "cpu", container="sidecar") == {"a": 100}


def test_raw_average_value_targets():
    pods = [pod(n, memory="1Gi") for n in "abc"]
    mib = 1024 * 1024 * 1000   # one MiB in milli-units
    # 600Mi average against 300Mi: ceil(3 × 2) = 6
    assert rc.raw_resource_replicas(3, 300 * mib, "memory", pods, samples(a=600 * mib, b=600 * mib, c=600 * mib),
                                    NOW) == (6, 600 * mib)
    # within tolerance
    assert rc.raw_resource_replicas(3, 300 * mib, "memory", pods, samples(a=310 * mib, b=300 * mib, c=290 * mib),
                                    NOW)[0] == 3
    # one missing on the way down counts as the target: (100+100+300)/3 = 166Mi, ceil(3 × 0.555) = 2
    assert rc.raw_resource_replicas(3, 300 * mib, "memory", pods, samples(a=100 * mib, b=100 * mib), NOW)[0] == 2


def test_resource_metrics_sums_containers_and_skips_pods_missing_one():
    usages = {"a": PodUsage({"app": {"cpu": 100}, "side": {"cpu": 50}}, NOW, 30),
              "b": PodUsage({"app": {"cpu": 100}, "side": {"memory": 5}}, NOW, 30)}
    assert rc.resource_metrics(usages, "cpu") == {"a": PodMetric(150, NOW, 30)}
    assert rc.resource_metrics(usages, "cpu", container="app") == {"a": PodMetric(100, NOW, 30),
                                                                    "b": PodMetric(100, NOW, 30)}
    with pytest.raises(CalculationError, match="no metrics returned from resource metrics API"):
        rc.resource_metrics({}, "cpu")


# --- invariants -------------------------------------------------------------------------------------------

KINDS = st.sampled_from(["ready", "missing", "pending"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(KINDS, st.integers(0, 2000), st.sampled_from(["100m", "250m", "1"])), min_size=1,
                max_size=12),
       st.integers(10, 300))
def test_damping_never_turns_the_direction_round(pods_spec, target):
    """With every pod counted in ``current`` (none being deleted), the result never goes against the ready
    pods' ratio, and a ratio within the tolerance changes nothing: what the damping of missing and unready pods
    promises."""
    pods, metrics = [], {}
    for i, (kind, usage, request) in enumerate(pods_spec):
        name = f"p{i}"
        pods.append(pod(name, request, phase="Pending" if kind == "pending" else "Running"))
        if kind == "ready":
            metrics[name] = PodMetric(usage, NOW - 10, 30)
    current = len(pods)
    ready = [p for p in pods if p["metadata"]["name"] in metrics]
    if not ready:
        with pytest.raises(CalculationError):
            replicas(current, target, pods, metrics)
        return
    ratio = rc.utilization_ratio(metrics, rc.pod_requests(ready, "cpu"), target)[0]
    desired, _, _ = replicas(current, target, pods, metrics)
    if abs(1.0 - ratio) <= rc.TOLERANCE:
        assert desired == current
    elif ratio > 1.0:
        assert desired >= current
    else:
        assert desired <= current
