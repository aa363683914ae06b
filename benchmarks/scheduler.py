"""Scheduler throughput on kube-scheduler's own benchmark workloads, in process.

Each workload copies the shape of a test case of upstream's scheduler_perf
(test/integration/scheduler_perf): the nodes, the pods placed before the
measurement ("init pods") and the measured pods. The nodes are upstream's
node-default (4 CPU, 32Gi, 110 pods) with a ``kubernetes.io/hostname`` label and a
``topology.kubernetes.io/zone`` label of moon-1, moon-2 or moon-3 (upstream's
labelNodePrepareStrategy). Every pod asks for 100m CPU and 500Mi, as upstream's
templates do.

    workload                 upstream test case (5,000 nodes)     init   measured   upstream CI floor
    basic                    SchedulingBasic 5000Nodes_10000Pods  1000   10000      680 pods/s
    anti-affinity            SchedulingPodAntiAffinity            1000    2000       60 pods/s
                             5000Nodes_2000Pods
    preferred-anti-affinity  SchedulingPreferredPodAntiAffinity   5000    5000       90 pods/s
                             5000Nodes_5000Pods
    spread                   TopologySpreading 5000Nodes_5000Pods 5000    5000      460 pods/s
    preferred-spread         PreferredTopologySpreading           5000    5000      340 pods/s
                             5000Nodes_5000Pods

* basic: plain pods.
* anti-affinity: every pod (init pods in namespace sched-0, measured ones in sched-1)
  is labelled ``color: green`` and has a *required* pod anti-affinity to
  ``color: green`` pods of both namespaces on ``kubernetes.io/hostname``: one such
  pod a node, and each decision must know where all the others are.
* preferred-anti-affinity: the same term for ``color: yellow``, *preferred* with
  weight 1: nothing is filtered, every feasible node is scored by how many yellow
  pods it already has.
* spread: init pods are plain; measured pods are ``color: blue`` with a topology
  spread constraint ``maxSkew: 5`` on the zone, ``DoNotSchedule`` (a Filter).
* preferred-spread: the same constraint with ``ScheduleAnyway`` (a Score).

What is measured: the init pods are placed round-robin as already-bound pods (upstream
schedules them first, outside the measurement; where they land does not matter for
these shapes), then the wall time of the loop that calls ``Scheduler.schedule`` for
each measured pod and ``Cache.assume``s the decision, as the scheduler component does.
No API server, no binding, no events: this is the decision part alone. pods/s is
measured pods over that time; pods per CPU second divides by the process's CPU time
instead, which other work on a shared machine does not inflate. ``--runs 3`` repeats
the whole thing (a fresh cache each time) and reports the medians. The machine's
pure-Python loop time (see benchmarks/machine.py) is printed beside the figures.

``--affinity FRACTION`` (basic only) gives that share of the measured pods a required
pod anti-affinity on hostname plus a preferred zone affinity, a typical "spread my
replicas" Deployment.

    python benchmarks/scheduler.py --workload spread [--nodes 5000] [--pods N] [--init-pods N]
        [--runs 3] [--json] [--profile] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import add_common_arguments, emit, median, profiled, python_loop_seconds  # noqa: E402
from minik8s.scheduler import Cache, Scheduler  # noqa: E402

ZONES = ("moon-1", "moon-2", "moon-3")
HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"

Pod = dict[str, Any]


def make_node(i: int) -> dict[str, Any]:
    name = f"node-{i}"
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name,
                     "labels": {HOSTNAME: name, ZONE: ZONES[i % len(ZONES)], "kubernetes.io/os": "linux"}},
        "spec": {},
        "status": {"allocatable": {"cpu": "4", "memory": "32Gi", "pods": "110"},
                   "capacity": {"cpu": "4", "memory": "32Gi", "pods": "110"}},
    }


def make_pod(name: str, namespace: str = "default", labels: dict[str, str] | None = None, **spec: Any) -> Pod:
    """Upstream's pod-default: one pause container asking for 100m and 500Mi."""
    container = {"name": "pause", "image": "registry.k8s.io/pause:3.10", "ports": [{"containerPort": 80}],
                 "resources": {"requests": {"cpu": "100m", "memory": "500Mi"},
                               "limits": {"cpu": "100m", "memory": "500Mi"}}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"containers": [container], **spec}}


def _anti_affinity_term(color: str) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": {"color": color}}, "topologyKey": HOSTNAME,
            "namespaces": ["sched-1", "sched-0"]}


def plain_pod(name: str, namespace: str) -> Pod:
    return make_pod(name, namespace)


def anti_affinity_pod(name: str, namespace: str) -> Pod:
    term = _anti_affinity_term("green")
    return make_pod(name, namespace, {"color": "green"},
                    affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}})


def preferred_anti_affinity_pod(name: str, namespace: str) -> Pod:
    term = {"weight": 1, "podAffinityTerm": _anti_affinity_term("yellow")}
    return make_pod(name, namespace, {"color": "yellow"},
                    affinity={"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [term]}})


def _spread_pod(when: str) -> Callable[[str, str], Pod]:
    def pod(name: str, namespace: str) -> Pod:
        constraint = {"maxSkew": 5, "topologyKey": ZONE, "whenUnsatisfiable": when,
                      "labelSelector": {"matchLabels": {"color": "blue"}}}
        return make_pod(name, namespace, {"color": "blue"}, topologySpreadConstraints=[constraint])
    return pod


def replica_pod(name: str, namespace: str) -> Pod:
    """A "spread my replicas" Deployment's pod: anti-affinity on hostname, affinity to its zone."""
    app = f"app-{int(name.rsplit('-', 1)[1]) % 50}"
    term = {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": HOSTNAME}
    return make_pod(name, namespace, {"app": app}, affinity={
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]},
        "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "podAffinityTerm": dict(term, topologyKey=ZONE)}]}})


@dataclass(frozen=True)
class Workload:
    upstream: str
    init_pods: int
    measured_pods: int
    init_pod: Callable[[str, str], Pod]
    measured_pod: Callable[[str, str], Pod]
    upstream_threshold: int  # pods/s, upstream's CI floor for this test case at 5,000 nodes
    init_namespace: str = "default"
    measured_namespace: str = "default"


WORKLOADS = {
    "basic": Workload("SchedulingBasic/5000Nodes_10000Pods", 1000, 10000, plain_pod, plain_pod, 680),
    "anti-affinity": Workload("SchedulingPodAntiAffinity/5000Nodes_2000Pods", 1000, 2000,
                              anti_affinity_pod, anti_affinity_pod, 60, "sched-0", "sched-1"),
    "preferred-anti-affinity": Workload("SchedulingPreferredPodAntiAffinity/5000Nodes_5000Pods", 5000, 5000,
                                        preferred_anti_affinity_pod, preferred_anti_affinity_pod, 90,
                                        "sched-0", "sched-1"),
    "spread": Workload("TopologySpreading/5000Nodes_5000Pods", 5000, 5000,
                       plain_pod, _spread_pod("DoNotSchedule"), 460),
    "preferred-spread": Workload("PreferredTopologySpreading/5000Nodes_5000Pods", 5000, 5000,
                                 plain_pod, _spread_pod("ScheduleAnyway"), 340),
}


def build_cache(nodes: int, workload: Workload, init_pods: int) -> Cache:
    """The nodes, and the init pods bound round-robin (they were scheduled before the measurement)."""
    cache = Cache()
    for i in range(nodes):
        cache.add_node(make_node(i))
    for i in range(init_pods):
        pod = workload.init_pod(f"init-{i}", workload.init_namespace)
        pod["spec"]["nodeName"] = f"node-{i % nodes}"
        cache.add_pod(pod)
    return cache


def measure(workload: Workload, nodes: int, init_pods: int, pods: int, affinity: float, seed: int) -> dict[str, Any]:
    """One run: a fresh cache, then the wall time of scheduling (and assuming) the measured pods."""
    rng = random.Random(seed)
    cache = build_cache(nodes, workload, init_pods)
    measured = [(replica_pod if rng.random() < affinity else workload.measured_pod)(f"pod-{i}",
                                                                                  workload.measured_namespace)
                for i in range(pods)]
    scheduler = Scheduler(rng=random.Random(seed))
    unschedulable = 0
    start, start_cpu = time.perf_counter(), time.process_time()
    for pod in measured:
        result = scheduler.schedule(pod, cache)
        if result.node is None:
            unschedulable += 1
        else:
            cache.assume(pod, result.node)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
    return {"seconds": round(seconds, 3), "pods_per_second": round(pods / seconds, 1),
            "pods_per_cpu_second": round(pods / cpu_seconds, 1),
            "scheduled": pods - unschedulable, "unschedulable": unschedulable}


def run(name: str, nodes: int, pods: int | None = None, init_pods: int | None = None, affinity: float = 0.0,
        seed: int = 1, runs: int = 1, trace: bool = False) -> dict[str, Any]:
    workload = WORKLOADS[name]
    pods = workload.measured_pods if pods is None else pods
    init_pods = workload.init_pods if init_pods is None else init_pods
    if trace:  # tracemalloc slows every allocation down: throughput is not comparable then
        tracemalloc.start()
    results = [measure(workload, nodes, init_pods, pods, affinity, seed) for _ in range(runs)]
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    tracemalloc.stop()
    figures = {
        "workload": name, "upstream_test_case": workload.upstream, "nodes": nodes, "init_pods": init_pods,
        "pods": pods, "affinity_fraction": affinity, "runs": runs,
        "scheduled": results[-1]["scheduled"], "unschedulable": results[-1]["unschedulable"],
        "pods_per_second": median(r["pods_per_second"] for r in results),
        "pods_per_second_runs": [r["pods_per_second"] for r in results],
        "seconds": median(r["seconds"] for r in results),
        # Pods per second of this process's CPU time: what the figure would be on a machine of its own.
        "pods_per_cpu_second": median(r["pods_per_cpu_second"] for r in results),
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),  # Linux: KiB
        "upstream_ci_threshold_pods_per_second": workload.upstream_threshold,
        "python_loop_seconds": python_loop_seconds(),
    }
    if trace:
        figures["peak_traced_memory_mib"] = round(peak / 2**20, 1)
    return figures


def report(figures: dict[str, Any]) -> None:
    runs = ", ".join(str(r) for r in figures["pods_per_second_runs"])
    print(f"workload {figures['workload']} (upstream {figures['upstream_test_case']}): "
          f"{figures['nodes']} nodes, {figures['init_pods']} init pods")
    print(f"scheduled {figures['scheduled']}/{figures['pods']} measured pods "
          f"(affinity share {figures['affinity_fraction']}) in {figures['seconds']} s (median)")
    print(f"throughput: {figures['pods_per_second']} pods/s, median of {figures['runs']} run(s): {runs} "
          f"(upstream CI floor: {figures['upstream_ci_threshold_pods_per_second']} pods/s)")
    print(f"per second of CPU time: {figures['pods_per_cpu_second']} pods (the same on an idle machine)")
    print(f"peak memory (max RSS of the process): {figures['max_rss_mib']} MiB")
    if "peak_traced_memory_mib" in figures:
        print(f"peak traced Python memory: {figures['peak_traced_memory_mib']} MiB")
    print(f"pure-Python loop (for i in range(10**7)): {figures['python_loop_seconds']} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="basic")
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--pods", type=int, help="measured pods (default: the workload's)")
    parser.add_argument("--init-pods", type=int, help="pods bound before the measurement (default: the workload's)")
    parser.add_argument("--affinity", type=float, default=0.0,
                        help="share of measured pods with inter-pod (anti-)affinity (basic only)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also report the peak of traced Python memory (slower)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.affinity and args.workload != "basic":
        parser.error("--affinity applies to the basic workload only")
    figures = profiled(args.profile, lambda: run(args.workload, args.nodes, args.pods, args.init_pods, args.affinity,
                                                 args.seed, args.runs, args.tracemalloc))
    emit(figures, args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
