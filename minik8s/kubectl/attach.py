"""``kubectl attach POD`` and what ``kubectl run -i [--rm]`` does after creating its pod.

kubectl waits for the pod to be running and ready, then streams what its container
writes until it stops. A pod that has already finished by then is read as logs
instead, as kubectl falls back to. ``run`` then waits for the pod to finish
(``--restart=Never`` or ``OnFailure``), deletes it with ``--rm`` (``pod "tmp" deleted``),
and exits with the container's exit code, saying ``pod default/tmp terminated (Error)``
when it is not 0.

minik8s's attach sends the container's output from its beginning (a real attach starts
at the moment it attaches, so a quick command's first lines may be missed there);
stdin is not sent.

Interface: ``register(sub, parent)``; ``attach(env, pod_name, stdin=False)``;
``finish(env, pod_name, restart, remove)`` (the end of ``run -i``).

Taught in chapter 5 (Pods).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.kubectl.command import CommandError, Env

PODS = resources.get("", "v1", "pods")
DONE = ("Succeeded", "Failed")
PROMPT = "If you don't see a command prompt, try pressing enter.\n"
POD_RUNNING_SECONDS = 60.0     # kubectl's --pod-running-timeout default (1m)


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    attach_ = sub.add_parser("attach", parents=[parent], add_help=False)
    attach_.add_argument("target")
    attach_.add_argument("-c", "--container", default=None)
    attach_.add_argument("-i", "--stdin", action="store_true")
    attach_.add_argument("-t", "--tty", action="store_true")
    attach_.add_argument("-q", "--quiet", action="store_true")
    attach_.set_defaults(handler=cmd_attach)


def cmd_attach(env: Env) -> None:
    name = env.args.target.split("/", 1)[-1]
    attach(env, name, stdin=env.args.stdin and not env.args.quiet)


def _ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def _wait(env: Env, name: str, done: Any, timeout: float | None) -> dict[str, Any]:
    """Poll the pod until ``done(pod)``; virtual time passes with an in-process cluster."""
    assert PODS is not None
    started_virtual, started_real = env.clock.now(), time.monotonic()
    while True:
        pod = env.client.get(PODS, name, env.namespace)
        if done(pod):
            return pod
        if timeout is not None and (env.clock.now() - started_virtual >= timeout
                                    or time.monotonic() - started_real >= timeout):
            raise CommandError("timed out waiting for the condition")
        env.settle()


def attach(env: Env, name: str, stdin: bool = False, timeout: float | None = POD_RUNNING_SECONDS) -> None:
    """Stream the container's stdout and stderr from when it is running and ready until it stops."""
    pod = _wait(env, name, lambda p: _ready(p) or (p.get("status") or {}).get("phase") in DONE, timeout)
    streaming = getattr(env.client, "attach", None)
    if (pod.get("status") or {}).get("phase") in DONE or streaming is None:
        if streaming is None:   # an in-process cluster: read the log once the container is done
            _wait(env, name, _stopped, None)
        env.out.write(env.client.logs(name, env.namespace))
        return
    if stdin:
        env.err.write(PROMPT)
        env.err.flush()

    def output(channel: int, data: bytes) -> None:
        stream = env.err if channel == 2 else env.out
        stream.write(data.decode(errors="replace"))
        stream.flush()

    streaming(name, env.namespace, output)


def _stopped(pod: dict[str, Any]) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return (pod.get("status") or {}).get("phase") in DONE or any(
        "terminated" in (s.get("state") or {}) for s in statuses)


def finish(env: Env, name: str, restart: str, remove: bool) -> None:
    """After ``run -i``: wait for the pod to finish (when it will), delete it with ``--rm``, and
    report its container's exit code as kubectl does."""
    assert PODS is not None
    pod = _wait(env, name, lambda p: (p.get("status") or {}).get("phase") in DONE, None) \
        if restart in ("Never", "OnFailure") else None
    if remove:
        try:
            env.client.delete(PODS, name, env.namespace)
        except StatusError as err:
            if err.code != 404:
                raise
        env.out.write(f'pod "{name}" deleted\n')
    if pod is None or pod["status"]["phase"] == "Succeeded":
        return
    statuses = pod["status"].get("containerStatuses") or [{}]
    terminated = (statuses[0].get("state") or {}).get("terminated") or {}
    code = int(terminated.get("exitCode") or 0)
    namespace = env.namespace
    if not code:
        raise CommandError(f"pod {namespace}/{name} failed with unknown exit code")
    text = f"pod {namespace}/{name} terminated ({terminated.get('reason', '')})\n{terminated.get('message', '')}"
    env.err.write(text if text.endswith("\n") else text + "\n")
    env.exit_code = code
