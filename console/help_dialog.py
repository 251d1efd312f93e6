"""Help > Keyboard shortcuts (F1): every key the console answers, in one table.

The rows come from the window itself (its actions' shortcuts and the replay
bar's keys), so the list cannot drift from what the keys really do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PySide6.QtWidgets import QWidget

#: The replay bar's shortcut names (``ReplayBar.shortcuts``) and what they do,
#: in the order of the Replay menu.
REPLAY_KEYS: tuple[tuple[str, str], ...] = (
    ("play", "Play / pause"),
    ("back", "Step back"),
    ("forward", "Step forward"),
    ("back60", "Back 60 s"),
    ("forward60", "Forward 60 s"),
    ("frame", "One frame forward"),
    ("start", "Go to the start"),
    ("end", "Go to the end"),
    ("previous_mark", "Previous alarm, event or bookmark"),
    ("next_mark", "Next alarm, event or bookmark"),
    ("loop_in", "Loop in at the cursor"),
    ("loop_out", "Loop out at the cursor"),
    ("loop_clear", "Clear the loop"),
    ("faster", "Faster"),
    ("slower", "Slower"),
    ("goto", "Go to a time…"),
    ("bookmark", "Bookmark the cursor…"),
)


class HelpDialog(QDialog):
    """A two-column table of keys and what they do; owned by the GUI thread."""

    def __init__(
        self, rows: Sequence[tuple[str, str]], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTableWidget(len(rows), 2, self)
        self.table.setHorizontalHeaderLabels(["Keys", "Does"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        for r, (keys, does) in enumerate(rows):
            self.table.setItem(r, 0, QTableWidgetItem(keys))
            self.table.setItem(r, 1, QTableWidgetItem(does))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        column = QVBoxLayout(self)
        column.addWidget(self.table, 1)
        column.addWidget(buttons)
        self.resize(560, min(80 + 24 * len(rows), 640))

    def rows(self) -> list[tuple[str, str]]:
        """Return the (keys, does) rows shown."""
        out = []
        for r in range(self.table.rowCount()):
            keys, does = self.table.item(r, 0), self.table.item(r, 1)
            out.append((keys.text() if keys else "", does.text() if does else ""))
        return out
