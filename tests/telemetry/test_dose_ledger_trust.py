"""The dose ledger keeps every hour of real crew dose, once, and no damage.

Long sessions, old buffered readings, shift changes and damaged files: the
cases where the dose of record used to lose hours, count them twice or sum
nonsense (adversary findings L3, D1, L4, L2).
"""

from __future__ import annotations

import math
import sqlite3
from typing import TYPE_CHECKING

import pytest

from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.severity import Severity
from telemetry.core.wire import encode_frame
from telemetry.live import ledger_keeper
from telemetry.live.session import LiveSession, SessionConfig, build_derivers
from telemetry.sim.simulator import Simulator

if TYPE_CHECKING:
    from pathlib import Path

    from telemetry.radiation.estimator import DoseEstimator, DoseSnapshot

T0 = 1_757_000_000.0 // 3600 * 3600 + 60  # inside the roster's mission
HOUR = 3600.0


class Live:
    """A live session fed the simulator in process, its clock following the data."""

    def __init__(self, dictionary: TelemetryDictionary, ledger: Path, start: float):
        self.now = start
        derivers = build_derivers(dictionary)
        self.estimator: DoseEstimator = derivers[0]  # type: ignore[assignment]
        self.session = LiveSession(
            dictionary,
            SessionConfig([], None, dose_ledger=ledger),
            derivers,
            clock=lambda: self.now,
        )
        sim = Simulator(dictionary, seed=3, start_time=start, batch_s=60)
        self.frames = sim.frames_until(math.inf)
        self.pending: list[bytes] = []

    def send(self, parts: list[bytes]) -> None:
        assert self.session.pipeline.ingest(parts, self.now) is not None

    def run(self, until: float) -> None:
        """Receive the simulator's frames up to sample time ``until``, ticking."""
        for frame in self.frames:
            self.now = float(frame.times.max()) + 0.2
            self.send(frame.encode())
            self.session._tick(self.now)
            if self.now >= until:
                return

    def snapshot(self) -> DoseSnapshot:
        return self.estimator.snapshot()

    def ledger_events(self) -> list[tuple[str, int]]:
        return [
            (e.detail, e.severity)
            for e in self.session.store.events_since(0)
            if e.kind == "dose ledger"
        ]


@pytest.fixture(scope="module")
def dictionary() -> TelemetryDictionary:
    return TelemetryDictionary.load()


def rows(path: Path) -> list[tuple[int, str, float, float]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(
            "SELECT session_id, crew_id, bin_start, msv FROM ledger_bins "
            "ORDER BY session_id, crew_id, bin_start"
        ).fetchall()
    finally:
        db.close()


def total(path: Path, crew: str, session_id: int | None = None) -> float:
    return math.fsum(
        m for s, c, _b, m in rows(path) if c == crew and session_id in (None, s)
    )


def old_reading(hours_before: float, start: float) -> list[bytes]:
    """A dosimeter's buffered reading from before the console started."""
    return encode_frame(
        "rad",
        "padles-jpm-1",
        0,
        [start - hours_before * HOUR],
        {"dose_eq_rate": [25.0], "absorbed_rate": [13.0]},
    )


def test_a_console_up_longer_than_the_lag_bound_writes_every_hour(
    dictionary: TelemetryDictionary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The "is it live?" bound is a day; 1.5 h stands in for it, so a 3 h
    # session is a console that has run past it (the same rule, cheaper).
    monkeypatch.setattr(ledger_keeper, "LEDGER_MAX_LAG_S", 1.5 * HOUR)
    path = tmp_path / "dose_ledger.sqlite"
    console = Live(dictionary, path, T0)
    console.run(T0 + 3.2 * HOUR)
    # The hour after the bound is on disk while the console still runs.
    third = math.floor((T0 + 2 * HOUR) / HOUR) * HOUR
    assert {b for _s, c, b, _m in rows(path) if c == "c1"} >= {third}
    console.session.stop()
    for crew in console.snapshot().crew:
        assert total(path, crew.crew_id) == pytest.approx(crew.session_msv, rel=1e-9)
    assert not [d for d, _s in console.ledger_events() if "not written" in d]


def test_a_reading_buffered_before_the_start_adds_no_session_dose(
    dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    control = Live(dictionary, tmp_path / "a" / "dose_ledger.sqlite", T0)
    control.run(T0 + HOUR)
    path = tmp_path / "b" / "dose_ledger.sqlite"
    console = Live(dictionary, path, T0)
    console.send(old_reading(25.0, T0))  # a dosimeter flushing its buffer
    console.run(T0 + HOUR)
    for crew, expected in zip(
        console.snapshot().crew, control.snapshot().crew, strict=False
    ):
        assert crew.session_msv == pytest.approx(expected.session_msv, rel=1e-6)
    console.session.stop()
    control.session.stop()
    # The live hour is recorded (not refused as "not live"), and nothing
    # before the console's start.
    assert min(b for _s, _c, b, _m in rows(path)) >= math.floor(T0 / HOUR) * HOUR
    for crew in console.snapshot().crew:
        assert total(path, crew.crew_id) == pytest.approx(crew.session_msv, rel=1e-9)
    assert not [d for d, _s in console.ledger_events() if "not written" in d]


def test_a_restarted_console_never_records_the_previous_consoles_hours_again(
    dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    path = tmp_path / "dose_ledger.sqlite"
    first = Live(dictionary, path, T0)
    first.run(T0 + 2 * HOUR)
    first.session.stop()
    second = Live(dictionary, path, T0 + 2 * HOUR)
    # A reading from the hours the first console recorded arrives late.
    second.send(old_reading(1.5, T0 + 2 * HOUR))
    second.run(T0 + 3 * HOUR)
    second.session.stop()
    start = second.snapshot()
    assert min(b for s, _c, b, _m in rows(path) if s == 2) >= T0 + 2 * HOUR - HOUR
    for one, two in zip(first.snapshot().crew, start.crew, strict=True):
        assert two.session_msv < one.session_msv  # one hour against two
        assert total(path, one.crew_id) == pytest.approx(
            one.session_msv + two.session_msv, rel=1e-9
        )
    db = sqlite3.connect(path)
    try:
        ((first_sample,),) = db.execute(
            "SELECT first_sample FROM ledger_sessions WHERE session_id = 2"
        ).fetchall()
    finally:
        db.close()
    assert first_sample >= T0 + 2 * HOUR


def test_at_a_shift_change_the_read_only_console_takes_the_ledger_over(
    dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    path = tmp_path / "dose_ledger.sqlite"
    writer = Live(dictionary, path, T0)
    reader = Live(dictionary, path, T0)
    try:
        assert reader.session.ledger is not None
        assert not reader.session.ledger.writable
        for live in (writer, reader):
            live.run(T0 + HOUR)
        assert "ledger read-only" in reader.snapshot().history_note
        writer.session.stop()  # the GUI closed at handover
        reader.run(T0 + 3 * HOUR)
        taken = [d for d, s in reader.ledger_events() if "taken over" in d]
        assert len(taken) == 1
        note = reader.snapshot().history_note
        assert "taken over" in note and "read-only" not in note
        reader.session.stop()
    finally:
        writer.session.stop()
        reader.session.stop()
    # Every hour is recorded once: the writer's hour, then the reader's rest.
    for w, r in zip(writer.snapshot().crew, reader.snapshot().crew, strict=True):
        assert total(path, w.crew_id, 1) == pytest.approx(w.session_msv, rel=1e-9)
        assert total(path, r.crew_id) == pytest.approx(r.session_msv, rel=1e-6)
    db = sqlite3.connect(path)
    try:
        spans = db.execute(
            "SELECT first_sample, last_sample FROM ledger_sessions ORDER BY session_id"
        ).fetchall()
    finally:
        db.close()
    assert spans[1][0] == spans[0][1]  # the taker-over wrote from the writer's end


@pytest.mark.parametrize("damage", ["-100.0", "1e300", "'abc'"])
def test_a_damaged_ledger_bin_is_left_out_and_reported(
    dictionary: TelemetryDictionary, tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "dose_ledger.sqlite"
    earlier = Live(dictionary, path, T0)
    earlier.run(T0 + 2 * HOUR)
    earlier.session.stop()
    before = earlier.snapshot().member("c2")
    db = sqlite3.connect(path)
    with db:
        ((bin_start, good),) = db.execute(
            "SELECT bin_start, msv FROM ledger_bins WHERE crew_id = 'c2' "
            "ORDER BY bin_start LIMIT 1"
        ).fetchall()
        db.execute(
            f"UPDATE ledger_bins SET msv = {damage} "
            "WHERE crew_id = 'c2' AND bin_start = ?",
            (bin_start,),
        )
    db.close()
    later = Live(dictionary, path, T0 + 2 * HOUR)
    seeded = later.snapshot().member("c2")
    # The damaged hour is left out, never summed: the totals are a lower
    # bound, not lowered (a negative bin) nor absurd (1e300).
    assert seeded.dose_30d_msv == pytest.approx(before.session_msv - good, rel=1e-9)
    e_per_h = later.estimator.limits.conversion.effective_per_h
    assert seeded.career_msv == pytest.approx(
        before.career_msv - e_per_h * good, rel=1e-12
    )
    note = later.snapshot().history_note
    assert "1 damaged ledger bin(s) left out: totals are a lower bound" in note
    ((detail, severity),) = later.ledger_events()
    assert "damaged" in detail
    assert severity == Severity.WARNING
    later.session.stop()
