"""The control plane as separate processes (minik8s.daemons): `minik8s apiserver`, `controller-manager`,
`scheduler` and two `kubelet`s started as real subprocesses on loopback, talking over HTTPS only; the real
kubectl drives them with the admin.conf the API server wrote."""

from __future__ import annotations

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
from minik8s import healthz

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


def _start(tmp: Path, name: str, *args: str) -> Daemon:
    log = tmp / f"{name}.log"
    out = log.open("w")
    process = subprocess.Popen([sys.executable, "-m", "minik8s", *args], stdout=out, stderr=subprocess.STDOUT,
                               env={**os.environ, "HOME": str(tmp)}, start_new_session=True)
    out.close()
    return Daemon(name, process, log)


@dataclass
class ControlPlane:
    tmp: Path
    data_dir: Path
    url: str
    daemons: dict[str, Daemon]
    health: dict[str, str]

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
                                            "--node-name", "node-1", "--node-name", "node-2")
        url = api.wait_for_line(r"serving the Kubernetes API at (https://\S+)").group(1)
        health = {"apiserver": url}
        daemons["controller-manager"] = _start(tmp, "controller-manager", "controller-manager", "--kubeconfig",
                                               str(data / "controller-manager.conf"), "--secure-port", "0")
        daemons["scheduler"] = _start(tmp, "scheduler", "scheduler", "--kubeconfig", str(data / "scheduler.conf"),
                                      "--secure-port", "0", "--leader-elect=false")
        for node in ("node-1", "node-2"):
            daemons[node] = _start(tmp, node, "kubelet", "--kubeconfig", str(data / f"kubelet-{node}.conf"),
                                   "--node-name", node, "--runtime", "simulated", "--healthz-port", "0",
                                   "--data-dir", str(tmp / node))
        for name, daemon in daemons.items():
            if name != "apiserver":
                health[name] = daemon.wait_for_line(r"serving /healthz, /livez and /readyz at (\S+)").group(1)
        yield ControlPlane(tmp, data, url, daemons, health)
    finally:
        for daemon in daemons.values():
            if daemon.process.poll() is None:
                daemon.process.kill()
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
def test_both_kubelets_register_ready_nodes(plane: ControlPlane):
    def ready() -> bool:
        out = plane.kubectl("get", "nodes", "--no-headers").stdout
        return {line.split()[0] for line in out.splitlines() if line.split()[1:2] == ["Ready"]} == {"node-1", "node-2"}
    wait_for(ready, START_TIMEOUT, "nodes node-1 and node-2 to be Ready")
    leases = plane.kubectl("get", "leases", "-n", "kube-node-lease", "-o", "name")
    assert leases.stdout.split() == ["lease.coordination.k8s.io/node-1", "lease.coordination.k8s.io/node-2"]


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
    for name in ("controller-manager", "scheduler", "node-1", "node-2"):
        base = plane.health[name]
        assert _get(f"{base}/healthz") == (200, "ok"), name
        status, body = _get(f"{base}/livez?verbose")
        assert status == 200 and body.splitlines()[0] == "[+]ping ok" and body.endswith("livez check passed\n")
        assert _get(f"{base}/readyz/ping") == (200, "ok")
        assert _get(f"{base}/healthz/nothing")[0] == 404


def test_a_failing_check_gives_500_and_withholds_its_reason():
    checks = [healthz.Check("ping", healthz.ping), healthz.Check("etcd", lambda: "connection refused")]
    status, body = healthz.answer("readyz", checks, "/readyz", {})
    assert status == 500
    assert body == "[+]ping ok\n[-]etcd failed: reason withheld\nreadyz check failed\n"
    assert healthz.answer("readyz", checks, "/readyz", {"exclude": "etcd"}) == (200, "ok")


def test_a_second_api_server_on_the_same_sqlite_store_is_refused(plane: ControlPlane):
    second = _start(plane.tmp, "apiserver-2", "apiserver", "--data-dir", str(plane.data_dir), "--port", "0")
    assert second.process.wait(timeout=60) == 1
    output = second.output()
    assert f"{plane.data_dir / 'state.db'} is in use by another API server (pid {plane.daemons['apiserver'].process.pid})" \
        in output
    assert "etcd" in output


@needs_kubectl
def test_a_second_api_server_on_the_same_pki_serves_with_the_same_ca(plane: ControlPlane):
    kept = {path: path.read_text() for path in plane.data_dir.glob("*.conf")}   # it rewrites them
    other = _start(plane.tmp, "apiserver-3", "apiserver", "--data-dir", str(plane.data_dir), "--port", "0",
                   "--store", f"sqlite://{plane.tmp / 'other-store'}")
    try:
        url = other.wait_for_line(r"serving the Kubernetes API at (https://\S+)").group(1)
        ca = plane.data_dir / "pki" / "ca.crt"
        assert _get(f"{url}/readyz", ca=ca) == (200, "ok")   # its certificate is signed by the same CA
        # admin.conf now names the new server; its own (empty) store has no Deployment
        out = plane.kubectl("get", "namespaces", "-o", "name")
        assert "namespace/kube-system" in out.stdout.split()
        assert plane.kubectl("get", "deployments").stderr.startswith("No resources found")
    finally:
        for path, text in kept.items():   # back to the first API server for the tests that follow
            path.write_text(text)
        assert other.terminate() == 0


def test_a_component_waits_for_an_api_server_that_is_not_there(plane: ControlPlane):
    config = plane.tmp / "nowhere.conf"
    port = _free_port()
    config.write_text(re.sub(r"server: \S+", f"server: https://127.0.0.1:{port}",
                             (plane.data_dir / "scheduler.conf").read_text()))
    waiting = _start(plane.tmp, "scheduler-waiting", "scheduler", "--kubeconfig", str(config), "--secure-port", "0")
    waiting.wait_for_line(rf"waiting for the API server at https://127.0.0.1:{port}: The connection to the server "
                          rf"127.0.0.1:{port} was refused")
    assert waiting.terminate() == 0


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigterm_stops_every_process_cleanly(plane: ControlPlane):
    for name in ("node-1", "node-2", "scheduler", "controller-manager", "apiserver"):
        daemon = plane.daemons[name]
        assert daemon.terminate() == 0, f"{name}: {daemon.output()}"
        assert "Traceback" not in daemon.output(), name
    assert "minik8s apiserver: shutting down" in plane.daemons["apiserver"].output()
    assert plane.daemons["node-1"].output().rstrip().endswith("kubelet (node-1): stopped")
