"""The etcd store (minik8s/store/etcd.py) against a real etcd: the Store's own tests, two API servers over one
etcd, conflicts, compaction, a member killed mid-run, and `minik8s server --store etcd://` driven by kubectl."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from hypothesis import given, settings, strategies as st

import test_store as base
from conftest import needs_kubectl, start_server, wait_for
from etcdcluster import EtcdCluster, needs_etcd
from minik8s.store import HISTORY_LIMIT, AlreadyExistsError, CompactedError, ConflictError, NotFoundError, StoreError
from minik8s.store.etcd import EtcdStore, etcd_key, parse_endpoints, store_key

pytestmark = needs_etcd


@pytest.fixture(scope="module")
def etcd():
    cluster = EtcdCluster(1)
    yield cluster
    cluster.stop()


@pytest.fixture
def stores(etcd):
    """A factory of EtcdStores over the module's etcd, emptied first; all closed afterwards."""
    made: list[EtcdStore] = []
    assert etcd.etcdctl("del", "--prefix", "/registry/").returncode == 0

    def make(history_limit: int = HISTORY_LIMIT) -> EtcdStore:
        made.append(EtcdStore(etcd.endpoints, history_limit=history_limit))
        return made[-1]

    yield make
    for store in made:
        store.close()


def deployment(name: str, replicas: int = 1) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas}}


# --- the Store's own behaviours, on etcd -------------------------------------------------------------

SHARED = ["test_create_sets_resource_version_and_refuses_duplicates", "test_update_with_stale_revision_conflicts",
          "test_returned_objects_are_copies", "test_delete_missing_is_not_found",
          "test_list_is_sorted_and_filtered_by_namespace", "test_watch_replays_from_revision_then_follows",
          "test_compaction_makes_old_revisions_gone",
          "test_revisions_only_grow_and_watch_sees_each_later_change_once_in_order",
          "test_entries_at_a_revision_are_what_a_list_said_then", "test_entries_at_a_compacted_revision_are_gone"]


@pytest.mark.parametrize("name", SHARED)
def test_the_store_tests_pass_on_etcd(name, etcd, monkeypatch):
    """tests/test_store.py's tests with ``Store(...)`` made an EtcdStore over an emptied etcd."""
    made: list[EtcdStore] = []

    def make(backend=None, history_limit: int = HISTORY_LIMIT) -> EtcdStore:
        while made:   # the property tests make one store per example
            made.pop().close()
        etcd.etcdctl("del", "--prefix", "/registry/")
        made.append(EtcdStore(etcd.endpoints, history_limit=history_limit))
        return made[-1]

    monkeypatch.setattr(base, "Store", make)
    try:
        getattr(base, name)()
    finally:
        while made:
            made.pop().close()


# --- keys and values ---------------------------------------------------------------------------------


def test_keys_are_upstreams_layout_and_values_carry_no_resource_version(stores, etcd):
    store = stores()
    created = store.create(("deployments.apps", "default", "web"), deployment("web"))
    store.create(("namespaces", "", "team"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    store.create(("widgets.example.com", "default", "w"),
                 {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}})
    listed = etcd.etcdctl("get", "--prefix", "/registry/", "--keys-only").stdout.split()
    assert listed == ["/registry/deployments/default/web", "/registry/example.com/widgets/default/w",
                      "/registry/namespaces/team"]
    answer = json.loads(etcd.etcdctl("get", "/registry/deployments/default/web", "-w", "json").stdout)
    kv = answer["kvs"][0]
    assert json.loads(base64.b64decode(kv["value"])) == deployment("web")   # no resourceVersion inside
    assert created["metadata"]["resourceVersion"] == str(kv["mod_revision"])
    for key in [("deployments.apps", "default", "web"), ("pods", "default", "p"), ("nodes", "", "n1"),
                ("widgets.example.com", "default", "w"), ("clusterroles.rbac.authorization.k8s.io", "", "admin")]:
        assert store_key(etcd_key(key)) == key


def test_secrets_are_encrypted_in_etcd_and_plain_in_the_watch_cache(stores, etcd):
    from test_encryption import KEY1, aes, config

    from minik8s.store.encryption import parse_config

    stores()   # empties etcd
    store = EtcdStore(etcd.endpoints, transformer=parse_config(config(aes("aesgcm", ("k1", KEY1)))))
    try:
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "default"},
                  "data": {"password": base64.b64encode(b"hunter2").decode()}}
        store.create(("secrets", "default", "db"), secret)
        store.create(("configmaps", "default", "c"), {"apiVersion": "v1", "kind": "ConfigMap",
                                                      "metadata": {"name": "c", "namespace": "default"}})
        def value(key: str) -> bytes:
            return base64.b64decode(json.loads(etcd.etcdctl("get", key, "-w", "json").stdout)["kvs"][0]["value"])

        stored = value("/registry/secrets/default/db")
        assert stored.startswith(b"k8s:enc:aesgcm:v1:k1:") and b"aHVudGVyMg" not in stored
        assert json.loads(value("/registry/configmaps/default/c"))["kind"] == "ConfigMap"
        assert store.get(("secrets", "default", "db"))["data"] == secret["data"]
    finally:
        store.close()


def test_bad_store_urls_are_refused_with_the_reason():
    assert parse_endpoints("etcd://127.0.0.1:2379,127.0.0.2:2379") == ["127.0.0.1:2379", "127.0.0.2:2379"]
    for bad in ("etcd://", "http://127.0.0.1:2379", "etcd://127.0.0.1", "etcd://127.0.0.1:99999"):
        with pytest.raises(ValueError):
            parse_endpoints(bad)


def test_an_unreachable_etcd_is_a_store_error():
    with pytest.raises(StoreError, match="etcd is unavailable"):
        EtcdStore(["127.0.0.1:1"])


# --- several API servers over one etcd -----------------------------------------------------------------


def test_two_stores_over_one_etcd_see_each_others_writes_and_the_same_events(stores):
    one, two = stores(), stores()
    start = one.revision
    seen_one, seen_two = [], []
    one.watch("deployments.apps", None, start, seen_one.append)
    two.watch("deployments.apps", None, start, seen_two.append)
    a = one.create(("deployments.apps", "default", "a"), deployment("a"))
    b = two.create(("deployments.apps", "default", "b"), deployment("b"))
    # two's mirror may lag behind one's write a moment, but a write through two waits for two's mirror to reach its revision, which is after a's.
    assert two.get(("deployments.apps", "default", "a")) == a
    one.update(("deployments.apps", "default", "b"), deployment("b", 3), int(b["metadata"]["resourceVersion"]))
    two.delete(("deployments.apps", "default", "a"))
    wait_for(lambda: len(seen_one) == 4 and len(seen_two) == 4, what="both watches to see four events")
    assert [(e.revision, e.type, e.key[2]) for e in seen_one] == [(e.revision, e.type, e.key[2]) for e in seen_two]
    assert [e.type for e in seen_one] == ["ADDED", "ADDED", "MODIFIED", "DELETED"]
    assert two.count("deployments.apps", "default") == one.count("deployments.apps", "default") == 1


@settings(max_examples=15, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from([0, 1]), st.sampled_from(["create", "update", "delete"]),
                              st.sampled_from("abc")), max_size=30))
def test_writes_through_two_stores_are_seen_by_both_in_one_order(etcd, ops):
    """Property: whatever two API servers write, in any interleaving, each one's watch sees every acknowledged
    write once, in revision order, the same as the other's."""
    assert etcd.etcdctl("del", "--prefix", "/registry/").returncode == 0
    pair = [EtcdStore(etcd.endpoints), EtcdStore(etcd.endpoints)]
    try:
        start = max(store.revision for store in pair)
        seen: list[list] = [[], []]
        for store, log in zip(pair, seen):
            store.watch("pods", None, start, log.append)
        acknowledged = []
        for which, op, name in ops:
            key = ("pods", "default", name)
            try:
                obj = (pair[which].create(key, base.pod(name)) if op == "create" else
                       pair[which].update(key, base.pod(name, len(acknowledged))) if op == "update" else
                       pair[which].delete(key))
            except (AlreadyExistsError, NotFoundError):
                continue
            acknowledged.append((int(obj["metadata"]["resourceVersion"]), name))
        last = max((rv for rv, _ in acknowledged), default=0)
        wait_for(lambda: all(store.revision >= last for store in pair), what="both mirrors to catch up")
        for log in seen:
            assert [(e.revision, e.key[2]) for e in log] == acknowledged
    finally:
        for store in pair:
            store.close()


def test_a_revision_written_through_another_store_is_waited_for(stores):
    one, two = stores(), stores()
    seen = []
    with two._lock:   # two's mirror cannot apply anything while this test holds its lock
        first = int(one.create(("pods", "default", "a"), base.pod("a"))["metadata"]["resourceVersion"])
        second = int(one.create(("pods", "default", "b"), base.pod("b"))["metadata"]["resourceVersion"])
        assert two.revision < first
        two.watch("pods", None, first, seen.append)   # waits (letting the mirror in) until it reaches `first`
        two.wait_for_revision(second)
        assert [name for (_, _, name), _ in two.entries("pods")[0]] == ["a", "b"]
    wait_for(lambda: seen, what="the watch to see b")
    assert [(e.revision, e.key[2]) for e in seen] == [(second, "b")]   # nothing at or before `first`


def test_conflicts_between_two_stores_are_decided_by_etcd(stores):
    one, two = stores(), stores()
    key = ("deployments.apps", "default", "web")
    created = one.create(key, deployment("web"))
    with pytest.raises(AlreadyExistsError):
        two.create(key, deployment("web", 2))
    rv = int(created["metadata"]["resourceVersion"])
    two.update(key, deployment("web", 2), rv)
    with pytest.raises(ConflictError):
        one.update(key, deployment("web", 3), rv)   # stale: two wrote first
    with pytest.raises(ConflictError):
        one.delete(key, rv)
    # Without an expected revision a write applies to whatever is current, even if the mirror lags.
    assert one.update(key, deployment("web", 4))["spec"]["replicas"] == 4
    assert two.delete(key)["spec"]["replicas"] == 4
    with pytest.raises(NotFoundError):
        one.update(key, deployment("web", 5))
    with pytest.raises(NotFoundError):
        two.delete(key)


def test_compaction_compacts_etcd_and_old_watches_are_gone(stores, etcd):
    store = stores()
    first = int(store.create(("deployments.apps", "default", "a"), deployment("a"))["metadata"]["resourceVersion"])
    store.update(("deployments.apps", "default", "a"), deployment("a", 2))
    store.compact(store.revision)
    with pytest.raises(CompactedError, match=f"too old resource version: {first}"):
        store.watch("deployments.apps", None, first, lambda e: None)
    old = etcd.etcdctl("get", "/registry/deployments/default/a", f"--rev={first}")
    assert old.returncode != 0 and "required revision has been compacted" in old.stderr
    # A new store over the compacted etcd starts from what is there.
    assert stores().get(("deployments.apps", "default", "a"))["spec"]["replicas"] == 2


def test_the_compactor_expires_events_and_compacts_etcd_and_waits_while_etcd_is_down():
    from test_compaction import event

    from minik8s.apiserver.compaction import EVENT_TTL_SECONDS, Compactor
    from minik8s.clock import VirtualClock

    cluster = EtcdCluster(1)
    store = EtcdStore(cluster.endpoints)
    try:
        clock = VirtualClock()
        compactor = Compactor(store, clock)
        store.create(("events", "default", "old"), event("old", clock.now()))
        clock.set(clock.now() + EVENT_TTL_SECONDS)
        compactor.tick()   # the event expires; etcd is compacted to the store's first revision
        assert store.get(("events", "default", "old")) is None
        store.create(("events", "default", "older"), event("older", clock.now()))
        clock.set(clock.now() + EVENT_TTL_SECONDS)
        cluster.kill(0)
        compactor.tick()   # neither expiry nor compaction can reach etcd: nothing raises, the next tick retries
        cluster.start(0)
        cluster.wait_healthy()
        wait_for(lambda: compactor.tick() or store.get(("events", "default", "older")) is None, timeout=30,
                 what="the event to expire once etcd is back")
        revision = store.revision
        assert "compacted" in cluster.etcdctl("get", "/registry/events/default/older", f"--rev={revision - 2}").stderr
    finally:
        store.close()
        cluster.stop()


# --- a member killed mid-run ---------------------------------------------------------------------------


def test_killing_a_member_mid_run_loses_no_acknowledged_write():
    cluster = EtcdCluster(3)
    try:
        # Every store talks to the leader first (the mirror's watch too): killing it breaks them all mid-run.
        leader = cluster.leader()
        order = [cluster.endpoints[leader]] + [e for i, e in enumerate(cluster.endpoints) if i != leader]
        stores = [EtcdStore(order) for _ in range(3)]
        acknowledged: dict[str, int] = {}   # name -> the last value acknowledged
        attempted: dict[str, list[int]] = {}   # name -> values tried after that (failed: may or may not be there)
        progress = threading.Semaphore(0)
        stop = threading.Event()
        lock = threading.Lock()

        def writer(index: int) -> None:
            store = stores[index]
            for n in range(10_000):
                if stop.is_set():
                    return
                name = f"w{index}-{n % 7}"
                key = ("configmaps", "default", name)
                obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"},
                       "data": {"v": str(n)}}
                try:
                    store.update(key, obj) if n >= 7 else store.create(key, obj)
                except StoreError:
                    with lock:
                        attempted.setdefault(name, []).append(n)
                    continue
                with lock:
                    acknowledged[name] = n
                    attempted[name] = []
                progress.release()

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
        for thread in threads:
            thread.start()
        for _ in range(60):
            assert progress.acquire(timeout=30), "the writers made no progress"
        cluster.kill(leader)
        for _ in range(120):   # and they keep writing through the other two members
            assert progress.acquire(timeout=60), "the writers made no progress after the kill"
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        after = EtcdStore(order[1:])
        try:
            for name, value in acknowledged.items():
                stored = after.get(("configmaps", "default", name))
                assert stored is not None, f"{name} was acknowledged and is gone"
                assert int(stored["data"]["v"]) in [value, *attempted.get(name, [])]
            # Every store's mirror followed to the end, through another member, and agrees with etcd.
            for store in stores:
                wait_for(lambda: store.revision >= after.revision, what="the mirror to catch up")   # noqa: B023
                assert store.list("configmaps")[0] == after.list("configmaps")[0]
        finally:
            after.close()
            for store in stores:
                store.close()
    finally:
        cluster.stop()


def test_a_watch_cache_left_behind_a_compaction_lists_again_and_tells_its_watchers():
    cluster = EtcdCluster(3)
    try:
        behind = EtcdStore(cluster.endpoints[:1])   # knows member 0 only
        ahead = EtcdStore(cluster.endpoints[1:])
        for name in ("kept", "changed", "deleted"):
            ahead.create(("configmaps", "default", name), {"apiVersion": "v1", "kind": "ConfigMap",
                                                           "metadata": {"name": name, "namespace": "default"}})
        wait_for(lambda: behind.revision == ahead.revision, what="the mirrors to agree")
        seen = []
        behind.watch("configmaps", None, behind.revision, seen.append)
        before = behind.revision
        cluster.kill(0)   # behind's watch breaks and cannot resume while the others write and compact
        ahead.update(("configmaps", "default", "changed"), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "changed", "namespace": "default"}, "data": {"v": "1"}})
        ahead.delete(("configmaps", "default", "deleted"))
        ahead.create(("configmaps", "default", "new"), {"apiVersion": "v1", "kind": "ConfigMap",
                                                        "metadata": {"name": "new", "namespace": "default"}})
        ahead.compact(ahead.revision)
        cluster.start(0)
        wait_for(lambda: behind.revision == ahead.revision, timeout=30, what="the left-behind mirror to list again")
        assert behind.list("configmaps")[0] == ahead.list("configmaps")[0]
        assert sorted((e.type, e.key[2]) for e in seen) == [("ADDED", "new"), ("DELETED", "deleted"),
                                                           ("MODIFIED", "changed")]
        assert {e.revision for e in seen} == {ahead.revision}
        with pytest.raises(CompactedError):
            behind.watch("configmaps", None, before, lambda e: None)
    finally:
        behind.close()
        ahead.close()
        cluster.stop()


# --- minik8s server --store etcd:// ----------------------------------------------------------------------


@needs_kubectl
def test_minik8s_server_keeps_its_objects_in_etcd(tmp_path, etcd):
    assert etcd.etcdctl("del", "--prefix", "/registry/").returncode == 0
    server = start_server(tmp_path, "--store", etcd.url, "--runtime", "simulated", "--nodes", "1")
    try:
        created = server.kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2")
        assert created.returncode == 0, created.stderr
        assert created.stdout.strip() == "deployment.apps/web created"
        wait_for(lambda: server.kubectl("get", "pods", "-l", "app=web", "--no-headers").stdout.count("Running") == 2,
                 timeout=60, what="two Running pods")
        rv = json.loads(server.kubectl("get", "deployment", "web", "-o", "json").stdout)["metadata"]["resourceVersion"]
        assert server.kubectl("create", "configmap", "later").returncode == 0   # so rv is not etcd's last revision
        keys = etcd.etcdctl("get", "--prefix", "/registry/deployments", "--keys-only").stdout.split()
        assert keys == ["/registry/deployments/default/web"]
    finally:
        server.stop()
    server = start_server(tmp_path, "--store", etcd.url, "--runtime", "simulated", "--nodes", "1")
    try:
        listed = server.kubectl("get", "deployments")
        assert listed.returncode == 0 and listed.stdout.split("\n")[1].split()[0] == "web", listed.stdout
        pods = server.kubectl("get", "pods", "-l", "app=web", "--no-headers")
        assert len(pods.stdout.splitlines()) == 2, pods.stdout
        # The new API server's watch cache begins now: a watch from before it is 410 Gone.
        status, _, body = server.request("GET", f"/apis/apps/v1/namespaces/default/deployments?watch=true"
                                                f"&resourceVersion={rv}&timeoutSeconds=1")
        event = json.loads(body.splitlines()[0])
        assert status == 200 and event["type"] == "ERROR"
        assert (event["object"]["kind"], event["object"]["code"], event["object"]["reason"]) == (
            "Status", 410, "Expired")
        assert event["object"]["message"].startswith(f"too old resource version: {rv} (")
    finally:
        server.stop()


@needs_kubectl
def test_two_api_servers_over_one_etcd_serve_the_same_objects_and_events(tmp_path, etcd):
    assert etcd.etcdctl("del", "--prefix", "/registry/").returncode == 0
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = start_server(tmp_path / "a", "--store", etcd.url, "--runtime", "simulated", "--nodes", "0")
    two = start_server(tmp_path / "b", "--store", etcd.url, "--runtime", "simulated", "--nodes", "0")
    try:
        before = json.loads(one.request("GET", "/api/v1/namespaces/default/configmaps")[2])["metadata"][
            "resourceVersion"]
        assert one.kubectl("create", "configmap", "shared", "--from-literal=k=1").returncode == 0
        made = json.loads(one.kubectl("get", "configmap", "shared", "-o", "json").stdout)
        # A watch on the other server from before the write sees it, at the same resourceVersion. (Only this
        # ConfigMap: each server has its own CA here, and both publish theirs in kube-root-ca.crt.)
        status, _, body = two.request("GET", f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion="
                                             f"{before}&fieldSelector=metadata.name%3Dshared&timeoutSeconds=1")
        events = [json.loads(line) for line in body.splitlines()]
        assert status == 200 and [(e["type"], e["object"]["metadata"]["name"], e["object"]["metadata"][
            "resourceVersion"]) for e in events] == [("ADDED", "shared", made["metadata"]["resourceVersion"])]
        # An update through the second server with the first's resourceVersion succeeds; a stale one conflicts.
        made["data"]["k"] = "2"
        assert two.kubectl("replace", "-f", "-", stdin=json.dumps(made)).returncode == 0
        made["data"]["k"] = "3"
        stale = one.kubectl("replace", "-f", "-", stdin=json.dumps(made))
        assert stale.returncode == 1 and "Operation cannot be fulfilled on configmaps \"shared\"" in stale.stderr
        assert one.kubectl("get", "configmap", "shared", "-o", "jsonpath={.data.k}").stdout == "2"
    finally:
        one.stop()
        two.stop()


@needs_kubectl
def test_while_etcd_is_down_writes_time_out_and_the_server_recovers_when_it_returns(tmp_path):
    cluster = EtcdCluster(1)
    server = start_server(tmp_path, "--store", cluster.url, "--runtime", "simulated", "--nodes", "0")
    try:
        assert server.kubectl("create", "configmap", "before").returncode == 0
        cluster.kill(0)
        down = server.kubectl("create", "configmap", "during")
        assert down.returncode == 1
        assert down.stderr.strip() == ("error: failed to create configmap: Timeout: request did not complete "
                                       "within requested timeout - context deadline exceeded")
        cluster.start(0)
        cluster.wait_healthy()
        wait_for(lambda: server.kubectl("create", "configmap", "after").returncode == 0, what="a write to succeed")
        names = server.kubectl("get", "configmaps", "-o", "name").stdout.split()
        assert "configmap/before" in names and "configmap/after" in names and "configmap/during" not in names
    finally:
        server.stop()
        cluster.stop()


def test_minik8s_server_says_when_etcd_is_unreachable(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "minik8s", "server", "--port", "0", "--data-dir", str(tmp_path),
                           "--kubeconfig", str(tmp_path / "kubeconfig"), "--store", "etcd://127.0.0.1:1"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip() == ("error: etcd is unavailable: http://127.0.0.1:1: Failed to establish a new "
                                   "connection: [Errno 111] Connection refused")
    done = subprocess.run([sys.executable, "-m", "minik8s", "server", "--port", "0", "--data-dir", str(tmp_path),
                           "--kubeconfig", str(tmp_path / "kubeconfig"), "--store", "etcd://nowhere"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip() == 'error: invalid etcd member "nowhere" in "etcd://nowhere": use HOST:PORT'
