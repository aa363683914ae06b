"""Informers: a local, always-current copy of one resource, kept by list + watch.

A controller that asked the API server for every pod on every decision would
flood it. Instead, as client-go's shared informers do, each resource is watched
once per process: the informer starts a watch (which begins with an ADDED event
for every existing object), keeps a cache keyed by ``namespace/name`` and tells
its handlers about each change. Controllers read the cache (a *lister*) and
write through the client.

The cache is only as fresh as the last ``pump()``: a controller that has just
written an object may still see the old one. Reconcilers are written to cope
(they converge on the next pass), as upstream's are.

Interface:
    informer = Informer(client, resource, on_event=wake)
    informer.add_handler(fn)      # fn(event_type, obj, old); informer.remove_handler(fn)
    informer.start(); informer.pump() -> number of events applied
    informer.get(namespace, name); informer.list(namespace=None)
    informer.by_controller(uid)   # objects whose controller ownerReference has this uid ("" = none)

The controller and namespace indexes are what client-go's indexers are for (its informers
index by namespace too): a ReplicaSet finds its pods without scanning every pod of the namespace,
and a lister of one namespace does not scan the others.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable

from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.client.base import Client

Handler = Callable[[str, dict[str, Any], "dict[str, Any] | None"], None]


class Informer:
    def __init__(self, client: Client, resource: Resource, on_event: Callable[[], None] | None = None):
        self.client = client
        self.resource = resource
        self._handlers: list[Handler] = []
        self._cache: dict[tuple[str, str], dict[str, Any]] = {}
        self._by_controller: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self._by_namespace: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
        self._events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._on_event = on_event or (lambda: None)
        self._watch: Any = None
        self._thread: threading.Thread | None = None
        self._stopped = False

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def remove_handler(self, handler: Handler) -> None:
        """Stop calling ``handler`` (a new list: an event being dispatched finishes with the old one)."""
        self._handlers = [h for h in self._handlers if h is not handler]

    def start(self) -> None:
        watch = self.client.watch(self.resource)
        self._watch = watch
        if hasattr(watch, "pending"):
            # In-process: events are queued synchronously at each write; pump drains them.
            watch.notify = self._on_event
        else:
            self._thread = threading.Thread(target=self._read, name=f"informer-{self.resource.plural}", daemon=True)
            self._thread.start()

    def _read(self) -> None:
        while not self._stopped:
            try:
                for event in self._watch:
                    self._events.put(event)
                    self._on_event()
            except StatusError:
                pass
            if self._stopped:
                return
            # The watch ended (timeout, 410 Gone, server restart): relist and watch again.
            try:
                self._watch = self.client.watch(self.resource)
                self._events.put({"type": "RELIST", "object": {}})
            except (StatusError, ConnectionError, OSError):
                threading.Event().wait(1.0)

    def stop(self) -> None:
        self._stopped = True
        if self._watch is not None:
            self._watch.stop()

    def pump(self) -> int:
        """Apply queued events to the cache and call the handlers; returns how many were applied."""
        applied = 0
        if self._thread is None and self._watch is not None:
            for event in self._watch.pending():
                self._events.put(event)
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return applied
            applied += 1
            self._apply(event)

    def _apply(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "RELIST":
            # A fresh watch re-sends every object as ADDED; forget what may have been deleted meanwhile.
            self._cache.clear()
            self._by_controller.clear()
            self._by_namespace.clear()
            return
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        old = self._cache.get(key)
        if old is not None:
            owner = _controller_uid(old)
            siblings = self._by_controller.get(owner, {})
            siblings.pop(key, None)
            if not siblings:
                self._by_controller.pop(owner, None)  # the owner's last object: drop its bucket too
        if kind == "DELETED":
            self._cache.pop(key, None)
            neighbours = self._by_namespace.get(key[0], {})
            neighbours.pop(key, None)
            if not neighbours:
                self._by_namespace.pop(key[0], None)
        else:
            self._cache[key] = obj   # an update keeps its place in both orders, as a dict does
            self._by_namespace.setdefault(key[0], {})[key] = obj
            self._by_controller.setdefault(_controller_uid(obj), {})[key] = obj
        for handler in self._handlers:
            handler(kind, obj, old)

    # --- lister ----------------------------------------------------------------------

    def get(self, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self._cache.get((namespace or "", name))

    def by_controller(self, uid: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects whose controlling ownerReference has ``uid``; ``""`` gives the orphans."""
        found = self._by_controller.get(uid, {})
        if namespace is None:
            return list(found.values())
        return [obj for (ns, _), obj in found.items() if ns == namespace]

    def list(self, namespace: str | None = None) -> list[dict[str, Any]]:
        if namespace is None:
            return list(self._cache.values())
        return list(self._by_namespace.get(namespace, {}).values())


def _controller_uid(obj: dict[str, Any]) -> str:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid", ""))
    return ""
