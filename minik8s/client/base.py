"""The client interface every component and kubectl uses to talk to the API server.

Components never touch the store or each other: they read and write objects
through a :class:`Client`. Two implementations share this interface:

* ``LocalClient`` calls the API server object in the same process (notebooks, tests);
* ``HTTPClient`` speaks the Kubernetes REST API over HTTP (``minik8s kubectl``
  against ``minik8s server``, or against any cluster).

Interface (``resource`` is a :class:`minik8s.api.resources.Resource`):
    create(resource, obj, namespace=None, *, subresource=None, dry_run=False) -> dict
    get(resource, name, namespace=None, *, subresource=None) -> dict
    list(resource, namespace=None, *, label_selector=None, field_selector=None, limit=None, continue_=None) -> dict
    update(resource, obj, namespace=None, *, subresource=None) -> dict
    patch(resource, name, patch, namespace=None, *, patch_type="merge", subresource=None) -> dict
    delete(resource, name, namespace=None, *, propagation_policy=None, grace_period_seconds=None) -> dict
    watch(resource, namespace=None, *, resource_version=None, label_selector=None, ...) -> Watch
    table(resource, namespace=None, name=None, *, label_selector=None, field_selector=None) -> Table dict
    logs(name, namespace=None, *, container=None, previous=False, tail_lines=None) -> str
    exec(name, command, namespace=None, *, container=None) -> (exit code, stdout, stderr)
    request(method, path, *, query=None, body=None, headers=None) -> bytes   # anything else (/version)

``namespace=None`` on a namespaced resource means all namespaces for list/watch.
``patch_type`` is one of ``"merge"`` (JSON merge patch), ``"json"`` (JSON patch),
``"strategic"`` (strategic merge patch). Every failure raises
:class:`minik8s.api.errors.StatusError` carrying the server's Status.
A :class:`Watch` is an iterator of ``{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR",
"object": {...}}`` events; ``stop()`` ends it from any thread.
"""

from __future__ import annotations

import builtins
from typing import Any, Iterator, Protocol

from minik8s.api.resources import Resource

PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


class Watch(Protocol):
    def __iter__(self) -> Iterator[dict[str, Any]]: ...

    def stop(self) -> None: ...


class Client(Protocol):
    def create(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None, *,
               subresource: str | None = None, dry_run: bool = False,
               field_manager: str | None = None) -> dict[str, Any]: ...

    def get(self, resource: Resource, name: str, namespace: str | None = None, *,
            subresource: str | None = None) -> dict[str, Any]: ...

    def list(self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None, limit: int | None = None,
             continue_: str | None = None) -> dict[str, Any]: ...

    def update(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None, *,
               subresource: str | None = None) -> dict[str, Any]: ...

    def patch(self, resource: Resource, name: str, patch: Any, namespace: str | None = None, *,
              patch_type: str = "merge", subresource: str | None = None, dry_run: bool = False,
              field_manager: str | None = None, force: bool | None = None) -> dict[str, Any]: ...

    def delete(self, resource: Resource, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None,
               grace_period_seconds: int | None = None) -> dict[str, Any]: ...

    def watch(self, resource: Resource, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int | None = None, allow_bookmarks: bool = False) -> Watch: ...

    def table(self, resource: Resource, namespace: str | None = None, name: str | None = None, *,
              label_selector: str | None = None, field_selector: str | None = None) -> dict[str, Any]: ...

    def logs(self, name: str, namespace: str | None = None, *, container: str | None = None, previous: bool = False,
             tail_lines: int | None = None, timestamps: bool = False, since_seconds: int | None = None,
             since_time: float | None = None) -> str: ...

    def exec(self, name: str, command: builtins.list[str], namespace: str | None = None, *,
             container: str | None = None, stdin: str | None = None) -> tuple[int, str, str]: ...

    def request(self, method: str, path: str, *, query: dict[str, str] | None = None, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> bytes: ...
