"""Kubernetes protobuf request bodies, decoded into the JSON the API accepts.

The real kubectl talks to the API server in two encodings. Its generic code sends
JSON, but its *typed* clients (``kubectl create namespace``, ``create deployment``,
``create secret``, ``drain``...) send ``Content-Type: application/vnd.kubernetes.protobuf``.
Such a body is an envelope:

    "k8s\\x00"  +  runtime.Unknown{ typeMeta: {apiVersion, kind}, raw: <the typed message> }

The raw bytes are the object in protobuf's wire format, which carries field
*numbers* and wire types only. The names and types come from upstream's
``generated.proto`` files, reduced by ``tools/gen_protobuf_schema.py`` to a fact
table (``protobuf_fields.json``): for each message, field number -> JSON name,
label (optional, repeated, map), type, and whether the Go field is a pointer.
This module walks the bytes with that table and rebuilds the object as JSON, so
the rest of the API server never learns that protobuf existed. Answers stay JSON:
kubectl's ``Accept`` header lists ``application/json`` too.

Kubernetes' special types become their JSON forms: ``Time`` (seconds, nanos) an
RFC 3339 string, ``MicroTime`` the same with microseconds, ``IntOrString`` an int or
a string, ``Quantity`` its string, ``RawExtension`` and ``FieldsV1`` the JSON
they carry, and ``bytes`` fields (``Secret.data``) base64, as in JSON.

Why a hand-written wire reader: the ``protobuf`` package decodes only messages it
has compiled descriptors for (its schema-less decoder is private API), and the wire
format is four cases (varint, 64-bit, length-delimited, 32-bit), about sixty lines.

Interface:
    decode(body) -> dict                    # raises StatusError 400 on a bad body
    decode_message(message, data) -> dict   # one typed message, by full proto name
    read_varint(data, pos) -> (value, pos)  # wire level, for tests and the curious
    iter_fields(data) -> iterator of (number, wire type, value)

Invariants: a malformed body is a 400 BadRequest, never an exception escaping;
zero-valued scalars of value (non-pointer) fields are dropped, as Go's decoding
into a struct makes them indistinguishable from absent; unknown field numbers
are skipped, as upstream's generated code does.

Taught in chapter 3 (kubectl talks to the API server), in "what travels on the wire".
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson

from minik8s.api import errors

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
TABLE_PATH = Path(__file__).with_name("protobuf_fields.json")
META = "k8s.io.apimachinery.pkg.apis.meta.v1"

# Wire types (the low three bits of a field's key).
VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5

# [json name, "optional"|"repeated"|"map"|"inline", type] + [True] when a zero must be kept (a Go pointer)
Field = list[Any]


class ProtobufError(ValueError):
    """The bytes do not follow the wire format or the schema; the text mirrors Go's."""


# ---------------------------------------------------------------- the wire format


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Read a base-128 varint at ``pos``: seven bits a byte, low bits first, high bit = more."""
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ProtobufError("unexpected EOF")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift >= 70:  # ten bytes hold any 64-bit value
            raise ProtobufError("proto: integer overflow")


def _take(data: bytes, pos: int, size: int) -> tuple[bytes, int]:
    if size > len(data) - pos:
        raise ProtobufError("unexpected EOF")
    return data[pos:pos + size], pos + size


def iter_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(field number, wire type, value)``: an int for varints, bytes otherwise."""
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("proto: illegal tag 0 (wire type %d)" % wire)
        value: int | bytes
        if wire == VARINT:
            value, pos = read_varint(data, pos)
        elif wire == FIXED64:
            value, pos = _take(data, pos, 8)
        elif wire == LENGTH:
            size, pos = read_varint(data, pos)
            value, pos = _take(data, pos, size)
        elif wire == FIXED32:
            value, pos = _take(data, pos, 4)
        else:  # 3 and 4 are proto1 groups, which Kubernetes never uses
            raise ProtobufError(f"proto: illegal wireType {wire}")
        yield number, wire, value


def _signed(value: int, bits: int) -> int:
    """Negative ints travel as 64-bit two's complement varints; fold them back."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


# ---------------------------------------------------------------- scalars

_VARINT_SCALARS: dict[str, Callable[[int], Any]] = {
    "int32": lambda v: _signed(v, 32),
    "int64": lambda v: _signed(v, 64),
    "uint32": lambda v: v & 0xFFFFFFFF,
    "uint64": lambda v: v,
    "bool": lambda v: v != 0,
}


def _scalar(typ: str, wire: int, value: int | bytes, name: str) -> Any:
    if typ in _VARINT_SCALARS and isinstance(value, int):
        return _VARINT_SCALARS[typ](value)
    if typ == "string" and isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if typ == "bytes" and isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")  # []byte is base64 in Kubernetes JSON
    raise ProtobufError(f"proto: wrong wireType = {wire} for field {name}")


def _packed(typ: str, data: bytes) -> list[Any]:
    """A packed repeated scalar: one length-delimited field holding back-to-back varints."""
    values, pos = [], 0
    while pos < len(data):
        raw, pos = read_varint(data, pos)
        values.append(_VARINT_SCALARS[typ](raw))
    return values


# ---------------------------------------------------------------- Kubernetes' special types


def _time(obj: dict[str, Any], layout: str, micro: bool) -> str | None:
    if not obj:  # a zero time.Time is marshalled as an empty message
        return None
    seconds = obj.get("seconds", 0)
    try:
        moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        raise ProtobufError(f"proto: time {seconds} is out of range") from None
    text = moment.strftime(layout)
    # metav1.Time keeps whole seconds only; MicroTime keeps microseconds.
    return text + (f".{obj.get('nanos', 0) // 1000:06d}Z" if micro else "Z")


def _int_or_string(obj: dict[str, Any]) -> int | str:
    return obj.get("strVal", "") if obj.get("type", 0) == 1 else obj.get("intVal", 0)


def _embedded_json(raw: str | None) -> Any:
    """RawExtension and FieldsV1 carry JSON bytes (base64 after the generic pass)."""
    if not raw:
        return None
    data = base64.b64decode(raw)
    if data.startswith(MAGIC):
        return decode(data)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ProtobufError(f"embedded object is not JSON: {exc}") from None


SPECIAL: dict[str, Callable[[dict[str, Any]], Any]] = {
    f"{META}.Time": lambda o: _time(o, "%Y-%m-%dT%H:%M:%S", micro=False),
    f"{META}.MicroTime": lambda o: _time(o, "%Y-%m-%dT%H:%M:%S", micro=True),
    f"{META}.FieldsV1": lambda o: _embedded_json(o.get("Raw")),
    "k8s.io.apimachinery.pkg.runtime.RawExtension": lambda o: _embedded_json(o.get("raw")),
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _int_or_string,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": lambda o: o.get("string", "0"),
}


# ---------------------------------------------------------------- messages


@lru_cache(maxsize=1)
def table() -> dict[str, Any]:
    """The fact table written by ``tools/gen_protobuf_schema.py``."""
    with TABLE_PATH.open() as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


def decode_message(message: str, data: bytes) -> Any:
    """Decode the bytes of one message (full proto name) into its JSON value."""
    fields: dict[str, Field] = table()["messages"][message]
    obj: dict[str, Any] = {}
    for number, wire, value in iter_fields(data):
        field = fields.get(str(number))
        if field is None:
            continue  # a field newer than our table: skip it, as Go's generated code does
        _set_field(obj, field, wire, value)
    for field in fields.values():
        if field[1] == "optional" and not _keep(obj.get(field[0]), field):
            obj.pop(field[0], None)
    special = SPECIAL.get(message)
    return special(obj) if special else obj


def _keep(value: Any, field: Field) -> bool:
    """Go's decoding into a value field makes 0, false and "" the same as absent; a pointer
    field (``replicas``, ``automountServiceAccountToken``) keeps them: they were chosen."""
    if value is None:
        return False
    pointer = len(field) > 3
    return pointer or isinstance(value, dict) or value not in ("", 0, False)


def _value(typ: str, wire: int, value: int | bytes, name: str) -> Any:
    if typ in table()["messages"]:
        if not isinstance(value, bytes):
            raise ProtobufError(f"proto: wrong wireType = {wire} for field {name}")
        return decode_message(typ, value)
    return _scalar(typ, wire, value, name)


def _set_field(obj: dict[str, Any], field: Field, wire: int, value: int | bytes) -> None:
    name, label, typ = field[0], field[1], field[2]
    if label == "map":
        if not isinstance(value, bytes):
            raise ProtobufError(f"proto: wrong wireType = {wire} for field {name}")
        key, item = _map_entry(typ, value, name)
        obj.setdefault(name, {})[key] = item
    elif label == "inline":  # an embedded Go struct: JSON lifts its fields into this object
        decoded = _value(typ, wire, value, name)
        obj.update(decoded if isinstance(decoded, dict) else {})
    elif label == "repeated":
        items = obj.setdefault(name, [])
        if wire == LENGTH and typ in _VARINT_SCALARS and isinstance(value, bytes):
            items.extend(_packed(typ, value))
        else:
            items.append(_value(typ, wire, value, name))
    else:
        decoded = _value(typ, wire, value, name)
        previous = obj.get(name)
        if isinstance(previous, dict) and isinstance(decoded, dict):
            previous.update(decoded)  # a repeated message field merges, per the protobuf spec
        else:
            obj[name] = decoded


_MAP_DEFAULTS = {"string": "", "bytes": ""}


def _map_entry(typ: str, data: bytes, name: str) -> tuple[str, Any]:
    """A map is a repeated message of ``{1: key, 2: value}`` entries."""
    key, item = "", None
    for number, wire, value in iter_fields(data):
        if number == 1:
            key = _scalar("string", wire, value, f"{name} key")
        elif number == 2:
            item = _value(typ, wire, value, name)
    if item is None:
        item = decode_message(typ, b"") if typ in table()["messages"] else _MAP_DEFAULTS.get(typ, 0)
    return key, item


# ---------------------------------------------------------------- the envelope


def _unwrap(body: bytes) -> tuple[str, str, bytes]:
    """Split the envelope into (apiVersion, kind, raw), with upstream's wording on failure."""
    if not body:
        raise errors.bad_request("empty data")
    if not body.startswith(MAGIC):
        raise errors.bad_request("provided data does not appear to be a protobuf message, "
                                 "expected prefix [107 56 115 0]")
    if len(body) == len(MAGIC):
        raise errors.bad_request("empty body")
    api_version, kind, raw = "", "", b""
    try:
        for number, _, value in iter_fields(body[len(MAGIC):]):
            if number == 1 and isinstance(value, bytes):  # typeMeta
                for sub, _, text in iter_fields(value):
                    if sub == 1 and isinstance(text, bytes):
                        api_version = text.decode("utf-8", errors="replace")
                    elif sub == 2 and isinstance(text, bytes):
                        kind = text.decode("utf-8", errors="replace")
            elif number == 2 and isinstance(value, bytes):  # raw
                raw = value
    except ProtobufError as exc:
        raise errors.bad_request(f"the object provided is unrecognized: {exc}") from None
    return api_version, kind, raw


def _message_for(api_version: str, kind: str) -> str:
    package = table()["packages"].get(api_version)
    candidates = [f"{package}.{kind}"] if package else []
    candidates.append(f"{META}.{kind}")  # DeleteOptions and friends are in every group version
    for name in candidates:
        if name in table()["messages"]:
            return name
    raise errors.bad_request(f'no kind "{kind}" is registered for version "{api_version}"'
                             if kind else "Object 'Kind' is missing in the protobuf envelope")


def decode(body: bytes) -> dict[str, Any]:
    """Turn a ``application/vnd.kubernetes.protobuf`` request body into its JSON object."""
    api_version, kind, raw = _unwrap(body)
    message = _message_for(api_version, kind)
    try:
        obj = decode_message(message, raw)
    except ProtobufError as exc:
        version = api_version.rpartition("/")[2]
        raise errors.bad_request(f'{kind} in version "{version}" cannot be handled as a {kind}: {exc}') from None
    return {"apiVersion": api_version, "kind": kind, **obj}
