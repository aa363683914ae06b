"""The discovery client: the resources a server serves, read from its discovery documents.

A client knows the built-in kinds without asking; the rest (custom resources, added by
CustomResourceDefinitions) it learns as client-go's discovery client does: ``GET /apis`` lists the
groups and versions, ``GET /apis/<group>/<version>`` the resources of each. kubectl's REST mapper
and the namespace controller (which must empty a namespace of custom objects too) use it.

Interface: ``discover(client) -> Registry`` (the built-ins plus every resource of the groups that
are not built in; a group the server fails to describe is skipped).

Taught in the reference page on custom resources (docs/reference/custom-resources.md).
"""

from __future__ import annotations

import json
from typing import Any

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource


def _get(client: Any, path: str) -> dict[str, Any]:
    try:
        data = json.loads(client.request("GET", path))
    except (StatusError, NotImplementedError, ValueError, ConnectionError):
        return {}
    return data if isinstance(data, dict) else {}


def discover(client: Any) -> resources.Registry:
    """The built-ins plus every resource the server's discovery lists in groups that are not built in."""
    registry = resources.Registry()
    builtin_groups = set(resources.groups())
    for group in _get(client, "/apis").get("groups") or []:
        for version in group.get("versions") or []:
            name, ver = group.get("name", ""), version.get("version", "")
            if (name, ver) in builtin_groups:
                continue
            listed = _get(client, f"/apis/{name}/{ver}").get("resources") or []
            subresources: dict[str, list[str]] = {}
            for entry in listed:
                parent, _, sub = str(entry.get("name", "")).partition("/")
                if sub:
                    subresources.setdefault(parent, []).append(sub)
            for entry in listed:
                if "/" in str(entry.get("name", "")) or not entry.get("kind"):
                    continue
                registry.register(Resource(
                    name, ver, entry["kind"], entry["name"], namespaced=bool(entry.get("namespaced")),
                    short_names=tuple(entry.get("shortNames") or ()),
                    subresources=tuple(sorted(subresources.get(entry["name"], ()))),
                    categories=tuple(entry.get("categories") or ()),
                    verbs=tuple(entry.get("verbs") or resources.ALL_VERBS),
                    singular=entry.get("singularName") or entry["kind"].lower()))
    return registry
