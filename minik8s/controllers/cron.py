"""Cron schedules: when does a CronJob fire next?

A CronJob's ``spec.schedule`` is a standard five-field cron line (minute, hour,
day of month, month, day of week), as parsed by the Go library upstream uses
(robfig/cron v3, ``ParseStandard``), or one of its descriptors: ``@yearly``
(``@annually``), ``@monthly``, ``@weekly``, ``@daily`` (``@midnight``),
``@hourly`` and ``@every <duration>``. The times are read in ``spec.timeZone``
(an IANA name such as ``Europe/Paris``), or UTC when it is unset (upstream: the
controller manager's local zone, which is UTC in nearly every cluster).

Whether a line is valid is decided in one place, the API server's validation
(:func:`minik8s.api.validation.validate_cron_schedule`); this module only turns a
valid line into a :class:`Schedule` that answers ``next(t)``.

Interface:
    parse(schedule, time_zone=None) -> Schedule      # raises ValueError with robfig's message
    schedule.next(t: float) -> float | None          # the first firing strictly after t (epoch seconds)

Invariants: ``next(t) > t``; ``next`` never returns a time whose fields do not match.
When day-of-month and day-of-week are both restricted (neither is ``*``), a day
matches if *either* does, as in every cron since Vixie's.

Taught in chapter 9 (Jobs and CronJobs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from minik8s.api.validation import validate_cron_schedule

DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
_MONTHS = {m: i + 1 for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (low, high, names) for minute, hour, day of month, month, day of week.
_FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS))
# robfig/cron gives up looking for a match after five years ("0 0 30 2 *" never fires).
SEARCH_YEARS = 5
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Field:
    values: frozenset[int]
    star: bool  # written as a bare "*" or "?": matters for the day-of-month / day-of-week rule


def _field(text: str, low: int, high: int, names: dict[str, int]) -> Field:
    values: set[int] = set()
    star = False
    for expr in text.split(","):
        range_text, _, step_text = expr.partition("/")
        step = int(step_text) if step_text else 1
        if range_text in ("*", "?"):
            start, end = low, high
            star = star or not step_text  # "*/5" is a restriction, not a star
        else:
            bounds = [names.get(part.lower(), None) for part in range_text.split("-")]
            nums = [b if b is not None else int(p) for b, p in zip(bounds, range_text.split("-"))]
            start, end = nums[0], nums[-1]
            if step_text and len(nums) == 1:
                end = high  # "5/15" means "from 5, every 15"
        values.update(range(start, end + 1, step))
    return Field(frozenset(values), star)


class Schedule:
    """A parsed cron line in a time zone."""

    def __init__(self, fields: tuple[Field, ...] | None, zone: ZoneInfo | timezone, every: float | None = None):
        self.fields = fields
        self.zone = zone
        self.every = every  # seconds, for "@every <duration>"

    def next(self, t: float) -> float | None:
        """The first time strictly after ``t`` that matches, or None if there is none within five years."""
        if self.every is not None:
            # robfig's ConstantDelaySchedule: whole seconds after t, dropping t's fraction.
            return float(int(t)) + self.every
        assert self.fields is not None
        minute, hour, dom, month, dow = self.fields
        # Start at the next whole minute, in wall-clock time of the zone.
        local = datetime.fromtimestamp(int(t) // 60 * 60 + 60, tz=self.zone).replace(tzinfo=None)
        limit = local.year + SEARCH_YEARS
        while local.year <= limit:
            if local.month not in month.values:
                local = (local.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(local, dom, dow):
                local = local.replace(hour=0, minute=0) + timedelta(days=1)
                continue
            if local.hour not in hour.values:
                local = local.replace(minute=0) + timedelta(hours=1)
                continue
            if local.minute not in minute.values:
                local += timedelta(minutes=1)
                continue
            return local.replace(tzinfo=self.zone).timestamp()
        return None

    @staticmethod
    def _day_matches(local: datetime, dom: Field, dow: Field) -> bool:
        dom_ok = local.day in dom.values
        dow_ok = (local.isoweekday() % 7) in dow.values  # cron counts Sunday as 0
        if dom.star or dow.star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok


def _duration(text: str) -> float:
    """A Go duration such as ``1h30m`` in seconds (robfig rounds ``@every`` to whole seconds, at least 1)."""
    total = sum(float(num) * _DURATION_UNITS[unit]
                for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text))
    return max(float(round(total)), 1.0)


def zone(name: str | None) -> ZoneInfo | timezone:
    """The time zone a CronJob's schedule is read in; ValueError if the name is unknown."""
    if not name:
        return timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name}") from None


def parse(schedule: str, time_zone: str | None = None) -> Schedule:
    """Parse a cron line (optionally prefixed ``TZ=<zone>`` or ``CRON_TZ=<zone>``, as robfig accepts)."""
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        prefix, _, text = text.partition(" ")
        time_zone = prefix.split("=", 1)[1]
        text = text.strip()
    where = zone(time_zone)
    problem = validate_cron_schedule(text)
    if problem:
        raise ValueError(problem)
    if text.startswith("@every "):
        return Schedule(None, where, every=_duration(text[len("@every "):].strip()))
    text = DESCRIPTORS.get(text, text)
    parts = text.split()
    fields = tuple(_field(part, low, high, names) for part, (low, high, names) in zip(parts, _FIELDS))
    return Schedule(fields, where)
