"""NodeUnschedulable: a cordoned node (``spec.unschedulable: true``) takes no new pods.

``kubectl cordon`` sets the field. A pod that tolerates the taint
``node.kubernetes.io/unschedulable:NoSchedule`` may still land there (DaemonSet pods
carry that toleration). Filter reason (upstream wording): ``node(s) were unschedulable``.

Taught in chapter 11 (Scheduling) and chapter 16 (Node maintenance: cordon and drain).
"""

from __future__ import annotations

from minik8s.scheduler.cache import NodeInfo, PodInfo
from minik8s.scheduler.framework import CycleState, Plugin, Reason, register
from minik8s.scheduler.plugins.taint_toleration import tolerates

REASON = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


class NodeUnschedulable(Plugin):
    name = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        if not node.unschedulable:
            return None
        if any(tolerates(t, UNSCHEDULABLE_TAINT) for t in pod.tolerations):
            return None
        return REASON


register(NodeUnschedulable.name, NodeUnschedulable)
