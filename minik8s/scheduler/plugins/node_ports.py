"""NodePorts: two pods cannot bind the same host port on one node.

A container port with ``hostPort`` claims (hostIP, protocol, port) on the node;
``0.0.0.0`` (the default hostIP) conflicts with every address. Filter reason
(upstream wording): ``node(s) didn't have free ports for the requested pod ports``.

Taught in chapter 11 (Scheduling).
"""

from __future__ import annotations

from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo
from minik8s.scheduler.framework import SKIP, CycleState, Plugin, Reason, Status, register

REASON = "node(s) didn't have free ports for the requested pod ports"
ANY_IP = "0.0.0.0"


def _conflicts(wanted: tuple[str, str, int], used: tuple[str, str, int]) -> bool:
    ip, protocol, port = wanted
    used_ip, used_protocol, used_port = used
    return port == used_port and protocol == used_protocol and (ip == used_ip or ANY_IP in (ip, used_ip))


class NodePorts(Plugin):
    name = "NodePorts"

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: Cache) -> Status | None:
        return None if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        for wanted in pod.host_ports:
            if any(_conflicts(wanted, used) for used in node.used_ports):
                return REASON
        return None


register(NodePorts.name, NodePorts)
