"""The Services issue's "done when", end to end, with the real kubectl against ``minik8s server --runtime
process``: a 3-replica Deployment exposed as a Service answers on its ClusterIP and NodePort from the host,
spreading requests over all three pods; a pod reaches it by name; a pod whose readiness fails stops
receiving requests; ``kubectl port-forward svc/web`` serves the page.

Every piece is tested on its own elsewhere (allocation, EndpointSlices, kube-proxy, DNS, port-forward);
this file proves they work together, as a student would drive them.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from typing import Any, Callable

import pytest

from conftest import Server, start_server

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="the real kubectl is not on PATH")

# Ready only while /tmp/ready exists in the container: `kubectl exec` creates and removes it.
DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{
            "name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80, "name": "http"}],
            "readinessProbe": {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1,
                               "failureThreshold": 1}}]}}}}


def _until(check: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _ok(srv: Server, *args: str, stdin: str | None = None) -> str:
    done = srv.kubectl(*args, stdin=stdin)
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done.stdout


def _page(url: str) -> str | None:
    try:
        return urllib.request.urlopen(url, timeout=5).read().decode()
    except OSError:
        return None


def _answering_pods(url: str, names: set[str], tries: int) -> set[str]:
    """The pods (named in nginx's default page) that answered ``tries`` requests to ``url``."""
    seen: set[str] = set()
    for _ in range(tries):
        body = _page(url) or ""
        seen |= {n for n in names if f"<b>{n}</b>" in body}
    return seen


def _ready_endpoints(srv: Server) -> set[str]:
    slices = json.loads(_ok(srv, "get", "endpointslices", "-l", "kubernetes.io/service-name=web", "-o", "json"))
    return {e["targetRef"]["name"] for s in slices["items"] for e in s.get("endpoints") or []
            if (e.get("conditions") or {}).get("ready")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def srv(tmp_path: Any) -> Any:
    server = start_server(tmp_path, "--nodes", "2", "--runtime", "process")
    try:
        yield server
    finally:
        server.stop()


def test_a_deployment_exposed_as_a_service_is_reached_every_way_a_student_tries(srv: Server) -> None:
    _ok(srv, "apply", "-f", "-", stdin=json.dumps(DEPLOYMENT))
    _ok(srv, "expose", "deployment", "web", "--port=80", "--target-port=http", "--type=NodePort")
    pods = json.loads(_ok(srv, "get", "pods", "-l", "app=web", "-o", "json"))["items"]
    names = {p["metadata"]["name"] for p in pods}
    assert len(names) == 3
    for name in names:   # exec reaches a container once it runs: until then it is refused, so try again
        _until(lambda: srv.kubectl("exec", name, "--", "touch", "/tmp/ready").returncode == 0,
               f"kubectl exec into {name}", seconds=60)
    _until(lambda: _ready_endpoints(srv) == names, "three ready endpoints")

    svc = json.loads(_ok(srv, "get", "svc", "web", "-o", "json"))
    cluster_ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    assert cluster_ip.startswith("127.") and 30000 <= node_port <= 32767
    node_ip = _ok(srv, "get", "node", "node-1", "-o",
                  "jsonpath={.status.addresses[?(@.type=='InternalIP')].address}")
    offset = 0 if os.geteuid() == 0 else 8000   # without privileges port 80 is served on 8080
    for url in (f"http://{cluster_ip}:{80 + offset}/", f"http://{node_ip}:{node_port}/"):
        assert _until(lambda: _answering_pods(url, names, 30) == names, f"all three pods behind {url}")

    # A pod of the cluster reaches the Service by its short and its full name.
    _ok(srv, "run", "client", "--image=busybox", "--restart=Never", "--", "sleep", "3600")
    _ok(srv, "wait", "--for=condition=Ready", "pod/client", "--timeout=60s")
    for name in ("web", "web.default.svc.cluster.local"):
        page = _ok(srv, "exec", "client", "--", "wget", "-qO-", f"http://{name}:{80 + offset}/")
        assert "Welcome to nginx!" in page and any(f"<b>{n}</b>" in page for n in names)

    # Readiness failing takes one pod out of rotation while it stays Running.
    out = sorted(names)[0]
    _ok(srv, "exec", out, "--", "rm", "/tmp/ready")
    _until(lambda: _ready_endpoints(srv) == names - {out}, f"{out} to leave the ready endpoints")
    assert _ok(srv, "get", "pod", out, "-o", "jsonpath={.status.phase}") == "Running"
    assert _answering_pods(f"http://{cluster_ip}:{80 + offset}/", names, 60) == names - {out}

    # port-forward to the Service serves the page on a local port.
    local = _free_port()
    forward = subprocess.Popen(["kubectl", "port-forward", "svc/web", f"{local}:80"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=srv.env())
    try:
        page = _until(lambda: _page(f"http://127.0.0.1:{local}/"), "the forwarded port to serve")
        assert "Welcome to nginx!" in page
    finally:
        forward.terminate()
        forward.wait(timeout=10)
