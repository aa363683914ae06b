"""``pods/{name}/exec`` and ``pods/{name}/attach``: a terminal's streams carried to a container and back.

``kubectl exec -i -t web -- sh`` connects the user's terminal to a command in the pod while it
runs: keystrokes go to its stdin, its stdout and stderr come back as they are written, a resized
window is passed on, and the command's exit code becomes kubectl's. Upstream names this package
``remotecommand`` (client-go, apimachinery and the kubelet's streaming server); the same streams
are carried in one of two ways:

* **WebSocket** (kubectl since v1.30, every client library): each binary message starts with a
  channel byte: 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize. The subprotocol says the version:
  ``v4.channel.k8s.io`` ends with a ``Status`` on the error channel (``NonZeroExitCode`` with an
  ``ExitCode`` cause), ``v5.channel.k8s.io`` adds channel 255 to say "this channel is closed"
  (``[255, 0]``: end of stdin, so ``echo hi | kubectl exec -i web -- cat`` ends).
* **SPDY/3.1** (kubectl's fallback when the WebSocket is refused, and before v1.30): after an
  ``Upgrade: SPDY/3.1`` the client opens one SPDY stream (:mod:`.spdy`) per channel, named by its
  ``streamType`` header (``error``, ``stdin``, ``stdout``, ``stderr``, ``resize``); end of stdin
  is the stdin stream's FIN. The version is agreed through ``X-Stream-Protocol-Version``.

Either way the server waits for the command's outputs to end, then sends the Status and closes.
The same code serves a kubelet's own ``/exec`` and ``/attach`` to the API server, which relays a pod
on a kubelet of another process through them (:mod:`.kubeletstreams`).
A client that goes away kills the command. Resize messages are JSON ``{"Width": w, "Height": h}``.

Bounds: a WebSocket message or SPDY frame is at most :data:`MAX_MESSAGE_BYTES`; stdin waits for
the command to read it (the connection is not read meanwhile), and output is read
:data:`CHUNK` bytes at a time, so nothing grows without limit.

Interface:
    Session(outputs, write_stdin, resize, finish, stop)   # what the streams connect to
    await session_of(stream, command) -> Session           # a started ExecStream (minik8s.kubelet.cri)
    await attach_session(outputs, stdin_fd, resize, channels) -> Session
    await serve(request, start)     # start(channels) -> Session; WebSocket or SPDY, as the client asks
    track(app)                      # the app's shutdown ends the sessions still open
    exit_status(command, exit_code) -> Status dict
    Channels.of(query) -> which streams the client asked for

Taught in chapter 5 (Pods: kubectl exec, attach, cp and debug).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping

import orjson
from aiohttp import WSMsgType, web

from minik8s.api import errors
from minik8s.api.errors import StatusError
from minik8s.apiserver import portforward, spdy

log = logging.getLogger(__name__)

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
WEBSOCKET_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                       "channel.k8s.io")
SPDY_PROTOCOLS = WEBSOCKET_PROTOCOLS   # v5 over SPDY is v4 (stdin's FIN already says "closed")
STREAM_TYPES = {"stdin": STDIN, "stdout": STDOUT, "stderr": STDERR, "error": ERROR, "resize": RESIZE}
CHUNK = 32 * 1024                   # bytes read from the command at a time (kubectl's copy buffer)
MAX_MESSAGE_BYTES = 1 << 20         # a WebSocket message from the client (kubectl sends at most 32 KiB)
STREAMS_WAIT_SECONDS = 30.0         # how long a SPDY client may take to open the streams it asked for
CTRL_D = b"\x04"                    # end of input on a terminal


@dataclass(frozen=True)
class Channels:
    """Which streams the client asked for (the query's ``stdin``, ``stdout``, ``stderr``, ``tty``)."""
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    @classmethod
    def of(cls, query: Mapping[str, str]) -> Channels:
        def flag(name: str, default: bool) -> bool:
            value = query.get(name)
            return default if value is None else value.lower() in ("1", "true")
        tty = flag("tty", False)
        return cls(flag("stdin", False), flag("stdout", True), flag("stderr", True) and not tty, tty)

    def check(self) -> None:
        if not (self.stdin or self.stdout or self.stderr):
            raise errors.bad_request("you must specify at least 1 of stdin, stdout, stderr")


@dataclass
class Session:
    """What the client's streams connect to: output channels to copy out, a stdin to write (a chunk,
    or None at its end), a terminal to resize, the Status to end with, and a way to stop early."""
    outputs: dict[int, AsyncIterator[bytes]]
    write_stdin: Callable[[bytes | None], Awaitable[None]] | None
    resize: Callable[[int, int], None]
    finish: Callable[[], Awaitable[dict[str, Any]]]
    stop: Callable[[], None]


def exit_status(command: list[str], exit_code: int) -> dict[str, Any]:
    """The Status an exec ends with on the error channel; kubectl turns it into its own exit code."""
    if exit_code == 0:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
                       f"[{' '.join(command)}], error: exit status {exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(exit_code)}]}}


# --- the command's side: file descriptors read and written without blocking the event loop -------

async def _reader(fd: int) -> AsyncIterator[bytes]:
    """The chunks a pipe or terminal gives until its end (a terminal's end is EIO on Linux)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2 * CHUNK)
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        while True:
            try:
                chunk = await reader.read(CHUNK)
            except OSError:
                return
            if not chunk:
                return
            yield chunk
    finally:
        transport.close()


class _Stdin:
    """The command's stdin: writes wait while it does not read; ``write(None)`` is its end of input
    (Ctrl-D on a terminal, which stays open), ``close()`` lets go of it."""

    def __init__(self, writer: asyncio.StreamWriter, tty: bool):
        self.writer = writer
        self.tty = tty

    @classmethod
    async def open(cls, fd: int, tty: bool) -> _Stdin:
        loop = asyncio.get_running_loop()
        pipe = os.fdopen(fd, "wb", buffering=0)
        transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, pipe)
        return cls(asyncio.StreamWriter(transport, protocol, None, loop), tty)

    async def write(self, chunk: bytes | None) -> None:
        if self.writer.transport.is_closing():
            return
        if chunk is None and not self.tty:
            self.writer.close()
            return
        self.writer.write(CTRL_D if chunk is None else chunk)
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    def close(self) -> None:
        self.writer.close()


def _in_thread(blocking: Callable[[], int]) -> asyncio.Future[int]:
    """Wait for ``blocking`` on a thread of its own: an exec may outlive any executor's patience."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()

    def run() -> None:
        try:
            result, error = blocking(), None
        except Exception as exc:   # the runtime could not tell the exit code: the session still ends
            result, error = 0, exc

        def settle() -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(errors.internal(f"error executing command in container: {error}"))
            else:
                future.set_result(result)
        with contextlib.suppress(RuntimeError):   # the server stopped meanwhile: nobody waits any more
            loop.call_soon_threadsafe(settle)

    threading.Thread(target=run, name="exec-wait", daemon=True).start()
    return future


async def session_of(stream: Any, command: list[str], channels: Channels) -> Session:
    """A :class:`Session` for a started :class:`minik8s.kubelet.cri.ExecStream`; it owns the stream's descriptors.
    A kubelet of another process gives a :class:`minik8s.apiserver.kubeletstreams.RemoteExec` instead,
    which connects to it now."""
    if hasattr(stream, "open_session"):
        return await stream.open_session(channels)  # type: ignore[no-any-return]
    outputs: dict[int, AsyncIterator[bytes]] = {STDOUT: _reader(stream.stdout)}
    if stream.stderr is not None:
        outputs[STDERR] = _reader(stream.stderr)
    stdin = await _Stdin.open(stream.stdin, channels.tty) if stream.stdin is not None else None
    exited = _in_thread(stream.wait)

    async def finish() -> dict[str, Any]:
        code = await exited
        if stdin is not None:
            stdin.close()
        return exit_status(command, code)

    def stop() -> None:
        stream.kill()
        if stdin is not None:
            stdin.close()

    return Session(outputs, stdin.write if stdin is not None else None, stream.resize, finish, stop)


# --- the client's side ------------------------------------------------------------------------

def _resize(session: Session, data: bytes) -> None:
    """One resize message (JSON ``{"Width": w, "Height": h}``); a malformed one is ignored, as upstream does."""
    try:
        size = json.loads(data)
        width, height = int(size["Width"]), int(size["Height"])
    except (ValueError, KeyError, TypeError):
        return
    if 0 < width < 1 << 16 and 0 < height < 1 << 16:
        try:
            session.resize(width, height)
        except Exception as exc:  # a terminal that cannot be resized (gone, or the engine refused) ends nothing
            log.info("resize to %dx%d failed: %s", width, height, exc)


async def _copy_out(session: Session, send: Callable[[int, bytes], Awaitable[None]],
                    end: Callable[[int], Awaitable[None]] | None = None) -> None:
    """Copy every output channel out as it is written, then send the Status on the error channel."""

    async def copy(channel: int, chunks: AsyncIterator[bytes]) -> None:
        async for chunk in chunks:
            await send(channel, chunk)
        if end is not None:
            await end(channel)

    try:
        await asyncio.gather(*(copy(channel, chunks) for channel, chunks in session.outputs.items()))
        status = await session.finish()
    except StatusError as err:   # attach: the pod went away while its logs were followed
        status = err.status()
    await send(ERROR, orjson.dumps(status))


async def serve_websocket(request: web.Request, start: Callable[[Channels], Awaitable[Session]],
                          channels: Channels | None = None) -> web.WebSocketResponse:
    """The channel WebSocket: the upgrade, then ``start``'s session until it ends or the client leaves.
    A StatusError from ``start`` goes to the error channel, where kubectl prints its message."""
    channels = channels or Channels.of(request.query)
    channels.check()
    ws = web.WebSocketResponse(protocols=WEBSOCKET_PROTOCOLS, max_msg_size=MAX_MESSAGE_BYTES)
    if not ws.can_prepare(request).ok:
        raise errors.bad_request("Upgrade request required")
    await ws.prepare(request)
    lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        async with lock:
            if not ws.closed:
                await ws.send_bytes(bytes([channel]) + data)

    try:
        session = await start(channels)
    except StatusError as err:
        await send(ERROR, orjson.dumps(err.status()))
        await ws.close()
        return ws
    copying = asyncio.create_task(_copy_out(session, send))
    reading = asyncio.create_task(_read_websocket(ws, session, v5=ws.ws_protocol == "v5.channel.k8s.io"))
    await _until_either(session, copying, reading)
    await ws.close()
    return ws


async def _until_either(session: Session, copying: asyncio.Task[None], reading: asyncio.Task[None]) -> None:
    """Serve until the command's streams end (the Status is sent) or the client leaves (the command is
    stopped: nobody would read what it writes)."""
    try:
        await asyncio.wait((copying, reading), return_when=asyncio.FIRST_COMPLETED)
        if copying.done():
            copying.result()
    except ConnectionError:
        pass
    finally:   # the client left, or the server is stopping: nobody would read what the command writes
        if not copying.done():
            session.stop()
        reading.cancel()
        copying.cancel()


async def _read_websocket(ws: web.WebSocketResponse, session: Session, *, v5: bool) -> None:
    """The client's messages: stdin, resize, and (v5) the close of stdin; returns when the client leaves."""
    async for message in ws:
        if message.type == WSMsgType.TEXT:   # the Python client sends text stdin: the channel is its first character
            payload = message.data.encode()
        elif message.type == WSMsgType.BINARY:
            payload = message.data
        else:
            continue
        if not payload:
            continue
        channel, data = payload[0], payload[1:]
        if channel == STDIN and session.write_stdin is not None and data:
            await session.write_stdin(data)
        elif channel == RESIZE:
            _resize(session, data)
        elif channel == CLOSE and v5 and data[:1] == bytes([STDIN]) and session.write_stdin is not None:
            await session.write_stdin(None)


# The tasks serving exec and attach sessions now.
_OPEN: web.AppKey[set[asyncio.Task[Any]]] = web.AppKey("remotecommand-open", set)


def track(app: web.Application) -> None:
    """Have ``app`` end every open exec and attach session when it shuts down (their commands are
    killed); otherwise the shutdown would wait for them."""
    open_now: set[asyncio.Task[Any]] = set()
    app[_OPEN] = open_now

    async def end_all(app: web.Application) -> None:
        for task in list(open_now):
            task.cancel()

    app.on_shutdown.append(end_all)


async def serve(request: web.Request, start: Callable[[Channels], Awaitable[Session]],
                channels: Channels | None = None) -> web.StreamResponse:
    """Exec or attach over what the client asked for: SPDY/3.1 or a WebSocket. The streams wanted are
    the query's (:meth:`Channels.of`) unless ``channels`` says (a kubelet's query names them otherwise)."""
    task = asyncio.current_task()
    tracked: set[asyncio.Task[Any]] = request.app.get(_OPEN, set())
    if task is not None:
        tracked.add(task)
    try:
        if request.headers.get("Upgrade", "").lower() == "spdy/3.1":
            return await serve_spdy(request, start, channels)
        return await serve_websocket(request, start, channels)
    finally:
        tracked.discard(task)  # type: ignore[arg-type]


async def attach_session(outputs: dict[int, AsyncIterator[bytes]], stdin: Any,
                         resize: Callable[[int, int], None], channels: Channels) -> Session:
    """A :class:`Session` for ``kubectl attach``: the container's outputs as given, its stdin when the
    client sends one; it ends with Success when the outputs end. ``stdin`` is a descriptor this session
    owns, or (a kubelet of another process) a :class:`minik8s.apiserver.kubeletstreams.RemoteAttach`
    that connects to it. Without outputs (what a kubelet serves the API server) it ends with stdin."""
    write: Callable[[bytes | None], Awaitable[None]] | None = None
    close: Callable[[], None] = lambda: None
    if isinstance(stdin, int) and channels.stdin:
        writer = await _Stdin.open(stdin, channels.tty)
        write, close = writer.write, writer.close
    elif isinstance(stdin, int):
        os.close(stdin)
    elif stdin is not None and channels.stdin:
        with contextlib.suppress(StatusError):   # the kubelet could not be reached: output only, as locally
            write, close = await stdin.open_stdin(channels.tty)
    ended = asyncio.Event()

    async def write_stdin(chunk: bytes | None) -> None:
        assert write is not None
        await write(chunk)
        if chunk is None:
            ended.set()

    async def finish() -> dict[str, Any]:
        if not outputs and write is not None:
            await ended.wait()
        close()
        return exit_status([], 0)

    return Session(outputs, write_stdin if write is not None else None, resize, finish, close)


# --- SPDY -------------------------------------------------------------------------------------

async def serve_spdy(request: web.Request, start: Callable[[Channels], Awaitable[Session]],
                     channels: Channels | None = None) -> web.StreamResponse:
    """A plain ``Upgrade: SPDY/3.1`` exec or attach: agree on the version, send the 101, then serve
    the streams the client opens."""
    channels = channels or Channels.of(request.query)
    channels.check()
    offered = [v.strip() for value in request.headers.getall("X-Stream-Protocol-Version", [])
               for v in value.split(",") if v.strip()]
    chosen = next((p for p in SPDY_PROTOCOLS if p in offered), None) if offered else SPDY_PROTOCOLS[-1]
    if chosen is None:
        raise StatusError(403, "Forbidden", f"unable to upgrade: unable to negotiate protocol: client supports "
                                            f"[{' '.join(offered)}], server supports [{' '.join(SPDY_PROTOCOLS)}]")
    response = web.StreamResponse(status=101, headers={
        "Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": chosen})
    response.force_close()
    await response.prepare(request)
    assert request.transport is not None
    raw = portforward.RawReader(request.transport)
    request.protocol.set_parser(raw)  # type: ignore[arg-type]

    async def write(data: bytes) -> None:
        if not request.transport.is_closing():   # type: ignore[union-attr]
            await response.write(data)

    await _SpdySession(write, channels).run(raw.chunks(), start)
    return response


class _SpdySession:
    """One exec over SPDY: the client opens a stream per channel; once all it asked for are open, the
    session starts and data frames flow."""

    def __init__(self, write: Callable[[bytes], Awaitable[None]], channels: Channels):
        self.write = write
        self.channels = channels
        self.encoder, self.decoder = spdy.Encoder(), spdy.Decoder()
        self.lock = asyncio.Lock()
        self.streams: dict[int, int] = {}          # channel -> SPDY stream id
        self.ready = asyncio.Event()     # every stream the client asked for is open
        self.started = asyncio.Event()   # the command started (or failed to): data may flow
        self.session: Session | None = None
        self.resize_buffer = b""

    def _wanted(self) -> set[int]:
        c = self.channels
        return {ERROR} | {ch for ch, on in ((STDIN, c.stdin), (STDOUT, c.stdout), (STDERR, c.stderr),
                                            (RESIZE, c.tty)) if on}

    async def send(self, frame: spdy.Frame) -> None:
        async with self.lock:
            await self.write(self.encoder.encode(frame))

    async def send_data(self, channel: int, data: bytes) -> None:
        stream = self.streams.get(channel)
        if stream is not None:
            for at in range(0, len(data), CHUNK):
                await self.send(spdy.Data(stream, data[at:at + CHUNK]))

    async def end(self, channel: int) -> None:
        stream = self.streams.get(channel)
        if stream is not None:
            await self.send(spdy.Data(stream, b"", fin=True))

    async def run(self, incoming: AsyncIterator[bytes], start: Callable[[Channels], Awaitable[Session]]) -> None:
        reading = asyncio.create_task(self._read(incoming))
        try:
            opened = asyncio.create_task(self.ready.wait())
            await asyncio.wait((opened, reading), timeout=STREAMS_WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            opened.cancel()
            if not self.ready.is_set():
                return
            try:
                self.session = await start(self.channels)
            except StatusError as err:
                await self.send_data(ERROR, orjson.dumps(err.status()))
                return
            finally:
                self.started.set()
            copying = asyncio.create_task(self._copy())
            await _until_either(self.session, copying, reading)
        finally:
            reading.cancel()
            with contextlib.suppress(ConnectionError):
                for channel in (ERROR, STDOUT, STDERR):
                    if channel in self.streams:
                        await self.end(channel)
                await self.send(spdy.GoAway(0, 0))

    async def _copy(self) -> None:
        assert self.session is not None
        await _copy_out(self.session, self.send_data, self.end)
        await self.end(ERROR)
        self.streams.pop(ERROR, None)

    async def _read(self, incoming: AsyncIterator[bytes]) -> None:
        try:
            async for data in incoming:
                for frame in self.decoder.feed(data):
                    if not await self._handle(frame):
                        return
        except spdy.ProtocolError as err:
            log.info("exec session ended: %s", err)

    async def _handle(self, frame: spdy.Frame) -> bool:
        """One frame from the client; False when the session is over."""
        if isinstance(frame, spdy.SynStream):
            kind = (frame.headers.get("streamtype") or [""])[0]
            channel = STREAM_TYPES.get(kind)
            if channel is None or channel in self.streams or self.ready.is_set():
                await self.send(spdy.RstStream(frame.stream_id, spdy.PROTOCOL_ERROR))
                return True
            self.streams[channel] = frame.stream_id
            await self.send(spdy.SynReply(frame.stream_id))
            if self._wanted() <= set(self.streams):
                self.ready.set()
        elif isinstance(frame, spdy.Data):
            await self._data(frame)
        elif isinstance(frame, spdy.Ping):
            await self.send(frame)
        elif isinstance(frame, spdy.GoAway):
            return False
        return True

    async def _data(self, frame: spdy.Data) -> None:
        await self.started.wait()   # stdin sent at once waits for the command, with the reading
        session = self.session
        if session is None:
            return
        if frame.stream_id == self.streams.get(STDIN) and session.write_stdin is not None:
            if frame.data:
                await session.write_stdin(frame.data)
            if frame.fin:
                await session.write_stdin(None)
        elif frame.stream_id == self.streams.get(RESIZE):
            # A JSON object per resize, one after another on the stream.
            self.resize_buffer = (self.resize_buffer + frame.data)[-MAX_MESSAGE_BYTES:]
            while b"}" in self.resize_buffer:
                one, self.resize_buffer = self.resize_buffer.split(b"}", 1)
                _resize(session, one + b"}")
