"""``kubectl wait`` and ``kubectl run``.

``wait`` blocks until objects reach a condition (``--for=condition=Ready``),
a field has a value (``--for=jsonpath='{.status.phase}'=Running``) or they are
gone (``--for=delete``), and prints ``pod/nginx condition met`` for each. With
an in-process cluster on a virtual clock, waiting lets virtual time pass.

``run`` creates a single Pod from an image (``kubectl run nginx --image=nginx``),
labelled ``run=<name>`` as upstream does; with ``-i`` (``--attach``) it then shows the
container's output and, with ``--rm``, deletes the pod (:mod:`.attach`).
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.kubectl import attach as attaching, printing
from minik8s.kubectl.get import parse_targets
from minik8s.kubectl.command import CommandError, Env

PODS = resources.get("", "v1", "pods")
DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    wait = sub.add_parser("wait", parents=[parent], add_help=False)
    wait.add_argument("resources", nargs="*")
    wait.add_argument("--for", dest="condition", required=True)
    wait.add_argument("--timeout", default="30s")
    wait.add_argument("-l", "--selector", default=None)
    wait.add_argument("--all", action="store_true")
    wait.set_defaults(handler=cmd_wait)

    run = sub.add_parser("run", parents=[parent], add_help=False)
    run.add_argument("name")
    run.add_argument("--image", required=True)
    run.add_argument("--port", type=int, default=None)
    run.add_argument("-l", "--labels", default=None)
    run.add_argument("--env", action="append", default=[])
    run.add_argument("--restart", default="Always")
    run.add_argument("--command", action="store_true")
    run.add_argument("-o", "--output", default=None)
    run.add_argument("--dry-run", default=None, nargs="?", const="client")
    run.add_argument("-i", "--stdin", action="store_true")
    run.add_argument("-t", "--tty", action="store_true")
    run.add_argument("--attach", action="store_true")
    run.add_argument("--rm", action="store_true")
    run.add_argument("-q", "--quiet", action="store_true")
    run.add_argument("args", nargs="*")
    run.set_defaults(handler=cmd_run)


def parse_timeout(text: str, flag: str = "--timeout") -> float:
    """A Go duration as kubectl's duration flags take it (``30s``, ``5m``, ``1h30m``, or bare seconds)."""
    if text.isdigit():
        return float(text)
    match = DURATION.match(text)
    if not match or not any(match.groups()):
        raise CommandError(f'invalid argument "{text}" for "{flag}" flag: time: invalid duration "{text}"')
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def _condition_met(obj: dict[str, Any], condition: str) -> bool:
    if condition.startswith("condition="):
        wanted = condition[len("condition="):]
        name, _, value = wanted.partition("=")
        value = value or "True"
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond.get("type", "").lower() == name.lower():
                return str(cond.get("status")).lower() == value.lower()
        return False
    if condition.startswith("jsonpath="):
        expression = condition[len("jsonpath="):]
        path, _, value = expression.rpartition("=")
        if not path:
            raise CommandError("jsonpath wait format must be --for=jsonpath='{.status.readyReplicas}'=3")
        return printing.jsonpath(path.strip("'\""), obj).strip() == value.strip("'\"")
    raise CommandError(f"unrecognized condition: \"{condition}\"")


def cmd_wait(env: Env) -> None:
    a = env.args
    targets: list[tuple[Resource, str]] = []
    for resource, names in parse_targets(a.resources):
        ns = env.namespace if resource.namespaced else None
        if names:
            targets.extend((resource, name) for name in names)
        elif a.all or a.selector:
            targets.extend((resource, o["metadata"]["name"])
                           for o in env.client.list(resource, ns, label_selector=a.selector)["items"])
        else:
            raise CommandError("resource(s) were provided, but no name was specified")
    if not targets:
        if a.condition == "delete":   # as upstream: nothing to wait for is no error
            return
        raise CommandError("no matching resources found")
    timeout = parse_timeout(a.timeout)
    started_virtual, started_real = env.clock.now(), time.monotonic()
    pending = list(targets)
    first = True
    while True:
        still = []
        for resource, name in pending:
            ns = env.namespace if resource.namespaced else None
            try:
                obj = env.client.get(resource, name, ns)
            except StatusError as err:
                if err.code != 404:
                    raise
                if a.condition == "delete":   # gone before the first look: not waited for, as upstream
                    if not first:
                        env.out.write(f"{resource.kind_ref}/{name} condition met\n")
                    continue
                raise
            if a.condition != "delete" and _condition_met(obj, a.condition):
                env.out.write(f"{resource.kind_ref}/{name} condition met\n")
                continue
            still.append((resource, name))
        pending, first = still, False
        if not pending:
            return
        if env.clock.now() - started_virtual >= timeout or time.monotonic() - started_real >= timeout:
            resource, name = pending[0]
            raise CommandError(f"timed out waiting for the condition on {resource.plural}/{name}")
        env.settle()


def cmd_run(env: Env) -> None:
    a = env.args
    args = list(a.args) + list(a.after_dashes)
    labels = {"run": a.name}
    if a.labels:
        labels = dict(pair.split("=", 1) for pair in a.labels.split(","))
    container: dict[str, Any] = {"name": a.name, "image": a.image, "resources": {}}
    if args:
        container["command" if a.command else "args"] = args
    if a.port:
        container["ports"] = [{"containerPort": a.port}]
    if a.env:
        container["env"] = [{"name": k, "value": v} for k, _, v in (e.partition("=") for e in a.env)]
    attached = a.attach or a.stdin
    usage = "\nSee 'kubectl run -h' for help and examples"   # kubectl's usage errors end so
    if a.rm and not attached:
        raise CommandError("--rm should only be used for attached containers" + usage)
    if attached and a.dry_run:
        raise CommandError("--dry-run=[server|client] can't be used with attached containers options "
                           "(--attach, --stdin, or --tty)" + usage)
    if a.stdin:   # as kubectl sets them: the container's stdin stays open until the first attach ends
        container.update(stdin=True, stdinOnce=True, **({"tty": True} if a.tty else {}))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": a.name, "labels": labels},
           "spec": {"containers": [container], "restartPolicy": a.restart, "dnsPolicy": "ClusterFirst"},
           "status": {}}
    assert PODS is not None
    if a.dry_run in ("client", "true"):
        created = pod
    else:
        created = env.client.create(PODS, pod, env.namespace)
    if attached:
        attaching.attach(env, a.name, stdin=a.stdin and not a.quiet)
        attaching.finish(env, a.name, a.restart, a.rm)
        return
    if a.output == "yaml":
        env.out.write(printing.to_yaml(created))
    elif a.output == "json":
        env.out.write(printing.to_json(created) + "\n")
    else:
        suffix = " (dry run)" if a.dry_run in ("client", "true") else ""
        env.out.write(f"pod/{a.name} created{suffix}\n")
