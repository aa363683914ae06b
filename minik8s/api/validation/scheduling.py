"""Scheduling constraints in a pod spec: affinity, anti-affinity, topology spread, tolerations.

Upstream's ``validateAffinity``, ``validateTopologySpreadConstraints`` and
``ValidateTolerations`` (pkg/apis/core/validation), with their field paths and
messages, so that a mistyped operator or an empty ``topologyKey`` is refused with
422 before the pod is stored, never left for the scheduler to trip over:

* node affinity: ``nodeSelectorTerms`` must not be empty; ``In``/``NotIn`` need
  values, ``Exists``/``DoesNotExist`` forbid them, ``Gt``/``Lt`` take exactly one;
  ``matchFields`` only on ``metadata.name``; preferred weights 1-100;
* pod (anti-)affinity terms: a valid label selector and namespace selector, valid
  namespace names, a non-empty ``topologyKey`` that is a valid label key;
* topology spread: ``maxSkew`` and ``minDomains`` above zero (``minDomains`` only with
  ``DoNotSchedule``), ``whenUnsatisfiable`` one of two actions, node inclusion
  policies ``Honor``/``Ignore``, no two constraints on the same key and action;
* tolerations: operator ``Equal``/``Exists``, no value with ``Exists``, a known effect.

Interface:
    validate_affinity(affinity, path) -> Errors
    validate_topology_spread(constraints, path) -> Errors
    validate_tolerations(tolerations, path) -> Errors
    TAINT_EFFECTS

Invariants: never raises, never modifies its input.

Taught in chapter 11 (Scheduling).
"""

from __future__ import annotations

from typing import Any, Callable

from minik8s.api.errors import duplicate, invalid_value, required
from minik8s.api.selectors import (is_valid_label_value, validate_label_selector, validate_operator_values,
                                   validate_qualified_name)
from minik8s.api.validation.fields import Errors, Obj, _dicts, _int, _invalid, _list, _map, _str, _unsupported
from minik8s.api.validation.names import is_dns1123_label, is_dns1123_subdomain
from minik8s.api.validation.printing import go_value

_TOLERATION_OPERATORS = ("Equal", "Exists")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")  # also what a node's taints may say
_SCHEDULE_ACTIONS = ("DoNotSchedule", "ScheduleAnyway")
_INCLUSION_POLICIES = ("Honor", "Ignore")
NOT_POSITIVE = "must be greater than zero"
WEIGHT_RANGE = "must be in the range 1-100"


# --- node affinity ---------------------------------------------------------------------------------


def _node_requirement(req: Obj, path: str) -> Errors:
    """Upstream ``ValidateNodeSelectorRequirement`` (label expressions: no check of the values themselves)."""
    errs = validate_operator_values(_str(req, "operator"), _list(req, "values"), path, comparisons=True)
    return errs + validate_qualified_name(_str(req, "key"), f"{path}.key")


def _field_requirement(req: Obj, path: str) -> Errors:
    """Upstream ``ValidateNodeFieldSelectorRequirement``: ``metadata.name In/NotIn [one node name]``."""
    errs: Errors = []
    operator, values = _str(req, "operator"), _list(req, "values")
    if operator in ("In", "NotIn"):
        if len(values) != 1:
            errs.append(required(f"{path}.values",
                                 "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
    else:
        errs.append(invalid_value(f"{path}.operator", operator, "not a valid selector operator"))
    key = _str(req, "key")
    if key != "metadata.name":
        errs.append(invalid_value(f"{path}.key", key, "not a valid field selector key"))
    else:
        for i, value in enumerate(values):
            errs += [invalid_value(f"{path}.values[{i}]", value, m) for m in is_dns1123_subdomain(str(value))]
    return errs


def _node_selector_term(term: Obj, path: str) -> Errors:
    errs: Errors = []
    for i, req in _dicts(term, "matchExpressions"):
        errs += _node_requirement(req, f"{path}.matchExpressions[{i}]")
    for i, req in _dicts(term, "matchFields"):
        errs += _field_requirement(req, f"{path}.matchFields[{i}]")
    return errs


def _preferred(section: Obj, path: str, term_key: str, validate_term: Callable[[Obj, str], Errors]) -> Errors:
    """The weighted ``preferredDuringSchedulingIgnoredDuringExecution`` terms: weights 1-100, valid terms."""
    errs: Errors = []
    for i, preferred in _dicts(section, "preferredDuringSchedulingIgnoredDuringExecution"):
        p = f"{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        weight = _int(preferred, "weight")
        if weight is None or not 1 <= weight <= 100:
            errs.append(invalid_value(f"{p}.weight", preferred.get("weight", 0), WEIGHT_RANGE))
        errs += validate_term(_map(preferred, term_key), f"{p}.{term_key}")
    return errs


def _node_affinity(affinity: Obj, path: str) -> Errors:
    errs: Errors = []
    required_terms = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if isinstance(required_terms, dict):
        terms_path = f"{path}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
        terms = _dicts(required_terms, "nodeSelectorTerms")
        if not terms:
            errs.append(required(terms_path, "must have at least one node selector term"))
        for i, term in terms:
            errs += _node_selector_term(term, f"{terms_path}[{i}]")
    return errs + _preferred(affinity, path, "preference", _node_selector_term)


# --- pod affinity and anti-affinity ------------------------------------------------------------------


def _pod_affinity_term(term: Obj, path: str) -> Errors:
    """Upstream ``validatePodAffinityTerm``: selectors, namespace names, and a topologyKey that is a label key."""
    errs = validate_label_selector(term.get("labelSelector"), f"{path}.labelSelector")
    errs += validate_label_selector(term.get("namespaceSelector"), f"{path}.namespaceSelector")
    for name in _list(term, "namespaces"):
        errs += [invalid_value(f"{path}.namespace", name, m) for m in is_dns1123_label(str(name))]
    topology_key = _str(term, "topologyKey")
    if not topology_key:
        errs.append(required(f"{path}.topologyKey", "can not be empty"))
    return errs + validate_qualified_name(topology_key, f"{path}.topologyKey")


def _pod_affinity(affinity: Obj, path: str) -> Errors:
    errs: Errors = []
    for i, term in _dicts(affinity, "requiredDuringSchedulingIgnoredDuringExecution"):
        errs += _pod_affinity_term(term, f"{path}.requiredDuringSchedulingIgnoredDuringExecution[{i}]")
    return errs + _preferred(affinity, path, "podAffinityTerm", _pod_affinity_term)


def validate_affinity(affinity: Any, path: str) -> Errors:
    """Upstream ``validateAffinity``: node affinity, pod affinity, pod anti-affinity."""
    if not isinstance(affinity, dict):
        return []
    errs: Errors = []
    if isinstance(affinity.get("nodeAffinity"), dict):
        errs += _node_affinity(affinity["nodeAffinity"], f"{path}.nodeAffinity")
    for kind in ("podAffinity", "podAntiAffinity"):
        if isinstance(affinity.get(kind), dict):
            errs += _pod_affinity(affinity[kind], f"{path}.{kind}")
    return errs


# --- topology spread constraints ----------------------------------------------------------------------


def _spread_constraint(constraint: Obj, rest: list[Obj], path: str) -> Errors:
    errs: Errors = []
    max_skew = _int(constraint, "maxSkew")
    if max_skew is None or max_skew <= 0:
        errs.append(invalid_value(f"{path}.maxSkew", constraint.get("maxSkew", 0), NOT_POSITIVE))
    topology_key, action = _str(constraint, "topologyKey"), _str(constraint, "whenUnsatisfiable")
    if not topology_key:
        errs.append(required(f"{path}.topologyKey", "can not be empty"))
    if action not in _SCHEDULE_ACTIONS:
        errs.append(_unsupported(f"{path}.whenUnsatisfiable", action, _SCHEDULE_ACTIONS))
    if any(_str(other, "topologyKey") == topology_key and _str(other, "whenUnsatisfiable") == action for other in rest):
        errs.append(duplicate(f"{path}.{{topologyKey, whenUnsatisfiable}}", f"{{{topology_key}, {action}}}"))
    if constraint.get("minDomains") is not None:
        min_domains = constraint["minDomains"]
        if not isinstance(min_domains, int) or min_domains <= 0:
            errs.append(invalid_value(f"{path}.minDomains", min_domains, NOT_POSITIVE))
        if action != "DoNotSchedule":
            errs.append(invalid_value(f"{path}.minDomains", min_domains,
                                      f"can only use minDomains if whenUnsatisfiable=DoNotSchedule, not {action}"))
    for policy in ("nodeAffinityPolicy", "nodeTaintsPolicy"):
        value = constraint.get(policy)
        if value is not None and value not in _INCLUSION_POLICIES:
            errs.append(_unsupported(f"{path}.{policy}", value, _INCLUSION_POLICIES))
    return errs + validate_label_selector(constraint.get("labelSelector"), f"{path}.labelSelector")


def validate_topology_spread(constraints: Any, path: str) -> Errors:
    """Upstream ``validateTopologySpreadConstraints``."""
    items = [c if isinstance(c, dict) else {} for c in constraints] if isinstance(constraints, list) else []
    errs: Errors = []
    for i, constraint in enumerate(items):
        errs += _spread_constraint(constraint, items[i + 1:], f"{path}[{i}]")
    return errs


# --- tolerations --------------------------------------------------------------------------------------


def _go_toleration(toleration: Obj) -> str:
    """``core.Toleration`` as Go's ``%#v`` prints it (upstream quotes the whole toleration in one message).

    A set ``tolerationSeconds`` is a pointer, which Go prints as a memory address that
    changes from one request to the next; minik8s prints a fixed stand-in address."""
    seconds = "(*int64)(nil)" if toleration.get("tolerationSeconds") is None else "(*int64)(0xc000000000)"
    fields = ", ".join(f"{name}:{go_value(_str(toleration, key))}"
                       for name, key in (("Key", "key"), ("Operator", "operator"), ("Value", "value"),
                                         ("Effect", "effect")))
    return f"core.Toleration{{{fields}, TolerationSeconds:{seconds}}}"


def validate_tolerations(tolerations: Any, path: str) -> Errors:
    """Upstream ``ValidateTolerations``."""
    errs: Errors = []
    for i, toleration in enumerate(tolerations if isinstance(tolerations, list) else []):
        toleration = toleration if isinstance(toleration, dict) else {}
        p = f"{path}[{i}]"
        key, operator = _str(toleration, "key"), _str(toleration, "operator")
        if key:
            errs += validate_qualified_name(key, f"{p}.key")
        elif operator != "Exists":
            errs.append(invalid_value(f"{p}.operator", operator,
                                      "operator must be Exists when `key` is empty, which means \"match all "
                                      "values and all keys\""))
        effect = _str(toleration, "effect")
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(invalid_value(f"{p}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        value = _str(toleration, "value")
        if operator in ("Equal", ""):
            messages = is_valid_label_value(value)
            if messages:
                errs.append(invalid_value(f"{p}.operator", value, ";".join(messages)))
        elif operator == "Exists":
            if value:
                errs.append(_invalid(f"{p}.operator", _go_toleration(toleration),
                                     "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(_unsupported(f"{p}.operator", operator, _TOLERATION_OPERATORS))
        if effect and effect not in TAINT_EFFECTS:
            errs.append(_unsupported(f"{p}.effect", effect, TAINT_EFFECTS))
    return errs
