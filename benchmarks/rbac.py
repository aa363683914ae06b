"""What authorization costs: GET and LIST throughput with RBAC evaluating versus no authorization work.

Starts a real ``minik8s server`` (simulated runtime, no nodes, SQLite in a
temporary directory) with one extra static token, for the user ``bench-viewer``,
bound to the bootstrap ClusterRole ``view`` by a RoleBinding in ``default``.
Then, over the same HTTPS connection set-up, it drives GET one pod and LIST 100
pods as:

* ``admin``  — the cluster admin, in ``system:masters``: authenticated, but RBAC
  allows it without looking at a single binding;
* ``viewer`` — ``bench-viewer``: RBAC walks the ClusterRoleBindings and the
  RoleBindings of ``default`` (once per distinct request; then its decision cache);

and finally against a second server started with ``--insecure`` (plain HTTP, no
credential, no authentication at all), for scale. The runs as admin and as viewer
alternate, twice, to cancel drift; the best of each is reported, with the
viewer's slowdown relative to admin (the aim: under 15 %). On a shared machine the
HTTP figures swing by tens of percent from run to run, so it also times one RBAC
decision in process, from the cache and evaluated afresh: the steady measure of
what authorization adds to a request. The machine's pure-Python loop time
(benchmarks/machine.py) is printed beside the figures, measured after them.

Usage: python benchmarks/rbac.py [--concurrency 16] [--seconds 3] [--json]
Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from apiserver import credentials, drive, free_port, pod, session  # noqa: E402  (the house benchmark's helpers)

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402

VIEWER_TOKEN = "bench-viewer-token-0123456789abcdef"
GROUP = "rbac.authorization.k8s.io"


def start(data_dir: Path, port: int, *extra: str) -> subprocess.Popen:
    """A server on ``port``; returns once ``/version`` answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "minik8s", "server", "--port", str(port), "--nodes", "0", "--runtime", "simulated",
         "--data-dir", str(data_dir), "--kubeconfig", str(data_dir / "kubeconfig"), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HOME": str(data_dir)},
        cwd=Path(__file__).resolve().parent.parent)   # `-m minik8s` finds the package from the checkout too
    scheme = "http" if "--insecure" in extra else "https"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/version", timeout=1,
                                        context=ssl._create_unverified_context()) as response:
                response.read()
            return process
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("minik8s server exited") from None
            time.sleep(0.02)
    process.kill()
    raise RuntimeError("minik8s server did not answer /version")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=20)


def add_viewer_token(data_dir: Path) -> None:
    """A static token row for bench-viewer (no groups but system:authenticated, added by the server)."""
    with (data_dir / "pki" / "tokens.csv").open("a") as handle:
        handle.write(f'{VIEWER_TOKEN},bench-viewer,bench-viewer,""\n')


async def populate(base: str, auth: Any, bind_viewer: bool) -> None:
    async with session(auth) as client:
        for i in range(100):
            async with client.post(base + "/api/v1/namespaces/default/pods", json=pod(f"pod-{i}")) as response:
                assert response.status == 201, await response.text()
        if bind_viewer:
            binding = {"apiVersion": f"{GROUP}/v1", "kind": "RoleBinding",
                       "metadata": {"name": "bench-view", "namespace": "default"},
                       "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"},
                       "subjects": [{"apiGroup": GROUP, "kind": "User", "name": "bench-viewer"}]}
            async with client.post(base + f"/apis/{GROUP}/v1/namespaces/default/rolebindings",
                                   json=binding) as response:
                assert response.status == 201, await response.text()


async def measure(base: str, auth: Any, concurrency: int, seconds: float) -> dict[str, dict[str, float]]:
    get = await drive(base, auth, concurrency, seconds,
                      lambda i, n: ("GET", f"/api/v1/namespaces/default/pods/pod-{(i + n) % 100}", None))
    listing = await drive(base, auth, concurrency, seconds, lambda i, n: ("GET", "/api/v1/namespaces/default/pods", None))
    return {"get": get, "list_100": listing}


def best(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {op: max((r[op] for r in runs), key=lambda f: f["requests_per_second"]) for op in ("get", "list_100")}


def secure_runs(concurrency: int, seconds: float, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir, port = Path(tmp), free_port()
        stop(start(data_dir, port))          # first start writes the PKI and the admin token
        add_viewer_token(data_dir)
        process = start(data_dir, port)
        try:
            base = f"https://127.0.0.1:{port}"
            admin = credentials(data_dir / "kubeconfig")
            viewer = ({"Authorization": f"Bearer {VIEWER_TOKEN}"}, admin[1])
            asyncio.run(populate(base, admin, bind_viewer=True))
            runs: dict[str, list[dict[str, dict[str, float]]]] = {"admin": [], "viewer": []}
            for _ in range(rounds):
                for who, auth in (("admin", admin), ("viewer", viewer)):
                    runs[who].append(asyncio.run(measure(base, auth, concurrency, seconds)))
        finally:
            stop(process)
    return {who: best(r) for who, r in runs.items()}


def insecure_run(concurrency: int, seconds: float) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        process = start(Path(tmp), port, "--insecure")
        try:
            base, auth = f"http://127.0.0.1:{port}", ({}, None)
            asyncio.run(populate(base, auth, bind_viewer=False))
            return asyncio.run(measure(base, auth, concurrency, seconds))
        finally:
            stop(process)


def decision_costs(n: int = 20000) -> dict[str, float]:
    """In-process: microseconds per RBAC decision for bench-viewer, from the cache and evaluated afresh
    (bootstrap policy plus the one RoleBinding). Steadier than HTTP figures on a busy machine."""
    from minik8s.api import resources
    from minik8s.apiserver.apiserver import APIServer
    from minik8s.apiserver.auth.authentication import User
    from minik8s.apiserver.auth.requestinfo import RequestInfo

    api = APIServer()
    api.create(resources.get(GROUP, "v1", "rolebindings"), "default", {
        "apiVersion": f"{GROUP}/v1", "kind": "RoleBinding", "metadata": {"name": "bench-view", "namespace": "default"},
        "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "view"},
        "subjects": [{"apiGroup": GROUP, "kind": "User", "name": "bench-viewer"}]})
    viewer = User("bench-viewer", groups=("system:authenticated",))
    info = RequestInfo("/api/v1/namespaces/default/pods", "list", True, "", "v1", "default", "pods")
    assert api.rbac.decide(viewer, info)[0]
    began = time.perf_counter()
    for _ in range(n):
        api.rbac.decide(viewer, info)
    cached = (time.perf_counter() - began) / n
    began = time.perf_counter()
    for _ in range(n // 10):
        api.rbac._cache.clear()   # evaluate every time: the walk over the bindings and rules
        api.rbac.decide(viewer, info)
    fresh = (time.perf_counter() - began) / (n // 10)
    return {"cached_us": round(cached * 1e6, 2), "evaluated_us": round(fresh * 1e6, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2, help="alternating admin/viewer rounds")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures: dict[str, Any] = {"concurrency": args.concurrency, **secure_runs(args.concurrency, args.seconds, args.rounds),
                               "insecure": insecure_run(args.concurrency, args.seconds)}
    figures["decision"] = decision_costs()
    figures["viewer_slowdown_percent"] = {
        op: round(100 * (1 - figures["viewer"][op]["requests_per_second"]
                         / figures["admin"][op]["requests_per_second"]), 1) for op in ("get", "list_100")}
    figures["python_loop_seconds"] = python_loop_seconds()
    if args.json:
        print(json.dumps(figures))
        return 0
    for who in ("insecure", "admin", "viewer"):
        for op in ("get", "list_100"):
            r = figures[who][op]
            print(f"{who:>8} {op:>8}: {r['requests_per_second']:8.1f} req/s   p50 {r['p50_ms']:6.2f} ms   "
                  f"p99 {r['p99_ms']:6.2f} ms   ({r['requests']} requests, {r['errors']} errors)")
    d = figures["decision"]
    print(f"one RBAC decision in process: {d['cached_us']:.2f} us from the cache, {d['evaluated_us']:.2f} us evaluated")
    slow = figures["viewer_slowdown_percent"]
    print(f"viewer (RBAC evaluates) slower than admin (system:masters) by: GET {slow['get']:+.1f} %, "
          f"LIST {slow['list_100']:+.1f} % (negative: faster; {args.concurrency} clients, HTTPS, best of "
          f"{args.rounds} alternating rounds)")
    print(loop_line(figures["python_loop_seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
