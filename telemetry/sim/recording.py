"""Record simulated telemetry straight into an archive, in process.

Used to make ``replay_data/`` sessions, and by tests and the replay benchmark;
runs on the caller's thread.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from telemetry.archive.writer import ArchiveWriter
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import DEFAULT_CAPACITY, ChannelStore
from telemetry.core.pipeline import DEFAULT_TICK_S, Pipeline
from telemetry.faults.injection import FaultInjector, FaultPlan
from telemetry.live.dose_bins import DoseBinWriter
from telemetry.live.session import build_derivers
from telemetry.radiation.estimator import DoseEstimator
from telemetry.sim.simulator import Simulator

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from telemetry.core.deriver import Deriver
    from telemetry.core.dictionary import TelemetryDictionary


def record_simulated_session(
    path: str | Path,
    dictionary: TelemetryDictionary,
    seconds: float,
    *,
    seed: int = 1,
    scenario: str = "nominal",
    start_time: float = 1.75e9,
    derivers: Sequence[Deriver] | None = None,
    faults: FaultPlan | None = None,
    tick_every: float = DEFAULT_TICK_S,
    operator: str = "simulator",
    capacity: int = DEFAULT_CAPACITY,
    batch_s: float | None = None,
    before_frame: Callable[[Pipeline, float], object] | None = None,
) -> Pipeline:
    """Record ``seconds`` of simulated telemetry into a new archive, in process.

    Frames go through a real Pipeline and ArchiveWriter in the replay's
    order, with ``received`` = their last sample time (``frame_time``) and
    the watchdog ticked on the replay's grid, so a replay of the file meets
    the same conditions. ``batch_s`` is the simulator's seconds per message.
    Returns the pipeline (its store, alarms and derivers hold the live
    session's final state).
    ``before_frame(pipeline, t)`` runs before each frame at sample time ``t``
    (tests use it to act as an operator or send a bad message).
    """
    writer = ArchiveWriter(
        path,
        dictionary_sha256=dictionary.sha256,
        dictionary_version=dictionary.version,
        kind="recorded",
        operator=operator,
        queue_bytes=1 << 40,  # in process: never drop, the caller waits
    )
    alarms = AlarmBook(on_action=writer.put_action, operator=operator)
    pipeline = Pipeline(
        dictionary,
        ChannelStore(capacity),
        alarms,
        writer,
        build_derivers(dictionary) if derivers is None else derivers,
    )
    sim = Simulator(dictionary, seed, scenario, start_time=start_time, batch_s=batch_s)
    injector = FaultInjector(faults, start_time) if faults is not None else None
    writer.start()
    try:
        tick_k = 0
        last = -math.inf
        end = start_time + seconds
        while sim.now < end:
            # The replay's order: last sample time, then the archive's (first
            # sample time, then arrival).
            step = sorted(
                sim.step(), key=lambda f: (float(f.times.max()), float(f.times.min()))
            )
            for frame in step:
                t = float(frame.times.max())
                if t >= end:
                    continue
                while start_time + tick_k * tick_every < t:
                    pipeline.tick(start_time + tick_k * tick_every)
                    tick_k += 1
                if before_frame is not None:
                    before_frame(pipeline, t)
                encoded = frame.encode()
                parts = injector.apply(encoded) if injector is not None else encoded
                if parts is not None:
                    pipeline.ingest(parts, t)
                last = t
        # A replay runs the ticks up to its end (the last sample) too.
        while start_time + tick_k * tick_every <= last:
            pipeline.tick(start_time + tick_k * tick_every)
            tick_k += 1
        # The recorder's hourly crew dose, as a live session writes it.
        for deriver in pipeline.derivers:
            if isinstance(deriver, DoseEstimator):
                DoseBinWriter(deriver, writer, pipeline.store).flush(last, final=True)
    finally:
        if not writer.stop(timeout=120.0):
            raise RuntimeError(f"recording {path} failed: {writer.last_error}")
    return pipeline
