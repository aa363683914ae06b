"""The machine's pure-Python speed, printed beside every benchmark's figures.

A figure such as "2,000 pods/s" means little without the speed of the machine that
made it: this times the bare loop ``for i in range(10**7): pass`` (the median of a
few runs, since other work may share the machine). Divide two machines' loop times
to compare their figures.

It also holds what the benchmarks' command lines share.

Interface:
    python_loop_seconds(runs=3) -> float      # seconds for the 10**7 loop, median of ``runs``
    loop_line(seconds) -> str                 # the text line that reports it
    median(values) -> float
    add_common_arguments(parser)              # --runs, --json, --profile
    profiled(enabled, work) -> work()         # with ``enabled``, the top of a cProfile on stderr
    emit(figures, as_json, report)            # one JSON object, or ``report(figures)``
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

LOOP = 10**7


def median(values: Iterable[float]) -> float:
    return statistics.median(values)  # an int stays an int when the count of values is odd


def python_loop_seconds(runs: int = 3) -> float:
    """Seconds the bare loop ``for i in range(10**7): pass`` takes here (median of ``runs``)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for _i in range(LOOP):
            pass
        times.append(time.perf_counter() - start)
    return round(median(times), 3)


def loop_line(seconds: float) -> str:
    """The line a benchmark's text output reports ``python_loop_seconds`` with."""
    return f"pure-Python loop (for i in range(10**7)): {seconds} s"


def profiled(enabled: bool, work: Callable[[], T]) -> T:
    """Run ``work``; with ``enabled``, print its 20 costliest functions (own time) on stderr."""
    if not enabled:
        return work()
    profiler = cProfile.Profile()
    result = profiler.runcall(work)
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(20)
    return result


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=1, help="repeat the measurement; the median is reported")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of the runs on stderr")


def emit(figures: dict[str, Any], as_json: bool, report: Callable[[dict[str, Any]], None]) -> None:
    if as_json:
        print(json.dumps(figures))
    else:
        report(figures)
