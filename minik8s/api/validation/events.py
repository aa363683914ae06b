"""Events written through the events.k8s.io/v1 API, as upstream's ``ValidateEventCreate`` and
``ValidateEventUpdate`` check them (``pkg/apis/core/validation/events.go``).

Upstream validates Events written through core ``v1`` loosely, for backwards compatibility, and the
ones written through ``events.k8s.io/v1`` strictly: a new-style Event names its ``eventTime``,
``reportingController``, ``reportingInstance``, ``action`` and ``reason``, and leaves the deprecated
fields unset. minik8s checks the strict rules only (core v1 Events pass unchecked beyond metadata).

Paths are upstream's: the events.k8s.io/v1 names where upstream uses them (``reportingController``,
``deprecatedCount``), the internal (core) names elsewhere (``involvedObject.namespace``, ``message``),
so kubectl prints the same lines as against a real cluster.
"""

from __future__ import annotations

from minik8s.api.errors import required
from minik8s.api.validation.fields import Errors, Obj, _invalid, _map, _str, immutable
from minik8s.api.validation.names import _qualified_name, is_dns1123_subdomain

# Upstream's limits (ReportingInstanceLengthLimit, ActionLengthLimit, ReasonLengthLimit, NoteLengthLimit).
REPORTING_INSTANCE_LIMIT = 128
ACTION_LIMIT = 128
REASON_LIMIT = 128
NOTE_LIMIT = 1024


def _too_long(path: str, value: str, limit: int) -> Errors:
    return [_invalid(path, '""', f"can have at most {limit} characters")] if len(value) > limit else []


def _new_style(event: Obj) -> Errors:
    """upstream legacyValidateEvent, for an Event with an eventTime (the only kind events.k8s.io/v1 accepts)."""
    errs: Errors = []
    namespace = _str(_map(event, "metadata"), "namespace")
    if not _str(_map(event, "regarding"), "namespace") and namespace not in ("default", "kube-system"):
        errs.append(_invalid("involvedObject.namespace", '""', "does not match event.namespace"))
    controller = _str(event, "reportingController")
    if not controller:
        errs.append(required("reportingController"))
    errs += [_invalid("reportingController", f'"{controller}"', m) for m in _qualified_name(controller)]
    instance = _str(event, "reportingInstance")
    errs += [required("reportingInstance")] if not instance else []
    errs += _too_long("reportingInstance", instance, REPORTING_INSTANCE_LIMIT)
    action = _str(event, "action")
    errs += [required("action")] if not action else []
    errs += _too_long("action", action, ACTION_LIMIT)
    reason = _str(event, "reason")
    errs += [required("reason")] if not reason else []
    errs += _too_long("reason", reason, REASON_LIMIT)
    errs += _too_long("message", _str(event, "note"), NOTE_LIMIT)
    return errs


def _series(event: Obj) -> Errors:
    series = event.get("series")
    if not isinstance(series, dict):
        return []
    errs: Errors = []
    if not isinstance(series.get("count"), int) or series["count"] < 2:
        errs.append(_invalid("series.count", '""', "should be at least 2"))
    if not series.get("lastObservedTime"):
        errs.append(required("series.lastObservedTime"))
    return errs


def _old_style(event: Obj) -> Errors:
    """upstream legacyValidateEvent for an Event without an eventTime: its namespace is its object's."""
    namespace = _str(_map(event, "metadata"), "namespace")
    regarding = _str(_map(event, "regarding"), "namespace")
    if (namespace not in ("", "default")) if not regarding else namespace != regarding:
        return [_invalid("involvedObject.namespace", f'"{regarding}"', "does not match event.namespace")]
    return []


def _event(event: Obj) -> Errors:
    """upstream ValidateEventCreate for requestVersion events.k8s.io/v1."""
    errs = _new_style(event) if event.get("eventTime") else _old_style(event)
    for msg in is_dns1123_subdomain(_str(_map(event, "metadata"), "namespace")):
        errs.append(_invalid("namespace", f'"{_str(_map(event, "metadata"), "namespace")}"', msg))
    errs += _series(event)
    if not event.get("eventTime"):
        errs.append(required("eventTime"))
    if event.get("type") not in ("Normal", "Warning"):
        errs.append(_invalid("type", '""', f"has invalid value: {_str(event, 'type')}"))
    for field in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount"):
        if event.get(field):
            errs.append(_invalid(field, '""', "needs to be unset"))
    source = _map(event, "deprecatedSource")
    if source.get("component") or source.get("host"):
        errs.append(_invalid("deprecatedSource", '""', "needs to be unset"))
    return errs


# What an events.k8s.io/v1 update may not change: (events.k8s.io/v1 name, upstream's path), in upstream's order.
_IMMUTABLE = (("regarding", "involvedObject"), ("reason", "reason"), ("note", "message"),
              ("deprecatedSource", "source"), ("deprecatedFirstTimestamp", "firstTimestamp"),
              ("deprecatedLastTimestamp", "lastTimestamp"), ("deprecatedCount", "count"), ("type", "type"),
              ("eventTime", "eventTime"), ("action", "action"), ("related", "related"),
              ("reportingController", "reportingController"), ("reportingInstance", "reportingInstance"))


def _event_update(new: Obj, old: Obj) -> Errors:
    """upstream ValidateEventUpdate for requestVersion events.k8s.io/v1 (the metadata checks are shared)."""
    errs = _new_style(new) if new.get("eventTime") else _old_style(new)
    if new.get("series") != old.get("series"):
        errs += _series(new)
    for field, path in _IMMUTABLE:
        errs += immutable(new.get(field), old.get(field), path)
    return errs
