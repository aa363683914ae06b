"""The service map: what every kube-proxy back-end programs, computed from Services and EndpointSlices.

A Service is a promise ("traffic to 10.96.0.5:80 reaches one of these pods"); kube-proxy keeps it
on every node. Whatever the back-end (iptables rules, nftables, IPVS, or minik8s's userspace
forwarder), the first step is the same pure computation: for each port of each Service, which
addresses receive traffic (the ClusterIP, the NodePort on the node's addresses, load-balancer
ingress IPs, ``externalIPs``) and which endpoints may serve it.

Upstream's rules, reproduced here:

* Headless Services (``clusterIP: None``) and ``ExternalName`` Services get no rules: DNS serves them.
* Endpoints come from the EndpointSlices labelled ``kubernetes.io/service-name=<service>``; an
  endpoint's port is the slice port whose *name* equals the Service port's name (and protocol).
  An endpoint appearing in two slices counts once.
* Only **ready** endpoints get traffic (``conditions.ready`` absent means ready). When *no* endpoint
  is ready, endpoints that are still serving while terminating are used instead (the
  terminating-endpoint fallback, so a rolling update does not drop connections).
* ``internalTrafficPolicy: Local`` sends ClusterIP traffic only to this node's endpoints;
  ``externalTrafficPolicy: Local`` does the same for NodePort, load-balancer and external IPs.
* ``sessionAffinity: ClientIP`` keeps a client on one endpoint for
  ``sessionAffinityConfig.clientIP.timeoutSeconds`` (default 10800, three hours).

Interface:
    build(services, slices, node_name) -> list[ServicePort]     (pure; sorted by name)
    ServicePort: name ("ns/svc:port"), protocol, cluster_ip, port, node_port, load_balancer_ips,
        external_ips, affinity_seconds (0: none), cluster_endpoints, external_endpoints, all_endpoints
    Endpoint: ip, port, node, ready, serving, terminating
    EndpointPicker(rng, clock).pick(name, endpoints, affinity_seconds, client_ip) -> Endpoint | None

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_AFFINITY_SECONDS = 10800   # upstream's default sessionAffinityConfig.clientIP.timeoutSeconds
MAX_AFFINITY_ENTRIES = 65536       # remembered (service port, client IP) pairs, at most


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    node: str | None = None
    ready: bool = True
    serving: bool = True
    terminating: bool = False

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    service: str
    port_name: str
    protocol: str                     # "TCP", "UDP" or "SCTP"
    cluster_ip: str
    port: int
    node_port: int = 0
    load_balancer_ips: tuple[str, ...] = ()
    external_ips: tuple[str, ...] = ()
    affinity_seconds: int = 0         # 0: no session affinity
    internal_local: bool = False
    external_local: bool = False
    all_endpoints: tuple[Endpoint, ...] = ()        # every endpoint of the port, whatever its state
    cluster_endpoints: tuple[Endpoint, ...] = field(default=())   # ClusterIP traffic goes to these
    external_endpoints: tuple[Endpoint, ...] = field(default=())  # NodePort, LB and external IP traffic

    @property
    def name(self) -> str:
        """Upstream's ``ServicePortName``: ``ns/svc:port``, or ``ns/svc`` for an unnamed port."""
        base = f"{self.namespace}/{self.service}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def externally_reachable(self) -> bool:
        return bool(self.node_port or self.load_balancer_ips or self.external_ips)


def _is_proxied(service: dict[str, Any]) -> bool:
    spec = service.get("spec") or {}
    ip = spec.get("clusterIP")
    return spec.get("type") != "ExternalName" and bool(ip) and ip != "None"


def _endpoints_of(port_name: str, protocol: str, slices: Iterable[dict[str, Any]]) -> list[Endpoint]:
    """Every IPv4 endpoint of the slices for one Service port, each once, ordered as upstream orders them
    (by the text ``ip:port``, so that the rules it writes are the same on every sync)."""
    found: dict[str, Endpoint] = {}
    for slice_ in slices:
        if slice_.get("addressType", "IPv4") != "IPv4":
            continue
        ports = [p for p in slice_.get("ports") or [] if (p.get("name") or "") == port_name
                 and (p.get("protocol") or "TCP") == protocol and p.get("port")]
        if not ports:
            continue
        number = int(ports[0]["port"])
        for ep in slice_.get("endpoints") or []:
            addresses = ep.get("addresses") or []
            if not addresses:
                continue
            conditions = ep.get("conditions") or {}
            ready = conditions.get("ready") is not False       # absent means ready
            serving = conditions.get("serving", ready) is not False
            endpoint = Endpoint(addresses[0], number, ep.get("nodeName"), ready, serving,
                                conditions.get("terminating") is True)
            found.setdefault(endpoint.address, endpoint)
    return sorted(found.values(), key=lambda e: e.address)


def usable(endpoints: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    """The ready endpoints; if none is ready, the ones serving while terminating (upstream's fallback)."""
    endpoints = list(endpoints)
    ready = tuple(e for e in endpoints if e.ready)
    return ready or tuple(e for e in endpoints if e.serving and e.terminating)


def _service_ports(service: dict[str, Any], slices: list[dict[str, Any]], node_name: str) -> list[ServicePort]:
    meta, spec = service.get("metadata") or {}, service.get("spec") or {}
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        client_ip = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
        affinity = int(client_ip.get("timeoutSeconds") or DEFAULT_AFFINITY_SECONDS)
    internal_local = spec.get("internalTrafficPolicy") == "Local"
    external_local = spec.get("externalTrafficPolicy") == "Local"
    result = []
    for port in spec.get("ports") or []:
        protocol = port.get("protocol") or "TCP"
        endpoints = _endpoints_of(port.get("name") or "", protocol, slices)
        everywhere = usable(endpoints)
        here = usable(e for e in endpoints if e.node == node_name)
        result.append(ServicePort(
            namespace=meta.get("namespace", "default"), service=meta.get("name", ""),
            port_name=port.get("name") or "", protocol=protocol, cluster_ip=spec["clusterIP"],
            port=int(port["port"]), node_port=int(port.get("nodePort") or 0),
            load_balancer_ips=tuple(i["ip"] for i in ingress if i.get("ip")),
            external_ips=tuple(spec.get("externalIPs") or ()), affinity_seconds=affinity,
            internal_local=internal_local, external_local=external_local, all_endpoints=tuple(endpoints),
            cluster_endpoints=here if internal_local else everywhere,
            external_endpoints=here if external_local else everywhere))
    return result


def build(services: Iterable[dict[str, Any]], slices: Iterable[dict[str, Any]], node_name: str) -> list[ServicePort]:
    """The service map of node ``node_name``: one entry per port of every proxied Service."""
    by_service: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for slice_ in slices:
        meta = slice_.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if owner:
            by_service.setdefault((meta.get("namespace", "default"), owner), []).append(slice_)
    result: list[ServicePort] = []
    for service in services:
        if not _is_proxied(service):
            continue
        meta = service.get("metadata") or {}
        key = (meta.get("namespace", "default"), meta.get("name", ""))
        result += _service_ports(service, by_service.get(key, []), node_name)
    return sorted(result, key=lambda p: (p.namespace, p.service, p.port_name, p.protocol))


class EndpointPicker:
    """How every back-end picks an endpoint for a new connection: at random from the usable ones, or,
    with ClientIP affinity, the client's previous endpoint until it has been idle for the timeout
    (as the ``recent`` match of upstream's rules, refreshed by every new connection).
    ``rng`` and ``clock`` are injected so the simulated back-end is deterministic."""

    def __init__(self, rng: random.Random, clock: Callable[[], float]):
        self.rng = rng
        self.clock = clock
        self._sticky: dict[tuple[str, str], tuple[str, float]] = {}   # (port name, client) -> (endpoint, last)

    def pick(self, sp_name: str, endpoints: tuple[Endpoint, ...], affinity_seconds: int,
             client_ip: str) -> Endpoint | None:
        if not endpoints:
            return None
        now = self.clock()
        key = (sp_name, client_ip)
        if affinity_seconds:
            address, last = self._sticky.get(key, ("", 0.0))
            for endpoint in endpoints:
                if endpoint.address == address and now - last <= affinity_seconds:
                    self._sticky[key] = (address, now)
                    return endpoint
        endpoint = self.rng.choice(endpoints)
        if affinity_seconds:
            if len(self._sticky) >= MAX_AFFINITY_ENTRIES:
                self._forget_expired(now, affinity_seconds)
            self._sticky[key] = (endpoint.address, now)
        return endpoint

    def _forget_expired(self, now: float, seconds: int) -> None:
        for key, (_, last) in list(self._sticky.items()):
            if now - last > seconds:
                del self._sticky[key]
        while len(self._sticky) >= MAX_AFFINITY_ENTRIES:   # still full: drop the oldest
            del self._sticky[next(iter(self._sticky))]
