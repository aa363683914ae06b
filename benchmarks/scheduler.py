"""Scheduler throughput: kube-scheduler's SchedulingBasic workload, in process.

Builds N simulated nodes (4 CPU, 16Gi, 110 pods, zone and hostname labels) in a
``Cache`` and schedules M plain pods (one container, 100m / 128Mi) with the default
profile, assuming each decision in the cache as the real scheduler does. Prints
pods/s, total seconds and peak memory (max RSS; ``--tracemalloc`` adds
traced Python memory, at a cost in speed); ``--json`` prints one JSON object instead.

``--affinity FRACTION`` gives that share of the pods a required pod anti-affinity on
hostname plus a preferred zone affinity (a typical "spread my replicas" Deployment),
to show what inter-pod affinity costs: every such pod must look at every pod.

kube-scheduler's CI threshold for SchedulingBasic at 5000 nodes is 680 pods/s.

    python benchmarks/scheduler.py --nodes 5000 --pods 10000 [--json] [--affinity 0.1] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minik8s.scheduler import Cache, Scheduler  # noqa: E402

ZONES = 3


def make_node(i: int) -> dict[str, Any]:
    name = f"node-{i}"
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            "kubernetes.io/hostname": name, "topology.kubernetes.io/zone": f"zone-{i % ZONES}",
            "kubernetes.io/os": "linux",
        }},
        "spec": {},
        "status": {"allocatable": {"cpu": "4", "memory": "16Gi", "pods": "110"},
                   "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}},
    }


def make_pod(i: int, with_affinity: bool) -> dict[str, Any]:
    app = f"app-{i % 50}"
    spec: dict[str, Any] = {
        "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
    }
    if with_affinity:
        term = {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "kubernetes.io/hostname"}
        spec["affinity"] = {
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]},
            "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 10, "podAffinityTerm": dict(term, topologyKey="topology.kubernetes.io/zone")}]},
        }
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"pod-{i}", "namespace": "default", "labels": {"app": app}}, "spec": spec}


def run(nodes: int, pods: int, affinity: float, seed: int, trace: bool = False) -> dict[str, Any]:
    rng = random.Random(seed)
    if trace:  # tracemalloc slows every allocation down: throughput is not comparable then
        tracemalloc.start()
    cache = Cache()
    for i in range(nodes):
        cache.add_node(make_node(i))
    workload = [make_pod(i, rng.random() < affinity) for i in range(pods)]
    scheduler = Scheduler(rng=random.Random(seed))
    unschedulable = 0
    start = time.perf_counter()
    for pod in workload:
        result = scheduler.schedule(pod, cache)
        if result.node is None:
            unschedulable += 1
        else:
            cache.assume(pod, result.node)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    figures = {
        "nodes": nodes, "pods": pods, "affinity_fraction": affinity, "scheduled": pods - unschedulable,
        "unschedulable": unschedulable, "seconds": round(seconds, 3), "pods_per_second": round(pods / seconds, 1),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),  # Linux: KiB
        "upstream_ci_threshold_pods_per_second": 680,
    }
    if trace:
        figures["peak_traced_memory_mib"] = round(peak / 2**20, 1)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--affinity", type=float, default=0.0, help="share of pods with inter-pod (anti-)affinity")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of the run")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also report the peak of traced Python memory (slower)")
    args = parser.parse_args(argv)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
    figures = run(args.nodes, args.pods, args.affinity, args.seed, args.tracemalloc)
    if args.profile:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"scheduled {figures['scheduled']}/{figures['pods']} pods on {figures['nodes']} nodes "
              f"(affinity share {figures['affinity_fraction']}) in {figures['seconds']} s")
        print(f"throughput: {figures['pods_per_second']} pods/s (kube-scheduler CI threshold: 680 pods/s)")
        print(f"peak memory (max RSS of the process): {figures['max_rss_mib']} MiB")
        if "peak_traced_memory_mib" in figures:
            print(f"peak traced Python memory: {figures['peak_traced_memory_mib']} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
