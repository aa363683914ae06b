"""The API server's verbs in-process: metadata, status, generation, finalizers, namespaces, watch, paging."""

from __future__ import annotations

import pytest

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.apiserver.apiserver import APIServer
from minik8s.clock import VirtualClock

PODS = resources.lookup("pods")
DEPLOYMENTS = resources.lookup("deployments")
NAMESPACES = resources.lookup("namespaces")
CONFIGMAPS = resources.lookup("configmaps")


def pod(name: str = "nginx", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": "nginx"}},
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}


def deployment(name: str = "web", image: str = "nginx:1.27") -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


@pytest.fixture
def api() -> APIServer:
    return APIServer(clock=VirtualClock())


def test_system_namespaces_exist_at_start(api):
    names = [ns["metadata"]["name"] for ns in api.list(NAMESPACES, None)["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]


def test_create_sets_server_metadata_defaults_and_pending_status(api):
    created = api.create(PODS, "default", pod())
    meta = created["metadata"]
    assert meta["namespace"] == "default" and meta["uid"] and meta["creationTimestamp"] == "2025-01-01T00:00:00Z"
    assert created["status"] == {"phase": "Pending", "qosClass": "BestEffort"}
    assert created["spec"]["restartPolicy"] == "Always"
    assert created["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"


def test_client_supplied_status_and_uid_are_ignored_on_create(api):
    body = pod()
    body["status"] = {"phase": "Running"}
    body["metadata"]["uid"] = "mine"
    created = api.create(PODS, "default", body)
    assert created["status"]["phase"] == "Pending" and created["metadata"]["uid"] != "mine"


def test_generation_bumps_on_spec_change_only(api):
    created = api.create(DEPLOYMENTS, "default", deployment())
    assert created["metadata"]["generation"] == 1
    relabeled = api.patch(DEPLOYMENTS, "default", "web", "merge", {"metadata": {"labels": {"x": "y"}}})
    assert relabeled["metadata"]["generation"] == 1
    changed = api.patch(DEPLOYMENTS, "default", "web", "strategic",
                        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.28"}]}}}})
    assert changed["metadata"]["generation"] == 2
    assert changed["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.28"


def test_status_only_through_the_status_subresource(api):
    created = api.create(DEPLOYMENTS, "default", deployment())
    created["status"] = {"replicas": 5}
    updated = api.update(DEPLOYMENTS, "default", "web", created)
    assert updated["status"] == {}  # the main resource ignores status
    fresh = api.get(DEPLOYMENTS, "default", "web")
    fresh["status"] = {"replicas": 5}
    fresh["spec"]["replicas"] = 9
    written = api.update(DEPLOYMENTS, "default", "web", fresh, subresource="status")
    assert written["status"] == {"replicas": 5} and written["spec"]["replicas"] == 2  # /status ignores spec


def test_no_op_update_keeps_resource_version(api):
    created = api.create(PODS, "default", pod())
    again = api.update(PODS, "default", "nginx", created)
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_stale_resource_version_conflicts(api):
    created = api.create(PODS, "default", pod())
    api.patch(PODS, "default", "nginx", "merge", {"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(StatusError) as err:
        api.update(PODS, "default", "nginx", created)
    assert err.value.code == 409 and err.value.reason == "Conflict"
    assert err.value.message == ('Operation cannot be fulfilled on pods "nginx": the object has been modified; '
                                 'please apply your changes to the latest version and try again')


def test_invalid_object_is_not_stored(api):
    bad = pod("Bad_Name")
    with pytest.raises(StatusError) as err:
        api.create(PODS, "default", bad)
    assert err.value.code == 422
    assert err.value.details["causes"][0]["field"] == "metadata.name"
    assert api.list(PODS, "default")["items"] == []


def test_missing_namespace_is_refused(api):
    with pytest.raises(StatusError) as err:
        api.create(PODS, "nope", pod())
    assert (err.value.code, err.value.message) == (404, 'namespaces "nope" not found')


def test_finalizers_hold_deletion_until_removed(api):
    body = pod()
    body["metadata"]["finalizers"] = ["example.com/hold"]
    api.create(PODS, "default", body)
    marked = api.delete(PODS, "default", "nginx")
    assert marked["metadata"]["deletionTimestamp"]
    assert api.get(PODS, "default", "nginx")["metadata"]["finalizers"] == ["example.com/hold"]
    api.patch(PODS, "default", "nginx", "merge", {"metadata": {"finalizers": None}})
    with pytest.raises(StatusError) as err:
        api.get(PODS, "default", "nginx")
    assert err.value.code == 404


def test_scheduled_pods_are_deleted_gracefully(api):
    api.create(PODS, "default", pod())
    api.create(PODS, "default", {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "nginx"},
                                 "target": {"kind": "Node", "name": "node-1"}}, subresource="binding")
    bound = api.get(PODS, "default", "nginx")
    assert bound["spec"]["nodeName"] == "node-1"
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in bound["status"]["conditions"])
    marked = api.delete(PODS, "default", "nginx")
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    api.delete(PODS, "default", "nginx", grace_period_seconds=0)
    assert api.list(PODS, "default")["items"] == []


def test_binding_an_assigned_pod_conflicts(api):
    api.create(PODS, "default", pod())
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "nginx"},
               "target": {"kind": "Node", "name": "node-1"}}
    api.create(PODS, "default", binding, subresource="binding")
    with pytest.raises(StatusError) as err:
        api.create(PODS, "default", binding, subresource="binding")
    assert err.value.code == 409 and 'already assigned to node "node-1"' in err.value.message


def test_deleting_a_namespace_marks_it_terminating_and_refuses_new_content(api):
    api.create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}})
    terminating = api.delete(NAMESPACES, None, "dev")
    assert terminating["status"]["phase"] == "Terminating"
    with pytest.raises(StatusError) as err:
        api.create(PODS, "dev", pod())
    assert err.value.code == 403
    assert "unable to create new content in namespace dev because it is being terminated" in err.value.message


def test_watch_with_selector_reports_objects_entering_and_leaving_it(api):
    events = []
    api.watch(PODS, "default", events.append, label_selector="tier=web")
    api.create(PODS, "default", pod("a", tier="db"))
    api.patch(PODS, "default", "a", "merge", {"metadata": {"labels": {"tier": "web"}}})
    api.patch(PODS, "default", "a", "merge", {"metadata": {"labels": {"x": "1"}}})
    api.patch(PODS, "default", "a", "merge", {"metadata": {"labels": {"tier": "db"}}})
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]


def test_watch_from_a_compacted_revision_is_gone(api):
    api.create(PODS, "default", pod("a"))
    api.store.compact(api.store.revision)
    with pytest.raises(StatusError) as err:
        api.watch(PODS, "default", lambda e: None, resource_version="1")
    assert err.value.code == 410


def test_paging_with_limit_and_continue(api):
    for i in range(5):
        api.create(CONFIGMAPS, "default", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}})
    first = api.list(CONFIGMAPS, "default", limit=2)
    assert [c["metadata"]["name"] for c in first["items"]] == ["c0", "c1"]
    assert first["metadata"]["remainingItemCount"] == 3
    second = api.list(CONFIGMAPS, "default", limit=2, continue_=first["metadata"]["continue"])
    third = api.list(CONFIGMAPS, "default", limit=2, continue_=second["metadata"]["continue"])
    assert [c["metadata"]["name"] for c in second["items"] + third["items"]] == ["c2", "c3", "c4"]
    assert "continue" not in third["metadata"]
    with pytest.raises(StatusError) as err:
        api.list(CONFIGMAPS, "default", continue_="garbage!")
    assert err.value.code == 400


def test_generate_name_is_deterministic_under_a_seed():
    import random

    names = []
    for _ in range(2):
        api = APIServer(clock=VirtualClock(), rng=random.Random(3))
        body = pod()
        del body["metadata"]["name"]
        body["metadata"]["generateName"] = "web-"
        names.append(api.create(PODS, "default", body)["metadata"]["name"])
    assert names[0] == names[1] and names[0].startswith("web-") and len(names[0]) == 9


def test_scale_subresource(api):
    api.create(DEPLOYMENTS, "default", deployment())
    scale = api.get(DEPLOYMENTS, "default", "web", subresource="scale")
    assert scale["spec"] == {"replicas": 2} and scale["status"]["selector"] == "app=web"
    api.patch(DEPLOYMENTS, "default", "web", "merge", {"spec": {"replicas": 4}}, subresource="scale")
    assert api.get(DEPLOYMENTS, "default", "web")["spec"]["replicas"] == 4
    with pytest.raises(StatusError) as err:
        api.patch(DEPLOYMENTS, "default", "web", "merge", {"spec": {"replicas": -1}}, subresource="scale")
    assert err.value.code == 422


# --- field validation (the HTTP layer's ?fieldValidation=, in-process) ------------------------------


def test_field_validation_strict_warn_and_ignore(api):
    body = pod("a")
    body["spec"]["foo"] = 1
    with pytest.raises(StatusError) as err:
        api.create(PODS, "default", body, field_validation="Strict")
    assert err.value.code == 400
    assert err.value.message == ('Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
                                 'unknown field "spec.foo"')
    warnings: list[str] = []
    created = api.create(PODS, "default", body, warnings=warnings)  # upstream's default is Warn
    assert warnings == ['unknown field "spec.foo"']
    assert "foo" not in created["spec"] and "foo" in body["spec"]  # dropped from the copy, not the caller's dict
    body["metadata"]["name"] = "b"
    warnings = []
    assert "foo" not in api.create(PODS, "default", body, field_validation="Ignore", warnings=warnings)["spec"]
    assert warnings == []


def test_duplicate_fields_found_by_the_parser_follow_field_validation(api):
    duplicate = ['duplicate field "metadata.name"']
    with pytest.raises(StatusError) as err:
        api.create(PODS, "default", pod("a"), field_validation="Strict", strict_errors=duplicate)
    assert err.value.message.endswith('strict decoding error: duplicate field "metadata.name"')
    warnings: list[str] = []
    api.create(PODS, "default", pod("a"), strict_errors=duplicate, warnings=warnings)
    assert warnings == duplicate


def test_a_type_error_is_400_whatever_the_field_validation(api):
    body = pod("a")
    body["spec"]["containers"] = "nginx"
    for validation in ("Strict", "Warn", "Ignore"):
        with pytest.raises(StatusError) as err:
            api.create(PODS, "default", body, field_validation=validation)
        assert err.value.code == 400 and "cannot unmarshal string" in err.value.message


def test_list_at_an_exact_revision(api):
    first = api.create(PODS, "default", pod("a"))["metadata"]["resourceVersion"]
    api.create(PODS, "default", pod("b"))
    api.delete(PODS, "default", "a")
    then = api.list(PODS, "default", resource_version=first, resource_version_match="Exact")
    assert [p["metadata"]["name"] for p in then["items"]] == ["a"]
    assert then["metadata"]["resourceVersion"] == first
    assert [p["metadata"]["name"] for p in api.list(PODS, "default", resource_version=first)["items"]] == ["b"]
    with pytest.raises(StatusError) as err:
        api.list(PODS, "default", resource_version="abc")
    assert err.value.code == 400
