"""The API server holding many objects: ``python benchmarks/apiserver.py --objects 100000``.

A first child process seeds a server's SQLite store (in a temporary directory) straight
through the store with N pods, each a copy of one pod created through the API (so defaulted
and validated as any other): 10,000 of them (or N when smaller) in the namespace ``labels``,
50 of those labelled ``tier=chosen``, the rest in ``bulk``. A second opens that store as
``minik8s server`` does after a restart (every object loaded into the tables LIST and WATCH
read), builds an API server over it, serves the API over plain HTTP (no TLS, no
authentication: the figures are the API server's, not the handshake's) and runs a ticker on
its event loop that records how late each 5 ms tick fires: the longest the loop was held by
anything (a request, many requests ready at once, or a garbage collection).

The parent process drives it with aiohttp and prints:

* memory per stored object: the server's RSS growth while loading the store, less the objects' JSON;
* a full LIST of all pods paged 500 at a time (``limit=500`` and ``continue``), in seconds (the client
  decodes each page's list metadata, not its items: a Python client's JSON decoding is not the server's time);
* the same LIST unpaged (kubectl's ``--chunk-size=0``), in seconds;
* 1,000 concurrent watches of one namespace, each receiving each of 3 writes: the latency
  from sending the write to each watcher's receipt of its event (p50/p99 over all receipts; the loop's
  longest hold is measured over the writes, not while the 1,000 watches connect);
* a label-selected LIST (50 of 10,000 in a namespace) from 32 clients: req/s, p50/p99;
* the longest the server's event loop was held, and the CPU time the server used, over each phase.

Usage: python benchmarks/apiserver.py --objects 100000 [--watchers 1000] [--concurrency 32]
       [--seconds 5] [--json]
Not a test: it prints figures. The README's performance section records them.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import emit, loop_line, python_loop_seconds  # noqa: E402

LABELLED = 10_000   # pods in the namespace the label-selected LIST reads
CHOSEN = 50         # of which this many carry tier=chosen
TICK = 0.005        # the event loop's ticker period, seconds


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def seed(data_dir: str, objects: int) -> None:
    """N pods into a server's SQLite store, straight through the store (a process of its own)."""
    from minik8s.api import resources
    from minik8s.apiserver.apiserver import APIServer
    from minik8s.store import open_store

    api = APIServer(open_store(None, Path(data_dir), None))
    pods = resources.get("", "v1", "pods")
    namespaces = resources.get("", "v1", "namespaces")
    for name in ("bulk", "labels", "fanout"):
        api.create(namespaces, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    template = api.create(pods, "bulk", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "template", "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27",
                                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}})
    api.store.delete(("pods", "bulk", "template"))
    for key in ("resourceVersion", "uid"):
        template["metadata"].pop(key, None)
    labelled = min(LABELLED, objects)
    for i in range(objects):
        meta = dict(template["metadata"])
        namespace = "labels" if i < labelled else "bulk"
        meta.update(name=f"pod-{i:06d}", namespace=namespace, uid=f"00000000-0000-4000-8000-{i:012d}")
        if i < labelled and i % (labelled // CHOSEN or 1) == 0:
            meta["labels"] = {"app": "bench", "tier": "chosen"}
        api.store.create(("pods", namespace, meta["name"]), {**template, "metadata": meta})
    api.store.close()


def load(data_dir: str) -> tuple[Any, dict[str, Any]]:
    """An API server over the seeded store, as ``minik8s server`` opens it; the memory the objects take."""
    from minik8s.apiserver.apiserver import APIServer
    from minik8s.store import open_store

    gc.collect()
    before = rss_bytes()
    store = open_store(None, Path(data_dir), None)
    grown = rss_bytes() - before
    pods = store.entries("pods")[0]
    json_bytes = sum(len(entry.raw) for _, entry in pods)
    objects = len(pods)
    return APIServer(store), {"objects": objects, "json_bytes_per_object": round(json_bytes / objects),
                              "rss_growth_bytes_per_object": round(grown / objects),
                              "memory_beyond_json_bytes_per_object": round((grown - json_bytes) / objects)}


def serve(data_dir: str, pipe: Any, held: Any) -> None:
    """The child: load, serve, tick; ``held`` (a shared double) is the longest tick lateness seen."""
    from aiohttp import web

    from minik8s.apiserver import filters
    from minik8s.apiserver.http import make_app

    api, seeded = load(data_dir)

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + TICK
            await asyncio.sleep(TICK)
            late = loop.time() - expected
            if late > held.value:
                held.value = late

    async def main() -> None:
        app = make_app(api, filters.Policy.insecure(frozenset({"127.0.0.1", "localhost"})))
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        asyncio.get_running_loop().create_task(ticker())
        pipe.send({**seeded, "port": runner.addresses[0][1]})
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)   # until the parent is done
        await runner.cleanup()

    asyncio.run(main())


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


async def paged_list(client: aiohttp.ClientSession, base: str, limit: int) -> tuple[float, int]:
    began, count, token = time.perf_counter(), 0, ""
    while True:
        query = f"?limit={limit}" + (f"&continue={quote(token)}" if token else "") if limit else ""
        async with client.get(f"{base}/api/v1/pods{query}") as response:
            body = await response.read()
            assert response.status == 200, body[:500]
        # Only the list's metadata is decoded (a Python client's JSON decoding of the items, about 30 ms per
        # 1 MB page here, is not the server's time); the items are counted by their kind.
        head, _, items = body.partition(b',"items":[')
        count += items.count(b'"kind":"Pod","metadata":')
        token = orjson.loads(head + b"}")["metadata"].get("continue", "")
        if not token:
            return time.perf_counter() - began, count


def fan_out(port: int, watchers: int, writes: int, held: Any) -> list[float]:
    """``watchers`` watches of one namespace; each of ``writes`` creations reaches all of them. The watches are
    plain sockets polled together (so a receipt is timed when its bytes arrive, not when a Python client gets
    round to parsing them). The event loop's longest hold is measured over the writes, not the connecting."""
    import selectors
    import socket
    import threading
    import urllib.request

    def call(method: str, path: str, body: bytes | None = None) -> bytes:
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.read()

    revision = orjson.loads(call("GET", "/api/v1/namespaces/fanout/pods"))["metadata"]["resourceVersion"]
    request = (f"GET /api/v1/namespaces/fanout/pods?watch=1&resourceVersion={revision} HTTP/1.1\r\n"
               "Host: 127.0.0.1\r\n\r\n").encode()
    poller = selectors.DefaultSelector()
    streams = []
    try:
        for _ in range(watchers):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(request)
            streams.append(sock)
        for sock in streams:   # every watch is registered once its headers are back
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(65536)
            assert head.startswith(b"HTTP/1.1 200"), head[:200]
            sock.setblocking(False)
            poller.register(sock, selectors.EVENT_READ)
        latencies: list[float] = []
        for n in range(writes):
            if not n:
                held.value = 0.0
            body = orjson.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"fan-{n}"},
                                 "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}})
            sent = time.perf_counter()
            writer = threading.Thread(target=call, args=("POST", "/api/v1/namespaces/fanout/pods", body))
            writer.start()
            waiting = set(streams)
            while waiting:
                ready = poller.select(timeout=30)
                assert ready, f"{len(waiting)} watchers got nothing"
                now = time.perf_counter()
                for key, _ in ready:
                    data = key.fileobj.recv(65536)   # type: ignore[union-attr]
                    assert b'"ADDED"' in data, data[:200]
                    if key.fileobj in waiting:
                        waiting.discard(key.fileobj)   # type: ignore[arg-type]
                        latencies.append(now - sent)
            writer.join()
        figures_held = held.value
    finally:
        for sock in streams:
            sock.close()
        poller.close()
    held.value = figures_held
    return latencies


async def label_list(base: str, concurrency: int, seconds: float) -> dict[str, Any]:
    url = f"{base}/api/v1/namespaces/labels/pods?labelSelector={quote('tier=chosen')}"
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as client:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                async with client.get(url) as response:
                    body = await response.read()
                    if response.status != 200 or body.count(b'"tier":"chosen"') != CHOSEN:
                        errors += 1
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {"requests_per_second": round(len(latencies) / elapsed, 1), "p50_ms": _ms(_percentile(latencies, 0.5)),
            "p99_ms": _ms(_percentile(latencies, 0.99)), "requests": len(latencies), "errors": errors}


def cpu_seconds(pid: int) -> float:
    """The CPU time (user and system) a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(base: str, held: Any, args: Any, pid: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    used = cpu_seconds(pid)

    def phase_held(name: str) -> None:
        nonlocal used
        figures.setdefault("loop_held_ms", {})[name] = _ms(held.value)
        held.value = 0.0
        now = cpu_seconds(pid)
        figures.setdefault("server_cpu_seconds", {})[name] = round(now - used, 3)
        used = now

    held.value = 0.0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:
        seconds, count = await paged_list(client, base, 500)
        figures["paged_list"] = {"seconds": round(seconds, 3), "items": count, "page": 500}
        phase_held("paged_list")
        seconds, count = await paged_list(client, base, 0)
        figures["unpaged_list"] = {"seconds": round(seconds, 3), "items": count}
        phase_held("unpaged_list")
        latencies = await asyncio.to_thread(fan_out, int(base.rsplit(":", 1)[1]), args.watchers, 3, held)
        figures["watch_fan_out"] = {"watchers": args.watchers, "receipts": len(latencies),
                                    "p50_ms": _ms(_percentile(latencies, 0.5)),
                                    "p99_ms": _ms(_percentile(latencies, 0.99))}
        phase_held("watch_fan_out")
    figures["label_list"] = {"concurrency": args.concurrency, "selected": CHOSEN, "of": min(LABELLED, args.objects),
                             **await label_list(base, args.concurrency, args.seconds)}
    phase_held("label_list")
    figures["loop_held_ms"]["max"] = max(figures["loop_held_ms"].values())
    return figures


def run(args: Any) -> int:
    context = multiprocessing.get_context("fork")
    held = context.Value("d", 0.0, lock=False)
    ours, theirs = context.Pipe()
    data_dir = tempfile.mkdtemp(prefix="apiserver-scale-")
    seeding = context.Process(target=seed, args=(data_dir, args.objects))
    seeding.start()
    seeding.join()
    child = context.Process(target=serve, args=(data_dir, theirs, held), daemon=True)
    child.start()
    try:
        seeded = ours.recv()
        base = f"http://127.0.0.1:{seeded.pop('port')}"
        figures = {"memory": seeded, **asyncio.run(drive(base, held, args, child.pid))}
    finally:
        ours.send("stop")
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    figures["python_loop_seconds"] = python_loop_seconds()
    emit(figures, args.json, report)
    return 0


def report(figures: dict[str, Any]) -> None:
    m, held, p, u, w, s = (figures[k] for k in ("memory", "loop_held_ms", "paged_list", "unpaged_list",
                                                "watch_fan_out", "label_list"))
    for line in (
            f"objects stored: {m['objects']}; JSON {m['json_bytes_per_object']} B each; server memory beyond it: "
            f"{m['memory_beyond_json_bytes_per_object']} B per object (RSS growth {m['rss_growth_bytes_per_object']} B)",
            f"full LIST paged {p['page']} at a time: {p['seconds']:.3f} s for {p['items']} pods",
            f"full LIST unpaged: {u['seconds']:.3f} s for {u['items']} pods",
            f"watch fan-out to {w['watchers']} watchers: p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms over "
            f"{w['receipts']} receipts",
            f"label-selected LIST ({s['selected']} of {s['of']}): {s['requests_per_second']} req/s, p50 "
            f"{s['p50_ms']} ms, p99 {s['p99_ms']} ms ({s['requests']} requests, {s['errors']} errors, "
            f"{s['concurrency']} clients; the server's CPU: "
            f"{1000 * figures['server_cpu_seconds']['label_list'] / max(s['requests'], 1):.2f} ms per request)",
            "longest the event loop was held: " + ", ".join(f"{k} {v} ms" for k, v in held.items()),
            loop_line(figures["python_loop_seconds"])):
        print(line)
