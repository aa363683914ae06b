"""The Node object a kubelet registers, and the heartbeats that keep it alive.

A kubelet announces its machine by creating a ``Node``: labels
(``kubernetes.io/hostname``, ``kubernetes.io/os``, ``kubernetes.io/arch``), capacity and
allocatable resources, addresses, ``nodeInfo`` and conditions. Then it proves it is
alive in two ways, as upstream does:

* it renews a ``Lease`` named after the node in ``kube-node-lease`` every 10 s
  (``leaseDurationSeconds: 40``): cheap, so it can be frequent;
* every 10 s it recomputes the node status and writes it only when something changed
  or 5 minutes passed since the last write (``nodeStatusReportFrequency``).

The node lifecycle controller watches both; a node whose lease is not renewed for
40 s becomes ``Ready: Unknown``.

Interface (pure functions, used by :mod:`minik8s.kubelet.kubelet`):
    capacity(cpu, memory, pods, ephemeral_storage) -> (capacity, allocatable)
    node_object(name, index, capacity, allocatable, runtime_version, now, labels=, taints=) -> dict
    desired_conditions(old_conditions, now) -> list (heartbeat and transition times handled)
    lease_object(name, node_uid, now) -> dict

Taught in chapter 4 (nodes and the kubelet).
"""

from __future__ import annotations

import hashlib
from typing import Any

from minik8s.api import quantity
from minik8s.clock import rfc3339, rfc3339_micro

KUBELET_VERSION = "v1.32.0"
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
LEASE_RENEW_SECONDS = 10            # upstream renews every quarter of the lease duration
NODE_STATUS_UPDATE_SECONDS = 10     # nodeStatusUpdateFrequency: how often the status is recomputed
NODE_STATUS_REPORT_SECONDS = 300    # nodeStatusReportFrequency: write at least this often
KUBELET_PORT = 10250
# What the kubelet keeps back from pods by default: the hard eviction thresholds.
EVICTION_MEMORY_BYTES = 100 * 1024 * 1024   # memory.available<100Mi
EVICTION_NODEFS_FRACTION = 0.10             # nodefs.available<10%

# (type, reason when healthy, message when healthy, event reason)
CONDITIONS = (
    ("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available",
     "NodeHasSufficientMemory"),
    ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", "NodeHasNoDiskPressure"),
    ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available", "NodeHasSufficientPID"),
    ("Ready", "KubeletReady", "kubelet is posting ready status", "NodeReady"),
)


def node_ip(index: int) -> str:
    """Nodes sit on a docker-like bridge network, as kind's do: 172.18.0.2, .3, ..."""
    return f"172.18.0.{index + 2}"


def pod_cidr(index: int) -> str:
    return f"10.244.{index + 1}.0/24"


def capacity(cpu: str = "4", memory: str = "8Gi", pods: int = 110,
             ephemeral_storage: str = "100Gi") -> tuple[dict[str, str], dict[str, str]]:
    """Capacity and allocatable, written the way upstream's kubelet writes them (memory in Ki)."""
    memory_bytes = quantity.value(memory)
    storage_bytes = quantity.value(ephemeral_storage)
    cap = {"cpu": str(cpu), "ephemeral-storage": f"{storage_bytes // 1024}Ki", "hugepages-1Gi": "0",
           "hugepages-2Mi": "0", "memory": f"{memory_bytes // 1024}Ki", "pods": str(pods)}
    alloc = dict(cap)
    alloc["memory"] = f"{max(memory_bytes - EVICTION_MEMORY_BYTES, 0) // 1024}Ki"
    alloc["ephemeral-storage"] = str(int(storage_bytes * (1 - EVICTION_NODEFS_FRACTION)))
    return cap, alloc


def _machine_id(name: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}/{name}".encode()).hexdigest()[:32]


def node_info(name: str, runtime_version: str) -> dict[str, str]:
    system_uuid = _machine_id(name, "uuid")
    boot = _machine_id(name, "boot")
    return {
        "architecture": "amd64",
        "bootID": f"{boot[:8]}-{boot[8:12]}-{boot[12:16]}-{boot[16:20]}-{boot[20:32]}",
        "containerRuntimeVersion": runtime_version,
        "kernelVersion": "6.8.0-minik8s",
        "kubeletVersion": KUBELET_VERSION,
        # Required by the schema, deprecated upstream (not accurate: kube-proxy may differ); the kubelet
        # reports its own version there, as kubelets before DisableNodeKubeProxyVersion did.
        "kubeProxyVersion": KUBELET_VERSION,
        "machineID": _machine_id(name, "machine"),
        "operatingSystem": "linux",
        "osImage": "minik8s simulated Linux",
        "systemUUID": f"{system_uuid[:8]}-{system_uuid[8:12]}-{system_uuid[12:16]}-{system_uuid[16:20]}-"
                      f"{system_uuid[20:32]}",
    }


def desired_conditions(old: list[dict[str, Any]], now: float, memory_pressure: bool = False) -> list[dict[str, Any]]:
    """Healthy conditions with a fresh heartbeat (``MemoryPressure`` True while the eviction manager says
    so); ``lastTransitionTime`` moves only on a change."""
    previous = {c.get("type"): c for c in old}
    conditions = []
    for kind, reason, message, _ in CONDITIONS:
        status = "True" if kind == "Ready" else "False"
        if kind == "MemoryPressure" and memory_pressure:
            status, reason, message = "True", "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"
        before = previous.get(kind)
        transition = rfc3339(now)
        if before is not None and before.get("status") == status and before.get("lastTransitionTime"):
            transition = before["lastTransitionTime"]
        conditions.append({"type": kind, "status": status, "lastHeartbeatTime": rfc3339(now),
                           "lastTransitionTime": transition, "reason": reason, "message": message})
    return conditions


def node_status(name: str, index: int, cap: dict[str, str], alloc: dict[str, str], runtime_version: str,
                images: list[dict[str, Any]], old_conditions: list[dict[str, Any]], now: float,
                address: str | None = None, memory_pressure: bool = False,
                kubelet_port: int = KUBELET_PORT) -> dict[str, Any]:
    """``address``: the node's InternalIP where its runtime has a real one (the process runtime's
    ``127.1.<n+1>.1``, where NodePorts listen), or where the kubelet's HTTPS API listens; else the
    simulated ``node_ip(index)``. ``kubelet_port``: that API's port (``daemonEndpoints``), which the
    API server dials for ``kubectl logs`` when the kubelet runs elsewhere."""
    return {
        "capacity": dict(cap),
        "allocatable": dict(alloc),
        "conditions": desired_conditions(old_conditions, now, memory_pressure),
        "addresses": [{"type": "InternalIP", "address": address or node_ip(index)}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        "nodeInfo": node_info(name, runtime_version),
        "images": images,
    }


def node_object(name: str, index: int, cap: dict[str, str], alloc: dict[str, str], runtime_version: str,
                images: list[dict[str, Any]], now: float, address: str | None = None,
                labels: dict[str, str] | None = None, taints: list[dict[str, Any]] | None = None,
                kubelet_port: int = KUBELET_PORT) -> dict[str, Any]:
    """The Node a kubelet registers; ``labels`` and ``taints`` are its ``--node-labels`` and
    ``--register-with-taints``."""
    spec: dict[str, Any] = {"podCIDR": pod_cidr(index), "podCIDRs": [pod_cidr(index)]}
    if taints:
        spec["taints"] = [dict(t) for t in taints]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                       "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                       **(labels or {})},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": spec,
        "status": node_status(name, index, cap, alloc, runtime_version, images, [], now, address,
                              kubelet_port=kubelet_port),
    }


def without_heartbeats(status: dict[str, Any]) -> dict[str, Any]:
    """A status with heartbeat times removed: what "something changed" compares."""
    conditions = [{k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in status.get("conditions") or []]
    return {**status, "conditions": conditions}


def lease_object(name: str, node_uid: str, now: float) -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": LEASE_NAMESPACE,
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}]},
        "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                 "renewTime": rfc3339_micro(now)},
    }
