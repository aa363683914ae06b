"""The userspace back-end: real TCP and UDP forwarding for Service addresses, without root.

Upstream kube-proxy's first mode was exactly this (the "userspace" proxier, removed in v1.26 once
iptables and IPVS had taken over): a process that listens on the Service's address and copies bytes
to an endpoint it picks. On a real node the kernel does it with NAT rules (see
:mod:`minik8s.proxy.iptables` for those rules); the ``process`` runtime cannot change the kernel's
tables, but it can listen on any address of ``127.0.0.0/8``, where its ClusterIPs live. So:

* every ClusterIP:port, NodePort (on the node's address ``127.1.<n+1>.1``), load-balancer ingress
  IP:port and loopback ``externalIPs`` entry with at least one usable endpoint gets a listening socket;
* a new connection goes to an endpoint chosen at random, or, with ``sessionAffinity: ClientIP``, to the
  one the same client IP used last, until it has been idle for the affinity's timeout; an endpoint that
  refuses (its pod just died, the slice does not say so yet) is skipped for another, up to
  ``DIAL_ATTEMPTS``, as upstream's userspace proxier retried (the kernel's DNAT cannot);
* an address whose Service has **no** endpoint has no listener at all, so a client gets
  "Connection refused" at once, as upstream's ``REJECT`` rule gives it (a listener that accepted
  and then closed would look like a server hanging up instead);
* ports below 1024 cannot be bound without privileges: they are shifted by the pods' ``PORT_OFFSET``
  (80 is served on 8080) with a warning, as the pods' own ports are, and an endpoint's port on a
  loopback pod IP gets the same shift (:func:`network.port_on_host`);
* each direction of a connection is copied through a bounded buffer, waiting for the other side to
  drain (back-pressure), and a half-close (EOF) is passed on as a half-close;
* connections to endpoints leave from the node's address: the pod sees the node as its client, as
  after upstream's masquerade;
* UDP: one upstream socket per client address, forgotten after ``UDP_IDLE_SECONDS`` of silence;
* a listener that cannot be opened (another program holds the address) is reported through
  ``conflicts`` (the component turns it into an Event on the Service) and retried at the next sync.

Everything runs on the proxier's own asyncio event loop in its own thread: ``sync()`` only posts the
new service map to it, so the caller (the cluster's loop) never waits on a socket. Existing
connections are untouched by a sync; only new ones see the new endpoints. ``stop()`` closes every
listener and connection and joins the thread.

Interface:
    proxier = UserspaceProxier(node_ip="127.1.1.1", port_offset=8000, seed=0)
    proxier.sync(service_map)                 # from any thread; applied within milliseconds
    proxier.conflicts -> queue of (namespace, service, message)
    proxier.wait_synced(timeout) -> bool      # the last posted map is in effect (tests, benchmarks)
    proxier.listening() -> set of (protocol, ip, port)
    proxier.stop()

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from minik8s.kubelet.runtimes.process.network import port_on_host
from minik8s.proxy.servicemap import Endpoint, EndpointPicker, ServicePort

log = logging.getLogger(__name__)

BUFFER_BYTES = 64 * 1024        # at most this much read from one side before the other has drained it
CONNECT_TIMEOUT_SECONDS = 5.0   # an endpoint that does not answer by then is skipped
DIAL_ATTEMPTS = 3               # endpoints tried for one connection before the client is reset
UDP_IDLE_SECONDS = 30.0         # a UDP "connection" nobody used for this long is forgotten
UDP_MAX_SESSIONS = 1024         # per address: more clients than this at once are dropped
MAX_CONNECTIONS = 4096          # TCP connections at once, all addresses together: more are reset
LISTEN_BACKLOG = 128

Key = tuple[str, str, int]      # (protocol, ip, port) of a listening address


@dataclass
class _Frontend:
    """One listening address and where its traffic goes."""
    key: Key
    name: str                                  # the service port's name, "ns/svc:port"
    endpoints: tuple[Endpoint, ...]
    affinity_seconds: int
    closer: Any = None                         # asyncio.Server or DatagramTransport
    sessions: dict[tuple[str, int], "_UDPSession"] = field(default_factory=dict)


@dataclass
class _UDPSession:
    transport: asyncio.DatagramTransport
    last_used: float
    endpoint: str = ""     # "ip:port" it goes to


def _frontends(service_map: Iterable[ServicePort], node_ip: str, offset: int,
               shared: bool = True) -> dict[Key, tuple[ServicePort, tuple[Endpoint, ...]]]:
    """Every address this node should listen on, with the endpoints behind it (possibly none).
    ``shared``: also the addresses every node serves (ClusterIPs, load-balancer and external IPs)."""
    wanted: dict[Key, tuple[ServicePort, tuple[Endpoint, ...]]] = {}
    for sp in service_map:
        proto = sp.protocol
        if proto not in ("TCP", "UDP"):
            continue  # SCTP: not forwarded in user space
        port = port_on_host(sp.port, offset)
        if sp.node_port:
            wanted[(proto, node_ip, sp.node_port)] = (sp, sp.external_endpoints)
        if not shared:
            continue
        wanted[(proto, sp.cluster_ip, port)] = (sp, sp.cluster_endpoints)
        for ip in (*sp.load_balancer_ips, *sp.external_ips):
            if ip.startswith("127."):   # only loopback addresses can be served without root
                wanted[(proto, ip, port)] = (sp, sp.external_endpoints)
    return wanted


class UserspaceProxier:
    def __init__(self, node_ip: str, port_offset: int = 0, seed: int | str | None = None,
                 clock: Any = time.monotonic, shared_addresses: bool = True):
        self.node_ip = node_ip
        # The nodes of one machine share its loopback block: one kube-proxy (the first node's) listens on
        # the ClusterIPs and load-balancer addresses for all; each listens on its own node's NodePorts.
        self.shared_addresses = shared_addresses
        self.port_offset = port_offset
        # Connections to endpoints leave from the node's address, so a pod sees the node as its client,
        # as after upstream's masquerade (a userspace proxy cannot keep the client's own address).
        self._source = (node_ip, 0) if node_ip.startswith("127.") else None
        self.conflicts: queue.SimpleQueue[tuple[str, str, str]] = queue.SimpleQueue()
        self._clock = clock
        self._picker = EndpointPicker(random.Random(seed), clock)
        self._frontends: dict[Key, _Frontend] = {}
        self._warned: set[str] = set()
        self._reported: set[Key] = set()
        self._connections: set[asyncio.Transport] = set()
        self._tasks: set[asyncio.Task[Any]] = set()   # the UDP sweeper and one per TCP connection
        self._posted = 0
        self._applied = threading.Condition()
        self._applied_count = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"kube-proxy-{node_ip}", daemon=True)
        self._thread.start()
        self._listening: frozenset[Key] = frozenset()
        self._loop.call_soon_threadsafe(lambda: self._tasks.add(self._loop.create_task(self._sweep_udp())))

    # --- from any thread ------------------------------------------------------------------

    def sync(self, service_map: Iterable[ServicePort]) -> None:
        """Make the listeners match ``service_map``; returns at once, the work happens on the proxier's loop."""
        snapshot = list(service_map)
        self._posted += 1
        number = self._posted
        self._loop.call_soon_threadsafe(self._sync, snapshot, number)

    def wait_synced(self, timeout: float = 5.0) -> bool:
        """Wait until the last map given to ``sync`` is in effect."""
        with self._applied:
            return self._applied.wait_for(lambda: self._applied_count >= self._posted, timeout)

    def listening(self) -> frozenset[Key]:
        """The addresses listened on, as of the last sync applied."""
        return self._listening

    def stop(self) -> None:
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    # --- on the proxier's loop --------------------------------------------------------------

    def _sync(self, service_map: list[ServicePort], number: int) -> None:
        wanted = _frontends(service_map, self.node_ip, self.port_offset, self.shared_addresses)
        for key in list(self._frontends):
            if key not in wanted or not wanted[key][1]:
                self._close(self._frontends.pop(key))
        for key, (sp, endpoints) in wanted.items():
            if not endpoints:
                self._reported.discard(key)
                continue
            frontend = self._frontends.get(key)
            if frontend is None:
                frontend = _Frontend(key, sp.name, endpoints, sp.affinity_seconds)
                if not self._open(frontend, sp):
                    continue
                self._frontends[key] = frontend
            frontend.endpoints, frontend.affinity_seconds = endpoints, sp.affinity_seconds
            _forget_stale_sessions(frontend)
        self._listening = frozenset(self._frontends)
        with self._applied:
            self._applied_count = max(self._applied_count, number)
            self._applied.notify_all()

    def _open(self, frontend: _Frontend, sp: ServicePort) -> bool:
        proto, ip, port = frontend.key
        if port != sp.port and port != sp.node_port and sp.name not in self._warned:
            self._warned.add(sp.name)
            log.warning("kube-proxy: %s: port %d needs privileges; serving it on %d instead", sp.name, sp.port, port)
        kind, number = (socket.SOCK_STREAM, socket.IPPROTO_TCP) if proto == "TCP" else \
            (socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        # The protocol number matters: asyncio sets TCP_NODELAY only on sockets that name IPPROTO_TCP,
        # and without it a small response would wait for the client's delayed ACK (40 ms).
        sock = socket.socket(socket.AF_INET, kind, number)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((ip, port))
            if proto == "TCP":
                sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
        except OSError as err:
            sock.close()
            if frontend.key not in self._reported:
                self._reported.add(frontend.key)
                message = f'can\'t open port "{sp.name}" ({ip}:{port}/{proto.lower()}), skipping it: {err.strerror}'
                log.error("kube-proxy: %s", message)
                self.conflicts.put((sp.namespace, sp.service, message))
            return False
        self._reported.discard(frontend.key)
        frontend.closer = sock   # until the loop serves it: closing the socket is enough
        self._loop.create_task(self._serve(frontend, sock))
        return True

    async def _serve(self, frontend: _Frontend, sock: socket.socket) -> None:
        if frontend.closer is not sock:
            return  # closed before it started
        closer: Any
        if frontend.key[0] == "TCP":
            closer = await asyncio.start_server(lambda r, w: self._handle_tcp(frontend, r, w), sock=sock,
                                                limit=BUFFER_BYTES)
        else:
            closer, _ = await self._loop.create_datagram_endpoint(lambda: _Listener(self, frontend), sock=sock)
        if frontend.closer is sock:
            frontend.closer = closer
        else:
            closer.close()

    def _close(self, frontend: _Frontend) -> None:
        closer, frontend.closer = frontend.closer, None
        if closer is not None:
            closer.close()
        for session in frontend.sessions.values():
            session.transport.close()
        frontend.sessions.clear()

    async def _close_all(self) -> None:
        for frontend in list(self._frontends.values()):
            self._close(frontend)
        self._frontends.clear()
        self._listening = frozenset()
        for transport in list(self._connections):
            transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    async def _sweep_udp(self) -> None:
        """Forget UDP clients that have been silent for UDP_IDLE_SECONDS."""
        while True:
            await asyncio.sleep(UDP_IDLE_SECONDS / 3)
            now = self._clock()
            for frontend in self._frontends.values():
                for addr, session in list(frontend.sessions.items()):
                    if now - session.last_used > UDP_IDLE_SECONDS:
                        session.transport.close()
                        del frontend.sessions[addr]

    # --- choosing an endpoint ------------------------------------------------------------

    def choose(self, frontend: _Frontend, client_ip: str) -> Endpoint | None:
        return self._picker.pick(frontend.name, frontend.endpoints, frontend.affinity_seconds, client_ip)

    def _target(self, endpoint: Endpoint) -> tuple[str, int]:
        port = port_on_host(endpoint.port, self.port_offset) if endpoint.ip.startswith("127.") else endpoint.port
        return endpoint.ip, port

    # --- TCP -----------------------------------------------------------------------------

    async def _handle_tcp(self, frontend: _Frontend, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= 2 * MAX_CONNECTIONS:   # each connection holds two transports
            writer.transport.abort()
            return
        self._connections.add(writer.transport)  # type: ignore[arg-type]
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        upstream: asyncio.StreamWriter | None = None
        try:
            client_ip = writer.get_extra_info("peername")[0]
            first = self.choose(frontend, client_ip)
            if first is None:
                return
            others = [e for e in frontend.endpoints if e != first]
            self._picker.rng.shuffle(others)
            for endpoint in [first, *others][:DIAL_ATTEMPTS]:
                try:
                    up_reader, upstream = await asyncio.wait_for(
                        asyncio.open_connection(*self._target(endpoint), limit=BUFFER_BYTES, local_addr=self._source),
                        CONNECT_TIMEOUT_SECONDS)
                    break
                except (OSError, asyncio.TimeoutError) as err:
                    log.info("kube-proxy: %s: endpoint %s failed: %s", frontend.name, endpoint.address, err)
            if upstream is None:
                return
            self._connections.add(upstream.transport)  # type: ignore[arg-type]
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except asyncio.CancelledError:
            pass   # the proxier is stopping: this connection simply ends (asyncio would log a cancelled handler)
        finally:
            self._connections.discard(writer.transport)  # type: ignore[arg-type]
            if upstream is None:
                writer.transport.abort()   # no endpoint answered: reset, as a refused DNAT would
            else:
                self._connections.discard(upstream.transport)  # type: ignore[arg-type]
                writer.close()
                upstream.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until EOF, then half-close; a reset on either side ends both."""
    try:
        while data := await reader.read(BUFFER_BYTES):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof() and not writer.is_closing():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()


def _forget_stale_sessions(frontend: _Frontend) -> None:
    """UDP clients of an endpoint that left start afresh with their next datagram: upstream deletes their
    conntrack entries for the same reason (a DNS client would otherwise keep asking a dead pod)."""
    current = {e.address for e in frontend.endpoints}
    for addr, session in list(frontend.sessions.items()):
        if session.endpoint not in current:
            session.transport.close()
            del frontend.sessions[addr]


# --- UDP -------------------------------------------------------------------------------------

class _Listener(asyncio.DatagramProtocol):
    """The Service address's socket: each client's datagrams go out through its own upstream socket."""

    def __init__(self, proxier: UserspaceProxier, frontend: _Frontend):
        self.proxier = proxier
        self.frontend = frontend

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        session = self.frontend.sessions.get(addr)
        if session is not None:
            session.last_used = self.proxier._clock()
            session.transport.sendto(data)
            return
        if len(self.frontend.sessions) >= UDP_MAX_SESSIONS:
            return
        endpoint = self.proxier.choose(self.frontend, addr[0])
        if endpoint is not None:
            self.proxier._loop.create_task(self._start(addr, endpoint, data))

    async def _start(self, addr: tuple[str, int], endpoint: Endpoint, data: bytes) -> None:
        listener = self.frontend.closer
        if listener is None:
            return
        try:
            transport, _ = await self.proxier._loop.create_datagram_endpoint(
                lambda: _Reply(listener, addr), remote_addr=self.proxier._target(endpoint),
                local_addr=self.proxier._source)
        except OSError:
            return
        self.frontend.sessions[addr] = _UDPSession(transport, self.proxier._clock(), endpoint.address)
        transport.sendto(data)


class _Reply(asyncio.DatagramProtocol):
    """An endpoint's answers, sent back to the client from the Service's address."""

    def __init__(self, listener: asyncio.DatagramTransport, client: tuple[str, int]):
        self.listener = listener
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.listener.is_closing():
            self.listener.sendto(data, self.client)
