"""The event log: gaps, publisher restarts, link changes, rejected frames, new channels.

Pulled from ``store.events_since`` (the pipeline's bounded event deque) plus
the operator's own actions, newest first, capped so a flood cannot grow it.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from console.docks.panel import Panel, utc_text
from widgets.event_table import EventRow, EventTableModel
from widgets.levels import Level, palette
from widgets.plain_text import plain

if TYPE_CHECKING:
    from console.context import ConsoleContext

COLUMNS = ("UTC (day/time)", "Source", "Event", "Detail")
MAX_ROWS = 2000
POLL_S = 0.25
_LEVELS = (Level.NOMINAL, Level.WATCH, Level.WARNING, Level.CRITICAL)


class EventDock(Panel):
    """Event table fed from the store's event deque; owned by the GUI thread."""

    def __init__(self, context: ConsoleContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "Events", "events", parent)
        self.model = EventTableModel(COLUMNS, self)
        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(self.model)
        self._proxy.setFilterKeyColumn(-1)
        self._proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        view = QTableView(self)
        view.setModel(self._proxy)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setAlternatingRowColors(True)
        view.setShowGrid(False)
        view.setWordWrap(False)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(20)
        header = view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # The time column fits a whole day/time (a fixed 100 px cut it to
        # "061/09:0…" at the default font); the level mark takes ~24 px.
        time_w = view.fontMetrics().horizontalAdvance("000/00:00:00") + 30
        for col, width in enumerate((time_w, 110, 150)):
            view.setColumnWidth(col, width)
        self.view = view
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Filter events")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._proxy.setFilterFixedString)
        self.important = QCheckBox("Watch and worse only", self)
        self.important.toggled.connect(lambda _on: self._rebuild())
        self.count = plain(QLabel("", self))
        self.count.setStyleSheet(f"color: {palette().theme['text_dim']};")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.important)
        bar.addWidget(self.count)
        body = QWidget(self)
        column = QVBoxLayout(body)
        column.setContentsMargins(4, 4, 4, 4)
        column.setSpacing(4)
        column.addLayout(bar)
        column.addWidget(view, 1)
        self.setWidget(body)
        self._seq = 0
        self._local = 0
        # Newest last; rows are shown reversed. Bounded like the store's deque.
        self._rows: deque[EventRow] = deque(maxlen=MAX_ROWS)
        self._next_poll = -math.inf
        self._dirty = False

    def refresh(self, now: float) -> None:
        if now < self._next_poll and not self._dirty:
            return
        self._next_poll = now + POLL_S
        self._pull()
        if self._dirty:
            self._rebuild()

    def _pull(self) -> None:
        events = self.context.store.events_since(self._seq)
        if events:
            self._seq = events[-1].seq
            for e in events:
                level = _LEVELS[max(0, min(e.severity, 3))]
                if e.kind in ("link down",):
                    level = Level.CRITICAL
                elif e.kind == "link stale":
                    level = Level.STALE
                self._rows.append(
                    EventRow(
                        f"e{e.seq}",
                        (utc_text(e.time), e.source or "", e.kind, e.detail),
                        level,
                    )
                )
            self._dirty = True

    def add_operator_event(self, text: str, now: float | None = None) -> None:
        """Log an operator action (ack, shelve, silence...) beside the data events."""
        t = self.context.clock() if now is None else now
        self._pull()  # keep the log in arrival order
        self._local += 1
        who = self.context.alarms.operator or "operator"
        self._rows.append(
            EventRow(f"op{self._local}", (utc_text(t), who, "operator", text))
        )
        self._dirty = True

    def _rebuild(self) -> None:
        self._dirty = False
        rows = list(reversed(self._rows))
        if self.important.isChecked():
            rows = [r for r in rows if r.level.rank >= Level.WATCH.rank]
        self.model.set_rows(rows)
        self.count.setText(f"{self.model.rowCount()} events")
        # Times are never cut ("061/09:0…"): the time column follows its
        # text in the style sheet's font, known only once rows are drawn.
        need = self.view.sizeHintForColumn(0)
        if need > self.view.columnWidth(0):
            self.view.setColumnWidth(0, need)

    def rows(self) -> list[EventRow]:
        return self.model.rows()
