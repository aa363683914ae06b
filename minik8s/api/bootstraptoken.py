"""Bootstrap tokens: short-lived shared secrets a new node uses to join the cluster.

A bootstrap token looks like ``abcdef.0123456789abcdef``: a public id of six characters and a secret
of sixteen, both ``[a-z0-9]``. It lives as a Secret ``bootstrap-token-<id>`` of type
``bootstrap.kubernetes.io/token`` in ``kube-system`` with the keys ``token-id``, ``token-secret``,
``expiration`` (RFC 3339), ``usage-bootstrap-authentication`` / ``usage-bootstrap-signing``
(``"true"`` when the token may be used that way), ``auth-extra-groups`` and ``description``.
The API server accepts ``Authorization: Bearer <id>.<secret>`` as the user ``system:bootstrap:<id>``
in the groups ``system:bootstrappers`` and the extra groups, while the token is unexpired
(:mod:`minik8s.apiserver.auth.bootstraptoken`); the token cleaner deletes expired ones
(:mod:`minik8s.controllers.bootstrap`). ``minik8s token create`` makes them (:mod:`minik8s.tokencli`).

This module holds the format, shared by all three: pure functions, no I/O.

Interface: ``TOKEN_RE``; ``parse(token) -> (id, secret) | None``; ``generate(rng) -> token``;
``secret_name(id)``; ``make_secret(token, expires_at, usages, groups, description)``;
``fields(secret) -> dict[str, str]`` (the decoded data); ``expired(secret, now) -> bool``.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets as _secrets
from typing import Any

from minik8s.clock import parse_rfc3339, rfc3339

SECRET_TYPE = "bootstrap.kubernetes.io/token"
NAMESPACE = "kube-system"
SECRET_PREFIX = "bootstrap-token-"
BOOTSTRAP_USER_PREFIX = "system:bootstrap:"
BOOTSTRAPPERS_GROUP = "system:bootstrappers"
# The group kubeadm puts its node-joining tokens in (its RBAC binds this group, not every bootstrapper).
DEFAULT_NODE_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"
DEFAULT_USAGES = ("authentication", "signing")
DEFAULT_TTL_SECONDS = 24 * 3600   # kubeadm's --ttl default: 24h

TOKEN_RE = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_GROUP_RE = re.compile(r"^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$")


def parse(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, or None."""
    match = TOKEN_RE.match(token)
    return (match.group(1), match.group(2)) if match else None


def generate() -> str:
    """A new random token (from the system's CSPRNG: a token is a credential)."""
    pick = _secrets.choice
    return "".join(pick(_ALPHABET) for _ in range(6)) + "." + "".join(pick(_ALPHABET) for _ in range(16))


def valid_id(token_id: str) -> bool:
    return bool(re.fullmatch(r"[a-z0-9]{6}", token_id))


def secret_name(token_id: str) -> str:
    return SECRET_PREFIX + token_id


def valid_group(group: str) -> bool:
    """An extra group must be under ``system:bootstrappers:`` (upstream refuses any other)."""
    return bool(_GROUP_RE.match(group))


def make_secret(token: str, expires_at: float | None, usages: tuple[str, ...] = DEFAULT_USAGES,
                groups: tuple[str, ...] = (DEFAULT_NODE_TOKEN_GROUP,), description: str = "") -> dict[str, Any]:
    """The Secret that holds ``token`` (``expires_at`` None: it never expires)."""
    parsed = parse(token)
    if parsed is None:
        raise ValueError(f'the bootstrap token "{token}" was not of the form "{TOKEN_RE.pattern}"')
    data = {"token-id": parsed[0], "token-secret": parsed[1]}
    if description:
        data["description"] = description
    if expires_at is not None:
        data["expiration"] = rfc3339(expires_at)
    for usage in usages:
        data[f"usage-bootstrap-{usage}"] = "true"
    if groups:
        data["auth-extra-groups"] = ",".join(groups)
    return {"apiVersion": "v1", "kind": "Secret", "type": SECRET_TYPE,
            "metadata": {"name": secret_name(parsed[0]), "namespace": NAMESPACE},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def fields(secret: dict[str, Any]) -> dict[str, str]:
    """A token Secret's data, decoded (undecodable values are left out)."""
    out: dict[str, str] = {}
    data = secret.get("data")
    for key, value in (data.items() if isinstance(data, dict) else ()):
        try:
            out[key] = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, ValueError, TypeError):
            continue
    return out


def expires_at(secret: dict[str, Any]) -> float | None:
    """When the token expires (None: never, or an expiration that cannot be read)."""
    when = fields(secret).get("expiration")
    if not when:
        return None
    try:
        return parse_rfc3339(when)
    except ValueError:
        return None


def expired(secret: dict[str, Any], now: float) -> bool:
    """Past its expiration; an expiration that cannot be read counts as past, as upstream."""
    when = fields(secret).get("expiration")
    if not when:
        return False
    at = expires_at(secret)
    return at is None or at <= now
