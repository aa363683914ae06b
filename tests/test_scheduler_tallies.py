"""The scheduler cache's tallies give InterPodAffinity and PodTopologySpread the same verdicts and scores
as a plain scan of every pod on every node, on random clusters that change between decisions."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from minik8s.scheduler import Cache, CycleState, PodInfo
from minik8s.scheduler.framework import SKIP
from minik8s.scheduler.plugins import InterPodAffinity, PodTopologySpread
from minik8s.scheduler.plugins.inter_pod_affinity import REASON_ANTI_AFFINITY, REASON_EXISTING_ANTI_AFFINITY
from minik8s.scheduler.plugins.pod_topology_spread import REASON, REASON_MISSING_LABEL
from tests.test_scheduler import HOST, ZONE, make_node, make_pod

APPS = ("web", "db", "cache")
NAMESPACES = ("default", "other")
KEYS = (HOST, ZONE)


def _term(rng: random.Random) -> dict[str, Any]:
    term: dict[str, Any] = {"labelSelector": {"matchLabels": {"app": rng.choice(APPS)}},
                            "topologyKey": rng.choice(KEYS)}
    if rng.random() < 0.3:
        term["namespaces"] = list(NAMESPACES)
    return term


def _affinity(rng: random.Random) -> dict[str, Any]:
    affinity: dict[str, Any] = {}
    for kind in ("podAffinity", "podAntiAffinity"):
        section: dict[str, Any] = {}
        if rng.random() < 0.4:
            section["requiredDuringSchedulingIgnoredDuringExecution"] = [_term(rng)]
        if rng.random() < 0.4:
            section["preferredDuringSchedulingIgnoredDuringExecution"] = [
                {"weight": rng.randint(1, 100), "podAffinityTerm": _term(rng)} for _ in range(rng.randint(1, 2))]
        if section:
            affinity[kind] = section
    return affinity


def _spread(rng: random.Random) -> list[dict[str, Any]]:
    return [{"maxSkew": rng.randint(1, 2), "topologyKey": rng.choice(KEYS),
             "whenUnsatisfiable": rng.choice(("DoNotSchedule", "ScheduleAnyway")),
             "labelSelector": {"matchLabels": {"app": rng.choice(APPS)}}} for _ in range(rng.randint(1, 2))]


def random_pod(rng: random.Random, name: str, node: str | None = None, incoming: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    affinity = _affinity(rng)
    if incoming:  # the incoming pod's own required affinity is the plain scan in both paths
        affinity.get("podAffinity", {}).pop("requiredDuringSchedulingIgnoredDuringExecution", None)
    if affinity:
        spec["affinity"] = affinity
    if incoming and rng.random() < 0.7:
        spec["topologySpreadConstraints"] = _spread(rng)
    if incoming and rng.random() < 0.2:
        spec["nodeSelector"] = {"tier": "front"}
    pod = make_pod(name, namespace=rng.choice(NAMESPACES), labels={"app": rng.choice(APPS)}, node_name=node, **spec)
    if rng.random() < 0.1:
        pod["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    return pod


def random_node(rng: random.Random, name: str) -> dict[str, Any]:
    labels = {"tier": rng.choice(("front", "back"))}
    if rng.random() < 0.9:  # a few nodes have no zone
        labels[ZONE] = rng.choice(("a", "b", "c"))
    return make_node(name, labels=labels)


# --- the plain scan: the rules written out over every pod on every node -------------------------------------

def _placed(cache: Cache) -> list[tuple[Any, PodInfo]]:
    return [(node, pod) for node in cache.nodes for pod in node.pods.values()]


def _same_domain(a: Any, b: Any, key: str) -> bool:
    return key in a.labels and a.labels.get(key) == b.labels.get(key)


def scan_inter_pod_filter(pod: PodInfo, node: Any, cache: Cache) -> str | None:
    placed = _placed(cache)
    for term in pod.required_anti_affinity:
        if any(_same_domain(node, n, term.topology_key) and term.matches(p) for n, p in placed):
            return REASON_ANTI_AFFINITY
    for n, p in placed:
        if any(_same_domain(node, n, t.topology_key) and t.matches(pod) for t in p.required_anti_affinity):
            return REASON_EXISTING_ANTI_AFFINITY
    return None


def scan_inter_pod_score(pod: PodInfo, node: Any, cache: Cache) -> int:
    total = 0
    for n, p in _placed(cache):
        parts = [(t, p, t.weight) for t in pod.preferred_affinity]
        parts += [(t, p, -t.weight) for t in pod.preferred_anti_affinity]
        parts += [(t, pod, 1) for t in p.required_affinity] + [(t, pod, t.weight) for t in p.preferred_affinity]
        parts += [(t, pod, -t.weight) for t in p.preferred_anti_affinity]
        total += sum(w for t, target, w in parts if _same_domain(node, n, t.topology_key) and t.matches(target))
    return total


def _spread_matches(pod: PodInfo, other: PodInfo, constraint: dict[str, Any]) -> bool:
    wanted = constraint["labelSelector"]["matchLabels"]
    return (other.namespace == pod.namespace and not other.terminating
            and all(other.labels.get(k) == v for k, v in wanted.items()))


def scan_spread_filter(pod: PodInfo, node: Any, cache: Cache) -> str | None:
    constraints = [c for c in pod.pod["spec"].get("topologySpreadConstraints", [])
                   if c["whenUnsatisfiable"] == "DoNotSchedule"]
    selector = pod.pod["spec"].get("nodeSelector", {})
    eligible = [n for n in cache.nodes if all(c["topologyKey"] in n.labels for c in constraints)
                and all(n.labels.get(k) == v for k, v in selector.items())]
    for c in constraints:
        key = c["topologyKey"]
        if key not in node.labels:
            return REASON_MISSING_LABEL
        counts = {n.labels[key]: 0 for n in eligible}
        for n in eligible:
            counts[n.labels[key]] += sum(1 for p in n.pods.values() if _spread_matches(pod, p, c))
        own = 1 if all(pod.labels.get(k) == v for k, v in c["labelSelector"]["matchLabels"].items()) else 0
        if counts.get(node.labels[key], 0) + own - min(counts.values(), default=0) > c["maxSkew"]:
            return REASON
    return None


def scan_spread_score(pod: PodInfo, node: Any, feasible: list[Any], cache: Cache) -> int:
    """For a pod without node constraints: every node with the key counts towards its domain. As upstream's
    preScoreState, constraints on one key (other than hostname) count into one number per domain."""
    constraints = [c for c in pod.pod["spec"].get("topologySpreadConstraints", [])
                   if c["whenUnsatisfiable"] == "ScheduleAnyway"]
    total = 0.0
    for c in constraints:
        key = c["topologyKey"]
        if key not in node.labels:
            continue
        size = len(feasible) if key == HOST else len({n.labels[key] for n in feasible if key in n.labels})
        domain = [node] if key == HOST else [n for n in cache.nodes if _same_domain(node, n, key)]
        sharing = [c] if key == HOST else [other for other in constraints if other["topologyKey"] == key]
        count = sum(1 for n in domain for p in n.pods.values() for s in sharing if _spread_matches(pod, p, s))
        total += count * math.log(size + 2) + (c["maxSkew"] - 1)
    return int(math.floor(total + 0.5))


# --- the comparison ------------------------------------------------------------------------------------------

def check_against_scan(cache: Cache, pod: dict[str, Any]) -> None:
    info = PodInfo(pod)
    for plugin, scan in ((InterPodAffinity(), scan_inter_pod_filter), (PodTopologySpread(), scan_spread_filter)):
        state = CycleState()
        skipped = plugin.pre_filter(state, info, cache) is SKIP
        for node in cache.nodes:
            assert (None if skipped else plugin.filter(state, info, node)) == scan(info, node, cache), \
                (plugin.name, node.name)
    feasible = cache.nodes[: max(2, len(cache.nodes) // 2)]
    inter_pod, state = InterPodAffinity(), CycleState()
    if inter_pod.pre_score(state, info, feasible, cache) is SKIP:
        assert all(scan_inter_pod_score(info, n, cache) == 0 for n in cache.nodes)
    else:
        assert [inter_pod.score(state, info, n) for n in feasible] == \
            [scan_inter_pod_score(info, n, cache) for n in feasible]
    if "nodeSelector" not in pod["spec"]:
        spread, state = PodTopologySpread(), CycleState()
        if spread.pre_score(state, info, feasible, cache) is not SKIP:
            assert [spread.score(state, info, n) for n in feasible] == \
                [scan_spread_score(info, n, feasible, cache) for n in feasible]


@pytest.mark.parametrize("seed", range(40))
def test_tallies_give_the_plain_scans_verdicts_and_scores_while_the_cluster_changes(seed: int) -> None:
    rng = random.Random(seed)
    cache = Cache()
    names = [f"n{i}" for i in range(rng.randint(3, 8))]
    for name in names:
        cache.add_node(random_node(rng, name))
    pods: list[dict[str, Any]] = []
    for step in range(25):
        check_against_scan(cache, random_pod(rng, f"new-{step}", incoming=True))
        # The cluster changes between decisions: the tallies asked for above must follow.
        roll = rng.random()
        if roll < 0.6 or not pods:
            pod = random_pod(rng, f"p{step}", rng.choice(names))
            pods.append(pod)
            cache.add_pod(pod)
        elif roll < 0.75:
            cache.remove_pod(pods.pop(rng.randrange(len(pods))))
        elif roll < 0.85:
            cache.assume(random_pod(rng, f"a{step}"), rng.choice(names))
        elif roll < 0.95 or len(names) <= 3:
            cache.update_node(random_node(rng, rng.choice(names)))  # relabelled: domains move
        else:
            cache.remove_node(names.pop(rng.randrange(len(names))))  # its pods stay, counted nowhere
