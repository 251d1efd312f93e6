from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel, QMessageBox

from console.main_window import LAYOUT_VERSION, MainWindow, layout_path
from console.refresh import RefreshLoop
from widgets.levels import Level

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import Feed
    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.usefixtures("console_env", "themed")

T0 = 1_750_000_000.0  # the Feed clock's start


@pytest.fixture
def make_window(qtbot: QtBot, feed: Feed) -> Callable[..., MainWindow]:
    windows: list[MainWindow] = []

    def make(layout: str = "flight") -> MainWindow:
        window = MainWindow(feed.context, layout)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown()


def tick(window: MainWindow, feed: Feed) -> RefreshLoop:
    loop = RefreshLoop(window.panels, feed.clock)
    window.set_refresh_loop(loop)
    loop.tick()
    window.status.update_from(feed.clock())
    return loop


def test_window_shows_every_panel_with_data(
    make_window: Callable[..., MainWindow], feed: Feed
) -> None:
    window = make_window()
    names = [p.objectName() for p in window.panels()]
    assert names[:2] == ["header", ""] or "robots" in names
    assert {"robots", "eclss", "plots", "alarms", "events"} <= set(names)
    feed.cabin(T0, 10)
    feed.robot("ib2-a", T0, 10)
    loop = tick(window, feed)
    assert loop.errors == 0, loop.last_error
    assert window.eclss.readout("jpm.ppco2").text() == "2.10"
    assert window.robots.readout("ib2-a", "Mode").text() == "OPERATION"
    assert window.plots.charts()[0].series_names() == ["jpm.ppco2"]
    assert window.header.banner.text() == "LIVE"
    assert "K. Tanaka" in window.header.banner.detail()
    assert window.header.clock.text().endswith("UTC")
    assert "166/15:06:49" in window.header.clock.text()


@pytest.mark.parametrize(
    ("mode", "text", "level"),
    [
        ("live", "LIVE", Level.NO_DATA),
        ("replay", "REPLAY · recorded data, not live", Level.WATCH),
        ("training", "TRAINING · not live data", Level.STALE),
    ],
)
def test_mode_banner(
    make_window: Callable[..., MainWindow],
    feed: Feed,
    mode: str,
    text: str,
    level: Level,
) -> None:
    feed.context.mode = mode
    window = make_window()
    assert window.header.banner.text() == text
    assert window.header.banner.level() is level
    assert window.header.banner.is_shown()
    assert text.split()[0] in window.windowTitle()


def test_header_counts_unacknowledged_alarms(
    make_window: Callable[..., MainWindow], feed: Feed
) -> None:
    window = make_window()
    tick(window, feed)
    # Nothing received: no limit was checked, so nothing may look healthy.
    assert window.header.alarm_lamp.text() == "no data yet · no limits checked"
    assert window.header.alarm_lamp.level() is Level.NO_DATA
    feed.cabin(T0, 1)
    window.update_alarm_state(feed.clock())
    assert window.header.alarm_lamp.text() == "no alarms"
    assert window.header.alarm_lamp.level() is Level.NOMINAL
    feed.robot("ib2-a", T0, 1, nav_status="NAV_OFF")
    window.update_alarm_state(feed.clock())
    assert window.header.alarm_lamp.text() == "1 unacknowledged · CRITICAL"
    assert window.header.alarm_lamp.level() is Level.CRITICAL
    feed.alarms.acknowledge(["ib2-a.nav_status"], feed.clock())
    window.update_alarm_state(feed.clock())
    assert window.header.alarm_lamp.text() == "1 active alarms, all acknowledged"
    assert (
        window.annunciator.status_text() == "audio unavailable: no audio output device"
    )
    assert window.header.audio.text() == window.annunciator.status_text()


def test_silence_from_the_alarms_menu_is_logged(
    make_window: Callable[..., MainWindow], feed: Feed
) -> None:
    window = make_window()
    menu = next(
        a.menu() for a in window.header.menu_bar.actions() if a.text() == "&Alarms"
    )
    silence = next(
        a for a in menu.actions() if a.text() == "Silence audible alarms 2 min"
    )
    silence.trigger()
    assert feed.archive.actions()[-1][1:] == (
        "K. Tanaka",
        "silence",
        "annunciator",
        "2 min",
    )
    window.events.refresh(feed.clock() + 1)
    assert window.events.rows()[0].cells[3] == "audible alarms silenced for 2 min"
    unsilence = next(a for a in menu.actions() if a.text() == "Unsilence")
    unsilence.trigger()
    assert feed.archive.actions()[-1][2] == "unsilence"


def test_status_bar_shows_links_archive_and_frame_rate(
    make_window: Callable[..., MainWindow], feed: Feed
) -> None:
    window = make_window()
    feed.cabin(T0, 3)
    feed.robot("ib2-a", T0, 3)
    feed.pipeline.tick(feed.clock())
    tick(window, feed)
    links = window.status.links
    assert links["jpm"].level() is Level.NOMINAL
    assert links["jpm"].text() == ""  # healthy: the lamp alone
    assert "link up" in links["jpm"].toolTip()
    assert links["ib2-b"].level() is Level.NO_DATA
    assert window.status.archive.text() == "archive ok · backlog 0"
    assert "fps" in window.status.frame_rate.text()
    # A gap flags the source; silence takes the link down.
    feed._seq["jpm"] += 4
    feed.cabin(feed.clock() + 1, 1)
    window.status.update_from(feed.clock())
    assert links["jpm"].text() == "jpm ⚠"
    assert links["jpm"].level() is Level.WATCH
    assert "1 gaps (4 missed)" in window.status.traffic.text()
    feed.pipeline.tick(feed.clock() + 60)
    window.status.update_from(feed.clock() + 60)
    assert links["ib2-a"].text() == "ib2-a DOWN"
    assert links["ib2-a"].level() is Level.CRITICAL
    feed.archive.dropped = 12
    window.status.update_from(feed.clock())
    assert window.status.archive.text() == "archive DROPPED 12 · backlog 0"
    assert window.status.archive.level() is Level.CRITICAL
    feed.archive.disk_full = True
    window.status.update_from(feed.clock())
    assert window.status.archive.text().startswith("ARCHIVE DISK FULL")
    # Removed under the writer (A1): worse than a full disk, nothing is kept.
    feed.archive.file_gone = True
    window.status.update_from(feed.clock())
    assert window.status.archive.text().startswith("ARCHIVE FILE GONE")
    assert window.status.archive.level() is Level.CRITICAL


def test_roles_switch_and_remember_their_layouts(
    make_window: Callable[..., MainWindow],
    feed: Feed,
    console_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    window = make_window("flight")
    assert window.robots.isVisible()
    window.plots.add_chart(["jpm.rh"])
    window.events.hide()
    window.set_role("radiation")
    assert window.role == "radiation"
    assert not window.robots.isVisible()
    assert window.radiation.isVisible()
    assert window.plots.shade_saa()  # SAA passes matter to the radiation officer
    assert window.plots.chart_keys()[0][0].endswith(".dose_rate")
    assert layout_path("flight").exists()
    assert layout_path("flight").is_relative_to(console_env)
    window.set_role("flight")
    assert window.robots.isVisible()
    assert window.plots.chart_keys()[-1] == ["jpm.rh"]
    assert window.role_actions["flight"].isChecked()
    # Reset asks first (jpm.rh was added); the operator confirms.
    monkeypatch.setattr(
        QMessageBox, "question", lambda *_a: QMessageBox.StandardButton.Reset
    )
    window.reset_layout()
    assert not layout_path("flight").exists()
    assert ["jpm.rh"] not in window.plots.chart_keys()


def test_saved_layout_is_restored_by_a_new_window(
    make_window: Callable[..., MainWindow], feed: Feed
) -> None:
    first = make_window("trainer")
    first.plots.set_charts([["jpm.ppo2", "jpm.p_total"]])
    first.plots.set_window(3600.0)
    first.shutdown()
    from PySide6.QtCore import QSettings

    saved = QSettings(str(layout_path("trainer")), QSettings.Format.IniFormat)
    assert str(saved.value("version")) == str(LAYOUT_VERSION)
    second = make_window("trainer")
    assert second.plots.chart_keys() == [["jpm.ppo2", "jpm.p_total"]]
    assert second.plots.window_s() == 3600.0


def test_screenshot_is_the_whole_window(
    make_window: Callable[..., MainWindow], feed: Feed, tmp_path: Path
) -> None:
    window = make_window()
    feed.cabin(T0, 5)
    tick(window, feed)
    path = tmp_path / "shots" / "console.png"
    assert window.save_screenshot(path)
    image = QImage(str(path))
    assert (image.width(), image.height()) == (window.width(), window.height())


def test_double_click_on_a_readout_opens_its_plot(
    make_window: Callable[..., MainWindow], feed: Feed, qtbot: QtBot
) -> None:
    window = make_window()
    feed.cabin(T0, 3)
    feed.robot("ib2-a", T0, 3)
    tick(window, feed)
    charts = len(window.plots.charts())
    tile = window.eclss.readout("jpm.rh")
    value = tile.findChild(QLabel, "readoutValue")
    qtbot.mouseDClick(value, Qt.MouseButton.LeftButton)
    assert window.plots.chart_keys()[-1] == ["jpm.rh"]
    assert window.plots.selected_chart() is window.plots.charts()[-1]
    # Asking again highlights that chart rather than adding another.
    qtbot.mouseDClick(tile, Qt.MouseButton.LeftButton)
    assert len(window.plots.charts()) == charts + 1
    # A robot tile that folds two channels plots both (same enum states).
    camera = window.robots.readout("ib2-a", "Camera")
    qtbot.mouseDClick(camera, Qt.MouseButton.LeftButton)
    assert window.plots.chart_keys()[-1] == ["ib2-a.cam_power", "ib2-a.cam_record"]
    assert "Double-click to plot." in tile.toolTip()


def test_reset_layout_asks_before_dropping_added_channels(
    make_window: Callable[..., MainWindow], monkeypatch: pytest.MonkeyPatch
) -> None:
    window = make_window()
    defaults = window.plots.chart_keys()
    window.plots.add_chart(["jpm.rh"])
    asked: list[str] = []

    def answer(reply: QMessageBox.StandardButton) -> Callable[..., object]:
        def ask(_parent: object, _title: str, text: str, *_a: object) -> object:
            asked.append(text)
            return reply

        return ask

    monkeypatch.setattr(
        QMessageBox, "question", answer(QMessageBox.StandardButton.Cancel)
    )
    window.reset_layout()
    assert "jpm.rh" in asked[-1]
    assert window.plots.chart_keys() == [*defaults, ["jpm.rh"]]  # kept
    monkeypatch.setattr(
        QMessageBox, "question", answer(QMessageBox.StandardButton.Reset)
    )
    window.reset_layout()
    assert window.plots.chart_keys() == defaults
    asked.clear()
    window.reset_layout()  # nothing added: nothing to ask
    assert asked == []


def test_alarm_double_click_plots_the_channel(
    make_window: Callable[..., MainWindow], feed: Feed
) -> None:
    window = make_window()
    window.plot_channel("jpm.water_recovery")
    assert window.plots.chart_keys()[-1] == ["jpm.water_recovery"]
