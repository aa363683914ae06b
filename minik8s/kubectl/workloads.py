"""Commands for workloads: scale, set image, rollout (status, history, undo, pause, resume, restart), edit.

These are thin: each turns into one or two API calls, and the controllers do the
work. ``kubectl scale`` patches the ``/scale`` subresource; ``set image``,
``rollout pause|resume|restart`` and ``edit`` send strategic merge patches.
``rollout undo`` of a Deployment sends a JSON patch that copies an old ReplicaSet's
pod template (and annotations) back into the Deployment, after which the
Deployment controller finds that ReplicaSet again and scales it up; of a
StatefulSet or DaemonSet it sends the chosen ControllerRevision's ``data``, a
strategic merge patch that replaces the template. ``rollout history`` lists the
same ReplicaSets or ControllerRevisions. ``rollout status`` watches the object until
its status says the rollout is done.

Interface: ``register(sub, parent)`` adds the verbs to the parser (listed in :mod:`minik8s.kubectl.registry`).

How minik8s differs: ``rollout status`` prints a status line only when it changes
(upstream prints one per watch event, which may repeat a line). In-process with a
virtual clock it lets the cluster run (``env.settle``) instead of waiting on a watch,
and ``--timeout`` is measured on that clock.

Taught in chapter 7 (Deployments and rolling updates), chapter 8 (StatefulSets) and chapter 10 (DaemonSets).
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import tempfile
import time
from typing import Any

from minik8s.api import parsing, patch as patches, resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.clock import rfc3339
from minik8s.controllers import history, rollout as ro
from minik8s.controllers.podcontrol import controller_of
from minik8s.kubectl.get import parse_targets
from minik8s.kubectl.command import CommandError, Env
from minik8s.kubectl.printing import omit_managed_fields, to_name, to_yaml

DEPLOYMENTS = resources.get("apps", "v1", "deployments")
REPLICASETS = resources.get("apps", "v1", "replicasets")
STATEFULSETS = resources.get("apps", "v1", "statefulsets")
DAEMONSETS = resources.get("apps", "v1", "daemonsets")
REVISIONS = resources.get("apps", "v1", "controllerrevisions")
assert DEPLOYMENTS is not None and REPLICASETS is not None and REVISIONS is not None

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# Annotations `rollout undo` neither copies from the ReplicaSet nor drops from the Deployment.
UNDO_SKIP = ro.SKIP_ANNOTATIONS
EDIT_HEADER = ("# Please edit the object below. Lines beginning with a '#' will be ignored,\n"
               "# and an empty file will abort the edit. If an error occurs while saving this file will be\n"
               "# reopened with the relevant failures.\n#\n")
# kubectl rollout status waits forever by default; in-process we stop after this much (virtual) time.
DEFAULT_STATUS_TIMEOUT = 3600.0

Obj = dict[str, Any]


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("scale", parents=[parent], add_help=False)
    p.add_argument("resources", nargs="*")
    p.add_argument("--replicas", type=int, default=None)
    p.add_argument("--current-replicas", type=int, default=-1)
    p.add_argument("--resource-version", default="")
    p.add_argument("--timeout", default="0s")
    p.add_argument("-o", "--output", default=None)
    p.set_defaults(handler=cmd_scale)

    sets = sub.add_parser("set", parents=[parent], add_help=False)
    set_sub = sets.add_subparsers(dest="set_verb", parser_class=type(sets))
    image = set_sub.add_parser("image", parents=[parent], add_help=False)
    image.add_argument("args", nargs="*")
    image.add_argument("--all", action="store_true")
    image.add_argument("-o", "--output", default=None)
    image.set_defaults(handler=cmd_set_image)

    roll = sub.add_parser("rollout", parents=[parent], add_help=False)
    roll_sub = roll.add_subparsers(dest="rollout_verb", parser_class=type(roll))
    for verb, handler in (("status", cmd_rollout_status), ("history", cmd_rollout_history),
                          ("undo", cmd_rollout_undo), ("pause", cmd_rollout_pause),
                          ("resume", cmd_rollout_resume), ("restart", cmd_rollout_restart)):
        r = roll_sub.add_parser(verb, parents=[parent], add_help=False)
        r.add_argument("resources", nargs="*")
        r.add_argument("--revision", type=int, default=0)
        r.add_argument("--to-revision", type=int, default=0)
        r.add_argument("--timeout", default="0s")
        r.add_argument("-w", "--watch", default="true", nargs="?", const="true")
        r.add_argument("-o", "--output", default=None)
        r.set_defaults(handler=handler)

    edit = sub.add_parser("edit", parents=[parent], add_help=False)
    edit.add_argument("resources", nargs="*")
    edit.add_argument("-o", "--output", default="yaml")
    edit.set_defaults(handler=cmd_edit)


# --- helpers ---------------------------------------------------------------------------------


def _targets(env: Env) -> list[tuple[Resource, str]]:
    words = getattr(env.args, "resources", None) or []
    if not words:
        raise CommandError("required resource not specified")
    pairs = [(res, name) for res, names in parse_targets(words) for name in names]
    if not pairs:
        raise CommandError("required resource not specified")
    return pairs


def _say(env: Env, resource: Resource, obj: Obj, what: str) -> None:
    env.out.write(f"{to_name(resource, obj)} {what}\n")


def _owned_replica_sets(env: Env, d: Obj) -> list[Obj]:
    listed = env.client.list(REPLICASETS, d["metadata"].get("namespace")).get("items") or []
    return [rs for rs in listed if (controller_of(rs) or {}).get("uid") == d["metadata"]["uid"]]


# --- scale -----------------------------------------------------------------------------------


def cmd_scale(env: Env) -> None:
    a = env.args
    if a.replicas is None:
        raise CommandError('required flag(s) "replicas" not set')
    if a.replicas < 0:
        raise CommandError("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    for resource, name in _targets(env):
        if "scale" not in resource.subresources:
            raise CommandError(f"no scaler has been implemented for {{{resource.group} {resource.kind}}}")
        if a.current_replicas >= 0 or a.resource_version:
            scale = env.client.get(resource, name, env.namespace, subresource="scale")
            current = int((scale.get("spec") or {}).get("replicas") or 0)
            if a.current_replicas >= 0 and current != a.current_replicas:
                raise CommandError(f"Expected replicas to be {a.current_replicas}, was {current}")
            if a.resource_version and scale["metadata"].get("resourceVersion") != a.resource_version:
                raise CommandError(f"Expected resource version to be {a.resource_version}, was "
                                   f"{scale['metadata'].get('resourceVersion')}")
        env.client.patch(resource, name, {"spec": {"replicas": a.replicas}}, env.namespace, patch_type="merge",
                         subresource="scale")
        env.out.write(f"{resource.kind_ref}/{name} scaled\n")


# --- set image --------------------------------------------------------------------------------


def _pod_spec_path(obj: Obj) -> list[str]:
    return ["spec"] if obj.get("kind") == "Pod" else ["spec", "template", "spec"]


def cmd_set_image(env: Env) -> None:
    words = list(env.args.args)
    images = [w for w in words if "=" in w]
    targets = [w for w in words if "=" not in w]
    if not images:
        raise CommandError("at least one image update is required")
    env.args.resources = targets
    for resource, name in _targets(env):
        obj = env.client.get(resource, name, env.namespace)
        path = _pod_spec_path(obj)
        spec = obj
        for part in path:
            spec = spec.get(part) or {}
        patch_containers: dict[str, list[Obj]] = {"containers": [], "initContainers": []}
        for item in images:
            container, _, image = item.partition("=")
            matched = False
            for field in ("initContainers", "containers"):
                for c in spec.get(field) or []:
                    if container in ("*", c["name"]):
                        patch_containers[field].append({"name": c["name"], "image": image})
                        matched = True
            if not matched:
                raise CommandError(f'unable to find container named "{container}"')
        body: Obj = {k: v for k, v in patch_containers.items() if v}
        for part in reversed(path):
            body = {part: body}
        env.client.patch(resource, name, body, env.namespace, patch_type="strategic")
        _say(env, resource, obj, "image updated")


def parse_timeout(text: str) -> float:
    """A Go duration as kubectl's flags take it (``30s``, ``5m``, ``1h30m``, ``0``) in seconds."""
    text = (text or "0").strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise CommandError(f'invalid argument "{text}" for "--timeout" flag: time: invalid duration "{text}"')
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


# --- rollout status ---------------------------------------------------------------------------


def rollout_status_message(d: Obj) -> tuple[str, bool]:
    """What ``kubectl rollout status`` says about a Deployment, and whether it is done
    (upstream's DeploymentStatusViewer). Raises CommandError past the progress deadline."""
    name = d["metadata"]["name"]
    status = d.get("status") or {}
    if int(d["metadata"].get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return "Waiting for deployment spec update to be observed...", False
    cond = ro.get_condition(status, "Progressing")
    if cond is not None and cond.get("reason") == ro.TIMED_OUT_REASON:
        raise CommandError(f'deployment "{name}" exceeded its progress deadline')
    replicas = ro.spec_replicas(d)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < replicas:
        return f"{prefix}{updated} out of {replicas} new replicas have been updated...", False
    if total > updated:
        return f"{prefix}{total - updated} old replicas are pending termination...", False
    if available < updated:
        return f"{prefix}{available} of {updated} updated replicas are available...", False
    return f'deployment "{name}" successfully rolled out', True


def statefulset_status_message(sts: Obj) -> tuple[str, bool]:
    """``kubectl rollout status statefulset/web`` (upstream's StatefulSetStatusViewer)."""
    status = sts.get("status") or {}
    spec = sts.get("spec") or {}
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type") == "OnDelete":
        raise CommandError("rollout status is only available for RollingUpdate strategy type")
    observed = int(status.get("observedGeneration") or 0)
    if observed == 0 or int(sts["metadata"].get("generation") or 0) > observed:
        return "Waiting for statefulset spec update to be observed...", False
    replicas = int(spec.get("replicas", 1))
    ready = int(status.get("readyReplicas") or 0)
    if ready < replicas:
        return f"Waiting for {replicas - ready} pods to be ready...", False
    updated = int(status.get("updatedReplicas") or 0)
    # The API server defaults rollingUpdate.partition to 0, so upstream takes this branch for every
    # RollingUpdate StatefulSet, partitioned or not.
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:
        partition = rolling.get("partition")
        if partition is not None and updated < replicas - int(partition):
            return (f"Waiting for partitioned roll out to finish: {updated} out of {replicas - int(partition)} "
                    "new pods have been updated..."), False
        return f"partitioned roll out complete: {updated} new pods have been updated...", True
    revision = status.get("updateRevision", "")
    if revision != status.get("currentRevision"):
        return f"waiting for statefulset rolling update to complete {updated} pods at revision {revision}...", False
    return f"statefulset rolling update complete {status.get('currentReplicas', 0)} pods at revision {revision}...", True


def daemonset_status_message(ds: Obj) -> tuple[str, bool]:
    """``kubectl rollout status daemonset/x`` (upstream's DaemonSetStatusViewer)."""
    name = ds["metadata"]["name"]
    status = ds.get("status") or {}
    if ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") == "OnDelete":
        raise CommandError("rollout status is only available for RollingUpdate strategy type")
    if int(ds["metadata"].get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return "Waiting for daemon set spec update to be observed...", False
    desired = int(status.get("desiredNumberScheduled") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    available = int(status.get("numberAvailable") or 0)
    prefix = f'Waiting for daemon set "{name}" rollout to finish: '
    if updated < desired:
        return f"{prefix}{updated} out of {desired} new pods have been updated...", False
    if available < desired:
        return f"{prefix}{available} of {desired} updated pods are available...", False
    return f'daemon set "{name}" successfully rolled out', True


STATUS_VIEWERS = {"deployments": rollout_status_message, "statefulsets": statefulset_status_message,
                  "daemonsets": daemonset_status_message}


def cmd_rollout_status(env: Env) -> None:
    (resource, obj), *_ = _rollout_objects(env)
    name = obj["metadata"]["name"]
    viewer = STATUS_VIEWERS.get(resource.plural) if resource.group == "apps" else None
    if viewer is None:
        raise CommandError(f"no status viewer has been implemented for {_group_kind(resource)}")
    timeout = parse_timeout(env.args.timeout)
    watch = str(env.args.watch).lower() != "false"
    virtual = bool(getattr(env.clock, "virtual", False))
    start = env.clock.now() if virtual else time.monotonic()
    limit = timeout or DEFAULT_STATUS_TIMEOUT
    last = ""
    while True:
        message, done = viewer(obj)
        if message != last:
            env.out.write(message + "\n")
            last = message
        if done or not watch:
            return
        if virtual:
            before = (env.clock.now(), obj["metadata"].get("resourceVersion"))
            env.settle()
            obj = env.client.get(resource, name, env.namespace)
            if (env.clock.now(), obj["metadata"].get("resourceVersion")) == before:
                raise CommandError("timed out waiting for the condition")  # nothing can change any more
            if env.clock.now() - start > limit:
                raise CommandError("timed out waiting for the condition")
        else:
            obj = _wait_for_change(env, resource, obj, start + limit - time.monotonic())


def _wait_for_change(env: Env, resource: Resource, d: Obj, remaining: float) -> Obj:
    """Block on a watch until the object changes (or the time is up)."""
    if remaining <= 0:
        raise CommandError("timed out waiting for the condition")
    watch = env.client.watch(resource, env.namespace, resource_version=d["metadata"].get("resourceVersion"),
                             field_selector=f"metadata.name={d['metadata']['name']}",
                             timeout_seconds=max(int(remaining), 1))
    try:
        for event in watch:
            if event.get("type") in ("ADDED", "MODIFIED"):
                return event["object"]  # type: ignore[no-any-return]
            if event.get("type") == "DELETED":
                raise CommandError('object has been deleted')
    finally:
        watch.stop()
    return env.client.get(resource, d["metadata"]["name"], env.namespace)


# --- rollout history and undo --------------------------------------------------------------------
#
# A Deployment remembers its past templates as old ReplicaSets; a StatefulSet or a DaemonSet as
# ControllerRevisions whose ``data`` is the patch that puts the template back
# (:mod:`minik8s.controllers.history`). Either way the history is revision -> (template, change-cause).

History = dict[int, tuple[Obj, str]]


def _group_kind(resource: Resource) -> str:
    """``ReplicaSet.apps`` or ``Pod``: how upstream names a kind in "not implemented" errors."""
    return f"{resource.kind}.{resource.group}" if resource.group else resource.kind


def _rollout_objects(env: Env) -> list[tuple[Resource, Obj]]:
    """The named objects, fetched first (a missing one is NotFound before anything else, as upstream)."""
    return [(resource, env.client.get(resource, name, env.namespace)) for resource, name in _targets(env)]


def _owned_revisions(env: Env, owner: Obj) -> list[Obj]:
    listed = env.client.list(REVISIONS, owner["metadata"].get("namespace")).get("items") or []
    return history.owned_revisions(listed, owner)


def _history(env: Env, resource: Resource, obj: Obj) -> History:
    if resource is DEPLOYMENTS:
        return _deployment_history(env, obj)
    return {int(r.get("revision") or 0): (history.template_of(r), ro.annotations_of(r).get(ro.CHANGE_CAUSE) or "")
            for r in _owned_revisions(env, obj)}


def _deployment_history(env: Env, d: Obj) -> History:
    """Upstream prints a ReplicaSet's template with its change-cause copied into the annotations."""
    result: History = {}
    for rs in _owned_replica_sets(env, d):
        template = dict(rs["spec"].get("template") or {})
        cause = ro.annotations_of(rs).get(ro.CHANGE_CAUSE) or ""
        if cause:
            meta = dict(template.get("metadata") or {})
            meta["annotations"] = {**(meta.get("annotations") or {}), ro.CHANGE_CAUSE: cause}
            template["metadata"] = meta
        result[ro.revision(rs)] = (template, cause)
    return result


def _print_template(template: Obj) -> str:
    # Upstream's printTemplate runs the describer's pod template section into a plain buffer,
    # not a tabwriter, so its tabs are printed as they are.
    from minik8s.kubectl.describe import describe_pod_template

    return describe_pod_template(template, aligned=False)


def cmd_rollout_history(env: Env) -> None:
    from minik8s.kubectl.printing import tabwrite

    for resource, obj in _rollout_objects(env):
        if resource not in (DEPLOYMENTS, STATEFULSETS, DAEMONSETS):
            raise CommandError(f'no history viewer has been implemented for "{_group_kind(resource)}"')
        past = _history(env, resource, obj)
        revision = env.args.revision
        if env.args.output and resource is not DEPLOYMENTS:
            _print_revisions(env, resource, obj, past, revision)
            continue
        if revision > 0:
            if revision not in past:
                raise CommandError("unable to find the specified revision")
            _say(env, resource, obj, f"with revision #{revision}\n{_print_template(past[revision][0])}")
            continue
        if not past:
            _say(env, resource, obj, "\nNo rollout history found.")
            continue
        lines = ["REVISION\tCHANGE-CAUSE"] + [f"{rev}\t{past[rev][1] or '<none>'}" for rev in sorted(past)]
        _say(env, resource, obj, "\n" + tabwrite(lines, 0, 2))


def _print_revisions(env: Env, resource: Resource, obj: Obj, past: History, revision: int) -> None:
    """``rollout history -o yaml|json|name``: the object as each revision would make it (its template
    put back, all else as it is now), as upstream's ``applyDaemonSetHistory`` / ``applyStatefulSetHistory``."""
    from minik8s.kubectl import printing

    if revision > 0 and revision not in past:
        raise CommandError("unable to find the specified revision")
    output = env.args.output
    if output not in ("yaml", "json", "name"):
        raise CommandError(f'unable to match a printer suitable for the output format "{output}", '
                           'allowed formats are: json,name,yaml')
    for index, number in enumerate([revision] if revision > 0 else sorted(past)):
        template = past[number][0]
        # A typed Go object prints its template's zero creationTimestamp as null.
        template = {**template, "metadata": {"creationTimestamp": None, **(template.get("metadata") or {})}}
        applied = {**obj, "spec": {**obj["spec"], "template": template}}
        if output == "name":
            env.out.write(printing.to_name(resource, applied) + "\n")
        elif output == "json":
            env.out.write(printing.to_json(applied) + "\n")
        else:   # one YAML stream: documents after the first open with ---
            env.out.write(("---\n" if index else "") + printing.to_yaml(applied))


def rollback_target(d: Obj, rss: list[Obj], to_revision: int) -> Obj:
    """The ReplicaSet ``rollout undo`` goes back to: ``to_revision``, or the one before the latest
    (upstream's ``deploymentRevision``)."""
    name = d["metadata"]["name"]
    if to_revision < 0:
        raise CommandError(f"unable to find specified revision {to_revision} in history")
    if to_revision > 0:
        for rs in rss:
            if ro.revision(rs) == to_revision:
                return rs
        raise CommandError(f"unable to find specified revision {to_revision} in history")
    ranked = sorted(rss, key=ro.revision, reverse=True)
    if len(ranked) < 2:
        raise CommandError(f'no rollout history found for deployment "{name}"')
    return ranked[1]


def revision_rollback_target(revisions: list[Obj], to_revision: int) -> Obj:
    """The ControllerRevision ``rollout undo`` puts back on a StatefulSet or DaemonSet:
    ``to_revision``, or the second newest (upstream's ``findHistory``)."""
    if to_revision < 0:
        raise CommandError(f"unable to find specified revision {to_revision} in history")
    if to_revision == 0:
        if len(revisions) <= 1:
            raise CommandError("no last revision to roll back to")
        return sorted(revisions, key=lambda r: int(r.get("revision") or 0))[-2]
    for revision in revisions:
        if int(revision.get("revision") or 0) == to_revision:
            return revision
    raise CommandError(f"unable to find specified revision {to_revision} in history")


def cmd_rollout_undo(env: Env) -> None:
    for resource, obj in _rollout_objects(env):
        if resource is DEPLOYMENTS:
            _undo_deployment(env, obj, env.args.to_revision)
        elif resource in (STATEFULSETS, DAEMONSETS):
            _undo_from_revisions(env, resource, obj, env.args.to_revision)
        else:
            raise CommandError(f'no rollbacker has been implemented for "{_group_kind(resource)}"')


def _undo_deployment(env: Env, d: Obj, to_revision: int) -> None:
    """A JSON patch copying the old ReplicaSet's template (and annotations) into the Deployment."""
    if to_revision < 0:
        raise CommandError(f"unable to find specified revision {to_revision} in history")
    if (d.get("spec") or {}).get("paused"):
        raise CommandError("you cannot rollback a paused deployment; resume it first with 'kubectl rollout "
                           "resume' and try again")
    target = rollback_target(d, _owned_replica_sets(env, d), to_revision)
    template = target["spec"]["template"]
    if ro.equal_ignore_hash(template, d["spec"]["template"]):
        _say(env, DEPLOYMENTS, d, f"skipped rollback (current template already matches revision {to_revision})")
        return
    restored = ro.template_without_hash(template)
    annotations = {k: v for k, v in ro.annotations_of(d).items() if k in UNDO_SKIP}
    annotations.update({k: v for k, v in ro.annotations_of(target).items() if k not in UNDO_SKIP})
    operations = [{"op": "replace", "path": "/spec/template", "value": restored},
                  {"op": "replace", "path": "/metadata/annotations", "value": annotations}]
    try:
        env.client.patch(DEPLOYMENTS, d["metadata"]["name"], operations, env.namespace, patch_type="json")
    except StatusError as err:
        raise CommandError(f"failed restoring revision {to_revision}: {err.message}") from None
    _say(env, DEPLOYMENTS, d, "rolled back")


def _undo_from_revisions(env: Env, resource: Resource, obj: Obj, to_revision: int) -> None:
    """Send the revision's ``data`` back as a strategic merge patch (it replaces ``spec.template``)."""
    target = revision_rollback_target(_owned_revisions(env, obj), to_revision)
    if history.template_patch(obj) == target.get("data"):
        _say(env, resource, obj, f"skipped rollback (current template already matches revision {to_revision})")
        return
    try:
        env.client.patch(resource, obj["metadata"]["name"], target["data"], env.namespace, patch_type="strategic")
    except StatusError as err:
        raise CommandError(f"failed restoring revision {to_revision}: {err.message}") from None
    _say(env, resource, obj, "rolled back")


# --- pause, resume, restart ---------------------------------------------------------------------------


def _set_paused(env: Env, paused: bool) -> None:
    for resource, d in _rollout_objects(env):
        name = d["metadata"]["name"]
        if resource is not DEPLOYMENTS:
            raise CommandError(f'{resource.qualified} "{name}" {"pausing" if paused else "resuming"} '
                               "is not supported")
        if bool((d.get("spec") or {}).get("paused")) == paused:
            env.error(f'error: {resource.qualified} "{name}" {"is already paused" if paused else "is not paused"}')
            continue
        env.client.patch(DEPLOYMENTS, name, {"spec": {"paused": paused}}, env.namespace, patch_type="strategic")
        _say(env, DEPLOYMENTS, d, "paused" if paused else "resumed")


def cmd_rollout_pause(env: Env) -> None:
    _set_paused(env, True)


def cmd_rollout_resume(env: Env) -> None:
    _set_paused(env, False)


def cmd_rollout_restart(env: Env) -> None:
    for resource, obj in _rollout_objects(env):
        name = obj["metadata"]["name"]
        if resource not in (DEPLOYMENTS, STATEFULSETS, DAEMONSETS):
            raise CommandError(f'{resource.qualified} "{name}" restarting is not supported')
        if (obj.get("spec") or {}).get("paused"):
            raise CommandError(f'{resource.qualified} "{name}" can\'t restart paused deployment '
                               "(run rollout resume first)")
        stamp = rfc3339(env.clock.now())
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        env.client.patch(resource, name, body, env.namespace, patch_type="strategic")
        _say(env, resource, obj, "restarted")


# --- edit ------------------------------------------------------------------------------------------------


def _editor() -> list[str]:
    command = os.environ.get("KUBE_EDITOR") or os.environ.get("EDITOR") or "vi"
    return shlex.split(command)


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def cmd_edit(env: Env) -> None:
    for resource, name in _targets(env):
        obj = omit_managed_fields(env.client.get(resource, name, env.namespace))   # kubectl edits without them
        original = EDIT_HEADER + to_yaml(obj)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="kubectl-edit-", delete=False) as f:
            f.write(original)
            path = f.name
        try:
            subprocess.run([*_editor(), path], check=True)
            with open(path) as f:
                edited = f.read()
        except (OSError, subprocess.CalledProcessError) as exc:
            raise CommandError(f"there was a problem with the editor {_editor()[0]!r}: {exc}") from None
        finally:
            os.unlink(path)
        if not _strip_comments(edited).strip():
            env.err.write("Edit cancelled, saved file was empty.\n")
            return
        if _strip_comments(edited) == _strip_comments(original):
            env.err.write("Edit cancelled, no changes made.\n")
            return
        try:
            modified = parsing.safe_load(_strip_comments(edited))
        except parsing.ParseError as exc:
            raise CommandError(f"error parsing edited file: {exc}") from None
        # A built-in kind takes a strategic merge patch; a custom resource (no Go type) a JSON merge patch.
        builtin = resources.by_plural(resource.group, resource.version, resource.plural) is not None
        patch = patches.create_strategic_patch(obj, modified, obj.get("kind", "")) if builtin \
            else patches.create_merge_patch(obj, modified)
        if not patch:
            env.err.write("Edit cancelled, no changes made.\n")
            return
        env.client.patch(resource, name, patch, env.namespace, patch_type="strategic" if builtin else "merge",
                         field_manager="kubectl-edit")
        _say(env, resource, obj, "edited")
