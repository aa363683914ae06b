"""Custom resources: runtime registration in the resource registry, and CRD validation."""

import copy

import pytest

from minik8s.api import resources
from minik8s.api.resources import Resource
from minik8s.apiserver.apiextensions.crd import validate_crd

CRONTABS = Resource("stable.example.com", "v1", "CronTab", "crontabs", short_names=("ct",),
                    singular="crontab", schema={"type": "object"})


@pytest.fixture
def crontabs():
    resources.register(CRONTABS)
    yield CRONTABS
    resources.unregister(CRONTABS)


def test_register_makes_the_resource_findable_and_bumps_generation():
    before = resources.generation
    resources.register(CRONTABS)
    try:
        assert resources.generation > before
        assert CRONTABS in resources.RESOURCES
        assert resources.lookup("ct") is CRONTABS
        assert resources.lookup("crontabs.stable.example.com") is CRONTABS
        assert resources.by_kind("stable.example.com/v1", "CronTab") is CRONTABS
        assert resources.get("stable.example.com", "v1", "crontabs") is CRONTABS
        assert ("stable.example.com", "v1") in resources.groups()
    finally:
        resources.unregister(CRONTABS)
    assert resources.generation > before + 1
    assert resources.lookup("ct") is None
    assert resources.by_plural("stable.example.com", "v1", "crontabs") is None
    assert ("stable.example.com", "v1") not in resources.groups()


def test_register_replaces_the_same_group_version_plural(crontabs):
    renamed = Resource("stable.example.com", "v1", "CronTab", "crontabs", short_names=("cts",), singular="crontab")
    resources.register(renamed)
    assert [r for r in resources.RESOURCES if r.plural == "crontabs"] == [renamed]
    assert resources.lookup("cts") is renamed
    assert resources.lookup("ct") is None


def test_schema_is_not_part_of_equality():
    assert CRONTABS == Resource("stable.example.com", "v1", "CronTab", "crontabs", short_names=("ct",),
                                singular="crontab")
    assert hash(CRONTABS) == hash(Resource("stable.example.com", "v1", "CronTab", "crontabs", short_names=("ct",),
                                           singular="crontab", schema={"type": "string"}))


def test_builtin_resources_cannot_be_replaced_or_removed():
    pods = resources.get("", "v1", "pods")
    with pytest.raises(ValueError):
        resources.register(Resource("", "v1", "Pod", "pods"))
    with pytest.raises(ValueError):
        resources.unregister(pods)
    assert resources.lookup("po") is pods


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


def test_a_registered_resource_is_served_generically(crontabs, tmp_path):
    from minik8s import Cluster

    manifest = tmp_path / "ct.yaml"
    manifest.write_text("apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: my-new-cron-object}\n"
                        "spec: {cronSpec: '* * * * */5', image: my-awesome-cron-image}\n")
    with Cluster(nodes=1, runtime="simulated") as cluster:
        _crontab_round_trip(cluster, manifest)


def _crontab_round_trip(cluster, manifest):
    assert "crontab.stable.example.com/my-new-cron-object created" in cluster.kubectl(f"apply -f {manifest}")
    assert "my-awesome-cron-image" in cluster.kubectl("get ct my-new-cron-object -o yaml")
    assert 'crontab.stable.example.com "my-new-cron-object" deleted' in cluster.kubectl("delete ct my-new-cron-object")
