"""Many nodes joining one API server over HTTP, then one big Deployment: a multi-process cluster's scale.

Real processes on loopback, each talking to the API server over HTTPS only: ``minik8s apiserver``
(SQLite, ``--object-count-limit 0``: 3,000 pods leave some 15,000 Events in one namespace), one
``minik8s controller-manager``, one ``minik8s scheduler`` (both ``--leader-elect false``), and
``--nodes`` N simulated nodes hosted by ``--workers`` processes (this file run with ``--worker``):
each worker runs its share of :class:`minik8s.kubelet.Kubelet` components (simulated runtime, 110
pods a node) on one :class:`minik8s.runner.Runner`, as ``minik8s kubelet`` runs one
(:mod:`minik8s.daemons.component`). Then a Deployment of ``--pods`` P replicas is created. Measured:

* nodes Ready: seconds from starting the workers until N Nodes have condition Ready=True;
* pods Running: seconds from creating the Deployment until its ``readyReplicas`` is P (read every
  0.25 s), then one list confirms P pods in phase Running; null (and how many run) when not all
  are ready within ``--timeout``; and how many nodes are still Ready at the end;
* scheduling rate: P over the span from the first pod's creation to the last pod's PodScheduled
  condition (timestamps have one-second resolution);
* the API server's resident memory at the end (VmRSS) and its peak (VmHWM), from /proc.

How this differs from a real cluster of N machines: the kubelets of one worker share its process,
its watches (one per resource) and its client, which uses ``admin.conf`` rather than one
``system:node:<name>`` credential each; the simulated runtime starts containers without images or
processes. Every process is stopped at the end (SIGTERM, then SIGKILL after 10 s). The machine's
pure-Python loop time (benchmarks/machine.py) is printed beside the figures.

    python benchmarks/cluster.py [--nodes 100] [--pods 3000] [--workers 4] [--json]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import failover  # noqa: E402
from benchmarks.machine import add_common_arguments, emit, loop_line, median, profiled, python_loop_seconds  # noqa: E402
from minik8s.api import resources  # noqa: E402
from minik8s.clock import parse_rfc3339  # noqa: E402

MAX_PODS = 110
NAMESPACE = "default"
DEPLOYMENT = "bench"
NODES = resources.get("", "v1", "nodes")
PODS = resources.get("", "v1", "pods")
DEPLOYMENTS = resources.get("apps", "v1", "deployments")


def run_worker(kubeconfig: str, first: int, count: int) -> int:
    """One worker process: kubelets ``node-<first>`` .. ``node-<first+count-1>`` on one loop, until SIGTERM."""
    from minik8s.daemons.component import start
    from minik8s.kubelet import Kubelet, make_runtime

    process = start(f"kubelets node-{first}..node-{first + count - 1}", kubeconfig, "127.0.0.1", 0, tls=False,
                    runtime="simulated")
    if isinstance(process, int):
        return process
    ctx = process.context
    kubelets = []
    for number in range(first, first + count):
        name, index = f"node-{number}", (number - 1) % 254
        runtime = make_runtime("simulated", node_name=name, node_index=index, clock=ctx.clock, rng=ctx.rng)
        kubelets.append(Kubelet(ctx, node_name=name, node_index=index, runtime=runtime, pods=MAX_PODS))
    return process.run(kubelets)


class Plane(failover.Plane):
    """The cluster's processes, each logging to its own file under ``root``."""

    def start_control_plane(self) -> None:
        from minik8s.daemons.component import connect

        self.start("apiserver", "apiserver", "--data-dir", str(self.data), "--port", "0",
                   "--object-count-limit", "0")
        self.wait_log("apiserver", "kubeconfigs written")
        self.client, _ = connect(str(self.data / "admin.conf"))
        self.start("controller-manager", "controller-manager", "--kubeconfig",
                   str(self.data / "controller-manager.conf"), "--secure-port", "0", "--leader-elect", "false")
        self.start("scheduler", "scheduler", "--kubeconfig", str(self.data / "scheduler.conf"),
                   "--secure-port", "0", "--leader-elect", "false")
        self.wait_log("controller-manager", "running (")
        self.wait_log("scheduler", "running (")

    def memory_kib(self, name: str) -> dict[str, int]:
        """VmRSS and VmHWM of a process, in KiB."""
        found = {}
        for line in Path(f"/proc/{self.processes[name].pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
        return found

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def ready_nodes(client: Any) -> int:
    return sum(1 for node in client.list(NODES).get("items", [])
               if any(c.get("type") == "Ready" and c.get("status") == "True"
                      for c in node.get("status", {}).get("conditions", [])))


def wait_for(what: str, done: Any, timeout: float, every: float = 0.25) -> float:
    """Seconds until ``done()`` is true; RuntimeError after ``timeout``."""
    t0 = time.monotonic()
    while not done():
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - t0


def deployment(replicas: int) -> dict[str, Any]:
    labels = {"app": DEPLOYMENT}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": DEPLOYMENT, "namespace": NAMESPACE},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}}


def scheduling_rate(pods: list[dict[str, Any]]) -> float:
    """Pods bound over the span from the first pod's creation to the last PodScheduled transition."""
    if not pods:
        return 0.0
    created = min(parse_rfc3339(p["metadata"]["creationTimestamp"]) for p in pods)
    scheduled = [parse_rfc3339(c["lastTransitionTime"]) for p in pods for c in p.get("status", {}).get("conditions", [])
                 if c.get("type") == "PodScheduled" and c.get("status") == "True"]
    return round(len(scheduled) / max(max(scheduled, default=created) - created, 1.0), 1)


def measure(root: Path, nodes: int, pods: int, workers: int, timeout: float) -> dict[str, Any]:
    plane = Plane(root)
    try:
        plane.start_control_plane()
        client = plane.client
        t0 = time.monotonic()
        share, extra = divmod(nodes, workers)
        first = 1
        for worker in range(workers):
            count = share + (worker < extra)
            if count:
                plane.start_python(f"worker-{worker}", str(Path(__file__).resolve()), "--worker",
                            str(plane.data / "admin.conf"), "--first", str(first), "--count", str(count))
                first += count
        wait_for(f"{nodes} nodes Ready", lambda: ready_nodes(client) >= nodes, timeout)
        nodes_ready = time.monotonic() - t0

        t1 = time.monotonic()
        client.create(DEPLOYMENTS, deployment(pods), NAMESPACE)
        ready = 0
        while ready < pods and time.monotonic() - t1 < timeout:
            time.sleep(0.25)
            ready = client.get(DEPLOYMENTS, DEPLOYMENT, NAMESPACE).get("status", {}).get("readyReplicas") or 0
        pods_running = round(time.monotonic() - t1, 2) if ready >= pods else None   # None: not all within --timeout
        listed = client.list(PODS, NAMESPACE, label_selector=f"app={DEPLOYMENT}").get("items", [])
        running = [p for p in listed if p.get("status", {}).get("phase") == "Running"]
        if pods_running is not None and len(running) < pods:
            raise RuntimeError(f"the Deployment says {pods} ready, but only {len(running)} pods are Running")
        memory = plane.memory_kib("apiserver")
        return {"nodes_ready_seconds": round(nodes_ready, 2), "pods_running_seconds": pods_running,
                "pods_running_at_end": len(running), "nodes_ready_at_end": ready_nodes(client),
                "scheduling_pods_per_second": scheduling_rate(listed),
                "apiserver_rss_mib": round(memory["VmRSS"] / 1024, 1),
                "apiserver_peak_rss_mib": round(memory["VmHWM"] / 1024, 1)}
    finally:
        plane.stop()


def run(nodes: int, pods: int, workers: int, runs: int, timeout: float) -> dict[str, Any]:
    if pods > nodes * MAX_PODS:
        raise SystemExit(f"error: {pods} pods do not fit on {nodes} nodes of {MAX_PODS} pods")
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="minik8s-bench-cluster-") as tmp:
            results.append(measure(Path(tmp), nodes, pods, workers, timeout))
    figures: dict[str, Any] = {"nodes": nodes, "pods": pods, "workers": workers, "runs": runs}
    for key in results[0]:
        values = [r[key] for r in results]
        figures[key] = None if None in values else median(values)
    figures["python_loop_seconds"] = python_loop_seconds()
    return figures


def report(f: dict[str, Any]) -> None:
    lines = [
        f"{f['nodes']} simulated nodes in {f['workers']} worker processes, one API server over HTTPS, "
        f"a Deployment of {f['pods']} replicas (median of {f['runs']} run(s))",
        f"  nodes Ready: {f['nodes_ready_seconds']} s after the workers started",
        (f"  pods Running: {f['pods_running_seconds']} s after the Deployment was created"
         if f["pods_running_seconds"] is not None else
         f"  pods Running: not all within --timeout: {f['pods_running_at_end']} of {f['pods']} Running"),
        f"  at the end: {f['pods_running_at_end']} pods Running, {f['nodes_ready_at_end']} of {f['nodes']} nodes Ready",
        f"  scheduling: {f['scheduling_pods_per_second']} pods/s (creation of the first to the last bound)",
        f"  API server memory: {f['apiserver_rss_mib']} MiB resident, {f['apiserver_peak_rss_mib']} MiB peak",
        f"  {loop_line(f['python_loop_seconds'])}",
    ]
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--nodes", type=int, default=100, help="simulated nodes (default 100)")
    parser.add_argument("--pods", type=int, default=3000, help="the Deployment's replicas (default 3000)")
    parser.add_argument("--workers", type=int, default=4, help="processes hosting the kubelets (default 4)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on a wait after this long (seconds)")
    parser.add_argument("--worker", metavar="KUBECONFIG", help=argparse.SUPPRESS)   # run as one worker process
    parser.add_argument("--first", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_worker(args.worker, args.first, args.count)
    if args.nodes < 1 or args.pods < 1 or args.workers < 1:
        parser.error("--nodes, --pods and --workers must be at least 1")
    emit(profiled(args.profile, lambda: run(args.nodes, args.pods, args.workers, args.runs, args.timeout)),
         args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
