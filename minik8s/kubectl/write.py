"""Commands that change objects: create, apply, delete, label, annotate.

``create`` sends a manifest as it is (POST), or builds one from flags (``create deployment``,
``job``, ``cronjob``, ``configmap``, ``namespace``: :mod:`minik8s.kubectl.generators`).
``apply`` is declarative: it
remembers what you applied last in the ``kubectl.kubernetes.io/last-applied-configuration``
annotation, and next time sends only the difference between that, your new
manifest and the live object (a three-way strategic merge patch), so fields set
by others (the status, a scaled replica count) are kept unless you change them.
``apply --server-side`` sends the manifest itself instead (``application/apply-patch+yaml``,
as field manager ``kubectl`` or ``--field-manager``): the server merges it and tracks which
fields each manager owns (:mod:`minik8s.apiserver.fieldmanager`); a conflict with another
manager fails unless ``--force-conflicts``. ``--dry-run=server`` asks the server to do
everything but store the result.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from minik8s.api import patch as patches, resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.kubectl import generators, manifests, restmapper
from minik8s.kubectl.get import parse_targets
from minik8s.kubectl.command import CommandError, Env, resolve, server_error

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
NAMESPACES = resources.get("", "v1", "namespaces")

# How long `kubectl delete` waits for objects to disappear (kubectl --wait, bounded here).
DELETE_WAIT_SECONDS = 60.0


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    for verb, handler in (("create", cmd_create), ("apply", cmd_apply)):
        p = sub.add_parser(verb, parents=[parent], add_help=False)
        p.add_argument("args", nargs="*")
        p.add_argument("-f", "--filename", action="append", default=[])
        p.add_argument("-R", "--recursive", action="store_true")
        p.add_argument("-o", "--output", default=None)
        p.add_argument("--dry-run", default=None, nargs="?", const="client")
        p.add_argument("--validate", default="strict", nargs="?", const="strict")
        p.add_argument("--save-config", action="store_true")
        p.add_argument("--record", action="store_true")
        p.add_argument("--image", action="append", default=[])
        p.add_argument("--replicas", type=int, default=1)
        p.add_argument("--port", type=int, default=None)
        p.add_argument("--from-literal", action="append", default=[])
        p.add_argument("--from", dest="from_", default="")
        p.add_argument("--schedule", default="")
        p.add_argument("--restart", default="")
        p.add_argument("--field-manager", default=None)
        if verb == "apply":
            p.add_argument("--server-side", action="store_true")
            p.add_argument("--force-conflicts", action="store_true")
        p.set_defaults(handler=handler)

    delete = sub.add_parser("delete", parents=[parent], add_help=False)
    delete.add_argument("resources", nargs="*")
    delete.add_argument("-f", "--filename", action="append", default=[])
    delete.add_argument("-R", "--recursive", action="store_true")
    delete.add_argument("-l", "--selector", default=None)
    delete.add_argument("--field-selector", default=None)
    delete.add_argument("--all", action="store_true")
    delete.add_argument("-A", "--all-namespaces", action="store_true")
    delete.add_argument("--ignore-not-found", action="store_true")
    delete.add_argument("--cascade", default="background", nargs="?", const="background")
    delete.add_argument("--grace-period", type=int, default=-1)
    delete.add_argument("--now", action="store_true")
    delete.add_argument("--force", action="store_true")
    delete.add_argument("--wait", default="true", nargs="?", const="true")
    delete.add_argument("-o", "--output", default=None)
    delete.set_defaults(handler=cmd_delete)

    from minik8s.kubectl import diff   # diff previews what apply would do
    diff.register(sub, parent)

    for verb, field in (("label", "labels"), ("annotate", "annotations")):
        p = sub.add_parser(verb, parents=[parent], add_help=False)
        p.add_argument("args", nargs="*")
        p.add_argument("-f", "--filename", action="append", default=[])
        p.add_argument("-l", "--selector", default=None)
        p.add_argument("--all", action="store_true")
        p.add_argument("--overwrite", action="store_true")
        p.add_argument("--list", action="store_true")
        p.add_argument("-o", "--output", default=None)
        p.set_defaults(handler=cmd_label if verb == "label" else cmd_annotate, field=field)


def resource_of(obj: dict[str, Any], source: str) -> Resource:
    found = restmapper.of_object(obj)
    if found is None:
        meta = obj.get("metadata") or {}
        raise CommandError(f'resource mapping not found for name: "{meta.get("name", "")}" namespace: '
                           f'"{meta.get("namespace", "")}" from "{source}": no matches for kind "{obj.get("kind")}" '
                           f'in version "{obj.get("apiVersion")}"\nensure CRDs are installed first')
    return found


def target_namespace(env: Env, resource: Resource, obj: dict[str, Any]) -> str | None:
    if not resource.namespaced:
        return None
    given = (obj.get("metadata") or {}).get("namespace")
    if given and env.args.namespace and given != env.args.namespace:
        raise CommandError(f"the namespace from the provided object \"{given}\" does not match the namespace "
                           f"\"{env.args.namespace}\". You must pass '--namespace={given}' to perform this operation.")
    return given or env.namespace


def _suffix(env: Env) -> str:
    dry = env.args.dry_run
    if dry in ("client", "true"):
        return " (dry run)"
    if dry == "server":
        return " (server dry run)"
    return ""


def cmd_create(env: Env) -> None:
    a = env.args
    if a.args:
        _create_generated(env, a.args)
        return
    if not a.filename:
        raise CommandError("must specify one of -f and -k")
    for manifest in manifests.read(a.filename, env.stdin, a.recursive):
        resource = resource_of(manifest.obj, manifest.source)
        ns = target_namespace(env, resource, manifest.obj)
        try:
            created = env.client.create(resource, manifest.obj, ns, dry_run=a.dry_run == "server",
                                        field_manager=_manager(env, "kubectl-create")) \
                if a.dry_run not in ("client", "true") else manifest.obj
        except StatusError as err:
            env.error(_write_error(err, "creating", manifest.source))
            continue
        _report(env, resource, created, "created")


def _manager(env: Env, default: str) -> str:
    """kubectl's ``--field-manager``, else the name kubectl gives this command's writes."""
    return getattr(env.args, "field_manager", None) or default


def _write_error(err: StatusError, action: str, source: str) -> str:
    if err.code == 422 and err.reason == "Invalid" and (err.details or {}).get("causes"):
        return server_error(err)
    return server_error(err, f'error when {action} "{source}": ')


def _report(env: Env, resource: Resource, obj: dict[str, Any], verb: str) -> None:
    from minik8s.kubectl import printing

    output = env.args.output
    if output == "yaml":
        env.out.write(printing.to_yaml(obj))
    elif output == "json":
        env.out.write(printing.to_json(obj) + "\n")
    elif output == "name":
        env.out.write(printing.to_name(resource, obj) + "\n")
    else:
        env.out.write(f"{resource.kind_ref}/{obj['metadata']['name']} {verb}{_suffix(env)}\n")


def _create_generated(env: Env, words: list[str]) -> None:
    """``kubectl create namespace dev``, ``create deployment web --image=nginx``, ``create configmap``,
    ``create job pi --image=perl -- perl -e ...``, ``create cronjob``, ``create job x --from=cronjob/y``."""
    kind, *rest = words
    if kind in generators.CREATE_HANDLERS:   # create service, secret, role... (their modules register them)
        generators.CREATE_HANDLERS[kind](env, rest)
        return
    if kind not in generators.KINDS:
        raise CommandError(f'unknown command "{kind}" for "kubectl create"')
    if len(rest) != 1:
        raise CommandError(f"exactly one NAME is required, got {len(rest)}\n"
                           f"See 'kubectl create {kind} -h' for help and examples")
    a = env.args
    obj, what = generators.build(kind, rest[0], a, a.after_dashes, lambda source: _cronjob_for(env, source))
    resource = resources.of_object(obj)
    assert resource is not None
    if env.args.namespace and resource.namespaced:
        obj["metadata"]["namespace"] = env.args.namespace  # upstream sets it only when -n is given
    if a.dry_run in ("client", "true"):
        _report(env, resource, obj, "created")
        return
    try:
        created = env.client.create(resource, obj, env.namespace if resource.namespaced else None,
                                    dry_run=a.dry_run == "server")
    except StatusError as err:
        if what == "namespace":
            raise  # upstream returns the server's error unwrapped
        raise CommandError(f"failed to create {what}: {err.message}") from None
    _report(env, resource, created, "created")


def _cronjob_for(env: Env, source: str) -> dict[str, Any]:
    """The object ``--from=cronjob/NAME`` names; only a CronJob will do."""
    kind, sep, name = source.partition("/")
    if not sep or not name:
        raise CommandError("resource(s) were provided, but no name was specified")
    resource = resolve(kind)
    obj = env.client.get(resource, name, env.namespace)
    if resource.kind != "CronJob":
        raise CommandError(f"unknown object type *v1.{resource.kind}")
    return obj


# --- apply -------------------------------------------------------------------------------


def _last_applied(obj: dict[str, Any]) -> str:
    """The annotation's value: the manifest as JSON (sorted keys, as Go marshals a map) and a newline."""
    clean = json.loads(json.dumps(obj))
    annotations = (clean.get("metadata") or {}).get("annotations") or {}
    annotations.pop(LAST_APPLIED, None)
    if "annotations" in (clean.get("metadata") or {}) and not annotations:
        del clean["metadata"]["annotations"]
    return json.dumps(clean, separators=(",", ":"), sort_keys=True) + "\n"


def with_last_applied(obj: dict[str, Any]) -> dict[str, Any]:
    """The manifest carrying itself in the last-applied-configuration annotation, as apply sends it."""
    return _with_annotation(obj, _last_applied(obj))


def _with_annotation(obj: dict[str, Any], value: str) -> dict[str, Any]:
    new = json.loads(json.dumps(obj))
    meta = new.setdefault("metadata", {})
    meta.setdefault("annotations", {})[LAST_APPLIED] = value
    return new


def cmd_apply(env: Env) -> None:
    a = env.args
    if not a.filename:
        raise CommandError("must specify one of -f and -k")
    if a.force_conflicts and not a.server_side:
        raise CommandError("--force-conflicts only works with --server-side")
    if a.server_side and a.dry_run in ("client", "true"):
        raise CommandError("--dry-run=client doesn't work with --server-side (did you mean --dry-run=server "
                           "instead?)")
    for manifest in manifests.read(a.filename, env.stdin, a.recursive):
        resource = resource_of(manifest.obj, manifest.source)
        ns = target_namespace(env, resource, manifest.obj)
        name = (manifest.obj.get("metadata") or {}).get("name")
        if not name:
            env.error("error: error when retrieving current configuration of:\nResource: "
                      f'"{resource.group}/{resource.version}, Resource={resource.plural}", GroupVersionKind: '
                      f'"{resource.api_version}, Kind={resource.kind}"\nName: "", Namespace: "{ns or ""}"\n'
                      f'from server for: "{manifest.source}": resource name may not be empty')
            continue
        if a.server_side:
            _apply_server_side(env, resource, ns, name, manifest)
            continue
        modified = with_last_applied(manifest.obj)
        try:
            _apply_one(env, resource, ns, name, modified)
        except _ApplyError as failure:
            env.error(_write_error(failure.err, failure.action, manifest.source))


# What kubectl adds to an apply conflict, word for word.
_CONFLICT_HELP = """Please review the fields above--they currently have other managers. Here
are the ways you can resolve this warning:
* If you intend to manage all of these fields, please re-run the apply
  command with the `--force-conflicts` flag.
* If you do not intend to manage all of the fields, please edit your
  manifest to remove references to the fields that should keep their
  current managers.
* You may co-own fields by updating your manifest to match the existing
  value; in this case, you'll become the manager if the other manager(s)
  stop managing the field (remove it from their configuration).
See https://kubernetes.io/docs/reference/using-api/server-side-apply/#conflicts"""


def _apply_server_side(env: Env, resource: Resource, ns: str | None, name: str, manifest: Any) -> None:
    """``apply --server-side``: send the manifest as it is; the server merges it and tracks ownership."""
    a = env.args
    try:
        applied = env.client.patch(resource, name, manifest.obj, ns, patch_type="apply", dry_run=a.dry_run == "server",
                                   field_manager=a.field_manager or "kubectl", force=a.force_conflicts)
    except StatusError as err:
        causes = (err.details or {}).get("causes") or []
        if err.code == 409 and any(c.get("reason") == "FieldManagerConflict" for c in causes):
            env.error(f"error: {err.message}\n{_CONFLICT_HELP}")
        else:
            env.error(_write_error(err, "patching", manifest.source))
        return
    _report(env, resource, applied, "serverside-applied")


class _ApplyError(Exception):
    def __init__(self, err: StatusError, action: str):
        super().__init__(err.message)
        self.err = err
        self.action = action


def apply_patch(resource: Resource, current: dict[str, Any], modified: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """What client-side apply sends: the three-way patch from the last-applied configuration, the
    manifest (with its new annotation) and the live object, and its patch type."""
    original_text = ((current.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    original = json.loads(original_text) if original_text else None
    if resource.group in ("", "apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io", "storage.k8s.io",
                          "autoscaling", "coordination.k8s.io"):
        return patches.three_way_strategic_patch(original, modified, current, resource.kind), "strategic"
    return patches.three_way_merge_patch(original, modified, current), "merge"


def _apply_one(env: Env, resource: Resource, ns: str | None, name: str, modified: dict[str, Any]) -> None:
    dry_run = env.args.dry_run in ("client", "true")
    server_dry_run = env.args.dry_run == "server"
    try:
        current = env.client.get(resource, name, ns)
    except StatusError as err:
        if err.code != 404:
            raise _ApplyError(err, "retrieving current configuration of") from None
        try:
            created = modified if dry_run else env.client.create(resource, modified, ns, dry_run=server_dry_run,
                                                                 field_manager=_manager(env, "kubectl-client-side-apply"))
        except StatusError as create_err:
            raise _ApplyError(create_err, "creating") from None
        _report(env, resource, created, "created")
        return
    patch, patch_type = apply_patch(resource, current, modified)
    if not patch:
        _report(env, resource, current, "unchanged")
        return
    try:
        patched = current if dry_run else env.client.patch(resource, name, patch, ns, patch_type=patch_type,
                                                           dry_run=server_dry_run,
                                                           field_manager=_manager(env, "kubectl-client-side-apply"))
    except StatusError as err:
        raise _ApplyError(err, "patching") from None
    _report(env, resource, patched, "configured")


# --- delete ------------------------------------------------------------------------------


def _propagation(cascade: str) -> str:
    value = (cascade or "background").lower()
    mapping = {"background": "Background", "true": "Background", "foreground": "Foreground",
               "orphan": "Orphan", "false": "Orphan"}
    if value not in mapping:
        raise CommandError(f'invalid cascade value ({cascade}). Must be "background", "foreground", or "orphan".')
    return mapping[value]


def cmd_delete(env: Env) -> None:
    a = env.args
    policy = _propagation(a.cascade)
    grace = 1 if a.now else a.grace_period
    if a.force and grace < 0:
        grace = 0
    if a.force:
        env.err.write("Warning: Immediate deletion does not wait for confirmation that the running resource has "
                      "been terminated. The resource may continue to run on the cluster indefinitely.\n")
    victims: list[tuple[Resource, str | None, str]] = []
    if a.filename:
        for manifest in manifests.read(a.filename, env.stdin, a.recursive):
            resource = resource_of(manifest.obj, manifest.source)
            victims.append((resource, target_namespace(env, resource, manifest.obj),
                            (manifest.obj.get("metadata") or {}).get("name", "")))
    else:
        if not a.resources:
            raise CommandError("You must provide one or more resources by argument or filename.\nExample resource "
                               "specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   "
                               "'<resource> <name>'\n   '<resource>'")
        for resource, names in parse_targets(a.resources):
            ns = None if not resource.namespaced or a.all_namespaces else env.namespace
            if names:
                victims.extend((resource, ns, name) for name in names)
                continue
            if not (a.all or a.selector or a.field_selector):
                raise CommandError("resource(s) were provided, but no name was specified")
            for obj in env.client.list(resource, ns, label_selector=a.selector,
                                       field_selector=a.field_selector)["items"]:
                victims.append((resource, obj["metadata"].get("namespace"), obj["metadata"]["name"]))
            if not victims:
                env.err.write("No resources found\n" if ns is None else f"No resources found in {ns} namespace.\n")
    deleted: list[tuple[Resource, str | None, str, str]] = []
    for resource, ns, name in victims:
        try:
            obj = env.client.delete(resource, name, ns, propagation_policy=policy,
                                    grace_period_seconds=grace if grace >= 0 else None)
        except StatusError as err:
            if err.code == 404 and a.ignore_not_found:
                continue
            env.error(server_error(err))
            continue
        if a.output == "name":
            env.out.write(f"{resource.kind_ref}/{name}\n")
        else:
            env.out.write(f'{resource.kind_ref} "{name}" deleted\n')
        deleted.append((resource, ns, name, (obj.get("metadata") or {}).get("uid", "")))
    if a.wait == "true" and deleted:
        _wait_deleted(env, deleted)


def _wait_deleted(env: Env, deleted: list[tuple[Resource, str | None, str, str]]) -> None:
    """kubectl waits until what it deleted is really gone (a pod first has to stop)."""
    deadline = time.monotonic() + DELETE_WAIT_SECONDS
    virtual_deadline = env.clock.now() + DELETE_WAIT_SECONDS
    pending = list(deleted)
    while True:
        still = []
        for resource, ns, name, uid in pending:
            try:
                obj = env.client.get(resource, name, ns)
            except StatusError as err:
                if err.code == 404:
                    continue
                raise
            if not uid or obj["metadata"].get("uid") == uid:
                still.append((resource, ns, name, uid))
        pending = still
        if not pending or time.monotonic() > deadline or env.clock.now() > virtual_deadline:
            return
        env.settle()


# --- label / annotate --------------------------------------------------------------------


def _parse_changes(words: list[str], what: str) -> tuple[dict[str, str], list[str]]:
    add: dict[str, str] = {}
    remove: list[str] = []
    for word in words:
        if word.endswith("-") and "=" not in word:
            remove.append(word[:-1])
        elif "=" in word:
            key, _, value = word.partition("=")
            add[key] = value
        else:
            raise CommandError(f"at least one {what} update is required")
    return add, remove


def _split_args(env: Env) -> tuple[list[tuple[Resource, list[str]]], list[str]]:
    """``label pods nginx web env=prod`` → targets and changes (words with = or a trailing -)."""
    words = env.args.args
    changes = [w for w in words if "=" in w or (w.endswith("-") and len(w) > 1)]
    rest = [w for w in words if w not in changes]
    if env.args.filename:
        targets = []
        for manifest in manifests.read(env.args.filename, env.stdin):
            resource = resource_of(manifest.obj, manifest.source)
            targets.append((resource, [(manifest.obj.get("metadata") or {}).get("name", "")]))
        return targets, changes
    if not rest:
        raise CommandError("one or more resources must be specified as <resource> <name> or <resource>/<name>")
    return parse_targets(rest), changes


def cmd_label(env: Env) -> None:
    _change_metadata(env, "labels", "label", "labeled", "unlabeled")


def cmd_annotate(env: Env) -> None:
    _change_metadata(env, "annotations", "annotation", "annotated", "unannotated")


def _change_metadata(env: Env, field: str, what: str, added: str, removed: str) -> None:
    a = env.args
    targets, words = _split_args(env)
    add, remove = _parse_changes(words, what)
    if not add and not remove and not a.list:
        raise CommandError(f"at least one {what} update is required")
    for resource, names in targets:
        ns = env.namespace if resource.namespaced else None
        if not names:
            if not (a.all or a.selector):
                raise CommandError("resource(s) were provided, but no name was specified")
            objs = env.client.list(resource, ns, label_selector=a.selector)["items"]
        else:
            objs = []
            for name in names:
                try:
                    objs.append(env.client.get(resource, name, ns))
                except StatusError as err:
                    env.error(server_error(err))
        for obj in objs:
            current = (obj.get("metadata") or {}).get(field) or {}
            if a.list:
                for key, value in sorted(current.items()):
                    env.out.write(f"{key}={value}\n")
                continue
            if not a.overwrite:
                clash = next((k for k, v in add.items() if k in current and current[k] != v), None)
                if clash:
                    raise CommandError(f"'{clash}' already has a value ({current[clash]}), and --overwrite is false")
            patch_map: dict[str, Any] = {k: v for k, v in add.items() if current.get(k) != v}
            patch_map.update({k: None for k in remove if k in current})
            for key in remove:
                if key not in current:
                    env.out.write(f'{what} "{key}" not found.\n')
            name = obj["metadata"]["name"]
            if not patch_map:
                env.out.write(f"{resource.kind_ref}/{name} not {added}\n")
                continue
            # No resourceVersion in the patch, as kubectl's own: a controller writing the object meanwhile
            # (a Deployment's status during a rollout) must not turn "kubectl annotate" into a conflict.
            patch = {"metadata": {field: patch_map}}
            env.client.patch(resource, name, patch, obj["metadata"].get("namespace"), patch_type="merge")
            verb = removed if remove and not add else added
            env.out.write(f"{resource.kind_ref}/{name} {verb}\n")
