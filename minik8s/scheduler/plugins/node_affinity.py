"""NodeAffinity: ``nodeSelector`` and node affinity rules choose nodes by their labels.

Filter: the node must carry every ``nodeSelector`` label *and* match at least one
``requiredDuringSchedulingIgnoredDuringExecution`` term (terms are ORed; the
expressions inside a term are ANDed; operators In, NotIn, Exists, DoesNotExist, Gt,
Lt; ``matchFields`` on ``metadata.name``). Reason (upstream wording):
``node(s) didn't match Pod's node affinity/selector``.

PreFilter: Skip when the pod has neither; when every required term names nodes
with ``matchFields metadata.name In [...]``, only those nodes are candidates (the
others are reported as ``node(s) didn't satisfy plugin(s) [NodeAffinity]``).

Score: the sum of the weights of the matching ``preferred...`` terms, normalized
so the best node gets 100.

Interface:
    required_node_matcher(pod) -> NodeMatcher | None   # also used by PodTopologySpread

Taught in chapter 11 (Scheduling), section "Node affinity".
"""

from __future__ import annotations

from typing import Any

from minik8s.scheduler import selectors
from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo
from minik8s.scheduler.framework import (
    SKIP, CycleState, Plugin, PreFilterResult, Reason, Status, default_normalize, register,
)


REASON = "node(s) didn't match Pod's node affinity/selector"
REASON_CONFLICT = "pod affinity terms conflict"


def _node_affinity(pod: PodInfo) -> dict[str, Any]:
    return ((pod.pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}


def required_node_matcher(pod: PodInfo) -> selectors.NodeMatcher | None:
    """``nodeSelector`` AND required node affinity, or None if the pod has neither."""
    node_selector: dict[str, str] = (pod.pod.get("spec") or {}).get("nodeSelector") or {}
    required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
    if not node_selector and required is None:
        return None
    wanted = tuple(node_selector.items())
    terms = selectors.node_selector_terms(required.get("nodeSelectorTerms") or []) if required is not None else None

    def matches(labels: selectors.Labels, name: str) -> bool:
        for key, value in wanted:
            if labels.get(key) != value:
                return False
        return terms is None or terms(labels, name)

    return matches


def _named_nodes(required: dict[str, Any]) -> frozenset[str] | None:
    """Nodes named by ``matchFields metadata.name In`` in every term, or None if any term names none."""
    names: set[str] = set()
    for term in required.get("nodeSelectorTerms") or []:
        term_names: set[str] | None = None
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In":
                values = set(field.get("values") or [])
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None  # this term can match any node, and terms are ORed
        names |= term_names
    return frozenset(names)


class NodeAffinity(Plugin):
    name = "NodeAffinity"

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: Cache) -> Status | PreFilterResult | None:
        matcher = required_node_matcher(pod)
        if matcher is None:
            return SKIP
        state[self.name] = matcher
        required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
        if not required or not required.get("nodeSelectorTerms"):
            return None
        names = _named_nodes(required)
        if names is None:
            return None
        if not names:
            return Status("UnschedulableAndUnresolvable", (REASON_CONFLICT,))
        return PreFilterResult(names)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        return None if state[self.name](node.labels, node.name) else REASON

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], cache: Cache) -> Status | None:
        preferred = _node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []
        if not preferred:
            return SKIP
        state[self.name + "/score"] = [
            (int(p.get("weight", 0)), selectors.node_selector_term(p.get("preference") or {})) for p in preferred
        ]
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return sum(weight for weight, term in state[self.name + "/score"] if term(node.labels, node.name))

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize(scores, reverse=False)


register(NodeAffinity.name, NodeAffinity)
