"""RBAC: who may do what, from Roles, ClusterRoles and their bindings.

A *rule* grants verbs on resources of API groups (optionally only the objects
named in ``resourceNames``), or verbs on non-resource URLs (``/healthz``,
``/api/*``). A Role holds rules in one namespace, a ClusterRole cluster-wide. A
RoleBinding grants a Role's (or a ClusterRole's) rules to subjects *in its
namespace*; a ClusterRoleBinding grants a ClusterRole's rules everywhere.
Subjects are users, groups and ServiceAccounts (a ServiceAccount is the user
``system:serviceaccount:<namespace>:<name>``). RBAC only adds: there are no
deny rules, and a binding to a role that does not exist grants nothing.

The authorizer walks the ClusterRoleBindings, then the RoleBindings of the
request's namespace, and allows at the first rule that covers the request; its
reason names the binding (``RBAC: allowed by ClusterRoleBinding "x" of
ClusterRole "y" to User "z"``). Members of ``system:masters`` are allowed
everything without a look (upstream's privileged group).

Decisions are cached per (user, request attributes). The cache is correct: a
store watch on the four RBAC resources empties it inside the very write that
changes any of them, and a decision computed while a change landed is not kept.

Interface: ``RBACAuthorizer(store)`` with ``authorize(user, info)`` (raises 403),
``decide(user, info) -> (allowed, reason)``, ``rules_for(user, namespace)``;
``UnionAuthorizer(*authorizers)``; ``covers(rules, rule)``; ``Escalation`` (the
admission check that refuses granting permissions one does not hold).
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol

from minik8s.api import errors
from minik8s.apiserver.admission.chain import CREATE, UPDATE, Attributes
from minik8s.apiserver.auth.authentication import User
from minik8s.apiserver.auth.authorization import forbidden
from minik8s.apiserver.auth.requestinfo import RequestInfo

GROUP = "rbac.authorization.k8s.io"
MASTERS = "system:masters"
KINDS = ("clusterroles", "clusterrolebindings", "roles", "rolebindings")
_CACHE_LIMIT = 20000


class Decider(Protocol):
    def decide(self, user: User, info: RequestInfo) -> tuple[bool | None, str]:
        """(True, reason) allow; (None, reason) no opinion; the union then asks the next."""


def _qualified(plural: str) -> str:
    return f"{plural}.{GROUP}"


# --- matching ------------------------------------------------------------------------

def _has(values: Iterable[str] | None, wanted: str) -> bool:
    values = values or ()
    return "*" in values or wanted in values


def _resource_matches(resources: Iterable[str] | None, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for r in resources or ():
        if r == "*" or r == combined:
            return True
        if subresource and (r == f"{resource}/*" or r == f"*/{subresource}"):
            return True
    return False


def _url_matches(urls: Iterable[str] | None, path: str) -> bool:
    for url in urls or ():
        if url == "*" or url == path or (url.endswith("*") and path.startswith(url[:-1])):
            return True
    return False


def rule_allows(rule: dict[str, Any], info: RequestInfo) -> bool:
    """Does one PolicyRule cover the request?"""
    if not _has(rule.get("verbs"), info.verb):
        return False
    if not info.is_resource:
        return _url_matches(rule.get("nonResourceURLs"), info.path)
    if not _has(rule.get("apiGroups"), info.api_group):
        return False
    if not _resource_matches(rule.get("resources"), info.resource, info.subresource):
        return False
    names = rule.get("resourceNames") or []
    return not names or info.name in names


def _subject_matches(subject: dict[str, Any], user: User, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name", "")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{namespace}:{name}"
    return False


def describe_subject(subject: dict[str, Any], binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return f'ServiceAccount "{subject.get("name", "")}/{namespace}"'
    return f'{subject.get("kind")} "{subject.get("name", "")}"'


def describe_binding(binding: dict[str, Any], subject: dict[str, Any]) -> str:
    meta, ref = binding["metadata"], binding.get("roleRef") or {}
    namespace = meta.get("namespace") or ""
    if namespace:
        return (f'RoleBinding "{meta["name"]}/{namespace}" of {ref.get("kind")} "{ref.get("name")}" to '
                f'{describe_subject(subject, namespace)}')
    return (f'ClusterRoleBinding "{meta["name"]}" of {ref.get("kind")} "{ref.get("name")}" to '
            f'{describe_subject(subject, "")}')


# --- the index of RBAC objects, rebuilt when they change ------------------------------

@dataclass
class _Index:
    cluster_roles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    roles: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    cluster_bindings: list[dict[str, Any]] = field(default_factory=list)
    bindings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def role_rules(self, ref: dict[str, Any], namespace: str) -> list[dict[str, Any]] | None:
        """The rules a roleRef points at, or None when that role does not exist."""
        if ref.get("kind") == "ClusterRole":
            return self.cluster_roles.get(ref.get("name", ""))
        if ref.get("kind") == "Role" and namespace:
            return self.roles.get((namespace, ref.get("name", "")))
        return None


def _build_index(store: Any) -> _Index:
    index = _Index()
    for obj in store.list(_qualified("clusterroles"))[0]:
        index.cluster_roles[obj["metadata"]["name"]] = obj.get("rules") or []
    for obj in store.list(_qualified("roles"))[0]:
        index.roles[(obj["metadata"]["namespace"], obj["metadata"]["name"])] = obj.get("rules") or []
    index.cluster_bindings = sorted(store.list(_qualified("clusterrolebindings"))[0],
                                    key=lambda b: b["metadata"]["name"])
    for obj in sorted(store.list(_qualified("rolebindings"))[0], key=lambda b: b["metadata"]["name"]):
        index.bindings.setdefault(obj["metadata"]["namespace"], []).append(obj)
    return index


class RBACAuthorizer:
    """Decides from the RBAC objects in ``store``; see the module docstring."""

    def __init__(self, store: Any):
        self.store = store
        self._lock = threading.Lock()
        self._generation = 0
        self._index: _Index | None = None
        self._cache: dict[tuple[Any, ...], tuple[bool, str]] = {}
        self.cache_hits = 0
        with store._lock:   # subscribe at the current revision, so no change falls in between
            for kind in KINDS:
                store.watch(_qualified(kind), None, store.revision, self._changed)

    def _changed(self, _event: Any) -> None:
        # Runs inside the store write: when the write returns, no stale decision is left.
        with self._lock:
            self._generation += 1
            self._index = None
            self._cache.clear()

    def _snapshot(self) -> tuple[_Index, int]:
        with self._lock:
            index, generation = self._index, self._generation
        if index is None:
            index = _build_index(self.store)
            with self._lock:
                if generation == self._generation:
                    self._index = index
        return index, generation

    # -- deciding --

    def decide(self, user: User, info: RequestInfo) -> tuple[bool, str]:
        if MASTERS in user.groups:
            return True, ""
        key = (user.name, user.groups, info.verb, info.is_resource, info.api_group, info.namespace,
               info.resource, info.subresource, info.name, "" if info.is_resource else info.path)
        cached = self._cache.get(key)
        if cached is not None:
            self.cache_hits += 1
            return cached
        index, generation = self._snapshot()
        decision = self._evaluate(index, user, info)
        with self._lock:
            if generation == self._generation:   # no RBAC change while deciding: safe to keep
                if len(self._cache) >= _CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = decision
        return decision

    def _evaluate(self, index: _Index, user: User, info: RequestInfo) -> tuple[bool, str]:
        for binding, subject, rules in self._applying(index, user, info.namespace):
            if any(rule_allows(rule, info) for rule in rules):
                return True, f"RBAC: allowed by {describe_binding(binding, subject)}"
        return False, ""

    def _applying(self, index: _Index, user: User, namespace: str
                  ) -> Iterable[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]]:
        """(binding, the subject that matched, the role's rules) for each binding that applies."""
        scopes = [("", index.cluster_bindings)]
        if namespace:
            scopes.append((namespace, index.bindings.get(namespace, [])))
        for scope, bindings in scopes:
            for binding in bindings:
                subject = next((s for s in binding.get("subjects") or [] if _subject_matches(s, user, scope)), None)
                if subject is None:
                    continue
                rules = index.role_rules(binding.get("roleRef") or {}, scope)
                if rules is not None:
                    yield binding, subject, rules

    def authorize(self, user: User, info: RequestInfo) -> None:
        allowed, _ = self.decide(user, info)
        if not allowed:
            raise forbidden(user, info)

    def rules_for(self, user: User, namespace: str) -> list[dict[str, Any]]:
        """Every rule ``user`` holds in ``namespace`` (cluster-wide ones included), as listed by
        SelfSubjectRulesReview and ``kubectl auth can-i --list``. No shortcut for system:masters here:
        as upstream, its rules are what its bindings give (cluster-admin's ``*``, and the rest)."""
        index, _ = self._snapshot()
        rules: list[dict[str, Any]] = []
        for _binding, _subject, role_rules in self._applying(index, user, namespace):
            rules.extend(role_rules)   # as upstream: one entry per binding, duplicates and all
        return rules

    def role_rules(self, ref: dict[str, Any], namespace: str) -> list[dict[str, Any]] | None:
        index, _ = self._snapshot()
        return index.role_rules(ref, namespace)


class UnionAuthorizer:
    """Ask each authorizer in turn (Node, then RBAC): the first that allows decides; else 403."""

    def __init__(self, *deciders: Any):
        self.deciders = deciders

    def decide(self, user: User, info: RequestInfo) -> tuple[bool, str]:
        for decider in self.deciders:
            allowed, reason = decider.decide(user, info)
            if allowed:
                return True, reason
        return False, ""

    def authorize(self, user: User, info: RequestInfo) -> None:
        if not self.decide(user, info)[0]:
            raise forbidden(user, info)

    def rules_for(self, user: User, namespace: str) -> list[dict[str, Any]]:
        rbac = next(d for d in self.deciders if isinstance(d, RBACAuthorizer))
        return rbac.rules_for(user, namespace)


# --- escalation prevention -------------------------------------------------------------

def _breakdown(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """One rule per (group, resource, verb[, name]) or (url, verb), as upstream's BreakdownRule."""
    out: list[dict[str, Any]] = []
    for verb in rule.get("verbs") or []:
        for group in rule.get("apiGroups") or []:
            for resource in rule.get("resources") or []:
                names = rule.get("resourceNames") or []
                for name in names or [None]:
                    atom: dict[str, Any] = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                    if name is not None:
                        atom["resourceNames"] = [name]
                    out.append(atom)
        for url in rule.get("nonResourceURLs") or []:
            out.append({"nonResourceURLs": [url], "verbs": [verb]})
    return out


def _atom_covered(holder: dict[str, Any], atom: dict[str, Any]) -> bool:
    if not _has(holder.get("verbs"), atom["verbs"][0]):
        return False
    if "nonResourceURLs" in atom:
        url = atom["nonResourceURLs"][0]
        return any(u == "*" or u == url or (u.endswith("*") and url.startswith(u[:-1]))
                   for u in holder.get("nonResourceURLs") or [])
    if not _has(holder.get("apiGroups"), atom["apiGroups"][0]):
        return False
    resource = atom["resources"][0]
    held = holder.get("resources") or []
    if not ("*" in held or resource in held
            or ("/" in resource and f'{resource.split("/", 1)[0]}/*' in held)):
        return False
    names = holder.get("resourceNames") or []
    return not names or bool(atom.get("resourceNames")) and atom["resourceNames"][0] in names


def covers(held: list[dict[str, Any]], rule: dict[str, Any]) -> list[dict[str, Any]]:
    """The parts of ``rule`` that no rule in ``held`` covers (empty: fully covered)."""
    return [atom for atom in _breakdown(rule) if not any(_atom_covered(h, atom) for h in held)]


def _go_quoted(values: list[str]) -> str:
    return "[" + " ".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "]"


def compact_string(rule: dict[str, Any]) -> str:
    """Upstream's PolicyRule.CompactString: the non-empty fields, Go-quoted."""
    parts = []
    for field_name, key in (("APIGroups", "apiGroups"), ("Resources", "resources"),
                            ("ResourceNames", "resourceNames"), ("NonResourceURLs", "nonResourceURLs"),
                            ("Verbs", "verbs")):
        if rule.get(key):
            parts.append(f"{field_name}:{_go_quoted(rule[key])}")
    return "{" + ", ".join(parts) + "}"


def _compact(missing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge the verbs of simple rules on the same group and resource (upstream's CompactRules)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for atom in missing:
        if "resources" in atom and not atom.get("resourceNames"):
            key = (atom["apiGroups"][0], atom["resources"][0])
            if key in merged:
                if atom["verbs"][0] not in merged[key]["verbs"]:
                    merged[key]["verbs"].append(atom["verbs"][0])
                continue
            merged[key] = {**atom, "verbs": list(atom["verbs"])}
            out.append(merged[key])
        else:
            out.append(atom)
    return sorted(out, key=compact_string)


class Escalation:
    """Admission: a user may only grant (in a role, or by binding one) what they already hold,
    unless RBAC lets them ``escalate`` roles / ``bind`` the referenced role. ``None`` user =
    the cluster itself, trusted. Upstream does this in the RBAC REST storage."""

    def __init__(self, authorizer: Any, rbac: RBACAuthorizer):
        self.authorizer = authorizer
        self.rbac = rbac

    def validate(self, attrs: Attributes) -> None:
        if attrs.operation not in (CREATE, UPDATE) or attrs.user is None or attrs.obj is None:
            return
        if attrs.resource.group != GROUP or MASTERS in attrs.user.groups:
            return
        namespace = attrs.namespace or ""
        if attrs.resource.plural in ("roles", "clusterroles"):
            if self._may(attrs.user, "escalate", attrs.resource.plural, namespace, attrs.name):
                return
            self._confirm(attrs, attrs.obj.get("rules") or [])
        elif attrs.resource.plural in ("rolebindings", "clusterrolebindings"):
            ref = attrs.obj.get("roleRef") or {}
            plural = "roles" if ref.get("kind") == "Role" else "clusterroles"
            if self._may(attrs.user, "bind", plural, namespace, ref.get("name", "")):
                return
            rules = self.rbac.role_rules(ref, namespace)
            if rules is None:   # upstream: the role lookup's NotFound, wrapped in a 403 on the binding
                missing = errors.not_found(GROUP, plural, ref.get("name", ""))
                raise errors.forbidden(GROUP, attrs.resource.plural, attrs.name, str(missing))
            self._confirm(attrs, rules)

    def _may(self, user: User, verb: str, plural: str, namespace: str, name: str) -> bool:
        info = RequestInfo("", verb, True, GROUP, "v1", namespace, plural, "", name)
        return bool(self.authorizer.decide(user, info)[0])

    def _confirm(self, attrs: Attributes, rules: list[dict[str, Any]]) -> None:
        assert attrs.user is not None
        held = self.rbac.rules_for(attrs.user, attrs.namespace or "")
        missing = [atom for rule in rules for atom in covers(held, rule)]
        if not missing:
            return
        described = "\n".join(compact_string(r) for r in _compact(missing))
        why = (f"user {_go_quoted([attrs.user.name])[1:-1]} (groups={_go_quoted(list(attrs.user.groups))}) "
               f"is attempting to grant RBAC permissions not currently held:\n{described}")
        raise errors.forbidden(GROUP, attrs.resource.plural, attrs.name, why)


