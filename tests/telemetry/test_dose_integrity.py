"""Crew dose a radiation officer can sign (issue 13, findings 1-3, 7, 8, 10).

The same field gives the same dose whatever the cadence, batching and arrival
order; twice the field gives twice the dose; negative rates never lower dose
nor reach the ledger; fallbacks err high; SPE flags do not re-trigger from one
sample; every limit in its own quantity; age bands at each boundary.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import sqlite3
import time
from typing import TYPE_CHECKING

import numpy as np
import pytest
import zmq
from polling import wait_for

from telemetry.bus.publisher import free_tcp_endpoint
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.severity import Severity
from telemetry.core.units import format_percent
from telemetry.core.wire import encode_frame
from telemetry.live.session import LiveSession, SessionConfig, build_derivers
from telemetry.radiation.banner import radiation_banner
from telemetry.radiation.estimator import (
    DoseEstimator,
    DoseEventKind,
    Fallback,
    ShelterAction,
)
from telemetry.radiation.estimator.streams import SampleStream
from telemetry.radiation.roster import (
    DEFAULT_LIMITS,
    DoseLimits,
    Roster,
    SpeConfig,
)
from telemetry.radiation.shelter_rules import ShelterRules, ShelterRulesError
from telemetry.radiation.spaceweather import SpeDetector, SpeTransitionKind

if TYPE_CHECKING:
    from pathlib import Path

T0 = 1_757_000_000.0  # 2025-09-04, inside the shipped roster's mission
HOUR = 3600.0
JPM, USLAB, SM = 0, 3, 7
Feed = list[tuple[str, np.ndarray, np.ndarray]]


@pytest.fixture(scope="module")
def dictionary() -> TelemetryDictionary:
    return TelemetryDictionary.load()


@pytest.fixture(scope="module")
def limits() -> DoseLimits:
    return DoseLimits.load(DEFAULT_LIMITS)


def estimator(dictionary: TelemetryDictionary, limits: DoseLimits) -> DoseEstimator:
    return DoseEstimator(dictionary, Roster.load(limits=limits), limits)


def field(t: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """An orbit-modulated field (µSv/h): 25 ± 10 over a 92.6-min orbit."""
    return scale * (25.0 + 10.0 * np.sin(2 * math.pi * (t - T0) / 5556.0))


def streams(cadence_s: float, hours: float, scale: float = 1.0) -> dict[str, tuple]:
    """Monitors in JPM, US Lab and SM at ``cadence_s``; crew locations at 10 s."""
    t = T0 + np.arange(0.0, hours * HOUR + 0.5, cadence_s)
    c = T0 + np.arange(0.0, hours * HOUR + 0.5, 10.0)
    return {
        "padles-jpm-1.dose_eq_rate": (t, field(t, scale)),
        "tepc-uslab.dose_eq_rate": (t, field(t, 0.9 * scale)),
        "rem-sm.dose_eq_rate": (t, field(t, 0.4 * scale)),
        "pd-c2.dose_eq_rate": (t, field(t, 1.1 * scale)),
        "c1.module": (c, np.full(c.shape, float(JPM))),
        "c2.module": (c, np.full(c.shape, float(JPM))),
        "c3.module": (c, np.full(c.shape, float(USLAB))),
        "c4.module": (c, np.full(c.shape, float(SM))),
    }


def live_order(data: dict[str, tuple], span_s: float) -> Feed:
    """Batches of ``span_s`` of every stream, delivered as they complete."""
    out: list[tuple[float, int, str, np.ndarray, np.ndarray]] = []
    for order, (key, (t, v)) in enumerate(data.items()):
        edges = np.arange(t[0], t[-1] + span_s, span_s) if span_s > 0 else t
        idx = np.searchsorted(t, edges, side="left")
        idx = np.unique(np.append(idx, t.shape[0]))
        for lo, hi in itertools.pairwise(idx):
            out.append((float(t[hi - 1]), order, key, t[lo:hi], v[lo:hi]))
    out.sort(key=lambda b: (b[0], b[1]))
    return [(k, t, v) for _, _, k, t, v in out]


def source_after_source(data: dict[str, tuple], span_s: float) -> Feed:
    """The dump after a loss of signal: each hour, source after source."""
    t_all = np.concatenate([t for t, _ in data.values()])
    out: Feed = []
    for lo in np.arange(t_all.min(), t_all.max() + 1, span_s):
        for key, (t, v) in data.items():
            keep = (t >= lo) & (t < lo + span_s)
            if keep.any():
                out.append((key, t[keep], v[keep]))
    return out


def run(est: DoseEstimator, feed: Feed) -> dict[str, float]:
    for key, t, v in feed:
        est.update(key, t, v)
    snap = est.snapshot()
    return {c.crew_id: c.session_msv for c in snap.crew}


# ------------------------------------------------- findings 1 and 2


def test_cadence_batching_and_arrival_order_give_the_same_dose(
    dictionary: TelemetryDictionary, limits: DoseLimits
) -> None:
    hours = 5.0
    reference_est = estimator(dictionary, limits)
    reference = run(reference_est, live_order(streams(10.0, hours), 0.0))
    assert all(v > 0 for v in reference.values())
    rng = np.random.default_rng(7)
    shuffled = live_order(streams(10.0, hours), 600.0)
    rng.shuffle(shuffled)  # type: ignore[arg-type]
    cases = {
        "one sample a minute": live_order(streams(60.0, hours), 0.0),
        "one sample every two minutes": live_order(streams(120.0, hours), 0.0),
        "hourly dumps, source after source": source_after_source(
            streams(10.0, hours), HOUR
        ),
        "the whole pass, source after source": source_after_source(
            streams(10.0, hours), hours * HOUR + 1
        ),
        "10-min batches in random order": shuffled,
    }
    for name, feed in cases.items():
        est = estimator(dictionary, limits)
        got = run(est, feed)
        snap = est.snapshot()
        assert snap.time == pytest.approx(T0 + hours * HOUR), name
        for crew_id, dose in reference.items():
            assert got[crew_id] == pytest.approx(dose, rel=2e-3), (name, crew_id)
        # Nobody ran on the quiet-time model although every input was there.
        for crew in snap.crew:
            assert crew.fallback in (Fallback.NONE, Fallback.SCALED), (name, crew)


def test_late_data_revises_the_estimate_with_an_event(
    dictionary: TelemetryDictionary, limits: DoseLimits
) -> None:
    data = streams(10.0, 3.0)
    est = estimator(dictionary, limits)
    # JPM's monitor is silent for the second hour, then its dump arrives.
    t, v = data["padles-jpm-1.dose_eq_rate"]
    gap = (t > T0 + HOUR) & (t <= T0 + 2 * HOUR)
    live = dict(data)
    live["padles-jpm-1.dose_eq_rate"] = (t[~gap], v[~gap])
    run(est, live_order(live, 0.0))
    before = est.snapshot()
    est.drain_events()
    # The dump: the monitor read 4x the field then (an SAA-like excess).
    est.update("padles-jpm-1.dose_eq_rate", t[gap], 4.0 * v[gap])
    after = est.snapshot()
    assert after.revisions == 1
    assert after.member("c1").session_msv > before.member("c1").session_msv
    revised = [e for e in est.drain_events() if e.kind == DoseEventKind.REVISED]
    c1 = next(e for e in revised if e.crew == "c1")
    assert "revised by +" in c1.message and "padles-jpm-1" in c1.message
    # The revision equals integrating everything in sample-time order.
    full = dict(data)
    full["padles-jpm-1.dose_eq_rate"] = (t, np.where(gap, 4.0 * v, v))
    ref = run(estimator(dictionary, limits), live_order(full, 0.0))
    assert after.member("c1").session_msv == pytest.approx(ref["c1"], rel=1e-9)


def test_twice_the_field_gives_twice_the_dose_during_an_spe(
    dictionary: TelemetryDictionary, limits: DoseLimits
) -> None:
    doses = []
    for scale in (1.0, 2.0):
        data = streams(60.0, 4.0, scale=scale)
        g = T0 + np.arange(0.0, 4 * HOUR + 1, 300.0)
        data["goes.p10"] = (g, np.full(g.shape, 1500.0))  # S3
        data["goes.p100"] = (g, np.full(g.shape, 20.0))  # energetic
        est = estimator(dictionary, limits)
        doses.append(run(est, live_order(data, 0.0)))
        assert est.snapshot().spe.active
    for crew_id, one in doses[0].items():
        assert doses[1][crew_id] == pytest.approx(2.0 * one, rel=1e-9), crew_id


def test_stale_inputs_never_fall_below_the_last_module_rate_in_an_spe(
    dictionary: TelemetryDictionary, limits: DoseLimits
) -> None:
    est = estimator(dictionary, limits)
    t = T0 + np.arange(0.0, 2 * HOUR + 1, 10.0)
    on = t <= T0 + HOUR
    g = T0 + np.arange(0.0, 2 * HOUR + 1, 300.0)
    data = {
        "goes.p10": (g, np.full(g.shape, 500.0)),
        "goes.p100": (g, np.full(g.shape, 5.0)),
        # Every monitor goes silent after an hour at 400 µSv/h (SPE dose).
        "padles-jpm-1.dose_eq_rate": (t[on], np.full(on.sum(), 400.0)),
        "rem-sm.dose_eq_rate": (t, np.full(t.shape, 40.0)),
        "c1.module": (t, np.full(t.shape, float(JPM))),
    }
    feed = live_order(data, 0.0)
    for key, tt, vv in feed:
        est.update(key, tt, vv)
    c1 = est.snapshot().member("c1")
    assert c1.fallback == Fallback.FLOOR
    assert c1.rate_usv_h == pytest.approx(400.0)  # not the 25.75 baseline
    # The last sample is held 30 s (stale_after_s > 2 x its 10-s cadence).
    assert c1.fallback_since == pytest.approx(T0 + HOUR + 30.0)
    # JPM's monitor has not reported since: the estimate is provisional.
    assert est.snapshot().provisional_since == pytest.approx(T0 + HOUR)


# ------------------------------------------------------- finding 3


def test_a_negative_rate_is_rejected_counted_and_never_lowers_dose(
    dictionary: TelemetryDictionary, limits: DoseLimits
) -> None:
    data = streams(10.0, 1.0)
    t, v = data["padles-jpm-1.dose_eq_rate"]
    bad = (t > T0 + 1200) & (t < T0 + 1800)
    clean = estimator(dictionary, limits)
    ref = dict(data)
    ref["padles-jpm-1.dose_eq_rate"] = (t[~bad], v[~bad])
    expected = run(clean, live_order(ref, 0.0))
    est = estimator(dictionary, limits)
    signed = dict(data)
    signed["padles-jpm-1.dose_eq_rate"] = (t, np.where(bad, -v, v))
    got = run(est, live_order(signed, 0.0))
    snap = est.snapshot()
    assert snap.invalid_samples == int(bad.sum())
    assert got == pytest.approx(expected, rel=1e-12)
    events = [e for e in est.drain_events() if e.kind == DoseEventKind.INPUT_INVALID]
    assert "outside [0, 1e+07] µSv/h" in events[0].message


def _ledger_rows(path: Path) -> list[tuple[str, float]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT crew_id, msv FROM ledger_bins").fetchall()
    db.close()
    return [(str(c), float(m)) for c, m in rows]


def test_a_negative_rate_over_zeromq_never_reaches_the_ledger(
    dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    endpoint = free_tcp_endpoint()
    ledger = tmp_path / "dose_ledger.sqlite"
    derivers = build_derivers(dictionary)
    est = derivers[0]
    assert isinstance(est, DoseEstimator)
    session = LiveSession(
        dictionary,
        SessionConfig([endpoint], None, dose_ledger=ledger),
        derivers,
    )
    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    session.start()
    try:
        assert sock.poll(10_000, zmq.POLLIN), "no subscription"
        sock.recv()
        # Ten minutes (past the estimator's wait for inputs never heard from).
        start = math.floor(time.time()) - 700.0
        t = start + np.arange(0.0, 600.0, 10.0)
        rates = np.full(t.shape, 30.0)
        rates[20:26] = -3000.0  # a sign error in a gateway
        seq = 0
        for i in range(t.shape[0]):
            for key, family, columns in (
                ("padles-jpm-1", "rad", {"dose_eq_rate": rates[i : i + 1]}),
                ("c1", "crew", {"module": np.array(["JPM"], dtype=object)}),
            ):
                sock.send_multipart(
                    encode_frame(family, key, seq, t[i : i + 1], columns)
                )
                seq += 1

        def integrated() -> bool:
            return est.snapshot().time >= t[-1] - 30.0

        wait_for(integrated, 20.0, "the dose integrated over the samples")
    finally:
        session.stop()
        sock.close(linger=0)
        ctx.term()
    snap = est.snapshot()
    c1 = snap.member("c1")
    assert c1.session_msv > 0
    rows = _ledger_rows(ledger)
    assert rows, "the session wrote its dose"
    assert all(m >= 0 for _c, m in rows)
    c1_ledger = math.fsum(m for c, m in rows if c == "c1")
    assert c1_ledger == pytest.approx(c1.session_msv, rel=1e-9)
    # Every sample the monitor sent was positive or rejected: at most the
    # positive field, never less than it with the gap held.
    assert c1.session_msv <= 30.0 * (snap.time - t[0]) / 3.6e6 + 1e-12


# ------------------------------------------------------- finding 7


def test_a_single_energetic_sample_after_the_end_does_not_re_trigger() -> None:
    det = SpeDetector(SpeConfig())
    step = 300.0
    p100 = [2.0] * 4 + [0.1] * 4 + [2.0] + [0.1] * 3 + [2.0] * 3
    t = T0 + step * np.arange(len(p100))
    det.update(t, np.full(len(p100), 1.0), np.array(p100))
    tr = [(x.kind, x.time) for x in det.drain_transitions()]
    energetic = [x for x in tr if x[0] == SpeTransitionKind.ENERGETIC]
    # Declared once from its run, ended, not re-declared by the single
    # sample at index 8, and declared again by the new run (dated index 12).
    assert energetic == [
        (SpeTransitionKind.ENERGETIC, t[0]),
        (SpeTransitionKind.ENERGETIC, t[12]),
    ]
    ends = [x for x in tr if x[0] == SpeTransitionKind.ENERGETIC_END]
    assert len(ends) == 1


def test_events_drain_in_sample_time_order(
    dictionary: TelemetryDictionary, limits: DoseLimits
) -> None:
    est = estimator(dictionary, limits)
    data = streams(10.0, 2.0)
    g = T0 + np.arange(0.0, 2 * HOUR + 1, 300.0)
    p10 = np.where(g < T0 + HOUR, 50.0, 1.0)
    data["goes.p10"] = (g, p10)
    data["goes.p100"] = (g, np.where(g < T0 + HOUR, 3.0, 0.1))
    for key, t, v in source_after_source(data, HOUR):
        est.update(key, t, v)
    times = [e.time for e in est.drain_events()]
    assert times == sorted(times)
    assert len(times) >= 4


# ------------------------------------------------------- finding 8


def test_each_limit_is_compared_in_its_own_quantity(
    dictionary: TelemetryDictionary, limits: DoseLimits
) -> None:
    est = estimator(dictionary, limits)
    run(est, live_order(streams(10.0, 2.0), 0.0))
    c1 = est.snapshot().member("c1")
    conv = limits.conversion
    by_id = {s.id: s for s in c1.limits}
    career = by_id["career"]
    assert career.unit == "mSv" and career.quantity == "effective dose E"
    assert c1.career_msv == pytest.approx(
        c1.prior_msv + conv.effective_per_h * (c1.earlier_msv + c1.session_msv)
    )
    h = c1.dose_30d_msv
    assert by_id["bfo_30d"].unit == "mGy-Eq"
    assert by_id["bfo_30d"].dose == pytest.approx(h * conv.per_h("mGy-Eq", "BFO"))
    assert by_id["cns_30d"].unit == "mGy"
    assert by_id["cns_30d"].dose == pytest.approx(h * conv.per_h("mGy", "CNS"))
    assert "absorbed" in by_id["cns_30d"].quantity
    assert by_id["skin_30d"].dose == pytest.approx(h * conv.per_h("mGy-Eq", "skin"))
    # E inside the body is below area H; organ Gy-Eq below H with Q-bar ~ 2.
    assert 0.6 <= conv.effective_per_h <= 0.85
    assert by_id["bfo_30d"].dose < h


# ------------------------------------------------------ finding 10


@pytest.mark.parametrize(
    ("age", "male", "female", "between"),
    [
        (27, 600.0, 500.0, False),
        (30, 600.0, 500.0, False),
        (31, 700.0, 550.0, False),
        (35, 700.0, 550.0, False),
        (36, 800.0, 600.0, False),
        (40, 800.0, 600.0, False),
        (41, 900.0, 700.0, False),
        (45, 900.0, 700.0, False),
        (46, 900.0, 700.0, True),  # not "> 46": the band below applies
        (47, 1000.0, 800.0, False),
        (60, 1000.0, 800.0, False),
    ],
)
def test_jaxa_age_bands_at_each_boundary(
    limits: DoseLimits, age: int, male: float, female: float, between: bool
) -> None:
    m = limits.career_limit("JAXA", "M", age)
    f = limits.career_limit("JAXA", "F", age)
    assert (m.limit_msv, f.limit_msv) == (male, female)
    assert ("between the published bands 41-45 and > 46" in m.note) == between


def test_ages_below_the_table_have_no_limit(limits: DoseLimits) -> None:
    with pytest.raises(KeyError, match="rows: 27-30, 31-35, 36-40, 41-45, > 46"):
        limits.career_limit("JAXA", "F", 26)


@pytest.mark.parametrize(
    ("fraction", "text"),
    [(0.8998, "89.9 %"), (0.89999999, "89.9 %"), (0.9, "90.0 %"), (1.0, "100.0 %")],
)
def test_a_fraction_is_never_rounded_up_to_a_level(fraction: float, text: str) -> None:
    assert format_percent(fraction) == text


# --------------------------------------------------- finding 5: shelter


def _roster_with(limits: DoseLimits, **prior: float) -> Roster:
    roster = Roster.load(limits=limits)
    crew = tuple(
        dataclasses.replace(m, prior_career_msv=prior.get(m.id, m.prior_career_msv))
        for m in roster.crew
    )
    return dataclasses.replace(roster, crew=crew)


def _spe_run(
    dictionary: TelemetryDictionary,
    roster: Roster,
    limits: DoseLimits,
    excess_usv_h: float,
    hours: float = 3.0,
) -> DoseEstimator:
    """Everyone in JPM during an S2 event with ``excess`` above the quiet rate."""
    est = DoseEstimator(dictionary, roster, limits)
    t = T0 + np.arange(0.0, hours * HOUR + 1, 60.0)
    g = T0 + np.arange(0.0, hours * HOUR + 1, 300.0)
    quiet = roster.estimator.model_rate_usv_h
    data: dict[str, tuple] = {
        "goes.p10": (g, np.full(g.shape, 500.0)),
        "goes.p100": (g, np.full(g.shape, 0.5)),
        "padles-jpm-1.dose_eq_rate": (t, np.full(t.shape, quiet + excess_usv_h)),
        "pd-c2.dose_eq_rate": (t, np.full(t.shape, quiet + excess_usv_h)),
    }
    for crew in ("c1", "c2", "c3", "c4"):
        data[f"{crew}.module"] = (t, np.full(t.shape, float(JPM)))
    run(est, live_order(data, 0.0))
    return est


@pytest.mark.parametrize(
    ("excess", "action"),
    [
        (0.0, ShelterAction.NONE),  # S2 on GOES, no extra dose: no action
        (5.0, ShelterAction.AVOID_LOW_SHIELDED),  # 0.096 mSv E over 24 h
        (40.0, ShelterAction.SLEEP_SHIELDED),  # 0.77 mSv E
        (300.0, ShelterAction.RELOCATE),  # 5.8 mSv E
    ],
)
def test_graded_shelter_advice_from_the_projected_event_dose(
    dictionary: TelemetryDictionary,
    limits: DoseLimits,
    excess: float,
    action: ShelterAction,
) -> None:
    est = _spe_run(dictionary, Roster.load(limits=limits), limits, excess)
    snap = est.snapshot()
    c3 = next(c for c in snap.shelter.crew if c.crew_id == "c3")  # ESA, 95 mSv
    assert c3.action == action
    e_per_h = limits.conversion.effective_per_h
    assert c3.event_msv == pytest.approx(e_per_h * excess * 24.0 / 1000.0, rel=1e-6)
    assert snap.shelter.recommended == (action == ShelterAction.RELOCATE)
    view = radiation_banner(snap)
    if action == ShelterAction.NONE:
        assert "c3" not in view.detail
    else:
        # The banner names the person, the action and the reason in words.
        assert f"c3: {action.value}: projected event dose" in view.detail
        assert "orbit-averaged" in view.detail and "margin" in view.detail


def test_a_small_remaining_margin_raises_the_advice(
    dictionary: TelemetryDictionary, limits: DoseLimits
) -> None:
    # 2 µSv/h extra: 0.038 mSv E, below every event-dose threshold; but c2
    # has 10 mSv left of NASA's 600 (0.38 %): avoid low-shielded modules.
    roster = _roster_with(limits, c2=590.0)
    est = _spe_run(dictionary, roster, limits, 2.0)
    by_id = {c.crew_id: c for c in est.snapshot().shelter.crew}
    assert by_id["c3"].action == ShelterAction.NONE
    assert by_id["c2"].action == ShelterAction.AVOID_LOW_SHIELDED
    assert by_id["c2"].fraction >= 0.001
    assert "career (NASA) margin" in by_id["c2"].reason


def test_one_orbits_spike_does_not_decide_the_advice(
    dictionary: TelemetryDictionary, limits: DoseLimits
) -> None:
    """A 2-minute 50x spike (one high-latitude pass) is averaged over orbits."""
    est = DoseEstimator(dictionary, Roster.load(limits=limits), limits)
    t = T0 + np.arange(0.0, 3 * HOUR + 1, 10.0)
    rate = np.full(t.shape, 25.75)
    rate[(t > T0 + 2.9 * HOUR) & (t <= T0 + 2.9 * HOUR + 120)] = 50 * 25.75
    g = T0 + np.arange(0.0, 3 * HOUR + 1, 300.0)
    data: dict[str, tuple] = {
        "goes.p10": (g, np.full(g.shape, 500.0)),
        "goes.p100": (g, np.full(g.shape, 0.5)),
        "padles-jpm-1.dose_eq_rate": (t, rate),
        "c3.module": (t, np.full(t.shape, float(JPM))),
    }
    run(est, live_order(data, 0.0))
    c3 = next(c for c in est.snapshot().shelter.crew if c.crew_id == "c3")
    # Instantaneous x hours would be ~1,250 µSv/h x 24 h = 24 mSv: relocate.
    assert c3.action in (ShelterAction.AVOID_LOW_SHIELDED, ShelterAction.SLEEP_SHIELDED)


def test_the_shipped_thresholds_are_data_with_sources() -> None:
    rules = ShelterRules.load()
    assert [r.action for r in rules.actions] == [
        ShelterAction.AVOID_LOW_SHIELDED,
        ShelterAction.SLEEP_SHIELDED,
        ShelterAction.RELOCATE,
    ]
    assert all(r.source for r in rules.actions)
    assert rules.orbit_average_s == pytest.approx(3 * 92.6 * 60, rel=1e-3)


def test_bad_shelter_rules_fail_with_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "shelter.toml"
    bad.write_text(
        "[projection]\norbit_average_min = 90\nhorizon_h = -1\nmin_history_min = 9\n"
        '[[actions]]\naction = "relocate to the shelter"\n'
        "event_msv = 1\nmargin_fraction = 0.1\n",
        encoding="utf-8",
    )
    with pytest.raises(ShelterRulesError, match=r"shelter.toml: projection.horizon_h"):
        ShelterRules.load(bad)


# ----------------------------------------------- finding 6: projections


def test_projection_needs_enough_data_then_uses_the_ledger_days(
    dictionary: TelemetryDictionary, limits: DoseLimits
) -> None:
    est = estimator(dictionary, limits)
    run(est, live_order(streams(10.0, 2.0), 0.0))
    c1 = est.snapshot().member("c1")
    assert c1.projection is not None and not c1.projection.ok
    assert c1.projection.reason.startswith("insufficient data: 0.08 d")
    assert c1.projected_mission_msv is None
    assert math.isnan(c1.days_to_limit)

    # Seeded with 3 days of earlier sessions from the ledger at 0.6 mSv/d,
    # the projection runs from those days, not from minutes of this one.
    seeded = estimator(dictionary, limits)
    day = 86400.0
    bins = [
        (T0 - 3 * day + h * HOUR, T0 - 3 * day + (h + 1) * HOUR, 0.6 / 24)
        for h in range(72)
    ]
    seeded.seed_history({"c1": bins}, now=T0)
    run(seeded, live_order(streams(10.0, 2.0), 0.0))
    c1 = seeded.snapshot().member("c1")
    assert c1.projection is not None and c1.projection.ok
    assert c1.projection.basis_days == pytest.approx(3.0 + 2 / 24, rel=1e-3)
    assert c1.projection.rate_msv_d == pytest.approx(0.6, rel=0.05)
    assert c1.projection.career_e_upper_msv > c1.projection.career_e_msv


def test_projected_crossing_of_a_limit_before_mission_end_alerts(
    dictionary: TelemetryDictionary, limits: DoseLimits
) -> None:
    # c2 at 590 of 600 mSv E with ~170 days left at ~0.5 mSv/d E: projected
    # far over the limit although today's dose is under 100 %.
    roster = _roster_with(limits, c2=560.0)
    est = DoseEstimator(dictionary, roster, limits)
    day = 86400.0
    bins = [
        (T0 - 2 * day + h * HOUR, T0 - 2 * day + (h + 1) * HOUR, 0.025)
        for h in range(48)
    ]
    est.seed_history({"c2": bins}, now=T0)
    run(est, live_order(streams(10.0, 1.0), 0.0))
    c2 = est.snapshot().member("c2")
    career = next(s for s in c2.limits if s.id == "career")
    assert career.fraction < 0.99
    assert career.projected_fraction > 1.0
    projected = [e for e in est.drain_events() if e.kind == DoseEventKind.PROJECTION]
    c2_events = [e for e in projected if e.crew == "c2" and e.limit_id == "career"]
    assert [round(e.fraction or 0, 1) >= 0.9 for e in c2_events] == [True]
    assert "projected (upper 1σ edge) at mission end" in c2_events[0].message
    assert c2_events[0].severity == Severity.CRITICAL


# ------------------------------------------------------------------ EVA


def test_eva_is_a_crew_state_with_its_own_rate_and_dose(
    dictionary: TelemetryDictionary, limits: DoseLimits
) -> None:
    eva_code = dictionary.channel("crew", "module").states["EVA"]  # type: ignore[union-attr]
    est = estimator(dictionary, limits)
    data = streams(10.0, 2.0)
    c, module = data["c3.module"]
    outside = (c >= T0 + 1800) & (c < T0 + 3600)
    data["c3.module"] = (c, np.where(outside, float(eva_code), module))
    # A steady field, to read the rate model plainly: every monitor reads
    # 25 µSv/h times its module's shielding factor.
    for key, module in (
        ("padles-jpm-1.dose_eq_rate", "JPM"),
        ("tepc-uslab.dose_eq_rate", "USLAB"),
        ("rem-sm.dose_eq_rate", "SM"),
    ):
        t, _v = data[key]
        sf = dictionary.modules[module].shielding_factor
        data[key] = (t, np.full(t.shape, 25.0 * sf))
    run(est, live_order(data, 0.0))
    c3 = est.snapshot().member("c3")
    cfg = Roster.load(limits=limits).estimator
    sf_ref = 25.0  # every monitor reads 25 µSv/h normalised by shielding
    expected_eva = sf_ref * cfg.eva_factor * 1800.0 / 3.6e6
    assert c3.eva_msv == pytest.approx(expected_eva, rel=1e-6)
    assert c3.session_msv > c3.eva_msv > 0
    assert not c3.eva


def test_hold_times_do_not_depend_on_arrival_order_or_batching() -> None:
    rng = np.random.default_rng(2)
    t = T0 + np.cumsum(rng.uniform(5.0, 90.0, 400))
    one_by_one = SampleStream("a", 30.0, 300.0)
    for x in t:
        one_by_one.append(np.array([x]), np.ones(1), -math.inf)
    shuffled = SampleStream("b", 30.0, 300.0)
    chunks = np.array_split(np.arange(t.shape[0]), 37)
    rng.shuffle(chunks)  # type: ignore[arg-type]
    for idx in chunks:
        shuffled.append(t[idx], np.ones(idx.shape[0]), -math.inf)
    whole = SampleStream("c", 30.0, 300.0)
    whole.append(t, np.ones(t.shape[0]), -math.inf)
    np.testing.assert_array_equal(shuffled.t, whole.t)
    np.testing.assert_array_equal(one_by_one.holds(), whole.holds())
    np.testing.assert_array_equal(shuffled.holds(), whole.holds())
    # Within stale_after_s and hold_max_s, about twice the local cadence.
    assert whole.holds().min() >= 30.0 and whole.holds().max() <= 300.0


def _live_dose_over_zeromq(
    dictionary: TelemetryDictionary, start: float, cadence_s: float, rows: int
) -> float:
    """c1's session dose after ten minutes of a stepped field sent over ZeroMQ."""
    endpoint = free_tcp_endpoint()
    derivers = build_derivers(dictionary)
    est = derivers[0]
    assert isinstance(est, DoseEstimator)
    session = LiveSession(dictionary, SessionConfig([endpoint], None), derivers)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.bind(endpoint)
    session.start()
    try:
        assert sock.poll(10_000, zmq.POLLIN), "no subscription"
        sock.recv()
        t = start + np.arange(0.0, 600.0 + 0.5, cadence_s)
        # 30 µSv/h, doubled from minute 5 (a step both cadences sample).
        rate = np.where(t < start + 300.0, 30.0, 60.0)
        c = start + np.arange(0.0, 600.0 + 0.5, 10.0)
        seq = 0
        frames: list[tuple[float, list[bytes]]] = []
        for lo in range(0, t.shape[0], rows):
            part = slice(lo, lo + rows)
            frame = encode_frame(
                "rad", "padles-jpm-1", seq, t[part], {"dose_eq_rate": rate[part]}
            )
            frames.append((float(t[part][-1]), frame))
            seq += 1
        for i in range(c.shape[0]):
            frame = encode_frame("crew", "c1", seq, c[i : i + 1], {"module": ["JPM"]})
            frames.append((float(c[i]), frame))
            seq += 1
        frames.sort(key=lambda f: f[0])
        for _t, frame in frames:
            sock.send_multipart(frame)

        def integrated() -> bool:
            return est.snapshot().time >= start + 600.0

        wait_for(integrated, 20.0, "the dose integrated to the last sample")
    finally:
        session.stop()
        sock.close(linger=0)
        ctx.term()
    return est.snapshot().member("c1").session_msv


def test_the_same_field_over_zeromq_at_two_cadences_gives_the_same_dose(
    dictionary: TelemetryDictionary,
) -> None:
    start = math.floor(time.time()) - 700.0
    every_10_s = _live_dose_over_zeromq(dictionary, start, 10.0, 1)
    once_a_minute_in_5_min_batches = _live_dose_over_zeromq(dictionary, start, 60.0, 5)
    expected = (30.0 * 300.0 + 60.0 * 300.0) / 3.6e6
    assert every_10_s == pytest.approx(expected, rel=2e-3)
    assert once_a_minute_in_5_min_batches == pytest.approx(every_10_s, rel=2e-3)
