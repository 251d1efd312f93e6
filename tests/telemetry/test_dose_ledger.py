"""The dose ledger carries crew dose across live console restarts, never replays."""

from __future__ import annotations

import math
import sqlite3
import stat
import time
from typing import TYPE_CHECKING, Any

import pytest

from console.archive_commands import EXIT_DATA_LOST, report_loss
from telemetry.archive.reader import ArchiveReader
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.core.severity import Severity
from telemetry.live.ledger_keeper import LEDGER_ALARM, RETRY_S
from telemetry.live.session import LiveSession, SessionConfig, build_derivers
from telemetry.radiation.ledger import DoseLedger, LedgerError
from telemetry.radiation.roster import DoseLimits
from telemetry.replay.engine import ReplayEngine, replay_derivers
from telemetry.replay.session_reader import SessionReader
from telemetry.sim.simulator import Simulator

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from telemetry.radiation.estimator import DoseEstimator, DoseSnapshot

T0 = 1_757_000_000.0  # 2025-09-04, inside the roster's mission (from 2025-09-01)
HOUR = 3600.0
DAY = 86400.0
#: Effective dose E per mSv of area H (dose_limits.toml [conversion]).
E_PER_H = DoseLimits.load().conversion.effective_per_h


class Clock:
    """The session clock, set by the test (what the subscriber stamps)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Live:
    """A live session whose messages and ticks the test hands over in process."""

    def __init__(
        self,
        dictionary: TelemetryDictionary,
        ledger: Path | None,
        start: float,
        archive: Path | None = None,
    ) -> None:
        self.clock = Clock(start)
        derivers = build_derivers(dictionary)
        self.estimator: DoseEstimator = derivers[0]  # type: ignore[assignment]
        self.session = LiveSession(
            dictionary,
            SessionConfig([], archive, dose_ledger=ledger),
            derivers,
            clock=self.clock,
        )
        if self.session.archive is not None:
            self.session.archive.start()
        self.sim = Simulator(dictionary, seed=3, rate_scale=60.0, start_time=start)

    def run(self, until: float) -> None:
        """Receive the simulator's frames up to sample time ``until``, ticking."""
        tick = self.session.subscriber.on_tick
        assert tick is not None
        for frame in self.sim.frames_until(until):
            self.clock.now = float(frame.times.max()) + 0.05
            assert self.session.pipeline.ingest(frame.encode(), self.clock.now)
            tick(self.clock.now)

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


def ledger_rows(path: Path) -> list[tuple[int, str, float, float]]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT session_id, crew_id, bin_start, msv FROM ledger_bins "
            "ORDER BY session_id, crew_id, bin_start"
        ).fetchall()
    db.close()
    return rows


def ledger_dose(path: Path, session_id: int | None = None) -> dict[str, float]:
    out: dict[str, float] = {}
    for sid, crew, _start, msv in ledger_rows(path):
        if session_id is None or sid == session_id:
            out[crew] = out.get(crew, 0.0) + msv
    return out


def test_a_restarted_console_keeps_the_dose_of_the_session_before(
    dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    path = tmp_path / "dose_ledger.sqlite"
    first = Live(dictionary, path, T0)
    first.run(T0 + 2.5 * HOUR)
    # Completed bins are on disk while the session runs: a crash now would
    # lose at most the current partial bin.
    _t, until, bins = first.estimator.session_bins()
    current = math.floor(until / HOUR) * HOUR
    written = ledger_dose(path)
    for crew in first.snapshot().crew:
        completed = math.fsum(m for s, m in bins[crew.crew_id].items() if s < current)
        assert completed > 0
        assert completed - 1e-12 <= written[crew.crew_id] <= crew.session_msv
    first.session.stop()
    one = {c.crew_id: c for c in first.snapshot().crew}
    assert ledger_dose(path) == pytest.approx(
        {k: c.session_msv for k, c in one.items()}
    )

    # The next console starts after a gap, in the same hour bin as the
    # first one's last samples.
    second = Live(dictionary, path, T0 + 2.55 * HOUR)
    seeded = second.snapshot()
    assert "includes 2.5 h from earlier sessions (ledger)" in seeded.history_note
    for crew in seeded.crew:
        before = one[crew.crew_id]
        assert crew.session_msv == 0.0
        assert crew.dose_30d_msv == pytest.approx(before.session_msv, rel=1e-12)
        assert crew.dose_1y_msv == pytest.approx(before.session_msv, rel=1e-12)
        assert crew.career_msv == pytest.approx(before.career_msv, rel=1e-12)
        assert crew.earlier_msv == pytest.approx(before.session_msv, rel=1e-12)
    second.run(T0 + 4 * HOUR)
    second.session.stop()
    two = second.snapshot()
    for crew in two.crew:
        before = one[crew.crew_id]
        both = before.session_msv + crew.session_msv
        assert 0 < crew.session_msv < both
        assert crew.dose_30d_msv == pytest.approx(both, rel=1e-9)
        assert crew.dose_1y_msv == pytest.approx(both, rel=1e-9)
        e_per_h = second.estimator.limits.conversion.effective_per_h
        assert crew.career_msv == pytest.approx(
            before.career_msv + e_per_h * crew.session_msv
        )
        assert crew.career_fraction == crew.career_msv / crew.career_limit_msv

    # The ledger holds both sessions; the hour both touched has both parts.
    assert ledger_dose(path, 1) == pytest.approx(
        {k: c.session_msv for k, c in one.items()}
    )
    assert ledger_dose(path, 2) == pytest.approx(
        {c.crew_id: c.session_msv for c in two.crew}
    )
    shared = math.floor((T0 + 2.5 * HOUR) / HOUR) * HOUR
    assert {s for s, c, b, _m in ledger_rows(path) if c == "c1" and b == shared} == {
        1,
        2,
    }
    with sqlite3.connect(path) as db:
        spans = db.execute(
            "SELECT first_sample, last_sample FROM ledger_sessions ORDER BY session_id"
        ).fetchall()
    db.close()
    assert spans == [
        (T0, first.snapshot().time),
        (pytest.approx(T0 + 2.55 * HOUR, abs=60.0), two.time),
    ]


def test_a_concurrent_console_reads_the_ledger_but_does_not_write_it(
    dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    path = tmp_path / "dose_ledger.sqlite"
    earlier = Live(dictionary, path, T0)
    earlier.run(T0 + 1.5 * HOUR)
    earlier.session.stop()
    dose = earlier.snapshot().member("c1").session_msv

    writer = Live(dictionary, path, T0 + 2 * HOUR)
    reader = Live(dictionary, path, T0 + 2 * HOUR)
    try:
        assert writer.session.ledger is not None and writer.session.ledger.writable
        assert reader.session.ledger is not None
        assert not reader.session.ledger.writable
        note = reader.snapshot().history_note
        assert "ledger read-only: another console writes it" in note
        assert "includes" in note  # it still counts the earlier session
        assert reader.snapshot().member("c1").dose_30d_msv == pytest.approx(dose)
        ((detail, severity),) = reader.ledger_events()
        assert "ledger read-only" in detail
        assert severity == Severity.WATCH
        assert "read-only" not in writer.snapshot().history_note
        for live in (writer, reader):
            live.run(T0 + 3 * HOUR)
        reader.session.stop()
        assert {s for s, *_ in ledger_rows(path)} <= {1, 2}
    finally:
        writer.session.stop()
        reader.session.stop()
    # Only the writer's dose was added (once, not twice).
    total = earlier.snapshot().member("c1").session_msv
    total += writer.snapshot().member("c1").session_msv
    assert ledger_dose(path)["c1"] == pytest.approx(total)
    # The lock went with the writer: the next console writes.
    after = DoseLedger(
        path, roster_version="v", roster_sha256="x", bin_s=HOUR, opened=T0
    )
    assert after.writable
    after.close()


def test_replay_neither_reads_nor_writes_the_ledger(
    dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    path = tmp_path / "dose_ledger.sqlite"
    archive = tmp_path / "live.sqlite"
    earlier = Live(dictionary, path, T0)
    earlier.run(T0 + HOUR)
    earlier.session.stop()
    live = Live(dictionary, path, T0 + 2 * HOUR, archive=archive)
    live.run(T0 + 3 * HOUR)
    live.session.stop()
    recorded = live.snapshot().member("c1")
    assert recorded.dose_30d_msv > recorded.session_msv  # live counted the earlier
    before = path.read_bytes()

    derivers = replay_derivers(dictionary)
    estimator: Any = derivers[0]
    with SessionReader(archive) as reader:
        pipeline = Pipeline(dictionary, ChannelStore(), AlarmBook(), derivers=derivers)
        engine = ReplayEngine(reader, pipeline)
        engine.seek(reader.end + 1.0)
        replayed = estimator.snapshot()
    assert replayed.history_note == ""
    c1 = replayed.member("c1")
    assert c1.session_msv == pytest.approx(recorded.session_msv, rel=1e-9)
    assert c1.dose_30d_msv == pytest.approx(c1.session_msv, rel=1e-9)
    assert c1.earlier_msv == 0.0
    assert path.read_bytes() == before
    with ArchiveReader(archive) as reader_:
        assert reader_.info()["frames"] > 0


def test_the_ledger_is_private_to_its_owner(
    dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    path = tmp_path / "data" / "dose_ledger.sqlite"
    live = Live(dictionary, path, T0)
    live.run(T0 + 0.2 * HOUR)
    live.session.stop()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lock = path.with_name("dose_ledger.sqlite.lock")
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "content",
    [b"this is not a database" * 100, None],
    ids=["garbage", "another-sqlite-file"],
)
def test_an_unusable_ledger_is_left_untouched_and_reported(
    dictionary: TelemetryDictionary, tmp_path: Path, content: bytes | None
) -> None:
    """Decision: the console runs without earlier dose and says so; the file is
    kept as it is (never overwritten or moved) for someone to look at."""
    path = tmp_path / "dose_ledger.sqlite"
    if content is None:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE frames (t REAL)")
        db.close()
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    live = Live(dictionary, path, T0)
    assert live.session.ledger is None
    ((detail, severity),) = live.ledger_events()
    assert severity == Severity.WARNING
    assert str(path) in detail and "earlier sessions left out" in detail
    assert "dose ledger unusable" in live.snapshot().history_note
    live.run(T0 + 0.2 * HOUR)
    live.session.stop()
    assert live.snapshot().member("c1").session_msv > 0
    assert path.read_bytes() == before
    with pytest.raises(LedgerError, match="not a"):
        DoseLedger(path, roster_version="v", roster_sha256="x", bin_s=HOUR, opened=T0)


def test_rows_of_crew_no_longer_in_the_roster_are_ignored(
    dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    path = tmp_path / "dose_ledger.sqlite"
    old = DoseLedger(
        path, roster_version="old", roster_sha256="0" * 64, bin_s=HOUR, opened=T0
    )
    old.record(T0, T0 + 2 * HOUR, {"c1": {T0: 0.25}, "gone": {T0: 9.0}})
    old.close()
    live = Live(dictionary, path, T0 + 3 * HOUR)
    snap = live.snapshot()
    assert "roster changed since" in snap.history_note
    assert snap.member("c1").dose_30d_msv == pytest.approx(0.25)
    # The ledger holds area H; the career is effective dose E.
    assert snap.member("c1").career_msv == pytest.approx(
        snap.member("c1").prior_msv + E_PER_H * 0.25
    )
    assert snap.member("c2").dose_30d_msv == 0.0
    live.session.stop()


def test_dose_before_the_mission_counts_in_the_windows_not_the_career(
    dictionary: TelemetryDictionary,
) -> None:
    estimator: DoseEstimator = build_derivers(dictionary)[0]  # type: ignore[assignment]
    before_mission = T0 - 10 * DAY  # 2025-08-25: the roster's mission starts 09-01
    estimator.seed_history(
        {
            "c1": [(before_mission, before_mission + HOUR, 0.5), (T0, T0 + HOUR, 0.25)],
            "nobody": [(T0, T0 + HOUR, 7.0)],
        },
        now=T0 + 2 * HOUR,
        note="seeded",
    )
    c1 = estimator.snapshot().member("c1")
    assert c1.dose_30d_msv == pytest.approx(0.75)
    assert c1.earlier_msv == pytest.approx(0.25)
    assert c1.career_msv == pytest.approx(c1.prior_msv + E_PER_H * 0.25)
    # 40 days on, the pre-mission hour has left the 30-day window.
    estimator.seed_history(
        {"c1": [(before_mission, before_mission + HOUR, 0.5)]}, now=T0 + 40 * DAY
    )
    c1 = estimator.snapshot().member("c1")
    assert (c1.dose_30d_msv, c1.dose_1y_msv) == (0.0, pytest.approx(0.5))


def test_reset_and_checkpoints_keep_the_seed(
    dictionary: TelemetryDictionary,
) -> None:
    derivers = build_derivers(dictionary)
    estimator: DoseEstimator = derivers[0]  # type: ignore[assignment]
    estimator.seed_history(
        {"c1": [(T0 - HOUR, T0, 0.5)]}, now=T0, note="includes earlier"
    )
    pipeline = Pipeline(dictionary, ChannelStore(), AlarmBook(), derivers=derivers)
    sim = Simulator(dictionary, seed=3, rate_scale=60.0, start_time=T0)
    frames = list(sim.frames_until(T0 + HOUR))
    half = len(frames) // 2
    for frame in frames[:half]:
        pipeline.ingest(frame.encode(), float(frame.times.max()))
    state = estimator.checkpoint()
    at_half = estimator.snapshot().member("c1")
    assert at_half.dose_30d_msv == pytest.approx(at_half.session_msv + 0.5)
    for frame in frames[half:]:
        pipeline.ingest(frame.encode(), float(frame.times.max()))
    estimator.restore(state)
    restored = estimator.snapshot().member("c1")
    assert (restored.session_msv, restored.dose_30d_msv, restored.career_msv) == (
        at_half.session_msv,
        at_half.dose_30d_msv,
        at_half.career_msv,
    )
    estimator.reset()
    snap = estimator.snapshot()
    assert snap.history_note == "includes earlier"
    assert snap.member("c1").session_msv == 0.0
    assert snap.member("c1").career_msv == pytest.approx(
        snap.member("c1").prior_msv + E_PER_H * 0.5
    )


def test_a_recording_republished_live_is_not_written_to_the_ledger(
    dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    """Recorded times (``kibo-console replay`` over ZeroMQ) are not crew dose now."""
    path = tmp_path / "dose_ledger.sqlite"
    console = Live(dictionary, path, T0)
    tick = console.session.subscriber.on_tick
    assert tick is not None
    for frame in console.sim.frames_until(T0 + 2.5 * HOUR):
        console.clock.now = float(frame.times.max()) + 10 * DAY  # received today
        assert console.session.pipeline.ingest(frame.encode(), console.clock.now)
        tick(console.clock.now)
    console.session.stop()
    assert console.snapshot().crew[0].session_msv > 0  # shown, but not recorded
    assert ledger_rows(path) == []
    notes = [d for d, _s in console.ledger_events() if d.startswith("not written")]
    assert len(notes) == 1 and "not live" in notes[0]


def test_the_earlier_time_included_reads_in_a_fitting_unit() -> None:
    from telemetry.live.ledger_keeper import span_text as _span_text

    assert _span_text(14.2) == "14 s"  # a short demo is not "0 min"
    assert _span_text(720.0) == "12 min"
    assert _span_text(9000.0) == "2.5 h"
    assert _span_text(3.2 * DAY) == "3.2 d"


# ------------------------------------------------ failed writes (finding L1)
# Another program holding the ledger locked for a few seconds (an ``sqlite3``
# shell, a backup) used to stop the session writing it for good, silently:
# the next console then started from a ledger missing this session's dose.


class Lock:
    """Another program's write lock on the ledger, taken and released by the test."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, timeout=0.1, isolation_level=None)

    def take(self) -> None:
        self.db.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.db.execute("ROLLBACK")

    def close(self) -> None:
        self.db.close()  # idempotent


@pytest.fixture
def lock(tmp_path: Path) -> Iterator[Lock]:
    held = Lock(tmp_path / "dose_ledger.sqlite")
    yield held
    held.close()


def ledger_alarm(live: Live) -> Severity | None:
    alarm = next(
        (a for a in live.session.alarms.snapshot() if a.key == LEDGER_ALARM), None
    )
    return alarm.severity if alarm is not None else None


def test_a_ledger_locked_for_seconds_is_written_again_with_the_whole_session(
    dictionary: TelemetryDictionary, tmp_path: Path, lock: Lock
) -> None:
    path = tmp_path / "dose_ledger.sqlite"
    live = Live(dictionary, path, T0)
    live.run(T0 + 0.3 * HOUR)
    assert ledger_alarm(live) is None
    lock.take()
    # The next bin edge (T0 + 0.44 h) falls inside the lock.
    tick = live.session.subscriber.on_tick
    assert tick is not None
    live.run(T0 + 0.6 * HOUR)
    # While it fails: an alarm, a WARNING event and the panel's text say so.
    assert ledger_alarm(live) == Severity.WARNING
    problem = live.snapshot().ledger_problem
    assert problem.startswith("dose ledger not written since ")
    assert "database is locked" in problem
    assert any(
        d.startswith("dose ledger not written since") and s == int(Severity.WARNING)
        for d, s in live.ledger_events()
    )
    # A retry waits briefly for the lock, not SQLite's 5 s: the thread that
    # drives the pipeline keeps ingesting.
    live.clock.now += RETRY_S + 1.0
    began = time.monotonic()
    tick(live.clock.now)
    assert time.monotonic() - began < 1.0
    assert ledger_alarm(live) == Severity.WARNING
    lock.release()
    live.run(T0 + 0.7 * HOUR)
    # Written again: alarm returned (a WARNING leaves the list), panel text
    # cleared, an event says so.
    assert ledger_alarm(live) is None
    assert live.snapshot().ledger_problem == ""
    events = live.ledger_events()
    assert any(d.startswith("dose ledger written again") for d, _s in events)
    live.run(T0 + 2.2 * HOUR)
    live.session.stop()
    assert live.session.ledger_loss() is None
    session = {c.crew_id: c.session_msv for c in live.snapshot().crew}
    written = ledger_dose(path)
    for crew_id, msv in session.items():
        assert written[crew_id] == pytest.approx(msv, rel=1e-9)
    lock.close()


def test_a_ledger_still_locked_at_stop_ends_with_a_data_lost_line(
    dictionary: TelemetryDictionary,
    tmp_path: Path,
    lock: Lock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "dose_ledger.sqlite"
    live = Live(dictionary, path, T0)
    live.run(T0 + 1.0 * HOUR)
    before = ledger_dose(path)
    lock.take()
    live.run(T0 + 1.5 * HOUR)
    live.session.stop()
    lock.release()
    lock.close()
    loss = live.session.ledger_loss()
    assert loss is not None and loss.written
    # What is missing is exactly the session's dose the ledger lacks.
    session = {c.crew_id: c.session_msv for c in live.snapshot().crew}
    after = ledger_dose(path)
    assert after == before
    for crew_id, missing in loss.missing:
        assert missing == pytest.approx(session[crew_id] - after[crew_id], rel=1e-9)
        assert missing > 0
    assert report_loss(None, True, None, [loss.what()]) == EXIT_DATA_LOST
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith("kibo-console: DATA LOST: crew dose not recorded: ")
    assert str(path) in last and "not written since" in last
    assert "database is locked" in last


def test_a_session_whose_ledger_never_failed_reports_nothing(
    dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    live = Live(dictionary, tmp_path / "dose_ledger.sqlite", T0)
    live.run(T0 + 0.5 * HOUR)
    live.session.stop()
    assert live.session.ledger_loss() is None
