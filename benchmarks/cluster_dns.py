"""Cluster DNS throughput: queries per second the real server answers over UDP, and record-build time.

Builds the records of S Services (ClusterIP, one named port each), starts a
:class:`minik8s.dns.server.DNSServer` on a free loopback port in its own thread, and has C client
processes send A queries for random Service names over UDP, each waiting for its answer before the next
(as a pod's resolver does). Prints answered queries/s, the share answered correctly, and how long one
rebuild of the records takes (what each Service change costs), and the machine's pure-Python loop time
(benchmarks/machine.py, measured once the server has stopped); ``--json`` prints one JSON object.

CoreDNS answers tens of thousands of queries per second per core; the aim here is 5,000/s.

    python benchmarks/cluster_dns.py [--services 1000] [--queries 20000] [--clients 4] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import socket
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dns.message  # noqa: E402

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402
from minik8s.dns.records import build  # noqa: E402
from minik8s.dns.resolver import Resolver  # noqa: E402
from minik8s.dns.server import DNSServer  # noqa: E402


def services(count: int) -> list[dict[str, Any]]:
    return [{"metadata": {"name": f"svc-{i}", "namespace": "default"},
             "spec": {"clusterIP": f"10.96.{i // 250}.{i % 250 + 2}", "ports": [{"name": "http", "port": 80}]}}
            for i in range(count)]


def client(port: int, wires: list[tuple[bytes, bytes]], results: Any, host: str = "127.0.0.1") -> None:
    """One resolver: a query, wait for its answer, the next. Checks the answer's last four bytes (the A
    record's address) rather than parsing it, so that the client costs little next to the server."""
    good = 0
    started = time.perf_counter()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        for wire, expected in wires:
            sock.sendto(wire, (host, port))
            try:
                reply = sock.recv(4096)
            except socket.timeout:
                continue
            good += reply[3] & 0x0F == 0 and reply[-4:] == expected
    results.put((good, time.perf_counter() - started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=20000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    objects = services(args.services)
    started = time.perf_counter()
    records = build(objects, [])
    build_seconds = time.perf_counter() - started
    resolver = Resolver(records)
    server = DNSServer(lambda: resolver, "127.0.0.1", 0)
    server.start()
    rng = random.Random(0)
    per_client = args.queries // args.clients
    plans = []
    for _ in range(args.clients):
        picks = [rng.randrange(args.services) for _ in range(per_client)]
        plans.append([(dns.message.make_query(f"svc-{i}.default.svc.cluster.local", "A").to_wire(),
                       socket.inet_aton(objects[i]["spec"]["clusterIP"])) for i in picks])
    # Clients are processes of their own: in threads they would share the server's interpreter lock.
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    clients = [spawn.Process(target=client, args=(server.port, plan, results)) for plan in plans]
    for process in clients:
        process.start()
    reports = [results.get() for _ in clients]
    answered = [good for good, _ in reports]
    seconds = max(elapsed for _, elapsed in reports)   # the clients' own time, not their start-up
    for process in clients:
        process.join()
    server.stop()
    sent = per_client * args.clients
    figures = {"services": args.services, "queries": sent, "clients": args.clients,
               "queries_per_second": round(sum(answered) / seconds), "answered_correctly": sum(answered) / sent,
               "seconds": round(seconds, 3), "records_build_seconds": round(build_seconds, 4),
               "python_loop_seconds": python_loop_seconds()}
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{figures['queries_per_second']:,} queries/s over UDP ({sent:,} queries, {args.clients} clients, "
          f"{args.services:,} Services); {figures['answered_correctly']:.1%} answered correctly")
    print(f"building the records of {args.services:,} Services: {build_seconds * 1000:.1f} ms")
    print(loop_line(figures["python_loop_seconds"]))


if __name__ == "__main__":
    main()
