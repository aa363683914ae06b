"""``kubectl certificate approve|deny NAME...``: a person's decision on CertificateSigningRequests.

As upstream's command, it adds an ``Approved`` (reason ``KubectlApprove``) or ``Denied`` (reason
``KubectlDeny``) condition through the CSR's ``/approval`` subresource and prints
``certificatesigningrequest.certificates.k8s.io/NAME approved``. A CSR that already has the condition
is left as it is; one with the opposite decision is refused unless ``--force``
(``certificate signing request "NAME" is already Denied``). The signer then issues an approved
request's certificate (:mod:`minik8s.controllers.csrsigning`).
"""

from __future__ import annotations

import argparse
from typing import Any

from minik8s.api import resources
from minik8s.clock import rfc3339
from minik8s.kubectl.command import CommandError, Env

CSRS = resources.get("certificates.k8s.io", "v1", "certificatesigningrequests")
_DECISIONS = {"approve": ("Approved", "Denied", "KubectlApprove", "approved"),
              "deny": ("Denied", "Approved", "KubectlDeny", "denied")}


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    certificate = sub.add_parser("certificate", parents=[parent], add_help=False)
    verbs = certificate.add_subparsers(dest="certificate_verb")
    for verb in _DECISIONS:
        p = verbs.add_parser(verb, parents=[parent], add_help=False)
        p.add_argument("names", nargs="*")
        p.add_argument("--force", action="store_true")
        p.set_defaults(handler=cmd_decide, decision=verb)
    certificate.set_defaults(handler=cmd_decide, decision=None)


def cmd_decide(env: Env) -> None:
    a = env.args
    if a.decision is None:
        raise CommandError("You must specify the type of resource to approve or deny: "
                           "kubectl certificate approve|deny NAME")
    if not a.names:
        raise CommandError("one or more CSRs must be specified as <name> or -f <filename>")
    condition, opposite, reason, past = _DECISIONS[a.decision]
    for given in a.names:
        name = given.split("/", 1)[-1]
        csr = env.client.get(CSRS, name)
        conditions = list((csr.get("status") or {}).get("conditions") or [])
        kinds = {c.get("type") for c in conditions}
        if opposite in kinds and not a.force:
            raise CommandError(f'certificate signing request "{name}" is already {opposite}')
        if condition not in kinds:
            if a.force:
                conditions = [c for c in conditions if c.get("type") != opposite]
            conditions.append({"type": condition, "status": "True", "reason": reason,
                               "message": f"This CSR was {past} by kubectl certificate {a.decision}.",
                               "lastUpdateTime": rfc3339(env.clock.now())})
            env.client.update(CSRS, {**csr, "status": {**(csr.get("status") or {}), "conditions": conditions}},
                              subresource="approval")
        env.out.write(f"certificatesigningrequest.certificates.k8s.io/{name} {past}\n")
