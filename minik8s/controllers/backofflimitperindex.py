"""Backoff limit per index: an Indexed Job retries each index on its own.

With ``spec.backoffLimitPerIndex`` (Indexed Jobs only, restartPolicy Never) a failing
index is retried until it has failed more than that many times; then the index is
*failed*: listed in ``status.failedIndexes`` ("1,3-4") and not run again, while the
other indexes carry on. A ``podFailurePolicy`` rule with action ``FailIndex`` fails the
index at once. The Job fails with reason ``MaxFailedIndexesExceeded`` as soon as more
than ``spec.maxFailedIndexes`` indexes have failed, or with ``FailedIndexes`` once every
index has either succeeded or failed and some failed.

Each pod carries the failures of its index before it in the annotation
``batch.kubernetes.io/job-index-failure-count``; a replacement pod gets one more than
the pod it replaces. So the count survives the failed pods being deleted.

Interface:
    enabled(job) -> bool
    failure_count(pod) -> int                      # the pod's annotation
    next_failure_count(job, failed_pods, index)    # the annotation a new pod for index gets
    index_failed(job, pod) -> bool                 # does this failed pod fail its index?

Invariants: pure (no I/O); only failures that count (not matched by an ``Ignore`` rule)
raise the count, as upstream's ``getNewIndexFailureCounts``.

Taught in chapter 9 (Jobs and CronJobs).
"""

from __future__ import annotations

from typing import Any

from minik8s.controllers import podfailurepolicy

FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"

REASON_MAX_FAILED = "MaxFailedIndexesExceeded"
MESSAGE_MAX_FAILED = "Job has exceeded the specified maximal number of failed indexes"
REASON_FAILED_INDEXES = "FailedIndexes"
MESSAGE_FAILED_INDEXES = "Job has failed indexes"


def enabled(job: dict[str, Any]) -> bool:
    spec = job.get("spec") or {}
    return spec.get("completionMode") == "Indexed" and spec.get("backoffLimitPerIndex") is not None


def failure_count(pod: dict[str, Any]) -> int:
    text = str((pod["metadata"].get("annotations") or {}).get(FAILURE_COUNT) or "0")
    return int(text) if text.isdigit() else 0


def next_failure_count(job: dict[str, Any], failed_pods: list[dict[str, Any]]) -> int:
    """Failures so far of the index these failed pods ran: the latest counted failure's count + 1."""
    counts = [failure_count(p) + 1 for p in failed_pods if podfailurepolicy.match(job, p).counts]
    return max(counts, default=0)


def index_failed(job: dict[str, Any], pod: dict[str, Any]) -> bool:
    """A failed pod fails its index: a FailIndex rule matches it, or its index is out of retries."""
    verdict = podfailurepolicy.match(job, pod)
    if verdict.action == podfailurepolicy.FAIL_INDEX:
        return True
    return verdict.counts and failure_count(pod) >= int((job.get("spec") or {}).get("backoffLimitPerIndex") or 0)
