"""Event and alarm tables: a generic row model and the alarm list view.

`EventTableModel` holds rows of text cells with a level and a state per row;
`AlarmTable` shows them with a state filter and the acknowledge/shelve actions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from widgets.levels import Level, palette
from widgets.plain_text import plain
from widgets.shelve_dialog import SHELVE_MINUTES, ShelveDialog

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from PySide6.QtGui import QResizeEvent

#: Item data roles: the row id, the level's value string (``Level(value)``), the state.
ROW_ID_ROLE = Qt.ItemDataRole.UserRole + 1
LEVEL_ROLE = Qt.ItemDataRole.UserRole + 2
STATE_ROLE = Qt.ItemDataRole.UserRole + 3

#: (label, states shown); None shows every row.
DEFAULT_FILTERS: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("Active", frozenset({"unacked", "acked"})),
    ("Unacknowledged", frozenset({"unacked"})),
    ("Acknowledged", frozenset({"acked"})),
    ("Shelved", frozenset({"shelved"})),
    ("All", None),
)
DEFAULT_SHELVE_MINUTES = SHELVE_MINUTES
#: The narrowest an elastic column gets before the view scrolls sideways.
ELASTIC_MIN_PX = 160

AnyIndex = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


@dataclass(frozen=True, slots=True)
class EventRow:
    """One table row: a stable id, cell texts in column order, level and state.

    `state` is free text used for filtering (e.g. "unacked", "acked",
    "shelved"); `emphasized` rows are drawn bold with a tinted background
    (e.g. unacknowledged alarms). Immutable; usable from any thread.
    """

    id: str
    cells: tuple[str, ...]
    level: Level = Level.NOMINAL
    state: str = ""
    emphasized: bool = False


#: A row: EventRow, a tuple of its fields, or a mapping with "id", optional
#: "level", "state", "emphasized", and the cell text under each column title.
RowInput = EventRow | tuple[Any, ...] | Mapping[str, Any]


class EventTableModel(QAbstractTableModel):
    """Rows of text with a level per row, replaced wholesale by `set_rows`.

    `set_rows` diffs by row id: it removes, moves, inserts and updates only
    what changed, so selection and scroll position survive a refresh.
    Owned by the GUI thread.
    """

    def __init__(self, columns: Sequence[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._columns = tuple(columns)
        self._rows: list[EventRow] = []
        self._marks: dict[Level, QPixmap] = {}

    # ---- rows ----------------------------------------------------------------

    def columns(self) -> tuple[str, ...]:
        """Return the column titles."""
        return self._columns

    def rows(self) -> list[EventRow]:
        """Return the rows held, in display order."""
        return list(self._rows)

    def row_of(self, row_id: str) -> int | None:
        """Return the row number of `row_id`, or None."""
        for i, row in enumerate(self._rows):
            if row.id == row_id:
                return i
        return None

    def set_rows(self, rows: Iterable[RowInput]) -> None:
        """Replace the rows (see `RowInput`); row ids must be unique.

        Tuple cells are strings in column order (short rows are padded);
        mapping rows take each cell from the key of its column title.
        """
        new = [self._normalized(r) for r in rows]
        new_ids = [r.id for r in new]
        if len(set(new_ids)) != len(new_ids):
            raise ValueError("row ids must be unique")
        old_ids = [r.id for r in self._rows]
        if new_ids != old_ids:
            self._restructure(new_ids, new)
        self._update_cells(new)

    def _normalized(self, row: RowInput) -> EventRow:
        if isinstance(row, Mapping):
            return EventRow(
                str(row["id"]),
                tuple(str(row.get(c, "")) for c in self._columns),
                Level(row.get("level", Level.NOMINAL)),
                str(row.get("state", "")),
                bool(row.get("emphasized", False)),
            )
        if not isinstance(row, EventRow):
            row = EventRow(*row)
        cells = tuple(str(c) for c in row.cells)
        if len(cells) < len(self._columns):
            cells += ("",) * (len(self._columns) - len(cells))
        return EventRow(str(row.id), cells, row.level, row.state, row.emphasized)

    def _restructure(self, new_ids: list[str], new: list[EventRow]) -> None:
        root = QModelIndex()
        new_set = set(new_ids)
        # 1. removals, bottom-up in contiguous runs
        gone = [i for i, r in enumerate(self._rows) if r.id not in new_set]
        while gone:
            last = first = gone.pop()
            while gone and gone[-1] == first - 1:
                first = gone.pop()
            self.beginRemoveRows(root, first, last)
            del self._rows[first : last + 1]
            self.endRemoveRows()
        # 2. reorder the survivors if their relative order changed
        old_set = {r.id for r in self._rows}
        order = [rid for rid in new_ids if rid in old_set]
        if [r.id for r in self._rows] != order:
            self.layoutAboutToBeChanged.emit()
            target = {rid: i for i, rid in enumerate(order)}
            before = self.persistentIndexList()
            after = [
                self.index(target[self._rows[ix.row()].id], ix.column())
                for ix in before
            ]
            by_id = {r.id: r for r in self._rows}
            self._rows = [by_id[rid] for rid in order]
            self.changePersistentIndexList(before, after)
            self.layoutChanged.emit()
        # 3. insertions, top-down in contiguous runs
        j = 0
        while j < len(new_ids):
            if new_ids[j] in old_set:
                j += 1
                continue
            k = j
            while k + 1 < len(new_ids) and new_ids[k + 1] not in old_set:
                k += 1
            self.beginInsertRows(root, j, k)
            self._rows[j:j] = new[j : k + 1]
            self.endInsertRows()
            j = k + 1

    def _update_cells(self, new: list[EventRow]) -> None:
        changed = [
            i for i, (a, b) in enumerate(zip(self._rows, new, strict=True)) if a != b
        ]
        self._rows = new
        if changed:
            last_col = max(len(self._columns) - 1, 0)
            self.dataChanged.emit(
                self.index(changed[0], 0), self.index(changed[-1], last_col)
            )

    # ---- Qt model interface ----------------------------------------------------

    def rowCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._columns)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self._columns)
        ):
            return self._columns[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return row.cells[col] if col < len(row.cells) else ""
        if role == ROW_ID_ROLE:
            return row.id
        if role == LEVEL_ROLE:
            return row.level.value
        if role == STATE_ROLE:
            return row.state
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return self._mark(row.level)
        if role == Qt.ItemDataRole.ForegroundRole:
            key = "text" if row.emphasized or not row.state else "text_dim"
            return palette().color(key)
        if role == Qt.ItemDataRole.BackgroundRole and row.emphasized:
            if row.level.is_abnormal:
                tint = row.level.color
                tint.setAlpha(48)
                return tint
            return None
        if role == Qt.ItemDataRole.FontRole and row.emphasized:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            state = f" ({row.state})" if row.state else ""
            return f"{row.level.label}{state}"
        return None

    def _mark(self, level: Level) -> QPixmap:
        mark = self._marks.get(level)
        if mark is None:
            mark = QPixmap(10, 10)
            mark.fill(QColor(0, 0, 0, 0))
            p = QPainter(mark)
            if level is Level.NO_DATA or level is Level.NOMINAL:
                p.setPen(level.color)
                p.drawRect(1, 1, 7, 7)
            else:
                p.fillRect(0, 0, 10, 10, level.color)
                if level is Level.STALE:
                    p.fillRect(0, 0, 10, 10, palette().color("panel"))
                    p.fillRect(0, 0, 10, 10, level.brush())
            p.end()
            self._marks[level] = mark
        return mark


class AlarmTable(QWidget):
    """Alarm list: state filter, selection, acknowledge and shelve actions.

    Emits ``ack_requested(ids, comment)`` and
    ``shelve_requested(ids, minutes, reason)``;
    it changes nothing itself: the console applies the action, records who and
    when, and sends the updated rows back through `set_rows`.
    Owned by the GUI thread.
    """

    ack_requested = Signal(list, str)
    shelve_requested = Signal(list, int, str)
    row_activated = Signal(str)

    def __init__(
        self,
        columns: Sequence[str],
        parent: QWidget | None = None,
        *,
        filters: Sequence[tuple[str, frozenset[str] | None]] = DEFAULT_FILTERS,
        shelve_minutes: Sequence[int] = DEFAULT_SHELVE_MINUTES,
        ackable_states: frozenset[str] = frozenset({"unacked", ""}),
    ) -> None:
        super().__init__(parent)
        self._filters = dict(filters)
        self._shelve_minutes = tuple(shelve_minutes)
        self._ackable = ackable_states
        self._elastic: int | None = None
        self._model = EventTableModel(columns, self)
        self._proxy = QSortFilterProxyModel(self)
        self._proxy.setSourceModel(self._model)
        self._proxy.setFilterRole(STATE_ROLE)
        self._proxy.setFilterKeyColumn(0)

        view = QTableView(self)
        view.setModel(self._proxy)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setAlternatingRowColors(True)
        view.setShowGrid(False)
        view.setWordWrap(False)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(22)
        header = view.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._show_context_menu)
        view.doubleClicked.connect(self._on_double_click)
        self._view = view

        self._ack = QPushButton("Ack", self)
        self._ack.setToolTip("Acknowledge the selected alarms")
        self._ack.clicked.connect(lambda: self.request_ack())
        self._ack_all = QPushButton("Ack all visible", self)
        self._ack_all.setToolTip("Acknowledge every unacknowledged alarm in the list")
        self._ack_all.clicked.connect(self.request_ack_visible)
        self._shelve = QPushButton("Shelve…", self)
        self._shelve.setToolTip(
            "Hide and silence the selected alarms for a chosen time, with a reason"
        )
        self._shelve.clicked.connect(lambda: self.ask_shelve())
        self._comment = QLineEdit(self)
        self._comment.setPlaceholderText(
            "Ack comment · Enter acknowledges the selection"
        )
        self._comment.setToolTip(
            "Optional comment for the log; Enter acknowledges the selected alarms"
        )
        self._comment.setClearButtonEnabled(True)
        self._comment.returnPressed.connect(lambda: self.request_ack())
        self._filter = QComboBox(self)
        self._filter.addItems(list(self._filters))
        self._filter.setToolTip("Show alarms in these states")
        self._filter.currentTextChanged.connect(self._apply_filter)
        self._count = plain(QLabel("", self))
        self._count.setObjectName("alarmCount")

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(6)
        for w in (self._ack, self._ack_all, self._shelve):
            bar.addWidget(w)
        bar.addWidget(self._comment, 1)
        bar.addWidget(self._filter)
        bar.addWidget(self._count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(view, 1)

        for signal in (
            self._proxy.rowsInserted,
            self._proxy.rowsRemoved,
            self._proxy.modelReset,
            self._proxy.layoutChanged,
            self._model.dataChanged,
        ):
            signal.connect(self._update_controls)
        view.selectionModel().selectionChanged.connect(self._update_controls)
        self._apply_filter(self._filter.currentText())

    # ---- data ------------------------------------------------------------------

    def model(self) -> EventTableModel:
        """Return the row model (unfiltered)."""
        return self._model

    def view(self) -> QTableView:
        """Return the table view."""
        return self._view

    def set_rows(self, rows: Iterable[RowInput]) -> None:
        """Replace the rows (see `EventTableModel.set_rows`); selection survives."""
        before = self._model.rows()
        self._model.set_rows(rows)
        if self._model.rows() != before:
            self.fit_columns()
        self._update_controls()

    def set_column_widths(self, widths: Sequence[int]) -> None:
        """Set initial column widths in pixels (the last column stretches)."""
        for col, width in enumerate(widths):
            self._view.setColumnWidth(col, width)
        self.fit_columns()

    def set_elastic_column(self, col: int | None) -> None:
        """Name the column (e.g. a long description) that gives way when narrow."""
        self._elastic = col
        self.fit_columns()

    def fit_columns(self) -> None:
        """Size columns to their content: widen what would cut, narrow what is empty.

        A time cut to "341/09:0…" while an empty column keeps its width is
        what this prevents; columns the operator widened stay as wide. When
        the view is too narrow for all, the elastic column (if any) gives up
        its width first, so the last column (the state) stays in view.
        """
        view, header = self._view, self._view.horizontalHeader()
        last = self._proxy.columnCount() - 1
        needs = [
            max(view.sizeHintForColumn(col), header.sectionSizeHint(col))
            for col in range(last + 1)
        ]
        elastic = self._elastic
        for col in range(last):  # the last column stretches
            need = needs[col]
            if col == elastic:
                others = sum(needs) - need
                # A few pixels of slack: the header's own margins.
                room = view.viewport().width() - others - 8
                need = max(min(need, room), ELASTIC_MIN_PX)
                view.setColumnWidth(col, need)
                continue
            width = view.columnWidth(col)
            empty = not any(
                r.cells[col] for r in self._model.rows() if col < len(r.cells)
            )
            if width < need or (empty and width > need):
                view.setColumnWidth(col, need)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._elastic is not None:
            self.fit_columns()

    def cut_cells(self) -> list[tuple[str, str]]:
        """Return (row id, column title) of every visible cell whose text is cut.

        The elastic column is left out: it is the one allowed to elide.
        """
        view, proxy = self._view, self._proxy
        metrics = view.fontMetrics()
        cut = []
        for r in range(proxy.rowCount()):
            for c in range(proxy.columnCount()):
                index = proxy.index(r, c)
                text = str(index.data() or "")
                if not text:
                    continue
                # Text width plus the cell's margins and the level mark in column 0.
                need = metrics.horizontalAdvance(text) + (24 if c == 0 else 8)
                last = c == proxy.columnCount() - 1
                if need > view.columnWidth(c) and not last and c != self._elastic:
                    cut.append((str(index.data(ROW_ID_ROLE)), self._model.columns()[c]))
        return cut

    # ---- filter ----------------------------------------------------------------

    def filter_names(self) -> list[str]:
        """Return the entries of the filter box."""
        return list(self._filters)

    def set_filter(self, name: str) -> None:
        """Show only rows in the states of filter `name` (see `filter_names`)."""
        if name not in self._filters:
            raise KeyError(f"no filter {name!r}")
        self._filter.setCurrentText(name)

    def current_filter(self) -> str:
        """Return the name of the filter applied."""
        return self._filter.currentText()

    def _visible_rows(self) -> list[EventRow]:
        states = self._filters.get(self._filter.currentText())
        rows = self._model.rows()
        return rows if states is None else [r for r in rows if r.state in states]

    def _apply_filter(self, name: str) -> None:
        states = self._filters.get(name)
        pattern = (
            ""
            if states is None
            else "^(?:" + "|".join(re.escape(s) for s in sorted(states)) + ")$"
        )
        self._proxy.setFilterRegularExpression(QRegularExpression(pattern))
        self._update_controls()

    # ---- selection ----------------------------------------------------------------

    def visible_ids(self) -> list[str]:
        """Return the ids of the rows that pass the filter, top to bottom."""
        proxy = self._proxy
        return [
            str(proxy.index(r, 0).data(ROW_ID_ROLE)) for r in range(proxy.rowCount())
        ]

    def selected_ids(self) -> list[str]:
        """Return the ids of the selected visible rows, top to bottom."""
        rows = sorted(ix.row() for ix in self._view.selectionModel().selectedRows())
        return [str(self._proxy.index(r, 0).data(ROW_ID_ROLE)) for r in rows]

    def select_ids(self, ids: Iterable[str]) -> None:
        """Select the visible rows with these ids (others are ignored)."""
        wanted = set(ids)
        selection = QItemSelection()
        last = self._proxy.columnCount() - 1
        for r in range(self._proxy.rowCount()):
            if self._proxy.index(r, 0).data(ROW_ID_ROLE) in wanted:
                selection.select(self._proxy.index(r, 0), self._proxy.index(r, last))
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        self._view.selectionModel().select(selection, flags)

    # ---- actions -----------------------------------------------------------------

    def comment(self) -> str:
        """Return the acknowledge comment typed so far."""
        return self._comment.text().strip()

    def set_comment(self, text: str) -> None:
        """Fill the acknowledge comment box."""
        self._comment.setText(text)

    def request_ack(self, ids: Sequence[str] | None = None) -> None:
        """Emit ``ack_requested`` for `ids` (default: the selection) + comment."""
        targets = list(ids) if ids is not None else self.selected_ids()
        if targets:
            self.ack_requested.emit(targets, self.comment())
            self._comment.clear()

    def request_ack_visible(self) -> None:
        """Emit ``ack_requested`` for every visible row that can be acknowledged."""
        self.request_ack(
            [r.id for r in self._visible_rows() if r.state in self._ackable]
        )

    def request_shelve(
        self, minutes: int, ids: Sequence[str] | None = None, reason: str = ""
    ) -> None:
        """Emit ``shelve_requested`` for `ids` (default: the selection)."""
        targets = list(ids) if ids is not None else self.selected_ids()
        if targets:
            self.shelve_requested.emit(targets, int(minutes), reason.strip())

    def ask_shelve(self) -> ShelveDialog | None:
        """Ask how long and why, then shelve the selection (None: nothing selected)."""
        targets = self.selected_ids()
        if not targets:
            return None
        dialog = ShelveDialog(targets, self, minutes=self._shelve_minutes)
        if dialog.exec() == ShelveDialog.DialogCode.Accepted:
            self.request_shelve(dialog.minutes(), targets, dialog.reason_text())
        return dialog

    def context_menu(self) -> QMenu:
        """Build the right-click menu for the current selection."""
        menu = QMenu(self)
        has_selection = bool(self.selected_ids())
        ack = menu.addAction("Acknowledge selected")
        ack.setEnabled(has_selection)
        ack.triggered.connect(lambda: self.request_ack())
        shelve = menu.addAction("Shelve selected…")
        shelve.setEnabled(has_selection)
        shelve.triggered.connect(lambda: self.ask_shelve())
        menu.addSeparator()
        copy = menu.addAction("Copy rows")
        copy.setEnabled(has_selection)
        copy.triggered.connect(self.copy_selected)
        return menu

    def copy_selected(self) -> None:
        """Copy the selected rows to the clipboard as tab-separated text."""
        lines = ["\t".join(self._model.columns())]
        for row_id in self.selected_ids():
            row = self._model.row_of(row_id)
            if row is not None:
                lines.append("\t".join(self._model.rows()[row].cells))
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText("\n".join(lines))

    def _show_context_menu(self, pos: QPoint) -> None:
        menu = self.context_menu()
        menu.popup(self._view.viewport().mapToGlobal(pos))

    def _on_double_click(self, index: QModelIndex) -> None:
        self.row_activated.emit(str(index.data(ROW_ID_ROLE)))

    def _update_controls(self, *_args: object) -> None:
        selected = bool(self._view.selectionModel().hasSelection())
        self._ack.setEnabled(selected)
        self._shelve.setEnabled(selected)
        visible = self._visible_rows()
        self._ack_all.setEnabled(any(r.state in self._ackable for r in visible))
        self._count.setText(f"{len(visible)} shown / {self._model.rowCount()}")
