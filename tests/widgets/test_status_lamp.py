from __future__ import annotations

from PySide6.QtWidgets import QLabel

from widgets.levels import Level
from widgets.status_lamp import Lamp, StatusLamp


def test_lamp_shows_level_and_text(qtbot, themed):
    lamp = StatusLamp("ib2-a link")
    qtbot.addWidget(lamp)
    assert lamp.level() is Level.NO_DATA
    lamp.set_level(Level.NOMINAL, "ib2-a link up")
    assert lamp.text() == "ib2-a link up"
    assert lamp.findChild(Lamp).level() is Level.NOMINAL
    lamp.set_level(Level.STALE, "ib2-a link stale")
    label = lamp.findChild(QLabel, "lampText")
    assert label.property("level") == "stale"
    assert label.palette().color(label.foregroundRole()) == Level.STALE.color
    assert lamp.findChild(Lamp).toolTip() == "STALE"
    lamp.set_text("ib2-a link lost")
    assert lamp.level() is Level.STALE
    assert lamp.text() == "ib2-a link lost"


def test_every_level_paints(qtbot):
    lamp = StatusLamp("x")
    qtbot.addWidget(lamp)
    for level in Level:
        lamp.set_level(level)
        assert not lamp.grab().isNull()
