"""The DNS server on the wire: UDP and TCP, in a thread of its own with its own asyncio loop.

A query never waits on the cluster: the server asks a callable for the current
:class:`~minik8s.dns.resolver.Resolver` (the cluster swaps in a new one when Services change) and
answers at once. UDP answers are truncated (``TC``) when they do not fit, and a resolver then asks
again over TCP, where each message is preceded by its two-byte length (RFC 1035 4.2.2). Bad input
never stops the server: malformed messages get FORMERR (or nothing, without a header), a TCP client
that goes quiet is dropped after ``TCP_IDLE_SECONDS``, and at most ``MAX_TCP_CLIENTS`` are served at
once.

Port 53 needs a privilege (root, or ``net.ipv4.ip_unprivileged_port_start`` at most 53). Without it
the server listens on 5353 and warns: pods' C libraries always ask port 53, so the kubelet then also
writes the Services' names into the pods' ``/etc/hosts`` (:mod:`minik8s.kubelet.dns`).

Interface:
    server = DNSServer(lambda: resolver, host="127.96.0.10", port=dns_port())
    server.start()      # binds UDP and TCP (raises OSError if it cannot), then serves in a thread
    server.port;  server.stop()
    dns_port() -> 53 | 5353   (with a warning when 53 may not be bound)

Taught in chapter 13 (the pod network and Services: cluster DNS).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Callable

from minik8s.addresses import may_bind_port
from minik8s.dns.resolver import Resolver

log = logging.getLogger(__name__)

DNS_PORT = 53
FALLBACK_PORT = 5353           # where the server listens when it may not bind port 53
TCP_IDLE_SECONDS = 10.0        # a TCP client silent this long is disconnected
MAX_TCP_CLIENTS = 128          # TCP connections served at once; more are closed at once
PICK_ATTEMPTS = 10             # port 0: how many free UDP ports to try before giving up


def dns_port() -> int:
    """53 when it may be bound, else 5353 (with a warning: see the module docstring)."""
    if may_bind_port(DNS_PORT):
        return DNS_PORT
    log.warning("cluster DNS listens on port %d: port 53 needs root (or net.ipv4.ip_unprivileged_port_start=53); "
                "pods resolve Service names through their /etc/hosts instead", FALLBACK_PORT)
    return FALLBACK_PORT


class _UDP(asyncio.DatagramProtocol):
    def __init__(self, resolver: Callable[[], Resolver]):
        self.resolver = resolver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.resolver().answer_wire(data, udp=True)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class DNSServer:
    """See the module docstring."""

    def __init__(self, resolver: Callable[[], Resolver], host: str = "127.0.0.1", port: int = DNS_PORT):
        self.resolver = resolver
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stop: asyncio.Event | None = None
        self._clients = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"dns-{self.host}:{self.port}", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def stop(self) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - handed to start(), which raises it
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # Port 0 lets the system pick for UDP; TCP then takes the same number, which another program may
        # hold already over TCP: then pick again (a fixed port fails at once).
        for attempt in range(1 if self.port else PICK_ATTEMPTS):
            udp, _ = await self._loop.create_datagram_endpoint(lambda: _UDP(self.resolver),
                                                               local_addr=(self.host, self.port))
            try:
                port = udp.get_extra_info("sockname")[1]
                tcp = await asyncio.start_server(self._tcp_client, self.host, port)
                break
            except OSError:
                udp.close()
                if attempt + 1 >= (1 if self.port else PICK_ATTEMPTS):
                    raise
        self.port = port
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            udp.close()
            tcp.close()
            await tcp.wait_closed()

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._clients >= MAX_TCP_CLIENTS:
            writer.close()
            return
        self._clients += 1
        try:
            while True:
                header = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_SECONDS)
                wire = await asyncio.wait_for(reader.readexactly(int.from_bytes(header, "big")), TCP_IDLE_SECONDS)
                reply = self.resolver().answer_wire(wire, udp=False)
                if reply is None:
                    continue
                writer.write(len(reply).to_bytes(2, "big") + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError):
            pass
        finally:
            self._clients -= 1
            writer.close()
