"""A real etcd cluster for tests: N members of Debian's ``etcd`` on loopback (127.0.0.1, .2, .3 ...),
free ports, data directories in tmpfs when there is one. ``needs_etcd`` skips a test where ``/usr/bin/etcd``
is missing (a developer machine); CI installs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
needs_etcd = pytest.mark.skipif(not os.path.exists(ETCD), reason="etcd is not installed (apt-get install etcd-server)")


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EtcdCluster:
    """``members`` etcd processes forming one cluster; ``endpoints`` are their client addresses."""

    def __init__(self, members: int = 1):
        # fsync on tmpfs costs nothing; but each member preallocates 64 MiB of log, more than a container's
        # usual /dev/shm holds, so only a roomy one is used.
        roomy = os.path.isdir("/dev/shm") and shutil.disk_usage("/dev/shm").free > members * (256 << 20)
        base = "/dev/shm" if roomy else None
        self.root = Path(tempfile.mkdtemp(prefix="minik8s-etcd-", dir=base))
        self.hosts = [f"127.0.0.{i + 1}" for i in range(members)]
        self.client_ports = [_free_port(h) for h in self.hosts]
        self.peer_ports = [_free_port(h) for h in self.hosts]
        self.names = [f"m{i}" for i in range(members)]
        self.processes: list[subprocess.Popen | None] = [None] * members
        self.initial = ",".join(f"{n}=http://{h}:{p}" for n, h, p in zip(self.names, self.hosts, self.peer_ports))
        try:
            for i in range(members):
                self.start(i)
            self.wait_healthy()
        except BaseException:
            self.stop()   # no member left behind
            raise

    @property
    def endpoints(self) -> list[str]:
        return [f"{h}:{p}" for h, p in zip(self.hosts, self.client_ports)]

    @property
    def url(self) -> str:
        return "etcd://" + ",".join(self.endpoints)

    def start(self, i: int) -> None:
        host, client, peer = self.hosts[i], self.client_ports[i], self.peer_ports[i]
        log = open(self.root / f"{self.names[i]}.log", "ab")
        self.processes[i] = subprocess.Popen(
            [ETCD, "--name", self.names[i], "--data-dir", str(self.root / self.names[i]),
             "--listen-client-urls", f"http://{host}:{client}", "--advertise-client-urls", f"http://{host}:{client}",
             "--listen-peer-urls", f"http://{host}:{peer}", "--initial-advertise-peer-urls", f"http://{host}:{peer}",
             "--initial-cluster", self.initial, "--initial-cluster-token", self.root.name,
             "--initial-cluster-state", "new", "--heartbeat-interval", "50", "--election-timeout", "500"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                for i, endpoint in enumerate(self.endpoints):
                    if self.processes[i] is not None:
                        with urllib.request.urlopen(f"http://{endpoint}/health", timeout=2) as response:
                            if b'"true"' not in response.read():
                                raise OSError("not healthy yet")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"etcd did not become healthy: see the logs under {self.root}")

    def kill(self, i: int) -> None:
        process = self.processes[i]
        if process is not None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            self.processes[i] = None

    def leader(self) -> int:
        """The index of the member that leads the cluster now."""
        answer = json.loads(self.etcdctl("endpoint", "status", "-w", "json").stdout)
        leaders = {status["Status"]["leader"] for status in answer}
        ids = {status["Endpoint"]: status["Status"]["header"]["member_id"] for status in answer}
        assert len(leaders) == 1, answer
        return next(i for i, e in enumerate(self.endpoints) if ids.get(e) in leaders)

    def etcdctl(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["etcdctl", "--endpoints", ",".join(self.endpoints), *args], capture_output=True,
                              text=True, timeout=30, env={**os.environ, "ETCDCTL_API": "3"})

    def stop(self) -> None:
        """Every member killed (their data goes with them), the directory removed."""
        for i in range(len(self.processes)):
            self.kill(i)
        shutil.rmtree(self.root, ignore_errors=True)
