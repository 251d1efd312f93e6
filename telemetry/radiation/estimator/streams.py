"""Input streams of the dose estimator: samples per input, row joins, dose history.

All owned by the telemetry-pipeline thread (inside the estimator's state).
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    from telemetry.radiation.estimator.model import FloatArray

#: A sample is held over at most this many of its monitor's learned sampling
#: intervals (Yamcs expires a parameter after ~1.9 periods), within the
#: channel's ``stale_after_s`` (at least) and ``hold_max_s`` (at most).
HOLD_CADENCE_FACTOR: Final = 2.0
#: Sampling intervals the learned cadence is the median of.
CADENCE_WINDOW: Final = 8


class SampleStream:
    """Samples of one input in sample-time order; telemetry-pipeline thread.

    Samples may arrive in any order and batching: each is inserted at its
    time (a repeated time keeps the first value and counts the repeat as
    late). Each sample's value holds until the next sample if the gap is
    within its hold time, else until the hold time ends: the hold time is
    ``HOLD_CADENCE_FACTOR`` x the median of the ``CADENCE_WINDOW`` sampling
    intervals around it (its learned cadence), at least ``stale_s`` and at
    most ``hold_max_s`` (both from the dictionary). So a monitor reporting
    once a minute is held over its minute, and an outage is not a cadence.
    """

    __slots__ = ("_holds", "first", "hold_max_s", "key", "late", "stale_s", "t", "v")

    def __init__(
        self, key: str, stale_s: float, hold_max_s: float | None = None
    ) -> None:
        self.key = key
        self.stale_s = stale_s
        self.hold_max_s = max(
            stale_s, hold_max_s if hold_max_s is not None else stale_s
        )
        self.t = np.empty(0)
        self.v = np.empty(0)
        self._holds = np.empty(0)
        self.first = math.nan
        self.late = 0

    @property
    def seen(self) -> bool:
        return self.t.shape[0] > 0

    @property
    def known(self) -> float:
        """The latest sample time: the stream is determined up to here."""
        return float(self.t[-1]) if self.t.shape[0] else -math.inf

    @property
    def last_hold(self) -> float:
        """How long the latest sample is held (s); ``stale_s`` before any."""
        return float(self.holds()[-1]) if self.t.shape[0] else self.stale_s

    def append(self, times: FloatArray, values: FloatArray, floor: float) -> float:
        """Insert samples newer than ``floor``; return the earliest inserted time.

        Samples at or before ``floor`` (integrated and no longer revisable) and
        repeats of a time already held are counted as late and dropped. Returns
        +inf when nothing was inserted.
        """
        valid = np.isfinite(values)  # NaN: not sampled, which is not late
        n_in = times.shape[0]
        if (
            n_in
            and bool(valid.all())
            and float(times[0]) > max(self.known, floor)
            and (n_in == 1 or bool(np.all(np.diff(times) > 0)))
            and math.isfinite(float(times[-1]))
        ):
            # The live case: newer than everything, in order. No search.
            start = self.t.shape[0]
            if not self.seen:
                self.first = float(times[0])
            self.t = np.concatenate((self.t, times))
            self.v = np.concatenate((self.v, values))
            self._refresh_holds(start)
            return float(times[0])
        ok = valid & np.isfinite(times)
        keep = ok & (times > floor)
        if not keep.any():
            self.late += int(np.count_nonzero(valid))
            return math.inf
        t_new, first_idx = np.unique(times[keep], return_index=True)
        v_new = values[keep][first_idx]
        repeats = int(np.count_nonzero(keep)) - t_new.shape[0]
        if self.t.shape[0]:
            fresh = ~np.isin(t_new, self.t)
            repeats += int(np.count_nonzero(~fresh))
            t_new, v_new = t_new[fresh], v_new[fresh]
        self.late += int(np.count_nonzero(valid & ~keep)) + repeats
        if t_new.shape[0] == 0:
            return math.inf
        earliest = float(t_new[0])
        if not self.seen or earliest < self.first:
            self.first = earliest
        if self.t.shape[0] == 0 or earliest > self.t[-1]:
            start = self.t.shape[0]
            self.t = np.concatenate((self.t, t_new))
            self.v = np.concatenate((self.v, v_new))
        else:
            start = int(np.searchsorted(self.t, earliest))
            t_all = np.concatenate((self.t, t_new))
            order = np.argsort(t_all, kind="stable")
            self.t = t_all[order]
            self.v = np.concatenate((self.v, v_new))[order]
        self._refresh_holds(start)
        return earliest

    def holds(self) -> FloatArray:
        """Hold time of each sample (s)."""
        return self._holds

    def _refresh_holds(self, start: int) -> None:
        """Recompute hold times from sample ``start`` (those after it changed).

        A sample's window is the intervals before it and the one after it:
        inserting at ``start`` changes the holds from ``start - 1`` on.
        """
        lo = max(0, start - 1)
        kept = self._holds[:lo]
        n = self.t.shape[0]
        if n - lo <= 4:
            # The live case, one or two new samples: plain Python is cheaper
            # than building sliding windows.
            t = self.t[max(0, lo - CADENCE_WINDOW) :].tolist()
            off = min(lo, CADENCE_WINDOW)
            steps = [b - a for a, b in itertools.pairwise(t)]
            tail: list[float] = []
            for i in range(off, len(t)):
                window = sorted(steps[max(0, i - CADENCE_WINDOW + 1) : i + 1])
                m = len(window)
                cadence = (window[(m - 1) // 2] + window[m // 2]) / 2.0 if m else 0.0
                hold = HOLD_CADENCE_FACTOR * cadence
                tail.append(min(max(hold, self.stale_s), self.hold_max_s))
            self._holds = np.concatenate((kept, np.array(tail)))
            return
        # Intervals around sample i: up to CADENCE_WINDOW before it, and the
        # one following it once known (NaN pads the ends).
        w = CADENCE_WINDOW
        gaps = np.diff(self.t[max(0, lo - w) :])
        pad = np.concatenate((np.full(w - 1, np.nan), gaps, [np.nan]))
        first = min(lo, w)  # index of sample ``lo`` within the slice above
        windows = np.lib.stride_tricks.sliding_window_view(pad, w)[first:]
        counts = np.count_nonzero(~np.isnan(windows), axis=1)
        filled = np.where(np.isnan(windows), np.inf, windows)
        # Median of the non-NaN entries: sort (NaN as inf last), pick middle.
        ordered = np.sort(filled, axis=1)
        mid_lo = np.take_along_axis(
            ordered, np.maximum((counts - 1) // 2, 0)[:, None], 1
        )
        mid_hi = np.take_along_axis(ordered, np.maximum(counts // 2, 0)[:, None], 1)
        cadence = np.where(counts > 0, (mid_lo[:, 0] + mid_hi[:, 0]) / 2.0, 0.0)
        out = HOLD_CADENCE_FACTOR * cadence
        out = np.clip(out, self.stale_s, self.hold_max_s)
        self._holds = np.concatenate((kept, out))

    def at(self, points: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return (held value, age) at each point; NaN value before any sample."""
        if self.t.shape[0] == 0:
            nan = np.full(points.shape[0], np.nan)
            return nan, np.full(points.shape[0], np.inf)
        idx = np.searchsorted(self.t, points, side="right") - 1
        has = idx >= 0
        safe = np.maximum(idx, 0)
        values = np.where(has, self.v[safe], np.nan)
        ages = np.where(has, points - self.t[safe], np.inf)
        return values, ages

    def hold_at(self, points: FloatArray) -> FloatArray:
        """Hold time of the sample in force at each point (inf before any)."""
        if self.t.shape[0] == 0:
            return np.full(points.shape[0], np.inf)
        idx = np.searchsorted(self.t, points, side="right") - 1
        return np.where(idx >= 0, self._holds[np.maximum(idx, 0)], np.inf)

    def fresh_at(self, points: FloatArray) -> FloatArray:
        """Held values, NaN once older than their hold time."""
        values, ages = self.at(points)
        return np.where(ages < self.hold_at(points), values, np.nan)

    def expiries(self, lo: float, hi: float) -> FloatArray:
        """Return times in (lo, hi) where a sample expires before the next one."""
        if self.t.shape[0] == 0:
            return np.empty(0)
        i = max(0, int(np.searchsorted(self.t, lo - self.hold_max_s)) - 1)
        t, holds = self.t[i:], self._holds[i:]
        ends = t + holds
        gaps = np.append(t[1:] > ends[:-1], True)
        ends = ends[gaps]
        return np.asarray(ends[(ends > lo) & (ends < hi)], dtype=np.float64)

    def times_in(self, lo: float, hi: float) -> FloatArray:
        i = np.searchsorted(self.t, lo, side="right")
        j = np.searchsorted(self.t, hi, side="left")
        return self.t[i:j]

    def trim(self, before: float) -> None:
        """Drop samples no longer needed after ``before``.

        Keeps the last sample at or before ``before`` (it holds into the
        future) and the ``CADENCE_WINDOW`` before it (its cadence).
        """
        i = int(np.searchsorted(self.t, before, side="right")) - 1 - CADENCE_WINDOW
        # Copy only once a good part is dropped, not at every 1 Hz update.
        if i > 64 and i * 4 > self.t.shape[0]:
            self.t = self.t[i:]
            self.v = self.v[i:]
            self._holds = self._holds[i:]


class RowJoiner:
    """Pairs two channels of one source by sample time; telemetry-pipeline thread.

    A frame may omit a value (null), so rows are released once both channels
    have reached their time, or the other has been silent for ``timeout_s``
    of sample time; a missing partner is NaN.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._t: list[FloatArray] = [np.empty(0), np.empty(0)]
        self._v: list[FloatArray] = [np.empty(0), np.empty(0)]
        self._known = [-math.inf, -math.inf]
        self._released = -math.inf
        self.late = 0

    def add(
        self, side: int, times: FloatArray, values: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        floor = max(self._released, self._known[side])
        keep = times > floor
        if times.shape[0] > 1:
            keep &= np.concatenate(([True], np.diff(times) > 0))
        self.late += int(times.shape[0] - np.count_nonzero(keep))
        if keep.any():
            self._t[side] = np.concatenate((self._t[side], times[keep]))
            self._v[side] = np.concatenate((self._v[side], values[keep]))
            self._known[side] = float(times[keep][-1])
        bound = max(min(self._known), max(self._known) - self.timeout_s)
        if bound <= self._released:
            empty = np.empty(0)
            return empty, empty, empty
        self._released = bound
        cut = [int(np.searchsorted(t, bound, side="right")) for t in self._t]
        ta, tb = self._t[0][: cut[0]], self._t[1][: cut[1]]
        va, vb = self._v[0][: cut[0]], self._v[1][: cut[1]]
        for s in (0, 1):
            self._t[s] = self._t[s][cut[s] :]
            self._v[s] = self._v[s][cut[s] :]
        rows = np.union1d(ta, tb)
        return rows, _place(rows, ta, va), _place(rows, tb, vb)


def _place(rows: FloatArray, t: FloatArray, v: FloatArray) -> FloatArray:
    out = np.full(rows.shape[0], np.nan)
    out[np.searchsorted(rows, t)] = v
    return out


class CumulativeHistory:
    """Session dose and its 1σ at bin edges; telemetry-pipeline thread.

    For rolling sums and trailing rates, and as the points late data rolls
    the integration back to. Between edges the dose is interpolated linearly
    (exact for a rate that is constant within a bin; otherwise off by at
    most part of one bin's dose).
    """

    __slots__ = ("c", "e", "keep_s", "s", "t")

    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self.t = np.empty(0)
        self.c = np.empty(0)
        self.s = np.empty(0)
        self.e = np.empty(0)  # EVA part of the dose, cumulative

    def append(
        self,
        t: FloatArray,
        c: FloatArray,
        s: FloatArray | None = None,
        e: FloatArray | None = None,
    ) -> None:
        if t.shape[0] == 0:
            return
        zeros = np.zeros(t.shape[0])
        self.t = np.concatenate((self.t, t))
        self.c = np.concatenate((self.c, c))
        self.s = np.concatenate((self.s, s if s is not None else zeros))
        self.e = np.concatenate((self.e, e if e is not None else zeros))
        i = int(np.searchsorted(self.t, self.t[-1] - self.keep_s, side="right")) - 1
        if i > 0:
            self.t = self.t[i:]
            self.c = self.c[i:]
            self.s = self.s[i:]
            self.e = self.e[i:]

    def rollback(self, at: float) -> tuple[float, float, float, float] | None:
        """Forget knots after the last one at or before ``at``; return it.

        Returns ``(time, dose, sigma, eva dose)`` of that knot, or None when
        ``at`` is before the first knot (the integration must restart).
        """
        i = int(np.searchsorted(self.t, at, side="right")) - 1
        if i < 0:
            return None
        self.t = self.t[: i + 1]
        self.c = self.c[: i + 1]
        self.s = self.s[: i + 1]
        self.e = self.e[: i + 1]
        return float(self.t[i]), float(self.c[i]), float(self.s[i]), float(self.e[i])

    def at(self, times: FloatArray) -> FloatArray:
        # Before the first knot (the start) nothing had been accrued.
        return np.asarray(np.interp(times, self.t, self.c, left=0.0), dtype=np.float64)
