"""API errors as Kubernetes ``Status`` objects.

Every failure the API server reports is a :class:`StatusError`. It carries the
HTTP code, the machine-readable ``reason`` and the human message in the same
wording as upstream Kubernetes, so that kubectl prints exactly what it prints
against a real cluster (``Error from server (NotFound): pods "x" not found``).

Interface:
    raise not_found(resource, name)            # 404 NotFound
    raise already_exists(resource, name)       # 409 AlreadyExists
    raise conflict(resource, name)             # 409 Conflict (stale resourceVersion)
    raise invalid(kind, group, name, causes)   # 422 Invalid, causes are FieldError
    raise bad_request(message)                 # 400 BadRequest
    raise gone(message)                        # 410 Expired
    err.status()                               # the metav1.Status dict

Field errors (:class:`FieldError`) are made with ``required``, ``invalid_value``,
``not_supported``, ``forbidden``, ``duplicate``, ``too_long``; their text
follows ``k8s.io/apimachinery/pkg/util/validation/field``.

Taught in chapter 3 (kubectl and describing objects).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable


class StatusError(Exception):
    """An API error; ``status()`` is what goes over the wire."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        # The Status's ListMeta: an expired LIST's answer carries a continue token in it.
        self.list_meta: dict[str, Any] = {}

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.list_meta),
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details:
            status["details"] = self.details
        status["code"] = self.code   # last, after details, in upstream's field order
        return status

    @classmethod
    def from_status(cls, status: dict[str, Any]) -> "StatusError":
        return cls(
            int(status.get("code", 500)),
            status.get("reason", "") or "",
            status.get("message", "") or "",
            status.get("details"),
        )

    def __repr__(self) -> str:
        return f"StatusError({self.code}, {self.reason!r}, {self.message!r})"


def _details(group_resource: tuple[str, str], name: str | None) -> dict[str, Any]:
    group, kind_plural = group_resource
    details: dict[str, Any] = {"kind": kind_plural}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    return details


def qualified(group: str, plural: str) -> str:
    """``pods`` for the core group, ``deployments.apps`` otherwise (as upstream prints)."""
    return f"{plural}.{group}" if group else plural


def not_found(group: str, plural: str, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{qualified(group, plural)} "{name}" not found',
                       _details((group, plural), name))


def already_exists(group: str, plural: str, name: str) -> StatusError:
    return StatusError(409, "AlreadyExists", f'{qualified(group, plural)} "{name}" already exists',
                       _details((group, plural), name))


def conflict(group: str, plural: str, name: str, why: str | None = None) -> StatusError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return StatusError(409, "Conflict",
                       f'Operation cannot be fulfilled on {qualified(group, plural)} "{name}": {why}',
                       _details((group, plural), name))


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def too_large_resource_version(wanted: int, current: int) -> StatusError:
    """504: a read asked for a revision the store has not reached (upstream waits 3 s first)."""
    return StatusError(504, "Timeout", f"Timeout: Too large resource version: {wanted}, current: {current}",
                       {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                        "retryAfterSeconds": 1})


def storage_timeout() -> StatusError:
    """504: the storage (etcd) did not answer within the request's deadline."""
    return StatusError(504, "Timeout", "Timeout: request did not complete within requested timeout - "
                                       "context deadline exceeded", {"retryAfterSeconds": 1})


def method_not_allowed(message: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


def forbidden(group: str, plural: str, name: str, why: str) -> StatusError:
    what = f'{qualified(group, plural)} "{name}"' if name else qualified(group, plural)
    return StatusError(403, "Forbidden", f"{what} is forbidden: {why}", _details((group, plural), name))


def too_large(limit: int) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}")


# --- field errors (k8s.io/apimachinery/pkg/util/validation/field) ---------------------------


@dataclass(frozen=True)
class FieldError:
    """One invalid field: ``reason`` is the Status cause type, ``detail`` the body after the path."""

    field: str
    reason: str
    body: str

    def __str__(self) -> str:
        return f"{self.field}: {self.body}" if self.field else self.body

    def cause(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.body, "field": self.field}


def _value(value: Any) -> str:
    # Upstream prints strings quoted and numbers bare (Go's %#v / %v).
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"))


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(field, "FieldValueRequired", "Required value" + (f": {detail}" if detail else ""))


def invalid_value(field: str, value: Any, detail: str = "") -> FieldError:
    return FieldError(field, "FieldValueInvalid",
                      f"Invalid value: {_value(value)}" + (f": {detail}" if detail else ""))


def not_supported(field: str, value: Any, supported: Iterable[str]) -> FieldError:
    choices = ", ".join(json.dumps(s) for s in supported)
    return FieldError(field, "FieldValueNotSupported",
                      f"Unsupported value: {_value(value)}: supported values: {choices}")


def forbidden_field(field: str, detail: str) -> FieldError:
    return FieldError(field, "FieldValueForbidden", f"Forbidden: {detail}")


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError(field, "FieldValueDuplicate", f"Duplicate value: {_value(value)}")


def too_long(field: str, value: Any, limit: int) -> FieldError:
    return FieldError(field, "FieldValueTooLong", f"Too long: may not be more than {limit} bytes")


def too_many(field: str, count: int, most: int) -> FieldError:
    return FieldError(field, "FieldValueTooMany", f"Too many: {count}: must have at most {most} items")


def invalid(kind: str, group: str, name: str, errors: list[FieldError]) -> StatusError:
    """422 Invalid: ``Pod "x" is invalid: spec.containers[0].image: Required value``."""
    if len(errors) == 1:
        text = str(errors[0])
    else:
        text = "[" + ", ".join(str(e) for e in errors) + "]"
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": [e.cause() for e in errors]}
    if group:
        details["group"] = group
    return StatusError(422, "Invalid", f'{kind}{"." + group if group else ""} "{name}" is invalid: {text}',
                       details)
