"""Single-value readout tile: label, big value, unit, level tag and a trend line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QWidget

from widgets.decimation import peak_decimate
from widgets.fit_label import FitLabel
from widgets.levels import Level, palette, style_level
from widgets.plain_text import plain

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray
    from PySide6.QtGui import QPaintEvent, QResizeEvent


class Sparkline(QWidget):
    """Small trend line of recent samples, min/max decimated to its width.

    The newest sample is marked with a dot in the level colour. Owned by the
    GUI thread.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._t = np.empty(0, dtype=np.float64)
        self._y = np.empty(0, dtype=np.float64)
        self._level = Level.NOMINAL
        self._path: QPainterPath | None = None
        self._last: tuple[float, float] | None = None
        self.setMinimumHeight(18)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)

    def sizeHint(self) -> QSize:
        return QSize(120, 22)

    def set_data(self, t: ArrayLike, y: ArrayLike) -> None:
        """Show samples (t ascending); an empty pair clears the line."""
        self._t = np.asarray(t, dtype=np.float64)
        self._y = np.asarray(y, dtype=np.float64)
        self._path = None
        self.update()

    def set_level(self, level: Level) -> None:
        """Set the level that colours the newest-sample dot."""
        if level is not self._level:
            self._level = level
            self.update()

    def points(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Return the decimated (t, y) the line is drawn from."""
        t, y = self._t, self._y
        if t.size == 0:
            return t, y
        return peak_decimate(t, y, float(t[0]), float(t[-1]), max(self.width(), 16))

    def _build(self) -> None:
        self._path, self._last = QPainterPath(), None
        x, y = self.points()
        finite = np.isfinite(y)
        if x.size < 2 or not finite.any():
            return
        w, h = float(self.width()), float(self.height())
        x0, x1 = float(x[0]), float(x[-1])
        lo, hi = float(np.min(y[finite])), float(np.max(y[finite]))
        if hi - lo < 1e-12:
            lo, hi = lo - 1.0, hi + 1.0
        pad = 3.0
        px = pad + (x - x0) / max(x1 - x0, 1e-12) * (w - 2 * pad)
        py = h - pad - (y - lo) / (hi - lo) * (h - 2 * pad)
        self._path = pg.arrayToQPath(px, py, connect="finite")
        last = np.flatnonzero(finite)[-1]
        self._last = (float(px[last]), float(py[last]))

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._path = None
        super().resizeEvent(event)

    def paintEvent(self, event: QPaintEvent | None) -> None:
        if self._path is None:
            self._build()
        if self._path is None or self._path.isEmpty():
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(QPen(palette().color("text_dim"), 1.0))
        p.drawPath(self._path)
        if self._last is not None:
            color = (
                self._level.color
                if self._level is not Level.NOMINAL
                else palette().color("text")
            )
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(color)
            p.drawEllipse(QPointF(*self._last), 2.5, 2.5)
        p.end()


class ValueReadout(QFrame):
    """A labelled value with unit, coloured by level, with an optional trend.

    Colours come from the style sheet through the dynamic property ``level``
    (set on the tile, the value and the tag labels). Abnormal levels also show
    their name as a tag, so colour is never the only cue; STALE shows the last
    value in italics with the tag "STALE". Owned by the GUI thread.
    """

    def __init__(
        self,
        label: str = "",
        unit: str = "",
        parent: QWidget | None = None,
        *,
        trend: bool = False,
        fmt: str = "{:.2f}",
    ) -> None:
        super().__init__(parent)
        self._fmt = fmt
        self._level = Level.NO_DATA
        # FitLabels: a narrow tile shrinks or elides its text (the whole
        # text then in the tooltip) instead of cutting digits off.
        self._label = FitLabel(label, self)
        self._label.setObjectName("readoutLabel")
        self._tag = plain(QLabel("", self))
        self._tag.setObjectName("readoutTag")
        self._tag.setAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self._value = FitLabel("—", self, whole=True)
        self._value.setObjectName("readoutValue")
        self._unit = plain(QLabel(unit, self))
        self._unit.setObjectName("readoutUnit")
        self._unit.setAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom
        )
        self._trend = Sparkline(self)
        self._trend.setVisible(trend)

        grid = QGridLayout(self)
        grid.setContentsMargins(10, 6, 10, 6)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        grid.addWidget(self._label, 0, 0, 1, 2)
        grid.addWidget(self._tag, 0, 2)
        grid.addWidget(self._value, 1, 0, Qt.AlignmentFlag.AlignBottom)
        grid.addWidget(self._unit, 1, 1, 1, 2, Qt.AlignmentFlag.AlignBottom)
        grid.addWidget(self._trend, 2, 0, 1, 3)
        grid.setColumnStretch(1, 1)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._apply_level()

    def set_label(self, text: str) -> None:
        """Set the name shown above the value."""
        self._label.setText(text)

    def set_unit(self, unit: str) -> None:
        """Set the unit shown after the value."""
        if unit != self._unit.text():
            self._unit.setText(unit)

    def set_value(
        self, value: str | float, level: Level = Level.NOMINAL, *, note: str = ""
    ) -> None:
        """Show `value` (text as given, numbers with `fmt`) at `level`.

        `note` is appended to the level tag, e.g. ``"12 s old"`` when stale.
        """
        text = value if isinstance(value, str) else self._fmt.format(value)
        if text != self._value.text():
            self._value.setText(text)
        self._set_tag(level, note)
        if level is not self._level:
            self._level = level
            self._apply_level()

    def set_level(self, level: Level, *, note: str = "") -> None:
        """Change only the level (e.g. to STALE when no new sample arrives)."""
        self.set_value(self._value.text(), level, note=note)

    def clear(self) -> None:
        """No data: a dash, no tag, no trend."""
        self.set_value("—", Level.NO_DATA)
        self._trend.set_data([], [])

    def set_trend(self, t: ArrayLike, y: ArrayLike) -> None:
        """Show recent samples in the trend line (and show it if hidden)."""
        self._trend.set_data(t, y)
        self._trend.setVisible(True)

    def level(self) -> Level:
        """Return the level shown now."""
        return self._level

    def text(self) -> str:
        """Return the value text shown now."""
        return self._value.text()

    def unit(self) -> str:
        """Return the unit shown now."""
        return self._unit.text()

    def tag(self) -> str:
        """Return the level tag shown now ('' when nominal)."""
        return self._tag.text()

    def value_label(self) -> FitLabel:
        """Return the label that draws the value (tests check that it fits)."""
        return self._value

    def trend(self) -> Sparkline:
        """Return the trend line widget."""
        return self._trend

    def _set_tag(self, level: Level, note: str) -> None:
        parts = [level.label] if level.is_abnormal else []
        if note:
            parts.append(note)
        text = " · ".join(parts)
        if text != self._tag.text():
            self._tag.setText(text)

    def _apply_level(self) -> None:
        style_level(self._level, self, self._value, self._tag)
        self._trend.set_level(self._level)
