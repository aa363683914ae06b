"""Time and randomness, injected.

Every component asks a :class:`Clock` for the time instead of calling
``time.time()``, and draws random names from a seeded ``random.Random``. With the
:class:`VirtualClock` a whole cluster becomes deterministic: time moves only when
a test or a notebook calls ``advance``, so the same script prints the same output,
names and ages included, every time it runs.

Interface:
    clock.now() -> float                 # seconds since the epoch
    clock.advance(seconds)               # VirtualClock only
    rfc3339(t) -> "2026-01-01T00:00:00Z"; parse_rfc3339(text) -> float
    random_suffix(rng, n=5)              # upstream's name suffix alphabet
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Protocol

# Upstream leaves out vowels and look-alike characters so generated names never spell words.
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

# Virtual clusters start at a fixed, recognisable instant.
VIRTUAL_EPOCH = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()


class Clock(Protocol):
    def now(self) -> float: ...


class RealClock:
    """Wall-clock time."""

    virtual = False

    def now(self) -> float:
        return time.time()


class VirtualClock:
    """Time that only moves when told to."""

    virtual = True

    def __init__(self, start: float = VIRTUAL_EPOCH):
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds

    def set(self, t: float) -> None:
        with self._lock:
            if t > self._now:
                self._now = t


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(int(t), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def random_suffix(rng: random.Random, n: int = 5) -> str:
    return "".join(rng.choice(SUFFIX_ALPHABET) for _ in range(n))


def new_uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))
