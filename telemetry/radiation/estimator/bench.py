"""Benchmark of the dose estimator's update cost (``kibo-console bench dose``).

Runs on the calling thread with synthetic 1 Hz inputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from telemetry.core.dictionary import TelemetryDictionary
from telemetry.radiation.estimator.engine import DoseEstimator
from telemetry.radiation.estimator.setup import RAD_CHANNEL
from telemetry.radiation.physics import SECONDS_PER_HOUR
from telemetry.radiation.roster import DoseLimits, Roster

if TYPE_CHECKING:
    from telemetry.radiation.estimator.model import FloatArray


@dataclass(frozen=True, slots=True)
class DoseBenchResult:
    """Cost of ``DoseEstimator.update`` per crew member per input sample."""

    crew: int
    samples: int
    calls: int
    seconds: float
    us_per_crew_sample: float
    us_per_call: float


def bench_dose_update(
    dictionary: TelemetryDictionary | None = None,
    roster: Roster | None = None,
    limits: DoseLimits | None = None,
    *,
    hours: float = 2.0,
    rows_per_batch: int = 1,
    seed: int = 0,
) -> DoseBenchResult:
    """Time the estimator on synthetic 1 Hz data for every dose input.

    Every crew module channel and every ``rad`` source publishes at 1 Hz for
    ``hours`` of sample time, in batches of ``rows_per_batch`` rows (1 is
    live-like, 600 is fast-replay-like); crew move module every 10 minutes.

    Returns
    -------
    DoseBenchResult
        ``us_per_crew_sample`` is wall time / (crew × input samples).
    """
    dictionary = dictionary or TelemetryDictionary.load()
    limits = limits or DoseLimits.load()
    roster = roster or Roster.load(limits=limits)
    estimator = DoseEstimator(dictionary, roster, limits)
    rng = np.random.default_rng(seed)
    spec = dictionary.channel("crew", "module")
    codes = sorted(spec.states.values()) if spec else [0]
    t0 = 1.75e9
    n = int(hours * SECONDS_PER_HOUR)
    times = t0 + np.arange(n, dtype=np.float64)
    inputs: list[tuple[str, FloatArray]] = []
    for source in dictionary.sources_of("rad"):
        inputs.append(
            (f"{source.id}.{RAD_CHANNEL}", 25.75 * rng.lognormal(0.0, 0.2, n))
        )
    for member in roster.crew:
        moves = rng.choice(codes, size=n // 600 + 1)
        inputs.append(
            (f"{member.id}.module", np.repeat(moves, 600)[:n].astype(np.float64))
        )
    calls = 0
    start = time.perf_counter()
    for lo in range(0, n, rows_per_batch):
        hi = min(n, lo + rows_per_batch)
        for key, values in inputs:
            estimator.update(key, times[lo:hi], values[lo:hi])
            calls += 1
    elapsed = time.perf_counter() - start
    samples = n * len(inputs)
    crew = len(roster.crew)
    return DoseBenchResult(
        crew,
        samples,
        calls,
        elapsed,
        elapsed / (crew * samples) * 1e6,
        elapsed / calls * 1e6,
    )
