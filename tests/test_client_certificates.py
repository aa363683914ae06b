"""Client certificates against a real ``minik8s server``: issued by the cluster CA, written into a
kubeconfig, used by the real kubectl and by ``minik8s kubectl``; expired or foreign ones refused."""

from __future__ import annotations

import datetime
import os
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from minik8s import kubeconfig, pki
from conftest import needs_kubectl


def _user_kubeconfig(server, tmp_path: Path, cert: bytes, key: bytes, name: str = "alice") -> Path:
    ca = (server.data_dir / "pki" / "ca.crt").read_bytes()
    path = tmp_path / f"{name}.kubeconfig"
    kubeconfig.save(kubeconfig.for_user(server.url, ca, name, cert_pem=cert, key_pem=key), path)
    return path


def _run(path: Path, *args: str, real: bool = True) -> subprocess.CompletedProcess:
    command = ["kubectl", *args] if real else [sys.executable, "-m", "minik8s", "kubectl", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KUBECONFIG": str(path), "HOME": str(path.parent)})


def _cert(server, user: str, groups: list[str], *, days_ago: int = 0, foreign: bool = False) -> tuple[bytes, bytes]:
    """A client certificate signed by the cluster CA (or by a CA of its own), valid now or expired."""
    if not foreign and not days_ago:
        return pki.issue_client_certificate(server.data_dir / "pki", user, groups)
    directory = server.data_dir / "pki"
    if foreign:
        signer = ec.generate_private_key(ec.SECP256R1())
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minik8s-ca")])   # same name, other key
    else:
        loaded = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        signer = loaded
        issuer = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes()).subject
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days_ago)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
                                    + [x509.NameAttribute(NameOID.COMMON_NAME, user)]))
            .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(signer, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), pem


def test_issued_certificate_names_the_user_and_groups(server) -> None:
    cert_pem, key_pem = pki.issue_client_certificate(server.data_dir / "pki", "alice", ["devs", "students"], days=30)
    cert = x509.load_pem_x509_certificate(cert_pem)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["devs", "students"]
    assert cert.issuer == x509.load_pem_x509_certificate((server.data_dir / "pki" / "ca.crt").read_bytes()).subject
    assert ExtendedKeyUsageOID.CLIENT_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days in (29, 30)
    assert b"PRIVATE KEY" in key_pem


@needs_kubectl
def test_the_real_kubectl_authenticates_with_a_client_certificate(server, tmp_path: Path) -> None:
    path = _user_kubeconfig(server, tmp_path, *_cert(server, "alice", ["devs"]))
    result = _run(path, "auth", "whoami")
    assert result.returncode == 0, result.stderr
    rows = [line.split(None, 1) for line in result.stdout.splitlines()]
    assert rows[0] == ["ATTRIBUTE", "VALUE"]
    assert ["Username", "alice"] in rows
    assert ["Groups", "[devs system:authenticated]"] in rows
    # Authenticated is not authorized: RBAC grants alice's group nothing until it is bound to a role.
    refused = _run(path, "get", "namespaces", "-o", "name")
    assert (refused.returncode, refused.stderr.strip()) == (1, 'Error from server (Forbidden): namespaces is forbidden: '
                                                               'User "alice" cannot list resource "namespaces" in API '
                                                               'group "" at the cluster scope')
    server.kubectl("create", "clusterrolebinding", "devs-view", "--clusterrole=view", "--group=devs")
    listed = _run(path, "get", "namespaces", "-o", "name")
    assert listed.returncode == 0 and "namespace/default" in listed.stdout, listed.stderr


def test_minik8s_kubectl_presents_the_kubeconfigs_client_certificate(server, tmp_path: Path) -> None:
    path = _user_kubeconfig(server, tmp_path, *_cert(server, "bob", ["ops"]), name="bob")
    server.kubectl("create", "clusterrolebinding", "bob-view", "--clusterrole=view", "--user=bob")
    result = _run(path, "get", "ns", "default", "-o", "name", real=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "namespace/default"
    whoami = _run(path, "auth", "whoami", real=False)
    assert whoami.returncode == 0, whoami.stderr
    assert ["Username", "bob"] in [line.split(None, 1) for line in whoami.stdout.splitlines()]


@pytest.mark.parametrize("kind", ["expired", "foreign"])
def test_expired_or_foreign_certificates_are_refused(server, tmp_path: Path, kind: str) -> None:
    cert, key = _cert(server, "mallory", ["system:masters"], days_ago=2 if kind == "expired" else 0,
                      foreign=kind == "foreign")
    (tmp_path / "c.crt").write_bytes(cert)
    (tmp_path / "c.key").write_bytes(key)
    context = ssl.create_default_context(cadata=(server.data_dir / "pki" / "ca.crt").read_text())
    context.load_cert_chain(tmp_path / "c.crt", tmp_path / "c.key")
    request = urllib.request.Request(server.url + "/api/v1/namespaces")
    with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            # TLS 1.3 may report the refusal only when the response is read.
            response.read()
    # The server keeps serving the others.
    assert server.request("GET", "/api/v1/namespaces")[0] == 200
