"""The scheduling algorithm: one pod in, one node (or a reason why none) out.

This is kube-scheduler's ``schedulePod``, the pure decision part; the component
that watches the API and writes the binding calls it. For one pod:

1. PreFilter: each plugin precomputes what it needs, or says Skip.
2. Filter: walk the nodes, starting where the previous pod's walk stopped (so every
   node gets its turn), and stop once ``num_feasible_nodes_to_find`` nodes fit. In a
   big cluster that is a fraction of the nodes: 50% minus 1% per 125 nodes, at least
   5%, and at least 100 nodes — the price of speed is a choice that is good, not the
   best one.
3. Score the feasible nodes with each plugin, normalize, multiply by the plugin's
   weight and add up. The highest total wins; ties are broken at random.

If no node fits, the message is upstream's ``FailedScheduling`` text, built from a
histogram of the per-node reasons, sorted as strings, then preemption's verdict
(:mod:`minik8s.scheduler.preemption`, the PostFilter step):
``0/5 nodes are available: 2 Insufficient memory,
3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption:
0/5 nodes are available: 2 No preemption victims found for incoming pod,
3 Preemption is not helpful for scheduling.`` (one line).

Interface:
    Scheduler(profile=None, percentage_of_nodes_to_score=0, rng=None, explain=False)
        .schedule(pod, cache) -> Result(node, message, diagnosis, ...)
    num_feasible_nodes_to_find(percentage, num_all_nodes) -> int
    fit_error_message(num_all_nodes, diagnosis) -> str

Invariants: a chosen node passed every (non-skipped) Filter; the same seed, cache
and pods give the same placements.

When preemption finds room, ``diagnosis.nominated_node`` and ``diagnosis.victims`` say
where and whom to evict; the component does it.

How minik8s differs: no extenders or parallel filtering.

Taught in chapter 11 (Scheduling).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from minik8s.scheduler import preemption
from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo
from minik8s.scheduler.framework import CycleState, Profile, Reason, default_profile, overrides

MIN_FEASIBLE_NODES_TO_FIND = 100  # below this many nodes, look at all of them
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5  # the adaptive percentage never drops below 5%
BASE_PERCENTAGE_OF_NODES_TO_SCORE = 50  # the adaptive percentage starts at 50%...
NODES_PER_PERCENT = 125  # ...and loses 1% per 125 nodes

NO_NODES_AVAILABLE = "no nodes available to schedule pods"


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """How many feasible nodes are enough (upstream ``numFeasibleNodesToFind``).

    ``percentage`` 0 means adaptive; 100 means every node.
    """
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage <= 0:
        percentage = BASE_PERCENTAGE_OF_NODES_TO_SCORE - num_all_nodes // NODES_PER_PERCENT
        percentage = max(percentage, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    num_nodes = num_all_nodes * percentage // 100
    return max(num_nodes, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass
class Diagnosis:
    """Why nodes were rejected: per node, and for the nodes PreFilter ruled out."""

    node_to_reasons: dict[str, Reason] = field(default_factory=dict)
    unschedulable_plugins: set[str] = field(default_factory=set)
    pre_filter_message: str = ""
    absent_nodes: int = 0  # nodes outside a PreFilterResult
    absent_reason: str = ""
    post_filter_message: str = ""  # preemption's verdict ("preemption: ...")
    nominated_node: str | None = None  # preemption succeeded: the node, once its victims are gone
    victims: list[PodInfo] = field(default_factory=list)


@dataclass
class Result:
    """The decision. ``node`` is None when the pod fits nowhere; then ``message`` says why."""

    node: str | None
    message: str
    diagnosis: Diagnosis
    evaluated_nodes: int = 0
    feasible_nodes: int = 0
    scores: dict[str, dict[str, int]] | None = None  # node -> plugin -> weighted score (explain=True)
    state: CycleState | None = None  # the decision's scratch space, for the PreBind plugins


def fit_error_message(num_all_nodes: int, diagnosis: Diagnosis) -> str:
    """Upstream's ``FitError`` text: the Filters' reasons, then preemption's verdict."""
    message = f"0/{num_all_nodes} nodes are available:"
    if diagnosis.pre_filter_message:
        # A PreFilter rejection applies to every node: say it once, not N times.
        message += f" {diagnosis.pre_filter_message}."
        return f"{message} {diagnosis.post_filter_message}" if diagnosis.post_filter_message else message
    histogram: Counter[str] = Counter()
    for reasons in diagnosis.node_to_reasons.values():
        if isinstance(reasons, str):
            histogram[reasons] += 1
        else:
            histogram.update(reasons)
    if diagnosis.absent_nodes:
        histogram[diagnosis.absent_reason] += diagnosis.absent_nodes
    # Upstream sorts the "<count> <reason>" strings themselves (so "10 x" sorts before "2 y").
    entries = sorted(f"{count} {reason}" for reason, count in histogram.items())
    if entries:
        message += f" {', '.join(entries)}."
    if diagnosis.post_filter_message:
        message += f" {diagnosis.post_filter_message}"
    return message


class Scheduler:
    """Decide where pods go. Pure: reads the cache, never changes it, never does I/O."""

    def __init__(self, profile: Profile | None = None, percentage_of_nodes_to_score: int = 0,
                 rng: random.Random | None = None, explain: bool = False) -> None:
        self.profile = profile if profile is not None else default_profile()
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.rng = rng if rng is not None else random.Random(0)
        self.explain = explain
        # The PodDisruptionBudgets preemption weighs when choosing victims (None: there are none).
        self.pdbs: Callable[[], list[dict[str, Any]]] | None = None
        # Pods nominated to a node by preemption, not yet bound: counted there for pods of no higher priority.
        self.nominated: Callable[[], list[dict[str, Any]]] | None = None
        self._next_start_node_index = 0
        self._normalizers = {p.name for p in self.profile.score_plugins if overrides(p, "normalize_score")}

    def schedule(self, pod: dict[str, Any], cache: Cache) -> Result:
        """Pick a node for ``pod`` (a Kubernetes Pod dict) among the nodes in ``cache``."""
        diagnosis = Diagnosis()
        if not cache.nodes:
            return Result(None, NO_NODES_AVAILABLE, diagnosis)
        info = PodInfo(pod)
        state = CycleState()
        outcome = self.profile.run_pre_filter(state, info, cache)
        if outcome.status is not None:
            diagnosis.pre_filter_message = outcome.status.message
            diagnosis.unschedulable_plugins.add(outcome.status.plugin)
            # Every node failed PreFilter, for a reason no eviction cures.
            diagnosis.post_filter_message = preemption.verdict(info, cache, {}, len(cache.nodes), [], state)
            return Result(None, fit_error_message(len(cache.nodes), diagnosis), diagnosis)
        nodes = cache.nodes
        if outcome.node_names is not None:
            nodes = [n for n in (cache.get(name) for name in sorted(outcome.node_names)) if n is not None]
            diagnosis.absent_nodes = len(cache.nodes) - len(nodes)
            diagnosis.absent_reason = f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(outcome.narrowed_by))}]"
        if self.nominated is not None:
            nodes = self._add_nominated_pods(info, nodes)
        feasible = self._find_feasible(state, info, nodes, outcome.filters, diagnosis) if nodes else []
        evaluated = len(feasible) + len(diagnosis.node_to_reasons)
        if not feasible:
            pdbs = self.pdbs() if self.pdbs is not None else ()
            chosen = preemption.preempt(info, cache, diagnosis.node_to_reasons, diagnosis.absent_nodes,
                                        outcome.filters, state, pdbs)
            diagnosis.post_filter_message = chosen.message
            diagnosis.nominated_node, diagnosis.victims = chosen.node, chosen.victims
            return Result(None, fit_error_message(len(cache.nodes), diagnosis), diagnosis, evaluated, 0)
        if len(feasible) == 1:  # nothing to compare: upstream skips scoring too
            return Result(feasible[0].name, "", diagnosis, evaluated, 1, state=state)
        totals, scores = self._prioritize(state, info, feasible, cache)
        best = max(totals)
        ties = [i for i, total in enumerate(totals) if total == best]
        # One uniform draw among the best: the same distribution as upstream's reservoir sampling.
        chosen = ties[0] if len(ties) == 1 else ties[self.rng.randrange(len(ties))]
        return Result(feasible[chosen].name, "", diagnosis, evaluated, len(feasible), scores, state)

    def _add_nominated_pods(self, pod: PodInfo, nodes: list[NodeInfo]) -> list[NodeInfo]:
        """Upstream's addNominatedPods: nodes with the nominated pods of equal or higher priority added."""
        assert self.nominated is not None
        mine = preemption.priority(pod.pod)
        extra: dict[str, list[PodInfo]] = {}
        for other in self.nominated():
            node_name = (other.get("status") or {}).get("nominatedNodeName")
            info = PodInfo(other)
            if node_name and info.key != pod.key and preemption.priority(other) >= mine:
                extra.setdefault(node_name, []).append(info)
        if not extra:
            return nodes
        return [preemption.with_pods(n, [*n.pods.values(), *extra[n.name]]) if n.name in extra else n
                for n in nodes]

    def _find_feasible(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                       filters: list[tuple[str, Any]], diagnosis: Diagnosis) -> list[NodeInfo]:
        """Run the Filters node by node, from a rotating start, until enough nodes fit."""
        percentage = self.profile.percentage_of_nodes_to_score
        if percentage is None:
            percentage = self.percentage_of_nodes_to_score
        wanted = num_feasible_nodes_to_find(percentage, len(nodes))
        start = self._next_start_node_index % len(nodes)
        funcs = [f for _, f in filters]
        rejected = diagnosis.node_to_reasons
        feasible: list[NodeInfo] = []
        processed = 0
        # This loop is the scheduler's hot path: keep it free of allocations and lookups.
        for node in nodes[start:] + nodes[:start]:
            processed += 1
            for f in funcs:
                reason = f(state, pod, node)
                if reason is not None:
                    rejected[node.name] = reason
                    diagnosis.unschedulable_plugins.add(filters[funcs.index(f)][0])
                    break
            else:
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
        self._next_start_node_index = (start + processed) % len(nodes)
        return feasible

    def _prioritize(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                    cache: Cache) -> tuple[list[int], dict[str, dict[str, int]] | None]:
        """Weighted sum of every active Score plugin's normalized scores, per node."""
        totals = [0] * len(nodes)
        explained: dict[str, dict[str, int]] | None = {n.name: {} for n in nodes} if self.explain else None
        for plugin, weight in self.profile.run_pre_score(state, pod, nodes, cache):
            score = plugin.score
            scores = [score(state, pod, node) for node in nodes]
            if plugin.name in self._normalizers:
                plugin.normalize_score(state, pod, nodes, scores)
            totals = [total + s * weight for total, s in zip(totals, scores)]
            if explained is not None:
                for node, s in zip(nodes, scores):
                    explained[node.name][plugin.name] = s * weight
        return totals, explained
