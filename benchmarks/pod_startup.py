"""Pod startup latency: from ``create`` to ``Ready`` on real runtimes.

Starts an in-process cluster (real clock) with the ``process`` runtime (or ``docker``),
creates N nginx pods at once, and records for each the time from its creation request
until the API first shows its ``Ready`` condition ``True``: the figure Kubernetes'
"pod startup latency" SLO bounds (p99 <= 5 s for stateless pods, image pulls excluded).
Also prints how long the cluster took to start, the memory of the cluster process
(max RSS) and of the containers (their summed RSS while all run), and the machine's pure-Python
loop time (benchmarks/machine.py), measured once the cluster has stopped.

    python benchmarks/pod_startup.py --pods 50 [--runtime process|docker] [--probe] [--json]

``--probe`` gives each pod an HTTP readiness probe (periodSeconds 1), so Ready means
"answers HTTP" rather than "process started".
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
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
        try:
            created: dict[str, float] = {}
            for i in range(args.pods):
                name = f"bench-{i}"
                created[name] = time.monotonic()
                cluster.client.create(PODS, pod(name, args.probe, args.runtime), "default")
            became_ready: dict[str, float] = {}
            deadline = time.monotonic() + args.timeout
            while len(became_ready) < args.pods and time.monotonic() < deadline:
                now = time.monotonic()
                for obj in cluster.client.list(PODS, "default")["items"]:
                    name = obj["metadata"]["name"]
                    if name in created and name not in became_ready and ready(obj):
                        became_ready[name] = now
                time.sleep(0.05)  # polling less often leaves the GIL to the cluster it measures
            containers_rss = 0
            for kubelet in cluster.kubelets:
                for stats in kubelet.stats().values():
                    containers_rss += int(stats["memory"])
        finally:
            cluster.stop()
    latencies = [became_ready[n] - created[n] for n in became_ready]
    result = {
        "runtime": args.runtime, "pods": args.pods, "ready": len(latencies), "probe": args.probe,
        "cluster_start_seconds": round(cluster_start, 3),
        "p50_seconds": round(percentile(latencies, 50), 3) if latencies else None,
        "p99_seconds": round(percentile(latencies, 99), 3) if latencies else None,
        "max_seconds": round(max(latencies), 3) if latencies else None,
        "mean_seconds": round(statistics.mean(latencies), 3) if latencies else None,
        "cluster_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "containers_rss_mib": round(containers_rss / 2**20, 1),
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
        print(f"memory             cluster process {result['cluster_max_rss_mib']} MiB max RSS, "
              f"containers {result['containers_rss_mib']} MiB RSS")
        print(loop_line(result["python_loop_seconds"]))
    return 0 if len(latencies) == args.pods else 1


if __name__ == "__main__":
    sys.exit(main())
