"""PriorityClasses, the Priority admission plugin, and preemption that evicts (chapter 9)."""

from __future__ import annotations

import json

import pytest

from minik8s import Cluster
from minik8s.cluster import KubectlError
from minik8s.scheduler import Scheduler
from tests.conftest import start_server
from tests.test_scheduler import cache_with, make_node, make_pod

HIGH = """apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: high-priority
value: 1000000
globalDefault: false
description: "This priority class should be used for XYZ service pods only."
"""


def pod(name: str, cpu: str = "100m", priority_class: str = "", **spec: object) -> str:
    body: dict = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                  "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": cpu}}}],
                           **spec}}
    if priority_class:
        body["spec"]["priorityClassName"] = priority_class
    return json.dumps(body)


def priority_class(name: str, value: int, **fields: object) -> str:
    return json.dumps({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                       "value": value, **fields})


@pytest.fixture
def cluster() -> Cluster:
    return Cluster(nodes=1, runtime="simulated", clock="virtual")   # one node, 4 CPUs allocatable


def spec_of(cluster: Cluster, name: str) -> dict:
    return json.loads(cluster.kubectl(f"get pod {name} -o json"))["spec"]


def test_the_upstream_docs_example_with_the_real_kubectl(tmp_path) -> None:
    """A low-priority pod fills the node; a high-priority one evicts it and runs there."""
    srv = start_server(tmp_path, "--nodes", "1", "--runtime", "simulated")
    try:
        assert srv.kubectl("apply", "-f", "-", stdin=HIGH).returncode == 0
        listing = srv.kubectl("get", "priorityclasses").stdout.splitlines()
        assert listing[0].split() == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
        rows = {line.split()[0]: line.split() for line in listing[1:]}
        assert rows["high-priority"][1:3] == ["1000000", "false"]
        assert rows["high-priority"][4] == "PreemptLowerPriority"
        assert rows["system-node-critical"][1] == "2000001000"
        assert rows["system-cluster-critical"][1] == "2000000000"
        assert srv.kubectl("apply", "-f", "-", stdin=pod("low", "3")).returncode == 0
        assert srv.kubectl("wait", "--for=condition=Ready", "pod/low", "--timeout=30s").returncode == 0
        assert srv.kubectl("apply", "-f", "-", stdin=pod("high", "3", "high-priority")).returncode == 0
        waited = srv.kubectl("wait", "--for=condition=Ready", "pod/high", "--timeout=30s")
        assert waited.returncode == 0, waited.stderr
        gone = srv.kubectl("wait", "--for=delete", "pod/low", "--timeout=30s")
        assert gone.returncode == 0, gone.stderr
        pods = srv.kubectl("get", "pods", "-o", "wide").stdout.splitlines()
        assert [line.split()[0] for line in pods[1:]] == ["high"]
        assert pods[1].split()[6:8] == ["node-1", "node-1"]   # NODE, NOMINATED NODE
        uid = srv.kubectl("get", "pod", "high", "-o", "jsonpath={.metadata.uid}").stdout
        events = srv.kubectl("get", "events", "--field-selector", "reason=Preempted", "-o", "json").stdout
        [event] = json.loads(events)["items"]
        assert event["involvedObject"]["name"] == "low" and event["type"] == "Normal"
        assert event["message"] == f"Preempted by pod {uid} on node node-1"
        failed = srv.kubectl("get", "events", "--field-selector", "reason=FailedScheduling,involvedObject.name=high",
                             "-o", "jsonpath={.items[*].message}").stdout
        # Preemption found room: it adds nothing after the Filters' reasons.
        assert failed == "0/1 nodes are available: 1 Insufficient cpu."
    finally:
        srv.stop()


def test_victims_get_the_disruption_target_condition(cluster: Cluster) -> None:
    cluster.kubectl("apply -f -", stdin=HIGH)
    held = json.loads(pod("low", "3"))
    held["metadata"]["finalizers"] = ["example.com/hold"]   # keeps the deleted victim readable
    cluster.kubectl("apply -f -", stdin=json.dumps(held))
    cluster.kubectl("apply -f -", stdin=pod("high", "3", "high-priority"))
    low = json.loads(cluster.kubectl("get pod low -o json"))
    assert low["metadata"].get("deletionTimestamp")
    [condition] = [c for c in low["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert (condition["status"], condition["reason"]) == ("True", "PreemptionByScheduler")
    assert condition["message"] == "default-scheduler: preempting to accommodate a higher priority pod"
    high = json.loads(cluster.kubectl("get pod high -o json"))
    assert high["status"]["nominatedNodeName"] == "node-1"
    assert "nodeName" not in high["spec"]   # the victim has not gone yet
    # Still terminating: the preemptor waits for it instead of preempting again.
    cluster.advance(301)
    message = cluster.kubectl("get events --field-selector involvedObject.name=high,reason=FailedScheduling "
                              "-o jsonpath={.items[-1:].message}")
    assert message == ("0/1 nodes are available: 1 Insufficient cpu. "
                       "preemption: not eligible due to a terminating pod on the nominated node.")
    cluster.kubectl(["patch", "pod", "low", "--type=merge", "-p", '{"metadata":{"finalizers":null}}'])
    assert spec_of(cluster, "high")["nodeName"] == "node-1"


def test_preemption_policy_never_does_not_preempt(cluster: Cluster) -> None:
    cluster.kubectl("apply -f -", stdin=priority_class("high-nonpreempting", 1000000, preemptionPolicy="Never"))
    cluster.kubectl("apply -f -", stdin=pod("low", "3"))
    cluster.kubectl("apply -f -", stdin=pod("high", "3", "high-nonpreempting"))
    assert spec_of(cluster, "high")["preemptionPolicy"] == "Never"
    out = cluster.kubectl("get pods --no-headers").split("\n")
    assert [line.split()[:3] for line in out if line][0] == ["high", "0/1", "Pending"]
    assert [line.split()[0] for line in out if line] == ["high", "low"]   # low was not evicted
    message = cluster.kubectl("get events --field-selector involvedObject.name=high,reason=FailedScheduling "
                              "-o jsonpath={.items[0].message}")
    assert message == ("0/1 nodes are available: 1 Insufficient cpu. "
                       "preemption: not eligible due to preemptionPolicy=Never.")


def test_equal_priority_is_not_preempted(cluster: Cluster) -> None:
    cluster.kubectl("apply -f -", stdin=HIGH)
    cluster.kubectl("apply -f -", stdin=pod("first", "3", "high-priority"))
    cluster.kubectl("apply -f -", stdin=pod("second", "3", "high-priority"))
    message = cluster.kubectl("get events --field-selector involvedObject.name=second,reason=FailedScheduling "
                              "-o jsonpath={.items[0].message}")
    assert message == ("0/1 nodes are available: 1 Insufficient cpu. "
                       "preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")


def test_the_node_with_the_least_important_victims_is_chosen() -> None:
    cluster = Cluster(nodes=2, runtime="simulated", clock="virtual")
    cluster.kubectl("apply -f -", stdin=priority_class("middle", 100))
    cluster.kubectl("apply -f -", stdin=priority_class("bottom", 10))
    cluster.kubectl("apply -f -", stdin=HIGH)
    cluster.kubectl("apply -f -", stdin=pod("m", "3", "middle", nodeName="node-1"))
    cluster.kubectl("apply -f -", stdin=pod("b", "3", "bottom", nodeName="node-2"))
    cluster.kubectl("apply -f -", stdin=pod("high", "3", "high-priority"))
    names = cluster.kubectl("get pods -o jsonpath={.items[*].metadata.name}").split()
    assert names == ["high", "m"]
    assert spec_of(cluster, "high")["nodeName"] == "node-2"


def test_only_as_many_victims_as_needed(cluster: Cluster) -> None:
    """Reprieve: of two small low-priority pods, evicting one is enough."""
    cluster.kubectl("apply -f -", stdin=HIGH)
    cluster.kubectl("apply -f -", stdin=pod("a", "1500m"))
    cluster.kubectl("apply -f -", stdin=pod("b", "1500m"))
    cluster.kubectl("apply -f -", stdin=pod("high", "2", "high-priority"))
    names = cluster.kubectl("get pods -o jsonpath={.items[*].metadata.name}").split()
    assert len(names) == 2 and "high" in names
    assert spec_of(cluster, "high")["nodeName"] == "node-1"


def test_priority_class_name_resolves_to_priority(cluster: Cluster) -> None:
    cluster.kubectl("apply -f -", stdin=HIGH)
    cluster.kubectl("apply -f -", stdin=pod("p", priority_class="high-priority"))
    spec = spec_of(cluster, "p")
    assert (spec["priority"], spec["preemptionPolicy"]) == (1000000, "PreemptLowerPriority")
    cluster.kubectl("apply -f -", stdin=pod("plain"))
    spec = spec_of(cluster, "plain")
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert "priorityClassName" not in spec
    cluster.kubectl("apply -f -", stdin=pod("critical", priority_class="system-node-critical"))
    assert spec_of(cluster, "critical")["priority"] == 2000001000


def test_global_default(cluster: Cluster) -> None:
    cluster.kubectl("apply -f -", stdin=priority_class("default-class", 500, globalDefault=True))
    cluster.kubectl("apply -f -", stdin=pod("p"))
    spec = spec_of(cluster, "p")
    assert (spec["priorityClassName"], spec["priority"]) == ("default-class", 500)
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("create -f -", stdin=priority_class("another", 600, globalDefault=True))
    assert err.value.message == ('Error from server (Forbidden): error when creating "STDIN": '
                                 'priorityclasses.scheduling.k8s.io "another" is forbidden: PriorityClass '
                                 'default-class is already marked as default. Only one default can exist')
    assert "another" not in cluster.kubectl("get pc")
    row = [line.split() for line in cluster.kubectl("get pc").splitlines() if line.startswith("default-class")]
    assert row[0][1:3] == ["500", "true"]


def test_admission_errors(cluster: Cluster) -> None:
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("create -f -", stdin=pod("x", priority_class="nope"))
    assert err.value.message == ('Error from server (Forbidden): error when creating "STDIN": '
                                 'pods "x" is forbidden: no PriorityClass with name nope was found')
    cluster.kubectl("apply -f -", stdin=HIGH)
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("create -f -", stdin=pod("y", priority_class="high-priority", priority=5))
    assert err.value.message == ('Error from server (Forbidden): error when creating "STDIN": pods "y" is '
                                 'forbidden: the integer value of priority (5) must not be provided in pod spec; '
                                 'priority admission controller computed 1000000 from the given PriorityClass name')
    assert cluster.kubectl("get pods -o name") == ""


def test_priority_class_validation(cluster: Cluster) -> None:
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("create -f -", stdin=priority_class("huge", 2000000000))
    assert err.value.message == ('The PriorityClass "huge" is invalid: value: Forbidden: '
                                 'maximum allowed value of a user defined priority is 1000000000')
    cluster.kubectl("apply -f -", stdin=HIGH)
    with pytest.raises(KubectlError) as err:
        cluster.kubectl(["patch", "pc", "high-priority", "--type=merge", "-p", '{"value": 7}'])
    assert "value: Forbidden: may not be changed in an update." in err.value.message


def test_a_lower_priority_nomination_is_cleared(cluster: Cluster) -> None:
    cluster.kubectl("apply -f -", stdin=priority_class("middle", 100))
    cluster.kubectl("apply -f -", stdin=HIGH)
    held = json.loads(pod("low", "3"))
    held["metadata"]["finalizers"] = ["example.com/hold"]
    cluster.kubectl("apply -f -", stdin=json.dumps(held))
    cluster.kubectl("apply -f -", stdin=pod("mid", "3", "middle"))
    nominated = "jsonpath={.status.nominatedNodeName}"
    assert cluster.kubectl(["get", "pod", "mid", "-o", nominated]) == "node-1"
    cluster.kubectl("apply -f -", stdin=pod("high", "3", "high-priority"))
    assert cluster.kubectl(["get", "pod", "high", "-o", nominated]) == "node-1"
    assert cluster.kubectl(["get", "pod", "mid", "-o", nominated]) == ""
    cluster.kubectl(["patch", "pod", "low", "--type=merge", "-p", '{"metadata":{"finalizers":null}}'])
    assert spec_of(cluster, "high")["nodeName"] == "node-1"
    assert "nodeName" not in spec_of(cluster, "mid")


def test_disruption_budgets_steer_the_choice_of_node_and_victims() -> None:
    """Fewest PodDisruptionBudget violations first; within a node, protected pods are reprieved first."""
    pods = (make_pod("guarded", cpu="3", node_name="n1", priority=0, labels={"app": "db"}),
            make_pod("free", cpu="3", node_name="n2", priority=5),
            make_pod("small-guarded", cpu="1500m", node_name="n3", priority=0, labels={"app": "db"}),
            make_pod("small-free", cpu="1500m", node_name="n3", priority=0))
    cache = cache_with(make_node("n1", cpu="4"), make_node("n2", cpu="4"), make_node("n3", cpu="4"), pods=pods)
    budget = {"metadata": {"name": "db", "namespace": "default"},
              "spec": {"selector": {"matchLabels": {"app": "db"}}}, "status": {"disruptionsAllowed": 0}}
    scheduler = Scheduler()
    scheduler.pdbs = lambda: [budget]
    result = scheduler.schedule(make_pod("p", cpu="2", priority=100), cache)
    assert result.node is None
    # n1 would violate the budget; n3's victim can be the unguarded pod: no violation, lowest priority victim.
    assert result.diagnosis.nominated_node == "n3"
    assert [v.name for v in result.diagnosis.victims] == ["small-free"]
    # Without budgets, n1 comes first among equally good candidates (victims of priority 0, one each).
    plain = Scheduler().schedule(make_pod("p", cpu="2", priority=100), cache)
    assert plain.diagnosis.nominated_node == "n1"
    assert [v.name for v in plain.diagnosis.victims] == ["guarded"]


def test_describe_priorityclass(cluster: Cluster) -> None:
    assert cluster.kubectl("describe pc system-node-critical") == (
        "Name:              system-node-critical\n"
        "Value:             2000001000\n"
        "GlobalDefault:     false\n"
        "PreemptionPolicy:  PreemptLowerPriority\n"
        "Description:       Used for system critical pods that must not be moved from their current node.\n"
        "Annotations:       <none>\n"
        "Events:            <none>\n")


def test_system_classes_cannot_be_deleted(cluster: Cluster) -> None:
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("delete pc system-cluster-critical")
    assert err.value.message == ('Error from server (Forbidden): priorityclasses.scheduling.k8s.io '
                                 '"system-cluster-critical" is forbidden: this is a system priority class and '
                                 'cannot be deleted')
    cluster.kubectl("apply -f -", stdin=HIGH)
    assert cluster.kubectl("delete pc high-priority") == 'priorityclass.scheduling.k8s.io "high-priority" deleted\n'


def test_a_nominated_pod_keeps_its_room_from_pods_of_lower_priority() -> None:
    cache = cache_with(make_node("n1", cpu="4"))
    nominated = make_pod("high", cpu="3", priority=100)
    nominated["status"] = {"nominatedNodeName": "n1"}
    scheduler = Scheduler()
    scheduler.nominated = lambda: [nominated]
    low = scheduler.schedule(make_pod("low", cpu="2", priority=0), cache)
    assert low.node is None and low.message.startswith("0/1 nodes are available: 1 Insufficient cpu.")
    assert scheduler.schedule(make_pod("higher", cpu="2", priority=1000), cache).node == "n1"
    assert scheduler.schedule(nominated, cache).node == "n1"   # not counted against itself


@pytest.mark.parametrize("args", [
    ["create", "pc", "dflt", "--value=5", "--global-default", "--dry-run=client", "-o", "yaml"],
    ["create", "priorityclass", "x", "--description=for x", "--preemption-policy=Never", "--dry-run=client",
     "-o", "yaml"],
    ["create", "pc", "x", "--dry-run=client"],
    ["create", "pc", "x", "--value=abc", "--dry-run=client"],
])
def test_create_priorityclass_prints_what_the_real_kubectl_prints(cluster: Cluster, args: list[str]) -> None:
    import subprocess

    real = subprocess.run(["kubectl", *args], capture_output=True, text=True, env={"KUBECONFIG": "/dev/null",
                                                                                   "HOME": "/nonexistent"})
    code, out, err = cluster.run_kubectl(args)
    assert (code, out, err) == (real.returncode, real.stdout, real.stderr)


def test_create_priorityclass_against_the_cluster(cluster: Cluster) -> None:
    assert cluster.kubectl("create pc high --value=1000 --preemption-policy=Never") == \
        "priorityclass.scheduling.k8s.io/high created\n"
    row = [line.split() for line in cluster.kubectl("get pc").splitlines() if line.startswith("high ")]
    assert row[0][1:3] == ["1000", "false"] and row[0][4] == "Never"


def test_failed_scheduling_event_in_upstream_form() -> None:
    """Reasons counted per node and sorted as strings, then preemption's verdict (v1.32: anti-affinity
    is Unschedulable, so those nodes are examined; a taint is UnschedulableAndUnresolvable)."""
    cluster = Cluster(nodes=3, runtime="simulated", clock="virtual")
    cluster.kubectl("taint node node-1 node-role.kubernetes.io/control-plane:NoSchedule")
    for node in ("node-2", "node-3"):
        cluster.kubectl("apply -f -", stdin=json.dumps({**json.loads(pod(f"web-{node}", nodeName=node)),
                                                        "metadata": {"name": f"web-{node}", "labels": {"app": "web"}}}))
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    cluster.kubectl("apply -f -", stdin=pod("lonely", affinity=anti))
    message = cluster.kubectl("get events --field-selector involvedObject.name=lonely,reason=FailedScheduling "
                              "-o jsonpath={.items[0].message}")
    assert message == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                       "{node-role.kubernetes.io/control-plane: }, 2 node(s) didn't match pod anti-affinity rules. "
                       "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                       "2 No preemption victims found for incoming pod.")
    # With a higher priority, evicting a web pod makes room (the anti-affinity counts forget the victim).
    cluster.kubectl("apply -f -", stdin=HIGH)
    cluster.kubectl("apply -f -", stdin=pod("important", "100m", "high-priority", affinity=anti))
    node = spec_of(cluster, "important")["nodeName"]
    assert node in ("node-2", "node-3")
    assert f"web-{node}" not in cluster.kubectl("get pods -o name")


def test_topology_spread_counts_forget_the_victims() -> None:
    web = {"app": "web"}
    pods = tuple(make_pod(f"web{i}", node_name="n1", priority=0, labels=web) for i in (1, 2))
    taint = [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]
    cache = cache_with(make_node("n1"), make_node("n2", taints=taint), pods=pods)
    spread = [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": web}}]
    result = Scheduler().schedule(make_pod("p", priority=100, labels=web, topologySpreadConstraints=spread), cache)
    assert result.message == ("0/2 nodes are available: 1 node(s) didn't match pod topology spread constraints, "
                              "1 node(s) had untolerated taint {dedicated: x}.")
    assert result.diagnosis.nominated_node == "n1"
    assert sorted(v.name for v in result.diagnosis.victims) == ["web1", "web2"]
