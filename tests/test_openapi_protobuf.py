"""/openapi/v2 as gnostic's protobuf (minik8s.apiserver.openapiproto): the document decodes into the same
definitions as the JSON one, and the real kubectl, which reads it to validate a ``kind: List`` on the client,
applies, creates and replaces Lists and reports an unknown field in an item as it does against Kubernetes."""

from __future__ import annotations

import json

import yaml

from conftest import needs_kubectl, wait_for
from minik8s.apiserver import discovery, openapiproto

ASKED_BY_KUBECTL = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"

CONFIGMAPS = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: first}
  data: {colour: red}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: second}
  data: {colour: blue}
"""


def _decode(data: bytes) -> dict[str, object]:
    """The definitions of a Document, by name, in the order served."""
    doc = openapiproto.Document()
    doc.ParseFromString(data)
    return {named.name: named.value for named in doc.definitions.additional_properties}


def _gvk(schema: object) -> object:
    found = [yaml.safe_load(e.value.yaml) for e in schema.vendor_extension  # type: ignore[attr-defined]
             if e.name == "x-kubernetes-group-version-kind"]
    return found[0] if found else None


def _data(server: object, name: str) -> dict[str, str]:
    done = server.kubectl("get", "cm", name, "-o", "json")  # type: ignore[attr-defined]
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout).get("data", {})


def test_the_protobuf_document_has_the_json_documents_definitions(server):
    status, headers, body = server.request("GET", "/openapi/v2", headers={"Accept": ASKED_BY_KUBECTL})
    assert status == 200
    assert headers["Content-Type"] == discovery.OPENAPI_V2_PROTOBUF
    definitions = _decode(body)
    expected = json.loads(server.request("GET", "/openapi/v2")[2])["definitions"]
    assert list(definitions) == list(expected)
    for name, schema in expected.items():
        got = definitions[name]
        assert sorted(p.name for p in got.properties.additional_properties) == sorted(schema.get("properties", {}))
        assert list(got.required) == schema.get("required", [])
        assert list(got.type.value) == ([schema["type"]] if "type" in schema else [])
        assert _gvk(got) == schema.get("x-kubernetes-group-version-kind"), name
    configmap = definitions["io.k8s.api.core.v1.ConfigMap"]
    assert _gvk(configmap) == [{"group": "", "version": "v1", "kind": "ConfigMap"}]
    fields = {p.name: p.value for p in configmap.properties.additional_properties}
    # allOf of one $ref (OpenAPI v3's way) is published as the $ref itself, which kubectl follows
    assert fields["metadata"]._ref == "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert list(fields["data"].additional_properties.schema.type.value) == ["string"]
    assert fields["immutable"].type.value == ["boolean"]


def test_paths_carry_their_operations_and_body_parameters():
    doc = openapiproto.Document()
    doc.ParseFromString(discovery.openapi_v2_protobuf())
    assert doc.swagger == "2.0" and doc.info.version == discovery.KUBERNETES_VERSION
    paths = {p.name: p.value for p in doc.paths.path}
    assert list(paths) == list(discovery.openapi_v2()["paths"])
    create = paths["/apis/apps/v1/namespaces/{namespace}/deployments"].post
    assert create.operation_id == "createAppsV1NamespacedDeployment"
    body = [p.parameter.body_parameter for p in create.parameters if p.parameter.HasField("body_parameter")]
    assert [(b.name, b.required, b.schema._ref) for b in body] == [
        ("body", True, "#/definitions/io.k8s.api.apps.v1.Deployment")]
    queries = [p.parameter.non_body_parameter.query_parameter_sub_schema.name for p in create.parameters
               if p.parameter.HasField("non_body_parameter")]
    assert "fieldValidation" in queries
    created = {r.name: r.value.response for r in create.responses.response_code}
    assert created["201"].schema.schema._ref == "#/definitions/io.k8s.api.apps.v1.Deployment"


def test_json_stays_the_default_and_the_client_s_first_choice_wins(server):
    for accept in (None, "application/json", "*/*", f"application/json, {ASKED_BY_KUBECTL}"):
        status, headers, body = server.request("GET", "/openapi/v2", headers={"Accept": accept} if accept else {})
        assert status == 200 and headers["Content-Type"].startswith("application/json"), accept
        assert body.startswith(b'{"swagger":"2.0"')
    for accept in (ASKED_BY_KUBECTL, discovery.OPENAPI_V2_PROTOBUF, f"{ASKED_BY_KUBECTL}, application/json"):
        status, headers, body = server.request("GET", "/openapi/v2", headers={"Accept": accept})
        assert status == 200 and headers["Content-Type"] == discovery.OPENAPI_V2_PROTOBUF, accept
        assert "io.k8s.api.apps.v1.Deployment" in _decode(body)
    refused = server.request("GET", "/openapi/v2", headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert refused[0] == 406


@needs_kubectl
def test_kubectl_creates_replaces_and_applies_a_list(server, tmp_path):
    created = server.kubectl("create", "-f", "-", stdin=CONFIGMAPS)
    assert created.returncode == 0, created.stderr
    assert created.stdout.split("\n")[:2] == ["configmap/first created", "configmap/second created"]
    replaced = server.kubectl("replace", "-f", "-", stdin=CONFIGMAPS.replace("red", "green"))
    assert replaced.returncode == 0, replaced.stderr
    assert _data(server, "first") == {"colour": "green"}
    applied = server.kubectl("apply", "-f", "-", stdin=CONFIGMAPS.replace("blue", "white"))
    assert applied.returncode == 0, applied.stderr
    assert _data(server, "second") == {"colour": "white"} and _data(server, "first") == {"colour": "red"}
    # the round trip a student makes first: save what is there, apply it back
    saved = server.kubectl("get", "cm", "-o", "yaml")
    assert saved.returncode == 0 and yaml.safe_load(saved.stdout)["kind"] == "List"
    (tmp_path / "f.yaml").write_text(saved.stdout)
    again = server.kubectl("apply", "-f", str(tmp_path / "f.yaml"))
    assert again.returncode == 0, again.stderr
    assert "configmap/first" in again.stdout and "configmap/second" in again.stdout


@needs_kubectl
def test_an_unknown_field_in_a_list_item_fails_kubectl_s_validation(server):
    unknown = CONFIGMAPS.replace("data: {colour: blue}", "data: {colour: blue}\n  colour: blue")
    for verb in ("apply", "create"):
        refused = server.kubectl(verb, "-f", "-", stdin=unknown)
        assert refused.returncode == 1
        assert refused.stderr.strip() == (
            'error: error validating "STDIN": error validating data: ValidationError(ConfigMap): unknown field '
            '"colour" in io.k8s.api.core.v1.ConfigMap; if you choose to ignore these errors, turn validation off '
            "with --validate=false")
    assert server.kubectl("get", "cm", "first").returncode == 1   # nothing of the List was written
    nested = CONFIGMAPS.replace("metadata: {name: second}", "metadata: {name: second, colour: blue}")
    refused = server.kubectl("apply", "-f", "-", stdin=nested)
    assert refused.returncode == 1
    assert ('ValidationError(ConfigMap.metadata): unknown field "colour" in '
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta") in refused.stderr
    passed = server.kubectl("apply", "--validate=false", "-f", "-", stdin=unknown)
    assert passed.returncode == 0, passed.stderr
    assert _data(server, "second") == {"colour": "blue"}


CRONTAB_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              image: {type: string}
              replicas: {type: integer, minimum: 1, default: 1}
              port: {x-kubernetes-int-or-string: true}
              extra: {type: object, x-kubernetes-preserve-unknown-fields: true, properties: {known: {type: string}}}
"""

CRONTABS = """\
apiVersion: v1
kind: List
items:
- apiVersion: stable.example.com/v1
  kind: CronTab
  metadata: {name: nightly}
  spec: {image: backup, replicas: 2, port: http, extra: {anything: 1}}
"""


@needs_kubectl
def test_a_crd_added_at_run_time_is_in_the_protobuf_document_and_validates_lists(server):
    before = _decode(server.request("GET", "/openapi/v2", headers={"Accept": ASKED_BY_KUBECTL})[2])
    assert "com.example.stable.v1.CronTab" not in before
    created = server.kubectl("apply", "-f", "-", stdin=CRONTAB_CRD)
    assert created.returncode == 0, created.stderr

    def published() -> object:
        body = server.request("GET", "/openapi/v2", headers={"Accept": ASKED_BY_KUBECTL})[2]
        return _decode(body).get("com.example.stable.v1.CronTab")
    crontab = wait_for(published, what="the CronTab schema in /openapi/v2")
    assert _gvk(crontab) == [{"group": "stable.example.com", "version": "v1", "kind": "CronTab"}]
    spec = {p.name: p.value for p in crontab.properties.additional_properties}["spec"]
    fields = {p.name: p.value for p in spec.properties.additional_properties}
    assert fields["replicas"].minimum == 1 and yaml.safe_load(fields["replicas"].default.yaml) == 1
    assert list(fields["port"].type.value) == []                  # int-or-string: either, so no type
    assert not fields["extra"].HasField("properties")             # keeps unknown fields: kubectl must too
    applied = server.kubectl("apply", "-f", "-", stdin=CRONTABS)
    assert applied.returncode == 0, applied.stderr
    refused = server.kubectl("apply", "-f", "-", stdin=CRONTABS.replace("replicas: 2", "replicas: 2, colour: red"))
    assert refused.returncode == 1
    assert 'unknown field "colour" in com.example.stable.v1.CronTab.spec' in refused.stderr
