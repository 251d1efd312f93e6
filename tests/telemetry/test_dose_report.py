"""Dose report: an archive replayed through the live estimator gives the live totals."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from telemetry.archive.reader import ArchiveReader
from telemetry.archive.writer import ArchiveWriter
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.live.session import build_derivers
from telemetry.radiation.physics import SECONDS_PER_DAY
from telemetry.radiation.roster import DEFAULT_ROSTER, DoseLimits
from telemetry.reports.dose_report import (
    BASELINE_QUALITY,
    CREW_FIELDS,
    build_dose_report,
    render_html,
    render_json,
    write_dose_report,
)
from telemetry.sim.simulator import Simulator

if TYPE_CHECKING:
    from pathlib import Path

    from telemetry.radiation.estimator import DoseSnapshot

T0 = 1_764_547_200.0  # 2025-12-01T00:00Z
RATE_SCALE = 10.0
HOSTILE_NOTE = '<script>alert("note")</script> & <img src=x onerror=alert(1)>'


class Tags(HTMLParser):
    """Collects element and attribute names of a page (test helper)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.names.append(tag)
        self.attrs.extend(name for name, _value in attrs)


@dataclass
class Recording:
    """An archive recorded in process, and what the live estimator said at the end."""

    path: Path
    snapshot: DoseSnapshot
    store: ChannelStore
    dictionary: TelemetryDictionary


def record(path: Path, until_s: float, roster_path: Path | None = None) -> Recording:
    dictionary = TelemetryDictionary.load()
    writer = ArchiveWriter(
        path,
        dictionary_sha256=dictionary.sha256,
        dictionary_version=dictionary.version,
        operator="test",
    )
    writer.start()
    try:
        store = ChannelStore()
        derivers = build_derivers(dictionary, roster_path=roster_path)
        pipeline = Pipeline(dictionary, store, archive=writer, derivers=derivers)
        sim = Simulator(
            dictionary, 3, scenario="spe-2017-09", rate_scale=RATE_SCALE, start_time=T0
        )
        for frame in sim.frames_until(sim.scenario_time(until_s)):
            pipeline.ingest(frame.encode(), float(frame.times[-1]))
        writer.put_bookmark(sim.scenario_time(60.0), "<b>officer</b>", HOSTILE_NOTE)
    finally:
        assert writer.stop()
    snapshot = derivers[0].snapshot()  # type: ignore[attr-defined]
    return Recording(path, snapshot, store, dictionary)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    # Through the SPE onset, shelter advice and the S3 peak (s = 107.25).
    return record(tmp_path_factory.mktemp("dose") / "spe.sqlite", 150.0)


def report_json(path: Path, **kwargs: Any) -> dict[str, Any]:
    text = write_dose_report(
        path,
        kwargs.pop("start", None),
        kwargs.pop("end", None),
        kwargs.pop("crew", None),
        "json",
        kwargs.pop("output", None),
        **kwargs,
    )
    data: dict[str, Any] = json.loads(text)
    return data


def test_totals_equal_the_live_estimator_at_the_end_of_the_same_data(
    recording: Recording, capsys: pytest.CaptureFixture[str]
) -> None:
    data = report_json(recording.path)
    assert json.loads(capsys.readouterr().out) == data  # None: written to stdout
    snap = recording.snapshot
    assert set(data["crew"]) == {c.crew_id for c in snap.crew}
    days = data["period"]["days"]
    for crew in snap.crew:
        entry = data["crew"][crew.crew_id]
        assert crew.session_msv > 0
        assert entry["dose_equivalent_msv"] == pytest.approx(crew.session_msv, rel=1e-9)
        assert entry["career_msv"] == pytest.approx(crew.career_msv, rel=1e-12)
        # Career (effective dose E) includes the prior dose from the roster.
        e_per_h = DoseLimits.load().conversion.effective_per_h
        assert entry["career_msv"] == pytest.approx(
            entry["prior_msv"] + e_per_h * entry["dose_equivalent_msv"], rel=1e-12
        )
        assert entry["prior_msv"] == crew.prior_msv > 0
        assert entry["career_limit_msv"] == crew.career_limit_msv
        assert entry["career_fraction"] == pytest.approx(crew.career_fraction)
        assert entry["dose_30d_msv"] == pytest.approx(crew.dose_30d_msv, rel=1e-9)
        sigma = crew.uncertainty_rel * crew.session_msv
        assert entry["dose_equivalent_sigma_msv"] == pytest.approx(sigma, rel=1e-9)
        # Days to the career limit at the period's mean rate.
        rate = entry["dose_equivalent_msv"] / days
        assert entry["mean_rate_msv_d"] == pytest.approx(rate)
        # Under a day of data is too short to project (as the panel says).
        assert days < 1
        assert entry["days_to_career_limit"] is None
        assert entry["days_to_career_limit_basis"].startswith("insufficient data")
        assert len(entry["limits"]) == len(crew.limits)
    assert data["dictionary_version"] == recording.dictionary.version
    assert data["warnings"] == []
    assert data["late_samples"] == 0
    [spe] = data["spe_events"]
    assert spe["s_level"] == "S3"
    assert spe["peak_p10_pfu"] > 1000


def test_absorbed_dose_follows_the_dosimeters_used(recording: Recording) -> None:
    report = build_dose_report(recording.path)
    by_id = {c.crew_id: c for c in report.crew}
    with ArchiveReader(recording.path) as reader:
        t, d = reader.channel_window("pd-c2.absorbed_rate", None, None)
        _t, h = reader.channel_window("pd-c2.dose_eq_rate", None, None)
        ratios = []
        for src in ("padles-jpm-1", "tepc-uslab", "dostel-col", "rem-node2", "rem-sm"):
            _, dd = reader.channel_window(f"{src}.absorbed_rate", None, None)
            _, hh = reader.channel_window(f"{src}.dose_eq_rate", None, None)
            ratios.append(hh / dd)
    # c2 was on their own dosimeter all along: D is its absorbed dose.
    c2 = by_id["c2"]
    assert c2.time_personal_s > 0 and c2.time_area_s == 0
    held = np.diff(np.append(t, recording.snapshot.time))
    mine = float(np.sum(d * held)) / 3.6e6
    assert c2.absorbed_mgy == pytest.approx(mine, rel=0.02)
    assert c2.quality_factor == pytest.approx(h.sum() / d.sum(), rel=0.02)
    lo = min(float(r.min()) for r in ratios)
    hi = max(float(r.max()) for r in ratios)
    for crew in report.crew:
        assert 0 < crew.absorbed_mgy < crew.dose_equivalent_msv
        assert lo <= crew.quality_factor <= hi
        assert crew.quality_factor != pytest.approx(BASELINE_QUALITY, abs=1e-6)


def test_a_sub_period_is_the_difference_of_the_live_session_dose(
    recording: Recording,
) -> None:
    start = T0 + 40 * RATE_SCALE
    end = T0 + 110 * RATE_SCALE
    data = report_json(recording.path, start=start, end=end)
    assert data["period"]["start_t"] == start and data["period"]["end_t"] == end
    for crew_id, entry in data["crew"].items():
        t, y = recording.store.buffer(f"{crew_id}.dose_session").snapshot()  # type: ignore[union-attr]
        expected = float(np.interp(end, t, y) - np.interp(start, t, y))
        assert entry["dose_equivalent_msv"] == pytest.approx(expected, rel=1e-9)
        # Career and rolling doses include what came before the period.
        session_end = float(np.interp(end, t, y))
        e_per_h = DoseLimits.load().conversion.effective_per_h
        assert entry["career_msv"] == pytest.approx(
            entry["prior_msv"] + e_per_h * session_end, rel=1e-12
        )
        assert entry["dose_30d_msv"] == pytest.approx(session_end, rel=1e-6)
        # Provenance covers exactly the period.
        covered = sum(entry[f"time_{k}_s"] for k in ("personal", "area", "model"))
        assert covered == pytest.approx(end - start)
        t30, y30 = recording.store.buffer(f"{crew_id}.dose_30d").snapshot()  # type: ignore[union-attr]
        assert entry["dose_30d_msv"] == pytest.approx(
            float(np.interp(end, t30, y30)), rel=1e-6
        )


def test_csv_has_one_row_per_crew_member_with_the_json_values(
    recording: Recording, tmp_path: Path
) -> None:
    data = report_json(recording.path)
    out = tmp_path / "dose.csv"
    write_dose_report(recording.path, None, None, None, "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["crew_id"] for r in rows] == list(data["crew"])
    assert tuple(rows[0]) == CREW_FIELDS
    for row in rows:
        entry = data["crew"][row["crew_id"]]
        for name in ("absorbed_mgy", "dose_equivalent_msv", "career_msv"):
            assert float(row[name]) == entry[name]
        assert row["name"] == entry["name"]


def test_crew_filter_and_bad_arguments(recording: Recording) -> None:
    data = report_json(recording.path, crew=["c2"])
    assert list(data["crew"]) == ["c2"]
    with pytest.raises(ValueError, match="unknown crew id 'c9'"):
        build_dose_report(recording.path, crew=["c9"])
    with pytest.raises(ValueError, match="unknown format"):
        write_dose_report(recording.path, None, None, None, "xml", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty period"):
        build_dose_report(recording.path, T0 + 100, T0 + 50)


def test_the_report_writes_nothing_to_the_archive(
    recording: Recording, tmp_path: Path
) -> None:
    before = hashlib.sha256(recording.path.read_bytes()).hexdigest()
    files = sorted(p.name for p in recording.path.parent.iterdir())
    write_dose_report(recording.path, None, None, None, "json", tmp_path / "r.json")
    assert hashlib.sha256(recording.path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in recording.path.parent.iterdir()) == files


def test_html_report_is_self_contained_and_escapes_hostile_text(
    tmp_path: Path,
) -> None:
    hostile = '<script>alert("crew")</script> "O\'Hara" & co'
    roster = tmp_path / "roster.toml"
    roster.write_text(
        DEFAULT_ROSTER.read_text(encoding="utf-8").replace(
            'name = "Haruka Mizuno"', f"name = {json.dumps(hostile)}"
        ),
        encoding="utf-8",
    )
    rec = record(tmp_path / "hostile.sqlite", 70.0, roster_path=roster)
    out = tmp_path / "report.html"
    page = write_dose_report(
        rec.path, None, None, None, "html", out, roster_path=roster
    )
    assert out.read_text(encoding="utf-8") == page
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&#34;crew&#34;)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(&#34;note&#34;)" in page
    assert "&lt;b&gt;officer&lt;/b&gt;" in page
    # Self-contained: inline SVG plots, no external resource, no script, and
    # the hostile strings never became elements or attributes.
    tags = Tags()
    tags.feed(page)
    assert tags.names.count("svg") == 3
    assert not {"script", "img", "link", "iframe", "object"} & set(tags.names)
    assert not [a for a in tags.attrs if a in ("src", "href") or a.startswith("on")]
    assert "@import" not in page and "url(" not in page
    # What an officer files: period, archive, dictionary, method, limit sources.
    data = report_json(rec.path, roster_path=roster)
    assert data["period"]["start"][:19].replace("T", " ") in page
    assert f"version {rec.dictionary.version}" in page
    assert "Method" in page and "Q̄ = ΣH/ΣD" in page
    assert "NASA-STD-3001 Vol. 1 Rev B" in page
    assert "dose_limits.toml" in page
    assert "Solar particle events and SAA passes" in page
    for crew in rec.snapshot.crew:
        entry = data["crew"][crew.crew_id]
        assert f"{entry['career_limit_msv']:g}" in page


def test_a_report_of_an_archive_without_samples_is_an_error(tmp_path: Path) -> None:
    dictionary = TelemetryDictionary.load()
    path = tmp_path / "empty.sqlite"
    writer = ArchiveWriter(
        path, dictionary_sha256=dictionary.sha256, dictionary_version="1"
    )
    writer.start()
    assert writer.stop()
    with pytest.raises(ValueError, match="no samples"):
        build_dose_report(path)


def test_a_limit_never_reached_is_null_in_json(recording: Recording) -> None:
    report = build_dose_report(recording.path)
    assert report.end - report.start == pytest.approx(
        report.to_json()["period"]["days"] * SECONDS_PER_DAY
    )
    c1 = report.crew[0]
    assert math.isnan(c1.days_to_career_limit)  # minutes of data: too short
    html = render_html(report)
    assert "insufficient data" in html
    # At a zero rate the limit is never reached: JSON has no infinity.
    report.crew[0] = dataclasses.replace(c1, days_to_career_limit=math.inf)
    text = render_json(report)
    assert json.loads(text)["crew"]["c1"]["days_to_career_limit"] is None
    assert "Infinity" not in text


def test_a_one_minute_recording_reports_one_minute_not_the_hour(
    tmp_path: Path,
) -> None:
    """P1: the dose bin written at the top of the hour is no telemetry.

    A minute recorded from 13:27:40 must read 13:27:40 to 13:28:40 in info,
    handover and dose report, and the dose report's mean rate is the
    minute's dose over one minute (not over 28 minutes).
    """
    from telemetry.reports.handover import read_handover
    from telemetry.sim.recording import record_simulated_session

    dictionary = TelemetryDictionary.load()
    start = 1_796_650_060.0  # 2026-12-07T13:27:40Z
    path = tmp_path / "minute.sqlite"
    record_simulated_session(
        path, dictionary, 60, start_time=start, derivers=build_derivers(dictionary)
    )
    with ArchiveReader(path) as reader:
        info = reader.info()
        # The bookkeeping is there, at the hour: what used to stretch it.
        assert reader.channel("c1.dose_bin").t_first == start - 1660.0
    assert start <= info["start"] < start + 2
    assert start + 55 < info["end"] <= start + 61
    handover = read_handover(path)
    assert handover.start == info["start"]
    report = report_json(path)
    assert report["period"]["start_t"] == info["start"]
    days = report["period"]["days"]
    assert days * SECONDS_PER_DAY < 61
    c2 = report["crew"]["c2"]
    assert c2["mean_rate_msv_d"] == pytest.approx(
        c2["dose_equivalent_msv"] / days, rel=1e-6
    )
