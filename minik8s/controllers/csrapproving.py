"""The CSR approving controller: kubelets' client certificate requests approved automatically.

kube-controller-manager's ``csrapproving`` approves a CertificateSigningRequest when it recognises it
and the requestor is allowed to have it approved, which it asks the API server through a
SubjectAccessReview, as upstream does:

* a **node client** CSR: signer ``kubernetes.io/kube-apiserver-client-kubelet``, subject
  ``CN=system:node:<name>, O=system:nodes``, no subject alternative names, usages among
  ``digital signature``, ``key encipherment`` and ``client auth`` (with ``client auth``);
* from a bootstrapper (``create`` on ``certificatesigningrequests/nodeclient``: kubeadm grants it to
  its tokens' group) or from the node itself renewing (the requestor is the CN, with ``create`` on
  ``certificatesigningrequests/selfnodeclient``).

It adds the condition ``Approved`` (reason ``AutoApproved``) through ``/approval``. Anything else is
left for a person: ``kubectl certificate approve|deny NAME``. It never denies.

Interface: ``CSRApprovingController(ctx)`` (in :mod:`minik8s.controllers.manager`);
``node_client_problem(csr) -> str | None`` why a CSR is not a node client request (the signer asks too).
"""

from __future__ import annotations

from typing import Any, Hashable

from cryptography import x509
from cryptography.x509.oid import NameOID

from minik8s.api import resources
from minik8s.api.resources import Resource
from minik8s.api.validation.certificates import parse_request
from minik8s.clock import rfc3339
from minik8s.controllers.controller import Controller

CSRS = resources.get("certificates.k8s.io", "v1", "certificatesigningrequests")
SUBJECT_ACCESS_REVIEWS = resources.get("authorization.k8s.io", "v1", "subjectaccessreviews")
KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
_NODE_CLIENT_USAGES = {"digital signature", "key encipherment", "client auth"}


def conditions(csr: dict[str, Any]) -> set[str]:
    """The types of a CSR's conditions (``Approved``, ``Denied``, ``Failed``)."""
    return {c.get("type", "") for c in (csr.get("status") or {}).get("conditions") or [] if isinstance(c, dict)}


def node_client_problem(csr: dict[str, Any]) -> str | None:
    """Why ``csr`` is not a kubelet's client certificate request (None: it is one)."""
    spec = csr.get("spec") or {}
    if spec.get("signerName") != KUBELET_CLIENT_SIGNER:
        return f'signerName must be "{KUBELET_CLIENT_SIGNER}"'
    request = parse_request(csr)
    if request is None:
        return "unable to parse csr"
    organizations = [a.value for a in request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    if organizations != [NODES_GROUP]:
        return 'subject organization is not system:nodes'
    names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1 or not str(names[0].value).startswith(NODE_USER_PREFIX):
        return 'subject common name does not begin with system:node:'
    try:
        request.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        return "DNS, email, IP and URI subjectAltNames are not allowed"
    except x509.ExtensionNotFound:
        pass
    usages = set(spec.get("usages") or [])
    if "client auth" not in usages or not usages <= _NODE_CLIENT_USAGES:
        return f"usages must be among {sorted(_NODE_CLIENT_USAGES)} and include client auth"
    return None


def common_name(csr: dict[str, Any]) -> str:
    request = parse_request(csr)
    names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME) if request is not None else []
    return str(names[0].value) if names else ""


class CSRApprovingController(Controller):
    name = "csrapproving"
    watches = (CSRS,)

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        return [(obj.get("metadata") or {}).get("name", "")]

    def reconcile(self, key: Any) -> None:
        csr = self.informer(CSRS).get("", str(key))
        if csr is None or conditions(csr) & {"Approved", "Denied"} or (csr.get("status") or {}).get("certificate"):
            return
        if node_client_problem(csr) is not None:
            return   # not ours to judge: a person approves or denies it
        spec = csr["spec"]
        self_renewal = spec.get("username") == common_name(csr)
        subresource = "selfnodeclient" if self_renewal else "nodeclient"
        if not self._allowed(spec, subresource):
            return
        message = ("Auto approving self kubelet client certificate after SubjectAccessReview." if self_renewal
                   else "Auto approving kubelet client certificate after SubjectAccessReview.")
        now = rfc3339(self.clock.now())
        approved = {**csr, "status": {**(csr.get("status") or {}), "conditions": [
            *((csr.get("status") or {}).get("conditions") or []),
            {"type": "Approved", "status": "True", "reason": "AutoApproved", "message": message,
             "lastUpdateTime": now, "lastTransitionTime": now}]}}
        self.client.update(CSRS, approved, subresource="approval")

    def _allowed(self, spec: dict[str, Any], subresource: str) -> bool:
        review: dict[str, Any] = {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"user": spec.get("username", ""), "groups": list(spec.get("groups") or []),
                     "resourceAttributes": {"group": "certificates.k8s.io", "resource": "certificatesigningrequests",
                                            "verb": "create", "subresource": subresource}}}
        if spec.get("uid"):
            review["spec"]["uid"] = spec["uid"]
        if spec.get("extra"):
            review["spec"]["extra"] = spec["extra"]
        answer = self.client.create(SUBJECT_ACCESS_REVIEWS, review)
        return bool((answer.get("status") or {}).get("allowed"))
