"""Time-series strip chart: named series against UTC time, one unit per Y axis.

The chart owns the follow-live/paused state, the X links between charts, the
Y range (auto, locked or typed) and its context menu. What it is built from:
`widgets.decimation` (Qt-free min/max decimation), `widgets.chart_curve` (one
series), `widgets.chart_axes` (axes and grid: all of pyqtgraph's private API),
`widgets.chart_marks` (limit bands, reference lines, spans) and
`widgets.chart_cursor` (the hover cursor with every series' value).
About 800 lines, one concept: the state a chart keeps between frames (live
or paused, linked X, Y mode, what is dirty) and the one-paint-per-update
scheduling that `kibo-console bench gui` measures, which must stay together.
"""

from __future__ import annotations

import math
import re
import weakref
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QPoint,
    QPointF,
    QRectF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem, QInputDialog, QMenu, QToolButton, QWidget

from widgets.chart_axes import (
    REFERENCE_AXIS_WIDTH,
    GridItem,
    ReferenceAxis,
    TimeAxis,
    ValueAxis,
)
from widgets.chart_cursor import ChartCursor, CursorReading
from widgets.chart_curve import Curve
from widgets.chart_legend import LegendFit
from widgets.chart_marks import ChartMarks, ReferenceLine, Span
from widgets.decimation import AUTO_GAP_FACTOR, PeakCache, auto_gap, peak_decimate
from widgets.levels import Level, palette
from widgets.plain_text import markup

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from numpy.typing import ArrayLike, NDArray
    from PySide6.QtGui import QResizeEvent, QShowEvent

    FloatArray = NDArray[np.float64]

__all__ = [
    "AUTO_GAP_FACTOR",
    "PeakCache",
    "ReferenceLine",
    "Span",
    "StripChart",
    "UnitMismatchError",
    "auto_gap",
    "parse_y_range",
    "peak_decimate",
]

_RANGE_SETTLE_MS = 150
_LEFT_AXIS_WIDTH = 54
_EMPTY = np.empty(0, dtype=np.float64)
_FLUSH_EVENT = QEvent.Type(QEvent.registerEventType())
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def parse_y_range(text: str, *, log: bool = False) -> tuple[float, float]:
    """Read a typed Y range: two numbers, e.g. ``150 to 170`` or ``1e-2, 1e3``.

    Raises ValueError saying what was wrong (one line).
    """
    numbers = _NUMBER.findall(text)
    if len(numbers) != 2:
        raise ValueError(f"expected two numbers (low to high), got {text.strip()!r}")
    low, high = sorted(float(n) for n in numbers)
    if not high > low:
        raise ValueError(f"low and high must differ, got {low:g} twice")
    if log and low <= 0:
        raise ValueError(f"a logarithmic axis needs values above 0, got {low:g}")
    return low, high


class UnitMismatchError(ValueError):
    """A series whose unit is not the chart's Y axis unit; any thread."""


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
    `set_series` keeps references to the arrays it is given: pass arrays that
    the caller will not modify later (e.g. the copy a ring buffer's window
    returns). `append_series` copies the new samples; fed only with what is new
    at each refresh, the chart re-decimates only the newest pixel columns.
    `flush` then makes the next paint show every change at once.

    Owned by the GUI thread.
    """

    paused_changed = Signal(bool)
    view_range_changed = Signal(float, float)
    #: True: Y follows the data again; False: Y locked to a fixed range.
    y_mode_changed = Signal(bool)
    #: A right-click's menu, before it shows: the owner may add entries.
    menu_requested = Signal(QMenu)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        title: str = "",
        unit: str = "",
        window_s: float = 300.0,
    ) -> None:
        pal = palette()
        axis = TimeAxis(orientation="bottom", utcOffset=0)
        super().__init__(
            parent,
            background=pal.theme["plot_bg"],
            axisItems={
                "bottom": axis,
                "left": ValueAxis(orientation="left"),
                "right": ReferenceAxis(orientation="right"),
            },
        )
        # The scene's background brush (opaque plot_bg) covers every pixel:
        # without this Qt also fills the viewport with its palette first, at
        # every paint (~60 us per chart, measured).
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._series: dict[str, Curve] = {}
        self._dirty: set[str] = set()
        self._window_s = float(window_s)
        self._now: float | None = None
        self._live = True
        self._log_y = False
        self._unit = unit
        self._follow_label = "LIVE"
        self._group = _LinkGroup()
        self._group.members.add(self)

        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        self._vb = item.getViewBox()
        self._vb.setMouseEnabled(x=True, y=False)
        # The chart ranges Y itself (_range_y): pyqtgraph's auto-range walks
        # every item's bounds again at each paint.
        self._vb.disableAutoRange()
        self._auto_y = True
        self._y_fixed: tuple[float, float] | None = None
        self._y_asked: tuple[float, float] | None = None
        # pyqtgraph's own grid (semi-transparent axis tick lines) was 3/4 of
        # the paint time of a chart here; _GridItem draws the same lines opaque.
        self._grid = GridItem(item)
        self._grid.setZValue(-30)
        item.addItem(self._grid, ignoreBounds=True)
        for name in ("left", "bottom", "right"):
            ax = item.getAxis(name)
            ax.setPen(pg.mkPen(pal.theme["grid"]))
            ax.setTextPen(pg.mkPen(pal.theme["text_dim"]))
            ax.setStyle(maxTickLevel=1)
        # Rasterise the value axis (text is the costly part of a software
        # paint) and blit it until its ticks change: 2.5x faster frames,
        # measured. The time axis keeps an image of its own, shared.
        item.getAxis("left").setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # An axis given to pyqtgraph is shown: the reference axis only
        # appears with reference lines (_show_right_axis).
        item.hideAxis("right")
        for name in ("top", "right"):
            # Hidden, but linked to the view they re-laid out their (HTML)
            # labels at every range change: half the cost of sliding the
            # window, measured. Link them again before showing them.
            item.getAxis(name).unlinkFromView()
        left = item.getAxis("left")
        left.setWidth(_LEFT_AXIS_WIDTH)
        left.enableAutoSIPrefix(False)
        if unit:
            left.setLabel(unit, color=pal.theme["text_dim"])
        if title:
            # pyqtgraph titles are HTML: shown literally.
            item.setTitle(markup(title), color=pal.theme["text_dim"], size="9pt")
        self._legend = item.addLegend(
            offset=(6, 4),
            brush=QColor(pal.theme["panel"]),
            pen=pg.mkPen(pal.theme["border"]),
            labelTextColor=pal.theme["text"],
            labelTextSize="8pt",
            verSpacing=-6,
        )
        self._legend.setVisible(False)
        self._legend_on = True
        self._legend_fit = LegendFit(self._legend, item.getViewBox(), self)

        self._marks = ChartMarks(item, self._map_y, item.getAxis("right"))

        self._flush_posted = False
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(_RANGE_SETTLE_MS)
        self._settle.timeout.connect(self._emit_view_range)

        self._vb.sigXRangeChanged.connect(self._on_x_range)
        self._vb.sigResized.connect(self._mark_all_dirty)
        self._vb.sigResized.connect(self._legend_fit.fit)
        self._vb.sigResized.connect(self._marks.fit_labels)
        self._vb.sigYRangeChanged.connect(self._marks.fit_labels)
        self._vb.sigRangeChangedManually.connect(self._on_user_range)

        self._live_button = QToolButton(self)
        self._live_button.setObjectName("liveButton")
        self._live_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self._live_button.clicked.connect(self._on_live_clicked)
        self._update_live_button()

        self._cursor = ChartCursor(self, item)
        self._format_value: Callable[[str, float], str] | None = None
        # Where the mouse is over this chart's plot (scene coordinates).
        self._pointer: QPointF | None = None
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_menu)

    # ---- series -------------------------------------------------------------

    def set_series(
        self,
        name: str,
        t: ArrayLike,
        y: ArrayLike,
        *,
        color: str | QColor | None = None,
        gap_s: float | None = None,
        unit: str | None = None,
    ) -> None:
        """Show samples (t ascending, UTC epoch seconds) as series `name`.

        Replaces what the series held. `gap_s`: samples further apart than this
        are not joined; by default `AUTO_GAP_FACTOR` times the median sample
        spacing. `unit`: the series' unit, which must be the Y axis's (see
        `accepts_unit`; None: the axis's). For a live feed prefer
        `append_series`.
        """
        ta, ya = self._arrays(name, t, y)
        self._series_for(name, color, gap_s, unit).replace(ta, ya)
        self._changed(name)

    def append_series(
        self,
        name: str,
        t: ArrayLike,
        y: ArrayLike,
        *,
        keep_from: float | None = None,
        color: str | QColor | None = None,
        gap_s: float | None = None,
        unit: str | None = None,
    ) -> None:
        """Add samples that follow those of series `name` in time (created if absent).

        The cheap way to feed live data: the chart copies only the new samples
        and re-decimates only the pixel columns they reach, instead of all the
        samples of the window at every refresh. Samples older than `keep_from`
        (UTC epoch seconds) are then dropped from the front. A block that does
        not follow in time is drawn as `set_series` would draw the same
        samples, but every refresh then decimates them all, until the next
        `set_series`. `unit` as for `set_series`.
        """
        ta, ya = self._arrays(name, t, y)
        self._series_for(name, color, gap_s, unit).append(ta, ya, keep_from)
        self._changed(name)

    @staticmethod
    def _arrays(name: str, t: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
        ta = np.asarray(t, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        if ta.shape != ya.shape or ta.ndim != 1:
            raise ValueError(f"series {name!r}: t and y must be 1-D of equal length")
        return ta, ya

    def unit(self) -> str:
        """Return the unit of the Y axis ("" when unitless or not yet set)."""
        return self._unit

    def accepts_unit(self, unit: str) -> bool:
        """Tell whether a series in `unit` may join this chart's Y axis.

        One axis, one unit: a chart without series takes the unit of its
        first one; after that only series in the same unit join it.
        """
        return unit == self._unit or not self._series

    def _series_for(
        self,
        name: str,
        color: str | QColor | None,
        gap_s: float | None,
        unit: str | None,
    ) -> Curve:
        series = self._series.get(name)
        if series is None:
            if unit is not None and unit != self._unit:
                if self._series:
                    raise UnitMismatchError(
                        f"series {name!r} is in {unit or 'no unit'} but this "
                        f"chart's Y axis is in {self._unit or 'no unit'}: "
                        "a series of another unit needs a chart of its own"
                    )
                self.set_unit(unit)
            pen_color = color if color is not None else self._next_color()
            series = Curve(name, pen_color, gap_s, self._unit)
            self.getPlotItem().addItem(series.item)
            self._series[name] = series
            self._fit_legend()
        else:
            if gap_s is not None:
                series.gap_s = gap_s
            if color is not None:
                series.set_color(color)
        return series

    def show_legend(self, on: bool) -> None:
        """Show the chart's legend (with two series or more), or never.

        Off when the owner names the series elsewhere (a strip above the plots).
        """
        self._legend_on = on
        self._fit_legend()

    def legend_fit(self) -> LegendFit:
        """Return what lays out and places the legend (tests read its rect)."""
        return self._legend_fit

    def _fit_legend(self) -> None:
        self._legend_fit.set_wanted(self._legend_on and len(self._series) > 1)
        self._legend_fit.fit()

    def set_unit(self, unit: str) -> None:
        """Name the Y axis's unit (only while the chart has no series of another)."""
        if any(s.unit != unit for s in self._series.values()):
            raise UnitMismatchError(
                f"cannot label the Y axis {unit or 'unitless'}: the chart shows "
                f"series in {self._unit or 'no unit'}"
            )
        self._unit = unit
        left = self.getPlotItem().getAxis("left")
        left.setLabel(unit or None, color=palette().theme["text_dim"])
        if not unit:
            left.showLabel(False)

    def _changed(self, name: str) -> None:
        if self._live and self._now is None:
            self._follow()
        self._dirty.add(name)
        self._schedule()

    def remove_series(self, name: str) -> None:
        """Remove series `name` (no error if absent)."""
        series = self._series.pop(name, None)
        if series is not None:
            self.getPlotItem().removeItem(series.item)
            self._dirty.discard(name)
            self._fit_legend()
            self._range_y()

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
        x, y = self._series[name].item.getData()
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
        self._align_right_axes()

    def unlink_x(self) -> None:
        """Leave the link group; the chart keeps its range and state."""
        self._group.members.discard(self)
        others = self._group.alive()
        self._group = _LinkGroup()
        self._group.members.add(self)
        if others:
            others[0]._align_right_axes()
        self._align_right_axes()

    def _align_right_axes(self) -> None:
        """Give every linked chart the right axis if one of them names lines there.

        Linked charts share the time axis: their plots must be equally wide,
        or one time would sit at two x positions on the screen.
        """
        charts = self._group.alive()
        show = any(c._marks.has_reference_lines() for c in charts)
        for chart in charts:
            chart._show_right_axis(show)

    def _show_right_axis(self, show: bool) -> None:
        item = self.getPlotItem()
        axis = item.getAxis("right")
        if show == axis.isVisible():
            return
        if show:
            axis.linkToView(self._vb)
            axis.setWidth(REFERENCE_AXIS_WIDTH)
            item.showAxis("right")
        else:
            item.hideAxis("right")
            axis.unlinkFromView()

    def reference_labels(self) -> list[tuple[str, QRectF]]:
        """Return the reference-line labels that fit, in chart pixels (tests)."""
        axis = self.getPlotItem().getAxis("right")
        if not axis.isVisible():
            return []
        return [
            (label, QRectF(self.mapFromScene(axis.mapRectToScene(rect)).boundingRect()))
            for label, rect in axis.label_layout(axis.style["tickFont"])
        ]

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
        self._marks.rebuild()
        fixed = self._y_fixed
        if fixed is not None and self._map_y(fixed[0]) is None:
            fixed = None  # a linear range through zero has no log equivalent
        self.set_y_range(*(fixed or (None, None)))
        self._mark_all_dirty()

    def is_log_y(self) -> bool:
        """Tell whether the Y axis is logarithmic."""
        return self._log_y

    def set_y_range(self, low: float | None, high: float | None) -> None:
        """Fix the Y range in data units, or auto-range to the data with None."""
        if low is None or high is None:
            self._auto_y = True
            self._y_fixed = None
            self._y_asked = None
            self._range_y()
            self.y_mode_changed.emit(True)
            return
        if not (math.isfinite(low) and math.isfinite(high) and high > low):
            raise ValueError(f"Y range needs low < high, got {low:g} to {high:g}")
        lo, hi = self._map_y(low), self._map_y(high)
        if lo is None or hi is None:
            raise ValueError("log axis range must be positive")
        self._auto_y = False
        self._y_fixed = (float(low), float(high))
        self._vb.setYRange(lo, hi, padding=0)
        self.y_mode_changed.emit(False)

    def y_range(self) -> tuple[float, float]:
        """Return the Y range shown, in data units (10**v on a log axis)."""
        lo, hi = self._vb.viewRange()[1]
        if self._log_y:
            return 10.0 ** float(lo), 10.0 ** float(hi)
        return float(lo), float(hi)

    def is_auto_y(self) -> bool:
        """Tell whether Y follows the data (False: locked to a fixed range)."""
        return self._auto_y

    def lock_y(self) -> None:
        """Keep the Y range shown now, whatever the data do next."""
        self.flush()
        self.set_y_range(*self.y_range())

    # ---- the chart's menu -------------------------------------------------------

    def build_menu(self, parent: QWidget | None = None) -> QMenu:
        """Return the chart's own menu: Y autoscale, lock, typed range, log axis.

        A right-click shows it after ``menu_requested(menu)``, so that the
        owner can add its own entries first.
        """
        menu = QMenu(parent)
        auto = menu.addAction("Autoscale Y to the data")
        auto.setCheckable(True)
        auto.setChecked(self._auto_y)
        auto.setToolTip("Off: the Y range stays where it is now")
        auto.toggled.connect(
            lambda on: self.set_y_range(None, None) if on else self.lock_y()
        )
        lock = menu.addAction("Lock Y range as shown")
        lock.setEnabled(self._auto_y)
        lock.triggered.connect(lambda: self.lock_y())
        typed = menu.addAction("Set Y range…")
        typed.triggered.connect(lambda: self.ask_y_range())
        log = menu.addAction("Logarithmic Y axis")
        log.setCheckable(True)
        log.setChecked(self._log_y)
        log.toggled.connect(self.set_log_y)
        return menu

    def ask_y_range(self) -> None:
        """Ask for a Y range ("150 to 170"); a bad entry is said and asked again."""
        lo, hi = self.y_range()
        text = f"{lo:.6g} to {hi:.6g}"
        unit = f" ({self._unit})" if self._unit else ""
        error = ""
        while True:
            text, ok = QInputDialog.getText(
                self,
                "Y range",
                f"{error}Lowest and highest value{unit}, e.g. {lo:.4g} to {hi:.4g}:",
                text=text,
            )
            if not ok:
                return
            try:
                self.set_y_range(*parse_y_range(text, log=self._log_y))
                return
            except ValueError as exc:
                error = f"{exc}.\n"

    def _on_menu(self, pos: QPoint) -> None:
        menu = self.build_menu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.menu_requested.emit(menu)
        menu.popup(self.mapToGlobal(pos))

    # ---- hover cursor -----------------------------------------------------------

    def set_value_format(self, fmt: Callable[[str, float], str] | None) -> None:
        """Format cursor values as ``fmt(name, value)`` (None: 4 digits, unit)."""
        self._format_value = fmt

    def readings_at(self, t: float) -> list[CursorReading]:
        """Return every series' newest raw sample at or before time `t`."""
        out = []
        for name, s in self._series.items():
            gap = s.gap_s if s.gap_s is not None else auto_gap(s.t)
            found = s.sample_at(t, gap if gap is not None else math.inf)
            if found is None or not math.isfinite(found[1]):
                out.append(CursorReading(name, None, None, "no data", s.color))
                continue
            ts, v = found
            if self._format_value is not None:
                text = self._format_value(name, v)
            else:
                text = f"{v:.4g} {s.unit}".strip()  # 4 digits: a reading, not a dump
            out.append(CursorReading(name, ts, v, text, s.color))
        return out

    def show_cursor(self, t: float | None) -> None:
        """Show the cursor at time `t` here and on linked charts (None: hide)."""
        for chart in self._group.alive():
            chart._place_cursor(t)

    def cursor_time(self) -> float | None:
        """Return the time the cursor shows (None: hidden)."""
        return self._cursor.time

    def cursor_readings(self) -> list[CursorReading]:
        """Return what the cursor box shows, one reading per series."""
        return list(self._cursor.readings)

    def cursor_text(self) -> str:
        """Return the cursor box's text (rich text)."""
        return self._cursor.label.text() if self._cursor.is_shown() else ""

    def _place_cursor(self, t: float | None) -> None:
        if t is None or not math.isfinite(t):
            self._cursor.hide()
            return
        scene = self._vb.mapViewToScene(QPointF(t, 0.0))
        x = self.mapFromScene(scene).x()
        # From the chart's top edge (over the title): a short chart in a
        # crowded layout still has room for every line.
        self._cursor.show(t, self.readings_at(t), x, 2)

    def _on_mouse_moved(self, pos: QPointF) -> None:
        if self._vb.sceneBoundingRect().contains(pos):
            self._pointer = QPointF(pos)
            self.show_cursor(float(self._vb.mapSceneToView(pos).x()))
        else:
            self._pointer = None
            if self._cursor.is_shown():
                self.show_cursor(None)

    def leaveEvent(self, ev: QEvent) -> None:
        super().leaveEvent(ev)
        self._pointer = None
        if self._cursor.is_shown():
            self.show_cursor(None)

    # ---- limit bands, reference lines, spans -------------------------------

    def set_bands(
        self, bands: Mapping[Level, tuple[float | None, float | None]]
    ) -> None:
        """Draw limit lines per level: below `low` or above `high` is that level.

        Dashed lines at each limit in the level colour; the region beyond each
        limit up to the next more severe one is tinted faintly. None: no limit
        on that side. An empty mapping removes the bands.
        """
        self._marks.set_bands(bands)

    def set_reference_lines(
        self, lines: Iterable[ReferenceLine | tuple[float, str]]
    ) -> None:
        """Draw labelled horizontal lines, e.g. ``[(10.0, "S1"), (100.0, "S2")]``."""
        self._marks.set_reference_lines(
            line if isinstance(line, ReferenceLine) else ReferenceLine(*line)
            for line in lines
        )
        self._align_right_axes()

    def set_spans(self, spans: Iterable[Span | tuple[float, float, Level]]) -> None:
        """Shade time intervals (t0, t1, level) across the plot; [] clears."""
        self._marks.set_spans(spans)

    def band_lines(self) -> list[tuple[float, Level]]:
        """Return the limit lines drawn now as (value in data units, level)."""
        return self._marks.band_lines()

    def band_labels(self) -> list[tuple[str, bool]]:
        """Return each limit line's label and whether it is shown (not crowded)."""
        return self._marks.band_labels()

    def band_label_rects(self) -> list[QRectF]:
        """Return where the shown limit labels are (scene coordinates; tests)."""
        return self._marks.band_label_rects()

    def span_count(self) -> int:
        """Return the number of shaded time spans."""
        return self._marks.span_count()

    # ---- internals -----------------------------------------------------------

    def _next_color(self) -> QColor:
        return palette().series_color(len(self._series))

    def _map_y(self, value: float) -> float | None:
        if not self._log_y:
            return value
        return math.log10(value) if value > 0 else None

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
        if self.isVisible() and not self._flush_posted:
            # A posted event, not a 0-ms timer: Qt delivers posted events
            # before timers and before the low-priority repaint request that
            # moving the window made, so that one paint already shows the new
            # data (with a timer: two paints per refresh, measured).
            self._flush_posted = True
            QCoreApplication.postEvent(self, QEvent(_FLUSH_EVENT))

    def customEvent(self, ev: QEvent) -> None:
        if ev.type() == _FLUSH_EVENT:
            self._flush_posted = False
            self.flush()
        else:
            super().customEvent(ev)

    def _columns(self) -> int:
        width = float(self._vb.width()) * self.devicePixelRatioF()
        return max(int(width), 64)

    def flush(self) -> None:
        """Decimate and draw pending changes now.

        Changes are otherwise drawn on the next turn of the event loop (or when
        the chart is shown), so that a refresh that moves the window and updates
        every series decimates each series once, and hidden charts cost nothing.
        After a flush, the next paint shows everything (one paint, see below).
        """
        if not self._dirty:
            return
        t0, t1 = self.time_range()
        columns = self._columns()
        for name in self._dirty:
            series = self._series.get(name)
            if series is not None:
                series.redraw(t0, t1, columns, self._log_y)
        self._dirty.clear()
        self._range_y()
        if self._pointer is not None and self._live:
            # Live, the data slide under a still pointer: the cursor stays
            # under the pointer and reads the time that is there now.
            self.show_cursor(float(self._vb.mapSceneToView(self._pointer).x()))
        elif self._cursor.time is not None:  # the values under it may change
            self._place_cursor(self._cursor.time)
        # pyqtgraph applies a range change to the view's transform lazily, at
        # the start of the next paint, and that change schedules a second paint
        # of the plot; applying it now makes one paint show all.
        self._vb.updateMatrix()
        self._legend_fit.avoid(self._newest_points(t0, t1))

    def _newest_points(self, t0: float, t1: float) -> list[QPointF]:
        """Return each series' newest sample in view coordinates, if in view."""
        points = []
        for series in self._series.values():
            if series.t.size and t0 <= float(series.t[-1]) <= t1:
                y = self._map_y(float(series.y[-1]))
                if y is not None and math.isfinite(y):
                    points.append(QPointF(float(series.t[-1]), y))
        return points

    def _range_y(self) -> None:
        """Fit Y to the points drawn, with pyqtgraph's auto-range padding."""
        if not self._auto_y:
            return
        bounds = [s.y_bounds for s in self._series.values() if s.y_bounds is not None]
        if not bounds:
            return
        lo = min(b[0] for b in bounds)
        hi = max(b[1] for b in bounds)
        pad = (hi - lo) * self._vb.suggestPadding(1)
        wanted = (lo - pad, hi + pad)
        if wanted != self._y_asked:  # most refreshes do not move the extremes
            self._y_asked = wanted
            self._vb.setRange(yRange=wanted, padding=0.0, disableAutoRange=False)

    def set_follow_label(self, label: str) -> None:
        """Name what the chart follows ("LIVE", or "REPLAY" so nobody mistakes it)."""
        self._follow_label = label
        self._update_live_button()

    def _update_live_button(self) -> None:
        button = self._live_button
        label = self._follow_label
        if self._live:
            button.setText(f"● {label}")
            button.setToolTip("Following live data. Drag or scroll the plot to pause.")
        else:
            button.setText(f"❚❚ PAUSED · resume {label.lower()}")
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
            self._schedule()

    def resizeEvent(self, ev: QResizeEvent | None) -> None:
        super().resizeEvent(ev)
        # pyqtgraph resizes during its own __init__, before the button exists.
        if "_live_button" in self.__dict__:
            self._place_live_button()
