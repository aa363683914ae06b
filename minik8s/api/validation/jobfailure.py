"""Validation of a Job's failure handling: ``podFailurePolicy``, ``backoffLimitPerIndex``,
``maxFailedIndexes``, ``podReplacementPolicy`` (upstream's validateJobSpec and
validatePodFailurePolicy, pkg/apis/batch/validation).

Interface:
    validate_job_failure(spec, path) -> Errors    # called from batch._job_spec

Invariants: every message is upstream's; a policy only goes with restartPolicy Never;
``FailIndex`` needs ``backoffLimitPerIndex``, which needs ``completionMode: Indexed``.

Taught in chapter 9 (Jobs and CronJobs).
"""

from __future__ import annotations

from typing import Any

from minik8s.api.errors import duplicate, invalid_value, required, too_many
from minik8s.api.validation.fields import Errors, Obj, _int, _invalid, _map, _nonnegative, _str, _unsupported
from minik8s.api.validation.names import _qualified_name

ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
OPERATORS = ("In", "NotIn")
STATUSES = ("False", "True", "Unknown")
MAX_RULES = 20
MAX_EXIT_CODES = 255
MAX_PATTERNS = 20


def _go_list(values: tuple[str, ...]) -> str:
    """Go's %q of a []string: ``["Count" "FailIndex"]``."""
    return "[" + " ".join(f'"{v}"' for v in values) + "]"


def validate_job_failure(spec: Obj, path: str) -> Errors:
    errs: Errors = []
    per_index, max_failed = _int(spec, "backoffLimitPerIndex"), _int(spec, "maxFailedIndexes")
    for key in ("backoffLimitPerIndex", "maxFailedIndexes"):
        errs += _nonnegative(spec, key, f"{path}.{key}")
    if max_failed is not None and per_index is None:
        errs.append(required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    indexed = _str(spec, "completionMode") == "Indexed"
    completions = _int(spec, "completions")
    if indexed and completions is not None and max_failed is not None and max_failed > completions:
        errs.append(invalid_value(f"{path}.maxFailedIndexes", max_failed, "must be less than or equal to completions"))
    if not indexed:
        for key, value in (("backoffLimitPerIndex", per_index), ("maxFailedIndexes", max_failed)):
            if value is not None:
                errs.append(invalid_value(f"{path}.{key}", value, "requires indexed completion mode"))
    policy = spec.get("podFailurePolicy")
    if policy is not None:
        errs += _policy(spec, _map(spec, "podFailurePolicy"), f"{path}.podFailurePolicy")
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        allowed = ("Failed",) if policy is not None else ("Failed", "TerminatingOrFailed")
        if replacement not in allowed:
            errs.append(_unsupported(f"{path}.podReplacementPolicy", replacement, allowed))
    restart = _str(_map(_map(spec, "template"), "spec"), "restartPolicy")
    if policy is not None and restart == "OnFailure":
        errs.append(invalid_value(f"{path}.template.spec.restartPolicy", restart,
                                  'only "Never" is supported when podFailurePolicy is specified'))
    return errs


def _policy(spec: Obj, policy: Obj, path: str) -> Errors:
    errs: Errors = []
    rules = policy.get("rules") or []
    if len(rules) > MAX_RULES:
        errs.append(too_many(f"{path}.rules", len(rules), MAX_RULES))
    pod = _map(_map(spec, "template"), "spec")
    names = {c.get("name") for c in (pod.get("containers") or []) + (pod.get("initContainers") or [])
             if isinstance(c, dict)}
    for i, rule in enumerate(rules):
        errs += _rule(spec, rule if isinstance(rule, dict) else {}, f"{path}.rules[{i}]", names)
    return errs


def _rule(spec: Obj, rule: Obj, path: str, names: set[Any]) -> Errors:
    errs: Errors = []
    action = _str(rule, "action")
    if not action:
        errs.append(required(f"{path}.action", f"valid values: {_go_list(ACTIONS)}"))
    elif action == "FailIndex":
        if spec.get("backoffLimitPerIndex") is None:
            errs.append(invalid_value(f"{path}.action", action, "requires the backoffLimitPerIndex to be set"))
    elif action not in ACTIONS:
        errs.append(_unsupported(f"{path}.action", action, ACTIONS))
    on_exit, on_conditions = rule.get("onExitCodes"), rule.get("onPodConditions") or []
    if on_exit is not None:
        errs += _exit_codes(_map(rule, "onExitCodes"), f"{path}.onExitCodes", names)
    if on_conditions:
        errs += _conditions(on_conditions, f"{path}.onPodConditions")
    if on_exit is not None and on_conditions:
        errs.append(_omit(path, "specifying both OnExitCodes and OnPodConditions is not supported"))
    if on_exit is None and not on_conditions:
        errs.append(_omit(path, "specifying one of OnExitCodes and OnPodConditions is required"))
    return errs


def _omit(path: str, detail: str) -> Any:
    """field.Invalid with field.OmitValueType{}: no value printed."""
    error = invalid_value(path, None, detail)
    return type(error)(error.field, error.reason, f"Invalid value: {detail}")


def _exit_codes(requirement: Obj, path: str, names: set[Any]) -> Errors:
    errs: Errors = []
    operator = _str(requirement, "operator")
    if not operator:
        errs.append(required(f"{path}.operator", f"valid values: {_go_list(OPERATORS)}"))
    elif operator not in OPERATORS:
        errs.append(_unsupported(f"{path}.operator", operator, OPERATORS))
    container = requirement.get("containerName")
    if container is not None and container not in names:
        errs.append(invalid_value(f"{path}.containerName", container,
                                  "must be one of the container or initContainer names in the pod template"))
    values = [v for v in requirement.get("values") or [] if isinstance(v, int)]
    if not values:
        errs.append(_invalid(f"{path}.values", _go_int32s(requirement.get("values")), "at least one value is required"))
    elif len(values) > MAX_EXIT_CODES:
        errs.append(too_many(f"{path}.values", len(values), MAX_EXIT_CODES))
    seen: set[int] = set()
    for j, value in enumerate(values):
        if operator == "In" and value == 0:
            errs.append(invalid_value(f"{path}.values[{j}]", value, "must not be 0 for the In operator"))
        if value in seen:
            errs.append(duplicate(f"{path}.values[{j}]", value))
        seen.add(value)
    if values != sorted(values):
        errs.append(_invalid(f"{path}.values", _go_int32s(values), "must be ordered"))
    return errs


def _go_int32s(values: Any) -> str:
    """Go's %#v of a []int32, as field.Invalid prints a slice: ``[]int32{3, 2}``, ``[]int32(nil)``."""
    if values is None:
        return "[]int32(nil)"
    return "[]int32{" + ", ".join(str(v) for v in values) + "}"


def _conditions(patterns: list[Any], path: str) -> Errors:
    errs: Errors = []
    if len(patterns) > MAX_PATTERNS:
        errs.append(too_many(path, len(patterns), MAX_PATTERNS))
    for j, pattern in enumerate(patterns):
        pattern = pattern if isinstance(pattern, dict) else {}
        kind = str(pattern.get("type") or "")
        errs += [invalid_value(f"{path}[{j}].type", kind, m) for m in _qualified_name(kind)]
        status = _str(pattern, "status")
        if not status:
            errs.append(required(f"{path}[{j}].status", f"valid values: {_go_list(STATUSES)}"))
        elif status not in STATUSES:
            errs.append(_unsupported(f"{path}[{j}].status", status, STATUSES))
    return errs
