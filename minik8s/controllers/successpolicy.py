"""Success policy: an Indexed Job that may declare success before every index has succeeded.

A Job's ``spec.successPolicy.rules`` (batch/v1, beta and on by default since 1.31; Indexed
Jobs only) are tried in order against the set of succeeded indexes; the first rule that
holds makes the Job a success:

* ``succeededIndexes`` only -- every listed index (``"0,2-3"``) has succeeded;
* ``succeededCount`` only -- at least that many indexes have succeeded, whichever;
* both -- at least ``succeededCount`` of the listed indexes have succeeded.

The Job controller then adds ``SuccessCriteriaMet`` (reason ``SuccessPolicy``, message
``Matched rules at index N``), deletes the pods still running, and once none is left
terminating adds ``Complete`` with the same reason and message. A rule whose indexes do
not parse is skipped, as upstream's ``matchSuccessPolicy`` does.

Interface:
    match(job, succeeded_indexes) -> message | None   # "Matched rules at index 0"

Invariants: pure (no I/O); a Job without a policy, or with no succeeded index, never matches.

Taught in chapter 9 (Jobs and CronJobs).
"""

from __future__ import annotations

from typing import Any

REASON = "SuccessPolicy"


def parse_indexes(text: str, completions: int) -> set[int] | None:
    """The indexes of ``"0,2-3"`` below ``completions``, or None if the text does not parse."""
    indexes: set[int] = set()
    for interval in text.split(","):
        low, _, high = interval.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            return None
        if first > last or last >= completions:
            return None
        indexes |= set(range(first, last + 1))
    return indexes


def match(job: dict[str, Any], succeeded: set[int]) -> str | None:
    spec = job.get("spec") or {}
    rules = (spec.get("successPolicy") or {}).get("rules") or []
    completions = int(spec.get("completions") or 0)
    if not succeeded:
        return None
    for number, rule in enumerate(rules):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            wanted = parse_indexes(str(rule["succeededIndexes"]), completions)
            if not wanted:
                continue
            done = len(wanted & succeeded)
            if done == len(wanted) if count is None else done >= int(count):
                return f"Matched rules at index {number}"
        elif count is not None and len(succeeded) >= int(count):
            return f"Matched rules at index {number}"
    return None
