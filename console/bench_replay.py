"""``kibo-console bench replay``: an hour replayed as fast as possible, then seeks.

Runs on the main thread of the bench command.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from telemetry.core.channels import ChannelStore
from telemetry.replay.engine import DEFAULT_CHECKPOINT_S, ReplayEngine, replay_derivers
from telemetry.replay.session_reader import SessionReader
from telemetry.sim.recording import record_simulated_session


def bench_replay(
    session_path: str | Path | None = None,
    *,
    hours: float = 1.0,
    seeks: int = 20,
    checkpoint_every: float = DEFAULT_CHECKPOINT_S,
) -> dict[str, float]:
    """Replay a session as fast as possible through the full pipeline, then seek.

    Without ``session_path`` a nominal session of ``hours`` is simulated and
    recorded first (not timed).

    Returns
    -------
    dict
        ``session_s`` (sample seconds), ``frames``, ``replay_s`` and
        ``replay_x`` (one straight as-fast-as-possible pass, checkpoints
        captured on the way, as a multiple of real time), ``checkpoints``,
        ``seek_median_ms`` and ``seek_max_ms`` over ``seeks`` random seeks,
        and ``seek_worst_ms``: seeks just before the next checkpoint, the
        longest catch-up.
    """
    from telemetry.core.alarms import AlarmBook
    from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
    from telemetry.core.pipeline import CLOCK_SLACK_S, Pipeline

    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(session_path) if session_path else Path(tmp) / "nominal.sqlite"
        if session_path is None:
            record_simulated_session(path, dictionary, hours * 3600.0)
        with SessionReader(path) as reader:
            pipeline = Pipeline(
                dictionary,
                ChannelStore(),
                AlarmBook(),
                None,
                replay_derivers(dictionary),
                clock_slack_s=CLOCK_SLACK_S,  # as the GUI's replay judges "now"
            )
            began = time.perf_counter()
            engine = ReplayEngine(reader, pipeline, checkpoint_every=checkpoint_every)
            engine.set_speed(0)
            engine.play()
            frames = 0
            while engine.playing:
                frames += engine.advance(0.0)
            replay_s = time.perf_counter() - began
            span = engine.end - engine.start
            rng = np.random.default_rng(7)
            timings = []
            for t in rng.uniform(engine.start, engine.end, seeks).tolist():
                a = time.perf_counter()
                engine.seek(t)
                timings.append((time.perf_counter() - a) * 1e3)
            worst = []
            for k in (1, 3, max(1, int(span // checkpoint_every) - 1)):
                target = engine.start + k * checkpoint_every - 0.5
                engine.seek(engine.end)
                a = time.perf_counter()
                engine.seek(target)
                worst.append((time.perf_counter() - a) * 1e3)
            return {
                "session_s": span,
                "frames": float(frames),
                "replay_s": replay_s,
                "replay_x": span / replay_s,
                "checkpoints": float(engine.checkpoints),
                "seek_median_ms": statistics.median(timings),
                "seek_max_ms": max(timings),
                "seek_worst_ms": max(worst),
            }
