"""Processes a lab starts: minik8s programs (``minik8s server``, and a cluster's components) on loopback.

Chapter 18 builds a cluster from processes that talk to each other only over the network, as a
kubeadm cluster's do. A notebook starts them with :class:`Processes`, which keeps each one's output
in a log file of its own directory, waits until a process says it is ready (a line of its log) and,
in the lab's last cell, ends them all: SIGTERM first, as systemd or the kubelet would, then SIGKILL
for one that has not exited after :data:`GRACE_SECONDS`. Ports come from :func:`free_port`, so two
labs on one machine do not collide.

Interface:
    procs = Processes()                             # data and logs in a fresh temporary directory
    port = free_port()
    procs.start("server", "server", "--port", str(port), ..., ready="serving the Kubernetes API at")
    procs.start("etcd", "--data-dir", DIR, ..., program=["etcd"], ready="ready to serve client requests")
    procs.log("server") -> str                      # what it printed so far
    procs.stop("server"); procs.stop()              # one, or all in the reverse order of starting
    run("node", "add", "--data-dir", DIR) -> str    # a command that ends: what it printed

Taught in chapter 18 (building a cluster).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from minik8s.lab.session import LabError

# How long a process may take to say it is ready, and to exit after SIGTERM.
READY_SECONDS = 60.0
GRACE_SECONDS = 10.0
# The checkout the notebook runs from: the processes import the same minik8s.
ROOT = Path(__file__).resolve().parent.parent.parent


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the kernel picks it; a race with another program is possible
    but harmless in a lab: the start fails and says so)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def run(*args: str, timeout: float = READY_SECONDS) -> str:
    """Run ``python -m minik8s ARGS...`` to its end, as a person types a command: what it printed
    (stdout, then stderr)."""
    done = subprocess.run([sys.executable, "-m", "minik8s", *args], capture_output=True, text=True,
                          env=_environment(), timeout=timeout)
    return done.stdout + done.stderr


class Processes:
    """The minik8s processes one notebook started, by name."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="minik8s-lab-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def path(self, name: str) -> Path:
        """A file or folder in the lab's directory (data dirs, kubeconfigs)."""
        return self.directory / name

    def _log_file(self, name: str) -> Path:
        return self.directory / f"{name}.log"

    def log(self, name: str) -> str:
        """Everything process ``name`` printed (stdout and stderr) so far."""
        path = self._log_file(name)
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, name: str, *args: str, ready: str | None = None, timeout: float = READY_SECONDS,
              program: list[str] | None = None) -> None:
        """Run ``python -m minik8s ARGS...`` (or ``program ARGS...``, e.g. ``["etcd"]``) as ``name``; with
        ``ready``, wait until its log holds that text. A process that exits first, or is not ready in
        time, is stopped and its log's end raised."""
        if name in self.running and self.running[name].poll() is None:
            raise LabError(f"a process named {name} is already running")
        env = _environment()
        with open(self._log_file(name), "wb") as log:
            self.running[name] = subprocess.Popen([*(program or [sys.executable, "-m", "minik8s"]), *args], stdout=log,
                                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        if ready is None:
            return
        deadline = time.monotonic() + timeout
        while ready not in self.log(name):
            if self.running[name].poll() is not None or time.monotonic() > deadline:
                self.stop(name)
                raise LabError(f"{name} did not start: " + self.log(name)[-2000:])
            time.sleep(0.1)

    def stop(self, name: str | None = None) -> None:
        """End process ``name`` (or every one, the last started first); SIGKILL after the grace period."""
        names = [name] if name is not None else list(reversed(self.running))
        for each in names:
            process = self.running.pop(each, None)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
