"""What every dock shares: the Panel base class and telemetry-to-display translations.

Limit bands, channel descriptions and UTC time text are computed here from the
dictionary, so the widgets keep drawing plain numbers, strings and levels.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDockWidget, QGridLayout, QWidget

from widgets.double_click import DoubleClickRelay
from widgets.levels import Level

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PySide6.QtGui import QResizeEvent

    from console.context import ConsoleContext
    from telemetry.core.dictionary import ChannelSpec, LimitSpec

Bands = dict[Level, tuple[float | None, float | None]]


def utc_text(t: float, *, date: bool = False) -> str:
    """Format UTC seconds as ``329/08:12:03`` (GMT day of year, the ISS convention).

    ``date`` adds the calendar date for times that may be days old.
    """
    if not math.isfinite(t):
        return "—"
    try:
        stamp = datetime.fromtimestamp(t, UTC)
    except (OverflowError, ValueError, OSError):
        return "—"
    text = stamp.strftime("%j/%H:%M:%S")
    return f"{stamp:%Y-%m-%d} {text}" if date else text


def limit_bands(spec: ChannelSpec | None) -> Bands:
    """Limit lines per display level from a channel's limits (empty if none)."""
    if spec is None or spec.limits is None:
        return {}
    limits = spec.limits
    return {
        Level[sev.name]: (limits.low.get(sev), limits.high.get(sev))
        for sev in sorted(set(limits.low) | set(limits.high))
    }


def _bands_text(limits: LimitSpec) -> list[str]:
    parts = []
    for sev, low, high in limits.bands():
        sides = []
        if low is not None:
            sides.append(f"< {low:g}")
        if high is not None:
            sides.append(f"> {high:g}")
        parts.append(f"{Level[sev.name].value} {' or '.join(sides)}")
    return parts


def mean_limits_text(spec: ChannelSpec | None) -> str:
    """``24 h mean: warning > 2.7 · critical > 4`` for a rolling-mean limit (or '')."""
    if spec is None or spec.mean_limits is None:
        return ""
    parts = _bands_text(spec.mean_limits)
    return f"{spec.mean_limits.applies_to()}: {' · '.join(parts)}" if parts else ""


def limits_text(spec: ChannelSpec | None) -> str:
    """One line such as ``watch > 2.3 · warning > 2.7 · critical > 4`` (or '')."""
    if spec is None:
        return ""
    parts = []
    for level, (low, high) in limit_bands(spec).items():
        sides = []
        if low is not None:
            sides.append(f"< {low:g}")
        if high is not None:
            sides.append(f"> {high:g}")
        parts.append(f"{level.value} {' or '.join(sides)}")
    for state, sev in spec.alarm_states.items():
        parts.append(f"{sev.name.lower()} when {state}")
    return " · ".join(parts)


def describe(context: ConsoleContext, key: str) -> str:
    """Tooltip text for a channel: key, unit, description and limits."""
    spec = context.dictionary.channel_for_key(key)
    if spec is None:
        return f"{key}\nnot in the dictionary (undeclared channel)"
    unit = f" [{spec.unit}]" if spec.unit else ""
    lines = [f"{key}{unit}"]
    if spec.description:
        lines.append(spec.description)
    if spec.derived:
        lines.append("derived by the console")
    limits = limits_text(spec)
    if limits:
        lines.append(f"limits: {limits}")
    mean = mean_limits_text(spec)
    if mean:
        lines.append(f"limits on the {mean}")
    return "\n".join(lines)


def initial_window(
    context: ConsoleContext, default_s: float, choices: Sequence[float]
) -> float:
    """Return a chart window to start with: the role's, or a replay's length.

    A seven-minute recording in a 6 h window is a few pixels at the right
    edge: a replay starts on the smallest choice that holds all of it.
    """
    replay = context.replay
    if replay is None:
        return default_s
    span = replay.end_time - replay.start_time
    fitting = [c for c in sorted(choices) if c >= span]
    return min(default_s, fitting[0]) if fitting else default_s


class VersionWatch:
    """Remembers the buffer version last drawn per key; owned by the GUI thread.

    Lets a panel skip channels whose buffers did not change since its last
    refresh (the ring buffers bump ``version`` on every append).
    """

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, int]] = {}

    def changed(self, context: ConsoleContext, key: str) -> bool:
        """Tell (once) whether ``key`` has samples newer than at the last call."""
        buf = context.store.buffer(key)
        # The buffer's identity counts too: a replay seek clears the store and
        # new buffers count their versions from zero again.
        mark = (-1, -1) if buf is None else (id(buf), buf.version)
        if self._seen.get(key) == mark:
            return False
        self._seen[key] = mark
        return True

    def forget(self, key: str | None = None) -> None:
        """Force a redraw of ``key`` (or of every key) at the next refresh."""
        if key is None:
            self._seen.clear()
        else:
            self._seen.pop(key, None)


class Panel(QDockWidget):
    """Base of the console's docks; owned by the GUI thread.

    The object name is what ``QMainWindow.saveState`` stores, so it must stay
    stable across versions. ``settings``/``restore_settings`` carry whatever
    the panel wants saved with a role layout (e.g. the plot configuration).
    A readout given to ``plot_link.watch`` asks for its plot on a
    double-click (``plot_requested(keys)``; the window opens it).
    """

    plot_requested = Signal(list)

    def __init__(
        self,
        context: ConsoleContext,
        title: str,
        object_name: str,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(title, parent)
        self.setObjectName(object_name)
        self.context = context
        self.plot_link = DoubleClickRelay(self)
        self.plot_link.activated.connect(self.plot_requested)
        self.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )

    def refresh(self, now: float) -> None:
        """Pull what changed from the context and redraw it (GUI thread)."""
        raise NotImplementedError

    def apply_role(self, role: str) -> None:
        """Load the built-in defaults of a role layout (nothing by default)."""

    def settings(self) -> dict[str, Any]:
        """JSON-able state saved with the role layout."""
        return {}

    def restore_settings(self, data: dict[str, Any]) -> None:
        """Apply what ``settings`` returned earlier (ignore what is unknown)."""

    def shutdown(self) -> None:
        """Release timers and connections before the window closes."""


class TileGrid(QWidget):
    """Lays tiles out in as many columns as fit; owned by the GUI thread.

    Readout tiles stay readable whether the dock is a tall side column or a
    wide strip along the bottom.
    """

    def __init__(
        self, min_tile_width: int = 190, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(4, 4, 4, 4)
        self._grid.setSpacing(6)
        self._tiles: list[QWidget] = []
        self._min = min_tile_width
        self._columns = 0

    def add_tile(self, tile: QWidget) -> None:
        self._tiles.append(tile)
        self._columns = 0
        self._relayout(self.width())

    def columns(self) -> int:
        return self._columns

    def _relayout(self, width: int) -> None:
        columns = max(1, min(len(self._tiles), max(width, 1) // self._min))
        if columns == self._columns:
            return
        self._columns = columns
        for tile in self._tiles:
            self._grid.removeWidget(tile)
        for i, tile in enumerate(self._tiles):
            self._grid.addWidget(tile, i // columns, i % columns)
        for c in range(self._grid.columnCount()):
            self._grid.setColumnStretch(c, 1 if c < columns else 0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._relayout(self.width())
