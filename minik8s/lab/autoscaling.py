"""A load generator for the autoscaling lab: CPU load on a Deployment's pods, over (virtual) time.

In the simulated runtime a container uses the CPU its pod's annotation
``sim.minik8s.io/<container>: '{"cpuMillicores": N}'`` declares; metrics-server scrapes that
every 15 s and the HorizontalPodAutoscaler reads it. A real load (the upstream walkthrough's
``while true; do wget -q -O- http://php-apache; done``) goes through a Service, which spreads the
requests over the ready pods: more pods, less load on each. :class:`LoadDriver` models exactly
that. Every ``step`` seconds it shares a *total* load evenly among the ready pods that match the
selector (re-annotating them, so new pods get their share), lets the clock move, and records a
:class:`AutoscalingSample`: the time, the total load, the HPA's current CPU utilization and the
replica count. ``viz.autoscaling_svg`` draws the samples.

Interface:
    spread_load(backend, selector, total_millicores, container) -> pods annotated
    LoadDriver(backend, deployment="web", hpa=None, container="app")
        .drive(total_millicores, seconds, step=15.0)   # records (and prints) a sample per step
        .samples, .table(), .svg(title)

``backend`` is anything with ``kubectl(args) -> KubectlResult`` and ``advance(seconds)``: a lab
:class:`~minik8s.lab.session.Session` or its backend, or ``InProcess(cluster)``. On a real cluster
``advance`` waits and the annotation changes nothing (real pods use what they use).

Taught in chapter 17 (autoscaling) and its lab.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Protocol

from minik8s.lab.session import KubectlResult, LabError

SIM_ANNOTATION = "sim.minik8s.io/"


class _Backend(Protocol):
    def kubectl(self, args: list[str], stdin: str | None = None) -> KubectlResult: ...

    def advance(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class AutoscalingSample:
    """One row of the lab's table: seconds since the driver started, the total load (millicores),
    the HPA's current average CPU utilization (percent of request; None while unknown), the
    Deployment's replicas and the utilization the HPA aims at."""

    time: float
    load: int
    utilization: int | None
    replicas: int
    target: int | None = None


def _run(backend: _Backend, args: list[str]) -> str:
    result = backend.kubectl(args)
    if not result.ok:
        raise LabError(result.err.strip() or f"kubectl {' '.join(args)} failed")
    return result.out


def _json(backend: _Backend, args: list[str]) -> dict[str, Any]:
    out = _run(backend, args + ["-o", "json"]).strip()
    return json.loads(out) if out else {}


def _ready(pod: dict[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def spread_load(backend: _Backend, selector: str, total_millicores: int, container: str = "app") -> list[str]:
    """Share ``total_millicores`` evenly (rounded down) among the ready pods matching ``selector``, as a
    Service spreads requests; returns the names of the pods annotated."""
    pods = sorted((p for p in _json(backend, ["get", "pods", "-l", selector]).get("items") or [] if _ready(p)),
                  key=lambda p: p["metadata"]["name"])
    if not pods:
        return []
    share = int(total_millicores) // len(pods)
    names = [p["metadata"]["name"] for p in pods]
    value = json.dumps({"cpuMillicores": share})
    _run(backend, ["annotate", "pod", *names, "--overwrite", f"{SIM_ANNOTATION}{container}={value}"])
    return names


def _cpu(metrics: list[dict[str, Any]], field: str) -> int | None:
    """``averageUtilization`` of the cpu Resource metric in a list of the spec's ``target`` or the
    status's ``current`` metrics."""
    for metric in metrics:
        resource = metric.get("resource") or {}
        if metric.get("type") == "Resource" and resource.get("name") == "cpu":
            value = (resource.get(field) or {}).get("averageUtilization")
            return int(value) if value is not None else None
    return None


class LoadDriver:
    """Drives a total CPU load at a Deployment's pods and records what the autoscaler does."""

    def __init__(self, backend: Any, deployment: str = "web", hpa: str | None = None, container: str = "app",
                 show: bool = True):
        self.backend: _Backend = getattr(backend, "backend", backend)   # a Session or a backend
        self.deployment = deployment
        self.hpa = hpa or deployment
        self.container = container
        self.show = show
        self.samples: list[AutoscalingSample] = []
        self.elapsed = 0.0
        self._header_shown = False

    def _selector(self) -> str:
        spec = _json(self.backend, ["get", "deployment", self.deployment]).get("spec") or {}
        labels = (spec.get("selector") or {}).get("matchLabels") or {}
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

    def sample(self, load: int) -> AutoscalingSample:
        deployment = _json(self.backend, ["get", "deployment", self.deployment])
        replicas = int((deployment.get("spec") or {}).get("replicas") or 0)
        found = self.backend.kubectl(["get", "hpa", self.hpa, "-o", "json"])
        hpa = json.loads(found.out) if found.ok and found.out.strip() else {}
        return AutoscalingSample(self.elapsed, load, _cpu((hpa.get("status") or {}).get("currentMetrics") or [], "current"),
                                 replicas, _cpu((hpa.get("spec") or {}).get("metrics") or [], "target"))

    def drive(self, total_millicores: int, seconds: float, step: float = 15.0) -> None:
        """For ``seconds`` (in steps of ``step``): spread the load, move the clock, record a sample in
        :attr:`samples` (and print it as a row of the table). Returns nothing, so that a notebook cell
        shows only the table."""
        selector = self._selector()
        for _ in range(max(1, math.ceil(seconds / step))):
            spread_load(self.backend, selector, total_millicores, self.container)
            self.backend.advance(step)
            self.elapsed += step
            sample = self.sample(total_millicores)
            self.samples.append(sample)
            if self.show:
                self._print(sample)

    @staticmethod
    def header() -> str:
        return f"{'TIME':>6}  {'LOAD':>6}  {'CPU':>5}  REPLICAS"

    @staticmethod
    def row(sample: AutoscalingSample) -> str:
        cpu = "?" if sample.utilization is None else f"{sample.utilization}%"
        return f"{sample.time:>5g}s  {sample.load:>5}m  {cpu:>5}  {sample.replicas}"

    def _print(self, sample: AutoscalingSample) -> None:
        if not self._header_shown:
            print(self.header())
            self._header_shown = True
        print(self.row(sample))

    def table(self) -> str:
        """Every sample so far, as the lab prints them."""
        return "\n".join([self.header(), *(self.row(s) for s in self.samples)])

    def svg(self, title: str | None = None) -> Any:
        from minik8s import viz

        return viz.autoscaling_svg(self.samples, title=title)
