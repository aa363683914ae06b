"""The Eviction subresource's budget check: ``POST pods/<name>/eviction`` honours PodDisruptionBudgets.

An eviction is a delete that asks first. Before the pod goes, the API server finds
the PodDisruptionBudgets selecting it: none, or a pod a budget never protects
(finished, Pending, already terminating): delete. More than one: 500, as upstream
does not support overlapping budgets. Exactly one: :func:`minik8s.api.disruption.evict_decision`
either refuses (429 ``TooManyRequests`` with a ``DisruptionBudget`` cause — ``kubectl
drain`` retries on it) or returns the budget's status with one disruption spent, which is
written (``disruptedPods`` names the pod) before the pod is deleted.

Once allowed, the pod is given the condition ``DisruptionTarget`` (reason
``EvictionByEvictionAPI``, message ``Eviction API: evicting``) before it is deleted, as
upstream does for a pod that has not finished: a Job's podFailurePolicy can then tell an
eviction from a crash.

Interface:
    spend_budget(api, namespace, pod, dry_run) -> None   # raises the Eviction API's errors
    mark_disruption_target(api, namespace, pod) -> None  # the DisruptionTarget condition

Invariant: the budget's status is re-read and written under the API server's lock,
so two concurrent evictions cannot both spend the last disruption.

Taught in chapter 11 (Scheduling: voluntary disruptions, cordon and drain).
"""

from __future__ import annotations

from typing import Any

from minik8s.api import disruption, resources
from minik8s.api.errors import internal
from minik8s.api.objects import deep_copy
from minik8s.clock import rfc3339

PDBS = resources.get("policy", "v1", "poddisruptionbudgets")
PODS = resources.get("", "v1", "pods")
assert PDBS is not None and PODS is not None

DISRUPTION_TARGET = "DisruptionTarget"
REASON_EVICTED = "EvictionByEvictionAPI"
MESSAGE_EVICTED = "Eviction API: evicting"


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


def mark_disruption_target(api: Any, namespace: str, pod: dict[str, Any]) -> None:
    """Say why the pod is going (upstream's addConditionAndDeletePod); a finished pod is left alone."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return
    new = deep_copy(pod)
    status = new.setdefault("status", {})
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != DISRUPTION_TARGET] + [
        {"type": DISRUPTION_TARGET, "status": "True", "lastProbeTime": None,
         "lastTransitionTime": rfc3339(api.clock.now()), "reason": REASON_EVICTED, "message": MESSAGE_EVICTED}]
    api.update(PODS, namespace, pod["metadata"]["name"], new, subresource="status")
