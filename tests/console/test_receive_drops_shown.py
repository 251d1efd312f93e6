"""Messages this console dropped (receive queue full) are on the traffic line.

A real subscriber on 127.0.0.1 with a small receive queue and a pipeline
stalled on purpose; a publisher floods it; the status bar says how many this
console dropped, in the alarm colour, apart from the publisher's gaps.
"""

from __future__ import annotations

import html
import re
import threading
from typing import TYPE_CHECKING

import pytest
import zmq
from polling import wait_for

from console.status_bar import ConsoleStatusBar
from telemetry.bus.subscriber import SubscriberConfig, ZmqSubscriber
from widgets.levels import Level

if TYPE_CHECKING:
    from conftest import Feed
    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.usefixtures("console_env", "themed")


def test_drops_by_this_console_are_shown_in_red_on_the_traffic_line(
    qtbot: QtBot, feed: Feed
) -> None:
    pub = zmq.Context.instance().socket(zmq.XPUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.setsockopt(zmq.SNDHWM, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    gate = threading.Event()
    sub = ZmqSubscriber(
        SubscriberConfig([f"tcp://127.0.0.1:{port}"], receive_queue_bytes=1 << 20),
        lambda parts, received: gate.wait(30.0),
    )
    feed.context.subscriber = sub
    bar = ConsoleStatusBar(feed.context)
    qtbot.addWidget(bar)
    feed.cabin(feed.clock(), 1)  # the console has data: the normal traffic line
    bar.update_from(feed.clock())
    assert "DROPPED" not in bar.traffic.text()
    assert bar.traffic.styleSheet() == ""
    sub.start()
    try:
        assert pub.poll(5000), "no subscription arrived"
        pub.recv()
        for seq in range(12):
            pub.send_multipart([b"robot.ib2-a", seq.to_bytes(4, "big") * 65536])
        wait_for(lambda: sub.dropped >= 8, 10.0, "drops with the queue full")
        dropped = sub.dropped
        bar.update_from(feed.clock())
    finally:
        gate.set()
        sub.stop()
        pub.close(linger=0)
    assert f"{dropped} DROPPED by this console" in bar.traffic.text()
    assert Level.CRITICAL.color.name() in bar.traffic.styleSheet()
    tip = html.unescape(re.sub(r"<[^>]+>", "", bar.traffic.toolTip()))
    assert f"DATA LOST: {dropped} messages" in tip
    assert "dropped by this console" in tip
