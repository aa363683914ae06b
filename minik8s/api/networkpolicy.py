"""NetworkPolicy: which new connections the pod network lets through (a pure decision).

A NetworkPolicy selects pods of its namespace (``spec.podSelector``) and, for the directions named in
``spec.policyTypes``, *isolates* them: once any policy isolates a pod for ingress, only connections
that some ingress rule of some policy selecting it allows may reach it; the same for egress. Pods no
policy selects are not isolated and talk to everyone. Policies only ever add allowed traffic (their
rules are a union); there are no deny rules. A connection needs both ends' consent: the source pod's
egress and the destination pod's ingress. What this module decides is the *new* connection; the
replies of a connection once admitted are never decided again (connection tracking lets them pass).

Rule semantics, as upstream's API reference defines them:

* ``from`` / ``to`` missing or empty: every peer. Otherwise the peers are a union (OR); inside one peer,
  ``namespaceSelector`` and ``podSelector`` together mean pods matching both (AND); a ``podSelector``
  alone means pods of the policy's own namespace; ``namespaceSelector: {}`` means every namespace.
* ``ipBlock``: addresses in ``cidr`` and not in any ``except``. Upstream leaves it to the implementation
  whether it matches pod IPs; minik8s matches any address, pod or not (as upstream's netpol e2e tests
  expect, and as Calico does). Peers with selectors never match an address outside the cluster.
* ``ports`` missing or empty: every port. Otherwise a port entry matches its ``protocol`` (TCP when
  missing) and a number, a number range ``port``..``endPort``, a port *name* (resolved against the
  destination pod's container ports: the egress rule of a client and the ingress rule of a server
  both look at the server's names), or with no ``port`` every port of that protocol.
* ``policyTypes`` missing: ``Ingress``, plus ``Egress`` when the policy has egress rules (the API
  server's defaulting writes this in; it is applied here too for objects that bypassed it).

Implementation choice, said out loud: a pod reaching its own IP never leaves its network namespace,
so it is always allowed (upstream's e2e matrix allows that "loopback" too).

Interface (the simulated network, a netns rule writer and the labs all use these):
    Peer.pod(pod_object)        # a pod's end: IP, namespace, labels, named container ports
    Peer.external(ip)           # an address that is not a pod (outside the cluster, a node)
    allowed(src, dst, port, protocol, policies, namespaces) -> bool
        policies: NetworkPolicy objects (any namespaces); namespaces: {name: labels}
    explain(src, dst, port, protocol, policies, namespaces) -> Verdict
        Verdict.allowed, .egress / .ingress (Direction: isolated, selecting policies, allowing rules),
        str(verdict) -> a few lines saying which policy allowed or why it was denied
    isolated(pod_namespace, pod_labels, policies, "Ingress"|"Egress") -> list of the isolating policies
    policy_types(policy) -> the effective policyTypes

Invariants: pure functions of their arguments (no clock, no I/O, no cache); never raise on a policy
that passed validation; an unparseable selector or CIDR selects nothing.

Taught in the chapter "Ingress and NetworkPolicy" (issue 18; chapter 13 teaches the pod network).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from minik8s.api.selectors import from_label_selector

Obj = dict[str, Any]
INGRESS, EGRESS = "Ingress", "Egress"


@dataclass(frozen=True)
class Peer:
    """One end of a connection. ``namespace`` is None for an address that is no pod."""
    ip: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    # container port name -> (number, protocol): what a named port in a rule resolves to
    named_ports: Mapping[str, tuple[int, str]] = field(default_factory=dict)

    @classmethod
    def pod(cls, pod: Obj) -> "Peer":
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        ports: dict[str, tuple[int, str]] = {}
        for container in spec.get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("name") and isinstance(port.get("containerPort"), int):
                    ports.setdefault(port["name"], (port["containerPort"], port.get("protocol") or "TCP"))
        return cls((pod.get("status") or {}).get("podIP") or "", meta.get("namespace") or "default",
                   dict(meta.get("labels") or {}), ports)

    @classmethod
    def external(cls, ip: str) -> "Peer":
        return cls(ip)

    @property
    def is_pod(self) -> bool:
        return self.namespace is not None

    def __str__(self) -> str:
        return f"{self.namespace}/{self.ip}" if self.is_pod else self.ip


@dataclass(frozen=True)
class Direction:
    """One end's side of the decision: is it isolated in this direction, and by whom; which rules allow."""
    direction: str                    # "Ingress" (the destination's) or "Egress" (the source's)
    isolated_by: tuple[str, ...]      # "namespace/name" of each policy isolating the pod this way
    allowed_by: tuple[str, ...]       # "namespace/name ingress[i]" of each rule that allows

    @property
    def allowed(self) -> bool:
        return not self.isolated_by or bool(self.allowed_by)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    egress: Direction
    ingress: Direction
    loopback: bool = False

    def __str__(self) -> str:
        if self.loopback:
            return "allowed: a pod reaching itself never leaves its network namespace"
        lines = [("allowed" if self.allowed else "denied")]
        for side, who in ((self.egress, "source"), (self.ingress, "destination")):
            name = side.direction.lower()
            if not side.isolated_by:
                lines.append(f"  {name}: the {who} is not isolated for {name} (no policy selects it with "
                             f"{side.direction} in policyTypes)")
            elif side.allowed_by:
                lines.append(f"  {name}: allowed by {', '.join(side.allowed_by)}")
            else:
                lines.append(f"  {name}: denied: the {who} is isolated by {', '.join(side.isolated_by)} "
                             "and no rule of theirs matches")
        return "\n".join(lines)


def policy_types(policy: Obj) -> list[str]:
    """``spec.policyTypes``, or its default: Ingress, and Egress when there are egress rules."""
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        return list(types)
    return [INGRESS, EGRESS] if spec.get("egress") else [INGRESS]


def _name(policy: Obj) -> str:
    meta = policy.get("metadata") or {}
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"


def _selects(selector: Any, labels: Mapping[str, str]) -> bool:
    try:
        return from_label_selector(selector if isinstance(selector, dict) else None).matches(dict(labels))
    except (ValueError, TypeError, AttributeError):
        return False


def _applies(policy: Obj, namespace: str, labels: Mapping[str, str]) -> bool:
    """Does the policy select this pod? (its own namespace, its podSelector; ``{}`` is every pod)"""
    if (policy.get("metadata") or {}).get("namespace", "default") != namespace:
        return False
    return _selects((policy.get("spec") or {}).get("podSelector") or {}, labels)


def isolated(namespace: str, labels: Mapping[str, str], policies: Iterable[Obj], direction: str) -> list[Obj]:
    """The policies that isolate the pod ``namespace``/``labels`` for ``direction``."""
    return [p for p in policies if _applies(p, namespace, labels) and direction in policy_types(p)]


def _in_block(ip: str, block: Obj) -> bool:
    try:
        address = ipaddress.ip_address(ip)
        if address not in ipaddress.ip_network(block.get("cidr", ""), strict=False):
            return False
        return not any(address in ipaddress.ip_network(e, strict=False) for e in block.get("except") or [])
    except (ValueError, TypeError):
        return False


def _peer_matches(peer: Obj, other: Peer, policy_namespace: str, namespaces: Mapping[str, Mapping[str, str]]) -> bool:
    """Does one ``from``/``to`` entry match the other end of the connection?"""
    if peer.get("ipBlock") is not None:
        return _in_block(other.ip, peer["ipBlock"])
    if not other.is_pod:
        return False
    pod_selector, ns_selector = peer.get("podSelector"), peer.get("namespaceSelector")
    if ns_selector is not None:
        if not _selects(ns_selector, namespaces.get(other.namespace or "", {})):
            return False
    elif other.namespace != policy_namespace:
        return False
    return pod_selector is None or _selects(pod_selector, other.labels)


def _port_matches(entry: Obj, port: int, protocol: str, server: Peer) -> bool:
    if (entry.get("protocol") or "TCP") != protocol:
        return False
    wanted = entry.get("port")
    if wanted is None:
        return True
    if isinstance(wanted, str) and not wanted.isdigit():
        named = server.named_ports.get(wanted)
        return named is not None and named == (port, protocol)
    low = int(wanted)
    high = entry.get("endPort") if isinstance(entry.get("endPort"), int) else low
    return low <= port <= high


def _rules_allowing(policy: Obj, direction: str, other: Peer, port: int, protocol: str, server: Peer,
                    namespaces: Mapping[str, Mapping[str, str]]) -> list[str]:
    key, peers_key = ("ingress", "from") if direction == INGRESS else ("egress", "to")
    namespace = (policy.get("metadata") or {}).get("namespace", "default")
    found = []
    for index, rule in enumerate((policy.get("spec") or {}).get(key) or []):
        peers, ports = rule.get(peers_key) or [], rule.get("ports") or []
        if peers and not any(_peer_matches(p, other, namespace, namespaces) for p in peers):
            continue
        if ports and not any(_port_matches(p, port, protocol, server) for p in ports):
            continue
        found.append(f"{_name(policy)} {key}[{index}]")
    return found


def _direction(direction: str, pod: Peer, other: Peer, port: int, protocol: str, server: Peer,
               policies: list[Obj], namespaces: Mapping[str, Mapping[str, str]]) -> Direction:
    if not pod.is_pod:   # an address outside the cluster: no policy speaks for it
        return Direction(direction, (), ())
    isolating = isolated(pod.namespace or "", pod.labels, policies, direction)
    allowing = [rule for p in isolating for rule in _rules_allowing(p, direction, other, port, protocol, server,
                                                                   namespaces)]
    return Direction(direction, tuple(_name(p) for p in isolating), tuple(allowing))


def explain(src: Peer, dst: Peer, port: int, protocol: str, policies: Iterable[Obj],
            namespaces: Mapping[str, Mapping[str, str]]) -> Verdict:
    """The decision on a new connection ``src`` -> ``dst:port/protocol``, with its reasons."""
    protocol = protocol.upper()
    policies = list(policies)
    egress = _direction(EGRESS, src, dst, port, protocol, dst, policies, namespaces)
    ingress = _direction(INGRESS, dst, src, port, protocol, dst, policies, namespaces)
    if src.is_pod and src.ip and src.ip == dst.ip:
        return Verdict(True, egress, ingress, loopback=True)
    return Verdict(egress.allowed and ingress.allowed, egress, ingress)


def allowed(src: Peer, dst: Peer, port: int, protocol: str, policies: Iterable[Obj],
            namespaces: Mapping[str, Mapping[str, str]]) -> bool:
    """May ``src`` open a connection to ``dst`` on ``port``/``protocol``? (see :func:`explain`)"""
    return explain(src, dst, port, protocol, policies, namespaces).allowed
