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

privileged = pytest.mark.skipif(hostnet.refusal() is not None,
                                reason=f"netns mode cannot run here: {hostnet.refusal()}")

PODS = """\
apiVersion: v1
kind: Pod
metadata: {name: a, labels: {app: web}}
spec:
  nodeName: node-1
  containers: [{name: web, image: python, command: ["python3", "-m", "http.server", "80"], ports: [{containerPort: 80}],
               readinessProbe: {httpGet: {path: /, port: 80}, periodSeconds: 1}}]
---
apiVersion: v1
kind: Pod
metadata: {name: b}
spec:
  nodeName: node-2
  containers: [{name: client, image: python, command: ["sleep", "3600"]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 8080, targetPort: 80}]
"""

FETCH = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).status)"


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
    srv = start_server(tmp_path, "--nodes", "2", "--network", "netns")
    try:
        cid = _cluster_id(srv.data_dir)
        assert srv.kubectl("apply", "-f", "-", stdin=PODS).returncode == 0
        wait_for(lambda: _running(srv, "a", "b"), timeout=60, what="pods a and b running")
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
        # Cluster DNS answers from inside the namespace (the Service name is not in /etc/hosts).
        assert "web" not in srv.kubectl("exec", "b", "--", "cat", "/etc/hosts").stdout
        resolve = "import socket; print(socket.gethostbyname('web.default.svc.cluster.local'))"
        assert srv.kubectl("exec", "b", "--", "python3", "-c", resolve).stdout.strip() == ip
        # The kubelet's probes and port-forward reach the pod IP from the host, through the bridge.
        assert any(c["type"] == "Ready" and c["status"] == "True" for c in _get(srv, "pod", "a")["status"]["conditions"])
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
    srv = start_server(tmp_path, "--nodes", "1", "--network", "netns")
    cid = _cluster_id(srv.data_dir)
    try:
        assert srv.kubectl("apply", "-f", "-", stdin=PODS.replace("node-2", "node-1")).returncode == 0
        wait_for(lambda: _running(srv, "a", "b"), timeout=60, what="pods running")
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
