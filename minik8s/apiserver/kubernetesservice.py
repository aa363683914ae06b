"""The ``kubernetes`` Service: how pods find the API server.

Every cluster has a Service named ``kubernetes`` in ``default`` whose ClusterIP is the first
address of the Service range and whose one port, ``https`` 443, leads to the API server. No
selector picks its endpoints: the API server writes them itself (upstream's endpoint
reconciler), as an ``Endpoints`` object and an ``EndpointSlice`` that name its own address and
port. The slice carries the ``kubernetes.io/service-name`` label like any other, but no
``endpointslice.kubernetes.io/managed-by`` label, so the EndpointSlice controller leaves it
alone; the Endpoints object is marked ``endpointslice.kubernetes.io/skip-mirror`` for the same
reason.

Interface:
    ensure(api, host, port)   # create or correct the three objects (APIServer.ensure_kubernetes_service)
    service(cluster_ip, port) / endpoints(ip, port) / endpoint_slice(ip, port) -> dict

How minik8s differs: upstream checks these objects every 10 seconds and recreates them if they
were deleted; minik8s writes them when the API server starts (and when ``minik8s server`` knows
its port), so a deleted ``kubernetes`` Service comes back at the next start.

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from minik8s.addresses import kubernetes_service_ip
from minik8s.api import errors, resources

if TYPE_CHECKING:
    from minik8s.apiserver.apiserver import APIServer

Obj = dict[str, Any]

NAME = "kubernetes"
NAMESPACE = "default"
PORT_NAME = "https"
SERVICE_PORT = 443

_SERVICES = resources.get("", "v1", "services")
_ENDPOINTS = resources.get("", "v1", "endpoints")
_SLICES = resources.get("discovery.k8s.io", "v1", "endpointslices")


def service(cluster_ip: str, port: int) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE,
                     "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "sessionAffinity": "None",
                 "ports": [{"name": PORT_NAME, "port": SERVICE_PORT, "protocol": "TCP", "targetPort": port}]},
    }


def endpoints(ip: str, port: int) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": NAME, "namespace": NAMESPACE,
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": PORT_NAME, "port": port, "protocol": "TCP"}]}],
    }


def endpoint_slice(ip: str, port: int) -> Obj:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"kubernetes.io/service-name": NAME}},
        "addressType": "IPv6" if ":" in ip else "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
        "ports": [{"name": PORT_NAME, "port": port, "protocol": "TCP"}],
    }


def advertised_address(host: str) -> str:
    """The address the endpoints name: the serving address, or loopback for a wildcard or a name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "127.0.0.1"
    if address.is_unspecified:
        return "::1" if address.version == 6 else "127.0.0.1"
    return str(address)


def ensure(api: APIServer, host: str = "127.0.0.1", port: int = 6443) -> None:
    """Create the ``kubernetes`` Service and its endpoints, or point existing endpoints at ``host:port``."""
    ip = advertised_address(host)
    wanted = ((_SERVICES, service(kubernetes_service_ip(api.service_cidr), port)),
              (_ENDPOINTS, endpoints(ip, port)), (_SLICES, endpoint_slice(ip, port)))
    for resource, obj in wanted:
        try:
            current = api.get(resource, NAMESPACE, NAME)
        except errors.StatusError as exc:
            if exc.code != 404:
                raise
            api.create(resource, NAMESPACE, obj)
            continue
        if resource is _SERVICES:
            _correct_service(api, current, port)
        else:
            body = dict(current)
            for field in ("subsets", "endpoints", "ports", "addressType"):
                if field in obj:
                    body[field] = obj[field]
            if body != current:
                api.update(resource, NAMESPACE, NAME, body)


def _correct_service(api: APIServer, current: Obj, port: int) -> None:
    """Keep the stored Service (and its ClusterIP) but send its port to where the server listens now."""
    ports = (current.get("spec") or {}).get("ports") or []
    if [p.get("targetPort") for p in ports] == [port]:
        return
    body = {**current, "spec": {**current["spec"], "ports": [{**ports[0], "targetPort": port}] if ports else
                                service("", port)["spec"]["ports"]}}
    api.update(_SERVICES, NAMESPACE, NAME, body)
