"""The control plane as separate processes (minik8s.daemons): `minik8s apiserver`, `controller-manager`,
`scheduler` and two `kubelet`s started as real subprocesses on loopback, talking over HTTPS only; the real
kubectl drives them with the admin.conf the API server wrote."""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import needs_kubectl, wait_for

START_TIMEOUT = 90.0   # a loaded 2-core machine starts Python processes slowly


@dataclass
class Daemon:
    name: str
    process: subprocess.Popen
    log: Path
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return self.log.read_text() if self.log.exists() else ""

    def wait_for_line(self, pattern: str) -> re.Match[str]:
        def found() -> re.Match[str] | None:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}: {self.output()}")
            return re.search(pattern, self.output())
        return wait_for(found, START_TIMEOUT, f"{self.name} to print {pattern!r}")

    def terminate(self) -> int:
        """SIGTERM, then its exit code (and no process left in its session: no orphans)."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        wait_for(lambda: not _session_alive(self.process.pid), 10, f"{self.name}'s processes to end")
        return code


def _session_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


_STARTED: list[Daemon] = []   # every process a test started: none outlives the module, pass or fail


def _start(tmp: Path, name: str, *args: str) -> Daemon:
    log = tmp / f"{name}.log"
    out = log.open("w")
    process = subprocess.Popen([sys.executable, "-m", "minik8s", *args], stdout=out, stderr=subprocess.STDOUT,
                               env={**os.environ, "HOME": str(tmp)}, start_new_session=True)
    out.close()
    _STARTED.append(Daemon(name, process, log))
    return _STARTED[-1]


@dataclass
class ControlPlane:
    tmp: Path
    data_dir: Path
    url: str
    daemons: dict[str, Daemon]
    health: dict[str, str]
    pod_ip: str = ""

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", "--kubeconfig", str(self.data_dir / "admin.conf"), *args],
                              capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(self.tmp)})


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("controlplane")
    data = tmp / "data"
    daemons: dict[str, Daemon] = {}
    try:
        api = daemons["apiserver"] = _start(tmp, "apiserver", "apiserver", "--data-dir", str(data), "--port", "0",
                                            "--node-name", "node-1", "--node-name", "node-2",
                                            "--node-name", "node-3")
        url = api.wait_for_line(r"serving the Kubernetes API at (https://\S+)").group(1)
        health = {"apiserver": url}
        daemons["controller-manager"] = _start(tmp, "controller-manager", "controller-manager", "--kubeconfig",
                                               str(data / "controller-manager.conf"), "--secure-port", "0")
        daemons["scheduler"] = _start(tmp, "scheduler", "scheduler", "--kubeconfig", str(data / "scheduler.conf"),
                                      "--secure-port", "0", "--leader-elect=false")
        for node in ("node-1", "node-2"):
            daemons[node] = _start(tmp, node, "kubelet", "--kubeconfig", str(data / f"kubelet-{node}.conf"),
                                   "--node-name", node, "--runtime", "simulated", "--healthz-port", "0",
                                   "--port", "0", "--data-dir", str(tmp / node))
        # node-3 runs real processes; its taint keeps the Deployment off it (only a pinned pod goes there)
        daemons["node-3"] = _start(tmp, "node-3", "kubelet", "--kubeconfig", str(data / "kubelet-node-3.conf"),
                                   "--node-name", "node-3", "--runtime", "process", "--healthz-port", "0",
                                   "--register-with-taints", "minik8s.io/runtime=process:NoSchedule",
                                   "--port", "0", "--data-dir", str(tmp / "node-3"))
        daemons["proxy"] = _start(tmp, "proxy", "proxy", "--kubeconfig", str(data / "proxy.conf"), "--node-name",
                                  "node-1", "--healthz-port", "0")
        for name, daemon in daemons.items():
            if name != "apiserver":
                health[name] = daemon.wait_for_line(r"serving /healthz, /livez and /readyz at (\S+)").group(1)
        yield ControlPlane(tmp, data, url, daemons, health)
    finally:
        for daemon in _STARTED:
            if _session_alive(daemon.process.pid):
                os.killpg(daemon.process.pid, signal.SIGKILL)
            daemon.process.wait(timeout=30)


def _get(url: str, *, ca: Path | None = None) -> tuple[int, str]:
    """An anonymous GET, as curl: trusting ``ca`` (a self-signed component certificate: not verified)."""
    context = None
    if url.startswith("https"):
        context = ssl.create_default_context(cafile=str(ca)) if ca else ssl._create_unverified_context()
    try:
        with urllib.request.urlopen(url, timeout=20, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@needs_kubectl
def test_every_kubelet_registers_a_ready_node(plane: ControlPlane):
    nodes = {"node-1", "node-2", "node-3"}

    def ready() -> bool:
        out = plane.kubectl("get", "nodes", "--no-headers").stdout
        return {line.split()[0] for line in out.splitlines() if line.split()[1:2] == ["Ready"]} == nodes
    wait_for(ready, START_TIMEOUT, "nodes node-1, node-2 and node-3 to be Ready")
    leases = plane.kubectl("get", "leases", "-n", "kube-node-lease", "-o", "name")
    assert leases.stdout.split() == [f"lease.coordination.k8s.io/{node}" for node in sorted(nodes)]
    taints = plane.kubectl("get", "node", "node-3", "-o", "jsonpath={.spec.taints[0].key}={.spec.taints[0].effect}")
    assert taints.stdout == "minik8s.io/runtime=NoSchedule"


@needs_kubectl
def test_a_deployment_is_scheduled_on_both_nodes_and_runs(plane: ControlPlane):
    created = plane.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3")
    assert created.returncode == 0, created.stderr

    def running() -> list[list[str]] | None:
        out = plane.kubectl("get", "pods", "-l", "app=web", "-o", "wide", "--no-headers").stdout
        rows = [line.split() for line in out.splitlines()]
        return rows if len(rows) == 3 and all(row[2] == "Running" for row in rows) else None
    rows = wait_for(running, 60, "3 Running pods of the Deployment")
    assert {row[6] for row in rows} == {"node-1", "node-2"}
    ready = plane.kubectl("get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}")
    assert ready.stdout == "3"


@needs_kubectl
def test_the_controller_manager_publishes_the_cluster_ca_and_default_service_accounts(plane: ControlPlane):
    ca = (plane.data_dir / "pki" / "ca.crt").read_text()

    def published() -> str:
        return plane.kubectl("get", "configmap", "kube-root-ca.crt", "-n", "default",
                             "-o", "jsonpath={.data.ca\\.crt}").stdout
    assert wait_for(lambda: published() == ca, 30, "kube-root-ca.crt in namespace default")
    assert plane.kubectl("get", "serviceaccount", "default", "-n", "kube-system", "-o", "name").stdout == \
        "serviceaccount/default\n"


REAL_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: real}
spec:
  nodeSelector: {kubernetes.io/hostname: node-3}
  tolerations: [{key: minik8s.io/runtime, operator: Exists, effect: NoSchedule}]
  containers: [{name: web, image: nginx}]
"""


@needs_kubectl
def test_a_process_runtime_kubelet_runs_a_real_pod(plane: ControlPlane):
    created = subprocess.run(["kubectl", "--kubeconfig", str(plane.data_dir / "admin.conf"), "apply", "-f", "-"],
                             input=REAL_POD, capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr

    def ip() -> str | None:
        out = plane.kubectl("get", "pod", "real", "-o", "jsonpath={.status.phase} {.status.podIP}").stdout.split()
        return out[1] if out[:1] == ["Running"] and len(out) == 2 else None
    address = wait_for(ip, START_TIMEOUT, "pod real to run on node-3")
    assert address.startswith("127.1.3.")   # node-3's pod network in the process runtime's address plan
    # Running as soon as the process started; it answers once listening
    status, body = wait_for(lambda: _reachable(f"http://{address}:80/"), 30, "the pod's web server to answer")
    assert status == 200 and "nginx" in body
    plane.pod_ip = address


@needs_kubectl
def test_kube_proxy_serves_the_kubernetes_service(plane: ControlPlane):
    """The `kubernetes` Service's ClusterIP, through node-1's kube-proxy, reaches the API server."""
    ip = plane.kubectl("get", "service", "kubernetes", "-o", "jsonpath={.spec.clusterIP}").stdout
    ca = plane.data_dir / "pki" / "ca.crt"
    assert wait_for(lambda: _reachable(f"https://{ip}:443/readyz", ca), 60, "the ClusterIP to answer") == (200, "ok")


def _reachable(url: str, ca: Path | None = None) -> tuple[int, str] | None:
    try:
        return _get(url, ca=ca)
    except OSError:
        return None


def test_the_api_server_answers_health_checks_to_anyone(plane: ControlPlane):
    ca = plane.data_dir / "pki" / "ca.crt"
    for endpoint in ("healthz", "livez", "readyz"):
        assert _get(f"{plane.url}/{endpoint}", ca=ca) == (200, "ok")
        status, body = _get(f"{plane.url}/{endpoint}?verbose", ca=ca)
        assert status == 200
        assert body.splitlines() == ["[+]ping ok", "[+]log ok", "[+]etcd ok", f"{endpoint} check passed"]
    status, body = _get(f"{plane.url}/healthz?verbose&exclude=etcd", ca=ca)
    assert "[+]etcd excluded: ok" in body.splitlines()
    # One check alone is for the system:monitoring group, not for anonymous callers (upstream's RBAC).
    assert _get(f"{plane.url}/healthz/etcd", ca=ca)[0] == 403


def test_every_component_serves_its_health_endpoints(plane: ControlPlane):
    assert plane.health["controller-manager"].startswith("https://127.0.0.1:")
    assert plane.health["scheduler"].startswith("https://127.0.0.1:")
    assert plane.health["node-1"].startswith("http://127.0.0.1:")   # the kubelet's: plain HTTP on loopback
    for name in ("controller-manager", "scheduler", "node-1", "node-2", "node-3", "proxy"):
        base = plane.health[name]
        assert _get(f"{base}/healthz") == (200, "ok"), name
        status, body = _get(f"{base}/livez?verbose")
        assert status == 200 and body.splitlines()[0] == "[+]ping ok" and body.endswith("livez check passed\n")
        assert _get(f"{base}/readyz/ping") == (200, "ok")
        assert _get(f"{base}/healthz/nothing")[0] == 404


def test_a_second_api_server_on_the_same_sqlite_store_is_refused(plane: ControlPlane):
    second = _start(plane.tmp, "apiserver-2", "apiserver", "--data-dir", str(plane.data_dir), "--port", "0")
    assert second.process.wait(timeout=60) == 1
    output = second.output()
    assert f"{plane.data_dir / 'state.db'} is in use by another API server (pid {plane.daemons['apiserver'].process.pid})" \
        in output
    assert "etcd" in output


@needs_kubectl
def test_a_second_api_server_on_the_same_pki_serves_with_the_same_ca(plane: ControlPlane):
    second = plane.tmp / "second"
    second.mkdir()
    (second / "pki").symlink_to(plane.data_dir / "pki")   # as a shared folder: nothing regenerated
    before = {path.name: path.read_bytes() for path in (plane.data_dir / "pki").glob("*") if path.suffix != ".csv"}
    # API servers of one cluster share --service-cluster-ip-range (the first one's block, claimed on this machine)
    ip = plane.kubectl("get", "service", "kubernetes", "-o", "jsonpath={.spec.clusterIP}").stdout
    cidr = str(ipaddress.ip_network(f"{ip}/12", strict=False))
    other = _start(plane.tmp, "apiserver-3", "apiserver", "--data-dir", str(second), "--port", "0",
                   "--service-cluster-ip-range", cidr)
    try:
        url = other.wait_for_line(r"serving the Kubernetes API at (https://\S+)").group(1)
        assert _get(f"{url}/readyz", ca=plane.data_dir / "pki" / "ca.crt") == (200, "ok")   # signed by the same CA
        # its own store: the same admin certificate is good there, and it has no Deployment
        out = subprocess.run(["kubectl", "--kubeconfig", str(second / "admin.conf"), "get", "deployments", "-A"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stderr == "No resources found\n", out.stderr
        assert plane.kubectl("--server", url, "get", "namespace", "kube-system", "-o", "name").stdout == \
            "namespace/kube-system\n"
    finally:
        assert other.terminate() == 0
    after = {path.name: path.read_bytes() for path in (plane.data_dir / "pki").glob("*") if path.name in before}
    kept = ("ca.crt", "ca.key", "sa.key", "sa.pub", "apiserver.crt", "apiserver.key")
    assert {name: after[name] for name in kept} == {name: before[name] for name in kept}


def test_a_component_waits_for_an_api_server_that_is_not_there(plane: ControlPlane):
    config = plane.tmp / "nowhere.conf"
    port = _free_port()
    config.write_text(re.sub(r"server: \S+", f"server: https://127.0.0.1:{port}",
                             (plane.data_dir / "scheduler.conf").read_text()))
    waiting = _start(plane.tmp, "scheduler-waiting", "scheduler", "--kubeconfig", str(config), "--secure-port", "0")
    waiting.wait_for_line(rf"waiting for the API server at https://127.0.0.1:{port}: The connection to the server "
                          rf"127.0.0.1:{port} was refused")
    assert waiting.terminate() == 0


def test_a_component_with_a_credential_the_api_server_rejects_says_so(plane: ControlPlane):
    config = plane.tmp / "forged.conf"
    text = (plane.data_dir / "kubelet-node-1.conf").read_text()
    text = re.sub(r"client-certificate-data: \S+\n\s*client-key-data: \S+", "token: not-a-real-token", text)
    config.write_text(text)
    forged = _start(plane.tmp, "forged", "kubelet", "--kubeconfig", str(config), "--node-name", "node-9",
                    "--runtime", "simulated", "--healthz-port", "0")
    assert forged.process.wait(timeout=60) == 1
    assert f"error: the API server at {plane.url} rejected the credential of this kubeconfig: Unauthorized" \
        in forged.output()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigterm_stops_every_process_cleanly(plane: ControlPlane):
    for name in ("proxy", "node-3", "node-1", "node-2", "scheduler", "controller-manager", "apiserver"):
        daemon = plane.daemons[name]
        assert daemon.terminate() == 0, f"{name}: {daemon.output()}"
        assert "Traceback" not in daemon.output(), name
    assert "minik8s apiserver: shutting down" in plane.daemons["apiserver"].output()
    assert plane.daemons["node-1"].output().rstrip().endswith("kubelet (node-1): stopped")
    if plane.pod_ip:   # node-3's kubelet stopped its pod's processes
        with pytest.raises(OSError):
            _get(f"http://{plane.pod_ip}:80/")
