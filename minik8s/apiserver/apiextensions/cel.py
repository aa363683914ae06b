"""Validation rules in CEL: a schema's ``x-kubernetes-validations``.

A CRD's schema may carry rules in the Common Expression Language at any node::

    x-kubernetes-validations:
    - rule: "self.minReplicas <= self.replicas"
      message: "replicas should be greater than or equal to minReplicas"
    - rule: "self == oldSelf"                 # a transition rule: checked on update only
      messageExpression: "'image is immutable, was ' + oldSelf"

``self`` is the value at that node; a rule that mentions ``oldSelf`` compares with the stored object
and is only checked when the node existed before (upstream's transition rules). A rule that is false
is a 422 cause at the node's path, worded as upstream: ``spec: Invalid value: "object": replicas
should be greater than or equal to minReplicas`` (``failed rule: <rule>`` without a message).
Rules are compiled when the CRD is written (a rule that does not compile refuses the CRD) and the
compiled programs are cached.

minik8s evaluates CEL with the ``cel-python`` package (``celpy``); upstream's cost limits are not
enforced, but a rule's length is bounded.

Interface:
    compile_errors(schema, path) -> list[FieldError]       # for CRD validation
    validate(obj, old, schema) -> list[FieldError]          # for custom objects (None old on create)

Taught in the reference page on custom resources (docs/reference/custom-resources.md).
"""

from __future__ import annotations

import functools
from typing import Any

from minik8s.api.errors import FieldError, invalid_value

Schema = dict[str, Any]
# Upstream bounds rules by an estimated cost; minik8s bounds their text.
MAX_RULE_LENGTH = 4096
_ROOT_FIELDS = ("apiVersion", "kind", "metadata")


@functools.cache
def _environment() -> Any:
    # celpy (and the parser it builds on) is imported when the first rule is compiled: about 16 MiB that a
    # cluster whose CRDs have no rules never needs.
    import celpy

    return celpy.Environment()


@functools.lru_cache(maxsize=512)
def _program(rule: str) -> Any:
    if len(rule) > MAX_RULE_LENGTH:
        raise ValueError(f"rule is longer than {MAX_RULE_LENGTH} characters")
    environment = _environment()
    return environment.program(environment.compile(rule))


def _rules(schema: Schema) -> list[dict[str, Any]]:
    rules = schema.get("x-kubernetes-validations")
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _children(schema: Schema) -> list[tuple[str, Schema]]:
    out = [(f".properties[{k}]", v) for k, v in (schema.get("properties") or {}).items() if isinstance(v, dict)]
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            out.append((f".{key}", schema[key]))
    return out


def compile_errors(schema: Any, path: str) -> list[FieldError]:
    """Every rule of ``schema`` (at any depth) that does not compile, at upstream's path."""
    if not isinstance(schema, dict):
        return []
    errs: list[FieldError] = []
    for i, rule in enumerate(_rules(schema)):
        text = rule.get("rule")
        where = f"{path}.x-kubernetes-validations[{i}].rule"
        if not isinstance(text, str) or not text:
            errs.append(FieldError(where, "FieldValueRequired", "Required value"))
            continue
        try:
            _program(text)
        except Exception as exc:   # celpy raises its own parse errors; any failure means "does not compile"
            errs.append(invalid_value(where, text, f"compilation failed: {str(exc).splitlines()[0]}"))
    for suffix, child in _children(schema):
        errs += compile_errors(child, path + suffix)
    return errs


def validate(obj: Any, old: Any, schema: Schema) -> list[FieldError]:
    """The rules ``obj`` breaks (``old``: the stored object on update, for transition rules)."""
    errs: list[FieldError] = []
    if isinstance(obj, dict) and isinstance(schema, dict):
        body = {k: v for k, v in obj.items() if k not in _ROOT_FIELDS}
        old_body = {k: v for k, v in old.items() if k not in _ROOT_FIELDS} if isinstance(old, dict) else None
        _walk(body, old_body, schema, "", errs)
    return errs


def _walk(value: Any, old: Any, schema: Schema, path: str, errs: list[FieldError]) -> None:
    if value is None:
        return
    for rule in _rules(schema):
        _check(rule, value, old, schema, path, errs)
    properties = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    if isinstance(value, dict):
        for key, item in value.items():
            child = properties.get(key) if key in properties else additional
            if isinstance(child, dict):
                before = old.get(key) if isinstance(old, dict) else None
                _walk(item, before, child, f"{path}.{key}" if path else key, errs)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):   # list items are not correlated with the old list
            _walk(item, None, schema["items"], f"{path}[{i}]", errs)


def _check(rule: dict[str, Any], value: Any, old: Any, schema: Schema, path: str, errs: list[FieldError]) -> None:
    text = rule.get("rule")
    if not isinstance(text, str):
        return
    transition = "oldSelf" in text
    if transition and old is None:
        return   # a transition rule has nothing to compare with on create
    import celpy
    from celpy.adapter import json_to_cel

    activation = {"self": json_to_cel(value)}
    if transition:
        activation["oldSelf"] = json_to_cel(old)
    try:
        result = _program(text).evaluate(activation)
    except Exception as exc:   # an evaluation error (a missing field...) fails the rule, as upstream reports it
        errs.append(invalid_value(path, _type(value, schema), str(exc)))
        return
    if result is True or (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
        return
    errs.append(invalid_value(path, _type(value, schema), _message(rule, text, activation)))


def _message(rule: dict[str, Any], text: str, activation: dict[str, Any]) -> str:
    expression = rule.get("messageExpression")
    if isinstance(expression, str) and expression:
        try:
            message = _program(expression).evaluate(activation)
            if isinstance(message, str) and message.strip():
                return str(message)
        except Exception:   # upstream falls back to the static message when the expression fails
            pass
    message = rule.get("message")
    return message if isinstance(message, str) and message else f"failed rule: {text}"


def _type(value: Any, schema: Schema) -> str:
    """What upstream shows as the invalid value: the node's type."""
    declared = schema.get("type")
    if isinstance(declared, str) and declared:
        return declared
    return "object" if isinstance(value, dict) else "array" if isinstance(value, list) else "string"
