"""The store kept in etcd v3: etcd is the truth, the API server keeps a watch cache.

This is upstream's design. Every object lives in etcd under a key; the API server
writes with transactions and serves reads and watches from a **mirror** fed by one
etcd watch on the ``/registry/`` prefix (upstream calls it the watch cache). Several
API servers over one etcd each keep such a mirror, and all see the same changes in
the same order with the same revisions, because the revisions are etcd's.

Keys, as upstream lays them out::

    /registry/pods/default/web-1               a namespaced built-in (no group in the key)
    /registry/deployments/default/web          deployments.apps
    /registry/nodes/node-1                     cluster-scoped
    /registry/example.com/widgets/default/w    a custom resource: its group, then its plural

Simplifications kept: upstream stores nodes under ``minions`` and Services under
``services/specs``; here every built-in is under its plural. Values are JSON (upstream
stores built-ins as protobuf), without ``metadata.resourceVersion``: the resourceVersion
*is* etcd's ``mod_revision`` and is set when a value is read.

Interface: :class:`EtcdStore` is a :class:`minik8s.store.Store` (same methods, same
errors), built as ``EtcdStore(["127.0.0.1:2379", ...])``. How each part maps to etcd:

* ``create`` is a transaction ``if create_revision(key) == 0 then put``; ``update`` and
  ``delete`` are ``if mod_revision(key) == expected then put/delete``. Without an expected
  revision they use the key's current one, and retry if someone wrote in between.
* After a write succeeds, the call waits until the mirror has applied its revision, so a
  reader of this store sees its own writes, and its watchers have been told.
* ``watch(resource, namespace, since, cb)`` replays the mirror's retained history, then live
  events; a ``since`` older than that history raises CompactedError (410 Gone).
* A list or watch at a revision this mirror has not reached yet (written through another API
  server) waits up to 3 s for it, as upstream's watch cache does (``wait_for_revision``).
* ``compact(revision)`` compacts etcd too.
* Reads come from the mirror, even while etcd is down (they may then be stale); writes then fail
  with :class:`EtcdUnavailableError` (a ``store.UnavailableError``: the API server's 504 Timeout).

Failures. The client talks to etcd's JSON gateway (``POST /v3/kv/...``, a streaming
``POST /v3/watch``) over HTTP with urllib3, one member at a time; on a connection error
it moves to the next member. A read is simply retried there. A write whose answer was
lost (a member killed mid-request) is *ambiguous*: it may or may not have been applied.
The store then asks a live member for its revision, lets the mirror catch up to it, and
looks in the mirror's history for the write's own event (a transaction that compares a
revision can succeed once only): found, the write succeeded at that revision; absent, it
never happened and is tried again. If the mirror's watch breaks, it resumes from the last
revision it applied, on another member, so no event is lost; if etcd has compacted past
that revision, the mirror lists everything again and tells its watchers the differences.

The etcd is assumed to be minik8s's own: a write outside ``/registry/`` would leave the
mirror's revision behind etcd's, and a write resolved after a lost answer would wait for it.
Chapter 2 (architecture) teaches the store this stands in for; the store reference page shows it run.
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any, Callable, Iterator

import orjson
import urllib3

from minik8s.store import (AlreadyExistsError, ConflictError, Entry, Event, Key, NotFoundError, Store, StoreError,
                           UnavailableError, _with_revision)

PREFIX = "/registry/"
CONNECT_TIMEOUT = 1.0      # seconds to reach a member before trying the next
REQUEST_TIMEOUT = 10.0     # seconds for one answer (etcd's own request timeout is 7 s)
WATCH_IDLE = 60.0          # an idle watch stream is re-opened after this long (it resumes exactly)
WRITE_DEADLINE = 15.0      # how long a write keeps trying through member failures before giving up (504)
PAGE = 500                 # keys per range request when listing everything
MAX_LINE = 256 << 20       # the longest watch message accepted (etcd's own limit is far lower)
FRESHNESS_WAIT = 3.0       # how long a read or watch at a revision not reached yet waits for it (upstream's 3 s)
INVALID_ARGUMENT = 3       # the gRPC code of a request etcd refuses outright ("request is too large")


class EtcdUnavailableError(UnavailableError):
    """No etcd member answered (or the mirror could not catch up) in time."""


class _Ambiguous(Exception):
    """A write was sent and its answer lost: it may or may not have been applied."""


class _Compacted(Exception):
    """etcd compacted past the revision asked for (a watch's start, a read's or a compaction's revision)."""


# --- keys ------------------------------------------------------------------------------------------------

_builtins: dict[str, str] | None = None


def _builtin_storage() -> dict[str, str]:
    """Built-in storage names by plural (``deployments`` -> ``deployments.apps``): the key omits the group."""
    global _builtins
    if _builtins is None:
        from minik8s.api.resources import BUILTIN   # the API's own table of resources; it imports nothing else
        _builtins = {r.storage_name.partition(".")[0]: r.storage_name for r in BUILTIN.resources}
    return _builtins


def etcd_key(key: Key) -> str:
    """The etcd key of a store key: ``("deployments.apps", "default", "web")`` -> ``/registry/deployments/default/web``."""
    resource, namespace, name = key
    plural, _, group = resource.partition(".")
    where = plural if not group or _builtin_storage().get(plural) == resource else f"{group}/{plural}"
    return f"{PREFIX}{where}/{namespace + '/' if namespace else ''}{name}"


def store_key(text: str) -> Key | None:
    """The inverse of :func:`etcd_key`; None for a key minik8s did not write."""
    parts = text[len(PREFIX):].split("/") if text.startswith(PREFIX) else []
    if parts and "." in parts[0]:   # a custom resource's group
        group, parts = parts[0], parts[1:]
        if not parts:
            return None
        parts[0] = f"{parts[0]}.{group}"
    else:
        parts[:1] = [_builtin_storage().get(parts[0], parts[0])] if parts else []
    if len(parts) == 2:
        return parts[0], "", parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return None


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def _range_end(prefix: str) -> str:
    """The key just past every key starting with ``prefix`` (etcd's prefix query)."""
    return _b64(prefix[:-1] + chr(ord(prefix[-1]) + 1))


def _reason(exc: Exception) -> str:
    """urllib3's message without the connection it names first (the endpoint is already said)."""
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith(("<", "HTTPConnection(")) and ": " in text else text


# --- the client ------------------------------------------------------------------------------------------


class Client:
    """etcd's v3 JSON gateway on one member at a time, moving to the next on a connection error."""

    def __init__(self, endpoints: list[str]):
        if not endpoints:
            raise ValueError("no etcd endpoint")
        self.endpoints = [e if "://" in e else f"http://{e}" for e in endpoints]
        self._current = 0
        self.watching: urllib3.BaseHTTPResponse | None = None   # the open watch stream, to end it on close
        self.closed = False
        self._http = urllib3.PoolManager(maxsize=16, retries=False,
                                         timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=REQUEST_TIMEOUT))

    @property
    def endpoint(self) -> str:
        return self.endpoints[self._current % len(self.endpoints)]

    def next_member(self, failed: str) -> None:
        if self.endpoint == failed:
            self._current += 1

    def call(self, path: str, body: dict[str, Any], *, write: bool = False) -> dict[str, Any]:
        """POST one request. A read is tried on every member in turn; a write only until it has been
        sent: a lost answer then raises _Ambiguous (the caller decides what happened)."""
        errors = []
        for _ in range(len(self.endpoints)):
            endpoint = self.endpoint
            try:
                response = self._http.request("POST", endpoint + path, body=orjson.dumps(body),
                                              headers={"Content-Type": "application/json"})
                answer = orjson.loads(response.data or b"{}")
            except urllib3.exceptions.ConnectTimeoutError as exc:   # not connected, so never sent: safe to send elsewhere
                errors.append(f"{endpoint}: {_reason(exc)}")
                self.next_member(endpoint)
                continue
            except (urllib3.exceptions.HTTPError, orjson.JSONDecodeError) as exc:
                errors.append(f"{endpoint}: {_reason(exc)}")
                self.next_member(endpoint)
                if write:
                    raise _Ambiguous(str(exc)) from None
                continue
            if "error" in answer or response.status != 200:
                # etcd's own errors (no leader, request timed out, compacted) come as a gRPC status.
                message = answer.get("message") or answer.get("error") or f"HTTP {response.status}"
                if "compacted" in str(message):
                    raise _Compacted(message)
                if answer.get("code") == INVALID_ARGUMENT:   # refused before it was proposed (too large)
                    raise StoreError(f"etcd refused the request: {message}")
                errors.append(f"{endpoint}: {message}")
                self.next_member(endpoint)
                if write:
                    raise _Ambiguous(message)
                continue
            return dict(answer)
        raise EtcdUnavailableError(f"etcd is unavailable: {'; '.join(errors)}")

    def watch(self, start_revision: int) -> Iterator[dict[str, Any]]:
        """The watch results on the ``/registry/`` prefix from ``start_revision``, as etcd sends them.
        Ends (or raises) when the stream breaks; the caller resumes."""
        body = {"create_request": {"key": _b64(PREFIX), "range_end": _range_end(PREFIX), "prev_kv": True,
                                   "start_revision": str(start_revision), "progress_notify": True}}
        endpoint = self.endpoint
        try:
            response = self._http.request("POST", endpoint + "/v3/watch", body=orjson.dumps(body),
                                          preload_content=False,
                                          timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=WATCH_IDLE))
        except urllib3.exceptions.HTTPError:
            self.next_member(endpoint)
            raise
        self.watching = response
        buffer = b""
        try:
            if self.closed:   # closed while this stream was being opened
                return
            for chunk in response.stream(65536):
                buffer += chunk
                if len(buffer) > MAX_LINE:
                    raise EtcdUnavailableError("etcd sent a watch message too long to read")
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        message = orjson.loads(line)
                        if "error" in message:
                            raise urllib3.exceptions.ProtocolError(str(message["error"]))
                        yield message.get("result") or {}
        except urllib3.exceptions.ReadTimeoutError:
            return   # idle: re-open on the same member
        except (urllib3.exceptions.HTTPError, orjson.JSONDecodeError):
            self.next_member(endpoint)
            raise
        finally:
            self.watching = None
            response.release_conn()

    def close(self) -> None:
        self.closed = True
        watching = self.watching
        if watching is not None:
            try:
                watching.shutdown()   # wakes the watch thread out of its read
            except (RuntimeError, ValueError, OSError):
                pass   # the stream had just ended
        self._http.clear()


# --- the store -------------------------------------------------------------------------------------------


def _decode(kv: dict[str, Any]) -> tuple[str, bytes, int]:
    return (base64.b64decode(kv["key"]).decode(), base64.b64decode(kv.get("value", "")),
            int(kv.get("mod_revision", 0)))


def _without_revision(raw: bytes) -> dict[str, Any]:
    obj = orjson.loads(raw)
    obj.get("metadata", {}).pop("resourceVersion", None)
    return dict(obj)


class EtcdStore(Store):
    """A :class:`Store` whose truth is etcd; reads and watches come from a mirror of ``/registry/``.

    ``transformer`` (an :class:`minik8s.store.encryption.EncryptionConfig`) encrypts values on their way
    into etcd and decrypts them on their way into the mirror, as upstream's transformers do."""

    def __init__(self, endpoints: list[str], transformer: Any = None, history_limit: int | None = None):
        super().__init__(None, **({"history_limit": history_limit} if history_limit else {}))
        self.client = Client(endpoints)
        self._transformer = transformer
        self._applied = threading.Condition(self._lock)   # notified whenever the mirror advances
        self._closed = False
        self._mirror_error: BaseException | None = None
        with self._lock:
            self.revision, entries = self._read_all()
            for key, entry in entries.items():   # the starting state: no history, nothing to tell yet
                self._put(key, entry, 0)
            self.compacted = self.revision   # history begins now: a watch from before it is 410 Gone
        self._thread = threading.Thread(target=self._follow, name="etcd-watch", daemon=True)
        self._thread.start()

    # --- the mirror ------------------------------------------------------------------------------------

    def _entry(self, key: Key, value: bytes, revision: int) -> Entry:
        if self._transformer is not None:
            value = self._transformer.transform_from_storage(key, value)
        return Entry(revision, _with_revision(orjson.loads(value), revision))

    def _read_all(self) -> tuple[int, dict[Key, Entry]]:
        """Every object under ``/registry/`` at one revision, page by page."""
        entries: dict[Key, Entry] = {}
        start, revision = _b64(PREFIX), 0
        while True:
            body: dict[str, Any] = {"key": start, "range_end": _range_end(PREFIX), "limit": PAGE}
            if revision:
                body["revision"] = str(revision)
            answer = self.client.call("/v3/kv/range", body)
            revision = revision or int(answer["header"]["revision"])
            kvs = answer.get("kvs", [])
            for kv in kvs:
                text, value, mod = _decode(kv)
                key = store_key(text)
                if key is not None:
                    entries[key] = self._entry(key, value, mod)
            if not answer.get("more") or not kvs:
                return revision, entries
            start = _b64(base64.b64decode(kvs[-1]["key"]) + b"\0")

    def _relist(self, revision: int, entries: dict[Key, Entry]) -> None:
        """Load the mirror from a fresh list (under the lock); tell watchers what changed since the mirror last
        knew (the watch was compacted past it: the single changes are gone, so they come at the list's revision)."""
        old = {(resource, ns, name): e for resource, table in self._tables.items() for (ns, name), e in table.items()}
        for key in sorted(old.keys() - entries.keys()):
            self._apply(key, None, revision)
        for key in sorted(entries):
            if key not in old or old[key].raw != entries[key].raw:
                self._apply(key, entries[key], revision)
        self.revision = max(self.revision, revision)
        self.compacted = max(self.compacted, self.revision)

    def _apply(self, key: Key, entry: Entry | None, revision: int) -> None:
        """One change into the mirror (under the lock), recorded in history and told to watchers."""
        if entry is None:
            current = self._drop(key, revision)
            if current is None:
                return
            # A deletion is reported with the object as last stored, at the deletion's revision (as Store does).
            self._record(Event(revision, "DELETED", key, _with_revision(orjson.loads(current.raw), revision),
                               current.raw))
            return
        current = self._put(key, entry, revision)
        self._record(Event(revision, "MODIFIED" if current else "ADDED", key, entry.raw,
                           current.raw if current else None))

    def _apply_events(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            for event in events:
                text, value, revision = _decode(event["kv"])
                key = store_key(text)
                if revision <= self.revision:
                    continue   # already applied (a resumed watch may repeat the edge)
                if key is not None:
                    deleted = event.get("type") == "DELETE"
                    self._apply(key, None if deleted else self._entry(key, value, revision), revision)
                self.revision = revision
            self._applied.notify_all()

    def _follow(self) -> None:
        """The mirror's loop: one watch from the last applied revision; resumed on any break."""
        failures = 0
        while not self._closed:
            try:
                for result in self.client.watch(self.revision + 1):
                    failures = 0
                    if result.get("canceled"):
                        if result.get("compact_revision"):
                            raise _Compacted(result["compact_revision"])
                        break
                    if result.get("events"):
                        self._apply_events(result["events"])
            except _Compacted:
                try:
                    revision, entries = self._read_all()   # not under the lock: reads go on meanwhile
                    with self._lock:
                        self._relist(revision, entries)
                        self._applied.notify_all()
                except (EtcdUnavailableError, _Compacted):
                    failures += 1
            except Exception as exc:   # a broken stream, a dead member, an undecryptable value: resume
                if self._closed:
                    return
                self._mirror_error = exc
                failures += 1
            # Back off a little while every member is failing; at once after a single break.
            time.sleep(min(0.05 * 2 ** min(failures, 5), 1.0) if failures else 0)

    def _wait_for(self, revision: int, deadline: float) -> None:
        """Block until the mirror has applied ``revision`` (read-your-writes)."""
        with self._applied:
            while self.revision < revision:
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise EtcdUnavailableError(f"the watch cache did not reach revision {revision} in time "
                                               f"(it is at {self.revision}: {self._mirror_error})")
                self._applied.wait(min(left, 0.5))

    def wait_for_revision(self, revision: int) -> None:
        """Wait up to FRESHNESS_WAIT for the mirror to reach ``revision`` (another API server's write)."""
        try:
            self._wait_for(revision, time.monotonic() + FRESHNESS_WAIT)
        except EtcdUnavailableError:
            pass   # the caller answers with what there is (504 Too large resource version)

    def watch(self, resource: str, namespace: str | None, since: int, callback: Callable[[Event], None]
              ) -> Callable[[], None]:
        """As :meth:`Store.watch`; a ``since`` the mirror has not reached yet (written through another API
        server) is waited for a moment, and nothing at or before it is told, however long the mirror takes."""
        if since > self.revision:
            self.wait_for_revision(since)

            def after_since(event: Event) -> None:
                if event.revision > since:
                    callback(event)

            return super().watch(resource, namespace, since, after_since)
        return super().watch(resource, namespace, since, callback)

    # --- writes ----------------------------------------------------------------------------------------

    def _value(self, key: Key, obj: dict[str, Any]) -> str:
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
        raw = orjson.dumps({**obj, "metadata": meta})
        if self._transformer is not None:
            raw = self._transformer.transform_to_storage(key, raw)
        return _b64(raw)

    def _txn(self, k: str, compare: dict[str, Any], success: dict[str, Any]) -> tuple[bool, dict[str, Any] | None, int]:
        """One transaction on key ``k``: (succeeded, the key's current kv when it failed, the write's revision)."""
        answer = self.client.call("/v3/kv/txn", {"compare": [{"key": k, **compare}], "success": [success],
                                                 "failure": [{"request_range": {"key": k}}]}, write=True)
        revision = int(answer["header"]["revision"])
        if answer.get("succeeded"):
            return True, None, revision
        kvs = (answer.get("responses") or [{}])[0].get("response_range", {}).get("kvs") or []
        return False, (kvs[0] if kvs else None), revision

    def _write(self, key: Key, obj: dict[str, Any] | None, revision_now: int, conditional: bool,
               mine: Callable[[Event], bool | None]) -> bytes:
        """Write (``obj``) or delete (None) ``key`` if its revision is ``revision_now`` (0: if it is absent).
        Not ``conditional``: if someone wrote in between, try again on their revision. Returns the mirror's
        event for the write (the object at its new revision)."""
        deadline = time.monotonic() + WRITE_DEADLINE
        start = self.revision
        k = _b64(etcd_key(key))
        success = ({"request_put": {"key": k, "value": self._value(key, obj)}} if obj is not None
                   else {"request_delete_range": {"key": k}})
        ambiguous = False
        while True:
            compare = ({"target": "CREATE", "create_revision": "0"} if revision_now == 0
                       else {"target": "MOD", "mod_revision": str(revision_now)})
            try:
                ok, kv, revision = self._txn(k, compare, success)
            except _Ambiguous:
                ambiguous = True
                found = self._resolve(key, start, mine, deadline)
                if found is None:
                    if time.monotonic() > deadline:
                        raise EtcdUnavailableError(f"a write to {etcd_key(key)} failed until its deadline") from None
                    continue   # it did not happen: try again
                ok, kv, revision = True, None, found
            if not ok and ambiguous:
                # A write that timed out may have been applied after all, and made this one fail.
                found = self._resolve(key, start, mine, deadline)
                if found is not None:
                    ok, revision = True, found
            if ok:
                self._wait_for(revision, deadline)
                return self._event_at(key, revision)
            if revision_now == 0:
                raise AlreadyExistsError(key)
            if kv is None:
                raise NotFoundError(key)
            if conditional or time.monotonic() > deadline:
                raise ConflictError(key)
            revision_now = int(kv["mod_revision"])   # someone wrote first; an unconditional write tries again

    def _current_revision(self, key: Key, expected: int | None) -> int:
        """The revision a write compares with: the expected one, else the key's own (NotFoundError if absent).
        The mirror answers first; if it has no such key, etcd (a create made elsewhere may not be here yet)."""
        if expected is not None:
            return expected
        entry = self.get_entry(key)
        if entry is not None:
            return entry.revision
        kvs = self.client.call("/v3/kv/range", {"key": _b64(etcd_key(key)), "keys_only": True}).get("kvs")
        if not kvs:
            raise NotFoundError(key)
        return int(kvs[0]["mod_revision"])

    def _resolve(self, key: Key, start: int, mine: Callable[[Event], bool | None], deadline: float) -> int | None:
        """After a lost answer: the revision the write was applied at, or None if it was not. Reads etcd's
        revision from a live member, lets the mirror catch up, and finds the write's event in its history."""
        while True:
            try:
                answer = self.client.call("/v3/kv/range", {"key": _b64(etcd_key(key)), "count_only": True})
                break
            except EtcdUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self._wait_for(int(answer["header"]["revision"]), deadline)
        with self._lock:
            if self.compacted > start:
                raise EtcdUnavailableError(f"the outcome of a write to {etcd_key(key)} is unknown: "
                                           "its history was compacted")
            for event in self._history_after(start):
                if event.key == key:
                    decided = mine(event)
                    if decided is not None:
                        if not decided:
                            raise ConflictError(key)
                        return event.revision
        return None

    def _event_at(self, key: Key, revision: int) -> bytes:
        with self._lock:
            for event in reversed(self._history):
                if event.revision == revision and event.key == key:
                    return event.raw
                if event.revision < revision:
                    break
        raise EtcdUnavailableError(f"revision {revision} of {etcd_key(key)} is no longer in the watch cache")

    def create(self, key: Key, obj: dict[str, Any]) -> dict[str, Any]:
        wanted = _without_revision(orjson.dumps(obj))

        def mine(event: Event) -> bool | None:   # the first creation after we started: ours, or someone's first
            if event.type != "ADDED":
                return None
            if _without_revision(event.raw) != wanted:
                raise AlreadyExistsError(key)
            return True

        return dict(orjson.loads(self._write(key, obj, 0, True, mine)))

    def update(self, key: Key, obj: dict[str, Any], expected_revision: int | None = None) -> dict[str, Any]:
        revision = self._current_revision(key, expected_revision)
        wanted = _without_revision(orjson.dumps(obj))

        def mine(event: Event) -> bool | None:
            if event.type != "MODIFIED" or event.prev is None:
                return None
            if expected_revision is None:   # any write of exactly this object is ours
                return True if _without_revision(event.raw) == wanted else None
            if int(orjson.loads(event.prev)["metadata"]["resourceVersion"]) != expected_revision:
                return None
            return _without_revision(event.raw) == wanted   # only one write can follow that revision

        return dict(orjson.loads(self._write(key, obj, revision, expected_revision is not None, mine)))

    def delete(self, key: Key, expected_revision: int | None = None) -> dict[str, Any]:
        revision = self._current_revision(key, expected_revision)

        def mine(event: Event) -> bool | None:
            if event.type != "DELETED" or event.prev is None:
                return None
            before = int(orjson.loads(event.prev)["metadata"]["resourceVersion"])
            return True if expected_revision is None or before == expected_revision else None

        return dict(orjson.loads(self._write(key, None, revision, expected_revision is not None, mine)))

    # --- compaction and shutdown -----------------------------------------------------------------------

    def compact(self, revision: int) -> None:
        """Compact the mirror's history and etcd's (etcd refuses a revision it has already compacted)."""
        with self._lock:
            revision = min(revision, self.revision)
        super().compact(revision)
        try:
            self.client.call("/v3/kv/compaction", {"revision": str(revision)})
        except _Compacted:
            pass   # etcd had already compacted past it
        except EtcdUnavailableError:
            pass   # etcd is down: the next compaction, to a later revision, covers this one

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._applied.notify_all()
        self.client.close()
        self._thread.join(timeout=5)


def parse_endpoints(spec: str) -> list[str]:
    """``etcd://127.0.0.1:2379,127.0.0.2:2379`` -> the member addresses; ValueError if it is not such a URL."""
    if not spec.startswith("etcd://") or not spec[len("etcd://"):]:
        raise ValueError(f'invalid store "{spec}": use sqlite or etcd://HOST:PORT[,HOST:PORT...]')
    endpoints = []
    for member in spec[len("etcd://"):].rstrip("/").split(","):
        host, _, port = member.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536 or "/" in host:
            raise ValueError(f'invalid etcd member "{member}" in "{spec}": use HOST:PORT')
        endpoints.append(f"{host}:{port}")
    return endpoints


