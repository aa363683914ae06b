"""The simulated pod network's speed: HTTP requests through a Service VIP, in process.

Starts ``--nodes`` simulated runtimes sharing one :class:`SimulatedNetwork`, ``--pods`` nginx pods
spread over them, and a round-robin router standing in for kube-proxy (one VIP over every pod).
Then measures three paths a lab takes, each as requests per second:

* ``fabric``: ``network.request`` alone (routing, finding the listener, nginx's answer, its log line);
* ``shell``: ``wget -qO- http://VIP`` run by the simulated shell (parsing and busybox's output too);
* ``exec``: ``kubectl exec client -- wget -qO- http://<pod IP>`` on an in-process ``Cluster`` (the
  whole API path: kubectl, the API server, the kubelet, the runtime).

The machine's pure-Python loop time (benchmarks/machine.py) is measured after the three.

    python benchmarks/simnet.py [--nodes 3] [--pods 30] [--requests 20000] [--execs 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402
from minik8s import Cluster  # noqa: E402
from minik8s.clock import VirtualClock  # noqa: E402
from minik8s.kubelet.runtimes import simshell  # noqa: E402
from minik8s.kubelet.runtimes.simnet import PodNetwork, SimulatedNetwork  # noqa: E402
from minik8s.kubelet.runtimes.simulated import SimulatedRuntime  # noqa: E402

VIP = "10.96.0.5"


class RoundRobin:
    """kube-proxy's part for the benchmark: the VIP's port 80 goes to each pod in turn."""

    def __init__(self, endpoints: list[str]):
        self.endpoints = endpoints
        self.turn = 0

    def route(self, node: str, client_ip: str, dst_ip: str, dst_port: int, protocol: str) -> tuple[str, int] | None:
        if dst_ip != VIP:
            return dst_ip, dst_port
        self.turn += 1
        return self.endpoints[self.turn % len(self.endpoints)], 80


def fabric(nodes: int, pods: int) -> tuple[SimulatedNetwork, list[str]]:
    clock = VirtualClock()
    network = SimulatedNetwork()
    runtimes = [SimulatedRuntime(node_name=f"node-{i + 1}", node_index=i, clock=clock, images=["nginx"],
                                 network=network) for i in range(nodes)]
    ips = []
    for n in range(pods):
        runtime = runtimes[n % nodes]
        pod = {"metadata": {"uid": f"u{n}", "name": f"web-{n}", "namespace": "default"}, "spec": {}}
        sandbox = runtime.run_pod_sandbox(pod)
        runtime.start_container(runtime.create_container(sandbox.id, pod, {"name": "web", "image": "nginx"}, 0))
        ips.append(sandbox.ip)
    network.router = RoundRobin(ips)
    return network, ips


def rate(count: int, call: Callable[[], Any]) -> dict[str, float]:
    start = time.perf_counter()
    for _ in range(count):
        call()
    seconds = time.perf_counter() - start
    return {"requests": count, "seconds": round(seconds, 3), "per_second": round(count / seconds, 1)}


def exec_rate(count: int) -> dict[str, float]:
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.apply("""
apiVersion: v1
kind: Pod
metadata: {name: web}
spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec: {containers: [{name: c, image: busybox, command: [sleep, infinity]}]}
""")
        cluster.advance(3)
        web = cluster.kubectl("get pod web -o jsonpath={.status.podIP}")
        return rate(count, lambda: cluster.kubectl(f"exec client -- wget -qO- http://{web}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--pods", type=int, default=30)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--execs", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    network, ips = fabric(args.nodes, args.pods)
    client = PodNetwork(network, "node-1", ips[0], "default", "web-0")
    results = {
        "nodes": args.nodes, "pods": args.pods,
        "fabric": rate(args.requests, lambda: network.request("node-1", ips[0], VIP, 80, "GET", "/")),
        "shell": rate(args.requests, lambda: simshell.run_now(["wget", "-qO-", f"http://{VIP}"], {}, {}, net=client)),
        "exec": exec_rate(args.execs),
    }
    results["python_loop_seconds"] = python_loop_seconds()
    if args.json:
        print(json.dumps(results))
        return
    print(f"{args.nodes} nodes, {args.pods} nginx pods behind one VIP")
    for path in ("fabric", "shell", "exec"):
        figures = results[path]
        print(f"  {path:<7} {figures['per_second']:>10,.0f} requests/s  ({figures['requests']} in {figures['seconds']} s)")
    print(f"  {loop_line(results['python_loop_seconds'])}")


if __name__ == "__main__":
    main()
