"""Replay of a recorded session: in process into a Pipeline, or republished on ZeroMQ.

Replay is just another source into the same chain: frames read (read-only) from
the archive go to ``Pipeline.ingest`` or out of an XPUB socket.
"""

from __future__ import annotations

import bisect
import copy
import heapq
import math
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import msgspec
import numpy as np

from telemetry.archive.store import ArchiveReader
from telemetry.core.channels import (
    ChannelBuffer,
    SourceStats,
    StoreEvent,
)
from telemetry.core.pipeline import DEFAULT_TICK_S
from telemetry.core.severity import Severity
from telemetry.faults.injection import FaultInjector, FaultPlan, load_injector
from telemetry.replay.bookmarks import BookmarkFile

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from telemetry.bus.curve import PublisherCurve
    from telemetry.core.alarms import AlarmBookState
    from telemetry.core.dictionary import TelemetryDictionary
    from telemetry.core.pipeline import Deriver, Pipeline, PipelineState

ReplayFrame = tuple[float, bytes, bytes]
"""``(sample time, topic, body)`` of one recorded message."""

MIN_SPEED: Final = 0.1
MAX_SPEED: Final = 200.0
DEFAULT_CHECKPOINT_S: Final = 30.0
DEFAULT_BURST: Final = 2000
# An as-fast-as-possible republish must not lose what the console is slow to
# take: the archive is finite, so queue all of a long session rather than drop.
AS_FAST_SNDHWM: Final = 1_000_000

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


# ------------------------------------------------------------ timeline marks


@dataclass(frozen=True, slots=True)
class TimelineMark:
    """An instant or a period on the replay timeline; immutable, any thread."""

    time: float
    kind: str  # "alarm", "event", "spe", "saa", "bookmark", "fault"
    label: str
    severity: int = 0
    end: float | None = None  # periods (SPE, SAA, faults) end here


def _periods(times: np.ndarray, values: np.ndarray) -> list[tuple[float, float]]:
    """Return the ``[start, end]`` runs where a boolean channel is on (>= 0.5)."""
    on = values >= 0.5
    out: list[tuple[float, float]] = []
    start: float | None = None
    for t, flag in zip(times.tolist(), on.tolist(), strict=True):
        if flag and start is None:
            start = t
        elif not flag and start is not None:
            out.append((start, t))
            start = None
    if start is not None:
        out.append((start, float(times[-1])))
    return out


def read_timeline_marks(
    path: str | Path,
    t0: float | None = None,
    t1: float | None = None,
    *,
    sidecar: bool = True,
) -> list[TimelineMark]:
    """Read alarm onsets, events, SPE and SAA periods and bookmarks from an archive.

    Alarms are limit transitions to a higher level; events are those with a
    severity above nominal; SPE and SAA periods come from the derived
    ``goes.spe_active`` and ``iss.saa`` channels when the archive has them.
    Bookmarks are the archive's own (made live) and, with ``sidecar``, those
    of its bookmarks sidecar (``telemetry.replay.bookmarks``, made in replays).

    Raises
    ------
    BookmarkError
        If the sidecar exists but cannot be read.
    """
    lo = -math.inf if t0 is None else t0
    hi = math.inf if t1 is None else t1
    marks: list[TimelineMark] = []
    with ArchiveReader(path) as archive:
        for tr in archive.transitions(t0, t1):
            if tr.severity > tr.previous:
                level = Severity(tr.severity).name
                marks.append(
                    TimelineMark(tr.time, "alarm", f"{tr.key} {level}", tr.severity)
                )
        for ev in archive.events(t0, t1):
            if ev.severity > 0 and math.isfinite(ev.time):
                label = f"{ev.source + ' ' if ev.source else ''}{ev.kind}: {ev.detail}"
                marks.append(TimelineMark(ev.time, "event", label, ev.severity))
        info = archive.info()
        span = (
            lo if math.isfinite(lo) else float(info["start"] or 0.0),
            hi if math.isfinite(hi) else float(info["end"] or 0.0) + 1.0,
        )
        known = {c.key for c in archive.channels()}
        for key, kind, label, severity in (
            ("goes.spe_active", "spe", "solar particle event", int(Severity.WARNING)),
            ("iss.saa", "saa", "SAA pass", int(Severity.WATCH)),
        ):
            if key in known:
                t, v = archive.channel_window(key, *span)
                for start, end in _periods(t, v):
                    marks.append(TimelineMark(start, kind, label, severity, end))
        for bm in archive.bookmarks():
            if lo <= bm.time < hi:
                marks.append(
                    TimelineMark(bm.time, "bookmark", f"{bm.author}: {bm.text}")
                )
    if sidecar:
        marks += sidecar_marks(path, lo, hi)
    marks.sort(key=lambda m: (m.time, m.kind))
    return marks


def sidecar_marks(
    session: str | Path,
    t0: float = -math.inf,
    t1: float = math.inf,
    *,
    trainee: bool = False,
) -> list[TimelineMark]:
    """Return the bookmarks of a session's sidecar in ``[t0, t1]`` as marks.

    Read afresh on every call (a stat and one small query): other consoles
    replaying the same session may have added some. With ``trainee``, only
    the bookmarks a trainee may see (trainer-only notes give answers away).
    """
    return [
        TimelineMark(
            bm.time, "bookmark", f"{bm.author}: {bm.text}" if bm.author else bm.text
        )
        for bm in BookmarkFile(session).read(trainee=trainee)
        if t0 <= bm.time <= t1
    ]


# -------------------------------------------------------------- checkpoints


class _History:
    """All samples one channel's buffer received, in order; the replay thread's."""

    __slots__ = ("_arrays", "_chunks", "base", "total")

    def __init__(self) -> None:
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None
        self.base = 0  # append count of the first sample kept
        self.total = 0  # append count up to the last checkpoint

    def extend(self, buf: ChannelBuffer) -> None:
        new = buf.total - self.total
        if new <= 0:
            return
        t, y = buf.snapshot()
        if new > t.shape[0]:
            # More than a buffer's capacity arrived between two checkpoints:
            # what was overwritten is gone, so restarting here is all we can do.
            self._chunks = [(t, y)]
            self.base = buf.total - t.shape[0]
        else:
            # Copies: a view would keep the whole snapshot alive.
            self._chunks.append((t[-new:].copy(), y[-new:].copy()))
        self.total = buf.total
        self._arrays = None

    def window(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the samples with append counts in ``[lo, hi)`` (those kept)."""
        if self._arrays is None:
            if len(self._chunks) > 1:
                t = np.concatenate([c[0] for c in self._chunks])
                y = np.concatenate([c[1] for c in self._chunks])
                self._chunks = [(t, y)]
            self._arrays = (
                self._chunks[0] if self._chunks else (np.empty(0), np.empty(0))
            )
        t, y = self._arrays
        a, b = max(0, lo - self.base), max(0, hi - self.base)
        return t[a:b], y[a:b]


@dataclass
class _Checkpoint:
    """Pipeline state after every frame and tick up to ``time``; the replay thread's."""

    time: float
    buffers: dict[str, tuple[int, float]]  # key -> (append count, received)
    sources: dict[str, SourceStats]
    rejected_by_reason: dict[str, int]
    rejected_total: int
    undeclared: set[str]
    events: list[StoreEvent]
    alarms: AlarmBookState
    pipeline: PipelineState
    derivers: list[object] = field(default_factory=list)
    faults: object | None = None


_LOCK_TYPES: Final = (
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Event,
    threading.Condition,
)


def _shared_objects(dictionary: TelemetryDictionary) -> dict[int, Any]:
    """Return a deepcopy memo keeping the read-only dictionary and specs shared."""
    memo: dict[int, Any] = {id(dictionary): dictionary}
    for family in dictionary.families.values():
        for spec in family.values():
            memo[id(spec)] = spec
            for part in (spec.limits, spec.states, spec.alarm_states):
                if part is not None:
                    memo[id(part)] = part
    return memo


class ReplayEngine:
    """In-process replay transport: a session's frames into a Pipeline, by replay clock.

    Owned by the GUI's replay thread: the single thread that owns the
    pipeline in replay mode and calls every method here (construct it on
    that thread too: it resets the pipeline and positions at the session
    start). The GUI posts its controls (play, seek...) to that thread, which
    calls ``advance(wall_dt)`` in its loop. Other threads may read
    ``cursor``, ``playing``, ``speed`` and ``generation`` (plain attributes,
    each read atomically). The pipeline must not archive into the session
    (refused); in training its archive sink is a ``TrainingLog``.

    ``cursor`` is the replay clock in sample time (the console's
    ``context.clock`` in replay mode); every frame whose sample time is
    ``<= cursor`` has been ingested, with ``received`` = that sample time so
    staleness follows the replay clock. The pipeline's ``tick`` runs on a
    fixed grid of sample time (``tick_every``), so the link watchdog and
    shelving timers behave the same at any speed and after any seek.

    Seeking rebuilds alarms, dose totals and buffers: the engine keeps a
    checkpoint of the pipeline's state every ``checkpoint_every`` seconds of
    sample time (captured as playback passes them), restores the latest one
    before the target and catches up as fast as possible. ``prepare()``
    captures them all in one pass so any seek is fast from then on. A seek
    shows the session as recorded: acknowledgements made in the console
    after the restored checkpoint are not carried over (they stay in the
    action log). ``generation`` increases on every such rebuild so views can
    drop what they cached; event sequence numbers keep increasing (as after
    ``Pipeline.reset``), so the rebuilt events read as new ones.

    Checkpoints copy the pipeline's state (store counters and events, alarm
    list, decoder, limit evaluators, derivers); buffers are refilled from a
    per-channel history kept at checkpoint times, reusing the existing
    buffer arrays. A deriver may offer ``checkpoint() -> object`` and
    ``restore(state)``; otherwise its attributes are deep-copied. If that
    fails, ``checkpoint_error`` says why and seeks replay from the start.
    """

    def __init__(
        self,
        reader: SessionReader,
        pipeline: Pipeline,
        *,
        faults: FaultInjector | None = None,
        checkpoint_every: float = DEFAULT_CHECKPOINT_S,
        tick_every: float = DEFAULT_TICK_S,
        burst: int = DEFAULT_BURST,
    ) -> None:
        sink_path = getattr(pipeline.archive, "path", None)
        if sink_path is not None and Path(sink_path).resolve() == reader.path.resolve():
            raise ValueError(
                f"the replay pipeline archives into {sink_path}, the session being "
                "replayed: a replay must never write into the archive it reads"
            )
        if not (tick_every > 0 and checkpoint_every > 0 and burst >= 1):
            raise ValueError("tick_every and checkpoint_every must be > 0, burst >= 1")
        ratio = checkpoint_every / tick_every
        if abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(
                f"checkpoint_every ({checkpoint_every:g} s) must be a whole number of "
                f"ticks ({tick_every:g} s)"
            )
        self.reader = reader
        self.pipeline = pipeline
        self.faults = faults
        self.start = reader.start
        self.end = reader.end
        self.checkpoint_every = float(checkpoint_every)
        self.tick_every = float(tick_every)
        self._ticks_per_checkpoint = round(ratio)
        self.burst = int(burst)
        self.speed = 1.0
        self.playing = False
        self.loop: tuple[float, float] | None = None
        self.generation = 0
        self.checkpoint_error: str | None = None
        self.cursor = -math.inf
        self._checkpoints: list[_Checkpoint] = []
        self._history: dict[str, _History] = {}
        self._memo = _shared_objects(pipeline.dictionary)
        self._faults_initial = faults.checkpoint() if faults is not None else None
        self._marks: list[TimelineMark] | None = None
        self._frames: Iterator[ReplayFrame] = iter(())
        self._pending: ReplayFrame | None = None
        self._after = -math.inf
        self._tick_k = 0
        self._cp_k = 0
        self._rewind()
        self._run_to(self.start)

    # ------------------------------------------------------------ controls

    @property
    def at_end(self) -> bool:
        return self.cursor >= self.end

    @property
    def checkpoints(self) -> int:
        """Checkpoints captured so far."""
        return len(self._checkpoints)

    def play(self) -> None:
        """Start advancing with ``advance``; at the end, play starts over."""
        if self.at_end and self.loop is None:
            self.seek(self.start)
        self.playing = True

    def pause(self) -> None:
        self.playing = False

    def set_speed(self, speed: float) -> None:
        """Set sample seconds per wall second: 0.1..200, or 0 (as fast as possible)."""
        self.speed = check_speed(speed)

    def set_loop(self, t0: float | None, t1: float | None = None) -> None:
        """Loop between ``t0`` and ``t1`` (sample time); ``set_loop(None)`` clears it.

        If the cursor is outside the loop it jumps to ``t0``.
        """
        if t0 is None:
            self.loop = None
            return
        if t1 is None:
            raise ValueError("set_loop needs both t0 and t1 (or None to clear)")
        a, b = max(self.start, float(t0)), min(self.end, float(t1))
        if not a < b:
            raise ValueError(
                f"loop [{t0}, {t1}] must have t0 < t1 within the session "
                f"[{self.start}, {self.end}]"
            )
        self.loop = (a, b)
        if not a <= self.cursor <= b:
            self.seek(a)

    def advance(self, wall_dt: float) -> int:
        """Move the replay clock by ``wall_dt`` × speed and ingest what it passes.

        At speed 0 a call ingests up to ``burst`` frames instead. Does nothing
        while paused. At the end of the session (or loop) playback pauses (or
        wraps to the loop start). Returns the number of frames replayed.
        """
        if not self.playing:
            return 0
        stop = self.loop[1] if self.loop is not None else self.end
        if self.speed == 0:
            n = self._run_to(stop, max_frames=self.burst)
        else:
            if not wall_dt > 0:
                return 0
            n = self._run_to(min(stop, self.cursor + wall_dt * self.speed))
        if self.cursor >= stop:
            if self.loop is not None:
                self.seek(self.loop[0])
            else:
                self.playing = False
        return n

    def step(self, seconds: float | None = None, frames: int | None = None) -> int:
        """Step by ``seconds`` of sample time (negative: back) or by ``frames`` frames.

        Works while paused. Returns the number of frames replayed.
        """
        if (seconds is None) == (frames is None):
            raise ValueError("step needs exactly one of seconds= or frames=")
        if frames is not None:
            if frames < 1:
                raise ValueError(f"frames must be >= 1, got {frames}")
            return self._run_to(self.end, max_frames=frames)
        assert seconds is not None
        if seconds < 0:
            return self.seek(self.cursor + seconds)
        return self._run_to(min(self.end, self.cursor + seconds))

    def seek(self, t: float) -> int:
        """Move the cursor to ``t`` (clamped to the session); return frames replayed.

        Forward, it catches up from the cursor unless a checkpoint is nearer
        to ``t``; backward, it restores the latest checkpoint before ``t`` (or
        resets the pipeline and starts over) and catches up from there.
        """
        t = min(self.end, max(self.start, float(t)))
        if t == self.cursor:
            return 0
        i = bisect.bisect_right([c.time for c in self._checkpoints], t) - 1
        best = self._checkpoints[i].time if i >= 0 else -math.inf
        if t > self.cursor and best <= self.cursor:
            return self._run_to(t)
        if i >= 0:
            self._restore(i)
        else:
            self._rewind()
        return self._run_to(t)

    def prepare(self, progress: Callable[[float], object] | None = None) -> float:
        """Capture every checkpoint in one as-fast-as-possible pass; return seconds.

        Afterwards a seek anywhere restores a checkpoint at most
        ``checkpoint_every`` before its target. The cursor comes back to
        where it was. ``progress(fraction)`` is called between bursts.
        """
        began = time.perf_counter()
        here = self.cursor
        last = self._checkpoints[-1].time if self._checkpoints else self.start
        if last < self.end and self.checkpoint_error is None:
            self.seek(last)
            while self.cursor < self.end:
                self._run_to(self.end, max_frames=self.burst)
                if progress is not None:
                    progress(
                        (self.cursor - self.start) / max(1e-9, self.end - self.start)
                    )
            self.seek(here)
        return time.perf_counter() - began

    def timeline_marks(
        self, *, sidecar: bool = True, trainee: bool = False
    ) -> list[TimelineMark]:
        """Return the archive marks (``read_timeline_marks``) and the fault windows.

        With ``sidecar``, the bookmarks of the session's sidecar too, read
        again on each call (the rest is read once); with ``trainee`` only
        those a trainee may see.
        """
        if self._marks is None:
            marks = read_timeline_marks(self.reader.path, sidecar=False)
            if self.faults is not None:
                for start, end, fault in self.faults.windows():
                    end = min(end, self.end)
                    marks.append(
                        TimelineMark(
                            start, "fault", fault.describe(), int(Severity.WATCH), end
                        )
                    )
                marks.sort(key=lambda m: (m.time, m.kind))
            self._marks = marks
        if not sidecar:
            return list(self._marks)
        marks = self._marks + sidecar_marks(
            self.reader.path, self.start, self.end, trainee=trainee
        )
        marks.sort(key=lambda m: (m.time, m.kind))
        return marks

    # ------------------------------------------------------------ the clock

    def _tick_time(self, k: int) -> float:
        return self.start + k * self.tick_every

    def _checkpoint_time(self, k: int) -> float:
        return self.start + k * self.checkpoint_every

    def _open(self, after: float) -> None:
        """Read frames again from the first one later than ``after``."""
        self._after = after
        self._frames = self.reader.frames(None if after == -math.inf else after)
        self._pending = None

    def _peek(self) -> ReplayFrame | None:
        while self._pending is None:
            frame = next(self._frames, None)
            if frame is None:
                return None
            if frame[0] > self._after:
                self._pending = frame
        return self._pending

    def _run_to(self, target: float, max_frames: int | None = None) -> int:
        """Ingest frames and run ticks and checkpoints, in time order, up to ``target``.

        At equal times frames go first, then the tick, then the checkpoint,
        so a checkpoint at T holds every frame and tick up to T.
        """
        n = 0
        while True:
            frame = self._peek()
            ft = frame[0] if frame is not None else math.inf
            if max_frames is not None and n >= max_frames and ft > self.cursor:
                target = min(target, self.cursor)
            tick = self._tick_time(self._tick_k)
            cp = self._checkpoint_time(self._cp_k)
            if frame is not None and ft <= target and ft <= tick and ft <= cp:
                self._pending = None
                self._ingest(frame)
                n += 1
                self.cursor = max(self.cursor, ft)
            elif tick <= target and tick <= cp:
                self.pipeline.tick(tick)
                self._tick_k += 1
            elif cp <= target:
                self._capture(self._cp_k, cp)
                self._cp_k += 1
            else:
                break
        self.cursor = max(self.cursor, target)
        return n

    def _ingest(self, frame: ReplayFrame) -> None:
        t, topic, body = frame
        parts: list[bytes] | None = [topic, body]
        if self.faults is not None:
            parts = self.faults.apply([topic, body])
        if parts is not None:
            self.pipeline.ingest(parts, t)

    # -------------------------------------------------------- checkpoints

    def _rewind(self) -> None:
        """Reset the pipeline and stand before the session's first frame."""
        self.pipeline.reset()
        # AlarmBook.clear() keeps its raise counter; a replay from the start
        # must count what the session raises, as a restore does.
        self.pipeline.alarms.raised_total = 0
        if self.faults is not None:
            self.faults.restore(self._faults_initial)
        self.cursor = -math.inf
        self._tick_k = 0
        self._cp_k = 0
        self._open(-math.inf)
        self.generation += 1

    def _copy(self, obj: object, extra: Iterable[object] = ()) -> Any:
        memo = dict(self._memo)
        for shared in extra:
            memo[id(shared)] = shared
        return copy.deepcopy(obj, memo)

    def _capture(self, k: int, at: float) -> None:
        if k < len(self._checkpoints) or self.checkpoint_error is not None:
            return
        p = self.pipeline
        store = p.store
        try:
            derivers = [self._deriver_state(d) for d in p.derivers]
            state = _Checkpoint(
                time=at,
                buffers={},
                sources={s: copy.copy(v) for s, v in store.sources.items()},
                rejected_by_reason=dict(store.rejected_by_reason),
                rejected_total=store.rejected_total,
                undeclared=set(store.undeclared),
                events=store.events(),
                alarms=p.alarms.checkpoint(),
                pipeline=self._copy(p.checkpoint()),
                derivers=derivers,
                faults=self.faults.checkpoint() if self.faults is not None else None,
            )
        except (TypeError, AttributeError, copy.Error) as exc:
            self.checkpoint_error = f"cannot checkpoint the pipeline: {exc}"
            return
        keys = store.keys()
        for key in keys:
            buf = store.buffer(key)
            if buf is None:
                continue
            self._history.setdefault(key, _History()).extend(buf)
            state.buffers[key] = (buf.total, buf.received)
        self._checkpoints.append(state)

    def _deriver_state(self, deriver: Deriver) -> object:
        own = getattr(deriver, "checkpoint", None)
        if callable(own) and callable(getattr(deriver, "restore", None)):
            return own()
        attrs = vars(deriver)
        locks = [v for v in attrs.values() if isinstance(v, _LOCK_TYPES)]
        return self._copy(dict(attrs), locks)

    def _restore_deriver(self, deriver: Deriver, state: object) -> None:
        own = getattr(deriver, "restore", None)
        if callable(own) and callable(getattr(deriver, "checkpoint", None)):
            own(state)
            return
        locks = [v for v in vars(deriver).values() if isinstance(v, _LOCK_TYPES)]
        vars(deriver).update(self._copy(state, locks))

    def _restore(self, k: int) -> None:
        """Put the pipeline back in checkpoint ``k``'s state; read on from there."""
        cp = self._checkpoints[k]
        p = self.pipeline
        store = p.store
        # Reuse the buffers' arrays: allocating ~100 fresh 100k-sample rings
        # costs ~110 ms, more than half the seek budget.
        keys = store.keys()
        old = {key: b for key in keys if (b := store.buffer(key)) is not None}
        buffers: dict[str, ChannelBuffer] = {}
        for key, (count, received) in cp.buffers.items():
            buf = old.get(key) or ChannelBuffer(store.capacity)
            t, y = self._history[key].window(count - buf.capacity, count)
            buf.restore(t, y, count, received)
            buffers[key] = buf
        store.restore(
            buffers,
            {s: copy.copy(v) for s, v in cp.sources.items()},
            dict(cp.rejected_by_reason),
            cp.rejected_total,
            set(cp.undeclared),
            cp.events,
        )
        p.alarms.restore(cp.alarms)
        p.restore(self._copy(cp.pipeline))
        for deriver, state in zip(p.derivers, cp.derivers, strict=True):
            self._restore_deriver(deriver, state)
        if self.faults is not None:
            self.faults.restore(cp.faults)
        self.cursor = cp.time
        self._cp_k = k + 1
        self._tick_k = k * self._ticks_per_checkpoint + 1
        self._open(cp.time)
        self.generation += 1


# --------------------------------------------------------------- republish


def republish(
    archive: str | Path,
    bind: str,
    *,
    speed: float = 1.0,
    start: float | None = None,
    end: float | None = None,
    faults: str | Path | FaultPlan | None = None,
    stop_event: threading.Event | None = None,
    wait_subscriber: float | None = 10.0,
    on_bound: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    connect: bool = False,
    curve: PublisherCurve | None = None,
) -> int:
    """Publish a recorded session on an XPUB socket; return the messages sent.

    Parameters
    ----------
    archive : str or Path
        The recorded session (opened read-only).
    bind : str
        ZeroMQ endpoint, e.g. ``tcp://127.0.0.1:5557`` (``:*`` picks a port,
        reported to ``on_bound``).
    speed : float
        0.1..200 times real time, or 0 for as fast as possible.
    start, end : float, optional
        Sample-time range ``[start, end)`` to send.
    faults : path or FaultPlan, optional
        Fault scenario applied to the messages; its offsets count from the
        session's first frame, even when ``start`` is later.
    stop_event : threading.Event, optional
        Set it from any thread to stop promptly.
    wait_subscriber : float or None
        Seconds to wait for the first subscription (None: send at once).
    connect : bool
        Connect to ``bind`` (a console that listens) instead of binding it.
    curve : PublisherCurve, optional
        CurveZMQ keys (``telemetry.bus.curve.load_publisher_curve``): a CURVE
        server admitting only its allow-list of consoles, or a CURVE client
        of a listening console.

    Messages go out as recorded (topic and body byte for byte, so sequence
    numbers are preserved) unless a fault rewrites or drops them.

    Raises
    ------
    TimeoutError
        If no subscriber arrives within ``wait_subscriber`` seconds.
    """
    from telemetry.bus.curve import publish_with_curve
    from telemetry.bus.publisher import DEFAULT_SNDHWM, RawMessage

    check_speed(speed)
    stop = stop_event if stop_event is not None else threading.Event()
    with SessionReader(archive) as reader:
        injector = load_injector(faults, reader.start)

        def messages() -> Iterator[RawMessage]:
            for t, topic, body in paced(
                reader.frames(start, end), speed, clock, stop.wait
            ):
                parts: list[bytes] | None = [topic, body]
                if injector is not None:
                    parts = injector.apply([topic, body])
                if parts is not None:
                    yield RawMessage(t, parts)

        stats = publish_with_curve(
            messages(),
            bind,
            curve,
            speed=None,  # paced() above already holds each message
            stop_event=stop,
            wait_for_subscriber=wait_subscriber,
            sndhwm=AS_FAST_SNDHWM if speed == 0 else DEFAULT_SNDHWM,
            on_bound=on_bound,
            connect=connect,
        )
    return stats.messages


# ------------------------------------------------------ recording, bench


def replay_derivers(
    dictionary: TelemetryDictionary,
    roster: Path | None = None,
    limits: Path | None = None,
) -> list[Deriver]:
    """Return the derivers a replay runs: a session's, with its roster and limits.

    A radiation officer may replay with another roster or agency limits than
    were live; a bad file raises ``RosterError`` naming file, line and entry.
    """
    from telemetry.live.session import build_derivers

    return build_derivers(dictionary, roster, limits)
