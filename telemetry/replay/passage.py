"""How a training run passed through replay time, rebuilt from its replay controls.

The training log holds each replay control with the replay time it was used
at and the wall clock (``replay_controls``); between two controls the replay
played forward or stood paused. From that path this module answers, for one
alarm onset: where (in the order things happened, not in replay time) the
run first reached it, how much replay time the trainee let pass with the
alarm up before acting (time seen again after going back counts again),
which speeds, skips, pauses and backward seeks happened meanwhile, and
whether the run got as far as the deadline at all. The debrief scores from
this, so that a pause, a second viewing or an early close cannot pass for a
quick answer. Pure functions over immutable records; any thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Sequence

    from telemetry.replay.training import ReplayControl, TraineeAction

# Controls that move the replay clock to the replay time in their value.
_JUMPS: Final = frozenset({"seek", "step"})
# Pause then play within this (wall s) is a click, not a pause to report.
_PAUSE_SHOWN_S: Final = 0.5


@dataclass(frozen=True, slots=True)
class _Event:
    """One piece of the run's path, in the order it happened; immutable, any thread.

    ``kind``: "move" (played forward from ``start`` to ``end``), "jump" (a
    seek or step from ``start`` to ``end``), "speed" (``end`` is the new
    speed), "pause" or "play". ``wall``: the wall clock of the control that
    ends a move or makes the change (a move ends at the next control);
    ``wall_from``: where a move began on the wall clock. ``key`` orders
    actions against the path: (wall, replay time) of the control.
    """

    kind: str
    start: float
    end: float
    wall: float | None
    wall_from: float | None
    key: tuple[float, float]
    speed: float = 1.0
    playing: bool = False


@dataclass(frozen=True, slots=True)
class RunPath:
    """The run's path through replay time (from `run_path`); immutable, any thread."""

    events: tuple[_Event, ...]
    start: float
    started: float
    ended: float | None
    # Replay time the run ended at: logged, or the furthest logged evidence.
    end: float
    end_recorded: bool

    @property
    def furthest(self) -> float:
        """The furthest replay time the run got to (before any going back)."""
        return max(
            [self.start, self.end]
            + [max(e.start, e.end) for e in self.events if e.kind in ("move", "jump")]
        )


def run_path(
    controls: Sequence[ReplayControl],
    *,
    start: float,
    started: float,
    ended: float | None,
    end: float | None,
    evidence: float = -math.inf,
) -> RunPath:
    """Rebuild the path from the controls, in the order they were used.

    ``start``: the replay time the run began at (the session start: the
    console opens paused there at 1×); ``started``/``ended``: the run's wall
    clock; ``end``: the replay time the run ended at (None if the log does
    not say: a log from an older console, or a console that died; then the
    furthest of ``evidence`` and the controls stands in for it).
    """
    events: list[_Event] = []
    pos = start
    speed, playing = 1.0, False
    wall_from: float | None = started
    for c in controls:
        key = (c.wall, c.time)
        if c.time > pos:
            events.append(
                _Event("move", pos, c.time, c.wall, wall_from, key, speed, playing)
            )
        elif c.time < pos:  # the console jumped back without saying (older logs)
            events.append(_Event("jump", pos, c.time, c.wall, c.wall, key))
        pos = c.time
        wall_from = c.wall
        if c.control in _JUMPS and c.value is not None:
            events.append(_Event("jump", pos, c.value, c.wall, c.wall, key))
            pos = c.value
        elif c.control == "speed" and c.value is not None:
            speed = c.value
            events.append(_Event("speed", pos, speed, c.wall, c.wall, key))
        elif c.control in ("play", "pause"):
            playing = c.control == "play"
            events.append(_Event(c.control, pos, pos, c.wall, c.wall, key))
    recorded = end is not None
    if end is None:
        end = max(pos, evidence)
    if end > pos:
        last = (ended if ended is not None else math.inf, end)
        events.append(_Event("move", pos, end, ended, wall_from, last, speed, playing))
    return RunPath(tuple(events), start, started, ended, end, recorded)


@dataclass(slots=True)
class Passage:
    """What happened between an onset and its answer or deadline; the caller's thread.

    ``elapsed``: replay seconds the trainee let pass with the alarm up (from
    the onset, counting forward skips and time seen again after going back);
    ``paused_s``: wall seconds the replay stood paused meanwhile;
    ``went_back``: (from, to) replay times of each backward seek or step;
    ``deadline_reached``: the run went on for the whole window (no answer);
    ``crossed_wall``: wall clock when the run first reached the onset.
    """

    reached: bool = False
    crossed_wall: float | None = None
    elapsed: float = 0.0
    skipped: float = 0.0
    speeds: list[float] = field(default_factory=list)
    paused_s: float = 0.0
    pauses: int = 0
    went_back: list[tuple[float, float]] = field(default_factory=list)
    deadline_reached: bool = False

    def wall_response(self, action: TraineeAction) -> float | None:
        """Wall-clock seconds from the first sight of the onset to ``action``."""
        if self.crossed_wall is None or not math.isfinite(self.crossed_wall):
            return None
        return max(0.0, action.wall - self.crossed_wall)


def follow(
    path: RunPath,
    onset: float,
    *,
    action: TraineeAction | None = None,
    limit: float = math.inf,
    onset_wall: float | None = None,
) -> Passage:
    """Walk the path from where it first reached ``onset`` to ``action``.

    Without an action, walk until ``limit`` replay seconds have passed with
    the alarm up (the deadline) or the run ended. ``onset_wall``: the wall
    clock the console raised the alarm at, if the log has it (else it is
    estimated from the path). Actions are placed on the path by their wall
    clock (ties: by replay time), so an action made after going back comes
    after the backward seek, whatever its replay time.
    """
    out = Passage()
    speed = 1.0
    pause_wall: float | None = None  # wall clock the current pause began
    crossed = jumped = False

    def cross(wall: float | None) -> None:
        nonlocal crossed
        crossed = out.reached = True
        out.crossed_wall = wall
        out.speeds.append(speed)

    def end_pause(wall: float | None) -> None:
        nonlocal pause_wall
        if pause_wall is not None and crossed and wall is not None:
            begun = pause_wall
            if out.crossed_wall is not None:
                begun = max(begun, out.crossed_wall)
            if wall - begun >= _PAUSE_SHOWN_S:
                out.paused_s += wall - begun
                out.pauses += 1
        pause_wall = None

    if path.start >= onset:
        cross(path.started)
    stop = (action.wall, action.time) if action is not None else None
    finish = action.wall if action is not None else path.ended
    for ev in path.events:
        # A move ends at the next control: an action before that control
        # was made during the move, at its own replay time. An action at
        # the very (wall, replay) time of a control came first: after a
        # jump its replay time would be the one jumped to.
        cut = stop is not None and ev.key >= stop
        if cut and ev.kind != "move":
            break
        if ev.kind in ("move", "jump"):
            end = ev.end
            if cut and action is not None:
                end = min(max(action.time, ev.start), ev.end)
            if not crossed and ev.start < onset <= end:
                cross(_crossing_wall(ev, onset))
                jumped = ev.kind == "jump"
            if not crossed:
                pass
            elif end < ev.start:
                out.went_back.append((ev.start, end))
            else:
                seen = max(0.0, end - max(ev.start, onset))
                if out.elapsed + seen >= limit:
                    seen = limit - out.elapsed
                    out.deadline_reached = True
                out.elapsed += seen
                if ev.kind == "jump":
                    out.skipped += seen
                if out.deadline_reached:
                    finish = ev.wall
                    break
        elif ev.kind == "speed":
            speed = ev.end
            if crossed:
                out.speeds.append(speed)
        elif ev.kind == "pause":
            if pause_wall is None:
                pause_wall = ev.wall
        elif ev.kind == "play":
            end_pause(ev.wall)
        if cut:
            break
    end_pause(finish)
    # Played into: the console logged when it raised the alarm. Jumped
    # into: it raised it during the seek, but the trainee saw it only once
    # the seek was done (the control's wall clock).
    if onset_wall is not None and math.isfinite(onset_wall) and not jumped:
        out.crossed_wall = onset_wall
    return out


def clock_text(seconds: float) -> str:
    """``95`` -> ``1:35``; ``3600`` -> ``1:00:00`` (a span, sign dropped)."""
    s = round(abs(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def speed_text(speed: float) -> str:
    """``10`` -> ``10×``; ``0`` -> ``max`` (as fast as possible)."""
    return "max" if speed == 0 else f"{speed:g}×"


def t_plus(t: float, origin: float) -> str:
    """``T+H:MM:SS`` of replay time ``t`` from the session start ``origin``."""
    if not math.isfinite(t):
        return ""
    s = t - origin
    sign = "-" if s < 0 else "+"
    s = abs(s)
    return f"T{sign}{int(s // 3600):d}:{int(s % 3600 // 60):02d}:{int(s % 60):02d}"


def describe(passage: Passage, origin: float, *, acted: bool = False) -> str:
    """Say how the replay was driven over a passage ("" if at 1× throughout).

    "at 10×", "skipped 1:36", "paused 1:00:00", "went back 1:55 at
    T+0:08:35 (to T+0:06:40) before acting": what a trainer needs to read
    a response time right.
    """
    parts = []
    shown = [v for v in dict.fromkeys(passage.speeds) if v != 1.0]
    if shown:
        parts.append(f"at {', '.join(speed_text(v) for v in shown)}")
    if passage.skipped > 0:
        parts.append(f"skipped {clock_text(passage.skipped)}")
    if passage.pauses:
        times = f" ({passage.pauses} pauses)" if passage.pauses > 1 else ""
        parts.append(f"paused {clock_text(passage.paused_s)}{times}")
    back = passage.went_back
    if len(back) > 3:  # a whole run: the controls table lists each
        total = sum(a - b for a, b in back)
        parts.append(f"went back {len(back)} times ({clock_text(total)} in all)")
    else:
        parts.extend(
            f"went back {clock_text(a - b)} at {t_plus(a, origin)}"
            f" (to {t_plus(b, origin)})"
            for a, b in back
        )
        if back and acted:
            parts[-1] += " before acting"
    return "; ".join(parts)


def _crossing_wall(ev: _Event, onset: float) -> float | None:
    """Wall clock the path reached ``onset`` inside ``ev`` (estimated in a move)."""
    if ev.kind == "jump":
        return ev.wall
    if ev.wall_from is None:
        return None
    if ev.playing and ev.speed > 0:
        guess = ev.wall_from + (onset - ev.start) / ev.speed
        return min(guess, ev.wall) if ev.wall is not None else guess
    return None
