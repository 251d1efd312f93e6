"""Line charts for the report pages: time axis in UTC, optional log Y, shaded spans.

This module only computes the geometry (where every line, tick and label
goes); ``templates/chart.html`` draws it as inline SVG, so the page stays
self-contained and every label is escaped by the template. Pure functions;
any thread may call them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from collections.abc import Sequence

FloatArray = npt.NDArray[np.float64]

# Crew and module colours of the plots (print-friendly, distinguishable).
COLORS: Final = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd",
    "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
)  # fmt: skip
_SUPERSCRIPT: Final = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
_TIME_STEPS: Final = (
    60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400,
    7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 182 * 86400, 365 * 86400,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Span:
    """A shaded time span (SPE, SAA share of a bin); immutable."""

    x: float
    width: float
    color: str
    opacity: float


@dataclass(frozen=True, slots=True)
class Tick:
    """A grid line and its label at ``pos`` (x: time ticks, y: values); immutable."""

    pos: float
    label: str


@dataclass(frozen=True, slots=True)
class Reference:
    """A dashed horizontal reference line (an S-scale threshold); immutable."""

    y: float
    label: str
    color: str


@dataclass(frozen=True, slots=True)
class Trace:
    """One series: legend entry, polylines (SVG ``points``), lone dots; immutable."""

    name: str
    color: str
    legend_y: float
    lines: list[str]
    dots: list[tuple[float, float]]


@dataclass(frozen=True, slots=True)
class Chart:
    """Everything ``templates/chart.html`` draws (immutable once built)."""

    title: str
    unit: str
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    spans: list[Span] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    refs: list[Reference] = field(default_factory=list)
    traces: list[Trace] = field(default_factory=list)


def line_chart(
    series: Sequence[tuple[str, str, FloatArray, FloatArray]],
    t0: float,
    t1: float,
    *,
    title: str,
    unit: str,
    log_y: bool = False,
    spans: Sequence[tuple[float, float, str, float]] = (),
    refs: Sequence[tuple[float, str, str]] = (),
    y_range: tuple[float, float] | None = None,
    width: int = 1000,
    height: int = 260,
) -> Chart:
    """Lay out a line chart of ``(name, color, times, values)`` series over [t0, t1]."""
    left, right, top, bottom = 64, 150, 26, 36
    pw, ph = width - left - right, height - top - bottom
    values = [
        y[np.isfinite(y) & ((y > 0) if log_y else True)] for _n, _c, _x, y in series
    ]
    finite = np.concatenate(values) if values else np.empty(0)
    if y_range is not None:
        lo, hi = y_range
    elif finite.size:
        lo, hi = float(finite.min()), float(finite.max())
    else:
        lo, hi = (1.0, 10.0) if log_y else (0.0, 1.0)
    if log_y:
        lo, hi = math.log10(max(lo, 1e-12)), math.log10(max(hi, 1e-12))
        lo, hi = math.floor(lo), math.ceil(hi)
        if hi <= lo:
            hi = lo + 1
    else:
        if y_range is None:
            lo = min(lo, 0.0)
        if hi <= lo:
            hi = lo + 1.0
        hi += 0.05 * (hi - lo)
    span_t = max(t1 - t0, 1e-9)

    def x_of(t: FloatArray) -> FloatArray:
        return left + (t - t0) / span_t * pw

    def y_of(v: FloatArray) -> FloatArray:
        vv = np.log10(np.where(v > 0, v, np.nan)) if log_y else v
        return top + ph - (vv - lo) / (hi - lo) * ph

    chart = Chart(title, unit, width, height, left, top, pw, ph)
    for a, b, color, opacity in spans:
        xa = float(x_of(np.array([max(a, t0)]))[0])
        xb = float(x_of(np.array([min(b, t1)]))[0])
        if xb > xa:
            chart.spans.append(Span(xa, max(xb - xa, 0.8), color, opacity))
    if log_y:
        ticks = [(float(10.0**k), float(k)) for k in range(int(lo), int(hi) + 1)]
        ticks = ticks[:: max(1, math.ceil(len(ticks) / 7))]
    else:
        raw = (hi - lo) / 5
        mag = 10 ** math.floor(math.log10(raw))
        nice = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
        first = math.ceil(lo / nice) * nice
        ticks = [(v, v) for v in np.arange(first, hi, nice).tolist()]
    for value, pos in ticks:
        y = top + ph - (pos - lo) / (hi - lo) * ph
        label = _log_label(value) if log_y else f"{value:g}"
        chart.y_ticks.append(Tick(y, label))
    for tick in _time_ticks(t0, t1):
        x = float(x_of(np.array([tick]))[0])
        chart.x_ticks.append(Tick(x, _tick_label(tick, t1 - t0)))
    for value, label, color in refs:
        if log_y and value <= 0:
            continue
        y = float(y_of(np.array([value]))[0])
        if top <= y <= top + ph:
            chart.refs.append(Reference(y, label, color))
    for i, (name, color, xs, ys) in enumerate(series):
        lines, dots = _polylines(x_of(xs), y_of(ys))
        chart.traces.append(Trace(name, color, top + 12 + 16 * i, lines, dots))
    return chart


def _polylines(
    x: FloatArray, y: FloatArray
) -> tuple[list[str], list[tuple[float, float]]]:
    """Polylines through the finite points, broken where the data has a gap.

    Empty plot bins are skipped (a 0.1 Hz monitor leaves most 4-s bins empty);
    a step over three median spacings is a gap and is not joined; a point
    alone between gaps is a dot.
    """
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.shape[0] == 0:
        return [], []
    steps = np.diff(x)
    limit = 3.0 * float(np.median(steps)) if steps.shape[0] else math.inf
    lines: list[str] = []
    dots: list[tuple[float, float]] = []
    for run in np.split(np.arange(x.shape[0]), np.flatnonzero(steps > limit) + 1):
        if run.size == 1:
            dots.append((float(x[run[0]]), float(y[run[0]])))
            continue
        pairs = zip(x[run].tolist(), y[run].tolist(), strict=True)
        lines.append(" ".join(f"{a:.1f},{b:.1f}" for a, b in pairs))
    return lines, dots


def _log_label(value: float) -> str:
    if 1e-2 <= value <= 1e3:
        return f"{value:g}"
    return "10" + str(round(math.log10(value))).translate(_SUPERSCRIPT)


def _time_ticks(t0: float, t1: float) -> list[float]:
    span = t1 - t0
    step = _TIME_STEPS[-1]
    for candidate in _TIME_STEPS:
        if span / candidate <= 8:
            step = candidate
            break
    first = math.ceil(t0 / step) * step
    return [float(t) for t in np.arange(first, t1 + 1e-9, step)]


def _tick_label(t: float, span: float) -> str:
    stamp = datetime.fromtimestamp(t, UTC)
    if span <= 2 * 86400 and (stamp.hour or stamp.minute):
        return stamp.strftime("%H:%M")
    return stamp.strftime("%m-%d")
