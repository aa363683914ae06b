"""``kubectl exec``, ``attach`` and ``port-forward`` to a pod whose kubelet is another process
(:mod:`minik8s.apiserver.kubeletstreams`): a `minik8s server` without nodes, a `minik8s kubelet` (process
runtime) joined to it with a bootstrap token, and the real kubectl. The API server relays each stream to
the kubelet's own HTTPS API over a WebSocket."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import needs_kubectl, start_server, wait_for
from test_bootstrap_join import _ca_hash, _token
from test_exec_streaming import (TRANSPORTS, a_client_that_leaves_ends_the_command, copy_tree_back, copy_tree_in,
                                 in_terminal, kubectl, official_client_exec)
from test_portforward import Forward, http_get

pytestmark = needs_kubectl

NODE = "remote-1"
PODS = """\
apiVersion: v1
kind: Pod
metadata: {name: box}
spec:
  containers:
  - {name: box, image: busybox, command: ["sh", "-c", "echo started; sleep 3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - {name: nginx, image: nginx, ports: [{containerPort: 80}]}
---
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  containers:
  - {name: reader, image: busybox, stdin: true, command: ["sh", "-c", "while read line; do echo \\"got $line\\"; done"]}
"""
TWO = """\
apiVersion: v1
kind: Pod
metadata: {name: two}
spec:
  restartPolicy: Never
  containers:
  - {name: a, image: busybox, command: ["sleep", "3600"]}
  - {name: b, image: busybox, command: ["true"]}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kubelet-streaming")
    srv = start_server(tmp, "--nodes", "0")
    kubelet = None
    log = (tmp / "kubelet.log").open("w")
    try:
        joined = subprocess.run([sys.executable, "-m", "minik8s", "join", srv.url, "--token", _token(srv),
                                 "--discovery-token-ca-cert-hash", _ca_hash(srv), "--node-name", NODE,
                                 "--data-dir", str(tmp / NODE), "--no-start", "--timeout", "60s",
                                 "--runtime", "process", "--", "--address", "127.0.0.1", "--port", "0",
                                 "--healthz-port", "0"],
                                capture_output=True, text=True, timeout=120, env=srv.env())
        assert joined.returncode == 0, joined.stderr
        command = joined.stdout.strip().splitlines()[-1].split()
        kubelet = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=srv.env())
        wait_for(lambda: srv.kubectl("get", "nodes", NODE, "--no-headers").stdout.split()[:2] == [NODE, "Ready"],
                 timeout=60, what="the joined node to be Ready")
        made = srv.kubectl("apply", "-f", "-", stdin=PODS)
        assert made.returncode == 0, made.stderr
        ready = srv.kubectl("wait", "--for=condition=Ready", "pod", "--all", "--timeout=90s")
        assert ready.returncode == 0, ready.stderr + (tmp / "kubelet.log").read_text()
        yield srv
    finally:
        if kubelet is not None:
            kubelet.terminate()
            kubelet.wait(timeout=30)
        log.close()
        srv.stop()


def test_the_pods_run_on_the_kubelet_of_another_process(cluster):
    assert cluster.kubectl("get", "pod", "box", "-o", "jsonpath={.spec.nodeName}").stdout == NODE


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exec_prints_the_output_and_passes_the_exit_code_through(cluster, transport):
    result = kubectl(cluster, "exec", "box", "--", "echo", "hi", transport=transport)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"hi\n", b"")
    failed = kubectl(cluster, "exec", "box", "--", "sh", "-c", "echo oops >&2; exit 3", transport=transport)
    assert (failed.returncode, failed.stdout, failed.stderr) == (3, b"", b"oops\ncommand terminated with exit code 3\n")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_exec_i_carries_stdin_and_its_end(cluster, transport):
    result = kubectl(cluster, "exec", "-i", "box", "--", "cat", stdin=b"hi\nthere\n", transport=transport)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"hi\nthere\n", b"")


def test_a_megabyte_goes_through_both_ways(cluster):
    data = bytes(range(256)) * 4096
    result = kubectl(cluster, "exec", "-i", "box", "--", "cat", stdin=data)
    assert result.returncode == 0, result.stderr
    assert result.stdout == data


def test_exec_t_gives_the_command_a_terminal_of_the_clients_size(cluster):
    code, screen = in_terminal(cluster, ["kubectl", "exec", "-it", "box", "--", "sh"],
                               [(b"$ ", b"stty size; echo done-$((40+2))\n"), (b"done-42", b"exit 7\n")])
    assert b"30 100\r\n" in screen       # the resize went on to the kubelet
    assert code == 7


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_errors_from_the_kubelet_reach_kubectl_in_upstreams_words(cluster, transport):
    absent = kubectl(cluster, "exec", "box", "--", "no-such-program", transport=transport)
    assert absent.returncode == 1
    assert b'exec: "no-such-program": executable file not found in $PATH' in absent.stderr
    assert cluster.kubectl("apply", "-f", "-", stdin=TWO).returncode == 0
    wait_for(lambda: "terminated" in cluster.kubectl("get", "pod", "two", "-o",
                                                     "jsonpath={.status.containerStatuses[1].state}").stdout,
             timeout=60, what="container b to exit")
    result = kubectl(cluster, "exec", "two", "-c", "b", "--", "true", transport=transport)
    assert (result.returncode, result.stderr) == (
        1, b'error: unable to upgrade connection: container not found ("b")\n')


def test_the_official_client_streams_over_the_v4_channel_protocol(cluster):
    assert official_client_exec(cluster) == ("got typed\n", "oops\n", 5)


def test_a_client_that_leaves_ends_the_command_on_the_kubelet(cluster):
    a_client_that_leaves_ends_the_command(cluster, "4343")


def test_port_forward_fetches_the_page_nginx_serves(cluster):
    with Forward(cluster, "pod/web", ":80") as forward:
        page = http_get(forward.local(80))
        assert page.startswith("HTTP/1.1 200 OK"), page
        assert "Welcome to nginx!" in page
        again = http_get(forward.local(80))   # a second connection through the same session
        assert "Welcome to nginx!" in again


def test_port_forward_over_plain_spdy_too(cluster):
    with Forward(cluster, "pod/web", ":80", websockets=False) as forward:
        assert "Welcome to nginx!" in http_get(forward.local(80))


def test_a_port_nothing_listens_on_is_the_kubelets_error(cluster):
    with Forward(cluster, "pod/web", ":81") as forward:
        local = forward.local(81)
        try:
            http_get(local)
        except OSError:
            pass
        forward.wait_for(lambda: forward.process.poll() is not None)
        err = forward.stop()
    assert f"an error occurred forwarding {local} -> 81: error forwarding port 81 to pod" in err


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_attach_i_writes_to_the_containers_stdin_and_shows_its_output(cluster, transport):
    attached = subprocess.Popen(["kubectl", "attach", "-i", "reader"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, env={**cluster.env(), **TRANSPORTS[transport]})
    assert attached.stdin is not None and attached.stdout is not None
    try:
        attached.stdin.write(f"{transport}\n".encode())
        attached.stdin.flush()
        # The container read it from the kubelet's side; its answer came back through the logs (after
        # what it wrote before: minik8s's attach starts with the log so far).
        wanted = f"got {transport}\n".encode()
        lines = [attached.stdout.readline()]
        while lines[-1] not in (wanted, b"") and len(lines) < len(TRANSPORTS):
            lines.append(attached.stdout.readline())
        assert lines[-1] == wanted, lines
    finally:
        attached.kill()
        attached.wait()


def test_the_kubelet_refuses_streams_to_a_client_without_rights(cluster, tmp_path: Path):
    """Only the API server's kubelet-client certificate (system:masters) may open them, as for logs."""
    import asyncio
    import ssl

    import aiohttp

    port = int(cluster.kubectl("get", "node", NODE, "-o",
                               "jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}").stdout)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE

    async def upgrade() -> int:
        async with aiohttp.ClientSession() as http:
            try:
                async with http.ws_connect(f"https://127.0.0.1:{port}/exec/default/box/box?command=true&output=1",
                                           ssl=context):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    assert asyncio.run(upgrade()) == 401   # no client certificate


def test_cp_copies_a_directory_in_and_back_out(cluster, tmp_path):
    copy_tree_in(cluster, tmp_path)
    copy_tree_back(cluster, tmp_path)


def test_the_official_client_forwards_over_the_channel_protocol(cluster):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import portforward

    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(cluster.kubeconfig)))
    forward = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports="80")
    try:
        sock = forward.socket(80)
        sock.setblocking(True)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        page = b""
        while chunk := sock.recv(65536):
            page += chunk
        assert page.startswith(b"HTTP/1.1 200 OK") and b"Welcome to nginx!" in page, page[:200]
        sock.close()
        assert forward.error(80) is None
    finally:
        forward.close()
