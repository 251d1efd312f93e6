"""From the first second, "no data" never looks healthy (issue 15, item 2).

A real (unstarted) subscriber gives the status bar its address; the status
bar's monotonic clock is moved by hand to cross the grace periods.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

import pytest

from console.main_window import MainWindow
from console.status_bar import FIRST_DATA_GRACE_S, NO_DATA_ALARM_S, ConsoleStatusBar
from telemetry.bus.publisher import free_tcp_endpoint
from telemetry.bus.subscriber import SubscriberConfig, ZmqSubscriber
from widgets.levels import Level

if TYPE_CHECKING:
    from conftest import Feed
    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.usefixtures("console_env", "themed")


class Monotonic:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def endpoint(feed: Feed) -> str:
    address = free_tcp_endpoint()
    feed.context.subscriber = ZmqSubscriber(
        SubscriberConfig(endpoints=[address]), on_message=lambda parts: None
    )
    return address


def test_waiting_turns_amber_then_red_naming_source_wait_and_address(
    qtbot: QtBot, feed: Feed, endpoint: str
) -> None:
    clock = Monotonic()
    bar = ConsoleStatusBar(feed.context, monotonic=clock)
    qtbot.addWidget(bar)
    bar.update_from(feed.clock())
    assert (
        bar.traffic.text()
        == f"waiting for first data from connected to {endpoint} · 0 s"
    )
    lamp = bar.links["ib2-a"]
    assert lamp.level() is Level.NO_DATA
    # An empty archive is not "archive ok".
    assert bar.archive.text().startswith("archive · nothing received yet")
    assert bar.archive.level() is Level.NO_DATA

    clock.t += FIRST_DATA_GRACE_S + 1
    bar.update_from(feed.clock())
    assert lamp.level() is Level.WARNING  # amber
    # A dosimeter that sends every 10 s (stale after 30 s) is not late yet.
    assert bar.links["tepc-uslab"].level() is Level.NO_DATA
    # Shown literally (a source name from the wire is never markup).
    tip = html.unescape(re.sub(r"<[^>]+>", "", lamp.toolTip()))
    assert tip.startswith("ib2-a: no message received yet (6 s since")
    assert f"connected to {endpoint}" in tip

    clock.t += NO_DATA_ALARM_S
    bar.update_from(feed.clock())
    assert lamp.level() is Level.CRITICAL
    assert all(lamp.level() is Level.CRITICAL for lamp in bar.links.values())
    assert bar.traffic.text().endswith("· 36 s")

    # The first message: the source's lamp is up and its tooltip says from where.
    feed.cabin(feed.clock(), 1)
    bar.update_from(feed.clock())
    assert bar.links["jpm"].level() is Level.NOMINAL
    assert "last message 0.0 s ago" in bar.links["jpm"].toolTip()
    assert f"connected to {endpoint}" in bar.links["jpm"].toolTip()
    assert bar.traffic.text().endswith("msg/s")
    assert bar.archive.text() == "archive ok · backlog 0"
    # Sources still silent once others talk stay amber, not red.
    assert bar.links["ib2-a"].level() is Level.WARNING


def test_header_never_says_no_alarms_before_data(
    qtbot: QtBot, feed: Feed, endpoint: str
) -> None:
    window = MainWindow(feed.context)
    qtbot.addWidget(window)
    window.update_alarm_state(feed.clock())
    lamp = window.header.alarm_lamp
    assert lamp.text() == "no data yet · no limits checked"
    assert lamp.level() is Level.NO_DATA
    feed.cabin(feed.clock(), 1)
    window.update_alarm_state(feed.clock())
    assert (lamp.text(), lamp.level()) == ("no alarms", Level.NOMINAL)
    window.shutdown()


def test_a_notice_leaves_the_link_lamps_in_view(
    qtbot: QtBot, feed: Feed, endpoint: str
) -> None:
    window = MainWindow(feed.context)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.status.say("wrote 1200 samples to /tmp/plots.csv")
    assert window.status.notice.text() == "wrote 1200 samples to /tmp/plots.csv"
    assert all(lamp.isVisible() for lamp in window.status.links.values())
    window.shutdown()
