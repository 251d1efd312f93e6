"""Strip charts of any channels, a searchable channel browser, archive scroll-back.

Charts share one time axis. Live, they slide with the session clock over the
ring buffers; once the operator pans or zooms they pause and the visible range
is filled from the archive (off the GUI thread) merged with the live buffer.
One Y axis per unit: a channel of another unit goes on a chart of its own.
About 1,000 lines, one concept (the plot panel's wiring of charts to the
store, the archive and the operator); candidates to move out if it grows:
the channel browser's model and filter, and `chart_title`.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import (
    QEvent,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from console.docks.panel import (
    Panel,
    VersionWatch,
    describe,
    initial_window,
    limit_bands,
    utc_text,
)
from console.time_range import HELP as TIME_HELP
from console.time_range import TimeRangeError, parse_time_range
from telemetry.archive.export import csv_text, iso_utc
from widgets.levels import Level, palette
from widgets.plain_text import tip
from widgets.strip_chart import StripChart

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PySide6.QtGui import QDragEnterEvent, QDropEvent

    from console.context import ConsoleContext
    from telemetry.core.channels import ChannelBuffer
    from telemetry.core.dictionary import TelemetryDictionary

MIME_CHANNELS = "application/x-kibo-channels"
WINDOWS: tuple[tuple[str, float], ...] = (
    ("1 min", 60.0),
    ("5 min", 300.0),
    ("15 min", 900.0),
    ("1 h", 3600.0),
    ("3 h", 10800.0),
    ("6 h", 21600.0),
    ("24 h", 86400.0),
)
ROLE_WINDOWS = {"flight": 300.0, "radiation": 10800.0, "trainer": 900.0}
# Every role's plots share the screen: the browser starts folded (one click).
# SAA passes matter to the radiation officer; elsewhere they are clutter.
ROLE_SAA = {"flight": False, "radiation": True, "trainer": False}
ROLE_BROWSER = {"flight": False, "radiation": False, "trainer": False}
MAX_CHARTS = 12
# A chart never gets shorter than this (title, axis and a readable plot
# area); more charts than fit scroll instead of squashing.
CHART_MIN_HEIGHT = 120
TITLE_CHARS = 80  # longer titles end in "…"; the chart's tooltip has all of it
# Live charts get a little more than the window so a small zoom-out or pan
# already has data to show before the archive answers.
LIVE_MARGIN = 1.5
_EMPTY = np.empty(0, dtype=np.float64)


def default_charts(dictionary: TelemetryDictionary, role: str) -> list[list[str]]:
    """Return the charts a role starts with, limited to channels in the dictionary."""

    def each(family: str, channel: str) -> list[str]:
        return [f"{s.id}.{channel}" for s in dictionary.sources_of(family)]

    eclss = [s.id for s in dictionary.sources_of("eclss")]
    cabin = eclss[0] if eclss else "jpm"
    flight = [
        [f"{cabin}.ppco2"],
        [f"{cabin}.ppo2"],
        each("robot", "battery_pct"),
        [f"{cabin}.temp", f"{cabin}.dewpoint"],
    ]
    charts = {
        "flight": flight,
        # The radiation panel already plots area rates, GOES and locations:
        # these charts follow each crew member's estimate.
        "radiation": [each("crew", "dose_rate"), each("crew", "dose_session")],
        "trainer": [*flight[:3], each("robot", "nav_status")],
    }.get(role, flight)
    known = set(dictionary.channel_keys())
    out = [[k for k in chart if k in known] for chart in charts]
    out = [chart for chart in out if chart]
    if not out:
        limited = [
            k
            for k in dictionary.channel_keys()
            if (spec := dictionary.channel_for_key(k)) is not None and spec.limits
        ]
        out = [[k] for k in limited[:3]]
    return out


def _short_description(description: str, key: str) -> str:
    """Return the first phrase of a description ("Cabin air temperature")."""
    cut = len(description)
    for mark in (" (", ",", ";", " ≈", " ["):
        i = description.find(mark)
        if 0 < i < cut:
            cut = i
    return description[:cut].strip() or key


def chart_title(dictionary: TelemetryDictionary, keys: Sequence[str]) -> str:
    """Name what a chart shows: "Battery charge: ib2-a, ib2-b", not its unit."""
    if not keys:
        return ""
    parts: list[tuple[str, str]] = []  # (source, what)
    for key in keys:
        source, _, _name = key.partition(".")
        spec = dictionary.channel_for_key(key)
        what = _short_description(spec.description, key) if spec is not None else key
        parts.append((source, what))
    sources = list(dict.fromkeys(p[0] for p in parts))
    whats = list(dict.fromkeys(p[1] for p in parts))
    if len(whats) == 1:
        return f"{whats[0]}: {', '.join(sources)}"
    if len(sources) == 1:
        return f"{sources[0]}: {' · '.join(whats)}"
    return " · ".join(f"{source} {what}" for source, what in parts)


def _duration_text(seconds: float) -> str:
    """``90`` -> ``1 min 30 s``; ``5400`` -> ``1 h 30 min``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    h, m, sec = s // 3600, s % 3600 // 60, s % 60
    parts = [f"{h} h" if h else "", f"{m} min" if m else "", f"{sec} s" if sec else ""]
    return " ".join(p for p in parts if p)


def _plain_tip(text: str) -> str:
    """Return a tooltip Qt shows literally (escaped, in a paragraph)."""
    return f"<p style='white-space:pre'>{html.escape(text)}</p>" if text else ""


def _elide(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def saa_spans(t: np.ndarray, y: np.ndarray) -> list[tuple[float, float, Level]]:
    """Intervals where an SAA flag channel is set, as WATCH-shaded spans."""
    inside = y > 0.5
    if t.size == 0 or not inside.any():
        return []
    edges = np.flatnonzero(np.diff(inside.astype(np.int8))) + 1
    starts = [0, *edges.tolist()]
    ends = [*edges.tolist(), t.size]
    return [
        (float(t[a]), float(t[min(b, t.size - 1)]), Level.WATCH)
        for a, b in zip(starts, ends, strict=True)
        if inside[a]
    ]


class _ChannelModel(QStandardItemModel):
    """Channel list rows (key, unit, description) that drag as channel keys.

    Owned by the GUI thread.
    """

    def mimeTypes(self) -> list[str]:
        return [MIME_CHANNELS]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        keys = sorted({str(self.item(ix.row(), 0).text()) for ix in indexes})
        data = QMimeData()
        data.setData(MIME_CHANNELS, "\n".join(keys).encode())
        data.setText("\n".join(keys))
        return data


class _ChannelFilter(QSortFilterProxyModel):
    """Keeps rows whose key, unit or description contain every typed word.

    Owned by the GUI thread.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._words: list[str] = []

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._words = text.lower().split()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(
        self, row: int, parent: QModelIndex | QPersistentModelIndex
    ) -> bool:
        if not self._words:
            return True
        model = self.sourceModel()
        text = " ".join(
            str(model.index(row, c, parent).data() or "") for c in range(3)
        ).lower()
        return all(word in text for word in self._words)


class _StatusLabel(QLabel):
    """The plots' one-line status: cut at the dock's width, whole in its tooltip.

    A long message must never widen the dock (and the window) past the
    screen. Owned by the GUI thread.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        # Typed input and channel keys appear in it: never read as markup.
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(_plain_tip(text))


class _ChartSlot:
    """One chart of the stack and the channels on it; owned by the GUI thread."""

    _ids = itertools.count(1)

    def __init__(self, window_s: float) -> None:
        self.id = next(self._ids)
        self.chart = StripChart(window_s=window_s)
        self.chart.setAcceptDrops(True)
        self.frame = QFrame()
        self.frame.setObjectName("chartFrame")
        self.frame.setMinimumHeight(CHART_MIN_HEIGHT)
        self.frame.setProperty("selected", False)
        layout = QVBoxLayout(self.frame)
        layout.setContentsMargins(1, 1, 1, 1)
        layout.addWidget(self.chart)
        self.keys: list[str] = []
        self.watch = VersionWatch()
        # Per key, the buffer and its sample count already on the chart: a
        # live refresh then hands the chart only the newer samples.
        self.fed: dict[str, tuple[ChannelBuffer, int]] = {}
        self.axis_now = -math.inf
        # Range asked of the archive per key while paused: (t0, t1).
        self.pending: dict[str, tuple[float, float]] = {}
        # The Y range is an enum's states (set by the dock, not the user).
        self.state_axis = False

    def forget(self, key: str | None = None) -> None:
        """Reload ``key`` (or every key) in full from its buffer at the next refresh."""
        self.watch.forget(key)
        if key is None:
            self.fed.clear()
        else:
            self.fed.pop(key, None)

    def feed(self, key: str, buf: ChannelBuffer, keep_from: float) -> None:
        """Give the chart the samples of ``buf`` it lacks, from ``keep_from`` on."""
        held = self.fed.get(key)
        # -1 is no count of any buffer: everything, replacing the series.
        tail = buf.since(held[1] if held is not None and held[0] is buf else -1)
        self.fed[key] = (buf, tail.total)
        if tail.reset:
            i = int(np.searchsorted(tail.t, keep_from, "left"))
            self.chart.set_series(key, tail.t[i:], tail.y[i:])
        else:
            self.chart.append_series(key, tail.t, tail.y, keep_from=keep_from)


class PlotDock(Panel):
    """Stacked, linked strip charts with a channel browser; owned by the GUI thread.

    ``export_requested`` asks the window for the CSV export dialog.
    """

    export_requested = Signal()

    def __init__(
        self,
        context: ConsoleContext,
        parent: QWidget | None = None,
        role: str = "flight",
    ) -> None:
        super().__init__(context, "Plots", "plots", parent)
        self._slots: list[_ChartSlot] = []
        self._selected: _ChartSlot | None = None
        self._window_s = initial_window(
            context, ROLE_WINDOWS.get(role, 300.0), [w for _t, w in WINDOWS]
        )
        self._known_keys = 0
        self._saa_key = next(
            (f"{s.id}.saa" for s in context.dictionary.sources_of("orbit")), ""
        )
        self._saa_version = (-1, -1)
        self._spans: list[tuple[float, float, Level]] = []
        self._shade_saa = ROLE_SAA.get(role, False)
        self._last_browser_check = -math.inf

        body = QWidget(self)
        split = QSplitter(Qt.Orientation.Horizontal, body)
        split.setChildrenCollapsible(False)
        split.addWidget(self._build_browser())
        split.addWidget(self._build_charts())
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 900])
        self._split = split
        layout = QVBoxLayout(body)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(split)
        self.setWidget(body)
        pal = palette()
        self.setStyleSheet(
            f"QFrame#chartFrame {{ border: 1px solid {pal.theme['plot_bg']}; }}"
            'QFrame#chartFrame[selected="true"]'
            f" {{ border: 1px solid {pal.theme['accent']}; }}"
        )
        history = context.history
        if history is not None:
            history.loaded.connect(self._on_history)
            history.failed.connect(self._on_history_failed)
        self.apply_role(role)

    # ---- construction ----------------------------------------------------

    def _build_browser(self) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        self.search = QLineEdit(box)
        self.search.setPlaceholderText("Find channel (e.g. ib2 batt, mmHg, dose)")
        self.search.setClearButtonEnabled(True)
        self._model = _ChannelModel(0, 3, box)
        self._model.setHorizontalHeaderLabels(["Channel", "Unit", "Description"])
        self._filter = _ChannelFilter(box)
        self._filter.setSourceModel(self._model)
        self.search.textChanged.connect(self._filter.set_text)
        table = QTableView(box)
        table.setModel(self._filter)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setDragEnabled(True)
        table.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        table.verticalHeader().hide()
        table.verticalHeader().setDefaultSectionSize(20)
        table.setShowGrid(False)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        table.doubleClicked.connect(lambda _ix: self.add_selected_channels())
        self.browser = table
        add = QPushButton("Add to chart", box)
        add.setToolTip(
            "Add the selected channels to the highlighted chart (or double-click)"
        )
        add.clicked.connect(lambda: self.add_selected_channels())
        new = QPushButton("New chart", box)
        new.setToolTip("Put the selected channels on a new chart")
        new.clicked.connect(lambda: self.add_selected_channels(new_chart=True))
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(new)
        hint = QLabel("Drag channels onto a chart, or double-click.", box)
        hint.setObjectName("hint")
        hint.setStyleSheet(f"color: {palette().theme['text_faint']};")
        column.addWidget(self.search)
        column.addWidget(table, 1)
        column.addLayout(buttons)
        column.addWidget(hint)
        self._browser_box = box
        self._fill_browser()
        return box

    def _build_charts(self) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        bar = QHBoxLayout()
        bar.setSpacing(6)
        self.browser_button = QToolButton(box)
        self.browser_button.setText("Channels")
        self.browser_button.setCheckable(True)
        self.browser_button.setChecked(True)
        self.browser_button.setToolTip("Show or hide the channel browser")
        self.browser_button.toggled.connect(self._show_browser)
        self.window_box = QComboBox(box)
        for text, seconds in WINDOWS:
            self.window_box.addItem(text, seconds)
        self.window_box.setToolTip("Width of the live window")
        self.window_box.currentIndexChanged.connect(self._on_window_box)
        self.time_edit = QLineEdit(box)
        self.time_edit.setPlaceholderText("Time range (e.g. 15m)")
        self.time_edit.setToolTip(
            "Type a live window or a time range (UTC, session clock), then Enter:\n"
            + TIME_HELP
        )
        self.time_edit.setClearButtonEnabled(True)
        self.time_edit.setMinimumWidth(150)
        self.time_edit.setMaximumWidth(260)
        self.time_edit.returnPressed.connect(
            lambda: self.apply_time_text(self.time_edit.text())
        )
        self.live_button = QPushButton("Resume live", box)
        self.live_button.setToolTip("Follow live data on every chart again")
        self.live_button.clicked.connect(lambda: self.set_live(True))
        self.live_button.setEnabled(False)
        export = QPushButton("Export CSV…", box)
        export.setToolTip("Write the samples in the visible time range of every chart")
        export.clicked.connect(self.export_requested)
        self.status = _StatusLabel(box)
        self.status.setStyleSheet(f"color: {palette().theme['text_dim']};")
        bar.addWidget(self.browser_button)
        bar.addWidget(QLabel("Window", box))
        bar.addWidget(self.window_box)
        bar.addWidget(self.time_edit)
        bar.addWidget(self.live_button)
        bar.addWidget(self.status, 1)
        bar.addWidget(export)
        self._stack = QSplitter(Qt.Orientation.Vertical, box)
        self._stack.setChildrenCollapsible(False)
        self._stack.setHandleWidth(3)
        column.addLayout(bar)
        scroll = QScrollArea(box)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._stack)
        column.addWidget(scroll, 1)
        return box

    def _show_browser(self, on: bool) -> None:
        self._browser_box.setVisible(on)

    def _fill_browser(self) -> None:
        ctx = self.context
        keys = list(dict.fromkeys([*ctx.dictionary.channel_keys(), *ctx.store.keys()]))
        self._known_keys = len(ctx.store.keys())
        present = {self._model.item(r, 0).text() for r in range(self._model.rowCount())}
        for key in keys:
            if key in present:
                continue
            spec = ctx.dictionary.channel_for_key(key)
            desc = spec.description if spec is not None else "undeclared channel"
            row = [
                QStandardItem(key),
                QStandardItem(spec.unit if spec is not None else ""),
                QStandardItem(desc),
            ]
            for item in row:
                item.setToolTip(tip(describe(ctx, key)))
                item.setEditable(False)
            self._model.appendRow(row)

    # ---- charts ----------------------------------------------------------

    def charts(self) -> list[StripChart]:
        return [slot.chart for slot in self._slots]

    def chart_keys(self) -> list[list[str]]:
        return [list(slot.keys) for slot in self._slots]

    def window_s(self) -> float:
        return self._window_s

    def add_chart(self, keys: Sequence[str] = ()) -> StripChart | None:
        """Append a chart (linked to the others) showing ``keys``."""
        if len(self._slots) >= MAX_CHARTS:
            self.status.setText(f"at most {MAX_CHARTS} charts")
            return None
        slot = _ChartSlot(self._window_s)
        if self.context.mode != "live":
            slot.chart.set_follow_label(self.context.mode.upper())
        if self._slots:
            slot.chart.link_x(self._slots[0].chart)
        else:
            slot.chart.set_live(True)
        chart = slot.chart
        chart.paused_changed.connect(self._on_paused)
        chart.view_range_changed.connect(
            lambda t0, t1, s=slot: self._load_range(s, t0, t1)
        )
        chart.menu_requested.connect(lambda menu, s=slot: self._chart_menu(s, menu))
        chart.viewport().setAcceptDrops(True)
        chart.viewport().installEventFilter(self)
        self._slots.append(slot)
        self._stack.addWidget(slot.frame)
        self.add_channels(keys, chart)
        self._configure(slot)
        self._select(slot)
        if self._spans:
            chart.set_spans(self._spans)
        return chart

    def remove_chart(self, chart: StripChart) -> None:
        slot = self._slot_of(chart)
        if slot is None:
            return
        self._slots.remove(slot)
        slot.chart.unlink_x()
        slot.chart.viewport().removeEventFilter(self)
        slot.frame.hide()
        slot.frame.setParent(None)
        slot.frame.deleteLater()
        if self._selected is slot:
            self._selected = None
            if self._slots:
                self._select(self._slots[-1])

    def clear_charts(self) -> None:
        for slot in list(self._slots):
            self.remove_chart(slot.chart)

    def set_charts(self, charts: Sequence[Sequence[str]]) -> None:
        self.clear_charts()
        for keys in charts:
            self.add_chart(keys)
        if self._slots:
            self._select(self._slots[0])

    def add_channel(self, key: str, chart: StripChart | None = None) -> None:
        """Put ``key`` on ``chart`` (default: the highlighted chart, or a new one).

        One Y axis, one unit: a channel of another unit (or another set of
        enum states) than the chart's goes on a new chart of its own, and
        the status line says so.
        """
        self.add_channels([key], chart)

    def add_channels(
        self, keys: Sequence[str], chart: StripChart | None = None
    ) -> None:
        """Put ``keys`` on ``chart`` (see `add_channel`); one new chart per unit."""
        slot = self._slot_of(chart) if chart is not None else self._selected
        if slot is None:
            self._add_by_axis(keys)
            return
        kind = self._slot_axis(slot)
        fits = [k for k in keys if kind is None or self.axis_of(k) == kind]
        others = [k for k in keys if k not in fits]
        if fits and kind is None:  # an empty chart takes its first unit
            kind = self.axis_of(fits[0])
            others += [k for k in fits if self.axis_of(k) != kind]
            fits = [k for k in fits if self.axis_of(k) == kind]
        for key in fits:
            self._put(slot, key)
        if others:
            groups = len({self.axis_of(k) for k in others})
            made = self._add_by_axis(others)
            # Most telling first: the status line is cut where the dock is narrow.
            here = self.axis_name(kind)
            moved = ", ".join(
                f"{k} ({self.axis_name(self.axis_of(k))} ≠ {here})" for k in others
            )
            if made < groups:
                self.status.setText(
                    f"not added, {MAX_CHARTS} charts already: {moved} needs "
                    "a chart of its own"
                )
            else:
                where = "own charts" if made > 1 else "own chart"
                self.status.setText(f"{where} for {moved}")

    def _add_by_axis(self, keys: Sequence[str]) -> int:
        """Add one chart per axis kind among ``keys``; return how many."""
        groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for key in keys:
            groups.setdefault(self.axis_of(key), []).append(key)
        return sum(self.add_chart(group) is not None for group in groups.values())

    def axis_of(self, key: str) -> tuple[str, tuple[str, ...]]:
        """Return what a channel's Y axis is: its unit, or its enum states."""
        spec = self.context.dictionary.channel_for_key(key)
        if spec is None:
            return ("", ())
        return (spec.unit, tuple(sorted(spec.states, key=spec.states.__getitem__)))

    @staticmethod
    def axis_name(kind: tuple[str, tuple[str, ...]] | None) -> str:
        if kind is None:
            return "not set"
        unit, states = kind
        if states:
            return "states " + "/".join(states)
        return unit or "unitless"

    def _slot_axis(self, slot: _ChartSlot) -> tuple[str, tuple[str, ...]] | None:
        return self.axis_of(slot.keys[0]) if slot.keys else None

    def _put(self, slot: _ChartSlot, key: str) -> None:
        if key in slot.keys:
            return
        slot.keys.append(key)
        slot.forget(key)
        self._configure(slot)
        if not slot.chart.is_live():
            t0, t1 = slot.chart.time_range()
            self._load_range(slot, t0, t1)

    def show_channels(self, keys: Sequence[str]) -> None:
        """Highlight a chart showing exactly ``keys``, or add one (or more)."""
        wanted = [k for k in dict.fromkeys(keys) if k]
        if not wanted:
            return
        for slot in self._slots:
            if slot.keys == wanted:
                self._select(slot)
                return
        self._add_by_axis(wanted)

    def added_channels(self, role: str) -> list[str]:
        """Return the channels on the charts that the role's defaults do not show."""
        defaults = {
            k for chart in default_charts(self.context.dictionary, role) for k in chart
        }
        return [k for slot in self._slots for k in slot.keys if k not in defaults]

    def remove_channel(self, key: str, chart: StripChart) -> None:
        slot = self._slot_of(chart)
        if slot is None or key not in slot.keys:
            return
        slot.keys.remove(key)
        slot.forget(key)
        slot.chart.remove_series(key)
        slot.pending.pop(key, None)
        self._configure(slot)

    def add_selected_channels(self, new_chart: bool = False) -> None:
        rows = sorted({ix.row() for ix in self.browser.selectionModel().selectedRows()})
        keys = [str(self._filter.index(r, 0).data()) for r in rows]
        if not keys:
            return
        if new_chart or self._selected is None:
            self.add_chart(keys)
        else:
            self.add_channels(keys, self._selected.chart)

    def selected_chart(self) -> StripChart | None:
        return self._selected.chart if self._selected is not None else None

    def _slot_of(self, chart: StripChart | None) -> _ChartSlot | None:
        return next((s for s in self._slots if s.chart is chart), None)

    def _select(self, slot: _ChartSlot) -> None:
        for other in self._slots:
            selected = other is slot
            if other.frame.property("selected") != selected:
                other.frame.setProperty("selected", selected)
                style = other.frame.style()
                style.unpolish(other.frame)
                style.polish(other.frame)
        self._selected = slot

    def _configure(self, slot: _ChartSlot) -> None:
        """Title, unit, limit bands, log axis and enum ticks from the dictionary."""
        ctx = self.context
        chart = slot.chart
        specs = [ctx.dictionary.channel_for_key(k) for k in slot.keys]
        title = chart_title(ctx.dictionary, slot.keys)
        # pyqtgraph titles are HTML; channel keys can come from the wire.
        chart.setTitle(
            html.escape(_elide(title, TITLE_CHARS)) or None,
            color=palette().theme["text_dim"],
            size="9pt",
        )
        # The whole title where it had to be cut (a tooltip otherwise only
        # covers the hover cursor's values).
        chart.setToolTip(_plain_tip(title) if len(title) > TITLE_CHARS else "")
        if slot.keys:
            chart.set_unit(ctx.unit(slot.keys[0]))
        chart.set_value_format(self._cursor_text)
        same = bool(specs) and all(s is not None and s is specs[0] for s in specs)
        first = specs[0] if same else None
        chart.set_bands(limit_bands(first))
        chart.set_log_y(
            bool(specs) and all(s is not None and s.log_scale for s in specs)
        )
        axis = chart.getPlotItem().getAxis("left")
        states = specs[0].states if specs and specs[0] is not None else {}
        if states:
            ticks = [(float(code), name) for name, code in states.items()]
            axis.setTicks([ticks])
            codes = list(states.values())
            chart.set_y_range(min(codes) - 0.5, max(codes) + 0.5)
            slot.state_axis = True
        else:
            axis.setTicks(None)
            if slot.state_axis:  # a user's Y lock stays; enum ranges do not
                chart.set_y_range(None, None)
            slot.state_axis = False

    def _cursor_text(self, key: str, value: float) -> str:
        text = self.context.format(key, value)
        unit = self.context.unit(key)
        return f"{text} {unit}" if unit and not text.endswith(unit) else text

    # ---- refresh ---------------------------------------------------------

    def refresh(self, now: float) -> None:
        ctx = self.context
        self._refresh_spans(now)
        if now - self._last_browser_check >= 1.0:
            self._last_browser_check = now
            if len(ctx.store.keys()) != self._known_keys:
                self._fill_browser()
        live_span = self._window_s * LIVE_MARGIN
        for slot in self._slots:
            chart = slot.chart
            if not chart.is_live():
                continue  # paused: the view shows what the operator asked for
            for key in slot.keys:
                if not slot.watch.changed(ctx, key):
                    continue
                buf = ctx.store.buffer(key)
                if buf is not None:
                    slot.feed(key, buf, now - live_span)
                elif key in chart.series_names():
                    slot.fed.pop(key, None)
                    chart.set_series(key, _EMPTY, _EMPTY)  # the store was cleared
            # Slide the axis only once it has moved by about a pixel: a 5-min
            # window at 1500 px moves 5 px/s, not 20 redraws' worth.
            pixel_s = self._window_s / max(chart.width(), 100)
            if now - slot.axis_now >= pixel_s or now < slot.axis_now:
                slot.axis_now = now
                chart.set_now(now)

    def set_shade_saa(self, on: bool) -> None:
        """Shade SAA passes on every chart (from the orbit's ``saa`` flag)."""
        self._shade_saa = on
        self._saa_version = (-1, -1)
        if not on:
            self._spans = []
            for slot in self._slots:
                slot.chart.set_spans([])

    def shade_saa(self) -> bool:
        return self._shade_saa

    def _refresh_spans(self, now: float) -> None:
        if not self._saa_key or not self._shade_saa:
            return
        buf = self.context.store.buffer(self._saa_key)
        if buf is None or (id(buf), buf.version) == self._saa_version:
            return
        self._saa_version = (id(buf), buf.version)
        t, y = buf.window(now - 86400.0)
        spans = saa_spans(t, y)
        if spans != self._spans:
            self._spans = spans
            for slot in self._slots:
                slot.chart.set_spans(spans)

    # ---- live, pause and history -----------------------------------------

    def set_live(self, live: bool) -> None:
        if self._slots:
            self._slots[0].chart.set_live(live)

    def is_live(self) -> bool:
        return all(slot.chart.is_live() for slot in self._slots)

    def set_window(self, seconds: float) -> None:
        self._window_s = float(seconds)
        i = self.window_box.findData(self._window_s)
        if i < 0:  # a typed width: listed while it is the one shown
            self.window_box.blockSignals(True)
            while self.window_box.count() > len(WINDOWS):  # the last typed one
                self.window_box.removeItem(len(WINDOWS))
            self.window_box.addItem(_duration_text(self._window_s), self._window_s)
            self.window_box.blockSignals(False)
            i = self.window_box.count() - 1
        if i >= 0 and i != self.window_box.currentIndex():
            self.window_box.blockSignals(True)
            self.window_box.setCurrentIndex(i)
            self.window_box.blockSignals(False)
        for slot in self._slots:
            slot.chart.set_window(self._window_s)
            slot.forget()

    def apply_time_text(self, text: str) -> bool:
        """Show what the operator typed: a live window, or a fixed range (paused).

        Relative times count from the session clock (the replay cursor in a
        replay). A bad entry leaves the charts as they are and the status
        line says why; returns whether the entry was applied.
        """
        now = self.context.clock()
        try:
            wanted = parse_time_range(text, now)
        except TimeRangeError as exc:
            self.status.setText(f"time range: {exc}")
            return False
        if wanted.live:
            self.set_window(wanted.window_s)
            self.set_live(True)
            self.status.setText(f"live, last {_duration_text(wanted.window_s)}")
        elif self._slots:
            self._slots[0].chart.set_time_range(wanted.t0, wanted.t1)
            self.status.setText(
                f"paused on {utc_text(wanted.t0)} to {utc_text(wanted.t1)} UTC"
            )
        return True

    def _on_window_box(self, index: int) -> None:
        seconds = self.window_box.itemData(index)
        if isinstance(seconds, float | int):
            self.set_window(float(seconds))

    def _on_paused(self, paused: bool) -> None:
        self.live_button.setEnabled(paused)
        if not paused:
            for slot in self._slots:
                slot.pending.clear()
                slot.forget()
                slot.axis_now = -math.inf
            self.status.setText("")

    def _load_range(self, slot: _ChartSlot, t0: float, t1: float) -> None:
        """Show ``[t0, t1]`` from the buffer now; ask the archive for older samples."""
        if slot not in self._slots or slot.chart.is_live():
            return
        ctx = self.context
        span = max(t1 - t0, 1.0)
        a, b = t0 - 0.5 * span, t1 + 0.5 * span
        asked = 0
        for key in slot.keys:
            buf = ctx.store.buffer(key)
            bt, by = buf.window(a, b) if buf is not None else (_EMPTY, _EMPTY)
            slot.chart.set_series(key, bt, by)
            spec = ctx.dictionary.channel_for_key(key)
            period = 1.0 / spec.rate_hz if spec is not None else 1.0
            if ctx.history is None:
                continue
            if bt.size and bt[0] <= a + 2.0 * period:
                slot.pending.pop(key, None)
                continue  # the live buffer reaches back far enough
            until = float(bt[0]) if bt.size else b
            slot.pending[key] = (a, b)
            ctx.history.request(self._tag(slot, key), key, a, until)
            asked += 1
        if asked:
            self.status.setText("loading history from the archive…")

    @staticmethod
    def _tag(slot: _ChartSlot, key: str) -> str:
        return f"plot{slot.id}|{key}"

    def _on_history(self, tag: str, key: str, t: Any, y: Any) -> None:
        slot = next((s for s in self._slots if self._tag(s, key) == tag), None)
        if slot is None or slot.chart.is_live() or key not in slot.pending:
            return
        a, b = slot.pending.pop(key)
        ht = np.asarray(t, dtype=np.float64)
        hy = np.asarray(y, dtype=np.float64)
        buf = self.context.store.buffer(key)
        bt, by = buf.window(a, b) if buf is not None else (_EMPTY, _EMPTY)
        if bt.size:
            older = ht < bt[0]
            ht, hy = np.concatenate((ht[older], bt)), np.concatenate((hy[older], by))
        slot.chart.set_series(key, ht, hy)
        if not any(s.pending for s in self._slots):
            self.status.setText("paused · history loaded")

    def _on_history_failed(self, tag: str, message: str) -> None:
        if tag.startswith("plot"):
            self.status.setText(message[:120])

    # ---- export ----------------------------------------------------------

    def export_csv(self, path: Path) -> int:
        """Write every chart's samples in its visible time range; return the row count.

        Same layout as ``kibo-console export``: ``time,channel,value`` with
        ISO-8601 UTC times, enum state names, formula-safe quoting.
        """
        ctx = self.context
        done: set[str] = set()
        count = 0
        with Path(path).open("w", newline="", encoding="utf-8") as out:
            out.write("time,channel,value\n")
            for slot in self._slots:
                for key, (t, y) in slot.chart.visible_data().items():
                    if key in done:
                        continue
                    done.add(key)
                    spec = ctx.dictionary.channel_for_key(key)
                    name = csv_text(key)
                    lines = []
                    for tv, v in zip(t.tolist(), y.tolist(), strict=True):
                        if not math.isfinite(v):
                            field = ""
                        elif spec is not None and spec.states:
                            field = csv_text(spec.state_name(v))
                        else:
                            field = repr(v)
                        lines.append(f"{iso_utc(tv) or repr(tv)},{name},{field}\n")
                    out.writelines(lines)
                    count += len(lines)
        return count

    def export_wide_csv(self, path: Path) -> int:
        """Write the visible data one column per channel; return the row count.

        Same layout as ``kibo-console export --wide``: a row for every time
        at which any channel has a sample, the others empty there (an outer
        join on exact times: nothing interpolated).
        """
        ctx = self.context
        series: dict[str, tuple[list[float], list[float]]] = {}
        for slot in self._slots:
            for key, (t, y) in slot.chart.visible_data().items():
                series.setdefault(key, (t.tolist(), y.tolist()))
        keys = list(series)
        cells: dict[float, list[str]] = {}
        for col, key in enumerate(keys):
            spec = ctx.dictionary.channel_for_key(key)
            for tv, v in zip(*series[key], strict=True):
                row = cells.setdefault(tv, [""] * len(keys))
                if not math.isfinite(v):
                    continue
                if spec is not None and spec.states:
                    row[col] = csv_text(spec.state_name(v))
                else:
                    row[col] = repr(v)
        with Path(path).open("w", newline="", encoding="utf-8") as out:
            out.write("time," + ",".join(csv_text(k) for k in keys) + "\n")
            for tv in sorted(cells):
                out.write(f"{iso_utc(tv) or repr(tv)},{','.join(cells[tv])}\n")
        return len(cells)

    # ---- interaction -----------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        slot = next((s for s in self._slots if s.chart.viewport() is watched), None)
        if slot is None:
            return False
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress:
            self._select(slot)
        elif kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            drag: QDragEnterEvent = event  # type: ignore[assignment]
            mime = drag.mimeData()
            if mime is not None and mime.hasFormat(MIME_CHANNELS):
                drag.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            drop: QDropEvent = event  # type: ignore[assignment]
            mime = drop.mimeData()
            if mime is not None and mime.hasFormat(MIME_CHANNELS):
                keys = bytes(mime.data(MIME_CHANNELS).data()).decode().split("\n")
                self._select(slot)
                self.add_channels([k for k in keys if k], slot.chart)
                drop.acceptProposedAction()
                return True
        return False

    def _chart_menu(self, slot: _ChartSlot, menu: QMenu) -> None:
        """Add the dock's entries to a chart's own menu (Y range, log axis)."""
        self._select(slot)
        first = menu.actions()[0]  # the chart's own entries come after ours
        for key in slot.keys:
            action = QAction(f"Remove {key}", menu)
            action.triggered.connect(
                lambda _=False, k=key: self.remove_channel(k, slot.chart)
            )
            menu.insertAction(first, action)
        add = QAction("Add selected channels here", menu)
        add.triggered.connect(lambda: self.add_selected_channels())
        menu.insertAction(first, add)
        menu.insertSeparator(first)
        menu.addSeparator()
        saa = menu.addAction("Shade SAA passes (all charts)")
        saa.setCheckable(True)
        saa.setChecked(self._shade_saa)
        saa.setEnabled(bool(self._saa_key))
        saa.toggled.connect(self.set_shade_saa)
        menu.addSeparator()
        new = menu.addAction("New empty chart")
        new.triggered.connect(lambda: self.add_chart())
        remove = menu.addAction("Remove this chart")
        remove.triggered.connect(lambda: self.remove_chart(slot.chart))

    # ---- roles and saved layouts -----------------------------------------

    def apply_role(self, role: str) -> None:
        self.set_window(
            initial_window(
                self.context, ROLE_WINDOWS.get(role, 300.0), [w for _t, w in WINDOWS]
            )
        )
        self.browser_button.setChecked(ROLE_BROWSER.get(role, True))
        self.set_shade_saa(ROLE_SAA.get(role, False))
        self.set_charts(default_charts(self.context.dictionary, role))

    def settings(self) -> dict[str, Any]:
        return {
            "charts": self.chart_keys(),
            "window_s": self._window_s,
            "browser": self.browser_button.isChecked(),
            "shade_saa": self._shade_saa,
        }

    def restore_settings(self, data: dict[str, Any]) -> None:
        charts = data.get("charts")
        if isinstance(charts, list) and all(isinstance(c, list) for c in charts):
            self.set_charts([[str(k) for k in c] for c in charts])
        window = data.get("window_s")
        if isinstance(window, float | int) and window > 0:
            self.set_window(float(window))
        saa = data.get("shade_saa")
        if isinstance(saa, bool):
            self.set_shade_saa(saa)
        browser = data.get("browser")
        if isinstance(browser, bool):
            self.browser_button.setChecked(browser)

    def shutdown(self) -> None:
        history = self.context.history
        if history is not None:
            for signal, slot in (
                (history.loaded, self._on_history),
                (history.failed, self._on_history_failed),
            ):
                with contextlib.suppress(RuntimeError, TypeError):
                    signal.disconnect(slot)  # may be disconnected already
