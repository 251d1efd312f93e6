from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QPoint, Qt

from widgets.levels import Level, palette
from widgets.timeline import Timeline, TimelineItem, format_offset

if TYPE_CHECKING:
    from PySide6.QtGui import QColor
    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.usefixtures("themed")

T0 = 1_772_442_000.0
LANES = ("Periods", "Alarms", "Events", "Bookmarks")


@pytest.fixture
def timeline(qtbot: QtBot) -> Timeline:
    widget = Timeline()
    qtbot.addWidget(widget)
    widget.set_lanes(LANES)
    widget.set_range(T0, T0 + 600.0)
    widget.resize(900, widget.sizeHint().height())
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def pixel(widget: Timeline, x: float, y: float) -> QColor:
    return widget.grab().toImage().pixelColor(round(x), round(y))


def distance(a: QColor, b: QColor) -> int:
    return (
        abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue())
    )


def close(a: QColor, b: QColor, tol: int = 40) -> bool:
    return distance(a, b) <= tol


def test_offsets_are_formatted_from_the_start() -> None:
    assert format_offset(0.0) == "+0:00"
    assert format_offset(183.4) == "+3:03"
    assert format_offset(3723.0) == "+1:02:03"
    assert format_offset(-30.0) == "-0:30"
    assert format_offset(float("nan")) == "—"


def test_times_map_to_pixels_and_back(timeline: Timeline) -> None:
    plot = timeline.plot_rect()
    assert timeline.x_of(T0) == plot.left()
    assert timeline.x_of(T0 + 600.0) == pytest.approx(plot.right())
    for t in (T0, T0 + 123.0, T0 + 600.0):
        assert timeline.time_at(timeline.x_of(t)) == pytest.approx(t)
    assert timeline.time_at(-50.0) == T0  # clamped
    assert timeline.time_at(5000.0) == T0 + 600.0
    assert [timeline.lane_at(timeline.lane_rect(i).center().y()) for i in range(4)] == [
        0,
        1,
        2,
        3,
    ]
    assert timeline.lane_at(plot.bottom() + 5) is None  # the axis


def test_a_click_asks_for_a_seek_and_snaps_to_a_nearby_mark(
    timeline: Timeline, qtbot: QtBot
) -> None:
    timeline.set_marks(
        [TimelineItem(T0 + 183.0, "jpm.ppco2 CRITICAL", Level.CRITICAL, 1)]
    )
    alarms = round(timeline.lane_rect(1).center().y())
    events = round(timeline.lane_rect(2).center().y())
    x = timeline.x_of(T0 + 183.0)
    with qtbot.waitSignal(timeline.seek_requested) as sig:
        qtbot.mouseClick(
            timeline, Qt.MouseButton.LeftButton, pos=QPoint(round(x) + 3, alarms)
        )
    assert sig.args == [T0 + 183.0]
    # In another lane the same click goes where it was made.
    with qtbot.waitSignal(timeline.seek_requested) as sig:
        qtbot.mouseClick(
            timeline, Qt.MouseButton.LeftButton, pos=QPoint(round(x) + 3, events)
        )
    assert sig.args[0] == pytest.approx(timeline.time_at(round(x) + 3))
    assert timeline.cursor_time() == pytest.approx(timeline.time_at(round(x) + 3))


def test_dragging_seeks_along_and_the_cursor_follows_the_pointer(
    timeline: Timeline, qtbot: QtBot
) -> None:
    asked: list[float] = []
    timeline.seek_requested.connect(asked.append)
    timeline.set_cursor(T0)
    y = round(timeline.lane_rect(0).center().y())
    xs = [round(timeline.x_of(T0 + t)) for t in (100.0, 200.0, 300.0)]
    qtbot.mousePress(timeline, Qt.MouseButton.LeftButton, pos=QPoint(xs[0], y))
    qtbot.mouseMove(timeline, QPoint(xs[1], y))
    qtbot.mouseMove(timeline, QPoint(xs[2], y))
    timeline.set_cursor(T0 + 10.0)  # the driver lags behind the pointer
    assert timeline.cursor_time() == pytest.approx(timeline.time_at(xs[2]))
    qtbot.mouseRelease(timeline, Qt.MouseButton.LeftButton, pos=QPoint(xs[2], y))
    assert asked == pytest.approx([timeline.time_at(x) for x in xs])
    timeline.set_cursor(T0 + 300.0)
    assert timeline.cursor_time() == T0 + 300.0


def test_hover_text_lists_the_marks_under_the_pointer(timeline: Timeline) -> None:
    timeline.set_time_formatter(lambda t: f"{t - T0:.0f} s in")
    timeline.set_marks(
        [
            TimelineItem(T0 + 120.0, "SAA pass", Level.WATCH, 0, end=T0 + 300.0),
            TimelineItem(T0 + 60.0, "Trainer B: CDRA fails", lane=3, flag=True),
        ]
    )
    periods = timeline.lane_rect(0).center().y()
    x = timeline.x_of(T0 + 200.0)
    text = timeline.tooltip_text(x, periods)
    assert text.splitlines() == [
        "T+2:00 (120 s in) – T+5:00 (300 s in)  SAA pass",
        "click to go to T+3:20 (200 s in)",
    ]
    flags = timeline.lane_rect(3).center().y()
    text = timeline.tooltip_text(timeline.x_of(T0 + 60.0) + 2, flags)
    assert text.splitlines()[0] == "T+1:00 (60 s in)  Trainer B: CDRA fails"
    assert text.splitlines()[1] == "click to go to T+1:00 (60 s in)"  # snapped
    assert timeline.items_at(timeline.x_of(T0 + 400.0), flags) == []


def test_marks_cursor_and_loop_are_drawn_in_their_colours(timeline: Timeline) -> None:
    pal = palette()
    timeline.set_marks(
        [
            TimelineItem(T0 + 100.0, "ppco2 CRITICAL", Level.CRITICAL, 1),
            TimelineItem(T0 + 200.0, "ppco2 WARNING", Level.WARNING, 1),
            TimelineItem(T0 + 300.0, "SAA pass", Level.WATCH, 0, end=T0 + 400.0),
            TimelineItem(T0 + 500.0, "bookmark", lane=3, flag=True),
            TimelineItem(T0 - 50.0, "before the session", Level.CRITICAL, 2),
        ]
    )
    lane = timeline.lane_rect
    assert close(pixel(timeline, timeline.x_of(T0 + 100.0), lane(1).center().y()),
                 Level.CRITICAL.color)  # fmt: skip
    assert close(pixel(timeline, timeline.x_of(T0 + 200.0), lane(1).center().y()),
                 Level.WARNING.color)  # fmt: skip
    # A span is tinted with its level (below its label, drawn mid-lane).
    inside = pixel(timeline, timeline.x_of(T0 + 350.0), lane(0).bottom() - 4)
    outside = pixel(timeline, timeline.x_of(T0 + 450.0), lane(0).bottom() - 4)
    assert distance(inside, Level.WATCH.color) < distance(outside, Level.WATCH.color)
    assert distance(inside, outside) > 60
    flag = pixel(timeline, timeline.x_of(T0 + 500.0) + 2, lane(3).top() + 4)
    assert close(flag, pal.color("accent"))
    # Its label is written beside it, in the room up to the range's end.
    image = timeline.grab().toImage()
    y = round(lane(3).center().y())
    beside = {
        image.pixelColor(x, y).name()
        for x in range(round(timeline.x_of(T0 + 500.0)) + 10, round(lane(3).right()))
    }
    assert len(beside) > 2
    # Nothing is drawn for a mark outside the range (its lane stays empty).
    assert not close(pixel(timeline, lane(2).left() + 1, lane(2).center().y()),
                     Level.CRITICAL.color, 60)  # fmt: skip
    # The cursor: a line in the text colour.
    timeline.set_cursor(T0 + 250.0)
    x = round(timeline.x_of(T0 + 250.0))
    assert close(pixel(timeline, x, lane(2).center().y()), pal.color("text"), 0)
    assert close(pixel(timeline, x - 1, lane(2).center().y()), pal.color("text"), 0)
    # The loop: an accent band between in and out, brackets at both ends.
    timeline.set_loop(T0 + 420.0, T0 + 480.0)
    band = pixel(timeline, timeline.x_of(T0 + 450.0), lane(2).center().y())
    plain = pixel(timeline, timeline.x_of(T0 + 550.0), lane(2).center().y())
    assert band != plain and band.blue() > plain.blue()
    assert close(pixel(timeline, timeline.x_of(T0 + 420.0), lane(2).center().y()),
                 pal.color("accent"), 60)  # fmt: skip
    assert timeline.loop() == (T0 + 420.0, T0 + 480.0)
    timeline.set_loop(None, None)
    assert pixel(timeline, timeline.x_of(T0 + 450.0), lane(2).center().y()) == plain


def test_a_pending_loop_end_and_an_empty_range_draw(
    timeline: Timeline, qtbot: QtBot
) -> None:
    timeline.set_loop(T0 + 100.0, None)
    accent = palette().color("accent")
    x = timeline.x_of(T0 + 100.0)
    column = [pixel(timeline, x, y) for y in range(4, 50)]
    assert any(close(c, accent, 60) for c in column)
    timeline.set_range(T0, T0)  # a session of one instant must not crash
    timeline.set_cursor(T0)
    timeline.grab()
    assert timeline.time_at(400.0) == T0


def test_height_follows_the_lanes(qtbot: QtBot) -> None:
    widget = Timeline()
    qtbot.addWidget(widget)
    one = widget.height()
    widget.set_lanes(LANES)
    assert widget.height() > one
    assert widget.lanes() == LANES
