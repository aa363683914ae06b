"""Validation of the RBAC kinds: Role, ClusterRole, RoleBinding, ClusterRoleBinding (upstream's
``pkg/apis/rbac/validation``).

A rule needs verbs; it is either about resources (then it names API groups and
resources) or about non-resource URLs (then it names neither, and only a
ClusterRole may hold it). A binding's ``roleRef`` names a Role or ClusterRole in
``rbac.authorization.k8s.io`` (a ClusterRoleBinding only a ClusterRole) and can
never change: to point a binding elsewhere, delete and re-create it. A subject is
a User or Group (API group ``rbac.authorization.k8s.io``) or a ServiceAccount (no
API group, a namespace).

Interface: ``_role``, ``_cluster_role``, ``_role_binding``, ``_cluster_role_binding``,
``_binding_update`` (the validators table in :mod:`minik8s.api.validation` uses them).
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

import json
from typing import Any

from minik8s.api.errors import invalid_value, not_supported, required
from minik8s.api.validation.fields import Errors, Obj, _invalid, _list, _map, _str
from minik8s.api.validation.names import is_dns1123_subdomain, is_path_segment

GROUP = "rbac.authorization.k8s.io"


def _rules(obj: Obj, namespaced: bool) -> Errors:
    errs: Errors = []
    for i, rule in enumerate(_list(obj, "rules")):
        path = f"rules[{i}]"
        if not isinstance(rule, dict):
            errs.append(invalid_value(path, rule, "must be an object"))
            continue
        if not rule.get("verbs"):
            errs.append(required(f"{path}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            if namespaced:
                errs.append(invalid_value(f"{path}.nonResourceURLs", urls,
                                          "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources"):
                errs.append(invalid_value(f"{path}.nonResourceURLs", urls,
                                          "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            errs.append(required(f"{path}.apiGroups", "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            errs.append(required(f"{path}.resources", "resource rules must supply at least one resource"))
    return errs


def _role(obj: Obj) -> Errors:
    return _rules(obj, namespaced=True)


def _cluster_role(obj: Obj) -> Errors:
    return _rules(obj, namespaced=False)


def _subjects(obj: Obj, namespaced: bool) -> Errors:
    errs: Errors = []
    for i, subject in enumerate(_list(obj, "subjects")):
        path = f"subjects[{i}]"
        if not isinstance(subject, dict):
            errs.append(invalid_value(path, subject, "must be an object"))
            continue
        name, kind, group = _str(subject, "name"), _str(subject, "kind"), _str(subject, "apiGroup")
        if not name:
            errs.append(required(f"{path}.name"))
        if kind == "ServiceAccount":
            if name:
                errs += [invalid_value(f"{path}.name", name, msg) for msg in is_dns1123_subdomain(name)]
            if group:
                errs.append(not_supported(f"{path}.apiGroup", group, [""]))
            if not namespaced and not _str(subject, "namespace"):   # a RoleBinding lends its own
                errs.append(required(f"{path}.namespace"))
        elif kind in ("User", "Group"):
            if group != GROUP:
                errs.append(not_supported(f"{path}.apiGroup", group, [GROUP]))
        else:
            errs.append(not_supported(f"{path}.kind", kind, ["ServiceAccount", "User", "Group"]))
    return errs


def _role_ref(obj: Obj, kinds: list[str]) -> Errors:
    ref = _map(obj, "roleRef")
    errs: Errors = []
    if _str(ref, "apiGroup") != GROUP:
        errs.append(not_supported("roleRef.apiGroup", _str(ref, "apiGroup"), [GROUP]))
    if _str(ref, "kind") not in kinds:
        errs.append(not_supported("roleRef.kind", _str(ref, "kind"), kinds))
    name = _str(ref, "name")
    if not name:
        errs.append(required("roleRef.name"))
    else:
        errs += [invalid_value("roleRef.name", name, msg) for msg in is_path_segment(name)]
    return errs


def _role_binding(obj: Obj) -> Errors:
    return _role_ref(obj, ["Role", "ClusterRole"]) + _subjects(obj, namespaced=True)


def _cluster_role_binding(obj: Obj) -> Errors:
    return _role_ref(obj, ["ClusterRole"]) + _subjects(obj, namespaced=False)


def _go_role_ref(ref: Any) -> str:
    # Upstream renders its internal RoleRef (no JSON tags) as JSON: Go field names.
    ref = ref if isinstance(ref, dict) else {}
    return json.dumps({"APIGroup": _str(ref, "apiGroup"), "Kind": _str(ref, "kind"), "Name": _str(ref, "name")},
                      separators=(",", ":"))


def _binding_update(obj: Obj, old: Obj) -> Errors:
    if _map(obj, "roleRef") != _map(old, "roleRef"):
        return [_invalid("roleRef", _go_role_ref(obj.get("roleRef")), "cannot change roleRef")]
    return []
