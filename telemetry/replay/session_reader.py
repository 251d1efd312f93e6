"""A recorded session read back: its frames in replay order, its times, replay speeds.

``SessionReader`` is owned by the thread that replays (the replay thread, or
a command's main thread); the functions are pure.
"""

from __future__ import annotations

import heapq
import math
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import msgspec

from telemetry.archive.reader import ArchiveReader

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator


ReplayFrame = tuple[float, bytes, bytes]
"""``(sample time, topic, body)`` of one recorded message."""

MIN_SPEED: Final = 0.1
MAX_SPEED: Final = 200.0


_F = TypeVar("_F", bound=tuple[Any, ...])


class _Times(msgspec.Struct):
    """Only the ``t`` field of an envelope (msgspec skips the rest); any thread."""

    t: list[float]


_msgpack_times: Final = msgspec.msgpack.Decoder(_Times)
_json_times: Final = msgspec.json.Decoder(_Times)


def frame_span(body: bytes, received: float) -> tuple[float, float]:
    """Return a recorded frame's first and last sample times.

    A frame without rows (or one that no longer decodes) has its arrival
    time for both.
    """
    decoder = _json_times if body[:1] == b"{" else _msgpack_times
    try:
        times = decoder.decode(body).t
    except (msgspec.DecodeError, msgspec.ValidationError):
        return received, received
    return (min(times), max(times)) if times else (received, received)


def frame_time(body: bytes, received: float) -> float:
    """Return the sample time a recorded frame is replayed at: its last sample's.

    A publisher sends a batch once its last row is sampled (the simulator
    and ``publish`` pace by it), so a replay at cursor ``c`` shows exactly
    the samples a live console had at ``c``.
    """
    return frame_span(body, received)[1]


def check_speed(speed: float) -> float:
    """Return ``speed`` if it is 0 (as fast as possible) or within 0.1x..200x."""
    if not (speed == 0 or MIN_SPEED <= speed <= MAX_SPEED):
        raise ValueError(
            "replay speed must be 0 (as fast as possible) or "
            f"{MIN_SPEED:g}..{MAX_SPEED:g}, got {speed!r}"
        )
    return float(speed)


_OFFSET = re.compile(r"^(?:T\s*)?([+-])\s*(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d*)?)$")
_DAY_OF_YEAR = re.compile(r"^(\d{1,3})/(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d*)?))?$")
_TIME_OF_DAY = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d*)?))?$")
SESSION_TIME_FORMATS: Final = (
    "+MM:SS or +H:MM:SS or +S from the session start (T+ accepted), "
    "ISO-8601 UTC (2026-03-02T09:02:30Z), DDD/HH:MM:SS (GMT day of year) "
    "or HH:MM:SS UTC on the session's day"
)


def parse_session_time(text: str, start: float) -> float:
    """Parse a time typed by an operator into sample time (UTC epoch seconds).

    Accepts an offset from ``start`` (``+2:30``, ``+0:02:30``, ``+150``,
    ``T+02:30``; ``-`` counts back), ISO-8601 (UTC when it has no zone),
    the displays' ``DDD/HH:MM:SS`` (GMT day of the session's year) and
    ``HH:MM:SS`` (UTC, on the session's day, or the next if that is before
    ``start``). The result is not clamped to the session.

    Raises
    ------
    ValueError
        Naming the accepted formats.
    """
    text = text.strip()
    origin = datetime.fromtimestamp(start, UTC)
    if m := _OFFSET.match(text):
        sign, a, b, sec = m.groups()
        hours, minutes = (a, b) if b is not None else (None, a)
        if (minutes is not None and float(sec) >= 60) or (
            hours is not None and int(minutes or 0) >= 60
        ):
            raise ValueError(f"not an offset: {text!r} (minutes and seconds < 60)")
        seconds = int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(sec)
        return start + (seconds if sign == "+" else -seconds)
    if m := _DAY_OF_YEAR.match(text):
        day, hh, mm, ss = m.groups()
        base = datetime(origin.year, 1, 1, tzinfo=UTC) + timedelta(days=int(day) - 1)
        if not 1 <= int(day) <= 366 or base.year != origin.year:
            raise ValueError(f"day of year {day} is not in {origin.year}")
        return _clock_time(base, hh, mm, ss, text)
    if m := _TIME_OF_DAY.match(text):
        day = origin.replace(hour=0, minute=0, second=0, microsecond=0)
        hh, mm, ss = m.groups()
        t = _clock_time(day, hh, mm, ss, text)
        return t + 86400.0 if t < start else t
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {text!r}; use {SESSION_TIME_FORMATS}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _clock_time(day: datetime, hh: str, mm: str, ss: str | None, text: str) -> float:
    h, m, s = int(hh), int(mm), float(ss or 0.0)
    if h > 23 or m > 59 or s >= 60:
        raise ValueError(f"not a time of day: {text!r}")
    return day.timestamp() + h * 3600 + m * 60 + s


class SessionReader:
    """The frames of a recorded session, read-only; owned by the thread that replays.

    Opens the archive through ``ArchiveReader`` (an SQLite ``mode=ro``
    connection), so nothing is ever written into the file being replayed.
    It reads frames and the session's extent, nothing else. Frames are
    replayed in order of their last sample time (``frame_time``); the
    archive keeps them by first sample time, so opening scans them once for
    their spans (about 3 ms per 1,000 frames).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._archive = ArchiveReader(self.path)
        lo, hi, span, count = math.inf, -math.inf, 0.0, 0
        try:
            for received, _topic, body in self._archive.iter_frames():
                first, last = frame_span(body, received)
                lo, hi = min(lo, last), max(hi, last)
                span = max(span, last - first)
                count += 1
        except BaseException:
            self._archive.close()
            raise
        if count == 0:
            self._archive.close()
            raise ValueError(f"{self.path}: no recorded frames to replay")
        self.count = count
        self.start: float = lo
        self.end: float = hi
        self.max_span = span  # longest frame, first to last sample

    def frames(
        self, t0: float | None = None, t1: float | None = None
    ) -> Iterator[ReplayFrame]:
        """Yield ``(sample time, topic, body)`` with ``t0 <= time < t1``, in time order.

        The time is the frame's last sample time; equal times keep the
        archive's order. Pages through the archive (frames are reordered
        within ``max_span`` only), so memory stays small whatever its size.
        """
        # (The margin covers the rounding of ``max_span``.)
        lo = None if t0 is None else t0 - self.max_span - 1e-3
        hi = math.inf if t1 is None else t1
        heap: list[tuple[float, int, bytes, bytes]] = []
        for n, (received, topic, body) in enumerate(self._archive.iter_frames(lo)):
            first, last = frame_span(body, received)
            # Frames come by first sample time, so nothing later can end
            # before this one begins: whatever ends by then is final.
            while heap and heap[0][0] <= first:
                t, _, top, payload = heapq.heappop(heap)
                if t0 is None or t >= t0:
                    yield t, top, payload
            if first >= hi:
                heap.clear()
                break
            if last < hi:
                heapq.heappush(heap, (last, n, topic, body))
        while heap:
            t, _, top, payload = heapq.heappop(heap)
            if t0 is None or t >= t0:
                yield t, top, payload

    def close(self) -> None:
        self._archive.close()

    def __enter__(self) -> SessionReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def paced(
    frames: Iterable[_F],
    speed: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], object] = time.sleep,
) -> Iterator[_F]:
    """Yield ``frames`` (tuples whose first item is the sample time) at ``speed``.

    The first frame anchors sample time to ``clock()``; frame ``i`` is yielded
    once ``clock() >= anchor + (t_i - t_0) / speed``. A consumer that falls
    behind gets the late frames at once (the run keeps its overall rate
    rather than stretching). ``speed=0`` yields as fast as possible.
    ``clock`` and ``sleep`` are injectable for tests; ``sleep`` may return
    early (e.g. ``threading.Event.wait``), the due time is re-checked.
    """
    check_speed(speed)
    anchor: tuple[float, float] | None = None
    for frame in frames:
        t = float(frame[0])
        if speed > 0:
            if anchor is None:
                anchor = (t, clock())
            due = anchor[1] + (t - anchor[0]) / speed
            while (delay := due - clock()) > 0:
                sleep(delay)
        yield frame
