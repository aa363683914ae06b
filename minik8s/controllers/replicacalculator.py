"""The replica calculator: how many pods a HorizontalPodAutoscaler wants, from their metrics.

The rule is one line, ``desired = ceil(current × currentMetric / target)``; the care is in which pods
count. Upstream's ``ReplicaCalculator`` (``pkg/controller/podautoscaler/replica_calculator.go``) sorts
the pods the target's selector picks into four groups before it divides:

* **ignored**: being deleted, or Failed. They take no part at all.
* **unready**: Pending, or (for cpu only) not ready yet: a pod still in its cpu initialization period
  (5 minutes from its start) whose Ready condition is False or whose metric sample was taken less than
  one metric window after Ready last changed; or a pod past that period that is not ready and never was
  (Ready went False within the initial readiness delay, 30 s, of its start). A fresh pod's cpu burst
  must not make the autoscaler add more pods.
* **missing**: no metric sample for it yet.
* **ready**: everything else; only these make the first estimate.

Then it dampens: if the ratio says *scale up*, unready pods are counted at 0 usage and missing ones at
0; if it says *scale down*, missing pods are counted at 100% of their request (or at the target, when
the target is above 100%). When this second estimate is within the tolerance, or turns the direction
round, nothing changes. A ratio within 10% of 1.0 (the tolerance) never changes anything.

Interface (pure functions: pods are API objects, metrics come from the metrics client):
    PodMetric(value, timestamp, window)       # one pod's usage in milli-units, summed over its containers
    resource_metrics(pod_usages, resource)    # PodMetricsList usages -> {pod: PodMetric} (upstream's metrics client)
    group_pods(pods, metrics, resource, now)  -> PodGroups(ready, unready, missing, ignored)
    pod_requests(pods, resource, container)   -> {pod: request in milli-units}
    resource_replicas(current, target_utilization, resource, pods, metrics, now) -> (replicas, utilization, raw)
    raw_resource_replicas(current, target_milli, resource, pods, metrics, now)   -> (replicas, average usage)
    CalculationError                          # carries upstream's message ("missing request for cpu ...")

Quantities are integers of milli-units throughout, as upstream's ``MilliValue()``; utilization is the
truncated integer percentage upstream computes, so 100m used of 300m requested is 33%, not 33.3%.

No chapter teaches autoscaling yet; chapter 7 (Deployments) scales by hand what this scales by load.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from minik8s.api import quantity
from minik8s.clock import parse_rfc3339

Obj = dict[str, Any]

# Tunables: upstream's kube-controller-manager flags and their defaults.
TOLERANCE = 0.1                      # --horizontal-pod-autoscaler-tolerance
CPU_INITIALIZATION_PERIOD = 300.0    # --horizontal-pod-autoscaler-cpu-initialization-period (5m)
INITIAL_READINESS_DELAY = 30.0       # --horizontal-pod-autoscaler-initial-readiness-delay (30s)


# Requests repeat across pods and syncs ("100m", "1"); exact parsing is slow enough to keep the results.
_milli = functools.lru_cache(maxsize=1024)(quantity.milli)


class CalculationError(Exception):
    """The replica count could not be computed; the message is upstream's, shown in events and conditions."""


@dataclass(frozen=True)
class PodMetric:
    value: int            # milli-units (millicores, or thousandths of a byte), summed over the pod's containers
    timestamp: float = 0.0
    window: float = 0.0


@dataclass
class PodGroups:
    ready: int = 0
    unready: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    ignored: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class PodUsage:
    """One PodMetrics item: each container's usage in milli-units by resource name, and when it was taken."""
    containers: Mapping[str, Mapping[str, int]]
    timestamp: float
    window: float


def resource_metrics(usages: Mapping[str, PodUsage], resource: str, container: str = "") -> dict[str, PodMetric]:
    """Upstream's metrics client ``GetResourceMetric``: each pod's usage of ``resource`` (of one container,
    if named). A pod with a container that reports no usage of the resource is left out (it is *missing*)."""
    if not usages:
        raise CalculationError("no metrics returned from resource metrics API")
    result: dict[str, PodMetric] = {}
    for pod, usage in usages.items():
        values = [c.get(resource) for name, c in usage.containers.items() if not container or name == container]
        if values and all(v is not None for v in values):
            result[pod] = PodMetric(sum(v for v in values if v is not None), usage.timestamp, usage.window)
    return result


def _condition(pod: Obj, kind: str) -> Obj | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def _time(text: Any) -> float | None:
    return parse_rfc3339(text) if isinstance(text, str) and text else None


def _unready_for_cpu(pod: Obj, metric: PodMetric, now: float, initialization: float, readiness_delay: float) -> bool:
    ready = _condition(pod, "Ready")
    started = _time((pod.get("status") or {}).get("startTime"))
    if ready is None or started is None:
        return True
    transition = _time(ready.get("lastTransitionTime")) or 0.0
    if started + initialization > now:
        # Still starting up: ignore the sample if the pod is not ready, or if a whole metric window has
        # not passed since Ready last changed (the sample may include the start-up burst).
        return ready.get("status") == "False" or metric.timestamp < transition + metric.window
    # Past start-up: ignore only a pod that is not ready and never has been since it started.
    return ready.get("status") == "False" and started + readiness_delay > transition


def group_pods(pods: list[Obj], metrics: Mapping[str, PodMetric], resource: str, now: float,
               initialization: float = CPU_INITIALIZATION_PERIOD,
               readiness_delay: float = INITIAL_READINESS_DELAY) -> PodGroups:
    """Upstream's ``groupPods``: sort pods into ready (counted), unready, missing and ignored."""
    groups = PodGroups()
    for pod in pods:
        name = pod["metadata"]["name"]
        phase = (pod.get("status") or {}).get("phase")
        if pod["metadata"].get("deletionTimestamp") or phase == "Failed":
            groups.ignored.add(name)
        elif phase == "Pending":
            groups.unready.add(name)
        elif name not in metrics:
            groups.missing.add(name)
        elif resource == "cpu" and _unready_for_cpu(pod, metrics[name], now, initialization, readiness_delay):
            groups.unready.add(name)
        else:
            groups.ready += 1
    return groups


def pod_requests(pods: list[Obj], resource: str, container: str = "") -> dict[str, int]:
    """Upstream's ``calculatePodRequests``: each pod's request of ``resource`` in milli-units, over its
    containers and its restartable (sidecar) init containers. Any container without the request is an error."""
    requests: dict[str, int] = {}
    for pod in pods:
        spec = pod.get("spec") or {}
        containers = list(spec.get("containers") or []) + [
            c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
        total = 0
        for c in containers:
            if container and c.get("name") != container:
                continue
            request = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if request is None:
                raise CalculationError(f"missing request for {resource} in container {c.get('name')} "
                                       f"of Pod {pod['metadata']['name']}")
            total += _milli(request)
        requests[pod["metadata"]["name"]] = total
    return requests


def utilization_ratio(metrics: Mapping[str, PodMetric], requests: Mapping[str, int],
                      target: int) -> tuple[float, int, int]:
    """Upstream's ``GetResourceUtilizationRatio``: (usage ratio, utilization %, average raw usage), over the
    pods that have both a sample and a request."""
    used = requested = counted = 0
    for pod, metric in metrics.items():
        if pod in requests:
            used += metric.value
            requested += requests[pod]
            counted += 1
    if requested == 0:
        raise CalculationError("no metrics returned matched known pods")
    utilization = used * 100 // requested   # integer percent, truncated as upstream's int32 division
    return utilization / target, utilization, used // counted


def usage_ratio(metrics: Mapping[str, PodMetric], target: int) -> tuple[float, int]:
    """Upstream's ``GetMetricUsageRatio``: (usage ratio, average usage) against an average-value target."""
    average = sum(m.value for m in metrics.values()) // len(metrics)
    return average / target, average


def _within(ratio: float, tolerance: float) -> bool:
    return abs(1.0 - ratio) <= tolerance


def _turns_round(before: float, after: float) -> bool:
    """The second estimate points the other way than the first: then keep the current count."""
    return (before < 1.0 < after) or (before > 1.0 > after)


def _counted_pods(pods: list[Obj], metrics: Mapping[str, PodMetric], resource: str,
                  now: float) -> tuple[PodGroups, dict[str, PodMetric]]:
    """The pods' groups and the samples that count: those of ready pods only."""
    if not pods:
        raise CalculationError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, resource, now)
    counted = {pod: m for pod, m in metrics.items() if pod not in groups.ignored and pod not in groups.unready}
    if not counted:
        raise CalculationError("did not receive metrics for targeted pods (pods might be unready)")
    return groups, counted


def resource_replicas(current: int, target_utilization: int, resource: str, pods: list[Obj],
                      metrics: Mapping[str, PodMetric], now: float, *, container: str = "",
                      tolerance: float = TOLERANCE) -> tuple[int, int, int]:
    """Upstream's ``GetResourceReplicas`` against a Utilization target (percent of request):
    (desired replicas, utilization %, average usage in milli-units). ``pods`` are those the selector picks."""
    groups, counted = _counted_pods(pods, metrics, resource, now)
    requests = pod_requests(pods, resource, container)
    ratio, utilization, raw = utilization_ratio(counted, requests, target_utilization)
    up_with_unready = bool(groups.unready) and ratio > 1.0
    if not up_with_unready and not groups.missing:
        if _within(ratio, tolerance):
            return current, utilization, raw
        return math.ceil(ratio * groups.ready), utilization, raw
    if groups.missing:
        if ratio < 1.0:   # scaling down: a pod we cannot see may be busy; assume its whole request (or the target)
            fallback = max(100, target_utilization)
            counted.update({pod: PodMetric(requests[pod] * fallback // 100) for pod in groups.missing})
        elif ratio > 1.0:   # scaling up: assume it idle
            counted.update({pod: PodMetric(0) for pod in groups.missing})
    if up_with_unready:
        counted.update({pod: PodMetric(0) for pod in groups.unready})
    new_ratio, _, _ = utilization_ratio(counted, requests, target_utilization)
    if _within(new_ratio, tolerance) or _turns_round(ratio, new_ratio):
        return current, utilization, raw
    desired = math.ceil(new_ratio * len(counted))
    if (new_ratio < 1.0 and desired > current) or (new_ratio > 1.0 and desired < current):
        return current, utilization, raw
    return desired, utilization, raw


def raw_resource_replicas(current: int, target_milli: int, resource: str, pods: list[Obj],
                          metrics: Mapping[str, PodMetric], now: float, *,
                          tolerance: float = TOLERANCE) -> tuple[int, int]:
    """Upstream's ``GetRawResourceReplicas`` (``calcPlainMetricReplicas``) against an AverageValue target:
    (desired replicas, average usage in milli-units)."""
    groups, counted = _counted_pods(pods, metrics, resource, now)
    ratio, usage = usage_ratio(counted, target_milli)
    up_with_unready = bool(groups.unready) and ratio > 1.0
    if not up_with_unready and not groups.missing:
        if _within(ratio, tolerance):
            return current, usage
        return math.ceil(ratio * groups.ready), usage
    if groups.missing:
        assumed = target_milli if ratio < 1.0 else 0
        counted.update({pod: PodMetric(assumed) for pod in groups.missing})
    if up_with_unready:
        counted.update({pod: PodMetric(0) for pod in groups.unready})
    new_ratio, _ = usage_ratio(counted, target_milli)
    if _within(new_ratio, tolerance) or _turns_round(ratio, new_ratio):
        return current, usage
    return math.ceil(new_ratio * len(counted)), usage
