"""Rollout speed: a big Deployment on the simulated runtime, in process, on a virtual clock.

Applies a Deployment of N replicas (default 1000) to a cluster of simulated nodes and
measures the *wall* time until every replica is available, then changes the image and
measures the wall time of the whole rolling update (default 25% / 25%). The virtual
clock makes the run deterministic; the times printed are how long the Python code
took, which is what the benchmark is about. Also prints the virtual seconds each phase
took inside the cluster, and the machine's pure-Python loop time (benchmarks/machine.py),
measured after the runs (and outside ``--profile``).

    python benchmarks/rollout.py --replicas 1000 [--nodes 20] [--json] [--profile]

Targets: available in under 2 s, rolling update in under 5 s.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402
from minik8s.api import resources  # noqa: E402
from minik8s.cluster import Cluster  # noqa: E402
from minik8s.controllers import rollout as ro  # noqa: E402

DEPLOY = resources.lookup("deploy")

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: web, image: nginx}}]}}
"""

# Virtual seconds to let pass per round while waiting; small enough to see each step.
TICK = 1.0
# Give up after this much virtual time.
VIRTUAL_LIMIT = 3600.0


def done(c: Cluster, image: str) -> bool:
    d = c.client.get(DEPLOY, "web", "default")
    return (ro.deployment_complete(d, d.get("status") or {})
            and d["spec"]["template"]["spec"]["containers"][0]["image"] == image)


def run_until(c: Cluster, image: str) -> float:
    """Advance the virtual clock until the rollout of ``image`` is complete; returns virtual seconds."""
    start = c.clock.now()
    c.run_until_stable()
    while not done(c, image):
        if c.clock.now() - start > VIRTUAL_LIMIT:
            raise RuntimeError("the rollout did not finish")
        c.advance(TICK)
    return c.clock.now() - start


def measure(replicas: int, nodes: int) -> dict[str, Any]:
    with Cluster(nodes=nodes, runtime="simulated", clock="virtual", seed=0) as c:
        c.advance(1)
        t0 = time.perf_counter()
        c.apply(MANIFEST.format(replicas=replicas))
        virtual_create = run_until(c, "nginx")
        t1 = time.perf_counter()
        c.kubectl("set image deploy/web web=nginx:alpine")
        virtual_update = run_until(c, "nginx:alpine")
        t2 = time.perf_counter()
        return {"replicas": replicas, "nodes": nodes,
                "available_seconds": round(t1 - t0, 3), "rolling_update_seconds": round(t2 - t1, 3),
                "available_virtual_seconds": virtual_create, "rolling_update_virtual_seconds": virtual_update}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=20, help="simulated nodes (110 pods each at most)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", action="store_true", help="print the 30 most expensive functions")
    args = parser.parse_args()
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    result = measure(args.replicas, args.nodes)
    if profiler:
        profiler.disable()
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    result["python_loop_seconds"] = python_loop_seconds()
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['replicas']} replicas on {result['nodes']} nodes")
    print(f"  apply -> all available: {result['available_seconds']:.2f} s wall "
          f"({result['available_virtual_seconds']:.0f} s virtual)")
    print(f"  rolling update:         {result['rolling_update_seconds']:.2f} s wall "
          f"({result['rolling_update_virtual_seconds']:.0f} s virtual)")
    print(f"  {loop_line(result['python_loop_seconds'])}")


if __name__ == "__main__":
    main()
