"""The strip chart's hover cursor: a time line and every series' value at that time.

Owned by the GUI thread (see `ChartCursor`).
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import pyqtgraph as pg
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel

from widgets.levels import palette

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QWidget


class CursorReading(NamedTuple):
    """One series at the cursor: its newest sample at or before the cursor time.

    ``time``/``value`` are None where the series has no sample there (before
    its first, or inside a gap). Immutable; any thread.
    """

    name: str
    time: float | None
    value: float | None
    text: str
    color: QColor


def cursor_time_text(t: float) -> str:
    """Return the cursor's time the way the console writes UTC, to 0.1 s.

    The GMT day of year after the date: ``2026-12-07 341/10:41:03.2 UTC``.
    """
    if not math.isfinite(t):
        return ""
    stamp = datetime.fromtimestamp(t, UTC)
    tenth = stamp.microsecond // 100_000
    return f"{stamp:%Y-%m-%d %j/%H:%M:%S}.{tenth} UTC"


class ChartCursor:
    """A vertical line across the plot and a box of readings beside it.

    The line lives in the plot (it moves with the data when the window
    slides); the box is a child widget of the chart, kept inside it. Owned by
    the GUI thread.
    """

    def __init__(self, widget: QWidget, plot: Any) -> None:
        pal = palette()
        self._widget = widget
        self.line = pg.InfiniteLine(
            angle=90,
            movable=False,
            pen=pg.mkPen(pal.theme["text_dim"], width=1, style=Qt.PenStyle.DashLine),
        )
        self.line.setZValue(20)
        # In the plot only while shown: the chart's items are its data.
        self._plot = plot
        self.label = QLabel(widget)
        self.label.setObjectName("chartCursor")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.label.setStyleSheet(
            f"QLabel#chartCursor {{ background: {pal.theme['panel']};"
            f" color: {pal.theme['text']}; border: 1px solid {pal.theme['border']};"
            " padding: 1px 4px; font-size: 8pt; }"
        )
        self.label.hide()
        self.time: float | None = None
        self.readings: list[CursorReading] = []

    def show(
        self, t: float, readings: Sequence[CursorReading], x_px: int, top_px: int
    ) -> None:
        """Put the line at time `t` and the box beside pixel column `x_px`."""
        self.time = t
        self.readings = list(readings)
        self.line.setPos(t)
        if self.line.scene() is None:
            self._plot.addItem(self.line, ignoreBounds=True)
        rows = [f"<b>{html.escape(cursor_time_text(t))}</b>"]
        for r in readings:
            rows.append(
                f"<span style='color:{r.color.name()}'>■</span> "
                f"{html.escape(r.name)}&nbsp;&nbsp;<b>{html.escape(r.text)}</b>"
            )
        self.label.setText("<br>".join(rows))
        self.label.adjustSize()
        # Beside the line, flipped to its left near the right edge.
        w = self.label.width()
        x = x_px + 12
        if x + w > self._widget.width() - 4:
            x = max(x_px - 12 - w, 4)
        self.label.move(QPoint(x, top_px))
        self.label.show()
        self.label.raise_()

    def hide(self) -> None:
        """Take the line and the box away."""
        self.time = None
        self.readings = []
        if self.line.scene() is not None:
            self._plot.removeItem(self.line)
        self.label.hide()

    def is_shown(self) -> bool:
        return self.time is not None
