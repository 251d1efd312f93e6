"""End to end: a real publisher on 127.0.0.1 -> the console offscreen -> the archive."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
import pytest
import sqlite_utils
import zmq

from console.app import build_console
from console.config import ConsoleConfig
from telemetry.core.wire import encode_frame

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from console.app import Console

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("console_env", "themed")]


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
    _, endpoint = publisher
    config = ConsoleConfig(
        endpoints=[endpoint], archive_path=tmp_path / "e2e.sqlite", operator="FC Tanaka"
    )
    con = build_console(config)
    qtbot.addWidget(con.window)
    con.start()
    yield con
    con.shutdown()


def cabin(seq: int, t0: float, ppco2: float) -> list[bytes]:
    times = t0 + np.arange(10.0)
    return encode_frame(
        "eclss",
        "jpm",
        seq,
        times,
        {
            "ppco2": np.full(10, ppco2),
            "ppo2": np.full(10, 160.0),
            "p_total": np.full(10, 760.0),
            "temp": np.full(10, 22.5),
            "rh": np.full(10, 45.0),
            "water_recovery": np.full(10, 98.0),
        },
    )


def test_publish_plot_readout_alarm_ack_archive(
    qtbot: QtBot, console: Console, publisher: tuple[zmq.Socket[bytes], str]
) -> None:
    pub, _ = publisher
    assert pub.poll(5000), "the console did not subscribe"
    assert pub.recv()[0] == 1
    now = time.time()
    pub.send_multipart(cabin(1, now - 20, 2.1))
    # 10 samples over the warning 2.7 (per sample) and the critical 4.0, which
    # is a 24-hour-average limit: judged on the mean (3.35), not the samples.
    pub.send_multipart(cabin(2, now - 10, 4.6))

    eclss = console.window.docks["eclss"]
    qtbot.waitUntil(lambda: eclss.readout("jpm.ppco2").text() == "4.60", timeout=10_000)

    plots = console.window.docks["plots"]

    def plotted() -> bool:
        for chart in plots.charts():
            if "jpm.ppco2" in chart.series_names():
                t, _ = chart.displayed_data("jpm.ppco2")
                return t.size > 0
        return False

    qtbot.waitUntil(plotted, timeout=10_000)

    alarms = console.window.docks["alarms"]
    qtbot.waitUntil(lambda: "jpm.ppco2" in alarms.table.visible_ids(), timeout=10_000)
    alarm = console.context.alarms.get("jpm.ppco2")
    assert alarm is not None
    assert alarm.severity.name == "WARNING"
    assert alarm.threshold == 2.7

    alarms.table.select_ids(["jpm.ppco2"])
    alarms.table.set_comment("CDRA swap requested")
    alarms.table.request_ack()
    qtbot.waitUntil(lambda: console.context.alarms.get("jpm.ppco2").acked, timeout=5000)  # type: ignore[union-attr]

    archive_path = console.config.archive_path
    assert archive_path is not None
    console.shutdown()
    db = sqlite_utils.Database(archive_path)
    actions = list(db["operator_actions"].rows)
    assert [(a["operator"], a["action"], a["target"]) for a in actions] == [
        ("FC Tanaka", "ack", "jpm.ppco2")
    ]
    assert "CDRA swap requested" in actions[0]["comment"]
    assert db["frames"].count == 2
    assert [
        r["severity"]
        for r in db["limit_transitions"].rows_where("channel = ?", ["jpm.ppco2"])
    ] == [2]
