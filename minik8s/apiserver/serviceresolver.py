"""The service resolver: where the API server itself sends a request meant for a Service.

Admission webhooks and aggregated API servers are named by a Service reference
(``namespace``, ``name``, ``port``) rather than an address. kube-apiserver turns
such a reference into an address with its ServiceResolver; minik8s resolves it to
one ready endpoint of the Service, as kube-apiserver does with
``--enable-aggregator-routing=true`` (the API server needs no route to ClusterIPs),
and speaks TLS to it as ``<name>.<namespace>.svc``, the name the backend's
certificate must carry.

Interface:
    resolve(api, namespace, name, port) -> Address(host, port, server_name)
    ssl_context(ca_bundle_b64, insecure=False) -> ssl.SSLContext
    ResolveError(reason, message)      # reason: ServiceNotFound, MissingEndpoints (APIService's words)

Reads go through the API server's store (the Service, then its EndpointSlices, else its
Endpoints); nothing is written. Taught in chapter 2 (architecture: extending the API).
"""

from __future__ import annotations

import base64
import binascii
import ssl
from dataclasses import dataclass
from typing import Any

from minik8s.api import resources

SERVICES = resources.get("", "v1", "services")
ENDPOINTS = resources.get("", "v1", "endpoints")
ENDPOINT_SLICES = resources.get("discovery.k8s.io", "v1", "endpointslices")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    server_name: str   # the name TLS checks the certificate against

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class ResolveError(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


def resolve(store: Any, namespace: str, name: str, port: int) -> Address:
    """One ready endpoint of Service ``namespace/name`` for its port ``port``."""
    service = store.get((SERVICES.qualified, namespace, name))
    if service is None:
        raise ResolveError("ServiceNotFound", f'service/{name} in "{namespace}" is not present')
    service_port = next((p for p in (service.get("spec") or {}).get("ports") or [] if p.get("port") == port), None)
    if service_port is None:
        raise ResolveError("ServiceNotFound", f'service/{name} in "{namespace}" is not listening on port {port}')
    server_name = f"{name}.{namespace}.svc"
    for host, target in _ready_endpoints(store, namespace, name, service_port):
        return Address(host, target, server_name)
    raise ResolveError("MissingEndpoints", f'endpoints for service/{name} in "{namespace}" have no addresses '
                                           f'with port name "{service_port.get("name", "")}"')


def _ready_endpoints(store: Any, namespace: str, name: str, service_port: dict[str, Any]) -> list[tuple[str, int]]:
    """(address, port) pairs serving ``service_port``: EndpointSlices first, then Endpoints."""
    port_name = service_port.get("name") or ""
    found: list[tuple[str, int]] = []
    slices, _ = store.list(ENDPOINT_SLICES.qualified, namespace)
    for eps in slices:
        if ((eps.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL) != name:
            continue
        target = _port(eps.get("ports") or [], port_name)
        if target is None:
            continue
        for endpoint in eps.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is not False:
                found += [(address, target) for address in endpoint.get("addresses") or []]
    if found:
        return found
    endpoints = store.get((ENDPOINTS.qualified, namespace, name)) or {}
    for subset in endpoints.get("subsets") or []:
        target = _port(subset.get("ports") or [], port_name)
        if target is not None:
            found += [(a["ip"], target) for a in subset.get("addresses") or [] if a.get("ip")]
    return found


def _port(ports: list[dict[str, Any]], name: str) -> int | None:
    for port in ports:
        if (port.get("name") or "") == name and isinstance(port.get("port"), int):
            return int(port["port"])
    return None


def ssl_context(ca_bundle: str | None, insecure: bool = False) -> ssl.SSLContext:
    """A client TLS context trusting ``ca_bundle`` (base64 PEM, as in the API), else the system's roots.
    Raises ValueError for a bundle that is not base64 PEM."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif ca_bundle:
        try:
            context.load_verify_locations(cadata=base64.b64decode(ca_bundle, validate=True).decode())
        except (binascii.Error, UnicodeDecodeError, ssl.SSLError) as exc:
            raise ValueError(f"unable to load root certificates: {exc}") from None
    return context
