"""The horizontal pod autoscaler controller: change a workload's replicas to keep a metric on target.

Every 15 seconds (upstream's ``--horizontal-pod-autoscaler-sync-period``) it looks at each
``autoscaling/v2`` HorizontalPodAutoscaler, as upstream's ``HorizontalController`` does
(``pkg/controller/podautoscaler/horizontal.go``):

1. read the target's **scale subresource** (any kind with one: Deployments, ReplicaSets, StatefulSets,
   custom resources with ``scale``); failing that, ``FailedGetScale`` and ``AbleToScale`` False;
2. for each metric, read the pods' usage from ``metrics.k8s.io`` and let the replica calculator
   (:mod:`minik8s.controllers.replicacalculator`) propose a count; the largest proposal wins;
3. **stabilize**: against recent recommendations, so that a dip in load does not remove pods at once
   (without ``behavior``: the highest recommendation of the last 5 minutes,
   ``--horizontal-pod-autoscaler-downscale-stabilization``; with it, the windows it names);
4. **limit the rate**: without ``behavior``, at most double (or 4) per sync; with it, its policies
   (``Pods``/``Percent`` per ``periodSeconds``, ``selectPolicy`` Max, Min or Disabled), counted
   against the scale events of each policy's period; and clamp to ``minReplicas``..``maxReplicas``;
5. write the new ``spec.replicas`` through the scale subresource (event ``SuccessfulRescale``) and the
   status: ``currentReplicas``, ``desiredReplicas``, ``currentMetrics``, ``lastScaleTime`` and the
   conditions ``AbleToScale``, ``ScalingActive``, ``ScalingLimited`` with upstream's reasons.

Interface:
    HorizontalPodAutoscalerController      # "horizontal-pod-autoscaler" in the controller manager
    controller.metrics                     # a MetricsClient; replace it to feed metrics (tests, labs)
    MetricsClient.pod_metrics(namespace, selector) -> {pod: PodUsage}   # raises MetricsUnavailable
    ResourceMetricsClient(client)          # the default: GET /apis/metrics.k8s.io/v1beta1/.../pods
    stabilize(...), limit_by_rules(...), limit_by_behavior(...)         # the pure decision steps

Invariants: recommendations and scale events live in memory only, as upstream's (a restarted
controller forgets them); a status is written only when it changed; every decision uses the
cluster's clock, so on a virtual clock the replica counts are the same on every run.

How minik8s differs: only Resource and ContainerResource metrics are computed; Pods, Object and
External metrics need a custom or external metrics API, which minik8s does not serve, so they fail as
they do on a cluster without one.

No chapter teaches autoscaling yet; chapter 7 (Deployments) scales by hand what this scales by load.
"""

from __future__ import annotations

import functools
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Hashable, Protocol
from urllib.parse import quote

from minik8s.api import quantity, resources
from minik8s.api.objects import deep_copy
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.selectors import parse_label_selector
from minik8s.client.discovery import discover
from minik8s.clock import parse_rfc3339, rfc3339
from minik8s.controllers import replicacalculator as rc
from minik8s.controllers.controller import Context, Controller
from minik8s.controllers.replicacalculator import CalculationError, PodUsage

Obj = dict[str, Any]
HPAS = resources.get("autoscaling", "v2", "horizontalpodautoscalers")
PODS = resources.get("", "v1", "pods")
assert HPAS is not None and PODS is not None
COMPONENT = "horizontal-pod-autoscaler"

# Tunables: upstream's kube-controller-manager flags and their defaults.
SYNC_PERIOD = 15.0                   # --horizontal-pod-autoscaler-sync-period
DOWNSCALE_STABILIZATION = 300.0      # --horizontal-pod-autoscaler-downscale-stabilization (5m)
SCALE_UP_LIMIT_FACTOR = 2.0          # without behavior: at most double per sync...
SCALE_UP_LIMIT_MINIMUM = 4           # ...or go up to 4, whichever is more
MAX_METRICS_RESPONSE = 32 * 1024 * 1024   # bytes of PodMetricsList read at most
# What client-go says of a 404 for a group the server does not serve: a cluster without metrics-server.
NO_METRICS_API = ("unable to fetch metrics from resource metrics API: the server could not find the requested "
                  "resource (get pods.metrics.k8s.io)")

_WINDOW = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$")


# --- metrics -------------------------------------------------------------------------------------------------


class MetricsUnavailable(Exception):
    """The resource metrics API could not be read; the message is upstream's metrics client's."""


class MetricsClient(Protocol):
    def pod_metrics(self, namespace: str, selector: str) -> dict[str, PodUsage]: ...


def _window_seconds(text: Any) -> float:
    """A Go duration as metrics-server writes ``window`` (``30s``, ``1m0s``, ``10.5s``); 0 if unreadable."""
    match = _WINDOW.match(text) if isinstance(text, str) and len(text) < 40 else None
    if not match:
        return 0.0
    h, m, s, ms = (float(g) if g else 0.0 for g in match.groups())
    return h * 3600 + m * 60 + s + ms / 1000


def pod_usages(pod_metrics_list: Any) -> dict[str, PodUsage]:
    """A ``metrics.k8s.io/v1beta1`` PodMetricsList as the replica calculator reads it."""
    items = pod_metrics_list.get("items") if isinstance(pod_metrics_list, dict) else None
    if not isinstance(items, list):
        raise MetricsUnavailable("unable to fetch metrics from resource metrics API: malformed PodMetricsList")
    usages: dict[str, PodUsage] = {}
    for item in items:
        try:
            containers = {c["name"]: {r: quantity.milli(v) for r, v in (c.get("usage") or {}).items()}
                          for c in item.get("containers") or []}
            usages[item["metadata"]["name"]] = PodUsage(containers, parse_rfc3339(item["timestamp"]),
                                                        _window_seconds(item.get("window")))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise MetricsUnavailable(f"unable to fetch metrics from resource metrics API: {err}") from None
    return usages


class ResourceMetricsClient:
    """Reads pod metrics through the API, as upstream's resource metrics client does."""

    def __init__(self, client: Any):
        self.client = client

    def pod_metrics(self, namespace: str, selector: str) -> dict[str, PodUsage]:
        path = f"/apis/metrics.k8s.io/v1beta1/namespaces/{quote(namespace, safe='')}/pods"
        try:
            body = self.client.request("GET", path, query={"labelSelector": selector} if selector else None)
        except StatusError as err:
            if err.code != 404 or err.details:
                raise MetricsUnavailable(f"unable to fetch metrics from resource metrics API: {err.message}") from None
            raise MetricsUnavailable(NO_METRICS_API) from None   # the group is not served
        except (NotImplementedError, ConnectionError, OSError):
            raise MetricsUnavailable(NO_METRICS_API) from None
        if len(body) > MAX_METRICS_RESPONSE:
            raise MetricsUnavailable("unable to fetch metrics from resource metrics API: response too large")
        try:
            return pod_usages(json.loads(body))
        except ValueError as err:
            raise MetricsUnavailable(f"unable to fetch metrics from resource metrics API: {err}") from None


# --- the decision steps (pure) ---------------------------------------------------------------------------------


@dataclass
class Recommendation:
    replicas: int
    timestamp: float


@dataclass
class ScaleEvent:
    change: int          # pods added (in the up list) or removed (in the down list)
    timestamp: float


@dataclass(frozen=True)
class Limited:
    """A count after a limit, with the ScalingLimited reason and message that explain it."""
    replicas: int
    reason: str
    message: str


WITHIN_RANGE = ("DesiredWithinRange", "the desired count is within the acceptable range")
TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
SCALE_UP_LIMIT = ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate")
SCALE_DOWN_LIMIT = ("ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")
SCALE_UP_STABILIZED = ("ScaleUpStabilized",
                       "recent recommendations were lower than current one, applying the lowest recent recommendation")
SCALE_DOWN_STABILIZED = ("ScaleDownStabilized", "recent recommendations were higher than current one, applying the "
                         "highest recent recommendation")
READY_FOR_NEW_SCALE = ("ReadyForNewScale", "recommended size matches current size")


def _record(history: list[Recommendation], replicas: int, now: float, old_index: int | None) -> None:
    """Keep the new recommendation, reusing the slot of one that fell out of every window (as upstream)."""
    if old_index is None:
        history.append(Recommendation(replicas, now))
    else:
        history[old_index] = Recommendation(replicas, now)


def stabilize(history: list[Recommendation], desired: int, now: float,
              window: float = DOWNSCALE_STABILIZATION) -> int:
    """Upstream's ``stabilizeRecommendation`` (no ``behavior``): the highest recommendation of the last
    ``window`` seconds, this one included; records this one in ``history``."""
    cutoff = now - window
    highest, old_index = desired, None
    for i, rec in enumerate(history):
        if rec.timestamp < cutoff:
            old_index = i
        else:
            highest = max(highest, rec.replicas)
    _record(history, desired, now, old_index)
    return highest


def stabilize_with_behavior(history: list[Recommendation], current: int, desired: int, now: float,
                            up_window: float, down_window: float) -> tuple[int, str, str]:
    """Upstream's ``stabilizeRecommendationWithBehaviors``: keep ``current`` between the lowest
    recommendation of the scale-up window and the highest of the scale-down window; records ``desired``."""
    up_cutoff, down_cutoff = now - up_window, now - down_window
    up, down, old_index = desired, desired, None
    for i, rec in enumerate(history):
        if rec.timestamp > up_cutoff:
            up = min(up, rec.replicas)
        if rec.timestamp > down_cutoff:
            down = max(down, rec.replicas)
        if rec.timestamp < up_cutoff and rec.timestamp < down_cutoff:
            old_index = i
    recommendation = min(max(current, up), down)
    _record(history, desired, now, old_index)
    return (recommendation, *(SCALE_UP_STABILIZED if desired >= current else SCALE_DOWN_STABILIZED))


def limit_by_rules(current: int, desired: int, low: int, high: int) -> Limited:
    """Upstream's ``convertDesiredReplicasWithRules`` (no ``behavior``): clamp to min/max, and never more
    than double (or 4) in one step."""
    scale_up_limit = max(int(SCALE_UP_LIMIT_FACTOR * current), SCALE_UP_LIMIT_MINIMUM)
    maximum, why = (scale_up_limit, SCALE_UP_LIMIT) if high > scale_up_limit else (high, TOO_MANY)
    if desired < low:
        return Limited(low, *TOO_FEW)
    if desired > maximum:
        return Limited(maximum, *why)
    return Limited(desired, *WITHIN_RANGE)


def _changed_within(events: list[ScaleEvent], period: float, now: float) -> int:
    return sum(e.change for e in events if e.timestamp > now - period)


def _policy_limit(current: int, rules: Obj, ups: list[ScaleEvent], downs: list[ScaleEvent], now: float,
                  up: bool) -> int:
    """Upstream's ``calculateScaleUpLimitWithScalingRules`` / ``calculateScaleDownLimitWithBehaviors``: the
    furthest the policies allow from the count at the start of each policy's period."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    # Max picks the policy that allows the biggest change: the highest limit up, the lowest down.
    pick = max if (select == "Max") == up else min
    limits = []
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds") or 0)
        start = current - _changed_within(ups, period, now) + _changed_within(downs, period, now)
        value = int(policy.get("value") or 0)
        if policy.get("type") == "Pods":
            limits.append(start + value if up else start - value)
        elif up:   # rounded up, or a small percentage of a few pods would never add one
            limits.append(math.ceil(start * (1 + value / 100)))
        else:
            limits.append(int(start * (1 - value / 100)))
    if not limits:
        return current
    return pick(limits)


def limit_by_behavior(current: int, desired: int, low: int, high: int, behavior: Obj,
                      ups: list[ScaleEvent], downs: list[ScaleEvent], now: float) -> Limited:
    """Upstream's ``convertDesiredReplicasWithBehaviorRate``: the policies' rate, then min/max."""
    if desired > current:
        limit = max(_policy_limit(current, behavior.get("scaleUp") or {}, ups, downs, now, up=True), current)
        maximum, why = (limit, SCALE_UP_LIMIT) if high > limit else (high, TOO_MANY)
        if desired > maximum:
            return Limited(maximum, *why)
    elif desired < current:
        limit = min(_policy_limit(current, behavior.get("scaleDown") or {}, ups, downs, now, up=False), current)
        minimum, why = (limit, SCALE_DOWN_LIMIT) if low < limit else (low, TOO_FEW)
        if desired < minimum:
            return Limited(minimum, *why)
    return Limited(desired, *WITHIN_RANGE)


def _longest_period(rules: Obj) -> float:
    return max((float(p.get("periodSeconds") or 0) for p in rules.get("policies") or []), default=0.0)


def set_condition(status: Obj, kind: str, value: str, reason: str, message: str, now: float) -> None:
    """Upstream's ``setConditionInList``: add or update; ``lastTransitionTime`` moves only when the status does."""
    conditions = status.setdefault("conditions", [])
    found = next((c for c in conditions if c.get("type") == kind), None)
    if found is None:
        found = {"type": kind}
        conditions.append(found)
    if found.get("status") != value:
        found["lastTransitionTime"] = rfc3339(now)
    found.update(status=value, reason=reason, message=message)


def milli_quantity(milli: int) -> str:
    """A milli-value in canonical DecimalSI form, as ``resource.NewMilliQuantity`` prints: 450m, 2, 104857600, 2M."""
    if milli % 1000:
        return f"{milli}m"
    whole = milli // 1000
    for power, suffix in ((18, "E"), (15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k")):
        if whole and whole % 10**power == 0:
            return f"{whole // 10**power}{suffix}"
    return str(whole)


def _custom_metric_error(kind: str, source: Obj, namespace: str) -> str:
    """What upstream's metrics clients answer when no custom (or external) metrics API is registered, worded
    as its replica calculator wraps it (the Object wording keeps upstream's misplaced arguments)."""
    name = (source.get("metric") or {}).get("name", "")
    if kind == "External":
        return (f"unable to get external metric {namespace}/{name}/<nil>: unable to fetch metrics from external "
                "metrics API: no external metrics API (external.metrics.k8s.io) registered")
    missing = "unable to fetch metrics from custom metrics API: no custom metrics API (custom.metrics.k8s.io) registered"
    if kind == "Object":
        described = source.get("describedObject") or {}
        return f"unable to get metric {name}: {described.get('kind', '')} on {namespace} {described.get('name', '')}/{missing}"
    return f"unable to get metric {name}: {missing}"


# --- the controller ----------------------------------------------------------------------------------------


# Every sync parses each target's selector again; the texts repeat, so their parses are kept (bounded).
_parse_selector = functools.lru_cache(maxsize=4096)(parse_label_selector)


class MetricFailure(Exception):
    """One metric could not be computed. ``reason`` names the event and the ScalingActive condition,
    ``cause`` is their message; the exception's own message is the longer one errors carry."""

    def __init__(self, reason: str, message: str, cause: str):
        super().__init__(message)
        self.reason = reason
        self.cause = cause


@dataclass
class _Proposal:
    replicas: int
    metric: str
    status: Obj


class HorizontalPodAutoscalerController(Controller):
    name = COMPONENT
    watches = (HPAS,)

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.metrics: MetricsClient = ResourceMetricsClient(ctx.client)
        self.recommendations: dict[Hashable, list[Recommendation]] = {}
        self.scale_up_events: dict[Hashable, list[ScaleEvent]] = {}
        self.scale_down_events: dict[Hashable, list[ScaleEvent]] = {}
        self._registry = resources.BUILTIN
        self.informer(PODS)   # started now, so that it has caught up by the first sync

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        # Upstream adds every HPA event with the sync period's delay, and drops it if the key already waits:
        # each HPA is looked at once per period, a new one first one period after it was created.
        self.requeue_after((obj["metadata"].get("namespace", ""), obj["metadata"]["name"]), SYNC_PERIOD)
        return []

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        hpa = self.informer(HPAS).get(namespace, name)
        if hpa is None:
            for memory in (self.recommendations, self.scale_up_events, self.scale_down_events):
                memory.pop(key, None)
            return
        self.requeue_after(key, SYNC_PERIOD)
        self._reconcile(key, hpa)

    # --- one HPA ---

    def _event(self, hpa: Obj, type_: str, reason: str, message: str) -> None:
        self.ctx.recorder.event(hpa, type_, reason, message, component=COMPONENT)

    def _target_resource(self, ref: Obj) -> Resource:
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        kind = str(ref.get("kind", ""))
        for attempt in range(2):
            found = next((r for r in self._registry.resources if r.group == group and r.kind == kind), None)
            if found is not None:
                return found
            if attempt == 0:   # not built in: a custom resource? read discovery again
                self._registry = discover(self.client)
        raise LookupError(f'no matches for kind "{kind}" in group "{group}"')

    def _reconcile(self, key: Hashable, hpa: Obj) -> None:
        now = self.clock.now()
        spec, namespace = hpa.get("spec") or {}, hpa["metadata"].get("namespace", "")
        original = hpa.get("status") or {}
        status: Obj = deep_copy(original)   # never change what the informer holds
        ref = spec.get("scaleTargetRef") or {}
        reference = f"{ref.get('kind')}/{namespace}/{ref.get('name')}"
        try:
            target = self._target_resource(ref)
            scale = self.client.get(target, ref.get("name", ""), namespace, subresource="scale")
        except (LookupError, StatusError) as err:
            message = err.message if isinstance(err, StatusError) else str(err)
            self._event(hpa, "Warning", "FailedGetScale", message)
            set_condition(status, "AbleToScale", "False", "FailedGetScale",
                          f"the HPA controller was unable to get the target's current scale: {message}", now)
            self._write_status(hpa, original, status)
            return
        set_condition(status, "AbleToScale", "True", "SucceededGetScale",
                      "the HPA controller was able to get the target's current scale", now)
        current = int((scale.get("spec") or {}).get("replicas") or 0)
        self.recommendations.setdefault(key, [Recommendation(current, now)])
        low, high = int(spec.get("minReplicas") or 1), int(spec.get("maxReplicas") or 0)
        metric_statuses: list[Obj] = []
        rescale, desired, reason = True, 0, ""
        if current == 0 and low != 0:
            rescale = False
            set_condition(status, "ScalingActive", "False", "ScalingDisabled",
                          "scaling is disabled since the replica count of the target is zero", now)
        elif current > high:
            desired, reason = high, "Current number of replicas above Spec.MaxReplicas"
        elif current < low:
            desired, reason = low, "Current number of replicas below Spec.MinReplicas"
        else:
            proposal, metric_statuses, error = self._replicas_for_metrics(hpa, scale, status, now)
            if proposal is None:
                status.update(currentReplicas=current, currentMetrics=metric_statuses or None)
                self._write_status(hpa, original, status)
                self._event(hpa, "Warning", "FailedComputeMetricsReplicas",
                            f"failed to compute desired number of replicas based on listed metrics for "
                            f"{reference}: {error}")
                return
            desired = proposal.replicas
            if desired > current:
                reason = f"{proposal.metric} above target"
            elif desired < current:
                reason = "All metrics below target"
            desired = self._normalize(key, hpa, status, current, desired, low, high, now)
            rescale = desired != current
        if rescale:
            new_scale = deep_copy(scale)
            new_scale["spec"]["replicas"] = desired
            try:
                self.client.update(target, new_scale, namespace, subresource="scale")
            except StatusError as err:
                self._event(hpa, "Warning", "FailedRescale",
                            f"New size: {desired}; reason: {reason}; error: {err.message}")
                set_condition(status, "AbleToScale", "False", "FailedUpdateScale",
                              f"the HPA controller was unable to update the target scale: {err.message}", now)
                status.update(currentReplicas=current, currentMetrics=metric_statuses or None)
                self._write_status(hpa, original, status)
                return
            set_condition(status, "AbleToScale", "True", "SucceededRescale",
                          f"the HPA controller was able to update the target scale to {desired}", now)
            self._event(hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
            self._store_scale_event(key, hpa, current, desired, now)
            status["lastScaleTime"] = rfc3339(now)
        else:
            desired = current
        status.update(currentReplicas=current, desiredReplicas=desired, currentMetrics=metric_statuses or None)
        self._write_status(hpa, original, status)

    def _write_status(self, hpa: Obj, original: Obj, status: Obj) -> None:
        status = {k: v for k, v in status.items() if v is not None}
        if status == original:
            return
        new = dict(hpa)
        new["status"] = status
        try:
            self.client.update(HPAS, new, hpa["metadata"].get("namespace"), subresource="status")
        except StatusError as err:
            if err.code != 404:
                raise

    # --- metrics ---

    def _replicas_for_metrics(self, hpa: Obj, scale: Obj, status: Obj,
                              now: float) -> tuple[_Proposal | None, list[Obj], str]:
        """Upstream's ``computeReplicasForMetrics``: the largest proposal of the metrics that could be
        computed, or None (with the first error) when none could, or some failed and the rest would scale down."""
        selector_text = (scale.get("status") or {}).get("selector") or ""
        if not selector_text:
            self._event(hpa, "Warning", "SelectorRequired", "selector is required")
            set_condition(status, "ScalingActive", "False", "InvalidSelector",
                          "the HPA target's scale is missing a selector", now)
            return None, [], "selector is required"
        try:
            selector = _parse_selector(selector_text)
        except ValueError as err:
            self._event(hpa, "Warning", "InvalidSelector", f"couldn't convert selector into a corresponding internal "
                        f"selector object: {err}")
            set_condition(status, "ScalingActive", "False", "InvalidSelector",
                          f"the HPA target's scale has an invalid selector: {err}", now)
            return None, [], str(err)
        namespace = hpa["metadata"].get("namespace", "")
        pods = [p for p in self.informer(PODS).list(namespace) if selector.matches(p["metadata"].get("labels") or {})]
        specs = (hpa.get("spec") or {}).get("metrics") or []
        spec_replicas = int((scale.get("spec") or {}).get("replicas") or 0)
        statuses: list[Obj] = [{"type": ""} for _ in specs]
        best: _Proposal | None = None
        first: MetricFailure | None = None
        invalid = 0
        for i, metric in enumerate(specs):
            try:
                proposal = self._replicas_for_metric(metric, spec_replicas, namespace, selector_text, pods, now)
            except MetricFailure as failure:
                self._event(hpa, "Warning", failure.reason, failure.cause)
                if first is None:
                    first = failure
                invalid += 1
                continue
            statuses[i] = proposal.status
            if best is None or proposal.replicas > best.replicas:
                best = proposal
        error = f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: {first}" if first else ""
        if first is not None and (best is None or best.replicas < spec_replicas):
            set_condition(status, "ScalingActive", "False", first.reason,
                          f"the HPA was unable to compute the replica count: {first.cause}", now)
            return None, statuses, error
        metric = best.metric if best else ""
        set_condition(status, "ScalingActive", "True", "ValidMetricFound",
                      f"the HPA was able to successfully calculate a replica count from {metric}", now)
        return best, statuses, error

    def _replicas_for_metric(self, metric: Obj, current: int, namespace: str, selector: str, pods: list[Obj],
                             now: float) -> _Proposal:
        kind = metric.get("type")
        if kind in ("Resource", "ContainerResource"):
            field = "resource" if kind == "Resource" else "containerResource"
            source = metric.get(field) or {}
            try:
                return self._resource_proposal(kind, field, source, current, namespace, selector, pods, now)
            except (CalculationError, MetricsUnavailable) as err:
                reason = "FailedGetResourceMetric" if kind == "Resource" else "FailedGetContainerResourceMetric"
                what = "resource" if kind == "Resource" else "container resource"
                raise MetricFailure(reason, f"failed to get {source.get('name')} {what} metric value: {err}",
                                    str(err)) from None
        if kind in ("Pods", "Object", "External"):
            cause = _custom_metric_error(kind, metric.get(kind.lower()) or {}, namespace)
            raise MetricFailure(f"FailedGet{kind}Metric", f"failed to get {kind.lower()} metric value: {cause}", cause)
        cause = f'unknown metric source type "{kind}"'
        raise MetricFailure("InvalidMetricSourceType", cause, cause)

    def _resource_proposal(self, kind: str, field: str, source: Obj, current: int, namespace: str, selector: str,
                           pods: list[Obj], now: float) -> _Proposal:
        """Upstream's ``computeStatusForResourceMetricGeneric``."""
        name, container = str(source.get("name", "")), str(source.get("container", ""))
        target = source.get("target") or {}
        identity = {"name": name, **({"container": container} if kind == "ContainerResource" else {})}
        if target.get("averageValue") is not None:
            try:
                replicas, usage = rc.raw_resource_replicas(current, quantity.milli(target["averageValue"]), name,
                                                           pods, self._pod_metrics(namespace, selector, source), now)
            except CalculationError as err:
                raise CalculationError(f"failed to get {name} usage: {err}") from None
            return _Proposal(replicas, f"{name} resource",
                             {"type": kind, field: {**identity, "current": {"averageValue": milli_quantity(usage)}}})
        if target.get("averageUtilization") is None:
            raise CalculationError("invalid resource metric source: neither an average utilization target nor an "
                                   "average value (usage) target was set")
        try:
            replicas, utilization, raw = rc.resource_replicas(
                current, int(target["averageUtilization"]), name, pods, self._pod_metrics(namespace, selector, source),
                now, container=container)
        except CalculationError as err:
            raise CalculationError(f"failed to get {name} utilization: {err}") from None
        what = "resource" if kind == "Resource" else "container resource"
        current_value = {"averageUtilization": utilization, "averageValue": milli_quantity(raw)}
        return _Proposal(replicas, f"{name} {what} utilization (percentage of request)",
                         {"type": kind, field: {**identity, "current": current_value}})

    def _pod_metrics(self, namespace: str, selector: str, source: Obj) -> dict[str, rc.PodMetric]:
        """Upstream's ``GetResourceMetric``: each pod's usage of the metric's resource (and container)."""
        name = str(source.get("name", ""))
        try:
            return rc.resource_metrics(self.metrics.pod_metrics(namespace, selector), name,
                                       str(source.get("container", "")))
        except (CalculationError, MetricsUnavailable) as err:
            raise CalculationError(f"unable to get metrics for resource {name}: {err}") from None

    # --- stabilization and rate limits ---

    def _normalize(self, key: Hashable, hpa: Obj, status: Obj, current: int, desired: int, low: int, high: int,
                   now: float) -> int:
        behavior = (hpa.get("spec") or {}).get("behavior")
        history = self.recommendations.setdefault(key, [])
        if behavior is None:
            stabilized = stabilize(history, desired, now)
            why = SCALE_DOWN_STABILIZED if stabilized != desired else READY_FOR_NEW_SCALE
            limited = limit_by_rules(current, stabilized, low, high)
        else:
            up, down = behavior.get("scaleUp") or {}, behavior.get("scaleDown") or {}
            down_window = down.get("stabilizationWindowSeconds")
            stabilized, *reason = stabilize_with_behavior(
                history, current, desired, now, float(up.get("stabilizationWindowSeconds") or 0),
                DOWNSCALE_STABILIZATION if down_window is None else float(down_window))
            why = (reason[0], reason[1]) if stabilized != desired else READY_FOR_NEW_SCALE
            limited = limit_by_behavior(current, stabilized, low, high, behavior,
                                        self.scale_up_events.get(key, []), self.scale_down_events.get(key, []), now)
        set_condition(status, "AbleToScale", "True", why[0], why[1], now)
        set_condition(status, "ScalingLimited", "False" if limited.replicas == stabilized else "True",
                      limited.reason, limited.message, now)
        return limited.replicas

    def _store_scale_event(self, key: Hashable, hpa: Obj, before: int, after: int, now: float) -> None:
        """Upstream's ``storeScaleEvent``: remembered only for HPAs with ``behavior``, for their policies' periods."""
        behavior = (hpa.get("spec") or {}).get("behavior")
        if behavior is None:
            return
        up = after > before
        rules = behavior.get("scaleUp" if up else "scaleDown") or {}
        memory = self.scale_up_events if up else self.scale_down_events
        longest = _longest_period(rules)
        kept = [e for e in memory.get(key, []) if e.timestamp > now - longest]
        memory[key] = [*kept, ScaleEvent(abs(after - before), now)]

