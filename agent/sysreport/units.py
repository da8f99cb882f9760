"""Small formatting helpers: human-readable sizes, durations and UTC timestamps.

psutil 7 has no public bytes2human; this module is that helper and a few more.
It imports only the standard library's time functions, so the collect path can use it.
"""

from __future__ import annotations

import time

_SUFFIXES = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def bytes2human(n: float | None) -> str:
    """1234567 -> '1.2 MiB'; negative values keep their sign; None -> '-'."""
    if n is None:
        return "-"
    sign = "-" if n < 0 else ""
    value = float(abs(n))
    for suffix in _SUFFIXES:
        if value < 1024 or suffix == _SUFFIXES[-1]:
            if suffix == "B":
                return f"{sign}{int(value)} B"
            return f"{sign}{value:.1f} {suffix}"
        value /= 1024
    raise AssertionError("unreachable")


def duration(seconds: float | None) -> str:
    """93784 -> '1d 2h', 3725 -> '1h 2m', 42 -> '42s'; the two largest units only."""
    if seconds is None:
        return "-"
    s = int(round(seconds))
    sign = "-" if s < 0 else ""
    s = abs(s)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        out = f"{days}d {hours}h" if hours else f"{days}d"
    elif hours:
        out = f"{hours}h {minutes}m" if minutes else f"{hours}h"
    elif minutes:
        out = f"{minutes}m {secs}s" if secs else f"{minutes}m"
    else:
        out = f"{secs}s"
    return sign + out


def epoch_to_iso(t: float) -> str:
    """Seconds since the epoch -> '2026-12-03T13:00:04+00:00' (UTC, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(int(t)))


def _days_from_civil(y: int, m: int, d: int) -> int:
    # Howard Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar.
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def iso_to_epoch(s: str) -> float:
    """'2026-12-03T13:00:04+00:00' (or 'Z', or another offset) -> seconds since the epoch.

    Parses only the shape this project writes; raises ValueError on anything else.
    (time.strptime would import _strptime, calendar and locale on the collect path.)
    """
    if not isinstance(s, str) or len(s) < 19 or s[4] != "-" or s[10] not in "T ":
        raise ValueError(f"not an ISO 8601 timestamp: {s!r}")
    y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
    h, mi, sec = int(s[11:13]), int(s[14:16]), int(s[17:19])
    rest = s[19:]
    frac = 0.0
    if rest.startswith("."):
        i = 1
        while i < len(rest) and rest[i].isdigit():
            i += 1
        frac = float(rest[:i])
        rest = rest[i:]
    offset = 0
    if rest in ("", "Z", "z"):
        offset = 0
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
        offset = (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60) * (1 if rest[0] == "+" else -1)
    else:
        raise ValueError(f"not an ISO 8601 timestamp: {s!r}")
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and sec < 61):
        raise ValueError(f"not an ISO 8601 timestamp: {s!r}")
    return _days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec + frac - offset
