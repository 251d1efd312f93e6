"""One named series of a strip chart: its samples, decimation cache and drawn curve.

Owned by the GUI thread (see `Curve`).
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg

from widgets.decimation import PeakCache, auto_gap, log10_positive, peak_decimate

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from PySide6.QtGui import QColor

    FloatArray = NDArray[np.float64]

_EMPTY = np.empty(0, dtype=np.float64)


class Curve:
    """Samples, decimation cache and pyqtgraph curve of one named series.

    Holds the arrays `replace` was given until `append` adds to them; from
    then on the samples live in storage of its own, with room to grow at the
    end. Owned by the GUI thread.
    """

    __slots__ = (
        "_lo",
        "_own",
        "cache",
        "color",
        "gap_s",
        "item",
        "name",
        "t",
        "unit",
        "y",
        "y_bounds",
    )

    def __init__(
        self, name: str, color: str | QColor, gap_s: float | None, unit: str
    ) -> None:
        self.name = name
        self.unit = unit
        self.color = pg.mkColor(color)
        # The legend is HTML: a channel name from the wire is escaped.
        self.item = pg.PlotCurveItem(
            name=html.escape(name), pen=pg.mkPen(self.color, width=1)
        )
        self.gap_s = gap_s
        self.cache = PeakCache()
        self.t: FloatArray = _EMPTY
        self.y: FloatArray = _EMPTY
        # Finite (min, max) of the points drawn, for the Y auto-range.
        self.y_bounds: tuple[float, float] | None = None
        self._own: tuple[FloatArray, FloatArray] | None = None
        self._lo = 0

    def set_color(self, color: str | QColor) -> None:
        self.color = pg.mkColor(color)
        self.item.setPen(pg.mkPen(self.color, width=1))

    def redraw(self, t0: float, t1: float, columns: int, log_y: bool) -> None:
        """Decimate to `columns` over [t0, t1] and hand the points to the curve."""
        gap = self.gap_s if self.gap_s is not None else auto_gap(self.t)
        x, y = peak_decimate(self.t, self.y, t0, t1, columns, gap, self.cache)
        if log_y:
            y = log10_positive(y)
        finite = y[np.isfinite(y)]
        self.y_bounds = (
            (float(finite.min()), float(finite.max())) if finite.size else None
        )
        self.item.setData(x=x, y=y, connect="finite")

    def sample_at(self, t: float, within_s: float) -> tuple[float, float] | None:
        """Return the raw sample (time, value) at or before `t`.

        None if there is none, or it is more than `within_s` older (a gap).
        """
        i = int(np.searchsorted(self.t, t, "right")) - 1
        if i < 0:
            return None
        ts = float(self.t[i])
        if not t - ts <= within_s or not math.isfinite(ts):
            return None
        return ts, float(self.y[i])

    def replace(self, t: FloatArray, y: FloatArray) -> None:
        """Hold `t`, `y` (kept by reference) instead of the samples held."""
        self.t, self.y = t, y
        self._own = None
        self.cache.clear()

    def append(self, t: FloatArray, y: FloatArray, keep_from: float | None) -> None:
        """Copy samples in after those held; drop those older than `keep_from`."""
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
