"""Every benchmark reports the machine's pure-Python speed beside its figures (benchmarks/machine.py).

Figures from two machines compare only through the time each takes for ``for i in range(10**7)``:
every benchmark puts it in its ``--json`` object as ``python_loop_seconds`` and in its text output.
The cheapest benchmarks are run for real, with tiny arguments, from another directory and without
PYTHONPATH (as ``python benchmarks/x.py`` is run), which also checks their ``sys.path`` lines.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = sorted(p for p in (ROOT / "benchmarks").glob("*.py") if p.name not in ("machine.py", "__init__.py"))


def run_benchmark(cwd: Path, name: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_there_are_benchmarks_to_check():
    assert {"apiserver.py", "rbac.py", "pod_startup.py", "scheduler.py"} <= {p.name for p in BENCHMARKS}


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.stem)
def test_every_benchmark_measures_the_loop_and_reports_it_under_one_key(path: Path):
    source = path.read_text()
    assert "python_loop_seconds()" in source, f"{path.name} does not time the pure-Python loop"
    assert '"python_loop_seconds"' in source or "'python_loop_seconds'" in source, \
        f"{path.name} does not report it as python_loop_seconds"


def test_every_benchmark_imports_from_any_directory(tmp_path: Path):
    """Each file's imports (benchmarks.machine among them) resolve through its own sys.path lines."""
    code = ("import runpy, sys\n"
            "for path in sys.argv[1:]:\n"
            "    runpy.run_path(path, run_name='benchmark_import_check')\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([sys.executable, "-c", code, *map(str, BENCHMARKS)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name, args", [
    ("cluster_dns.py", ["--services", "5", "--queries", "50", "--clients", "1"]),
    ("service_allocation.py", ["--services", "20"]),
], ids=["cluster_dns", "service_allocation"])
def test_a_cheap_benchmark_puts_the_loop_time_in_its_json(tmp_path: Path, name: str, args: list[str]):
    lines = run_benchmark(tmp_path, name, *args, "--json").strip().splitlines()
    figures = json.loads(lines[-1])
    seconds = figures["python_loop_seconds"]
    assert isinstance(seconds, float) and seconds > 0
    assert len(figures) > 1   # the benchmark's own figures are still there


def test_a_cheap_benchmark_prints_the_loop_time_in_its_text(tmp_path: Path):
    out = run_benchmark(tmp_path, "cluster_dns.py", "--services", "5", "--queries", "50", "--clients", "1")
    assert "queries/s over UDP" in out
    found = re.search(r"^pure-Python loop \(for i in range\(10\*\*7\)\): (\d+\.\d+) s$", out, re.MULTILINE)
    assert found, out
    assert float(found[1]) > 0


def test_the_cluster_benchmark_runs_a_tiny_cluster_of_processes_and_stops_them(tmp_path: Path):
    """Two simulated nodes, four pods, over HTTP: every figure is there, and no process is left behind."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TMPDIR"] = str(tmp_path)   # the benchmark's folder, named on its processes' command lines
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cluster.py"), "--nodes", "2", "--pods", "4",
                             "--workers", "2", "--timeout", "90", "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"nodes_ready_seconds", "pods_running_seconds", "scheduling_pods_per_second", "apiserver_rss_mib",
            "apiserver_peak_rss_mib", "python_loop_seconds"} <= set(figures)
    assert figures["nodes"] == 2 and figures["pods"] == 4
    assert figures["apiserver_rss_mib"] > 0
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert left.stdout == "", f"processes left running: {left.stdout}"
