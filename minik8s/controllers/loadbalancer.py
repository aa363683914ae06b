"""The load-balancer controller: an address for every ``type: LoadBalancer`` Service.

On a cloud, the cloud-controller-manager's *service controller* answers a LoadBalancer Service by
building a load balancer and writing its address to ``status.loadBalancer.ingress``. minik8s has no
cloud, so this controller plays the cloud: it hands out addresses from a pool
(:func:`minik8s.addresses.load_balancer_pool`: ``127.240.0.0/16`` for the process runtime, where the
address is one more loopback address kube-proxy listens on) and writes::

    status:
      loadBalancer:
        ingress: [{ip: 127.240.0.1, ipMode: VIP}]

Rules, as upstream's service controller and a bare-metal pool (MetalLB-style) behave:

* a Service with ``spec.loadBalancerClass`` belongs to another implementation: left alone;
* ``spec.loadBalancerIP`` (deprecated upstream, still honoured) is used if it is in the pool and free;
  otherwise the Service gets a ``Warning SyncLoadBalancerFailed`` event and no address;
* otherwise the lowest free address (deterministic), and a Service keeps the address it has;
* before taking an address the controller puts the finalizer
  ``service.kubernetes.io/load-balancer-cleanup`` on the Service, so a deleted Service waits until
  its address is released; changing the type away from LoadBalancer also releases it and clears
  the status.

Events (on the Service, from ``service-controller``): ``EnsuringLoadBalancer`` ``Ensuring load
balancer``, ``EnsuredLoadBalancer`` ``Ensured load balancer``, ``DeletingLoadBalancer`` ``Deleting
load balancer``, ``DeletedLoadBalancer`` ``Deleted load balancer``.

Interface:
    LoadBalancerController(ctx)             # registered in minik8s.controllers.manager; pool from ctx.runtime
    wants_load_balancer(svc) -> bool
    choose_address(svc, pool, used) -> (address | None, error message)

How minik8s differs: no nodes are programmed into an external load balancer; the address is
served by kube-proxy on every node, as a bare-metal load balancer in layer-2 mode would.

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import ipaddress
from typing import Any, Hashable

from minik8s.addresses import load_balancer_pool
from minik8s.api import resources
from minik8s.api.objects import deep_copy
from minik8s.api.resources import Resource
from minik8s.controllers.controller import Context, Controller

SERVICES = resources.get("", "v1", "services")

CLEANUP_FINALIZER = "service.kubernetes.io/load-balancer-cleanup"

Obj = dict[str, Any]


# --- the decision (pure) ---------------------------------------------------------------------


def wants_load_balancer(svc: Obj) -> bool:
    """A LoadBalancer Service of no other implementation's class, not being deleted."""
    spec = svc.get("spec") or {}
    return (spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")
            and not (svc.get("metadata") or {}).get("deletionTimestamp"))


def ingress_ips(svc: Obj) -> list[str]:
    ingress = (((svc.get("status") or {}).get("loadBalancer")) or {}).get("ingress") or []
    return [str(i["ip"]) for i in ingress if i.get("ip")]


def choose_address(svc: Obj, pool: str, used: set[str]) -> tuple[str | None, str]:
    """The address ``svc`` should have: the one it has if still valid, its ``loadBalancerIP`` if in the
    pool and free, else the lowest free one. (None, why) when there is none to give."""
    network = ipaddress.ip_network(pool, strict=False)

    def usable(ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return address in network and address not in (network.network_address, network.broadcast_address) \
            and ip not in used

    requested = (svc.get("spec") or {}).get("loadBalancerIP") or ""
    if requested:
        if usable(requested):
            return requested, ""
        why = "is already in use" if requested in used else f"is not in the pool {pool}"
        return None, f'requested loadBalancerIP "{requested}" {why}'
    for ip in ingress_ips(svc):
        if usable(ip):
            return ip, ""
    for address in network.hosts():
        if str(address) not in used:
            return str(address), ""
    return None, f"no free address left in the pool {pool}"


# --- the controller ----------------------------------------------------------------------------


class LoadBalancerController(Controller):
    name = "service-controller"
    watches = (SERVICES,)

    def __init__(self, ctx: Context):
        self.pool = ctx.load_balancer_pool or load_balancer_pool(ctx.runtime)
        # Addresses handed out, by Service: the truth between a write and the cache showing it.
        self._assigned: dict[tuple[str, str], str] = {}
        super().__init__(ctx)

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        return [(meta.get("namespace", ""), meta.get("name", ""))]

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        svc = self.informer(SERVICES).get(namespace, name)
        if svc is None:
            self._assigned.pop(key, None)
            return
        if wants_load_balancer(svc):
            self._ensure(key, svc)
        elif CLEANUP_FINALIZER in (svc["metadata"].get("finalizers") or []) or (
                key in self._assigned and not (svc.get("spec") or {}).get("loadBalancerClass")):
            self._release(key, svc)

    def _used_by_others(self, key: tuple[str, str]) -> set[str]:
        used = {ip for other, ip in self._assigned.items() if other != key}
        for svc in self.informer(SERVICES).list():
            other = (svc["metadata"].get("namespace", ""), svc["metadata"]["name"])
            if other != key and other not in self._assigned:
                used.update(ingress_ips(svc))  # any Service's: one being deleted still holds its address
        return used

    def _ensure(self, key: tuple[str, str], svc: Obj) -> None:
        address, why = choose_address(svc, self.pool, self._used_by_others(key))
        if address is not None and ingress_ips(svc) == [address] and \
                CLEANUP_FINALIZER in (svc["metadata"].get("finalizers") or []):
            self._assigned[key] = address
            return
        self._event(svc, "Normal", "EnsuringLoadBalancer", "Ensuring load balancer")
        if address is None:
            self._event(svc, "Warning", "SyncLoadBalancerFailed",
                        f"Error syncing load balancer: failed to ensure load balancer: {why}")
            return
        if CLEANUP_FINALIZER not in (svc["metadata"].get("finalizers") or []):
            new = deep_copy(svc)
            new["metadata"]["finalizers"] = list(new["metadata"].get("finalizers") or []) + [CLEANUP_FINALIZER]
            svc = self.client.update(SERVICES, new, key[0])
        self._assigned[key] = address
        self._write_ingress(svc, [{"ip": address, "ipMode": "VIP"}])
        self._event(svc, "Normal", "EnsuredLoadBalancer", "Ensured load balancer")

    def _release(self, key: tuple[str, str], svc: Obj) -> None:
        self._event(svc, "Normal", "DeletingLoadBalancer", "Deleting load balancer")
        self._assigned.pop(key, None)
        if ingress_ips(svc) and not svc["metadata"].get("deletionTimestamp"):
            svc = self._write_ingress(svc, None)
        finalizers = [f for f in svc["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER]
        if finalizers != list(svc["metadata"].get("finalizers") or []):
            new = deep_copy(svc)
            if finalizers:
                new["metadata"]["finalizers"] = finalizers
            else:
                new["metadata"].pop("finalizers", None)
            self.client.update(SERVICES, new, key[0])
        self._event(svc, "Normal", "DeletedLoadBalancer", "Deleted load balancer")

    def _write_ingress(self, svc: Obj, ingress: list[Obj] | None) -> Obj:
        new = deep_copy(svc)
        new.setdefault("status", {})["loadBalancer"] = {"ingress": ingress} if ingress else {}
        return self.client.update(SERVICES, new, svc["metadata"].get("namespace"), subresource="status")

    def _event(self, svc: Obj, type_: str, reason: str, message: str) -> None:
        self.ctx.recorder.event(svc, type_, reason, message, component=self.name)
