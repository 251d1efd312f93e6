from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from console.main_window import MainWindow
from console.replay_bar import SLIDER_STEPS, ReplayBar

if TYPE_CHECKING:
    from conftest import Feed
    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.usefixtures("console_env", "themed")

T0 = 1_750_000_000.0


class FakeDriver:
    """The ReplayDriver surface the bar uses: attributes plus queued commands."""

    def __init__(self) -> None:
        self.start_time = T0
        self.end_time = T0 + 3600.0
        self.cursor = T0
        self.playing = False
        self.speed = 1.0
        self.commands: list[tuple[str, Any]] = []

    def play(self) -> None:
        self.commands.append(("play", None))

    def pause(self) -> None:
        self.commands.append(("pause", None))

    def seek(self, t: float) -> None:
        self.commands.append(("seek", t))

    def set_speed(self, speed: float) -> None:
        self.commands.append(("set_speed", speed))


def test_transport_commands_reach_the_driver(qtbot: QtBot) -> None:
    driver = FakeDriver()
    bar = ReplayBar(driver)
    qtbot.addWidget(bar)
    bar.play.click()
    assert driver.commands[-1] == ("play", None)
    driver.playing = True
    bar.play.click()
    assert driver.commands[-1] == ("pause", None)
    driver.cursor = T0 + 30.0
    bar.back.click()
    assert driver.commands[-1] == ("seek", T0)  # clamped to the start
    bar.forward.click()
    assert driver.commands[-1] == ("seek", T0 + 90.0)
    bar.speed.setCurrentIndex(bar.speed.findData(16.0))
    assert driver.commands[-1] == ("set_speed", 16.0)
    bar.seek_fraction(0.5)
    assert driver.commands[-1] == ("seek", T0 + 1800.0)


def test_bar_follows_the_cursor(qtbot: QtBot) -> None:
    driver = FakeDriver()
    bar = ReplayBar(driver)
    qtbot.addWidget(bar)
    driver.cursor, driver.playing, driver.speed = T0 + 900.0, True, 8.0
    bar.refresh(driver.cursor)
    assert bar.slider.value() == SLIDER_STEPS // 4
    assert bar.play.text() == "❚❚ Pause"
    assert bar.speed.currentText() == "8×"
    assert bar.position.text() == "166/15:21:40 UTC · 0:15:00 / 1:00:00 · 8× playing"


def test_replay_window_has_the_bar(qtbot: QtBot, feed: Feed) -> None:
    feed.context.mode = "replay"
    driver = FakeDriver()
    feed.context.extras["replay"] = driver
    window = MainWindow(feed.context, "trainer")
    qtbot.addWidget(window)
    assert window.header.replay_bar is not None
    window.header.refresh(T0 + 60.0)
    driver.cursor = T0 + 60.0
    window.header.refresh(T0 + 60.0)
    assert "0:01:00 / 1:00:00" in window.header.replay_bar.position.text()
    window.shutdown()
