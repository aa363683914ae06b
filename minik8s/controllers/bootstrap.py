"""The token cleaner: expired bootstrap tokens are deleted.

kube-controller-manager's ``tokencleaner`` watches the Secrets of type ``bootstrap.kubernetes.io/token``
in ``kube-system`` and deletes each once its ``expiration`` has passed (the token format:
:mod:`minik8s.api.bootstraptoken`). The authenticator already refuses an expired token; deleting it
keeps ``minik8s token list`` honest. A token without an expiration is kept for ever.

Interface: ``TokenCleaner(ctx)`` (in :mod:`minik8s.controllers.manager`); it requeues each token for
its expiry time and never polls.
Invariant: a token is deleted only if, re-read just before, it is still expired (its expiration
may have been extended meanwhile).
"""

from __future__ import annotations

from typing import Any, Hashable

from minik8s.api import bootstraptoken as bt
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.controllers.controller import Controller

SECRETS = resources.get("", "v1", "secrets")


class TokenCleaner(Controller):
    name = "token-cleaner"
    watches = (SECRETS,)

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        if meta.get("namespace") != bt.NAMESPACE or obj.get("type") != bt.SECRET_TYPE:
            return []
        return [meta.get("name", "")]

    def reconcile(self, key: Any) -> None:
        secret = self.informer(SECRETS).get(bt.NAMESPACE, str(key))
        if secret is None or secret["metadata"].get("deletionTimestamp"):
            return
        if not self._expired(key, secret):
            return
        try:   # the cache may be stale: look at the real object before deleting it
            fresh = self.client.get(SECRETS, str(key), bt.NAMESPACE)
            if self._expired(key, fresh):
                self.client.delete(SECRETS, str(key), bt.NAMESPACE)
        except StatusError as err:
            if err.code != 404:
                raise

    def _expired(self, key: Any, secret: dict[str, Any]) -> bool:
        now = self.clock.now()
        if bt.expired(secret, now):
            return True
        when = bt.expires_at(secret)
        if when is not None:
            self.requeue_after(key, when - now)
        return False
