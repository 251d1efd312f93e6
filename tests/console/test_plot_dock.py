from __future__ import annotations

import csv
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PySide6.QtCore import QItemSelectionModel, QMimeData, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from console.context import ConsoleContext
from console.docks.plot_dock import MIME_CHANNELS, PlotDock, default_charts, saa_spans
from console.history import HistoryService
from telemetry.archive.writer import ArchiveWriter
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.pipeline import Pipeline
from telemetry.core.wire import encode_frame
from widgets.levels import Level

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import Feed
    from pytestqt.qtbot import QtBot

    from telemetry.core.dictionary import TelemetryDictionary

pytestmark = pytest.mark.usefixtures("console_env", "themed")

T0 = 1_750_000_000.0  # the Feed clock's start


@pytest.fixture
def dock(qtbot: QtBot, feed: Feed) -> PlotDock:
    dock = PlotDock(feed.context, role="flight")
    qtbot.addWidget(dock)
    dock.resize(1200, 800)
    dock.show()
    return dock


def test_each_role_starts_with_its_charts(dictionary: TelemetryDictionary) -> None:
    assert default_charts(dictionary, "flight") == [
        ["jpm.ppco2"],
        ["jpm.ppo2"],
        ["ib2-a.battery_pct", "ib2-b.battery_pct"],
        ["jpm.temp", "jpm.dewpoint"],
    ]
    # The radiation panel plots area rates and GOES; these follow each crew member.
    assert default_charts(dictionary, "radiation") == [
        ["c1.dose_rate", "c2.dose_rate", "c3.dose_rate", "c4.dose_rate"],
        ["c1.dose_session", "c2.dose_session", "c3.dose_session", "c4.dose_session"],
    ]
    assert default_charts(dictionary, "trainer")[-1] == [
        "ib2-a.nav_status",
        "ib2-b.nav_status",
    ]


def test_live_chart_shows_the_buffer_with_limit_bands(
    dock: PlotDock, feed: Feed
) -> None:
    values = [2.0 + 0.01 * i for i in range(120)]
    feed.cabin(T0, 120, ppco2=values)
    now = feed.clock()
    dock.refresh(now)
    chart = dock.charts()[0]
    assert chart.series_names() == ["jpm.ppco2"]
    t, y = chart.displayed_data("jpm.ppco2")
    assert t[-1] == now
    assert y[-1] == pytest.approx(values[-1])
    assert len(t) == 120
    t0, t1 = chart.time_range()
    assert t1 == pytest.approx(now)
    assert t1 - t0 == pytest.approx(300.0)
    # The per-sample limits; the 4.0 critical is on the 24 h mean, not drawn
    # over samples it does not judge.
    assert sorted(chart.band_lines()) == [(2.3, Level.WATCH), (2.7, Level.WARNING)]
    # Two robots' batteries share the same limits: the bands are drawn once.
    battery = dock.charts()[2]
    assert sorted(battery.band_lines()) == [
        (5.5, Level.CRITICAL),
        (20.5, Level.WARNING),
    ]
    # Charts share one time axis.
    assert set(chart.linked_charts()) == set(dock.charts()[1:])


def test_browser_finds_channels_by_words_and_adds_them(
    qtbot: QtBot, dock: PlotDock, feed: Feed
) -> None:
    dock.search.setText("ib2 batt")
    view = dock.browser
    keys = [
        str(view.model().index(r, 0).data()) for r in range(view.model().rowCount())
    ]
    assert keys == ["ib2-a.battery_pct", "ib2-b.battery_pct"]
    dock.search.setText("mmHg")
    keys = {
        str(view.model().index(r, 0).data()) for r in range(view.model().rowCount())
    }
    assert keys == {"jpm.p_total", "jpm.ppo2", "jpm.ppco2"}
    view.selectionModel().select(
        view.model().index(0, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect
        | QItemSelectionModel.SelectionFlag.Rows,
    )
    first = str(view.model().index(0, 0).data())
    dock.add_selected_channels(new_chart=True)
    assert dock.chart_keys()[-1] == [first]
    assert dock.selected_chart() is dock.charts()[-1]


def test_undeclared_channels_appear_in_the_browser(dock: PlotDock, feed: Feed) -> None:
    feed.send("robot", "ib2-a", [T0], pos_x=[1.0], fan_rpm=[1200.0])
    dock.refresh(feed.clock())
    dock.search.setText("fan_rpm")
    model = dock.browser.model()
    assert model.rowCount() == 1
    assert model.index(0, 0).data() == "ib2-a.fan_rpm"
    assert model.index(0, 2).data() == "undeclared channel"


def test_dropping_channels_on_a_chart_adds_them(dock: PlotDock, feed: Feed) -> None:
    chart = dock.charts()[1]
    mime = QMimeData()
    mime.setData(MIME_CHANNELS, b"jpm.p_total\njpm.rh")
    viewport = chart.viewport()
    pos = QPointF(viewport.width() / 2, viewport.height() / 2)
    for kind in (QDropEvent.Type.DragEnter, QDropEvent.Type.Drop):
        event = QDropEvent(
            pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier, kind,
        )  # fmt: skip
        QApplication.sendEvent(viewport, event)
        assert event.isAccepted()
    # Same unit (mmHg) joins the chart; relative humidity (%) is never
    # silently put on the mmHg axis: it gets a chart of its own, and the
    # status line says so.
    assert dock.chart_keys()[1] == ["jpm.ppo2", "jpm.p_total"]
    assert dock.chart_keys()[-1] == ["jpm.rh"]
    assert dock.status.text() == "own chart for jpm.rh (% ≠ mmHg)"
    feed.cabin(T0, 3)
    dock.refresh(feed.clock())
    assert set(chart.series_names()) == {"jpm.ppo2", "jpm.p_total"}
    assert chart.unit() == "mmHg"


def test_enum_chart_labels_its_states(dock: PlotDock, feed: Feed) -> None:
    dock.set_charts([["ib2-a.nav_status"]])
    feed.robot("ib2-a", T0, 3, nav_status=["FUSION", "INERTIAL", "NAV_OFF"])
    dock.refresh(feed.clock())
    chart = dock.charts()[0]
    _, y = chart.displayed_data("ib2-a.nav_status")
    assert list(y) == [1.0, 2.0, 0.0]
    ticks = chart.getPlotItem().getAxis("left")._tickLevels
    assert (0.0, "NAV_OFF") in ticks[0]
    assert chart.band_lines() == []


def show_export_scene(dock: PlotDock, feed: Feed) -> None:
    """Ten minutes of CO2 and three robot modes at its end, on two charts."""
    dock.set_charts([["jpm.ppco2"], ["ib2-a.mode"]])
    feed.cabin(T0, 600, ppco2=[2.0 + 0.001 * i for i in range(600)])
    feed.robot("ib2-a", T0 + 590, 3, mode=["OPERATION", "DOCKING", "STANDBY"])
    dock.refresh(feed.clock())


def test_export_writes_the_visible_range(
    dock: PlotDock, feed: Feed, tmp_path: Path
) -> None:
    show_export_scene(dock, feed)
    out = tmp_path / "visible.csv"
    rows = dock.export_csv(out)
    with out.open(newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["time", "channel", "value"]
    assert len(table) == rows + 1
    co2 = [r for r in table[1:] if r[1] == "jpm.ppco2"]
    # 5-minute window ending at the last sample: 300 s back, inclusive.
    assert len(co2) == 301
    assert co2[-1][0].endswith("Z")
    assert float(co2[-1][2]) == pytest.approx(2.599)
    modes = [r[2] for r in table[1:] if r[1] == "ib2-a.mode"]
    assert modes == ["OPERATION", "DOCKING", "STANDBY"]


def test_wide_export_puts_the_charts_side_by_side_on_their_times(
    dock: PlotDock, feed: Feed, tmp_path: Path
) -> None:
    show_export_scene(dock, feed)
    out = tmp_path / "wide.csv"
    rows = dock.export_wide_csv(out)
    with out.open(newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["time", "jpm.ppco2", "ib2-a.mode"]
    # Every time at which either chart has a sample, once.
    assert len(table) == rows + 1 == 302
    times = [r[0] for r in table[1:]]
    assert times == sorted(times)
    both = [r for r in table[1:] if r[1] and r[2]]
    assert [r[2] for r in both] == ["OPERATION", "DOCKING", "STANDBY"][: len(both)]
    assert sum(1 for r in table[1:] if r[2]) == 3


def test_window_and_settings_survive_a_round_trip(dock: PlotDock, feed: Feed) -> None:
    dock.set_window(900.0)
    dock.add_chart(["jpm.rh"])
    saved = dock.settings()
    assert saved["window_s"] == 900.0
    dock.apply_role("flight")
    assert dock.window_s() == 300.0
    dock.restore_settings(saved)
    assert dock.window_s() == 900.0
    assert dock.chart_keys()[-1] == ["jpm.rh"]
    assert all(c.window() == 900.0 for c in dock.charts())
    assert dock.window_box.currentText() == "15 min"


def test_paused_charts_hold_still_until_resumed(dock: PlotDock, feed: Feed) -> None:
    feed.cabin(T0, 100)
    dock.refresh(feed.clock())
    chart = dock.charts()[0]
    chart.set_time_range(T0 + 10, T0 + 50)
    assert not dock.is_live()
    assert dock.live_button.isEnabled()
    feed.cabin(T0 + 100, 50)
    dock.refresh(feed.clock())
    assert chart.time_range() == pytest.approx((T0 + 10, T0 + 50))
    dock.set_live(True)
    dock.refresh(feed.clock())
    assert dock.is_live()
    t, _ = chart.displayed_data("jpm.ppco2")
    assert t[-1] == feed.clock()


def test_saa_passes_are_shaded(dock: PlotDock, feed: Feed) -> None:
    assert saa_spans(
        np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.0, 1.0, 1.0, 0.0])
    ) == [(1.0, 3.0, Level.WATCH)]
    assert not dock.shade_saa()  # flight: off by default
    dock.set_shade_saa(True)
    times = [T0 + i for i in range(10)]
    for i, t in enumerate(times):
        inside = 3 <= i < 6
        feed.send("orbit", "iss", [t], lat=[-30.0], lon=[-45.0])
        # The SAA flag is what the orbit deriver adds (never from the wire).
        feed.store.append("iss.saa", np.array([t]), np.array([1.0 if inside else 0.0]))
    dock.refresh(feed.clock())
    assert all(c.span_count() == 1 for c in dock.charts())
    dock.set_shade_saa(False)
    assert all(c.span_count() == 0 for c in dock.charts())


def test_scroll_back_merges_the_archive_with_the_live_buffer(
    qtbot: QtBot, dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    path = tmp_path / "session.sqlite"
    writer = ArchiveWriter(
        path, dictionary_sha256=dictionary.sha256, dictionary_version=dictionary.version
    )
    # The live buffer holds only the newest 100 samples; the archive has all.
    store = ChannelStore(capacity=100)
    alarms = AlarmBook()
    pipeline = Pipeline(dictionary, store, alarms, writer)
    writer.start()
    n = 1000
    for i in range(n):
        t = T0 + i
        parts = encode_frame("eclss", "jpm", i, [t], {"ppco2": [2.0 + 0.001 * i]})
        pipeline.ingest(parts, received=t)
    assert writer.stop()
    history = HistoryService(path)
    try:
        now = T0 + n - 1
        ctx = ConsoleContext(
            dictionary=dictionary, store=store, alarms=alarms, clock=lambda: now,
            archive_path=path, history=history,
        )  # fmt: skip
        dock = PlotDock(ctx, role="flight")
        qtbot.addWidget(dock)
        dock.resize(1200, 800)
        dock.show()
        dock.set_charts([["jpm.ppco2"]])
        dock.refresh(now)
        chart = dock.charts()[0]
        t, _ = chart.displayed_data("jpm.ppco2")
        assert t[0] >= T0 + n - 100  # live: only the buffer
        # The operator scrolls back to a range that straddles the buffer start.
        chart.set_time_range(T0 + 800, T0 + 950)

        def merged() -> bool:
            x, _ = chart.displayed_data("jpm.ppco2")
            return x.size > 0 and x[0] <= T0 + 800

        qtbot.waitUntil(merged, timeout=5000)
        x, y = chart.displayed_data("jpm.ppco2")
        inside = (x >= T0 + 800) & (x <= T0 + 950)
        assert np.array_equal(x[inside], T0 + np.arange(800, 951))
        assert y[inside] == pytest.approx(2.0 + 0.001 * np.arange(800, 951))
        assert "history loaded" in dock.status.text()
        dock.shutdown()
    finally:
        history.close()


def test_live_refreshes_add_new_samples_and_a_cleared_store_replaces_them(
    dock: PlotDock, feed: Feed
) -> None:
    chart = dock.charts()[0]
    feed.cabin(T0, 200, ppco2=[2.0 + 0.001 * i for i in range(200)])
    dock.refresh(feed.clock())
    for step in range(4):  # each refresh hands over only what is new
        start = 200 + 100 * step
        values = [2.0 + 0.001 * i for i in range(start, start + 100)]
        feed.cabin(T0 + start, 100, ppco2=values)
        dock.refresh(feed.clock())
        buf = feed.store.buffer("jpm.ppco2")
        assert buf is not None
        t0, _ = chart.time_range()
        bt, by = buf.window(t0)
        vt, vy = chart.visible_data()["jpm.ppco2"]
        np.testing.assert_array_equal(vt, bt)
        np.testing.assert_array_equal(vy, by)
    # A replay seek back clears the store: the chart shows the new buffer only,
    # although the new buffer soon counts more samples than the old one did.
    feed.store.clear()
    feed.clock.t = T0 - 1000.0 + 649.0
    feed.cabin(T0 - 1000.0, 650, ppco2=[3.0] * 650)
    dock.refresh(feed.clock())
    vt, vy = chart.visible_data()["jpm.ppco2"]
    np.testing.assert_array_equal(vt, T0 - 1000.0 + np.arange(349.0, 650.0))
    assert set(vy.tolist()) == {3.0}


def test_typed_time_ranges_set_the_live_window_or_pause_on_a_range(
    dock: PlotDock, feed: Feed
) -> None:
    feed.cabin(T0, 600)
    now = feed.clock()
    dock.refresh(now)
    assert dock.apply_time_text("last 7m")
    assert dock.is_live() and dock.window_s() == 420.0
    assert dock.window_box.currentText() == "7 min"  # the typed width is listed
    assert all(c.window() == 420.0 for c in dock.charts())

    assert dock.apply_time_text("-8m to -3m")
    assert not dock.is_live()
    for chart in dock.charts():  # linked: every chart shows the typed range
        assert chart.time_range() == pytest.approx((now - 480.0, now - 180.0))
    assert "paused on" in dock.status.text()

    before = dock.charts()[0].time_range()
    assert not dock.apply_time_text("-1m to -5m")
    assert "end must come after the start" in dock.status.text()
    assert dock.charts()[0].time_range() == before  # a typo changes nothing


def test_titles_name_what_is_shown_not_the_unit(dock: PlotDock) -> None:
    titles = [c.getPlotItem().titleLabel.text for c in dock.charts()]
    assert titles[0] == "CO2 partial pressure: jpm"
    assert titles[2] == "Battery charge: ib2-a, ib2-b"
    assert titles[3].startswith("jpm: Cabin air temperature · Dew point")
    assert all(title != "%" for title in titles)


def test_cursor_values_use_the_dictionary_format_and_unit(
    dock: PlotDock, feed: Feed
) -> None:
    feed.cabin(T0, 30, ppo2=[150.0 + i for i in range(30)])
    dock.refresh(feed.clock())
    chart = dock.charts()[1]
    chart.show_cursor(T0 + 12.5)
    (reading,) = chart.cursor_readings()
    assert (reading.name, reading.time) == ("jpm.ppo2", T0 + 12.0)
    assert reading.text == "162.0 mmHg"


def test_a_charts_menu_has_its_y_controls_and_the_docks_entries(
    dock: PlotDock,
) -> None:
    chart = dock.charts()[1]
    menu = chart.build_menu()
    chart.menu_requested.emit(menu)  # what a right-click does before showing it
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts[:2] == ["Remove jpm.ppo2", "Add selected channels here"]
    for entry in (
        "Autoscale Y to the data",
        "Lock Y range as shown",
        "Set Y range…",
        "Logarithmic Y axis",
        "Remove this chart",
    ):
        assert entry in texts
    next(a for a in menu.actions() if a.text() == "Lock Y range as shown").trigger()
    assert not chart.is_auto_y()
    dock.add_channel("jpm.p_total", chart)  # adding a channel keeps the user's lock
    assert not chart.is_auto_y()


def test_a_hostile_channel_name_is_shown_not_interpreted(dock: PlotDock) -> None:
    chart = dock.add_chart(["<b>x</b>.y"])
    assert chart is not None
    assert (
        chart.getPlotItem().titleLabel.text
        == "&lt;b&gt;x&lt;/b&gt;.y: &lt;b&gt;x&lt;/b&gt;"
    )
    chart.set_series("<i>z</i>", [T0], [1.0])
    assert chart.getPlotItem().listDataItems()[-1].name() == "&lt;i&gt;z&lt;/i&gt;"
