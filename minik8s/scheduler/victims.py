"""Carrying preemption out: upstream's ``Evaluator.prepareCandidate``.

Once preemption (:mod:`minik8s.scheduler.preemption`) has chosen a node and the pods
to evict from it, the scheduler, for each victim:

1. adds the condition ``DisruptionTarget=True`` (reason ``PreemptionByScheduler``,
   message ``default-scheduler: preempting to accommodate a higher priority pod``)
   to its status, so its owner can tell why it went;
2. deletes it, gracefully (its own ``terminationGracePeriodSeconds``);
3. records ``Normal Preempted`` on it: ``Preempted by pod <preemptor uid> on node <node>``.

Pods of lower priority that were nominated to the same node lose their nomination (they
may no longer fit there). Then the preemptor's ``status.nominatedNodeName`` names the node (written with its
``PodScheduled=False`` condition); it is bound there once the victims are gone.

Interface:
    evict_victims(component, preemptor, node_name, victims) -> None
    disruption_budgets(client) -> (() -> list of PodDisruptionBudgets) | None

Invariant: a victim that is already gone is skipped (404), never an error.

Taught in chapter 11 (Scheduling: priority and preemption).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.client.base import Client
from minik8s.clock import rfc3339

if TYPE_CHECKING:
    from minik8s.scheduler.component import SchedulerComponent

PODS = resources.get("", "v1", "pods")

DISRUPTION_TARGET = "DisruptionTarget"
PREEMPTION_BY_SCHEDULER = "PreemptionByScheduler"


def disruption_budgets(client: Client) -> Callable[[], list[dict[str, Any]]] | None:
    """A function listing the PodDisruptionBudgets, or None when this API has no such kind."""
    pdbs = resources.by_plural("policy", "v1", "poddisruptionbudgets")
    if pdbs is None:
        return None
    budgets = pdbs

    def listing() -> list[dict[str, Any]]:
        try:
            return list(client.list(budgets).get("items") or [])
        except StatusError:
            return []

    return listing


def evict_victims(component: SchedulerComponent, preemptor: dict[str, Any], node_name: str,
                  victims: list[dict[str, Any]]) -> None:
    uid = preemptor["metadata"].get("uid", "")
    now = rfc3339(component.clock.now())
    for victim in victims:
        meta = victim["metadata"]
        condition = {"type": DISRUPTION_TARGET, "status": "True", "reason": PREEMPTION_BY_SCHEDULER,
                     "message": f"{component.name}: preempting to accommodate a higher priority pod",
                     "lastProbeTime": None, "lastTransitionTime": now}
        try:
            component.client.patch(PODS, meta["name"], {"status": {"conditions": [condition]}}, meta["namespace"],
                                   patch_type="strategic", subresource="status")
            component.client.delete(PODS, meta["name"], meta["namespace"])
        except StatusError as err:
            if err.code != 404:
                raise
            continue
        component.ctx.recorder.event(victim, "Normal", "Preempted", f"Preempted by pod {uid} on node {node_name}",
                                     component=component.name, action="Preempting")
    _clear_lower_nominations(component, preemptor, node_name)


def _clear_lower_nominations(component: SchedulerComponent, preemptor: dict[str, Any], node_name: str) -> None:
    """Upstream's getLowerPriorityNominatedPods + ClearNominatedNodeName."""
    mine = int((preemptor.get("spec") or {}).get("priority") or 0)
    for pod in component.informer(PODS).list():
        meta = pod["metadata"]
        if meta.get("uid") == preemptor["metadata"].get("uid") or (pod.get("spec") or {}).get("nodeName"):
            continue
        if (pod.get("status") or {}).get("nominatedNodeName") != node_name:
            continue
        if int((pod.get("spec") or {}).get("priority") or 0) >= mine:
            continue
        try:
            component.client.patch(PODS, meta["name"], {"status": {"nominatedNodeName": None}}, meta["namespace"],
                                   patch_type="strategic", subresource="status")
        except StatusError as err:
            if err.code != 404:
                raise
