"""Increment reports from the hourly dose bins a recording keeps in its archive.

The bins give what the replay of every frame gives (H, its 1σ, career,
limits, SAA, events), a limits change is applied without a replay, a roster
change forces one, and the SPE detector run in windows finds what it finds
over the whole series.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from typing import TYPE_CHECKING

import numpy as np
import pytest

from telemetry.archive.reader import ArchiveReader
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.live.dose_bins import BIN_CHANNEL, BINS_EVENT
from telemetry.radiation.goes import load_goes_csv
from telemetry.radiation.roster import (
    DEFAULT_LIMITS,
    DEFAULT_ROSTER,
    SpeConfig,
    load_limits,
    load_roster,
)
from telemetry.radiation.spaceweather import detect_spe
from telemetry.reports.dose_replay import replay_dose_report
from telemetry.reports.dose_results import detect_spe_windows
from telemetry.reports.increment import bins_dose_report
from telemetry.sim.recording import record_simulated_session

if TYPE_CHECKING:
    from pathlib import Path

    from telemetry.reports.dose_results import DoseReport

HOURS = 2.5


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("increment") / "session.sqlite"
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    record_simulated_session(path, dictionary, HOURS * 3600.0, batch_s=60.0)
    return path


def reports(
    path: Path, limits_path: Path = DEFAULT_LIMITS, roster_path: Path = DEFAULT_ROSTER
) -> tuple[DoseReport | None, DoseReport]:
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    limits = load_limits(limits_path)
    roster = load_roster(roster_path, limits)
    wanted = [m.id for m in roster.crew]
    args = (None, None, wanted, dictionary, roster, limits)
    fast = bins_dose_report(path, *args, min_span_s=0.0)
    return fast, replay_dose_report(path, *args)


def test_the_recorder_keeps_each_hour_once(recording: Path) -> None:
    with ArchiveReader(recording) as reader:
        t, v = reader.channel_window(f"c1.{BIN_CHANNEL}", None, None)
        (event,) = reader.events(kind=BINS_EVENT)
    assert np.all(np.diff(t) == 3600.0)  # one sample per hour, none repeated
    assert t.shape[0] == 3  # 15:06:40 to 17:36:40 UTC: hours 15, 16 and 17
    assert np.all(v > 0)
    assert "sha256 " in event.detail and "bin 3600 s" in event.detail


def test_bins_give_the_replay_s_totals(recording: Path) -> None:
    fast, slow = reports(recording)
    assert fast is not None
    assert fast.basis.endswith("no replay") and slow.basis.endswith("replayed")
    for a, b in zip(fast.crew, slow.crew, strict=True):
        assert a.crew_id == b.crew_id
        assert a.dose_equivalent_msv == pytest.approx(b.dose_equivalent_msv, rel=1e-9)
        assert a.dose_equivalent_sigma_msv == pytest.approx(
            b.dose_equivalent_sigma_msv, rel=1e-6
        )
        assert a.career_msv == pytest.approx(b.career_msv, rel=1e-12)
        assert a.career_fraction == pytest.approx(b.career_fraction, rel=1e-12)
        assert a.dose_30d_msv == pytest.approx(b.dose_30d_msv, rel=1e-9)
        # D through each hour's monitor Q̄ instead of each 10-s step's.
        assert a.absorbed_mgy == pytest.approx(b.absorbed_mgy, rel=0.05)
        assert [lim.id for lim in a.limits] == [lim.id for lim in b.limits]
    assert (fast.saa.passes, fast.saa.seconds) == (slow.saa.passes, slow.saa.seconds)
    # The replay's period ends before the last sample; the hours include it.
    assert fast.saa.samples - slow.saa.samples in (0, 1)
    assert [(e.time, e.kind) for e in fast.events] == [
        (e.time, e.kind) for e in slow.events
    ]
    assert fast.stale_flips == slow.stale_flips


def test_a_limits_change_needs_no_replay(recording: Path, tmp_path: Path) -> None:
    limits = tmp_path / "limits.toml"
    text = DEFAULT_LIMITS.read_text(encoding="utf-8")
    assert "limit_msv = 600.0" in text
    limits.write_text(text.replace("limit_msv = 600.0", "limit_msv = 300"), "utf-8")
    fast, slow = reports(recording, limits_path=limits)
    assert fast is not None
    nasa = next(c for c in fast.crew if c.career_limit_msv == 300)
    same = next(c for c in slow.crew if c.crew_id == nasa.crew_id)
    assert nasa.career_fraction == pytest.approx(same.career_fraction, rel=1e-12)
    assert nasa.career_fraction > 1.0  # 480 mSv before the flight: over 300


def test_a_crew_record_change_needs_no_replay(recording: Path, tmp_path: Path) -> None:
    roster = tmp_path / "roster.toml"
    text = DEFAULT_ROSTER.read_text(encoding="utf-8")
    assert "prior_career_msv = 12.0" in text
    roster.write_text(
        text.replace("prior_career_msv = 12.0", "prior_career_msv = 40.0"), "utf-8"
    )
    fast, slow = reports(recording, roster_path=roster)
    assert fast is not None
    c1 = next(c for c in fast.crew if c.crew_id == "c1")
    assert c1.prior_msv == 40.0
    assert c1.career_msv == pytest.approx(slow.crew[0].career_msv, rel=1e-12)


def test_a_change_of_what_the_bins_come_from_is_replayed(
    recording: Path, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.toml"
    text = DEFAULT_ROSTER.read_text(encoding="utf-8")
    assert "body_shielding_factor = 1.0" in text
    roster.write_text(
        text.replace("body_shielding_factor = 1.0", "body_shielding_factor = 0.8"),
        "utf-8",
    )
    fast, _slow = reports(recording, roster_path=roster)
    assert fast is None  # the bins were computed with another body factor


def test_the_cli_replays_short_archives_and_says_how(recording: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "console", "dose-report", "--archive", str(recording)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "late_samples" in json.loads(done.stdout)  # short: replayed as before


def test_spe_detection_in_windows_equals_the_whole_series() -> None:
    t, p10, p100 = load_goes_csv()
    # Two weeks of quiet sun either side of September 2017, at the same cadence.
    step = float(np.median(np.diff(t)))
    before = t[0] - step * np.arange(4000, 0, -1)
    after = t[-1] + step * np.arange(1, 4001)
    times = np.concatenate((before, t, after))
    quiet = np.full(4000, 0.3)
    a = np.concatenate((quiet, p10, quiet))
    b = np.concatenate((quiet / 10, p100, quiet / 10))
    whole = detect_spe(times, a, b, SpeConfig())
    assert whole  # the September 2017 events
    assert detect_spe_windows(times, a, b, SpeConfig()) == whole


def test_a_live_session_writes_each_hour_as_it_records(tmp_path: Path) -> None:
    from telemetry.live.session import LiveSession, SessionConfig, build_derivers
    from telemetry.radiation.estimator import DoseEstimator
    from telemetry.sim.simulator import Simulator

    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    start = 1_757_000_000.0
    now = [start]
    derivers = build_derivers(dictionary)
    estimator = derivers[0]
    assert isinstance(estimator, DoseEstimator)
    archive = tmp_path / "live.sqlite"
    session = LiveSession(
        dictionary, SessionConfig([], archive), derivers, clock=lambda: now[0]
    )
    assert session.archive is not None
    session.archive.start()
    tick = session.subscriber.on_tick
    assert tick is not None
    sim = Simulator(dictionary, seed=3, rate_scale=60.0, start_time=start)
    for frame in sim.frames_until(start + 2.2 * 3600.0):
        now[0] = float(frame.times.max()) + 0.05
        assert session.pipeline.ingest(frame.encode(), now[0])
        tick(now[0])
    shown = estimator.snapshot().member("c1").session_msv
    session.stop()
    with ArchiveReader(archive) as reader:
        t, v = reader.channel_window(f"c1.{BIN_CHANNEL}", None, None)
        (event,) = reader.events(kind=BINS_EVENT)
    # The first hours went to the archive while recording, not at the stop.
    assert event.time < start + 1.5 * 3600.0
    assert np.all(np.diff(t) == 3600.0)
    assert v.sum() == pytest.approx(shown, rel=1e-9)  # what the panel showed


def test_an_hour_aligned_part_of_the_archive_matches_the_replay(
    recording: Path,
) -> None:
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    limits = load_limits(DEFAULT_LIMITS)
    roster = load_roster(DEFAULT_ROSTER, limits)
    with ArchiveReader(recording) as reader:
        first = reader.info()["start"]
    start = (first // 3600.0 + 1) * 3600.0  # the first whole hour
    args = (start, start + 3600.0, ["c1", "c3"], dictionary, roster, limits)
    fast = bins_dose_report(recording, *args, min_span_s=0.0)
    slow = replay_dose_report(recording, *args)
    assert fast is not None and [c.crew_id for c in fast.crew] == ["c1", "c3"]
    for a, b in zip(fast.crew, slow.crew, strict=True):
        assert a.dose_equivalent_msv == pytest.approx(b.dose_equivalent_msv, rel=1e-6)
        assert a.career_msv == pytest.approx(b.career_msv, rel=1e-9)
    assert (fast.start, fast.end) == (slow.start, slow.end)


def test_late_data_that_revised_the_dose_forces_a_replay(
    recording: Path, tmp_path: Path
) -> None:
    """A dump after a loss of signal revises dose a bin may already hold: the
    report then integrates every sample, not the bins."""
    copy = tmp_path / "revised.sqlite"
    shutil.copyfile(recording, copy)
    with sqlite3.connect(copy) as db:
        session, t = db.execute("SELECT session, time FROM events LIMIT 1").fetchone()
        db.execute(
            "INSERT INTO events (session, time, source, kind, detail, severity)"
            " VALUES (?, ?, 'c1', 'dose revised', 'late data: +12 µSv', 1)",
            (session, t),
        )
    fast, _ = reports(copy)
    assert fast is None  # the bins are not used: the caller replays
