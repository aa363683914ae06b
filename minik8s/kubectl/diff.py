"""``kubectl diff``: what applying a manifest would change, as the server would make it.

For each object of the manifests, diff fetches the live object and asks the server what the
object would become, without storing anything (``?dryRun=All``): the same patch ``kubectl
apply`` would send (a create when the object does not exist yet), or with ``--server-side``
the manifest itself as a server-side apply. It prints a unified diff of the two, as YAML
without managedFields, and exits 0 when nothing would change, 1 when something would (or
when a request failed), as kubectl does.

Interface: ``register(sub, parent)`` adds the ``diff`` command (``-f``, ``-R``,
``--server-side``, ``--force-conflicts``, ``--field-manager``, ``--show-managed-fields``).

How minik8s differs: kubectl writes both versions to temporary folders and runs ``diff -u -N``
(or ``$KUBECTL_EXTERNAL_DIFF``); minik8s prints the same unified diff itself, with the folders
named ``LIVE`` and ``MERGED``, and no timestamps.

Taught in chapter 3 (kubectl: who owns which field).
"""

from __future__ import annotations

import argparse
import difflib
from typing import Any

from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.kubectl import manifests, printing
from minik8s.kubectl.command import CommandError, Env, server_error
from minik8s.kubectl.write import LAST_APPLIED, apply_patch, resource_of, target_namespace, with_last_applied


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("diff", parents=[parent], add_help=False)
    p.add_argument("-f", "--filename", action="append", default=[])
    p.add_argument("-R", "--recursive", action="store_true")
    p.add_argument("--server-side", action="store_true")
    p.add_argument("--force-conflicts", action="store_true")
    p.add_argument("--field-manager", default="kubectl-client-side-apply")
    p.add_argument("--show-managed-fields", action="store_true")
    p.set_defaults(handler=cmd_diff)


def cmd_diff(env: Env) -> None:
    a = env.args
    if not a.filename:
        raise CommandError("must specify one of -f and -k")
    changed = False
    for manifest in manifests.read(a.filename, env.stdin, a.recursive):
        resource = resource_of(manifest.obj, manifest.source)
        ns = target_namespace(env, resource, manifest.obj)
        name = (manifest.obj.get("metadata") or {}).get("name", "")
        try:
            live = _live(env, resource, ns, name)
            merged = _would_be(env, resource, ns, name, manifest.obj, live)
        except StatusError as err:
            env.error(server_error(err))
            continue
        text = unified(_file_name(resource, ns, name), _text(env, live), _text(env, merged))
        if text:
            env.out.write(text)
            changed = True
    if changed:
        env.exit_code = 1


def _live(env: Env, resource: Resource, ns: str | None, name: str) -> dict[str, Any] | None:
    try:
        return env.client.get(resource, name, ns)
    except StatusError as err:
        if err.code == 404:
            return None
        raise


def _would_be(env: Env, resource: Resource, ns: str | None, name: str, obj: dict[str, Any],
              live: dict[str, Any] | None) -> dict[str, Any]:
    """The object as the server would store it after an apply (a dry run: nothing is stored)."""
    a = env.args
    if a.server_side:
        manager = a.field_manager if a.field_manager != "kubectl-client-side-apply" else "kubectl"
        return env.client.patch(resource, name, obj, ns, patch_type="apply", dry_run=True, field_manager=manager,
                                force=a.force_conflicts)
    modified = with_last_applied(obj)
    if live is None:
        return env.client.create(resource, modified, ns, dry_run=True, field_manager=a.field_manager)
    patch, patch_type = apply_patch(resource, live, modified)
    if not patch:
        return live
    return env.client.patch(resource, name, patch, ns, patch_type=patch_type, dry_run=True,
                            field_manager=a.field_manager)


def _text(env: Env, obj: dict[str, Any] | None) -> str:
    """An object as diff shows it: YAML, without managedFields and without the last-applied
    annotation (an emptied ``annotations: {}`` stays, as kubectl leaves it)."""
    if obj is None:
        return ""
    annotations = (obj.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        rest = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        obj = {**obj, "metadata": {**obj["metadata"], "annotations": rest}}
    return printing.to_yaml(obj, env.args.show_managed_fields)


def _file_name(resource: Resource, ns: str | None, name: str) -> str:
    """kubectl's name for an object's file: ``apps.v1.Deployment.default.web``."""
    return ".".join(part for part in (resource.group, resource.version, resource.kind, ns or "", name) if part)


def unified(file_name: str, live: str, merged: str) -> str:
    """``diff -u -N LIVE/<file> MERGED/<file>``, or "" when they are the same."""
    lines = list(difflib.unified_diff(live.splitlines(keepends=True), merged.splitlines(keepends=True),
                                      f"LIVE/{file_name}", f"MERGED/{file_name}"))
    if not lines:
        return ""
    return f"diff -u -N LIVE/{file_name} MERGED/{file_name}\n" + "".join(lines)
