"""Replay as a source for the console: the ``replay`` thread that drives a ReplayEngine.

The displays read the same ChannelStore and AlarmBook types as live; only the
clock differs (the replay cursor). Controls from the GUI are queued to the
thread that owns the pipeline, so nothing touches its state concurrently.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.pipeline import CLOCK_SLACK_S, Pipeline
from telemetry.faults.injection import load_injector
from telemetry.radiation.estimator import DoseEstimator
from telemetry.replay.bookmarks import BookmarkError, BookmarkFile
from telemetry.replay.engine import ReplayEngine, replay_derivers
from telemetry.replay.session_reader import SessionReader
from telemetry.replay.training import TrainingLog, TrainingLogError

if TYPE_CHECKING:
    from pathlib import Path

    from telemetry.core.dictionary import TelemetryDictionary
    from telemetry.replay.timeline import TimelineMark

LOOP_S = 0.02
ReplayCommand = Callable[[ReplayEngine], object]
"""A GUI request, run on the replay thread against its engine."""
# Other consoles replaying the same session may add bookmarks to its sidecar.
SIDECAR_POLL_S = 2.0
# How often a training run writes the replay time it has reached to its log
# (so a console that dies still tells the debrief which deadlines it got to).
POSITION_LOG_S = 2.0

log = logging.getLogger(__name__)


class ReplayDriver:
    """Owns the ``replay`` thread, its Pipeline and ReplayEngine.

    The GUI thread calls the command methods (``play``, ``seek``,
    ``add_bookmark``...), which only enqueue; it reads ``cursor``,
    ``playing``, ``speed``, ``generation``, ``loop``, ``start_time``/
    ``end_time``, ``marks`` (with ``marks_version``) and ``message`` (with
    ``message_seq``): plain attributes, each replaced whole by the replay
    thread. In training mode the operator's actions go to a separate
    TrainingLog, never to the recording; bookmarks go to the session's
    sidecar (``telemetry.replay.bookmarks``), never into the session either.

    ``wall_clock`` paces playback (``advance(now - last)``); tests replace
    it before ``start`` to control time.
    """

    def __init__(
        self,
        dictionary: TelemetryDictionary,
        session_path: Path,
        *,
        training_log: Path | None = None,
        operator: str = "",
        faults: Path | None = None,
        scenario: str | Path | None = None,
        capacity: int = 100_000,
        wall_clock: Callable[[], float] = time.monotonic,
        roster: Path | None = None,
        limits: Path | None = None,
    ) -> None:
        # First: a bad roster or limits file stops the replay (naming file,
        # line and entry) before the session file or a training log is open.
        self._derivers = replay_derivers(dictionary, roster, limits)
        self.dictionary = dictionary
        self.session_path = session_path
        self.store = ChannelStore(capacity)
        self.log: TrainingLog | None = None
        self.wall_clock = wall_clock
        self.bookmarks = BookmarkFile(session_path)
        self._reader = SessionReader(session_path)
        self.start_time = self._reader.start
        self.end_time = self._reader.end
        if training_log is not None:
            try:
                self.log = TrainingLog(
                    training_log,
                    trainee=operator,
                    scenario=scenario if scenario is not None else session_path.stem,
                    replayed=session_path,
                    replay_start=self.start_time,
                )
            except BaseException:
                self._reader.close()
                raise
        self.alarms = AlarmBook(
            on_action=self.log.put_action if self.log is not None else None,
            operator=operator,
        )
        self._faults = faults
        self.pipeline = Pipeline(
            dictionary,
            self.store,
            self.alarms,
            archive=self.log,
            derivers=self._derivers,
            # Recorded receive times: "now" is judged as it was live.
            clock_slack_s=CLOCK_SLACK_S,
        )
        self.engine: ReplayEngine | None = None
        self.cursor = self.start_time
        self.playing = False
        self.speed = 1.0
        self.generation = 0
        self.loop: tuple[float, float] | None = None
        self.marks: list[TimelineMark] = []
        self.marks_version = 0
        self.message = ""
        self.message_seq = 0
        #: Why training records could not be written by the end ("" if all were).
        self.log_error = ""
        self._log_waiting = ""
        self.error = ""
        self._commands: queue.Queue[tuple[str, ReplayCommand]] = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._sidecar_seen: tuple[int, int] | None = None
        self._next_poll = 0.0
        self._next_position = 0.0
        self._logged_position: float | None = None

    @property
    def training(self) -> bool:
        return self.log is not None

    @property
    def dose(self) -> DoseEstimator | None:
        """The replay's dose estimator (read through its snapshot lock)."""
        return next((d for d in self._derivers if isinstance(d, DoseEstimator)), None)

    def clock(self) -> float:
        return self.cursor

    # --- commands (GUI thread) ------------------------------------------------

    def _post(self, name: str, command: ReplayCommand) -> None:
        self._commands.put((name, command))

    def _control(self, name: str, act: ReplayCommand) -> None:
        """Post a playback control; a training run logs what it did (debrief)."""

        def run(engine: ReplayEngine) -> None:
            before = engine.cursor
            act(engine)
            if self.log is not None:
                self._log_control(engine, name, before)

        self._post(name, run)

    def play(self) -> None:
        self._control("play", lambda engine: engine.play())

    def pause(self) -> None:
        self._control("pause", lambda engine: engine.pause())

    def step(self, seconds: float | None = None, frames: int | None = None) -> None:
        self._control("step", lambda engine: engine.step(seconds, frames))

    def seek(self, t: float) -> None:
        self._control("seek", lambda engine: engine.seek(t))

    def set_speed(self, speed: float) -> None:
        self._control("set_speed", lambda engine: engine.set_speed(speed))

    def set_loop(self, t0: float | None, t1: float | None = None) -> None:
        self._control("set_loop", lambda engine: engine.set_loop(t0, t1))

    def add_bookmark(
        self, t: float, author: str, text: str, audience: str = "all"
    ) -> None:
        """Store a bookmark in the session's sidecar (on the replay thread).

        ``audience``: "all", or "trainer" to hide it from training runs.
        A training run refuses "trainer": a trainee must not make notes
        that its own replay would then hide from it.
        """
        if audience == "trainer" and self.training:
            # Said on the replay thread, the one that writes the message.
            self._post(
                "add_bookmark",
                lambda engine: self._say(
                    "a training run cannot make trainer-only bookmarks"
                ),
            )
            return

        def add(engine: ReplayEngine) -> None:
            self.bookmarks.add(
                min(max(t, engine.start), engine.end),
                author,
                text,
                audience=audience,
            )
            self._reload_marks(engine)
            self._say(f"bookmark saved in {self.bookmarks.path.name}")

        self._post("add_bookmark", add)

    def remove_bookmark(self, bookmark_id: int) -> None:
        def remove(engine: ReplayEngine) -> None:
            if self.bookmarks.remove(bookmark_id):
                self._reload_marks(engine)

        self._post("remove_bookmark", remove)

    def call(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the replay thread (e.g. to read engine state safely)."""
        self._post("call", lambda engine: fn())

    # --- thread --------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="replay", daemon=True)
        self._thread.start()
        self._ready.wait(30.0)
        if self.error:
            raise RuntimeError(self.error)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._reader.close()
        if self.log is not None:
            engine = self.engine
            try:
                self.log.close(engine.cursor if engine is not None else self.cursor)
            except TrainingLogError as exc:  # the file stayed locked to the end
                self.log_error = str(exc)

    def _run(self) -> None:
        try:
            injector = (
                load_injector(self._faults, self.start_time, self.dictionary)
                if self._faults is not None
                else None
            )
            self.engine = ReplayEngine(self._reader, self.pipeline, faults=injector)
            self._reload_marks(self.engine)
        except (ValueError, OSError) as exc:  # a bad file: its one line says why
            self.error = f"cannot open replay {self.session_path}: {exc}"
            self._ready.set()
            return
        except Exception as exc:  # a bug: keep the traceback in the log
            log.exception("cannot open replay %s", self.session_path)
            self.error = f"cannot open replay {self.session_path}: {exc}"
            self._ready.set()
            return
        self._publish(self.engine)
        self._ready.set()
        engine = self.engine
        last = self.wall_clock()
        while not self._stop.is_set():
            # As fast as possible means not waiting for commands between bursts.
            busy = engine.playing and engine.speed == 0
            commands = self._drain(0.0 if busy else LOOP_S)
            for i, (name, command) in enumerate(commands):
                # Only the last of consecutive seeks matters (a timeline drag
                # queues one per pixel): skip the rebuilds in between.
                if (
                    name == "seek"
                    and i + 1 < len(commands)
                    and commands[i + 1][0] == "seek"
                ):
                    continue
                self._apply(engine, name, command)
            now = self.wall_clock()
            # Checkpoints are captured as playback passes them (not all up
            # front: preparing runs the store ahead of the cursor on screen).
            if engine.playing:
                before = engine.cursor
                engine.advance(now - last)
                if self.log is not None and engine.cursor < before:
                    # A loop wrapped: the trainee sees that stretch again.
                    wrapped = engine.loop[1] if engine.loop is not None else before
                    self._apply(engine, "log loop", self._loop_logger(wrapped))
            last = now
            self._poll_sidecar(engine)
            self._apply(engine, "log position", self._log_position)
            self._publish(engine)

    def _drain(self, timeout: float) -> list[tuple[str, ReplayCommand]]:
        """Take every queued command (waiting up to ``timeout`` for the first)."""
        out = []
        try:
            if timeout > 0:
                out.append(self._commands.get(timeout=timeout))
            while True:
                out.append(self._commands.get_nowait())
        except queue.Empty:
            pass
        return out

    def _apply(self, engine: ReplayEngine, name: str, command: ReplayCommand) -> None:
        # A bad command (a loop out of range, an unwritable sidecar) is
        # reported to the GUI; it must never end the replay thread.
        try:
            command(engine)
        except (BookmarkError, ValueError, OSError) as exc:
            self._say(str(exc))
        except Exception as exc:  # a bug: say so, keep the replay thread alive
            log.exception("replay command %s failed", name)
            self._say(f"{name} failed: {type(exc).__name__}: {exc}")

    def _log_control(self, engine: ReplayEngine, name: str, before: float) -> None:
        """Put a trainee's speed change, seek or step in the training log.

        The debrief shows them beside the response times: a response "on
        time" at 10x, or after skipping past the onset, is not the same.
        """
        log = self.log
        if log is None:
            return
        if name == "set_speed":
            log.put_control(before, "speed", engine.speed)
        elif name in ("seek", "step"):
            log.put_control(before, name, engine.cursor)
        else:
            # Play at the end starts over, a loop set elsewhere jumps into
            # it: the debrief must see every jump of the replay clock.
            if engine.cursor != before:
                log.put_control(before, "seek", engine.cursor)
            if name in ("play", "pause"):
                log.put_control(engine.cursor, name, None)

    def _loop_logger(self, wrapped: float) -> ReplayCommand:
        """Log a loop's wrap from ``wrapped`` back to its start as a seek."""

        def put(engine: ReplayEngine) -> None:
            if self.log is not None:
                self.log.put_control(wrapped, "seek", engine.cursor)

        return put

    def _log_position(self, engine: ReplayEngine) -> None:
        """Keep the training log's ``replay_end`` near the cursor (every few s)."""
        log = self.log
        now = time.monotonic()
        if log is None or now < self._next_position:
            return
        self._next_position = now + POSITION_LOG_S
        if engine.cursor != self._logged_position or log.waiting:
            self._logged_position = engine.cursor
            log.put_position(engine.cursor)  # also writes what waits
        # Say when the log starts and stops waiting for its file.
        error = log.write_error
        if error != self._log_waiting:
            self._log_waiting = error
            self._say(
                f"training log busy ({error}): {log.waiting} record(s) kept, "
                "written when the file is free"
                if error
                else "training log written again: nothing lost"
            )

    def _reload_marks(self, engine: ReplayEngine) -> None:
        self._sidecar_seen = self.bookmarks.version()
        try:
            # A trainee never sees the training lead's trainer-only notes.
            marks = engine.timeline_marks(trainee=self.training)
        except BookmarkError as exc:
            marks = engine.timeline_marks(sidecar=False)
            self._say(str(exc))
        self.marks = marks
        self.marks_version += 1

    def _poll_sidecar(self, engine: ReplayEngine) -> None:
        now = time.monotonic()
        if now < self._next_poll:
            return
        self._next_poll = now + SIDECAR_POLL_S
        if self.bookmarks.version() != self._sidecar_seen:
            self._reload_marks(engine)

    def _say(self, text: str) -> None:
        self.message = text
        self.message_seq += 1

    def _publish(self, engine: ReplayEngine) -> None:
        self.cursor = engine.cursor
        self.playing = engine.playing
        self.speed = engine.speed
        self.generation = engine.generation
        self.loop = engine.loop
