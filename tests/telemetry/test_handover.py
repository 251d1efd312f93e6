"""Shift handover report from a recorded archive: contents, ranges, escaping."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.core.severity import Severity
from telemetry.faults.injection import FaultPlan
from telemetry.radiation.roster import DoseLimits
from telemetry.reports.handover import read_handover, write_handover_report
from telemetry.sim.recording import record_simulated_session

if TYPE_CHECKING:
    from telemetry.core.pipeline import Pipeline

REPO = Path(__file__).resolve().parents[2]
SILENT = REPO / "replay_data" / "faults" / "ib2-a-silent.toml"
START = 1_750_000_000.0
HOSTILE = "<script>alert('x')</script>"
OPERATOR = "<i>ops</i>"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 minutes with dose, ib2-a silent T+5:00..7:00, operator actions, bad input."""
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    path = tmp_path_factory.mktemp("handover") / "shift.sqlite"
    done: set[str] = set()

    def operator(pipeline: Pipeline, t: float) -> None:
        def once(name: str) -> bool:
            if name in done:
                return False
            done.add(name)
            return True

        alarms, writer = pipeline.alarms, pipeline.archive
        if t >= START + 50 and once("bookmark"):
            writer.put_bookmark(t, "<img src=x onerror=alert(1)>", "survey start")  # type: ignore[union-attr]
        if t >= START + 60 and once("rejects"):
            pipeline.ingest([b"robot.ib2-b", b"\xc1 not msgpack"], t)
            pipeline.ingest([b"rad.evil<b>", b"{broken json"], t)
        if t >= START + 100 and once("note"):
            alarms.note(t, "jpm", f"cabin fine {HOSTILE}")
        if t >= START + 310 and once("ack"):
            alarms.acknowledge(["link:ib2-a"], t, "robot A lost, calling crew")
        if t >= START + 340 and once("shelve"):
            alarms.shelve(["c2.career_fraction"], t, 30, HOSTILE)

    record_simulated_session(
        path,
        dictionary,
        8 * 60,
        capacity=1000,
        faults=FaultPlan.load(SILENT, dictionary),
        operator=OPERATOR,
        before_frame=operator,
    )
    return path


def test_whole_archive_handover(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "handover.html"
    page = write_handover_report(archive, None, None, out)
    assert out.read_text(encoding="utf-8") == page
    data = read_handover(archive)

    alarms = {a.key: a for a in data.alarms}
    link = alarms["link:ib2-a"]
    assert (link.raised, link.peak, link.level_at_end) == (1, 3, 0)
    assert [a.comment for a in link.acks] == ["robot A lost, calling crew"]
    assert [a.operator for a in link.acks] == [OPERATOR]
    career = alarms["c2.career_fraction"]
    assert career.level_at_end > 0 and len(career.shelves) == 1  # still open
    assert data.alarms[0].key == "c2.career_fraction"  # open alarms come first

    (outage,) = data.outages
    assert (outage.source, outage.start, outage.end, outage.worst) == (
        "ib2-a",
        START + 305,
        START + 420,
        "down",
    )
    assert [g.detail for g in data.gaps] == ["missed 120 message(s): seq 299 -> 420"]
    assert sum(count for _, _, count, _ in data.rejected) == 2
    assert {r[0] for r in data.rejected} == {"ib2-b", "evil<b>"}

    crews = {d.crew: d for d in data.dose}
    assert sorted(crews) == ["c1", "c2", "c3", "c4"]
    for d in crews.values():
        assert d.accrued_msv is not None and d.accrued_msv > 0
        # Accrued career dose is effective dose E; session dose is area H.
        e_per_h = DoseLimits.load().conversion.effective_per_h
        assert e_per_h * d.session_msv == pytest.approx(d.accrued_msv, rel=0.05)

    assert f"OPEN {Severity(career.level_at_end).name}" in page
    # Acknowledged while stale; the later CRITICAL needs a fresh ack: it latches.
    assert not link.acked
    assert "returned, CRITICAL latched until acknowledged" in page
    assert "still out" not in page
    assert "0:01:55" in page  # the link outage, 305 s to 420 s
    assert "µSv" in page
    assert "missed 120 message(s)" in page
    assert "survey start" in page and "robot A lost, calling crew" in page


def test_hostile_strings_are_escaped_and_the_page_is_self_contained(
    archive: Path, tmp_path: Path
) -> None:
    page = write_handover_report(archive, None, None, tmp_path / "h.html")
    assert "<script" not in page and "<img" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "evil&lt;b&gt;" in page
    assert "&lt;i&gt;ops&lt;/i&gt;" in page
    # Inline CSS only: nothing to fetch.
    assert not re.search(r"<link|src=\"|href=|url\(|@import", page)
    assert page.count("<style>") == 1


def test_a_shift_range_covers_only_its_part(archive: Path) -> None:
    whole = read_handover(archive)
    late = read_handover(archive, START + 400, START + 480)
    link = {a.key: a for a in late.alarms}["link:ib2-a"]
    assert link.open_at_start == 3 and link.raised == 0 and link.level_at_end == 0
    assert late.notes == [] and late.bookmarks == [] and late.rejected == []
    assert [g.time for g in late.gaps] == [START + 420]
    for part, full in zip(late.dose, whole.dose, strict=True):
        assert part.accrued_msv is not None and full.accrued_msv is not None
        assert 0 < part.accrued_msv < full.accrued_msv
    early = read_handover(archive, START, START + 200)
    assert [n.comment for n in early.notes] == [f"cabin fine {HOSTILE}"]
    assert early.outages == [] and early.gaps == []


def test_report_goes_to_stdout_without_an_output(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = write_handover_report(archive, START, START + 60, None)
    assert capsys.readouterr().out == page
    assert page.startswith("<!DOCTYPE html>")


def test_an_archive_without_dose_channels_says_so(tmp_path: Path) -> None:
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    path = tmp_path / "nodose.sqlite"
    record_simulated_session(path, dictionary, 30, derivers=[], capacity=100)
    page = write_handover_report(path, None, None, tmp_path / "h.html")
    assert "No crew dose channels in this archive." in page
    assert "No link outage." in page and "No rejected frame." in page
