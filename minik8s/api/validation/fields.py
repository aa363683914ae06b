"""Fields: the shared toolkit of every validator (tolerant accessors and field errors).

Validation walks objects that have been decoded and defaulted but may still be
nonsense (a hand-written request can put a list where a map belongs). Validators
therefore read fields through tolerant accessors that turn a wrong type into an
empty value, and report problems as field errors
(:class:`~minik8s.api.errors.FieldError`) built by the helpers here, so each rule
module states only its rules.

Interface:
    Obj, Errors                                   # a JSON object, a list of field errors
    immutable(new, old, path, rendered=None) -> Errors   # upstream ValidateImmutableField
    NONNEGATIVE_MSG, POSITIVE_MSG, IMMUTABLE_MSG  # upstream's shared messages
    (package-private: _map, _list, _str, _int, _dicts read fields; _invalid, _not_found,
    _unsupported, _enum, _nonnegative build errors; _quantity parses a quantity or gives None;
    _validate_labels, _validate_selector_syntax, _selector_matches delegate to
    :mod:`minik8s.api.selectors`)

Invariants: no helper raises on any JSON value, and none modifies its input.

Taught in chapter 3 (the API: defaulting and validation).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Iterable

from minik8s.api import quantity
from minik8s.api.errors import FieldError, invalid_value, not_supported, required
from minik8s.api.validation.printing import go_value

Obj = dict[str, Any]
Errors = list[FieldError]

NONNEGATIVE_MSG = "must be greater than or equal to 0"
POSITIVE_MSG = "must be greater than zero"
IMMUTABLE_MSG = "field is immutable"

# --- field errors ---------------------------------------------------------------------------------


def _invalid(path: str, rendered: str, detail: str) -> FieldError:
    """An Invalid error whose value is already rendered Go-style."""
    return FieldError(path, "FieldValueInvalid", f"Invalid value: {rendered}: {detail}")


def _not_found(path: str, value: Any) -> FieldError:
    return FieldError(path, "FieldValueNotFound", f"Not found: {go_value(value)}")


def _unsupported(path: str, value: Any, supported: Iterable[str]) -> FieldError:
    return not_supported(path, value, supported)


def _enum(parent: Obj, key: str, path: str, allowed: tuple[str, ...]) -> Errors:
    value = _str(parent, key)
    if not value:
        return [required(path)]
    return [] if value in allowed else [_unsupported(path, value, allowed)]


# --- tolerant accessors (validate must never raise) -------------------------------------------


def _map(parent: Any, key: str) -> Obj:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def _list(parent: Any, key: str) -> list[Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, list) else []


def _str(parent: Any, key: str) -> str:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, str) else ""


def _int(parent: Any, key: str) -> int | None:
    value = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return int(value)


def _dicts(parent: Any, key: str) -> list[tuple[int, Obj]]:
    return [(i, v) for i, v in enumerate(_list(parent, key)) if isinstance(v, dict)]


def _nonnegative(parent: Any, key: str, path: str) -> Errors:
    value = _int(parent, key)
    return [invalid_value(path, value, NONNEGATIVE_MSG)] if value is not None and value < 0 else []


def immutable(new: Any, old: Any, path: str, rendered: str | None = None) -> Errors:
    """Upstream ``ValidateImmutableField``: ``<path>: Invalid value: <new>: field is immutable``."""
    if new == old:
        return []
    return [_invalid(path, rendered if rendered is not None else go_value(new), IMMUTABLE_MSG)]


def _quantity(value: Any) -> Fraction | None:
    try:
        return quantity.parse(value) if not isinstance(value, bool) else None
    except (ValueError, TypeError, ZeroDivisionError, OverflowError):
        return None


# --- labels and selectors (the rules live in minik8s.api.selectors) -----------------------------


def _validate_labels(labels: Any, path: str) -> Errors:
    if not isinstance(labels, dict):
        return []
    from minik8s.api.selectors import validate_labels
    return validate_labels({str(k): v for k, v in labels.items()}, path)


def _validate_selector_syntax(selector: Any, path: str) -> Errors:
    if not isinstance(selector, dict):
        return []
    from minik8s.api.selectors import validate_label_selector
    # Past the schema decoder these are strings; coerce so hand-made garbage cannot crash the checks.
    expressions = [{"key": str(e.get("key", "")), "operator": str(e.get("operator", "")),
                    "values": [str(v) for v in _list(e, "values")]}
                   for e in _list(selector, "matchExpressions") if isinstance(e, dict)]
    return validate_label_selector({"matchLabels": _map(selector, "matchLabels"), "matchExpressions": expressions},
                                   path)


def _selector_matches(selector: Any, labels: Any) -> bool | None:
    """Whether a metav1.LabelSelector selects ``labels``; None when the selector is unusable."""
    from minik8s.api.selectors import from_label_selector
    try:
        parsed = from_label_selector(selector if isinstance(selector, dict) else None)
    except (ValueError, TypeError, AttributeError):
        return None
    return bool(parsed.matches({str(k): str(v) for k, v in (labels or {}).items()} if isinstance(labels, dict)
                               else {}))
