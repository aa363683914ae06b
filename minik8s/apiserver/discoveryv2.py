"""Aggregated discovery (``apidiscovery.k8s.io/v2``): every group, version and resource in one answer.

Legacy discovery costs a client one request per group-version (``/api/v1``,
``/apis/apps/v1``...). Since Kubernetes 1.30, ``GET /api`` and ``GET /apis`` answer a
client that asks for it in its ``Accept`` header
(``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``, which the
real kubectl v1.32 lists first) with an ``APIGroupDiscoveryList``: groups → versions →
resources, each resource with its verbs, scope, singular, short names, categories,
``responseKind`` and subresources. A client that does not ask gets the legacy
``APIVersions`` / ``APIGroupList``. ``v2beta1`` has the same shape.

Interface:
    negotiate(accept) -> "v2" | "v2beta1" | None       # what the Accept header asks for, in its order
    content_type(version) -> str                       # the Content-Type of the answer
    discovery_list(version, core, served=RESOURCES, extra=()) -> dict
        # /api (core=True) or /apis: the served resources, plus ``extra`` groups that
        # aggregated API servers serve ((group, version, [APIResource entries]) triples)
    version_discovery(group, version, entries) -> dict  # one APIVersionDiscovery from APIResource entries

Invariant: built from the same ``APIResource`` entries as legacy discovery
(:func:`minik8s.apiserver.discovery.api_resources`), so both views always agree.
Taught in chapter 3 (kubectl and the API: discovery).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minik8s.api import resources
from minik8s.api.resources import Resource
from minik8s.apiserver import discovery

GROUP = "apidiscovery.k8s.io"
KIND = "APIGroupDiscoveryList"
VERSIONS = ("v2", "v2beta1")

Entries = list[dict[str, Any]]


def _media_params(part: str) -> tuple[str, dict[str, str]]:
    media, *params = (p.strip() for p in part.split(";"))
    parsed = {}
    for param in params:
        key, _, value = param.partition("=")
        parsed[key.strip().lower()] = value.strip()
    return media.lower(), parsed


def negotiate(accept: str) -> str | None:
    """The discovery version the first acceptable media type of ``accept`` asks for; None: legacy."""
    for part in accept.split(","):
        media, params = _media_params(part)
        if media not in ("application/json", "*/*", "application/*"):
            continue
        if params.get("g") == GROUP and params.get("as") == KIND and params.get("v") in VERSIONS:
            return params["v"]
        if "as" not in params and "g" not in params:
            return None   # plain JSON comes first: the legacy documents
    return None


def content_type(version: str) -> str:
    return f"application/json;g={GROUP};v={version};as={KIND}"


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def version_discovery(group: str, version: str, entries: Entries) -> dict[str, Any]:
    """One ``APIVersionDiscovery`` from a group-version's ``APIResource`` entries (subresources are
    the entries named ``<resource>/<subresource>``)."""
    found: dict[str, dict[str, Any]] = {}
    for entry in entries:
        name = str(entry.get("name", ""))
        parent, _, sub = name.partition("/")
        kind = _gvk(entry.get("group", group), entry.get("version", version), entry.get("kind", ""))
        if not sub:
            resource: dict[str, Any] = {
                "resource": name, "responseKind": kind,
                "scope": "Namespaced" if entry.get("namespaced") else "Cluster",
                "singularResource": entry.get("singularName", ""), "verbs": list(entry.get("verbs") or [])}
            for key in ("shortNames", "categories"):
                if entry.get(key):
                    resource[key] = list(entry[key])
            found[name] = resource
        elif parent in found:
            found[parent].setdefault("subresources", []).append(
                {"subresource": sub, "responseKind": kind, "verbs": list(entry.get("verbs") or [])})
    return {"version": version, "resources": list(found.values()), "freshness": "Current"}


def _served(served: Iterable[Resource]) -> dict[tuple[str, str], Entries]:
    """APIResource entries by (group, version), in the order of ``served``."""
    by_gv: dict[tuple[str, str], Entries] = {}
    for res in served:
        by_gv.setdefault((res.group, res.version), []).extend(discovery.api_resources(res))
    return by_gv


def discovery_list(version: str, core: bool, served: Iterable[Resource] = resources.RESOURCES,
                   extra: Iterable[tuple[str, str, Entries]] = ()) -> dict[str, Any]:
    """The ``APIGroupDiscoveryList`` of ``/api`` (``core``) or ``/apis``."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for (group, ver), entries in [*_served(served).items(), *(((g, v), e) for g, v, e in extra)]:
        if bool(group) != (not core):
            continue
        versions = groups.setdefault(group, [])
        if not any(v["version"] == ver for v in versions):
            versions.append(version_discovery(group, ver, entries))
    items = []
    for group, versions in groups.items():
        metadata: dict[str, Any] = {"name": group, "creationTimestamp": None} if group else {"creationTimestamp": None}
        items.append({"metadata": metadata, "versions": versions})
    return {"kind": KIND, "apiVersion": f"{GROUP}/{version}", "metadata": {}, "items": items}
