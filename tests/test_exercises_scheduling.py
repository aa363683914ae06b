"""The scheduling lab's checks give the right hint for plausible wrong answers (minik8s.lab.exercises.scheduling)."""

from __future__ import annotations

import pytest

from minik8s import Cluster
from minik8s.lab.checks import evaluate
from minik8s.lab.exercises.scheduling import CUDA, SHOP, ZONAL, label_zones
from minik8s.lab.session import ClusterView, InProcess


@pytest.fixture
def cluster():
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        label_zones(c)
        yield c


def _check(cluster: Cluster, name: str) -> tuple[bool, str]:
    return evaluate(name, ClusterView(InProcess(cluster)))


def test_a_spread_without_a_constraint_or_with_schedule_anyway_is_not_accepted(cluster):
    no_constraint = ZONAL.split("      topologySpreadConstraints:")[0] + "      containers:\n" + ZONAL.split(
        "      containers:\n")[1]
    cluster.apply(no_constraint)
    cluster.advance(30)
    passed, message = _check(cluster, "scheduling-spread")
    assert not passed and "topologySpreadConstraint" in message
    cluster.apply(ZONAL.replace("DoNotSchedule", "ScheduleAnyway"))
    cluster.advance(30)
    assert _check(cluster, "scheduling-spread") == (
        False, "whenUnsatisfiable ScheduleAnyway is only a preference: the scheduler may break it; use DoNotSchedule")


def test_a_toleration_alone_or_a_node_name_alone_is_not_enough_for_the_gpu_pod(cluster):
    cluster.kubectl("label node node-3 accelerator=gpu")
    cluster.kubectl("taint node node-3 dedicated=gpu:NoSchedule")
    cluster.apply(CUDA.replace("  nodeSelector:\n    accelerator: gpu\n", ""))
    cluster.advance(10)
    passed, message = _check(cluster, "scheduling-gpu")
    assert not passed and message.startswith("cuda could also run on node-1, node-2: a toleration lets a pod")
    cluster.kubectl("delete pod cuda --wait=false")
    cluster.advance(40)
    cluster.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: cuda}\nspec:\n  nodeName: node-3\n"
                  "  containers: [{name: cuda, image: nginx}]\n")
    cluster.advance(10)
    passed, message = _check(cluster, "scheduling-gpu")
    assert not passed and "node(s) had untolerated taint {dedicated: gpu}" in message


def test_deleting_the_budget_or_only_cordoning_is_not_a_drain(cluster):
    cluster.apply(SHOP)
    cluster.advance(30)
    cluster.kubectl("cordon node-1")
    passed, message = _check(cluster, "scheduling-drain")
    assert not passed and message.startswith("pods still run on node-1: shop-")
    cluster.kubectl("delete pdb shop")
    assert _check(cluster, "scheduling-drain")[1].startswith("the PodDisruptionBudget shop must stay as it was")
