"""Server-side apply, managedFields, kubectl diff and server dry-run.

Unit tests drive :mod:`minik8s.apiserver.fieldmanager` (and the structured merge under it)
with upstream's expected field sets; the rest drive a real server with the real kubectl.
"""

from __future__ import annotations

import copy
import json
import types

import pytest
import yaml

from minik8s.api import resources, structuredmerge as sm
from minik8s.api.errors import StatusError
from minik8s.apiserver import fieldmanager as fm
from minik8s.apiserver.apiserver import APIServer

from conftest import needs_kubectl, start_server

DEPLOYMENTS = resources.get("apps", "v1", "deployments")
CONFIGMAPS = resources.get("", "v1", "configmaps")

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                                   "ports": [{"containerPort": 80}], "resources": {}}]}}},
}


def fields_of(obj, manager, operation="Apply"):
    entries = [e for e in obj["metadata"].get("managedFields", [])
               if e["manager"] == manager and e["operation"] == operation]
    assert len(entries) <= 1
    return entries[0]["fieldsV1"] if entries else None


def deployment(**spec):
    obj = copy.deepcopy(DEPLOYMENT)
    obj["spec"].update(spec)
    return obj


# --- field sets and their wire form -------------------------------------------------------------

def test_update_owns_what_it_added_with_dots_for_new_nodes_as_upstream():
    obj = copy.deepcopy(DEPLOYMENT)
    fm.record_update(DEPLOYMENTS, None, obj, "kubectl-create", 0)
    [entry] = obj["metadata"]["managedFields"]
    assert {k: entry[k] for k in ("manager", "operation", "apiVersion", "time", "fieldsType")} == {
        "manager": "kubectl-create", "operation": "Update", "apiVersion": "apps/v1",
        "time": "1970-01-01T00:00:00Z", "fieldsType": "FieldsV1"}
    fields = entry["fieldsV1"]
    # A map or pointer struct that the create added is a member itself ("."); value structs are not.
    assert fields["f:metadata"] == {"f:labels": {".": {}, "f:app": {}}}
    assert fields["f:spec"]["f:strategy"] == {"f:rollingUpdate": {".": {}, "f:maxSurge": {}}, "f:type": {}}
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"nginx"}']
    assert container["."] == {} and container["f:resources"] == {}
    # A list-map item is keyed by all its keys; a defaulted key (protocol) by its default.
    assert 'k:{"containerPort":80,"protocol":"TCP"}' in container["f:ports"]
    assert "f:apiVersion" not in fields and "f:name" not in fields["f:metadata"]


def test_apply_owns_exactly_its_configuration():
    obj = fm.apply(DEPLOYMENTS, None, copy.deepcopy(DEPLOYMENT), "kubectl", 5)
    fields = fields_of(obj, "kubectl")
    assert fields["f:metadata"] == {"f:labels": {"f:app": {}}}      # no "." on an applied map
    assert fields["f:spec"]["f:selector"] == {}                     # LabelSelector is an atomic map
    assert obj["metadata"]["managedFields"][0]["time"] == "1970-01-01T00:00:05Z"


def test_fields_v1_round_trip_and_path_strings():
    paths = {("f:spec", "f:replicas"), ("f:metadata", "f:labels"), ("f:metadata", "f:labels", "f:app"),
             ("f:metadata", "f:finalizers", 'v:"x"'), ("f:spec", "f:c", 'k:{"name":"a"}', "f:image")}
    wire = sm.to_fields_v1(paths)
    assert wire["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
    assert sm.from_fields_v1(wire) == frozenset(paths)
    assert sm.path_string(("f:spec", "f:c", 'k:{"name":"a"}', "f:image")) == '.spec.c[name="a"].image'
    assert sm.path_string(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'
    with pytest.raises(ValueError):
        sm.from_fields_v1({"x:bad": {}})


def test_sets_atomic_lists_and_granular_maps_follow_the_schema():
    pod_types, pod_schema = fm.schema_for(resources.get("", "v1", "pods"))
    pod = {"metadata": {"finalizers": ["a", "b"]},
           "spec": {"containers": [{"name": "c", "args": ["x", "y"]}]}}
    found = sm.field_set(pod_types, pod_schema, pod)
    assert ("f:metadata", "f:finalizers", 'v:"a"') in found                          # a set
    assert ("f:spec", "f:containers", 'k:{"name":"c"}', "f:args") in found          # an atomic list
    assert not any(len(p) > 4 and p[3] == "f:args" for p in found)


def test_a_kind_without_schema_merges_maps_and_replaces_lists():
    widget = types.SimpleNamespace(group="example.com", version="v1", kind="Widget", api_version="example.com/v1",
                                   subresources=(), schema=None)
    live = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
            "spec": {"a": {"x": 1}, "items": [1, 2]}}
    config = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
              "spec": {"a": {"y": 2}, "items": [3]}}
    merged = fm.apply(widget, live, config, "m", 0, force=True)   # items: taken from before-first-apply
    assert merged["spec"] == {"a": {"x": 1, "y": 2}, "items": [3]}
    # Untyped map entries are members themselves, as upstream deduces them.
    assert fields_of(merged, "m") == {"f:spec": {".": {}, "f:a": {".": {}, "f:y": {}}, "f:items": {}}}


# --- conflicts, force, shared ownership, removal ----------------------------------------------

def test_changing_a_field_another_manager_owns_is_a_conflict():
    live = copy.deepcopy(DEPLOYMENT)
    fm.record_update(DEPLOYMENTS, None, live, "kubectl-client-side-apply", 0)
    with pytest.raises(StatusError) as err:
        fm.apply(DEPLOYMENTS, live, deployment(replicas=3), "kubectl", 1)
    assert err.value.status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
                   ".spec.replicas",
        "reason": "Conflict",
        "details": {"causes": [{"reason": "FieldManagerConflict",
                                "message": 'conflict with "kubectl-client-side-apply" using apps/v1',
                                "field": ".spec.replicas"}]},
        "code": 409}
    config = deployment(replicas=3)
    config["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    with pytest.raises(StatusError) as err:
        fm.apply(DEPLOYMENTS, live, config, "kubectl", 1)
    assert err.value.message == (
        'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n'
        "- .spec.replicas\n"
        '- .spec.template.spec.containers[name="nginx"].image')


def test_force_takes_the_field_and_equal_values_are_shared():
    live = copy.deepcopy(DEPLOYMENT)
    fm.record_update(DEPLOYMENTS, None, live, "other", 0)
    merged = fm.apply(DEPLOYMENTS, live, deployment(replicas=3), "kubectl", 1, force=True)
    assert merged["spec"]["replicas"] == 3
    assert "f:replicas" not in fields_of(merged, "other", "Update")["f:spec"]
    # Fields applied with the value they already had are owned by both.
    assert "f:selector" in fields_of(merged, "other", "Update")["f:spec"]
    assert "f:selector" in fields_of(merged, "kubectl")["f:spec"]


def test_a_field_dropped_from_the_configuration_goes_unless_someone_else_owns_it():
    config = copy.deepcopy(DEPLOYMENT)
    config["metadata"]["labels"]["tier"] = "front"
    first = fm.apply(DEPLOYMENTS, None, config, "kubectl", 0)
    second = fm.apply(DEPLOYMENTS, first, copy.deepcopy(DEPLOYMENT), "kubectl", 1)
    assert second["metadata"]["labels"] == {"app": "web"}
    # The same, but a second manager applied the label too: it stays, now only theirs.
    shared = fm.apply(DEPLOYMENTS, first, {"apiVersion": "apps/v1", "kind": "Deployment",
                                           "metadata": {"name": "web", "labels": {"tier": "front"}}}, "team", 2)
    kept = fm.apply(DEPLOYMENTS, shared, copy.deepcopy(DEPLOYMENT), "kubectl", 3)
    assert kept["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert fields_of(kept, "team") == {"f:metadata": {"f:labels": {"f:tier": {}}}}


def test_an_object_without_managed_fields_belongs_to_before_first_apply():
    with pytest.raises(StatusError) as err:
        fm.apply(DEPLOYMENTS, copy.deepcopy(DEPLOYMENT), deployment(replicas=9), "kubectl", 1)
    assert err.value.message == ('Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: '
                                 ".spec.replicas")


def test_sets_and_list_maps_merge_item_by_item_and_each_manager_keeps_its_own():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a/one"]}}
    first = fm.apply(CONFIGMAPS, None, cm, "one", 0)
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["b/two"]}}
    both = fm.apply(CONFIGMAPS, first, other, "two", 1)
    assert both["metadata"]["finalizers"] == ["a/one", "b/two"]        # a set: a union, live order first
    assert fields_of(both, "two") == {"f:metadata": {"f:finalizers": {'v:"b/two"': {}}}}
    cm["metadata"]["finalizers"] = []
    assert fm.apply(CONFIGMAPS, both, cm, "one", 2)["metadata"]["finalizers"] == ["b/two"]


def test_an_item_someone_else_still_owns_part_of_keeps_its_key():
    first = fm.apply(DEPLOYMENTS, None, copy.deepcopy(DEPLOYMENT), "kubectl", 0)
    sidecar = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"template": {"spec": {"containers": [{"name": "nginx", "stdin": True}]}}}}
    shared = fm.apply(DEPLOYMENTS, first, sidecar, "debugger", 1)
    config = copy.deepcopy(DEPLOYMENT)
    config["spec"]["template"]["spec"]["containers"] = [{"name": "app", "image": "app:1"}]
    after = fm.apply(DEPLOYMENTS, shared, config, "kubectl", 2)
    # kubectl's image and ports go; the debugger's stdin keeps the item, and the item keeps its name.
    assert after["spec"]["template"]["spec"]["containers"] == [{"name": "nginx", "stdin": True},
                                                               {"name": "app", "image": "app:1"}]


def test_a_no_op_apply_keeps_managed_fields_and_their_times():
    first = fm.apply(DEPLOYMENTS, None, copy.deepcopy(DEPLOYMENT), "kubectl", 0)
    again = fm.apply(DEPLOYMENTS, first, copy.deepcopy(DEPLOYMENT), "kubectl", 100)
    assert again["metadata"]["managedFields"] == first["metadata"]["managedFields"]


def test_patch_options_are_checked_as_upstream():
    with pytest.raises(StatusError) as err:
        fm.check_patch_options("apply", "", None)
    assert err.value.code == 422 and err.value.message == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
    with pytest.raises(StatusError) as err:
        fm.check_patch_options("merge", "x", True)
    assert "force: Forbidden: may not be specified for non-apply patch" in err.value.message
    with pytest.raises(StatusError) as err:
        fm.check_apply_identity(DEPLOYMENTS, {"kind": "Deployment"})
    assert err.value.code == 400 and "Incorrect version specified in apply patch" in err.value.message
    assert fm.manager_from_user_agent("kubectl/v1.32.0 (linux/amd64) kubernetes/abc") == "kubectl"


# --- the API server ---------------------------------------------------------------------------

def test_every_write_is_recorded_and_a_no_op_write_stays_a_no_op():
    api = APIServer()
    created = api.create(CONFIGMAPS, "default", {"metadata": {"name": "c"}, "data": {"a": "1"}},
                         field_manager="kubectl-create")
    assert fields_of(created, "kubectl-create", "Update") == {"f:data": {".": {}, "f:a": {}}}
    patched = api.patch(CONFIGMAPS, "default", "c", "merge", {"data": {"b": "2"}}, field_manager="kubectl-patch")
    assert fields_of(patched, "kubectl-patch", "Update") == {"f:data": {"f:b": {}}}
    same = api.patch(CONFIGMAPS, "default", "c", "merge", {"data": {"b": "2"}}, field_manager="kubectl-patch")
    assert same["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]
    # An Update of a field someone else owns takes it (the last writer wins).
    taken = api.patch(CONFIGMAPS, "default", "c", "merge", {"data": {"a": "9"}}, field_manager="editor")
    assert fields_of(taken, "kubectl-create", "Update") == {"f:data": {}}   # still the map itself
    assert fields_of(taken, "editor", "Update") == {"f:data": {"f:a": {}}}


def test_apply_creates_then_merges_and_dry_run_stores_nothing():
    api = APIServer()
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    dry = api.patch(CONFIGMAPS, "default", "c", "apply", config, field_manager="m", dry_run=True)
    assert dry["data"] == {"a": "1"}
    with pytest.raises(StatusError):
        api.get(CONFIGMAPS, "default", "c")
    created = api.patch(CONFIGMAPS, "default", "c", "apply", config, field_manager="m")
    assert created["metadata"]["uid"] and fields_of(created, "m") == {"f:data": {"f:a": {}}}
    rv = created["metadata"]["resourceVersion"]
    for write in (lambda: api.patch(CONFIGMAPS, "default", "c", "merge", {"data": {"z": "1"}}, dry_run=True),
                  lambda: api.update(CONFIGMAPS, "default", "c", {**config, "data": {}}, dry_run=True),
                  lambda: api.delete(CONFIGMAPS, "default", "c", dry_run=True),
                  lambda: api.delete_collection(CONFIGMAPS, "default", dry_run=True)):
        write()
        assert api.get(CONFIGMAPS, "default", "c")["metadata"]["resourceVersion"] == rv


def test_a_configuration_that_fails_validation_changes_nothing():
    api = APIServer()
    bad = deployment()
    bad["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(StatusError) as err:
        api.patch(DEPLOYMENTS, "default", "web", "apply", bad, field_manager="m")
    assert err.value.code == 422 and "spec.template.metadata.labels" in err.value.message
    with pytest.raises(StatusError):
        api.get(DEPLOYMENTS, "default", "web")


def test_an_apply_that_creates_needs_the_right_to_create():
    from minik8s.apiserver.auth.authentication import User
    from minik8s.client.local import LocalClient

    api = APIServer()
    rbac = "rbac.authorization.k8s.io"
    api.create(resources.get(rbac, "v1", "roles"), "default", {
        "metadata": {"name": "patcher"}, "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                                                     "verbs": ["get", "patch"]}]})
    api.create(resources.get(rbac, "v1", "rolebindings"), "default", {
        "metadata": {"name": "patcher"}, "roleRef": {"apiGroup": rbac, "kind": "Role", "name": "patcher"},
        "subjects": [{"apiGroup": rbac, "kind": "User", "name": "pat"}]})
    pat = LocalClient(api).as_user(User("pat", groups=("system:authenticated",)))
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    with pytest.raises(StatusError) as err:
        pat.patch(CONFIGMAPS, "c", config, "default", patch_type="apply", field_manager="pat")
    assert err.value.code == 403 and 'cannot create resource "configmaps"' in err.value.message
    api.create(CONFIGMAPS, "default", {"metadata": {"name": "c"}})
    applied = pat.patch(CONFIGMAPS, "c", config, "default", patch_type="apply", field_manager="pat")
    assert applied["data"] == {"a": "1"}   # an existing object: patch is enough


def test_a_configuration_that_does_not_fit_the_schema_is_refused_as_upstream():
    api = APIServer()
    bad = deployment()
    bad["spec"]["replicaz"] = 3
    env = [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]
    bad["spec"]["template"]["spec"]["containers"][0]["env"] = env
    with pytest.raises(StatusError) as err:
        api.patch(DEPLOYMENTS, "default", "web", "apply", bad, field_manager="m")
    assert (err.value.code, err.value.reason) == (500, "")   # upstream's plain error
    assert err.value.message == (
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): errors:\n"
        '  .spec.template.spec.containers[name="nginx"].env: duplicate entries for key [name="A"]\n'
        "  .spec.replicaz: field not declared in schema")
    with pytest.raises(StatusError):
        api.get(DEPLOYMENTS, "default", "web")


# --- over HTTP, with the real kubectl -----------------------------------------------------------

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("ssa"), "--nodes", "0")
    yield srv
    if srv.process.poll() is None:
        srv.stop()


def manifest(name, replicas=2, labels=None):
    obj = deployment(replicas=replicas)
    obj["metadata"]["name"] = name
    obj["metadata"]["labels"] = {"app": "web", **(labels or {})}
    return yaml.safe_dump(obj)


def run(cluster, *args, stdin=None):
    return cluster.kubectl(*args, stdin=stdin)


def get(cluster, name, *extra):
    done = run(cluster, "get", "deployment", name, "-o", "json", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@needs_kubectl
def test_kubectl_apply_server_side_creates_and_records_the_manager(cluster):
    done = run(cluster, "apply", "--server-side", "-f", "-", stdin=manifest("ssa-create"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "deployment.apps/ssa-create serverside-applied"
    assert "managedFields" not in get(cluster, "ssa-create")["metadata"]     # kubectl hides them
    obj = get(cluster, "ssa-create", "--show-managed-fields")
    entry = obj["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"], entry["apiVersion"]) == ("kubectl", "Apply", "apps/v1")
    assert entry["fieldsV1"]["f:spec"]["f:replicas"] == {}


@needs_kubectl
def test_kubectl_conflict_with_client_side_apply_then_force_conflicts(cluster):
    assert run(cluster, "apply", "-f", "-", stdin=manifest("ssa-conflict")).returncode == 0
    done = run(cluster, "apply", "--server-side", "-f", "-", stdin=manifest("ssa-conflict", replicas=3))
    assert done.returncode == 1
    assert ('Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: '
            ".spec.replicas") in done.stderr
    assert get(cluster, "ssa-conflict")["spec"]["replicas"] == 2
    done = run(cluster, "apply", "--server-side", "--force-conflicts", "-f", "-",
               stdin=manifest("ssa-conflict", replicas=3))
    assert done.returncode == 0, done.stderr
    assert get(cluster, "ssa-conflict")["spec"]["replicas"] == 3


@needs_kubectl
def test_kubectl_field_dropped_from_applied_config_is_removed(cluster):
    stdin = manifest("ssa-prune", labels={"tier": "front"})
    assert run(cluster, "apply", "--server-side", "-f", "-", stdin=stdin).returncode == 0
    assert get(cluster, "ssa-prune")["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert run(cluster, "apply", "--server-side", "-f", "-", stdin=manifest("ssa-prune")).returncode == 0
    assert get(cluster, "ssa-prune")["metadata"]["labels"] == {"app": "web"}


def config_map(name, **data):
    return yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name,
                                                                                "annotations": {"team": "a"}},
                           "data": data})


@needs_kubectl
@pytest.mark.parametrize("real", [True, False], ids=["kubectl", "minik8s-kubectl"])
def test_kubectl_diff_shows_a_change_and_exits_1(cluster, real):
    name = f"ssa-diff-{real}".lower()   # a ConfigMap: no controller changes it while diff looks
    assert run(cluster, "apply", "--server-side", "-f", "-", stdin=config_map(name, a="1")).returncode == 0
    for mode in ((), ("--server-side",)):
        same = cluster.kubectl("diff", *mode, "-f", "-", stdin=config_map(name, a="1"), real=real)
        assert (same.returncode, same.stdout) == (0, ""), same.stderr
        changed = cluster.kubectl("diff", *mode, "-f", "-", stdin=config_map(name, a="2"), real=real)
        assert changed.returncode == 1, changed.stderr
        assert '-  a: "1"\n+  a: "2"\n' in changed.stdout
    assert json.loads(run(cluster, "get", "configmap", name, "-o", "json").stdout)["data"] == {"a": "1"}


@needs_kubectl
def test_kubectl_server_dry_run_stores_nothing(cluster):
    out = run(cluster, "apply", "--server-side", "--dry-run=server", "-f", "-", stdin=manifest("ssa-dry"))
    assert out.stdout.strip() == "deployment.apps/ssa-dry serverside-applied (server dry run)", out.stderr
    out = run(cluster, "create", "--dry-run=server", "-f", "-", stdin=manifest("ssa-dry"))
    assert out.stdout.strip() == "deployment.apps/ssa-dry created (server dry run)", out.stderr
    assert run(cluster, "get", "deployment", "ssa-dry").returncode == 1
    assert run(cluster, "apply", "--server-side", "-f", "-", stdin=manifest("ssa-dry")).returncode == 0
    uid = get(cluster, "ssa-dry")["metadata"]["uid"]
    for args in (("scale", "deployment", "ssa-dry", "--replicas=7"), ("delete", "deployment", "ssa-dry"),
                 ("label", "deployment", "ssa-dry", "x=y"), ("annotate", "deployment", "ssa-dry", "x=y")):
        done = run(cluster, *args, "--dry-run=server")
        assert done.returncode == 0 and "(server dry run)" in done.stdout, done.stderr
    # (The deployment controller may write its status meanwhile: compare what the dry runs would change.)
    after = get(cluster, "ssa-dry")
    assert after["metadata"]["uid"] == uid and "deletionTimestamp" not in after["metadata"]
    assert after["spec"]["replicas"] == 2 and after["metadata"]["labels"] == {"app": "web"}
    assert "x" not in after["metadata"].get("annotations", {})


def test_http_apply_needs_a_field_manager_and_dry_run_must_be_all(cluster):
    path = "/apis/apps/v1/namespaces/default/deployments/ssa-http"
    body = json.dumps(deployment()).encode()
    code, _, raw = cluster.request("PATCH", path, body, {"Content-Type": "application/apply-patch+yaml"})
    assert code == 422 and json.loads(raw)["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch')
    code, _, raw = cluster.request("PATCH", path + "?fieldManager=x&dryRun=Some", body,
                                   {"Content-Type": "application/apply-patch+yaml"})
    assert code == 422 and json.loads(raw)["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Some"}: '
        'supported values: "All"')
    # A create without fieldManager is recorded under the User-Agent's product name.
    cm = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ua"}, "data": {"a": "b"}}).encode()
    code, _, raw = cluster.request("POST", "/api/v1/namespaces/default/configmaps", cm,
                                   {"Content-Type": "application/json", "User-Agent": "my-tool/1.0 (linux)"})
    assert code == 201
    assert [e["manager"] for e in json.loads(raw)["metadata"]["managedFields"]] == ["my-tool"]
    # YAML bodies are accepted, and an apply answers with the merged object.
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ua}\ndata: {k: v}\n"
    code, _, raw = cluster.request("PATCH", "/api/v1/namespaces/default/configmaps/ua?fieldManager=y",
                                   text.encode(), {"Content-Type": "application/apply-patch+yaml"})
    assert code == 200 and json.loads(raw)["data"] == {"a": "b", "k": "v"}   # a stays: my-tool owns it
    # An apply that creates answers 201 Created, as upstream.
    code, _, raw = cluster.request("PATCH", "/api/v1/namespaces/default/configmaps/new?fieldManager=y",
                                   text.replace("name: ua", "name: new").encode(),
                                   {"Content-Type": "application/apply-patch+yaml"})
    assert code == 201 and json.loads(raw)["metadata"]["name"] == "new"


# --- minik8s's own kubectl ----------------------------------------------------------------------

def test_own_kubectl_apply_server_side_conflict_force_and_diff():
    from minik8s import Cluster

    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:   # settled between commands
        assert c.run_kubectl("apply --server-side -f -", manifest("own"))[1] == \
            "deployment.apps/own serverside-applied\n"
        assert c.run_kubectl("diff --server-side -f -", manifest("own")) == (0, "", "")
        code, out, _ = c.run_kubectl("diff -f -", manifest("own", replicas=4))   # client-side apply's patch
        assert code == 1 and "-  replicas: 2\n+  replicas: 4\n" in out
        assert out.startswith("diff -u -N LIVE/apps.v1.Deployment.default.own MERGED/apps.v1.Deployment.default.own")
        c.kubectl("scale deployment own --replicas=5")
        code, _, err = c.run_kubectl("apply --server-side -f -", manifest("own", replicas=3))
        assert code == 1 and err.startswith('error: Apply failed with 1 conflict: conflict with "minik8s" with '
                                            'subresource "scale" using apps/v1: .spec.replicas\n')
        out = c.kubectl("apply --server-side --force-conflicts --field-manager=ci -f -", manifest("own", replicas=3))
        assert out == "deployment.apps/own serverside-applied\n"
        owners = json.loads(c.kubectl("get deployment own -o json --show-managed-fields"))["metadata"]["managedFields"]
        assert ("ci", "Apply") in [(e["manager"], e["operation"]) for e in owners]
        assert c.run_kubectl("apply --server-side --dry-run=server --field-manager=ci -f -",
                             manifest("own", replicas=7))[0] == 0
        assert json.loads(c.kubectl("get deployment own -o json"))["spec"]["replicas"] == 3
        code, _, err = c.run_kubectl("apply --force-conflicts -f -", manifest("own"))
        assert code == 1 and "--force-conflicts only works with --server-side" in err


def test_official_client_applies_server_side_and_reads_managed_fields(cluster):
    kubernetes = pytest.importorskip("kubernetes")
    api = kubernetes.client.AppsV1Api(kubernetes.config.new_client_from_config(str(cluster.kubeconfig)))
    body = deployment()
    body["metadata"]["name"] = "ssa-client"
    applied = api.patch_namespaced_deployment("ssa-client", "default", body, field_manager="my-operator",
                                              _content_type="application/apply-patch+yaml")
    [entry] = [e for e in applied.metadata.managed_fields if e.operation == "Apply"]
    assert (entry.manager, entry.api_version, entry.fields_type) == ("my-operator", "apps/v1", "FieldsV1")
    assert "f:replicas" in entry.fields_v1["f:spec"]
    body["spec"]["replicas"] = 4
    with pytest.raises(kubernetes.client.ApiException) as err:
        api.patch_namespaced_deployment("ssa-client", "default", body, field_manager="someone-else",
                                        _content_type="application/apply-patch+yaml")
    assert err.value.status == 409
    forced = api.patch_namespaced_deployment("ssa-client", "default", body, field_manager="someone-else",
                                             force=True, _content_type="application/apply-patch+yaml")
    assert forced.spec.replicas == 4
