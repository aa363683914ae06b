"""Drain time: ``kubectl drain`` of a node running 100 pods, in process, on a virtual clock.

A two-node cluster on the simulated runtime runs a Deployment of N replicas (default
100) all on node-1 (node-2 is cordoned while they start, then uncordoned). Then
minik8s's kubectl drains node-1 the way the real kubectl does: it cordons the node
(PATCH), lists its pods (``fieldSelector=spec.nodeName=node-1``), POSTs an Eviction
to each pod's ``eviction`` subresource (the API server checks PodDisruptionBudgets,
then deletes the pod gracefully), and waits until every evicted pod is gone. The
controllers, the scheduler and the kubelets run on the virtual clock meanwhile, so
the ReplicaSet's replacements are created and scheduled on node-2 as the evictions
land; the kubelet ends each evicted pod's containers and the pod is removed.

What is measured: the *wall* time of that ``kubectl drain`` call (the Python work of
the whole cluster while it drains) and the CPU time the process spent in it (which
other work on a shared machine does not inflate), and separately the wall time from the drain's
end until the Deployment is available again. The virtual seconds each phase took
inside the cluster are printed too. ``--max-unavailable K`` adds a
PodDisruptionBudget (``maxUnavailable: K``), so kubectl retries refused evictions
every 5 (virtual) seconds, as upstream does. ``--runs 3`` repeats it and reports the
median. The machine's pure-Python loop time (see benchmarks/machine.py) is printed
beside the figures.

    python benchmarks/drain.py [--pods 100] [--max-unavailable K] [--runs 3] [--json] [--profile]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import add_common_arguments, emit, median, profiled, python_loop_seconds  # noqa: E402
from benchmarks.rollout import MANIFEST, run_until  # noqa: E402
from minik8s.api import resources  # noqa: E402
from minik8s.cluster import Cluster  # noqa: E402

PODS = resources.lookup("pods")

BUDGET = """
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web}}
spec:
  maxUnavailable: {max_unavailable}
  selector: {{matchLabels: {{app: web}}}}
"""


def pods_on(c: Cluster, node: str) -> int:
    return len(c.client.list(PODS, None, field_selector=f"spec.nodeName={node}")["items"])


def measure(replicas: int, max_unavailable: int) -> dict[str, Any]:
    """One run: a fresh cluster, node-1 filled, then the drain timed."""
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        c.advance(1)
        c.kubectl("cordon node-2")
        c.apply(MANIFEST.format(replicas=replicas))
        run_until(c, "nginx")  # the Deployment is available
        c.kubectl("uncordon node-2")
        if max_unavailable:
            c.apply(BUDGET.format(max_unavailable=max_unavailable))
            c.run_until_stable()
        on_node = pods_on(c, "node-1")
        t0, cpu0, v0 = time.perf_counter(), time.process_time(), c.clock.now()
        out = c.kubectl("drain node-1 --ignore-daemonsets --timeout=1h")
        t1, cpu1, v1 = time.perf_counter(), time.process_time(), c.clock.now()
        run_until(c, "nginx")
        t2, v2 = time.perf_counter(), c.clock.now()
        evicted = out.count(" evicted\n")
        if not out.endswith("node/node-1 drained\n") or pods_on(c, "node-1") != on_node - evicted:
            raise RuntimeError(f"the drain did not finish:\n{out}")
        return {"pods_on_node": on_node, "evicted": evicted, "drain_seconds": round(t1 - t0, 3),
                "drain_cpu_seconds": round(cpu1 - cpu0, 3),
                "drain_virtual_seconds": round(v1 - v0, 1), "available_again_seconds": round(t2 - t1, 3),
                "available_again_virtual_seconds": round(v2 - v1, 1)}


def run(replicas: int, max_unavailable: int, runs: int) -> dict[str, Any]:
    results = [measure(replicas, max_unavailable) for _ in range(runs)]
    figures: dict[str, Any] = {"replicas": replicas, "max_unavailable": max_unavailable or None, "runs": runs}
    for key in results[0]:
        figures[key] = median(r[key] for r in results)
    figures["drain_seconds_runs"] = [r["drain_seconds"] for r in results]
    figures["python_loop_seconds"] = python_loop_seconds()
    return figures


def report(f: dict[str, Any]) -> None:
    budget = f"a budget of maxUnavailable {f['max_unavailable']}" if f["max_unavailable"] else "no budget"
    print(f"drain of node-1 running {f['pods_on_node']} pods ({budget}), median of {f['runs']} run(s)")
    print(f"  kubectl drain (cordon, {f['evicted']} evictions, wait for the pods to go): "
          f"{f['drain_seconds']:.2f} s wall ({f['drain_virtual_seconds']:.0f} s virtual); "
          f"runs: {', '.join(str(s) for s in f['drain_seconds_runs'])}; {f['drain_cpu_seconds']:.2f} s of CPU time")
    print(f"  then until the Deployment is available again: {f['available_again_seconds']:.2f} s wall "
          f"({f['available_again_virtual_seconds']:.0f} s virtual)")
    print(f"  pure-Python loop (for i in range(10**7)): {f['python_loop_seconds']} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=100, help="replicas, all on the drained node (at most 110)")
    parser.add_argument("--max-unavailable", type=int, default=0,
                        help="add a PodDisruptionBudget with this maxUnavailable (0: no budget)")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    figures = profiled(args.profile, lambda: run(args.pods, args.max_unavailable, args.runs))
    emit(figures, args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
