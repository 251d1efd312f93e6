from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QLabel

from widgets.levels import Level, palette
from widgets.value_readout import ValueReadout


@pytest.fixture
def readout(qtbot, themed):
    w = ValueReadout("JPM ppCO₂", "mmHg", fmt="{:.2f}")
    qtbot.addWidget(w)
    return w


def value_color(w):
    label = w.findChild(QLabel, "readoutValue")
    return label.palette().color(label.foregroundRole())


def test_starts_without_data(readout):
    assert readout.text() == "—"
    assert readout.level() is Level.NO_DATA
    assert readout.property("level") == "no_data"


def test_shows_formatted_value_unit_and_nominal_colour(readout):
    readout.set_value(2.4137)
    assert readout.text() == "2.41"
    assert readout.unit() == "mmHg"
    assert readout.tag() == ""
    assert readout.level() is Level.NOMINAL
    # Nominal values are plain text: colour is spent on abnormal states only.
    assert value_color(readout) == palette().color("text")


@pytest.mark.parametrize("level", [Level.WATCH, Level.WARNING, Level.CRITICAL])
def test_abnormal_level_colours_value_and_names_it(readout, level):
    readout.set_value("2.91", level)
    assert readout.text() == "2.91"
    assert readout.property("level") == level.value
    assert value_color(readout) == level.color
    assert readout.tag() == level.label


def test_stale_keeps_last_value_and_says_so(readout):
    readout.set_value(2.5, Level.WARNING)
    readout.set_level(Level.STALE, note="42 s old")
    assert readout.text() == "2.50"
    assert readout.tag() == "STALE · 42 s old"
    assert value_color(readout) == Level.STALE.color
    assert readout.findChild(QLabel, "readoutValue").font().italic()


def test_trend_is_decimated_and_keeps_extremes(readout, qtbot):
    readout.resize(200, 100)
    t = 1.7e9 + np.arange(10_000.0)
    y = np.sin(t / 50)
    y[5000] = 9.0
    readout.set_trend(t, y)
    assert readout.trend().isVisibleTo(readout)
    x, yd = readout.trend().points()
    assert x.size <= 2 * readout.trend().width() + 4
    assert np.nanmax(yd) == 9.0
    readout.grab()  # paints the line without error


def test_clear_returns_to_no_data(readout):
    readout.set_value(1.0, Level.CRITICAL)
    readout.set_trend([1.0, 2.0], [3.0, 4.0])
    readout.clear()
    assert readout.text() == "—"
    assert readout.level() is Level.NO_DATA
    assert readout.trend().points()[0].size == 0
