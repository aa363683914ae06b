"""What keeping a Service's endpoints costs: a big Deployment behind a Service, in process, on a virtual clock.

Runs the rollout benchmark's scenario (a Deployment of N replicas becomes available, then a rolling
update to a new image) twice on the simulated runtime: once alone, once with a Service selecting
its pods, so that the EndpointSlice and Endpoints controllers follow every pod change. Prints the
wall time of both phases for both runs, the number of slices at the end (N / 100 rounded up) and the
number of store writes the rollout caused, and how many syncs each endpoint controller ran and the
wall time they took. Also times the pure decision
(``desired_endpoints`` + ``plan_slices``) for N pods, and, after all that, the machine's
pure-Python loop time (benchmarks/machine.py).

    python benchmarks/endpoints.py --replicas 1000 [--nodes 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rollout import MANIFEST, run_until  # noqa: E402

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402
from minik8s.api import resources  # noqa: E402
from minik8s.cluster import Cluster  # noqa: E402
from minik8s.controllers.endpoints import EndpointsController  # noqa: E402
from minik8s.controllers.endpointslice import EndpointSliceController, desired_endpoints, plan_slices  # noqa: E402

SLICES = resources.get("discovery.k8s.io", "v1", "endpointslices")
PODS = resources.lookup("pods")

SERVICE = """
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def count_reconciles(c: Cluster) -> dict[str, list[float]]:
    """Wrap the endpoint controllers' reconcile to count calls and sum their wall time."""
    spent: dict[str, list[float]] = {}
    for component in c.components:
        if isinstance(component, (EndpointSliceController, EndpointsController)):
            tally = spent.setdefault(component.name, [0, 0.0])

            def timed(key: Any, inner: Any = component.reconcile, tally: list[float] = tally) -> None:
                t = time.perf_counter()
                inner(key)
                tally[0] += 1
                tally[1] += time.perf_counter() - t
            component.reconcile = timed  # type: ignore[method-assign]
    return spent


def run(replicas: int, nodes: int, with_service: bool) -> dict[str, Any]:
    with Cluster(nodes=nodes, runtime="simulated", clock="virtual", seed=0) as c:
        spent = count_reconciles(c)
        c.advance(1)
        t0 = time.perf_counter()
        c.apply(MANIFEST.format(replicas=replicas) + (SERVICE if with_service else ""))
        run_until(c, "nginx")
        t1 = time.perf_counter()
        before = c.store.revision if hasattr(c.store, "revision") else None
        c.kubectl("set image deploy/web web=nginx:alpine")
        run_until(c, "nginx:alpine")
        c.run_until_stable()
        t2 = time.perf_counter()
        slices = c.client.list(SLICES, "default")["items"]
        result: dict[str, Any] = {"available_seconds": round(t1 - t0, 3), "rolling_update_seconds": round(t2 - t1, 3),
                                  "slices": len(slices),
                                  "endpoints": sum(len(s.get("endpoints") or []) for s in slices)}
        for name, (calls, seconds) in spent.items():
            result[f"{name}_syncs"] = int(calls)
            result[f"{name}_seconds"] = round(seconds, 3)
        if with_service:
            generations = [int(s["metadata"].get("resourceVersion", 0)) for s in slices]
            result["store_revisions_during_rollout"] = (c.store.revision - before) if before is not None else None
            result["max_slice_resource_version"] = max(generations, default=0)
        return result


def pure(replicas: int) -> dict[str, Any]:
    svc = {"metadata": {"name": "web", "namespace": "default", "uid": "u"},
           "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.20", "ports": [{"port": 80, "protocol": "TCP"}]}}
    pods = [{"metadata": {"name": f"web-{i:05d}", "namespace": "default", "uid": f"u{i}", "labels": {"app": "web"}},
             "spec": {"nodeName": "node-1", "containers": [{"name": "web"}]},
             "status": {"phase": "Running", "podIP": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                        "conditions": [{"type": "Ready", "status": "True"}]}} for i in range(replicas)]
    nodes = {"node-1": {"metadata": {"name": "node-1"}}}
    t0 = time.perf_counter()
    plan = plan_slices(svc, [], desired_endpoints(svc, pods, nodes))
    t1 = time.perf_counter()
    return {"pure_plan_ms": round((t1 - t0) * 1000, 2), "pure_slices": len(plan.create)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = {"replicas": args.replicas, "nodes": args.nodes,
               "without_service": run(args.replicas, args.nodes, False),
               "with_service": run(args.replicas, args.nodes, True), **pure(args.replicas)}
    figures["python_loop_seconds"] = python_loop_seconds()
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        if key != "python_loop_seconds":
            print(f"{key}: {value}")
    print(loop_line(figures["python_loop_seconds"]))


if __name__ == "__main__":
    main()
