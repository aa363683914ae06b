"""The Eviction subresource's budget check: ``POST pods/<name>/eviction`` honours PodDisruptionBudgets.

An eviction is a delete that asks first. Before the pod goes, the API server finds
the PodDisruptionBudgets selecting it: none, or a pod a budget never protects
(finished, Pending, already terminating): delete. More than one: 500, as upstream
does not support overlapping budgets. Exactly one: :func:`minik8s.api.disruption.evict_decision`
either refuses (429 ``TooManyRequests`` with a ``DisruptionBudget`` cause — ``kubectl
drain`` retries on it) or returns the budget's status with one disruption spent, which is
written (``disruptedPods`` names the pod) before the pod is deleted.

Interface:
    spend_budget(api, namespace, pod, dry_run) -> None   # raises the Eviction API's errors

Invariant: the budget's status is re-read and written under the API server's lock,
so two concurrent evictions cannot both spend the last disruption.

Taught in chapter 9 (Scheduling: voluntary disruptions, cordon and drain).
"""

from __future__ import annotations

from typing import Any

from minik8s.api import disruption, resources
from minik8s.api.errors import internal
from minik8s.api.objects import deep_copy

PDBS = resources.get("policy", "v1", "poddisruptionbudgets")
assert PDBS is not None


def spend_budget(api: Any, namespace: str, pod: dict[str, Any], *, dry_run: bool = False) -> None:
    if disruption.can_ignore(pod) or not (pod.get("metadata") or {}).get("labels"):
        return
    budgets = [b for b in api.list(PDBS, namespace)["items"] if disruption.selects(b, pod)]
    if not budgets:
        return
    if len(budgets) > 1:
        raise internal("This pod has more than one PodDisruptionBudget, which the eviction subresource "
                       "does not support.")
    pdb = budgets[0]
    status = disruption.evict_decision(pdb, pod, api.clock.now())
    if status is None or dry_run:
        return
    new = deep_copy(pdb)
    new["status"] = status
    api.update(PDBS, namespace, pdb["metadata"]["name"], new, subresource="status")
