"""Replay and training in the real console: a real ReplayDriver on replay_data/.

The sessions are copied into ``tmp_path`` (bookmarks go beside the session),
and where timing matters the driver's wall clock is one the test moves, so
"1.5 s at 20×" is exactly 30 s of replay time whatever the machine's speed.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication

from console.app import build_console
from console.cli import main as cli_main
from console.config import ConsoleConfig
from console.replay_bar import AFAP
from telemetry.replay.bookmarks import BookmarkFile, sidecar_path
from telemetry.replay.training import read_training_log
from widgets.bookmark_dialog import BookmarkDialog

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pytestqt.qtbot import QtBot

    from console.app import Console
    from console.replay_bar import ReplayBar
    from console.replay_driver import ReplayDriver

pytestmark = pytest.mark.usefixtures("console_env", "themed")

REPLAY_DATA = Path(__file__).resolve().parents[2] / "replay_data"
SESSIONS = ("nominal-ops", "co2-rise", "nav-loss", "spe-2017-09")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_session(name: str, where: Path) -> Path:
    target = where / f"{name}.session.sqlite"
    shutil.copyfile(REPLAY_DATA / target.name, target)
    return target


class WallClock:
    """The replay thread's wall clock; only the test moves it."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def open_console(qtbot: QtBot) -> Iterator[Callable[..., Console]]:
    opened: list[Console] = []

    def make(
        config: ConsoleConfig,
        wall: WallClock | None = None,
        training_log: Path | None = None,
    ) -> Console:
        # Sessions of minutes need small rings: the default 100,000 samples
        # per channel would cost a few hundred MB per console here.
        config.buffer_capacity = 5000
        con = build_console(config, training_log=training_log)
        assert con.replay is not None
        if wall is not None:
            con.replay.wall_clock = wall
        # Not qtbot.addWidget: Console.shutdown closes and deletes the window,
        # and some tests shut a console down to open the session again.
        con.start()
        qtbot.waitExposed(con.window)
        opened.append(con)
        return con

    yield make
    for con in opened:
        con.shutdown()
    # Shutdown deletes the windows later: do it now, so their stores go too.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


def parts(con: Console) -> tuple[ReplayDriver, ReplayBar]:
    assert con.replay is not None and con.window.header.replay_bar is not None
    return con.replay, con.window.header.replay_bar


def settle(qtbot: QtBot, driver: ReplayDriver) -> None:
    """Wait until the replay thread has run a whole loop after this call."""
    done: list[bool] = []
    # The inner command is queued while the outer one runs, so it waits for
    # the next pass: by then the pass that saw the test's changes is over.
    driver.call(lambda: driver.call(lambda: done.append(True)))
    qtbot.waitUntil(lambda: bool(done))


def alarm_rows(con: Console) -> dict[str, str]:
    """Alarm list rows: channel key -> severity cell, as the operator sees them."""
    return {r.id: r.cells[0] for r in con.window.alarms.table.model().rows()}


def test_transport_play_pause_step_seek_speed_loop(
    qtbot: QtBot, tmp_path: Path, open_console: Callable[..., Console]
) -> None:
    path = copy_session("co2-rise", tmp_path)
    wall = WallClock()
    con = open_console(ConsoleConfig(replay=path, layout="trainer"), wall)
    driver, bar = parts(con)
    start, end = driver.start_time, driver.end_time
    assert driver.cursor == start and not driver.playing

    # Play at 20×: 1.5 s of wall time is 30 s of the session.
    bar.speed.setCurrentIndex(bar.speed.findData(20.0))
    bar.play.click()
    qtbot.waitUntil(lambda: driver.playing)
    wall.t += 1.5
    qtbot.waitUntil(lambda: driver.cursor == start + 30.0)
    qtbot.waitUntil(lambda: bar.offset.text() == "T+0:30 / 8:59")
    assert bar.play.text() == "❚❚ Pause"

    # Pause: the wall clock runs on, the replay does not.
    bar.play.click()
    qtbot.waitUntil(lambda: not driver.playing)
    wall.t += 10.0
    settle(qtbot, driver)
    assert driver.cursor == start + 30.0
    qtbot.waitUntil(lambda: bar.play.text() == "▶ Play")

    # One frame forward: the next recorded message (10-s batches per source).
    bar.frame.click()
    qtbot.waitUntil(lambda: driver.cursor > start + 30.0)
    assert driver.cursor <= start + 40.0
    # ±N seconds.
    here = driver.cursor
    bar.step_s.setValue(15)
    bar.forward.click()
    qtbot.waitUntil(lambda: driver.cursor == here + 15.0)
    bar.back.click()
    qtbot.waitUntil(lambda: driver.cursor == here)

    # Seek by clicking the timeline (pixel resolution) ...
    timeline = bar.timeline
    qtbot.waitUntil(lambda: len(timeline.marks()) >= 4)
    periods = timeline.lane_rect(0).center().y()
    x = timeline.x_of(start + 200.0)
    qtbot.mouseClick(
        timeline, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(periods))
    )
    per_pixel = (end - start) / timeline.plot_rect().width()
    qtbot.waitUntil(lambda: abs(driver.cursor - (start + 200.0)) <= per_pixel)
    # ... where a click next to an alarm goes to the alarm itself.
    alarms = timeline.lane_rect(1).center().y()
    x = timeline.x_of(start + 419.0) + 3
    qtbot.mouseClick(
        timeline, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(alarms))
    )
    qtbot.waitUntil(lambda: driver.cursor == start + 419.0)
    # The sample that trips CRITICAL (24 h mean) at T+6:59 is the last of
    # its 10-s batch, which has arrived: the list shows what a live console
    # showed then.
    qtbot.waitUntil(lambda: alarm_rows(con).get("jpm.ppco2") == "CRITICAL")
    # Dragging seeks along the way; only the last position is replayed to.
    y = round(periods)
    qtbot.mousePress(
        timeline,
        Qt.MouseButton.LeftButton,
        pos=QPoint(round(timeline.x_of(start + 60.0)), y),
    )
    for t in (80.0, 100.0, 120.0):
        qtbot.mouseMove(timeline, QPoint(round(timeline.x_of(start + t)), y))
    qtbot.mouseRelease(
        timeline,
        Qt.MouseButton.LeftButton,
        pos=QPoint(round(timeline.x_of(start + 120.0)), y),
    )
    qtbot.waitUntil(lambda: abs(driver.cursor - (start + 120.0)) <= per_pixel)

    # Seek by typing a time: +MM:SS from the session start, or ISO UTC.
    bar.goto.setText("+02:30")
    qtbot.keyClick(bar.goto, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: driver.cursor == start + 150.0)
    bar.goto.setText("2026-03-02T09:05:00Z")
    qtbot.keyClick(bar.goto, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: driver.cursor == start + 300.0)

    # 200×: one wall second is 200 s.
    bar.go_start()
    qtbot.waitUntil(lambda: driver.cursor == start)
    bar.speed.setCurrentIndex(bar.speed.findData(200.0))
    qtbot.waitUntil(lambda: driver.speed == 200.0)
    bar.play.click()
    qtbot.waitUntil(lambda: driver.playing)
    wall.t += 1.0
    qtbot.waitUntil(lambda: driver.cursor == start + 200.0)
    bar.play.click()
    qtbot.waitUntil(lambda: not driver.playing)

    # Loop 1:00 to 1:30 at 20×: reaching the out-point wraps to the in-point.
    bar.speed.setCurrentIndex(bar.speed.findData(20.0))
    bar.go_to("+01:00")
    qtbot.waitUntil(lambda: driver.cursor == start + 60.0)
    bar.loop_in.click()
    bar.go_to("+01:30")
    qtbot.waitUntil(lambda: driver.cursor == start + 90.0)
    bar.loop_out.click()
    qtbot.waitUntil(lambda: driver.loop == (start + 60.0, start + 90.0))
    qtbot.waitUntil(lambda: timeline.loop() == (start + 60.0, start + 90.0))
    bar.play.click()
    qtbot.waitUntil(lambda: driver.playing)
    wall.t += 1.0  # 20 s: to the out-point, then back to the in-point
    qtbot.waitUntil(lambda: driver.cursor == start + 60.0)
    wall.t += 0.5
    qtbot.waitUntil(lambda: driver.cursor == start + 70.0)
    assert driver.playing
    bar.loop_clear.click()
    qtbot.waitUntil(lambda: driver.loop is None)
    bar.play.click()
    qtbot.waitUntil(lambda: not driver.playing)

    # As fast as possible: runs to the end with no wall time passing at all.
    bar.speed.setCurrentIndex(bar.speed.findData(AFAP))
    bar.play.click()
    qtbot.waitUntil(lambda: driver.cursor == end and not driver.playing, timeout=30_000)
    qtbot.waitUntil(lambda: bar.state.text() == "■ at the end")


def test_keyboard_transport_on_a_real_replay(
    qtbot: QtBot, tmp_path: Path, open_console: Callable[..., Console]
) -> None:
    wall = WallClock()
    con = open_console(ConsoleConfig(replay=copy_session("nav-loss", tmp_path)), wall)
    driver, bar = parts(con)
    window = con.window
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    start = driver.start_time
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: driver.cursor == start + 10.0)
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: driver.cursor == start + 70.0)
    qtbot.keyClick(window, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: driver.cursor == start + 60.0)
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: driver.cursor == start + 150.0)  # the next alarm
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: driver.playing)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not driver.playing)
    # In the alarm list the arrows move the selection, not the replay.
    view = window.alarms.table.view()
    qtbot.waitUntil(lambda: view.model().rowCount() >= 2)
    view.setFocus()
    view.setCurrentIndex(view.model().index(0, 0))
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.currentIndex().row() == 1
    qtbot.keyClick(view, Qt.Key.Key_Right)
    settle(qtbot, driver)
    assert driver.cursor == start + 150.0


# What each session leaves in the alarm list at its end (replay_data/README.md):
# active alarms, and critical ones that latch until acknowledged.
END_ALARMS = {
    "nominal-ops": {"c2.career_fraction": "WARNING"},
    "co2-rise": {"c2.career_fraction": "WARNING", "jpm.ppco2": "CRITICAL"},
    "nav-loss": {
        "c2.career_fraction": "WARNING",
        "ib2-b.nav_status": "CRITICAL",
        "ib2-b.mode": "WARNING",
        "ib2-b.ctl_type": "WATCH (peak WARNING)",
        "ib2-b.battery_pct": "CRITICAL",
    },
    "spe-2017-09": {"c2.career_fraction": "WARNING", "goes.s_scale": "CRITICAL (rtn)"},
}
# The onsets of replay_data/README.md, as the timeline marks them.
TIMELINE_ALARMS = {
    "nominal-ops": {(0, "c2.career_fraction WARNING")},
    "co2-rise": {
        (0, "c2.career_fraction WARNING"),
        (74, "jpm.ppco2 WATCH"),
        (94, "jpm.ppco2 WARNING"),
        (419, "jpm.ppco2 CRITICAL"),  # on the 24 h mean
    },
    "nav-loss": {
        (60, "ib2-b.nav_status WATCH"),
        (150, "ib2-b.nav_status CRITICAL"),
        (150, "ib2-b.mode WARNING"),
        (150, "ib2-b.ctl_type WARNING"),
        (182, "ib2-b.battery_pct WARNING"),
        (302, "ib2-b.battery_pct CRITICAL"),
    },
    "spe-2017-09": {
        (55, "goes.s_scale WARNING"),
        (65, "goes.spe_active WARNING"),
        (75, "goes.s_scale CRITICAL"),
    },
}


@pytest.mark.parametrize("name", SESSIONS)
def test_each_session_replays_to_the_end_with_its_alarms(
    name: str, qtbot: QtBot, tmp_path: Path, open_console: Callable[..., Console]
) -> None:
    path = copy_session(name, tmp_path)
    before = sha256(path)
    con = open_console(ConsoleConfig(replay=path, layout="trainer"))
    driver, bar = parts(con)
    start = driver.start_time
    assert con.window.header.banner.text() == "REPLAY · recorded data, not live"
    assert con.window.windowTitle().startswith("REPLAY (not live)")
    qtbot.waitUntil(lambda: bool(bar.timeline.marks()))
    marked = {
        (round(m.time - start), m.label) for m in bar.marks() if m.kind == "alarm"
    }
    assert TIMELINE_ALARMS[name] <= marked
    bar.set_speed(AFAP)
    bar.play.click()
    qtbot.waitUntil(
        lambda: driver.cursor == driver.end_time and not driver.playing,
        timeout=60_000,
    )
    qtbot.waitUntil(lambda: alarm_rows(con) == END_ALARMS[name])
    con.shutdown()
    assert sha256(path) == before


def test_replay_estimates_dose_with_the_roster_it_is_given(
    qtbot: QtBot, tmp_path: Path, open_console: Callable[..., Console]
) -> None:
    """A radiation officer replays a session against another crew record."""
    from telemetry.radiation.roster import DEFAULT_ROSTER

    roster = tmp_path / "crew_roster.toml"
    shipped = DEFAULT_ROSTER.read_text(encoding="utf-8")
    assert "prior_career_msv = 480.0" in shipped  # c2, the veteran
    roster.write_text(
        shipped.replace("prior_career_msv = 480.0", "prior_career_msv = 590.0")
    )
    con = open_console(
        ConsoleConfig(replay=copy_session("nominal-ops", tmp_path), roster=roster)
    )
    driver, bar = parts(con)
    bar.set_speed(AFAP)
    bar.play.click()
    qtbot.waitUntil(
        lambda: driver.cursor == driver.end_time and not driver.playing,
        timeout=60_000,
    )
    crew = {c.crew_id: c for c in driver.dose.snapshot().crew}
    assert crew["c2"].prior_msv == 590.0
    assert crew["c2"].career_fraction >= 590.0 / 600.0
    # The shipped roster leaves c2 at WARNING (80 %); this record is at 98 %.
    qtbot.waitUntil(
        lambda: alarm_rows(con).get("c2.career_fraction", "").startswith("CRITICAL")
    )


def test_bookmarks_persist_and_are_seen_by_every_replay(
    qtbot: QtBot, tmp_path: Path, open_console: Callable[..., Console]
) -> None:
    path = copy_session("co2-rise", tmp_path)
    before = sha256(path)
    first = open_console(
        ConsoleConfig(replay=path, operator="Trainer B", layout="trainer")
    )
    driver, bar = parts(first)
    start = driver.start_time
    bar.go_to("+01:00")
    qtbot.waitUntil(lambda: driver.cursor == start + 60.0)
    assert bar.add_bookmark("CDRA fails here")

    def flags(b: ReplayBar) -> list[tuple[float, str]]:
        return [(i.time, i.label) for i in b.timeline.marks() if i.flag]

    qtbot.waitUntil(
        lambda: flags(bar) == [(start + 60.0, "Trainer B: CDRA fails here")]
    )
    assert "bookmark saved" in bar.notice.text()
    first.shutdown()
    assert sidecar_path(path).is_file()
    assert sha256(path) == before  # the session itself is never written

    # Another trainer replays the same session later: the bookmark is there.
    second = open_console(ConsoleConfig(replay=path, operator="Trainer C"))
    driver2, bar2 = parts(second)
    qtbot.waitUntil(
        lambda: flags(bar2) == [(start + 60.0, "Trainer B: CDRA fails here")]
    )
    entry = next(a for a in bar2.jump_menu.actions() if "CDRA fails" in a.text())
    assert entry.text() == "T+1:00  Trainer B: CDRA fails here"
    entry.trigger()
    qtbot.waitUntil(lambda: driver2.cursor == start + 60.0)
    # ... and sees one added meanwhile by someone else replaying it.
    BookmarkFile(path).add(start + 183.0, "Trainer D", "critical: relocate")
    qtbot.waitUntil(lambda: len(flags(bar2)) == 2, timeout=15_000)
    assert (start + 183.0, "Trainer D: critical: relocate") in flags(bar2)
    second.shutdown()
    assert sha256(path) == before


def test_a_trainee_never_sees_the_training_leads_trainer_only_bookmarks(
    qtbot: QtBot, tmp_path: Path, open_console: Callable[..., Console]
) -> None:
    path = copy_session("co2-rise", tmp_path)
    # The shipped lead notes (trainer-only) and one shared hint.
    shutil.copyfile(REPLAY_DATA / sidecar_path(path).name, sidecar_path(path))
    shared = BookmarkFile(path).add(
        BookmarkFile(path).read()[0].time, "Lead", "watch the CO2 trend"
    )

    def flags(b: ReplayBar) -> list[str]:
        return [i.label for i in b.timeline.marks() if i.flag]

    trainer = open_console(ConsoleConfig(replay=path, operator="Lead"))
    driver, bar = parts(trainer)
    qtbot.waitUntil(lambda: len(flags(bar)) == 4)
    # The trainer's replay stores trainer-only bookmarks too.
    driver.add_bookmark(driver.cursor, "Lead", "expect the LiOH call", "trainer")
    qtbot.waitUntil(lambda: len(flags(bar)) == 5)
    trainer.shutdown()
    trainee = open_console(
        ConsoleConfig(replay=path, training=True, operator="Trainee A"),
        training_log=tmp_path / "trainee-a.sqlite",
    )
    _driver, bar = parts(trainee)
    qtbot.waitUntil(lambda: bool(bar.timeline.marks()))
    assert flags(bar) == [f"Lead: {shared.text}"]
    assert not [a for a in bar.jump_menu.actions() if "CDRA" in a.text()]


def test_a_trainer_only_bookmark_made_in_the_dialog_is_hidden_from_training(
    qtbot: QtBot, tmp_path: Path, open_console: Callable[..., Console]
) -> None:
    path = copy_session("co2-rise", tmp_path)
    before = sha256(path)
    trainer = open_console(
        ConsoleConfig(replay=path, operator="Lead", layout="trainer")
    )
    driver, bar = parts(trainer)
    start = driver.start_time
    bar.go_to("+02:00")
    qtbot.waitUntil(lambda: driver.cursor == start + 120.0)
    offered: list[bool] = []

    def answer(text: str, *, trainers_only: bool) -> Callable[[], None]:
        def fill() -> None:
            # The real dialog, modal over the window, filled as a trainer would.
            dialog = QApplication.activeModalWidget()
            assert isinstance(dialog, BookmarkDialog)
            offered.append(dialog.trainers_only is not None)
            qtbot.keyClicks(dialog.text, text)
            if trainers_only and dialog.trainers_only is not None:
                qtbot.mouseClick(dialog.trainers_only, Qt.MouseButton.LeftButton)
            qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)

        return fill

    QTimer.singleShot(0, answer("expect the LiOH call", trainers_only=True))
    bar.bookmark.click()
    bar.go_to("+02:30")
    qtbot.waitUntil(lambda: driver.cursor == start + 150.0)
    QTimer.singleShot(0, answer("watch the CO2 trend", trainers_only=False))
    bar.bookmark.click()
    assert offered == [True, True]

    def flags(b: ReplayBar) -> dict[str, bool]:
        return {i.label: i.restricted for i in b.timeline.marks() if i.flag}

    # The trainer sees both, the trainer-only one drawn apart.
    qtbot.waitUntil(
        lambda: flags(bar)
        == {
            "trainers only · Lead: expect the LiOH call": True,
            "Lead: watch the CO2 trend": False,
        }
    )
    stored = {b.text: b.audience for b in BookmarkFile(path).read()}
    assert stored == {"expect the LiOH call": "trainer", "watch the CO2 trend": "all"}
    trainer.shutdown()

    # A later training run of the same session: only the shared hint, and
    # its dialog does not offer trainer-only notes.
    trainee = open_console(
        ConsoleConfig(replay=path, training=True, operator="Trainee A"),
        training_log=tmp_path / "trainee-a.sqlite",
    )
    _driver, bar = parts(trainee)
    qtbot.waitUntil(lambda: bool(flags(bar)))
    assert flags(bar) == {"Lead: watch the CO2 trend": False}
    assert not [a for a in bar.jump_menu.actions() if "LiOH" in a.text()]
    QTimer.singleShot(0, answer("my own note", trainers_only=True))
    bar.bookmark.click()
    assert offered == [True, True, False]
    qtbot.waitUntil(lambda: "Trainee A: my own note" in flags(bar))
    assert flags(bar)["Trainee A: my own note"] is False
    assert sha256(path) == before  # the session itself is never written


def test_bookmark_errors_are_shown_not_fatal(
    qtbot: QtBot, tmp_path: Path, open_console: Callable[..., Console]
) -> None:
    path = copy_session("nominal-ops", tmp_path)
    sidecar_path(path).write_text("not a bookmarks file")
    con = open_console(ConsoleConfig(replay=path))
    driver, bar = parts(con)
    qtbot.waitUntil(lambda: "cannot read bookmarks" in bar.notice.text())
    bar.add_bookmark("lost")
    qtbot.waitUntil(lambda: "cannot save bookmarks" in bar.notice.text())
    bar.seek(driver.start_time + 30.0)  # the replay thread is still serving
    qtbot.waitUntil(lambda: driver.cursor == driver.start_time + 30.0)
    assert bar.timeline.marks()  # the session's own marks are still drawn


def test_training_run_logs_actions_apart_and_is_debriefed(
    qtbot: QtBot, tmp_path: Path, open_console: Callable[..., Console]
) -> None:
    path = copy_session("co2-rise", tmp_path)
    shutil.copyfile(
        REPLAY_DATA / "co2-rise.expect.toml", tmp_path / "co2-rise.expect.toml"
    )
    before = sha256(path)
    log = tmp_path / "trainee-a.sqlite"
    wall = WallClock()
    con = open_console(
        ConsoleConfig(
            replay=path, training=True, operator="Trainee A", layout="trainer"
        ),
        wall,
        training_log=log,
    )
    driver, bar = parts(con)
    window = con.window
    start = driver.start_time
    assert window.header.banner.text() == "TRAINING · not live data"
    assert "trainee Trainee A" in window.header.banner.detail()
    assert "log trainee-a.sqlite" in window.header.banner.detail()
    assert bar.note is not None
    bar.set_speed(20.0)
    bar.play.click()
    qtbot.waitUntil(lambda: driver.playing)

    def run_to(offset: float, key: str, severity: str) -> None:
        wall.t += (start + offset - driver.cursor) / 20.0
        qtbot.waitUntil(lambda: driver.cursor == start + offset)
        qtbot.waitUntil(lambda: alarm_rows(con).get(key) == severity)

    run_to(2.0, "c2.career_fraction", "WARNING")  # raised at T+0:00
    assert window.alarms.acknowledge(["c2.career_fraction"], "c2 at 80 % career")
    window.alarms.shelve(["c2.career_fraction"], 15, "known, briefed")
    # An alarm shows once the 10-s batch holding its sample has arrived, as
    # live: the WATCH sampled at T+1:14 is on screen from T+1:19.
    run_to(80.0, "jpm.ppco2", "WATCH")
    assert window.alarms.acknowledge(["jpm.ppco2"], "watching the trend")
    run_to(100.0, "jpm.ppco2", "WARNING")  # sampled at T+1:34
    assert window.alarms.acknowledge(["jpm.ppco2"], "CDRA suspected")
    assert bar.add_note("jpm.ppco2", "called for CDRA troubleshooting")
    run_to(430.0, "jpm.ppco2", "CRITICAL")  # 24 h mean, sampled at T+6:59
    assert window.alarms.acknowledge(["jpm.ppco2"], "relocating crew")
    assert bar.add_note("jpm.ppco2", "crew to Node 2, LiOH canisters")
    con.shutdown()
    assert sha256(path) == before

    record = read_training_log(log)
    assert record.trainee == "Trainee A"
    assert Path(record.scenario) == (tmp_path / "co2-rise.expect.toml").resolve()
    done = [(round(a.time - start), a.action, a.target) for a in record.actions]
    # How the trainee drove the replay is logged beside what they did.
    assert [(c.control, c.value) for c in record.controls][:2] == [
        ("speed", 20.0),
        ("play", None),
    ]
    assert done == [
        (2, "ack", "c2.career_fraction"),
        (2, "shelve", "c2.career_fraction"),
        (80, "ack", "jpm.ppco2"),
        (100, "ack", "jpm.ppco2"),
        (100, "note", "jpm.ppco2"),
        (430, "ack", "jpm.ppco2"),
        (430, "note", "jpm.ppco2"),
    ]
    onsets = {(round(t.time - start), t.key, t.severity) for t in record.transitions}
    assert {(74, "jpm.ppco2", 1), (94, "jpm.ppco2", 2), (419, "jpm.ppco2", 3)} <= onsets

    # The debrief finds the session's expectations by itself.
    report = tmp_path / "debrief.html"
    assert (
        cli_main(["debrief", "--training-log", str(log), "--output", str(report)]) == 0
    )
    page = report.read_text()
    assert "Training debrief: Trainee A" in page
    for status, count in (("on time", 6), ("late", 0), ("missed", 0)):
        assert f'<th>{status}</th><td class="num">{count}</td>' in page
    critical = next(
        row
        for row in page.split("<tr>")
        if row.startswith("<td>jpm.ppco2</td><td>CRITICAL</td>") and "<td>ack" in row
    )
    # Raised at T+6:59 (sample time), acknowledged at T+7:10.
    assert '<td class="num">11 s</td>' in critical
    assert '<td class="on-time">on time</td>' in critical


def critical_ack_row(page: str) -> str:
    return next(
        row
        for row in page.split("<tr>")
        if row.startswith("<td>jpm.ppco2</td><td>CRITICAL</td>") and "<td>ack" in row
    )


def training_run(
    qtbot: QtBot,
    tmp_path: Path,
    open_console: Callable[..., Console],
) -> tuple[Console, WallClock, Path, Callable[[float], None]]:
    """A co2-rise training run at 20× whose wall clock the test moves."""
    path = copy_session("co2-rise", tmp_path)
    shutil.copyfile(
        REPLAY_DATA / "co2-rise.expect.toml", tmp_path / "co2-rise.expect.toml"
    )
    log = tmp_path / "trainee-b.sqlite"
    wall = WallClock()
    con = open_console(
        ConsoleConfig(replay=path, training=True, operator="Trainee B"),
        wall,
        training_log=log,
    )
    driver, bar = parts(con)
    bar.set_speed(20.0)
    bar.play.click()
    qtbot.waitUntil(lambda: driver.playing)

    def run_to(offset: float) -> None:
        wall.t += (driver.start_time + offset - driver.cursor) / 20.0
        qtbot.waitUntil(lambda: driver.cursor == driver.start_time + offset)

    return con, wall, log, run_to


def debrief_page(log: Path, tmp_path: Path) -> str:
    report = tmp_path / "debrief.html"
    assert (
        cli_main(["debrief", "--training-log", str(log), "--output", str(report)]) == 0
    )
    return report.read_text()


def test_a_run_closed_after_the_critical_lists_it_unacknowledged_and_not_reached(
    qtbot: QtBot, tmp_path: Path, open_console: Callable[..., Console]
) -> None:
    """Acks at WATCH and WARNING, closed 6 s into the CRITICAL (T1, T4)."""
    con, _wall, log, run_to = training_run(qtbot, tmp_path, open_console)
    window = con.window
    for offset, key, severity in (
        (15.0, "c2.career_fraction", "WARNING"),
        (80.0, "jpm.ppco2", "WATCH"),
        (100.0, "jpm.ppco2", "WARNING"),
    ):
        run_to(offset)
        qtbot.waitUntil(lambda k=key, s=severity: alarm_rows(con).get(k) == s)
        assert window.alarms.acknowledge([key], "seen")
    run_to(425.0)  # T+7:05: the CRITICAL (T+6:59) is up, unacknowledged
    qtbot.waitUntil(lambda: alarm_rows(con).get("jpm.ppco2") == "CRITICAL")
    start = con.replay.start_time if con.replay is not None else 0.0
    con.shutdown()

    page = debrief_page(log, tmp_path)
    never = page.split("<h2>Alarms never acknowledged</h2>")[1].split("<h2>")[0]
    assert '<td>jpm.ppco2</td><td class="CRITICAL">CRITICAL</td>' in never
    assert "<td>T+0:06:59</td>" in never
    assert "still in the alarm list, unacknowledged, when the run ended" in never
    assert "<th>Replay reached</th><td>T+0:07:05</td>" in page
    # Its 60 s (ack) and 180 s (note) were never run: not "missed".
    assert '<td class="not-reached">not reached</td>' in critical_ack_row(page)
    for status, count in (("on time", 4), ("missed", 0), ("not reached", 2)):
        assert f'<th>{status}</th><td class="num">{count}</td>' in page
    assert read_training_log(log).replay_end == start + 425.0


def test_acting_on_a_second_viewing_is_scored_on_the_first_pass(
    qtbot: QtBot, tmp_path: Path, open_console: Callable[..., Console]
) -> None:
    """The CRITICAL left 96 s, the trainee goes back and acks it again (T3)."""
    con, _wall, log, run_to = training_run(qtbot, tmp_path, open_console)
    driver, bar = parts(con)
    window = con.window
    run_to(515.0)  # T+8:35: the CRITICAL has been up since T+6:59
    qtbot.waitUntil(lambda: alarm_rows(con).get("jpm.ppco2") == "CRITICAL")
    # Go back (the go-to box) and play it again: the alarm comes up anew.
    bar.goto.setText("+06:40")
    qtbot.keyClick(bar.goto, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: driver.cursor == driver.start_time + 400.0)
    run_to(421.0)
    qtbot.waitUntil(lambda: alarm_rows(con).get("jpm.ppco2") == "CRITICAL")
    assert window.alarms.acknowledge(["jpm.ppco2"], "crew to LiOH")
    con.shutdown()

    page = debrief_page(log, tmp_path)
    row = critical_ack_row(page)
    assert "at T+0:07:01" in row  # the ack, on the second viewing
    assert '<td class="num">98 s</td>' in row  # 96 s first, then 2 s
    assert '<td class="late">late' in row and "acted after going back" in row
    assert "went back 1:55 at T+0:08:35 (to T+0:06:40) before acting" in row
    assert "<th>Replay reached</th><td>T+0:07:01 (furthest T+0:08:35)</td>" in page


def test_every_jump_of_the_replay_clock_reaches_the_training_log(
    qtbot: QtBot, tmp_path: Path, open_console: Callable[..., Console]
) -> None:
    """A loop's wrap and play-again at the end are logged as seeks: the
    debrief must know the trainee saw that stretch again."""
    con, wall, log, run_to = training_run(qtbot, tmp_path, open_console)
    driver, bar = parts(con)
    start, end = driver.start_time, driver.end_time
    run_to(90.0)
    driver.set_loop(start + 60.0, start + 90.0)
    qtbot.waitUntil(lambda: driver.loop == (start + 60.0, start + 90.0))
    wall.t += 0.5  # at the out-point: back to the in-point
    qtbot.waitUntil(lambda: driver.cursor == start + 60.0)
    wall.t += 0.5
    qtbot.waitUntil(lambda: driver.cursor == start + 70.0)
    driver.set_loop(None)
    bar.set_speed(AFAP)
    qtbot.waitUntil(lambda: driver.cursor == end and not driver.playing, timeout=30_000)
    bar.set_speed(20.0)
    bar.play.click()  # at the end: starts over from the beginning
    qtbot.waitUntil(lambda: driver.playing and driver.cursor == start)
    con.shutdown()

    record = read_training_log(log)
    jumps = [
        (c.time - start, c.value - start)
        for c in record.controls
        if c.control == "seek" and c.value is not None
    ]
    assert jumps == [(90.0, 60.0), (end - start, 0.0)]
    assert record.replay_end is not None and record.replay_end < start + 60.0
