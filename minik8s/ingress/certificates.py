"""TLS for the ingress controller: ``kubernetes.io/tls`` Secrets made into SSL contexts.

An Ingress's ``spec.tls[]`` names hosts and the Secret holding their certificate (``tls.crt``, PEM,
the chain) and private key (``tls.key``, PEM). The proxy terminates TLS with one ``ssl.SSLContext``
per Secret and picks it by the name the client sends in SNI. A host without a usable Secret gets the
controller's own self-signed certificate, as ingress-nginx serves its "Kubernetes Ingress Controller
Fake Certificate".

Interface:
    context_from_secret(secret) -> ssl.SSLContext      # ValueError with the reason when it is unusable
    fake_certificate_context() -> ssl.SSLContext

Taught in the chapter on Ingress and NetworkPolicy.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import os
import ssl
import tempfile
from typing import Any

MAX_PEM_BYTES = 1024 * 1024   # a Secret is at most 1 MiB anyway
FAKE_SUBJECT = "Kubernetes Ingress Controller Fake Certificate"


def _field(secret: dict[str, Any], key: str) -> bytes:
    value = (secret.get("data") or {}).get(key)
    if not value:
        raise ValueError(f"secret {secret['metadata'].get('namespace', '')}/{secret['metadata']['name']} "
                         f"has no {key}")
    try:
        return base64.b64decode(value, validate=True)[:MAX_PEM_BYTES]
    except (binascii.Error, ValueError):
        raise ValueError(f"{key} is not base64") from None


def _context(cert_pem: bytes, key_pem: bytes) -> ssl.SSLContext:
    # load_cert_chain reads files only: write them to a private folder for the moment it takes.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="minik8s-ingress-tls-") as folder:
        cert_path, key_path = os.path.join(folder, "tls.crt"), os.path.join(folder, "tls.key")
        for path, data in ((cert_path, cert_pem), (key_path, key_pem)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
                handle.write(data)
        try:
            context.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as err:
            raise ValueError(f"the certificate and key do not load: {err.reason or err}") from None
    return context


def context_from_secret(secret: dict[str, Any]) -> ssl.SSLContext:
    """The SSL context serving the certificate of a ``kubernetes.io/tls`` Secret."""
    return _context(_field(secret, "tls.crt"), _field(secret, "tls.key"))


def self_signed(hosts: list[str], common_name: str = FAKE_SUBJECT, days: int = 365) -> tuple[bytes, bytes]:
    """A self-signed certificate for ``hosts`` and its key, both PEM (the fake certificate; tests' Secrets)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days)))
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def fake_certificate_context() -> ssl.SSLContext:
    cert, key = self_signed(["ingress.local"])
    return _context(cert, key)
