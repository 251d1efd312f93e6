from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from widgets.banner import Banner
from widgets.levels import Level


def test_banner_is_hidden_until_a_message_and_after_clear(qtbot, themed):
    window = QWidget()
    qtbot.addWidget(window)
    banner = Banner()
    QVBoxLayout(window).addWidget(banner)
    window.show()
    qtbot.waitExposed(window)
    assert not banner.isVisible()

    banner.set_message("REPLAY ×10", Level.WATCH, "session 2017-09-10")
    assert banner.isVisible()
    assert banner.text() == "REPLAY ×10"
    assert banner.detail() == "session 2017-09-10"
    assert banner.level() is Level.WATCH
    assert banner.property("level") == "watch"
    assert (
        banner.width() == window.width() - 2 * window.layout().contentsMargins().left()
    )

    banner.clear()
    assert not banner.isVisible()
    assert banner.text() == ""


def test_banner_colour_follows_level(qtbot, themed):
    banner = Banner()
    qtbot.addWidget(banner)
    banner.set_message("SPE: shelter in SM", Level.CRITICAL)
    assert banner.is_shown()
    assert banner.detail() == ""
    assert banner.palette().color(banner.backgroundRole()) == Level.CRITICAL.color
    text = banner.findChild(QLabel, "bannerText")
    assert text.palette().color(text.foregroundRole()) == Level.CRITICAL.on_color
    banner.set_message("SPE: shelter in SM", Level.WARNING)
    assert banner.palette().color(banner.backgroundRole()) == Level.WARNING.color
