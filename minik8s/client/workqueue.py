"""A work queue of keys, as client-go's ``workqueue``.

Controllers do not act on events; they put the *key* of the object that changed
(``namespace/name``) on a queue and later reconcile that key from current
state. A key waiting in the queue is not added twice, however many events
arrive for it, and a key can be scheduled for later (``add_after``) to poll
something time-based, such as a probe period or a back-off.

Interface: ``add(key)``, ``add_after(key, due_time)``, ``pop() -> key | None``,
``promote(now)`` (move due keys to the ready queue), ``next_due() -> float | None``,
``__len__`` (ready keys).
"""

from __future__ import annotations

import heapq
import itertools
from typing import Hashable


class WorkQueue:
    def __init__(self) -> None:
        self._ready: dict[Hashable, None] = {}  # insertion-ordered set
        self._delayed: list[tuple[float, int, Hashable]] = []
        self._due: dict[Hashable, float] = {}
        self._seq = itertools.count()

    def add(self, key: Hashable) -> None:
        self._ready[key] = None

    def add_after(self, key: Hashable, due: float) -> None:
        """Make ``key`` ready at time ``due``; an earlier pending time for the same key wins."""
        if key in self._due and self._due[key] <= due:
            return
        self._due[key] = due
        heapq.heappush(self._delayed, (due, next(self._seq), key))

    def promote(self, now: float) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            due, _, key = heapq.heappop(self._delayed)
            if self._due.get(key) == due:
                del self._due[key]
                self._ready[key] = None

    def next_due(self) -> float | None:
        while self._delayed and self._due.get(self._delayed[0][2]) != self._delayed[0][0]:
            heapq.heappop(self._delayed)  # superseded by an earlier time
        return self._delayed[0][0] if self._delayed else None

    def pop(self) -> Hashable | None:
        if not self._ready:
            return None
        key = next(iter(self._ready))
        del self._ready[key]
        return key

    def __len__(self) -> int:
        return len(self._ready)
