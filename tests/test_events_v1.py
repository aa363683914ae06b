"""events.k8s.io/v1 Events (minik8s/api/events.py): the core v1 Events in their newer shape.

Oracles: the official ``kubernetes`` client's ``EventsV1Api`` and ``CoreV1Api`` models, and the real
kubectl's output, against a served cluster (simulated runtime, no nodes).
"""

from __future__ import annotations

import json
import re
import threading

import pytest

from minik8s.api import events
from tests.conftest import needs_kubectl, start_server

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

NS = "default"
OLD_NS = "kube-system"


def new_event(name: str, reason: str = "Checked", **extra) -> dict:
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": name, "namespace": NS},
            "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "example.com/checker",
            "reportingInstance": "checker-1", "action": "Check", "reason": reason, "type": "Normal",
            "note": "all good", "regarding": {"apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": NS},
            **extra}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("eventsv1"), "--nodes", "0")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api(served):
    with kubernetes.config.new_client_from_config(str(served.kubeconfig)) as api_client:
        yield api_client


def test_conversion_round_trips_every_mapped_field():
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": NS},
            "involvedObject": {"kind": "Pod", "name": "web"}, "related": {"kind": "Node", "name": "n1"},
            "reason": "Pulled", "message": "pulled", "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:01:00Z", "count": 3,
            "type": "Normal", "eventTime": "2026-01-01T00:00:00.000000Z", "action": "Pull",
            "series": {"count": 2, "lastObservedTime": "2026-01-01T00:01:00.000000Z"},
            "reportingComponent": "kubelet", "reportingInstance": "n1"}
    new = events.to_events_v1(core)
    assert new["regarding"] == core["involvedObject"] and new["note"] == "pulled"
    assert new["reportingController"] == "kubelet" and new["deprecatedSource"] == core["source"]
    assert (new["deprecatedFirstTimestamp"], new["deprecatedLastTimestamp"], new["deprecatedCount"]) == (
        core["firstTimestamp"], core["lastTimestamp"], 3)
    assert events.to_core(new) == core


def test_create_read_and_list_through_events_v1(api):
    ev1 = client.EventsV1Api(api)
    created = ev1.create_namespaced_event(NS, new_event("web.a"))
    assert isinstance(created, client.EventsV1Event)
    assert (created.reporting_controller, created.note, created.regarding.name) == ("example.com/checker",
                                                                                    "all good", "web")
    read = ev1.read_namespaced_event("web.a", NS)
    assert read.metadata.uid == created.metadata.uid and read.action == "Check"
    assert "web.a" in {e.metadata.name for e in ev1.list_namespaced_event(NS).items}
    assert "web.a" in {e.metadata.name for e in ev1.list_event_for_all_namespaces().items}  # (before any old-style Event)


def test_one_object_two_representations(api):
    core, ev1 = client.CoreV1Api(api), client.EventsV1Api(api)
    # written as events.k8s.io/v1, read as core v1
    ev1.create_namespaced_event(NS, new_event("web.b", "NewStyle"))
    as_core = core.read_namespaced_event("web.b", NS)
    assert (as_core.reason, as_core.message, as_core.reporting_component) == ("NewStyle", "all good",
                                                                              "example.com/checker")
    assert as_core.involved_object.name == "web"
    # written as core v1, read as events.k8s.io/v1
    core.create_namespaced_event(NS, {
        "metadata": {"name": "web.c", "namespace": NS}, "involvedObject": {"kind": "Pod", "name": "web", "namespace": NS},
        "reason": "OldStyle", "message": "from core", "type": "Warning", "count": 4,
        "source": {"component": "kubelet", "host": "node-1"}, "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingComponent": "kubelet", "reportingInstance": "node-1", "action": "Pull",
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:05:00Z"})
    as_new = ev1.read_namespaced_event("web.c", NS)
    assert (as_new.reason, as_new.note, as_new.type, as_new.deprecated_count) == ("OldStyle", "from core",
                                                                                  "Warning", 4)
    assert (as_new.deprecated_source.component, as_new.regarding.name) == ("kubelet", "web")
    assert as_new.reporting_controller == "kubelet"
    # an update through events.k8s.io/v1 is seen through core v1
    ev1.patch_namespaced_event("web.b", NS, {"series": {"count": 2, "lastObservedTime": "2026-01-01T00:02:00.000000Z"}})
    assert core.read_namespaced_event("web.b", NS).series.count == 2


def test_old_style_event_has_a_null_event_time(served, api):
    """An Event of the old recorder (no eventTime; the kubelet's) reads back with ``"eventTime": null``, as
    upstream's. The official client's EventsV1Event model refuses a null eventTime, against upstream as
    here (kubernetes-client/python#1616), so this reads the raw JSON, in a namespace of its own."""
    client.CoreV1Api(api).create_namespaced_event(OLD_NS, {
        "metadata": {"name": "web.old", "namespace": OLD_NS}, "involvedObject": {"kind": "Pod", "name": "web"},
        "reason": "Old", "message": "no eventTime", "count": 1, "firstTimestamp": "2026-01-01T00:00:00Z"})
    code, _, body = served.request("GET", f"/apis/events.k8s.io/v1/namespaces/{OLD_NS}/events/web.old")
    assert code == 200
    got = json.loads(body)
    assert got["eventTime"] is None and got["deprecatedCount"] == 1 and got["note"] == "no eventTime"
    assert got["deprecatedFirstTimestamp"].startswith("2026-01-01T00:00:00")
    with pytest.raises(ValueError, match="eventTime"):   # pydantic's ValidationError
        client.EventsV1Api(api).list_namespaced_event(OLD_NS)


def test_watch_through_events_v1(api):
    ev1 = client.EventsV1Api(api)
    rv = ev1.list_namespaced_event(NS).metadata.resource_version
    seen: list[tuple[str, str, str]] = []
    w = watch.Watch()

    def follow() -> None:
        for item in w.stream(ev1.list_namespaced_event, NS, resource_version=rv, timeout_seconds=10,
                             field_selector="regarding.name=web"):
            seen.append((item["type"], item["object"].metadata.name, item["object"].note))
            if len(seen) == 2:
                w.stop()

    thread = threading.Thread(target=follow)
    thread.start()
    ev1.create_namespaced_event(NS, new_event("elsewhere.d", "Unwatched", regarding={"kind": "Pod", "name": "db",
                                                                                     "namespace": NS}))
    ev1.create_namespaced_event(NS, new_event("web.d", "Watched"))
    client.CoreV1Api(api).patch_namespaced_event("web.d", NS, {"message": "changed through core"})
    thread.join(15)
    assert seen == [("ADDED", "web.d", "all good"), ("MODIFIED", "web.d", "changed through core")]


def test_validation_as_upstream(served, api):
    ev1 = client.EventsV1Api(api)
    # (sent raw: the client's own model refuses an Event without eventTime before sending it)
    bad = new_event("web.bad", deprecatedCount=2, series={"count": 1})
    for field in ("eventTime", "reportingController", "reportingInstance", "action"):
        del bad[field]
    code, _, body = served.request("POST", f"/apis/events.k8s.io/v1/namespaces/{NS}/events",
                                   json.dumps(bad).encode(), {"Content-Type": "application/json"})
    assert code == 422
    status = json.loads(body)
    causes = [(c["field"], c["message"]) for c in status["details"]["causes"]]
    assert causes == [("series.count", 'Invalid value: "": should be at least 2'),
                      ("series.lastObservedTime", "Required value"), ("eventTime", "Required value"),
                      ("deprecatedCount", 'Invalid value: "": needs to be unset')]
    # with an eventTime, a new-style Event must name who reported it and what it did
    bad = new_event("web.bad")
    for field in ("reportingController", "reportingInstance", "action"):
        del bad[field]
    with pytest.raises(ApiException) as err:
        ev1.create_namespaced_event(NS, bad)
    causes = [(c["field"], c["message"]) for c in json.loads(err.value.body)["details"]["causes"]]
    # (upstream also checks the empty reportingController as a qualified name: two more causes)
    assert [f for f, _ in causes] == ["reportingController"] * 3 + ["reportingInstance", "action"]
    assert causes[0] == ("reportingController", "Required value")
    assert causes[1] == ("reportingController", 'Invalid value: "": name part must be non-empty')
    assert causes[3:] == [("reportingInstance", "Required value"), ("action", "Required value")]
    # what happened is immutable
    ev1.create_namespaced_event(NS, new_event("web.e"))
    with pytest.raises(ApiException) as err:
        ev1.patch_namespaced_event("web.e", NS, {"note": "rewritten"})
    assert err.value.status == 422 and "message: Invalid value" in json.loads(err.value.body)["message"]


def test_discovery(served):
    code, _, body = served.request("GET", "/apis/events.k8s.io/v1")
    assert code == 200
    found = {r["name"]: r for r in json.loads(body)["resources"]}
    assert found["events"]["kind"] == "Event" and found["events"]["namespaced"] is True
    code, _, body = served.request("GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
    groups = {g["metadata"]["name"]: g for g in json.loads(body)["items"]}
    assert [v["version"] for v in groups["events.k8s.io"]["versions"]] == ["v1"]


@needs_kubectl
def test_kubectl_get_events_v1(server):
    created = server.kubectl("create", "-f", "-", stdin=json.dumps(new_event("web.k", "Tabled")))
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "event.events.k8s.io/web.k created"
    got = server.kubectl("get", "events.v1.events.k8s.io", "-n", NS)
    assert got.returncode == 0, got.stderr
    header, *rows = got.stdout.splitlines()
    assert header.split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert re.match(r"^\S+\s+Normal\s+Tabled\s+pod/web\s+all good$", rows[0]), rows


def test_field_selectors_in_events_v1_names(served, api):
    """events.k8s.io/v1 selects on its own names (regarding.name, reportingController), mapped to the stored
    Events' fields as upstream's field-label conversion does; the core names are refused there."""
    ev1 = client.EventsV1Api(api)
    ev1.create_namespaced_event(NS, new_event("other.a", "Selected", regarding={"kind": "Pod", "name": "other",
                                                                                 "namespace": NS}))
    found = ev1.list_namespaced_event(NS, field_selector="regarding.name=other,reportingController=example.com/checker")
    assert [e.metadata.name for e in found.items] == ["other.a"]
    with pytest.raises(ApiException) as err:
        ev1.list_namespaced_event(NS, field_selector="involvedObject.name=other")
    assert err.value.status == 400 and "field label not supported: involvedObject.name" in err.value.body
    # the core API keeps its own names for the same objects
    core = client.CoreV1Api(api).list_namespaced_event(NS, field_selector="involvedObject.name=other")
    assert [e.metadata.name for e in core.items] == ["other.a"]


@needs_kubectl
def test_kubectl_apply_client_and_server_side(served):
    """Client-side then server-side apply of one events.k8s.io/v1 Event: same values, so no conflict
    (the live object is merged in the shape the configuration is written in)."""
    manifest = json.dumps(new_event("web.apply", "Applied"))
    applied = served.kubectl("apply", "-f", "-", stdin=manifest)
    assert applied.returncode == 0 and applied.stdout.strip() == "event.events.k8s.io/web.apply created", applied
    again = served.kubectl("apply", "--server-side", "-f", "-", stdin=manifest)
    assert again.returncode == 0 and again.stdout.strip() == "event.events.k8s.io/web.apply serverside-applied", again
    got = served.kubectl("get", "events", "web.apply", "-n", NS, "-o", "jsonpath={.message}/{.reportingComponent}")
    assert got.stdout == "all good/example.com/checker"


@needs_kubectl
def test_kubectl_explain_reads_the_events_v1_schema(served):
    explained = served.kubectl("explain", "events.regarding", "--api-version=events.k8s.io/v1")
    assert explained.returncode == 0, explained.stderr
    assert "GROUP:      events.k8s.io" in explained.stdout and "FIELD: regarding <ObjectReference>" in explained.stdout
