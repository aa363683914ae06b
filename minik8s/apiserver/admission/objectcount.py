"""A default object-count quota: at most N objects of each resource in each namespace.

Upstream Kubernetes has no global cap on objects. An administrator bounds a namespace
with a ``ResourceQuota`` whose ``hard`` lists object counts (``pods: "10"``,
``count/deployments.apps: "5"``), and the ``ResourceQuota`` admission plugin refuses a
create that would go past it::

    pods "web-7d4b9c8d5-" is forbidden: exceeded quota: object-counts,
        requested: pods=1, used: pods=10, limited: pods=10

(403 Forbidden; the name is the ``generateName`` prefix when the object has no name yet,
because admission runs before a name is generated.) A ReplicaSet whose pod creation is
refused records ``FailedCreate`` ``Error creating: <that message>`` and a ``ReplicaFailure``
condition, and tries again later with back-off.

minik8s gives every namespace such a quota from the start, one limit for every namespaced
resource, so that a typo (``replicas: 1000000000``) leaves the extra pods uncreated instead
of exhausting the memory of the machine that runs the whole cluster.

Interface:
    quota = ObjectCountQuota(store, limit=DEFAULT_OBJECT_COUNT_LIMIT)   # limit=None: no cap
    quota.admit(resource, namespace, meta)   # raises StatusError 403 when the namespace is full
    quota_name(resource) -> "pods" | "count/<plural>.<group>"

Invariants: the count comes from the store (a running tally, so admission is O(1)); the
API server calls ``admit`` under its write lock, so two creates cannot both take the
last slot.

How minik8s differs: the quota is built into the API server, not a ``ResourceQuota``
object, so ``kubectl get resourcequota`` does not list it and it has no ``status.used``;
set the limit with ``Cluster(object_count_limit=...)``. Cluster-scoped objects (nodes,
namespaces) are not counted, as no ResourceQuota counts them either. Events are not counted:
they are what tells a user that the quota is full (``FailedCreate``), and they are bounded
another way, by the event TTL (:mod:`minik8s.apiserver.compaction`) and the recorder's
aggregation (:mod:`minik8s.controllers.events`).

Taught in chapter 2 (architecture) and the chapter on namespaces and quotas.
"""

from __future__ import annotations

from typing import Any

from minik8s.api import errors
from minik8s.api.resources import Resource
from minik8s.store import Store

# Most objects of one resource in one namespace: 10,000 simulated pods take about 280 MiB of Python
# memory in an in-process cluster (28 KiB each, benchmarks/memory.py); ten namespaces of them make
# the 100,000 objects the API server is meant to hold.
DEFAULT_OBJECT_COUNT_LIMIT = 10_000
# Not counted: the events that report a full quota must still get through.
EXEMPT = frozenset({"events", "events.events.k8s.io"})
# The name the built-in quota goes by in error messages (the one Kubernetes' docs give their example).
QUOTA_NAME = "object-counts"


def quota_name(resource: Resource) -> str:
    """How ResourceQuota names an object count: ``pods`` for pods, ``count/<resource>.<group>`` otherwise."""
    if resource.qualified == "pods":
        return "pods"
    return f"count/{resource.qualified}"


class ObjectCountQuota:
    """The admission check: refuse a create that would take a namespace past ``limit`` objects."""

    def __init__(self, store: Store, limit: int | None = DEFAULT_OBJECT_COUNT_LIMIT):
        self.store = store
        self.limit = limit

    def admit(self, resource: Resource, namespace: str | None, meta: dict[str, Any]) -> None:
        if self.limit is None or not resource.namespaced or not namespace or resource.qualified in EXEMPT:
            return
        used = self.store.count(resource.qualified, namespace)
        if used + 1 <= self.limit:
            return
        what = quota_name(resource)
        why = (f"exceeded quota: {QUOTA_NAME}, requested: {what}=1, used: {what}={used}, "
               f"limited: {what}={self.limit}")
        name = meta.get("name") or meta.get("generateName") or "Unknown"
        raise errors.forbidden(resource.group, resource.plural, name, why)
