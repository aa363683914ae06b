"""The store: revisions, optimistic concurrency, watch from a revision, compaction, SQLite durability."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings, strategies as st

from minik8s.store import AlreadyExistsError, CompactedError, ConflictError, NotFoundError, Store
from minik8s.store.sqlite import SQLiteBackend


def pod(name: str, value: int = 0) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "default"}, "spec": {"v": value}}


def key(name: str) -> tuple[str, str, str]:
    return ("pods", "default", name)


def test_create_sets_resource_version_and_refuses_duplicates():
    store = Store()
    created = store.create(key("a"), pod("a"))
    assert created["metadata"]["resourceVersion"] == str(store.revision)
    with pytest.raises(AlreadyExistsError):
        store.create(key("a"), pod("a"))


def test_update_with_stale_revision_conflicts():
    store = Store()
    first = store.create(key("a"), pod("a"))
    rv = int(first["metadata"]["resourceVersion"])
    store.update(key("a"), pod("a", 1), rv)
    with pytest.raises(ConflictError):
        store.update(key("a"), pod("a", 2), rv)
    assert store.get(key("a"))["spec"]["v"] == 1


def test_returned_objects_are_copies():
    store = Store()
    store.create(key("a"), pod("a"))
    got = store.get(key("a"))
    got["spec"]["v"] = 99
    assert store.get(key("a"))["spec"]["v"] == 0


def test_delete_missing_is_not_found():
    with pytest.raises(NotFoundError):
        Store().delete(key("nope"))


def test_list_is_sorted_and_filtered_by_namespace():
    store = Store()
    for name in ("b", "a"):
        store.create(key(name), pod(name))
    store.create(("pods", "other", "c"), pod("c"))
    names = [o["metadata"]["name"] for o in store.list("pods", "default")[0]]
    assert names == ["a", "b"]
    assert len(store.list("pods")[0]) == 3


def test_watch_replays_from_revision_then_follows():
    store = Store()
    store.create(key("a"), pod("a"))
    since = store.revision
    store.update(key("a"), pod("a", 1))
    seen = []
    store.watch("pods", None, since, seen.append)
    store.delete(key("a"))
    assert [(e.type, e.revision) for e in seen] == [("MODIFIED", since + 1), ("DELETED", since + 2)]


def test_compaction_makes_old_revisions_gone():
    store = Store(history_limit=3)
    for i in range(10):
        store.create(key(f"p{i}"), pod(f"p{i}"))
    with pytest.raises(CompactedError) as err:
        store.watch("pods", None, 2, lambda e: None)
    assert "too old resource version: 2" in str(err.value)
    store.watch("pods", None, store.revision - 2, lambda e: None)  # still retained


operations = st.lists(st.tuples(st.sampled_from(["create", "update", "delete"]), st.sampled_from("abcd")),
                      max_size=60)


@settings(max_examples=60, deadline=None)
@given(ops=operations, start=st.integers(min_value=0, max_value=30))
def test_revisions_only_grow_and_watch_sees_each_later_change_once_in_order(ops, start):
    store = Store()
    log = []  # (revision, type, name) as acknowledged
    first = last = store.revision   # 1 for a new Store; an EtcdStore begins at etcd's revision
    for op, name in ops:
        try:
            if op == "create":
                obj = store.create(key(name), pod(name))
            elif op == "update":
                obj = store.update(key(name), pod(name, len(log)))
            else:
                obj = store.delete(key(name))
        except (AlreadyExistsError, NotFoundError):
            continue
        rv = int(obj["metadata"]["resourceVersion"])
        assert rv > last
        last = rv
        log.append((rv, {"create": "ADDED", "update": "MODIFIED", "delete": "DELETED"}[op], name))
    since = max(first, min(first + start - 1, store.revision))
    seen = []
    store.watch("pods", None, since, seen.append)
    assert [(e.revision, e.type, e.key[2]) for e in seen] == [entry for entry in log if entry[0] > since]


@settings(max_examples=60, deadline=None)
@given(ops=operations)
def test_entries_at_a_revision_are_what_a_list_said_then(ops):
    """Oracle: a read at an older revision equals the list taken when that revision was current."""
    store = Store()
    snapshots = {store.revision: store.entries("pods")[0]}
    for op, name in ops:
        try:
            if op == "create":
                store.create(key(name), pod(name))
            elif op == "update":
                store.update(key(name), pod(name, store.revision))
            else:
                store.delete(key(name))
        except (AlreadyExistsError, NotFoundError):
            continue
        snapshots[store.revision] = store.entries("pods")[0]
    for revision, entries in snapshots.items():
        assert [(k, e.raw) for k, e in store.entries_at("pods", None, revision)] == [(k, e.raw) for k, e in entries]
        assert store.entries_at("pods", "elsewhere", revision) == []


def test_entries_at_a_compacted_revision_are_gone():
    store = Store(history_limit=2)
    for name in "abcd":
        store.create(key(name), pod(name))
    assert [k[2] for k, _ in store.entries_at("pods", None, store.revision - 2)] == ["a", "b"]
    with pytest.raises(CompactedError):
        store.entries_at("pods", None, store.revision - 3)


def test_sqlite_keeps_objects_and_revision_across_reopen(tmp_path):
    path = tmp_path / "state.db"
    store = Store(SQLiteBackend(path))
    store.create(key("a"), pod("a"))
    store.update(key("a"), pod("a", 5))
    store.create(key("b"), pod("b"))
    store.delete(key("b"))
    revision = store.revision
    store.close()
    again = Store(SQLiteBackend(path))
    assert again.revision == revision
    assert again.get(key("a"))["spec"]["v"] == 5
    assert again.get(key("b")) is None
    # History was not kept: resuming an old watch is refused, as after an etcd compaction.
    with pytest.raises(CompactedError):
        again.watch("pods", None, revision - 1, lambda e: None)


def test_sqlite_survives_kill_9(tmp_path):
    """Every acknowledged write survives SIGKILL of the writing process."""
    path = tmp_path / "state.db"
    script = textwrap.dedent(f"""
        import sys
        from minik8s.store import Store
        from minik8s.store.sqlite import SQLiteBackend
        store = Store(SQLiteBackend({str(path)!r}))
        for i in range(200):
            store.create(("pods", "default", f"p{{i}}"), {{"metadata": {{"name": f"p{{i}}"}}}})
            print(i, flush=True)
        sys.stdin.read()  # wait to be killed
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    acknowledged = -1
    for line in proc.stdout:
        acknowledged = int(line)
        if acknowledged == 150:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = Store(SQLiteBackend(path))
    names = {o["metadata"]["name"] for o in store.list("pods")[0]}
    assert {f"p{i}" for i in range(acknowledged + 1)} <= names


def test_stored_versions_take_their_own_size_not_the_encoders_buffer():
    # orjson hands back its whole output buffer (16 KiB for a small object); kept as is, every
    # version in the store and its history would cost ten times its length.
    import tracemalloc

    store = Store()
    obj = {"metadata": {"name": "p"}, "spec": {"text": "x" * 1500}}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(100):
            store.create(("pods", "default", f"p{i}"), obj)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    raw = store.get_entry(("pods", "default", "p0")).raw
    assert grown < 100 * 3 * len(raw)  # the bytes in the table and in the history, and their keys
