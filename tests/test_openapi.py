"""The OpenAPI v3 documents: upstream's schemas for every served kind (what `kubectl explain` reads),
declared path parameters, and an index whose hashes follow the documents."""

from __future__ import annotations

import re

from conftest import needs_kubectl
from minik8s.api import resources
from minik8s.apiserver import discovery


def test_every_served_kind_has_upstreams_schema_in_its_group_versions_document():
    for group, version in resources.groups():
        doc = discovery.openapi_document(group, version)
        assert doc is not None
        schemas = doc["components"]["schemas"]
        for res in (r for r in resources.RESOURCES if (r.group, r.version) == (group, version)):
            gvk = {"group": res.group, "version": res.version, "kind": res.kind}
            named = [n for n, s in schemas.items() if gvk in s.get("x-kubernetes-group-version-kind", [])]
            assert len(named) == 1, f"{res.kind}: {named}"


def test_every_reference_resolves_inside_its_document():
    for group, version in resources.groups():
        doc = discovery.openapi_document(group, version)
        text = str(doc)
        for ref in set(re.findall(r"#/components/schemas/([\w.\-]+)", text)):
            assert ref in doc["components"]["schemas"], f"{group}/{version}: {ref}"


def test_upstreams_field_facts_are_there():
    pod = discovery.definitions()["io.k8s.api.core.v1.Container"]
    assert pod["required"] == ["name"]
    ports = pod["properties"]["ports"]
    assert ports["x-kubernetes-list-type"] == "map" and ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    status = discovery.definitions()["io.k8s.api.apps.v1.DaemonSetStatus"]
    assert set(status["required"]) == {"currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
                                       "numberReady"}
    assert "enum" not in discovery.definitions()["io.k8s.api.core.v1.Pod"]["properties"]["kind"]


def test_every_path_parameter_is_declared():
    for group, version in resources.groups():
        for path, item in discovery.openapi_document(group, version)["paths"].items():
            declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), path


def test_a_resource_with_its_own_schema_publishes_it_and_the_index_hash_changes():
    crontab = resources.Resource("stable.example.com", "v1", "CronTab", "crontabs", schema={
        "type": "object", "properties": {"spec": {"type": "object", "properties": {"cronSpec": {"type": "string"}}}}})
    registry = resources.Registry()
    before = discovery.openapi_index(registry)["paths"]
    registry.register(crontab)
    after = discovery.openapi_index(registry)["paths"]
    assert "apis/stable.example.com/v1" in after and "apis/stable.example.com/v1" not in before
    assert "apis/stable.example.com/v1" not in discovery.openapi_index()["paths"]   # other registries: unchanged
    doc = discovery.openapi_document("stable.example.com", "v1", registry)
    schema = doc["components"]["schemas"]["com.example.stable.v1.CronTab"]
    assert schema["properties"]["spec"]["properties"]["cronSpec"] == {"type": "string"}
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "stable.example.com", "version": "v1", "kind": "CronTab"}]


@needs_kubectl
def test_the_real_kubectl_explains_fields_from_the_schema(server):
    ports = server.kubectl("explain", "pod.spec.containers.ports")
    assert ports.returncode == 0, ports.stderr
    assert "FIELD: ports <[]ContainerPort>" in ports.stdout
    assert re.search(r"containerPort\s+<integer> -required-", ports.stdout)
    strategy = server.kubectl("explain", "deployments.spec.strategy", "--api-version=apps/v1")
    assert strategy.returncode == 0 and "rollingUpdate\t<RollingUpdateDeployment>" in strategy.stdout
    recursive = server.kubectl("explain", "pod.spec.containers", "--recursive")
    assert recursive.returncode == 0 and re.search(r"\n\s+readinessProbe\s+<Probe>", recursive.stdout)


def test_the_documents_are_valid_openapi_3_and_swagger_2():
    from openapi_spec_validator import validate

    for group, version in resources.groups():
        validate(discovery.openapi_document(group, version))
    v2 = discovery.openapi_v2()
    validate(v2)
    assert v2["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"] == "int-or-string"
    create = v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"]
    assert {"name": "body", "in": "body", "required": True,
            "schema": {"$ref": "#/definitions/io.k8s.api.apps.v1.Deployment"}} in create["parameters"]


def test_openapi_v2_is_served_as_json_and_another_protobuf_is_refused_with_406(server):
    status, _, body = server.request("GET", "/openapi/v2")
    assert status == 200 and b'"swagger":"2.0"' in body
    # gnostic's protobuf is served too (tests/test_openapi_protobuf.py); Kubernetes' own protobuf is not
    refused = server.request("GET", "/openapi/v2", headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert refused[0] == 406
