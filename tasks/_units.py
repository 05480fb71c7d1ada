"""Sizes and durations as people type them, and bytes as people read them.

Sizes take decimal (kB, MB, GB, TB: powers of 1000) and binary (KiB, MiB, GiB, TiB:
powers of 1024) units in any case, a bare letter (`50m` = 50 MB), or bare bytes where
bytes make sense. A budget or a cache size typed as `55` is never meant as 55 bytes:
there (`unit_required`) a unit is a must, `55b` says bytes.
Durations take a number with s, m, h, d or w, optionally chained (`1h30m`).
Anything else is a one-line `KitError` naming the value and what is accepted.
"""

from __future__ import annotations

import re

from ._errors import KitError

_SIZE_UNITS = {"": 1, "b": 1}
for _i, _p in enumerate("kmgtp", start=1):
    _SIZE_UNITS[_p] = _SIZE_UNITS[_p + "b"] = 1000**_i
    _SIZE_UNITS[_p + "i"] = _SIZE_UNITS[_p + "ib"] = 1024**_i

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)
SIZE_HELP = (
    "a number with an optional unit: 500, 50MB, 50mb, 1.5GiB, 10g "
    "(kB/MB/GB = 1000s, KiB/MiB/GiB = 1024s)"
)
SIZE_WITH_UNIT_HELP = (
    "a number with a unit: 50MB, 50mb, 1.5GiB, 10g, 500b "
    "(b = bytes, kB/MB/GB = 1000s, KiB/MiB/GiB = 1024s)"
)

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
DURATION_HELP = "a number with a unit s, m, h, d or w: 30m, 72h, 7d, 1h30m"


class BadValue(KitError):
    """A size or duration that cannot be parsed."""


def parse_size(value: int | float | str | None, what: str = "size",
               unit_required: bool = False) -> int:
    """Bytes in VALUE (`50MB`, `1.5GiB`, `500`); an int passes through (bytes from code).
    UNIT_REQUIRED: text without a unit (`55`) is refused, naming the accepted units."""
    accepted = SIZE_WITH_UNIT_HELP if unit_required else SIZE_HELP
    if isinstance(value, bool):
        raise BadValue(f"{what} {value!r} is not valid: expected {accepted}")
    if isinstance(value, int):
        if value < 0:
            raise BadValue(f"{what} {value!r} is negative: expected {accepted}")
        return value
    match = _SIZE_RE.match(str(value))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _SIZE_UNITS:
        raise BadValue(f"{what} {value!r} is not valid: expected {accepted}")
    if unit_required and not unit:
        raise BadValue(f"{what} {value!r} has no unit: expected {accepted}")
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_duration(value: int | float | str | None, what: str = "duration") -> int:
    """Seconds in VALUE (`72h`, `7d`, `30m`, `1h30m`)."""
    text = str(value).strip().lower()
    parts = _DURATION_PART.findall(text)
    if not text or not parts or "".join(n + u for n, u in parts) != text:
        raise BadValue(f"{what} {value!r} is not valid: expected {DURATION_HELP}")
    seconds = int(sum(float(n) * _DURATION_UNITS[u] for n, u in parts))
    if seconds <= 0:
        raise BadValue(f"{what} {value!r} must be longer than zero: expected {DURATION_HELP}")
    return seconds


def format_bytes(size: int | None) -> str:
    """`52.3 MB`: decimal units, three significant digits, as `docker images` shows."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            break
        value /= 1000
    if unit == "B":
        return f"{int(value)} B"
    digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
    return f"{value:.{digits}f} {unit}"


def format_duration(seconds: int) -> str:
    """`3d`, `72h`, `90m`: the largest unit that divides exactly."""
    for unit in ("w", "d", "h", "m"):
        if seconds % _DURATION_UNITS[unit] == 0:
            return f"{seconds // _DURATION_UNITS[unit]}{unit}"
    return f"{seconds}s"
