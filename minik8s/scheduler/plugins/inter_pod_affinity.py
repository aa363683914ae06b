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
existing pod's required anti-affinity matches it. The counts for one term come
from the cache's tallies (``Cache.tally``), kept current as pods come and go, and
existing pods' terms are checked once per distinct term (``Cache.affinity_terms``),
not once per pod: a decision costs the number of distinct terms, not of pods.

Score: preferred terms of the pod (+weight / -weight for anti) and of existing pods
towards the incoming pod (existing required affinity counts with weight 1, upstream's
hardPodAffinityWeight), summed per domain; normalized to 0..100 between the lowest
and highest node.

How minik8s differs: ``namespaceSelector`` is honoured only when empty (all
namespaces); otherwise the ``namespaces`` list, or the pod's own namespace, is used.

Taught in chapter 11 (Scheduling), section "Inter-pod affinity and anti-affinity".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from minik8s.scheduler.cache import AffinityTerm, Cache, NodeInfo, PodInfo
from minik8s.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Plugin, Reason, Status, register

REASON_AFFINITY = "node(s) didn't match pod affinity rules"
REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1

TopologyPair = tuple[str, str]


# Per term: its topology key and how many pods it counts per domain (value of that key).
Domains = list[tuple[str, Mapping[str, int]]]
# Per distinct term of existing pods: the term, and how many pods carry it per domain of its topology key.
TermDomains = list[tuple[AffinityTerm, Mapping[str, int]]]
SIGNS = {"required_affinity": +1, "preferred_affinity": +1, "preferred_anti_affinity": -1}


class _FilterState:
    __slots__ = ("affinity_counts", "anti_affinity", "existing_anti")

    def __init__(self) -> None:
        self.affinity_counts: Counter[TopologyPair] = Counter()  # pods matching every required affinity term
        self.anti_affinity: Domains = []   # per required anti-affinity term of the pod, the pods it matches
        self.existing_anti: TermDomains = []  # existing pods' required anti-affinity terms that match the pod


def _term_domains(cache: Cache, term: AffinityTerm) -> Mapping[str, int]:
    """How many pods ``term`` matches, per value of its topology key (a tally the cache keeps)."""
    return cache.tally(("pods", term.group), term.topology_key, lambda p: 1 if term.matches(p) else 0)


def _existing_domains(cache: Cache, kind: str, term: AffinityTerm) -> Mapping[str, int]:
    """How many existing pods' ``kind`` terms equal to ``term`` there are, per domain."""
    group = term.group
    return cache.tally((kind, group), term.topology_key,
                       lambda p: sum(1 for t in getattr(p, kind) if t.group == group))


def _existing_terms_matching(cache: Cache, kind: str, pod: PodInfo) -> TermDomains:
    """Existing pods' ``kind`` terms that match ``pod``, one entry per distinct term, with their domains."""
    found = []
    for term, _ in cache.affinity_terms[kind].values():
        if term.matches(pod):
            domains = _existing_domains(cache, kind, term)
            if domains:
                found.append((term, domains))
    return found


def _matches_all(terms: Iterable[AffinityTerm], pod: PodInfo) -> bool:
    return all(term.matches(pod) for term in terms)


class InterPodAffinity(Plugin):
    name = "InterPodAffinity"

    # --- Filter ------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: Cache) -> Status | None:
        has_required = bool(pod.required_affinity or pod.required_anti_affinity)
        if not has_required and not cache.affinity_terms["required_anti_affinity"]:
            return SKIP
        counts = _FilterState()
        counts.existing_anti = _existing_terms_matching(cache, "required_anti_affinity", pod)
        if not has_required and not counts.existing_anti:
            return SKIP  # no existing pod's anti-affinity reaches this pod
        counts.anti_affinity = [(term.topology_key, _term_domains(cache, term)) for term in pod.required_anti_affinity]
        if pod.required_affinity:
            for node in cache.nodes:
                for existing in node.pods.values():
                    self._count_affinity(pod, existing, node, counts.affinity_counts, +1)
        state[self.name] = counts
        return None

    @staticmethod
    def _count_affinity(pod: PodInfo, existing: PodInfo, node: NodeInfo, counts: Counter[TopologyPair],
                        sign: int) -> None:
        """An existing pod counts for required affinity only if it matches every term."""
        if pod.required_affinity and _matches_all(pod.required_affinity, existing):
            for term in pod.required_affinity:
                value = node.labels.get(term.topology_key)
                if value is not None:
                    counts[(term.topology_key, value)] += sign

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> None:
        """PreFilterExtensions.RemovePod: the counts as if ``removed`` were gone from ``node`` (preemption
        asks this of each victim). Writes a new state entry; the original counts are left alone."""
        old: _FilterState | None = state.get(self.name)
        if old is None:
            return
        counts = _FilterState()
        counts.affinity_counts = old.affinity_counts.copy()
        self._count_affinity(pod, removed, node, counts.affinity_counts, -1)
        for term, (key, domains) in zip(pod.required_anti_affinity, old.anti_affinity):
            value = node.labels.get(key)
            if value is not None and term.matches(removed):
                domains = Counter(domains)
                domains[value] -= 1
            counts.anti_affinity.append((key, domains))
        for term, domains in old.existing_anti:
            value = node.labels.get(term.topology_key)
            gone = sum(1 for t in removed.required_anti_affinity if t.group == term.group)
            if value is not None and gone:
                domains = Counter(domains)
                domains[value] -= gone
            counts.existing_anti.append((term, domains))
        state[self.name] = counts

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        counts: _FilterState = state[self.name]
        if pod.required_affinity and not self._satisfies_affinity(pod, node, counts):
            return REASON_AFFINITY
        labels = node.labels
        for key, domains in counts.anti_affinity:
            if key in labels and domains.get(labels[key], 0) > 0:
                return REASON_ANTI_AFFINITY
        for term, domains in counts.existing_anti:  # usually one term, on kubernetes.io/hostname
            key = term.topology_key
            if key in labels and domains.get(labels[key], 0) > 0:
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
        # Each part: a topology key, pods (or existing terms) per domain, and the weight of one.
        parts: list[tuple[str, Mapping[str, int], int]] = []
        for term in pod.preferred_affinity:
            parts.append((term.topology_key, _term_domains(cache, term), term.weight))
        for term in pod.preferred_anti_affinity:
            parts.append((term.topology_key, _term_domains(cache, term), -term.weight))
        for kind, sign in SIGNS.items():
            for term, domains in _existing_terms_matching(cache, kind, pod):
                weight = HARD_POD_AFFINITY_WEIGHT if kind == "required_affinity" else term.weight
                parts.append((term.topology_key, domains, sign * weight))
        parts = [(key, domains, weight) for key, domains, weight in parts if domains and weight]
        if any(weight < 0 for _, _, weight in parts) and any(weight > 0 for _, _, weight in parts):
            parts = self._sum(parts)  # attraction and repulsion may cancel out: add them up to know
        if not parts:
            return SKIP  # no domain scores anything
        state[self.name + "/score"] = parts
        return None

    @staticmethod
    def _sum(parts: list[tuple[str, Mapping[str, int], int]]) -> list[tuple[str, Mapping[str, int], int]]:
        """The parts added up per topology key; the domains whose total is not zero."""
        totals: dict[str, Counter[str]] = {}
        for key, domains, weight in parts:
            total = totals.setdefault(key, Counter())
            for value, count in domains.items():
                total[value] += count * weight
        return [(key, Counter({v: t for v, t in total.items() if t}), 1)
                for key, total in totals.items() if any(total.values())]

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        labels = node.labels
        return sum(domains.get(labels[key], 0) * weight
                   for key, domains, weight in state[self.name + "/score"] if key in labels)

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        if not scores:
            return
        lowest, highest = min(scores), max(scores)
        spread = highest - lowest
        for i, s in enumerate(scores):
            scores[i] = int(MAX_NODE_SCORE * (s - lowest) / spread) if spread > 0 else 0


register(InterPodAffinity.name, InterPodAffinity)
