"""The storage lab's checks (chapter 15): each fails on the lab's starting state with the hint that
state deserves, and the hints for the wrong answers a student may plausibly give, on an in-process
virtual-clock cluster. (tests/test_checks.py also proves every check passes on its solution.)"""

from __future__ import annotations

import json

from minik8s.cluster import Cluster
from minik8s.lab.checks import REGISTRY, load_all
from minik8s.lab.exercises import storage
from minik8s.lab.session import ClusterView, InProcess

load_all()


def _verdict(cluster: Cluster, name: str) -> tuple[bool, str]:
    return REGISTRY[name].evaluate(ClusterView(InProcess(cluster)))


def _cluster() -> Cluster:
    return Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0)


def _started(name: str) -> Cluster:
    cluster = _cluster()
    start = REGISTRY[name].start_state
    assert start is not None
    start(cluster)
    return cluster


def _jsonpath(cluster: Cluster, args: str) -> str:
    return cluster.kubectl(args).strip().strip("'")


# --- storage-share ------------------------------------------------------------------------------

def test_share_fails_on_the_start_state_because_web_mounts_nothing() -> None:
    with _started("storage-share") as c:
        assert _jsonpath(c, "get pod pair -o jsonpath={.status.phase}") == "Running"
        passed, message = _verdict(c, "storage-share")
    assert not passed and "container web mounts no volume" in message and storage.NGINX_ROOT in message


def test_two_emptydirs_are_two_directories() -> None:
    second = storage.PAIR_POD.replace("    emptyDir: {}\n", "    emptyDir: {}\n  - name: site\n    emptyDir: {}\n")
    with _cluster() as c:
        c.apply(second + storage.WEB_MOUNT.replace("name: html", "name: site"))
        c.advance(5)
        passed, message = _verdict(c, "storage-share")
    assert not passed and "serves volume site but writer writes to html" in message


def test_a_hostpath_or_a_wrong_mount_path_gets_its_own_hint() -> None:
    with _cluster() as c:
        c.apply(storage.PAIR_POD.replace("emptyDir: {}", "hostPath: {path: /srv/html}") + storage.WEB_MOUNT)
        passed, message = _verdict(c, "storage-share")
        assert not passed and "is a hostPath" in message and "emptyDir" in message
        c.kubectl("delete pod pair")
        c.apply(storage.PAIR_POD + storage.WEB_MOUNT.replace(storage.NGINX_ROOT, "/html"))
        passed, message = _verdict(c, "storage-share")
    assert not passed and f"mounts html at /html, but nginx serves {storage.NGINX_ROOT}" in message


# --- storage-wait -------------------------------------------------------------------------------

def test_wait_fails_on_the_start_state() -> None:
    with _started("storage-wait") as c:
        passed, message = _verdict(c, "storage-wait")
    assert (passed, message) == (False, "there is no StorageClass named local-wait")


def test_an_immediate_class_is_refused() -> None:
    with _cluster() as c:
        c.apply(storage.WAIT_CLASS.replace("WaitForFirstConsumer", "Immediate"))
        passed, message = _verdict(c, "storage-wait")
    assert not passed and "binds Immediate" in message and "WaitForFirstConsumer" in message


def test_a_claim_waits_for_its_pod_and_is_provisioned_on_its_node() -> None:
    with _cluster() as c:
        c.apply(storage.WAIT_CLASS + "---\n" + storage.CACHE_CLAIM)
        c.advance(10)
        # the claim really waits: Pending, no volume made
        assert _jsonpath(c, "get pvc cache -o jsonpath={.status.phase}") == "Pending"
        assert "pvc-" not in c.kubectl("get pv")
        passed, message = _verdict(c, "storage-wait")
        assert not passed and "no Pod named cache-user" in message and "waits for its first consumer" in message
        c.apply(storage.CACHE_USER_POD)
        c.advance(10)
        claim = json.loads(c.kubectl("get pvc cache -o json"))
        assert claim["metadata"]["annotations"][storage.SELECTED_NODE] == "node-2"
        assert claim["status"]["phase"] == "Bound"
        assert _verdict(c, "storage-wait") == (True, "passed")


def test_a_pod_on_another_node_and_a_claim_of_the_default_class() -> None:
    with _cluster() as c:
        c.apply(storage.WAIT_CLASS + "---\n" + storage.CACHE_CLAIM + "---\n"
                + storage.CACHE_USER_POD.replace("node-2", "node-1"))
        c.advance(10)
        passed, message = _verdict(c, "storage-wait")
        assert not passed and "runs on node-1" in message and "node-2" in message
        c.kubectl("delete pod cache-user")
        c.kubectl("delete pvc cache")
        c.apply(storage.CACHE_CLAIM.replace("  storageClassName: local-wait\n", ""))
        passed, message = _verdict(c, "storage-wait")
    assert not passed and "claim cache is of class standard" in message


# --- storage-keep -------------------------------------------------------------------------------

def test_keep_fails_on_the_start_state_because_archive_is_released() -> None:
    with _started("storage-keep") as c:
        assert _jsonpath(c, "get pv archive -o jsonpath={.status.phase}") == "Released"
        assert _jsonpath(c, "get pv archive -o jsonpath={.spec.claimRef.name}") == "notes"
        passed, message = _verdict(c, "storage-keep")
    assert not passed and "archive is Released" in message and "spec.claimRef" in message
    assert "; then create the claim notes-again" in message


def test_a_claim_without_a_class_gets_a_new_empty_volume() -> None:
    with _started("storage-keep") as c:
        c.apply(storage.claim_manifest("notes-again").replace('  storageClassName: ""\n', ""))
        c.advance(5)
        passed, message = _verdict(c, "storage-keep")
    assert not passed and "claim notes-again is bound to pvc-" in message and "default class" in message


def test_a_claim_before_the_claimref_is_removed_stays_pending_until_it_is() -> None:
    with _started("storage-keep") as c:
        c.apply(storage.claim_manifest("notes-again") + "---\n" + storage.READER_POD)
        c.advance(5)
        assert _jsonpath(c, "get pvc notes-again -o jsonpath={.status.phase}") == "Pending"
        passed, message = _verdict(c, "storage-keep")
        assert not passed and message.startswith("archive is Released")
        c.kubectl(["patch", "pv", "archive", "--type", "json", "-p", storage.REMOVE_CLAIM_REF])
        c.advance(5)
        assert _jsonpath(c, "get pvc notes-again -o jsonpath={.spec.volumeName}") == "archive"
        assert _verdict(c, "storage-keep") == (True, "passed")


def test_a_volume_switched_to_delete_is_refused() -> None:
    with _started("storage-keep") as c:
        c.kubectl(["patch", "pv", "archive", "-p", '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}'])
        passed, message = _verdict(c, "storage-keep")
    assert not passed and "no longer reclaimed with Retain" in message
