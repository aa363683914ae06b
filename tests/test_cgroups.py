"""Resource limits in the process runtime: cgroups (:mod:`minik8s.kubelet.runtimes.process.cgroups`).

The mapping of requests and limits to cgroup values is checked against upstream's kubelet figures;
the rest runs real processes under real cgroups (root only) or, with ``MINIK8S_CGROUPS=none``, the
fallback that says what it does not enforce.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minik8s.kubelet.runtimes.process import ProcessRuntime, cgroups, runtime_root
from minik8s.kubelet.runtimes.process.cgroups import Cgroup, Limits
from conftest import needs_kubectl, start_server, wait_for
import test_process_runtime as shared

home, cluster = shared.home, shared.cluster    # fixtures: MINIK8S_HOME in tmp_path; a 1-node process cluster
container_status, pod_json = shared.container_status, shared.pod_json

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the process runtime needs Linux /proc")
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="making cgroups needs root")

HOG = "b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * len(b[::4096]); import time; time.sleep(60)"
BUSY = "while True: pass"


# --- upstream's arithmetic ------------------------------------------------------------------------------


def test_cpu_request_and_limit_become_shares_quota_and_weight_as_upstream() -> None:
    # Figures of pkg/kubelet/cm (MilliCPUToShares, MilliCPUToQuota) and CpuSharesToCpuWeight.
    assert [cgroups.cpu_shares(m) for m in (0, 1, 100, 250, 1000, 2000, 10**6)] == [2, 2, 102, 256, 1024, 2048, 262144]
    assert [cgroups.cpu_quota(m) for m in (0, 1, 5, 10, 250, 1500)] == [None, 1000, 1000, 1000, 25000, 150000]
    assert [cgroups.cpu_weight(s) for s in (2, 102, 1024, 262144)] == [1, 4, 39, 10000]


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_more_cpu_never_gets_less_time_or_weight(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert cgroups.cpu_shares(low) <= cgroups.cpu_shares(high)
    assert 1 <= cgroups.cpu_weight(cgroups.cpu_shares(low)) <= cgroups.cpu_weight(cgroups.cpu_shares(high)) <= 10000
    if low:
        quota = cgroups.cpu_quota(low)
        assert quota is not None and quota >= cgroups.MIN_QUOTA_US and quota <= cgroups.cpu_quota(high)  # type: ignore[operator]


def test_a_containers_limits_and_requests_default_as_the_api_defaults_them() -> None:
    assert cgroups.limits_of({}) == Limits(None, None, 2)
    assert cgroups.limits_of({"limits": {"memory": "32Mi", "cpu": "500m"}}) == Limits(32 * 2**20, 50000, 512)
    assert cgroups.limits_of({"requests": {"cpu": "100m"}, "limits": {"cpu": "1"}}) == Limits(None, 100000, 102)


def test_the_pod_cgroup_sums_its_containers_and_covers_its_largest_init_container() -> None:
    def c(**resources: Any) -> dict[str, Any]:
        return {"name": "c", "resources": resources}
    pod = {"spec": {"initContainers": [c(limits={"memory": "300Mi", "cpu": "2"})],
                    "containers": [c(limits={"memory": "100Mi", "cpu": "250m"}),
                                   c(limits={"memory": "50Mi", "cpu": "250m"}, requests={"cpu": "100m"})]}}
    assert cgroups.pod_limits(pod) == Limits(300 * 2**20, 200000, cgroups.cpu_shares(2000))
    # One container without a memory limit: the pod has none either (it can use what the node has).
    pod["spec"]["containers"].append(c(requests={"cpu": "1"}))
    assert cgroups.pod_limits(pod) == Limits(None, None, cgroups.cpu_shares(2000))
    assert cgroups.asked_limits(pod) == ["limits.cpu", "limits.memory", "requests.cpu"]


def test_cgroup_v2_files_are_written_and_read_in_v2_formats(tmp_path: Path) -> None:
    """A v2 cgroup is a folder of files: laid out here as the kernel would, to check what is written."""
    for name in ("memory.oom.group", "cpu.max", "cpu.weight", "memory.max"):
        (tmp_path / name).write_text("")
    group = Cgroup(2, {c: tmp_path for c in cgroups.CONTROLLERS_V1})
    cgroups._apply(group, cgroups.limits_of({"limits": {"memory": "64Mi", "cpu": "250m"}, "requests": {"cpu": "100m"}}))
    written = {name: (tmp_path / name).read_text() for name in ("memory.max", "memory.oom.group", "cpu.max", "cpu.weight")}
    assert written == {"memory.max": str(64 * 2**20), "memory.oom.group": "1", "cpu.max": "25000 100000",
                       "cpu.weight": "4"}
    cgroups._apply(group, Limits())
    assert (tmp_path / "cpu.max").read_text() == "max 100000"
    assert group.procs_files() == [tmp_path / "cgroup.procs"]

    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\n")
    assert not cgroups.oom_killed(group, 137)      # a SIGKILL alone is not an OOM kill
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\n")
    assert cgroups.oom_killed(group, 137)
    (tmp_path / "cpu.stat").write_text("usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n")
    (tmp_path / "memory.current").write_text("10485760\n")
    (tmp_path / "memory.stat").write_text("anon 4194304\nfile 6291456\nactive_file 2097152\ninactive_file 4194304\n")
    assert cgroups.container_usage(group) == (1_500_000, 10485760 - 4194304)


def test_cgroup_v1_oom_kills_and_usage_are_read_in_v1_formats(tmp_path: Path) -> None:
    group = Cgroup(1, {"memory": tmp_path / "memory", "cpu": tmp_path / "cpu", "cpuacct": tmp_path / "cpuacct"})
    for folder in group.dirs.values():
        folder.mkdir()
    memory = group.dirs["memory"]
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    (memory / "memory.failcnt").write_text("7\n")
    assert not cgroups.oom_killed(group, 137)          # the kernel counts kills: none here
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    assert cgroups.oom_killed(group, 0)
    # A kernel older than 4.13 has no counter: a SIGKILL of a cgroup that hit its limit is an OOM kill.
    (memory / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\n")
    assert cgroups.oom_killed(group, 137) and not cgroups.oom_killed(group, 1)
    (memory / "memory.failcnt").write_text("0\n")
    assert not cgroups.oom_killed(group, 137)
    (group.dirs["cpuacct"] / "cpuacct.usage").write_text("123456789\n")
    (memory / "memory.usage_in_bytes").write_text("20971520\n")
    (memory / "memory.stat").write_text("cache 8388608\nrss 12582912\ntotal_inactive_file 4194304\n")
    assert cgroups.container_usage(group) == (123456789, 20971520 - 4194304)


# --- real cgroups, the runtime alone -------------------------------------------------------------------------


@pytest.fixture
def rt(tmp_path: Path, home: Path):
    runtime = ProcessRuntime(node_name="node-1", node_index=0, data_dir=tmp_path / "data")
    yield runtime
    runtime.close()


def a_pod(name: str, command: str, resources: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}-{time.monotonic_ns()}"},
            "spec": {"containers": [{"name": "app", "image": "python", "command": ["python3", "-c", command],
                                     "resources": resources or {}}]}}


def start(rt: ProcessRuntime, pod: dict[str, Any]) -> tuple[str, str]:
    """(sandbox id, container id) of the pod's one container, started."""
    sandbox = rt.run_pod_sandbox(pod)
    container = pod["spec"]["containers"][0]
    rt.pull_image(container["image"], "IfNotPresent", pod)
    cid = rt.create_container(sandbox.id, pod, container, 0)
    rt.start_container(cid)
    return sandbox.id, cid


def exited(rt: ProcessRuntime, cid: str) -> Any:
    status = rt.container_status(cid)
    return status if status.state == "exited" else None


@as_root
def test_the_kernel_oom_kills_a_container_over_its_memory_limit(rt: ProcessRuntime) -> None:
    assert rt.cgroups.enabled, rt.cgroups.reason
    _, cid = start(rt, a_pod("hog", HOG, {"limits": {"memory": "32Mi"}}))
    group = rt._containers[cid].cgroup
    assert group is not None
    memory = group.dirs["memory"]
    if group.version == 1:
        assert (memory / "memory.limit_in_bytes").read_text().strip() == str(32 * 2**20)
    status = wait_for(lambda: exited(rt, cid), timeout=30, what="the OOM kill")
    assert (status.reason, status.exit_code) == ("OOMKilled", 137)
    # The kernel did it (the runtime no longer polls memory when a cgroup holds the container).
    assert cgroups.oom_killed(group, None)


@as_root
def test_every_process_of_a_container_is_in_its_cgroup(rt: ProcessRuntime) -> None:
    script = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    _, cid = start(rt, a_pod("where", script, {"limits": {"cpu": "250m"}}))
    c = rt._containers[cid]
    assert c.cgroup is not None and c.popen is not None
    wait_for(lambda: len(rt._container_pids(c)) >= 2, what="the container's child process")
    # The shell that starts the container joins before it execs, so all it forks is inside too.
    assert {c.popen.pid, *rt._container_pids(c)} <= cgroups._procs(c.cgroup)


@as_root
def test_an_exec_runs_in_the_containers_cgroup(rt: ProcessRuntime) -> None:
    _, cid = start(rt, a_pod("exec", "import time; time.sleep(60)", {"limits": {"memory": "64Mi"}}))
    group = rt._containers[cid].cgroup
    assert group is not None
    wait_for(lambda: rt._containers[cid].popen.pid in cgroups._procs(group), what="the container in its cgroup")  # type: ignore[union-attr]
    before = cgroups._procs(group)
    stream = rt.exec_stream(cid, ["sleep", "5"], stdin=False, tty=False)
    try:
        wait_for(lambda: cgroups._procs(group) > before, what="the exec's processes in the cgroup")
    finally:
        stream.kill()


@as_root
def test_usage_comes_from_the_cgroup_and_grows_for_a_busy_container(rt: ProcessRuntime) -> None:
    _, cid = start(rt, a_pod("busy", BUSY))
    first = wait_for(lambda: (u := rt.container_stats(cid))[0] > 50_000_000 and u, what="CPU use")
    time.sleep(0.3)
    second = rt.container_stats(cid)
    assert second[0] > first[0]
    assert 1_000_000 < second[1] < 500 * 2**20        # a Python interpreter's working set
    group = rt._containers[cid].cgroup
    pids = rt._container_pids(rt._containers[cid])
    from_proc = cgroups.container_usage(None, pids)   # the fallback, summing the processes' own figures
    assert from_proc[0] > 0 and from_proc[1] > 1_000_000
    assert cgroups.container_usage(group)[0] >= second[0]


@as_root
def test_removing_a_pod_kills_and_removes_its_cgroups(rt: ProcessRuntime) -> None:
    sandbox_id, cid = start(rt, a_pod("gone", "import time; time.sleep(60)"))
    group = rt._containers[cid].cgroup
    pod_group = rt._sandboxes[sandbox_id].cgroup
    assert group is not None and pod_group is not None
    assert all(d.is_dir() for d in [*group.dirs.values(), *pod_group.dirs.values()])
    rt.stop_pod_sandbox(sandbox_id)
    rt.remove_pod_sandbox(sandbox_id)
    assert not any(d.exists() for d in [*group.dirs.values(), *pod_group.dirs.values()])


@as_root
def test_a_restarted_node_reaps_its_own_stale_cgroups_and_no_one_elses(tmp_path: Path, home: Path) -> None:
    crashed = ProcessRuntime(node_name="node-1", data_dir=tmp_path / "a")
    other = ProcessRuntime(node_name="node-1", data_dir=tmp_path / "b")   # another cluster, same node name
    try:
        _, cid = start(crashed, a_pod("left", "import time; time.sleep(60)"))
        _, other_cid = start(other, a_pod("kept", "import time; time.sleep(60)"))
        left, kept = crashed._containers[cid].cgroup, other._containers[other_cid].cgroup
        assert left is not None and kept is not None
        pid = crashed._containers[cid].popen.pid  # type: ignore[union-attr]
        restarted = ProcessRuntime(node_name="node-1", data_dir=tmp_path / "a")   # the same node, started again
        try:
            assert not any(d.exists() for d in left.dirs.values())
            wait_for(lambda: crashed._containers[cid].popen.poll() is not None, what=f"pid {pid} killed")  # type: ignore[union-attr]
            assert all(d.is_dir() for d in kept.dirs.values())
        finally:
            restarted.close()
    finally:
        crashed.close()
        other.close()


@as_root
def test_the_cgroups_of_a_cluster_whose_server_died_are_reaped_by_the_next_one(tmp_path: Path, home: Path) -> None:
    crashed = ProcessRuntime(node_name="node-1", data_dir=tmp_path / "a")
    try:
        start(crashed, a_pod("left", "import time; time.sleep(60)"))
        node = crashed.cgroups.node
        assert node is not None
        # Its owner record now names a process that is gone, as after a crash of the server.
        record = next(p for p in (runtime_root() / "cgroups").glob("*.json") if p.stem == node.dirs["memory"].name)
        record.write_text(json.dumps({"owner": 2**22 + 1, "owner_start": 0}))   # above any pid_max
        ProcessRuntime(node_name="node-2", data_dir=tmp_path / "b").close()
        assert not any(d.exists() for d in node.dirs.values())
        assert not record.exists()
    finally:
        crashed.close()


def test_without_cgroups_a_pod_with_limits_is_told_what_is_not_enforced(tmp_path: Path, home: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIK8S_CGROUPS", "none")
    runtime = ProcessRuntime(node_name="node-1", data_dir=tmp_path / "data")
    try:
        assert not runtime.cgroups.enabled and runtime.cgroups.reason == "MINIK8S_CGROUPS=none"
        limited = runtime.run_pod_sandbox(a_pod("limited", "pass", {"limits": {"memory": "64Mi", "cpu": "1"},
                                                                    "requests": {"cpu": "500m"}}))
        [(kind, reason, message)] = runtime.sandbox_messages(limited.id)
        assert (kind, reason) == ("Warning", "ResourceLimitsNotEnforced")
        assert "the kernel does not enforce limits.cpu, limits.memory, requests.cpu;" in message and "MINIK8S_CGROUPS=none" in message
        plain = runtime.run_pod_sandbox(a_pod("plain", "pass"))
        assert runtime.sandbox_messages(plain.id) == []   # nothing asked, nothing to say
    finally:
        runtime.close()


# --- a cluster on the process runtime ------------------------------------------------------------------------


def pod_cgroups(uid: str, controller: str = "cpu") -> list[Path]:
    """The pod's cgroup folders, wherever the node's hierarchy is (found by the pod's uid)."""
    v1 = Path("/sys/fs/cgroup") / controller
    root = v1 if v1.is_dir() else Path("/sys/fs/cgroup")
    return [p for p in root.glob(f"minik8s/*/pod{uid}") if p.is_dir()]


@as_root
def test_cluster_restarts_an_oomkilled_container_with_back_off(cluster: Any) -> None:
    cluster.apply(json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hog"},
        "spec": {"containers": [{"name": "app", "image": "python", "command": ["python3", "-c", HOG],
                                 "resources": {"limits": {"memory": "32Mi"}}}]}}))
    status = wait_for(lambda: (s := container_status(cluster, "hog")).get("restartCount", 0) >= 1 and s,
                      timeout=60, what="a restart after the OOM kill")
    last = status["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("OOMKilled", 137)
    assert pod_json(cluster, "hog")["status"]["qosClass"] == "Burstable"


@as_root
def test_cluster_writes_cpu_limits_as_cfs_quota_and_removes_the_cgroup_with_the_pod(cluster: Any) -> None:
    cluster.apply(json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "capped"},
        "spec": {"containers": [{"name": "app", "image": "python", "command": ["python3", "-c", BUSY],
                                 "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "250m"}}}]}}))
    wait_for(lambda: container_status(cluster, "capped").get("state", {}).get("running"), timeout=30,
             what="the container running")
    uid = pod_json(cluster, "capped")["metadata"]["uid"]
    cid = container_status(cluster, "capped")["containerID"].split("://")[-1]
    [pod_dir] = pod_cgroups(uid)
    container_dir = pod_dir / cid
    if (container_dir / "cpu.max").exists():   # cgroup v2
        assert (container_dir / "cpu.max").read_text().split() == ["25000", "100000"]
        assert (container_dir / "cpu.weight").read_text().strip() == "4"
    else:
        assert (container_dir / "cpu.cfs_quota_us").read_text().strip() == "25000"
        assert (container_dir / "cpu.cfs_period_us").read_text().strip() == "100000"
        assert (container_dir / "cpu.shares").read_text().strip() == "102"
        assert (pod_dir / "cpu.cfs_quota_us").read_text().strip() == "25000"
    cluster.kubectl(["delete", "pod", "capped", "--grace-period=0", "--force"])
    wait_for(lambda: not pod_cgroups(uid) and not pod_cgroups(uid, "memory"), timeout=30,
             what="the pod's cgroups removed")


def test_cluster_without_cgroups_warns_the_pod(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from minik8s import Cluster

    monkeypatch.setenv("MINIK8S_CGROUPS", "none")
    with Cluster(nodes=1, runtime="process", data_dir=tmp_path / "cluster") as cluster:
        cluster.apply(json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "limited"},
            "spec": {"containers": [{"name": "app", "image": "python", "command": ["python3", "-c", "pass"],
                                     "resources": {"limits": {"memory": "64Mi"}}}]}}))

        def warned() -> list[dict[str, Any]]:
            events = json.loads(cluster.kubectl(["get", "events", "-o", "json"]))["items"]
            return [e for e in events if e["reason"] == "ResourceLimitsNotEnforced"]
        [event] = wait_for(warned, timeout=30, what="the ResourceLimitsNotEnforced event")
        assert event["type"] == "Warning" and event["involvedObject"]["name"] == "limited"
        assert "the kernel does not enforce limits.memory; memory use is polled" in event["message"]


# --- minik8s server, the real kubectl --------------------------------------------------------------------------


@as_root
@needs_kubectl
def test_server_reports_oomkilled_to_kubectl_and_its_cgroups_outlive_a_crash_only_until_restart(
        tmp_path: Path) -> None:
    hog = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hog"},
           "spec": {"containers": [{"name": "app", "image": "python", "command": ["python3", "-c", HOG],
                                    "resources": {"limits": {"memory": "32Mi"}}}]}}
    srv = start_server(tmp_path, "--runtime", "process", "--nodes", "1")
    try:
        assert srv.kubectl("apply", "-f", "-", stdin=json.dumps(hog)).returncode == 0
        wait_for(lambda: int(srv.kubectl("get", "pod", "hog", "-o",
                                         "jsonpath={.status.containerStatuses[0].restartCount}").stdout or 0) >= 1,
                 timeout=60, what="a restart after the OOM kill")
        described = srv.kubectl("describe", "pod", "hog").stdout
        last = described[described.index("Last State:"):]
        assert "Terminated" in last.splitlines()[0]
        assert [line.split()[-1] for line in last.splitlines()[1:3]] == ["OOMKilled", "137"]
        assert "QoS Class:                   Burstable" in described
        uid = srv.kubectl("get", "pod", "hog", "-o", "jsonpath={.metadata.uid}").stdout
        [pod_dir] = wait_for(lambda: pod_cgroups(uid, "memory"), what="the pod's cgroup")
        containers = [p for p in pod_dir.iterdir() if p.is_dir()]
        assert containers
    finally:
        srv.process.kill()   # a crash: nobody removes the cgroups
        srv.process.wait(timeout=20)
    assert all(p.is_dir() for p in containers)
    again = start_server(tmp_path, "--runtime", "process", "--nodes", "1", data_dir=srv.data_dir)
    try:
        # The restarted node removed what it had left (the pod itself comes back, in new containers).
        wait_for(lambda: not any(p.exists() for p in containers), what="the stale cgroups reaped")
        wait_for(lambda: again.kubectl("get", "pod", "hog", "-o", "jsonpath={.status.containerStatuses[0].containerID}"
                                       ).stdout.split("//")[-1] not in ("", *(p.name for p in containers)),
                 timeout=60, what="the pod in a new container")
    finally:
        assert again.stop() == 0
    assert not pod_dir.parent.exists()   # a server that stops removes its node's cgroups
