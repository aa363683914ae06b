"""The API server over HTTP: Kubernetes REST paths served with aiohttp.

This module only translates. A request such as
``GET /apis/apps/v1/namespaces/default/deployments?labelSelector=app%3Dnginx``
becomes ``apiserver.list(DEPLOYMENTS, "default", label_selector="app=nginx")``,
and a :class:`StatusError` becomes a JSON ``Status`` with its HTTP code. Watches
(``?watch=true``) stream one JSON event per line for as long as the client stays.
When kubectl asks for ``as=Table`` the answer is a ``meta.k8s.io/v1`` Table with
the same columns a real cluster prints.

Interface: ``make_app(apiserver, policy, hooks=None) -> aiohttp.web.Application``;
``policy`` (:mod:`minik8s.apiserver.filters`) says which hosts, origins and
credentials are accepted.
``hooks`` may serve pod subresources that live on a node (``log``, ``exec``).
Taught in chapter 2 (architecture) and chapter 3 (kubectl).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

import orjson
import yaml
from aiohttp import web

from minik8s.api import errors, resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.apiserver import discovery, filters, protobuf, tables
from minik8s.apiserver.auth.requestinfo import request_info
from minik8s.apiserver.apiserver import APIServer

log = logging.getLogger(__name__)

# Upstream refuses request bodies larger than 3 MiB.
MAX_BODY_BYTES = 3 * 1024 * 1024
JSON = "application/json"

PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}

Hook = Callable[[web.Request, Resource, str, str], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=JSON)


def _status(err: StatusError) -> web.Response:
    return _json(err.status(), err.code)


class _Route:
    """A parsed resource path: /api/v1/namespaces/ns/pods/name/sub or /apis/g/v/..."""

    def __init__(self, resource: Resource, namespace: str | None, name: str | None, sub: str | None, watch: bool):
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.sub = sub
        self.watch = watch


def parse_path(path: str) -> _Route | None:
    info = request_info("GET", path, {})
    if not info.is_resource:
        return None
    resource = resources.by_plural(info.api_group, info.api_version, info.resource)
    if resource is None:
        return None
    if info.subresource and info.subresource not in resource.subresources:
        return None
    return _Route(resource, info.namespace or None, info.name or None, info.subresource or None,
                  info.verb == "watch")


async def _read_body(request: web.Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise errors.too_large(MAX_BODY_BYTES)
        chunks.append(chunk)


def _decode_body(raw: bytes, content_type: str) -> Any:
    if content_type == protobuf.MEDIA_TYPE:  # kubectl's typed clients (create namespace, create secret...)
        return protobuf.decode(raw)
    if "protobuf" in content_type:
        raise StatusError(415, "UnsupportedMediaType",
                          f'the body of the request was in an unknown format - accepted media types include: '
                          f'application/json, application/yaml, {protobuf.MEDIA_TYPE}')
    if not raw.strip():
        raise errors.bad_request("the request body is empty")
    try:
        if "yaml" in content_type:
            return yaml.safe_load(raw)
        return orjson.loads(raw)
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise errors.bad_request(f"the request body is not valid {'YAML' if 'yaml' in content_type else 'JSON'}: "
                                 f"{exc}") from None


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _include_object(request: web.Request) -> str:
    return request.query.get("includeObject", "Metadata")


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


class _Handler:
    def __init__(self, api: APIServer, hooks: dict[str, Hook]):
        self.api = api
        self.hooks = hooks

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.api.clock.now(), tz=timezone.utc)

    async def version(self, request: web.Request) -> web.Response:
        return _json(discovery.version())

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def discovery(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/")
        if path == "/api":
            return _json(discovery.api_versions(request.host))
        if path == "/apis":
            return _json(discovery.api_group_list())
        parts = path.strip("/").split("/")
        doc: dict[str, Any] | None = None
        if parts[0] == "api" and len(parts) == 2:
            doc = discovery.resource_list("", parts[1])
        elif parts[0] == "apis" and len(parts) == 2:
            doc = discovery.api_group(parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            doc = discovery.resource_list(parts[1], parts[2])
        if doc is None:
            return self._not_found(request)
        return _json(doc)

    async def openapi(self, request: web.Request) -> web.Response:
        parts = request.path.strip("/").split("/")[2:]  # after openapi/v3
        if not parts:
            return _json(discovery.openapi_index())
        doc = None
        if parts[0] == "api" and len(parts) == 2:
            doc = discovery.openapi_document("", parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            doc = discovery.openapi_document(parts[1], parts[2])
        return _json(doc) if doc is not None else self._not_found(request)

    def _not_found(self, request: web.Request) -> web.Response:
        err = StatusError(404, "NotFound", "the server could not find the requested resource",
                          {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})
        return _status(err)

    async def resource(self, request: web.Request) -> web.StreamResponse:
        route = parse_path(request.path)
        if route is None:
            return self._not_found(request)
        try:
            return await self._dispatch(request, route)
        except StatusError as err:
            return _status(err)
        except Exception as exc:  # a bug must not take the server down: report it as upstream does
            log.exception("internal error serving %s %s", request.method, request.path)
            return _status(errors.internal(repr(exc)))

    async def _dispatch(self, request: web.Request, route: _Route) -> web.StreamResponse:
        api, res, q = self.api, route.resource, request.query
        method = request.method
        namespace = route.namespace if res.namespaced else None
        if route.sub in self.hooks and route.name:
            return await self.hooks[route.sub](request, res, namespace or "default", route.name)
        if route.sub == "log" and route.name and method == "GET":
            return await self._logs(request, namespace, route.name)
        if route.sub == "exec" and route.name and method in ("GET", "POST"):
            return await self._exec(request, namespace, route.name)
        if method == "GET":
            if route.watch or _bool(q.get("watch")):
                return await self._watch(request, route)
            if route.name:
                if _wants_table(request) and not route.sub:
                    obj = api.get(res, namespace, route.name)
                    return _json(tables.to_table(res, [obj], now=self._now(), include_object=_include_object(request)))
                if route.sub:
                    return _json(api.get(res, namespace, route.name, subresource=route.sub))
                return web.Response(body=api.get_raw(res, namespace, route.name), content_type=JSON)
            return self._list(request, res, namespace)
        validation = q.get("fieldValidation", "Strict")
        dry_run = bool(q.get("dryRun"))
        if method == "POST":
            body = _decode_body(await _read_body(request), request.content_type)
            name = route.name if route.sub else None
            if route.name and not route.sub:
                raise errors.method_not_allowed("the server does not allow this method on the requested resource")
            if name:
                body = body if isinstance(body, dict) else {}
                body.setdefault("metadata", {}).setdefault("name", name)
            created = api.create(res, namespace, body, subresource=route.sub, dry_run=dry_run,
                                 field_validation=validation)
            return _json(created, 201)
        if method == "PUT" and route.name:
            body = _decode_body(await _read_body(request), request.content_type)
            return _json(api.update(res, namespace, route.name, body, subresource=route.sub, dry_run=dry_run,
                                    field_validation=validation))
        if method == "PATCH" and route.name:
            patch_type = PATCH_TYPES.get(request.content_type)
            if patch_type is None or patch_type == "apply":
                raise StatusError(415, "UnsupportedMediaType",
                                  f"the body of the request was in an unknown format - accepted media types include: "
                                  f"{', '.join(t for t in PATCH_TYPES if 'apply' not in t)}")
            body = _decode_body(await _read_body(request), JSON)
            return _json(api.patch(res, namespace, route.name, patch_type, body, subresource=route.sub,
                                   dry_run=dry_run, field_validation=validation))
        if method == "DELETE":
            options = {}
            raw = await _read_body(request)
            if raw.strip():
                options = _decode_body(raw, request.content_type) or {}
            policy = q.get("propagationPolicy") or options.get("propagationPolicy")
            if options.get("orphanDependents") is True and not policy:
                policy = "Orphan"
            grace = q.get("gracePeriodSeconds") or options.get("gracePeriodSeconds")
            if route.name:
                deleted = api.delete(res, namespace, route.name, propagation_policy=policy,
                                     grace_period_seconds=int(grace) if grace is not None else None,
                                     preconditions=options.get("preconditions"), dry_run=dry_run)
                return _json(deleted)
            return _json(api.delete_collection(res, namespace, label_selector=q.get("labelSelector", ""),
                                               field_selector=q.get("fieldSelector", ""),
                                               propagation_policy=policy))
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")

    async def _logs(self, request: web.Request, namespace: str | None, name: str) -> web.StreamResponse:
        q = request.query
        container = q.get("container") or None
        tail = int(q["tailLines"]) if q.get("tailLines") else None
        text = self.api.pod_logs(namespace, name, container=container, previous=_bool(q.get("previous")),
                                 tail_lines=tail)
        if not _bool(q.get("follow")):
            return web.Response(text=text, content_type="text/plain")
        response = web.StreamResponse(headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
        await response.prepare(request)
        sent = text
        await response.write(text.encode())
        try:
            # Follow: send what the container writes next, until it stops running or the client leaves.
            while self._running(namespace, name, container) and not (request.transport is None
                                                                     or request.transport.is_closing()):
                await asyncio.sleep(0.25)
                text = self.api.pod_logs(namespace, name, container=container)
                if text.startswith(sent) and len(text) > len(sent):
                    await response.write(text[len(sent):].encode())
                sent = text
        except (ConnectionResetError, StatusError):
            pass
        return response

    def _running(self, namespace: str | None, name: str, container: str | None) -> bool:
        try:
            pod = self.api.get(resources.by_plural("", "v1", "pods"), namespace, name)  # type: ignore[arg-type]
        except StatusError:
            return False
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        chosen = [s for s in statuses if container in (None, s.get("name"))][:1]
        return bool(chosen) and "running" in (chosen[0].get("state") or {})

    async def _exec(self, request: web.Request, namespace: str | None, name: str) -> web.StreamResponse:
        """``kubectl exec`` over a WebSocket with the channel.k8s.io protocols (channel byte + data)."""
        command = request.query.getall("command", [])
        container = request.query.get("container") or None
        ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io",
                                              "v2.channel.k8s.io", "channel.k8s.io"))
        if not ws.can_prepare(request).ok:
            raise errors.bad_request("Upgrade request required")
        await ws.prepare(request)
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(None, self.api.pod_exec, namespace, name, container, command)
        except StatusError as err:
            await ws.send_bytes(b"\x03" + orjson.dumps(err.status()))
            await ws.close()
            return ws
        if result.stdout:
            await ws.send_bytes(b"\x01" + result.stdout.encode())
        if result.stderr:
            await ws.send_bytes(b"\x02" + result.stderr.encode())
        await ws.send_bytes(b"\x03" + orjson.dumps(_exec_status(command, result.exit_code)))
        await ws.close()
        return ws

    def _list(self, request: web.Request, res: Resource, namespace: str | None) -> web.Response:
        q = request.query
        try:
            limit = int(q.get("limit", "0") or 0)
        except ValueError:
            raise errors.bad_request(f"limit: Invalid value: {q.get('limit')!r}") from None
        items, meta = self.api.list_items(res, namespace, label_selector=q.get("labelSelector", ""),
                                          field_selector=q.get("fieldSelector", ""), limit=limit,
                                          continue_=q.get("continue", ""))
        if _wants_table(request):
            objs = [parsed if parsed is not None else orjson.loads(raw) for raw, parsed in items]
            table = tables.to_table(res, objs, now=self._now(), include_object=_include_object(request))
            table["metadata"] = meta
            return _json(table)
        # Splice the stored bytes straight into the list: no object is decoded or re-encoded.
        head = orjson.dumps({"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta})[:-1]
        body = head + b',"items":[' + b",".join(raw for raw, _ in items) + b"]}"
        return web.Response(body=body, content_type=JSON)

    async def _watch(self, request: web.Request, route: _Route) -> web.StreamResponse:
        q = request.query
        res = route.resource
        namespace = route.namespace if res.namespaced else None
        label_selector = q.get("labelSelector", "")
        field_selector = q.get("fieldSelector", "")
        if route.name:  # watching one object is a watch with a name field selector
            name_selector = f"metadata.name={route.name}"
            field_selector = f"{field_selector},{name_selector}" if field_selector else name_selector
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        def deliver(event: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, event)

        cancel = self.api.watch(res, namespace, deliver, resource_version=q.get("resourceVersion", ""),
                                label_selector=label_selector, field_selector=field_selector)
        response = web.StreamResponse(headers={"Content-Type": JSON, "Transfer-Encoding": "chunked"})
        table = _wants_table(request)
        timeout = float(q.get("timeoutSeconds") or 0) or None
        deadline = loop.time() + timeout if timeout else None
        try:
            await response.prepare(request)
            while True:
                wait = 5.0 if deadline is None else min(5.0, deadline - loop.time())
                if wait <= 0:
                    break
                try:
                    event = await asyncio.wait_for(queue.get(), wait)
                except asyncio.TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        break
                    continue
                if table and event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                    event = {"type": event["type"],
                             "object": tables.to_table(res, [event["object"]], now=self._now(),
                                                       include_object=_include_object(request))}
                await response.write(orjson.dumps(event) + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            cancel()
        return response


def _exec_status(command: list[str], exit_code: int) -> dict[str, Any]:
    """The Status an exec ends with on the error channel; kubectl turns it into its own exit code."""
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(command)}], error: exit status {exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}}


def make_app(api: APIServer, policy: filters.Policy, hooks: dict[str, Hook] | None = None) -> web.Application:
    """The API server's HTTP application; every request first passes ``policy``'s filters."""
    app = web.Application(client_max_size=MAX_BODY_BYTES + 1024 * 1024, middlewares=filters.middlewares(policy))
    handler = _Handler(api, hooks or {})
    app.router.add_get("/version", handler.version)
    app.router.add_get("/version/", handler.version)
    for probe in ("/healthz", "/livez", "/readyz"):
        app.router.add_get(probe, handler.healthz)
    app.router.add_get("/openapi/v3", handler.openapi)
    app.router.add_get("/openapi/v3/{tail:.*}", handler.openapi)
    for prefix in ("/api", "/apis"):
        app.router.add_get(prefix, handler.discovery)
    app.router.add_get(r"/api/{version:[^/]+}", handler.discovery)
    app.router.add_get(r"/apis/{group:[^/]+}", handler.discovery)
    app.router.add_get(r"/apis/{group:[^/]+}/{version:[^/]+}", handler.discovery)
    app.router.add_route("*", "/api/{tail:.+}", handler.resource)
    app.router.add_route("*", "/apis/{tail:.+}", handler.resource)
    return app
