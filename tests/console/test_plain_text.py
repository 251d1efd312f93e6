"""Issue 14: telemetry text is plain text on every screen.

Names and states come from publishers: a source, channel or state that looks
like HTML is shown literally (labels in PlainText, tool tips escaped), through
a real publisher socket into the offscreen console.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
import zmq
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from console.app import build_console
from console.config import ConsoleConfig
from telemetry.core.wire import encode_frame

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from console.app import Console

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("console_env", "themed")]

HOSTILE = "<h1>BIG</h1>"
CHANNEL = "<b>bold</b>"


@pytest.fixture
def publisher() -> Iterator[tuple[zmq.Socket[bytes], str]]:
    sock = zmq.Context.instance().socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 0)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    yield sock, f"tcp://127.0.0.1:{port}"
    sock.close(linger=0)


@pytest.fixture
def console(
    qtbot: QtBot, tmp_path: Path, publisher: tuple[zmq.Socket[bytes], str]
) -> Iterator[Console]:
    config = ConsoleConfig(
        endpoints=[publisher[1]], archive_path=tmp_path / "plain.sqlite"
    )
    con = build_console(config)
    qtbot.addWidget(con.window)
    con.start()
    yield con
    con.shutdown()


def test_hostile_names_and_states_are_shown_literally(
    qtbot: QtBot, console: Console, publisher: tuple[zmq.Socket[bytes], str]
) -> None:
    pub, _ = publisher
    assert pub.poll(5000), "the console did not subscribe"
    pub.recv()
    now = time.time()
    pub.send_multipart(encode_frame("zz", HOSTILE, 0, [now], {CHANNEL: ["<i>x</i>"]}))
    pub.send_multipart(encode_frame("robot", "ib2-a", 0, [now], {CHANNEL: [1.0]}))
    key = f"ib2-a.{CHANNEL}"
    store = console.context.store
    qtbot.waitUntil(lambda: store.buffer(key) is not None, timeout=10_000)
    window = console.window
    window.show()
    plots = window.docks["plots"]
    qtbot.waitUntil(lambda: plots._known_keys >= 2, timeout=10_000)
    qtbot.wait(600)  # a few refreshes of every panel and the status bar

    for label in window.findChildren(QLabel):
        if HOSTILE in label.text() or CHANNEL in label.text():
            assert label.textFormat() == Qt.TextFormat.PlainText, label.text()
    for widget in [window, *window.findChildren(QWidget)]:
        text = widget.toolTip()
        assert HOSTILE not in text and CHANNEL not in text, text
    model = plots._model
    tips = [model.item(r, 0).toolTip() for r in range(model.rowCount())]
    names = [model.item(r, 0).text() for r in range(model.rowCount())]
    assert key in names  # the name itself, literally
    hostile_tip = tips[names.index(key)]
    assert CHANNEL not in hostile_tip and "&lt;b&gt;bold&lt;/b&gt;" in hostile_tip
    # The event log names the invented source in one line, as text.
    events = [e.detail for e in console.context.store.events_since(0)]
    assert any(HOSTILE in d for d in events)
