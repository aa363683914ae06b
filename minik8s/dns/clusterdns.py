"""The cluster DNS component: CoreDNS's ``kubernetes`` plugin and the ``kube-dns`` Service, in one controller.

Upstream, CoreDNS runs as pods of ``kube-system`` behind the ``kube-dns`` Service (ClusterIP
``10.96.0.10``, the tenth address of the Service range), watches Services and EndpointSlices through
the API and answers from that cache. Here it is one more component of the cluster's loop:

* it watches Services, EndpointSlices and Namespaces (through the shared informers, so through the API
  only) and, whenever one changes, rebuilds the records (:mod:`.records`) and swaps in a new
  :class:`~.resolver.Resolver`: the DNS thread always reads a complete set, never a half-built one;
* it keeps the ``kube-dns`` Service in ``kube-system`` (ports ``dns`` 53/UDP, ``dns-tcp`` 53/TCP,
  ``metrics`` 9153/TCP, label ``k8s-app: kube-dns``) with its ClusterIP asked for explicitly, as
  kubeadm's add-on manifest does, and puts it back if it is deleted;
* with ``serve=True`` (the ``process`` runtime) a :class:`~.server.DNSServer` answers on that
  ClusterIP, port 53 when it may bind it (else 5353, see :mod:`.server`), in a thread of its own.
  The ``simulated`` runtime has no sockets: its pods ask :meth:`ClusterDNS.lookup` directly.

How minik8s differs: no CoreDNS pods (so no Endpoints behind ``kube-dns``: the server listens on the
ClusterIP itself, and a Service proxy must leave that address to it); no forwarding outside the
cluster (REFUSED, see :mod:`.resolver`); ``pods insecure`` needs no pod cache, so Pods are not watched.
EndpointSlices are watched once the API serves ``discovery.k8s.io/v1``.

Interface:
    dns = ClusterDNS(ctx, service_ip="127.96.0.10", serve=True)   # a controller of the cluster's loop
    dns.lookup(name: str, namespace: str, qtype: str = "A") -> tuple[str, list[str]] | None
    dns.resolver -> Resolver (the current one);  dns.server -> DNSServer | None;  dns.on_port_53;  dns.stop()
    kube_dns_service(ip) -> the Service object

Taught in chapter 13 (the pod network and Services: cluster DNS).
"""

from __future__ import annotations

import logging
from typing import Any, Hashable

from minik8s.addresses import CLUSTER_DOMAIN
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.controllers.controller import Context, Controller
from minik8s.dns.records import build
from minik8s.dns.resolver import Resolver
from minik8s.dns.server import DNSServer, dns_port

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
NAME = "kube-dns"
RECORDS_KEY = "records"             # the work-queue key that rebuilds the records
SERVICE_KEY = (NAMESPACE, NAME)     # the work-queue key that keeps the kube-dns Service

SERVICES = resources.get("", "v1", "services")
NAMESPACES = resources.get("", "v1", "namespaces")
assert SERVICES is not None and NAMESPACES is not None


def _endpoint_slices() -> Resource | None:
    try:
        return resources.get("discovery.k8s.io", "v1", "endpointslices")
    except KeyError:
        return None   # an API without EndpointSlices: headless Services have no records yet


def kube_dns_service(ip: str) -> dict[str, Any]:
    """The ``kube-dns`` Service as kubeadm's CoreDNS add-on creates it."""
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE,
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                "kubernetes.io/name": "CoreDNS"},
                     "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}},
        "spec": {"clusterIP": ip, "clusterIPs": [ip], "selector": {"k8s-app": "kube-dns"},
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                           {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]},
    }


class ClusterDNS(Controller):
    """See the module docstring."""

    name = "coredns"

    def __init__(self, ctx: Context, *, service_ip: str, serve: bool = False, domain: str = CLUSTER_DOMAIN,
                 port: int | None = None):
        slices = _endpoint_slices()
        self.watches = (SERVICES, NAMESPACES) if slices is None else (SERVICES, NAMESPACES, slices)
        self._slices = slices
        self.service_ip = service_ip
        self.domain = domain
        super().__init__(ctx)
        self.resolver = Resolver(build([], [], domain=domain, dns_ip=service_ip))
        self.server: DNSServer | None = None
        if serve:
            server = DNSServer(lambda: self.resolver, service_ip, dns_port() if port is None else port)
            try:
                server.start()
                self.server = server
            except OSError as exc:   # e.g. another cluster of this machine serves that address already
                log.warning("cluster DNS cannot listen on %s port %d (%s): pods' DNS queries go unanswered",
                            service_ip, server.port, exc)
        self.queue.add(SERVICE_KEY)
        self.queue.add(RECORDS_KEY)

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        if resource == SERVICES and (meta.get("namespace"), meta.get("name")) == SERVICE_KEY:
            return [RECORDS_KEY, SERVICE_KEY]
        return [RECORDS_KEY]

    def reconcile(self, key: Any) -> None:
        if key == SERVICE_KEY:
            self._keep_service()
            return
        services = self.informer(SERVICES).list()
        slices = self.informer(self._slices).list() if self._slices is not None else []
        namespaces = [str(ns["metadata"]["name"]) for ns in self.informer(NAMESPACES).list()]
        records = build(services, slices, domain=self.domain, serial=int(self.clock.now()), dns_ip=self.service_ip,
                        namespaces=namespaces)
        self.resolver = Resolver(records)   # one assignment: the DNS thread sees the old set or the new one

    def _keep_service(self) -> None:
        if self.informer(SERVICES).get(NAMESPACE, NAME) is not None:
            return
        try:
            self.client.create(SERVICES, kube_dns_service(self.service_ip), NAMESPACE)
        except StatusError as exc:
            if exc.code != 409:   # 409: it exists already, the cache has not seen it yet
                raise

    @property
    def on_port_53(self) -> bool:
        """Whether pods' C libraries reach this server (they ask port 53 of the resolv.conf address)."""
        return self.server is not None and self.server.port == 53

    def lookup(self, name: str, namespace: str, qtype: str = "A") -> tuple[str, list[str]] | None:
        """A pod's lookup of ``name`` with the ClusterFirst search path (:meth:`.Resolver.lookup`)."""
        return self.resolver.lookup(name, namespace, qtype)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
