"""Authorization: may this user do this?

kube-apiserver asks its authorizers in turn (Node, RBAC...) whether the
request's attributes (:mod:`.requestinfo`) are allowed for the user
(:mod:`.authentication`). What nobody allows is refused with ``403 Forbidden``
in upstream's words, for example::

    secrets is forbidden: User "system:anonymous" cannot list resource "secrets"
    in API group "" in the namespace "kube-system"

The API server's authorizer is the Node authorizer then RBAC
(:mod:`.node`, :mod:`.rbac`; ``--authorization-mode=Node,RBAC``).
``DefaultAuthorizer`` is the simple rule the filters fall back to when given
none: every authenticated user may do everything and the anonymous user may read
only what the ``system:public-info-viewer`` ClusterRole grants everyone
(``/healthz``, ``/livez``, ``/readyz`` and ``/version``).

Interface: ``authorize(user, info)`` raises a 403 :class:`StatusError` or returns.
``Authorizer`` is what the API server asks (``apiserver.authorizer.authorize(user, info)``,
same contract; the RBAC one also has ``decide(user, info) -> (allowed, reason)`` and
``rules_for(user, namespace)``); ``forbidden(user, info)`` is upstream's 403.
"""

from __future__ import annotations

from typing import Protocol

from minik8s.api.errors import StatusError, qualified
from minik8s.apiserver.auth.authentication import User
from minik8s.apiserver.auth.requestinfo import RequestInfo

# The non-resource URLs of the system:public-info-viewer ClusterRole, bound to system:unauthenticated.
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version", "/version/"})


class Authorizer(Protocol):
    def authorize(self, user: User, info: RequestInfo) -> None:
        """Return if ``user`` may do what ``info`` describes; raise the 403 StatusError otherwise."""


class DefaultAuthorizer:
    def authorize(self, user: User, info: RequestInfo) -> None:
        authorize(user, info)


def authorize(user: User, info: RequestInfo) -> None:
    if not user.anonymous:
        return
    if not info.is_resource and info.verb == "get" and info.path in PUBLIC_PATHS:
        return
    raise forbidden(user, info)


def forbidden(user: User, info: RequestInfo) -> StatusError:
    """The 403 Status kube-apiserver writes when no authorizer allows a request."""
    if not info.is_resource:
        return StatusError(403, "Forbidden",
                           f'forbidden: User "{user.name}" cannot {info.verb} path "{info.path}"', {})
    resource = f"{info.resource}/{info.subresource}" if info.subresource else info.resource
    scope = f'in the namespace "{info.namespace}"' if info.namespace else "at the cluster scope"
    group_resource = qualified(info.api_group, info.resource)
    subject = f'{group_resource} "{info.name}"' if info.name else group_resource
    message = (f'{subject} is forbidden: User "{user.name}" cannot {info.verb} resource "{resource}" '
               f'in API group "{info.api_group}" {scope}')
    details: dict[str, str] = {"name": info.name} if info.name else {}
    details.update({"group": info.api_group} if info.api_group else {}, kind=info.resource)
    return StatusError(403, "Forbidden", message, details)
