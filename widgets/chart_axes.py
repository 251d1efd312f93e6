"""The strip chart's axes and grid: the only module that uses pyqtgraph's private API.

`TimeAxis` (UTC, ticks and drawing shared by linked charts), `ValueAxis`
(readable log ticks) and `GridItem` (opaque grid at the axes' ticks) override
or call pyqtgraph internals (``AxisItem.generateDrawSpecs``, ``drawPicture``,
``_updateMaxTextSize``, ``_tickLevels``, ``DateAxisItem.zoomLevel``...), so
a pyqtgraph upgrade that changes them breaks this one file (and
tests/widgets/test_strip_chart.py says where).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPen,
    QPicture,
    QPixmap,
    QTransform,
)

from widgets.levels import palette

if TYPE_CHECKING:
    from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget


class GridItem(pg.UIGraphicsItem):  # type: ignore[misc]
    """Opaque grid lines at the axes' major and first minor ticks.

    Owned by the GUI thread.
    """

    def __init__(self, plot: Any) -> None:
        super().__init__()
        self._plot = plot
        pal = palette()
        major = pal.color("grid")
        bg = pal.color("plot_bg")
        minor = QColor(
            (major.red() + bg.red()) // 2,
            (major.green() + bg.green()) // 2,
            (major.blue() + bg.blue()) // 2,
        )
        self._pens = (QPen(major, 1.0), QPen(minor, 1.0))

    def paint(
        self,
        p: QPainter,
        opt: QStyleOptionGraphicsItem | None = None,
        widget: QWidget | None = None,
    ) -> None:
        view = self.viewRect()
        if view is None or view.width() <= 0 or view.height() <= 0:
            return
        to_device = p.transform()
        device = to_device.mapRect(view)
        # The axes' own ticks: computed once per frame for lines and labels.
        x_levels = self._plot.getAxis("bottom").drawn_ticks()
        y_levels = self._plot.getAxis("left").drawn_ticks()
        p.save()
        try:
            p.resetTransform()
            for level in (1, 0):  # major lines over minor ones
                lines = []
                if level < len(x_levels):
                    for v in x_levels[level][1]:
                        x = round(to_device.map(QPointF(v, view.top())).x()) + 0.5
                        lines.append(QLineF(x, device.top(), x, device.bottom()))
                if level < len(y_levels):
                    for v in y_levels[level][1]:
                        y = round(to_device.map(QPointF(view.left(), v)).y()) + 0.5
                        lines.append(QLineF(device.left(), y, device.right(), y))
                if lines:
                    p.setPen(self._pens[level])
                    p.drawLines(lines)
        finally:
            p.restore()


TickLevels = list[tuple[Any, list[float]]]


def _axis_length(axis: Any) -> float | None:
    """Return the length in device pixels pyqtgraph's AxisItem ticks over.

    The same arithmetic as ``AxisItem.generateDrawSpecs`` (axis span, 1 px
    beyond each end), so that the grid asks for ticks with the very arguments
    the axis will use and both share one computation.
    """
    bounds = axis.mapRectFromParent(axis.geometry())
    if axis.orientation == "left":
        span = (
            bounds.topRight() + pg.Point(-1.0, -1.0),
            bounds.bottomRight() + pg.Point(-1.0, 1.0),
        )
    else:
        span = (
            bounds.topLeft() + pg.Point(-1.0, 1.0),
            bounds.topRight() + pg.Point(1.0, 1.0),
        )
    points = [axis.mapToDevice(p) for p in span]
    if None in points:
        return None
    return float(pg.Point(points[1] - points[0]).length())


def _bounded[K, V](cache: dict[K, V], limit: int) -> dict[K, V]:
    """Return `cache`, emptied first if it holds `limit` entries."""
    if len(cache) >= limit:
        cache.clear()
    return cache


def _pen_key(pen: QPen) -> tuple[Any, ...]:
    return (pen.color().rgba(), pen.widthF(), pen.style(), pen.isCosmetic())


class _SharedAxisDrawing:
    """One recorded drawing of a time axis and its rasterised copies.

    Owned by the GUI thread.
    """

    __slots__ = ("images", "picture", "text_size")

    def __init__(self, picture: QPicture, text_size: float | None) -> None:
        self.picture = picture
        self.text_size = text_size
        # Keyed by the device rectangle's size and sub-pixel offset.
        self.images: dict[tuple[float, ...], QPixmap] = {}


class TimeAxis(pg.DateAxisItem):  # type: ignore[misc]
    """UTC date axis that can compute ticks before its first paint.

    pyqtgraph measures the tick font only when painting; the grid asks for
    ticks earlier. A live window moves the axis at every frame, and linked
    charts of one width show the very same axis: the ticks, the recorded
    drawing and its rasterised image are shared by every time axis with
    identical inputs, so N such charts lay out and rasterise their time axis
    once per frame, not N times (the image replaces Qt's per-item device
    cache, pixel for pixel). Owned by the GUI thread.
    """

    # Keyed by every input of the result (see tickValues, _picture_key; the
    # zoom levels are pyqtgraph's defaults on every TimeAxis); small, as all
    # live charts share one key per frame.
    _shared_ticks: ClassVar[dict[tuple[Any, ...], tuple[TickLevels, Any, float]]] = {}
    _shared_drawings: ClassVar[dict[tuple[Any, ...], _SharedAxisDrawing]] = {}
    _SHARED_MAX = 32
    # Set by pyqtgraph's DateAxisItem / AxisItem.
    zoomLevel: Any
    minSpacing: float
    picture: QPicture | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fontMetrics = QFontMetrics(self.font())
        self._zoom_for: dict[tuple[Any, ...], tuple[Any, float]] = {}
        self._labels: dict[tuple[float, float, Any], str] = {}
        self._text_size: float | None = None
        self._drawing: _SharedAxisDrawing | None = None
        self._metrics: QFontMetrics | None = None
        self._metrics_key = (0, 0)

    def _font_key(self) -> tuple[int, int]:
        # pyqtgraph replaces fontMetrics at every layout; measure each once.
        metrics = self.fontMetrics
        if self._metrics is not metrics:
            self._metrics = metrics
            self._metrics_key = (metrics.height(), metrics.horizontalAdvance("0"))
        return self._metrics_key

    def drawn_ticks(self) -> TickLevels:
        """Return the tick levels the axis draws for its current range."""
        length = _axis_length(self)
        if not length:
            return []
        return self.tickValues(self.range[0], self.range[1], length)

    def tickValues(self, minVal: float, maxVal: float, size: float) -> TickLevels:
        key = (minVal, maxVal, size, self.utcOffset, *self._font_key())
        found = self._shared_ticks.get(key)
        if found is None:
            levels = super().tickValues(minVal, maxVal, size)
            found = (levels, self.zoomLevel, self.minSpacing)
            _bounded(self._shared_ticks, self._SHARED_MAX)[key] = found
        # tickStrings reads the zoom level of the ticks it labels.
        self.zoomLevel, self.minSpacing = found[1], found[2]
        return found[0]

    def setZoomLevelForDensity(self, density: float) -> None:
        # pyqtgraph measures 7 example texts with the font for every call.
        key = (density, *self._font_key())
        found = self._zoom_for.get(key)
        if found is None:
            super().setZoomLevelForDensity(density)
            found = _bounded(self._zoom_for, 256)[key] = (
                self.zoomLevel,
                self.minSpacing,
            )
        self.zoomLevel, self.minSpacing = found
        self.zoomLevel.utcOffset = self.utcOffset

    def tickStrings(
        self, values: list[float], scale: float, spacing: float
    ) -> list[str]:
        # Labels scroll by unchanged: format each tick once (the format is
        # the zoom level's for that spacing).
        labels = _bounded(self._labels, 4096)
        zoom = self.zoomLevel
        missing = [v for v in values if (v, spacing, zoom) not in labels]
        if missing:
            texts = super().tickStrings(missing, scale, spacing)
            for v, text in zip(missing, texts, strict=True):
                labels[(v, spacing, zoom)] = text
        return [labels[(v, spacing, zoom)] for v in values]

    def _picture_key(self) -> tuple[Any, ...]:
        """Every input of pyqtgraph's drawing of this axis (AxisItem.paint)."""
        geometry = self.geometry()
        device = self.deviceTransform_() or QTransform()
        style = tuple(
            (name, value.key() if isinstance(value, QFont) else repr(value))
            for name, value in sorted(self.style.items())
        )
        return (
            self.orientation,
            self.range[0],
            self.range[1],
            geometry.width(),
            geometry.height(),
            device.m11(),
            device.m12(),
            device.m21(),
            device.m22(),
            _pen_key(self.pen()),
            _pen_key(self.tickPen()),
            _pen_key(self.textPen()),
            style,
            *self._font_key(),
            self.utcOffset,
            self.scale,
            self.autoSIPrefixScale,
            self.logMode,
            self.grid,
            repr(self._tickLevels),
            repr(self._tickSpacing),
            self._tickDensity,
        )

    def _updateMaxTextSize(self, x: float) -> None:
        self._text_size = x
        super()._updateMaxTextSize(x)

    def _lay_out(self) -> _SharedAxisDrawing:
        """Record the axis as pyqtgraph's AxisItem.paint does (or share)."""
        key = self._picture_key()
        drawing = self._shared_drawings.get(key)
        if drawing is None:
            self._text_size = None
            picture = QPicture()
            painter = QPainter(picture)
            try:
                if self.style["tickFont"]:
                    painter.setFont(self.style["tickFont"])
                specs = self.generateDrawSpecs(painter)
                if specs is not None:
                    self.drawPicture(painter, *specs)
            finally:
                painter.end()
            drawing = _SharedAxisDrawing(picture, self._text_size)
            # Bound on insert, never on lookup: emptying the cache between
            # two linked charts' lookups would unshare their drawing.
            _bounded(self._shared_drawings, self._SHARED_MAX)[key] = drawing
        elif drawing.text_size is not None:
            # What laying out would have told the axis about its labels (it
            # resets self.picture, so before setting it below).
            self._updateMaxTextSize(drawing.text_size)
        self.picture = drawing.picture
        return drawing

    def paint(
        self,
        p: QPainter,
        opt: QStyleOptionGraphicsItem | None = None,
        widget: QWidget | None = None,
    ) -> None:
        if self.picture is None or self._drawing is None:
            self._drawing = self._lay_out()
        to_device = p.transform()
        if to_device.type().value > QTransform.TransformationType.TxTranslate.value:
            self._drawing.picture.play(p)  # scaled (high DPI, export): as is
            return
        # Rasterise once per sub-pixel offset, with the 1 px margin Qt's
        # device cache keeps (the axis line ends 1 px beyond the item).
        exact = to_device.mapRect(self.boundingRect())
        rect = exact.toAlignedRect().adjusted(-1, -1, 1, 1)
        key = (rect.width(), rect.height(), exact.x() - rect.x(), exact.y() - rect.y())
        image = self._drawing.images.get(key)
        if image is None:
            image = QPixmap(rect.size())
            image.fill(Qt.GlobalColor.transparent)
            painter = QPainter(image)
            try:
                painter.setRenderHints(p.renderHints())
                painter.setTransform(
                    to_device * QTransform.fromTranslate(-rect.x(), -rect.y())
                )
                self._drawing.picture.play(painter)
            finally:
                painter.end()
            _bounded(self._drawing.images, 8)[key] = image
        p.save()
        try:
            p.resetTransform()
            p.drawPixmap(rect.topLeft(), image)
        finally:
            p.restore()


class ValueAxis(pg.AxisItem):  # type: ignore[misc]
    """Left axis whose log mode labels decades and a few readable minor ticks.

    pyqtgraph labels every 2..9 minor tick below three decades, which overlap
    near the top of each decade. The last ticks are remembered for the grid.
    Owned by the GUI thread.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._last_ticks: tuple[tuple[Any, ...], TickLevels] | None = None

    def drawn_ticks(self) -> TickLevels:
        """Return the tick levels the axis computes for its current range."""
        length = _axis_length(self)
        if not length:
            return []
        return self.tickValues(self.range[0], self.range[1], length)

    def tickValues(self, minVal: float, maxVal: float, size: float) -> TickLevels:
        key = (
            minVal,
            maxVal,
            size,
            self.logMode,
            self.scale,
            repr(self._tickSpacing),
            self._tickDensity,
        )
        if self._last_ticks is None or self._last_ticks[0] != key:
            self._last_ticks = (key, super().tickValues(minVal, maxVal, size))
        return self._last_ticks[1]

    def logTickValues(
        self,
        minVal: float,
        maxVal: float,
        size: float,
        stdTicks: list[tuple[float, list[float]]],
    ) -> list[tuple[float | None, list[float]]]:
        span = maxVal - minVal
        if not (math.isfinite(span) and span > 0):
            return []
        lo, hi = math.floor(minVal), math.ceil(maxVal)
        room = max(int(size / 22), 2)
        step = max(1, math.ceil(span / room))
        decades = [float(v) for v in range(lo, hi + 1) if minVal <= v <= maxVal]
        decades = [v for v in decades if int(v) % step == 0]
        if span > 3:
            return [(float(step), decades)]
        factors = (2, 5) if span > 1 else (2, 3, 5) if span > 0.4 else range(2, 10)
        minor = [
            v + math.log10(f)
            for v in range(lo, hi)
            for f in factors
            if minVal < v + math.log10(f) < maxVal
        ]
        return [(1.0, decades), (None, minor)]


#: Width of the reference-line labels' axis ("S5" at 8 pt, a tick and margins).
REFERENCE_AXIS_WIDTH = 28
_REFERENCE_TICK = 4.0


class ReferenceAxis(pg.AxisItem):  # type: ignore[misc]
    """Right axis naming a chart's reference lines (NOAA S1-S5), outside the plot.

    Labels inside the plot crowded its right edge, where the newest data
    are, and each other on a short chart. Here each line gets a coloured
    tick; a label is drawn only where it does not touch the one below it
    (lowest first: on a short chart S1, S3 and S5 keep theirs), and a label
    at the edge is moved inside the axis rather than dropped. Overrides
    ``generateDrawSpecs`` and ``drawPicture``. Owned by the GUI thread.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._marks: list[tuple[float, str, QColor]] = []
        self._drawn: list[tuple[str, QRectF]] = []
        self._colors: dict[str, QColor] = {}

    def set_marks(self, marks: list[tuple[float, str, QColor]]) -> None:
        """Set (position in view units, label, colour) of every reference line."""
        self._marks = sorted(marks, key=lambda m: m[0])
        self._colors = {label: color for _pos, label, color in self._marks}
        self.picture = None
        self.update()

    def marks(self) -> list[tuple[float, str, QColor]]:
        return list(self._marks)

    def drawn_labels(self) -> list[tuple[str, QRectF]]:
        """Return the labels drawn at the last paint and their rects (axis pixels)."""
        return list(self._drawn)

    def label_layout(self, font: QFont | None = None) -> list[tuple[str, QRectF]]:
        """Return the labels that fit and where (axis pixels), lowest line first."""
        bounds = self._area()
        lo, hi = self.range
        span = hi - lo
        if not self._marks or not span or bounds.height() <= 0:
            return []
        metrics = QFontMetrics(font if font is not None else self.font())
        height = float(metrics.height())
        left = _REFERENCE_TICK + 2.0
        kept: list[tuple[str, QRectF]] = []
        for pos, label, _color in self._marks:
            if not lo <= pos <= hi:
                continue
            y = bounds.top() + (hi - pos) / span * bounds.height()
            top = min(max(y - height / 2, bounds.top()), bounds.bottom() - height)
            rect = QRectF(
                bounds.left() + left,
                top,
                float(metrics.horizontalAdvance(label)) + 2.0,
                height,
            )
            # Going up the chart: a label must clear the one below it.
            if kept and rect.bottom() + 1.0 > kept[-1][1].top():
                continue
            kept.append((label, rect))
        return kept

    def _area(self) -> QRectF:
        """Return the axis's own rectangle (its bounding rect reaches past it)."""
        return QRectF(self.mapRectFromParent(self.geometry()))

    def generateDrawSpecs(self, p: QPainter) -> tuple[Any, ...]:
        bounds = self._area()
        pen = self.pen()
        axis_spec = (pen, bounds.topLeft(), bounds.bottomLeft())
        lo, hi = self.range
        span = hi - lo
        ticks = []
        for pos, _label, color in self._marks:
            if span and lo <= pos <= hi:
                y = bounds.top() + (hi - pos) / span * bounds.height()
                ticks.append(
                    (
                        QPen(color, 1.0),
                        QPointF(bounds.left(), y),
                        QPointF(bounds.left() + _REFERENCE_TICK, y),
                    )
                )
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        font = self.style["tickFont"]
        self._drawn = self.label_layout(font)
        texts = [
            (rect, flags | Qt.TextFlag.TextDontClip, label)
            for label, rect in self._drawn
        ]
        return axis_spec, ticks, texts

    def drawPicture(
        self,
        p: QPainter,
        axisSpec: tuple[Any, ...],
        tickSpecs: list[Any],
        textSpecs: list[Any],
    ) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        pen, p1, p2 = axisSpec
        p.setPen(pen)
        p.drawLine(p1, p2)
        for tick_pen, a, b in tickSpecs:
            p.setPen(tick_pen)
            p.drawLine(a, b)
        if self.style["tickFont"] is not None:
            p.setFont(self.style["tickFont"])
        for rect, flags, text in textSpecs:
            p.setPen(self._colors.get(text, self.textPen().color()))
            p.drawText(rect, int(flags), text)
