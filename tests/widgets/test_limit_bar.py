from __future__ import annotations

import math

import pytest
from PySide6.QtWidgets import QLabel

from widgets.levels import Level
from widgets.limit_bar import DEFAULT_MARKS, LimitBar


@pytest.fixture
def bar(qtbot, themed):
    w = LimitBar("c1 career dose", "mSv")
    qtbot.addWidget(w)
    return w


def test_text_fraction_and_level(bar):
    bar.set_value(412.0, 600.0, Level.NOMINAL)
    # Truncated, never rounded up (68.7 % is not yet 69 %).
    assert bar.text() == "412 / 600 mSv (68 %)"

    assert bar.fraction() == pytest.approx(412 / 600)
    assert bar.level() is Level.NOMINAL


def test_level_colours_the_text(bar):
    bar.set_value(560.0, 600.0, Level.CRITICAL)
    label = bar.findChild(QLabel, "barText")
    assert label.property("level") == "critical"
    assert label.palette().color(label.foregroundRole()) == Level.CRITICAL.color


def test_default_alert_marks_at_50_75_90_100_percent(bar):
    assert [f for f, _ in bar.marks()] == [0.5, 0.75, 0.9, 1.0]
    assert bar.marks() == DEFAULT_MARKS
    bar.set_marks([(0.8, Level.WARNING)])
    assert bar.marks() == ((0.8, Level.WARNING),)


def test_overshoot_and_uncertainty_paint(bar):
    bar.set_value(700.0, 600.0, Level.CRITICAL, sigma=40.0)
    assert bar.text() == "700 / 600 mSv (116 %)"
    assert not bar.grab().isNull()


def test_limit_must_be_positive(bar):
    with pytest.raises(ValueError, match="positive"):
        bar.set_value(1.0, 0.0)


def test_clear(bar):
    bar.set_value(41.0, 50.0, Level.WARNING)
    bar.clear()
    assert bar.text() == "—"
    assert bar.level() is Level.NO_DATA
    assert math.isnan(bar.fraction())


def test_a_fraction_just_under_an_alert_mark_never_reads_as_at_it(bar):
    bar.set_value(539.88, 600.0, Level.WARNING)  # 89.98 % of the limit
    assert bar.text().endswith("(89 %)")
