"""NetworkPolicy enforced in the simulated network, tested the way upstream's netpol e2e suite does.

Upstream's ``test/e2e/network/netpol`` builds namespaces x, y, z, each with pods a, b, c (labels
``pod=a``..., namespace labels ``ns=x``...), each pod serving TCP on ports 80 and 81 from containers
``cont-80-tcp`` / ``cont-81-tcp`` with ports named ``serve-80-tcp`` / ``serve-81-tcp``. For every
policy case it probes the whole 9x9 matrix (each pod to each pod's IP, on each port) and compares it
with the expected matrix, written as the e2e writes it: everything allowed, then the exceptions, then
loopback allowed. Here the probe is ``kubectl exec`` of busybox's ``wget -T 1`` in the source pod, and a
denied connection must time out (``download timed out``), never be refused.
"""

from __future__ import annotations

import itertools
from typing import Iterator

import pytest

from minik8s import Cluster
from minik8s.lab.netpol import explain, render
from minik8s.lab.netpol import matrix as matrix_of
from minik8s.lab.session import ClusterView, InProcess

NAMESPACES = ("x", "y", "z")
PODS = ("a", "b", "c")
PEERS = [f"{ns}/{pod}" for ns, pod in itertools.product(NAMESPACES, PODS)]
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def _pod(ns: str, name: str) -> str:
    containers = "".join(
        f"  - {{name: cont-{port}-tcp, image: \"{AGNHOST}\", args: [serve-hostname],"
        f" ports: [{{name: serve-{port}-tcp, containerPort: {port}}}]}}\n" for port in (80, 81))
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {{pod: {name}}}\n"
            f"  annotations:\n    sim.minik8s.io/cont-80-tcp: '{{\"ports\": [80]}}'\n"
            f"    sim.minik8s.io/cont-81-tcp: '{{\"ports\": [81]}}'\nspec:\n  containers:\n{containers}")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=7) as c:
        for ns in NAMESPACES:
            c.apply(f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels: {{ns: {ns}}}\n")
        c.apply("---\n".join(_pod(ns, pod) for ns in NAMESPACES for pod in PODS))
        c.advance(30)
        yield c


@pytest.fixture
def matrix(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster, with every policy a case made deleted afterwards."""
    yield cluster
    for ns in NAMESPACES:
        cluster.kubectl(f"delete networkpolicy --all -n {ns}")
    cluster.run_until_stable()


def ip(c: Cluster, peer: str) -> str:
    ns, name = peer.split("/")
    return c.kubectl(f"get pod {name} -n {ns} -o jsonpath={{.status.podIP}}")


class Reachability:
    """The expected matrix, as upstream's e2e writes it: all true, then exceptions."""

    def __init__(self, default: bool = True):
        self.expected = {(src, dst): default for src in PEERS for dst in PEERS}

    def expect(self, src: str, dst: str, connected: bool) -> None:
        """``src``/``dst``: a peer "x/a", a namespace "x/*", or "*" for every peer."""
        for s, d in self.expected:
            if _matches(src, s) and _matches(dst, d):
                self.expected[(s, d)] = connected

    def allow_loopback(self) -> None:
        for peer in PEERS:
            self.expected[(peer, peer)] = True


def _matches(pattern: str, peer: str) -> bool:
    return pattern == "*" or pattern == peer or pattern.endswith("/*") and peer.startswith(pattern[:-1])


def probe(c: Cluster, port: int) -> dict[tuple[str, str], bool]:
    """Every pod to every pod's IP on ``port``: connected, or timed out (anything else fails the test)."""
    ips = {peer: ip(c, peer) for peer in PEERS}
    got = {}
    for src, dst in itertools.product(PEERS, PEERS):
        ns, name = src.split("/")
        try:
            out = c.kubectl(f"exec {name} -n {ns} -c cont-80-tcp -- wget -qO- -T 1 http://{ips[dst]}:{port}")
            assert out == dst.split("/")[1], out   # serve-hostname answers the pod's name
            got[(src, dst)] = True
        except Exception as err:  # noqa: BLE001 - kubectl's error carries the tool's message
            assert "wget: download timed out" in str(err), str(err)
            got[(src, dst)] = False
    return got


def check(c: Cluster, policies: str, expectations: dict[int, Reachability]) -> None:
    if policies:
        c.apply(policies)
    c.run_until_stable()
    for port, reachability in expectations.items():
        got = probe(c, port)
        assert render(PEERS, got) == render(PEERS, reachability.expected), f"port {port}"
        # the lab's prediction from the policies alone agrees with what the network did
        predicted = matrix_of(PEERS, port, source=ClusterView(InProcess(c)), show=False)
        assert render(PEERS, predicted) == render(PEERS, got)


def policy(ns: str, name: str, spec: str) -> str:
    return f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n{spec}"


def both_ports(r: Reachability) -> dict[int, Reachability]:
    return {80: r, 81: r}


# --- the cases ----------------------------------------------------------------------------------


def test_no_policy_everything_connects(matrix):
    check(matrix, "", both_ports(Reachability()))


def test_default_deny_ingress_in_x(matrix):
    r = Reachability()
    r.expect("*", "x/*", False)
    r.allow_loopback()
    check(matrix, policy("x", "deny-ingress", "  podSelector: {}\n  policyTypes: [Ingress]\n"), both_ports(r))


def test_allow_all_ingress_adds_to_default_deny(matrix):
    deny = policy("x", "deny-ingress", "  podSelector: {}\n  policyTypes: [Ingress]\n")
    allow = policy("x", "allow-all", "  podSelector: {}\n  ingress: [{}]\n")
    check(matrix, deny + "---\n" + allow, both_ports(Reachability()))


def test_allow_from_same_namespace(matrix):
    r = Reachability()
    r.expect("y/*", "x/*", False)
    r.expect("z/*", "x/*", False)
    check(matrix, policy("x", "same-ns", "  podSelector: {}\n  ingress:\n  - from: [{podSelector: {}}]\n"),
          both_ports(r))


@pytest.mark.parametrize("peers, allowed", [
    # one peer with both selectors: pods b of namespaces labelled ns=y (AND)
    ("    - namespaceSelector: {matchLabels: {ns: y}}\n      podSelector: {matchLabels: {pod: b}}\n", ["y/b"]),
    # two peers: every pod of ns=y, or pods b of the policy's own namespace (OR)
    ("    - namespaceSelector: {matchLabels: {ns: y}}\n    - podSelector: {matchLabels: {pod: b}}\n", ["y/*", "x/b"]),
], ids=["one-peer-is-and", "two-peers-are-or"])
def test_namespace_and_pod_selectors(matrix, peers, allowed):
    r = Reachability()
    r.expect("*", "x/a", False)
    for peer in allowed:
        r.expect(peer, "x/a", True)
    r.allow_loopback()
    spec = "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from:\n" + peers
    check(matrix, policy("x", "selectors", spec), both_ports(r))


def test_ip_block_with_except(matrix):
    r = Reachability()
    r.expect("y/b", "x/a", False)
    spec = ("  podSelector: {matchLabels: {pod: a}}\n  ingress:\n"
            f"  - from: [{{ipBlock: {{cidr: 10.0.0.0/8, except: [{ip(matrix, 'y/b')}/32]}}}}]\n")
    check(matrix, policy("x", "cidr", spec), both_ports(r))


@pytest.mark.parametrize("ports, closed", [
    ("[{port: serve-81-tcp}]", 80),                  # a port by its name in the destination pod
    ("[{port: 79, endPort: 80, protocol: TCP}]", 81),  # a range of numbers
], ids=["named-port", "end-port"])
def test_ports_by_name_and_range(matrix, ports, closed):
    denied = Reachability()
    denied.expect("*", "x/a", False)
    denied.allow_loopback()
    spec = f"  podSelector: {{matchLabels: {{pod: a}}}}\n  ingress:\n  - ports: {ports}\n"
    check(matrix, policy("x", "ports", spec), {closed: denied, 161 - closed: Reachability()})


def test_egress_default_deny_with_dns_allowed(matrix):
    r = Reachability()
    r.expect("x/*", "*", False)      # x opens nothing; others still reach x (its replies are no new connection)
    r.allow_loopback()
    spec = ("  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n"
            "  - ports: [{port: 53, protocol: UDP}, {port: 53, protocol: TCP}]\n")
    check(matrix, policy("x", "deny-egress-but-dns", spec), both_ports(r))
    out = matrix.kubectl("exec a -n x -c cont-80-tcp -- nslookup kubernetes.default.svc.cluster.local.")
    assert "Name:\tkubernetes.default.svc.cluster.local" in out


def test_egress_default_deny_blocks_dns_too(matrix):
    matrix.apply(policy("x", "deny-egress", "  podSelector: {}\n  policyTypes: [Egress]\n"))
    matrix.run_until_stable()
    out = matrix.kubectl("exec a -n x -c cont-80-tcp -- sh -c 'nslookup kubernetes.default.svc.cluster.local. "
                         "|| echo exit $?'")
    assert out == ";; connection timed out; no servers could be reached\n\nexit 1\n"
    with pytest.raises(Exception) as err:
        matrix.kubectl("exec a -n x -c cont-80-tcp -- wget -qO- -T 1 http://kubernetes.default")
    assert "wget: bad address 'kubernetes.default'" in str(err.value)
    # the same from y, which no policy isolates
    assert "kubernetes.default.svc.cluster.local" in matrix.kubectl(
        "exec a -n y -c cont-80-tcp -- nslookup kubernetes.default.svc.cluster.local.")


def test_policies_add_up(matrix):
    r = Reachability()
    r.expect("*", "x/a", False)
    r.expect("y/*", "x/a", True)
    r.expect("x/b", "x/a", True)
    r.allow_loopback()
    from_y = ("  podSelector: {matchLabels: {pod: a}}\n  ingress:\n"
              "  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]\n")
    from_b = "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n  - from: [{podSelector: {matchLabels: {pod: b}}}]\n"
    check(matrix, policy("x", "from-y", from_y) + "---\n" + policy("x", "from-b", from_b), both_ports(r))


def test_policy_types_egress_only_ignores_ingress_rules(matrix):
    r = Reachability()
    r.expect("x/a", "*", False)
    r.expect("x/a", "x/b", True)
    r.allow_loopback()
    spec = ("  podSelector: {matchLabels: {pod: a}}\n  policyTypes: [Egress]\n"
            "  ingress:\n  - from: [{podSelector: {matchLabels: {pod: nobody}}}]\n"
            "  egress:\n  - to: [{podSelector: {matchLabels: {pod: b}}}]\n")
    check(matrix, policy("x", "egress-only", spec), both_ports(r))


def test_a_denied_connection_times_out_in_every_tool(matrix):
    matrix.apply(policy("x", "deny-ingress", "  podSelector: {}\n  policyTypes: [Ingress]\n"))
    matrix.run_until_stable()
    target = ip(matrix, "x/a")
    with pytest.raises(Exception) as err:
        matrix.kubectl(f"exec a -n y -c cont-80-tcp -- curl -sS --connect-timeout 2 http://{target}")
    assert f"curl: (28) Failed to connect to {target} port 80 after 2000 ms: Timeout was reached" in str(err.value)
    with pytest.raises(Exception) as err:
        matrix.kubectl(f"exec a -n y -c cont-80-tcp -- nc -z -w 1 {target} 80")
    assert "nc: timed out" in str(err.value)
    explained = str(matrix.network_policy_agent.explain(ip(matrix, "y/a"), target, 80))
    assert explained.splitlines()[0] == "denied" and "isolated by x/deny-ingress" in explained


def test_policy_applies_behind_a_service_address(matrix):
    """kube-proxy translates the ClusterIP first; the policy judges the endpoint pod it chose."""
    matrix.apply("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: x}\n"
                 "spec:\n  selector: {pod: a}\n  ports: [{port: 8080, targetPort: 80}]\n")
    matrix.apply(policy("x", "deny-ingress", "  podSelector: {}\n  policyTypes: [Ingress]\n"))
    matrix.run_until_stable()
    fetch = "exec a -n {} -c cont-80-tcp -- wget -qO- -T 1 http://web.x:8080"
    with pytest.raises(Exception) as err:
        matrix.kubectl(fetch.format("y"))
    assert "wget: download timed out" in str(err.value)
    assert matrix.kubectl(fetch.format("x")) == "a"       # from x/a itself: loopback through the Service
    matrix.apply(policy("x", "from-y", "  podSelector: {}\n  ingress:\n"
                                       "  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]\n"
                                       "    ports: [{port: serve-80-tcp}]\n"))
    matrix.run_until_stable()
    assert matrix.kubectl(fetch.format("y")) == "a"
    matrix.kubectl("delete service web -n x")


def test_the_lab_explains_a_verdict(matrix):
    matrix.apply(policy("x", "deny-ingress", "  podSelector: {}\n  policyTypes: [Ingress]\n"))
    matrix.apply(policy("x", "from-y", "  podSelector: {matchLabels: {pod: a}}\n  ingress:\n"
                                       "  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]\n"))
    view = ClusterView(InProcess(matrix))
    assert str(explain("y/c", "x/a", 80, source=view, show=False)).splitlines() == [
        "allowed",
        "  egress: the source is not isolated for egress (no policy selects it with Egress in policyTypes)",
        "  ingress: allowed by x/from-y ingress[0]"]
    assert not explain("z/c", "x/a", 80, source=view, show=False).allowed
    assert not explain("203.0.113.9", "x/b", 81, source=view, show=False).allowed
