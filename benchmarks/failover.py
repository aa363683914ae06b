"""Leader fail-over time: how long a cluster runs without a controller-manager when its leader goes.

Real processes on loopback: ``minik8s apiserver`` (SQLite) and two ``minik8s controller-manager``
replicas electing a leader through the Lease ``kube-system/kube-controller-manager``
(:mod:`minik8s.client.leaderelection`: lease 15 s, renew deadline 10 s, retry 2 s). Each run
measures two hand-overs, reading the Lease every 0.1 s:

* **killed** (SIGKILL, a crashed machine): the leader neither renews nor releases, so the standby
  waits until the Lease has gone unchanged for 15 s by its own clock; expected 15 s plus up to one
  retry period (and its jitter) of observation delay and one of acquisition delay, at most ~20 s;
* **stopped** (SIGTERM, a clean restart): the leader releases the Lease, and the standby takes it
  at its next try: up to one retry period with jitter, at most ~4.4 s.

A fresh standby is started before each hand-over. The Lease's own timestamps give the same gap
from inside (the new ``acquireTime`` minus the old last ``renewTime``). ``--runs N`` repeats both
and reports medians. The machine's pure-Python loop time (benchmarks/machine.py) is printed beside.

    python benchmarks/failover.py [--runs 3] [--json]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import add_common_arguments, emit, loop_line, median, profiled, python_loop_seconds  # noqa: E402
from minik8s.api.errors import StatusError  # noqa: E402
from minik8s.client.leaderelection import LEASES  # noqa: E402
from minik8s.clock import parse_rfc3339  # noqa: E402

LOCK = "kube-controller-manager"
START_TIMEOUT = 90.0


class Plane:
    """An API server and controller-manager replicas, each a process logging to its own file."""

    def __init__(self, root: Path):
        self.root = root
        self.data = root / "control-plane"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.client: Any = None

    def start(self, name: str, *args: str) -> None:
        self.start_python(name, "-m", "minik8s", *args)

    def start_python(self, name: str, *command: str) -> None:
        """Run ``python *command`` as process ``name``, logging to ``<root>/<name>.log``."""
        log = open(self.root / f"{name}.log", "wb")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(self.root)}
        self.processes[name] = subprocess.Popen([sys.executable, *command], stdout=log,
                                                stderr=subprocess.STDOUT, env=env, cwd=self.root)
        log.close()

    def wait_log(self, name: str, text: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while text not in (self.root / f"{name}.log").read_text(errors="replace"):
            if self.processes[name].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not print {text!r}: {(self.root / f'{name}.log').read_text()}")
            time.sleep(0.1)

    def start_apiserver(self) -> None:
        from minik8s.daemons.component import connect

        self.start("apiserver", "apiserver", "--data-dir", str(self.data), "--port", "0")
        self.wait_log("apiserver", "kubeconfigs written")
        self.client, _ = connect(str(self.data / "admin.conf"))

    def start_replica(self, name: str) -> None:
        self.start(name, "controller-manager", "--kubeconfig", str(self.data / "controller-manager.conf"),
                   "--secure-port", "0")
        self.wait_log(name, "running (leader-election)")

    def lease(self) -> dict[str, Any]:
        try:
            return dict(self.client.get(LEASES, LOCK, "kube-system").get("spec") or {})
        except StatusError:
            return {}

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def hand_over(plane: Plane, leader: str, how: signal.Signals) -> dict[str, float]:
    """Signal ``leader``; seconds until another replica holds the Lease (wall, and by the Lease's stamps)."""
    before = plane.lease()
    t0 = time.monotonic()
    plane.processes[leader].send_signal(how)
    while True:
        spec = plane.lease()
        if spec.get("holderIdentity") not in (None, "", before["holderIdentity"]):
            break
        time.sleep(0.1)
    wall = time.monotonic() - t0
    plane.processes[leader].wait(timeout=30)
    return {"seconds": round(wall, 2),
            "lease_gap_seconds": round(parse_rfc3339(spec["acquireTime"]) - parse_rfc3339(before["renewTime"]), 2)}


def measure(root: Path) -> dict[str, Any]:
    plane = Plane(root)
    try:
        plane.start_apiserver()
        plane.start_replica("cm-1")
        plane.wait_log("cm-1", "became the leader")
        plane.start_replica("cm-2")
        killed = hand_over(plane, "cm-1", signal.SIGKILL)
        plane.start_replica("cm-3")
        stopped = hand_over(plane, "cm-2", signal.SIGTERM)
        return {"killed_seconds": killed["seconds"], "killed_lease_gap_seconds": killed["lease_gap_seconds"],
                "stopped_seconds": stopped["seconds"], "stopped_lease_gap_seconds": stopped["lease_gap_seconds"]}
    finally:
        plane.stop()


def run(runs: int) -> dict[str, Any]:
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="minik8s-failover-") as tmp:
            results.append(measure(Path(tmp)))
    figures: dict[str, Any] = {"runs": runs}
    for key in results[0]:
        figures[key] = median(r[key] for r in results)
        figures[f"{key}_runs"] = [r[key] for r in results]
    figures["python_loop_seconds"] = python_loop_seconds()
    return figures


def report(f: dict[str, Any]) -> None:
    lines = [
        "controller-manager leader fail-over (lease 15 s, renew deadline 10 s, retry 2 s), "
        f"median of {f['runs']} run(s)",
        f"  leader SIGKILLed: another leads after {f['killed_seconds']} s (Lease: {f['killed_lease_gap_seconds']} s "
        f"from the last renewal); runs: {f['killed_seconds_runs']}",
        f"  leader SIGTERMed (releases): another leads after {f['stopped_seconds']} s; runs: {f['stopped_seconds_runs']}",
        f"  {loop_line(f['python_loop_seconds'])}",
    ]
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    emit(profiled(args.profile, lambda: run(args.runs)), args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
