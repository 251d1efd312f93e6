"""How numbers with units read, wherever they are shown: docks, reports, the CLI.

One place decides how a dose, a rate, a fraction, a duration or a UTC time is
written, so the radiation panel and a dose report never print the same dose
two ways. Pure functions of their arguments; any thread may call them.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

from telemetry.core.text import utc_text

SECONDS_PER_DAY: Final = 86_400.0

__all__ = [
    "format_days",
    "format_dose",
    "format_duration",
    "format_hms",
    "format_msv",
    "format_percent",
    "format_pfu",
    "format_sig",
    "gmt_text",
    "utc_text",
]


def format_sig(value: float, digits: int = 3) -> str:
    """``digits`` significant figures, never in exponent form (0.0362, 12.0, 480).

    Non-finite values (unknown) read "—".
    """
    if not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 1e6:  # bounded width: a corrupt 1e308 must not fill a screen
        return f"{value:.{digits - 1}e}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def format_msv(value: float) -> str:
    """Three significant figures, never in exponent form (0.0362, 12.0, 480)."""
    return format_sig(value, 3)


def format_dose(
    value: float,
    sigma: float | None = None,
    unit: str = "mSv",
    *,
    quantity: str = "",
    digits: int = 3,
) -> str:
    """Write a dose with its unit, in µ below 1 m: '22.3 ± 4.23 µSv', '480 mSv'.

    A few minutes of a session are tens of µSv; '0.0000223 mSv' hides them in
    zeros. ``unit`` is the unit ``value`` is in, a milli unit (mSv, mGy,
    mGy-Eq) switches to micro below 1; the uncertainty, if given, is shown in
    the dose's unit. ``quantity`` ("H", "E", "D") is written first, so a reader
    never has to guess which dose a number is: 'E 12.0 mSv'.
    """
    if not math.isfinite(value):
        text = "—"
    else:
        scale = 1.0
        if unit.startswith("m") and abs(value) < 1.0:
            scale, unit = 1000.0, "µ" + unit[1:]
        text = format_sig(value * scale, digits)
        if sigma is not None and math.isfinite(sigma):
            text += f" ± {format_sig(sigma * scale, digits)}"
        text = f"{text} {unit}"
    return f"{quantity} {text}" if quantity else text


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


def format_percent(fraction: float, decimals: int = 1) -> str:
    """Write a fraction of a limit as a percentage, never rounded up across a level.

    89.98 % is '89.9 %' (truncated toward zero), so a reading below an alert
    level is never printed as if at it.
    """
    if not math.isfinite(fraction):
        return "—"
    scale = 10**decimals
    shown = math.floor(fraction * 100 * scale + 1e-9) / scale
    return f"{shown:.{decimals}f} %"


def format_duration(seconds: float) -> str:
    """Write a span for reading: '40 s', '12 min', '2.5 h', '3.2 d'."""
    if not math.isfinite(seconds):
        return "—"
    if seconds >= 2 * SECONDS_PER_DAY:
        return f"{seconds / SECONDS_PER_DAY:.1f} d"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def format_hms(seconds: float) -> str:
    """Write a span as ``H:MM:SS`` (outages, response times); '' when unknown."""
    if not math.isfinite(seconds):
        return ""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


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
