"""ClusterRole aggregation, the pure part: which rules an aggregated ClusterRole should hold.

A ClusterRole with an ``aggregationRule`` gets the rules of every other ClusterRole
that one of its ``clusterRoleSelectors`` matches. The API server uses this to
create the bootstrap ``admin``/``edit``/``view`` already filled in, and the
ClusterRole aggregation controller (:mod:`minik8s.controllers.clusterroleaggregation`)
to keep them filled; it lives here, below both, so neither reaches into the other.

Interface: ``aggregated_rules(role, roles) -> list[dict]``: the selected roles'
rules in role-name order, each rule once (upstream's controller does the same).
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

from typing import Any

from minik8s.api.selectors import from_label_selector


def aggregated_rules(role: dict[str, Any], roles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules of the roles ``role``'s aggregationRule selects, in name order, without duplicates."""
    selectors = []
    for spec in ((role.get("aggregationRule") or {}).get("clusterRoleSelectors")) or []:
        try:
            selectors.append(from_label_selector(spec))
        except ValueError:
            continue
    rules: list[dict[str, Any]] = []
    for other in sorted(roles, key=lambda r: r["metadata"]["name"]):
        if other["metadata"]["name"] == role["metadata"]["name"]:
            continue
        labels = other["metadata"].get("labels") or {}
        if any(selector.matches(labels) for selector in selectors):
            for rule in other.get("rules") or []:
                if rule not in rules:
                    rules.append(rule)
    return rules
