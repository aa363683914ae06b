"""Ingress routing: which backend an HTTP request goes to, as a pure function of the Ingresses.

An Ingress is a list of rules ``host -> path -> backend``. The ingress controller merges the rules of
every Ingress of its class into one table and looks each request up in it:

1. **Host.** The ``Host`` header (its port dropped, compared case-insensitively) is matched against the
   rules' ``host``: an exact host wins over a wildcard ``*.example.com``, which matches exactly one
   DNS label (``bar.example.com`` but neither ``example.com`` nor ``a.bar.example.com``); a rule with
   no host matches every host, last.
2. **Path**, within the chosen host's rules, with the ``pathType`` semantics of the API reference:
   ``Exact`` matches the URL path exactly (case-sensitive); ``Prefix`` matches element by element,
   the path split on ``/`` (so ``/foo`` matches ``/foo``, ``/foo/`` and ``/foo/bar``, never ``/foobar``;
   a trailing slash in either is ignored; ``/`` matches everything). The longest matching path wins;
   at equal length ``Exact`` beats ``Prefix``.
3. Nothing matched: the ``defaultBackend`` of the oldest Ingress that has one, else the controller's own
   default backend, which answers 404.

How minik8s differs: ``ImplementationSpecific`` is up to each controller; minik8s treats it as
``Prefix``, as ingress-nginx does without regular expressions. Two Ingresses with the same host, path
and pathType: the older one (by ``creationTimestamp``, then namespace/name) wins, as in ingress-nginx,
whose rules are merged the same way. A host with rules in any Ingress is looked up only in those
rules; it does not fall back to the no-host rules of another Ingress (ingress-nginx's server blocks
behave so too).

Interface:
    path_matches(path_type, rule_path, request_path) -> bool
    host_matches(rule_host, request_host) -> bool
    table = RouteTable.build(ingresses)          # the Ingresses of our class
    table.match(host, path) -> Route | None      # None: the controller's default backend (404)
    Backend(namespace, service, port)            # port: number (int) or name (str)

Taught in the chapter on Ingress and NetworkPolicy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
PATH_TYPES = ("Exact", "Prefix", "ImplementationSpecific")


@dataclass(frozen=True)
class Backend:
    namespace: str
    service: str
    port: int | str            # service.port.number or service.port.name
    resource: str = ""         # a resource backend (kind/name): minik8s serves none of these

    def __str__(self) -> str:
        return self.resource or f"{self.service}:{self.port}"


@dataclass(frozen=True)
class Route:
    """A rule that matched: the backend, and the Ingress it came from."""
    backend: Backend
    ingress: tuple[str, str]   # (namespace, name)
    host: str = ""
    path: str = ""
    path_type: str = ""


def _elements(path: str) -> list[str]:
    return [e for e in path.split("/") if e]


def path_matches(path_type: str, rule_path: str, request_path: str) -> bool:
    """Does ``request_path`` match the rule ``rule_path`` of ``path_type``?"""
    if path_type == "Exact":
        return request_path == rule_path
    rule = _elements(rule_path)   # Prefix and ImplementationSpecific
    return _elements(request_path)[:len(rule)] == rule


def host_matches(rule_host: str, request_host: str) -> bool:
    """Does the rule's ``host`` (exact, ``*.wildcard`` or empty for any) match the request's host?"""
    rule_host, request_host = rule_host.lower(), request_host.lower()
    if not rule_host:
        return True
    if rule_host.startswith("*."):
        label, _, rest = request_host.partition(".")
        return bool(label) and rest == rule_host[2:]
    return rule_host == request_host


def request_host(header: str) -> str:
    """The host of a ``Host`` header: its port dropped (``[::1]:80`` -> ``::1``), lower case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def backend_of(namespace: str, spec: Obj | None) -> Backend | None:
    """An IngressBackend as a :class:`Backend` (None when there is none)."""
    if not spec:
        return None
    service = spec.get("service") or {}
    if service:
        port = service.get("port") or {}
        number = port.get("number")
        return Backend(namespace, str(service.get("name", "")), int(number) if number else str(port.get("name", "")))
    resource = spec.get("resource") or {}
    return Backend(namespace, "", 0, resource=f"{resource.get('kind', '')}/{resource.get('name', '')}")


@dataclass(frozen=True)
class _Path:
    path: str
    path_type: str
    route: Route

    @property
    def rank(self) -> tuple[int, int]:
        """Longest path first; at equal length Exact first (a trailing slash does not count for Prefix)."""
        length = len(self.path) if self.path_type == "Exact" else len("/" + "/".join(_elements(self.path)))
        return (-length, 0 if self.path_type == "Exact" else 1)


def _age(ingress: Obj) -> tuple[str, str, str]:
    meta = ingress.get("metadata") or {}
    return (str(meta.get("creationTimestamp") or ""), str(meta.get("namespace", "")), str(meta.get("name", "")))


@dataclass
class RouteTable:
    exact: dict[str, list[_Path]] = field(default_factory=dict)      # host -> paths, best first
    wildcard: dict[str, list[_Path]] = field(default_factory=dict)   # "*.example.com" -> paths
    any_host: list[_Path] = field(default_factory=list)
    default: Route | None = None

    @classmethod
    def build(cls, ingresses: list[Obj]) -> "RouteTable":
        table = cls()
        seen: set[tuple[str, str, str]] = set()
        for ingress in sorted(ingresses, key=_age):       # oldest first: it wins a tie
            meta, spec = ingress.get("metadata") or {}, ingress.get("spec") or {}
            key = (str(meta.get("namespace", "")), str(meta.get("name", "")))
            default = backend_of(key[0], spec.get("defaultBackend"))
            if table.default is None and default is not None:
                table.default = Route(default, key)
            for rule in spec.get("rules") or []:
                host = str(rule.get("host") or "").lower()
                for p in (rule.get("http") or {}).get("paths") or []:
                    backend = backend_of(key[0], p.get("backend"))
                    path, path_type = str(p.get("path") or "/"), str(p.get("pathType") or "Prefix")
                    if backend is None or (host, path, path_type) in seen:
                        continue
                    seen.add((host, path, path_type))
                    bucket = table.any_host if not host else (
                        table.wildcard.setdefault(host, []) if host.startswith("*.") else table.exact.setdefault(host, []))
                    bucket.append(_Path(path, path_type, Route(backend, key, host, path, path_type)))
        for paths in [*table.exact.values(), *table.wildcard.values(), table.any_host]:
            paths.sort(key=lambda p: p.rank)   # stable: the older Ingress first at equal rank
        return table

    def match(self, host: str, path: str) -> Route | None:
        """The route of a request to ``host`` (already without its port) and URL path ``path``."""
        host = host.lower()
        paths = self.exact.get(host)
        if paths is None:
            label, _, rest = host.partition(".")
            paths = self.wildcard.get("*." + rest) if label and rest else None
        for p in paths if paths is not None else self.any_host:
            if path_matches(p.path_type, p.path, path):
                return p.route
        return self.default

    def backends(self) -> list[Backend]:
        """Every backend the table may send to (the default one included)."""
        found = [p.route.backend for paths in [*self.exact.values(), *self.wildcard.values(), self.any_host]
                 for p in paths]
        return found + ([self.default.backend] if self.default else [])
