"""The API server over HTTP: Kubernetes REST paths served with aiohttp.

This module only translates. A request such as
``GET /apis/apps/v1/namespaces/default/deployments?labelSelector=app%3Dnginx``
becomes ``apiserver.list(DEPLOYMENTS, "default", label_selector="app=nginx")``,
and a :class:`StatusError` becomes a JSON ``Status`` with its HTTP code. Watches
(``?watch=true``) stream one JSON event per line for as long as the client stays.
When kubectl asks for ``as=Table`` the answer is a ``meta.k8s.io/v1`` Table with
the same columns a real cluster prints.

A body is decoded only by its declared ``Content-Type`` (JSON, YAML or protobuf;
the patch types on PATCH; JSON when none is declared, as upstream), anything else is
415 UnsupportedMediaType. Bodies are parsed by :mod:`minik8s.api.parsing`, which
bounds size, depth and YAML alias expansion; large ones are parsed on a worker
thread so one request cannot stall the event loop that serves all the others.
Query parameters are checked as upstream checks them (``fieldValidation``,
``resourceVersion``, ``resourceVersionMatch``, ``limit``, ``timeoutSeconds``), and
the API server's warnings (unknown or duplicate fields under the default
``fieldValidation=Warn``) go back as ``Warning: 299 - "..."`` headers, which kubectl
prints as ``Warning: ...``.

Interface: ``make_app(apiserver, policy, hooks=None) -> aiohttp.web.Application``;
``policy`` (:mod:`minik8s.apiserver.filters`) says which hosts, origins and
credentials are accepted.
``hooks`` may serve pod subresources that live on a node (``log``, ``exec``); ``portforward`` is
served by :mod:`minik8s.apiserver.portforward`.
Taught in chapter 2 (architecture) and chapter 3 (kubectl).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import threading
import zlib
from datetime import datetime, timezone
from typing import Any, AsyncIterator, Awaitable, Callable

import orjson
from aiohttp import web

from minik8s.api import errors, parsing, resources, schema
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.apiserver import discovery, discoveryv2, fieldmanager, filters, portforward, protobuf, tables
from minik8s.apiserver.apiserver import APIServer, parse_resource_version
from minik8s.apiserver.admission.webhook import admitted_write
from minik8s.apiserver.aggregator import Aggregator
from minik8s.apiserver.auth.requestinfo import request_info
from minik8s.apiserver import remotecommand
from minik8s import healthz
from minik8s.clock import parse_rfc3339
from minik8s.store import UnavailableError

log = logging.getLogger(__name__)

# Upstream refuses request bodies larger than 3 MiB.
MAX_BODY_BYTES = 3 * 1024 * 1024
JSON = "application/json"
YAML = "application/yaml"
# The media types a create, update or delete body may have (upstream's, for built-in kinds).
BODY_TYPES = (JSON, YAML, protobuf.MEDIA_TYPE)
# Bodies larger than this are parsed on a worker thread; smaller ones take well under a millisecond.
PARSE_INLINE_BYTES = 64 * 1024
# Responses at least this large are gzip-compressed for a client that sends Accept-Encoding: gzip, as
# kube-apiserver does (its threshold: 128 KiB); smaller ones cost more to compress than to send.
GZIP_THRESHOLD_BYTES = 128 * 1024
# ... at kube-apiserver's level: 1 costs the least CPU for nearly the size of the default level's.
GZIP_LEVEL = 1
# A LIST of more items than this is written as a stream, this many items at a time, the event loop serving other
# requests between them; smaller ones go as one body.
STREAM_LIST_ITEMS = 1000
# A Table (kubectl get) is made this many rows at a time, for the same reason.
TABLE_SLICE = 200
# How many events a watch may fall behind its client before it is dropped (upstream closes a watcher whose
# buffer fills; the client lists and watches again).
WATCH_BUFFER = 1000
# How long a watch with allowWatchBookmarks stays quiet before it is sent a BOOKMARK (upstream: about a minute).
BOOKMARK_SECONDS = 60.0
# How often a followed log (logs -f, attach) is read again for what the container wrote since.
FOLLOW_POLL_SECONDS = 0.25
# The values of ?fieldValidation= (empty means the default, Warn).
FIELD_VALIDATION = ("", "Ignore", "Strict", "Warn")

PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/json-patch+json": "json",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}

Hook = Callable[[web.Request, Resource, str, str], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=JSON)


def _json_bytes(body: bytes) -> web.Response:
    """A JSON body that is already serialized (the OpenAPI documents, built once and cached)."""
    return web.Response(body=body, content_type=JSON)


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


def parse_path(path: str, registry: resources.Registry = resources.BUILTIN) -> _Route | None:
    info = request_info("GET", path, {})
    if not info.is_resource:
        return None
    resource = registry.by_plural(info.api_group, info.api_version, info.resource)
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


def _media_type(request: web.Request) -> str:
    """The declared Content-Type without parameters; upstream takes a missing one as JSON."""
    if not request.headers.get("Content-Type", "").strip():
        return JSON
    return request.content_type


def unsupported_media_type(accepted: tuple[str, ...] | list[str]) -> StatusError:
    return StatusError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                    f"accepted media types include: {', '.join(accepted)}")


async def _parse(raw: bytes, media_type: str) -> parsing.Parsed:
    """Parse a body with the bounds of :mod:`minik8s.api.parsing`, off the event loop when it
    is large. Raises :class:`parsing.ParseError` (or a StatusError for protobuf)."""
    parse = {YAML: parsing.load_yaml, protobuf.MEDIA_TYPE: _load_protobuf}.get(media_type, parsing.load_json)
    if len(raw) <= PARSE_INLINE_BYTES:
        return parse(raw)
    return await asyncio.get_running_loop().run_in_executor(None, parse, raw)


def _load_protobuf(raw: bytes) -> parsing.Parsed:
    """A protobuf body (kubectl's typed clients send them: create namespace, create secret...),
    held to the same depth bound as JSON and YAML."""
    try:
        value = protobuf.decode(raw)
    except RecursionError:  # objects nested in RawExtensions, each its own message
        raise parsing.ParseError(f"exceeded max depth of {parsing.MAX_DEPTH}", yaml_text=False) from None
    parsing.check_depth(value)
    return parsing.Parsed(value)


async def _decode_body(request: web.Request, kind: str, raw: bytes | None = None) -> parsing.Parsed:
    """Read (unless given) and decode the body of a create, update or delete by its declared
    media type. ``kind`` is what it must decode to, for upstream's error message."""
    media_type = _media_type(request)
    if media_type not in BODY_TYPES:
        raise unsupported_media_type(BODY_TYPES)
    if raw is None:
        raw = await _read_body(request)
    try:
        return await _parse(raw, media_type)
    except parsing.ParseError as err:
        raise errors.bad_request(f"the object provided is unrecognized (must be of type {kind}): {err.upstream} "
                                 f"({_summarize(raw)})") from None


def _summarize(data: bytes, limit: int = 30) -> str:
    """How upstream quotes a body it could not decode: JSON as text, anything else in hex."""
    if not data:
        return "<empty>"
    if data[:1] == b"{":
        return data[:limit].decode(errors="replace") + (" ..." if len(data) > limit else "")
    return data[:limit].hex() + (" ..." if len(data) > limit else "")


def _warning_header(text: str) -> str:
    """RFC 7234 warn-value as kube-apiserver writes it: code 299, no agent, the text quoted."""
    return f"299 - {json.dumps(text)}"


def _with_warnings(response: web.Response, warnings: list[str]) -> web.Response:
    seen: set[str] = set()
    for text in warnings:
        if text not in seen:  # upstream sends each distinct warning once
            seen.add(text)
            response.headers.add("Warning", _warning_header(text))
    return response


def _field_validation(request: web.Request, options_kind: str) -> str:
    """``?fieldValidation=``: Ignore, Warn (the default) or Strict; anything else is 422, as
    upstream's ``ValidateFieldValidation`` answers."""
    value = request.query.get("fieldValidation", "")
    if value not in FIELD_VALIDATION:
        raise errors.invalid(options_kind, "meta.k8s.io", "",
                             [errors.not_supported("fieldValidation", value, FIELD_VALIDATION)])
    return value or "Warn"


async def _write(request: web.Request, store: Any, verb: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call an API server write; a large object's (its decoding, defaulting, validation and
    managedFields take time in proportion) on a worker thread, so the event loop keeps serving,
    and so is any write while admission webhooks may be called (:func:`admitted_write`).
    ``asyncio.to_thread`` carries the request's context (its user) to that thread."""
    if (request.content_length or 0) > PARSE_INLINE_BYTES:
        return await asyncio.to_thread(verb, *args, **kwargs)
    return await admitted_write(store, verb, *args, **kwargs)


def _dry_run(request: web.Request, options_kind: str, sent: Any = None) -> bool:
    """``?dryRun=All`` (also a DeleteOptions' ``dryRun``): validate, admit, store nothing. Any other
    value is 422, as upstream's ValidateDryRun answers."""
    values = request.query.getall("dryRun", [])
    if isinstance(sent, list):
        values = [*values, *sent]
    elif sent is not None:
        values.append(sent)
    wrong = [v for v in values if v != "All"]
    if wrong:
        go_value = "[]string{" + ", ".join(json.dumps(str(v)) for v in values) + "}"
        raise errors.invalid(options_kind, "meta.k8s.io", "", [errors.FieldError(
            "dryRun", "FieldValueNotSupported", f'Unsupported value: {go_value}: supported values: "All"')])
    return bool(values)


def _field_manager(request: web.Request, options_kind: str) -> str:
    """``?fieldManager=`` (checked as upstream does), else the prefix of the client's User-Agent."""
    sent = request.query.get("fieldManager", "")
    fieldmanager.check_field_manager(sent, options_kind)
    return sent or fieldmanager.manager_from_user_agent(request.headers.get("User-Agent", ""))


def _int_param(request: web.Request, name: str) -> int | None:
    """An integer query parameter, refused in the words of Go's strconv as upstream's
    parameter decoding does (400 BadRequest)."""
    value = request.query.get(name)
    if value is None or value == "":
        return None
    if not re.fullmatch(r"[+-]?[0-9]+", value):
        raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax')
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": value out of range')
    return number


def _check_list_options(request: web.Request, watch: bool) -> None:
    """upstream's ValidateListOptions: what resourceVersionMatch may be combined with."""
    q = request.query
    match, version = q.get("resourceVersionMatch", ""), q.get("resourceVersion", "")
    found: list[errors.FieldError] = []
    send_initial = q.get("sendInitialEvents")
    if send_initial is not None and not watch:
        found.append(errors.forbidden_field("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    if watch:   # upstream's validateWatchOptions
        if send_initial is not None and match != "NotOlderThan":
            found.append(errors.forbidden_field("resourceVersionMatch",
                                                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
        if match and send_initial is None:
            found.append(errors.forbidden_field("resourceVersionMatch",
                                                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
        if match and match != "NotOlderThan":
            found.append(errors.not_supported("resourceVersionMatch", match, ["NotOlderThan"]))
    if match and not watch:
        if not version:
            found.append(errors.forbidden_field("resourceVersionMatch",
                                                "resourceVersionMatch is forbidden unless resourceVersion is provided"))
        if q.get("continue"):
            found.append(errors.forbidden_field("resourceVersionMatch",
                                                "resourceVersionMatch is forbidden when continue is provided"))
        if match not in ("Exact", "NotOlderThan"):
            found.append(errors.not_supported("resourceVersionMatch", match, ["Exact", "NotOlderThan", ""]))
        if match == "Exact" and version == "0":
            found.append(errors.forbidden_field("resourceVersionMatch",
                                                'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
    if found:
        raise errors.invalid("ListOptions", "meta.k8s.io", "", found)


def _wants_table(request: web.Request) -> bool:
    return "as=Table" in request.headers.get("Accept", "")


def _include_object(request: web.Request) -> str:
    return request.query.get("includeObject", "Metadata")


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _int_query(query: Any, name: str) -> int | None:
    """An integer query parameter, or None when absent (400 when it is not a number, as upstream)."""
    if not query.get(name):
        return None
    try:
        return int(query[name])
    except ValueError:
        raise errors.bad_request(f'{name}: invalid value "{query[name]}": must be an integer') from None


class _Handler:
    def __init__(self, api: APIServer, hooks: dict[str, Hook]):
        self.api = api
        self.hooks = hooks
        self.aggregator = Aggregator(api)   # APIServices, and the proxy to extension API servers
        # kube-apiserver's first checks: it answers, it can log, its store answers.
        self.health_checks = [healthz.Check("ping", healthz.ping), healthz.Check("log", healthz.ping),
                              healthz.Check("etcd", api.store_health)]

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.api.clock.now(), tz=timezone.utc)

    async def version(self, request: web.Request) -> web.Response:
        return _json(discovery.version())

    async def healthz(self, request: web.Request) -> web.Response:
        """``/healthz``, ``/livez``, ``/readyz`` (and ``/healthz/<check>``), as :mod:`minik8s.healthz` answers."""
        endpoint = request.path.strip("/").split("/", 1)[0]
        status, body = healthz.answer(endpoint, self.health_checks, request.path, request.query)
        return web.Response(status=status, text=body, headers={"X-Content-Type-Options": "nosniff"})

    async def discovery(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/")
        proxied = await self.aggregator.serve(request)
        if proxied is not None:
            return proxied
        wanted = discoveryv2.negotiate(request.headers.get("Accept", "")) if path in ("/api", "/apis") else None
        if wanted:   # aggregated discovery, as kubectl asks first
            extra = self.aggregator.remote_discovery() if path == "/apis" else []
            listing = discoveryv2.discovery_list(wanted, core=path == "/api", served=self.api.registry,
                                                  extra=extra)
            return web.Response(body=orjson.dumps(listing), headers={"Content-Type": discoveryv2.content_type(wanted),
                                                                 "Vary": "Accept"})
        if path == "/api":
            return _json(discovery.api_versions(request.host))
        if path == "/apis":
            groups = discovery.api_group_list(self.api.registry)
            return _json({**groups, "groups": groups["groups"] + self.aggregator.remote_groups()})
        parts = path.strip("/").split("/")
        doc: dict[str, Any] | None = None
        if parts[0] == "api" and len(parts) == 2:
            doc = discovery.resource_list("", parts[1], self.api.registry)
        elif parts[0] == "apis" and len(parts) == 2:
            doc = discovery.api_group(parts[1], self.api.registry)
        elif parts[0] == "apis" and len(parts) == 3:
            doc = discovery.resource_list(parts[1], parts[2], self.api.registry)
        if doc is None:
            return self._not_found(request)
        return _json(doc)

    async def openapi_v2(self, request: web.Request) -> web.Response:
        """Swagger 2.0, as JSON or as gnostic's protobuf (``openapi.v2.Document``), whichever the ``Accept``
        header names first: kubectl's discovery asks for the protobuf form (to validate a ``kind: List`` on
        the client), most other clients for JSON, the default. Another protobuf type alone is refused with
        406, as upstream does. (The media types are taken in the order listed; q-values are not weighed.)"""
        accept = request.headers.get("Accept", "")
        for media_type in (part.split(";")[0].strip() for part in accept.split(",")):
            if media_type in discovery.OPENAPI_V2_PROTOBUF_NAMES:
                # Encoded once per registry generation (about 0.1 s): off the loop.
                body = await asyncio.to_thread(discovery.openapi_v2_protobuf, self.api.registry)
                return web.Response(body=body, headers={"Content-Type": discovery.OPENAPI_V2_PROTOBUF})
            if media_type in ("application/json", "application/*", "*/*"):
                break
        else:
            if "protobuf" in accept:
                return _status(StatusError(406, "NotAcceptable", "only the following media types are accepted: "
                                           f"application/json, {discovery.OPENAPI_V2_PROTOBUF}"))
        return _json_bytes(discovery.openapi_v2_json(self.api.registry))

    async def openapi(self, request: web.Request) -> web.Response:
        parts = request.path.strip("/").split("/")[2:]  # after openapi/v3
        if not parts:
            return _json(discovery.openapi_index(self.api.registry))
        doc = None
        if parts[0] == "api" and len(parts) == 2:
            doc = discovery.openapi_document_json("", parts[1], self.api.registry)
        elif parts[0] == "apis" and len(parts) == 3:
            doc = discovery.openapi_document_json(parts[1], parts[2], self.api.registry)
        return _json_bytes(doc) if doc is not None else self._not_found(request)

    async def not_found(self, request: web.Request) -> web.Response:
        return self._not_found(request)

    def _not_found(self, request: web.Request) -> web.Response:
        """Upstream's answer for a path it does not serve: a NotFound Status naming nothing."""
        return _status(StatusError(404, "NotFound", "the server could not find the requested resource", {}))

    async def resource(self, request: web.Request) -> web.StreamResponse:
        proxied = await self.aggregator.serve(request)
        if proxied is not None:
            return proxied
        route = parse_path(request.path, self.api.registry)
        if route is None:
            return self._not_found(request)
        try:
            return await self._dispatch(request, route)
        except StatusError as err:
            return _status(err)
        except UnavailableError as exc:   # etcd down: the request times out, as upstream's does
            log.warning("storage unavailable serving %s %s: %s", request.method, request.path, exc)
            return _status(errors.storage_timeout())
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
        if route.sub == "attach" and route.name and method in ("GET", "POST"):
            return await self._attach(request, namespace, route.name)
        if route.sub == "portforward" and route.name and method in ("GET", "POST"):
            return await self._port_forward(request, namespace, route.name)
        if route.sub == "proxy" and res.plural == "nodes" and not res.group and route.name and method == "GET":
            path = request.path.split(f"/{route.name}/proxy", 1)[-1]
            summary = await asyncio.get_running_loop().run_in_executor(None, api.node_proxy, route.name, path)
            return _json(summary)
        if method == "GET":
            if route.watch or _bool(q.get("watch")):
                return await self._watch(request, route)
            if route.name:
                if _wants_table(request) and not route.sub:
                    obj = api.get(res, namespace, route.name)
                    return _json(tables.to_table(res, [obj], now=self._now(), include_object=_include_object(request),
                                                 printer_columns=api.crds.printer_columns(res)))
                if route.sub:
                    return _json(api.get(res, namespace, route.name, subresource=route.sub))
                return web.Response(body=api.get_raw(res, namespace, route.name), content_type=JSON)
            return await self._list(request, res, namespace)
        warnings: list[str] = []
        if method == "POST":
            if route.name and not route.sub:
                raise errors.method_not_allowed("the server does not allow this method on the requested resource")
            validation = _field_validation(request, "CreateOptions")
            dry_run, manager = _dry_run(request, "CreateOptions"), _field_manager(request, "CreateOptions")
            parsed = await _decode_body(request, res.kind)
            body = parsed.value
            if route.sub:  # binding, eviction: the object is named by the path
                body = body if isinstance(body, dict) else {}
                if body.get("metadata") is None:
                    body["metadata"] = {}
                if isinstance(body["metadata"], dict):  # anything else is refused by the decoder, as upstream
                    body["metadata"].setdefault("name", route.name)
            created = await _write(request, api.store, api.create, res, namespace, body, subresource=route.sub,
                                   dry_run=dry_run, field_validation=validation, strict_errors=parsed.strict_errors,
                                   warnings=warnings, field_manager=manager)
            return _with_warnings(_json(created, 201), warnings)
        if method == "PUT" and route.name:
            validation = _field_validation(request, "UpdateOptions")
            dry_run, manager = _dry_run(request, "UpdateOptions"), _field_manager(request, "UpdateOptions")
            parsed = await _decode_body(request, res.kind)
            updated = await _write(request, api.store, api.update, res, namespace, route.name, parsed.value,
                                   subresource=route.sub, dry_run=dry_run, field_validation=validation,
                                   strict_errors=parsed.strict_errors, warnings=warnings, field_manager=manager)
            return _with_warnings(_json(updated), warnings)
        if method == "PATCH" and route.name:
            patch_type = PATCH_TYPES.get(_media_type(request))
            if patch_type is None:
                raise unsupported_media_type(list(PATCH_TYPES))
            validation = _field_validation(request, "PatchOptions")
            dry_run, manager = _dry_run(request, "PatchOptions"), _field_manager(request, "PatchOptions")
            if patch_type == "apply":   # upstream: no User-Agent fallback, an apply must name its manager
                manager = q.get("fieldManager", "")
            raw = await _read_body(request)
            try:
                # An applied configuration is YAML (JSON is YAML too); the other patches are JSON.
                patch = (await _parse(raw, YAML if patch_type == "apply" else JSON)).value
            except parsing.ParseError as err:
                raise errors.bad_request(("error decoding YAML: " if patch_type == "apply" else
                                          "error decoding patch: ") + str(err)) from None
            force = _bool(q["force"]) if "force" in q else None
            if patch_type == "apply":
                applied, created = await _write(request, api.store, api.server_side_apply, res, namespace, route.name, patch,
                                                subresource=route.sub, dry_run=dry_run, field_validation=validation,
                                                warnings=warnings, field_manager=manager, force=force)
                return _with_warnings(_json(applied, 201 if created else 200), warnings)
            patched = await _write(request, api.store, api.patch, res, namespace, route.name, patch_type, patch,
                                   subresource=route.sub, dry_run=dry_run, field_validation=validation,
                                   warnings=warnings, field_manager=manager, force=force)
            return _with_warnings(_json(patched), warnings)
        if method == "DELETE":
            options: dict[str, Any] = {}
            raw = await _read_body(request)
            if raw:  # as upstream, only a body that is there is decoded (kubectl sends DeleteOptions as JSON)
                value = (await _decode_body(request, "DeleteOptions", raw)).value
                if value is not None and not isinstance(value, dict):
                    raise errors.bad_request(f"the object provided is unrecognized (must be of type DeleteOptions) "
                                             f"({_summarize(raw)})")
                options = value or {}
            dry_run = _dry_run(request, "DeleteOptions", options.get("dryRun"))
            policy = q.get("propagationPolicy") or options.get("propagationPolicy")
            if options.get("orphanDependents") is True and not policy:
                policy = "Orphan"
            grace = _int_param(request, "gracePeriodSeconds")
            if grace is None and options.get("gracePeriodSeconds") is not None:
                grace = options["gracePeriodSeconds"]
                if not isinstance(grace, int) or isinstance(grace, bool):
                    raise errors.bad_request("json: cannot unmarshal " + schema.json_kind(grace) + " into Go struct field "
                                             "DeleteOptions.gracePeriodSeconds of type int64")
            if route.name:
                deleted = await admitted_write(api.store, api.delete, res, namespace, route.name,
                                               propagation_policy=policy, grace_period_seconds=grace,
                                               preconditions=options.get("preconditions"), dry_run=dry_run)
                return _json(deleted)
            return _json(await admitted_write(api.store, api.delete_collection, res, namespace,
                                              label_selector=q.get("labelSelector", ""),
                                              field_selector=q.get("fieldSelector", ""), propagation_policy=policy,
                                              dry_run=dry_run))
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")

    async def _logs(self, request: web.Request, namespace: str | None, name: str) -> web.StreamResponse:
        q = request.query
        container = q.get("container") or None
        tail = _int_query(q, "tailLines")
        since_seconds = _int_query(q, "sinceSeconds")
        try:
            since_time = parse_rfc3339(q["sinceTime"]) if q.get("sinceTime") else None
        except ValueError:
            raise errors.bad_request(f'sinceTime: cannot parse "{q["sinceTime"]}" as RFC 3339') from None
        options: dict[str, Any] = {"container": container, "timestamps": _bool(q.get("timestamps")),
                                   "since_seconds": since_seconds, "since_time": since_time}
        # Off the event loop: a kubelet on another machine is asked over the network (nodeproxy.RemoteKubelet).
        text = await asyncio.to_thread(self.api.pod_logs, namespace, name, previous=_bool(q.get("previous")),
                                       tail_lines=tail, **options)
        if not _bool(q.get("follow")):
            return web.Response(text=text, content_type="text/plain")
        response = web.StreamResponse(headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"})
        await response.prepare(request)
        await response.write(text.encode())
        # Follow polls the whole log and sends what is new. The first answer may have been cut by
        # tailLines, so compare with the whole log; and a sinceSeconds window must not slide with
        # each poll, so it becomes the time it meant when the request came.
        if since_seconds is not None:
            options.update(since_seconds=None, since_time=self.api.clock.now() - since_seconds)
        sent = text if tail is None else await asyncio.to_thread(self.api.pod_logs, namespace, name, **options)
        try:
            async for more in self._follow(request, namespace, name, options, sent):
                await response.write(more.encode())
        except (ConnectionResetError, StatusError):
            pass
        return response

    async def _follow(self, request: web.Request, namespace: str | None, name: str, options: dict[str, Any],
                      sent: str) -> AsyncIterator[str]:
        """What the container writes after ``sent``, as it comes, until it stops running (then what it
        wrote last) or the client leaves. Follow polls the whole log and yields what is new."""
        container = options.get("container")
        while True:
            running = self._running(namespace, name, container)
            if running and (request.transport is None or request.transport.is_closing()):
                return
            await asyncio.sleep(FOLLOW_POLL_SECONDS)
            text = await asyncio.to_thread(self.api.pod_logs, namespace, name, **options)
            if text.startswith(sent) and len(text) > len(sent):
                yield text[len(sent):]
            sent = text
            if not running:   # stopped before that read: it had all the container will ever write
                return

    def _running(self, namespace: str | None, name: str, container: str | None) -> bool:
        try:
            pod = self.api.get(resources.by_plural("", "v1", "pods"), namespace, name)  # type: ignore[arg-type]
        except StatusError:
            return False
        status = pod.get("status") or {}
        statuses = [*(status.get("containerStatuses") or []), *(status.get("ephemeralContainerStatuses") or [])]
        chosen = [s for s in statuses if container in (None, s.get("name"))][:1]
        return bool(chosen) and "running" in (chosen[0].get("state") or {})

    async def _exec(self, request: web.Request, namespace: str | None, name: str) -> web.StreamResponse:
        """``kubectl exec``: a command started in the pod, its streams carried by
        :mod:`minik8s.apiserver.remotecommand` (WebSocket channels or SPDY streams)."""
        command = request.query.getall("command", [])
        container = request.query.get("container") or None

        async def start(channels: remotecommand.Channels) -> remotecommand.Session:
            stream = await asyncio.get_running_loop().run_in_executor(None, functools.partial(
                self.api.pod_exec_stream, namespace, name, container, command, stdin=channels.stdin, tty=channels.tty))
            return await remotecommand.session_of(stream, command, channels)

        return await remotecommand.serve(request, start)

    async def _attach(self, request: web.Request, namespace: str | None, name: str) -> web.StreamResponse:
        """``kubectl attach`` (and ``kubectl run -i``): the container's stdout and stderr as they are
        written, until the container stops, and the client's stdin to the container's (a container
        with ``stdin: true``). minik8s starts with what the container wrote before the client came
        (upstream streams from the moment of attaching)."""
        container = request.query.get("container") or None
        streams = {1: "stdout", 2: "stderr"}   # channel -> the log stream it carries
        first = {channel: self.api.pod_logs(namespace, name, container=container, stream=stream)
                 for channel, stream in streams.items()}   # a missing pod or container: an HTTP error

        async def output(channel: int) -> AsyncIterator[bytes]:
            if first[channel]:
                yield first[channel].encode()
            options = {"container": container, "stream": streams[channel]}
            async for more in self._follow(request, namespace, name, options, first[channel]):
                yield more.encode()

        async def start(channels: remotecommand.Channels) -> remotecommand.Session:
            stdin, resize = None, None
            if channels.stdin or channels.tty:
                with contextlib.suppress(StatusError):   # not running (any more): output only
                    stdin, resize = await asyncio.get_running_loop().run_in_executor(
                        None, self.api.pod_attach, namespace, name, container)
            wanted = {1: channels.stdout, 2: channels.stderr}
            outputs = {channel: output(channel) for channel in streams if wanted[channel]}
            return await remotecommand.attach_session(outputs, stdin, resize or (lambda w, h: None), channels)

        return await remotecommand.serve(request, start)

    async def _port_forward(self, request: web.Request, namespace: str | None, name: str) -> web.StreamResponse:
        """``kubectl port-forward`` (SPDY inside a WebSocket) and the clients' channel WebSocket:
        :mod:`minik8s.apiserver.portforward`."""
        self.api.get(resources.by_plural("", "v1", "pods"), namespace, name)  # type: ignore[arg-type]  # 404 first

        async def dial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await self.api.pod_port_forward(namespace, name, port)

        if request.headers.get("Upgrade", "").lower() == "spdy/3.1":
            return await self._spdy_upgrade(request, dial)
        tunnel = portforward.TUNNEL_PREFIX + portforward.SPDY_PROTOCOL
        ws = web.WebSocketResponse(protocols=(tunnel, *portforward.CHANNEL_PROTOCOLS))
        ready = ws.can_prepare(request)
        # A client that names no subprotocol gets the binary channels, as upstream's "" protocol; one that
        # names only protocols the server does not speak is refused.
        offered = request.headers.get("Sec-WebSocket-Protocol", "").strip()
        if not ready.ok or (ready.protocol is None and offered):
            raise errors.bad_request("Upgrade request required")
        ports: list[int] = []
        if ready.protocol != tunnel:
            words = [w for value in request.query.getall("ports", []) for w in value.split(",")]
            ports = [p for p in (portforward.parse_port(w.strip()) for w in words) if p is not None]
            if not words or len(ports) != len(words) or len(ports) > portforward.MAX_PORTS:
                raise errors.bad_request("query parameter \"ports\" must hold port numbers between 1 and 65535")
        await ws.prepare(request)
        if ready.protocol == tunnel:
            await portforward.serve_spdy(ws, dial)
        else:
            await portforward.serve_channels(ws, ports, dial)
        await ws.close()
        return ws

    async def _spdy_upgrade(self, request: web.Request, dial: portforward.Dial) -> web.StreamResponse:
        """A plain ``Upgrade: SPDY/3.1`` port-forward: the protocol is agreed through
        ``X-Stream-Protocol-Version``, then the connection carries SPDY frames."""
        offered = [v.strip() for value in request.headers.getall("X-Stream-Protocol-Version", [])
                   for v in value.split(",") if v.strip()]
        if offered and portforward.SPDY_PROTOCOL not in offered:
            raise StatusError(403, "Forbidden", f"unable to upgrade: unable to negotiate protocol: client supports "
                                                f"[{' '.join(offered)}], server supports [{portforward.SPDY_PROTOCOL}]")
        response = web.StreamResponse(status=101, headers={
            "Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": portforward.SPDY_PROTOCOL})
        response.force_close()
        await response.prepare(request)
        await portforward.serve_spdy_upgrade(request, response, dial)
        return response

    async def _list(self, request: web.Request, res: Resource, namespace: str | None) -> web.StreamResponse:
        """A LIST, read and written a slice at a time: the event loop serves other requests between slices,
        so however many objects a LIST returns, it never holds the loop for long."""
        q = request.query
        limit = max(_int_param(request, "limit") or 0, 0)  # upstream: zero or negative means no limit
        _int_param(request, "timeoutSeconds")  # a list answers at once; the value must still parse
        _check_list_options(request, watch=False)
        steps = self.api.list_steps(res, namespace, label_selector=q.get("labelSelector", ""),
                                    field_selector=q.get("fieldSelector", ""), limit=limit,
                                    continue_=q.get("continue", ""), resource_version=q.get("resourceVersion", ""),
                                    resource_version_match=q.get("resourceVersionMatch", ""))
        while True:
            try:
                next(steps)
            except StopIteration as done:
                items, parsed, meta = done.value
                break
            await asyncio.sleep(0)
        if _wants_table(request):
            rows: list[Any] = []
            table: dict[str, Any] = {}
            for start in range(0, len(items), TABLE_SLICE):
                if start:
                    await asyncio.sleep(0)
                objs = (parsed[start:start + TABLE_SLICE] if parsed is not None else
                        [orjson.loads(raw) for raw in items[start:start + TABLE_SLICE]])
                table = tables.to_table(res, objs, now=self._now(), include_object=_include_object(request),
                                        printer_columns=self.api.crds.printer_columns(res))
                rows += table["rows"]
            if not items:
                table = tables.to_table(res, [], now=self._now(), include_object=_include_object(request),
                                        printer_columns=self.api.crds.printer_columns(res))
            table["rows"] = rows
            table["metadata"] = meta
            return _json(table)
        # Splice the stored bytes straight into the list: no object is decoded or re-encoded.
        head = orjson.dumps({"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta})[:-1]
        if len(items) <= STREAM_LIST_ITEMS:
            return web.Response(body=head + b',"items":[' + b",".join(items) + b"]}",
                                content_type=JSON)
        response = web.StreamResponse(headers={"Content-Type": JSON})
        compressor = _gzipper() if _accepts_gzip(request) else None
        if compressor is not None:
            response.headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        await response.prepare(request)
        for start in range(0, len(items), STREAM_LIST_ITEMS):
            chunk = b",".join(items[start:start + STREAM_LIST_ITEMS])
            chunk = (head + b',"items":[' if not start else b",") + chunk
            if start + STREAM_LIST_ITEMS >= len(items):
                chunk += b"]}"
            if compressor is not None:
                chunk = await asyncio.to_thread(compressor.compress, chunk)
                if start + STREAM_LIST_ITEMS >= len(items):
                    chunk += compressor.flush()
            if chunk:
                await response.write(chunk)
        await response.write_eof()
        return response

    async def _watch(self, request: web.Request, route: _Route) -> web.StreamResponse:
        q = request.query
        res = route.resource
        namespace = route.namespace if res.namespaced else None
        label_selector = q.get("labelSelector", "")
        field_selector = q.get("fieldSelector", "")
        if route.name:  # watching one object is a watch with a name field selector
            name_selector = f"metadata.name={route.name}"
            field_selector = f"{field_selector},{name_selector}" if field_selector else name_selector
        timeout = _int_param(request, "timeoutSeconds")
        _int_param(request, "limit")  # ignored by a watch, but it must still parse
        _check_list_options(request, watch=True)
        parse_resource_version(q.get("resourceVersion", ""))
        loop = asyncio.get_running_loop()
        loop_thread = threading.get_ident()
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        bookmarks = _bool(q.get("allowWatchBookmarks"))
        send_initial = None if q.get("sendInitialEvents") is None else _bool(q.get("sendInitialEvents"))
        # The initial events (a watch from no resourceVersion lists first) may all wait at once; after them,
        # a client that falls WATCH_BUFFER events behind is dropped, as upstream closes an unresponsive watcher.
        allowance = WATCH_BUFFER
        registering, dropped = True, False
        table = _wants_table(request)
        idle = False   # the writer below waits on an empty queue, every earlier event sent
        last_revision = 0
        idle_since = loop.time()

        def put(event: dict[str, Any] | None) -> None:
            nonlocal allowance, dropped, last_revision, idle_since
            if dropped:
                return
            transport = request.transport
            if (idle and queue.empty() and event is not None and "raw" in event and not table and transport is not None
                    and not transport.is_closing() and not transport.get_write_buffer_size()):
                # The writer is idle and the connection drained: send the change from here, one chunk of the
                # chunked response, instead of waking the writer for it (a change told to 1,000 watchers is
                # then 1,000 sends, not 1,000 task switches as well).
                line = b'{"type":"' + event["type"].encode() + b'","object":' + event["raw"] + b"}\n"
                transport.write(b"%x\r\n%b\r\n" % (len(line), line))
                last_revision, idle_since = event["revision"], loop.time()
                return
            if registering:
                allowance += 1
            elif queue.qsize() >= allowance:
                dropped = True
                log.warning("closing the watch of %s by %s: it fell %d events behind", res.qualified,
                            request.remote, queue.qsize())
                while not queue.empty():   # what it would never read is freed now
                    queue.get_nowait()
                queue.put_nowait(None)
                if request.transport is not None:
                    request.transport.abort()   # a write waiting on the client gives up
                return
            queue.put_nowait(event)

        def deliver(event: dict[str, Any] | None) -> None:
            if threading.get_ident() == loop_thread:   # a write served on this loop: no hop needed
                put(event)
            else:
                loop.call_soon_threadsafe(put, event)

        def initial_events_end(revision: int) -> None:
            # the streaming list's end (what client-go's WatchList waits for): a BOOKMARK at the list's revision
            deliver(_bookmark(res, revision, initial_events_end=True))

        response = web.StreamResponse(headers={"Content-Type": JSON, "Transfer-Encoding": "chunked"})
        try:
            cancel = self.api.watch(res, namespace, deliver, resource_version=q.get("resourceVersion", ""),
                                    label_selector=label_selector, field_selector=field_selector,
                                    send_initial_events=send_initial, encoded=True,
                                    on_synced=initial_events_end if send_initial else None)
        except StatusError as err:
            if err.code != 410:
                raise
            # a watch from a compacted revision is a 200 stream with one ERROR event, as upstream answers
            await response.prepare(request)
            await response.write(orjson.dumps({"type": "ERROR", "object": err.status()}) + b"\n")
            return response
        finally:
            registering = False
        deadline = loop.time() + timeout if timeout and timeout > 0 else None

        def tick() -> None:
            # One timer per watch, not one per event: it wakes the writer every few seconds (or at the deadline)
            # to look at the connection and send bookmarks, however many events come between.
            nonlocal ticker
            if not dropped:
                queue.put_nowait(_TICK)
            poll = min(5.0, BOOKMARK_SECONDS) if bookmarks else 5.0
            ticker = loop.call_later(poll if deadline is None else max(0.0, min(poll, deadline - loop.time())), tick)

        ticker = loop.call_later(0, tick)
        try:
            await response.prepare(request)
            while True:
                idle = queue.empty()
                event = await queue.get()
                idle = False
                if event is None:   # dropped, or the resource stopped being served (its CRD was deleted)
                    break
                if event is _TICK:
                    if deadline is not None and loop.time() >= deadline:
                        break
                    if request.transport is None or request.transport.is_closing():
                        break
                    if bookmarks and last_revision and loop.time() - idle_since >= BOOKMARK_SECONDS:
                        await response.write(orjson.dumps(_bookmark(res, last_revision)) + b"\n")
                        idle_since = loop.time()
                    continue
                idle_since = loop.time()
                if "raw" in event:   # a change, its object's JSON encoded once for every watcher
                    last_revision = event["revision"]
                    if table:
                        obj = tables.to_table(res, [orjson.loads(event["raw"])], now=self._now(),
                                              include_object=_include_object(request),
                                              printer_columns=self.api.crds.printer_columns(res))
                        await response.write(orjson.dumps({"type": event["type"], "object": obj}) + b"\n")
                    else:
                        await response.write(b'{"type":"' + event["type"].encode() + b'","object":' + event["raw"]
                                             + b"}\n")
                    continue
                last_revision = int((event["object"].get("metadata") or {}).get("resourceVersion") or last_revision)
                if event["type"] == "BOOKMARK" and not bookmarks:
                    continue
                await response.write(orjson.dumps(event) + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            ticker.cancel()
            cancel()
        return response


_TICK: dict[str, Any] = {"type": "TICK"}   # the watch's own timer, in its queue: time to look around


def _bookmark(res: Resource, revision: int, initial_events_end: bool = False) -> dict[str, Any]:
    """A BOOKMARK event: an object of the watched kind that carries only a resourceVersion ("every change
    up to here has been sent"), annotated at the end of a streaming list's initial events."""
    metadata: dict[str, Any] = {"resourceVersion": str(revision)}
    if initial_events_end:
        metadata["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.api_version, "metadata": metadata}}


@web.middleware
async def _compress(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
    """gzip a whole response above upstream's threshold when the client accepts it (upstream's
    APIResponseCompression); streams (watch, logs, exec) and small answers go as they are."""
    response = await handler(request)
    if (isinstance(response, web.Response) and isinstance(response.body, bytes)
            and len(response.body) >= GZIP_THRESHOLD_BYTES and _accepts_gzip(request)):
        # at upstream's level, on a worker thread (zlib lets the event loop run meanwhile)
        response.body = await asyncio.to_thread(_gzip, response.body)
        response.headers["Content-Encoding"] = "gzip"
        response.headers["Vary"] = "Accept-Encoding"
    return response


def _accepts_gzip(request: web.Request) -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "").lower()


def _gzipper() -> Any:
    """A gzip stream at kube-apiserver's level (1: the least CPU for nearly the same size)."""
    return zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)


def _gzip(data: bytes) -> bytes:
    compressor = _gzipper()
    return bytes(compressor.compress(data) + compressor.flush())


def make_app(api: APIServer, policy: filters.Policy, hooks: dict[str, Hook] | None = None) -> web.Application:
    """The API server's HTTP application; every request first passes ``policy``'s filters."""
    app = web.Application(client_max_size=MAX_BODY_BYTES + 1024 * 1024,
                          middlewares=[*filters.middlewares(policy, api.authorizer), _compress])
    handler = _Handler(api, hooks or {})
    handler.aggregator.client_certificate = policy.proxy_client
    app.on_startup.append(handler.aggregator.start)
    app.on_cleanup.append(handler.aggregator.stop)
    app.router.add_get("/version", handler.version)
    app.router.add_get("/version/", handler.version)
    for probe in healthz.ENDPOINTS:
        app.router.add_get(f"/{probe}", handler.healthz)
        app.router.add_get(f"/{probe}/{{check}}", handler.healthz)
    app.router.add_get("/openapi/v2", handler.openapi_v2)
    app.router.add_get("/openapi/v3", handler.openapi)
    app.router.add_get("/openapi/v3/{tail:.*}", handler.openapi)
    # Discovery answers with or without a trailing slash, as upstream's does (kr8s asks for "/api/").
    for slash in ("", "/"):
        for prefix in ("/api", "/apis"):
            app.router.add_get(prefix + slash, handler.discovery)
        app.router.add_get(r"/api/{version:[^/]+}" + slash, handler.discovery)
        app.router.add_get(r"/apis/{group:[^/]+}" + slash, handler.discovery)
        app.router.add_get(r"/apis/{group:[^/]+}/{version:[^/]+}" + slash, handler.discovery)
    app.router.add_route("*", "/api/{tail:.+}", handler.resource)
    app.router.add_route("*", "/apis/{tail:.+}", handler.resource)
    app.router.add_route("*", "/{tail:.*}", handler.not_found)   # every other path: a Status, never plain text
    remotecommand.track(app)   # open exec and attach sessions end when the server stops
    return app
