"""The replay engine: a recorded session played into a Pipeline, with seeks.

Replay is just another source into the same chain: frames read (read-only)
from the archive go to ``Pipeline.ingest``, as live messages do; checkpoints
make a seek anywhere cost one catch-up of at most ``DEFAULT_CHECKPOINT_S``.
"""

from __future__ import annotations

import bisect
import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from telemetry.archive.writer import ArchiveWriter
from telemetry.core.channels import (
    ChannelBuffer,
    SourceStats,
    StoreEvent,
)
from telemetry.core.pipeline import DEFAULT_TICK_S
from telemetry.core.severity import Severity
from telemetry.replay.session_reader import ReplayFrame, SessionReader, check_speed
from telemetry.replay.timeline import TimelineMark, read_timeline_marks, sidecar_marks

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from telemetry.core.alarms import AlarmBookState
    from telemetry.core.deriver import Deriver
    from telemetry.core.dictionary import TelemetryDictionary
    from telemetry.core.pipeline import Pipeline, PipelineState
    from telemetry.faults.injection import FaultInjector

DEFAULT_CHECKPOINT_S: Final = 30.0
DEFAULT_BURST: Final = 2000


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
    # key -> (append count, received, arrival lag)
    buffers: dict[str, tuple[int, float, float]]
    sources: dict[str, SourceStats]
    rejected_by_reason: dict[str, int]
    rejected_total: int
    undeclared: set[str]
    events: list[StoreEvent]
    alarms: AlarmBookState
    pipeline: PipelineState
    derivers: list[object] = field(default_factory=list)
    faults: object | None = None


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
        sink = pipeline.archive
        sink_path = sink.path if isinstance(sink, ArchiveWriter) else None
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

    def _copy(self, obj: object) -> Any:
        return copy.deepcopy(obj, dict(self._memo))

    def _capture(self, k: int, at: float) -> None:
        if k < len(self._checkpoints) or self.checkpoint_error is not None:
            return
        p = self.pipeline
        store = p.store
        try:
            derivers = [d.checkpoint() for d in p.derivers]
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
            state.buffers[key] = (buf.total, buf.received, buf.arrival_lag_s)
        self._checkpoints.append(state)

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
        for key, (count, received, lag) in cp.buffers.items():
            buf = old.get(key) or ChannelBuffer(store.capacity)
            t, y = self._history[key].window(count - buf.capacity, count)
            buf.restore(t, y, count, received, lag)
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
            deriver.restore(state)
        if self.faults is not None:
            self.faults.restore(cp.faults)
        self.cursor = cp.time
        self._cp_k = k + 1
        self._tick_k = k * self._ticks_per_checkpoint + 1
        self._open(cp.time)
        self.generation += 1


# --------------------------------------------------------------- republish


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
