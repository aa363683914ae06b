"""The aggregation layer (minik8s/apiserver/aggregator.py): Local APIServices, and a real extension API
server written here, behind a Service, reached through the API server by the real kubectl."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import web

from conftest import needs_kubectl, start_server
from minik8s.api import resources
from minik8s.apiserver.aggregator import local_apiservices
from tlsbackend import TLSBackend, peer_common_name

pytestmark = needs_kubectl

GROUP, VERSION = "metrics.example.io", "v1beta1"
PREFIX = f"/apis/{GROUP}/{VERSION}"
WIDGETS = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{GROUP}/{VERSION}",
           "resources": [{"name": "widgets", "singularName": "widget", "namespaced": True, "kind": "Widget",
                          "verbs": ["get", "list", "watch"], "shortNames": ["wd"]}]}


async def _discovery(request: web.Request) -> web.Response:
    return web.json_response(WIDGETS)


async def _widgets(request: web.Request) -> web.StreamResponse:
    """A list naming who asked (from the aggregator's headers); a watch of two events, one at a time."""
    seen = {"user": request.headers.get("X-Remote-User"), "groups": request.headers.getall("X-Remote-Group", []),
            "authorization": request.headers.get("Authorization"), "client": peer_common_name(request)}
    if request.query.get("watch"):
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for name in ("first", "second"):
            event = {"type": "ADDED", "object": {"kind": "Widget", "apiVersion": f"{GROUP}/{VERSION}",
                                                 "metadata": {"name": name}}}
            await response.write(json.dumps(event).encode() + b"\n")
            await asyncio.sleep(0.2)
        return response
    return web.json_response({"kind": "WidgetList", "apiVersion": f"{GROUP}/{VERSION}", "metadata": {},
                              "items": [{"kind": "Widget", "metadata": {"name": "w1", "namespace": "default",
                                                                        "annotations": {"seen": json.dumps(seen)}}}]})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("aggregator"), "--nodes", "0")
    backend = TLSBackend(tmp_path_factory.mktemp("extension-pki"), [
        web.get(PREFIX, _discovery), web.get(PREFIX + "/namespaces/{ns}/widgets", _widgets)],
        names=("ext.default.svc",), client_ca=srv.data_dir / "pki" / "ca.crt")
    yield srv, backend
    backend.close()
    srv.stop()


def _apply(server, obj: dict) -> None:
    done = server.kubectl("apply", "-f", "-", stdin=json.dumps(obj))
    assert done.returncode == 0, done.stderr


def _available(server, name: str, expected: str, timeout: float = 20) -> dict:
    """Wait until the APIService's Available condition reads ``expected`` (``True`` or ``False (Reason)``)."""
    deadline = time.monotonic() + timeout
    while True:
        got = json.loads(server.kubectl("get", "apiservice", name, "-o", "json").stdout)
        condition = next((c for c in (got.get("status") or {}).get("conditions") or []
                          if c["type"] == "Available"), {})
        shown = condition.get("status", "Unknown") + (f" ({condition['reason']})" if condition.get("status") == "False"
                                                      else "")
        if shown == expected or time.monotonic() > deadline:
            assert shown == expected, condition
            return condition
        time.sleep(0.2)


def test_local_apiservices_as_upstream_lists_them(cluster):
    server, _ = cluster
    listed = server.kubectl("get", "apiservices")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0] == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    names = [row[0] for row in rows[1:]]
    assert names[0] == "v1." and {"v1.apps", "v2.autoscaling", "v1.apiregistration.k8s.io"} <= set(names)
    assert all(row[1:3] == ["Local", "True"] for row in rows[1:])
    apps = json.loads(server.kubectl("get", "apiservice", "v1.apps", "-o", "json").stdout)
    assert apps["spec"] == {"group": "apps", "version": "v1", "groupPriorityMinimum": 17800, "versionPriority": 15}
    assert apps["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "onstart"}
    assert apps["status"]["conditions"][0] == {**apps["status"]["conditions"][0], "type": "Available",
                                               "status": "True", "reason": "Local",
                                               "message": "Local APIServices are always available"}


def test_an_extension_server_behind_a_service(cluster):
    server, backend = cluster
    apiservice = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                  "metadata": {"name": f"{VERSION}.{GROUP}"},
                  "spec": {"group": GROUP, "version": VERSION, "groupPriorityMinimum": 100, "versionPriority": 10,
                           "service": {"namespace": "default", "name": "ext"}, "caBundle": backend.ca_bundle}}
    _apply(server, apiservice)
    # No Service yet: unavailable, and requests get upstream's 503.
    condition = _available(server, f"{VERSION}.{GROUP}", "False (ServiceNotFound)")
    assert condition["message"] == 'service/ext in "default" is not present'
    listed = server.kubectl("get", "apiservices", f"{VERSION}.{GROUP}", "--no-headers")
    assert listed.stdout.split()[:4] == [f"{VERSION}.{GROUP}", "default/ext", "False", "(ServiceNotFound)"]
    status, _, body = server.request("GET", PREFIX + "/namespaces/default/widgets")
    assert (status, body) == (503, b"service unavailable\n")
    # A Service without endpoints, then its endpoints: available.
    _apply(server, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
                    "spec": {"ports": [{"port": 443, "targetPort": backend.port}]}})
    _available(server, f"{VERSION}.{GROUP}", "False (MissingEndpoints)")
    _apply(server, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext"},
                    "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": backend.port}]}]})
    condition = _available(server, f"{VERSION}.{GROUP}", "True")
    assert (condition["reason"], condition["message"]) == ("Passed", "all checks passed")

    # Requests are proxied, as the authenticated user, without the caller's credential.
    got = server.kubectl("get", "--raw", PREFIX + "/namespaces/default/widgets")
    assert got.returncode == 0, got.stderr
    seen = json.loads(json.loads(got.stdout)["items"][0]["metadata"]["annotations"]["seen"])
    assert seen["authorization"] is None and "system:masters" in seen["groups"] and seen["user"]
    assert seen["client"] == "front-proxy-client"   # the aggregator's client certificate, signed by the cluster CA
    # ... and how an extension server learns to trust it, as upstream publishes it.
    info = json.loads(server.kubectl("get", "configmap", "-n", "kube-system", "extension-apiserver-authentication",
                                     "-o", "json").stdout)["data"]
    assert info["requestheader-allowed-names"] == '["front-proxy-client"]'
    assert info["requestheader-username-headers"] == '["X-Remote-User"]'
    assert info["requestheader-client-ca-file"] == (server.data_dir / "pki" / "ca.crt").read_text()
    # Discovery shows the group: legacy, aggregated (kubectl api-resources) and the group document.
    groups = json.loads(server.kubectl("get", "--raw", "/apis").stdout)["groups"]
    assert {"name": GROUP, "versions": [{"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION}],
            "preferredVersion": {"groupVersion": f"{GROUP}/{VERSION}", "version": VERSION}} in groups
    assert json.loads(server.kubectl("get", "--raw", f"/apis/{GROUP}").stdout)["name"] == GROUP
    assert json.loads(server.kubectl("get", "--raw", PREFIX).stdout) == WIDGETS
    resources_listed = server.kubectl("api-resources", f"--api-group={GROUP}")
    assert resources_listed.stdout.splitlines()[1].split() == ["widgets", "wd", f"{GROUP}/{VERSION}", "true",
                                                                "Widget"]
    # A watch streams through, event by event.
    status, _, body = server.request("GET", PREFIX + "/namespaces/default/widgets?watch=1")
    assert status == 200 and [json.loads(line)["object"]["metadata"]["name"] for line in body.splitlines()] == [
        "first", "second"]


def test_a_backend_that_does_not_answer_fails_the_discovery_check(cluster):
    server, backend = cluster
    _apply(server, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "dead"},
                    "spec": {"ports": [{"port": 443, "targetPort": 9}]}})
    _apply(server, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "dead"},
                    "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": 9}]}]})
    _apply(server, {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
                    "metadata": {"name": "v1.dead.example.io"},
                    "spec": {"group": "dead.example.io", "version": "v1", "groupPriorityMinimum": 100,
                             "versionPriority": 10, "service": {"namespace": "default", "name": "dead"},
                             "insecureSkipTLSVerify": True}})
    condition = _available(server, "v1.dead.example.io", "False (FailedDiscoveryCheck)")
    assert condition["message"].startswith("failing or missing response from https://127.0.0.1:9/apis/dead.example.io/v1")
    refused = server.kubectl("get", "--raw", "/apis/dead.example.io/v1/things")
    assert refused.returncode == 1
    assert "the server is currently unable to handle the request" in refused.stderr


def test_apiservice_validation(cluster):
    server, _ = cluster
    bad = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1.wrong"},
           "spec": {"group": "right.example.io", "version": "v1", "groupPriorityMinimum": 0, "versionPriority": 10}}
    refused = server.kubectl("create", "-f", "-", stdin=json.dumps(bad))
    assert refused.returncode == 1
    assert 'metadata.name: Invalid value: "v1.wrong": must be `spec.version+"."+spec.group`: "v1.right.example.io"' \
        in refused.stderr
    assert "spec.groupPriorityMinimum: Invalid value: 0: must be positive and less than 20000" in refused.stderr


def test_local_apiservices_follow_the_registry():
    served = [r for r in resources.RESOURCES if r.group in ("", "apps")]
    extra = resources.Resource("widgets.example.io", "v1", "Widget", "widgets")
    made = {s["metadata"]["name"]: s for s in local_apiservices([*served, extra], now=0)}
    assert list(made) == ["v1.", "v1.apps", "v1.widgets.example.io"]
    assert made["v1."]["spec"] == {"group": "", "version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1}
    assert made["v1.widgets.example.io"]["spec"]["groupPriorityMinimum"] == 1000
    assert made["v1.widgets.example.io"]["metadata"]["labels"] == {"kube-aggregator.kubernetes.io/automanaged": "true"}
