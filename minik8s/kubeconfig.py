"""kubeconfig files: where kubectl finds its clusters.

A kubeconfig lists *clusters* (a server address), *users* (credentials) and
*contexts* (a cluster, a user and a default namespace), and names the
``current-context``. kubectl reads ``$KUBECONFIG`` (the first file of the list)
or ``~/.kube/config``.

``minik8s server`` adds a cluster, user and context named ``minik8s`` and makes
it current, leaving every other entry as it was, as minikube and kind do.

Interface: ``path()``, ``load(path)``, ``save(config, path)``, ``add_context(...)``,
``current(config, context=None) -> Context``.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


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
    data = yaml.safe_load(file.read_text()) or {}
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
                make_current: bool = True) -> dict[str, Any]:
    _upsert(config["clusters"], name, "cluster", {"server": server})
    _upsert(config["users"], name, "user", {})
    context: dict[str, Any] = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    _upsert(config["contexts"], name, "context", context)
    if make_current:
        config["current-context"] = name
    return config


@dataclass
class Context:
    name: str
    server: str
    namespace: str
    token: str | None = None
    insecure: bool = False


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
                   bool(cluster.get("insecure-skip-tls-verify")))
