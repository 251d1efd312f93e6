"""Text shared by the HTML reports (handover, debrief, dose): escaping and UTC times.

Every string from telemetry or operators goes through ``escape_html`` before it
reaches a report, so hostile channel names or notes cannot inject markup.
"""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime


def escape_html(value: object) -> str:
    """Return ``value`` as text safe inside HTML elements and quoted attributes."""
    return html.escape(str(value), quote=True)


def utc_text(t: float | None, missing: str = "") -> str:
    """Return ``YYYY-MM-DD HH:MM:SSZ`` for epoch seconds, or ``missing``."""
    if t is None or not math.isfinite(t):
        return missing
    try:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return missing
