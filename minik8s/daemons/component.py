"""What every component process does, written once: kubeconfig, API connection, loop, health, signals.

A kubeadm cluster runs kube-controller-manager, kube-scheduler, the kubelet and kube-proxy as
separate programs. Each reads a kubeconfig (the API server's address, the cluster CA to trust, its
own credential), connects over HTTPS, waits with back-off while the API server is not there yet,
starts shared informers, runs its control loops until SIGTERM or SIGINT, and serves
``/healthz``, ``/livez`` and ``/readyz`` on a port of its own (:mod:`minik8s.healthz`). Here the
loops are :class:`minik8s.runner.Runner`'s, the same that drives an in-process ``Cluster``.

Interface:
    process = start("kube-scheduler", kubeconfig_path, host, port, tls=True)   # or an exit code
    if isinstance(process, int): return process
    return process.run([SchedulerComponent(process.context)])   # until SIGTERM; stops them; 0
    return lead(process, "kube-scheduler", leader_elect, build, "default-scheduler")   # or: as leader only

Taught in chapter 2 (architecture).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Sequence

from aiohttp import web

from minik8s import healthz, kubeconfig, pki
from minik8s.apiserver.serving import BackgroundServer
from minik8s.client.http import HTTPClient, load_certificate
from minik8s.client.leaderelection import LeaderElector, new_identity
from minik8s.clock import RealClock
from minik8s.controllers.controller import Context, InformerFactory
from minik8s.controllers.events import EventRecorder
from minik8s.runner import Component, Runner

# Waiting for an API server that is not there (yet): first retry after this long, doubling up to the cap.
RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
# The loop has not looked around for this long: /healthz says the component is stuck.
STALLED_SECONDS = 120.0


def connect(path: str, server: str | None = None) -> tuple[HTTPClient, kubeconfig.Context]:
    """The client a kubeconfig describes (its current context): server (or ``server`` instead, as kubectl's
    ``--server``), CA, token or client certificate. Raises ValueError with kubectl's wording when the file or
    its context is unusable."""
    file = Path(path).expanduser()
    if not file.exists():
        raise ValueError(f"stat {file}: no such file or directory")
    ctx = kubeconfig.current(kubeconfig.load(file))
    if server:
        ctx = dataclasses.replace(ctx, server=server.rstrip("/"))
    client = HTTPClient(ctx.server, token=ctx.token, verify=not ctx.insecure, ca_pem=ctx.ca_pem,
                        cert_pem=ctx.cert_pem, key_pem=ctx.key_pem)
    return client, ctx


def add_kubeconfig_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kubeconfig", required=True, metavar="FILE",
                        help="kubeconfig file with the API server's address, the CA and this component's credential")
    parser.add_argument("--server", default=None, metavar="URL",
                        help="the API server to use instead of the kubeconfig's (e.g. another of several)")


def control_plane_flags(parser: argparse.ArgumentParser, default_port: int) -> None:
    """kube-controller-manager's and kube-scheduler's flags: ``--kubeconfig``, ``--leader-elect``, and where
    they serve HTTPS (``--bind-address``, ``--secure-port``)."""
    add_kubeconfig_argument(parser)
    leader_elect_flag(parser)
    parser.add_argument("--bind-address", default="127.0.0.1", help="where the health endpoints listen")
    parser.add_argument("--secure-port", type=health_port, default=default_port,
                        help=f"HTTPS port of /healthz, /livez, /readyz (default {default_port}; 0 picks one)")


def health_port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0 picks a free one)")
    return port


def self_signed_context(names: list[str]) -> Any:
    """An SSL context with a self-signed serving certificate, as kube-controller-manager and
    kube-scheduler make one in memory when given no ``--tls-cert-file``."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    load_certificate(context, *pki.self_signed_certificate(names))
    return context


def health_app(checks: Callable[[], Sequence[healthz.Check]]) -> web.Application:
    """``/healthz``, ``/livez``, ``/readyz`` (and ``/<endpoint>/<check>``) over ``checks()``. No
    authentication: upstream's components always allow these paths (``--authorization-always-allow-paths``)."""

    async def handle(request: web.Request) -> web.Response:
        endpoint = request.path.strip("/").split("/", 1)[0]
        status, body = healthz.answer(endpoint, checks(), request.path, request.query)
        return web.Response(status=status, text=body, headers={"X-Content-Type-Options": "nosniff"})

    app = web.Application()
    for endpoint in healthz.ENDPOINTS:
        app.router.add_get(f"/{endpoint}", handle)
        app.router.add_get(f"/{endpoint}/{{check}}", handle)
    return app


class ComponentProcess:
    """One component process: its client, its Context, its loop, its health server, its signals."""

    def __init__(self, name: str, client: HTTPClient, config: kubeconfig.Context, *,
                 data_dir: Path | None = None, runtime: str = "process", root_ca_pem: bytes | None = None):
        self.name = name
        self.client = client
        self.server = config.server
        self.stopping = threading.Event()
        self.clock = RealClock()
        self._wakeup = threading.Event()
        self.informers = InformerFactory(client, self._wakeup.set)
        self.components: list[Component] = []
        self.runner = Runner(self.informers, self.clock, lambda: self.components, self._wakeup, name=name)
        self.context = Context(client, self.clock, random.Random(), self.informers,
                               EventRecorder(client, self.clock), data_dir, runtime=runtime,
                               root_ca_pem=root_ca_pem if root_ca_pem is not None else config.ca_pem)
        self._health: BackgroundServer | None = None
        self.checks: list[healthz.Check] = []   # what the health endpoints run (more may join: leaderElection)
        self._install_signals()

    def _install_signals(self) -> None:
        def stop(signum: int, frame: object) -> None:
            self.stopping.set()
            self._wakeup.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, stop)

    def wait_for_api(self) -> bool:
        """Ask ``/version`` until the API server answers, backing off and saying so; False if told
        to stop meanwhile. PermissionError if it rejects the kubeconfig's credential (401): no
        retry mends that."""
        from minik8s.api.errors import StatusError

        delay = RETRY_FIRST_SECONDS
        while not self.stopping.is_set():
            try:
                self.client.request("GET", "/version")
                return True
            except StatusError as err:
                if err.code == 401:
                    raise PermissionError(f"the API server at {self.server} rejected the credential of this "
                                          f"kubeconfig: {err}") from None
                if err.code == 403:
                    return True   # there, and it knows us; the informers will say what is refused
                reason = str(err)
            except (ConnectionError, OSError) as exc:
                reason = str(exc)
            print(f"{self.name}: waiting for the API server at {self.server}: {reason} (retrying in {delay:g}s)",
                  file=sys.stderr, flush=True)
            self.stopping.wait(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)
        return False

    def default_checks(self) -> list[healthz.Check]:
        return [healthz.Check("ping", healthz.ping), healthz.Check("log", healthz.ping),
                healthz.Check("syncloop", lambda: self.runner.stalled(STALLED_SECONDS))]

    def serve_health(self, host: str, port: int, *, tls: bool, checks: Sequence[healthz.Check] | None = None) -> int:
        """Serve the health endpoints on ``host:port`` (0: a free port; HTTPS with a self-signed
        certificate when ``tls``); prints and returns the port."""
        self.checks = list(checks) if checks is not None else self.default_checks()
        server = BackgroundServer(health_app(lambda: self.checks))
        context = self_signed_context(pki.server_names(host)) if tls else None
        bound = server.start(host, port, context)
        self._health = server
        scheme = "https" if tls else "http"
        shown = f"[{host}]" if ":" in host else host
        print(f"{self.name}: serving /healthz, /livez and /readyz at {scheme}://{shown}:{bound}", flush=True)
        return bound

    def run(self, components: Sequence[Component]) -> int:
        """Run ``components`` until SIGTERM/SIGINT, then stop them and the informers; exit code 0."""
        self.components = list(components)
        print(f"{self.name}: running ({', '.join(c.name for c in self.components)})", flush=True)
        try:
            self.runner.run(self.stopping)
        finally:
            self.shutdown()
        print(f"{self.name}: stopped", flush=True)
        return 0

    def shutdown(self) -> None:
        """Stop what this process started: the health server, each component (a kubelet stops its
        containers), the informers' watches."""
        if self._health is not None:
            self._health.stop()
            self._health = None
        for component in self.components:
            stop = getattr(component, "stop", None)
            if stop is not None:
                stop()
        self.informers.stop()


def start(name: str, kubeconfig_path: str, bind_address: str, port: int, *, tls: bool, server: str | None = None,
          **options: Any) -> "ComponentProcess | int":
    """Connect with the kubeconfig, wait for the API server, serve the health endpoints: the process,
    or the exit code to return at once (1: unusable kubeconfig or port; 0: stopped while waiting).
    ``options``: more ComponentProcess arguments (``data_dir``, ``runtime``, ``root_ca_pem``)."""
    try:
        client, config = connect(kubeconfig_path, server)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    process = ComponentProcess(name, client, config, **options)
    try:
        if not process.wait_for_api():
            return 0
    except PermissionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        process.serve_health(bind_address, port, tls=tls)
    except OSError as exc:
        print(f"error: cannot serve on {bind_address}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return process


def lead(process: ComponentProcess, lock_name: str, leader_elect: bool, build: Callable[[], list[Component]],
         component: str) -> int:
    """Run the components ``build()`` makes, as upstream's ``--leader-elect``: only while this
    replica holds the Lease ``kube-system/<lock_name>`` (:mod:`minik8s.client.leaderelection`). A
    leader that loses its Lease exits with code 1 ("leaderelection lost"), as upstream's do, to be
    restarted; one stopped by a signal releases the Lease so another replica takes over at once."""
    if not leader_elect:
        return process.run(build())
    lost: list[bool] = []

    def started() -> None:   # in the loop's round: the controllers join the next round
        print(f"{process.name}: became the leader (Lease kube-system/{lock_name})", flush=True)
        process.components.extend(build())

    def stopped() -> None:
        if not process.stopping.is_set():
            lost.append(True)
            print(f"{process.name}: leaderelection lost", file=sys.stderr, flush=True)
            process.stopping.set()

    # Upstream's kube-scheduler releases on cancel; kube-controller-manager does not (its successor waits out
    # the lease). Both release here, so a clean restart hands over at once.
    elector = LeaderElector(process.client, lock_name, clock=process.clock, identity=new_identity(),
                            on_started_leading=started, on_stopped_leading=stopped, release_on_cancel=True,
                            recorder=process.context.recorder, component=component, rng=random.Random())
    # A leader stuck past its lease (it should have stopped leading) fails /healthz, to be restarted.
    process.checks.append(healthz.Check("leaderElection", elector.check))
    try:
        process.run([elector])
    finally:
        elector.cancel()
    return 1 if lost else 0


def run_elected(name: str, args: argparse.Namespace, lock_name: str, component: str,
                build: Callable[[Context], list[Component]], **options: Any) -> int:
    """kube-controller-manager's and kube-scheduler's life: start on ``args.kubeconfig`` with
    HTTPS health endpoints, then run ``build(context)`` while leading ``lock_name``."""
    process = start(name, args.kubeconfig, args.bind_address, args.secure_port, tls=True, server=args.server,
                    **options)
    if isinstance(process, int):
        return process
    return lead(process, lock_name, args.leader_elect, lambda: build(process.context), component)


def leader_elect_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--leader-elect", type=_boolean, default=True, nargs="?", const=True, metavar="true|false",
                        help="take part in leader election before running the control loops (default true)")


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "t", "yes"):
        return True
    if lowered in ("false", "0", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f'invalid boolean "{text}": use true or false')
