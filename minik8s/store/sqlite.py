"""SQLite persistence for the store (the embedded default of ``minik8s server``, as k3s does).

The store keeps every object in memory; this backend makes each write durable
before the store acknowledges it. One table holds the current value of every
key, another the global revision. SQLite runs in WAL mode: a write is one small
transaction, committed before ``put``/``remove`` returns, so a server killed with
``kill -9`` comes back with every acknowledged object. (With
``synchronous=NORMAL`` a power cut may lose the last transactions; a process
crash cannot.)

History is not persisted: after a restart the store starts compacted at its
current revision, so a client resuming an old watch gets 410 Gone and lists
again, exactly as it would after an etcd compaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from minik8s.store import Entry, Key

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    revision INTEGER NOT NULL, value BLOB NOT NULL,
    PRIMARY KEY (resource, namespace, name)
);
CREATE TABLE IF NOT EXISTS meta (id INTEGER PRIMARY KEY CHECK (id = 0), revision INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (id, revision) VALUES (0, 1);
"""


class SQLiteBackend:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The store serializes all calls under its own lock, so one connection shared across threads is safe.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def load(self) -> tuple[int, dict[Key, Entry]]:
        (revision,) = self._db.execute("SELECT revision FROM meta WHERE id = 0").fetchone()
        entries = {
            (resource, namespace, name): Entry(rev, bytes(value))
            for resource, namespace, name, rev, value in self._db.execute(
                "SELECT resource, namespace, name, revision, value FROM objects")
        }
        return int(revision), entries

    def put(self, key: Key, entry: Entry, revision: int) -> None:
        with self._db:  # one transaction: the object and the revision together, or neither
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO objects (resource, namespace, name, revision, value) VALUES (?, ?, ?, ?, ?)",
                (*key, entry.revision, entry.raw))
            self._db.execute("UPDATE meta SET revision = ? WHERE id = 0", (revision,))

    def remove(self, key: Key, revision: int) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?", key)
            self._db.execute("UPDATE meta SET revision = ? WHERE id = 0", (revision,))

    def close(self) -> None:
        self._db.close()
