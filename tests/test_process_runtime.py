"""The ``process`` runtime: real processes behind the CRI, then a whole cluster on it.

Nothing here sleeps for a fixed time: every wait polls a condition with a deadline.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from minik8s.images import build as builder
from minik8s.kubelet import logs as container_logs
from minik8s.kubelet.cri import ExecStartError, ImagePullError
from minik8s.kubelet.runtimes.process import ContainerConfigError, MountError, ProcessRuntime, isolation, network, supervisor
from minik8s.kubelet.runtimes.process.filesystem import Mounts
from conftest import wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the process runtime needs Linux /proc")


def get(url: str, timeout: float = 2.0) -> tuple[int, str, dict[str, str]]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def try_get(url: str) -> tuple[int, str, dict[str, str]] | None:
    try:
        return get(url, timeout=0.5)
    except OSError:
        return None


def alive(pid: int) -> bool:
    return supervisor.start_ticks(pid) is not None and supervisor._stat_fields(pid)[0] != "Z"  # type: ignore[index]


def pod(name: str, *containers: dict[str, Any], volumes: list[dict[str, Any]] | None = None,
        uid: str | None = None) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default", "uid": uid or f"uid-{name}-{time.monotonic_ns()}"},
            "spec": {"nodeName": "node-1", "containers": list(containers), "volumes": volumes or []}}


class FakeClient:
    """Only ``get``: what the runtime reads (ConfigMaps, Secrets, PVCs, PVs)."""

    def __init__(self, objects: dict[tuple[str, str, str], dict[str, Any]]):
        self.objects = objects

    def get(self, resource: Any, name: str, namespace: str | None = None, **_: Any) -> dict[str, Any]:
        from minik8s.api.errors import StatusError

        found = self.objects.get((resource.plural, namespace or "", name))
        if found is None:
            raise StatusError(404, "NotFound", f'{resource.plural} "{name}" not found')
        return found


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MINIK8S_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def rt(tmp_path: Path, home: Path):
    runtime = ProcessRuntime(node_name="node-1", node_index=0, data_dir=tmp_path / "data", client=FakeClient({}))
    yield runtime
    runtime.close()


def run(rt: ProcessRuntime, p: dict[str, Any]) -> tuple[str, list[str]]:
    """Sandbox, pull, create and start every container of a pod; returns (pod IP, container ids)."""
    sandbox = rt.run_pod_sandbox(p)
    ids = []
    for c in p["spec"]["containers"]:
        rt.pull_image(c["image"], "IfNotPresent", p)
        cid = rt.create_container(sandbox.id, p, c, 0)
        rt.start_container(cid)
        ids.append(cid)
    return sandbox.ip, ids


def exited(rt: ProcessRuntime, cid: str) -> Any:
    status = rt.container_status(cid)
    return status if status.state == "exited" else None


# --- the runtime alone ----------------------------------------------------------------------------


def test_nginx_serves_a_page_naming_its_pod_on_its_own_ip(rt: ProcessRuntime) -> None:
    ip1, (web1,) = run(rt, pod("web-1", {"name": "nginx", "image": "nginx:1.27"}))
    ip2, _ = run(rt, pod("web-2", {"name": "nginx", "image": "nginx"}))
    assert ip1 != ip2 and ip1.startswith("127.1.1.")
    code, body, headers = wait_for(lambda: try_get(f"http://{ip1}/"), what="nginx on port 80")
    assert code == 200 and "Welcome to nginx!" in body and "<b>web-1</b>" in body
    assert headers["Server"].startswith("nginx/")
    assert "<b>web-2</b>" in wait_for(lambda: try_get(f"http://{ip2}/"))[1]   # both pods serve port 80
    assert get(f"http://{ip1}/healthz")[0] == 200
    assert get(f"http://{ip1}/missing")[0] == 404
    assert rt.probe_http(ip1, 80, "/healthz", "HTTP", {}, 1) == 200
    assert rt.probe_tcp(ip1, 80, 1) and not rt.probe_tcp(ip1, 81, 1)
    logs = wait_for(lambda: '"GET / HTTP/1.1" 200' in rt.logs(web1) and rt.logs(web1))
    assert "start worker processes" in logs


def test_nginx_speaks_http_1_1_as_nginx_does(rt: ProcessRuntime) -> None:
    """The image's own small HTTP server: keep-alive, HEAD, nginx's 405 and 400 pages."""
    import http.client
    import socket

    ip, _ = run(rt, pod("web", {"name": "nginx", "image": "nginx"}))
    wait_for(lambda: try_get(f"http://{ip}/healthz"), what="nginx on port 80")
    connection = http.client.HTTPConnection(ip, 80, timeout=10)
    for path, code in (("/", 200), ("/missing", 404), ("/healthz", 200), ("/?page=2#top", 200),
                       ("/index%2Ehtml", 200), ("/%2E%2E/etc/passwd", 400)):   # one connection, kept alive
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == code and response.getheader("Server") == "nginx/1.27.3"
        assert len(response.read()) == int(response.getheader("Content-Length"))
    connection.request("HEAD", "/")
    head = connection.getresponse()
    assert head.status == 200 and int(head.getheader("Content-Length")) > 0 and head.read() == b""
    connection.request("POST", "/", body=b"x")
    refused = connection.getresponse()
    assert (refused.status, refused.reason) == (405, "Not Allowed")
    assert b"<center><h1>405 Not Allowed</h1></center>" in refused.read()
    connection.close()
    with socket.create_connection((ip, 80), timeout=10) as raw:
        raw.sendall(b"nonsense\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):   # until the server closes the connection (a timeout fails the test)
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n") and b"<h1>400 Bad Request</h1>" in answer


def test_containers_of_a_pod_share_localhost_and_volumes(rt: ProcessRuntime) -> None:
    script = ("echo hello from $HOSTNAME; echo stored > /data/x; wget -qO- http://localhost:80/healthz; "
              "cat /data/x; sleep 600")
    p = pod("shared", {"name": "web", "image": "nginx"},
            {"name": "shell", "image": "busybox", "command": ["sh", "-c", script],
             "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
            volumes=[{"name": "data", "emptyDir": {}}])
    ip, (web, shell) = run(rt, p)
    wait_for(lambda: try_get(f"http://{ip}/healthz"))
    # The sidecar may have tried before nginx listened: look for the output of a run that found it.
    logs = wait_for(lambda: "stored" in rt.logs(shell) and rt.logs(shell), what="the shell's output")
    assert logs.startswith("hello from shared\n")
    result = rt.exec_sync(shell, ["cat", "/data/x"], 5)
    assert (result.exit_code, result.stdout) == (0, "stored\n")
    assert rt.exec_sync(shell, ["hostname"], 5).stdout == "shared\n"
    assert rt.exec_sync(shell, ["sh", "-c", "echo $HOSTNAME; exit 3"], 5).exit_code == 3
    with pytest.raises(ExecStartError, match='exec: "foo": executable file not found in \\$PATH'):
        rt.exec_sync(shell, ["foo"], 5)
    # The volume is a real folder of the pod, outside the container's own files.
    volume = next(Path(h) for c, h in rt._containers[shell].mounts.table if c == "/data")
    assert (volume / "x").read_text() == "stored\n" and "kubernetes.io~empty-dir" in str(volume)


def test_a_hostpath_the_kubelet_creates_is_writable_by_the_container_and_outlives_the_pod(rt: ProcessRuntime) -> None:
    script = "n=$(cat /data/count 2>/dev/null || echo 0); echo $((n+1)) > /data/count; echo > /log/x; cat /data/count; sleep 600"
    volumes = [{"name": "data", "hostPath": {"path": "/var/local/count", "type": "DirectoryOrCreate"}},
               {"name": "log", "hostPath": {"path": "/var/log/app", "type": ""}}]
    mounts = [{"name": "data", "mountPath": "/data"}, {"name": "log", "mountPath": "/log"}]
    counts = []
    for name in ("first", "second"):   # two pods in turn, as a Deployment replaces one: the count goes on
        _, (cid,) = run(rt, pod(name, {"name": "c", "image": "busybox", "command": ["sh", "-c", script],
                                       "volumeMounts": mounts}, volumes=volumes))
        counts.append(wait_for(lambda: rt.logs(cid).strip(), what="the count"))
    assert counts == ["1", "2"]


def test_unknown_image_fails_to_pull_and_lists_what_exists(rt: ProcessRuntime) -> None:
    with pytest.raises(ImagePullError) as err:
        rt.pull_image("no-such-image:1.0", "IfNotPresent")
    assert err.value.reason == "ErrImagePull"
    assert 'failed to pull and unpack image "docker.io/library/no-such-image:1.0"' in err.value.message
    assert "nginx" in err.value.message and "busybox" in err.value.message
    with pytest.raises(ImagePullError) as never:
        rt.pull_image("no-such-image:1.0", "Never")
    assert never.value.reason == "ErrImageNeverPull"
    with pytest.raises(ImagePullError) as bad:
        rt.pull_image("UPPER:case", "IfNotPresent")
    assert bad.value.reason == "InvalidImageName"
    first = rt.pull_image("nginx:1.27", "IfNotPresent")
    again = rt.pull_image("nginx:1.27", "IfNotPresent")
    assert first.pulled and not again.pulled
    assert first.image_id == again.image_id and first.image_id.startswith("sha256:")
    # Policy Always pulls again (for a built-in image, a quick check): a pull, never "already present".
    assert rt.pull_image("nginx:1.27", "Always").pulled
    assert any("docker.io/library/nginx:1.27" in i.names for i in rt.list_images())


def test_a_command_that_does_not_exist_is_a_start_error(rt: ProcessRuntime) -> None:
    _, (cid,) = run(rt, pod("bad", {"name": "c", "image": "busybox", "command": ["foo"]}))
    status = rt.container_status(cid)
    assert (status.state, status.reason, status.exit_code) == ("exited", "StartError", 128)
    assert 'exec: "foo": executable file not found in $PATH' in status.message


def test_exit_codes_become_terminated_states(rt: ProcessRuntime) -> None:
    _, (ok, fail) = run(rt, pod("codes", {"name": "ok", "image": "busybox", "command": ["sh", "-c", "echo done"]},
                                {"name": "fail", "image": "busybox", "command": ["sh", "-c", "echo oops >&2; exit 3"]}))
    assert (wait_for(lambda: exited(rt, ok)).exit_code, rt.container_status(ok).reason) == (0, "Completed")
    assert (wait_for(lambda: exited(rt, fail)).exit_code, rt.container_status(fail).reason) == (3, "Error")
    assert rt.logs(ok) == "done\n" and rt.logs(fail) == "oops\n"
    # A busybox with no command runs sh with no input: it exits 0 at once.
    _, (bare,) = run(rt, pod("bare", {"name": "c", "image": "busybox"}))
    assert wait_for(lambda: exited(rt, bare)).exit_code == 0


def test_memory_limit_is_enforced_as_an_oom_kill(rt: ProcessRuntime) -> None:
    hog = "import time; x = bytearray(200 * 1024 * 1024); x[::4096] = b'x' * len(x[::4096]); time.sleep(60)"
    _, (cid,) = run(rt, pod("hog", {"name": "c", "image": "python:3.11", "command": ["python", "-c", hog],
                                    "resources": {"limits": {"memory": "64Mi"}}}))
    status = wait_for(lambda: exited(rt, cid), timeout=20, what="the OOM kill")
    assert (status.reason, status.exit_code) == ("OOMKilled", 137)


def test_sigterm_ignoring_process_is_killed_after_the_grace_period(rt: ProcessRuntime) -> None:
    script = "trap '' TERM; echo started; while true; do sleep 0.1; done"
    _, (cid,) = run(rt, pod("stubborn", {"name": "c", "image": "busybox", "command": ["sh", "-c", script]}))
    wait_for(lambda: "started" in rt.logs(cid))
    stopped_at = time.monotonic()
    rt.stop_container(cid, 1.0)
    assert rt.container_status(cid).state == "running"        # stop does not block
    assert rt.next_event_time([cid]) is not None
    status = wait_for(lambda: exited(rt, cid), timeout=10, what="the SIGKILL")
    assert status.exit_code == 137 and time.monotonic() - stopped_at >= 1.0
    # A well-behaved container exits on SIGTERM well before its grace period.
    ip, (web,) = run(rt, pod("polite", {"name": "nginx", "image": "nginx"}))
    wait_for(lambda: try_get(f"http://{ip}/healthz"))
    rt.stop_container(web, 30)
    assert wait_for(lambda: exited(rt, web), timeout=5).exit_code == 0


def test_port_in_use_makes_nginx_exit_with_nginx_message(rt: ProcessRuntime) -> None:
    import socket

    sandbox_pod = pod("busy", {"name": "a", "image": "nginx"}, {"name": "b", "image": "nginx"})
    ip, (a, b) = run(rt, sandbox_pod)
    statuses = wait_for(lambda: [s for s in (exited(rt, a), exited(rt, b)) if s], what="one nginx to fail")
    loser = statuses[0]
    assert loser.exit_code == 1
    assert "bind() to 0.0.0.0:80 failed (98: Address already in use)" in rt.logs(loser.id)
    with socket.socket() as s:  # the other one still serves
        s.settimeout(1)
        s.connect((ip, 80))


def test_a_child_that_exited_is_seen_without_being_reaped() -> None:
    child = subprocess.Popen(["true"], start_new_session=True)
    wait_for(lambda: supervisor.exited(child.pid), what="true to exit")
    assert supervisor._stat_fields(child.pid)[0] == "Z"   # type: ignore[index]  # a zombie: its pid is still its own
    assert child.poll() == 0 and supervisor.start_ticks(child.pid) is None and not supervisor.exited(child.pid)


def test_a_session_is_signalled_only_while_its_leader_is_not_reaped(tmp_path: Path, home: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Once reaped, a container's pid (its session's id) may be given to another process (pids wrap at
    pid_max): every signal the runtime sends to a session goes while its leader still holds the number."""
    sent: list[tuple[int, int, bool]] = []
    real = supervisor.kill_session

    def recording(sid: int, sig: int, *args: Any, **kwargs: Any) -> None:
        sent.append((sid, sig, supervisor.start_ticks(sid) is not None))   # still running, or a zombie
        real(sid, sig, *args, **kwargs)

    monkeypatch.setattr(supervisor, "kill_session", recording)
    runtime = ProcessRuntime(node_name="node-1", node_index=0, data_dir=tmp_path / "data", client=FakeClient({}))
    try:
        _, (quick,) = run(runtime, pod("quick", {"name": "c", "image": "busybox", "command": ["sh", "-c", "exit 3"]}))
        assert wait_for(lambda: exited(runtime, quick), what="the container to exit").exit_code == 3
        _, (slow,) = run(runtime, pod("slow", sleeper("c")))
        runtime.stop_container(slow, 0)
        assert wait_for(lambda: exited(runtime, slow)).exit_code == 137
        _, (last,) = run(runtime, pod("last", sleeper("c")))
        leaders = {runtime._containers[cid].popen.pid for cid in (quick, slow, last)}   # type: ignore[union-attr]
    finally:
        runtime.close()
    assert {sid for sid, _, _ in sent} == leaders   # the exit, the stop and the close each signalled
    assert all(held for _, _, held in sent), sent


STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")  # RFC3339Nano, fixed width, as the kubelet prints


def test_logs_are_cri_records_stamped_when_each_line_came(rt: ProcessRuntime) -> None:
    # Three lines a moment apart, the second on stderr, the last without its newline.
    _, (cid,) = run(rt, pod("stamps", {"name": "c", "image": "busybox",
                                       "command": ["sh", "-c", "echo one; sleep 0.3; echo two >&2; sleep 0.3; "
                                                               "printf three"]}))
    before = time.time_ns()
    wait_for(lambda: exited(rt, cid))
    assert rt.logs(cid) == "one\ntwo\nthree"
    entries = rt.log_entries(cid)
    assert [(e.stream, e.text) for e in entries] == [("stdout", "one\n"), ("stderr", "two\n"), ("stdout", "three")]
    first, second, third = (e.time_ns for e in entries)
    assert second - first >= 250_000_000 and third - second >= 250_000_000 and third <= time.time_ns()
    assert first >= before - 1_000_000_000
    # On disk, the CRI log format: <time> <stream> <F|P> <text>, P for the unfinished last line.
    records = rt.log_path(cid).read_text().splitlines()
    assert [r.split(" ", 1)[1] for r in records] == ["stdout F one", "stderr F two", "stdout P three"]
    stamped = container_logs.read(entries, timestamps=True).splitlines()
    assert all(STAMP.match(line) for line in stamped) and [s[31:] for s in stamped] == ["one", "two", "three"]


def test_a_container_faster_than_its_pipe_loses_nothing(rt: ProcessRuntime) -> None:
    # 600 KB at once: many times what a pipe holds (64 KiB), so the container waits on the runtime's reads.
    _, (cid,) = run(rt, pod("chatty", {"name": "c", "image": "python",
                                       "command": ["python", "-c", "for i in range(100000): print(i)"]}))
    wait_for(lambda: exited(rt, cid))
    assert rt.logs(cid).splitlines() == [str(i) for i in range(100000)]


def test_close_leaves_no_pipe_file_or_log_thread_behind(tmp_path: Path, home: Path) -> None:
    fds = set(os.listdir("/proc/self/fd"))
    runtime = ProcessRuntime(node_name="node-9", node_index=0, data_dir=tmp_path / "data")
    _, (done, running) = run(runtime, pod("p", {"name": "a", "image": "busybox", "command": ["sh", "-c", "echo hi"]},
                                          {"name": "b", "image": "busybox",
                                           "command": ["sh", "-c", "echo up; sleep 600"]}))
    wait_for(lambda: exited(runtime, done))
    wait_for(lambda: runtime.logs(running) == "up\n")
    assert len(set(os.listdir("/proc/self/fd")) - fds) >= 3  # the running container's pipes and log file
    runtime.close()
    assert set(os.listdir("/proc/self/fd")) - fds == set()
    assert not [t for t in threading.enumerate() if t.name == "container-logs-node-9"]


def test_close_stops_everything_and_orphans_are_reaped(tmp_path: Path, home: Path) -> None:
    runtime = ProcessRuntime(node_name="node-1", node_index=0, data_dir=tmp_path / "data")
    _, ids = run(runtime, pod("p", {"name": "a", "image": "busybox", "command": ["sh", "-c", "sleep 600 & sleep 600"]},
                              {"name": "b", "image": "nginx"}))
    wait_for(lambda: len(supervisor.session_pids(runtime._containers[ids[0]].popen.pid)) >= 3)  # type: ignore
    pids = [p for cid in ids for p in supervisor.session_pids(runtime._containers[cid].popen.pid)]  # type: ignore
    runtime.close()
    assert not [(p, Path(f"/proc/{p}/cmdline").read_bytes()) for p in pids if alive(p)]
    assert not list((runtime.pidfiles.run_dir).glob(f"{ids[0]}.json"))
    # A runtime that died without close(): its pid file names a dead owner, so the next one kills the process.
    orphan = subprocess.Popen(["sleep", "600"], start_new_session=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    files = supervisor.PidFiles(runtime.pidfiles.run_dir)
    files.owner, files.owner_start = dead.pid, 12345
    files.write("orphan-test", orphan.pid)
    ProcessRuntime(node_name="node-1", node_index=0, data_dir=tmp_path / "data2").close()
    assert orphan.wait(timeout=5) == -signal.SIGKILL


def test_env_valuefrom_and_configmap_volume(tmp_path: Path, home: Path) -> None:
    objects = {("configmaps", "default", "cfg"): {"data": {"color": "blue", "app.conf": "x=1\n"}},
               ("secrets", "default", "pw"): {"data": {"password": "czNjcjN0"}}}
    runtime = ProcessRuntime(node_name="node-1", data_dir=tmp_path / "data", client=FakeClient(objects))
    try:
        container = {"name": "c", "image": "busybox", "workingDir": "/work",
                     "command": ["sh", "-c", "pwd; echo $COLOR $PASSWORD $POD $NS $IP $GREETING; cat /etc/cfg/app.conf;"
                                 " touch here; sleep 600"],
                     "env": [{"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "color"}}},
                             {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "pw", "key": "password"}}},
                             {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                             {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                             {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                             {"name": "GREETING", "value": "hi-$(POD)"}],
                     "volumeMounts": [{"name": "cfg", "mountPath": "/etc/cfg"}]}
        ip, (cid,) = run(runtime, pod("envy", container, volumes=[{"name": "cfg", "configMap": {"name": "cfg"}}]))
        logs = wait_for(lambda: "x=1" in runtime.logs(cid) and runtime.logs(cid))
        lines = logs.splitlines()
        # Contained, the working directory is the container's /work; without containment, its folder.
        assert lines[0] == "/work" if runtime.isolation == "bwrap" else lines[0].endswith("/rootfs/work")
        assert lines[1] == f"blue s3cr3t envy default {ip} hi-envy"
        # exec runs in the working directory (`touch here` follows the logged lines, so wait for it)
        wait_for(lambda: runtime.exec_sync(cid, ["ls"], 5).stdout == "here\n", what="ls to list here")
        missing = {"name": "c", "image": "busybox",
                   "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "nope", "key": "k"}}}]}
        sandbox = runtime.run_pod_sandbox(pod("bad-env", missing))
        with pytest.raises(ContainerConfigError, match='configmap "nope" not found'):
            runtime.create_container(sandbox.id, pod("bad-env", missing), missing, 0)
        bad_volume = pod("bad-vol", {"name": "c", "image": "busybox"},
                         volumes=[{"name": "h", "hostPath": {"path": "/srv/none", "type": "Directory"}}])
        sandbox = runtime.run_pod_sandbox(bad_volume)
        with pytest.raises(MountError, match="hostPath type check failed: /srv/none is not a directory"):
            runtime.create_container(sandbox.id, bad_volume, bad_volume["spec"]["containers"][0], 0)
    finally:
        runtime.close()


def test_low_ports_move_up_when_they_cannot_be_bound(tmp_path: Path, home: Path) -> None:
    runtime = ProcessRuntime(node_name="node-1", data_dir=tmp_path / "data", port_offset=8000)
    try:
        p = pod("shifted", {"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}]})
        ip, _ = run(runtime, p)
        assert wait_for(lambda: try_get(f"http://{ip}:8080/"))[0] == 200
        assert runtime.probe_http(ip, 80, "/", "HTTP", {}, 1) == 200
        messages = runtime.sandbox_messages(next(iter(runtime._sandboxes)))
        assert messages and messages[0][1] == "PortsRemapped" and "80 -> 8080" in messages[0][2]
    finally:
        runtime.close()


def test_cpu_use_is_measured(rt: ProcessRuntime) -> None:
    _, (busy,) = run(rt, pod("busy-cpu", {"name": "c", "image": "busybox", "command": ["sh", "-c", "while :; do :; done"]}))
    rt.stats(busy)
    start = time.monotonic()
    wait_for(lambda: time.monotonic() - start > 0.3 and supervisor.cpu_seconds(
        supervisor.session_pids(rt._containers[busy].popen.pid)) > 0.2)  # type: ignore[union-attr]
    cpu, memory = rt.stats(busy)
    # Busy for certain, yet on a loaded machine the loop may get far less than a core: an idle shell reads 0.
    assert cpu > 50 and memory > 0


def test_mount_rewriting_is_word_bounded() -> None:
    mounts = Mounts([("/data", "/host/vol"), ("/data/sub", "/host/sub"), ("/tmp", "/host/tmp")],
                    guards=("/host",))
    assert mounts.rewrite("echo x > /data/a && cat /data/sub/b /data") == \
        "echo x > /host/vol/a && cat /host/sub/b /host/vol"
    assert mounts.rewrite("http://web/data /database /x/data --dir=/data") == \
        "http://web/data /database /x/data --dir=/host/vol"
    assert mounts.host_path("/tmp/x") == "/host/tmp/x" and mounts.host_path("/host/tmp/x") == "/host/tmp/x"
    assert mounts.rewrite(mounts.rewrite("cat /tmp/x")) == "cat /host/tmp/x"   # rewriting twice is harmless


def test_images_built_here_run_with_their_files_env_and_cmd(rt: ProcessRuntime, tmp_path: Path) -> None:
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "app.py").write_text(
        "import os\nprint(open('/app/message.txt').read().strip(), os.environ['GREETING'], os.getcwd().endswith('/app'))\n")
    (context / "message.txt").write_text("from the image\n")
    (context / "Dockerfile").write_text('FROM python:3.11\nWORKDIR /app\nCOPY . .\nENV GREETING=hi\n'
                                        'CMD ["python", "app.py"]\n')
    builder.build(context, ["myapp:1.0"], rt.images)
    _, (cid,) = run(rt, pod("built", {"name": "app", "image": "myapp:1.0"}))
    status = wait_for(lambda: exited(rt, cid))
    assert (status.exit_code, rt.logs(cid)) == (0, "from the image hi True\n")


# --- a cluster on the process runtime -------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path, home: Path):
    from minik8s import Cluster

    c = Cluster(nodes=1, runtime="process", data_dir=tmp_path / "cluster")
    yield c
    c.stop()


def pod_json(cluster: Any, name: str) -> dict[str, Any]:
    return dict(json.loads(cluster.kubectl(["get", "pod", name, "-o", "json"])))


def container_status(cluster: Any, name: str) -> dict[str, Any]:
    statuses = pod_json(cluster, name).get("status", {}).get("containerStatuses") or [{}]
    return dict(statuses[0])


def test_cluster_runs_nginx_logs_exec_and_stops_clean(cluster: Any) -> None:
    cluster.apply("""
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: nginx
    image: nginx:1.27
    ports: [{containerPort: 80}]
    readinessProbe: {httpGet: {path: /healthz, port: 80}, periodSeconds: 1}
""")
    wait_for(lambda: container_status(cluster, "web").get("ready"), timeout=20, what="web to be ready")
    obj = pod_json(cluster, "web")
    ip = obj["status"]["podIP"]
    assert ip.startswith("127.1.1.") and obj["status"]["phase"] == "Running"
    code, body, _ = get(f"http://{ip}/")
    assert code == 200 and "<b>web</b>" in body
    kubelet = cluster.kubelets[0]
    assert "start worker processes" in kubelet.logs("default", "web")
    stamped = kubelet.logs("default", "web", timestamps=True).splitlines()
    assert stamped and all(STAMP.match(line) for line in stamped)
    assert [line[31:] for line in stamped] == kubelet.logs("default", "web").splitlines()
    result = kubelet.exec("default", "web", None, ["cat", "/usr/share/nginx/html/index.html"])
    assert result.exit_code == 0 and "Welcome to nginx!" in result.stdout
    runtime = kubelet.runtime
    pids = [p for c in runtime._containers.values() if c.popen for p in supervisor.session_pids(c.popen.pid)]
    assert pids
    cluster.stop()
    assert not [p for p in pids if alive(p)]


SEED_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx
spec:
  replicas: 2
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - image: nginx:latest
        name: container-0
        resources:
          limits:
            cpu: 100m
            memory: 200Mi
          requests:
            cpu: 100m
            memory: 200Mi
"""


def test_default_cluster_runs_the_seed_deployment_as_real_processes(tmp_path: Path, home: Path) -> None:
    """Cluster() with no arguments: the process runtime and the real clock. Each replica answers on its
    own IP with its own name; kubectl logs and exec reach the real processes."""
    from minik8s import Cluster

    with Cluster(data_dir=tmp_path / "cluster") as c:
        assert c.runtime == "process" and not c.virtual
        assert c.apply(SEED_DEPLOYMENT) == "deployment.apps/nginx created\n"
        assert "condition met" in c.kubectl("wait --for=condition=Available deploy/nginx --timeout=60s")
        pods = json.loads(c.kubectl("get pods -l app=nginx -o json"))["items"]
        assert len(pods) == 2
        for p in pods:
            name, ip = p["metadata"]["name"], p["status"]["podIP"]
            # Without a readiness probe a container is Ready once started, before nginx listens: as on a
            # real cluster, the first requests may be refused for a moment.
            code, body, _ = wait_for(lambda: try_get(f"http://{ip}/"), timeout=10, what=f"{name} to listen")
            assert code == 200 and f"<b>{name}</b>" in body
            assert "start worker processes" in c.kubectl(["logs", name])
            assert c.kubectl(["exec", name, "--", "sh", "-c", "echo $HOSTNAME"]) == name + "\n"


def test_cluster_liveness_probe_restarts_a_real_process(cluster: Any) -> None:
    server = ("import http.server, time\nstart = time.time()\n"
              "class H(http.server.BaseHTTPRequestHandler):\n"
              "    def do_GET(self):\n"
              "        self.send_response(200 if time.time() - start < 2 else 500); self.end_headers()\n"
              "print('serving', flush=True)\nhttp.server.HTTPServer(('', 8080), H).serve_forever()\n")
    cluster.apply(json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sick"},
        "spec": {"containers": [{"name": "app", "image": "python:3.11", "command": ["python", "-c", server],
                                 "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080},
                                                   "initialDelaySeconds": 1, "periodSeconds": 1,
                                                   "failureThreshold": 2}}]}}, indent=1))
    status = wait_for(lambda: container_status(cluster, "sick").get("restartCount", 0) >= 1
                      and container_status(cluster, "sick"), timeout=30, what="a liveness restart")
    assert status["lastState"]["terminated"]["exitCode"] in (137, 143, 0)
    previous = cluster.kubelets[0].logs("default", "sick", previous=True)
    assert "serving" in previous


def test_cluster_memory_limit_oomkilled(cluster: Any) -> None:
    hog = "x = bytearray(300 * 1024 * 1024); x[::4096] = b'x' * len(x[::4096]); import time; time.sleep(60)"
    cluster.apply(json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hog"},
        "spec": {"restartPolicy": "Never",
                 "containers": [{"name": "app", "image": "python", "command": ["python", "-c", hog],
                                 "resources": {"limits": {"memory": "100Mi"}}}]}}, indent=1))
    state = wait_for(lambda: container_status(cluster, "hog").get("state", {}).get("terminated"), timeout=30,
                     what="the OOM kill")
    assert (state["reason"], state["exitCode"]) == ("OOMKilled", 137)
    assert pod_json(cluster, "hog")["status"]["phase"] == "Failed"


def test_a_volume_mounted_over_an_image_folder_hides_the_image_files(cluster: Any) -> None:
    cluster.apply("""
apiVersion: v1
kind: Pod
metadata: {name: site}
spec:
  volumes: [{name: html, emptyDir: {}}]
  containers:
  - name: nginx
    image: nginx:1.27
    volumeMounts: [{name: html, mountPath: /usr/share/nginx/html}]
  - name: writer
    image: busybox:1.36
    command: [sh, -c, "echo from the volume > /html/index.html; sleep 3600"]
    volumeMounts: [{name: html, mountPath: /html}]
""")
    wait_for(lambda: all(s.get("ready") for s in pod_json(cluster, "site").get("status", {})
                         .get("containerStatuses") or [{}]), timeout=20, what="site to be ready")
    ip = pod_json(cluster, "site")["status"]["podIP"]

    def served() -> bool:
        answer = try_get(f"http://{ip}/")  # None until nginx listens
        return answer is not None and answer[:2] == (200, "from the volume\n")

    wait_for(served, timeout=20, what="nginx to serve the file from the volume, not the image's page")


def test_cluster_deletes_a_pod_as_soon_as_its_sigterm_ignoring_process_is_killed(cluster: Any) -> None:
    # The kubelet must notice the kill at once, even when the exit shows up after its pass looked.
    cluster.apply("""
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: busybox, command: [sh, -c, "trap '' TERM; echo started; while true; do sleep 0.1; done"]}
""")
    wait_for(lambda: "running" in container_status(cluster, "stubborn").get("state", {}), timeout=20,
             what="stubborn to run")
    started = time.monotonic()
    cluster.kubectl(["delete", "pod", "stubborn", "--wait=false"])
    wait_for(lambda: "stubborn" not in cluster.kubectl(["get", "pods", "-o", "name"]), timeout=10,
             what="the pod to be gone")
    assert time.monotonic() - started < 5


def test_a_subpath_symlink_out_of_its_volume_is_refused(cluster: Any) -> None:
    cluster.apply("""
apiVersion: v1
kind: Pod
metadata: {name: escape}
spec:
  volumes: [{name: data, emptyDir: {}}]
  initContainers:
  - {name: link, image: busybox, command: [sh, -c, "ln -s /etc /data/etc"], volumeMounts: [{name: data, mountPath: /data}]}
  containers:
  - {name: app, image: busybox, command: [sh, -c, "ls /host-etc; sleep 3600"],
     volumeMounts: [{name: data, mountPath: /host-etc, subPath: etc}]}
""")
    waiting = wait_for(lambda: container_status(cluster, "escape").get("state", {}).get("waiting", {})
                       .get("reason") == "CreateContainerConfigError"
                       and container_status(cluster, "escape")["state"]["waiting"], timeout=20,
                       what="the subPath to be refused")
    assert waiting["message"] == 'failed to prepare subPath for volumeMount "data" of container "app"'


# --- containment: a container sees its own files, volumes and processes -----------------------------
#
# Each assertion below fails on a runtime that runs containers as plain host processes (the fallback).


def sleeper(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", "sleep 600"], **extra}


def sh(rt: ProcessRuntime, cid: str, script: str) -> Any:
    return rt.exec_sync(cid, ["sh", "-c", script], 10)


def test_a_container_sees_its_image_files_not_the_hosts(rt: ProcessRuntime) -> None:
    _, (cid,) = run(rt, pod("contained", sleeper("c")))
    inside = set(sh(rt, cid, "ls -a /").stdout.split())
    # The host's own folders (/home, /var, /opt, this checkout's /work...) are not there: only the
    # container's files, the node's read-only OS folders and the runtime's /.minik8s.
    assert inside <= CONTAINER_ROOT, inside - CONTAINER_ROOT
    assert sh(rt, cid, "cat /etc/hostname").stdout == "contained\n"
    assert sh(rt, cid, f"test -e {Path.cwd()} || echo absent").stdout == "absent\n"
    assert sh(rt, cid, "ls -a /root").stdout.split() == [".", ".."]


CONTAINER_ROOT = {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "root", "sbin", "tmp", "usr",
                  ".minik8s", ".", ".."}


def test_a_container_sees_only_its_own_processes(rt: ProcessRuntime) -> None:
    _, (cid, _other) = run(rt, pod("alone", sleeper("c"), sleeper("d")))
    listing = 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; echo; done'
    # Wait for the shell to have started its sleep (the exec may come first).
    lines = wait_for(lambda: (found := sh(rt, cid, listing).stdout.splitlines()) and "sleep 600 " in found and found)
    assert not [line for line in lines if "pytest" in line or "python" in line], lines
    assert lines.count("sleep 600 ") == 1   # its own sleep, not the pod's other container's
    assert len(lines) < 8


def test_an_absolute_path_built_at_run_time_stays_in_the_container(rt: ProcessRuntime) -> None:
    name = f"minik8s-escape-{os.getpid()}-{time.monotonic_ns()}"
    escape = f"/tmp/{name}"
    try:
        _, (cid,) = run(rt, pod("escaper", sleeper("c")))
        result = sh(rt, cid, f"S=$(printf '\\057'); touch ${{S}}tmp${{S}}{name} && ls ${{S}}tmp")
        assert not Path(escape).exists()
        assert (result.exit_code, result.stdout) == (0, f"{name}\n")   # the container's own /tmp
    finally:
        Path(escape).unlink(missing_ok=True)


def test_volumes_are_at_their_mount_paths_read_only_when_declared(rt: ProcessRuntime) -> None:
    c = sleeper("c", volumeMounts=[{"name": "rw", "mountPath": "/data"},
                                   {"name": "ro", "mountPath": "/config", "readOnly": True}])
    _, (cid,) = run(rt, pod("vols", c, volumes=[{"name": "rw", "emptyDir": {}}, {"name": "ro", "emptyDir": {}}]))
    assert sh(rt, cid, "echo kept > /data/x && cat /data/x").stdout == "kept\n"
    refused = sh(rt, cid, "touch /config/x")
    assert refused.exit_code != 0 and "Read-only file system" in refused.stderr
    host = Path(next(h for p, h in rt._containers[cid].mounts.table if p == "/data"))
    assert (host / "x").read_text() == "kept\n"


def test_containers_run_as_an_unprivileged_user_unless_asked(rt: ProcessRuntime) -> None:
    p = pod("users", sleeper("default"), sleeper("root", securityContext={"runAsUser": 0}),
            sleeper("chosen", securityContext={"runAsUser": 1000, "runAsGroup": 3000}))
    _, (default, root, chosen) = run(rt, p)
    assert sh(rt, default, "id -u; id -g").stdout == "65534\n65534\n"
    assert sh(rt, root, "id -u").stdout == "0\n"
    assert sh(rt, chosen, "id -u; id -g").stdout == "1000\n3000\n"
    if os.getuid() == 0:   # a user namespace maps a single group: supplementary groups need a root runtime
        grouped = pod("grouped", sleeper("c", securityContext={"runAsUser": 1000}))
        grouped["spec"]["securityContext"] = {"fsGroup": 2000, "supplementalGroups": [4000]}
        _, (member,) = run(rt, grouped)
        assert sh(rt, member, "id -u; id -g; id -G").stdout == "1000\n0\n0 2000 4000\n"
    refused = pod("strict", sleeper("c", securityContext={"runAsUser": 0, "runAsNonRoot": True}))
    sandbox = rt.run_pod_sandbox(refused)
    with pytest.raises(ContainerConfigError, match=r"container's runAsUser breaks non-root policy \(pod: "
                                                   r'"strict_default\(uid-strict-\d+\)", container: c\)'):
        rt.create_container(sandbox.id, refused, refused["spec"]["containers"][0], 0)
    main = rt._containers[default].popen
    assert main is not None
    uids = {supervisor.process_uid(pid) for pid in supervisor.session_pids(main.pid)} - {os.getuid()}
    if os.getuid() == 0:   # on the host too, the container's processes are not root's
        assert uids == {65534}


def test_without_isolation_the_runtime_says_so(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("MINIK8S_ISOLATION", "none")
    runtime = ProcessRuntime(node_name="node-1", data_dir=tmp_path / "data", client=FakeClient({}))
    try:
        assert any("not isolated" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
        sandbox = runtime.run_pod_sandbox(pod("open", sleeper("c")))
        messages = runtime.sandbox_messages(sandbox.id)
        assert [(t, r) for t, r, _ in messages] == [("Warning", "ContainersNotIsolated")]
    finally:
        runtime.close()


# --- state shared between clusters and installations ------------------------------------------------


def test_two_clusters_on_one_machine_get_disjoint_pod_ips(tmp_path: Path, home: Path) -> None:
    """The pod IP locks are the machine's (127.0.0.0/8 is), whoever runs the cluster."""
    first, second = network.IPAllocator(0), network.IPAllocator(0)
    try:
        mine = {first.allocate() for _ in range(3)}
        theirs = {second.allocate() for _ in range(3)}
        assert len(mine) == len(theirs) == 3 and not mine & theirs
        assert network.LOCK_DIR.stat().st_mode & 0o1777 == 0o1777   # every user's clusters lock there
    finally:
        first.release_all()
        second.release_all()
    a = ProcessRuntime(node_name="node-1", data_dir=tmp_path / "a")
    b = ProcessRuntime(node_name="node-1", data_dir=tmp_path / "b")
    try:
        assert a.run_pod_sandbox(pod("x", sleeper("c"))).ip != b.run_pod_sandbox(pod("x", sleeper("c"))).ip
    finally:
        a.close()
        b.close()


def test_image_executables_are_kept_per_installation(tmp_path: Path) -> None:
    """Two checkouts on one machine: each one's pods run its own programs with its own Python (without the
    ``site`` module: a built-in program loads the runtime's sitecustomize itself)."""
    from minik8s.images import builtin

    nginx = builtin.BUILTINS["nginx"]
    one = builtin.install_shims(tmp_path, nginx, python="/one/python", at="/one/bin")
    two = builtin.install_shims(tmp_path, nginx, python="/two/python")
    assert one != two
    assert "/one/python -S /one/bin/.compiled/nginx.pyc" in (one / "nginx").read_text()
    assert f"/two/python -S {two}/.compiled/nginx.pyc" in (two / "nginx").read_text()
    assert builtin.install_shims(tmp_path, nginx, python="/one/python", at="/one/bin") == one


def test_built_in_programs_run_byte_compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shims run the programs and the sitecustomize from their compiled copies (a container compiling
    them at every start would pay for it in CPU and memory), and a changed program gets a new folder."""
    import shutil

    from minik8s.images import builtin

    folder = builtin.install_shims(tmp_path / "shims", builtin.BUILTINS["nginx"])
    site = folder / builtin.COMPILED_SITE
    assert sorted(p.name for p in site.iterdir()) == ["sitecustomize.pyc"]   # no source beside it
    script = ("import sys, sitecustomize; print(sitecustomize.__file__, sitecustomize._POD_IP); "
              "import socket; s = socket.socket(); s.bind(('0.0.0.0', 0)); print(s.getsockname()[0])")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(site), "MINIK8S_POD_IP": "127.0.0.9"}
    shown = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert shown.stdout.split() == [str(site / "sitecustomize.pyc"), "127.0.0.9", "127.0.0.9"], shown.stderr
    version = subprocess.run([str(folder / "nginx"), "-v"], env=env, capture_output=True, text=True, timeout=30)
    assert (version.returncode, version.stderr) == (0, "nginx version: nginx/1.27.3\n")
    # A checkout whose nginx.py differs: its own folder, compiled from its own source.
    changed = tmp_path / "builtin"
    shutil.copytree(builtin.HERE, changed)
    (changed / "nginx.py").write_text((builtin.HERE / "nginx.py").read_text().replace('"1.27.3"', '"9.9.9"'))
    monkeypatch.setattr(builtin, "HERE", changed)
    monkeypatch.setattr(builtin, "SITE", changed / "site")
    builtin._sources.cache_clear()
    try:
        other = builtin.install_shims(tmp_path / "shims", builtin.BUILTINS["nginx"])
    finally:
        builtin._sources.cache_clear()
    assert other != folder
    version = subprocess.run([str(other / "nginx"), "-v"], env=env, capture_output=True, text=True, timeout=30)
    assert version.stderr == "nginx version: nginx/9.9.9\n"


def test_a_volume_inside_the_nodes_usr_is_mounted_there(rt: ProcessRuntime) -> None:
    c = sleeper("c", volumeMounts=[{"name": "v", "mountPath": "/usr/local/share/data"}])
    _, (cid,) = run(rt, pod("deep", c, volumes=[{"name": "v", "emptyDir": {}}]))
    assert sh(rt, cid, "echo in > /usr/local/share/data/x && cat /usr/local/share/data/x && ls /usr/bin/env").stdout \
        == "in\n/usr/bin/env\n"


def test_the_python_image_sees_the_virtual_environment_minik8s_runs_in(tmp_path: Path, home: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a container the interpreter is the installation's base; the packages of the virtual environment
    minik8s runs in (where a student installed the official client) are on the python image's path, read-only,
    and only there: a built-in program (``-S``) does not search them."""
    if isolation.mode() != "bwrap":
        pytest.skip(isolation.unavailable_reason())
    venv = tmp_path / "venv-site"
    venv.mkdir()
    (venv / "venv_only_probe.py").write_text("ANSWER = 42\n")
    monkeypatch.setattr(isolation, "venv_site_packages", lambda: str(venv))
    runtime = ProcessRuntime(node_name="node-1", node_index=0, data_dir=tmp_path / "data", client=FakeClient({}))
    try:
        script = "import venv_only_probe, sys; print(venv_only_probe.ANSWER, venv_only_probe.__file__)"
        _, (cid,) = run(runtime, pod("venv", {"name": "c", "image": "python", "command": ["python", "-c", script]}))
        assert wait_for(lambda: exited(runtime, cid)).exit_code == 0, runtime.logs(cid)
        assert runtime.logs(cid) == "42 /.minik8s/site-packages/venv_only_probe.py\n"
        _, (ro,) = run(runtime, pod("ro", sleeper("c")))
        assert sh(runtime, ro, "touch /.minik8s/site-packages/x").exit_code != 0   # read-only
        wget = sh(runtime, ro, "cat /.minik8s/bin/wget").stdout   # busybox's wget: a built-in program
        assert " -S /.minik8s/bin/.compiled/wget.pyc" in wget and "site-packages" not in wget, wget
    finally:
        runtime.close()
