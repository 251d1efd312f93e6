"""The window's header: menu bar, mode banner, alarm lamp, audio state, UTC clock.

In a replay the replay bar sits under it. Owned by the GUI thread and
refreshed by the RefreshLoop like a panel.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenuBar, QVBoxLayout, QWidget

from console.replay_bar import ReplayBar
from widgets.banner import Banner
from widgets.levels import palette
from widgets.status_lamp import StatusLamp

if TYPE_CHECKING:
    from console.context import ConsoleContext

#: Seconds between updates of the header's alarm summary.
HEADER_UPDATE_S = 0.25


class HeaderHost(Protocol):
    """What the header needs of its window (``MainWindow``)."""

    context: ConsoleContext

    def show_alarms(self) -> None: ...

    def update_alarm_state(self, now: float) -> None: ...

    def remember_proportions(self) -> None: ...

    def exceeds_desktop(self) -> bool: ...

    def fit_to_screen(self) -> None: ...


class WindowHeader(QWidget):
    """Menu bar over the mode banner, alarm summary, audio state and UTC clock.

    Owned by the GUI thread; refreshed by the RefreshLoop like a panel.
    """

    def __init__(self, window: HeaderHost, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("header")
        self._window = window
        self.menu_bar = QMenuBar(self)
        self.banner = Banner(self, wrap=False)
        self.alarm_lamp = StatusLamp("no alarms", self)
        self.alarm_lamp.setToolTip(
            "Worst unacknowledged alarm · click for the alarm list"
        )
        self.alarm_lamp.setCursor(Qt.CursorShape.PointingHandCursor)
        self.alarm_lamp.installEventFilter(self)
        self.audio = QLabel("", self)
        self.audio.setToolTip("Audible alarms (Alarms menu: silence / unsilence)")
        self.clock = QLabel("", self)
        self.clock.setObjectName("utcClock")
        dim = palette().theme["text_dim"]
        self.audio.setStyleSheet(f"color: {dim};")
        self.clock.setStyleSheet(
            f"color: {palette().theme['text']}; font-size: 12pt;"
            " font-family: monospace;"
        )
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 8, 0)
        row.setSpacing(14)
        row.addWidget(self.banner, 1)
        row.addWidget(self.alarm_lamp)
        row.addWidget(self.audio)
        row.addWidget(self.clock)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.menu_bar)
        column.addLayout(row)
        self.replay_bar: ReplayBar | None = None
        driver = window.context.replay
        if driver is not None:
            self.replay_bar = ReplayBar(driver, self)
            column.addWidget(self.replay_bar)
        self._next = -math.inf
        self._alarm_version = -1
        self._clock_second = -1

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.alarm_lamp and event.type() == QEvent.Type.MouseButtonPress:
            self._window.show_alarms()
            return True
        return False

    def refresh(self, now: float) -> None:
        second = int(now)
        if second != self._clock_second:
            self._clock_second = second
            stamp = datetime.fromtimestamp(now, UTC)
            self.clock.setText(f"{stamp:%Y-%m-%d}  {stamp:%j/%H:%M:%S} UTC")
        # A paused replay's clock stands still: an acknowledgement (a new
        # book version) must still show at once, not at the next frame.
        version = self._window.context.alarms.version
        if (
            now >= self._next
            or now < self._next - 2 * HEADER_UPDATE_S
            or version != self._alarm_version
        ):
            self._next = now + HEADER_UPDATE_S
            self._alarm_version = version
            self._window.update_alarm_state(now)
            self._window.remember_proportions()
            if self._window.exceeds_desktop():
                # Content that grew the window past the screens has shrunk
                # again (or a screen went away): fit back.
                self._window.fit_to_screen()
        if self.replay_bar is not None:
            self.replay_bar.refresh(now)
