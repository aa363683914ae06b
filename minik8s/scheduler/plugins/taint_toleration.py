"""TaintToleration: a node's taints repel pods that do not tolerate them.

Filter: a ``NoSchedule`` or ``NoExecute`` taint the pod does not tolerate rejects the
node, with upstream's reason ``node(s) had untolerated taint {KEY: VALUE}`` (the first
such taint). Score: fewer untolerated ``PreferNoSchedule`` taints is better
(normalized in reverse, so a node with none scores 100).

Interface:
    tolerates(toleration, taint) -> bool     # upstream Toleration.ToleratesTaint (minik8s.api.tolerations)
    untolerated_taint(taints, tolerations) -> taint | None
    TaintToleration                          # the plugin

Taught in chapter 11 (Scheduling), section "Taints and tolerations".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minik8s.api.tolerations import tolerates
from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo
from minik8s.scheduler.framework import CycleState, Plugin, Reason, Status, default_normalize, register

Taint = dict[str, Any]
Toleration = dict[str, Any]


def untolerated_taint(taints: Iterable[Taint], tolerations: list[Toleration]) -> Taint | None:
    """The first taint that no toleration tolerates, or None."""
    for taint in taints:
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


class TaintToleration(Plugin):
    name = "TaintToleration"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        if not node.hard_taints:  # the common case: nothing to check
            return None
        taint = untolerated_taint(node.hard_taints, pod.tolerations)
        if taint is None:
            return None
        return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value') or ''}}}"

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], cache: Cache) -> Status | None:
        # Only tolerations that can apply to PreferNoSchedule taints matter for scoring.
        state[self.name] = [t for t in pod.tolerations if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"]
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if not node.soft_taints:
            return 0
        tolerations = state[self.name]
        return sum(1 for taint in node.soft_taints if not any(tolerates(t, taint) for t in tolerations))

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize(scores, reverse=True)


register(TaintToleration.name, TaintToleration)
