"""The rules view: upstream's chain names and probability formatting, the iptables-save text for a
two-endpoint Service, and ``minik8s proxy-rules`` against a real ``minik8s server``."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from minik8s.api import resources
from minik8s.proxy import iptables, servicemap

from test_proxy import endpoint, endpoint_slice, service


def test_chain_names_match_a_real_clusters() -> None:
    # Names read off real clusters' iptables-save (kubeadm and kind), for the Services every cluster has.
    svc = "KUBE-SVC-"
    assert iptables.chain_name(svc, "default/kubernetes:https", "TCP") == "KUBE-SVC-NPX46M4PTMTKRN6Y"
    assert iptables.chain_name(svc, "kube-system/kube-dns:dns", "UDP") == "KUBE-SVC-TCOU7JCQXEZGVUNU"
    assert iptables.chain_name(svc, "kube-system/kube-dns:dns-tcp", "TCP") == "KUBE-SVC-ERIFXISQEP7F7OF4"
    assert iptables.chain_name(svc, "kube-system/kube-dns:metrics", "TCP") == "KUBE-SVC-JD5MR3NA4I4DYORP"
    assert iptables.chain_name(svc, "default/nginx", "TCP") == "KUBE-SVC-2CMXP7HKUVJN7L6M"   # an unnamed port
    # upstream's unit tests: ns1/svc1:p80 and its endpoint 10.180.0.1:80
    assert iptables.chain_name(svc, "ns1/svc1:p80", "tcp") == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert iptables.chain_name("KUBE-SEP-", "ns1/svc1:p80", "tcp", "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"


def test_probabilities_print_as_iptables_save_prints_them() -> None:
    assert [iptables.probability(n) for n in (2, 3, 4, 5)] == [
        "0.50000000000", "0.33333333349", "0.25000000000", "0.20000000019"]


WEB_RULES = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES
-A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/idle:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 30081 -j REJECT --reject-with icmp-port-unreachable
-A KUBE-SERVICES -d 10.96.0.6/32 -p tcp -m comment --comment "default/idle:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-EXT-CDGGSHYLG3RE2FKL - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-BHMTFEMIGCOTLSJP - [0:0]
:KUBE-SEP-PBQ62IOVWGYEN623 - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-CDGGSHYLG3RE2FKL - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A KUBE-EXT-CDGGSHYLG3RE2FKL -m comment --comment "masquerade traffic for default/web:http external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-CDGGSHYLG3RE2FKL -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-NODEPORTS -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -j KUBE-EXT-CDGGSHYLG3RE2FKL
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SEP-BHMTFEMIGCOTLSJP -s 10.244.1.3/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-BHMTFEMIGCOTLSJP -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.1.3:80
-A KUBE-SEP-PBQ62IOVWGYEN623 -s 10.244.1.2/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-PBQ62IOVWGYEN623 -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.1.2:80
-A KUBE-SERVICES -d 10.96.0.5/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-CDGGSHYLG3RE2FKL
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-CDGGSHYLG3RE2FKL ! -s 10.244.0.0/16 -d 10.96.0.5/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.2:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-PBQ62IOVWGYEN623
-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.3:80" -j KUBE-SEP-BHMTFEMIGCOTLSJP
COMMIT
"""


def _nodeport(name: str, cluster_ip: str, node_port: int, **spec: Any) -> dict[str, Any]:
    return service(name, cluster_ip, type="NodePort",
                   ports=[{"name": "http", "port": 80, "protocol": "TCP", "nodePort": node_port}], **spec)


def test_rules_for_a_two_endpoint_nodeport_service_and_one_without_endpoints() -> None:
    slices = [endpoint_slice([endpoint("10.244.1.3"), endpoint("10.244.1.2")], port=80)]
    service_map = servicemap.build([_nodeport("web", "10.96.0.5", 30080), _nodeport("idle", "10.96.0.6", 30081)],
                                   slices, "node-1")
    assert iptables.render(service_map, "10.244.0.0/16") == WEB_RULES


def test_rules_for_affinity_and_local_external_policy() -> None:
    slices = [endpoint_slice([endpoint("10.244.1.2", "node-1"), endpoint("10.244.2.2", "node-2")], port=80)]
    sticky = _nodeport("web", "10.96.0.5", 30080, sessionAffinity="ClientIP", externalTrafficPolicy="Local")
    text = iptables.render(servicemap.build([sticky], slices, "node-1"), "10.244.0.0/16")
    svc, svl = "KUBE-SVC-CDGGSHYLG3RE2FKL", "KUBE-SVL-CDGGSHYLG3RE2FKL"
    sep = iptables.chain_name("KUBE-SEP-", "default/web:http", "tcp", "10.244.1.2:80")
    assert (f'-A {svc} -m comment --comment "default/web:http -> 10.244.1.2:80" -m recent --rcheck --seconds 10800 '
            f"--reap --name {sep} --mask 255.255.255.255 --rsource -j {sep}") in text
    assert (f'-A {sep} -p tcp -m comment --comment "default/web:http" -m recent --set --name {sep} '
            "--mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.244.1.2:80") in text
    # external traffic stays on this node (only its endpoint in the SVL chain); pods' and the node's own
    # traffic to the NodePort still goes anywhere
    assert f"-A KUBE-EXT-CDGGSHYLG3RE2FKL -j {svl}" in text
    assert (f'-A KUBE-EXT-CDGGSHYLG3RE2FKL -s 10.244.0.0/16 -m comment --comment "pod traffic for default/web:http '
            f'external destinations" -j {svc}') in text
    assert [line for line in text.splitlines() if line.startswith(f"-A {svl}")] == [
        f'-A {svl} -m comment --comment "default/web:http -> 10.244.1.2:80" -m recent --rcheck --seconds 10800 '
        f"--reap --name {sep} --mask 255.255.255.255 --rsource -j {sep}",
        f'-A {svl} -m comment --comment "default/web:http -> 10.244.1.2:80" -j {sep}']
    # on a node without endpoints of its own, external traffic is dropped (not rejected)
    other = iptables.render(servicemap.build([sticky], slices, "node-3"), "10.244.0.0/16")
    assert ('-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/web:http has no local endpoints" '
            "-m addrtype --dst-type LOCAL -m tcp --dport 30080 -j DROP") in other


def test_proxy_rules_command_reads_a_real_server(tmp_path: Any) -> None:
    from conftest import start_server

    srv = start_server(tmp_path, "--nodes", "1", "--runtime", "simulated")
    try:
        client = srv.http_client()
        client.create(resources.get("", "v1", "services"), _nodeport("web", "10.96.0.5", 30080), "default")
        client.create(resources.get("discovery.k8s.io", "v1", "endpointslices"),
                      endpoint_slice([endpoint("10.244.1.3"), endpoint("10.244.1.2")], port=80), "default")
        command = [sys.executable, "-m", "minik8s", "proxy-rules", "--kubeconfig", str(srv.kubeconfig)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert ('-A KUBE-SVC-CDGGSHYLG3RE2FKL -m comment --comment "default/web:http -> 10.244.1.2:80" -m statistic '
                "--mode random --probability 0.50000000000 -j KUBE-SEP-PBQ62IOVWGYEN623") in done.stdout
        assert "-A KUBE-SVC-CDGGSHYLG3RE2FKL ! -s 10.244.0.0/16 -d 10.96.0.5/32 " in done.stdout   # from podCIDR
        done = subprocess.run([*command, "--cluster-cidr", "10.0.0.0/8"], capture_output=True, text=True, timeout=60)
        assert "-A KUBE-SVC-CDGGSHYLG3RE2FKL ! -s 10.0.0.0/8 -d 10.96.0.5/32 " in done.stdout
        assert "! -s 10.244.0.0/16" not in done.stdout
        done = subprocess.run([*command, "--node", "node-9"], capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr == 'Error from server (NotFound): nodes "node-9" not found\n'
    finally:
        srv.stop()
