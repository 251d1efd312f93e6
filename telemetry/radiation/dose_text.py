"""How doses, fluxes and days are printed, the same on every screen and report.

Pure functions of numbers (any thread). A dose always carries its unit; the
quantity (H, E, Gy-Eq) is said by the caller's label.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime


def format_msv(value: float) -> str:
    """Three significant figures, never in exponent form (0.0362, 12.0, 480)."""
    if not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{digits}f}"


def format_dose(value: float, sigma: float | None = None, unit: str = "mSv") -> str:
    """Format a dose with its unit, in µ below 1 m: '22.3 ± 4.23 µSv', '480 mSv'.

    A few minutes of a session are tens of µSv; '0.0000223 mSv' hides them in
    zeros. ``unit`` is a milli unit (mSv, mGy, mGy-Eq); the uncertainty, if
    given, is shown in the dose's unit.
    """
    if not math.isfinite(value):
        return "—"
    scale = 1.0
    if unit.startswith("m") and abs(value) < 1.0:
        scale, unit = 1000.0, "µ" + unit[1:]
    text = format_msv(value * scale)
    if sigma is not None and math.isfinite(sigma):
        text += f" ± {format_msv(sigma * scale)}"
    return f"{text} {unit}"


def format_pfu(flux: float) -> str:
    """Proton flux as read on a log scale: '1,493', '22.1', '0.31'."""
    if not math.isfinite(flux):
        return "—"
    if flux >= 100:
        return f"{flux:,.0f}"
    return f"{flux:.3g}"


def format_days(days: float) -> str:
    """Days to a limit: '416 d', '0 d', or 'not reached' at the current rate."""
    if math.isinf(days):
        return "not reached"
    if not math.isfinite(days):
        return "—"
    if days >= 3650:
        return f"{days / 365.25:.0f} y"
    return f"{days:.1f} d" if days < 10 else f"{days:,.0f} d"


def format_percent(fraction: float) -> str:
    """Return a fraction of a limit in %, truncated: 0.8998 is '89.9 %', not '90 %'."""
    if not math.isfinite(fraction):
        return "—"
    return f"{math.floor(fraction * 1000.0 + 1e-9) / 10.0:.1f} %"


def gmt_text(t: float, *, date: bool = False) -> str:
    """Format UTC seconds as ``329/08:12:03`` (GMT day of year, the ISS convention).

    ``date`` adds the calendar date for times that may be days old; the panels'
    ``utc_text`` prints the same.
    """
    if not math.isfinite(t):
        return "—"
    try:
        stamp = datetime.fromtimestamp(t, UTC)
    except (OverflowError, ValueError, OSError):
        return "—"
    text = stamp.strftime("%j/%H:%M:%S")
    return f"{stamp:%Y-%m-%d} {text}" if date else text
