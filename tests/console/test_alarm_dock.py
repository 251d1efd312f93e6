from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from console.docks.alarm_dock import COLUMNS, AlarmDock
from widgets.levels import Level

if TYPE_CHECKING:
    from conftest import Feed
    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.usefixtures("console_env", "themed")

T0 = 1_750_000_000.0  # the Feed clock's start


@pytest.fixture
def dock(qtbot: QtBot, feed: Feed) -> AlarmDock:
    dock = AlarmDock(feed.context)
    qtbot.addWidget(dock)
    dock.resize(1400, 400)
    dock.show()
    return dock


def cells(dock: AlarmDock, key: str) -> dict[str, str]:
    model = dock.table.model()
    row = model.row_of(key)
    assert row is not None, f"no row for {key}"
    return dict(zip(COLUMNS, model.rows()[row].cells, strict=True))


def raise_co2(feed: Feed, value: float = 2.9) -> None:
    feed.cabin(T0, 5, ppco2=value)  # persistence 5


def test_an_alarm_row_says_what_where_and_since_when(
    dock: AlarmDock, feed: Feed
) -> None:
    raise_co2(feed)
    feed.cabin(T0 + 5, 1, ppco2=3.1)
    dock.refresh(feed.clock())
    row = cells(dock, "jpm.ppco2")
    assert row["Severity"] == "WARNING"
    assert row["Description"].startswith("CO2 partial pressure")
    # The value now, and the value that tripped the limit.
    assert row["Value"] == "3.10 mmHg (trip 2.90 mmHg)"
    assert row["Limit"] == "> 2.7 mmHg"
    assert row["First (UTC)"] == "166/15:06:44"  # T0 + 4 s, GMT day of year
    assert row["Count"] == "1"
    assert row["State"] == "UNACKNOWLEDGED"
    model_row = dock.table.model().rows()[dock.table.model().row_of("jpm.ppco2") or 0]
    assert model_row.level is Level.WARNING
    assert model_row.emphasized
    assert "1 unacknowledged" in dock.summary.text()


def test_ack_from_the_table_reaches_the_book_and_the_archive(
    dock: AlarmDock, feed: Feed
) -> None:
    raise_co2(feed)
    dock.refresh(feed.clock())
    dock.table.select_ids(["jpm.ppco2"])
    dock.table.set_comment("CDRA swap in progress")
    dock.table.request_ack()
    alarm = feed.alarms.get("jpm.ppco2")
    assert alarm is not None and alarm.acked
    assert alarm.ack_by == "K. Tanaka"
    (action,) = feed.archive.actions()
    assert action[1:] == ("K. Tanaka", "ack", "jpm.ppco2", "CDRA swap in progress")
    assert (
        cells(dock, "jpm.ppco2")["State"]
        == "acknowledged by K. Tanaka: CDRA swap in progress"
    )


def test_ack_all_visible_and_filter_by_state(dock: AlarmDock, feed: Feed) -> None:
    raise_co2(feed)
    feed.robot("ib2-a", T0, 1, nav_status="NAV_OFF")
    dock.refresh(feed.clock())
    assert set(dock.table.visible_ids()) == {"jpm.ppco2", "ib2-a.nav_status"}
    # Worst first.
    assert dock.table.visible_ids()[0] == "ib2-a.nav_status"
    dock.table.request_ack_visible()
    assert not any(not a.acked for a in feed.alarms.snapshot())
    assert [a[3] for a in feed.archive.actions()] == ["ib2-a.nav_status", "jpm.ppco2"]
    dock.table.set_filter("Unacknowledged")
    assert dock.table.visible_ids() == []
    dock.table.set_filter("Acknowledged")
    assert len(dock.table.visible_ids()) == 2


def test_shelve_hides_until_unshelved(dock: AlarmDock, feed: Feed) -> None:
    raise_co2(feed)
    dock.refresh(feed.clock())
    dock.table.select_ids(["jpm.ppco2"])
    dock.table.request_shelve(15)
    assert cells(dock, "jpm.ppco2")["Shelved until"] == "166/15:21:44"
    assert dock.table.visible_ids() == []  # "Active" hides shelved alarms
    dock.table.set_filter("Shelved")
    assert dock.table.visible_ids() == ["jpm.ppco2"]
    assert feed.alarms.unacked_severity(feed.clock()).name == "NOMINAL"
    dock.table.select_ids(["jpm.ppco2"])
    dock.unshelve(dock.table.selected_ids())
    dock.table.set_filter("Active")
    assert dock.table.visible_ids() == ["jpm.ppco2"]
    assert [a[2] for a in feed.archive.actions()] == ["shelve", "unshelve"]
    assert feed.archive.actions()[0][4] == "15 min."


def test_link_alarm_reads_as_a_link(dock: AlarmDock, feed: Feed) -> None:
    feed.robot("ib2-b", T0)
    feed.pipeline.tick(T0 + 40.0)  # 8x the stale time: link down
    feed.clock.t = T0 + 40.0
    dock.refresh(feed.clock())
    row = cells(dock, "link:ib2-b")
    assert row["Description"] == "Link to ib2-b (no messages)"
    assert row["Value"] == "40 s silent"
    assert row["Severity"] == "CRITICAL"


def test_actions_are_reported_for_the_event_log(
    qtbot: QtBot, dock: AlarmDock, feed: Feed
) -> None:
    raise_co2(feed)
    dock.refresh(feed.clock())
    with qtbot.waitSignal(dock.action_done) as blocker:
        dock.acknowledge(["jpm.ppco2"], "noted")
    assert blocker.args == ["acknowledged jpm.ppco2 (noted)"]


def test_a_chattering_source_and_the_alarm_load_are_shown(
    dock: AlarmDock, feed: Feed
) -> None:
    """Three occurrences within a minute: the operator is told it chatters."""
    dock.refresh(feed.clock())
    assert "0 raised in 10 min" in dock.summary.text()
    t = T0
    for _ in range(3):
        feed.cabin(t, 6, ppco2=2.9)
        feed.cabin(t + 6, 6, ppco2=2.0)
        t += 12
    feed.cabin(t, 6, ppco2=2.9)  # a fourth, still standing
    dock.refresh(feed.clock())
    text = dock.summary.text()
    assert "4 raised in 10 min" in text
    assert "chattering: jpm.ppco2" in text
    assert "ALARM FLOOD" not in text
    assert cells(dock, "jpm.ppco2")["State"] == "UNACKNOWLEDGED · chattering"
    # Ten minutes later the window has slid past them.
    feed.cabin(t + 700, 1, ppco2=2.9)
    dock.refresh(feed.clock())
    assert "0 raised in 10 min" in dock.summary.text()
    assert "chattering" not in dock.summary.text()
