"""LimitRanger: per-container (and per-pod, per-claim) defaults and bounds from LimitRanges.

A ``LimitRange`` in a namespace lists items, each of a ``type``:

* ``Container``: ``default`` (limits a container gets when it names none),
  ``defaultRequest`` (its requests likewise), ``min``, ``max`` and
  ``maxLimitRequestRatio`` for each container;
* ``Pod``: ``min``, ``max`` and ``maxLimitRequestRatio`` for the sum over the containers;
* ``PersistentVolumeClaim``: ``min`` and ``max`` of ``spec.resources.requests.storage``.

On pod create the plugin first *mutates* (fills the defaults in and records what it set in
the annotation ``kubernetes.io/limit-ranger: LimitRanger plugin set: cpu, memory request
for container web; cpu, memory limit for container web``), then *validates* the bounds,
refusing with all the violations at once::

    pods "x" is forbidden: [maximum memory usage per Container is 1Gi, but limit is 2Gi, ...]

Interface:
    LimitRanger(api)          # the plugin (name "LimitRanger"); first in the chain

A LimitRange itself must be consistent (``min <= defaultRequest <= default <= max``, a
ratio of at least 1): ``LimitRange "x" is invalid: spec.limits[0].min[cpu]: Invalid value:
"2": min value 2 is greater than max value 1`` (422).

Invariants: pod updates are neither defaulted nor checked (a pod's resources cannot
change); subresource writes are ignored; the plugin only reads LimitRanges.

Taught in the chapter on namespaces and quotas (and chapter 16's classroom set-up).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from minik8s.api import errors, quantity
from minik8s.api.errors import FieldError, forbidden_field, invalid_value, required
from minik8s.api import resources as api_resources
from minik8s.apiserver.admission.chain import CREATE, UPDATE, Attributes
from minik8s.api.quota import fmt, pod_totals

if TYPE_CHECKING:
    from minik8s.apiserver.apiserver import APIServer

Obj = dict[str, Any]

LIMITRANGES = api_resources.get("", "v1", "limitranges")
ANNOTATION = "kubernetes.io/limit-ranger"


def _q(value: Any) -> Fraction:
    try:
        return quantity.parse(value)
    except (ValueError, TypeError):
        return Fraction(0)


def _show(name: str, value: Any) -> str:
    """A quantity as the user's LimitRange or pod wrote it, in upstream's canonical form."""
    return fmt(name, _q(value))


def _min(kind: str, name: str, enforced: Any, request: Obj, limit: Obj) -> str | None:
    floor = _q(enforced)
    if name not in request:
        return f"minimum {name} usage per {kind} is {_show(name, enforced)}.  No request is specified"
    if _q(request[name]) < floor:
        return f"minimum {name} usage per {kind} is {_show(name, enforced)}, but request is {_show(name, request[name])}"
    if name in limit and _q(limit[name]) < floor:
        return f"minimum {name} usage per {kind} is {_show(name, enforced)}, but limit is {_show(name, limit[name])}"
    return None


def _max(kind: str, name: str, enforced: Any, request: Obj, limit: Obj) -> str | None:
    ceiling = _q(enforced)
    if name not in limit:
        return f"maximum {name} usage per {kind} is {_show(name, enforced)}.  No limit is specified"
    if _q(limit[name]) > ceiling:
        return f"maximum {name} usage per {kind} is {_show(name, enforced)}, but limit is {_show(name, limit[name])}"
    if name in request and _q(request[name]) > ceiling:
        return f"maximum {name} usage per {kind} is {_show(name, enforced)}, but request is {_show(name, request[name])}"
    return None


def _max_request(name: str, enforced: Any, request: Obj) -> str:
    """A claim's max: checked against its request (a claim has no limits); "" when within."""
    kind = "PersistentVolumeClaim"
    if name not in request:
        return f"maximum {name} usage per {kind} is {_show(name, enforced)}.  No request is specified"
    if _q(request[name]) > _q(enforced):
        return f"maximum {name} usage per {kind} is {_show(name, enforced)}, but request is {_show(name, request[name])}"
    return ""


def _ratio(kind: str, name: str, enforced: Any, request: Obj, limit: Obj) -> str | None:
    shown = _show(name, enforced)
    if not _q(request.get(name, 0)):
        return f"{name} max limit to request ratio per {kind} is {shown}, but no request is specified or request is 0"
    if not _q(limit.get(name, 0)):
        return f"{name} max limit to request ratio per {kind} is {shown}, but no limit is specified or limit is 0"
    observed = _q(limit[name]) / _q(request[name])
    if observed > _q(enforced):
        return f"{name} max limit to request ratio per {kind} is {shown}, but provided ratio is {float(observed):f}"
    return None


def _check(kind: str, item: Obj, request: Obj, limit: Obj) -> list[str]:
    found: list[str] = []
    for field, check in (("min", _min), ("max", _max), ("maxLimitRequestRatio", _ratio)):
        for name, enforced in sorted((item.get(field) or {}).items()):
            message = check(kind, name, enforced, request, limit)
            if message:
                found.append(message)
    return found


def _bounds_errors(path: str, name: str, item: Obj) -> list[FieldError]:
    """Upstream's consistency rules for one resource of one item: min <= defaultRequest <=
    default <= max, and a ratio of at least 1 and at most max/min."""
    values = {key: (item.get(key) or {}).get(name) for key in
              ("min", "max", "default", "defaultRequest", "maxLimitRequestRatio")}
    low, high, limit, request, ratio = (values[k] for k in
                                        ("min", "max", "default", "defaultRequest", "maxLimitRequestRatio"))
    errs: list[FieldError] = []

    def shown(value: Any) -> str:
        return _show(name, value)

    def bad(field: str, value: Any, why: str) -> None:
        errs.append(invalid_value(f"{path}.{field}[{name}]", shown(value), why))

    if low is not None and high is not None and _q(low) > _q(high):
        bad("min", low, f"min value {shown(low)} is greater than max value {shown(high)}")
    if request is not None and low is not None and _q(low) > _q(request):
        bad("defaultRequest", request, f"min value {shown(low)} is greater than default request value "
                                       f"{shown(request)}")
    if request is not None and high is not None and _q(request) > _q(high):
        bad("defaultRequest", request, f"default request value {shown(request)} is greater than max value "
                                       f"{shown(high)}")
    if request is not None and limit is not None and _q(request) > _q(limit):
        bad("defaultRequest", request, f"default request value {shown(request)} is greater than default limit "
                                       f"value {shown(limit)}")
    if limit is not None and low is not None and _q(low) > _q(limit):
        bad("default", low, f"min value {shown(low)} is greater than default value {shown(limit)}")
    if limit is not None and high is not None and _q(limit) > _q(high):
        bad("default", high, f"default value {shown(limit)} is greater than max value {shown(high)}")
    if ratio is not None and _q(ratio) < 1:
        bad("maxLimitRequestRatio", ratio, f"ratio {shown(ratio)} is less than 1")
    elif ratio is not None and low is not None and high is not None and _q(low) > 0:
        most = _q(high) / _q(low)
        if _q(ratio) > most:
            bad("maxLimitRequestRatio", ratio, f"ratio {shown(ratio)} is greater than max/min = {float(most):f}")
    return errs


def validate_limit_range(obj: Obj) -> list[FieldError]:
    """A LimitRange's own errors (422), after its defaults were applied."""
    errs: list[FieldError] = []
    for i, item in enumerate(((obj.get("spec") or {}).get("limits") or [])):
        path = f"spec.limits[{i}]"
        for field in ("min", "max", "default", "defaultRequest", "maxLimitRequestRatio"):
            for name, value in (item.get(field) or {}).items():
                if not quantity.is_valid(value):
                    errs.append(invalid_value(f"{path}.{field}[{name}]", value, quantity.QUANTITY_ERROR))
                elif _q(value) < 0:
                    errs.append(invalid_value(f"{path}.{field}[{name}]", value, "must be greater than or equal to 0"))
        if errs:
            continue
        if item.get("type") == "Pod":
            for field in ("default", "defaultRequest"):
                if item.get(field):
                    errs.append(forbidden_field(f"{path}.{field}", "may not be specified when `type` is 'Pod'"))
        if item.get("type") == "PersistentVolumeClaim" and "storage" not in (item.get("min") or {}) \
                and "storage" not in (item.get("max") or {}):
            errs.append(required(f"{path}.limits",
                                 "either minimum or maximum storage value is required, but neither was provided"))
        names = sorted({n for f in ("min", "max", "default", "defaultRequest", "maxLimitRequestRatio")
                        for n in (item.get(f) or {})})
        for name in names:
            errs += _bounds_errors(path, name, item)
    return errs


def _containers(pod: Obj) -> list[tuple[str, Obj]]:
    spec = pod.get("spec") or {}
    return [("container", c) for c in spec.get("containers") or []] + \
        [("init container", c) for c in spec.get("initContainers") or []]


class LimitRanger:
    """Defaults resources from, and checks them against, the namespace's LimitRanges."""

    name = "LimitRanger"

    def __init__(self, api: APIServer):
        self.api = api

    def _items(self, namespace: str, kind: str) -> list[Obj]:
        if not self.api.store.count(LIMITRANGES.qualified, namespace):
            return []  # the usual case, answered from the store's running tally without decoding anything
        ranges, _ = self.api.store.list(LIMITRANGES.qualified, namespace)
        return [item for lr in ranges for item in ((lr.get("spec") or {}).get("limits") or [])
                if item.get("type") == kind]

    def _applies(self, attrs: Attributes) -> bool:
        if attrs.subresource or not attrs.namespace or attrs.obj is None:
            return False
        if attrs.resource.qualified == "pods":
            return attrs.operation == CREATE
        return attrs.resource.qualified == "persistentvolumeclaims" and attrs.operation in (CREATE, UPDATE)

    def mutate(self, attrs: Attributes) -> None:
        if not self._applies(attrs) or attrs.resource.qualified != "pods":
            return
        assert attrs.obj is not None and attrs.namespace
        default_limits: Obj = {}
        default_requests: Obj = {}
        for item in self._items(attrs.namespace, "Container"):
            default_limits.update(item.get("default") or {})
            default_requests.update(item.get("defaultRequest") or {})
        if not default_limits and not default_requests:
            return
        notes: list[str] = []
        for prefix, container in _containers(attrs.obj):
            resources = container.setdefault("resources", {})
            name = container.get("name", "")
            for key, defaults, word in (("requests", default_requests, "request"),
                                        ("limits", default_limits, "limit")):
                current = resources.get(key) or {}
                added = sorted(r for r in defaults if r not in current)
                if added:
                    resources[key] = {**current, **{r: defaults[r] for r in added}}
                    notes.append(f"{', '.join(added)} {word} for {prefix} {name}")
        if notes:
            annotations = attrs.obj.setdefault("metadata", {}).setdefault("annotations", {})
            annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)

    def validate(self, attrs: Attributes) -> None:
        if attrs.resource is LIMITRANGES and attrs.operation in (CREATE, UPDATE) and attrs.obj is not None \
                and not attrs.subresource:
            errs = validate_limit_range(attrs.obj)
            if errs:
                raise errors.invalid("LimitRange", "", attrs.name, errs)
            return
        if not self._applies(attrs):
            return
        assert attrs.obj is not None and attrs.namespace
        if attrs.resource.qualified == "pods":
            found = self._pod_violations(attrs.namespace, attrs.obj)
        else:
            requests = ((attrs.obj.get("spec") or {}).get("resources") or {}).get("requests") or {}
            found = []
            for item in self._items(attrs.namespace, "PersistentVolumeClaim"):
                # A claim has only requests: both bounds apply to them.
                found += _check("PersistentVolumeClaim", {"min": item.get("min")}, requests, {})
                found += [_max_request(name, enforced, requests)
                          for name, enforced in sorted((item.get("max") or {}).items())
                          if _max_request(name, enforced, requests)]
        if found:
            text = found[0] if len(found) == 1 else "[" + ", ".join(found) + "]"
            name = attrs.name or ((attrs.obj.get("metadata") or {}).get("generateName")) or "Unknown"
            raise errors.forbidden(attrs.resource.group, attrs.resource.plural, name, text)

    def _pod_violations(self, namespace: str, pod: Obj) -> list[str]:
        found: list[str] = []
        for item in self._items(namespace, "Container"):
            for _, container in _containers(pod):
                resources = container.get("resources") or {}
                found += _check("Container", item, resources.get("requests") or {}, resources.get("limits") or {})
        for item in self._items(namespace, "Pod"):
            requests = {n: fmt(n, v) for n, v in pod_totals(pod, "requests").items()}
            limits = {n: fmt(n, v) for n, v in pod_totals(pod, "limits").items()}
            found += _check("Pod", item, requests, limits)
        return found
