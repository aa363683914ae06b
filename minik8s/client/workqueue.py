"""A work queue of keys, as client-go's ``workqueue``.

Controllers do not act on events; they put the *key* of the object that changed
(``namespace/name``) on a queue and later reconcile that key from current
state. A key waiting in the queue is not added twice, however many events
arrive for it, and a key can be scheduled for later (``add_after``) to poll
something time-based, such as a probe period or a back-off.

Interface: ``add(key)``, ``add_after(key, due_time)``, ``pop() -> key | None``,
``promote(now)`` (move due keys to the ready queue), ``next_due() -> float | None``,
``discard(key)`` (forget a key, ready or waiting: its object is gone), ``__len__`` (ready keys),
``waiting()`` (keys held for later).

Invariant: the queue holds nothing for a key it was told to discard, so a queue of a
component that saw 7,000 objects come and go ends as small as it began.
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

    def discard(self, key: Hashable) -> None:
        """Forget ``key`` whether it is ready or waiting for its time."""
        self._ready.pop(key, None)
        if self._due.pop(key, None) is not None and len(self._delayed) > 2 * len(self._due) + 64:
            # Mostly superseded entries: rebuild the heap rather than let them wait for their time.
            self._delayed = [item for item in self._delayed if self._due.get(item[2]) == item[0]]
            heapq.heapify(self._delayed)

    def waiting(self) -> int:
        """How many keys wait for a later time."""
        return len(self._due)

    def __len__(self) -> int:
        return len(self._ready)
