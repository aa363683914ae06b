"""The filters every request passes before a handler sees it (kube-apiserver's handler chain).

In order:

1. **Host.** The ``Host`` header must name this server (an address or name it
   listens on or was given with ``--tls-san``). A web page that re-points its
   own domain at 127.0.0.1 (*DNS rebinding*) sends its own domain there, so it
   is refused.
2. **Origin.** Browsers mark every cross-site request (and WebSocket upgrade)
   with ``Origin``; kubectl and the client libraries never send one. A request
   whose ``Origin`` is not this server itself is refused, so no page the user
   visits can drive the cluster, not even with the "simple" ``text/plain`` POSTs
   that need no CORS preflight. No ``Access-Control-Allow-*`` header is ever sent.
3. **Authentication** (:mod:`minik8s.apiserver.auth.authentication`): a wrong
   credential is ``401 Unauthorized``; none at all is ``system:anonymous``.
   Then **impersonation** (``Impersonate-User``/``-Group``/``-Uid`` headers, see
   :mod:`minik8s.apiserver.auth.impersonation`): the request continues as that user.
4. **Authorization** (:mod:`minik8s.apiserver.auth.authorization`): 403 unless allowed.

Upstream kube-apiserver has no Host or Origin check: it relies on TLS and
credentials alone. minik8s runs on students' laptops beside their browsers, so it
checks both as well (defence in depth; the book says so).

Interface: ``Policy(allowed_hosts, authenticator, proxy_client=None)``; ``Policy.insecure(allowed_hosts)``
(``minik8s server --insecure``: no credential needed, everyone is an admin);
``middlewares(policy, authorizer=None) -> list`` for ``aiohttp.web.Application``; handlers
find the user with :func:`minik8s.apiserver.auth.context.current_user`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from minik8s.api.errors import StatusError
from minik8s.apiserver.auth.authentication import Authenticator, TokenAuthenticator, User
from minik8s.apiserver.auth.authorization import Authorizer, DefaultAuthorizer
from minik8s.apiserver.auth.context import acting_as
from minik8s.apiserver.auth.impersonation import impersonate
from minik8s.apiserver.auth.requestinfo import also_create, request_info

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Who an --insecure server takes every request to be: its old "insecure port" had no checks at all.
UNSECURED = User("system:unsecured", groups=("system:masters", "system:authenticated"))


@dataclass(frozen=True)
class Policy:
    allowed_hosts: frozenset[str]
    authenticator: TokenAuthenticator | Authenticator | None   # None: --insecure, no credential asked for
    # The front-proxy client certificate and key files the aggregator presents to extension API servers.
    proxy_client: tuple[Path, Path] | None = None

    @classmethod
    def insecure(cls, allowed_hosts: frozenset[str]) -> "Policy":
        return cls(allowed_hosts, None)


def _refuse(err: StatusError) -> web.Response:
    return web.Response(body=orjson.dumps(err.status()), status=err.code, content_type="application/json")


def hostname(authority: str) -> str:
    """``127.0.0.1:6443`` -> ``127.0.0.1``; ``[::1]:6443`` -> ``::1``; lower case, no trailing dot."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1:].split("]", 1)[0]
    if authority.count(":") == 1:
        authority = authority.split(":", 1)[0]
    return authority.rstrip(".")


def _local_port(request: web.Request) -> int | None:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return sockname[1] if isinstance(sockname, tuple) and len(sockname) >= 2 else None


def _origin_allowed(origin: str, policy: Policy, request: web.Request) -> bool:
    try:
        parts = urlsplit(origin)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:
        return False
    return (parts.scheme in ("https", "http") and (parts.hostname or "") in policy.allowed_hosts
            and port == _local_port(request))


def _peer_certificate(request: web.Request) -> dict | None:
    """The client's certificate, verified against the cluster CA by TLS (None: it sent none)."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    return ssl_object.getpeercert() if ssl_object is not None else None


def middlewares(policy: Policy, authorizer: Authorizer | None = None
                ) -> list[Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]]:
    """The filters, in order; ``authorizer`` decides step 4 (default: every authenticated user may do anything)."""
    authorizer = authorizer or DefaultAuthorizer()

    @web.middleware
    async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = hostname(request.headers.get("Host", ""))
        if host and host not in policy.allowed_hosts:
            return _refuse(StatusError(403, "Forbidden", f'forbidden: the host "{host}" is not a name of this '
                                                         f'API server (add it with --tls-san)'))
        return await handler(request)

    @web.middleware
    async def check_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin is not None and not _origin_allowed(origin, policy, request):
            return _refuse(StatusError(403, "Forbidden", f'forbidden: requests from web pages are not accepted '
                                                         f'(Origin "{origin[:200]}")'))
        return await handler(request)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if policy.authenticator is None:
                user = UNSECURED
            else:
                user = policy.authenticator.authenticate(request.headers.get("Authorization"),
                                                         _peer_certificate(request))
            user = impersonate(authorizer, user, request.headers)
            info = request_info(request.method, request.path, request.query)
            authorizer.authorize(user, info)
            if (create := also_create(info)) is not None:
                authorizer.authorize(user, create)
        except StatusError as err:
            return _refuse(err)
        with acting_as(user):   # admission and the API server see who is asking (auth.context)
            return await handler(request)

    return [check_host, check_origin, authenticate]
