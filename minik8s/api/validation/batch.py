"""Batch: Jobs, CronJobs, and the cron schedule a CronJob runs on.

A Job runs pods to completion, so its template's ``restartPolicy`` is
``OnFailure`` or ``Never`` (never ``Always``), its counts and deadlines are not
negative, and an ``Indexed`` Job states how many completions it wants. Its
selector is generated on create unless ``manualSelector`` is set; once there, it
must select the template and may not change, and neither may the template
(except the scheduling directives of a suspended Job). A CronJob wraps a Job
template (whose selector it may not set) with a schedule: a standard five-field
cron line or a descriptor such as ``@hourly``, checked as robfig/cron's
``ParseStandard`` checks it, with its error messages.

Interface:
    validate_cron_schedule(text) -> str | None   # why a schedule is invalid, or None
    indexes_format(text, completions) -> (count, problem)  # "0,2-3" as a successPolicy rule names indexes
    (package-private: _job, _cron_job (obj) and _job_update (new, old), called by validate)

Invariants: never raises, never modifies its input; ``validate_cron_schedule``
accepts exactly the schedules the CronJob controller can run.

Taught in chapter 9 (Jobs and CronJobs); chapter 3 shows how its errors reach kubectl.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from minik8s.api.errors import invalid_value, required, too_long, too_many
from minik8s.api.validation.fields import (IMMUTABLE_MSG, Errors, Obj, _int, _invalid, _map, _nonnegative,
                                           _selector_matches, _str,
                                           _unsupported, _validate_selector_syntax, immutable)
from minik8s.api.validation.jobfailure import validate_job_failure
from minik8s.api.validation.pods import validate_pod_template
from minik8s.api.validation.printing import _go_quote, go_label_selector
from minik8s.api.validation.workloads import _template_matches

# The label the generated selector selects (batch.kubernetes.io/controller-uid=<the Job's uid>).
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"

# --- Jobs -------------------------------------------------------------------------------------------------


def _job_spec(spec: Obj, path: str, selector_required: bool) -> Errors:
    errs: Errors = []
    for key in ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished"):
        errs += _nonnegative(spec, key, f"{path}.{key}")
    errs += validate_job_failure(spec, path)
    mode = _str(spec, "completionMode")
    if mode and mode not in ("NonIndexed", "Indexed"):
        errs.append(_unsupported(f"{path}.completionMode", mode, ("NonIndexed", "Indexed")))
    if mode == "Indexed" and _int(spec, "completions") is None:
        errs.append(required(f"{path}.completions", "when completion mode is Indexed"))
    if spec.get("successPolicy") is not None:
        errs += _success_policy(spec, mode, f"{path}.successPolicy")
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


# Upstream's limits on a successPolicy: rules, and the length of one rule's succeededIndexes.
MAX_SUCCESS_POLICY_RULES = 20
MAX_SUCCEEDED_INDEXES_LENGTH = 64 * 1024


def _success_policy(spec: Obj, mode: str, path: str) -> Errors:
    """spec.successPolicy (upstream's validateSuccessPolicy): Indexed Jobs only; 1 to 20 rules, each
    with succeededIndexes (well-formed, below completions) and/or a succeededCount that can be reached."""
    policy = _map(spec, "successPolicy")
    if mode != "Indexed":
        # Upstream prints the Go struct, pointers as addresses; elided as for other structs here.
        return [_invalid(path, "batch.SuccessPolicy{...}", "requires indexed completion mode")]
    rules = policy.get("rules") if isinstance(policy.get("rules"), list) else []
    errs: Errors = []
    if not rules:
        errs.append(required(f"{path}.rules", "at least one rules must be specified when the successPolicy is specified"))
    if len(rules) > MAX_SUCCESS_POLICY_RULES:
        errs.append(too_many(f"{path}.rules", len(rules), MAX_SUCCESS_POLICY_RULES))
    completions = _int(spec, "completions") or 0
    for number, rule in enumerate(rules):
        errs += _success_policy_rule(rule if isinstance(rule, dict) else {}, completions, f"{path}.rules[{number}]")
    return errs


def _success_policy_rule(rule: Obj, completions: int, path: str) -> Errors:
    indexes, count = rule.get("succeededIndexes"), rule.get("succeededCount")
    errs: Errors = []
    if indexes is None and count is None:
        errs.append(required(path, "at least one of succeededCount or succeededIndexes must be specified"))
    total = 0
    if indexes is not None:
        if len(str(indexes)) > MAX_SUCCEEDED_INDEXES_LENGTH:
            errs.append(too_long(f"{path}.succeededIndexes", indexes, MAX_SUCCEEDED_INDEXES_LENGTH))
        total, problem = indexes_format(str(indexes), completions)
        if problem:
            errs.append(invalid_value(f"{path}.succeededIndexes", indexes, f"error parsing succeededIndexes: {problem}"))
    if isinstance(count, int):
        errs += _nonnegative(rule, "succeededCount", f"{path}.succeededCount")
        if count > completions:
            errs.append(invalid_value(f"{path}.succeededCount", count,
                                      f"must be less than or equal to {completions} (the number of specified completions)"))
        if indexes is not None and count > total:
            errs.append(invalid_value(f"{path}.succeededCount", count, f"must be less than or equal to {total} "
                                      "(the number of indexes in the specified succeededIndexes field)"))
    return errs


def indexes_format(text: str, completions: int) -> tuple[int, str | None]:
    """How many indexes ``"0,2-3"`` names, or why it is malformed (upstream's validateIndexesFormat)."""
    if not text:
        return 0, None
    total, last = 0, None
    for interval in text.split(","):
        limits = interval.split("-")
        if len(limits) > 2:
            return 0, (f"the fragment {_go_quote(interval)} violates the requirement that an index interval can have "
                       "at most two parts separated by '-'")
        bounds: list[int] = []
        for limit in limits:
            if not re.fullmatch(r"[+-]?\d+", limit):
                return 0, f"cannot convert string to integer for index: {_go_quote(limit)}"
            if int(limit) >= completions:
                return 0, f"too large index: {_go_quote(limit)}"
            bounds.append(int(limit))
        if len(bounds) == 2 and bounds[0] >= bounds[1]:
            return 0, f"non-increasing order, previous: {bounds[0]}, current: {bounds[1]}"
        if last is not None and last >= bounds[0]:
            return 0, f"non-increasing order, previous: {last}, current: {bounds[0]}"
        total += bounds[-1] - bounds[0] + 1
        last = bounds[-1]
    return total, None


def _job(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    # The selector is generated on create (defaults.job_selector_defaults) unless manualSelector is set;
    # before that it may legitimately be missing.
    generated_later = spec.get("selector") is None and spec.get("manualSelector") is not True
    return _generated_selector(obj) + _job_spec(spec, "spec", selector_required=not generated_later)


def _generated_selector(obj: Obj) -> Errors:
    """Without ``manualSelector: true`` the selector must be the generated one: it must select
    exactly this Job's uid (upstream's validateGeneratedSelector). A selector the user wrote
    (the server only added the uid to it) is refused, so a Job never adopts someone else's pods."""
    spec = _map(obj, "spec")
    uid = _map(obj, "metadata").get("uid")
    selector = spec.get("selector")
    if spec.get("manualSelector") is True or not uid or not isinstance(selector, dict):
        return []
    if _selector_matches(selector, {CONTROLLER_UID_LABEL: uid}) is False:
        return [_invalid("spec.selector", go_label_selector(selector), "`selector` not auto-generated")]
    return []


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


# --- cron schedules (robfig/cron's ParseStandard) ------------------------------------------------------

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


# --- CronJobs ---------------------------------------------------------------------------------------------


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
    errs += _time_zone(spec)
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


# One component of an IANA zone name (upstream's validTimeZoneCharacters; digits and + for legacy names).
_ZONE_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


def _time_zone(spec: Obj) -> Errors:
    """spec.timeZone: absent, or a zone the tz database knows (upstream's validateTimeZone)."""
    name = spec.get("timeZone")
    if name is None:
        return []
    if name == "":
        return [invalid_value("spec.timeZone", name, "timeZone must be nil or non-empty string")]
    for part in str(name).split("/"):
        if part in (".", "..") or part.startswith("-") or not _ZONE_PART.fullmatch(part):
            return [invalid_value("spec.timeZone", name, f"unknown time zone {name}")]
    errs: Errors = []
    if str(name).lower() == "local":
        errs.append(invalid_value("spec.timeZone", name,
                                  "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
    try:
        if name != "Local":  # Go's LoadLocation("Local") is the server's own zone, no error
            ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        errs.append(invalid_value("spec.timeZone", name, f"unknown time zone {name}"))  # Go's LoadLocation error
    return errs
