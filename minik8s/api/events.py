"""events.k8s.io/v1 Events: the core v1 Events in their newer shape.

Kubernetes serves Events twice: as core ``v1`` Events (``/api/v1/.../events``, the shape ``kubectl
describe`` and most controllers use) and as ``events.k8s.io/v1`` Events (the shape of the newer event
recorder). There is one stored object and two representations: the API server stores the core v1
shape and converts on the way in and out, so an Event written through either API reads back
through the other. Upstream does the same through its internal ``core.Event`` type
(``pkg/apis/events/v1`` conversion); minik8s converts between the two wire shapes directly.

Field mapping (events.k8s.io/v1 <-> core v1):

    note                      <-> message
    regarding                 <-> involvedObject
    reportingController       <-> reportingComponent
    deprecatedSource          <-> source
    deprecatedFirstTimestamp  <-> firstTimestamp
    deprecatedLastTimestamp   <-> lastTimestamp
    deprecatedCount           <-> count
    related, reportingInstance, action, reason, type, eventTime, series (count, lastObservedTime):
                                  the same name in both

Interface:
    GROUP, API_VERSION
    to_events_v1(core_event) -> events.k8s.io/v1 Event   # a copy; the input is never modified
    to_core(events_v1_event) -> core v1 Event
    field_selector(selector) -> the same selector in the stored Events' field names (or ValueError)

Invariant: ``to_core(to_events_v1(e)) == e`` for every core Event whose fields are all in the
mapping above and not empty (metadata travels unchanged; empty values are left out, as Go's
``omitempty`` leaves them out).

Taught in chapter 2 (architecture: the Events the components record).
"""

from __future__ import annotations

from typing import Any

from minik8s.api.objects import deep_copy
from minik8s.api.selectors import FieldSelector, FieldTerm

GROUP = "events.k8s.io"
API_VERSION = "events.k8s.io/v1"

# (events.k8s.io/v1 name, core v1 name), in the order the events.k8s.io/v1 type declares its fields.
FIELDS: tuple[tuple[str, str], ...] = (
    ("eventTime", "eventTime"),
    ("series", "series"),
    ("reportingController", "reportingComponent"),
    ("reportingInstance", "reportingInstance"),
    ("action", "action"),
    ("reason", "reason"),
    ("regarding", "involvedObject"),
    ("related", "related"),
    ("note", "message"),
    ("type", "type"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
)


def _convert(obj: dict[str, Any], api_version: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": api_version, "kind": "Event"}
    if "metadata" in obj:
        out["metadata"] = deep_copy(obj["metadata"])
    for source, target in pairs:
        value = obj.get(source)
        # Empty values are left out: Go's omitempty drops them, and upstream's conversion maps zero to zero.
        if value not in (None, "", 0, {}):
            out[target] = deep_copy(value)
    return out


def to_events_v1(event: dict[str, Any]) -> dict[str, Any]:
    """A core v1 Event as an events.k8s.io/v1 Event. An old-style Event (no eventTime) shows
    ``"eventTime": null``, as upstream's (the field has no ``omitempty`` in events.k8s.io/v1)."""
    out = _convert(event, API_VERSION, [(core, new) for new, core in FIELDS])
    out.setdefault("eventTime", None)
    return out


def to_core(event: dict[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 Event as the core v1 Event that is stored."""
    return _convert(event, "v1", list(FIELDS))


# The field selectors events.k8s.io/v1 accepts, and the stored Events' fields they select on
# (upstream AddFieldLabelConversionsForEvent in pkg/apis/events/v1).
FIELD_LABELS = {
    "reason": "reason", "type": "type", "source": "source",
    "reportingController": "reportingComponent",
    "regarding.kind": "involvedObject.kind", "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name", "regarding.uid": "involvedObject.uid",
    "regarding.apiVersion": "involvedObject.apiVersion",
    "regarding.resourceVersion": "involvedObject.resourceVersion",
    "regarding.fieldPath": "involvedObject.fieldPath",
    "metadata.namespace": "metadata.namespace", "metadata.name": "metadata.name",
}


def field_selector(selector: FieldSelector) -> FieldSelector:
    """An events.k8s.io/v1 field selector (``regarding.name=web``) in the names of the stored core
    Events it is matched against (``involvedObject.name=web``); ValueError for a field it does not offer."""
    terms = []
    for term in selector.terms:
        if term.field not in FIELD_LABELS:
            raise ValueError(f"field label not supported: {term.field}")
        terms.append(FieldTerm(FIELD_LABELS[term.field], term.value, term.negated))
    return FieldSelector(tuple(terms))
