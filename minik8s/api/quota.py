"""Quota accounting: what an object counts towards a ResourceQuota, and whether a quota applies.

Shared by the ResourceQuota admission plugin (:mod:`minik8s.apiserver.admission.resourcequota`),
which charges each write, and the quota controller (:mod:`minik8s.controllers.resourcequota`),
which recounts ``status.used``; both must count alike, so the counting lives here, pure.

A pod counts ``pods`` and ``count/pods`` (unless it has finished: ``Succeeded`` or
``Failed``), its requests as ``requests.<name>`` (``cpu`` and ``memory`` too) and its limits
as ``limits.<name>``: the sum over its containers, or its largest init container when that
is more. A Service counts ``services``, ``services.nodeports`` (one per port of a NodePort
or LoadBalancer Service) and ``services.loadbalancers``; a claim ``persistentvolumeclaims``
and ``requests.storage`` (also per storage class:
``<class>.storageclass.storage.k8s.io/requests.storage``); any object ``count/<resource>.<group>``.

Interface:
    usage_of(resource, obj) -> {name: Fraction}   # what one object counts
    matches_scopes(quota, resource, obj) -> bool  # scopes and scopeSelector (pods only)
    tracked(hard) -> [Resource]                   # which resources a quota's hard names count
    compute_used(quota, objects_by_resource) -> {name: str}   # status.used, formatted
    validate_quota(obj) -> [FieldError]           # spec.hard, spec.scopes and spec.scopeSelector
    fmt(name, amount) -> str                      # a quantity as upstream prints it
    amount_of(value) -> Fraction                  # a quantity's exact value (0 if it does not parse)
    pod_totals(pod, "requests"|"limits") -> {name: Fraction}

Taught in the chapter on namespaces and quotas, and chapter 16 (the classroom quota).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Iterable

from minik8s.api import quantity
from minik8s.api import resources as api_resources
from minik8s.api.errors import FieldError, invalid_value, not_supported, required
from minik8s.api.resources import Resource

Obj = dict[str, Any]

RESOURCEQUOTAS = api_resources.get("", "v1", "resourcequotas")
PODS = api_resources.get("", "v1", "pods")
SERVICES = api_resources.get("", "v1", "services")
CLAIMS = api_resources.get("", "v1", "persistentvolumeclaims")

SCOPES = ("BestEffort", "NotBestEffort", "Terminating", "NotTerminating", "PriorityClass")
# What a pod-scoped quota may track (upstream's podObjectCountName and compute resources).
POD_RESOURCES = frozenset({"pods", "count/pods", "cpu", "memory", "ephemeral-storage", "requests.cpu",
                           "requests.memory", "requests.ephemeral-storage", "limits.cpu", "limits.memory",
                           "limits.ephemeral-storage"})
# Resources a pod must name in every container when a quota tracks them (upstream's validation set).
MUST_SPECIFY = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})
# Plain names that count objects of a core resource.
_PLAIN_COUNTS = {"pods": "pods", "services": "services", "configmaps": "configmaps", "secrets": "secrets",
                 "persistentvolumeclaims": "persistentvolumeclaims",
                 "replicationcontrollers": "replicationcontrollers", "resourcequotas": "resourcequotas"}
_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"


# --- quantities ---------------------------------------------------------------------------

def fmt(name: str, amount: Fraction) -> str:
    """A quantity as upstream prints it: cpu in cores or millicores, bytes in binary units
    when they divide evenly, counts as integers."""
    if amount.denominator != 1:
        return quantity.format_milli(math.ceil(amount * 1000))
    whole = int(amount)
    if any(word in name for word in ("memory", "storage")):
        return quantity.format_bytes(whole)
    return str(whole)


def amount_of(value: Any) -> Fraction:
    try:
        return quantity.parse(value)
    except (ValueError, TypeError):
        return Fraction(0)


# --- usage of one object ------------------------------------------------------------------

def _is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def pod_totals(pod: Obj, key: str) -> dict[str, Fraction]:
    """The pod's requests or limits: the sum over its containers, or the largest init container
    if that is more (init containers run one at a time, before the others)."""
    spec = pod.get("spec") or {}
    total: dict[str, Fraction] = {}
    for container in spec.get("containers") or []:
        for name, value in ((container.get("resources") or {}).get(key) or {}).items():
            total[name] = total.get(name, Fraction(0)) + amount_of(value)
    for container in spec.get("initContainers") or []:
        for name, value in ((container.get("resources") or {}).get(key) or {}).items():
            total[name] = max(total.get(name, Fraction(0)), amount_of(value))
    for name, value in (spec.get("overhead") or {}).items():
        total[name] = total.get(name, Fraction(0)) + amount_of(value)
    return total


def pod_usage(pod: Obj) -> dict[str, Fraction]:
    if _is_terminal(pod):
        return {}
    usage = {"pods": Fraction(1), "count/pods": Fraction(1)}
    for name, amount in pod_totals(pod, "requests").items():
        usage[f"requests.{name}"] = amount
        if name in ("cpu", "memory", "ephemeral-storage"):
            usage[name] = amount
    for name, amount in pod_totals(pod, "limits").items():
        usage[f"limits.{name}"] = amount
    return usage


def _service_usage(svc: Obj) -> dict[str, Fraction]:
    spec = svc.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    usage = {"services": Fraction(1), "count/services": Fraction(1),
             "services.loadbalancers": Fraction(1 if kind == "LoadBalancer" else 0),
             "services.nodeports": Fraction(0)}
    if kind in ("NodePort", "LoadBalancer"):
        usage["services.nodeports"] = Fraction(len(spec.get("ports") or []))
    return usage


def _claim_usage(claim: Obj) -> dict[str, Fraction]:
    spec = claim.get("spec") or {}
    storage = amount_of(((spec.get("resources") or {}).get("requests") or {}).get("storage", 0))
    usage = {"persistentvolumeclaims": Fraction(1), "count/persistentvolumeclaims": Fraction(1),
             "requests.storage": storage}
    storage_class = spec.get("storageClassName")
    if storage_class:
        usage[f"{storage_class}{_CLASS_SUFFIX}persistentvolumeclaims"] = Fraction(1)
        usage[f"{storage_class}{_CLASS_SUFFIX}requests.storage"] = storage
    return usage


def usage_of(resource: Resource, obj: Obj) -> dict[str, Fraction]:
    """What one object counts towards a quota (every name it could be tracked under)."""
    if resource.qualified == "pods":
        return pod_usage(obj)
    if resource.qualified == "services":
        return _service_usage(obj)
    if resource.qualified == "persistentvolumeclaims":
        return _claim_usage(obj)
    usage = {f"count/{resource.qualified}": Fraction(1)}
    if resource.qualified in _PLAIN_COUNTS:
        usage[resource.qualified] = Fraction(1)
    return usage


def resource_of(name: str) -> Resource | None:
    """The resource a quota's hard name counts: ``pods`` → pods, ``count/deployments.apps`` → deployments."""
    if name in POD_RESOURCES or name.startswith(("requests.", "limits.")) and name != "requests.storage":
        return PODS
    if name.startswith("services"):
        return SERVICES
    if name in ("persistentvolumeclaims", "requests.storage") or _CLASS_SUFFIX in name:
        return CLAIMS
    if name in _PLAIN_COUNTS:
        return api_resources.get("", "v1", name)
    if name.startswith("count/"):
        plural, _, group = name[len("count/"):].partition(".")
        for res in api_resources.RESOURCES:
            if res.plural == plural and res.group == group and res.namespaced:
                return res
    return None


def tracked(hard: Iterable[str]) -> list[Resource]:
    """The resources whose objects a quota with these hard names counts (each once, in order)."""
    found: list[Resource] = []
    for name in hard:
        res = resource_of(name)
        if res is not None and res not in found:
            found.append(res)
    return found


# --- scopes -------------------------------------------------------------------------------

def _best_effort(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = container.get("resources") or {}
        if resources.get("requests") or resources.get("limits"):
            return False
    return True


def _terminating(pod: Obj) -> bool:
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    return deadline is not None and deadline >= 0


def _in_scope(scope: str, pod: Obj) -> bool:
    return {"BestEffort": _best_effort(pod), "NotBestEffort": not _best_effort(pod),
            "Terminating": _terminating(pod), "NotTerminating": not _terminating(pod)}.get(scope, False)


def _expressions(quota: Obj) -> list[Obj]:
    """The plain scopes (each an ``Exists``) and the scopeSelector's expressions."""
    spec = quota.get("spec") or {}
    plain = [{"scopeName": scope, "operator": "Exists"} for scope in spec.get("scopes") or []]
    return plain + list((spec.get("scopeSelector") or {}).get("matchExpressions") or [])


def _matches(expr: Obj, pod: Obj) -> bool:
    scope, operator = expr.get("scopeName", ""), expr.get("operator", "")
    if scope == "PriorityClass":
        name = (pod.get("spec") or {}).get("priorityClassName") or ""
        return {"In": name in (expr.get("values") or []), "NotIn": name not in (expr.get("values") or []),
                "Exists": bool(name), "DoesNotExist": not name}.get(operator, False)
    return _in_scope(scope, pod) == (operator != "DoesNotExist")


def matches_scopes(quota: Obj, resource: Resource, obj: Obj) -> bool:
    """Whether the quota applies to this object: a scoped quota counts pods only."""
    expressions = _expressions(quota)
    if not expressions:
        return True
    if resource.qualified != "pods":
        return False
    return all(_matches(expr, obj) for expr in expressions)


# --- status -------------------------------------------------------------------------------

def compute_used(quota: Obj, objects: dict[Resource, list[Obj]]) -> dict[str, str]:
    """``status.used``: for each hard name, the sum over the matching objects, formatted."""
    hard = (quota.get("spec") or {}).get("hard") or {}
    totals = {name: Fraction(0) for name in hard}
    for resource, items in objects.items():
        for obj in items:
            if not matches_scopes(quota, resource, obj):
                continue
            for name, amount in usage_of(resource, obj).items():
                if name in totals:
                    totals[name] += amount
    return {name: fmt(name, amount) for name, amount in totals.items()}


def _scopes_invalid(scopes: list[str], detail: str) -> FieldError:
    """Upstream reports the whole scope list, printed the Go way (``[]core.ResourceQuotaScope{"X"}``)."""
    shown = ", ".join(f'"{scope}"' for scope in scopes)
    return FieldError("spec.scopes", "FieldValueInvalid",
                      f"Invalid value: []core.ResourceQuotaScope{{{shown}}}: {detail}")


def _selector_errors(selector: Obj) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        path = f"spec.scopeSelector.matchExpressions[{i}]"
        scope, operator, values = expr.get("scopeName", ""), expr.get("operator", ""), expr.get("values") or []
        if scope not in SCOPES:
            errs.append(not_supported(f"{path}.scopeName", scope, SCOPES))
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            errs.append(not_supported(f"{path}.operator", operator, ("DoesNotExist", "Exists", "In", "NotIn")))
        elif scope in SCOPES and scope != "PriorityClass" and operator != "Exists":
            errs.append(invalid_value(f"{path}.operator", operator,
                                      "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, "
                                      "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
                                      "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"))
        elif operator in ("In", "NotIn") and not values:
            errs.append(required(f"{path}.values", "must be at least one value when `operator` is 'In' or 'NotIn' "
                                                   "for scope selector"))
        elif operator in ("Exists", "DoesNotExist") and values:
            errs.append(invalid_value(f"{path}.values", values,
                                      "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope "
                                      "selector"))
    return errs


def validate_quota(obj: Obj) -> list[FieldError]:
    """spec.hard: valid, non-negative quantities; spec.scopes: known, and only with pod resources."""
    errs: list[FieldError] = []
    spec = obj.get("spec") or {}
    hard = spec.get("hard") or {}
    for name, value in hard.items():
        field = f"spec.hard[{name}]"
        if not quantity.is_valid(value):
            errs.append(invalid_value(field, value, quantity.QUANTITY_ERROR))
        elif quantity.parse(value) < 0:
            errs.append(invalid_value(field, value, "must be greater than or equal to 0"))
        elif (name.startswith("count/") or name in _PLAIN_COUNTS or name.startswith("services")) \
                and quantity.parse(value).denominator != 1:
            errs.append(invalid_value(field, value, "must be an integer"))
    scopes = list(spec.get("scopes") or [])
    for scope in scopes:
        if scope not in SCOPES:
            errs.append(_scopes_invalid(scopes, "unsupported scope"))
            continue
        allowed = {"pods"} if scope == "BestEffort" else POD_RESOURCES
        for name in sorted(hard):
            if not name.startswith("count/") and name not in allowed:
                errs.append(_scopes_invalid(scopes, "unsupported scope applied to resource"))
    for pair in (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating")):
        if set(pair) <= set(scopes):
            errs.append(_scopes_invalid(scopes, "conflicting scopes"))
    errs += _selector_errors(spec.get("scopeSelector") or {})
    return errs
