"""Helpers for the tests of the labs' exercise checks: a chapter's start state on a fresh in-process
virtual-clock cluster, and a check's verdict on a cluster. (Older test_exercises_* files still carry
their own copies of these.)"""

from __future__ import annotations

from minik8s.cluster import Cluster
from minik8s.lab.checks import REGISTRY, load_all
from minik8s.lab.session import ClusterView, InProcess

load_all()


def verdict(cluster: Cluster, name: str) -> tuple[bool, str]:
    """What ``check(name)`` would say about ``cluster``: (passed, message)."""
    return REGISTRY[name].evaluate(ClusterView(InProcess(cluster)))


def fresh(nodes: int = 2) -> Cluster:
    return Cluster(nodes=nodes, runtime="simulated", clock="virtual", seed=0)


def started(name: str, nodes: int = 2) -> Cluster:
    """A fresh cluster in exercise ``name``'s start state (the caller stops it: ``with started(...) as c``)."""
    cluster = fresh(nodes)
    start = REGISTRY[name].start_state
    assert start is not None
    start(cluster)
    return cluster
