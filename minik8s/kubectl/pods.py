"""Commands that reach into running pods: ``kubectl logs`` and ``kubectl exec``.

Neither reads the store: the API server forwards them to the kubelet of the
pod's node, which asks its container runtime for the container's output or
runs the command inside the container.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from minik8s.api import resources, selectors
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.clock import parse_rfc3339
from minik8s.kubectl.command import CommandError, Env, UsageError, resolve
from minik8s.kubectl.wait import parse_timeout

PODS = resources.get("", "v1", "pods")


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    logs = sub.add_parser("logs", parents=[parent], add_help=False)
    logs.add_argument("target", nargs="?")
    logs.add_argument("container_arg", nargs="?")
    logs.add_argument("-l", "--selector", default=None)
    logs.add_argument("--prefix", action="store_true")
    logs.add_argument("--max-log-requests", dest="max_log_requests", type=int, default=5)
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
    if a.target is None and not a.selector:
        raise UsageError("expected POD or TYPE/NAME is a required argument for the logs command")
    if a.target is not None and a.selector:
        raise UsageError("only a selector (-l) or a POD name is allowed")
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
    # As kubectl: --tail is -1 (everything) for one pod, 10 lines per container with a selector.
    tail = a.tail if a.tail >= 0 or not a.selector else 10
    if a.selector:
        return _logs_of_selected(env, options, tail)
    name = pod_for(env, a.target)
    if a.follow and hasattr(env.client, "follow_logs"):
        head = _prefix(env, name, options["container"])
        for chunk in env.client.follow_logs(name, env.namespace, **options):  # type: ignore[attr-defined]
            env.out.write(_prefixed(chunk.decode(errors="replace"), head))
            env.out.flush()
        return
    text = env.client.logs(name, env.namespace, previous=a.previous, tail_lines=tail if tail >= 0 else None,
                           **options)
    env.out.write(_prefixed(text, _prefix(env, name, options["container"])))


def _prefix(env: Env, pod: str, container: str | None) -> str:
    """kubectl's ``--prefix`` for one pod's stream: ``[pod/NAME/CONTAINER] ``, or nothing without the flag."""
    if not env.args.prefix:
        return ""
    if container is None:
        container = _default_container(env.client.get(PODS, pod, env.namespace))
    return f"[pod/{pod}/{container}] "


def _prefixed(text: str, head: str) -> str:
    return "".join(head + line for line in text.splitlines(keepends=True)) if head else text


def _default_container(pod: dict[str, Any]) -> str:
    """The container kubectl reads when none is named: the one the ``kubectl.kubernetes.io/default-container``
    annotation names, else the first."""
    named = ((pod.get("metadata") or {}).get("annotations") or {}).get("kubectl.kubernetes.io/default-container")
    containers = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
    return named if named in containers else (containers[0] if containers else "")


def _logs_of_selected(env: Env, options: dict[str, Any], tail: int) -> None:
    """``kubectl logs -l SELECTOR``: the logs of every pod the selector matches, in name order, each
    pod's last ``tail`` lines; with ``-f`` the streams are followed side by side, at most
    ``--max-log-requests`` of them."""
    a = env.args
    assert PODS is not None
    pods = sorted(env.client.list(PODS, env.namespace, label_selector=a.selector)["items"],
                  key=lambda p: p["metadata"]["name"])
    if not pods:
        env.err.write(f"No resources found in {env.namespace} namespace.\n")
        return
    names = [p["metadata"]["name"] for p in pods]
    if a.follow and hasattr(env.client, "follow_logs"):
        if len(names) > a.max_log_requests:
            raise CommandError(f"you are attempting to follow {len(names)} log streams, but maximum allowed "
                               f"concurrency is {a.max_log_requests}, use --max-log-requests to increase the limit")
        lock = threading.Lock()

        def follow(name: str, head: str) -> None:
            for chunk in env.client.follow_logs(name, env.namespace, **options):  # type: ignore[attr-defined]
                with lock:
                    env.out.write(_prefixed(chunk.decode(errors="replace"), head))
                    env.out.flush()

        threads = [threading.Thread(target=follow, args=(name, _prefix(env, name, options["container"])),
                                    daemon=True) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return
    for name in names:
        try:
            text = env.client.logs(name, env.namespace, previous=a.previous, tail_lines=tail, **options)
        except StatusError as exc:
            env.err.write(f"error: {exc}\n")
            continue
        env.out.write(_prefixed(text, _prefix(env, name, options["container"])))


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
