"""Where a strip chart's legend goes, so it never hides the data that matter.

A legend of one row per series covered most of a short chart (four series
in a 60-px plot at 1280x720). ``LegendFit`` lays the legend out in as few
rows as fit in ``MAX_HEIGHT`` of the plot (a column, else a row, else a
grid), and collapses it to a small button when nothing fits; it anchors it
in the top-left corner unless the newest point of a series lies under it,
then in another corner.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtWidgets import QToolButton

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PySide6.QtWidgets import QGraphicsView

#: The largest share of the plot's height and width a legend may cover.
MAX_HEIGHT: Final = 0.4
MAX_WIDTH: Final = 0.7
MARGIN: Final = (6.0, 4.0)
#: Pixels kept clear between the legend and a newest point.
CLEARANCE: Final = 3.0
#: Corners tried in turn, as pyqtgraph anchors (x, y): 0 left/top, 1 right/bottom.
CORNERS: Final = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))


class LegendFit:
    """Lays out, places or collapses one chart's pyqtgraph legend; GUI thread.

    ``fit()`` after a resize or a change of series; ``avoid(points)`` after
    new data, with the newest point of each series in view coordinates.
    """

    def __init__(self, legend: Any, view: Any, chart: QGraphicsView) -> None:
        self._chart = chart
        self._legend = legend
        self._view = view
        # Qt's default 9-px layout margins made a one-row legend 39 px tall.
        legend.layout.setContentsMargins(4.0, 1.0, 4.0, 1.0)
        self._wanted = False
        self._collapsed = False
        self._opened = False  # the operator opened a collapsed legend
        self._corner = CORNERS[0]
        self._points: list[QPointF] = []
        self.button = QToolButton(chart)
        self.button.setObjectName("legendButton")
        self.button.setText("≡ legend")
        self.button.setCheckable(True)
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.setToolTip("The plot is too short for its legend: click to show it")
        self.button.toggled.connect(self._on_button)
        self.button.hide()

    # ------------------------------------------------------------- inputs

    def set_wanted(self, wanted: bool) -> None:
        """Say whether a legend is shown at all (with more than one series)."""
        if wanted != self._wanted:
            self._wanted = wanted
            self.fit()

    def fit(self) -> None:
        """Choose the layout for the plot's size now (a resize, a new series)."""
        legend = self._legend
        if not self._wanted or not legend.items:
            legend.setVisible(False)
            self.button.hide()
            return
        height = float(self._view.height())
        width = float(self._view.width())
        count = len(legend.items)
        fits = False
        for columns in range(1, count + 1):
            legend.setColumnCount(columns)
            # Its own updateSize sums rows already stretched to the last
            # size (a one-row legend stayed two rows tall): the layout's.
            legend.resize(legend.layout.effectiveSizeHint(Qt.SizeHint.PreferredSize))
            rows = math.ceil(count / columns)
            if math.ceil(count / max(columns - 1, 1)) == rows and columns > 1:
                continue  # same rows as fewer columns: only wider
            if (
                legend.height() <= MAX_HEIGHT * height
                and legend.width() <= MAX_WIDTH * width
            ):
                fits = True
                break
        self._collapsed = not fits
        if fits:
            self._opened = False
        self._show()

    def avoid(self, points: Sequence[QPointF]) -> None:
        """Keep the legend off the newest points (view coordinates)."""
        self._points = list(points)
        if self._legend.isVisible() and self._covers(self._corner):
            corner = next((c for c in CORNERS if not self._covers(c)), self._corner)
            if corner != self._corner:
                self._corner = corner
                self._anchor()

    # ------------------------------------------------------------ reading

    def collapsed(self) -> bool:
        return self._collapsed

    def rect(self) -> QRectF:
        """Return the legend's rectangle in the view's own (pixel) coordinates."""
        legend = self._legend
        return QRectF(legend.mapRectToParent(legend.boundingRect()))

    def covered(self) -> list[QPointF]:
        """Return the newest points the legend covers now (tests: none)."""
        if not self._legend.isVisible():
            return []
        rect = self.rect().adjusted(-CLEARANCE, -CLEARANCE, CLEARANCE, CLEARANCE)
        return [p for p in self._pixels() if rect.contains(p)]

    # ----------------------------------------------------------- internals

    def _show(self) -> None:
        show = self._wanted and (not self._collapsed or self._opened)
        self._legend.setVisible(show)
        self.button.setVisible(self._wanted and self._collapsed)
        if self._collapsed:
            self.button.blockSignals(True)
            self.button.setChecked(self._opened)
            self.button.blockSignals(False)
            self.button.adjustSize()
            at = self._chart.mapFromScene(self._view.mapToScene(QPointF(0.0, 0.0)))
            self.button.move(at.x() + 4, at.y() + 2)
        if show:
            self._anchor()
            self.avoid(self._points)

    def _on_button(self, checked: bool) -> None:
        self._opened = checked
        self._show()

    def _margin(self) -> tuple[float, float]:
        dx, dy = MARGIN
        if self._collapsed:
            dy += self.button.height() + 2.0  # opened under its button
        return dx, dy

    def _anchor(self) -> None:
        cx, cy = self._corner
        dx, dy = self._margin()
        offset = (dx if cx == 0 else -dx, dy if cy == 0 else -dy)
        self._legend.anchor(itemPos=self._corner, parentPos=self._corner, offset=offset)

    def _pixels(self) -> list[QPointF]:
        view = self._view
        return [view.mapFromView(p) for p in self._points]

    def _covers(self, corner: tuple[float, float]) -> bool:
        legend = self._legend
        width, height = float(legend.width()), float(legend.height())
        vw, vh = float(self._view.width()), float(self._view.height())
        dx, dy = self._margin()
        x = dx if corner[0] == 0 else vw - dx - width
        y = dy if corner[1] == 0 else vh - dy - height
        rect = QRectF(x, y, width, height).adjusted(
            -CLEARANCE, -CLEARANCE, CLEARANCE, CLEARANCE
        )
        return any(rect.contains(p) for p in self._pixels())
