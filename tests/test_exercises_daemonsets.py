"""The DaemonSets lab's checks give a helpful hint on plausible wrong answers (chapter 10)."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s.cluster import Cluster
from minik8s.lab.checks import evaluate
from minik8s.lab.exercises import daemonsets
from minik8s.lab.session import ClusterView, InProcess


@pytest.fixture
def cluster() -> Any:
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def check(cluster: Cluster, name: str) -> tuple[bool, str]:
    return evaluate(name, ClusterView(InProcess(cluster)))


def test_an_agent_without_a_node_selector_runs_on_the_other_node_too(cluster: Cluster) -> None:
    cluster.kubectl("label node node-1 node-3 disk=ssd")
    cluster.kubectl("apply -f -", stdin=daemonsets.daemonset("disk-agent"))
    cluster.advance(10)
    passed, message = check(cluster, "daemonsets-selector")
    assert not passed and message.startswith("disk-agent runs on node-2, which has no disk=ssd label")


def test_removing_the_taint_is_not_tolerating_it(cluster: Cluster) -> None:
    cluster.kubectl(f"taint node node-3 {daemonsets.CONTROL_PLANE_TAINT}:NoSchedule")
    cluster.kubectl("apply -f -", stdin=daemonsets.daemonset("metrics-agent"))
    cluster.kubectl(f"taint node node-3 {daemonsets.CONTROL_PLANE_TAINT}:NoSchedule-")
    cluster.advance(10)
    passed, message = check(cluster, "daemonsets-tolerate")
    assert not passed and "node-3 no longer has the node-role.kubernetes.io/control-plane:NoSchedule taint" in message


@pytest.mark.parametrize("rolling, hint", [
    ("", "maxUnavailable resolves to 1 pod(s) of 3"),   # the default strategy
    ("{maxUnavailable: 25%}", "maxUnavailable resolves to 1 pod(s) of 3 (a DaemonSet rounds percentages up)"),
    ("{maxSurge: 100%, maxUnavailable: 0}", "maxSurge resolves to 3 pods"),
])
def test_surge_hints(cluster: Cluster, rolling: str, hint: str) -> None:
    strategy = f"  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate: {rolling}\n" if rolling else ""
    cluster.kubectl("apply -f -", stdin=daemonsets.daemonset("net-agent", strategy=strategy))
    cluster.advance(10)
    passed, message = check(cluster, "daemonsets-surge")
    assert not passed and message.startswith(hint)


def test_max_surge_alone_is_refused_by_the_api_server(cluster: Cluster) -> None:
    strategy = "  updateStrategy:\n    rollingUpdate: {maxSurge: 1}\n"
    code, _, err = cluster.run_kubectl("apply -f -", stdin=daemonsets.daemonset("net-agent", strategy=strategy))
    assert code == 1 and "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when " \
                          "maxUnavailable is non-zero" in err


def test_percentages_round_up_as_the_controller_does() -> None:
    assert daemonsets.resolve("25%", 3) == 1 and daemonsets.resolve("34%", 3) == 2
    assert daemonsets.resolve(0, 3) == 0 and daemonsets.resolve("x", 3) is None and daemonsets.resolve(True, 3) is None


def test_an_agent_without_the_toleration_is_told_why_node_3_has_none(cluster: Cluster) -> None:
    cluster.kubectl(f"taint node node-3 {daemonsets.CONTROL_PLANE_TAINT}:NoSchedule")
    cluster.kubectl("apply -f -", stdin=daemonsets.daemonset("metrics-agent", pod_spec=(
        "      tolerations: [{key: dedicated, operator: Exists, effect: NoSchedule}]\n")))
    cluster.advance(10)
    passed, message = check(cluster, "daemonsets-tolerate")
    assert not passed and message.startswith("metrics-agent's pod template does not tolerate "
                                             "node-role.kubernetes.io/control-plane:NoSchedule")
