"""Kubernetes protobuf request bodies: the wire reader, the schema-driven decoder, the
generated fact table, and the real kubectl's typed-client commands end to end."""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minik8s.api.errors import StatusError
from minik8s.api.resources import RESOURCES
from minik8s.apiserver import protobuf
from minik8s.apiserver.protobuf import MAGIC, ProtobufError, decode, decode_message, iter_fields, read_varint

from conftest import ROOT, needs_kubectl, start_server

sys.path.insert(0, str(ROOT / "tools"))
import gen_protobuf_schema  # noqa: E402

CORE = "k8s.io.api.core.v1"
APPS = "k8s.io.api.apps.v1"
META = "k8s.io.apimachinery.pkg.apis.meta.v1"


# ------------------------------------------------------------ a tiny encoder for the tests


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative numbers go as 64-bit two's complement, as Go writes them
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def vfield(number: int, n: int) -> bytes:
    return varint(number << 3) + varint(n)


def lfield(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return MAGIC + lfield(1, lfield(1, api_version) + lfield(2, kind)) + lfield(2, raw)


def meta(name: str, **labels: str) -> bytes:
    body = lfield(1, name)
    for key, value in labels.items():
        body += lfield(11, lfield(1, key) + lfield(2, value))
    return body


# ------------------------------------------------------------ the wire format


def test_varint_single_and_multi_byte():
    assert read_varint(b"\x01", 0) == (1, 1)
    assert read_varint(b"\xac\x02", 0) == (300, 2)  # the protobuf docs' example
    assert read_varint(b"\x00\xff\xff\xff\xff\x0f", 1) == (2**32 - 1, 6)


def test_varint_truncated_and_overlong_are_errors():
    with pytest.raises(ProtobufError, match="unexpected EOF"):
        read_varint(b"\x80\x80", 0)
    with pytest.raises(ProtobufError, match="integer overflow"):
        read_varint(b"\xff" * 11 + b"\x01", 0)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_varint_round_trip(n):
    data = varint(n)
    assert read_varint(data, 0) == (n, len(data))


def test_iter_fields_reads_every_wire_type():
    data = vfield(1, 150) + lfield(2, b"abc") + bytes([3 << 3 | 1]) + b"12345678" + bytes([4 << 3 | 5]) + b"wxyz"
    assert list(iter_fields(data)) == [(1, 0, 150), (2, 2, b"abc"), (3, 1, b"12345678"), (4, 5, b"wxyz")]


def test_iter_fields_rejects_short_length_and_groups():
    with pytest.raises(ProtobufError, match="unexpected EOF"):
        list(iter_fields(varint(2 << 3 | 2) + varint(10) + b"short"))
    with pytest.raises(ProtobufError, match="illegal wireType 3"):
        list(iter_fields(bytes([1 << 3 | 3])))


def test_negative_int32_is_ten_bytes_and_folds_back():
    # Probe.handler is inline; HTTPGetAction.port is an IntOrString, so use a plain int32:
    # ContainerPort.containerPort (3) carrying -1 as Go writes it.
    raw = vfield(3, -1)
    assert len(raw) == 11
    assert decode_message(f"{CORE}.ContainerPort", raw) == {"containerPort": -1}


def test_packed_and_unpacked_repeated_scalars_decode_alike():
    # PodSecurityContext.supplementalGroups (4) is `repeated int64`.
    packed = lfield(4, varint(1) + varint(2) + varint(300))
    unpacked = vfield(4, 1) + vfield(4, 2) + vfield(4, 300)
    expected = {"supplementalGroups": [1, 2, 300]}
    assert decode_message(f"{CORE}.PodSecurityContext", packed) == expected
    assert decode_message(f"{CORE}.PodSecurityContext", unpacked) == expected


# ------------------------------------------------------------ messages and special types


def test_configmap_maps_and_metadata():
    raw = lfield(1, meta("app", tier="web")) + lfield(2, lfield(1, "a") + lfield(2, "1")) + lfield(
        2, lfield(1, "b") + lfield(2, "2"))
    obj = decode(envelope("v1", "ConfigMap", raw))
    assert obj == {"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "app", "labels": {"tier": "web"}}, "data": {"a": "1", "b": "2"}}


def test_secret_bytes_become_base64():
    raw = lfield(1, meta("pw")) + lfield(2, lfield(1, "password") + lfield(2, b"s3\x00cret")) + lfield(3, "Opaque")
    obj = decode(envelope("v1", "Secret", raw))
    assert obj["data"] == {"password": base64.b64encode(b"s3\x00cret").decode()}
    assert obj["type"] == "Opaque"


def test_int_or_string_both_forms():
    port_int = lfield(4, vfield(1, 0) + vfield(2, 8080))  # ServicePort.targetPort (4)
    port_str = lfield(4, vfield(1, 1) + lfield(3, "http"))
    assert decode_message(f"{CORE}.ServicePort", vfield(3, 80) + port_int) == {"port": 80, "targetPort": 8080}
    assert decode_message(f"{CORE}.ServicePort", port_str) == {"targetPort": "http"}


def test_unset_int_or_string_value_field_is_dropped_but_pointer_zero_kept():
    zero = vfield(1, 0) + vfield(2, 0)
    # ServicePort.targetPort is a value: Go writes 0 for "unset" and defaults it to port.
    assert decode_message(f"{CORE}.ServicePort", lfield(4, zero)) == {}
    # RollingUpdateDeployment.maxUnavailable is a *IntOrString: 0 is a real choice.
    assert decode_message(f"{APPS}.RollingUpdateDeployment", lfield(1, zero)) == {"maxUnavailable": 0}


def test_zero_scalars_dropped_for_values_kept_for_pointers():
    # DeploymentSpec: replicas (1) is *int32, minReadySeconds (5) and paused (7) are values.
    raw = vfield(1, 0) + vfield(5, 0) + vfield(7, 0)
    assert decode_message(f"{APPS}.DeploymentSpec", raw) == {"replicas": 0}
    # Container: an empty workingDir (5) and tty false (18) are what Go writes for "unset".
    assert decode_message(f"{CORE}.Container", lfield(1, "c") + lfield(5, "") + vfield(18, 0)) == {"name": "c"}


def test_empty_messages_stay_as_empty_objects():
    # Go's JSON writes `resources: {}` for a value struct; so do we.
    assert decode_message(f"{CORE}.Container", lfield(1, "c") + lfield(8, b"")) == {"name": "c", "resources": {}}


def test_time_and_micro_time():
    stamp = vfield(1, 1_700_000_000) + vfield(2, 123_456_789)
    assert decode_message(f"{META}.Time", stamp) == "2023-11-14T22:13:20Z"  # whole seconds, as upstream
    assert decode_message(f"{META}.MicroTime", stamp) == "2023-11-14T22:13:20.123456Z"
    # A zero time.Time travels as an empty message and means "unset".
    assert decode_message(f"{META}.ObjectMeta", lfield(1, "x") + lfield(8, b"")) == {"name": "x"}


def test_quantity_map_values():
    # ResourceQuotaSpec.hard (1) is map<string, Quantity>.
    raw = lfield(1, lfield(1, "pods") + lfield(2, lfield(1, "10")))
    assert decode_message(f"{CORE}.ResourceQuotaSpec", raw) == {"hard": {"pods": "10"}}


def test_inline_struct_is_lifted_into_its_parent():
    # Volume{name: 1, volumeSource: 2 (inline) {configMap: 19 {localObjectReference (inline): 1 {name: 1}}}}
    config_map = lfield(1, lfield(1, "settings"))
    raw = lfield(1, "cfg") + lfield(2, lfield(19, config_map))
    assert decode_message(f"{CORE}.Volume", raw) == {"name": "cfg", "configMap": {"name": "settings"}}


def test_raw_extension_carries_json():
    # ControllerRevision.data (2) is a RawExtension.
    raw = lfield(2, lfield(1, b'{"spec": {"x": 1}}')) + vfield(3, 4)
    assert decode_message(f"{APPS}.ControllerRevision", raw) == {"data": {"spec": {"x": 1}}, "revision": 4}


def test_unknown_fields_are_skipped():
    raw = lfield(1, meta("dev")) + vfield(99, 7) + lfield(98, b"newer field")
    assert decode(envelope("v1", "Namespace", raw))["metadata"] == {"name": "dev"}


def test_delete_options_in_any_group_version():
    raw = vfield(1, 0) + lfield(4, "Foreground")  # gracePeriodSeconds: 0 is a pointer: "delete now"
    assert decode(envelope("apps/v1", "DeleteOptions", raw)) == {
        "apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0, "propagationPolicy": "Foreground"}


def test_pdb_and_priority_class_keep_meaningful_zeros():
    # PodDisruptionBudgetSpec.maxUnavailable (3) is a *IntOrString; PriorityClass.value (2) has no omitempty.
    pdb = decode(envelope("policy/v1", "PodDisruptionBudget", lfield(2, lfield(3, vfield(1, 0) + vfield(2, 0)))))
    assert pdb["spec"] == {"maxUnavailable": 0}
    pc = decode(envelope("scheduling.k8s.io/v1", "PriorityClass", lfield(1, meta("low")) + vfield(2, 0)))
    assert pc["value"] == 0


def test_eviction_body():
    raw = lfield(1, meta("web-1")) + lfield(2, vfield(1, 30))
    obj = decode(envelope("policy/v1", "Eviction", raw))
    assert obj["metadata"] == {"name": "web-1"} and obj["deleteOptions"] == {"gracePeriodSeconds": 30}


# ------------------------------------------------------------ malformed bodies are 400s


@pytest.mark.parametrize("body, message", [
    (b"", "empty data"),
    (b'{"kind": "Namespace"}',
     "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"),
    (MAGIC, "empty body"),
    (MAGIC + b"\x0a\xff", "the object provided is unrecognized: unexpected EOF"),
    (envelope("v1", "Frobnicator", b""), 'no kind "Frobnicator" is registered for version "v1"'),
    (envelope("v1", "Namespace", lfield(1, b"\x0a\x05ab")),
     'Namespace in version "v1" cannot be handled as a Namespace: unexpected EOF'),
    (envelope("v1", "Namespace", vfield(1, 5)),
     'Namespace in version "v1" cannot be handled as a Namespace: proto: wrong wireType = 0 for field metadata'),
])
def test_malformed_bodies(body, message):
    with pytest.raises(StatusError) as info:
        decode(body)
    assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", message)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_garbage_after_the_magic_is_a_bad_request_or_an_object(data):
    try:
        obj = decode(MAGIC + data)
    except StatusError as err:
        assert err.code == 400
    else:
        assert isinstance(obj, dict)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_garbage_in_a_deployment_is_a_bad_request_or_an_object(data):
    try:
        obj = decode(envelope("apps/v1", "Deployment", data))
    except StatusError as err:
        assert err.code == 400 and "cannot be handled as a Deployment" in err.message
    else:
        assert obj["kind"] == "Deployment"


# ------------------------------------------------------------ the generator and its table

SAMPLE_PROTO = """
/* licence header */
syntax = "proto2";
package example.v1;
import "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto";
option go_package = "example/v1";

// Widget is a thing; "quotes; and semicolons" in comments are ignored.
message Widget {
  // +optional
  optional .k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  repeated WidgetPart parts = 2;
  map<string, string> settings = 3;
  optional int32 size = 4;
}

message WidgetPart {
  optional string name = 1;
}
"""


def test_parse_proto_reads_go_to_protobuf_style():
    parsed = gen_protobuf_schema.parse_proto(SAMPLE_PROTO)
    assert parsed == {
        "example.v1.Widget": {1: ("metadata", "optional", f"{META}.ObjectMeta"),
                              2: ("parts", "repeated", "example.v1.WidgetPart"),
                              3: ("settings", "map", "string"),
                              4: ("size", "optional", "int32")},
        "example.v1.WidgetPart": {1: ("name", "optional", "string")},
    }


def test_table_covers_every_served_kind_and_request_body():
    for res in RESOURCES:
        if (res.api_version, res.kind) in gen_protobuf_schema.JSON_ONLY:
            with pytest.raises(StatusError, match=f'no kind "{res.kind}" is registered for version'):
                protobuf._message_for(res.api_version, res.kind)
            continue
        assert protobuf._message_for(res.api_version, res.kind).endswith(f".{res.kind}")
    for api_version, kind in [("policy/v1", "Eviction"), ("autoscaling/v1", "Scale"), ("v1", "DeleteOptions"),
                              ("authentication.k8s.io/v1", "TokenRequest"),
                              ("autoscaling/v1", "HorizontalPodAutoscaler"), ("policy/v1", "PodDisruptionBudget"),
                              ("scheduling.k8s.io/v1", "PriorityClass")]:
        assert protobuf._message_for(api_version, kind).endswith(f".{kind}")


def test_every_referenced_message_is_in_the_table():
    messages = protobuf.table()["messages"]
    for fields in messages.values():
        for name, label, typ, *_ in fields.values():
            assert typ in gen_protobuf_schema.SCALARS or typ in messages, (name, typ)


def test_field_names_match_the_official_client():
    """Oracle: every JSON name in the table is an attribute of the official client's model
    (``V1Pod`` for core/v1 Pod...), so no proto-only or inline name leaks into objects."""
    models = pytest.importorskip("kubernetes.client.models")
    prefixes = {"core": ["CoreV1"], "rbac": ["RbacV1"], "authentication": ["AuthenticationV1"]}
    checked = 0
    for message, fields in protobuf.table()["messages"].items():
        *_, group, version, kind = message.split(".")
        candidates = [getattr(models, p + kind, None) for p in [version.capitalize(), *prefixes.get(group, [])]]
        model = next((c for c in candidates if c is not None), None)
        if model is None:
            continue  # special types (Time, Quantity...) and embedded structs have no model
        json_names = set(model.attribute_map.values())
        for name, label, *_ in fields.values():
            if label != "inline":
                assert name in json_names, f"{message}.{name}"
        checked += 1
    assert checked > 250


def test_table_shape_pointer_and_inline_flags():
    table = protobuf.table()
    spec = table["messages"][f"{APPS}.DeploymentSpec"]
    assert spec["1"] == ["replicas", "optional", "int32", True]
    assert spec["5"] == ["minReadySeconds", "optional", "int32"]
    assert table["messages"][f"{CORE}.Volume"]["2"] == ["volumeSource", "inline", f"{CORE}.VolumeSource"]
    assert json.loads(gen_protobuf_schema._dump(table)) == table


# ------------------------------------------------------------ the real kubectl, end to end


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("protobuf"), "--nodes", "0")
    yield srv
    if srv.process.poll() is None:
        srv.stop()


def _create_and_get(cluster, create: list[str], get: list[str]) -> dict[str, Any]:
    made = cluster.kubectl("-v=8", "create", *create)  # -v=8 logs the request headers
    assert made.returncode == 0, made.stderr
    assert "Content-Type: application/vnd.kubernetes.protobuf" in made.stderr  # it really was protobuf
    got = cluster.kubectl("get", *get, "-o", "json")
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)


@needs_kubectl
def test_kubectl_create_namespace(cluster):
    ns = _create_and_get(cluster, ["namespace", "dev"], ["namespace", "dev"])
    assert ns["kind"] == "Namespace" and ns["metadata"]["name"] == "dev"


@needs_kubectl
def test_kubectl_create_deployment(cluster):
    deploy = _create_and_get(cluster, ["deployment", "web", "--image=nginx", "--replicas=2", "--port=80"],
                             ["deployment", "web"])
    spec = deploy["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"] == {"matchLabels": {"app": "web"}}
    assert spec["template"]["metadata"]["labels"] == {"app": "web"}
    container = spec["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"]) == ("nginx", "nginx")
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]  # no hostPort: 0, no stdin: false


@needs_kubectl
def test_kubectl_create_deployment_with_zero_replicas(cluster):
    deploy = _create_and_get(cluster, ["deployment", "idle", "--image=nginx", "--replicas=0"], ["deployment", "idle"])
    assert deploy["spec"]["replicas"] == 0


@needs_kubectl
def test_kubectl_create_configmap(cluster):
    cm = _create_and_get(cluster, ["configmap", "app", "--from-literal=a=1", "--from-literal=b=2"],
                         ["configmap", "app"])
    assert cm["data"] == {"a": "1", "b": "2"}


@needs_kubectl
def test_kubectl_create_secret_generic(cluster):
    secret = _create_and_get(cluster, ["secret", "generic", "pw", "--from-literal=password=s3cret"],
                             ["secret", "pw"])
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["password"]) == b"s3cret"


@needs_kubectl
def test_kubectl_create_service_clusterip(cluster):
    svc = _create_and_get(cluster, ["service", "clusterip", "web", "--tcp=80:8080"], ["service", "web"])
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["selector"] == {"app": "web"}
    assert svc["spec"]["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]


@needs_kubectl
def test_kubectl_create_job(cluster):
    job = _create_and_get(cluster, ["job", "pi", "--image=busybox", "--", "sh", "-c", "echo hi"], ["job", "pi"])
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["sh", "-c", "echo hi"]
    assert pod["containers"][0]["image"] == "busybox"
    assert pod["restartPolicy"] == "Never"


@needs_kubectl
def test_kubectl_create_cronjob(cluster):
    cj = _create_and_get(cluster, ["cronjob", "hello", "--image=busybox", "--schedule=*/1 * * * *", "--",
                                   "echo", "hi"], ["cronjob", "hello"])
    assert cj["spec"]["schedule"] == "*/1 * * * *"
    pod = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["command"] == ["echo", "hi"]
    assert pod["restartPolicy"] == "OnFailure"


@needs_kubectl
def test_kubectl_create_serviceaccount(cluster):
    sa = _create_and_get(cluster, ["serviceaccount", "bot"], ["serviceaccount", "bot"])
    assert sa["kind"] == "ServiceAccount" and sa["metadata"]["name"] == "bot"


@needs_kubectl
def test_kubectl_create_role(cluster):
    role = _create_and_get(cluster, ["role", "r", "--verb=get", "--resource=pods"], ["role", "r"])
    # [""] is the core group: an empty string inside a list is a value, not "unset".
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]


@needs_kubectl
def test_kubectl_create_quota(cluster):
    quota = _create_and_get(cluster, ["quota", "q", "--hard=pods=10"], ["quota", "q"])
    assert quota["spec"]["hard"] == {"pods": "10"}


@needs_kubectl
def test_kubectl_create_ingress(cluster):
    ing = _create_and_get(cluster, ["ingress", "site", "--rule=foo.com/bar=web:80"], ["ingress", "site"])
    assert ing["spec"]["rules"] == [{"host": "foo.com", "http": {"paths": [
        {"backend": {"service": {"name": "web", "port": {"number": 80}}}, "path": "/bar", "pathType": "Exact"}]}}]


@needs_kubectl
def test_kubectl_create_rolebinding(cluster):
    rb = _create_and_get(cluster, ["rolebinding", "rb", "--role=r", "--user=alice"], ["rolebinding", "rb"])
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}
    assert rb["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]


def _post(cluster, path: str, body: bytes, method: str = "POST") -> tuple[int, dict[str, Any]]:
    code, _, answer = cluster.request(method, path, body, {"Content-Type": protobuf.MEDIA_TYPE,
                                                           "Accept": "application/json"})
    return code, json.loads(answer)


def test_server_answers_malformed_protobuf_with_400(cluster):
    code, status = _post(cluster, "/api/v1/namespaces", MAGIC + b"\x0a\xff\xff")
    assert code == 400 and status["reason"] == "BadRequest"
    assert "unexpected EOF" in status["message"]
    code, status = _post(cluster, "/api/v1/namespaces/default/configmaps", b"not protobuf at all")
    assert code == 400 and "expected prefix [107 56 115 0]" in status["message"]
    # ...and the server still serves a good one afterwards.
    code, created = _post(cluster, "/api/v1/namespaces/default/configmaps",
                          envelope("v1", "ConfigMap", lfield(1, meta("raw-proto")) + lfield(2, lfield(1, "k"))))
    assert code == 201 and created["data"] == {"k": ""}


def test_server_accepts_protobuf_delete_options(cluster):
    """Typed clients (``kubectl drain --disable-eviction``) send DeleteOptions as protobuf too."""
    code, _ = _post(cluster, "/api/v1/namespaces/default/configmaps",
                    envelope("v1", "ConfigMap", lfield(1, meta("doomed"))))
    assert code == 201
    options = envelope("v1", "DeleteOptions", vfield(1, 0) + lfield(4, "Background"))
    code, deleted = _post(cluster, "/api/v1/namespaces/default/configmaps/doomed", options, method="DELETE")
    assert code == 200, deleted
    code, status = _post(cluster, "/api/v1/namespaces/default/configmaps/doomed", options, method="DELETE")
    assert code == 404 and status["reason"] == "NotFound"


def test_generator_refuses_a_missing_message():
    with pytest.raises(KeyError, match="is not in the .proto files read"):
        gen_protobuf_schema.build({})
