"""The garbage collector: deletes what nobody owns any more.

Objects point to their owners with ``metadata.ownerReferences`` (a pod to its
ReplicaSet, a ReplicaSet to its Deployment). Owners never list their dependents;
the garbage collector keeps that reverse graph (owner uid → dependents) from the
watches, and acts when an owner goes away. How it acts is chosen by the
``propagationPolicy`` of the delete (``kubectl delete --cascade=...``):

* **Background** (the default): the owner disappears at once; every dependent whose
  owners are now all gone is then deleted, and so on down the chain.
* **Foreground**: the API server only marks the owner (``deletionTimestamp`` plus the
  ``foregroundDeletion`` finalizer). The collector deletes its dependents first (in
  foreground too, if they have dependents of their own), and removes the finalizer
  once no dependent with ``blockOwnerDeletion: true`` is left; then the owner goes.
* **Orphan**: the owner is marked with the ``orphan`` finalizer; the collector removes
  the owner's reference from every dependent, then the finalizer. The dependents live on.

Interface: ``GarbageCollector(ctx)``, registered in :mod:`minik8s.controllers.manager`;
``classify_owners(obj, lookup) -> (solid, dangling, waiting)`` is the pure decision.

Invariants:
    * an object is deleted only if *every* owner is gone (verified with a live read, not
      just the cache: a cache that has not yet seen a new owner must not kill its dependents);
    * an owner reference is matched by uid: an owner deleted and recreated under the same
      name is a different owner;
    * removing the last finalizer of an object being deleted is what deletes it (the API server does it).

How minik8s differs: upstream discovers every resource and builds the graph for all of them;
minik8s watches the kinds that own or are owned by the built-in workload controllers (Deployment,
ReplicaSet, Pod, StatefulSet, DaemonSet, ControllerRevision, Job, CronJob,
PersistentVolumeClaim) and Services with their EndpointSlices. Dependents of other kinds are not collected.

Taught in chapter 7 (Deployments: cascading deletion).
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.client.discovery import discover
from minik8s.controllers.controller import Context, Controller

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"

Obj = dict[str, Any]
Key = tuple[Resource, str, str]

_WATCHED = [("apps", "v1", "deployments"), ("apps", "v1", "replicasets"), ("", "v1", "pods"),
            ("apps", "v1", "statefulsets"), ("apps", "v1", "daemonsets"), ("apps", "v1", "controllerrevisions"),
            ("batch", "v1", "jobs"), ("batch", "v1", "cronjobs"), ("", "v1", "persistentvolumeclaims"),
            ("", "v1", "services"), ("discovery.k8s.io", "v1", "endpointslices")]
WATCHED: tuple[Resource, ...] = tuple(r for r in (resources.by_plural(*g) for g in _WATCHED) if r is not None)


def _finalizers(obj: Obj) -> list[str]:
    return list((obj.get("metadata") or {}).get("finalizers") or [])


def _refs(obj: Obj | None) -> list[Obj]:
    return list(((obj or {}).get("metadata") or {}).get("ownerReferences") or [])


def classify_owners(obj: Obj, lookup: Callable[[Obj], Obj | None]) -> tuple[list[Obj], list[Obj], list[Obj]]:
    """Split ``obj``'s owner references (upstream's ``classifyReferences``):
    solid (owner exists and is not deleting its dependents first), dangling (owner gone or
    replaced: different uid) and waiting (owner in foreground deletion). ``lookup(ref)`` returns the
    live owner or None."""
    solid, dangling, waiting = [], [], []
    for ref in _refs(obj):
        owner = lookup(ref)
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            dangling.append(ref)
        elif owner["metadata"].get("deletionTimestamp") and FOREGROUND in _finalizers(owner):
            waiting.append(ref)
        else:
            solid.append(ref)
    return solid, dangling, waiting


class GarbageCollector(Controller):
    name = "garbage-collector-controller"
    watches = WATCHED

    def __init__(self, ctx: Context):
        self._dependents: dict[str, set[Key]] = {}  # owner uid -> dependents' keys (the graph)
        self._uid_of: dict[Key, str] = {}
        self._custom_owners: set[Resource] = set()   # custom resources watched because they own objects
        self._discovered: resources.Registry | None = None   # the server's resources, read when first needed
        super().__init__(ctx)

    # --- the graph builder --------------------------------------------------------------------

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        key: Key = (resource, meta.get("namespace", ""), meta.get("name", ""))
        gone = self.informer(resource).get(key[1], key[2]) is None
        for ref in _refs(old):
            self._dependents.get(ref.get("uid", ""), set()).discard(key)
        keys: list[Hashable] = []
        if gone:
            self._uid_of.pop(key, None)
            # Its dependents may now be orphans; owners waiting in foreground may now be free.
            keys += sorted(self._dependents.pop(meta.get("uid", ""), set()), key=_sort_key)
            keys += self._waiting_owners(obj)
            return keys
        self._uid_of[key] = meta.get("uid", "")
        for ref in _refs(obj):
            self._dependents.setdefault(ref.get("uid", ""), set()).add(key)
        if _refs(obj) or (meta.get("deletionTimestamp") and {FOREGROUND, ORPHAN} & set(_finalizers(obj))):
            keys.append(key)
        if meta.get("deletionTimestamp"):
            keys += self._waiting_owners(obj)
            keys += sorted(self._dependents.get(meta.get("uid", ""), set()), key=_sort_key)
        return keys

    def _waiting_owners(self, obj: Obj) -> list[Hashable]:
        keys: list[Hashable] = []
        ns = (obj.get("metadata") or {}).get("namespace", "")
        for ref in _refs(obj):
            resource = resources.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
            if resource in WATCHED:
                keys.append((resource, ns if resource.namespaced else "", ref.get("name", "")))
        return keys

    # --- reconcile -------------------------------------------------------------------------------

    def reconcile(self, key: Any) -> None:
        resource, namespace, name = key
        obj = self.informer(resource).get(namespace, name)
        if obj is None:
            return
        meta = obj["metadata"]
        if meta.get("deletionTimestamp"):
            if ORPHAN in _finalizers(obj):
                self._orphan_dependents(resource, obj)
                return
            if FOREGROUND in _finalizers(obj):
                self._delete_dependents_first(resource, obj)
                return
        if _refs(obj):
            self._attempt_to_delete(resource, obj)

    def _lookup(self, namespace: str) -> Callable[[Obj], Obj | None]:
        def lookup(ref: Obj) -> Obj | None:
            resource = resources.by_kind(ref.get("apiVersion", ""), ref.get("kind", ""))
            if resource is None:   # a custom resource's kind: found through discovery, as upstream's GC does
                resource = self._custom_kind(ref)
            if resource is None:
                # A kind the server does not serve (yet): upstream's GC cannot resolve it and waits rather
                # than delete; keep the reference standing for the owner.
                return {"metadata": {"uid": ref.get("uid")}}
            ns = namespace if resource.namespaced else ""
            if resource in WATCHED:
                cached = self.informer(resource).get(ns, ref.get("name", ""))
                if cached is not None and cached["metadata"].get("uid") == ref.get("uid"):
                    return cached
            # Missing from the cache, or another uid: ask the server before believing it is gone.
            try:
                return self.client.get(resource, ref.get("name", ""), ns or None)
            except StatusError as err:
                if err.code == 404:
                    return None
                raise
        return lookup

    def _custom_kind(self, ref: Obj) -> Resource | None:
        """The custom resource an owner reference names, from discovery (read again once when the kind is
        not in what was read before: its CRD may be new); watched from then on."""
        for fresh in (False, True):
            if self._discovered is None or fresh:
                self._discovered = discover(self.client)
            found = self._discovered.of_object(ref)
            if found is not None:
                self._watch_owners(found)
                return found
        return None

    def _watch_owners(self, resource: Resource) -> None:
        """Watch a custom resource that owns objects, so that its deletion wakes its dependents (upstream's GC
        monitors every resource discovery lists)."""
        if resource not in self._custom_owners:
            self._custom_owners.add(resource)
            self.ctx.informers.get(resource).add_handler(self._handler(resource))

    def _attempt_to_delete(self, resource: Resource, obj: Obj) -> None:
        """Delete ``obj`` if all its owners are gone or deleting; drop references to gone owners otherwise."""
        meta = obj["metadata"]
        solid, dangling, waiting = classify_owners(obj, self._lookup(meta.get("namespace", "")))
        if solid:
            if dangling or waiting:
                gone = {r.get("uid") for r in dangling + waiting}
                self._set_refs(resource, obj, [r for r in _refs(obj) if r.get("uid") not in gone])
            return
        if meta.get("deletionTimestamp"):
            return  # already on its way out
        if waiting and self._dependents.get(meta.get("uid", "")):
            policy = "Foreground"  # an owner waits for us: our dependents go first, too
        elif ORPHAN in _finalizers(obj):
            policy = "Orphan"
        elif FOREGROUND in _finalizers(obj):
            policy = "Foreground"
        else:
            policy = "Background"
        try:
            self.client.delete(resource, meta["name"], meta.get("namespace") or None, propagation_policy=policy)
        except StatusError as err:
            if err.code != 404:
                raise

    def _dependents_of(self, obj: Obj) -> list[tuple[Resource, Obj]]:
        uid = obj["metadata"].get("uid", "")
        found = []
        for resource, ns, name in sorted(self._dependents.get(uid, set()), key=_sort_key):
            dep = self.informer(resource).get(ns, name)
            if dep is not None and any(r.get("uid") == uid for r in _refs(dep)):
                found.append((resource, dep))
        return found

    def _delete_dependents_first(self, resource: Resource, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        dependents = self._dependents_of(owner)
        blocking = [(r, d) for r, d in dependents
                    if any(ref.get("uid") == uid and ref.get("blockOwnerDeletion") for ref in _refs(d))]
        for dep_resource, dep in dependents:
            if not dep["metadata"].get("deletionTimestamp"):
                self._attempt_to_delete(dep_resource, dep)
        if not blocking:
            self._remove_finalizer(resource, owner, FOREGROUND)

    def _orphan_dependents(self, resource: Resource, owner: Obj) -> None:
        uid = owner["metadata"]["uid"]
        for dep_resource, dep in self._dependents_of(owner):
            self._set_refs(dep_resource, dep, [r for r in _refs(dep) if r.get("uid") != uid])
        self._remove_finalizer(resource, owner, ORPHAN)

    def _set_refs(self, resource: Resource, obj: Obj, refs: list[Obj]) -> None:
        new = deep_copy(obj)
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            new["metadata"].pop("ownerReferences", None)
        try:
            self.client.update(resource, new, obj["metadata"].get("namespace") or None)
        except StatusError as err:
            if err.code != 404:
                raise

    def _remove_finalizer(self, resource: Resource, obj: Obj, finalizer: str) -> None:
        new = deep_copy(obj)
        remaining = [f for f in _finalizers(obj) if f != finalizer]
        if remaining:
            new["metadata"]["finalizers"] = remaining
        else:
            new["metadata"].pop("finalizers", None)
        try:
            self.client.update(resource, new, obj["metadata"].get("namespace") or None)
        except StatusError as err:
            if err.code != 404:
                raise


def _sort_key(key: Key) -> tuple[str, str, str]:
    return (key[0].plural, key[1], key[2])
