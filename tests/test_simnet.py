"""The simulated pod network and the network commands of the simulated shell.

Expected outputs are the real tools' formats, checked against their sources: busybox 1.36
(``networking/wget.c``, ``libbb/progress.c``, ``networking/nslookup.c``, ``networking/nc_bloaty.c``)
and curl 8's error texts and progress meter. Fake kube-proxy and DNS hooks stand in for the real
ones (``minik8s/proxy``, ``minik8s/dns``), as the cluster will connect them.
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import needs_kubectl, start_server
from minik8s import Cluster
from minik8s.kubelet.runtimes import simshell
from minik8s.kubelet.runtimes.simnet import (HTTPD_WORKS, NGINX_WELCOME, App, NoDNS, PodNetwork, PodRouter, SimulatedNetwork,
                                             respond)

VIP = "10.96.0.5"

PODS = """
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: node-1
  containers: [{name: c, image: "busybox:1.36", command: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata: {name: client2}
spec:
  nodeName: node-2
  containers: [{name: c, image: "busybox:1.36", command: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata: {name: curl}
spec:
  nodeName: node-1
  containers: [{name: c, image: curlimages/curl, command: [sleep, infinity]}]
---
apiVersion: v1
kind: Pod
metadata: {name: nginx, labels: {app: nginx}}
spec:
  nodeName: node-2
  containers: [{name: web, image: "nginx:1.27.3", ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: apache}
spec:
  nodeName: node-2
  containers: [{name: web, image: httpd}]
"""

ECHO = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: echo}}}}
spec:
  nodeName: {node}
  containers:
  - name: echo
    image: registry.k8s.io/e2e-test-images/agnhost:2.40
    args: [serve-hostname]
"""

WGET_PROGRESS = "-                    100% |********************************|   615  0:00:00 ETA\n"
CURL_METER = ("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
              "                                 Dload  Upload   Total   Spent    Left  Speed\n")


class FakeProxy:
    """kube-proxy's simulated back-end as the tests need it: one Service VIP, endpoints taken in turn
    (the real one picks from EndpointSlices); every other address routes to itself."""

    def __init__(self, endpoints: list[str], port: int = 80, target_port: int = 9376):
        self.endpoints = endpoints
        self.port, self.target_port = port, target_port
        self.calls: list[tuple[str, str, str, int, str]] = []
        self.turn = 0

    def route(self, node: str, client_ip: str, dst_ip: str, dst_port: int, protocol: str) -> tuple[str, int] | None:
        self.calls.append((node, client_ip, dst_ip, dst_port, protocol))
        if dst_ip != VIP:
            return dst_ip, dst_port
        if dst_port != self.port or not self.endpoints:
            return None
        endpoint = self.endpoints[self.turn % len(self.endpoints)]
        self.turn += 1
        return endpoint, self.target_port


class FakeDNS:
    """Cluster DNS for the tests: Services of the default namespace, with a ClusterFirst search path."""

    def __init__(self, services: dict[str, str]):
        self.records = {f"{name}.default.svc.cluster.local": ip for name, ip in services.items()}

    def lookup(self, name: str, namespace: str, qtype: str = "A") -> tuple[str, list[str]] | None:
        if name.endswith("."):
            candidates = [name[:-1]]
        else:
            search = [f"{namespace}.svc.cluster.local", "svc.cluster.local", "cluster.local"]
            candidates = [f"{name}.{domain}" for domain in search] + [name]
        for fqdn in candidates:
            if fqdn in self.records:
                return fqdn, [self.records[fqdn]] if qtype == "A" else []
        return None


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(PODS)
        for name, node in (("echo-a", "node-1"), ("echo-b", "node-2"), ("echo-c", "node-2")):
            c.apply(ECHO.format(name=name, node=node))
        c.advance(5)
        yield c


@pytest.fixture
def net(cluster: Cluster) -> Iterator[SimulatedNetwork]:
    network = cluster.network
    assert isinstance(network, SimulatedNetwork)
    yield network
    network.router, network.resolver = PodRouter(), NoDNS()


def ip(cluster: Cluster, pod: str) -> str:
    return str(cluster.kubectl(f"get pod {pod} -o jsonpath={{.status.podIP}}"))


def run(cluster: Cluster, pod: str, script: str) -> tuple[int, str, str]:
    return cluster.run_kubectl(["exec", pod, "--", "sh", "-c", script])


def nginx_pod(name: str, behaviour: dict[str, Any], **spec: Any) -> str:
    """A pod with one nginx container called ``web``, scripted with ``behaviour`` (see the simulated runtime)."""
    container = {"name": "web", "image": "nginx", **spec.pop("container", {})}
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "annotations": {"sim.minik8s.io/web": json.dumps(behaviour)}},
                       "spec": {"containers": [container], **spec}})


@contextmanager
def client_and(manifest: str, seconds: float) -> Iterator[Cluster]:
    """A one-node cluster with the busybox client and the pod of ``manifest``, ``seconds`` after they start."""
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(PODS.split("---")[0])
        c.apply(manifest)
        c.advance(seconds)
        yield c


def echo_service(cluster: Cluster, net: SimulatedNetwork) -> FakeProxy:
    proxy = FakeProxy([ip(cluster, p) for p in ("echo-a", "echo-b", "echo-c")])
    net.router = proxy
    net.resolver = FakeDNS({"web": VIP})
    return proxy


# --- the fabric ------------------------------------------------------------------------------


def test_pods_on_two_nodes_reach_each_other_by_pod_ip(cluster: Cluster) -> None:
    nginx = ip(cluster, "nginx")
    assert nginx.startswith("10.244.2.") and ip(cluster, "client").startswith("10.244.1.")
    assert cluster.kubectl(f"exec client -- wget -qO- http://{nginx}") == NGINX_WELCOME
    # ... and the other way round, node-2 to node-1.
    assert cluster.kubectl(f"exec client2 -- wget -qO- http://{ip(cluster, 'echo-a')}:9376") == "echo-a"


def test_busybox_has_no_curl(cluster: Cluster) -> None:
    assert run(cluster, "client", "curl -s http://web") == (
        127, "", "sh: curl: not found\ncommand terminated with exit code 127\n")
    code, _, err = cluster.run_kubectl("exec client -- curl -s http://web")
    assert code == 1 and err.endswith('exec: "curl": executable file not found in $PATH: unknown\n')


def test_every_connection_asks_the_route_hook_with_the_client_and_its_node(cluster: Cluster,
                                                                           net: SimulatedNetwork) -> None:
    proxy = echo_service(cluster, net)
    cluster.kubectl(f"exec client -- wget -qO- http://{VIP}")
    assert proxy.calls == [("node-1", ip(cluster, "client"), VIP, 80, "TCP")]


def test_a_service_spreads_requests_in_the_order_the_route_hook_picks(cluster: Cluster,
                                                                       net: SimulatedNetwork) -> None:
    echo_service(cluster, net)
    code, out, err = run(cluster, "client", "for i in 1 2 3 4 5 6; do wget -qO- http://web; echo; done")
    assert (code, err) == (0, "")
    assert out == "echo-a\necho-b\necho-c\necho-a\necho-b\necho-c\n"


def test_without_kube_proxy_and_dns_only_pod_ips_work(cluster: Cluster, net: SimulatedNetwork) -> None:
    assert run(cluster, "client", f"wget -qO- http://{VIP}") == (
        1, "", f"wget: can't connect to remote host ({VIP}): Connection refused\n"
               "command terminated with exit code 1\n")
    assert run(cluster, "client", "wget -qO- http://web") == (
        1, "", "wget: bad address 'web'\ncommand terminated with exit code 1\n")


def test_a_port_nothing_listens_on_refuses(cluster: Cluster) -> None:
    nginx = ip(cluster, "nginx")
    code, _, err = run(cluster, "client", f"wget -qO- http://{nginx}:8080")
    assert code == 1 and err.startswith(f"wget: can't connect to remote host ({nginx}): Connection refused\n")


def test_the_pod_reaches_itself_on_localhost_and_its_own_hostname(cluster: Cluster) -> None:
    assert cluster.kubectl("exec nginx -- curl -s http://localhost/") == NGINX_WELCOME
    assert cluster.kubectl("exec echo-b -- wget -qO- http://echo-b:9376") == "echo-b"
    assert cluster.kubectl("exec echo-b -- wget -qO- http://127.0.0.1:9376") == "echo-b"


def test_a_stopped_container_refuses_connections() -> None:
    with client_and(nginx_pod("short", {"crashAfterSeconds": 10}, restartPolicy="Never"), 5) as c:
        short = ip(c, "short")
        assert c.kubectl(f"exec client -- wget -qO- http://{short}") == NGINX_WELCOME
        c.advance(10)
        assert "Error" in c.kubectl("get pod short")
        code, _, err = run(c, "client", f"wget -qO- http://{short}")
        assert code == 1 and "Connection refused" in err


def test_a_pod_failing_readiness_still_answers_on_its_pod_ip() -> None:
    # The readiness probe checks /ready; the app keeps serving / to anyone who reaches it directly.
    # Leaving the pod out of a Service is kube-proxy's job (the route hook), through EndpointSlices.
    probe = {"httpGet": {"path": "/ready", "port": 80}, "periodSeconds": 1}
    with client_and(nginx_pod("sick", {"readinessFailsAfterSeconds": 3}, container={"readinessProbe": probe}), 10) as c:
        assert "0/1" in c.kubectl("get pod sick")
        sick = ip(c, "sick")
        assert c.kubectl(f"exec client -- wget -qO- http://{sick}/") == NGINX_WELCOME
        # What the probe sees, anyone asking that path sees too: the app cannot tell who asks.
        assert run(c, "client", f"wget -qO- http://{sick}/ready")[2].startswith(
            "wget: server returned error: HTTP/1.1 503 Service Temporarily Unavailable\n")


def test_same_seed_same_output() -> None:
    def session() -> list[tuple[int, str, str]]:
        with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=7) as c:
            c.apply(PODS)
            for name, node in (("echo-a", "node-1"), ("echo-b", "node-2")):
                c.apply(ECHO.format(name=name, node=node))
            c.advance(3)
            assert isinstance(c.network, SimulatedNetwork)
            c.network.router = FakeProxy([ip(c, "echo-a"), ip(c, "echo-b")])
            c.network.resolver = FakeDNS({"web": VIP})
            return [run(c, "client", "for i in 1 2 3; do wget -qO- http://web; echo; done; nslookup web"),
                    run(c, "curl", "curl http://web; curl -sS http://nope")]

    first = session()
    assert first == session()
    assert first[0][1].startswith("echo-a\necho-b\necho-a\n")


def test_the_end_to_end_exec_of_the_brief() -> None:
    with Cluster(runtime="simulated", clock="virtual", seed=0) as c:
        c.apply("""
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers: [{name: web, image: httpd}]
""")
        c.advance(2)
        c.apply(PODS.split("---")[0])
        c.advance(2)
        assert (ip(c, "web"), ip(c, "client")) == ("10.244.1.2", "10.244.1.3")
        assert c.kubectl("exec client -- wget -qO- http://10.244.1.2") == \
            "<html><body><h1>It works!</h1></body></html>\n"


# --- busybox wget ----------------------------------------------------------------------------


def test_wget_prints_busybox_progress_on_stderr_and_the_page_on_stdout(cluster: Cluster,
                                                                       net: SimulatedNetwork) -> None:
    net.router = FakeProxy([ip(cluster, "nginx")], target_port=80)
    net.resolver = FakeDNS({"web": VIP})
    assert cluster.run_kubectl("exec client -- wget -O- http://web") == (
        0, NGINX_WELCOME,
        f"Connecting to web ({VIP}:80)\nwriting to stdout\n{WGET_PROGRESS}written to stdout\n")
    # A port in the URL is part of the host busybox prints.
    code, _, err = cluster.run_kubectl("exec client -- wget -O- http://web:80/")
    assert err.startswith(f"Connecting to web:80 ({VIP}:80)\n")


def test_wget_saves_to_a_file_and_spider_only_checks(cluster: Cluster) -> None:
    nginx = ip(cluster, "nginx")
    assert run(cluster, "client", f"wget -O /tmp/page http://{nginx}/ && wc -l /tmp/page") == (
        0, "23 /tmp/page\n",
        f"Connecting to {nginx} ({nginx}:80)\nsaving to '/tmp/page'\n"
        "page                 100% |********************************|   615  0:00:00 ETA\n'/tmp/page' saved\n")
    assert cluster.run_kubectl(f"exec client -- wget -q --spider http://{nginx}") == (0, "", "")
    assert cluster.run_kubectl(f"exec client -- wget --spider -T 2 http://{nginx}") == (
        0, "", f"Connecting to {nginx} ({nginx}:80)\nremote file exists\n")


def test_wget_errors_are_busyboxs(cluster: Cluster) -> None:
    nginx = ip(cluster, "nginx")
    assert cluster.run_kubectl(f"exec client -- wget -qO- http://{nginx}/nope") == (
        1, "", "wget: server returned error: HTTP/1.1 404 Not Found\ncommand terminated with exit code 1\n")
    assert cluster.run_kubectl("exec client -- wget -O- http://nope:8080/") == (
        1, "", "wget: bad address 'nope:8080'\ncommand terminated with exit code 1\n")
    code, out, err = cluster.run_kubectl(f"exec client -- wget -O- http://{nginx}:81/")
    assert (code, out) == (1, "")
    assert err == (f"Connecting to {nginx}:81 ({nginx}:81)\n"
                   f"wget: can't connect to remote host ({nginx}): Connection refused\n"
                   "command terminated with exit code 1\n")


def test_stderr_redirections(cluster: Cluster) -> None:
    nginx = ip(cluster, "nginx")
    assert run(cluster, "client", f"wget -qO- http://{nginx}/nope 2>&1") == (
        1, "wget: server returned error: HTTP/1.1 404 Not Found\n", "command terminated with exit code 1\n")
    assert run(cluster, "client", f"wget -O- http://{nginx} 2>/dev/null >/dev/null; echo $?") == (0, "0\n", "")


# --- curl ------------------------------------------------------------------------------------


def test_curl_prints_the_body_and_its_meter_when_output_is_no_terminal(cluster: Cluster,
                                                                       net: SimulatedNetwork) -> None:
    net.router = FakeProxy([ip(cluster, "nginx")], target_port=80)
    net.resolver = FakeDNS({"web": VIP})
    assert cluster.run_kubectl("exec curl -- curl http://web") == (
        0, NGINX_WELCOME,
        CURL_METER + "100   615  100   615    0     0   600k      0 --:--:-- --:--:-- --:--:--  600k\n")
    assert cluster.run_kubectl("exec curl -- curl -s web") == (0, NGINX_WELCOME, "")
    assert cluster.run_kubectl(["exec", "curl", "--", "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                "http://web/nope"]) == (0, "404", "")


def test_curl_errors_and_exit_codes(cluster: Cluster) -> None:
    nginx = ip(cluster, "nginx")
    refused = f"curl: (7) Failed to connect to {nginx} port 81 after 0 ms: Couldn't connect to server\n"
    zero = "  0     0    0     0    0     0      0      0 --:--:-- --:--:-- --:--:--     0\n"
    assert run(cluster, "curl", f"curl http://{nginx}:81") == (
        7, "", CURL_METER + zero + refused + "command terminated with exit code 7\n")
    assert run(cluster, "curl", f"curl -sS http://{nginx}:81") == (
        7, "", refused + "command terminated with exit code 7\n")
    assert run(cluster, "curl", f"curl -s http://{nginx}:81") == (7, "", "command terminated with exit code 7\n")
    assert run(cluster, "curl", "curl -sS http://nope") == (
        6, "", "curl: (6) Could not resolve host: nope\ncommand terminated with exit code 6\n")
    assert run(cluster, "curl", f"curl -sSf http://{nginx}/nope") == (
        22, "", "curl: (22) The requested URL returned error: 404\ncommand terminated with exit code 22\n")
    assert run(cluster, "curl", f"curl -s http://{nginx}/nope")[1].startswith("<html>\r\n<head><title>404 Not Found")


def test_curl_head_shows_nginx_headers(cluster: Cluster) -> None:
    nginx = ip(cluster, "nginx")
    out = cluster.kubectl(f"exec curl -- curl -sI http://{nginx}")
    assert out.splitlines() == [
        "HTTP/1.1 200 OK", "Server: nginx/1.27.3", "Date: Wed, 01 Jan 2025 00:00:05 GMT", "Content-Type: text/html",
        "Content-Length: 615", "Last-Modified: Tue, 26 Nov 2024 15:55:00 GMT", "Connection: keep-alive",
        'ETag: "6745ef54-267"', "Accept-Ranges: bytes", ""]


# --- busybox nslookup, nc, ping, hostname ------------------------------------------------------


def test_nslookup_tries_every_search_domain_as_busybox_does(cluster: Cluster, net: SimulatedNetwork) -> None:
    net.resolver = FakeDNS({"web": VIP})
    header = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n"
    # busybox asks A and AAAA under each search domain and fails if any answer is NXDOMAIN.
    assert cluster.run_kubectl("exec client -- nslookup web") == (1, (
        header + f"Name:\tweb.default.svc.cluster.local\nAddress: {VIP}\n\n"
        "** server can't find web.svc.cluster.local: NXDOMAIN\n\n"
        "** server can't find web.cluster.local: NXDOMAIN\n\n"
        "*** Can't find web.default.svc.cluster.local: No answer\n\n"
        "** server can't find web.svc.cluster.local: NXDOMAIN\n\n"
        "** server can't find web.cluster.local: NXDOMAIN\n\n"), "command terminated with exit code 1\n")
    assert cluster.run_kubectl("exec client -- nslookup web.default.svc.cluster.local") == (0, (
        header + f"Name:\tweb.default.svc.cluster.local\nAddress: {VIP}\n\n"
        "*** Can't find web.default.svc.cluster.local: No answer\n\n"), "")
    code, out, _ = cluster.run_kubectl("exec client -- nslookup nope")
    assert code == 1 and "** server can't find nope.default.svc.cluster.local: NXDOMAIN\n\n" in out
    # A name with a dot is asked as it is: no search path (busybox's well-known difference from libc).
    assert cluster.run_kubectl("exec client -- nslookup web.default")[1] == header + (
        "** server can't find web.default: NXDOMAIN\n\n" * 2)


def test_nslookup_reads_the_pods_resolv_conf_when_there_is_one(cluster: Cluster, net: SimulatedNetwork) -> None:
    net.resolver = FakeDNS({"web": VIP})
    script = ("printf 'search svc.cluster.local\\nnameserver 10.96.0.10\\n' > /etc/resolv.conf; "
              "nslookup default.svc.cluster.local >/dev/null; nslookup web; rm /etc/resolv.conf")
    code, out, _ = run(cluster, "client", script)
    assert "** server can't find web.svc.cluster.local: NXDOMAIN" in out
    assert "web.default.svc.cluster.local" not in out and "web.cluster.local" not in out
    code, out, _ = run(cluster, "client", "echo 'nameserver 8.8.8.8' > /etc/resolv.conf; nslookup web; "
                                           "rm /etc/resolv.conf")
    assert out == ";; connection timed out; no servers could be reached\n\n"


def test_nc_zero_io_scan(cluster: Cluster, net: SimulatedNetwork) -> None:
    nginx = ip(cluster, "nginx")
    assert cluster.run_kubectl(f"exec client -- nc -zv {nginx} 80") == (0, "", f"{nginx} ({nginx}:80) open\n")
    # One -v keeps a refusal quiet; two print it (busybox).
    assert cluster.run_kubectl(f"exec client -- nc -zv {nginx} 81") == (1, "", "command terminated with exit code 1\n")
    assert cluster.run_kubectl(f"exec client -- nc -z -v -v {nginx} 81")[2].startswith(
        f"nc: {nginx} ({nginx}:81): Connection refused\n")
    assert cluster.run_kubectl("exec client -- nc -z nope 80")[2].startswith("nc: bad address 'nope'\n")


def test_ping_answers_from_pods_not_from_a_service_ip(cluster: Cluster, net: SimulatedNetwork) -> None:
    echo_service(cluster, net)
    nginx = ip(cluster, "nginx")
    assert cluster.run_kubectl(f"exec client -- ping -c 1 {nginx}") == (0, (
        f"PING {nginx} ({nginx}): 56 data bytes\n64 bytes from {nginx}: seq=0 ttl=64 time=0.080 ms\n\n"
        f"--- {nginx} ping statistics ---\n1 packets transmitted, 1 packets received, 0% packet loss\n"
        "round-trip min/avg/max = 0.080/0.080/0.080 ms\n"), "")
    node2 = cluster.kubectl("get node node-2 -o jsonpath={.status.addresses[0].address}")
    assert cluster.run_kubectl(f"exec client -- ping -c 1 {node2}")[0] == 0
    assert cluster.run_kubectl(f"exec client -- wget -qO- http://{node2}:10250")[0] == 1
    assert cluster.run_kubectl("exec client -- ping -c 1 web") == (1, (
        f"PING web ({VIP}): 56 data bytes\n\n--- web ping statistics ---\n"
        "1 packets transmitted, 0 packets received, 100% packet loss\n"), "command terminated with exit code 1\n")


def test_hostname_and_hostname_i(cluster: Cluster) -> None:
    assert cluster.kubectl("exec client -- hostname") == "client\n"
    assert cluster.kubectl("exec client -- hostname -i") == ip(cluster, "client") + "\n"


# --- the apps, without a cluster -----------------------------------------------------------------


def test_the_apps_answers() -> None:
    def get(image: str, path: str, argv: tuple[str, ...] = (), status: int | None = None) -> tuple[int, str]:
        response = respond(App(image, "latest", "pod-1", argv, 80, status), "GET", path, 0.0)
        return response.status, response.body

    assert get("nginx", "/") == (200, NGINX_WELCOME) and len(NGINX_WELCOME) == 615
    assert get("nginx", "/50x.html")[1].startswith("<!DOCTYPE html>")
    assert get("nginx", "/x") == (404, "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
                                       "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx/1.27.3</center>\r\n"
                                       "</body>\r\n</html>\r\n")
    assert get("nginx", "/", status=503)[1].startswith("<html>\r\n<head><title>503 Service Temporarily Unavailable")
    assert get("httpd", "/") == (200, "<html><body><h1>It works!</h1></body></html>\n")
    assert get("httpd", "/x")[0] == 404
    agnhost = "registry.k8s.io/e2e-test-images/agnhost"
    assert get(agnhost, "/anything", ("/agnhost", "serve-hostname")) == (200, "pod-1")
    assert get(agnhost, "/echo?msg=hi", ("/agnhost", "netexec")) == (200, "hi")
    assert get(agnhost, "/nope", ("/agnhost", "netexec")) == (404, "404 page not found\n")
    assert get("redis", "/") == (200, "")


def test_a_shell_without_a_network_reaches_nothing() -> None:
    fs: dict[str, str] = {}
    assert simshell.run_now(["wget", "-qO-", "http://10.244.1.9"], fs, {}) == (
        1, "", "wget: can't connect to remote host (10.244.1.9): Connection refused\n")
    assert simshell.run_now(["nslookup", "web"], fs, {}) == (
        1, ";; connection timed out; no servers could be reached\n\n", "")
    net = PodNetwork(SimulatedNetwork(), "node-1", "10.244.1.2", "default", "me")
    assert simshell.run_now(["hostname", "-i"], fs, {}, net=net) == (0, "10.244.1.2\n", "")


def test_an_externalname_answer_is_a_canonical_name_not_an_address() -> None:
    class ExternalName:
        def lookup(self, name: str, namespace: str, qtype: str = "A") -> tuple[str, list[str]] | None:
            fqdn = "db.default.svc.cluster.local"
            wanted = name.rstrip(".") in (fqdn, "db")
            return (fqdn, ["db.example.com"] if qtype == "A" else []) if wanted else None

    net = PodNetwork(SimulatedNetwork(resolver=ExternalName()), "node-1", "10.244.1.2", "default", "me")
    assert simshell.run_now(["nslookup", "db.default.svc.cluster.local"], {}, {}, net=net) == (0, (
        "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n"
        "db.default.svc.cluster.local\tcanonical name = db.example.com\n\n"
        "*** Can't find db.default.svc.cluster.local: No answer\n\n"), "")
    # The name has no address the simulated world can reach: wget cannot resolve it.
    assert simshell.run_now(["wget", "-qO-", "http://db"], {}, {}, net=net) == (1, "", "wget: bad address 'db'\n")


@needs_kubectl
def test_the_real_kubectl_execs_wget_across_nodes_of_minik8s_server(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--nodes", "2", "--runtime", "simulated")
    try:
        created = server.kubectl("apply", "-f", "-", stdin=PODS)
        assert created.returncode == 0, created.stderr
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            phases = server.kubectl("get", "pods", "-o", "jsonpath={.items[*].status.phase}").stdout.split()
            if phases == ["Running"] * PODS.count("kind: Pod"):
                break
            time.sleep(0.2)
        nginx = server.kubectl("get", "pod", "nginx", "-o", "jsonpath={.status.podIP}").stdout
        assert nginx.startswith("10.244.2.")
        fetched = server.kubectl("exec", "client", "--", "wget", "-O-", f"http://{nginx}")
        assert (fetched.returncode, fetched.stdout) == (0, NGINX_WELCOME)
        assert fetched.stderr == (f"Connecting to {nginx} ({nginx}:80)\nwriting to stdout\n{WGET_PROGRESS}"
                                  "written to stdout\n")
        refused = server.kubectl("exec", "client", "--", "wget", "-qO-", f"http://{nginx}:81")
        assert (refused.returncode, refused.stdout) == (1, "")
        assert refused.stderr == (f"wget: can't connect to remote host ({nginx}): Connection refused\n"
                                  "command terminated with exit code 1\n")
    finally:
        server.stop()


def test_the_app_that_answers_logs_the_request_as_the_real_one_does(cluster: Cluster) -> None:
    client, nginx, apache = ip(cluster, "client"), ip(cluster, "nginx"), ip(cluster, "apache")
    before = cluster.kubectl("logs nginx")
    cluster.kubectl(f"exec client -- wget -qO- http://{nginx}/")
    cluster.run_kubectl(f"exec curl -- curl -sI http://{nginx}/nope")
    cluster.kubectl(f"exec client2 -- wget -qO- http://{apache}/")
    added = cluster.kubectl("logs nginx")[len(before):]
    assert added == (f'{client} - - [01/Jan/2025:00:00:05 +0000] "GET / HTTP/1.1" 200 615 "-" "Wget" "-"\n'
                     f'{ip(cluster, "curl")} - - [01/Jan/2025:00:00:05 +0000] "HEAD /nope HTTP/1.1" 404 0 "-" '
                     '"curl/8.11.1" "-"\n')
    assert cluster.kubectl("logs apache").endswith(
        f'{ip(cluster, "client2")} - - [01/Jan/2025:00:00:05 +0000] "GET / HTTP/1.1" 200 45\n')


def test_without_cluster_dns_nslookup_times_out(cluster: Cluster) -> None:
    assert cluster.run_kubectl("exec client -- nslookup web") == (
        1, ";; connection timed out; no servers could be reached\n\n", "command terminated with exit code 1\n")


def test_a_pods_own_resolv_conf_drives_name_resolution(cluster: Cluster, net: SimulatedNetwork) -> None:
    echo_service(cluster, net)
    conf = "printf 'search svc.cluster.local cluster.local\\nnameserver 10.96.0.10\\noptions ndots:5\\n' > /etc/resolv.conf"
    # "web.default" under "svc.cluster.local" is the Service's name; plain "web" is under no search domain.
    assert run(cluster, "client", f"{conf}; wget -qO- http://web.default:80; echo; wget -qO- http://web; "
                                  "rm /etc/resolv.conf") == (
        0, "echo-a\n", "wget: bad address 'web'\n")
    assert run(cluster, "client", "echo 'nameserver 8.8.8.8' > /etc/resolv.conf; wget -qO- http://web; "
                                  "rm /etc/resolv.conf")[2].startswith("wget: bad address 'web'\n")


def test_bad_ports_and_huge_counts_are_refused_or_bounded() -> None:
    net = PodNetwork(SimulatedNetwork(), "node-1", "10.244.1.2", "default", "me")

    def sh(*argv: str) -> tuple[int, str, str]:
        return simshell.run_now(list(argv), {}, {}, net=net)

    assert sh("wget", "-qO-", "http://10.244.1.3:99999/") == (1, "", "wget: bad port '99999'\n")
    assert sh("curl", "-sS", "http://10.244.1.3:" + "9" * 20) == (
        3, "", "curl: (3) URL rejected: Port number was not a decimal number between 0 and 65535\n")
    assert sh("nc", "-z", "10.244.1.3", "9" * 5000) == (1, "", f"nc: bad port '{'9' * 5000}'\n")
    code, out, _ = sh("ping", "-c", "9" * 50, "10.244.1.2")
    assert code == 0 and out.count("64 bytes from") == 1000


def test_curl_verbose_tells_the_request_and_the_answer(cluster: Cluster, net: SimulatedNetwork) -> None:
    echo_service(cluster, net)
    code, out, err = cluster.run_kubectl("exec curl -- curl -v http://web")
    assert (code, out) == (0, "echo-a")
    assert err.split("\n") == [
        "* Host web:80 was resolved.", "* IPv6: (none)", f"* IPv4: {VIP}", f"*   Trying {VIP}:80...",
        f"* Connected to web ({VIP}) port 80", "* using HTTP/1.x", "> GET / HTTP/1.1", "> Host: web",
        "> User-Agent: curl/8.11.1", "> Accept: */*", "> \r", "* Request completely sent off", "< HTTP/1.1 200 OK\r",
        "< Date: Wed, 01 Jan 2025 00:00:05 GMT\r", "< Content-Length: 6\r", "< Content-Type: text/plain; charset=utf-8\r",
        "< \r", "{ [6 bytes data]", "* Connection #0 to host web left intact", ""]


def test_wget_server_response(cluster: Cluster) -> None:
    apache = ip(cluster, "apache")
    code, out, err = cluster.run_kubectl(f"exec client -- wget -S -q -O /dev/null http://{apache}/")
    assert (code, out) == (0, "")
    assert err == ("  HTTP/1.1 200 OK\n  Date: Wed, 01 Jan 2025 00:00:05 GMT\n  Server: Apache/2.4.62 (Unix)\n"
                   "  Last-Modified: Tue, 26 Nov 2024 15:55:00 GMT\n  ETag: \"2d-627d2df1b7d00\"\n"
                   "  Accept-Ranges: bytes\n  Content-Length: 45\n  Content-Type: text/html\n  \n")
    assert run(cluster, "client", f"wget -Sq http://{apache}/nope")[2].startswith(
        "  HTTP/1.1 404 Not Found\nwget: server returned error: HTTP/1.1 404 Not Found\n")


def test_a_host_network_pod_serves_on_its_nodes_address() -> None:
    host = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "edge"},
                       "spec": {"hostNetwork": True, "containers": [{"name": "web", "image": "httpd"}]}})
    with client_and(host, 3) as c:
        node = c.kubectl("get node node-1 -o jsonpath={.status.addresses[0].address}")
        assert ip(c, "edge") == node and ip(c, "client") == "10.244.1.2"
        assert c.kubectl(f"exec client -- wget -qO- http://{node}") == HTTPD_WORKS
