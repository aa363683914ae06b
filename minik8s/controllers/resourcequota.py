"""The resource quota controller: keeps each ResourceQuota's ``status`` true.

``status.hard`` is the quota's ``spec.hard``; ``status.used`` is what the objects of the
namespace use now, counted the way the admission plugin counts them
(:mod:`minik8s.apiserver.admission.resourcequota`). Admission charges ``status.used``
when it admits a write; this controller gives back what deleted objects and finished
pods (``Succeeded`` or ``Failed``) no longer use, and fills in a new quota's status.

Interface:
    ResourceQuotaController      # keys are (namespace, quota name)

Invariants: a change of a pod, Service, claim, ConfigMap, Secret or quota requeues every
quota of its namespace, and each quota is recalculated every ``RESYNC_SECONDS`` as well
(upstream resyncs every five minutes). The quota and the objects are read fresh from the
API server (not from the informers' caches, which may lag behind what admission charged),
and the status is written only when it changes, with the quota's resourceVersion: a charge
admitted meanwhile makes the write a conflict, retried. A count lower than the charge with
nothing written since (the charged object not stored yet) waits a second before it is
believed.

Taught in chapter 16 (the classroom quota) and the chapter on namespaces and quotas.
"""

from __future__ import annotations

from typing import Any, Hashable

from minik8s.api import resources as api_resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.quota import RESOURCEQUOTAS, amount_of, compute_used, tracked
from minik8s.controllers.controller import Context, Controller

# Re-count periodically too, for the counted resources this controller does not watch.
RESYNC_SECONDS = 300.0
# How soon to look again when admission's charge may be for an object not stored yet.
PENDING_RETRY_SECONDS = 1.0

_WATCHED = tuple(api_resources.get("", "v1", plural) for plural in
                 ("pods", "services", "persistentvolumeclaims", "configmaps", "secrets"))


class ResourceQuotaController(Controller):
    name = "resourcequota-controller"
    watches = (RESOURCEQUOTAS, *_WATCHED)

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self._suspect: dict[Any, int] = {}  # quota key -> the resourceVersion whose charge looked pending

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        namespace = (obj.get("metadata") or {}).get("namespace", "")
        if resource is RESOURCEQUOTAS:
            return [(namespace, obj["metadata"].get("name", ""))]
        return [(namespace, quota["metadata"]["name"]) for quota in self.informer(RESOURCEQUOTAS).list(namespace)]

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        if self.informer(RESOURCEQUOTAS).get(namespace, name) is None:
            return
        try:
            quota = self.client.get(RESOURCEQUOTAS, name, namespace)  # fresh: admission charges it
        except StatusError as err:
            if err.code == 404:
                return
            raise
        hard = dict((quota.get("spec") or {}).get("hard") or {})
        objects, revision = {}, None
        for res in tracked(hard):
            listed = self.client.list(res, namespace)
            objects[res] = list(listed.get("items") or [])
            listed_at = int((listed.get("metadata") or {}).get("resourceVersion") or 0)
            revision = listed_at if revision is None else min(revision, listed_at)
        status = {"hard": hard, "used": compute_used(quota, objects)}
        self.requeue_after(key, RESYNC_SECONDS)
        if quota.get("status") == status:
            self._suspect.pop(key, None)
            return
        if self._charge_pending(key, quota, status, revision):
            self.requeue_after(key, PENDING_RETRY_SECONDS)
            return
        # The quota's resourceVersion goes along: a charge admitted meanwhile makes this a conflict (retried).
        self.client.update(RESOURCEQUOTAS, dict(quota, status=status), namespace, subresource="status")

    def _charge_pending(self, key: Any, quota: dict[str, Any], status: dict[str, Any],
                        revision: int | None) -> bool:
        """True when the count is lower than what admission charged, and nothing has happened since
        the charge: the charged object may be in the middle of being stored. Seen twice at the same
        revision, the charge was for a write that failed, and the count is right."""
        quota_rv = int(quota["metadata"].get("resourceVersion") or 0)
        current = (quota.get("status") or {}).get("used") or {}
        lower = any(amount_of(status["used"][n]) < amount_of(current[n]) for n in status["used"] if n in current)
        if revision is None or revision > quota_rv or not lower or self._suspect.get(key) == quota_rv:
            self._suspect.pop(key, None)
            return False
        self._suspect[key] = quota_rv
        return True
