"""Dose of record: passive readouts imported into a real ledger file, by the real CLI.

Beside the estimate with its bias, adopted (the estimate kept beside), and the
calendar- and fiscal-year totals a radiation officer signs.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from telemetry.radiation.ledger import DoseLedger

if TYPE_CHECKING:
    from pathlib import Path

HOUR = 3600.0
RATE = 0.02  # mSv per hour in every estimated bin


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def kibo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_estimate(path: Path, start: float, end: float, crew: str = "c1") -> None:
    """One live session's hourly estimate, as the console writes it."""
    ledger = DoseLedger(
        path, roster_version="v", roster_sha256="x", bin_s=HOUR, opened=start
    )
    n = round((end - start) / HOUR)
    bins = {crew: {start + i * HOUR: RATE for i in range(n)}}
    assert ledger.record(start, end, bins) == n
    ledger.close()


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "dose_ledger.sqlite"
    write_estimate(path, utc(2025, 12, 30), utc(2026, 1, 2))  # 72 h, across CY
    write_estimate(path, utc(2026, 3, 27), utc(2026, 4, 6))  # 240 h, across FY
    return path


def readouts(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "padles.csv"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = (
    "crew_id,start,end,dose_msv,quantity,dosimeter\n"
    "c1,2026-03-27,2026-04-06,6.0,H,PADLES PDP-0412\n"
)


def estimate_total(path: Path) -> float:
    with sqlite3.connect(path) as db:
        return float(db.execute("SELECT SUM(msv) FROM ledger_bins").fetchone()[0])


def test_a_readout_is_shown_beside_the_estimate_and_adopted(
    ledger: Path, tmp_path: Path
) -> None:
    csv_path = readouts(tmp_path, GOOD)
    done = kibo(
        "dose-record", "import", str(csv_path), "--ledger", str(ledger), "--json"
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    (rec,) = out["records"]
    assert rec["crew_id"] == "c1" and rec["dosimeter"] == "PADLES PDP-0412"
    assert rec["record_msv"] == 6.0
    assert rec["estimate_msv"] == pytest.approx(240 * RATE)
    assert rec["bias_msv"] == pytest.approx(240 * RATE - 6.0)
    assert rec["bias_fraction"] == pytest.approx(-0.2)
    assert rec["estimate_covered_fraction"] == pytest.approx(1.0)
    assert rec["adopted"] is True
    years = {(y["crew_id"], y["year"]): y for y in out["years"]}
    # Calendar year: 2025 is two estimated days; 2026 one estimated day + record.
    assert years["c1", "CY2025"]["total_msv"] == pytest.approx(48 * RATE)
    assert years["c1", "CY2026"]["estimate_msv"] == pytest.approx(264 * RATE)
    assert years["c1", "CY2026"]["total_msv"] == pytest.approx(24 * RATE + 6.0)
    # JAXA fiscal year (April-March): the record splits at 1 April.
    assert years["c1", "FY2025"]["total_msv"] == pytest.approx(72 * RATE + 3.0)
    assert years["c1", "FY2025"]["record_msv"] == pytest.approx(3.0)
    assert years["c1", "FY2026"]["total_msv"] == pytest.approx(3.0)
    # The estimate is kept beside the record; a restarted console starts from it.
    assert estimate_total(ledger) == pytest.approx(312 * RATE)
    reader = DoseLedger(
        ledger, roster_version="v", roster_sha256="x", bin_s=HOUR, opened=0.0
    )
    history = reader.history(["c1"])
    reader.close()
    assert history.total_msv("c1") == pytest.approx(72 * RATE + 6.0)
    assert history.records == 1
    # The same file again changes nothing.
    again = kibo("dose-record", "import", str(csv_path), "--ledger", str(ledger))
    assert again.returncode == 0 and "1 already imported" in again.stderr
    shown = kibo("dose-record", "show", "--ledger", str(ledger), "--json")
    assert len(json.loads(shown.stdout)["records"]) == 1


def test_not_adopted_the_readout_stays_beside_the_estimate(
    ledger: Path, tmp_path: Path
) -> None:
    csv_path = readouts(tmp_path, GOOD)
    done = kibo(
        "dose-record", "import", str(csv_path), "--ledger", str(ledger), "--no-adopt"
    )
    assert done.returncode == 0, done.stderr
    assert "bias -1.20 mSv (-20.0 %)" in done.stdout
    reader = DoseLedger(
        ledger, roster_version="v", roster_sha256="x", bin_s=HOUR, opened=0.0
    )
    assert reader.history(["c1"]).total_msv("c1") == pytest.approx(312 * RATE)
    reader.close()


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ("c9,2026-03-27,2026-04-06,6.0,H,x", ":3: unknown crew id 'c9'"),
        ("c2,27/03/2026,2026-04-06,6.0,H,x", ":3: start '27/03/2026' is not an ISO"),
        ("c2,2026-04-06,2026-03-27,6.0,H,x", ":3: end 2026-03-27 is not after start"),
        ("c2,2026-03-27,2026-04-06,-1,H,x", ":3: dose_msv '-1' is not a dose"),
        ("c2,2026-03-27,2026-04-06,nan,H,x", ":3: dose_msv 'nan' is not a dose"),
        ("c2,2026-03-27,2026-04-06,1.0,Gy,x", ":3: quantity 'Gy'"),
        # A dose of record that would put the crew member over every limit.
        ("c2,2026-03-27,2026-04-06,1e308,H,x", ":3: dose_msv 1e+308 over 10 days"),
        ("c2,2026-03-01,2026-03-31,5000,H,x", ":3: dose_msv 5000 over 30 days"),
        ("c2,2026-03-27,2026-03-28,60,H,x", "not plausible"),
        ("c2,1970-01-01,1970-02-01,1.0,H,x", ":3: start 1970-01-01 is before 2000"),
        ("c2,2226-03-27,2226-04-06,6.0,H,x", ":3: end 2226-04-06 is in the future"),
        ("c2,2026-03-27,2026-04-06,6.0,H,\x1b[31mP1", "control characters"),
        ("c1,2026-04-01,2026-04-03,1.0,H,x", ":3: c1's readout overlaps line 2"),
    ],
)
def test_a_bad_row_is_named_and_nothing_is_imported(
    ledger: Path, tmp_path: Path, row: str, says: str
) -> None:
    csv_path = readouts(tmp_path, GOOD + row + "\n")
    done = kibo("dose-record", "import", str(csv_path), "--ledger", str(ledger))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and says in done.stderr
    assert str(csv_path) in done.stderr
    with sqlite3.connect(ledger) as db:
        assert db.execute("SELECT COUNT(*) FROM ledger_records").fetchone()[0] == 0


def test_a_readout_overlapping_one_in_the_ledger_is_refused(
    ledger: Path, tmp_path: Path
) -> None:
    assert (
        kibo(
            "dose-record",
            "import",
            str(readouts(tmp_path, GOOD)),
            "--ledger",
            str(ledger),
        ).returncode
        == 0
    )
    other = tmp_path / "other.csv"
    other.write_text("crew_id,start,end,dose_msv\nc1,2026-04-01,2026-05-01,9\n")
    done = kibo("dose-record", "import", str(other), "--ledger", str(ledger))
    assert done.returncode == 2
    assert "overlaps a dose of record already in the ledger" in done.stderr


def test_import_waits_for_the_running_console_to_release_the_ledger(
    ledger: Path, tmp_path: Path
) -> None:
    running = DoseLedger(
        ledger, roster_version="v", roster_sha256="x", bin_s=HOUR, opened=0.0
    )
    try:
        assert running.writable
        done = kibo(
            "dose-record",
            "import",
            str(readouts(tmp_path, GOOD)),
            "--ledger",
            str(ledger),
        )
    finally:
        running.close()
    assert done.returncode == 2
    assert "in use by a running console" in done.stderr


def test_data_dir_finds_the_ledger(ledger: Path, tmp_path: Path) -> None:
    done = kibo(
        "dose-record",
        "import",
        str(readouts(tmp_path, GOOD)),
        "--data-dir",
        str(ledger.parent),
    )
    assert done.returncode == 0, done.stderr
    assert "record H 6.00 mSv" in done.stdout


def test_dose_report_shows_the_record_beside_the_estimate_and_the_years(
    ledger: Path, tmp_path: Path
) -> None:
    from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
    from telemetry.sim.recording import record_simulated_session

    archive = tmp_path / "session.sqlite"
    record_simulated_session(
        archive, TelemetryDictionary.load(DEFAULT_DICTIONARY), 60.0
    )
    assert (
        kibo(
            "dose-record",
            "import",
            str(readouts(tmp_path, GOOD)),
            "--ledger",
            str(ledger),
        ).returncode
        == 0
    )
    done = kibo("dose-report", "--archive", str(archive), "--ledger", str(ledger))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["dose_of_record"][0]["bias_msv"] == pytest.approx(240 * RATE - 6.0)
    assert {y["year"] for y in data["year_totals"]} >= {"CY2026", "FY2025", "FY2026"}
    page = tmp_path / "report.html"
    html = kibo(
        "dose-report", "--archive", str(archive), "--ledger", str(ledger),
        "--format", "html", "--output", str(page),
    )  # fmt: skip
    assert html.returncode == 0, html.stderr
    text = page.read_text(encoding="utf-8")
    assert "Dose of record (passive dosimeters) beside the estimate" in text
    assert "PADLES PDP-0412" in text and "-1.20 mSv (-20.0 %)" in text
    assert "FY2025" in text and "April–March" in text
    # Without --ledger the report stays the archive's own.
    plain = kibo("dose-report", "--archive", str(archive))
    assert "dose_of_record" not in json.loads(plain.stdout)


def test_a_console_starts_from_the_adopted_record(ledger: Path, tmp_path: Path) -> None:
    from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
    from telemetry.live.session import LiveSession, SessionConfig, build_derivers
    from telemetry.radiation.estimator import DoseEstimator

    csv_path = readouts(tmp_path, GOOD)
    assert (
        kibo("dose-record", "import", str(csv_path), "--ledger", str(ledger)).returncode
        == 0
    )
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    derivers = build_derivers(dictionary)
    estimator = derivers[0]
    assert isinstance(estimator, DoseEstimator)
    now = utc(2026, 4, 6, 1)
    session = LiveSession(
        dictionary,
        SessionConfig([], None, dose_ledger=ledger),
        derivers,
        clock=lambda: now,
    )
    try:
        notes = [
            e.detail for e in session.store.events_since(0) if e.kind == "dose ledger"
        ]
        assert any("1 dose(s) of record adopted" in n for n in notes)
        c1 = estimator.snapshot().member("c1")
        # The year's dose: two estimated days before, then the record.
        assert c1.dose_1y_msv == pytest.approx(72 * RATE + 6.0, rel=1e-6)
    finally:
        session.stop()
