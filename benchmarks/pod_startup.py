"""Pod startup latency: from ``create`` to ``Ready`` on real runtimes.

Starts an in-process cluster (real clock) with the ``process`` runtime (or ``docker``),
creates N nginx pods at once, and records for each the time from its creation request
until the API first shows its ``Ready`` condition ``True``: the figure Kubernetes'
"pod startup latency" SLO bounds (p99 <= 5 s for stateless pods, image pulls excluded).
Ready is seen by a watch (on its own thread), not by listing. Also prints how long the cluster
took to start and the machine's pure-Python loop time (benchmarks/machine.py), measured once the
cluster has stopped. With the process runtime it also prints:

* **serving**: from the create request until the pod's port accepts a TCP connection (the
  benchmark dials every pod IP until it answers), and the same for **direct spawn**: the same 50
  command lines (the nginx image's program under the same Python, one port each) started straight
  from Python with ``subprocess.Popen``, until each port accepts; and the ratio of the two p99s;
* **memory** once every pod serves: the cluster process (current and max RSS: the API server,
  controllers, scheduler and kubelet share it; there is no separate supervisor process), the
  containers' own processes and the runtime's processes around them (``bwrap`` and its init), as
  RSS summed and as PSS (``/proc/PID/smaps_rollup``: shared pages divided among their users, so
  it adds up), and the direct-spawn processes' RSS and PSS for comparison.

    python benchmarks/pod_startup.py --pods 50 [--runtime process|docker] [--probe] [--json]

``--probe`` gives each pod an HTTP readiness probe (periodSeconds 1), so Ready means
"answers HTTP" rather than "process started".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import loop_line, python_loop_seconds  # noqa: E402
from minik8s import Cluster  # noqa: E402
from minik8s.api import resources  # noqa: E402

PODS = resources.by_plural("", "v1", "pods")


# No registry is reachable here: with Docker the pods run a busybox image made from this machine's
# busybox (tagged as below), since an nginx image cannot be pulled.
DOCKER_IMAGE = "busybox:latest"


def pod(name: str, probe: bool, runtime: str = "process") -> dict[str, Any]:
    container: dict[str, Any] = {"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}
    if runtime == "docker":
        container = {"name": "app", "image": DOCKER_IMAGE, "imagePullPolicy": "IfNotPresent",
                     "command": ["sh", "-c", "sleep 3600"]}
    if probe:
        container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 80}, "periodSeconds": 1}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {"containers": [container]}}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))]


def ready(obj: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def proc_kib(pid: int, field: str, name: str = "status") -> int:
    """A ``kB`` field of /proc/PID/status (``VmRSS``) or smaps_rollup (``Pss``); 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/{name}", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def memory_mib(pids: list[int]) -> dict[str, float]:
    """Summed RSS and PSS of ``pids``, MiB."""
    return {"rss": round(sum(proc_kib(p, "VmRSS") for p in pids) / 1024, 1),
            "pss": round(sum(proc_kib(p, "Pss", "smaps_rollup") for p in pids) / 1024, 1)}


def accepts(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=0.2).close()
        return True
    except OSError:
        return False


def wait_serving(addresses: dict[str, tuple[str, int]], since: dict[str, float], serving: dict[str, float],
                 deadline: float, until: Any = lambda: True) -> None:
    """Dial every address not yet serving until each accepts (or ``deadline``): ``serving[name]`` is
    the seconds from ``since[name]``. ``until()`` False: more addresses may still come."""
    while time.monotonic() < deadline:
        waiting = [n for n in addresses if n not in serving]
        if not waiting and until():
            return
        for name in waiting:
            if accepts(addresses[name]):
                serving[name] = time.monotonic() - since[name]
        time.sleep(0.02)   # dialling more often takes the CPU from what it measures


def free_ports(count: int) -> list[int]:
    """``count`` loopback ports free now (the kernel's choice: a fixed range may hold a connection's own port)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def direct_spawn(count: int, timeout: float) -> dict[str, Any]:
    """The same program the nginx pods run, started ``count`` times straight from Python, each on a port
    of its own (its sitecustomize binds 127.0.0.1): seconds from Popen until each port accepts; memory."""
    from minik8s.images import builtin

    # What the image's shim runs (minik8s.images.builtin.install_shims): the program and sitecustomize compiled.
    shims = builtin.install_shims(Path(tempfile.mkdtemp(prefix="direct-")), builtin.BUILTINS["nginx"])
    program = shims / builtin.COMPILED / "nginx.pyc"
    ports = free_ports(count)
    started: dict[str, float] = {}
    addresses: dict[str, tuple[str, int]] = {}
    processes = []
    env = {**os.environ, "PYTHONPATH": str(shims / builtin.COMPILED_SITE), "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "MINIK8S_POD_IP": "127.0.0.1"}
    serving: dict[str, float] = {}
    try:
        for i in range(count):
            name = f"direct-{i}"
            addresses[name] = ("127.0.0.1", ports[i])
            started[name] = time.monotonic()
            # The command line the image's shim runs: Python without site.
            processes.append(subprocess.Popen([sys.executable, "-S", str(program), "-g", "daemon off;"],
                                              env={**env, "NGINX_PORT": str(ports[i])}, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, start_new_session=True))
        wait_serving(addresses, started, serving, time.monotonic() + timeout)
        memory = memory_mib([p.pid for p in processes])
    finally:
        for p in processes:
            p.terminate()
        for p in processes:
            p.wait()
        shutil.rmtree(shims.parent.parent, ignore_errors=True)
    times = list(serving.values())
    return {"serving": len(times), "p50_seconds": round(percentile(times, 50), 3) if times else None,
            "p99_seconds": round(percentile(times, 99), 3) if times else None, "rss_mib": memory["rss"],
            "pss_mib": memory["pss"]}


def watch_ready(cluster: Any, created: dict[str, float], became_ready: dict[str, float],
                stop: threading.Event) -> threading.Thread:
    """A watch of the pods on its own thread: when each first shows Ready (and its pod IP)."""
    watch = cluster.client.watch(PODS, "default")
    arrived = threading.Event()
    watch.notify = arrived.set

    def run() -> None:
        while not stop.is_set():
            arrived.wait(0.5)
            arrived.clear()
            now = time.monotonic()
            for event in watch.pending():
                obj = event.get("object") or {}
                name = (obj.get("metadata") or {}).get("name", "")
                if name in created and name not in became_ready and ready(obj):
                    ips[name] = (obj.get("status") or {}).get("podIP", "")
                    became_ready[name] = now
        watch.stop()

    ips: dict[str, str] = {}
    thread = threading.Thread(target=run, name="benchmark-watch", daemon=True)
    thread.ips = ips  # type: ignore[attr-defined]
    thread.start()
    return thread


def process_memory(cluster: Any) -> dict[str, float]:
    """The containers' own processes and the runtime's around them (bwrap), RSS and PSS."""
    own: list[int] = []
    runtime_pids: list[int] = []
    for kubelet in cluster.kubelets:
        for ids in [kubelet.runtime.process_ids(c) for c in list(kubelet.runtime._containers)]:
            own += ids[0]
            runtime_pids += ids[1]
    containers, runtime = memory_mib(own), memory_mib(runtime_pids)
    return {"containers_rss_mib": containers["rss"], "containers_pss_mib": containers["pss"],
            "runtime_rss_mib": runtime["rss"], "runtime_pss_mib": runtime["pss"],
            "runtime_processes": len(runtime_pids), "container_processes": len(own)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=50)
    parser.add_argument("--runtime", default="process", choices=["process", "docker"])
    parser.add_argument("--probe", action="store_true", help="an HTTP readiness probe on every pod")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    assert PODS is not None

    with tempfile.TemporaryDirectory(prefix="minik8s-bench-") as data_dir:
        started = time.monotonic()
        if args.runtime == "docker":
            import docker

            from minik8s.kubelet.runtimes.docker import ensure_busybox_image

            ensure_busybox_image(docker.from_env(), DOCKER_IMAGE)
        cluster = Cluster(nodes=1, runtime=args.runtime, data_dir=Path(data_dir))
        for kubelet in cluster.kubelets:
            if getattr(kubelet.runtime, "client", "missing") is None:
                kubelet.runtime.client = cluster.client
        cluster_start = time.monotonic() - started
        created: dict[str, float] = {}
        became_ready: dict[str, float] = {}
        serving: dict[str, float] = {}
        memory: dict[str, Any] = {}
        stop = threading.Event()
        watcher = watch_ready(cluster, created, became_ready, stop)
        try:
            for i in range(args.pods):
                name = f"bench-{i}"
                created[name] = time.monotonic()
                cluster.client.create(PODS, pod(name, args.probe, args.runtime), "default")
            deadline = time.monotonic() + args.timeout
            if args.runtime == "process":
                runtime = cluster.kubelets[0].runtime
                addresses: dict[str, tuple[str, int]] = {}

                def all_ready() -> bool:
                    for name, ip in list(watcher.ips.items()):  # type: ignore[attr-defined]
                        addresses.setdefault(name, (ip, runtime.port_on_host(ip, 80)))
                    return len(addresses) == args.pods

                serving_since = {n: t for n, t in created.items()}
                while not all_ready() and time.monotonic() < deadline:
                    wait_serving(addresses, serving_since, serving, deadline, all_ready)
                wait_serving(addresses, serving_since, serving, deadline)
                memory = process_memory(cluster)
            while len(became_ready) < args.pods and time.monotonic() < deadline:
                time.sleep(0.05)
            if args.runtime != "process":
                memory["containers_rss_mib"] = round(sum(int(s["memory"]) for k in cluster.kubelets
                                                         for s in k.stats().values()) / 2**20, 1)
            memory["cluster_rss_mib"] = round(proc_kib(os.getpid(), "VmRSS") / 1024, 1)
            memory["cluster_pss_mib"] = round(proc_kib(os.getpid(), "Pss", "smaps_rollup") / 1024, 1)
        finally:
            stop.set()
            watcher.join(2)
            cluster.stop()
    direct = direct_spawn(args.pods, args.timeout) if args.runtime == "process" else None
    latencies = [became_ready[n] - created[n] for n in became_ready]
    served = list(serving.values())
    result = {
        "runtime": args.runtime, "pods": args.pods, "ready": len(latencies), "probe": args.probe,
        "cluster_start_seconds": round(cluster_start, 3),
        "p50_seconds": round(percentile(latencies, 50), 3) if latencies else None,
        "p99_seconds": round(percentile(latencies, 99), 3) if latencies else None,
        "max_seconds": round(max(latencies), 3) if latencies else None,
        "mean_seconds": round(statistics.mean(latencies), 3) if latencies else None,
        "cluster_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **memory,
        "serving_p50_seconds": round(percentile(served, 50), 3) if served else None,
        "serving_p99_seconds": round(percentile(served, 99), 3) if served else None,
        "direct": direct,
        "serving_p99_vs_direct": round(percentile(served, 99) / direct["p99_seconds"], 2)
        if served and direct and direct["p99_seconds"] else None,
        "slo_p99_seconds": 5.0,
        "python_loop_seconds": python_loop_seconds(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"runtime {result['runtime']}: {result['ready']}/{result['pods']} pods Ready"
              f"{' (HTTP readiness probe)' if args.probe else ''}")
        print(f"cluster start      {result['cluster_start_seconds']:.3f} s")
        print(f"create -> Ready    p50 {result['p50_seconds']} s   p99 {result['p99_seconds']} s   "
              f"max {result['max_seconds']} s   (SLO: p99 <= 5 s)")
        if direct is not None:
            print(f"create -> serving  p50 {result['serving_p50_seconds']} s   p99 {result['serving_p99_seconds']} s"
                  f"   ({len(served)} ports accepting)")
            print(f"direct spawn       p50 {direct['p50_seconds']} s   p99 {direct['p99_seconds']} s   "
                  f"(Popen -> port accepting, {direct['serving']} processes); serving p99 / direct p99 = "
                  f"{result['serving_p99_vs_direct']}")
        print(f"memory             cluster process {result['cluster_rss_mib']} MiB RSS "
              f"({result['cluster_max_rss_mib']} MiB max), {result['cluster_pss_mib']} MiB PSS; no supervisor process")
        if direct is not None:
            pods = max(1, args.pods)
            print(f"                   containers' own processes ({result['container_processes']}): "
                  f"{result['containers_rss_mib']} MiB RSS, {result['containers_pss_mib']} MiB PSS; "
                  f"runtime's processes around them (bwrap, {result['runtime_processes']}): "
                  f"{result['runtime_rss_mib']} MiB RSS, {result['runtime_pss_mib']} MiB PSS "
                  f"({result['runtime_pss_mib'] / pods:.2f} MiB PSS per pod)")
            print(f"                   direct spawn: {direct['rss_mib']} MiB RSS, {direct['pss_mib']} MiB PSS; "
                  f"total with the cluster: {result['cluster_pss_mib'] + result['containers_pss_mib'] + result['runtime_pss_mib']:.1f}"
                  " MiB PSS")
        else:
            print(f"                   containers {result['containers_rss_mib']} MiB RSS")
        print(loop_line(result["python_loop_seconds"]))
    return 0 if len(latencies) == args.pods else 1


if __name__ == "__main__":
    sys.exit(main())
