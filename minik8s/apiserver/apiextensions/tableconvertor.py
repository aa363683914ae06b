"""The Table of a custom resource: its CRD's ``additionalPrinterColumns``.

``kubectl get crontabs`` asks for a Table, as for any kind. Upstream's apiextensions-apiserver builds
it from the version's ``additionalPrinterColumns``: a NAME column, then one column per entry, whose
cell is the value at the entry's ``jsonPath`` (a ``date`` shown as an age, such as ``5m``); a CRD
that declares none gets NAME and AGE.

Interface:
    column_definitions(columns) -> list of Table column definitions
    cells(columns, obj, now) -> list of cells (None where the path finds nothing)
    evaluate(path, obj) -> list of values found    # a small JSONPath: .a.b, [0], [*], [?(@.k=="v")]

Taught in the reference page on custom resources (docs/reference/custom-resources.md).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from minik8s.api.duration import age

_NAME = {"name": "Name", "type": "string", "format": "name", "priority": 0,
         "description": "Name must be unique within a namespace. Is required when creating resources, although some "
                        "resources may allow a client to request the generation of an appropriate name automatically. "
                        "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
                        "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"}
# What a CRD without additionalPrinterColumns shows after NAME (upstream's default).
DEFAULT_COLUMNS = ({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},)
_STEP = re.compile(r'\.([^.\[]+)|\[\*\]|\[(\d+)\]|\[\?\(@\.([\w.-]+)\s*==\s*["\']([^"\']*)["\']\)\]')


def column_definitions(columns: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    columns = columns or DEFAULT_COLUMNS
    return [dict(_NAME)] + [{"name": c.get("name", ""), "type": c.get("type", "string"), "format": c.get("format", ""),
                             "description": c.get("description", ""), "priority": int(c.get("priority", 0) or 0)}
                            for c in columns]


def cells(columns: tuple[dict[str, Any], ...], obj: dict[str, Any], now: datetime) -> list[Any]:
    row: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
    for column in columns or DEFAULT_COLUMNS:
        found = evaluate(str(column.get("jsonPath", "")), obj)
        row.append(_cell(column, found, now))
    return row


def _cell(column: dict[str, Any], found: list[Any], now: datetime) -> Any:
    if not found or found[0] is None:
        return None
    value = found[0] if len(found) == 1 else found
    kind = column.get("type")
    if kind == "date" and isinstance(value, str):
        return age(value, now)
    if kind in ("integer", "number", "boolean") and isinstance(value, (int, float, bool)):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value) if not isinstance(value, bool) else ("true" if value else "false")


def evaluate(path: str, obj: Any) -> list[Any]:
    """The values at ``path`` (kubectl's JSONPath, the forms printer columns use), none when it finds none
    or cannot be read."""
    path = path.strip().removeprefix("{").removesuffix("}").strip()
    if path.startswith("$"):
        path = path[1:]
    values = [obj]
    pos = 0
    while pos < len(path):
        match = _STEP.match(path, pos)
        if match is None:
            return []
        pos = match.end()
        key, index, filter_key, filter_value = match.groups()
        nxt: list[Any] = []
        for value in values:
            if key is not None and isinstance(value, dict) and key in value:
                nxt.append(value[key])
            elif match.group(0) == "[*]" and isinstance(value, list):
                nxt.extend(value)
            elif index is not None and isinstance(value, list) and int(index) < len(value):
                nxt.append(value[int(index)])
            elif filter_key is not None and isinstance(value, list):
                nxt.extend(item for item in value if _first(evaluate("." + filter_key, item)) == filter_value)
        values = nxt
    return values


def _first(found: list[Any]) -> str | None:
    return str(found[0]) if found else None
