"""``kubectl create quota NAME --hard=pods=10,requests.cpu=2 [--scopes=BestEffort]``.

Builds a ResourceQuota from flags, as upstream's ``create quota`` does: ``--hard`` is a
comma-separated list of ``resource=quantity``, ``--scopes`` a comma-separated list of
scope names (the API server checks both: a bad quantity or scope is its 422). Prints
``resourcequota/NAME created``; ``--dry-run=client -o yaml`` prints the object instead.

Interface:
    register(sub, parent)            # adds --hard and --scopes to ``create``
    quota_from_flags(name, hard, scopes) -> ResourceQuota   # pure
    create_quota(env, words)         # called by ``kubectl create quota|resourcequota``

Taught in chapter 16 (the classroom quota) and the chapter on namespaces and quotas.
"""

from __future__ import annotations

import argparse
from typing import Any

from minik8s.api import quantity, resources
from minik8s.api.errors import StatusError
from minik8s.kubectl import generators
from minik8s.kubectl.command import CommandError, Env
from minik8s.kubectl.printing import print_written

Obj = dict[str, Any]

RESOURCEQUOTAS = resources.get("", "v1", "resourcequotas")


def _hard(text: str) -> dict[str, str]:
    hard: dict[str, str] = {}
    for pair in (p for p in text.split(",") if p.strip()):
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"Invalid argument syntax {pair}, expected <resource>=<value>")
        if not quantity.is_valid(value.strip()):
            raise CommandError(quantity.QUANTITY_ERROR)
        hard[name.strip()] = value.strip()
    return hard


def quota_from_flags(name: str, hard: str, scopes: str) -> Obj:
    spec: Obj = {}
    if hard:
        spec["hard"] = _hard(hard)
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
    if scope_list:
        spec["scopes"] = scope_list
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"creationTimestamp": None, "name": name},
            "spec": spec, "status": {}}


def create_quota(env: Env, words: list[str]) -> None:
    a = env.args
    if len(words) != 1:
        raise CommandError(f"exactly one NAME is required, got {len(words)}\n"
                           "See 'kubectl create quota -h' for help and examples")
    obj = quota_from_flags(words[0], a.hard or "", a.scopes or "")
    if a.namespace:
        obj["metadata"]["namespace"] = a.namespace
    if a.dry_run in ("client", "true"):
        _print(env, obj)
        return
    try:
        created = env.client.create(RESOURCEQUOTAS, obj, env.namespace, dry_run=a.dry_run == "server")
    except StatusError as err:
        raise CommandError(f"failed to create quota: {err.message}") from None
    _print(env, created)


def _print(env: Env, obj: Obj) -> None:
    env.out.write(print_written(RESOURCEQUOTAS, obj, "created", env.args.output, env.args.dry_run))


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    generators.register_create(("quota", "resourcequota"), create_quota)
    create = sub.choices["create"]
    create.add_argument("--hard", default=None)
    create.add_argument("--scopes", default=None)
