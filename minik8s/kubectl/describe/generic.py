"""``kubectl describe`` for every kind without a describer of its own.

Like upstream's generic describer, it prints the name, namespace, labels and
annotations, then every other field of the object as an indented tree, a field's
name turned into a label (``creationTimestamp`` -> ``Creation Timestamp``), and
the object's events.

Interface:
    describe_generic(client, obj, now) -> str

Taught in chapter 3 (kubectl and describing objects).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.kubectl.describe.writer import (Obj, _annotations, _go_bool, _labels, _meta, _Writer,
                                             describe_events, search_events)


def _smart_label(field: str) -> str:
    """``creationTimestamp`` -> ``Creation Timestamp``, ``uid`` -> ``UID`` (upstream's smartLabelFor, simplified)."""
    if not field.replace("-", "").isalpha():
        return field
    words, current = [], ""
    for char in field:
        if char.isupper() and current and not current[-1].isupper():
            words.append(current)
            current = ""
        current += char
    words.append(current)
    acronyms = {"API", "URL", "UID", "GUID", "IP"}
    return " ".join(w.upper() if w.upper() in acronyms else (w[0].upper() + w[1:]) for w in words if w)


def _unstructured(w: _Writer, level: int, content: Obj, prefix: str, skip: set[str]) -> None:
    for key in sorted(content):
        path, value = f"{prefix}.{key}", content[key]
        if path in skip:
            continue
        if isinstance(value, dict):
            w.write(level, f"{_smart_label(key)}:\n")
            _unstructured(w, level + 1, value, path, skip)
        elif isinstance(value, list):
            w.write(level, f"{_smart_label(key)}:\n")
            for item in value:
                if isinstance(item, dict):
                    _unstructured(w, level + 1, item, path, skip)
                else:
                    w.write(level + 1, f"{item}\n")
        else:
            text = _go_bool(value) if isinstance(value, bool) else value
            w.write(level, f"{_smart_label(key)}:\t{text}\n")


def describe_generic(client: Any, obj: Obj, now: datetime) -> str:
    """Any other kind: name, labels, then every field, as upstream's generic describer prints it."""
    w, meta = _Writer(), _meta(obj)
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, "Annotations", meta.get("annotations"))
    skip = {".metadata.name", ".metadata.namespace", ".metadata.labels", ".metadata.annotations",
            ".metadata.managedFields"}
    _unstructured(w, 0, obj, "", skip)
    describe_events(w, search_events(client, obj), now)
    return w.text()
