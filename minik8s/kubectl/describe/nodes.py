"""``kubectl describe node``: what the kubelet reports about its machine, and what runs on it.

After the node's labels, taints and heartbeat Lease (from ``kube-node-lease``) come
its conditions, addresses, capacity and allocatable resources, and system info.
Then the non-terminated pods bound to the node, each with its CPU and memory requests
and limits as a share of what the node can allocate, and the totals ("Allocated
resources", which may exceed 100% for limits: nodes are overcommitted).

Interface:
    describe_node(client, node, now) -> str

Invariant: a pod's effective request is the sum over its containers, but at least
each init container's (they run one at a time, before the others).

Taught in chapter 2 (Kubernetes and its architecture).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.api import quantity
from minik8s.api.duration import age
from minik8s.api.errors import StatusError
from minik8s.apiserver.tables import node_roles
from minik8s.kubectl.describe.writer import (LEASES, PODS, Obj, _annotations, _go_bool, _header, _labels, _meta,
                                             _spec, _status, _Writer, describe_events, rfc1123z, search_events)


def _pod_totals(pod: Obj, key: str) -> dict[str, int]:
    """Effective pod requests or limits in milli-units: sum of containers, at least each init container."""
    totals: dict[str, int] = {}
    for container in _spec(pod).get("containers") or []:
        for name, value in ((container.get("resources") or {}).get(key) or {}).items():
            totals[name] = totals.get(name, 0) + quantity.milli(value)
    for container in _spec(pod).get("initContainers") or []:
        for name, value in ((container.get("resources") or {}).get(key) or {}).items():
            totals[name] = max(totals.get(name, 0), quantity.milli(value))
    return totals


def _amount(name: str, milli: int) -> str:
    if name == "cpu":
        return quantity.format_milli(milli)
    return quantity.format_bytes(milli // 1000)


def _percent(part: int, whole: int) -> int:
    return int(part / whole * 100) if whole else 0


def _node_resources(w: _Writer, node: Obj, pods: list[Obj], now: datetime) -> None:
    status = _status(node)
    allocatable = status.get("allocatable") or status.get("capacity") or {}
    alloc = {name: quantity.milli(allocatable[name]) for name in ("cpu", "memory", "ephemeral-storage")
             if name in allocatable}
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    totals: dict[str, dict[str, int]] = {"requests": {}, "limits": {}}
    for pod in pods:
        cells = []
        for key in ("requests", "limits"):
            values = _pod_totals(pod, key)
            for name, milli in values.items():
                totals[key][name] = totals[key].get(name, 0) + milli
        req, lim = _pod_totals(pod, "requests"), _pod_totals(pod, "limits")
        for name in ("cpu", "memory"):
            for values in (req, lim):
                cells.append(f"{_amount(name, values.get(name, 0))} "
                             f"({_percent(values.get(name, 0), alloc.get(name, 0))}%)")
        w.write(1, f"{_meta(pod).get('namespace', '')}\t{_meta(pod).get('name', '')}\t\t" + "\t".join(cells)
                + f"\t{age(_meta(pod).get('creationTimestamp'), now)}\n")
    w.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
    w.write(1, "Resource\tRequests\tLimits\n")
    w.write(1, "--------\t--------\t------\n")
    for name in ("cpu", "memory", "ephemeral-storage"):
        req, lim = totals["requests"].get(name, 0), totals["limits"].get(name, 0)
        w.write(1, f"{name}\t{_amount(name, req)} ({_percent(req, alloc.get(name, 0))}%)\t"
                   f"{_amount(name, lim)} ({_percent(lim, alloc.get(name, 0))}%)\n")


def describe_node(client: Any, node: Obj, now: datetime) -> str:
    w, spec, status, meta = _Writer(), _spec(node), _status(node), _meta(node)
    _header(w, node, namespace=False)
    w.write(0, f"Roles:\t{','.join(node_roles(node)) or '<none>'}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, "Annotations", meta.get("annotations"))
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    taints = sorted(spec.get("taints") or [], key=lambda t: f"{t.get('effect', '')},{t.get('key', '')}")
    w.write(0, "Taints:\t")
    if not taints:
        w.write(0, "<none>\n")
    for i, taint in enumerate(taints):
        value = f"={taint['value']}" if taint.get("value") else ""
        w.write(0, ("\t" if i else "") + f"{taint.get('key')}{value}:{taint.get('effect')}\n")
    w.write(0, f"Unschedulable:\t{_go_bool(spec.get('unschedulable'))}\n")
    try:
        lease = client.get(LEASES, meta.get("name"), "kube-node-lease")
        lease_spec = _spec(lease)
        w.write(0, "Lease:\n")
        w.write(1, f"HolderIdentity:\t{lease_spec.get('holderIdentity') or '<unset>'}\n")
        w.write(1, f"AcquireTime:\t{rfc1123z(lease_spec.get('acquireTime'))}\n")
        w.write(1, f"RenewTime:\t{rfc1123z(lease_spec.get('renewTime'))}\n")
    except StatusError as err:
        w.write(0, f"Lease:\tFailed to get lease: {err}\n")
    conds = status.get("conditions") or []
    if conds:
        w.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in conds:
            w.write(1, f"{c.get('type')} \t{c.get('status')} \t{rfc1123z(c.get('lastHeartbeatTime'))} \t"
                       f"{rfc1123z(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t{c.get('message', '')}\n")
    w.write(0, "Addresses:\n")
    for address in status.get("addresses") or []:
        w.write(1, f"{address.get('type')}:\t{address.get('address')}\n")
    for title, key in (("Capacity", "capacity"), ("Allocatable", "allocatable")):
        if status.get(key):
            w.write(0, f"{title}:\n")
            for name in sorted(status[key]):
                w.write(0, f"  {name}:\t{status[key][name]}\n")
    info = status.get("nodeInfo") or {}
    w.write(0, "System Info:\n")
    for title, key in (("Machine ID", "machineID"), ("System UUID", "systemUUID"), ("Boot ID", "bootID"),
                       ("Kernel Version", "kernelVersion"), ("OS Image", "osImage"),
                       ("Operating System", "operatingSystem"), ("Architecture", "architecture"),
                       ("Container Runtime Version", "containerRuntimeVersion"),
                       ("Kubelet Version", "kubeletVersion")):
        w.write(0, f"  {title}:\t{info.get(key, '')}\n")
    if spec.get("podCIDR"):
        w.write(0, f"PodCIDR:\t{spec['podCIDR']}\n")
    if spec.get("podCIDRs"):
        w.write(0, f"PodCIDRs:\t{','.join(spec['podCIDRs'])}\n")
    if spec.get("providerID"):
        w.write(0, f"ProviderID:\t{spec['providerID']}\n")
    # Ask only for the node's pods; terminal phases are dropped here rather than with
    # "!=" field selectors, which keeps the request simple for any server.
    pods = client.list(PODS, None, field_selector=f"spec.nodeName={meta.get('name')}").get("items") or []
    pods = [p for p in pods if _status(p).get("phase") not in ("Succeeded", "Failed")]
    _node_resources(w, node, pods, now)
    # Upstream looks for node events under both the node's UID and its name (kubelets use the name).
    events = search_events(client, node) + search_events(client, node, uid=meta.get("name", ""))
    describe_events(w, events, now)
    return w.text()
