"""SPDY/3.1 framing: the multiplexing protocol under ``kubectl port-forward``.

kubectl carries each forwarded TCP connection as a pair of *streams* of one SPDY
session: an ``error`` stream and a ``data`` stream. SPDY (Google's forerunner of
HTTP/2) cuts one byte stream into frames. Every frame has an 8-byte head:

    control frame:  1 | version (15 bits) | type (16) | flags (8) | length (24) | payload
    data frame:     0 | stream id (31 bits)           | flags (8) | length (24) | data

Control frames open streams (``SYN_STREAM``, answered by ``SYN_REPLY``), reset them
(``RST_STREAM``), and keep the session alive (``PING``, ``GOAWAY``, ``SETTINGS``,
``WINDOW_UPDATE``). A data frame with the ``FIN`` flag closes its stream for the sender.
Header blocks (name/value pairs, each length-prefixed) are zlib-compressed with one
compression context per direction for the whole session, primed with the protocol's
dictionary of common header words (:data:`DICTIONARY`), each block ending on a sync flush.

Bounds: a frame longer than :data:`MAX_FRAME_BYTES` or a header block inflating past
:data:`MAX_HEADER_BYTES` is a :class:`ProtocolError` before anything of that size is
allocated; counts and lengths inside a header block are checked against the bytes there.

Interface:
    Decoder().feed(data) -> [frame, ...]     # buffers a partial frame until the rest arrives
    Encoder().encode(frame) -> bytes
    frames: Data, SynStream, SynReply, RstStream, Settings, Ping, GoAway, Headers, WindowUpdate

Taught in chapter 8 (the pod network: port-forward).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
HEAD = 8                              # bytes before every frame's payload
MAX_FRAME_BYTES = 1 << 20             # kubectl writes data frames of at most 32 KiB
MAX_HEADER_BYTES = 64 * 1024          # an inflated header block (kubectl's are under 100 bytes)
MAX_STREAM_ID = (1 << 31) - 1

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN, FLAG_UNIDIRECTIONAL = 0x01, 0x02
# RST_STREAM status codes
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL, INTERNAL_ERROR, STREAM_IN_USE = 1, 2, 3, 5, 6, 8

# The zlib dictionary of SPDY/3 (the spec's section 2.6.10.1): common header names, each preceded by
# its length as four bytes, then common values run together.
_WORDS = ("options,head,post,put,delete,trace,accept,accept-charset,accept-encoding,accept-language,"
          "accept-ranges,age,allow,authorization,cache-control,connection,content-base,content-encoding,"
          "content-language,content-length,content-location,content-md5,content-range,content-type,date,"
          "etag,expect,expires,from,host,if-match,if-modified-since,if-none-match,if-range,"
          "if-unmodified-since,last-modified,location,max-forwards,pragma,proxy-authenticate,"
          "proxy-authorization,range,referer,retry-after,server,te,trailer,transfer-encoding,upgrade,"
          "user-agent,vary,via,warning,www-authenticate,method,get,status,200 OK,version,HTTP/1.1,url,"
          "public,set-cookie,keep-alive,origin").split(",")
_TAIL = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
         "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
         "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
         "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
         "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")


def _dictionary() -> bytes:
    return b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()


DICTIONARY = _dictionary()


class ProtocolError(Exception):
    """The peer sent something that is not SPDY/3.1 within our bounds: the session must end."""


Headers = dict[str, list[str]]


@dataclass(frozen=True)
class Data:
    stream_id: int
    data: bytes = b""
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False
    unidirectional: bool = False
    associated_id: int = 0
    priority: int = 0


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    entries: tuple[tuple[int, int, int], ...] = ()   # (flags, id, value)
    clear: bool = False


@dataclass(frozen=True)
class Ping:
    id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = 0


@dataclass(frozen=True)
class HeadersFrame(SynReply):
    """HEADERS: more headers for an open stream; laid out as SYN_REPLY is."""


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


# Control frames of two 32-bit words, a stream id (31 bits) and a number (masked so): their classes.
_TWO_WORDS: dict[int, tuple[type[RstStream] | type[GoAway] | type[WindowUpdate], int]] = {
    RST_STREAM: (RstStream, 0xFFFFFFFF), GOAWAY: (GoAway, 0xFFFFFFFF), WINDOW_UPDATE: (WindowUpdate, MAX_STREAM_ID)}

Frame = Data | SynStream | SynReply | RstStream | Settings | Ping | GoAway | HeadersFrame | WindowUpdate


# --- header blocks -----------------------------------------------------------------------

def pack_headers(headers: Headers) -> bytes:
    """A header block before compression: a count, then length-prefixed names and values. Names are
    lower case; several values of one name are joined by NUL, as the protocol says."""
    out = [struct.pack(">I", len(headers))]
    for name, values in headers.items():
        raw_name, raw_value = name.lower().encode(), "\0".join(values).encode()
        out += [struct.pack(">I", len(raw_name)), raw_name, struct.pack(">I", len(raw_value)), raw_value]
    return b"".join(out)


def unpack_headers(block: bytes) -> Headers:
    """The reverse of :func:`pack_headers`; every count and length is checked against the block."""
    if len(block) < 4:
        raise ProtocolError("header block too short")
    (count,) = struct.unpack_from(">I", block)
    if count > (len(block) - 4) // 8:      # each pair takes at least its two lengths
        raise ProtocolError(f"header block claims {count} pairs in {len(block)} bytes")
    headers: Headers = {}
    at = 4
    for _ in range(count):
        name, at = _string(block, at)
        value, at = _string(block, at)
        if not name:
            raise ProtocolError("empty header name")
        if name in headers:
            raise ProtocolError(f"duplicate header {name!r}")
        headers[name] = value.split("\0")
    return headers


def _string(block: bytes, at: int) -> tuple[str, int]:
    if at + 4 > len(block):
        raise ProtocolError("header block truncated")
    (size,) = struct.unpack_from(">I", block, at)
    at += 4
    if size > len(block) - at:
        raise ProtocolError(f"header string of {size} bytes overruns its block")
    try:
        return block[at:at + size].decode(), at + size
    except UnicodeDecodeError:
        raise ProtocolError("header is not UTF-8") from None


# --- decoding ----------------------------------------------------------------------------

class Decoder:
    """Frames out of a byte stream that arrives in pieces of any size."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= HEAD:
            first, flags_length = struct.unpack_from(">II", self._buffer)
            flags, length = flags_length >> 24, flags_length & 0xFFFFFF
            if length > MAX_FRAME_BYTES:
                raise ProtocolError(f"frame of {length} bytes exceeds the limit of {MAX_FRAME_BYTES}")
            if len(self._buffer) < HEAD + length:
                break
            payload = bytes(self._buffer[HEAD:HEAD + length])
            del self._buffer[:HEAD + length]
            if first & 0x80000000:
                frame = self._control(first, flags, payload)
                if frame is not None:
                    frames.append(frame)
            else:
                frames.append(Data(first, payload, bool(flags & FLAG_FIN)))
        return frames

    def _control(self, first: int, flags: int, payload: bytes) -> Frame | None:
        version, kind = (first >> 16) & 0x7FFF, first & 0xFFFF
        if version != VERSION:
            raise ProtocolError(f"unsupported SPDY version {version}")
        fin = bool(flags & FLAG_FIN)
        if kind == SYN_STREAM:
            _need(payload, 10, "SYN_STREAM")
            stream_id, associated = struct.unpack_from(">II", payload)
            return SynStream(stream_id & MAX_STREAM_ID, self._headers(payload[10:]), fin,
                             bool(flags & FLAG_UNIDIRECTIONAL), associated & MAX_STREAM_ID, payload[8] >> 5)
        if kind in (SYN_REPLY, HEADERS):
            _need(payload, 4, "SYN_REPLY")
            stream_id = struct.unpack_from(">I", payload)[0] & MAX_STREAM_ID
            headers = self._headers(payload[4:])
            return SynReply(stream_id, headers, fin) if kind == SYN_REPLY else HeadersFrame(stream_id, headers, fin)
        if kind in _TWO_WORDS:
            make, mask = _TWO_WORDS[kind]
            _need(payload, 8, make.__name__)
            stream_id, number = struct.unpack_from(">II", payload)
            return make(stream_id & MAX_STREAM_ID, number & mask)
        if kind == SETTINGS:
            _need(payload, 4, "SETTINGS")
            (count,) = struct.unpack_from(">I", payload)
            if count * 8 != len(payload) - 4:
                raise ProtocolError(f"SETTINGS claims {count} entries in {len(payload)} bytes")
            entries = tuple((head >> 24, head & 0xFFFFFF, value)
                            for head, value in struct.iter_unpack(">II", payload[4:]))
            return Settings(entries, bool(flags & 0x01))
        if kind == PING:
            _need(payload, 4, "PING")
            return Ping(struct.unpack_from(">I", payload)[0])
        return None  # the protocol says to ignore control frames of unknown types

    def _headers(self, compressed: bytes) -> Headers:
        try:
            block = self._inflate.decompress(compressed, MAX_HEADER_BYTES + 1)
        except zlib.error as err:
            raise ProtocolError(f"header block does not inflate: {err}") from None
        if len(block) > MAX_HEADER_BYTES or self._inflate.unconsumed_tail:
            raise ProtocolError(f"header block inflates past {MAX_HEADER_BYTES} bytes")
        return unpack_headers(block)


def _need(payload: bytes, size: int, kind: str) -> None:
    if len(payload) < size:
        raise ProtocolError(f"{kind} frame of {len(payload)} bytes is too short")


# --- encoding ----------------------------------------------------------------------------

class Encoder:
    """Frames into bytes; the header compression context lives as long as the session."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(zdict=DICTIONARY)

    def _compress(self, headers: Headers) -> bytes:
        return self._deflate.compress(pack_headers(headers)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, Data):
            if len(frame.data) > MAX_FRAME_BYTES:
                raise ValueError(f"data frame of {len(frame.data)} bytes: split it")
            return struct.pack(">II", frame.stream_id & MAX_STREAM_ID,
                               (FLAG_FIN if frame.fin else 0) << 24 | len(frame.data)) + frame.data
        fin = FLAG_FIN if getattr(frame, "fin", False) else 0
        if isinstance(frame, SynStream):
            flags = fin | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
            payload = struct.pack(">IIBB", frame.stream_id, frame.associated_id, frame.priority << 5, 0)
            return _control(SYN_STREAM, flags, payload + self._compress(frame.headers))
        if isinstance(frame, SynReply):
            kind = HEADERS if isinstance(frame, HeadersFrame) else SYN_REPLY
            return _control(kind, fin, struct.pack(">I", frame.stream_id) + self._compress(frame.headers))
        if isinstance(frame, RstStream):
            return _control(RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status))
        if isinstance(frame, Settings):
            body = b"".join(struct.pack(">II", flags << 24 | id_, value) for flags, id_, value in frame.entries)
            return _control(SETTINGS, 1 if frame.clear else 0, struct.pack(">I", len(frame.entries)) + body)
        if isinstance(frame, Ping):
            return _control(PING, 0, struct.pack(">I", frame.id))
        if isinstance(frame, GoAway):
            return _control(GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id, frame.status))
        return _control(WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta))


def _control(kind: int, flags: int, payload: bytes) -> bytes:
    return struct.pack(">HHI", 0x8000 | VERSION, kind, flags << 24 | len(payload)) + payload
