"""The component loop: what drives controllers, the scheduler, kubelets and kube-proxies.

Every minik8s component is a queue of keys and a ``process_one()`` that reconciles the next ready
one (:mod:`minik8s.controllers.controller`). Something must turn the crank: apply the watch events
the informers received (which queue keys), release the keys whose timers are due, let each
component reconcile what is ready, and sleep until the next watch event or timer. :class:`Runner`
is that crank, written once. ``Cluster`` runs every component of a cluster on one; each process of
a multi-process cluster (``minik8s controller-manager``, ``minik8s scheduler``, ``minik8s kubelet``,
``minik8s proxy``: :mod:`minik8s.daemons`) runs its own components on its own.

Components sharing a Runner share its informers (one watch per resource per process, as
client-go's shared informer factory), its clock and one lock: a round runs with the lock held, so
a caller that changes the list of components (a node joins) takes the lock too.

Interface:
    runner = Runner(informers, clock, lambda: components, wakeup)   # wakeup: the informers' wake event
    runner.step() -> bool           # one round; True if anything ran
    runner.next_due() -> float | None
    runner.start(); runner.stop()   # the loop on a background thread (real clock)
    runner.run_until_stable(timeout) -> bool
    runner.run(stopping)            # the loop on this thread, until ``stopping`` is set

Taught in chapter 2 (architecture: one loop per component process).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Protocol, Sequence

from minik8s.clock import Clock, VirtualClock

# A virtual-clock loop that needs more rounds than this to settle is looping.
MAX_STEPS = 1_000_000
# The loop looks around at least this often (seconds) even when no timer is due.
IDLE_WAIT_SECONDS = 1.0


class Component(Protocol):
    name: str

    def promote(self, now: float) -> None: ...

    def next_due(self) -> float | None: ...

    def process_one(self) -> bool: ...

    @property
    def queue(self) -> Any: ...


class Informers(Protocol):
    def pump(self) -> int: ...


class Runner:
    """Runs ``components()`` (called each round: the list may change) over shared ``informers``."""

    def __init__(self, informers: Informers, clock: Clock, components: Callable[[], Sequence[Component]],
                 wakeup: threading.Event | None = None, name: str = "minik8s-components"):
        self.informers = informers
        self.clock = clock
        self.components = components
        self.wakeup = wakeup or threading.Event()   # set by the informers' watch threads: look again
        self.lock = threading.RLock()
        self.name = name
        self._idle = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_round = time.monotonic()   # when the loop last looked around (a health check reads it)

    @property
    def virtual(self) -> bool:
        return isinstance(self.clock, VirtualClock)

    def wake(self) -> None:
        self.wakeup.set()

    def step(self) -> bool:
        """One round: apply watch events, release due timers, reconcile what is ready. True if anything ran."""
        with self.lock:
            did = self.informers.pump() > 0
            now = self.clock.now()
            components = list(self.components())
            for component in components:
                component.promote(now)
            for component in components:
                # Only what was ready at the start of the round: keys re-added by a failed
                # reconcile wait for the next round, after the informers have caught up.
                for _ in range(len(component.queue)):
                    did = component.process_one() or did
            return did

    def stalled(self, seconds: float) -> str | None:
        """A health check: why the loop looks stuck (no round for ``seconds``), or None."""
        quiet = time.monotonic() - self.last_round
        return f"the loop has not run for {quiet:.0f}s" if quiet > seconds else None

    def next_due(self) -> float | None:
        dues = [d for d in (c.next_due() for c in self.components()) if d is not None]
        return min(dues) if dues else None

    def has_pending(self) -> bool:
        return any(len(c.queue) for c in self.components())

    def run(self, stopping: threading.Event | None = None) -> None:
        """Loop until ``stopping`` (or :meth:`stop`): work while there is work, then sleep until a
        watch event arrives or the next timer is due (at most ``IDLE_WAIT_SECONDS``)."""
        stopping = stopping or self._stopping
        while not stopping.is_set() and not self._stopping.is_set():
            self.last_round = time.monotonic()
            if self.step():
                continue
            self._idle.set()
            due = self.next_due()
            wait = IDLE_WAIT_SECONDS if due is None else max(0.0, min(IDLE_WAIT_SECONDS, due - self.clock.now()))
            self.wakeup.wait(wait)
            self.wakeup.clear()
            self._idle.clear()

    def start(self) -> None:
        """Run the loop on a daemon thread."""
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the loop (after the round under way) and wait for its thread."""
        self._stopping.set()
        self.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def run_until_stable(self, timeout: float | None = None) -> bool:
        """Return once no component has work ready (timers in the future don't count). With a
        virtual clock this runs rounds here; with the real clock it waits for the loop's thread.
        False on timeout (default 30 s)."""
        if self.virtual:
            for _ in range(MAX_STEPS):
                if not self.step():
                    return True
            raise RuntimeError("the cluster did not settle: a component keeps finding work")
        deadline = time.monotonic() + (timeout if timeout is not None else 30.0)
        self.wakeup.set()
        while time.monotonic() < deadline:
            # Idle twice in a row with nothing pending: everything written has been reacted to.
            self._idle.clear()
            self.wakeup.set()
            if self._idle.wait(max(0.0, deadline - time.monotonic())):
                with self.lock:
                    if not self.has_pending():
                        return True
        return False
