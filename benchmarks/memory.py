"""Memory of a mass creation and deletion: is everything given back?

The scenario of the "resource sanity" issue, in process: a cluster of simulated nodes
(``Cluster(nodes=N, runtime="simulated", clock="virtual")``), one Deployment of R replicas,
then ``kubectl delete deployment``. Memory is measured four times, each after
``gc.collect()``:

* **baseline**: the cluster up and idle for two compaction intervals, so that the watch
  history already holds its steady share of node heartbeats;
* **peak**: every replica created (and scheduled where a node has room);
* **deleted**: every pod gone, at once (the watch history and the pods' events are still
  held, as upstream's API server holds them);
* **after**: an hour and ten minutes later, once events have expired (``--event-ttl``) and the
  history has been compacted twice (``--etcd-compaction-interval``).

Figures: Python memory traced by ``tracemalloc`` (what the program holds; "after" should
come back near "baseline") and the process's resident set size (RSS; the allocator need
not return freed memory to the OS, so RSS falls less; on glibc the last line asks it to,
with ``malloc_trim(0)``, to show how much of the RSS is free memory kept for reuse). The per-pod cost is
(peak - baseline) / replicas. The machine's pure-Python loop time (benchmarks/machine.py) is
measured last, once tracemalloc has stopped. ``--json`` prints one JSON object instead.

    python benchmarks/memory.py [--nodes 64] [--replicas 7000] [--json]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402
from minik8s import Cluster  # noqa: E402
from minik8s.apiserver.compaction import COMPACTION_INTERVAL_SECONDS, EVENT_TTL_SECONDS  # noqa: E402

MIB = 1024 * 1024

DEPLOYMENT = """
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


def rss_mib() -> float:
    """The current resident set size (Linux), not the peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def malloc_trim() -> bool:
    """Ask glibc's allocator to give free memory back to the OS; False where there is no glibc."""
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def measure() -> dict[str, float]:
    gc.collect()
    return {"traced_mib": round(tracemalloc.get_traced_memory()[0] / MIB, 1), "rss_mib": rss_mib()}


def run(nodes: int, replicas: int) -> dict[str, Any]:
    tracemalloc.start()
    started = time.perf_counter()
    figures: dict[str, Any] = {"nodes": nodes, "replicas": replicas}
    with Cluster(nodes=nodes, runtime="simulated", clock="virtual", seed=0, object_count_limit=None) as cluster:
        cluster.advance(2 * COMPACTION_INTERVAL_SECONDS + 10)
        figures["baseline"] = measure()
        cluster.apply(DEPLOYMENT.format(replicas=replicas))
        while cluster.store.count("pods", "default") < replicas:
            cluster.advance(10)
        cluster.advance(30)  # let the pods that have a node start
        figures["peak"] = measure()
        figures["pods"] = cluster.store.count("pods", "default")
        cluster.kubectl("delete deployment web")
        while cluster.store.count("pods", "default"):
            cluster.advance(10)
        figures["deleted"] = measure()
        cluster.advance(EVENT_TTL_SECONDS + 2 * COMPACTION_INTERVAL_SECONDS)
        figures["after"] = measure()
        figures["events_left"] = cluster.store.count("events", "default")
        if malloc_trim():
            figures["after_trim"] = measure()
    tracemalloc.stop()
    grown = figures["peak"]["traced_mib"] - figures["baseline"]["traced_mib"]
    figures["traced_kib_per_pod"] = round(grown * 1024 / replicas, 1)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=64, help="simulated nodes (110 pods each)")
    parser.add_argument("--replicas", type=int, default=7000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = run(args.nodes, args.replicas)
    figures["python_loop_seconds"] = python_loop_seconds()  # tracemalloc stopped: it would slow the loop
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{figures['replicas']} replicas on {figures['nodes']} simulated nodes, {figures['seconds']} s")
    print(f"{'':>10} {'traced MiB':>11} {'RSS MiB':>9}")
    for phase in ("baseline", "peak", "deleted", "after", "after_trim"):
        if phase in figures:
            print(f"{phase:>10} {figures[phase]['traced_mib']:>11} {figures[phase]['rss_mib']:>9}")
    print(f"traced memory per pod at peak: {figures['traced_kib_per_pod']} KiB")
    print(f"events left after the TTL: {figures['events_left']}")
    print(loop_line(figures["python_loop_seconds"]))


if __name__ == "__main__":
    main()
