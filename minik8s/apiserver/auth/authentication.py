"""Authentication: from a request's credential to a user.

kube-apiserver tries its authenticators in turn (client certificates, bearer
tokens, service-account tokens...); the first that recognises the credential
names the user. A request that carries *no* credential is the anonymous user
``system:anonymous`` in group ``system:unauthenticated``, which authorization
then limits to the public paths. A request whose credential is *wrong* is
refused at once with ``401 Unauthorized``: kubectl prints
``error: You must be logged in to the server (Unauthorized)``.

minik8s knows static bearer tokens (the ``--token-auth-file`` of kube-apiserver,
loaded by ``minik8s server`` from its PKI folder, see :mod:`minik8s.pki`).

Interface: ``User``; ``ANONYMOUS``; ``TokenAuthenticator(rows)``;
``authenticator.authenticate(authorization_header) -> User`` (raises a 401
:class:`StatusError` for a credential it does not accept).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from minik8s.api.errors import StatusError


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = field(default_factory=tuple)

    @property
    def anonymous(self) -> bool:
        return self.name == ANONYMOUS.name


ANONYMOUS = User("system:anonymous", groups=("system:unauthenticated",))


def unauthorized() -> StatusError:
    """Upstream's answer to a credential it cannot verify: a bare 401 Status."""
    return StatusError(401, "Unauthorized", "Unauthorized")


class TokenAuthenticator:
    """Bearer tokens from a static token file's rows: ``token, user, uid[, "group1,group2"]``."""

    def __init__(self, rows: list[list[str]]):
        self._users: list[tuple[bytes, User]] = []
        for row in rows:
            groups = tuple(g for g in (row[3].split(",") if len(row) > 3 else []) if g)
            self._users.append((row[0].encode(), User(row[1], row[2], (*groups, "system:authenticated"))))

    def authenticate(self, authorization: str | None) -> User:
        if authorization is None:
            return ANONYMOUS
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized()
        given = token.encode()
        for known, user in self._users:
            # Compare in constant time: how long a comparison takes must not leak the token.
            if hmac.compare_digest(known, given):
                return user
        raise unauthorized()
