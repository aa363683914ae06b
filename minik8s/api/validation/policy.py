"""PodDisruptionBudget validation (upstream ``pkg/apis/policy/validation``).

A budget names the pods it protects with ``spec.selector`` and how many of them
may be down at once with *at most one* of ``minAvailable`` / ``maxUnavailable``
(each an int or a percentage, neither negative nor over 100%). Setting neither is
valid upstream (the budget then protects nothing). ``unhealthyPodEvictionPolicy``
is ``IfHealthyBudget`` or ``AlwaysAllow``.

Interface:
    _pod_disruption_budget(obj) -> Errors

How minik8s differs: when both bounds are set upstream prints the whole spec
struct with Go pointer addresses in the message; minik8s prints the same shape
with the addresses left as ``0x0`` (addresses are random upstream anyway).

Taught in chapter 11 (Scheduling: voluntary disruptions, cordon and drain).
"""

from __future__ import annotations

from minik8s.api.errors import not_supported
from minik8s.api.validation.fields import Errors, Obj, _invalid, _map, _validate_selector_syntax
from minik8s.api.validation.workloads import _over_100_percent, _percent_or_int

UNHEALTHY_POLICIES = ("AlwaysAllow", "IfHealthyBudget")


def _pointer(spec: Obj, key: str, go_type: str) -> str:
    return f"(*{go_type})({'0x0' if spec.get(key) is not None else 'nil'})"


def _pod_disruption_budget(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    errs: Errors = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        shown = ("policy.PodDisruptionBudgetSpec{"
                 f"MinAvailable:{_pointer(spec, 'minAvailable', 'intstr.IntOrString')}, "
                 f"Selector:{_pointer(spec, 'selector', 'v1.LabelSelector')}, "
                 f"MaxUnavailable:{_pointer(spec, 'maxUnavailable', 'intstr.IntOrString')}, "
                 "UnhealthyPodEvictionPolicy:"
                 f"{_pointer(spec, 'unhealthyPodEvictionPolicy', 'policy.UnhealthyPodEvictionPolicyType')}}}")
        errs.append(_invalid("spec", shown, "minAvailable and maxUnavailable cannot be both set"))
    for key in ("minAvailable", "maxUnavailable"):
        if spec.get(key) is not None:
            errs += _percent_or_int(spec[key], f"spec.{key}") + _over_100_percent(spec[key], f"spec.{key}")
    errs += _validate_selector_syntax(spec.get("selector"), "spec.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in UNHEALTHY_POLICIES:
        errs.append(not_supported("spec.unhealthyPodEvictionPolicy", policy, UNHEALTHY_POLICIES))
    return errs
