"""The short hashes in generated names: ``nginx-7f98958cdf``, ``web-6c8d5b7f9``.

A Deployment names each ReplicaSet after a hash of its pod template (the
``pod-template-hash`` label), and StatefulSets and DaemonSets name their
ControllerRevisions after a hash of the revision's data. Upstream hashes the Go
struct with FNV-32a and writes the number in an alphabet without vowels
(``rand.SafeEncodeString``), so names never spell words.

How minik8s differs: upstream feeds the hash a printout of the Go struct, which
Python cannot reproduce; minik8s hashes the object's canonical JSON instead. The
names look the same, but the hash of a given template differs from a real
cluster's.

Interface: ``template_hash(template, collision_count)`` (upstream's ``controller.ComputeHash``),
``revision_hash(data, collision_count)`` (``history.HashControllerRevision``), ``fnv32a``, ``safe_encode``.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from minik8s.clock import SUFFIX_ALPHABET


def fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """Each character mapped into the alphabet without vowels (upstream's ``rand.SafeEncodeString``)."""
    return "".join(SUFFIX_ALPHABET[ord(ch) % len(SUFFIX_ALPHABET)] for ch in text)


def prune_nulls(value: Any) -> Any:
    """Drop ``null`` fields: Go clients send ``creationTimestamp: null`` in templates, and a typed
    decoder reads null as "unset", so upstream never sees them as a difference."""
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value


def canonical(obj: Any) -> bytes:
    return json.dumps(prune_nulls(obj), sort_keys=True, separators=(",", ":")).encode()


def template_hash(template: Any, collision_count: int | None = None) -> str:
    """The hash of a pod template. A collision count is written as upstream does: 8 little-endian
    bytes whose first 4 hold the uint32."""
    data = canonical(template)
    if collision_count is not None:
        data += struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\x00\x00\x00\x00"
    return safe_encode(str(fnv32a(data)))


def revision_hash(data: Any, collision_count: int | None = None) -> str:
    """The hash naming a ControllerRevision; a collision count is appended in decimal, as upstream."""
    payload = canonical(data)
    if collision_count:
        payload += str(collision_count).encode()
    return safe_encode(str(fnv32a(payload)))
