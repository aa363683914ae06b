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

Counts are kept per constraint (upstream's ``TpValueToMatchNum``). When every node
counts (no nodeSelector or required node affinity, and every node has every
topology key, the usual case) they come from the cache's tallies (``Cache.tally``),
kept current as pods come and go, so PreFilter costs the number of domains, not of
pods; otherwise PreFilter counts node by node.

For ``ScheduleAnyway`` it is a Score: fewer matching pods in the node's domain is
better, each constraint weighted by log(number of domains + 2), normalized so
the emptiest node gets 100.

How minik8s differs: upstream adds cluster-level default constraints (spread by
hostname and zone, ScheduleAnyway) to pods that have none; minik8s has no system
defaults, so a pod without constraints is not spread by this plugin.

Taught in chapter 11 (Scheduling), section "Pod topology spread constraints".
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
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
    selector_text: str  # the selector as canonical JSON: equal texts select the same pods


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
                                 int(c.get("minDomains") or 1), 1 if matcher(pod.labels) else 0,
                                 json.dumps(selector, sort_keys=True)))
    return result


def _matches(pod: PodInfo, selector: selectors.LabelMatcher, namespace: str) -> bool:
    return pod.namespace == namespace and not pod.terminating and selector(pod.labels)


def _count_matching(node: NodeInfo, selector: selectors.LabelMatcher, namespace: str) -> int:
    return sum(1 for p in node.pods.values() if _matches(p, selector, namespace))


def _tally(cache: Cache, c: Constraint, namespace: str) -> Mapping[str, int]:
    """Matching pods per domain of ``c``, over every node with the label (the cache keeps it current)."""
    selector = c.selector
    return cache.tally((PodTopologySpread.name, namespace, c.selector_text, c.topology_key), c.topology_key,
                       lambda p: 1 if _matches(p, selector, namespace) else 0)


def _every_node_counts(pod: PodInfo, constraints: list[Constraint], cache: Cache) -> bool:
    """No node affinity and every node has every topology key: then every node is counted,
    and the counts are the cache's tallies."""
    if required_node_matcher(pod) is not None:
        return False
    return all(cache.nodes_with_label[c.topology_key] == len(cache.nodes) for c in constraints)


def _set_min_counts(s: _FilterState) -> None:
    s.min_counts = []
    for i, c in enumerate(s.constraints):
        if s.domains[i] < c.min_domains:
            s.min_counts.append(0)  # too few domains: as if an empty one existed
        elif len(s.counts[i]) < s.domains[i]:
            s.min_counts.append(0)  # a domain without matching pods
        else:
            s.min_counts.append(min(s.counts[i].values()))


def _has_keys(node: NodeInfo, constraints: list[Constraint]) -> bool:
    return all(c.topology_key in node.labels for c in constraints)


class _FilterState:
    __slots__ = ("constraints", "counts", "min_counts", "domains", "eligible")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.counts: list[Mapping[str, int]] = []  # per constraint, domain -> matching pods (only domains)
        self.min_counts: list[int] = []
        self.domains: list[int] = []  # per constraint, how many domains there are
        self.eligible: set[str] | None = set()  # the nodes counted; None: every node


class PodTopologySpread(Plugin):
    name = "PodTopologySpread"

    # --- Filter ------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: Cache) -> Status | None:
        constraints = _constraints(pod, "DoNotSchedule")
        if not constraints:
            return SKIP
        s = _FilterState(constraints)
        if _every_node_counts(pod, constraints, cache):
            s.eligible = None
            s.counts = [_tally(cache, c, pod.namespace) for c in constraints]
            s.domains = [len(cache.node_label_values.get(c.topology_key, ())) for c in constraints]
        else:
            self._scan(s, pod, cache)
        _set_min_counts(s)
        state[self.name] = s
        return None

    @staticmethod
    def _scan(s: _FilterState, pod: PodInfo, cache: Cache) -> None:
        """Count node by node: only the nodes with every key that match the pod's node affinity."""
        eligible = required_node_matcher(pod)
        counts: list[Counter[str]] = [Counter() for _ in s.constraints]
        assert s.eligible is not None
        for node in cache.nodes:
            if not _has_keys(node, s.constraints) or (eligible is not None and not eligible(node.labels, node.name)):
                continue
            s.eligible.add(node.name)
            for i, c in enumerate(s.constraints):
                counts[i][node.labels[c.topology_key]] += _count_matching(node, c.selector, pod.namespace)
        s.counts = counts
        s.domains = [len(c) for c in counts]

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> None:
        """PreFilterExtensions.RemovePod: the counts as if ``removed`` were gone from ``node`` (preemption
        asks this of each victim). Writes a new state entry; the original is left alone."""
        old: _FilterState | None = state.get(self.name)
        if old is None or (old.eligible is not None and node.name not in old.eligible):
            return
        if removed.namespace != pod.namespace or removed.terminating:
            return
        s = _FilterState(old.constraints)
        s.counts, s.domains, s.eligible = [Counter(c) for c in old.counts], old.domains, old.eligible
        for i, c in enumerate(s.constraints):
            if c.selector(removed.labels):
                # Kept as an explicit 0: the domain is still there, now without matching pods.
                s.counts[i][node.labels[c.topology_key]] -= 1  # type: ignore[index]
        _set_min_counts(s)
        state[self.name] = s

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        s: _FilterState = state[self.name]
        for i, c in enumerate(s.constraints):
            value = node.labels.get(c.topology_key)
            if value is None:
                return REASON_MISSING_LABEL
            skew = s.counts[i].get(value, 0) + c.self_match - s.min_counts[i]
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
        if eligible is None:  # every node with the label counts: the cache's tallies have the sums
            for c in constraints:
                if c.topology_key != HOSTNAME:
                    tally = _tally(cache, c, pod.namespace)
                    for pair in counts:
                        if pair[0] == c.topology_key:  # constraints on one key share the count, as upstream's
                            counts[pair] += tally.get(pair[1], 0)
        else:
            self._count_eligible(pod, constraints, counts, eligible, cache)
        weights = [math.log(size + 2) for size in sizes]
        state[self.name + "/score"] = (constraints, counts, weights, ignored)
        return None

    @staticmethod
    def _count_eligible(pod: PodInfo, constraints: list[Constraint], counts: Counter[tuple[str, str]],
                        eligible: selectors.NodeMatcher, cache: Cache) -> None:
        for node in cache.nodes:
            if not _has_keys(node, constraints) or not eligible(node.labels, node.name):
                continue
            for c in constraints:
                pair = (c.topology_key, node.labels[c.topology_key])
                if c.topology_key != HOSTNAME and pair in counts:
                    counts[pair] += _count_matching(node, c.selector, pod.namespace)

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
