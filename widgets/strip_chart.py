"""Time-series strip chart: named series against UTC time, limit bands, spans.

Owns the min/max-per-pixel decimation (`peak_decimate`) that every drawn curve
goes through, the follow-live/paused state and the X links between charts.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QToolButton, QWidget

from widgets.levels import Level, palette

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from numpy.typing import ArrayLike, NDArray
    from PySide6.QtGui import QResizeEvent, QShowEvent
    from PySide6.QtWidgets import QStyleOptionGraphicsItem

    FloatArray = NDArray[np.float64]

#: Series closer together than this many median sample intervals are joined.
AUTO_GAP_FACTOR = 3.0
_RANGE_SETTLE_MS = 150
_LEFT_AXIS_WIDTH = 54
_EMPTY = np.empty(0, dtype=np.float64)


def peak_decimate(
    t: FloatArray,
    y: FloatArray,
    t0: float,
    t1: float,
    columns: int,
    gap_s: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Reduce sorted samples to what `columns` pixel columns over [t0, t1] can show.

    Keeps the samples in view plus one beyond each edge. If more than two per
    column remain, each column becomes its (max, min) pair in time bins, so a
    single-sample spike anywhere (including the newest sample) is always drawn.
    NaN values in `y` are skipped inside a column; an all-NaN column draws as a
    break. Where consecutive samples are more than `gap_s` apart, a NaN point is
    inserted so that a ``connect="finite"`` curve shows the gap.

    Returns new arrays (x, y); the inputs are never modified.
    """
    n = t.size
    if n == 0:
        return _EMPTY, _EMPTY
    i0 = max(int(np.searchsorted(t, t0, "left")) - 1, 0)
    i1 = min(int(np.searchsorted(t, t1, "right")) + 1, n)
    ts = t[i0:i1]
    ys = y[i0:i1]
    m = ts.size
    columns = max(int(columns), 1)
    if m <= 2 * columns:
        if gap_s is not None and m > 1:
            cut = np.flatnonzero(np.diff(ts) > gap_s) + 1
            if cut.size:
                mid = 0.5 * (ts[cut - 1] + ts[cut])
                return np.insert(ts, cut, mid), np.insert(ys, cut, np.nan)
        return ts.copy(), ys.copy()

    # Bin starts: the out-of-view edge samples get bins of their own so that
    # the line leaves the view in the right direction without widening the
    # envelope of the edge columns.
    edges = t0 + (t1 - t0) * (np.arange(1, columns, dtype=np.float64) / columns)
    starts: NDArray[np.intp] = np.concatenate(
        (
            np.array([0, np.searchsorted(ts, t0, "left")], dtype=np.intp),
            np.searchsorted(ts, edges, "left"),
            np.array([np.searchsorted(ts, t1, "right")], dtype=np.intp),
        )
    )
    starts = starts[starts < m]
    starts = starts[np.concatenate(([True], np.diff(starts) > 0))]
    xs = np.repeat(ts[starts], 2)
    out = np.empty(xs.size, dtype=np.float64)
    out[0::2] = np.fmax.reduceat(ys, starts)
    out[1::2] = np.fmin.reduceat(ys, starts)
    if gap_s is not None and starts.size > 1:
        later = starts[1:]
        j = np.flatnonzero(ts[later] - ts[later - 1] > gap_s) + 1
        if j.size:
            mid = 0.5 * (ts[starts[j] - 1] + ts[starts[j]])
            xs = np.insert(xs, 2 * j, mid)
            out = np.insert(out, 2 * j, np.nan)
    return xs, out


def auto_gap(t: FloatArray) -> float | None:
    """Return a gap threshold from the median spacing of the newest 1000 samples."""
    if t.size < 3:
        return None
    step = float(np.median(np.diff(t[-1001:])))
    return AUTO_GAP_FACTOR * step if step > 0 else None


def _log10(y: FloatArray) -> FloatArray:
    out = np.full(y.shape, np.nan)
    np.log10(y, out=out, where=y > 0)
    return out


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


@dataclass(slots=True)
class _Series:
    """Samples and curve of one named series. Owned by the GUI thread."""

    t: FloatArray
    y: FloatArray
    curve: Any
    gap_s: float | None


class _RegionItem(pg.UIGraphicsItem):  # type: ignore[misc]
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


class _GridItem(pg.UIGraphicsItem):  # type: ignore[misc]
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
        bottom = self._plot.getAxis("bottom")
        left = self._plot.getAxis("left")
        x_levels = bottom.tickValues(view.left(), view.right(), device.width())
        y_levels = left.tickValues(view.top(), view.bottom(), device.height())
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


class _TimeAxis(pg.DateAxisItem):  # type: ignore[misc]
    """UTC date axis that can compute ticks before its first paint.

    pyqtgraph measures the tick font only when painting; the grid asks for
    ticks earlier. Owned by the GUI thread.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fontMetrics = QFontMetrics(self.font())


class _ValueAxis(pg.AxisItem):  # type: ignore[misc]
    """Left axis whose log mode labels decades and a few readable minor ticks.

    pyqtgraph labels every 2..9 minor tick below three decades, which overlap
    near the top of each decade. Owned by the GUI thread.
    """

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


class _LinkGroup:
    """Charts that share one time range and one live/paused state.

    Owned by the GUI thread.
    """

    def __init__(self) -> None:
        self.members: weakref.WeakSet[StripChart] = weakref.WeakSet()
        self.syncing = False

    def alive(self) -> list[StripChart]:
        return [c for c in self.members if shiboken6.isValid(c)]


class StripChart(pg.PlotWidget):  # type: ignore[misc]
    """Strip chart of named time series (UTC epoch seconds) with limit bands.

    Follows live data with a sliding window (`set_now`, `set_window`) until the
    user pans or zooms; then it pauses, emits ``paused_changed(True)`` and,
    once the range settles, ``view_range_changed(t0, t1)`` so the console can
    fetch history. The button at the top right (or `set_live(True)`) resumes.
    Every curve is decimated to min/max per pixel column by `peak_decimate`.
    The chart keeps references to the arrays it is given: pass arrays that the
    caller will not modify later (e.g. the copy a ring buffer's window returns).

    Owned by the GUI thread.
    """

    paused_changed = Signal(bool)
    view_range_changed = Signal(float, float)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        title: str = "",
        unit: str = "",
        window_s: float = 300.0,
    ) -> None:
        pal = palette()
        axis = _TimeAxis(orientation="bottom", utcOffset=0)
        super().__init__(
            parent,
            background=pal.theme["plot_bg"],
            axisItems={"bottom": axis, "left": _ValueAxis(orientation="left")},
        )
        self._series: dict[str, _Series] = {}
        self._dirty: set[str] = set()
        self._window_s = float(window_s)
        self._now: float | None = None
        self._live = True
        self._log_y = False
        self._bands: dict[Level, tuple[float | None, float | None]] = {}
        self._refs: list[ReferenceLine] = []
        self._ref_items: list[Any] = []
        self._band_items: list[Any] = []
        self._group = _LinkGroup()
        self._group.members.add(self)

        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        self._vb = item.getViewBox()
        self._vb.setMouseEnabled(x=True, y=False)
        self._vb.disableAutoRange(axis="x")
        self._vb.enableAutoRange(axis="y")
        # pyqtgraph's own grid (semi-transparent axis tick lines) was 3/4 of
        # the paint time of a chart here; _GridItem draws the same lines opaque.
        self._grid = _GridItem(item)
        self._grid.setZValue(-30)
        item.addItem(self._grid, ignoreBounds=True)
        for name in ("left", "bottom"):
            ax = item.getAxis(name)
            ax.setPen(pg.mkPen(pal.theme["grid"]))
            ax.setTextPen(pg.mkPen(pal.theme["text_dim"]))
            ax.setStyle(maxTickLevel=1)
            # Rasterise the axis (text is the costly part of a software paint)
            # and blit it until its ticks change: 2.5x faster frames, measured.
            ax.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        left = item.getAxis("left")
        left.setWidth(_LEFT_AXIS_WIDTH)
        left.enableAutoSIPrefix(False)
        if unit:
            left.setLabel(unit, color=pal.theme["text_dim"])
        if title:
            item.setTitle(title, color=pal.theme["text_dim"], size="9pt")
        self._legend = item.addLegend(
            offset=(6, 4),
            brush=QColor(pal.theme["panel"]),
            pen=pg.mkPen(pal.theme["border"]),
            labelTextColor=pal.theme["text"],
            labelTextSize="8pt",
            verSpacing=-6,
        )
        self._legend.setVisible(False)

        self._bands_fill = _RegionItem(vertical=False)
        self._spans_fill = _RegionItem(vertical=True)
        for z, region in ((-20, self._spans_fill), (-15, self._bands_fill)):
            region.setZValue(z)
            item.addItem(region, ignoreBounds=True)

        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(0)
        self._redraw.timeout.connect(self.flush)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(_RANGE_SETTLE_MS)
        self._settle.timeout.connect(self._emit_view_range)

        self._vb.sigXRangeChanged.connect(self._on_x_range)
        self._vb.sigResized.connect(self._mark_all_dirty)
        self._vb.sigRangeChangedManually.connect(self._on_user_range)

        self._live_button = QToolButton(self)
        self._live_button.setObjectName("liveButton")
        self._live_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self._live_button.clicked.connect(self._on_live_clicked)
        self._update_live_button()

    # ---- series -------------------------------------------------------------

    def set_series(
        self,
        name: str,
        t: ArrayLike,
        y: ArrayLike,
        *,
        color: str | QColor | None = None,
        gap_s: float | None = None,
    ) -> None:
        """Show samples (t ascending, UTC epoch seconds) as series `name`.

        `gap_s`: samples further apart than this are not joined; by default
        `AUTO_GAP_FACTOR` times the median sample spacing.
        """
        ta = np.asarray(t, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        if ta.shape != ya.shape or ta.ndim != 1:
            raise ValueError(f"series {name!r}: t and y must be 1-D of equal length")
        series = self._series.get(name)
        if series is None:
            pen_color = color if color is not None else self._next_color()
            curve = pg.PlotCurveItem(name=name, pen=pg.mkPen(pen_color, width=1))
            self.getPlotItem().addItem(curve)
            series = _Series(ta, ya, curve, gap_s)
            self._series[name] = series
            self._legend.setVisible(len(self._series) > 1)
        else:
            series.t, series.y = ta, ya
            if gap_s is not None:
                series.gap_s = gap_s
            if color is not None:
                series.curve.setPen(pg.mkPen(color, width=1))
        if self._live and self._now is None:
            self._follow()
        self._dirty.add(name)
        self._schedule()

    def remove_series(self, name: str) -> None:
        """Remove series `name` (no error if absent)."""
        series = self._series.pop(name, None)
        if series is not None:
            self.getPlotItem().removeItem(series.curve)
            self._dirty.discard(name)
            self._legend.setVisible(len(self._series) > 1)

    def clear_series(self) -> None:
        """Remove every series."""
        for name in list(self._series):
            self.remove_series(name)

    def series_names(self) -> list[str]:
        """Return the names of the series shown, in the order they were added."""
        return list(self._series)

    def displayed_data(self, name: str) -> tuple[FloatArray, FloatArray]:
        """Return the points drawn for `name`: decimated, NaN gaps, log10 if log-y."""
        self.flush()
        x, y = self._series[name].curve.getData()
        if x is None:
            return _EMPTY, _EMPTY
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    def visible_data(self) -> dict[str, tuple[FloatArray, FloatArray]]:
        """Return raw samples of every series inside the visible time range (copies).

        This is what a CSV export of "what I am looking at" should write.
        """
        t0, t1 = self.time_range()
        out: dict[str, tuple[FloatArray, FloatArray]] = {}
        for name, s in self._series.items():
            i0 = int(np.searchsorted(s.t, t0, "left"))
            i1 = int(np.searchsorted(s.t, t1, "right"))
            out[name] = (s.t[i0:i1].copy(), s.y[i0:i1].copy())
        return out

    # ---- time axis, live and paused -----------------------------------------

    def set_now(self, t: float) -> None:
        """Set the current time, the live right edge (wall or replay clock)."""
        self._now = float(t)
        if self._live:
            self._follow()

    def set_window(self, seconds: float) -> None:
        """Set the width of the live window in seconds (for linked charts too)."""
        if not seconds > 0:
            raise ValueError("window must be positive")
        for chart in self._group.alive():
            chart._window_s = float(seconds)
        if self._live:
            self._follow()

    def window(self) -> float:
        """Return the width of the live window in seconds."""
        return self._window_s

    def time_range(self) -> tuple[float, float]:
        """Return the visible (t0, t1) in UTC epoch seconds."""
        lo, hi = self._vb.viewRange()[0]
        return float(lo), float(hi)

    def set_time_range(self, t0: float, t1: float) -> None:
        """Show [t0, t1] and pause (linked charts follow)."""
        if not t1 > t0:
            raise ValueError("t1 must be after t0")
        self._set_live_group(False)
        self._vb.setXRange(t0, t1, padding=0)

    def is_live(self) -> bool:
        """Tell whether the chart follows live data."""
        return self._live

    def set_live(self, live: bool) -> None:
        """Resume following live data (True) or pause (False); linked charts too."""
        self._set_live_group(live)
        if live:
            for chart in self._group.alive():
                chart._follow()

    def link_x(self, other: StripChart) -> None:
        """Share time range, live window and live/paused state with `other`.

        `other` brings its own links along; all take this chart's state.
        """
        if other._group is self._group:
            return
        for chart in other._group.alive():
            chart._group = self._group
            self._group.members.add(chart)
        t0, t1 = self.time_range()
        for chart in self._group.alive():
            chart._window_s = self._window_s
            chart._set_live_local(self._live)
            if chart is not self:
                chart._vb.setXRange(t0, t1, padding=0)

    def unlink_x(self) -> None:
        """Leave the link group; the chart keeps its range and state."""
        self._group.members.discard(self)
        self._group = _LinkGroup()
        self._group.members.add(self)

    def linked_charts(self) -> list[StripChart]:
        """Return the other charts this one is linked with."""
        return [c for c in self._group.alive() if c is not self]

    # ---- Y axis ---------------------------------------------------------------

    def set_log_y(self, on: bool) -> None:
        """Switch the Y axis to log scale (values <= 0 are not drawn) or back."""
        if on == self._log_y:
            return
        self._log_y = on
        self.getPlotItem().getAxis("left").setLogMode(False, on)
        self._rebuild_lines()
        self._mark_all_dirty()

    def is_log_y(self) -> bool:
        """Tell whether the Y axis is logarithmic."""
        return self._log_y

    def set_y_range(self, low: float | None, high: float | None) -> None:
        """Fix the Y range in data units, or auto-range to the data with None."""
        if low is None or high is None:
            self._vb.enableAutoRange(axis="y")
            return
        lo, hi = self._map_y(low), self._map_y(high)
        if lo is None or hi is None:
            raise ValueError("log axis range must be positive")
        self._vb.setYRange(lo, hi, padding=0)

    # ---- limit bands, reference lines, spans -------------------------------

    def set_bands(
        self, bands: Mapping[Level, tuple[float | None, float | None]]
    ) -> None:
        """Draw limit lines per level: below `low` or above `high` is that level.

        Dashed lines at each limit in the level colour; the region beyond each
        limit up to the next more severe one is tinted faintly. None: no limit
        on that side. An empty mapping removes the bands.
        """
        self._bands = {lvl: lim for lvl, lim in bands.items() if lim != (None, None)}
        self._rebuild_lines()

    def set_reference_lines(
        self, lines: Iterable[ReferenceLine | tuple[float, str]]
    ) -> None:
        """Draw labelled horizontal lines, e.g. ``[(10.0, "S1"), (100.0, "S2")]``."""
        self._refs = [
            line if isinstance(line, ReferenceLine) else ReferenceLine(*line)
            for line in lines
        ]
        self._rebuild_lines()

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

    # ---- internals -----------------------------------------------------------

    def _next_color(self) -> QColor:
        return palette().series_color(len(self._series))

    def _map_y(self, value: float) -> float | None:
        if not self._log_y:
            return value
        return math.log10(value) if value > 0 else None

    def _rebuild_lines(self) -> None:
        item = self.getPlotItem()
        for line in self._band_items + self._ref_items:
            item.removeItem(line)
        self._band_items, self._ref_items = [], []

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
        for ref in self._refs:
            pos = self._map_y(ref.value)
            if pos is None:
                continue
            color = ref.level.color if ref.level is not None else dim
            line = pg.InfiniteLine(
                pos=pos,
                angle=0,
                pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DotLine),
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

    def _follow(self) -> None:
        right = self._now
        if right is None:
            ends = [float(s.t[-1]) for s in self._series.values() if s.t.size]
            if not ends:
                return
            right = max(ends)
        self._vb.setXRange(right - self._window_s, right, padding=0)

    def _set_live_local(self, live: bool) -> None:
        if live == self._live:
            return
        self._live = live
        self._update_live_button()
        if not live:
            self._settle.start()
        self.paused_changed.emit(not live)

    def _set_live_group(self, live: bool) -> None:
        for chart in self._group.alive():
            chart._set_live_local(live)

    def _on_user_range(self, _mask: object) -> None:
        self._set_live_group(False)

    def _on_live_clicked(self) -> None:
        self.set_live(not self._live)

    def _on_x_range(self, _vb: object, rng: tuple[float, float]) -> None:
        self._mark_all_dirty()
        if not self._live:
            self._settle.start()
        group = self._group
        if group.syncing:
            return
        group.syncing = True
        try:
            for chart in group.alive():
                if chart is not self:
                    chart._vb.setXRange(rng[0], rng[1], padding=0)
        finally:
            group.syncing = False

    def _emit_view_range(self) -> None:
        if not self._live:
            t0, t1 = self.time_range()
            self.view_range_changed.emit(t0, t1)

    def _mark_all_dirty(self, *_args: object) -> None:
        self._dirty.update(self._series)
        self._schedule()

    def _schedule(self) -> None:
        # A hidden chart (e.g. in another tab) decimates nothing until shown.
        if self.isVisible():
            self._redraw.start()

    def _columns(self) -> int:
        width = float(self._vb.width()) * self.devicePixelRatioF()
        return max(int(width), 64)

    def flush(self) -> None:
        """Decimate and draw pending changes now.

        Changes are otherwise drawn on the next turn of the event loop (or when
        the chart is shown), so that a refresh that moves the window and updates
        every series decimates each series once, and hidden charts cost nothing.
        """
        self._redraw.stop()
        if not self._dirty:
            return
        t0, t1 = self.time_range()
        columns = self._columns()
        for name in self._dirty:
            s = self._series.get(name)
            if s is None:
                continue
            gap = s.gap_s if s.gap_s is not None else auto_gap(s.t)
            x, y = peak_decimate(s.t, s.y, t0, t1, columns, gap)
            if self._log_y:
                y = _log10(y)
            s.curve.setData(x=x, y=y, connect="finite")
        self._dirty.clear()
        if self._vb.autoRangeEnabled()[1] is not False:
            # Range Y now rather than during the next paint, which would draw
            # one frame with the old range.
            self._vb.updateAutoRange()

    def _update_live_button(self) -> None:
        button = self._live_button
        if self._live:
            button.setText("● LIVE")
            button.setToolTip("Following live data. Drag or scroll the plot to pause.")
        else:
            button.setText("❚❚ PAUSED · resume live")
            button.setToolTip("Paused on a time range. Click to follow live data.")
        button.setProperty("paused", not self._live)
        style = button.style()
        style.unpolish(button)
        style.polish(button)
        button.adjustSize()
        self._place_live_button()

    def _place_live_button(self) -> None:
        button = self._live_button
        button.move(self.width() - button.width() - 8, 4)

    def showEvent(self, ev: QShowEvent) -> None:
        super().showEvent(ev)
        if self._dirty:
            self._redraw.start()

    def resizeEvent(self, ev: QResizeEvent | None) -> None:
        super().resizeEvent(ev)
        # pyqtgraph resizes during its own __init__, before the button exists.
        if "_live_button" in self.__dict__:
            self._place_live_button()
