"""The NetworkPolicy decision (minik8s.api.networkpolicy), as a pure function: upstream's semantics case by case."""

from __future__ import annotations

from minik8s.api.networkpolicy import EGRESS, INGRESS, Peer, allowed, explain, isolated, policy_types

NAMESPACES = {"x": {"ns": "x"}, "y": {"ns": "y"}, "z": {"ns": "z"}}


def pod(namespace: str, name: str, ip: str, ports: list[dict] | None = None) -> Peer:
    return Peer.pod({"metadata": {"namespace": namespace, "name": name, "labels": {"pod": name}},
                     "spec": {"containers": [{"name": "c", "ports": ports or []}]}, "status": {"podIP": ip}})


XA, XB, YA, YB, ZC = (pod("x", "a", "10.0.0.1"), pod("x", "b", "10.0.0.2"), pod("y", "a", "10.0.1.1"),
                      pod("y", "b", "10.0.1.2"), pod("z", "c", "10.0.2.3"))
OUTSIDE = Peer.external("192.168.5.5")


def policy(namespace: str, spec: dict, name: str = "p") -> dict:
    return {"metadata": {"namespace": namespace, "name": name}, "spec": spec}


def ok(src: Peer, dst: Peer, *policies: dict, port: int = 80, protocol: str = "TCP") -> bool:
    return allowed(src, dst, port, protocol, list(policies), NAMESPACES)


def test_no_policy_allows_everything():
    assert ok(YA, XA) and ok(OUTSIDE, XA) and ok(XA, OUTSIDE)


def test_default_deny_ingress_isolates_only_its_namespace_and_direction():
    deny = policy("x", {"podSelector": {}, "policyTypes": [INGRESS]})
    assert not ok(YA, XA, deny) and not ok(XB, XA, deny) and not ok(OUTSIDE, XA, deny)
    assert ok(XA, YA, deny)          # x's egress is not affected, y's ingress neither
    assert ok(XA, XA, deny)          # a pod reaching itself stays in its namespace


def test_policy_types_default_from_the_rules():
    assert policy_types(policy("x", {"podSelector": {}})) == [INGRESS]
    assert policy_types(policy("x", {"podSelector": {}, "egress": [{}]})) == [INGRESS, EGRESS]
    only_egress = policy("x", {"podSelector": {}, "policyTypes": [EGRESS]})
    assert ok(YA, XA, only_egress) and not ok(XA, YA, only_egress)


def test_allow_all_ingress_and_union_with_deny():
    deny = policy("x", {"podSelector": {}, "policyTypes": [INGRESS]}, "deny")
    allow = policy("x", {"podSelector": {}, "ingress": [{}]}, "allow")
    assert ok(ZC, XA, deny, allow) and ok(OUTSIDE, XA, deny, allow)


def test_pod_selector_alone_means_the_policy_namespace():
    p = policy("x", {"podSelector": {"matchLabels": {"pod": "a"}},
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]})
    assert ok(XB, XA, p) and not ok(YB, XA, p)
    assert ok(YA, XB, p)                 # x/b is not selected: not isolated


def test_namespace_and_pod_selector_in_one_peer_is_and_two_peers_is_or():
    both = {"namespaceSelector": {"matchLabels": {"ns": "y"}}, "podSelector": {"matchLabels": {"pod": "b"}}}
    and_policy = policy("x", {"podSelector": {}, "ingress": [{"from": [both]}]})
    assert ok(YB, XA, and_policy) and not ok(YA, XA, and_policy) and not ok(XB, XA, and_policy)
    two = [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}, {"podSelector": {"matchLabels": {"pod": "b"}}}]
    or_policy = policy("x", {"podSelector": {}, "ingress": [{"from": two}]})
    assert ok(YA, XA, or_policy) and ok(XB, XA, or_policy) and not ok(ZC, XA, or_policy)


def test_ip_block_with_except_matches_pods_and_outside_addresses():
    p = policy("x", {"podSelector": {}, "ingress": [{"from": [
        {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.1.0/24"]}}]}]})
    assert ok(ZC, XA, p) and not ok(YA, XA, p) and not ok(OUTSIDE, XA, p)
    outside = policy("x", {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "192.168.0.0/16"}}]}]})
    assert ok(OUTSIDE, XA, outside) and not ok(YA, XA, outside)


def test_selectors_never_match_an_outside_address():
    p = policy("x", {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}]}]})
    assert ok(ZC, XA, p) and not ok(OUTSIDE, XA, p)


def test_ports_by_number_range_protocol_and_name():
    by_number = policy("x", {"podSelector": {}, "ingress": [{"ports": [{"port": 81, "protocol": "TCP"}]}]})
    assert ok(YA, XA, by_number, port=81) and not ok(YA, XA, by_number, port=80)
    assert not ok(YA, XA, by_number, port=81, protocol="UDP")
    ranged = policy("x", {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": 90}]}]})
    assert ok(YA, XA, ranged, port=85) and not ok(YA, XA, ranged, port=91)
    any_udp = policy("x", {"podSelector": {}, "ingress": [{"ports": [{"protocol": "UDP"}]}]})
    assert ok(YA, XA, any_udp, port=53, protocol="UDP") and not ok(YA, XA, any_udp, port=53)
    named = policy("x", {"podSelector": {}, "ingress": [{"ports": [{"port": "serve-81-tcp"}]}]})
    server = pod("x", "a", "10.0.0.1", [{"name": "serve-80-tcp", "containerPort": 80},
                                          {"name": "serve-81-tcp", "containerPort": 81}])
    assert ok(YA, server, named, port=81) and not ok(YA, server, named, port=80)
    assert not ok(YA, XA, named, port=81)     # the destination has no port of that name


def test_egress_named_port_resolves_against_the_destination():
    p = policy("x", {"podSelector": {}, "policyTypes": [EGRESS], "egress": [{"ports": [{"port": "dns", "protocol": "UDP"}]}]})
    resolver = pod("z", "c", "10.0.2.3", [{"name": "dns", "containerPort": 53, "protocol": "UDP"}])
    assert ok(XA, resolver, p, port=53, protocol="UDP") and not ok(XA, resolver, p, port=53)
    assert not ok(XA, YA, p, port=53, protocol="UDP")


def test_both_ends_must_consent():
    deny_egress = policy("x", {"podSelector": {}, "policyTypes": [EGRESS]}, "deny-egress")
    allow_in_y = policy("y", {"podSelector": {}, "ingress": [{}]}, "allow")
    assert not ok(XA, YA, deny_egress, allow_in_y)
    assert ok(YA, XA, deny_egress)   # a reply to y is no new connection of x's: only new ones are decided


def test_explain_names_the_policies():
    deny = policy("x", {"podSelector": {}, "policyTypes": [INGRESS]}, "deny")
    allow = policy("x", {"podSelector": {"matchLabels": {"pod": "a"}}, "ingress": [
        {"from": [{"namespaceSelector": {"matchLabels": {"ns": "y"}}}]}]}, "from-y")
    verdict = explain(YA, XA, 80, "TCP", [deny, allow], NAMESPACES)
    assert verdict.allowed and verdict.ingress.allowed_by == ("x/from-y ingress[0]",)
    assert verdict.ingress.isolated_by == ("x/deny", "x/from-y")
    denied = explain(ZC, XA, 80, "TCP", [deny, allow], NAMESPACES)
    assert not denied.allowed
    assert str(denied).splitlines() == [
        "denied",
        "  egress: the source is not isolated for egress (no policy selects it with Egress in policyTypes)",
        "  ingress: denied: the destination is isolated by x/deny, x/from-y and no rule of theirs matches"]


def test_isolated_lists_the_policies_of_the_pod_namespace_only():
    deny = policy("x", {"podSelector": {}}, "deny")
    assert isolated("x", {"pod": "a"}, [deny], INGRESS) == [deny]
    assert isolated("y", {"pod": "a"}, [deny], INGRESS) == []
    assert isolated("x", {"pod": "a"}, [deny], EGRESS) == []
