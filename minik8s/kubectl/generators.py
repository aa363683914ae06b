"""``kubectl create <kind> NAME --flags``: the objects kubectl builds from flags.

Upstream builds a typed Go object and sends its JSON, so the body carries the zero
values of the structs it filled in: ``creationTimestamp: null``, ``resources: {}``,
``strategy: {}``, ``status: {}``. That is also exactly what ``--dry-run=client -o yaml``
prints, the usual way to start a manifest, so the builders here reproduce that shape.

Interface:
    build(kind, name, args, command, fetch) -> (object, what)  # what: "deployment", "job", ... (for errors)
    job_from_cronjob(name, cronjob) -> object            # ``create job NAME --from=cronjob/CJ``
    register_create(("secret",), handler)                # another module's ``create secret ...``

``fetch(source)`` reads the object ``--from=KIND/NAME`` names (only ``create job`` asks).

Each builder raises :class:`~minik8s.kubectl.command.CommandError` with kubectl's message for
bad flags. ``namespace`` objects are wrapped by nobody (upstream returns the server's error
as it is); the others' server errors read ``failed to create <what>: <message>``.

Taught in chapter 3 (kubectl) and chapter 9 (Jobs and CronJobs).
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from minik8s.kubectl.command import CommandError

Obj = dict[str, Any]

# The kinds `kubectl create` can generate, by every name kubectl accepts for them.
KINDS = {"namespace": "namespace", "ns": "namespace", "deployment": "deployment", "deploy": "deployment",
         "job": "job", "cronjob": "cronjob", "cj": "cronjob"}
# `kubectl create <kind> ...` handlers other command modules add (services, secrets, roles...), by every
# name kubectl accepts for the kind; each is called with the Env and the words after the kind. The module
# adds its own flags to `create`'s parser in its register() (see minik8s.kubectl.services).
CREATE_HANDLERS: dict[str, Callable[[Any, list[str]], None]] = {}


def register_create(names: tuple[str, ...], handler: Callable[[Any, list[str]], None]) -> None:
    """Let ``kubectl create <name> ...`` run ``handler(env, words)`` for each of ``names``."""
    for name in names:
        CREATE_HANDLERS[name] = handler


# The annotation `create job --from=cronjob/...` marks a manually started Job with.
INSTANTIATE = "cronjob.kubernetes.io/instantiate"


def _meta(name: str, **extra: Any) -> Obj:
    return {"creationTimestamp": None, "name": name, **extra}


def _container_name(image: str) -> str:
    """``registry/library/nginx:1.27`` -> ``nginx`` (upstream's buildPodSpec)."""
    return image.split("/")[-1].split(":")[0].split("@")[0]


Fetch = Callable[[str], Obj]


def build(kind: str, name: str, args: argparse.Namespace, command: list[str], fetch: Fetch) -> tuple[Obj, str]:
    what = KINDS.get(kind)
    if what is None:
        raise CommandError(f'unknown command "{kind}" for "kubectl create"')
    if what == "job":
        return _job(name, args, command, fetch), what
    builder = {"namespace": _namespace, "deployment": _deployment, "cronjob": _cronjob}[what]
    return builder(name, args, command), what


def _namespace(name: str, args: argparse.Namespace, command: list[str]) -> Obj:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name), "spec": {}, "status": {}}


def _deployment(name: str, args: argparse.Namespace, command: list[str]) -> Obj:
    if not args.image:
        raise CommandError('required flag(s) "image" not set')
    if len(args.image) > 1 and command:
        raise CommandError("cannot specify multiple --image options and command")
    containers: list[Obj] = [{"name": _container_name(image), "image": image, "resources": {}}
                             for image in args.image]
    if command:
        containers[0]["command"] = list(command)
    if args.port is not None:
        containers[0]["ports"] = [{"containerPort": args.port}]
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, labels=labels),
            "spec": {"replicas": args.replicas, "selector": {"matchLabels": dict(labels)}, "strategy": {},
                     "template": {"metadata": {"creationTimestamp": None, "labels": dict(labels)},
                                  "spec": {"containers": containers}}},
            "status": {}}


def _container(name: str, image: str, command: list[str]) -> Obj:
    """The one container of a generated Job or CronJob: named after the object, as upstream names it."""
    container: Obj = {"name": name, "image": image, "resources": {}}
    if command:
        container["command"] = list(command)
    return container


def _job(name: str, args: argparse.Namespace, command: list[str], fetch: Fetch) -> Obj:
    if bool(args.image) == bool(args.from_):
        raise CommandError("either --image or --from must be specified")
    if command and args.from_:
        raise CommandError("cannot specify --from and command")
    if args.from_:
        return job_from_cronjob(name, fetch(args.from_))
    container = _container(name, args.image[0], command)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(name),
            "spec": {"template": {"metadata": {"creationTimestamp": None},
                                  "spec": {"containers": [container], "restartPolicy": "Never"}}},
            "status": {}}


def _cronjob(name: str, args: argparse.Namespace, command: list[str]) -> Obj:
    missing = [flag for flag, value in (("image", args.image), ("schedule", args.schedule)) if not value]
    if missing:
        quoted = ", ".join(f'"{flag}"' for flag in missing)
        raise CommandError(f"required flag(s) {quoted} not set")
    container = _container(name, args.image[0], command)
    pod_spec = {"containers": [container], "restartPolicy": args.restart or "OnFailure"}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": _meta(name),
            "spec": {"schedule": args.schedule,
                     "jobTemplate": {"metadata": _meta(name),
                                     "spec": {"template": {"metadata": {"creationTimestamp": None},
                                                           "spec": pod_spec}}}},
            "status": {}}


def job_from_cronjob(name: str, cronjob: Obj) -> Obj:
    """A Job started by hand from a CronJob's template, owned by the CronJob (upstream's
    ``createJobFromCronJob``: controller, but no blockOwnerDeletion)."""
    template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
    template_meta = template.get("metadata") or {}
    meta = _meta(name, annotations={INSTANTIATE: "manual", **(template_meta.get("annotations") or {})})
    if template_meta.get("labels"):
        meta["labels"] = dict(template_meta["labels"])
    cj_meta = cronjob["metadata"]
    meta["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "CronJob", "name": cj_meta["name"],
                                "uid": cj_meta["uid"], "controller": True}]
    spec = dict(template.get("spec") or {})
    pod_template = dict(spec.get("template") or {})
    pod_template["metadata"] = {"creationTimestamp": None, **(pod_template.get("metadata") or {})}
    spec["template"] = pod_template
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": spec, "status": {}}
