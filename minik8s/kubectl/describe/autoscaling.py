"""``kubectl describe horizontalpodautoscaler``, laid out as upstream's ``HorizontalPodAutoscalerDescriber``.

The header, the target (``Reference``), each metric as ``current / target`` (a utilization as
``45% (45m) / 50%``, ``<unknown>`` before the first sample), the replica bounds, the ``behavior``
when one is set, ``<Kind> pods: N current / M desired``, the conditions as a table, and the events.
An autoscaling/v1 object is described from its v2 shape, as kubectl reads v2.

Interface:
    describe_hpa(client, hpa, now) -> str

No chapter teaches autoscaling yet; chapter 7 (Deployments) scales by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.api import autoscaling
from minik8s.kubectl.describe.writer import (Obj, _annotations, _labels, _meta, _spec, _status, _Writer,
                                             describe_events, rfc1123z, search_events)

UNKNOWN = "<unknown>"


def _current(statuses: list[Obj], i: int, field: str) -> Obj | None:
    """The current value of metric ``i`` if its status has the same source (upstream matches by position)."""
    if i < len(statuses) and statuses[i].get(field):
        return statuses[i][field].get("current") or {}
    return None


def _resource_line(source: Obj, current: Obj | None, container: str | None) -> tuple[str, str]:
    name, target = source.get("name", ""), source.get("target") or {}
    where = f'resource {name} of container "{container}" on pods' if container is not None else \
        f"resource {name} on pods"
    if target.get("averageValue") is not None:
        now = str(current["averageValue"]) if current and current.get("averageValue") is not None else UNKNOWN
        return f"{where}:", f"{now} / {target['averageValue']}"
    now = UNKNOWN
    if current and current.get("averageUtilization") is not None:
        now = f"{current['averageUtilization']}% ({current.get('averageValue', '0')})"
    want = f"{target['averageUtilization']}%" if target.get("averageUtilization") is not None else "<auto>"
    return f"{where}  (as a percentage of request):", f"{now} / {want}"


def _value_line(label: str, target: Obj, current: Obj | None) -> tuple[str, str]:
    field = "averageValue" if target.get("averageValue") is not None else "value"
    kind = "target average value" if field == "averageValue" else "target value"
    now = str(current[field]) if current and current.get(field) is not None else UNKNOWN
    return f"{label} ({kind}):", f"{now} / {target.get(field, '')}"


def _metric_line(metric: Obj, statuses: list[Obj], i: int) -> str:
    kind = metric.get("type", "")
    field = kind[:1].lower() + kind[1:]
    source = metric.get(field) or {}
    current = _current(statuses, i, field)
    if kind == "Resource":
        label, values = _resource_line(source, current, None)
    elif kind == "ContainerResource":
        label, values = _resource_line(source, current, source.get("container", ""))
    elif kind == "Pods":
        name = (source.get("metric") or {}).get("name", "")
        now = str(current["averageValue"]) if current and current.get("averageValue") is not None else UNKNOWN
        label, values = f'"{name}" on pods:', f"{now} / {(source.get('target') or {}).get('averageValue', '')}"
    elif kind == "Object":
        described = source.get("describedObject") or {}
        label, values = _value_line(f'"{(source.get("metric") or {}).get("name", "")}" on '
                                    f'{described.get("kind", "")}/{described.get("name", "")}',
                                    source.get("target") or {}, current)
    elif kind == "External":
        label, values = _value_line(f'"{(source.get("metric") or {}).get("name", "")}"',
                                    source.get("target") or {}, current)
    else:
        return f'<unknown metric type "{kind}">\n'
    return f"{label}\t{values}\n"


def _behavior(w: _Writer, title: str, rules: Obj | None) -> None:
    if rules is None:
        return
    w.write(1, f"{title}:\n")
    if rules.get("stabilizationWindowSeconds") is not None:
        w.write(2, f"Stabilization Window: {rules['stabilizationWindowSeconds']} seconds\n")
    if rules.get("policies"):
        w.write(2, f"Select Policy: {rules.get('selectPolicy') or 'Max'}\n")
        w.write(2, "Policies:\n")
        for policy in rules["policies"]:
            w.write(3, f"- Type: {policy.get('type', '')}\tValue: {policy.get('value', 0)}\t"
                       f"Period: {policy.get('periodSeconds', 0)} seconds\n")


def describe_hpa(client: Any, hpa: Obj, now: datetime) -> str:
    if hpa.get("apiVersion") == autoscaling.V1:
        hpa = autoscaling.to_v2(hpa)
    w, spec, status = _Writer(), _spec(hpa), _status(hpa)
    meta = _meta(hpa)
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, "Annotations", meta.get("annotations"))
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    ref = spec.get("scaleTargetRef") or {}
    w.write(0, f"Reference:\t{ref.get('kind', '')}/{ref.get('name', '')}\n")
    w.write(0, "Metrics:\t( current / target )\n")
    statuses = status.get("currentMetrics") or []
    for i, metric in enumerate(spec.get("metrics") or []):
        w.write(1, _metric_line(metric, statuses, i))
    low = spec.get("minReplicas")
    w.write(0, f"Min replicas:\t{'<unset>' if low is None else low}\n")
    w.write(0, f"Max replicas:\t{spec.get('maxReplicas', 0)}\n")
    behavior = spec.get("behavior")
    if behavior is not None:
        w.write(0, "Behavior:\n")
        _behavior(w, "Scale Up", behavior.get("scaleUp"))
        _behavior(w, "Scale Down", behavior.get("scaleDown"))
    w.write(0, f"{ref.get('kind', '')} pods:\t{status.get('currentReplicas', 0)} current / "
               f"{status.get('desiredReplicas', 0)} desired\n")
    conditions = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n")
        w.write(1, "Type\tStatus\tReason\tMessage\n")
        w.write(1, "----\t------\t------\t-------\n")
        for c in conditions:
            w.write(1, f"{c.get('type', '')}\t{c.get('status', '')}\t{c.get('reason', '')}\t{c.get('message', '')}\n")
    describe_events(w, search_events(client, hpa), now)
    return w.text()
