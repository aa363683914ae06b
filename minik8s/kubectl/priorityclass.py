"""``kubectl create priorityclass NAME --value=1000 [--global-default] [--description=...]
[--preemption-policy=Never]``.

Builds a PriorityClass from flags, as upstream's ``create priorityclass`` does: ``--value``
defaults to 0 and ``--preemption-policy`` to ``PreemptLowerPriority``; it prints
``priorityclass.scheduling.k8s.io/NAME created`` (``--dry-run=client -o yaml`` prints the
object instead). The API server's Priority admission plugin refuses a second global default.

Interface:
    priorityclass_from_flags(name, value, global_default, description, preemption_policy) -> dict   # pure
    create_priorityclass(env, words)   # called by ``kubectl create priorityclass|pc``

Taught in chapter 11 (Scheduling: priority and preemption).
"""

from __future__ import annotations

import argparse
from typing import Any

from minik8s.api import resources
from minik8s.kubectl import generators
from minik8s.kubectl.command import CommandError, Env, UsageError

PRIORITY_CLASSES = resources.get("scheduling.k8s.io", "v1", "priorityclasses")


def priorityclass_from_flags(name: str, value: int, global_default: bool, description: str,
                             preemption_policy: str) -> dict[str, Any]:
    # In the Go struct's field order, which ``-o json`` keeps.
    obj: dict[str, Any] = {"kind": "PriorityClass", "apiVersion": "scheduling.k8s.io/v1",
                           "metadata": {"name": name, "creationTimestamp": None}, "value": value}
    if global_default:   # omitempty, as the Go struct prints
        obj["globalDefault"] = True
    if description:
        obj["description"] = description
    obj["preemptionPolicy"] = preemption_policy
    return obj


def create_priorityclass(env: Env, words: list[str]) -> None:
    from minik8s.kubectl.write import _report

    a = env.args
    if len(words) != 1:
        raise CommandError(f"exactly one NAME is required, got {len(words)}\n"
                           "See 'kubectl create priorityclass -h' for help and examples")
    try:
        value = int(a.pc_value)
    except ValueError:
        raise UsageError(f'invalid argument "{a.pc_value}" for "--value" flag: strconv.ParseInt: parsing '
                           f'"{a.pc_value}": invalid syntax\nSee \'kubectl create priorityclass --help\' for usage.') \
            from None
    obj = priorityclass_from_flags(words[0], value, a.global_default, a.pc_description or "", a.preemption_policy)
    if a.dry_run in ("client", "true"):
        _report(env, PRIORITY_CLASSES, obj, "created")
        return
    created = env.client.create(PRIORITY_CLASSES, obj, None, dry_run=a.dry_run == "server")
    _report(env, PRIORITY_CLASSES, created, "created")


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    generators.register_create(("priorityclass", "pc"), create_priorityclass)
    create = sub.choices["create"]
    create.add_argument("--value", dest="pc_value", default="0")
    create.add_argument("--global-default", dest="global_default", action="store_true")
    create.add_argument("--description", dest="pc_description", default=None)
    create.add_argument("--preemption-policy", dest="preemption_policy", default="PreemptLowerPriority")
