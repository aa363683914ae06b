"""What every describer shares: the prefix writer, the common lines, and the Events section.

Upstream's describers (k8s.io/kubectl pkg/describe) print ``Field:\\tvalue`` lines
through a PrefixWriter over Go's tabwriter (minimum width 0, padding 2), indented two
spaces per level, so consecutive ``Field:`` lines line up. :class:`_Writer` is that
writer; ``flush()`` ends a block that is aligned on its own, as the Events table is.

Interface (for the describers of this package):
    _Writer().write(level, text); .flush(); .text(aligned=True) -> str
    rfc1123z(timestamp) -> str                   # how describe prints a time
    _labels / _annotations / _header             # the lines most kinds start with
    search_events(client, obj, uid=None) -> [event]
    describe_events(w, events, now)              # the "Events:" table at the bottom

It also names the resources the describers read (``PODS``, ``EVENTS`` ...).
Invariant: nothing here talks to the client except ``search_events``.

Taught in chapter 3 (kubectl and describing objects).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.api.duration import age, parse_time
from minik8s.api.resources import Resource, by_kind
from minik8s.kubectl.printing import tabwrite

Obj = dict[str, Any]


def _res(api_version: str, kind: str) -> Resource:
    found = by_kind(api_version, kind)
    assert found is not None, kind
    return found


EVENTS = _res("v1", "Event")
PODS = _res("v1", "Pod")
REPLICASETS = _res("apps/v1", "ReplicaSet")
LEASES = _res("coordination.k8s.io/v1", "Lease")
RESOURCEQUOTAS = _res("v1", "ResourceQuota")
LIMITRANGES = _res("v1", "LimitRange")
ENDPOINTS = _res("v1", "Endpoints")
ENDPOINT_SLICES = _res("discovery.k8s.io/v1", "EndpointSlice")

# describe's tabwriter: minwidth 0, padding 2.
_MINWIDTH, _PADDING = 0, 2
_MAX_ANNOTATION = 140


class _Writer:
    """upstream's PrefixWriter: ``write(level, text)`` indents two spaces per level."""

    def __init__(self) -> None:
        self._blocks: list[list[str]] = [[]]
        self._partial = ""

    def write(self, level: int, text: str) -> None:
        self._partial += "  " * level + text
        *done, self._partial = self._partial.split("\n")
        self._blocks[-1].extend(done)

    def flush(self) -> None:
        """Align what was written so far on its own, as tabwriter.Flush does."""
        self._blocks.append([])

    def text(self, aligned: bool = True) -> str:
        """The lines, aligned; or, with ``aligned=False``, with their tabs as written (what
        upstream prints when it writes to a plain buffer instead of a tabwriter)."""
        if self._partial:
            self.write(0, "\n")
        if not aligned:
            return "".join(line + "\n" for block in self._blocks for line in block)
        return "".join(tabwrite(block, _MINWIDTH, _PADDING) for block in self._blocks if block)


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def rfc1123z(timestamp: str | None) -> str:
    """Go's ``time.RFC1123Z``: ``Mon, 02 Jan 2006 15:04:05 -0700``."""
    if not timestamp:
        return "<unset>"
    return parse_time(timestamp).strftime("%a, %d %b %Y %H:%M:%S %z")


def _bool(value: Any) -> str:
    return "True" if value else "False"


def _go_bool(value: Any) -> str:
    return "true" if value else "false"


def _go_list(values: list[Any] | None) -> str:
    return "[" + " ".join(str(v) for v in values or []) + "]"


def _int_or_string(value: Any) -> str:
    return "" if value is None else str(value)


def _labels(w: _Writer, title: str, labels: dict[str, str] | None, initial: str = "") -> None:
    w.write(0, f"{initial}{title}:\t")
    if not labels:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(sorted(labels)):
        w.write(0, (f"{initial}\t" if i else "") + f"{key}={labels[key]}\n")


def _annotations(w: _Writer, title: str, annotations: dict[str, str] | None) -> None:
    w.write(0, f"{title}:\t")
    # upstream hides the bulky last-applied-configuration annotation.
    keys = sorted(k for k in annotations or {} if k != "kubectl.kubernetes.io/last-applied-configuration")
    if not keys:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(keys):
        w.write(0, "\t" if i else "")
        value = (annotations or {})[key].removesuffix("\n")
        if len(value) + len(key) + 2 > _MAX_ANNOTATION or "\n" in value:
            w.write(0, f"{key}:\n")
            for line in value.split("\n"):
                short = line if len(line) <= _MAX_ANNOTATION - 2 else line[:_MAX_ANNOTATION - 2] + "..."
                w.write(0, f"\t  {short}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def _controller(obj: Obj) -> str:
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return ""


def _controller_uid(obj: Obj) -> str | None:
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _header(w: _Writer, obj: Obj, *, namespace: bool = True) -> None:
    w.write(0, f"Name:\t{_meta(obj).get('name', '')}\n")
    if namespace:
        w.write(0, f"Namespace:\t{_meta(obj).get('namespace', '')}\n")


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------

def _event_selector(obj: Obj, uid: str | None = None) -> str:
    meta = _meta(obj)
    return (f"involvedObject.name={meta.get('name', '')},involvedObject.namespace={meta.get('namespace', '')},"
            f"involvedObject.uid={uid if uid is not None else meta.get('uid', '')}")


def search_events(client: Any, obj: Obj, uid: str | None = None) -> list[Obj]:
    """Events whose involvedObject is ``obj``, found with a field selector as upstream's searchEvents."""
    namespace = _meta(obj).get("namespace") or None
    listed = client.list(EVENTS, namespace, field_selector=_event_selector(obj, uid))
    return list(listed.get("items") or [])


def describe_events(w: _Writer, events: list[Obj], now: datetime) -> None:
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    w.flush()
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    # Sorted by lastTimestamp as upstream's SortableEvents: events.k8s.io events have none and come first.
    for ev in sorted(events, key=lambda e: e.get("lastTimestamp") or ""):
        first = age(ev.get("eventTime"), now) if ev.get("eventTime") else age(ev.get("firstTimestamp"), now)
        if ev.get("series"):
            interval = (f"{age(ev['series'].get('lastObservedTime'), now)} "
                        f"(x{ev['series'].get('count', 0)} over {first})")
        elif (ev.get("count") or 0) > 1:
            interval = f"{age(ev.get('lastTimestamp'), now)} (x{ev['count']} over {first})"
        else:
            interval = first
        source = (ev.get("source") or {}).get("component") or ev.get("reportingComponent") or ""
        # kubectl 1.32 prints the message alone; later versions put the container's fieldPath before it.
        message = (ev.get("message") or "").strip()
        w.write(1, f"{ev.get('type', '')}\t{ev.get('reason', '')}\t{interval}\t{source}\t{message}\n")
