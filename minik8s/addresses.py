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

Interface:
    service_cidr(runtime) -> str;  load_balancer_pool(runtime) -> str
    kubernetes_service_ip(cidr) -> str   (the first address, as the API server allocates it)
    dns_service_ip(cidr) -> str          (the tenth, as kubeadm chooses it)
    may_bind_port(port) -> bool           (port 53 for DNS needs root or a lowered unprivileged start)
    CLUSTER_DOMAIN

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import ipaddress
import os

CLUSTER_DOMAIN = "cluster.local"

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
