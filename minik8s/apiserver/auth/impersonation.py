"""Impersonation: acting as another user (``kubectl --as alice --as-group devs``).

A request may carry ``Impersonate-User``, ``Impersonate-Group`` (repeatable) and
``Impersonate-Uid`` headers. The *real* user must be allowed the verb
``impersonate`` on ``users`` (or, for ``system:serviceaccount:<ns>:<name>``, on
that ``serviceaccounts`` object), on each ``groups`` and on ``uids`` (API group
``authentication.k8s.io``); then the request proceeds as the impersonated user,
whose groups are the impersonated ones plus ``system:authenticated`` (and, for a
ServiceAccount with no groups given, ``system:serviceaccounts`` and
``system:serviceaccounts:<ns>``); ``system:authenticated`` is not added when
``system:unauthenticated`` is among the groups asked for. Otherwise 403, in upstream's words::

    users "bob" is forbidden: User "alice" cannot impersonate resource "users"
    in API group "" at the cluster scope

Interface: ``impersonate(authorizer, user, headers) -> User``;
``impersonated(name, groups, uid) -> User`` (the user a request turns into).
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

from typing import Any, Mapping

from minik8s.api import errors
from minik8s.apiserver.auth.authentication import ANONYMOUS, User
from minik8s.apiserver.auth.requestinfo import RequestInfo

SA_PREFIX = "system:serviceaccount:"


def _getall(headers: Mapping[str, str], name: str) -> list[str]:
    getall = getattr(headers, "getall", None)
    if getall is not None:
        return [v for v in getall(name, [])]
    value = headers.get(name)
    return [value] if value is not None else []


def impersonated(name: str, groups: tuple[str, ...] = (), uid: str = "") -> User:
    """The user a request impersonating ``name`` (and ``groups``) becomes, with the implied groups."""
    all_groups = list(groups)
    if name.startswith(SA_PREFIX) and not groups:
        namespace = name[len(SA_PREFIX):].split(":", 1)[0]
        all_groups += ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    if name == ANONYMOUS.name:
        if "system:unauthenticated" not in all_groups:
            all_groups.append("system:unauthenticated")
    elif not {"system:authenticated", "system:unauthenticated"} & set(all_groups):
        all_groups.append("system:authenticated")
    return User(name, uid, tuple(all_groups))


def _check(authorizer: Any, real: User, resource: str, name: str, namespace: str = "", group: str = "") -> None:
    authorizer.authorize(real, RequestInfo("", "impersonate", True, group, "v1", namespace, resource, "", name))


def impersonate(authorizer: Any, real: User, headers: Mapping[str, str]) -> User:
    name = headers.get("Impersonate-User")
    groups = tuple(_getall(headers, "Impersonate-Group"))
    uid = headers.get("Impersonate-Uid", "")
    if not name:
        if groups or uid:
            # Upstream's words, its Go rendering of the ObjectReferences it would have checked included.
            refs = [f"{{Group  {g}    }}" for g in groups] + ([f"{{UID  {uid}  authentication.k8s.io/v1  }}"]
                                                                if uid else [])
            raise errors.internal(f"requested [{' '.join(refs)}] without impersonating a user")
        return real
    if name.startswith(SA_PREFIX) and name.count(":") == 3:
        namespace, sa = name[len(SA_PREFIX):].split(":", 1)
        _check(authorizer, real, "serviceaccounts", sa, namespace)
    else:
        _check(authorizer, real, "users", name)
    for group in groups:
        _check(authorizer, real, "groups", group)
    if uid:
        _check(authorizer, real, "uids", uid, group="authentication.k8s.io")
    return impersonated(name, groups, uid)
