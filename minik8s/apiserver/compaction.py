"""The API server's housekeeping of the store: history compaction and the event TTL.

Two things in etcd would grow for ever if nobody trimmed them, and kube-apiserver
trims both:

* **History.** etcd keeps every past revision so that watchers can resume. kube-apiserver
  runs a compactor that, every ``--etcd-compaction-interval`` (5 minutes), compacts etcd to
  the revision it saw at the previous tick: a watcher may resume from up to one interval
  back; from before that it gets ``410 Gone`` and lists again.
* **Events.** Events are written with an etcd lease of ``--event-ttl`` (1 hour): an event
  not updated for an hour disappears, and watchers see it DELETED.

Without these, deleting 7,000 pods would leave their last versions in the watch history
and their events in the store, and the memory they used would never come back.

Interface (a component of the cluster's loop, like a controller):
    compactor = Compactor(store, clock)
    compactor.promote(now); compactor.next_due(); compactor.process_one()
    compactor.tick()               # one compaction round, now

Taught in chapter 2 (architecture: the store and its watch history).
"""

from __future__ import annotations

import orjson

from minik8s.clock import Clock, parse_rfc3339
from minik8s.store import ConflictError, NotFoundError, Store, UnavailableError

# kube-apiserver's --etcd-compaction-interval.
COMPACTION_INTERVAL_SECONDS = 300.0
# kube-apiserver's --event-ttl.
EVENT_TTL_SECONDS = 3600.0


class _Ready:
    """The cluster's loop asks every component how many keys it has ready."""

    def __init__(self) -> None:
        self.ready = False

    def __len__(self) -> int:
        return int(self.ready)


class Compactor:
    name = "compactor"

    def __init__(self, store: Store, clock: Clock, interval: float = COMPACTION_INTERVAL_SECONDS,
                 event_ttl: float = EVENT_TTL_SECONDS):
        self.store = store
        self.clock = clock
        self.interval = interval
        self.event_ttl = event_ttl
        self.queue = _Ready()
        self._due = clock.now() + interval
        self._previous_revision = store.revision  # what the next tick compacts to

    def promote(self, now: float) -> None:
        if now >= self._due:
            self.queue.ready = True

    def next_due(self) -> float | None:
        return self._due

    def process_one(self) -> bool:
        if not self.queue.ready:
            return False
        self.queue.ready = False
        self.tick()
        return True

    def tick(self) -> None:
        """Expire old events, then compact history to the revision seen one interval ago."""
        now = self.clock.now()
        self.expire_events(now)
        self.store.compact(self._previous_revision)
        self._previous_revision = self.store.revision
        self._due = now + self.interval

    def expire_events(self, now: float) -> int:
        """Delete events last written more than ``event_ttl`` ago, as their etcd lease would. Returns how many."""
        expired = 0
        entries, _ = self.store.entries("events")
        for key, entry in entries:
            written = self._last_write(entry.raw)
            if written is not None and written + self.event_ttl <= now:
                try:
                    self.store.delete(key, expected_revision=entry.revision)
                except (NotFoundError, ConflictError):
                    continue  # deleted meanwhile, or written again (a fresh lease)
                except UnavailableError:
                    break     # etcd is down: the next tick expires them
                expired += 1
        return expired

    @staticmethod
    def _last_write(raw: bytes) -> float | None:
        event = orjson.loads(raw)
        stamp = event.get("lastTimestamp") or event.get("eventTime") or (event.get("metadata") or {}).get(
            "creationTimestamp")
        try:
            return parse_rfc3339(stamp) if stamp else None
        except ValueError:
            return None
