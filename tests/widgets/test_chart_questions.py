"""Strip charts that answer questions: hover cursor, one unit per axis, Y lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF

from widgets.strip_chart import StripChart, UnitMismatchError, parse_y_range

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

T0 = 1_700_000_000.0


def make_chart(qtbot: QtBot, unit: str = "mmHg") -> StripChart:
    chart = StripChart(title="test", unit=unit, window_s=100.0)
    qtbot.addWidget(chart)
    chart.resize(800, 300)
    chart.show()
    qtbot.waitExposed(chart)
    return chart


def pixel_of(chart: StripChart, t: float) -> QPoint:
    """Where time `t` is in the chart's viewport, mid-height."""
    vb = chart.getPlotItem().getViewBox()
    y = sum(vb.viewRange()[1]) / 2
    scene = vb.mapViewToScene(QPointF(t, y))
    return chart.mapFromScene(scene)


def test_hovering_shows_every_series_value_and_the_time(qtbot: QtBot) -> None:
    chart = make_chart(qtbot)
    t = T0 + np.arange(100.0)
    chart.set_series("jpm.ppo2", t, 150.0 + np.arange(100.0) / 10)
    chart.set_series("jpm.p_total", t, np.full(100, 760.0))
    chart.set_value_format(lambda name, v: f"{v:.1f} mmHg")
    chart.set_time_range(T0, T0 + 99.0)
    chart.flush()

    qtbot.mouseMove(chart.viewport(), pixel_of(chart, T0 + 42.3))
    qtbot.waitUntil(lambda: chart.cursor_time() is not None)
    # The raw sample at or before the pointer, not a decimated point.
    readings = {r.name: r for r in chart.cursor_readings()}
    assert set(readings) == {"jpm.ppo2", "jpm.p_total"}
    assert readings["jpm.ppo2"].time == T0 + 42.0
    assert readings["jpm.ppo2"].value == pytest.approx(154.2)
    assert readings["jpm.ppo2"].text == "154.2 mmHg"
    assert readings["jpm.p_total"].value == 760.0
    text = chart.cursor_text()
    assert "154.2 mmHg" in text and "760.0 mmHg" in text
    assert "2023-11-14 318/22:14:02" in text  # the cursor's UTC time

    # Leaving the plot takes the cursor away.
    chart.show_cursor(None)
    assert chart.cursor_time() is None and chart.cursor_text() == ""


def test_cursor_says_no_data_in_a_gap_and_follows_linked_charts(
    qtbot: QtBot,
) -> None:
    a, b = make_chart(qtbot), make_chart(qtbot, unit="°C")
    a.link_x(b)
    t = np.concatenate((T0 + np.arange(10.0), T0 + 50 + np.arange(10.0)))
    a.set_series("p", t, np.ones(t.size))
    b.set_series("temp", T0 + np.arange(60.0), np.full(60, 22.5))
    a.set_time_range(T0, T0 + 60)
    a.show_cursor(T0 + 30.0)
    assert [r.text for r in a.cursor_readings()] == ["no data"]
    # The linked chart shows the same time, with its own series and unit.
    assert b.cursor_time() == T0 + 30.0
    assert [r.text for r in b.cursor_readings()] == ["22.5 °C"]


def test_a_series_of_another_unit_never_shares_the_axis(qtbot: QtBot) -> None:
    chart = make_chart(qtbot, unit="")
    assert chart.accepts_unit("°C")  # an empty chart takes its first unit
    chart.set_series("jpm.temp", [T0, T0 + 1], [22.0, 22.1], unit="°C")
    assert chart.unit() == "°C"
    label = chart.getPlotItem().getAxis("left").labelText
    assert label == "°C"
    chart.set_series("jpm.dewpoint", [T0, T0 + 1], [10.0, 10.1], unit="°C")
    assert not chart.accepts_unit("mmHg")
    with pytest.raises(UnitMismatchError, match="mmHg.*°C.*chart of its own"):
        chart.set_series("jpm.ppo2", [T0], [160.0], unit="mmHg")
    assert chart.series_names() == ["jpm.temp", "jpm.dewpoint"]


def test_y_lock_keeps_the_range_and_autoscale_follows_again(qtbot: QtBot) -> None:
    chart = make_chart(qtbot)
    chart.set_series("x", T0 + np.arange(10.0), np.linspace(150, 160, 10))
    chart.set_time_range(T0, T0 + 20)
    chart.flush()
    menu = chart.build_menu()
    actions = {a.text(): a for a in menu.actions()}
    assert actions["Autoscale Y to the data"].isChecked()
    actions["Lock Y range as shown"].trigger()
    assert not chart.is_auto_y()
    locked = chart.y_range()
    chart.set_series("x", T0 + np.arange(20.0), np.linspace(150, 400, 20))
    chart.flush()
    assert chart.y_range() == pytest.approx(locked)  # a spike does not move it

    menu = chart.build_menu()
    auto = next(a for a in menu.actions() if a.text() == "Autoscale Y to the data")
    assert not auto.isChecked()
    auto.trigger()
    chart.flush()
    assert chart.is_auto_y()
    assert chart.y_range()[1] >= 400.0

    chart.set_y_range(140.0, 170.0)
    assert chart.y_range() == pytest.approx((140.0, 170.0))
    chart.set_log_y(True)  # a typed range survives switching the axis to log
    assert chart.y_range() == pytest.approx((140.0, 170.0))


def test_typed_y_ranges_are_read_or_refused_with_a_reason() -> None:
    assert parse_y_range("150 to 170") == (150.0, 170.0)
    assert parse_y_range("1e3, -2.5") == (-2.5, 1000.0)
    with pytest.raises(ValueError, match="two numbers"):
        parse_y_range("150")
    with pytest.raises(ValueError, match="differ"):
        parse_y_range("5 to 5")
    with pytest.raises(ValueError, match="above 0"):
        parse_y_range("0 to 10", log=True)
