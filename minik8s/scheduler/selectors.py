"""Label selectors and node selector terms, compiled once into fast predicates.

A *label selector* (``matchLabels`` + ``matchExpressions`` with ``In``, ``NotIn``,
``Exists``, ``DoesNotExist``) picks pods by their labels; inter-pod affinity and
topology spread constraints use them. A *node selector term* (``matchExpressions``
that may also use ``Gt`` and ``Lt``, plus ``matchFields`` on ``metadata.name``) picks
nodes; node affinity uses them. The scheduler evaluates the same selector against
thousands of objects per decision, so each is compiled once into a closure.

Interface:
    label_selector(selector) -> LabelMatcher      # labels -> bool
    node_selector_term(term) -> NodeMatcher       # (labels, node name) -> bool

Invariants (as upstream ``metav1.LabelSelectorAsSelector``):
    * a missing (``None``) selector matches nothing;
    * an empty selector ``{}`` matches everything;
    * a node selector term with no requirements matches nothing.

Taught in chapter 11 (Scheduling).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Labels = Mapping[str, str]
LabelMatcher = Callable[[Labels], bool]
NodeMatcher = Callable[[Labels, str], bool]
Requirement = Callable[[Labels], bool]


def match_nothing(labels: Labels) -> bool:
    return False


def match_everything(labels: Labels) -> bool:
    return True


def _requirement(key: str, operator: str, values: list[str]) -> Requirement:
    """One ``key operator values`` requirement as a predicate over a label map."""
    if operator == "In":
        allowed = frozenset(values)
        return lambda labels: key in labels and labels[key] in allowed
    if operator == "NotIn":
        denied = frozenset(values)
        return lambda labels: key not in labels or labels[key] not in denied
    if operator == "Exists":
        return lambda labels: key in labels
    if operator == "DoesNotExist":
        return lambda labels: key not in labels
    if operator in ("Gt", "Lt"):
        return _numeric_requirement(key, operator, values)
    # The API server rejects unknown operators; a selector we cannot read selects nothing.
    return match_nothing


def _numeric_requirement(key: str, operator: str, values: list[str]) -> Requirement:
    """``Gt``/``Lt`` compare the label, read as an integer, with the single value."""
    try:
        bound = int(values[0])
    except (IndexError, ValueError):
        return match_nothing

    def check(labels: Labels) -> bool:
        try:
            number = int(labels[key])
        except (KeyError, ValueError):
            return False
        return number > bound if operator == "Gt" else number < bound

    return check


def _all_of(requirements: list[Requirement]) -> LabelMatcher:
    if not requirements:
        return match_everything
    if len(requirements) == 1:
        return requirements[0]
    reqs = tuple(requirements)
    return lambda labels: all(req(labels) for req in reqs)


def label_selector(selector: Mapping[str, Any] | None) -> LabelMatcher:
    """Compile a ``metav1.LabelSelector``; ``None`` matches nothing, ``{}`` everything."""
    if selector is None:
        return match_nothing
    requirements: list[Requirement] = []
    for key, value in sorted((selector.get("matchLabels") or {}).items()):
        requirements.append(_requirement(key, "In", [value]))
    for expr in selector.get("matchExpressions") or []:
        if expr.get("operator") in ("Gt", "Lt"):  # not valid in a label selector
            return match_nothing
        requirements.append(_requirement(expr.get("key", ""), expr.get("operator", ""), list(expr.get("values") or [])))
    return _all_of(requirements)


def node_selector_term(term: Mapping[str, Any]) -> NodeMatcher:
    """Compile one ``NodeSelectorTerm``: its expressions and fields are ANDed."""
    expressions = [
        _requirement(e.get("key", ""), e.get("operator", ""), list(e.get("values") or []))
        for e in term.get("matchExpressions") or []
    ]
    fields = []
    for f in term.get("matchFields") or []:
        if f.get("key") != "metadata.name":  # the only field upstream supports
            return lambda labels, name: False
        fields.append(_requirement("metadata.name", f.get("operator", ""), list(f.get("values") or [])))
    if not expressions and not fields:
        return lambda labels, name: False
    match_labels = _all_of(expressions)
    if not fields:
        return lambda labels, name: match_labels(labels)
    match_fields = _all_of(fields)
    return lambda labels, name: match_labels(labels) and match_fields({"metadata.name": name})


def node_selector_terms(terms: list[Mapping[str, Any]]) -> NodeMatcher:
    """Compile a list of terms, which are ORed (as ``requiredDuringScheduling...``)."""
    matchers = tuple(node_selector_term(t) for t in terms)
    return lambda labels, name: any(m(labels, name) for m in matchers)
