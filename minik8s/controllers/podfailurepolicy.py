"""Pod failure policy: which failed pods fail the Job, which are ignored, which merely count.

A Job's ``spec.podFailurePolicy.rules`` are tried in order against each failed pod
(phase ``Failed``); the first rule that matches decides:

* ``FailJob``  -- fail the whole Job at once (condition reason ``PodFailurePolicy``);
* ``Ignore``   -- the failure does not count against ``backoffLimit``;
* ``Count``    -- the failure counts, as without a policy;
* ``FailIndex``-- (Indexed Jobs with ``backoffLimitPerIndex``) fail the pod's index.

A rule matches on ``onExitCodes`` -- a container (``containerName``, if given) that
terminated with a non-zero exit code ``In`` / ``NotIn`` the listed values -- or on
``onPodConditions`` -- the pod carries a condition of that type and status (e.g.
``DisruptionTarget`` for a pod evicted or preempted). No rule matching: the failure
counts.

Interface:
    match(job, pod) -> Verdict    # message (FailJob only), whether it counts, the action

Invariants: pure (no I/O); exit code 0 never matches; init containers are looked at
before the main ones, as upstream's ``matchPodFailurePolicy``; the FailJob message is
upstream's word for word (``Container main for pod default/job-pi-xxx failed with exit
code 42 matching FailJob rule at index 0``).

Taught in chapter 9 (Jobs and CronJobs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REASON = "PodFailurePolicy"

FAIL_JOB, IGNORE, COUNT, FAIL_INDEX = "FailJob", "Ignore", "Count", "FailIndex"


@dataclass(frozen=True)
class Verdict:
    message: str | None  # why the Job fails (FailJob only)
    counts: bool  # the failure counts against backoffLimit
    action: str | None  # the matching rule's action; None when no rule matched


NO_MATCH = Verdict(None, True, None)


def _matching_container(pod: dict[str, Any], requirement: dict[str, Any]) -> dict[str, Any] | None:
    status = pod.get("status") or {}
    wanted = requirement.get("containerName")
    values = {int(v) for v in requirement.get("values") or []}
    operator = requirement.get("operator")
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        if wanted and container.get("name") != wanted:
            continue
        terminated = (container.get("state") or {}).get("terminated")
        if not terminated:
            continue
        code = int(terminated.get("exitCode") or 0)
        if code != 0 and ((operator == "In" and code in values) or (operator == "NotIn" and code not in values)):
            return container  # type: ignore[no-any-return]
    return None


def _matching_condition(pod: dict[str, Any], patterns: list[dict[str, Any]]) -> dict[str, Any] | None:
    for pattern in patterns:
        for cond in (pod.get("status") or {}).get("conditions") or []:
            if cond.get("type") == pattern.get("type") and cond.get("status") == pattern.get("status", "True"):
                return pattern
    return None


def match(job: dict[str, Any], pod: dict[str, Any]) -> Verdict:
    """The first rule of the Job's pod failure policy that matches this failed pod."""
    policy = (job.get("spec") or {}).get("podFailurePolicy") or {}
    meta = pod["metadata"]
    where = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    for index, rule in enumerate(policy.get("rules") or []):
        action = rule.get("action")
        if rule.get("onExitCodes"):
            container = _matching_container(pod, rule["onExitCodes"])
            if container is None:
                continue
            code = container["state"]["terminated"]["exitCode"]
            message = (f"Container {container.get('name')} for pod {where} failed with exit code {code} "
                       f"matching {action} rule at index {index}")
        elif rule.get("onPodConditions"):
            pattern = _matching_condition(pod, rule["onPodConditions"])
            if pattern is None:
                continue
            message = f"Pod {where} has condition {pattern.get('type')} matching {action} rule at index {index}"
        else:
            continue
        if action == FAIL_JOB:
            return Verdict(message, True, action)
        return Verdict(None, action != IGNORE, action)
    return NO_MATCH
