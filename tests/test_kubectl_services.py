"""kubectl's Service commands (minik8s.kubectl.services, describe svc, the Service tables),
checked against the real kubectl on the same server."""

from __future__ import annotations

import argparse
import re
import shlex

import pytest

from conftest import needs_kubectl, start_server
from minik8s.cluster import Cluster, KubectlError
from minik8s.kubectl.command import CommandError
from minik8s.kubectl.services import exposed_service, service_from_flags

# An age and the padding after it (the AGE column is as wide as its longest age, "9s" or "10s"), and the
# header's padding too: the two kubectls may run on either side of a second's turn.
AGE_COLUMN = re.compile(r"(\b\d+(s|m\d*s?|h\d*m?|d\d*h?)\b|\bAGE\b) *")

SETUP = [
    "create deployment web --image=nginx --port=80 --replicas=3",
    "create deployment noport --image=nginx",
    "run p --image=nginx --port=8080 --labels=app=p,tier=x",
    "run q --image=nginx",
    "create configmap c",
    "create service nodeport np --tcp=80:8080 --node-port=30080",
    "create service loadbalancer lb --tcp=80:8080 --tcp=443:https",
    "create service externalname ext --external-name=example.com",
    "create service clusterip h --clusterip=None",
    "create service loadbalancer pending --tcp=80",
    "annotate svc np team=blue",
]

SLICE = """\
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: np-abcde, labels: {kubernetes.io/service-name: np}}
addressType: IPv4
endpoints:
- addresses: [10.244.1.2]
  conditions: {ready: true}
- addresses: [10.244.1.3]
  conditions: {ready: true}
- addresses: [10.244.1.4]
  conditions: {ready: false}
- addresses: [10.244.2.2]
- addresses: [10.244.2.3]
ports: [{name: 80-8080, port: 8080, protocol: TCP}]
---
{apiVersion: discovery.k8s.io/v1, kind: EndpointSlice, addressType: IPv4,
 metadata: {name: np-fghij, labels: {kubernetes.io/service-name: np}},
 endpoints: [{addresses: [10.244.3.2], conditions: {ready: false, serving: true, terminating: true},
              hostname: web-0, nodeName: node-3, zone: zone-a, targetRef: {kind: Pod, name: web-0}}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: manual, annotations: {note: by hand}}
subsets:
- addresses: [{ip: 10.244.1.9}, {ip: 10.244.2.9}]
  notReadyAddresses: [{ip: 10.244.3.9}]
  ports: [{port: 80}, {name: metrics, port: 9090, protocol: UDP}]
- addresses: [{ip: 10.244.4.9}]
"""

ORACLE_COMMANDS = [
    # tables
    "get svc", "get svc -o wide", "get services,endpoints", "get ep", "get endpointslices",
    "get endpointslices -o wide", "get svc np -o yaml",
    # describe
    "describe svc", "describe svc np", "describe svc lb ext h kubernetes pending",
    "describe endpointslices", "describe endpoints",
    # create service, printed not sent
    "create service clusterip web --tcp=80:8080 --tcp=443:https --dry-run=client -o yaml",
    "create service nodeport web --tcp=80 --node-port=30081 --dry-run=client -o yaml",
    "create service loadbalancer lb2 --tcp=5678:8080 --dry-run=client -o name",
    "create service externalname ext2 --external-name=example.com --tcp=80 --dry-run=client -o yaml",
    "create svc clusterip h2 --clusterip=None --dry-run=client -o yaml",
    "create service clusterip web --tcp=80 --dry-run=client",
    # create service, refused by kubectl
    "create service clusterip x", "create service nodeport x --clusterip=None --tcp=80",
    "create service externalname x --external-name=Bad_", "create service clusterip x --tcp=abc",
    "create service clusterip x --tcp=80:0", "create service clusterip x --tcp=80:Bad",
    "create service foo x", "create service clusterip", "create service",
    "create service clusterip a b --tcp=80",
    # create service, refused by the server
    "create service nodeport np2 --tcp=80 --node-port=30080",
    "create service nodeport np2 --tcp=80 --node-port=80",
    "create service clusterip k2 --tcp=443 --clusterip=10.96.0.1",
    "create service clusterip k2 --tcp=443 --clusterip=192.168.0.1",
    "create service nodeport np --tcp=80",
    # expose, printed not sent
    "expose deployment web --dry-run=client -o yaml",
    "expose deployment web --port=8080 --target-port=80 --name=web2 --type=NodePort --dry-run=client -o yaml",
    "expose pod p --dry-run=client -o yaml",
    "expose pod p --protocol=UDP --selector=app=p --dry-run=client -o yaml",
    "expose deploy web --type=LoadBalancer --port=80 --target-port=http --dry-run=client -o yaml",
    "expose pod q --port=80 --type=ExternalName --dry-run=client -o yaml",
    "expose svc np --name=np3 --dry-run=client -o yaml",
    "expose svc/lb --name=lb3 --port=81 --dry-run=client -o yaml",
    "expose deployment web --port=80,81 --dry-run=client -o yaml",
    "expose deployment/web --dry-run=client",
    "expose deployment web --name=w6 --cluster-ip=None --labels=a=b --external-ip=1.2.3.4 "
    "--session-affinity=ClientIP --dry-run=client -o yaml",
    "expose deployment web --type=LoadBalancer --load-balancer-ip=1.2.3.5 --port=80 --dry-run=client -o yaml",
    "expose deployment noport --cluster-ip=None --dry-run=client -o yaml",
    "expose pod p --labels=bad", "expose deployment web --selector=bad",
    # expose, refused
    "expose deployment noport", "expose pod q", "expose deployment nope --port=80",
    "expose deployment web --type=Foo", "expose", "expose configmap c --port=80",
    "expose deployment web --port=abc", "expose svc/kubernetes", "expose svc np",
]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("svc-oracle"), "--nodes", "0", "--runtime", "simulated",
                       "--seed", "3")
    for command in SETUP:
        done = srv.kubectl(*shlex.split(command))
        assert done.returncode == 0, (command, done.stderr)
    done = srv.kubectl("apply", "-f", "-", stdin=SLICE)
    assert done.returncode == 0, done.stderr
    yield srv
    srv.stop()


@needs_kubectl
@pytest.mark.parametrize("command", ORACLE_COMMANDS)
def test_same_output_as_the_real_kubectl(oracle, command):
    def printed(real: bool) -> tuple[int, str, str]:
        done = oracle.kubectl(*shlex.split(command), real=real)
        return done.returncode, AGE_COLUMN.sub("AGE ", done.stdout), AGE_COLUMN.sub("AGE ", done.stderr)

    assert printed(real=False) == printed(real=True)


@needs_kubectl
def test_expose_creates_the_same_service_as_the_real_kubectl(oracle):
    real = oracle.kubectl("expose", "deployment", "web", "--name=by-kubectl", "--port=80", "--type=NodePort")
    ours = oracle.kubectl("expose", "deployment", "web", "--name=by-minik8s", "--port=80", "--type=NodePort",
                          real=False)
    assert (real.returncode, real.stdout) == (0, "service/by-kubectl exposed\n")
    assert (ours.returncode, ours.stdout) == (0, "service/by-minik8s exposed\n")
    table = oracle.kubectl("get", "svc", "by-kubectl", "by-minik8s", "-o", "wide").stdout.splitlines()
    rows = [line.split() for line in table[1:]]
    assert [row[1] for row in rows] == ["NodePort", "NodePort"]
    assert [row[-1] for row in rows] == ["app=web", "app=web"]
    assert all(re.fullmatch(r"80:3\d{4}/TCP", row[4]) for row in rows)
    again = oracle.kubectl("expose", "deployment", "web", "--name=by-minik8s", "--port=80", real=False)
    assert (again.returncode, again.stderr) == (1, 'Error from server (AlreadyExists): services "by-minik8s" '
                                                   'already exists\n')


@needs_kubectl
def test_describe_reads_the_ready_endpoints_of_the_slices(oracle):
    ours = oracle.kubectl("describe", "svc", "np", real=False).stdout
    assert "Endpoints:                10.244.1.2:8080,10.244.1.3:8080,10.244.2.2:8080 + 1 more...\n" in ours
    assert "NodePort:                 80-8080  30080/TCP\n" in ours
    lb = oracle.kubectl("describe", "svc", "lb", real=False).stdout
    # The built-in load-balancer controller gave it the first address of the simulated pool.
    assert "LoadBalancer Ingress:     172.18.255.1 (VIP)\n" in lb


# --- in-process, no kubectl needed ---------------------------------------------------------------------------


def test_get_svc_in_process_on_a_simulated_cluster_is_deterministic():
    def run() -> str:
        with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=5) as cluster:
            cluster.kubectl("create deployment web --image=nginx --port=80")
            assert cluster.kubectl("expose deployment web --type=NodePort") == "service/web exposed\n"
            return cluster.kubectl("get svc -o wide")

    first = run()
    assert first == run()
    lines = first.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert lines[1].split() == ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "0s", "<none>"]
    name, kind, ip, external, ports, _, selector = lines[2].split()
    assert (name, kind, external, selector) == ("web", "NodePort", "<none>", "app=web")
    assert ip.startswith("10.") and re.fullmatch(r"80:3\d{4}/TCP", ports)


def test_process_runtime_cluster_uses_the_loopback_service_range():
    import ipaddress

    with Cluster(nodes=0, runtime="process", clock="virtual", seed=0) as cluster:
        # The first free loopback block: 127.96.0.0/12 unless another cluster on this machine holds it
        # (tests run side by side), then 127.112.0.0/12, ... (addresses.claim_block).
        cidr = ipaddress.ip_network(cluster.service_cidr)
        assert cidr.prefixlen == 12 and cidr.subnet_of(ipaddress.ip_network("127.0.0.0/8"))
        assert int(cidr.network_address) >= int(ipaddress.ip_address("127.96.0.0"))
        base = str(cidr.network_address).rsplit(".", 1)[0]   # 127.96.0 for the first block
        out = cluster.kubectl(f"create service clusterip dns --tcp=53 --clusterip={base}.20")
        assert out == "service/dns created\n"
        assert f"{base}.1 " in cluster.kubectl("get svc kubernetes")
        assert f"{base}.10 " in cluster.kubectl("get svc kube-dns -n kube-system")
        with pytest.raises(KubectlError) as taken:
            cluster.kubectl(f"create service clusterip dns2 --tcp=53 --clusterip={base}.10")
        assert taken.value.message.endswith(f"failed to allocate IP {base}.10: provided IP is already allocated")


def _flags(**values) -> argparse.Namespace:
    base = {"tcp": [], "node_port": None, "external_name": None, "clusterip": None, "port": "", "target_port": "",
            "name": "", "type": "", "protocol": "", "selector": "", "labels": "", "cluster_ip": "", "external_ip": "",
            "load_balancer_ip": "", "session_affinity": ""}
    return argparse.Namespace(**{**base, **values})


def test_service_from_flags_names_ports_after_their_spec():
    svc = service_from_flags("nodeport", "web", _flags(tcp=["80:8080", "53"], node_port=30053))
    assert svc["spec"]["ports"] == [
        {"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30053},
        {"name": "53", "port": 53, "protocol": "TCP", "targetPort": 53, "nodePort": 30053}]
    with pytest.raises(CommandError, match="at least one tcp port specifier must be provided"):
        service_from_flags("clusterip", "web", _flags())


def test_exposed_service_takes_selector_ports_and_protocols_from_the_object():
    deployment = {"kind": "Deployment", "metadata": {"name": "dns", "labels": {"app": "dns"}},
                  "spec": {"selector": {"matchLabels": {"app": "dns"}}, "template": {"spec": {"containers": [
                      {"name": "c", "ports": [{"containerPort": 53, "protocol": "UDP"}]}]}}}}
    svc = exposed_service(deployment, _flags())
    assert svc["spec"] == {"ports": [{"port": 53, "protocol": "UDP", "targetPort": 53}],
                           "selector": {"app": "dns"}}
    deployment["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "Exists"}]}
    with pytest.raises(CommandError, match="couldn't convert expressions"):
        exposed_service(deployment, _flags())
