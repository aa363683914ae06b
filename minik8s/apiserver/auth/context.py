"""Who is making the request being served: the request's user, carried through the API server.

kube-apiserver puts the authenticated user in the request's context (Go's
``context.Context``); admission plugins and the RBAC storage read it from there
(escalation checks need to know who creates a Role). minik8s does the same with a
:class:`contextvars.ContextVar`: the HTTP filters set it for the duration of a
request, and so does the in-process client when it acts as someone (``kubectl
--as`` in a notebook).

No user in the context means a component of the cluster itself calling in-process
(the scheduler, a controller, a kubelet of an in-process cluster): those are trusted,
as the loopback client of kube-apiserver is (its user is in ``system:masters``).

Interface:
    current_user() -> User | None
    with acting_as(user): ...          # the API server sees ``user`` inside the block
"""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Iterator

from minik8s.apiserver.auth.authentication import User

_USER: ContextVar[User | None] = ContextVar("minik8s_request_user", default=None)


def current_user() -> User | None:
    """The user whose request is being served, or None for the cluster's own in-process components."""
    return _USER.get()


@contextlib.contextmanager
def acting_as(user: User | None) -> Iterator[None]:
    token = _USER.set(user)
    try:
        yield
    finally:
        _USER.reset(token)
