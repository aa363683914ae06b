"""Custom resources: runtime registration in the resource registry, and CRD validation."""

import copy

import pytest

from minik8s.api import resources
from minik8s.api.resources import Resource
from minik8s.apiserver.apiextensions.crd import validate_crd

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


def test_validation_never_raises_on_garbage():
    for garbage in (None, [], "x", {"spec": []}, {"spec": {"versions": [None, 3]}}):
        assert validate_crd(garbage)
