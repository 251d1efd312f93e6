"""Limit bar: a value against its limit, with alert marks (e.g. dose vs budget)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QPainter, QPen
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QWidget

from widgets.fit_label import FitLabel
from widgets.levels import Level, palette, style_level

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PySide6.QtGui import QPaintEvent

#: Alert marks as (fraction of the limit, level reached there).
DEFAULT_MARKS: tuple[tuple[float, Level], ...] = (
    (0.5, Level.WATCH),
    (0.75, Level.WARNING),
    (0.9, Level.CRITICAL),
    (1.0, Level.CRITICAL),
)
#: The bar spans 0 .. SCALE x limit, so that the 100 % mark and overshoot show.
SCALE = 1.1


class _Bar(QWidget):
    """Paints the track, fill, marks and uncertainty whisker.

    Owned by the GUI thread.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fraction = 0.0
        self.sigma_fraction = 0.0
        self.level = Level.NO_DATA
        self.marks: tuple[tuple[float, Level], ...] = DEFAULT_MARKS
        self.setMinimumSize(QSize(120, 26))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(240, 26)

    def paintEvent(self, event: QPaintEvent | None) -> None:
        pal = palette()
        p = QPainter(self)
        w = float(self.width())
        left, right = 1.0, w - 1.0
        span = right - left
        track = QRectF(left, 3.0, span, 10.0)

        def x_at(frac: float) -> float:
            return left + span * min(max(frac, 0.0), SCALE) / SCALE

        p.setPen(QPen(pal.color("border"), 1.0))
        p.setBrush(pal.color("surface"))
        p.drawRect(track)

        if self.level is not Level.NO_DATA and self.fraction > 0:
            fill = QRectF(track.left(), track.top(), x_at(self.fraction) - left, 10.0)
            color = self.level.color
            if self.level is Level.NOMINAL:
                color.setAlpha(170)
            p.setPen(Qt.PenStyle.NoPen)
            p.fillRect(fill, color)
            if self.level is Level.STALE:
                p.fillRect(fill, Level.STALE.brush())
            if self.sigma_fraction > 0:
                lo = x_at(self.fraction - self.sigma_fraction)
                hi = x_at(self.fraction + self.sigma_fraction)
                mid = track.center().y()
                p.setPen(QPen(pal.color("text"), 1.0))
                p.drawLine(QPointF(lo, mid), QPointF(hi, mid))
                p.drawLine(QPointF(lo, mid - 3), QPointF(lo, mid + 3))
                p.drawLine(QPointF(hi, mid - 3), QPointF(hi, mid + 3))

        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() * 0.75, 6.5))
        p.setFont(font)
        for frac, level in self.marks:
            x = round(x_at(frac)) + 0.5
            p.setPen(QPen(level.color, 1.0 if frac < 1.0 else 2.0))
            p.drawLine(QPointF(x, 0.0), QPointF(x, 15.0))
            p.setPen(pal.color("text_dim"))
            label = QRectF(x - 20.0, 14.0, 40.0, 12.0)
            p.drawText(label, Qt.AlignmentFlag.AlignCenter, f"{frac * 100:g}")
        p.end()


class LimitBar(QWidget):
    """A value against a limit: "412 / 600 mSv (69 %)" above a bar with marks.

    The caller decides the level (widgets know no limits); the marks only show
    where alert thresholds lie, by default at 50/75/90/100 % of the limit. An
    optional 1-sigma whisker shows the estimate's uncertainty.
    Owned by the GUI thread.
    """

    def __init__(
        self,
        label: str = "",
        unit: str = "",
        parent: QWidget | None = None,
        *,
        fmt: str = "{:.0f}",
        marks: Sequence[tuple[float, Level]] = DEFAULT_MARKS,
    ) -> None:
        super().__init__(parent)
        self._unit = unit
        self._fmt = fmt
        self._value = math.nan
        self._limit = math.nan
        self._label = FitLabel(label, self)
        self._label.setObjectName("barLabel")
        # Right-aligned text in a narrow cell would lose its start ("001489 /
        # 250"): a FitLabel shrinks, then elides with the whole text in its tooltip.
        self._text = FitLabel("—", self, whole=True)
        self._text.setObjectName("barText")
        self._text.setAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self._bar = _Bar(self)
        self._bar.marks = tuple(marks)
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 2, 4, 2)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(1)
        grid.addWidget(self._label, 0, 0)
        grid.addWidget(self._text, 0, 1)
        grid.addWidget(self._bar, 1, 0, 1, 2)
        grid.setColumnStretch(0, 1)
        style_level(Level.NO_DATA, self._text)

    def set_value(
        self,
        value: float,
        limit: float,
        level: Level = Level.NOMINAL,
        *,
        sigma: float | None = None,
        text: str | None = None,
    ) -> None:
        """Show `value` against `limit` (same unit, limit > 0) at `level`.

        `sigma`: absolute 1-sigma uncertainty of `value`, drawn as a whisker.
        `text`: the caller's own wording of value and limit (with units);
        the percentage follows it.
        """
        if not limit > 0:
            raise ValueError("limit must be positive")
        self._value, self._limit = float(value), float(limit)
        frac = self._value / self._limit
        unit = f" {self._unit}" if self._unit else ""
        if text is None:
            text = (
                f"{self._fmt.format(self._value)} / "
                f"{self._fmt.format(self._limit)}{unit}"
            )
        # Truncated, never rounded up: 89.98 % must not read as the 90 % mark.
        percent = math.floor(frac * 100.0 + 1e-9) if math.isfinite(frac) else frac
        text = f"{text} ({percent:.0f} %)"
        if text != self._text.text():
            self._text.setText(text)
        bar = self._bar
        sigma_frac = 0.0 if sigma is None else abs(sigma) / self._limit
        changed = (frac, sigma_frac, level) != (
            bar.fraction,
            bar.sigma_fraction,
            bar.level,
        )
        if level is not bar.level:
            style_level(level, self._text)
        bar.fraction, bar.sigma_fraction, bar.level = frac, sigma_frac, level
        if changed:
            bar.update()

    def clear(self) -> None:
        """No data: a dash and an empty bar."""
        self._value = self._limit = math.nan
        self._text.setText("—")
        self._bar.fraction, self._bar.sigma_fraction = 0.0, 0.0
        if self._bar.level is not Level.NO_DATA:
            self._bar.level = Level.NO_DATA
            style_level(Level.NO_DATA, self._text)
        self._bar.update()

    def set_marks(self, marks: Sequence[tuple[float, Level]]) -> None:
        """Set the alert marks as (fraction of the limit, level there)."""
        self._bar.marks = tuple(marks)
        self._bar.update()

    def marks(self) -> tuple[tuple[float, Level], ...]:
        """Return the alert marks drawn."""
        return self._bar.marks

    def set_label(self, text: str) -> None:
        """Set the name shown at the left above the bar."""
        self._label.setText(text)

    def fraction(self) -> float:
        """Return value / limit shown now (NaN when cleared)."""
        return self._value / self._limit

    def text(self) -> str:
        """Return the text shown now, e.g. ``"412 / 600 mSv (69 %)"``."""
        return self._text.text()

    def level(self) -> Level:
        """Return the level shown now."""
        return self._bar.level

    def text_labels(self) -> tuple[FitLabel, FitLabel]:
        """Return the name and value labels (tests check that they fit)."""
        return self._label, self._text
