"""What the EndpointSlice and Endpoints controllers agree on: which pods back a Service, on which port.

Both controllers answer the same question — "where can traffic for this Service go?" — in two
shapes (EndpointSlices, and the older single Endpoints object). The rules they share live here, as
upstream keeps them in ``pkg/controller/util/endpoint`` and ``k8s.io/endpointslice/util``:

* a Service gets endpoints from a controller only if it has a selector and is not ``ExternalName``
  (a Service without selector has the endpoints its user writes);
* a pod counts once it has an IP and is not terminal (``Succeeded``/``Failed``); a terminating pod
  still counts for EndpointSlices (as ``terminating``), and for Endpoints only with
  ``publishNotReadyAddresses``;
* a Service port's ``targetPort`` given by name is looked up in each pod's container ports (same
  name and protocol), so two pods may serve one Service port on different numbers;
* a pod with ``spec.hostname`` and ``spec.subdomain`` equal to the Service's name gets its hostname
  published (the DNS name ``<hostname>.<service>.<namespace>.svc``), as StatefulSet pods behind a
  headless Service do;
* ``endpoints.kubernetes.io/last-change-trigger-time`` records the earliest change (a pod's Ready
  transition, the Service's creation) not yet reflected in the endpoints, so that latency from a
  change to its endpoints can be measured.

Interface:
    selects_pods(svc) -> bool;  selected_pods(svc, pods) -> pods
    should_pod_be_in_endpoints(pod, include_terminating) -> bool
    should_set_hostname(pod, svc) -> bool;  find_port(pod, service_port) -> int | None
    endpoint_ports(svc, pod) -> ports;  pod_reference(pod) -> targetRef
    is_service_ip_set(svc) -> bool;  services_for_pod(services, pod, old) -> keys
    pod_endpoints_changed(old, new) -> bool
    TriggerTimeTracker().compute(svc, pods) -> float | None;  rfc3339_nano(t) -> str

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from typing import Any, Hashable, Iterable

from minik8s.api import resources
from minik8s.clock import parse_rfc3339

PODS = resources.get("", "v1", "pods")
SERVICES = resources.get("", "v1", "services")

Obj = dict[str, Any]

LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
HEADLESS_LABEL = "service.kubernetes.io/headless"


def _spec(obj: Obj | None) -> Obj:
    return (obj or {}).get("spec") or {}


def _meta(obj: Obj | None) -> Obj:
    return (obj or {}).get("metadata") or {}


def selects_pods(svc: Obj) -> bool:
    """True when a controller keeps this Service's endpoints: a selector, and not ``ExternalName``."""
    return bool(_spec(svc).get("selector")) and _spec(svc).get("type") != "ExternalName"


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """A Service's selector is a plain map: every key must carry that value."""
    return all(labels.get(k) == v for k, v in selector.items())


def selected_pods(svc: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """The pods of ``svc``'s namespace that its selector matches, sorted by name (determinism)."""
    namespace = _meta(svc).get("namespace", "")
    selector = _spec(svc).get("selector") or {}
    found = []
    for pod in pods:  # the hot loop of both controllers: plain dict reads
        meta = pod.get("metadata") or {}
        if meta.get("namespace", "") == namespace and _matches(selector, meta.get("labels") or {}):
            found.append(pod)
    return sorted(found, key=lambda p: p["metadata"].get("name", ""))


def is_pod_terminal(pod: Obj) -> bool:
    return ((pod.get("status") or {}).get("phase")) in ("Succeeded", "Failed")


def pod_ip(pod: Obj) -> str:
    status = pod.get("status") or {}
    ips = status.get("podIPs") or []
    return str(status.get("podIP") or (ips[0].get("ip") if ips else "") or "")


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """Upstream's ``ShouldPodBeInEndpoints``: not terminal, has an IP, and (unless asked to include
    them) not terminating."""
    if is_pod_terminal(pod) or not pod_ip(pod):
        return False
    return include_terminating or not _meta(pod).get("deletionTimestamp")


def should_set_hostname(pod: Obj, svc: Obj) -> bool:
    spec = _spec(pod)
    return bool(spec.get("hostname")) and spec.get("subdomain") == _meta(svc).get("name") \
        and _meta(pod).get("namespace", "") == _meta(svc).get("namespace", "")


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """The pod's port number for a Service port (upstream's ``FindPort``): a number is taken as is; a
    name is looked up in the containers' (and sidecars') ports with the same protocol. None: no such port."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    spec = _spec(pod)
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in list(spec.get("containers") or []) + sidecars:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port.get("containerPort", 0))
    return None


def endpoint_ports(svc: Obj, pod: Obj) -> list[Obj]:
    """The ports ``pod`` serves ``svc`` on (upstream's ``getEndpointPorts``): each Service port whose target the pod has, with the pod's number."""
    ports: list[Obj] = []
    for port in (svc.get("spec") or {}).get("ports") or []:
        number = find_port(pod, port)
        if number is None:
            continue
        out: Obj = {"name": port.get("name", ""), "port": number, "protocol": port.get("protocol") or "TCP"}
        if port.get("appProtocol"):
            out["appProtocol"] = port["appProtocol"]
        ports.append(out)
    return ports


def pod_reference(pod: Obj) -> Obj:
    """The ``targetRef`` of an endpoint: which pod stands behind the address."""
    meta = _meta(pod)
    return {"kind": "Pod", "namespace": meta.get("namespace", ""), "name": meta.get("name", ""),
            "uid": meta.get("uid", "")}


def is_service_ip_set(svc: Obj) -> bool:
    """False for a headless Service (``clusterIP: None``) or one without an address yet."""
    return _spec(svc).get("clusterIP") not in (None, "", "None")


def _endpoint_view(pod: Obj) -> tuple[Any, ...]:
    meta, spec = _meta(pod), _spec(pod)
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in (pod.get("status") or {}).get("conditions") or [])
    return (meta.get("labels"), spec.get("hostname"), spec.get("subdomain"), meta.get("deletionTimestamp"),
            ready, pod_ip(pod), is_pod_terminal(pod))


def pod_endpoints_changed(old: Obj | None, new: Obj) -> bool:
    """Whether a pod's update can change any endpoints (upstream's ``podEndpointsChanged``): its labels,
    hostname or subdomain, deletion, readiness, IP or being finished. Most of a pod's status updates
    (a container started, a restart counted) change none of these and wake no endpoint controller;
    neither does anything that happens to a pod before it has an IP. ``old`` None: added or deleted."""
    if not pod_ip(new) and (old is None or not pod_ip(old)):
        return False  # never had an address: in no endpoints before, in none after
    return old is None or _endpoint_view(old) != _endpoint_view(new)


def services_for_pod(services: Iterable[Obj], pod: Obj, old: Obj | None) -> list[Hashable]:
    """Keys of the Services a pod event concerns: those whose selector matches the pod's labels now
    or matched them before (a relabelled pod leaves one Service and joins another). ``old`` is None
    for a pod just added or deleted; an update that changes no endpoint concerns none."""
    if not pod_endpoints_changed(old, pod):
        return []
    label_sets = [_meta(pod).get("labels") or {}]
    if old is not None:
        label_sets.append(_meta(old).get("labels") or {})
    namespace = _meta(pod).get("namespace", "")
    keys: list[Hashable] = []
    for svc in services:
        if _meta(svc).get("namespace", "") != namespace or not selects_pods(svc):
            continue
        selector = _spec(svc).get("selector") or {}
        if any(_matches(selector, labels) for labels in label_sets):
            keys.append((namespace, _meta(svc).get("name", "")))
    return keys


def rfc3339_nano(t: float) -> str:
    """Go's ``time.RFC3339Nano``: fractional seconds with trailing zeros dropped (none when whole). A
    float of seconds since 1970 holds about a microsecond of precision, so no more digits are printed."""
    micros = round(t * 1_000_000)
    whole = datetime.fromtimestamp(micros // 1_000_000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{micros % 1_000_000:06d}".rstrip("0")
    return f"{whole}.{fraction}Z" if fraction else f"{whole}Z"


# Many pods share a few transition times: parse each string once.
_parse_time = functools.lru_cache(maxsize=4096)(parse_rfc3339)


def _pod_trigger_time(pod: Obj) -> float | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("lastTransitionTime"):
            return _parse_time(cond["lastTransitionTime"])
    return None


class TriggerTimeTracker:
    """Upstream's ``TriggerTimeTracker``: per Service, the trigger times seen at its last sync.

    ``compute(svc, pods)`` returns the earliest trigger time that changed since the previous call for
    that Service (a pod's Ready ``lastTransitionTime``, the Service's ``creationTimestamp``), or None:
    nothing changed, or this is the first sync (a new Service's endpoints have no trigger to report)."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], tuple[float, dict[str, float]]] = {}

    def compute(self, svc: Obj, pods: list[Obj]) -> float | None:
        key = (_meta(svc).get("namespace", ""), _meta(svc).get("name", ""))
        known = key in self._states
        last_service, last_pods = self._states.get(key, (0.0, {}))
        changed: list[float] = []
        pod_times: dict[str, float] = {}
        for pod in pods:
            when = _pod_trigger_time(pod)
            if when is not None:
                name = _meta(pod).get("name", "")
                pod_times[name] = when
                if when > last_pods.get(name, 0.0):
                    changed.append(when)
        created = _meta(svc).get("creationTimestamp")
        service_time = parse_rfc3339(created) if created else 0.0
        if service_time > last_service:
            changed.append(service_time)
        self._states[key] = (service_time, pod_times)
        return min(changed) if known and changed else None

    def forget(self, namespace: str, name: str) -> None:
        self._states.pop((namespace, name), None)
