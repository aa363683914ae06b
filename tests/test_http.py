"""Tests for minik8s.apiserver.http: how request bodies are decoded (by their declared media type,
with bounded parsing, off the event loop), how query parameters are checked, and how warnings
reach the client, each against upstream's status codes and words.

The API is served from a thread of this process (``make_app`` over an in-memory API server), so
the tests talk real HTTP without a cluster."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Iterator

import pytest
import yaml
from aiohttp import web

from minik8s.api import parsing
from minik8s.apiserver import filters
from minik8s.apiserver.apiserver import APIServer
from minik8s.apiserver.http import make_app
from test_parsing import BOMB_1K, BOMB_SMALL


@dataclass
class Reply:
    code: int
    body: Any
    warnings: list[str]


class Served:
    def __init__(self, url: str, api: APIServer):
        self.url = url
        self.api = api

    def call(self, method: str, path: str, body: Any = None, content_type: str | None = "application/json",
             timeout: float = 30) -> Reply:
        data = body if isinstance(body, bytes) or body is None else \
            body.encode() if isinstance(body, str) else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if content_type is not None:
            request.add_header("Content-Type", content_type)
        elif data is not None:
            request.add_unredirected_header("Content-Type", "")  # urllib would add a form type otherwise
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return Reply(response.status, json.loads(response.read() or b"null"),
                             response.headers.get_all("Warning") or [])
        except urllib.error.HTTPError as err:
            return Reply(err.code, json.loads(err.read() or b"null"), err.headers.get_all("Warning") or [])


@pytest.fixture
def served() -> Iterator[Served]:
    api = APIServer()
    loop = asyncio.new_event_loop()
    # No credential here: these tests are about decoding; the filters in front are tests/test_filters.py's.
    runner = web.AppRunner(make_app(api, filters.Policy.insecure(frozenset({"127.0.0.1", "localhost"}))))
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield Served(f"http://127.0.0.1:{port}", api)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.run_until_complete(runner.cleanup())
    loop.close()


PODS = "/api/v1/namespaces/default/pods"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def pod(name: str = "nginx", **spec_extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec_extra}}


def stored_names(served: Served, path: str) -> list[str]:
    return [item["metadata"]["name"] for item in served.call("GET", path).body["items"]]


# --- bounded parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize("bomb", [BOMB_SMALL, BOMB_1K], ids=["small", "1KB"])
def test_yaml_alias_bomb_is_refused_400_at_once(served, bomb):
    started = time.perf_counter()
    reply = served.call("POST", CONFIGMAPS, bomb, "application/yaml")
    elapsed = time.perf_counter() - started
    assert reply.code == 400
    assert reply.body["reason"] == "BadRequest"
    assert reply.body["message"].startswith("the object provided is unrecognized (must be of type ConfigMap): "
                                            "error converting YAML to JSON: yaml: document contains excessive "
                                            "aliasing (")
    assert elapsed < 1.0  # measured: a few milliseconds, most of it HTTP
    assert stored_names(served, CONFIGMAPS) == []


def test_healthz_answers_while_a_large_body_is_parsed(served):
    """A 3 MiB YAML body takes the parser most of a second; the event loop must keep serving."""
    data = {f"key-{i:06d}": "v" * 20 for i in range(85_000)}
    body = yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": data})
    assert 2.5 * 2**20 < len(body) < parsing.MAX_BYTES
    with ThreadPoolExecutor(1) as pool:
        began = time.perf_counter()
        posted = pool.submit(served.call, "POST", CONFIGMAPS, body, "application/yaml", 120)
        time.sleep(0.05)  # let the upload start
        latencies = []
        while not posted.done():
            started = time.perf_counter()
            urllib.request.urlopen(served.url + "/healthz", timeout=30).read()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.01)
        reply = posted.result()
        took = time.perf_counter() - began
    # 413 is fine too: the point is that the loop stayed free, whatever the store thinks of 3 MiB.
    assert reply.code in (201, 413, 422), reply.body
    # Parsed on the loop, the first /healthz would wait for the whole parse and be the only answer.
    # The bound is relative to the POST's own time, so a loaded machine (tests run side by side)
    # slows both alike; measured quiet: the POST ~0.6 s, the worst /healthz ~10 ms.
    assert len(latencies) >= 3, (took, latencies)
    assert max(latencies) < max(0.5, took / 3), (took, latencies)


@pytest.mark.parametrize("media_type, text", [("application/json", "[" * 1000 + "]" * 1000),
                                              ("application/json", '{"a":' * 5000 + "1" + "}" * 5000),
                                              ("application/yaml", "[" * 5000),
                                              ("application/yaml", "a: " + "[" * 5000 + "]" * 5000)])
def test_deep_bodies_are_400_not_500(served, media_type, text):
    reply = served.call("POST", PODS, text, media_type)
    assert reply.code == 400, reply.body
    assert f"exceeded max depth of {parsing.MAX_DEPTH}" in reply.body["message"]


def test_deep_free_form_field_is_400_not_500(served):
    """Nesting below the limit is stored; a free-form field just past it is refused, not a crash."""
    nested: Any = "x"
    for _ in range(parsing.MAX_DEPTH):
        nested = {"n": nested}
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep", "annotations": {}},
           "data": {}, "extra": nested}
    reply = served.call("POST", CONFIGMAPS + "?fieldValidation=Ignore", obj)
    assert reply.code == 400
    assert "exceeded max depth" in reply.body["message"]


def test_bad_json_in_upstreams_words(served):
    reply = served.call("POST", PODS, '{"apiVersion": "v1", "kind": "Pod", ')
    assert reply.code == 400
    assert reply.body["message"] == ("the object provided is unrecognized (must be of type Pod): couldn't get "
                                     "version/kind; json parse error: unexpected end of JSON input "
                                     '({"apiVersion": "v1", "kind": " ...)')


# --- media types ----------------------------------------------------------------------------------

ACCEPTED = ("the body of the request was in an unknown format - accepted media types include: "
            "application/json, application/yaml, application/vnd.kubernetes.protobuf")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/xml"])
def test_a_body_of_another_media_type_is_415_and_nothing_is_stored(served, content_type):
    reply = served.call("POST", PODS, pod(), content_type)
    assert reply.code == 415
    assert reply.body["reason"] == "UnsupportedMediaType"
    assert reply.body["message"] == ACCEPTED
    assert stored_names(served, PODS) == []
    served.call("POST", PODS, pod())
    assert served.call("PUT", PODS + "/nginx", pod(), content_type).code == 415


def test_json_with_parameters_yaml_and_no_content_type_are_accepted(served):
    assert served.call("POST", PODS, pod("a"), "application/json; charset=utf-8").code == 201
    assert served.call("POST", PODS, yaml.safe_dump(pod("b")), "application/yaml").code == 201
    # Upstream takes a body without a Content-Type as JSON (the first media type it serves).
    assert served.call("POST", PODS, pod("c"), content_type=None).code == 201
    assert stored_names(served, PODS) == ["a", "b", "c"]


def test_patch_accepts_only_the_patch_types(served):
    served.call("POST", PODS, pod())
    reply = served.call("PATCH", PODS + "/nginx", {"metadata": {"labels": {"a": "b"}}}, "application/json")
    assert reply.code == 415
    assert reply.body["message"].endswith("application/merge-patch+json, application/json-patch+json, "
                                          "application/strategic-merge-patch+json, application/apply-patch+yaml")
    reply = served.call("PATCH", PODS + "/nginx", {"metadata": {"labels": {"a": "b"}}}, "application/merge-patch+json")
    assert reply.code == 200 and reply.body["metadata"]["labels"] == {"a": "b"}


def test_delete_body_is_decoded_only_when_there_is_one(served):
    served.call("POST", PODS, pod("a"))
    served.call("POST", PODS, pod("b"))
    assert served.call("DELETE", PODS + "/a", {"kind": "DeleteOptions", "apiVersion": "v1",
                                               "propagationPolicy": "Background"}).code == 200
    assert served.call("DELETE", PODS + "/b", None, content_type="text/plain").code == 200
    served.call("POST", PODS, pod("c"))
    assert served.call("DELETE", PODS + "/c", '{"propagationPolicy": "Background"}', "text/plain").code == 415
    assert stored_names(served, PODS) == ["c"]


# --- fieldValidation ------------------------------------------------------------------------------


def test_unknown_field_by_default_is_stored_without_it_and_warned(served):
    """Upstream's default (no fieldValidation, as curl or the official Python client send) is Warn."""
    reply = served.call("POST", PODS, pod(foo="bar"))
    assert reply.code == 201
    assert reply.warnings == ['299 - "unknown field \\"spec.foo\\""']
    assert "foo" not in reply.body["spec"]
    assert "foo" not in served.call("GET", PODS + "/nginx").body["spec"]


def test_unknown_field_under_strict_is_400_in_upstreams_words(served):
    reply = served.call("POST", PODS + "?fieldValidation=Strict", pod(foo="bar"))
    assert reply.code == 400
    assert reply.body["message"] == ('Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
                                     'unknown field "spec.foo"')
    assert stored_names(served, PODS) == []


def test_unknown_field_under_ignore_is_dropped_silently(served):
    reply = served.call("POST", PODS + "?fieldValidation=Ignore", pod(foo="bar"))
    assert reply.code == 201
    assert reply.warnings == []
    assert "foo" not in reply.body["spec"]


def test_update_and_patch_warn_too(served):
    served.call("POST", PODS, pod())
    current = served.call("GET", PODS + "/nginx").body
    current["metadata"]["labels"] = {"x": "y"}
    current["spec"]["bar"] = 1
    reply = served.call("PUT", PODS + "/nginx", current)
    assert reply.code == 200 and reply.warnings == ['299 - "unknown field \\"spec.bar\\""']
    reply = served.call("PATCH", PODS + "/nginx", {"spec": {"baz": 1}}, "application/merge-patch+json")
    assert reply.code == 200 and reply.warnings == ['299 - "unknown field \\"spec.baz\\""']
    reply = served.call("PATCH", PODS + "/nginx?fieldValidation=Strict", {"spec": {"baz": 1}},
                        "application/merge-patch+json")
    assert reply.code == 400 and 'strict decoding error: unknown field "spec.baz"' in reply.body["message"]


@pytest.mark.parametrize("method, path, options", [("POST", PODS, "CreateOptions"),
                                                   ("PUT", PODS + "/nginx", "UpdateOptions"),
                                                   ("PATCH", PODS + "/nginx", "PatchOptions")])
def test_a_bad_field_validation_value_is_422_in_upstreams_words(served, method, path, options):
    served.call("POST", PODS, pod())
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    reply = served.call(method, path + "?fieldValidation=Bogus", pod(), content_type)
    assert reply.code == 422
    assert reply.body["reason"] == "Invalid"
    assert reply.body["message"] == (f'{options}.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: '
                                     f'"Bogus": supported values: "", "Ignore", "Strict", "Warn"')


DUPLICATED = ('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "name": "dup"}, '
              '"spec": {"containers": [{"name": "c", "image": "nginx"}]}}')


def test_duplicate_fields_under_strict_are_400(served):
    reply = served.call("POST", PODS + "?fieldValidation=Strict", DUPLICATED)
    assert reply.code == 400
    assert reply.body["message"] == ('Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
                                     'duplicate field "metadata.name"')
    assert stored_names(served, PODS) == []


def test_duplicate_fields_are_warned_by_default_and_the_last_wins(served):
    reply = served.call("POST", PODS, DUPLICATED)
    assert reply.code == 201
    assert reply.warnings == ['299 - "duplicate field \\"metadata.name\\""']
    assert stored_names(served, PODS) == ["dup"]
    assert served.call("POST", PODS + "?fieldValidation=Ignore",
                       DUPLICATED.replace('"dup"', '"dup2"')).warnings == []


def test_duplicate_yaml_keys_under_strict_are_400_in_go_yaml_words(served):
    body = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  name: b\nspec:\n  containers: [{name: c, image: x}]\n"
    reply = served.call("POST", PODS + "?fieldValidation=Strict", body, "application/yaml")
    assert reply.code == 400
    assert reply.body["message"] == ('Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
                                     'yaml: unmarshal errors:\n  line 5: key "name" already set in map')


# --- list and watch parameters --------------------------------------------------------------------


@pytest.mark.parametrize("query", ["resourceVersion=abc", "resourceVersion=-1", "resourceVersion=1.5"])
def test_a_resource_version_that_is_not_a_revision_is_400(served, query):
    value = query.split("=")[1]
    for path in (PODS + "?" + query, PODS + "?watch=true&" + query):
        reply = served.call("GET", path)
        assert reply.code == 400
        assert reply.body["message"] == (f'resourceVersion: Invalid value: "{value}": strconv.ParseUint: '
                                         f'parsing "{value}": invalid syntax')


@pytest.mark.parametrize("query, message", [
    ("resourceVersionMatch=Exact",
     "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"),
    ("resourceVersionMatch=Newest&resourceVersion=1",
     'resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""'),
    ("resourceVersionMatch=Exact&resourceVersion=0",
     'resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"'),
    ("watch=true&resourceVersionMatch=NotOlderThan&resourceVersion=1",
     "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"),
    ("watch=true&sendInitialEvents=true",
     "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"),
    ("sendInitialEvents=true", "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"),
])
def test_resource_version_match_rules_are_422(served, query, message):
    reply = served.call("GET", PODS + "?" + query)
    assert reply.code == 422
    assert reply.body["message"] == f'ListOptions.meta.k8s.io "" is invalid: {message}'


def test_exact_lists_the_state_at_that_revision(served):
    first = served.call("POST", PODS, pod("a")).body["metadata"]["resourceVersion"]
    served.call("POST", PODS, pod("b"))
    served.call("DELETE", PODS + "/a")
    labelled = pod("b")
    labelled["metadata"]["labels"] = {"v": "2"}
    served.call("PATCH", PODS + "/b", {"metadata": {"labels": {"v": "2"}}}, "application/merge-patch+json")
    then = served.call("GET", f"{PODS}?resourceVersion={first}&resourceVersionMatch=Exact").body
    assert then["metadata"]["resourceVersion"] == first
    assert [(p["metadata"]["name"], p["metadata"]["resourceVersion"]) for p in then["items"]] == [("a", first)]
    now = served.call("GET", f"{PODS}?resourceVersion={first}&resourceVersionMatch=NotOlderThan").body
    assert [(p["metadata"]["name"], p["metadata"].get("labels")) for p in now["items"]] == [("b", {"v": "2"})]


def test_exact_at_a_compacted_revision_is_410(served):
    first = served.call("POST", PODS, pod("a")).body["metadata"]["resourceVersion"]
    served.call("POST", PODS, pod("b"))
    served.api.store.compact(served.api.store.revision)
    reply = served.call("GET", f"{PODS}?resourceVersion={first}&resourceVersionMatch=Exact")
    assert reply.code == 410
    assert reply.body["reason"] == "Expired"
    assert reply.body["message"] == "The resourceVersion for the provided list is too old."


@pytest.mark.parametrize("match", ["Exact", "NotOlderThan"])
def test_a_revision_not_reached_yet_is_504_too_large(served, match):
    current = served.api.store.revision
    reply = served.call("GET", f"{PODS}?resourceVersion={current + 100}&resourceVersionMatch={match}")
    assert reply.code == 504
    assert reply.body["reason"] == "Timeout"
    assert reply.body["message"] == f"Timeout: Too large resource version: {current + 100}, current: {current}"
    assert reply.body["details"]["causes"] == [{"reason": "ResourceVersionTooLarge",
                                                "message": "Too large resource version"}]


@pytest.mark.parametrize("name, value", [("limit", "ten"), ("limit", "1.5"), ("timeoutSeconds", "soon")])
def test_integer_parameters_are_400_in_go_words(served, name, value):
    for path in (f"{PODS}?{name}={value}", f"{PODS}?watch=true&{name}={value}"):
        reply = served.call("GET", path)
        assert reply.code == 400
        assert reply.body["message"] == f'strconv.ParseInt: parsing "{value}": invalid syntax'


def test_a_negative_limit_means_no_limit(served):
    served.call("POST", PODS, pod("a"))
    served.call("POST", PODS, pod("b"))
    assert len(served.call("GET", PODS + "?limit=-1").body["items"]) == 2
    assert len(served.call("GET", PODS + "?limit=1").body["items"]) == 1


# --- validation over HTTP -------------------------------------------------------------------------


WORKLOADS = [
    ("/apis/apps/v1/namespaces/default/deployments", "Deployment.apps", {}),
    ("/apis/apps/v1/namespaces/default/replicasets", "ReplicaSet.apps", {}),
    ("/apis/apps/v1/namespaces/default/statefulsets", "StatefulSet.apps", {"serviceName": "web"}),
    ("/apis/apps/v1/namespaces/default/daemonsets", "DaemonSet.apps", {}),
    ("/apis/batch/v1/namespaces/default/jobs", "Job.batch", {"manualSelector": True}),
]


@pytest.mark.parametrize("path, kind, extra", WORKLOADS, ids=[w[1] for w in WORKLOADS])
def test_selector_that_does_not_match_the_template_is_422(served, path, kind, extra):
    group, version = path.split("/")[2:4]
    template_spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx"}]}
    if kind == "Job.batch":
        template_spec["restartPolicy"] = "Never"
    body = {"apiVersion": f"{group}/{version}", "kind": kind.split(".")[0], "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **extra,
                     "template": {"metadata": {"labels": {"app": "other"}}, "spec": template_spec}}}
    reply = served.call("POST", path, body)
    assert reply.code == 422
    assert reply.body["message"] == (f'{kind} "web" is invalid: spec.template.metadata.labels: Invalid value: '
                                     'map[string]string{"app":"other"}: `selector` does not match template `labels`')
    assert stored_names(served, path) == []



# --- paths and pruning as upstream ----------------------------------------------------------------


@pytest.mark.parametrize("path, kind", [("/api/", "APIVersions"), ("/apis/", "APIGroupList"),
                                        ("/api/v1/", "APIResourceList"), ("/apis/apps/", "APIGroup"),
                                        ("/apis/apps/v1/", "APIResourceList")])
def test_discovery_answers_with_a_trailing_slash_as_without(served, path, kind):
    reply = served.call("GET", path, content_type=None)
    assert reply.code == 200 and reply.body["kind"] == kind
    assert reply.body == served.call("GET", path.rstrip("/"), content_type=None).body


@pytest.mark.parametrize("path", ["/nope", "/apis/nope.example.com/", "/api/v2", "/apis/apps/v9", "/openapi/v9"])
def test_a_path_the_server_does_not_serve_is_a_not_found_status_never_plain_text(served, path):
    reply = served.call("GET", path, content_type=None)
    assert reply.code == 404
    assert reply.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": "the server could not find the requested resource", "reason": "NotFound",
                          "code": 404}


def test_a_kind_without_status_has_it_pruned_or_refused(served):
    cms = "/api/v1/namespaces/default/configmaps"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    assert served.call("POST", cms, cm).code == 201
    reply = served.call("PATCH", cms + "/c", {"status": {"a": 1}}, "application/merge-patch+json")
    assert reply.code == 200 and "status" not in reply.body
    assert reply.warnings == ['299 - "unknown field \\"status\\""']
    assert "status" not in served.call("GET", cms + "/c").body
    strict = served.call("PATCH", cms + "/c?fieldValidation=Strict", {"status": {"a": 1}}, "application/merge-patch+json")
    assert strict.code == 400 and 'strict decoding error: unknown field "status"' in strict.body["message"]


# --- watch as upstream: bookmarks, streaming lists, compacted revisions -----------------------------


def _watch_lines(served: Served, query: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{served.url}{PODS}?watch=true&{query}", timeout=30) as response:
        assert response.status == 200
        return [json.loads(line) for line in response.read().splitlines() if line.strip()]


def test_send_initial_events_ends_the_initial_list_with_an_annotated_bookmark(served):
    served.call("POST", PODS, pod("a"))
    last = served.call("POST", PODS, pod("b")).body["metadata"]["resourceVersion"]
    events = _watch_lines(served, "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
                                  "&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [
        ("ADDED", "a"), ("ADDED", "b"), ("BOOKMARK", None)]
    assert events[-1]["object"] == {"kind": "Pod", "apiVersion": "v1", "metadata": {
        "resourceVersion": last, "annotations": {"k8s.io/initial-events-end": "true"}}}


def test_send_initial_events_false_sends_only_changes(served):
    served.call("POST", PODS, pod("a"))
    events = _watch_lines(served, "sendInitialEvents=false&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
                                  "&timeoutSeconds=1")
    assert events == []


def test_an_idle_watch_with_bookmarks_allowed_gets_bookmarks_and_one_without_does_not(served, monkeypatch):
    from minik8s.apiserver import http

    monkeypatch.setattr(http, "BOOKMARK_SECONDS", 0.2)
    rv = served.call("POST", PODS, pod("a")).body["metadata"]["resourceVersion"]
    events = _watch_lines(served, "allowWatchBookmarks=true&timeoutSeconds=1")
    assert events[0]["type"] == "ADDED"
    assert {e["type"] for e in events[1:]} == {"BOOKMARK"}
    assert events[1]["object"] == {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": rv}}
    assert [e["type"] for e in _watch_lines(served, "timeoutSeconds=1")] == ["ADDED"]


def test_a_watch_from_a_compacted_revision_is_a_200_stream_with_one_410_error_event(served):
    first = served.call("POST", PODS, pod("a")).body["metadata"]["resourceVersion"]
    served.call("POST", PODS, pod("b"))
    served.api.store.compact(served.api.store.revision)
    events = _watch_lines(served, f"resourceVersion={first}")
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith(f"too old resource version: {first} (")


def test_a_large_response_is_gzipped_when_the_client_accepts_it_and_plain_otherwise(served):
    import gzip

    for i in range(40):   # about 200 KiB of ConfigMaps
        served.call("POST", CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"},
                                         "data": {"blob": "x" * 5000}})
    request = urllib.request.Request(served.url + CONFIGMAPS, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        body = json.loads(gzip.decompress(response.read()))
    assert len(body["items"]) == 40
    with urllib.request.urlopen(served.url + CONFIGMAPS, timeout=30) as response:
        assert response.headers.get("Content-Encoding") is None
        assert json.loads(response.read()) == body
    small = urllib.request.Request(served.url + CONFIGMAPS + "/c0", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(small, timeout=30) as response:
        assert response.headers.get("Content-Encoding") is None


def test_status_bodies_keep_upstreams_field_order(served):
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(served.url + PODS + "/nope", timeout=30)
    body = err.value.read()
    assert list(json.loads(body)) == ["kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"]
    assert body.startswith(b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":')
