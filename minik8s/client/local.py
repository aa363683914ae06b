"""The in-process client: the Client interface over an APIServer object in the same process.

Notebooks and tests run the whole cluster in one Python process. Components
still talk only through this client, exactly as they would over HTTP, so the
same scheduler, controllers and kubelet run in both settings. Objects returned
are fresh copies: changing them changes nothing until they are written back.
"""

from __future__ import annotations

import builtins
import queue
import threading
from datetime import datetime, timezone
from typing import Any, Iterator

import orjson

from minik8s.api.resources import Resource
from minik8s.apiserver import discovery, tables
from minik8s.apiserver.apiserver import APIServer


class LocalWatch:
    """A watch whose events arrive on a thread-safe queue."""

    def __init__(self, timeout_seconds: float | None = None):
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._cancel: Any = None
        self._timeout = timeout_seconds
        self._stopped = threading.Event()
        self.notify: Any = None  # called after each delivery (the cluster loop's wake-up)

    def deliver(self, event: dict[str, Any]) -> None:
        self._queue.put(event)
        if self.notify is not None:
            self.notify()

    def pending(self) -> list[dict[str, Any]]:
        """Drain what has arrived without blocking (used by the cluster's event loop)."""
        events = []
        while True:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                return events
            if event is not None:
                events.append(event)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        while not self._stopped.is_set():
            try:
                event = self._queue.get(timeout=self._timeout)
            except queue.Empty:
                return
            if event is None:
                return
            yield event

    def stop(self) -> None:
        self._stopped.set()
        if self._cancel is not None:
            self._cancel()
        self._queue.put(None)


class LocalClient:
    """Client (see :mod:`minik8s.client.base`) for an APIServer in this process."""

    def __init__(self, api: APIServer):
        self.api = api

    def create(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None, *,
               subresource: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        if subresource:
            obj = dict(obj)
        # As kubectl and the HTTP client do, ask for strict field validation (the server's default is Warn).
        return self.api.create(resource, namespace, obj, subresource=subresource, dry_run=dry_run,
                               field_validation="Strict")

    def get(self, resource: Resource, name: str, namespace: str | None = None, *,
            subresource: str | None = None) -> dict[str, Any]:
        return self.api.get(resource, namespace, name, subresource=subresource)

    def list(self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None, limit: int | None = None,
             continue_: str | None = None) -> dict[str, Any]:
        return self.api.list(resource, namespace, label_selector=label_selector or "",
                             field_selector=field_selector or "", limit=limit or 0, continue_=continue_ or "")

    def update(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None, *,
               subresource: str | None = None) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        return self.api.update(resource, namespace or meta.get("namespace"), meta.get("name", ""), obj,
                               subresource=subresource, field_validation="Strict")

    def patch(self, resource: Resource, name: str, patch: Any, namespace: str | None = None, *,
              patch_type: str = "merge", subresource: str | None = None) -> dict[str, Any]:
        # Round-trip through JSON so a caller's dict is never shared with the server.
        return self.api.patch(resource, namespace, name, patch_type, orjson.loads(orjson.dumps(patch)),
                              subresource=subresource, field_validation="Strict")

    def delete(self, resource: Resource, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None) -> dict[str, Any]:
        return self.api.delete(resource, namespace, name, propagation_policy=propagation_policy,
                               grace_period_seconds=grace_period_seconds)

    def watch(self, resource: Resource, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int | None = None, allow_bookmarks: bool = False) -> LocalWatch:
        watch = LocalWatch(timeout_seconds)
        watch._cancel = self.api.watch(resource, namespace, watch.deliver, resource_version=resource_version or "",
                                       label_selector=label_selector or "", field_selector=field_selector or "")
        return watch

    def table(self, resource: Resource, namespace: str | None = None, name: str | None = None, *,
              label_selector: str | None = None, field_selector: str | None = None) -> dict[str, Any]:
        now = datetime.fromtimestamp(self.api.clock.now(), tz=timezone.utc)
        if name:
            return tables.to_table(resource, [self.api.get(resource, namespace, name)], now=now)
        listed = self.list(resource, namespace, label_selector=label_selector, field_selector=field_selector)
        table = tables.to_table(resource, listed["items"], now=now)
        table["metadata"] = listed["metadata"]
        return table

    def logs(self, name: str, namespace: str | None = None, *, container: str | None = None, previous: bool = False,
             tail_lines: int | None = None, timestamps: bool = False, since_seconds: int | None = None,
             since_time: float | None = None) -> str:
        return self.api.pod_logs(namespace, name, container=container, previous=previous, tail_lines=tail_lines,
                                 timestamps=timestamps, since_seconds=since_seconds, since_time=since_time)

    def exec(self, name: str, command: builtins.list[str], namespace: str | None = None, *,
             container: str | None = None) -> tuple[int, str, str]:
        result = self.api.pod_exec(namespace, name, container, command)
        return result.exit_code, result.stdout, result.stderr

    def request(self, method: str, path: str, *, query: dict[str, str] | None = None, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> bytes:
        if method == "GET" and path == "/version":
            return orjson.dumps(discovery.version())
        raise NotImplementedError(f"{method} {path} is only served over HTTP")
