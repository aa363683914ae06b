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
  to the message.

Interface:
    verdict(pod, cache, rejected, absent_nodes, filters, state) -> str   # "" or "preemption: ..."

How minik8s differs: it gives the verdict but never evicts. Where upstream would delete
the victims and nominate a node (``status.nominatedNodeName``), a minik8s pod stays
Pending until room appears by itself. PodDisruptionBudgets are not consulted.

Taught in chapter 9 (Scheduling: priority and preemption).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo
from minik8s.scheduler.framework import CycleState, FilterFunc, Reason
from minik8s.scheduler.plugins import inter_pod_affinity, node_ports, node_resources, pod_topology_spread

NOT_ELIGIBLE = "not eligible due to preemptionPolicy=Never."
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"

# Filter reasons that evicting pods can cure: upstream returns them with the code Unschedulable.
# Every other reason (taints, node affinity, node name, cordon, missing topology labels) comes
# with UnschedulableAndUnresolvable, and preemption does not look at those nodes.
RESOLVABLE = frozenset({
    node_resources.TOO_MANY_PODS, node_ports.REASON, inter_pod_affinity.REASON_ANTI_AFFINITY,
    inter_pod_affinity.REASON_EXISTING_ANTI_AFFINITY, pod_topology_spread.REASON,
})


def resolvable(reason: Reason) -> bool:
    """Could removing pods from the node cure this Filter rejection?"""
    reasons = (reason,) if isinstance(reason, str) else reason
    return all(r in RESOLVABLE or r.startswith("Insufficient ") for r in reasons)


def priority(pod: dict[str, Any]) -> int:
    return int((pod.get("spec") or {}).get("priority") or 0)


def verdict(pod: PodInfo, cache: Cache, rejected: dict[str, Reason], absent_nodes: int,
            filters: list[tuple[str, FilterFunc]], state: CycleState) -> str:
    """The PostFilter message for a pod that fits nowhere ("" when preemption would make room).

    ``rejected`` maps node names to their Filter reasons; ``absent_nodes`` counts the nodes that
    never reached the Filters (ruled out by PreFilter, so unresolvable)."""
    if (pod.pod.get("spec") or {}).get("preemptionPolicy") == "Never":
        return f"preemption: {NOT_ELIGIBLE}"
    histogram: Counter[str] = Counter()
    for name, reason in rejected.items():
        node = cache.get(name)
        if node is None or not resolvable(reason):
            histogram[NOT_HELPFUL] += 1
            continue
        outcome = _without_victims(pod, node, filters, state)
        if outcome is None:
            return ""  # a candidate: upstream evicts its victims here
        histogram.update((outcome,) if isinstance(outcome, str) else outcome)
    histogram[NOT_HELPFUL] += absent_nodes
    entries = sorted(f"{count} {reason}" for reason, count in histogram.items() if count)
    return f"preemption: 0/{len(cache.nodes)} nodes are available: {', '.join(entries)}."


def _without_victims(pod: PodInfo, node: NodeInfo, filters: list[tuple[str, FilterFunc]],
                     state: CycleState) -> Reason | None:
    """Upstream's SelectVictimsOnNode, first step: remove every lower-priority pod and filter again.
    Returns None when the pod would fit, else why not."""
    mine = priority(pod.pod)
    victims = [p for p in node.pods.values() if priority(p.pod) < mine]
    if not victims:
        return NO_VICTIMS
    trial = NodeInfo(node.name)
    if node.node is not None:
        trial.set_node(node.node)
    for other in node.pods.values():
        if other not in victims:
            trial.add_pod(other)
    for _, check in filters:
        reason = check(state, pod, trial)
        if reason is not None:
            return reason
    return None
