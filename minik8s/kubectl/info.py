"""Commands about the cluster and the client: api-resources, cluster-info, version, config."""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from minik8s import kubeconfig
from minik8s.api import resources
from minik8s.apiserver import discovery
from minik8s.kubectl import printing, restmapper
from minik8s.kubectl.command import CommandError, Env


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("api-resources", parents=[parent], add_help=False)
    p.add_argument("--namespaced", default=None)
    p.add_argument("--api-group", default=None)
    p.add_argument("-o", "--output", default=None)
    p.add_argument("--no-headers", action="store_true")
    p.add_argument("--verbs", action="append", default=[])
    p.set_defaults(handler=cmd_api_resources)

    p = sub.add_parser("cluster-info", parents=[parent], add_help=False)
    p.add_argument("rest", nargs="*")
    p.set_defaults(handler=cmd_cluster_info)

    p = sub.add_parser("version", parents=[parent], add_help=False)
    p.add_argument("--client", action="store_true")
    p.add_argument("-o", "--output", default=None)
    p.set_defaults(handler=cmd_version)

    p = sub.add_parser("config", parents=[parent], add_help=False)
    p.add_argument("action", nargs="?")
    p.add_argument("rest", nargs="*")
    p.add_argument("--minify", action="store_true")
    p.add_argument("--current", action="store_true")
    p.add_argument("--raw", action="store_true")
    p.add_argument("-o", "--output", default=None)
    p.set_defaults(handler=cmd_config)


def _align(rows: list[list[str]]) -> str:
    """kubectl's tab writer: columns padded to the widest cell plus three spaces."""
    return printing.tabwrite(["\t".join(row) for row in rows])


def cmd_api_resources(env: Env) -> None:
    a = env.args
    rows = [["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]]
    # kubectl lists the core group first, then the others by name (custom resources' groups included)
    listed = sorted(restmapper.served(), key=lambda r: (r.group != "", r.group, r.plural))
    for res in listed:
        if a.namespaced is not None and str(res.namespaced).lower() != a.namespaced.lower():
            continue
        if a.api_group is not None and res.group != a.api_group:
            continue
        if a.verbs and not all(v in res.verbs for verb in a.verbs for v in verb.split(",")):
            continue
        if a.output == "name":
            env.out.write(f"{res.plural}{'.' + res.group if res.group else ''}\n")
            continue
        rows.append([res.plural, ",".join(res.short_names), res.api_version, str(res.namespaced).lower(), res.kind])
    if a.output != "name":
        env.out.write(_align(rows[1:] if a.no_headers else rows))


def _server_url(env: Env) -> str:
    server = getattr(env.client, "server", None)
    return server or "in-process"


def _running(env: Env, what: str, where: str) -> None:
    # kubectl colours these words only when printing to a terminal.
    if env.out.isatty():
        env.out.write(f"\x1b[0;32m{what}\x1b[0m is running at \x1b[0;33m{where}\x1b[0m\n")
    else:
        env.out.write(f"{what} is running at {where}\n")


def cmd_cluster_info(env: Env) -> None:
    if env.args.rest and env.args.rest[0] == "dump":
        raise CommandError("cluster-info dump is not supported by minik8s")
    env.client.request("GET", "/version")
    _running(env, "Kubernetes control plane", _server_url(env))
    # The cluster's add-ons: Services of kube-system labelled as such (CoreDNS's kube-dns), behind the API's proxy.
    services = resources.get("", "v1", "services")
    assert services is not None
    found = env.client.list(services, "kube-system", label_selector="kubernetes.io/cluster-service=true")
    for service in found.get("items") or []:
        meta, spec = service.get("metadata") or {}, service.get("spec") or {}
        name = str(meta.get("name", ""))
        ports = spec.get("ports") or []
        if ports:
            # <scheme>:<service>:<port name>, the scheme guessed from the first port, as kubectl does
            port_name = str(ports[0].get("name") or "")
            scheme = "https" if port_name == "https" or ports[0].get("port") == 443 else ""
            name = f"{scheme}:{name}:{port_name}" if scheme else (f"{name}:{port_name}" if port_name else name)
        link = f"{_server_url(env)}/api/v1/namespaces/kube-system/services/{name}/proxy"
        _running(env, str((meta.get("labels") or {}).get("kubernetes.io/name") or meta.get("name", "")), link)
    env.out.write("\nTo further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n")


def cmd_version(env: Env) -> None:
    client = {"gitVersion": discovery.GIT_VERSION, "major": "1", "minor": "32"}
    server = None if env.args.client else json.loads(env.client.request("GET", "/version"))
    if env.args.output in ("json", "yaml"):
        doc: dict[str, Any] = {"clientVersion": client}
        if server:
            doc["serverVersion"] = server
        env.out.write(json.dumps(doc, indent=2) + "\n" if env.args.output == "json" else yaml.safe_dump(doc))
        return
    env.out.write(f"Client Version: {client['gitVersion']}\n")
    if server:
        env.out.write(f"Server Version: {server['gitVersion']}\n")


# What `kubectl config view` hides unless --raw: certificate data is omitted, secrets are redacted.
_OMITTED = ("certificate-authority-data", "client-certificate-data", "client-key-data")
_REDACTED = ("token", "password")


def _redacted(config: dict[str, Any]) -> dict[str, Any]:
    clusters = [{**c, "cluster": {k: "DATA+OMITTED" if k in _OMITTED else v for k, v in (c.get("cluster") or {}).items()}}
                for c in config.get("clusters") or []]
    users = [{**u, "user": {k: "DATA+OMITTED" if k in _OMITTED else "REDACTED" if k in _REDACTED else v
                            for k, v in (u.get("user") or {}).items()}}
             for u in config.get("users") or []]
    return {**config, "clusters": clusters, "users": users}


def cmd_config(env: Env) -> None:
    a = env.args
    path = kubeconfig.path(a.kubeconfig)
    config = kubeconfig.load(path)
    action = a.action
    if action == "view":
        shown = config
        if a.minify:
            current = a.context or config.get("current-context")
            ctx = next((c for c in config["contexts"] if c.get("name") == current), None)
            if ctx is None:
                raise CommandError("current-context must exist in order to minify")
            body = ctx.get("context") or {}
            shown = {**config, "contexts": [ctx],
                     "clusters": [c for c in config["clusters"] if c.get("name") == body.get("cluster")],
                     "users": [u for u in config["users"] if u.get("name") == body.get("user")]}
        env.out.write(yaml.safe_dump(shown if a.raw else _redacted(shown), default_flow_style=False, sort_keys=True))
    elif action == "current-context":
        if not config.get("current-context"):
            raise CommandError("current-context is not set")
        env.out.write(config["current-context"] + "\n")
    elif action == "use-context":
        if not a.rest:
            raise CommandError("Unexpected args: []")
        name = a.rest[0]
        if not any(c.get("name") == name for c in config["contexts"]):
            raise CommandError(f'no context exists with the name: "{name}"')
        config["current-context"] = name
        kubeconfig.save(config, path)
        env.out.write(f'Switched to context "{name}".\n')
    elif action == "get-contexts":
        rows = [["CURRENT", "NAME", "CLUSTER", "AUTHINFO", "NAMESPACE"]]
        for ctx in config["contexts"]:
            body = ctx.get("context") or {}
            mark = "*" if ctx.get("name") == config.get("current-context") else ""
            rows.append([mark, ctx.get("name", ""), body.get("cluster", ""), body.get("user", ""),
                         body.get("namespace", "")])
        env.out.write(_align(rows))
    elif action == "set-context":
        if not a.rest and not a.current:
            raise CommandError("you must specify a non-empty context name or --current")
        name = config.get("current-context") if a.current else a.rest[0]
        ctx = next((c for c in config["contexts"] if c.get("name") == name), None)
        if ctx is None:
            ctx = {"name": name, "context": {}}
            config["contexts"].append(ctx)
        if a.namespace:
            ctx.setdefault("context", {})["namespace"] = a.namespace
        kubeconfig.save(config, path)
        env.out.write(f'Context "{name}" modified.\n')
    else:
        raise CommandError(f'unknown command "{action}" for "kubectl config"' if action else
                           "You must specify a subcommand: view, current-context, use-context, get-contexts, "
                           "set-context")
