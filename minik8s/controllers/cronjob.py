"""The CronJob controller: create a Job at every tick of a cron schedule.

A CronJob is a Job template plus a ``schedule`` (see :mod:`minik8s.controllers.cron`).
At each scheduled time the controller creates a Job named ``<cronjob>-<scheduled
time in minutes since the epoch>`` (so the same tick can never create two Jobs),
annotated ``batch.kubernetes.io/cronjob-scheduled-timestamp`` and controlled by
the CronJob. Then it sleeps until the next tick: it is requeued for exactly that
time, it never polls.

What happens at a tick depends on the spec:

* ``suspend: true``: nothing (ticks are skipped, not queued up);
* ``concurrencyPolicy``: ``Allow`` (default) runs Jobs side by side; ``Forbid``
  skips the tick while a Job is still active (event ``JobAlreadyActive``);
  ``Replace`` deletes the active Job and starts the new one;
* ``startingDeadlineSeconds``: a tick missed by more than this (the controller
  was down, the CronJob was suspended) is not run late (event ``MissSchedule``);
  only the most recent missed tick is ever run. More than 100 missed ticks give
  the warning ``TooManyMissedTimes``.

``status.active`` lists the running Jobs, ``status.lastScheduleTime`` the last
tick that started one and ``status.lastSuccessfulTime`` when the last Job
completed. Finished Jobs beyond ``successfulJobsHistoryLimit`` (3) and
``failedJobsHistoryLimit`` (1) are deleted, oldest first, with background
propagation. Events: ``SuccessfulCreate`` (``Created job hello-28934560``),
``SawCompletedJob`` (``Saw completed job: hello-28934560, status: Complete``),
``SuccessfulDelete`` (``Deleted job hello-28934500``).

Interface:
    job_name(cronjob, scheduled) -> str
    most_recent_schedule_time(cronjob, now, schedule, with_deadline) -> (earliest, time | None, missed)
    next_schedule_time(cronjob, now, schedule) -> float | None   # the tick to run now, if any
    requeue_delay(cronjob, now, schedule) -> seconds             # until the next tick
    jobs_to_delete(cronjob, jobs) -> Jobs beyond the history limits
    job_from_template(cronjob, scheduled) -> Job
    CronJobController

How minik8s differs: upstream requeues 100 ms after each tick to absorb clock
skew between machines; minik8s requeues at the tick itself, so a virtual clock
advanced by an hour sees every tick of that hour.

Taught in chapter 9 (Jobs and CronJobs).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Hashable

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.clock import parse_rfc3339, rfc3339
from minik8s.controllers import cron
from minik8s.controllers.controller import Controller
from minik8s.controllers.job import JOBS, condition, is_finished
from minik8s.controllers.podcontrol import controller_of, controller_ref

CRONJOBS = resources.get("batch", "v1", "cronjobs")
assert CRONJOBS is not None

SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
# More missed ticks than this and something is wrong (a clock far off): say so.
MAX_MISSED = 100

NONE_MISSED, FEW_MISSED, MANY_MISSED = 0, 1, 2


def _time(text: str | None) -> float | None:
    return parse_rfc3339(text) if text else None


def job_name(cronjob: dict[str, Any], scheduled: float) -> str:
    return f"{cronjob['metadata']['name']}-{int(scheduled) // 60}"


def most_recent_schedule_time(cronjob: dict[str, Any], now: float, schedule: cron.Schedule,
                              with_deadline: bool) -> tuple[float, float | None, int]:
    """(earliest time considered, the latest tick in (earliest, now] or None, how many were missed).

    Earliest is the last scheduled time (or the CronJob's creation), moved up to
    ``now - startingDeadlineSeconds`` when that is later and ``with_deadline``."""
    status, spec = cronjob.get("status") or {}, cronjob.get("spec") or {}
    earliest = _time(status.get("lastScheduleTime")) or _time(cronjob["metadata"].get("creationTimestamp")) or now
    deadline = spec.get("startingDeadlineSeconds")
    if with_deadline and deadline is not None:
        earliest = max(earliest, now - float(deadline))
    first = schedule.next(earliest)
    if first is None or now < first:
        return earliest, None, NONE_MISSED
    second = schedule.next(first)
    if second is None or now < second:
        return earliest, first, NONE_MISSED
    # Several ticks passed: walk them, but stop counting past the limit (a clock decades off
    # must not make the controller enumerate millions of ticks).
    latest, missed, t = first, 1, second
    while t is not None and t <= now:
        latest, missed = t, missed + 1
        if missed > MAX_MISSED:
            # Jump close to now: the exact count no longer matters, only the latest tick.
            step = second - first
            t = schedule.next(max(t, now - 2 * step))
            while t is not None and t <= now:
                latest, t = t, schedule.next(t)
            break
        t = schedule.next(t)
    return earliest, latest, MANY_MISSED if missed > MAX_MISSED else FEW_MISSED


def next_schedule_time(cronjob: dict[str, Any], now: float, schedule: cron.Schedule) -> tuple[float | None, int]:
    """The tick a Job should be started for now (the most recent unmet one), and the missed count class."""
    _, latest, missed = most_recent_schedule_time(cronjob, now, schedule, with_deadline=True)
    return (latest if latest is not None and latest <= now else None), missed


def requeue_delay(cronjob: dict[str, Any], now: float, schedule: cron.Schedule) -> float | None:
    """Seconds until the next tick after the last one handled."""
    earliest, latest, missed = most_recent_schedule_time(cronjob, now, schedule, with_deadline=False)
    base = latest if latest is not None else (earliest if missed == NONE_MISSED else now)
    upcoming = schedule.next(base)
    if upcoming is not None and upcoming <= now:
        upcoming = schedule.next(now)
    return None if upcoming is None else upcoming - now


def finished_type(job: dict[str, Any]) -> str | None:
    if condition(job, "Complete"):
        return "Complete"
    if condition(job, "Failed"):
        return "Failed"
    return None


def _start_key(job: dict[str, Any]) -> tuple[int, float, str]:
    """Oldest first by status.startTime (Jobs without one last), ties by name (upstream's byJobStartTime)."""
    start = _time((job.get("status") or {}).get("startTime"))
    return (0 if start is not None else 1, start or 0.0, job["metadata"]["name"])


def jobs_to_delete(cronjob: dict[str, Any], jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Finished Jobs beyond the history limits, oldest first."""
    spec = cronjob.get("spec") or {}
    doomed: list[dict[str, Any]] = []
    for kind, limit_key in (("Complete", "successfulJobsHistoryLimit"), ("Failed", "failedJobsHistoryLimit")):
        limit = spec.get(limit_key)
        if limit is None:
            continue
        finished = sorted((j for j in jobs if finished_type(j) == kind), key=_start_key)
        doomed += finished[:max(len(finished) - int(limit), 0)]
    return doomed


def job_from_template(cronjob: dict[str, Any], scheduled: float) -> dict[str, Any]:
    """The Job for one tick: the template's labels, annotations and spec, plus the scheduled time."""
    template = (cronjob.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    zone = cron.zone((cronjob.get("spec") or {}).get("timeZone"))
    annotations[SCHEDULED_TIMESTAMP] = datetime.fromtimestamp(int(scheduled), tz=zone).isoformat().replace(
        "+00:00", "Z")
    meta: dict[str, Any] = {"name": job_name(cronjob, scheduled), "namespace": cronjob["metadata"]["namespace"],
                            "annotations": annotations, "ownerReferences": [controller_ref(cronjob)]}
    if tmeta.get("labels"):
        meta["labels"] = dict(tmeta["labels"])
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": deep_copy(template.get("spec") or {})}


def _reference(job: dict[str, Any]) -> dict[str, Any]:
    meta = job["metadata"]
    return {"kind": "Job", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"],
            "apiVersion": "batch/v1", "resourceVersion": meta.get("resourceVersion")}


class CronJobController(Controller):
    name = "cronjob-controller"
    watches = (CRONJOBS, JOBS)

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        if resource is CRONJOBS:
            return [(meta.get("namespace", ""), meta.get("name", ""))]
        ref = controller_of(obj)
        if ref is None or ref.get("kind") != "CronJob":
            return []
        return [(meta.get("namespace", ""), ref.get("name", ""))]

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        cached = self.informer(CRONJOBS).get(namespace, name)
        if cached is None:
            return
        cronjob = deep_copy(cached)
        uid = cronjob["metadata"]["uid"]
        jobs = [j for j in self.informer(JOBS).list(namespace) if (controller_of(j) or {}).get("uid") == uid]
        changed = self._clean_up(cronjob, jobs)
        delay, synced = self._sync(cronjob, jobs)
        if changed or synced:
            self.client.update(CRONJOBS, cronjob, namespace, subresource="status")
        if delay is not None:
            self.requeue_after(key, delay)

    def _event(self, cronjob: dict[str, Any], type_: str, reason: str, message: str) -> None:
        self.ctx.recorder.event(cronjob, type_, reason, message, component=self.name)

    def _clean_up(self, cronjob: dict[str, Any], jobs: list[dict[str, Any]]) -> bool:
        changed = False
        for job in jobs_to_delete(cronjob, jobs):
            changed = self._delete_job(cronjob, job) or changed
        return changed

    def _delete_job(self, cronjob: dict[str, Any], job: dict[str, Any]) -> bool:
        meta = job["metadata"]
        try:
            self.client.delete(JOBS, meta["name"], meta["namespace"], propagation_policy="Background")
        except StatusError as err:
            if err.code != 404:
                self._event(cronjob, "Warning", "FailedDelete", f"Deleted job: {err.message}")
                return False
        status = cronjob.setdefault("status", {})
        status["active"] = [a for a in status.get("active") or [] if a.get("uid") != meta.get("uid")]
        self._event(cronjob, "Normal", "SuccessfulDelete", f"Deleted job {meta['name']}")
        return True

    def _observe_jobs(self, cronjob: dict[str, Any], jobs: list[dict[str, Any]]) -> bool:
        """Bring status.active and lastSuccessfulTime up to date with the Jobs that exist."""
        status = cronjob.setdefault("status", {})
        changed = False
        active_uids = {a.get("uid") for a in status.get("active") or []}
        for job in jobs:
            meta = job["metadata"]
            found = meta["uid"] in active_uids
            if not found and not is_finished(job):
                self._event(cronjob, "Warning", "UnexpectedJob",
                            f"Saw a job that the controller did not create or forgot: {meta['name']}")
            elif found and is_finished(job):
                status["active"] = [a for a in status.get("active") or [] if a.get("uid") != meta["uid"]]
                self._event(cronjob, "Normal", "SawCompletedJob",
                            f"Saw completed job: {meta['name']}, status: {finished_type(job)}")
                changed = True
            if finished_type(job) == "Complete":
                done = (job.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if done and (last is None or parse_rfc3339(done) > parse_rfc3339(last)):
                    status["lastSuccessfulTime"] = done
                    changed = True
        existing = {j["metadata"]["uid"] for j in jobs}
        for ref in list(status.get("active") or []):
            if ref.get("uid") in existing:
                continue
            try:
                self.client.get(JOBS, ref.get("name", ""), ref.get("namespace"))
            except StatusError as err:
                if err.code != 404:
                    raise
                self._event(cronjob, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}")
                status["active"] = [a for a in status["active"] if a.get("uid") != ref.get("uid")]
                changed = True
        if not status.get("active"):
            status.pop("active", None)
        return changed

    def _sync(self, cronjob: dict[str, Any], jobs: list[dict[str, Any]]) -> tuple[float | None, bool]:
        """Run this tick's Job if one is due; returns (seconds until the next tick, status changed)."""
        changed = self._observe_jobs(cronjob, jobs)
        spec, status = cronjob.get("spec") or {}, cronjob["status"]
        if cronjob["metadata"].get("deletionTimestamp") or spec.get("suspend"):
            return None, changed
        try:
            schedule = cron.parse(spec.get("schedule", ""), spec.get("timeZone"))
        except ValueError as err:
            if str(err).startswith("unknown time zone"):
                self._event(cronjob, "Warning", "UnknownTimeZone",
                            f'invalid timeZone: "{spec.get("timeZone")}": {err}')
            else:
                self._event(cronjob, "Warning", "UnparseableSchedule",
                            f'unparseable schedule: "{spec.get("schedule")}" : {err}')
            return None, changed
        now = self.clock.now()
        scheduled, missed = next_schedule_time(cronjob, now, schedule)
        delay = requeue_delay(cronjob, now, schedule)
        if scheduled is None:
            return delay, changed
        if missed == MANY_MISSED:
            self._event(cronjob, "Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease "
                        ".spec.startingDeadlineSeconds or check clock skew")
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + float(deadline) < now:
            stamp = datetime.fromtimestamp(scheduled, tz=timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000")
            self._event(cronjob, "Warning", "MissSchedule", f"Missed scheduled time to start a job: {stamp}")
            return delay, changed
        name = job_name(cronjob, scheduled)
        if any(a.get("name") == name for a in status.get("active") or []) or \
                _time(status.get("lastScheduleTime")) == float(int(scheduled)):
            return delay, changed
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and status.get("active"):
            self._event(cronjob, "Normal", "JobAlreadyActive",
                        "Not starting job because prior execution is running and concurrency policy is Forbid")
            return delay, changed
        if policy == "Replace":
            for ref in list(status.get("active") or []):
                job = next((j for j in jobs if j["metadata"]["uid"] == ref.get("uid")), None)
                if job is None or not self._delete_job(cronjob, job):
                    raise StatusError(500, "InternalError", f"could not replace job {ref.get('name')}")
                changed = True
        created = self._create_job(cronjob, scheduled)
        if created is None:
            return None, changed
        status.setdefault("active", []).append(_reference(created))
        status["lastScheduleTime"] = rfc3339(scheduled)
        return requeue_delay(cronjob, now, schedule), True

    def _create_job(self, cronjob: dict[str, Any], scheduled: float) -> dict[str, Any] | None:
        job = job_from_template(cronjob, scheduled)
        namespace = cronjob["metadata"]["namespace"]
        try:
            created = self.client.create(JOBS, job, namespace)
        except StatusError as err:
            if err.code != 409:
                self._event(cronjob, "Warning", "FailedCreate", f"Error creating job: {err.message}")
                raise
            # Created before, but the status update was lost: adopt it into the active list.
            existing = self.client.get(JOBS, job["metadata"]["name"], namespace)
            if (controller_of(existing) or {}).get("uid") != cronjob["metadata"]["uid"]:
                return None
            if any(a.get("uid") == existing["metadata"]["uid"] for a in cronjob["status"].get("active") or []):
                return None
            return existing
        self._event(cronjob, "Normal", "SuccessfulCreate", f"Created job {created['metadata']['name']}")
        return created
