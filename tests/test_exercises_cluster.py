"""The cluster lab's checks (chapter 18): each fails on the lab's starting state with the hint that state
deserves, and on the wrong answers a student may plausibly give, on an in-process virtual-clock cluster.
(tests/test_checks.py also proves every check passes on its solution.)"""

from __future__ import annotations

from minik8s.lab.exercises import cluster as ex
from tests.exercise_support import fresh as _fresh
from tests.exercise_support import started as _started
from tests.exercise_support import verdict as _verdict


# --- cluster-join -------------------------------------------------------------------------------

def test_join_fails_on_the_start_state() -> None:
    with _fresh(3) as c:
        passed, message = _verdict(c, "cluster-join")
    assert not passed and message.startswith("there is no Node node-4")


def test_join_wants_the_label_and_accepts_it_given_after_joining() -> None:
    with _fresh(3) as c:
        c.add_node("node-4", labels={"disk": "hdd"})
        passed, message = _verdict(c, "cluster-join")
        assert not passed and message.startswith("node-4 has disk=hdd, not disk=ssd")
        c.kubectl("label node node-4 disk=ssd --overwrite")
        assert _verdict(c, "cluster-join") == (True, "passed")


def test_join_wants_the_node_ready() -> None:
    with _fresh(3) as c:
        c.add_node("node-4", labels={"disk": "ssd"})
        c.stop_kubelet("node-4")
        c.advance(ex.SILENCE_SECONDS)
        passed, message = _verdict(c, "cluster-join")
    assert not passed and message.startswith("node-4 is not Ready")


# --- cluster-lost-node --------------------------------------------------------------------------

def test_lost_node_fails_on_the_start_state_naming_the_node_and_its_last_renewal() -> None:
    with _started("cluster-lost-node", nodes=3) as c:
        passed, message = _verdict(c, "cluster-lost-node")
    assert not passed
    assert message.startswith("node-2 is not Ready (its kubelet last renewed its Lease at 2025-01-01T00:00:10")


def test_lost_node_the_start_state_had_a_web_pod_on_the_lost_node() -> None:
    with _started("cluster-lost-node", nodes=3) as c:
        nodes = c.kubectl("get pods -l app=web -o jsonpath={.items[*].spec.nodeName}").split()
    assert sorted(nodes) == ["node-1", "node-2", "node-3"]


def test_lost_node_bringing_the_kubelet_back_also_passes() -> None:
    with _started("cluster-lost-node", nodes=3) as c:
        c.start_kubelet(ex.LOST_NODE)
        c.advance(ex.SETTLE_SECONDS)
        assert _verdict(c, "cluster-lost-node") == (True, "passed")


def test_lost_node_after_the_deletion_the_replacement_runs_on_a_ready_node() -> None:
    with _started("cluster-lost-node", nodes=3) as c:
        c.kubectl(f"delete node {ex.LOST_NODE}")
        c.advance(ex.SETTLE_SECONDS)
        assert _verdict(c, "cluster-lost-node") == (True, "passed")
        nodes = c.kubectl("get pods -l app=web -o jsonpath={.items[*].spec.nodeName}").split()
    assert len(nodes) == 3 and ex.LOST_NODE not in nodes


# --- cluster-maintenance ------------------------------------------------------------------------

def test_maintenance_fails_on_the_start_state() -> None:
    with _started("cluster-maintenance", nodes=3) as c:
        passed, message = _verdict(c, "cluster-maintenance")
    assert (passed, message[:40]) == (False, "node-3 is still schedulable: new Pods ma")


def test_maintenance_cordon_alone_leaves_the_pod_there() -> None:
    with _started("cluster-maintenance", nodes=3) as c:
        c.kubectl("cordon node-3")
        passed, message = _verdict(c, "cluster-maintenance")
    assert not passed and message.endswith("still runs on node-3: its Pods must move before the maintenance")


def test_maintenance_deleting_the_node_of_a_live_kubelet_is_no_answer_it_registers_again() -> None:
    with _started("cluster-maintenance", nodes=3) as c:
        c.kubectl("delete node node-3")
        c.advance(ex.SETTLE_SECONDS)
        assert "node-3" in c.kubectl("get nodes -o name")
        passed, message = _verdict(c, "cluster-maintenance")
    assert not passed and message.startswith("node-3 is still schedulable")


def test_maintenance_drain_passes_and_web_runs_on_the_other_nodes() -> None:
    with _started("cluster-maintenance", nodes=3) as c:
        c.kubectl("drain node-3 --ignore-daemonsets")
        c.kubectl("scale deployment web --replicas=5")
        c.advance(ex.SETTLE_SECONDS)
        assert _verdict(c, "cluster-maintenance") == (True, "passed")
        nodes = c.kubectl("get pods -l app=web -o jsonpath={.items[*].spec.nodeName}").split()
    assert len(nodes) == 5 and "node-3" not in nodes
