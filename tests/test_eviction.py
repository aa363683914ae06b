"""The kubelet's eviction manager (minik8s.kubelet.eviction): memory pressure and emptyDir sizeLimit,
on a simulated virtual-clock cluster whose pods declare their memory with the sim.minik8s.io annotation."""

from __future__ import annotations

import json

import pytest

from minik8s import Cluster
from minik8s.kubelet import eviction

MiB = 1024 * 1024


def pod_yaml(name: str, memory_mib: int, request: str | None = None, priority_class: str | None = None,
             labels: str = "{}") -> str:
    resources = f"resources: {{requests: {{memory: {request}}}}}" if request else "resources: {}"
    priority = f"priorityClassName: {priority_class}" if priority_class else ""
    annotation = json.dumps({"memoryBytes": memory_mib * MiB})
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {labels}
  annotations:
    sim.minik8s.io/app: '{annotation}'
spec:
  nodeSelector: {{kubernetes.io/hostname: small}}
  {priority}
  containers:
  - name: app
    image: nginx
    {resources}
"""


def declare(cluster: Cluster, pod: str, memory_mib: int) -> None:
    annotation = json.dumps({"memoryBytes": memory_mib * MiB}, separators=(",", ":"))
    cluster.kubectl(f"annotate pod {pod} --overwrite 'sim.minik8s.io/app={annotation}'")


def status(cluster: Cluster, pod: str) -> dict:
    return json.loads(cluster.kubectl(f"get pod {pod} -o json"))["status"]


def condition(node: dict, kind: str) -> dict:
    return next(c for c in node["status"]["conditions"] if c["type"] == kind)


def node(cluster: Cluster) -> dict:
    return json.loads(cluster.kubectl("get node small -o json"))


def events(cluster: Cluster, reason: str) -> list[dict]:
    items = json.loads(cluster.kubectl("get events -A -o json"))["items"]
    return [e for e in items if e["reason"] == reason]


@pytest.fixture
def cluster():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        c.add_node("small", memory="1Gi")
        c.run_until_stable()
        yield c


def settle(cluster: Cluster, seconds: float) -> None:
    """Let the cluster work for ``seconds`` of virtual time, ten at a time (the monitoring interval)."""
    for _ in range(int(seconds // 10)):
        cluster.advance(10)
        cluster.run_until_stable()


def test_pressure_evicts_besteffort_over_burstable_within_requests(cluster):
    cluster.apply(pod_yaml("besteffort", 300))
    cluster.apply(pod_yaml("burstable", 400, request="400Mi"))
    settle(cluster, 30)
    assert status(cluster, "besteffort")["phase"] == "Running"
    assert condition(node(cluster), "MemoryPressure")["status"] == "False"

    declare(cluster, "besteffort", 600)   # 1000Mi used of 1Gi: 24Mi available, under the 100Mi threshold
    settle(cluster, 20)

    evicted = status(cluster, "besteffort")
    assert evicted["phase"] == "Failed"
    assert evicted["reason"] == "Evicted"
    message = ("The node was low on resource: memory. Threshold quantity: 100Mi, available: 24Mi. "
               "Container app was using 600Mi, request is 0, has larger consumption of memory. ")
    assert evicted["message"] == message
    target = next(c for c in evicted["conditions"] if c["type"] == "DisruptionTarget")
    assert (target["status"], target["reason"], target["message"]) == ("True", "TerminationByKubelet", message)
    assert "terminated" in evicted["containerStatuses"][0]["state"]
    sandbox = next(c for c in evicted["conditions"] if c["type"] == "PodReadyToStartContainers")
    assert sandbox["status"] == "False"   # the sandbox is stopped with the containers
    assert status(cluster, "burstable")["phase"] == "Running"   # within its request: spared

    pod_events = [e for e in events(cluster, "Evicted") if e["involvedObject"]["name"] == "besteffort"]
    assert [(e["type"], e["message"]) for e in pod_events] == [("Warning", message)]
    node_events = events(cluster, "EvictionThresholdMet")
    assert node_events and node_events[0]["type"] == "Warning"
    assert node_events[0]["message"] == "Attempting to reclaim memory"
    assert node_events[0]["involvedObject"]["kind"] == "Node"

    pressure = condition(node(cluster), "MemoryPressure")
    assert (pressure["status"], pressure["reason"], pressure["message"]) == \
        ("True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available")
    taints = node(cluster)["spec"].get("taints") or []
    assert {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"} in taints
    assert "NodeHasInsufficientMemory" in cluster.kubectl("describe node small")

    # A BestEffort pod does not tolerate the taint: it waits for the pressure to go.
    cluster.apply(pod_yaml("newcomer", 10))
    settle(cluster, 10)
    assert status(cluster, "newcomer")["phase"] == "Pending"
    # One that names the node itself meets the kubelet's admission: refused, as upstream's eviction admit
    # handler refuses BestEffort pods under memory pressure; a pod with a request is admitted.
    cluster.apply(pod_yaml("direct", 10).replace("nodeSelector: {kubernetes.io/hostname: small}", "nodeName: small"))
    cluster.apply(pod_yaml("direct-burstable", 10, request="10Mi").replace(
        "nodeSelector: {kubernetes.io/hostname: small}", "nodeName: small"))
    settle(cluster, 10)
    refused = status(cluster, "direct")
    assert (refused["phase"], refused["reason"], refused["message"]) == \
        ("Failed", "Evicted", "Pod was rejected: The node had condition: [MemoryPressure]. ")
    assert status(cluster, "direct-burstable")["phase"] == "Running"

    # The pressure clears only after the transition period (5 min) since the threshold was last met.
    settle(cluster, 250)
    assert condition(node(cluster), "MemoryPressure")["status"] == "True"
    settle(cluster, 40)
    pressure = condition(node(cluster), "MemoryPressure")
    assert (pressure["status"], pressure["reason"]) == ("False", "KubeletHasSufficientMemory")
    assert not [t for t in node(cluster)["spec"].get("taints") or [] if "memory-pressure" in t["key"]]
    settle(cluster, 10)
    assert status(cluster, "newcomer")["phase"] == "Running"
    assert status(cluster, "burstable")["phase"] == "Running"


def test_lower_priority_is_evicted_first(cluster):
    cluster.apply("""\
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: important}
value: 1000
""")
    cluster.apply(pod_yaml("important", 500, priority_class="important"))
    cluster.apply(pod_yaml("ordinary", 100))
    settle(cluster, 20)
    declare(cluster, "ordinary", 450)   # the smaller user, but the lower priority
    settle(cluster, 20)
    assert status(cluster, "ordinary")["reason"] == "Evicted"
    assert status(cluster, "important")["phase"] == "Running"


def test_one_pod_per_interval_until_the_threshold_is_no_longer_met(cluster):
    for name, mib in (("a", 400), ("b", 300), ("c", 100)):
        cluster.apply(pod_yaml(name, mib))
    settle(cluster, 20)
    declare(cluster, "c", 250)   # 950Mi used: evict the biggest user (a) alone; then 550Mi used, no more
    settle(cluster, 40)
    phases = {name: status(cluster, name)["phase"] for name in "abc"}
    assert phases == {"a": "Failed", "b": "Running", "c": "Running"}


def test_a_deployments_evicted_pod_is_replaced(cluster):
    cluster.apply("""\
apiVersion: apps/v1
kind: Deployment
metadata: {name: hog}
spec:
  replicas: 1
  selector: {matchLabels: {app: hog}}
  template:
    metadata:
      labels: {app: hog}
      annotations:
        sim.minik8s.io/app: '{"memoryBytes": 1048576000}'
    spec:
      containers:
      - {name: app, image: nginx}
""")
    settle(cluster, 30)
    pods = json.loads(cluster.kubectl("get pods -l app=hog -o json"))["items"]
    reasons = sorted(p["status"].get("reason", "") for p in pods)
    assert "Evicted" in reasons
    # The ReplicaSet does not count a Failed pod: a replacement exists (Pending while the node is tainted).
    assert any(p["status"].get("phase") in ("Pending", "Running") for p in pods)


def test_emptydir_over_its_size_limit_is_evicted(cluster):
    cluster.apply("""\
apiVersion: v1
kind: Pod
metadata: {name: cache}
spec:
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "echo started > /cache/log; sleep 3600"]
    volumeMounts: [{name: scratch, mountPath: /cache}]
  volumes:
  - name: scratch
    emptyDir: {sizeLimit: 1Ki}
""")
    settle(cluster, 20)
    assert status(cluster, "cache")["phase"] == "Running"   # 8 bytes: within the limit
    big = "x" * 2000
    cluster.kubectl(f"exec cache -- sh -c 'echo {big} > /cache/big'")
    settle(cluster, 20)
    evicted = status(cluster, "cache")
    assert (evicted["phase"], evicted["reason"]) == ("Failed", "Evicted")
    assert evicted["message"] == 'Usage of EmptyDir volume "scratch" exceeds the limit "1Ki". '
    # Not a threshold eviction: upstream adds no DisruptionTarget condition for it.
    assert not [c for c in evicted["conditions"] if c["type"] == "DisruptionTarget"]
    assert condition(node(cluster), "MemoryPressure")["status"] == "False"


def test_a_cluster_without_pressure_never_evicts():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(pod_yaml("busy", 2000).replace("nodeSelector: {kubernetes.io/hostname: small}", ""))
        for _ in range(40):
            c.advance(10)
            c.run_until_stable()
        assert status(c, "busy")["phase"] == "Running"
        assert not events(c, "Evicted") and not events(c, "EvictionThresholdMet")
        pressure = condition(json.loads(c.kubectl("get node node-1 -o json")), "MemoryPressure")
        assert (pressure["status"], pressure["reason"]) == ("False", "KubeletHasSufficientMemory")


def test_ranking_and_messages_as_upstream():
    def usage(name: str, mib: int, request: str | None = None, priority: int = 0) -> eviction.PodUsage:
        container = {"name": "app", "resources": {"requests": {"memory": request}} if request else {}}
        pod = {"metadata": {"name": name}, "spec": {"priority": priority, "containers": [container]}}
        return eviction.PodUsage(pod, {"app": mib * MiB})

    ranked = eviction.rank_memory_pressure([usage("within", 500, "600Mi"), usage("high", 100, priority=10),
                                            usage("low-small", 50), usage("low-big", 200)])
    assert [u.pod["metadata"]["name"] for u in ranked] == ["low-big", "low-small", "high", "within"]
    assert eviction.memory_message("100Mi", 50 * MiB, usage("x", 2048)) == (
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
        "Container app was using 2Gi, request is 0, has larger consumption of memory. ")
    critical = usage("critical", 950)
    critical.pod["spec"]["priority"] = 2_000_001_000   # system-node-critical: never a victim
    manager = eviction.Manager(1024 * MiB)
    decision = manager.observe([critical, usage("small", 10)], now=0.0)
    assert decision.pressure and decision.victim is not None and decision.victim.pod["metadata"]["name"] == "small"
    with pytest.raises(ValueError):
        eviction.parse_thresholds({"nodefs.available": "10%"})


def test_process_runtime_measures_emptydirs_with_a_size_limit(tmp_path, monkeypatch):
    from minik8s.kubelet.runtimes.process import filesystem

    pod = {"spec": {"volumes": [{"name": "scratch", "emptyDir": {"sizeLimit": "1Ki"}},
                                {"name": "free", "emptyDir": {}}]}}
    scratch = tmp_path / "volumes" / "kubernetes.io~empty-dir" / "scratch"
    (scratch / "sub").mkdir(parents=True)
    (scratch / "a").write_bytes(b"x" * 1500)
    (scratch / "sub" / "b").write_bytes(b"y" * 500)
    (scratch / "link").symlink_to("/etc/passwd")   # not followed
    sizes = filesystem.empty_dir_sizes(pod, tmp_path)
    assert sizes == {"scratch": 2000}   # only volumes with a limit are walked
    usage = eviction.PodUsage(pod, {}, sizes)
    assert eviction.emptydir_violation(usage) == 'Usage of EmptyDir volume "scratch" exceeds the limit "1Ki". '
    monkeypatch.setattr(filesystem, "SIZE_WALK_ENTRIES", 1)   # the walk is bounded
    assert filesystem.empty_dir_sizes(pod, tmp_path)["scratch"] < 2000


def test_a_memory_backed_emptydir_counts_toward_its_pods_memory():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as cluster:
        # 1Gi - 700Mi - 10Mi leaves 314Mi (329252864 bytes): the threshold is 864 bytes below that.
        cluster.add_node("small", memory="1Gi", eviction_hard={"memory.available": "329252k"})
        cluster.apply("""\
apiVersion: v1
kind: Pod
metadata:
  name: ramdisk
  annotations:
    sim.minik8s.io/app: '{"memoryBytes": 10485760}'
spec:
  nodeSelector: {kubernetes.io/hostname: small}
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "sleep 3600"]
    volumeMounts: [{name: shm, mountPath: /shm}, {name: disk, mountPath: /disk}]
  volumes:
  - {name: shm, emptyDir: {medium: Memory}}
  - {name: disk, emptyDir: {}}
""")
        cluster.apply(pod_yaml("steady", 700, request="700Mi"))
        settle(cluster, 20)
        big = "x" * 2000
        cluster.kubectl(f"exec ramdisk -- sh -c 'echo {big} > /disk/f'")   # on disk: no memory
        settle(cluster, 20)
        assert status(cluster, "ramdisk")["phase"] == "Running"
        cluster.kubectl(f"exec ramdisk -- sh -c 'echo {big} > /shm/f'")    # in memory: 2001 bytes more
        settle(cluster, 20)
        evicted = status(cluster, "ramdisk")
        assert (evicted["phase"], evicted["reason"]) == ("Failed", "Evicted")
        assert evicted["message"].startswith("The node was low on resource: memory. Threshold quantity: 329252k, ")
        assert status(cluster, "steady")["phase"] == "Running"


def test_a_bad_declared_usage_never_stops_the_heartbeat(cluster):
    cluster.apply(pod_yaml("odd", 10).replace('{"memoryBytes": 10485760}', '{"memoryBytes": "lots"}'))
    settle(cluster, 120)
    ready = condition(node(cluster), "Ready")
    assert ready["status"] == "True"
    assert condition(node(cluster), "MemoryPressure")["status"] == "False"
