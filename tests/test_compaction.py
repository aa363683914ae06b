"""The API server's store housekeeping (minik8s.apiserver.compaction): history compaction, event TTL."""

from __future__ import annotations

import pytest

from minik8s.apiserver.compaction import COMPACTION_INTERVAL_SECONDS, EVENT_TTL_SECONDS, Compactor
from minik8s.clock import VirtualClock, rfc3339
from minik8s.cluster import Cluster
from minik8s.store import CompactedError, Store


def event(name: str, last: float) -> dict:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "default"},
            "reason": "R", "message": "m", "lastTimestamp": rfc3339(last), "count": 1}


def test_each_tick_compacts_to_the_revision_seen_one_interval_before():
    clock = VirtualClock()
    store = Store()
    compactor = Compactor(store, clock)
    start = store.revision
    store.create(("pods", "default", "a"), {"metadata": {"name": "a"}})

    def tick() -> None:
        clock.set(clock.now() + COMPACTION_INTERVAL_SECONDS)
        compactor.promote(clock.now())
        assert compactor.process_one()

    tick()  # compacts to `start`: the create, one interval old at most, can still be watched
    store.watch("pods", None, start, lambda e: None)
    after_create = store.revision
    store.delete(("pods", "default", "a"))
    tick()  # compacts to the revision seen at the previous tick
    with pytest.raises(CompactedError):
        store.watch("pods", None, start, lambda e: None)
    store.watch("pods", None, after_create, lambda e: None)  # the deletion is still there to see
    tick()
    with pytest.raises(CompactedError):
        store.watch("pods", None, after_create, lambda e: None)
    assert compactor.next_due() == clock.now() + COMPACTION_INTERVAL_SECONDS
    assert not compactor.process_one()  # nothing due until then


def test_events_expire_an_hour_after_their_last_write():
    clock = VirtualClock()
    store = Store()
    now = clock.now()
    store.create(("events", "default", "old"), event("old", now - EVENT_TTL_SECONDS))
    store.create(("events", "default", "recent"), event("recent", now - EVENT_TTL_SECONDS + 60))
    seen = []
    store.watch("events", None, store.revision, lambda e: seen.append((e.type, e.key[2])))
    assert Compactor(store, clock).expire_events(now) == 1
    assert store.get(("events", "default", "old")) is None
    assert store.get(("events", "default", "recent")) is not None
    assert seen == [("DELETED", "old")]  # watchers see the expiry, as with an etcd lease


def test_a_cluster_forgets_deleted_pods_history_and_their_events():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.kubectl("create deployment web --image=nginx --replicas=3")
        c.advance(30)
        before_delete = c.store.revision
        assert c.store.count("events", "default") > 0
        c.kubectl("delete deployment web")
        c.advance(EVENT_TTL_SECONDS + 2 * COMPACTION_INTERVAL_SECONDS)
        assert c.store.count("pods") == 0
        assert c.store.count("events", "default") == 0
        with pytest.raises(CompactedError):
            c.store.watch("pods", None, before_delete, lambda e: None)
