"""Workloads: Deployments, ReplicaSets, StatefulSets, DaemonSets, ReplicationControllers, autoscalers.

A workload owns pods through a label selector, not a stored reference, so the
central rule is that the selector is not empty and selects the workload's own
pod template (otherwise the controller would create pods it cannot find). The
template is a pod template (:func:`~minik8s.api.validation.pods.validate_pod_template`)
whose pods always restart. Each kind adds its own parameters: a Deployment's
rolling update (``maxSurge``/``maxUnavailable``, not both zero) and progress
deadline, a StatefulSet's pod management and update strategy and its claim
templates, a DaemonSet's update strategy. On update the selector is immutable,
and a StatefulSet may change only a few spec fields. A HorizontalPodAutoscaler
names the workload it scales and a replica range.

Interface (package-private, called through validate's dispatch table):
    _deployment, _replica_set, _stateful_set, _daemon_set, _replication_controller, _hpa   (obj) -> Errors
    _selector_update, _stateful_set_update                                            (new, old) -> Errors
    _template_matches(spec, path) -> Errors      # shared with Jobs
    STS_UPDATE_MSG                               # the Forbidden message of a refused StatefulSet update

Invariants: never raises, never modifies its input; a missing or empty selector
is reported once, as such, not also as a selector that fails to match.

Taught in chapter 5 (labels and selectors), chapter 7 (Deployments) and chapter 8
(StatefulSets).
"""

from __future__ import annotations

from typing import Any

from minik8s.api.errors import FieldError, forbidden_field, invalid_value, required
from minik8s.api.validation.fields import (NONNEGATIVE_MSG, Errors, Obj, _dicts, _int, _invalid, _list, _map,
                                           _nonnegative, _selector_matches, _str, _unsupported, _validate_labels,
                                           _validate_selector_syntax, immutable)
from minik8s.api.validation.names import _PERCENT_RE, PERCENT_FMT, PERCENT_MSG, is_path_segment, regex_error
from minik8s.api.validation.pods import validate_pod_template
from minik8s.api.validation.printing import _go_quote, _int_or_string, go_label_selector, go_string_map
from minik8s.api.validation.storage import _claim_spec

STS_UPDATE_MSG = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                  "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")

# --- selectors and templates ------------------------------------------------------------------------


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


# --- Deployments and ReplicaSets ----------------------------------------------------------------------


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


# --- StatefulSets ---------------------------------------------------------------------------------------


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


# --- DaemonSets and ReplicationControllers ----------------------------------------------------------------


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


# --- autoscaling ------------------------------------------------------------------------------------------


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


# --- updates ----------------------------------------------------------------------------------------------


def _selector_update(new: Obj, old: Obj) -> Errors:
    selector = _map(new, "spec").get("selector")
    return immutable(selector, _map(old, "spec").get("selector"), "spec.selector", go_label_selector(selector))


def _stateful_set_update(new: Obj, old: Obj) -> Errors:
    mutable = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
               "minReadySeconds")
    new_rest = {k: v for k, v in _map(new, "spec").items() if k not in mutable}
    old_rest = {k: v for k, v in _map(old, "spec").items() if k not in mutable}
    return [] if new_rest == old_rest else [forbidden_field("spec", STS_UPDATE_MSG)]
