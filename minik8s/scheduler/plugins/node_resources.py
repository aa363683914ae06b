"""NodeResourcesFit and NodeResourcesBalancedAllocation: CPU, memory and pod slots.

NodeResourcesFit filters out nodes whose free allocatable resources (allocatable
minus the requests of the pods already counted there) cannot hold the pod's
requests. Reasons (upstream wording): ``Too many pods``, ``Insufficient cpu``,
``Insufficient memory`` — several may apply to one node, and each is counted in the
"0/N nodes are available" message. It scores with the default ``LeastAllocated``
strategy: the emptier the node after placing the pod, the higher, CPU and memory
weighted equally. Scoring uses *non-zero* requests (a container without requests
counts as 100m CPU / 200MB), so pods that ask for nothing still spread out.

NodeResourcesBalancedAllocation prefers nodes where the CPU and memory fractions
in use (after placing the pod, with the real requests) stay close to each other:
score = (1 - |cpu% - mem%| / 2) × 100.

How minik8s differs: only cpu, memory and pods are considered (no
ephemeral-storage or extended resources).

Taught in chapter 11 (Scheduling) and chapter 4 (Pods: requests and limits).
"""

from __future__ import annotations

from minik8s.scheduler.cache import NodeInfo, PodInfo
from minik8s.scheduler.framework import MAX_NODE_SCORE, CycleState, Plugin, Reason, register

TOO_MANY_PODS = "Too many pods"
INSUFFICIENT_CPU = "Insufficient cpu"
INSUFFICIENT_MEMORY = "Insufficient memory"


def insufficient_resources(pod: PodInfo, node: NodeInfo) -> list[str]:
    """Every reason the pod does not fit, in upstream's order (pods, cpu, memory)."""
    reasons = []
    if len(node.pods) + 1 > node.allocatable_pods:
        reasons.append(TOO_MANY_PODS)
    if pod.milli_cpu == 0 and pod.memory == 0:
        return reasons
    if pod.milli_cpu > node.allocatable_milli_cpu - node.requested_milli_cpu:
        reasons.append(INSUFFICIENT_CPU)
    if pod.memory > node.allocatable_memory - node.requested_memory:
        reasons.append(INSUFFICIENT_MEMORY)
    return reasons


def least_requested(requested: int, capacity: int) -> int:
    """Free share of one resource, 0..100 (0 when over-committed or absent)."""
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


class NodeResourcesFit(Plugin):
    name = "NodeResourcesFit"

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        # Fast path: one comparison per resource, no allocation, for the common "fits".
        if (len(node.pods) < node.allocatable_pods
                and pod.milli_cpu <= node.allocatable_milli_cpu - node.requested_milli_cpu
                and pod.memory <= node.allocatable_memory - node.requested_memory):
            return None
        reasons = insufficient_resources(pod, node)
        if not reasons:
            return None
        return reasons[0] if len(reasons) == 1 else tuple(reasons)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        # LeastAllocated, resources cpu and memory with weight 1 each; a resource
        # the node does not report is left out of the average.
        cpu_capacity = node.allocatable_milli_cpu
        mem_capacity = node.allocatable_memory
        if cpu_capacity and mem_capacity:  # the common case, inlined for speed
            cpu = node.nonzero_milli_cpu + pod.nonzero_milli_cpu
            mem = node.nonzero_memory + pod.nonzero_memory
            cpu_score = (cpu_capacity - cpu) * MAX_NODE_SCORE // cpu_capacity if cpu <= cpu_capacity else 0
            mem_score = (mem_capacity - mem) * MAX_NODE_SCORE // mem_capacity if mem <= mem_capacity else 0
            return (cpu_score + mem_score) // 2
        if cpu_capacity:
            return least_requested(node.nonzero_milli_cpu + pod.nonzero_milli_cpu, cpu_capacity)
        if mem_capacity:
            return least_requested(node.nonzero_memory + pod.nonzero_memory, mem_capacity)
        return 0


class NodeResourcesBalancedAllocation(Plugin):
    name = "NodeResourcesBalancedAllocation"

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        cpu_capacity = node.allocatable_milli_cpu
        mem_capacity = node.allocatable_memory
        if not cpu_capacity or not mem_capacity:
            return MAX_NODE_SCORE  # one resource (or none): nothing to balance
        cpu = (node.requested_milli_cpu + pod.milli_cpu) / cpu_capacity
        mem = (node.requested_memory + pod.memory) / mem_capacity
        # Fractions are capped at 1: an over-committed resource is simply "full".
        std = abs((cpu if cpu < 1.0 else 1.0) - (mem if mem < 1.0 else 1.0)) / 2
        return int((1 - std) * MAX_NODE_SCORE)


register(NodeResourcesFit.name, NodeResourcesFit)
register(NodeResourcesBalancedAllocation.name, NodeResourcesBalancedAllocation)
