"""The CRD handler: CustomResourceDefinitions in, served custom resources out.

Upstream's apiextensions-apiserver watches CRDs and, for each one, accepts its names (the
naming controller: ``NamesAccepted``), starts serving it (``Established``), and, when it is
deleted, removes every custom object first (the ``customresourcecleanup.apiextensions.k8s.io``
finalizer, with a ``Terminating`` condition). minik8s does the same in one object that the API
server owns:

* :meth:`CRDHandler.strategy` gives the API server the rules for a write: for a CRD itself
  (validation, defaults, the status upstream's controllers would write, the finalizer), or for
  a custom object (:class:`.customresource.Served`); None for the other built-in kinds;
* it watches the store's CRDs, and registers the served versions of every established CRD in
  the API server's own :class:`minik8s.api.resources.Registry` (unregistering them when the CRD
  changes or goes), so discovery, OpenAPI, RBAC and REST dispatch see them at once; at start-up
  it rebuilds the registrations from the stored CRDs (a restart keeps them);
* :meth:`CRDHandler.finalize` empties a CRD being deleted and then lets it go.

Invariants: only established CRDs with accepted names are served; the registry never holds a
version that is not ``served``; a name conflict leaves the newer CRD ``NamesAccepted=False``.

Taught in the reference page on custom resources (docs/reference/custom-resources.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import orjson

from minik8s.api import errors, resources
from minik8s.api.errors import FieldError, invalid_value
from minik8s.api.objects import deep_copy
from minik8s.api.resources import Resource
from minik8s.api.validation import validate
from minik8s.apiserver.apiextensions.crd import validate_crd
from minik8s.apiserver.apiextensions.customresource import Served, served_versions
from minik8s.clock import rfc3339
from minik8s.store import Event

if TYPE_CHECKING:
    from minik8s.apiserver.apiserver import APIServer

CRDS = resources.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class CRDHandler:
    """Serves the custom resources of the CRDs in ``api``'s store, through ``api.registry``."""

    def __init__(self, api: APIServer):
        self.api = api
        self._served: dict[tuple[str, str, str], Served] = {}
        self._by_crd: dict[str, list[Served]] = {}
        self._crd_strategy = _CRDStrategy(api)
        self._watches: dict[str, set[Callable[[], None]]] = {}   # CRD name -> how to end its objects' watches
        with api.store._lock:   # read and subscribe at one revision
            stored, revision = api.store.list(CRDS.qualified)
            for crd in stored:
                self._sync(crd["metadata"]["name"], crd)
            api.store.watch(CRDS.qualified, None, revision, self._on_event)   # for as long as the store lives

    # --- serving ---------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        crd = orjson.loads(event.raw)
        self._sync(crd["metadata"]["name"], None if event.type == "DELETED" else crd)

    def _sync(self, name: str, crd: dict[str, Any] | None) -> None:
        """Serve exactly the served versions of ``crd`` (nothing once it is gone, and then end the watches
        of its objects)."""
        wanted = served_versions(crd) if crd is not None else []
        if crd is None:
            for end in self._watches.pop(name, set()):
                end()
        for old in self._by_crd.pop(name, []):
            self._served.pop(_key(old.resource), None)
            if old.resource not in [w.resource for w in wanted]:
                self.api.registry.unregister(old.resource)
        for served in wanted:
            self._served[_key(served.resource)] = served
            self.api.registry.register(served.resource)
        if wanted:
            self._by_crd[name] = wanted

    def served(self, resource: Resource) -> Served | None:
        """The served version behind ``resource`` (None for a built-in kind)."""
        return self._served.get(_key(resource)) if resource.group else None

    def end_with_crd(self, resource: Resource, cancel: Callable[[], None],
                     end: Callable[[], None]) -> Callable[[], None]:
        """Have a watch of ``resource`` ended (``end()``) when its CRD is deleted; returns its cancel function,
        which also forgets the watch. Built-in resources' watches are returned as they are."""
        served = self.served(resource)
        if served is None:
            return cancel
        ends = self._watches.setdefault(served.crd_name, set())
        ends.add(end)

        def cancel_and_forget() -> None:
            ends.discard(end)
            cancel()
        return cancel_and_forget

    def printer_columns(self, resource: Resource) -> tuple[dict[str, Any], ...] | None:
        """A custom resource's ``additionalPrinterColumns`` (empty: the default AGE); None for a built-in."""
        served = self.served(resource)
        return served.columns if served is not None else None

    def strategy(self, resource: Resource) -> Any:
        """The write rules for ``resource``: the CRD strategy, a custom resource's, or None (built-in)."""
        if resource == CRDS:
            return self._crd_strategy
        return self.served(resource)

    # --- deletion --------------------------------------------------------------------

    def finalize(self, name: str) -> None:
        """Delete the custom objects of a CRD being deleted; once none is left, remove its finalizer
        (which lets the CRD go). Objects that have finalizers of their own are waited for: whoever
        removes the last one calls this again (the API server does, after each custom object goes)."""
        api = self.api
        crd = api.store.get(_crd_key(name))
        if crd is None or not crd["metadata"].get("deletionTimestamp"):
            return
        if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            return
        left = 0
        for key, _ in api.store.entries(name, None)[0]:   # custom objects are kept under <plural>.<group>
            obj = api.store.get(key)
            if obj is None:
                continue
            meta = obj["metadata"]
            if not meta.get("finalizers"):
                api.store.delete(key)
                continue
            left += 1   # its own finalizers hold it: mark it deleted and wait
            if not meta.get("deletionTimestamp"):
                marked = deep_copy(obj)
                marked["metadata"].update(deletionTimestamp=rfc3339(api.clock.now()), deletionGracePeriodSeconds=0)
                api.store.update(key, marked, int(meta["resourceVersion"]))
        new = deep_copy(crd)
        if left:
            _condition(new["status"], "Terminating", "True", "InstanceDeletionInProgress",
                       f"could not confirm zero CustomResources remaining: {left} remaining", api.clock.now())
        else:
            _condition(new["status"], "Terminating", "True", "InstanceDeletionCompleted", "removed all instances",
                       api.clock.now())
            new["metadata"]["finalizers"] = [f for f in new["metadata"]["finalizers"] if f != CLEANUP_FINALIZER]
        if new["metadata"].get("finalizers"):
            api.store.update(_crd_key(name), new, int(crd["metadata"]["resourceVersion"]))
        else:
            api.store.delete(_crd_key(name))
            self._accept_again(crd["spec"].get("group", ""))

    def _accept_again(self, group: str) -> None:
        """A CRD went: the names it held may be free now. Upstream's naming controller looks again at every
        CRD of the group; those refused for a conflict are accepted (and served) if nothing conflicts now."""
        stored, _ = self.api.store.list(CRDS.qualified)
        for crd in stored:
            conditions = (crd.get("status") or {}).get("conditions") or []
            refused = any(c.get("type") == "NamesAccepted" and c.get("status") == "False" for c in conditions)
            if crd.get("spec", {}).get("group") != group or not refused or crd["metadata"].get("deletionTimestamp"):
                continue
            new = deep_copy(crd)
            accept(self.api, new)
            if new != crd:
                self.api.store.update(_crd_key(crd["metadata"]["name"]), new, int(crd["metadata"]["resourceVersion"]))

    def removed(self, resource: Resource) -> None:
        """A custom object left the store: if its CRD is being deleted, it may go now."""
        served = self.served(resource)
        if served is not None and served.terminating:
            self.finalize(served.crd_name)


def _key(resource: Resource) -> tuple[str, str, str]:
    return (resource.group, resource.version, resource.plural)


def _crd_key(name: str) -> tuple[str, str, str]:
    return (CRDS.qualified, "", name)


def _condition(status: dict[str, Any], kind: str, value: str, reason: str, message: str, now: float) -> None:
    conditions = status.setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == kind:
            if condition.get("status") != value:
                condition["lastTransitionTime"] = rfc3339(now)
            condition.update(status=value, reason=reason, message=message)
            return
    conditions.append({"type": kind, "status": value, "lastTransitionTime": rfc3339(now), "reason": reason,
                       "message": message})


class _CRDStrategy:
    """The write rules of CustomResourceDefinitions (upstream's CRD strategy, with what its naming and
    establishing controllers write into ``status`` done at once)."""

    def __init__(self, api: APIServer) -> None:
        self.api = api

    def prepare_for_create(self, resource: Resource, obj: dict[str, Any]) -> None:
        _default_crd(obj)
        obj["metadata"]["generation"] = 1
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CLEANUP_FINALIZER)
        obj["status"] = {}
        if not validate_crd(obj):   # an invalid CRD is refused by validation, next
            accept(self.api, obj)

    def prepare_for_update(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any]) -> None:
        _default_crd(obj)
        obj["status"] = deep_copy(old.get("status") or {})
        generation = old["metadata"].get("generation", 1)
        obj["metadata"]["generation"] = generation + (obj.get("spec") != old.get("spec"))
        if not validate_crd(obj) and not obj["metadata"].get("deletionTimestamp"):
            accept(self.api, obj)

    def prepare_for_status_update(self, resource: Resource, obj: dict[str, Any],
                                  old: dict[str, Any]) -> dict[str, Any]:
        new = deep_copy(old)
        new["status"] = deep_copy(obj.get("status") or {})
        meta = obj.get("metadata") or {}
        if "resourceVersion" in meta:
            new["metadata"]["resourceVersion"] = meta["resourceVersion"]
        return new

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        errs = validate(obj, old) + validate_crd(obj)
        if old is not None:
            for path in ("group", "scope"):
                value = (obj.get("spec") or {}).get(path)
                if value != (old.get("spec") or {}).get(path):
                    errs.append(invalid_value(f"spec.{path}", value, "field is immutable"))
            stored = (obj.get("status") or {}).get("storedVersions") or []
            names = {v.get("name") for v in (obj.get("spec") or {}).get("versions") or [] if isinstance(v, dict)}
            for i, version in enumerate(stored):
                if version not in names:
                    errs.append(invalid_value(f"status.storedVersions[{i}]", version,
                                              "must appear in spec.versions"))
        return errs


def _default_crd(obj: dict[str, Any]) -> None:
    """Upstream's CRD defaults: singular and listKind from kind, conversion strategy None."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    spec.setdefault("conversion", {"strategy": "None"})


def accept(api: APIServer, obj: dict[str, Any]) -> None:
    """What upstream's naming and establishing controllers write into a CRD's status, decided at once:
    the accepted names (or the conflict that refuses them), ``Established`` once served, and
    ``storedVersions`` (every version ever marked storage)."""
    spec = obj["spec"]
    names = deep_copy(spec.get("names") or {})
    status = obj.setdefault("status", {})
    now = api.clock.now()
    conflict = _conflict(api.registry, obj["metadata"]["name"], spec.get("group", ""), names)
    if conflict:
        _condition(status, "NamesAccepted", "False", conflict[0], conflict[1], now)
        status.setdefault("acceptedNames", {"plural": "", "kind": ""})
        _condition(status, "Established", "False", "NotAccepted", "not all names are accepted", now)
    else:
        status["acceptedNames"] = {k: names[k] for k in ("plural", "singular", "shortNames", "kind", "listKind",
                                                          "categories") if names.get(k)}
        _condition(status, "NamesAccepted", "True", "NoConflicts", "no conflicts found", now)
        _condition(status, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted", now)
    stored = list(status.get("storedVersions") or [])
    for version in spec.get("versions") or []:
        if isinstance(version, dict) and version.get("storage") and version.get("name") not in stored:
            stored.append(version["name"])
    status["storedVersions"] = stored


def _conflict(registry: resources.Registry, name: str, group: str, names: dict[str, Any]) -> tuple[str, str] | None:
    """Upstream's naming controller: a plural, singular, short name or kind already used in the group."""
    for res in registry:
        if res.group != group or f"{res.plural}.{res.group}" == name:
            continue
        if names.get("plural") in (res.plural, res.name):
            return "PluralConflict", f'"{names["plural"]}" is already in use'
        if names.get("singular") in (res.plural, res.name):
            return "SingularConflict", f'"{names["singular"]}" is already in use'
        for short in names.get("shortNames") or []:
            if short in res.short_names:
                return "ShortNamesConflict", f'"{short}" is already in use'
        if names.get("kind") == res.kind:
            return "KindConflict", f'"{names["kind"]}" is already in use'
    return None


def create_refused() -> errors.StatusError:
    """Upstream's answer to a create while the CRD is being deleted."""
    return errors.method_not_allowed("create not allowed while custom resource definition is terminating")
