"""The in-process client: the Client interface over an APIServer object in the same process.

Notebooks and tests run the whole cluster in one Python process. Components
still talk only through this client, exactly as they would over HTTP, so the
same scheduler, controllers and kubelet run in both settings. Objects returned
are fresh copies: changing them changes nothing until they are written back.

The client acts as nobody (the cluster itself, trusted) unless made with
``client.as_user(user)``: then every call is authorized as over HTTP
(``kubectl --as`` in a notebook).
"""

from __future__ import annotations

import builtins
import contextlib
import os
import queue
import threading
from datetime import datetime, timezone
from typing import Any, Iterator
from urllib.parse import parse_qsl

import orjson

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.apiserver import discovery, tables
from minik8s.apiserver.apiserver import APIServer
from minik8s.apiserver.auth.authentication import User
from minik8s.apiserver.auth.context import acting_as
from minik8s.apiserver.auth.requestinfo import RequestInfo, request_info

PODS = resources.get("", "v1", "pods")


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
               subresource: str | None = None, dry_run: bool = False,
               field_manager: str | None = None) -> dict[str, Any]:
        if subresource:
            obj = dict(obj)
        # As kubectl and the HTTP client do, ask for strict field validation (the server's default is Warn).
        return self.api.create(resource, namespace, obj, subresource=subresource, dry_run=dry_run,
                               field_validation="Strict", field_manager=field_manager or "")

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
              patch_type: str = "merge", subresource: str | None = None, dry_run: bool = False,
              field_manager: str | None = None, force: bool | None = None) -> dict[str, Any]:
        # Round-trip through JSON so a caller's dict is never shared with the server.
        return self.api.patch(resource, namespace, name, patch_type, orjson.loads(orjson.dumps(patch)),
                              subresource=subresource, field_validation="Strict", dry_run=dry_run,
                              field_manager=field_manager or "", force=force)

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
        columns = self.api.crds.printer_columns(resource)
        if name:
            return tables.to_table(resource, [self.api.get(resource, namespace, name)], now=now,
                                   printer_columns=columns)
        listed = self.list(resource, namespace, label_selector=label_selector, field_selector=field_selector)
        table = tables.to_table(resource, listed["items"], now=now, printer_columns=columns)
        table["metadata"] = listed["metadata"]
        return table

    def logs(self, name: str, namespace: str | None = None, *, container: str | None = None, previous: bool = False,
             tail_lines: int | None = None, timestamps: bool = False, since_seconds: int | None = None,
             since_time: float | None = None) -> str:
        return self.api.pod_logs(namespace, name, container=container, previous=previous, tail_lines=tail_lines,
                                 timestamps=timestamps, since_seconds=since_seconds, since_time=since_time)

    def exec(self, name: str, command: builtins.list[str], namespace: str | None = None, *,
             container: str | None = None, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is None:
            result = self.api.pod_exec(namespace, name, container, command)
        else:
            stream = self.api.pod_exec_stream(namespace, name, container, command, stdin=True, tty=False)
            return _communicate(stream, stdin.encode())
        return result.exit_code, result.stdout, result.stderr

    def request(self, method: str, path: str, *, query: dict[str, str] | None = None, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> bytes:
        path, _, query_text = path.partition("?")   # a query in the path, as over HTTP
        query = {**dict(parse_qsl(query_text)), **(query or {})}
        if method == "GET" and path == "/version":
            return orjson.dumps(discovery.version())
        parts = path.strip("/").split("/")
        if method == "GET" and parts[0] == "apis" and len(parts) in (1, 3):   # discovery, for custom resources
            registry = self.api.registry
            doc = discovery.api_group_list(registry) if len(parts) == 1 else \
                discovery.resource_list(parts[1], parts[2], registry)
            if doc is not None:
                return orjson.dumps(doc)
        info = request_info(method, path, query)
        resource = self.api.registry.by_plural(info.api_group, info.api_version, info.resource) \
            if info.is_resource and method == "GET" else None
        if resource is not None:   # a read, as over HTTP (the HPA's PodMetricsList, a node's stats summary)
            return orjson.dumps(self._read(resource, info, query))
        if info.is_resource and method == "GET":   # a resource this server does not serve: the HTTP answer
            raise StatusError(404, "NotFound", "the server could not find the requested resource", {})
        raise NotImplementedError(f"{method} {path} is only served over HTTP")

    def _read(self, resource: Resource, info: RequestInfo, query: dict[str, str]) -> dict[str, Any]:
        namespace = info.namespace or None
        if info.subresource == "proxy" and resource.plural == "nodes" and not resource.group:
            return self.api.node_proxy(info.name, info.path.split(f"/{info.name}/proxy", 1)[-1])
        if info.name and info.verb == "get":
            return self.api.get(resource, namespace, info.name, subresource=info.subresource or None)
        return self.api.list(resource, namespace, label_selector=query.get("labelSelector", ""),
                             field_selector=query.get("fieldSelector", ""))

    def as_user(self, user: User) -> "UserClient":
        """This client, acting as ``user``: every call is authorized with ``api.authorizer`` (as the
        HTTP filters would) and runs with ``user`` as the request's user (admission sees it). This is
        ``kubectl --as`` against an in-process cluster."""
        return UserClient(self.api, user)


class UserClient(LocalClient):
    """A LocalClient whose calls are made by ``user``, each authorized first (403 as over HTTP)."""

    def __init__(self, api: APIServer, user: User):
        super().__init__(api)
        self.user = user

    def _authorize(self, verb: str, resource: Resource, namespace: str | None, name: str = "",
                   subresource: str | None = None) -> None:
        info = RequestInfo(resource.path(namespace, name or None, subresource), verb, True, resource.group,
                           resource.version, (namespace or "") if resource.namespaced else "", resource.plural,
                           subresource or "", name)
        self.api.authorizer.authorize(self.user, info)

    def create(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None, *,
               subresource: str | None = None, dry_run: bool = False,
               field_manager: str | None = None) -> dict[str, Any]:
        name = (obj.get("metadata") or {}).get("name", "") if subresource else ""
        self._authorize("create", resource, namespace or (obj.get("metadata") or {}).get("namespace"), name,
                        subresource)
        with acting_as(self.user):
            return super().create(resource, obj, namespace, subresource=subresource, dry_run=dry_run,
                                  field_manager=field_manager)

    def get(self, resource: Resource, name: str, namespace: str | None = None, *,
            subresource: str | None = None) -> dict[str, Any]:
        self._authorize("get", resource, namespace, name, subresource)
        with acting_as(self.user):
            return super().get(resource, name, namespace, subresource=subresource)

    def list(self, resource: Resource, namespace: str | None = None, **options: Any) -> dict[str, Any]:
        self._authorize("list", resource, namespace)
        with acting_as(self.user):
            return super().list(resource, namespace, **options)

    def update(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None, *,
               subresource: str | None = None) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        self._authorize("update", resource, namespace or meta.get("namespace"), meta.get("name", ""), subresource)
        with acting_as(self.user):
            return super().update(resource, obj, namespace, subresource=subresource)

    def patch(self, resource: Resource, name: str, patch: Any, namespace: str | None = None, *,
              patch_type: str = "merge", subresource: str | None = None, **options: Any) -> dict[str, Any]:
        self._authorize("patch", resource, namespace, name, subresource)
        with acting_as(self.user):
            return super().patch(resource, name, patch, namespace, patch_type=patch_type, subresource=subresource,
                                 **options)

    def delete(self, resource: Resource, name: str, namespace: str | None = None, **options: Any) -> dict[str, Any]:
        self._authorize("delete", resource, namespace, name)
        with acting_as(self.user):
            return super().delete(resource, name, namespace, **options)

    def watch(self, resource: Resource, namespace: str | None = None, **options: Any) -> LocalWatch:
        self._authorize("watch", resource, namespace)
        return super().watch(resource, namespace, **options)

    def table(self, resource: Resource, namespace: str | None = None, name: str | None = None, **options: Any
              ) -> dict[str, Any]:
        self._authorize("get" if name else "list", resource, namespace, name or "")
        return super().table(resource, namespace, name, **options)

    def request(self, method: str, path: str, *, query: dict[str, str] | None = None, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> bytes:
        info = request_info(method, path.partition("?")[0], query or {})
        self.api.authorizer.authorize(self.user, info)
        with acting_as(self.user):
            return super().request(method, path, query=query, body=body, headers=headers)

    def logs(self, name: str, namespace: str | None = None, **options: Any) -> str:
        self._authorize("get", PODS, namespace, name, "log")
        return super().logs(name, namespace, **options)

    def exec(self, name: str, command: builtins.list[str], namespace: str | None = None, *,
             container: str | None = None, stdin: str | None = None) -> tuple[int, str, str]:
        self._authorize("create", PODS, namespace, name, "exec")
        return super().exec(name, command, namespace, container=container, stdin=stdin)


def _communicate(stream: Any, stdin: bytes) -> tuple[int, str, str]:
    """Feed ``stdin`` to a started exec (an ExecStream of the kubelet's runtime: file descriptors),
    read its output to the end and wait for it, as ``Popen.communicate`` does."""
    outputs: dict[int, bytes] = {}

    def read(fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            outputs[fd] = pipe.read()

    readers = [threading.Thread(target=read, args=(fd,), daemon=True)
               for fd in (stream.stdout, stream.stderr) if fd is not None]
    for reader in readers:
        reader.start()
    if stream.stdin is not None:
        with contextlib.suppress(BrokenPipeError):   # a command may end without reading it all
            view = memoryview(stdin)
            while view:
                view = view[os.write(stream.stdin, view):]
        os.close(stream.stdin)
    for reader in readers:
        reader.join()
    out, err = outputs.get(stream.stdout, b""), outputs.get(stream.stderr, b"") if stream.stderr is not None else b""
    return stream.wait(), out.decode(errors="replace"), err.decode(errors="replace")
