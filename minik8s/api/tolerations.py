"""Tolerations against taints: upstream's ``Toleration.ToleratesTaint`` (core/v1 helper).

One pure function shared by the scheduler's TaintToleration plugin (may a pod land on a
node?) and the taint-eviction controller (may a pod stay on it?), so both read a
toleration the same way: an empty ``effect`` or ``key`` is a wildcard, ``Exists`` ignores
the value, ``Equal`` (the default operator) compares it.

Interface:
    tolerates(toleration, taint) -> bool

Taught in chapter 11 (Scheduling), section "Taints and tolerations".
"""

from __future__ import annotations

from typing import Any


def tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    """An empty effect or key in the toleration is a wildcard; ``Exists`` ignores the value."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False
