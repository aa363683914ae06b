"""EndpointSlices (discovery.k8s.io/v1): the addresses behind a Service, as controllers write them.

kube-proxy and DNS read every slice, so the API server keeps them well formed: an address type
it knows (and never changes), addresses of that type, at most 1000 endpoints of at most 100
addresses each, at most 100 ports with distinct DNS-label names and a known protocol.

Interface (package-private, called by :func:`minik8s.api.validation.validate`):
    _endpoint_slice(obj), _endpoint_slice_update(new, old)

How minik8s differs: ``FQDN`` addresses are not checked for their form, and ``appProtocol`` is not
checked (upstream wants a qualified name).

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import ipaddress

from minik8s.api.errors import FieldError, duplicate, required, too_many
from minik8s.api.validation.fields import Errors, Obj, _dicts, _enum, _invalid, _list, _str, immutable
from minik8s.api.validation.names import is_dns1123_label
from minik8s.api.validation.printing import go_value

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_ENDPOINTS, MAX_ADDRESSES, MAX_PORTS = 1000, 100, 100


def _too_many(path: str, count: int, most: int) -> FieldError:
    return too_many(path, count, most)


def _address_errors(address: str, address_type: str, path: str) -> Errors:
    version = {"IPv4": 4, "IPv6": 6}.get(address_type)
    if version is None:
        return []
    try:
        ok = ipaddress.ip_address(address).version == version
    except ValueError:
        ok = False
    return [] if ok else [_invalid(path, go_value(address), f"must be a valid IPv{version} address")]


def _endpoints(slice_: Obj, address_type: str) -> Errors:
    endpoints = _dicts(slice_, "endpoints")
    if len(endpoints) > MAX_ENDPOINTS:
        return [_too_many("endpoints", len(endpoints), MAX_ENDPOINTS)]
    errs: Errors = []
    for i, endpoint in endpoints:
        addresses = _list(endpoint, "addresses")
        if not addresses:
            errs.append(required(f"endpoints[{i}].addresses", "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            errs.append(_too_many(f"endpoints[{i}].addresses", len(addresses), MAX_ADDRESSES))
        for j, address in enumerate(addresses):
            errs += _address_errors(str(address), address_type, f"endpoints[{i}].addresses[{j}]")
        hostname = endpoint.get("hostname")
        if isinstance(hostname, str):
            errs += [_invalid(f"endpoints[{i}].hostname", go_value(hostname), m) for m in is_dns1123_label(hostname)]
    return errs


def _ports(slice_: Obj) -> Errors:
    ports = _dicts(slice_, "ports")
    if len(ports) > MAX_PORTS:
        return [_too_many("ports", len(ports), MAX_PORTS)]
    errs: Errors = []
    names: set[str] = set()
    for i, port in ports:
        name = _str(port, "name")
        if name:
            errs += [_invalid(f"ports[{i}].name", go_value(name), m) for m in is_dns1123_label(name)]
        if name in names:
            errs.append(duplicate(f"ports[{i}].name", name))
        names.add(name)
        errs += _enum(port, "protocol", f"ports[{i}].protocol", PROTOCOLS)
    return errs


def _endpoint_slice(obj: Obj) -> Errors:
    address_type = _str(obj, "addressType")
    return _enum(obj, "addressType", "addressType", ADDRESS_TYPES) + _endpoints(obj, address_type) + _ports(obj)


def _endpoint_slice_update(new: Obj, old: Obj) -> Errors:
    return immutable(_str(new, "addressType"), _str(old, "addressType"), "addressType")
