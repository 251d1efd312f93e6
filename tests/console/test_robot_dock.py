from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest

from console.docks.robot_dock import TRAIL_S, RobotDock, heading_from_quaternion
from widgets.levels import Level

if TYPE_CHECKING:
    from conftest import Feed
    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.usefixtures("console_env", "themed")

T0 = 1_750_000_000.0  # the Feed clock's start


@pytest.fixture
def dock(qtbot: QtBot, feed: Feed) -> RobotDock:
    dock = RobotDock(feed.context)
    qtbot.addWidget(dock)
    dock.resize(900, 700)
    dock.show()
    return dock


def yaw_quaternion(yaw: float) -> dict[str, float]:
    return {
        "quat_x": 0.0, "quat_y": 0.0,
        "quat_z": math.sin(yaw / 2), "quat_w": math.cos(yaw / 2),
    }  # fmt: skip


@pytest.mark.parametrize("yaw", [0.0, 0.5, math.pi / 2, -2.0, 3.0])
def test_heading_is_the_yaw_of_the_attitude(yaw: float) -> None:
    q = yaw_quaternion(yaw)
    assert heading_from_quaternion(
        q["quat_x"], q["quat_y"], q["quat_z"], q["quat_w"]
    ) == pytest.approx(yaw)


def test_both_robots_are_placed_where_they_report(dock: RobotDock, feed: Feed) -> None:
    assert dock.sources() == ["ib2-a", "ib2-b"]
    feed.robot("ib2-a", T0, pos_x=2.0, pos_y=0.5, pos_z=-0.3, **yaw_quaternion(0.7))
    feed.robot("ib2-b", T0, pos_x=5.5, pos_y=-0.6, pos_z=0.4)
    dock.refresh(feed.clock())
    top = dock.map.robot_item("ib2-a", "top").pos()
    side = dock.map.robot_item("ib2-a", "side").pos()
    assert (top.x(), top.y()) == pytest.approx((2.0, 0.5))
    assert (side.x(), side.y()) == pytest.approx((2.0, -0.3))
    b = dock.map.robot_item("ib2-b", "top").pos()
    assert (b.x(), b.y()) == pytest.approx((5.5, -0.6))
    assert dock.map.robot_level("ib2-a") is Level.NOMINAL
    assert dock.readout("ib2-a", "Battery").text() == "80"
    assert dock.readout("ib2-a", "Mode").text() == "OPERATION"
    assert dock.readout("ib2-a", "Navigation").text() == "FUSION"
    assert dock.readout("ib2-a", "Temperature").text() == "40.0"
    assert dock.link_lamp("ib2-a").level() is Level.NOMINAL


def test_trail_covers_the_last_two_minutes(dock: RobotDock, feed: Feed) -> None:
    xs = [1.0 + 0.01 * i for i in range(200)]
    feed.robot("ib2-a", T0, 200, pos_x=xs)
    dock.refresh(feed.clock())
    x, y = dock.map.trail_data("ib2-a", "top")
    assert len(x) == int(TRAIL_S) + 1
    assert x[-1] == pytest.approx(xs[-1])
    assert x[0] == pytest.approx(xs[-1 - int(TRAIL_S)])


def test_lost_navigation_makes_the_robot_critical_everywhere(
    dock: RobotDock, feed: Feed
) -> None:
    feed.robot("ib2-b", T0, 3)
    feed.robot("ib2-b", T0 + 3, 1, nav_status="NAV_OFF")
    dock.refresh(feed.clock())
    nav = dock.readout("ib2-b", "Navigation")
    assert nav.text() == "NAV_OFF"
    assert nav.level() is Level.CRITICAL
    assert dock.map.robot_level("ib2-b") is Level.CRITICAL
    assert dock.map.robot_alarmed("ib2-b")
    assert dock.map.is_blinking()
    assert "NAV_OFF" in dock.map._robots["ib2-b"].glyphs[0].label.textItem.toPlainText()
    assert "ib2-a" not in dock.map.robot_names()  # never heard from: not drawn


def test_low_battery_is_a_warning_then_critical(dock: RobotDock, feed: Feed) -> None:
    feed.robot("ib2-a", T0, 3, battery_pct=15.0)  # persistence 3
    dock.refresh(feed.clock())
    battery = dock.readout("ib2-a", "Battery")
    assert battery.text() == "15"
    assert battery.level() is Level.WARNING
    assert dock.map.robot_level("ib2-a") is Level.WARNING
    feed.robot("ib2-a", T0 + 3, 3, battery_pct=4.0)
    dock.refresh(feed.clock())
    assert battery.level() is Level.CRITICAL
    assert battery.tag() == "CRITICAL"
    assert dock.map.robot_level("ib2-a") is Level.CRITICAL


def test_camera_tile_folds_power_and_recording(dock: RobotDock, feed: Feed) -> None:
    feed.robot("ib2-a", T0, cam_power="ON", cam_record="ON")
    dock.refresh(feed.clock())
    assert dock.readout("ib2-a", "Camera").text() == "ON · REC"
    feed.robot("ib2-a", T0 + 1, cam_power="OFF", cam_record="OFF")
    dock.refresh(feed.clock())
    assert dock.readout("ib2-a", "Camera").text() == "OFF"


def test_silent_robot_goes_stale_on_the_map(dock: RobotDock, feed: Feed) -> None:
    feed.robot("ib2-a", T0, 2)
    dock.refresh(feed.clock())
    dock.refresh(feed.clock() + 20.0)
    assert dock.map.robot_level("ib2-a") is Level.STALE
    assert dock.readout("ib2-a", "Battery").level() is Level.STALE
    assert dock.readout("ib2-a", "Battery").tag() == "STALE · 20 s old"


def test_a_backlog_into_an_empty_panel_is_never_shown_as_current(
    dock: RobotDock, feed: Feed
) -> None:
    """Console started during a loss of signal: the hour-old dump comes first."""
    now = T0 + 3600
    old = [T0 + i for i in range(5)]
    row = {"battery_pct": 3.0, "pos_x": 2.0, "pos_y": 0.0, "pos_z": 0.0}
    feed.send("robot", "ib2-a", old, now, **{k: [v] * 5 for k, v in row.items()})
    dock.refresh(feed.clock())
    battery = dock.readout("ib2-a", "Battery")
    # The value is there (history), but says it is old, and raises nothing.
    assert battery.text() == "3"
    assert battery.level() is Level.STALE
    assert battery.tag() == "STALE · arrived 60 min old"
    assert dock.map.robot_level("ib2-a") is Level.STALE
    assert feed.alarms.get("ib2-a.battery_pct") is None
    # Live data then arrives: it is "now", and judged.
    feed.robot("ib2-a", now + 1, 3, battery_pct=4.0)
    dock.refresh(feed.clock())
    assert battery.text() == "4"
    assert battery.level() is Level.CRITICAL
    assert battery.tag() == "CRITICAL"


def test_a_corrupt_number_reads_in_bounded_width(dock: RobotDock, feed: Feed) -> None:
    """1e20 % and -9.99e99 °C from a broken gateway must not widen the console."""
    feed.robot("ib2-a", T0, 1)
    dock.refresh(feed.clock())
    normal = dock.minimumSizeHint().width()
    feed.robot("ib2-a", T0 + 1, 1, battery_pct=1e20, temp_c=-9.99e99)
    dock.refresh(feed.clock())
    assert dock.readout("ib2-a", "Battery").text() == "1e+20"
    assert dock.readout("ib2-a", "Temperature").text() == "-9.99e+99"
    assert dock.minimumSizeHint().width() <= normal


def test_a_cleared_store_clears_the_panel(dock: RobotDock, feed: Feed) -> None:
    feed.robot("ib2-a", T0, 2)
    dock.refresh(feed.clock())
    assert dock.map.robot_names() == ["ib2-a"]
    feed.store.clear()  # what a replay seek does before replaying again
    dock.refresh(feed.clock())
    assert dock.map.robot_names() == []
    assert dock.readout("ib2-a", "Battery").text() == "—"
    assert dock.readout("ib2-a", "Battery").level() is Level.NO_DATA
    feed.robot("ib2-a", T0 + 2, 1, battery_pct=55.0)
    dock.refresh(feed.clock())
    assert dock.readout("ib2-a", "Battery").text() == "55"


def test_an_absurd_pose_is_flagged_on_the_map_and_tile_not_dropped(
    dock: RobotDock, feed: Feed
) -> None:
    """G2: 1,000 km away with a null quaternion: never a silent, green robot."""
    feed.robot("ib2-b", T0, pos_x=5.5, pos_y=-0.6, pos_z=0.4)
    feed.robot(
        "ib2-a", T0, pos_x=1e6, pos_y=-3e5, pos_z=0.0,
        quat_x=0.0, quat_y=0.0, quat_z=0.0, quat_w=0.0,
    )  # fmt: skip
    dock.refresh(feed.clock())
    assert "ib2-a" in dock.map.robot_names()
    top = dock.map.robot_item("ib2-a", "top").pos()
    box = dock._box
    assert box.x0 <= top.x() <= box.x1 and box.y0 <= top.y() <= box.y1
    assert dock.map.robot_level("ib2-a") is Level.WARNING
    label = dock.map._robots["ib2-a"].glyphs[0].label.textItem.toPlainText()
    assert label == "ib2-a · POSE INVALID: outside Kibo"
    nav = dock.readout("ib2-a", "Navigation")
    assert nav.text() == "FUSION" and nav.level() is Level.WARNING
    assert nav.tag() == "WARNING"
    assert dock.map.robot_level("ib2-b") is Level.NOMINAL  # the other is fine
    # Inside the module but with no attitude: flagged too.
    feed.robot("ib2-a", T0 + 1, pos_x=3.0, quat_w=0.0)
    dock.refresh(feed.clock())
    assert dock.pose_problem("ib2-a") == "attitude invalid"
    assert dock.readout("ib2-a", "Navigation").level() is Level.WARNING
    # A good pose again clears it.
    feed.robot("ib2-a", T0 + 2, pos_x=3.0)
    dock.refresh(feed.clock())
    assert dock.pose_problem("ib2-a") == ""
    assert dock.map.robot_level("ib2-a") is Level.NOMINAL
    assert dock.readout("ib2-a", "Navigation").level() is Level.NOMINAL
