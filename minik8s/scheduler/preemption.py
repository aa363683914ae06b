"""Preemption's verdict: the PostFilter step that ends a ``FailedScheduling`` message.

When no node fits, kube-scheduler runs its PostFilter plugin, ``DefaultPreemption``:
could the pod fit somewhere if pods of *lower priority* were evicted? Its answer is
appended to the event after ``preemption:``::

    0/3 nodes are available: 3 Insufficient cpu. preemption: 0/3 nodes are available:
    3 No preemption victims found for incoming pod.          (one line)

It reasons per node, from why the Filters rejected it:

* a pod with ``preemptionPolicy: Never`` may not preempt at all:
  ``preemption: not eligible due to preemptionPolicy=Never.``;
* a node rejected for a reason that evicting pods cannot cure (a taint, a node selector,
  a node name, a cordon: upstream's code ``UnschedulableAndUnresolvable``) is skipped:
  ``Preemption is not helpful for scheduling``;
* on the other nodes (``Insufficient cpu``, ``Too many pods``, ports, anti-affinity) every
  pod of lower priority is a possible victim. None there: ``No preemption victims found
  for incoming pod``. With them all gone, the Filters run again: if the pod still does not
  fit, their reason is the node's verdict;
* if some node would fit once its victims are gone, preemption succeeds and adds nothing
  to the message. Upstream's ``SelectVictimsOnNode`` then gives back (reprieves) every
  victim it can, most important first, those whose PodDisruptionBudget forbids a
  disruption before the others; of the nodes left, ``pickOneNodeForPreemption`` takes the
  one with the fewest PDB violations, then the lowest highest-priority victim, the lowest
  sum of victims' priorities, the fewest victims, the first in node order;
* a pod already nominated to a node where a lower-priority pod is still terminating waits
  for it: ``preemption: not eligible due to a terminating pod on the nominated node.``

The scheduler component carries the decision out (:mod:`minik8s.scheduler.component`): it
sets the preemptor's ``status.nominatedNodeName``, marks each victim with the condition
``DisruptionTarget`` (reason ``PreemptionByScheduler``), records ``Preempted`` on it
(``Preempted by pod <uid> on node <node>``) and deletes it with its grace period; once the
victims are gone the preemptor is bound there.

Interface:
    verdict(pod, cache, rejected, absent_nodes, filters, state) -> str   # "" or "preemption: ..."
    preempt(pod, cache, rejected, absent_nodes, filters, state, pdbs=()) -> Outcome(message, node, victims)
    with_pods(node, pods) -> NodeInfo                                     # a copy counting those pods

While the victims terminate, the Filters count the nominated pod on its node for every
pod of no higher priority (upstream's ``addNominatedPods``), so the room made is not taken.

How minik8s differs: the Filters run once, with the nominated pods (upstream runs them
a second time without, for inter-pod affinity); no start-time tie break between nodes.
The PreFilter state forgets the victims (upstream's PreFilterExtensions ``RemovePod``,
here a plugin's ``remove_pod``: inter-pod affinity and topology spread).

Taught in chapter 11 (Scheduling: priority and preemption).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo
from minik8s.scheduler.framework import CycleState, FilterFunc, Reason
from minik8s.scheduler.selectors import label_selector
from minik8s.scheduler.plugins import (inter_pod_affinity, node_ports, node_resources, pod_topology_spread,
                                       volume_restrictions)

NOT_ELIGIBLE = "not eligible due to preemptionPolicy=Never."
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"

# Filter reasons that evicting pods can cure: upstream returns them with the code Unschedulable.
# Every other reason (taints, node affinity, node name, cordon, missing topology labels) comes
# with UnschedulableAndUnresolvable, and preemption does not look at those nodes.
RESOLVABLE = frozenset({
    node_resources.TOO_MANY_PODS, node_ports.REASON, inter_pod_affinity.REASON_ANTI_AFFINITY,
    inter_pod_affinity.REASON_EXISTING_ANTI_AFFINITY, pod_topology_spread.REASON, volume_restrictions.REASON,
})


def resolvable(reason: Reason) -> bool:
    """Could removing pods from the node cure this Filter rejection?"""
    reasons = (reason,) if isinstance(reason, str) else reason
    return all(r in RESOLVABLE or r.startswith("Insufficient ") for r in reasons)


def priority(pod: dict[str, Any]) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


NOT_ELIGIBLE_TERMINATING = "not eligible due to a terminating pod on the nominated node."


@dataclass
class Outcome:
    """PostFilter's result: ``message`` for the event ("" on success), else the chosen node and victims."""

    message: str
    node: str | None = None
    victims: list[PodInfo] = field(default_factory=list)


@dataclass
class _Selection:
    victims: list[PodInfo]
    violations: int


def verdict(pod: PodInfo, cache: Cache, rejected: dict[str, Reason], absent_nodes: int,
            filters: list[tuple[str, FilterFunc]], state: CycleState) -> str:
    """The PostFilter message for a pod that fits nowhere ("" when preemption would make room)."""
    return preempt(pod, cache, rejected, absent_nodes, filters, state).message


def preempt(pod: PodInfo, cache: Cache, rejected: dict[str, Reason], absent_nodes: int,
            filters: list[tuple[str, FilterFunc]], state: CycleState,
            pdbs: Sequence[dict[str, Any]] = ()) -> Outcome:
    """Upstream's DefaultPreemption.PostFilter for a pod that fits nowhere.

    ``rejected`` maps node names to their Filter reasons; ``absent_nodes`` counts the nodes that
    never reached the Filters (ruled out by PreFilter, so unresolvable); ``pdbs`` are the
    PodDisruptionBudgets, consulted when choosing victims."""
    spec = pod.pod.get("spec") or {}
    if spec.get("preemptionPolicy") == "Never":
        return Outcome(f"preemption: {NOT_ELIGIBLE}")
    nominated = cache.get(str((pod.pod.get("status") or {}).get("nominatedNodeName") or ""))
    if nominated is not None and any(p.terminating and priority(p.pod) < priority(pod.pod)
                                     for p in nominated.pods.values()):
        return Outcome(f"preemption: {NOT_ELIGIBLE_TERMINATING}")
    histogram: Counter[str] = Counter()
    candidates: list[tuple[tuple[int, int, int, int, int], str, list[PodInfo]]] = []
    for index, (name, reason) in enumerate(rejected.items()):
        node = cache.get(name)
        if node is None or not resolvable(reason):
            histogram[NOT_HELPFUL] += 1
            continue
        outcome = _select_victims(pod, node, filters, state, pdbs)
        if isinstance(outcome, _Selection):
            victims, violations = outcome.victims, outcome.violations
            prios = [priority(v.pod) for v in victims]
            rank = (violations, max(prios, default=-(2 ** 31)), sum(prios), len(victims), index)
            candidates.append((rank, name, victims))
            continue
        histogram.update((outcome,) if isinstance(outcome, str) else outcome)
    if candidates:
        _, name, victims = min(candidates, key=lambda c: c[0])
        return Outcome("", name, victims)
    histogram[NOT_HELPFUL] += absent_nodes
    entries = sorted(f"{count} {reason}" for reason, count in histogram.items() if count)
    return Outcome(f"preemption: 0/{len(cache.nodes)} nodes are available: {', '.join(entries)}.")


def with_pods(node: NodeInfo, pods: list[PodInfo]) -> NodeInfo:
    """A copy of ``node`` counting exactly ``pods`` (the cache's own NodeInfo is never changed)."""
    trial = NodeInfo(node.name)
    if node.node is not None:
        trial.set_node(node.node)
    for other in pods:
        trial.add_pod(other)
    return trial


def _fits(pod: PodInfo, node: NodeInfo, keep: list[PodInfo], filters: list[tuple[str, FilterFunc]],
          state: CycleState) -> Reason | None:
    trial = with_pods(node, keep)
    removed = [p for p in node.pods.values() if p.key not in trial.pods]
    if removed:
        # PreFilterExtensions.RemovePod: plugins whose PreFilter counted pods forget the removed ones.
        state = CycleState(state)
        for plugin in {getattr(check, "__self__", None) for _, check in filters}:
            remove_pod = getattr(plugin, "remove_pod", None)
            if remove_pod is not None:
                for gone in removed:
                    remove_pod(state, pod, gone, node)
    for _, check in filters:
        reason = check(state, pod, trial)
        if reason is not None:
            return reason
    return None


def _violating(victims: list[PodInfo], pdbs: Sequence[dict[str, Any]]) -> set[str]:
    """Upstream's filterPodsWithPDBViolation: the victims whose eviction some budget forbids (each
    budget's ``disruptionsAllowed`` is spent victim by victim)."""
    allowed = [int((pdb.get("status") or {}).get("disruptionsAllowed") or 0) for pdb in pdbs]
    matchers = [label_selector((pdb.get("spec") or {}).get("selector")) for pdb in pdbs]
    violating: set[str] = set()
    for victim in victims:
        for i, pdb in enumerate(pdbs):
            if (pdb.get("metadata") or {}).get("namespace") != victim.namespace:
                continue
            if not (pdb.get("spec") or {}).get("selector") or not matchers[i](victim.labels):
                continue
            allowed[i] -= 1
            if allowed[i] < 0:
                violating.add(victim.key)
    return violating


def _select_victims(pod: PodInfo, node: NodeInfo, filters: list[tuple[str, FilterFunc]], state: CycleState,
                    pdbs: Sequence[dict[str, Any]]) -> _Selection | Reason:
    """Upstream's SelectVictimsOnNode: remove every lower-priority pod, filter again; then reprieve
    as many as still let the pod fit. Returns (victims, PDB violations) or why the pod cannot fit."""
    mine = priority(pod.pod)
    potential = [p for p in node.pods.values() if priority(p.pod) < mine]
    if not potential:
        return NO_VICTIMS
    keep = [p for p in node.pods.values() if priority(p.pod) >= mine]
    reason = _fits(pod, node, keep, filters, state)
    if reason is not None:
        return reason
    # Most important first: higher priority, then the pod that started earlier.
    potential.sort(key=lambda p: (-priority(p.pod), str((p.pod.get("status") or {}).get("startTime") or "~")))
    violating = _violating(potential, pdbs)
    victims: list[PodInfo] = []
    violations = 0
    for group in ([p for p in potential if p.key in violating], [p for p in potential if p.key not in violating]):
        for candidate in group:
            if _fits(pod, node, keep + [candidate], filters, state) is None:
                keep.append(candidate)  # reprieved
            else:
                victims.append(candidate)
                violations += candidate.key in violating
    return _Selection(victims, violations)
