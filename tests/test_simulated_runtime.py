"""The simulated container runtime on its own: a virtual clock and the CRI calls."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s.clock import VIRTUAL_EPOCH, VirtualClock
from minik8s.kubelet import logs as container_logs
from minik8s.kubelet.cri import ImagePullError, ProbeError, RuntimeCallError
from minik8s.kubelet.runtimes import simshell
from minik8s.kubelet.runtimes.simulated import SimulatedRuntime, normalize


def pod(uid: str = "u1", annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "name": "p", "namespace": "default", "annotations": annotations or {}},
            "spec": {}}


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def rt(clock: VirtualClock) -> SimulatedRuntime:
    return SimulatedRuntime(node_name="node-2", node_index=1, clock=clock, images=["busybox:1.36", "nginx:1.27"])


def start(rt: SimulatedRuntime, spec: dict[str, Any], p: dict[str, Any] | None = None) -> str:
    p = p or pod()
    sandbox = rt.run_pod_sandbox(p)
    cid = rt.create_container(sandbox.id, p, spec, 0)
    rt.start_container(cid)
    return cid


def test_pod_ips_in_order_and_sandbox_is_idempotent(rt: SimulatedRuntime) -> None:
    a = rt.run_pod_sandbox(pod("a"))
    assert rt.run_pod_sandbox(pod("a")) == a
    b = rt.run_pod_sandbox(pod("b"))
    assert (a.ip, b.ip) == ("10.244.2.2", "10.244.2.3")
    rt.remove_pod_sandbox(a.id)
    assert rt.run_pod_sandbox(pod("c")).ip == "10.244.2.4"


def test_image_names_are_normalized_like_containerd() -> None:
    assert normalize("nginx")[0] == "docker.io/library/nginx:latest"
    assert normalize("bitnami/redis:7")[0] == "docker.io/bitnami/redis:7"
    assert normalize("registry.k8s.io/pause:3.10")[0] == "registry.k8s.io/pause:3.10"


def test_pull_takes_a_second_and_if_not_present_skips(rt: SimulatedRuntime, clock: VirtualClock) -> None:
    first = rt.pull_image("alpine:3.20", "IfNotPresent")
    assert not first.done and first.ready_at == clock.now() + 1
    clock.advance(1)
    done = rt.pull_image("alpine:3.20", "IfNotPresent")
    assert done.done and done.pulled and done.seconds == 1 and done.size_bytes > 0
    again = rt.pull_image("alpine:3.20", "IfNotPresent")
    assert again.done and not again.pulled
    assert not rt.pull_image("alpine:3.20", "Always").done  # Always checks the registry again


def test_pull_errors(rt: SimulatedRuntime) -> None:
    with pytest.raises(ImagePullError) as err:
        rt.pull_image("nginx:1.161", "IfNotPresent")
    assert err.value.reason == "ErrImagePull"
    assert err.value.message == (
        'rpc error: code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:1.161": '
        'failed to resolve reference "docker.io/library/nginx:1.161": docker.io/library/nginx:1.161: not found')
    with pytest.raises(ImagePullError) as err:
        rt.pull_image("redis:7", "Never")
    assert err.value.reason == "ErrImageNeverPull"
    assert err.value.message == 'Container image "redis:7" is not present with pull policy of Never'


def test_shell_script_runs_on_virtual_time(rt: SimulatedRuntime, clock: VirtualClock) -> None:
    cid = start(rt, {"name": "c", "image": "busybox:1.36",
                     "command": ["sh", "-c", "touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600"]})
    assert rt.exec_sync(cid, ["cat", "/tmp/healthy"], 1).exit_code == 0
    assert rt.next_event_time([cid]) == clock.now() + 630
    clock.advance(30)
    result = rt.exec_sync(cid, ["cat", "/tmp/healthy"], 1)
    assert result.exit_code == 1
    assert result.stdout + result.stderr == "cat: can't open '/tmp/healthy': No such file or directory\n"
    clock.advance(600)
    status = rt.container_status(cid)
    assert (status.state, status.exit_code, status.reason) == ("exited", 0, "Completed")
    with pytest.raises(RuntimeCallError):
        rt.exec_sync(cid, ["true"], 1)


def test_logs_loops_and_exit_codes(rt: SimulatedRuntime, clock: VirtualClock) -> None:
    cid = start(rt, {"name": "c", "image": "busybox:1.36", "env": [{"name": "WHO", "value": "world"}],
                     "command": ["sh", "-c", "for i in 1 2 3; do echo hello $WHO $i; sleep 1; done; exit 3"]})
    clock.advance(1.5)
    assert rt.logs(cid) == "hello world 1\nhello world 2\n"
    clock.advance(5)
    assert rt.logs(cid).splitlines()[-1] == "hello world 3"
    status = rt.container_status(cid)
    assert (status.exit_code, status.reason, status.finished_at) == (3, "Error", status.started_at + 3)



def test_log_lines_carry_the_virtual_time_they_were_printed(rt: SimulatedRuntime, clock: VirtualClock) -> None:
    assert clock.now() == VIRTUAL_EPOCH  # 2025-01-01T00:00:00Z
    cid = start(rt, {"name": "c", "image": "busybox:1.36",
                     "command": ["sh", "-c", "echo a; sleep 0.25; echo b; sleep 2; echo c; sleep 600"]})
    clock.advance(10)
    assert [(e.time_ns, e.stream, e.text) for e in rt.log_entries(cid)] == [
        (1735689600_000_000_000, "stdout", "a\n"), (1735689600_250_000_000, "stdout", "b\n"),
        (1735689602_250_000_000, "stdout", "c\n")]
    assert container_logs.read(rt.log_entries(cid), timestamps=True) == (
        "2025-01-01T00:00:00.000000000Z a\n2025-01-01T00:00:00.250000000Z b\n2025-01-01T00:00:02.250000000Z c\n")


def test_the_counter_pod_from_the_logging_docs_counts(rt: SimulatedRuntime, clock: VirtualClock) -> None:
    # https://kubernetes.io/docs/concepts/cluster-administration/logging/ (the "counter" Pod)
    cid = start(rt, {"name": "count", "image": "busybox:1.36",
                     "args": ["/bin/sh", "-c", 'i=0; while true; do echo "$i: $(date)"; i=$((i+1)); sleep 1; done']})
    clock.advance(2.5)
    lines = rt.logs(cid).splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == ["0", "1", "2"]
    assert all(line.split(": ", 1)[1] for line in lines)  # the date
    assert "$" not in rt.logs(cid) and "not found" not in rt.logs(cid)
    assert simshell.run_now(["sh", "-c", "x=5; echo $(( x * (2 + 1) / 2 )) $((7 % 3)) $((unset + 1))"], {}, {}) == (
        0, "7 1 1\n", "")

def test_busybox_without_command_exits_at_once_and_nginx_serves(rt: SimulatedRuntime) -> None:
    box = start(rt, {"name": "box", "image": "busybox:1.36"})
    assert rt.container_status(box).state == "exited"
    web = start(rt, {"name": "web", "image": "nginx:1.27"}, pod("w"))
    ip = rt.run_pod_sandbox(pod("w")).ip
    assert rt.probe_http(ip, 80, "/anything", "HTTP", {}, 1) == 200
    assert rt.probe_tcp(ip, 80, 1) and not rt.probe_tcp(ip, 81, 1)
    with pytest.raises(ProbeError, match="connect: connection refused"):
        rt.probe_http(ip, 8080, "/", "HTTP", {}, 1)
    assert rt.next_event_time([web]) is None


def test_scripted_crash_and_stats(rt: SimulatedRuntime, clock: VirtualClock) -> None:
    p = pod(annotations={"sim.minik8s.io/app": '{"crashAfterSeconds": 10, "exitCode": 2, "cpuMillicores": 250}'})
    cid = start(rt, {"name": "app", "image": "nginx:1.27"}, p)
    assert rt.stats(cid) == (250, 3_500_000)
    assert rt.next_event_time([cid]) == clock.now() + 10
    clock.advance(10)
    assert (rt.container_status(cid).state, rt.container_status(cid).exit_code) == ("exited", 2)


def test_sigterm_stops_at_once_unless_ignored(rt: SimulatedRuntime, clock: VirtualClock) -> None:
    polite = start(rt, {"name": "a", "image": "busybox:1.36", "command": ["sleep", "3600"]})
    rt.stop_container(polite, 30)
    assert rt.container_status(polite).exit_code == 143
    p = pod("s", annotations={"sim.minik8s.io/b": '{"ignoreSigterm": true}'})
    stubborn = start(rt, {"name": "b", "image": "busybox:1.36", "command": ["sleep", "3600"]}, p)
    rt.stop_container(stubborn, 30)
    assert rt.container_status(stubborn).state == "running"
    assert rt.next_event_time([stubborn]) == clock.now() + 30
    clock.advance(30)
    assert rt.container_status(stubborn).exit_code == 137


def test_python_script_hook(rt: SimulatedRuntime, clock: VirtualClock) -> None:
    rt.script("default", "p", "web", readyAfterSeconds=5)
    spec = {"name": "web", "image": "nginx:1.27", "readinessProbe": {"httpGet": {"path": "/ready", "port": 80}}}
    start(rt, spec)
    ip = rt.run_pod_sandbox(pod()).ip
    assert rt.probe_http(ip, 80, "/ready", "HTTP", {}, 1) == 503
    assert rt.probe_http(ip, 80, "/other", "HTTP", {}, 1) == 200  # only the readiness endpoint is scripted
    clock.advance(5)
    assert rt.probe_http(ip, 80, "/ready", "HTTP", {}, 1) == 200


def test_perl_pi_job_example(rt: SimulatedRuntime, clock: VirtualClock) -> None:
    rt.pull_image("perl:5.34.0", "IfNotPresent")
    clock.advance(1)
    rt.pull_image("perl:5.34.0", "IfNotPresent")
    cid = start(rt, {"name": "pi", "image": "perl:5.34.0",
                     "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]})
    clock.advance(10)
    assert rt.container_status(cid).exit_code == 0
    assert rt.logs(cid).startswith("3.14159265358979323846")
    assert len(rt.logs(cid).strip()) == 2001


def test_shell_subset() -> None:
    fs: dict[str, str] = {}
    assert simshell.run_now(["sh", "-c", "echo hi > /f; cat /f; false || echo fallback"], fs, {}) == \
        (0, "hi\nfallback\n", "")
    assert fs == {"/f": "hi\n"}
    # As sh does, errors go to stderr (kubectl exec keeps the two streams apart).
    assert simshell.run_now(["sh", "-c", "nosuch"], fs, {}) == (127, "", "sh: nosuch: not found\n")
    with pytest.raises(TimeoutError):
        simshell.run_now(["sleep", "5"], fs, {}, timeout=1)
    assert simshell.run_now(["sh", "-c", "test -f /f && echo yes"], fs, {})[1] == "yes\n"


def test_stop_seconds_and_the_real_clock_default(rt: SimulatedRuntime, clock: VirtualClock) -> None:
    """``stopSeconds`` delays the exit after SIGTERM (and past the grace period the container is killed);
    with the real clock a container takes ``REAL_CLOCK_STOP_SECONDS`` to stop, with a virtual one none."""
    from minik8s.clock import RealClock
    from minik8s.kubelet.runtimes.simulated import REAL_CLOCK_STOP_SECONDS

    p = pod("slow", annotations={"sim.minik8s.io/web": '{"stopSeconds": 3}'})
    slow = start(rt, {"name": "web", "image": "nginx:1.27"}, p)
    rt.stop_container(slow, 30)
    assert rt.container_status(slow).state == "running" and rt.next_event_time([slow]) == clock.now() + 3
    clock.advance(3)
    assert (rt.container_status(slow).state, rt.container_status(slow).exit_code) == ("exited", 0)
    p = pod("slower", annotations={"sim.minik8s.io/web": '{"stopSeconds": 60}'})
    slower = start(rt, {"name": "web", "image": "nginx:1.27"}, p)
    rt.stop_container(slower, 5)
    clock.advance(5)
    assert rt.container_status(slower).exit_code == 137

    real = SimulatedRuntime(node_name="node-1", clock=RealClock(), images=["nginx:1.27"])
    cid = start(real, {"name": "web", "image": "nginx:1.27"})
    rt_stop = real.clock.now()
    real.stop_container(cid, 30)
    assert real.container_status(cid).state == "running"
    assert real.next_event_time([cid]) == pytest.approx(rt_stop + REAL_CLOCK_STOP_SECONDS, abs=0.05)
