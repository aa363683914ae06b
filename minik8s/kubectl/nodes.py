"""Commands for nodes and for changing objects by hand: cordon, uncordon, drain, taint, patch.

``cordon`` marks a node unschedulable (the scheduler's NodeUnschedulable plugin
then skips it); ``drain`` cordons it and evicts its pods so their controllers
recreate them elsewhere; ``taint`` adds or removes taints; ``patch`` sends a
strategic merge, JSON merge or JSON patch to any object.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from minik8s.api import parsing, resources
from minik8s.api.errors import StatusError
from minik8s.kubectl.get import parse_targets
from minik8s.kubectl.command import CommandError, Env
from minik8s.kubectl.wait import parse_timeout

NODES = resources.get("", "v1", "nodes")
PODS = resources.get("", "v1", "pods")
assert NODES is not None and PODS is not None


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    for verb in ("cordon", "uncordon"):
        p = sub.add_parser(verb, parents=[parent], add_help=False)
        p.add_argument("nodes", nargs="*")
        p.add_argument("-l", "--selector", default=None)
        p.set_defaults(handler=cmd_cordon if verb == "cordon" else cmd_uncordon)

    p = sub.add_parser("drain", parents=[parent], add_help=False)
    p.add_argument("nodes", nargs="*")
    p.add_argument("--ignore-daemonsets", action="store_true")
    p.add_argument("--delete-emptydir-data", action="store_true")
    p.add_argument("--force", action="store_true")
    p.add_argument("--grace-period", type=int, default=-1)
    p.add_argument("--timeout", default="0s")
    p.add_argument("--disable-eviction", action="store_true")
    p.set_defaults(handler=cmd_drain)

    p = sub.add_parser("taint", parents=[parent], add_help=False)
    p.add_argument("args", nargs="*")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(handler=cmd_taint)

    p = sub.add_parser("patch", parents=[parent], add_help=False)
    p.add_argument("resources", nargs="*")
    p.add_argument("-p", "--patch", required=True)
    p.add_argument("--type", default="strategic", choices=("strategic", "merge", "json"))
    p.add_argument("--subresource", default=None)
    p.set_defaults(handler=cmd_patch)


def _node_names(env: Env) -> list[str]:
    a = env.args
    if a.nodes:
        return [n.split("/", 1)[-1] for n in a.nodes]
    if getattr(a, "selector", None):
        return [n["metadata"]["name"] for n in env.client.list(NODES, label_selector=a.selector)["items"]]
    raise CommandError("USAGE: cordon NODE [flags]")


def _set_unschedulable(env: Env, name: str, value: bool) -> None:
    node = env.client.get(NODES, name)
    verb = "cordoned" if value else "uncordoned"
    if bool((node.get("spec") or {}).get("unschedulable")) == value:
        env.out.write(f"node/{name} already {verb}\n")
        return
    env.client.patch(NODES, name, {"spec": {"unschedulable": True if value else None}})
    env.out.write(f"node/{name} {verb}\n")


def cmd_cordon(env: Env) -> None:
    for name in _node_names(env):
        _set_unschedulable(env, name, True)


def cmd_uncordon(env: Env) -> None:
    for name in _node_names(env):
        _set_unschedulable(env, name, False)


def _controller_kind(pod: dict[str, Any]) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind"))
    return None


def cmd_drain(env: Env) -> None:
    """Cordon, then evict every pod on the node, with upstream's safety checks."""
    a = env.args
    for name in _node_names(env):
        _set_unschedulable(env, name, True)
        pods = env.client.list(PODS, None, field_selector=f"spec.nodeName={name}")["items"]
        pods = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                and not p["metadata"].get("deletionTimestamp")]
        problems: list[str] = []
        daemon = [p for p in pods if _controller_kind(p) == "DaemonSet"]
        bare = [p for p in pods if _controller_kind(p) is None]
        local = [p for p in pods if any("emptyDir" in v for v in (p.get("spec") or {}).get("volumes") or [])]
        ref = lambda p: f"{p['metadata']['namespace']}/{p['metadata']['name']}"  # noqa: E731
        if daemon and not a.ignore_daemonsets:
            problems.append("cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): "
                            + ", ".join(ref(p) for p in daemon))
        if bare and not a.force:
            problems.append("cannot delete Pods that declare no controller (use --force to override): "
                            + ", ".join(ref(p) for p in bare))
        if local and not a.delete_emptydir_data:
            problems.append("cannot delete Pods with local storage (use --delete-emptydir-data to override): "
                            + ", ".join(ref(p) for p in local))
        if problems:
            _drain_failed(env, name, ["cannot delete " + p for p in problems])
            continue
        warnings = [f"{what}: " + ", ".join(ref(p) for p in group)
                    for what, group in (("ignoring DaemonSet-managed Pods", daemon),
                                        ("deleting Pods that declare no controller", bare),
                                        ("deleting Pods with local storage", local)) if group]
        if warnings:
            env.err.write("Warning: " + "; ".join(warnings) + "\n")
        errors = _evict_all(env, [p for p in pods if p not in daemon])
        if errors:
            left = env.client.list(PODS, None, field_selector=f"spec.nodeName={name}")["items"]
            pending = [p for p in left if _controller_kind(p) != "DaemonSet"
                       and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
            env.err.write(f'There are pending pods in node "{name}" when an error occurred: {_aggregate(errors)}\n'
                          + "".join(f"pod/{p['metadata']['name']}\n" for p in pending))
            _drain_failed(env, name, errors)
            continue
        env.out.write(f"node/{name} drained\n")


def _aggregate(errors: list[str]) -> str:
    """An aggregate error's text, as Go's ``utilerrors.Aggregate`` prints it."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def _drain_failed(env: Env, name: str, errors: list[str]) -> None:
    """Upstream's end of a failed drain: the node is left pending and the errors repeated one a line
    (kubectl prints an aggregate error without the ``error:`` prefix); the exit code is 1."""
    env.err.write(f'error: unable to drain node "{name}" due to error: {_aggregate(errors)}, continuing command...\n'
                  f"There are pending nodes to be drained:\n {name}\n" + "".join(e + "\n" for e in errors))
    env.failed = True


def _go_seconds(seconds: float) -> str:
    """A whole number of seconds as Go's ``time.Duration`` prints it: ``6s``, ``1m30s``, ``1h0m0s``."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h{minutes}m" if hours else f"{minutes}m" if minutes else "") + f"{secs}s"


def _evict_all(env: Env, pods: list[dict[str, Any]]) -> list[str]:
    """Upstream ``evictPods``: evict each pod through the Eviction API, retrying every 5 s while a
    PodDisruptionBudget refuses (429), until ``--timeout`` (0: forever); then wait for each evicted pod
    to be gone (or replaced under the same name) and print ``pod/<name> evicted``. Upstream does this
    concurrently, one goroutine a pod; here in rounds, which prints the same lines. Returns the errors."""
    a = env.args
    timeout = parse_timeout(a.timeout)
    started_virtual, started_real = env.clock.now(), time.monotonic()
    errors: list[str] = []
    waiting: list[dict[str, Any]] = []
    pending = list(pods)

    def expired() -> bool:
        return timeout > 0 and (env.clock.now() - started_virtual >= timeout
                                or time.monotonic() - started_real >= timeout)

    if a.disable_eviction:   # upstream deletePods: plain deletes, no budget asked, no "evicting" line
        for pod in pending:
            meta = pod["metadata"]
            try:
                env.client.delete(PODS, meta["name"], meta["namespace"],
                                  grace_period_seconds=a.grace_period if a.grace_period >= 0 else None)
                waiting.append(pod)
            except StatusError as err:
                if err.code != 404:
                    errors.append(f'error when deleting pods/"{meta["name"]}" -n "{meta["namespace"]}": {err.message}')
        pending = []
    done = "deleted" if a.disable_eviction else "evicted"
    while pending:
        retry = []
        for pod in pending:
            meta = pod["metadata"]
            where = f'pods/"{meta["name"]}" -n "{meta["namespace"]}"'
            env.out.write(f"evicting pod {meta['namespace']}/{meta['name']}\n")
            if expired():
                errors.append(f"error when evicting {where}: global timeout reached: {_go_seconds(timeout)}")
                continue
            eviction: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction",
                                        "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
            if a.grace_period >= 0:
                eviction["deleteOptions"] = {"gracePeriodSeconds": a.grace_period}
            try:
                env.client.create(PODS, eviction, meta["namespace"], subresource="eviction")
                waiting.append(pod)
            except StatusError as err:
                if err.code == 404:
                    continue
                if err.code != 429:
                    errors.append(f"error when evicting {where}: {err.message}")
                    continue
                env.err.write(f"error when evicting {where} (will retry after 5s): {err.message}\n")
                retry.append(pod)
        pending = retry
        if pending:
            until = env.clock.now() + 5
            real_until = time.monotonic() + 5
            while env.clock.now() < until and time.monotonic() < real_until:
                env.settle()
    while waiting:
        still = []
        for pod in waiting:
            meta = pod["metadata"]
            try:
                now = env.client.get(PODS, meta["name"], meta["namespace"])
            except StatusError as err:
                if err.code != 404:
                    raise
                now = None
            if now is None or now["metadata"].get("uid") != meta.get("uid"):
                env.out.write(f"pod/{meta['name']} {done}\n")
            else:
                still.append(pod)
        waiting = still
        if waiting:
            if expired():
                errors += [f'error when waiting for pod "{p["metadata"]["name"]}" in namespace '
                           f'"{p["metadata"]["namespace"]}" to terminate: global timeout reached: '
                           f"{_go_seconds(timeout)}" for p in waiting]
                break
            env.settle()
    return errors


def _parse_taint(text: str) -> tuple[str, str | None, str | None, bool]:
    """``key=value:Effect``, ``key:Effect``, ``key=value:Effect-``, ``key-`` → (key, value, effect, remove)."""
    remove = text.endswith("-")
    body = text[:-1] if remove else text
    key_value, _, effect = body.partition(":")
    key, sep, value = key_value.partition("=")
    if effect and effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        raise CommandError(f"invalid taint effect: {effect}, unsupported taint effect")
    if not remove and not effect:
        raise CommandError(f'invalid taint spec: {text}, unknown taint spec "{text}"')
    return key, (value if sep else None), (effect or None), remove


def cmd_taint(env: Env) -> None:
    a = env.args
    words = a.args
    if len(words) < 3:
        raise CommandError("at least one taint update is required")
    kind, name, specs = words[0], words[1], words[2:]
    if kind.split("/")[0] not in ("nodes", "node", "no"):
        raise CommandError(f'invalid resource type {kind}, only node types are supported')
    try:
        parsed = [_parse_taint(spec) for spec in specs]
    except CommandError as err:
        raise CommandError(f"{err}\nSee 'kubectl taint -h' for help and examples") from None
    node = env.client.get(NODES, name)
    old = list((node.get("spec") or {}).get("taints") or [])
    to_add = []
    for key, value, effect, remove in parsed:
        if not remove:
            taint = {"key": key, "effect": effect}
            if value:
                taint["value"] = value
            to_add.append(taint)
    if not a.overwrite:
        for taint in to_add:
            if any(t.get("key") == taint["key"] and t.get("effect") == taint["effect"] for t in old):
                raise CommandError(f"node {name} already has {taint['key']} taint(s) with same effect(s) "
                                   "and --overwrite is false")
    # Upstream's reorganizeTaints: the taints to add first, then the old ones they do not replace.
    taints = list(to_add) + [t for t in old if not any(n["key"] == t.get("key") and n["effect"] == t.get("effect")
                                                       for n in to_add)]
    added = len(taints) != len(old)
    deleted, missing = False, []
    for spec, (key, _, effect, remove) in zip(specs, parsed):
        if not remove:
            continue
        kept = [t for t in taints if not (t.get("key") == key and (effect is None or t.get("effect") == effect))]
        deleted = len(kept) != len(taints)
        if not deleted:
            missing.append(f'taint "{spec[:-1]}" not found')
        taints = kept
    if missing:
        raise CommandError(missing[0] if len(missing) == 1 else "[" + ", ".join(missing) + "]")
    env.client.patch(NODES, name, {"spec": {"taints": taints or None}}, patch_type="merge")
    verb = "modified" if (added and deleted) or a.overwrite else "tainted" if added else "untainted"
    env.out.write(f"node/{name} {verb}\n")


def cmd_patch(env: Env) -> None:
    a = env.args
    try:
        patch = parsing.load_json(a.patch).value
    except parsing.ParseError:
        try:
            patch = parsing.safe_load(a.patch)
        except parsing.ParseError as exc:
            raise CommandError(f"unable to parse \"{a.patch}\": {exc}") from None
    for resource, names in parse_targets(a.resources):
        if not names:
            raise CommandError("resource(s) were provided, but no name was specified")
        ns = env.namespace if resource.namespaced else None
        for name in names:
            before = env.client.get(resource, name, ns)
            after = env.client.patch(resource, name, patch, ns, patch_type=a.type, subresource=a.subresource)
            same = after["metadata"].get("resourceVersion") == before["metadata"].get("resourceVersion")
            env.out.write(f"{resource.kind_ref}/{name} patched{' (no change)' if same else ''}\n")
