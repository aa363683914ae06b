"""A small HTTPS server for tests: a webhook or an extension API server the API server calls.

``TLSBackend(directory, routes)`` serves aiohttp ``routes`` over TLS on a free loopback port,
in a thread of its own, with a certificate from :mod:`minik8s.pki` for ``localhost``,
``127.0.0.1`` and the Service names given; ``ca_bundle`` is the CA as an API object carries
it (base64 PEM). With ``client_ca``, client certificates that CA signed are verified too
(``peer_common_name(request)`` tells who presented one). ``requests`` records every request body decoded as JSON (None otherwise).
"""

from __future__ import annotations

import asyncio
import base64
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from minik8s import pki


class TLSBackend:
    def __init__(self, directory: Path, routes: list[web.RouteDef], names: tuple[str, ...] = (),
                 client_ca: Path | None = None):
        self.pki = pki.ensure(directory, ["localhost", "127.0.0.1", *names])
        self._client_ca = client_ca
        self.ca_bundle = base64.b64encode(self.pki.ca_pem).decode()
        self.requests: list[tuple[str, Any, dict[str, str]]] = []
        self._routes = routes
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            body = await request.json() if request.can_read_body else None
            self.requests.append((request.path_qs, body, dict(request.headers)))
            return await handler(request)

        app = web.Application(middlewares=[record])
        app.add_routes(self._routes)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        context = self.pki.server_ssl_context()
        if self._client_ca is not None:   # also accept client certificates of this CA (the cluster's)
            context.load_verify_locations(cafile=str(self._client_ca))
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def peer_common_name(request: web.Request) -> str | None:
    """The CN of the verified client certificate the request came with, if any."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    cert = ssl_object.getpeercert() if ssl_object else None
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
