"""CertificateSigningRequests (``certificates.k8s.io/v1``): what a request must say.

Upstream's ``ValidateCertificateSigningRequestCreate`` (pkg/apis/certificates/validation), with its
field paths and messages:

* ``spec.request`` is a PEM block ``CERTIFICATE REQUEST`` whose signature checks out;
* ``spec.signerName`` is required and is a qualified name ``<domain>/<path>``
  (``kubernetes.io/kube-apiserver-client-kubelet``);
* ``spec.usages`` is required and each usage is one of the key usages upstream knows;
* ``spec.expirationSeconds``, when set, is at least 600 (ten minutes);
* on update the spec is immutable (approval and status are written through their subresources).

Interface: ``_csr(obj) -> Errors``, ``_csr_update(new, old) -> Errors``; ``parse_request(obj)``
the ``x509.CertificateSigningRequest`` of a valid object (None otherwise).
Invariants: never raises, never modifies its input.

Taught in the reference (issue 19: nodes joining with bootstrap tokens).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography import x509

from minik8s.api.errors import invalid_value, not_supported, required
from minik8s.api.validation.fields import IMMUTABLE_MSG, Errors, Obj, _map

KEY_USAGES = ("signing", "digital signature", "content commitment", "key encipherment", "key agreement",
              "data encipherment", "cert sign", "crl sign", "encipher only", "decipher only", "any",
              "server auth", "client auth", "code signing", "email protection", "s/mime", "ipsec end system",
              "ipsec tunnel", "ipsec user", "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc")
MIN_EXPIRATION_SECONDS = 600


def parse_request(obj: Any) -> x509.CertificateSigningRequest | None:
    """The certificate request of a CSR object (``spec.request``, base64 of PEM), or None."""
    request = _map(obj if isinstance(obj, dict) else {}, "spec").get("request")
    try:
        pem = base64.b64decode(request, validate=True) if isinstance(request, str) else b""
        csr = x509.load_pem_x509_csr(pem)
    except (ValueError, binascii.Error, TypeError):
        return None
    return csr if csr.is_signature_valid else None


def _request_error(request: Any) -> str | None:
    """Why ``spec.request`` is not a usable certificate request, worded as upstream's ParseCSR."""
    try:
        pem = base64.b64decode(request, validate=True) if isinstance(request, str) else b""
    except (ValueError, binascii.Error):
        return "PEM block type must be CERTIFICATE REQUEST"
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        return "PEM block type must be CERTIFICATE REQUEST"
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        return f"asn1: structure error: {exc}"
    return None if csr.is_signature_valid else "x509: ECDSA verification failure"


def _signer_name_errors(name: str) -> Errors:
    path = "spec.signerName"
    if not name:
        return [required(path)]
    domain, slash, rest = name.partition("/")
    if not slash or not domain or not rest:
        return [invalid_value(path, name, "must be a fully qualified domain and path of the form "
                                          "'example.com/signer-name'")]
    return []


def _csr(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    errs: Errors = []
    if not spec.get("request"):
        errs.append(required("spec.request"))
    else:
        why = _request_error(spec["request"])
        if why:
            errs.append(invalid_value("spec.request", "<the request>", why))
    errs += _signer_name_errors(spec.get("signerName") if isinstance(spec.get("signerName"), str) else "")
    expiration = spec.get("expirationSeconds")
    if isinstance(expiration, int) and expiration < MIN_EXPIRATION_SECONDS:
        errs.append(invalid_value("spec.expirationSeconds", expiration,
                                  "may not specify a duration less than 600 seconds (10 minutes)"))
    usages = spec.get("usages")
    if not usages:
        errs.append(required("spec.usages"))
    for i, usage in enumerate(usages if isinstance(usages, list) else []):
        if usage not in KEY_USAGES:
            errs.append(not_supported(f"spec.usages[{i}]", usage, KEY_USAGES))
    return errs


def _csr_update(new: Obj, old: Obj) -> Errors:
    if _map(new, "spec") != _map(old, "spec"):
        return [invalid_value("spec", "<the spec>", IMMUTABLE_MSG)]
    return []
