"""Leader election through a ``coordination.k8s.io/v1`` Lease, as client-go's ``leaderelection``.

Run two controller managers (or two schedulers) and both would reconcile every object: two
ReplicaSets for one Deployment step, two nodes for one pod. So each replica of a control-plane
component competes for one Lease (``kube-system/kube-controller-manager``,
``kube-system/kube-scheduler``) and only the holder runs its loops; the others wait, ready to
take over when the holder stops renewing.

The rules, as upstream's:

* **Acquire** when the Lease has no holder, or when it has been left unchanged for
  ``leaseDurationSeconds`` *as this replica's own clock saw it*: an elector remembers when it
  last saw the record change (``observed_time``) and never trusts the timestamps written by
  another machine, whose clock may differ. Taking the Lease from someone else (or from nobody,
  after a release) adds one to ``leaseTransitions``.
* **Renew** every ``retry_period`` by updating the Lease with the ``resourceVersion`` last read
  (optimistic concurrency: of two replicas writing the same version, one gets 409 Conflict and
  the other wins).
* **Give up**: a leader whose renewals keep failing for ``renew_deadline`` stops leading and
  calls ``on_stopped_leading``; kube-controller-manager and kube-scheduler then exit
  ("leaderelection lost") and are restarted. Because ``renew_deadline`` < ``lease_duration``,
  the old leader has stopped before anyone else may take the Lease.
* **Release** (``release_on_cancel``): a leader shutting down cleanly writes an empty holder and
  a one-second duration, so a successor takes over at its next try instead of waiting out the
  lease.

Each acquisition is recorded as a ``LeaderElection`` Event on the Lease, "<identity> became
leader", and the end of a term as "<identity> stopped leading".

Interface:
    elector = LeaderElector(client, "kube-scheduler", clock=clock, identity=new_identity(),
                            on_started_leading=..., on_stopped_leading=..., recorder=recorder,
                            component="default-scheduler", release_on_cancel=True)
    elector.is_leader            # True while this replica leads: gate the controllers on it
    elector.leader               # the holder this replica last observed ("" for none)
    # as a component of a loop (minik8s.cluster.Component): promote(now), next_due(), process_one(), queue
    elector.run(stop_event)      # or on its own thread, with the real clock, until stop_event is set
    elector.cancel()             # stop (releasing the Lease if release_on_cancel)
    elector.check()              # the leaderElection health check: None, or why it fails
    leaderelection_lost()        # the usual on_stopped_leading of a component process: exit 1

How minik8s differs: ``on_started_leading`` is called in the elector's own loop (upstream starts
it in a goroutine), so it should start work rather than do it; ``on_stopped_leading`` is called
only when this replica had been leading (upstream calls it whenever ``Run`` returns).

Taught in chapter 18 (building a cluster: leader election and high availability).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import uuid
from typing import Any, Callable, NoReturn, Protocol

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.client.base import Client
from minik8s.client.workqueue import WorkQueue
from minik8s.clock import Clock, rfc3339_micro

log = logging.getLogger(__name__)

LEASES = resources.get("coordination.k8s.io", "v1", "leases")
assert LEASES is not None

# kube-controller-manager's and kube-scheduler's defaults (--leader-elect-lease-duration and friends).
LEASE_DURATION_SECONDS = 15.0   # how long a Lease nobody renews stays held
RENEW_DEADLINE_SECONDS = 10.0   # how long a leader keeps trying to renew before it gives up
RETRY_PERIOD_SECONDS = 2.0      # how often electors try to acquire, and leaders renew
JITTER_FACTOR = 1.2             # acquiring waits retry_period * (1 + up to this): no thundering herd
LOCK_NAMESPACE = "kube-system"
# The components' leader election health check tolerates a lease this long overdue (seconds).
MAX_TOLERABLE_EXPIRED_LEASE_SECONDS = 20.0

_TICK = "tick"   # the one key of the elector's queue: the next try


class Recorder(Protocol):
    """What records the LeaderElection events (:class:`minik8s.controllers.events.EventRecorder`)."""

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str, *, component: str) -> None: ...


def new_identity() -> str:
    """``<hostname>_<uuid>``, as kube-controller-manager and kube-scheduler name themselves: unique even for
    two replicas on one machine."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


def leaderelection_lost() -> NoReturn:
    """What kube-controller-manager and kube-scheduler do when their term ends: say so and exit at once
    (status 1, no clean-up that could still act as leader); their supervisor restarts them, and they
    compete again from the start."""
    log.error("leaderelection lost")
    logging.shutdown()
    os._exit(1)


def lease_valid(observed_time: float, duration_seconds: float, now: float) -> bool:
    """Whether a record last seen changing at ``observed_time`` (local clock) still holds at ``now``."""
    return observed_time + duration_seconds > now


class LeaderElector:
    """One replica's side of a leader election over the Lease ``namespace/name``."""

    name = "leader-election"

    def __init__(self, client: Client, name: str, *, clock: Clock, identity: str,
                 namespace: str = LOCK_NAMESPACE,
                 lease_duration: float = LEASE_DURATION_SECONDS, renew_deadline: float = RENEW_DEADLINE_SECONDS,
                 retry_period: float = RETRY_PERIOD_SECONDS,
                 on_started_leading: Callable[[], None] | None = None,
                 on_stopped_leading: Callable[[], None] | None = None,
                 on_new_leader: Callable[[str], None] | None = None,
                 release_on_cancel: bool = False, recorder: Recorder | None = None,
                 component: str | None = None, rng: random.Random | None = None):
        """``rng``: jitters the acquire retries (None: no jitter, for deterministic tests);
        ``component``: the events' source (default: the Lease's name)."""
        # NewLeaderElector's checks: the safety argument needs lease > renew deadline > retry period.
        if lease_duration <= renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if renew_deadline <= JITTER_FACTOR * retry_period:
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if retry_period < 1:
            raise ValueError("retryPeriod must be at least 1 second")
        if not identity:
            raise ValueError("Lock identity is empty")
        self.client = client
        self.lock_name = name
        self.namespace = namespace
        self.clock = clock
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.release_on_cancel = release_on_cancel
        self._on_started = on_started_leading
        self._on_stopped = on_stopped_leading
        self._on_new_leader = on_new_leader
        self._recorder = recorder
        self._component = component or name
        self._rng = rng
        self.queue = WorkQueue()
        self.queue.add(_TICK)            # the first try happens at once
        self._lease: dict[str, Any] | None = None       # the Lease as last read or written (its resourceVersion)
        self._observed: dict[str, Any] = {}             # the leader election record (the Lease's spec) seen last
        self._observed_time = 0.0                       # when, by our clock, that record last changed
        self._reported_leader: str | None = None
        self._leading = False
        self._round_start: float | None = None          # first failed renewal since the last success
        self._done = False
        self._lock = threading.Lock()   # cancel() from another thread never interleaves with a try

    # --- what the component using it asks ---------------------------------------------

    @property
    def is_leader(self) -> bool:
        """True from a successful acquisition until the term ends (lost, or cancelled)."""
        return self._leading

    @property
    def leader(self) -> str:
        """The holder identity this replica last observed ("" for none)."""
        return str(self._observed.get("holderIdentity") or "")

    def check(self, max_tolerable_expired: float = MAX_TOLERABLE_EXPIRED_LEASE_SECONDS) -> str | None:
        """The ``leaderElection`` health check: None while healthy, else why not. A replica that believes
        it leads but has not renewed for the lease duration plus ``max_tolerable_expired`` is stuck (it
        should have stopped leading; a deadlock can prevent that), so its ``/healthz`` fails and a supervisor
        restarts it. A standby is always healthy."""
        if not self._holding():
            return None
        if self.clock.now() - self._observed_time > self.lease_duration + max_tolerable_expired:
            return f"failed election to renew leadership on lease {self.lock_name}"
        return None

    @property
    def done(self) -> bool:
        """The election is over for this replica (it lost its lease or was cancelled): it never leads again."""
        return self._done

    # --- the component protocol (minik8s.cluster.Component) -----------------------------

    def promote(self, now: float) -> None:
        self.queue.promote(now)

    def next_due(self) -> float | None:
        return self.queue.next_due()

    def process_one(self) -> bool:
        """One try: acquire (while following) or renew (while leading); schedule the next."""
        if self.queue.pop() is None:
            return False
        with self._lock:
            if not self._done:
                self._try()
        return True

    def _try(self) -> None:
        now = self.clock.now()
        succeeded = self._try_acquire_or_renew(now)
        self._report_transition()
        if not self._leading:
            if succeeded:
                self._leading = True
                log.info("successfully acquired lease %s/%s", self.namespace, self.lock_name)
                self._record("became leader")
                if self._on_started is not None:
                    self._on_started()
                self._after(self.retry_period)
            else:
                jitter = self._rng.random() * JITTER_FACTOR * self.retry_period if self._rng else 0.0
                self._after(self.retry_period + jitter)
            return
        if succeeded:
            self._round_start = None
            self._after(self.retry_period)
            return
        # wait.PollUntilContextTimeout(retryPeriod, renewDeadline): keep trying until the deadline, then give up.
        if self._round_start is None:
            self._round_start = now
        deadline = self._round_start + self.renew_deadline
        if now >= deadline:
            log.info("failed to renew lease %s/%s: timed out waiting for the condition", self.namespace,
                     self.lock_name)
            self._stop()
            return
        self._after(min(self.retry_period, deadline - now))

    def _after(self, seconds: float) -> None:
        self.queue.add_after(_TICK, self.clock.now() + seconds)

    # --- the lock: tryAcquireOrRenew ---------------------------------------------------

    def _record_for(self, now: float) -> dict[str, Any]:
        stamp = rfc3339_micro(now)
        return {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": stamp, "renewTime": stamp, "leaseTransitions": 0}

    def _holding(self) -> bool:
        return self._observed.get("holderIdentity") == self.identity

    def _try_acquire_or_renew(self, now: float) -> bool:
        record = self._record_for(now)
        # 1. The fast path: a leader renews against the version it wrote last.
        if self._holding() and self._valid(now) and self._lease is not None:
            record["acquireTime"] = self._observed.get("acquireTime") or record["acquireTime"]
            record["leaseTransitions"] = self._observed.get("leaseTransitions") or 0
            if self._write(record):
                return True
            log.info("failed to update lock %s/%s optimistically, falling back to slow path", self.namespace,
                     self.lock_name)
        # 2. Read the record, or create it if there is none.
        try:
            lease = self.client.get(LEASES, self.lock_name, self.namespace)
        except StatusError as err:
            if err.code != 404:
                log.info("error retrieving resource lock %s/%s: %s", self.namespace, self.lock_name, err)
                return False
            return self._create(record)
        except OSError as err:   # the API server is not there (HTTPClient's ConnectionError)
            log.info("error retrieving resource lock %s/%s: %s", self.namespace, self.lock_name, err)
            return False
        self._lease = lease
        self._observe(dict(lease.get("spec") or {}), now)
        # 3. Someone else holds it and, by our clock, has renewed within the lease duration: wait.
        if self.leader and self._valid(now) and not self._holding():
            return False
        # 4. Ours to take (or to keep): a new holder counts one more transition.
        if self._holding():
            record["acquireTime"] = self._observed.get("acquireTime") or record["acquireTime"]
            record["leaseTransitions"] = self._observed.get("leaseTransitions") or 0
        else:
            record["leaseTransitions"] = (self._observed.get("leaseTransitions") or 0) + 1
        return self._write(record)

    def _valid(self, now: float) -> bool:
        return lease_valid(self._observed_time, float(self._observed.get("leaseDurationSeconds") or 0), now)

    def _observe(self, record: dict[str, Any], now: float) -> None:
        """Remember ``record``; its observed time moves only when it changed (client-go compares raw records)."""
        if record != self._observed:
            self._observed = record
            self._observed_time = now

    def _set_observed(self, record: dict[str, Any]) -> None:
        """What we wrote is what we observed, just now (setObservedRecord)."""
        self._observed = record
        self._observed_time = self.clock.now()

    def _create(self, record: dict[str, Any]) -> bool:
        lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                 "metadata": {"name": self.lock_name, "namespace": self.namespace}, "spec": record}
        try:
            self._lease = self.client.create(LEASES, lease, self.namespace)
        except (StatusError, OSError) as err:
            log.info("error initially creating leader election record: %s", err)
            return False
        self._set_observed(record)
        return True

    def _write(self, record: dict[str, Any]) -> bool:
        """Update the Lease read last with ``record``: a 409 means someone wrote in between."""
        assert self._lease is not None
        lease = {**self._lease, "metadata": dict(self._lease.get("metadata") or {}), "spec": dict(record)}
        try:
            self._lease = self.client.update(LEASES, lease, self.namespace)
        except (StatusError, OSError) as err:
            log.info("failed to update lock %s/%s: %s", self.namespace, self.lock_name, err)
            return False
        self._set_observed(record)
        return True

    def _report_transition(self) -> None:
        """maybeReportTransition: tell ``on_new_leader`` when the observed holder changed."""
        leader = self.leader
        if leader == self._reported_leader:
            return
        self._reported_leader = leader
        if leader and self._on_new_leader is not None:
            self._on_new_leader(leader)

    def _record(self, what: str) -> None:
        if self._recorder is None or self._lease is None:
            return
        try:
            self._recorder.event(self._lease, "Normal", "LeaderElection", f"{self.identity} {what}",
                                 component=self._component)
        except (StatusError, OSError) as err:   # an event is worth a log line, never the term
            log.info("could not record the LeaderElection event: %s", err)

    # --- the end of a term -------------------------------------------------------------

    def _stop(self) -> None:
        """The term (or the election) is over: release if asked, tell the owner."""
        was_leading = self._leading
        self._leading = False
        self._done = True
        self.queue.discard(_TICK)
        if self.release_on_cancel:
            self._release()
        if was_leading:
            self._record("stopped leading")
            if self._on_stopped is not None:
                self._on_stopped()

    def _release(self) -> None:
        """Hand the Lease back: an empty holder and a one-second duration, so the next try of any other
        replica takes it."""
        try:
            self._lease = self.client.get(LEASES, self.lock_name, self.namespace)
        except (StatusError, OSError) as err:
            log.info("failed to release lock %s/%s: %s", self.namespace, self.lock_name, err)
            return
        self._observe(dict(self._lease.get("spec") or {}), self.clock.now())
        if not self._holding():
            return
        stamp = rfc3339_micro(self.clock.now())
        record = {"holderIdentity": "", "leaseDurationSeconds": 1, "acquireTime": stamp, "renewTime": stamp,
                  "leaseTransitions": self._observed.get("leaseTransitions") or 0}
        self._write(record)

    def cancel(self) -> None:
        """Stop taking part (a clean shutdown); a leader releases the Lease when ``release_on_cancel``."""
        with self._lock:
            if not self._done:
                self._stop()

    def run(self, stop: threading.Event) -> None:
        """Drive the elector with the real clock until ``stop`` is set (then cancel) or the term is lost:
        the loop of a process that runs the elector on a thread of its own."""
        while not stop.is_set() and not self._done:
            self.promote(self.clock.now())
            if len(self.queue):
                self.process_one()
                continue
            due = self.next_due()
            stop.wait(self.retry_period if due is None else max(0.0, due - self.clock.now()))
        self.cancel()
