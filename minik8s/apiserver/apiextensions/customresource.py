"""Custom objects: the storage strategy of one served version of a CustomResourceDefinition.

Built-in kinds have their rules in :mod:`minik8s.apiserver.strategy`; a custom resource's come
from its CRD, and this module turns one version of a CRD into the same hooks, as upstream's
``customresource`` strategy does:

* **versions**: objects are stored in the CRD's storage version and served in every version
  marked ``served`` (conversion strategy ``None``: only ``apiVersion`` is rewritten);
* **schema**: unknown fields pruned, defaults applied on write and on read, the object validated
  against the version's structural schema (:mod:`.structural`);
* **status subresource**: ``status`` is dropped on create and ignored on writes to the main
  resource, everything but ``status`` ignored on ``/status``; ``metadata.generation`` starts at 1
  and grows when anything but ``metadata`` and ``status`` changes;
* **scale subresource**: an ``autoscaling/v1`` Scale read from and written to the JSON paths the
  CRD names (``specReplicasPath``, ``statusReplicasPath``, ``labelSelectorPath``).

Interface:
    served_versions(crd) -> list[Served]          # one per served version of a stored CRD
    Served.resource / .prepare_for_create / .prepare_for_update / .prepare_for_status_update
    Served.prune(obj) / .default(obj) / .validate(obj, old) / .to_storage(obj) / .to_version(obj)
                                                  # validate: the schema, then its CEL rules (.cel)
    Served.scale(obj) / .set_replicas(obj, replicas) / .columns

Taught in the reference page on custom resources (docs/reference/custom-resources.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minik8s.api.errors import FieldError
from minik8s.api.objects import deep_copy
from minik8s.api.resources import Resource
from minik8s.api.validation.meta import validate_object_meta, validate_object_meta_update
from minik8s.api.validation.names import is_dns1123_subdomain
from minik8s.apiserver import discovery
from minik8s.apiserver.apiextensions import cel, structural


@dataclass(frozen=True)
class Served:
    """One served version of a CRD, and everything the API server needs to handle its objects."""

    resource: Resource
    storage_version: str
    schema: dict[str, Any] = field(compare=False)
    status: bool = False
    scale_paths: dict[str, str] | None = field(default=None, compare=False)
    columns: tuple[dict[str, Any], ...] = field(default=(), compare=False)
    crd_name: str = ""
    terminating: bool = field(default=False, compare=False)   # the CRD is being deleted: no creates

    @property
    def storage_api_version(self) -> str:
        return f"{self.resource.group}/{self.storage_version}"

    # --- versions (conversion strategy None) ---

    def to_storage(self, obj: dict[str, Any]) -> dict[str, Any]:
        if obj.get("apiVersion") == self.storage_api_version:
            return obj
        return {**obj, "apiVersion": self.storage_api_version}

    def to_version(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A stored object as this version serves it: its apiVersion, pruned and defaulted by this version's
        schema (which may have changed since the object was written), as upstream reads from storage."""
        out = deep_copy(obj)
        out["apiVersion"] = self.resource.api_version
        structural.prune(out, self.schema)
        structural.default(out, self.schema)
        return out

    # --- decoding, defaulting, validation ---

    def prune(self, obj: dict[str, Any]) -> list[str]:
        return structural.prune(obj, self.schema)

    def default(self, obj: dict[str, Any]) -> dict[str, Any]:
        structural.default(obj, self.schema)
        return obj

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        errs = validate_object_meta(obj.get("metadata"), self.resource.namespaced, is_dns1123_subdomain)
        if old is not None:
            errs += validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        errs += structural.validate(obj, self.schema)
        # CEL rules read typed values: they run once the object has the shape its schema declares
        return errs or cel.validate(obj, old, self.schema)

    # --- the strategy (same hooks as minik8s.apiserver.strategy) ---

    def prepare_for_create(self, resource: Resource, obj: dict[str, Any]) -> None:
        if self.status:
            obj.pop("status", None)
        obj["metadata"]["generation"] = 1

    def prepare_for_update(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any]) -> None:
        if self.status:
            if "status" in old:
                obj["status"] = deep_copy(old["status"])
            else:
                obj.pop("status", None)
        generation = old["metadata"].get("generation", 1)
        ignored = ("metadata", "status") if self.status else ("metadata",)
        if _without(obj, ignored) != _without(old, ignored):
            generation += 1
        obj["metadata"]["generation"] = generation

    def prepare_for_status_update(self, resource: Resource, obj: dict[str, Any],
                                  old: dict[str, Any]) -> dict[str, Any]:
        new = deep_copy(old)
        if "status" in obj:
            new["status"] = deep_copy(obj["status"])
        else:
            new.pop("status", None)
        meta = obj.get("metadata") or {}
        if "resourceVersion" in meta:
            new["metadata"]["resourceVersion"] = meta["resourceVersion"]
        return new

    # --- the scale subresource ---

    def scale(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The autoscaling/v1 Scale of a custom object, read through the CRD's JSON paths."""
        paths = self.scale_paths or {}
        meta = obj["metadata"]
        status: dict[str, Any] = {"replicas": _int(get_path(obj, paths.get("statusReplicasPath", "")))}
        selector = get_path(obj, paths.get("labelSelectorPath", ""))
        if isinstance(selector, str) and selector:
            status["selector"] = selector
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": _int(get_path(obj, paths.get("specReplicasPath", "")))},
            "status": status,
        }

    def set_replicas(self, obj: dict[str, Any], replicas: int) -> None:
        set_path(obj, (self.scale_paths or {}).get("specReplicasPath", ".spec.replicas"), replicas)


def _without(obj: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _steps(path: str) -> list[str]:
    """``.spec.replicas`` -> ["spec", "replicas"] (the simple JSON paths a CRD's scale paths are)."""
    return [p for p in path.strip().lstrip(".").split(".") if p]


def get_path(obj: Any, path: str) -> Any:
    for step in _steps(path):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(step)
    return obj


def set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = _steps(path)
    for step in parents:
        child = obj.get(step)
        if not isinstance(child, dict):
            child = obj[step] = {}
        obj = child
    obj[last] = value


def published(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema as OpenAPI publishes it (``kubectl explain``): with ``apiVersion``, ``kind`` and ``metadata``
    (a reference to ObjectMeta) described as for every kind, as upstream publishes a CRD's."""
    common = discovery.definitions()["io.k8s.api.core.v1.ConfigMap"]["properties"]
    properties = {k: common[k] for k in ("apiVersion", "kind", "metadata")}
    return {**schema, "properties": {**properties, **(schema.get("properties") or {})}}


def served_versions(crd: dict[str, Any]) -> list[Served]:
    """One :class:`Served` per version of ``crd`` marked ``served`` (its accepted names; no versions once
    while its names are not accepted; marked ``terminating`` while the CRD is being deleted)."""
    spec = crd.get("spec") or {}
    status = crd.get("status") or {}
    names = status.get("acceptedNames") or {}
    if not names.get("plural"):
        return []
    if not any(c.get("type") == "Established" and c.get("status") == "True" for c in status.get("conditions") or []):
        return []
    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict)]
    storage = next((v["name"] for v in versions if v.get("storage")), "")
    out = []
    for version in versions:
        if not version.get("served"):
            continue
        subresources = version.get("subresources") or {}
        subs = tuple(s for s in ("scale", "status") if isinstance(subresources.get(s), dict))
        schema = (version.get("schema") or {}).get("openAPIV3Schema") or {"type": "object"}
        resource = Resource(spec["group"], version["name"], names["kind"], names["plural"],
                            namespaced=spec.get("scope") == "Namespaced",
                            short_names=tuple(names.get("shortNames") or ()), subresources=subs,
                            categories=tuple(names.get("categories") or ()),
                            singular=names.get("singular") or names["kind"].lower(), schema=published(schema))
        out.append(Served(resource, storage, schema, "status" in subs,
                          subresources.get("scale") if "scale" in subs else None,
                          tuple(version.get("additionalPrinterColumns") or ()), crd["metadata"]["name"],
                          bool(crd["metadata"].get("deletionTimestamp"))))
    return out
