"""Client certificates: the user a TLS client certificate names.

kube-apiserver's ``--client-ca-file`` authenticator: when the client presents a certificate the
cluster CA signed (TLS itself refuses one that is expired or signed by anyone else), its subject's
Common Name is the user name and each Organization a group; ``system:authenticated`` is added.
``kubeadm`` gives the admin ``CN=kubernetes-admin, O=kubeadm:cluster-admins``; a kubelet is
``CN=system:node:<node>, O=system:nodes``. Issued by :func:`minik8s.pki.issue_client_certificate`.

Interface: ``user_from_peercert(peercert) -> User | None`` where ``peercert`` is what
``ssl.SSLSocket.getpeercert()`` returns for a verified certificate (None or {} when there is none).

Taught in chapter 16 (ServiceAccounts and RBAC: users are not objects).
"""

from __future__ import annotations

from typing import Any

from minik8s.apiserver.auth.authentication import User


def user_from_peercert(peercert: dict[str, Any] | None) -> User | None:
    """The user of a verified client certificate: CN = name, O = groups; None without a usable one."""
    if not peercert:
        return None
    name = ""
    groups: list[str] = []
    for rdn in peercert.get("subject") or ():
        for key, value in rdn:
            if key == "commonName":
                name = str(value)
            elif key == "organizationName":
                groups.append(str(value))
    if not name:
        return None   # upstream: a certificate without a CN authenticates no one
    return User(name, "", (*groups, "system:authenticated"))
