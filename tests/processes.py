"""Processes for multi-process cluster tests: each logs to a file of its own and is killed at the end;
the real kubectl with one kubeconfig; polling without a fixed sleep count."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from tests.conftest import ROOT, wait_for


class Machines:
    """The cluster's processes, each logging to a file of its own; every one is killed at the end."""

    def __init__(self, root: Path):
        self.root = root
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.log", "wb")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(self.root)}
        process = subprocess.Popen([sys.executable, "-m", "minik8s", *args], stdout=log, stderr=subprocess.STDOUT,
                                   env=env, cwd=self.root)
        log.close()
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.root / f"{name}.log").read_text(errors="replace")

    def wait_log(self, name: str, text: str, timeout: float = 60) -> str:
        def found() -> str | None:
            if self.processes[name].poll() is not None:
                raise AssertionError(f"{name} exited ({self.processes[name].returncode}):\n{self.log(name)}")
            log = self.log(name)
            return log if text in log else None
        return poll(found, timeout, f'"{text}" in the log of {name}')

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def terminate(self, name: str) -> int:
        """SIGTERM (a clean shutdown), then the exit code."""
        process = self.processes[name]
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=60)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-3000:]}" for name in self.processes)


def poll(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """``wait_for`` at a pace that suits conditions which run kubectl."""
    return wait_for(condition, timeout, what, interval=0.5)


class Kubectl:
    """The real kubectl with one machine's admin.conf."""

    def __init__(self, kubeconfig: Path, home: Path):
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(home)}

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, env=self.env,
                              timeout=60)

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json"))


def lease(kubectl: Kubectl, name: str) -> dict[str, Any]:
    done = kubectl.run("get", "lease", "-n", "kube-system", name, "-o", "json")
    return json.loads(done.stdout)["spec"] if done.returncode == 0 else {}


def start_elected(machines: Machines, command: str, name: str, conf: Path) -> None:
    """A controller-manager or scheduler, taking part in its leader election."""
    machines.start(name, command, "--kubeconfig", str(conf), "--secure-port", "0")


def ready_pods(kubectl: Kubectl) -> list[dict[str, Any]]:
    pods = kubectl.json("get", "pods", "-l", "app=web")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))]


def scaling_events(kubectl: Kubectl) -> list[dict[str, Any]]:
    events = kubectl.json("get", "events", "--field-selector", "involvedObject.kind=Deployment,involvedObject.name=web")
    return [e for e in events["items"] if e["reason"] == "ScalingReplicaSet"]


def web_deployment(replicas: int, *, leave_unreachable_nodes: bool = False) -> str:
    """The Deployment ``web`` (nginx), as JSON for ``kubectl apply -f -``. ``leave_unreachable_nodes``: its
    pods tolerate an unreachable node for 0 s rather than the default 300 s, so they are replaced as soon
    as the node monitor gives up on their node."""
    pod: dict[str, Any] = {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}
    if leave_unreachable_nodes:
        pod["tolerations"] = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                               "effect": "NoExecute", "tolerationSeconds": 0}]
    labels = {"app": "web"}
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                       "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                                "template": {"metadata": {"labels": labels}, "spec": pod}}})
