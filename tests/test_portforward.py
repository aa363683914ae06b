"""``kubectl port-forward`` through `minik8s server --runtime process`, driven by the real kubectl.

kubectl v1.32 tunnels SPDY/3.1 inside a WebSocket (:mod:`minik8s.apiserver.portforward`);
the official Python client uses the plain channel WebSocket. Both reach real processes
listening on their pod IPs."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest
from aiohttp import WSMsgType

from conftest import needs_kubectl, start_server
from minik8s.api.errors import StatusError
from minik8s.apiserver import portforward, spdy

# A TCP echo server on two ports, in the built-in python image.
ECHO = """\
import socketserver, threading
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        while chunk := self.request.recv(65536):
            self.request.sendall(chunk)
for port in (9000, 9001):
    server = socketserver.ThreadingTCPServer(("0.0.0.0", port), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
print("echo ready", flush=True)
threading.Event().wait()
"""

PODS = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: nginx
        image: nginx
        ports: [{{containerPort: 80, name: http}}]
        readinessProbe: {{tcpSocket: {{port: 80}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Pod
metadata: {{name: echo}}
spec:
  containers:
  - name: echo
    image: python
    command: [python3, -c, {json.dumps(ECHO)}]
    readinessProbe: {{tcpSocket: {{port: 9001}}, periodSeconds: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 8000, targetPort: http}}]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("portforward"), "--runtime", "process", "--nodes", "1")
    try:
        created = srv.kubectl("apply", "-f", "-", stdin=PODS)
        assert created.returncode == 0, created.stderr
        ready = srv.kubectl("wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
        assert ready.returncode == 0, ready.stderr
        yield srv
    finally:
        srv.stop()


class Forward:
    """A running ``kubectl port-forward``: its local ports as it printed them."""

    def __init__(self, srv, *args: str, real: bool = True, websockets: bool = True):
        command = ["kubectl"] if real else [sys.executable, "-m", "minik8s", "kubectl"]
        # kubectl's switch for the PortForwardWebsockets feature: off, it speaks plain SPDY/3.1.
        env = {**srv.env(), "KUBECTL_PORT_FORWARD_WEBSOCKETS": "true" if websockets else "false"}
        self.process = subprocess.Popen([*command, "port-forward", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env)
        self.lines: list[str] = []           # what it printed on stdout, read as it comes
        self.ports: dict[int, int] = {}      # remote -> local
        threading.Thread(target=self._read, daemon=True).start()
        wanted = len([a for a in args if re.fullmatch(r"\d*:?\d+", a)])
        self.wait_for(lambda: len(self.ports) >= wanted or self.process.poll() is not None)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            found = re.fullmatch(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)\n", line)
            if found:
                self.ports[int(found[2])] = int(found[1])
            self.lines.append(line)

    @staticmethod
    def wait_for(condition, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert condition()

    def local(self, remote: int) -> int:
        assert remote in self.ports, (self.lines, self.process.poll(), self.process.stderr)
        return self.ports[remote]

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        _, err = self.process.communicate(timeout=10)
        return err

    def __enter__(self) -> "Forward":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def http_get(port: int, path: str = "/") -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return _read_all(conn).decode()


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


@needs_kubectl
@pytest.mark.parametrize("target", ["pod/web-POD", "deploy/web"])
def test_real_kubectl_forwards_a_pod_port_and_serves_the_page(cluster, target):
    if target == "pod/web-POD":
        name = cluster.kubectl("get", "pod", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.name}").stdout
        target = f"pod/{name}"
    with Forward(cluster, target, ":80") as forward:
        local = forward.local(80)
        forward.wait_for(lambda: len(forward.lines) >= 2)
        assert forward.lines[:2] == [f"Forwarding from 127.0.0.1:{local} -> 80\n",
                                     f"Forwarding from [::1]:{local} -> 80\n"]
        page = http_get(local)
        assert page.startswith("HTTP/1.1 200 OK")
        assert "<h1>Welcome to nginx!</h1>" in page
        forward.wait_for(lambda: f"Handling connection for {local}\n" in forward.lines)


@needs_kubectl
def test_a_service_is_forwarded_to_one_of_its_pods_on_the_target_port(cluster):
    # kubectl resolves svc/web itself: a pod chosen by the selector, port 8000 -> targetPort "http" -> 80.
    with Forward(cluster, "svc/web", ":8000") as forward:
        assert forward.lines[0] == f"Forwarding from 127.0.0.1:{forward.local(80)} -> 80\n"
        assert "Welcome to nginx!" in http_get(forward.local(80))


@needs_kubectl
@pytest.mark.parametrize("websockets", [True, False], ids=["spdy-in-websocket", "spdy-upgrade"])
def test_two_ports_concurrent_connections_and_a_megabyte_each_way(cluster, websockets):
    body = bytes(range(256)) * 4096    # 1 MiB
    with Forward(cluster, "pod/echo", ":9000", ":9001", websockets=websockets) as forward:
        conns = [socket.create_connection(("127.0.0.1", forward.local(port)), timeout=20)
                 for port in (9000, 9001, 9000)]
        try:
            for i, conn in enumerate(conns):       # all open at once, each its own stream pair
                conn.sendall(f"hello {i}\n".encode())
            for i, conn in enumerate(conns):
                assert conn.recv(100) == f"hello {i}\n".encode()
            received = bytearray()
            sender = threading.Thread(target=conns[1].sendall, args=(body,))
            sender.start()
            while len(received) < len(body):
                chunk = conns[1].recv(65536)
                assert chunk, "the connection closed early"
                received += chunk
            sender.join()
            assert bytes(received) == body
        finally:
            for conn in conns:
                conn.close()


@needs_kubectl
@pytest.mark.parametrize("websockets", [True, False], ids=["spdy-in-websocket", "spdy-upgrade"])
def test_a_port_nothing_listens_on_is_upstreams_error_and_the_server_carries_on(cluster, websockets):
    forward = Forward(cluster, "pod/echo", ":9999", websockets=websockets)
    with socket.create_connection(("127.0.0.1", forward.local(9999)), timeout=10) as conn:
        assert _read_all(conn) == b""      # closed without a byte
    forward.process.wait(timeout=20)
    err = forward.stop()
    # kubectl v1.32 prints the error stream's text, then gives up the whole session.
    assert forward.process.returncode == 1
    assert re.search(r"an error occurred forwarding \d+ -> 9999: error forwarding port 9999 to pod [0-9a-f]{64}, "
                     r"uid : failed to execute portforward in network namespace \\\"/var/run/netns/cni-[0-9a-f-]+"
                     r"\\\": failed to connect to localhost:9999 inside namespace \\\"[0-9a-f]{64}\\\", "
                     r"IPv4: dial tcp4 127.0.0.1:9999: connect: connection refused", err), err
    assert err.endswith("error: lost connection to pod\n")
    with Forward(cluster, "pod/echo", ":9000", websockets=websockets) as again:
        with socket.create_connection(("127.0.0.1", again.local(9000)), timeout=10) as conn:
            conn.sendall(b"still here")
            assert conn.recv(100) == b"still here"


@needs_kubectl
def test_a_pod_that_is_not_running_cannot_be_forwarded(cluster):
    made = cluster.kubectl("run", "stuck", "--image=no-such-image-anywhere", "--image-pull-policy=Never")
    assert made.returncode == 0, made.stderr
    result = subprocess.run(["kubectl", "port-forward", "pod/stuck", "18080:80"], capture_output=True, text=True,
                            env=cluster.env(), timeout=30)
    assert (result.returncode, result.stderr) == (
        1, "error: unable to forward port because pod is not running. Current status=Pending\n")


def test_a_foreign_origin_is_refused_before_the_upgrade(cluster):
    headers = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "SPDY/3.1+portforward.k8s.io",
               "Origin": "https://evil.example"}
    code, _, body = cluster.request("GET", "/api/v1/namespaces/default/pods/echo/portforward", headers=headers)
    assert code == 403, (code, body)
    assert b'requests from web pages are not accepted (Origin \\"https://evil.example\\")' in body
    unauthenticated = {k: v for k, v in headers.items() if k != "Origin"}
    code, _, _ = cluster.request("GET", "/api/v1/namespaces/default/pods/echo/portforward",
                                 headers={**unauthenticated, "Authorization": "Bearer wrong"})
    assert code == 401


def test_a_plain_request_is_told_to_upgrade(cluster):
    code, _, body = cluster.request("POST", "/api/v1/namespaces/default/pods/echo/portforward")
    assert code == 400 and b"Upgrade request required" in body
    code, _, body = cluster.request("POST", "/api/v1/namespaces/default/pods/echo/portforward",
                                    headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                             "X-Stream-Protocol-Version": "v4.channel.k8s.io"})
    assert code == 403 and (b"unable to negotiate protocol: client supports [v4.channel.k8s.io], "
                                    b"server supports [portforward.k8s.io]") in body
    code, _, body = cluster.request("POST", "/api/v1/namespaces/default/pods/nope/portforward")
    assert code == 404 and b'pods \\"nope\\" not found' in body


def test_the_official_client_forwards_over_the_channel_protocol(cluster):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import portforward

    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(cluster.kubeconfig)))
    forward = portforward(api.connect_get_namespaced_pod_portforward, "echo", "default", ports="9000,9001")
    try:
        for port in (9000, 9001):
            sock = forward.socket(port)
            sock.setblocking(True)
            sock.sendall(f"to {port}".encode())
            assert sock.recv(100) == f"to {port}".encode()
            sock.close()
        assert forward.error(9000) is None
    finally:
        forward.close()


def test_minik8s_kubectl_port_forward(cluster):
    with Forward(cluster, "pod/echo", "19000:9000", ":9001", real=False) as forward:
        assert forward.local(9000) == 19000
        forward.wait_for(lambda: len(forward.lines) >= 4)
        assert forward.lines == ["Forwarding from 127.0.0.1:19000 -> 9000\n", "Forwarding from [::1]:19000 -> 9000\n",
                                 f"Forwarding from 127.0.0.1:{forward.local(9001)} -> 9001\n",
                                 f"Forwarding from [::1]:{forward.local(9001)} -> 9001\n"]
        body = bytes(range(256)) * 4096
        with socket.create_connection(("127.0.0.1", 19000), timeout=20) as conn:
            sender = threading.Thread(target=conn.sendall, args=(body,))
            sender.start()
            received = bytearray()
            while len(received) < len(body):
                chunk = conn.recv(65536)
                assert chunk
                received += chunk
            sender.join()
        assert bytes(received) == body
        forward.wait_for(lambda: "Handling connection for 19000\n" in forward.lines)
        # Each closed local connection ends its WebSocket: more connections than a client pool holds.
        for i in range(120):
            with socket.create_connection(("127.0.0.1", 19000), timeout=10) as conn:
                conn.sendall(b"ping %d" % i)
                assert conn.recv(100) == b"ping %d" % i
    # A Service port given alone is also the local port (then mapped to the pod's named targetPort).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    made = cluster.kubectl("create", "-f", "-", stdin=PODS.split("---\n")[-1].replace("name: web}", "name: web-free}")
                           .replace("port: 8000", f"port: {free}"))
    assert made.returncode == 0, made.stderr
    with Forward(cluster, "svc/web-free", str(free), real=False) as service:
        assert service.lines[0] == f"Forwarding from 127.0.0.1:{free} -> 80\n"
        assert "Welcome to nginx!" in http_get(free)
    refused = Forward(cluster, "pod/echo", ":9999", real=False)
    with socket.create_connection(("127.0.0.1", refused.local(9999)), timeout=10) as conn:
        assert _read_all(conn) == b""
    refused.process.wait(timeout=20)
    err = refused.stop()
    assert refused.process.returncode == 1
    assert re.match(r"an error occurred forwarding \d+ -> 9999: error forwarding port 9999 to pod [0-9a-f]{64}, uid : "
                    r"failed to execute portforward", err), err
    assert err.endswith("error: lost connection to pod\n")


# --- the SPDY session alone, with a fake WebSocket and a fake pod --------------------------

class FakeSocket:
    """What serve_spdy needs of a WebSocket: binary messages in, bytes out."""

    def __init__(self, frames: list) -> None:
        encoder = spdy.Encoder()
        self.incoming = [encoder.encode(f) for f in frames]
        self.sent = spdy.Decoder()
        self.out: list = []
        self.closed = False

    def __aiter__(self):
        return self

    async def __anext__(self):
        await asyncio.sleep(0.01)            # let the session's tasks run between messages
        if not self.incoming:
            await asyncio.sleep(0.1)
            raise StopAsyncIteration
        return SimpleNamespace(type=WSMsgType.BINARY, data=self.incoming.pop(0))

    async def send_bytes(self, data: bytes) -> None:
        self.out += self.sent.feed(data)


def _streams(request_id: str, port: str, first: int) -> list:
    return [spdy.SynStream(first, {"streamtype": ["error"], "port": [port], "requestid": [request_id]}),
            spdy.SynStream(first + 2, {"streamtype": ["data"], "port": [port], "requestid": [request_id]})]


def test_session_pairs_streams_answers_pings_and_refuses_bad_streams():
    async def dial(port: int):
        raise StatusError(500, "InternalError", f"nothing on {port}")

    ws = FakeSocket([
        spdy.Ping(1),
        *_streams("0", "80", 1),
        spdy.SynStream(5, {"streamtype": ["data"], "port": ["0"], "requestid": ["1"]}),      # port out of range
        spdy.SynStream(7, {"streamtype": ["sideways"], "port": ["80"], "requestid": ["1"]}),  # no such type
        spdy.SynStream(3, {"streamtype": ["data"], "port": ["80"], "requestid": ["2"]}),      # an old id
    ])
    asyncio.run(portforward.serve_spdy(ws, dial))   # type: ignore[arg-type]
    assert ws.out[0] == spdy.Ping(1)
    assert spdy.SynReply(1) in ws.out and spdy.SynReply(3) in ws.out
    assert spdy.Data(1, b"nothing on 80") in ws.out                      # the error stream carries the text
    assert spdy.Data(1, b"", fin=True) in ws.out and spdy.Data(3, b"", fin=True) in ws.out
    assert [f for f in ws.out if isinstance(f, spdy.RstStream)] == [
        spdy.RstStream(5, spdy.PROTOCOL_ERROR), spdy.RstStream(7, spdy.PROTOCOL_ERROR),
        spdy.RstStream(3, spdy.PROTOCOL_ERROR)]


def test_session_holds_a_bounded_number_of_connections(monkeypatch):
    monkeypatch.setattr(portforward, "MAX_CONNECTIONS", 2)

    async def dial(port: int):
        raise AssertionError("no pair is complete")

    ws = FakeSocket([spdy.SynStream(1 + 2 * i, {"streamtype": ["error"], "port": ["80"], "requestid": [str(i)]})
                     for i in range(3)])
    asyncio.run(portforward.serve_spdy(ws, dial))   # type: ignore[arg-type]
    assert ws.out == [spdy.SynReply(1), spdy.SynReply(3), spdy.RstStream(5, spdy.REFUSED_STREAM)]


def test_a_bad_frame_ends_the_session_with_goaway():
    async def dial(port: int):
        raise AssertionError

    ws = FakeSocket([])
    ws.incoming = [struct.pack(">II", 1, spdy.MAX_FRAME_BYTES + 1)]
    asyncio.run(portforward.serve_spdy(ws, dial))   # type: ignore[arg-type]
    assert ws.out == [spdy.GoAway(0, 1)]


@needs_kubectl
def test_the_simulated_runtime_answers_as_a_port_nothing_listens_on(tmp_path):
    # No real sockets behind simulated pods: the runtime's default port_forward refuses, in upstream's words.
    srv = start_server(tmp_path, "--runtime", "simulated", "--nodes", "1")
    try:
        assert srv.kubectl("run", "web", "--image=nginx").returncode == 0
        assert srv.kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=60s").returncode == 0
        forward = Forward(srv, "pod/web", ":80")
        with socket.create_connection(("127.0.0.1", forward.local(80)), timeout=10) as conn:
            assert _read_all(conn) == b""
        forward.process.wait(timeout=20)
        err = forward.stop()
        assert "IPv4: dial tcp4 127.0.0.1:80: connect: connection refused" in err
        assert err.endswith("error: lost connection to pod\n")
    finally:
        srv.stop()


@needs_kubectl
@pytest.mark.parametrize("ports", [[], ["abc:80"], ["70000:80"], ["18080:0"], ["18080:70000"], ["18080:-1"],
                                   ["18080:http"], [":"]])
def test_minik8s_kubectl_refuses_bad_ports_in_kubectls_words(cluster, ports):
    real = subprocess.run(["kubectl", "port-forward", "pod/echo", *ports], capture_output=True, text=True,
                          env=cluster.env(), timeout=30)
    ours = subprocess.run([sys.executable, "-m", "minik8s", "kubectl", "port-forward", "pod/echo", *ports],
                          capture_output=True, text=True, env=cluster.env(), timeout=30)
    assert real.returncode == 1
    assert (ours.returncode, ours.stdout, ours.stderr) == (real.returncode, real.stdout, real.stderr)
