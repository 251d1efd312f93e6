"""S-scale (TC6), SPE detection on the GOES-13 2017-09 fixture (TC7), SAA flag (TC8)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace

import numpy as np
import pytest

from telemetry.core.dictionary import REPO_ROOT
from telemetry.radiation.goes import load_goes_csv
from telemetry.radiation.roster import SpeConfig
from telemetry.radiation.spaceweather import (
    MINXSS_SAA,
    SaaPolygon,
    SpeDetector,
    SpeTransitionKind,
    detect_spe,
    in_saa,
    s_label,
    s_scale,
)

FIXTURE = (
    REPO_ROOT / "resources" / "spacewx" / "goes13_integral_protons_2017-09-10_to_16.csv"
)
FIXTURE_SHA256 = "21eaa690c5060d789871ad8bee6667534a43d4bdfbb26406dee1667096946e27"


def utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


@pytest.fixture(scope="module")
def goes() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return load_goes_csv(FIXTURE)


# ---------------------------------------------------------------- TC6


@pytest.mark.parametrize(
    ("flux", "label"),
    [
        (9.99, "none"),
        (10.0, "S1"),
        (99.9, "S1"),
        (100.0, "S2"),
        (1493.5, "S3"),
        (1e4, "S4"),
        (1e5, "S5"),
        (3e5, "S5"),
    ],
)
def test_tc6_s_scale(flux: float, label: str) -> None:
    assert s_label(s_scale(flux)) == label


def test_tc6_vectorised_and_invalid_flux() -> None:
    levels = s_scale(np.array([0.0, 9.99, 10.0, 1e5]))
    assert levels.tolist() == [0, 0, 1, 5]
    for bad in (-99999.0, float("nan")):
        with pytest.raises(ValueError, match=">= 0"):
            s_scale(bad)


# ---------------------------------------------------------------- TC7


def test_tc7_fixture_is_the_documented_file() -> None:
    data = FIXTURE.read_bytes()
    assert len(data) == 60407
    assert hashlib.sha256(data).hexdigest() == FIXTURE_SHA256


def test_tc7_spe_on_fixture(goes: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    times, p10, p100 = goes
    assert times.shape[0] == 1729
    (event,) = detect_spe(times, p10, p100)
    assert event.onset == utc("2017-09-10T16:45")
    assert event.energetic_onset == utc("2017-09-10T16:25")
    assert event.peak_p10 == pytest.approx(1493.5)
    assert event.peak_p10_time == utc("2017-09-11T11:45")
    assert s_label(event.s_level) == "S3"
    assert event.peak_p100 == pytest.approx(68.128)
    assert event.peak_p100_time == utc("2017-09-10T22:15")
    assert event.end == utc("2017-09-14T18:50")
    assert event.fluence_p10 == pytest.approx(1.8858e9, rel=1e-4)
    assert event.fluence_p100 == pytest.approx(4.9854e7, rel=1e-4)


def test_tc7_end_at_the_threshold_itself(
    goes: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    (event,) = detect_spe(*goes, config=replace(SpeConfig(), end_pfu=10.0))
    assert event.onset == utc("2017-09-10T16:45")
    assert event.end == utc("2017-09-14T17:25")


def test_tc7_incremental_equals_batch_for_any_chunking(
    goes: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    times, p10, p100 = goes
    (expected,) = detect_spe(times, p10, p100)
    rng = np.random.default_rng(7)
    cuts = np.sort(rng.choice(np.arange(1, times.shape[0]), size=60, replace=False))
    detector = SpeDetector()
    levels: list[np.ndarray] = []
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, times.shape[0]], strict=True):
        level, _ = detector.update(times[lo:hi], p10[lo:hi], p100[lo:hi])
        levels.append(level)
    assert detector.events == [expected]
    assert np.concatenate(levels).tolist() == s_scale(p10).astype(float).tolist()


def test_tc7_transitions_and_active_flag(
    goes: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    times, p10, p100 = goes
    detector = SpeDetector()
    _, active = detector.update(times, p10, p100)
    kinds = [(tr.kind, tr.time) for tr in detector.drain_transitions()]
    assert (SpeTransitionKind.ENERGETIC, utc("2017-09-10T16:25")) in kinds
    assert (SpeTransitionKind.ONSET, utc("2017-09-10T16:45")) in kinds
    assert (SpeTransitionKind.END, utc("2017-09-14T18:50")) in kinds
    assert detector.drain_transitions() == []
    # Active from the sample confirming the onset (the third) until the one
    # confirming the end (the third below 8.5 pfu, 19:00) clears it.
    on = times[active == 1.0]
    assert on[0] == utc("2017-09-10T16:55")
    assert on[-1] == utc("2017-09-14T18:55")
    assert not detector.active


def test_tc7_state_during_the_event(
    goes: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    times, p10, p100 = goes
    detector = SpeDetector()
    stop = int(np.searchsorted(times, utc("2017-09-11T12:00"))) + 1
    detector.update(times[:stop], p10[:stop], p100[:stop])
    state = detector.state()
    assert state.active
    assert state.s_level == 3
    assert state.event is not None
    assert state.event.end is None
    assert state.event.peak_p10 == pytest.approx(1493.5)
    assert state.event.fluence_p10 > 0


def test_tc7_missing_samples_do_not_break_runs() -> None:
    t = np.arange(6) * 300.0
    p10 = np.array([5.0, 12.0, np.nan, 15.0, 20.0, 30.0])
    p100 = np.full(6, np.nan)
    (event,) = detect_spe(t, p10, p100)
    assert event.onset == 300.0
    assert event.end is None
    # Out-of-order samples are ignored, not processed twice.
    detector = SpeDetector()
    detector.update(t, p10, p100)
    detector.update(t[:2], p10[:2], p100[:2])
    assert detector.ignored == 2


# ---------------------------------------------------------------- TC8

INSIDE = [
    (-25, -45),
    (-45, -30),
    (-51.6, -45),
    (-30, 20),
    (0, -50),
    (3, -45),
    (-40, 0),
    (-5, -90),
]
OUTSIDE = [(10, -45), (-25, 60), (-25, -120), (30, -45), (-55, 30), (51.6, 0)]

#: Fermi GBM "Period 1" SAA polygon (USRA-STI/gdt-fermi, docs/missions/fermi/gbm/
#: saa.rst): clipped at -30° latitude, so it misses ISS passes further south.
FERMI_GBM_P1 = SaaPolygon(
    "Fermi GBM period 1",
    (
        -30.0,
        -19.867,
        -9.733,
        0.4,
        2.0,
        2.0,
        -1.0,
        -6.155,
        -8.88,
        -14.22,
        -18.404,
        -30.0,
        -30.0,
    ),
    (
        33.9,
        12.398,
        -9.103,
        -30.605,
        -38.4,
        -45.0,
        -65.0,
        -84.0,
        -89.2,
        -94.3,
        -94.3,
        -86.1,
        33.9,
    ),
    "USRA-STI/gdt-fermi docs/missions/fermi/gbm/saa.rst",
)


@pytest.mark.parametrize(("lat", "lon"), INSIDE)
def test_tc8_inside_minxss_polygon(lat: float, lon: float) -> None:
    assert in_saa(lat, lon) is True


@pytest.mark.parametrize(("lat", "lon"), OUTSIDE)
def test_tc8_outside_minxss_polygon(lat: float, lon: float) -> None:
    assert in_saa(lat, lon) is False


def test_tc8_vectorised_and_longitude_wrapped() -> None:
    lat = np.array([p[0] for p in INSIDE + OUTSIDE], dtype=float)
    lon = np.array([p[1] for p in INSIDE + OUTSIDE], dtype=float)
    flags = in_saa(lat, lon)
    assert flags.tolist() == [True] * len(INSIDE) + [False] * len(OUTSIDE)
    assert in_saa(lat, lon + 360.0).tolist() == flags.tolist()
    assert MINXSS_SAA.lat[0] == 2.23


def test_tc8_fermi_polygon_regression_misses_southern_iss_passes() -> None:
    # Why the ISS must not use the Fermi polygon: it loses passes south of -30°.
    assert in_saa(-45.0, -30.0, FERMI_GBM_P1) is False
    assert in_saa(-51.6, -45.0, FERMI_GBM_P1) is False
    assert in_saa(-25.0, -45.0, FERMI_GBM_P1) is True
