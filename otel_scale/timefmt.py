"""RFC 3339 timestamps with nanosecond precision, as Go's `time.RFC3339Nano` writes them.

ECS publishes instants with 0-9 fractional digits (trailing zeros trimmed). `datetime` keeps only
microseconds, so these functions work on integer Unix nanoseconds throughout.
"""

from __future__ import annotations

import calendar
import re
import time

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)
_NS_PER_S = 1_000_000_000


class TimestampError(ValueError):
    """A string is not an RFC 3339 timestamp this module can represent exactly."""


def parse_rfc3339_ns(text: str) -> int:
    """Parse an RFC 3339 timestamp (0-9 fractional digits, `Z` or a numeric offset) to Unix nanoseconds."""
    if not isinstance(text, str):
        raise TimestampError(f"expected an RFC 3339 string, got {type(text).__name__}")
    match = _RFC3339.match(text)
    if match is None:
        raise TimestampError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        raise TimestampError(f"timestamp out of range: {text!r}")
    if day > calendar.monthrange(year, month)[1]:
        raise TimestampError(f"no such day: {text!r}")
    fraction = match.group(7) or ""
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    seconds = calendar.timegm((year, month, day, hour, minute, min(second, 59), 0, 0, 0))
    if match.group(9):  # numeric offset: local = UTC + offset
        offset = int(match.group(10)) * 3600 + int(match.group(11)) * 60
        seconds -= offset if match.group(9) == "+" else -offset
    return seconds * _NS_PER_S + nanos


def format_rfc3339_ns(unix_ns: int) -> str:
    """Format Unix nanoseconds the way Go's RFC3339Nano does in UTC (trailing fractional zeros trimmed)."""
    seconds, nanos = divmod(unix_ns, _NS_PER_S)
    year, month, day, hour, minute, second = _gmtime(seconds)
    text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


def format_rfc3339_s(unix_ns: int) -> str:
    """Whole-second RFC 3339 in UTC (as ECS writes `ClockDrift.ReferenceTimestamp`)."""
    year, month, day, hour, minute, second = _gmtime(unix_ns // _NS_PER_S)
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"


def _gmtime(seconds: int) -> tuple[int, int, int, int, int, int]:
    t = time.gmtime(seconds)
    return t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec
