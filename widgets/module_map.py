"""2D map of a pressurized module: top (X-Y) and side (X-Z) views, to scale.

Draws the geometry it is given (module box, named zones, dock point), robots
with heading, label and trail, and point markers (e.g. dosimeters) by level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QWidget,
)

from widgets.levels import Level, palette

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from numpy.typing import ArrayLike
    from PySide6.QtWidgets import QStyleOptionGraphicsItem

View = Literal["top", "side"]
ZoneKind = Literal["keep_out", "end_bay", "hatch"] | str

#: Radius of the drawn robot body in metres (Int-Ball2 is a 0.1 m sphere).
ROBOT_RADIUS_M = 0.1
_ARROW_M = 0.35
_ALARM_RING_M = 0.28
# Smallest height of each view's plot area, in pixels.
MIN_VIEW_PX = 36
# Where a robot's label may go (TextItem anchors): above, below, right, left.
ROBOT_LABEL_ANCHORS = ((0.5, 1.25), (0.5, -0.25), (-0.25, 0.5), (1.25, 0.5))


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box in the module frame, metres. Immutable; any thread."""

    x0: float
    x1: float
    y0: float
    y1: float
    z0: float
    z1: float

    def rect(self, view: View) -> QRectF:
        """Return the box's outline in the top (X-Y) or side (X-Z) view."""
        lo, hi = (self.y0, self.y1) if view == "top" else (self.z0, self.z1)
        return QRectF(self.x0, lo, self.x1 - self.x0, hi - lo)


@dataclass(frozen=True, slots=True)
class Zone:
    """A named region: ``keep_out``, ``end_bay``, ``hatch`` or another kind.

    Immutable; usable from any thread.
    """

    name: str
    box: Box
    kind: ZoneKind = "keep_out"


@dataclass(frozen=True, slots=True)
class MapMarker:
    """A fixed point shown by level, e.g. an area dosimeter. Immutable; any thread."""

    name: str
    x: float
    y: float
    z: float
    level: Level = Level.NOMINAL
    label: str = ""


def _cosmetic(
    color: QColor, width: float = 1.0, style: Qt.PenStyle = Qt.PenStyle.SolidLine
) -> QPen:
    pen = QPen(color, width, style)
    pen.setCosmetic(True)
    return pen


class _BoxItem(QGraphicsRectItem):
    """Rectangle whose fill is drawn in device pixels.

    Hatches keep their spacing at any zoom. Owned by the GUI thread.
    """

    def paint(
        self,
        p: QPainter | None,
        opt: QStyleOptionGraphicsItem | None = None,
        widget: QWidget | None = None,
    ) -> None:
        if p is None:
            return
        device = p.transform().mapRect(self.rect())
        p.save()
        p.resetTransform()
        p.setBrushOrigin(QPointF(0.0, 0.0))
        p.fillRect(device, self.brush())
        p.setPen(self.pen())
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(device)
        p.restore()


class _RobotGlyph:
    """Items of one robot in one view.

    Body, heading arrow, alarm ring, label and trail. Owned by the GUI thread.
    """

    def __init__(self, plot: Any, view: View) -> None:
        self.view = view
        r = ROBOT_RADIUS_M
        self.body = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r)
        self.body.setZValue(20)
        ring = _ALARM_RING_M
        self.ring = QGraphicsEllipseItem(-ring, -ring, 2 * ring, 2 * ring, self.body)
        self.ring.setBrush(Qt.BrushStyle.NoBrush)
        self.ring.hide()
        self.arrow = QGraphicsPathItem(self.body)
        # A TextItem parented to the body was not drawn in the second view;
        # as a plot item of its own it is, and it stays unscaled.
        self.label = pg.TextItem("", anchor=(0.5, 1.25))
        self.label.setZValue(21)
        plot.addItem(self.label, ignoreBounds=True)
        self.trail = pg.PlotCurveItem()
        self.trail.setZValue(10)
        plot.addItem(self.trail, ignoreBounds=True)
        plot.addItem(self.body, ignoreBounds=True)

    def remove(self, plot: Any) -> None:
        for item in (self.body, self.trail, self.label):
            plot.removeItem(item)

    def place(self, x: float, v: float, heading: float) -> None:
        self.body.setPos(x, v)
        self.label.setPos(x, v + ROBOT_RADIUS_M)
        dx = math.cos(heading) * _ARROW_M
        dv = math.sin(heading) * _ARROW_M if self.view == "top" else 0.0
        path = QPainterPath()
        if math.hypot(dx, dv) > 0.02:
            path.moveTo(0.0, 0.0)
            path.lineTo(dx, dv)
            # arrow head, 0.1 m sides at +-150 degrees from the heading
            ang = math.atan2(dv, dx)
            for side in (2.6, -2.6):
                path.moveTo(dx, dv)
                path.lineTo(
                    dx + 0.1 * math.cos(ang + side), dv + 0.1 * math.sin(ang + side)
                )
        self.arrow.setPath(path)


@dataclass(slots=True)
class _Robot:
    """Drawing state of one robot. Owned by the GUI thread."""

    glyphs: tuple[_RobotGlyph, _RobotGlyph]
    color: QColor
    level: Level = Level.NOMINAL
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    heading: float = 0.0


class ModuleMap(pg.GraphicsLayoutWidget):  # type: ignore[misc]
    """Top (X-Y) and side (X-Z) views of a module, stacked, same X, to scale.

    Robots whose level is WARNING or worse get a dashed alarm ring in the level
    colour; CRITICAL rings blink (e.g. navigation lost, battery critical);
    STALE robots are hatched (position is old). Owned by the GUI thread.
    """

    def __init__(self, parent: QWidget | None = None, *, blink_ms: int = 500) -> None:
        pal = palette()
        super().__init__(parent, border=None)
        self.setBackground(pal.theme["plot_bg"])
        self.ci.setSpacing(2)
        self._plots: dict[View, Any] = {}
        layout: tuple[tuple[View, str, str], ...] = (
            ("top", "top view", "Y"),
            ("side", "side view", "Z"),
        )
        for row, (view, title, vlabel) in enumerate(layout):
            plot = self.addPlot(row=row, col=0)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            # No title row: it took 20 px from a map that must fit a 1280x720
            # flight layout; Y (top view) and Z (side view) name the views.
            plot.setToolTip(title)
            plot.setAspectLocked(True)
            plot.showGrid(x=True, y=True, alpha=0.2)
            for name, text in (("left", f"{vlabel} [m]"), ("bottom", "X [m]")):
                axis = plot.getAxis(name)
                axis.setPen(pg.mkPen(pal.theme["grid"]))
                axis.setTextPen(pg.mkPen(pal.theme["text_dim"]))
                axis.setLabel(text, color=pal.theme["text_dim"])
                axis.enableAutoSIPrefix(False)
            plot.getAxis("left").setWidth(46)
            # Never squeezed to nothing (a zero-height view breaks its labels).
            plot.getViewBox().setMinimumHeight(MIN_VIEW_PX)
            self._plots[view] = plot
        self._plots["side"].setXLink(self._plots["top"])
        # The side view below labels the shared X axis: the top view's
        # label would only take height from the module.
        top_x = self._plots["top"].getAxis("bottom")
        top_x.showLabel(False)
        # Its tick values repeat the side view's: the grid stays, the numbers
        # go, and the module gets their 15 px.
        top_x.setStyle(showValues=False)
        self._extent: dict[View, QRectF] = {}
        self._auto_fit = True
        for plot in self._plots.values():
            vb = plot.getViewBox()
            vb.sigResized.connect(self._on_resized)
            vb.sigRangeChangedManually.connect(self._on_user_view)
        self._geometry_items: list[tuple[View, Any]] = []
        # Zone and dock names, in the order they give way to each other.
        self._static_labels: list[tuple[View, Any]] = []
        self._robots: dict[str, _Robot] = {}
        self._markers: dict[View, Any] = {}
        self._marker_labels: list[tuple[View, Any]] = []
        self._marker_data: list[MapMarker] = []
        for view, plot in self._plots.items():
            scatter = pg.ScatterPlotItem(pxMode=True)
            scatter.setZValue(15)
            plot.addItem(scatter, ignoreBounds=True)
            self._markers[view] = scatter
        self._blink_on = True
        self._blink = QTimer(self)
        self._blink.setInterval(blink_ms)
        self._blink.timeout.connect(self._toggle_blink)

    # ---- views -------------------------------------------------------------------

    @property
    def top_view(self) -> Any:
        """Return the ViewBox of the top (X-Y) view; view coordinates are metres."""
        return self._plots["top"].getViewBox()

    @property
    def side_view(self) -> Any:
        """Return the ViewBox of the side (X-Z) view; view coordinates are metres."""
        return self._plots["side"].getViewBox()

    def view_box(self, view: View) -> Any:
        """Return the ViewBox of `view` ("top" or "side")."""
        return self._plots[view].getViewBox()

    # ---- geometry ------------------------------------------------------------------

    def set_geometry(
        self,
        module: Box,
        zones: Sequence[Zone] = (),
        dock: tuple[float, float, float] | None = None,
    ) -> None:
        """Draw the module interior, its zones and the dock point; fit the views."""
        pal = palette()
        for view, item in self._geometry_items:
            self._plots[view].removeItem(item)
        self._geometry_items = []
        self._static_labels = []
        for view in self._plots:
            shell = _BoxItem(module.rect(view))
            shell.setBrush(pal.color("map_module"))
            shell.setPen(_cosmetic(pal.color("map_outline"), 1.5))
            shell.setZValue(-10)
            self._add(view, shell)
            for zone in zones:
                self._add_zone(view, zone)
            if dock is not None:
                x, y, z = dock
                v = y if view == "top" else z
                mark = pg.ScatterPlotItem(
                    [x],
                    [v],
                    symbol="s",
                    size=9,
                    pxMode=True,
                    pen=pg.mkPen(pal.theme["text"], width=1.2),
                    brush=None,
                )
                mark.setZValue(5)
                self._add(view, mark)
                # Right of the marker: below it is where a robot leaving the
                # dock carries its own label, and the labels overlapped.
                text = pg.TextItem(
                    "dock", color=pal.theme["text_dim"], anchor=(-0.3, 0.5)
                )
                text.setPos(x, v)
                self._add(view, text)
                self._static_labels.insert(0, (view, text))
            extent = module.rect(view)
            for zone in zones:
                extent = extent.united(zone.box.rect(view))
            self._extent[view] = extent
        self.fit()

    def fit(self) -> None:
        """Show the whole module in both views, to the same scale (px per metre).

        Done automatically on resize until the user pans or zooms.
        """
        self._auto_fit = True
        if not self._extent:
            return
        pad = 0.25
        x0 = min(r.left() for r in self._extent.values()) - pad
        x1 = max(r.right() for r in self._extent.values()) + pad
        boxes = {v: self._plots[v].getViewBox() for v in self._extent}
        sizes = {v: (float(vb.width()), float(vb.height())) for v, vb in boxes.items()}
        if any(w < 2 or h < 2 for w, h in sizes.values()):
            for view, vb in boxes.items():
                vb.setRange(
                    self._extent[view].adjusted(-pad, -pad, pad, pad), padding=0
                )
            return
        # Linked X and locked aspect: one scale for both views, the largest at
        # which every view still shows its whole extent.
        scale = min(
            min(w / (x1 - x0), h / (self._extent[v].height() + 2 * pad))
            for v, (w, h) in sizes.items()
        )
        for view, vb in boxes.items():
            w, h = sizes[view]
            cx, cy = 0.5 * (x0 + x1), self._extent[view].center().y()
            vb.setRange(
                xRange=(cx - w / scale / 2, cx + w / scale / 2),
                yRange=(cy - h / scale / 2, cy + h / scale / 2),
                padding=0,
            )
        self._auto_fit = True
        self.declutter()

    def _on_resized(self, *_args: object) -> None:
        if self._auto_fit:
            self.fit()
        else:
            self.declutter()

    # ---- labels that avoid each other ------------------------------------------

    def _label_rect(self, view: View, item: Any) -> QRectF:
        """Return a TextItem's rectangle in scene pixels (it is drawn unscaled)."""
        vb = self._plots[view].getViewBox()
        anchor = vb.mapViewToScene(item.pos())
        size = item.textItem.boundingRect()
        ax, ay = item.anchor.x(), item.anchor.y()
        return QRectF(
            anchor.x() - ax * size.width(),
            anchor.y() - ay * size.height(),
            size.width(),
            size.height(),
        )

    def declutter(self) -> None:
        """Hide the labels that would sit on a label of higher rank.

        Robots first (a label moves below, right or left of its body when
        the space above is taken), then the dock, then zones. A hidden zone
        name comes back when the map is large enough; no label is drawn on
        another.
        """
        for view in self._plots:
            taken: list[QRectF] = []
            vb = self._plots[view].getViewBox()
            if vb.width() < 2 or vb.height() < 2:
                continue  # not laid out yet: no pixel positions to compare
            inside = vb.sceneBoundingRect()
            for robot in self._robots.values():
                glyph = robot.glyphs[0 if view == "top" else 1]
                label = glyph.label
                if not label.textItem.toPlainText():
                    continue
                # Above, below, right, left: the first place inside the view
                # and free; else the first free one; else above.
                fits: list[tuple[bool, int, QRectF]] = []
                for i, anchor in enumerate(ROBOT_LABEL_ANCHORS):
                    label.setAnchor(anchor)
                    rect = self._label_rect(view, label)
                    if not any(rect.intersects(r) for r in taken):
                        fits.append((not inside.contains(rect), i, rect))
                best = min(fits, key=lambda f: (f[0], f[1]), default=None)
                label.setAnchor(ROBOT_LABEL_ANCHORS[best[1] if best else 0])
                rect = best[2] if best else self._label_rect(view, label)
                taken.append(rect)
            for label_view, item in self._static_labels:
                if label_view != view:
                    continue
                rect = self._label_rect(view, item)
                free = not any(rect.intersects(r) for r in taken)
                item.setVisible(free)
                if free:
                    taken.append(rect)

    def visible_label_rects(self, view: View) -> list[tuple[str, QRectF]]:
        """Return (text, scene rectangle) of every label shown in ``view``."""
        items = [
            g.label
            for r in self._robots.values()
            for g in r.glyphs
            if g.view == view and g.label.textItem.toPlainText()
        ]
        items += [i for v, i in self._static_labels if v == view and i.isVisible()]
        return [(i.textItem.toPlainText(), self._label_rect(view, i)) for i in items]

    def _on_user_view(self, *_args: object) -> None:
        self._auto_fit = False

    def _add(self, view: View, item: Any) -> None:
        self._plots[view].addItem(item, ignoreBounds=True)
        self._geometry_items.append((view, item))

    def _add_zone(self, view: View, zone: Zone) -> None:
        pal = palette()
        item = _BoxItem(zone.box.rect(view))
        if zone.kind == "keep_out":
            color = Level.CRITICAL.color
            color.setAlpha(130)
            item.setBrush(QBrush(color, Qt.BrushStyle.BDiagPattern))
            item.setPen(_cosmetic(Level.CRITICAL.color, 1.0))
        elif zone.kind == "end_bay":
            item.setBrush(pal.color("surface"))
            item.setPen(_cosmetic(pal.color("map_outline"), 1.0, Qt.PenStyle.DashLine))
        elif zone.kind == "hatch":
            item.setBrush(pal.color("window"))
            item.setPen(_cosmetic(pal.color("accent"), 1.5))
        else:
            item.setBrush(Qt.BrushStyle.NoBrush)
            item.setPen(_cosmetic(pal.color("text_faint"), 1.0, Qt.PenStyle.DotLine))
        item.setZValue(-5)
        self._add(view, item)
        rect = zone.box.rect(view)
        text = pg.TextItem(zone.name, color=pal.theme["text_dim"], anchor=(0.5, 0.5))
        text.setPos(rect.center())
        text.setZValue(-4)
        self._add(view, text)
        self._static_labels.append((view, text))

    # ---- robots --------------------------------------------------------------------

    def set_robot(
        self,
        name: str,
        x: float,
        y: float,
        z: float,
        heading_rad: float,
        level: Level = Level.NOMINAL,
        label: str | None = None,
    ) -> None:
        """Place robot `name` at (x, y, z) m with yaw `heading_rad` (0 = +X).

        `label` defaults to the name. Adds the robot on first call.
        """
        robot = self._robots.get(name)
        if robot is None:
            color = palette().series_color(len(self._robots))
            glyphs = (
                _RobotGlyph(self._plots["top"], "top"),
                _RobotGlyph(self._plots["side"], "side"),
            )
            robot = _Robot(glyphs, color)
            self._robots[name] = robot
            robot.level = Level.NO_DATA  # force styling below
        text = name if label is None else label
        for glyph, v in zip(robot.glyphs, (y, z), strict=True):
            glyph.place(x, v, heading_rad)
            if glyph.label.textItem.toPlainText() != text:
                glyph.label.setText(text)
        robot.position = (x, y, z)
        robot.heading = heading_rad
        self.declutter()
        if level is not robot.level:
            robot.level = level
            self._style_robot(robot)
            self._update_blink()

    def remove_robot(self, name: str) -> None:
        """Remove robot `name` and its trail (no error if absent)."""
        robot = self._robots.pop(name, None)
        if robot is not None:
            for glyph in robot.glyphs:
                glyph.remove(self._plots[glyph.view])
            self._update_blink()

    def set_trail(self, name: str, xs: ArrayLike, ys: ArrayLike, zs: ArrayLike) -> None:
        """Recent path of robot `name` (which must have been placed)."""
        robot = self._robots[name]
        x = np.asarray(xs, dtype=np.float64)
        for glyph, v in zip(robot.glyphs, (ys, zs), strict=True):
            glyph.trail.setData(
                x=x, y=np.asarray(v, dtype=np.float64), connect="finite"
            )

    def robot_names(self) -> list[str]:
        """Return the names of the robots on the map."""
        return list(self._robots)

    def robot_level(self, name: str) -> Level:
        """Return the level robot `name` is drawn with."""
        return self._robots[name].level

    def robot_item(self, name: str, view: View) -> QGraphicsItem:
        """Return the body item of robot `name` in `view`; its pos() is in metres."""
        return self._robots[name].glyphs[0 if view == "top" else 1].body

    def robot_alarmed(self, name: str) -> bool:
        """Tell whether robot `name` is drawn with an alarm ring."""
        return self._robots[name].level.rank >= Level.WARNING.rank

    def trail_data(self, name: str, view: View) -> tuple[Any, Any]:
        """Return the (x, y-or-z) points of the trail drawn in `view`."""
        x, v = self._robots[name].glyphs[0 if view == "top" else 1].trail.getData()
        return x, v

    def _style_robot(self, robot: _Robot) -> None:
        pal = palette()
        level = robot.level
        alarmed = level.rank >= Level.WARNING.rank
        for glyph in robot.glyphs:
            if level is Level.STALE:
                glyph.body.setBrush(Level.STALE.brush())
                glyph.body.setPen(
                    _cosmetic(Level.STALE.color, 1.5, Qt.PenStyle.DashLine)
                )
            elif level is Level.NO_DATA:
                glyph.body.setBrush(Qt.BrushStyle.NoBrush)
                glyph.body.setPen(_cosmetic(pal.color("text_faint"), 1.5))
            else:
                fill = (
                    robot.color
                    if level in (Level.NOMINAL, Level.WATCH)
                    else level.color
                )
                glyph.body.setBrush(fill)
                edge = level.color if level is Level.WATCH else pal.color("plot_bg")
                glyph.body.setPen(_cosmetic(edge, 1.5))
            glyph.arrow.setPen(_cosmetic(pal.color("text"), 2.0))
            glyph.ring.setPen(_cosmetic(level.color, 2.0, Qt.PenStyle.DashLine))
            glyph.ring.setVisible(alarmed)
            glyph.label.setColor(
                level.color if level.is_abnormal else pal.color("text")
            )
            trail = QColor(robot.color)
            trail.setAlpha(140)
            glyph.trail.setPen(pg.mkPen(trail, width=1, style=Qt.PenStyle.DotLine))

    def _update_blink(self) -> None:
        blinking = any(r.level is Level.CRITICAL for r in self._robots.values())
        if blinking and not self._blink.isActive():
            self._blink.start()
        elif not blinking and self._blink.isActive():
            self._blink.stop()
            self._blink_on = True

    def _toggle_blink(self) -> None:
        self._blink_on = not self._blink_on
        for robot in self._robots.values():
            if robot.level is Level.CRITICAL:
                for glyph in robot.glyphs:
                    glyph.ring.setVisible(self._blink_on)

    def is_blinking(self) -> bool:
        """Tell whether a CRITICAL robot's ring is blinking."""
        return self._blink.isActive()

    # ---- markers ------------------------------------------------------------------

    def set_markers(self, markers: Iterable[MapMarker]) -> None:
        """Replace the point markers (e.g. dosimeters), coloured by level."""
        pal = palette()
        data = list(markers)
        self._marker_data = data
        for view, item in self._marker_labels:
            self._plots[view].removeItem(item)
        self._marker_labels = []
        brushes = [
            m.level.brush() if m.level is not Level.NOMINAL else QBrush(m.level.color)
            for m in data
        ]
        pens = [
            pg.mkPen(
                m.level.color if m.level.is_abnormal else pal.theme["text"], width=1.2
            )
            for m in data
        ]
        for view, scatter in self._markers.items():
            xs = [m.x for m in data]
            vs = [m.y if view == "top" else m.z for m in data]
            scatter.setData(
                x=xs,
                y=vs,
                symbol="d",
                size=11,
                brush=brushes,
                pen=pens,
                data=[m.name for m in data],
            )
            for m, v in zip(data, vs, strict=True):
                if not m.label:
                    continue
                color = m.level.color if m.level.is_abnormal else pal.color("text_dim")
                text = pg.TextItem(m.label, color=color, anchor=(-0.15, 0.5))
                text.setPos(m.x, v)
                text.setZValue(16)
                self._plots[view].addItem(text, ignoreBounds=True)
                self._marker_labels.append((view, text))

    def markers(self) -> list[MapMarker]:
        """Return the markers drawn."""
        return list(self._marker_data)
