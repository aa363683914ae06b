"""The cost of one metrics scrape of many pods, on the process runtime's stats path.

Starts ``--pods`` real processes (``sleep``), each in a session of its own as the process
runtime starts a container's main process, then times one scrape end to end, as the
cluster does it every ``--metric-resolution``:

* **read**: the runtime's one pass over ``/proc`` (``supervisor.sessions``) and each
  container's CPU and working set (``container_usage``);
* **summary**: the kubelet's Summary object (rates against the previous reading) and its JSON;
* **store**: metrics-server parsing the Summary and keeping the new points.

The figure to watch is the total per scrape (the aim is under 100 ms for 1,000 pods). The
machine's pure-Python loop time (see benchmarks/machine.py) is printed beside it.

    python benchmarks/metrics.py [--pods 1000] [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402

from benchmarks.machine import add_common_arguments, emit, median, profiled, python_loop_seconds  # noqa: E402
from minik8s.kubelet import stats  # noqa: E402
from minik8s.kubelet.runtimes.process import container_usage, supervisor  # noqa: E402
from minik8s.metrics.server import MetricsServer, previous  # noqa: E402


def scrape(pids: list[int], rates: stats.Rates, last: dict[Any, Any], now: float) -> tuple[float, float, float]:
    """One scrape of every container: seconds spent reading, summarising and storing."""
    started = time.perf_counter()
    table = supervisor.sessions()
    usages = [container_usage(table.get(pid, [])) for pid in pids]
    read = time.perf_counter()
    pods = [({"name": f"pod-{i}", "namespace": "default", "uid": str(i)}, 0.0,
             [(f"c{i}", stats.Usage("app", 0.0, cpu, memory))]) for i, (cpu, memory) in enumerate(usages)]
    body = orjson.dumps(stats.summary("node-1", 0.0, 8 << 30, pods, now, rates))
    summarised = time.perf_counter()
    nodes: dict[Any, Any] = {}
    containers: dict[Any, Any] = {}
    MetricsServer._collect(orjson.loads(body), nodes, containers, {})
    kept = {key: previous(point, last.get(key), None, 15.0) for key, point in containers.items()}
    last.clear()
    last.update(containers)
    stored = time.perf_counter()
    assert len(kept) == len(pids)
    return read - started, summarised - read, stored - summarised


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=1000)
    add_common_arguments(parser)
    args = parser.parse_args()
    args.runs = max(args.runs, 5)
    processes = [subprocess.Popen(["sleep", "600"], start_new_session=True) for _ in range(args.pods)]
    try:
        pids = [p.pid for p in processes]
        rates, last = stats.Rates(), {}
        scrape(pids, rates, last, 1.0)   # the first reading: no rates yet

        def runs() -> list[tuple[float, float, float]]:
            return [scrape(pids, rates, last, 15.0 * (run + 2)) for run in range(args.runs)]

        timings = profiled(args.profile, runs)
    finally:
        for p in processes:
            p.kill()
        for p in processes:
            p.wait()
    figures = {
        "pods": args.pods, "runs": args.runs,
        "read_ms": round(median(t[0] for t in timings) * 1000, 1),
        "summary_ms": round(median(t[1] for t in timings) * 1000, 1),
        "store_ms": round(median(t[2] for t in timings) * 1000, 1),
        "scrape_ms": round(median(sum(t) for t in timings) * 1000, 1),
        "python_loop_seconds": python_loop_seconds(),
    }
    emit(figures, args.json, report)


def report(f: dict[str, Any]) -> None:
    print(f"one scrape of {f['pods']} pods (median of {f['runs']}): {f['scrape_ms']} ms "
          f"(read /proc {f['read_ms']} ms, summary {f['summary_ms']} ms, store {f['store_ms']} ms)")
    print(f"machine: the pure-Python loop of 10**7 takes {f['python_loop_seconds']} s")


if __name__ == "__main__":
    main()
