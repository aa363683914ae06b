"""Port-forward throughput and connection latency, through a real ``kubectl port-forward``.

Starts ``minik8s server --runtime process`` in a temporary folder, runs a TCP echo
server in a pod (the built-in python image), and forwards a local port to it with the
real kubectl (SPDY inside a WebSocket; ``kubectl-spdy``: a plain SPDY/3.1 upgrade) or
``minik8s kubectl`` (one channel WebSocket per connection). Then measures:

* **throughput**: MiB per second of a large body sent and echoed back on one connection;
* **connections**: the time from connect to the first echoed byte, over many connections
  one after another (each is a new stream pair, or a new WebSocket);
* **concurrent**: several connections each echoing a body at the same time;
* the machine's pure-Python loop time (benchmarks/machine.py), once the server has stopped.

    python benchmarks/portforward.py [--client kubectl|kubectl-spdy|minik8s] [--mib 64] [--connections 200]
                                     [--concurrent 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402

ECHO = """\
import socketserver, threading
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        while chunk := self.request.recv(262144):
            self.request.sendall(chunk)
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer(("0.0.0.0", 9000), Echo).serve_forever()
"""

POD = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "echo"}, "spec": {"containers": [{
    "name": "echo", "image": "python", "command": ["python3", "-c", ECHO],
    "readinessProbe": {"tcpSocket": {"port": 9000}, "periodSeconds": 1}}]}})


def start_server(folder: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = {**os.environ, "HOME": str(folder), "KUBECONFIG": str(folder / "kubeconfig")}
    process = subprocess.Popen([sys.executable, "-m", "minik8s", "server", "--port", "0", "--runtime", "process",
                                "--data-dir", str(folder / "data"), "--kubeconfig", str(folder / "kubeconfig")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    assert process.stdout is not None
    for line in process.stdout:
        if "serving the Kubernetes API" in line:
            return process, env
    raise RuntimeError("minik8s server did not start")


def forward(env: dict[str, str], client: str) -> tuple[subprocess.Popen[str], int]:
    command = ["kubectl"] if client != "minik8s" else [sys.executable, "-m", "minik8s", "kubectl"]
    # kubectl's switch for SPDY inside a WebSocket (its default since v1.31) or a plain SPDY upgrade.
    env = {**env, "KUBECTL_PORT_FORWARD_WEBSOCKETS": "false" if client == "kubectl-spdy" else "true"}
    process = subprocess.Popen([*command, "port-forward", "pod/echo", ":9000"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.match(r"Forwarding from 127\.0\.0\.1:(\d+)", line)
    if not found:
        raise RuntimeError(f"port-forward did not start: {line!r}")
    threading.Thread(target=lambda: [None for _ in process.stdout or []], daemon=True).start()
    return process, int(found[1])


def echo(port: int, size: int) -> float:
    """Send ``size`` bytes and read them back; returns the seconds it took."""
    body = os.urandom(1 << 20) * max(1, size >> 20) if size >= 1 << 20 else os.urandom(size)
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        sender = threading.Thread(target=conn.sendall, args=(body,))
        sender.start()
        got = 0
        while got < len(body):
            chunk = conn.recv(1 << 18)
            if not chunk:
                raise RuntimeError("connection closed early")
            got += len(chunk)
        sender.join()
    return time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--client", choices=("kubectl", "kubectl-spdy", "minik8s"), default="kubectl")
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        server, env = start_server(Path(tmp))
        try:
            subprocess.run(["kubectl", "apply", "-f", "-"], input=POD, text=True, env=env, check=True,
                           capture_output=True)
            subprocess.run(["kubectl", "wait", "--for=condition=Ready", "pod/echo", "--timeout=60s"], env=env,
                           check=True, capture_output=True)
            pf, port = forward(env, args.client)
            try:
                echo(port, 1024)   # warm up: the first connection pays for discovery and the session
                seconds = echo(port, args.mib << 20)
                latencies = [echo(port, 64) * 1000 for _ in range(args.connections)]
                results: list[float] = []
                threads = [threading.Thread(target=lambda: results.append(echo(port, 8 << 20)))
                           for _ in range(args.concurrent)]
                started = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                concurrent_seconds = time.perf_counter() - started
            finally:
                pf.terminate()
                pf.wait()
        finally:
            server.terminate()
            server.wait()
    figures = {
        "client": args.client,
        "throughput_mib_per_s": round(args.mib / seconds, 1),
        "connections": args.connections,
        "connect_echo_ms_p50": round(statistics.median(latencies), 2),
        "connect_echo_ms_p99": round(percentile(latencies, 99), 2),
        "concurrent_connections": args.concurrent,
        "concurrent_mib_per_s": round(args.concurrent * 8 / concurrent_seconds, 1),
        "python_loop_seconds": python_loop_seconds(),
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(f"port-forward through {args.client}:")
    print(f"  one connection, {args.mib} MiB echoed: {figures['throughput_mib_per_s']} MiB/s each way")
    print(f"  {args.connections} connections one after another, connect to first echo: "
          f"p50 {figures['connect_echo_ms_p50']} ms, p99 {figures['connect_echo_ms_p99']} ms")
    print(f"  {args.concurrent} connections at once, 8 MiB each: {figures['concurrent_mib_per_s']} MiB/s in total")
    print(f"  {loop_line(figures['python_loop_seconds'])}")


if __name__ == "__main__":
    main()
