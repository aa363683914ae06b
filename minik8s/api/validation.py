"""Validation: the rules an object must satisfy before the API server stores it.

After decoding (:mod:`minik8s.api.schema`) and defaulting (:mod:`minik8s.api.defaults`),
the API server validates every create and update. A failure is a 422 Invalid whose
causes are field errors, worded as upstream words them, so that kubectl prints the
same lines against minik8s as against a real cluster::

    The Pod "web" is invalid: spec.containers[0].image: Required value

Rules follow ``k8s.io/kubernetes/pkg/apis/{core,apps,batch}/validation`` and
``k8s.io/apimachinery/pkg/util/validation``: names (DNS-1123 subdomains, DNS-1123
and DNS-1035 labels, path segments), object metadata, pod specs (containers, ports,
probes, resources, volumes, env), workload specs (selectors that must match their
templates, rolling-update parameters), Services, ConfigMaps, Secrets, volumes and
claims, and the fields that may not change on update.

Interface:
    validate(obj, old=None) -> list[FieldError]   # old is the stored object on update
    immutable(new, old, path) -> list[FieldError]  # upstream ValidateImmutableField
    canonical_quantity(text) -> str                # Quantity.String(), as messages print it
    validate_cron_schedule(text) -> str | None     # why a cron schedule is invalid

Invariants: ``validate`` never raises on any JSON value (garbage yields errors or
nothing; the schema decoder catches type errors first), never modifies its input,
and reports errors in the order upstream does.

Taught in chapter 3 (the API: defaulting and validation); the workload rules in
chapters 5-8.
"""

from __future__ import annotations

import ipaddress
import math
import re
from fractions import Fraction
from typing import Any, Callable, Iterable

from minik8s.api import quantity, resources, schema
from minik8s.api.errors import (FieldError, duplicate, forbidden_field, invalid_value, not_supported, required,
                                too_long)

Obj = dict[str, Any]
Errors = list[FieldError]

# --- messages of k8s.io/apimachinery/pkg/util/validation ------------------------------------

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                     "and must start and end with an alphanumeric character")
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + r"(\." + DNS1123_LABEL_FMT + ")*"
DNS1123_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                         "'-' or '.', and must start and end with an alphanumeric character")
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
                     "an alphabetic character, and end with an alphanumeric character")
CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
PERCENT_FMT = "[0-9]+%"
PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"
ENV_NAME_MSG = "a valid environment variable name must consist only of printable ASCII characters other than '='"
PORT_RANGE_MSG = "must be between 1 and 65535, inclusive"
NONNEGATIVE_MSG = "must be greater than or equal to 0"
POSITIVE_MSG = "must be greater than zero"
IMMUTABLE_MSG = "field is immutable"
TOTAL_ANNOTATION_SIZE = 256 * 1024  # bytes, keys and values together
MAX_SECRET_SIZE = 1024 * 1024  # ConfigMaps and Secrets alike

_LABEL_RE = re.compile(DNS1123_LABEL_FMT)
_SUBDOMAIN_RE = re.compile(DNS1123_SUBDOMAIN_FMT)
_DNS1035_RE = re.compile(DNS1035_LABEL_FMT)
_CONFIG_KEY_RE = re.compile(CONFIG_KEY_FMT)
_PERCENT_RE = re.compile(PERCENT_FMT)
_STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion"}

POD_UPDATABLE_FIELDS = ("`spec.containers[*].image`", "`spec.initContainers[*].image`",
                        "`spec.activeDeadlineSeconds`",
                        "`spec.tolerations` (only additions to existing tolerations)",
                        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")
POD_UPDATE_MSG = "pod updates may not change fields other than " + ",".join(POD_UPDATABLE_FIELDS)
STS_UPDATE_MSG = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                  "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")
PVC_UPDATE_MSG = ("spec is immutable after creation except resources.requests and volumeAttributesClassName "
                  "for bound claims")


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """Upstream ``RegexError``; every example keeps its trailing comma, hence ``'a',  or 'b'``."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    return f"{msg} (e.g. " + " or ".join(f"'{e}', " for e in examples) + f"regex used for validation is '{fmt}')"


def _size(text: str) -> int:
    return len(text.encode("utf-8"))  # Go measures strings in bytes


def is_dns1123_label(value: str) -> list[str]:
    errs = []
    if _size(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_RE.fullmatch(value):
        errs.append(regex_error(DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if _size(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs = []
    if _size(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1035_RE.fullmatch(value):
        errs.append(regex_error(DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_path_segment(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def is_port_name(port: str) -> list[str]:
    """IANA_SVC_NAME: what a named port may be called (``http``, ``metrics``)."""
    errs = []
    if len(port) > 15:
        errs.append("must be no more than 15 characters")
    if not re.fullmatch(r"[-a-z0-9]+", port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search(r"[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_config_key(value: str) -> list[str]:
    errs = []
    if _size(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _CONFIG_KEY_RE.fullmatch(value):
        errs.append(regex_error(CONFIG_KEY_MSG, CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _qualified_name(value: str) -> list[str]:
    from minik8s.api.selectors import is_qualified_name  # written alongside this module
    return is_qualified_name(value)


def _validate_labels(labels: Any, path: str) -> Errors:
    if not isinstance(labels, dict):
        return []
    from minik8s.api.selectors import validate_labels
    return validate_labels({str(k): v for k, v in labels.items()}, path)


def _validate_selector_syntax(selector: Any, path: str) -> Errors:
    if not isinstance(selector, dict):
        return []
    from minik8s.api.selectors import validate_label_selector
    # Past the schema decoder these are strings; coerce so hand-made garbage cannot crash the checks.
    expressions = [{"key": str(e.get("key", "")), "operator": str(e.get("operator", "")),
                    "values": [str(v) for v in _list(e, "values")]}
                   for e in _list(selector, "matchExpressions") if isinstance(e, dict)]
    return validate_label_selector({"matchLabels": _map(selector, "matchLabels"), "matchExpressions": expressions},
                                   path)


def _selector_matches(selector: Any, labels: Any) -> bool | None:
    """Whether a metav1.LabelSelector selects ``labels``; None when the selector is unusable."""
    from minik8s.api.selectors import from_label_selector
    try:
        parsed = from_label_selector(selector if isinstance(selector, dict) else None)
    except (ValueError, TypeError, AttributeError):
        return None
    return bool(parsed.matches({str(k): str(v) for k, v in (labels or {}).items()} if isinstance(labels, dict)
                               else {}))


# --- how Go prints values inside messages ----------------------------------------------------


def go_value(value: Any) -> str:
    """Render a value as upstream's field errors do (``%q``, ``%v`` or ``%#v``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        whole = isinstance(value, float) and math.isfinite(value) and value == int(value)
        return str(int(value)) if whole else str(value)
    if isinstance(value, str):
        return _go_quote(value)
    if value is None:
        return "null"
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return go_string_map(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(_go_quote(v) for v in value) + "}"
    return repr(value)


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def go_string_map(labels: Any) -> str:
    """``map[string]string{"app":"x", "tier":"web"}`` (Go's %#v sorts keys); nil prints ``(nil)``."""
    if not isinstance(labels, dict):
        return "map[string]string(nil)"
    items = ", ".join(f"{_go_quote(str(k))}:{_go_quote(str(v))}" for k, v in sorted(labels.items()))
    return "map[string]string{" + items + "}"


def go_label_selector(selector: Any) -> str:
    """A metav1.LabelSelector as ``%#v`` prints it."""
    selector = selector if isinstance(selector, dict) else {}
    labels = selector.get("matchLabels")
    expressions = selector.get("matchExpressions")
    if isinstance(expressions, list) and expressions:
        rendered = ", ".join(
            "v1.LabelSelectorRequirement{Key:%s, Operator:%s, Values:%s}" % (
                _go_quote(str(e.get("key", ""))), _go_quote(str(e.get("operator", ""))),
                go_value(e.get("values")) if e.get("values") else "[]string(nil)")
            for e in expressions if isinstance(e, dict))
        expr_text = "[]v1.LabelSelectorRequirement{" + rendered + "}"
    elif isinstance(expressions, list):
        expr_text = "[]v1.LabelSelectorRequirement{}"
    else:
        expr_text = "[]v1.LabelSelectorRequirement(nil)"
    return f"v1.LabelSelector{{MatchLabels:{go_string_map(labels)}, MatchExpressions:{expr_text}}}"


def _int_or_string(value: Any) -> str:
    # IntOrString implements fmt.Stringer, so messages print it bare: 0, 25%.
    return go_value(value).strip('"') if isinstance(value, str) else go_value(value)


def _invalid(path: str, rendered: str, detail: str) -> FieldError:
    """An Invalid error whose value is already rendered Go-style."""
    return FieldError(path, "FieldValueInvalid", f"Invalid value: {rendered}: {detail}")


def _not_found(path: str, value: Any) -> FieldError:
    return FieldError(path, "FieldValueNotFound", f"Not found: {go_value(value)}")


def _unsupported(path: str, value: Any, supported: Iterable[str]) -> FieldError:
    return not_supported(path, value, supported)


# --- tolerant accessors (validate must never raise) -------------------------------------------


def _map(parent: Any, key: str) -> Obj:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, dict) else {}


def _list(parent: Any, key: str) -> list[Any]:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, list) else []


def _str(parent: Any, key: str) -> str:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, str) else ""


def _int(parent: Any, key: str) -> int | None:
    value = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return int(value)


def _dicts(parent: Any, key: str) -> list[tuple[int, Obj]]:
    return [(i, v) for i, v in enumerate(_list(parent, key)) if isinstance(v, dict)]


def _nonnegative(parent: Any, key: str, path: str) -> Errors:
    value = _int(parent, key)
    return [invalid_value(path, value, NONNEGATIVE_MSG)] if value is not None and value < 0 else []


def immutable(new: Any, old: Any, path: str, rendered: str | None = None) -> Errors:
    """Upstream ``ValidateImmutableField``: ``<path>: Invalid value: <new>: field is immutable``."""
    if new == old:
        return []
    return [_invalid(path, rendered if rendered is not None else go_value(new), IMMUTABLE_MSG)]


# --- quantities ---------------------------------------------------------------------------------

_DECIMAL_SUFFIXES = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIXES = {10: "Ki", 20: "Mi", 30: "Gi", 40: "Ti", 50: "Pi", 60: "Ei"}


def canonical_quantity(text: Any) -> str:
    """``Quantity.String()``: ``0.5`` -> ``500m``, ``1000`` -> ``1k``, ``1024Mi`` -> ``1Gi``."""
    value = quantity.parse(text)
    raw = text.strip() if isinstance(text, str) else ""
    if raw.endswith(tuple(_BINARY_SUFFIXES.values())) and -1024 < value < 1024:
        raw = ""  # small binary values print as decimal SI upstream
    if raw.endswith(tuple(_BINARY_SUFFIXES.values())) and value.denominator == 1:
        for shift in sorted(_BINARY_SUFFIXES, reverse=True):
            if value % (1 << shift) == 0:
                return f"{value // (1 << shift)}{_BINARY_SUFFIXES[shift]}"
        return str(value)
    exponent_form = bool(re.search(r"\d[eE][+-]?\d+$", raw))
    scaled = value if value * 10**9 == int(value * 10**9) else Fraction(math.ceil(value * 10**9), 10**9)
    for exponent in sorted(_DECIMAL_SUFFIXES, reverse=True):
        mantissa = scaled / Fraction(10) ** exponent
        if mantissa.denominator == 1 and (mantissa != 0 or exponent == 0):
            if exponent_form:
                return f"{mantissa}e{exponent}" if exponent else f"{mantissa}"
            return f"{mantissa}{_DECIMAL_SUFFIXES[exponent]}"
    return str(scaled)


def _quantity(value: Any) -> Fraction | None:
    try:
        return quantity.parse(value) if not isinstance(value, bool) else None
    except (ValueError, TypeError, ZeroDivisionError, OverflowError):
        return None


# --- object metadata ----------------------------------------------------------------------------

NameCheck = Callable[[str], list[str]]


def _mask_trailing_dash(name: str) -> str:
    # generateName prefixes may end in '-': upstream checks them as if it were a letter.
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def validate_object_meta(meta: Any, namespaced: bool, name_check: NameCheck, path: str = "metadata") -> Errors:
    """Upstream ``ValidateObjectMeta``: name or generateName, namespace, labels, annotations."""
    meta = meta if isinstance(meta, dict) else {}
    errs: Errors = []
    name, generate = _str(meta, "name"), _str(meta, "generateName")
    if generate:
        errs += [invalid_value(f"{path}.generateName", generate, m) for m in name_check(_mask_trailing_dash(generate))]
    if not name:
        if not generate:
            errs.append(required(f"{path}.name", "name or generateName is required"))
    else:
        errs += [invalid_value(f"{path}.name", name, m) for m in name_check(name)]
    namespace = _str(meta, "namespace")
    if namespaced:
        if not namespace:
            errs.append(required(f"{path}.namespace"))
        else:
            errs += [invalid_value(f"{path}.namespace", namespace, m) for m in is_dns1123_label(namespace)]
    elif namespace:
        errs.append(forbidden_field(f"{path}.namespace", "not allowed on this type"))
    errs += _nonnegative(meta, "generation", f"{path}.generation")
    errs += _validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    for i, finalizer in enumerate(_list(meta, "finalizers")):
        errs += _finalizer(finalizer, f"{path}.finalizers[{i}]")
    return errs


def validate_annotations(annotations: Any, path: str) -> Errors:
    if not isinstance(annotations, dict):
        return []
    errs = [invalid_value(path, key, m) for key in annotations for m in _qualified_name(str(key).lower())]
    total = sum(_size(str(k)) + _size(v if isinstance(v, str) else str(v)) for k, v in annotations.items())
    if total > TOTAL_ANNOTATION_SIZE:
        errs.append(too_long(path, "", TOTAL_ANNOTATION_SIZE))
    return errs


def _finalizer(name: Any, path: str) -> Errors:
    name = name if isinstance(name, str) else ""
    errs = [invalid_value(path, name, m) for m in _qualified_name(name)]
    if not errs and "/" not in name and name not in _STANDARD_FINALIZERS:
        errs.append(invalid_value(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def validate_object_meta_update(new: Any, old: Any, path: str = "metadata") -> Errors:
    """Name, namespace, uid and creationTimestamp never change."""
    new, old = (new if isinstance(new, dict) else {}), (old if isinstance(old, dict) else {})
    errs: Errors = []
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        errs += immutable(new.get(key), old.get(key), f"{path}.{key}")
    return errs


# --- containers ---------------------------------------------------------------------------------

_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")


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


def _enum(parent: Obj, key: str, path: str, allowed: tuple[str, ...]) -> Errors:
    value = _str(parent, key)
    if not value:
        return [required(path)]
    return [] if value in allowed else [_unsupported(path, value, allowed)]


def _containers(spec: Obj, path: str, volumes: set[str]) -> Errors:
    errs: Errors = []
    names: set[str] = set()
    if not _list(spec, "containers"):
        errs.append(required(f"{path}.containers"))
    for key, init in (("initContainers", True), ("containers", False)):
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
            errs += _container(container, p, volumes, init)
    return errs


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
    mode = _int(body, "defaultMode")
    if kind in ("configMap", "secret", "downwardAPI", "projected") and mode is not None and not 0 <= mode <= 0o777:
        errs.append(invalid_value(f"{path}.{kind}.defaultMode", mode,
                                  "must be a number between 0 and 0777 (octal), both inclusive"))
    return errs


# --- pod specs --------------------------------------------------------------------------------------

_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_TOLERATION_OPERATORS = ("Equal", "Exists")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def validate_pod_spec(spec: Any, path: str = "spec") -> Errors:
    """Upstream ``ValidatePodSpec``, for Pods and for the templates of workloads."""
    spec = spec if isinstance(spec, dict) else {}
    volume_errs, volumes = _volumes(spec, path)
    errs = volume_errs + _containers(spec, path, volumes)
    errs += _enum(spec, "restartPolicy", f"{path}.restartPolicy", _RESTART_POLICIES)
    errs += _enum(spec, "dnsPolicy", f"{path}.dnsPolicy", _DNS_POLICIES)
    if _str(spec, "dnsPolicy") == "None" and spec.get("dnsConfig") is None:
        errs.append(required(f"{path}.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"))
    errs += _validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
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
    errs += _tolerations(spec, f"{path}.tolerations")
    return errs


def _tolerations(spec: Obj, path: str) -> Errors:
    errs: Errors = []
    for i, toleration in _dicts(spec, "tolerations"):
        p = f"{path}[{i}]"
        key, operator = _str(toleration, "key"), _str(toleration, "operator") or "Equal"
        if key:
            errs += [invalid_value(f"{p}.key", key, m) for m in _qualified_name(key)]
        elif operator != "Exists":
            errs.append(invalid_value(f"{p}.operator", operator,
                                      "operator must be Exists when `key` is empty, which means \"match all "
                                      "values and all keys\""))
        if operator not in _TOLERATION_OPERATORS:
            errs.append(_unsupported(f"{p}.operator", operator, _TOLERATION_OPERATORS))
        elif operator == "Exists" and _str(toleration, "value"):
            errs.append(invalid_value(f"{p}.operator", _str(toleration, "value"),
                                      "value must be empty when `operator` is 'Exists'"))
        effect = _str(toleration, "effect")
        if effect and effect not in _TAINT_EFFECTS:
            errs.append(_unsupported(f"{p}.effect", effect, _TAINT_EFFECTS))
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(invalid_value(f"{p}.effect", effect,
                                      "effect must be 'NoExecute' when `tolerationSeconds` is set"))
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


# --- workloads: selectors and templates ----------------------------------------------------------------


def _selector(spec: Obj, path: str, owner: str, require: bool = True) -> Errors:
    selector = spec.get("selector")
    if selector is None:
        return [required(f"{path}.selector")] if require else []
    errs = _validate_selector_syntax(selector, f"{path}.selector")
    if isinstance(selector, dict) and not _map(selector, "matchLabels") and not _list(selector, "matchExpressions"):
        errs.append(_invalid(f"{path}.selector", go_label_selector(selector), f"empty selector is invalid for {owner}"))
    return errs


def _template_matches(spec: Obj, path: str) -> Errors:
    template_labels = _map(_map(spec, "template"), "metadata").get("labels")
    selector = spec.get("selector")
    is_empty = isinstance(selector, dict) and not _map(selector, "matchLabels") and not _list(selector,
                                                                                              "matchExpressions")
    if selector is None or is_empty:
        return []  # reported by _selector; an empty selector would match everything anyway
    if _selector_matches(selector, template_labels) is False:
        return [_invalid(f"{path}.template.metadata.labels", go_string_map(template_labels),
                         "`selector` does not match template `labels`")]
    return []


def _always_restart(spec: Obj, path: str, owner: str) -> Errors:
    template_spec = _map(_map(spec, "template"), "spec")
    errs: Errors = []
    policy = _str(template_spec, "restartPolicy")
    if policy != "Always":
        errs.append(_unsupported(f"{path}.template.spec.restartPolicy", policy, ("Always",)))
    if template_spec.get("activeDeadlineSeconds") is not None:
        errs.append(forbidden_field(f"{path}.template.spec.activeDeadlineSeconds",
                                    f"activeDeadlineSeconds in {owner} is not Supported"))
    return errs


def _replicated(spec: Obj, path: str, owner: str, kind_word: str) -> Errors:
    """What Deployments, ReplicaSets and StatefulSets share: replicas, selector, template."""
    errs = _nonnegative(spec, "replicas", f"{path}.replicas")
    errs += _selector(spec, path, kind_word)
    errs += _template_matches(spec, path)
    errs += validate_pod_template(spec.get("template"), f"{path}.template")
    errs += _always_restart(spec, path, owner)
    errs += _nonnegative(spec, "minReadySeconds", f"{path}.minReadySeconds")
    errs += _nonnegative(spec, "revisionHistoryLimit", f"{path}.revisionHistoryLimit")
    return errs


def _percent_or_int(value: Any, path: str) -> Errors:
    """Upstream ``ValidatePositiveIntOrPercent``."""
    if isinstance(value, str):
        return [_invalid(path, value, regex_error(PERCENT_MSG, PERCENT_FMT, "1%", "93%"))
                for _ in [0] if not _PERCENT_RE.fullmatch(value)]
    number = _int({"v": value}, "v")
    if number is not None and number < 0:
        return [invalid_value(path, number, NONNEGATIVE_MSG)]
    return []


def _int_or_percent_value(value: Any) -> int:
    if isinstance(value, str):
        digits = value[:-1] if value.endswith("%") else value
        return int(digits) if digits.isdigit() else 0
    return _int({"v": value}, "v") or 0


def _over_100_percent(value: Any, path: str) -> Errors:
    if isinstance(value, str) and _PERCENT_RE.fullmatch(value) and int(value[:-1]) > 100:
        return [_invalid(path, _int_or_string(value), "must not be greater than 100%")]
    return []


def _deployment(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    errs = _replicated(spec, "spec", "ReplicaSet", "deployment")
    errs += _deployment_strategy(_map(spec, "strategy"), "spec.strategy")
    deadline, min_ready = _int(spec, "progressDeadlineSeconds"), _int(spec, "minReadySeconds") or 0
    if deadline is not None:
        errs += _nonnegative(spec, "progressDeadlineSeconds", "spec.progressDeadlineSeconds")
        if deadline <= min_ready:
            errs.append(invalid_value("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"))
    return errs


def _deployment_strategy(strategy: Obj, path: str) -> Errors:
    kind = _str(strategy, "type")
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if rolling is not None:
            return [forbidden_field(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind == "RollingUpdate":
        if not isinstance(rolling, dict):
            return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
        p = f"{path}.rollingUpdate"
        errs = _percent_or_int(unavailable, f"{p}.maxUnavailable") + _percent_or_int(surge, f"{p}.maxSurge")
        if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
            errs.append(_invalid(f"{p}.maxUnavailable", _int_or_string(unavailable if unavailable is not None else 0),
                                 "may not be 0 when `maxSurge` is 0"))
        return errs + _over_100_percent(unavailable, f"{p}.maxUnavailable")
    rendered = f'apps.DeploymentStrategy{{Type:{_go_quote(kind)}, RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}}'
    return [FieldError(path, "FieldValueNotSupported",
                       f'Unsupported value: {rendered}: supported values: "Recreate", "RollingUpdate"')]


def _replica_set(obj: Obj) -> Errors:
    return _replicated(_map(obj, "spec"), "spec", "ReplicaSet", "deployment")  # upstream's wording, sic


def _stateful_set(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    errs: Errors = []
    policy = _str(spec, "podManagementPolicy")
    if not policy:
        errs.append(required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(invalid_value("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'"))
    errs += _sts_update_strategy(_map(spec, "updateStrategy"))
    retention = _map(spec, "persistentVolumeClaimRetentionPolicy")
    for key in ("whenDeleted", "whenScaled"):
        value = _str(retention, key)
        if value and value not in ("Retain", "Delete"):
            errs.append(_unsupported(f"spec.persistentVolumeClaimRetentionPolicy.{key}", value, ("Retain", "Delete")))
    errs += _nonnegative(_map(spec, "ordinals"), "start", "spec.ordinals.start")
    errs += _replicated(_with_claim_volumes(spec), "spec", "StatefulSet", "statefulset")
    for i, claim in _dicts(spec, "volumeClaimTemplates"):
        errs += _claim_spec(_map(claim, "spec"), f"spec.volumeClaimTemplates[{i}].spec")
    return errs


def _with_claim_volumes(spec: Obj) -> Obj:
    """The spec as the controller will stamp its pods: each ``volumeClaimTemplates`` entry becomes a
    volume of the same name, so containers may mount a claim template (upstream accepts that)."""
    claims = [_str(_map(claim, "metadata"), "name") for _, claim in _dicts(spec, "volumeClaimTemplates")]
    template = _map(spec, "template")
    pod_spec = _map(template, "spec")
    existing = {_str(v, "name") for _, v in _dicts(pod_spec, "volumes")}
    extra = [{"name": n, "persistentVolumeClaim": {"claimName": n}} for n in claims if n and n not in existing]
    if not extra:
        return spec
    new_pod_spec = {**pod_spec, "volumes": list(_list(pod_spec, "volumes")) + extra}
    return {**spec, "template": {**template, "spec": new_pod_spec}}


def _sts_update_strategy(strategy: Obj) -> Errors:
    kind = _str(strategy, "type")
    rolling = strategy.get("rollingUpdate")
    if not kind:
        return [required("spec.updateStrategy")]
    if kind == "OnDelete":
        if rolling is not None:
            return [_invalid("spec.updateStrategy.rollingUpdate", "{...}",
                             "only allowed for updateStrategy 'RollingUpdate'")]
        return []
    if kind == "RollingUpdate":
        errs = _nonnegative(rolling, "partition", "spec.updateStrategy.rollingUpdate.partition")
        return errs
    return [_invalid("spec.updateStrategy", f"apps.StatefulSetUpdateStrategy{{Type:{_go_quote(kind)}}}",
                     "must be 'RollingUpdate' or 'OnDelete'")]


def _daemon_set(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    errs = _validate_selector_syntax(spec.get("selector"), "spec.selector")
    template_labels = _map(_map(spec, "template"), "metadata").get("labels")
    if spec.get("selector") is None or _selector_matches(spec.get("selector"), template_labels) is False:
        errs.append(_invalid("spec.template.metadata.labels", go_string_map(template_labels),
                             "`selector` does not match template `labels`"))
    selector = spec.get("selector")
    if isinstance(selector, dict) and not _map(selector, "matchLabels") and not _list(selector, "matchExpressions"):
        errs.append(_invalid("spec.selector", go_label_selector(selector), "empty selector is invalid for daemonset"))
    errs += validate_pod_template(spec.get("template"), "spec.template")
    template_spec = _map(_map(spec, "template"), "spec")
    if _str(template_spec, "restartPolicy") != "Always":
        errs.append(_unsupported("spec.template.spec.restartPolicy", _str(template_spec, "restartPolicy"), ("Always",)))
    deadline = _int(template_spec, "activeDeadlineSeconds")
    if deadline is not None:
        errs.append(invalid_value("spec.template.spec.activeDeadlineSeconds", deadline,
                                  "activeDeadlineSeconds in DaemonSet is not Supported"))
    errs += _nonnegative(spec, "minReadySeconds", "spec.minReadySeconds")
    errs += _daemon_set_strategy(_map(spec, "updateStrategy"), "spec.updateStrategy")
    errs += _nonnegative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit")
    return errs


def _daemon_set_strategy(strategy: Obj, path: str) -> Errors:
    kind = _str(strategy, "type")
    if kind == "OnDelete":
        return []
    if kind != "RollingUpdate":
        rendered = (f"apps.DaemonSetUpdateStrategy{{Type:{_go_quote(kind)}, "
                    "RollingUpdate:(*apps.RollingUpdateDaemonSet)(nil)}")
        return [FieldError(path, "FieldValueNotSupported",
                           f'Unsupported value: {rendered}: supported values: "OnDelete", "RollingUpdate"')]
    rolling = strategy.get("rollingUpdate")
    if not isinstance(rolling, dict):
        return [required(f"{path}.rollingUpdate")]
    p = f"{path}.rollingUpdate"
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    errs = _percent_or_int(unavailable, f"{p}.maxUnavailable") + _percent_or_int(surge, f"{p}.maxSurge")
    errs += _over_100_percent(unavailable, f"{p}.maxUnavailable") + _over_100_percent(surge, f"{p}.maxSurge")
    has_unavailable, has_surge = _int_or_percent_value(unavailable) != 0, _int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        errs.append(_invalid(f"{p}.maxSurge", _int_or_string(surge), "may not be set when maxUnavailable is non-zero"))
    elif not has_unavailable and not has_surge:
        errs.append(required(f"{p}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errs


def _replication_controller(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    errs = _nonnegative(spec, "replicas", "spec.replicas")
    errs += _nonnegative(spec, "minReadySeconds", "spec.minReadySeconds")
    selector = _map(spec, "selector")
    if not selector:
        errs.append(required("spec.selector"))
    else:
        errs += _validate_labels(selector, "spec.selector")
    template = spec.get("template")
    if not isinstance(template, dict):
        return errs + [required("spec.template")]
    labels = _map(_map(template, "metadata"), "labels")
    if selector and any(labels.get(k) != v for k, v in selector.items()):
        errs.append(_invalid("spec.template.metadata.labels", go_string_map(labels),
                             "`selector` does not match template `labels`"))
    errs += validate_pod_template(template, "spec.template")
    return errs + _always_restart(spec, "spec", "ReplicationController")


# --- batch -----------------------------------------------------------------------------------------------


def _job_spec(spec: Obj, path: str, selector_required: bool) -> Errors:
    errs: Errors = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        errs += _nonnegative(spec, key, f"{path}.{key}")
    mode = _str(spec, "completionMode")
    if mode and mode not in ("NonIndexed", "Indexed"):
        errs.append(_unsupported(f"{path}.completionMode", mode, ("NonIndexed", "Indexed")))
    if mode == "Indexed" and _int(spec, "completions") is None:
        errs.append(required(f"{path}.completions", "when completion mode is Indexed"))
    if selector_required and spec.get("selector") is None:
        errs.append(required(f"{path}.selector"))
    elif spec.get("selector") is not None:
        errs += _validate_selector_syntax(spec.get("selector"), f"{path}.selector")
        errs += _template_matches(spec, path)
    errs += validate_pod_template(spec.get("template"), f"{path}.template")
    policy = _str(_map(_map(spec, "template"), "spec"), "restartPolicy")
    if policy not in ("OnFailure", "Never"):
        errs.append(_unsupported(f"{path}.template.spec.restartPolicy", policy, ("OnFailure", "Never")))
    return errs


def _job(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    # The selector is generated on create (defaults.job_selector_defaults) unless manualSelector is set;
    # before that it may legitimately be missing.
    generated_later = spec.get("selector") is None and spec.get("manualSelector") is not True
    return _job_spec(spec, "spec", selector_required=not generated_later)


def _job_update(new: Obj, old: Obj) -> Errors:
    new_spec, old_spec = _map(new, "spec"), _map(old, "spec")
    errs = immutable(new_spec.get("selector"), old_spec.get("selector"), "spec.selector",
                     go_label_selector(new_spec.get("selector")))
    if new_spec.get("template") != old_spec.get("template") and not _suspended_template_change(new_spec, old_spec):
        errs += [_invalid("spec.template", "core.PodTemplateSpec{...}", IMMUTABLE_MSG)]
    errs += immutable(new_spec.get("completionMode"), old_spec.get("completionMode"), "spec.completionMode")
    return errs


def _suspended_template_change(new_spec: Obj, old_spec: Obj) -> bool:
    """A suspended Job may change its template's scheduling directives and metadata."""
    if new_spec.get("suspend") is not True:
        return False
    strip = ("nodeSelector", "tolerations", "affinity", "schedulingGates")
    new_t, old_t = _map(new_spec, "template"), _map(old_spec, "template")
    new_pod = {k: v for k, v in _map(new_t, "spec").items() if k not in strip}
    old_pod = {k: v for k, v in _map(old_t, "spec").items() if k not in strip}
    return new_pod == old_pod


_CRON_FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}),
                (1, 12, {m: i + 1 for i, m in enumerate(
                    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}),
                (0, 6, {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}))
_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def validate_cron_schedule(text: str) -> str | None:
    """Why a schedule is not a standard 5-field cron line (robfig/cron's ParseStandard), or None."""
    if text.startswith("@"):
        if text in _CRON_DESCRIPTORS:
            return None
        if text.startswith("@every "):
            return None if re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", text[7:].strip()) else \
                f"failed to parse duration {text}: time: invalid duration {_go_quote(text[7:].strip())}"
        return f"unrecognized descriptor: {text}"
    fields = text.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for field_text, (low, high, names) in zip(fields, _CRON_FIELDS):
        for expr in field_text.split(","):
            problem = _cron_range(expr, low, high, names)
            if problem:
                return problem
    return None


def _cron_range(expr: str, low: int, high: int, names: dict[str, int]) -> str | None:
    range_and_step = expr.split("/")
    if len(range_and_step) > 2:
        return f"too many slashes: {expr}"
    low_and_high = range_and_step[0].split("-")
    if len(low_and_high) > 2:
        return f"too many hyphens: {expr}"
    numbers: list[int] = []
    if low_and_high[0] in ("*", "?"):
        start, end = low, high
    else:
        for part in low_and_high:
            number = names.get(part.lower())
            if number is None:
                if not re.fullmatch(r"[+-]?\d+", part):
                    return f'failed to parse int from {part}: strconv.Atoi: parsing {_go_quote(part)}: invalid syntax'
                number = int(part)
                if number < 0:
                    return f"negative number ({number}) not allowed: {part}"
            numbers.append(number)
        start, end = numbers[0], numbers[-1]
    if len(range_and_step) == 2:
        step_text = range_and_step[1]
        if not re.fullmatch(r"[+-]?\d+", step_text):
            return f"failed to parse int from {step_text}: strconv.Atoi: parsing {_go_quote(step_text)}: invalid syntax"
        if int(step_text) <= 0:
            return f"step of range should be a positive number: {expr}"
        if len(low_and_high) == 1 and low_and_high[0] not in ("*", "?"):
            end = high
    if start < low:
        return f"beginning of range ({start}) below minimum ({low}): {expr}"
    if end > high:
        return f"end of range ({end}) above maximum ({high}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    return None


def _cron_job(obj: Obj) -> Errors:
    errs: Errors = []
    name = _str(_map(obj, "metadata"), "name")
    if len(name) > 52:
        errs.append(invalid_value("metadata.name", name, "must be no more than 52 characters"))
    spec = _map(obj, "spec")
    schedule = _str(spec, "schedule")
    if not schedule:
        errs.append(required("spec.schedule"))
    elif "TZ=" in schedule:
        errs.append(invalid_value("spec.schedule", schedule,
                                  "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    else:
        problem = validate_cron_schedule(schedule)
        if problem:
            errs.append(invalid_value("spec.schedule", schedule, problem))
    errs += _nonnegative(spec, "startingDeadlineSeconds", "spec.startingDeadlineSeconds")
    policy = _str(spec, "concurrencyPolicy")
    if not policy:
        errs.append(required("spec.concurrencyPolicy"))
    elif policy not in ("Allow", "Forbid", "Replace"):
        errs.append(_unsupported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace")))
    job_spec = _map(_map(spec, "jobTemplate"), "spec")
    errs += _job_spec(job_spec, "spec.jobTemplate.spec", selector_required=False)
    if job_spec.get("selector") is not None:
        errs.append(_invalid("spec.jobTemplate.spec.selector", go_label_selector(job_spec.get("selector")),
                             "`selector` will be auto-generated"))
    if job_spec.get("manualSelector") is True:
        errs.append(_unsupported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false")))
    for key in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errs += _nonnegative(spec, key, f"spec.{key}")
    return errs


# --- services -------------------------------------------------------------------------------------------

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


# --- configuration -----------------------------------------------------------------------------------


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
        errs.append(too_long("", "", MAX_SECRET_SIZE))
    return errs


def _secret(obj: Obj) -> Errors:
    # stringData is merged into data before validation upstream, so its keys are reported as data[...].
    errs = _config_keys(obj, ("data", "stringData"), {"stringData": "data"})
    keys = set(_map(obj, "data")) | set(_map(obj, "stringData"))
    kind = _str(obj, "type")
    needs = {"kubernetes.io/tls": ("tls.crt", "tls.key"), "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
             "kubernetes.io/dockercfg": (".dockercfg",), "kubernetes.io/ssh-auth": ("ssh-privatekey",)}
    errs += [required(f"data[{key}]") for key in needs.get(kind, ()) if key not in keys]
    if kind == "kubernetes.io/service-account-token" and \
            not _str(_map(_map(obj, "metadata"), "annotations"), "kubernetes.io/service-account.name"):
        errs.append(required("metadata.annotations[kubernetes.io/service-account.name]"))
    size = sum(len(str(v)) * 3 // 4 for v in _map(obj, "data").values()) + \
        sum(len(str(v)) for v in _map(obj, "stringData").values())
    if size > MAX_SECRET_SIZE:
        errs.append(too_long("data", "", MAX_SECRET_SIZE))
    return errs


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


# --- storage ----------------------------------------------------------------------------------------------

_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def _access_modes(spec: Obj, path: str, detail: str) -> Errors:
    modes = _list(spec, "accessModes")
    errs = [] if modes else [required(f"{path}.accessModes", detail)]
    return errs + [_unsupported(f"{path}.accessModes", m, _ACCESS_MODES) for m in modes if m not in _ACCESS_MODES]


def _claim_spec(spec: Obj, path: str) -> Errors:
    errs = _access_modes(spec, path, "at least 1 access mode is required")
    errs += _validate_selector_syntax(spec.get("selector"), f"{path}.selector")
    requests = _map(_map(spec, "resources"), "requests")
    if "storage" not in requests:
        errs.append(required(f"{path}.resources[storage]"))
    else:
        amount = _quantity(requests["storage"])
        if amount is not None and amount <= 0:
            errs.append(invalid_value(f"{path}.resources[storage]", canonical_quantity(requests["storage"]),
                                      POSITIVE_MSG))
    mode = _str(spec, "volumeMode")
    if mode and mode not in ("Block", "Filesystem"):
        errs.append(_unsupported(f"{path}.volumeMode", mode, ("Block", "Filesystem")))
    return errs


def _claim(obj: Obj) -> Errors:
    return _claim_spec(_map(obj, "spec"), "spec")


def _claim_update(new: Obj, old: Obj) -> Errors:
    new_spec, old_spec = dict(_map(new, "spec")), dict(_map(old, "spec"))
    errs: Errors = []
    new_storage = _quantity(_map(_map(new_spec, "resources"), "requests").get("storage"))
    old_storage = _quantity(_map(_map(old_spec, "resources"), "requests").get("storage"))
    if new_storage is not None and old_storage is not None and new_storage < old_storage:
        errs.append(forbidden_field("spec.resources.requests.storage", "field can not be less than previous value"))
    for spec in (new_spec, old_spec):
        spec.pop("resources", None)
        spec.pop("volumeAttributesClassName", None)
        if not old_spec.get("volumeName"):
            spec.pop("volumeName", None)  # binding sets it once
    if old_spec.get("storageClassName") is None and not old_spec.get("volumeName"):
        # Retroactive default class assignment (GA in 1.28): an unbound claim without a class may get one.
        new_spec.pop("storageClassName", None)
    if new_spec != old_spec:
        errs.append(forbidden_field("spec", PVC_UPDATE_MSG))
    return errs


def _persistent_volume(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    errs = _access_modes(spec, "spec", "")
    capacity = _map(spec, "capacity")
    if not capacity:
        errs.append(required("spec.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        errs.append(FieldError("spec.capacity", "FieldValueNotSupported",
                               f'Unsupported value: {go_string_map({k: str(v) for k, v in capacity.items()})}: '
                               'supported values: "storage"'))
    for name, amount in capacity.items():
        value = _quantity(amount)
        if value is not None and value <= 0:
            errs.append(invalid_value(f"spec.capacity[{name}]", canonical_quantity(amount), POSITIVE_MSG))
    policy = _str(spec, "persistentVolumeReclaimPolicy")
    if policy and policy not in ("Delete", "Recycle", "Retain"):
        errs.append(_unsupported("spec.persistentVolumeReclaimPolicy", policy, ("Delete", "Recycle", "Retain")))
    sources = [k for k, t in schema.fields("V1PersistentVolumeSpec").items() if t.endswith("VolumeSource")
               or t.endswith("PersistentVolumeSource") or t.endswith("VirtualDiskVolumeSource")]
    present = [k for k in sources if spec.get(k) is not None]
    if not present:
        errs.append(required("spec", "must specify a volume type"))
    errs += [forbidden_field(f"spec.{k}", "may not specify more than 1 volume type") for k in present[1:]]
    if present and present[0] == "hostPath" and not _str(_map(spec, "hostPath"), "path"):
        errs.append(required("spec.hostPath.path"))
    return errs


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
        elif effect not in _TAINT_EFFECTS:
            errs.append(_unsupported(f"{p}.effect", effect, _TAINT_EFFECTS))
        if (key, effect) in seen:
            errs.append(duplicate(f"{p}", f"{key}:{effect}"))
        seen.add((key, effect))
    return errs


def _hpa(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    errs: Errors = []
    ref = _map(spec, "scaleTargetRef")
    for key in ("kind", "name"):
        value = _str(ref, key)
        if not value:
            errs.append(required(f"spec.scaleTargetRef.{key}"))
        else:
            errs += [invalid_value(f"spec.scaleTargetRef.{key}", value, m) for m in is_path_segment(value)]
    low, high = _int(spec, "minReplicas"), _int(spec, "maxReplicas")
    if low is not None and low < 1:
        errs.append(invalid_value("spec.minReplicas", low, "must be greater than or equal to 1"))
    if high is None or high < 1:
        errs.append(invalid_value("spec.maxReplicas", high or 0, "must be greater than or equal to 1"))
    elif low is not None and high < low:
        errs.append(invalid_value("spec.maxReplicas", high, "must be greater than or equal to `minReplicas`"))
    types = ("ContainerResource", "External", "Object", "Pods", "Resource")
    for i, metric in _dicts(spec, "metrics"):
        kind = _str(metric, "type")
        if not kind:
            errs.append(required(f"spec.metrics[{i}].type"))
        elif kind not in types:
            errs.append(_unsupported(f"spec.metrics[{i}].type", kind, types))
    return errs


# --- dispatch ------------------------------------------------------------------------------------------------

Validator = Callable[[Obj], Errors]
UpdateValidator = Callable[[Obj, Obj], Errors]

# Name rules per kind; the default is a DNS-1123 subdomain.
_NAME_CHECKS: dict[str, NameCheck] = {
    "v1/Namespace": is_dns1123_label,
    "v1/Service": is_dns1035_label,  # Service names become DNS labels, so they must start with a letter
    "rbac.authorization.k8s.io/v1/Role": is_path_segment,
    "rbac.authorization.k8s.io/v1/ClusterRole": is_path_segment,
    "rbac.authorization.k8s.io/v1/RoleBinding": is_path_segment,
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": is_path_segment,
}

_VALIDATORS: dict[str, Validator] = {
    "v1/Pod": _pod,
    "v1/Service": _service,
    "v1/ConfigMap": _config_map,
    "v1/Secret": _secret,
    "v1/Namespace": _namespace,
    "v1/Node": _node,
    "v1/PersistentVolumeClaim": _claim,
    "v1/PersistentVolume": _persistent_volume,
    "v1/ReplicationController": _replication_controller,
    "apps/v1/Deployment": _deployment,
    "apps/v1/ReplicaSet": _replica_set,
    "apps/v1/StatefulSet": _stateful_set,
    "apps/v1/DaemonSet": _daemon_set,
    "batch/v1/Job": _job,
    "batch/v1/CronJob": _cron_job,
    "autoscaling/v2/HorizontalPodAutoscaler": _hpa,
}


def _selector_update(new: Obj, old: Obj) -> Errors:
    selector = _map(new, "spec").get("selector")
    return immutable(selector, _map(old, "spec").get("selector"), "spec.selector", go_label_selector(selector))


def _stateful_set_update(new: Obj, old: Obj) -> Errors:
    mutable = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
               "minReadySeconds")
    new_rest = {k: v for k, v in _map(new, "spec").items() if k not in mutable}
    old_rest = {k: v for k, v in _map(old, "spec").items() if k not in mutable}
    return [] if new_rest == old_rest else [forbidden_field("spec", STS_UPDATE_MSG)]


_UPDATE_VALIDATORS: dict[str, UpdateValidator] = {
    "v1/Pod": _pod_update,
    "v1/Service": _service_update,
    "v1/ConfigMap": _config_map_update,
    "v1/Secret": _secret_update,
    "v1/PersistentVolumeClaim": _claim_update,
    "apps/v1/Deployment": _selector_update,
    "apps/v1/ReplicaSet": _selector_update,
    "apps/v1/DaemonSet": _selector_update,
    "apps/v1/StatefulSet": _stateful_set_update,
    "batch/v1/Job": _job_update,
}


def _namespaced(api_version: str, kind: str) -> bool:
    resource = resources.by_kind(api_version, kind)
    return resource.namespaced if resource is not None else True


def validate(obj: Any, old: Any = None) -> Errors:
    """All field errors of ``obj`` (after defaulting); ``old`` is the stored object on update.

    Returns an empty list when the object is valid. Kinds without specific rules get the
    metadata checks only. Never raises."""
    if not isinstance(obj, dict):
        return [invalid_value("", None, "must be an object")]
    api_version, kind = _str(obj, "apiVersion"), _str(obj, "kind")
    key = f"{api_version}/{kind}"
    errs = validate_object_meta(obj.get("metadata"), _namespaced(api_version, kind),
                                _NAME_CHECKS.get(key, is_dns1123_subdomain))
    validator = _VALIDATORS.get(key)
    if validator is not None:
        errs += validator(obj)
    if isinstance(old, dict):
        errs += validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        update = _UPDATE_VALIDATORS.get(key)
        if update is not None:
            errs += update(obj, old)
    return errs
