"""Requests per second and latency through the ingress controller, against the same pod reached directly.

Starts ``minik8s server --runtime process`` in a temporary folder (the ingress controller on a free
port), runs one nginx pod (the built-in image) behind a Service and an Ingress for ``bench.example``,
then drives both paths with N concurrent aiohttp clients (keep-alive) for a few seconds each:

* **direct**: ``GET /`` to the pod's own address;
* **ingress**: ``GET /`` to the ingress controller with ``Host: bench.example`` (one more hop: the proxy
  matches the route, picks the endpoint, streams the answer back).

Reports requests/s and p50/p99 latency of each, and what the ingress adds to p99, next to the
machine's pure-Python speed (:mod:`machine`).

    python benchmarks/ingress.py [--concurrency 16] [--seconds 5] [--runs 1] [--json]

Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

from machine import add_common_arguments, emit, median, profiled, python_loop_seconds

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = [
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
     "spec": {"containers": [{"name": "nginx", "image": "nginx", "ports": [{"containerPort": 80}],
                              "readinessProbe": {"httpGet": {"path": "/", "port": 80}, "periodSeconds": 1}}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
     "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "bench"},
     "spec": {"rules": [{"host": "bench.example", "http": {"paths": [
         {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}},
]


def start_server(folder: Path) -> tuple[subprocess.Popen[str], dict[str, str], int]:
    env = {**os.environ, "HOME": str(folder), "KUBECONFIG": str(folder / "kubeconfig")}
    process = subprocess.Popen([sys.executable, "-m", "minik8s", "server", "--port", "0", "--runtime", "process",
                                "--ingress-http-port", "0", "--ingress-https-port", "0",
                                "--data-dir", str(folder / "data"), "--kubeconfig", str(folder / "kubeconfig")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    assert process.stdout is not None
    for line in process.stdout:
        if "ingress controller (class minik8s) serving http://" in line:
            return process, env, int(line.split("http://")[1].split(":")[1].split()[0])
    raise RuntimeError("minik8s server did not start its ingress controller")


def kubectl(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "minik8s", "kubectl", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=120, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"kubectl {' '.join(args)}: {done.stderr}")
    return done.stdout


def pod_address(env: dict[str, str]) -> str:
    """The pod's endpoint as the proxy reaches it (its IP, port 80 or 8080 when low ports are shifted)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = json.loads(kubectl(env, "get", "pod", "web", "-o", "json")).get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if ready and status.get("podIP"):
            for port in (80, 8080):
                try:
                    urllib.request.urlopen(f"http://{status['podIP']}:{port}/", timeout=2).read()
                    return f"http://{status['podIP']}:{port}/"
                except OSError:
                    continue
        time.sleep(0.5)
    raise RuntimeError("the nginx pod did not become ready")


async def drive(url: str, host: str | None, concurrency: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    headers = {"Host": host} if host else {}
    stop = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < stop:
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"requests_per_second": round(len(latencies) / elapsed, 1),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
            "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2), "errors": errors}


def measure(concurrency: int, seconds: float, runs: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="minik8s-bench-ingress-") as folder:
        process, env, ingress_port = start_server(Path(folder))
        try:
            for manifest in MANIFEST:
                kubectl(env, "apply", "-f", "-", stdin=json.dumps(manifest))
            direct_url = pod_address(env)
            ingress_url = f"http://127.0.0.1:{ingress_port}/"
            deadline = time.monotonic() + 30
            while asyncio.run(drive(ingress_url, "bench.example", 1, 0.2))["errors"] and time.monotonic() < deadline:
                time.sleep(0.5)   # until the controller has the endpoint
            direct = [asyncio.run(drive(direct_url, None, concurrency, seconds)) for _ in range(runs)]
            ingress = [asyncio.run(drive(ingress_url, "bench.example", concurrency, seconds)) for _ in range(runs)]
        finally:
            process.terminate()
            process.wait(timeout=30)
    pick = {key: median(r[key] for r in direct) for key in direct[0]}
    through = {key: median(r[key] for r in ingress) for key in ingress[0]}
    return {"concurrency": concurrency, "seconds": seconds, "direct": pick, "ingress": through,
            "added_p99_ms": round(float(through["p99_ms"]) - float(pick["p99_ms"]), 2),
            "python_loop_seconds": python_loop_seconds()}


def report(figures: dict[str, object]) -> None:
    print(f"ingress benchmark: {figures['concurrency']} concurrent clients, {figures['seconds']} s per run")
    for name in ("direct", "ingress"):
        f = figures[name]
        assert isinstance(f, dict)
        print(f"  {name:8} {f['requests_per_second']:>9} req/s   p50 {f['p50_ms']} ms   p99 {f['p99_ms']} ms"
              f"   errors {f['errors']}")
    print(f"  the ingress adds {figures['added_p99_ms']} ms to p99")
    print(f"  machine: for i in range(10**7): pass takes {figures['python_loop_seconds']} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    add_common_arguments(parser)
    args = parser.parse_args()
    figures = profiled(args.profile, lambda: measure(args.concurrency, args.seconds, args.runs))
    emit(figures, args.json, report)


if __name__ == "__main__":
    main()
