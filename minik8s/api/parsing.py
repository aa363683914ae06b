"""Parsing manifests and request bodies, with bounds an attacker cannot push past.

Everything that turns text into an object goes through here: the API server's
request bodies, ``minik8s kubectl -f`` files and stdin (and so ``Cluster.apply``
and the ``%%kubectl`` magic), and kubeconfig files. A parser is an attack surface:
a 377-byte YAML "billion laughs" (each anchor a list of nine aliases of the one
before) expands to gigabytes, and a body nested 5,000 levels deep overflows a
recursive walk. So parsing is bounded three ways:

* **size**: at most ``MAX_BYTES`` of text per call (the API server's 3 MiB
  request limit);
* **depth**: at most ``MAX_DEPTH`` nested lists and maps. Upstream's decoders stop
  at 10,000 (Go's ``encoding/json`` and go-yaml's ``max_flow_level``); minik8s stops
  far sooner because the store encodes objects with orjson, which refuses more
  than 254 levels, and because Python walks objects recursively;
* **expansion**: a YAML document with its aliases written out may be no larger
  than ``MAX_EXPANDED_BYTES``, so aliases can never make a document bigger than
  one the server would accept written in full.

YAML is composed event by event (libyaml's C parser when PyYAML has it), with an
explicit stack instead of recursion: depth is checked as each list or map opens,
and each node's expanded size is computed once, when it closes, so an alias costs
a dictionary look-up however large its anchor is. Only a document that passes is
constructed into Python values. JSON is parsed by the standard library's decoder,
which also reports duplicate keys.

Duplicate keys are not errors when parsing (the last one wins, as in Go), but they
are recorded as upstream's strict-decoding messages, which the API server turns
into an error (``fieldValidation=Strict``) or a warning (``Warn``):
``duplicate field "spec.replicas"`` for JSON, go-yaml's ``yaml: unmarshal errors:``
``line 7: key "replicas" already set in map`` for YAML.

Interface:
    load_json(data) -> Parsed                  # one JSON value
    load_yaml(text) -> Parsed                  # the first YAML document (None if empty)
    load_yaml_all(text) -> list[Parsed]        # every document of a stream
    safe_load(text) / safe_load_all(text)      # values only: drop-in for yaml.safe_load(_all)
    check_depth(value)                          # the depth bound, for values decoded elsewhere (protobuf)
    ParseError                                  # what went wrong, in upstream's words

Every value returned is plain JSON data (dict, list, str, int, float, bool, None),
with no shared sub-objects: YAML timestamps become strings and non-string keys are
written as strings, as Kubernetes' YAML-to-JSON conversion does.

Taught in chapter 3 (the API: objects, kinds and schemas).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml
from yaml.events import (AliasEvent, CollectionStartEvent, DocumentEndEvent, MappingEndEvent,
                         ScalarEvent, SequenceEndEvent, SequenceStartEvent, StreamEndEvent)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# Tunables.
MAX_BYTES = 3 * 1024 * 1024           # the largest text one call parses (upstream's request body limit)
MAX_EXPANDED_BYTES = 3 * 1024 * 1024  # the largest a YAML document may become with its aliases written out
MAX_DEPTH = 200                       # nested lists and maps (upstream: 10,000; orjson stores at most 254)

# libyaml's C parser when PyYAML was built with it: several times faster, same results.
_Loader: Any = yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


class ParseError(ValueError):
    """Text that cannot be parsed, or that would exceed a bound.

    ``str(err)`` is the detail in upstream's words without its frame, e.g.
    ``yaml: document contains excessive aliasing``; the API server wraps it as
    upstream does (``error converting YAML to JSON: ...``)."""

    def __init__(self, message: str, *, yaml_text: bool):
        super().__init__(message)
        self.yaml = yaml_text

    @property
    def upstream(self) -> str:
        """The message as Kubernetes' object decoder frames it."""
        if self.yaml:
            return f"error converting YAML to JSON: {self}"
        return f"couldn't get version/kind; json parse error: {self}"


@dataclass
class Parsed:
    """One parsed document: its value and the strict-decoding errors found on the way
    (duplicate keys), in upstream's words."""

    value: Any
    strict_errors: list[str] = field(default_factory=list)


# --- JSON --------------------------------------------------------------------------------


def load_json(data: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Parsed:
    """Parse one JSON value. Raises :class:`ParseError` for bad syntax, NaN/Infinity (not
    JSON), more than ``max_bytes`` or more than ``max_depth`` levels."""
    _check_size(data, max_bytes, yaml_text=False)
    duplicated: dict[int, list[str]] = {}  # id(object) -> its keys given more than once

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)  # the last value of a duplicate key wins, as in Go
        if len(obj) != len(items):
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    duplicated.setdefault(id(obj), []).append(key)
                seen.add(key)
        return obj

    def constant(name: str) -> Any:
        raise ParseError(f"invalid character '{name[0]}' looking for beginning of value", yaml_text=False)

    try:
        value = json.loads(data, object_pairs_hook=pairs, parse_constant=constant)
    except RecursionError:
        raise _too_deep(max_depth, yaml_text=False) from None
    except json.JSONDecodeError as exc:
        if not exc.doc[exc.pos:].strip():  # what Go says of empty and truncated input alike
            raise ParseError("unexpected end of JSON input", yaml_text=False) from None
        raise ParseError(exc.msg.lower() + f" at offset {exc.pos}", yaml_text=False) from None
    except UnicodeDecodeError as exc:
        raise ParseError(f"invalid UTF-8 at offset {exc.start}", yaml_text=False) from None
    paths = _walk_depth(value, max_depth, set(duplicated), yaml_text=False)
    return Parsed(value, [f'duplicate field "{_join(paths[i], key)}"' for i, keys in duplicated.items()
                          for key in keys])


def check_depth(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a value decoded some other way (protobuf) that nests deeper than ``max_depth``."""
    _walk_depth(value, max_depth, set(), yaml_text=False)


def _walk_depth(value: Any, max_depth: int, wanted: set[int], *, yaml_text: bool) -> dict[int, str]:
    """Refuse values nested deeper than ``max_depth``, without recursion; returns the
    field path of each container whose id is in ``wanted`` (paths are only built then)."""
    found: dict[int, str] = {}
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        item, depth, path = stack.pop()
        if depth > max_depth:
            raise _too_deep(max_depth, yaml_text=yaml_text)
        if id(item) in wanted:
            found[id(item)] = path
        if isinstance(item, dict):
            stack.extend((v, depth + 1, _join(path, k) if wanted else "")
                         for k, v in item.items() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1, f"{path}[{i}]" if wanted else "")
                         for i, v in enumerate(item) if isinstance(v, (dict, list)))
    return found


# --- YAML --------------------------------------------------------------------------------


def load_yaml_all(text: str | bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
                  max_expanded: int = MAX_EXPANDED_BYTES) -> list[Parsed]:
    """Parse every document of a YAML stream (empty documents give ``None``)."""
    _check_size(text, max_bytes, yaml_text=True)
    loader = _Loader(text)
    try:
        loader.get_event()  # StreamStartEvent
        documents = []
        while not loader.check_event(StreamEndEvent):
            node, errors = _Composer(loader, max_depth, max_expanded).document()
            documents.append(Parsed(_construct(loader, node), errors))
        return documents
    except yaml.YAMLError as exc:
        if "maximum nesting depth" in str(getattr(exc, "problem", "") or ""):
            # libyaml (PyYAML 6.0.4 and later) has a depth limit of its own: say it in our words.
            raise _too_deep(max_depth, yaml_text=True) from None
        raise ParseError(_yaml_message(exc), yaml_text=True) from None
    except RecursionError:  # a merge-key chain deeper than the stack: the depth bound, reached another way
        raise _too_deep(max_depth, yaml_text=True) from None
    finally:
        loader.dispose()


def load_yaml(text: str | bytes, **bounds: int) -> Parsed:
    """Parse the first document of a YAML stream, as ``yaml.safe_load`` does."""
    documents = load_yaml_all(text, **bounds)
    return documents[0] if documents else Parsed(None)


def safe_load(text: str | bytes, **bounds: int) -> Any:
    """``yaml.safe_load`` with the bounds of this module (for kubeconfig files and the like)."""
    return load_yaml(text, **bounds).value


def safe_load_all(text: str | bytes, **bounds: int) -> list[Any]:
    """``yaml.safe_load_all`` with the bounds of this module, as a list."""
    return [document.value for document in load_yaml_all(text, **bounds)]


@dataclass
class _Open:
    """A list or map being composed: its node, its expanded size so far, the key
    waiting for its value (maps) and the keys seen (maps)."""

    node: SequenceNode | MappingNode
    size: int = 2
    key: ScalarNode | Node | None = None
    seen: set[str] = field(default_factory=set)


class _Composer:
    """Builds one document's node graph from parser events, with an explicit stack."""

    def __init__(self, loader: Any, max_depth: int, max_expanded: int):
        self.loader = loader
        self.max_depth = max_depth
        self.max_expanded = max_expanded
        self.anchors: dict[str, Node] = {}
        self.sizes: dict[int, int] = {}  # id(anchored node) -> its expanded size, once closed
        self.stack: list[_Open] = []
        self.root: Node | None = None
        self.duplicates: list[str] = []

    def document(self) -> tuple[Node | None, list[str]]:
        self.loader.get_event()  # DocumentStartEvent
        while True:
            event = self.loader.get_event()
            if isinstance(event, DocumentEndEvent):
                break
            if isinstance(event, (SequenceEndEvent, MappingEndEvent)):
                closed = self.stack.pop()
                if closed.node.anchor_name is not None:  # type: ignore[union-attr]
                    self.sizes[id(closed.node)] = closed.size
                self._attach(closed.node, closed.size)
            elif isinstance(event, AliasEvent):
                self._alias(event)
            elif isinstance(event, ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = self.loader.resolve(ScalarNode, event.value, event.implicit)
                node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
                self._anchor(event.anchor, node)
                if event.anchor is not None:
                    self.sizes[id(node)] = len(event.value) + 2
                self._attach(node, len(event.value) + 2)
            elif isinstance(event, CollectionStartEvent):
                self._open(event)
        errors = [] if not self.duplicates else ["yaml: unmarshal errors:\n" + "\n".join(self.duplicates)]
        return self.root, errors

    def _open(self, event: Any) -> None:
        if len(self.stack) >= self.max_depth:
            raise _too_deep(self.max_depth, yaml_text=True)
        kind = SequenceNode if isinstance(event, SequenceStartEvent) else MappingNode
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.loader.resolve(kind, None, event.implicit)
        node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
        node.anchor_name = event.anchor  # type: ignore[attr-defined]
        self._anchor(event.anchor, node)
        self.stack.append(_Open(node))

    def _alias(self, event: Any) -> None:
        node = self.anchors.get(event.anchor)
        if node is None:
            raise ParseError(f"yaml: unknown anchor '{event.anchor}' referenced", yaml_text=True)
        if id(node) not in self.sizes:  # still open: the anchor's value would contain itself
            raise ParseError(f"yaml: anchor '{event.anchor}' value contains itself", yaml_text=True)
        self._attach(node, self.sizes[id(node)])

    def _anchor(self, anchor: str | None, node: Node) -> None:
        if anchor is not None:
            self.anchors[anchor] = node  # a later anchor of the same name replaces it, as in PyYAML

    def _attach(self, node: Node, size: int) -> None:
        if not self.stack:
            if size > self.max_expanded:
                raise _excessive()
            self.root = node
            return
        parent = self.stack[-1]
        parent.size += size
        if parent.size > self.max_expanded:
            raise _excessive()
        if isinstance(parent.node, SequenceNode):
            parent.node.value.append(node)
        elif parent.key is None:
            parent.key = node
            if isinstance(node, ScalarNode) and node.tag != "tag:yaml.org,2002:merge":
                if node.value in parent.seen:
                    self.duplicates.append(f'  line {node.start_mark.line + 1}: key "{node.value}" already set in map')
                parent.seen.add(node.value)
        else:
            parent.node.value.append((parent.key, node))
            parent.key = None


def _construct(loader: Any, node: Node | None) -> Any:
    """Python values from a checked node graph, then a JSON round trip so the result is
    plain JSON data with no shared parts (an alias becomes a copy, as Go decodes it)."""
    if node is None:
        return None
    value = loader.construct_document(node)
    try:
        return orjson.loads(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS))
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise ParseError(f"yaml: cannot convert to JSON: {exc}", yaml_text=True) from None


def _yaml_message(exc: yaml.YAMLError) -> str:
    """go-yaml's shape: ``yaml: line 3: mapping values are not allowed in this context``."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"yaml: line {mark.line + 1}: {problem}" if mark is not None else f"yaml: {problem}"


# --- shared ------------------------------------------------------------------------------


def _check_size(text: str | bytes, limit: int, *, yaml_text: bool) -> None:
    if len(text) > limit:
        raise ParseError(f"the document is larger than {limit} bytes", yaml_text=yaml_text)


def _too_deep(limit: int, *, yaml_text: bool) -> ParseError:
    # go-yaml and Go's encoding/json both say "exceeded max depth"; their limit is 10,000.
    return ParseError(f"{'yaml: ' if yaml_text else ''}exceeded max depth of {limit}", yaml_text=yaml_text)


def _excessive() -> ParseError:
    return ParseError("yaml: document contains excessive aliasing", yaml_text=True)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)
