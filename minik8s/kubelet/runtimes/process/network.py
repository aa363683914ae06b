"""Pod IPs for the ``process`` runtime: one loopback address per pod.

In Kubernetes every pod has its own IP, shared by its containers, and any pod can
reach any other pod's IP without NAT. The ``process`` runtime gets the same without
privileges from a fact of Linux: the whole ``127.0.0.0/8`` block is routed to the
loopback interface, so a process may bind ``127.1.1.7:80`` while another binds
``127.1.1.8:80``. Node *n* (counting from 0) hands out ``127.1.<n+1>.2`` to
``127.1.<n+1>.254``: its pod CIDR is ``127.1.<n+1>.0/24``.

Two clusters on one machine must not hand out the same address: the ``127.0.0.0/8``
block is the machine's, whoever runs the cluster. So an address is taken by holding an
exclusive ``flock`` on ``<lock dir>/<ip>`` in one folder for the whole machine,
``LOCK_DIR`` (``/tmp/minik8s-pod-ips``, writable by every user, sticky): sharing it is
the point, it is how a second cluster (a second checkout, another user, a notebook next
to ``minik8s server``) learns which addresses are taken and gets disjoint pod IPs. The
lock goes away with the process that held it, even after a crash.

Ports below 1024 need privileges (root, or ``net.ipv4.ip_unprivileged_port_start``
lowered). Without them, containers' low ports are shifted by ``PORT_OFFSET``
(port 80 is served on 8080), the pod gets an event saying so, and probes and
``port_on_host`` apply the same shift.

Interface:
    allocator = IPAllocator(node_index, lock_dir=LOCK_DIR)
    ip = allocator.allocate(); allocator.release(ip)
    low_ports_allowed() -> bool;  port_on_host(port, offset) -> int

Taught in chapter 8 (the pod network).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from minik8s import addresses

PORT_OFFSET = 8000        # port 80 -> 8080 when privileged ports cannot be bound
FIRST_HOST, LAST_HOST = 2, 254
LOCK_DIR = addresses.LOCK_DIR   # one per machine, shared with the Service blocks: see the module docstring


class IPExhausted(Exception):
    pass


def port_offset() -> int:
    """How far pods' ports below 1024 are shifted: ``$MINIK8S_PORT_OFFSET``, else 0 when this user may
    bind them and ``PORT_OFFSET`` when not. kube-proxy shifts its targets the same way."""
    env = os.environ.get("MINIK8S_PORT_OFFSET")
    return int(env) if env else (0 if low_ports_allowed() else PORT_OFFSET)


def low_ports_allowed() -> bool:
    """Can this user bind port 80? Root can; others only if the kernel lets everybody."""
    return addresses.may_bind_port(80)


def port_on_host(port: int, offset: int) -> int:
    """The port a container's ``port`` really is on the pod IP."""
    return port + offset if offset and 0 < port < 1024 else port


class IPAllocator:
    def __init__(self, node_index: int, lock_dir: Path = LOCK_DIR, prefix: str | None = None):
        """``prefix``: the node's /24 other than ``127.1.<n+1>.`` (netns mode's ``10.244.<n+1>.``)."""
        if not 0 <= node_index <= 253:
            raise ValueError("the process runtime supports node indexes 0..253 (127.1.<n+1>.0/24 per node)")
        self.prefix = prefix or f"127.1.{node_index + 1}."
        self.lock_dir = addresses.open_lock_dir(lock_dir)
        self._held: dict[str, int] = {}
        self._next = FIRST_HOST

    @property
    def node_ip(self) -> str:
        """The node's own address (the gateway of its pod CIDR)."""
        return self.prefix + "1"

    def allocate(self) -> str:
        for _ in range(LAST_HOST - FIRST_HOST + 1):
            host = self._next
            self._next = host + 1 if host < LAST_HOST else FIRST_HOST
            ip = self.prefix + str(host)
            if ip in self._held:
                continue
            try:
                # Read-only: another user's lock file can be locked too (flock needs no write access).
                handle = os.open(self.lock_dir / ip, os.O_RDONLY | os.O_CREAT, 0o444)
            except PermissionError:
                continue  # a file we may not even read: not ours to hand out
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(handle)  # another cluster on this machine has it
                continue
            self._held[ip] = handle
            return ip
        raise IPExhausted(f"no free pod IP on this node (the pod CIDR {self.prefix}0/24 is exhausted)")

    def release(self, ip: str) -> None:
        handle = self._held.pop(ip, None)
        if handle is not None:
            os.close(handle)

    def release_all(self) -> None:
        for ip in list(self._held):
            self.release(ip)
