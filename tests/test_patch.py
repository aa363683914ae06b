"""Tests for minik8s.api.patch: JSON merge patch, JSON patch, strategic merge patch, three-way diffs."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minik8s.api.patch import (
    create_merge_patch,
    create_strategic_patch,
    json_merge_patch,
    json_patch,
    merge_key,
    strategic_merge_patch,
    three_way_merge_patch,
    three_way_strategic_patch,
)

# --- JSON merge patch: the examples of RFC 7386 appendix A ---------------------------------

RFC7386 = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("original, patch, result", RFC7386)
def test_rfc7386_examples(original: Any, patch: Any, result: Any) -> None:
    before = copy.deepcopy(original)
    assert json_merge_patch(original, patch) == result
    assert original == before  # never mutated


def test_three_way_merge_patch_keeps_server_fields() -> None:
    last = {"spec": {"a": 1, "b": 2}}
    modified = {"spec": {"a": 3}}
    current = {"spec": {"a": 1, "b": 2, "server": "x"}, "status": {"ok": True}}
    patch = three_way_merge_patch(last, modified, current)
    assert patch == {"spec": {"a": 3, "b": None}}
    assert json_merge_patch(current, patch) == {"spec": {"a": 3, "server": "x"}, "status": {"ok": True}}
    assert three_way_merge_patch(modified, modified, json_merge_patch(current, patch)) == {}


# --- JSON patch: the examples of RFC 6902 appendix A ---------------------------------------

@pytest.mark.parametrize("doc, ops, result", [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}], {"foo": ["bar", "qux", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo", "foo": "bar"}),
    ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
     [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
     {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
    ({"foo": ["all", "grass", "cows", "eat"]}, [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
     {"foo": ["all", "cows", "eat", "grass"]}),
    ({"baz": "qux", "foo": ["a", 2, "c"]},
     [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
     {"baz": "qux", "foo": ["a", 2, "c"]}),
    ({"foo": "bar"}, [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
     {"foo": "bar", "child": {"grandchild": {}}}),
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}], {"foo": "bar", "baz": "qux"}),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}], {"foo": ["bar", ["abc", "def"]]}),
    ({"a": {"b": 1}}, [{"op": "copy", "from": "/a", "path": "/c"}], {"a": {"b": 1}, "c": {"b": 1}}),
])
def test_rfc6902_examples(doc: Any, ops: list[Any], result: Any) -> None:
    before = copy.deepcopy(doc)
    assert json_patch(doc, ops) == result
    assert doc == before


@pytest.mark.parametrize("doc, ops, message", [
    ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], "test operation failed"),
    ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], "invalid JSON patch"),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], "test operation failed"),
    ({"a": 1}, [{"op": "remove", "path": "/b"}], "invalid JSON patch"),
    ({"a": 1}, [{"op": "frobnicate", "path": "/a"}], "invalid JSON patch"),
    ({"a": 1}, [{"path": "/a"}], "invalid JSON patch"),
    ({"a": 1}, {"op": "add"}, "must be a list"),
    ({"a": 1}, ["add"], "is not an object"),
])
def test_rfc6902_errors(doc: Any, ops: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        json_patch(doc, ops)


def test_json_patch_is_all_or_nothing() -> None:
    doc = {"a": 1}
    with pytest.raises(ValueError):
        json_patch(doc, [{"op": "replace", "path": "/a", "value": 2}, {"op": "test", "path": "/a", "value": 1}])
    assert doc == {"a": 1}


# --- strategic merge patch -------------------------------------------------------------------

def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}, "uid": "u-1",
                     "finalizers": ["a/x"]},
        "spec": {
            "nodeName": "node-1",
            "containers": [
                {"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                 "env": [{"name": "A", "value": "1"}]},
                {"name": "sidecar", "image": "busybox"},
            ],
            "tolerations": [{"key": "k1", "operator": "Exists"}],
        },
        "status": {"phase": "Running"},
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["containers"]


def test_change_one_container_image_keeps_the_other() -> None:
    original = pod()
    out = strategic_merge_patch(original, {"spec": {"containers": [{"name": "sidecar", "image": "busybox:2"}]}},
                                "Pod")
    assert [(c["name"], c["image"]) for c in containers(out)] == [("app", "nginx:1.25"), ("sidecar", "busybox:2")]
    assert containers(out)[0]["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert original == pod()


def test_json_merge_patch_would_replace_the_list() -> None:
    out = json_merge_patch(pod(), {"spec": {"containers": [{"name": "sidecar", "image": "busybox:2"}]}})
    assert containers(out) == [{"name": "sidecar", "image": "busybox:2"}]


def test_add_env_var_by_name() -> None:
    patch = {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "2"},
                                                              {"name": "A", "value": "changed"}]}]}}
    out = strategic_merge_patch(pod(), patch, "Pod")
    env = containers(out)[0]["env"]
    assert {e["name"]: e["value"] for e in env} == {"A": "changed", "B": "2"}
    assert containers(out)[0]["image"] == "nginx:1.25"


def test_new_list_items_go_before_server_items_without_an_order_directive() -> None:
    out = strategic_merge_patch(pod(), {"spec": {"containers": [{"name": "extra", "image": "x"}]}}, "Pod")
    assert [c["name"] for c in containers(out)] == ["extra", "app", "sidecar"]


def test_patch_delete_directive_on_a_container() -> None:
    out = strategic_merge_patch(pod(), {"spec": {"containers": [{"name": "app", "$patch": "delete"}]}}, "Pod")
    assert [c["name"] for c in containers(out)] == ["sidecar"]
    with pytest.raises(ValueError, match="does not contain declared merge key: name"):
        strategic_merge_patch(pod(), {"spec": {"containers": [{"$patch": "delete"}]}}, "Pod")


def test_patch_replace_directive_in_a_list_and_a_map() -> None:
    patch = {"spec": {"containers": [{"name": "only", "image": "x"}, {"$patch": "replace"}]}}
    assert containers(strategic_merge_patch(pod(), patch, "Pod")) == [{"name": "only", "image": "x"}]
    out = strategic_merge_patch(pod(), {"metadata": {"labels": {"$patch": "replace", "new": "1"}}}, "Pod")
    assert out["metadata"]["labels"] == {"new": "1"}
    out = strategic_merge_patch(pod(), {"metadata": {"labels": {"$patch": "delete"}}}, "Pod")
    assert out["metadata"]["labels"] == {}
    out = strategic_merge_patch(pod(), {"metadata": {"labels": {"$patch": "merge", "new": "1"}}}, "Pod")
    assert out["metadata"]["labels"] == {"app": "web", "tier": "front", "new": "1"}
    with pytest.raises(ValueError, match="merging lists cannot yet be specified"):
        strategic_merge_patch(pod(), {"spec": {"containers": [{"$patch": "merge"}]}}, "Pod")
    with pytest.raises(ValueError, match="unknown patch type: bogus"):
        strategic_merge_patch(pod(), {"spec": {"$patch": "bogus"}}, "Pod")


def test_set_element_order() -> None:
    patch = {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                      "containers": [{"name": "app", "image": "nginx:2"}]}}
    out = strategic_merge_patch(pod(), patch, "Pod")
    assert [(c["name"], c["image"]) for c in containers(out)] == [("sidecar", "busybox"), ("app", "nginx:2")]
    patch = {"metadata": {"$setElementOrder/finalizers": ["b/y", "a/x"], "finalizers": ["b/y"]}}
    assert strategic_merge_patch(pod(), patch, "Pod")["metadata"]["finalizers"] == ["b/y", "a/x"]


def test_finalizers_merge_and_delete_from_primitive_list() -> None:
    out = strategic_merge_patch(pod(), {"metadata": {"finalizers": ["b/y", "a/x"]}}, "Pod")
    assert sorted(out["metadata"]["finalizers"]) == ["a/x", "b/y"]
    out = strategic_merge_patch(pod(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/x"]}}, "Pod")
    assert out["metadata"]["finalizers"] == []


def test_tolerations_have_no_merge_key_and_are_replaced() -> None:
    out = strategic_merge_patch(pod(), {"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}}, "Pod")
    assert out["spec"]["tolerations"] == [{"key": "k2", "operator": "Exists"}]


def test_service_ports_merge_by_port_and_container_ports_by_container_port() -> None:
    svc = {"kind": "Service", "metadata": {"name": "s"},
           "spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "http"},
                              {"port": 443, "targetPort": 8443, "name": "https"}]}}
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}, "Service")
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9090, "name": "http"},
                                    {"port": 443, "targetPort": 8443, "name": "https"}]
    assert merge_key("Service", "spec.ports") == "port"
    assert merge_key("Pod", "spec.containers.ports") == "containerPort"
    assert merge_key("Deployment", "spec.template.spec.containers.env") == "name"
    assert merge_key("CronJob", "spec.jobTemplate.spec.template.spec.volumes") == "name"
    assert merge_key("Pod", "spec.containers.volumeMounts") == "mountPath"
    assert merge_key("Pod", "metadata.ownerReferences") == "uid"
    assert merge_key("Deployment", "status.conditions") == "type"
    assert merge_key("Pod", "spec.tolerations") is None
    assert merge_key("Widget", "spec.items") is None


def test_null_deletes_a_label() -> None:
    out = strategic_merge_patch(pod(), {"metadata": {"labels": {"tier": None, "new": "x"}}}, "Pod")
    assert out["metadata"]["labels"] == {"app": "web", "new": "x"}


def test_retain_keys_clears_the_other_members_of_a_union() -> None:
    deploy = {"kind": "Deployment", "metadata": {"name": "d"},
              "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    out = strategic_merge_patch(deploy, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
                                "Deployment")
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    with pytest.raises(ValueError, match=r"must be listed in \$retainKeys"):
        strategic_merge_patch(deploy, {"spec": {"strategy": {"$retainKeys": [], "type": "Recreate"}}},
                              "Deployment")


def test_unknown_kind_replaces_lists() -> None:
    obj = {"spec": {"items": [{"name": "a", "v": 1}]}}
    out = strategic_merge_patch(obj, {"spec": {"items": [{"name": "b"}]}}, "Widget")
    assert out == {"spec": {"items": [{"name": "b"}]}}


# --- three-way strategic merge patch (kubectl apply) -----------------------------------------

def manifest() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
        "spec": {"containers": [
            {"name": "app", "image": "nginx:1.25", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "busybox"},
        ]},
    }


def live() -> dict[str, Any]:
    current = manifest()
    current["metadata"].update({"uid": "u-1", "resourceVersion": "7"})
    current["spec"]["nodeName"] = "node-1"
    for c in current["spec"]["containers"]:
        c["terminationMessagePath"] = "/dev/termination-log"
    current["status"] = {"phase": "Running"}
    return current


def test_three_way_removes_a_dropped_label_and_keeps_server_fields() -> None:
    modified = manifest()
    del modified["metadata"]["labels"]["tier"]
    patch = three_way_strategic_patch(manifest(), modified, live(), "Pod")
    assert patch == {"metadata": {"labels": {"tier": None}}}
    out = strategic_merge_patch(live(), patch, "Pod")
    assert out["metadata"]["labels"] == {"app": "web"}
    assert out["status"] == {"phase": "Running"}
    assert out["metadata"]["uid"] == "u-1" and out["spec"]["nodeName"] == "node-1"


def test_three_way_no_change_is_an_empty_patch() -> None:
    assert three_way_strategic_patch(manifest(), manifest(), live(), "Pod") == {}


def test_three_way_drops_a_container_and_changes_another() -> None:
    modified = manifest()
    modified["spec"]["containers"] = [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]
    patch = three_way_strategic_patch(manifest(), modified, live(), "Pod")
    assert patch["spec"]["$setElementOrder/containers"] == [{"name": "app"}]
    assert {"$patch": "delete", "name": "sidecar"} in patch["spec"]["containers"]
    assert {"name": "app", "image": "nginx:1.27"} in patch["spec"]["containers"]
    out = strategic_merge_patch(live(), patch, "Pod")
    assert containers(out) == [{"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                                "terminationMessagePath": "/dev/termination-log"}]


def test_three_way_first_apply_without_last_applied_deletes_nothing() -> None:
    modified = manifest()
    del modified["metadata"]["labels"]["tier"]
    patch = three_way_strategic_patch(None, modified, live(), "Pod")
    assert patch == {}  # tier was never declared by apply, so apply leaves it alone


def test_three_way_primitive_merge_list_and_retain_keys() -> None:
    last = {"metadata": {"name": "d", "finalizers": ["a", "b"]},
            "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}}
    modified = {"metadata": {"name": "d", "finalizers": ["a", "c"]}, "spec": {"strategy": {"type": "Recreate"}}}
    current = copy.deepcopy(last)
    current["metadata"]["finalizers"].append("server/x")
    patch = three_way_strategic_patch(last, modified, current, "Deployment")
    assert patch["metadata"]["$deleteFromPrimitiveList/finalizers"] == ["b"]
    assert patch["metadata"]["finalizers"] == ["c"]
    assert patch["spec"]["strategy"]["$retainKeys"] == ["type"]
    out = strategic_merge_patch(current, patch, "Deployment")
    assert sorted(out["metadata"]["finalizers"]) == ["a", "c", "server/x"]
    assert out["spec"]["strategy"] == {"type": "Recreate"}


def test_two_way_strategic_patch() -> None:
    modified = manifest()
    modified["spec"]["containers"][1]["image"] = "busybox:2"
    patch = create_strategic_patch(manifest(), modified, "Pod")
    assert patch == {"spec": {"$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
                              "containers": [{"name": "sidecar", "image": "busybox:2"}]}}
    assert strategic_merge_patch(manifest(), patch, "Pod") == modified


# --- properties ------------------------------------------------------------------------------

SCALARS = st.one_of(st.booleans(), st.integers(-5, 5), st.sampled_from(["", "x", "y"]))
KEYS = st.sampled_from(["a", "b", "c", "d"])
JSON_NO_NULL = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
DOCS = st.dictionaries(KEYS, JSON_NO_NULL, max_size=4)


@given(DOCS, DOCS)
def test_merge_patch_diff_round_trips(a: dict[str, Any], b: dict[str, Any]) -> None:
    before = copy.deepcopy(a)
    assert json_merge_patch(a, create_merge_patch(a, b)) == b
    assert a == before


LABEL_MAPS = st.dictionaries(st.sampled_from(["app", "tier", "env", "team"]), st.sampled_from(["1", "2"]),
                             max_size=4)
CONTAINER_SETS = st.lists(
    st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "c", "d"]), "image": st.sampled_from(["i1", "i2"])}),
    max_size=4, unique_by=lambda c: c["name"])


@given(LABEL_MAPS, LABEL_MAPS, LABEL_MAPS, CONTAINER_SETS, CONTAINER_SETS)
def test_three_way_apply_converges(last_labels: dict[str, str], new_labels: dict[str, str],
                                   server_labels: dict[str, str], last_ctrs: list[dict[str, str]],
                                   new_ctrs: list[dict[str, str]]) -> None:
    last = {"metadata": {"name": "p", "labels": last_labels}, "spec": {"containers": last_ctrs}}
    modified = {"metadata": {"name": "p", "labels": new_labels}, "spec": {"containers": new_ctrs}}
    # The live object: what was last applied, plus labels someone else added, plus server fields.
    current = copy.deepcopy(last)
    current["metadata"]["labels"] = {**server_labels, **last_labels}
    current["metadata"]["uid"] = "u-1"
    current["status"] = {"phase": "Running"}
    patch = three_way_strategic_patch(last, modified, current, "Pod")
    out = strategic_merge_patch(current, patch, "Pod")
    labels = out["metadata"].get("labels", {})
    for key, value in new_labels.items():
        assert labels[key] == value
    for key in last_labels:
        if key not in new_labels:
            assert key not in labels
    for key, value in server_labels.items():
        if key not in last_labels and key not in new_labels:
            assert labels[key] == value
    assert out["spec"].get("containers", []) == new_ctrs
    assert out["metadata"]["uid"] == "u-1" and out["status"] == {"phase": "Running"}
