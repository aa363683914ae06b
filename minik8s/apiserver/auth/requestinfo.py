"""What a request asks for, read from its method and path alone (upstream's RequestInfo).

Authorization decides on *attributes*, not on handlers: ``list pods in
namespace default``, ``create pods/exec``, ``get path /version``. kube-apiserver
reads them from the URL before any handler runs, and so does this module:

=========================================== ========================================
request                                      attributes
=========================================== ========================================
``GET /api/v1/namespaces/default/pods``      list, group "", pods, namespace default
``GET /api/v1/pods?watch=true``              watch, group "", pods, all namespaces
``POST /api/v1/namespaces/d/pods/p/exec``    create, pods/exec, name p
``DELETE /apis/apps/v1/namespaces/d/deployments`` deletecollection
``GET /version``                             non-resource, get, path /version
=========================================== ========================================

Interface: ``RequestInfo``; ``request_info(method, path, query) -> RequestInfo``;
``also_create(info) -> RequestInfo | None`` (a WebSocket's GET of ``pods/exec`` needs ``create`` too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping
from urllib.parse import unquote

_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class RequestInfo:
    path: str
    verb: str
    is_resource: bool = False
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


def _selected_name(field_selector: str) -> str:
    """``x`` when the selector requires ``metadata.name=x`` (or ``==x``), else ""."""
    for term in field_selector.split(","):
        key, sep, value = term.partition("=")
        value = value[1:] if value.startswith("=") else value
        if sep and key.strip() == "metadata.name" and not key.endswith("!") and value and "/" not in value \
                and value not in (".", ".."):
            return value.strip()
    return ""


# Subresources a WebSocket opens with a GET that acts like a POST: upstream (since v1.30, the
# AuthorizePodWebsocketUpgradeCreatePermission feature) also asks for ``create`` on them.
CONNECT_SUBRESOURCES = ("attach", "exec", "portforward")


def also_create(info: RequestInfo) -> RequestInfo | None:
    """For ``get pods/exec`` (a WebSocket's GET) the ``create pods/exec`` it must also be allowed."""
    if info.verb == "get" and info.api_group == "" and info.resource == "pods" \
            and info.subresource in CONNECT_SUBRESOURCES:
        return RequestInfo(info.path, "create", True, info.api_group, info.api_version, info.namespace,
                           info.resource, info.subresource, info.name)
    return None


def request_info(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return RequestInfo(path, method.lower())
    if not rest:  # /api/v1, /apis/apps/v1: discovery is a non-resource request
        return RequestInfo(path, method.lower())
    watch = rest[0] == "watch"
    if watch:
        rest = rest[1:]
    namespace = ""
    if len(rest) >= 2 and rest[0] == "namespaces":
        namespace = rest[1]
        # /namespaces/{name} and /namespaces/{name}/{status|finalize} are the namespace itself.
        rest = rest[2:] if len(rest) > 2 and rest[2] not in ("status", "finalize") else ["namespaces", *rest[1:]]
    # resource[/name[/subresource]] and nothing more, but a proxy's path (nodes/n/proxy/stats/summary)
    if not rest or (len(rest) > 3 and rest[2] != "proxy"):
        return RequestInfo(path, method.lower())
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if method == "GET":
        verb = "watch" if watch or query.get("watch", "").lower() in ("true", "1") else ("get" if name else "list")
        if watch and name:
            verb = "watch"
        if not name:
            # As upstream: a list or watch narrowed to one name by a field selector is about that object,
            # so a rule limited by resourceNames covers ``kubectl get pod web -w``.
            name = _selected_name(query.get("fieldSelector", ""))
    else:
        verb = _VERBS.get(method, method.lower())
        if verb == "delete" and not name:
            verb = "deletecollection"
    return RequestInfo(path, verb, True, group, version, namespace if resource != "namespaces" or name else "",
                       resource, subresource, name)
