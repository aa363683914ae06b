"""An aiohttp application served from a daemon thread with an event loop of its own.

Servers that live beside other work in one process use it: ``Cluster.serve()`` serves the API this way
(:mod:`minik8s.apiserver.serving`), and so does a kubelet's HTTPS API (:mod:`minik8s.kubelet.server`).

Interface: ``server = BackgroundServer(app); port = server.start(host, port, ssl_context); server.stop()``.
"""

from __future__ import annotations

import asyncio
import ssl
import threading

from aiohttp import web


class BackgroundServer:
    """An aiohttp application served from a daemon thread with its own event loop."""

    def __init__(self, app: web.Application, name: str = "apiserver-https"):
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"minik8s-{name}", daemon=True)

    def start(self, host: str, port: int, ssl_context: ssl.SSLContext | None) -> int:
        """Start listening; returns the port (useful with ``port=0``). Raises OSError if it cannot bind."""
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(host, port, ssl_context), self._loop)
        try:
            return future.result(timeout=30)
        except BaseException:
            self.stop()
            raise

    async def _start(self, host: str, port: int, ssl_context: ssl.SSLContext | None) -> int:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port, ssl_context=ssl_context).start()
        return int(self._runner.addresses[0][1])

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if self._runner is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
            except Exception:  # noqa: BLE001 - stopping: a slow close must not keep the cluster alive
                pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
