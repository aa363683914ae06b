"""Tests for minik8s.api.schema: strict decoding and Go-worded type errors."""

from __future__ import annotations

import json

import kubernetes.client as k8s
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minik8s.api import schema
from minik8s.api.resources import RESOURCES


def pod(**spec: object) -> dict:
    base = {"containers": [{"name": "web", "image": "nginx"}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": base}


# --- the generated file -------------------------------------------------------------------


def test_every_served_kind_has_a_root_model():
    for res in RESOURCES:
        assert schema.root_model(res.api_version, res.kind) is not None, res.kind


def test_roots_include_wire_only_kinds():
    assert schema.root_model("v1", "Status") == "V1Status"
    assert schema.root_model("policy/v1", "Eviction") == "V1Eviction"
    assert schema.root_model("autoscaling/v1", "Scale") == "V1Scale"
    assert schema.root_model("v1", "Event") == "CoreV1Event"
    assert schema.root_model("v1", "Nope") is None


def test_models_match_the_official_client():
    # Oracle: every attribute of the client's model appears under its JSON name.
    for name in ("V1Pod", "V1PodSpec", "V1Container", "V1DeploymentSpec", "V1ServicePort"):
        cls = getattr(k8s, name)
        assert set(schema.fields(name)) == set(cls.attribute_map.values())


def test_normalized_types():
    assert schema.field_type("V1Pod", "spec.containers") == "[]V1Container"
    assert schema.field_type("V1Pod", "metadata.labels") == "map[string]string"
    assert schema.field_type("V1Pod", "spec.containers[0].ports.containerPort") == "integer"
    assert schema.field_type("V1Pod", "spec.containers.resources.limits") == "map[string]quantity"
    assert schema.field_type("V1Deployment", "spec.strategy.rollingUpdate.maxSurge") == "int-or-string"
    assert schema.field_type("V1Service", "spec.ports.targetPort") == "int-or-string"
    assert schema.field_type("V1Pod", "metadata.creationTimestamp") == "date-time"
    assert schema.field_type("V1Pod", "spec.overhead") == "map[string]quantity"
    assert schema.field_type("V1Pod", "spec.volumes.emptyDir.sizeLimit") == "quantity"
    assert schema.field_type("V1Secret", "data") == "map[string]bytes"
    assert schema.field_type("V1Pod", "spec.nope") is None


# --- strict decoding ------------------------------------------------------------------------------


def test_valid_pod_decodes_cleanly():
    assert schema.decode(pod()) == ([], [])
    assert schema.decode_error(pod()) is None


def test_client_built_objects_decode_cleanly():
    # Oracle: what the official client sends must be accepted.
    body = k8s.V1Deployment(
        api_version="apps/v1", kind="Deployment", metadata=k8s.V1ObjectMeta(name="web", labels={"app": "web"}),
        spec=k8s.V1DeploymentSpec(
            replicas=2, selector=k8s.V1LabelSelector(match_labels={"app": "web"}),
            strategy=k8s.V1DeploymentStrategy(rolling_update=k8s.V1RollingUpdateDeployment(max_surge="50%")),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels={"app": "web"}),
                spec=k8s.V1PodSpec(containers=[k8s.V1Container(
                    name="web", image="nginx", ports=[k8s.V1ContainerPort(container_port=80)],
                    resources=k8s.V1ResourceRequirements(limits={"cpu": "100m"}))]))))
    wire = k8s.ApiClient().sanitize_for_serialization(body)
    assert schema.decode(json.loads(json.dumps(wire))) == ([], [])


def test_unknown_fields_are_reported_with_indexes():
    obj = pod(foo=1)
    obj["spec"]["containers"][0]["imagePullPolic"] = "Always"
    unknown, errors = schema.decode(obj)
    assert unknown == ["spec.containers[0].imagePullPolic", "spec.foo"]
    assert errors == []
    assert schema.strict_error_message(unknown) == (
        'strict decoding error: unknown field "spec.containers[0].imagePullPolic", unknown field "spec.foo"')


def test_whole_message_for_unknown_field():
    obj = pod()
    obj["spec"]["template"] = {}
    assert schema.decode_error(obj) == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.template"')


def test_non_strict_ignores_unknown_fields():
    assert schema.decode(pod(foo=1), strict=False) == ([], [])


def test_status_is_unknown_on_a_kind_without_one_and_known_on_one_with_it():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "status": {"anything": 1}}
    assert schema.decode(cm) == (["status"], [])
    assert schema.decode_error(cm) == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "status"')
    assert schema.prune_unknown(cm) == ["status"] and "status" not in cm
    assert schema.decode({**pod(), "status": {"phase": "Running"}}) == ([], [])


def test_null_fields_are_fine():
    obj = pod()
    obj["metadata"]["creationTimestamp"] = None
    obj["spec"]["nodeName"] = None
    assert schema.decode(obj) == ([], [])


def test_wrong_type_for_a_list():
    assert schema.decode_error(pod(containers="nginx")) == (
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field '
        'PodSpec.spec.containers of type []v1.Container')


def test_number_for_a_string_names_the_struct_and_path():
    obj = pod()
    obj["metadata"]["name"] = 5
    assert schema.decode(obj)[1] == [
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string"]


def test_nested_path_has_no_indexes():
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": True}]}]}}}}
    assert schema.decode_error(obj) == (
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal bool into Go '
        'struct field EnvVar.spec.template.spec.containers.env.value of type string')


def test_whole_floats_are_integers_but_fractions_are_not():
    obj = pod()
    obj["spec"]["containers"][0]["ports"] = [{"containerPort": 80.0}, {"containerPort": 80.5}]
    assert schema.decode(obj)[1] == [
        "json: cannot unmarshal number 80.5 into Go struct field ContainerPort.spec.containers.ports.containerPort "
        "of type int32"]


def test_int64_fields_say_int64():
    obj = pod(terminationGracePeriodSeconds="30")
    assert schema.decode(obj)[1] == ["json: cannot unmarshal string into Go struct field "
                                     "PodSpec.spec.terminationGracePeriodSeconds of type int64"]


def test_int32_range_is_checked():
    obj = pod()
    obj["spec"]["containers"][0]["ports"] = [{"containerPort": 2**31}]
    assert "number 2147483648" in schema.decode(obj)[1][0]


def test_int_or_string_accepts_both():
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
           "spec": {"strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}}}}
    assert schema.decode(obj) == ([], [])
    obj["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = True
    assert schema.decode(obj)[1] == ["json: cannot unmarshal bool into Go value of type int32"]


def test_quantities_accept_numbers_and_strings():
    obj = pod()
    obj["spec"]["containers"][0]["resources"] = {"limits": {"cpu": 1, "memory": "128Mi"}, "requests": {"cpu": 0.5}}
    assert schema.decode(obj) == ([], [])
    obj["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "lots"
    assert schema.decode_error(obj) == (
        'Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression '
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")


def test_bad_timestamp():
    obj = pod()
    obj["metadata"]["creationTimestamp"] = "yesterday"
    assert schema.decode(obj)[1][0].startswith('parsing time "yesterday" as "2006-01-02T15:04:05Z07:00"')
    obj["metadata"]["creationTimestamp"] = "2024-01-02T03:04:05Z"
    assert schema.decode(obj) == ([], [])


def test_secret_data_must_be_base64():
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "aGk="}}
    assert schema.decode(secret) == ([], [])
    secret["data"]["k"] = "not base64!"
    assert schema.decode(secret)[1] == ["illegal base64 data at input byte 3"]


def test_type_error_wins_over_unknown_fields():
    obj = pod(foo=1, containers="x")
    assert "cannot unmarshal string" in (schema.decode_error(obj) or "")


def test_unknown_kind_is_not_checked():
    assert schema.decode({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"x": 1}}) == ([], [])


def test_cannot_handle_message_uses_the_version_only():
    assert schema.cannot_handle_message("apps/v1", "Deployment", "boom") == (
        'Deployment in version "v1" cannot be handled as a Deployment: boom')


def test_decode_does_not_modify_input():
    obj = pod(foo=1)
    before = json.dumps(obj, sort_keys=True)
    schema.decode(obj)
    assert json.dumps(obj, sort_keys=True) == before


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                   max_size=4),
                     max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([(r.api_version, r.kind) for r in RESOURCES]),
       st.dictionaries(st.sampled_from(["metadata", "spec", "status", "data", "x"]), _json, max_size=4))
def test_decode_never_raises(kind, body):
    obj = {"apiVersion": kind[0], "kind": kind[1], **body}
    unknown, errors = schema.decode(obj)
    assert all(isinstance(e, str) for e in errors + unknown)


@pytest.mark.parametrize("model", ["V1PodSpec", "V1StatefulSetSpec", "V1JobSpec"])
def test_every_type_is_known(model):
    known = set(schema.models())
    scalars = {"string", "integer", "number", "boolean", "date-time", "int-or-string", "quantity", "bytes", "object"}
    for type_name in schema.fields(model).values():
        element = type_name.replace("[]", "").replace("map[string]", "")
        assert element in known or element in scalars
