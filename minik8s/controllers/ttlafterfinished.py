"""The TTL-after-finished controller: delete finished Jobs once their time is up.

A Job with ``spec.ttlSecondsAfterFinished`` is deleted that many seconds after it
finished (its ``Complete`` or ``Failed`` condition's ``lastTransitionTime``), with
background propagation: the Job goes at once and the garbage collector then
deletes its pods. ``0`` deletes it as soon as it finishes; unset keeps it forever.

Interface:
    expires_at(job) -> float | None       # when the Job may be deleted, or None (not finished / no TTL)
    TTLAfterFinishedController            # requeues each Job for its expiry time, never polls

Invariant: a Job is deleted only if, re-read from the API server just before,
it is still finished and expired (the TTL may have been changed meanwhile).

How minik8s differs: upstream also sends the re-read object's ``resourceVersion``
as a delete precondition; minik8s's client has no preconditions parameter, so a
TTL changed in the instant between the re-read and the delete is not noticed.

Taught in chapter 9 (Jobs and CronJobs).
"""

from __future__ import annotations

from typing import Any

from minik8s.api.errors import StatusError
from minik8s.controllers.controller import Controller
from minik8s.controllers.job import JOBS, finish_time, is_finished


def expires_at(job: dict[str, Any]) -> float | None:
    """Finish time plus ``ttlSecondsAfterFinished`` (None when either is missing)."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None or not is_finished(job) or job["metadata"].get("deletionTimestamp"):
        return None
    finished = finish_time(job)
    return None if finished is None else finished + float(ttl)


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished-controller"
    watches = (JOBS,)

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        job = self.informer(JOBS).get(namespace, name)
        if job is None or expires_at(job) is None:
            return
        if not self._expired(key, job):
            return
        # The cache may be stale: look again at the real object before deleting it.
        try:
            fresh = self.client.get(JOBS, name, namespace)
        except StatusError as err:
            if err.code == 404:
                return
            raise
        if expires_at(fresh) is None or not self._expired(key, fresh):
            return
        try:
            self.client.delete(JOBS, name, namespace, propagation_policy="Background")
        except StatusError as err:
            if err.code != 404:
                raise

    def _expired(self, key: Any, job: dict[str, Any]) -> bool:
        due = expires_at(job)
        assert due is not None
        now = self.clock.now()
        if due > now:
            self.requeue_after(key, due - now)
            return False
        return True
