"""Cluster DNS: the records and answers of CoreDNS's ``kubernetes`` plugin, the server on the wire,
and the component in a cluster. The resolver is pure (dnspython messages in and out); the server is
asked with dnspython's own ``dns.query`` over real UDP and TCP sockets."""

from __future__ import annotations

import socket
from typing import Any, Iterator

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minik8s.dns.clusterdns import kube_dns_service
from minik8s.dns.records import TTL, build
from minik8s.dns.resolver import Resolver
from minik8s.dns.server import DNSServer


def service(name: str, cluster_ip: str | None, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}], **spec}
    if cluster_ip is not None:
        body["clusterIP"] = cluster_ip
    return {"metadata": {"name": name, "namespace": namespace}, "spec": body}


def endpoint(ip: str, ready: bool | None = True, hostname: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"addresses": [ip]}
    if ready is not None:
        found["conditions"] = {"ready": ready}
    if hostname:
        found["hostname"] = hostname
    return found


def slice_of(service_name: str, *endpoints: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
    return {"metadata": {"name": f"{service_name}-abcde", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "addressType": "IPv4", "endpoints": list(endpoints)}


SERVICES = [
    service("web", "10.96.0.20"),
    service("db", "None", ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}]),
    service("open", "None", publishNotReadyAddresses=True),
    service("empty", "None"),
    service("ext", None, type="ExternalName", externalName="example.com", ports=[]),
    service("api", "10.96.0.30", namespace="prod"),
]
SLICES = [
    slice_of("db", endpoint("10.244.1.5", hostname="db-0"), endpoint("10.244.1.6"), endpoint("10.244.1.7", False)),
    slice_of("open", endpoint("10.244.2.8", False), endpoint("10.244.2.9", None)),
]


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver(build(SERVICES, SLICES, serial=42, dns_ip="10.96.0.10", namespaces=["default", "quiet"]))


def ask(resolver: Resolver, name: str, qtype: str = "A") -> dns.message.Message:
    return resolver.answer(dns.message.make_query(name, qtype))


def answers(response: dns.message.Message) -> list[str]:
    return sorted(rdata.to_text() for rrset in response.answer for rdata in rrset)


# --- the resolver, pure ---------------------------------------------------------------------

def test_a_service_name_is_its_cluster_ip_authoritatively_with_ttl_30(resolver: Resolver) -> None:
    response = ask(resolver, "web.default.svc.cluster.local")
    assert response.rcode() == dns.rcode.NOERROR and response.flags & dns.flags.AA
    assert answers(response) == ["10.96.0.20"] and response.answer[0].ttl == TTL == 30
    assert answers(ask(resolver, "WEB.Default.SVC.cluster.local.")) == ["10.96.0.20"]   # names ignore case


def test_a_headless_service_is_its_ready_endpoints(resolver: Resolver) -> None:
    assert answers(ask(resolver, "db.default.svc.cluster.local")) == ["10.244.1.5", "10.244.1.6"]
    # publishNotReadyAddresses: every endpoint; a missing ready condition counts as ready
    assert answers(ask(resolver, "open.default.svc.cluster.local")) == ["10.244.2.8", "10.244.2.9"]


def test_endpoints_are_named_by_hostname_or_by_their_address(resolver: Resolver) -> None:
    assert answers(ask(resolver, "db-0.db.default.svc.cluster.local")) == ["10.244.1.5"]
    assert answers(ask(resolver, "10-244-1-6.db.default.svc.cluster.local")) == ["10.244.1.6"]
    assert ask(resolver, "10-244-1-7.db.default.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN   # not ready


def test_srv_records_of_named_ports_carry_their_targets(resolver: Resolver) -> None:
    response = ask(resolver, "_http._tcp.web.default.svc.cluster.local", "SRV")
    assert answers(response) == ["0 100 80 web.default.svc.cluster.local."]
    assert [r.to_text() for r in response.additional] == ["web.default.svc.cluster.local. 30 IN A 10.96.0.20"]
    headless = ask(resolver, "_pg._tcp.db.default.svc.cluster.local", "SRV")
    assert answers(headless) == ["0 50 5432 10-244-1-6.db.default.svc.cluster.local.",
                                 "0 50 5432 db-0.db.default.svc.cluster.local."]
    assert len(headless.additional) == 2
    assert ask(resolver, "_pg._udp.db.default.svc.cluster.local", "SRV").rcode() == dns.rcode.NXDOMAIN


def test_external_name_is_a_cname(resolver: Resolver) -> None:
    for qtype in ("A", "CNAME", "AAAA"):
        response = ask(resolver, "ext.default.svc.cluster.local", qtype)
        assert [r.to_text() for r in response.answer] == ["ext.default.svc.cluster.local. 30 IN CNAME example.com."]


def test_ptr_for_cluster_ips_and_endpoints(resolver: Resolver) -> None:
    assert answers(ask(resolver, "20.0.96.10.in-addr.arpa", "PTR")) == ["web.default.svc.cluster.local."]
    assert answers(ask(resolver, "5.1.244.10.in-addr.arpa", "PTR")) == ["db-0.db.default.svc.cluster.local."]
    assert ask(resolver, "99.99.99.10.in-addr.arpa", "PTR").rcode() == dns.rcode.REFUSED


def test_pod_records_are_the_address_in_the_name(resolver: Resolver) -> None:
    assert answers(ask(resolver, "10-244-1-5.default.pod.cluster.local")) == ["10.244.1.5"]
    assert answers(ask(resolver, "1-2-3-4.anything.pod.cluster.local")) == ["1.2.3.4"]   # pods insecure
    assert ask(resolver, "1-2-3-999.default.pod.cluster.local").rcode() == dns.rcode.NXDOMAIN


def test_missing_names_are_nxdomain_with_the_soa(resolver: Resolver) -> None:
    response = ask(resolver, "nope.default.svc.cluster.local")
    assert response.rcode() == dns.rcode.NXDOMAIN and not response.answer
    assert [r.to_text() for r in response.authority] == [
        "cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 42 7200 1800 86400 30"]
    assert ask(resolver, "web.nowhere.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN
    assert ask(resolver, "nowhere.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN   # no such namespace


def test_existing_names_without_that_type_are_noerror_and_empty(resolver: Resolver) -> None:
    for name, qtype in [("web.default.svc.cluster.local", "AAAA"), ("web.default.svc.cluster.local", "TXT"),
                        ("svc.cluster.local", "A"), ("default.svc.cluster.local", "A"),
                        ("quiet.svc.cluster.local", "A"),   # a namespace without Services
                        ("empty.default.svc.cluster.local", "A")]:
        response = ask(resolver, name, qtype)
        assert response.rcode() == dns.rcode.NOERROR and not response.answer, (name, qtype)
        assert response.authority[0].rdtype == dns.rdatatype.SOA


def test_the_apex_has_its_soa_and_nameserver(resolver: Resolver) -> None:
    assert answers(ask(resolver, "cluster.local", "NS")) == ["ns.dns.cluster.local."]
    assert answers(ask(resolver, "ns.dns.cluster.local")) == ["10.96.0.10"]
    assert len(ask(resolver, "cluster.local", "SOA").answer) == 1


def test_names_outside_the_zone_are_refused(resolver: Resolver) -> None:
    response = ask(resolver, "example.com")
    assert response.rcode() == dns.rcode.REFUSED and not response.answer and not response.flags & dns.flags.AA


def test_other_opcodes_and_question_counts(resolver: Resolver) -> None:
    query = dns.message.make_query("web.default.svc.cluster.local", "A")
    query.set_opcode(dns.opcode.NOTIFY)
    assert resolver.answer(query).rcode() == dns.rcode.NOTIMP
    empty = dns.message.Message()
    assert resolver.answer(empty).rcode() == dns.rcode.FORMERR


def test_garbage_gets_formerr_with_its_id_or_nothing(resolver: Resolver) -> None:
    reply = resolver.answer_wire(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xff\xfe garbage")
    assert reply is not None
    parsed = dns.message.from_wire(reply)
    assert parsed.id == 0x1234 and parsed.rcode() == dns.rcode.FORMERR and parsed.flags & dns.flags.QR
    assert resolver.answer_wire(b"\x01") is None                       # no header: nothing to answer
    response_wire = dns.message.make_response(dns.message.make_query("web.default.svc.cluster.local", "A"))
    assert resolver.answer_wire(response_wire.to_wire()) is None        # never answer an answer


QUERY_WIRE = dns.message.make_query("web.default.svc.cluster.local", "SRV", use_edns=0).to_wire()


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=600),
                 st.lists(st.tuples(st.integers(0, len(QUERY_WIRE) - 1), st.integers(0, 255)), max_size=8).map(
                     lambda edits: bytes(b if i not in dict(edits) else dict(edits)[i]
                                         for i, b in enumerate(QUERY_WIRE)))))
def test_any_bytes_get_a_well_formed_reply_or_none(resolver: Resolver, wire: bytes) -> None:
    reply = resolver.answer_wire(wire)
    if reply is not None:
        parsed = dns.message.from_wire(reply)
        assert parsed.flags & dns.flags.QR and parsed.id == int.from_bytes(wire[:2], "big") and len(reply) <= 4096


def test_udp_answers_over_512_bytes_are_truncated() -> None:
    many = [slice_of("big", *[endpoint(f"10.244.3.{i}") for i in range(1, 60)])]
    resolver = Resolver(build([service("big", "None")], many))
    query = dns.message.make_query("big.default.svc.cluster.local", "A")
    small = dns.message.from_wire(resolver.answer_wire(query.to_wire(), udp=True) or b"")
    assert small.flags & dns.flags.TC and len(resolver.answer_wire(query.to_wire()) or b"") <= 512
    whole = dns.message.from_wire(resolver.answer_wire(query.to_wire(), udp=False) or b"")
    assert not whole.flags & dns.flags.TC and len(whole.answer[0]) == 59
    edns = dns.message.make_query("big.default.svc.cluster.local", "A", use_edns=0, payload=4096)
    assert not dns.message.from_wire(resolver.answer_wire(edns.to_wire()) or b"").flags & dns.flags.TC


def test_lookup_applies_the_cluster_first_search_path(resolver: Resolver) -> None:
    assert resolver.lookup("web", "default") == ("web.default.svc.cluster.local", ["10.96.0.20"])
    assert resolver.lookup("api.prod", "default") == ("api.prod.svc.cluster.local", ["10.96.0.30"])
    assert resolver.lookup("api", "prod") == ("api.prod.svc.cluster.local", ["10.96.0.30"])
    assert resolver.lookup("api", "default") is None                    # another namespace needs its name
    assert resolver.lookup("web.default.svc.cluster.local.", "x") == ("web.default.svc.cluster.local", ["10.96.0.20"])
    assert resolver.lookup("db-0.db", "default") == ("db-0.db.default.svc.cluster.local", ["10.244.1.5"])
    assert resolver.lookup("_http._tcp.web", "default", "SRV") == (
        "_http._tcp.web.default.svc.cluster.local", ["0 100 80 web.default.svc.cluster.local."])
    assert resolver.lookup("ext", "default") == ("ext.default.svc.cluster.local", ["example.com."])
    assert resolver.lookup("example.com", "default") is None
    assert resolver.lookup("a" * 64, "default") is None and resolver.lookup("web", "default", "BOGUS") is None


# --- the server on the wire -----------------------------------------------------------------

@pytest.fixture
def server(resolver: Resolver) -> Iterator[DNSServer]:
    running = DNSServer(lambda: resolver, "127.0.0.1", 0)
    running.start()
    yield running
    running.stop()


def test_the_server_answers_over_udp_and_tcp(server: DNSServer) -> None:
    query = dns.message.make_query("web.default.svc.cluster.local", "A")
    assert answers(dns.query.udp(query, "127.0.0.1", port=server.port, timeout=5)) == ["10.96.0.20"]
    assert answers(dns.query.tcp(query, "127.0.0.1", port=server.port, timeout=5)) == ["10.96.0.20"]
    missing = dns.message.make_query("nope.default.svc.cluster.local", "A")
    assert dns.query.udp(missing, "127.0.0.1", port=server.port, timeout=5).rcode() == dns.rcode.NXDOMAIN


def test_a_truncated_udp_answer_is_asked_again_over_tcp() -> None:
    many = [slice_of("big", *[endpoint(f"10.244.3.{i}") for i in range(1, 60)])]
    resolver = Resolver(build([service("big", "None")], many))
    running = DNSServer(lambda: resolver, "127.0.0.1", 0)
    running.start()
    try:
        query = dns.message.make_query("big.default.svc.cluster.local", "A")
        assert dns.query.udp(query, "127.0.0.1", port=running.port, timeout=5).flags & dns.flags.TC
        whole, used_tcp = dns.query.udp_with_fallback(query, "127.0.0.1", port=running.port, timeout=5)
        assert used_tcp and len(whole.answer[0]) == 59
    finally:
        running.stop()


def test_the_server_survives_garbage_and_keeps_serving(server: DNSServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.sendto(b"\xab\xcd\x01\x00\x00\x01garbage-garbage", ("127.0.0.1", server.port))
        reply = dns.message.from_wire(udp.recv(4096))
        assert reply.id == 0xABCD and reply.rcode() == dns.rcode.FORMERR
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as tcp:
        garbage = b"\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xffhello"
        tcp.sendall(len(garbage).to_bytes(2, "big") + garbage)   # a framed message that is no message
        length = int.from_bytes(tcp.recv(2), "big")
        reply = dns.message.from_wire(tcp.recv(length))
        assert reply.id == 7 and reply.rcode() == dns.rcode.FORMERR
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as tcp:
        tcp.sendall(b"\x00\x40abc")     # says 64 bytes, sends 3, hangs up
    query = dns.message.make_query("web.default.svc.cluster.local", "A")
    assert answers(dns.query.udp(query, "127.0.0.1", port=server.port, timeout=5)) == ["10.96.0.20"]
    assert answers(dns.query.tcp(query, "127.0.0.1", port=server.port, timeout=5)) == ["10.96.0.20"]


def test_the_server_reads_the_current_resolver(resolver: Resolver) -> None:
    current = [resolver]
    running = DNSServer(lambda: current[0], "127.0.0.1", 0)
    running.start()
    try:
        query = dns.message.make_query("new.default.svc.cluster.local", "A")
        assert dns.query.udp(query, "127.0.0.1", port=running.port, timeout=5).rcode() == dns.rcode.NXDOMAIN
        current[0] = Resolver(build([service("new", "10.96.0.77")], []))
        assert answers(dns.query.udp(query, "127.0.0.1", port=running.port, timeout=5)) == ["10.96.0.77"]
    finally:
        running.stop()


def test_a_port_in_use_fails_start_and_leaves_nothing_listening(server: DNSServer, resolver: Resolver) -> None:
    with pytest.raises(OSError):
        DNSServer(lambda: resolver, "127.0.0.1", server.port).start()


# --- the component in a cluster ---------------------------------------------------------------

def test_the_cluster_keeps_kube_dns_and_answers_from_its_services() -> None:
    from minik8s import Cluster

    with Cluster(runtime="simulated", clock="virtual", seed=0) as c:
        kube_dns = c.kubectl("get svc kube-dns -n kube-system -o json")
        assert '"clusterIP": "10.96.0.10"' in kube_dns and '"k8s-app": "kube-dns"' in kube_dns
        assert "53/UDP,53/TCP,9153/TCP" in c.kubectl("get svc -n kube-system")
        assert c.dns.lookup("kube-dns.kube-system", "default") == ("kube-dns.kube-system.svc.cluster.local",
                                                                   ["10.96.0.10"])
        assert c.dns.lookup("web", "default") is None
        c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                "spec: {clusterIP: 10.96.0.50, ports: [{name: http, port: 80}]}\n")
        assert c.dns.lookup("web", "default") == ("web.default.svc.cluster.local", ["10.96.0.50"])
        c.kubectl("delete svc web")
        assert c.dns.lookup("web", "default") is None
        c.kubectl("delete svc kube-dns -n kube-system")   # as the add-on manager, it is put back
        assert "10.96.0.10" in c.kubectl("get svc kube-dns -n kube-system")


def test_kube_dns_service_is_what_kubeadm_installs() -> None:
    svc = kube_dns_service("127.96.0.10")
    assert svc["spec"]["clusterIP"] == "127.96.0.10" and svc["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert [(p["name"], p["port"], p["protocol"]) for p in svc["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]


# --- minik8s server, the real kubectl ---------------------------------------------------------

def test_minik8s_server_serves_cluster_dns_on_the_kube_dns_cluster_ip(tmp_path: Any) -> None:
    import shutil
    import time

    from conftest import start_server
    from minik8s.addresses import may_bind_port
    from minik8s.kubelet.runtimes.process import isolation

    if shutil.which("kubectl") is None or not may_bind_port(53) or isolation.mode() != "bwrap":
        pytest.skip("needs the real kubectl, port 53 and contained processes")
    # The server claims an address block no other cluster of this machine holds: its Services' addresses
    # are read from it (the kubernetes Service has the block's first), not assumed to be the first block's.
    server = start_server(tmp_path, "--nodes", "1", "--runtime", "process")
    try:
        first = server.kubectl("get", "service", "kubernetes", "-o", "jsonpath={.spec.clusterIP}").stdout
        dns_ip = server.kubectl("get", "service", "kube-dns", "-n", "kube-system", "-o",
                                "jsonpath={.spec.clusterIP}").stdout
        assert first.startswith("127.") and dns_ip == first.rsplit(".", 1)[0] + ".10", (first, dns_ip)
        web_ip = first.rsplit(".", 1)[0] + ".80"
        created = server.kubectl("apply", "-f", "-", stdin=(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
            f"spec: {{clusterIP: {web_ip}, ports: [{{name: http, port: 80}}]}}\n---\n"
            "apiVersion: v1\nkind: Pod\nmetadata: {name: shell}\n"
            "spec: {containers: [{name: c, image: busybox, command: [sleep, '600']}]}\n"))
        assert created.returncode == 0, created.stderr
        query = dns.message.make_query("web.default.svc.cluster.local", "A")
        deadline = time.monotonic() + 30
        while True:   # the Service reaches DNS through a watch: wait for it, briefly
            reply = dns.query.udp(query, dns_ip, port=53, timeout=5)
            if reply.answer or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert answers(reply) == [web_ip]
        while True:
            done = server.kubectl("exec", "shell", "--", "getent", "hosts", "web")
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert done.stdout.split() == [web_ip, "web.default.svc.cluster.local"], done.stderr
        resolv = server.kubectl("exec", "shell", "--", "cat", "/etc/resolv.conf").stdout
        # (the node's own search domains, if it has any, follow the cluster's)
        assert resolv.startswith("search default.svc.cluster.local svc.cluster.local cluster.local")
        assert resolv.endswith(f"\nnameserver {dns_ip}\noptions ndots:5\n")
    finally:
        server.stop()
