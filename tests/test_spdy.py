"""The SPDY/3.1 framer under port-forward: round trips, compressed headers, and bounds on bad input."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest
from hypothesis import given, strategies as st

from minik8s.apiserver import spdy

FRAMES = [
    spdy.SynStream(1, {"streamtype": ["error"], "port": ["80"], "requestid": ["0"]}, priority=3),
    spdy.SynStream(3, {"streamtype": ["data"]}, fin=True, unidirectional=True, associated_id=1),
    spdy.SynReply(1, {}),
    spdy.SynReply(3, {"x-many": ["a", "b"]}, fin=True),
    spdy.Data(3, b"GET / HTTP/1.1\r\n\r\n"),
    spdy.Data(3, b"", fin=True),
    spdy.RstStream(5, spdy.CANCEL),
    spdy.Settings(((1, 4, 100), (0, 7, 65536)), clear=True),
    spdy.Ping(2),
    spdy.GoAway(7, 1),
    spdy.HeadersFrame(3, {"a": ["b"]}),
    spdy.WindowUpdate(3, 65536),
]


def test_dictionary_is_the_protocols():
    # The SPDY/3 spec's dictionary: 1423 bytes; this digest is of the bytes every implementation shares.
    assert len(spdy.DICTIONARY) == 1423
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == \
        "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"


def test_every_frame_round_trips_through_one_session():
    encoder, decoder = spdy.Encoder(), spdy.Decoder()
    wire = b"".join(encoder.encode(frame) for frame in FRAMES)
    assert decoder.feed(wire) == FRAMES


def test_frames_split_anywhere_are_reassembled():
    encoder = spdy.Encoder()
    wire = b"".join(encoder.encode(frame) for frame in FRAMES)
    decoder = spdy.Decoder()
    got = []
    for i in range(len(wire)):          # one byte at a time: the worst split a WebSocket can make
        got += decoder.feed(wire[i:i + 1])
    assert got == FRAMES


def test_wire_layout_of_a_data_and_a_control_frame():
    encoder = spdy.Encoder()
    assert encoder.encode(spdy.Data(5, b"hi", fin=True)) == bytes.fromhex("00000005" "01000002") + b"hi"
    # control bit, version 3, type 6 (PING), no flags, length 4, id 9
    assert encoder.encode(spdy.Ping(9)) == bytes.fromhex("80030006" "00000004" "00000009")


def test_header_blocks_use_the_dictionary_and_one_context_per_session():
    encoder = spdy.Encoder()
    headers = {"streamtype": ["data"], "port": ["80"], "requestid": ["0"]}
    first = encoder.encode(spdy.SynStream(1, headers))
    second = encoder.encode(spdy.SynStream(3, headers))
    assert len(second) < len(first)     # the second block refers back to the first
    block = first[18:]
    inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)
    assert spdy.unpack_headers(inflate.decompress(block)) == headers
    with pytest.raises(zlib.error):     # without the dictionary it cannot be read
        zlib.decompressobj().decompress(block)


@given(st.dictionaries(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20),
                       st.lists(st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=30),
                                min_size=1, max_size=3), max_size=8),
       st.binary(max_size=2000))
def test_any_headers_and_data_round_trip(headers, data):
    encoder, decoder = spdy.Encoder(), spdy.Decoder()
    frames = [spdy.SynStream(1, headers), spdy.Data(1, data, fin=True), spdy.SynReply(1, headers)]
    assert decoder.feed(b"".join(encoder.encode(f) for f in frames)) == frames


def test_a_frame_longer_than_the_limit_is_refused_from_its_head_alone():
    head = struct.pack(">II", 1, spdy.MAX_FRAME_BYTES + 1)   # data frame claiming 1 MiB + 1, no payload sent
    with pytest.raises(spdy.ProtocolError, match="exceeds the limit"):
        spdy.Decoder().feed(head)


def test_a_header_block_that_inflates_too_far_is_refused():
    bomb = zlib.compressobj(zdict=spdy.DICTIONARY)
    block = bomb.compress(struct.pack(">I", 1) + b"\0" * (spdy.MAX_HEADER_BYTES + 100)) + bomb.flush(zlib.Z_SYNC_FLUSH)
    frame = struct.pack(">HHI", 0x8003, spdy.SYN_REPLY, 4 + len(block)) + struct.pack(">I", 1) + block
    assert len(frame) < 1000
    with pytest.raises(spdy.ProtocolError, match="inflates past"):
        spdy.Decoder().feed(frame)


@pytest.mark.parametrize("block, message", [
    (struct.pack(">I", 1_000_000), "claims 1000000 pairs"),
    (struct.pack(">II", 1, 50) + b"short", "overruns its block"),
    (struct.pack(">III", 1, 0, 0), "empty header name"),
    (b"\0\0", "too short"),
])
def test_bad_header_blocks_are_protocol_errors(block, message):
    with pytest.raises(spdy.ProtocolError, match=message):
        spdy.unpack_headers(block)


def test_garbage_and_short_frames_are_protocol_errors():
    with pytest.raises(spdy.ProtocolError, match="does not inflate"):
        payload = struct.pack(">I", 1) + b"not zlib at all"
        spdy.Decoder().feed(struct.pack(">HHI", 0x8003, spdy.SYN_REPLY, len(payload)) + payload)
    with pytest.raises(spdy.ProtocolError, match="too short"):
        spdy.Decoder().feed(struct.pack(">HHI", 0x8003, spdy.PING, 2) + b"\0\0")
    with pytest.raises(spdy.ProtocolError, match="version 2"):
        spdy.Decoder().feed(struct.pack(">HHI", 0x8002, spdy.PING, 4) + b"\0\0\0\1")
    with pytest.raises(spdy.ProtocolError, match="SETTINGS claims"):
        spdy.Decoder().feed(struct.pack(">HHII", 0x8003, spdy.SETTINGS, 4, 1000))


def test_unknown_control_frames_are_skipped():
    unknown = struct.pack(">HHI", 0x8003, 0x0F, 3) + b"abc"
    assert spdy.Decoder().feed(unknown + spdy.Encoder().encode(spdy.Ping(1))) == [spdy.Ping(1)]
