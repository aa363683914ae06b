"""The kubelet against a whole in-process cluster with the simulated runtime and a virtual clock."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.clock import parse_rfc3339
from minik8s.cluster import Cluster
from minik8s.kubelet import make_runtime
from minik8s.kubelet.status import go_duration, pod_phase

PODS = resources.by_plural("", "v1", "pods")
NODES = resources.by_plural("", "v1", "nodes")
LEASES = resources.by_plural("coordination.k8s.io", "v1", "leases")
EVENTS = resources.by_plural("", "v1", "events")


def make_pod(name: str, containers: list[dict[str, Any]], *, node: str = "node-1", restart: str | None = None,
             init: list[dict[str, Any]] | None = None, annotations: dict[str, Any] | None = None,
             grace: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodeName": node, "containers": containers}
    if restart:
        spec["restartPolicy"] = restart
    if init:
        spec["initContainers"] = init
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = {f"sim.minik8s.io/{k}": json.dumps(v) for k, v in annotations.items()}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def status(cluster: Cluster, name: str) -> dict[str, Any]:
    return cluster.client.get(PODS, name, "default")["status"]


def container(cluster: Cluster, name: str, index: int = 0) -> dict[str, Any]:
    return status(cluster, name)["containerStatuses"][index]


def events(cluster: Cluster, name: str) -> list[tuple[str, str]]:
    items = cluster.client.list(EVENTS, "default")["items"]
    items = [e for e in items if e["involvedObject"]["name"] == name]
    items.sort(key=lambda e: e["metadata"]["name"])
    return [(e["reason"], e["message"]) for e in items]


@pytest.fixture
def cluster() -> Any:
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def test_make_runtime_rejects_unknown_names(cluster: Cluster) -> None:
    with pytest.raises(ValueError, match='unknown container runtime "rkt": use simulated, process or docker'):
        make_runtime("rkt", clock=cluster.clock)


# --- the node ---------------------------------------------------------------------------------


def test_node_registers_with_upstream_shape(cluster: Cluster) -> None:
    node = cluster.client.get(NODES, "node-1")
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == "node-1"
    assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"] == "amd64"
    st = node["status"]
    assert st["capacity"]["cpu"] == "4" and st["capacity"]["pods"] == "110"
    assert st["capacity"]["memory"] == "8388608Ki"
    assert st["allocatable"]["memory"] == "8286208Ki"  # 100Mi kept back for eviction
    assert {"type": "InternalIP", "address": "172.18.0.2"} in st["addresses"]
    assert {"type": "Hostname", "address": "node-1"} in st["addresses"]
    info = st["nodeInfo"]
    assert info["kubeletVersion"] == "v1.32.0" and info["containerRuntimeVersion"] == "simulated://1.0"
    conditions = {c["type"]: c for c in st["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Ready"]["reason"] == "KubeletReady"
    assert conditions["Ready"]["message"] == "kubelet is posting ready status"
    assert [conditions[t]["status"] for t in ("MemoryPressure", "DiskPressure", "PIDPressure")] == ["False"] * 3
    assert node["spec"]["podCIDR"] == "10.244.1.0/24"
    reasons = [r for r, _ in events(cluster, "node-1")]
    assert reasons[:2] == ["Starting", "NodeHasSufficientMemory"] and "NodeReady" in reasons


def test_three_nodes_get_their_own_names_and_pod_cidrs() -> None:
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        names = sorted(n["metadata"]["name"] for n in c.client.list(NODES)["items"])
        assert names == ["node-1", "node-2", "node-3"]
        c.client.create(PODS, make_pod("on-three", [{"name": "web", "image": "nginx"}], node="node-3"), "default")
        c.advance(2)
        st = status(c, "on-three")
        assert st["podIP"] == "10.244.3.2" and st["hostIP"] == "172.18.0.4"
        # Only node-3's kubelet took it.
        assert [k.node_name for k in c.kubelets if list(k.pods())] == ["node-3"]


def test_lease_is_renewed_every_10_seconds(cluster: Cluster) -> None:
    first = parse_rfc3339(cluster.client.get(LEASES, "node-1", "kube-node-lease")["spec"]["renewTime"])
    lease = cluster.client.get(LEASES, "node-1", "kube-node-lease")
    assert lease["spec"]["holderIdentity"] == "node-1" and lease["spec"]["leaseDurationSeconds"] == 40
    renewals = []
    for _ in range(3):
        cluster.advance(10)
        renewals.append(parse_rfc3339(cluster.client.get(LEASES, "node-1", "kube-node-lease")["spec"]["renewTime"]))
    assert [r - first for r in renewals] == [10, 20, 30]


def test_node_status_is_written_every_5_minutes_when_nothing_changes(cluster: Cluster) -> None:
    rv = cluster.client.get(NODES, "node-1")["metadata"]["resourceVersion"]
    cluster.advance(290)
    assert cluster.client.get(NODES, "node-1")["metadata"]["resourceVersion"] == rv
    cluster.advance(15)
    node = cluster.client.get(NODES, "node-1")
    assert node["metadata"]["resourceVersion"] != rv
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["lastHeartbeatTime"] != ready["lastTransitionTime"]


def test_stopped_heartbeats_leave_the_lease_stale(cluster: Cluster) -> None:
    cluster.kubelets[0].stop_heartbeats()
    before = cluster.client.get(LEASES, "node-1", "kube-node-lease")["spec"]["renewTime"]
    cluster.advance(60)
    assert cluster.client.get(LEASES, "node-1", "kube-node-lease")["spec"]["renewTime"] == before
    cluster.kubelets[0].resume_heartbeats()
    cluster.run_until_stable()
    assert cluster.client.get(LEASES, "node-1", "kube-node-lease")["spec"]["renewTime"] != before


# --- starting pods ----------------------------------------------------------------------------


def test_pod_starts_with_upstream_events_and_status(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("nginx", [{"name": "nginx", "image": "nginx"}]), "default")
    cluster.run_until_stable()
    cs = container(cluster, "nginx")
    assert status(cluster, "nginx")["phase"] == "Pending"
    assert cs["state"] == {"waiting": {"reason": "ContainerCreating"}}
    cluster.advance(1)
    st = status(cluster, "nginx")
    assert st["phase"] == "Running" and st["podIP"] == "10.244.1.2"
    cs = st["containerStatuses"][0]
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0 and "running" in cs["state"]
    assert cs["containerID"].startswith("simulated://")
    assert cs["image"] == "docker.io/library/nginx:latest"
    assert [c["type"] for c in st["conditions"]] == ["PodReadyToStartContainers", "Initialized", "Ready",
                                                     "ContainersReady", "PodScheduled"]
    assert all(c["status"] == "True" for c in st["conditions"])
    assert events(cluster, "nginx") == [
        ("Pulling", 'Pulling image "nginx"'),
        ("Pulled", 'Successfully pulled image "nginx" in 1s (1s including waiting). Image size: 72223946 bytes.'),
        ("Created", "Created container: nginx"),
        ("Started", "Started container nginx"),
    ]


def test_if_not_present_skips_a_pulled_image(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("a", [{"name": "a", "image": "nginx:1.27"}]), "default")
    cluster.advance(2)
    cluster.client.create(PODS, make_pod("b", [{"name": "b", "image": "nginx:1.27"}]), "default")
    cluster.run_until_stable()
    assert status(cluster, "b")["phase"] == "Running"
    assert ("Pulled", 'Container image "nginx:1.27" already present on machine') in events(cluster, "b")
    assert status(cluster, "b")["podIP"] == "10.244.1.3"


def test_status_is_not_rewritten_when_nothing_changed(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("quiet", [{"name": "web", "image": "nginx"}]), "default")
    cluster.advance(5)
    rv = cluster.client.get(PODS, "quiet", "default")["metadata"]["resourceVersion"]
    cluster.advance(600)
    assert cluster.client.get(PODS, "quiet", "default")["metadata"]["resourceVersion"] == rv


def test_pods_on_other_nodes_are_ignored(cluster: Cluster) -> None:
    kubelet = cluster.kubelets[0]
    other = make_pod("elsewhere", [{"name": "web", "image": "nginx"}], node="node-9")
    assert kubelet.keys_for(PODS, other, None) == []
    assert kubelet.keys_for(PODS, make_pod("here", [], node="node-1"), None) == [("", "here")]
    cluster.client.create(PODS, other, "default")
    cluster.run_until_stable()
    assert list(kubelet.pods()) == []


def test_binding_starts_the_pod(cluster: Cluster) -> None:
    pod = make_pod("bound", [{"name": "web", "image": "nginx"}])
    del pod["spec"]["nodeName"]
    cluster.client.create(PODS, pod, "default")
    cluster.client.create(PODS, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bound"},
                                 "target": {"kind": "Node", "name": "node-1"}}, "default", subresource="binding")
    cluster.advance(2)
    st = status(cluster, "bound")
    assert st["phase"] == "Running"
    scheduled = [c for c in st["conditions"] if c["type"] == "PodScheduled"]
    assert len(scheduled) == 1 and scheduled[0]["status"] == "True"


# --- restart policies -------------------------------------------------------------------------


@pytest.mark.parametrize("restart,command,phase,reason,exit_code", [
    ("Never", ["sh", "-c", "echo done"], "Succeeded", "Completed", 0),
    ("Never", ["sh", "-c", "exit 3"], "Failed", "Error", 3),
    ("OnFailure", ["true"], "Succeeded", "Completed", 0),
])
def test_restart_policy_outcomes(cluster: Cluster, restart: str, command: list[str], phase: str, reason: str,
                                 exit_code: int) -> None:
    cluster.client.create(PODS, make_pod("job", [{"name": "main", "image": "busybox:1.36", "command": command}],
                                         restart=restart), "default")
    cluster.advance(5)
    st = status(cluster, "job")
    assert st["phase"] == phase
    term = st["containerStatuses"][0]["state"]["terminated"]
    assert term["reason"] == reason and term["exitCode"] == exit_code
    assert st["containerStatuses"][0]["restartCount"] == 0
    ready = next(c for c in st["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    if phase == "Succeeded":
        assert ready["reason"] == "PodCompleted"


def test_on_failure_restarts_a_failing_container_and_always_restarts_a_succeeding_one(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("onfail", [{"name": "main", "image": "busybox:1.36", "command": ["false"]}],
                                         restart="OnFailure"), "default")
    cluster.client.create(PODS, make_pod("always", [{"name": "main", "image": "busybox:1.36", "command": ["true"]}]),
                          "default")
    cluster.advance(2)
    for name in ("onfail", "always"):
        cs = container(cluster, name)
        assert status(cluster, name)["phase"] == "Running"
        assert cs["restartCount"] >= 1
        assert cs["lastState"]["terminated"]["reason"] == ("Error" if name == "onfail" else "Completed")


def test_crash_loop_back_off_doubles_to_five_minutes(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("crash", [{"name": "app", "image": "busybox:1.36",
                                                     "command": ["sh", "-c", "echo boom; exit 1"]}]), "default")
    cluster.advance(1)  # pulled, started, crashed, restarted at once (the first restart is immediate)
    assert container(cluster, "crash")["restartCount"] == 1
    cs = container(cluster, "crash")
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["state"]["waiting"]["message"].startswith("back-off 10s restarting failed container=app pod=crash_default(")
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    gaps = []
    for expected in (10, 20, 40, 80, 160, 300, 300):
        restarts = container(cluster, "crash")["restartCount"]
        cluster.advance(expected - 0.5)
        assert container(cluster, "crash")["restartCount"] == restarts, f"restarted before {expected}s"
        cluster.advance(0.5)
        assert container(cluster, "crash")["restartCount"] == restarts + 1, f"not restarted after {expected}s"
        gaps.append(expected)
    assert status(cluster, "crash")["phase"] == "Running"
    messages = [m for r, m in events(cluster, "crash") if r == "BackOff"]
    assert messages and messages[0].startswith("Back-off restarting failed container app in pod crash_default(")
    assert go_duration(160) == "2m40s" and go_duration(300) == "5m0s"


def test_back_off_resets_after_ten_minutes_of_running(cluster: Cluster) -> None:
    pod = make_pod("flaky", [{"name": "app", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 700; exit 1"]}])
    cluster.client.create(PODS, pod, "default")
    cluster.advance(701)
    assert container(cluster, "flaky")["restartCount"] == 1
    cluster.advance(700)
    # Ran fine for more than 10 minutes since the last restart: restarted at once, no back-off.
    cs = container(cluster, "flaky")
    assert cs["restartCount"] == 2 and "running" in cs["state"]


def test_logs_and_previous_logs(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("talk", [{"name": "app", "image": "busybox:1.36",
                                                    "command": ["sh", "-c", "echo hello; sleep 5; exit 1"]}]),
                          "default")
    cluster.run_until_stable()
    kubelet = cluster.kubelets[0]
    with pytest.raises(StatusError) as err:
        kubelet.logs("default", "talk", "app")
    assert err.value.code == 400
    assert err.value.message == 'container "app" in pod "talk" is waiting to start: ContainerCreating'
    with pytest.raises(StatusError) as err:
        kubelet.logs("default", "talk", "app", previous=True)
    assert err.value.message == 'previous terminated container "app" in pod "talk" not found'
    cluster.advance(2)
    assert kubelet.logs("default", "talk", "app") == "hello\n"
    cluster.advance(5)
    assert kubelet.logs("default", "talk", "app", previous=True) == "hello\n"
    with pytest.raises(StatusError, match="container nope is not valid for pod talk"):
        kubelet.logs("default", "talk", "nope")
    assert kubelet.exec("default", "talk", "app", ["echo", "hi"]).stdout == "hi\n"


def test_logs_with_timestamps_since_and_tail_as_upstream(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("ticks", [{"name": "app", "image": "busybox:1.36", "command": [
        "sh", "-c", "echo one; sleep 1.5; echo two; sleep 1.5; echo three; sleep 600"]}]), "default")
    cluster.run_until_stable()
    cluster.advance(5)
    kubelet = cluster.kubelets[0]
    # The container started at 00:00:01 of the virtual clock (after a one-second image pull).
    one, two, three = ("2025-01-01T00:00:01.000000000Z one\n", "2025-01-01T00:00:02.500000000Z two\n",
                       "2025-01-01T00:00:04.000000000Z three\n")
    assert kubelet.logs("default", "ticks", timestamps=True) == one + two + three
    assert kubelet.logs("default", "ticks") == "one\ntwo\nthree\n"
    # since: the lines received at or after a time; sinceSeconds counts back from the kubelet's now (00:00:05);
    # tailLines applies first, then since, as upstream.
    assert cluster.clock.now() == parse_rfc3339("2025-01-01T00:00:05Z")
    assert kubelet.logs("default", "ticks", since_time=parse_rfc3339("2025-01-01T00:00:02.5Z")) == "two\nthree\n"
    assert kubelet.logs("default", "ticks", since_seconds=2) == "three\n"
    assert kubelet.logs("default", "ticks", since_seconds=3, since_time=parse_rfc3339("2025-01-01T00:00:05Z")) == ""
    assert kubelet.logs("default", "ticks", tail_lines=2, timestamps=True) == two + three
    assert kubelet.logs("default", "ticks", tail_lines=1, since_seconds=5) == "three\n"
    # Through the API server, which validates the options as upstream's ValidatePodLogOptions.
    assert cluster.api.pod_logs("default", "ticks", timestamps=True, since_seconds=3) == two + three
    with pytest.raises(StatusError) as err:
        cluster.api.pod_logs("default", "ticks", since_seconds=1, since_time=0.0)
    assert (err.value.code, err.value.message) == (
        422, 'PodLogOptions "ticks" is invalid: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified')
    with pytest.raises(StatusError, match="sinceSeconds: Invalid value: 0: must be greater than 0"):
        cluster.api.pod_logs("default", "ticks", since_seconds=0)


def test_oom_killed(cluster: Cluster) -> None:
    spec = {"name": "hog", "image": "busybox:1.36", "command": ["sleep", "3600"],
            "resources": {"limits": {"memory": "64Mi"}}}
    cluster.client.create(PODS, make_pod("hog", [spec], restart="Never", annotations={"hog": {"memoryBytes": 1e9}}),
                          "default")
    cluster.advance(3)
    term = container(cluster, "hog")["state"]["terminated"]
    assert term["reason"] == "OOMKilled" and term["exitCode"] == 137
    assert status(cluster, "hog")["phase"] == "Failed"


# --- init containers --------------------------------------------------------------------------


def test_init_containers_run_in_order_before_app_containers(cluster: Cluster) -> None:
    init = [{"name": "first", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 5"]},
            {"name": "second", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 5"]}]
    cluster.client.create(PODS, make_pod("init", [{"name": "web", "image": "nginx"}], init=init), "default")
    cluster.advance(2)
    st = status(cluster, "init")
    assert st["phase"] == "Pending"
    assert "running" in st["initContainerStatuses"][0]["state"]
    assert st["initContainerStatuses"][1]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    initialized = next(c for c in st["conditions"] if c["type"] == "Initialized")
    assert initialized["message"] == "containers with incomplete status: [first second]"
    cluster.advance(5)
    st = status(cluster, "init")
    assert st["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    assert "running" in st["initContainerStatuses"][1]["state"]
    cluster.advance(7)
    st = status(cluster, "init")
    assert st["phase"] == "Running" and "running" in st["containerStatuses"][0]["state"]
    started = [m for r, m in events(cluster, "init") if r == "Started"]
    assert started == ["Started container first", "Started container second", "Started container web"]


def test_failing_init_container_fails_a_never_restart_pod(cluster: Cluster) -> None:
    init = [{"name": "check", "image": "busybox:1.36", "command": ["false"]}]
    cluster.client.create(PODS, make_pod("bad-init", [{"name": "web", "image": "nginx"}], init=init,
                                         restart="Never"), "default")
    cluster.advance(5)
    st = status(cluster, "bad-init")
    assert st["phase"] == "Failed"
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}


# --- images -----------------------------------------------------------------------------------


def test_image_pull_failure_then_back_off(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("typo", [{"name": "web", "image": "nginx:1.161"}]), "default")
    cluster.run_until_stable()
    waiting = container(cluster, "typo")["state"]["waiting"]
    assert waiting["reason"] == "ErrImagePull"
    assert waiting["message"].startswith('rpc error: code = NotFound desc = failed to pull and unpack image '
                                         '"docker.io/library/nginx:1.161"')
    cluster.advance(5)
    waiting = container(cluster, "typo")["state"]["waiting"]
    assert waiting == {"reason": "ImagePullBackOff", "message": 'Back-off pulling image "nginx:1.161"'}
    cluster.advance(5)
    assert container(cluster, "typo")["state"]["waiting"]["reason"] == "ErrImagePull"  # retried after 10 s
    reasons = [m for r, m in events(cluster, "typo") if r == "Failed"]
    assert reasons[0].startswith('Failed to pull image "nginx:1.161": rpc error: code = NotFound')
    assert "Error: ErrImagePull" in reasons and "Error: ImagePullBackOff" in reasons
    assert status(cluster, "typo")["phase"] == "Pending"


def test_unknown_image_is_not_pulled(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("nope", [{"name": "x", "image": "no-such-image"}]), "default")
    cluster.run_until_stable()
    assert "pull access denied" in container(cluster, "nope")["state"]["waiting"]["message"]


# --- deletion ---------------------------------------------------------------------------------


def test_graceful_deletion_stops_containers_then_removes_the_pod(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("web", [{"name": "web", "image": "nginx"}]), "default")
    cluster.advance(2)
    cluster.client.delete(PODS, "web", "default")
    cluster.run_until_stable()
    with pytest.raises(StatusError) as err:
        cluster.client.get(PODS, "web", "default")
    assert err.value.code == 404
    assert ("Killing", "Stopping container web") in events(cluster, "web")


def test_a_pod_deleted_at_once_leaves_the_kubelet_at_once_even_while_it_backs_off(cluster: Cluster) -> None:
    """``kubectl delete --grace-period=0 --force``: the DELETED event is the pod's last word; the kubelet
    forgets the pod then (its containers stopped), not at its next back-off timer, so that a pod bound in
    its place is admitted against the node's maxPods without it."""
    cluster.client.create(PODS, make_pod("crash", [{"name": "app", "image": "busybox:1.36",
                                                     "command": ["sh", "-c", "exit 1"]}]), "default")
    cluster.advance(1)
    assert container(cluster, "crash")["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    kubelet = cluster.kubelets[0]
    assert ("default", "crash") in list(kubelet.pods())
    cluster.client.delete(PODS, "crash", "default", grace_period_seconds=0)
    cluster.run_until_stable()   # no time passes: the back-off (10 s) is not what wakes the kubelet
    assert ("default", "crash") not in list(kubelet.pods())


def test_container_ignoring_sigterm_is_killed_after_the_grace_period(cluster: Cluster) -> None:
    pod = make_pod("stubborn", [{"name": "app", "image": "busybox:1.36", "command": ["sleep", "3600"]}], grace=20,
                   annotations={"app": {"ignoreSigterm": True}})
    cluster.client.create(PODS, pod, "default")
    cluster.advance(2)
    cluster.client.delete(PODS, "stubborn", "default")
    cluster.advance(19)
    assert cluster.client.get(PODS, "stubborn", "default")["metadata"]["deletionTimestamp"]
    assert "running" in container(cluster, "stubborn")["state"]
    runtime = cluster.kubelets[0].runtime
    cid = container(cluster, "stubborn")["containerID"].split("://")[1]
    cluster.advance(0.5)
    assert runtime.container_status(cid).state == "running"  # SIGTERM ignored
    cluster.advance(0.5)
    with pytest.raises(StatusError) as err:
        cluster.client.get(PODS, "stubborn", "default")
    assert err.value.code == 404
    assert ("Killing", "Stopping container app") in events(cluster, "stubborn")


# --- determinism and pure parts ---------------------------------------------------------------


def _script() -> list[dict[str, Any]]:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        c.client.create(PODS, make_pod("a", [{"name": "a", "image": "busybox:1.36", "command": ["sh", "-c", "exit 2"]}]),
                        "default")
        c.client.create(PODS, make_pod("b", [{"name": "b", "image": "nginx"}], node="node-2"), "default")
        c.client.create(PODS, make_pod("c", [{"name": "c", "image": "nginx:1.161"}]), "default")
        c.advance(120)
        return [status(c, n) for n in ("a", "b", "c")]


def test_two_runs_give_identical_statuses() -> None:
    assert _script() == _script()


def test_pod_phase_rules() -> None:
    run = {"name": "a", "state": {"running": {}}}
    done = {"name": "a", "state": {"terminated": {"exitCode": 0}}}
    failed = {"name": "a", "state": {"terminated": {"exitCode": 1}}}
    wait = {"name": "a", "state": {"waiting": {"reason": "ContainerCreating"}}}
    backoff = {"name": "a", "state": {"waiting": {}}, "lastState": {"terminated": {"exitCode": 1}}}
    assert pod_phase("Always", [], [wait]) == "Pending"
    assert pod_phase("Always", [], [run, done]) == "Running"
    assert pod_phase("Always", [], [backoff]) == "Running"
    assert pod_phase("Never", [], [done, failed]) == "Failed"
    assert pod_phase("OnFailure", [], [done, failed]) == "Running"
    assert pod_phase("OnFailure", [], [done]) == "Succeeded"
    assert pod_phase("Never", [failed], [wait]) == "Failed"
    assert pod_phase("Always", [failed], [wait]) == "Pending"
    assert pod_phase("Always", [], [done], terminal=True) == "Succeeded"


class LateExitRuntime:
    """A simulated runtime whose ``container_status`` learns of an exit only once ``next_event_time``
    has looked, as a real runtime whose process dies between two looks of the kubelet."""

    def __init__(self, runtime: Any):
        self._runtime = runtime
        self.noticed: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runtime, name)

    def container_status(self, container_id: str) -> Any:
        status = self._runtime.container_status(container_id)
        if status.state == "exited" and container_id not in self.noticed:
            return dataclasses.replace(status, state="running", finished_at=None, exit_code=None, reason="")
        return status

    def next_event_time(self, container_ids: Any = None) -> float | None:
        for cid in container_ids or []:
            if self._runtime.container_status(cid).state == "exited":
                self.noticed.add(cid)
        return self._runtime.next_event_time(container_ids)  # type: ignore[no-any-return]


def test_an_exit_seen_only_after_the_pass_looked_still_wakes_the_pod() -> None:
    from minik8s.kubelet import Kubelet

    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        runtime = LateExitRuntime(make_runtime("simulated", clock=c.clock, rng=c.rng))
        kubelet = Kubelet(c.context, node_name="node-1", runtime=runtime)  # type: ignore[arg-type]
        c.components.append(kubelet)
        c.api.nodes.register("node-1", kubelet)
        c.run_until_stable()  # the node registers
        c.client.create(PODS, make_pod("late", [{"name": "app", "image": "busybox:1.36", "command": ["sleep", "5"]}]),
                        "default")
        c.advance(10)
        # The exit at 6 s was noticed by the kubelet's look for the next event: it syncs the pod again.
        cs = container(c, "late")
        assert cs["restartCount"] == 1 and cs["lastState"]["terminated"]["reason"] == "Completed"


class BrokenDiskRuntime(LateExitRuntime):
    """A runtime whose disk fails when it creates a container."""

    def create_container(self, *args: Any) -> str:
        raise FileExistsError(17, "File exists", "/var/lib/minik8s/rootfs/app")


def test_a_runtime_os_error_is_a_failed_sync_not_a_dead_kubelet() -> None:
    from minik8s.kubelet import Kubelet

    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        kubelet = Kubelet(c.context, node_name="node-1",
                          runtime=BrokenDiskRuntime(make_runtime("simulated", clock=c.clock, rng=c.rng)))  # type: ignore[arg-type]
        c.components.append(kubelet)
        c.api.nodes.register("node-1", kubelet)
        c.run_until_stable()
        c.client.create(PODS, make_pod("disk", [{"name": "app", "image": "busybox:1.36"}]), "default")
        c.advance(15)
        failed = [e for e in c.client.list(EVENTS, "default")["items"] if e["reason"] == "FailedSync"]
        assert len(failed) == 1 and "File exists" in failed[0]["message"]
        assert failed[0]["count"] == 2  # tried again 10 s later: the kubelet lives on


def test_a_silent_node_misses_pod_changes_until_it_is_back(cluster: Cluster) -> None:
    # Upstream: a pod evicted from an unreachable node stays Terminating (its kubelet cannot confirm
    # that the containers stopped) until the node comes back or is deleted.
    cluster.client.create(PODS, make_pod("web", [{"name": "app", "image": "nginx:1.27"}]), "default")
    cluster.advance(2)
    cluster.kubelets[0].stop_heartbeats()
    cluster.client.delete(PODS, "web", "default")
    cluster.advance(60)
    pod = cluster.client.get(PODS, "web", "default")
    assert pod["metadata"].get("deletionTimestamp") and "running" in pod["status"]["containerStatuses"][0]["state"]
    assert "Terminating" in cluster.kubectl("get pod web")
    cluster.kubelets[0].resume_heartbeats()
    cluster.advance(1)
    with pytest.raises(StatusError):
        cluster.client.get(PODS, "web", "default")


def test_a_missing_executable_is_a_start_error_as_containerd_reports_it(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("nocmd", [{"name": "app", "image": "busybox:1.36",
                                                     "command": ["nosuchbinary", "x"]}]), "default")
    cluster.advance(2)
    cs = container(cluster, "nocmd")
    message = ('failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create '
               'failed: unable to start container process: exec: "nosuchbinary": executable file not found in $PATH: '
               'unknown')
    assert cs["lastState"]["terminated"] == {**cs["lastState"]["terminated"], "reason": "StartError",
                                             "exitCode": 128, "message": message}
    evs = events(cluster, "nocmd")
    assert ("Failed", f"Error: {message}") in evs
    assert not [m for r, m in evs if r == "Started"]  # it never started


def test_pull_times_are_truncated_to_milliseconds_as_upstream(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("quick", [{"name": "app", "image": "nginx:1.27"}],
                                         annotations={"app": {"pullSeconds": 0.0004}}), "default")
    cluster.client.create(PODS, make_pod("slow", [{"name": "app", "image": "httpd:2.4"}],
                                         annotations={"app": {"pullSeconds": 1.2345678}}), "default")
    cluster.advance(3)
    pulled = {name: m for name in ("quick", "slow") for r, m in events(cluster, name) if r == "Pulled"}
    assert pulled["quick"] == ('Successfully pulled image "nginx:1.27" in 0s (0s including waiting). '
                               'Image size: 72223946 bytes.')
    assert pulled["slow"].startswith('Successfully pulled image "httpd:2.4" in 1.234s (1.234s including waiting).')


def test_exec_of_a_missing_executable_is_an_internal_error_as_containerd_reports_it(cluster: Cluster) -> None:
    cluster.client.create(PODS, make_pod("box", [{"name": "app", "image": "busybox:1.36",
                                                   "command": ["sleep", "3600"]}]), "default")
    cluster.advance(2)
    # The shell exists and says what it could not find: an ordinary exit code.
    code, out, err = cluster.run_kubectl("exec box -- sh -c nosuchcmd")
    assert (code, out, err) == (127, "", "sh: nosuchcmd: not found\ncommand terminated with exit code 127\n")
    code, out, err = cluster.run_kubectl("exec box -- nosuchcmd")
    assert code == 1 and err.startswith('error: Internal error occurred: error executing command in container: '
                                        'failed to exec in container: failed to start exec "')
    assert err.endswith('exec: "nosuchcmd": executable file not found in $PATH: unknown\n')
