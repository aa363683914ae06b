"""NetworkPolicy validation (upstream ``pkg/apis/networking/validation``, ``ValidateNetworkPolicy``).

A policy's selectors must be valid label selectors; each ``from``/``to`` peer names at least one of
``podSelector``, ``namespaceSelector``, ``ipBlock``, and an ``ipBlock`` stands alone. An ``ipBlock``
has a ``cidr`` and ``except`` entries that are CIDRs strictly inside it. A port's ``protocol`` is TCP,
UDP or SCTP; a numeric ``port`` is 1-65535, a named one a valid port name; ``endPort`` needs a numeric
``port`` and is not below it. ``policyTypes`` holds at most two entries, each Ingress or Egress.

Interface:
    _network_policy(obj) -> Errors
    is_cidr(text) -> bool          # Go's ParseCIDR: an address, a slash, a prefix length

Taught in the chapter "Ingress and NetworkPolicy" (issue 18).
"""

from __future__ import annotations

import ipaddress
import re

from minik8s.api.errors import forbidden_field, invalid_value, not_supported, required
from minik8s.api.validation.fields import Errors, Obj, _dicts, _invalid, _list, _map, _validate_selector_syntax
from minik8s.api.validation.names import PORT_RANGE_MSG, is_port_name

PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICY_TYPES = ("Ingress", "Egress")
CIDR_MSG = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


def is_cidr(text: object) -> bool:
    if not isinstance(text, str) or not re.fullmatch(r"[0-9A-Fa-f.:]+/\d{1,3}", text):
        return False
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _ip_block(block: Obj, path: str) -> Errors:
    cidr = block.get("cidr")
    if not cidr:
        return [required(f"{path}.cidr")]
    if not is_cidr(cidr):
        return [invalid_value(f"{path}.cidr", cidr, CIDR_MSG)]
    errs: Errors = []
    network = ipaddress.ip_network(cidr, strict=False)
    for i, text in enumerate(_list(block, "except")):
        here = f"{path}.except[{i}]"
        if not is_cidr(text):
            errs.append(invalid_value(here, text, CIDR_MSG))
            continue
        inner = ipaddress.ip_network(text, strict=False)
        # Go: the except's address inside cidr, and a longer prefix (a strict subset)
        if (inner.version != network.version or inner.network_address not in network
                or inner.prefixlen <= network.prefixlen):
            errs.append(invalid_value(here, text, "must be a strict subset of `cidr`"))
    return errs


def _peer(peer: Obj, path: str) -> Errors:
    errs: Errors = []
    count = 0
    for key in ("podSelector", "namespaceSelector"):
        if peer.get(key) is not None:
            count += 1
            errs += _validate_selector_syntax(peer[key], f"{path}.{key}")
    if peer.get("ipBlock") is not None:
        count += 1
        errs += _ip_block(_map(peer, "ipBlock"), f"{path}.ipBlock")
    if count == 0:
        errs.append(required(path, "must specify a peer"))
    elif count > 1 and peer.get("ipBlock") is not None:
        errs.append(forbidden_field(path, "may not specify both ipBlock and another peer"))
    return errs


def _port(entry: Obj, path: str) -> Errors:
    errs: Errors = []
    protocol = entry.get("protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    port, end = entry.get("port"), entry.get("endPort")
    if port is None:
        if end is not None:
            errs.append(invalid_value(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    elif isinstance(port, int):
        if not 1 <= port <= 65535:
            errs.append(invalid_value(f"{path}.port", port, PORT_RANGE_MSG))
        if isinstance(end, int):
            if end < port:   # upstream shows the port's value here, not endPort's
                errs.append(invalid_value(f"{path}.endPort", port, "must be greater than or equal to `port`"))
            if not 1 <= end <= 65535:
                errs.append(invalid_value(f"{path}.endPort", end, PORT_RANGE_MSG))
    else:
        if end is not None:
            errs.append(invalid_value(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
        errs += [invalid_value(f"{path}.port", port, msg) for msg in is_port_name(str(port))]
    return errs


def _network_policy(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    errs = _validate_selector_syntax(spec.get("podSelector"), "spec.podSelector")
    for direction, peers_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in _dicts(spec, direction):
            path = f"spec.{direction}[{i}]"
            ports = [e for j, p in _dicts(rule, "ports") for e in _port(p, f"{path}.ports[{j}]")]
            peers = [e for j, p in _dicts(rule, peers_key) for e in _peer(p, f"{path}.{peers_key}[{j}]")]
            errs += ports + peers if direction == "ingress" else peers + ports   # upstream's order
    types = _list(spec, "policyTypes")
    if len(types) > len(POLICY_TYPES):
        shown = "[]networking.PolicyType{" + ", ".join(f'"{t}"' for t in types) + "}"
        return errs + [_invalid("spec.policyTypes", shown, "may not specify more than two policyTypes")]
    for i, kind in enumerate(types):
        if kind not in POLICY_TYPES:
            errs.append(not_supported(f"spec.policyTypes[{i}]", kind, POLICY_TYPES))
    return errs
