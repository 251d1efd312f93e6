"""The transport bar's logic against a fake driver: what each control asks for.

The real ReplayDriver and sessions are exercised in test_replay_gui.py; here
every command is recorded so the exact request can be checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QDialog, QLabel

from console.main_window import MainWindow
from console.replay_bar import AFAP, LANES, SPEEDS, NoteDialog, ReplayBar
from telemetry.core.alarms import AlarmBook
from telemetry.replay.timeline import TimelineMark
from widgets.bookmark_dialog import BookmarkDialog
from widgets.levels import Level

if TYPE_CHECKING:
    from conftest import Feed
    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.usefixtures("console_env", "themed")

T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z


class FakeDriver:
    """The ReplayDriver surface the bar uses: attributes plus recorded commands."""

    def __init__(self, *, training: bool = False) -> None:
        self.start_time = T0
        self.end_time = T0 + 3600.0
        self.cursor = T0
        self.playing = False
        self.speed = 1.0
        self.loop: tuple[float, float] | None = None
        self.marks: list[TimelineMark] = []
        self.marks_version = 0
        self.message = ""
        self.message_seq = 0
        self.training = training
        self.actions: list[tuple[Any, ...]] = []
        self.alarms = AlarmBook(
            on_action=lambda *a: self.actions.append(a), operator="Trainee A"
        )
        self.commands: list[tuple[Any, ...]] = []

    def play(self) -> None:
        self.commands.append(("play",))

    def pause(self) -> None:
        self.commands.append(("pause",))

    def seek(self, t: float) -> None:
        self.commands.append(("seek", t))

    def step(self, seconds: float | None = None, frames: int | None = None) -> None:
        self.commands.append(("step", seconds, frames))

    def set_speed(self, speed: float) -> None:
        self.commands.append(("set_speed", speed))

    def set_loop(self, t0: float | None, t1: float | None = None) -> None:
        self.commands.append(("set_loop", t0, t1))
        self.loop = None if t0 is None or t1 is None else (t0, t1)

    def add_bookmark(
        self, t: float, author: str, text: str, audience: str = "all"
    ) -> None:
        self.commands.append(("add_bookmark", t, author, text, audience))


@pytest.fixture
def bar(qtbot: QtBot) -> tuple[ReplayBar, FakeDriver]:
    driver = FakeDriver()
    widget = ReplayBar(driver)
    qtbot.addWidget(widget)
    return widget, driver


def test_transport_buttons_reach_the_driver(bar: tuple[ReplayBar, FakeDriver]) -> None:
    widget, driver = bar
    widget.play.click()
    assert driver.commands[-1] == ("play",)
    driver.playing = True
    widget.play.click()
    assert driver.commands[-1] == ("pause",)
    driver.cursor = T0 + 30.0
    widget.back.click()
    assert driver.commands[-1] == ("seek", T0 + 20.0)  # the default step is 10 s
    widget.step_s.setValue(45)
    assert widget.forward.text() == "+ 45 s"
    widget.forward.click()
    assert driver.commands[-1] == ("seek", T0 + 75.0)
    widget.back.click()
    assert driver.commands[-1] == ("seek", T0)  # clamped to the start
    widget.frame.click()  # a frame step pauses first
    assert driver.commands[-2:] == [("pause",), ("step", None, 1)]
    widget.to_start.click()
    assert driver.commands[-1] == ("seek", T0)
    widget.seek_fraction(0.5)
    assert driver.commands[-1] == ("seek", T0 + 1800.0)


def test_speeds_from_a_tenth_to_200x_and_as_fast_as_possible(
    bar: tuple[ReplayBar, FakeDriver],
) -> None:
    widget, driver = bar
    offered = [widget.speed.itemData(i) for i in range(widget.speed.count())]
    assert offered == list(SPEEDS)
    assert offered[0] == 0.1 and 200.0 in offered and offered[-1] == AFAP
    assert widget.speed.itemText(widget.speed.count() - 1) == "max"
    widget.speed.setCurrentIndex(widget.speed.findData(200.0))
    assert driver.commands[-1] == ("set_speed", 200.0)
    widget.speed.setCurrentIndex(widget.speed.findData(AFAP))
    assert driver.commands[-1] == ("set_speed", 0.0)
    widget.set_speed(3.0)  # e.g. --replay-speed 3: shown in order, selected
    assert driver.commands[-1] == ("set_speed", 3.0)
    assert widget.speed.currentText() == "3×"
    assert widget.speed.itemData(widget.speed.currentIndex() - 1) == 2.0
    widget.nudge_speed(1)
    assert driver.commands[-1] == ("set_speed", 5.0)


def test_typed_times_seek_and_errors_are_shown(
    bar: tuple[ReplayBar, FakeDriver], qtbot: QtBot
) -> None:
    widget, driver = bar
    for text, expected in (
        ("+02:30", T0 + 150.0),
        ("+0:45:03", T0 + 2703.0),
        ("2025-06-15T15:16:40Z", T0 + 600.0),
        ("166/15:26:40", T0 + 1200.0),  # the displays' GMT day-of-year form
        ("15:36:40", T0 + 1800.0),
    ):
        widget.goto.setText(text)
        qtbot.keyClick(widget.goto, Qt.Key.Key_Return)
        assert driver.commands[-1] == ("seek", expected), text
    count = len(driver.commands)
    assert not widget.go_to("half past nine")
    assert len(driver.commands) == count
    assert "not a time" in widget.notice.text()
    assert widget.go_to("+3:00:00")  # past the end: clamped, and said so
    assert driver.commands[-1] == ("seek", T0 + 3600.0)
    assert "outside the session" in widget.notice.text()


def test_loop_in_and_out_from_the_cursor(bar: tuple[ReplayBar, FakeDriver]) -> None:
    widget, driver = bar
    driver.cursor = T0 + 60.0
    widget.loop_in.click()
    assert widget.loop_pending == (T0 + 60.0, None)
    assert widget.timeline.loop() == (T0 + 60.0, None)  # shown as pending
    driver.cursor = T0 + 90.0
    widget.loop_out.click()
    assert driver.commands[-1] == ("set_loop", T0 + 60.0, T0 + 90.0)
    widget.refresh(driver.cursor)
    assert widget.timeline.loop() == (T0 + 60.0, T0 + 90.0)
    assert "loop T+1:00–1:30" in widget.state.text()
    driver.cursor = T0 + 70.0  # move the start of a running loop
    widget.loop_in.click()
    assert driver.commands[-1] == ("set_loop", T0 + 70.0, T0 + 90.0)
    driver.cursor = T0 + 200.0  # an in-point after the out-point starts afresh
    widget.loop_in.click()
    assert driver.commands[-1] == ("set_loop", None, None)
    assert widget.loop_pending == (T0 + 200.0, None)
    widget.loop_clear.click()
    assert driver.commands[-1] == ("set_loop", None, None)
    assert widget.loop_pending == (None, None)


def test_bar_follows_the_driver(bar: tuple[ReplayBar, FakeDriver]) -> None:
    widget, driver = bar
    driver.cursor, driver.playing, driver.speed = T0 + 900.0, True, 20.0
    widget.refresh(driver.cursor)
    assert widget.timeline.cursor_time() == T0 + 900.0
    assert widget.play.text() == "❚❚ Pause"
    assert widget.speed.currentText() == "20×"
    assert widget.position_text() == (
        "T+15:00 / 1:00:00 · 2025-06-15 166/15:21:40 UTC · ▶ playing · 20×"
    )
    driver.playing, driver.speed = False, AFAP
    widget.refresh(driver.cursor)
    assert widget.state.text() == "❚❚ paused · max"
    driver.message, driver.message_seq = "bookmark saved", 1
    widget.refresh(driver.cursor)
    assert widget.notice.text() == "bookmark saved"


def test_marks_become_timeline_lanes_and_a_jump_menu(
    bar: tuple[ReplayBar, FakeDriver],
) -> None:
    widget, driver = bar
    driver.marks = [
        TimelineMark(T0 + 10.0, "alarm", "c2.career_fraction WARNING", 2),
        TimelineMark(T0 + 120.0, "saa", "SAA pass", 1, T0 + 300.0),
        TimelineMark(T0 + 183.0, "alarm", "jpm.ppco2 CRITICAL", 3),
        TimelineMark(T0 + 200.0, "event", "c2 dose limit", 2),
        TimelineMark(T0 + 400.0, "bookmark", "Trainer B: CDRA fails"),
        TimelineMark(T0 + 500.0, "fault", "ppco2 stuck", 1, T0 + 900.0),
    ]
    driver.marks_version = 1
    widget.refresh(driver.cursor)
    items = {i.label: i for i in widget.timeline.marks()}
    assert widget.timeline.lanes() == LANES
    critical = items["jpm.ppco2 CRITICAL"]
    assert (critical.lane, critical.level) == (1, Level.CRITICAL)
    saa = items["SAA pass"]
    assert (saa.lane, saa.end, saa.level) == (0, T0 + 300.0, Level.WATCH)
    assert items["Trainer B: CDRA fails"].flag
    assert items["Trainer B: CDRA fails"].lane == 3
    assert items["injected fault: ppco2 stuck"].level is Level.STALE
    assert items["c2 dose limit"].lane == 2
    assert widget.jump.text() == "Marks (6) ▾"
    entries = [a for a in widget.jump_menu.actions() if not a.isSeparator()]
    bookmark = next(a for a in entries if "CDRA fails" in a.text())
    assert bookmark.text() == "T+6:40  Trainer B: CDRA fails"
    bookmark.trigger()
    assert driver.commands[-1] == ("seek", T0 + 400.0)
    driver.cursor = T0 + 150.0
    widget.jump_mark(1)  # periods are not stops: the next alarm is
    assert driver.commands[-1] == ("seek", T0 + 183.0)
    widget.jump_mark(-1)
    assert driver.commands[-1] == ("seek", T0 + 10.0)


def test_timeline_click_seeks(bar: tuple[ReplayBar, FakeDriver], qtbot: QtBot) -> None:
    widget, driver = bar
    widget.resize(1200, widget.sizeHint().height())
    widget.show()
    qtbot.waitExposed(widget)
    timeline = widget.timeline
    x = timeline.x_of(T0 + 1800.0)
    y = timeline.lane_rect(0).center().y()
    qtbot.mouseClick(
        timeline, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y))
    )
    ((name, t),) = [c for c in driver.commands if c[0] == "seek"]
    assert name == "seek"
    assert abs(t - (T0 + 1800.0)) <= 3600.0 / timeline.plot_rect().width()


def test_bookmark_button_asks_for_text(
    bar: tuple[ReplayBar, FakeDriver], monkeypatch: pytest.MonkeyPatch
) -> None:
    widget, driver = bar
    driver.cursor = T0 + 75.0
    asked: list[str] = []

    def fill(dialog: BookmarkDialog) -> int:
        asked.append(dialog.windowTitle())
        asked.extend(label.text() for label in dialog.findChildren(QLabel))
        assert not dialog.ok.isEnabled()
        driver.cursor = T0 + 99.0  # playback went on while typing
        dialog.text.setText("  CDRA fails  ")
        return QDialog.DialogCode.Accepted.value

    monkeypatch.setattr(BookmarkDialog, "exec", fill)
    widget.bookmark.click()
    assert any("T+1:15" in text for text in asked)
    assert driver.commands[-1] == (
        "add_bookmark",
        T0 + 75.0,
        "Trainee A",
        "CDRA fails",
        "all",
    )
    monkeypatch.setattr(
        BookmarkDialog, "exec", lambda d: QDialog.DialogCode.Accepted.value
    )
    widget.bookmark.click()
    assert len([c for c in driver.commands if c[0] == "add_bookmark"]) == 1


def test_trainers_only_is_offered_in_replays_and_never_in_training(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver = FakeDriver()
    widget = ReplayBar(driver)
    qtbot.addWidget(widget)

    def trainers_only(dialog: BookmarkDialog) -> int:
        assert dialog.trainers_only is not None
        assert not dialog.trainers_only.isChecked()  # everyone, unless asked
        dialog.trainers_only.click()
        assert "never shown in a training run" in dialog.hint.text()
        dialog.text.setText("expect the LiOH call")
        return QDialog.DialogCode.Accepted.value

    monkeypatch.setattr(BookmarkDialog, "exec", trainers_only)
    widget.bookmark.click()
    assert driver.commands[-1][3:] == ("expect the LiOH call", "trainer")

    trainee = FakeDriver(training=True)
    training = ReplayBar(trainee)
    qtbot.addWidget(training)
    assert training.bookmark_dialog(T0).trainers_only is None
    # Nor through the bar's own call: a training run stores nothing then.
    assert not training.add_bookmark("the answer", T0, trainers_only=True)
    assert trainee.commands == []


def test_trainer_only_bookmarks_are_drawn_apart(
    bar: tuple[ReplayBar, FakeDriver],
) -> None:
    widget, driver = bar
    driver.marks = [
        TimelineMark(T0 + 60.0, "bookmark", "Lead: watch the CO2 trend"),
        TimelineMark(
            T0 + 90.0, "bookmark", "Lead: expect the LiOH call", audience="trainer"
        ),
    ]
    driver.marks_version += 1
    widget.refresh(0.0)
    flags = {i.label: i.restricted for i in widget.timeline.marks() if i.flag}
    assert flags == {
        "Lead: watch the CO2 trend": False,
        "trainers only · Lead: expect the LiOH call": True,
    }
    entries = [a.text() for a in widget.jump_menu.actions()]
    assert "T+1:30  trainers only · Lead: expect the LiOH call" in entries
    assert "T+1:00  Lead: watch the CO2 trend" in entries


def test_notes_are_training_only_and_go_to_the_action_log(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    replay = ReplayBar(FakeDriver())
    qtbot.addWidget(replay)
    assert replay.note is None
    driver = FakeDriver(training=True)
    widget = ReplayBar(driver)
    qtbot.addWidget(widget)
    assert widget.note is not None
    driver.cursor = T0 + 95.0
    seen: list[str] = []
    widget.action_done.connect(seen.append)

    def fill(dialog: NoteDialog) -> int:
        assert dialog.about.currentText() == "general"  # no alarm is active
        assert not dialog.ok.isEnabled()
        dialog.text.setText("called for CDRA troubleshooting")
        assert dialog.ok.isEnabled()
        return QDialog.DialogCode.Accepted.value

    monkeypatch.setattr(NoteDialog, "exec", fill)
    widget.note.click()
    assert driver.actions == [
        (T0 + 95.0, "Trainee A", "note", "general", "called for CDRA troubleshooting")
    ]
    assert seen == ["note on general: called for CDRA troubleshooting"]


def test_keyboard_drives_the_transport(
    bar: tuple[ReplayBar, FakeDriver], qtbot: QtBot
) -> None:
    widget, driver = bar
    widget.show()
    widget.activateWindow()
    qtbot.waitUntil(widget.isActiveWindow)
    driver.cursor = T0 + 100.0
    keys = [
        (Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, ("play",)),
        (Qt.Key.Key_Right, Qt.KeyboardModifier.NoModifier, ("seek", T0 + 110.0)),
        (Qt.Key.Key_Left, Qt.KeyboardModifier.NoModifier, ("seek", T0 + 90.0)),
        (Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier, ("seek", T0 + 160.0)),
        (Qt.Key.Key_Period, Qt.KeyboardModifier.NoModifier, ("step", None, 1)),
        (Qt.Key.Key_End, Qt.KeyboardModifier.NoModifier, ("seek", T0 + 3600.0)),
        (Qt.Key.Key_Home, Qt.KeyboardModifier.NoModifier, ("seek", T0)),
        (Qt.Key.Key_Plus, Qt.KeyboardModifier.NoModifier, ("set_speed", 2.0)),
    ]
    for key, mods, expected in keys:
        qtbot.keyClick(widget, key, mods)
        assert driver.commands[-1] == expected, key
    qtbot.keyClick(widget, Qt.Key.Key_BracketLeft)
    driver.cursor = T0 + 130.0
    qtbot.keyClick(widget, Qt.Key.Key_BracketRight)
    assert driver.commands[-1] == ("set_loop", T0 + 100.0, T0 + 130.0)


# Floating a dock raises its new window, which the offscreen platform cannot do.
@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_replay_window_has_the_bar_and_marks_floating_docks(
    qtbot: QtBot, feed: Feed
) -> None:
    feed.context.mode = "training"
    driver = FakeDriver(training=True)
    feed.context.replay = driver
    window = MainWindow(feed.context, "trainer")
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    bar = window.header.replay_bar
    assert bar is not None
    driver.cursor = T0 + 60.0
    window.header.refresh(T0 + 60.0)
    assert bar.offset.text() == "T+1:00 / 1:00:00"
    assert window.windowTitle().startswith("TRAINING (not live)")
    # Docked, the header says it; the radiation dock (shelter calls) always does.
    assert window.dock_banners["radiation"].text() == "TRAINING · not live data"
    assert not window.dock_banners["radiation"].isHidden()
    assert window.dock_banners["eclss"].isHidden()
    window.eclss.setFloating(True)
    qtbot.waitUntil(lambda: not window.dock_banners["eclss"].isHidden())
    assert window.eclss.isWindow()
    assert window.eclss.windowTitle().startswith("TRAINING (not live) · ")
    window.eclss.setFloating(False)
    qtbot.waitUntil(lambda: window.dock_banners["eclss"].isHidden())
    assert "TRAINING" not in window.eclss.windowTitle()
    # A trainee's note reaches the event list beside the acks.
    bar.add_note("general", "CDRA troubleshooting requested")
    window.events.refresh(T0 + 61.0)
    assert window.events.rows()[0].cells[3] == (
        "note on general: CDRA troubleshooting requested"
    )
    window.shutdown()
