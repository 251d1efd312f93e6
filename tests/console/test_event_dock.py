from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from console.docks import event_dock
from console.docks.event_dock import EventDock
from telemetry.core.wire import encode_frame
from widgets.levels import Level

if TYPE_CHECKING:
    from conftest import Feed
    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.usefixtures("console_env", "themed")

T0 = 1_750_000_000.0  # the Feed clock's start


@pytest.fixture
def dock(qtbot: QtBot, feed: Feed) -> EventDock:
    dock = EventDock(feed.context)
    qtbot.addWidget(dock)
    dock.show()
    return dock


def test_gaps_restarts_and_rejections_newest_first(dock: EventDock, feed: Feed) -> None:
    feed.pipeline.ingest(encode_frame("eclss", "jpm", 1, [T0], {"ppo2": [160.0]}), T0)
    feed.pipeline.ingest(
        encode_frame("eclss", "jpm", 5, [T0 + 1], {"ppo2": [160.0]}), T0 + 1
    )
    feed.pipeline.ingest(
        encode_frame("eclss", "jpm", 0, [T0 + 2], {"ppo2": [160.0]}), T0 + 2
    )
    feed.pipeline.ingest([b"eclss.jpm", b"{not json"], T0 + 3)
    feed.send("robot", "ib2-a", [T0 + 4], pos_x=[1.0], mystery=[3.0])
    dock.refresh(T0 + 5)
    kinds = [r.cells[2] for r in dock.rows()]
    assert kinds[:4] == [
        "undeclared channel",
        "link up",
        "rejected",
        "publisher restart",
    ]
    assert "gap" in kinds and kinds[-1] == "link up"
    gap = next(r for r in dock.rows() if r.cells[2] == "gap")
    assert gap.cells[1] == "jpm"
    assert "missed 3" in gap.cells[3]
    assert gap.level is Level.WATCH
    rejected = next(r for r in dock.rows() if r.cells[2] == "rejected")
    assert rejected.level is Level.WARNING
    assert dock.rows()[0].cells[0] == "—"  # undeclared channels carry no time
    assert dock.count.text() == f"{len(kinds)} events"


def test_only_new_events_are_read_and_the_log_is_bounded(
    dock: EventDock, feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_dock, "MAX_ROWS", 10)
    small = EventDock(feed.context)
    small.show()
    try:
        for i in range(30):
            feed.store.add_event(T0 + i, "jpm", "gap", f"event {i}", 1)
            small.refresh(T0 + i)
        details = [r.cells[3] for r in small.rows()]
        assert details == [f"event {i}" for i in range(29, 19, -1)]
    finally:
        small.close()
        small.deleteLater()


def test_filters_and_operator_actions(dock: EventDock, feed: Feed) -> None:
    feed.store.add_event(T0, "jpm", "link up", "first message", 0)
    feed.store.add_event(T0 + 1, "jpm", "gap", "missed 2", 1)
    dock.add_operator_event("acknowledged jpm.ppco2", T0 + 2)
    dock.refresh(T0 + 3)
    assert [r.cells[2] for r in dock.rows()] == ["operator", "gap", "link up"]
    assert dock.rows()[0].cells[1] == "K. Tanaka"
    dock.important.setChecked(True)
    assert [r.cells[2] for r in dock.rows()] == ["gap"]
    dock.important.setChecked(False)
    dock.search.setText("missed")
    assert dock.view.model().rowCount() == 1
