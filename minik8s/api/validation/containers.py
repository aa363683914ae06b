"""Containers: the rules for each container of a pod spec.

Upstream's ``validateContainers`` and its helpers: every container has a unique
DNS-1123 label as its name and an image; ports are in range, named ports are
IANA service names and unique; probes name exactly one handler; resource
requests may not exceed limits (and must equal them for extended resources and
hugepages); environment variables have printable names and at most one source;
each volume mount names a volume of the pod and a unique path. Init containers
may not have probes unless they are sidecars (``restartPolicy: Always``). Ephemeral containers
(``kubectl debug``) share the names' rule and may not have ports, probes, hooks or resources.

Interface (package-private; :mod:`minik8s.api.validation.pods` calls them):
    _containers(spec, path, volumes) -> Errors   # initContainers, containers, then ephemeralContainers
    _protocol(port, path), _port_num_or_name(value, path)   # shared with Services
    ENV_NAME_MSG                                 # upstream's message for env names

Invariants: never raises, never modifies its input; init containers are checked
before containers, and a name is unique across the three lists.

Taught in chapter 4 (Pods: containers, probes and resources).
"""

from __future__ import annotations

from typing import Any

from minik8s.api.errors import duplicate, forbidden_field, invalid_value, required
from minik8s.api.validation.fields import (NONNEGATIVE_MSG, Errors, Obj, _dicts, _enum, _int, _list, _map,
                                           _nonnegative, _not_found, _quantity, _str, _unsupported)
from minik8s.api.validation.names import PORT_RANGE_MSG, _qualified_name, is_dns1123_label, is_port_name
from minik8s.api.validation.printing import canonical_quantity

ENV_NAME_MSG = "a valid environment variable name must consist only of printable ASCII characters other than '='"

_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
# What an ephemeral container may not have (upstream's validateEphemeralContainers).
_EPHEMERAL_FORBIDDEN = ("lifecycle", "livenessProbe", "ports", "readinessProbe", "resizePolicy", "resources",
                        "restartPolicy", "startupProbe")


def _port_num_or_name(value: Any, path: str) -> Errors:
    """Upstream ``ValidatePortNumOrName`` for IntOrString ports."""
    if isinstance(value, str):
        return [invalid_value(path, value, m) for m in is_port_name(value)]
    number = _int({"port": value}, "port") or 0
    return [] if 1 <= number <= 65535 else [invalid_value(path, number, PORT_RANGE_MSG)]


def _container_ports(container: Obj, path: str) -> Errors:
    errs: Errors = []
    names: set[str] = set()
    for i, port in _dicts(container, "ports"):
        p = f"{path}.ports[{i}]"
        name = _str(port, "name")
        if name:
            messages = is_port_name(name)
            if messages:
                errs += [invalid_value(f"{p}.name", name, m) for m in messages]
            elif name in names:
                errs.append(duplicate(f"{p}.name", name))
            names.add(name)
        number = _int(port, "containerPort") or 0
        if number == 0:
            errs.append(required(f"{p}.containerPort"))
        elif not 1 <= number <= 65535:
            errs.append(invalid_value(f"{p}.containerPort", number, PORT_RANGE_MSG))
        host = _int(port, "hostPort") or 0
        if host and not 1 <= host <= 65535:
            errs.append(invalid_value(f"{p}.hostPort", host, PORT_RANGE_MSG))
        errs += _protocol(port, f"{p}.protocol")
    return errs


def _protocol(port: Obj, path: str) -> Errors:
    protocol = _str(port, "protocol")
    if not protocol:
        return [required(path)]
    return [] if protocol in _PROTOCOLS else [_unsupported(path, protocol, _PROTOCOLS)]


def _handler(handler: Obj, path: str) -> Errors:
    """Exactly one of exec, httpGet, tcpSocket (and grpc, for probes)."""
    errs: Errors = []
    count = 0
    for kind in _HANDLERS:
        body = handler.get(kind)
        if body is None:
            continue
        if count:
            errs.append(forbidden_field(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        count += 1
        body = body if isinstance(body, dict) else {}
        if kind == "exec" and not _list(body, "command"):
            errs.append(required(f"{path}.exec.command"))
        elif kind == "httpGet":
            errs += _port_num_or_name(body.get("port"), f"{path}.httpGet.port")
            scheme = _str(body, "scheme")
            if scheme not in ("HTTP", "HTTPS"):
                errs.append(_unsupported(f"{path}.httpGet.scheme", scheme, ("HTTP", "HTTPS")))
        elif kind == "tcpSocket":
            errs += _port_num_or_name(body.get("port"), f"{path}.tcpSocket.port")
        elif kind == "grpc":
            errs += _port_num_or_name(_int(body, "port") or 0, f"{path}.grpc.port")
    if count == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _probe(probe: Any, path: str, must_succeed_once: bool) -> Errors:
    if not isinstance(probe, dict):
        return []
    errs = _handler(probe, path)
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += _nonnegative(probe, key, f"{path}.{key}")
    success = _int(probe, "successThreshold")
    if must_succeed_once and success is not None and success != 1:
        errs.append(invalid_value(f"{path}.successThreshold", success, "must be 1"))
    return errs


def _resource_name(name: str, path: str) -> Errors:
    errs = [invalid_value(path, name, m) for m in _qualified_name(name)]
    if "/" not in name:
        if name not in _STANDARD_CONTAINER_RESOURCES and not name.startswith("hugepages-"):
            errs.append(invalid_value(path, name, "must be a standard resource for containers"))
    return errs


def _resources(resources_: Any, path: str) -> Errors:
    """Upstream ``ValidateResourceRequirements``: names, non-negative amounts, requests <= limits."""
    errs: Errors = []
    limits, requests = _map(resources_, "limits"), _map(resources_, "requests")
    for section, amounts in (("limits", limits), ("requests", requests)):
        for name, amount in amounts.items():
            p = f"{path}.{section}[{name}]"
            errs += _resource_name(str(name), p)
            value = _quantity(amount)
            if value is not None and value < 0:
                errs.append(invalid_value(p, canonical_quantity(amount), NONNEGATIVE_MSG))
    for name, amount in requests.items():
        request, limit = _quantity(amount), _quantity(limits.get(name))
        if request is None or limit is None:
            continue
        # The error names the requests map, not the key: upstream reports it on reqPath.
        shown, limit_shown = canonical_quantity(amount), canonical_quantity(limits[name])
        if request != limit and not _overcommit_allowed(str(name)):
            errs.append(invalid_value(f"{path}.requests", shown, f"must be equal to {name} limit of {limit_shown}"))
        elif request > limit:
            errs.append(invalid_value(f"{path}.requests", shown,
                                      f"must be less than or equal to {name} limit of {limit_shown}"))
    return errs


def _overcommit_allowed(name: str) -> bool:
    """Native resources other than hugepages may be requested below their limit."""
    native = "/" not in name or "kubernetes.io/" in name
    return native and not name.startswith("hugepages-")


def _env(container: Obj, path: str) -> Errors:
    errs: Errors = []
    for i, env in _dicts(container, "env"):
        p = f"{path}.env[{i}]"
        name = _str(env, "name")
        if not name:
            errs.append(required(f"{p}.name"))
        elif not all(32 <= ord(c) <= 126 and c != "=" for c in name):
            errs.append(invalid_value(f"{p}.name", name, ENV_NAME_MSG))
        source = env.get("valueFrom")
        if isinstance(source, dict):
            errs += _env_source(source, env, f"{p}.valueFrom")
    return errs


def _env_source(source: Obj, env: Obj, path: str) -> Errors:
    kinds = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
             if source.get(k) is not None]
    errs: Errors = []
    if not kinds:
        errs.append(invalid_value(path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                            "`configMapKeyRef` or `secretKeyRef`"))
    elif len(kinds) > 1:
        errs.append(invalid_value(path, "", "may not have more than one field specified at a time"))
    if _str(env, "value"):
        errs.append(invalid_value(path, "", "may not be specified when `value` is not empty"))
    for kind in ("configMapKeyRef", "secretKeyRef"):
        ref = source.get(kind)
        if isinstance(ref, dict):
            if not _str(ref, "key"):
                errs.append(required(f"{path}.{kind}.key"))
            if not _str(ref, "name"):
                errs.append(required(f"{path}.{kind}.name"))
    field_ref = source.get("fieldRef")
    if isinstance(field_ref, dict) and not _str(field_ref, "fieldPath"):
        errs.append(required(f"{path}.fieldRef.fieldPath"))
    return errs


def _volume_mounts(container: Obj, volumes: set[str], path: str) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    for i, mount in _dicts(container, "volumeMounts"):
        p = f"{path}.volumeMounts[{i}]"
        name, mount_path = _str(mount, "name"), _str(mount, "mountPath")
        if not name:
            errs.append(required(f"{p}.name"))
        elif name not in volumes:
            errs.append(_not_found(f"{p}.name", name))
        if not mount_path:
            errs.append(required(f"{p}.mountPath"))
        elif mount_path in seen:
            errs.append(invalid_value(f"{p}.mountPath", mount_path, "must be unique"))
        seen.add(mount_path)
    return errs


def _container(container: Obj, path: str, volumes: set[str], init: bool) -> Errors:
    errs: Errors = []
    if not _str(container, "image"):
        errs.append(required(f"{path}.image"))
    errs += _container_ports(container, path)
    errs += _env(container, path)
    errs += _volume_mounts(container, volumes, path)
    errs += _resources(container.get("resources"), f"{path}.resources")
    errs += _enum(container, "imagePullPolicy", f"{path}.imagePullPolicy", _PULL_POLICIES)
    errs += _enum(container, "terminationMessagePolicy", f"{path}.terminationMessagePolicy", _MESSAGE_POLICIES)
    if not init or _str(container, "restartPolicy") == "Always":  # sidecars are probed like containers
        errs += _probe(container.get("livenessProbe"), f"{path}.livenessProbe", True)
        errs += _probe(container.get("readinessProbe"), f"{path}.readinessProbe", False)
        errs += _probe(container.get("startupProbe"), f"{path}.startupProbe", True)
    else:
        for key in ("livenessProbe", "readinessProbe", "startupProbe"):
            if container.get(key) is not None:
                errs.append(forbidden_field(f"{path}.{key}", "may not be set for init containers without "
                                                             "restartPolicy=Always"))
    return errs


def _containers(spec: Obj, path: str, volumes: set[str]) -> Errors:
    errs: Errors = []
    names: set[str] = set()
    if not _list(spec, "containers"):
        errs.append(required(f"{path}.containers"))
    for key, init in (("initContainers", True), ("containers", False), ("ephemeralContainers", False)):
        for i, container in _dicts(spec, key):
            p = f"{path}.{key}[{i}]"
            name = _str(container, "name")
            if not name:
                errs.append(required(f"{p}.name"))
            else:
                errs += [invalid_value(f"{p}.name", name, m) for m in is_dns1123_label(name)]
                if name in names:
                    errs.append(duplicate(f"{p}.name", name))
                names.add(name)
            if key == "ephemeralContainers":
                errs += _ephemeral(container, p, spec)
            else:
                errs += _container(container, p, volumes, init)
    return errs


def _ephemeral(container: Obj, path: str, spec: Obj) -> Errors:
    """An ephemeral container (``kubectl debug``) runs once, for a person: no ports, probes, lifecycle
    hooks or resources; ``targetContainerName`` names a container of the pod."""
    errs: Errors = []
    if not _str(container, "image"):
        errs.append(required(f"{path}.image"))
    errs += _env(container, path)
    errs += _enum(container, "imagePullPolicy", f"{path}.imagePullPolicy", _PULL_POLICIES)
    errs += _enum(container, "terminationMessagePolicy", f"{path}.terminationMessagePolicy", _MESSAGE_POLICIES)
    for key in _EPHEMERAL_FORBIDDEN:
        if container.get(key):
            errs.append(forbidden_field(f"{path}.{key}", "cannot be set for an Ephemeral Container"))
    target = _str(container, "targetContainerName")
    if target and target not in {_str(c, "name") for key in ("initContainers", "containers") for _, c in _dicts(spec, key)}:
        errs.append(_not_found(f"{path}.targetContainerName", target))
    return errs
