"""The radiation officer's panel: crew dose against limits, space weather, shelter.

Per-crew doses and limits come from the dose estimator's snapshot; the plots
read the rad, GOES, orbit and crew-location buffers. A refresh redraws only
what changed since the last one. The banner's words and level are decided by
``telemetry.radiation.banner`` (Qt-free); this module draws. Near 1,000 lines
as one concept, the radiation panel: its crew table, three plots and limit
table share one snapshot and one refresh.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from console.docks.panel import Panel, VersionWatch, initial_window, utc_text
from telemetry.core.severity import Severity
from telemetry.core.units import (
    format_days,
    format_dose,
    format_msv,
    format_percent,
    format_pfu,
)
from telemetry.radiation.banner import WAITING, radiation_banner
from telemetry.radiation.estimator.model import CrewShelter, Fallback, ShelterAction
from telemetry.radiation.record_summary import (
    CrewRecord,
    record_line,
    record_tooltip,
    year_line,
)
from widgets.banner import Banner
from widgets.event_table import EventRow, EventTableModel
from widgets.fit_label import FitLabel
from widgets.levels import Level, palette
from widgets.limit_bar import LimitBar
from widgets.plain_text import tip as plain_tip
from widgets.status_lamp import Lamp, StatusLamp
from widgets.strip_chart import ReferenceLine, Span, StripChart

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray
    from PySide6.QtWidgets import QStyleOptionGraphicsItem

    from console.context import ConsoleContext
    from telemetry.radiation.estimator import CrewDose, DoseSnapshot, LimitStatus
    from telemetry.radiation.record_summary import RecordSummary

    FloatArray = NDArray[np.float64]

WINDOWS: Final = (
    ("10 min", 600.0),
    ("30 min", 1800.0),
    ("1 h", 3600.0),
    ("3 h", 10800.0),
    ("6 h", 21600.0),
    ("12 h", 43200.0),
    ("24 h", 86400.0),
)
DEFAULT_WINDOW_S: Final = 21600.0
# Smallest heights of the plots: a chart's plot area under its title, and the
# crew-location chart's axis plus one lane per crew member.
CHART_MIN_HEIGHT: Final = 130
LANES_MIN_HEIGHT: Final = 40
LANE_MIN_HEIGHT: Final = 18
# Buffers are read a little wider than the window so a small zoom-out has data.
READ_MARGIN: Final = 1.5
# NOAA S-scale lines on the >10 MeV flux. (An energetic-SPE line at 1 pfu would
# put its label on S1's in the one-decade band; the >100 MeV lamp says it.)
S_LINES: Final = (
    ReferenceLine(10.0, "S1", Level.WATCH),
    ReferenceLine(100.0, "S2", Level.WARNING),
    ReferenceLine(1_000.0, "S3", Level.CRITICAL),
    ReferenceLine(10_000.0, "S4", Level.CRITICAL),
    ReferenceLine(100_000.0, "S5", Level.CRITICAL),
)
# The chart labels a reference line on the side facing the view centre; with
# the centre (in log) just under S1 every S label sits in its own decade.
GOES_RANGE: Final = (10**-3.1, 10**5.05)
#: A crew-location segment: (t0, t1, lane y, colour, module).
Segment = tuple[float, float, float, QColor, str]
# How often time-only states (input silence) are re-judged, in seconds.
AGE_CHECK_S: Final = 1.0
LIMITS_EVERY_S: Final = 1.0
#: Advised crew members from whom the banner groups them by action.
BANNER_GROUP_FROM: Final = 3
_SOURCE_TEXT: Final = {
    "personal": "personal dosimeter",
    "area": "area monitors",
    "model": "model (scaled)",
    "none": "no estimate yet",
}


def s_level(level: int) -> Level:
    """Display level of a NOAA S-level, as the dictionary's s_scale limits."""
    if level >= 3:
        return Level.CRITICAL
    if level == 2:
        return Level.WARNING
    if level == 1:
        return Level.WATCH
    return Level.NOMINAL


def module_spans(
    t: FloatArray, codes: FloatArray, stale_s: float, until: float
) -> list[tuple[float, float, int]]:
    """Return the runs of one module code as (start, end, code).

    A run ends at the next change, or ``stale_s`` after its last sample when
    the next sample is later than that (location unknown meanwhile); the last
    run ends at ``until`` if its last sample is still fresh then.
    """
    n = t.shape[0]
    if n == 0:
        return []
    gap = np.diff(t) > stale_s
    change = np.diff(codes) != 0
    cut = np.flatnonzero(gap | change) + 1
    starts = np.concatenate(([0], cut))
    ends = np.concatenate((cut - 1, [n - 1]))
    out = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        last = float(t[b])
        if b + 1 < n and not gap[b]:
            end = float(t[b + 1])
        else:
            end = min(last + stale_s, max(until, last))
        out.append((float(t[a]), end, int(codes[a])))
    return out


def flag_spans(
    t: FloatArray, y: FloatArray, hold_s: float
) -> list[tuple[float, float]]:
    """Return where a 0/1 flag channel is set, each sample held up to ``hold_s``."""
    on = y > 0.5
    if t.shape[0] == 0 or not on.any():
        return []
    edges = np.flatnonzero(np.diff(on.astype(np.int8))) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [t.shape[0]]))
    out = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        if not on[a]:
            continue
        end = float(t[b]) if b < t.shape[0] else float(t[b - 1]) + hold_s
        out.append((float(t[a]), end))
    return out


class _LaneItem(pg.GraphicsObject):  # type: ignore[misc]
    """Coloured module segments, one horizontal lane per crew member.

    Labels are drawn inside segments wide enough to hold them, in device
    coordinates so they keep their size at any zoom. Owned by the GUI thread.
    """

    def __init__(self) -> None:
        super().__init__()
        self._segments: list[Segment] = []
        self._bounds = QRectF()
        self._text = QColor(palette().theme["plot_bg"])

    def set_segments(self, segments: Sequence[Segment]) -> None:
        """Set (t0, t1, lane y, colour, label) segments."""
        self.prepareGeometryChange()
        self._segments = list(segments)
        if self._segments:
            lo = min(s[0] for s in self._segments)
            hi = max(s[1] for s in self._segments)
            top = max(s[2] for s in self._segments)
            self._bounds = QRectF(lo, -0.5, max(hi - lo, 1e-3), top + 1.0)
        else:
            self._bounds = QRectF()
        self.update()

    def segments(self) -> list[Segment]:
        return list(self._segments)

    def boundingRect(self) -> QRectF:
        return QRectF(self._bounds)

    def paint(
        self,
        p: QPainter,
        opt: QStyleOptionGraphicsItem | None = None,
        widget: QWidget | None = None,
    ) -> None:
        if not self._segments:
            return
        to_device = p.transform()
        font = QFont(p.font())
        font.setPointSizeF(8.0)
        metrics = QFontMetricsF(font)
        p.save()
        try:
            p.resetTransform()
            p.setFont(font)
            for t0, t1, y, color, label in self._segments:
                rect = to_device.mapRect(QRectF(t0, y - 0.34, t1 - t0, 0.68))
                p.fillRect(rect, color)
                if rect.width() >= metrics.horizontalAdvance(label) + 8:
                    p.setPen(QPen(self._text))
                    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
        finally:
            p.restore()


@dataclass
class CrewRow:
    """The widgets of one crew member's row; owned by the GUI thread."""

    crew_id: str
    lamp: Lamp
    name: QLabel
    detail: QLabel
    module: QLabel
    move: QLabel
    source: StatusLamp
    rate: QLabel
    session: QLabel
    rolling: QLabel
    career_bar: LimitBar
    short_bar: LimitBar
    days: QLabel
    projection: QLabel
    shown: tuple[Any, ...] = ()
    projected_over: bool = False
    tooltip: str = ""
    # The dose of record (live with a dose ledger): latest record and bias,
    # year totals against the one-year limit.
    record: QLabel | None = None
    year: QLabel | None = None

    def widgets(self) -> list[QWidget]:
        return [
            self.lamp,
            self.name,
            self.detail,
            self.module,
            self.move,
            self.source,
            self.rate,
            self.session,
            self.rolling,
            self.career_bar,
            self.short_bar,
            self.days,
            self.projection,
        ]


def _label(
    text: str = "",
    *,
    size: float | None = None,
    bold: bool = False,
    dim: bool = False,
    color: str | None = None,
    whole: bool = False,
) -> QLabel:
    # Plain text always: crew names and roster fields are data, not markup.
    # A FitLabel shrinks or elides (whole text in the tooltip) in a narrow
    # column instead of cutting digits off a dose.
    label = FitLabel(text, whole=whole)
    font = label.font()
    if size is not None:
        font.setPointSizeF(size)
    font.setBold(bold)
    label.setFont(font)
    if color is None and dim:
        color = palette().theme["text_dim"]
    if color is not None:
        label.setStyleSheet(f"color: {color};")
    return label


class RadiationDock(Panel):
    """Crew dose, limits, dose rates, space weather and shelter advice.

    Owned by the GUI thread. Reads the estimator only through ``snapshot()``
    (a reference swap under its lock) and the store through buffer copies.
    """

    def __init__(self, context: ConsoleContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "Radiation · crew dose", "radiation", parent)
        self._dose = context.dose
        self._watch = VersionWatch()
        self._snap_version = -1
        self._window_s = initial_window(
            context, DEFAULT_WINDOW_S, [w for _t, w in WINDOWS]
        )
        self._axis_now = -math.inf
        self._newest = -math.inf
        self._next_age_check = -math.inf
        self._limits_version = -1
        self._next_limits = -math.inf
        self._limits_rows: list[EventRow] = []
        self._records_version = -1
        self._shelter_open: tuple[float, float] | None = None
        self._shelter_past: list[tuple[float, float]] = []
        self._shelter_drawn: list[tuple[float, float]] = []
        self._pal = palette()
        dictionary = context.dictionary
        self._modules = list(dictionary.modules)
        self._module_colors = {
            m: self._pal.series_color(i) for i, m in enumerate(self._modules)
        }
        module_spec = dictionary.channel("crew", "module")
        self._module_names = dict(module_spec.states) if module_spec else {}
        self._module_of_code = {c: n for n, c in self._module_names.items()}
        self._crew_stale_s = module_spec.stale_after_s if module_spec else 30.0
        rad_spec = dictionary.channel("rad", "dose_eq_rate")
        self._rad_stale_s = rad_spec.stale_after_s if rad_spec else 30.0
        goes = dictionary.sources_of("spacewx")
        orbit = dictionary.sources_of("orbit")
        goes_id = goes[0].id if goes else "goes"
        orbit_id = orbit[0].id if orbit else "iss"
        self._p10_key = f"{goes_id}.p10"
        self._p100_key = f"{goes_id}.p100"
        self._spe_key = f"{goes_id}.spe_active"
        self._saa_key = f"{orbit_id}.saa"
        goes_spec = dictionary.channel("spacewx", "p10")
        self._goes_stale_s = goes_spec.stale_after_s if goes_spec else 15.0
        orbit_spec = dictionary.channel("orbit", "lat")
        self._orbit_stale_s = orbit_spec.stale_after_s if orbit_spec else 5.0
        # Rate series grouped by module (dictionary order), personal ones last.
        self._rate_series: list[tuple[str, str, QColor]] = []  # key, name, colour
        rad = dictionary.sources_of("rad")
        for module in self._modules:
            for src in rad:
                if src.module == module and src.crew is None:
                    self._rate_series.append(
                        (
                            f"{src.id}.dose_eq_rate",
                            f"{module} · {src.id}",
                            self._module_colors[module],
                        )
                    )
        for src in rad:
            if src.crew is not None:
                self._rate_series.append(
                    (
                        f"{src.id}.dose_eq_rate",
                        f"{src.crew} personal · {src.id}",
                        QColor(self._pal.theme["text"]),
                    )
                )
        # The crew come from the estimator's first snapshot (it lists everyone
        # from the start), so the rows exist before any dose is integrated.
        members = list(self._dose.snapshot().crew) if self._dose is not None else []
        self._crew_ids = [m.crew_id for m in members]
        self._build(members)

    # ------------------------------------------------------------- layout

    def _build(self, members: Sequence[CrewDose]) -> None:
        body = QWidget(self)
        column = QVBoxLayout(body)
        column.setContentsMargins(6, 4, 6, 4)
        column.setSpacing(4)

        self.banner = Banner(body)
        self.banner.set_message(
            WAITING.title, Level[WAITING.level.name], WAITING.detail
        )
        column.addWidget(self.banner)

        status = QHBoxLayout()
        status.setSpacing(18)
        self.p10_lamp = StatusLamp(">10 MeV —", body)
        self.p100_lamp = StatusLamp(">100 MeV —", body)
        self.saa_lamp = StatusLamp("SAA —", body)
        self.input_lamp = StatusLamp("dose inputs —", body)
        self.p10_lamp.setToolTip("GOES >10 MeV integral proton flux and NOAA S-level")
        self.p100_lamp.setToolTip(
            "GOES >100 MeV integral proton flux; energetic SPE at ≥ 1 pfu (NRC 2000)"
        )
        self.saa_lamp.setToolTip(
            "ISS inside the South Atlantic Anomaly (MinXSS polygon)"
        )
        self.input_lamp.setToolTip(
            "Sample time the crew doses are integrated to, and the dosimeter feed"
        )
        for lamp in (self.p10_lamp, self.p100_lamp, self.saa_lamp, self.input_lamp):
            status.addWidget(lamp)
        status.addStretch(1)
        window_label = _label("Plot window", dim=True)
        self.window_box = QComboBox(body)
        for text, seconds in WINDOWS:
            self.window_box.addItem(text, seconds)
        self.window_box.setCurrentIndex([s for _t, s in WINDOWS].index(self._window_s))
        self.window_box.currentIndexChanged.connect(self._on_window)
        status.addWidget(window_label)
        status.addWidget(self.window_box)
        column.addLayout(status)

        column.addWidget(self._build_crew(members))

        split = QSplitter(Qt.Orientation.Horizontal, body)
        split.addWidget(self._build_plots())
        split.addWidget(self._build_limits())
        split.setStretchFactor(0, 5)
        split.setStretchFactor(1, 2)
        split.setSizes([960, 440])
        split.setChildrenCollapsible(False)
        column.addWidget(split, 1)
        # On a small screen the panel scrolls rather than squeezing its
        # charts to a few pixels (or pushing the window past the screen).
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        self._body = body
        # As wide as the crew table needs: its doses are never cut sideways.
        scroll.setMinimumWidth(
            body.minimumSizeHint().width()
            + scroll.verticalScrollBar().sizeHint().width()
        )
        self.setWidget(scroll)

    def _build_crew(self, members: Sequence[CrewDose]) -> QWidget:
        frame = QFrame(self)
        frame.setObjectName("crewTable")
        border = self._pal.theme["border"]
        frame.setStyleSheet(
            f"QFrame#crewTable {{ background-color: {self._pal.theme['panel']};"
            f" border: 1px solid {border}; border-radius: 3px; }}"
        )
        grid = QGridLayout(frame)
        grid.setContentsMargins(8, 4, 8, 4)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(2)
        heads = (
            "",
            "Crew",
            "Location · estimate",
            "Rate H",
            "Session H ±1σ",
            "Career effective dose E vs limit",
            "Worst short-term organ limit (own unit)",
            "Days to limit",
        )
        for col, text in enumerate(heads):
            head = _label(text, size=8.5, dim=True)
            grid.addWidget(head, 0, col)
        self._crew_rows: dict[str, CrewRow] = {}
        records = self.context.dose_records is not None
        stride = 3 if records else 2
        for i, member in enumerate(members):
            r = 1 + stride * i
            row = CrewRow(
                crew_id=member.crew_id,
                lamp=Lamp(frame, diameter=14),
                name=_label(member.name, size=11.5, bold=True),
                detail=_label(member.crew_id, size=8.5, dim=True),
                module=_label("—", size=12.0, bold=True, whole=True),
                move=_label("", size=8.5),
                source=StatusLamp("—", frame),
                rate=_label("—", size=12.0, whole=True),
                session=_label("—", size=10.5, whole=True),
                rolling=_label("", size=8.5, dim=True),
                career_bar=LimitBar("Career", "mSv", frame, fmt="{:.4g}"),
                short_bar=LimitBar("—", "", frame, fmt="{:.4g}"),
                days=_label("—", size=12.0, bold=True, whole=True),
                projection=_label("", size=8.5, dim=True),
            )
            row.move.setStyleSheet(
                f"color: {self._pal.levels[Level.CRITICAL][0]}; font-weight: bold;"
            )
            row.rate.setAlignment(Qt.AlignmentFlag.AlignRight)
            row.session.setAlignment(Qt.AlignmentFlag.AlignRight)
            row.rolling.setAlignment(Qt.AlignmentFlag.AlignRight)
            row.career_bar.setMinimumWidth(220)
            row.short_bar.setMinimumWidth(200)
            row.detail.setText(f"{member.crew_id} · {member.agency}")
            grid.addWidget(row.lamp, r, 0, 2, 1, Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(row.name, r, 1)
            grid.addWidget(row.detail, r + 1, 1)
            where = QHBoxLayout()
            where.setSpacing(8)
            where.addWidget(row.module)
            where.addWidget(row.move)
            where.addStretch(1)
            grid.addLayout(where, r, 2)
            grid.addWidget(row.source, r + 1, 2)
            grid.addWidget(row.rate, r, 3)
            unit = _label("µSv/h", size=8.5, dim=True)
            unit.setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(unit, r + 1, 3)
            grid.addWidget(row.session, r, 4)
            grid.addWidget(row.rolling, r + 1, 4)
            grid.addWidget(row.career_bar, r, 5, 2, 1)
            grid.addWidget(row.short_bar, r, 6, 2, 1)
            grid.addWidget(row.days, r, 7)
            grid.addWidget(row.projection, r + 1, 7)
            if records:
                record = _label("dose of record: reading the ledger…", size=8.5)
                year = _label("", size=8.5)
                for label in (record, year):
                    label.setStyleSheet(f"color: {self._pal.theme['text_dim']};")
                    label.setObjectName("doseOfRecord")
                # At the top of its row: the row's spare height then parts
                # this crew member from the next, not the line from its name.
                top = Qt.AlignmentFlag.AlignTop
                grid.addWidget(record, r + 2, 1, 1, 4, top)
                grid.addWidget(year, r + 2, 5, 1, 3, top)
                row.record, row.year = record, year
            if i + 1 < len(members):
                grid.setRowMinimumHeight(r + stride - 1, 22)
            self._crew_rows[member.crew_id] = row
            known = set(self.context.dictionary.channel_keys())
            for widget, channels in (
                (row.rate, ("dose_rate",)),
                (row.session, ("dose_session",)),
                (row.rolling, ("dose_30d", "dose_1y")),
                (row.career_bar, ("dose_career",)),
                (row.days, ("days_to_limit",)),
            ):
                keys = [f"{member.crew_id}.{c}" for c in channels]
                if all(k in known for k in keys):
                    self.plot_link.watch(widget, keys)
        grid.setColumnStretch(5, 3)
        grid.setColumnStretch(6, 2)
        if not members:
            grid.addWidget(
                _label("No dose estimator in this session.", dim=True), 1, 1, 1, 7
            )
        frame.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        return frame

    def _legend(self) -> QLabel:
        parts = []
        for module in self._modules:
            color = self._module_colors[module].name()
            parts.append(
                f"<span style='color:{color}'>■</span>&nbsp;{html.escape(module)}"
            )
        text_color = self._pal.theme["text"]
        parts.append(f"<span style='color:{text_color}'>■</span>&nbsp;personal")
        legend = QLabel("&nbsp;&nbsp;".join(parts))
        legend.setTextFormat(Qt.TextFormat.RichText)
        legend.setToolTip("Module colours of the dose-rate and crew-location plots")
        font = legend.font()
        font.setPointSizeF(8.5)
        legend.setFont(font)
        return legend

    def _build_plots(self) -> QWidget:
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        self.goes_chart = StripChart(
            box,
            title="GOES integral proton flux · NOAA S-scale · SPE shaded",
            unit="pfu",
            window_s=self._window_s,
        )
        self.goes_chart.set_log_y(True)
        self.goes_chart.set_reference_lines(S_LINES)
        self.goes_chart.set_y_range(*GOES_RANGE)
        for _key, name, color in (
            (self._p10_key, ">10 MeV", self._pal.series_color(4)),
            (self._p100_key, ">100 MeV", self._pal.series_color(3)),
        ):
            self.goes_chart.set_series(name, [], [], color=color)
        self._goes_names = {self._p10_key: ">10 MeV", self._p100_key: ">100 MeV"}

        self.rate_chart = StripChart(
            box,
            title="Dose-equivalent rate by module · SAA passes shaded",
            unit="µSv/h",
            window_s=self._window_s,
        )
        self.rate_chart.set_log_y(True)
        for _key, name, color in self._rate_series:
            self.rate_chart.set_series(name, [], [], color=color)
        # One colour per module, named in the legend strip above the plots:
        # the chart's own legend would cover a third of the plot.
        self.rate_chart.show_legend(False)

        self.location_chart = StripChart(
            box,
            title="Crew location · shelter advice shaded",
            unit="",
            window_s=self._window_s,
        )
        lanes = self._crew_ids
        self._lanes = _LaneItem()
        self.location_chart.getPlotItem().addItem(self._lanes, ignoreBounds=True)
        n = max(len(lanes), 1)
        self.location_chart.set_y_range(-0.6, n - 0.4)
        ticks = [(float(n - 1 - i), cid) for i, cid in enumerate(lanes)]
        self.location_chart.getPlotItem().getAxis("left").setTicks([ticks, []])

        self._series_slots: list[tuple[StripChart, str, str]] = [
            (self.rate_chart, key, name) for key, name, _c in self._rate_series
        ] + [(self.goes_chart, key, name) for key, name in self._goes_names.items()]
        self.rate_chart.link_x(self.goes_chart)
        self.rate_chart.link_x(self.location_chart)
        # Linked charts share the time axis: only the bottom one labels it.
        for chart in (self.goes_chart, self.rate_chart):
            chart.getPlotItem().hideAxis("bottom")
        if self.context.mode != "live":
            for chart in (self.goes_chart, self.rate_chart, self.location_chart):
                chart.set_follow_label(self.context.mode.upper())
        # Plot areas stay readable under their titles and legends (issue 15:
        # 30 px of GOES plot, 5 px crew lanes at 1600x1000).
        self.goes_chart.setMinimumHeight(CHART_MIN_HEIGHT)
        self.rate_chart.setMinimumHeight(CHART_MIN_HEIGHT)
        self.location_chart.setMinimumHeight(
            LANES_MIN_HEIGHT + LANE_MIN_HEIGHT * max(len(self._crew_ids), 1)
        )
        column.addWidget(self._legend())
        column.addWidget(self.goes_chart, 4)
        column.addWidget(self.rate_chart, 5)
        column.addWidget(self.location_chart, 3)
        return box

    def _build_limits(self) -> QWidget:
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        title = _label("Every limit, most used first", size=9.0, dim=True)
        column.addWidget(title)
        self.limits_model = EventTableModel(("Limit", "Used", "Dose", "Days left"), box)
        self.limits_view = QTableView(box)
        self.limits_view.setModel(self.limits_model)
        self.limits_view.setSelectionBehavior(
            QAbstractItemView.SelectionBehavior.SelectRows
        )
        self.limits_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.limits_view.verticalHeader().setVisible(False)
        self.limits_view.verticalHeader().setDefaultSectionSize(20)
        self.limits_view.setAlternatingRowColors(True)
        self.limits_view.setShowGrid(False)
        header = self.limits_view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        column.addWidget(self.limits_view, 1)
        version = self._dose.limits.version if self._dose is not None else "?"
        note = _label(
            "Each limit in its own quantity: career in effective dose E (mSv), "
            "organs in mGy-Eq, CNS in mGy, converted from area H "
            f"(docs/dosimetry.md). Limits {version}, alert marks at "
            "50/75/90/100 %.",
            size=8.0,
            dim=True,
        )
        note.setWordWrap(True)
        column.addWidget(note)
        return box

    # ------------------------------------------------------------ actions

    def _on_window(self, index: int) -> None:
        seconds = float(self.window_box.itemData(index))
        self.set_window(seconds)

    def set_window(self, seconds: float) -> None:
        """Show the last ``seconds`` in the three linked plots."""
        choices = [s for _t, s in WINDOWS]
        if seconds in choices and self.window_box.currentIndex() != choices.index(
            seconds
        ):
            self.window_box.setCurrentIndex(choices.index(seconds))
            return  # the combo's signal comes back here
        self._window_s = seconds
        self.goes_chart.set_window(seconds)
        self._watch.forget()
        self._axis_now = -math.inf

    def window_seconds(self) -> float:
        return self._window_s

    def settings(self) -> dict[str, Any]:
        return {"window_s": self._window_s}

    def restore_settings(self, data: dict[str, Any]) -> None:
        seconds = data.get("window_s")
        choices = [s for _t, s in WINDOWS]
        if isinstance(seconds, int | float) and float(seconds) in choices:
            self.window_box.setCurrentIndex(choices.index(float(seconds)))

    # ------------------------------------------------------------ accessors

    def content_height(self) -> int:
        """Return the height the panel needs to show everything unscrolled."""
        return int(self._body.minimumSizeHint().height())

    def crew_ids(self) -> list[str]:
        return list(self._crew_rows)

    def crew_row(self, crew_id: str) -> CrewRow:
        return self._crew_rows[crew_id]

    def lane_segments(self) -> list[Segment]:
        """Return the crew-location segments drawn: (t0, t1, lane, colour, module)."""
        return self._lanes.segments()

    # ------------------------------------------------------------- refresh

    def refresh(self, now: float) -> None:
        watch = self.context.dose_records
        if watch is not None and watch.version != self._records_version:
            self._records_version = watch.version
            if watch.summary is not None:
                self._apply_records(watch.summary)
        snap = self._dose.snapshot() if self._dose is not None else None
        if snap is not None and snap.version != self._snap_version:
            self._snap_version = snap.version
            self._apply_snapshot(snap)
        # The every-limit table is detail: once a second is enough, and a
        # model update (44 rows re-read by the view) costs ~8 ms.
        # (A clock that jumps back, a replay seek, makes it due at once.)
        due = now >= self._next_limits or now < self._next_limits - LIMITS_EVERY_S
        if snap is not None and snap.version != self._limits_version and due:
            self._next_limits = now + LIMITS_EVERY_S
            self._limits_version = snap.version
            self._apply_limits(snap)
        self._refresh_plots(now)
        if now >= self._next_age_check or now < self._next_age_check - AGE_CHECK_S:
            self._next_age_check = now + AGE_CHECK_S
            self._refresh_ages(now, snap)

    def _apply_snapshot(self, snap: DoseSnapshot) -> None:
        for crew in snap.crew:
            row = self._crew_rows.get(crew.crew_id)
            if row is not None:
                self._apply_crew(row, crew, snap)
        self._apply_banner(snap)
        self._apply_shelter_spans(snap)
        spe = snap.spe
        if spe.p10 == spe.p10:
            self.p10_lamp.set_level(
                s_level(spe.s_level),
                f">10 MeV {format_pfu(spe.p10)} pfu · S{spe.s_level}",
            )
        if spe.p100 == spe.p100:
            energetic = " · ENERGETIC" if spe.energetic else ""
            self.p100_lamp.set_level(
                Level.WARNING if spe.energetic else Level.NOMINAL,
                f">100 MeV {format_pfu(spe.p100)} pfu{energetic}",
            )
        if snap.saa is not None:
            since = utc_text(snap.saa_since)
            self.saa_lamp.set_level(
                Level.WATCH if snap.saa else Level.NOMINAL,
                f"in SAA since {since}" if snap.saa else f"outside SAA since {since}",
            )

    def _apply_crew(self, row: CrewRow, crew: CrewDose, snap: DoseSnapshot) -> None:
        shelter = snap.shelter
        advice = next((c for c in shelter.crew if c.crew_id == crew.crew_id), None)
        key = (
            crew.module,
            crew.source,
            crew.stale,
            crew.fallback,
            crew.eva_msv,
            advice,
            crew.rate_usv_h,
            crew.session_msv,
            crew.budgets_time,
            crew.level,
            shelter.recommended,
            shelter.module,
        )
        if key == row.shown:
            return
        row.shown = key
        level = Level[crew.level.name]
        # Before any dose is integrated the level (of the prior record and
        # earlier sessions) is known already: shown, not greyed out.
        known = crew.source != "none" or crew.level > Severity.NOMINAL
        row.lamp.set_level(level if known else Level.NO_DATA)
        row.module.setText(crew.module or "?")
        relocate = advice is not None and advice.action == ShelterAction.RELOCATE
        if relocate and crew.module != shelter.module:
            row.move.setText(f"→ {shelter.module}")
        elif advice is not None and advice.action != ShelterAction.NONE:
            row.move.setText(f"→ {advice.action.value}")
        else:
            row.move.setText("")
        source = str(crew.source)
        text = _SOURCE_TEXT.get(source, source)
        if crew.fallback != Fallback.NONE and crew.fallback != Fallback.SCALED:
            # Which fallback runs, and since when (sample time).
            since = utc_text(crew.fallback_since)
            row.source.set_level(
                Level.STALE, f"{text} · fallback: {crew.fallback.value} since {since}"
            )
        elif crew.stale:
            row.source.set_level(Level.STALE, f"{text} · STALE")
        else:
            row.source.set_level(
                Level.NOMINAL if source != "none" else Level.NO_DATA, text
            )
        row.rate.setText(
            f"{crew.rate_usv_h:.1f}" if math.isfinite(crew.rate_usv_h) else "—"
        )
        sigma = crew.uncertainty_rel * crew.session_msv
        row.session.setText(format_dose(crew.session_msv, sigma))
        rolling = crew.dose_30d_msv, crew.dose_1y_msv
        eva = f" · EVA {format_dose(crew.eva_msv)} H" if crew.eva_msv > 0 else ""
        row.rolling.setText(
            f"30 d {format_dose(rolling[0])} · 1 y {format_dose(rolling[1])} H{eva}"
        )
        career = next((s for s in crew.limits if s.window_days is None), None)
        career_level = Level[career.level.name] if career else Level.NOMINAL
        row.career_bar.set_label(f"Career E · {crew.agency} limit")
        row.career_bar.set_value(
            crew.career_msv,
            crew.career_limit_msv,
            career_level,
            sigma=sigma if math.isfinite(sigma) else None,
        )
        short = [s for s in crew.limits if s.window_days is not None]
        if short:
            top = max(short, key=lambda s: s.fraction)
            # The unit differs between limits (mGy-Eq, mGy): it goes in the label.
            row.short_bar.set_label(f"{top.label} · {top.unit}")
            row.short_bar.set_value(
                top.dose,
                top.limit,
                Level[top.level.name],
                sigma=crew.uncertainty_rel * top.dose
                if math.isfinite(crew.uncertainty_rel)
                else None,
                # In µ below 1 m, as every dose on the panel: '1.27 µGy-Eq'.
                text=f"{format_dose(top.dose, unit=top.unit)} / "
                f"{top.limit:g} {top.unit}",
            )
        row.days.setText(format_days(crew.days_to_limit))
        nearest = next((s for s in crew.limits if s.id == crew.limiting), None)
        lines = [f"to {nearest.label if nearest else crew.limiting}"]
        projection = crew.projection
        if crew.projected_mission_msv is not None:
            frac = crew.projected_mission_msv / crew.career_limit_msv
            lines.append(
                f"end of mission {format_msv(crew.projected_mission_msv)} mSv E "
                f"({format_percent(frac)})"
            )
        elif projection is not None and not projection.ok:
            lines.append(projection.reason.split(":")[0])
        row.projection.setText(" · ".join(lines))
        projected_over = any(
            s.projected_fraction >= 1.0
            or (s.upper_fraction >= 1.0 and s.window_days is None)
            for s in crew.limits
        ) or (
            crew.projected_mission_msv is not None
            and crew.projected_mission_msv >= crew.career_limit_msv
        )
        if projected_over != row.projected_over:
            # A style sheet change re-polishes the label: only on a change.
            row.projected_over = projected_over
            row.projection.setStyleSheet(
                f"color: {self._pal.levels[Level.CRITICAL][0]};"
                if projected_over
                else f"color: {self._pal.theme['text_dim']};"
            )
        tip = [f"{crew.name} ({crew.crew_id}, {crew.agency})"]
        tip.append(
            f"career E = prior {format_msv(crew.prior_msv)} mSv E + E of "
            f"(earlier {format_dose(crew.earlier_msv)} + session "
            f"{format_dose(crew.session_msv)} of area H) = "
            f"{format_msv(crew.career_msv)} of {crew.career_limit_msv:g} mSv E"
        )
        if projection is not None:
            tip.append(
                f"projection: {projection.reason}"
                if not projection.ok
                else f"projection from {projection.basis_days:.1f} d at "
                f"{projection.rate_msv_d:.3f} mSv/d H: end of mission "
                f"{format_msv(projection.career_e_msv)} mSv E (upper 1σ "
                f"{format_msv(projection.career_e_upper_msv)} mSv E)"
            )
        if advice is not None and advice.action != ShelterAction.NONE:
            tip.append(f"shelter advice: {advice.action.value}: {advice.reason}")
        tip.extend(_limit_line(s) for s in crew.limits)
        text = "\n".join(tip)
        if text != row.tooltip:
            row.tooltip = text
            for widget in row.widgets():
                widget.setToolTip(text)

    def _apply_records(self, summary: RecordSummary) -> None:
        """Show each crew member's dose of record and year total (a new summary)."""
        warn = self._pal.levels[Level.WARNING][0]
        dim = self._pal.theme["text_dim"]
        for crew_id, row in self._crew_rows.items():
            if row.record is None or row.year is None:
                continue
            if summary.error:
                row.record.setText(f"dose ledger unreadable: {summary.error}")
                row.record.setStyleSheet(f"color: {warn};")
                row.year.setText("")
                row.record.setToolTip(plain_tip(summary.error))
                continue
            crew = summary.crew.get(crew_id, CrewRecord(crew_id))
            row.record.setText(record_line(crew))
            row.record.setStyleSheet(f"color: {dim};")
            row.year.setText(year_line(crew))
            use = crew.annual
            level = Level[use.severity.name] if use is not None else Level.NOMINAL
            color = self._pal.levels[level][0] if level.is_abnormal else dim
            row.year.setStyleSheet(f"color: {color};")
            text = plain_tip(record_tooltip(crew, summary))
            row.record.setToolTip(text)
            row.year.setToolTip(text)

    def record_texts(self, crew_id: str) -> tuple[str, str]:
        """Return the dose-of-record and year lines of a crew member ("" if none)."""
        row = self._crew_rows[crew_id]
        if row.record is None or row.year is None:
            return "", ""
        return row.record.text(), row.year.text()

    def _apply_banner(self, snap: DoseSnapshot) -> None:
        """Draw the banner the Qt-free presenter decided (wording and level)."""
        view = radiation_banner(snap)
        detail = view.detail
        advised = [c for c in snap.shelter.crew if c.action != ShelterAction.NONE]
        if len(advised) >= BANNER_GROUP_FROM:
            # Several people advised: their whole reasons (a line or two
            # each) would hide the crew table on a small screen. One line per
            # action in view; every reason in the tooltip.
            lines = detail.split("\n")
            detail = "\n".join(
                [*_grouped_advice(advised, snap.shelter.horizon_h)]
                + lines[len(advised) :]
            )
        self.banner.set_message(view.title, Level[view.level.name], detail)
        self.banner.setToolTip(view.detail)

    def _apply_shelter_spans(self, snap: DoseSnapshot) -> None:
        """Shade shelter advice on the crew-location plot (who went, and when).

        The snapshot holds only the advice in force, so past periods are kept
        here, closed at the first snapshot without the advice.
        """
        shelter = snap.shelter
        open_span = self._shelter_open
        if shelter.recommended and shelter.since is not None:
            self._shelter_open = (shelter.since, snap.time)
        elif open_span is not None:
            self._shelter_past.append((open_span[0], snap.time))
            self._shelter_open = None
        spans = list(self._shelter_past)
        if self._shelter_open is not None:
            spans.append(self._shelter_open)
        if spans != self._shelter_drawn:
            self._shelter_drawn = spans
            self.location_chart.set_spans(Span(a, b, Level.CRITICAL) for a, b in spans)

    def _apply_limits(self, snap: DoseSnapshot) -> None:
        rows = []
        for crew in snap.crew:
            for st in crew.limits:
                rows.append((st.fraction, crew.crew_id, st))
        rows.sort(key=lambda r: -r[0])
        table = [
            EventRow(
                f"{crew_id}:{st.id}",
                (
                    f"{crew_id} · {st.label} · {st.limit:g} {st.unit}",
                    format_percent(st.fraction),
                    format_dose(st.dose, unit=st.unit),
                    format_days(st.days_to_limit),
                ),
                Level[st.level.name],
            )
            for _f, crew_id, st in rows
        ]
        if table != self._limits_rows:
            self._limits_rows = table
            self.limits_model.set_rows(table)

    def _refresh_ages(self, now: float, snap: DoseSnapshot | None) -> None:
        """States that change with time alone: silent dosimeter feed."""
        buffers = [
            buf
            for key, _n, _c in self._rate_series
            if (buf := self.context.store.buffer(key)) is not None
        ]
        received = [b.received for b in buffers if b.received == b.received]
        data_time = snap.time if snap is not None else math.nan
        # What the totals hold of earlier console sessions (the dose ledger).
        ledger = f" · {snap.history_note}" if snap and snap.history_note else ""
        if not received:
            # Samples that arrived too old to be "now" (a backlog, a lagging
            # clock) are in the dose, but no dosimeter is reporting now.
            held = "only old samples" if any(len(b) for b in buffers) else "none"
            self.input_lamp.set_level(
                Level.NO_DATA, f"dose inputs: {held} received{ledger}"
            )
            return
        silent = now - max(received)
        at = f"doses to {utc_text(data_time)}" if data_time == data_time else "doses —"
        late = f" · {snap.late_samples} late" if snap and snap.late_samples else ""
        # Values outside any physical range (a broken dosimeter or publisher)
        # are left out of the dose: the officer must know the estimate lacks them.
        invalid = snap.invalid_samples if snap is not None else 0
        if invalid:
            late += f" · {invalid} ignored (outside physical range)"
        if snap is not None and snap.revisions:
            late += f" · revised by late data {snap.revisions}x"
        if snap is not None and math.isfinite(snap.provisional_since):
            # An input has not reported since then: late data may revise.
            late += f" · provisional since {utc_text(snap.provisional_since)}"
        if snap is not None and snap.ledger_problem:
            # The session's dose is not reaching the dose of record: that
            # outranks the inputs' health (the next console starts from it).
            self.input_lamp.set_level(
                Level.WARNING, f"{snap.ledger_problem} · {at}{late}"
            )
        elif silent > self._rad_stale_s:
            self.input_lamp.set_level(
                Level.STALE, f"{at} · dosimeters silent {silent:.0f} s{late}{ledger}"
            )
        elif data_time != data_time:
            # Dosimeters are heard but no dose is integrated yet (an input
            # that never reported holds it back): never green.
            unheard = snap.unheard_inputs if snap is not None else ()
            more = " …" if len(unheard) > 3 else ""
            waiting = f": waiting for {', '.join(unheard[:3])}{more}" if unheard else ""
            self.input_lamp.set_level(
                Level.WATCH, f"no dose integrated yet{waiting}{late}{ledger}"
            )
        else:
            level = Level.WATCH if invalid else Level.NOMINAL
            self.input_lamp.set_level(level, f"{at}{late}{ledger}")

    def _refresh_plots(self, now: float) -> None:
        ctx = self.context
        read_s = self._window_s * READ_MARGIN
        series = [
            (chart, key, name)
            for chart, key, name in self._series_slots
            if self._watch.changed(ctx, key)
        ]
        saa = self._watch.changed(ctx, self._saa_key)
        spe = self._watch.changed(ctx, self._spe_key)
        lanes = [self._watch.changed(ctx, f"{cid}.module") for cid in self._crew_ids]
        if series or any(lanes):
            # The newest sample may be ahead of the session clock (a simulator
            # at --rate-scale): the plots follow the data then. Recomputed from
            # every buffer, so a replay seek back (new buffers) follows too.
            self._newest = self._newest_sample()
        right = max(now, self._newest)
        for chart, key, name in series:
            buf = ctx.store.buffer(key)
            if buf is not None:
                t, y = buf.window(right - read_s)
                chart.set_series(name, t, y)
        if saa and (buf := ctx.store.buffer(self._saa_key)) is not None:
            t, y = buf.window(right - read_s)
            spans = flag_spans(t, y, self._orbit_stale_s)
            self.rate_chart.set_spans(Span(a, b, Level.WATCH) for a, b in spans)
        if spe and (buf := ctx.store.buffer(self._spe_key)) is not None:
            t, y = buf.window(right - read_s)
            spans = flag_spans(t, y, self._goes_stale_s)
            self.goes_chart.set_spans(Span(a, b, Level.WARNING) for a, b in spans)
        if any(lanes):
            self._update_lanes(right, read_s)
        if not self.goes_chart.is_live():
            return  # paused: the view shows what the operator asked for
        # Slide the axis only once it has moved by about a pixel.
        pixel_s = self._window_s / max(self.goes_chart.width(), 100)
        if abs(right - self._axis_now) >= pixel_s:
            self._axis_now = right
            for chart in (self.goes_chart, self.rate_chart, self.location_chart):
                chart.set_now(right)

    def _newest_sample(self) -> float:
        newest = -math.inf
        keys = [key for _c, key, _n in self._series_slots]
        keys += [f"{cid}.module" for cid in self._crew_ids]
        for key in keys:
            buf = self.context.store.buffer(key)
            latest = buf.latest() if buf is not None else None
            if latest is not None and latest[0] > newest:
                newest = latest[0]
        return newest

    def _update_lanes(self, right: float, read_s: float) -> None:
        segments = []
        n = len(self._crew_ids)
        unknown = QColor(self._pal.levels[Level.NO_DATA][0])
        for i, cid in enumerate(self._crew_ids):
            buf = self.context.store.buffer(f"{cid}.module")
            if buf is None:
                continue
            t, codes = buf.window(right - read_s)
            lane = float(n - 1 - i)
            for a, b, code in module_spans(t, codes, self._crew_stale_s, right):
                module = self._module_of_code.get(code, "?")
                color = self._module_colors.get(module, unknown)
                segments.append((a, b, lane, color, module))
        self._lanes.set_segments(segments)


def _grouped_advice(advised: Sequence[CrewShelter], horizon_h: float) -> list[str]:
    """One line per action, strongest first: who, event dose and margin used."""
    lines = []
    for action in sorted({c.action for c in advised}, key=lambda a: -a.rank):
        who = [
            f"{c.crew_id} {format_dose(c.event_msv)} E = {format_percent(c.fraction)}"
            if math.isfinite(c.event_msv)
            else f"{c.crew_id} (carried over)"
            for c in advised
            if c.action == action
        ]
        lines.append(
            f"{action.value}: " + ", ".join(who) + f" of margin in {horizon_h:g} h"
        )
    return lines


def _limit_line(s: LimitStatus) -> str:
    return (
        f"{s.label} ({s.quantity}): {format_dose(s.dose, unit=s.unit)} of "
        f"{s.limit:g} {s.unit} ({format_percent(s.fraction)}), "
        f"{format_days(s.days_to_limit)} "
        f"[{s.status}] {s.source}"
    )
