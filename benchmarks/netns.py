"""netns mode's data plane: programming kube-proxy's rules, and connections through a ClusterIP.

* **rules**: a service map of ``--services`` Services (two endpoints each) rendered as iptables-save
  text (pure Python, timed alone), translated to nftables and loaded in one ``nft -f`` transaction
  (:mod:`minik8s.proxy.kernel`); the total is what one kube-proxy sync costs. The tables are deleted
  afterwards.
* **connections**: an in-process cluster (``Cluster(network="netns")``) with one pod serving HTTP and
  a Service in front of it; ``--connections`` sequential new TCP connections with one ``GET /`` each,
  from the host, to the pod IP and to the ClusterIP (DNAT in the kernel): p50/p99 of each.

    python benchmarks/netns.py [--services 1000] [--connections 300] [--json]

The machine's pure-Python loop time (benchmarks/machine.py) is printed beside the figures.

Needs root (or CAP_NET_ADMIN); without it only the pure rendering is timed. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import emit, python_loop_seconds  # noqa: E402
from minik8s import hostnet  # noqa: E402
from minik8s.proxy import iptables  # noqa: E402
from minik8s.proxy.kernel import KernelProxier  # noqa: E402
from minik8s.proxy.servicemap import Endpoint, ServicePort  # noqa: E402

POD = """
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers: [{name: web, image: python, command: ["python3", "-m", "http.server", "80"],
                readinessProbe: {tcpSocket: {port: 80}, periodSeconds: 1}}]
---
{apiVersion: v1, kind: Service, metadata: {name: web}, spec: {selector: {app: web}, ports: [{port: 80}]}}
"""


def service_map(count: int) -> list[ServicePort]:
    ports = []
    for i in range(count):
        endpoints = tuple(Endpoint(f"10.250.{i // 250}.{i % 250 + 1 + k}", 8080) for k in range(2))
        ports.append(ServicePort("default", f"svc-{i}", "http", "TCP", f"10.223.{i // 250}.{i % 250 + 1}", 80,
                                 all_endpoints=endpoints, cluster_endpoints=endpoints, external_endpoints=endpoints))
    return ports


def rules(count: int) -> dict[str, Any]:
    services = service_map(count)
    t0 = time.perf_counter()
    text = iptables.render(services, "10.250.0.0/16")
    figures: dict[str, Any] = {"services": count, "pure_render_ms": round((time.perf_counter() - t0) * 1000, 1),
                               "rules": text.count("\n-A ")}
    if hostnet.refusal() is not None:
        figures["kernel"] = f"skipped: {hostnet.refusal()}"
        return figures
    plan = hostnet.NetworkPlan(f"{os.getpid() % 0x10000:04x}", 0)
    proxier = KernelProxier(plan, "10.250.0.0/16")
    try:
        t0 = time.perf_counter()
        proxier.sync(services)
        figures["program_s"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        proxier.sync(services[:-1])   # one Service fewer: the next sync rewrites the tables
        figures["resync_s"] = round(time.perf_counter() - t0, 3)
    finally:
        proxier.stop()
    return figures


def _percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {"p50_ms": round(samples[len(samples) // 2] * 1000, 3),
            "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000, 3)}


def _connect(ip: str, count: int) -> dict[str, float]:
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        connection = http.client.HTTPConnection(ip, 80, timeout=5)
        connection.request("GET", "/")
        connection.getresponse().read()
        connection.close()
        times.append(time.perf_counter() - t0)
    return _percentiles(times)


def connections(count: int) -> dict[str, Any]:
    if hostnet.refusal() is not None:
        return {"skipped": hostnet.refusal()}
    from minik8s import Cluster

    with tempfile.TemporaryDirectory() as data, Cluster(runtime="process", network="netns", data_dir=data) as c:
        c.apply(POD)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pod = json.loads(c.kubectl("get pod web -o json"))
            if any(x["type"] == "Ready" and x["status"] == "True" for x in pod["status"].get("conditions") or []):
                break
            time.sleep(0.2)
        cluster_ip = json.loads(c.kubectl("get service web -o json"))["spec"]["clusterIP"]
        _connect(cluster_ip, 10)   # warm up: the rules are in place
        return {"connections": count, "pod_ip": _connect(pod["status"]["podIP"], count),
                "cluster_ip": _connect(cluster_ip, count)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = {"rules": rules(args.services), "connect": connections(args.connections),
               "python_loop_seconds": python_loop_seconds()}
    emit(figures, args.json, report)


def report(figures: dict[str, Any]) -> None:
    r, c = figures["rules"], figures["connect"]
    print(f"render {r['services']} Services ({r['rules']} rules), pure Python: {r['pure_render_ms']} ms")
    if "program_s" in r:
        print(f"program them (render + translate + nft -f): {r['program_s']} s; resync: {r['resync_s']} s")
    else:
        print(f"kernel: {r['kernel']}")
    if "cluster_ip" in c:
        for name in ("pod_ip", "cluster_ip"):
            print(f"new connection + GET via {name}: p50 {c[name]['p50_ms']} ms, p99 {c[name]['p99_ms']} ms")
    else:
        print(f"connections: {c['skipped']}")
    print(f"pure Python here: for i in range(10**7): pass takes {figures['python_loop_seconds']} s (benchmarks/machine.py)")


if __name__ == "__main__":
    main()
