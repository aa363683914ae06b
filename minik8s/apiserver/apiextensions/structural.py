"""A custom object against its structural schema: pruning, defaulting and validation.

A CRD version's ``openAPIV3Schema`` is *structural* (:mod:`.crd` checks that): every field
declares its type. That lets the API server treat a custom object as upstream's
apiextensions-apiserver does, in this order on every write:

1. **prune**: fields the schema does not declare are dropped (and reported, so that
   ``fieldValidation`` can warn about them or refuse them), except under
   ``x-kubernetes-preserve-unknown-fields: true``; ``apiVersion``, ``kind`` and ``metadata``
   of the object (and of ``x-kubernetes-embedded-resource`` objects) always stay;
2. **default**: a missing field whose schema has a ``default`` gets it (a ``null`` in a field
   that is not ``nullable`` is dropped first, then defaulted); this also runs on every read;
3. **validate**: types, ``required``, ``enum``, ``pattern``, ``minimum``/``maximum``,
   ``minLength``/``maxLength``, ``minItems``/``maxItems``, ``uniqueItems``,
   ``minProperties``/``maxProperties`` and simple ``format`` s, with upstream's field paths
   and messages (``spec.replicas: Invalid value: 15: spec.replicas in body should be less
   than or equal to 10``).

Interface:
    prune(obj, schema) -> list of unknown field paths      # changes obj in place
    default(obj, schema) -> None                           # changes obj in place
    validate(obj, schema) -> list[FieldError]              # never raises, never changes obj
    prune_value / validate_value                           # the same below the root (a CRD's defaults)

``metadata`` is never walked here: the API server validates ObjectMeta as for every kind.

Taught in the reference page on custom resources (docs/reference/custom-resources.md).
"""

from __future__ import annotations

import copy
import functools
import re
from datetime import date, datetime
from typing import Any

import re2

from minik8s.api.errors import FieldError, invalid_value, not_supported, required, too_long

Schema = dict[str, Any]
_ROOT_FIELDS = ("apiVersion", "kind", "metadata")
# Bounds a pattern's input: a value longer than this is not matched (upstream's limit is the request's).
_MAX_PATTERN_INPUT = 64 * 1024
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False   # a bad pattern is reported as a field error, not logged


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _schema(value: Any) -> Schema:
    return value if isinstance(value, dict) else {}


# --- pruning ---------------------------------------------------------------------------


def prune(obj: Any, schema: Schema) -> list[str]:
    """Drop the fields ``schema`` does not declare; the dropped paths (``spec.foo``), in order."""
    dropped: list[str] = []
    if isinstance(obj, dict):
        _prune_object(obj, _schema(schema), "", dropped, root=True)
    return dropped


def prune_value(value: Any, schema: Schema) -> list[str]:
    """Like :func:`prune`, for a value below the root (a ``default``): the dropped paths, relative to it."""
    dropped: list[str] = []
    _prune_value(value, _schema(schema), "", dropped)
    return dropped


def _prune_object(obj: dict[str, Any], schema: Schema, path: str, dropped: list[str], root: bool) -> None:
    properties = _schema(schema.get("properties"))
    additional = schema.get("additionalProperties")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    keep = _ROOT_FIELDS if root or schema.get("x-kubernetes-embedded-resource") is True else ()
    for key in list(obj):
        if key in keep and key not in properties:
            continue
        if key in properties:
            _prune_value(obj[key], _schema(properties[key]), _join(path, key), dropped)
        elif isinstance(additional, dict):
            _prune_value(obj[key], additional, _join(path, key), dropped)
        elif not preserve and additional is not True:
            del obj[key]
            dropped.append(_join(path, key))


def _prune_value(value: Any, schema: Schema, path: str, dropped: list[str]) -> None:
    if isinstance(value, dict) and (schema.get("type") == "object" or schema.get("properties")
                                    or "additionalProperties" in schema):
        _prune_object(value, schema, path, dropped, root=False)
    elif isinstance(value, dict) and schema.get("x-kubernetes-embedded-resource") is True:
        _prune_object(value, schema, path, dropped, root=False)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _prune_value(item, schema["items"], f"{path}[{i}]", dropped)


# --- defaulting ------------------------------------------------------------------------


def default(obj: Any, schema: Schema) -> None:
    """Fill in every missing field that has a ``default`` (in place)."""
    _default(obj, _schema(schema))


def _default(value: Any, schema: Schema) -> None:
    if isinstance(value, dict):
        properties = _schema(schema.get("properties"))
        for key, prop in properties.items():
            prop = _schema(prop)
            if key in value and value[key] is None and not prop.get("nullable"):
                del value[key]   # a null where null is not allowed is dropped, then defaulted
            if key not in value and "default" in prop:
                value[key] = copy.deepcopy(prop["default"])
            if key in value:
                _default(value[key], prop)
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for key in value:
                if key not in properties:
                    _default(value[key], additional)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _default(item, schema["items"])


# --- validation ------------------------------------------------------------------------

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def validate(obj: Any, schema: Schema) -> list[FieldError]:
    """Every way ``obj`` breaks ``schema``, as upstream's 422 causes (``metadata`` is left alone)."""
    errs: list[FieldError] = []
    schema = _schema(schema)
    if not isinstance(obj, dict):
        return [invalid_value("", obj, "must be of type object")]
    properties = _schema(schema.get("properties"))
    for key in schema.get("required") or []:
        if key not in obj and key not in _ROOT_FIELDS:
            errs.append(required(key))
    for key, value in obj.items():
        if key in _ROOT_FIELDS:
            continue
        if key in properties:
            _validate(value, _schema(properties[key]), key, errs)
        elif isinstance(schema.get("additionalProperties"), dict):
            _validate(value, schema["additionalProperties"], key, errs)
    return errs


def validate_value(value: Any, schema: Schema, path: str, errs: list[FieldError]) -> None:
    """Validate a value below the root (a ``default``) against its schema, reporting at ``path``."""
    _validate(value, _schema(schema), path, errs)


def _in_body(path: str, text: str) -> str:
    return f"{path} in body {text}"


def _validate(value: Any, schema: Schema, path: str, errs: list[FieldError]) -> None:
    if value is None:
        if not schema.get("nullable") and schema.get("type"):
            errs.append(_type_invalid(path, value, schema["type"]))
        return
    if schema.get("x-kubernetes-int-or-string") is True:
        if not (_TYPES["integer"](value) or isinstance(value, str)):
            errs.append(_type_invalid(path, value, "integer,string"))
            return
    elif (kind := schema.get("type")) in _TYPES and not _TYPES[kind](value):
        errs.append(_type_invalid(path, value, kind))
        return
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        errs.append(not_supported(path, value, [v if isinstance(v, str) else str(v) for v in enum]))
    if isinstance(value, str):
        _validate_string(value, schema, path, errs)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _validate_number(value, schema, path, errs)
    elif isinstance(value, list):
        _validate_array(value, schema, path, errs)
    elif isinstance(value, dict):
        _validate_object(value, schema, path, errs)


def _type_invalid(path: str, value: Any, expected: str) -> FieldError:
    """Upstream shows the type it found, not the value: ``Invalid value: "string": spec.replicas in body
    must be of type integer: "string"``."""
    found = _kind(value)
    return FieldError(path, "FieldValueTypeInvalid", f'Invalid value: "{found}": '
                      + _in_body(path, f'must be of type {expected}: "{found}"'))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _validate_string(value: str, schema: Schema, path: str, errs: list[FieldError]) -> None:
    length = len(value)
    if isinstance(schema.get("maxLength"), int) and length > schema["maxLength"]:
        errs.append(too_long(path, value, schema["maxLength"]))
    if isinstance(schema.get("minLength"), int) and length < schema["minLength"]:
        errs.append(invalid_value(path, value, _in_body(path, f'should be at least {schema["minLength"]} chars long')))
    pattern = schema.get("pattern")
    if isinstance(pattern, str) and length <= _MAX_PATTERN_INPUT:
        compiled = compile_pattern(pattern)
        if compiled is not None and compiled.search(value) is None:
            errs.append(invalid_value(path, value, _in_body(path, f"should match '{pattern}'")))
    fmt = schema.get("format")
    if isinstance(fmt, str) and not _format_ok(fmt, value):
        errs.append(invalid_value(path, value, _in_body(path, f"must be of type {fmt}: {_quoted(value)}")))


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """A schema's ``pattern`` compiled with RE2, the regular-expression engine of upstream (Go's regexp):
    linear time whatever the pattern, so no pattern can stall the server. None if it does not compile
    (a CRD with such a pattern is refused, see :mod:`.crd`)."""
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error:
        return None


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '\\"') + '"'


def _format_ok(fmt: str, value: str) -> bool:
    """The simple formats upstream checks on strings; others are accepted as they are."""
    try:
        if fmt == "date-time":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif fmt == "date":
            date.fromisoformat(value)
        elif fmt in ("int32", "int64"):
            int(value)
        elif fmt == "byte":
            import base64
            base64.b64decode(value, validate=True)
        elif fmt == "uuid":
            return re.fullmatch(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}",
                                value) is not None
        elif fmt == "ipv4":
            import ipaddress
            ipaddress.IPv4Address(value)
        elif fmt == "ipv6":
            import ipaddress
            ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _validate_number(value: float, schema: Schema, path: str, errs: list[FieldError]) -> None:
    maximum, minimum = schema.get("maximum"), schema.get("minimum")
    if isinstance(maximum, (int, float)):
        if schema.get("exclusiveMaximum") is True and value >= maximum:
            errs.append(invalid_value(path, value, _in_body(path, f"should be less than {_num(maximum)}")))
        elif value > maximum:
            errs.append(invalid_value(path, value, _in_body(path, f"should be less than or equal to {_num(maximum)}")))
    if isinstance(minimum, (int, float)):
        if schema.get("exclusiveMinimum") is True and value <= minimum:
            errs.append(invalid_value(path, value, _in_body(path, f"should be greater than {_num(minimum)}")))
        elif value < minimum:
            errs.append(invalid_value(path, value,
                                      _in_body(path, f"should be greater than or equal to {_num(minimum)}")))
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple > 0 and (value / multiple) != int(value / multiple):
        errs.append(invalid_value(path, value, _in_body(path, f"should be a multiple of {_num(multiple)}")))


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _validate_array(value: list[Any], schema: Schema, path: str, errs: list[FieldError]) -> None:
    if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
        errs.append(FieldError(path, "FieldValueTooMany",
                               f'Too many: {len(value)}: must have at most {schema["maxItems"]} items'))
    if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
        errs.append(invalid_value(path, len(value), _in_body(path, f'should have at least {schema["minItems"]} items')))
    if schema.get("uniqueItems") is True:
        for i, item in enumerate(value):
            if item in value[:i]:
                errs.append(FieldError(f"{path}[{i}]", "FieldValueDuplicate", f"Duplicate value: {_shown(item)}"))
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _validate(item, items, f"{path}[{i}]", errs)


def _shown(value: Any) -> str:
    return str(invalid_value("", value)).removeprefix("Invalid value: ")


def _validate_object(value: dict[str, Any], schema: Schema, path: str, errs: list[FieldError]) -> None:
    properties = _schema(schema.get("properties"))
    for key in schema.get("required") or []:
        if key not in value:
            errs.append(required(_join(path, key)))
    if isinstance(schema.get("maxProperties"), int) and len(value) > schema["maxProperties"]:
        errs.append(FieldError(path, "FieldValueTooMany",
                               f'Too many: {len(value)}: must have at most {schema["maxProperties"]} items'))
    if isinstance(schema.get("minProperties"), int) and len(value) < schema["minProperties"]:
        errs.append(invalid_value(path, len(value),
                                  _in_body(path, f'should have at least {schema["minProperties"]} properties')))
    if schema.get("x-kubernetes-embedded-resource") is True:
        for key in ("apiVersion", "kind"):
            if not value.get(key):
                errs.append(required(_join(path, key), "must not be empty"))
    additional = schema.get("additionalProperties")
    for key, item in value.items():
        if key in properties:
            _validate(item, _schema(properties[key]), _join(path, key), errs)
        elif isinstance(additional, dict):
            _validate(item, additional, _join(path, key), errs)
