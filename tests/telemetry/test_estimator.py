"""DoseEstimator: totals by sample time, location weighting, fallbacks, SPE, alerts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from telemetry.core.decoding import ChannelBatch
from telemetry.core.dictionary import REPO_ROOT, TelemetryDictionary
from telemetry.core.severity import Severity
from telemetry.radiation.estimator import (
    CREW_CHANNELS,
    DoseEstimator,
    DoseEvent,
    DoseEventKind,
    EstimateSource,
    bench_dose_update,
)
from telemetry.radiation.goes import load_goes_csv
from telemetry.radiation.roster import (
    DEFAULT_LIMITS,
    DoseLimits,
    EstimatorConfig,
    Roster,
)
from telemetry.radiation.spaceweather import in_saa

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

DAY = 86400.0
HOUR = 3600.0
T0 = 1_749_600_000.0  # 2025-06-11T00:00Z: on every output grid used here
JPM, ELM, NODE2, USLAB, SM = 0, 1, 2, 3, 7

# A self-contained dictionary with the console's names, so these tests do not
# move when the shipped dictionary's shielding factors are re-tuned.
DICTIONARY = """
[dictionary]
version = "dose-test"

[modules.JPM]
name = "Kibo PM"
shielding_factor = 1.0
[modules.ELM]
name = "ELM-PS"
shielding_factor = 1.0
[modules.NODE2]
name = "Node 2"
shielding_factor = 0.8
[modules.USLAB]
name = "US Lab"
shielding_factor = 0.9
[modules.SM]
name = "Zvezda"
shielding_factor = 0.4
shelter = true

[families.rad]
stale_after_s = @RAD_STALE@
[families.rad.channels.dose_eq_rate]
unit = "µSv/h"
rate_hz = 0.1
[families.rad.channels.absorbed_rate]
unit = "µGy/h"
rate_hz = 0.1

[families.crew]
stale_after_s = @CREW_STALE@
[families.crew.channels.module]
states = { JPM = 0, ELM = 1, NODE2 = 2, USLAB = 3, SM = 7, EVA = 9 }
@CREW_DERIVED@

[families.orbit]
stale_after_s = 5.0
[families.orbit.channels.lat]
unit = "deg"
[families.orbit.channels.lon]
unit = "deg"
[families.orbit.channels.saa]
derived = true

[families.spacewx]
stale_after_s = 900.0
[families.spacewx.channels.p10]
unit = "pfu"
[families.spacewx.channels.p100]
unit = "pfu"
[families.spacewx.channels.s_scale]
derived = true
[families.spacewx.channels.spe_active]
derived = true

[sources.padles-jpm-1]
family = "rad"
module = "JPM"
[sources.rem-node2]
family = "rad"
module = "NODE2"
[sources.tepc-uslab]
family = "rad"
module = "USLAB"
[sources.rem-sm]
family = "rad"
module = "SM"
[sources.pd-c2]
family = "rad"
crew = "c2"
[sources.c1]
family = "crew"
[sources.c2]
family = "crew"
[sources.c3]
family = "crew"
[sources.c4]
family = "crew"
[sources.iss]
family = "orbit"
[sources.goes]
family = "spacewx"
"""

ROSTER = """
[roster]
version = "dose-test"

[[crew]]
id = "c1"
name = "Young JAXA"
agency = "JAXA"
sex = "F"
age_at_first_flight = 28
prior_career_msv = 0.0
mission_start = 2025-06-01
mission_end = 2025-12-01

[[crew]]
id = "c2"
name = "Veteran NASA"
agency = "NASA"
sex = "M"
age_at_first_flight = 41
prior_career_msv = 540.0
mission_start = 2025-06-01

[[crew]]
id = "c3"
name = "ESA"
agency = "ESA"
sex = "M"
age_at_first_flight = 38
prior_career_msv = 95.0
mission_start = 2025-06-01

[[crew]]
id = "c4"
name = "Mid JAXA"
agency = "JAXA"
sex = "M"
age_at_first_flight = 37
prior_career_msv = 210.0
mission_start = 2025-06-01
"""

Stream = tuple[np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def limits() -> DoseLimits:
    return DoseLimits.load(DEFAULT_LIMITS)


def make(
    tmp_path: Path,
    limits: DoseLimits,
    *,
    rad_stale: float = 30.0,
    crew_stale: float = 30.0,
    **config: Any,
) -> DoseEstimator:
    derived = "\n".join(
        f"[families.crew.channels.{name}]\nderived = true" for name in CREW_CHANNELS
    )
    text = (
        DICTIONARY.replace("@RAD_STALE@", str(rad_stale))
        .replace("@CREW_STALE@", str(crew_stale))
        .replace("@CREW_DERIVED@", derived)
    )
    (tmp_path / "dictionary.toml").write_text(text, encoding="utf-8")
    (tmp_path / "roster.toml").write_text(ROSTER, encoding="utf-8")
    dictionary = TelemetryDictionary.load(tmp_path / "dictionary.toml")
    roster = Roster.load(tmp_path / "roster.toml", limits)
    roster = dataclasses.replace(
        roster, estimator=dataclasses.replace(EstimatorConfig(), **config)
    )
    return DoseEstimator(dictionary, roster, limits)


def chunks(
    streams: dict[str, Stream], span_s: float, rng: np.random.Generator | None = None
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Split each stream into batches and order them as a live feed delivers them.

    A publisher flushes a batch at most ``span_s`` after its first sample
    (``rng``: a random span up to that); the batch arrives at its last sample.
    """
    batches: list[tuple[float, int, str, np.ndarray, np.ndarray]] = []
    for order, (key, (t, v)) in enumerate(streams.items()):
        lo = 0
        while lo < t.shape[0]:
            span = float(rng.uniform(0.0, span_s)) if rng is not None else span_s
            hi = max(lo + 1, int(np.searchsorted(t, t[lo] + span, side="right")))
            batches.append((float(t[hi - 1]), order, key, t[lo:hi], v[lo:hi]))
            lo = hi
    batches.sort(key=lambda b: (b[0], b[1]))
    return [(key, t, v) for _, _, key, t, v in batches]


def feed(
    estimator: DoseEstimator, batches: Iterable[tuple[str, np.ndarray, np.ndarray]]
) -> dict[str, Stream]:
    """Feed batches; return every derived channel concatenated."""
    out: dict[str, list[Stream]] = {}
    for key, t, v in batches:
        for name, times, values in estimator.update(key, t, v):
            out.setdefault(name, []).append((times, values))
    return {
        k: (np.concatenate([t for t, _ in p]), np.concatenate([v for _, v in p]))
        for k, p in out.items()
    }


def constant(times: np.ndarray, value: float) -> Stream:
    return times, np.full(times.shape, float(value))


def usv_h(msv_per_day: float) -> float:
    return msv_per_day * 1000.0 / 24.0


# ------------------------------------------------------------- TC3


@pytest.mark.parametrize("step_s", [60.0, HOUR, DAY], ids=["1min", "1h", "1d"])
@pytest.mark.parametrize(
    ("h_per_day", "days", "h_total"),
    [(618.0, 301, 186.02), (608.0, 180, 109.44), (661.0, 232, 153.35)],
    ids=["PADLES1", "PADLES2", "PADLES3-ELM"],
)
def test_tc3_constant_rate_totals_through_the_estimator(
    tmp_path: Path,
    limits: DoseLimits,
    step_s: float,
    h_per_day: float,
    days: int,
    h_total: float,
) -> None:
    # Stale times match the cadence; a day of samples per batch needs a
    # lateness allowance of more than a day.
    est = make(
        tmp_path,
        limits,
        rad_stale=1.5 * step_s,
        crew_stale=1.5 * step_s,
        lateness_s=2 * DAY,
        output_interval_s=HOUR,
    )
    times = T0 + np.arange(0.0, days * DAY + step_s / 2, step_s)
    streams = {"padles-jpm-1.dose_eq_rate": constant(times, h_per_day / 24.0)}
    for cid in ("c1", "c2", "c3", "c4"):
        streams[f"{cid}.module"] = constant(times, JPM)
    out = feed(est, chunks(streams, DAY - step_s / 2))  # a day per batch
    snap = est.snapshot()
    assert snap.time == times[-1]
    for crew in snap.crew:
        assert crew.session_msv == pytest.approx(h_total, rel=1e-3)
        assert crew.dose_30d_msv == pytest.approx(30 * h_per_day / 1000.0, rel=1e-9)
        assert crew.dose_1y_msv == pytest.approx(crew.session_msv, rel=1e-12)
        assert crew.trailing_rate_msv_d == pytest.approx(h_per_day / 1000.0, rel=1e-9)
        assert crew.module == "JPM"
    assert snap.member("c1").source == EstimateSource.AREA
    assert not snap.member("c1").stale
    t, session = out["c1.dose_session"]
    assert t[-1] == times[-1]
    assert session[-1] == pytest.approx(h_total, rel=1e-3)
    assert bool(np.all(np.diff(session) >= 0))


# ------------------------------------------------------------- TC9


def test_tc9_location_weighting_through_module_changes(
    tmp_path: Path, limits: DoseLimits
) -> None:
    est = make(tmp_path, limits, rad_stale=90.0, crew_stale=90.0)
    times = T0 + np.arange(0.0, DAY + 1, 60.0)
    hours = (times - T0) / HOUR
    where = np.where(hours < 8, JPM, np.where(hours < 17, NODE2, USLAB))
    streams = {
        "padles-jpm-1.dose_eq_rate": constant(times, usv_h(0.618)),
        "rem-node2.dose_eq_rate": constant(times, usv_h(0.50)),
        "tepc-uslab.dose_eq_rate": constant(times, usv_h(0.55)),
        "c1.module": (times, where.astype(float)),
    }
    out = feed(est, chunks(streams, 240.0))
    c1 = est.snapshot().member("c1")
    assert c1.session_msv == pytest.approx(0.553917, rel=1e-6)
    assert c1.module == "USLAB"
    assert c1.source == EstimateSource.AREA
    t, rate = out["c1.dose_rate"]
    at = [float(rate[np.searchsorted(t, T0 + h * HOUR)]) for h in (4, 12, 20)]
    assert at == pytest.approx([usv_h(0.618), usv_h(0.50), usv_h(0.55)])


# ------------------------------------------------- sources and fallbacks


def test_personal_dosimeter_is_preferred(tmp_path: Path, limits: DoseLimits) -> None:
    est = make(tmp_path, limits)
    times = T0 + np.arange(0.0, HOUR + 1, 10.0)
    streams = {
        "padles-jpm-1.dose_eq_rate": constant(times, 25.75),
        "pd-c2.dose_eq_rate": constant(times, 100.0),
        "c1.module": constant(times, JPM),
        "c2.module": constant(times, JPM),
    }
    feed(est, chunks(streams, 30.0))
    snap = est.snapshot()
    c1, c2 = snap.member("c1"), snap.member("c2")
    assert c2.source == EstimateSource.PERSONAL
    assert not c2.stale
    assert c2.session_msv == pytest.approx(0.100, rel=1e-9)
    assert c2.rate_usv_h == 100.0
    assert c1.source == EstimateSource.AREA
    assert not c1.stale
    assert c1.session_msv == pytest.approx(0.02575, rel=1e-9)
    # Personal: sqrt(0.10² + 0.15²); area adds shielding, Si->water, timeline.
    assert c2.uncertainty_rel == pytest.approx(math.hypot(0.10, 0.15))
    assert c1.uncertainty_rel == pytest.approx(math.hypot(0.10, 0.15, 0.04, 0.042))


def test_stale_dosimeter_is_held_for_its_stale_time_then_flagged(
    tmp_path: Path, limits: DoseLimits
) -> None:
    est = make(tmp_path, limits, lateness_s=300.0)
    times = T0 + np.arange(0.0, HOUR + 1, 10.0)
    personal = times <= T0 + 1800.0
    streams = {
        "padles-jpm-1.dose_eq_rate": constant(times, 25.75),
        "pd-c2.dose_eq_rate": constant(times[personal], 100.0),
        "c2.module": constant(times, JPM),
    }
    feed(est, chunks(streams, 0.0))
    snap = est.snapshot()
    c2 = snap.member("c2")
    # The silent dosimeter is waited for stale + lateness (330 s), no more.
    assert snap.time == T0 + HOUR - 330.0
    held_until = 1800.0 + 30.0
    expected = (100.0 * held_until + 25.75 * (snap.time - T0 - held_until)) / 3.6e6
    assert c2.session_msv == pytest.approx(expected, rel=1e-12)
    assert c2.source == EstimateSource.AREA
    assert c2.stale
    assert c2.uncertainty_rel > math.hypot(0.10, 0.15)
    stale_events = [
        e
        for e in est.drain_events()
        if e.crew == "c2" and e.kind == DoseEventKind.DATA_STALE
    ]
    assert [e.time for e in stale_events] == [T0 + held_until]
    assert "pd-c2" in stale_events[0].message
    assert stale_events[0].severity == Severity.WATCH


def test_module_without_monitor_uses_scaled_rates_then_baseline(
    tmp_path: Path, limits: DoseLimits
) -> None:
    est = make(tmp_path, limits, model_rate_usv_h=20.0, lateness_s=60.0)
    times = T0 + np.arange(0.0, 900 + 1, 10.0)
    on = times <= T0 + 300.0
    streams = {
        "padles-jpm-1.dose_eq_rate": constant(times[on], 25.75),
        "tepc-uslab.dose_eq_rate": constant(times[on], 0.9 * 30.0),
        "c1.module": constant(times, ELM),
        "c3.module": constant(times, NODE2),  # its monitor never reports
        "c4.module": constant(times, 42.0),  # not a module code
    }
    out = feed(est, chunks(streams, 0.0))
    t, c1_rate = out["c1.dose_rate"]
    # ELM (factor 1.0): mean of 25.75/1.0 and 27/0.9 = 27.875, while fresh.
    assert c1_rate[t == T0 + 100.0][0] == pytest.approx((25.75 + 30.0) / 2)
    _, c3_rate = out["c3.dose_rate"]
    assert c3_rate[t == T0 + 100.0][0] == pytest.approx(0.8 * (25.75 + 30.0) / 2)
    _, c4_rate = out["c4.dose_rate"]
    assert c4_rate[t == T0 + 100.0][0] == pytest.approx(27.0)  # worst module
    snap = est.snapshot()
    assert snap.member("c1").source == EstimateSource.MODEL
    assert snap.member("c4").stale
    assert snap.member("c4").module is None
    # Monitors silent for longer than their stale time: baseline model.
    assert c1_rate[t == T0 + 340.0][0] == pytest.approx(20.0)
    assert snap.member("c1").stale


def test_late_samples_are_counted_and_ignored(
    tmp_path: Path, limits: DoseLimits
) -> None:
    est = make(tmp_path, limits)
    times = T0 + np.arange(0.0, 601, 10.0)
    streams = {
        "padles-jpm-1.dose_eq_rate": constant(times, 25.75),
        "c1.module": constant(times, JPM),
    }
    feed(est, chunks(streams, 0.0))
    before = est.snapshot().member("c1").session_msv
    est.update("padles-jpm-1.dose_eq_rate", times[:5], np.full(5, 1e6))
    snap = est.snapshot()
    assert snap.late_samples == 5
    assert snap.member("c1").session_msv == before


# ------------------------------------------------------ batching invariance


def scenario(rng: np.random.Generator) -> dict[str, Stream]:
    """Two hours with SAA spikes, crew moving, a dosimeter gap, GOES and orbit."""
    t = T0 + np.arange(0.0, 2 * HOUR + 1, 10.0)
    spike = 1.0 + 30.0 * np.exp(-(((t - T0 - 2400.0) / 300.0) ** 2))
    gap = (t < T0 + 3000.0) | (t > T0 + 3600.0)
    streams: dict[str, Stream] = {
        "padles-jpm-1.dose_eq_rate": (
            t,
            25.75 * spike * rng.lognormal(0, 0.1, t.shape),
        ),
        "rem-node2.dose_eq_rate": (t, 20.0 * spike * rng.lognormal(0, 0.1, t.shape)),
        "rem-sm.dose_eq_rate": (t, 10.0 * spike),
        "pd-c2.dose_eq_rate": (t[gap], 30.0 * spike[gap]),
    }
    for crew in ("c1", "c2", "c3", "c4"):
        moves = rng.choice([JPM, ELM, NODE2, USLAB, SM], size=t.shape[0] // 60 + 1)
        streams[f"{crew}.module"] = (
            t,
            np.repeat(moves, 60)[: t.shape[0]].astype(float),
        )
    g = T0 + np.arange(0.0, 2 * HOUR + 1, 300.0)
    streams["goes.p10"] = (g, np.geomspace(1.0, 500.0, g.shape[0]))
    streams["goes.p100"] = (g, np.geomspace(0.01, 3.0, g.shape[0]))
    o = T0 + np.arange(0.0, 2 * HOUR + 1, 5.0)
    phase = (o - T0) / 5556.0 * 2 * np.pi
    streams["iss.lat"] = (o, 51.6 * np.sin(phase))
    streams["iss.lon"] = (o, (np.degrees(phase) * 1.07 + 120.0) % 360.0 - 180.0)
    return streams


def event_key(
    events: list[DoseEvent],
) -> list[tuple[float, str, str | None, str | None]]:
    return [(e.time, e.kind.value, e.crew, e.limit_id) for e in events]


def test_same_samples_in_any_batching_give_identical_results(
    tmp_path: Path, limits: DoseLimits
) -> None:
    streams = scenario(np.random.default_rng(11))
    runs = []
    for how in ("one by one", "random up to 250 s", "fixed 200 s"):
        est = make(tmp_path, limits)
        if how == "one by one":
            batches = chunks(streams, 0.0)
        elif how == "random up to 250 s":
            batches = chunks(streams, 250.0, np.random.default_rng(5))
        else:
            batches = chunks(streams, 200.0)
        out = feed(est, batches)
        runs.append((out, est.snapshot(), sorted(event_key(est.drain_events()))))
    (ref_out, ref_snap, ref_events), *others = runs
    assert ref_snap.member("c2").session_msv > 0
    assert ref_events
    for out, snap, events in others:
        assert snap.time == ref_snap.time
        for a, b in zip(snap.crew, ref_snap.crew, strict=True):
            assert a.session_msv == pytest.approx(b.session_msv, rel=1e-12)
            assert a.uncertainty_rel == pytest.approx(b.uncertainty_rel, rel=1e-12)
            assert (a.source, a.stale, a.module) == (b.source, b.stale, b.module)
        assert sorted(out) == sorted(ref_out)
        for key, (t, v) in ref_out.items():
            np.testing.assert_array_equal(out[key][0], t, err_msg=key)
            np.testing.assert_allclose(out[key][1], v, rtol=1e-12, err_msg=key)
        assert events == ref_events
        assert snap.spe == ref_snap.spe
        assert snap.shelter.recommended == ref_snap.shelter.recommended


# ------------------------------------------------------------ SPE, SAA


def utc(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


def test_spe_from_the_fixture_without_extra_dose_needs_no_shelter(
    tmp_path: Path, limits: DoseLimits
) -> None:
    """S3 on GOES alone is no reason to shelter (NASA, March 2012): dose is."""
    est = make(tmp_path, limits, rad_stale=90.0, crew_stale=90.0)
    g_t, p10, p100 = load_goes_csv(
        REPO_ROOT
        / "resources"
        / "spacewx"
        / "goes13_integral_protons_2017-09-10_to_16.csv"
    )
    start, stop = utc("2017-09-10T12:00"), utc("2017-09-11T00:00")
    window = (g_t >= start) & (g_t <= stop)
    times = np.arange(start, stop + 1, 60.0)
    streams: dict[str, Stream] = {
        "goes.p10": (g_t[window], p10[window]),
        "goes.p100": (g_t[window], p100[window]),
        "padles-jpm-1.dose_eq_rate": constant(times, 25.75),
        "rem-sm.dose_eq_rate": constant(times, 0.4 * 25.75),
    }
    for crew in ("c1", "c2", "c3", "c4"):
        streams[f"{crew}.module"] = constant(times, JPM)
    out = feed(est, chunks(streams, 240.0))
    events = est.drain_events()
    first: dict[DoseEventKind, DoseEvent] = {}
    for e in events:
        first.setdefault(e.kind, e)
    assert DoseEventKind.SHELTER not in first
    assert first[DoseEventKind.ENERGETIC_SPE].time == utc("2017-09-10T16:25")
    assert first[DoseEventKind.SPE_ONSET].time == utc("2017-09-10T16:45")
    snap = est.snapshot()
    assert not snap.shelter.recommended
    assert snap.shelter.module == "SM"
    # Everyone was judged: quiet-time dose only, so no action for anyone.
    assert {c.crew_id for c in snap.shelter.crew} == {"c1", "c2", "c3", "c4"}
    assert all(c.event_msv < 1e-9 for c in snap.shelter.crew)
    assert snap.spe.active
    assert snap.spe.energetic
    assert snap.spe.event is not None
    assert snap.spe.event.onset == utc("2017-09-10T16:45")
    t, s = out["goes.s_scale"]
    assert s[t == utc("2017-09-10T16:45")][0] == 1.0
    assert s.max() == 3.0  # 1038.9 pfu at 18:45
    t, active = out["goes.spe_active"]
    assert t[active == 1.0][0] == utc("2017-09-10T16:55")


def test_shelter_advice_holds_through_the_event_and_clears_at_its_end(
    tmp_path: Path, limits: DoseLimits
) -> None:
    est = make(tmp_path, limits)
    t = T0 + np.arange(0.0, 6 * HOUR + 1, 60.0)
    g = T0 + np.arange(0.0, 6 * HOUR + 1, 300.0)
    p10 = np.where(g < T0 + 4 * HOUR, 500.0, 1.0)
    # A 3-h excess of 40 µSv/h in JPM, then quiet: the advice stays until
    # the SPE ends (no flapping as the orbit average falls).
    rate = np.where(t < T0 + 3 * HOUR, 25.75 + 40.0, 25.75)
    streams: dict[str, Stream] = {
        "goes.p10": (g, p10),
        "goes.p100": (g, np.full(g.shape, 0.1)),
        "padles-jpm-1.dose_eq_rate": (t, rate),
        "c1.module": constant(t, JPM),
    }
    feed(est, chunks(streams, 0.0))
    # c1 only: the others' location is unknown, so they are judged on the
    # worst module and advised as well (their estimate errs high).
    kinds = [
        (e.kind, e.crew)
        for e in est.drain_events()
        if "shelter" in e.kind.value and e.crew == "c1"
    ]
    assert kinds == [
        (DoseEventKind.SHELTER, "c1"),
        (DoseEventKind.SHELTER_CLEARED, "c1"),
    ]
    assert not est.snapshot().shelter.crew
    assert not est.snapshot().shelter.recommended


def test_saa_flag_from_the_ground_track(tmp_path: Path, limits: DoseLimits) -> None:
    est = make(tmp_path, limits)
    t = T0 + np.arange(6.0)
    lat = np.array([10.0, -25.0, -45.0, -51.6, 30.0, -30.0])
    lon = np.array([-45.0, -45.0, -30.0, -45.0, -45.0, 20.0])
    assert est.update("iss.lat", t, lat) == []  # waits for its longitude
    # The decoder drops a null longitude: that row has no SAA flag.
    keep = np.arange(6) != 2
    ((key, times, flag),) = est.update("iss.lon", t[keep], lon[keep])
    assert key == "iss.saa"
    assert times.tolist() == t[keep].tolist()
    assert flag.tolist() == in_saa(lat[keep], lon[keep]).astype(float).tolist()
    snap = est.snapshot()
    assert snap.saa is True
    assert snap.saa_since == t[5]


# ------------------------------------------------------------ limits


def test_veteran_career_fraction_and_alerts(tmp_path: Path, limits: DoseLimits) -> None:
    est = make(tmp_path, limits, projection_min_days=0.0)
    e_per_h = limits.conversion.effective_per_h  # career is effective dose E
    times = T0 + np.arange(0.0, 9 * HOUR + 1, 10.0)
    streams = {
        "padles-jpm-1.dose_eq_rate": constant(times, 25.75),
        "pd-c2.dose_eq_rate": constant(times, 10_000.0),  # 10 mSv/h of H
        "c2.module": constant(times, JPM),
        "c4.module": constant(times, JPM),
    }
    out = feed(est, chunks(streams, 60.0))
    alerts = [e for e in est.drain_events() if e.kind == DoseEventKind.LIMIT]
    c2_career = [e for e in alerts if e.crew == "c2" and e.limit_id == "career"]
    # 540 of 600 mSv: one alarm at once (not three), then the limit itself.
    assert [round(e.fraction or 0, 3) for e in c2_career] == [0.9, 1.0]
    # Judged on the prior record at the first input's sample time, before
    # any dose is integrated (finding R2).
    assert c2_career[0].time == T0
    assert c2_career[0].severity == Severity.CRITICAL
    assert "alarm" in c2_career[0].message
    reached = T0 + 60.0 / (10.0 * e_per_h) * HOUR  # 60 mSv of E left
    assert reached <= c2_career[1].time <= reached + 10.0
    assert "limit reached" in c2_career[1].message
    snap = est.snapshot()
    c2 = snap.member("c2")
    assert c2.career_limit_msv == 600.0
    career = 540.0 + e_per_h * 90.0
    assert c2.career_msv == pytest.approx(career, rel=1e-9)
    assert c2.career_fraction == pytest.approx(career / 600.0)
    assert c2.days_to_limit == 0.0
    assert c2.limiting == "career"
    assert c2.level == Severity.CRITICAL
    assert c2.remaining_msv == pytest.approx(600.0 - career)
    t, fraction = out["c2.career_fraction"]
    # The prior record alone at the first sample, then after 10 s.
    assert (t[0], fraction[0]) == (T0, pytest.approx(0.9))
    assert t[1] == T0 + 10.0
    assert fraction[1] == pytest.approx((540.0 + e_per_h * 10 / 360) / 600)
    # The BFO limit in its own quantity: mGy-Eq = H / Q-bar x depth x RBE.
    bfo = next(s for s in c2.limits if s.id == "bfo_30d")
    conv = limits.conversion
    assert bfo.dose == pytest.approx(90.0 * conv.per_h("mGy-Eq", "BFO"))
    assert bfo.unit == "mGy-Eq"
    assert "BFO" in bfo.quantity
    assert bfo.level == Severity.NOMINAL
    # Mid-career JAXA male: 800 mSv; days at the PADLES #1 rate.
    c4 = snap.member("c4")
    assert c4.career_limit_msv == 800.0
    assert c4.days_to_limit == pytest.approx(
        (800.0 - 210.0 - e_per_h * c4.session_msv) / (e_per_h * 0.618), rel=1e-6
    )
    assert snap.member("c1").career_limit_msv == 500.0
    assert not [e for e in alerts if e.crew == "c4"]


def test_projection_to_mission_end(tmp_path: Path, limits: DoseLimits) -> None:
    est = make(tmp_path, limits, projection_min_days=0.0)
    times = T0 + np.arange(0.0, 2 * HOUR + 1, 10.0)
    feed(
        est,
        chunks(
            {
                "padles-jpm-1.dose_eq_rate": constant(times, 25.75),
                "c1.module": constant(times, JPM),
            },
            60.0,
        ),
    )
    c1 = est.snapshot().member("c1")
    end = dt.datetime(2025, 12, 1, tzinfo=dt.UTC).timestamp()
    e_per_h = limits.conversion.effective_per_h
    expected = c1.career_msv + e_per_h * 0.618 * (end - times[-1]) / DAY
    assert c1.projected_mission_msv == pytest.approx(expected, rel=1e-9)
    assert est.snapshot().member("c2").projected_mission_msv is None


# --------------------------------------------------- lifecycle, threads


def test_reset_rebuilds_identically(tmp_path: Path, limits: DoseLimits) -> None:
    est = make(tmp_path, limits)
    batches = chunks(scenario(np.random.default_rng(2)), 100.0)
    first = feed(est, batches)
    before = est.snapshot()
    est.reset()
    empty = est.snapshot()
    assert math.isnan(empty.time)
    assert all(c.session_msv == 0.0 for c in empty.crew)
    assert est.drain_events() == []
    out = est.rebuild(batches)
    again = est.snapshot()
    assert [c.session_msv for c in again.crew] == [c.session_msv for c in before.crew]
    assert sum(v.shape[0] for _, _, v in out) == sum(
        v.shape[0] for _, v in first.values()
    )


def test_snapshot_is_immutable_and_safe_to_read_while_updating(
    tmp_path: Path, limits: DoseLimits
) -> None:
    est = make(tmp_path, limits)
    batches = chunks(scenario(np.random.default_rng(4)), 50.0)
    versions: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            while not done.is_set():
                snap = est.snapshot()
                versions.append(snap.version)
                _ = [c.session_msv for c in snap.crew]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    reader = threading.Thread(target=read, name="gui-reader")
    reader.start()
    try:
        feed(est, batches)
    finally:
        done.set()
        reader.join(timeout=10)
    assert not errors
    assert versions
    assert versions == sorted(versions)
    snap = est.snapshot()
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.time = 0.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        snap.crew[0].session_msv = 0.0  # type: ignore[misc]


def test_pipeline_deriver_interface(tmp_path: Path, limits: DoseLimits) -> None:
    est = make(tmp_path, limits, lateness_s=30.0)
    derived: list[ChannelBatch] = []
    for t in T0 + np.arange(0.0, 121.0, 10.0):
        one = np.array([t])
        derived += est.derive([ChannelBatch("c1.module", one, np.zeros(1))])
        derived += est.derive(
            [ChannelBatch("padles-jpm-1.dose_eq_rate", one, np.ones(1))]
        )
    # Sources never heard from are waited for only ``lateness_s``, then all
    # crew channels flow.
    keys = {b.key for b in derived}
    assert keys == {f"{c}.{n}" for c in ("c1", "c2", "c3", "c4") for n in CREW_CHANNELS}
    assert all(isinstance(b, ChannelBatch) for b in derived)
    assert est.update("jpm.ppco2", np.array([T0]), np.ones(1)) == []


def test_configuration_errors(tmp_path: Path, limits: DoseLimits) -> None:
    est = make(tmp_path, limits)
    roster = dataclasses.replace(
        est.roster,
        estimator=dataclasses.replace(
            EstimatorConfig(),
            shelter=dataclasses.replace(EstimatorConfig().shelter, module="ATV"),
        ),
    )
    with pytest.raises(ValueError, match="'ATV' is not a module"):
        DoseEstimator(est.dictionary, roster, limits)
    crew = list(est.roster.crew)
    crew[0] = dataclasses.replace(crew[0], personal_dosimeter="pd-c9")
    with pytest.raises(ValueError, match="crew c1: personal dosimeter 'pd-c9'"):
        DoseEstimator(
            est.dictionary, dataclasses.replace(est.roster, crew=tuple(crew)), limits
        )


# --------------------------------------------------- shipped configuration


def test_shipped_dictionary_roster_and_limits_work_together(limits: DoseLimits) -> None:
    dictionary = TelemetryDictionary.load()
    roster = Roster.load(limits=limits)
    est = DoseEstimator(dictionary, roster, limits)
    times = T0 + np.arange(0.0, 1200.0 + 1, 10.0)
    streams: dict[str, Stream] = {}
    for source in dictionary.sources_of("rad"):
        streams[f"{source.id}.dose_eq_rate"] = constant(times, 25.75)
    for member in roster.crew:
        streams[f"{member.id}.module"] = constant(times, JPM)
    streams["goes.p10"] = constant(times, 0.8)
    streams["goes.p100"] = constant(times, 0.03)
    streams["iss.lat"] = constant(times, -30.0)
    streams["iss.lon"] = constant(times, -40.0)
    out = feed(est, chunks(streams, 20.0))
    for key in out:
        spec = dictionary.channel_for_key(key)
        assert spec is not None, key
        assert spec.derived, f"{key} is not a derived channel"
    snap = est.snapshot()
    assert snap.member("c2").source == EstimateSource.PERSONAL
    assert snap.saa is True
    assert not snap.spe.active


def test_benchmark_runs(tmp_path: Path, limits: DoseLimits) -> None:
    est = make(tmp_path, limits)
    result = bench_dose_update(est.dictionary, est.roster, limits, hours=0.05)
    assert result.crew == 4
    assert result.samples == 180 * 9
    assert result.us_per_crew_sample > 0


def test_undrained_events_are_bounded_and_counted(
    tmp_path: Path, limits: DoseLimits, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("telemetry.radiation.estimator.state.MAX_PENDING_EVENTS", 2)
    est = make(tmp_path, limits)
    t = T0 + np.arange(12) * 300.0
    p100 = np.tile([2.0, 2.0, 2.0, 0.1, 0.1, 0.1], 2)  # energetic on, off, on, off
    for i in range(12):
        est.update("goes.p10", t[i : i + 1], np.ones(1))
        est.update("goes.p100", t[i : i + 1], p100[i : i + 1])
    snap = est.snapshot()
    assert snap.dropped_events == 2
    assert [e.kind for e in est.drain_events()] == [
        DoseEventKind.ENERGETIC_SPE,
        DoseEventKind.ENERGETIC_SPE_END,
    ]


# ------------------------------------------------------- lazy snapshots


def test_snapshot_is_built_on_demand_once_per_change(
    tmp_path: Path, limits: DoseLimits
) -> None:
    est = make(tmp_path, limits)
    batches = chunks(scenario(np.random.default_rng(6)), 60.0)
    half = len(batches) // 2
    feed(est, batches[:half])
    first = est.snapshot()
    assert est.snapshot() is first  # nothing changed: the same object, no rebuild
    feed(est, batches[half:])
    last = est.snapshot()
    # Many updates in between, one build: the version counts builds.
    assert last.version == first.version + 1
    assert last.time > first.time
    assert last.member("c1").session_msv > first.member("c1").session_msv
    # What it shows is what the estimator computed, as an eager build gave.
    eager = make(tmp_path, limits)
    for key, t, v in batches:
        eager.update(key, t, v)
        eager.snapshot()
    ref = eager.snapshot()
    assert last.time == ref.time
    assert [c.session_msv for c in last.crew] == [c.session_msv for c in ref.crew]
    assert [c.limits for c in last.crew] == [c.limits for c in ref.crew]
    assert last.spe == ref.spe and last.shelter == ref.shelter


def test_a_reader_never_waits_for_an_update_in_progress(
    tmp_path: Path, limits: DoseLimits
) -> None:
    """The GUI gets the previous snapshot at once; the owner builds the next one."""
    est = make(tmp_path, limits)
    batches = chunks(scenario(np.random.default_rng(8)), 60.0)
    feed(est, batches[:100])
    before = est.snapshot()
    got: list[Any] = []

    def gui_read() -> None:
        got.append(est.snapshot())

    # Holding the estimator's state lock stands for an update in progress.
    with est._state_lock:
        reader = threading.Thread(target=gui_read, name="gui-reader")
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive()
    assert got == [before]
    feed(est, batches[100:200])  # the owner thread, as the subscriber would
    with est._state_lock:  # the reader cannot build now: the owner already did
        reader = threading.Thread(target=gui_read, name="gui-reader")
        reader.start()
        reader.join(timeout=10)
    newer = got[-1]
    assert newer.version > before.version and newer.time > before.time


def test_checkpoint_and_restore_resume_identically(
    tmp_path: Path, limits: DoseLimits
) -> None:
    """What the replay engine's seeks rely on: restore, go on, same totals."""
    batches = chunks(scenario(np.random.default_rng(12)), 100.0)
    half = len(batches) // 2
    straight = make(tmp_path, limits)
    feed(straight, batches)
    ref = straight.snapshot()

    est = make(tmp_path, limits)
    feed(est, batches[:half])
    saved = est.checkpoint()
    at_checkpoint = est.snapshot()
    feed(est, batches[half:])
    est.drain_events()
    for _ in range(2):  # a checkpoint can be restored more than once
        est.restore(saved)
        restored = est.snapshot()
        assert restored.time == at_checkpoint.time
        assert restored.version > at_checkpoint.version  # views see the change
        assert [c.session_msv for c in restored.crew] == [
            c.session_msv for c in at_checkpoint.crew
        ]
        feed(est, batches[half:])
        again = est.snapshot()
        assert again.time == ref.time
        assert [c.session_msv for c in again.crew] == [c.session_msv for c in ref.crew]
        assert again.spe == ref.spe


# ------------------------------------------------- absurd input values


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("absurd", [1e307, 1.7e308, -1e307, 2e7])
def test_absurd_dose_rates_are_ignored_counted_and_reported(
    tmp_path: Path, limits: DoseLimits, absurd: float
) -> None:
    """A fuzzing find: ~1e307 µSv/h overflowed the integral to inf."""
    times = T0 + np.arange(0.0, 601.0, 10.0)
    clean = make(tmp_path, limits, rad_stale=60.0)
    streams = {
        "padles-jpm-1.dose_eq_rate": constant(times, 25.75),
        "rem-node2.dose_eq_rate": constant(times, 20.0),
        "c1.module": constant(times, JPM),
    }
    feed(clean, chunks(streams, 0.0))
    est = make(tmp_path, limits, rad_stale=60.0)
    hostile = dict(streams)
    values = np.full(times.shape, 25.75)
    values[10:13] = absurd  # three absurd readings among good ones
    hostile["padles-jpm-1.dose_eq_rate"] = (times, values)
    extra = np.full(times.shape, absurd)  # and a monitor that only sends garbage
    hostile["tepc-uslab.dose_eq_rate"] = (times, extra)
    with np.errstate(all="raise"):
        feed(est, chunks(hostile, 0.0))
        snap = est.snapshot()
    c1 = snap.member("c1")
    assert math.isfinite(c1.session_msv) and math.isfinite(c1.career_msv)
    # The bad readings are "not sampled": the held value covers them (the
    # stale time is longer than the hole), so c1's dose is as if they never came.
    assert c1.session_msv == pytest.approx(clean.snapshot().member("c1").session_msv)
    assert all(math.isfinite(c.session_msv) for c in snap.crew)
    assert snap.invalid_samples == 3 + times.shape[0]
    invalid = [e for e in est.drain_events() if e.kind == DoseEventKind.INPUT_INVALID]
    # One event per input (per hour of sample time), naming it and the range.
    assert sorted(e.message.partition(":")[0] for e in invalid) == [
        "padles-jpm-1.dose_eq_rate",
        "tepc-uslab.dose_eq_rate",
    ]
    assert all("1e+07" in e.message and "µSv/h" in e.message for e in invalid)
    assert all(e.severity == Severity.WATCH for e in invalid)


def test_the_highest_real_dose_rates_are_still_measurements(
    tmp_path: Path, limits: DoseLimits
) -> None:
    est = make(tmp_path, limits)
    times = T0 + np.arange(0.0, 601.0, 10.0)
    streams = {
        "padles-jpm-1.dose_eq_rate": constant(times, 1e6),  # 1 Sv/h
        "c1.module": constant(times, JPM),
    }
    feed(est, chunks(streams, 0.0))
    snap = est.snapshot()
    assert snap.invalid_samples == 0
    assert snap.member("c1").rate_usv_h == pytest.approx(1e6)


@pytest.mark.filterwarnings("error")
def test_absurd_flux_and_positions_are_ignored(
    tmp_path: Path, limits: DoseLimits
) -> None:
    est = make(tmp_path, limits)
    t = T0 + np.arange(6) * 300.0
    p10 = np.array([1.0, 1e307, 2.0, 3.0, 1.7e308, 4.0])
    with np.errstate(all="raise"):
        est.update("goes.p10", t, p10)
        est.update("goes.p100", t, np.full(6, 0.1))
        o = t[-1] + np.arange(6.0)  # the orbit at 1 Hz
        lat = np.array([10.0, 1e307, -20.0, 95.0, 30.0, 40.0])
        est.update("iss.lat", o, lat)
        ((_, saa_t, _),) = est.update("iss.lon", o, np.full(6, -45.0))
        snap = est.snapshot()
    assert snap.spe.p10 == 4.0 and snap.spe.s_level == 0 and not snap.spe.active
    assert snap.spe.event is None  # no SPE made up from the garbage
    assert saa_t.tolist() == o[[0, 2, 4, 5]].tolist()  # rows without a position
    assert snap.invalid_samples == 4
    kinds = [e.kind for e in est.drain_events()]
    assert kinds.count(DoseEventKind.INPUT_INVALID) == 2
