"""What a strip chart draws besides its curves: limit bands, reference lines, spans.

Owned by the GUI thread (see `ChartMarks`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt

from widgets.levels import Level, palette

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from PySide6.QtGui import QBrush, QColor, QPainter
    from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget

    from widgets.chart_axes import ReferenceAxis


class ReferenceLine(NamedTuple):
    """A labelled horizontal line, e.g. an S-scale flux threshold.

    Immutable; usable from any thread.
    """

    value: float
    label: str
    level: Level | None = None


class Span(NamedTuple):
    """A shaded time interval, e.g. an SAA pass (WATCH) or loss of signal (STALE).

    Immutable; usable from any thread.
    """

    t0: float
    t1: float
    level: Level


class RegionItem(pg.UIGraphicsItem):  # type: ignore[misc]
    """Fills intervals along one axis across the whole view (bands, spans).

    Owned by the GUI thread.
    """

    def __init__(self, vertical: bool) -> None:
        super().__init__()
        self._vertical = vertical
        self._intervals: list[tuple[float, float, QBrush]] = []

    def set_intervals(self, intervals: Sequence[tuple[float, float, QBrush]]) -> None:
        self._intervals = list(intervals)
        self.update()

    def intervals(self) -> list[tuple[float, float, QBrush]]:
        return list(self._intervals)

    def paint(
        self,
        p: QPainter,
        opt: QStyleOptionGraphicsItem | None = None,
        widget: QWidget | None = None,
    ) -> None:
        view = self.viewRect()
        if view is None or not self._intervals:
            return
        # Fill in device coordinates so hatch patterns are not stretched by
        # the view's (very anisotropic) scale.
        to_device = p.transform()
        p.save()
        try:
            p.resetTransform()
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrushOrigin(QPointF(0.0, 0.0))
            for lo, hi, brush in self._intervals:
                if self._vertical:
                    a, b = max(lo, view.left()), min(hi, view.right())
                    rect = QRectF(a, view.top(), b - a, view.height())
                else:
                    a, b = max(lo, view.top()), min(hi, view.bottom())
                    rect = QRectF(view.left(), a, view.width(), b - a)
                if b > a:
                    p.fillRect(to_device.mapRect(rect), brush)
        finally:
            p.restore()


class ChartMarks:
    """Limit bands, reference lines and shaded time spans of one plot.

    Values are in data units; `rebuild` maps them to the plot's Y axis (log10
    on a log axis, where values <= 0 are left out). Owned by the GUI thread.
    """

    def __init__(
        self,
        plot: Any,
        map_y: Callable[[float], float | None],
        labels: ReferenceAxis | None = None,
    ) -> None:
        self._plot = plot
        self._map_y = map_y
        # Reference lines are named on this axis, outside the plot (see
        # ReferenceAxis); without one, by labels on the lines themselves.
        self._labels = labels
        self._bands: dict[Level, tuple[float | None, float | None]] = {}
        self._refs: list[ReferenceLine] = []
        self._ref_items: list[Any] = []
        self._band_items: list[Any] = []
        # Each limit line's label with its level and position (view units).
        self._band_labels: list[tuple[Any, Level, float]] = []
        self._bands_fill = RegionItem(vertical=False)
        self._spans_fill = RegionItem(vertical=True)
        for z, region in ((-20, self._spans_fill), (-15, self._bands_fill)):
            region.setZValue(z)
            plot.addItem(region, ignoreBounds=True)

    def set_bands(
        self, bands: Mapping[Level, tuple[float | None, float | None]]
    ) -> None:
        """Limit lines per level (see `StripChart.set_bands`); {} removes them."""
        self._bands = {lvl: lim for lvl, lim in bands.items() if lim != (None, None)}
        self.rebuild()

    def set_reference_lines(self, lines: Iterable[ReferenceLine]) -> None:
        """Labelled horizontal lines; [] removes them."""
        self._refs = list(lines)
        self.rebuild()

    def set_spans(self, spans: Iterable[Span | tuple[float, float, Level]]) -> None:
        """Shade time intervals (t0, t1, level) across the plot; [] clears."""
        intervals = []
        for t0, t1, level in spans:
            alpha = 90 if level is Level.STALE else 30
            intervals.append((float(t0), float(t1), level.brush(alpha)))
        self._spans_fill.set_intervals(intervals)

    def band_lines(self) -> list[tuple[float, Level]]:
        """Return the limit lines drawn now as (value in data units, level)."""
        return [
            (value, level)
            for level, limits in self._bands.items()
            for value in limits
            if value is not None and self._map_y(value) is not None
        ]

    def span_count(self) -> int:
        """Return the number of shaded time spans."""
        return len(self._spans_fill.intervals())

    def rebuild(self) -> None:
        """Draw the bands and lines again (after a change of the Y mapping)."""
        item = self._plot
        for line in self._band_items + self._ref_items:
            item.removeItem(line)
        self._band_items, self._ref_items = [], []
        self._band_labels = []

        ordered = sorted(self._bands.items(), key=lambda kv: kv[0].rank)
        fills: list[tuple[float, float, QBrush]] = []
        for i, (level, (low, high)) in enumerate(ordered):
            worse = ordered[i + 1 :]
            for value, sign in ((low, -1), (high, 1)):
                pos = None if value is None else self._map_y(value)
                if pos is None:
                    continue
                pen = pg.mkPen(level.color, width=1, style=Qt.PenStyle.DashLine)
                line = pg.InfiniteLine(
                    pos=pos,
                    angle=0,
                    pen=pen,
                    label=f"{value:g}",
                    labelOpts={
                        "position": 0.0,
                        "color": level.color,
                        "anchors": [(0, 0), (0, 1)],
                    },
                )
                line.setZValue(-5)
                item.addItem(line, ignoreBounds=True)
                self._band_items.append(line)
                self._band_labels.append((line.label, level, pos))
                # Tint from this limit to the next more severe one on this side.
                nxt = [
                    m
                    for lvl, lims in worse
                    if (v := lims[0 if sign < 0 else 1]) is not None
                    and (m := self._map_y(v)) is not None
                ]
                far = (min(nxt) if sign > 0 else max(nxt)) if nxt else sign * math.inf
                lo, hi = (pos, far) if sign > 0 else (far, pos)
                fills.append((lo, hi, level.brush(60 if level is Level.STALE else 16)))
        self._bands_fill.set_intervals(fills)

        dim = palette().color("text_dim")
        named: list[tuple[float, str, QColor]] = []
        for ref in self._refs:
            pos = self._map_y(ref.value)
            if pos is None:
                continue
            color = ref.level.color if ref.level is not None else dim
            pen = pg.mkPen(color, width=1, style=Qt.PenStyle.DotLine)
            if self._labels is not None:
                line = pg.InfiniteLine(pos=pos, angle=0, pen=pen)
                named.append((pos, ref.label, color))
            else:
                line = pg.InfiniteLine(
                    pos=pos,
                    angle=0,
                    pen=pen,
                    label=ref.label.replace("{", "{{").replace("}", "}}"),
                    # anchors: label on the side of the line facing the view centre
                    labelOpts={
                        "position": 1.0,
                        "color": color,
                        "anchors": [(1, 0), (1, 1)],
                    },
                )
            line.setZValue(-4)
            item.addItem(line, ignoreBounds=True)
            self._ref_items.append(line)
        if self._labels is not None:
            self._labels.set_marks(named)
        self.fit_labels()

    def fit_labels(self, *_args: object) -> None:
        """Hide limit labels that would touch a more severe limit's label.

        On a short chart two limits a few pixels apart (CO2 2.3 WATCH and 2.7
        WARNING) printed their values over each other; the more severe one
        keeps its label, the line of the other stays. Called after a resize
        or a change of the Y range.
        """
        labels = self._band_labels
        if not labels:
            return
        view = self._plot.getViewBox()
        y0, y1 = view.viewRange()[1]
        height = float(view.height())
        if not (y1 > y0 and height > 0):
            return
        scale = height / (y1 - y0)
        room = max(float(label.boundingRect().height()) for label, _l, _p in labels)
        kept: list[float] = []
        for label, _level, pos in sorted(labels, key=lambda x: -x[1].rank):
            y = pos * scale
            show = all(abs(y - other) >= room for other in kept)
            if show:
                kept.append(y)
            if label.isVisible() != show:
                label.setVisible(show)

    def band_label_rects(self) -> list[QRectF]:
        """Return where the shown limit labels are (scene coordinates)."""
        return [
            label.sceneBoundingRect()
            for label, _l, _p in self._band_labels
            if label.isVisible()
        ]

    def band_labels(self) -> list[tuple[str, bool]]:
        """Return each limit line's label text and whether it is shown."""
        return [
            (label.textItem.toPlainText(), label.isVisible())
            for label, _l, _p in self._band_labels
        ]

    def has_reference_lines(self) -> bool:
        """Tell whether any reference line is set (drawn or not on this axis)."""
        return bool(self._refs)
