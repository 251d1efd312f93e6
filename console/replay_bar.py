"""Replay transport under the mode banner: play/pause, speed, skip and seek.

Commands go to the ReplayDriver, which queues them for the replay thread; the
bar reads the driver's plain attributes (cursor, playing, speed) to redraw.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QWidget,
)

from console.docks.panel import utc_text
from widgets.levels import palette

SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
SKIP_S = 60.0
SLIDER_STEPS = 10_000


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}"


class ReplayBar(QWidget):
    """Transport controls of one ReplayDriver; owned by the GUI thread.

    A panel of the RefreshLoop: ``refresh(now)`` moves the slider and the
    cursor text unless the operator is dragging the slider.
    """

    def __init__(self, driver: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replayBar")
        self.driver = driver
        self.start = float(driver.start_time)
        self.end = float(driver.end_time)
        self.back = QPushButton(f"« {SKIP_S:g} s", self)
        self.back.setToolTip("Jump back")
        self.back.clicked.connect(lambda: self.skip(-SKIP_S))
        self.play = QPushButton("▶ Play", self)
        self.play.setToolTip("Play or pause the replay (Space)")
        self.play.setShortcut(Qt.Key.Key_Space)
        self.play.clicked.connect(self.toggle)
        self.forward = QPushButton(f"{SKIP_S:g} s »", self)
        self.forward.setToolTip("Jump forward")
        self.forward.clicked.connect(lambda: self.skip(SKIP_S))
        self.speed = QComboBox(self)
        for value in SPEEDS:
            self.speed.addItem(f"{value:g}×", value)
        self.speed.setToolTip("Replay speed")
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.currentIndexChanged.connect(self._on_speed)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setToolTip("Drag to seek in the recording")
        self.slider.sliderReleased.connect(self._on_seek)
        self.position = QLabel("", self)
        self.position.setStyleSheet(f"color: {palette().theme['text']};")
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 3, 8, 3)
        row.setSpacing(6)
        for w in (self.back, self.play, self.forward, self.speed):
            row.addWidget(w)
        row.addWidget(self.slider, 1)
        row.addWidget(self.position)
        self._shown: tuple[float, bool, float] = (math.nan, False, math.nan)

    def toggle(self) -> None:
        if self.driver.playing:
            self.driver.pause()
        else:
            self.driver.play()

    def skip(self, seconds: float) -> None:
        target = min(max(float(self.driver.cursor) + seconds, self.start), self.end)
        self.driver.seek(target)

    def seek_fraction(self, fraction: float) -> None:
        """Seek to a fraction (0..1) of the recording."""
        fraction = min(max(fraction, 0.0), 1.0)
        self.driver.seek(self.start + fraction * (self.end - self.start))

    def _on_seek(self) -> None:
        self.seek_fraction(self.slider.value() / SLIDER_STEPS)

    def _on_speed(self, index: int) -> None:
        value = self.speed.itemData(index)
        if isinstance(value, float | int):
            self.driver.set_speed(float(value))

    def refresh(self, now: float) -> None:
        cursor = float(self.driver.cursor)
        playing = bool(self.driver.playing)
        speed = float(self.driver.speed)
        shown = (round(cursor, 1), playing, speed)
        if shown == self._shown:
            return
        self._shown = shown
        self.play.setText("❚❚ Pause" if playing else "▶ Play")
        span = max(self.end - self.start, 1e-9)
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(round((cursor - self.start) / span * SLIDER_STEPS))
            self.slider.blockSignals(False)
        i = self.speed.findData(speed)
        if i >= 0 and i != self.speed.currentIndex():
            self.speed.blockSignals(True)
            self.speed.setCurrentIndex(i)
            self.speed.blockSignals(False)
        state = "playing" if playing else "paused"
        self.position.setText(
            f"{utc_text(cursor)} UTC · {_clock(cursor - self.start)} / "
            f"{_clock(self.end - self.start)} · {speed:g}× {state}"
        )
