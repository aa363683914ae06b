"""``minik8s proxy``: kube-proxy for one node, as a process of its own.

Watches Services and EndpointSlices over HTTPS with the credential of ``proxy.conf`` (user
``system:kube-proxy``, bound to ``system:node-proxier``) and programs the node's data plane:
the userspace proxier of :mod:`minik8s.proxy`, real sockets on the ClusterIPs and NodePorts of the
loopback network, in front of the pods of the ``process`` runtime. ``/healthz`` and ``/livez`` are
served over HTTP on ``--healthz-port`` (upstream's 10256).

Interface: ``add_arguments(parser)``, ``main(args) -> exit code``. Taught in chapter 13 (Services).
"""

from __future__ import annotations

import argparse
import sys

from minik8s.daemons.component import add_kubeconfig_argument, health_port, start
from minik8s.daemons.kubelet import node_index

HEALTHZ_PORT = 10256


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_kubeconfig_argument(parser)
    parser.add_argument("--node-name", required=True, help="the node this kube-proxy serves")
    parser.add_argument("--node-index", type=int, default=None,
                        help="the node's place in the address plan (default: the name's last number - 1)")
    parser.add_argument("--healthz-bind-address", default="127.0.0.1", help="where /healthz listens")
    parser.add_argument("--healthz-port", type=health_port, default=HEALTHZ_PORT,
                        help=f"HTTP port of /healthz and /livez (default {HEALTHZ_PORT}; 0 picks one)")


def main(args: argparse.Namespace) -> int:
    from minik8s.kubelet.runtimes.process import network
    from minik8s.proxy import KubeProxy, node_backend, process_node_ip

    index = node_index(args.node_name, args.node_index)
    process = start(f"kube-proxy ({args.node_name})", args.kubeconfig, args.healthz_bind_address, args.healthz_port,
                    tls=False, server=args.server)
    if isinstance(process, int):
        return process
    try:
        # The first node's kube-proxy also serves the ClusterIPs all nodes of this machine share.
        backend = node_backend("process", args.node_name, process_node_ip(index), network.port_offset(),
                               seed=f"kube-proxy/{args.node_name}", shared_addresses=index == 0)
        proxy = KubeProxy(process.context, args.node_name, backend)
    except (RuntimeError, ValueError, OSError) as exc:
        process.shutdown()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return process.run([proxy])
