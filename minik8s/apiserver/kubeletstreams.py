"""Exec, attach and port-forward between the API server and a kubelet of another process.

On a real cluster ``kubectl exec`` reaches the API server, which opens a connection to the kubelet of
the pod's node (port 10250) and relays the streams both ways. The kubelet's streaming endpoints are
upstream's:

================================================== =====================================================
``/exec/<ns>/<pod>/<container>``                    query ``command`` (repeated), ``input``, ``output``,
                                                    ``error``, ``tty`` (``1`` or ``true``; absent: off)
``/attach/<ns>/<pod>/<container>``                  ``input``, ``output``, ``error``, ``tty``
``/portForward/<ns>/<pod>``                         ``port`` (repeated, or comma-separated)
================================================== =====================================================

Both ends are here, and both reuse what the API server already serves its own clients:

* **the kubelet's side** (:func:`install`, given to :func:`minik8s.kubelet.server.start`, since the
  kubelet package does not import the API server's): exec and attach are
  :func:`minik8s.apiserver.remotecommand.serve` (WebSocket ``v5``/``v4.channel.k8s.io`` or SPDY) on the
  local kubelet's ``exec_stream``/``attach``; port-forward is the channel WebSocket of
  :func:`minik8s.apiserver.portforward.serve_channels` (``v4.channel.k8s.io``: channel ``2n`` carries
  port *n*'s data, ``2n+1`` its errors, each starting with the port number). Every route needs the
  ``nodes/proxy`` permission, as upstream's kubelet asks for these paths.
* **the API server's side** (:class:`RemoteExec`, :func:`dial`): aiohttp's WebSocket client with the
  ``apiserver-kubelet-client`` certificate. An exec becomes a
  :class:`minik8s.apiserver.remotecommand.Session` whose outputs are the kubelet's channels and whose
  ending Status is the one the kubelet sent; a port-forward connection becomes a (reader, writer) pair,
  so the API server serves its client either protocol and relays.

Bounds: each output channel holds at most :data:`QUEUE_CHUNKS` messages before the WebSocket is no
longer read (the kubelet then waits, TCP holding it back); a message is at most
``remotecommand.MAX_MESSAGE_BYTES``. Nothing here blocks the event loop.

Interface:
    install(app, kubelet, checked)      # the kubelet's routes; checked(subresource, handler) authorizes
    RemoteExec(url, ssl_context, command, stdin=, tty=)  # what RemoteKubelet.exec_stream returns
    await RemoteExec.open_session(channels) -> Session
    await run(url, ssl_context, command) -> ExecOutput   # the non-streaming exec, run to its end
    await RemoteAttach(url, ssl_context).open_stdin(tty) -> (write(chunk | None), close); .resize(w, h)
    await dial(url, ssl_context) -> (reader, writer)     # what RemoteKubelet.port_forward returns

Taught in chapter 5 (Pods: kubectl exec) and the control-plane reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import ssl
from dataclasses import dataclass
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping
from urllib.parse import urlencode

import aiohttp
import orjson
from aiohttp import WSMsgType, web

from minik8s.api import errors
from minik8s.api.errors import StatusError
from minik8s.apiserver import portforward, remotecommand
from minik8s.apiserver.remotecommand import CLOSE, ERROR, RESIZE, STDERR, STDIN, STDOUT, Channels, Session

CONNECT_SECONDS = 30        # to reach the kubelet and upgrade the connection
QUEUE_CHUNKS = 16           # messages held per output channel before the WebSocket is not read
MAX_ERROR_BYTES = 64 * 1024  # the error channel's Status (or port-forward's error text)
MAX_RUN_OUTPUT_BYTES = 16 << 20   # what a non-streaming exec (run to its end) may print, per stream
# The kubelet's names for the streams (upstream's ExecStdinParam and friends); the API server's are
# stdin, stdout and stderr.
KUBELET_QUERY = {"input": "stdin", "output": "stdout", "error": "stderr", "tty": "tty"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# --- the kubelet's side ------------------------------------------------------------------------

def channels_of(query: Mapping[str, str]) -> Channels:
    """Which streams the API server asked the kubelet for: ``input``, ``output``, ``error``, ``tty``."""
    def flag(name: str) -> str:
        return "true" if query.get(name, "").lower() in ("1", "true") else "false"
    return Channels.of({ours: flag(theirs) for theirs, ours in KUBELET_QUERY.items()})


def install(app: web.Application, kubelet: Any, checked: Callable[[str, Handler], Handler]) -> None:
    """Add the streaming routes for ``kubelet`` to its HTTPS API ``app`` (GET and POST, as upstream)."""

    async def exec_(request: web.Request) -> web.StreamResponse:
        info = request.match_info
        command = request.query.getall("command", [])

        async def start(channels: Channels) -> Session:
            if not command:
                raise errors.bad_request("you must specify at least 1 command")
            stream = await asyncio.to_thread(functools.partial(
                kubelet.exec_stream, info["namespace"], info["pod"], info["container"], command,
                stdin=channels.stdin, tty=channels.tty))
            return await remotecommand.session_of(stream, command, channels)

        return await remotecommand.serve(request, start, channels_of(request.query))

    async def attach(request: web.Request) -> web.StreamResponse:
        # What the API server asks for: the container's stdin (its outputs it reads from the logs).
        info = request.match_info

        async def start(channels: Channels) -> Session:
            stdin, resize = await asyncio.to_thread(kubelet.attach, info["namespace"], info["pod"], info["container"])
            return await remotecommand.attach_session({}, stdin, resize, channels)

        return await remotecommand.serve(request, start, channels_of(request.query))

    async def port_forward(request: web.Request) -> web.StreamResponse:
        info = request.match_info
        words = [w.strip() for value in request.query.getall("port", []) for w in value.split(",")]
        ports = [p for p in map(portforward.parse_port, words) if p is not None]
        if not words or len(ports) != len(words) or len(ports) > portforward.MAX_PORTS:
            raise errors.bad_request('query parameter "port" must hold port numbers between 1 and 65535')
        ws = web.WebSocketResponse(protocols=portforward.CHANNEL_PROTOCOLS)
        if not ws.can_prepare(request).ok:
            raise errors.bad_request("Upgrade request required")
        await ws.prepare(request)

        async def dial_in_pod(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            return await kubelet.port_forward(info["namespace"], info["pod"], port)  # type: ignore[no-any-return]

        await portforward.serve_channels(ws, ports, dial_in_pod)
        await ws.close()
        return ws

    for path, handler in (("/exec/{namespace}/{pod}/{container}", exec_),
                          ("/attach/{namespace}/{pod}/{container}", attach),
                          ("/portForward/{namespace}/{pod}", port_forward)):
        app.router.add_route("GET", path, checked("proxy", handler))
        app.router.add_route("POST", path, checked("proxy", handler))
    remotecommand.track(app)


# --- the API server's side ---------------------------------------------------------------------

def _client(context: ssl.SSLContext) -> aiohttp.ClientSession:
    # No total timeout: an exec lasts as long as the user's shell.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=1),
                                 timeout=aiohttp.ClientTimeout(total=None, connect=CONNECT_SECONDS))


async def _connect(url: str, context: ssl.SSLContext,
                   protocols: tuple[str, ...]) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    """Upgrade to a WebSocket at the kubelet; what it refuses is a StatusError with its words."""
    http = _client(context)
    try:
        ws = await http.ws_connect(url, protocols=protocols, max_msg_size=remotecommand.MAX_MESSAGE_BYTES,
                                   autoping=True)
        return http, ws
    except aiohttp.WSServerHandshakeError as exc:
        message = await _refusal(http, url, exc)
        await http.close()
        raise StatusError(exc.status if exc.status >= 400 else 500, _reason(exc.status),
                          f"unable to upgrade connection: {message}") from None
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        await http.close()
        host = url.split("://", 1)[-1].split("/", 1)[0]
        cause = getattr(exc, "os_error", exc)   # aiohttp's ClientConnectorError wraps the OSError
        reason = "connect: connection refused" if isinstance(cause, ConnectionRefusedError) else \
            (getattr(cause, "strerror", None) or str(cause) or type(cause).__name__)
        raise StatusError(500, "InternalError", f"error dialing backend: dial tcp {host}: {reason}") from None


async def _refusal(http: aiohttp.ClientSession, url: str, exc: aiohttp.WSServerHandshakeError) -> str:
    """The Status message the kubelet refused the upgrade with, else the HTTP reason. aiohttp does not
    keep the refusal's body; a 401 or 403 comes before the handler and answers any GET the same way,
    so it is asked again without the upgrade to read it."""
    if exc.status in (401, 403):
        with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError):
            async with http.get(url) as response:
                body = json.loads(await response.content.read(MAX_ERROR_BYTES))
                if response.status == exc.status and isinstance(body, dict) and body.get("message"):
                    return str(body["message"])
    return exc.message or str(exc.status)


def _reason(code: int) -> str:
    return {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound"}.get(code, "InternalError")


class _Channels:
    """The kubelet's WebSocket read into one bounded queue per output channel, and its error channel."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, outputs: list[int]):
        self.ws = ws
        self.queues: dict[int, asyncio.Queue[bytes | None]] = {ch: asyncio.Queue(QUEUE_CHUNKS) for ch in outputs}
        self.error = bytearray()
        self.task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        open_ = set(self.queues)
        try:
            async for message in self.ws:
                if message.type != WSMsgType.BINARY or not message.data:
                    continue
                channel, data = message.data[0], message.data[1:]
                if channel in open_ and data:
                    await self.queues[channel].put(bytes(data))
                elif channel == ERROR:
                    self.error += data[:MAX_ERROR_BYTES - len(self.error)]
                elif channel == CLOSE and data[:1] and data[0] in open_:   # v5: that output has ended
                    open_.discard(data[0])
                    await self.queues[data[0]].put(None)
        except (aiohttp.ClientError, OSError) as exc:   # the connection broke: the outputs end here
            self.error = self.error or bytearray(orjson.dumps(errors.internal(f"the kubelet's stream broke: {exc}")
                                                              .status()))
        # Wait for room for the end (a full queue is read on); a stop cancels this instead.
        for channel in open_:
            await self.queues[channel].put(None)

    async def chunks(self, channel: int) -> AsyncIterator[bytes]:
        queue = self.queues[channel]
        while (chunk := await queue.get()) is not None:
            yield chunk


class _Closer:
    """Closing a client WebSocket is a coroutine; ``stop`` and ``resize`` are not: their tasks are held here."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()

    def later(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


async def _close(http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
    with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
        await ws.close()
    await http.close()


class RemoteExec:
    """An exec the kubelet at ``url`` will run: made without I/O (``RemoteKubelet.exec_stream`` runs on a
    worker thread), connected on the event loop by :func:`minik8s.apiserver.remotecommand.session_of`."""

    def __init__(self, url: str, context: ssl.SSLContext, command: list[str]):
        self.url = url
        self.context = context
        self.command = command

    async def open_session(self, channels: Channels) -> Session:
        return await _open(self.url, self.context, self.command, channels)


async def _open(url: str, context: ssl.SSLContext, command: list[str], channels: Channels) -> Session:
    """A Session relayed to the kubelet's ``/exec`` or ``/attach`` at ``url``, with the streams ``channels`` names."""
    query: list[tuple[str, str]] = [("command", word) for word in command]
    query += [(theirs, "1") for theirs, ours in KUBELET_QUERY.items() if getattr(channels, ours)]
    http, ws = await _connect(f"{url}?{urlencode(query)}", context, remotecommand.WEBSOCKET_PROTOCOLS[:2])
    v5 = ws.protocol == remotecommand.WEBSOCKET_PROTOCOLS[0]
    outputs = [ch for ch, on in ((STDOUT, channels.stdout), (STDERR, channels.stderr)) if on]
    streams = _Channels(ws, outputs)
    closer = _Closer()
    lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        async with lock:
            if not ws.closed:
                with contextlib.suppress(ConnectionError):
                    await ws.send_bytes(bytes([channel]) + data)

    async def write_stdin(chunk: bytes | None) -> None:
        if chunk is None:
            if v5:   # v4 cannot say "end of input"
                await send(CLOSE, bytes([STDIN]))
            return
        for at in range(0, len(chunk), remotecommand.CHUNK):
            await send(STDIN, chunk[at:at + remotecommand.CHUNK])

    def resize(width: int, height: int) -> None:
        closer.later(send(RESIZE, orjson.dumps({"Width": width, "Height": height})))

    async def finish() -> dict[str, Any]:
        await streams.task
        await _close(http, ws)
        if not streams.error:   # v4 and v5 end with a Status; none at all means it went well
            return remotecommand.exit_status(command, 0)
        try:
            status = json.loads(bytes(streams.error))
        except ValueError:
            raise errors.internal(bytes(streams.error).decode(errors="replace")) from None
        return status if isinstance(status, dict) else remotecommand.exit_status(command, 0)

    def stop() -> None:
        streams.task.cancel()
        closer.later(_close(http, ws))

    return Session({ch: streams.chunks(ch) for ch in outputs}, write_stdin if channels.stdin else None,
                   resize, finish, stop)


@dataclass
class ExecOutput:
    """A command run to its end on a kubelet of another process (an ExecResult's fields)."""
    exit_code: int
    stdout: str
    stderr: str


async def run(url: str, context: ssl.SSLContext, command: list[str]) -> ExecOutput:
    """Run ``command`` through the kubelet's ``/exec`` to its end, without stdin: the non-streaming exec."""
    session = await RemoteExec(url, context, command).open_session(Channels(False, True, True, False))
    output = {STDOUT: bytearray(), STDERR: bytearray()}

    async def collect(channel: int, chunks: AsyncIterator[bytes]) -> None:
        async for chunk in chunks:
            if len(output[channel]) + len(chunk) > MAX_RUN_OUTPUT_BYTES:
                session.stop()
                raise errors.internal(f"the output of {command[0]!r} exceeds {MAX_RUN_OUTPUT_BYTES} bytes")
            output[channel] += chunk

    await asyncio.gather(*(collect(channel, chunks) for channel, chunks in session.outputs.items()))
    status = await session.finish()
    code = 0
    if status.get("status") != "Success":
        causes = (status.get("details") or {}).get("causes") or []
        exit_codes = [c.get("message") for c in causes if isinstance(c, dict) and c.get("reason") == "ExitCode"]
        if not exit_codes or not str(exit_codes[0]).isdigit():
            raise StatusError(int(status.get("code") or 500), str(status.get("reason") or "InternalError"),
                              str(status.get("message") or "error executing command"))
        code = int(exit_codes[0])
    return ExecOutput(code, output[STDOUT].decode(errors="replace"), output[STDERR].decode(errors="replace"))


class RemoteAttach:
    """The stdin and terminal of a container on the kubelet at ``url`` (``kubectl attach -i``): what
    ``RemoteKubelet.attach`` returns in place of a file descriptor; its outputs come from the logs."""

    def __init__(self, url: str, context: ssl.SSLContext):
        self.url = url
        self.context = context
        self.session: Session | None = None

    async def open_stdin(self, tty: bool) -> tuple[Callable[[bytes | None], Awaitable[None]], Callable[[], None]]:
        """Connect: (write a chunk, or None at the end; close)."""
        self.session = await _open(self.url, self.context, [], Channels(True, False, False, tty))
        assert self.session.write_stdin is not None
        return self.session.write_stdin, self.session.stop

    def resize(self, width: int, height: int) -> None:
        if self.session is not None:
            self.session.resize(width, height)


class _Reader:
    """The pod's bytes, as the kubelet sends them on a port's data channel (a StreamReader's ``read``);
    text on the error channel is raised as the StatusError the kubelet meant."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse):
        self.ws = ws
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUE_CHUNKS)
        self.headers = {0: True, 1: True}   # each channel's first message starts with the port number
        self.error = bytearray()
        self.buffer = b""
        self.task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        try:
            async for message in self.ws:
                if message.type != WSMsgType.BINARY or not message.data or message.data[0] > 1:
                    continue
                channel, data = message.data[0], message.data[1:]
                if self.headers[channel]:
                    self.headers[channel], data = False, data[2:]
                if channel == 0 and data:
                    await self.queue.put(bytes(data))
                elif channel == 1:
                    self.error += data[:MAX_ERROR_BYTES - len(self.error)]
        except (aiohttp.ClientError, OSError):   # the connection broke: the pod's bytes end here
            pass
        await self.queue.put(None)   # when there is room: a close cancels this instead

    async def read(self, n: int = -1) -> bytes:
        if not self.buffer:
            chunk = await self.queue.get()
            if chunk is None:
                self.queue.put_nowait(None)   # every later read is the end too
                if self.error:
                    raise StatusError(500, "InternalError", bytes(self.error).decode(errors="replace"))
                return b""
            self.buffer = chunk
        size = len(self.buffer) if n < 0 else n
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


class _Writer:
    """Bytes for the pod, sent on a port's data channel (a StreamWriter's ``write``/``drain``/``close``).
    The channel protocol has no half-close: end of input from the client is not passed on."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse, reader: _Reader):
        self.http, self.ws, self.reader = http, ws, reader
        self.pending: list[bytes] = []
        self.closer = _Closer()

    def write(self, data: bytes) -> None:
        self.pending.append(bytes(data))

    async def drain(self) -> None:
        pending, self.pending = self.pending, []
        for data in pending:
            for at in range(0, len(data), remotecommand.CHUNK):
                if self.ws.closed:
                    raise ConnectionResetError("the kubelet closed the connection")
                await self.ws.send_bytes(b"\x00" + data[at:at + remotecommand.CHUNK])

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        pass

    def close(self) -> None:
        self.reader.task.cancel()
        self.closer.later(_close(self.http, self.ws))


async def dial(url: str, context: ssl.SSLContext) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """One connection into a pod through the kubelet's ``/portForward`` (``url`` names the port)."""
    http, ws = await _connect(url, context, portforward.CHANNEL_PROTOCOLS[:1])
    reader = _Reader(ws)
    return reader, _Writer(http, ws, reader)  # type: ignore[return-value]  # the methods the copy uses
