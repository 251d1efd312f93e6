"""Alarm severity levels shared by limits, alarms, dose alerts and displays."""

from __future__ import annotations

from enum import IntEnum


class Severity(IntEnum):
    """Ordered limit levels; staleness is tracked separately, not as a level."""

    NOMINAL = 0
    WATCH = 1
    WARNING = 2
    CRITICAL = 3
