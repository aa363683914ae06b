"""``pods/attach`` and ``kubectl run -i --rm`` against `minik8s server --runtime process`, with the real
kubectl, the official client and minik8s kubectl."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import needs_kubectl, start_server
from minik8s.kubectl.main import run as minik8s_kubectl

SLOW = "sleep 2; echo one; sleep 1; echo two; exit 3"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("attach"), "--runtime", "process", "--nodes", "1")
    try:
        made = srv.kubectl("run", "web", "--image=nginx")
        assert made.returncode == 0, made.stderr
        ready = srv.kubectl("wait", "--for=condition=Ready", "pod/web", "--timeout=60s")
        assert ready.returncode == 0, ready.stderr
        yield srv
    finally:
        srv.stop()


def kubectl(srv, *args: str, real: bool = True) -> subprocess.CompletedProcess:
    command = ["kubectl"] if real else [sys.executable, "-m", "minik8s", "kubectl"]
    return subprocess.run([*command, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=srv.env(), timeout=90)


def web_ip(srv) -> str:
    return srv.kubectl("get", "pod", "web", "-o", "jsonpath={.status.podIP}").stdout


@pytest.mark.parametrize("real", [pytest.param(True, marks=needs_kubectl), False], ids=["kubectl", "minik8s"])
def test_run_i_rm_prints_the_commands_output_then_deletes_the_pod(cluster, real):
    name = f"tmp-{'real' if real else 'ours'}"
    result = kubectl(cluster, "run", name, "--rm", "-i", "--image=busybox", "--restart=Never", "--",
                     "wget", "-qO-", f"http://{web_ip(cluster)}", real=real)
    assert result.returncode == 0, result.stderr
    page, deleted = result.stdout.rsplit("</html>\n", 1)
    assert "<h1>Welcome to nginx!</h1>" in page
    assert deleted == f'pod "{name}" deleted\n'
    assert "falling back" not in result.stderr
    assert cluster.kubectl("get", "pod", name).returncode == 1     # gone


@pytest.mark.parametrize("real", [pytest.param(True, marks=needs_kubectl), False], ids=["kubectl", "minik8s"])
def test_run_i_streams_a_running_container_and_exits_with_its_code(cluster, real):
    name = f"slow-{'real' if real else 'ours'}"
    result = kubectl(cluster, "run", name, "--rm", "-i", "--image=busybox", "--restart=Never", "--",
                     "sh", "-c", SLOW, real=real)
    assert result.stdout == f'one\ntwo\npod "{name}" deleted\n'
    assert result.returncode == 3
    # The container was running when kubectl came: it attached (no fallback to logs) and said so.
    assert result.stderr == ("If you don't see a command prompt, try pressing enter.\n"
                             f"pod default/{name} terminated (Error)\n")


def test_attach_streams_output_as_it_is_written(cluster):
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import stream

    made = cluster.kubectl("run", "ticker", "--image=busybox", "--restart=Never", "--",
                           "sh", "-c", "echo first; sleep 3; echo second")
    assert made.returncode == 0, made.stderr
    assert cluster.kubectl("wait", "--for=condition=Ready", "pod/ticker", "--timeout=60s").returncode == 0
    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(str(cluster.kubeconfig)))
    response = stream(api.connect_get_namespaced_pod_attach, "ticker", "default", stdout=True, stderr=True,
                      stdin=False, tty=False, _preload_content=False)
    try:
        response.update(timeout=10)
        while not response.peek_stdout():
            response.update(timeout=10)
        assert response.read_stdout() == "first\n"
        # The first line came while the container still runs (it sleeps before its second line).
        phase = cluster.kubectl("get", "pod", "ticker", "-o", "jsonpath={.status.containerStatuses[0].state}")
        assert "running" in phase.stdout
        out = ""
        while response.is_open():
            response.update(timeout=10)
            out += response.read_stdout() or ""
        assert out == "second\n"
    finally:
        response.close()


@needs_kubectl
def test_attach_to_a_missing_pod_is_not_found(cluster):
    result = kubectl(cluster, "attach", "nope")
    assert (result.returncode, result.stderr) == (1, 'Error from server (NotFound): pods "nope" not found\n')


def test_run_rm_needs_an_attached_container():
    code, out, err = minik8s_kubectl("run x --rm --image=busybox", client=object())  # type: ignore[arg-type]
    assert (code, out, err) == (1, "", "error: --rm should only be used for attached containers\n"
                                       "See 'kubectl run -h' for help and examples\n")


@pytest.mark.parametrize("real", [pytest.param(True, marks=needs_kubectl), False], ids=["kubectl", "minik8s"])
def test_attach_keeps_stdout_and_stderr_apart(cluster, real):
    name = f"streams-{'real' if real else 'ours'}"
    result = kubectl(cluster, "run", name, "--rm", "-i", "--image=busybox", "--restart=Never", "--",
                     "sh", "-c", "sleep 2; echo to-out; echo to-err >&2", real=real)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f'to-out\npod "{name}" deleted\n'
    assert result.stderr == "If you don't see a command prompt, try pressing enter.\nto-err\n"
