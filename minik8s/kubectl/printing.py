"""kubectl's output formats: tables, YAML, JSON, names, JSONPath, custom columns.

The server computes a Table's cells (:mod:`minik8s.apiserver.tables`); kubectl
only lays them out. Layout is Go's ``text/tabwriter``: each cell is padded to
the widest cell of its column plus three spaces (minimum width six), headers
are upper-cased, and the last cell of a line is never padded, so lines carry no
trailing spaces. ``-o wide`` adds the priority-1 columns, ``-A`` prepends
NAMESPACE, ``-L key`` and ``--show-labels`` append label columns, and several
kinds printed together name rows ``kind/name``.

Interface:
    tabwrite(lines, minwidth=6, padding=3) -> str      # Go's tabwriter on "\\t"-separated lines
    render_table(table, *, wide, show_labels, no_headers, with_namespace, label_columns, show_kind,
                 resource_prefix) -> str
    TableWatchPrinter / render_watch_row(...)            # ``get -w``: header once, widths remembered
    no_resources_message(namespace, all_namespaces) -> str
    as_list(objects) -> dict                             # kubectl's ``kind: List`` wrapper
    to_yaml(obj) / to_json(obj) / to_name(resource, obj)
    jsonpath(template, obj) -> str
    custom_columns(spec, objs, *, no_headers=False) -> str

Taught in chapter 3 (kubectl and describing objects).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

import yaml

from minik8s.api.resources import Resource

Obj = dict[str, Any]

# kubectl's GetNewTabWriter: minwidth 6, padding 3, pad with spaces.
TABLE_MINWIDTH, TABLE_PADDING = 6, 3


# ---------------------------------------------------------------------------
# Go's text/tabwriter
# ---------------------------------------------------------------------------

def _column_widths(rows: list[list[str]], minwidth: int, padding: int, remembered: list[int] | None) -> list[list[int]]:
    """Per line, the width of each tab-terminated cell.

    Go's tabwriter aligns a column only across a *block*: consecutive lines
    that all have a tab-terminated cell in that column. A line with fewer cells
    ends the block, which is how ``describe`` aligns each section separately.
    """
    widths: list[list[int]] = [[] for _ in rows]

    def block(line0: int, line1: int, column: int) -> None:
        this = line0
        while this < line1:
            if column >= len(rows[this]) - 1:
                this += 1
                continue
            start = this
            width = minwidth
            while this < line1 and column < len(rows[this]) - 1:
                width = max(width, len(rows[this][column]) + padding)
                this += 1
            if remembered is not None:
                if column < len(remembered):
                    width = max(width, remembered[column])
                    remembered[column] = width
                else:
                    remembered.append(width)
            for line in range(start, this):
                widths[line].append(width)
            block(start, this, column + 1)

    block(0, len(rows), 0)
    return widths


def tabwrite(text_lines: list[str], minwidth: int = TABLE_MINWIDTH, padding: int = TABLE_PADDING,
             remembered: list[int] | None = None) -> str:
    """Lay out ``\\t``-separated lines as Go's tabwriter would (left-aligned, space padding).

    ``remembered`` carries column widths across calls, like the RememberWidths
    flag kubectl's tabwriter uses so ``get -w`` rows stay aligned.
    """
    rows = [line.split("\t") for line in text_lines]
    widths = _column_widths(rows, minwidth, padding, remembered)
    out = []
    for cells, cell_widths in zip(rows, widths):
        parts = [cell.ljust(width) for cell, width in zip(cells, cell_widths)]
        parts.extend(cells[len(cell_widths):])
        out.append("".join(parts))
    return "".join(line + "\n" for line in out)


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------

def format_cell(cell: Any) -> str:
    """A cell as Go's ``fmt.Sprint`` prints the decoded JSON value."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    text = str(cell)
    # kubectl cuts a cell at its first line break and marks the cut.
    for index, char in enumerate(text):
        if char in "\f\n\r":
            return text[:index] + "..."
    return text


def format_labels(labels: dict[str, str] | None) -> str:
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _label_header(key: str) -> str:
    return key.rsplit("/", 1)[-1].upper()


def _row_meta(row: Obj) -> Obj | None:
    obj = row.get("object")
    return (obj.get("metadata") or {}) if isinstance(obj, dict) else None


def _table_lines(table: Obj, *, wide: bool, show_labels: bool, no_headers: bool, with_namespace: bool,
                 label_columns: list[str], resource_prefix: str | None, event_type: str | None = None) -> list[str]:
    columns = table.get("columnDefinitions") or []
    visible = [i for i, col in enumerate(columns) if wide or not col.get("priority")]
    name_column = next((i for i, col in enumerate(columns)
                        if col.get("format") == "name" and col.get("type") == "string"), -1)
    lines = []
    if not no_headers:
        header = [columns[i]["name"].upper() for i in visible]
        header = (["NAMESPACE"] if with_namespace else []) + header + [_label_header(k) for k in label_columns]
        header += ["LABELS"] if show_labels else []
        lines.append("\t".join((["EVENT"] if event_type else []) + header))
    for row in table.get("rows") or []:
        cells = list(row.get("cells") or [])
        meta = _row_meta(row)
        if resource_prefix and 0 <= name_column < len(cells):
            cells[name_column] = f"{resource_prefix}/{format_cell(cells[name_column])}"
        texts = [format_cell(cells[i]) if i < len(cells) else "" for i in visible]
        if with_namespace:
            texts.insert(0, (meta or {}).get("namespace", ""))
        labels = (meta or {}).get("labels") or {}
        if meta is not None:
            texts += [labels.get(key, "") for key in label_columns]
            texts += [format_labels(labels)] if show_labels else []
        if event_type:
            texts.insert(0, {"ADDED": "ADDED   ", "MODIFIED": "MODIFIED", "DELETED": "DELETED ",
                             "ERROR": "ERROR   "}.get(event_type, event_type))
        lines.append("\t".join(texts))
    return lines


def render_table(table: Obj, *, wide: bool = False, show_labels: bool = False, no_headers: bool = False,
                 with_namespace: bool = False, label_columns: list[str] | None = None, show_kind: bool = False,
                 resource_prefix: str | None = None) -> str:
    """What ``kubectl get`` prints for a server Table.

    ``resource_prefix`` (``pod``, ``deployment.apps``) turns names into
    ``deployment.apps/nginx``, as kubectl does when several kinds are printed
    together or with ``--show-kind``; ``show_kind`` without a prefix changes
    nothing because a Table row does not carry its kind. An empty table prints
    nothing (kubectl then says "No resources found" on stderr).
    """
    del show_kind  # the caller passes resource_prefix; kept for kubectl's flag name
    if not table.get("rows"):
        return ""
    return tabwrite(_table_lines(table, wide=wide, show_labels=show_labels, no_headers=no_headers,
                                 with_namespace=with_namespace, label_columns=list(label_columns or []),
                                 resource_prefix=resource_prefix))


@dataclass
class TableWatchPrinter:
    """``kubectl get -w``: the header once, then each change as a row, widths only growing.

    Each call to :meth:`print` renders one Table (the initial list, or one watch
    event's row) and returns the text to write.
    """

    wide: bool = False
    with_namespace: bool = False
    show_labels: bool = False
    label_columns: list[str] = field(default_factory=list)
    output_watch_events: bool = False
    _columns: list[Obj] = field(default_factory=list)
    _printed_header: bool = False
    _widths: list[int] = field(default_factory=list)

    def print(self, table: Obj, event_type: str | None = None) -> str:
        columns = table.get("columnDefinitions") or self._columns
        if columns != self._columns:
            self._columns, self._printed_header, self._widths = columns, False, []
        if not table.get("rows"):
            return ""
        lines = _table_lines({**table, "columnDefinitions": columns}, wide=self.wide, show_labels=self.show_labels,
                             no_headers=self._printed_header, with_namespace=self.with_namespace,
                             label_columns=self.label_columns, resource_prefix=None,
                             event_type=event_type if self.output_watch_events else None)
        self._printed_header = True
        return tabwrite(lines, remembered=self._widths)


def render_watch_row(printer: TableWatchPrinter, table: Obj, event_type: str | None = None) -> str:
    """One step of ``get -w`` output (see :class:`TableWatchPrinter`)."""
    return printer.print(table, event_type)


def no_resources_message(namespace: str | None, all_namespaces: bool) -> str:
    """kubectl's stderr line when a list is empty."""
    if namespace and not all_namespaces:
        return f"No resources found in {namespace} namespace."
    return "No resources found"


# ---------------------------------------------------------------------------
# YAML, JSON, name
# ---------------------------------------------------------------------------

def as_list(objects: list[Obj]) -> Obj:
    """How kubectl wraps several objects for ``-o yaml|json``."""
    return {"apiVersion": "v1", "items": objects, "kind": "List", "metadata": {"resourceVersion": ""}}


class _GoYAMLDumper(yaml.SafeDumper):
    """PyYAML tuned to print what kubectl's YAML (go-yaml v2 via sigs.k8s.io/yaml) prints."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    # A string that would read back as another type ("1", "true", "", a timestamp)
    # is double-quoted, as go-yaml does; the emitter picks single quotes for the rest when needed.
    resolved = dumper.resolve(yaml.ScalarNode, value, (True, False))
    style = '"' if resolved != "tag:yaml.org,2002:str" else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_GoYAMLDumper.add_representer(str, _represent_str)


def omit_managed_fields(obj: Any) -> Any:
    """The document without ``metadata.managedFields`` (of it, or of each item of a List), as kubectl
    prints objects unless ``--show-managed-fields``."""
    if not isinstance(obj, dict):
        return obj
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    if isinstance(obj.get("items"), list):
        obj = {**obj, "items": [omit_managed_fields(item) for item in obj["items"]]}
    return obj


def to_yaml(obj: Any, show_managed_fields: bool = False) -> str:
    """``kubectl -o yaml``: keys sorted, sequences not indented under their key."""
    if not show_managed_fields:
        obj = omit_managed_fields(obj)
    return yaml.dump(obj, Dumper=_GoYAMLDumper, default_flow_style=False, sort_keys=True, allow_unicode=True,
                     width=80)


def to_json(obj: Any, show_managed_fields: bool = False) -> str:
    """``kubectl -o json``: four-space indent, sorted keys, Go's HTML-safe escapes.

    No trailing newline: the caller writes one, as kubectl's printer does after the document."""
    if not show_managed_fields:
        obj = omit_managed_fields(obj)
    text = json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return text


def to_name(resource: Resource, obj: Obj) -> str:
    """``kubectl -o name``: ``pod/nginx``, ``deployment.apps/nginx``."""
    return f"{resource.kind_ref}/{(obj.get('metadata') or {}).get('name', '')}"


# ---------------------------------------------------------------------------
# JSONPath (k8s.io/client-go/util/jsonpath, the subset people use)
# ---------------------------------------------------------------------------

class JSONPathError(ValueError):
    """A template kubectl would reject."""


_MISSING = object()


DRY_RUN_SUFFIX = {"client": " (dry run)", "true": " (dry run)", "server": " (server dry run)"}


def print_written(resource: Resource, obj: Obj, verb: str, output: str | None, dry_run: str | None) -> str:
    """What a command that writes one object prints: the object with ``-o yaml|json|name``, else
    ``service/web created`` (``exposed``, ``autoscaled``...), marked ``(dry run)`` as kubectl marks it."""
    if output == "yaml":
        return to_yaml(obj)
    if output == "json":
        return to_json(obj) + "\n"
    if output == "name":
        return to_name(resource, obj) + "\n"
    return f"{resource.kind_ref}/{obj['metadata']['name']} {verb}{DRY_RUN_SUFFIX.get(dry_run or '', '')}\n"


def _go_text(value: Any) -> str:
    """How kubectl prints one JSONPath result: scalars as text, maps and lists as compact JSON."""
    if isinstance(value, (dict, list)):
        return to_json_compact(value)
    if value is None:
        return "<nil>"
    return format_cell(value) if not isinstance(value, str) else value


def to_json_compact(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _split_template(template: str) -> Iterator[tuple[str, str]]:
    """("text", literal) and ("expr", inside-braces) pieces; braces inside quotes don't count."""
    i, text = 0, []
    while i < len(template):
        if template[i] != "{":
            text.append(template[i])
            i += 1
            continue
        if text:
            yield "text", "".join(text)
            text = []
        depth, j, quote = 0, i, ""
        while j < len(template):
            char = template[j]
            if quote:
                if char == "\\":
                    j += 1
                elif char == quote:
                    quote = ""
            elif char in "\"'":
                quote = char
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= len(template):
            raise JSONPathError("unclosed action")
        yield "expr", template[i + 1:j].strip()
        i = j + 1
    if text:
        yield "text", "".join(text)


_TOKEN = re.compile(r"""
    (?P<recursive>\.\.)(?P<rname>[\w\-/\\.]+?(?=\.|\[|$)|\*)?
  | \.(?P<name>(?:\\.|[^.\[\\])+|\*)?
  | \[(?P<bracket>(?:'[^']*'|"[^"]*"|\?\(.*?\)|[^\]])*)\]
""", re.VERBOSE)


def _tokens(path: str) -> list[tuple[str, str]]:
    if path.startswith("$"):
        path = path[1:]
    out, pos = [], 0
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        if not match:
            raise JSONPathError(f"unrecognized character in action: {path[pos:]!r}")
        if match.group("recursive"):
            out.append(("recursive", (match.group("rname") or "").replace("\\.", ".")))
        elif match.group("bracket") is not None:
            out.append(("bracket", match.group("bracket").strip()))
        else:
            out.append(("field", (match.group("name") or "").replace("\\.", ".")))
        pos = match.end()
    return out


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    if isinstance(value, list):
        return list(value)
    return []


def _descend(value: Any) -> list[Any]:
    found = [value]
    for child in _children(value):
        found.extend(_descend(child))
    return found


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is _MISSING:
        return False
    try:
        return {"==": left == right, "!=": left != right, "<": left < right, ">": left > right,
                "<=": left <= right, ">=": left >= right}[op]
    except TypeError:
        return False


def _literal(text: str) -> Any:
    text = text.strip()
    if text[:1] in "\"'":
        return text[1:-1]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text, text)


def _filter(items: list[Any], expr: str) -> list[Any]:
    match = re.fullmatch(r"\s*(@[^=!<>]*?)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*", expr)
    out = []
    for item in _children(items) if isinstance(items, (dict, list)) else []:
        if match:
            left = _evaluate(item, match.group(1)[1:])
            value = left[0] if left else _MISSING
            if _compare(value, match.group(2), _literal(match.group(3))):
                out.append(item)
        elif _evaluate(item, expr.strip()[1:]):
            out.append(item)
    return out


def _index(values: list[Any], spec: str) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if spec == "*":
            out.extend(_children(value))
        elif spec.startswith("?(") and spec.endswith(")"):
            out.extend(_filter(value, spec[2:-1]))
        elif spec[:1] in "\"'":
            for key in (k.strip()[1:-1] for k in spec.split(",")):
                if isinstance(value, dict) and key in value:
                    out.append(value[key])
        elif not isinstance(value, list):
            continue
        elif ":" in spec:
            parts = [int(p) if p.strip() else None for p in spec.split(":")] + [None]
            out.extend(value[slice(parts[0], parts[1], parts[2])])
        else:
            for part in spec.split(","):
                index = int(part)
                if -len(value) <= index < len(value):
                    out.append(value[index])
    return out


def _evaluate(root: Any, path: str) -> list[Any]:
    values = [root]
    for kind, arg in _tokens(path):
        if kind == "field":
            if arg in ("", "*"):
                values = values if arg == "" else [c for v in values for c in _children(v)]
                continue
            values = [v[arg] for v in values if isinstance(v, dict) and arg in v]
        elif kind == "recursive":
            everything = [d for v in values for d in _descend(v)]
            values = everything if arg in ("", "*") else \
                [d[arg] for d in everything if isinstance(d, dict) and arg in d]
        else:
            values = _index(values, arg)
    return values


def _render(pieces: list[tuple[str, str]], data: Any, out: list[str]) -> None:
    i = 0
    while i < len(pieces):
        kind, text = pieces[i]
        if kind == "text":
            out.append(text)
        elif text.startswith("range "):
            depth, j = 1, i + 1
            while j < len(pieces) and depth:
                if pieces[j][0] == "expr" and pieces[j][1].startswith("range "):
                    depth += 1
                elif pieces[j] == ("expr", "end"):
                    depth -= 1
                j += 1
            if depth:
                raise JSONPathError("not in range, nothing to end")
            for item in _evaluate(data, text[len("range "):].strip()):
                _render(pieces[i + 1:j - 1], item, out)
            i = j
            continue
        elif text[:1] in "\"'":
            out.append(json.loads('"' + text[1:-1].replace('"', '\\"') + '"') if text[0] == '"' else text[1:-1])
        elif text == "end":
            raise JSONPathError("not in range, nothing to end")
        else:
            out.append(" ".join(_go_text(v) for v in _evaluate(data, text)))
        i += 1


def jsonpath(template: str, obj: Any) -> str:
    """``kubectl -o jsonpath=TEMPLATE``: several results of one expression are space-separated;
    missing fields print nothing (kubectl allows missing keys)."""
    out: list[str] = []
    _render(list(_split_template(template)), obj, out)
    return "".join(out)


# ---------------------------------------------------------------------------
# custom-columns
# ---------------------------------------------------------------------------

def _go_value(value: Any) -> str:
    """Go's ``%v`` of a decoded JSON value: ``map[a:b]``, ``[x y]``."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{_go_value(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(_go_value(v) for v in value) + "]"
    return _go_text(value)


def _relaxed(path: str) -> str:
    """kubectl's RelaxedJSONPathExpression: ``.metadata.name``, ``metadata.name`` or ``{.metadata.name}``."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    return path if path.startswith(".") else "." + path


def custom_columns(spec: str, objs: list[Obj], *, no_headers: bool = False) -> str:
    """``kubectl -o custom-columns=NAME:.metadata.name,STATUS:.status.phase``."""
    columns = []
    for part in spec.split(","):
        header, sep, path = part.partition(":")
        if not sep:
            raise JSONPathError(f"unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>")
        columns.append((header, _relaxed(path)))
    lines = [] if no_headers else ["\t".join(h for h, _ in columns)]
    for obj in objs:
        cells = []
        for _, path in columns:
            values = _evaluate(obj, path)
            cells.append(",".join(_go_value(v) for v in values) if values else "<none>")
        lines.append("\t".join(cells))
    return tabwrite(lines)
