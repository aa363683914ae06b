"""The cluster's address plan: where Services, DNS and load balancers get their addresses.

Upstream leaves these to flags (``--service-cluster-ip-range``, the cluster domain of the kubelet,
the load-balancer's pool of its cloud); minik8s fixes one plan per runtime so that nothing needs root:

=============  ======================  ==================  ================  ===================
runtime        pod IPs                 Service ClusterIPs  ``kubernetes``     ``kube-dns``
=============  ======================  ==================  ================  ===================
``process``    ``127.1.<node+1>.<n>``  ``127.96.0.0/12``   ``127.96.0.1``    ``127.96.0.10``
``docker``     (the engine's)          ``127.96.0.0/12``   ``127.96.0.1``    ``127.96.0.10``
``simulated``  ``10.244.<node+1>.<n>`` ``10.96.0.0/12``    ``10.96.0.1``     ``10.96.0.10``
=============  ======================  ==================  ================  ===================

Linux routes the whole ``127.0.0.0/8`` block to the loopback interface, so a process may listen on
``127.96.0.1`` without any privilege: the ``process`` runtime's ClusterIPs are as real as its pod IPs.
``127.96.0.0/12`` mirrors upstream's default ``10.96.0.0/12``. LoadBalancer Services get addresses from
a pool a built-in controller hands out (a cloud's load balancer, here one more loopback address).

The loopback block is the machine's, whoever runs a cluster: two clusters of the ``process`` runtime
(``minik8s server`` and a notebook, two users) would both give ``kubernetes`` 127.96.0.1 and serve DNS
on 127.96.0.10. So, as pod IPs are (:mod:`minik8s.kubelet.runtimes.process.network`), a cluster claims
its block with an exclusive ``flock`` in the machine-wide ``LOCK_DIR``: the first cluster gets the plan
above, the next ``127.112.0.0/12`` with load balancers in ``127.241.0.0/16``, and so on for eight
clusters (:func:`claim_block`). The lock goes with the process that held it.

Interface:
    service_cidr(runtime) -> str;  load_balancer_pool(runtime) -> str
    claim_block(runtime) -> AddressBlock(service_cidr, load_balancer_pool, release())   # disjoint per cluster
    kubernetes_service_ip(cidr) -> str   (the first address, as the API server allocates it)
    dns_service_ip(cidr) -> str          (the tenth, as kubeadm chooses it)
    may_bind_port(port) -> bool           (port 53 for DNS needs root or a lowered unprivileged start)
    CLUSTER_DOMAIN

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import fcntl
import ipaddress
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

CLUSTER_DOMAIN = "cluster.local"
# One folder for the whole machine, writable by every user (sticky), where clusters take their
# addresses with flock: pod IPs (the process runtime) and Service blocks (claim_block).
LOCK_DIR = Path(tempfile.gettempdir()) / "minik8s-pod-ips"
BLOCKS = 8   # 127.96.0.0/12, 127.112.0.0/12, ... 127.208.0.0/12: below the load-balancer pools at 127.240

_SERVICE_CIDR = {"process": "127.96.0.0/12", "docker": "127.96.0.0/12", "simulated": "10.96.0.0/12"}
_LOAD_BALANCER_POOL = {"process": "127.240.0.0/16", "docker": "127.240.0.0/16", "simulated": "172.18.255.0/24"}


def service_cidr(runtime: str) -> str:
    """The default ``--service-cluster-ip-range`` for a cluster of this runtime."""
    return _SERVICE_CIDR.get(runtime, _SERVICE_CIDR["process"])


def load_balancer_pool(runtime: str) -> str:
    """Where the built-in load-balancer controller takes LoadBalancer Services' addresses from."""
    return _LOAD_BALANCER_POOL.get(runtime, _LOAD_BALANCER_POOL["process"])


def _nth(cidr: str, n: int) -> str:
    return str(ipaddress.ip_network(cidr, strict=False).network_address + n)


def kubernetes_service_ip(cidr: str) -> str:
    """The ``kubernetes`` Service's ClusterIP: the range's first address."""
    return _nth(cidr, 1)


def dns_service_ip(cidr: str) -> str:
    """The ``kube-dns`` Service's ClusterIP: the range's tenth address."""
    return _nth(cidr, 10)


def may_bind_port(port: int) -> bool:
    """Whether this process may listen on ``port``: any port for root, else those at or above the
    kernel's ``net.ipv4.ip_unprivileged_port_start`` (1024 unless lowered)."""
    if os.geteuid() == 0:
        return True
    try:
        with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
            return int(f.read(16).split()[0]) <= port
    except (OSError, ValueError, IndexError):
        return port >= 1024


@dataclass
class AddressBlock:
    """The Service range and load-balancer pool one cluster uses; ``release()`` when it stops."""

    service_cidr: str
    load_balancer_pool: str
    _handle: int | None = field(default=None, repr=False)

    def release(self) -> None:
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None


def open_lock_dir(lock_dir: Path = LOCK_DIR) -> Path:
    """The machine-wide lock folder, made (sticky, writable by all) if it is missing."""
    if not lock_dir.exists():
        lock_dir.mkdir(parents=True, exist_ok=True)
        if lock_dir == LOCK_DIR:
            os.chmod(lock_dir, 0o1777)   # every user's clusters lock here (each its own files)
    return lock_dir


def claim_block(runtime: str, lock_dir: Path = LOCK_DIR) -> AddressBlock:
    """The first address block no other cluster of this machine holds (see the module docstring).
    The simulated runtime's addresses are not real, so every simulated cluster has the same plan."""
    if runtime == "simulated":
        return AddressBlock(service_cidr(runtime), load_balancer_pool(runtime))
    open_lock_dir(lock_dir)
    for k in range(BLOCKS):
        try:
            handle = os.open(lock_dir / f"service-block-{k}", os.O_RDONLY | os.O_CREAT, 0o444)
        except PermissionError:
            continue   # another user's file we may not even read
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)   # another cluster of this machine uses this block
            continue
        return AddressBlock(f"127.{96 + 16 * k}.0.0/12", f"127.{240 + k}.0.0/16", handle)
    log.warning("%d clusters of this machine already hold every Service address block: this one shares "
                "127.96.0.0/12, and its Services may not be reachable", BLOCKS)
    return AddressBlock(service_cidr(runtime), load_balancer_pool(runtime))
