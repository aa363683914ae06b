"""The Job controller: run pods until enough of them have succeeded.

A Deployment keeps pods running forever; a Job wants them to *finish*. It
creates pods from ``spec.template`` (``restartPolicy`` Never or OnFailure) until
``spec.completions`` of them have succeeded, running at most
``spec.parallelism`` at a time. Failed pods are replaced after a back-off (10 s,
doubling per consecutive failure, capped at 10 minutes) until more than
``spec.backoffLimit`` (default 6) have failed; then the Job fails with reason
``BackoffLimitExceeded``. A Job that runs longer than ``activeDeadlineSeconds``
fails with ``DeadlineExceeded`` and its running pods are deleted. Setting
``spec.suspend`` deletes the active pods and stops the clock; clearing it starts
again.

``completionMode: Indexed`` gives each pod a completion index 0..completions-1
(annotation and label ``batch.kubernetes.io/job-completion-index``, env var
``JOB_COMPLETION_INDEX``, name ``<job>-<index>-<random>``, hostname
``<job>-<index>``); the Job is complete when every index has one succeeded pod,
and ``status.completedIndexes`` lists them (``"0-2,4"``).

Counting pods exactly once (the ``batch.kubernetes.io/job-tracking`` finalizer):
every pod is created with this finalizer, so it cannot vanish before it has been
counted. When a pod finishes the controller (1) writes its uid to
``status.uncountedTerminatedPods``, (2) removes the pod's finalizer, (3) moves
the uid into the ``succeeded`` / ``failed`` counters. A crash between any two
steps is harmless: the next reconcile picks up where the status says.

Finishing takes two steps too (since 1.31): first an interim condition,
``SuccessCriteriaMet`` or ``FailureTarget``; once no pod is terminating any more,
the terminal ``Complete`` (reason ``CompletionsReached``, message ``Reached
expected number of succeeded pods``) or ``Failed`` condition, plus
``completionTime`` for a complete Job. An Indexed Job's ``successPolicy`` can reach
``SuccessCriteriaMet`` early (reason ``SuccessPolicy``, successpolicy.py): the pods still
running are then deleted. Events: ``SuccessfulCreate`` (``Created
pod: pi-xxxxx``), ``SuccessfulDelete``, ``Completed`` (``Job completed``),
``BackoffLimitExceeded`` / ``DeadlineExceeded`` (Warning), ``Suspended`` /
``Resumed``.

Interface:
    plan_job(job, pods, now) -> JobPlan       # the pure decision: what to create, delete, conclude
    format_indexes(indexes) / parse_indexes(text)
    backoff_remaining(pods, now) -> seconds   # pod failure back-off still to wait
    JobController                             # the thin reconcile that executes a plan

How minik8s differs:
    * upstream keeps the pod-failure back-off in memory (a "backoff record" updated with
      newly finished pods); minik8s recomputes it from the Job's finished pods each time,
      which gives the same delays while the pods exist (Jobs keep their pods);
    * ``managedBy`` is accepted by the API but not acted on (``podFailurePolicy``,
      ``backoffLimitPerIndex`` and ``successPolicy`` are: podfailurepolicy.py,
      backofflimitperindex.py, successpolicy.py); a pod of an index that has failed is not
      deleted early;
    * upstream caps each sync at 500 pod creations and 500 uncounted pods and creates
      pods in "slow start" batches; minik8s creates what is needed in one pass;
    * the upstream docs still say the back-off is capped at six minutes; the 1.32 code
      (``MaxJobPodFailureBackOff``) caps it at ten, and so does minik8s.

Taught in chapter 9 (Jobs and CronJobs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.selectors import from_label_selector
from minik8s.clock import parse_rfc3339, rfc3339
from minik8s.controllers import backofflimitperindex, podfailurepolicy, successpolicy
from minik8s.controllers.controller import Controller
from minik8s.controllers.podcontrol import (Expectations, PodControl, controller_of, is_pod_active, is_pod_ready,
                                            pod_key)

JOBS = resources.get("batch", "v1", "jobs")
PODS = resources.get("", "v1", "pods")
assert JOBS is not None and PODS is not None

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"

# Pod failure back-off: the first replacement waits this long, each further consecutive failure doubles it.
BACKOFF_BASE_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 600.0

REASON_COMPLETIONS_REACHED = "CompletionsReached"
MESSAGE_COMPLETIONS_REACHED = "Reached expected number of succeeded pods"
REASON_BACKOFF = "BackoffLimitExceeded"
MESSAGE_BACKOFF = "Job has reached the specified backoff limit"
REASON_DEADLINE = "DeadlineExceeded"
MESSAGE_DEADLINE = "Job was active longer than specified deadline"


# --- reading Jobs and pods ------------------------------------------------------------------


def condition(job: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The Job's condition of this type with status True, if any."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond  # type: ignore[no-any-return]
    return None


def is_finished(job: dict[str, Any]) -> bool:
    """Complete or Failed: a finished Job never changes again (upstream's ``IsJobFinished``)."""
    return condition(job, "Complete") is not None or condition(job, "Failed") is not None


def finish_time(job: dict[str, Any]) -> float | None:
    """When the Job finished: its terminal condition's lastTransitionTime."""
    cond = condition(job, "Complete") or condition(job, "Failed")
    stamp = (cond or {}).get("lastTransitionTime")
    return parse_rfc3339(stamp) if stamp else None


def is_indexed(job: dict[str, Any]) -> bool:
    return (job.get("spec") or {}).get("completionMode") == "Indexed"


def is_suspended(job: dict[str, Any]) -> bool:
    return bool((job.get("spec") or {}).get("suspend"))


def _phase(pod: dict[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _uid(pod: dict[str, Any]) -> str:
    return str(pod["metadata"].get("uid"))


def has_finalizer(pod: dict[str, Any]) -> bool:
    return TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or [])


def is_terminating(pod: dict[str, Any]) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp")) and _phase(pod) not in ("Succeeded", "Failed")


def is_pod_failed(pod: dict[str, Any], job: dict[str, Any]) -> bool:
    """Failed, or deleted before it could succeed (with the default podReplacementPolicy,
    TerminatingOrFailed, a pod being deleted already counts as a failure)."""
    if _phase(pod) == "Failed":
        return True
    if (job.get("spec") or {}).get("podReplacementPolicy") == "Failed":
        return False
    return bool(pod["metadata"].get("deletionTimestamp")) and _phase(pod) != "Succeeded"


def completion_index(pod: dict[str, Any]) -> int | None:
    text = (pod["metadata"].get("annotations") or {}).get(COMPLETION_INDEX)
    return int(text) if text is not None and str(text).isdigit() else None


def pod_finish_time(pod: dict[str, Any]) -> float:
    """When a pod finished: its containers' last finishedAt, else Ready=False's transition, else
    its deletion time, else its creation (upstream's ``getFinishedTime``)."""
    status = pod.get("status") or {}
    times = [((s.get("state") or {}).get("terminated") or {}).get("finishedAt")
             for s in status.get("containerStatuses") or []]
    if times and all(times):
        return max(parse_rfc3339(t) for t in times if t)
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "False" and cond.get("lastTransitionTime"):
            return parse_rfc3339(cond["lastTransitionTime"])
    meta = pod["metadata"]
    if meta.get("deletionTimestamp"):
        return parse_rfc3339(meta["deletionTimestamp"]) - float(meta.get("deletionGracePeriodSeconds") or 0)
    return parse_rfc3339(meta["creationTimestamp"]) if meta.get("creationTimestamp") else 0.0


# --- completed indexes ----------------------------------------------------------------------


def format_indexes(indexes: set[int] | list[int]) -> str:
    """``{0, 1, 2, 4}`` -> ``"0-2,4"`` (the format of ``status.completedIndexes``)."""
    parts: list[str] = []
    ordered = sorted(set(indexes))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def parse_indexes(text: str | None) -> set[int]:
    result: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        low, _, high = part.partition("-")
        result.update(range(int(low), int(high or low) + 1))
    return result


# --- back-off --------------------------------------------------------------------------------


def backoff_remaining(job: dict[str, Any], pods: list[dict[str, Any]], now: float) -> float:
    """Seconds to wait before creating a replacement pod: 10 s after one consecutive failure,
    doubling with each further one (counted since the last success), capped at 10 minutes."""
    succeeded = [pod_finish_time(p) for p in pods if _phase(p) == "Succeeded"]
    last_success = max(succeeded) if succeeded else float("-inf")
    failures = [t for t in (pod_finish_time(p) for p in pods if is_pod_failed(p, job)) if t > last_success]
    if not failures:
        return 0.0
    delay = min(BACKOFF_BASE_SECONDS * 2 ** (len(failures) - 1), BACKOFF_MAX_SECONDS)
    return max(delay - (now - max(failures)), 0.0)


# --- the decision ------------------------------------------------------------------------------


def new_condition(kind: str, reason: str, message: str, now: float, status: str = "True") -> dict[str, Any]:
    stamp = rfc3339(now)
    return {"type": kind, "status": status, "lastProbeTime": stamp, "lastTransitionTime": stamp,
            "reason": reason, "message": message}


@dataclass
class JobPlan:
    """What one reconcile of a Job should do."""

    create: list[int | None] = field(default_factory=list)  # one entry per pod: its index (Indexed) or None
    delete: list[dict[str, Any]] = field(default_factory=list)  # active pods to delete
    interim: dict[str, Any] | None = None  # SuccessCriteriaMet or FailureTarget, once decided
    suspended: bool | None = None  # the Suspended condition's wanted status (None: leave it)
    requeue_after: float | None = None  # come back then (back-off, deadline)
    succeeded: int = 0
    failed: int = 0
    succeeded_indexes: set[int] = field(default_factory=set)
    failed_indexes: set[int] = field(default_factory=set)  # backoffLimitPerIndex: indexes out of retries
    failure_counts: dict[int, int] = field(default_factory=dict)  # backoffLimitPerIndex: per index to create


def counted(job: dict[str, Any], pods: list[dict[str, Any]], skip: set[str]) -> tuple[int, int, set[int]]:
    """Succeeded and failed so far: the status counters, the uncounted uids, and finished pods that
    still carry the tracking finalizer (not yet anywhere in the status); plus succeeded indexes."""
    status = job.get("status") or {}
    uncounted = status.get("uncountedTerminatedPods") or {}
    seen = set(uncounted.get("succeeded") or []) | set(uncounted.get("failed") or []) | skip
    fresh = [p for p in pods if has_finalizer(p) and _uid(p) not in seen]
    if is_indexed(job):
        completions = int(job["spec"].get("completions") or 0)
        fresh = [p for p in fresh if _valid_index(p, completions)]
    succeeded = int(status.get("succeeded") or 0) + len(uncounted.get("succeeded") or []) + \
        sum(1 for p in fresh if _phase(p) == "Succeeded")
    failed = int(status.get("failed") or 0) + len(uncounted.get("failed") or []) + \
        sum(1 for p in fresh if is_pod_failed(p, job) and counts_as_failure(job, p))
    indexes: set[int] = set()
    if is_indexed(job):
        completions = int(job["spec"].get("completions") or 0)
        indexes = {i for i in parse_indexes(status.get("completedIndexes")) if i < completions}
        indexes |= {i for p in pods if _phase(p) == "Succeeded"
                    for i in [completion_index(p)] if i is not None and i < completions}
        succeeded = len(indexes)
    return succeeded, failed, indexes


def counts_as_failure(job: dict[str, Any], pod: dict[str, Any]) -> bool:
    """A failed pod counts against backoffLimit unless a podFailurePolicy Ignore rule matches it."""
    return _phase(pod) != "Failed" or podfailurepolicy.match(job, pod).counts


def _policy_failure(job: dict[str, Any], pods: list[dict[str, Any]], skip: set[str],
                    now: float) -> dict[str, Any] | None:
    """FailureTarget (reason PodFailurePolicy) for the first newly failed pod a FailJob rule matches."""
    if not (job.get("spec") or {}).get("podFailurePolicy"):
        return None
    for pod in sorted(pods, key=pod_finish_time):
        if _phase(pod) != "Failed" or not has_finalizer(pod) or _uid(pod) in skip:
            continue
        verdict = podfailurepolicy.match(job, pod)
        if verdict.action == podfailurepolicy.FAIL_JOB and verdict.message:
            return new_condition("FailureTarget", podfailurepolicy.REASON, verdict.message, now)
    return None


def _valid_index(pod: dict[str, Any], completions: int) -> bool:
    index = completion_index(pod)
    return index is not None and index < completions


def _restarts(job: dict[str, Any], pods: list[dict[str, Any]]) -> bool:
    """With restartPolicy OnFailure the kubelet restarts containers in place: their restarts count
    against backoffLimit instead of failed pods (upstream's ``pastBackoffLimitOnFailure``)."""
    spec = job.get("spec") or {}
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    total = sum(int(s.get("restartCount") or 0) for p in pods if _phase(p) in ("Pending", "Running")
                for s in ((p.get("status") or {}).get("initContainerStatuses") or []) +
                ((p.get("status") or {}).get("containerStatuses") or []))
    limit = int(spec.get("backoffLimit", 6))
    return total > 0 if limit == 0 else total >= limit


def plan_job(job: dict[str, Any], pods: list[dict[str, Any]], now: float, *,
             skip: set[str] | frozenset[str] = frozenset()) -> JobPlan:
    """Compare what the Job asks for with its pods and decide (pure: no I/O).

    ``pods`` are the pods the Job controls; ``skip`` are uids whose tracking finalizer this
    controller has already removed but the cache may not show yet."""
    spec, status = job.get("spec") or {}, job.get("status") or {}
    plan = JobPlan()
    plan.succeeded, plan.failed, plan.succeeded_indexes = counted(job, pods, set(skip))
    active = [p for p in pods if is_pod_active(p)]
    start = parse_rfc3339(status["startTime"]) if status.get("startTime") else now

    # Already decided in an earlier pass: keep going towards the terminal condition.
    plan.interim = condition(job, "SuccessCriteriaMet") or condition(job, "FailureTarget")
    per_index = backofflimitperindex.enabled(job)
    if per_index:
        plan.failed_indexes = _failed_indexes(job, pods)
    if plan.interim is None:
        plan.interim = _policy_failure(job, pods, set(skip), now)
    if plan.interim is None and per_index and spec.get("maxFailedIndexes") is not None and \
            len(plan.failed_indexes) > int(spec["maxFailedIndexes"]):
        plan.interim = new_condition("FailureTarget", backofflimitperindex.REASON_MAX_FAILED,
                                     backofflimitperindex.MESSAGE_MAX_FAILED, now)
    if plan.interim is None:
        deadline = spec.get("activeDeadlineSeconds")
        if plan.failed > int(spec.get("backoffLimit", 6)) or _restarts(job, pods):
            plan.interim = new_condition("FailureTarget", REASON_BACKOFF, MESSAGE_BACKOFF, now)
        elif deadline is not None and not is_suspended(job) and now - start >= float(deadline):
            plan.interim = new_condition("FailureTarget", REASON_DEADLINE, MESSAGE_DEADLINE, now)
        elif deadline is not None and not is_suspended(job):
            plan.requeue_after = start + float(deadline) - now
    if plan.interim is None and is_indexed(job) and (message := successpolicy.match(job, plan.succeeded_indexes)):
        plan.interim = new_condition("SuccessCriteriaMet", successpolicy.REASON, message, now)
    if plan.interim is not None:
        plan.delete = active  # whatever the outcome, the pods still running are no longer wanted
        return plan

    completions = spec.get("completions")
    if is_suspended(job):
        plan.delete = list(active)
        plan.suspended = True
        return plan
    plan.suspended = False
    if completions is None:
        # A work queue: done when any pod has succeeded and the rest have finished.
        want = len(active) if plan.succeeded > 0 else int(spec.get("parallelism", 1))
    else:
        want = max(min(int(completions) - plan.succeeded, int(spec.get("parallelism", 1))), 0)
    if is_indexed(job):
        plan.delete = _duplicate_indexes(active, int(completions or 0))
    surplus = len(active) - len(plan.delete) - want
    if surplus > 0:
        rest = [p for p in active if p not in plan.delete]
        plan.delete += sorted(rest, key=_deletion_cost)[:surplus]
    if plan.delete:
        return plan  # deletions first; creations wait for the next pass, as upstream
    missing = want - len(active)
    if spec.get("podReplacementPolicy") == "Failed":
        missing -= sum(1 for p in pods if is_terminating(p))  # replaced once it has failed, not before
    if missing > 0:
        if per_index:  # each index backs off on its own
            plan.create = _per_index_creations(job, pods, plan, active, missing, now)
        elif (wait := backoff_remaining(job, pods, now)) > 0:
            plan.requeue_after = wait if plan.requeue_after is None else min(plan.requeue_after, wait)
        elif is_indexed(job):
            plan.create = list(_pending_indexes(plan.succeeded_indexes, active, int(completions or 0), missing))
        else:
            plan.create = [None] * missing
    done = plan.succeeded > 0 if completions is None else plan.succeeded >= int(completions)
    if plan.failed_indexes and len(plan.succeeded_indexes | plan.failed_indexes) >= int(completions or 0) \
            and not active and not plan.create:
        plan.interim = new_condition("FailureTarget", backofflimitperindex.REASON_FAILED_INDEXES,
                                     backofflimitperindex.MESSAGE_FAILED_INDEXES, now)
    elif done and not active and not plan.create:
        plan.interim = new_condition("SuccessCriteriaMet", REASON_COMPLETIONS_REACHED, MESSAGE_COMPLETIONS_REACHED, now)
    return plan


def _failed_indexes(job: dict[str, Any], pods: list[dict[str, Any]]) -> set[int]:
    """backoffLimitPerIndex: indexes already failed (status) and those a failed pod fails now."""
    completions = int(job["spec"].get("completions") or 0)
    failed = parse_indexes((job.get("status") or {}).get("failedIndexes"))
    failed |= {i for p in pods if _phase(p) == "Failed" and backofflimitperindex.index_failed(job, p)
               for i in [completion_index(p)] if i is not None}
    return {i for i in failed if i < completions}


def _per_index_creations(job: dict[str, Any], pods: list[dict[str, Any]], plan: JobPlan,
                         active: list[dict[str, Any]], missing: int, now: float) -> list[int | None]:
    """backoffLimitPerIndex: the lowest pending indexes whose own back-off has passed; each new pod
    gets its index's failure count. Sets ``plan.requeue_after`` for an index still backing off."""
    completions = int(job["spec"].get("completions") or 0)
    chosen: list[int | None] = []
    for index in _pending_indexes(plan.succeeded_indexes | plan.failed_indexes, active, completions, completions):
        if len(chosen) == missing:
            break
        mine = [p for p in pods if completion_index(p) == index]
        wait = backoff_remaining(job, mine, now)
        if wait > 0:
            plan.requeue_after = wait if plan.requeue_after is None else min(plan.requeue_after, wait)
            continue
        plan.failure_counts[index] = backofflimitperindex.next_failure_count(
            job, [p for p in mine if is_pod_failed(p, job)])
        chosen.append(index)
    return chosen


def _deletion_cost(pod: dict[str, Any]) -> tuple[int, int, int]:
    """Delete the least advanced pods first: not ready < ready, unscheduled < scheduled, pending < running."""
    return (int(is_pod_ready(pod)), int(bool((pod.get("spec") or {}).get("nodeName"))),
            int(_phase(pod) == "Running"))


def _duplicate_indexes(active: list[dict[str, Any]], completions: int) -> list[dict[str, Any]]:
    """Indexed Jobs: pods without a valid index, and all but one pod per index, must go."""
    seen: set[int] = set()
    extra: list[dict[str, Any]] = []
    for pod in active:
        index = completion_index(pod)
        if index is None or index >= completions or index in seen:
            extra.append(pod)
        else:
            seen.add(index)
    return extra


def _pending_indexes(done: set[int], active: list[dict[str, Any]], completions: int, count: int) -> list[int]:
    """The lowest indexes that have neither succeeded nor a running pod."""
    busy = done | {i for p in active for i in [completion_index(p)] if i is not None}
    return [i for i in range(completions) if i not in busy][:count]


# --- the controller ------------------------------------------------------------------------------


def pod_template_for(job: dict[str, Any], index: int | None,
                     failure_count: int | None = None) -> tuple[dict[str, Any], str]:
    """The template a new pod is made from, and its generateName (``<job>-`` or ``<job>-<index>-``)."""
    name = job["metadata"]["name"]
    template = deep_copy(job["spec"].get("template") or {})
    meta = template.setdefault("metadata", {})
    finalizers = meta.setdefault("finalizers", [])
    if TRACKING_FINALIZER not in finalizers:
        finalizers.append(TRACKING_FINALIZER)
    if index is None:
        return template, f"{name}-"
    meta.setdefault("annotations", {})[COMPLETION_INDEX] = str(index)
    meta.setdefault("labels", {})[COMPLETION_INDEX] = str(index)
    if failure_count is not None:
        meta["annotations"][backofflimitperindex.FAILURE_COUNT] = str(failure_count)
    pod_spec = template.setdefault("spec", {})
    pod_spec["hostname"] = f"{name}-{index}"
    source = {"fieldRef": {"apiVersion": "v1", "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}
    for container in (pod_spec.get("initContainers") or []) + (pod_spec.get("containers") or []):
        env = container.setdefault("env", [])
        if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
            env.append({"name": COMPLETION_INDEX_ENV, "valueFrom": source})
    return template, f"{name}-{index}-"


class JobController(Controller):
    name = "job-controller"
    watches = (JOBS, PODS)

    def __init__(self, ctx: Any):
        super().__init__(ctx)
        self.pods = PodControl(self.client, ctx.recorder, self.name)
        self.expectations = Expectations(self.clock)
        # uids whose tracking finalizer we removed, until the cache shows it gone (upstream's
        # finalizerExpectations): without this a stale cache would count a pod twice.
        self._removed: dict[Hashable, set[str]] = {}

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        if resource is JOBS:
            return [(meta.get("namespace", ""), meta.get("name", ""))]
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != "Job":
            # An orphan still holding our finalizer (its Job is gone): release it.
            return [("pod", meta.get("namespace", ""), meta.get("name", ""))] if has_finalizer(obj) else []
        key = (meta.get("namespace", ""), ref.get("name", ""))
        gone = self.informer(PODS).get(meta.get("namespace", ""), meta.get("name", "")) is None
        if old is None and not gone:
            self.expectations.creation_observed(key)
        if gone or meta.get("deletionTimestamp"):
            self.expectations.deletion_observed(key, pod_key(obj))
        if gone or not has_finalizer(obj):
            self._removed.get(key, set()).discard(str(meta.get("uid")))
        return [key]

    def reconcile(self, key: Any) -> None:
        if key[0] == "pod":
            self._release_orphan(key[1], key[2])
            return
        namespace, name = key
        job = self.informer(JOBS).get(namespace, name)
        if job is None:
            self.expectations.forget(key)
            self._removed.pop(key, None)
            self._release_pods_of_gone_job(namespace, name)
            return
        if is_finished(job):
            return
        job = deep_copy(job)
        now = self.clock.now()
        pods = self._pods_for(job)
        skip = self._removed.setdefault(key, set())
        plan = plan_job(job, pods, now, skip=skip)
        status = job.setdefault("status", {})
        if not status.get("startTime") and not is_suspended(job):
            status["startTime"] = rfc3339(now)
        satisfied = self.expectations.satisfied(key)
        active = [p for p in pods if is_pod_active(p)]
        terminating = sum(1 for p in pods if is_terminating(p))
        deleted = self._delete(job, key, plan.delete)
        terminating += deleted
        interim = plan.interim
        if interim is not None and interim["type"] == "FailureTarget" and (deleted != len(active) or not satisfied):
            interim = None  # some pods may not be gone (or seen) yet: decide again next pass
        if interim is None and satisfied and not job["metadata"].get("deletionTimestamp"):
            self._create(job, key, plan.create, plan.failure_counts)
            self._sync_suspended(job, plan.suspended, now)
        status["active"] = len(active) - deleted + len(plan.create)
        status["ready"] = sum(1 for p in active if is_pod_ready(p) and p not in plan.delete)
        status["terminating"] = terminating
        self._track(job, key, pods, plan, interim, terminating, now)
        if plan.requeue_after is not None:
            self.requeue_after(key, plan.requeue_after)

    # --- pods ---------------------------------------------------------------------------------

    def _pods_for(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        namespace = job["metadata"]["namespace"]
        selector = from_label_selector((job.get("spec") or {}).get("selector"))
        candidates = self.informer(PODS).list(namespace)
        return self.pods.claim_pods(job, selector, candidates)

    def _create(self, job: dict[str, Any], key: Hashable, indexes: list[int | None],
                failure_counts: dict[int, int] | None = None) -> None:
        if not indexes:
            return
        self.expectations.expect_creations(key, len(indexes))
        for index in indexes:
            count = (failure_counts or {}).get(index) if index is not None else None
            template, generate_name = pod_template_for(job, index, count)
            try:
                self.pods.create_pod(job, template, generate_name=generate_name)
            except StatusError:
                self.expectations.lower_creations(key)
                raise

    def _delete(self, job: dict[str, Any], key: Hashable, pods: list[dict[str, Any]]) -> int:
        if not pods:
            return 0
        self.expectations.expect_deletions(key, [pod_key(p) for p in pods])
        for pod in pods:
            self.pods.delete_pod(job, pod)
        return len(pods)

    def _remove_finalizer(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        remaining = [f for f in meta.get("finalizers") or [] if f != TRACKING_FINALIZER]
        # A JSON patch with a test on resourceVersion would be stricter; a merge patch of the
        # finalizer list is what upstream sends (a strategic "$deleteFromPrimitiveList").
        try:
            self.client.patch(PODS, meta["name"], {"metadata": {"finalizers": remaining or None}},
                              meta.get("namespace"))
        except StatusError as err:
            if err.code != 404:
                raise

    def _release_orphan(self, namespace: str, name: str) -> None:
        pod = self.informer(PODS).get(namespace, name)
        if pod is None or not has_finalizer(pod):
            return
        ref = controller_of(pod)
        if ref is not None and ref.get("kind") == "Job" and self.informer(JOBS).get(namespace, ref.get("name", "")):
            return
        self._remove_finalizer(pod)

    def _release_pods_of_gone_job(self, namespace: str, name: str) -> None:
        for pod in self.informer(PODS).list(namespace):
            ref = controller_of(pod)
            if has_finalizer(pod) and ref is not None and ref.get("kind") == "Job" and ref.get("name") == name:
                self._remove_finalizer(pod)

    # --- status -------------------------------------------------------------------------------

    def _sync_suspended(self, job: dict[str, Any], wanted: bool | None, now: float) -> None:
        if wanted is None:
            return
        conditions = job["status"].get("conditions") or []
        current = next((c for c in conditions if c.get("type") == "Suspended"), None)
        if wanted:
            if current is not None and current.get("status") == "True":
                return
            new = new_condition("Suspended", "JobSuspended", "Job suspended", now)
            self.ctx.recorder.event(job, "Normal", "Suspended", "Job suspended", component=self.name)
        else:
            if current is None or current.get("status") != "True":
                return
            new = new_condition("Suspended", "JobResumed", "Job resumed", now, status="False")
            self.ctx.recorder.event(job, "Normal", "Resumed", "Job resumed", component=self.name)
            # activeDeadlineSeconds counts time spent active, so the clock restarts on resume.
            job["status"]["startTime"] = rfc3339(now)
        if current is not None:
            conditions.remove(current)
        job["status"]["conditions"] = conditions + [new]

    def _track(self, job: dict[str, Any], key: Hashable, pods: list[dict[str, Any]], plan: JobPlan,
               interim: dict[str, Any] | None, terminating: int, now: float) -> None:
        """Count finished pods exactly once (uncounted -> remove finalizer -> counters), then
        write the interim and terminal conditions."""
        status = job["status"]
        skip = self._removed.setdefault(key, set())
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        finishing = interim is not None and interim["type"] == "FailureTarget"
        to_release: list[dict[str, Any]] = []
        completions = int(job["spec"].get("completions") or 0)
        for pod in pods:
            if not has_finalizer(pod) or _uid(pod) in skip:
                continue
            failed = is_pod_failed(pod, job)
            if not (_phase(pod) == "Succeeded" or failed or finishing or job["metadata"].get("deletionTimestamp")):
                continue
            to_release.append(pod)
            uid = _uid(pod)
            listed = set(uncounted.get("succeeded") or []) | set(uncounted.get("failed") or [])
            index = completion_index(pod)
            valid = not is_indexed(job) or (index is not None and index < completions)
            if uid in listed or not valid:
                continue
            if _phase(pod) == "Succeeded":
                if not is_indexed(job):
                    uncounted.setdefault("succeeded", []).append(uid)
            elif (failed and counts_as_failure(job, pod)) or (finishing and not failed):
                uncounted.setdefault("failed", []).append(uid)
        if is_indexed(job):
            status["completedIndexes"] = format_indexes(plan.succeeded_indexes)
            status["succeeded"] = len(plan.succeeded_indexes)
        if backofflimitperindex.enabled(job):
            status["failedIndexes"] = format_indexes(plan.failed_indexes)
        if interim is not None and condition(job, interim["type"]) is None:
            status.setdefault("conditions", []).append(interim)
        status.setdefault("succeeded", 0)
        status.setdefault("failed", 0)
        job = self._write_status(job)  # 1: the uids are recorded before any finalizer goes
        status = job["status"]
        uncounted = status.setdefault("uncountedTerminatedPods", {})
        for pod in to_release:
            self._remove_finalizer(pod)
            skip.add(_uid(pod))
        released = {_uid(p) for p in to_release}
        for kind in ("succeeded", "failed"):
            uids = uncounted.get(kind) or []
            moved = [u for u in uids if u in released or u not in {_uid(p) for p in pods if has_finalizer(p)}]
            status[kind] = int(status.get(kind) or 0) + len(moved)
            rest = [u for u in uids if u not in moved]
            if rest:
                uncounted[kind] = rest
            else:
                uncounted.pop(kind, None)
        finished = self._finish(job, interim, terminating, now)
        self._write_status(job)  # 2: the counters, and the terminal condition if reached
        if finished is not None:
            self._record_finished(job, finished)

    def _finish(self, job: dict[str, Any], interim: dict[str, Any] | None, terminating: int,
                now: float) -> dict[str, Any] | None:
        """Add Complete/Failed once every pod is counted and none is still terminating."""
        status = job["status"]
        uncounted = status.get("uncountedTerminatedPods") or {}
        if interim is None or uncounted.get("succeeded") or uncounted.get("failed") or terminating > 0:
            return None
        kind = "Complete" if interim["type"] == "SuccessCriteriaMet" else "Failed"
        final = new_condition(kind, interim.get("reason", ""), interim.get("message", ""), now)
        status.setdefault("conditions", []).append(final)
        if kind == "Complete":
            status["completionTime"] = final["lastTransitionTime"]
        return final

    def _record_finished(self, job: dict[str, Any], final: dict[str, Any]) -> None:
        if final["type"] == "Complete":
            completions = job["spec"].get("completions")
            if completions is not None and int(job["status"].get("succeeded") or 0) > int(completions):
                self.ctx.recorder.event(job, "Warning", "TooManySucceededPods",
                                        "Too many succeeded pods running after completion count reached",
                                        component=self.name)
            self.ctx.recorder.event(job, "Normal", "Completed", "Job completed", component=self.name)
        else:
            self.ctx.recorder.event(job, "Warning", final["reason"], final["message"], component=self.name)

    def _write_status(self, job: dict[str, Any]) -> dict[str, Any]:
        written = self.client.update(JOBS, job, job["metadata"]["namespace"], subresource="status")
        return deep_copy(written)
