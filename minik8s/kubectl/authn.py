"""Who am I, and tokens for ServiceAccounts: ``auth whoami``, ``create serviceaccount``, ``create token``.

``kubectl auth whoami`` sends a SelfSubjectReview (``authentication.k8s.io/v1``) and prints
what the API server made of the request's credential: user name, uid, groups and extra
(ATTRIBUTE/VALUE table, or ``-o yaml|json``). ``kubectl create serviceaccount NAME`` makes
an identity for programs; ``kubectl create token SA`` asks the ServiceAccount's ``token``
subresource (TokenRequest) for a short-lived token, optionally for other audiences
(``--audience``), another lifetime (``--duration 10m``) or bound to an object so it dies
with it (``--bound-object-kind Pod --bound-object-name web``); it prints the token alone.

Interface: ``register(sub, parent)``; ``whoami(env, words)``. When another module made the
``auth`` command first (``minik8s.kubectl.auth``, ``can-i``), ``whoami`` joins its ``AUTH_COMMANDS``;
otherwise this module makes a minimal ``auth`` command of its own.
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.kubectl import generators
from minik8s.kubectl.command import CommandError, Env
from minik8s.kubectl.printing import tabwrite, to_json, to_name, to_yaml

Obj = dict[str, Any]

SERVICE_ACCOUNTS = resources.get("", "v1", "serviceaccounts")
SELF_SUBJECT_REVIEWS = resources.get("authentication.k8s.io", "v1", "selfsubjectreviews")
BOUND_KINDS = ("Node", "Pod", "Secret")   # what kubectl v1.32 lets a token be bound to
# Go's time.ParseDuration units, in seconds.
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    if "auth" in sub.choices:   # `kubectl auth` is another module's (can-i, RBAC): add whoami to it
        _join_auth_command(sub.choices["auth"])
    else:
        p = sub.add_parser("auth", parents=[parent], add_help=False)
        p.add_argument("args", nargs="*")
        p.add_argument("-o", "--output", default=None)
        p.set_defaults(handler=cmd_auth)
    generators.register_create(("serviceaccount", "sa"), create_serviceaccount)
    generators.register_create(("token",), create_token)
    create = sub.choices["create"]
    create.add_argument("--duration", default=None)
    create.add_argument("--audience", action="append", default=[])
    create.add_argument("--bound-object-kind", default="")
    create.add_argument("--bound-object-name", default="")
    create.add_argument("--bound-object-uid", default="")


def _join_auth_command(auth: argparse.ArgumentParser) -> None:
    """Register ``whoami`` with the module that made the ``auth`` parser (its ``AUTH_COMMANDS``)."""
    import importlib

    try:
        owner = importlib.import_module("minik8s.kubectl.auth")
    except ImportError:
        return
    getattr(owner, "AUTH_COMMANDS", {}).update(AUTH_SUBCOMMANDS)
    try:
        auth.add_argument("-o", "--output", default=None)
    except argparse.ArgumentError:
        pass   # the owner has -o already


def cmd_auth(env: Env) -> None:
    words = list(env.args.args)
    if not words or words[0] not in AUTH_SUBCOMMANDS:
        raise CommandError(f'unknown command "{" ".join(words)}" for "kubectl auth"')
    AUTH_SUBCOMMANDS[words[0]](env, words[1:])


# --- auth whoami ------------------------------------------------------------------------------------------


def whoami(env: Env, words: list[str]) -> None:
    """``kubectl auth whoami [-o yaml|json]``."""
    if words:
        raise CommandError(f'unknown command "{words[0]}" for "kubectl auth whoami"')
    review = {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
              "metadata": {"creationTimestamp": None}, "status": {"userInfo": {}}}
    try:
        answer = env.client.create(SELF_SUBJECT_REVIEWS, review)
    except StatusError as err:
        raise CommandError(err.message) from None
    output = getattr(env.args, "output", None)
    if output == "yaml":
        env.out.write(to_yaml(answer))
    elif output == "json":
        env.out.write(to_json(answer) + "\n")
    elif output:
        raise CommandError(f'unable to match a printer suitable for the output format "{output}", allowed '
                           'formats are: json,yaml')
    else:
        env.out.write(whoami_table(answer))


def _go_list(values: list[str]) -> str:
    return "[" + " ".join(values) + "]"   # Go's %v of a []string


def whoami_table(review: Obj) -> str:
    """The ATTRIBUTE/VALUE table the real kubectl prints for a SelfSubjectReview."""
    info = (review.get("status") or {}).get("userInfo") or {}
    lines = ["ATTRIBUTE\tVALUE"]
    if info.get("username"):
        lines.append(f"Username\t{info['username']}")
    if info.get("uid"):
        lines.append(f"UID\t{info['uid']}")
    if info.get("groups"):
        lines.append(f"Groups\t{_go_list(info['groups'])}")
    for key in sorted(info.get("extra") or {}):
        lines.append(f"Extra: {key}\t{_go_list(info['extra'][key])}")
    return tabwrite(lines)


AUTH_SUBCOMMANDS = {"whoami": whoami}


# --- create serviceaccount ----------------------------------------------------------------------------------


def create_serviceaccount(env: Env, words: list[str]) -> None:
    """``kubectl create serviceaccount NAME``."""
    if len(words) != 1:
        raise CommandError(f"exactly one NAME is required, got {len(words)}\n"
                           "See 'kubectl create serviceaccount -h' for help and examples")
    a = env.args
    obj: Obj = {"kind": "ServiceAccount", "apiVersion": "v1",
                "metadata": {"name": words[0], "creationTimestamp": None}}
    if a.namespace:
        obj["metadata"]["namespace"] = a.namespace
    if a.dry_run in ("client", "true"):
        _print(env, obj, "serviceaccount", "created")
        return
    try:
        created = env.client.create(SERVICE_ACCOUNTS, obj, env.namespace, dry_run=a.dry_run == "server")
    except StatusError as err:
        raise CommandError(f"failed to create serviceaccount: {err.message}") from None
    _print(env, created, "serviceaccount", "created")


def _print(env: Env, obj: Obj, what: str, verb: str) -> None:
    output = getattr(env.args, "output", None)
    if output == "yaml":
        env.out.write(to_yaml(obj))
    elif output == "json":
        env.out.write(to_json(obj) + "\n")
    elif output == "name":
        env.out.write(to_name(SERVICE_ACCOUNTS, obj) + "\n")
    else:
        dry = {"client": " (dry run)", "true": " (dry run)", "server": " (server dry run)"}.get(env.args.dry_run, "")
        env.out.write(f"{what}/{obj['metadata']['name']} {verb}{dry}\n")


# --- create token -------------------------------------------------------------------------------------------


def parse_go_duration(text: str) -> float:
    """Go's ``time.ParseDuration``: ``10m``, ``1h30m``, ``90s``, ``-1s``, ``0``."""
    text = text.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", body)
    if not body or "".join(n + u for n, u in parts) != body:
        raise ValueError(text)
    return sign * sum(float(n) * _UNITS[u] for n, u in parts)


def token_request(args: argparse.Namespace) -> Obj:
    """The TokenRequest ``kubectl create token`` sends, from its flags (kubectl's checks, in its order)."""
    kind, name, uid = args.bound_object_kind, args.bound_object_name, args.bound_object_uid
    if not kind:
        if name:
            raise CommandError("--bound-object-name can only be set if --bound-object-kind is provided")
        if uid:
            raise CommandError("--bound-object-uid can only be set if --bound-object-kind is provided")
    else:
        if kind not in BOUND_KINDS:
            raise CommandError(f"supported --bound-object-kind values are {', '.join(BOUND_KINDS)}")
        if not name:
            raise CommandError("--bound-object-name is required if --bound-object-kind is provided")
    spec: Obj = {"audiences": list(args.audience) or None}
    if args.duration is not None:
        try:
            seconds = parse_go_duration(args.duration)
        except ValueError:
            raise CommandError(f'invalid argument "{args.duration}" for "--duration" flag: time: invalid '
                               f'duration "{args.duration}"') from None
        if seconds < 0:
            raise CommandError("--duration must be greater than or equal to 0")
        if seconds != int(seconds):
            raise CommandError("--duration cannot be expressed in units less than seconds")
        if seconds:
            spec["expirationSeconds"] = int(seconds)
    if kind:
        ref: Obj = {"kind": kind, "apiVersion": "v1", "name": name}
        if uid:
            ref["uid"] = uid
        spec["boundObjectRef"] = ref
    return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None}, "spec": {k: v for k, v in spec.items() if v is not None},
            "status": {"token": "", "expirationTimestamp": None}}


def create_token(env: Env, words: list[str]) -> None:
    """``kubectl create token SA [--duration] [--audience]... [--bound-object-kind --bound-object-name]``."""
    if len(words) != 1:
        raise CommandError(f"exactly one NAME is required, got {len(words)}\n"
                           "See 'kubectl create token -h' for help and examples")
    request = token_request(env.args)
    request["metadata"]["name"] = words[0]
    try:
        answer = env.client.create(SERVICE_ACCOUNTS, request, env.namespace, subresource="token")
    except StatusError as err:
        raise CommandError(f"failed to create token: {err.message}") from None
    output = getattr(env.args, "output", None)
    if output == "yaml":
        env.out.write(to_yaml(answer))
    elif output == "json":
        env.out.write(to_json(answer) + "\n")
    else:
        env.out.write(answer.get("status", {}).get("token", "") + "\n")
