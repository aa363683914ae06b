"""Serving the API over HTTPS: the credentials a secure server needs, and a server on its own thread.

``minik8s server`` and ``Cluster.serve()`` serve the same way (the code lives here once):

* :func:`secure` loads (or makes) the PKI under a folder (:mod:`minik8s.pki`) and wires it into the
  API server: ServiceAccount tokens are signed with ``sa.key``, the CA becomes ``api.root_ca_pem``
  (published to every namespace as ``kube-root-ca.crt``), and the returned filter policy
  authenticates client certificates, static tokens and ServiceAccount tokens
  (:class:`minik8s.apiserver.auth.authentication.Authenticator`); TokenReview uses the same.
* :class:`BackgroundServer` runs the aiohttp application on an event loop of its own thread, for
  an in-process cluster whose API pods (or a notebook's official client) must reach over the network.

Interface:
    pki_, policy = secure(api, pki_dir, names)
    server = BackgroundServer(app); port = server.start(host, port, ssl_context); server.stop()

Taught in chapter 2 (architecture) and chapter 16 (who is asking).
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from minik8s import pki
from minik8s.apiserver import filters
from minik8s.apiserver.auth.authentication import Authenticator, TokenAuthenticator
from minik8s.apiserver.auth.bootstraptoken import BootstrapTokenAuthenticator

if TYPE_CHECKING:
    from minik8s.apiserver.apiserver import APIServer


def secure(api: "APIServer", pki_dir: Path, names: list[str]) -> tuple[pki.PKI, filters.Policy]:
    """The PKI under ``pki_dir`` (made if missing), wired into ``api``; and the filters' policy."""
    credentials = pki.ensure(pki_dir, names)
    api.tokens.use_key(credentials.sa_key_pem)
    api.root_ca_pem = credentials.ca_pem
    static = TokenAuthenticator(pki.read_token_file(credentials.directory / "tokens.csv"))
    authenticator = Authenticator(static, api.tokens, BootstrapTokenAuthenticator(_secret_getter(api), api.clock.now))
    api.authenticate_token = authenticator.authenticate_token   # TokenReview asks the same authenticators
    proxy_client = pki.ensure_front_proxy_client(credentials.directory)   # for the aggregator
    return credentials, filters.Policy(frozenset(names), authenticator, proxy_client)


def _secret_getter(api: "APIServer") -> Any:
    from minik8s.api import resources
    from minik8s.api.errors import StatusError

    secrets = resources.get("", "v1", "secrets")

    def get(namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return api.get(secrets, namespace, name)
        except StatusError:
            return None
    return get


class BackgroundServer:
    """An aiohttp application served from a daemon thread with its own event loop."""

    def __init__(self, app: web.Application):
        self.app = app
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="minik8s-apiserver-https", daemon=True)

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
