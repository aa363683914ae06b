"""``kubectl describe ingress`` and ``describe ingressclass``: upstream's IngressDescriber (v1) and
IngressClassDescriber.

An Ingress shows its address, class, default backend, TLS entries (``<secret> terminates <hosts>``)
and a Rules table: each host (``*`` for none), then each path with its backend ``service:port`` and,
in parentheses, the ready endpoints behind that Service port (read from its EndpointSlices, as for
``describe service``), or the error met looking the Service up.

Interface:
    describe_ingress(client, ing, now) -> str
    describe_ingressclass(client, ic, now) -> str

Taught in the chapter on Ingress and NetworkPolicy.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.kubectl.describe.core import format_slice_endpoints
from minik8s.kubectl.describe.writer import (ENDPOINT_SLICES, Obj, _annotations, _labels, _meta, _spec, _status,
                                             _Writer, describe_events, search_events)

SERVICES = resources.get("", "v1", "services")


def _backend(client: Any, namespace: str, backend: Obj) -> str:
    service = backend.get("service")
    if service:
        port = service.get("port") or {}
        text = f"{service.get('name', '')}:{port.get('number') or port.get('name', '')}"
        try:
            slices = client.list(ENDPOINT_SLICES, namespace,
                                 label_selector=f"kubernetes.io/service-name={service.get('name', '')}")["items"]
            svc = client.get(SERVICES, service.get("name", ""), namespace)
        except StatusError as err:
            return f"{text} (<error: {err.message}>)"
        port_name = ""
        for sp in _spec(svc).get("ports") or []:
            if (port.get("number") and port["number"] == sp.get("port")) or \
                    (port.get("name") and port["name"] == sp.get("name")):
                port_name = sp.get("name", "")
        return f"{text} ({format_slice_endpoints(slices, port_name)})"
    resource = backend.get("resource")
    if resource:
        return (f"APIGroup: {resource.get('apiGroup') or '<none>'}, Kind: {resource.get('kind', '')}, "
                f"Name: {resource.get('name', '')}")
    return ""


def _address(ing: Obj) -> str:
    found = {i.get("ip") or i.get("hostname") for i in (_status(ing).get("loadBalancer") or {}).get("ingress") or []}
    return ",".join(sorted(a for a in found if a))


def describe_ingress(client: Any, ing: Obj, now: datetime) -> str:
    w, spec, meta = _Writer(), _spec(ing), _meta(ing)
    namespace = meta.get("namespace", "")
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    _labels(w, "Labels", meta.get("labels"))
    w.write(0, f"Namespace:\t{namespace}\n")
    w.write(0, f"Address:\t{_address(ing)}\n")
    w.write(0, f"Ingress Class:\t{spec.get('ingressClassName') or '<none>'}\n")
    default = _backend(client, namespace, spec["defaultBackend"]) if spec.get("defaultBackend") else "<default>"
    w.write(0, f"Default backend:\t{default}\n")
    if spec.get("tls"):
        w.write(0, "TLS:\n")
        for tls in spec["tls"]:
            hosts = ",".join(tls.get("hosts") or [])
            w.write(1, f"{tls['secretName']} terminates {hosts}\n" if tls.get("secretName") else f"SNI routes {hosts}\n")
    w.write(0, "Rules:\n  Host\tPath\tBackends\n")
    w.write(1, "----\t----\t--------\n")
    count = 0
    for rule in spec.get("rules") or []:
        if rule.get("http") is None:
            continue
        count += 1
        w.write(1, f"{rule.get('host') or '*'}\t\n")
        for path in rule["http"].get("paths") or []:
            w.write(2, f"\t{path.get('path', '')} \t{_backend(client, namespace, path.get('backend') or {})}\n")
    if count == 0:
        w.write(1, f"*\t*\t{default}\n")
    _annotations(w, "Annotations", meta.get("annotations"))
    describe_events(w, search_events(client, ing), now)
    return w.text()


def describe_ingressclass(client: Any, ic: Obj, now: datetime) -> str:
    w, spec, meta = _Writer(), _spec(ic), _meta(ic)
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Controller:\t{spec.get('controller', '')}\n")
    params = spec.get("parameters")
    if params:
        w.write(0, "Parameters:\n")
        if params.get("apiGroup"):
            w.write(1, f"APIGroup:\t{params['apiGroup']}\n")
        w.write(1, f"Kind:\t{params.get('kind', '')}\n")
        w.write(1, f"Name:\t{params.get('name', '')}\n")
    describe_events(w, search_events(client, ic), now)
    return w.text()
