"""API server throughput and latency over HTTPS, and server start-up time.

Starts a real ``minik8s server`` (simulated runtime, no nodes, SQLite under a
temporary directory), then drives it with N concurrent aiohttp clients, each
authenticated with the admin token and trusting the cluster CA from the
kubeconfig the server wrote (as kubectl would be):

* GET one pod, LIST the pods of a namespace (100 pods), CREATE ConfigMaps;
* reports requests/s and p50/p99 latency for each, and the time from starting
  the process to the first answered ``/version``;
* the machine's pure-Python loop time (benchmarks/machine.py), measured once the server has stopped.

Usage: python benchmarks/apiserver.py [--concurrency 32] [--seconds 5] [--store sqlite|etcd] [--json]
       python benchmarks/apiserver.py --objects 100000 [--watchers 1000] [...]   # the API server holding
                                                     # many objects (benchmarks/apiserver_scale.py)
       (--store etcd starts one etcd member, its data in the temporary directory, and serves from it)
       python benchmarks/apiserver.py --rbac [...]   # GET/LIST with authentication and RBAC evaluating
                                                     # versus none (benchmarks/rbac.py)
Not a test: it prints figures. The README's performance section records them.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_etcd(data_dir: Path) -> tuple[subprocess.Popen, str]:
    """One etcd member on free loopback ports (Debian's etcd-server); its client address."""
    import urllib.request

    client, peer = free_port(), free_port()
    process = subprocess.Popen(
        ["etcd", "--data-dir", str(data_dir / "etcd"), "--listen-client-urls", f"http://127.0.0.1:{client}",
         "--advertise-client-urls", f"http://127.0.0.1:{client}", "--listen-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}", "--initial-cluster",
         f"default=http://127.0.0.1:{peer}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=1) as response:
                response.read()
            return process, f"127.0.0.1:{client}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("etcd did not start")


def start_server(data_dir: Path, port: int, *extra: str) -> tuple[subprocess.Popen, float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        # No object-count limit: the CREATE run makes tens of thousands of ConfigMaps in one namespace.
        [sys.executable, "-m", "minik8s", "server", "--port", str(port), "--nodes", "0", "--runtime", "simulated",
         "--object-count-limit", "0", *extra,
         "--data-dir", str(data_dir), "--kubeconfig", str(data_dir / "kubeconfig")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HOME": str(data_dir)},
        cwd=Path(__file__).resolve().parent.parent)   # `-m minik8s` finds the package from the checkout too
    import urllib.request

    while True:
        try:
            # /version needs no credential; the server's certificate is not trusted yet (nor needed here).
            insecure = ssl._create_unverified_context()
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/version", timeout=1, context=insecure) as response:
                response.read()
            if (data_dir / "kubeconfig").exists():   # written once the server has stored its kubernetes Service
                return process, time.perf_counter() - started
            time.sleep(0.005)
        except OSError:
            if process.poll() is not None:
                raise RuntimeError("minik8s server exited") from None
            time.sleep(0.005)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def credentials(kubeconfig: Path) -> tuple[dict[str, str], ssl.SSLContext]:
    """The admin token (as a header) and a TLS context trusting the cluster CA, from the kubeconfig."""
    config = yaml.safe_load(kubeconfig.read_text())
    ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
    return {"Authorization": f"Bearer {config['users'][0]['user']['token']}"}, ssl.create_default_context(cadata=ca)


def session(auth: tuple[dict[str, str], ssl.SSLContext], limit: int = 100) -> aiohttp.ClientSession:
    headers, context = auth
    return aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=limit, ssl=context))


async def drive(base: str, auth, concurrency: int, seconds: float, make_request) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    async with session(auth, concurrency) as session_:
        async def worker(index: int) -> None:
            nonlocal errors
            n = 0
            while time.perf_counter() < deadline:
                method, path, body = make_request(index, n)
                n += 1
                began = time.perf_counter()
                async with session_.request(method, base + path, json=body) as response:
                    await response.read()
                    if response.status >= 400:
                        errors += 1
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {"requests_per_second": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "requests": len(latencies), "errors": errors}


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27",
                                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}


async def run(concurrency: int, seconds: float, base: str, auth) -> dict[str, dict[str, float]]:
    async with session(auth) as client:
        for i in range(100):
            async with client.post(base + "/api/v1/namespaces/default/pods", json=pod(f"pod-{i}")) as response:
                assert response.status == 201, await response.text()
    results = {}
    results["get"] = await drive(base, auth, concurrency, seconds,
                                 lambda i, n: ("GET", f"/api/v1/namespaces/default/pods/pod-{(i + n) % 100}", None))
    results["list_100"] = await drive(base, auth, concurrency, seconds,
                                      lambda i, n: ("GET", "/api/v1/namespaces/default/pods", None))
    results["create"] = await drive(
        base, auth, concurrency, seconds,
        lambda i, n: ("POST", "/api/v1/namespaces/default/configmaps",
                      {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i}-{n}"},
                       "data": {"k": "v"}}))
    return results


def main() -> int:
    if "--rbac" in sys.argv[1:]:   # what authorization costs: the comparison lives in benchmarks/rbac.py
        sys.argv.remove("--rbac")
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import rbac

        return int(rbac.main())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--store", choices=("sqlite", "etcd"), default="sqlite",
                        help="the server's store: SQLite in its data directory, or an etcd started for the run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--objects", type=int, default=0,
                        help="seed this many pods and measure paged LIST, watch fan-out, label-selected LIST, "
                             "memory per object and the event loop's longest hold (benchmarks/apiserver_scale.py)")
    parser.add_argument("--watchers", type=int, default=1000, help="with --objects: concurrent watches")
    args = parser.parse_args()
    if args.objects:
        from benchmarks import apiserver_scale

        return apiserver_scale.run(args)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        etcd, extra = None, []
        if args.store == "etcd":
            etcd, address = start_etcd(Path(tmp))
            extra = ["--store", f"etcd://{address}"]
        try:
            process, startup = start_server(Path(tmp), port, *extra)
            try:
                results = asyncio.run(run(args.concurrency, args.seconds, f"https://127.0.0.1:{port}",
                                          credentials(Path(tmp) / "kubeconfig")))
            finally:
                process.terminate()
                process.wait(timeout=20)
        finally:
            if etcd is not None:
                etcd.terminate()
                etcd.wait(timeout=20)
    figures = {"concurrency": args.concurrency, "store": args.store, "startup_to_version_seconds": round(startup, 3),
               **results, "python_loop_seconds": python_loop_seconds()}
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"server start to first /version: {figures['startup_to_version_seconds']:.3f} s")
        for name in ("get", "list_100", "create"):
            r = results[name]
            print(f"{name:>9}: {r['requests_per_second']:8.1f} req/s   p50 {r['p50_ms']:6.2f} ms   "
                  f"p99 {r['p99_ms']:6.2f} ms   ({r['requests']} requests, {r['errors']} errors, "
                  f"{args.concurrency} clients)")
        print(loop_line(figures["python_loop_seconds"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
