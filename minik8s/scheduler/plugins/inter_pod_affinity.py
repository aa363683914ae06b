"""InterPodAffinity: place pods near (affinity) or away from (anti-affinity) other pods.

A term says "pods matching this selector, in these namespaces, within the same
``topologyKey`` domain" — the same node (``kubernetes.io/hostname``), the same zone
(``topology.kubernetes.io/zone``)... Domains are the values of that node label.

Filter, three checks in upstream's order, each with upstream's reason:
  * required affinity: in the node's domain there must already be a pod matching
    every term — ``node(s) didn't match pod affinity rules``. Exception: if no pod
    in the cluster matches and the pod matches its own terms, it may go anywhere
    with the topology labels (the first replica of a group with self-affinity);
  * required anti-affinity: no matching pod in the node's domain —
    ``node(s) didn't match pod anti-affinity rules``;
  * existing pods' required anti-affinity must not reject the incoming pod —
    ``node(s) didn't satisfy existing pods anti-affinity rules``.
PreFilter counts matching pods per (topologyKey, value) once, so Filter is a few
dictionary lookups per node. It Skips when the pod has no required terms and no
existing pod's required anti-affinity matches it.

Score: preferred terms of the pod (+weight / -weight for anti) and of existing pods
towards the incoming pod (existing required affinity counts with weight 1, upstream's
hardPodAffinityWeight), summed per domain; normalized to 0..100 between the lowest
and highest node.

How minik8s differs: ``namespaceSelector`` is honoured only when empty (all
namespaces); otherwise the ``namespaces`` list, or the pod's own namespace, is used.

Taught in chapter 9 (Scheduling), section "Inter-pod affinity and anti-affinity".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from minik8s.scheduler.cache import AffinityTerm, Cache, NodeInfo, PodInfo
from minik8s.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Plugin, Reason, Status, register

REASON_AFFINITY = "node(s) didn't match pod affinity rules"
REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1

TopologyPair = tuple[str, str]


class _FilterState:
    __slots__ = ("affinity_counts", "anti_affinity_counts", "existing_anti_affinity_counts", "existing_anti_keys")

    def __init__(self) -> None:
        self.affinity_counts: Counter[TopologyPair] = Counter()
        self.anti_affinity_counts: Counter[TopologyPair] = Counter()
        self.existing_anti_affinity_counts: Counter[TopologyPair] = Counter()
        self.existing_anti_keys: tuple[str, ...] = ()  # topology keys those counts use


def _matches_all(terms: Iterable[AffinityTerm], pod: PodInfo) -> bool:
    return all(term.matches(pod) for term in terms)


def _add(scores: Counter[TopologyPair], node: NodeInfo, terms: Iterable[AffinityTerm], target: PodInfo,
         sign: int, weight: int | None = None) -> None:
    """Credit (or debit) the node's domain for each term that ``target`` matches."""
    for term in terms:
        value = node.labels.get(term.topology_key)
        if value is not None and term.matches(target):
            scores[(term.topology_key, value)] += sign * (term.weight if weight is None else weight)


def _nodes(cache: Cache, names: Iterable[str]) -> list[NodeInfo]:
    return [info for info in (cache.get(n) for n in names) if info is not None]


class InterPodAffinity(Plugin):
    name = "InterPodAffinity"

    # --- Filter ------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: Cache) -> Status | None:
        has_required = bool(pod.required_affinity or pod.required_anti_affinity)
        if not has_required and not cache.nodes_with_required_anti_affinity_pods:
            return SKIP
        counts = _FilterState()
        for node in _nodes(cache, cache.nodes_with_required_anti_affinity_pods):
            for existing in node.pods_with_required_anti_affinity.values():
                for term in existing.required_anti_affinity:
                    value = node.labels.get(term.topology_key)
                    if value is not None and term.matches(pod):
                        counts.existing_anti_affinity_counts[(term.topology_key, value)] += 1
        counts.existing_anti_keys = tuple({key for key, _ in counts.existing_anti_affinity_counts})
        if not has_required and not counts.existing_anti_affinity_counts:
            return SKIP  # no existing pod's anti-affinity reaches this pod
        if has_required:
            for node in cache.nodes:
                for existing in node.pods.values():
                    self._count_required(pod, existing, node, counts)
        state[self.name] = counts
        return None

    @staticmethod
    def _count_required(pod: PodInfo, existing: PodInfo, node: NodeInfo, counts: _FilterState) -> None:
        if pod.required_affinity and _matches_all(pod.required_affinity, existing):
            for term in pod.required_affinity:
                value = node.labels.get(term.topology_key)
                if value is not None:
                    counts.affinity_counts[(term.topology_key, value)] += 1
        for term in pod.required_anti_affinity:
            value = node.labels.get(term.topology_key)
            if value is not None and term.matches(existing):
                counts.anti_affinity_counts[(term.topology_key, value)] += 1

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> None:
        """PreFilterExtensions.RemovePod: the counts as if ``removed`` were gone from ``node`` (preemption
        asks this of each victim). Writes a new state entry; the original counts are left alone."""
        old: _FilterState | None = state.get(self.name)
        if old is None:
            return
        counts = _FilterState()
        counts.affinity_counts = old.affinity_counts.copy()
        counts.anti_affinity_counts = old.anti_affinity_counts.copy()
        counts.existing_anti_affinity_counts = old.existing_anti_affinity_counts.copy()
        counts.existing_anti_keys = old.existing_anti_keys
        undo = _FilterState()
        self._count_required(pod, removed, node, undo)
        for term in removed.required_anti_affinity:
            value = node.labels.get(term.topology_key)
            if value is not None and term.matches(pod):
                undo.existing_anti_affinity_counts[(term.topology_key, value)] += 1
        counts.affinity_counts.subtract(undo.affinity_counts)
        counts.anti_affinity_counts.subtract(undo.anti_affinity_counts)
        counts.existing_anti_affinity_counts.subtract(undo.existing_anti_affinity_counts)
        state[self.name] = counts

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        counts: _FilterState = state[self.name]
        if pod.required_affinity and not self._satisfies_affinity(pod, node, counts):
            return REASON_AFFINITY
        for term in pod.required_anti_affinity:
            value = node.labels.get(term.topology_key)
            if value is not None and counts.anti_affinity_counts[(term.topology_key, value)] > 0:
                return REASON_ANTI_AFFINITY
        labels = node.labels
        for key in counts.existing_anti_keys:  # usually just kubernetes.io/hostname
            if key in labels and counts.existing_anti_affinity_counts[(key, labels[key])] > 0:
                return REASON_EXISTING_ANTI_AFFINITY
        return None

    @staticmethod
    def _satisfies_affinity(pod: PodInfo, node: NodeInfo, counts: _FilterState) -> bool:
        pods_exist = True
        for term in pod.required_affinity:
            value = node.labels.get(term.topology_key)
            if value is None:
                return False  # the node must have every topology label
            if counts.affinity_counts[(term.topology_key, value)] <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first pod of a group with affinity to itself must be able to start somewhere.
        return not counts.affinity_counts and _matches_all(pod.required_affinity, pod)

    # --- Score -------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], cache: Cache) -> Status | None:
        has_preferred = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        # Without preferred terms of its own, only nodes hosting pods with affinity matter.
        candidates = cache.nodes if has_preferred else _nodes(cache, cache.nodes_with_affinity_pods)
        scores: Counter[TopologyPair] = Counter()
        for node in candidates:
            if not node.labels:
                continue
            existing_pods = node.pods.values() if has_preferred else node.pods_with_affinity.values()
            for existing in existing_pods:
                self._score_existing(pod, existing, node, scores)
        if not any(scores.values()):
            return SKIP
        state[self.name + "/score"] = (scores, tuple({key for key, _ in scores}))
        return None

    @staticmethod
    def _score_existing(pod: PodInfo, existing: PodInfo, node: NodeInfo, scores: Counter[TopologyPair]) -> None:
        _add(scores, node, pod.preferred_affinity, existing, +1)
        _add(scores, node, pod.preferred_anti_affinity, existing, -1)
        if existing.has_affinity:
            _add(scores, node, existing.required_affinity, pod, +1, HARD_POD_AFFINITY_WEIGHT)
            _add(scores, node, existing.preferred_affinity, pod, +1)
            _add(scores, node, existing.preferred_anti_affinity, pod, -1)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores, keys = state[self.name + "/score"]
        labels = node.labels
        return sum(scores.get((key, labels[key]), 0) for key in keys if key in labels)

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        if not scores:
            return
        lowest, highest = min(scores), max(scores)
        spread = highest - lowest
        for i, s in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * (s - lowest) / spread) if spread > 0 else 0


register(InterPodAffinity.name, InterPodAffinity)
