"""``kubectl create ingress NAME --rule=host/path=service:port[,tls[=secret]] [--class=] [--default-backend=]
[--annotation=k=v]``, as upstream builds it.

Each ``--rule`` is ``host/path=service:port``: a path ending in ``*`` is a ``Prefix`` path (the ``*``
dropped), any other ``Exact``; a numeric port is ``port.number``, any other ``port.name``. Rules of one
host share one ``rules[]`` entry, in order. ``,tls`` adds the host to ``spec.tls`` (``,tls=secret``
with that Secret; hosts of the same Secret share an entry; a host is listed once). Upstream checks the
flags first with its own words (a rule that does not match its pattern, an annotation without ``=``,
a default backend that is not ``service:port``, neither rules nor a default backend).
Prints ``ingress.networking.k8s.io/NAME created``.

Interface:
    register(sub, parent)                                               # adds the flags to ``create``
    ingress_from_flags(name, rules, klass, default_backend, annotations) -> Ingress   # pure; CommandError

Taught in the chapter on Ingress and NetworkPolicy.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from minik8s.api import resources
from minik8s.kubectl import generators
from minik8s.kubectl.command import CommandError, Env
from minik8s.kubectl.configdata import _send as send

Obj = dict[str, Any]
INGRESSES = resources.get("networking.k8s.io", "v1", "ingresses")
# upstream's pattern, matched at the start only (Go's MatchString): host, /path, =service:port, [,tls[=secret]]
RULE = re.compile(r"(?P<host>[\w*\-.]*)(?P<path>/.*)=(?P<svc>[\w\-]+):(?P<port>[\w\-]+)"
                  r"(,(?P<tls>tls)=?(?P<secret>[\w\-]+)?)?", re.ASCII)


def _backend(service: str) -> Obj:
    name, port = service.split(":")[0], service.split(":")[1]
    return {"service": {"name": name, "port": {"number": int(port)} if port.isdigit() else {"name": port}}}


def _path(text: str) -> Obj:
    path, service = text.split("=")[0], text.split("=")[1]
    path = "/" + path
    path_type = "Exact"
    if path.endswith("*"):
        path, path_type = path[:-1], "Prefix"
    return {"path": path, "pathType": path_type, "backend": _backend(service)}


def _tls(rules: list[str]) -> list[Obj]:
    entries: list[Obj] = []
    seen: set[str] = set()
    for rule in rules:
        parts = rule.split(",")
        if len(parts) != 2 or rule.split("/", 1)[0] in seen:
            continue
        host = rule.split("/", 1)[0]
        seen.add(host)
        secret = parts[1].split("=")[1] if "=" in parts[1] else ""
        same = next((e for e in entries if e.get("secretName", "") == secret), None)
        if same is not None:
            same.setdefault("hosts", []).append(host)
            continue
        entry: Obj = {**({"hosts": [host]} if host else {}), **({"secretName": secret} if secret else {})}
        if entry:
            entries.append(entry)
    return entries


def ingress_from_flags(name: str, rules: list[str], klass: str, default_backend: str,
                       annotations: list[str]) -> Obj:
    if not default_backend and not rules:
        raise CommandError("not enough information provided: every ingress has to either specify a default-backend "
                           "(which catches all traffic) or a list of rules (which catch specific paths)")
    for rule in rules:
        if not RULE.match(rule):
            raise CommandError(f"rule {rule} is invalid and should be in format host/path=svcname:svcport[,tls[=secret]]")
    for annotation in annotations:
        if "=" not in annotation:
            raise CommandError(f"annotation {annotation} is invalid and should be in format key=[value]")
    if default_backend and len(default_backend.split(":")) != 2:
        raise CommandError("default-backend should be in format servicename:serviceport")
    spec: Obj = {}
    if klass:
        spec["ingressClassName"] = klass
    if default_backend:
        spec["defaultBackend"] = _backend(default_backend)
    by_host: list[Obj] = []
    for rule in rules:
        host, _, rest = rule.split(",")[0].partition("/")
        entry = next((r for r in by_host if r.get("host", "") == host), None)
        if entry is None:
            entry = {**({"host": host} if host else {}), "http": {"paths": []}}
            by_host.append(entry)
        entry["http"]["paths"].append(_path(rest))
    tls = _tls(rules)
    if tls:
        spec["tls"] = tls
    if by_host:
        spec["rules"] = by_host
    meta: Obj = {"creationTimestamp": None, "name": name}
    if annotations:
        meta["annotations"] = dict(a.split("=", 1) for a in annotations)
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": spec,
            "status": {"loadBalancer": {}}}


def create_ingress(env: Env, words: list[str]) -> None:
    a = env.args
    if len(words) != 1:
        raise CommandError(f"exactly one NAME is required, got {len(words)}")
    obj = ingress_from_flags(words[0], a.rule or [], a.ingress_class or "", a.default_backend or "",
                             a.annotation or [])
    send(env, INGRESSES, obj, "ingress: ")


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    generators.register_create(("ingress", "ing"), create_ingress)
    create = sub.choices["create"]
    create.add_argument("--class", dest="ingress_class", default=None)
    create.add_argument("--rule", action="append", default=None)
    create.add_argument("--default-backend", default=None)
    create.add_argument("--annotation", action="append", default=None)
