"""``minik8s join``: a new machine joins the cluster as a node, as ``kubeadm join`` does.

    minik8s join https://10.0.0.5:6443 --token abcdef.0123456789abcdef \\
        --discovery-token-ca-cert-hash sha256:<hex> [--node-name N] [--runtime R] [--data-dir D] \\
        [-- KUBELET FLAGS...]

The machine starts with nothing but a bootstrap token (``minik8s token create``) and the hash of the
cluster CA's public key. The steps, in kubeadm's order:

1. **discovery**: fetch the ``cluster-info`` ConfigMap from ``kube-public`` over TLS *without*
   trusting the server's certificate yet (anonymously: :mod:`minik8s.kubeadm` lets anyone read it);
   take the CA out of its kubeconfig and check that the SHA-256 of the CA's SubjectPublicKeyInfo is
   one of the pinned ``--discovery-token-ca-cert-hash`` values (refused otherwise; with
   ``--discovery-token-unsafe-skip-ca-verification`` it is not checked); then fetch it again, this
   time trusting only that CA, and check both answers agree. Upstream can instead verify a JWS
   signature the bootstrap signer adds to ``cluster-info`` for each token; minik8s does not sign
   ``cluster-info``, so the CA hash (or the unsafe flag) is required;
2. **TLS bootstrap**, as the token's user ``system:bootstrap:<id>``: refuse when a Ready Node of the
   same name exists; make an ECDSA key and a certificate request for ``CN=system:node:<N>,
   O=system:nodes``; create a CSR (signer ``kubernetes.io/kube-apiserver-client-kubelet``); the
   approving controller approves it and the signer issues the certificate (or a person runs
   ``kubectl certificate approve``); wait for it (``--timeout``, default 5m);
3. write ``<D>/kubelet.conf``: the server, the CA and the client certificate with its key, which
   authenticates as ``system:node:<N>`` in ``system:nodes`` (the Node authorizer's user);
4. replace this process with the kubelet: ``python -m minik8s kubelet --kubeconfig <D>/kubelet.conf
   --node-name N --runtime R --data-dir D``, followed by whatever came after ``--`` on join's command
   line (``-- --port 10260 --healthz-port 10262``: two nodes on one machine need their own ports, where
   kubeadm would read them from a KubeletConfiguration); ``--no-start``: print that command and exit.

The kubelet's server URL is the one given on the command line (what the machine can reach), not the
one written in ``cluster-info``.

Interface: ``ca_cert_hash(ca_pem) -> "sha256:<hex>"``; ``discover(url, hashes, unsafe) -> ca_pem``;
``request_certificate(url, ca_pem, token, node, timeout) -> (cert_pem, key_pem)``;
``kubelet_command(kubeconfig_path, node, runtime, data_dir, extra=()) -> argv``; ``main(argv)``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import secrets
import socket
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import urllib3
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from minik8s.api import bootstraptoken as bt
from minik8s.api import resources
from minik8s.api.errors import StatusError

CONFIGMAPS = resources.get("", "v1", "configmaps")
NODES = resources.get("", "v1", "nodes")
CSRS = resources.get("certificates.k8s.io", "v1", "certificatesigningrequests")
KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
POLL_SECONDS = 0.5          # how often to look at the CSR while waiting for its certificate
DEFAULT_TIMEOUT = "5m"      # kubeadm's TLS bootstrap timeout


class JoinError(Exception):
    """The join cannot go on; the message says why, in kubeadm's words where it has some."""


def ca_cert_hash(ca_pem: bytes) -> str:
    """``sha256:<hex>`` of the CA certificate's SubjectPublicKeyInfo (DER), as kubeadm pins it."""
    cert = x509.load_pem_x509_certificate(ca_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def _client(url: str, **kwargs: Any) -> Any:
    from minik8s.client.http import HTTPClient

    return HTTPClient(url, **kwargs)


def _cluster_info_ca(configmap: dict[str, Any]) -> bytes:
    try:
        config = yaml.safe_load((configmap.get("data") or {}).get("kubeconfig") or "")
        cluster = config["clusters"][0]["cluster"]
        return base64.b64decode(cluster["certificate-authority-data"], validate=True)
    except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError):
        raise JoinError("the cluster-info ConfigMap holds no valid kubeconfig with a certificate-authority-data") \
            from None


def discover(url: str, pinned: list[str], unsafe: bool) -> bytes:
    """The cluster CA, learnt from ``cluster-info`` and checked against the pinned hashes."""
    try:
        with warnings.catch_warnings():   # not trusting the certificate yet is the point of this request
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            first = _client(url, verify=False).get(CONFIGMAPS, "cluster-info", "kube-public")
    except StatusError as exc:
        raise JoinError(f'failed to request the cluster-info ConfigMap: {exc.message}') from None
    ca_pem = _cluster_info_ca(first)
    try:
        found = ca_cert_hash(ca_pem)
    except ValueError:
        raise JoinError("the cluster-info ConfigMap holds a certificate-authority-data that is not a PEM "
                        "certificate") from None
    if not unsafe and not any(hmac.compare_digest(found, given.lower()) for given in pinned):
        raise JoinError(f'cluster CA found in cluster-info ConfigMap is invalid: none of the public keys '
                        f'"{found}" are pinned')
    try:   # again, now trusting only that CA: the server must hold a certificate it signed
        second = _client(url, ca_pem=ca_pem).get(CONFIGMAPS, "cluster-info", "kube-public")
    except (StatusError, ConnectionError) as exc:
        raise JoinError(f"failed to validate the server's certificate against the pinned CA: {exc}") from None
    if (second.get("data") or {}) != (first.get("data") or {}):
        raise JoinError("the cluster-info ConfigMap changed between the two requests: refusing to trust it")
    return ca_pem


def _node_ready(node: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def certificate_request(node: str) -> tuple[bytes, bytes]:
    """A new ECDSA key and a PEM certificate request for ``system:node:<node>`` in ``system:nodes``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node}")])
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return request.public_bytes(serialization.Encoding.PEM), key_pem


def request_certificate(url: str, ca_pem: bytes, token: str, node: str, timeout: float) -> tuple[bytes, bytes]:
    """TLS bootstrap as the token's user: (certificate PEM, key PEM) once the CSR is issued."""
    client = _client(url, ca_pem=ca_pem, token=token)
    try:
        existing = client.get(NODES, node)
    except StatusError as exc:
        if exc.code == 401:
            raise JoinError("error: the bootstrap token was refused by the server (Unauthorized): it is unknown, "
                            "expired or malformed") from None
        if exc.code != 404:
            raise
        existing = None
    if existing is not None and _node_ready(existing):
        raise JoinError(f'a Node with name "{node}" and status "Ready" already exists in the cluster. You must '
                        f'delete the existing Node or change the name of this new joining Node')
    request_pem, key_pem = certificate_request(node)
    csr = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
           "metadata": {"name": f"node-csr-{secrets.token_hex(8)}"},
           "spec": {"request": base64.b64encode(request_pem).decode(), "signerName": KUBELET_CLIENT_SIGNER,
                    "usages": ["digital signature", "client auth"]}}
    name = client.create(CSRS, csr)["metadata"]["name"]
    deadline = time.monotonic() + timeout
    while True:
        current = client.get(CSRS, name)
        status = current.get("status") or {}
        for condition in status.get("conditions") or []:
            if condition.get("type") in ("Denied", "Failed"):
                raise JoinError(f'certificate signing request {name} was {condition["type"].lower()}: reason '
                                f'"{condition.get("reason", "")}", message "{condition.get("message", "")}"')
        if status.get("certificate"):
            return base64.b64decode(status["certificate"]), key_pem
        if time.monotonic() > deadline:
            raise JoinError(f"timed out waiting for the certificate of CSR {name}: approve it with "
                            f"'kubectl certificate approve {name}'")
        time.sleep(POLL_SECONDS)   # a command waiting for a person or a controller, not a test


def kubelet_conf(url: str, ca_pem: bytes, node: str, cert_pem: bytes, key_pem: bytes) -> dict[str, Any]:
    """kubeadm's ``kubelet.conf``: one cluster, the node's user, a context joining them."""
    user = f"system:node:{node}"
    b64 = lambda data: base64.b64encode(data).decode()   # noqa: E731 - three fields, one encoding
    return {"apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "kubernetes", "cluster": {"certificate-authority-data": b64(ca_pem), "server": url}}],
            "contexts": [{"name": f"{user}@kubernetes", "context": {"cluster": "kubernetes", "user": user}}],
            "current-context": f"{user}@kubernetes", "preferences": {},
            "users": [{"name": user, "user": {"client-certificate-data": b64(cert_pem),
                                              "client-key-data": b64(key_pem)}}]}


def kubelet_command(kubeconfig_path: Path, node: str, runtime: str, data_dir: Path,
                    extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The kubelet join becomes; ``extra`` (what followed ``--``) is passed on as the kubelet's own flags."""
    return [sys.executable, "-m", "minik8s", "kubelet", "--kubeconfig", str(kubeconfig_path), "--node-name", node,
            "--runtime", runtime, "--data-dir", str(data_dir), *extra]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minik8s join", description="Join this machine to a cluster as a node "
                                                                      "(kubeadm join).",
                                     epilog="Flags after -- are the kubelet's own, passed on as given: "
                                            "-- --port 10260 --healthz-port 10262 (two nodes on one machine).")
    parser.add_argument("server", help="the API server's URL, e.g. https://10.0.0.5:6443")
    parser.add_argument("--token", required=True, help="a bootstrap token (minik8s token create)")
    parser.add_argument("--discovery-token-ca-cert-hash", action="append", default=[], metavar="sha256:HEX",
                        help="the hash of the cluster CA's public key to pin (repeatable)")
    parser.add_argument("--discovery-token-unsafe-skip-ca-verification", action="store_true",
                        help="trust the CA that cluster-info names without checking its hash (unsafe)")
    parser.add_argument("--node-name", default=None, help="this node's name (default: the host name)")
    parser.add_argument("--runtime", default="process", choices=("simulated", "process", "docker"),
                        help="the kubelet's container runtime (default process)")
    parser.add_argument("--data-dir", default=None, help="where the node keeps its state and kubelet.conf "
                                                         "(default ~/.minik8s/nodes/NODE)")
    parser.add_argument("--timeout", default=DEFAULT_TIMEOUT, help="how long to wait for the certificate (default 5m)")
    parser.add_argument("--no-start", action="store_true",
                        help="write kubelet.conf and print the kubelet command instead of running it")
    return parser


def _check_flags(args: argparse.Namespace) -> None:
    if bt.parse(args.token) is None:
        raise JoinError(f'discovery.bootstrapToken.token: Invalid value: "{args.token}": the bootstrap token '
                        f'"{args.token}" was not of the form "{bt.TOKEN_RE.pattern}"')
    if not args.discovery_token_ca_cert_hash and not args.discovery_token_unsafe_skip_ca_verification:
        raise JoinError('discovery.bootstrapToken: Invalid value: "": using token-based discovery without '
                        'caCertHashes can be unsafe. Set unsafeSkipCAVerification as true in your kubeadm config '
                        'file or pass --discovery-token-unsafe-skip-ca-verification flag to continue')
    for given in args.discovery_token_ca_cert_hash:
        kind, _, digest = given.partition(":")
        if kind != "sha256" or len(digest) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digest):
            raise JoinError(f'invalid hash "{given}", expected "sha256:" followed by 64 hexadecimal digits')


def main(argv: list[str]) -> int:
    from minik8s import kubeconfig
    from minik8s.kubectl.authn import parse_go_duration

    argv = list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    args = _parser().parse_args(argv[:cut])
    kubelet_flags = argv[cut + 1:]
    node = (args.node_name or socket.gethostname()).lower()
    data_dir = Path(args.data_dir or Path.home() / ".minik8s" / "nodes" / node).expanduser()
    try:
        _check_flags(args)
        timeout = parse_go_duration(args.timeout)
        print(f'[discovery] Requesting info from "{args.server}"', flush=True)
        ca_pem = discover(args.server, args.discovery_token_ca_cert_hash,
                          args.discovery_token_unsafe_skip_ca_verification)
        print(f"[discovery] Cluster info contents are valid (minik8s does not sign them) and the CA hash is "
              f"{ca_cert_hash(ca_pem)}", flush=True)
        print(f'[kubelet-start] Requesting a client certificate for "system:node:{node}"', flush=True)
        cert_pem, key_pem = request_certificate(args.server, ca_pem, args.token, node, timeout)
        data_dir.mkdir(parents=True, exist_ok=True)
        conf = data_dir / "kubelet.conf"
        kubeconfig.save(kubelet_conf(args.server, ca_pem, node, cert_pem, key_pem), conf)
        os.chmod(conf, 0o600)
        print(f'[kubelet-start] Writing kubelet configuration to file "{conf}"', flush=True)
    except (JoinError, StatusError, ValueError, ConnectionError, OSError) as exc:
        # A StatusError's message is the server's; the others say what went wrong here.
        print(f"error: {exc.message if isinstance(exc, StatusError) else exc}", file=sys.stderr)
        return 1
    command = kubelet_command(conf, node, args.runtime, data_dir, kubelet_flags)
    if args.no_start:
        print("This node has a kubelet kubeconfig. Start its kubelet with:", flush=True)
        print("  " + " ".join(command), flush=True)
        return 0
    print("[kubelet-start] Starting the kubelet", flush=True)
    print("\nThis node has joined the cluster. Run 'kubectl get nodes' on the control-plane to see this node "
          "join the cluster.", flush=True)
    os.execv(command[0], command)
    return 0   # not reached: execv replaces this process
