"""``kubectl describe`` for Role, ClusterRole, RoleBinding and ClusterRoleBinding.

A role is shown as its *PolicyRule* table: every rule is first broken down into
one rule per API group, resource, verb (and resource name, or non-resource URL
and verb), the simple ones are merged back per (group, resource, name) with their
verbs in order, and the rows are sorted by the rule's Go ``String()`` form, as
upstream's describer does, so the rows read as on a real cluster::

    PolicyRule:
      Resources         Non-Resource URLs  Resource Names  Verbs
      ---------         -----------------  --------------  -----
      pods              []                 []              [get list watch]
      deployments.apps  []                 []              [get]

A binding is shown as its role reference and its subjects (Kind, Name, Namespace).
Neither kind prints a Namespace line or Events (upstream's describers don't).

Interface: ``describe_role(client, obj, now)``, ``describe_binding(client, obj, now)``.
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.kubectl.describe.writer import Obj, _annotations, _go_list, _labels, _meta, _Writer


def _breakdown(rule: Obj) -> list[Obj]:
    """One rule per (group, resource, verb[, name]) and per (url, verb), in upstream's loop order."""
    atoms: list[Obj] = []
    verbs = rule.get("verbs") or []
    names = rule.get("resourceNames") or []
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in verbs:
                for name in names or [None]:
                    atom: Obj = {"verbs": [verb], "apiGroups": [group], "resources": [resource]}
                    if name is not None:
                        atom["resourceNames"] = [name]
                    atoms.append(atom)
    for url in rule.get("nonResourceURLs") or []:
        for verb in verbs:
            atoms.append({"verbs": [verb], "nonResourceURLs": [url]})
    return atoms


def _compact(atoms: list[Obj]) -> list[Obj]:
    """Merge the verbs of rules on one (group, resource, name): upstream's CompactRules (no de-duplication)."""
    merged: dict[tuple[str, str, str | None], Obj] = {}
    out: list[Obj] = []
    for atom in atoms:
        if "resources" not in atom:
            out.append(atom)
            continue
        names = atom.get("resourceNames") or [None]
        key = (atom["apiGroups"][0], atom["resources"][0], names[0])
        if key in merged:
            merged[key]["verbs"].extend(atom["verbs"])
        else:
            merged[key] = {**atom, "verbs": list(atom["verbs"])}
    return out + list(merged.values())


def _go_string(rule: Obj) -> str:
    """The generated Go ``PolicyRule.String()``, which upstream sorts the rows by."""
    return ("&PolicyRule{" + "".join(f"{field}:{_go_list(rule.get(key))},"
                                      for field, key in (("Verbs", "verbs"), ("APIGroups", "apiGroups"),
                                                         ("Resources", "resources"),
                                                         ("ResourceNames", "resourceNames"),
                                                         ("NonResourceURLs", "nonResourceURLs"))) + "}")


def _resource_group(rule: Obj) -> str:
    """``deployments/scale`` in group ``apps`` is shown as ``deployments.apps/scale`` (CombineResourceGroup)."""
    resources, groups = rule.get("resources") or [], rule.get("apiGroups") or []
    if not resources:
        return ""
    resource, _, sub = resources[0].partition("/")
    combined = resource + (f".{groups[0]}" if groups and groups[0] else "")
    return combined + (f"/{sub}" if sub else "")


def policy_rows(rules: list[Obj]) -> list[Obj]:
    """The rules as the describer lists them: broken down, compacted, sorted."""
    atoms = [atom for rule in rules for atom in _breakdown(rule)]
    return sorted(_compact(atoms), key=_go_string)   # sorted() is stable, as Go's sort.Stable


def describe_role(client: Any, obj: Obj, now: datetime) -> str:
    w = _Writer()
    w.write(0, f"Name:\t{_meta(obj).get('name', '')}\n")
    _labels(w, "Labels", _meta(obj).get("labels"))
    _annotations(w, "Annotations", _meta(obj).get("annotations"))
    w.write(0, "PolicyRule:\n")
    w.write(1, "Resources\tNon-Resource URLs\tResource Names\tVerbs\n")
    w.write(1, "---------\t-----------------\t--------------\t-----\n")
    for rule in policy_rows(obj.get("rules") or []):
        w.write(1, f"{_resource_group(rule)}\t{_go_list(rule.get('nonResourceURLs'))}\t"
                   f"{_go_list(rule.get('resourceNames'))}\t{_go_list(rule.get('verbs'))}\n")
    return w.text()


def describe_binding(client: Any, obj: Obj, now: datetime) -> str:
    w = _Writer()
    w.write(0, f"Name:\t{_meta(obj).get('name', '')}\n")
    _labels(w, "Labels", _meta(obj).get("labels"))
    _annotations(w, "Annotations", _meta(obj).get("annotations"))
    ref = obj.get("roleRef") or {}
    w.write(0, "Role:\n")
    w.write(1, f"Kind:\t{ref.get('kind', '')}\n")
    w.write(1, f"Name:\t{ref.get('name', '')}\n")
    w.write(0, "Subjects:\n")
    w.write(1, "Kind\tName\tNamespace\n")
    w.write(1, "----\t----\t---------\n")
    for subject in obj.get("subjects") or []:
        w.write(1, f"{subject.get('kind', '')}\t{subject.get('name', '')}\t{subject.get('namespace', '')}\n")
    return w.text()
