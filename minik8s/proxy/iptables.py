"""The rules view: the iptables rules kube-proxy's ``iptables`` mode would write for a service map.

minik8s forwards Service traffic in user space (no root needed), but on a real node kube-proxy
programs the kernel's NAT table instead, and ``iptables-save`` is how an engineer reads what it did.
This module prints that table for the same service map, in ``iptables-save``'s own format, so the
chapter can show exactly what a real node would hold:

* ``KUBE-SERVICES`` (nat) matches each ClusterIP:port, load-balancer IP and external IP and jumps to
  the port's ``KUBE-SVC-<hash>`` chain (or ``KUBE-EXT-<hash>`` for traffic from outside);
  ``KUBE-NODEPORTS`` does the same for NodePorts on any local address.
* ``KUBE-SVC-<hash>`` picks an endpoint at random: rule *i* of *n* matches with probability
  ``1/(n-i)``, the last one always, which gives each endpoint ``1/n`` overall. With ClientIP
  affinity, ``-m recent`` rules first send a known client back to its endpoint.
* ``KUBE-SEP-<hash>`` DNATs to one endpoint; ``KUBE-MARK-MASQ`` marks packets to SNAT on the way out.
* A port with no endpoints gets a ``REJECT`` rule in the filter table: the client sees "connection
  refused" at once rather than a time-out (``DROP`` when only a Local traffic policy leaves it without
  endpoints on this node).

Chain names are upstream's, so they match a real cluster's: the prefix plus the first 16 characters
of base32(sha256(service port name + lower-case protocol [+ endpoint "ip:port"])).
kube-proxy writes probabilities with ten decimals (``0.3333333333``); the kernel keeps them as a
32-bit fraction and ``iptables-save`` prints that back with eleven (``0.33333333349``), which is what
this view shows. Counters are shown as ``[0:0]``. Left out: the firewall, health-check and
conntrack plumbing that does not depend on Services.

Interface:
    chain_name(prefix, service_port_name, protocol, endpoint="") -> str   # "KUBE-SVC-XPGD46QRK7WJZT7O"
    render(service_map, cluster_cidr=None) -> str                       # iptables-save text
    probability(n) -> str                                                # "0.33333333349" for n = 3

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Iterable

from minik8s.proxy.servicemap import Endpoint, ServicePort

MASQ_MARK = "0x4000"
REJECT = "REJECT --reject-with icmp-port-unreachable"
NODEPORTS_COMMENT = "kubernetes service nodeports; NOTE: this must be the last rule in this chain"
BUILTIN = {"nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"), "filter": ("INPUT", "FORWARD", "OUTPUT")}
# iptables-save writes a comment bare only when it is made of these characters.
_BARE = set("_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def chain_name(prefix: str, service_port_name: str, protocol: str, endpoint: str = "") -> str:
    """Upstream's chain name: ``prefix`` + 16 characters of base32(sha256(name + protocol + endpoint))."""
    digest = hashlib.sha256((service_port_name + protocol.lower() + endpoint).encode()).digest()
    return prefix + base64.b32encode(digest).decode()[:16]


def probability(n: int) -> str:
    """How ``iptables-save`` prints kube-proxy's ``--probability`` 1/n: the kernel's 31-bit fraction."""
    fixed = round(0x80000000 * (1.0 / n))
    return f"{fixed / 0x80000000:.11f}"


def _quote(comment: str) -> str:
    return comment if comment and set(comment) <= _BARE else '"' + comment.replace('"', '\\"') + '"'


@dataclass
class Rule:
    """One ``-A`` line, rendered with its parts in the order ``iptables-save`` prints them."""
    chain: str
    target: str
    comment: str | None = None
    proto: str | None = None
    dst: str | None = None
    not_src: str | None = None
    src: str | None = None            # "10.244.1.2/32" or a CIDR
    first: list[str] = field(default_factory=list)    # matches printed before the comment
    before: list[str] = field(default_factory=list)   # matches printed before the protocol match
    dport: int | None = None
    after: list[str] = field(default_factory=list)    # matches printed after it

    def render(self) -> str:
        parts = ["-A", self.chain]
        if self.not_src:
            parts += ["!", "-s", self.not_src]
        if self.src:
            parts += ["-s", self.src]
        if self.dst:
            parts += ["-d", f"{self.dst}/32"]
        if self.proto:
            parts += ["-p", self.proto]
        parts += self.first
        if self.comment is not None:
            parts += ["-m", "comment", "--comment", _quote(self.comment)]
        parts += self.before
        if self.proto:
            parts += ["-m", self.proto] + (["--dport", str(self.dport)] if self.dport else [])
        parts += self.after
        return " ".join(parts + ["-j", self.target])


@dataclass
class _Tables:
    nat: list[Rule] = field(default_factory=list)
    filter: list[Rule] = field(default_factory=list)
    chains: dict[str, set[str]] = field(default_factory=lambda: {"nat": set(), "filter": set()})

    def add(self, table: str, rule: Rule) -> None:
        getattr(self, table).append(rule)
        self.chains[table].add(rule.chain)


def _endpoint_rules(t: _Tables, sp: ServicePort, chain: str, endpoints: tuple[Endpoint, ...]) -> None:
    """The random (and sticky) choice of an endpoint, as upstream's writeServiceToEndpointRules."""
    proto = sp.protocol.lower()
    seps = [chain_name("KUBE-SEP-", sp.name, proto, e.address) for e in endpoints]
    if sp.affinity_seconds:
        for endpoint, sep in zip(endpoints, seps):
            t.add("nat", Rule(chain, sep, f"{sp.name} -> {endpoint.address}", before=[
                "-m", "recent", "--rcheck", "--seconds", str(sp.affinity_seconds), "--reap", "--name", sep,
                "--mask", "255.255.255.255", "--rsource"]))
    for i, (endpoint, sep) in enumerate(zip(endpoints, seps)):
        left = len(endpoints) - i
        chance = ["-m", "statistic", "--mode", "random", "--probability", probability(left)] if left > 1 else []
        t.add("nat", Rule(chain, sep, f"{sp.name} -> {endpoint.address}", before=chance))


def _sep_rules(t: _Tables, sp: ServicePort, endpoint: Endpoint) -> None:
    proto = sp.protocol.lower()
    sep = chain_name("KUBE-SEP-", sp.name, proto, endpoint.address)
    sticky = ["-m", "recent", "--set", "--name", sep, "--mask", "255.255.255.255", "--rsource"] \
        if sp.affinity_seconds else []
    t.add("nat", Rule(sep, "KUBE-MARK-MASQ", sp.name, src=f"{endpoint.ip}/32"))
    t.add("nat", Rule(sep, f"DNAT --to-destination {endpoint.address}", sp.name, proto=proto, before=sticky))


def _filter(sp: ServicePort, local: bool) -> tuple[str, str]:
    """The filter rule's target and comment for traffic that has nowhere to go."""
    if local and sp.all_endpoints:
        return "DROP", f"{sp.name} has no local endpoints"
    return REJECT, f"{sp.name} has no endpoints"


def _service_rules(t: _Tables, sp: ServicePort, cluster_cidr: str | None) -> None:
    proto = sp.protocol.lower()
    svc, svl = chain_name("KUBE-SVC-", sp.name, proto), chain_name("KUBE-SVL-", sp.name, proto)
    ext = chain_name("KUBE-EXT-", sp.name, proto)
    internal = svl if sp.internal_local else svc
    # No endpoint at all: REJECT (the client learns at once). Endpoints, but none on this node for a
    # Local policy: DROP, as upstream does, so a load balancer's health check decides instead.
    internal_filter = _filter(sp, sp.internal_local)
    external_filter = _filter(sp, sp.external_local)
    if sp.cluster_endpoints:
        t.add("nat", Rule("KUBE-SERVICES", internal, f"{sp.name} cluster IP", proto, sp.cluster_ip, dport=sp.port))
    else:
        t.add("filter", Rule("KUBE-SERVICES", internal_filter[0], internal_filter[1], proto, sp.cluster_ip,
                             dport=sp.port))
    has_external = bool(sp.external_endpoints)
    for kind, ips in (("external IP", sp.external_ips), ("loadbalancer IP", sp.load_balancer_ips)):
        for ip in ips:
            if has_external:
                t.add("nat", Rule("KUBE-SERVICES", ext, f"{sp.name} {kind}", proto, ip, dport=sp.port))
            else:
                t.add("filter", Rule("KUBE-EXTERNAL-SERVICES", *external_filter, proto, ip, dport=sp.port))
    if sp.node_port:
        if has_external:
            t.add("nat", Rule("KUBE-NODEPORTS", ext, sp.name, proto, dport=sp.node_port))
        else:
            t.add("filter", Rule("KUBE-EXTERNAL-SERVICES", *external_filter, proto, dport=sp.node_port,
                                 before=["-m", "addrtype", "--dst-type", "LOCAL"]))
    if sp.externally_reachable and has_external:
        if sp.external_local:
            if cluster_cidr:
                t.add("nat", Rule(ext, svc, f"pod traffic for {sp.name} external destinations", src=cluster_cidr))
            local = ["-m", "addrtype", "--src-type", "LOCAL"]
            t.add("nat", Rule(ext, "KUBE-MARK-MASQ", f"masquerade LOCAL traffic for {sp.name} external destinations",
                              before=local))
            t.add("nat", Rule(ext, svc, f"route LOCAL traffic for {sp.name} external destinations", before=local))
            t.add("nat", Rule(ext, svl))
        else:
            t.add("nat", Rule(ext, "KUBE-MARK-MASQ", f"masquerade traffic for {sp.name} external destinations"))
            t.add("nat", Rule(ext, svc))
    uses_cluster = not sp.internal_local or (sp.externally_reachable and not sp.external_local)
    everywhere = sp.external_endpoints if sp.internal_local else sp.cluster_endpoints
    if uses_cluster and everywhere:
        if cluster_cidr:
            t.add("nat", Rule(svc, "KUBE-MARK-MASQ", f"{sp.name} cluster IP", proto, sp.cluster_ip,
                              not_src=cluster_cidr, dport=sp.port))
        _endpoint_rules(t, sp, svc, everywhere)
    local_endpoints = sp.cluster_endpoints if sp.internal_local else sp.external_endpoints
    uses_local = sp.internal_local or (sp.externally_reachable and sp.external_local)
    if uses_local and local_endpoints:
        _endpoint_rules(t, sp, svl, local_endpoints)
    reachable = {e.address: e for e in (*sp.cluster_endpoints, *sp.external_endpoints)}
    for address in sorted(reachable):
        _sep_rules(t, sp, reachable[address])


def _table(name: str, rules: list[Rule], chains: Iterable[str]) -> list[str]:
    lines = [f"*{name}"] + [f":{c} ACCEPT [0:0]" for c in BUILTIN[name]]
    user = sorted(set(chains) - set(BUILTIN[name]))
    lines += [f":{c} - [0:0]" for c in user]
    by_chain: dict[str, list[Rule]] = {}   # one pass, in order: scanning every rule per chain is quadratic
    for rule in rules:
        by_chain.setdefault(rule.chain, []).append(rule)
    for chain in (*BUILTIN[name], *user):
        lines += [r.render() for r in by_chain.get(chain, ())]
    return lines + ["COMMIT"]


def render(service_map: Iterable[ServicePort], cluster_cidr: str | None = None) -> str:
    """The ``iptables-save`` text of the filter and nat tables kube-proxy would write for ``service_map``.
    ``cluster_cidr``: the pod network; traffic from outside it to a ClusterIP is masqueraded."""
    t = _Tables()
    portals = "kubernetes service portals"
    new = ["-m", "conntrack", "--ctstate", "NEW"]
    visible = "kubernetes externally-visible service portals"
    for chain, target, comment in (("INPUT", "KUBE-EXTERNAL-SERVICES", visible), ("FORWARD", "KUBE-SERVICES", portals),
                                   ("FORWARD", "KUBE-EXTERNAL-SERVICES", visible), ("OUTPUT", "KUBE-SERVICES", portals)):
        t.add("filter", Rule(chain, target, comment, first=new))
    t.chains["filter"] |= {"KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES"}
    for chain in ("PREROUTING", "OUTPUT"):
        t.add("nat", Rule(chain, "KUBE-SERVICES", portals))
    t.add("nat", Rule("POSTROUTING", "KUBE-POSTROUTING", "kubernetes postrouting rules"))
    t.add("nat", Rule("KUBE-MARK-MASQ", f"MARK --set-xmark {MASQ_MARK}/{MASQ_MARK}"))
    t.add("nat", Rule("KUBE-POSTROUTING", "RETURN", before=["-m", "mark", "!", "--mark", f"{MASQ_MARK}/{MASQ_MARK}"]))
    t.add("nat", Rule("KUBE-POSTROUTING", f"MARK --set-xmark {MASQ_MARK}/0x0"))
    t.add("nat", Rule("KUBE-POSTROUTING", "MASQUERADE --random-fully", "kubernetes service traffic requiring SNAT"))
    t.chains["nat"] |= {"KUBE-NODEPORTS"}
    for sp in service_map:
        _service_rules(t, sp, cluster_cidr)
    t.add("nat", Rule("KUBE-SERVICES", "KUBE-NODEPORTS", NODEPORTS_COMMENT,
                      before=["-m", "addrtype", "--dst-type", "LOCAL"]))
    return "\n".join(_table("filter", t.filter, t.chains["filter"]) + _table("nat", t.nat, t.chains["nat"])) + "\n"
