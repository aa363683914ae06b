"""What a sync of many HorizontalPodAutoscalers costs: one pass of the controller over N of them.

Builds an in-process cluster on a virtual clock (simulated runtime) with N Deployments of 2 pods, each
with a cpu HorizontalPodAutoscaler, spread over namespaces of 10 (as teams share a cluster), and a fake
metrics client that reports each selected pod at the target's utilization (so nothing scales and a pass
writes nothing: the steady state). Then times passes of ``reconcile`` over every key, as the 15-second
sync does: read the scale subresource, list the selected pods from the informer, fetch and group the
metrics, compute, stabilize, limit. Also times the pure decision (``resource_replicas``) alone.

    python benchmarks/hpa.py [--hpas 500] [--runs 3] [--json] [--profile]   # --profile: one more pass, profiled

Not a test: it prints figures. Most of a pass is reading each target's scale through the API server,
listing the namespace's pods from the informer and stabilizing over the kept recommendations.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import add_common_arguments, emit, median, profiled, python_loop_seconds  # noqa: E402

from minik8s.api import resources  # noqa: E402
from minik8s.api.selectors import parse_label_selector  # noqa: E402
from minik8s.cluster import Cluster  # noqa: E402
from minik8s.controllers import replicacalculator as rc  # noqa: E402
from minik8s.controllers.podautoscaler import HorizontalPodAutoscalerController  # noqa: E402
from minik8s.controllers.replicacalculator import PodUsage  # noqa: E402

PODS = resources.lookup("pods")
PER_NAMESPACE = 10
REPLICAS = 2

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i}, namespace: {ns}}}
spec:
  replicas: %d
  selector: {{matchLabels: {{app: app-{i}}}}}
  template:
    metadata: {{labels: {{app: app-{i}}}}}
    spec: {{containers: [{{name: app, image: nginx, resources: {{requests: {{cpu: 100m}}}}}}]}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: app-{i}, namespace: {ns}}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: app-{i}}}
  maxReplicas: 10
  metrics: [{{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 50}}}}}}]
""" % REPLICAS


class OnTarget:
    """Every selected pod at 50m of its 100m request: the targets' 50%. Answers from memory, as
    metrics-server does (the first answer for a selector is kept): the figure is the controller's cost."""

    def __init__(self, controller: HorizontalPodAutoscalerController, clock: Any):
        self.pods, self.clock = controller.informer(PODS), clock
        self.answers: dict[tuple[str, str], dict[str, PodUsage]] = {}

    def pod_metrics(self, namespace: str, selector: str) -> dict[str, PodUsage]:
        if (namespace, selector) not in self.answers:
            wanted, now = parse_label_selector(selector), self.clock.now()
            self.answers[namespace, selector] = {
                p["metadata"]["name"]: PodUsage({"app": {"cpu": 50}}, now - 60, 15.0)
                for p in self.pods.list(namespace) if wanted.matches(p["metadata"].get("labels") or {})}
        return self.answers[namespace, selector]


def build(c: Cluster, hpas: int) -> list[tuple[str, str]]:
    for n in range(0, hpas, PER_NAMESPACE):
        ns = f"team-{n // PER_NAMESPACE}"
        c.kubectl(f"create namespace {ns}")
        c.apply("---".join(MANIFEST.format(i=i, ns=ns) for i in range(n, min(n + PER_NAMESPACE, hpas))))
    c.advance(600)   # pods started and past their cpu initialization period; every HPA synced
    return [(f"team-{i // PER_NAMESPACE}", f"app-{i}") for i in range(hpas)]


def run(hpas: int, runs: int, profile: bool = False) -> dict[str, Any]:
    with Cluster(nodes=max(2, hpas * REPLICAS // 20), runtime="simulated", clock="virtual", seed=0) as c:
        t = time.perf_counter()
        keys = build(c, hpas)
        setup = time.perf_counter() - t
        controller = next(x for x in c.components if isinstance(x, HorizontalPodAutoscalerController))
        controller.metrics = OnTarget(controller, c.clock)
        for key in keys:   # one pass to settle the status written with these metrics
            controller.reconcile(key)
        c.run_until_stable()
        passes, cpu, writes_before = [], [], c.store.revision if hasattr(c.store, "revision") else None
        for _ in range(runs):
            t, t_cpu = time.perf_counter(), time.process_time()
            for key in keys:
                controller.reconcile(key)
            passes.append(time.perf_counter() - t)
            cpu.append(time.process_time() - t_cpu)
        if profile:   # one more pass, under the profiler (the setup is not what a pass costs)
            profiled(True, lambda: [controller.reconcile(key) for key in keys])
        writes = (c.store.revision - writes_before) if writes_before is not None else None
        replicas = {c.client.get(resources.lookup("deploy"), name, ns)["spec"]["replicas"] for ns, name in keys}
        pods = [p for p in c.client.list(PODS, keys[0][0])["items"] if p["metadata"]["labels"].get("app") == "app-0"]
        now = c.clock.now()
        metrics = {p["metadata"]["name"]: rc.PodMetric(50, now - 60, 15.0) for p in pods}
        t = time.perf_counter()
        for _ in range(hpas):
            rc.resource_replicas(REPLICAS, 50, "cpu", pods, metrics, now)
        pure = time.perf_counter() - t
    return {"hpas": hpas, "pods": hpas * REPLICAS, "namespaces": -(-hpas // PER_NAMESPACE), "runs": runs,
            "setup_seconds": round(setup, 2), "pass_ms": round(median(passes) * 1000, 2),
            "pass_ms_runs": [round(p * 1000, 2) for p in passes], "pass_cpu_ms": round(median(cpu) * 1000, 2),
            "store_writes_in_passes": writes,
            "replicas_after": sorted(replicas), "pure_decision_ms": round(pure * 1000, 2),
            "python_loop_seconds": python_loop_seconds()}


def report(figures: dict[str, Any]) -> None:
    print(f"{figures['hpas']} HorizontalPodAutoscalers over {figures['pods']} pods in {figures['namespaces']} "
          f"namespaces (set up in {figures['setup_seconds']} s)")
    print(f"one sync pass over all of them: {figures['pass_ms']} ms (median of {figures['runs']}: "
          f"{', '.join(map(str, figures['pass_ms_runs']))}), {figures['pass_cpu_ms']} ms of CPU time; "
          f"store writes during the passes: "
          f"{figures['store_writes_in_passes']}; replicas after: {figures['replicas_after']}")
    print(f"the pure decision (resource_replicas) alone, {figures['hpas']} times: {figures['pure_decision_ms']} ms")
    print(f"pure-Python loop (for i in range(10**7)): {figures['python_loop_seconds']} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hpas", type=int, default=500)
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    figures = run(args.hpas, max(args.runs, 3), args.profile)
    emit(figures, args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
