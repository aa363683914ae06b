"""Where a pod's start-up time goes: one pod's path from ``create`` to ``Ready``, stage by stage.

Starts an in-process cluster with the ``process`` runtime, wraps the functions on a pod's path
with timers (nothing else changes), creates N nginx pods at once and prints, per stage, the
median and the slowest pod's milliseconds (from the pod's creation request):

    created        the create request returned
    sched_start    the scheduler's reconcile of the pod began (watch delivery + queueing)
    bound          the binding was written
    kubelet_start  the kubelet's first sync of the pod began (watch delivery + queueing)
    sandbox        run_pod_sandbox finished (pod folder, IP, cgroup, resolv.conf)
    created_c      create_container finished (volumes, image lay-out, bwrap set-up)
    started_c      start_container finished (the process spawned)
    status         the status write that says Ready returned
    observed       a watch of the benchmark saw Ready

and, per pod, the time spent in each stage itself (``*_ms`` columns: busy time, the rest is
waiting for the one loop that runs every component).

    python benchmarks/pod_profile.py --pods 1
    python benchmarks/pod_profile.py --pods 50 [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402
from benchmarks.pod_startup import PODS, pod, watch_ready  # noqa: E402
from minik8s import Cluster  # noqa: E402
from minik8s.kubelet.podworker import PodWorker  # noqa: E402
from minik8s.kubelet.runtimes.process import ProcessRuntime  # noqa: E402
from minik8s.scheduler.component import SchedulerComponent  # noqa: E402

STAGES = ["created", "sched_start", "bound", "kubelet_start", "sandbox", "created_c", "started_c", "status",
          "observed"]
marks: dict[str, dict[str, float]] = {}    # pod name -> stage -> monotonic time
busy: dict[str, dict[str, float]] = {}     # pod name -> stage -> seconds spent in it


def _name_of(args: tuple[Any, ...], kwargs: dict[str, Any], how: Callable[..., str | None]) -> str | None:
    try:
        return how(*args, **kwargs)
    except (IndexError, KeyError, TypeError, AttributeError):
        return None


def _timed(owner: Any, attr: str, stage: str, how: Callable[..., str | None], first: bool = False,
           start_mark: bool = False, when: Callable[[Any], bool] = lambda result: True) -> None:
    """Wrap ``owner.attr``: record when it began (``start_mark``) or ended for the pod ``how`` names."""
    original = getattr(owner, attr)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        name = _name_of(args, kwargs, how)
        began = time.monotonic()
        if name is not None and start_mark and not (first and stage in marks.get(name, {})):
            marks.setdefault(name, {})[stage] = began
        result = original(*args, **kwargs)
        ended = time.monotonic()
        if name is not None:
            spent = busy.setdefault(name, {})
            spent[stage] = spent.get(stage, 0.0) + ended - began
            if not start_mark and when(result) and not (first and stage in marks.get(name, {})):
                marks.setdefault(name, {})[stage] = ended
        return result

    setattr(owner, attr, wrapper)


def _pod_name(pod: Any) -> str | None:
    return str(pod["metadata"]["name"])


def instrument() -> None:
    _timed(SchedulerComponent, "reconcile", "sched_start", lambda self, key: key[1], first=True, start_mark=True)
    _timed(SchedulerComponent, "_bind", "bound", lambda self, pod, node: _pod_name(pod))
    _timed(PodWorker, "sync", "kubelet_start", lambda self, pod, record: _pod_name(pod), first=True,
           start_mark=True)
    _timed(ProcessRuntime, "run_pod_sandbox", "sandbox", lambda self, pod: _pod_name(pod))
    _timed(ProcessRuntime, "create_container", "created_c",
           lambda self, sandbox_id, pod, container, attempt: _pod_name(pod))
    _timed(ProcessRuntime, "start_container", "started_c",
           lambda self, cid: self._containers[cid].sandbox.pod["metadata"]["name"])
    _timed(PodWorker, "_write_status", "status", lambda self, pod, record, final=False: _pod_name(pod),
           first=True, when=lambda result: True)


def profile(pods: int, timeout: float = 120.0) -> dict[str, Any]:
    marks.clear()
    busy.clear()
    instrument()
    with tempfile.TemporaryDirectory(prefix="minik8s-profile-") as data_dir:
        cluster = Cluster(nodes=1, runtime="process", data_dir=Path(data_dir))
        stop = threading.Event()
        begun: dict[str, float] = {}
        observed: dict[str, float] = {}
        watcher = watch_ready(cluster, begun, observed, stop)
        try:
            for i in range(pods):
                name = f"profile-{i}"
                begun[name] = time.monotonic()
                cluster.client.create(PODS, pod(name, False), "default")
                marks.setdefault(name, {})["created"] = time.monotonic()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and len(observed) < pods:
                time.sleep(0.05)
        finally:
            stop.set()
            watcher.join(2)
            cluster.stop()
    for name, seen in observed.items():
        marks.setdefault(name, {})["observed"] = seen
    rows = {}
    for stage in STAGES:
        offsets = [(marks[n][stage] - t) * 1000 for n, t in begun.items() if stage in marks.get(n, {})]
        spent = [busy[n][stage] * 1000 for n in begun if stage in busy.get(n, {})]
        rows[stage] = {"median_ms": round(statistics.median(offsets), 1) if offsets else None,
                       "max_ms": round(max(offsets), 1) if offsets else None,
                       "busy_median_ms": round(statistics.median(spent), 1) if spent else None,
                       "busy_total_ms": round(sum(spent), 1) if spent else None}
    return {"pods": pods, "stages": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = profile(args.pods)
    result["python_loop_seconds"] = python_loop_seconds()
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.pods} pod(s): ms after each pod's create request (median, slowest); busy = time inside the stage")
    print(f"{'stage':<14}{'median':>10}{'max':>10}{'busy/pod':>10}{'busy sum':>10}")
    for stage, row in result["stages"].items():
        cells = [row[k] for k in ("median_ms", "max_ms", "busy_median_ms", "busy_total_ms")]
        print(f"{stage:<14}" + "".join(f"{'-' if v is None else v:>10}" for v in cells))
    print(loop_line(result["python_loop_seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
