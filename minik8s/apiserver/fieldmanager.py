"""Field management: who set which field (``metadata.managedFields``) and server-side apply.

Every write is recorded against a *field manager*: the ``fieldManager`` query parameter,
or (upstream's fallback) the part of the client's User-Agent before the first ``/``
(``kubectl``, ``OpenAPI-Generator``). ``metadata.managedFields`` holds one entry per
manager and operation::

    - manager: kubectl            # who
      operation: Apply            # Apply (server-side apply) or Update (create, update, patch)
      apiVersion: apps/v1
      time: "2026-12-06T03:00:00Z"
      fieldsType: FieldsV1
      fieldsV1: {f:spec: {f:replicas: {}}}     # the fields it owns (see structuredmerge)
      subresource: status         # only for writes through a subresource

*Update* (create, PUT, and the JSON, merge and strategic patches) gives its manager the
fields the write added or changed, and takes them from everybody else: the last writer
wins. *Apply* (``PATCH`` with ``application/apply-patch+yaml``) is declarative: the
manager owns exactly the fields of its configuration; fields it owned before and no
longer sets are removed, unless another manager owns them too; changing a field another
manager owns is a conflict (409) unless ``force=true``, which takes it over. Two managers
applying the same value share the field.

Interface:
    schema_for(resource) -> (Types, schema)             # the merge rules of a kind
    record_update(resource, old, new, manager, now, subresource="")    # sets new's managedFields
    apply(resource, live, config, manager, now, force=False) -> merged object with managedFields
    manager_from_user_agent(user_agent) -> str
    check_field_manager(value, options_kind); check_patch_options(patch_type, manager, force)   # 422s
    check_apply_identity(resource, config)             # 400 unless the apiVersion and kind are the kind's

Invariants: the identity fields (``apiVersion``, ``kind``, ``metadata.name``, ``uid``,
``resourceVersion``...) are never owned; an object that does not change keeps its
managedFields as they were (a no-op write stays a no-op); a conflict changes nothing.

Taught in chapter 3 (kubectl: declarative management and server-side apply).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Any

from minik8s.api import errors, structuredmerge as sm
from minik8s.api.resources import Resource
from minik8s.apiserver import discovery
from minik8s.clock import rfc3339

APPLY = "Apply"
UPDATE = "Update"
# Upstream's limit on a fieldManager's length.
MAX_MANAGER_LENGTH = 128
# Who owns the fields of an object that has no managedFields when it is first applied to.
BEFORE_FIRST_APPLY = "before-first-apply"
# The manager of writes made in-process by the cluster's own components, which have no User-Agent.
IN_PROCESS_MANAGER = "minik8s"
# Fields the server sets, never owned by a manager (upstream's StripMeta).
_STRIPPED_META = ("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                  "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds")


@dataclass(frozen=True)
class Entry:
    manager: str
    operation: str
    api_version: str
    time: str
    subresource: str
    fields: sm.FieldSet

    @property
    def key(self) -> tuple[str, str, str, str]:
        # Update entries are kept per apiVersion, Apply entries per manager (upstream's identifiers).
        return (self.manager, self.operation, self.api_version if self.operation == UPDATE else "",
                self.subresource)

    def encode(self) -> dict[str, Any]:
        entry = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
                 "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": sm.to_fields_v1(self.fields)}
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry


@functools.cache
def _builtin_types() -> sm.Types:
    return sm.Types(discovery.definitions())


@functools.cache
def _definition_names() -> dict[tuple[str, str, str], str]:
    return discovery.by_group_version_kind(discovery.definitions())


_OBJECT_META = {"$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}


def schema_for(resource: Resource) -> tuple[sm.Types, sm.Schema]:
    """The merge rules of a kind: upstream's definition of a built-in kind, else the resource's own
    schema (a custom resource's OpenAPI v3 object schema), else none (maps granular, lists atomic);
    ``metadata`` is always typed as ObjectMeta, as upstream types it for custom resources."""
    types = _builtin_types()
    name = _definition_names().get((resource.group, resource.version, resource.kind))
    if name:
        return types, types.resolve({"$ref": name})
    own = getattr(resource, "schema", None)
    root: dict[str, Any] = dict(own) if isinstance(own, dict) else {"type": "object",
                                                                    "x-kubernetes-preserve-unknown-fields": True}
    root["properties"] = {**(root.get("properties") or {}), "metadata": _OBJECT_META}
    return types, root


def manager_from_user_agent(user_agent: str) -> str:
    """Upstream's default manager: the User-Agent up to its first ``/`` (``kubectl/v1.32.0 ...``)."""
    return user_agent.split("/", 1)[0][:MAX_MANAGER_LENGTH]


def check_field_manager(value: str, options_kind: str) -> None:
    """``fieldManager`` as upstream's ValidateFieldManager checks it (422)."""
    found = []
    if len(value) > MAX_MANAGER_LENGTH:
        found.append(errors.too_long("fieldManager", value, MAX_MANAGER_LENGTH))
    elif not value.isprintable():
        found.append(errors.invalid_value("fieldManager", value, "must only contain printable characters"))
    if found:
        raise errors.invalid(options_kind, "meta.k8s.io", "", found)


def check_patch_options(patch_type: str, field_manager: str, force: bool | None) -> None:
    """upstream's ValidatePatchOptions: an apply names its manager; ``force`` is for applies only."""
    found = []
    if patch_type != "apply" and force is not None:
        found.append(errors.forbidden_field("force", "may not be specified for non-apply patch"))
    if patch_type == "apply" and not field_manager:
        found.append(errors.required("fieldManager", "is required for apply patch"))
    if found:
        raise errors.invalid("PatchOptions", "meta.k8s.io", "", found)
    check_field_manager(field_manager, "PatchOptions")


def check_apply_identity(resource: Resource, config: Any) -> None:
    """An applied configuration is a whole object of the kind: it says its apiVersion and kind (400)."""
    if not isinstance(config, dict):
        raise errors.bad_request(f"error decoding YAML: json: cannot unmarshal {_json_kind(config)} into Go value "
                                 "of type map[string]interface {}")
    version, kind = config.get("apiVersion"), config.get("kind")
    if version != resource.api_version:
        raise errors.bad_request(f"Incorrect version specified in apply patch. Specified patch version: "
                                 f"{version or ''}, expected: {resource.api_version}")
    if kind != resource.kind:
        raise errors.bad_request(f"the kind in the data ({kind or ''}) does not match the expected kind "
                                 f"({resource.kind})")


def check_typed(resource: Resource, namespace: str | None, name: str, config: dict[str, Any]) -> None:
    """An applied configuration must fit the kind's schema: no undeclared fields, no two list-map
    items with the same keys. Upstream reports these as a plain error, so a 500 with no reason."""
    types, schema = schema_for(resource)
    found = sm.problems(types, schema, {k: v for k, v in config.items() if k not in ("apiVersion", "kind")})
    if not found:
        return
    group_version = resource.api_version if resource.group else "/" + resource.version
    text = found[0] if len(found) == 1 else "errors:\n" + "\n".join("  " + line for line in found)
    raise errors.StatusError(500, "", f"failed to create typed patch object ({namespace or ''}/{name}; "
                                      f"{group_version}, Kind={resource.kind}): {text}")


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "bool", type(None): "null"}.get(type(value), "number")


def _ownable(resource: Resource, paths: sm.FieldSet, subresource: str) -> sm.FieldSet:
    """The paths that can be owned through this endpoint: never the identity and server-set fields;
    the status endpoint owns only status, the main one all but status (upstream's reset fields)."""
    hidden = {"f:apiVersion", "f:kind"}
    if subresource == "status":
        hidden.add("f:spec")
    elif "status" in resource.subresources:
        hidden.add("f:status")
    return frozenset(p for p in paths if p and p[0] not in hidden and p != ("f:metadata",)
                     and not (p[0] == "f:metadata" and p[1][2:] in _STRIPPED_META))


def _compare(resource: Resource, old: dict[str, Any] | None, new: dict[str, Any],
             subresource: str) -> sm.Comparison:
    types, schema = schema_for(resource)
    found = sm.compare(types, schema, old, new)
    return sm.Comparison(*(_ownable(resource, s, subresource) for s in (found.added, found.modified, found.removed)))


def decode(obj: dict[str, Any] | None) -> dict[tuple[str, str, str, str], Entry]:
    """The entries of an object's managedFields by key (a malformed one is 400 BadRequest)."""
    found: dict[tuple[str, str, str, str], Entry] = {}
    raw = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    if not isinstance(raw, list):
        raise errors.bad_request("metadata.managedFields must be a list")
    for item in raw:
        if not isinstance(item, dict) or not item:
            continue   # upstream: a list holding one empty entry clears managedFields
        try:
            entry = Entry(str(item.get("manager", "")), str(item.get("operation", UPDATE)),
                          str(item.get("apiVersion", "")), str(item.get("time", "")),
                          str(item.get("subresource", "")), sm.from_fields_v1(item.get("fieldsV1") or {}))
        except ValueError as exc:
            raise errors.bad_request(f"failed to decode managed fields: {exc}") from None
        previous = found.get(entry.key)
        found[entry.key] = replace(entry, fields=entry.fields | previous.fields) if previous else entry
    return found


def encode(entries: dict[tuple[str, str, str, str], Entry]) -> list[dict[str, Any]]:
    """managedFields in upstream's order: Apply before Update, then by time, manager, version."""
    ordered = sorted((e for e in entries.values() if e.fields),
                     key=lambda e: (e.operation, e.time, e.manager, e.api_version, e.subresource))
    return [e.encode() for e in ordered]


def _base(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[tuple[str, str, str, str], Entry]:
    """The entries a write starts from: the stored ones, unless the client sent others."""
    sent = (new.get("metadata") or {}).get("managedFields")
    stored = ((old or {}).get("metadata") or {}).get("managedFields")
    return decode(new) if sent and sent != stored else decode(old)


def _take(entries: dict[tuple[str, str, str, str], Entry], owner: tuple[str, str, str, str],
          taken: sm.FieldSet) -> dict[tuple[str, str, str, str], Entry]:
    """Every other manager loses the ``taken`` fields; managers left with nothing are dropped."""
    kept = {}
    for key, entry in entries.items():
        if key != owner:
            entry = replace(entry, fields=entry.fields - taken)
        if entry.fields:
            kept[key] = entry
    return kept


def _set_entry(entries: dict[tuple[str, str, str, str], Entry], entry: Entry, previous: Entry | None,
               changed: bool, now: float) -> None:
    """Put ``entry`` in ``entries``, stamped with the time of this write unless neither the object
    nor the entry changed (a no-op write stays a no-op); an entry that owns nothing goes."""
    unchanged = previous is not None and previous.fields == entry.fields and not changed
    entry = replace(entry, time=previous.time if unchanged and previous else rfc3339(now))
    if entry.fields:
        entries[entry.key] = entry
    else:
        entries.pop(entry.key, None)


def record_update(resource: Resource, old: dict[str, Any] | None, new: dict[str, Any], manager: str, now: float,
                  subresource: str = "") -> None:
    """Record a create, update or non-apply patch by ``manager`` in ``new``'s managedFields."""
    entries = _base(old, new)
    changes = _compare(resource, old, new, subresource)
    if not changes.same():
        key = (manager, UPDATE, resource.api_version, subresource)
        entries = _take(entries, key, changes.changed() | changes.removed)
        previous = entries.get(key)
        fields = ((previous.fields if previous else frozenset()) - changes.removed) | changes.changed()
        _set_entry(entries, Entry(manager, UPDATE, resource.api_version, "", subresource, fields), previous, True,
                   now)
    new["metadata"]["managedFields"] = encode(entries)
    if not new["metadata"]["managedFields"]:
        del new["metadata"]["managedFields"]


def apply(resource: Resource, live: dict[str, Any] | None, config: dict[str, Any], manager: str, now: float, *,
          force: bool = False, subresource: str = "") -> dict[str, Any]:
    """Server-side apply of ``config`` by ``manager`` to ``live`` (None: the object is new).

    Returns the merged object with its managedFields, ready for defaulting and validation;
    raises a 409 Conflict listing the fields other managers own, unless ``force``."""
    if (config.get("metadata") or {}).get("managedFields") is not None:
        raise errors.bad_request("metadata.managedFields must be nil")
    types, schema = schema_for(resource)
    config = sm.drop_nulls(config)
    fields = _ownable(resource, sm.field_set(types, schema, config), subresource)
    entries = decode(live)
    if live is not None and not entries:
        # An object written before fields were tracked: someone owns all of it (upstream's name for them).
        owner = Entry(BEFORE_FIRST_APPLY, UPDATE, resource.api_version, "", "",
                      _ownable(resource, sm.field_set(types, schema, live), subresource))
        entries[owner.key] = owner
    key = (manager, APPLY, "", subresource)
    previous = entries.get(key)
    merged = sm.merge(types, schema, live if live is not None else {}, config)
    entry = Entry(manager, APPLY, resource.api_version, "", subresource, fields)
    entries[key] = entry
    if previous is not None:
        # Fields this manager applied before and dropped now go, unless someone still owns them
        # or something under them.
        owned = frozenset().union(*(e.fields for e in entries.values()))
        dropped = previous.fields - owned - frozenset(sm.prefixes(owned))
        merged = sm.remove(types, schema, merged, {p for p in dropped if not sm.is_key_field(p)})
    changes = _compare(resource, live, merged, subresource)
    conflicts = sorted((other.manager, other.api_version, other.operation, other.subresource, path)
                       for k, other in entries.items() if k != key
                       for path in other.fields & changes.changed())
    if conflicts and not force:
        raise conflict_error(conflicts)
    entries = _take(entries, key, changes.changed() | changes.removed)
    _set_entry(entries, entry, previous, not changes.same(), now)
    merged.setdefault("metadata", {})["managedFields"] = encode(entries)
    return merged


def _manager_text(manager: str, api_version: str, operation: str, subresource: str) -> str:
    text = f'"{manager}"' + (f' with subresource "{subresource}"' if subresource else "")
    return text + (f" using {api_version}" if operation == UPDATE else "")


def conflict_error(conflicts: list[tuple[str, str, str, str, sm.Path]]) -> errors.StatusError:
    """409 Conflict in upstream's words, one ``FieldManagerConflict`` cause per field."""
    causes = [{"reason": "FieldManagerConflict", "message": "conflict with " + _manager_text(*c[:4]),
               "field": sm.path_string(c[4])} for c in conflicts]
    if len(conflicts) == 1:
        message = f"Apply failed with 1 conflict: {causes[0]['message']}: {causes[0]['field']}"
    else:
        lines: list[str] = []
        by_manager: dict[str, list[str]] = {}
        for c, cause in zip(conflicts, causes):
            by_manager.setdefault(_manager_text(*c[:4]), []).append(cause["field"])
        for manager in sorted(by_manager):
            lines.append(f"conflicts with {manager}:")
            lines.extend(f"- {path}" for path in by_manager[manager])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.StatusError(409, "Conflict", message, {"causes": causes})
