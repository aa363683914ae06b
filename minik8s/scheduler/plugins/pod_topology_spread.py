"""PodTopologySpread: keep matching pods evenly spread across topology domains.

A constraint ``{maxSkew, topologyKey, whenUnsatisfiable, labelSelector}`` counts the
pods matching ``labelSelector`` (in the pod's namespace) in each domain — each value
of the node label ``topologyKey``. Placing the pod in a domain must keep

    count(domain) + 1 (if the pod matches its own selector) - min(count over domains) <= maxSkew

For ``DoNotSchedule`` this is a Filter, reason (upstream wording)
``node(s) didn't match pod topology spread constraints``, or with `` (missing required
label)`` appended for a node without the topology label. With ``minDomains``, fewer
eligible domains than that makes the global minimum 0. ``matchLabelKeys`` add the
pod's own values of those labels to the selector. Only nodes that match the pod's
nodeSelector / required node affinity are counted (``nodeAffinityPolicy: Honor``);
taints are ignored (``nodeTaintsPolicy: Ignore``), as upstream's defaults.

For ``ScheduleAnyway`` it is a Score: fewer matching pods in the node's domain is
better, each constraint weighted by log(number of domains + 2), normalized so
the emptiest node gets 100.

How minik8s differs: upstream adds cluster-level default constraints (spread by
hostname and zone, ScheduleAnyway) to pods that have none; minik8s has no system
defaults, so a pod without constraints is not spread by this plugin.

Taught in chapter 9 (Scheduling), section "Pod topology spread constraints".
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from minik8s.scheduler import selectors
from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo
from minik8s.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Plugin, Reason, Status, register
from minik8s.scheduler.plugins.node_affinity import required_node_matcher

REASON = "node(s) didn't match pod topology spread constraints"
REASON_MISSING_LABEL = REASON + " (missing required label)"
HOSTNAME = "kubernetes.io/hostname"


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: selectors.LabelMatcher
    min_domains: int
    self_match: int  # 1 if the pod matches its own selector


def _constraints(pod: PodInfo, when: str) -> list[Constraint]:
    result = []
    for c in (pod.pod.get("spec") or {}).get("topologySpreadConstraints") or []:
        if (c.get("whenUnsatisfiable") or "DoNotSchedule") != when:
            continue
        selector: dict[str, Any] | None = c.get("labelSelector")
        keys = [k for k in c.get("matchLabelKeys") or [] if k in pod.labels]
        if selector is not None and keys:
            selector = dict(selector)
            selector["matchExpressions"] = list(selector.get("matchExpressions") or []) + [
                {"key": k, "operator": "In", "values": [pod.labels[k]]} for k in keys
            ]
        matcher = selectors.label_selector(selector)
        result.append(Constraint(int(c.get("maxSkew", 1)), c.get("topologyKey", ""), matcher,
                                 int(c.get("minDomains") or 1), 1 if matcher(pod.labels) else 0))
    return result


def _count_matching(node: NodeInfo, selector: selectors.LabelMatcher, namespace: str) -> int:
    return sum(1 for p in node.pods.values()
               if p.namespace == namespace and not p.terminating and selector(p.labels))


def _set_min_counts(s: _FilterState) -> None:
    s.min_counts = []
    for i, c in enumerate(s.constraints):
        if len(s.domains[i]) < c.min_domains:
            s.min_counts.append(0)  # too few domains: as if an empty one existed
        else:
            s.min_counts.append(min(s.counts[(c.topology_key, v)] for v in s.domains[i]))


def _has_keys(node: NodeInfo, constraints: list[Constraint]) -> bool:
    return all(c.topology_key in node.labels for c in constraints)


class _FilterState:
    __slots__ = ("constraints", "counts", "min_counts", "domains", "eligible")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.counts: Counter[tuple[str, str]] = Counter()  # (key, value) -> matching pods
        self.min_counts: list[int] = []
        self.domains: list[set[str]] = []   # per constraint, the domains the counts cover
        self.eligible: set[str] = set()     # the nodes counted


class PodTopologySpread(Plugin):
    name = "PodTopologySpread"

    # --- Filter ------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: Cache) -> Status | None:
        constraints = _constraints(pod, "DoNotSchedule")
        if not constraints:
            return SKIP
        s = _FilterState(constraints)
        eligible = required_node_matcher(pod)
        domains: list[set[str]] = [set() for _ in constraints]
        for node in cache.nodes:
            if not _has_keys(node, constraints) or (eligible is not None and not eligible(node.labels, node.name)):
                continue
            s.eligible.add(node.name)
            for i, c in enumerate(constraints):
                value = node.labels[c.topology_key]
                domains[i].add(value)
                s.counts[(c.topology_key, value)] += _count_matching(node, c.selector, pod.namespace)
        s.domains = domains
        _set_min_counts(s)
        state[self.name] = s
        return None

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> None:
        """PreFilterExtensions.RemovePod: the counts as if ``removed`` were gone from ``node`` (preemption
        asks this of each victim). Writes a new state entry; the original is left alone."""
        old: _FilterState | None = state.get(self.name)
        if old is None or node.name not in old.eligible or removed.namespace != pod.namespace or removed.terminating:
            return
        s = _FilterState(old.constraints)
        s.counts, s.domains, s.eligible = old.counts.copy(), old.domains, old.eligible
        for c in s.constraints:
            if c.selector(removed.labels):
                s.counts[(c.topology_key, node.labels[c.topology_key])] -= 1
        _set_min_counts(s)
        state[self.name] = s

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        s: _FilterState = state[self.name]
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                return REASON_MISSING_LABEL
            skew = s.counts[(c.topology_key, value)] + c.self_match - s.min_counts[i]
            if skew > c.max_skew:
                return REASON
        return None

    # --- Score -------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], cache: Cache) -> Status | None:
        constraints = _constraints(pod, "ScheduleAnyway")
        if not constraints:
            return SKIP
        # A pod with node constraints only considers nodes that have every topology key.
        eligible = required_node_matcher(pod)
        require_all = eligible is not None
        ignored = {n.name for n in nodes if require_all and not _has_keys(n, constraints)}
        counts: Counter[tuple[str, str]] = Counter()
        sizes = []
        for c in constraints:
            if c.topology_key == HOSTNAME:
                sizes.append(len(nodes) - len(ignored))
                continue
            values = {n.labels[c.topology_key] for n in nodes
                      if n.name not in ignored and c.topology_key in n.labels}
            sizes.append(len(values))
            for v in values:
                counts[(c.topology_key, v)] = 0
        for node in cache.nodes:
            if eligible is not None and (not _has_keys(node, constraints) or not eligible(node.labels, node.name)):
                continue
            for c in constraints:
                pair = (c.topology_key, node.labels.get(c.topology_key, ""))
                if c.topology_key != HOSTNAME and pair in counts:
                    counts[pair] += _count_matching(node, c.selector, pod.namespace)
        weights = [math.log(size + 2) for size in sizes]
        state[self.name + "/score"] = (constraints, counts, weights, ignored)
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        constraints, counts, weights, ignored = state[self.name + "/score"]
        if node.name in ignored:
            return 0
        total = 0.0
        for c, weight in zip(constraints, weights):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == HOSTNAME:
                count = _count_matching(node, c.selector, pod.namespace)
            else:
                count = counts[(c.topology_key, value)]
            total += count * weight + (c.max_skew - 1)
        return int(math.floor(total + 0.5))  # Go math.Round: halves away from zero

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        ignored = state[self.name + "/score"][3]
        valid = [s for n, s in zip(nodes, scores) if n.name not in ignored]
        if not valid:
            scores[:] = [0] * len(scores)
            return
        lowest, highest = min(valid), max(valid)
        for i, node in enumerate(nodes):
            if node.name in ignored:
                scores[i] = 0
            elif highest == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (highest + lowest - scores[i]) // highest


register(PodTopologySpread.name, PodTopologySpread)
