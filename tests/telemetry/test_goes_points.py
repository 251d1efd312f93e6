"""NOAA's "3 consecutive 5-minute points" counts GOES points, not relay repeats.

The feed relays GOES's latest 5-minute value every 5 s, stamped anew: one
noisy point at 12 pfu sent 60 times must not declare a solar particle event
(adversary finding S1), and the decision must not depend on the relay cadence.
"""

from __future__ import annotations

import numpy as np
import pytest

from telemetry.core.dictionary import TelemetryDictionary
from telemetry.live.session import build_derivers
from telemetry.radiation.estimator import DoseEstimator
from telemetry.radiation.estimator.model import DoseEventKind
from telemetry.radiation.spaceweather import GOES_POINT_S, SpeDetector

T0 = 1_757_000_000.0 // 300 * 300


def relayed(points: list[float], every_s: float | None) -> tuple[np.ndarray, ...]:
    """5-minute p10 points, each re-sent every ``every_s`` (None: once)."""
    times: list[float] = []
    p10: list[float] = []
    for i, value in enumerate(points):
        copies = 1 if every_s is None else round(GOES_POINT_S / every_s)
        for k in range(copies):
            times.append(T0 + i * GOES_POINT_S + k * (every_s or 0.0))
            p10.append(value)
    t = np.array(times)
    return t, np.array(p10), np.full(t.shape[0], 0.1)


def onsets(points: list[float], every_s: float | None) -> list[float]:
    detector = SpeDetector()
    detector.update(*relayed(points, every_s))
    return [e.onset for e in detector.events] + (
        [detector.state().event.onset]  # type: ignore[union-attr]
        if detector.active
        else []
    )


@pytest.mark.parametrize("every_s", [None, 5.0, 60.0])
def test_one_high_point_is_no_event_whatever_the_relay_cadence(
    every_s: float | None,
) -> None:
    assert onsets([5.0] * 6 + [12.0] + [5.0] * 6, every_s) == []


@pytest.mark.parametrize("every_s", [None, 5.0, 60.0])
def test_three_high_points_are_an_event_dated_from_the_first(
    every_s: float | None,
) -> None:
    assert onsets([5.0] * 3 + [12.0, 15.0, 20.0] + [30.0], every_s) == [
        T0 + 3 * GOES_POINT_S
    ]


def test_repeats_are_counted_and_an_unchanged_next_point_still_counts() -> None:
    detector = SpeDetector()
    detector.update(*relayed([12.0, 12.0, 12.0], 5.0))
    assert detector.repeats == 3 * 59  # every copy but the first of each point
    assert detector.active  # the same value 5 min on is GOES's next point


def test_changing_values_at_any_cadence_are_points() -> None:
    # An accelerated simulator sends a new (interpolated) value every sample.
    t = T0 + np.arange(4) * 5.0
    detector = SpeDetector()
    detector.update(t, np.array([5.0, 12.0, 13.0, 14.0]), np.full(4, 0.1))
    assert detector.active
    assert detector.repeats == 0


def test_the_estimator_raises_no_spe_from_one_relayed_point() -> None:
    (estimator,) = build_derivers(TelemetryDictionary.load())
    assert isinstance(estimator, DoseEstimator)
    t, p10, p100 = relayed([5.0] * 6 + [12.0] + [5.0] * 6, 5.0)
    for i in range(t.shape[0]):  # one relay message per 5 s
        estimator.update("goes.p10", t[i : i + 1], p10[i : i + 1])
        estimator.update("goes.p100", t[i : i + 1], p100[i : i + 1])
    kinds = {e.kind for e in estimator.drain_events()}
    assert DoseEventKind.SPE_ONSET not in kinds


def test_a_row_with_one_channel_missing_repeats_the_point_too() -> None:
    detector = SpeDetector()
    t = T0 + np.arange(6) * 5.0
    p10 = np.full(6, 12.0)
    p100 = np.array([0.1, np.nan, 0.1, np.nan, 0.1, np.nan])
    detector.update(t, p10, p100)
    assert detector.repeats == 5
    assert not detector.active
