"""Human-readable durations: the ``AGE`` column and every "5m ago".

kubectl never prints ``301 seconds``; it prints ``5m1s``. Upstream keeps two
formatters in k8s.io/apimachinery ``util/duration``:

* ``HumanDuration`` gives two or three significant figures (``2m5s``, ``3h5m``,
  ``2d3h``, ``3y45d``) and is used by every AGE column and by ``describe``.
* ``ShortHumanDuration`` gives one unit only (``5m``, ``3h``, ``2d``).

Interface:
    human_duration(seconds) -> str
    short_human_duration(seconds) -> str
    age(timestamp, now) -> str          # "<unknown>" for a missing timestamp
    parse_time(text) -> datetime         # RFC 3339, as Kubernetes writes it
    go_duration(seconds) -> str          # Go's time.Duration.String(): 500ms, 15s, 1m0s, 1h2m3.5s

Invariant: clock skew of up to two seconds into the future reads as ``0s``;
more than that is ``<invalid>`` (upstream tolerates a little skew between
machines, but a timestamp far in the future means something is wrong).

Taught in chapter 3 (kubectl and describing objects).
"""

from __future__ import annotations

from datetime import datetime, timezone

_MINUTE, _HOUR, _DAY, _YEAR = 60, 3600, 86400, 365 * 86400


def _skew(seconds: float) -> str | None:
    # Go truncates toward zero: -1.9s is "-1" and so reads as "0s".
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    return None


def human_duration(seconds: float) -> str:
    """Upstream ``duration.HumanDuration``: ``59s``, ``119s``, ``2m5s``, ``10m``, ``3h5m``, ``8h``, ``2d3h``, ``8d``."""
    if (skewed := _skew(seconds)) is not None:
        return skewed
    s = int(seconds)
    if s < 2 * _MINUTE:
        return f"{s}s"
    minutes = s // _MINUTE
    if minutes < 10:
        rest = s % _MINUTE
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 3 * 60:
        return f"{minutes}m"
    hours = s // _HOUR
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def short_human_duration(seconds: float) -> str:
    """Upstream ``duration.ShortHumanDuration``: one unit, ``45s``, ``5m``, ``3h``, ``2d``, ``1y``."""
    if (skewed := _skew(seconds)) is not None:
        return skewed
    s = int(seconds)
    if s < _MINUTE:
        return f"{s}s"
    if s < _HOUR:
        return f"{s // _MINUTE}m"
    if s < _DAY:
        return f"{s // _HOUR}h"
    if s < _YEAR:
        return f"{s // _DAY}d"
    return f"{s // _YEAR}y"


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp (``2024-01-02T03:04:05Z``, optionally with fractional seconds)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def age(timestamp: str | None, now: datetime) -> str:
    """Time since ``timestamp`` as the AGE column shows it; ``<unknown>`` when unset."""
    if not timestamp:
        return "<unknown>"
    return human_duration((now - parse_time(timestamp)).total_seconds())


def go_duration(seconds: float) -> str:
    """A duration as Go's ``time.Duration.String()`` writes it: ``15s``, ``10.5s``, ``1m0s``, ``1h0m0s``."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 10**9:   # below a second Go picks ms, µs or ns
        for unit, size in (("ms", 10**6), ("µs", 10**3), ("ns", 1)):
            if ns >= size:
                return sign + _decimal(ns, size) + unit
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = _decimal(rest, 10**9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _decimal(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{str(fraction).rjust(digits, '0').rstrip('0')}"
