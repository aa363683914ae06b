"""The kubelet's Summary API: how much CPU and memory each container, pod and the node use.

Every kubelet serves ``GET /stats/summary`` (reached through the API server at
``/api/v1/nodes/<node>/proxy/stats/summary``), the ``stats/v1alpha1`` Summary that
metrics-server scrapes and ``kubectl get --raw`` shows. For each running container it
reports two kinds of figure:

* **CPU**: ``usageCoreNanoSeconds``, the CPU time the container has used since it started
  (cumulative, it never goes down), and ``usageNanoCores``, the rate over the window since
  the previous reading (nanocores: 1,000,000,000 is one whole core);
* **memory**: ``workingSetBytes``, the memory the container cannot do without (what the
  OOM killer and eviction look at, and what ``kubectl top`` shows).

Pods add up their containers; the node adds up its pods. The figures come from the
container runtime (``runtime.container_stats(id) -> (cpu_ns, memory_bytes) | None``): the
process runtime reads the container's process tree in ``/proc``, the docker runtime asks the
engine's stats API, the simulated runtime reports the usage a pod declares (exact on the
virtual clock).

How minik8s differs: the node's figures are the sum of its pods' (a real node also counts
the system daemons and the kernel); only ``cpu`` and ``memory`` are reported, no network,
file system or ``systemContainers``.

Interface:
    Usage(name, start, cpu_ns, memory)                         # one container's reading
    Rates()                                                    # the previous readings, one per kubelet
    rates.observe(container_id, usage, now) -> nano_cores
    summary(node, node_start, node_memory, pods, now, rates) -> dict   # the Summary object
    pods: [(pod_ref {"name", "namespace", "uid"}, pod_start, [(container_id, Usage)])]

Taught in chapter 17 (autoscaling: requests, limits and measuring usage).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minik8s.clock import rfc3339


@dataclass(frozen=True)
class Usage:
    """One container's reading: its name, when it started (clock seconds), CPU used since then
    (core-nanoseconds) and its memory working set (bytes)."""
    name: str
    start: float
    cpu_ns: int
    memory: int


class Rates:
    """The previous reading of each container, to turn cumulative CPU into a rate; and the node's
    own cumulative CPU, which must not go down when a pod goes away (metrics-server refuses a
    counter that does)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, int, int]] = {}   # container id -> (time, cpu_ns, nano_cores)
        self.node_cpu_ns = 0

    def observe(self, container_id: str, usage: Usage, now: float) -> int:
        """The container's nano-cores over the window since its previous reading (since it started,
        at the first); the CPU used since then also counts towards the node's total."""
        last = self._last.get(container_id)
        since, before = (last[0], last[1]) if last is not None else (usage.start, 0)
        used = max(usage.cpu_ns - before, 0)
        if now > since:
            rate = int(used / (now - since))
        else:   # read twice at the same instant: the last rate still holds
            rate = last[2] if last is not None else 0
        self.node_cpu_ns += used
        self._last[container_id] = (now, max(usage.cpu_ns, before), rate)
        return rate

    def forget_others(self, live: set[str]) -> None:
        """Drop the readings of containers that are gone."""
        for gone in set(self._last) - live:
            del self._last[gone]


def _cpu(now: str, nano_cores: int, cpu_ns: int) -> dict[str, Any]:
    return {"time": now, "usageNanoCores": nano_cores, "usageCoreNanoSeconds": cpu_ns}


def _memory(now: str, working_set: int, available: int | None = None) -> dict[str, Any]:
    memory: dict[str, Any] = {"time": now}
    if available is not None:
        memory["availableBytes"] = available
    # Without cgroups the working set is all the usage minik8s can see; page faults are not counted.
    memory.update({"usageBytes": working_set, "workingSetBytes": working_set, "rssBytes": working_set,
                   "pageFaults": 0, "majorPageFaults": 0})
    return memory


def summary(node: str, node_start: float, node_memory: int,
            pods: list[tuple[dict[str, str], float, list[tuple[str, Usage]]]], now: float,
            rates: Rates) -> dict[str, Any]:
    """The ``stats/v1alpha1`` Summary of one node at ``now``; ``node_memory`` is its memory capacity."""
    pod_summaries = []
    node_rate = node_memory_used = 0
    live: set[str] = set()
    stamps: dict[float, str] = {}   # times written once each: a node's containers mostly share them

    def stamp(t: float) -> str:
        if t not in stamps:
            stamps[t] = rfc3339(t)
        return stamps[t]

    now_text = stamp(now)
    for ref, pod_start, containers in pods:
        entries = []
        pod_rate = pod_cpu = pod_memory = 0
        for container_id, usage in containers:
            live.add(container_id)
            rate = rates.observe(container_id, usage, now)
            entries.append({"name": usage.name, "startTime": stamp(usage.start),
                            "cpu": _cpu(now_text, rate, usage.cpu_ns), "memory": _memory(now_text, usage.memory)})
            pod_rate, pod_cpu, pod_memory = pod_rate + rate, pod_cpu + usage.cpu_ns, pod_memory + usage.memory
        pod_summaries.append({"podRef": dict(ref), "startTime": stamp(pod_start), "containers": entries,
                              "cpu": _cpu(now_text, pod_rate, pod_cpu), "memory": _memory(now_text, pod_memory)})
        node_rate, node_memory_used = node_rate + pod_rate, node_memory_used + pod_memory
    rates.forget_others(live)
    return {
        "node": {"nodeName": node, "startTime": stamp(node_start),
                 "cpu": _cpu(now_text, node_rate, rates.node_cpu_ns),
                 "memory": _memory(now_text, node_memory_used, max(node_memory - node_memory_used, 0))},
        "pods": pod_summaries,
    }
