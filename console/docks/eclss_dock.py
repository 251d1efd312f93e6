"""Cabin atmosphere at a glance: pressure, ppO2, ppCO2, temperature, humidity, water.

One ValueReadout per channel with its limit level, age when stale and a
10-minute trend; values and limits come from the dictionary. A limit the
dictionary declares on a rolling mean (the ppCO2 ops limit, 24 h) is named
so in the tool tip, with the mean it is judged on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QScrollArea, QVBoxLayout, QWidget

from console.docks.panel import Panel, TileGrid, VersionWatch, describe
from widgets.levels import Level
from widgets.plain_text import tip
from widgets.value_readout import ValueReadout

if TYPE_CHECKING:
    from console.context import ConsoleContext

TREND_S = 600.0
# The order a flight controller scans the cabin: crew-health gases first.
ECLSS_CHANNELS: tuple[tuple[str, str], ...] = (
    ("ppco2", "ppCO₂"),
    ("ppo2", "ppO₂"),
    ("p_total", "Cabin pressure"),
    ("temp", "Cabin temperature"),
    ("rh", "Relative humidity"),
    ("dewpoint", "Dew point"),
    ("water_recovery", "Water recovery"),
)


class EclssDock(Panel):
    """ECLSS readouts of every cabin source; owned by the GUI thread."""

    def __init__(self, context: ConsoleContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "ECLSS · cabin atmosphere", "eclss", parent)
        self._watch = VersionWatch()
        self._readouts: dict[str, ValueReadout] = {}
        self._levels: dict[str, tuple[Level, str]] = {}
        body = QWidget(self)
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        self._grid = TileGrid(175, body)
        column.addWidget(self._grid)
        column.addStretch(1)
        sources = context.dictionary.sources_of("eclss")
        for source in sources:
            prefix = f"{source.id} · " if len(sources) > 1 else ""
            for name, label in ECLSS_CHANNELS:
                key = f"{source.id}.{name}"
                spec = context.dictionary.channel_for_key(key)
                if spec is None:
                    continue
                readout = ValueReadout(f"{prefix}{label}", spec.unit, trend=True)
                readout.setToolTip(tip(describe(context, key)))
                readout.setAccessibleName(f"{prefix}{label}")
                self.plot_link.watch(readout, [key])
                self._grid.add_tile(readout)
                self._readouts[key] = readout
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        self.setWidget(scroll)

    def _show_mean(self, key: str, readout: ValueReadout, newest: float) -> None:
        """Put the rolling mean a limit is judged on in the tool tip."""
        spec = self.context.dictionary.channel_for_key(key)
        if spec is None or spec.mean_limits is None:
            return
        buf = self.context.store.buffer(key)
        if buf is None:
            return
        window = spec.mean_limits.window_s
        # The pipeline judges the mean over (newest - window, newest].
        t, y = buf.window(newest - window + 1e-9)
        if not y.shape[0]:
            return
        span = float(t[-1] - t[0])
        covered = "" if span >= 0.99 * window else f", over {_hours(span)} so far"
        mean = f"{spec.mean_limits.applies_to()} now {spec.fmt.format(float(y.mean()))}"
        readout.setToolTip(
            tip(f"{describe(self.context, key)}\n{mean} {spec.unit}{covered}")
        )

    def keys(self) -> list[str]:
        return list(self._readouts)

    def readout(self, key: str) -> ValueReadout:
        return self._readouts[key]

    def refresh(self, now: float) -> None:
        ctx = self.context
        for key, readout in self._readouts.items():
            buf = ctx.store.buffer(key)
            if buf is None:
                # Nothing yet, or a replay seek cleared the store: show no data.
                if self._levels.pop(key, None) is not None:
                    readout.clear()
                    self._watch.forget(key)
                continue
            if self._watch.changed(ctx, key):
                latest = buf.latest()
                if latest is not None:
                    readout.set_value(ctx.format(key, latest[1]), readout.level())
                    t, y = buf.window(now - TREND_S)
                    readout.set_trend(t, y)
                    self._show_mean(key, readout, latest[0])
            # The level moves without new samples (staleness, acknowledgement),
            # so it is checked every refresh but applied only when it changes.
            level = ctx.level_of(key, now)
            note = ctx.stale_note(key, now) if level is Level.STALE else ""
            if self._levels.get(key) != (level, note):
                self._levels[key] = (level, note)
                readout.set_level(level, note=note)


def _hours(seconds: float) -> str:
    """``3.2 h``, or ``12 min`` below an hour."""
    if seconds < 3600.0:
        return f"{seconds / 60.0:.0f} min"
    return f"{seconds / 3600.0:.1f} h"
