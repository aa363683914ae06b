"""``kubectl describe networkpolicy``, laid out as upstream's ``NetworkPolicyDescriber``.

Name, namespace, ``Created on`` (Go's ``time.Time`` string), labels and annotations, then the spec
in words: the pods it selects, for each direction it isolates the rules it allows (``To Port`` and
``To Port Range`` lines, then the ``From``/``To`` peers, rules separated by a dashed line) or ``Not
affecting ... traffic``, and the policy types. Upstream's describer stops there; minik8s adds the Events section, because
that is where a runtime that cannot enforce the policy says so (``NetworkPolicyNotEnforced``).

Interface:
    describe_networkpolicy(client, policy, now) -> str

Taught in the chapter "Ingress and NetworkPolicy" (issue 18).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.api.networkpolicy import EGRESS, INGRESS
from minik8s.api.selectors import format_label_selector
from minik8s.api.duration import parse_time
from minik8s.kubectl.describe.writer import (Obj, _annotations, _header, _labels, _meta, _spec, _Writer,
                                             describe_events, search_events)

_INDENT = "    "   # upstream's initialIndent for the rules


def _go_time(timestamp: str | None) -> str:
    """metav1.Time printed with %s: ``2006-01-02 15:04:05 +0000 UTC``."""
    if not timestamp:
        return "0001-01-01 00:00:00 +0000 UTC"
    return parse_time(timestamp).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def _rules(w: _Writer, rules: list[Obj], direction: str) -> None:
    peers_key, word, unrestricted = (("from", "From", "source") if direction == INGRESS
                                     else ("to", "To", "destination"))
    if not rules:
        w.write(0, f"{_INDENT}<none> (Selected pods are isolated for {direction.lower()} connectivity)\n")
        return
    for i, rule in enumerate(rules):
        ports = rule.get("ports") or []
        if not ports:
            w.write(0, f"{_INDENT}To Port: <any> (traffic allowed to all ports)\n")
        for port in ports:
            number, protocol = port.get("port"), port.get("protocol") or "TCP"
            if port.get("endPort") is not None:
                w.write(0, f"{_INDENT}To Port Range: {number}-{port['endPort']}/{protocol}\n")
            else:
                w.write(0, f"{_INDENT}To Port: {'<nil>' if number is None else number}/{protocol}\n")
        peers = rule.get(peers_key) or []
        if not peers:
            w.write(0, f"{_INDENT}{word}: <any> (traffic not restricted by {unrestricted})\n")
        for peer in peers:
            w.write(0, f"{_INDENT}{word}:\n")
            if peer.get("namespaceSelector") is not None:
                w.write(1, f"{_INDENT}NamespaceSelector: {format_label_selector(peer['namespaceSelector'])}\n")
            if peer.get("podSelector") is not None:
                w.write(1, f"{_INDENT}PodSelector: {format_label_selector(peer['podSelector'])}\n")
            if peer.get("ipBlock") is not None and peer.get("podSelector") is None and (
                    peer.get("namespaceSelector") is None):
                block = peer["ipBlock"]
                w.write(1, f"{_INDENT}IPBlock:\n")
                w.write(2, f"{_INDENT}CIDR: {block.get('cidr', '')}\n")
                w.write(2, f"{_INDENT}Except: {', '.join(block.get('except') or [])}\n")
        if i != len(rules) - 1:
            w.write(0, f"{_INDENT}----------\n")


def describe_networkpolicy(client: Any, policy: Obj, now: datetime) -> str:
    w = _Writer()
    meta, spec = _meta(policy), _spec(policy)
    _header(w, policy)
    w.write(0, f"Created on:\t{_go_time(meta.get('creationTimestamp'))}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, "Annotations", meta.get("annotations"))
    w.write(0, "Spec:\n")
    selector = spec.get("podSelector") or {}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        w.write(1, "PodSelector:     <none> (Allowing the specific traffic to all pods in this namespace)\n")
    else:
        w.write(1, f"PodSelector:     {format_label_selector(selector)}\n")
    types = spec.get("policyTypes") or []
    for direction, key in ((INGRESS, "ingress"), (EGRESS, "egress")):
        if direction in types:
            w.write(1, f"Allowing {key} traffic:\n")
            _rules(w, spec.get(key) or [], direction)
        else:
            w.write(1, f"Not affecting {key} traffic\n")
    w.write(1, f"Policy Types: {', '.join(types)}\n")
    describe_events(w, search_events(client, policy), now)
    return w.text()
