"""Aggregated discovery (minik8s/apiserver/discoveryv2.py): what the real kubectl asks for first."""

from __future__ import annotations

import json

import pytest

from conftest import needs_kubectl, start_server
from minik8s.apiserver import discovery, discoveryv2

V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
KUBECTL_ACCEPT = f"{V2},{V2BETA1},application/json"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("discovery"), "--nodes", "0")
    yield srv
    srv.stop()


@pytest.mark.parametrize("accept, expected", [
    (KUBECTL_ACCEPT, "v2"), (f"{V2BETA1},application/json", "v2beta1"), ("application/json", None), ("", None),
    (f"application/json,{V2}", None), ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList", None),
    ("application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", None),
])
def test_negotiation_follows_the_accept_order(accept, expected):
    assert discoveryv2.negotiate(accept) == expected


def test_kubectl_takes_aggregated_discovery_and_asks_nothing_more(server):
    listed = server.kubectl("api-resources", "-v=8")
    assert listed.returncode == 0, listed.stderr
    gets = [line.split("GET ", 1)[1].split("?")[0] for line in listed.stderr.splitlines() if " GET https" in line]
    assert [url.rsplit("/", 1)[1] for url in gets] == ["api", "apis"]   # no /api/v1, no /apis/<group>/<version>
    assert f"Content-Type: {V2}" in listed.stderr
    table = listed.stdout.splitlines()
    assert table[0].split() == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    assert ["deployments", "deploy", "apps/v1", "true", "Deployment"] in [row.split() for row in table]
    assert ["validatingwebhookconfigurations", "admissionregistration.k8s.io/v1", "false",
            "ValidatingWebhookConfiguration"] in [row.split() for row in table]


def test_the_list_over_http_agrees_with_legacy_discovery(server):
    for path, core in (("/api", True), ("/apis", False)):
        status, headers, body = server.request("GET", path, headers={"Accept": KUBECTL_ACCEPT})
        assert status == 200 and headers["Content-Type"] == V2
        doc = json.loads(body)
        assert (doc["kind"], doc["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2")
        names = [item["metadata"].get("name", "") for item in doc["items"]]
        if core:
            assert names == [""]
        else:   # the built-in groups, and metrics.k8s.io, which the server's metrics-server serves
            assert names == [g["name"] for g in discovery.api_group_list()["groups"]] + ["metrics.k8s.io"]
        for item in doc["items"]:
            for version in item["versions"]:
                group = item["metadata"].get("name", "")
                status, _, body = server.request("GET", f"/apis/{group}/{version['version']}" if group else
                                                 f"/api/{version['version']}")
                legacy = json.loads(body)["resources"]
                assert [r["resource"] for r in version["resources"]] == [e["name"] for e in legacy if "/" not in e["name"]]
                assert version["freshness"] == "Current"
    # Plain JSON still gets the legacy list; v2beta1 the same shape under its own version.
    status, headers, body = server.request("GET", "/apis", headers={"Accept": "application/json"})
    assert json.loads(body)["kind"] == "APIGroupList" and headers["Content-Type"].startswith("application/json")
    status, headers, body = server.request("GET", "/apis", headers={"Accept": V2BETA1})
    assert headers["Content-Type"] == V2BETA1 and json.loads(body)["apiVersion"] == "apidiscovery.k8s.io/v2beta1"


def test_a_resource_entry_in_full():
    doc = discoveryv2.discovery_list("v2", core=False)
    apps = next(item for item in doc["items"] if item["metadata"]["name"] == "apps")
    deployments = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deployments == {
        "resource": "deployments", "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
        "scope": "Namespaced", "singularResource": "deployment",
        "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        "shortNames": ["deploy"], "categories": ["all"],
        "subresources": [
            {"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
             "verbs": ["get", "patch", "update"]},
            {"subresource": "status", "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
             "verbs": ["get", "patch", "update"]}]}


def test_the_official_client_reads_it_back_unchanged():
    """Oracle: the official client's apidiscovery.k8s.io/v2 models hold every field we send, and
    their required fields are all there (the client validates them as it decodes)."""
    client = pytest.importorskip("kubernetes.client")

    api = client.ApiClient()
    for core in (True, False):
        doc = discoveryv2.discovery_list("v2", core=core)
        model = api.deserialize(json.dumps(doc), "V2APIGroupDiscoveryList", "application/json")
        back = api.sanitize_for_serialization(model)
        for item in doc["items"]:   # the client drops a null creationTimestamp, as Go's omitempty would
            item["metadata"].pop("creationTimestamp")
        assert back == doc


@needs_kubectl
def test_kubectl_reads_the_extension_kinds(server):
    listed = server.kubectl("api-resources", "--api-group=admissionregistration.k8s.io", "-o", "name")
    assert listed.stdout.split() == ["mutatingwebhookconfigurations.admissionregistration.k8s.io",
                                     "validatingwebhookconfigurations.admissionregistration.k8s.io"]
