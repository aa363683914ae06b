"""The kubelet's HTTPS API (``minik8s.kubelet.server``) and the API server reaching it (``RemoteKubelet``):
a Cluster's kubelet served on a real port, taken out of the API server's in-process table, so ``kubectl logs``,
``kubectl exec`` and the node proxy travel API server → HTTPS → kubelet, as on a real cluster. The same
with a kubelet process and the process runtime: ``test_kubelet_streaming.py``."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from minik8s import kubeconfig, pki
from minik8s.apiserver import kubeletstreams
from minik8s.cluster import Cluster, KubectlError
from minik8s.kubelet import server as kubelet_server
from conftest import wait_for

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="the real kubectl is not on PATH")

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    image: busybox:1.36
    command: ["sh", "-c", "echo hello; echo world; sleep 3600"]
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A one-node simulated cluster served over HTTPS, its kubelet's API on a free port, the kubelet known
    to the API server only through its Node (InternalIP, daemonEndpoints)."""
    tmp = tmp_path_factory.mktemp("kubelet-server")
    cluster = Cluster(nodes=1, runtime="simulated", clock="real", seed=1, data_dir=tmp / "data")
    try:
        url = cluster.serve()
        kubelet = cluster.kubelets[0]
        cert_pem, key_pem = pki.self_signed_certificate([kubelet.node_name, "127.0.0.1"])
        (tmp / "kubelet.crt").write_bytes(cert_pem)
        (tmp / "kubelet.key").write_bytes(key_pem)
        context = kubelet_server.ssl_context(tmp / "kubelet.crt", tmp / "kubelet.key", cluster.pki.ca_file)
        stopper = kubelet_server.start(kubelet, "127.0.0.1", 0, context, streaming=kubeletstreams.install)
        cluster.api.nodes.unregister(kubelet.node_name)   # from now on the API server dials it
        config = tmp / "kubeconfig"
        kubeconfig.save(kubeconfig.for_user(url, cluster.pki.ca_pem, "admin", token=cluster.pki.admin_token), config)
        cluster.apply(POD)
        yield cluster, stopper, config, tmp
        stopper.stop()
    finally:
        cluster.stop()


def _kubectl(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KUBECONFIG": str(config), "HOME": str(config.parent)})


def _get(port: int, path: str, cert: tuple[bytes, bytes] | None, tmp: Path) -> tuple[int, str]:
    """A request straight to the kubelet's API, with a client certificate or without one."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE   # the kubelet's certificate is self-signed, as upstream's default
    if cert is not None:
        (tmp / "client.crt").write_bytes(cert[0])
        (tmp / "client.key").write_bytes(cert[1])
        context.load_cert_chain(tmp / "client.crt", tmp / "client.key")
    try:
        with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=context, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_the_node_publishes_where_its_kubelet_listens(served) -> None:
    cluster, stopper, config, _ = served

    def published() -> bool:
        node = json.loads(cluster.kubectl("get node node-1 -o json"))
        status = node["status"]
        return ({"type": "InternalIP", "address": "127.0.0.1"} in status["addresses"]
                and status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == stopper.port)
    wait_for(published, what="the Node to name the kubelet's address and port")


@needs_kubectl
def test_kubectl_logs_reaches_the_kubelet_over_https(served) -> None:
    cluster, _, config, _ = served
    wait_for(lambda: _kubectl(config, "logs", "web").stdout == "hello\nworld\n", timeout=30,
             what="kubectl logs web through the remote kubelet")
    assert _kubectl(config, "logs", "web", "--tail=1").stdout == "world\n"
    stamped = _kubectl(config, "logs", "web", "-c", "app", "--timestamps").stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["hello", "world"]
    wrong = _kubectl(config, "logs", "web", "-c", "nope")
    assert wrong.returncode == 1
    assert "container nope is not valid for pod web" in wrong.stderr


@needs_kubectl
def test_the_node_proxy_reads_the_summary_api_from_the_remote_kubelet(served) -> None:
    _, _, config, _ = served
    result = _kubectl(config, "get", "--raw", "/api/v1/nodes/node-1/proxy/stats/summary")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["node"]["nodeName"] == "node-1"


def test_the_kubelet_api_wants_a_certificate_in_system_masters(served) -> None:
    cluster, stopper, _, tmp = served
    ca = cluster.pki.directory
    assert _get(stopper.port, "/healthz", None, tmp)[0] == 401
    alice = pki.issue_client_certificate(ca, "alice", ["devs"])
    status, body = _get(stopper.port, "/containerLogs/default/web/app", alice, tmp)
    assert status == 403
    # Upstream's kubelet asks for nodes/proxy here (nodes/log is its /logs, the node's own log files).
    assert json.loads(body)["message"] == "Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[proxy])"
    apiserver = pki.issue_client_certificate(ca, pki.KUBELET_CLIENT, ["system:masters"])
    assert _get(stopper.port, "/healthz", apiserver, tmp) == (200, "ok")
    status, body = _get(stopper.port, "/stats/summary", apiserver, tmp)
    assert status == 200 and json.loads(body)["node"]["nodeName"] == "node-1"
    status, body = _get(stopper.port, "/containerLogs/default/web/app?tailLines=x", apiserver, tmp)
    assert status == 400 and "tailLines" in json.loads(body)["message"]
    status, body = _get(stopper.port, "/containerLogs/default/missing/app", apiserver, tmp)
    assert status == 404


@needs_kubectl
def test_exec_reaches_the_kubelet_over_a_websocket(served) -> None:
    _, _, config, _ = served
    wait_for(lambda: _kubectl(config, "get", "pod", "web", "--no-headers").stdout.split()[2:3] == ["Running"],
             timeout=30, what="the pod to run")
    result = _kubectl(config, "exec", "web", "--", "echo", "hi")
    assert (result.returncode, result.stdout, result.stderr) == (0, "hi\n", "")
    piped = subprocess.run(["kubectl", "exec", "-i", "web", "--", "cat"], input="through the kubelet\n",
                           capture_output=True, text=True, timeout=60,
                           env={**os.environ, "KUBECONFIG": str(config), "HOME": str(config.parent)})
    assert (piped.returncode, piped.stdout) == (0, "through the kubelet\n"), piped.stderr


def test_the_in_process_client_runs_a_command_to_its_end_on_the_remote_kubelet(served) -> None:
    cluster, _, _, _ = served
    wait_for(lambda: "Running" in cluster.kubectl("get pod web"), timeout=30, what="the pod to run")
    assert cluster.kubectl("exec web -- echo hi") == "hi\n"
    with pytest.raises(KubectlError) as failed:
        cluster.kubectl("exec web -- sh -c 'exit 4'")
    assert (failed.value.code, failed.value.message) == (4, "command terminated with exit code 4")


def test_exec_attach_and_port_forward_need_nodes_proxy(served) -> None:
    cluster, stopper, _, tmp = served
    alice = pki.issue_client_certificate(cluster.pki.directory, "alice", ["devs"])
    for path in ("/exec/default/web/app?command=true&output=1", "/attach/default/web/app?input=1",
                 "/portForward/default/web?port=80"):
        status, body = _get(stopper.port, path, alice, tmp)
        assert status == 403
        assert json.loads(body)["message"] == "Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[proxy])"
    # Allowed, but not upgraded: told to upgrade, as the API server tells its clients.
    apiserver = pki.issue_client_certificate(cluster.pki.directory, pki.KUBELET_CLIENT, ["system:masters"])
    status, body = _get(stopper.port, "/exec/default/web/app?command=true&output=1", apiserver, tmp)
    assert (status, json.loads(body)["message"]) == (400, "Upgrade request required")
    status, body = _get(stopper.port, "/portForward/default/web?port=0", apiserver, tmp)
    assert status == 400 and '"port"' in json.loads(body)["message"]


def test_a_refused_upgrade_reaches_the_api_server_with_the_kubelets_words(served) -> None:
    """RemoteExec reads the Status the kubelet refused the upgrade with (here: a user it does not allow)."""
    import asyncio

    from minik8s.api.errors import StatusError
    from minik8s.apiserver.remotecommand import Channels

    cluster, stopper, _, tmp = served
    cert, key = pki.issue_client_certificate(cluster.pki.directory, "alice", ["devs"])
    (tmp / "alice.crt").write_bytes(cert)
    (tmp / "alice.key").write_bytes(key)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.load_cert_chain(tmp / "alice.crt", tmp / "alice.key")
    remote = kubeletstreams.RemoteExec(f"https://127.0.0.1:{stopper.port}/exec/default/web/app", context, ["true"])
    with pytest.raises(StatusError) as refused:
        asyncio.run(remote.open_session(Channels(stdin=False, stdout=True, stderr=True, tty=False)))
    assert (refused.value.code, refused.value.message) == (
        403, "unable to upgrade connection: Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[proxy])")


@needs_kubectl
def test_a_stopped_kubelet_api_is_an_error_naming_the_address(tmp_path: Path) -> None:
    with Cluster(nodes=1, runtime="simulated", clock="real", seed=2, data_dir=tmp_path / "data") as cluster:
        url = cluster.serve()
        kubelet = cluster.kubelets[0]
        cert_pem, key_pem = pki.self_signed_certificate([kubelet.node_name, "127.0.0.1"])
        (tmp_path / "k.crt").write_bytes(cert_pem)
        (tmp_path / "k.key").write_bytes(key_pem)
        stopper = kubelet_server.start(kubelet, "127.0.0.1", 0,
                                       kubelet_server.ssl_context(tmp_path / "k.crt", tmp_path / "k.key",
                                                                  cluster.pki.ca_file),
                                       streaming=kubeletstreams.install)
        cluster.api.nodes.unregister(kubelet.node_name)
        cluster.apply(POD)
        config = tmp_path / "kubeconfig"
        kubeconfig.save(kubeconfig.for_user(url, cluster.pki.ca_pem, "admin", token=cluster.pki.admin_token), config)
        wait_for(lambda: _kubectl(config, "logs", "web").stdout == "hello\nworld\n", timeout=30,
                 what="the logs through the kubelet")
        stopper()
        result = _kubectl(config, "logs", "web")
        assert result.returncode == 1
        assert f'dial tcp 127.0.0.1:{stopper.port}: connect: connection refused' in result.stderr
        execed = _kubectl(config, "exec", "web", "--", "true")
        assert execed.returncode == 1
        assert f'error dialing backend: dial tcp 127.0.0.1:{stopper.port}: connect: connection refused' in \
            execed.stderr


def test_a_full_output_channel_still_ends_when_read() -> None:
    """The relay holds at most QUEUE_CHUNKS messages per channel; the end of the stream waits for room
    instead of being lost when the reader is slow."""
    import asyncio

    import aiohttp

    sent = kubeletstreams.QUEUE_CHUNKS   # exactly a full queue when the kubelet's stream ends

    class KubeletSocket:   # what aiohttp's client WebSocket yields: stdout messages, then the end
        async def __aiter__(self):
            for i in range(sent):
                yield aiohttp.WSMessage(aiohttp.WSMsgType.BINARY, bytes([1]) + str(i).encode(), None)

    async def main() -> list[bytes]:
        relay = kubeletstreams._Channels(KubeletSocket(), [1])   # type: ignore[arg-type]
        while relay.queues[1].qsize() < kubeletstreams.QUEUE_CHUNKS:   # the reader comes late
            await asyncio.sleep(0)
        for _ in range(10):   # ... after the stream has ended
            await asyncio.sleep(0)
        got = [chunk async for chunk in relay.chunks(1)]
        await relay.task
        return got

    assert asyncio.run(asyncio.wait_for(main(), 10)) == [str(i).encode() for i in range(sent)]
