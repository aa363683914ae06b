"""The cluster's public-key infrastructure: a CA, the API server's certificate, the admin token.

A real control plane serves its API over HTTPS only. ``kubeadm init`` (its
``certs`` phase) makes a cluster CA under ``/etc/kubernetes/pki`` and signs the
API server's serving certificate with it, naming every address clients use
(``127.0.0.1``, the node's addresses, ``kubernetes.default.svc``...); clients
trust the CA through the kubeconfig's ``certificate-authority-data`` and prove
who they are with a credential. minik8s does the same at the first start of
``minik8s server``, under ``<data-dir>/pki``:

=================== ===================================================================
file                what it is
=================== ===================================================================
``ca.crt/ca.key``   the cluster CA (kept across restarts: kubeconfigs stay valid)
``apiserver.crt``   the serving certificate, signed by the CA, re-issued when the set of
``apiserver.key``   names the server answers to changes (``--host``, ``--tls-san``)
``tokens.csv``      the static token file (the API server's ``--token-auth-file``
                    format: ``token,user,uid,"group1,group2"``) holding the admin token
``sa.key/sa.pub``   the key that signs ServiceAccount tokens (RSA, as kubeadm's)
``apiserver-kubelet the API server's client certificate for kubelets' HTTPS APIs
-client.crt/.key``  (``kube-apiserver-kubelet-client`` in ``system:masters``), made at each start
=================== ===================================================================

The server asks every client for an (optional) certificate and verifies it against the CA:
``issue_client_certificate`` makes one for a user (CN = user, O = groups), as ``kubeadm kubeconfig
user`` does, and :func:`minik8s.kubeconfig.add_context` writes it into a kubeconfig.

Private keys and the token file are readable by their owner only (0600).

Interface: ``ensure(pki_dir, names) -> PKI``; ``PKI.ca_pem``, ``PKI.admin_token``, ``PKI.sa_key_pem``,
``PKI.server_ssl_context()``; ``server_names(host)`` lists the names to certify;
``issue_client_certificate(pki_dir, user, groups, days) -> (cert_pem, key_pem)``.
Taught in chapter 2 (architecture: how kubectl finds and trusts the API server).
"""

from __future__ import annotations

import csv
import datetime
import ipaddress
import os
import secrets
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650            # kubeadm's CA lives ten years
SERVING_DAYS = 365        # its leaf certificates one year
ADMIN_USER = "kubernetes-admin"      # the user kubeadm's admin.conf names
ADMIN_GROUPS = ("system:masters",)   # the group that bootstraps cluster-admin rights
# The common name of the API server's front-proxy client certificate (requestheader-allowed-names).
FRONT_PROXY_CLIENT = "front-proxy-client"
KUBELET_CLIENT = "kube-apiserver-kubelet-client"   # who the API server is to kubelets

# The names a Pod uses for the API server, certified as kubeadm does.
SERVICE_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")


@dataclass
class PKI:
    directory: Path
    ca_pem: bytes
    admin_token: str

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def sa_key_pem(self) -> bytes:
        return (self.directory / "sa.key").read_bytes()

    def server_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.directory / "apiserver.crt", self.directory / "apiserver.key")
        # --client-ca-file: a client may present a certificate; TLS refuses one the CA did not sign
        # (or that has expired), and the authenticator takes its CN and O as the user and groups.
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cafile=str(self.ca_file))
        return context


def server_names(host: str, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Every name and address the API server answers to when it listens on ``host``."""
    names = ["localhost", "127.0.0.1", "::1", *SERVICE_NAMES, *extra]
    if host in ("0.0.0.0", "::", ""):
        names += [socket.gethostname(), socket.getfqdn(), *_local_addresses()]
    else:
        names.append(host)
    seen: list[str] = []
    for name in names:
        name = name.strip().lower().strip("[]")
        if name and name not in seen:
            seen.append(name)
    return seen


def _local_addresses() -> list[str]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return []
    return sorted({str(info[4][0]).split("%")[0] for info in infos})


def ensure(directory: Path, names: list[str]) -> PKI:
    """Load the PKI under ``directory``, making whatever is missing or no longer fits ``names``."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    ca_cert, ca_key = _ensure_ca(directory)
    _ensure_serving(directory, ca_cert, ca_key, names)
    _ensure_sa_key(directory)
    return PKI(directory, ca_cert.public_bytes(serialization.Encoding.PEM), _ensure_admin_token(directory))


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` readable by its owner only, replacing the file in one step."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _ensure_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = directory / "ca.crt", directory / "ca.key"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minik8s-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _certified_names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {*san.get_values_for_type(x509.DNSName), *(str(ip) for ip in san.get_values_for_type(x509.IPAddress))}


def _ensure_serving(directory: Path, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
                    names: list[str]) -> None:
    cert_path, key_path = directory / "apiserver.crt", directory / "apiserver.key"
    wanted = {str(_san(n).value) for n in names}
    now = datetime.datetime.now(datetime.timezone.utc)
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        fresh = cert.not_valid_after_utc - now > datetime.timedelta(days=30)
        if fresh and cert.issuer == ca_cert.subject and wanted <= _certified_names(cert):
            return
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=SERVING_DAYS))
            .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _ensure_admin_token(directory: Path) -> str:
    path = directory / "tokens.csv"
    for row in read_token_file(path):
        if row[1] == ADMIN_USER:
            return row[0]
    token = secrets.token_urlsafe(32)
    _write_private(path, f'{token},{ADMIN_USER},{ADMIN_USER},"{",".join(ADMIN_GROUPS)}"\n'.encode())
    return token


def read_token_file(path: Path) -> list[list[str]]:
    """Rows of a static token file: ``token,user,uid[,"group1,group2"]`` (blank and short rows skipped)."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return [row for row in csv.reader(handle) if len(row) >= 3 and row[0].strip()]


def _ensure_sa_key(directory: Path) -> None:
    """The ServiceAccount token signing key pair (kept across restarts: issued tokens stay valid)."""
    from minik8s.apiserver.auth.serviceaccounts import generate_key_pem

    key_path, pub_path = directory / "sa.key", directory / "sa.pub"
    if key_path.exists():
        return
    pem = generate_key_pem()
    _write_private(key_path, pem)
    key = serialization.load_pem_private_key(pem, None)
    pub_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo))


def ensure_front_proxy_client(directory: Path) -> tuple[Path, Path]:
    """``front-proxy-client.crt`` and ``.key``: the client certificate the API server presents to
    extension API servers (upstream's --proxy-client-cert-file / --proxy-client-key-file), signed by
    the cluster CA and made anew at each start."""
    return _client_files(directory, "front-proxy-client", FRONT_PROXY_CLIENT, ())


def ensure_kubelet_client(directory: Path) -> tuple[Path, Path]:
    """``apiserver-kubelet-client.crt`` and ``.key``: the certificate the API server presents to kubelets
    (--kubelet-client-certificate / --kubelet-client-key; CN ``kube-apiserver-kubelet-client``, O
    ``system:masters``, as kubeadm made it), made anew at each start."""
    return _client_files(directory, "apiserver-kubelet-client", KUBELET_CLIENT, ADMIN_GROUPS)


def _client_files(directory: Path, stem: str, user: str, groups: tuple[str, ...]) -> tuple[Path, Path]:
    cert_pem, key_pem = issue_client_certificate(directory, user, groups)
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    _write_private(key_path, key_pem)
    cert_path.write_bytes(cert_pem)
    return cert_path, key_path


def issue_client_certificate(directory: Path, user: str, groups: list[str] | tuple[str, ...] = (),
                             days: int = SERVING_DAYS) -> tuple[bytes, bytes]:
    """A client certificate for ``user`` (its CN) in ``groups`` (its O values), signed by the cluster
    CA under ``directory``: (certificate PEM, private key PEM). Nothing is stored: the cluster keeps
    no list of users, as upstream."""
    ca_cert, ca_key = _ensure_ca(Path(directory))
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    subject.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
    cert = (x509.CertificateBuilder().subject_name(x509.Name(subject)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def self_signed_certificate(names: list[str], days: int = SERVING_DAYS) -> tuple[bytes, bytes]:
    """A serving certificate that signs itself, for ``names``: (certificate PEM, key PEM). What
    kube-controller-manager and kube-scheduler serve their secure port with when given no certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{names[0] if names else 'localhost'}@minik8s")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)
