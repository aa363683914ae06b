"""Structured merge: field sets, merging and comparing objects by their schema.

Server-side apply needs to know *which fields* an object sets, not just its values.
Upstream does it with ``sigs.k8s.io/structured-merge-diff``; this is the same model,
small enough to read:

* A **path** names one node of an object: a tuple of path elements, each written as in
  ``metadata.managedFields[].fieldsV1``: ``f:name`` (a field of a struct or a map),
  ``k:{"name":"nginx"}`` (an item of a list-map, by its keys), ``v:"a"`` (an item of a
  set), ``i:0`` (an index; only for lists with nothing better).
* A **field set** is a frozenset of paths. :func:`to_fields_v1` / :func:`from_fields_v1`
  turn it into the nested ``{"f:spec": {"f:replicas": {}}}`` form and back (``"."``
  marks a node that is itself in the set and has children in it too).
* The **schema** decides how a node merges: OpenAPI ``x-kubernetes-list-type``
  (``atomic`` | ``set`` | ``map`` with ``x-kubernetes-list-map-keys``),
  ``x-kubernetes-map-type: atomic``, and for lists without a list type, the older
  ``x-kubernetes-patch-merge-key`` / ``x-kubernetes-patch-strategy``. With no schema
  (or ``x-kubernetes-preserve-unknown-fields``), maps are granular and lists atomic,
  as upstream deduces for untyped values.

Interface:
    Types(definitions)                         # resolves "$ref"s against a definitions dict
    field_set(types, schema, obj) -> FieldSet  # what an applied configuration sets (ToFieldSet)
    problems(types, schema, obj) -> [".spec.x: field not declared in schema", ...]   # untypable parts
    compare(types, schema, old, new) -> Comparison(added, modified, removed)
    merge(types, schema, live, config) -> obj  # config's fields over live's (Merge)
    remove(types, schema, obj, paths) -> obj   # without the nodes at these paths
    is_key_field(path), prefixes(paths)        # helpers for pruning
    to_fields_v1(set) / from_fields_v1(dict)   # the wire form
    path_string(path) -> ".spec.containers[name=\"nginx\"].image"   # as conflicts print it

Invariants: no function mutates its arguments; sets hold only paths the object has.

How minik8s differs: a list-map keeps the live order of its items and appends new ones
(upstream interleaves by the applied order); a ``null`` in an applied configuration is
dropped rather than owned.

Taught in chapter 3 (kubectl: declarative management and server-side apply).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from minik8s.api.objects import deep_copy

Path = tuple[str, ...]
FieldSet = frozenset[Path]
Schema = dict[str, Any] | None

_ABSENT: Any = object()   # a field the object does not have (not the same as null)
# The order upstream sorts path elements in: fields, then keys, then values, then indexes.
_RANK = {"f": 0, "k": 1, "v": 2, "i": 3}
# A list-map key field with a schema default: an item that omits it is keyed by the default
# (a container port's protocol is TCP), as upstream's defaulted list keys are.
_KEY_DEFAULTS = {"protocol": "TCP"}


class Types:
    """Schema nodes with their ``$ref``s (and single ``allOf``s) resolved."""

    def __init__(self, definitions: dict[str, Any] | None = None):
        self.definitions = definitions or {}
        # Children's schemas by (id of the parent schema, field name): every write walks the same
        # few schemas again and again. The parents live as long as the definitions they come from.
        self._children: dict[tuple[int, str], Schema] = {}

    def resolve(self, node: Schema) -> Schema:
        seen = 0
        while node is not None and seen < 32:
            seen += 1
            ref = node.get("$ref")
            if ref is None and isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
                ref = node["allOf"][0].get("$ref")
            if not isinstance(ref, str):
                return node
            target = self.definitions.get(ref.rsplit("/", 1)[-1])
            if target is None:
                return None
            # Extensions written next to the reference apply to it.
            extra = {k: v for k, v in node.items() if k.startswith("x-kubernetes-")}
            node = {**target, **extra} if extra else target
        return node

    def kind(self, node: Schema) -> str:
        """``scalar``, ``struct``, ``map``, ``list``, ``atomic`` or ``deduced`` (no schema)."""
        if node is None:
            return "deduced"
        if node.get("x-kubernetes-int-or-string"):
            return "scalar"
        if node.get("type") == "array":
            return "atomic" if self.list_shape(node)[0] == "atomic" else "list"
        if "properties" in node:
            return "atomic" if node.get("x-kubernetes-map-type") == "atomic" else "struct"
        if node.get("type") == "object" or node.get("x-kubernetes-preserve-unknown-fields"):
            if isinstance(node.get("additionalProperties"), dict):
                return "atomic" if node.get("x-kubernetes-map-type") == "atomic" else "map"
            return "deduced"
        return "scalar"

    @staticmethod
    def list_shape(node: dict[str, Any]) -> tuple[str, list[str]]:
        """A list's merge type (``atomic`` | ``set`` | ``map``) and its map keys."""
        list_type = node.get("x-kubernetes-list-type")
        if list_type == "map":
            return "map", list(node.get("x-kubernetes-list-map-keys") or [])
        if list_type in ("atomic", "set"):
            return list_type, []
        if node.get("x-kubernetes-patch-strategy", "").split(",")[0] == "merge":
            key = node.get("x-kubernetes-patch-merge-key")
            return ("map", [key]) if key else ("set", [])
        return "atomic", []

    def child(self, node: Schema, name: str) -> Schema:
        """The schema of a struct's field or a map's values (None: unknown)."""
        if node is None:
            return None
        key = (id(node), name if "properties" in node else "")
        if key not in self._children:
            self._children[key] = self._child(node, name)
        return self._children[key]

    def _child(self, node: dict[str, Any], name: str) -> Schema:
        props = node.get("properties")
        if isinstance(props, dict) and name in props:
            return self.resolve(props[name])
        extra = node.get("additionalProperties")
        return self.resolve(extra) if isinstance(extra, dict) else None

    def items(self, node: Schema) -> Schema:
        return self.resolve(node.get("items")) if node is not None else None

    def declares(self, node: Schema, name: str) -> bool:
        return node is not None and name in (node.get("properties") or {})


# --- path elements --------------------------------------------------------------------------

def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def item_element(types: Types, node: dict[str, Any], item: Any, index: int) -> str:
    """The path element naming one item of a (non-atomic) list."""
    shape, keys = types.list_shape(node)
    if shape == "map" and isinstance(item, dict):
        key = {}
        for name in sorted(keys):
            if name in item:
                key[name] = item[name]
            elif name in _KEY_DEFAULTS:
                key[name] = _KEY_DEFAULTS[name]
        return "k:" + _json(key)
    if shape == "set" and not isinstance(item, (dict, list)):
        return "v:" + _json(item)
    return f"i:{index}"


def path_string(path: Path) -> str:
    """A path as upstream prints it in conflicts: ``.spec.containers[name="nginx"].image``."""
    out = []
    for element in path:
        tag, text = element[0], element[2:]
        if tag == "f":
            out.append("." + text)
        elif tag == "k":
            out.append("[" + ",".join(f"{k}={_json(v)}" for k, v in json.loads(text).items()) + "]")
        elif tag == "v":
            out.append(f"[={text}]")
        else:
            out.append(f"[{text}]")
    return "".join(out)


def _sort_key(element: str) -> tuple[int, str]:
    return _RANK.get(element[0], 9), element[2:]


# --- FieldsV1 --------------------------------------------------------------------------------

def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """``{"f:spec": {"f:replicas": {}}}``: each node a map of its children, ``"."`` first for a
    node that is in the set and has children in it."""
    tree: dict[str, Any] = {}
    members: set[Path] = set()
    for path in paths:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
        members.add(path)

    def emit(node: dict[str, Any], prefix: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if not node:
            return out
        if prefix in members and prefix:
            out["."] = {}
        for element in sorted(node, key=_sort_key):
            out[element] = emit(node[element], prefix + (element,))
        return out

    return emit(tree, ())


def from_fields_v1(fields: Any, prefix: Path = ()) -> FieldSet:
    """The paths of a ``fieldsV1`` tree (ValueError when it is not one)."""
    if not isinstance(fields, dict):
        raise ValueError("fieldsV1 must be an object")
    found: set[Path] = set()
    for element, children in fields.items():
        if element == ".":
            found.add(prefix)
            continue
        if not isinstance(element, str) or element[:2] not in ("f:", "k:", "v:", "i:"):
            raise ValueError(f"unknown path element {element!r}")
        path = prefix + (element,)
        if not children:
            found.add(path)
        else:
            found |= from_fields_v1(children, path)
    return frozenset(found)


# --- what an object sets ---------------------------------------------------------------------

def field_set(types: Types, node: Schema, obj: Any) -> FieldSet:
    """The paths an applied configuration sets: its leaves, its list items, its empty maps,
    and every entry of a granular map (upstream's ``ToFieldSet``)."""
    found: set[Path] = set()
    _walk_set(types, node, obj, (), found)
    return frozenset(found)


def _walk_set(types: Types, node: Schema, value: Any, path: Path, found: set[Path]) -> None:
    kind = types.kind(node)
    if kind in ("struct", "map", "deduced") and isinstance(value, dict):
        for name, child in value.items():
            child_path = path + ("f:" + name,)
            _walk_set(types, types.child(node, name), child, child_path, found)
            if child is None or child == {} or not types.declares(node, name):
                found.add(child_path)
    elif kind == "list" and isinstance(value, list) and node is not None:
        element = types.items(node)
        for index, item in enumerate(value):
            item_path = path + (item_element(types, node, item, index),)
            _walk_set(types, element, item, item_path, found)
            found.add(item_path)
    elif path:
        found.add(path)


def problems(types: Types, node: Schema, obj: Any) -> list[str]:
    """What keeps ``obj`` from being a typed value of the schema, in upstream's words: fields a
    struct does not declare, and list-map items with the same keys."""
    found: list[str] = []
    _walk_problems(types, node, obj, (), found)
    return found


def _walk_problems(types: Types, node: Schema, value: Any, path: Path, found: list[str]) -> None:
    kind = types.kind(node)
    if kind == "struct" and isinstance(value, dict) and not (node or {}).get("x-kubernetes-preserve-unknown-fields"):
        for name, child in value.items():
            if not types.declares(node, name) and not isinstance((node or {}).get("additionalProperties"), dict):
                found.append(f"{path_string(path + ('f:' + name,))}: field not declared in schema")
            else:
                _walk_problems(types, types.child(node, name), child, path + ("f:" + name,), found)
    elif kind in ("map", "deduced") and isinstance(value, dict):
        for name, child in value.items():
            _walk_problems(types, types.child(node, name), child, path + ("f:" + name,), found)
    elif kind == "list" and isinstance(value, list) and node is not None:
        seen: set[str] = set()
        for index, item in enumerate(value):
            element = item_element(types, node, item, index)
            if element in seen and not element.startswith("i:"):
                found.append(f"{path_string(path)}: duplicate entries for key {path_string((element,))}")
            seen.add(element)
            _walk_problems(types, types.items(node), item, path + (element,), found)


# --- comparing two versions of an object -----------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    def same(self) -> bool:
        return not (self.added or self.modified or self.removed)

    def changed(self) -> FieldSet:
        return self.added | self.modified


# Fields that an empty Go object already has (value structs, slices without omitempty): a new
# object does not *add* these nodes, only what is under them, as upstream compares a create with
# the zero value of the kind.
_ZERO_PRESENT = {"metadata", "spec", "status", "template", "jobTemplate", "strategy", "updateStrategy",
                 "containers", "loadBalancer", "daemonEndpoints", "nodeInfo"}


def compare(types: Types, node: Schema, old: Any, new: Any) -> Comparison:
    """The paths ``new`` adds, changes and removes compared with ``old`` (None: a new object)."""
    added: set[Path] = set()
    modified: set[Path] = set()
    removed: set[Path] = set()
    _compare(types, node, {} if old is None else old, new, (), (added, modified, removed), old is None)
    return Comparison(frozenset(added), frozenset(modified), frozenset(removed))


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _compare(types: Types, node: Schema, old: Any, new: Any, path: Path,
             out: tuple[set[Path], set[Path], set[Path]], zero: bool) -> None:
    if old is not _ABSENT and _same(old, new):
        return   # an unchanged subtree (most of any write): nothing below it changed
    added, modified, removed = out
    if not isinstance(old, (dict, list)) and not isinstance(new, (dict, list)):
        kind = "scalar"   # two scalars (or one and nothing): a leaf whatever the schema says
    else:
        kind = types.kind(node)
    both_maps = isinstance(old, dict) and isinstance(new, dict)
    both_lists = isinstance(old, list) and isinstance(new, list)
    granular = (kind in ("struct", "map", "deduced") and (both_maps or _one_is(old, new, dict))) or \
               (kind == "list" and (both_lists or _one_is(old, new, list)))
    if not granular:
        if old is _ABSENT:
            added.add(path)
        elif new is _ABSENT:
            removed.add(path)
        elif not _same(old, new):
            modified.add(path)
        return
    if isinstance(old, dict) or isinstance(new, dict):
        olds, news = (old if isinstance(old, dict) else {}), (new if isinstance(new, dict) else {})
        for name in list(olds) + [n for n in news if n not in olds]:
            _compare(types, types.child(node, name), olds.get(name, _ABSENT), news.get(name, _ABSENT),
                     path + ("f:" + name,), out, zero and name in _ZERO_PRESENT and name not in olds)
    else:
        assert node is not None
        element = types.items(node)
        olds_l = _keyed(types, node, old if isinstance(old, list) else [])
        news_l = _keyed(types, node, new if isinstance(new, list) else [])
        for key in list(olds_l) + [k for k in news_l if k not in olds_l]:
            _compare(types, element, olds_l.get(key, _ABSENT), news_l.get(key, _ABSENT), path + (key,), out, False)
    if path and not zero:
        if old is _ABSENT:
            added.add(path)
        elif new is _ABSENT:
            removed.add(path)


def _one_is(old: Any, new: Any, kind: type) -> bool:
    return (old is _ABSENT and isinstance(new, kind)) or (new is _ABSENT and isinstance(old, kind))


def _keyed(types: Types, node: dict[str, Any], items: list[Any]) -> dict[str, Any]:
    return {item_element(types, node, item, i): item for i, item in enumerate(items)}


# --- merging an applied configuration into the live object -----------------------------------

def merge(types: Types, node: Schema, live: Any, config: Any) -> Any:
    """``config`` merged over ``live``: granular maps and lists merge member by member,
    everything else (scalars, atomic lists and maps) is replaced by the configuration's."""
    return _merge(types, node, live, config)


def _merge(types: Types, node: Schema, live: Any, config: Any) -> Any:
    if live is _ABSENT or live is None:
        return deep_copy(config)
    kind = types.kind(node)
    if kind in ("struct", "map", "deduced") and isinstance(live, dict) and isinstance(config, dict):
        result = dict(live)
        for name, value in config.items():
            result[name] = _merge(types, types.child(node, name), live.get(name, _ABSENT), value)
        return result
    if kind == "list" and isinstance(live, list) and isinstance(config, list) and node is not None:
        element = types.items(node)
        merged = list(live)
        where = {item_element(types, node, item, i): i for i, item in enumerate(live)}
        for i, item in enumerate(config):
            key = item_element(types, node, item, i)
            if key in where and not key.startswith("i:"):
                merged[where[key]] = _merge(types, element, merged[where[key]], item)
            elif key.startswith("i:") and i < len(merged):
                merged[i] = _merge(types, element, merged[i], item)
            else:
                merged.append(deep_copy(item))
        return merged
    return deep_copy(config)


def drop_nulls(value: Any) -> Any:
    """A configuration without its ``null`` fields (minik8s does not own nulls)."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


# --- removing fields -------------------------------------------------------------------------

def remove(types: Types, node: Schema, obj: Any, paths: Iterable[Path]) -> Any:
    """A copy of ``obj`` without the nodes at ``paths`` (and what is under them). A map or list
    left empty by a removal goes too, as upstream's removal leaves it null."""
    result = deep_copy(obj)
    for path in sorted(paths, key=len):
        if path:
            _remove_one(types, node, result, path)
    return result


def _remove_one(types: Types, node: Schema, value: Any, path: Path) -> bool:
    """Remove ``path`` under ``value``; True when something was removed."""
    element, rest = path[0], path[1:]
    if element.startswith("f:") and isinstance(value, dict):
        key: Any = element[2:]
        if key not in value:
            return False
        child_node = types.child(node, key)
    elif isinstance(value, list) and node is not None:
        key = next((i for i, item in enumerate(value) if item_element(types, node, item, i) == element), None)
        if key is None:
            return False
        child_node = types.items(node)
    else:
        return False
    if rest:
        child = value[key]
        if not _remove_one(types, child_node, child, rest):
            return False
        if isinstance(value, list) or child not in ({}, []):
            return True
    del value[key]
    return True


def is_key_field(path: Path) -> bool:
    """Whether ``path`` is a key field of a list-map item (``...k:{"name":"a"}, f:name``): it goes
    with its item, never alone."""
    return len(path) >= 2 and path[-2].startswith("k:") and path[-1][2:] in json.loads(path[-2][2:])


def prefixes(paths: Iterable[Path]) -> Iterator[Path]:
    """Every proper prefix of every path (the nodes above them)."""
    for path in paths:
        for end in range(len(path)):
            yield path[:end]
