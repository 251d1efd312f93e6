"""What the radiation panel shows of a real dose ledger file: record, bias, years."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from telemetry.radiation.dose_record import PassiveReading
from telemetry.radiation.ledger import DoseLedger
from telemetry.radiation.record_summary import (
    record_line,
    record_tooltip,
    summarize_ledger,
    year_line,
)
from telemetry.radiation.roster import DEFAULT_LIMITS, DoseLimits

if TYPE_CHECKING:
    from pathlib import Path

HOUR = 3600.0
RATE = 0.02  # mSv of H per hour in every estimated bin


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def write_ledger(path: Path) -> None:
    """Ten days of c1's estimate, two readouts of c1 (the later one 20 % above)."""
    ledger = DoseLedger(
        path, roster_version="v", roster_sha256="x", bin_s=HOUR, opened=0.0
    )
    start = utc(2025, 11, 1)
    bins = {"c1": {start + i * HOUR: RATE for i in range(240)}}
    assert ledger.record(start, start + 240 * HOUR, bins) == 240
    ledger.add_records(
        [
            PassiveReading("c1", utc(2025, 6, 1), utc(2025, 7, 1), 9.0, "H", "TLD-1"),
            PassiveReading(
                "c1", start, start + 240 * HOUR, 6.0, "H", "PADLES PDP-0412"
            ),
        ],
        adopt_records=True,
        source="padles.csv",
        imported=start + 300 * HOUR,
    )
    ledger.close()


@pytest.fixture
def limits() -> DoseLimits:
    return DoseLimits.load(DEFAULT_LIMITS)


def test_latest_record_its_bias_and_this_years_totals(
    tmp_path: Path, limits: DoseLimits
) -> None:
    path = tmp_path / "dose_ledger.sqlite"
    write_ledger(path)
    now = utc(2025, 12, 1)
    summary = summarize_ledger(path, ["c1", "c2"], limits, bin_s=HOUR, now=now)
    assert summary.error == ""
    c1 = summary.crew["c1"]
    assert c1.records == 2
    assert c1.latest is not None
    assert c1.latest.dosimeter == "PADLES PDP-0412"  # the later period
    assert c1.latest.record_msv == 6.0
    assert c1.latest.bias_msv == pytest.approx(240 * RATE - 6.0)
    # Both years holding 1 Dec 2025 sum the two adopted records (15 mSv H).
    assert {y.label: y.total_msv for y in c1.years} == pytest.approx(
        {"CY2025": 15.0, "FY2025": 15.0}
    )
    use = c1.annual
    assert use is not None
    conv = limits.conversion
    bfo = 15.0 / conv.quality_factor * conv.organ_depth["BFO"] * conv.rbe
    assert (use.label, use.unit, use.limit) == ("BFO 1 y", "mGy-Eq", 500.0)
    assert use.dose == pytest.approx(bfo)
    assert use.fraction == pytest.approx(bfo / 500.0)
    assert record_line(c1) == (
        "record H 6.00 mSv · 2025-11-01–11-11 · PADLES PDP-0412 · "
        "bias −1.20 mSv (−20.0 %)"
    )
    assert year_line(c1) == (
        f"CY2025 15.0 mSv · FY2025 15.0 mSv H · BFO 1 y 1.5 % "
        f"({bfo:.2f} mGy-Eq / 500 mGy-Eq)"
    )
    tip = record_tooltip(c1, summary)
    assert "latest of 2 dose(s) of record" in tip and str(path) in tip
    # A crew member without anything in the ledger.
    c2 = summary.crew["c2"]
    assert (c2.latest, c2.years, c2.annual) == (None, (), None)
    assert record_line(c2) == "no dose of record in the ledger"
    assert year_line(c2) == "no ledger dose this year"


def test_a_new_year_starts_from_zero(tmp_path: Path, limits: DoseLimits) -> None:
    path = tmp_path / "dose_ledger.sqlite"
    write_ledger(path)
    summary = summarize_ledger(path, ["c1"], limits, bin_s=HOUR, now=utc(2026, 5, 1))
    c1 = summary.crew["c1"]
    assert c1.latest is not None  # the record is still the latest one
    assert c1.years == () and c1.annual is None  # nothing in CY2026 or FY2026


def test_a_missing_or_broken_ledger_is_said_not_raised(
    tmp_path: Path, limits: DoseLimits
) -> None:
    missing = summarize_ledger(
        tmp_path / "none.sqlite", ["c1"], limits, bin_s=HOUR, now=0.0
    )
    assert missing.error == "" and missing.crew["c1"].latest is None
    assert not (tmp_path / "none.sqlite").exists()  # reading never creates it
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(b"not a database at all" * 100)
    summary = summarize_ledger(broken, ["c1"], limits, bin_s=HOUR, now=0.0)
    assert str(broken) in summary.error and summary.crew == {}
