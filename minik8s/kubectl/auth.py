"""``kubectl auth can-i``: may I (or, with ``--as``, may they) do this?

``kubectl auth can-i VERB TYPE[/NAME]`` (or ``VERB /non-resource-url``) sends a
SelfSubjectAccessReview and prints ``yes`` (exit 0) or ``no`` (exit 1, with
the server's reason after `` - `` when it gives one). ``--list`` sends a
SelfSubjectRulesReview for the namespace and prints every rule, broken down
per resource and compacted, in kubectl's four columns. Warnings (an unknown
verb or resource type, a cluster-scoped resource asked in a namespace) go to
stderr as kubectl prints them.

Interface: ``register(sub, parent)``; ``rule_lines(rules) -> list[str]``.
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

import argparse
from typing import Any

from minik8s.api import resources
from minik8s.kubectl.command import CommandError, Env
from minik8s.kubectl.printing import tabwrite

SSAR = resources.get("authorization.k8s.io", "v1", "selfsubjectaccessreviews")
SSRR = resources.get("authorization.k8s.io", "v1", "selfsubjectrulesreviews")
RESOURCE_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "use", "bind",
                  "impersonate", "*", "approve", "sign", "escalate", "attest"}
URL_VERBS = {"get", "put", "post", "head", "options", "delete", "patch", "*"}
# Resources the server serves but discovery does not list (impersonation targets): no warning for them.
UNDISCOVERABLE = {"users", "groups"}


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    auth = sub.add_parser("auth", parents=[parent], add_help=False)
    auth.add_argument("args", nargs="*")
    auth.add_argument("-A", "--all-namespaces", action="store_true")
    auth.add_argument("-q", "--quiet", action="store_true")
    auth.add_argument("--subresource", default="")
    auth.add_argument("--list", action="store_true")
    auth.add_argument("--no-headers", action="store_true")
    auth.set_defaults(handler=cmd_auth)


def _warn(env: Env, text: str) -> None:
    # kubectl's messages end in a newline and its warning printer adds one: a blank line follows.
    env.err.write(f"Warning: {text}\n\n")


def cmd_auth(env: Env) -> None:
    words = list(env.args.args)
    if not words or words[0] != "can-i":
        # `auth whoami` and others belong to other modules; they may register in AUTH_COMMANDS.
        handler = AUTH_COMMANDS.get(words[0]) if words else None
        if handler is None:
            raise CommandError(f'unknown command "{words[0] if words else ""}" for "kubectl auth"')
        handler(env, words[1:])
        return
    can_i(env, words[1:])


AUTH_COMMANDS: dict[str, Any] = {}


def _resource_for(env: Env, text: str) -> tuple[str, str, bool | None]:
    """(group, plural, namespaced or None when unknown) of what the user typed, as kubectl's RESTMapper."""
    if text == "*":
        return "", "*", True
    found = resources.lookup(text.lower())
    if found is None:
        name, _, group = text.lower().partition(".")
        if text.lower() not in UNDISCOVERABLE:
            _warn(env, f"the server doesn't have a resource type '{name}'" + (f" in group '{group}'" if group else ""))
        return "", text, None
    return found.group, found.plural, found.namespaced


def can_i(env: Env, words: list[str]) -> None:
    a = env.args
    namespace = "" if a.all_namespaces else env.namespace
    if a.list:
        if words:
            raise CommandError("list option must be specified with no arguments")
        if a.quiet or a.all_namespaces or a.subresource:
            raise CommandError("list option can't be specified with neither quiet, all-namespaces nor "
                               "subresource options")
        review = env.client.create(SSRR, {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                                          "spec": {"namespace": namespace}})
        status = review.get("status") or {}
        rules = [{"verbs": r.get("verbs") or [], "apiGroups": r.get("apiGroups") or [],
                  "resources": r.get("resources") or [], "resourceNames": r.get("resourceNames") or []}
                 for r in status.get("resourceRules") or []]
        rules += [{"verbs": r.get("verbs") or [], "nonResourceURLs": r.get("nonResourceURLs") or []}
                  for r in status.get("nonResourceRules") or []]
        lines = rule_lines(rules)
        if not a.no_headers:
            lines.insert(0, "Resources\tNon-Resource URLs\tResource Names\tVerbs")
        env.out.write(tabwrite(lines))
        return
    if len(words) != 2:
        raise CommandError("you must specify two arguments: verb resource or verb resource/resourceName.\n"
                           "See 'kubectl auth can-i -h' for help and examples.")
    verb, target = words
    if target.startswith("/"):
        if a.subresource:
            raise CommandError("--subresource can not be used with NonResourceURL")
        if verb not in URL_VERBS:
            _warn(env, f"verb '{verb}' is not a known verb")
        spec: dict[str, Any] = {"nonResourceAttributes": {"path": target, "verb": verb}}
    else:
        kind, _, name = target.partition("/")
        group, plural, namespaced = _resource_for(env, kind)
        if not a.all_namespaces and namespaced is False:
            _warn(env, f"resource '{plural}' is not namespace scoped" + (f" in group '{group}'" if group else ""))
        if not a.all_namespaces and namespaced is not None and verb not in RESOURCE_VERBS:
            _warn(env, f"verb '{verb}' is not a known verb")
        if a.no_headers:
            raise CommandError("--no-headers cannot be set without --list specified")
        attributes = {"namespace": namespace, "verb": verb, "group": group, "resource": plural,
                      "subresource": a.subresource, "name": name}
        spec = {"resourceAttributes": {k: v for k, v in attributes.items() if v}}
    review = env.client.create(SSAR, {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                                      "spec": spec})
    status = review.get("status") or {}
    if status.get("allowed"):
        if not a.quiet:
            env.out.write("yes\n")
        return
    if not a.quiet:
        line = "no"
        for extra in (status.get("reason"), status.get("evaluationError")):
            if extra:
                line += f" - {extra}"
        env.out.write(line + "\n")
    env.exit_code = 1


# --- --list: break rules down, compact them, sort them as kubectl does ----------------------------

def _breakdown(rule: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            if rule.get("resourceNames"):
                for name in rule["resourceNames"]:
                    out.append({"verbs": list(rule["verbs"]), "apiGroups": [group], "resources": [resource],
                                "resourceNames": [name]})
            else:
                out.append({"verbs": list(rule["verbs"]), "apiGroups": [group], "resources": [resource]})
    for url in rule.get("nonResourceURLs") or []:
        out.append({"verbs": list(rule["verbs"]), "nonResourceURLs": [url]})
    return out


def _compact(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    simple: dict[tuple[str, str, str | None], dict[str, Any]] = {}
    out: list[dict[str, Any]] = []
    for rule in rules:
        names = rule.get("resourceNames") or []
        if rule.get("resources") and not rule.get("nonResourceURLs") and len(names) <= 1:
            key = (rule["apiGroups"][0], rule["resources"][0], names[0] if names else None)
            if key in simple:
                simple[key]["verbs"].extend(rule["verbs"])
            else:
                simple[key] = {**rule, "verbs": list(rule["verbs"])}
        else:
            out.append(rule)
    return out + list(simple.values())


def _go_list(values: list[str] | None) -> str:
    return "[" + " ".join(values or []) + "]"


def _sort_key(rule: dict[str, Any]) -> str:
    # kubectl sorts by the generated PolicyRule String(), whose first field is Verbs.
    return (f"&PolicyRule{{Verbs:{_go_list(rule.get('verbs'))},APIGroups:{_go_list(rule.get('apiGroups'))},"
            f"Resources:{_go_list(rule.get('resources'))},ResourceNames:{_go_list(rule.get('resourceNames'))},"
            f"NonResourceURLs:{_go_list(rule.get('nonResourceURLs'))},}}")


def _combine(resources_: list[str], groups: list[str]) -> str:
    if not resources_:
        return ""
    resource, _, sub = resources_[0].partition("/")
    combined = resource + (f".{groups[0]}" if groups and groups[0] else "")
    return combined + (f"/{sub}" if sub else "")


def rule_lines(rules: list[dict[str, Any]]) -> list[str]:
    broken = [part for rule in rules for part in _breakdown(rule)]
    compacted = sorted(_compact(broken), key=_sort_key)
    return [f"{_combine(r.get('resources') or [], r.get('apiGroups') or [])}\t{_go_list(r.get('nonResourceURLs'))}\t"
            f"{_go_list(r.get('resourceNames'))}\t{_go_list(r.get('verbs'))}" for r in compacted]
