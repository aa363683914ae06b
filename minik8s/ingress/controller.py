"""``IngressController``: the built-in ingress controller, the implementation of the class ``minik8s``.

An Ingress is only a wish ("send ``shop.example.com/cart`` to Service ``cart`` port 80"); a controller
that owns its IngressClass makes it true. This one watches Ingresses, IngressClasses, Services,
EndpointSlices and Secrets through the API (the shared informers, as every controller does) and, on
any change, recomputes everything at once (one key, like kube-proxy's ``syncProxyRules``):

* the IngressClass ``minik8s`` (``spec.controller: minik8s.io/ingress-controller``, annotated as the
  cluster's default class) is created if it is missing;
* its Ingresses: ``spec.ingressClassName`` naming a class of this controller, or no class while the
  default class is ours; other controllers' Ingresses are left alone;
* the route table (:mod:`minik8s.ingress.routing`), each backend's ready endpoints (from the
  EndpointSlices, with the Service port resolved to the endpoint's target port) and the TLS contexts
  (:mod:`minik8s.ingress.certificates`) become one :class:`~minik8s.ingress.proxy.Config`, handed to
  the proxy in one assignment;
* ``status.loadBalancer.ingress`` is set to the proxy's address once it listens (``ip: 127.0.0.1``,
  with ``ports`` when it does not listen on 80/443);
* Events, as ingress-nginx writes them: ``Normal Sync "Scheduled for sync"`` when an Ingress of ours
  is new or changed; Warnings for a TLS Secret that is missing or does not load (its hosts get the fake
  certificate, others are unaffected) and for a backend Service or port that does not exist (its
  requests get 503).

Interface:
    controller = IngressController(ctx, proxy)     # proxy: an IngressProxy
    controller.serving(address, http_port, https_port)   # the proxy listens: write the status

Taught in the chapter on Ingress and NetworkPolicy.
"""

from __future__ import annotations

import ssl
from typing import Any, Hashable

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.controllers.controller import Context, Controller
from minik8s.ingress.certificates import context_from_secret
from minik8s.ingress.proxy import Config, Endpoint, IngressProxy
from minik8s.ingress.routing import Backend, RouteTable

INGRESSES = resources.get("networking.k8s.io", "v1", "ingresses")
INGRESSCLASSES = resources.get("networking.k8s.io", "v1", "ingressclasses")
SERVICES = resources.get("", "v1", "services")
ENDPOINTSLICES = resources.get("discovery.k8s.io", "v1", "endpointslices")
SECRETS = resources.get("", "v1", "secrets")

CONTROLLER = "minik8s.io/ingress-controller"
CLASS_NAME = "minik8s"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SYNC = "sync"
Obj = dict[str, Any]


def default_class() -> Obj:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": CLASS_NAME, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
            "spec": {"controller": CONTROLLER}}


def owned(ingresses: list[Obj], classes: list[Obj]) -> list[Obj]:
    """The Ingresses this controller serves: its classes by name, or none while its class is the default."""
    ours = {c["metadata"]["name"] for c in classes if (c.get("spec") or {}).get("controller") == CONTROLLER}
    defaults = [c for c in classes if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true"]
    default_is_ours = len(defaults) == 1 and defaults[0]["metadata"]["name"] in ours   # upstream: two defaults, none
    return [i for i in ingresses if not (i["metadata"].get("deletionTimestamp"))
            and ((i.get("spec") or {}).get("ingressClassName") in ours
                 if (i.get("spec") or {}).get("ingressClassName") else default_is_ours)]


def ready_endpoints(service: Obj | None, slices: list[Obj], port: int | str) -> tuple[Endpoint, ...] | None:
    """The ready endpoints (ip, target port) behind ``port`` (number or name) of ``service``; None when the
    Service or its port does not exist. A slice's port is matched to the Service port by name."""
    if service is None:
        return None
    wanted = [p for p in (service.get("spec") or {}).get("ports") or []
              if (p.get("port") == port if isinstance(port, int) else p.get("name") == port)]
    if not wanted:
        return None
    name = wanted[0].get("name", "")
    found: list[Endpoint] = []
    for s in slices:
        numbers = [p.get("port") for p in s.get("ports") or [] if p.get("name", "") == name and p.get("port")]
        for endpoint in s.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False:
                continue
            for ip in (endpoint.get("addresses") or [])[:1]:
                found += [(ip, int(n)) for n in numbers if (ip, int(n)) not in found]
    return tuple(found)


class IngressController(Controller):
    name = "ingress-controller"   # ingress-nginx's events say "nginx-ingress-controller"
    watches = (INGRESSES, INGRESSCLASSES, SERVICES, ENDPOINTSLICES, SECRETS)

    def __init__(self, ctx: Context, proxy: IngressProxy):
        self.proxy = proxy
        self.address: list[Obj] | None = None        # status.loadBalancer.ingress once serving
        self._seen: dict[tuple[str, str], int] = {}  # generation already announced per Ingress
        self._warned: dict[tuple[str, str], set[str]] = {}
        self._tls: dict[tuple[str, str, str], ssl.SSLContext | str] = {}   # (ns, secret, rv) -> context | error
        self._class_created = False
        super().__init__(ctx)
        self.queue.add(SYNC)

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        return [SYNC]

    def serving(self, ip: str, http_port: int, https_port: int | None) -> None:
        ports = [{"port": p, "protocol": "TCP"} for p, usual in ((http_port, 80), (https_port, 443))
                 if p is not None and p != usual]
        self.address = [{"ip": ip, **({"ports": ports} if ports else {})}]
        self.queue.add(SYNC)

    def reconcile(self, key: Any) -> None:
        classes = self.informer(INGRESSCLASSES).list()
        if not self._class_created and not any(c["metadata"]["name"] == CLASS_NAME for c in classes):
            try:
                classes = [*classes, self.client.create(INGRESSCLASSES, default_class())]
            except StatusError as err:
                if err.code != 409:
                    raise
        self._class_created = True
        ingresses = owned(self.informer(INGRESSES).list(), classes)
        table = RouteTable.build(ingresses)
        endpoints = self._endpoints(table, ingresses)
        certificates = self._certificates(ingresses)
        self.proxy.config = Config(table, endpoints, certificates)
        for ingress in ingresses:
            self._announce(ingress)
            self._write_status(ingress)
        current = {(i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in ingresses}
        self._seen = {k: v for k, v in self._seen.items() if k in current}       # forget deleted Ingresses
        self._warned = {k: v for k, v in self._warned.items() if k in current}

    def _endpoints(self, table: RouteTable, ingresses: list[Obj]) -> dict[Backend, tuple[Endpoint, ...]]:
        services, slices = self.informer(SERVICES), self.informer(ENDPOINTSLICES).list()
        found: dict[Backend, tuple[Endpoint, ...]] = {}
        for backend in table.backends():
            if backend in found or backend.resource:
                continue
            mine = [s for s in slices if s["metadata"].get("namespace") == backend.namespace
                    and (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == backend.service]
            ready = ready_endpoints(services.get(backend.namespace, backend.service), mine, backend.port)
            found[backend] = ready or ()
            if ready is None:
                what = (f'service "{backend.namespace}/{backend.service}" not found'
                        if services.get(backend.namespace, backend.service) is None else
                        f'service "{backend.namespace}/{backend.service}" does not have any port {backend.port}')
                for ingress in ingresses:
                    if backend in RouteTable.build([ingress]).backends():
                        self._warn(ingress, "ServiceNotFound", what)
        return found

    def _certificates(self, ingresses: list[Obj]) -> dict[str, ssl.SSLContext]:
        secrets = self.informer(SECRETS)
        contexts: dict[str, ssl.SSLContext] = {}
        for ingress in ingresses:
            namespace = ingress["metadata"].get("namespace", "")
            for tls in (ingress.get("spec") or {}).get("tls") or []:
                name = tls.get("secretName")
                if not name:
                    continue
                secret = secrets.get(namespace, name)
                if secret is None:
                    self._warn(ingress, "BadConfig", f'Error getting SSL certificate "{namespace}/{name}": '
                                                     f"local SSL certificate {namespace}/{name} was not found")
                    continue
                context = self._context(secret)
                if isinstance(context, str):
                    self._warn(ingress, "BadConfig", f'Error getting SSL certificate "{namespace}/{name}": {context}')
                    continue
                for host in tls.get("hosts") or []:
                    contexts.setdefault(str(host).lower(), context)
        return contexts

    def _context(self, secret: Obj) -> ssl.SSLContext | str:
        meta = secret["metadata"]
        key = (meta.get("namespace", ""), meta["name"], str(meta.get("resourceVersion", "")))
        if key not in self._tls:
            self._tls = {k: v for k, v in self._tls.items() if k[:2] != key[:2]}   # older versions go
            try:
                self._tls[key] = context_from_secret(secret)
            except ValueError as err:
                self._tls[key] = str(err)
        return self._tls[key]

    def _warn(self, ingress: Obj, reason: str, message: str) -> None:
        """A Warning Event, once per message per Ingress generation (a sync runs on every change)."""
        meta = ingress["metadata"]
        said = self._warned.setdefault((meta.get("namespace", ""), meta["name"]), set())
        if f"{meta.get('generation')}/{message}" not in said:
            said.add(f"{meta.get('generation')}/{message}")
            self._event(ingress, "Warning", reason, message)

    def _announce(self, ingress: Obj) -> None:
        meta = ingress["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if self._seen.get(key) != meta.get("generation"):
            self._seen[key] = meta.get("generation", 0)
            self._event(ingress, "Normal", "Sync", "Scheduled for sync")

    def _event(self, ingress: Obj, type_: str, reason: str, message: str) -> None:
        try:
            self.ctx.recorder.event(ingress, type_, reason, message, component=self.name)
        except StatusError:
            pass   # the Ingress (or its namespace) went away meanwhile

    def _write_status(self, ingress: Obj) -> None:
        if self.address is None:
            return
        current = ((ingress.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        if current == self.address:
            return
        new = {**ingress, "status": {**(ingress.get("status") or {}), "loadBalancer": {"ingress": self.address}}}
        self.client.update(INGRESSES, new, ingress["metadata"].get("namespace"), subresource="status")

    def stop(self) -> None:
        self.proxy.stop()
