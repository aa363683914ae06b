"""The Endpoints controller: the older, single-object view of a Service's pods.

Before EndpointSlices, a Service's backends were one v1 ``Endpoints`` object with the Service's
name. Clients still read it (``kubectl describe svc`` prints it; ``kubectl get ep`` lists it), so
this controller keeps it, from the same pods as the EndpointSlice controller::

    subsets:
    - addresses:          [{ip: 10.244.1.5, nodeName: node-1, targetRef: {kind: Pod, ...}}]
      notReadyAddresses:  [{ip: 10.244.1.6, ...}]
      ports:              [{name: http, port: 8080, protocol: TCP}]

A pod goes to ``addresses`` when Ready (or always, with ``publishNotReadyAddresses``), to
``notReadyAddresses`` otherwise; a terminating pod is left out unless ``publishNotReadyAddresses``.
Addresses that offer the same ports share a subset (upstream's ``RepackSubsets``). The Endpoints
carries the Service's labels (plus ``service.kubernetes.io/headless`` for a headless Service) and
the annotation ``endpoints.kubernetes.io/last-change-trigger-time``. It holds at most 1000
addresses: beyond that it is truncated (ready addresses kept first) and annotated
``endpoints.kubernetes.io/over-capacity: truncated`` — EndpointSlices are the scalable form.

The Endpoints object has no owner reference: this controller deletes it when its Service goes.
Services without a selector (among them ``kubernetes`` in ``default``, whose endpoints the API
server writes) and ``ExternalName`` Services are left alone: their Endpoints are someone else's.

Interface:
    EndpointsController(ctx)                          # registered in minik8s.controllers.manager
    endpoint_address(pod, svc) -> address
    service_subsets(svc, selected_pods) -> subsets    # the Service's subsets, repacked
    repack_subsets(subsets) -> subsets                # upstream's RepackSubsets
    truncate(subsets, max_capacity) -> (subsets, truncated)

How minik8s differs: upstream orders ports and subsets by a hash of their contents; minik8s orders
ports by name and number and subsets by their first address, which is as stable and easier to read.

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import math
from typing import Any, Hashable

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.objects import deep_copy
from minik8s.api.resources import Resource
from minik8s.controllers.controller import Context, Controller
from minik8s.controllers.endpointutil import (PODS, SERVICES, HEADLESS_LABEL, LAST_CHANGE_TRIGGER_TIME,
                                              TriggerTimeTracker, endpoint_ports, is_service_ip_set, pod_ip,
                                              pod_reference, rfc3339_nano, selected_pods, selects_pods,
                                              services_for_pod, should_pod_be_in_endpoints, should_set_hostname)
from minik8s.controllers.podcontrol import is_pod_ready

ENDPOINTS = resources.get("", "v1", "endpoints")

OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
# Upstream's maxCapacity: the most addresses (ready and not) one Endpoints object holds.
MAX_CAPACITY = 1000

Obj = dict[str, Any]


# --- the decision (pure) ---------------------------------------------------------------------


def endpoint_address(pod: Obj, svc: Obj) -> Obj:
    """One address for one pod (upstream's ``podToEndpointAddressForService``)."""
    address: Obj = {"ip": pod_ip(pod)}
    if should_set_hostname(pod, svc):
        address["hostname"] = pod["spec"]["hostname"]
    address["nodeName"] = (pod.get("spec") or {}).get("nodeName", "")
    address["targetRef"] = pod_reference(pod)
    return address


def service_subsets(svc: Obj, pods: list[Obj]) -> list[Obj]:
    """The subsets of ``svc``'s Endpoints from the pods it selects (in name order): one entry per pod
    and Service port, then repacked."""
    spec = svc.get("spec") or {}
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    subsets: list[Obj] = []
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, include_terminating=tolerate_unready):
            continue
        address = endpoint_address(pod, svc)
        which = "addresses" if tolerate_unready or is_pod_ready(pod) else "notReadyAddresses"
        if not spec.get("ports"):
            if spec.get("clusterIP") == "None":  # a headless Service may have no ports
                subsets.append({which: [address]})
            continue
        for port in endpoint_ports(svc, pod):
            subsets.append({which: [address], "ports": [port]})
    return repack_subsets(subsets)


def _port_id(port: Obj | None) -> tuple[Any, ...]:
    if port is None:
        return ()
    return (port.get("name", ""), port.get("port", 0), port.get("protocol", ""), port.get("appProtocol", ""))


def _address_id(address: Obj) -> tuple[str, str]:
    return (address.get("ip", ""), (address.get("targetRef") or {}).get("uid", ""))


def repack_subsets(subsets: list[Obj]) -> list[Obj]:
    """Group addresses by the exact set of ports they offer: the fewest subsets that say the same.
    An address not ready on a port in any input subset is not ready on it in the result."""
    addresses: dict[tuple[str, str], Obj] = {}
    ports: dict[tuple[Any, ...], Obj | None] = {}
    ready_by_port: dict[tuple[Any, ...], dict[tuple[str, str], bool]] = {}
    for subset in subsets:
        for port in subset.get("ports") or [None]:  # None: a headless Service's port-less addresses
            pid = _port_id(port)
            ports[pid] = port
            readiness = ready_by_port.setdefault(pid, {})
            for which, ready in (("addresses", True), ("notReadyAddresses", False)):
                for address in subset.get(which) or []:
                    aid = _address_id(address)
                    addresses.setdefault(aid, address)
                    readiness[aid] = readiness.get(aid, True) and ready
    groups: dict[frozenset[tuple[tuple[str, str], bool]], tuple[dict[tuple[str, str], bool], list[Obj]]] = {}
    for pid, readiness in ready_by_port.items():
        group_id = frozenset(readiness.items())
        group = groups.setdefault(group_id, (readiness, []))
        if ports[pid] is not None:
            group[1].append(ports[pid])  # type: ignore[arg-type]
    final: list[Obj] = []
    for readiness, group_ports in groups.values():
        subset: Obj = {}
        ready = sorted((aid for aid, ok in readiness.items() if ok))
        not_ready = sorted((aid for aid, ok in readiness.items() if not ok))
        if ready:
            subset["addresses"] = [addresses[aid] for aid in ready]
        if not_ready:
            subset["notReadyAddresses"] = [addresses[aid] for aid in not_ready]
        if group_ports:
            subset["ports"] = sorted(group_ports, key=_port_id)
        final.append(subset)
    return sorted(final, key=_subset_order)


def _subset_order(subset: Obj) -> tuple[Any, ...]:
    first = (subset.get("addresses") or subset.get("notReadyAddresses") or [{}])[0]
    return (_address_id(first), [_port_id(p) for p in subset.get("ports") or []])


def truncate(subsets: list[Obj], max_capacity: int = MAX_CAPACITY) -> tuple[list[Obj], bool]:
    """At most ``max_capacity`` addresses, shared among subsets in proportion to their size, not-ready
    ones dropped first (upstream's ``truncateEndpoints``). True when something was dropped."""
    total_ready = sum(len(s.get("addresses") or []) for s in subsets)
    total_not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if total_ready + total_not_ready <= max_capacity:
        return subsets, False
    truncate_ready = total_ready > max_capacity
    budget = max_capacity if truncate_ready else max_capacity - total_ready
    total = total_ready if truncate_ready else total_not_ready
    which = "addresses" if truncate_ready else "notReadyAddresses"
    room = budget
    out: list[Obj] = []
    for subset in subsets:
        subset = deep_copy(subset)
        share = min(math.ceil(len(subset.get(which) or []) / total * budget), room)
        subset[which] = (subset.get(which) or [])[:share]
        if truncate_ready:
            subset.pop("notReadyAddresses", None)
        for field in ("addresses", "notReadyAddresses"):
            if field in subset and not subset[field]:
                del subset[field]
        room -= len(subset.get(which) or [])
        out.append(subset)
    return out, True


def service_labels(svc: Obj) -> dict[str, str]:
    """The Service's labels, plus ``service.kubernetes.io/headless`` when it has no ClusterIP."""
    labels = dict((svc.get("metadata") or {}).get("labels") or {})
    if is_service_ip_set(svc):
        labels.pop(HEADLESS_LABEL, None)
    else:
        labels[HEADLESS_LABEL] = ""
    return labels


def needs_update(current: Obj | None, svc: Obj, subsets: list[Obj]) -> bool:
    """False when ``current`` already says it all (upstream ignores a new trigger time alone)."""
    if current is None:
        return True
    meta = current.get("metadata") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HEADLESS_LABEL}
    count = sum(len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or []) for s in subsets)
    capacity_ok = count <= MAX_CAPACITY and OVER_CAPACITY not in (meta.get("annotations") or {})
    return not ((current.get("subsets") or []) == subsets and labels == ((svc.get("metadata") or {}).get("labels")
                                                                         or {}) and capacity_ok)


def desired_endpoints(current: Obj | None, svc: Obj, subsets: list[Obj], trigger: float | None) -> Obj:
    """The Endpoints object to write: ``current`` (or a new one) with the new subsets, labels, annotations."""
    meta = svc["metadata"]
    new = deep_copy(current) if current is not None else {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": meta["name"], "namespace": meta.get("namespace", "")}}
    subsets, truncated = truncate(subsets)
    new["subsets"] = subsets
    if not subsets:
        new.pop("subsets")
    annotations = new["metadata"].setdefault("annotations", {})
    if trigger is not None:
        annotations[LAST_CHANGE_TRIGGER_TIME] = rfc3339_nano(trigger)
    else:
        annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
    if truncated:
        annotations[OVER_CAPACITY] = "truncated"
    else:
        annotations.pop(OVER_CAPACITY, None)
    if not annotations:
        del new["metadata"]["annotations"]
    new["metadata"]["labels"] = service_labels(svc)
    return new


# --- the controller ----------------------------------------------------------------------------


class EndpointsController(Controller):
    name = "endpoint-controller"
    watches = (SERVICES, PODS, ENDPOINTS)

    def __init__(self, ctx: Context):
        self.triggers = TriggerTimeTracker()
        super().__init__(ctx)

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace", "")
        if resource is PODS:
            gone = self.informer(PODS).get(ns, meta.get("name", "")) is None
            return services_for_pod(self.informer(SERVICES).list(ns), obj, None if gone else old)
        if resource is ENDPOINTS and self.informer(ENDPOINTS).get(ns, meta.get("name", "")) is not None:
            return []  # only a deletion matters (to write it again); Endpoints written by hand are left alone
        return [(ns, meta.get("name", ""))]

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        svc = self.informer(SERVICES).get(namespace, name)
        current = self.informer(ENDPOINTS).get(namespace, name)
        if svc is None:
            # Upstream deletes without looking: the cache may not show an Endpoints written just now.
            self.triggers.forget(namespace, name)
            try:
                self.client.delete(ENDPOINTS, name, namespace)
            except StatusError as err:
                if err.code != 404:
                    raise
            return
        if not selects_pods(svc) or svc["metadata"].get("deletionTimestamp"):
            return
        pods = selected_pods(svc, self.informer(PODS).list(namespace))
        subsets = service_subsets(svc, pods)
        trigger = self.triggers.compute(svc, pods)
        if not needs_update(current, svc, subsets):
            return
        new = desired_endpoints(current, svc, subsets, trigger)
        if current is None:
            self.client.create(ENDPOINTS, new, namespace)
        else:
            self.client.update(ENDPOINTS, new, namespace)
