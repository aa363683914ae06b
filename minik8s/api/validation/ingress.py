"""Ingresses and IngressClasses (``networking.k8s.io/v1``).

Upstream's ``ValidateIngressSpec`` and ``ValidateIngressClass``, with their field paths and wording:

* an Ingress needs ``rules`` or a ``defaultBackend``;
* a rule's ``host`` is a DNS-1123 subdomain, or a wildcard ``*.`` followed by one, never an IP address;
* every path has a ``pathType`` (Exact, Prefix or ImplementationSpecific); an Exact or Prefix path is
  absolute and free of ``//``, ``/./``, ``/../``, ``%2f``, and does not end in ``/..`` or ``/.``;
* a backend is a Service (a valid Service name, and a port name *or* number) or a resource, not both;
* TLS hosts follow the host rules, ``secretName`` and ``ingressClassName`` are DNS-1123 subdomains;
* an IngressClass names its ``spec.controller`` (a domain-prefixed path), which may not change.

Taught in the chapter on Ingress and NetworkPolicy.
"""

from __future__ import annotations

import ipaddress
import re
from minik8s.api.errors import invalid_value, not_supported, required
from minik8s.api.validation.fields import Errors, Obj, _invalid, _list, _map, _str, immutable
from minik8s.api.validation.names import (DNS1123_SUBDOMAIN_FMT, DNS1123_SUBDOMAIN_MSG, is_dns1035_label,
                                          is_dns1123_subdomain, is_port_name, regex_error)

PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
INVALID_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_SUFFIXES = ("/..", "/.")
WILDCARD_FMT = r"\*\." + DNS1123_SUBDOMAIN_FMT
WILDCARD_MSG = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
                "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character")
MAX_CONTROLLER_LENGTH = 250


def _is_wildcard_subdomain(value: str) -> list[str]:
    errs = ["must be no more than 253 characters"] if len(value) > 253 else []
    if not re.fullmatch(WILDCARD_FMT, value):
        errs.append(regex_error(WILDCARD_MSG, WILDCARD_FMT, "*.example.com"))
    return errs


def _host(value: str, path: str, allow_ip: bool = False) -> Errors:
    errs: Errors = []
    try:
        ipaddress.ip_address(value)
        if not allow_ip:
            errs.append(invalid_value(path, value, "must be a DNS name, not an IP address"))
    except ValueError:
        pass
    checks = _is_wildcard_subdomain(value) if "*" in value else is_dns1123_subdomain(value)
    return errs + [invalid_value(path, value, msg) for msg in checks]


def _backend(backend: Obj, path: str) -> Errors:
    service, resource = _map(backend, "service"), _map(backend, "resource")
    if service and resource:
        return [invalid_value(path, "", "cannot set both resource and service backends")]
    if service:
        errs: Errors = []
        name = _str(service, "name")
        if not name:
            errs.append(required(f"{path}.service.name"))
        else:
            errs += [invalid_value(f"{path}.service.name", name, m) for m in is_dns1035_label(name)]
        port = _map(service, "port")
        port_name, number = _str(port, "name"), port.get("number") or 0
        if port_name and number:
            errs.append(invalid_value(f"{path}.service.port", "", "cannot set both port name & port number"))
        elif port_name:
            errs += [invalid_value(f"{path}.service.port.name", port_name, m) for m in is_port_name(port_name)]
        elif number:
            if not isinstance(number, int) or not 0 < number < 65536:
                errs.append(invalid_value(f"{path}.service.port.number", number, "must be between 1 and 65535, inclusive"))
        else:
            errs.append(required(f"{path}.service.port", "port name or number is required"))
        return errs
    if resource:
        errs = []
        if not _str(resource, "kind"):
            errs.append(required(f"{path}.resource.kind"))
        if not _str(resource, "name"):
            errs.append(required(f"{path}.resource.name"))
        return errs
    return [invalid_value(path, "", "resource or service backend is required")]


def _http_path(item: Obj, path: str) -> Errors:
    path_type, value = _str(item, "pathType"), _str(item, "path")
    if not path_type:
        return [required(f"{path}.pathType", "pathType must be specified")]
    errs: Errors = []
    if path_type in ("Exact", "Prefix"):
        if not value.startswith("/"):
            errs.append(invalid_value(f"{path}.path", value, "must be an absolute path"))
        if value:
            errs += [invalid_value(f"{path}.path", value, f"must not contain '{s}'")
                     for s in INVALID_SEQUENCES if s in value]
            errs += [invalid_value(f"{path}.path", value, f"cannot end with '{s}'")
                     for s in INVALID_SUFFIXES if value.endswith(s)]
    elif path_type == "ImplementationSpecific":
        if value and not value.startswith("/"):
            errs.append(invalid_value(f"{path}.path", value, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{path}.pathType", path_type, PATH_TYPES))
    return errs + _backend(_map(item, "backend"), f"{path}.backend")


def _ingress(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    errs: Errors = []
    rules = _list(spec, "rules")
    if not rules and not _map(spec, "defaultBackend"):
        errs.append(_invalid("spec", "[]networking.IngressRule(nil)" if "rules" not in spec else
                             "[]networking.IngressRule{}", "either `defaultBackend` or `rules` must be specified"))
    if _map(spec, "defaultBackend"):
        errs += _backend(_map(spec, "defaultBackend"), "spec.defaultBackend")
    for i, rule in enumerate(rules):
        rule = rule if isinstance(rule, dict) else {}
        path = f"spec.rules[{i}]"
        if _str(rule, "host"):
            errs += _host(_str(rule, "host"), f"{path}.host")
        if "http" in rule:
            paths = _list(_map(rule, "http"), "paths")
            if not paths:
                errs.append(required(f"{path}.http.paths"))
            for j, item in enumerate(paths):
                errs += _http_path(item if isinstance(item, dict) else {}, f"{path}.http.paths[{j}]")
    for i, tls in enumerate(_list(spec, "tls")):
        tls = tls if isinstance(tls, dict) else {}
        for j, host in enumerate(_list(tls, "hosts")):
            errs += _host(str(host), f"spec.tls[{i}].hosts[{j}]", allow_ip=True)
        secret = _str(tls, "secretName")
        if secret:
            errs += [invalid_value(f"spec.tls[{i}].secretName", secret, m) for m in is_dns1123_subdomain(secret)]
    class_name = _str(spec, "ingressClassName")
    if class_name:
        errs += [invalid_value("spec.ingressClassName", class_name, m) for m in is_dns1123_subdomain(class_name)]
    return errs


def _ingress_class(obj: Obj) -> Errors:
    controller = _str(_map(obj, "spec"), "controller")
    if not controller:
        return [required("spec.controller")]
    errs: Errors = []
    if len(controller) > MAX_CONTROLLER_LENGTH:
        errs.append(_invalid("spec.controller", "\"\"", f"must be no more than {MAX_CONTROLLER_LENGTH} characters"))
    domain, slash, rest = controller.partition("/")
    if not slash or not rest:
        errs.append(invalid_value("spec.controller", controller, 'must be a domain-prefixed path (such as "acme.io/foo")'))
    elif is_dns1123_subdomain(domain):
        errs.append(invalid_value("spec.controller", domain, regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT,
                                                                          "example.com")))
    return errs


def _ingress_class_update(new: Obj, old: Obj) -> Errors:
    return immutable(_str(_map(new, "spec"), "controller"), _str(_map(old, "spec"), "controller"), "spec.controller")

