"""Pods' resolv.conf as the kubelet composes it for each dnsPolicy, what containers see of it, and
Service names resolving inside real pods (``getent hosts``, Python's ``getaddrinfo``) on the process runtime."""

from __future__ import annotations

import ipaddress
import json
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from minik8s import addresses
from minik8s.kubelet.dns import ClusterNetwork, parse_resolv_conf, resolv_conf, service_hosts
from test_process_runtime import wait_for

HOST = "# the node's\nnameserver 192.168.1.1\nnameserver 192.168.1.2\nsearch corp.example lab.example\noptions timeout:2\n"
DNS = ["10.96.0.10"]


def pod(policy: str | None = None, namespace: str = "team-a", **spec: Any) -> dict[str, Any]:
    body = dict(spec)
    if policy is not None:
        body["dnsPolicy"] = policy
    return {"metadata": {"name": "p", "namespace": namespace}, "spec": body}


def test_cluster_first_searches_the_namespace_then_the_node() -> None:
    text, warnings = resolv_conf(pod("ClusterFirst"), DNS, "cluster.local", HOST)
    assert text == ("search team-a.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example\n"
                    "nameserver 10.96.0.10\n"
                    "options ndots:5\n")
    assert warnings == []
    assert resolv_conf(pod(None), DNS, "cluster.local", HOST)[0] == text   # the default policy


def test_default_is_the_nodes_resolv_conf() -> None:
    text, _ = resolv_conf(pod("Default"), DNS, "cluster.local", HOST)
    assert text == ("search corp.example lab.example\nnameserver 192.168.1.1\nnameserver 192.168.1.2\n"
                    "options timeout:2\n")


def test_host_network_pods_get_the_node_unless_cluster_first_with_host_net() -> None:
    assert resolv_conf(pod("ClusterFirst", hostNetwork=True), DNS, "cluster.local", HOST)[0].startswith(
        "search corp.example")
    assert resolv_conf(pod("ClusterFirstWithHostNet", hostNetwork=True), DNS, "cluster.local", HOST)[0].startswith(
        "search team-a.svc.cluster.local")


def test_none_takes_only_dns_config() -> None:
    config = {"nameservers": ["1.1.1.1"], "searches": ["my.example"], "options": [{"name": "ndots", "value": "2"}]}
    text, _ = resolv_conf(pod("None", dnsConfig=config), DNS, "cluster.local", HOST)
    assert text == "search my.example\nnameserver 1.1.1.1\noptions ndots:2\n"


def test_dns_config_is_merged_and_options_override_by_name() -> None:
    config = {"nameservers": ["10.96.0.10", "1.1.1.1"], "searches": ["cluster.local", "x.example"],
              "options": [{"name": "ndots", "value": "1"}, {"name": "edns0"}]}
    text, warnings = resolv_conf(pod("ClusterFirst", dnsConfig=config), DNS, "cluster.local", "")
    assert text == ("search team-a.svc.cluster.local svc.cluster.local cluster.local x.example\n"
                    "nameserver 10.96.0.10\nnameserver 1.1.1.1\noptions ndots:1 edns0\n")
    assert warnings == []


def test_limits_keep_three_nameservers_and_32_searches_with_upstreams_events() -> None:
    config = {"nameservers": ["1.1.1.1", "2.2.2.2", "3.3.3.3"], "searches": [f"s{i}.example" for i in range(40)]}
    text, warnings = resolv_conf(pod("ClusterFirst", dnsConfig=config), DNS, "cluster.local", "")
    servers, searches, _ = parse_resolv_conf(text)
    assert servers == ["10.96.0.10", "1.1.1.1", "2.2.2.2"] and len(searches) == 32
    assert warnings[0] == ("DNSConfigForming", "Nameserver limits were exceeded, some nameservers have been omitted, "
                                               "the applied nameserver line is: 10.96.0.10 1.1.1.1 2.2.2.2")
    assert warnings[1][0] == "DNSConfigForming" and warnings[1][1].startswith(
        "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: "
        "team-a.svc.cluster.local svc.cluster.local cluster.local s0.example")


def test_without_a_cluster_dns_address_cluster_first_falls_back_to_default() -> None:
    text, warnings = resolv_conf(pod("ClusterFirst"), [], "cluster.local", HOST)
    assert text.startswith("search corp.example lab.example\nnameserver 192.168.1.1")
    assert warnings == [("MissingClusterDNS", 'kubelet does not have ClusterDNS IP configured and cannot create Pod '
                                              'using "ClusterFirst" policy. Falling back to "Default" policy.')]


def test_the_nameserver_is_the_kube_dns_services_cluster_ip() -> None:
    services = [{"metadata": {"name": "kube-dns", "namespace": "kube-system"}, "spec": {"clusterIP": "127.96.0.10"}}]
    network = ClusterNetwork(lambda: services, hosts_fallback=False)
    assert "nameserver 127.96.0.10\n" in network.resolv_conf(pod(), "")[0]
    assert network.hosts(pod()) == []   # DNS on port 53 works: nothing in /etc/hosts


def test_service_names_for_etc_hosts_follow_the_search_path() -> None:
    services = [{"metadata": {"name": "web", "namespace": "team-a"}, "spec": {"clusterIP": "127.96.0.50"}},
                {"metadata": {"name": "db", "namespace": "other"}, "spec": {"clusterIP": "127.96.0.51"}},
                {"metadata": {"name": "hl", "namespace": "team-a"}, "spec": {"clusterIP": "None"}}]
    assert service_hosts(services, "team-a") == [
        ("127.96.0.51", ["db.other", "db.other.svc", "db.other.svc.cluster.local"]),
        ("127.96.0.50", ["web", "web.team-a", "web.team-a.svc", "web.team-a.svc.cluster.local"])]
    network = ClusterNetwork(lambda: services, hosts_fallback=True)
    assert network.hosts(pod("Default")) == []   # only ClusterFirst pods search the cluster's names


def test_simulated_containers_show_their_resolv_conf() -> None:
    from minik8s import Cluster

    with Cluster(runtime="simulated", clock="virtual", seed=0) as c:
        c.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: shell, namespace: default}\n"
                "spec: {containers: [{name: c, image: busybox, command: [sleep, '3600']}]}\n")
        c.advance(5)
        assert c.kubectl("exec shell -- cat /etc/resolv.conf") == (
            "search default.svc.cluster.local svc.cluster.local cluster.local\n"
            "nameserver 10.96.0.10\noptions ndots:5\n")


# --- the process runtime: names resolve inside real pods -------------------------------------------

pytestmark_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the process runtime needs Linux")


@pytest.fixture
def process_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from minik8s import Cluster
    from minik8s.kubelet.runtimes.process import isolation

    if isolation.mode() != "bwrap":
        pytest.skip(f"containers are not isolated here ({isolation.unavailable_reason()})")
    monkeypatch.setenv("MINIK8S_HOME", str(tmp_path / "home"))
    c = Cluster(nodes=1, runtime="process", data_dir=tmp_path / "cluster")
    yield c
    c.stop()


RESOLVER_POD = """
apiVersion: v1
kind: Pod
metadata: {name: %(name)s}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: python
    command: [sh, -c, "getent hosts web; python3 -c \\"import socket; print(socket.getaddrinfo('web', 80)[0][4][0])\\"; sleep 30"]
"""


def logs_of(cluster: Any, name: str) -> str:
    try:
        return cluster.kubelets[0].logs("default", name)
    except Exception:  # noqa: BLE001 - not started yet
        return ""


def phase(cluster: Any, name: str) -> str:
    return str(json.loads(cluster.kubectl(["get", "pod", name, "-o", "json"]))["status"].get("phase"))


@pytestmark_linux
def test_a_pod_resolves_a_service_name_through_cluster_dns(process_cluster: Any) -> None:
    c = process_cluster
    if c.dns.server is None or c.dns.server.port != 53:
        pytest.skip("cluster DNS cannot listen on port 53 here")
    # This cluster's Service range: another cluster of the machine may hold 127.96.0.0/12 (minik8s.addresses).
    web_ip = str(ipaddress.ip_network(c.service_cidr)[50])
    c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
            f"spec: {{clusterIP: {web_ip}, ports: [{{name: http, port: 80}}]}}\n")
    c.apply(RESOLVER_POD % {"name": "dig"})
    out = wait_for(lambda: logs_of(c, "dig").count(web_ip) >= 2 and logs_of(c, "dig"), timeout=30, what="two answers")
    assert out.splitlines()[:2] == [f"{web_ip:<15} web.default.svc.cluster.local", web_ip]
    resolv = c.kubectl(["exec", "dig", "--", "cat", "/etc/resolv.conf"])
    assert resolv.startswith("search default.svc.cluster.local svc.cluster.local cluster.local")
    assert f"nameserver {addresses.dns_service_ip(c.service_cidr)}\noptions ndots:5\n" in resolv
    assert "web" not in c.kubectl(["exec", "dig", "--", "cat", "/etc/hosts"])   # DNS did it, not /etc/hosts


@pytestmark_linux
def test_without_port_53_service_names_live_in_etc_hosts_rewritten_in_place(process_cluster: Any) -> None:
    c = process_cluster
    c.kubelets[0].runtime.cluster_network.hosts_fallback = True   # as on a machine where port 53 needs root
    # This cluster's Service range: another cluster of the machine may hold 127.96.0.0/12 (minik8s.addresses).
    web, later = (str(ipaddress.ip_network(c.service_cidr)[n]) for n in (60, 61))
    c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
            f"spec: {{clusterIP: {web}, ports: [{{name: http, port: 80}}]}}\n")
    c.apply(RESOLVER_POD % {"name": "hosts"})
    out = wait_for(lambda: logs_of(c, "hosts").count(web) >= 2 and logs_of(c, "hosts"), timeout=30, what="answers")
    assert out.splitlines()[:2] == [f"{web:<15} web web.default web.default.svc web.default.svc.cluster.local",
                                    web]
    c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: later, namespace: kube-public}\n"
            f"spec: {{clusterIP: {later}, ports: [{{name: http, port: 80}}]}}\n")
    wait_for(lambda: "later.kube-public" in c.kubectl(["exec", "hosts", "--", "cat", "/etc/hosts"]),
             timeout=30, what="the new Service in /etc/hosts")
    assert c.kubectl(["exec", "hosts", "--", "getent", "hosts", "later.kube-public"]).split()[0] == later


def test_dns_config_beyond_upstreams_limits_is_422_invalid() -> None:
    from minik8s import Cluster

    manifest = """apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  dnsPolicy: None
  dnsConfig:
    nameservers: [1.1.1.1, 2.2.2.2, 3.3.3.3, not-an-ip]
    searches: [Bad_Domain.example]
    options: [{value: "1"}]
  containers: [{name: c, image: busybox}]
"""
    with Cluster(runtime="simulated", clock="virtual", seed=0) as c:
        code, _, err = c.run_kubectl(["apply", "-f", "-"], stdin=manifest)
        assert code == 1
        assert err.startswith('The Pod "p" is invalid: \n* spec.dnsConfig.nameservers: Invalid value: '
                              '[]string{"1.1.1.1", "2.2.2.2", "3.3.3.3", "not-an-ip"}: must not have more than 3 '
                              'nameservers\n* spec.dnsConfig.nameservers[3]: Invalid value: "not-an-ip": must be a '
                              'valid IP address'), err
        assert '* spec.dnsConfig.searches[0]: Invalid value: "Bad_Domain.example"' in err
        assert "* spec.dnsConfig.options[0]: Required value: Option.Name must not be empty" in err
        code, _, err = c.run_kubectl(["apply", "-f", "-"], stdin=manifest.replace(
            "    nameservers: [1.1.1.1, 2.2.2.2, 3.3.3.3, not-an-ip]\n", "").replace(
            "    searches: [Bad_Domain.example]\n", "").replace('    options: [{value: "1"}]\n', "    options: []\n"))
        assert code == 1 and ("spec.dnsConfig.nameservers: Required value: must provide at least one DNS "
                              "nameserver when `dnsPolicy` is None") in err


def test_uncontained_process_pods_are_told_dns_names_will_not_resolve(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from minik8s.kubelet.runtimes.process import ProcessRuntime

    monkeypatch.setenv("MINIK8S_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MINIK8S_ISOLATION", "none")
    runtime = ProcessRuntime(node_name="node-1", node_index=0, data_dir=tmp_path / "data")
    try:
        runtime.cluster_network = ClusterNetwork(lambda: [], hosts_fallback=False)
        p = pod("ClusterFirst", namespace="default")
        p["metadata"]["uid"] = f"uid-{time.monotonic_ns()}"
        sandbox = runtime.run_pod_sandbox(p)
        messages = runtime.sandbox_messages(sandbox.id)
        assert ("Warning", "MissingClusterDNS") in [(kind, reason) for kind, reason, _ in messages]   # no kube-dns
        assert any(reason == "DNSConfigForming" and "cluster DNS names (Services) will not resolve" in message
                   for _, reason, message in messages)
    finally:
        runtime.close()


def test_runtimes_of_an_in_process_cluster_can_ask_its_dns() -> None:
    from minik8s import Cluster

    with Cluster(runtime="simulated", clock="virtual", seed=0) as c:
        network = c.kubelets[0].runtime.cluster_network
        assert network.lookup("kube-dns.kube-system", "default", "A") == (
            "kube-dns.kube-system.svc.cluster.local", ["10.96.0.10"])


@pytestmark_linux
def test_a_cluster_whose_dns_cannot_have_port_53_falls_back_to_etc_hosts(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from minik8s import Cluster, addresses

    monkeypatch.setenv("MINIK8S_HOME", str(tmp_path / "home"))
    # The block the cluster will get, claimed first (other clusters of the machine, tests run side by
    # side among them, hold the first blocks), so that its DNS address is known before it starts.
    block = addresses.claim_block("process")
    monkeypatch.setattr(addresses, "claim_block", lambda runtime: block)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        try:
            holder.bind((addresses.dns_service_ip(block.service_cidr), 53))   # as another program might
        except OSError:
            pass   # someone holds it already: the same situation
        with Cluster(nodes=1, runtime="process", data_dir=tmp_path / "cluster") as c:
            assert c.service_cidr == block.service_cidr
            assert not c.dns.on_port_53 and c.kubelets[0].runtime.cluster_network.hosts_fallback


@pytestmark_linux
def test_without_privilege_dns_listens_on_5353_and_pods_use_etc_hosts(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from minik8s import Cluster
    from minik8s.dns import server as dns_server
    from minik8s.kubelet.runtimes.process import isolation

    if isolation.mode() != "bwrap":
        pytest.skip("containers are not isolated here")
    monkeypatch.setenv("MINIK8S_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(dns_server, "may_bind_port", lambda port: port >= 1024)   # as a user that is not root
    with Cluster(nodes=1, runtime="process", data_dir=tmp_path / "cluster") as c:
        if c.dns.server is None:
            pytest.skip("port 5353 of this cluster's DNS address is taken on this machine")
        assert c.dns.server.port == 5353 and c.kubelets[0].runtime.cluster_network.hosts_fallback
        ip = c.service_cidr.split("/")[0].rsplit(".", 1)[0] + ".90"   # in this cluster's block
        c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                f"spec: {{clusterIP: {ip}, ports: [{{name: http, port: 80}}]}}\n")
        c.apply(RESOLVER_POD % {"name": "rootless"})
        out = wait_for(lambda: logs_of(c, "rootless").count(ip) >= 2 and logs_of(c, "rootless"),
                       timeout=30, what="answers")
        assert out.splitlines()[1] == ip   # Python's getaddrinfo, through /etc/hosts
