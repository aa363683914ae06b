"""NetworkPolicy as packet-filter rules (netns mode): what a CNI plugin's policy agent writes.

kube-proxy does not enforce NetworkPolicy; the network plugin does (Calico's Felix, Cilium). In netns
mode this agent plays that part: it watches Pods, Namespaces and NetworkPolicies, asks the decision
module (:mod:`minik8s.api.networkpolicy`) what is allowed, and writes the answer as one nftables table,
``mk8s-<id>-policy``, loaded in one transaction on every change:

* chain ``FORWARD`` (hooked on forward: pod-to-pod traffic, routed between bridges or, with
  ``br_netfilter``, bridged on one) accepts replies first (``ct state established,related``: a
  connection admitted once is never decided again), then sends a packet from an egress-isolated pod
  to its ``EGRESS-<hash>`` chain and a packet to an ingress-isolated pod to its ``INGRESS-<hash>``;
* each per-pod chain ``return``\\ s what some rule allows (peers by address, ports by number) and drops
  the rest.

The decision is asked, not re-implemented: for each pair of pods the port space is cut where any
policy's port numbers, ranges and (resolved) named ports begin and end, and one port of each piece is
asked; the address space outside the pods is cut at the ipBlocks' edges in the same way.
Traffic from the host (the kubelet's probes) does not pass ``FORWARD``, and is allowed, as upstream's
plugins allow the node.

Interface:
    table_script(table, pods, policies, namespaces) -> nft script (pure)
    PolicyRules(ctx, plan)       # the component; stop() deletes the table

Taught in the chapter "Ingress and NetworkPolicy".
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any, Hashable

from minik8s import hostnet
from minik8s.api import networkpolicy, resources
from minik8s.api.networkpolicy import Peer
from minik8s.api.resources import Resource
from minik8s.controllers.controller import Context, Controller

PODS = resources.lookup("pods")
NAMESPACES = resources.get("", "v1", "namespaces")
POLICIES = resources.get("networking.k8s.io", "v1", "networkpolicies")
PROTOCOLS = ("TCP", "UDP", "SCTP")
SYNC = "sync"
LAST_PORT, LAST_IP = 65535, (1 << 32) - 1


def _chain(prefix: str, pod: Peer) -> str:
    return prefix + hashlib.sha256(f"{pod.namespace}/{pod.ip}".encode()).hexdigest()[:12].upper()


def _port_edges(policies: list[dict[str, Any]], server: Peer) -> list[int]:
    """Where the decision may change along the port space: every number, range end and named port."""
    edges = {1}
    for policy in policies:
        spec = policy.get("spec") or {}
        for rule in [*(spec.get("ingress") or []), *(spec.get("egress") or [])]:
            for entry in rule.get("ports") or []:
                port = entry.get("port")
                if isinstance(port, str) and not port.isdigit():
                    number = server.named_ports.get(port)
                    low = high = number[0] if number else None
                elif port is not None:
                    low = int(port)
                    high = entry["endPort"] if isinstance(entry.get("endPort"), int) else low
                else:
                    continue
                if low is not None and high is not None:
                    edges |= {low, high + 1}
    return sorted(e for e in edges if 1 <= e <= LAST_PORT)


def _address_edges(policies: list[dict[str, Any]]) -> list[int]:
    """Where the decision may change along the address space: every ipBlock's and except's edges."""
    edges = {0}
    for policy in policies:
        spec = policy.get("spec") or {}
        for rule in [*(spec.get("ingress") or []), *(spec.get("egress") or [])]:
            for peer in [*(rule.get("from") or []), *(rule.get("to") or [])]:
                block = peer.get("ipBlock") or {}
                for cidr in [block.get("cidr"), *(block.get("except") or [])]:
                    try:
                        net = ipaddress.IPv4Network(cidr, strict=False)
                    except (ValueError, TypeError):
                        continue
                    edges |= {int(net.network_address), int(net.broadcast_address) + 1}
    return sorted(e for e in edges if e <= LAST_IP)


def _pieces(edges: list[int], last: int) -> list[tuple[int, int]]:
    return [(low, (edges[i + 1] - 1) if i + 1 < len(edges) else last) for i, low in enumerate(edges)]


def _ports_allowed(ask: Any, server: Peer, policies: list[dict[str, Any]]) -> list[str]:
    """nft port matches (``tcp dport { 80, 8000-8100 }``) for the ports ``ask(port, protocol)`` allows."""
    matches = []
    for protocol in PROTOCOLS:
        spans: list[tuple[int, int]] = []
        for low, high in _pieces(_port_edges(policies, server), LAST_PORT):
            if not ask(low, protocol):
                continue
            if spans and spans[-1][1] + 1 == low:
                spans[-1] = (spans[-1][0], high)   # adjacent pieces allowed alike: one span
            else:
                spans.append((low, high))
        if spans == [(1, LAST_PORT)]:
            matches.append(f"meta l4proto {protocol.lower()}")
        elif spans:
            items = ", ".join(str(low) if low == high else f"{low}-{high}" for low, high in spans)
            matches.append(f"{protocol.lower()} dport {{ {items} }}")
    return matches


def _addresses(low: int, high: int) -> str:
    return f"{ipaddress.IPv4Address(low)}-{ipaddress.IPv4Address(high)}" if low != high else str(
        ipaddress.IPv4Address(low))


def table_script(table: str, pods: list[dict[str, Any]], policies: list[dict[str, Any]],
                 namespaces: dict[str, dict[str, str]]) -> str:
    """The nft script that replaces ``table`` with the rules enforcing ``policies`` between ``pods``."""
    peers = [Peer.pod(p) for p in pods if (p.get("status") or {}).get("podIP")]
    lines = [f"add table ip {table}", f"delete table ip {table}", f"add table ip {table}",
             f"add chain ip {table} FORWARD {{ type filter hook forward priority filter; policy accept; }}",
             f"add rule ip {table} FORWARD ct state established,related accept"]
    ranges = _pieces(_address_edges(policies), LAST_IP)
    for pod in peers:
        for direction, prefix, match in ((networkpolicy.EGRESS, "EGRESS-", "saddr"),
                                         (networkpolicy.INGRESS, "INGRESS-", "daddr")):
            if not networkpolicy.isolated(pod.namespace or "", pod.labels, policies, direction):
                continue
            chain = _chain(prefix, pod)
            lines += [f"add chain ip {table} {chain}", f"add rule ip {table} FORWARD ip {match} {pod.ip} jump {chain}"]
            other_match = "daddr" if match == "saddr" else "saddr"

            def ask(other: Peer, port: int, protocol: str, pod: Peer = pod, direction: str = direction) -> bool:
                src, dst = (pod, other) if direction == networkpolicy.EGRESS else (other, pod)
                verdict = networkpolicy.explain(src, dst, port, protocol, policies, namespaces)
                side = verdict.egress if direction == networkpolicy.EGRESS else verdict.ingress
                return verdict.loopback or side.allowed

            for other in peers:
                server = other if direction == networkpolicy.EGRESS else pod
                for ports in _ports_allowed(lambda port, proto, o=other: ask(o, port, proto), server, policies):
                    lines.append(f"add rule ip {table} {chain} ip {other_match} {other.ip} {ports} return")
            for low, high in ranges:
                outside = Peer.external(str(ipaddress.IPv4Address(low)))
                server = outside if direction == networkpolicy.EGRESS else pod
                for ports in _ports_allowed(lambda port, proto, o=outside: ask(o, port, proto), server, policies):
                    lines.append(f"add rule ip {table} {chain} ip {other_match} {_addresses(low, high)} {ports} return")
            lines.append(f"add rule ip {table} {chain} drop")
    return "\n".join(lines) + "\n"


class PolicyRules(Controller):
    """The netns mode's policy agent (see the module docstring); one per cluster."""

    name = "network-policy-agent"
    watches = (PODS, NAMESPACES, POLICIES)

    def __init__(self, ctx: Context, plan: Any):
        self.table = f"{hostnet.PREFIX}{plan.cluster_id}-policy"
        self._tables = hostnet.Tables(self.table)
        super().__init__(ctx)
        self.queue.add(SYNC)

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        return [SYNC]

    def reconcile(self, key: Any) -> None:
        namespaces = {(n.get("metadata") or {}).get("name", ""): dict((n.get("metadata") or {}).get("labels") or {})
                      for n in self.informer(NAMESPACES).list()}
        running = [p for p in self.informer(PODS).list() if not (p.get("spec") or {}).get("hostNetwork")]
        script = table_script(self.table, running, list(self.informer(POLICIES).list()), namespaces)
        self._tables.load(script)

    def ruleset(self) -> str:
        return self._tables.script

    def stop(self) -> None:
        self._tables.delete()
