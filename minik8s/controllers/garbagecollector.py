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

Which objects: every kind. As upstream's collector does, it asks discovery for every resource the
server serves that can be listed, watched and deleted (built-in and custom, namespaced and
cluster-scoped; ``deletable_resources``), less the ignored ones (``IGNORED``: core and
``events.k8s.io`` Events, upstream's default), and watches each through the shared informers.
A change of CustomResourceDefinitions or APIServices makes it read discovery again, so a new
custom resource is watched as soon as it is served.

Owners across namespaces: a namespaced owner is looked for in its dependent's namespace only. A
dependent whose owner (by uid) lives in another namespace finds none there, so that owner counts as
absent; a cluster-scoped dependent that names a namespaced kind has an owner that can never be
resolved, and is never collected. In both cases the collector records a ``Warning`` event
``OwnerRefInvalidNamespace`` about the dependent once it has observed the owner, as upstream does.

Interface: ``GarbageCollector(ctx)``, registered in :mod:`minik8s.controllers.manager`;
``classify_owners(obj, lookup) -> (solid, dangling, waiting)`` is the pure decision;
``deletable_resources(served) -> [Resource]`` the pure choice of what to watch.

Invariants:
    * an object is deleted only if *every* owner is gone (verified with a live read, not
      just the cache: a cache that has not yet seen a new owner must not kill its dependents);
    * an owner reference is matched by uid: an owner deleted and recreated under the same
      name is a different owner;
    * removing the last finalizer of an object being deleted is what deletes it (the API server does it);
    * an update that leaves an object's owner references and deletion state alone queues nothing:
      watching every kind must not make every write dearer.

How minik8s differs: upstream reads discovery every 30 seconds and watches metadata only
(``PartialObjectMetadata``); minik8s reads it again when a CRD or APIService changes, and shares
the full-object informers the other controllers use. Upstream keeps "virtual" nodes for owners it
has not observed and verifies those; minik8s keeps no node for them, but looks at the dependent that
names one (and verifies each owner with a live read before deleting).

Taught in chapter 7 (Deployments: cascading deletion).
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterable

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

# Resources the collector never watches (upstream's ``DefaultIgnoredResources``, the default of
# kube-controller-manager's GC ignored resources): events come and go by the thousand and own nothing.
IGNORED: frozenset[tuple[str, str]] = frozenset({("", "events"), ("events.k8s.io", "events")})
# What a resource must support for the collector to build its graph from it and delete its objects.
VERBS = frozenset({"delete", "list", "watch"})

# A refresh of discovery is asked with this key (the queue folds several asks into one).
_RESYNC = "discovery"


class _NamespacedOwnerOfClusterScopedObject(Exception):
    """A cluster-scoped object names a namespaced owner: never resolvable, so never collected (upstream's
    ``namespacedOwnerOfClusterScopedObjectErr``: the item is dropped, not retried)."""


def deletable_resources(served: Iterable[Resource]) -> list[Resource]:
    """Upstream's ``GetDeletableResources``: the preferred version (the first one served) of every resource
    that can be listed, watched and deleted, less the ignored ones."""
    chosen: dict[tuple[str, str], Resource] = {}
    for res in served:
        if VERBS <= set(res.verbs) and (res.group, res.plural) not in IGNORED:
            chosen.setdefault((res.group, res.plural), res)
    return list(chosen.values())


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
    watches = ()   # chosen from discovery when it starts, and again when CRDs or APIServices change

    def __init__(self, ctx: Context):
        self._dependents: dict[str, set[Key]] = {}  # owner uid -> dependents' keys (the graph's edges)
        self._nodes: dict[str, Key] = {}             # uid -> key of every object observed (the graph's nodes)
        self._monitors: dict[tuple[str, str, str], Resource] = {}   # (group, version, plural) watched
        self._discovered = resources.Registry()      # the server's resources, as discovery last listed them
        super().__init__(ctx)
        self._sync_monitors()

    # --- the monitors: one informer per deletable resource -----------------------------------

    def _sync_monitors(self) -> None:
        """Watch every deletable resource the server serves now (upstream's ``Sync``, which reads discovery
        every 30 seconds; here a change of CRDs or APIServices asks for it). A resource no longer served
        stops being watched: its objects were all deleted before its CRD went."""
        self._discovered = discover(self.client)
        wanted = {(r.group, r.version, r.plural): r for r in deletable_resources(self._discovered)}
        for gvr in [g for g in self._monitors if g not in wanted]:
            self.ctx.informers.forget(self._monitors.pop(gvr))
        for gvr, res in wanted.items():
            if gvr not in self._monitors:
                self._monitors[gvr] = res
                self.ctx.informers.get(res).add_handler(self._handler(res))

    def _monitored(self, resource: Resource) -> bool:
        return self._monitors.get((resource.group, resource.version, resource.plural)) == resource

    # --- the graph builder --------------------------------------------------------------------

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        """Keep the graph (uid -> key, owner uid -> dependents) and say which objects to look at: the object
        when a new owner reference needs verifying (``_unverified``), its dependents and waiting owners when
        it goes or is being deleted. An update that leaves the references alone costs two dict reads."""
        meta = obj.get("metadata") or {}
        namespace, name, uid = meta.get("namespace", ""), meta.get("name", ""), meta.get("uid", "")
        key: Key = (resource, namespace, name)
        refs, old_refs = _refs(obj), _refs(old)
        keys: list[Hashable] = []
        if resource.group == "apiextensions.k8s.io" or resource.group == "apiregistration.k8s.io":
            keys.append(_RESYNC)   # a CRD or an APIService came, changed or went: resources may have too
        if self.informer(resource).get(namespace, name) is None:   # deleted: out of the graph
            for ref in old_refs + refs:
                self._drop_edge(ref.get("uid", ""), key)
            if self._nodes.get(uid) == key:
                del self._nodes[uid]
            # Its dependents may now be orphans; owners waiting in foreground may now be free.
            keys += sorted(self._dependents.pop(uid, set()), key=_sort_key)
            keys += self._owner_keys(old_refs + refs)
            return keys
        if uid not in self._nodes:   # seen for the first time
            self._nodes[uid] = key
            keys += self._invalid_dependents(resource, obj)
        if refs != old_refs:
            kept = {r.get("uid") for r in refs}
            for ref in old_refs:
                if ref.get("uid") not in kept:
                    self._drop_edge(ref.get("uid", ""), key)
            known = {r.get("uid") for r in old_refs}
            added = [r for r in refs if r.get("uid") not in known]
            for ref in refs:
                self._dependents.setdefault(ref.get("uid", ""), set()).add(key)
            for ref in added:
                self._check_namespace(obj, ref)
            if any(self._unverified(obj, ref) for ref in added):
                keys.append(key)
            # An owner in foreground deletion may have waited for a reference now gone or no longer blocking.
            keys += self._owner_keys([r for r in old_refs if r not in refs])
        if meta.get("deletionTimestamp"):
            if {FOREGROUND, ORPHAN} & set(_finalizers(obj)):
                keys.append(key)
            keys += self._owner_keys(refs)
            keys += sorted(self._dependents.get(uid, set()), key=_sort_key)
        return keys

    def _unverified(self, dependent: Obj, ref: Obj) -> bool:
        """Whether a new owner reference needs a look: its owner has not been observed (upstream's "virtual"
        node, verified with the server), does not match it, is being deleted, or is in another namespace.
        A reference to a live owner already in the graph needs none: that is most of them (a ReplicaSet's
        new pods), and it is what keeps creating dependents cheap."""
        owner_key = self._nodes.get(ref.get("uid", ""))
        if owner_key is None:
            return True
        resource, namespace, name = owner_key
        owner = self.informer(resource).get(namespace, name)
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        return (owner is None or bool(owner["metadata"].get("deletionTimestamp"))
                or (resource.group, resource.kind, name) != (group, ref.get("kind"), ref.get("name"))
                or (resource.namespaced and namespace != (dependent.get("metadata") or {}).get("namespace", "")))

    def _drop_edge(self, owner_uid: str, key: Key) -> None:
        dependents = self._dependents.get(owner_uid)
        if dependents is not None:
            dependents.discard(key)
            if not dependents:
                del self._dependents[owner_uid]

    def _owner_keys(self, refs: list[Obj]) -> list[Hashable]:
        """The keys of the owners these references name, among the objects observed."""
        return [self._nodes[r["uid"]] for r in refs if r.get("uid") in self._nodes]

    # --- owner references that cross namespaces ------------------------------------------------

    def _check_namespace(self, dependent: Obj, ref: Obj) -> None:
        """Warn (``OwnerRefInvalidNamespace``) when ``ref`` names, by uid, an observed namespaced owner that
        lives in another namespace than ``dependent`` (or when ``dependent`` is cluster-scoped). Such an
        owner is looked for in the dependent's namespace, not found, and so counts as absent."""
        owner = self._nodes.get(ref.get("uid", ""))
        namespace = (dependent.get("metadata") or {}).get("namespace", "")
        if owner is not None and owner[0].namespaced and owner[1] != namespace:
            self.ctx.recorder.event(
                dependent, "Warning", "OwnerRefInvalidNamespace",
                f"ownerRef [{ref.get('apiVersion')}/{ref.get('kind')}, namespace: {namespace}, "
                f"name: {ref.get('name')}, uid: {ref.get('uid')}] does not exist in namespace \"{namespace}\"",
                component=self.name)

    def _invalid_dependents(self, resource: Resource, owner: Obj) -> list[Hashable]:
        """An owner observed after its dependents: warn about those in other namespaces and look at them again
        (their reference to it was resolved in their own namespace)."""
        meta = owner.get("metadata") or {}
        if not resource.namespaced:
            return []
        keys: list[Hashable] = []
        for dep_key in sorted(self._dependents.get(meta.get("uid", ""), set()), key=_sort_key):
            dep = self.informer(dep_key[0]).get(dep_key[1], dep_key[2])
            if dep is None or dep_key[1] == meta.get("namespace", ""):
                continue
            for ref in _refs(dep):
                if ref.get("uid") == meta.get("uid"):
                    self._check_namespace(dep, ref)
            keys.append(dep_key)
        return keys

    # --- reconcile -------------------------------------------------------------------------------

    def reconcile(self, key: Any) -> None:
        if key == _RESYNC:
            self._sync_monitors()
            return
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
        """Find an owner for a dependent of ``namespace`` ("" for a cluster-scoped dependent): a namespaced
        owner only in the dependent's own namespace, as upstream does."""
        def lookup(ref: Obj) -> Obj | None:
            resource = self._resource_of(ref)
            if resource is None:
                # A kind the server does not serve (yet): upstream's GC cannot resolve it and waits rather
                # than delete; keep the reference standing for the owner.
                return {"metadata": {"uid": ref.get("uid")}}
            if resource.namespaced and not namespace:
                raise _NamespacedOwnerOfClusterScopedObject(ref)
            ns = namespace if resource.namespaced else ""
            if self._monitored(resource):
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

    def _resource_of(self, ref: Obj) -> Resource | None:
        """The resource an owner reference names, from discovery (read again once when the kind is not in
        what was read before: its CRD may be new)."""
        found = self._discovered.of_object(ref)
        if found is None:
            self._sync_monitors()
            found = self._discovered.of_object(ref)
        return found

    def _attempt_to_delete(self, resource: Resource, obj: Obj) -> None:
        """Delete ``obj`` if all its owners are gone or deleting; drop references to gone owners otherwise."""
        meta = obj["metadata"]
        try:
            solid, dangling, waiting = classify_owners(obj, self._lookup(meta.get("namespace", "")))
        except _NamespacedOwnerOfClusterScopedObject:
            return   # unresolvable: left alone, and not retried (upstream forgets the item)
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
