"""The CSR signing controller: approved requests get their certificate, signed by the cluster CA.

kube-controller-manager's ``csrsigning`` signs the CSRs addressed to the signers it runs (with
``--cluster-signing-cert-file``/``--cluster-signing-key-file``, kubeadm's ``ca.crt``/``ca.key``) once
they are ``Approved`` (and not ``Denied`` or ``Failed``): it writes ``status.certificate``, a PEM
certificate whose subject and public key are the request's, valid from five minutes ago (clock skew)
for ``spec.expirationSeconds`` or at most a year (``--cluster-signing-duration``, 8760h). kubectl
then shows the CSR ``Approved,Issued``. A request its signer refuses (a kubelet client CSR that is not
``system:node:<name>``/``system:nodes``, say) gets a ``Failed`` condition, reason
``SignerValidationFailure``.

Signers: ``kubernetes.io/kube-apiserver-client-kubelet`` (client auth, node subjects only),
``kubernetes.io/kube-apiserver-client`` (client auth) and ``kubernetes.io/kubelet-serving``
(server auth). The CA's key never passes through the API: ``use_ca(cert_file, key_file)`` points the
controller at the CA's files (``minik8s server`` and ``Cluster.serve()`` do it when they make the
CA; ``minik8s controller-manager`` with ``--cluster-signing-cert-file``/``--cluster-signing-key-file``);
until then nothing is signed.

Interface: ``CSRSigningController(ctx)``; ``controller.use_ca(cert_file, key_file)``;
``sign(csr, ca_cert, ca_key, now) -> PEM bytes`` (pure, for tests).
"""

from __future__ import annotations

import base64
import datetime
from pathlib import Path
from typing import Any, Hashable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from minik8s.api.resources import Resource
from minik8s.api.validation.certificates import parse_request
from minik8s.clock import rfc3339
from minik8s.controllers.controller import Controller
from minik8s.controllers.csrapproving import CSRS, KUBELET_CLIENT_SIGNER, conditions, node_client_problem

CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"
SERVING_SIGNER = "kubernetes.io/kubelet-serving"
SIGNERS = (KUBELET_CLIENT_SIGNER, CLIENT_SIGNER, SERVING_SIGNER)
MAX_SECONDS = 365 * 24 * 3600   # --cluster-signing-duration: 8760h
BACKDATE = datetime.timedelta(minutes=5)
_USAGES = {"client auth": ExtendedKeyUsageOID.CLIENT_AUTH, "server auth": ExtendedKeyUsageOID.SERVER_AUTH}


def sign(csr: dict[str, Any], ca_cert: x509.Certificate, ca_key: Any, now: float) -> bytes:
    """The certificate for ``csr`` (subject and key from its request), as PEM."""
    request = parse_request(csr)
    if request is None:
        raise ValueError("unable to parse csr")
    spec = csr.get("spec") or {}
    seconds = min(int(spec.get("expirationSeconds") or MAX_SECONDS), MAX_SECONDS)
    start = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    usages = [_USAGES[u] for u in spec.get("usages") or [] if u in _USAGES]
    builder = (x509.CertificateBuilder().subject_name(request.subject).issuer_name(ca_cert.subject)
               .public_key(request.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start - BACKDATE).not_valid_after(start + datetime.timedelta(seconds=seconds))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True,
                                            key_encipherment="key encipherment" in (spec.get("usages") or []),
                                            content_commitment=False, data_encipherment=False, key_agreement=False,
                                            key_cert_sign=False, crl_sign=False, encipher_only=False,
                                            decipher_only=False), critical=True)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                              critical=False))
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    try:   # a serving certificate keeps the names it asked for
        names = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        builder = builder.add_extension(names, critical=False)
    except x509.ExtensionNotFound:
        pass
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _signer_problem(csr: dict[str, Any]) -> str | None:
    signer = (csr.get("spec") or {}).get("signerName")
    usages = set((csr.get("spec") or {}).get("usages") or [])
    if signer == KUBELET_CLIENT_SIGNER:
        return node_client_problem(csr)
    if signer == CLIENT_SIGNER and "client auth" not in usages:
        return "usages must include client auth"
    if signer == SERVING_SIGNER and "server auth" not in usages:
        return "usages must include server auth"
    return None


class CSRSigningController(Controller):
    name = "csrsigning"
    watches = (CSRS,)

    def __init__(self, ctx: Any):
        super().__init__(ctx)
        self._ca: tuple[x509.Certificate, Any] | None = None

    def use_ca(self, cert_file: Path, key_file: Path) -> None:
        """Sign with this CA certificate and key (PEM files) from now on; look again at every CSR."""
        cert = x509.load_pem_x509_certificate(Path(cert_file).read_bytes())
        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), None)
        self._ca = (cert, key)
        for csr in self.informer(CSRS).list():
            self.queue.add(csr["metadata"]["name"])

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        return [(obj.get("metadata") or {}).get("name", "")]

    def reconcile(self, key: Any) -> None:
        csr = self.informer(CSRS).get("", str(key))
        if csr is None or self._ca is None or (csr.get("spec") or {}).get("signerName") not in SIGNERS:
            return
        if "Approved" not in conditions(csr) or conditions(csr) & {"Denied", "Failed"}:
            return
        if (csr.get("status") or {}).get("certificate"):
            return
        status = dict(csr.get("status") or {})
        problem = _signer_problem(csr)
        if problem is not None:
            now = rfc3339(self.clock.now())
            status["conditions"] = [*(status.get("conditions") or []), {
                "type": "Failed", "status": "True", "reason": "SignerValidationFailure", "message": problem,
                "lastUpdateTime": now, "lastTransitionTime": now}]
        else:
            pem = sign(csr, self._ca[0], self._ca[1], self.clock.now())
            status["certificate"] = base64.b64encode(pem).decode()
        self.client.update(CSRS, {**csr, "status": status}, subresource="status")
