"""Discovery and OpenAPI documents: how clients learn what the server serves.

Before it does anything, kubectl asks the server which API groups, versions and
resources exist (``/api``, ``/apis``, ``/api/v1``, ``/apis/apps/v1``) so that it
can turn ``deploy`` into ``/apis/apps/v1/namespaces/default/deployments``.
It also reads ``/openapi/v3`` to learn that the server validates fields itself
(the ``fieldValidation`` query parameter), so it can leave validation to us.

Interface: ``version()``, ``api_versions()``, ``api_group_list()``, ``api_group(group)``,
``resource_list(group, version)``, ``openapi_index()``, ``openapi_document(group, version)``.
All return plain JSON-ready dicts.
"""

from __future__ import annotations

import hashlib
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


def _group(group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{g}/{v}", "version": v} for g, v in resources.groups() if g == group]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list() -> dict[str, Any]:
    names: list[str] = []
    for group, _ in resources.groups():
        if group and group not in names:
            names.append(group)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in names]}


def api_group(group: str) -> dict[str, Any] | None:
    if not any(g == group for g, _ in resources.groups()) or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group)}


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


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    served = [r for r in resources.RESOURCES if r.group == group and r.version == version]
    if not served:
        return None
    entries = []
    for res in served:
        entries.append(_entry(res))
        entries.extend(_sub_entry(res, sub) for sub in res.subresources)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}


# --- OpenAPI v3 --------------------------------------------------------------------------


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def openapi_index() -> dict[str, Any]:
    paths = {}
    for group, ver in resources.groups():
        digest = hashlib.sha256(_gv_path(group, ver).encode()).hexdigest()[:32].upper()
        paths[_gv_path(group, ver)] = {"serverRelativeURL": f"/openapi/v3/{_gv_path(group, ver)}?hash={digest}"}
    return {"paths": paths}


def openapi_document(group: str, version: str) -> dict[str, Any] | None:
    """A small OpenAPI v3 document: each resource's item path with a PATCH operation that
    declares ``fieldValidation``. That is what kubectl checks before it hands field
    validation to the server instead of validating against a full schema itself."""
    served = [r for r in resources.RESOURCES if r.group == group and r.version == version]
    if not served:
        return None
    paths: dict[str, Any] = {}
    for res in served:
        gvk = {"group": res.group, "version": res.version, "kind": res.kind}
        item = res.path("{namespace}", "{name}")
        params = [{"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                  {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}}]
        operation = {"operationId": f"patch{res.kind}", "parameters": params,
                     "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk,
                     "responses": {"200": {"description": "OK"}}}
        collection = res.path("{namespace}")
        create = {"operationId": f"create{res.kind}", "parameters": params, "x-kubernetes-action": "post",
                  "x-kubernetes-group-version-kind": gvk, "responses": {"201": {"description": "Created"}}}
        paths["/" + item.lstrip("/")] = {"patch": operation, "put": {**operation, "x-kubernetes-action": "put"}}
        paths["/" + collection.lstrip("/")] = {"post": create}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
            "paths": paths, "components": {"schemas": {}}}
