"""``minik8s controller-manager``: kube-controller-manager as a process of its own.

Runs the controllers of :mod:`minik8s.controllers.manager` (Deployments, ReplicaSets, the garbage
collector, node lifecycle, EndpointSlices...) over HTTPS, with the credential of
``controller-manager.conf`` (user ``system:kube-controller-manager``), on one loop
(:class:`minik8s.runner.Runner`). With ``--leader-elect`` (the default) only the replica holding the
Lease ``kube-system/kube-controller-manager`` runs them. ``/healthz``, ``/livez`` and ``/readyz``
are served over HTTPS on ``--secure-port`` (upstream's 10257).

How minik8s differs: the legacy ServiceAccount token controller, which signs tokens with the
ServiceAccount key, writes no tokens here (it needs the API server's key in the same process);
``kubectl create token`` (TokenRequest) works as usual.

Interface: ``add_arguments(parser)``, ``main(args) -> exit code``. Taught in chapter 2 (architecture).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from minik8s.daemons.component import control_plane_flags, run_elected

SECURE_PORT = 10257
LOCK_NAME = "kube-controller-manager"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    control_plane_flags(parser, SECURE_PORT)
    parser.add_argument("--root-ca-file", default=None, metavar="FILE",
                        help="the cluster CA to publish as kube-root-ca.crt (default: the kubeconfig's)")
    parser.add_argument("--cluster-signing-cert-file", default=None, metavar="FILE",
                        help="the CA certificate that signs approved CSRs (kubeadm: pki/ca.crt; default: none, "
                             "no CSR is signed)")
    parser.add_argument("--cluster-signing-key-file", default=None, metavar="FILE",
                        help="that CA's private key (kubeadm: pki/ca.key)")


def main(args: argparse.Namespace) -> int:
    from minik8s.controllers.manager import CONTROLLERS

    try:
        root_ca = Path(args.root_ca_file).read_bytes() if args.root_ca_file else None
    except OSError as exc:
        print(f"error: cannot read --root-ca-file {args.root_ca_file}: {exc.strerror}", file=sys.stderr)
        return 1
    signing = (args.cluster_signing_cert_file, args.cluster_signing_key_file)
    if any(signing) and not all(signing):
        print("error: --cluster-signing-cert-file and --cluster-signing-key-file go together", file=sys.stderr)
        return 1

    def build(ctx: Any) -> list[Any]:
        controllers = [make(ctx) for make in CONTROLLERS]
        for controller in controllers:   # the CSR signer reads the CA's key from its file, never the API
            use_ca = getattr(controller, "use_ca", None)
            if use_ca is not None and all(signing):
                use_ca(Path(signing[0]), Path(signing[1]))
        return controllers
    return run_elected("kube-controller-manager", args, LOCK_NAME, "kube-controller-manager", build,
                       root_ca_pem=root_ca)
