"""kubeconfig files: where kubectl finds its clusters.

A kubeconfig lists *clusters* (a server address), *users* (credentials) and
*contexts* (a cluster, a user and a default namespace), and names the
``current-context``. kubectl reads ``$KUBECONFIG`` (the first file of the list)
or ``~/.kube/config``.

``minik8s server`` adds a cluster, user and context named ``minik8s`` and makes
it current, leaving every other entry as it was, as minikube and kind do. The
cluster entry carries the CA that signed the server's certificate
(``certificate-authority-data``) and the user entry the admin's bearer token, or
a client certificate and its key (``client-certificate-data``/``client-key-data``).

Interface: ``path()``, ``load(path)``, ``save(config, path)``, ``add_context(...)``,
``current(config, context=None) -> Context``; ``for_user(server, ca_pem, name, cert_pem=..., key_pem=...)``
a whole kubeconfig for one user (a classroom hands these out).
"""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from minik8s.api import parsing


def path(explicit: str | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("KUBECONFIG")
    if env:
        return Path(env.split(os.pathsep)[0]).expanduser()
    return Path.home() / ".kube" / "config"


def empty() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [], "contexts": [],
            "current-context": ""}


def load(file: Path) -> dict[str, Any]:
    if not file.exists():
        return empty()
    try:
        data = parsing.safe_load(file.read_text()) or {}
    except parsing.ParseError as exc:
        raise ValueError(f'error loading config file "{file}": {exc}') from None
    if not isinstance(data, dict):
        raise ValueError(f"error loading config file \"{file}\": not a kubeconfig")
    config = empty()
    config.update(data)
    for section in ("clusters", "users", "contexts"):
        config[section] = list(config.get(section) or [])
    return config


def save(config: dict[str, Any], file: Path) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    # Write a new file and rename it over the old one, so a crash never leaves half a kubeconfig.
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=".kubeconfig-")
    with os.fdopen(fd, "w") as out:
        yaml.safe_dump(config, out, default_flow_style=False, sort_keys=False)
    os.chmod(tmp, 0o600)
    os.replace(tmp, file)


def _upsert(entries: list[dict[str, Any]], name: str, key: str, value: dict[str, Any]) -> None:
    for entry in entries:
        if entry.get("name") == name:
            entry[key] = value
            return
    entries.append({"name": name, key: value})


def add_context(config: dict[str, Any], name: str, server: str, namespace: str | None = None,
                make_current: bool = True, *, ca_pem: bytes | None = None, token: str | None = None,
                cert_pem: bytes | None = None, key_pem: bytes | None = None) -> dict[str, Any]:
    """Add (or replace) a cluster, user and context all called ``name``.

    ``ca_pem`` is the cluster CA that signed the server's certificate (``certificate-authority-data``);
    ``token`` the user's bearer token; ``cert_pem``/``key_pem`` a client certificate and its key."""
    cluster: dict[str, Any] = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    _upsert(config["clusters"], name, "cluster", cluster)
    user: dict[str, Any] = {"token": token} if token else {}
    if cert_pem and key_pem:
        user["client-certificate-data"] = base64.b64encode(cert_pem).decode()
        user["client-key-data"] = base64.b64encode(key_pem).decode()
    _upsert(config["users"], name, "user", user)
    context: dict[str, Any] = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    _upsert(config["contexts"], name, "context", context)
    if make_current:
        config["current-context"] = name
    return config


def for_user(server: str, ca_pem: bytes | None, name: str, namespace: str | None = None, *,
             token: str | None = None, cert_pem: bytes | None = None, key_pem: bytes | None = None) -> dict[str, Any]:
    """A new kubeconfig with one context ``name`` for one user (a token or a client certificate)."""
    return add_context(empty(), name, server, namespace, ca_pem=ca_pem, token=token, cert_pem=cert_pem,
                       key_pem=key_pem)


@dataclass
class Context:
    name: str
    server: str
    namespace: str
    token: str | None = None
    insecure: bool = False
    ca_pem: bytes | None = None   # the CA to trust for an https server (None: the system's)
    cert_pem: bytes | None = None  # a client certificate and its key, when the user has one
    key_pem: bytes | None = None


def _find(entries: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((e for e in entries if e.get("name") == name), None)


def current(config: dict[str, Any], context: str | None = None) -> Context:
    name = context or config.get("current-context") or ""
    if not name:
        raise ValueError("current-context is not set")
    ctx = _find(config["contexts"], name)
    if ctx is None:
        raise ValueError(f'context was not found for specified context: {name}')
    body = ctx.get("context") or {}
    cluster = (_find(config["clusters"], body.get("cluster", "")) or {}).get("cluster") or {}
    user = (_find(config["users"], body.get("user", "")) or {}).get("user") or {}
    if not cluster.get("server"):
        raise ValueError('cluster has no server defined')
    return Context(name, cluster["server"], body.get("namespace") or "default", user.get("token"),
                   bool(cluster.get("insecure-skip-tls-verify")), _ca(cluster),
                   _pem(user, "client-certificate"), _pem(user, "client-key"))


def _pem(user: dict[str, Any], field: str) -> bytes | None:
    """``client-certificate-data`` (base64) or ``client-certificate`` (a file), or the key's."""
    if user.get(f"{field}-data"):
        try:
            return base64.b64decode(user[f"{field}-data"], validate=True)
        except ValueError:
            raise ValueError(f"{field}-data is not valid base64") from None
    if user.get(field):
        try:
            return Path(user[field]).expanduser().read_bytes()
        except OSError as exc:
            raise ValueError(f"unable to read {field} {user[field]}: {exc}") from None
    return None


def _ca(cluster: dict[str, Any]) -> bytes | None:
    if cluster.get("certificate-authority-data"):
        try:
            return base64.b64decode(cluster["certificate-authority-data"], validate=True)
        except ValueError:
            raise ValueError("certificate-authority-data is not valid base64") from None
    if cluster.get("certificate-authority"):
        try:
            return Path(cluster["certificate-authority"]).expanduser().read_bytes()
        except OSError as exc:
            raise ValueError(f"unable to read certificate-authority {cluster['certificate-authority']} "
                             f"for {cluster.get('server', '')} due to {exc}") from None
    return None
