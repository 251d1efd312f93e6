"""Every widget in one themed window, saved as a PNG (a smoke test of the looks).

Not a pixel comparison: it checks that the window renders, is not blank and
that each widget got a sensible size. Look at the PNG when changing styles:
pytest tests/widgets/test_gallery.py --basetemp=/tmp/gallery
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QVBoxLayout,
    QWidget,
)

from widgets.banner import Banner
from widgets.event_table import AlarmTable, EventRow
from widgets.levels import Level
from widgets.limit_bar import LimitBar
from widgets.module_map import Box, MapMarker, ModuleMap, Zone
from widgets.status_lamp import StatusLamp
from widgets.strip_chart import ReferenceLine, StripChart
from widgets.value_readout import ValueReadout

T_END = 1_505_044_800.0  # 2017-09-10 12:00 UTC


def build_gallery() -> QWidget:
    rng = np.random.default_rng(7)
    window = QWidget()
    window.setWindowTitle("Kibo ops console: widget gallery")
    outer = QVBoxLayout(window)
    outer.setContentsMargins(8, 8, 8, 8)
    outer.setSpacing(6)

    replay = Banner()
    replay.set_message(
        "REPLAY ×10", Level.WATCH, "session 2017-09-10 GOES-13 SPE · not live data"
    )
    spe = Banner()
    spe.set_message(
        "SPE IN PROGRESS: S3",
        Level.CRITICAL,
        "Crew to shelter in SM (Zvezda) · p10 above 1000 pfu",
    )
    outer.addWidget(replay)
    outer.addWidget(spe)

    top = QHBoxLayout()
    outer.addLayout(top, 3)
    charts = QVBoxLayout()
    top.addLayout(charts, 3)

    t = T_END - 3600 + np.arange(3600.0)
    co2 = 2.35 + 0.15 * np.sin(t / 400) + rng.normal(0, 0.02, t.size)
    co2[2000:2100] = np.nan  # invalid samples
    keep = (t < T_END - 1500) | (t > T_END - 1320)  # three minutes of LOS
    co2[3300] = 4.3
    eclss = StripChart(title="JPM cabin ppCO₂", unit="mmHg", window_s=3600)
    eclss.set_series("jpm.ppco2", t[keep], co2[keep])
    eclss.set_bands(
        {
            Level.WATCH: (None, 2.3),
            Level.WARNING: (None, 2.7),
            Level.CRITICAL: (None, 4.0),
        }
    )
    eclss.set_spans([(T_END - 1500, T_END - 1320, Level.STALE)])
    eclss.set_now(T_END)

    tr = T_END - 3600 + np.arange(0, 3600.0, 10.0)
    base = 25.75 * (1 + 0.05 * rng.normal(size=tr.size))
    saa = (tr > T_END - 2400) & (tr < T_END - 1800)
    base[saa] *= 1 + 30 * np.sin(np.pi * (tr[saa] - tr[saa][0]) / 600)
    rad = StripChart(title="Dose-equivalent rate", unit="µSv/h", window_s=3600)
    rad.set_series("padles-jpm-1", tr, base)
    rad.set_series("tepc-uslab", tr, base * 0.8 + rng.normal(0, 1, tr.size))
    rad.set_log_y(True)
    rad.set_spans([(T_END - 2400, T_END - 1800, Level.WATCH)])
    rad.set_now(T_END)

    goes = StripChart(title="GOES proton flux ≥10 MeV", unit="pfu", window_s=3600)
    flux = 10 ** (1.2 + 2.3 * (t - t[0]) / 3600 + rng.normal(0, 0.03, t.size))
    goes.set_series("goes.p10", t, flux)
    goes.set_log_y(True)
    goes.set_reference_lines(
        [
            ReferenceLine(10.0, "S1"),
            ReferenceLine(100.0, "S2", Level.WARNING),
            ReferenceLine(1000.0, "S3", Level.CRITICAL),
        ]
    )
    goes.set_now(T_END)
    eclss.link_x(rad)
    eclss.link_x(goes)
    for chart in (eclss, rad, goes):
        charts.addWidget(chart)

    side = QVBoxLayout()
    top.addLayout(side, 2)
    jpm = ModuleMap()
    jpm.set_geometry(
        Box(0.4, 6.9, -1.07, 1.07, -1.07, 1.07),
        [
            Zone("hatch", Box(-0.5, 0.4, -0.66, 0.66, -0.66, 0.66), "hatch"),
            Zone("end bay", Box(6.9, 9.3, -1.4, 1.4, -1.1, 1.1), "end_bay"),
            Zone("rack", Box(3.0, 4.2, 0.7, 1.07, -1.07, 1.07), "keep_out"),
        ],
        dock=(1.15, 0.0, 0.73),
    )
    s = np.linspace(0, 1, 60)
    jpm.set_robot("ib2-a", 4.6, -0.3, 0.2, 0.6, Level.NOMINAL, "ib2-a · OPERATION")
    jpm.set_trail("ib2-a", 2.0 + 2.6 * s, -0.8 + 0.5 * s, 0.4 - 0.2 * s)
    jpm.set_robot("ib2-b", 2.2, 0.5, -0.4, 3.0, Level.CRITICAL, "ib2-b · NAV LOST")
    jpm.set_markers(
        [
            MapMarker("padles-jpm-1", 1.5, -1.0, 0.9, Level.NOMINAL, "PADLES 1"),
            MapMarker("padles-jpm-2", 5.8, 1.0, -0.9, Level.WATCH, "PADLES 2"),
        ]
    )
    side.addWidget(jpm, 3)

    alarms = AlarmTable(["Time (UTC)", "Source", "Message", "Value"])
    alarms.set_rows(
        [
            EventRow(
                "a1",
                ("11:58:21", "ib2-b", "Navigation lost", "NAV_OFF"),
                Level.CRITICAL,
                "unacked",
                emphasized=True,
            ),
            EventRow(
                "a2",
                ("11:55:02", "jpm", "ppCO₂ above watch", "2.41 mmHg"),
                Level.WATCH,
                "unacked",
                emphasized=True,
            ),
            EventRow(
                "a3",
                ("11:40:10", "goes", "S3 radiation storm", "1320 pfu"),
                Level.CRITICAL,
                "acked",
            ),
            EventRow(
                "a4",
                ("11:31:44", "rem-sm", "Dosimeter stale", "age 42 s"),
                Level.STALE,
                "acked",
            ),
        ]
    )
    alarms.set_column_widths([96, 72, 170])
    side.addWidget(alarms, 2)

    bottom = QGridLayout()
    bottom.setHorizontalSpacing(8)
    outer.addLayout(bottom, 1)
    tiles = [
        ("JPM ppCO₂", "mmHg", 2.41, Level.WATCH, ""),
        ("JPM ppO₂", "mmHg", 160.2, Level.NOMINAL, ""),
        ("JPM temperature", "°C", 23.1, Level.NOMINAL, ""),
        ("ib2-b battery", "%", 4.0, Level.CRITICAL, ""),
        ("rem-sm dose rate", "µSv/h", 18.7, Level.STALE, "42 s old"),
    ]
    for col, (label, unit, value, level, note) in enumerate(tiles):
        tile = ValueReadout(label, unit, trend=True, fmt="{:.1f}")
        tile.set_value(value, level, note=note)
        tile.set_trend(t[-600:], co2[-600:] * value / 2.4)
        bottom.addWidget(tile, 0, col)
    lamps = QVBoxLayout()
    for text, level in (
        ("ib2-a link up", Level.NOMINAL),
        ("ib2-b link stale", Level.STALE),
        ("GOES feed: no data", Level.NO_DATA),
        ("archive drops: 12", Level.CRITICAL),
    ):
        lamps.addWidget(StatusLamp(text, level=level))
    bottom.addLayout(lamps, 0, len(tiles))
    bars = QVBoxLayout()
    for label, value, limit, level, sigma in (
        ("c1 career dose", 412.0, 600.0, Level.NOMINAL, 25.0),
        ("c2 30-day dose", 41.0, 50.0, Level.WARNING, None),
    ):
        bar = LimitBar(label, "mSv")
        bar.set_value(value, limit, level, sigma=sigma)
        bars.addWidget(bar)
    bottom.addLayout(bars, 0, len(tiles) + 1)
    bottom.setColumnStretch(len(tiles) + 1, 2)
    return window


def test_gallery_renders_every_widget(qtbot, themed, tmp_path):
    window = build_gallery()
    qtbot.addWidget(window)
    window.resize(1500, 980)
    window.show()
    qtbot.waitExposed(window)
    for chart in window.findChildren(StripChart):
        chart.flush()
        assert chart.width() > 300
        assert chart.height() > 120
    image = window.grab().toImage()
    path = tmp_path / "gallery.png"
    assert image.save(str(path))
    assert path.stat().st_size > 10_000
    # Dark theme: the window background is the palette's dark grey-blue.
    corner = image.pixelColor(2, image.height() - 2)
    assert corner.lightness() < 60
    assert corner != QColor("black")
