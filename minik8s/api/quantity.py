"""Resource quantities: ``100m``, ``200Mi``, ``1.5``, ``2e3``.

Kubernetes writes amounts of CPU and memory as *quantities*: a number with an
optional suffix. Binary suffixes (``Ki Mi Gi Ti Pi Ei``) are powers of 1024,
decimal ones (``n u m k M G T P E``) powers of 1000, and ``e``/``E`` exponents are
allowed. ``cpu: 100m`` is a tenth of a core; ``memory: 200Mi`` is 200 × 2²⁰ bytes.

Interface:
    parse(text) -> Fraction          # exact value; raises ValueError on bad input
    milli(text) -> int               # value × 1000 rounded up (CPU is counted in millicores)
    value(text) -> int               # value rounded up to a whole unit (memory in bytes)
    format_milli(m) / format_bytes(b)

Taught in chapter 4 (Pods: requests and limits) and chapter 7 (Deployments).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "": Fraction(1),
            "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
            "P": Fraction(10**15), "E": Fraction(10**18)}
_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$")

QUANTITY_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def parse(text: str | int | float) -> Fraction:
    """The exact value of a quantity. Integers and floats (as YAML gives them) are accepted."""
    if isinstance(text, bool):
        raise ValueError(QUANTITY_ERROR)
    if isinstance(text, (int, float)):
        return Fraction(text)
    match = _QUANTITY.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(QUANTITY_ERROR)
    number, exponent, suffix = match.groups()
    base = Fraction(number)
    if exponent:
        return base * Fraction(10) ** int(exponent[1:])
    suffix = suffix or ""
    return base * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])


def is_valid(text: object) -> bool:
    try:
        parse(text)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False
    return True


def milli(text: str | int | float) -> int:
    """Value in thousandths, rounded up: ``milli("100m") == 100``, ``milli("1") == 1000``."""
    return math.ceil(parse(text) * 1000)


def value(text: str | int | float) -> int:
    """Value rounded up to a whole unit: ``value("1Ki") == 1024``."""
    return math.ceil(parse(text))


def format_milli(m: int) -> str:
    """CPU as kubectl shows it: ``100m``, ``2`` for 2000m."""
    return f"{m // 1000}" if m % 1000 == 0 else f"{m}m"


def format_bytes(b: int) -> str:
    """Memory in the largest binary unit that divides it: ``200Mi``, ``1Gi``, ``1500``."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        if b and b % _BINARY[suffix] == 0:
            return f"{b // _BINARY[suffix]}{suffix}"
    return str(b)
