"""The ingress controller's data plane: an HTTP(S) reverse proxy on aiohttp.

The controller (:mod:`minik8s.ingress.controller`) computes a :class:`Config` (the route table, the
ready endpoints of every backend, the TLS certificates by host) and hands it over in one assignment;
the proxy answers each request from the config it holds at that moment:

* the route (:meth:`RouteTable.match`) names a Service and port; nothing matched gives the default
  backend's ``404 Not Found``;
* the backend's ready endpoints are taken in turn (round robin); none gives ``503 Service Temporarily
  Unavailable``, as ingress-nginx answers; an endpoint that refuses or times out gives ``502``/``504``;
* the request goes on with ``X-Forwarded-For`` (the client appended), ``X-Forwarded-Host``,
  ``X-Forwarded-Proto``, ``X-Forwarded-Port`` and ``X-Real-IP``; bodies stream in both directions
  in chunks (never held whole), so chunked and long-lived responses pass through; a WebSocket upgrade
  is relayed frame by frame;
* HTTPS: one ``ssl.SSLContext`` per certificate, chosen by SNI (``sni_callback``); a host without a
  certificate gets the proxy's own self-signed one (ingress-nginx's "Fake Certificate").

How a pod is reached depends on the runtime: ``process``/``docker`` pods listen on real addresses
(the ``process`` runtime's loopback pod IPs shift low ports by its offset, see
:func:`minik8s.kubelet.runtimes.process.network.port_on_host`); ``simulated`` pods answer through the
simulated pod network's ``request`` function, with no socket (its answers are whole strings).

Interface:
    proxy = IngressProxy(transport)                 # HTTPTransport(port_offset) | SimulatedTransport(network, clock)
    proxy.config = Config(...)                      # the controller does this
    http_port, https_port = proxy.serve(host, http_port, https_port)    # a thread with its own loop
    proxy.decide(host, path) -> (status, endpoint)  # the routing decision alone (tests, Cluster.http_get)
    proxy.stop()

Taught in the chapter on Ingress and NetworkPolicy.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import aiohttp
from aiohttp import web

from minik8s.ingress.routing import Backend, RouteTable, request_host
from minik8s.kubelet.runtimes.process.network import port_on_host

# Tunables.
CONNECT_TIMEOUT = 5.0          # seconds to reach an endpoint (ingress-nginx: proxy-connect-timeout 5s)
READ_TIMEOUT = 60.0            # seconds between two reads from an endpoint (proxy-read-timeout 60s)
CHUNK = 64 * 1024              # bytes relayed at a time, each way
MAX_HEADER_BYTES = 16 * 1024   # request line and each header field, at most
HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "host", "content-length"))

NOT_FOUND_BODY = "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1>" \
                 "</center>\r\n<hr><center>minik8s-ingress</center>\r\n</body>\r\n</html>\r\n"
UNAVAILABLE_BODY = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n" \
                   "<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>minik8s-ingress" \
                   "</center>\r\n</body>\r\n</html>\r\n"

Endpoint = tuple[str, int]


@dataclass(frozen=True)
class Config:
    """Everything the proxy needs, computed by the controller; replaced whole, never changed."""
    table: RouteTable = field(default_factory=RouteTable)
    endpoints: dict[Backend, tuple[Endpoint, ...]] = field(default_factory=dict)   # ready (ip, targetPort)
    certificates: dict[str, ssl.SSLContext] = field(default_factory=dict)          # host (or *.wildcard) -> context


class HTTPTransport:
    """Real sockets: ``process`` and ``docker`` pods."""

    def __init__(self, port_offset: int = 0):
        self.port_offset = port_offset

    def address(self, endpoint: Endpoint) -> Endpoint:
        ip, port = endpoint
        return (ip, port_on_host(port, self.port_offset) if ip.startswith("127.") else port)


class SimulatedTransport:
    """The simulated pod network: a function call instead of a connection."""

    def __init__(self, network: Any, clock: Callable[[], float], node: str = ""):
        self.network = network
        self.clock = clock
        self.node = node

    def request(self, client_ip: str, endpoint: Endpoint, method: str, target: str) -> Any:
        return self.network.request(self.node, client_ip, endpoint[0], endpoint[1], method, target, self.clock(),
                                    "minik8s-ingress")


class IngressProxy:
    def __init__(self, transport: HTTPTransport | SimulatedTransport):
        self.transport = transport
        self.config = Config()
        self._turns: dict[tuple[Backend, tuple[Endpoint, ...]], Any] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self._session: aiohttp.ClientSession | None = None
        self._fallback: ssl.SSLContext | None = None

    # --- the decision ----------------------------------------------------------------------------

    def decide(self, host: str, path: str) -> tuple[int, Endpoint | None]:
        """(200, endpoint) to forward to; (404, None) nothing matched; (503, None) no ready endpoint."""
        config = self.config
        route = config.table.match(request_host(host), path)
        if route is None:
            return 404, None
        endpoints = config.endpoints.get(route.backend) or ()
        if not endpoints:
            return 503, None
        with self._lock:   # round robin over the endpoints as they are now
            key = (route.backend, endpoints)
            turn = self._turns.get(key)
            if turn is None:
                turn = self._turns[key] = itertools.cycle(endpoints)
                self._turns = {k: v for k, v in self._turns.items() if k[0] != route.backend or k == key}
            return 200, next(turn)

    def request_simulated(self, host: str, target: str, method: str = "GET",
                          client_ip: str = "127.0.0.1") -> tuple[int, str]:
        """One request through the proxy without sockets (the simulated runtime): (status, body)."""
        status, endpoint = self.decide(host, target.split("?", 1)[0])
        if endpoint is None:
            return status, NOT_FOUND_BODY if status == 404 else UNAVAILABLE_BODY
        assert isinstance(self.transport, SimulatedTransport)
        response = self.transport.request(client_ip, endpoint, method, target)
        if response is None:
            return 502, "502 Bad Gateway"
        return int(response.status), str(response.body)

    # --- serving ----------------------------------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", http_port: int = 0, https_port: int | None = 0) -> tuple[int, int | None]:
        """Listen on ``host`` (HTTP, and HTTPS unless ``https_port`` is None) from a thread of its own;
        returns the ports bound (0 picks free ones). Raises OSError if a port is taken."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="minik8s-ingress", daemon=True)
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(host, http_port, https_port), self._loop)
        try:
            return future.result(timeout=30)
        except BaseException:
            self.stop()
            raise

    async def _start(self, host: str, http_port: int, https_port: int | None) -> tuple[int, int | None]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT, sock_read=READ_TIMEOUT)
        self._session = aiohttp.ClientSession(timeout=timeout, auto_decompress=False,
                                              connector=aiohttp.TCPConnector(limit=0))
        ports: list[int | None] = []
        for port, tls in ((http_port, None), (https_port, self._server_context())):
            if port is None:
                ports.append(None)
                continue
            app = web.Application(handler_args={"max_line_size": MAX_HEADER_BYTES, "max_field_size": MAX_HEADER_BYTES})
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            self._runners.append(runner)
            await web.TCPSite(runner, host, port, ssl_context=tls).start()
            ports.append(int(runner.addresses[0][1]))
        return ports[0] or 0, ports[1]

    def _server_context(self) -> ssl.SSLContext:
        """The listening context: its own certificate for clients without a known SNI name; the SNI
        callback swaps in the context of the host's certificate."""
        from minik8s.ingress.certificates import fake_certificate_context

        self._fallback = fake_certificate_context()
        self._fallback.sni_callback = self._choose_certificate
        return self._fallback

    def _choose_certificate(self, sock: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        certificates = self.config.certificates
        name = (server_name or "").lower()
        context = certificates.get(name) or certificates.get("*." + name.partition(".")[2])
        if context is not None:
            sock.context = context

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._cleanup(), loop).result(timeout=10)
        except Exception:  # noqa: BLE001 - stopping: a slow close must not keep the cluster alive
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)

    async def _cleanup(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # --- one request ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        status, endpoint = self.decide(request.host, request.path)
        if endpoint is None:
            body = NOT_FOUND_BODY if status == 404 else UNAVAILABLE_BODY
            reason = "Not Found" if status == 404 else "Service Temporarily Unavailable"
            return web.Response(status=status, reason=reason, text=body, content_type="text/html")
        headers = _forwarded(request)
        if isinstance(self.transport, SimulatedTransport):
            response = self.transport.request(request.remote or "", endpoint, request.method, request.path_qs)
            if response is None:
                return web.Response(status=502, text="502 Bad Gateway\n")
            return web.Response(status=response.status, text=response.body,
                                headers={k: v for k, v in response.headers if k.lower() not in HOP_BY_HOP
                                         and k.lower() != "content-type"},
                                content_type=dict((k.lower(), v) for k, v in response.headers)
                                .get("content-type", "text/plain").split(";")[0])
        ip, port = self.transport.address(endpoint)
        url = f"http://{ip}:{port}{request.path_qs}"
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, url, headers)
        return await self._forward(request, url, headers)

    async def _forward(self, request: web.Request, url: str, headers: dict[str, str]) -> web.StreamResponse:
        assert self._session is not None
        body = request.content.iter_chunked(CHUNK) if request.body_exists else None
        try:
            async with self._session.request(request.method, url, headers=headers, data=body,
                                             allow_redirects=False) as upstream:
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for name, value in upstream.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        response.headers.add(name, value)
                if upstream.headers.get("Content-Length") and request.method != "HEAD":
                    response.content_length = int(upstream.headers["Content-Length"])
                await response.prepare(request)
                async for chunk in upstream.content.iter_chunked(CHUNK):
                    await response.write(chunk)
                await response.write_eof()
                return response
        except asyncio.TimeoutError:
            return web.Response(status=504, text="504 Gateway Time-out\n")
        except aiohttp.ClientError:
            return web.Response(status=502, text="502 Bad Gateway\n")

    async def _websocket(self, request: web.Request, url: str, headers: dict[str, str]) -> web.StreamResponse:
        assert self._session is not None
        for name in ("Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Extensions"):
            headers.pop(name, None)
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        headers.pop("Sec-WebSocket-Protocol", None)
        try:
            upstream = await self._session.ws_connect(url, headers=headers, protocols=protocols)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return web.Response(status=502, text="502 Bad Gateway\n")
        client = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else ())
        await client.prepare(request)

        async def relay(source: Any, sink: Any) -> None:
            async for message in source:
                if message.type == aiohttp.WSMsgType.TEXT:
                    await sink.send_str(message.data)
                elif message.type == aiohttp.WSMsgType.BINARY:
                    await sink.send_bytes(message.data)
                else:
                    break
            await sink.close()

        async with upstream:
            await asyncio.gather(relay(client, upstream), relay(upstream, client), return_exceptions=True)
        return client


def _forwarded(request: web.Request) -> dict[str, str]:
    """The request's end-to-end headers, plus what a proxy adds so the backend knows the real client."""
    headers = {name: value for name, value in request.headers.items() if name.lower() not in HOP_BY_HOP}
    client = request.remote or ""
    prior = request.headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{prior}, {client}" if prior else client
    headers["X-Real-IP"] = client
    headers["X-Forwarded-Host"] = request.host
    headers["X-Forwarded-Proto"] = request.scheme
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if sockname:
        headers["X-Forwarded-Port"] = str(sockname[1])
    headers["Host"] = request.host   # the backend sees the host the client asked for, as nginx sends it
    return headers
