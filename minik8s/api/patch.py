"""The three patch formats of ``PATCH`` requests, and the diffs ``kubectl apply`` sends.

A client changes part of an object by sending a *patch* instead of the whole object. The
Kubernetes API accepts three formats, chosen by the request's Content-Type:

* ``application/merge-patch+json`` -- JSON merge patch (RFC 7386): maps merge, ``null``
  deletes a key, anything else (lists too) replaces.
* ``application/json-patch+json`` -- JSON patch (RFC 6902): a list of operations
  (``add``, ``remove``, ``replace``, ``move``, ``copy``, ``test``). ``kubectl rollout undo``
  uses it.
* ``application/strategic-merge-patch+json`` -- Kubernetes' *strategic merge patch*: like a
  merge patch, but a list whose Go field declares a *patch merge key* (a Pod's ``containers``
  by ``name``, a Service's ``ports`` by ``port``) is merged element by element, so a patch
  that names one container leaves the others alone. ``kubectl apply``, ``edit``,
  ``set image`` and ``label`` send these. Directives steer it: ``$patch: replace|delete|merge``,
  ``$retainKeys``, ``$deleteFromPrimitiveList/<field>``, ``$setElementOrder/<field>``.

Interface:
    json_merge_patch(original, patch)             create_merge_patch(original, modified)
    json_patch(original, operations)
    strategic_merge_patch(original, patch, kind)
    three_way_strategic_patch(last_applied, modified, current, kind)    # what kubectl apply sends
    three_way_merge_patch(last_applied, modified, current)              # same, for kinds without
                                                                        # strategic information
    merge_key(kind, path)   # the patch merge key at a dotted field path, e.g. "spec.containers"

Invariants:
    * No function mutates its arguments.
    * json_merge_patch(a, create_merge_patch(a, b)) == b for JSON documents b without nulls.
    * strategic_merge_patch(current, three_way_strategic_patch(o, m, current, kind), kind)
      holds every field of m, lacks every field that o had and m dropped, and keeps fields
      only the server set.
    * A malformed patch raises ValueError; the API server turns it into a 4xx Status.

The merge keys below are upstream's ``patchMergeKey`` / ``patchStrategy`` struct tags
(k8s.io/api); where minik8s has no entry, maps merge and lists are replaced.

Taught in the chapter on declarative management (kubectl apply, patch and edit).
"""

from __future__ import annotations

from minik8s.api.objects import deep_copy

from dataclasses import dataclass
from typing import Any, Callable

import jsonpatch  # type: ignore[import-untyped]
import jsonpointer  # type: ignore[import-untyped]

JSON = Any

PATCH = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"
SET_ELEMENT_ORDER = "$setElementOrder/"


# --- JSON merge patch (RFC 7386) ------------------------------------------------------------

def json_merge_patch(original: JSON, patch: JSON) -> JSON:
    """Apply an RFC 7386 merge patch: maps merge recursively, ``null`` deletes, the rest replaces."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result = deep_copy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def create_merge_patch(original: JSON, modified: JSON) -> JSON:
    """The smallest merge patch turning ``original`` into ``modified`` (a two-way diff)."""
    if not isinstance(original, dict) or not isinstance(modified, dict):
        return deep_copy(modified)
    patch: dict[str, Any] = {key: None for key in original if key not in modified}
    for key, value in modified.items():
        if key not in original:
            patch[key] = deep_copy(value)
        elif isinstance(value, dict) and isinstance(original[key], dict):
            sub = create_merge_patch(original[key], value)
            if sub:
                patch[key] = sub
        elif not _json_equal(original[key], value):
            patch[key] = deep_copy(value)
    return patch


def three_way_merge_patch(original: dict[str, Any] | None, modified: dict[str, Any],
                          current: dict[str, Any]) -> dict[str, Any]:
    """kubectl apply's patch for kinds without strategic information (custom resources).

    Additions and changes come from current -> modified, deletions from last-applied ->
    modified, so fields that only the server set survive.
    """
    changes = _drop_nulls(create_merge_patch(current, modified))
    deletions = _only_nulls(create_merge_patch(original or {}, modified))
    return json_merge_patch(deletions, changes) if changes or deletions else {}


def _drop_nulls(patch: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in patch.items():
        if isinstance(value, dict):
            sub = _drop_nulls(value)
            if sub or not value:
                out[key] = sub
        elif value is not None:
            out[key] = value
    return out


def _only_nulls(patch: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in patch.items():
        if value is None:
            out[key] = None
        elif isinstance(value, dict):
            sub = _only_nulls(value)
            if sub:
                out[key] = sub
    return out


def _json_equal(a: JSON, b: JSON) -> bool:
    # JSON has no booleans-as-numbers: True must not equal 1 here, as it does in Python.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    return bool(type(a) is type(b) and a == b) or (_is_number(a) and _is_number(b) and a == b)


def _is_number(value: JSON) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- JSON patch (RFC 6902) ------------------------------------------------------------------

def json_patch(original: JSON, operations: Any) -> JSON:
    """Apply RFC 6902 operations in order; the first failing one aborts the whole patch."""
    if not isinstance(operations, list):
        raise ValueError("a JSON patch must be a list of operations")
    for i, op in enumerate(operations):
        if not isinstance(op, dict):
            raise ValueError(f"JSON patch operation {i} is not an object")
    try:
        return jsonpatch.apply_patch(original, operations, in_place=False)
    except jsonpatch.JsonPatchTestFailed as err:
        raise ValueError(f"JSON patch test operation failed: {err}") from None
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as err:
        raise ValueError(f"invalid JSON patch: {err}") from None
    except (TypeError, KeyError, IndexError, AttributeError) as err:
        raise ValueError(f"invalid JSON patch: {err!r}") from None


# --- patch metadata: upstream's patchStrategy / patchMergeKey struct tags --------------------

@dataclass(frozen=True)
class _Field:
    type: str = ""             # the schema type of the value, or of each list element
    merge: bool = False        # patchStrategy "merge" (lists are merged, not replaced)
    key: str = ""              # patchMergeKey: identifies an element of a list of maps
    retain_keys: bool = False  # patchStrategy "retainKeys": a union whose unset members are cleared


def _merged(key: str = "", type_: str = "", retain_keys: bool = False) -> _Field:
    return _Field(type_, True, key, retain_keys)


_CONTAINER = {
    "ports": _merged("containerPort"),
    "env": _merged("name"),
    "volumeMounts": _merged("mountPath"),
    "volumeDevices": _merged("devicePath"),
}

_SCHEMA: dict[str, dict[str, _Field]] = {
    "ObjectMeta": {"finalizers": _merged(), "ownerReferences": _merged("uid")},
    "PodTemplateSpec": {"metadata": _Field("ObjectMeta"), "spec": _Field("PodSpec")},
    "PodSpec": {
        "volumes": _merged("name", retain_keys=True),
        "initContainers": _merged("name", "Container"),
        "containers": _merged("name", "Container"),
        "ephemeralContainers": _merged("name", "Container"),
        "imagePullSecrets": _merged("name"),
        "hostAliases": _merged("ip"),
        "topologySpreadConstraints": _merged("topologyKey"),
        "resourceClaims": _merged("name", retain_keys=True),
        "schedulingGates": _merged("name"),
    },
    "Container": _CONTAINER,
    "PodStatus": {
        "conditions": _merged("type"),
        "podIPs": _merged("ip"),
        "hostIPs": _merged("ip"),
        "resourceClaimStatuses": _merged("name", retain_keys=True),
    },
    "ServiceSpec": {"ports": _merged("port")},
    "NodeSpec": {"podCIDRs": _merged()},
    "NodeStatus": {"conditions": _merged("type"), "addresses": _merged("type")},
    "WorkloadSpec": {"template": _Field("PodTemplateSpec")},
    "DeploymentSpec": {"template": _Field("PodTemplateSpec"), "strategy": _Field(retain_keys=True)},
    "JobTemplateSpec": {"metadata": _Field("ObjectMeta"), "spec": _Field("WorkloadSpec")},
    "CronJobSpec": {"jobTemplate": _Field("JobTemplateSpec")},
}

# The top-level fields of each kind; "metadata" is ObjectMeta everywhere.
_KINDS: dict[str, dict[str, _Field]] = {
    "Pod": {"spec": _Field("PodSpec"), "status": _Field("PodStatus")},
    "PodTemplate": {"template": _Field("PodTemplateSpec")},
    "ReplicationController": {"spec": _Field("WorkloadSpec")},
    "ReplicaSet": {"spec": _Field("WorkloadSpec")},
    "Deployment": {"spec": _Field("DeploymentSpec")},
    "StatefulSet": {"spec": _Field("WorkloadSpec")},
    "DaemonSet": {"spec": _Field("WorkloadSpec")},
    "Job": {"spec": _Field("WorkloadSpec")},
    "CronJob": {"spec": _Field("CronJobSpec")},
    "Service": {"spec": _Field("ServiceSpec")},
    "Node": {"spec": _Field("NodeSpec"), "status": _Field("NodeStatus")},
    "ServiceAccount": {"secrets": _merged("name")},
    "MutatingWebhookConfiguration": {"webhooks": _merged("name")},
    "ValidatingWebhookConfiguration": {"webhooks": _merged("name")},
}
for _kind, _fields in _KINDS.items():
    _SCHEMA[_kind] = {"metadata": _Field("ObjectMeta"), **_fields}

# Built-in kinds with nothing but metadata to merge by key.
_PLAIN_KINDS = ("ConfigMap", "Secret", "Namespace", "Endpoints", "Event", "LimitRange", "PersistentVolume",
                "PersistentVolumeClaim", "ResourceQuota", "ControllerRevision", "HorizontalPodAutoscaler",
                "Lease", "Ingress", "IngressClass", "NetworkPolicy", "ClusterRole", "ClusterRoleBinding",
                "Role", "RoleBinding", "StorageClass", "Binding", "APIService")
for _kind in _PLAIN_KINDS:
    _SCHEMA.setdefault(_kind, {"metadata": _Field("ObjectMeta")})

_BUILTIN = "builtin"  # a part of a built-in object that minik8s has no entry for
_NO_SCHEMA = ""       # a kind without strategic information: every list is replaced


def _child(type_name: str, field: str) -> _Field:
    """The patch metadata of ``field`` inside a value of schema type ``type_name``."""
    if not type_name:
        return _Field(_NO_SCHEMA)
    found = _SCHEMA.get(type_name, {}).get(field)
    if found is not None:
        return found if found.type else _Field(_BUILTIN, found.merge, found.key, found.retain_keys)
    # Every status condition list in the built-in API (Deployment, Job, Namespace, PVC...)
    # is tagged patchMergeKey "type"; minik8s does not list them one by one.
    if field == "conditions":
        return _merged("type", _BUILTIN)
    return _Field(_BUILTIN)


def _root(kind: str) -> str:
    return kind if kind in _SCHEMA else _NO_SCHEMA


def merge_key(kind: str, path: str) -> str | None:
    """The patch merge key of the list at dotted ``path`` of a ``kind`` (None: replaced)."""
    type_name = _root(kind)
    field = _Field(type_name)
    for part in path.split("."):
        field = _child(type_name, part)
        type_name = field.type
    if not field.merge:
        return None
    return field.key


# --- applying a strategic merge patch -------------------------------------------------------

def strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any], kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch to an object of ``kind`` (e.g. ``"Deployment"``)."""
    if not isinstance(patch, dict):
        raise ValueError("a strategic merge patch must be a JSON object")
    base = original if isinstance(original, dict) else {}
    return _merge_map(deep_copy(base), deep_copy(patch), _root(kind))


def _merge_map(original: dict[str, Any], patch: dict[str, Any], type_name: str) -> dict[str, Any]:
    """Merge ``patch`` into ``original`` (both private copies, changed in place)."""
    directive = patch.pop(PATCH, None)
    if directive == "replace":
        return _merge_map({}, patch, type_name)
    if directive == "delete":
        return {}
    if directive not in (None, "merge"):  # "merge" is what a map does anyway
        raise ValueError(f"unknown patch type: {directive} in map: {patch}")

    retain = patch.pop(RETAIN_KEYS, None)
    if retain is not None:
        _apply_retain_keys(original, patch, retain)

    orders: dict[str, list[Any]] = {}
    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise ValueError(f"invalid type for {key}: expected a list")
        orders[key[len(SET_ELEMENT_ORDER):]] = order
    for key in [k for k in patch if k.startswith(DELETE_FROM_PRIMITIVE_LIST)]:
        _delete_from_primitive_list(original, key[len(DELETE_FROM_PRIMITIVE_LIST):], patch.pop(key))

    before = {name: list(original.get(name) or []) for name in orders}
    for key, value in patch.items():
        if value is None:
            original.pop(key, None)
            continue
        field = _child(type_name, key)
        if key in original:
            original[key] = _merge_value(original[key], value, field)
        else:
            original[key] = _merge_value(None, value, field)
    for name, order in orders.items():
        if isinstance(original.get(name), list):
            field = _child(type_name, name)
            original[name] = _enforce_order(original[name], order, before[name], field.key)
    return original


def _merge_value(original: JSON, patch: JSON, field: _Field) -> JSON:
    if isinstance(patch, dict):
        base = original if isinstance(original, dict) else {}
        return _merge_map(base, patch, field.type)
    if isinstance(patch, list):
        if field.merge:
            base = original if isinstance(original, list) else []
            return _merge_list(base, patch, field)
        # A replaced list is taken as sent, except that directives inside it are spent.
        return [_merge_value(None, item, _Field(field.type)) if isinstance(item, dict) else item
                for item in patch]
    return patch


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any], retain: Any) -> None:
    if not isinstance(retain, list):
        raise ValueError(f"invalid type for {RETAIN_KEYS}: expected a list")
    for key in patch:
        if not key.startswith("$") and patch[key] is not None and key not in retain:
            raise ValueError(f"all fields in the patch must be listed in {RETAIN_KEYS}: {key} is not")
    for key in list(original):
        if key not in retain:
            del original[key]


def _delete_from_primitive_list(original: dict[str, Any], field: str, values: Any) -> None:
    if not isinstance(values, list):
        raise ValueError(f"invalid type for {DELETE_FROM_PRIMITIVE_LIST}{field}: expected a list")
    if isinstance(original.get(field), list):
        original[field] = [item for item in original[field] if item not in values]


def _merge_list(original: list[Any], patch: list[Any], field: _Field) -> list[Any]:
    """Merge two lists: maps by merge key, scalars as a set union."""
    if not patch and not original:
        return original
    if not any(isinstance(item, dict) for item in original + patch):
        merged = _dedupe(original + patch)
        return _enforce_order(merged, patch, original, "")
    if not field.key:
        raise ValueError("cannot merge lists without merge key")
    original, patch = _apply_list_directives(original, patch, field.key)
    merged = list(original)
    for item in patch:
        if field.key not in item:
            raise ValueError(f"map: {item} does not contain declared merge key: {field.key}")
        at = _index(merged, item, field.key)
        if at >= 0:
            merged[at] = _merge_map(merged[at], item, field.type)
        else:
            merged.append(_merge_map({}, item, field.type))
    return _enforce_order(merged, patch, original, field.key)


def _apply_list_directives(original: list[Any], patch: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    """Handle ``$patch`` elements: delete one element by key, or replace the whole list."""
    plain, replace = [], False
    for item in patch:
        if not isinstance(item, dict):
            raise ValueError(f"cannot merge a list of maps with an element that is not a map: {item!r}")
        directive = item.get(PATCH)
        if directive is None:
            plain.append(item)
        elif directive == "delete":
            if key not in item:
                raise ValueError(f"map: {item} does not contain declared merge key: {key}")
            original = [o for o in original if not (isinstance(o, dict) and _same_key(o, item, key))]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise ValueError("merging lists cannot yet be specified in the patch")
        else:
            raise ValueError(f"unknown patch type: {directive} in map: {item}")
    if replace:
        # The rest of the patch is the whole new list.
        return [_merge_map({}, item, "") for item in plain], []
    return original, plain


def _same_key(a: dict[str, Any], b: dict[str, Any], key: str) -> bool:
    # Upstream compares merge key values by their printed form, so 80 and "80" differ.
    return key in a and key in b and _json_equal(a[key], b[key])


def _index(items: list[Any], item: Any, key: str) -> int:
    for i, candidate in enumerate(items):
        if key:
            if isinstance(candidate, dict) and isinstance(item, dict) and _same_key(candidate, item, key):
                return i
        elif _json_equal(candidate, item):
            return i
    return -1


def _dedupe(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if _index(out, item, "") < 0:
            out.append(item)
    return out


def _enforce_order(merged: list[Any], order: list[Any], server: list[Any], key: str) -> list[Any]:
    """Order a merged list: items named in ``order`` as ``order`` has them, the others in
    ``server``'s order, interleaved where ``server`` says (upstream normalizeElementOrder)."""
    wanted = [m for m in merged if _index(order, m, key) >= 0]
    server_only = [m for m in merged if _index(order, m, key) < 0]

    def rank(ref: list[Any]) -> Callable[[Any], int]:
        return lambda item: _index(ref, item, key)

    wanted.sort(key=rank(order))
    server_only.sort(key=rank(server))
    # Walk both lists; a server-only item goes first only when the server list
    # proves it came before the next wanted item.
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(wanted):
        if j >= len(wanted):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(wanted[j])
            j += 1
        else:
            left, right = _index(server, server_only[i], key), _index(server, wanted[j], key)
            if left >= 0 and right >= 0 and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(wanted[j])
                j += 1
    return out


# --- computing strategic merge patches (what kubectl sends) ---------------------------------

@dataclass(frozen=True)
class _DiffOptions:
    ignore_deletions: bool = False
    ignore_changes: bool = False   # ignore changes and additions: keep only deletions
    retain_keys: bool = False      # build a $retainKeys directive for this map


def create_strategic_patch(original: dict[str, Any], modified: dict[str, Any], kind: str) -> dict[str, Any]:
    """The two-way strategic merge patch from ``original`` to ``modified`` (kubectl edit)."""
    return _diff_maps(original, modified, _root(kind), _DiffOptions())


def three_way_strategic_patch(original: dict[str, Any] | None, modified: dict[str, Any],
                              current: dict[str, Any], kind: str) -> dict[str, Any]:
    """What ``kubectl apply`` sends: changes from the live object to the new manifest, plus
    deletions of what the last applied manifest had and the new one drops.

    ``original`` is the last-applied configuration (None on the first apply), ``modified``
    the new manifest, ``current`` the live object. Fields only the server set (status,
    uid, defaults, a scheduled nodeName) are not touched.
    """
    root = _root(kind)
    delta = _diff_maps(current or {}, modified, root, _DiffOptions(ignore_deletions=True))
    deletions = _diff_maps(original or {}, modified, root, _DiffOptions(ignore_changes=True))
    return _combine(deletions, delta, root)


def _diff_maps(original: dict[str, Any], modified: dict[str, Any], type_name: str,
               opts: _DiffOptions) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    for key, new in modified.items():
        if key not in original:
            if not opts.ignore_changes:
                patch[key] = deep_copy(new)
            continue
        old = original[key]
        field = _child(type_name, key)
        if isinstance(old, dict) and isinstance(new, dict):
            sub_opts = _DiffOptions(opts.ignore_deletions, opts.ignore_changes, field.retain_keys)
            sub = _diff_maps(old, new, field.type, sub_opts)
            if sub:
                patch[key] = sub
        elif isinstance(old, list) and isinstance(new, list) and field.merge:
            _diff_merged_lists(key, old, new, field, opts, patch)
        elif not opts.ignore_changes and not _json_equal(old, new):
            patch[key] = deep_copy(new)
    if not opts.ignore_deletions:
        for key in original:
            if key not in modified:
                patch[key] = None
    if opts.retain_keys:
        keep = sorted(k for k, v in modified.items() if v is not None)
        dropped = any(v is not None and k not in modified for k, v in original.items())
        if keep and (patch or dropped):
            patch[RETAIN_KEYS] = keep
    return patch


def _diff_merged_lists(key: str, old: list[Any], new: list[Any], field: _Field, opts: _DiffOptions,
                       patch: dict[str, Any]) -> None:
    """Diff a list with patchStrategy merge into ``patch[key]`` and its parallel directives."""
    maps = any(isinstance(x, dict) for x in old + new)
    if maps and field.key:
        changes, order_changed = _diff_lists_of_maps(old, new, field, opts)
        if changes:
            patch[key] = changes
        if changes or (order_changed and not opts.ignore_changes):
            patch[SET_ELEMENT_ORDER + key] = [{field.key: item.get(field.key)} for item in new]
        return
    added = [] if opts.ignore_changes else [x for x in _dedupe(new) if _index(old, x, "") < 0]
    removed = [] if opts.ignore_deletions else [x for x in _dedupe(old) if _index(new, x, "") < 0]
    if added:
        patch[key] = added
    if removed:
        patch[DELETE_FROM_PRIMITIVE_LIST + key] = sorted(removed, key=str)
    if removed or (not opts.ignore_changes and not _json_equal(old, new)):
        patch[SET_ELEMENT_ORDER + key] = deep_copy(new)


def _diff_lists_of_maps(old: list[Any], new: list[Any], field: _Field,
                        opts: _DiffOptions) -> tuple[list[Any], bool]:
    key = field.key
    changes: list[Any] = []
    item_opts = _DiffOptions(opts.ignore_deletions, opts.ignore_changes, field.retain_keys)
    for item in new:  # in the new order, as upstream sorts the patch list by it
        at = _index(old, item, key)
        if at < 0:
            if not opts.ignore_changes:
                changes.append(deep_copy(item))
            continue
        sub = _diff_maps(old[at], item, field.type, item_opts)
        if sub:
            sub[key] = item.get(key)
            changes.append(sub)
    if not opts.ignore_deletions:
        gone = [item for item in old if isinstance(item, dict) and _index(new, item, key) < 0]
        for item in sorted(gone, key=lambda x: str(x.get(key))):
            changes.append({PATCH: "delete", key: item.get(key)})
    old_keys = [x.get(key) if isinstance(x, dict) else x for x in old]
    new_keys = [x.get(key) if isinstance(x, dict) else x for x in new]
    return changes, old_keys != new_keys


def _combine(deletions: dict[str, Any], delta: dict[str, Any], type_name: str) -> dict[str, Any]:
    """Join two patches that touch different things (deletions; additions and changes)."""
    out = deep_copy(deletions)
    for key, value in delta.items():
        if key not in out or key.startswith("$"):
            # Parallel directives ($setElementOrder, $retainKeys) agree: both come from `modified`.
            out[key] = deep_copy(value)
            continue
        field = _child(type_name, key)
        mine = out[key]
        if isinstance(mine, dict) and isinstance(value, dict):
            out[key] = _combine(mine, value, field.type)
        elif isinstance(mine, list) and isinstance(value, list) and field.merge and field.key:
            out[key] = _combine_lists(mine, value, field)
        elif isinstance(mine, list) and isinstance(value, list) and field.merge:
            out[key] = _dedupe(mine + value)
        else:
            out[key] = deep_copy(value)
    return out


def _combine_lists(deletions: list[Any], delta: list[Any], field: _Field) -> list[Any]:
    out = deep_copy(deletions)
    for item in delta:
        at = _index(out, item, field.key)
        if at >= 0 and PATCH not in out[at]:
            out[at] = _combine(out[at], item, field.type)
        else:
            out.append(deep_copy(item))
    return out
