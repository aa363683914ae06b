"""``KubeProxy``: the per-node component that keeps Service addresses working.

kube-proxy runs on every node. It watches Services and EndpointSlices (through the shared informers,
like any controller), and whenever either changes it recomputes the whole service map
(:func:`minik8s.proxy.servicemap.build`) and hands it to its back-end, which makes the node's data
plane match: upstream's ``syncProxyRules``, one level-triggered sync of everything rather than a
patch per event, so a missed event does no harm.

Back-ends share one small interface (``sync(service_map)``, ``stop()``, and optionally a
``conflicts`` queue of addresses it could not open):

* :class:`minik8s.proxy.userspace.UserspaceProxier` for the ``process`` and ``docker`` runtimes:
  real sockets on the ClusterIPs in ``127.96.0.0/12``;
* :class:`minik8s.proxy.simulated.SimulatedProxier` for the ``simulated`` runtime: a routing function;
* the rules view :mod:`minik8s.proxy.iptables` prints what the iptables back-end would write.

An address the userspace back-end cannot open (another program holds it) becomes a Warning Event on
the Service and a log line; the next sync tries again (at the latest after ``RESYNC_SECONDS``, as
upstream resyncs every ``--iptables-sync-period``). The simulated back-end needs no resync: nothing
outside the cluster can hold its addresses, and a periodic timer would only add steps to a virtual clock.

Interface:
    proxy = KubeProxy(ctx, node_name="node-1", backend=UserspaceProxier(node_ip="127.1.1.1"))
    proxy.service_map -> list[ServicePort]      # as of the last sync
    proxy.stop()

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

from typing import Any, Hashable, Iterable, Protocol

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.controllers.controller import Context, Controller
from minik8s.proxy import servicemap
from minik8s.proxy.servicemap import ServicePort

SERVICES = resources.get("", "v1", "services")
ENDPOINTSLICES = resources.get("discovery.k8s.io", "v1", "endpointslices")
SYNC = "sync"   # kube-proxy has one key: every change leads to one sync of the whole map
# upstream reports an unopenable port on the Node, with the error as the reason; minik8s names it
# and puts it on the Service whose port it is, where a student looks.
CONFLICT_REASON = "FailedToOpenPort"
# A back-end with real sockets is synced at least this often (upstream's --iptables-sync-period), so an
# address another program held is taken once it is free even if no Service changes meanwhile.
RESYNC_SECONDS = 30.0


class Backend(Protocol):
    def sync(self, service_map: Iterable[ServicePort]) -> None: ...

    def stop(self) -> None: ...


class KubeProxy(Controller):
    name = "kube-proxy"
    watches = (SERVICES, ENDPOINTSLICES)

    def __init__(self, ctx: Context, node_name: str, backend: Backend):
        self.node_name = node_name
        self.backend = backend
        self.service_map: list[ServicePort] = []
        super().__init__(ctx)
        self.queue.add(SYNC)

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        return [SYNC]

    def promote(self, now: float) -> None:
        super().promote(now)
        conflicts = getattr(self.backend, "conflicts", None)
        if conflicts is not None and not conflicts.empty():
            self.queue.add(SYNC)

    def reconcile(self, key: Any) -> None:
        services = self.informer(SERVICES).list()
        slices = self.informer(ENDPOINTSLICES).list()
        self.service_map = servicemap.build(services, slices, self.node_name)
        self.backend.sync(self.service_map)
        self._report_conflicts()
        if hasattr(self.backend, "conflicts"):
            self.requeue_after(SYNC, RESYNC_SECONDS)

    def _report_conflicts(self) -> None:
        conflicts = getattr(self.backend, "conflicts", None)
        while conflicts is not None and not conflicts.empty():
            namespace, name, message = conflicts.get()
            service = self.informer(SERVICES).get(namespace, name)
            if service is None:
                continue
            try:
                self.ctx.recorder.event(service, "Warning", CONFLICT_REASON, message, component=self.name,
                                        host=self.node_name)
            except StatusError:
                pass  # the Service went away meanwhile: nothing to tell

    def stop(self) -> None:
        self.backend.stop()
