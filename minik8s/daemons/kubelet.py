"""``minik8s kubelet``: one node's kubelet as a process of its own, as on every machine of a cluster.

Connects with ``--kubeconfig`` (a node credential: user ``system:node:<node>`` in group
``system:nodes``, whom the Node authorizer lets read and write what its own node needs), registers
the Node ``--node-name``, renews its Lease in ``kube-node-lease``, and runs the pods bound to it
with its container runtime (``--runtime``: simulated, process or docker). It serves ``/healthz``
over plain HTTP on loopback (``--healthz-port``, upstream's 10248). SIGTERM or SIGINT stops it and
its containers. ``minik8s join`` starts it with these exact flags.

How minik8s differs: the API server cannot reach a kubelet of another process (upstream's port
10250), so ``kubectl logs``, ``exec`` and ``port-forward`` answer "no route to node" for its pods,
and cluster DNS runs only inside ``minik8s server``. The node's index in the address plan
(:mod:`minik8s.addresses`: pod IPs ``127.1.<index+1>.x``, node IP) comes from ``--node-index``, by
default from the name's last number (``node-2``: 1).

Interface: ``add_arguments(parser)``, ``main(args) -> exit code``. Taught in chapter 2 (architecture).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from minik8s.daemons.component import add_kubeconfig_argument, health_port, start
from minik8s.server import _non_negative

HEALTHZ_PORT = 10248
DEFAULT_MAX_PODS = 110


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_kubeconfig_argument(parser)
    parser.add_argument("--node-name", required=True, help="the name of this node (its Node object)")
    parser.add_argument("--runtime", default="process", choices=("simulated", "process", "docker"),
                        help="container runtime (default process)")
    parser.add_argument("--data-dir", default=None, help="where pods' volumes and logs live (default: a temporary "
                                                         "folder)")
    parser.add_argument("--max-pods", type=_non_negative, default=DEFAULT_MAX_PODS,
                        help=f"most pods this node runs (default {DEFAULT_MAX_PODS})")
    parser.add_argument("--node-index", type=int, default=None,
                        help="this node's place in the address plan, 0-253 (default: the name's last number - 1)")
    parser.add_argument("--healthz-bind-address", default="127.0.0.1", help="where /healthz listens")
    parser.add_argument("--healthz-port", type=health_port, default=HEALTHZ_PORT,
                        help=f"HTTP port of /healthz, /livez, /readyz (default {HEALTHZ_PORT}; 0 picks one)")


def node_index(name: str, given: int | None) -> int:
    """``--node-index``, or the last number in the node's name minus one (``node-3``: 2), else 0."""
    if given is not None:
        return given
    digits = re.findall(r"\d+", name)
    return max(int(digits[-1]) - 1, 0) % 254 if digits else 0


def main(args: argparse.Namespace) -> int:
    from minik8s.kubelet import Kubelet, make_runtime

    index = node_index(args.node_name, args.node_index)
    if not 0 <= index <= 253:
        print(f"error: --node-index must be between 0 and 253, not {index}", file=sys.stderr)
        return 1
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else None
    process = start(f"kubelet ({args.node_name})", args.kubeconfig, args.healthz_bind_address, args.healthz_port,
                    tls=False, data_dir=data_dir, runtime=args.runtime)
    if isinstance(process, int):
        return process
    ctx = process.context
    try:
        runtime = make_runtime(args.runtime, node_name=args.node_name, node_index=index, clock=ctx.clock,
                               rng=ctx.rng, data_dir=data_dir)
        kubelet = Kubelet(ctx, node_name=args.node_name, node_index=index, runtime=runtime, pods=args.max_pods)
    except (RuntimeError, ValueError, OSError) as exc:   # a runtime that cannot start (no Docker engine...)
        process.shutdown()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return process.run([kubelet])
