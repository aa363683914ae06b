"""Service allocation: how fast the API server creates Services, and what a full range costs.

In-process (memory store, no HTTP), so the figures are the allocation and the write path only:

* creates/s of ClusterIP and of NodePort Services (N of each, one namespace);
* the time to rebuild the allocators from N stored Services (what a restart pays);
* one random pick from a nearly full node-port range (the scan of the bitmap's worst case);
* the machine's pure-Python loop time (benchmarks/machine.py), measured after the rest.

Usage: python benchmarks/service_allocation.py [--services 2000] [--json]
Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402
from minik8s.api import resources  # noqa: E402
from minik8s.apiserver.apiserver import APIServer  # noqa: E402
from minik8s.apiserver.serviceallocator import PortAllocator, ServiceAllocator  # noqa: E402
from minik8s.clock import VirtualClock  # noqa: E402
from minik8s.store import Store  # noqa: E402

SERVICES = resources.get("", "v1", "services")


def service(name: str, kind: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}}


def creates_per_second(api: APIServer, kind: str, count: int) -> float:
    started = time.perf_counter()
    for i in range(count):
        api.create(SERVICES, "default", service(f"{kind.lower()}-{i}", kind))
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=2000, help="Services of each type (default 2000)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    count = min(args.services, 2500)  # the node-port range holds 2768 ports

    api = APIServer(Store(), VirtualClock(), random.Random(0), service_cidr="10.96.0.0/12")
    api.object_counts.limit = None
    figures = {"services": count,
               "clusterip_creates_per_s": round(creates_per_second(api, "ClusterIP", count)),
               "nodeport_creates_per_s": round(creates_per_second(api, "NodePort", count))}

    stored = api.list(SERVICES, None)["items"]
    started = time.perf_counter()
    ServiceAllocator("10.96.0.0/12", rng=random.Random(0)).restore(stored)
    figures["restore_ms"] = round((time.perf_counter() - started) * 1000, 2)

    ports = PortAllocator(30000, 32767, random.Random(0))
    for port in range(30000, 32767):  # all but the last port taken
        ports.allocate(port)
    started = time.perf_counter()
    ports.allocate_next()
    figures["last_free_port_pick_ms"] = round((time.perf_counter() - started) * 1000, 3)
    figures["python_loop_seconds"] = python_loop_seconds()

    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            if key != "python_loop_seconds":
                print(f"{key:28} {value}")
        print(loop_line(figures["python_loop_seconds"]))


if __name__ == "__main__":
    main()
