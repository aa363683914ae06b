"""Commands that make Services: ``expose`` and ``create service``.

A Service is only a selector and some ports; these commands fill them in so that nobody
has to write the YAML. ``kubectl expose deployment web --port=80`` reads the Deployment,
takes its pod selector (``app=web``) and, when ``--port`` is missing, the container ports of
its pod template, and creates a Service of the same name: ``service/web exposed``. ``kubectl
create service clusterip|nodeport|loadbalancer|externalname NAME --tcp=80:8080`` builds one
from flags alone, with the selector ``app=NAME``. Both print the object instead of sending it
with ``--dry-run=client -o yaml``, the usual way to start a manifest. The ClusterIP and node
ports are the API server's to choose (:mod:`minik8s.apiserver.serviceallocator`).

Interface:
    register(sub, parent)        # adds ``expose`` and the ``create service`` flags
    create_service(env, words)   # ``create service KIND NAME`` (called by ``create``)
    exposed_service(obj, args) -> Service   # what ``expose`` builds from an object (pure)
    service_from_flags(kind, name, args) -> Service   # what ``create service`` builds (pure)

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.validation.names import is_dns1123_subdomain, is_port_name
from minik8s.kubectl import generators
from minik8s.kubectl.command import CommandError, Env, UsageError, resolve
from minik8s.kubectl.printing import print_written

Obj = dict[str, Any]

SERVICES = resources.get("", "v1", "services")

# `kubectl create service` sub-commands: the Service type each makes and the flags only it has.
SERVICE_KINDS = {"clusterip": "ClusterIP", "nodeport": "NodePort", "loadbalancer": "LoadBalancer",
                 "externalname": "ExternalName"}
_OWN_FLAGS = {"clusterip": ("--clusterip",), "nodeport": ("--node-port",), "loadbalancer": (),
              "externalname": ("--external-name",)}
_FLAG_ATTRS = {"--clusterip": "clusterip", "--node-port": "node_port", "--external-name": "external_name"}

# What `kubectl expose` can expose: the kinds with a pod selector.
_EXPOSABLE = ("Pod", "Service", "ReplicationController", "Deployment", "ReplicaSet")

_CREATE_SERVICE_HELP = """\
Create a service using a specified subcommand.

Aliases:
service, svc

Available Commands:
  clusterip      Create a ClusterIP service
  externalname   Create an ExternalName service
  loadbalancer   Create a LoadBalancer service
  nodeport       Create a NodePort service

Usage:
  kubectl create service [flags] [options]

Use "kubectl create service <command> --help" for more information about a given command.
Use "kubectl options" for a list of global command-line options (applies to all commands).
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("expose", parents=[parent], add_help=False)
    p.add_argument("args", nargs="*")
    p.add_argument("--port", default="")
    p.add_argument("--target-port", "--container-port", dest="target_port", default="")
    p.add_argument("--name", default="")
    p.add_argument("--type", default="")
    p.add_argument("--protocol", default="")
    p.add_argument("--selector", default="")
    p.add_argument("-l", "--labels", default="")
    p.add_argument("--cluster-ip", default="")
    p.add_argument("--external-ip", default="")
    p.add_argument("--load-balancer-ip", default="")
    p.add_argument("--session-affinity", default="")
    p.add_argument("-o", "--output", default=None)
    p.add_argument("--dry-run", default=None, nargs="?", const="client")
    p.set_defaults(handler=cmd_expose)
    generators.register_create(("service", "svc"), create_service)
    # `kubectl create service ...` shares `create`'s parser (minik8s.kubectl.write); its flags:
    create = sub.choices["create"]
    create.add_argument("--tcp", action="append", default=[])
    create.add_argument("--node-port", type=int, default=None)
    create.add_argument("--external-name", default=None)
    create.add_argument("--clusterip", default=None)


# --- create service -------------------------------------------------------------------------------------


def _parse_tcp(text: str) -> tuple[int, int | str]:
    """``80:8080`` -> (80, 8080); ``80`` -> (80, 80); ``443:https`` -> (443, "https"), as kubectl parses."""
    port_text, _, target_text = text.partition(":")
    if not port_text.isdigit():
        raise CommandError(f'strconv.ParseUint: parsing "{port_text}": invalid syntax')
    port = int(port_text)
    if not 0 < port <= 65535:
        raise CommandError("must be between 1 and 65535, inclusive")
    if not target_text:
        return port, port
    if re.fullmatch(r"-?\d+", target_text):
        target = int(target_text)
        if not 0 < target <= 65535:
            raise CommandError("must be between 1 and 65535, inclusive")
        return port, target
    problems = is_port_name(target_text)
    if problems:
        raise CommandError(",".join(problems))
    return port, target_text


def service_from_flags(kind: str, name: str, args: argparse.Namespace) -> Obj:
    """The Service ``kubectl create service KIND NAME`` sends, checked as kubectl checks it."""
    service_type = SERVICE_KINDS[kind]
    cluster_ip = args.clusterip or ""
    if cluster_ip == "None" and service_type != "ClusterIP":
        raise CommandError("ClusterIP=None can only be used with ClusterIP service type")
    if cluster_ip != "None" and not args.tcp and service_type != "ExternalName":
        raise CommandError("at least one tcp port specifier must be provided")
    if service_type == "ExternalName":
        external = args.external_name or ""
        if is_dns1123_subdomain(external):
            raise CommandError(f"invalid service external name {external}")
    ports = []
    for text in args.tcp:
        port, target = _parse_tcp(text)
        entry: Obj = {"name": text.replace(":", "-"), "port": port, "protocol": "TCP", "targetPort": target}
        if args.node_port:
            entry["nodePort"] = args.node_port
        ports.append(entry)
    spec: Obj = {}
    if ports:
        spec["ports"] = ports
    spec["selector"] = {"app": name}
    spec["type"] = service_type
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    if service_type == "ExternalName":
        spec["externalName"] = args.external_name
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"creationTimestamp": None, "labels": {"app": name}, "name": name},
            "spec": spec, "status": {"loadBalancer": {}}}


def create_service(env: Env, words: list[str]) -> None:
    """``kubectl create service KIND NAME [--tcp=PORT:TARGET]...``."""
    a = env.args
    if not words:
        env.error(_CREATE_SERVICE_HELP)  # kubectl prints the help to stderr and fails
        return
    kind, rest = words[0], words[1:]
    if kind not in SERVICE_KINDS:
        raise CommandError(f'unknown command "{" ".join(words)}"\n'
                           "See 'kubectl create service -h' for help and examples")
    for flag, attr in _FLAG_ATTRS.items():
        if flag not in _OWN_FLAGS[kind] and getattr(a, attr) is not None:
            raise UsageError(f"unknown flag: {flag}\nSee 'kubectl create service {kind} --help' for usage.")
    if len(rest) != 1:
        raise CommandError(f"exactly one NAME is required, got {len(rest)}\n"
                           f"See 'kubectl create service {kind} -h' for help and examples")
    obj = service_from_flags(kind, rest[0], a)
    if a.namespace:
        obj["metadata"]["namespace"] = a.namespace
    if a.dry_run in ("client", "true"):
        _print(env, obj, "created")
        return
    try:
        created = env.client.create(SERVICES, obj, env.namespace, dry_run=a.dry_run == "server")
    except StatusError as err:
        raise CommandError(f"failed to create {SERVICE_KINDS[kind]} service: {err.message}") from None
    _print(env, created, "created")


def _print(env: Env, obj: Obj, verb: str) -> None:
    env.out.write(print_written(SERVICES, obj, verb, env.args.output, env.args.dry_run))


# --- expose ---------------------------------------------------------------------------------------------


def _map_selector(obj: Obj, kind: str) -> dict[str, str]:
    """The pod selector of an object as a map (upstream's MapBasedSelectorForObject)."""
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return dict((obj.get("metadata") or {}).get("labels") or {})
    if kind in ("Service", "ReplicationController"):
        if not spec.get("selector"):
            raise CommandError("couldn't retrieve selectors via --selector flag or introspection: the "
                               f"{'service' if kind == 'Service' else 'replication controller'} has no pod selector "
                               "set")
        return dict(spec["selector"])
    selector = spec.get("selector") or {}
    if selector.get("matchExpressions"):
        raise CommandError(f'couldn\'t convert expressions - "{selector["matchExpressions"]}" to map-based selector '
                           "format")
    return dict(selector.get("matchLabels") or {})


def _object_ports(obj: Obj, kind: str) -> list[tuple[str, str]]:
    """(port, protocol) of every port an object declares (upstream's PortsForObject/ProtocolsForObject)."""
    spec = obj.get("spec") or {}
    if kind == "Service":
        return [(str(p.get("port")), p.get("protocol", "TCP")) for p in spec.get("ports") or []]
    pod_spec = spec if kind == "Pod" else ((spec.get("template") or {}).get("spec") or {})
    return [(str(p.get("containerPort")), p.get("protocol", "TCP"))
            for c in pod_spec.get("containers") or [] for p in c.get("ports") or []]


def _parse_labels(text: str) -> dict[str, str]:
    labels = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise CommandError(f"unexpected label spec: {part}")
        labels[key] = value
    return labels


def exposed_service(obj: Obj, args: argparse.Namespace) -> Obj:
    """The Service ``kubectl expose`` builds for ``obj`` with these flags."""
    kind = obj.get("kind", "")
    meta = obj.get("metadata") or {}
    selector = _parse_labels(args.selector) if args.selector else _map_selector(obj, kind)
    if not selector:
        raise CommandError("selector must be specified")
    labels = _parse_labels(args.labels) if args.labels else dict(meta.get("labels") or {})
    protocols = dict(_object_ports(obj, kind))
    port_texts = [p for p in args.port.split(",")] if args.port else [p for p, _ in _object_ports(obj, kind)]
    if not port_texts and args.cluster_ip != "None":
        raise CommandError("couldn't find port via --port flag or introspection")
    ports: list[Obj] = []
    for i, text in enumerate(port_texts):
        if not re.fullmatch(r"-?\d+", text):
            raise CommandError(f'strconv.Atoi: parsing "{text}": invalid syntax')
        port: Obj = {}
        if len(port_texts) > 1:
            port["name"] = f"port-{i + 1}"
        port["port"] = int(text)
        port["protocol"] = args.protocol or protocols.get(text, "TCP")
        target = args.target_port
        port["targetPort"] = (int(target) if re.fullmatch(r"\d+", target) else target) if target else int(text)
        ports.append(port)
    spec: Obj = {"ports": ports, "selector": selector} if ports else {"selector": selector}
    if args.external_ip:
        spec["externalIPs"] = [args.external_ip]
    if args.type:
        spec["type"] = args.type
    if args.type == "LoadBalancer" and args.load_balancer_ip:
        spec["loadBalancerIP"] = args.load_balancer_ip
    if args.session_affinity:
        spec["sessionAffinity"] = args.session_affinity
    if args.cluster_ip:
        spec["clusterIP"] = args.cluster_ip
    metadata: Obj = {"creationTimestamp": None}
    if labels:
        metadata["labels"] = labels
    metadata["name"] = args.name or meta.get("name", "")
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec,
            "status": {"loadBalancer": {}}}


def _target(env: Env) -> tuple[Resource, str]:
    words = env.args.args
    if not words:
        raise CommandError("You must provide one or more resources by argument or filename.\n"
                           "Example resource specifications include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n"
                           "   '<resource> <name>'\n   '<resource>'")
    if len(words) == 1 and "/" in words[0]:
        kind, _, name = words[0].partition("/")
    elif len(words) == 2:
        kind, name = words
    else:
        raise CommandError("resource(s) were provided, but no name was specified")
    return resolve(kind), name


def cmd_expose(env: Env) -> None:
    """``kubectl expose (pod|service|deployment|replicaset|rc) NAME [--port=...]``."""
    a = env.args
    resource, name = _target(env)
    if resource.kind not in _EXPOSABLE:
        kind = f"{resource.kind}.{resource.group}" if resource.group else resource.kind
        raise CommandError(f"cannot expose a {kind}")
    obj = env.client.get(resource, name, env.namespace)
    obj.setdefault("kind", resource.kind)
    service = exposed_service(obj, a)
    if a.namespace:
        service["metadata"]["namespace"] = a.namespace
    if a.dry_run in ("client", "true"):
        _print(env, service, "exposed")
        return
    created = env.client.create(SERVICES, service, env.namespace, dry_run=a.dry_run == "server")
    _print(env, created, "exposed")
