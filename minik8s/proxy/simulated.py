"""The simulated back-end: the same service map as a pure routing function, for the ``simulated`` runtime.

In the simulated runtime nothing really listens: a pod's ``curl`` or ``nc`` is played out by the
simulated pod network, which asks this module where a packet to a given address goes. The answer is
what the kernel's NAT rules would decide on a real node (:mod:`minik8s.proxy.iptables` prints those
rules): a ClusterIP, a NodePort on a node's address, a load-balancer or external IP is rewritten to
an endpoint chosen from the service map; any other address is left alone; a Service port with no
usable endpoint answers ``None``, meaning "connection refused" (upstream's ``REJECT``).
A ClusterIP on a port its Service does not have is not rewritten either: as in the iptables mode,
nothing answers there (the pod network decides what "nothing" looks like).

The choice is made by a generator seeded from the cluster's seed and the affinity runs on the
cluster's (virtual) clock, so the same script gives the same routes every time.

Interface:
    router = ServiceRouter(clock, seed)            # one per cluster: Cluster.service_router
    router.route(node, client_ip, dst_ip, dst_port, protocol) -> tuple[str, int] | None
        node: where the client runs ("" or unknown: the first node, as a client outside the
        cluster reaching it through a node); protocol: "TCP" or "UDP" (any case).
    SimulatedProxier(router, node, node_ip)        # one per node: the kube-proxy's back-end
    SimulatedProxier.sync(service_map)

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import random
from typing import Callable, Iterable

from minik8s.proxy.servicemap import Endpoint, EndpointPicker, ServicePort


class ServiceRouter:
    def __init__(self, clock: Callable[[], float], seed: int | str | None = None):
        self._maps: dict[str, list[ServicePort]] = {}
        self._node_ips: dict[str, str] = {}
        self._picker = EndpointPicker(random.Random(seed), clock)

    def update(self, node: str, node_ip: str, service_map: Iterable[ServicePort]) -> None:
        self._maps[node] = list(service_map)
        self._node_ips[node] = node_ip

    def _pick(self, sp: ServicePort, endpoints: tuple[Endpoint, ...], client_ip: str) -> tuple[str, int] | None:
        endpoint = self._picker.pick(sp.name, endpoints, sp.affinity_seconds, client_ip)
        return None if endpoint is None else (endpoint.ip, endpoint.port)

    def route(self, node: str, client_ip: str, dst_ip: str, dst_port: int,
              protocol: str) -> tuple[str, int] | None:
        """Where a new connection from ``client_ip`` on ``node`` to ``dst_ip:dst_port`` ends up."""
        protocol = protocol.upper()
        for target, ip in self._node_ips.items():
            if ip == dst_ip:  # a NodePort is served by the node it was sent to
                for sp in self._maps.get(target, []):
                    if sp.node_port == dst_port and sp.protocol == protocol:
                        return self._pick(sp, sp.external_endpoints, client_ip)
                return (dst_ip, dst_port)
        here = node if node in self._maps else next(iter(sorted(self._maps)), "")
        for sp in self._maps.get(here, []):
            if sp.protocol != protocol or sp.port != dst_port:
                continue
            if dst_ip == sp.cluster_ip:
                return self._pick(sp, sp.cluster_endpoints, client_ip)
            if dst_ip in sp.load_balancer_ips or dst_ip in sp.external_ips:
                return self._pick(sp, sp.external_endpoints, client_ip)
        return (dst_ip, dst_port)


class SimulatedProxier:
    """One node's share of the router: its service map (Local traffic policies differ per node)."""

    def __init__(self, router: ServiceRouter, node: str, node_ip: str):
        self.router = router
        self.node = node
        self.node_ip = node_ip

    def sync(self, service_map: Iterable[ServicePort]) -> None:
        self.router.update(self.node, self.node_ip, service_map)

    def stop(self) -> None:
        pass
