"""Shared fixtures: a real `minik8s server` process on a free loopback port, with its own kubeconfig."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml
from hypothesis import HealthCheck, settings

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Property tests check behaviour, not speed: no per-example deadline (Hypothesis' default, 200 ms, is a
# timed test in disguise, and fails when the suite's workers share the machine's cores).
settings.register_profile("minik8s", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("minik8s")


@dataclass
class Server:
    url: str
    kubeconfig: Path
    data_dir: Path
    process: subprocess.Popen
    args: list[str]

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.kubeconfig.parent)}

    def kubectl(self, *args: str, stdin: str | None = None, real: bool = True) -> subprocess.CompletedProcess:
        """Run the real kubectl (or `minik8s kubectl`) against this server."""
        command = ["kubectl", *args] if real else [sys.executable, "-m", "minik8s", "kubectl", *args]
        return subprocess.run(command, input=stdin, capture_output=True, text=True, env=self.env(), timeout=60)

    def credentials(self) -> tuple[str | None, ssl.SSLContext | None]:
        """The admin token and a TLS context trusting the cluster CA, both read from the kubeconfig."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        token = (config["users"][0].get("user") or {}).get("token")
        ca = cluster.get("certificate-authority-data")
        context = ssl.create_default_context(cadata=base64.b64decode(ca).decode()) if ca else None
        return token, context

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                *, authenticated: bool = True, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request to the API server (as the admin unless ``authenticated=False``):
        (status code, response headers, body)."""
        token, context = self.credentials()
        headers = dict(headers or {})
        if authenticated and token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def http_client(self) -> Any:
        """minik8s's own HTTP client, configured from the kubeconfig as `minik8s kubectl` is."""
        from minik8s import kubeconfig
        from minik8s.client.http import HTTPClient

        ctx = kubeconfig.current(kubeconfig.load(self.kubeconfig))
        return HTTPClient(ctx.server, token=ctx.token, ca_pem=ctx.ca_pem)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=20)


def start_server(tmp: Path, *extra: str, data_dir: Path | None = None) -> Server:
    kubeconfig = tmp / "kubeconfig"
    data_dir = data_dir or tmp / "data"
    # free ingress ports unless the test names them: servers of parallel tests must not compete for 8080/8443
    ingress = [] if "--ingress-http-port" in extra else ["--ingress-http-port", "0", "--ingress-https-port", "0"]
    args = [sys.executable, "-m", "minik8s", "server", "--port", "0", "--data-dir", str(data_dir),
            "--kubeconfig", str(kubeconfig), *ingress, *extra]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "HOME": str(tmp)})
    deadline = time.monotonic() + 30
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if "serving the Kubernetes API at" in line:
            url = line.rsplit(" ", 1)[1].strip()
            return Server(url, kubeconfig, data_dir, process, args)
    process.kill()
    raise RuntimeError(f"minik8s server did not start: {process.stdout.read()}")


@pytest.fixture
def server(tmp_path):
    srv = start_server(tmp_path, "--nodes", "0")
    yield srv
    if srv.process.poll() is None:
        srv.stop()


needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="the real kubectl is not on PATH")


# A two-replica StatefulSet of nginx, for the tests of several modules.
WEB_STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx:1.27}]
"""


def wait_for(condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition",
             interval: float = 0.05) -> Any:
    """Poll ``condition`` every ``interval`` seconds until it returns something true (returned), or fail saying
    ``what`` never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
