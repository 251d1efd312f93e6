"""A dosimeter dropout during an SPE: the fallback errs high, also on the rise.

docs/dosimetry.md §4 promises that fallbacks err high; holding the last rate
measured before a dropout on the climb to an event's peak erred low (c2
-13 % over the dropout, adversary finding D2).
"""

from __future__ import annotations

from telemetry.core.dictionary import TelemetryDictionary
from telemetry.live.session import LiveSession, SessionConfig, build_derivers
from telemetry.radiation.estimator import DoseEstimator
from telemetry.sim.simulator import Simulator


def _spe_dose(drop: tuple[float, float] | None, until_min: float) -> dict[str, float]:
    """Session dose at ``until_min`` of spe-2017-09 (60x), ``rad`` lost in ``drop``."""
    dictionary = TelemetryDictionary.load()
    derivers = build_derivers(dictionary)
    estimator = derivers[0]
    assert isinstance(estimator, DoseEstimator)
    start = 1_796_600_000.0
    now = start
    session = LiveSession(
        dictionary, SessionConfig([], None), derivers, clock=lambda: now
    )
    sim = Simulator(
        dictionary,
        seed=2,
        scenario="spe-2017-09",
        start_time=start,
        rate_scale=60.0,
        batch_s=30,
    )
    for frame in sim.frames_until(start + until_min * 60):
        t = float(frame.times[-1])
        now = t + 0.1
        if drop and frame.family == "rad" and drop[0] * 60 <= t - start < drop[1] * 60:
            continue  # the rad downlink lost, never resent
        session.pipeline.ingest(frame.encode(), now)
        session._tick(now)
    return {c.crew_id: c.session_msv for c in estimator.snapshot().crew}


def test_a_dosimeter_dropout_on_the_rise_of_an_spe_errs_high() -> None:
    """docs/dosimetry.md §4: fallbacks err high, also while the event grows."""
    full = _spe_dose(None, 110)
    dropped = _spe_dose((70, 110), 110)
    for crew, dose in full.items():
        assert dropped[crew] >= dose, crew
