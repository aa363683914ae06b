"""NodeName: a pod that names its node (``spec.nodeName``) fits only there.

Filter reason (upstream wording): ``node(s) didn't match the requested node name``.
A pod that reaches the scheduler normally has no ``nodeName`` (setting it bypasses
the scheduler), so PreFilter usually answers Skip.

Taught in chapter 11 (Scheduling).
"""

from __future__ import annotations

from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo
from minik8s.scheduler.framework import SKIP, CycleState, Plugin, Reason, Status, register

REASON = "node(s) didn't match the requested node name"


class NodeName(Plugin):
    name = "NodeName"

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: Cache) -> Status | None:
        return None if pod.node_name else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        return None if not pod.node_name or pod.node_name == node.name else REASON


register(NodeName.name, NodeName)
