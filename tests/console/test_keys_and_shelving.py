"""Keyboard and alarm workflow of the main window (issue 15, items 8 and 9)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication

from console.app import build_console
from console.config import ConsoleConfig
from console.main_window import MainWindow
from console.replay_bar import NoteDialog
from telemetry.core.severity import Severity
from widgets.levels import Level

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import Feed
    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.usefixtures("console_env", "themed")

REPLAY_DATA = Path(__file__).resolve().parents[2] / "replay_data"


@pytest.fixture
def window(qtbot: QtBot, feed: Feed) -> Iterator[MainWindow]:
    w = MainWindow(feed.context, "flight")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


def raise_co2(feed: Feed) -> None:
    feed.cabin(feed.clock(), 5, ppco2=2.9)  # persistence 5: a WARNING


def test_help_lists_every_shortcut(window: MainWindow) -> None:
    rows = dict(window.shortcut_rows())
    assert rows["F1"] == "Keyboard shortcuts"
    assert rows["Ctrl+K"] == "Acknowledge selected alarms"
    assert rows["Ctrl+H"] == "Shelve selected alarms…"
    assert rows["Ctrl+Q"] == "Quit"
    assert rows["Ctrl+1"] == "Flight control"
    assert "Enter (in the ack comment)" in rows
    menus = [a.text() for a in window.header.menu_bar.actions()]
    assert menus[-1] == "&Help"


def test_current_role_layout_is_marked(window: MainWindow) -> None:
    actions = window.role_actions
    assert actions["flight"].isChecked()
    assert actions["flight"].text() == "Flight control  (current)"
    actions["radiation"].trigger()
    assert window.role == "radiation"
    assert actions["radiation"].isChecked() and not actions["flight"].isChecked()
    assert actions["flight"].text() == "Flight control"
    assert actions["radiation"].text().endswith("(current)")


def test_ctrl_k_acknowledges_the_selected_alarm(
    qtbot: QtBot, window: MainWindow, feed: Feed
) -> None:
    raise_co2(feed)
    window.alarms.refresh(feed.clock())
    window.alarms.table.select_ids(["jpm.ppco2"])
    window.alarms.table.set_comment("CDRA swap")
    qtbot.keyClick(window, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    alarm = feed.alarms.get("jpm.ppco2")
    assert alarm is not None and alarm.acked and alarm.ack_comment == "CDRA swap"


def test_live_console_asks_before_quitting(window: MainWindow) -> None:
    asked: list[bool] = []

    def refuse() -> bool:
        asked.append(True)
        return False

    window.confirm_quit = refuse
    quit_action = next(
        a for a in window.actions() if a.shortcut().toString() == "Ctrl+Q"
    )
    quit_action.trigger()
    assert asked == [True] and window.isVisible()
    # The window manager's close button (a spontaneous close) asks too.
    event = QCloseEvent()
    event.setAccepted(True)
    event.spontaneous = lambda: True  # type: ignore[method-assign]
    window.closeEvent(event)
    assert asked == [True, True] and not event.isAccepted()
    window.confirm_quit = lambda: True
    quit_action.trigger()
    assert not window.isVisible()


def test_shelved_alarm_shows_who_when_why_and_keeps_its_ack_comment(
    window: MainWindow, feed: Feed
) -> None:
    raise_co2(feed)
    dock = window.alarms
    dock.acknowledge(["jpm.ppco2"], "crew informed")
    dock.shelve(["jpm.ppco2"], 30, "CDRA swap, briefed")
    dock.refresh(feed.clock())
    row = dict(
        zip(
            dock.table.model().columns(),
            dock.table.model().rows()[0].cells,
            strict=True,
        )
    )
    assert row["State"] == (
        "shelved by K. Tanaka at 166/15:06:44: CDRA swap, briefed"
        " · acknowledged by K. Tanaka: crew informed"
    )
    assert row["Shelved until"] == "166/15:36:44"
    action = feed.archive.actions()[-1]
    assert action[2:] == ("shelve", "jpm.ppco2", "30 min. CDRA swap, briefed")


def test_alarm_columns_fit_their_text(window: MainWindow, feed: Feed) -> None:
    window.resize(1280, 700)
    raise_co2(feed)
    feed.robot("ib2-a", feed.clock(), 1, nav_status="NAV_OFF")
    window.alarms.refresh(feed.clock())
    assert window.alarms.table.cut_cells() == []
    # The empty "Shelved until" column gives its room back.
    table = window.alarms.table
    shelved = table.model().columns().index("Shelved until")
    header = table.view().horizontalHeader()
    assert table.view().columnWidth(shelved) <= header.sectionSizeHint(shelved)


def test_header_follows_an_ack_while_the_clock_stands_still(
    window: MainWindow, feed: Feed
) -> None:
    """A paused replay's clock does not move: the ack must show at once."""
    raise_co2(feed)
    now = feed.clock()
    window.header.refresh(now)
    assert window.header.alarm_lamp.text() == "1 unacknowledged · WARNING"
    feed.alarms.acknowledge(["jpm.ppco2"], now)
    window.header.refresh(now)  # same time: a paused replay
    assert window.header.alarm_lamp.text() == "1 active alarms, all acknowledged"
    assert window.header.alarm_lamp.level() is Level.NO_DATA


def test_export_dialog_opens_in_the_data_directory(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch, console_env: object
) -> None:
    seen: list[str] = []

    def fake_dialog(*args: object) -> tuple[str, str]:
        seen.append(str(args[2]))
        return "", ""

    monkeypatch.setattr("console.main_window.QFileDialog.getSaveFileName", fake_dialog)
    window.export_plot_csv()
    assert seen and seen[0].startswith(str(console_env))
    assert "/exports/plots-" in seen[0]


def test_training_note_is_about_the_selected_alarm(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """The note dialog starts on the alarm selected in the list, not the worst."""
    session = tmp_path / "co2-rise.session.sqlite"
    shutil.copyfile(REPLAY_DATA / session.name, session)
    config = ConsoleConfig(replay=session, training=True, layout="trainer")
    config.buffer_capacity = 5000
    con = build_console(config, training_log=tmp_path / "log.sqlite")
    try:
        con.start()
        driver, bar = con.replay, con.window.header.replay_bar
        assert driver is not None and bar is not None
        driver.seek(driver.start_time + 200.0)  # CO2 CRITICAL, career WARNING
        qtbot.waitUntil(lambda: len(driver.alarms.snapshot()) >= 2, timeout=10_000)
        con.window.alarms.refresh(driver.clock())
        con.window.alarms.table.select_ids(["c2.career_fraction"])
        seen: list[str] = []

        def look() -> None:
            dialog = QApplication.activeModalWidget()
            assert isinstance(dialog, NoteDialog)
            seen.append(dialog.target())
            dialog.reject()

        QTimer.singleShot(0, look)
        bar.ask_note()
        assert seen == ["c2.career_fraction"]
    finally:
        con.shutdown()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


def test_shelved_watch_escalating_to_warning_returns_sounds_and_is_logged(
    window: MainWindow, feed: Feed
) -> None:
    """H1: shelved at WATCH for maintenance, a WARNING must not stay hidden."""
    feed.cabin(feed.clock(), 5, ppco2=2.5)  # WATCH
    dock = window.alarms
    dock.shelve(["jpm.ppco2"], 60, "known CDRA maintenance, watch expected")
    now = feed.clock()
    window.update_alarm_state(now)
    assert window.header.alarm_lamp.text() == (
        "1 active alarms, 1 shelved unacknowledged"
    )
    assert window.annunciator.sounding is Severity.NOMINAL
    feed.cabin(feed.clock() + 1, 5, ppco2=2.9)  # WARNING, in the shelving time
    now = feed.clock()
    window.update_alarm_state(now)
    alarm = feed.alarms.get("jpm.ppco2")
    assert alarm is not None and not alarm.shelved(now) and not alarm.acked
    assert window.header.alarm_lamp.text() == "1 unacknowledged · WARNING"
    assert window.annunciator.sounding is Severity.WARNING
    window.events.refresh(now + 1)
    logged = [r.cells for r in window.events.rows() if r.cells[2] == "unshelved"]
    assert logged and logged[0][3].startswith(
        "jpm.ppco2 escalated to WARNING while shelved by K. Tanaka at WATCH"
        " (known CDRA maintenance, watch expected)"
    )
    assert feed.archive.actions()[-1][2:] == (
        "unshelve",
        "jpm.ppco2",
        "escalated to WARNING while shelved at WATCH",
    )
