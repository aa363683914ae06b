"""Service traffic through kube-proxy's userspace back-end, against going straight to the pod.

Starts an in-process cluster (real clock, ``process`` runtime) running two nginx-like pods, puts a
Service (no selector, with an EndpointSlice this script writes itself) in front of the first, and
measures with one sequential HTTP client:

* requests/s and p50/p99 latency of ``GET /`` to the pod IP and to the ClusterIP, each with one
  keep-alive connection and with a new connection per request;
* how long an EndpointSlice change takes to reach the data plane: the slice is switched to the other
  pod, and the time from the API write to the first new connection answered by that pod is recorded
  (p50/p99 over ``--switches`` changes).

The machine's pure-Python loop time (benchmarks/machine.py) is printed too, measured once the
cluster has stopped.

    python benchmarks/kube_proxy.py [--requests 500] [--switches 30] [--json]

Not a test: it prints figures.
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
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402
from minik8s import Cluster  # noqa: E402
from minik8s.api import resources  # noqa: E402

SERVICES = resources.get("", "v1", "services")
SLICES = resources.get("discovery.k8s.io", "v1", "endpointslices")
# A ClusterIP of this run only: the Service allocator may hand out the low ones to other clusters.
CLUSTER_IP = f"127.96.{200 + os.getpid() % 50}.{os.getpid() % 250 + 1}"

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "bench"}}, "template": {
        "metadata": {"labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                 "readinessProbe": {"httpGet": {"path": "/healthz", "port": 80},
                                                    "periodSeconds": 1}}]}}}}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))]


def slice_for(ip: str, port: int) -> dict[str, Any]:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "bench-1", "labels": {"kubernetes.io/service-name": "bench",
                                                       "endpointslice.kubernetes.io/managed-by": "benchmark"}},
            "addressType": "IPv4", "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": port, "protocol": "TCP"}]}


def get(host: str, port: int, connection: http.client.HTTPConnection | None = None) -> str:
    conn = connection or http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read().decode(errors="replace")
    finally:
        if connection is None:
            conn.close()


def measure(requests: int, call: Callable[[], str]) -> dict[str, float]:
    latencies = []
    started = time.perf_counter()
    for _ in range(requests):
        t0 = time.perf_counter()
        call()
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    return {"requests_per_second": round(requests / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 3), "p99_ms": round(percentile(latencies, 99) * 1000, 3)}


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {what}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="requests per measurement")
    parser.add_argument("--switches", type=int, default=30, help="EndpointSlice changes to time")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="minik8s-bench-") as data_dir, \
            Cluster(nodes=1, runtime="process", data_dir=Path(data_dir)) as cluster:
        cluster.apply(json.dumps(DEPLOYMENT))
        cluster.kubectl("wait --for=condition=Available deploy/bench --timeout=60s")
        pods = json.loads(cluster.kubectl("get pods -l app=bench -o json"))["items"]
        names = [p["metadata"]["name"] for p in pods]
        ips = [p["status"]["podIP"] for p in pods]
        offset = cluster.kubelets[0].runtime.port_offset
        port = 80 + offset if offset else 80
        cluster.client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bench"},
                                         "spec": {"clusterIP": CLUSTER_IP,
                                                  "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}},
                              "default")
        cluster.client.create(SLICES, slice_for(ips[0], 80), "default")
        for ip in (ips[0], CLUSTER_IP):
            wait_for(lambda: names[0] in get(ip, port), 30, f"{ip}:{port} to answer")

        result: dict[str, Any] = {"runtime": "process", "requests": args.requests}
        for target, ip in (("pod", ips[0]), ("cluster_ip", CLUSTER_IP)):
            conn = http.client.HTTPConnection(ip, port, timeout=5)
            result[f"{target}_keepalive"] = measure(args.requests, lambda: get(ip, port, conn))
            conn.close()
            result[f"{target}_new_connection"] = measure(args.requests, lambda: get(ip, port))

        delays = []
        for i in range(args.switches):
            to = (i + 1) % 2
            current = cluster.client.get(SLICES, "bench-1", "default")
            changed = {**slice_for(ips[to], 80), "metadata": {**current["metadata"]}}
            t0 = time.perf_counter()
            cluster.client.update(SLICES, changed, "default")
            wait_for(lambda: names[to] in get(CLUSTER_IP, port), 10, "the switch")
            delays.append(time.perf_counter() - t0)
        result["endpointslice_to_traffic"] = {"switches": len(delays),
                                              "p50_ms": round(percentile(delays, 50) * 1000, 3),
                                              "p99_ms": round(percentile(delays, 99) * 1000, 3)}

    result["python_loop_seconds"] = python_loop_seconds()
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"HTTP GET / to an nginx-like pod, one sequential client, {args.requests} requests each")
    for target, label in (("pod", "pod IP"), ("cluster_ip", "ClusterIP")):
        for mode in ("keepalive", "new_connection"):
            r = result[f"{target}_{mode}"]
            print(f"  {label:10} {mode.replace('_', ' '):15} {r['requests_per_second']:9.1f} req/s   "
                  f"p50 {r['p50_ms']:.3f} ms   p99 {r['p99_ms']:.3f} ms")
    r = result["endpointslice_to_traffic"]
    print(f"EndpointSlice change -> first request served by the new endpoint ({r['switches']} changes): "
          f"p50 {r['p50_ms']:.3f} ms   p99 {r['p99_ms']:.3f} ms")
    print(loop_line(result["python_loop_seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
