"""CertificateSigningRequests in the API server: who asked, and the ``/approval`` subresource.

A CSR (``certificates.k8s.io/v1``) is how a client without a certificate gets one: it makes a key,
sends a certificate request in ``spec.request`` naming a ``spec.signerName``, and waits. Upstream's
REST strategy fills in who sent it, so nobody can ask in someone else's name, and splits the writes:

* **create**: ``spec.username``, ``spec.uid``, ``spec.groups`` and ``spec.extra`` are the
  authenticated user's (whatever the body said); ``status`` starts empty;
* **update** of the main resource changes metadata only (spec and status are kept);
* ``/approval`` (``kubectl certificate approve|deny``) changes ``status.conditions`` only: an
  ``Approved`` or ``Denied`` condition, never both;
* ``/status`` (the signer) changes status, keeping the approval conditions as they were.

minik8s leaves out upstream's extra check that an approver may ``approve`` the signer
(``certificates.k8s.io/signers``): the right to update ``/approval`` is enough here.

Interface: ``prepare_for_create(obj, user)``; ``prepare_for_approval(obj, old) -> obj``;
``prepare_for_status(obj, old) -> obj``.
"""

from __future__ import annotations

from typing import Any

from minik8s.api import errors
from minik8s.api.objects import deep_copy
from minik8s.apiserver.auth.authentication import User

APPROVAL_TYPES = ("Approved", "Denied")


def prepare_for_create(obj: dict[str, Any], user: User | None) -> None:
    """Record the requesting user in the spec (a trusted in-process caller, ``user=None``, keeps its own)."""
    obj.pop("status", None)
    spec = obj.setdefault("spec", {})
    if user is None or not isinstance(spec, dict):
        return
    spec["username"] = user.name
    for key, value in (("uid", user.uid), ("groups", list(user.groups)),
                       ("extra", {k: list(v) for k, v in user.extra})):
        if value:
            spec[key] = value
        else:
            spec.pop(key, None)


def _conditions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    status = obj.get("status")
    conditions = status.get("conditions") if isinstance(status, dict) else None
    return [c for c in conditions if isinstance(c, dict)] if isinstance(conditions, list) else []


def prepare_for_approval(obj: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The stored object with the sent ``status.conditions``; a 422 for approving and denying at once."""
    conditions = _conditions(obj)
    kinds = {c.get("type") for c in conditions}
    if {"Approved", "Denied"} <= kinds:
        raise errors.invalid("CertificateSigningRequest", "certificates.k8s.io", old["metadata"]["name"], [
            errors.invalid_value("status.conditions", "Approved",
                                 "Approved and Denied conditions are mutually exclusive")])
    new = deep_copy(old)
    new.setdefault("status", {})["conditions"] = deep_copy(conditions)
    if "resourceVersion" in (obj.get("metadata") or {}):
        new["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
    return new


def prepare_for_status(obj: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The stored object with the sent status, its Approved/Denied conditions kept as stored."""
    status = deep_copy(obj.get("status")) if isinstance(obj.get("status"), dict) else {}
    kept = [c for c in _conditions(old) if c.get("type") in APPROVAL_TYPES]
    status["conditions"] = kept + [c for c in _conditions(obj) if c.get("type") not in APPROVAL_TYPES]
    if not status["conditions"]:
        del status["conditions"]
    new = deep_copy(old)
    new["status"] = status
    if "resourceVersion" in (obj.get("metadata") or {}):
        new["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
    return new
