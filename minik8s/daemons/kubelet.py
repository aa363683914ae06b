"""``minik8s kubelet``: one node's kubelet as a process of its own, as on every machine of a cluster.

Connects with ``--kubeconfig`` (a node credential: user ``system:node:<node>`` in group
``system:nodes``, whom the Node authorizer lets read and write what its own node needs), registers
the Node ``--node-name``, renews its Lease in ``kube-node-lease``, and runs the pods bound to it
with its container runtime (``--runtime``: simulated, process or docker). It serves ``/healthz``
over plain HTTP on loopback (``--healthz-port``, upstream's 10248). SIGTERM or SIGINT stops it and
its containers. ``minik8s join`` starts it with these exact flags.

It serves its own HTTPS API (:mod:`minik8s.kubelet.server`) on ``--address``:``--port`` (upstream's
0.0.0.0:10250; 0 picks a port) with ``--tls-cert-file``/``--tls-private-key-file`` or, as upstream
without them, a self-signed certificate; callers prove who they are with a certificate signed by
``--client-ca-file`` (default: the kubeconfig's CA). The Node publishes that address (``--node-ip``,
else the bind address when it is not a wildcard) and port, so ``kubectl logs``, ``exec``, ``attach``
and ``port-forward`` reach its pods through the API server (the streaming endpoints:
:mod:`minik8s.apiserver.kubeletstreams`). A port that cannot be bound is a warning: the node runs its
pods anyway.

How minik8s differs: cluster DNS runs only inside ``minik8s server``. The node's index in the address plan
(:mod:`minik8s.addresses`: pod IPs ``127.1.<index+1>.x``, node IP) comes from ``--node-index``, by
default from the name's last number (``node-2``: 1).

Interface: ``add_arguments(parser)``, ``main(args) -> exit code``. Taught in chapter 2 (architecture).
"""

from __future__ import annotations

import argparse
import re
import ssl
import sys
from pathlib import Path
from typing import Any

from minik8s.daemons.component import add_kubeconfig_argument, health_port, start
from minik8s.server import _non_negative

HEALTHZ_PORT = 10248
KUBELET_PORT = 10250
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
    parser.add_argument("--node-labels", type=_labels, default={}, metavar="KEY=VALUE,...",
                        help="labels the Node registers with")
    parser.add_argument("--register-with-taints", type=_taints, default=[], metavar="KEY=VALUE:EFFECT,...",
                        help="taints the Node registers with (effect NoSchedule, PreferNoSchedule or NoExecute)")
    parser.add_argument("--healthz-bind-address", default="127.0.0.1", help="where /healthz listens")
    parser.add_argument("--healthz-port", type=health_port, default=HEALTHZ_PORT,
                        help=f"HTTP port of /healthz, /livez, /readyz (default {HEALTHZ_PORT}; 0 picks one)")
    parser.add_argument("--address", default="0.0.0.0", help="where the kubelet's HTTPS API listens (default 0.0.0.0)")
    parser.add_argument("--port", type=health_port, default=KUBELET_PORT,
                        help=f"the HTTPS API's port (default {KUBELET_PORT}; 0 picks one)")
    parser.add_argument("--node-ip", default=None, help="the address the Node publishes for the API server to "
                                                        "reach this kubelet (default: --address unless a wildcard)")
    parser.add_argument("--tls-cert-file", default=None, help="the HTTPS API's certificate (default: self-signed)")
    parser.add_argument("--tls-private-key-file", default=None, help="its private key")
    parser.add_argument("--client-ca-file", default=None,
                        help="the CA that signs callers' certificates (default: the kubeconfig's CA)")


def _labels(text: str) -> dict[str, str]:
    labels = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f'invalid label "{item}": use key=value')
        labels[key] = value
    return labels


def _taints(text: str) -> list[dict[str, str]]:
    taints = []
    for item in filter(None, text.split(",")):
        key_value, _, effect = item.rpartition(":")
        key, sep, value = key_value.partition("=")
        if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute") or not key:
            raise argparse.ArgumentTypeError(f'invalid taint "{item}": use key=value:Effect, Effect one of '
                                             f'NoSchedule, PreferNoSchedule, NoExecute')
        taints.append({"key": key, **({"value": value} if sep else {}), "effect": effect})
    return taints


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
                    tls=False, server=args.server, data_dir=data_dir, runtime=args.runtime)
    if isinstance(process, int):
        return process
    ctx = process.context
    try:
        runtime = make_runtime(args.runtime, node_name=args.node_name, node_index=index, clock=ctx.clock,
                               rng=ctx.rng, data_dir=data_dir)
        kubelet = Kubelet(ctx, node_name=args.node_name, node_index=index, runtime=runtime, pods=args.max_pods,
                          labels=args.node_labels, taints=args.register_with_taints)
    except (RuntimeError, ValueError, OSError) as exc:   # a runtime that cannot start (no Docker engine...)
        process.shutdown()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stopper = _serve_api(args, kubelet, data_dir)
    try:
        return process.run([kubelet])
    finally:
        if stopper is not None:
            stopper.stop()


def _serve_api(args: argparse.Namespace, kubelet: Any, data_dir: Path | None) -> Any:
    """Start the kubelet's HTTPS API; None (and a warning) when it cannot serve."""
    import tempfile

    from minik8s import kubeconfig, pki
    from minik8s.apiserver import kubeletstreams
    from minik8s.kubelet import server

    try:
        folder = Path(tempfile.mkdtemp(prefix="minik8s-kubelet-pki-")) if data_dir is None else data_dir / "pki"
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = args.tls_cert_file, args.tls_private_key_file
        if not (cert and key):   # upstream's kubelet signs its own serving certificate
            names = [args.node_name, *[a for a in (args.node_ip, args.address) if a and a not in ("0.0.0.0", "::")]]
            cert_pem, key_pem = pki.self_signed_certificate(names)
            cert, key = folder / "kubelet.crt", folder / "kubelet.key"
            key.touch(0o600)
            key.write_bytes(key_pem)
            cert.write_bytes(cert_pem)
        client_ca = args.client_ca_file
        if client_ca is None:
            ca_pem = kubeconfig.current(kubeconfig.load(Path(args.kubeconfig).expanduser())).ca_pem
            if ca_pem is None:
                raise ValueError("the kubeconfig names no CA: give --client-ca-file")
            client_ca = folder / "client-ca.crt"
            client_ca.write_bytes(ca_pem)
        context = server.ssl_context(cert, key, client_ca)
        stopper = server.start(kubelet, args.address, args.port, context, advertise=args.node_ip,
                               streaming=kubeletstreams.install)
    except (OSError, ValueError, ssl.SSLError) as exc:
        print(f"warning: the kubelet's HTTPS API cannot serve on {args.address}:{args.port}: {exc}; kubectl logs "
              f"and exec will not reach this node's pods", file=sys.stderr, flush=True)
        return None
    print(f"kubelet ({args.node_name}): serving the kubelet API on https://{args.address}:{stopper.port}", flush=True)
    return stopper
