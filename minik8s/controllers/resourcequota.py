"""The resource quota controller: keeps each ResourceQuota's ``status`` true.

``status.hard`` is the quota's ``spec.hard``; ``status.used`` is what the objects of the
namespace use now, counted the way the admission plugin counts them
(:mod:`minik8s.apiserver.admission.resourcequota`). Admission charges ``status.used``
when it admits a write; this controller gives back what deleted objects and finished
pods (``Succeeded`` or ``Failed``) no longer use, and fills in a new quota's status.

Interface:
    ResourceQuotaController      # keys are (namespace, quota name)

Invariants: a change of a pod, Service, claim, ConfigMap, Secret or quota requeues every
quota of its namespace; usage of other counted resources (``count/deployments.apps``) is
read from the API server at each reconcile, and each quota is recalculated every
``RESYNC_SECONDS`` as well (upstream resyncs every five minutes). The status is written
only when it changes, with the quota's resourceVersion (a conflict retries).

Taught in chapter 16 (the classroom quota) and the chapter on namespaces and quotas.
"""

from __future__ import annotations

from typing import Any, Hashable

from minik8s.api import resources as api_resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.apiserver.admission.resourcequota import RESOURCEQUOTAS, compute_used, tracked
from minik8s.controllers.controller import Controller

# Re-count periodically too, for the counted resources this controller does not watch.
RESYNC_SECONDS = 300.0

_WATCHED = tuple(api_resources.get("", "v1", plural) for plural in
                 ("pods", "services", "persistentvolumeclaims", "configmaps", "secrets"))


class ResourceQuotaController(Controller):
    name = "resourcequota-controller"
    watches = (RESOURCEQUOTAS, *_WATCHED)

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        namespace = (obj.get("metadata") or {}).get("namespace", "")
        if resource is RESOURCEQUOTAS:
            return [(namespace, obj["metadata"].get("name", ""))]
        return [(namespace, quota["metadata"]["name"]) for quota in self.informer(RESOURCEQUOTAS).list(namespace)]

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        quota = self.informer(RESOURCEQUOTAS).get(namespace, name)
        if quota is None:
            return
        hard = dict((quota.get("spec") or {}).get("hard") or {})
        objects = {res: self._objects(res, namespace) for res in tracked(hard)}
        status = {"hard": hard, "used": compute_used(quota, objects)}
        self.requeue_after(key, RESYNC_SECONDS)
        if quota.get("status") == status:
            return
        updated = dict(quota, status=status)
        try:
            self.client.update(RESOURCEQUOTAS, updated, namespace, subresource="status")
        except StatusError as err:
            if err.code != 404:
                raise

    def _objects(self, resource: Resource, namespace: str) -> list[dict[str, Any]]:
        if resource in _WATCHED:
            return self.informer(resource).list(namespace)
        return list(self.client.list(resource, namespace).get("items") or [])
