"""Core objects: Services, ConfigMaps, Secrets, Namespaces and Nodes.

The remaining kinds of the core API group with rules of their own. A Service
needs ports (unless headless or ExternalName) with unique names and
``(protocol, port)`` pairs, a known type and session affinity, and a cluster IP
that is an IP address or ``None`` and never changes once set. ConfigMaps and
Secrets have config keys (no key in both ``data`` and ``binaryData``), a total
size of at most 1 MiB, and, once marked ``immutable``, data that no longer
changes; a typed Secret carries the keys its type requires and keeps its type.
A Namespace's finalizers are qualified names; a Node's taints have known effects
and are unique per key and effect.

Interface:
    MAX_SECRET_SIZE                # bytes, ConfigMaps and Secrets alike
    (package-private: _service, _config_map, _secret, _namespace, _node (obj) and
    _service_update, _config_map_update, _secret_update (new, old), called by validate)

Invariants: never raises, never modifies its input.

Taught in chapter 6 (Namespaces) and chapter 8 (StatefulSets: the headless Service);
Services, ConfigMaps and Secrets have no chapter of their own yet.
"""

from __future__ import annotations

import base64
import ipaddress
import json

from minik8s.api.errors import FieldError, duplicate, forbidden_field, invalid_value, required, too_long
from minik8s.api.validation.containers import _port_num_or_name, _protocol
from minik8s.api.validation.fields import (Errors, Obj, _dicts, _int, _invalid, _list, _map, _str, _unsupported,
                                           _validate_labels, immutable)
from minik8s.api.validation.names import (PORT_RANGE_MSG, _qualified_name, is_config_key, is_dns1123_label,
                                          is_dns1123_subdomain)
from minik8s.api.validation.scheduling import TAINT_EFFECTS
from minik8s.api.validation.printing import _go_quote, go_value

MAX_SECRET_SIZE = 1024 * 1024  # ConfigMaps and Secrets alike

# --- Services -------------------------------------------------------------------------------------------

_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _service(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    kind = _str(spec, "type")
    cluster_ip = _str(spec, "clusterIP") or next(iter(s for s in _list(spec, "clusterIPs") if isinstance(s, str)), "")
    headless = kind == "ClusterIP" and cluster_ip == "None"
    errs: Errors = []
    ports = _dicts(spec, "ports")
    if not _list(spec, "ports") and not headless and kind != "ExternalName":
        errs.append(required("spec.ports"))
    if kind == "ExternalName":
        external = _str(spec, "externalName")
        errs += [invalid_value("spec.externalName", external, m) for m in is_dns1123_subdomain(external.rstrip("."))]
    names: set[str] = set()
    for i, port in ports:
        errs += _service_port(port, f"spec.ports[{i}]", len(ports) > 1, names)
    errs += _validate_labels(spec.get("selector"), "spec.selector")
    affinity = _str(spec, "sessionAffinity")
    if not affinity:
        errs.append(required("spec.sessionAffinity"))
    elif affinity not in ("ClientIP", "None"):
        errs.append(_unsupported("spec.sessionAffinity", affinity, ("ClientIP", "None")))
    if cluster_ip and cluster_ip != "None" and not _is_ip(cluster_ip):
        errs.append(invalid_value("spec.clusterIPs[0]", cluster_ip,
                                  "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    if cluster_ip == "None" and kind in ("NodePort", "LoadBalancer"):
        errs.append(invalid_value("spec.clusterIPs[0]", cluster_ip, f"may not be set to 'None' for {kind} services"))
    if kind == "ExternalName":  # a DNS name only: no virtual IP, so nothing about one either
        errs += [forbidden_field(f"spec.{field}", "may not be set for ExternalName services")
                 for field, present in (("clusterIPs", bool(cluster_ip)), ("ipFamilies", bool(_list(spec, "ipFamilies"))),
                                        ("ipFamilyPolicy", bool(_str(spec, "ipFamilyPolicy")))) if present]
    if not kind:
        errs.append(required("spec.type"))
    elif kind not in _SERVICE_TYPES:
        errs.append(_unsupported("spec.type", kind, _SERVICE_TYPES))
    if kind == "ClusterIP":
        errs += [forbidden_field(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'")
                 for i, port in ports if _int(port, "nodePort")]
    errs += _duplicate_service_ports(ports)
    return errs


def _service_port(port: Obj, path: str, name_required: bool, names: set[str]) -> Errors:
    errs: Errors = []
    name = _str(port, "name")
    if name_required and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs += [invalid_value(f"{path}.name", name, m) for m in is_dns1123_label(name)]
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        names.add(name)
    number = _int(port, "port") or 0
    if not 1 <= number <= 65535:
        errs.append(invalid_value(f"{path}.port", number, PORT_RANGE_MSG))
    errs += _protocol(port, f"{path}.protocol")
    errs += _port_num_or_name(port.get("targetPort"), f"{path}.targetPort")
    node_port = _int(port, "nodePort")
    if node_port and not 1 <= node_port <= 65535:
        errs.append(invalid_value(f"{path}.nodePort", node_port, PORT_RANGE_MSG))
    return errs


def _duplicate_service_ports(ports: list[tuple[int, Obj]]) -> Errors:
    errs: Errors = []
    seen: set[tuple[str, int | None]] = set()
    for i, port in ports:
        key = (_str(port, "protocol"), _int(port, "port"))
        if key in seen:
            rendered = (f'core.ServicePort{{Name:"", Protocol:{_go_quote(key[0])}, AppProtocol:(*string)(nil), '
                        f'Port:{key[1]}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}')
            errs.append(FieldError(f"spec.ports[{i}]", "FieldValueDuplicate", f"Duplicate value: {rendered}"))
        seen.add(key)
    return errs


def _service_update(new: Obj, old: Obj) -> Errors:
    old_ip, new_ip = _str(_map(old, "spec"), "clusterIP"), _str(_map(new, "spec"), "clusterIP")
    if old_ip and new_ip and old_ip != new_ip and _str(_map(new, "spec"), "type") != "ExternalName":
        return [_invalid("spec.clusterIPs[0]", go_value([new_ip]), "may not change once set")]
    return []


# --- ConfigMaps and Secrets ----------------------------------------------------------------------------


def _config_keys(obj: Obj, sections: tuple[str, ...], shown_as: dict[str, str] | None = None) -> Errors:
    errs: Errors = []
    for section in sections:
        for key in _map(obj, section):
            path = f"{(shown_as or {}).get(section, section)}[{key}]"
            errs += [invalid_value(path, str(key), m) for m in is_config_key(str(key))]
    return errs


def _config_map(obj: Obj) -> Errors:
    errs = _config_keys(obj, ("data", "binaryData"))
    data, binary = _map(obj, "data"), _map(obj, "binaryData")
    errs += [invalid_value(f"binaryData[{k}]", k, "duplicate of key present in data") for k in binary if k in data]
    size = sum(len(str(v)) for v in data.values()) + sum(len(str(v)) * 3 // 4 for v in binary.values())
    if size > MAX_SECRET_SIZE:
        errs.append(too_long("[]", "", MAX_SECRET_SIZE))  # the root path, which Go prints as []
    return errs


def _secret(obj: Obj) -> Errors:
    # stringData is merged into data before validation upstream, so its keys are reported as data[...].
    errs = _config_keys(obj, ("data", "stringData"), {"stringData": "data"})
    keys = set(_map(obj, "data")) | set(_map(obj, "stringData"))
    kind = _str(obj, "type")
    needs = {"kubernetes.io/tls": ("tls.crt", "tls.key"), "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
             "kubernetes.io/dockercfg": (".dockercfg",), "kubernetes.io/ssh-auth": ("ssh-privatekey",)}
    errs += [required(f"data[{key}]") for key in needs.get(kind, ()) if key not in keys]
    if kind in ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg"):
        key = needs[kind][0]
        errs += _json_value(obj, key)
    if kind == "kubernetes.io/basic-auth" and not keys & {"username", "password"}:
        errs += [required("data[username]"), required("data[password]")]  # either will do; both named
    if kind == "kubernetes.io/service-account-token" and \
            not _str(_map(_map(obj, "metadata"), "annotations"), "kubernetes.io/service-account.name"):
        errs.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    size = sum(len(str(v)) * 3 // 4 for v in _map(obj, "data").values()) + \
        sum(len(str(v)) for v in _map(obj, "stringData").values())
    if size > MAX_SECRET_SIZE:
        errs.append(too_long("data", "", MAX_SECRET_SIZE))
    return errs


def _json_value(secret: Obj, key: str) -> Errors:
    """A docker config Secret's value must parse as JSON; the error never shows the value."""
    encoded = _map(secret, "data").get(key)
    if encoded is None:
        text = _map(secret, "stringData").get(key)
        if text is None:
            return []
        raw = str(text).encode()
    else:
        try:
            raw = base64.b64decode(str(encoded), validate=True)
        except ValueError:
            return []  # not base64 at all: the decoding of data reports it
    try:
        json.loads(raw)
    except ValueError as err:
        reason = "unexpected end of JSON input" if not raw.strip() or "Expecting" in str(err) and \
            getattr(err, "pos", 0) >= len(raw.rstrip()) else \
            f"invalid character {_go_char(raw, getattr(err, 'pos', 0))} looking for beginning of value"
        return [invalid_value(f"data[{key}]", "<secret contents redacted>", reason)]
    return []


def _go_char(raw: bytes, pos: int) -> str:
    """The offending character as Go quotes it in a JSON syntax error: ``'h'``."""
    char = raw[pos:pos + 1].decode("utf-8", "replace") or " "
    return "'\\''" if char == "'" else f"'{char}'"


def _immutable_data_update(new: Obj, old: Obj, sections: tuple[str, ...]) -> Errors:
    if old.get("immutable") is not True:
        return []
    errs: Errors = []
    if new.get("immutable") is not True:
        errs.append(forbidden_field("immutable", "field is immutable when `immutable` is set"))
    for section in sections:
        if new.get(section) != old.get(section):
            errs.append(forbidden_field(section, "field is immutable when `immutable` is set"))
    return errs


def _config_map_update(new: Obj, old: Obj) -> Errors:
    return _immutable_data_update(new, old, ("data", "binaryData"))


def _secret_update(new: Obj, old: Obj) -> Errors:
    return immutable(new.get("type"), old.get("type"), "type") + _immutable_data_update(new, old, ("data",))


# --- cluster objects ----------------------------------------------------------------------------------------


def _namespace(obj: Obj) -> Errors:
    return [invalid_value(f"spec.finalizers[{i}]", f, m) for i, f in enumerate(_list(_map(obj, "spec"), "finalizers"))
            for m in (_qualified_name(f) if isinstance(f, str) else ["must be a string"])]


def _node(obj: Obj) -> Errors:
    errs: Errors = []
    seen: set[tuple[str, str]] = set()
    for i, taint in _dicts(_map(obj, "spec"), "taints"):
        p = f"spec.taints[{i}]"
        key, effect = _str(taint, "key"), _str(taint, "effect")
        errs += [invalid_value(f"{p}.key", key, m) for m in _qualified_name(key)]
        if not effect:
            errs.append(required(f"{p}.effect"))
        elif effect not in TAINT_EFFECTS:
            errs.append(_unsupported(f"{p}.effect", effect, TAINT_EFFECTS))
        if (key, effect) in seen:
            errs.append(duplicate(f"{p}", f"{key}:{effect}"))
        seen.add((key, effect))
    return errs
