"""Min/max-per-pixel-column decimation of sorted time series, Qt-free (numpy only).

`peak_decimate` reduces samples to what a number of pixel columns can show
without losing a single-sample spike; `PeakCache` lets a sliding live window
re-bin only its newest columns. Every curve a strip chart or sparkline draws
goes through here, so it is tested and benchmarked without a display.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    FloatArray = NDArray[np.float64]

#: Series closer together than this many median sample intervals are joined.
AUTO_GAP_FACTOR = 3.0
_EMPTY = np.empty(0, dtype=np.float64)


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


def log10_positive(y: FloatArray) -> FloatArray:
    """Return log10 of `y`, NaN where `y` is not positive (a log axis's break)."""
    out = np.full(y.shape, np.nan)
    np.log10(y, out=out, where=y > 0)
    return out
