"""Crew dose a radiation officer can sign (issue 13, findings 1-3, 7, 8, 10).

The same field gives the same dose whatever the cadence, batching and arrival
order; twice the field gives twice the dose; negative rates never lower dose
nor reach the ledger; fallbacks err high; SPE flags do not re-trigger from one
sample; every limit in its own quantity; age bands at each boundary.
"""

from __future__ import annotations

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
from telemetry.core.wire import encode_frame
from telemetry.live.session import LiveSession, SessionConfig, build_derivers
from telemetry.radiation.dose_text import format_percent
from telemetry.radiation.estimator import (
    DoseEstimator,
    DoseEventKind,
    Fallback,
)
from telemetry.radiation.roster import (
    DEFAULT_LIMITS,
    DoseLimits,
    Roster,
    SpeConfig,
)
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
