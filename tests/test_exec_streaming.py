"""Interactive ``pods/exec`` (:mod:`minik8s.apiserver.remotecommand`): the real kubectl against
`minik8s server --runtime process`, over the WebSocket it tries first and over SPDY (its fallback):
stdin, stdout and stderr streamed while the command runs, exit codes, a terminal and its size,
``kubectl cp`` both ways, and a client that leaves."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import pty
import select
import struct
import tarfile
import subprocess
import termios
import time
from pathlib import Path

import pytest

from conftest import needs_kubectl, start_server

pytestmark = needs_kubectl

TRANSPORTS = {"websocket": {}, "spdy": {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("exec"), "--runtime", "process", "--nodes", "1")
    try:
        made = srv.kubectl("run", "box", "--image=busybox", "--restart=Never", "--", "sleep", "3600")
        assert made.returncode == 0, made.stderr
        ready = srv.kubectl("wait", "--for=condition=Ready", "pod/box", "--timeout=60s")
        assert ready.returncode == 0, ready.stderr
        yield srv
    finally:
        srv.stop()


def kubectl(srv, *args: str, stdin: bytes = b"", transport: str = "websocket", cwd: Path | None = None
            ) -> subprocess.CompletedProcess:
    """The real kubectl, its stdin given; ``-v=6`` shows which protocol it upgraded to."""
    env = {**srv.env(), **TRANSPORTS[transport]}
    return subprocess.run(["kubectl", *args], input=stdin, capture_output=True, env=env, timeout=60, cwd=cwd)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exec_i_streams_stdin_to_the_command_and_its_end_ends_it(cluster, transport):
    result = kubectl(cluster, "exec", "-i", "box", "--", "cat", stdin=b"hi\nthere\n", transport=transport)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"hi\nthere\n", b"")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exec_keeps_stdout_and_stderr_apart_and_carries_the_exit_code(cluster, transport):
    script = b"echo out; read line; echo \"got $line\" >&2; exit 3\n"
    result = kubectl(cluster, "exec", "-i", "box", "--", "sh", "-c", script.decode(), stdin=b"word\n",
                     transport=transport)
    assert result.stdout == b"out\n"
    assert result.stderr == b"got word\ncommand terminated with exit code 3\n"
    assert result.returncode == 3


def test_kubectl_picks_the_websocket_first_and_spdy_when_told(cluster):
    chosen = kubectl(cluster, "exec", "box", "-v=8", "--", "true")
    assert chosen.returncode == 0
    assert b"The subprotocol is v5.channel.k8s.io" in chosen.stderr and b"falling back" not in chosen.stderr
    spdy = kubectl(cluster, "exec", "box", "-v=8", "--", "true", transport="spdy")
    assert spdy.returncode == 0
    assert b"Upgrade: SPDY/3.1" in spdy.stderr
    assert b"X-Stream-Protocol-Version: v5.channel.k8s.io\n" in spdy.stderr


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_megabyte_goes_through_both_ways_intact(cluster, transport):
    data = os.urandom(1 << 20)
    result = kubectl(cluster, "exec", "-i", "box", "--", "cat", stdin=data, transport=transport)
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(result.stdout).hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_missing_executable_is_upstreams_error(cluster):
    result = kubectl(cluster, "exec", "box", "--", "no-such-program")
    assert result.returncode == 1
    assert b'exec: "no-such-program": executable file not found in $PATH' in result.stderr


TWO = """
apiVersion: v1
kind: Pod
metadata: {name: two}
spec:
  restartPolicy: Never
  containers:
  - {name: a, image: busybox, command: ["sleep", "3600"]}
  - {name: b, image: busybox, command: ["true"]}
"""


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exec_into_a_container_that_is_not_running_is_upstreams_error(cluster, transport):
    assert cluster.kubectl("apply", "-f", "-", stdin=TWO).returncode == 0

    def b_exited() -> bool:
        shown = cluster.kubectl("get", "pod", "two", "-o", "jsonpath={.status.containerStatuses[1].state}").stdout
        return "terminated" in shown
    assert _eventually(b_exited)
    result = kubectl(cluster, "exec", "two", "-c", "b", "--", "true", transport=transport)
    assert (result.returncode, result.stderr) == (1, b'error: unable to upgrade connection: container not found ("b")\n')
    unknown = kubectl(cluster, "exec", "two", "-c", "zz", "--", "true", transport=transport)
    assert (unknown.returncode, unknown.stderr) == (1, b"error: container zz is not valid for pod two\n")


def official_client_exec(srv) -> tuple[str, str, int]:
    """The official client's exec into ``box`` over the v4 channel protocol, a line typed on its stdin:
    (stdout, stderr, exit code)."""
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import stream

    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(srv.kubeconfig)))
    session = stream(api.connect_get_namespaced_pod_exec, "box", "default",
                     command=["sh", "-c", "read line; echo \"got $line\"; echo oops >&2; exit 5"],
                     stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False)
    session.write_stdin("typed\n")
    session.run_forever(timeout=30)
    try:
        return session.read_stdout(), session.read_stderr(), session.returncode
    finally:
        session.close()


def test_the_official_client_streams_stdin_over_the_v4_channel_protocol(cluster):
    assert official_client_exec(cluster) == ("got typed\n", "oops\n", 5)


def a_client_that_leaves_ends_the_command(srv, marker: str) -> None:
    """``kubectl exec -i box -- sleep <marker>`` killed while it runs: the command in ``box`` goes too."""
    client = subprocess.Popen(["kubectl", "exec", "-i", "box", "--", "sleep", marker], stdin=subprocess.PIPE,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=srv.env())

    def sleeping() -> bool:
        return f"sleep {marker}" in srv.kubectl("exec", "box", "--", "ps", "-eo", "args").stdout

    try:
        assert _eventually(sleeping, timeout=30), "the command did not start"
    finally:
        client.kill()
        client.wait()
    assert _eventually(lambda: not sleeping(), timeout=30), "the command was not killed"


def test_a_client_that_leaves_ends_the_command(cluster):
    a_client_that_leaves_ends_the_command(cluster, "4242")


def copy_tree_in(srv, tmp_path: Path) -> None:
    """``kubectl cp`` of a folder (a text file, a binary one in a subfolder) into ``box:/tmp/copied``."""
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("hello\n")
    (source / "sub" / "b.bin").write_bytes(bytes(range(256)) * 64)
    put = kubectl(srv, "cp", "src", "box:/tmp/copied", cwd=tmp_path)
    assert put.returncode == 0, put.stderr


def copy_tree_back(srv, tmp_path: Path) -> None:
    """``kubectl cp`` of ``box:/tmp/copied`` back out: the same files, byte for byte."""
    got = kubectl(srv, "cp", "box:/tmp/copied", "back", cwd=tmp_path)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "back" / "a.txt").read_text() == "hello\n"
    assert (tmp_path / "back" / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 64


def test_cp_copies_a_directory_in_and_back_out(cluster, tmp_path):
    copy_tree_in(cluster, tmp_path)
    assert cluster.kubectl("exec", "box", "--", "cat", "/tmp/copied/a.txt").stdout == "hello\n"
    copy_tree_back(cluster, tmp_path)


def test_cp_of_a_missing_file_writes_nothing(cluster, tmp_path):
    # (kubectl prints tar's complaint only if it reads stderr before it is done with stdout: a race of its own.)
    kubectl(cluster, "cp", "box:/no/such/file", "out", cwd=tmp_path)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exec_t_gives_the_command_a_terminal_of_the_clients_size(cluster, transport):
    code, screen = in_terminal(cluster, ["kubectl", "exec", "-it", "box", "--", "sh"],
                               [(b"$ ", b"stty size; echo done-$((40+2))\n"), (b"done-42", b"exit 7\n")],
                               env=TRANSPORTS[transport])
    assert b"30 100\r\n" in screen       # kubectl passed its terminal's size on (the resize channel)
    assert code == 7


def in_terminal(srv, command: list[str], steps: list[tuple[bytes, bytes]], *, size: tuple[int, int] = (100, 30),
                env: dict[str, str] | None = None) -> tuple[int, bytes]:
    """Run ``command`` with a terminal of ``size`` (columns, rows) as its stdin and stdout: for each
    step, wait until the screen shows its first part, then type its second. Returns (exit code, screen)."""
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
    process = subprocess.Popen(command, stdin=child, stdout=child, stderr=child, start_new_session=True,
                               env={**srv.env(), **(env or {})})
    # The terminal stays open here too until the end: what the command wrote last is not lost with it.
    screen = b""
    deadline = time.monotonic() + 60
    try:
        for wanted, typed in [*steps, (None, b"")]:
            while time.monotonic() < deadline:
                if wanted is not None and wanted in screen:
                    break
                ready, _, _ = select.select([parent], [], [], 0.2)
                if ready:
                    screen += os.read(parent, 4096)
                elif wanted is None and process.poll() is not None:
                    break
            os.write(parent, typed)
        return process.wait(timeout=max(deadline - time.monotonic(), 1)), screen
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(parent)
        os.close(child)


def _eventually(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


# --- attach and run: the container's own stdin and terminal ------------------------------------

READER = """
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  restartPolicy: Never
  containers:
  - name: reader
    image: busybox
    stdin: true
    command: ["sh", "-c", "while read line; do echo \\"got $line\\"; done; echo bye"]
"""


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_run_i_rm_feeds_stdin_to_the_container_then_deletes_the_pod(cluster, transport):
    name = f"cat-{transport}"
    result = kubectl(cluster, "run", name, "-i", "--rm", "--image=busybox", "--restart=Never", "--", "cat",
                     stdin=b"piped in\n", transport=transport)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f'piped in\npod "{name}" deleted\n'.encode()
    assert cluster.kubectl("get", "pod", name).returncode == 1


def test_attach_i_writes_to_a_running_containers_stdin_each_time(cluster):
    made = cluster.kubectl("apply", "-f", "-", stdin=READER)
    assert made.returncode == 0, made.stderr
    assert cluster.kubectl("wait", "--for=condition=Ready", "pod/reader", "--timeout=60s").returncode == 0
    for word, transport in (("one", "websocket"), ("two", "spdy")):
        attached = subprocess.Popen(["kubectl", "attach", "-i", "reader"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    env={**cluster.env(), **TRANSPORTS[transport]})
        assert attached.stdin is not None and attached.stdout is not None
        attached.stdin.write(f"{word}\n".encode())
        attached.stdin.flush()
        assert _eventually(lambda: f"got {word}" in cluster.kubectl("logs", "reader").stdout)
        attached.kill()
        attached.wait()
    # Without stdinOnce the container's stdin outlives each client: it is still reading.
    assert cluster.kubectl("get", "pod", "reader", "-o", "jsonpath={.status.phase}").stdout == "Running"


def test_run_it_rm_gives_a_terminal_and_deletes_the_pod(cluster):
    code, screen = in_terminal(cluster, ["kubectl", "run", "term", "-it", "--rm", "--image=busybox", "--restart=Never",
                                         "--", "sh"], [(b"$ ", b"stty size; echo hi-$((1+1))\n"), (b"hi-2", b"exit 3\n")],
                               size=(90, 20))
    assert b"20 90\r\n" in screen
    assert b'pod "term" deleted' in screen
    assert code == 3
    assert cluster.kubectl("get", "pod", "term").returncode == 1


# --- ephemeral containers and kubectl debug ----------------------------------------------------

def test_debug_it_adds_an_ephemeral_container_and_attaches_to_it(cluster):
    code, screen = in_terminal(cluster, ["kubectl", "debug", "-it", "box", "--image=busybox", "-c", "dbg", "--", "sh"],
                               [(b"$ ", b"echo in-debug-$((2+3)); hostname\n"), (b"in-debug-5", b"exit 4\n")])
    assert b"in-debug-5\r\nbox\r\n" in screen      # its shell ran in the pod (its host name)
    assert code == 0, screen
    pod = json.loads(cluster.kubectl("get", "pod", "box", "-o", "json").stdout)
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["dbg"]
    (status,) = pod["status"]["ephemeralContainerStatuses"]
    assert (status["name"], status["ready"], status["restartCount"]) == ("dbg", False, 0)
    assert status["state"]["terminated"]["exitCode"] == 4
    assert [s["name"] for s in pod["status"]["containerStatuses"]] == ["box"]
    assert pod["status"]["phase"] == "Running"


def test_the_ephemeralcontainers_subresource_validates_as_upstream(cluster):
    def patch(container: dict) -> tuple[int, dict]:
        body = json.dumps({"spec": {"ephemeralContainers": [container]}}).encode()
        code, _, answer = cluster.request("PATCH", "/api/v1/namespaces/default/pods/box/ephemeralcontainers", body,
                                          {"Content-Type": "application/strategic-merge-patch+json"})
        return code, json.loads(answer)

    code, status = patch({"name": "p1", "image": "busybox", "ports": [{"containerPort": 80}]})
    assert code == 422
    assert status["message"] == ('Pod "box" is invalid: spec.ephemeralContainers[0].ports: '
                                 "Forbidden: cannot be set for an Ephemeral Container")
    code, status = patch({"name": "box", "image": "busybox"})
    assert code == 422
    assert 'spec.ephemeralContainers[0].name: Duplicate value: "box"' in status["message"]
    code, status = patch({"name": "ok", "image": "busybox", "command": ["sleep", "3600"]})
    assert code == 200, status
    # What was added stays as it was: a change (here through a JSON patch) is refused.
    body = json.dumps([{"op": "replace", "path": "/spec/ephemeralContainers/0/image", "value": "nginx"}]).encode()
    code, _, answer = cluster.request("PATCH", "/api/v1/namespaces/default/pods/box/ephemeralcontainers", body,
                                      {"Content-Type": "application/json-patch+json"})
    assert code == 422
    assert "may not be changed" in json.loads(answer)["message"]
    code, _, answer = cluster.request("GET", "/api/v1/namespaces/default/pods/box/ephemeralcontainers")
    assert code == 200 and json.loads(answer)["kind"] == "Pod"


def test_exec_needs_create_on_pods_exec_even_over_a_websockets_get(cluster):
    for args in (["create", "role", "peek", "--verb=get", "--resource=pods,pods/exec"],
                 ["create", "rolebinding", "peek", "--role=peek", "--user=alice"]):
        made = cluster.kubectl(*args)
        assert made.returncode == 0, made.stderr
    refused = kubectl(cluster, "exec", "box", "--as=alice", "--", "true")
    assert refused.returncode == 1
    assert (b'pods "box" is forbidden: User "alice" cannot create resource "pods/exec" in API group "" '
            b'in the namespace "default"') in refused.stderr
    granted = cluster.kubectl("create", "role", "run", "--verb=create", "--resource=pods/exec")
    assert granted.returncode == 0, granted.stderr
    assert cluster.kubectl("create", "rolebinding", "run", "--role=run", "--user=alice").returncode == 0
    assert _eventually(lambda: kubectl(cluster, "exec", "box", "--as=alice", "--", "true").returncode == 0)


# --- the simulated runtime plays cat, sh and tar ---------------------------------------------

@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("exec-sim"), "--runtime", "simulated", "--nodes", "1")
    try:
        assert srv.kubectl("run", "sim", "--image=busybox", "--", "sleep", "3600").returncode == 0
        assert srv.kubectl("wait", "--for=condition=Ready", "pod/sim", "--timeout=60s").returncode == 0
        yield srv
    finally:
        srv.stop()


def test_simulated_exec_i_runs_cat_and_a_shell_reading_stdin(simulated):
    echoed = kubectl(simulated, "exec", "-i", "sim", "--", "cat", stdin=b"hi\n")
    assert (echoed.returncode, echoed.stdout) == (0, b"hi\n")
    shell = kubectl(simulated, "exec", "-i", "sim", "--", "sh", stdin=b"echo a > /tmp/f\ncat /tmp/f\nexit 3\n")
    assert (shell.returncode, shell.stdout) == (3, b"a\n")


def test_simulated_cp_copies_a_directory_in_and_back_out(simulated, tmp_path):
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "sub" / "b.txt").write_text("deep\n")
    assert kubectl(simulated, "cp", "src", "sim:/tmp/dst", cwd=tmp_path).returncode == 0
    assert simulated.kubectl("exec", "sim", "--", "cat", "/tmp/dst/sub/b.txt").stdout == "deep\n"
    assert kubectl(simulated, "cp", "sim:/tmp/dst", "back", cwd=tmp_path).returncode == 0
    assert (tmp_path / "back" / "sub" / "b.txt").read_text() == "deep\n"


def test_minik8s_kubectl_exec_i_sends_its_stdin_over_http(simulated):
    result = simulated.kubectl("exec", "-i", "sim", "--", "cat", stdin="from minik8s kubectl\n", real=False)
    assert (result.returncode, result.stdout) == (0, "from minik8s kubectl\n")


def test_minik8s_kubectl_exec_i_in_process():
    from minik8s import Cluster

    with Cluster(nodes=1, runtime="simulated") as cluster:
        cluster.kubectl("run sim --image=busybox -- sleep 3600")
        cluster.kubectl("wait --for=condition=Ready pod/sim --timeout=60s")
        assert cluster.kubectl("exec -i sim -- sh", stdin="echo a > /tmp/f\ncat /tmp/f\n") == "a\n"


def test_simulated_tar_refuses_a_member_that_leaves_its_folder():
    from minik8s.kubelet.runtimes import siminteractive

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo("../etc/passwd")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    archive.seek(0)
    files: dict[str, str] = {}
    with pytest.raises(ValueError, match="path leaves /tmp"):
        siminteractive._extract("/tmp", files, archive)
    assert files == {}


def test_a_server_that_stops_ends_the_sessions_still_open(tmp_path):
    srv = start_server(tmp_path, "--runtime", "simulated", "--nodes", "1")
    client = None
    try:
        assert srv.kubectl("run", "sim", "--image=busybox", "--", "sleep", "3600").returncode == 0
        assert srv.kubectl("wait", "--for=condition=Ready", "pod/sim", "--timeout=60s").returncode == 0
        client = subprocess.Popen(["kubectl", "exec", "-i", "sim", "--", "cat"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=srv.env())
        assert client.stdin is not None and client.stdout is not None
        client.stdin.write(b"open\n")
        client.stdin.flush()
        assert client.stdout.readline() == b"open\n"     # the session is up and streaming
        assert srv.stop() == 0      # (would wait for the open session a minute without ending it)
        assert client.wait(timeout=30) != 0
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        if srv.process.poll() is None:
            srv.process.kill()


def test_a_websocket_message_over_the_bound_closes_the_session(cluster):
    import asyncio

    import aiohttp

    from minik8s.apiserver.remotecommand import MAX_MESSAGE_BYTES

    token, context = cluster.credentials()
    url = (cluster.url + "/api/v1/namespaces/default/pods/box/exec?command=cat&stdin=true&stdout=true&stderr=true")

    async def send_too_much() -> tuple[bytes, int | None]:
        echoed = b""
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url, protocols=("v5.channel.k8s.io",), ssl=context,
                                          headers={"Authorization": f"Bearer {token}"}) as ws:
                with contextlib.suppress(ConnectionError):
                    await ws.send_bytes(b"\x00" + b"x" * (MAX_MESSAGE_BYTES + 1))
                async for message in ws:
                    echoed += message.data[1:] if message.type == aiohttp.WSMsgType.BINARY else b""
                return echoed, ws.close_code

    echoed, code = asyncio.run(send_too_much())
    assert b"x" not in echoed            # the message never reached the command
    # The server closes: "message too big", or the connection drops while the client still sends.
    assert code in (aiohttp.WSCloseCode.MESSAGE_TOO_BIG, aiohttp.WSCloseCode.ABNORMAL_CLOSURE)
    assert cluster.kubectl("exec", "box", "--", "true").returncode == 0   # and it carries on


def test_pod_security_checks_what_debug_adds(cluster):
    for args in (["create", "ns", "strict"],
                 ["label", "ns", "strict", "pod-security.kubernetes.io/enforce=baseline"],
                 ["-n", "strict", "run", "box", "--image=busybox", "--", "sleep", "3600"]):
        done = cluster.kubectl(*args)
        assert done.returncode == 0, done.stderr
    refused = cluster.kubectl("-n", "strict", "debug", "box", "--image=busybox", "--profile=sysadmin", "-c", "root",
                              "--", "true")
    assert refused.returncode == 1
    assert ('Error from server (Forbidden): pods "box" is forbidden: violates PodSecurity "baseline:latest": '
            'privileged (container "root" must not set securityContext.privileged=true)') in refused.stderr
    allowed = cluster.kubectl("-n", "strict", "debug", "box", "--image=busybox", "--profile=legacy", "-c", "plain",
                              "--", "true")
    assert allowed.returncode == 0, allowed.stderr


def test_the_docker_exec_socket_is_split_into_stdout_and_stderr_and_stdin_half_closes():
    import socket

    from minik8s.kubelet.runtimes.docker import exec_pipes

    engine, ours = socket.socketpair()
    stream = exec_pipes(ours, stdin=True, tty=False, exit_code=lambda: 7, resize=lambda w, h: None)
    assert stream.stdin is not None and stream.stderr is not None
    os.write(stream.stdin, b"typed")
    os.close(stream.stdin)
    received = b""
    while chunk := engine.recv(1024):     # the engine sees stdin, then its end (a half-close)
        received += chunk
    assert received == b"typed"
    for kind, data in ((1, b"out\n"), (2, b"err\n"), (1, b"more\n")):
        engine.sendall(bytes([kind, 0, 0, 0]) + len(data).to_bytes(4, "big") + data)
    engine.close()
    assert stream.wait() == 7
    with os.fdopen(stream.stdout, "rb") as out, os.fdopen(stream.stderr, "rb") as err:
        assert (out.read(), err.read()) == (b"out\nmore\n", b"err\n")


def test_a_runtime_without_streaming_runs_the_command_to_completion():
    from minik8s.kubelet.cri import ContainerRuntime, ExecResult

    class OnlySync(ContainerRuntime):
        def exec_sync(self, container_id, command, timeout):
            return ExecResult(2, "out " + " ".join(command), "err")

    stream = OnlySync().exec_stream("c1", ["echo", "x"], stdin=True, tty=False)
    assert stream.stdin is not None and stream.stderr is not None
    os.write(stream.stdin, b"dropped")     # read and dropped: no stdin reaches such a runtime's command
    os.close(stream.stdin)
    assert stream.wait() == 2
    with os.fdopen(stream.stdout, "rb") as out, os.fdopen(stream.stderr, "rb") as err:
        assert (out.read(), err.read()) == (b"out echo x", b"err")
