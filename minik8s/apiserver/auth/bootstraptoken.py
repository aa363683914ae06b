"""The bootstrap token authenticator: ``Bearer <id>.<secret>`` as ``system:bootstrap:<id>``.

kube-apiserver's ``--enable-bootstrap-token-auth``: a bearer token of the form
``[a-z0-9]{6}.[a-z0-9]{16}`` is looked up as the Secret ``bootstrap-token-<id>`` in
``kube-system`` (format: :mod:`minik8s.api.bootstraptoken`). It authenticates when the Secret is
of type ``bootstrap.kubernetes.io/token``, is not being deleted, holds the same secret (compared
in constant time), allows ``usage-bootstrap-authentication`` and has not expired. The user is
``system:bootstrap:<id>`` in ``system:bootstrappers`` plus the Secret's ``auth-extra-groups``
(only groups under ``system:bootstrappers:``). Anything else is a 401, as upstream: a token that
looks like a bootstrap token is never tried as another kind of token.

Interface: ``BootstrapTokenAuthenticator(get_secret)`` where ``get_secret(namespace, name)`` returns
the Secret or None; ``authenticator.user_for(token) -> User | None`` (None: not a bootstrap token's
shape); raises the 401 for one that is refused.
"""

from __future__ import annotations

import hmac
from typing import Any, Callable

from minik8s.api import bootstraptoken as bt
from minik8s.apiserver.auth.authentication import User, unauthorized

SecretGetter = Callable[[str, str], "dict[str, Any] | None"]


class BootstrapTokenAuthenticator:
    def __init__(self, get_secret: SecretGetter, now: Callable[[], float]):
        self._get_secret = get_secret
        self._now = now

    def user_for(self, token: str) -> User | None:
        parsed = bt.parse(token)
        if parsed is None:
            return None
        token_id, token_secret = parsed
        secret = self._get_secret(bt.NAMESPACE, bt.secret_name(token_id))
        if secret is None or secret.get("type") != bt.SECRET_TYPE:
            raise unauthorized()
        if (secret.get("metadata") or {}).get("deletionTimestamp"):
            raise unauthorized()
        data = bt.fields(secret)
        if not hmac.compare_digest(data.get("token-secret", "").encode(), token_secret.encode()):
            raise unauthorized()
        if data.get("token-id") != token_id or data.get("usage-bootstrap-authentication") != "true":
            raise unauthorized()
        if bt.expired(secret, self._now()):
            raise unauthorized()
        extra = [g.strip() for g in data.get("auth-extra-groups", "").split(",") if g.strip()]
        if any(not bt.valid_group(g) for g in extra):
            raise unauthorized()
        groups = (bt.BOOTSTRAPPERS_GROUP, *extra, "system:authenticated")
        return User(bt.BOOTSTRAP_USER_PREFIX + token_id, "", groups)
