"""Validation of a CustomResourceDefinition (apiextensions.k8s.io/v1), as upstream's apiextensions-apiserver.

A CRD names a new resource (``spec.names``), the group that serves it, its scope and its versions;
each version carries an OpenAPI v3 schema that must be *structural*: every field says its type, so
that the server can prune, default and validate custom objects without guessing.

Interface:
    validate_crd(obj) -> list[FieldError]   # the 422 causes, worded and ordered as upstream
    structural_errors(schema, path) -> list[FieldError]

Invariants: never raises on any JSON value, never modifies its input.

Taught in the reference page on custom resources (docs/reference/custom-resources.md).
"""

from __future__ import annotations

import copy
from typing import Any

from minik8s.api.errors import FieldError, duplicate, forbidden_field, invalid_value, not_supported, required
from minik8s.api.validation.names import is_dns1035_label, is_dns1123_subdomain
from minik8s.apiserver.apiextensions import cel, structural

Errors = list[FieldError]
MIXED_CASE = "may have mixed case, but should otherwise match: "


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _label(value: Any, path: str, prefix: str = "") -> Errors:
    errs = is_dns1035_label(str(value).lower() if prefix else str(value))
    return [invalid_value(path, value, prefix + ",".join(errs))] if value and errs else []


def validate_names(names: dict[str, Any], path: str) -> Errors:
    """``spec.names``: plural and kind required; every name a DNS-1035 label (kinds may have mixed case)."""
    errs: Errors = []
    plural, kind, list_kind = names.get("plural", ""), names.get("kind", ""), names.get("listKind", "")
    errs += _label(plural, f"{path}.plural")
    if not plural:
        errs.append(required(f"{path}.plural"))
    errs += _label(names.get("singular", ""), f"{path}.singular")
    errs += _label(kind, f"{path}.kind", MIXED_CASE)
    if not kind:
        errs.append(required(f"{path}.kind"))
    errs += _label(list_kind, f"{path}.listKind", MIXED_CASE)
    if kind and list_kind and kind == list_kind:
        errs.append(invalid_value(f"{path}.listKind", list_kind, "kind and listKind may not be the same"))
    for field in ("shortNames", "categories"):
        for i, value in enumerate(names.get(field) or []):
            errs += _label(value, f"{path}.{field}[{i}]")
    return errs


def structural_errors(schema: Any, path: str, root: bool = True) -> Errors:
    """The structural-schema rules: a type everywhere (except under int-or-string or preserve-unknown)."""
    schema = _dict(schema)
    errs: Errors = []
    preserve = schema.get("x-kubernetes-preserve-unknown-fields")
    if preserve is False:
        errs.append(invalid_value(f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"))
    int_or_string = schema.get("x-kubernetes-int-or-string") is True
    if int_or_string and schema.get("type"):
        errs.append(invalid_value(f"{path}.type", schema["type"],
                                  "must be empty if x-kubernetes-int-or-string is true"))
    if schema.get("x-kubernetes-embedded-resource") is True and schema.get("type") != "object":
        errs.append(invalid_value(f"{path}.type", schema.get("type", ""),
                                  "must be object if x-kubernetes-embedded-resource is true"))
    if root and schema.get("type") != "object":
        errs.append(required(f"{path}.type", "must not be empty at the root") if not schema.get("type")
                    else invalid_value(f"{path}.type", schema["type"], "must be object at the root"))
    if isinstance(schema.get("additionalProperties"), dict) and schema.get("properties"):
        errs.append(forbidden_field(f"{path}.additionalProperties",
                                    "additionalProperties and properties are mutual exclusive"))
    if schema.get("uniqueItems") is True:
        errs.append(forbidden_field(f"{path}.uniqueItems", "uniqueItems cannot be set to true since the runtime "
                                                           "complexity becomes quadratic"))
    if root:
        metadata = _dict(_dict(schema.get("properties")).get("metadata"))
        if set(metadata) - {"type", "properties"} or set(_dict(metadata.get("properties"))) - {"name", "generateName"}:
            errs.append(forbidden_field(f"{path}.properties[metadata]", "must not specify anything other than name "
                                        "and generateName, but metadata is implicitly specified"))
    if "default" in schema:
        errs += _default_errors(schema, f"{path}.default")
    if isinstance(schema.get("pattern"), str) and structural.compile_pattern(schema["pattern"]) is None:
        errs.append(invalid_value(f"{path}.pattern", schema["pattern"],
                                  "must be a valid regular expression, but isn't"))
    for name, child in _dict(schema.get("properties")).items():
        child_path = f"{path}.properties[{name}]"
        if not _dict(child).get("type") and not _untyped_ok(child):
            errs.append(required(f"{child_path}.type", "must not be empty for specified object fields"))
        errs += structural_errors(child, child_path, root=False)
    items = schema.get("items")
    if isinstance(items, dict):
        if not items.get("type") and not _untyped_ok(items):
            errs.append(required(f"{path}.items.type", "must not be empty for specified array items"))
        errs += structural_errors(items, f"{path}.items", root=False)
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        errs += structural_errors(additional, f"{path}.additionalProperties", root=False)
    return errs


def _default_errors(schema: dict[str, Any], path: str) -> Errors:
    """A ``default`` must be valid against its own schema, and have no field that pruning would drop."""
    value = copy.deepcopy(schema["default"])
    if value is None and schema.get("nullable"):
        return []
    found: Errors = []
    structural.validate_value(value, schema, path, found)
    dropped = structural.prune_value(value, schema)
    if dropped:
        found.append(invalid_value(path, schema["default"],
                                   "must not have unknown fields, got: " + ", ".join(dropped)))
    return found


def _untyped_ok(schema: Any) -> bool:
    schema = _dict(schema)
    return schema.get("x-kubernetes-int-or-string") is True or schema.get("x-kubernetes-preserve-unknown-fields") is True


def _versions(versions: list[Any], path: str) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    storage = served = 0
    for i, version in enumerate(versions):
        version = _dict(version)
        vpath = f"{path}[{i}]"
        name = version.get("name", "")
        if not name:
            errs.append(required(f"{vpath}.name"))
        elif name in seen:
            errs.append(duplicate(f"{vpath}.name", name))
        else:
            errs += _label(name, f"{vpath}.name")
        seen.add(name)
        storage += version.get("storage") is True
        served += version.get("served") is True
        schema = _dict(version.get("schema")).get("openAPIV3Schema")
        spath = f"{vpath}.schema.openAPIV3Schema"
        if schema is None:
            errs.append(required(spath, "schemas are required"))
        else:
            errs += structural_errors(schema, spath)
            errs += cel.compile_errors(schema, spath)
    if storage != 1:
        errs.append(invalid_value(path, versions, "must have exactly one version marked as storage version"))
    if versions and not served:
        errs.append(invalid_value(path, versions, "must have at least one version marked as served"))
    return errs


def validate_crd(obj: Any) -> Errors:
    """Every rule on a CRD's metadata.name and spec, in upstream's order."""
    obj = _dict(obj)
    spec = _dict(obj.get("spec"))
    names = _dict(spec.get("names"))
    group = spec.get("group", "")
    errs: Errors = []
    expected = f"{names.get('plural', '')}.{group}"
    if _dict(obj.get("metadata")).get("name") != expected:
        errs.append(invalid_value("metadata.name", _dict(obj.get("metadata")).get("name", ""),
                                  'must be spec.names.plural+"."+spec.group'))
    if not group:
        errs.append(required("spec.group"))
    elif problems := is_dns1123_subdomain(group):
        errs.append(invalid_value("spec.group", group, ",".join(problems)))
    elif "." not in group:
        errs.append(invalid_value("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope", "")
    if not scope:
        errs.append(required("spec.scope"))
    elif scope not in ("Cluster", "Namespaced"):
        errs.append(not_supported("spec.scope", scope, ("Cluster", "Namespaced")))
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        errs.append(invalid_value("spec.versions", versions or [], "must have exactly one version marked as storage version"))
    else:
        errs += _versions(versions, "spec.versions")
    errs += validate_names(names, "spec.names")
    return errs
