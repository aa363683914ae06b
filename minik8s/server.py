"""``minik8s server``: a whole cluster behind the Kubernetes REST API.

Runs a :class:`minik8s.cluster.Cluster` (control plane and nodes) with the real
clock, persisted to SQLite under ``--data-dir``, and serves its API over plain
HTTP on loopback. It writes a kubeconfig context named ``minik8s`` so the real
kubectl, ``minik8s kubectl`` and the official ``kubernetes`` client can use it
at once. SIGINT or SIGTERM stops it cleanly: the HTTP server closes, the
cluster stops what it started, the database is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from aiohttp import web

from minik8s import kubeconfig
from minik8s.apiserver.http import make_app
from minik8s.cluster import Cluster
from minik8s.store import Store
from minik8s.store.sqlite import SQLiteBackend

DEFAULT_DATA_DIR = Path.home() / ".minik8s"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=6443, help="port to serve on (default 6443; 0 picks one)")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="where the cluster keeps its state")
    parser.add_argument("--nodes", type=_node_count, default=1, help="number of nodes (default 1)")
    parser.add_argument("--runtime", default="process", choices=("simulated", "process", "docker"),
                        help="container runtime (default process)")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file to write (default $KUBECONFIG or "
                                                           "~/.kube/config)")
    parser.add_argument("--seed", type=int, default=None, help="seed for generated names")


def _node_count(text: str) -> int:
    count = int(text)
    if count < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {count}")
    return count


async def _serve(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).expanduser()
    store = Store(SQLiteBackend(data_dir / "state.db"))
    try:
        cluster = Cluster(nodes=args.nodes, runtime=args.runtime, clock="real", seed=args.seed, store=store,
                          data_dir=data_dir)
    except (RuntimeError, ValueError, OSError) as exc:
        # A runtime that cannot start (no Docker engine, no rights): say why, as a command does. The
        # cluster has already stopped what it started and closed the store.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    runner = web.AppRunner(make_app(cluster.api), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    try:
        await site.start()
    except OSError as exc:
        cluster.stop()
        print(f"error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    port = runner.addresses[0][1]
    url = f"http://{args.host}:{port}"
    config_path = kubeconfig.path(args.kubeconfig)
    config = kubeconfig.add_context(kubeconfig.load(config_path), "minik8s", url)
    kubeconfig.save(config, config_path)
    print(f"minik8s is serving the Kubernetes API at {url}", flush=True)
    print(f'kubeconfig: context "minik8s" written to {config_path} and made current', flush=True)
    print("try: kubectl get ns   (or: minik8s kubectl get ns)", flush=True)

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    print("minik8s: shutting down", flush=True)
    await runner.cleanup()
    cluster.stop()
    return 0


def main(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args))
