"""The cluster's DNS records, built from Services and EndpointSlices as CoreDNS's ``kubernetes`` plugin.

Every record lives under the cluster domain (``cluster.local``):

==========================================================  ===========================================
name                                                        answer
==========================================================  ===========================================
``<svc>.<ns>.svc.cluster.local``                            A: the ClusterIP; for a headless Service the
                                                            ready endpoints' addresses (all of them with
                                                            ``publishNotReadyAddresses``); an ExternalName
                                                            Service: CNAME to its ``externalName``
``<host>.<svc>.<ns>.svc.cluster.local``                     A: one endpoint of a headless Service, named by
                                                            its ``hostname`` (a StatefulSet pod) or its
                                                            address with dashes (``10-244-1-5``)
``_<port>._<proto>.<svc>.<ns>.svc.cluster.local``           SRV for each named port: ``0 100 <port> <svc
                                                            name>`` (headless: one per endpoint name)
``<d>.<c>.<b>.<a>.in-addr.arpa``                            PTR: a ClusterIP to its Service, an endpoint
                                                            address to its endpoint name
``<a-b-c-d>.<ns>.pod.cluster.local``                        A: ``a.b.c.d`` (``pods insecure``: any well-formed
                                                            address, nothing checked; made when asked)
``cluster.local``                                           SOA and NS (the zone's apex)
==========================================================  ===========================================

Every record has TTL 30 (the ``ttl 30`` of the Corefile kubeadm installs; the plugin's own default is 5).
The records are plain data (``{name: {rdtype: [rdata as text]}}``, names absolute and lower-case) built by one
pure function, so a test builds them from dictionaries and a resolver answers from them without a cluster.

Interface:
    records = build(services, endpoint_slices, domain="cluster.local", serial=0, dns_ip=None, namespaces=())
    records.rrsets(name: dns.name.Name) -> {rdtype: [rdata]} | None;  records.exists(name) -> bool
    records.soa -> rdata;  records.zone -> dns.name.Name;  TTL

Taught in chapter 13 (the pod network and Services: cluster DNS).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

TTL = 30
# The SOA CoreDNS gives its zones: refresh, retry, expire and the negative-caching minimum.
SOA_TIMERS = "7200 1800 86400 30"

Rdata = dns.rdata.Rdata
RRSets = dict[int, list[Rdata]]

A = dns.rdatatype.A
CNAME = dns.rdatatype.CNAME
SRV = dns.rdatatype.SRV
PTR = dns.rdatatype.PTR


def _parse(texts: dict[int, list[str]]) -> RRSets:
    return {rdtype: [dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.RdataType.make(rdtype), text)
                     for text in found]
            for rdtype, found in texts.items()}


def _key(name: dns.name.Name) -> str:
    return name.to_text().lower()


def _reverse(address: str) -> str:
    return ".".join(reversed(address.split("."))) + ".in-addr.arpa."


@dataclass
class Records:
    """The zone: absolute, lower-case names to their records (see the module docstring).

    Records are kept as text and turned into dnspython's objects the first time a name is asked
    for: building the zone of a thousand Services stays a matter of milliseconds."""

    zone: dns.name.Name
    soa: Rdata
    names: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    # Every ancestor of a name inside the zone: a name that exists without records of its own.
    parents: set[str] = field(default_factory=set)
    _parsed: dict[str, RRSets] = field(default_factory=dict)

    def add(self, name: str, rdtype: int, rdata: str) -> None:
        found = self.names.setdefault(name, {}).setdefault(rdtype, [])
        if rdata not in found:
            found.append(rdata)
        self.touch(name.partition(".")[2])

    def touch(self, name: str) -> None:
        """Make ``name`` and its ancestors in the zone exist, even without records."""
        apex = self.zone.to_text().lower()
        while name.endswith("." + apex) and name not in self.parents:
            self.parents.add(name)
            name = name.partition(".")[2]

    def rrsets(self, name: dns.name.Name) -> RRSets | None:
        """The records of ``name``, synthesising a pod's A record (``pods insecure``); None if none."""
        key = _key(name)
        parsed = self._parsed.get(key)
        if parsed is not None:
            return parsed
        texts = self.names.get(key)
        if texts is None:
            return _pod_record(name, self.zone)
        try:
            parsed = _parse(texts)
        except dns.exception.DNSException:
            return None   # not a record DNS can carry (validation keeps these out)
        self._parsed[key] = parsed   # a benign race: two threads would store the same records
        return parsed

    def exists(self, name: dns.name.Name) -> bool:
        return _key(name) in self.parents or self.rrsets(name) is not None


def _pod_record(name: dns.name.Name, zone: dns.name.Name) -> RRSets | None:
    """``a-b-c-d.<ns>.pod.<zone>``: the address written in the name, checked for form only."""
    labels = name.relativize(zone).labels if name.is_subdomain(zone) else ()
    if len(labels) != 3 or labels[2].lower() != b"pod":
        return None
    try:
        address = ipaddress.IPv4Address(labels[0].decode("ascii").replace("-", "."))
    except (ValueError, UnicodeDecodeError):
        return None
    return _parse({A: [str(address)]})


def _ready_endpoints(service: dict[str, Any], slices: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """(endpoint name, address) of the endpoints DNS publishes: ready ones, or all with
    ``publishNotReadyAddresses``. The name is the endpoint's ``hostname`` or its address with dashes."""
    publish_all = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    found: list[tuple[str, str]] = []
    for piece in slices:
        if piece.get("addressType", "IPv4") != "IPv4":
            continue
        for endpoint in piece.get("endpoints") or []:
            ready = (endpoint.get("conditions") or {}).get("ready")
            if not publish_all and ready is False:
                continue   # upstream: a nil ready condition counts as ready
            for address in endpoint.get("addresses") or []:
                name = str(endpoint.get("hostname") or str(address).replace(".", "-"))
                if (name, str(address)) not in found:
                    found.append((name, str(address)))
    return found


def _named_ports(service: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(name, protocol, port) of the Service's named ports."""
    ports = (service.get("spec") or {}).get("ports") or []
    return [(str(p["name"]), str(p.get("protocol") or "TCP").lower(), int(p.get("port") or 0))
            for p in ports if isinstance(p, dict) and p.get("name")]


def _slices_by_service(slices: Iterable[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for piece in slices:
        meta = piece.get("metadata") or {}
        owner = (meta.get("labels") or {}).get("kubernetes.io/service-name")
        if owner:
            grouped.setdefault((str(meta.get("namespace") or ""), str(owner)), []).append(piece)
    return grouped


def _add_service(records: Records, service: dict[str, Any], slices: list[dict[str, Any]]) -> None:
    meta, spec = service.get("metadata") or {}, service.get("spec") or {}
    name = f"{meta.get('name', '')}.{meta.get('namespace', 'default')}.svc.{records.zone.to_text().lower()}".lower()
    kind = spec.get("type") or "ClusterIP"
    if kind == "ExternalName":
        if spec.get("externalName"):
            records.add(name, CNAME, str(spec["externalName"]).rstrip(".") + ".")
        return
    cluster_ip = str(spec.get("clusterIP") or "")
    ports = _named_ports(service)
    if cluster_ip and cluster_ip != "None":
        records.add(name, A, cluster_ip)
        records.add(_reverse(cluster_ip), PTR, name)
        for port_name, protocol, port in ports:
            records.add(f"_{port_name}._{protocol}.{name}".lower(), SRV, f"0 100 {port} {name}")
        return
    endpoints = _ready_endpoints(service, slices)
    weight = 100 // len(endpoints) if endpoints else 100
    for endpoint_name, address in endpoints:
        host = f"{endpoint_name}.{name}".lower()
        records.add(name, A, address)
        records.add(host, A, address)
        records.add(_reverse(address), PTR, host)
        for port_name, protocol, port in ports:
            records.add(f"_{port_name}._{protocol}.{name}".lower(), SRV, f"0 {weight} {port} {host}")
    if not endpoints:
        records.touch(name)   # a headless Service with no ready endpoint: the name exists, empty


def build(services: Iterable[dict[str, Any]], endpoint_slices: Iterable[dict[str, Any]], *,
          domain: str = "cluster.local", serial: int = 0, dns_ip: str | None = None,
          namespaces: Iterable[str] = ()) -> Records:
    """The zone's records from the API's Services and EndpointSlices (see the module docstring).
    ``namespaces``: those that exist: ``<ns>.svc.<zone>`` is then a name (NOERROR), as CoreDNS answers."""
    zone = dns.name.from_text(domain)
    apex = zone.to_text().lower()
    soa_text = f"ns.dns.{apex} hostmaster.{apex} {serial} {SOA_TIMERS}"
    records = Records(zone, dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SOA, soa_text))
    records.add(apex, dns.rdatatype.SOA, soa_text)
    records.add(apex, dns.rdatatype.NS, f"ns.dns.{apex}")
    if dns_ip:
        records.add(f"ns.dns.{apex}", A, dns_ip)
    for namespace in namespaces:
        records.touch(f"{namespace}.svc.{apex}".lower())
    by_service = _slices_by_service(endpoint_slices)
    for service in sorted(services, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
        meta = service.get("metadata") or {}
        _add_service(records, service, by_service.get((str(meta.get("namespace") or ""), str(meta.get("name"))), []))
    return records
