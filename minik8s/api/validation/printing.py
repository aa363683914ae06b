"""Printing: values as upstream's error messages show them.

A field error quotes the offending value, and Kubernetes prints it with Go's
``fmt`` verbs: strings quoted (``%q``), numbers bare, maps and selectors as Go
literals (``%#v``: ``map[string]string{"app":"web"}``), quantities in their
canonical form (``Quantity.String()``: ``0.5`` is printed ``500m``). kubectl shows
these messages verbatim, so minik8s prints values the same way to produce the
same lines as a real cluster.

Interface:
    go_value(value) -> str                # %q / %v rendering of a JSON value
    go_string_map(labels) -> str          # map[string]string{...}, or (nil)
    go_label_selector(selector) -> str    # a metav1.LabelSelector as %#v prints it
    canonical_quantity(text) -> str       # Quantity.String(): 1024Mi -> 1Gi, 1000 -> 1k

Invariants: rendering never raises on any JSON value; map keys are sorted, as
Go's ``%#v`` sorts them.

Taught in chapter 3 (the API: reading an Invalid error).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from minik8s.api import quantity

# --- how Go prints values inside messages ----------------------------------------------------


def go_value(value: Any) -> str:
    """Render a value as upstream's field errors do (``%q``, ``%v`` or ``%#v``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        whole = isinstance(value, float) and math.isfinite(value) and value == int(value)
        return str(int(value)) if whole else str(value)
    if isinstance(value, str):
        return _go_quote(value)
    if value is None:
        return "null"
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return go_string_map(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(_go_quote(v) for v in value) + "}"
    return repr(value)


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def go_string_map(labels: Any) -> str:
    """``map[string]string{"app":"x", "tier":"web"}`` (Go's %#v sorts keys); nil prints ``(nil)``."""
    if not isinstance(labels, dict):
        return "map[string]string(nil)"
    items = ", ".join(f"{_go_quote(str(k))}:{_go_quote(str(v))}" for k, v in sorted(labels.items()))
    return "map[string]string{" + items + "}"


def go_label_selector(selector: Any) -> str:
    """A metav1.LabelSelector as ``%#v`` prints it."""
    selector = selector if isinstance(selector, dict) else {}
    labels = selector.get("matchLabels")
    expressions = selector.get("matchExpressions")
    if isinstance(expressions, list) and expressions:
        rendered = ", ".join(
            "v1.LabelSelectorRequirement{Key:%s, Operator:%s, Values:%s}" % (
                _go_quote(str(e.get("key", ""))), _go_quote(str(e.get("operator", ""))),
                go_value(e.get("values")) if e.get("values") else "[]string(nil)")
            for e in expressions if isinstance(e, dict))
        expr_text = "[]v1.LabelSelectorRequirement{" + rendered + "}"
    elif isinstance(expressions, list):
        expr_text = "[]v1.LabelSelectorRequirement{}"
    else:
        expr_text = "[]v1.LabelSelectorRequirement(nil)"
    return f"v1.LabelSelector{{MatchLabels:{go_string_map(labels)}, MatchExpressions:{expr_text}}}"


def _int_or_string(value: Any) -> str:
    # IntOrString implements fmt.Stringer, so messages print it bare: 0, 25%.
    return go_value(value).strip('"') if isinstance(value, str) else go_value(value)


# --- quantities ---------------------------------------------------------------------------------

_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIXES = {10: "Ki", 20: "Mi", 30: "Gi", 40: "Ti", 50: "Pi", 60: "Ei"}


def canonical_quantity(text: Any) -> str:
    """``Quantity.String()``: ``0.5`` -> ``500m``, ``1000`` -> ``1k``, ``1024Mi`` -> ``1Gi``."""
    value = quantity.parse(text)
    raw = text.strip() if isinstance(text, str) else ""
    if raw.endswith(tuple(_BINARY_SUFFIXES.values())) and -1024 < value < 1024:
        raw = ""  # small binary values print as decimal SI upstream
    if raw.endswith(tuple(_BINARY_SUFFIXES.values())) and value.denominator == 1:
        for shift in sorted(_BINARY_SUFFIXES, reverse=True):
            if value % (1 << shift) == 0:
                return f"{value // (1 << shift)}{_BINARY_SUFFIXES[shift]}"
        return str(value)
    exponent_form = bool(re.search(r"\d[eE][+-]?\d+$", raw))
    scaled = value if value * 10**9 == int(value * 10**9) else Fraction(math.ceil(value * 10**9), 10**9)
    for exponent in sorted(_DECIMAL_SUFFIXES, reverse=True):
        mantissa = scaled / Fraction(10) ** exponent
        if mantissa.denominator == 1 and (mantissa != 0 or exponent == 0):
            if exponent_form:
                return f"{mantissa}e{exponent}" if exponent else f"{mantissa}"
            return f"{mantissa}{_DECIMAL_SUFFIXES[exponent]}"
    return str(scaled)
