"""Pods at the limits of a node, as upstream reports them: a command that does not exist, more pods than
``maxPods``.

Against ``minik8s server --runtime process --max-pods 3`` with the real kubectl: a container whose
executable is missing fails at once with containerd's ``StartError`` (exit code 128, runc's words), and
pods beyond the node's ``maxPods`` stay Pending with the scheduler's ``FailedScheduling`` event. Then the
same limit at its default, 110, with 500 pods created at once (simulated runtime, virtual clock).
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from typing import Any, Iterator

import pytest
from conftest import Server, needs_kubectl, start_server, wait_for

from minik8s import Cluster
from minik8s.api import resources

PODS = resources.by_plural("", "v1", "pods")
EVENTS = resources.by_plural("", "v1", "events")
TOO_MANY_PODS = ("0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: "
                 "1 No preemption victims found for incoming pod.")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: Any) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("pod-limits"), "--runtime", "process", "--max-pods", "3")
    yield server
    server.stop()


def kubectl(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=60, env=server.env())


def pod_json(server: Server, name: str) -> dict[str, Any]:
    done = kubectl(server, "get", "pod", name, "-o", "json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def delete_all(server: Server) -> None:
    kubectl(server, "delete", "pods", "--all", "--grace-period=0", "--force", "--wait=true")


@needs_kubectl
def test_a_command_that_does_not_exist_fails_at_once_with_start_error(cluster: Server) -> None:
    try:
        assert kubectl(cluster, "run", "nocmd", "--image=busybox", "--restart=Never", "--",
                       "missing-program").returncode == 0
        state = wait_for(lambda: (pod_json(cluster, "nocmd")["status"].get("containerStatuses") or [{}])[0]
                         .get("state", {}).get("terminated"), 60, "the container terminated")
        assert state["reason"] == "StartError" and state["exitCode"] == 128
        assert state["message"] == ("failed to create containerd task: failed to create shim task: OCI runtime "
                                    "create failed: runc create failed: unable to start container process: exec: "
                                    '"missing-program": executable file not found in $PATH: unknown')
        assert pod_json(cluster, "nocmd")["status"]["phase"] == "Failed"
        columns = kubectl(cluster, "get", "pod", "nocmd", "--no-headers").stdout.split()
        assert columns[1:4] == ["0/1", "StartError", "0"]
        events = kubectl(cluster, "get", "events", "--field-selector", "involvedObject.name=nocmd,reason=Failed",
                         "-o", "jsonpath={.items[*].message}").stdout
        assert events.startswith("Error: failed to create containerd task")
    finally:
        delete_all(cluster)


@needs_kubectl
def test_a_restarted_container_whose_command_is_missing_backs_off(cluster: Server) -> None:
    """restartPolicy Always: each start fails the same way; the last one is the container's lastState."""
    try:
        assert kubectl(cluster, "run", "nopath", "--image=busybox", "--", "/nope/missing").returncode == 0

        def backing_off() -> dict[str, Any] | None:
            status = (pod_json(cluster, "nopath")["status"].get("containerStatuses") or [{}])[0]
            waiting = status.get("state", {}).get("waiting", {})
            return status if waiting.get("reason") == "CrashLoopBackOff" else None

        status = wait_for(backing_off, 60, "CrashLoopBackOff")
        last = status["lastState"]["terminated"]
        assert (last["reason"], last["exitCode"]) == ("StartError", 128)
        assert 'exec: "/nope/missing": stat /nope/missing: no such file or directory' in last["message"]
        assert status["restartCount"] >= 1 and status["ready"] is False
    finally:
        delete_all(cluster)


@needs_kubectl
def test_pods_beyond_max_pods_stay_pending_with_failed_scheduling(cluster: Server) -> None:
    """First a crash-looping pod, deleted at once (``--grace-period=0 --force``): the kubelet must stop
    counting it then, or it would turn the third pod away (OutOfpods) where the scheduler saw room."""
    try:
        assert kubectl(cluster, "run", "gone", "--image=busybox", "--", "/nope/missing").returncode == 0
        wait_for(lambda: "CrashLoopBackOff" in kubectl(cluster, "get", "pod", "gone", "--no-headers").stdout, 60,
                 "CrashLoopBackOff")
        assert kubectl(cluster, "delete", "pod", "gone", "--grace-period=0", "--force").returncode == 0
        for i in range(5):
            done = kubectl(cluster, "run", f"many-{i}", "--image=busybox", "--restart=Never", "--", "sleep", "3600")
            assert done.returncode == 0, done.stderr

        def settled() -> list[dict[str, Any]] | None:
            items = json.loads(kubectl(cluster, "get", "pods", "-o", "json").stdout)["items"]
            running = [p for p in items if p["status"].get("phase") == "Running"]
            unschedulable = [p for p in items if any(c.get("reason") == "Unschedulable"
                                                     for c in p["status"].get("conditions") or [])]
            return items if len(running) == 3 and len(unschedulable) == 2 else None

        items = wait_for(settled, 60, "3 pods Running and 2 Unschedulable")
        pending = [p for p in items if not p["spec"].get("nodeName")]
        assert len(pending) == 2 and all(p["status"]["phase"] == "Pending" for p in pending)
        for p in pending:
            condition = next(c for c in p["status"]["conditions"] if c["type"] == "PodScheduled")
            assert (condition["status"], condition["message"]) == ("False", TOO_MANY_PODS)
        messages = kubectl(cluster, "get", "events", "--field-selector", "reason=FailedScheduling",
                           "-o", "jsonpath={.items[*].message}").stdout
        assert TOO_MANY_PODS in messages
    finally:
        delete_all(cluster)


def test_500_pods_at_once_on_one_node_bind_110_and_leave_the_rest_pending() -> None:
    assert PODS is not None and EVENTS is not None
    cluster = Cluster(nodes=1, runtime="simulated", clock="virtual")
    try:
        for i in range(500):
            cluster.client.create(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}"},
                                         "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, "default")
        cluster.advance(30)
        items = cluster.client.list(PODS, "default")["items"]
        bound = [p for p in items if p["spec"].get("nodeName")]
        pending = [p for p in items if not p["spec"].get("nodeName")]
        assert len(bound) == 110   # the kubelet's maxPods, published as the node's allocatable pods
        assert len(pending) == 390 and {p["status"].get("phase") for p in pending} == {"Pending"}
        assert Counter(c["message"] for p in pending for c in p["status"]["conditions"]
                       if c["type"] == "PodScheduled") == Counter({TOO_MANY_PODS: 390})
        events = [e for e in cluster.client.list(EVENTS, "default")["items"] if e["reason"] == "FailedScheduling"]
        assert {e["message"] for e in events} == {TOO_MANY_PODS}
        assert {e["involvedObject"]["name"] for e in events} == {p["metadata"]["name"] for p in pending}
    finally:
        cluster.stop()
