"""Quality of Service classes: how a pod's requests and limits rank it when a node runs short.

The API server writes ``status.qosClass`` when a pod is created; the kubelet uses it to order
evictions and to set OOM scores, and ``kubectl describe`` shows it. The rules (upstream's
ComputePodQOS, applied to init and app containers alike):

* **BestEffort**: no container has a cpu or memory request or limit above zero;
* **Guaranteed**: every container has cpu and memory limits above zero, and its requests equal
  them (a request left out defaults to its limit, as the API defaults it);
* **Burstable**: everything else.

Only ``cpu`` and ``memory`` count: an ``ephemeral-storage`` request, or ``cpu: 0``, leaves a pod
BestEffort.

Interface:
    pod_qos_class(spec) -> "Guaranteed" | "Burstable" | "BestEffort"

Taught in chapter 4 (Pods: requests, limits and QoS classes).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from minik8s.api import quantity

QOS_RESOURCES = ("cpu", "memory")   # upstream's isSupportedQoSComputeResource


def _positive(values: dict[str, Any]) -> dict[str, Fraction]:
    return {name: quantity.parse(v) for name, v in values.items()
            if name in QOS_RESOURCES and quantity.is_valid(v) and quantity.parse(v) > 0}


def pod_qos_class(spec: dict[str, Any]) -> str:
    """The QoS class of a pod with this spec; see the module docstring."""
    any_set, guaranteed = False, True
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = container.get("resources") or {}
        limits = _positive(resources.get("limits") or {})
        requests = _positive({**(resources.get("limits") or {}), **(resources.get("requests") or {})})
        any_set = any_set or bool(requests or limits)
        if set(limits) != set(QOS_RESOURCES) or requests != limits:
            guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
