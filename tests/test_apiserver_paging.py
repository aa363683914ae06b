"""LIST pages and watches at scale, over real HTTP (the ``served`` API of tests/test_http.py):

* ``limit``/``continue`` pages are one consistent snapshot at the first page's revision, however the
  objects change between pages; a token whose revision is compacted is 410 Expired in upstream's words,
  with a token in the Status that goes on at the latest revision;
* ``limit=0`` and negative limits mean no limit, a limit that is not a number is 400 (upstream's);
* label selection reads the labels kept beside each stored object (and the store's label index);
* a watch whose client never reads is dropped once it falls behind, and forgotten by the store;
* one change told to many watchers reaches each of them, in the same bytes.
"""

from __future__ import annotations

import base64
import json
import socket
import time
import urllib.parse
import urllib.request

import pytest

from minik8s.apiserver import http
from minik8s.store import Store
from test_http import Served

pytest_plugins = ["test_http"]   # its `served` fixture: the API over HTTP from a thread of this process

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def configmap(name: str, labels: dict[str, str] | None = None, data: str = "v") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels or {}},
            "data": {"k": data}}


def create(served: Served, *names: str, labels: dict[str, str] | None = None) -> None:
    for name in names:
        assert served.call("POST", CONFIGMAPS, configmap(name, labels)).code == 201


def page(served: Served, query: str) -> dict:
    reply = served.call("GET", f"{CONFIGMAPS}?{query}")
    assert reply.code == 200, reply.body
    return reply.body


def names(body: dict) -> list[str]:
    return [item["metadata"]["name"] for item in body["items"]]


def test_pages_are_one_snapshot_at_the_first_pages_revision(served):
    create(served, "a", "b", "c", "d", "e")
    first = page(served, "limit=2")
    assert names(first) == ["a", "b"]
    assert first["metadata"]["remainingItemCount"] == 3
    # Between the pages: c is deleted, d changed, f and a0 added (a0 sorts before the token's key).
    assert served.call("DELETE", f"{CONFIGMAPS}/c").code == 200
    assert served.call("PUT", f"{CONFIGMAPS}/d", configmap("d", data="changed")).code == 200
    create(served, "f", "a0")
    token = urllib.parse.quote(first["metadata"]["continue"])
    second = page(served, f"limit=2&continue={token}")
    assert names(second) == ["c", "d"]
    assert second["items"][1]["data"] == {"k": "v"}   # d as it was
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert second["metadata"]["remainingItemCount"] == 1
    third = page(served, f"limit=2&continue={urllib.parse.quote(second['metadata']['continue'])}")
    assert names(third) == ["e"]
    assert "continue" not in third["metadata"] and "remainingItemCount" not in third["metadata"]
    # A new list sees today's objects.
    assert names(page(served, "")) == ["a", "a0", "b", "d", "e", "f"]


def test_a_continue_token_whose_revision_is_compacted_is_410_with_a_token_for_the_rest(served):
    create(served, "a", "b", "c")
    first = page(served, "limit=1")
    create(served, "d")
    served.api.store.compact(served.api.store.revision)
    reply = served.call("GET", f"{CONFIGMAPS}?limit=1&continue={urllib.parse.quote(first['metadata']['continue'])}")
    assert reply.code == 410
    assert reply.body["reason"] == "Expired"
    assert reply.body["message"] == (
        "The provided continue parameter is too old to display a consistent list result. You can start a new "
        "list without the continue parameter, or use the continue token in this response to retrieve the "
        "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
        "that were created, modified, or deleted between the time the first chunk was returned and now may show "
        "up in the list.")
    # The Status's token goes on after "a", at the latest revision: d shows up.
    token = urllib.parse.quote(reply.body["metadata"]["continue"])
    rest = page(served, f"continue={token}")
    assert names(rest) == ["b", "c", "d"]
    assert rest["metadata"]["resourceVersion"] == str(served.api.store.revision)


def test_a_token_for_an_unchanged_resource_outlives_compaction(served):
    """Nothing of the resource changed since the token's revision: today's state is the state at it."""
    create(served, "a", "b")
    first = page(served, "limit=1")
    served.call("POST", "/api/v1/namespaces/default/secrets",
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})
    served.api.store.compact(served.api.store.revision)
    assert names(page(served, f"continue={urllib.parse.quote(first['metadata']['continue'])}")) == ["b"]


@pytest.mark.parametrize("limit", ["0", "-1", "-500"])
def test_a_limit_of_zero_or_less_means_no_limit(served, limit):
    create(served, "a", "b", "c")
    body = page(served, f"limit={limit}")
    assert names(body) == ["a", "b", "c"]
    assert "continue" not in body["metadata"]


def test_a_limit_that_is_no_number_is_400(served):
    reply = served.call("GET", f"{CONFIGMAPS}?limit=abc")
    assert reply.code == 400
    assert reply.body["message"] == 'strconv.ParseInt: parsing "abc": invalid syntax'


def test_a_garbled_continue_token_is_400(served):
    for token in ("garbage!", base64.urlsafe_b64encode(b'{"v":"meta.k8s.io/v1","rv":0,"start":["a","b","c"]}')
                  .decode()):
        reply = served.call("GET", f"{CONFIGMAPS}?continue={urllib.parse.quote(token)}")
        assert reply.code == 400, token
        assert reply.body["message"].startswith("continue key is not valid")


def test_a_continue_token_with_a_resource_version_is_400(served):
    """The token names the revision of its pages; a resourceVersion beside it (other than "0", which
    asks for nothing) is refused in upstream's words, and the same request without one goes on."""
    create(served, "a", "b", "c")
    first = page(served, "limit=2")
    token = urllib.parse.quote(first["metadata"]["continue"])
    for version in (first["metadata"]["resourceVersion"], "1", "999999"):
        reply = served.call("GET", f"{CONFIGMAPS}?limit=2&continue={token}&resourceVersion={version}")
        assert reply.code == 400, version
        assert reply.body["reason"] == "BadRequest"
        assert reply.body["message"] == "specifying resource version is not allowed when using continue"
    assert names(page(served, f"limit=2&continue={token}&resourceVersion=0")) == ["c"]
    assert names(page(served, f"limit=2&continue={token}")) == ["c"]
    garbled = served.call("GET", f"{CONFIGMAPS}?continue=garbage!&resourceVersion=5")
    assert garbled.code == 400 and garbled.body["message"].startswith("continue key is not valid")


def test_label_selected_pages(served):
    create(served, *(f"cm-{i:02d}" for i in range(12)))
    chosen = [f"cm-{i:02d}" for i in (1, 4, 7, 10)]
    for name in chosen:
        assert served.call("PATCH", f"{CONFIGMAPS}/{name}", {"metadata": {"labels": {"tier": "chosen"}}},
                           "application/merge-patch+json").code == 200
    seen, token = [], ""
    while True:
        body = page(served, "labelSelector=tier%3Dchosen&limit=3" + (f"&continue={urllib.parse.quote(token)}"
                                                                     if token else ""))
        assert "remainingItemCount" not in body["metadata"]   # upstream counts only unfiltered lists
        seen += names(body)
        token = body["metadata"].get("continue", "")
        if not token:
            break
    assert seen == chosen
    assert names(page(served, "labelSelector=tier%21%3Dchosen")) == [f"cm-{i:02d}" for i in range(12)
                                                                      if f"cm-{i:02d}" not in chosen]
    # A label taken off an object takes it out of the selection (the index follows every write).
    assert served.call("PATCH", f"{CONFIGMAPS}/cm-04", {"metadata": {"labels": None}},
                       "application/merge-patch+json").code == 200
    assert names(page(served, "labelSelector=tier%3Dchosen")) == ["cm-01", "cm-07", "cm-10"]
    assert names(page(served, "labelSelector=tier+in+%28chosen%29%2Ctier")) == ["cm-01", "cm-07", "cm-10"]


def test_a_large_list_is_streamed_whole_and_as_a_table(served, monkeypatch):
    monkeypatch.setattr(http, "STREAM_LIST_ITEMS", 4)
    monkeypatch.setattr(http, "TABLE_SLICE", 3)
    create(served, *(f"cm-{i:02d}" for i in range(10)))
    assert names(page(served, "")) == [f"cm-{i:02d}" for i in range(10)]
    request = urllib.request.Request(served.url + CONFIGMAPS, headers={
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    with urllib.request.urlopen(request) as response:
        table = json.loads(response.read())
    assert [row["cells"][0] for row in table["rows"]] == [f"cm-{i:02d}" for i in range(10)]


def test_store_page_bounds_the_keys_it_looks_at():
    store = Store()
    for i in range(10):
        store.create(("configmaps", "default", f"cm-{i}"), {"metadata": {"name": f"cm-{i}", "labels": {"i": str(i)}}})
    found = store.page("configmaps", "default", keep=lambda e: e.labels["i"] == "8", scanned=3)
    assert found.pairs == [] and found.more and found.last == ("default", "cm-2")
    rest = store.page("configmaps", "default", after=found.last, at=found.revision,
                      keep=lambda e: e.labels["i"] == "8")
    assert [key[2] for key, _ in rest.pairs] == ["cm-8"] and not rest.more


def open_watch(served: Served, query: str) -> socket.socket:
    port = int(served.url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # before connecting: a small window
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {CONFIGMAPS}?watch=1&{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 200"), head
    return sock


def watchers(served: Served) -> int:
    return len(served.api.store._watchers["configmaps"])


def test_a_watch_that_is_never_read_is_dropped(served, monkeypatch):
    monkeypatch.setattr(http, "WATCH_BUFFER", 5)
    create(served, "big")
    revision = served.api.store.revision
    sock = open_watch(served, f"resourceVersion={revision}")
    assert watchers(served) == 1
    deadline = time.monotonic() + 60
    n = 0
    key = ("configmaps", "default", "big")
    while watchers(served) and time.monotonic() < deadline:   # the client reads nothing meanwhile
        n += 1   # straight into the store: the watch path from there is the API server's and HTTP's
        served.api.store.update(key, configmap("big", data=f"{n}" + "x" * 200_000))
        time.sleep(0.01)
    assert watchers(served) == 0, "the watch was never dropped"
    sock.settimeout(30)
    received = 0
    try:
        while chunk := sock.recv(1 << 20):   # what was in flight, then the end of the connection
            received += len(chunk)
    except ConnectionResetError:
        pass
    sock.close()
    assert received < n * 200_000   # it did not get every change: it was dropped


def test_one_change_reaches_many_watchers_in_the_same_bytes(served):
    create(served, "seed")
    revision = served.api.store.revision
    socks = [open_watch(served, f"resourceVersion={revision}") for _ in range(20)]
    socks.append(open_watch(served, f"resourceVersion={revision}&labelSelector=app%3Dweb"))
    create(served, "web", labels={"app": "web"})
    lines = []
    for sock in socks:
        sock.settimeout(30)
        data = b""
        while b"}\n" not in data:
            data += sock.recv(65536)
        sock.close()
        body = data.split(b"\r\n", 1)[1]    # one chunk: its size line, then the event
        lines.append(body.split(b"\r\n", 1)[0])
    assert len(set(lines)) == 1
    event = json.loads(lines[0])
    assert event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "web"
    assert event["object"]["metadata"]["resourceVersion"] == str(served.api.store.revision)
