"""Status lamp: a round light in the level colour with a short text."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QWidget

from widgets.fit_label import FitLabel
from widgets.levels import Level, palette, style_level

if TYPE_CHECKING:
    from PySide6.QtGui import QPaintEvent


class Lamp(QWidget):
    """The round light alone.

    Filled in the level colour, hatched when STALE, an empty ring when
    NO_DATA. Owned by the GUI thread.
    """

    def __init__(self, parent: QWidget | None = None, *, diameter: int = 12) -> None:
        super().__init__(parent)
        self._level = Level.NO_DATA
        self._diameter = diameter
        self.setFixedSize(QSize(diameter + 4, diameter + 4))
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)

    def set_level(self, level: Level) -> None:
        """Light the lamp for `level`."""
        if level is not self._level:
            self._level = level
            self.update()

    def level(self) -> Level:
        """Return the level shown now."""
        return self._level

    def paintEvent(self, event: QPaintEvent | None) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        d = float(self._diameter)
        rect = QRectF(2.0, 2.0, d, d)
        level = self._level
        ring = (
            level.color if level is not Level.NO_DATA else palette().color("text_faint")
        )
        if level is Level.NO_DATA:
            p.setBrush(Qt.BrushStyle.NoBrush)
        elif level is Level.STALE:
            p.setBrush(level.brush())
        else:
            p.setBrush(level.color)
        p.setPen(QPen(ring, 1.5))
        p.drawEllipse(rect)
        p.end()


class StatusLamp(QWidget):
    """A lamp plus text, e.g. link state "ib2-a link up" / "stale" / "down".

    The text repeats the state in words, so colour is never the only cue.
    Owned by the GUI thread.
    """

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        *,
        level: Level = Level.NO_DATA,
    ) -> None:
        super().__init__(parent)
        self._lamp = Lamp(self)
        # Elided (whole text in the tooltip) rather than cut when squeezed.
        self._text = FitLabel(text, self)
        self._text.setObjectName("lampText")
        row = QHBoxLayout(self)
        row.setContentsMargins(2, 2, 2, 2)
        row.setSpacing(6)
        row.addWidget(self._lamp)
        row.addWidget(self._text, 1)
        self._level = level
        self._lamp.set_level(level)
        self._lamp.setToolTip(level.label)
        style_level(level, self._text)

    def set_level(self, level: Level, text: str | None = None) -> None:
        """Show `level`, and replace the text if `text` is given."""
        if text is not None and text != self._text.text():
            self._text.setText(text)
        if level is not self._level:
            self._level = level
            self._lamp.set_level(level)
            style_level(level, self._text)
        # The light says its level in words on hover; the widget's own tooltip
        # is left to the caller.
        self._lamp.setToolTip(level.label)

    def set_text(self, text: str) -> None:
        """Replace the text, keeping the level."""
        self.set_level(self._level, text)

    def level(self) -> Level:
        """Return the level shown now."""
        return self._level

    def text(self) -> str:
        """Return the text shown now."""
        return self._text.text()
