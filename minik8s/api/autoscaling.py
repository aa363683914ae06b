"""autoscaling/v1 HorizontalPodAutoscalers: the autoscaling/v2 ones in their older shape.

Kubernetes serves HorizontalPodAutoscalers in two versions and stores one (``autoscaling/v2``). The v1
shape knows one metric only, ``spec.targetCPUUtilizationPercentage`` and
``status.currentCPUUtilizationPercentage``; what it has no field for travels in annotations, so that
a v2 object read and written back through v1 loses nothing (upstream's
``pkg/apis/autoscaling/v1/conversion.go``):

    autoscaling.alpha.kubernetes.io/metrics          the metrics other than a cpu utilization target
    autoscaling.alpha.kubernetes.io/current-metrics  every current metric (status)
    autoscaling.alpha.kubernetes.io/behavior         spec.behavior
    autoscaling.alpha.kubernetes.io/conditions       status.conditions

(each a JSON list or object, in the v1 field names: ``targetAverageUtilization``, ``currentAverageValue``...).
Written back through v1, the annotations become fields again and are removed.

Interface:
    to_v1(v2_hpa) -> autoscaling/v1 HorizontalPodAutoscaler     # copies; the input is never modified
    to_v2(v1_hpa) -> autoscaling/v2 HorizontalPodAutoscaler

Invariant: ``to_v2(to_v1(h))`` equals ``h`` up to the order of its metrics (upstream puts the cpu
utilization metric after the others).

Taught alongside the horizontal pod autoscaler (:mod:`minik8s.controllers.podautoscaler`).
"""

from __future__ import annotations

import json
from typing import Any

from minik8s.api.objects import deep_copy

Obj = dict[str, Any]
GROUP = "autoscaling"
V1, V2 = "autoscaling/v1", "autoscaling/v2"
METRICS = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS = "autoscaling.alpha.kubernetes.io/current-metrics"
BEHAVIOR = "autoscaling.alpha.kubernetes.io/behavior"
CONDITIONS = "autoscaling.alpha.kubernetes.io/conditions"

# v2 MetricTarget / MetricValueStatus field -> v1 field, by metric type (a prefix of "target" or "current").
_TARGET = {"averageUtilization": "AverageUtilization", "averageValue": "AverageValue", "value": "Value"}


def _is_cpu_utilization(metric: Obj) -> bool:
    resource = metric.get("resource") or {}
    return (metric.get("type") == "Resource" and resource.get("name") == "cpu"
            and (resource.get("target") or {}).get("averageUtilization") is not None)


def _source_field(kind: str) -> str:
    return kind[0].lower() + kind[1:] if kind else ""


def _flatten(values: Obj, prefix: str) -> Obj:
    """v2's ``target: {averageValue: 1}`` as v1's ``targetAverageValue: 1``."""
    return {prefix + _TARGET[k]: v for k, v in values.items() if k in _TARGET}


def _nest(source: Obj, prefix: str, kind: str) -> Obj:
    """The inverse of :func:`_flatten`; a target also gets its ``type``."""
    values = {k: source[prefix + v] for k, v in _TARGET.items() if prefix + v in source}
    if prefix == "target":
        values = {"type": "Utilization" if "averageUtilization" in values else
                  "AverageValue" if "averageValue" in values else "Value", **values}
    return values


def _metric_to_v1(metric: Obj, prefix: str) -> Obj:
    """One v2 MetricSpec (``prefix="target"``) or MetricStatus (``"current"``) in v1's shape."""
    kind = str(metric.get("type", ""))
    field = _source_field(kind)
    source = metric.get(field) or {}
    values = _flatten(source.get(prefix) or {}, prefix)
    if kind in ("Resource", "ContainerResource"):
        body = {k: source[k] for k in ("name", "container") if k in source}
    else:   # Pods, Object, External: the metric's name and selector sit beside the values in v1
        ident = source.get("metric") or {}
        body = {"metricName": ident.get("name", "")}
        if ident.get("selector") is not None:
            body["metricSelector" if kind == "External" else "selector"] = ident["selector"]
        if kind == "Object":
            body["target"] = source.get("describedObject") or {}
    return {"type": kind, field: {**body, **values}}


def _metric_to_v2(metric: Obj, prefix: str) -> Obj:
    kind = str(metric.get("type", ""))
    field = _source_field(kind)
    source = metric.get(field) or {}
    if kind in ("Resource", "ContainerResource"):
        body = {k: source[k] for k in ("name", "container") if k in source}
    else:
        ident = {"name": source.get("metricName", "")}
        selector = source.get("metricSelector" if kind == "External" else "selector")
        if selector is not None:
            ident["selector"] = selector
        body = {"metric": ident}
        if kind == "Object":
            body["describedObject"] = source.get("target") or {}
    return {"type": kind, field: {**body, prefix: _nest(source, prefix, kind)}}


def _loads(text: Any) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def to_v1(hpa: Obj) -> Obj:
    """An autoscaling/v2 HorizontalPodAutoscaler in the autoscaling/v1 shape."""
    out = deep_copy(hpa)
    out["apiVersion"] = V1
    spec, status = out.get("spec") or {}, out.get("status") or {}
    annotations: Obj = {}
    metrics = spec.pop("metrics", None) or []
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"]["averageUtilization"]
    others = [_metric_to_v1(m, "target") for m in metrics if m is not cpu]
    if others:
        annotations[METRICS] = json.dumps(others, separators=(",", ":"))
    behavior = spec.pop("behavior", None)
    if behavior is not None:
        annotations[BEHAVIOR] = json.dumps(behavior, separators=(",", ":"))
    current = status.pop("currentMetrics", None) or []
    for metric in current:
        resource = metric.get("resource") or {}
        utilization = (resource.get("current") or {}).get("averageUtilization")
        if metric.get("type") == "Resource" and resource.get("name") == "cpu" and utilization is not None:
            status["currentCPUUtilizationPercentage"] = utilization
    if current:
        annotations[CURRENT_METRICS] = json.dumps([_metric_to_v1(m, "current") for m in current],
                                                  separators=(",", ":"))
    conditions = status.pop("conditions", None)
    if conditions:
        annotations[CONDITIONS] = json.dumps(conditions, separators=(",", ":"))
    if annotations:
        meta = out.setdefault("metadata", {})
        meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
    return out


def to_v2(hpa: Obj) -> Obj:
    """An autoscaling/v1 HorizontalPodAutoscaler in the autoscaling/v2 shape (the inverse of :func:`to_v1`)."""
    out = deep_copy(hpa)
    out["apiVersion"] = V2
    meta = out.get("metadata") if isinstance(out.get("metadata"), dict) else {}
    annotations = dict(meta.get("annotations") or {})
    spec = out.get("spec") if isinstance(out.get("spec"), dict) else None
    status = out.get("status") if isinstance(out.get("status"), dict) else None
    if spec is not None:
        metrics = []
        others = _loads(annotations.pop(METRICS, None))
        if isinstance(others, list):
            metrics += [_metric_to_v2(m, "target") for m in others if isinstance(m, dict)]
        target = spec.pop("targetCPUUtilizationPercentage", None)
        if target is not None:
            metrics.append({"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}})
        # v1 once left its default target to the controller; the conversion makes it explicit, as upstream's does.
        spec["metrics"] = metrics or [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]
        behavior = _loads(annotations.pop(BEHAVIOR, None))
        if isinstance(behavior, dict):
            spec["behavior"] = behavior
    if status is not None:
        utilization = status.pop("currentCPUUtilizationPercentage", None)
        if utilization is not None:
            status["currentMetrics"] = [{"type": "Resource", "resource": {
                "name": "cpu", "current": {"averageUtilization": utilization}}}]
        current = _loads(annotations.pop(CURRENT_METRICS, None))
        if isinstance(current, list):   # the annotation holds every current metric: it wins
            status["currentMetrics"] = [_metric_to_v2(m, "current") for m in current if isinstance(m, dict)]
        conditions = _loads(annotations.pop(CONDITIONS, None))
        if isinstance(conditions, list):
            status["conditions"] = conditions
    else:
        for key in (CURRENT_METRICS, CONDITIONS):
            annotations.pop(key, None)
    if "annotations" in meta:
        if annotations:
            meta["annotations"] = annotations
        else:
            del meta["annotations"]
    return out
