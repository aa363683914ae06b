"""``kubectl create role|clusterrole|rolebinding|clusterrolebinding``: RBAC objects from flags.

``create role NAME --verb=get,list --resource=pods,deployments.apps`` makes one
rule per API group (groups in sorted order), each with every verb and the
``--resource-name``s; ``create clusterrole`` also takes ``--non-resource-url``
(a rule of its own) or ``--aggregation-rule=key=value,...`` instead of rules.
``create rolebinding NAME --clusterrole=X|--role=X --user=U --group=G
--serviceaccount=NS:NAME`` lists users, then groups, then ServiceAccounts as
subjects. ``--dry-run=client -o yaml`` prints what kubectl prints.

Interface: ``register(sub, parent)``; ``role_from_flags(kind, name, args)``;
``binding_from_flags(kind, name, args)``.
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.kubectl import generators
from minik8s.kubectl.command import CommandError, Env

GROUP = "rbac.authorization.k8s.io"
VALID_VERBS = ("*", "get", "delete", "list", "create", "update", "patch", "watch", "proxy", "deletecollection",
               "use", "bind", "escalate", "impersonate")
URL_VERBS = ("*", "get", "post", "put", "delete", "patch", "head", "options")
KINDS = {"role": "Role", "clusterrole": "ClusterRole", "rolebinding": "RoleBinding",
         "clusterrolebinding": "ClusterRoleBinding"}


def _creator(kind: str) -> Callable[[Env, list[str]], None]:
    return lambda env, words: create(env, kind, words)


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    for name in KINDS:
        generators.register_create((name,), _creator(name))
    create_parser = sub.choices["create"]
    # --verb's values go to rbac_verbs: ``verb`` is the name of the kubectl command itself.
    create_parser.add_argument("--verb", dest="rbac_verbs", action="append", default=[])
    for flag in ("--resource", "--resource-name", "--non-resource-url", "--user", "--group", "--serviceaccount"):
        create_parser.add_argument(flag, action="append", default=[])
    create_parser.add_argument("--aggregation-rule", default="")
    create_parser.add_argument("--clusterrole", default="")
    create_parser.add_argument("--role", default="")


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _resource(text: str) -> tuple[str, str]:
    """``deployments.apps/scale`` -> ("apps", "deployments/scale"), short names expanded as kubectl does."""
    kind, _, sub = text.partition("/")
    if kind == "*":
        return "", "*" + (f"/{sub}" if sub else "")
    name, _, group = kind.partition(".")
    found = resources.lookup(kind)
    if found is None:
        if group:
            raise CommandError(f'the server doesn\'t have a resource type "{name}" in group "{group}"')
        raise CommandError(f'the server doesn\'t have a resource type "{name}"')
    return found.group, found.plural + (f"/{sub}" if sub else "")


def _rules(args: argparse.Namespace, cluster: bool) -> list[dict[str, Any]]:
    verbs = _split(args.rbac_verbs)
    resource_list = _split(args.resource)
    names = _split(args.resource_name)
    urls = _split(args.non_resource_url)
    if not verbs:
        raise CommandError("at least one verb must be specified")
    if not resource_list and not urls:
        raise CommandError("one of resource or nonResourceURL must be specified" if cluster else
                           "at least one resource must be specified")
    for verb in verbs:
        allowed = VALID_VERBS if resource_list else URL_VERBS
        if verb not in allowed and not (resource_list and urls):
            raise CommandError(f"invalid verb: '{verb}'" if resource_list else
                               f"invalid verb: '{verb}' for nonResourceURL")
    for url in urls:
        if not url.startswith("/") and url != "*":
            raise CommandError("nonResourceURL should start with /")
        if "*" in url[:-1]:
            raise CommandError("nonResourceURL only supports wildcard matches when '*' is at the end")
    by_group: dict[str, list[str]] = {}
    for text in resource_list:
        group, resource = _resource(text)
        if resource not in by_group.setdefault(group, []):
            by_group[group].append(resource)
    rules = []
    for group in sorted(by_group):
        rule: dict[str, Any] = {"apiGroups": [group], "resources": by_group[group], "verbs": list(verbs)}
        if names:
            rule["resourceNames"] = list(names)
        rules.append(rule)
    if urls:
        rules.append({"nonResourceURLs": urls, "verbs": list(verbs)})
    return rules


def role_from_flags(kind: str, name: str, args: argparse.Namespace) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": f"{GROUP}/v1", "kind": KINDS[kind],
                           "metadata": {"creationTimestamp": None, "name": name}}
    if kind == "clusterrole" and args.aggregation_rule:
        if args.rbac_verbs or args.resource or args.resource_name or args.non_resource_url:
            raise CommandError("aggregation rule must be specified without nonResourceURLs, resources, "
                               "verbs or resourceNames")
        labels = {}
        for pair in _split([args.aggregation_rule]):
            key, sep, value = pair.partition("=")
            if not sep:
                raise CommandError(f"invalid aggregation rule: {pair}")
            labels[key] = value
        obj["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": labels}]}
        obj["rules"] = None
        return obj
    if kind == "role" and args.non_resource_url:
        raise CommandError("unknown flag: --non-resource-url")
    obj["rules"] = _rules(args, kind == "clusterrole")
    return obj


def binding_from_flags(kind: str, name: str, args: argparse.Namespace) -> dict[str, Any]:
    if kind == "clusterrolebinding":
        if args.role:
            raise CommandError("unknown flag: --role")
        if not args.clusterrole:
            raise CommandError('required flag(s) "clusterrole" not set')
        ref_kind, ref_name = "ClusterRole", args.clusterrole
    else:
        if bool(args.role) == bool(args.clusterrole):
            raise CommandError("exactly one of clusterrole or role must be specified")
        ref_kind, ref_name = ("Role", args.role) if args.role else ("ClusterRole", args.clusterrole)
    subjects: list[dict[str, Any]] = []
    for user in args.user:
        subjects.append({"apiGroup": GROUP, "kind": "User", "name": user})
    for group in args.group:
        subjects.append({"apiGroup": GROUP, "kind": "Group", "name": group})
    for sa in args.serviceaccount:
        namespace, sep, sa_name = sa.partition(":")
        if not sep or not namespace or not sa_name:
            raise CommandError("serviceaccount must be <namespace>:<name>")
        subjects.append({"kind": "ServiceAccount", "name": sa_name, "namespace": namespace})
    obj: dict[str, Any] = {"apiVersion": f"{GROUP}/v1", "kind": KINDS[kind],
                           "metadata": {"creationTimestamp": None, "name": name},
                           "roleRef": {"apiGroup": GROUP, "kind": ref_kind, "name": ref_name}}
    if subjects:
        obj["subjects"] = subjects
    return obj


def create(env: Env, kind: str, words: list[str]) -> None:
    from minik8s.kubectl.write import _report

    a = env.args
    if len(words) != 1:
        raise CommandError(f"exactly one NAME is required, got {len(words)}\n"
                           f"See 'kubectl create {kind} -h' for help and examples")
    resource = resources.get(GROUP, "v1", KINDS[kind].lower() + "s")
    builder = binding_from_flags if kind.endswith("binding") else role_from_flags
    obj = builder(kind, words[0], a)
    if a.namespace and resource.namespaced:
        obj["metadata"]["namespace"] = a.namespace
    if a.dry_run in ("client", "true"):
        _report(env, resource, obj, "created")
        return
    try:
        created = env.client.create(resource, obj, env.namespace if resource.namespaced else None,
                                    dry_run=a.dry_run == "server")
    except StatusError as err:
        if not kind.endswith("binding"):
            raise
        # kubectl's create (cluster)rolebinding wraps the server's error: "error: failed to create rolebinding: ..."
        raise CommandError(f"failed to create {kind}: {err.message}") from None
    _report(env, resource, created, "created")
