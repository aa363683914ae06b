"""Admission (minik8s.apiserver.admission): the default per-namespace object-count quota."""

from __future__ import annotations

import pytest

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.apiserver.admission import DEFAULT_OBJECT_COUNT_LIMIT, ObjectCountQuota
from minik8s.apiserver.admission.objectcount import quota_name
from minik8s.apiserver.apiserver import APIServer
from minik8s.clock import VirtualClock
from minik8s.store import Store

PODS = resources.lookup("pods")
DEPLOYMENTS = resources.lookup("deployments")
EVENTS = resources.lookup("events")
NAMESPACES = resources.lookup("namespaces")


def pod(name: str = "", generate_name: str = "") -> dict:
    meta = {"name": name} if name else {"generateName": generate_name}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def api_with_limit(limit: int | None) -> APIServer:
    api = APIServer(Store(), VirtualClock())
    api.object_counts.limit = limit
    api.create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    return api


def test_the_default_allows_the_hundred_thousand_objects_a_server_must_hold_in_ten_namespaces():
    assert DEFAULT_OBJECT_COUNT_LIMIT * 10 >= 100_000
    assert APIServer(Store(), VirtualClock()).object_counts.limit == DEFAULT_OBJECT_COUNT_LIMIT


def test_store_counts_objects_per_namespace_as_they_come_and_go():
    store = Store()
    store.create(("pods", "a", "p1"), {"metadata": {"name": "p1"}})
    store.create(("pods", "a", "p2"), {"metadata": {"name": "p2"}})
    store.create(("pods", "b", "p1"), {"metadata": {"name": "p1"}})
    store.update(("pods", "a", "p1"), {"metadata": {"name": "p1"}})  # an update adds nothing
    assert (store.count("pods", "a"), store.count("pods", "b"), store.count("pods")) == (2, 1, 3)
    store.delete(("pods", "a", "p1"))
    assert (store.count("pods", "a"), store.count("pods", "c"), store.count("pods")) == (1, 0, 2)


def test_a_create_past_the_limit_is_forbidden_with_resource_quota_wording():
    api = api_with_limit(2)
    api.create(PODS, "default", pod("a"))
    api.create(PODS, "default", pod("b"))
    with pytest.raises(StatusError) as exc:
        api.create(PODS, "default", pod("c"))
    err = exc.value
    assert (err.code, err.reason) == (403, "Forbidden")
    assert err.message == ('pods "c" is forbidden: exceeded quota: object-counts, requested: pods=1, '
                           'used: pods=2, limited: pods=2')
    assert err.details == {"kind": "pods", "name": "c"}
    assert api.store.count("pods", "default") == 2  # nothing half-written


def test_a_generated_name_is_not_known_yet_so_the_message_names_the_prefix():
    # Upstream's admission.NewForbidden: "name object name generation has not occurred yet".
    api = api_with_limit(1)
    api.create(PODS, "default", pod(generate_name="web-7d4b9c8d5-"))
    with pytest.raises(StatusError) as exc:
        api.create(PODS, "default", pod(generate_name="web-7d4b9c8d5-"))
    assert exc.value.message.startswith('pods "web-7d4b9c8d5-" is forbidden: exceeded quota: object-counts')


def test_the_limit_is_per_namespace_and_per_resource_and_freed_by_deletes():
    api = api_with_limit(1)
    api.create(PODS, "default", pod("a"))
    api.create(PODS, "other", pod("a"))  # another namespace: its own quota
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"selector": {"matchLabels": {"a": "b"}},
                           "template": {"metadata": {"labels": {"a": "b"}},
                                        "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    api.create(DEPLOYMENTS, "default", deployment)  # another resource: its own count
    with pytest.raises(StatusError) as exc:
        api.create(DEPLOYMENTS, "default", {**deployment, "metadata": {"name": "e"}})
    assert "requested: count/deployments.apps=1, used: count/deployments.apps=1" in exc.value.message
    api.delete(PODS, "default", "a", grace_period_seconds=0)
    api.create(PODS, "default", pod("b"))  # room again


def test_events_and_cluster_scoped_objects_are_not_counted():
    api = api_with_limit(1)
    for i in range(3):
        api.create(EVENTS, "default", {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"e{i}"},
                                       "involvedObject": {"kind": "Pod", "name": "x", "namespace": "default"},
                                       "reason": "R", "message": "m"})
        api.create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns{i}"}})
    assert api.store.count("events", "default") == 3


def test_no_limit_means_no_cap():
    api = api_with_limit(None)
    for i in range(5):
        api.create(PODS, "default", pod(f"p{i}"))
    assert api.store.count("pods", "default") == 5


def test_quota_names_follow_resource_quota():
    assert quota_name(PODS) == "pods"
    assert quota_name(DEPLOYMENTS) == "count/deployments.apps"
    assert quota_name(resources.lookup("configmaps")) == "count/configmaps"
    assert ObjectCountQuota(Store()).limit == DEFAULT_OBJECT_COUNT_LIMIT
