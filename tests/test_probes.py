"""Liveness, readiness and startup probes, with upstream's conformance scenarios on a virtual clock."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, strategies as st

from minik8s.cluster import Cluster
from minik8s.kubelet.probes import Outcome, ProbeState
from tests.test_kubelet import PODS, container, events, make_pod, status


@pytest.fixture
def cluster() -> Any:
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def ready(cluster: Cluster, name: str) -> bool:
    return bool(container(cluster, name)["ready"])


def test_exec_liveness_probe_from_the_docs_restarts_the_container(cluster: Cluster) -> None:
    # https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
    spec = {"name": "liveness", "image": "registry.k8s.io/busybox:1.27.2",
            "args": ["/bin/sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600"],
            "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "initialDelaySeconds": 5,
                              "periodSeconds": 5}}
    cluster.client.create(PODS, make_pod("liveness-exec", [spec]), "default")
    cluster.advance(30)  # started at t=1; the file goes at t=31
    assert container(cluster, "liveness-exec")["restartCount"] == 0
    assert not [r for r, _ in events(cluster, "liveness-exec") if r == "Unhealthy"]
    cluster.advance(10)  # failures at 31 and 36
    assert container(cluster, "liveness-exec")["restartCount"] == 0
    cluster.advance(1)   # the third failure at 41 kills it; it restarts at once
    cs = container(cluster, "liveness-exec")
    assert cs["restartCount"] == 1 and "running" in cs["state"]
    assert "terminated" in cs["lastState"]
    evs = events(cluster, "liveness-exec")
    assert ("Unhealthy", "Liveness probe failed: cat: can't open '/tmp/healthy': No such file or directory") in evs
    assert ("Killing", "Container liveness failed liveness probe, will be restarted") in evs


def test_http_liveness_scripted_to_fail_restarts_and_counts_only_grow(cluster: Cluster) -> None:
    spec = {"name": "web", "image": "nginx:1.27", "ports": [{"name": "http", "containerPort": 80}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 10,
                              "failureThreshold": 3}}
    cluster.client.create(PODS, make_pod("web", [spec], annotations={"web": {"livenessFailsAfterSeconds": 20}}),
                          "default")
    counts = []
    for _ in range(20):
        cluster.advance(10)
        counts.append(container(cluster, "web")["restartCount"])
    assert counts == sorted(counts) and counts[-1] >= 2
    # Probes at 1, 11, 21 (fail), 31 (fail), 41 (fail: killed, restarted at once).
    assert counts[3] == 0 and counts[4] == 1
    assert ("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500") in events(cluster, "web")


def test_readiness_probe_waits_for_initial_delay_and_never_restarts(cluster: Cluster) -> None:
    spec = {"name": "web", "image": "nginx:1.27",
            "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "initialDelaySeconds": 20, "periodSeconds": 5}}
    cluster.client.create(PODS, make_pod("ready", [spec], annotations={"web": {"readinessFailsAfterSeconds": 60}}),
                          "default")
    cluster.advance(20.5)  # started at 1: the first probe runs at 21
    assert status(cluster, "ready")["phase"] == "Running" and not ready(cluster, "ready")
    ready_condition = next(c for c in status(cluster, "ready")["conditions"] if c["type"] == "Ready")
    assert ready_condition["reason"] == "ContainersNotReady"
    cluster.advance(0.5)
    assert ready(cluster, "ready")
    cluster.advance(45)  # failing from 61 (60 s after start): 61 and 66 fail, still ready
    assert ready(cluster, "ready")
    cluster.advance(5)   # the third failure, at 71
    assert not ready(cluster, "ready")
    cluster.advance(300)
    cs = container(cluster, "ready")
    assert cs["restartCount"] == 0 and not cs["ready"] and "running" in cs["state"]
    assert ("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503") in events(cluster, "ready")


def test_container_without_readiness_probe_is_ready_once_running(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("plain", [{"name": "web", "image": "nginx:1.27"}]), "default")
    cluster.advance(1)
    assert ready(cluster, "plain") and container(cluster, "plain")["started"]


def test_startup_probe_gates_liveness(cluster: Cluster) -> None:
    spec = {"name": "slow", "image": "nginx:1.27",
            "startupProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5, "failureThreshold": 30},
            "livenessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 5, "failureThreshold": 1}}
    cluster.client.create(PODS, make_pod("slow", [spec], annotations={"slow": {"startupSeconds": 30}}), "default")
    cluster.advance(30)
    cs = container(cluster, "slow")
    assert not cs["started"] and not cs["ready"] and cs["restartCount"] == 0
    cluster.advance(2)  # the startup probe at 31 succeeds
    cs = container(cluster, "slow")
    assert cs["started"] and cs["ready"] and cs["restartCount"] == 0
    assert not [m for r, m in events(cluster, "slow") if m.startswith("Liveness")]


def test_startup_probe_failing_kills_the_container(cluster: Cluster) -> None:
    spec = {"name": "never", "image": "nginx:1.27",
            "startupProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5, "failureThreshold": 2}}
    cluster.client.create(PODS, make_pod("never", [spec]), "default")
    cluster.advance(7)  # failures at 1 and 6
    evs = events(cluster, "never")
    assert ("Killing", "Container never failed startup probe, will be restarted") in evs
    assert ("Unhealthy", "Startup probe failed: dial tcp 10.244.1.2:8080: connect: connection refused") in evs
    assert container(cluster, "never")["restartCount"] == 1


def test_agnhost_liveness_example_serves_healthz_for_ten_seconds(cluster: Cluster) -> None:
    spec = {"name": "liveness", "image": "registry.k8s.io/e2e-test-images/agnhost:2.40", "args": ["liveness"],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 3,
                              "periodSeconds": 3}}
    cluster.client.create(PODS, make_pod("liveness-http", [spec]), "default")
    cluster.advance(12)
    assert container(cluster, "liveness-http")["restartCount"] == 0
    cluster.advance(10)
    assert container(cluster, "liveness-http")["restartCount"] == 1


# --- thresholds, without a cluster ------------------------------------------------------------


def test_thresholds() -> None:
    readiness = ProbeState("readiness", {"successThreshold": 2, "failureThreshold": 3}, 0.0, False)
    assert not readiness.record(Outcome(True)) and readiness.result is False
    assert readiness.record(Outcome(True)) and readiness.result is True
    readiness.record(Outcome(False))
    readiness.record(Outcome(False))
    assert readiness.result is True
    readiness.record(Outcome(True))  # a success resets the run of failures
    readiness.record(Outcome(False))
    readiness.record(Outcome(False))
    assert readiness.result is True
    assert readiness.record(Outcome(False)) and readiness.result is False
    assert not readiness.on_hold  # readiness never holds (never kills)
    liveness = ProbeState("liveness", {"failureThreshold": 1}, 0.0, True)
    liveness.record(Outcome(False))
    assert liveness.on_hold and liveness.due() is None


@given(st.lists(st.booleans(), max_size=40), st.integers(1, 5), st.integers(1, 5))
def test_result_flips_only_after_threshold_runs(runs: list[bool], success: int, failure: int) -> None:
    state = ProbeState("readiness", {"successThreshold": success, "failureThreshold": failure}, 0.0, False)
    streak: list[bool] = []
    for ok in runs:
        before = state.result
        state.record(Outcome(ok))
        streak = streak + [ok] if streak and streak[-1] == ok else [ok]
        if state.result != before:
            assert len(streak) >= (success if ok else failure)


def test_tcp_probes_from_the_docs_reach_goproxy(cluster: Cluster) -> None:
    # https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/
    probe = {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 15, "periodSeconds": 10}
    spec = {"name": "goproxy", "image": "registry.k8s.io/goproxy:0.1", "ports": [{"containerPort": 8080}],
            "readinessProbe": probe, "livenessProbe": probe}
    cluster.client.create(PODS, make_pod("goproxy", [spec]), "default")
    cluster.advance(40)
    cs = container(cluster, "goproxy")
    assert cs["ready"] and cs["restartCount"] == 0 and "running" in cs["state"]


def test_an_exec_probe_that_cannot_start_errors_and_never_restarts(cluster: Cluster) -> None:
    # Upstream: the runtime cannot start the command, so the probe "errored" and its result is
    # thrown away: the container is neither killed nor made unready by it.
    spec = {"name": "app", "image": "busybox:1.36", "command": ["sleep", "3600"],
            "livenessProbe": {"exec": {"command": ["healthcheck"]}, "periodSeconds": 5}}
    cluster.client.create(PODS, make_pod("odd", [spec]), "default")
    cluster.advance(60)
    assert container(cluster, "odd")["restartCount"] == 0
    errored = [m for r, m in events(cluster, "odd") if r == "Unhealthy"]
    assert errored and errored[0].startswith("Liveness probe errored: rpc error: code = Unknown desc = failed to exec "
                                             "in container: failed to start exec")
