"""netns mode (minik8s.hostnet, minik8s.proxy.kernel): real network namespaces, veths, bridges and rules.

A real ``minik8s server --network netns`` with two nodes: pods on two bridges reach each other by pod
IP, a ClusterIP Service answers from a pod and from the host, outbound NAT is in place, and every
namespace, link, table and rule goes away on stop, and after ``kill -9`` with ``minik8s cleanup``.
Needs root (or CAP_NET_ADMIN) and iproute2/nftables/iptables: skipped otherwise, except the refusal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from minik8s import hostnet
from tests.conftest import start_server, wait_for
from tests.test_portforward import Forward, http_get

privileged = pytest.mark.skipif(hostnet.refusal() is not None,
                                reason=f"netns mode cannot run here: {hostnet.refusal()}")


def _pod(name: str, node: str, app: str, serve: bool) -> str:
    command = '["python3", "-m", "http.server", "80"]' if serve else '["sleep", "3600"]'
    probe = ", ports: [{containerPort: 80}], readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 1}" \
        if serve else ""
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, labels: {{app: {app}}}}}\n"
            f"spec:\n  nodeName: {node}\n  containers: [{{name: c, image: python, command: {command}{probe}}}]\n---\n")


PODS = _pod("a", "node-1", "web", True) + _pod("b", "node-2", "client", False) + """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{port: 8080, targetPort: 80}]
"""

FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).status)"


def _started(tmp_path, nodes: str, manifest: str, *pods: str):
    """A netns-mode server with ``manifest`` applied and ``pods`` running: (server, cluster id)."""
    srv = start_server(tmp_path, "--nodes", nodes, "--network", "netns")
    try:
        assert srv.kubectl("apply", "-f", "-", stdin=manifest).returncode == 0
        wait_for(lambda: _running(srv, *pods), timeout=60, what=f"pods {', '.join(pods)} running")
    except BaseException:
        srv.stop(signal.SIGKILL)
        hostnet.cleanup(srv.data_dir)
        raise
    return srv, _cluster_id(srv.data_dir)


def _cluster_id(data_dir) -> str:
    return json.loads((data_dir / hostnet.STATE_FILE).read_text())["clusterID"]


def _nothing_left(cluster_id: str) -> bool:
    return not any(hostnet.leftovers(cluster_id).values())


def _get(srv, *args: str) -> dict:
    done = srv.kubectl("get", *args, "-o", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _running(srv, *names: str) -> bool:
    return all(_get(srv, "pod", n)["status"].get("phase") == "Running" for n in names)


def test_refused_without_the_privilege(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), hostnet.UNPRIVILEGED_ENV: "1"}
    done = subprocess.run([sys.executable, "-m", "minik8s", "server", "--port", "0", "--network", "netns",
                           "--data-dir", str(tmp_path / "data"), "--kubeconfig", str(tmp_path / "kubeconfig")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode != 0
    assert "--network netns needs root or CAP_NET_ADMIN" in done.stderr
    assert not (tmp_path / "data" / hostnet.STATE_FILE).exists()


@privileged
def test_pods_services_nat_and_cleanup_on_stop(tmp_path):
    srv, cid = _started(tmp_path, "2", PODS, "a", "b")
    try:
        a, b = _get(srv, "pod", "a"), _get(srv, "pod", "b")
        node1 = _get(srv, "node", "node-1")["spec"]
        assert node1["podCIDRs"] == [node1["podCIDR"]]
        assert hostnet.in_cidr(a["status"]["podIP"], node1["podCIDR"])
        assert not hostnet.in_cidr(b["status"]["podIP"], node1["podCIDR"])   # another node, another bridge

        # The objects are there: one namespace per pod, a bridge per node, a veth per pod.
        found = hostnet.leftovers(cid)
        assert len(found["netns"]) == 2
        assert {f"mk8s-{cid}b0", f"mk8s-{cid}b1"} <= set(found["links"]) and len(found["links"]) == 4
        inside = subprocess.run(["ip", "-n", found["netns"][0], "-o", "-4", "addr", "show", "eth0"],
                                capture_output=True, text=True).stdout
        assert "/24" in inside

        # Pod to pod across nodes, by pod IP.
        url = f"http://{a['status']['podIP']}:80/"
        done = srv.kubectl("exec", "b", "--", "python3", "-c", FETCH, url)
        assert done.stdout.strip() == "200", done.stderr
        # Pod to a ClusterIP, and the host to the same ClusterIP (kernel rules, no user-space proxy).
        ip = _get(srv, "service", "web")["spec"]["clusterIP"]
        wait_for(lambda: srv.kubectl("exec", "b", "--", "python3", "-c", FETCH, f"http://{ip}:8080/").stdout.strip()
                 == "200", timeout=20, what="the ClusterIP answering pod b")
        with urllib.request.urlopen(f"http://{ip}:8080/", timeout=5) as response:
            assert response.status == 200
        # The kubernetes Service too: its endpoint is the API server on the host's loopback address.
        api = _get(srv, "service", "kubernetes")["spec"]["clusterIP"]
        insecure = ("import ssl, urllib.request; print(urllib.request.urlopen('https://%s/version', timeout=5, "
                    "context=ssl._create_unverified_context()).status)" % api)
        assert srv.kubectl("exec", "b", "--", "python3", "-c", insecure).stdout.strip() == "200"
        # Cluster DNS answers from inside the namespace (the Service name is not in /etc/hosts).
        assert "web" not in srv.kubectl("exec", "b", "--", "cat", "/etc/hosts").stdout
        resolve = "import socket; print(socket.gethostbyname('web.default.svc.cluster.local'))"
        assert srv.kubectl("exec", "b", "--", "python3", "-c", resolve).stdout.strip() == ip
        # The kubelet's probes, port-forward and logs reach the pod from the host, through the bridge.
        assert any(c["type"] == "Ready" and c["status"] == "True" for c in _get(srv, "pod", "a")["status"]["conditions"])
        with Forward(srv, "pod/a", ":80") as forward:
            assert http_get(forward.local(80)).startswith("HTTP/1.0 200")
        wait_for(lambda: '"GET / HTTP/1.1" 200' in srv.kubectl("logs", "a").stdout, what="pod a logging requests")
        # A NodePort answers on every node's address (the gateway of its bridge).
        node_port = _get(srv, "service", "web")["spec"]["ports"][0]["nodePort"]
        node2 = [a["address"] for a in _get(srv, "node", "node-2")["status"]["addresses"] if a["type"] == "InternalIP"]
        with urllib.request.urlopen(f"http://{node2[0]}:{node_port}/", timeout=5) as response:
            assert response.status == 200
        nat = subprocess.run(["nft", "list", "table", "ip", f"mk8s-{cid}-nat"], capture_output=True, text=True).stdout
        assert "chain KUBE-SERVICES" in nat and "KUBE-SVC-" in nat and "KUBE-SEP-" in nat
        # Outbound NAT: pod traffic leaving the cluster network is masqueraded.
        postrouting = subprocess.run(["iptables", "-t", "nat", "-S", "POSTROUTING"], capture_output=True,
                                     text=True).stdout
        assert any("MASQUERADE" in line and f"mk8s-{cid}" in line and "10.24" in line
                   for line in postrouting.splitlines())

        # A deleted pod takes its namespace and veth with it.
        assert srv.kubectl("delete", "pod", "b", "--grace-period=0", "--force").returncode == 0
        wait_for(lambda: len(hostnet.leftovers(cid)["netns"]) == 1, timeout=30, what="pod b's netns removed")
    finally:
        code = srv.stop()
    assert code == 0
    assert _nothing_left(cid), hostnet.leftovers(cid)
    assert not (srv.data_dir / hostnet.STATE_FILE).exists()


@privileged
def test_cleanup_after_kill_9(tmp_path):
    srv, cid = _started(tmp_path, "1", PODS.replace("node-2", "node-1"), "a", "b")
    try:
        wait_for(lambda: hostnet.leftovers(cid)["tables"], timeout=20, what="kube-proxy's tables")
    finally:
        srv.stop(signal.SIGKILL)
    left = hostnet.leftovers(cid)
    assert left["netns"] and left["links"] and left["tables"] and left["rules"]
    done = subprocess.run([sys.executable, "-m", "minik8s", "cleanup", "--data-dir", str(srv.data_dir)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"removed netns mk8s-{cid}-" in done.stdout
    assert _nothing_left(cid), hostnet.leftovers(cid)
    again = subprocess.run([sys.executable, "-m", "minik8s", "cleanup", "--data-dir", str(srv.data_dir)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "nothing to clean up" in again.stdout


@privileged
def test_next_start_removes_a_crashed_servers_leftovers(tmp_path):
    srv, cid = _started(tmp_path, "1", _pod("a", "node-1", "web", True), "a")
    srv.stop(signal.SIGKILL)
    assert hostnet.leftovers(cid)["netns"]
    again = start_server(tmp_path, "--nodes", "1", "--network", "netns")
    try:
        assert _nothing_left(cid), hostnet.leftovers(cid)
        new = _cluster_id(again.data_dir)
        assert new != cid
        wait_for(lambda: _running(again, "a"), timeout=60, what="pod a running again")   # in a new namespace
    finally:
        again.stop()
    assert _nothing_left(new), hostnet.leftovers(new)


POLICY_PODS = _pod("db", "node-1", "db", True) + _pod("frontend", "node-2", "frontend", True) + \
    _pod("other", "node-1", "other", True)

POLICIES = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: frontend-to-db}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: 80}]
"""


@privileged
def test_network_policy_becomes_filter_rules(tmp_path):
    """Default deny plus one allow, as a connectivity matrix: every pod probes every other pod's port 80
    (pods on both nodes, two on one bridge), before, with and after the policies."""
    pods = ("db", "frontend", "other")
    srv, cid = _started(tmp_path, "2", POLICY_PODS, *pods)
    try:
        ips = {pod: _get(srv, "pod", pod)["status"]["podIP"] for pod in pods}

        def reaches(client: str, server: str) -> bool:
            fetch = srv.kubectl("exec", client, "--", "python3", "-c", FETCH, f"http://{ips[server]}:80/")
            return fetch.stdout.strip() == "200"

        def matrix() -> dict[tuple[str, str], bool]:
            return {(c, s): reaches(c, s) for c in pods for s in pods if c != s}

        everyone = {(c, s): True for c in pods for s in pods if c != s}
        assert matrix() == everyone   # no policy: every pod talks to every pod
        assert srv.kubectl("apply", "-f", "-", stdin=POLICIES).returncode == 0
        wait_for(lambda: not reaches("other", "db"), timeout=20, what="other cut off from db")
        # default deny plus one allow: only frontend (another node) reaches db; nothing else reaches anyone
        assert matrix() == {**{pair: False for pair in everyone}, ("frontend", "db"): True}
        table = subprocess.run(["nft", "list", "table", "ip", f"mk8s-{cid}-policy"], capture_output=True,
                               text=True).stdout
        assert "ct state established,related accept" in table and "chain INGRESS-" in table
        assert srv.kubectl("delete", "networkpolicy", "--all").returncode == 0
        wait_for(lambda: reaches("other", "db"), timeout=20, what="other reaching db again")
        assert matrix() == everyone
    finally:
        srv.stop()
    assert _nothing_left(cid), hostnet.leftovers(cid)


def test_policy_rules_are_the_decision_modules_answers():
    """Pure: the table for default-deny + frontend->db:80 (no root needed)."""
    import yaml

    from minik8s.proxy.policyrules import table_script

    pods = []
    for doc, ip in zip(yaml.safe_load_all(POLICY_PODS), ("10.244.1.2", "10.244.2.2", "10.244.1.3")):
        doc["metadata"]["namespace"] = "default"
        doc["status"] = {"podIP": ip}
        pods.append(doc)
    policies = [dict(p, metadata={**p["metadata"], "namespace": "default"}) for p in yaml.safe_load_all(POLICIES)]
    script = table_script("t", pods, policies, {"default": {}})
    chains = {line.split()[-1] for line in script.splitlines() if "jump INGRESS-" in line}
    assert len(chains) == 3 and "EGRESS-" not in script   # every pod isolated for ingress only
    db_chain = next(line.split()[-1] for line in script.splitlines() if "daddr 10.244.1.2 jump" in line)
    db_rules = [line.split(db_chain, 1)[1].strip() for line in script.splitlines()
                if line.startswith(f"add rule ip t {db_chain} ")]
    assert db_rules == ["ip saddr 10.244.1.2 meta l4proto tcp return", "ip saddr 10.244.1.2 meta l4proto udp return",
                        "ip saddr 10.244.1.2 meta l4proto sctp return", "ip saddr 10.244.2.2 tcp dport { 80 } return",
                        "drop"]
    assert table_script("t", pods, [], {"default": {}}).count("jump") == 0   # no policy: nothing isolated


def test_two_clusters_get_disjoint_networks(tmp_path):
    """Two clusters on one machine: different blocks, ids, CIDRs and object names (no root needed)."""
    first, second = hostnet.claim(lock_dir=tmp_path), hostnet.claim(lock_dir=tmp_path)
    try:
        assert first.block != second.block and first.cluster_id != second.cluster_id
        assert first.pod_cidr(0) != second.pod_cidr(0) and first.service_cidr != second.service_cidr
        assert first.bridge(0) != second.bridge(0) and all(len(p.veth("f" * 64)) <= 15 for p in (first, second))
    finally:
        first.release()
        second.release()
    again = hostnet.claim(lock_dir=tmp_path)
    again.release()
    assert again.block == 0   # released: the first block is free again
