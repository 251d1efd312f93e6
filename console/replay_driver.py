"""Replay as a source for the console: the ``replay`` thread that drives a ReplayEngine.

The displays read the same ChannelStore and AlarmBook types as live; only the
clock differs (the replay cursor). Controls from the GUI are queued to the
thread that owns the pipeline, so nothing touches its state concurrently.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from telemetry.alarms import AlarmBook
from telemetry.channels import ChannelStore
from telemetry.faults import load_injector
from telemetry.pipeline import Pipeline
from telemetry.replay import ReplayEngine, SessionReader, TimelineMark, replay_derivers
from telemetry.training import TrainingLog

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from telemetry.dictionary import TelemetryDictionary

LOOP_S = 0.02


class ReplayDriver:
    """Owns the ``replay`` thread, its Pipeline and ReplayEngine.

    The GUI thread calls the command methods (``play``, ``seek``...), which
    only enqueue; it reads ``cursor``, ``playing``, ``speed``, ``generation``,
    ``start``/``end`` and ``marks`` (plain attributes). In training mode the
    operator's actions go to a separate TrainingLog, never to the recording.
    """

    def __init__(
        self,
        dictionary: TelemetryDictionary,
        session_path: Path,
        *,
        training_log: Path | None = None,
        operator: str = "",
        faults: Path | None = None,
        capacity: int = 100_000,
    ) -> None:
        self.dictionary = dictionary
        self.session_path = session_path
        self.store = ChannelStore(capacity)
        self.log: TrainingLog | None = None
        self._reader = SessionReader(session_path)
        self.start_time = self._reader.start
        self.end_time = self._reader.end
        if training_log is not None:
            self.log = TrainingLog(
                training_log,
                trainee=operator,
                scenario=session_path.stem,
                replayed=session_path,
                replay_start=self.start_time,
            )
        self.alarms = AlarmBook(
            on_action=self.log.put_action if self.log is not None else None,
            operator=operator,
        )
        self._faults = faults
        self._derivers = replay_derivers(dictionary)
        self.pipeline = Pipeline(
            dictionary,
            self.store,
            self.alarms,
            archive=self.log,
            derivers=self._derivers,
        )
        self.engine: ReplayEngine | None = None
        self.cursor = self.start_time
        self.playing = False
        self.speed = 1.0
        self.generation = 0
        self.loop: tuple[float, float] | None = None
        self.marks: list[TimelineMark] = []
        self.error = ""
        self._commands: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def dose(self) -> Any:
        """The replay's dose estimator (read through its snapshot lock)."""
        return next((d for d in self._derivers if hasattr(d, "snapshot")), None)

    def clock(self) -> float:
        return self.cursor

    # --- commands (GUI thread) ------------------------------------------------

    def _post(self, name: str, *args: Any) -> None:
        self._commands.put((name, args))

    def play(self) -> None:
        self._post("play")

    def pause(self) -> None:
        self._post("pause")

    def step(self, seconds: float | None = None, frames: int | None = None) -> None:
        self._post("step", seconds, frames)

    def seek(self, t: float) -> None:
        self._post("seek", t)

    def set_speed(self, speed: float) -> None:
        self._post("set_speed", speed)

    def set_loop(self, t0: float | None, t1: float | None = None) -> None:
        self._post("set_loop", t0, t1)

    def call(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the replay thread (e.g. to read engine state safely)."""
        self._post("call", fn)

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
            self.log.close()

    def _run(self) -> None:
        try:
            injector = (
                load_injector(self._faults, self.start_time, self.dictionary)
                if self._faults is not None
                else None
            )
            self.engine = ReplayEngine(self._reader, self.pipeline, faults=injector)
            self.marks = self.engine.timeline_marks()
        except Exception as exc:
            self.error = f"cannot open replay {self.session_path}: {exc}"
            self._ready.set()
            return
        self._ready.set()
        engine = self.engine
        last = time.monotonic()
        while not self._stop.is_set():
            try:
                name, args = self._commands.get(timeout=LOOP_S)
                self._apply(engine, name, args)
                while True:  # apply everything queued before moving the clock
                    name, args = self._commands.get_nowait()
                    self._apply(engine, name, args)
            except queue.Empty:
                pass
            now = time.monotonic()
            # Checkpoints are captured as playback passes them (not all up
            # front: preparing runs the store ahead of the cursor on screen).
            if engine.playing:
                engine.advance(now - last)
            last = now
            self._publish(engine)

    def _apply(self, engine: ReplayEngine, name: str, args: tuple[Any, ...]) -> None:
        if name == "call":
            args[0]()
        else:
            getattr(engine, name)(*args)

    def _publish(self, engine: ReplayEngine) -> None:
        self.cursor = engine.cursor
        self.playing = engine.playing
        self.speed = engine.speed
        self.generation = engine.generation
        self.loop = engine.loop
