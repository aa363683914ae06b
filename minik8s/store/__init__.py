"""The store: an etcd-like, revisioned key-value store of API objects.

Kubernetes keeps all cluster state in etcd, and only the API server talks to it.
etcd's model is small and worth learning:

* one global **revision** counter, bumped by every write;
* each object remembers the revision of its last write, shown to clients as
  ``metadata.resourceVersion``;
* writes can be **conditional** on that revision (optimistic concurrency: a stale
  writer gets 409 Conflict instead of silently overwriting someone else's change);
* clients **watch** for changes after a revision and see every later change
  exactly once, in order;
* old history is **compacted**; watching from before it gives 410 Gone, and the
  client must list again.

Interface (``Store``):
    create(key, obj) -> obj                       # AlreadyExistsError if present
    get(key) -> obj | None
    list(resource, namespace=None) -> (objs, revision)
    entries_at(resource, namespace, revision) -> [(key, entry)]   # a read at an older revision
    page(resource, namespace, after=, limit=, at=, keep=, label=) -> Page   # one page of a LIST, in key order
    count(resource, namespace=None) -> int        # kept as a running tally: O(1), for quota admission
    update(key, obj, expected_revision=None) -> obj   # ConflictError if stale
    delete(key, expected_revision=None) -> obj
    watch(resource, namespace, since, callback) -> cancel()   # replays history after `since`
    compact(revision)

A key is ``(resource, namespace, name)`` where ``resource`` is the qualified
plural (``pods``, ``deployments.apps``) and ``namespace`` is ``""`` for
cluster-scoped objects. Objects are stored serialized (JSON bytes), so nothing a
caller does to a returned dict can change what is stored.

The tables are the API server's watch cache: LIST never reads the backend. Each table keeps its
keys sorted (a ``SortedList``), so a page of a LIST starts at its continue key by bisection and
stops after ``limit`` matches; each entry keeps its labels (parsed once, when it is written), and
an index from ``label=value`` to the keys that carry it narrows a LIST by an equality selector to
the objects that can match. A page at an older revision ``R`` (the later pages of one LIST, which
upstream shows as a snapshot at the first page's revision) is the current table with the changes
after ``R`` undone from history: nothing to undo when nothing of that resource changed since.

Backends: memory only (notebooks, tests), or SQLite (``SQLiteBackend``), which
the server uses for persistence: every acknowledged write is committed before
the call returns, so it survives ``kill -9``. ``EncryptingBackend``
(:mod:`minik8s.store.encryption`) wraps a backend to encrypt Secrets at rest.
:class:`minik8s.store.etcd.EtcdStore` keeps every object in etcd instead, as upstream does, this
class's tables then being its watch cache; ``open_store(spec, data_dir, encryption_config)`` opens
the one ``--store`` names (``sqlite``, the default, or ``etcd://HOST:PORT[,...]``).
Taught in chapter 2 (architecture).
"""

from __future__ import annotations

import collections
import gc
import heapq
import itertools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Protocol

import orjson
from sortedcontainers import SortedList

Key = tuple[str, str, str]


class StoreError(Exception):
    """Base of the store's own errors; the API server maps them to Status objects."""


class NotFoundError(StoreError):
    pass


class AlreadyExistsError(StoreError):
    pass


class ConflictError(StoreError):
    pass


class UnavailableError(StoreError):
    """The store's database did not answer in time (etcd down): the API server answers 504 Timeout."""


class CompactedError(StoreError):
    """The requested revision is older than the retained history."""

    def __init__(self, requested: int, compacted: int):
        super().__init__(f"too old resource version: {requested} ({compacted})")
        self.requested = requested
        self.compacted = compacted


NO_LABELS: dict[str, str] = {}   # shared by every entry without labels; never changed


class Entry(NamedTuple):
    """A stored object: its revision, its JSON and its labels (a named tuple: small, and immutable)."""

    revision: int
    raw: bytes  # the object as stored, with metadata.resourceVersion set
    # metadata.labels, parsed once when the entry is stored (None: not yet; the store fills it in).
    labels: dict[str, str] | None = None


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels")
    return dict(labels) if isinstance(labels, dict) and labels else NO_LABELS


def _with_labels(entry: Entry) -> Entry:
    if entry.labels is not None:
        return entry
    return Entry(entry.revision, entry.raw, _labels(orjson.loads(entry.raw)))


@dataclass(frozen=True)
class Page:
    """One page of a LIST: the entries in key order, the revision they show, whether more keys follow the
    last one (``more``), how many (``remaining``, counted only when nothing was filtered out), and the
    last key looked at (where the next call goes on when ``scanned`` stopped the page early)."""

    pairs: list[tuple["Key", Entry]]
    revision: int
    more: bool
    remaining: int | None
    last: tuple[str, str] | None


@dataclass(frozen=True)
class Event:
    """One change: ``type`` is ADDED, MODIFIED or DELETED. ``prev`` is the raw value before it."""

    revision: int
    type: str
    key: Key
    raw: bytes
    prev: bytes | None


class Backend(Protocol):
    def load(self) -> tuple[int, dict[Key, Entry]]: ...

    def put(self, key: Key, entry: Entry, revision: int) -> None: ...

    def remove(self, key: Key, revision: int) -> None: ...

    def close(self) -> None: ...


WatchCallback = Callable[[Event], None]

# How many past events are kept for watchers that resume from an older revision.
HISTORY_LIMIT = 20_000


def _with_revision(obj: dict[str, Any], revision: int) -> bytes:
    meta = dict(obj.get("metadata") or {})
    meta["resourceVersion"] = str(revision)
    # orjson returns its whole output buffer (16 KiB for a 1.5 KB pod): copy the bytes to their
    # exact size, or every stored version would hold ten times its length.
    return bytes(memoryview(orjson.dumps({**obj, "metadata": meta})))


class Store:
    """The revisioned store. Thread-safe: every method holds one lock."""

    def __init__(self, backend: Backend | None = None, history_limit: int = HISTORY_LIMIT):
        self._lock = threading.RLock()
        self._backend = backend
        self._tables: dict[str, dict[tuple[str, str], Entry]] = collections.defaultdict(dict)
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()  # (resource, namespace) -> objects
        self._history: collections.deque[Event] = collections.deque()
        self._history_limit = history_limit
        self._watchers: dict[str, list[tuple[str | None, WatchCallback]]] = collections.defaultdict(list)
        # Per resource: its keys in order, label=value -> keys, and the revision of its last change.
        self._keys: dict[str, SortedList] = collections.defaultdict(SortedList)
        self._label_index: dict[str, dict[tuple[str, str], set[tuple[str, str]]]] = collections.defaultdict(dict)
        self._changed: dict[str, int] = {}
        self.revision = 1
        if backend is not None:
            self.revision, entries = backend.load()
            for key, entry in entries.items():
                self._put(key, entry, 0)
        # Nothing older than what we hold in history can be watched from.
        self.compacted = self.revision

    # --- reads ---------------------------------------------------------------------------

    def get_entry(self, key: Key) -> Entry | None:
        with self._lock:
            return self._tables[key[0]].get((key[1], key[2]))

    def get(self, key: Key) -> dict[str, Any] | None:
        entry = self.get_entry(key)
        return orjson.loads(entry.raw) if entry else None

    def entries(self, resource: str, namespace: str | None = None) -> tuple[list[tuple[Key, Entry]], int]:
        """All entries of a resource (in one namespace, or all), sorted by key, and the revision they were read at."""
        with self._lock:
            table = self._tables[resource]
            pairs = [((resource, ns, name), table[(ns, name)]) for ns, name in self._key_range(resource, namespace)]
            return pairs, self.revision

    def entries_at(self, resource: str, namespace: str | None, revision: int) -> list[tuple[Key, Entry]]:
        """The entries as they were at an older ``revision`` (etcd's read at a revision): today's
        entries with the retained history after ``revision`` undone.
        Raises CompactedError when that history is no longer retained."""
        return self.page(resource, namespace, at=revision).pairs

    def page(self, resource: str, namespace: str | None, *, after: tuple[str, str] | None = None, limit: int = 0,
             at: int | None = None, keep: Callable[[Entry], bool] | None = None,
             label: tuple[str, str] | None = None, scanned: int = 0) -> Page:
        """The entries of a resource (in one namespace, or all) whose keys follow ``after``, in key order, as
        they were at revision ``at`` (now when None): at most ``limit`` of them (0: all) for which ``keep``
        is true. ``label`` (``(key, value)``, which every kept entry must carry) narrows the keys looked at
        through the label index. ``scanned`` (0: no bound) stops the page after that many keys were looked
        at, however few were kept: the caller goes on from ``Page.last`` at ``Page.revision``, and the
        store's lock is never held for long. Raises CompactedError when ``at`` is older than the history."""
        with self._lock:
            revision = self.revision if at is None else at
            if revision < self.compacted and revision < self._changed.get(resource, 0):
                raise CompactedError(revision, self.compacted)
            table = self._tables[resource]
            undone = self._undone(resource, namespace, revision)
            candidates = self._label_index[resource].get(label, ()) if label is not None else None
            # The index pays when the label is rare: sorting many candidates costs more than walking in order.
            if candidates is not None and len(candidates) * 8 <= len(table):
                keys: Iterable[tuple[str, str]] = sorted(
                    k for k in candidates if (namespace is None or k[0] == namespace) and (after is None or k > after))
            else:
                keys = self._key_range(resource, namespace, after)
            if undone:   # keys that existed at the revision but not now come back, in order
                extra = sorted(k for k in undone if after is None or k > after)
                keys = (k for k, _ in itertools.groupby(heapq.merge(keys, extra)))
            pairs: list[tuple[Key, Entry]] = []
            looked = 0
            last: tuple[str, str] | None = None
            iterator = iter(keys)
            for short in iterator:
                entry = undone[short] if short in undone else table.get(short)
                if entry is None:
                    continue
                looked += 1
                last = short
                if keep is None or keep(entry):
                    pairs.append(((resource, *short), entry))
                    if limit and len(pairs) >= limit:
                        break
                if scanned and looked >= scanned:
                    break
            else:
                return Page(pairs, revision, False, 0 if keep is None else None, None)
            if keep is None:   # cheap: count what follows by bisection
                remaining = self._count_after(resource, namespace, last, undone)
                return Page(pairs, revision, remaining > 0, remaining, last)
            more = any((undone[k] if k in undone else table.get(k)) is not None for k in iterator)
            return Page(pairs, revision, more, None, last)

    def _key_range(self, resource: str, namespace: str | None,
                   after: tuple[str, str] | None = None) -> Iterator[tuple[str, str]]:
        """The keys of a table in order: those of ``namespace`` (all when None) that follow ``after``."""
        keys = self._keys[resource]
        if namespace is None:
            return keys.irange(after, None, inclusive=(False, True)) if after else iter(keys)
        low = after if after is not None and after >= (namespace, "") else (namespace, "")
        return keys.irange(low, (namespace + "\0", ""), inclusive=(low is not after, False))

    def _count_after(self, resource: str, namespace: str | None, last: tuple[str, str] | None,
                     undone: dict[tuple[str, str], Entry | None]) -> int:
        """How many keys of ``namespace`` follow ``last`` at the revision ``undone`` takes the table back to."""
        keys, table = self._keys[resource], self._tables[resource]
        end = len(keys) if namespace is None else keys.bisect_left((namespace + "\0", ""))
        count = end - (keys.bisect_right(last) if last is not None else 0)
        for short, entry in undone.items():
            if (last is None or short > last) and (namespace is None or short[0] == namespace):
                count += (entry is not None) - (short in table)
        return count

    def _undone(self, resource: str, namespace: str | None, revision: int) -> dict[tuple[str, str], Entry | None]:
        """What each key of ``resource`` changed after ``revision`` held at it (None: it did not exist)."""
        if self._changed.get(resource, 0) <= revision:
            return {}
        undone: dict[tuple[str, str], Entry | None] = {}
        for event in self._history_after(revision):
            if event.key[0] != resource or (namespace is not None and event.key[1] != namespace):
                continue
            short = (event.key[1], event.key[2])
            if short in undone:
                continue   # the first change after the revision says what was there at it
            if event.prev is None:  # ADDED after the revision: it did not exist yet
                undone[short] = None
            else:
                before = orjson.loads(event.prev)
                undone[short] = Entry(int(before["metadata"]["resourceVersion"]), event.prev, _labels(before))
        return undone

    def list(self, resource: str, namespace: str | None = None) -> tuple[list[dict[str, Any]], int]:
        pairs, revision = self.entries(resource, namespace)
        return [orjson.loads(e.raw) for _, e in pairs], revision

    def count(self, resource: str, namespace: str | None = None) -> int:
        """How many objects of a resource there are, in one namespace or in all."""
        with self._lock:
            if namespace is None:
                return len(self._tables[resource])
            return self._counts[(resource, namespace)]

    # --- writes --------------------------------------------------------------------------

    def create(self, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if (key[1], key[2]) in self._tables[key[0]]:
                raise AlreadyExistsError(key)
            return self._write(key, obj, "ADDED", None)

    def update(self, key: Key, obj: dict[str, Any], expected_revision: int | None = None) -> dict[str, Any]:
        with self._lock:
            current = self._tables[key[0]].get((key[1], key[2]))
            if current is None:
                raise NotFoundError(key)
            if expected_revision is not None and expected_revision != current.revision:
                raise ConflictError(key)
            return self._write(key, obj, "MODIFIED", current)

    def delete(self, key: Key, expected_revision: int | None = None) -> dict[str, Any]:
        with self._lock:
            table = self._tables[key[0]]
            current = table.get((key[1], key[2]))
            if current is None:
                raise NotFoundError(key)
            if expected_revision is not None and expected_revision != current.revision:
                raise ConflictError(key)
            revision = self.revision + 1
            if self._backend is not None:
                self._backend.remove(key, revision)
            self.revision = revision
            self._drop(key, revision)
            # A deletion is reported with the object as last stored, at the deletion's revision.
            obj = orjson.loads(current.raw)
            raw = _with_revision(obj, revision)
            self._record(Event(revision, "DELETED", key, raw, current.raw))
            return orjson.loads(raw)

    def _write(self, key: Key, obj: dict[str, Any], kind: str, current: Entry | None) -> dict[str, Any]:
        revision = self.revision + 1
        raw = _with_revision(obj, revision)
        entry = Entry(revision, raw, _labels(obj))
        if self._backend is not None:
            # Persist first: if this raises, memory is untouched and the write never happened.
            self._backend.put(key, entry, revision)
        self.revision = revision
        self._put(key, entry, revision)
        self._record(Event(revision, kind, key, raw, current.raw if current else None))
        return orjson.loads(raw)

    def _put(self, key: Key, entry: Entry, revision: int) -> Entry | None:
        """Store ``entry`` at ``key`` in the tables and their indexes (under the lock); the entry it replaced."""
        resource, short = key[0], (key[1], key[2])
        entry = _with_labels(entry)
        table = self._tables[resource]
        current = table.get(short)
        table[short] = entry
        if current is None:
            self._counts[(key[0], key[1])] += 1
            self._keys[resource].add(short)
        self._index_labels(resource, short, current.labels if current else None, entry.labels)
        self._changed[resource] = max(self._changed.get(resource, 0), revision)
        return current

    def _drop(self, key: Key, revision: int) -> Entry | None:
        """Remove ``key`` from the tables and their indexes (under the lock); the entry it held."""
        resource, short = key[0], (key[1], key[2])
        current = self._tables[resource].pop(short, None)
        if current is None:
            return None
        self._counts[(key[0], key[1])] -= 1
        if not self._counts[(key[0], key[1])]:
            del self._counts[(key[0], key[1])]
        self._keys[resource].remove(short)
        self._index_labels(resource, short, current.labels, None)
        self._changed[resource] = max(self._changed.get(resource, 0), revision)
        return current

    def _index_labels(self, resource: str, short: tuple[str, str], old: dict[str, str] | None,
                      new: dict[str, str] | None) -> None:
        if old == new:
            return
        index = self._label_index[resource]
        for pair in (old or NO_LABELS).items():
            if new is None or new.get(pair[0]) != pair[1]:
                keys = index.get(pair)
                if keys is not None:
                    keys.discard(short)
                    if not keys:
                        del index[pair]
        for pair in (new or NO_LABELS).items():
            if old is None or old.get(pair[0]) != pair[1]:
                index.setdefault(pair, set()).add(short)

    # --- watch ---------------------------------------------------------------------------

    def _record(self, event: Event) -> None:
        self._history.append(event)
        while len(self._history) > self._history_limit:
            dropped = self._history.popleft()
            self.compacted = dropped.revision
        for namespace, callback in list(self._watchers[event.key[0]]):
            if namespace is None or namespace == event.key[1]:
                callback(event)

    def watch(self, resource: str, namespace: str | None, since: int, callback: WatchCallback) -> Callable[[], None]:
        """Call ``callback`` for every change after revision ``since``: first the retained history,
        then live changes. Callbacks run under the store lock and must not block or call back in.
        Raises CompactedError when ``since`` is older than the retained history."""
        with self._lock:
            if since < self.compacted:
                raise CompactedError(since, self.compacted)
            for event in self._history_after(since):
                if event.key[0] == resource and (namespace is None or event.key[1] == namespace):
                    callback(event)
            registration = (namespace, callback)
            self._watchers[resource].append(registration)

        def cancel() -> None:
            with self._lock:
                try:
                    self._watchers[resource].remove(registration)
                except ValueError:
                    pass

        return cancel

    def _history_after(self, since: int) -> Iterator[Event]:
        # History is ordered by revision; walk back from the newest end to find the start.
        index = len(self._history)
        while index > 0 and self._history[index - 1].revision > since:
            index -= 1
        for i in range(index, len(self._history)):
            yield self._history[i]

    def wait_for_revision(self, revision: int) -> None:
        """Give the store a moment to reach ``revision`` (a watch cache behind its database waits, as upstream's
        does for up to 3 s). This store is its own database: what it has not reached does not exist yet."""

    def compact(self, revision: int) -> None:
        """Forget history at or before ``revision`` (etcd's compaction)."""
        with self._lock:
            revision = min(revision, self.revision)
            while self._history and self._history[0].revision <= revision:
                self._history.popleft()
            self.compacted = max(self.compacted, revision)

    def close(self) -> None:
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None


def open_store(spec: str | None, data_dir: Path, encryption_config: str | None) -> Store:
    """The store ``--store`` names: ``None`` or ``sqlite``, SQLite in ``data_dir`` (the embedded default);
    ``etcd://HOST:PORT[,HOST:PORT...]``, etcd (:class:`minik8s.store.etcd.EtcdStore`). Secrets are
    encrypted as ``encryption_config`` says in both. Raises ValueError for a bad ``spec``,
    EncryptionConfigError / DecryptionError for a bad configuration, StoreError if etcd is unreachable."""
    from minik8s.store.encryption import EncryptingBackend, load_config

    config = load_config(encryption_config) if encryption_config is not None else None
    if spec is None or spec == "sqlite":
        from minik8s.store.sqlite import SQLiteBackend

        backend: Backend = SQLiteBackend(data_dir / "state.db")
        if config is not None:
            backend = EncryptingBackend(backend, config)
        try:
            store = Store(backend)
        except ValueError:   # a value no configured provider can decrypt
            backend.close()
            raise
    else:
        from minik8s.store.etcd import EtcdStore, parse_endpoints

        store = EtcdStore(parse_endpoints(spec), transformer=config)
    # What a server holds from its start (its code, and every stored object it loaded) stays: Python's cyclic
    # garbage collector need not look at it again. Without this, each full collection walks 100,000 stored
    # objects and stops the event loop for a third of a second.
    gc.freeze()
    return store
