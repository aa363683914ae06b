"""Pods: the rules for a pod spec, a pod template, and what a pod update may change.

Upstream's ``ValidatePodSpec``: volumes with unique DNS-1123 label names and
exactly one source each, the containers (:mod:`minik8s.api.validation.containers`),
restart and DNS policies (``dnsConfig``: at most 3 nameservers, 32 search paths), node selector, grace period and deadline, service
account, hostname, and the scheduling constraints (affinity, topology spread, tolerations:
:mod:`minik8s.api.validation.scheduling`). Workloads validate their pod template with
the same rules (``ValidatePodTemplateSpec``). A pod is almost immutable once
created: an update may change only container images, ``activeDeadlineSeconds``,
add tolerations, and fix a negative grace period.

Interface:
    validate_pod_spec(spec, path="spec") -> Errors
    validate_pod_template(template, path) -> Errors
    POD_UPDATE_MSG                       # the Forbidden message of a refused pod update
    (package-private: _pod(obj) and _pod_update(new, old), called by validate's dispatch table)

Invariants: never raises, never modifies its input (a pod update is compared on a copy).

Taught in chapter 4 (Pods).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from minik8s.api import schema
from minik8s.api.errors import duplicate, forbidden_field, invalid_value, required
from minik8s.api.validation.containers import _containers
from minik8s.api.validation.fields import (Errors, Obj, _dicts, _enum, _int, _invalid, _list, _map, _nonnegative,
                                           _str, _validate_labels)
from minik8s.api.validation.meta import validate_annotations
from minik8s.api.validation.names import is_dns1123_label, is_dns1123_subdomain
from minik8s.api.validation.printing import go_value
from minik8s.api.validation.scheduling import validate_affinity, validate_topology_spread, validate_tolerations

POD_UPDATABLE_FIELDS = ("`spec.containers[*].image`", "`spec.initContainers[*].image`",
                        "`spec.activeDeadlineSeconds`",
                        "`spec.tolerations` (only additions to existing tolerations)",
                        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")
POD_UPDATE_MSG = "pod updates may not change fields other than " + ",".join(POD_UPDATABLE_FIELDS)

_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")

# --- volumes ---------------------------------------------------------------------------------------


def _volumes(spec: Obj, path: str) -> tuple[Errors, set[str]]:
    errs: Errors = []
    names: set[str] = set()
    sources = [k for k in schema.fields("V1Volume") if k != "name"]
    for i, volume in _dicts(spec, "volumes"):
        p = f"{path}.volumes[{i}]"
        name = _str(volume, "name")
        if not name:
            errs.append(required(f"{p}.name"))
        else:
            errs += [invalid_value(f"{p}.name", name, m) for m in is_dns1123_label(name)]
            if name in names:
                errs.append(duplicate(f"{p}.name", name))
            names.add(name)
        errs += _volume_source(volume, sources, p)
    return errs, names


def _volume_source(volume: Obj, sources: list[str], path: str) -> Errors:
    present = [k for k in sources if volume.get(k) is not None]
    if not present:
        return [required(path, "must specify a volume type")]
    errs = [forbidden_field(f"{path}.{k}", "may not specify more than 1 volume type") for k in present[1:]]
    kind, body = present[0], volume.get(present[0])
    body = body if isinstance(body, dict) else {}
    needed = {"configMap": "name", "secret": "secretName", "hostPath": "path",
              "persistentVolumeClaim": "claimName", "nfs": "server"}
    if kind in needed and not _str(body, needed[kind]):
        errs.append(required(f"{path}.{kind}.{needed[kind]}"))
    host_path = _str(body, "path") if kind == "hostPath" else None
    if host_path and ".." in host_path.split("/"):
        errs.append(invalid_value(f"{path}.hostPath.path", host_path, "must not contain '..'"))
    mode = _int(body, "defaultMode")
    if kind in ("configMap", "secret", "downwardAPI", "projected") and mode is not None and not 0 <= mode <= 0o777:
        errs.append(invalid_value(f"{path}.{kind}.defaultMode", mode,
                                  "must be a number between 0 and 0777 (octal), both inclusive"))
    return errs


# Upstream's limits on a pod's resolv.conf (what the C library reads).
MAX_DNS_NAMESERVERS = 3
MAX_DNS_SEARCH_PATHS = 32
MAX_DNS_SEARCH_LIST_CHARS = 2048


def _dns_config(spec: dict[str, Any], path: str) -> Errors:
    """Upstream ``validatePodDNSConfig``: nameservers (IPs, at most 3), searches, option names."""
    config = spec.get("dnsConfig")
    if not isinstance(config, dict):
        return []
    servers = [str(s) for s in _list(config, "nameservers")]
    if _str(spec, "dnsPolicy") == "None" and not servers:
        return [required(f"{path}.nameservers", "must provide at least one DNS nameserver when `dnsPolicy` is None")]
    errs: Errors = []
    if len(servers) > MAX_DNS_NAMESERVERS:
        errs.append(_invalid(f"{path}.nameservers", go_value(servers),
                             f"must not have more than {MAX_DNS_NAMESERVERS} nameservers"))
    for i, server in enumerate(servers):
        try:
            ipaddress.ip_address(server)
        except ValueError:
            errs.append(invalid_value(f"{path}.nameservers[{i}]", server,
                                      "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"))
    searches = [str(s) for s in _list(config, "searches")]
    if len(searches) > MAX_DNS_SEARCH_PATHS:
        errs.append(_invalid(f"{path}.searches", go_value(searches),
                             f"must not have more than {MAX_DNS_SEARCH_PATHS} search paths"))
    if len(" ".join(searches)) > MAX_DNS_SEARCH_LIST_CHARS:
        errs.append(_invalid(f"{path}.searches", go_value(searches), f"must not have more than "
                             f"{MAX_DNS_SEARCH_LIST_CHARS} characters (including spaces) in the search list"))
    for i, search in enumerate(searches):
        errs += [invalid_value(f"{path}.searches[{i}]", search.removesuffix("."), m)
                 for m in is_dns1123_subdomain(search.removesuffix("."))]
    for i, option in _dicts(config, "options"):
        if not option.get("name"):
            errs.append(required(f"{path}.options[{i}]", "Option.Name must not be empty"))
    return errs


# --- pod specs --------------------------------------------------------------------------------------


def validate_pod_spec(spec: Any, path: str = "spec") -> Errors:
    """Upstream ``ValidatePodSpec``, for Pods and for the templates of workloads."""
    spec = spec if isinstance(spec, dict) else {}
    volume_errs, volumes = _volumes(spec, path)
    errs = volume_errs + _containers(spec, path, volumes)
    errs += _enum(spec, "restartPolicy", f"{path}.restartPolicy", _RESTART_POLICIES)
    errs += _enum(spec, "dnsPolicy", f"{path}.dnsPolicy", _DNS_POLICIES)
    if _str(spec, "dnsPolicy") == "None" and spec.get("dnsConfig") is None:
        errs.append(required(f"{path}.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"))
    errs += _dns_config(spec, f"{path}.dnsConfig")
    errs += _validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    errs += validate_affinity(spec.get("affinity"), f"{path}.affinity")
    errs += validate_topology_spread(spec.get("topologySpreadConstraints"), f"{path}.topologySpreadConstraints")
    errs += _nonnegative(spec, "terminationGracePeriodSeconds", f"{path}.terminationGracePeriodSeconds")
    deadline = _int(spec, "activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= 2**31 - 1:
        errs.append(invalid_value(f"{path}.activeDeadlineSeconds", deadline,
                                  "must be between 1 and 2147483647, inclusive"))
    account = _str(spec, "serviceAccountName")
    if account:
        errs += [invalid_value(f"{path}.serviceAccountName", account, m) for m in is_dns1123_subdomain(account)]
    for key in ("hostname", "subdomain"):
        value = _str(spec, key)
        if value:
            errs += [invalid_value(f"{path}.{key}", value, m) for m in is_dns1123_label(value)]
    errs += validate_tolerations(spec.get("tolerations"), f"{path}.tolerations")
    return errs


def validate_pod_template(template: Any, path: str) -> Errors:
    """Upstream ``ValidatePodTemplateSpec``: labels, annotations and the pod spec."""
    template = template if isinstance(template, dict) else {}
    meta = _map(template, "metadata")
    errs = _validate_labels(meta.get("labels"), f"{path}.metadata.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.metadata.annotations")
    errs += validate_pod_spec(template.get("spec"), f"{path}.spec")
    if _list(_map(template, "spec"), "ephemeralContainers"):
        errs.append(forbidden_field(f"{path}.spec.ephemeralContainers",
                                    "ephemeral containers not allowed in pod template"))
    return errs


def _pod(pod: Obj) -> Errors:
    return validate_pod_spec(pod.get("spec"))


def _pod_update(new: Obj, old: Obj) -> Errors:
    """Only images, activeDeadlineSeconds, added tolerations and a fixed-up grace period may change."""
    new_spec, old_spec = _map(new, "spec"), _map(old, "spec")
    munged = dict(new_spec)
    for key in ("initContainers", "containers"):
        olds = _list(old_spec, key)
        news = _list(new_spec, key)
        if len(olds) == len(news) and key in new_spec:
            munged[key] = [({**n, "image": o.get("image")} if isinstance(n, dict) and isinstance(o, dict) else n)
                           for n, o in zip(news, olds)]
    munged["activeDeadlineSeconds"] = old_spec.get("activeDeadlineSeconds")
    # Ephemeral containers change only through pods/ephemeralcontainers, validated there (strategy).
    munged["ephemeralContainers"] = old_spec.get("ephemeralContainers")
    old_tolerations = _list(old_spec, "tolerations")
    if all(t in _list(new_spec, "tolerations") for t in old_tolerations):
        munged["tolerations"] = old_spec.get("tolerations")
    old_grace = _int(old_spec, "terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and _int(new_spec, "terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_spec.get("terminationGracePeriodSeconds")
    munged = {k: v for k, v in munged.items() if v is not None}
    if munged != {k: v for k, v in old_spec.items() if v is not None}:
        return [forbidden_field("spec", POD_UPDATE_MSG)]
    return []
