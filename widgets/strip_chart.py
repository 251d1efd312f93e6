"""Time-series strip chart: named series against UTC time, limit bands, spans.

Owns the min/max-per-pixel decimation (`peak_decimate`) that every drawn curve
goes through, the follow-live/paused state and the X links between charts.
"""

from __future__ import annotations

import math
import weakref
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import (
    QCoreApplication,
    QEvent,
    QLineF,
    QPointF,
    QRectF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QPen,
    QPicture,
    QPixmap,
    QTransform,
)
from PySide6.QtWidgets import QGraphicsItem, QToolButton, QWidget

from widgets.levels import Level, palette
from widgets.plain_text import markup

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
_FLUSH_EVENT = QEvent.Type(QEvent.registerEventType())


class _Bins(NamedTuple):
    """Non-empty time bins, oldest first: index, first/last sample time, max, min.

    Immutable (nobody writes into the arrays); usable from any thread.
    """

    k: NDArray[np.int64]
    t_first: FloatArray
    t_last: FloatArray
    high: FloatArray
    low: FloatArray


_NO_BINS = _Bins(np.empty(0, dtype=np.int64), _EMPTY, _EMPTY, _EMPTY, _EMPTY)


def _bin_width(t0: float, t1: float, columns: int) -> float:
    # Rounded up to 20 significant bits: t1 - t0 of a sliding window wobbles in
    # its last bits from frame to frame, and the bin edges (multiples of this
    # width) must not, or no completed bin could be reused. Rounding up keeps
    # the bins no narrower than a pixel column.
    mantissa, exponent = math.frexp((t1 - t0) / columns)
    return math.ldexp(math.ceil(mantissa * 2**20) / 2**20, exponent)


def _edge_at_or_before(x: float, width: float) -> int:
    """Return the largest k with ``k * width <= x`` (exactly, in float64)."""
    k = math.floor(x / width)
    while k * width > x:
        k -= 1
    while (k + 1) * width <= x:
        k += 1
    return k


def _bins(
    t: FloatArray, y: FloatArray, lo: int, hi: int, k_lo: int, k_hi: int, width: float
) -> _Bins:
    """Bin samples ``lo:hi`` at the edges ``k * width`` for ``k_lo < k <= k_hi``.

    The samples must lie in bins ``k_lo..k_hi``; empty bins are left out.
    """
    if hi <= lo:
        return _NO_BINS
    seg = t[lo:hi]
    edges = np.arange(k_lo + 1, k_hi + 1, dtype=np.float64) * width
    starts = np.concatenate(([0], np.searchsorted(seg, edges, "left")))
    ends = np.append(starts[1:], seg.size)
    filled = starts < ends
    starts, ends = starts[filled], ends[filled]
    ys = y[lo:hi]
    return _Bins(
        np.arange(k_lo, k_hi + 1, dtype=np.int64)[filled],
        seg[starts],
        seg[ends - 1],
        np.fmax.reduceat(ys, starts),
        np.fmin.reduceat(ys, starts),
    )


def _take(bins: _Bins, k_lo: int, k_hi: int) -> _Bins:
    """Return the bins with index ``k_lo <= k < k_hi``."""
    i, j = np.searchsorted(bins.k, (k_lo, k_hi))
    return _Bins(
        bins.k[i:j], bins.t_first[i:j], bins.t_last[i:j], bins.high[i:j], bins.low[i:j]
    )


def _join(parts: Sequence[_Bins]) -> _Bins:
    parts = [p for p in parts if p.k.size]
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return _NO_BINS
    return _Bins(
        np.concatenate([p.k for p in parts]),
        np.concatenate([p.t_first for p in parts]),
        np.concatenate([p.t_last for p in parts]),
        np.concatenate([p.high for p in parts]),
        np.concatenate([p.low for p in parts]),
    )


def _one_sample_bin(t: FloatArray, y: FloatArray, i: int, k: int) -> _Bins:
    return _Bins(np.array([k]), t[i : i + 1], t[i : i + 1], y[i : i + 1], y[i : i + 1])


class PeakCache:
    """Completed bins of one series, so `peak_decimate` only bins what is new.

    Valid while the samples only grow at the end, in time order, and lose
    samples at the front: call `clear` when they are replaced and `disable`
    when an append breaks the time order. Bins are aligned to multiples of
    the bin width, so while a live window slides, a bin with a later sample
    after it never changes again.

    Owned by the thread that decimates (the GUI thread for a StripChart).
    """

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget every bin (the samples were replaced); reuse resumes."""
        self.enabled = True
        self._width = math.nan
        self._bins = _NO_BINS
        # Every non-empty bin k with _k_from <= k < _k_done is in _bins.
        self._k_from = 0
        self._k_done = 0

    def cached_bins(self) -> int:
        """Return how many completed bins are kept for reuse."""
        return int(self._bins.k.size)

    def disable(self) -> None:
        """Forget every bin and reuse none until `clear` (samples out of order)."""
        self.clear()
        self.enabled = False

    def bins(
        self, t: FloatArray, y: FloatArray, a: int, b: int, k0: int, k1: int, w: float
    ) -> _Bins:
        """`_bins` of samples ``a:b`` (bins ``k0..k1``), reusing completed bins."""
        if w != self._width:
            self.clear()
            self._width = w
        # Bins that start before the oldest sample held may have lost samples
        # at the front; bin k0 is cut by the view's left edge.
        k_valid = _edge_at_or_before(float(t[0]), w)
        if k_valid * w < t[0]:
            k_valid += 1
        k_s = max(k0 + 1, self._k_from, k_valid)
        k_e = min(self._k_done, k1)
        if k_s < k_e:
            p_s = int(np.searchsorted(t, k_s * w, "left"))
            p_e = int(np.searchsorted(t, k_e * w, "left"))
            out = _join(
                (
                    _bins(t, y, a, p_s, k0, k_s - 1, w),
                    _take(self._bins, k_s, k_e),
                    _bins(t, y, p_e, b, k_e, k1, w),
                )
            )
        else:
            out = _bins(t, y, a, b, k0, k1, w)
        # A bin is complete once a later sample exists (appends come after
        # it) and the view's right edge does not cut it.
        self._k_from = k0 + 1
        self._k_done = max(min(k1, _edge_at_or_before(float(t[-1]), w)), self._k_from)
        self._bins = _take(out, self._k_from, self._k_done)
        return out


def peak_decimate(
    t: FloatArray,
    y: FloatArray,
    t0: float,
    t1: float,
    columns: int,
    gap_s: float | None = None,
    cache: PeakCache | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Reduce sorted samples to what `columns` pixel columns over [t0, t1] can show.

    Keeps the samples in view plus one beyond each edge. If more than two per
    column remain, the samples in view are cut into time bins about one
    column wide, at multiples of the bin width (not relative to `t0`), and
    each bin becomes its (max, min) pair, so a single-sample spike anywhere
    (including the newest sample) is always drawn; each beyond-edge sample
    keeps a bin of its own so the line leaves the view in the right direction
    without widening the edge columns. NaN values in `y` are skipped inside a
    bin; an all-NaN bin draws as a break. Where consecutive samples are more
    than `gap_s` apart, a NaN point is inserted so that a ``connect="finite"``
    curve shows the gap.

    With a `cache` (see `PeakCache` for when it stays valid), bins completed
    at an earlier call are reused; the result is the same as without.

    Returns new arrays (x, y); the inputs are never modified.
    """
    n = t.size
    if n == 0:
        return _EMPTY, _EMPTY
    a = int(np.searchsorted(t, t0, "left"))
    b = int(np.searchsorted(t, t1, "right"))
    i0 = max(a - 1, 0)
    i1 = min(b + 1, n)
    columns = max(int(columns), 1)
    w = _bin_width(t0, t1, columns) if t1 > t0 else math.nan
    # Bin indices must stay exact in float64 (a zoom far below a microsecond
    # cannot hold more than 2 samples per column anyway).
    if i1 - i0 <= 2 * columns or not max(abs(t0), abs(t1)) / w < 2**50:
        ts = t[i0:i1]
        ys = y[i0:i1]
        if gap_s is not None and ts.size > 1:
            cut = np.flatnonzero(np.diff(ts) > gap_s) + 1
            if cut.size:
                mid = 0.5 * (ts[cut - 1] + ts[cut])
                return np.insert(ts, cut, mid), np.insert(ys, cut, np.nan)
        return ts.copy(), ys.copy()

    k0 = _edge_at_or_before(t0, w)
    k1 = _edge_at_or_before(t1, w)
    if cache is not None and not (
        cache.enabled and math.isfinite(t[0]) and math.isfinite(t[-1])
    ):
        cache = None
    inside = (
        _bins(t, y, a, b, k0, k1, w)
        if cache is None
        else cache.bins(t, y, a, b, k0, k1, w)
    )
    bins = _join(
        (
            _one_sample_bin(t, y, i0, k0 - 1) if i0 < a else _NO_BINS,
            inside,
            _one_sample_bin(t, y, b, k1 + 1) if b < i1 else _NO_BINS,
        )
    )
    xs = np.repeat(bins.t_first, 2)
    out = np.empty(xs.size, dtype=np.float64)
    out[0::2] = bins.high
    out[1::2] = bins.low
    if gap_s is not None and xs.size > 2:
        j = np.flatnonzero(bins.t_first[1:] - bins.t_last[:-1] > gap_s) + 1
        if j.size:
            mid = 0.5 * (bins.t_last[j - 1] + bins.t_first[j])
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


class _Series:
    """Samples, decimation cache and curve of one named series.

    Holds the arrays `set_series` was given until `append_series` adds to
    them; from then on the samples live in storage of its own, with room to
    grow at the end. Owned by the GUI thread.
    """

    __slots__ = ("_lo", "_own", "cache", "curve", "gap_s", "t", "y", "y_bounds")

    def __init__(self, curve: Any, gap_s: float | None) -> None:
        self.curve = curve
        self.gap_s = gap_s
        self.cache = PeakCache()
        self.t: FloatArray = _EMPTY
        self.y: FloatArray = _EMPTY
        # Finite (min, max) of the points drawn, for the Y auto-range.
        self.y_bounds: tuple[float, float] | None = None
        self._own: tuple[FloatArray, FloatArray] | None = None
        self._lo = 0

    def replace(self, t: FloatArray, y: FloatArray) -> None:
        self.t, self.y = t, y
        self._own = None
        self.cache.clear()

    def append(self, t: FloatArray, y: FloatArray, keep_from: float | None) -> None:
        k = t.size
        if k:
            n = self.t.size
            # NaN times compare False: out of order too.
            if not (
                (n == 0 or t[0] >= self.t[-1]) and (k == 1 or np.all(t[1:] >= t[:-1]))
            ):
                self.cache.disable()
            own = self._own
            hi = self._lo + n
            if own is None or hi + k > own[0].size:
                # Move to the front of (or into new) storage with room for as
                # many again: each sample is copied O(1) times on average.
                cap = max(2 * (n + k), 1024)
                if own is None or n + k > own[0].size // 2:
                    own = (np.empty(cap), np.empty(cap))
                own[0][:n] = self.t
                own[1][:n] = self.y
                self._own, self._lo, hi = own, 0, n
            own[0][hi : hi + k] = t
            own[1][hi : hi + k] = y
            self.t = own[0][self._lo : hi + k]
            self.y = own[1][self._lo : hi + k]
        if keep_from is not None and self.t.size:
            drop = int(np.searchsorted(self.t, keep_from, "left"))
            if drop:
                if self._own is None:
                    self.t, self.y = self.t[drop:], self.y[drop:]
                else:
                    self._lo += drop
                    self.t = self.t[drop:]
                    self.y = self.y[drop:]


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


class _TimeAxis(pg.DateAxisItem):  # type: ignore[misc]
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
    # zoom levels are pyqtgraph's defaults on every _TimeAxis); small, as all
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


class _ValueAxis(pg.AxisItem):  # type: ignore[misc]
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
        # The scene's background brush (opaque plot_bg) covers every pixel:
        # without this Qt also fills the viewport with its palette first, at
        # every paint (~60 us per chart, measured).
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
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
        # The chart ranges Y itself (_range_y): pyqtgraph's auto-range walks
        # every item's bounds again at each paint.
        self._vb.disableAutoRange()
        self._auto_y = True
        self._y_asked: tuple[float, float] | None = None
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
        # Rasterise the value axis (text is the costly part of a software
        # paint) and blit it until its ticks change: 2.5x faster frames,
        # measured. The time axis keeps an image of its own, shared.
        item.getAxis("left").setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
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

        self._bands_fill = _RegionItem(vertical=False)
        self._spans_fill = _RegionItem(vertical=True)
        for z, region in ((-20, self._spans_fill), (-15, self._bands_fill)):
            region.setZValue(z)
            item.addItem(region, ignoreBounds=True)

        self._flush_posted = False
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

        Replaces what the series held. `gap_s`: samples further apart than this
        are not joined; by default `AUTO_GAP_FACTOR` times the median sample
        spacing. For a live feed prefer `append_series`.
        """
        ta, ya = self._arrays(name, t, y)
        self._series_for(name, color, gap_s).replace(ta, ya)
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
    ) -> None:
        """Add samples that follow those of series `name` in time (created if absent).

        The cheap way to feed live data: the chart copies only the new samples
        and re-decimates only the pixel columns they reach, instead of all the
        samples of the window at every refresh. Samples older than `keep_from`
        (UTC epoch seconds) are then dropped from the front. A block that does
        not follow in time is drawn as `set_series` would draw the same
        samples, but every refresh then decimates them all, until the next
        `set_series`.
        """
        ta, ya = self._arrays(name, t, y)
        self._series_for(name, color, gap_s).append(ta, ya, keep_from)
        self._changed(name)

    @staticmethod
    def _arrays(name: str, t: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
        ta = np.asarray(t, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        if ta.shape != ya.shape or ta.ndim != 1:
            raise ValueError(f"series {name!r}: t and y must be 1-D of equal length")
        return ta, ya

    def _series_for(
        self, name: str, color: str | QColor | None, gap_s: float | None
    ) -> _Series:
        series = self._series.get(name)
        if series is None:
            pen_color = color if color is not None else self._next_color()
            # The legend is HTML: a channel name from the wire is escaped.
            curve = pg.PlotCurveItem(
                name=markup(name), pen=pg.mkPen(pen_color, width=1)
            )
            self.getPlotItem().addItem(curve)
            series = _Series(curve, gap_s)
            self._series[name] = series
            self._legend.setVisible(len(self._series) > 1)
        else:
            if gap_s is not None:
                series.gap_s = gap_s
            if color is not None:
                series.curve.setPen(pg.mkPen(color, width=1))
        return series

    def _changed(self, name: str) -> None:
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
            self._auto_y = True
            self._y_asked = None
            self._range_y()
            return
        lo, hi = self._map_y(low), self._map_y(high)
        if lo is None or hi is None:
            raise ValueError("log axis range must be positive")
        self._auto_y = False
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
            s = self._series.get(name)
            if s is None:
                continue
            gap = s.gap_s if s.gap_s is not None else auto_gap(s.t)
            x, y = peak_decimate(s.t, s.y, t0, t1, columns, gap, s.cache)
            if self._log_y:
                y = _log10(y)
            finite = y[np.isfinite(y)]
            s.y_bounds = (
                (float(finite.min()), float(finite.max())) if finite.size else None
            )
            s.curve.setData(x=x, y=y, connect="finite")
        self._dirty.clear()
        self._range_y()
        # pyqtgraph applies a range change to the view's transform lazily, at
        # the start of the next paint, and that change schedules a second paint
        # of the plot; applying it now makes one paint show all.
        self._vb.updateMatrix()

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
        label = getattr(self, "_follow_label", "LIVE")
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
