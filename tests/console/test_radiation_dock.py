"""RadiationDock against a store filled in process by the simulator's scenarios."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

import console.dose_record_watch as record_watch
from console.context import ConsoleContext
from console.docks.radiation_dock import (
    RadiationDock,
    flag_spans,
    format_days,
    format_dose,
    format_msv,
    module_spans,
)
from console.dose_record_watch import DoseRecordWatch
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.core.wire import encode_frame
from telemetry.live.session import build_derivers
from telemetry.radiation.dose_record import PassiveReading
from telemetry.radiation.ledger import DoseLedger
from telemetry.radiation.roster import DEFAULT_ROSTER
from telemetry.sim.simulator import Simulator
from widgets.fit_label import FitLabel
from widgets.levels import Level, apply_theme

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from telemetry.radiation.estimator import DoseEstimator
    from telemetry.radiation.record_summary import RecordSummary

T0 = 1_764_547_200.0  # 2025-12-01T00:00Z, inside the roster's mission
RATE_SCALE = 10.0


@dataclass
class Session:
    """A store and estimator fed in process, with the simulator to continue."""

    dictionary: TelemetryDictionary
    store: ChannelStore
    pipeline: Pipeline
    estimator: DoseEstimator
    sim: Simulator
    now: float

    def run_until(self, scenario_s: float) -> None:
        for frame in self.sim.frames_until(self.sim.scenario_time(scenario_s)):
            self.now = float(frame.times[-1])
            self.pipeline.ingest(frame.encode(), self.now)

    def context(self) -> ConsoleContext:
        return ConsoleContext(
            dictionary=self.dictionary,
            store=self.store,
            alarms=self.pipeline.alarms,
            clock=lambda: self.now,
            dose=self.estimator,
        )


def make_session(
    scenario: str, until_s: float, roster_path: Path | None = None
) -> Session:
    dictionary = TelemetryDictionary.load()
    store = ChannelStore()
    derivers = build_derivers(dictionary, roster_path=roster_path)
    pipeline = Pipeline(dictionary, store, AlarmBook(), derivers=derivers)
    sim = Simulator(
        dictionary, 5, scenario=scenario, rate_scale=RATE_SCALE, start_time=T0
    )
    estimator: Any = derivers[0]
    session = Session(dictionary, store, pipeline, estimator, sim, T0)
    session.run_until(until_s)
    return session


@pytest.fixture(scope="module")
def spe() -> Session:
    # Just after the S3 peak (s = 107.25); shelter was advised from S2 (~s 51).
    return make_session("spe-2017-09", 109.0)


@pytest.fixture
def dock(qtbot: QtBot, qapp: Any, spe: Session) -> RadiationDock:
    apply_theme(qapp)
    dock = RadiationDock(spe.context())
    qtbot.addWidget(dock)
    dock.resize(1400, 900)
    dock.show()
    dock.refresh(spe.now)
    return dock


def test_table_shows_every_crew_member_with_their_dose(
    dock: RadiationDock, spe: Session
) -> None:
    snap = spe.estimator.snapshot()
    roster = spe.estimator.roster
    assert dock.crew_ids() == [m.id for m in roster.crew]
    for member in roster.crew:
        crew = snap.member(member.id)
        row = dock.crew_row(member.id)
        assert row.name.text() == member.name
        assert member.agency in row.detail.text()
        assert row.module.text() == crew.module
        assert crew.session_msv > 0
        sigma = crew.uncertainty_rel * crew.session_msv
        assert row.session.text() == format_dose(crew.session_msv, sigma)
        assert row.rate.text() == f"{crew.rate_usv_h:.1f}"
        assert row.days.text() == format_days(crew.days_to_limit)
        # Career bar: prior + session against the person's own limit.
        assert row.career_bar.fraction() == pytest.approx(crew.career_fraction)
        assert f"/ {crew.career_limit_msv:.4g} mSv" in row.career_bar.text()
        career = next(s for s in crew.limits if s.window_days is None)
        assert row.career_bar.level() is Level[career.level.name]
        # The short-term bar shows the most used short-term limit.
        short = max(
            (s for s in crew.limits if s.window_days is not None),
            key=lambda s: s.fraction,
        )
        assert row.short_bar.fraction() == pytest.approx(short.fraction)
        assert str(crew.source) in row.source.text()
    assert str(snap.member("c2").source) == "personal"


def test_veteran_and_young_astronaut_budgets_are_coloured(
    dock: RadiationDock,
) -> None:
    # c2: 480 of NASA's 600 mSv (80 %) is past the 75 % warning mark; c1, 28
    # at first flight, has JAXA's smallest budget (500 mSv) but 12 mSv used.
    veteran = dock.crew_row("c2").career_bar
    assert veteran.fraction() == pytest.approx(0.80, abs=1e-3)
    assert veteran.level() is Level.WARNING
    young = dock.crew_row("c1").career_bar
    assert "/ 500 mSv" in young.text()
    assert young.level() is Level.NOMINAL
    assert dock.crew_row("c2").lamp.level() is Level.WARNING
    top = dock.limits_model.rows()[0]
    assert top.cells[0].startswith("c2 · career")
    assert top.level is Level.WARNING


def test_spe_banner_shows_s3_and_what_the_shelter_advice_rests_on(
    dock: RadiationDock, spe: Session
) -> None:
    snap = spe.estimator.snapshot()
    assert snap.spe.s_level == 3
    banner = dock.banner
    assert banner.is_shown()
    # Advice first (graded, from the event's first decision), else the S-level.
    top = snap.shelter.action.value
    if top == "none":
        assert banner.level() is Level.CRITICAL
    else:
        assert top.upper() in banner.text()
        assert banner.level() is not Level.NOMINAL
    assert "S3" in banner.text()
    detail = banner.detail()
    assert "peak" in detail and "(S3)" in detail
    # S3 on GOES alone does not call for shelter (NASA, March 2012): the
    # advice is graded from each person's projected event dose, decided at
    # each GOES sample; the banner says so instead of a flux rule.
    if not snap.shelter.crew:
        assert "at the first GOES sample the dose is integrated to" in detail
    advised = [a for a in snap.shelter.crew if a.action.value != "none"]
    for advice in advised:
        # In view: who and what (grouped by action from three people up, so
        # the crew table stays on a 720-line screen); every reason in the tip.
        assert advice.crew_id in detail and advice.action.value in detail
        assert f"{advice.crew_id}: {advice.action.value}: " in banner.toolTip()
    if len(advised) >= 3:
        assert detail.count("\n") <= 1 + len({a.action for a in advised}) + 1
    assert "SHELTER IN SM RECOMMENDED" not in banner.text() or snap.shelter.recommended
    assert dock.p10_lamp.level() is Level.CRITICAL
    assert "S3" in dock.p10_lamp.text()
    assert "ENERGETIC" in dock.p100_lamp.text()


def test_goes_plot_is_log_scale_with_points_and_the_spe_shaded(
    dock: RadiationDock,
) -> None:
    chart = dock.goes_chart
    assert chart.is_log_y()
    x, y = chart.displayed_data(">10 MeV")
    finite = np.isfinite(y)
    assert finite.sum() > 10
    assert np.nanmax(y) >= 3.0  # log10 of >= 1000 pfu: the S3 peak is drawn
    x, y = chart.displayed_data(">100 MeV")
    assert np.isfinite(y).sum() > 10
    assert chart.span_count() >= 1


def test_rate_plot_has_every_monitor_and_location_lanes_follow_the_crew(
    dock: RadiationDock, spe: Session
) -> None:
    names = dock.rate_chart.series_names()
    assert "JPM · padles-jpm-1" in names
    assert "c2 personal · pd-c2" in names
    assert dock.rate_chart.is_log_y()
    for name in names:
        _x, y = dock.rate_chart.displayed_data(name)
        assert np.isfinite(y).any(), name
    snap = spe.estimator.snapshot()
    segments = dock.lane_segments()
    n = len(dock.crew_ids())
    for i, crew_id in enumerate(dock.crew_ids()):
        lane = [s for s in segments if s[2] == n - 1 - i]
        assert lane, crew_id
        last = max(lane, key=lambda s: s[1])
        assert last[4] == snap.member(crew_id).module


def test_saa_passes_are_shaded_on_the_rate_plot(qtbot: QtBot, qapp: Any) -> None:
    # The nominal scenario puts the ISS into a deep SAA pass at s = 120.
    session = make_session("nominal", 150.0)
    dock = RadiationDock(session.context())
    qtbot.addWidget(dock)
    dock.resize(1400, 900)
    dock.show()
    dock.refresh(session.now)
    assert dock.rate_chart.span_count() >= 1
    assert not dock.banner.level().is_abnormal  # quiet sun: a grey status line
    assert "NO SPE" in dock.banner.text()


def test_refresh_does_nothing_until_data_changes(
    dock: RadiationDock, spe: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    for chart in (dock.goes_chart, dock.rate_chart):
        original = chart.set_series

        def spy(name: str, *args: Any, _o: Any = original, **kw: Any) -> None:
            calls.append(name)
            _o(name, *args, **kw)

        monkeypatch.setattr(chart, "set_series", spy)
    applied: list[object] = []
    monkeypatch.setattr(dock, "_apply_snapshot", applied.append)
    dock.refresh(spe.now)
    dock.refresh(spe.now + 0.05)
    assert calls == [] and applied == []


def test_new_data_is_drawn_at_the_next_refresh(qtbot: QtBot, qapp: Any) -> None:
    session = make_session("spe-2017-09", 60.0)
    dock = RadiationDock(session.context())
    qtbot.addWidget(dock)
    dock.show()
    dock.refresh(session.now)
    before = dock.crew_row("c1").session.text()
    x0, _ = dock.goes_chart.displayed_data(">10 MeV")
    session.run_until(80.0)
    dock.refresh(session.now)
    assert dock.crew_row("c1").session.text() != before
    x1, _ = dock.goes_chart.displayed_data(">10 MeV")
    assert np.nanmax(x1) > np.nanmax(x0)


def test_window_choice_sets_every_plot(dock: RadiationDock) -> None:
    # The shortest window is 10 min (issue 15: 1 h hid a short SPE onset).
    dock.window_box.setCurrentIndex(0)
    assert dock.window_seconds() == 600.0
    for chart in (dock.goes_chart, dock.rate_chart, dock.location_chart):
        assert chart.window() == 600.0
    dock.restore_settings({"window_s": 43200.0})
    assert dock.settings() == {"window_s": 43200.0}
    assert dock.location_chart.window() == 43200.0


def test_without_an_estimator_the_dock_says_so(
    qtbot: QtBot, tiny_dictionary: TelemetryDictionary
) -> None:
    context = ConsoleContext(
        dictionary=tiny_dictionary,
        store=ChannelStore(),
        alarms=AlarmBook(),
        clock=lambda: T0,
    )
    dock = RadiationDock(context)
    qtbot.addWidget(dock)
    dock.refresh(T0)
    assert dock.crew_ids() == []
    assert dock.banner.text() == "NO DOSE ESTIMATE"
    assert dock.input_lamp.level() is Level.NO_DATA


def test_dose_inputs_outside_physical_range_are_counted_on_the_input_lamp(
    qtbot: QtBot, qapp: Any
) -> None:
    session = make_session("nominal", 20.0)
    dock = RadiationDock(session.context())
    qtbot.addWidget(dock)
    dock.refresh(session.now)
    assert dock.input_lamp.level() is Level.NOMINAL
    t = session.now + 0.5
    absurd = encode_frame(
        "rad",
        "padles-jpm-1",
        10**6,
        [t],
        {"dose_eq_rate": [1e300], "absorbed_rate": [1.0]},
    )
    session.pipeline.ingest(absurd, t)
    session.run_until(25.0)
    dock.refresh(session.now)
    assert dock.input_lamp.level() is Level.WATCH
    assert "1 ignored (outside physical range)" in dock.input_lamp.text()


def test_crew_names_are_shown_as_text_not_markup(qtbot: QtBot, tmp_path: Path) -> None:
    hostile = '<b>Evil</b> & <img src=x onerror="alert(1)">'
    roster = tmp_path / "roster.toml"
    roster.write_text(
        DEFAULT_ROSTER.read_text(encoding="utf-8").replace(
            '"Haruka Mizuno"', "'" + hostile + "'"
        ),
        encoding="utf-8",
    )
    session = make_session("nominal", 20.0, roster_path=roster)
    dock = RadiationDock(session.context())
    qtbot.addWidget(dock)
    dock.refresh(session.now)
    label = dock.crew_row("c1").name
    assert label.text() == hostile
    assert label.textFormat().name == "PlainText"


def test_module_and_flag_spans() -> None:
    t = np.array([0.0, 10, 20, 30, 100, 110])
    codes = np.array([0.0, 0, 7, 7, 7, 2])
    # A gap longer than the stale time ends the run at last sample + stale.
    assert module_spans(t, codes, 30.0, 200.0) == [
        (0.0, 20.0, 0),
        (20.0, 60.0, 7),
        (100.0, 110.0, 7),
        (110.0, 140.0, 2),
    ]
    assert module_spans(t, codes, 30.0, 115.0)[-1] == (110.0, 115.0, 2)
    flag = np.array([0.0, 1, 1, 0, 1, 1])
    assert flag_spans(t, flag, 5.0) == [(10.0, 30.0), (100.0, 115.0)]
    assert flag_spans(t[:0], flag[:0], 5.0) == []
    assert format_days(math.inf) == "not reached"
    assert format_msv(0.036234) == "0.0362"
    assert format_msv(480.3) == "480"
    # Doses carry their unit, in µSv below 1 mSv (minutes of a session).
    assert format_dose(0.0000223, 0.00000423) == "0.0223 ± 0.00423 µSv"
    assert format_dose(0.0362) == "36.2 µSv"
    assert format_dose(12.04, 1.5) == "12.0 ± 1.50 mSv"
    assert format_dose(math.nan) == "—"
    assert format_dose(0.0000598, unit="mGy-Eq") == "0.0598 µGy-Eq"
    assert format_dose(2.5, unit="Gy") == "2.50 Gy"


def test_screenshot_script_renders_the_dock(tmp_path: Path) -> None:
    out = tmp_path / "radiation.png"
    script = Path(__file__).resolve().parents[2] / "scripts" / "screenshot_radiation.py"
    result = subprocess.run(
        [sys.executable, str(script), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1400, 900)
    # Not blank: the banner's critical red and many distinct colours.
    colours = {image.pixel(x, y) for x in range(0, 1400, 7) for y in range(0, 900, 7)}
    assert len(colours) > 50


def test_input_lamp_says_what_the_dose_ledger_adds(
    qtbot: QtBot, qapp: Any, tmp_path: Path
) -> None:
    from telemetry.live.session import LiveSession, SessionConfig

    dictionary = TelemetryDictionary.load()
    ledger = tmp_path / "dose_ledger.sqlite"

    def live() -> tuple[LiveSession, DoseEstimator]:
        derivers = build_derivers(dictionary)
        config = SessionConfig([], None, dose_ledger=ledger)
        session = LiveSession(dictionary, config, derivers, clock=lambda: T0 + 3600)
        estimator: Any = derivers[0]
        return session, estimator

    earlier, estimator = live()
    sim = Simulator(dictionary, 5, rate_scale=RATE_SCALE, start_time=T0)
    for frame in sim.frames_until(T0 + 600.0):
        earlier.pipeline.ingest(frame.encode(), float(frame.times[-1]))
    earlier.stop()

    writer, _ = live()
    reader, estimator = live()
    try:
        context = ConsoleContext(
            dictionary=dictionary,
            store=reader.store,
            alarms=reader.alarms,
            clock=lambda: T0 + 3600,
            dose=estimator,
        )
        dock = RadiationDock(context)
        qtbot.addWidget(dock)
        dock.refresh(T0 + 3600)
        text = dock.input_lamp.text()
        assert re.search(r"includes \d+ min from earlier sessions \(ledger\)", text)
        assert "ledger read-only: another console writes it" in text
    finally:
        reader.stop()
        writer.stop()


def test_a_replay_console_has_no_dose_ledger(tmp_path: Path) -> None:
    from console.app import config_from_args
    from console.cli import build_parser

    recording = tmp_path / "r.sqlite"
    replay = config_from_args(build_parser().parse_args(["--replay", str(recording)]))
    assert replay.dose_ledger is None
    live = config_from_args(build_parser().parse_args(["--demo", "--no-dose-ledger"]))
    assert live.dose_ledger is None


def test_the_demo_keeps_its_simulated_dose_apart_from_the_crew_ledger() -> None:
    from console.app import config_from_args
    from console.cli import build_parser

    parse = build_parser().parse_args
    demo = config_from_args(parse(["--demo"])).dose_ledger
    live = config_from_args(parse(["--connect", "tcp://127.0.0.1:5556"])).dose_ledger
    assert demo is not None and live is not None
    assert demo.parent == live.parent and demo != live
    assert demo.name == "demo-dose_ledger.sqlite"


def test_double_click_on_a_crew_number_asks_for_its_plot(
    dock: RadiationDock, qtbot: QtBot
) -> None:
    asked: list[list[str]] = []
    dock.plot_requested.connect(asked.append)
    row = next(iter(dock._crew_rows.values()))
    qtbot.mouseDClick(row.rate, Qt.MouseButton.LeftButton)
    qtbot.mouseDClick(row.rolling, Qt.MouseButton.LeftButton)
    crew = row.crew_id
    assert asked == [[f"{crew}.dose_rate"], [f"{crew}.dose_30d", f"{crew}.dose_1y"]]


def test_dose_of_record_and_year_total_from_a_real_ledger(
    qtbot: QtBot, qapp: Any, spe: Session, tmp_path: Path
) -> None:
    """The ledger a live session opens, read on the dose-record thread."""
    apply_theme(qapp)
    hour = 3600.0
    path = tmp_path / "dose_ledger.sqlite"
    writer = DoseLedger(
        path, roster_version="v", roster_sha256="x", bin_s=hour, opened=T0
    )
    start = T0 - 30 * 86400.0  # 2025-11-01: ten days of c1's estimate
    bins = {"c1": {start + i * hour: 0.02 for i in range(240)}}
    writer.record(start, start + 240 * hour, bins)
    writer.add_records(
        [PassiveReading("c1", start, start + 240 * hour, 6.0, "H", "PADLES 0412")],
        adopt_records=True,
        source="padles.csv",
        imported=T0,
    )
    readers: list[str] = []
    real = record_watch.summarize_ledger

    def summarize(*args: Any, **kwargs: Any) -> RecordSummary:
        readers.append(threading.current_thread().name)
        return real(*args, **kwargs)

    watch = DoseRecordWatch(
        path,
        [m.id for m in spe.estimator.roster.crew],
        spe.estimator.limits,
        bin_s=hour,
        clock=lambda: T0,
    )
    context = spe.context()
    context.dose_records = watch
    dock = RadiationDock(context)
    qtbot.addWidget(dock)
    dock.resize(1280, 720)
    dock.show()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(record_watch, "summarize_ledger", summarize)
            watch.start()
            qtbot.waitUntil(lambda: watch.summary is not None)
            dock.refresh(spe.now)
            record, year = dock.record_texts("c1")
            assert record.startswith("record H 6.00 mSv · 2025-11-01–11-11")
            assert "PADLES 0412" in record and "bias −1.20 mSv (−20.0 %)" in record
            assert year.startswith("CY2025 6.00 mSv · FY2025 6.00 mSv H · BFO 1 y")
            assert dock.record_texts("c2") == (
                "no dose of record in the ledger",
                "no ledger dose this year",
            )
            # The ledger changes under a running console: the next read shows it.
            writer.add_records(
                [PassiveReading("c2", start, start + 240 * hour, 3.0, "H", "TLD 7")],
                adopt_records=True,
                source="tld.csv",
                imported=T0,
            )
            seen = watch.version
            watch.reread()
            qtbot.waitUntil(lambda: watch.version > seen)
            dock.refresh(spe.now)
            assert "TLD 7" in dock.record_texts("c2")[0]
            assert dock.record_texts("c2")[1].startswith("CY2025 3.00 mSv")
    finally:
        watch.stop()
        writer.close()
    # Read off the GUI thread only, and whole at 1280 px.
    assert readers and set(readers) == {"dose-record"}
    for crew_id in dock.crew_ids():
        row = dock.crew_row(crew_id)
        assert isinstance(row.record, FitLabel) and isinstance(row.year, FitLabel)
        assert not row.record.is_cut(), row.record.text()
        assert not row.year.is_cut(), row.year.text()
    # Replays have no ledger: no dose-of-record lines.
    plain = RadiationDock(spe.context())
    qtbot.addWidget(plain)
    assert plain.record_texts("c1") == ("", "")


def test_before_any_dose_is_integrated_the_record_is_judged_and_shown(
    qtbot: QtBot, qapp: Any, tmp_path: Path
) -> None:
    """c2 at 599.5 of 600 mSv, c4's location silent: red, '—', lamp not green."""
    text = DEFAULT_ROSTER.read_text(encoding="utf-8")
    roster = tmp_path / "roster.toml"
    roster.write_text(
        text.replace("prior_career_msv = 480.0", "prior_career_msv = 599.5"),
        encoding="utf-8",
    )
    dictionary = TelemetryDictionary.load()
    store = ChannelStore()
    derivers = build_derivers(dictionary, roster_path=roster)
    alarms = AlarmBook()
    pipeline = Pipeline(dictionary, store, alarms, derivers=derivers)
    sim = Simulator(dictionary, 5, rate_scale=RATE_SCALE, start_time=T0)
    now = T0
    for frame in sim.frames_until(T0 + 60.0):
        if frame.source == "c4":  # a crew tag that never reports
            continue
        now = float(frame.times[-1])
        pipeline.ingest(frame.encode(), now)
    estimator: Any = derivers[0]
    assert math.isnan(estimator.snapshot().time)  # nothing integrated yet
    apply_theme(qapp)
    context = ConsoleContext(
        dictionary=dictionary,
        store=store,
        alarms=alarms,
        clock=lambda: now,
        dose=estimator,
    )
    dock = RadiationDock(context)
    qtbot.addWidget(dock)
    dock.refresh(now)
    row = dock.crew_row("c2")
    assert row.career_bar.level() is Level.CRITICAL
    assert row.lamp.level() is Level.CRITICAL
    assert row.days.text() == "—"
    assert "insufficient data" in row.projection.text()
    assert "c2.career_fraction" in {a.key for a in alarms.snapshot()}
    # The input lamp is not green while no dose is integrated, and names why.
    assert dock.input_lamp.level() is Level.WATCH
    assert "no dose integrated yet: waiting for c4.module" in dock.input_lamp.text()
