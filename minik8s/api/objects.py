"""Copying API objects.

Objects are plain JSON data, so a copy is a JSON round trip. orjson does that
several times faster than ``copy.deepcopy`` walks the same dicts, and copies are
made on every write (the API server never keeps a caller's dict; controllers
never change a cached object in place). Anything that is not plain JSON (a
tuple, an integer beyond 64 bits) falls back to ``copy.deepcopy``.
"""

from __future__ import annotations

import copy
from typing import TypeVar

import orjson

T = TypeVar("T")


def deep_copy(obj: T) -> T:
    """An independent copy of a JSON-like value."""
    try:
        copied: T = orjson.loads(orjson.dumps(obj))
    except (TypeError, orjson.JSONEncodeError):
        return copy.deepcopy(obj)
    if isinstance(obj, tuple):  # JSON has no tuples: keep the caller's type
        return copy.deepcopy(obj)
    return copied
