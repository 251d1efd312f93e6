"""Typed plot time ranges, as Open MCT's time conductor takes them (Qt-free).

Two kinds, from what the operator types:

- a live window that keeps following the session clock: ``15m``,
  ``last 2h``, ``-90s``, ``1h30m``, or ``-1h to now`` / ``10:00 to now``;
- a fixed range, which pauses the charts on it: ``10:00 to 10:30``,
  ``-2h to -1h``, ``341/09:00 to +20m`` (the end relative to the start),
  ``2026-12-07T10:00Z to 2026-12-07 11:00``.

Times of day are UTC on the session clock's day (or the day before, if that
would put them in the future); ``DDD/HH:MM[:SS]`` is the GMT day of year the
console prints; ISO dates may end in ``Z``. Errors are one line saying what
could not be read and what would be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?\s*(?:min|s|m|h|d)\s*)+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(min|s|m|h|d)")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?$")
_DOY = re.compile(r"^(\d{1,3})/(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?$")
_SEPARATOR = re.compile(r"\s+(?:to|until)\s+|\s*\.\.\s*|\s+-\s+|\s*–\s*")
HELP = (
    "type a window (15m, last 2h) or a range: 10:00 to 10:30, -2h to -1h, "
    "341/09:00 to +20m, 2026-12-07T10:00Z to now"
)


class TimeRangeError(ValueError):
    """Typed text that is not a time range (the message says why); any thread."""


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A live window (``live``, width ``window_s``) or a fixed ``[t0, t1]``.

    Times are UTC epoch seconds; immutable, any thread.
    """

    live: bool
    window_s: float
    t0: float
    t1: float


def _duration(text: str) -> float | None:
    compact = text.strip().lower()
    if not compact or not _DURATION.match(compact):
        return None
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(compact))


def _time_of_day(
    hours: int, minutes: int, seconds: float, now: float, start: float | None
) -> float:
    """Return a time of day as UTC seconds.

    For a range's start, the latest one not after `now`; for its end, the
    first one after `start` (a shift that spans midnight: ``22:00 to 02:00``).
    """
    if hours > 23 or minutes > 59 or seconds >= 60:
        raise TimeRangeError(f"{hours:02d}:{minutes:02d} is not a time of day")
    ref = now if start is None else start
    day = datetime.fromtimestamp(ref, UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    t = (day + timedelta(hours=hours, minutes=minutes, seconds=seconds)).timestamp()
    if start is not None:
        return t + 86400.0 if t <= start else t
    # "23:30" typed just after midnight means yesterday's, not tonight's.
    return t - 86400.0 if t > now + 60.0 else t


def _point(text: str, now: float, start: float | None) -> float:
    """Read one end of a range: now, -15m, +20m (after `start`), a time, a date."""
    word = text.strip()
    lower = word.lower()
    if lower == "now":
        return now
    if word[:1] in "+-":
        span = _duration(word[1:])
        if span is None:
            raise TimeRangeError(f"cannot read {word!r} as an offset like -15m or +1h")
        if word[0] == "-":
            return now - span
        if start is None:
            raise TimeRangeError(f"{word!r}: a +offset is only for the end of a range")
        return start + span
    if m := _CLOCK.match(word):
        return _time_of_day(int(m[1]), int(m[2]), float(m[3] or 0), now, start)
    if m := _DOY.match(word):
        year = datetime.fromtimestamp(now, UTC).year
        day = int(m[1])
        if not 1 <= day <= 366:
            raise TimeRangeError(f"{word!r}: day of year must be 1 to 366")
        base = datetime(year, 1, 1, tzinfo=UTC) + timedelta(days=day - 1)
        hours, minutes, seconds = int(m[2]), int(m[3]), float(m[4] or 0)
        if hours > 23 or minutes > 59 or seconds >= 60:
            raise TimeRangeError(f"{word!r} is not a time of day")
        t = base + timedelta(hours=hours, minutes=minutes, seconds=seconds)
        return t.timestamp()
    iso = word.replace(" ", "T", 1)
    if iso.endswith(("Z", "z")):
        iso = iso[:-1] + "+00:00"
    try:
        stamp = datetime.fromisoformat(iso)
    except ValueError:
        raise TimeRangeError(f"cannot read {word!r} as a time: {HELP}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)  # the console's times are all UTC
    return stamp.timestamp()


def parse_time_range(text: str, now: float) -> TimeRange:
    """Read what the operator typed, relative to the session clock `now`.

    Raises TimeRangeError with a one-line reason.
    """
    words = text.strip()
    if not words:
        raise TimeRangeError(f"empty: {HELP}")
    lower = words.lower()
    single = lower.removeprefix("last ").lstrip("-").strip()
    if (span := _duration(single)) is not None and not _SEPARATOR.search(words):
        if not span > 0:
            raise TimeRangeError(f"{words!r}: a window must be longer than 0 s")
        return TimeRange(True, span, now - span, now)
    ends = _SEPARATOR.split(words, maxsplit=1)
    if len(ends) != 2 or not all(e.strip() for e in ends):
        raise TimeRangeError(f"cannot read {words!r}: {HELP}")
    start_text, end_text = ends
    t0 = _point(start_text, now, None)
    t1 = _point(end_text, now, t0)
    if not t1 > t0:
        raise TimeRangeError(
            f"{words!r}: the end must come after the start ({t1 - t0:+.0f} s)"
        )
    if end_text.strip().lower() == "now":
        return TimeRange(True, t1 - t0, t0, t1)
    return TimeRange(False, t1 - t0, t0, t1)
