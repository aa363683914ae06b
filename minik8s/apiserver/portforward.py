"""``pods/{name}/portforward``: TCP connections into a pod, tunnelled through the API server.

``kubectl port-forward pod/web 18080:80`` listens on 127.0.0.1:18080; each connection
accepted there becomes a pair of streams of one SPDY/3.1 session (:mod:`.spdy`) to
the API server, tagged with headers: ``streamtype`` (``error`` or ``data``), ``port``
(80) and ``requestid`` (which connection). The API server asks the pod's kubelet for
a connection to that port inside the pod, then copies bytes both ways between it and
the ``data`` stream. What goes wrong (nothing listens on the port) is written as text
on the ``error`` stream; kubectl prints it. A kubelet of another process is reached the same way
(:mod:`.kubeletstreams`): its own channel WebSocket, whose error text arrives with the first read.

Since v1.31 kubectl carries the SPDY session inside a WebSocket (subprotocol
``SPDY/3.1+portforward.k8s.io``, binary messages; the ``PortForwardWebsockets``
feature), and falls back to a plain ``Upgrade: SPDY/3.1`` connection when the server
refuses the WebSocket. The Python clients use a plain WebSocket instead (``v4.channel.k8s.io``,
ports in the query): channel ``2n`` carries port *n*'s data and ``2n+1`` its errors,
and the first message on each starts with the port number (two bytes, little endian).
Both are served here.

Bounds and order: a session holds at most :data:`MAX_CONNECTIONS` connections; each
stream buffers at most :data:`STREAM_QUEUE` frames from the client; when a pod reads
slowly the session stops reading from kubectl (no byte is held without limit). Outgoing frames are encoded and sent under one lock, because
header compression is one zlib stream for the whole session.

Interface:
    serve_spdy(ws, dial)        # a prepared WebSocket carrying SPDY
    serve_spdy_upgrade(request, response, dial)   # a plain SPDY/3.1 upgrade, once the 101 is sent
    serve_channels(ws, ports, dial)
    dial(port) -> (StreamReader, StreamWriter), raising StatusError with the error-stream text
                  (so may the reader's ``read``)

Taught in chapter 8 (the pod network: port-forward).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import AsyncIterator, Awaitable, Callable

from aiohttp import WSMsgType, web

from minik8s.api.errors import StatusError
from minik8s.apiserver import spdy

log = logging.getLogger(__name__)

SPDY_PROTOCOL = "portforward.k8s.io"
TUNNEL_PREFIX = "SPDY/3.1+"                 # the WebSocket subprotocol tunnelling SPDY
CHANNEL_PROTOCOLS = ("v4.channel.k8s.io", "v5.channel.k8s.io", "channel.k8s.io")
CHUNK = 32 * 1024                           # bytes read from the pod at a time (kubectl's copy buffer)
STREAM_QUEUE = 16                           # frames held per stream before the session stops reading
MAX_PORTS = 64                              # ports one channel WebSocket may ask for
RAW_BUFFER_BYTES = 1 << 20                  # bytes read ahead on a plain SPDY connection before pausing
MAX_CONNECTIONS = 1024                      # connections (stream pairs) one SPDY session may hold open

Dial = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def parse_port(text: str) -> int | None:
    """A port header or query value: 1..65535, decimal digits only."""
    if not text.isdigit() or len(text) > 5:
        return None
    port = int(text)
    return port if 0 < port < 65536 else None


# --- SPDY in a WebSocket (kubectl) --------------------------------------------------------

@dataclass
class _Pair:
    """One forwarded connection: its error and data streams, as they arrive."""
    port: int
    error: int | None = None
    data: int | None = None
    inbound: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(STREAM_QUEUE))
    task: asyncio.Task[None] | None = None


class _Session:
    """One SPDY session over any byte transport: ``write`` sends bytes, ``run`` reads them."""

    def __init__(self, write: Callable[[bytes], Awaitable[None]], dial: Dial):
        self.write = write
        self.dial = dial
        self.encoder = spdy.Encoder()
        self.decoder = spdy.Decoder()
        self.send_lock = asyncio.Lock()
        self.pairs: dict[str, _Pair] = {}
        self.by_stream: dict[int, _Pair] = {}
        self.last_stream_id = 0

    async def send(self, frame: spdy.Frame) -> None:
        async with self.send_lock:
            await self.write(self.encoder.encode(frame))

    async def run(self, incoming: AsyncIterator[bytes]) -> None:
        try:
            async for data in incoming:
                for frame in self.decoder.feed(data):
                    if not await self.handle(frame):
                        return
        except spdy.ProtocolError as err:
            log.info("port-forward session ended: %s", err)
            await self.send(spdy.GoAway(0, 1))
        finally:
            for pair in self.pairs.values():
                if pair.task is not None:
                    pair.task.cancel()

    async def handle(self, frame: spdy.Frame) -> bool:
        """One frame from kubectl; False when the session is over."""
        if isinstance(frame, spdy.SynStream):
            await self.open(frame)
        elif isinstance(frame, spdy.Data):
            pair = self.by_stream.get(frame.stream_id)
            if pair is not None and frame.stream_id == pair.data:
                if frame.data:
                    await pair.inbound.put(frame.data)
                if frame.fin:
                    await pair.inbound.put(None)
        elif isinstance(frame, spdy.RstStream):
            pair = self.by_stream.get(frame.stream_id)
            if pair is not None and pair.task is not None and frame.stream_id == pair.data:
                pair.task.cancel()
        elif isinstance(frame, spdy.Ping):
            await self.send(frame)            # the answer to a ping is the same ping
        elif isinstance(frame, spdy.GoAway):
            return False
        # SETTINGS and WINDOW_UPDATE: kubectl's SPDY library keeps no flow-control windows, nor do we.
        return True

    async def open(self, frame: spdy.SynStream) -> None:
        """A new stream: accept it, and start forwarding once both streams of its connection are here."""
        headers = {name: values[0] for name, values in frame.headers.items() if values}
        kind, request_id = headers.get("streamtype"), headers.get("requestid", "")
        port = parse_port(headers.get("port", ""))
        # Stream ids only grow (the protocol's rule): an old id is a mistake, never a new stream.
        if kind not in ("error", "data") or port is None or frame.stream_id <= self.last_stream_id:
            await self.send(spdy.RstStream(frame.stream_id, spdy.PROTOCOL_ERROR))
            return
        self.last_stream_id = frame.stream_id
        if request_id not in self.pairs and len(self.pairs) >= MAX_CONNECTIONS:
            await self.send(spdy.RstStream(frame.stream_id, spdy.REFUSED_STREAM))
            return
        pair = self.pairs.setdefault(request_id, _Pair(port))
        if getattr(pair, kind) is not None or pair.port != port:
            await self.send(spdy.RstStream(frame.stream_id, spdy.PROTOCOL_ERROR))
            return
        setattr(pair, kind, frame.stream_id)
        self.by_stream[frame.stream_id] = pair
        await self.send(spdy.SynReply(frame.stream_id))
        if pair.error is not None and pair.data is not None:
            pair.task = asyncio.create_task(self.forward(request_id, pair))

    async def forward(self, request_id: str, pair: _Pair) -> None:
        assert pair.error is not None and pair.data is not None
        data = pair.data
        try:
            try:
                reader, writer = await self.dial(pair.port)
                await _copy_both(reader, writer, pair.inbound, lambda chunk: self.send(spdy.Data(data, chunk)))
            except StatusError as err:   # from the dial, or later from a kubelet of another process
                await self.send(spdy.Data(pair.error, err.message.encode()))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            for stream in (pair.data, pair.error):
                self.by_stream.pop(stream, None)
            self.pairs.pop(request_id, None)
            with contextlib.suppress(ConnectionError):   # kubectl may be gone already
                for stream in (pair.data, pair.error):
                    await self.send(spdy.Data(stream, b"", fin=True))


async def _copy_both(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     inbound: asyncio.Queue[bytes | None], send: Callable[[bytes], Awaitable[None]]) -> None:
    """Copy the pod's bytes out with ``send`` and ``inbound``'s bytes in, until the pod closes its side."""

    async def upload() -> None:
        while (chunk := await inbound.get()) is not None:
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()   # kubectl closed its side: the pod reads end-of-file

    uploading = asyncio.create_task(upload())
    try:
        while chunk := await reader.read(CHUNK):
            await send(chunk)
    finally:
        uploading.cancel()
        writer.close()


async def serve_spdy(ws: web.WebSocketResponse, dial: Dial) -> None:
    """Serve kubectl's SPDY session carried by ``ws`` (binary messages) until kubectl leaves."""

    async def messages() -> AsyncIterator[bytes]:
        async for message in ws:
            if message.type != WSMsgType.BINARY:
                return
            yield message.data

    async def write(data: bytes) -> None:
        if not ws.closed:
            await ws.send_bytes(data)

    await _Session(write, dial).run(messages())


class RawReader:
    """The bytes of an upgraded HTTP connection, as aiohttp's protocol hands them over (it calls
    ``feed_data``). Reading pauses while :data:`RAW_BUFFER_BYTES` wait, so a slow session holds
    the peer back instead of growing this buffer."""

    def __init__(self, transport: asyncio.Transport):
        self.transport = transport
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.waiting = 0

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.queue.put_nowait(bytes(data))
        self.waiting += len(data)
        if self.waiting > RAW_BUFFER_BYTES and not self.transport.is_closing():
            self.transport.pause_reading()
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(b"")

    async def chunks(self) -> AsyncIterator[bytes]:
        while data := await self.queue.get():
            self.waiting -= len(data)
            if self.waiting <= RAW_BUFFER_BYTES // 2 and not self.transport.is_closing():
                self.transport.resume_reading()
            yield data


async def serve_spdy_upgrade(request: web.Request, response: web.StreamResponse, dial: Dial) -> None:
    """Serve a plain ``Upgrade: SPDY/3.1`` connection (kubectl before v1.31, or with
    ``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``) once ``response`` (101) has been sent: from here on
    the connection's bytes are SPDY frames both ways."""
    assert request.transport is not None
    reader = RawReader(request.transport)
    request.protocol.set_parser(reader)  # type: ignore[arg-type]

    async def write(data: bytes) -> None:
        if not request.transport.is_closing():   # type: ignore[union-attr]
            await response.write(data)

    await _Session(write, dial).run(reader.chunks())


# --- plain channels (the Python clients) --------------------------------------------------

async def serve_channels(ws: web.WebSocketResponse, ports: list[int], dial: Dial) -> None:
    """One connection per port for the life of the WebSocket: channel 2n is port n's data, 2n+1 its errors."""
    send_lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        async with send_lock:
            if not ws.closed:
                await ws.send_bytes(bytes([channel]) + data)

    inbound: list[asyncio.Queue[bytes | None]] = [asyncio.Queue(STREAM_QUEUE) for _ in ports]
    tasks = []
    for index, port in enumerate(ports):
        header = port.to_bytes(2, "little")
        await send(2 * index, header)
        await send(2 * index + 1, header)
        tasks.append(asyncio.create_task(_channel(index, port, inbound[index], dial, send)))

    async def close_when_done() -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        await ws.close()       # every port's connection has ended: so does the WebSocket

    closer = asyncio.create_task(close_when_done())
    try:
        async for message in ws:
            if message.type != WSMsgType.BINARY or not message.data:
                break
            channel, data = message.data[0], message.data[1:]
            if channel % 2 == 0 and channel // 2 < len(ports):
                await inbound[channel // 2].put(data)
    finally:
        for task in (*tasks, closer):
            task.cancel()


async def _channel(index: int, port: int, inbound: asyncio.Queue[bytes | None], dial: Dial,
                   send: Callable[[int, bytes], Awaitable[None]]) -> None:
    try:
        reader, writer = await dial(port)
        await _copy_both(reader, writer, inbound, lambda chunk: send(2 * index, chunk))
    except StatusError as err:   # from the dial, or later from a kubelet of another process
        await send(2 * index + 1, err.message.encode())
    except ConnectionError:
        pass
