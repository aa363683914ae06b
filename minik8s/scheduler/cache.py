"""The scheduler's cache: what every node holds, kept up to date in O(1) per event.

kube-scheduler never asks the API server "what runs on node X?" while it decides.
It keeps a *cache* fed by watch events: one ``NodeInfo`` per node with the node's
allocatable resources and the running sums of what its pods request. A decision
reads only this cache, so scheduling one pod costs the same whether the cluster
has 10 or 10,000 pods (except for inter-pod affinity and topology spread, which
must look at pods).

Interface:
    PodInfo.from_pod(pod)                 # a pod parsed once: requests, ports, affinity terms
    pod_requests(pod) -> Requests         # what the pod asks for (upstream's PodRequests)
    NodeInfo                              # one node and the pods that count on it
    Cache()
        .add_node(node) / .update_node(node) / .remove_node(name_or_node)
        .add_pod(pod) / .update_pod(pod) / .remove_pod(pod_or_key)
        .assume(pod, node_name)           # count a pod on a node as soon as it is decided
        .forget(pod_or_key)               # undo an assume whose binding failed
        .nodes                            # list of NodeInfo, the order the scheduler walks
        .get(name) -> NodeInfo | None
        .tally(key, topology_key, count)  # pods per topology domain, kept up to date (see below)
        .affinity_terms[kind]             # existing pods' inter-pod affinity terms, grouped
        .nodes_with_label[key]            # how many nodes carry the label ``key``
        .storage                          # StorageListers: claims, volumes, classes (for the volume plugins)
        .node_label_values[key]           # value -> how many nodes carry ``key=value``

Tallies: inter-pod affinity and topology spread ask, for every pod they schedule,
"how many pods matching this selector run in each zone (or on each host)?". Asked
by scanning every pod, that costs the whole cluster per decision. A *tally* answers
it from a counter per topology domain that the cache builds the first time a
plugin asks (keyed by what the plugin counts, e.g. its namespace, selector and
topology key) and then keeps current as pods are placed and removed, so a decision
costs a dictionary lookup per domain. Existing pods' affinity terms are grouped the
same way (``affinity_terms``), so a plugin checks each distinct term once, not once
per pod. Plugins only read tallies, and only within one decision.

Invariants:
    * a pod counts on at most one node: the ``spec.nodeName`` of its latest version
      (or the node it was assumed on), keyed by ``namespace/name``;
    * ``NodeInfo.requested_*`` always equals the sum of the requests of ``NodeInfo.pods``;
    * terminal pods (``Succeeded``/``Failed``) and unassigned pods do not count;
    * a tally equals what a scan of the pods on the nodes the API has would count
      (a node added, removed or relabelled drops the tallies; they are rebuilt on demand).

How minik8s differs: there is no snapshot per cycle (the scheduler runs in one
thread, so it reads the cache directly), and assumed pods never expire on a
timer: the caller forgets them when a binding fails.

Taught in chapter 11 (Scheduling).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from minik8s.api import quantity
from minik8s.scheduler import selectors

# Upstream's non-zero defaults, used only for scoring a container without requests
# (pkg/scheduler/util: DefaultMilliCPURequest, DefaultMemoryRequest).
DEFAULT_MILLI_CPU_REQUEST = 100  # 0.1 core
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024  # 200 MB

Pod = dict[str, Any]
Node = dict[str, Any]


@dataclass(frozen=True)
class Requests:
    """A pod's requests: real ones (for filtering) and non-zero ones (for scoring)."""

    milli_cpu: int
    memory: int
    nonzero_milli_cpu: int
    nonzero_memory: int


def _container_requests(container: dict[str, Any]) -> tuple[int, int, int, int]:
    requests = (container.get("resources") or {}).get("requests") or {}
    cpu = quantity.milli(requests["cpu"]) if "cpu" in requests else 0
    mem = quantity.value(requests["memory"]) if "memory" in requests else 0
    # NonZeroRequested substitutes a default only when the request is *missing*;
    # an explicit 0 stays 0.
    nz_cpu = cpu if "cpu" in requests else DEFAULT_MILLI_CPU_REQUEST
    nz_mem = mem if "memory" in requests else DEFAULT_MEMORY_REQUEST
    return cpu, mem, nz_cpu, nz_mem


def pod_requests(pod: Pod) -> Requests:
    """Requests as upstream computes them.

    Sum of the app containers, plus restartable (sidecar) init containers, which run
    alongside them; but at least the peak of the init phase, where each ordinary init
    container runs alone next to the sidecars started before it. Overhead is added last.
    """
    spec = pod.get("spec") or {}
    total = [0, 0, 0, 0]
    for container in spec.get("containers") or []:
        total = [a + b for a, b in zip(total, _container_requests(container))]
    sidecars = [0, 0, 0, 0]
    init_peak = [0, 0, 0, 0]
    for container in spec.get("initContainers") or []:
        reqs = _container_requests(container)
        if container.get("restartPolicy") == "Always":
            sidecars = [a + b for a, b in zip(sidecars, reqs)]
            total = [a + b for a, b in zip(total, reqs)]
            phase = sidecars
        else:
            phase = [a + b for a, b in zip(sidecars, reqs)]
        init_peak = [max(a, b) for a, b in zip(init_peak, phase)]
    total = [max(a, b) for a, b in zip(total, init_peak)]
    overhead = spec.get("overhead") or {}
    if overhead:
        cpu = quantity.milli(overhead["cpu"]) if "cpu" in overhead else 0
        mem = quantity.value(overhead["memory"]) if "memory" in overhead else 0
        total = [total[0] + cpu, total[1] + mem, total[2] + cpu, total[3] + mem]
    return Requests(*total)


class AffinityTerm:
    """A parsed ``PodAffinityTerm``: which pods (namespaces + selector) near which topology."""

    __slots__ = ("group", "matches_labels", "namespaces", "topology_key", "weight")

    def __init__(self, term: dict[str, Any], own_namespace: str, weight: int = 1) -> None:
        self.matches_labels = selectors.label_selector(term.get("labelSelector"))
        self.topology_key: str = term.get("topologyKey", "")
        self.weight = weight
        namespaces = term.get("namespaces") or []
        ns_selector = term.get("namespaceSelector")
        # An empty namespaceSelector ({}) means every namespace. minik8s does not
        # evaluate non-empty namespace selectors (it would need namespace labels):
        # it falls back to the namespaces list, or the pod's own namespace.
        if ns_selector is not None and not ns_selector.get("matchLabels") and not ns_selector.get("matchExpressions"):
            self.namespaces: frozenset[str] | None = None
        else:
            self.namespaces = frozenset(namespaces) if namespaces else frozenset([own_namespace])
        # Terms with equal groups select the same pods near the same domains with the same weight.
        self.group: Hashable = (self.namespaces, json.dumps(term.get("labelSelector"), sort_keys=True),
                                self.topology_key, weight)

    def matches(self, pod: PodInfo) -> bool:
        """Does ``pod`` fall under this term (right namespace and labels)?"""
        if self.namespaces is not None and pod.namespace not in self.namespaces:
            return False
        return self.matches_labels(pod.labels)


Terms = tuple[AffinityTerm, ...]


def _terms(affinity: dict[str, Any], kind: str, namespace: str) -> tuple[Terms, Terms]:
    """(required, preferred) terms of ``podAffinity`` or ``podAntiAffinity``."""
    section = affinity.get(kind) or {}
    required = tuple(
        AffinityTerm(t, namespace) for t in section.get("requiredDuringSchedulingIgnoredDuringExecution") or []
    )
    preferred = tuple(
        AffinityTerm(w.get("podAffinityTerm") or {}, namespace, int(w.get("weight", 0)))
        for w in section.get("preferredDuringSchedulingIgnoredDuringExecution") or []
    )
    return required, preferred


def _host_ports(spec: dict[str, Any]) -> tuple[tuple[str, str, int], ...]:
    ports = []
    for container in spec.get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                ports.append((port.get("hostIP") or "0.0.0.0", port.get("protocol") or "TCP", int(port["hostPort"])))
    return tuple(ports)


class PodInfo:
    """A pod parsed once for the scheduler: the numbers and terms plugins need."""

    __slots__ = (
        "pod", "key", "name", "namespace", "labels", "node_name", "requests", "milli_cpu", "memory",
        "nonzero_milli_cpu", "nonzero_memory", "host_ports", "tolerations", "required_affinity",
        "preferred_affinity", "required_anti_affinity", "preferred_anti_affinity", "has_affinity",
        "terminating",
    )

    def __init__(self, pod: Pod) -> None:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.name: str = meta.get("name", "")
        self.namespace: str = meta.get("namespace") or "default"
        self.key = f"{self.namespace}/{self.name}"
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.node_name: str = spec.get("nodeName") or ""
        self.terminating = bool(meta.get("deletionTimestamp"))
        self.requests = pod_requests(pod)
        self.milli_cpu = self.requests.milli_cpu
        self.memory = self.requests.memory
        self.nonzero_milli_cpu = self.requests.nonzero_milli_cpu
        self.nonzero_memory = self.requests.nonzero_memory
        self.host_ports = _host_ports(spec)
        self.tolerations: list[dict[str, Any]] = spec.get("tolerations") or []
        affinity = spec.get("affinity") or {}
        self.required_affinity, self.preferred_affinity = _terms(affinity, "podAffinity", self.namespace)
        self.required_anti_affinity, self.preferred_anti_affinity = _terms(affinity, "podAntiAffinity", self.namespace)
        self.has_affinity = bool(
            self.required_affinity or self.preferred_affinity
            or self.required_anti_affinity or self.preferred_anti_affinity
        )

    @classmethod
    def from_pod(cls, pod: Pod) -> PodInfo:
        return cls(pod)


def _allocatable(node: Node) -> tuple[int, int, int]:
    alloc = (node.get("status") or {}).get("allocatable") or {}
    cpu = quantity.milli(alloc["cpu"]) if "cpu" in alloc else 0
    mem = quantity.value(alloc["memory"]) if "memory" in alloc else 0
    pods = quantity.value(alloc["pods"]) if "pods" in alloc else 0
    return cpu, mem, pods


def normalized_image_name(name: str) -> str:
    """``nginx`` and ``nginx:latest`` are the same image (upstream normalizedImageName)."""
    if "@" not in name and name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


class NodeInfo:
    """One node and the pods counted on it, with running sums of their requests."""

    __slots__ = (
        "name", "node", "labels", "unschedulable", "taints", "hard_taints", "soft_taints",
        "allocatable_milli_cpu", "allocatable_memory", "allocatable_pods",
        "requested_milli_cpu", "requested_memory", "nonzero_milli_cpu", "nonzero_memory",
        "pods", "pods_with_affinity", "pods_with_required_anti_affinity", "used_ports", "images",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.node: Node | None = None
        self.labels: dict[str, str] = {}
        self.unschedulable = False
        self.taints: list[dict[str, Any]] = []
        self.hard_taints: tuple[dict[str, Any], ...] = ()  # NoSchedule / NoExecute: filter
        self.soft_taints: tuple[dict[str, Any], ...] = ()  # PreferNoSchedule: score
        self.allocatable_milli_cpu = 0
        self.allocatable_memory = 0
        self.allocatable_pods = 0
        self.requested_milli_cpu = 0
        self.requested_memory = 0
        self.nonzero_milli_cpu = 0
        self.nonzero_memory = 0
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.used_ports: dict[tuple[str, str, int], int] = {}
        self.images: dict[str, int] = {}  # normalized image name -> size in bytes

    def __repr__(self) -> str:
        return (f"NodeInfo({self.name!r}, cpu={self.requested_milli_cpu}/{self.allocatable_milli_cpu}m, "
                f"memory={self.requested_memory}/{self.allocatable_memory}, "
                f"pods={len(self.pods)}/{self.allocatable_pods})")

    def set_node(self, node: Node) -> None:
        """Take the static facts of a (new version of the) node."""
        spec = node.get("spec") or {}
        self.node = node
        self.labels = (node.get("metadata") or {}).get("labels") or {}
        self.unschedulable = bool(spec.get("unschedulable"))
        self.taints = spec.get("taints") or []
        self.hard_taints = tuple(t for t in self.taints if t.get("effect") in ("NoSchedule", "NoExecute"))
        self.soft_taints = tuple(t for t in self.taints if t.get("effect") == "PreferNoSchedule")
        self.allocatable_milli_cpu, self.allocatable_memory, self.allocatable_pods = _allocatable(node)
        self.images = {}
        for image in (node.get("status") or {}).get("images") or []:
            for image_name in image.get("names") or []:
                self.images[normalized_image_name(image_name)] = int(image.get("sizeBytes") or 0)

    def add_pod(self, pod: PodInfo) -> None:
        self.pods[pod.key] = pod
        self.requested_milli_cpu += pod.milli_cpu
        self.requested_memory += pod.memory
        self.nonzero_milli_cpu += pod.nonzero_milli_cpu
        self.nonzero_memory += pod.nonzero_memory
        if pod.has_affinity:
            self.pods_with_affinity[pod.key] = pod
        if pod.required_anti_affinity:
            self.pods_with_required_anti_affinity[pod.key] = pod
        for port in pod.host_ports:
            self.used_ports[port] = self.used_ports.get(port, 0) + 1

    def remove_pod(self, pod: PodInfo) -> None:
        del self.pods[pod.key]
        self.requested_milli_cpu -= pod.milli_cpu
        self.requested_memory -= pod.memory
        self.nonzero_milli_cpu -= pod.nonzero_milli_cpu
        self.nonzero_memory -= pod.nonzero_memory
        self.pods_with_affinity.pop(pod.key, None)
        self.pods_with_required_anti_affinity.pop(pod.key, None)
        for port in pod.host_ports:
            left = self.used_ports[port] - 1
            if left:
                self.used_ports[port] = left
            else:
                del self.used_ports[port]


def _pod_key(pod_or_key: Pod | str) -> str:
    if isinstance(pod_or_key, str):
        return pod_or_key
    meta = pod_or_key.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"


def _counts(pod: Pod) -> bool:
    """Only assigned, non-terminal pods use a node's resources."""
    phase = (pod.get("status") or {}).get("phase")
    return bool((pod.get("spec") or {}).get("nodeName")) and phase not in ("Succeeded", "Failed")


# The kinds of inter-pod affinity terms a PodInfo carries (its attribute names).
AFFINITY_KINDS = ("required_affinity", "preferred_affinity", "required_anti_affinity", "preferred_anti_affinity")
MAX_TALLIES = 256  # tallies kept at once; past this they are all dropped and rebuilt on demand

PodCount = Callable[[PodInfo], int]


class Tally:
    """``count(pod)`` summed per value of the node label ``topology_key``, over the pods on the
    nodes the API has. ``domains`` holds only the values with a positive sum."""

    __slots__ = ("count", "topology_key", "domains")

    def __init__(self, count: PodCount, topology_key: str) -> None:
        self.count = count
        self.topology_key = topology_key
        self.domains: Counter[str] = Counter()

    def add(self, pod: PodInfo, node: NodeInfo, sign: int) -> None:
        n = self.count(pod)
        value = node.labels.get(self.topology_key)
        if n and value is not None:
            left = self.domains[value] + sign * n
            if left:
                self.domains[value] = left
            else:
                del self.domains[value]


@dataclass
class StorageListers:
    """The storage objects the volume plugins read (upstream's PVC, PV and StorageClass listers).

    The scheduler component fills them from its informers; tests may pass plain lookups.
    The defaults know no objects, so a cache without storage has no claims to bind."""

    claim: Callable[[str, str], dict[str, Any] | None] = lambda namespace, name: None
    volumes: Callable[[], list[dict[str, Any]]] = list
    storage_class: Callable[[str], dict[str, Any] | None] = lambda name: None


class Cache:
    """Every node's ``NodeInfo``, and where each pod counts."""

    def __init__(self) -> None:
        self._infos: dict[str, NodeInfo] = {}  # includes nodes known only from their pods
        self.nodes: list[NodeInfo] = []  # nodes the API has; the order Filter walks them
        self._position: dict[str, int] = {}
        self._pods: dict[str, PodInfo] = {}  # key -> PodInfo, on node PodInfo.node_name
        self._assumed: set[str] = set()
        # Cluster-wide facts that let plugins skip work (PreFilter/PreScore "Skip").
        self.nodes_with_affinity_pods: set[str] = set()
        self.nodes_with_required_anti_affinity_pods: set[str] = set()
        self.image_nodes: dict[str, int] = {}  # image -> number of nodes that have it
        self.nodes_with_label: Counter[str] = Counter()  # label key -> nodes that carry it
        self.node_label_values: dict[str, Counter[str]] = {}  # label key -> value -> nodes with it
        # kind (AFFINITY_KINDS) -> AffinityTerm.group -> [one such term, how many placed pods' terms]
        self.affinity_terms: dict[str, dict[Hashable, list[Any]]] = {kind: {} for kind in AFFINITY_KINDS}
        self._tallies: dict[Hashable, Tally] = {}
        self.storage = StorageListers()  # claims, volumes and classes, for VolumeBinding and VolumeRestrictions

    # --- nodes -------------------------------------------------------------

    def get(self, name: str) -> NodeInfo | None:
        """The NodeInfo of a node the API knows, else None."""
        info = self._infos.get(name)
        return info if info is not None and info.node is not None else None

    def add_node(self, node: Node) -> NodeInfo:
        """Add a node, or update it if it is already known (watch events may repeat)."""
        name = node["metadata"]["name"]
        info = self._infos.get(name)
        if info is None:
            info = self._infos[name] = NodeInfo(name)
        old_labels = dict(info.labels) if info.node is not None else None  # a copy: the node may be edited in place
        if info.node is None:
            self._position[name] = len(self.nodes)
            self.nodes.append(info)
        self._count_images(info, -1)
        info.set_node(node)
        self._count_images(info, +1)
        if info.labels != old_labels:
            self._count_labels(old_labels or {}, -1)
            self._count_labels(info.labels, +1)
            self._tallies.clear()  # pods counted in other domains now
        return info

    def _count_labels(self, labels: dict[str, str], sign: int) -> None:
        for key, value in labels.items():
            self.nodes_with_label[key] += sign
            values = self.node_label_values.setdefault(key, Counter())
            values[value] += sign
            if not values[value]:
                del values[value]

    update_node = add_node

    def remove_node(self, node_or_name: Node | str) -> None:
        name = node_or_name if isinstance(node_or_name, str) else node_or_name["metadata"]["name"]
        info = self._infos.get(name)
        if info is None or info.node is None:
            return
        # Swap-remove keeps this O(1); it changes the walk order, as upstream's node tree does.
        index = self._position.pop(name)
        last = self.nodes.pop()
        if last is not info:
            self.nodes[index] = last
            self._position[last.name] = index
        self._count_images(info, -1)
        self._count_labels(info.labels, -1)
        self._tallies.clear()
        info.node = None
        if not info.pods:  # pods may still name the node until they are deleted
            del self._infos[name]

    def _count_images(self, info: NodeInfo, sign: int) -> None:
        for image in info.images:
            count = self.image_nodes.get(image, 0) + sign
            if count > 0:
                self.image_nodes[image] = count
            else:
                self.image_nodes.pop(image, None)

    # --- pods --------------------------------------------------------------

    def add_pod(self, pod: Pod) -> None:
        """Observe a pod (from a watch). A pod we assumed is now confirmed."""
        key = _pod_key(pod)
        self._assumed.discard(key)
        self._unplace(key)
        if _counts(pod):
            self._place(PodInfo(pod))

    update_pod = add_pod

    def remove_pod(self, pod_or_key: Pod | str) -> None:
        key = _pod_key(pod_or_key)
        self._assumed.discard(key)
        self._unplace(key)

    def assume(self, pod: Pod, node_name: str) -> None:
        """Count ``pod`` on ``node_name`` now, before the binding comes back in a watch."""
        assumed = dict(pod)
        assumed["spec"] = dict(pod.get("spec") or {}, nodeName=node_name)
        key = _pod_key(pod)
        self._unplace(key)
        self._place(PodInfo(assumed))
        self._assumed.add(key)

    def forget(self, pod_or_key: Pod | str) -> None:
        """Undo ``assume`` (the binding failed); a confirmed pod is left alone."""
        key = _pod_key(pod_or_key)
        if key in self._assumed:
            self._assumed.discard(key)
            self._unplace(key)

    def is_assumed(self, pod_or_key: Pod | str) -> bool:
        return _pod_key(pod_or_key) in self._assumed

    def pod_count(self) -> int:
        return len(self._pods)

    def tally(self, key: Hashable, topology_key: str, count: PodCount) -> Counter[str]:
        """Per value of ``topology_key``: ``count(pod)`` summed over the pods on the nodes the API has.

        ``key`` names what ``count`` counts: the same key must always come with the same count.
        Built by one scan the first time, kept current afterwards. Read it; never change it.
        """
        tally = self._tallies.get(key)
        if tally is None:
            if len(self._tallies) >= MAX_TALLIES:
                self._tallies.clear()
            tally = self._tallies[key] = Tally(count, topology_key)
            for node in self.nodes:
                for pod in node.pods.values():
                    tally.add(pod, node, +1)
        return tally.domains

    def _place(self, pod: PodInfo) -> None:
        info = self._infos.get(pod.node_name)
        if info is None:
            info = self._infos[pod.node_name] = NodeInfo(pod.node_name)
        info.add_pod(pod)
        self._pods[pod.key] = pod
        if pod.has_affinity:
            self.nodes_with_affinity_pods.add(info.name)
            self._group_terms(pod, +1)
        if pod.required_anti_affinity:
            self.nodes_with_required_anti_affinity_pods.add(info.name)
        if info.node is not None:
            for tally in self._tallies.values():
                tally.add(pod, info, +1)

    def _group_terms(self, pod: PodInfo, sign: int) -> None:
        for kind, groups in self.affinity_terms.items():
            for term in getattr(pod, kind):
                entry = groups.setdefault(term.group, [term, 0])
                entry[1] += sign
                if not entry[1]:
                    del groups[term.group]

    def _unplace(self, key: str) -> None:
        pod = self._pods.pop(key, None)
        if pod is None:
            return
        info = self._infos[pod.node_name]
        info.remove_pod(pod)
        if pod.has_affinity:
            self._group_terms(pod, -1)
        if info.node is not None:
            for tally in self._tallies.values():
                tally.add(pod, info, -1)
        if not info.pods_with_affinity:
            self.nodes_with_affinity_pods.discard(info.name)
        if not info.pods_with_required_anti_affinity:
            self.nodes_with_required_anti_affinity_pods.discard(info.name)
        if info.node is None and not info.pods:
            del self._infos[info.name]


__all__ = [
    "AFFINITY_KINDS", "DEFAULT_MEMORY_REQUEST", "DEFAULT_MILLI_CPU_REQUEST", "AffinityTerm", "Cache", "NodeInfo",
    "PodInfo", "Requests", "Tally", "normalized_image_name", "pod_requests",
]
