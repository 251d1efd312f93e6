from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF

from widgets.levels import Level
from widgets.module_map import Box, MapMarker, ModuleMap, Zone

# JPM free volume, end bay and hatch (telemetry reference, "Kibo JPM geometry").
FREE = Box(0.4, 6.9, -1.07, 1.07, -1.07, 1.07)
ZONES = [
    Zone("hatch", Box(-0.5, 0.4, -0.66, 0.66, -0.66, 0.66), "hatch"),
    Zone("end bay", Box(6.9, 9.3, -1.4, 1.4, -1.1, 1.1), "end_bay"),
    Zone("rack", Box(3.0, 4.2, 0.7, 1.07, -1.07, 1.07), "keep_out"),
]
DOCK = (1.15, 0.0, 0.73)


@pytest.fixture
def jpm(qtbot):
    w = ModuleMap()
    qtbot.addWidget(w)
    w.resize(700, 520)
    w.show()
    qtbot.waitExposed(w)
    w.set_geometry(FREE, ZONES, DOCK)
    return w


def close(a: QPointF, b: QPointF, tol: float = 1e-6) -> bool:
    return abs(a.x() - b.x()) < tol and abs(a.y() - b.y()) < tol


def test_robot_is_placed_at_its_coordinates_in_both_views(jpm):
    jpm.set_robot("ib2-a", 4.6, -0.3, 0.2, 0.0)
    top = jpm.robot_item("ib2-a", "top")
    side = jpm.robot_item("ib2-a", "side")
    assert top.pos() == QPointF(4.6, -0.3)
    assert side.pos() == QPointF(4.6, 0.2)
    assert close(top.scenePos(), jpm.top_view.mapViewToScene(QPointF(4.6, -0.3)))
    assert close(side.scenePos(), jpm.side_view.mapViewToScene(QPointF(4.6, 0.2)))
    # The same X lands on the same screen column in both views (pyqtgraph's
    # aspect lock and X link agree to within a pixel).
    assert top.scenePos().x() == pytest.approx(side.scenePos().x(), abs=1.0)
    jpm.set_robot("ib2-a", 1.0, 0.5, -0.5, 0.0)
    assert close(top.scenePos(), jpm.top_view.mapViewToScene(QPointF(1.0, 0.5)))


def test_heading_arrow_points_along_heading(jpm):
    jpm.set_robot("ib2-a", 3.0, 0.0, 0.0, math.pi / 2)
    top = jpm.robot_item("ib2-a", "top")
    arrow = next(c for c in top.childItems() if hasattr(c, "path"))
    tip = arrow.path().elementAt(1)
    assert (tip.x, tip.y) == pytest.approx((0.0, 0.35), abs=1e-9)
    tip_on_screen = arrow.mapToScene(QPointF(tip.x, tip.y))
    assert tip_on_screen.y() < top.scenePos().y()  # +Y is up on the top view


def test_views_are_to_scale_and_show_the_whole_module(jpm):
    for vb, (lo, hi) in ((jpm.top_view, (-1.4, 1.4)), (jpm.side_view, (-1.1, 1.1))):
        (x0, x1), (v0, v1) = vb.viewRange()
        assert x0 <= -0.5
        assert x1 >= 9.3
        assert v0 <= lo
        assert v1 >= hi
        px_per_m_x = vb.width() / (x1 - x0)
        px_per_m_v = vb.height() / (v1 - v0)
        assert px_per_m_x == pytest.approx(px_per_m_v, rel=0.02)
    top_x, side_x = jpm.top_view.viewRange()[0], jpm.side_view.viewRange()[0]
    metres_per_px = (top_x[1] - top_x[0]) / jpm.top_view.width()
    assert top_x == pytest.approx(side_x, abs=1.5 * metres_per_px)


def test_refits_on_resize_until_user_zooms(jpm, qtbot):
    jpm.resize(1000, 520)
    qtbot.waitUntil(lambda: jpm.top_view.width() > 900)
    x0, x1 = jpm.top_view.viewRange()[0]
    assert x0 <= -0.5
    assert x1 >= 9.3


def test_lost_navigation_is_drawn_critical_and_blinking(qtbot):
    jpm = ModuleMap(blink_ms=50)
    qtbot.addWidget(jpm)
    jpm.set_geometry(FREE, ZONES, DOCK)
    jpm.set_robot("ib2-b", 2.2, 0.5, -0.4, 3.0, Level.CRITICAL, "NAV LOST")
    assert jpm.robot_level("ib2-b") is Level.CRITICAL
    assert jpm.robot_alarmed("ib2-b")
    assert jpm.is_blinking()
    body = jpm.robot_item("ib2-b", "top")
    assert body.brush().color() == Level.CRITICAL.color
    ring = next(c for c in body.childItems() if c.rect().width() > body.rect().width())
    first = ring.isVisible()
    qtbot.waitUntil(lambda: ring.isVisible() != first, timeout=2000)
    jpm.set_robot("ib2-b", 2.2, 0.5, -0.4, 3.0, Level.NOMINAL)
    assert not jpm.is_blinking()
    assert not jpm.robot_alarmed("ib2-b")
    assert not ring.isVisible()


def test_warning_robot_gets_a_steady_ring(jpm):
    jpm.set_robot("ib2-a", 2.0, 0.0, 0.0, 0.0, Level.WARNING, "battery 18 %")
    assert jpm.robot_alarmed("ib2-a")
    assert not jpm.is_blinking()


def test_trail_follows_robot(jpm):
    jpm.set_robot("ib2-a", 4.6, -0.3, 0.2, 0.0)
    xs = np.linspace(2.0, 4.6, 10)
    ys = np.linspace(-0.8, -0.3, 10)
    zs = np.linspace(0.4, 0.2, 10)
    jpm.set_trail("ib2-a", xs, ys, zs)
    x, y = jpm.trail_data("ib2-a", "top")
    np.testing.assert_allclose(x, xs)
    np.testing.assert_allclose(y, ys)
    x, z = jpm.trail_data("ib2-a", "side")
    np.testing.assert_allclose(z, zs)
    jpm.remove_robot("ib2-a")
    assert jpm.robot_names() == []


def test_markers_are_coloured_by_level(jpm):
    jpm.set_markers(
        [
            MapMarker("padles-jpm-1", 1.5, -1.0, 0.9, Level.NOMINAL, "PADLES 1"),
            MapMarker("padles-jpm-2", 5.8, 1.0, -0.9, Level.WARNING, "PADLES 2"),
        ]
    )
    assert [m.name for m in jpm.markers()] == ["padles-jpm-1", "padles-jpm-2"]
    scatter = next(
        i
        for i in jpm.top_view.allChildren()
        if isinstance(i, pg.ScatterPlotItem) and len(i.points()) == 2
    )
    spots = scatter.points()
    assert (spots[1].pos().x(), spots[1].pos().y()) == (5.8, 1.0)
    assert spots[1].brush().color() == Level.WARNING.color
    jpm.set_markers([])
    assert jpm.markers() == []


def test_box_projection():
    box = Box(0.0, 2.0, -1.0, 1.0, -0.5, 0.5)
    assert box.rect("top").height() == 2.0
    assert box.rect("side").height() == 1.0
