"""The EndpointSlice controller: which pods back each Service, in slices of at most 100.

A Service with a selector is a name for "the pods with these labels". kube-proxy and DNS do not
search pods: they read ``discovery.k8s.io/v1`` EndpointSlices, which this controller keeps. For each
selected pod with an IP it writes one endpoint::

    addresses: [10.244.1.5]
    conditions: {ready: true, serving: true, terminating: false}
    nodeName: node-1
    targetRef: {kind: Pod, namespace: default, name: web-7d9c-x2k4q, uid: ...}

``serving`` is the pod's Ready condition; ``terminating`` is set once the pod is being deleted;
``ready`` is serving and not terminating (or always true with ``publishNotReadyAddresses``). A pod
whose readiness probe fails stays in the slice with ``ready: false``: kube-proxy stops sending it
traffic, the slice still shows it. Terminal pods (``Succeeded``/``Failed``) and pods without an IP
are left out.

Every endpoint of a slice shares the slice's ``ports``: the Service's ports resolved for that pod
(a ``targetPort`` given by name may be 8080 on one pod and 9090 on another), so pods are grouped by
their resolved ports first, then packed into slices of at most ``max_endpoints_per_slice``
(``--max-endpoints-per-slice``, 100). Slices are named ``<service>-<random>`` (``generateName``),
labelled ``kubernetes.io/service-name`` and ``endpointslice.kubernetes.io/managed-by``, and owned by
the Service, so the garbage collector removes them with it. A Service that selects no pod gets one
empty placeholder slice (``endpoints: null``, ``ports: null``), as upstream.

Slices are kept stable: an endpoint that is still wanted stays in its slice (updated in place if its
conditions changed), an unwanted one is removed, new ones fill the slices already being written,
then an unchanged slice they fit in, and only then a new slice.

Interface:
    EndpointSliceController(ctx)                     # registered in minik8s.controllers.manager
    pod_to_endpoint(pod, svc, node) -> endpoint      # upstream's podToEndpoint
    desired_endpoints(svc, selected_pods, nodes) -> {ports key: (ports, endpoints)}
    plan_slices(svc, existing, desired, max_per_slice) -> Plan(create, update, delete)
    slice_labels(slice, svc) -> (labels, changed)

How minik8s differs: one address type (IPv4; no dual-stack), no topology hints, no EndpointSlice
mirroring of user-written Endpoints. Endpoints are taken in pod-name order where upstream takes
them from a set in no particular order, so the same cluster always writes the same slices.

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
from minik8s.controllers.podcontrol import controller_ref, is_pod_ready

NODES = resources.get("", "v1", "nodes")
ENDPOINTSLICES = resources.get("discovery.k8s.io", "v1", "endpointslices")

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"  # the managed-by value
ZONE_LABEL = "topology.kubernetes.io/zone"
RESERVED_LABELS = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)

# Upstream's --max-endpoints-per-slice default (the API allows at most 1000).
MAX_ENDPOINTS_PER_SLICE = 100
# A pod whose node is missing is left out; its Service is looked at again after this long.
MISSING_NODE_RETRY_SECONDS = 5.0
# A cache that has not yet shown this controller's own last write is re-checked after this long.
STALE_CACHE_RETRY_SECONDS = 0.1

Obj = dict[str, Any]
# Endpoints wanted, by resolved ports: {ports key: (ports, endpoints)}.
Desired = dict[tuple[tuple[Any, ...], ...], tuple[list[Obj], list[Obj]]]


# --- the decision (pure) ---------------------------------------------------------------------


def pod_to_endpoint(pod: Obj, svc: Obj, node: Obj | None) -> Obj:
    """One endpoint for one pod, with upstream's conditions."""
    meta = pod["metadata"]
    serving = is_pod_ready(pod)
    terminating = bool(meta.get("deletionTimestamp"))
    ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: Obj = {"addresses": [pod_ip(pod)],
                     "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    if should_set_hostname(pod, svc):
        endpoint["hostname"] = pod["spec"]["hostname"]
    node_name = (pod.get("spec") or {}).get("nodeName")
    if node_name:
        endpoint["nodeName"] = node_name
    zone = (((node or {}).get("metadata") or {}).get("labels") or {}).get(ZONE_LABEL)
    if zone:
        endpoint["zone"] = zone
    endpoint["targetRef"] = pod_reference(pod)
    return endpoint


def ports_key(ports: list[Obj] | None) -> tuple[tuple[Any, ...], ...]:
    """Pods whose resolved ports are equal share slices (upstream's port map key, order-insensitive)."""
    return tuple(sorted((p.get("name", ""), p.get("port", 0), p.get("protocol", ""), p.get("appProtocol", ""))
                        for p in ports or []))


def desired_endpoints(svc: Obj, pods: list[Obj], nodes: dict[str, Obj]) -> Desired:
    """The endpoints ``svc`` should have, grouped by resolved ports: {key: (ports, endpoints)}, from the
    pods it selects (:func:`~minik8s.controllers.endpointutil.selected_pods`, in name order). A pod
    none of whose ports resolve still counts (in a slice without ports), as upstream. A pod on a node
    that does not exist is left out, unless ``publishNotReadyAddresses`` asks for every address."""
    desired: Desired = {}
    publish_all = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, include_terminating=True):
            continue
        node = nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is None and not publish_all:
            continue
        ports = endpoint_ports(svc, pod)
        entry = desired.setdefault(ports_key(ports), (ports, []))
        entry[1].append(pod_to_endpoint(pod, svc, node))
    return desired


def _endpoint_id(endpoint: Obj) -> tuple[Any, ...]:
    ref = endpoint.get("targetRef") or {}
    return (tuple(endpoint.get("addresses") or ()), ref.get("namespace"), ref.get("name"), ref.get("uid"))


def slice_labels(slice_: Obj, svc: Obj) -> tuple[dict[str, str], bool]:
    """The labels a managed slice should carry (the Service's, plus the reserved ones) and whether the
    slice's own non-reserved labels differ from the Service's (upstream's ``setEndpointSliceLabels``)."""
    current = {k: v for k, v in ((slice_.get("metadata") or {}).get("labels") or {}).items()
               if k not in RESERVED_LABELS}
    labels = {k: v for k, v in ((svc.get("metadata") or {}).get("labels") or {}).items()
              if k not in RESERVED_LABELS}
    changed = any(labels.get(k) != v for k, v in current.items())
    if not is_service_ip_set(svc):
        labels[HEADLESS_LABEL] = ""
    labels[SERVICE_NAME_LABEL] = svc["metadata"]["name"]
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    return labels, changed


def new_slice(svc: Obj, ports: list[Obj] | None) -> Obj:
    """A slice to create, owned by ``svc``; the API server completes ``<service>-`` with a random suffix."""
    meta = svc["metadata"]
    slice_: Obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"generateName": f"{meta['name']}-", "namespace": meta.get("namespace", ""),
                                "ownerReferences": [controller_ref({"apiVersion": "v1", "kind": "Service", **svc})]},
                   "addressType": "IPv4", "endpoints": [], "ports": ports}
    slice_["metadata"]["labels"], _ = slice_labels(slice_, svc)
    return slice_


@dataclass
class Plan:
    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)


def _owned_by(slice_: Obj, svc: Obj) -> bool:
    return any(ref.get("uid") == svc["metadata"].get("uid") and ref.get("kind") == "Service"
               for ref in (slice_.get("metadata") or {}).get("ownerReferences") or [])


def _is_placeholder(slice_: Obj) -> bool:
    return not slice_.get("endpoints") and not slice_.get("ports") and slice_.get("addressType") == "IPv4"


def plan_slices(svc: Obj, existing: list[Obj], desired: Desired,
                max_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> Plan:
    """What to create, update and delete so that ``existing`` slices hold ``desired`` (upstream's
    ``reconcile``): slices of another owner or address type go; per ports key, slices keep the
    endpoints still wanted and are filled before new ones are made."""
    plan = Plan()
    by_key: dict[tuple[tuple[Any, ...], ...], list[Obj]] = {}
    for slice_ in sorted(existing, key=lambda s: s["metadata"]["name"]):
        if not _owned_by(slice_, svc) or slice_.get("addressType") != "IPv4":
            plan.delete.append(slice_)
        else:
            by_key.setdefault(ports_key(slice_.get("ports")), []).append(slice_)
    for key, slices in by_key.items():
        if key not in desired:
            plan.delete.extend(slices)
    for key, (ports, endpoints) in desired.items():
        _plan_port_mapping(svc, by_key.get(key, []), ports, endpoints, max_per_slice, plan)
    owned = len(existing)
    if owned == len(plan.delete) and not plan.create:
        # Nothing would be left: keep (or make) one empty placeholder slice, as upstream.
        keep = next((s for s in plan.delete if _owned_by(s, svc) and _is_placeholder(s)
                     and (s["metadata"].get("labels") or {}) == slice_labels(s, svc)[0]), None)
        if keep is not None and len(plan.delete) == 1:
            plan.delete = []
        else:
            placeholder = new_slice(svc, None)
            placeholder["endpoints"] = None
            plan.create.append(placeholder)
    return plan


def _plan_port_mapping(svc: Obj, slices: list[Obj], ports: list[Obj], endpoints: list[Obj],
                       max_per_slice: int, plan: Plan) -> None:
    wanted = {_endpoint_id(e): e for e in endpoints}
    placed: set[tuple[Any, ...]] = set()
    to_update: list[Obj] = []
    unchanged: list[Obj] = []
    for slice_ in slices:
        kept, changed = [], False
        for endpoint in slice_.get("endpoints") or []:
            ident = _endpoint_id(endpoint)
            want = wanted.get(ident)
            if want is None or ident in placed:
                continue
            kept.append(want)
            changed = changed or want != endpoint
            placed.add(ident)
        labels, labels_changed = slice_labels(slice_, svc)
        if changed or len(kept) != len(slice_.get("endpoints") or []):
            if not kept:
                plan.delete.append(slice_)
                continue
            new = deep_copy(slice_)
            new["endpoints"] = kept
            new["metadata"]["labels"] = labels
            to_update.append(new)
        elif labels_changed or labels != (slice_["metadata"].get("labels") or {}):
            new = deep_copy(slice_)
            new["metadata"]["labels"] = labels
            to_update.append(new)
        else:
            unchanged.append(slice_)
    left = [e for e in endpoints if _endpoint_id(e) not in placed]  # in pod-name order
    # Fill the slices being written anyway, fullest first.
    for new in sorted(to_update, key=lambda s: -len(s["endpoints"])):
        while left and len(new["endpoints"]) < max_per_slice:
            new["endpoints"].append(left.pop(0))
    while left:
        target = None
        if len(left) < max_per_slice:
            target = _slice_to_fill(unchanged, len(left), max_per_slice)
        if target is None:
            target = new_slice(svc, ports)
            plan.create.append(target)
        else:
            unchanged.remove(target)
            target = deep_copy(target)
            to_update.append(target)
        target["endpoints"] = list(target.get("endpoints") or [])
        while left and len(target["endpoints"]) < max_per_slice:
            target["endpoints"].append(left.pop(0))
    plan.update.extend(to_update)


def _slice_to_fill(slices: list[Obj], count: int, max_per_slice: int) -> Obj | None:
    """The unchanged slice that ``count`` more endpoints fill most closely (upstream's ``getSliceToFill``)."""
    best, best_gap = None, max_per_slice
    for slice_ in slices:
        gap = max_per_slice - (count + len(slice_.get("endpoints") or []))
        if 0 <= gap < best_gap:
            best, best_gap = slice_, gap
    return best


# --- the controller ----------------------------------------------------------------------------


class EndpointSliceController(Controller):
    name = "endpointslice-controller"
    watches = (SERVICES, PODS, ENDPOINTSLICES, NODES)

    def __init__(self, ctx: Context, max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE):
        self.max_endpoints_per_slice = max_endpoints_per_slice
        self.triggers = TriggerTimeTracker()
        # What this controller last wrote, per Service: slice name -> resourceVersion (None: deleted).
        # A cache that does not show it yet is stale; acting on it would create duplicates.
        self._written: dict[tuple[str, str], dict[str, int | None]] = {}
        super().__init__(ctx)

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace", "")
        if resource is SERVICES:
            return [(ns, meta.get("name", ""))]
        if resource is PODS:
            gone = self.informer(PODS).get(ns, meta.get("name", "")) is None
            return services_for_pod(self.informer(SERVICES).list(ns), obj, None if gone else old)
        if resource is NODES:
            zone = (meta.get("labels") or {}).get(ZONE_LABEL)
            if old is None or zone == (((old.get("metadata") or {}).get("labels")) or {}).get(ZONE_LABEL):
                return []
            return [(s["metadata"].get("namespace", ""), s["metadata"]["name"])
                    for s in self.informer(SERVICES).list() if selects_pods(s)]
        labels = meta.get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) != CONTROLLER_NAME or not labels.get(SERVICE_NAME_LABEL):
            return []
        key = (ns, labels[SERVICE_NAME_LABEL])
        written = self._written.get(key, {})
        name = meta.get("name", "")
        if self.informer(ENDPOINTSLICES).get(ns, name) is None:
            # Deleted: by us (nothing to do) or by someone else (write it again).
            ours = name in written and written[name] is None
            written.pop(name, None)
            return [] if ours else [key]
        if written.get(name) == int(meta.get("resourceVersion") or 0):
            return []  # our own write coming back (upstream's EndpointSliceTracker.ShouldSync)
        return [key]

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        svc = self.informer(SERVICES).get(namespace, name)
        if svc is None:
            # The garbage collector deletes the slices it owned.
            self.triggers.forget(namespace, name)
            self._written.pop(key, None)
            return
        if not selects_pods(svc) or svc["metadata"].get("deletionTimestamp"):
            return
        existing = [s for s in self.informer(ENDPOINTSLICES).list(namespace)
                    if (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == name
                    and (s["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == CONTROLLER_NAME
                    and not s["metadata"].get("deletionTimestamp")]
        if self._stale(key, existing):
            self.requeue_after(key, STALE_CACHE_RETRY_SECONDS)
            return
        pods = selected_pods(svc, self.informer(PODS).list(namespace))
        nodes = {n["metadata"]["name"]: n for n in self.informer(NODES).list()}
        desired = desired_endpoints(svc, pods, nodes)
        plan = plan_slices(svc, existing, desired, self.max_endpoints_per_slice)
        trigger = self.triggers.compute(svc, pods)
        self._apply(key, plan, trigger)
        if any((p.get("spec") or {}).get("nodeName") not in nodes and pod_ip(p) for p in pods):
            self.requeue_after(key, MISSING_NODE_RETRY_SECONDS)  # a pod left out for its missing node

    def _stale(self, key: tuple[str, str], existing: list[Obj]) -> bool:
        written = self._written.get(key)
        if not written:
            return False
        seen = {s["metadata"]["name"]: int(s["metadata"].get("resourceVersion") or 0) for s in existing}
        for name, version in written.items():
            if (version is None and name in seen) or (version is not None and seen.get(name, -1) < version):
                return True
        self._written.pop(key, None)
        return False

    def _apply(self, key: tuple[str, str], plan: Plan, trigger: float | None) -> None:
        namespace = key[0]
        written = self._written.setdefault(key, {})
        for slice_ in plan.create + plan.update:
            annotations = slice_["metadata"].setdefault("annotations", {})
            if trigger is not None:
                annotations[LAST_CHANGE_TRIGGER_TIME] = rfc3339_nano(trigger)
            else:
                annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
            if not annotations:
                del slice_["metadata"]["annotations"]
        for slice_ in plan.create:
            created = self.client.create(ENDPOINTSLICES, slice_, namespace)
            written[created["metadata"]["name"]] = int(created["metadata"]["resourceVersion"])
        for slice_ in plan.update:
            updated = self.client.update(ENDPOINTSLICES, slice_, namespace)
            written[updated["metadata"]["name"]] = int(updated["metadata"]["resourceVersion"])
        for slice_ in plan.delete:
            try:
                self.client.delete(ENDPOINTSLICES, slice_["metadata"]["name"], namespace)
            except StatusError as err:
                if err.code != 404:
                    raise
            written[slice_["metadata"]["name"]] = None
