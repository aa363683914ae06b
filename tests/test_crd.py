"""Custom resources: the per-server registry, CRD validation, the structural schema (pruning, defaulting,
validation), the CRD handler in the API server, and the real kubectl against `minik8s server`."""

import copy
import json
from datetime import datetime, timezone

import pytest
import yaml

from conftest import needs_kubectl, start_server
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.apiserver.apiextensions import structural, tableconvertor
from minik8s.apiserver.apiextensions.crd import validate_crd
from minik8s.apiserver.apiserver import APIServer

CRONTABS = Resource("stable.example.com", "v1", "CronTab", "crontabs", short_names=("ct",),
                    singular="crontab", schema={"type": "object"})


def test_register_makes_the_resource_findable_and_bumps_generation():
    registry = resources.Registry()
    before = registry.generation
    registry.register(CRONTABS)
    assert registry.generation > before
    assert CRONTABS in registry
    assert registry.lookup("ct") is CRONTABS
    assert registry.lookup("crontabs.stable.example.com") is CRONTABS
    assert registry.by_kind("stable.example.com/v1", "CronTab") is CRONTABS
    assert registry.get("stable.example.com", "v1", "crontabs") is CRONTABS
    assert ("stable.example.com", "v1") in registry.groups()
    registry.unregister(CRONTABS)
    assert registry.generation > before + 1
    assert registry.lookup("ct") is None
    assert registry.by_plural("stable.example.com", "v1", "crontabs") is None
    assert ("stable.example.com", "v1") not in registry.groups()


def test_registries_are_independent_and_the_builtins_never_change():
    one, other = resources.Registry(), resources.Registry()
    one.register(CRONTABS)
    assert other.lookup("ct") is None and resources.lookup("ct") is None
    assert ("stable.example.com", "v1") not in resources.groups()
    assert list(other) == list(resources.RESOURCES)


def test_register_replaces_the_same_group_version_plural():
    registry = resources.Registry()
    registry.register(CRONTABS)
    renamed = Resource("stable.example.com", "v1", "CronTab", "crontabs", short_names=("cts",), singular="crontab")
    registry.register(renamed)
    assert [r for r in registry if r.plural == "crontabs"] == [renamed]
    assert registry.lookup("cts") is renamed
    assert registry.lookup("ct") is None


def test_schema_is_not_part_of_equality():
    assert CRONTABS == Resource("stable.example.com", "v1", "CronTab", "crontabs", short_names=("ct",),
                                singular="crontab")
    assert hash(CRONTABS) == hash(Resource("stable.example.com", "v1", "CronTab", "crontabs", short_names=("ct",),
                                           singular="crontab", schema={"type": "string"}))


def test_builtin_resources_cannot_be_replaced_or_removed():
    registry = resources.Registry()
    pods = registry.get("", "v1", "pods")
    with pytest.raises(ValueError):
        registry.register(Resource("", "v1", "Pod", "pods"))
    with pytest.raises(ValueError):
        registry.unregister(pods)
    assert registry.lookup("po") is pods


# --- CRD validation (minik8s.apiserver.apiextensions.crd) ---

CRONTAB_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "crontabs.stable.example.com"},
    "spec": {
        "group": "stable.example.com", "scope": "Namespaced",
        "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab", "listKind": "CronTabList",
                  "shortNames": ["ct"]},
        "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
            "type": "object", "properties": {"spec": {"type": "object", "properties": {
                "cronSpec": {"type": "string"}, "image": {"type": "string"}, "replicas": {"type": "integer"}}}}}}}],
    },
}


def _crd(**changes):
    crd = copy.deepcopy(CRONTAB_CRD)
    for path, value in changes.items():
        target = crd
        *parents, last = path.split("__")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[last] = value
    return crd


def _messages(crd):
    return [str(e) for e in validate_crd(crd)]


def test_the_upstream_crontab_crd_is_valid():
    assert _messages(CRONTAB_CRD) == []


def test_name_must_be_plural_dot_group_and_group_needs_a_dot():
    assert _messages(_crd(metadata={"name": "crontabs"})) == [
        'metadata.name: Invalid value: "crontabs": must be spec.names.plural+"."+spec.group']
    assert 'spec.group: Invalid value: "example": should be a domain with at least one dot' in _messages(
        _crd(spec__group="example", metadata={"name": "crontabs.example"}))


def test_scope_names_and_versions():
    assert _messages(_crd(spec__scope="Global")) == [
        'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"']
    assert any(m.startswith("spec.versions: Invalid value") and "exactly one version marked as storage" in m
               for m in _messages(_crd(spec__versions__0__storage=False)))
    assert any(m.startswith("spec.names.shortNames[0]: Invalid value: \"C_T\"")
               for m in _messages(_crd(spec__names__shortNames=["C_T"])))
    assert "spec.names.listKind: Invalid value: \"CronTab\": kind and listKind may not be the same" in _messages(
        _crd(spec__names__listKind="CronTab"))


def test_schemas_are_required_and_must_be_structural():
    assert _messages(_crd(spec__versions__0__schema={})) == [
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"]
    untyped = {"type": "object", "properties": {"spec": {"properties": {"x": {"type": "string"}}},
                                                "tags": {"type": "array", "items": {}},
                                                "port": {"x-kubernetes-int-or-string": True}}}
    assert _messages(_crd(spec__versions__0__schema={"openAPIV3Schema": untyped})) == [
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: "
        "must not be empty for specified object fields",
        "spec.versions[0].schema.openAPIV3Schema.properties[tags].items.type: Required value: "
        "must not be empty for specified array items",
    ]
    assert _messages(_crd(spec__versions__0__schema={"openAPIV3Schema": {
        "type": "object", "x-kubernetes-preserve-unknown-fields": False}})) == [
        "spec.versions[0].schema.openAPIV3Schema.x-kubernetes-preserve-unknown-fields: Invalid value: false: "
        "must be true or undefined"]


def test_defaults_must_be_valid_and_prunable_and_other_structural_rules():
    schema = copy.deepcopy(SCHEMA)
    spec = schema["properties"]["spec"]["properties"]
    spec["replicas"]["default"] = "one"
    spec["nested"]["default"] = {"level": 1, "junk": 2}
    spec["tags"]["uniqueItems"] = True
    schema["properties"]["metadata"] = {"type": "object", "properties": {"labels": {"type": "object"}}}
    base = "spec.versions[0].schema.openAPIV3Schema"
    assert _messages(_crd(spec__versions__0__schema={"openAPIV3Schema": schema})) == [
        f"{base}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, "
        "but metadata is implicitly specified",
        f'{base}.properties[spec].properties[replicas].default: Invalid value: "string": '
        f'{base}.properties[spec].properties[replicas].default in body must be of type integer: "string"',
        f"{base}.properties[spec].properties[tags].uniqueItems: Forbidden: uniqueItems cannot be set to true since "
        "the runtime complexity becomes quadratic",
        f'{base}.properties[spec].properties[nested].default: Invalid value: {{"level":1,"junk":2}}: '
        "must not have unknown fields, got: junk",
    ]
    lookahead = copy.deepcopy(SCHEMA)
    lookahead["properties"]["spec"]["properties"]["image"]["pattern"] = "^(?=x)"   # not RE2: refused, as upstream
    assert _messages(_crd(spec__versions__0__schema={"openAPIV3Schema": lookahead})) == [
        f'{base}.properties[spec].properties[image].pattern: Invalid value: "^(?=x)": '
        "must be a valid regular expression, but isn't"]


def test_validation_never_raises_on_garbage():
    for garbage in (None, [], "x", {"spec": []}, {"spec": {"versions": [None, 3]}}):
        assert validate_crd(garbage)


# --- the structural schema (minik8s.apiserver.apiextensions.structural) ---

SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "required": ["image"], "properties": {
        "cronSpec": {"type": "string", "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$"},
        "image": {"type": "string", "minLength": 1, "maxLength": 20},
        "replicas": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
        "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
        "port": {"x-kubernetes-int-or-string": True},
        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
        "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "nested": {"type": "object", "default": {}, "properties": {"level": {"type": "integer", "default": 3}}},
    }},
    "status": {"type": "object", "properties": {"replicas": {"type": "integer"}}},
}}


def test_pruning_drops_undeclared_fields_and_reports_their_paths():
    obj = {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "a"},
           "spec": {"image": "x", "foo": 1, "extra": {"anything": {"goes": True}}, "labels": {"a": "b"},
                    "tags": ["t"], "nested": {"level": 1, "deeper": 2}},
           "other": "dropped"}
    assert structural.prune(obj, SCHEMA) == ["spec.foo", "spec.nested.deeper", "other"]
    assert obj["spec"] == {"image": "x", "extra": {"anything": {"goes": True}}, "labels": {"a": "b"}, "tags": ["t"],
                           "nested": {"level": 1}}
    assert obj["metadata"] == {"name": "a"} and "apiVersion" in obj and "kind" in obj


def test_defaulting_fills_missing_fields_and_nested_defaults():
    obj = {"spec": {"image": "x", "mode": None}}
    structural.default(obj, SCHEMA)
    assert obj["spec"] == {"image": "x", "replicas": 1, "mode": "fast", "nested": {"level": 3}}
    kept = {"spec": {"image": "x", "replicas": 5, "mode": "slow"}}
    structural.default(kept, SCHEMA)
    assert kept["spec"]["replicas"] == 5 and kept["spec"]["mode"] == "slow"


def test_embedded_resources_keep_their_type_and_metadata_and_nullable_fields_take_null():
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}},
        "note": {"type": "string", "nullable": True}}}}}
    obj = {"spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                 "spec": {"x": "a", "y": "b"}}, "note": None}}
    assert structural.prune(obj, schema) == ["spec.template.spec.y"]
    assert obj["spec"]["template"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": "a"}}
    assert structural.validate(obj, schema) == []
    del obj["spec"]["template"]["kind"]
    assert [str(e) for e in structural.validate(obj, schema)] == [
        "spec.template.kind: Required value: must not be empty"]


def _errors(spec):
    return [str(e) for e in structural.validate({"metadata": {"name": "a"}, "spec": spec}, SCHEMA)]


def test_validation_messages_are_upstreams():
    assert _errors({"image": "x", "cronSpec": "* * * * */5", "replicas": 3, "port": "http"}) == []
    assert _errors({"image": "x", "port": 8080}) == []
    assert _errors({"cronSpec": "x", "replicas": 15}) == [
        "spec.image: Required value",
        "spec.cronSpec: Invalid value: \"x\": spec.cronSpec in body should match "
        "'^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'",
        "spec.replicas: Invalid value: 15: spec.replicas in body should be less than or equal to 10",
    ]
    assert _errors({"image": "x", "replicas": "three"}) == [
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"']
    assert _errors({"image": "", "mode": "medium", "replicas": 0}) == [
        'spec.image: Invalid value: "": spec.image in body should be at least 1 chars long',
        'spec.mode: Unsupported value: "medium": supported values: "fast", "slow"',
        'spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1',
    ]
    assert _errors({"image": "x" * 21, "tags": ["a", "b", 3]}) == [
        "spec.image: Too long: may not be more than 20 bytes",
        "spec.tags: Too many: 3: must have at most 2 items",
        'spec.tags[2]: Invalid value: "integer": spec.tags[2] in body must be of type string: "integer"',
    ]
    assert _errors({"image": "x", "port": [1], "labels": {"a": 1}}) == [
        'spec.port: Invalid value: "array": spec.port in body must be of type integer,string: "array"',
        'spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"',
    ]


def test_printer_column_json_paths():
    obj = {"metadata": {"name": "a", "creationTimestamp": "2026-01-01T00:00:00Z"},
           "spec": {"replicas": 3, "list": [{"n": 1}, {"n": 2}]},
           "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}}
    assert tableconvertor.evaluate(".spec.replicas", obj) == [3]
    assert tableconvertor.evaluate(".spec.list[1].n", obj) == [2]
    assert tableconvertor.evaluate(".spec.list[*].n", obj) == [1, 2]
    assert tableconvertor.evaluate('.status.conditions[?(@.type=="Synced")].status', obj) == ["False"]
    assert tableconvertor.evaluate(".spec.missing", obj) == []
    columns = ({"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
               {"name": "Missing", "type": "string", "jsonPath": ".spec.nothing"},
               {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
    now = datetime(2026, 1, 1, 0, 5, tzinfo=timezone.utc)
    assert tableconvertor.cells(columns, obj, now) == ["a", 3, None, "5m"]
    assert [c["name"] for c in tableconvertor.column_definitions(())] == ["Name", "Age"]


# --- the CRD handler in the API server ---

def _served_crd(**version_changes):
    crd = copy.deepcopy(CRONTAB_CRD)
    version = crd["spec"]["versions"][0]
    version["schema"]["openAPIV3Schema"] = copy.deepcopy(SCHEMA)
    version["subresources"] = {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                       "statusReplicasPath": ".status.replicas"}}
    version.update(version_changes)
    return crd


def _crontab(name="a", **spec):
    return {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": name},
            "spec": {"image": "x", **spec}}


@pytest.fixture
def api():
    server = APIServer()
    crds = server.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    server.create(crds, None, _served_crd())
    return server


def _ct(api):
    return api.registry.get("stable.example.com", "v1", "crontabs")


def test_a_created_crd_is_accepted_established_and_served_by_its_own_server_only(api):
    crds = api.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    crd = api.get(crds, None, "crontabs.stable.example.com")
    status = crd["status"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"NamesAccepted": "True", "Established": "True"}
    assert status["acceptedNames"] == {"plural": "crontabs", "singular": "crontab", "shortNames": ["ct"],
                                       "kind": "CronTab", "listKind": "CronTabList"}
    assert status["storedVersions"] == ["v1"]
    assert crd["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    assert api.registry.lookup("ct").subresources == ("scale", "status")
    assert APIServer().registry.lookup("ct") is None and resources.lookup("ct") is None


def test_invalid_crds_are_refused_with_upstreams_causes():
    server = APIServer()
    crds = server.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    with pytest.raises(StatusError) as caught:
        server.create(crds, None, _crd(spec__versions__0__schema={}))
    assert caught.value.code == 422
    assert "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required" in caught.value.message
    assert server.registry.lookup("ct") is None


def test_a_name_conflict_leaves_the_second_crd_not_accepted_and_not_served(api):
    crds = api.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    other = _crd(metadata={"name": "crontabs2.stable.example.com"}, spec__names__plural="crontabs2",
                 spec__names__singular="crontab2", spec__names__kind="CronTab2", spec__names__listKind="CronTab2List")
    created = api.create(crds, None, other)
    conditions = {c["type"]: (c["status"], c.get("reason")) for c in created["status"]["conditions"]}
    assert conditions["NamesAccepted"] == ("False", "ShortNamesConflict")
    assert conditions["Established"][0] == "False"
    assert api.registry.by_plural("stable.example.com", "v1", "crontabs2") is None
    api.delete(crds, None, "crontabs.stable.example.com")   # the names are free again: the second is accepted
    accepted = api.get(crds, None, "crontabs2.stable.example.com")
    assert {c["type"]: c["status"] for c in accepted["status"]["conditions"]} == {
        "NamesAccepted": "True", "Established": "True"}
    assert api.registry.lookup("ct") == api.registry.get("stable.example.com", "v1", "crontabs2")


def test_custom_objects_are_pruned_defaulted_and_validated(api):
    warnings = []
    created = api.create(_ct(api), "default", _crontab(foo=1), warnings=warnings)
    assert warnings == ['unknown field "spec.foo"']
    assert created["spec"] == {"image": "x", "replicas": 1, "mode": "fast", "nested": {"level": 3}}
    assert created["metadata"]["generation"] == 1
    with pytest.raises(StatusError) as caught:
        api.create(_ct(api), "default", _crontab("b", foo=1), field_validation="Strict")
    assert caught.value.code == 400 and 'strict decoding error: unknown field "spec.foo"' in caught.value.message
    with pytest.raises(StatusError) as caught:
        api.create(_ct(api), "default", _crontab("b", replicas=11))
    assert caught.value.code == 422
    assert caught.value.message == ('CronTab.stable.example.com "b" is invalid: spec.replicas: Invalid value: 11: '
                                    'spec.replicas in body should be less than or equal to 10')


def test_json_patch_formats_and_defaults_applied_on_read(api):
    ct = _ct(api)
    api.create(ct, "default", _crontab())
    patched = api.patch(ct, "default", "a", "json", [{"op": "replace", "path": "/spec/replicas", "value": 4}])
    assert patched["spec"]["replicas"] == 4
    # an object stored before its schema had a default gets the default when read
    api.store.update(("crontabs.stable.example.com", "default", "a"),
                     {**patched, "spec": {"image": "x"}}, int(patched["metadata"]["resourceVersion"]))
    assert api.get(ct, "default", "a")["spec"]["replicas"] == 1
    api.store.update(("crontabs.stable.example.com", "default", "a"), {**patched, "spec": {"image": "x", "gone": 1}},
                     int(api.get(ct, "default", "a")["metadata"]["resourceVersion"]))
    assert "gone" not in api.get(ct, "default", "a")["spec"]   # a field the schema no longer declares is pruned
    assert [i["spec"]["mode"] for i in api.list(ct, "default")["items"]] == ["fast"]
    dated = {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"},
                                              "id": {"type": "string", "format": "uuid"}}}
    assert structural.validate({"spec": {"at": "2026-12-06T02:00:00Z", "id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"}},
                               {"type": "object", "properties": {"spec": dated}}) == []
    assert [str(e) for e in structural.validate({"spec": {"at": "yesterday"}},
                                                {"type": "object", "properties": {"spec": dated}})] == [
        'spec.at: Invalid value: "yesterday": spec.at in body must be of type date-time: "yesterday"']


def test_status_subresource_and_generation(api):
    ct = _ct(api)
    created = api.create(ct, "default", {**_crontab(), "status": {"replicas": 9}})
    assert "status" not in created
    updated = api.patch(ct, "default", "a", "merge", {"status": {"replicas": 5}})
    assert "status" not in updated and updated["metadata"]["generation"] == 1   # status ignored on the main resource
    status = api.patch(ct, "default", "a", "merge", {"spec": {"replicas": 7}, "status": {"replicas": 5}},
                       subresource="status")
    assert status["status"] == {"replicas": 5} and status["spec"]["replicas"] == 1   # spec ignored on /status
    assert status["metadata"]["generation"] == 1
    assert api.patch(ct, "default", "a", "merge", {"spec": {"replicas": 2}})["metadata"]["generation"] == 2
    with pytest.raises(StatusError) as caught:
        api.patch(ct, "default", "a", "strategic", {"spec": {"replicas": 3}})
    assert caught.value.code == 415


def test_scale_subresource_reads_and_writes_the_crds_paths(api):
    ct = _ct(api)
    api.create(ct, "default", _crontab(replicas=2))
    api.patch(ct, "default", "a", "merge", {"status": {"replicas": 2}}, subresource="status")
    scale = api.get(ct, "default", "a", subresource="scale")
    assert (scale["kind"], scale["apiVersion"], scale["spec"], scale["status"]) == (
        "Scale", "autoscaling/v1", {"replicas": 2}, {"replicas": 2})
    api.patch(ct, "default", "a", "merge", {"spec": {"replicas": 4}}, subresource="scale")
    assert api.get(ct, "default", "a")["spec"]["replicas"] == 4


def test_several_versions_share_storage_and_unserved_ones_are_not_served():
    server = APIServer()
    crds = server.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    crd = _served_crd()
    beta = copy.deepcopy(crd["spec"]["versions"][0])
    beta.update(name="v1beta1", storage=False)
    alpha = {**copy.deepcopy(beta), "name": "v1alpha1", "served": False}
    crd["spec"]["versions"] += [beta, alpha]
    server.create(crds, None, crd)
    v1, v1beta1 = (server.registry.get("stable.example.com", v, "crontabs") for v in ("v1", "v1beta1"))
    assert server.registry.by_plural("stable.example.com", "v1alpha1", "crontabs") is None
    created = server.create(v1beta1, "default", {**_crontab(), "apiVersion": "stable.example.com/v1beta1"})
    assert created["apiVersion"] == "stable.example.com/v1beta1"
    stored = json.loads(server.store.get_entry(("crontabs.stable.example.com", "default", "a")).raw)
    assert stored["apiVersion"] == "stable.example.com/v1"   # kept in the storage version
    assert server.get(v1, "default", "a")["apiVersion"] == "stable.example.com/v1"
    assert [i["apiVersion"] for i in server.list(v1beta1, "default")["items"]] == ["stable.example.com/v1beta1"]


def test_deleting_a_crd_deletes_its_objects_and_waits_for_their_finalizers(api):
    crds = api.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    ct = _ct(api)
    api.create(ct, "default", _crontab("plain"))
    held = _crontab("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    api.create(ct, "default", held)
    api.delete(crds, None, "crontabs.stable.example.com")
    crd = api.get(crds, None, "crontabs.stable.example.com")   # still there: one object is held
    terminating = next(c for c in crd["status"]["conditions"] if c["type"] == "Terminating")
    assert terminating["status"] == "True" and terminating["reason"] == "InstanceDeletionInProgress"
    assert [o["metadata"]["name"] for o in api.list(ct, "default")["items"]] == ["held"]
    with pytest.raises(StatusError) as caught:
        api.create(ct, "default", _crontab("new"))
    assert caught.value.code == 405
    events = []
    cancel = api.watch(ct, "default", events.append)
    api.patch(ct, "default", "held", "merge", {"metadata": {"finalizers": None}})
    with pytest.raises(StatusError):
        api.get(crds, None, "crontabs.stable.example.com")
    assert api.registry.lookup("ct") is None
    assert [e and e["type"] for e in events] == ["ADDED", "DELETED", None]   # None: the watch ended
    cancel()


def test_deleting_a_namespace_deletes_the_custom_objects_in_it(tmp_path):
    from minik8s import Cluster

    manifest = tmp_path / "crd.yaml"
    manifest.write_text(yaml.safe_dump(_served_crd()))
    with Cluster(nodes=0, runtime="simulated") as cluster:
        cluster.kubectl(f"apply -f {manifest}")
        cluster.kubectl("create namespace team")
        api = cluster.api
        api.create(_ct(api), "team", _crontab())
        cluster.kubectl("delete namespace team --wait=false")
        cluster.run_until_stable(timeout=30)
        assert api.list(_ct(api), None)["items"] == []



# --- CEL rules (x-kubernetes-validations) ---

CEL_SCHEMA = {"type": "object", "properties": {"spec": {
    "type": "object",
    "x-kubernetes-validations": [
        {"rule": "self.minReplicas <= self.replicas",
         "message": "replicas should be greater than or equal to minReplicas"},
        {"rule": "self.replicas <= 100", "messageExpression": "'replicas ' + string(self.replicas) + ' is over 100'"}],
    "properties": {
        "replicas": {"type": "integer"}, "minReplicas": {"type": "integer"},
        "image": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf"}]},
    }}}}


def test_cel_rules_with_message_message_expression_and_transition_rules():
    from minik8s.apiserver.apiextensions import cel

    def errors(spec, old=None):
        return [str(e) for e in cel.validate({"spec": spec}, {"spec": old} if old else None, CEL_SCHEMA)]

    assert errors({"replicas": 3, "minReplicas": 1, "image": "a"}) == []
    assert errors({"replicas": 1, "minReplicas": 2, "image": "a"}) == [
        'spec: Invalid value: "object": replicas should be greater than or equal to minReplicas']
    assert errors({"replicas": 200, "minReplicas": 2}) == ['spec: Invalid value: "object": replicas 200 is over 100']
    assert errors({"replicas": 3, "minReplicas": 1, "image": "b"}, old={"replicas": 3, "minReplicas": 1,
                                                                       "image": "a"}) == [
        'spec.image: Invalid value: "string": failed rule: self == oldSelf']


def test_a_crd_whose_rule_does_not_compile_is_refused():
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["spec"]["x-kubernetes-validations"] = [{"rule": "self.replicas >"}]
    found = _messages(_crd(spec__versions__0__schema={"openAPIV3Schema": schema}))
    assert len(found) == 1 and found[0].startswith(
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule: "
        'Invalid value: "self.replicas >": compilation failed')


def test_cel_rules_guard_custom_objects_in_the_api_server():
    server = APIServer()
    crds = server.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    server.create(crds, None, _crd(spec__versions__0__schema={"openAPIV3Schema": CEL_SCHEMA}))
    ct = _ct(server)
    server.create(ct, "default", _crontab(replicas=2, minReplicas=1, image="a"))
    with pytest.raises(StatusError) as caught:
        server.patch(ct, "default", "a", "merge", {"spec": {"image": "b"}})
    assert caught.value.code == 422 and caught.value.message == (
        'CronTab.stable.example.com "a" is invalid: spec.image: Invalid value: "string": failed rule: self == oldSelf')


# --- the real kubectl against `minik8s server` (upstream's CronTab walkthrough) ---

CRONTAB_MANIFEST = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab, shortNames: [ct]}
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
              cronSpec: {type: string, pattern: '^(\\d+|\\*)(/\\d+)?(\\s+(\\d+|\\*)(/\\d+)?){4}$'}
              image: {type: string}
              replicas: {type: integer, minimum: 1, maximum: 10, default: 1}
          status:
            type: object
            properties:
              replicas: {type: integer}
              labelSelector: {type: string}
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas,
              labelSelectorPath: .status.labelSelector}
    additionalPrinterColumns:
    - {name: Spec, type: string, jsonPath: .spec.cronSpec}
    - {name: Replicas, type: integer, jsonPath: .spec.replicas}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
"""

CRONTAB_OBJECT = """
apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: my-new-cron-object
spec:
  cronSpec: "* * * * */5"
  image: my-awesome-cron-image
"""


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


def _install_crontabs(server):
    assert "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created" in _ok(
        server.kubectl("apply", "-f", "-", stdin=CRONTAB_MANIFEST))
    assert "condition met" in _ok(server.kubectl("wait", "--for", "condition=established", "--timeout=20s",
                                                 "crd/crontabs.stable.example.com"))
    assert "crontab.stable.example.com/my-new-cron-object created" in _ok(
        server.kubectl("apply", "-f", "-", stdin=CRONTAB_OBJECT))


@needs_kubectl
def test_the_real_kubectl_walks_through_upstreams_crontab_example(server):
    _install_crontabs(server)
    table = _ok(server.kubectl("get", "ct")).splitlines()
    assert table[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert table[1].split()[:7] == ["my-new-cron-object", "*", "*", "*", "*", "*/5", "1"]
    obj = yaml.safe_load(_ok(server.kubectl("get", "crontab", "my-new-cron-object", "-o", "yaml")))
    assert obj["spec"] == {"cronSpec": "* * * * */5", "image": "my-awesome-cron-image", "replicas": 1}
    assert "crontab.stable.example.com/my-new-cron-object patched" in _ok(server.kubectl(
        "patch", "crontabs.stable.example.com", "my-new-cron-object", "--type=merge", "-p",
        '{"spec":{"image":"another-image"}}'))
    assert "crontab.stable.example.com/my-new-cron-object scaled" in _ok(
        server.kubectl("scale", "ct", "my-new-cron-object", "--replicas=3"))
    _ok(server.kubectl("patch", "ct", "my-new-cron-object", "--subresource=status", "--type=merge", "-p",
                       '{"status":{"replicas":3,"labelSelector":"app=cron"}}'))
    obj = json.loads(_ok(server.kubectl("get", "ct", "my-new-cron-object", "-o", "json")))
    assert (obj["spec"]["replicas"], obj["spec"]["image"], obj["status"]) == (
        3, "another-image", {"replicas": 3, "labelSelector": "app=cron"})
    assert obj["metadata"]["generation"] == 3
    scale = json.loads(_ok(server.kubectl("get", "--raw", "/apis/stable.example.com/v1/namespaces/default/"
                                                          "crontabs/my-new-cron-object/scale")))
    assert scale["status"] == {"replicas": 3, "selector": "app=cron"}
    assert "Image:      another-image" in _ok(server.kubectl("describe", "ct", "my-new-cron-object"))
    explained = _ok(server.kubectl("explain", "crontab.spec"))
    assert "KIND:       CronTab" in explained and "cronSpec\t<string>" in explained
    assert "metadata\t<ObjectMeta>" in _ok(server.kubectl("explain", "crontab"))   # published as upstream does
    assert "deleted" in _ok(server.kubectl("delete", "ct", "--all"))
    assert "No resources found" in server.kubectl("get", "ct").stderr
    bad = server.kubectl("apply", "-f", "-", stdin=CRONTAB_OBJECT.replace("my-new-cron-object", "bad")
                         .replace('"* * * * */5"', '"x"'))
    assert bad.returncode == 1
    assert "spec.cronSpec: Invalid value: \"x\": spec.cronSpec in body should match" in bad.stderr
    unknown = server.kubectl("apply", "-f", "-", stdin=CRONTAB_OBJECT.replace("image:", "imag:"))
    assert unknown.returncode == 1 and 'strict decoding error: unknown field "spec.imag"' in unknown.stderr


@needs_kubectl
def test_custom_resources_are_in_discovery_and_watched_and_rbac_applies(server):
    _install_crontabs(server)
    resources_listed = _ok(server.kubectl("api-resources", "--api-group=stable.example.com"))
    assert resources_listed.splitlines()[1].split() == ["crontabs", "ct", "stable.example.com/v1", "true", "CronTab"]
    code, _, body = server.request("GET", "/apis/stable.example.com/v1/namespaces/default/crontabs"
                                          "?watch=true&timeoutSeconds=1")
    events = [json.loads(line) for line in body.splitlines()]
    assert code == 200 and [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "my-new-cron-object")]
    someone = "--as=system:serviceaccount:default:default"
    assert server.kubectl("auth", "can-i", "list", "crontabs.stable.example.com", someone).stdout.strip() == "no"
    denied = server.kubectl("get", "ct", someone)
    assert denied.returncode == 1 and 'cannot list resource "crontabs" in API group "stable.example.com"' \
        in denied.stderr
    _ok(server.kubectl("create", "role", "crontab-reader", "--verb=get,list", "--resource=crontabs.stable.example.com"))
    _ok(server.kubectl("create", "rolebinding", "crontab-reader", "--role=crontab-reader",
                       "--serviceaccount=default:default"))
    assert "my-new-cron-object" in _ok(server.kubectl("get", "ct", someone))
    assert server.kubectl("delete", "ct", "my-new-cron-object", someone).returncode == 1


@needs_kubectl
def test_deleting_the_crd_deletes_its_objects_and_stops_serving_it(server):
    _install_crontabs(server)
    # A watch open while the CRD goes sees the object deleted, then its stream ends (as upstream closes it).
    watch = server.http_client().watch(Resource("stable.example.com", "v1", "CronTab", "crontabs"), "default",
                                       timeout_seconds=100)
    events = iter(watch)
    assert next(events)["type"] == "ADDED"   # the watch is established
    assert 'customresourcedefinition.apiextensions.k8s.io "crontabs.stable.example.com" deleted' in _ok(
        server.kubectl("delete", "crd", "crontabs.stable.example.com"))
    assert [event["type"] for event in events] == ["DELETED"]
    code, _, _ = server.request("GET", "/apis/stable.example.com/v1/namespaces/default/crontabs")
    assert code == 404
    _ok(server.kubectl("apply", "-f", "-", stdin=CRONTAB_MANIFEST))
    assert "No resources found" in server.kubectl("get", "ct").stderr   # the old objects went with the CRD


@needs_kubectl
def test_crds_and_custom_objects_survive_a_restart(tmp_path):
    first = start_server(tmp_path, "--nodes", "0")
    try:
        _install_crontabs(first)
    finally:
        first.stop()
    second = start_server(tmp_path, "--nodes", "0", data_dir=first.data_dir)
    try:
        assert "my-new-cron-object" in _ok(second.kubectl("get", "ct"))
        assert "my-new-cron-object" in _ok(second.kubectl("get", "ct", real=False))   # minik8s kubectl: discovery
    finally:
        second.stop()


def test_objects_owned_by_a_custom_object_are_kept_then_collected_with_it(tmp_path):
    from minik8s import Cluster

    manifest = tmp_path / "crd.yaml"
    manifest.write_text(yaml.safe_dump(_served_crd()))
    with Cluster(nodes=0, runtime="simulated") as cluster:
        cluster.kubectl(f"apply -f {manifest}")
        api = cluster.api
        owner = api.create(_ct(api), "default", _crontab("owner"))
        ref = {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "name": "owner",
               "uid": owner["metadata"]["uid"]}
        services = api.registry.get("", "v1", "services")
        api.create(services, "default", {"metadata": {"name": "owned", "ownerReferences": [ref]},
                                         "spec": {"ports": [{"port": 80}]}})
        cluster.run_until_stable(timeout=30)
        assert api.get(services, "default", "owned")   # its owner exists: the garbage collector keeps it
        cluster.kubectl("delete ct owner")
        cluster.run_until_stable(timeout=30)
        with pytest.raises(StatusError):
            api.get(services, "default", "owned")


@needs_kubectl
def test_the_official_client_drives_custom_objects_and_reads_crds(server):
    from kubernetes import client, config

    _install_crontabs(server)
    api_client = config.new_client_from_config(str(server.kubeconfig))
    custom = client.CustomObjectsApi(api_client)
    args = ("stable.example.com", "v1", "default", "crontabs")
    created = custom.create_namespaced_custom_object(*args, {
        "apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "from-python"},
        "spec": {"cronSpec": "* * * * *", "image": "i"}})
    assert created["spec"]["replicas"] == 1   # defaulted by the schema
    custom.patch_namespaced_custom_object_status(*args, "from-python", {"status": {"replicas": 2}})
    custom.patch_namespaced_custom_object_scale(*args, "from-python", {"spec": {"replicas": 4}})
    scale = custom.get_namespaced_custom_object_scale(*args, "from-python")
    assert (scale["spec"], scale["status"]["replicas"]) == ({"replicas": 4}, 2)
    listed = custom.list_namespaced_custom_object(*args)["items"]
    assert sorted(o["metadata"]["name"] for o in listed) == ["from-python", "my-new-cron-object"]
    crd = client.ApiextensionsV1Api(api_client).read_custom_resource_definition("crontabs.stable.example.com")
    assert {c.type: c.status for c in crd.status.conditions} == {"NamesAccepted": "True", "Established": "True"}
    assert (crd.status.accepted_names.kind, crd.status.stored_versions) == ("CronTab", ["v1"])
