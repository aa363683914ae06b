"""The kubelet's own HTTPS API: what the API server asks a node for (upstream's port 10250).

A pod's logs and its usage live on its node. On a real cluster, ``kubectl logs`` reaches the API
server, which opens an HTTPS connection to the kubelet of the pod's node (found from the Node's
``InternalIP`` and ``status.daemonEndpoints.kubeletEndpoint.Port``) and relays the answer. This module
is that server, for a :class:`minik8s.kubelet.kubelet.Kubelet`:

================================================== =====================================================
``GET /healthz``                                    ``ok``
``GET /containerLogs/<ns>/<pod>/<container>``       the container's log, as text; query ``tailLines``,
                                                    ``timestamps``, ``previous``, ``sinceSeconds``
``GET /stats/summary``                              the Summary API (:mod:`minik8s.kubelet.stats`)
``GET|POST /exec/<ns>/<pod>/<container>``           ``kubectl exec``: a WebSocket (or SPDY) upgrade;
``GET|POST /attach/<ns>/<pod>/<container>``         ``kubectl attach``: stdin (the output is in the logs)
``GET|POST /portForward/<ns>/<pod>``                ``kubectl port-forward``: a channel WebSocket
================================================== =====================================================

The streaming routes speak the protocols the API server speaks to its clients; their code is the API
server's (:mod:`minik8s.apiserver.kubeletstreams`), which this package may not import: whoever starts
the server passes it as ``streaming`` (``minik8s kubelet`` does).

Who may ask: the caller proves who it is with a client certificate the cluster CA signed (TLS refuses
any other); its CN is the user and its O values the groups, as for the API server. By default only
``system:masters`` may read (the API server's ``apiserver-kubelet-client`` certificate is in it);
upstream's kubelet asks the API server instead (a SubjectAccessReview on ``nodes/stats`` for
``/stats``, ``nodes/proxy`` for the rest: container logs, exec, attach, port-forward), which
``authorize`` can do. Without a certificate the answer is 401, a user not allowed 403
``Forbidden (user=..., verb=get, resource=nodes, subresource(s)=[proxy])`` as upstream (the verb is
``create`` for a POST; upstream's ``nodes/log`` is for ``/logs``, the node's own log files, not
served here). Errors from the kubelet (no such pod, a wrong container) are Status objects with their
codes.

Interface:
    stopper = start(kubelet, host, port, ssl_context, authorize=None, streaming=None)   # serves from a thread
    stopper.port; stopper.stop()     (calling ``stopper()`` stops it too)
    context = ssl_context(cert_file, key_file, client_ca_file)
``start`` also tells the kubelet where it listens (``kubelet.serving(address, port)``), so its Node
publishes it; ``advertise`` overrides the address published (a wildcard host is not reachable).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web

from minik8s.api.errors import StatusError
from minik8s.background import BackgroundServer

# (user, groups, subresource) -> allowed?
Authorize = Callable[[str, tuple[str, ...], str], bool]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# (app, kubelet, checked) -> None: adds the streaming routes, each wrapped in checked(subresource, handler).
Streaming = Callable[[web.Application, Any, Callable[[str, Handler], Handler]], None]
MASTERS = "system:masters"
_LOG_QUERY = {"tailLines": "tail_lines", "sinceSeconds": "since_seconds"}
_LOG_STREAMS = {"stdout": "stdout", "stderr": "stderr", "all": None}   # PodLogOptions.stream, any case


def masters_only(user: str, groups: tuple[str, ...], subresource: str) -> bool:
    """The default: only ``system:masters`` (the API server's kubelet client certificate) may read."""
    return MASTERS in groups


def ssl_context(cert_file: str | Path, key_file: str | Path, client_ca_file: str | Path) -> ssl.SSLContext:
    """A serving context that asks every client for a certificate signed by ``client_ca_file``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    context.verify_mode = ssl.CERT_OPTIONAL   # no certificate: a 401 from the handler, not a TLS failure
    context.load_verify_locations(cafile=str(client_ca_file))
    return context


def _status(err: StatusError) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": err.message,
            "reason": err.reason, "code": err.code}
    return web.Response(status=err.code, text=json.dumps(body), content_type="application/json")


def _caller(request: web.Request) -> tuple[str, tuple[str, ...]] | None:
    """The verified client certificate's (CN, O values), or None without one."""
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    subject = (ssl_object.getpeercert() or {}).get("subject", ()) if ssl_object else ()
    pairs = [pair for rdn in subject for pair in rdn]
    names = [str(v) for k, v in pairs if k == "commonName"]
    return (names[0], tuple(str(v) for k, v in pairs if k == "organizationName")) if names else None


def _int(query: Any, name: str) -> int | None:
    if name not in query:
        return None
    try:
        return int(query[name])
    except ValueError:
        raise StatusError(400, "BadRequest", f'{name}: invalid value "{query[name][:50]}": must be an integer') \
            from None


def _bool(query: Any, name: str) -> bool:
    return query.get(name, "").lower() in ("true", "1")


def make_app(kubelet: Any, authorize: Authorize = masters_only, streaming: Streaming | None = None
             ) -> web.Application:
    """The kubelet's API as an aiohttp application (``start`` serves it)."""

    def checked(subresource: str, handler: Handler) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            caller = _caller(request)
            if caller is None:
                return _status(StatusError(401, "Unauthorized", "Unauthorized"))
            user, groups = caller
            if not authorize(user, groups, subresource):
                verb = "create" if request.method == "POST" else "get"
                return _status(StatusError(403, "Forbidden", f"Forbidden (user={user}, verb={verb}, resource=nodes, "
                                                            f"subresource(s)=[{subresource}])"))
            try:
                return await handler(request)
            except StatusError as err:
                return _status(err)
        return handle

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def container_logs(request: web.Request) -> web.Response:
        q = request.query
        info = request.match_info
        options = {arg: _int(q, name) for name, arg in _LOG_QUERY.items()}
        stream = q.get("stream", "All").lower()
        if stream not in _LOG_STREAMS:
            raise StatusError(400, "BadRequest", f'stream: Unsupported value: "{stream[:50]}": supported values: '
                                                 f'"All", "Stdout", "Stderr"')
        # The kubelet reads its runtime's files: off the event loop.
        text = await asyncio.to_thread(kubelet.logs, info["namespace"], info["pod"], info["container"],
                                       _bool(q, "previous"), options["tail_lines"],
                                       timestamps=_bool(q, "timestamps"), since_seconds=options["since_seconds"],
                                       stream=_LOG_STREAMS[stream])
        return web.Response(text=text, content_type="text/plain")

    async def stats_summary(request: web.Request) -> web.Response:
        return web.json_response(await asyncio.to_thread(kubelet.stats_summary))

    app = web.Application(client_max_size=64 * 1024)   # nothing here takes a body
    app.router.add_get("/healthz", checked("healthz", healthz))
    app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", checked("proxy", container_logs))
    app.router.add_get("/stats/summary", checked("stats", stats_summary))
    if streaming is not None:
        streaming(app, kubelet, checked)
    return app


@dataclass
class Stopper:
    """A running kubelet server: ``port`` it listens on; ``stop()`` (or call it) to close it."""
    port: int
    _server: BackgroundServer

    def stop(self) -> None:
        self._server.stop()

    def __call__(self) -> None:
        self.stop()


def start(kubelet: Any, host: str, port: int, ssl_context: ssl.SSLContext, authorize: Authorize = masters_only,
          advertise: str | None = None, streaming: Streaming | None = None) -> Stopper:
    """Serve ``kubelet``'s API on ``host:port`` (0: any free port) from a thread; publish where.
    ``streaming`` adds exec, attach and port-forward (:func:`minik8s.apiserver.kubeletstreams.install`)."""
    server = BackgroundServer(make_app(kubelet, authorize, streaming),
                              name=f"kubelet-{getattr(kubelet, 'node_name', '')}")
    bound = server.start(host, port, ssl_context)
    serving = getattr(kubelet, "serving", None)
    if serving is not None:
        address = advertise or (None if host in ("", "0.0.0.0", "::") else host)
        serving(address, bound)
    return Stopper(bound, server)
