"""Discovery and OpenAPI documents: how clients learn what the server serves.

Before it does anything, kubectl asks the server which API groups, versions and
resources exist (``/api``, ``/apis``, ``/api/v1``, ``/apis/apps/v1``) so that it
can turn ``deploy`` into ``/apis/apps/v1/namespaces/default/deployments``.
It also reads ``/openapi/v3`` to learn that the server validates fields itself
(the ``fieldValidation`` query parameter), so it can leave validation to us.

Interface: ``version()``, ``api_versions()``, ``api_group_list()``, ``api_group(group)``,
``resource_list(group, version)``, ``openapi_index()``, ``openapi_document(group, version)``,
``openapi_v2()`` (Swagger 2.0; ``openapi_v2_json()`` and ``openapi_v2_protobuf()`` are its two encodings).
All return plain JSON-ready dicts. Each takes an optional last argument ``registry``: the
:class:`minik8s.api.resources.Registry` of the API server asking (its built-ins and custom
resources); the default is the built-in resources. Documents are cached per
(registry, registry.generation).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re
from importlib.resources import files as resources_files
from typing import Any

from minik8s.api import resources
from minik8s.api.resources import Resource

# The Kubernetes version whose API and behaviour minik8s follows.
KUBERNETES_VERSION = "v1.32.0"
GIT_VERSION = KUBERNETES_VERSION + "+minik8s"

# Verbs and kinds of the subresources, as upstream's discovery lists them.
_SUBRESOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    # name: (group, version, kind, verbs); "" group/version = same as the parent
    "status": ("", "", "", ("get", "patch", "update")),
    "ephemeralcontainers": ("", "", "", ("get", "patch", "update")),
    "scale": ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    "binding": ("", "", "Binding", ("create",)),
    "eviction": ("policy", "v1", "Eviction", ("create",)),
    "log": ("", "", "Pod", ("get",)),
    "exec": ("", "", "PodExecOptions", ("create", "get")),
    "attach": ("", "", "PodAttachOptions", ("create", "get")),
    "portforward": ("", "", "PodPortForwardOptions", ("create", "get")),
    "proxy": ("", "", "", ("create", "delete", "get", "patch", "update")),
    "finalize": ("", "", "Namespace", ("update",)),
    "token": ("authentication.k8s.io", "v1", "TokenRequest", ("create",)),
}


def version() -> dict[str, str]:
    major, minor, _ = KUBERNETES_VERSION.lstrip("v").split(".")
    return {
        "major": major, "minor": minor, "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z", "goVersion": "python3", "compiler": "cpython",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def _group(group: str, registry: resources.Registry) -> dict[str, Any]:
    versions = [{"groupVersion": f"{g}/{v}", "version": v} for g, v in registry.groups() if g == group]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(registry: resources.Registry = resources.BUILTIN) -> dict[str, Any]:
    names: list[str] = []
    for group, _ in registry.groups():
        if group and group not in names:
            names.append(group)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g, registry) for g in names]}


def api_group(group: str, registry: resources.Registry = resources.BUILTIN) -> dict[str, Any] | None:
    if not any(g == group for g, _ in registry.groups()) or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, registry)}


def _entry(res: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": res.plural, "singularName": res.name, "namespaced": res.namespaced, "kind": res.kind,
        "verbs": list(res.verbs),
        "storageVersionHash": hashlib.sha256(f"{res.api_version}/{res.kind}".encode()).hexdigest()[:12],
    }
    if res.short_names:
        entry["shortNames"] = list(res.short_names)
    if res.categories:
        entry["categories"] = list(res.categories)
    return entry


def _sub_entry(res: Resource, sub: str) -> dict[str, Any]:
    group, ver, kind, verbs = _SUBRESOURCES.get(sub, ("", "", "", ("get",)))
    entry: dict[str, Any] = {"name": f"{res.plural}/{sub}", "singularName": "", "namespaced": res.namespaced,
                             "kind": kind or res.kind, "verbs": list(verbs)}
    if group:
        entry["group"] = group
        entry["version"] = ver
    return entry


def api_resources(res: Resource) -> list[dict[str, Any]]:
    """The ``APIResource`` entries of one resource: itself, then each subresource (``pods/log``...)."""
    return [_entry(res), *(_sub_entry(res, sub) for sub in res.subresources)]


def resource_list(group: str, version: str, registry: resources.Registry = resources.BUILTIN
                  ) -> dict[str, Any] | None:
    served = [r for r in registry if r.group == group and r.version == version]
    if not served:
        return None
    entries = [entry for res in served for entry in api_resources(res)]
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}


# --- OpenAPI v3 --------------------------------------------------------------------------


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_index(registry: resources.Registry = resources.BUILTIN) -> dict[str, Any]:
    """``/openapi/v3``: one entry per group-version, whose ``hash`` changes when its document does."""
    paths = {}
    for group, ver in registry.groups():
        digest = _openapi_digest(registry, group, ver, registry.generation)
        paths[_gv_path(group, ver)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(group, ver)}?hash={digest}"}
    return {"paths": paths}


@functools.cache
def definitions() -> dict[str, Any]:
    """Upstream v1.32's OpenAPI v3 schemas of the served kinds, by definition name
    (``io.k8s.api.core.v1.Pod``), generated by ``tools/gen_openapi.py``."""
    raw = resources_files("minik8s.api").joinpath("openapi_definitions.json.gz").read_bytes()
    return json.loads(gzip.decompress(raw))


def references(node: Any) -> set[str]:
    """The names of the definitions a schema refers to (the last part of each ``$ref``)."""
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(references(v) for k, v in node.items() if k != "$ref"))
    if isinstance(node, list):
        return set().union(*(references(item) for item in node))
    return set()


def with_references(defs: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """The named definitions of ``defs`` and every definition they reference, transitively, by name."""
    kept: dict[str, Any] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in kept or name not in defs:
            continue
        kept[name] = defs[name]
        todo.extend(references(defs[name]))
    return dict(sorted(kept.items()))


def by_group_version_kind(defs: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """Each definition's name under the (group, version, kind) its ``x-kubernetes-group-version-kind`` gives."""
    return {(g["group"], g["version"], g["kind"]): name for name, schema in defs.items()
            for g in schema.get("x-kubernetes-group-version-kind", [])}


@functools.cache
def _definition_names() -> dict[tuple[str, str, str], str]:
    return by_group_version_kind(definitions())


_PATH_PARAMETERS = {
    "name": {"name": "name", "in": "path", "description": "name of the object", "required": True,
             "schema": {"type": "string", "uniqueItems": True}},
    "namespace": {"name": "namespace", "in": "path", "description": "object name and auth scope, such as for "
                  "teams and projects", "required": True, "schema": {"type": "string", "uniqueItems": True}},
}


def _query(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _path_item(path: str) -> dict[str, Any]:
    """An OpenAPI path item whose ``{name}``/``{namespace}`` parameters are declared, as upstream's are."""
    declared = [_PATH_PARAMETERS[p] for p in ("name", "namespace") if "{" + p + "}" in path]
    return {"parameters": declared} if declared else {}


def openapi_document(group: str, version: str, registry: resources.Registry = resources.BUILTIN
                     ) -> dict[str, Any] | None:
    """The OpenAPI v3 document of one group-version (see :func:`openapi_document_json`), parsed."""
    raw = openapi_document_json(group, version, registry)
    return json.loads(raw) if raw is not None else None


def openapi_document_json(group: str, version: str, registry: resources.Registry = resources.BUILTIN
                          ) -> bytes | None:
    """The OpenAPI v3 document of one group-version, as served: each resource's paths (with their path
    parameters and the ``fieldValidation`` and ``dryRun`` query parameters that tell kubectl the server
    validates fields itself) and, under ``components.schemas``, upstream's schemas of its kinds, which
    ``kubectl explain`` reads. A custom resource (a ``Resource`` with a ``schema``) publishes its own.
    Built once per registry generation; None for a group-version that is not served."""
    return _openapi_bytes(registry, group, version, registry.generation) or None


# The caches key on (registry, generation): a registry's documents change only when its generation does.
@functools.lru_cache(maxsize=64)
def _openapi_digest(registry: resources.Registry, group: str, version: str, generation: int) -> str:
    return hashlib.sha512(_openapi_bytes(registry, group, version, generation)).hexdigest()[:32].upper()


@functools.lru_cache(maxsize=64)
def _openapi_bytes(registry: resources.Registry, group: str, version: str, generation: int) -> bytes:
    served = [r for r in registry if r.group == group and r.version == version]
    if not served:
        return b""
    paths: dict[str, Any] = {}
    names: set[str] = set()
    custom: dict[str, Any] = {}
    for res in served:
        gvk = {"group": res.group, "version": res.version, "kind": res.kind}
        schema_ref: dict[str, Any] = {}
        own = getattr(res, "schema", None)
        if own is not None:   # a custom resource: named by its reversed group, as upstream names CRDs'
            name = ".".join(reversed(res.group.split("."))) + f".{res.version}.{res.kind}"
            custom[name] = {**own, "x-kubernetes-group-version-kind": [gvk]}
            names |= references(own)   # e.g. ObjectMeta, which its metadata refers to
            schema_ref = {"$ref": f"#/components/schemas/{name}"}
        else:
            defined = _definition_names().get((res.group, res.version, res.kind))
            if defined is not None:
                names.add(defined)
                schema_ref = {"$ref": f"#/components/schemas/{defined}"}
                listed = _definition_names().get((res.group, res.version, res.kind + "List"))
                if listed is not None:
                    names.add(listed)
        body = {"content": {"application/json": {"schema": schema_ref}}} if schema_ref else {}
        params = [_query("fieldValidation"), _query("dryRun"), _query("fieldManager")]
        item = "/" + res.path("{namespace}", "{name}").lstrip("/")
        collection = "/" + res.path("{namespace}").lstrip("/")
        ok = {"200": {"description": "OK", **body}}
        common = {"x-kubernetes-group-version-kind": gvk}
        paths[item] = {
            **_path_item(item),
            "get": {"operationId": _operation_id("read", res), "x-kubernetes-action": "get", "responses": ok,
                    **common},
            "put": {"operationId": _operation_id("replace", res), "parameters": params, "x-kubernetes-action": "put",
                    "requestBody": body or {"content": {}}, "responses": ok, **common},
            "patch": {"operationId": _operation_id("patch", res), "parameters": params,
                      "x-kubernetes-action": "patch", "responses": ok, **common},
            "delete": {"operationId": _operation_id("delete", res), "parameters": [_query("dryRun")],
                       "x-kubernetes-action": "delete", "responses": {"200": {"description": "OK"}}, **common},
        }
        paths[collection] = {
            **_path_item(collection),
            "get": {"operationId": _operation_id("list", res),
                    "parameters": [_query("labelSelector"), _query("fieldSelector")],
                    "x-kubernetes-action": "list", "responses": {"200": {"description": "OK"}}, **common},
            "post": {"operationId": _operation_id("create", res), "parameters": params, "x-kubernetes-action": "post",
                     "requestBody": body or {"content": {}}, "responses": {"201": {"description": "Created", **body}},
                     **common},
        }
    schemas = {**with_references(definitions(), names), **custom}
    document = {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
                "paths": paths, "components": {"schemas": schemas}}
    return json.dumps(document, separators=(",", ":")).encode()


def _operation_id(verb: str, res: Resource) -> str:
    """Upstream's operation IDs, unique across groups (two groups serve an ``Event``): the verb, the group
    in camel case without ``.k8s.io``, the version, ``Namespaced`` for a namespaced resource, the kind:
    ``readCoreV1NamespacedPod``, ``listEventsV1NamespacedEvent``, ``createRbacAuthorizationV1ClusterRole``."""
    group = res.group.removesuffix(".k8s.io") or "core"
    words = "".join(w[:1].upper() + w[1:] for w in re.split(r"[.\-]", group))
    return f"{verb}{words}{res.version.capitalize()}{'Namespaced' if res.namespaced else ''}{res.kind}"


def openapi_v2(registry: resources.Registry = resources.BUILTIN) -> dict[str, Any]:
    """``/openapi/v2`` (see :func:`openapi_v2_json`), parsed."""
    return json.loads(openapi_v2_json(registry))


def openapi_v2_json(registry: resources.Registry = resources.BUILTIN) -> bytes:
    """``/openapi/v2`` as served: the same paths and schemas as one Swagger 2.0 document
    (``definitions``, body parameters), as older clients read it."""
    return _openapi_v2_bytes(registry, registry.generation)


@functools.lru_cache(maxsize=4)
def _openapi_v2_bytes(registry: resources.Registry, generation: int) -> bytes:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for group, version in registry.groups():
        doc = json.loads(_openapi_bytes(registry, group, version, generation).replace(b"#/components/schemas/",
                                                                             b"#/definitions/"))
        schemas.update(doc["components"]["schemas"])
        for path, item in doc["paths"].items():
            paths[path] = {verb: _v2_operation(op) if isinstance(op, dict) else [_v2_parameter(p) for p in op]
                           for verb, op in item.items()}
    document = {"swagger": "2.0", "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
                "paths": paths, "definitions": dict(sorted(schemas.items()))}
    return json.dumps(document, separators=(",", ":")).encode()


# /openapi/v2 in protobuf: the media type of the answer. Clients ask for it by this name or by its older one, with
# an "@" (client-go's discovery still sends that), which Go's mime parser rejects in a Content-Type.
OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
OPENAPI_V2_PROTOBUF_NAMES = (OPENAPI_V2_PROTOBUF, "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")


def openapi_v2_protobuf(registry: resources.Registry = resources.BUILTIN) -> bytes:
    """``/openapi/v2`` as protobuf: the document of :func:`openapi_v2_json` as gnostic's ``openapi.v2.Document``
    (see :mod:`minik8s.apiserver.openapiproto`), which kubectl reads to validate a ``kind: List`` itself.
    Built once per registry generation, as the JSON is."""
    return _openapi_v2_protobuf(registry, registry.generation)


@functools.lru_cache(maxsize=4)
def _openapi_v2_protobuf(registry: resources.Registry, generation: int) -> bytes:
    # Imported when first asked for: the message types and the protobuf runtime are about 6 MiB of memory that
    # a server no kubectl has asked to validate a List never needs.
    from minik8s.apiserver import openapiproto

    return openapiproto.encode(json.loads(_openapi_v2_bytes(registry, generation)))


def _v2_parameter(parameter: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in parameter.items() if k != "schema"}
    return {**flat, **parameter.get("schema", {})}


def _v2_operation(operation: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in operation.items() if k not in ("requestBody", "responses", "parameters")}
    parameters = [_v2_parameter(p) for p in operation.get("parameters", [])]
    body = ((operation.get("requestBody") or {}).get("content") or {}).get("application/json")
    if body and body.get("schema"):
        parameters.append({"name": "body", "in": "body", "required": True, "schema": body["schema"]})
    if parameters:
        out["parameters"] = parameters
    out["responses"] = {}
    for code, response in operation.get("responses", {}).items():
        schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
        out["responses"][code] = {"description": response.get("description", ""), **({"schema": schema} if schema else {})}
    return out

