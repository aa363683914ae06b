"""Shared fixtures: a real `minik8s server` process on a free loopback port, with its own kubeconfig."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=20)


def start_server(tmp: Path, *extra: str, data_dir: Path | None = None) -> Server:
    kubeconfig = tmp / "kubeconfig"
    data_dir = data_dir or tmp / "data"
    args = [sys.executable, "-m", "minik8s", "server", "--port", "0", "--data-dir", str(data_dir),
            "--kubeconfig", str(kubeconfig), *extra]
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
