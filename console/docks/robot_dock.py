"""Where the camera robots are and how they are: module map plus per-robot readouts.

The map shows each robot's position, heading (from its attitude quaternion)
and last two minutes of path inside the JPM, with keep-out zones and the dock.
A robot's marker takes the worst level of its navigation, battery, mode,
temperature and link, so a lost navigation or a flat battery cannot be missed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QSplitter, QWidget

from console.docks.panel import Panel, VersionWatch, describe
from widgets.levels import Level, worst
from widgets.module_map import Box, ModuleMap, Zone
from widgets.plain_text import tip
from widgets.status_lamp import StatusLamp
from widgets.value_readout import ValueReadout

if TYPE_CHECKING:
    from console.context import ConsoleContext
    from telemetry.core.dictionary import TelemetryDictionary

TRAIL_S = 120.0
#: How far outside the module's keep-in volume a reported position may be
#: before it is no pose at all (navigation drift near a wall stays on the map;
#: 1,000 km from Kibo is a frame or units bug in a gateway).
POSE_MARGIN_M = 1.0
#: A unit quaternion's norm is 1; past this a reported attitude means nothing.
QUAT_NORM_TOLERANCE = 0.1
POSE = ("pos_x", "pos_y", "pos_z", "quat_x", "quat_y", "quat_z", "quat_w")
# Channels whose level colours the robot's map marker (pose staleness included).
HEALTH = ("nav_status", "battery_pct", "mode", "temp_c", "ctl_type", "pos_x")
# (readout label, channels shown in it); the camera tile folds three channels.
READOUTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Battery", ("battery_pct",)),
    ("Mode", ("mode",)),
    ("Navigation", ("nav_status",)),
    ("Camera", ("cam_power", "cam_record")),
    ("Temperature", ("temp_c",)),
)
# Short words added to the map label when something is wrong.
_LABEL_HINTS = {
    "nav_status": "",
    "battery_pct": "BATT",
    "mode": "",
    "temp_c": "TEMP",
    "ctl_type": "",
}


def heading_from_quaternion(x: float, y: float, z: float, w: float) -> float:
    """Yaw (rad, 0 = +X, counter-clockwise seen from +Z) of the body +X axis."""
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def pose_problem(
    position: tuple[float, float, float], quat: list[float], box: Box
) -> str:
    """Say why a reported pose cannot be where the robot is ("" if it can)."""
    x, y, z = position
    if not all(map(math.isfinite, position)):
        return "position not a number"
    m = POSE_MARGIN_M
    inside = (
        box.x0 - m <= x <= box.x1 + m
        and box.y0 - m <= y <= box.y1 + m
        and box.z0 - m <= z <= box.z1 + m
    )
    if not inside:
        return "outside Kibo"
    if all(map(math.isfinite, quat)):
        norm = math.sqrt(sum(q * q for q in quat))
        if abs(norm - 1.0) > QUAT_NORM_TOLERANCE:
            return "attitude invalid"  # not a unit quaternion
    return ""


def module_box(dictionary: TelemetryDictionary, module: str = "JPM") -> Box:
    """Return the module's free volume as a map box (the JPM keep-in by default)."""
    spec = dictionary.modules.get(module)
    ext = spec.extent if spec is not None else {}
    (x0, x1), (y0, y1), (z0, z1) = (ext.get(a, (-1.0, 1.0)) for a in "xyz")
    return Box(x0, x1, y0, y1, z0, z1)


class _RobotRow:
    """The readouts of one robot; owned by the GUI thread."""

    def __init__(self, context: ConsoleContext, source: str, parent: QWidget) -> None:
        self.source = source
        self.lamp = StatusLamp(source, parent)
        self.lamp.setToolTip(f"{source}: link state")
        self.readouts: dict[str, ValueReadout] = {}
        for label, channels in READOUTS:
            key = f"{source}.{channels[0]}"
            spec = context.dictionary.channel_for_key(key)
            unit = spec.unit if spec is not None else ""
            tile = ValueReadout(label, unit, parent)
            tile.setToolTip(
                tip("\n\n".join(describe(context, f"{source}.{c}") for c in channels))
            )
            tile.setAccessibleName(f"{source} {label}")
            self.readouts[label] = tile
        self.shown: dict[str, tuple[str, Level, str]] = {}


class RobotDock(Panel):
    """Module map and readouts of every robot source; owned by the GUI thread."""

    def __init__(self, context: ConsoleContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "Int-Ball2 robots · JPM map", "robots", parent)
        self._watch = VersionWatch()
        dictionary = context.dictionary
        self.map = ModuleMap()
        self._box = module_box(dictionary)
        # Why a robot's reported pose is not believable ("" when it is).
        self._pose_problem: dict[str, str] = {}
        self.map.set_geometry(
            self._box,
            [
                Zone(
                    z.name, Box(z.x[0], z.x[1], z.y[0], z.y[1], z.z[0], z.z[1]), z.kind
                )
                for z in dictionary.zones
            ],
            dictionary.dock,
        )
        # Low enough for the flight layout on a 1280x720 screen (replay bar
        # included); the map keeps its aspect and declutters its labels.
        self.map.setMinimumHeight(140)
        self._sources = [s.id for s in dictionary.sources_of("robot")]
        table = QWidget(self)
        grid = QGridLayout(table)
        grid.setContentsMargins(4, 2, 4, 2)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        self._rows: dict[str, _RobotRow] = {}
        for r, source in enumerate(self._sources):
            row = _RobotRow(context, source, table)
            grid.addWidget(row.lamp, r, 0)
            for c, tile in enumerate(row.readouts.values(), start=1):
                grid.addWidget(tile, r, c)
                grid.setColumnStretch(c, 1)
            self._rows[source] = row
            for label, channels in READOUTS:
                keys = [f"{source}.{c}" for c in channels]
                self.plot_link.watch(row.readouts[label], keys)
        self._marker: dict[str, tuple[Level, str]] = {}
        # Five tiles per robot must fit a third of the screen: a smaller value
        # font than the ECLSS tiles (colours still come from the theme).
        table.setStyleSheet("ValueReadout QLabel#readoutValue { font-size: 15pt; }")
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.map)
        split.addWidget(table)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setChildrenCollapsible(False)
        self.setWidget(split)

    def sources(self) -> list[str]:
        return list(self._sources)

    def readout(self, source: str, label: str) -> ValueReadout:
        return self._rows[source].readouts[label]

    def link_lamp(self, source: str) -> StatusLamp:
        return self._rows[source].lamp

    def pose_problem(self, source: str) -> str:
        """Why ``source``'s pose is not shown as reported ("" when it is)."""
        return self._pose_problem.get(source, "")

    def refresh(self, now: float) -> None:
        for source in self._sources:
            self._refresh_pose(source, now)
            self._refresh_readouts(source, now)

    # ---- map -------------------------------------------------------------

    def _robot_level(self, source: str, now: float) -> tuple[Level, str]:
        ctx = self.context
        levels: list[Level] = []
        hints: list[str] = []
        for name in HEALTH:
            level = ctx.level_of(f"{source}.{name}", now)
            levels.append(level)
            if level.rank >= Level.WARNING.rank and name in _LABEL_HINTS:
                latest = ctx.latest(f"{source}.{name}")
                key = f"{source}.{name}"
                value = (
                    f"{ctx.format(key, latest[1])} {ctx.unit(key)}" if latest else ""
                )
                hints.append(f"{_LABEL_HINTS[name]} {value}".strip())
        # The map label must stay short enough not to cover the module.
        hints = hints[:2]
        stats = ctx.store.sources.get(source)
        if stats is not None and stats.link == "down":
            levels.append(Level.CRITICAL)
            hints.append("LINK DOWN")
        level = worst(levels)
        if level is Level.STALE and not hints:
            hints.append("STALE")
        return level, " · ".join([source, *hints])

    def _refresh_pose(self, source: str, now: float) -> None:
        ctx = self.context
        keys = [f"{source}.{c}" for c in POSE]
        # Every pose channel is checked so each watch records the version.
        moved = [self._watch.changed(ctx, k) for k in keys]
        health = self._robot_level(source, now)
        level, label = health
        if not any(moved) and self._marker.get(source) == health:
            return
        latest = [ctx.latest(k) for k in keys]
        if any(v is None for v in latest[:3]):
            # Never seen, or a replay seek cleared the store: not on the map.
            self._pose_problem.pop(source, None)
            if self._marker.pop(source, None) is not None:
                self.map.remove_robot(source)
            return
        x, y, z = (v[1] for v in latest[:3] if v is not None)
        quat = [v[1] if v is not None else math.nan for v in latest[3:]]
        problem = pose_problem((x, y, z), quat, self._box)
        self._pose_problem[source] = problem
        if problem:
            # Never silently off the map: pinned to the module's edge nearest
            # the report, flagged, so the controller knows the robot's
            # whereabouts are unknown rather than that it is not there.
            b = self._box
            x, y, z = (
                min(max(v, lo), hi) if math.isfinite(v) else (lo + hi) / 2
                for v, lo, hi in ((x, b.x0, b.x1), (y, b.y0, b.y1), (z, b.z0, b.z1))
            )
            level = worst([level, Level.WARNING])
            label = f"{source} · POSE INVALID: {problem}"
        heading = (
            heading_from_quaternion(*quat)
            if all(map(math.isfinite, quat)) and not problem
            else 0.0
        )
        # The marker as health alone paints it: the pose's flag follows moves.
        self._marker[source] = health
        self.map.set_robot(source, x, y, z, heading, level, label)
        if any(moved[:3]):
            trail = [ctx.store.buffer(k) for k in keys[:3]]
            windows = [
                b.window(now - TRAIL_S) if b is not None else None for b in trail
            ]
            if all(w is not None for w in windows):
                (tx, xs), (ty, ys), (tz, zs) = (w for w in windows if w is not None)
                n = min(len(xs), len(ys), len(zs))
                # Columns of one frame share their times, so the newest n align.
                self.map.set_trail(source, xs[-n:], ys[-n:], zs[-n:])

    # ---- readouts --------------------------------------------------------

    def _refresh_readouts(self, source: str, now: float) -> None:
        ctx = self.context
        row = self._rows[source]
        stats = ctx.store.sources.get(source)
        link = stats.link if stats is not None else "no data"
        lamp_level = {
            "up": Level.NOMINAL,
            "stale": Level.STALE,
            "down": Level.CRITICAL,
        }.get(link, Level.NO_DATA)
        row.lamp.set_level(lamp_level, f"{source}\n{link}")
        for label, channels in READOUTS:
            keys = [f"{source}.{c}" for c in channels]
            changed = [self._watch.changed(ctx, k) for k in keys]
            level = worst(ctx.level_of(k, now) for k in keys)
            values = [ctx.latest(k) for k in keys]
            if all(v is None for v in values):
                # Nothing yet, or a replay seek cleared the store.
                if row.shown.pop(label, None) is not None:
                    row.readouts[label].clear()
                continue
            if label == "Camera":
                power = ctx.format(keys[0], values[0][1]) if values[0] else "—"
                rec = (
                    values[1] is not None and ctx.format(keys[1], values[1][1]) == "ON"
                )
                text = f"{power} · REC" if rec else power
            else:
                first = values[0]
                text = ctx.format(keys[0], first[1]) if first is not None else "—"
            note = ctx.stale_note(keys[0], now) if level is Level.STALE else ""
            problem = self._pose_problem.get(source, "")
            if label == "Navigation" and problem:
                # The navigation filter's output is the pose: whatever its
                # status word says, a pose outside the module is a failure.
                # No note: any text in the tag widens the tile, and the
                # window past a 1280-px screen; the map label above says why.
                level = worst([level, Level.WARNING])
            shown = (text, level, note)
            if any(changed) or row.shown.get(label) != shown:
                row.shown[label] = shown
                row.readouts[label].set_value(text, level, note=note)
