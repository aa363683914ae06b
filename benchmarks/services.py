"""Services end to end on a real cluster: ClusterIP against pod IP, Ready to traffic, cluster DNS.

The issue's benchmark. Starts an in-process cluster (``process`` runtime, real clock) running one
nginx-like pod (exec readiness probe ``cat /tmp/ready``, every second) behind a Service with a selector,
so that the EndpointSlice controller, kube-proxy and cluster DNS are all the real ones, and measures:

* requests/s and p50/p99 latency of ``GET /`` through the ClusterIP and straight to the pod IP, with
  one keep-alive connection and with a new connection per request (``kube_proxy.py``'s client);
  aims: ClusterIP throughput ≥ 50% of direct, < 1 ms added p99;
* pod Ready → its endpoint carries traffic, over ``--trials`` trials: ``touch /tmp/ready`` in the pod,
  take the moment a watch on the pod delivers ``Ready=True`` (the status write as the API shows it;
  ``lastTransitionTime`` has whole seconds only), then poll the ClusterIP with new connections until
  the pod answers (its page names it); aim p99 < 100 ms. The whole path from the ``touch`` (which
  includes up to one probe period) is printed as well. Between trials ``rm /tmp/ready`` and wait until
  the ClusterIP stops answering; as that happens just after a probe, the next ``touch`` lands just
  after one too, so the whole path is about a full period (its worst case);
* queries/s the cluster's own DNS server answers over UDP (``cluster_dns.py``'s client processes,
  asking for the Service's name); aim ≥ 5,000;
* the machine's pure-Python loop time (benchmarks/machine.py), once the cluster has stopped.

    python benchmarks/services.py [--requests 500] [--trials 20] [--queries 20000] [--json]

Not a test: it prints figures. The DNS server shares its interpreter with the whole cluster here.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dns.message  # noqa: E402
from cluster_dns import client as dns_client  # noqa: E402
from kube_proxy import get, measure, percentile, wait_for  # noqa: E402

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402
from minik8s import Cluster  # noqa: E402
from minik8s.api import resources  # noqa: E402

PODS = resources.get("", "v1", "pods")
SERVICES = resources.get("", "v1", "services")

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "bench"}}, "template": {
        "metadata": {"labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                 "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]},
                                                    "periodSeconds": 1, "failureThreshold": 1}}]}}}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "bench"},
           "spec": {"selector": {"app": "bench"}, "ports": [{"name": "http", "port": 80, "targetPort": 80}]}}


def ms(seconds: list[float]) -> dict[str, float]:
    return {"p50_ms": round(percentile(seconds, 50) * 1000, 3), "p99_ms": round(percentile(seconds, 99) * 1000, 3)}


def answers(ip: str, port: int, pod: str) -> bool:
    try:
        return pod in get(ip, port)
    except (OSError, http.client.HTTPException):
        return False


def ready_watcher(cluster: Cluster, pod: str, resource_version: str, seen: dict[str, float],
                  done: threading.Event) -> threading.Thread:
    """A thread that records (perf_counter) when a watch on ``pod`` first shows Ready=True."""
    watch = cluster.client.watch(PODS, "default", resource_version=resource_version,
                                 field_selector=f"metadata.name={pod}", timeout_seconds=30)

    def run() -> None:
        try:
            for event in watch:
                conditions = event["object"].get("status", {}).get("conditions", [])
                if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                    seen["ready"] = time.perf_counter()
                    done.set()
                    return
        finally:
            watch.stop()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def ready_to_traffic(cluster: Cluster, pod: str, ip: str, port: int, trials: int) -> dict[str, Any]:
    after_ready, after_touch = [], []
    for _ in range(trials):
        rv = cluster.client.get(PODS, pod, "default")["metadata"]["resourceVersion"]
        seen: dict[str, float] = {}
        done = threading.Event()
        thread = ready_watcher(cluster, pod, rv, seen, done)
        touched = time.perf_counter()
        cluster.kubectl(f"exec {pod} -- touch /tmp/ready")
        if not done.wait(10):
            raise SystemExit("the pod did not turn Ready")
        while not answers(ip, port, pod):
            time.sleep(0.0005)
        served = time.perf_counter()
        thread.join()
        after_ready.append(served - seen["ready"])
        after_touch.append(served - touched)
        cluster.kubectl(f"exec {pod} -- rm /tmp/ready")
        wait_for(lambda: not answers(ip, port, pod), 10, "the pod to leave the Service")
    return {"trials": trials, "ready_to_traffic": ms(after_ready), "touch_to_traffic": ms(after_touch)}


def dns_queries(server_host: str, server_port: int, name: str, ip: str, queries: int, clients: int) -> dict[str, Any]:
    wire = dns.message.make_query(name, "A").to_wire()
    plan = [(wire, socket.inet_aton(ip))] * (queries // clients)
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    processes = [spawn.Process(target=dns_client, args=(server_port, plan, results, server_host))
                 for _ in range(clients)]
    for process in processes:
        process.start()
    reports = [results.get() for _ in processes]
    for process in processes:
        process.join()
    good = sum(g for g, _ in reports)
    seconds = max(elapsed for _, elapsed in reports)
    sent = len(plan) * clients
    return {"queries": sent, "clients": clients, "queries_per_second": round(good / seconds),
            "answered_correctly": good / sent}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500, help="requests per throughput measurement")
    parser.add_argument("--trials", type=int, default=20, help="Ready -> traffic trials")
    parser.add_argument("--queries", type=int, default=20000, help="DNS queries in all")
    parser.add_argument("--clients", type=int, default=4, help="DNS client processes")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="minik8s-bench-") as data_dir, \
            Cluster(nodes=1, runtime="process", clock="real", data_dir=Path(data_dir)) as cluster:
        cluster.apply(json.dumps(DEPLOYMENT))
        cluster.apply(json.dumps(SERVICE))
        wait_for(lambda: bool(cluster.client.list(PODS, "default", label_selector="app=bench")["items"]), 30,
                 "the pod")
        pod_obj = cluster.client.list(PODS, "default", label_selector="app=bench")["items"][0]
        pod = pod_obj["metadata"]["name"]
        wait_for(lambda: bool(cluster.client.get(PODS, pod, "default").get("status", {}).get("podIP")), 30,
                 "the pod IP")
        # Ready for part one: the container may still be starting, so retry the touch.
        wait_for(lambda: cluster.run_kubectl(f"exec {pod} -- touch /tmp/ready")[0] == 0, 30, "the container")
        pod_ip = cluster.client.get(PODS, pod, "default")["status"]["podIP"]
        cluster_ip = cluster.client.get(SERVICES, "bench", "default")["spec"]["clusterIP"]
        offset = cluster.kubelets[0].runtime.port_offset
        port = 80 + offset if offset else 80
        for ip in (pod_ip, cluster_ip):
            wait_for(lambda: answers(ip, port, pod), 30, f"{ip}:{port} to answer")

        result: dict[str, Any] = {"runtime": "process", "clock": "real", "requests": args.requests}
        for target, ip in (("pod", pod_ip), ("cluster_ip", cluster_ip)):
            conn = http.client.HTTPConnection(ip, port, timeout=5)
            result[f"{target}_keepalive"] = measure(args.requests, lambda: get(ip, port, conn))
            conn.close()
            result[f"{target}_new_connection"] = measure(args.requests, lambda: get(ip, port))
        for mode in ("keepalive", "new_connection"):
            direct, proxied = result[f"pod_{mode}"], result[f"cluster_ip_{mode}"]
            result[f"{mode}_throughput_ratio"] = round(proxied["requests_per_second"] / direct["requests_per_second"], 3)
            result[f"{mode}_added_p99_ms"] = round(proxied["p99_ms"] - direct["p99_ms"], 3)

        cluster.kubectl(f"exec {pod} -- rm /tmp/ready")
        wait_for(lambda: not answers(cluster_ip, port, pod), 10, "the pod to leave the Service")
        result["endpoint"] = ready_to_traffic(cluster, pod, cluster_ip, port, args.trials)

        server = cluster.dns.server
        if server is None:
            raise SystemExit("cluster DNS has no server")
        result["dns"] = dns_queries(server.host, server.port, "bench.default.svc.cluster.local", cluster_ip,
                                    args.queries, args.clients)

    result["python_loop_seconds"] = python_loop_seconds()
    if args.json:
        print(json.dumps(result))
        return 0
    report(result)
    return 0


def report(result: dict[str, Any]) -> None:
    def met(ok: bool) -> str:
        return "met" if ok else "MISSED"

    print(f"HTTP GET / to an nginx-like pod, one sequential client, {result['requests']} requests each")
    for mode in ("keepalive", "new_connection"):
        for target, label in (("pod", "pod IP"), ("cluster_ip", "ClusterIP")):
            r = result[f"{target}_{mode}"]
            print(f"  {label:10} {mode.replace('_', ' '):15} {r['requests_per_second']:9.1f} req/s   "
                  f"p50 {r['p50_ms']:.3f} ms   p99 {r['p99_ms']:.3f} ms")
        ratio, added = result[f"{mode}_throughput_ratio"], result[f"{mode}_added_p99_ms"]
        print(f"  {mode.replace('_', ' ')}: ClusterIP/direct throughput {ratio:.0%} (aim >= 50%: {met(ratio >= 0.5)}), "
              f"added p99 {added:.3f} ms (aim < 1 ms: {met(added < 1)})")
    e = result["endpoint"]
    r, t = e["ready_to_traffic"], e["touch_to_traffic"]
    print(f"pod Ready (watch) -> its endpoint carries traffic, {e['trials']} trials: p50 {r['p50_ms']:.1f} ms   "
          f"p99 {r['p99_ms']:.1f} ms (aim p99 < 100 ms: {met(r['p99_ms'] < 100)})")
    print(f"  whole path, touch /tmp/ready -> traffic (includes the 1 s probe period): p50 {t['p50_ms']:.1f} ms   "
          f"p99 {t['p99_ms']:.1f} ms")
    d = result["dns"]
    print(f"cluster DNS: {d['queries_per_second']:,} queries/s over UDP ({d['queries']:,} queries, {d['clients']} "
          f"clients), {d['answered_correctly']:.1%} answered correctly (aim >= 5,000/s: "
          f"{met(d['queries_per_second'] >= 5000)})")
    print(loop_line(result["python_loop_seconds"]))


if __name__ == "__main__":
    sys.exit(main())
