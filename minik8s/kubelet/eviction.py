"""The kubelet's eviction manager: when the node runs short of memory, fail a pod to get it back.

A node has a fixed amount of memory. Pods that use more than they asked for can run it out,
and then the kernel's OOM killer picks a victim at random. Upstream's kubelet steps in first:
every monitoring interval (10 s) it compares **signals** with **thresholds**:

* ``memory.available`` = the node's memory capacity − the working set of its pods
  (minik8s counts no system daemons: a node's working set is the sum of its pods', as in
  :mod:`minik8s.kubelet.stats`); the default hard threshold is ``memory.available<100Mi``
  (``--eviction-hard``);
* an emptyDir volume holding more than its ``sizeLimit`` is evicted whatever the node's state.

While a threshold is met the node reports ``MemoryPressure: True`` (the node lifecycle controller
then taints it ``node.kubernetes.io/memory-pressure:NoSchedule``), and one pod is evicted per
interval, chosen by upstream's ``rankMemoryPressure``: pods using more memory than they request
first, then lower priority first, then the pod using most above its request. The evicted pod's
containers are killed and its phase becomes ``Failed`` with reason ``Evicted``; a controller that
owns it makes a replacement. The condition stays True for the pressure transition period (5 min,
``--eviction-pressure-transition-period``) after the threshold was last met, so a node does not
flap between pressure and none.

Interface (pure, used by :class:`minik8s.kubelet.kubelet.Kubelet`):
    parse_thresholds({"memory.available": "100Mi"}) -> {"memory.available": bytes}
    PodUsage(pod, containers={name: working_set_bytes}, volumes={emptyDir name: bytes})
    rank_memory_pressure([PodUsage]) -> [PodUsage]            # the first is evicted
    memory_message("100Mi", available, usage) -> str           # upstream's evictionMessage
    emptydir_violation(usage) -> str | None                     # the message, for a volume over its sizeLimit
    admission_refusal(pod, memory_pressure) -> str | None       # a BestEffort pod refused under pressure
    Manager(memory_capacity, eviction_hard=None, transition_period=300)   # None: memory.available<100Mi
    manager.observe(pods, now) -> Decision(pressure, victim, message, condition, grace, threshold_met)

A ``medium: Memory`` emptyDir's files count toward its pod's memory here (where the runtime measures
them: always in the simulated runtime, only with a ``sizeLimit`` in the process runtime), though not in
the Summary API's figures.

How minik8s differs: only ``memory.available`` and the emptyDir ``sizeLimit`` are watched (no
``nodefs``/``imagefs``/``pid`` signals, no soft thresholds, no minimum reclaim); the simulated
runtime's usage is what pods declare (the ``sim.minik8s.io/<container>`` annotation).

Taught in chapter 17 (requests, limits and measuring usage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minik8s.api import quantity
from minik8s.api.qos import pod_qos_class
from minik8s.api.tolerations import tolerates

MONITORING_INTERVAL_SECONDS = 10.0            # --housekeeping-interval: how often signals are observed
PRESSURE_TRANSITION_SECONDS = 300.0           # --eviction-pressure-transition-period
DEFAULT_EVICTION_HARD = {"memory.available": "100Mi"}
MEMORY_AVAILABLE = "memory.available"
# Upstream's hard evictions give the pod a one-second grace period (a 0 override was not honoured).
HARD_EVICTION_GRACE_SECONDS = 1.0
REASON = "Evicted"
CRITICAL_PRIORITY = 2_000_000_000             # system-cluster-critical and above: never evicted
MEMORY_PRESSURE_TAINT = {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"}


def parse_thresholds(eviction_hard: dict[str, str] | None) -> dict[str, int]:
    """``--eviction-hard`` as bytes per signal; only ``memory.available`` is understood."""
    thresholds = DEFAULT_EVICTION_HARD if eviction_hard is None else eviction_hard
    unknown = set(thresholds) - {MEMORY_AVAILABLE}
    if unknown:
        raise ValueError(f"unsupported eviction signal(s): {', '.join(sorted(unknown))}")
    return {signal: quantity.value(text) for signal, text in thresholds.items()}


@dataclass
class PodUsage:
    """One active pod and what it uses now: its containers' working sets and its emptyDirs' bytes."""
    pod: dict[str, Any]
    containers: dict[str, int] = field(default_factory=dict)
    volumes: dict[str, int] = field(default_factory=dict)

    @property
    def memory(self) -> int:
        """The pod's working set: its containers', plus what its ``medium: Memory`` emptyDirs hold (tmpfs
        pages count against the pod's memory upstream)."""
        in_memory = {str(v.get("name")) for v in (self.pod.get("spec") or {}).get("volumes") or []
                     if isinstance(v, dict) and isinstance(v.get("emptyDir"), dict)
                     and v["emptyDir"].get("medium") == "Memory"}
        return sum(self.containers.values()) + sum(size for name, size in self.volumes.items() if name in in_memory)


def _requests(container: dict[str, Any]) -> int:
    request = ((container.get("resources") or {}).get("requests") or {}).get("memory")
    return quantity.value(request) if request is not None and quantity.is_valid(request) else 0


def pod_memory_request(pod: dict[str, Any]) -> int:
    """The pod's memory request: its app containers' sum, or its largest init container's if higher."""
    spec = pod.get("spec") or {}
    apps = sum(_requests(c) for c in spec.get("containers") or [] if isinstance(c, dict))
    inits = max((_requests(c) for c in spec.get("initContainers") or [] if isinstance(c, dict)), default=0)
    return max(apps, inits)


def _priority(pod: dict[str, Any]) -> int:
    value = (pod.get("spec") or {}).get("priority")
    return value if isinstance(value, int) else 0


def rank_memory_pressure(pods: list[PodUsage]) -> list[PodUsage]:
    """Upstream's rankMemoryPressure: usage above requests first, lower priority first, then the
    largest usage above requests first. Python's sort is stable, so ties keep the given order."""
    def key(usage: PodUsage) -> tuple[int, int, int]:
        above = usage.memory - pod_memory_request(usage.pod)
        return (0 if above > 0 else 1, _priority(usage.pod), -above)
    return sorted(pods, key=key)


def _binary(value: int) -> str:
    """A byte count as a BinarySI quantity prints (``51200Ki``, ``2Gi``, ``1500``)."""
    return quantity.format_bytes(value) if value else "0"


def memory_message(threshold: str, available: int, usage: PodUsage) -> str:
    """Upstream's evictionMessage for memory (its sentences end with a space, as upstream's do);
    ``threshold`` as configured (``100Mi``)."""
    message = (f"The node was low on resource: memory. "
               f"Threshold quantity: {threshold}, available: {_binary(available)}. ")
    for container in (usage.pod.get("spec") or {}).get("containers") or []:
        name = container.get("name")
        used = usage.containers.get(name)
        request = _requests(container)
        if used is not None and used > request:
            message += (f"Container {name} was using {_binary(used)}, request is {_binary(request)}, "
                        f"has larger consumption of memory. ")
    return message


def emptydir_violation(usage: PodUsage) -> str | None:
    """The eviction message if one of the pod's emptyDirs holds more than its ``sizeLimit``."""
    for volume in (usage.pod.get("spec") or {}).get("volumes") or []:
        empty_dir = volume.get("emptyDir") if isinstance(volume, dict) else None
        limit = empty_dir.get("sizeLimit") if isinstance(empty_dir, dict) else None
        if limit is None or not quantity.is_valid(limit):
            continue
        used = usage.volumes.get(str(volume.get("name")))
        if used is not None and quantity.value(limit) > 0 and used > quantity.value(limit):
            return f'Usage of EmptyDir volume "{volume.get("name")}" exceeds the limit "{limit}". '
    return None


def is_critical(pod: dict[str, Any]) -> bool:
    """Upstream's IsCriticalPod (for a pod from the API): priority system-cluster-critical or above."""
    return _priority(pod) >= CRITICAL_PRIORITY


def admission_refusal(pod: dict[str, Any], memory_pressure: bool) -> str | None:
    """Upstream's eviction admit handler: under memory pressure a new BestEffort pod that does not
    tolerate the memory-pressure taint is refused (reason ``Evicted``); the message, else None."""
    if not memory_pressure or is_critical(pod) or pod_qos_class(pod.get("spec") or {}) != "BestEffort":
        return None
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    if any(isinstance(t, dict) and tolerates(t, MEMORY_PRESSURE_TAINT) for t in tolerations):
        return None
    return "The node had condition: [MemoryPressure]. "


@dataclass
class Decision:
    """What one observation decided: whether the node is under memory pressure, and whom to evict."""
    pressure: bool = False
    threshold_met: bool = False
    victim: PodUsage | None = None
    message: str = ""
    disruption: bool = False      # upstream adds DisruptionTarget only for threshold evictions
    grace: float = 0.0


class Manager:
    """Remembers when the memory threshold was last met (for the transition period)."""

    def __init__(self, memory_capacity: int, eviction_hard: dict[str, str] | None = None,
                 transition_period: float = PRESSURE_TRANSITION_SECONDS):
        self.memory_capacity = memory_capacity
        self.thresholds = parse_thresholds(eviction_hard)
        self.texts = dict(DEFAULT_EVICTION_HARD if eviction_hard is None else eviction_hard)   # as configured
        self.transition_period = transition_period
        self.last_met: float | None = None

    def available(self, pods: list[PodUsage]) -> int:
        return self.memory_capacity - sum(p.memory for p in pods)

    def observe(self, pods: list[PodUsage], now: float) -> Decision:
        """One pass of upstream's synchronize: emptyDir limits first, then the memory threshold."""
        decision = Decision()
        threshold = self.thresholds.get(MEMORY_AVAILABLE)
        available = self.available(pods)
        if threshold is not None and available < threshold:
            decision.threshold_met = True
            self.last_met = now
        decision.pressure = self.last_met is not None and now - self.last_met < self.transition_period
        for usage in pods:
            message = emptydir_violation(usage)
            if message is not None:
                decision.victim, decision.message = usage, message
                return decision
        if decision.threshold_met and threshold is not None:
            ranked = rank_memory_pressure([p for p in pods if not is_critical(p.pod)])
            if ranked:
                decision.victim = ranked[0]
                decision.message = memory_message(self.texts[MEMORY_AVAILABLE], max(available, 0), ranked[0])
                decision.disruption = True
                decision.grace = HARD_EVICTION_GRACE_SECONDS
        return decision
