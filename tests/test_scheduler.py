"""Tests for minik8s.scheduler: cache, plugins (exact upstream reasons), algorithm."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minik8s.scheduler import (
    DEFAULT_PLUGINS, Cache, CycleState, Plugin, PodInfo, Profile, Scheduler, default_plugins, new_plugins,
    num_feasible_nodes_to_find, pod_requests, register,
)
from minik8s.scheduler import framework
from minik8s.scheduler.framework import SKIP
from minik8s.scheduler.plugins import (
    ImageLocality, InterPodAffinity, NodeAffinity, NodeName, NodePorts, NodeResourcesBalancedAllocation,
    NodeResourcesFit, NodeUnschedulable, PodTopologySpread, TaintToleration, VolumeBinding, VolumeRestrictions,
)

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def make_node(name: str, cpu: str = "4", memory: str = "8Gi", pods: str = "110",
              labels: dict[str, str] | None = None, taints: list[dict[str, str]] | None = None,
              unschedulable: bool = False, images: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    status: dict[str, Any] = {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}}
    if images:
        status["images"] = images
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {HOST: name, **(labels or {})}}, "spec": spec, "status": status}


def make_pod(name: str, cpu: str | None = "100m", memory: str | None = "128Mi", namespace: str = "default",
             labels: dict[str, str] | None = None, node_name: str | None = None, **spec: Any) -> dict[str, Any]:
    requests = {}
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    full_spec: dict[str, Any] = {"containers": [{"name": "c", "image": "nginx", "resources": {"requests": requests}}]}
    if node_name:
        full_spec["nodeName"] = node_name
    full_spec.update(spec)
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {}}, "spec": full_spec}


def cache_with(*nodes: dict[str, Any], pods: tuple[dict[str, Any], ...] = ()) -> Cache:
    cache = Cache()
    for node in nodes:
        cache.add_node(node)
    for pod in pods:
        cache.add_pod(pod)
    return cache


def run_filter(plugin: Plugin, pod: dict[str, Any], cache: Cache, node_name: str) -> Any:
    """PreFilter then Filter one node, as the framework would; SKIP means 'passes'."""
    state = CycleState()
    info = PodInfo(pod)
    result = plugin.pre_filter(state, info, cache)
    if result is SKIP:
        return None
    node = cache.get(node_name)
    assert node is not None
    return plugin.filter(state, info, node)


def schedule_all(scheduler: Scheduler, cache: Cache, pods: list[dict[str, Any]]) -> list[str | None]:
    placed = []
    for pod in pods:
        result = scheduler.schedule(pod, cache)
        if result.node is not None:
            cache.assume(pod, result.node)
        placed.append(result.node)
    return placed


# --- cache ------------------------------------------------------------------


def test_pod_requests_sum_containers_and_take_init_peak_and_overhead() -> None:
    pod = make_pod("p", cpu="100m", memory="100Mi")
    pod["spec"]["containers"].append({"name": "d", "resources": {"requests": {"cpu": "200m"}}})
    pod["spec"]["initContainers"] = [{"name": "init", "resources": {"requests": {"cpu": "500m", "memory": "10Mi"}}}]
    pod["spec"]["overhead"] = {"cpu": "10m", "memory": "1Mi"}
    r = pod_requests(pod)
    assert r.milli_cpu == 500 + 10  # the init container alone asks more than 100m + 200m
    assert r.memory == 100 * 2**20 + 2**20
    # Non-zero: the second container has no memory request, so it counts 200MB for scoring.
    assert r.nonzero_memory == 100 * 2**20 + 200 * 2**20 + 2**20


def test_sidecar_init_containers_add_to_the_app_containers() -> None:
    pod = make_pod("p", cpu="100m", memory=None)
    pod["spec"]["initContainers"] = [
        {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}},
        {"name": "setup", "resources": {"requests": {"cpu": "120m"}}},
    ]
    # app phase: 100 + 50 = 150; init phase peak: 50 + 120 = 170.
    assert pod_requests(pod).milli_cpu == 170


def test_pod_without_requests_counts_nonzero_defaults_only_for_scoring() -> None:
    r = pod_requests(make_pod("p", cpu=None, memory=None))
    assert (r.milli_cpu, r.memory) == (0, 0)
    assert (r.nonzero_milli_cpu, r.nonzero_memory) == (100, 200 * 1024 * 1024)


def test_cache_sums_follow_add_update_remove_and_assume_forget() -> None:
    cache = cache_with(make_node("n1"), make_node("n2"))
    pod = make_pod("a", cpu="300m", memory="1Gi", node_name="n1")
    cache.add_pod(pod)
    n1, n2 = cache.get("n1"), cache.get("n2")
    assert n1 is not None and n2 is not None
    assert (n1.requested_milli_cpu, n1.requested_memory, len(n1.pods)) == (300, 2**30, 1)
    cache.update_pod(make_pod("a", cpu="500m", memory="1Gi", node_name="n2"))
    assert (n1.requested_milli_cpu, n2.requested_milli_cpu) == (0, 500)
    cache.remove_pod("default/a")
    assert n2.requested_milli_cpu == 0 and not n2.pods

    b = make_pod("b", cpu="200m")
    cache.assume(b, "n1")
    assert n1.requested_milli_cpu == 200 and cache.is_assumed(b)
    cache.forget(b)
    assert n1.requested_milli_cpu == 0
    cache.assume(b, "n1")
    cache.add_pod(dict(b, spec=dict(b["spec"], nodeName="n1")))  # the binding is observed
    assert not cache.is_assumed(b) and n1.requested_milli_cpu == 200
    cache.forget(b)  # a confirmed pod is not forgotten
    assert n1.requested_milli_cpu == 200


def test_terminal_and_unassigned_pods_do_not_count() -> None:
    cache = cache_with(make_node("n1"))
    done = make_pod("done", cpu="1", node_name="n1")
    done["status"] = {"phase": "Succeeded"}
    cache.add_pod(done)
    cache.add_pod(make_pod("pending", cpu="1"))
    n1 = cache.get("n1")
    assert n1 is not None and n1.requested_milli_cpu == 0 and cache.pod_count() == 0


def test_remove_node_keeps_walk_list_consistent_and_pods_survive() -> None:
    cache = cache_with(*(make_node(f"n{i}") for i in range(4)))
    cache.add_pod(make_pod("a", node_name="n1"))
    cache.remove_node("n1")
    assert sorted(n.name for n in cache.nodes) == ["n0", "n2", "n3"]
    assert cache.get("n1") is None
    cache.add_node(make_node("n1"))  # the node comes back: its pod still counts
    n1 = cache.get("n1")
    assert n1 is not None and len(n1.pods) == 1
    cache.remove_node("n3")
    assert sorted(n.name for n in cache.nodes) == ["n0", "n1", "n2"]


# --- filter plugins: pass/fail with upstream's exact reasons ----------------------


def test_node_name_filter() -> None:
    cache = cache_with(make_node("n1"), make_node("n2"))
    pod = make_pod("p", node_name="n1")
    assert run_filter(NodeName(), pod, cache, "n1") is None
    assert run_filter(NodeName(), pod, cache, "n2") == "node(s) didn't match the requested node name"


def test_node_unschedulable_filter_and_its_toleration() -> None:
    cache = cache_with(make_node("n1", unschedulable=True), make_node("n2"))
    assert run_filter(NodeUnschedulable(), make_pod("p"), cache, "n1") == "node(s) were unschedulable"
    assert run_filter(NodeUnschedulable(), make_pod("p"), cache, "n2") is None
    tolerant = make_pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                           "effect": "NoSchedule"}])
    assert run_filter(NodeUnschedulable(), tolerant, cache, "n1") is None


def test_taint_toleration_filter_reasons() -> None:
    cache = cache_with(
        make_node("gpu", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        make_node("cp", taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
        make_node("soft", taints=[{"key": "x", "value": "y", "effect": "PreferNoSchedule"}]),
    )
    plugin = TaintToleration()
    assert run_filter(plugin, make_pod("p"), cache, "gpu") == "node(s) had untolerated taint {dedicated: gpu}"
    assert run_filter(plugin, make_pod("p"), cache, "cp") == \
        "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
    assert run_filter(plugin, make_pod("p"), cache, "soft") is None  # PreferNoSchedule only scores
    equal = make_pod("p", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                        "effect": "NoSchedule"}])
    assert run_filter(plugin, equal, cache, "gpu") is None
    wrong_value = make_pod("p", tolerations=[{"key": "dedicated", "value": "cpu"}])
    assert run_filter(plugin, wrong_value, cache, "gpu") == "node(s) had untolerated taint {dedicated: gpu}"
    everything = make_pod("p", tolerations=[{"operator": "Exists"}])
    assert run_filter(plugin, everything, cache, "cp") is None


def test_node_resources_fit_reasons() -> None:
    cache = cache_with(make_node("small", cpu="1", memory="1Gi", pods="1"), make_node("big"))
    plugin = NodeResourcesFit()
    assert run_filter(plugin, make_pod("p", cpu="2"), cache, "small") == "Insufficient cpu"
    assert run_filter(plugin, make_pod("p", memory="2Gi"), cache, "small") == "Insufficient memory"
    assert run_filter(plugin, make_pod("p", cpu="2", memory="2Gi"), cache, "small") == \
        ("Insufficient cpu", "Insufficient memory")
    assert run_filter(plugin, make_pod("p", cpu="1", memory="1Gi"), cache, "small") is None
    cache.add_pod(make_pod("existing", cpu="0", memory="0", node_name="small"))
    assert run_filter(plugin, make_pod("p", cpu="10m"), cache, "small") == "Too many pods"
    assert run_filter(plugin, make_pod("p", cpu="2"), cache, "big") is None


def test_node_ports_filter() -> None:
    port = {"containerPort": 80, "hostPort": 8080}
    user = make_pod("a", node_name="n1")
    user["spec"]["containers"][0]["ports"] = [port]
    cache = cache_with(make_node("n1"), make_node("n2"), pods=(user,))
    pod = make_pod("b")
    pod["spec"]["containers"][0]["ports"] = [port]
    assert run_filter(NodePorts(), pod, cache, "n1") == "node(s) didn't have free ports for the requested pod ports"
    assert run_filter(NodePorts(), pod, cache, "n2") is None
    assert run_filter(NodePorts(), make_pod("c"), cache, "n1") is None


def test_node_affinity_node_selector() -> None:
    cache = cache_with(make_node("ssd", labels={"disk": "ssd"}), make_node("hdd", labels={"disk": "hdd"}))
    pod = make_pod("p", nodeSelector={"disk": "ssd"})
    assert run_filter(NodeAffinity(), pod, cache, "ssd") is None
    assert run_filter(NodeAffinity(), pod, cache, "hdd") == "node(s) didn't match Pod's node affinity/selector"
    placed = Scheduler().schedule(pod, cache)
    assert placed.node == "ssd"


def required_affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


@pytest.mark.parametrize("expression, matching", [
    ({"key": "zone", "operator": "In", "values": ["a", "b"]}, {"a", "b"}),
    ({"key": "zone", "operator": "NotIn", "values": ["a"]}, {"b", "none"}),
    ({"key": "zone", "operator": "Exists"}, {"a", "b"}),
    ({"key": "zone", "operator": "DoesNotExist"}, {"none"}),
    ({"key": "cores", "operator": "Gt", "values": ["4"]}, {"b"}),
    ({"key": "cores", "operator": "Lt", "values": ["8"]}, {"a"}),
])
def test_required_node_affinity_operators(expression: dict[str, Any], matching: set[str]) -> None:
    cache = cache_with(make_node("a", labels={"zone": "a", "cores": "4"}),
                       make_node("b", labels={"zone": "b", "cores": "8"}), make_node("none"))
    pod = make_pod("p", affinity=required_affinity({"matchExpressions": [expression]}))
    fits = {name for name in ("a", "b", "none") if run_filter(NodeAffinity(), pod, cache, name) is None}
    assert fits == matching


def test_required_node_affinity_terms_are_ored() -> None:
    cache = cache_with(make_node("a", labels={"zone": "a"}), make_node("b", labels={"zone": "b"}), make_node("c"))
    pod = make_pod("p", affinity=required_affinity(
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]},
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}))
    placements = Counter(schedule_all(Scheduler(rng=random.Random(3)), cache,
                                      [make_pod(f"p{i}", affinity=pod["spec"]["affinity"]) for i in range(10)]))
    assert set(placements) == {"a", "b"}


def test_match_fields_narrows_candidates_and_reports_absent_nodes() -> None:
    cache = cache_with(make_node("n1"), make_node("n2"), make_node("n3"))
    pod = make_pod("p", affinity=required_affinity(
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}))
    assert Scheduler().schedule(pod, cache).node == "n2"
    gone = make_pod("q", affinity=required_affinity(
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n9"]}]}))
    result = Scheduler().schedule(gone, cache)
    assert result.node is None
    assert result.message == ("0/3 nodes are available: 3 node(s) didn't satisfy plugin(s) [NodeAffinity]. "
                              "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.")


# --- inter-pod affinity -----------------------------------------------------------


def anti_affinity(app: str, key: str = HOST) -> dict[str, Any]:
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}]}}


def test_anti_affinity_spreads_replicas_across_hostnames() -> None:
    cache = cache_with(make_node("n1"), make_node("n2"), make_node("n3"))
    replicas = [make_pod(f"web-{i}", labels={"app": "web"}, affinity=anti_affinity("web")) for i in range(4)]
    placed = schedule_all(Scheduler(rng=random.Random(7)), cache, replicas)
    assert sorted(p for p in placed[:3] if p) == ["n1", "n2", "n3"]
    assert placed[3] is None
    result = Scheduler().schedule(make_pod("web-9", labels={"app": "web"}, affinity=anti_affinity("web")), cache)
    assert result.message == ("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. "
                              "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.")


def test_existing_pods_anti_affinity_rejects_incoming_pod() -> None:
    guard = make_pod("guard", labels={"app": "guard"}, affinity=anti_affinity("noisy"), node_name="n1")
    cache = cache_with(make_node("n1"), make_node("n2"), pods=(guard,))
    noisy = make_pod("noisy", labels={"app": "noisy"})
    assert run_filter(InterPodAffinity(), noisy, cache, "n1") == \
        "node(s) didn't satisfy existing pods anti-affinity rules"
    assert run_filter(InterPodAffinity(), noisy, cache, "n2") is None
    assert run_filter(InterPodAffinity(), make_pod("quiet", labels={"app": "quiet"}), cache, "n1") is None


def test_required_pod_affinity_and_the_first_pod_exception() -> None:
    affinity = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": ZONE}]}}
    cache = cache_with(make_node("a1", labels={ZONE: "a"}), make_node("b1", labels={ZONE: "b"}),
                       make_node("b2", labels={ZONE: "b"}))
    # No "cache" pod anywhere and the pod does not match itself: nowhere.
    web = make_pod("web", labels={"app": "web"}, affinity=affinity)
    assert run_filter(InterPodAffinity(), web, cache, "a1") == "node(s) didn't match pod affinity rules"
    # A pod with affinity to its own label may start the group anywhere.
    first = make_pod("cache-0", labels={"app": "cache"}, affinity=affinity)
    assert run_filter(InterPodAffinity(), first, cache, "a1") is None
    cache.add_pod(dict(first, spec=dict(first["spec"], nodeName="b1")))
    assert run_filter(InterPodAffinity(), web, cache, "b2") is None  # same zone as the cache pod
    assert run_filter(InterPodAffinity(), web, cache, "a1") == "node(s) didn't match pod affinity rules"


def test_preferred_pod_affinity_scores_the_zone_of_matching_pods() -> None:
    db = make_pod("db", labels={"app": "db"}, node_name="b1")
    cache = cache_with(make_node("a1", labels={ZONE: "a"}), make_node("b1", labels={ZONE: "b"}),
                       make_node("b2", labels={ZONE: "b"}), pods=(db,))
    affinity = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": ZONE}}]}}
    result = Scheduler(explain=True).schedule(make_pod("api", affinity=affinity), cache)
    assert result.node in ("b1", "b2")
    assert result.scores is not None
    assert result.scores["a1"]["InterPodAffinity"] == 0
    assert result.scores["b2"]["InterPodAffinity"] == 200  # normalized 100 × weight 2


# --- topology spread ----------------------------------------------------------------


def spread(max_skew: int = 1, key: str = ZONE, when: str = "DoNotSchedule") -> list[dict[str, Any]]:
    return [{"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
             "labelSelector": {"matchLabels": {"app": "web"}}}]


def test_topology_spread_max_skew_one_across_zones() -> None:
    # Zone a has 1 node, zone b has 3: without the constraint LeastAllocated would pile into b.
    cache = cache_with(make_node("a1", labels={ZONE: "a"}), *(make_node(f"b{i}", labels={ZONE: "b"}) for i in range(3)))
    pods = [make_pod(f"web-{i}", labels={"app": "web"}, topologySpreadConstraints=spread()) for i in range(8)]
    placed = schedule_all(Scheduler(rng=random.Random(1)), cache, pods)
    zones = Counter("a" if p == "a1" else "b" for p in placed)
    assert zones == {"a": 4, "b": 4}


def test_topology_spread_filter_reasons() -> None:
    existing = make_pod("web-0", labels={"app": "web"}, node_name="a1")
    cache = cache_with(make_node("a1", labels={ZONE: "a"}), make_node("b1", labels={ZONE: "b"}),
                       make_node("bare"), pods=(existing,))
    pod = make_pod("web-1", labels={"app": "web"}, topologySpreadConstraints=spread())
    assert run_filter(PodTopologySpread(), pod, cache, "a1") == "node(s) didn't match pod topology spread constraints"
    assert run_filter(PodTopologySpread(), pod, cache, "b1") is None
    assert run_filter(PodTopologySpread(), pod, cache, "bare") == \
        "node(s) didn't match pod topology spread constraints (missing required label)"


def test_topology_spread_min_domains_treats_missing_domains_as_empty() -> None:
    existing = make_pod("web-0", labels={"app": "web"}, node_name="a1")
    cache = cache_with(make_node("a1", labels={ZONE: "a"}), make_node("a2", labels={ZONE: "a"}), pods=(existing,))
    constraint = spread()
    constraint[0]["minDomains"] = 2
    pod = make_pod("web-1", labels={"app": "web"}, topologySpreadConstraints=constraint)
    # Only one zone exists but two are required: the global minimum is 0, so zone a (1 pod) is full.
    assert run_filter(PodTopologySpread(), pod, cache, "a2") == "node(s) didn't match pod topology spread constraints"


def test_schedule_anyway_spread_prefers_the_emptier_domain() -> None:
    existing = make_pod("web-0", labels={"app": "web"}, node_name="a1")
    cache = cache_with(make_node("a1", labels={ZONE: "a"}), make_node("a2", labels={ZONE: "a"}),
                       make_node("b1", labels={ZONE: "b"}), pods=(existing,))
    pod = make_pod("web-1", labels={"app": "web"}, topologySpreadConstraints=spread(when="ScheduleAnyway"))
    for seed in range(5):
        assert Scheduler(rng=random.Random(seed)).schedule(pod, cache).node == "b1"


# --- scoring ----------------------------------------------------------------------


def test_scoring_prefers_the_less_loaded_node() -> None:
    busy = make_pod("busy", cpu="3", memory="6Gi", node_name="n1")
    cache = cache_with(make_node("n1"), make_node("n2"), pods=(busy,))
    for seed in range(5):
        assert Scheduler(rng=random.Random(seed)).schedule(make_pod("p"), cache).node == "n2"


def test_least_allocated_and_balanced_allocation_values() -> None:
    cache = cache_with(make_node("n", cpu="4", memory="8Gi"))
    node = cache.get("n")
    assert node is not None
    pod = PodInfo(make_pod("p", cpu="1", memory="4Gi"))
    state = CycleState()
    # cpu: (4000-1000)*100/4000 = 75; memory: (8-4)*100/8 = 50; average 62.
    assert NodeResourcesFit().score(state, pod, node) == 62
    # fractions 0.25 and 0.5: std 0.125, score int(87.5) = 87.
    assert NodeResourcesBalancedAllocation().score(state, pod, node) == 87


def test_prefer_no_schedule_taint_and_preferred_node_affinity_steer_scoring() -> None:
    cache = cache_with(make_node("soft", taints=[{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]),
                       make_node("clean"))
    for seed in range(5):
        assert Scheduler(rng=random.Random(seed)).schedule(make_pod("p"), cache).node == "clean"
    cache = cache_with(make_node("x", labels={"tier": "gold"}), make_node("y"))
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]}}]}}
    for seed in range(5):
        assert Scheduler(rng=random.Random(seed)).schedule(make_pod("p", affinity=affinity), cache).node == "x"


def test_image_locality_prefers_the_node_with_the_image() -> None:
    image = [{"names": ["docker.io/library/big:1.0", "big:1.0"], "sizeBytes": 800 * 2**20}]
    cache = cache_with(make_node("has", images=image), make_node("lacks"), make_node("lacks2"))
    pod = make_pod("p")
    pod["spec"]["containers"][0]["image"] = "big:1.0"
    result = Scheduler(explain=True).schedule(pod, cache)
    assert result.node == "has"
    assert result.scores is not None and result.scores["has"]["ImageLocality"] > 0
    assert ImageLocality().name == "ImageLocality"


# --- the algorithm ----------------------------------------------------------------


def test_pod_that_fits_nowhere_gets_upstream_message() -> None:
    cache = cache_with(make_node("n1", cpu="1"), make_node("n2", cpu="1"), make_node("n3", cpu="1"))
    result = Scheduler().schedule(make_pod("big", cpu="2"), cache)
    assert result.node is None
    # Upstream v1.32's text, to the character (kube-scheduler's FitError, then DefaultPreemption's).
    assert result.message == ("0/3 nodes are available: 3 Insufficient cpu. "
                              "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.")
    assert result.diagnosis.unschedulable_plugins == {"NodeResourcesFit"}


def test_multiple_reasons_are_counted_and_sorted_as_upstream() -> None:
    control_plane = [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]
    cache = cache_with(*(make_node(f"cp{i}", taints=control_plane) for i in range(3)),
                       make_node("w1", memory="1Gi"), make_node("w2", memory="1Gi"))
    result = Scheduler().schedule(make_pod("p", memory="2Gi"), cache)
    assert result.message == ("0/5 nodes are available: 2 Insufficient memory, "
                              "3 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. "
                              "preemption: 0/5 nodes are available: 2 No preemption victims found for incoming pod, "
                              "3 Preemption is not helpful for scheduling.")


def test_preemption_verdict_looks_at_lower_priority_pods() -> None:
    low = [make_pod(f"low{i}", cpu="600m", node_name=f"n{i}", priority=0) for i in (1, 2)]
    cache = cache_with(make_node("n1", cpu="1"), make_node("n2", cpu="1"), make_node("n3", cpu="1", taints=[
        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]), pods=tuple(low))
    # Same priority: nobody may be evicted.
    same = Scheduler().schedule(make_pod("p", cpu="800m", priority=0), cache).message
    assert same.endswith(" preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                         "2 No preemption victims found for incoming pod.")
    # Higher priority, but too big even on an empty node: the Filter's own reason.
    huge = Scheduler().schedule(make_pod("p", cpu="2", priority=1000), cache).message
    assert huge.endswith(" preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                         "2 Insufficient cpu.")
    # Higher priority and evicting would make room: preemption proceeds, and adds nothing.
    room = Scheduler().schedule(make_pod("p", cpu="800m", priority=1000), cache).message
    assert room == "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu."
    never = Scheduler().schedule(make_pod("p", cpu="800m", priority=1000, preemptionPolicy="Never"), cache).message
    assert never.endswith(" Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.")


def test_no_nodes_at_all() -> None:
    assert Scheduler().schedule(make_pod("p"), Cache()).message == "no nodes available to schedule pods"


def test_same_seed_same_placements() -> None:
    def placements(seed: int) -> list[str | None]:
        cache = cache_with(*(make_node(f"n{i}") for i in range(20)))
        return schedule_all(Scheduler(rng=random.Random(seed)), cache, [make_pod(f"p{i}") for i in range(40)])

    assert placements(42) == placements(42)
    assert placements(42) != placements(43)


@pytest.mark.parametrize("nodes, percentage, expected", [
    (50, 0, 50), (100, 0, 100), (1000, 0, 420), (5000, 0, 500), (10000, 0, 500),
    (1000, 10, 100), (1000, 50, 500), (1000, 100, 1000), (200, 5, 100),
])
def test_num_feasible_nodes_to_find(nodes: int, percentage: int, expected: int) -> None:
    assert num_feasible_nodes_to_find(percentage, nodes) == expected


class RecordingFilter(Plugin):
    """Counts Filter calls; passes every node."""

    name = "RecordingFilter"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def filter(self, state: CycleState, pod: PodInfo, node: Any) -> None:
        self.calls.append(node.name)


@pytest.mark.parametrize("percentage, expected_calls", [(0, 420), (10, 100), (30, 300), (100, 1000)])
def test_percentage_of_nodes_to_score_limits_filtered_nodes(percentage: int, expected_calls: int) -> None:
    cache = cache_with(*(make_node(f"n{i}") for i in range(1000)))
    recorder = RecordingFilter()
    scheduler = Scheduler(Profile(default_plugins() + [recorder]), percentage_of_nodes_to_score=percentage)
    result = scheduler.schedule(make_pod("p"), cache)
    assert len(recorder.calls) == expected_calls
    assert result.feasible_nodes == expected_calls and result.node in recorder.calls
    # The next pod's walk starts where this one stopped, so other nodes get their turn.
    recorder.calls.clear()
    scheduler.schedule(make_pod("q"), cache)
    assert recorder.calls[0] == f"n{expected_calls % 1000}"


def test_profile_percentage_overrides_the_scheduler_setting() -> None:
    cache = cache_with(*(make_node(f"n{i}") for i in range(1000)))
    recorder = RecordingFilter()
    profile = Profile(default_plugins() + [recorder], percentage_of_nodes_to_score=20)
    Scheduler(profile, percentage_of_nodes_to_score=90).schedule(make_pod("p"), cache)
    assert len(recorder.calls) == 200


def test_rejected_nodes_do_not_count_towards_the_feasible_target() -> None:
    full = [make_node(f"f{i}", cpu="100m") for i in range(150)]
    free = [make_node(f"n{i}") for i in range(150)]
    cache = cache_with(*full, *free)  # walk order: all full nodes first
    result = Scheduler().schedule(make_pod("p", cpu="500m"), cache)
    assert result.node is not None and result.node.startswith("n")
    # 300 nodes: adaptive 50 - 300//125 = 48 % -> 144 feasible nodes wanted, after 150 rejected.
    assert result.feasible_nodes == 144 and result.evaluated_nodes == 294


# --- invariants (Hypothesis) -----------------------------------------------------

node_strategy = st.fixed_dictionaries({
    "cpu": st.sampled_from(["500m", "1", "2", "4"]),
    "memory": st.sampled_from(["512Mi", "1Gi", "4Gi"]),
    "pods": st.integers(min_value=1, max_value=6).map(str),
    "zone": st.sampled_from(["a", "b", "c"]),
    "tainted": st.booleans(),
    "unschedulable": st.booleans(),
})
pod_strategy = st.fixed_dictionaries({
    "cpu": st.sampled_from([None, "0", "100m", "250m", "1", "3"]),
    "memory": st.sampled_from([None, "64Mi", "256Mi", "1Gi"]),
    "tolerate": st.booleans(),
    "zone": st.sampled_from([None, "a", "b"]),
    "anti": st.booleans(),
    "spread": st.booleans(),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nodes=st.lists(node_strategy, min_size=1, max_size=8), pods=st.lists(pod_strategy, max_size=25),
       seed=st.integers(0, 1000))
def test_chosen_node_passes_every_filter_and_never_overcommits(nodes: list[dict[str, Any]],
                                                               pods: list[dict[str, Any]], seed: int) -> None:
    cache = Cache()
    for i, n in enumerate(nodes):
        taints = [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}] if n["tainted"] else None
        cache.add_node(make_node(f"n{i}", n["cpu"], n["memory"], n["pods"], labels={ZONE: n["zone"]},
                                 taints=taints, unschedulable=n["unschedulable"]))
    scheduler = Scheduler(rng=random.Random(seed))
    for j, p in enumerate(pods):
        spec: dict[str, Any] = {}
        if p["tolerate"]:
            spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
        if p["zone"]:
            spec["nodeSelector"] = {ZONE: p["zone"]}
        if p["anti"]:
            spec["affinity"] = anti_affinity("app")
        if p["spread"]:
            spec["topologySpreadConstraints"] = [{"maxSkew": 1, "topologyKey": ZONE,
                                                  "whenUnsatisfiable": "DoNotSchedule",
                                                  "labelSelector": {"matchLabels": {"app": "app"}}}]
        pod = make_pod(f"p{j}", p["cpu"], p["memory"], labels={"app": "app"}, **spec)
        result = scheduler.schedule(pod, cache)
        if result.node is None:
            assert result.message.startswith(f"0/{len(nodes)} nodes are available: ")
            continue
        node = cache.get(result.node)
        assert node is not None
        info = PodInfo(pod)
        for plugin in default_plugins():
            state = CycleState()
            if plugin.pre_filter(state, info, cache) is SKIP:
                continue
            assert plugin.filter(state, info, node) is None, plugin.name
        cache.assume(pod, result.node)
    for node in cache.nodes:
        assert node.requested_milli_cpu <= node.allocatable_milli_cpu
        assert node.requested_memory <= node.allocatable_memory
        assert len(node.pods) <= node.allocatable_pods
        assert node.requested_milli_cpu == sum(p.milli_cpu for p in node.pods.values())


class SkippingFilter(RecordingFilter):
    """Says Skip at PreFilter, so the framework must never call its Filter."""

    name = "SkippingFilter"

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: Cache) -> Any:
        return SKIP


def test_prefilter_skip_removes_the_plugin_from_filtering() -> None:
    cache = cache_with(*(make_node(f"n{i}") for i in range(5)))
    skipping, recording = SkippingFilter(), RecordingFilter()
    result = Scheduler(Profile(default_plugins() + [skipping, recording])).schedule(make_pod("p"), cache)
    assert result.node is not None
    assert skipping.calls == [] and len(recording.calls) == 5


class AvoidNodeZero(Plugin):
    """An out-of-tree plugin, registered by name like the in-tree ones: node n0 never fits."""

    name = "AvoidNodeZero"

    def filter(self, state: CycleState, pod: PodInfo, node: Any) -> str | None:
        return "node(s) were n0" if node.name == "n0" else None


@pytest.fixture
def own_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy of the registry for one test, so what it registers does not outlive it."""
    monkeypatch.setattr(framework, "_registry", dict(framework._registry))


def test_the_default_profile_is_upstreams_plugin_names_looked_up_in_the_registry() -> None:
    first, second = default_plugins(), default_plugins()
    assert [p.name for p in first] == list(DEFAULT_PLUGINS)
    assert [type(p) for p in first] == [
        NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, VolumeRestrictions,
        VolumeBinding, PodTopologySpread, InterPodAffinity, NodeResourcesBalancedAllocation, ImageLocality,
    ]
    assert all(a is not b for a, b in zip(first, second))  # every profile gets plugins of its own


def test_a_registered_plugin_joins_a_profile_by_name(own_registry: None) -> None:
    register(AvoidNodeZero.name, AvoidNodeZero)
    profile = Profile(new_plugins([*DEFAULT_PLUGINS, "AvoidNodeZero"]))
    assert [p.name for p in profile.filter_plugins][-1] == "AvoidNodeZero"
    assert Scheduler(profile).schedule(make_pod("p"), cache_with(make_node("n0"), make_node("n1"))).node == "n1"
    result = Scheduler(profile).schedule(make_pod("p"), cache_with(make_node("n0")))
    assert result.message.startswith("0/1 nodes are available: 1 node(s) were n0.")


def test_unknown_and_duplicate_plugin_names_are_refused_with_upstreams_words(own_registry: None) -> None:
    with pytest.raises(ValueError, match='^plugin "NodeNmae" does not exist$'):
        new_plugins(["NodeName", "NodeNmae"])
    with pytest.raises(ValueError, match="^a plugin named NodeName already exists$"):
        register("NodeName", AvoidNodeZero)
    register("NodeName", NodeName)  # the same factory again changes nothing
    assert [type(p) for p in new_plugins(["NodeName"])] == [NodeName]
