"""Container logs: the CRI log format, written by the runtime and read back by the kubelet.

A container writes bytes to its stdout and stderr; it never writes a log file. On a real
node the runtime (containerd, CRI-O) reads both streams through pipes and appends what
arrives to the container's log file, ``/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log``,
one record a line, stamped with the time the runtime received it (RFC 3339, nanoseconds)::

    2025-01-01T00:00:05.123456789Z stdout F hello world
    2025-01-01T00:00:06.2Z stderr P Password:
    2025-01-01T00:00:09.5Z stderr F  (the end of that line)

``F`` (full) ends a line; ``P`` (partial) is a piece of a line whose end has not come yet:
a very long line, or output flushed without a newline. The kubelet parses the file back
for ``kubectl logs`` (upstream ``pkg/kubelet/kuberuntime/logs``): it joins the pieces of
each line and applies the request's options, upstream's order: ``tailLines`` (the last
lines of the file), then ``sinceTime``/``sinceSeconds`` (lines received at or after that
time), then ``timestamps`` (each line prefixed by its time in the fixed-width RFC3339Nano
form, ``2025-01-01T00:00:06.200000000Z Password:``). A line's time is its first piece's.

Interface:
    record(time_ns, stream, text, partial=False) -> bytes   # one record (the runtime writes these)
    parse(data) -> [LogEntry]                                 # a log file's lines, their pieces joined
    LogEntry(time_ns, stream, text)                           # text keeps its "\\n"; an unfinished line has none
    read(entries, timestamps=, since_ns=, tail_lines=, stream=) -> str # what ``kubectl logs`` prints
    timestamp(time_ns) -> str;  parse_timestamp(text) -> time_ns;  nanoseconds(seconds) -> int

Invariant: ``"".join(e.text for e in parse(data))`` is every byte the container wrote,
decoded, in the order the runtime read it (stdout and stderr come through two pipes, so
their relative order is the runtime's reading order, as with containerd).

Taught in chapter 5 (Pods: a container's logs).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone

STREAMS = ("stdout", "stderr")
FULL, PARTIAL = "F", "P"


@dataclass(frozen=True)
class LogEntry:
    """One line of a container's output: when the runtime received it, from which stream, the text."""
    time_ns: int           # nanoseconds since the Unix epoch (of the line's first piece)
    stream: str            # "stdout" or "stderr"
    text: str              # ends with "\n", unless the container has not finished the line


def nanoseconds(seconds: float) -> int:
    """A clock's float seconds as integer nanoseconds. A float holds today's epoch seconds to a
    fraction of a microsecond only, so the time is rounded to the microsecond (exact for a virtual clock)."""
    return round(seconds * 1_000_000) * 1000


def timestamp(time_ns: int) -> str:
    """The kubelet's output form (upstream ``RFC3339NanoFixed``): always nine digits, UTC."""
    seconds, fraction = divmod(time_ns, 1_000_000_000)
    return f"{_second(seconds)}.{fraction:09d}Z"


@functools.lru_cache(maxsize=1024)
def _second(seconds: int) -> str:
    # Cached: a log's lines share their seconds, and formatting a date is the slow part of a long log.
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@functools.lru_cache(maxsize=1024)
def _parse_second(text: str) -> int:
    return int(datetime.fromisoformat(text + "+00:00").timestamp())


def _rfc3339nano(time_ns: int) -> str:
    """Go's ``time.RFC3339Nano``, as containerd writes it: trailing zeros of the fraction dropped."""
    fixed = timestamp(time_ns)
    whole, fraction = fixed[:-1].split(".")
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}Z" if fraction else f"{whole}Z"


def parse_timestamp(text: str) -> int:
    """RFC 3339 with 0 to 9 fraction digits (upstream parses leniently, ``RFC3339NanoLenient``)."""
    whole, _, rest = text.partition(".")
    if rest:
        digits = rest.rstrip("Z")
        zone = rest[len(digits):]
    else:
        whole, zone, digits = text.rstrip("Z"), "Z", ""
    if zone != "Z" or not digits.isdigit() and digits:
        raise ValueError(f"not an RFC 3339 UTC time: {text!r}")
    return _parse_second(whole) * 1_000_000_000 + int(digits.ljust(9, "0") or 0)


def record(time_ns: int, stream: str, text: str, partial: bool = False) -> bytes:
    """One record of the log file; ``text`` is one line without its newline (or a piece of one)."""
    assert stream in STREAMS and "\n" not in text
    return f"{_rfc3339nano(time_ns)} {stream} {PARTIAL if partial else FULL} {text}\n".encode()


def parse(data: bytes) -> list[LogEntry]:
    """The lines of a CRI log file, each line's pieces joined. A last record without its newline is
    one the runtime is still writing: it is left for the next read. Malformed records are skipped,
    as upstream's kubelet skips what it cannot parse."""
    entries: list[LogEntry] = []
    unfinished: dict[str, int] = {}          # stream -> index in entries of its line still in pieces
    for line in data.decode(errors="replace").split("\n")[:-1]:
        fields = line.split(" ", 3)
        if len(fields) < 3 or fields[1] not in STREAMS or fields[2] not in (FULL, PARTIAL):
            continue
        try:
            time_ns = parse_timestamp(fields[0])
        except ValueError:
            continue
        stream, tag, text = fields[1], fields[2], fields[3] if len(fields) == 4 else ""
        if tag == FULL:
            text += "\n"
        at = unfinished.pop(stream, None)
        if at is not None:
            first = entries[at]
            entries[at] = LogEntry(first.time_ns, stream, first.text + text)
        else:
            at = len(entries)
            entries.append(LogEntry(time_ns, stream, text))
        if tag == PARTIAL:
            unfinished[stream] = at
    return entries


def read(entries: list[LogEntry], *, timestamps: bool = False, since_ns: int | None = None,
         tail_lines: int | None = None, stream: str | None = None) -> str:
    """What ``kubectl logs`` prints, with upstream's options applied in upstream's order. ``stream``
    (``stdout`` or ``stderr``) keeps one stream's lines only, as attach sends them apart."""
    if stream is not None:
        entries = [e for e in entries if e.stream == stream]
    if tail_lines is not None:
        entries = entries[-tail_lines:] if tail_lines > 0 else []
    if since_ns is not None:
        entries = [e for e in entries if e.time_ns >= since_ns]
    if timestamps:
        return "".join(f"{timestamp(e.time_ns)} {e.text}" for e in entries)
    return "".join(e.text for e in entries)
