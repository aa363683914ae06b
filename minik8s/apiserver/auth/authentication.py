"""Authentication: from a request's credential to a user.

kube-apiserver tries its authenticators in turn (client certificates, bearer
tokens, service-account tokens...); the first that recognises the credential
names the user. A request that carries *no* credential is the anonymous user
``system:anonymous`` in group ``system:unauthenticated``, which authorization
then limits to the public paths. A request whose credential is *wrong* is
refused at once with ``401 Unauthorized``: kubectl prints
``error: You must be logged in to the server (Unauthorized)``.

minik8s knows, in upstream's order: client certificates signed by the cluster CA
(:mod:`.x509`), static bearer tokens (the ``--token-auth-file`` of kube-apiserver,
loaded by ``minik8s server`` from its PKI folder, see :mod:`minik8s.pki`) and
ServiceAccount tokens (:mod:`.serviceaccounts`) and bootstrap tokens (:mod:`.bootstraptoken`). :class:`Authenticator` tries them in turn.

Interface: ``User``; ``ANONYMOUS``; ``TokenAuthenticator(rows)``;
``Authenticator(static=TokenAuthenticator, service_accounts=api.tokens)``;
``authenticator.authenticate(authorization_header, client_cert=None) -> User`` (raises a 401
:class:`StatusError` for a credential it does not accept; ``client_cert`` is the verified peer
certificate as ``ssl`` gives it).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any, Protocol

from minik8s.api.errors import StatusError


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = field(default_factory=tuple)
    # Extra attributes (key, values) pairs: a ServiceAccount token's pod name and uid, its credential id.
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

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

    def authenticate(self, authorization: str | None, client_cert: Any = None) -> User:
        if authorization is None:
            return ANONYMOUS
        user = self.user_for(bearer_token(authorization))
        if user is None:
            raise unauthorized()
        return user

    def user_for(self, token: str) -> User | None:
        given = token.encode()
        for known, user in self._users:
            # Compare in constant time: how long a comparison takes must not leak the token.
            if hmac.compare_digest(known, given):
                return user
        return None


def bearer_token(authorization: str) -> str:
    """The token of an ``Authorization: Bearer <token>`` header (a 401 for any other scheme)."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized()
    return token


class TokenChecker(Protocol):
    def authenticate(self, token: str, audiences: list[str] | None = None) -> User: ...


class Authenticator:
    """kube-apiserver's union of authenticators, in its order: the client certificate, then the bearer
    token as a static token, then as a ServiceAccount token. A credential none accepts is a 401."""

    def __init__(self, static: TokenAuthenticator | None = None, service_accounts: TokenChecker | None = None,
                 bootstrap: Any = None):
        """``bootstrap``: a :class:`~minik8s.apiserver.auth.bootstraptoken.BootstrapTokenAuthenticator`."""
        self.static = static
        self.service_accounts = service_accounts
        self.bootstrap = bootstrap

    def authenticate(self, authorization: str | None, client_cert: Any = None) -> User:
        from minik8s.apiserver.auth.x509 import user_from_peercert

        user = user_from_peercert(client_cert)
        if user is not None:
            return user
        if authorization is None:
            return ANONYMOUS
        return self.authenticate_token(bearer_token(authorization))

    def authenticate_token(self, token: str, audiences: list[str] | None = None) -> User:
        """The user a bearer token proves (TokenReview asks this too)."""
        user = self.static.user_for(token) if self.static is not None and not audiences else None
        if user is not None:
            return user
        if self.bootstrap is not None and not audiences:
            user = self.bootstrap.user_for(token)   # None: not shaped as a bootstrap token
            if user is not None:
                return user
        if self.service_accounts is not None and token.count(".") == 2:   # a JWT
            return self.service_accounts.authenticate(token, audiences)
        raise unauthorized()
