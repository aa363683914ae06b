"""kube-proxy: Service addresses made real on every node.

A Service's ClusterIP belongs to no machine and no pod; kube-proxy, running on every node, makes
traffic to it (and to NodePorts, load-balancer IPs and external IPs) reach one of the Service's ready
endpoints. minik8s splits it as upstream does: a component that watches and computes, and a
data-plane back-end that forwards.

========================  ==============================================================
module                    what it is
========================  ==============================================================
``servicemap``            the pure computation: Services + EndpointSlices -> service map
``proxy``                 ``KubeProxy``, the per-node component (one sync of the whole map)
``userspace``             back-end for ``process``/``docker``: real TCP/UDP forwarding, no root
``simulated``             back-end for ``simulated``: ``route(node, client, ip, port, proto)``
``iptables``              the rules view: what the iptables mode would write (iptables-save)
========================  ==============================================================

Interface:
    KubeProxy(ctx, node_name, backend)
    node_backend(runtime, node_name, node_ip, port_offset=0, router=None, seed=None) -> back-end
    process_node_ip(node_index) -> "127.1.<n+1>.1"
    rules(client, node="node-1", cluster_cidr=None) -> str   # iptables-save text for the cluster behind ``client``
    ServiceRouter (see :mod:`minik8s.proxy.simulated`)

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from minik8s.proxy import iptables, servicemap
from minik8s.proxy.proxy import ENDPOINTSLICES, SERVICES, Backend, KubeProxy
from minik8s.proxy.simulated import ServiceRouter, SimulatedProxier

__all__ = ["KubeProxy", "ServiceRouter", "node_backend", "process_node_ip", "rules"]


def process_node_ip(node_index: int) -> str:
    """The node's own address in the ``process`` runtime: the gateway of its pod CIDR ``127.1.<n+1>.0/24``."""
    return f"127.1.{node_index + 1}.1"


def node_backend(runtime: str, node_name: str, node_ip: str, port_offset: int = 0,
                 router: ServiceRouter | None = None, seed: Any = None, shared_addresses: bool = True) -> Backend:
    """The data plane of one node: a routing function in the simulated world, real sockets otherwise.
    ``shared_addresses``: whether this node's sockets serve the ClusterIPs and load-balancer addresses,
    which all nodes of one machine share (the first node's do; every node serves its own NodePorts)."""
    if runtime == "simulated":
        if router is None:
            raise ValueError("the simulated back-end needs the cluster's ServiceRouter")
        return SimulatedProxier(router, node_name, node_ip)
    from minik8s.proxy.userspace import UserspaceProxier

    return UserspaceProxier(node_ip=node_ip, port_offset=port_offset, seed=f"{seed}/kube-proxy/{node_name}",
                            shared_addresses=shared_addresses)


def _cluster_cidr(nodes: list[dict[str, Any]]) -> str | None:
    """The pod network: the /16 holding the nodes' pod CIDRs (kube-proxy's ``--cluster-cidr``)."""
    for node in nodes:
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr:
            return str(ipaddress.ip_network(cidr, strict=False).supernet(new_prefix=16))
    return None


def rules(client: Any, node: str = "node-1", cluster_cidr: str | None = None) -> str:
    """The iptables rules node ``node``'s kube-proxy would write, read through ``client`` (any Client).
    ``cluster_cidr`` (kube-proxy's ``--cluster-cidr``, the pod network) defaults to the /16 holding the
    Nodes' ``podCIDR``."""
    from minik8s.api import resources

    services = client.list(SERVICES).get("items") or []
    slices = client.list(ENDPOINTSLICES).get("items") or []
    if cluster_cidr is None:
        cluster_cidr = _cluster_cidr(client.list(resources.get("", "v1", "nodes")).get("items") or [])
    return iptables.render(servicemap.build(services, slices, node), cluster_cidr)
