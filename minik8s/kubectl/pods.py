"""Commands that reach into running pods: ``kubectl logs`` and ``kubectl exec``.

Neither reads the store: the API server forwards them to the kubelet of the
pod's node, which asks its container runtime for the container's output or
runs the command inside the container.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from minik8s.api import resources, selectors
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.clock import parse_rfc3339
from minik8s.kubectl.command import CommandError, Env, resolve
from minik8s.kubectl.wait import parse_timeout

PODS = resources.get("", "v1", "pods")


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    logs = sub.add_parser("logs", parents=[parent], add_help=False)
    logs.add_argument("target")
    logs.add_argument("container_arg", nargs="?")
    logs.add_argument("-c", "--container", default=None)
    logs.add_argument("-p", "--previous", action="store_true")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("--tail", type=int, default=-1)
    logs.add_argument("--timestamps", action="store_true")
    logs.add_argument("--since", default=None)
    logs.add_argument("--since-time", dest="since_time", default=None)
    logs.set_defaults(handler=cmd_logs)

    exec_ = sub.add_parser("exec", parents=[parent], add_help=False)
    exec_.add_argument("target")
    exec_.add_argument("-c", "--container", default=None)
    exec_.add_argument("-i", "--stdin", action="store_true")
    exec_.add_argument("-t", "--tty", action="store_true")
    exec_.add_argument("command", nargs="*")
    exec_.set_defaults(handler=cmd_exec)


def pod_for(env: Env, target: str, announce: bool = True) -> str:
    """``nginx``, ``pod/nginx`` or ``deploy/nginx`` (a pod of the workload, as kubectl picks one);
    ``announce`` says which one when there were several (logs and exec do, port-forward does not)."""
    if "/" not in target:
        return target
    kind, _, name = target.partition("/")
    resource: Resource = resolve(kind)
    if resource is PODS:
        return name
    owner = env.client.get(resource, name, env.namespace)
    selector = (owner.get("spec") or {}).get("selector")
    if not selector:
        raise CommandError(f"cannot attach to {resource.kind_ref}: selector for {resource.kind_ref} not implemented")
    text = selectors.format_label_selector(selector) if "matchLabels" in selector or "matchExpressions" in selector \
        else ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    assert PODS is not None
    pods = env.client.list(PODS, env.namespace, label_selector=text)["items"]
    if not pods:
        raise CommandError("timed out waiting for the condition")
    chosen = sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))[0]["metadata"]["name"]
    if len(pods) > 1 and announce:
        env.err.write(f"Found {len(pods)} pods, using pod/{chosen}\n")
    return chosen


def cmd_logs(env: Env) -> None:
    a = env.args
    if a.since is not None and a.since_time is not None:
        raise CommandError("at most one of `sinceTime` or `sinceSeconds` may be specified")  # kubectl's words
    # As kubectl: --since is a duration sent in whole seconds (at least 1), --since-time an RFC 3339 time.
    since_seconds = None if a.since is None else max(1, int(parse_timeout(a.since, "--since")))
    since_time = None
    if a.since_time is not None:
        try:
            since_time = parse_rfc3339(a.since_time)
        except ValueError:
            raise CommandError(f'parsing time "{a.since_time}" as RFC 3339: cannot parse') from None
    options = {"container": a.container or a.container_arg, "timestamps": a.timestamps,
               "since_seconds": since_seconds, "since_time": since_time}
    name = pod_for(env, a.target)
    if a.follow and hasattr(env.client, "follow_logs"):
        for chunk in env.client.follow_logs(name, env.namespace, **options):  # type: ignore[attr-defined]
            env.out.write(chunk.decode(errors="replace"))
            env.out.flush()
        return
    text = env.client.logs(name, env.namespace, previous=a.previous, tail_lines=a.tail if a.tail >= 0 else None,
                           **options)
    env.out.write(text)


def _exec_stdin(env: Env) -> str:
    """What ``exec -i`` sends: the input given to the command (a notebook's or a test's), or this
    process's piped stdin, read to its end (minik8s kubectl is not interactive)."""
    if env.stdin is not None:
        return env.stdin
    try:
        return "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    except (OSError, ValueError):   # no stdin to read (a closed one, or a test's captured one)
        return ""


def cmd_exec(env: Env) -> None:
    a = env.args
    command = list(a.command) + list(a.after_dashes)
    if not command:
        raise CommandError("you must specify at least one command for the container")
    name = pod_for(env, a.target)
    try:
        code, out, err = env.client.exec(name, command, env.namespace, container=a.container,
                                         stdin=_exec_stdin(env) if a.stdin else None)
    except StatusError as exc:
        if exc.code != 500:
            raise
        raise CommandError(exc.message) from None  # an error on the exec stream: kubectl prints "error: ..."
    env.out.write(out)
    env.err.write(err)
    if code != 0:
        env.err.write(f"command terminated with exit code {code}\n")
        env.exit_code = code
