from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractButton, QApplication, QLineEdit

from widgets.event_table import (
    LEVEL_ROLE,
    ROW_ID_ROLE,
    AlarmTable,
    EventRow,
    EventTableModel,
)
from widgets.levels import Level
from widgets.shelve_dialog import ShelveDialog

COLUMNS = ["Time", "Source", "Message"]


def row(i: str, state: str = "unacked", level: Level = Level.WARNING, msg: str = ""):
    return EventRow(i, (f"12:00:{i}", "jpm", msg or f"alarm {i}"), level, state)


def ids(model: EventTableModel) -> list[str]:
    return [model.index(r, 0).data(ROW_ID_ROLE) for r in range(model.rowCount())]


# ---- model -------------------------------------------------------------------


def test_model_exposes_cells_level_and_header(qtbot):
    model = EventTableModel(COLUMNS)
    model.set_rows([row("1", level=Level.CRITICAL), ("2", ("a", "b"), Level.WATCH)])
    assert model.rowCount() == 2
    assert model.columnCount() == 3
    assert model.headerData(2, Qt.Orientation.Horizontal) == "Message"
    assert model.index(0, 2).data() == "alarm 1"
    assert model.index(1, 2).data() == ""  # short rows are padded
    assert Level(model.index(0, 0).data(LEVEL_ROLE)) is Level.CRITICAL
    assert model.index(0, 0).data(Qt.ItemDataRole.DecorationRole) is not None
    assert model.index(0, 1).data(Qt.ItemDataRole.DecorationRole) is None


def test_rows_may_be_dicts_keyed_by_column(qtbot):
    model = EventTableModel(COLUMNS)
    model.set_rows([{"id": "x", "Message": "hello", "Time": "t", "level": Level.WATCH}])
    assert [model.index(0, c).data() for c in range(3)] == ["t", "", "hello"]
    assert model.rows()[0] == EventRow("x", ("t", "", "hello"), Level.WATCH)


def test_duplicate_ids_are_rejected(qtbot):
    model = EventTableModel(COLUMNS)
    with pytest.raises(ValueError, match="unique"):
        model.set_rows([row("1"), row("1")])


def test_emphasized_rows_are_bold(qtbot):
    model = EventTableModel(COLUMNS)
    model.set_rows(
        [
            EventRow("u", ("a", "b", "c"), Level.CRITICAL, "unacked", emphasized=True),
            EventRow("k", ("a", "b", "c"), Level.CRITICAL, "acked"),
        ]
    )
    assert model.index(0, 1).data(Qt.ItemDataRole.FontRole).bold()
    assert model.index(1, 1).data(Qt.ItemDataRole.FontRole) is None
    assert model.index(0, 1).data(Qt.ItemDataRole.BackgroundRole).alpha() < 255


def test_set_rows_updates_only_changed_rows_in_place(qtbot):
    model = EventTableModel(COLUMNS)
    model.set_rows([row("1"), row("2"), row("3")])
    changed = []
    structure = []
    model.dataChanged.connect(lambda a, b: changed.append((a.row(), b.row())))
    model.modelReset.connect(lambda: structure.append("reset"))
    model.rowsInserted.connect(lambda *a: structure.append("insert"))
    model.rowsRemoved.connect(lambda *a: structure.append("remove"))
    model.set_rows([row("1"), row("2", state="acked"), row("3")])
    assert changed == [(1, 1)]
    assert structure == []
    model.set_rows([row("1"), row("2", state="acked"), row("3")])
    assert changed == [(1, 1)]  # identical rows: no signal at all


def test_set_rows_moves_persistent_indexes_with_their_ids(qtbot):
    model = EventTableModel(COLUMNS)
    model.set_rows([row("a"), row("b"), row("c"), row("d")])
    keep = QPersistentModelIndex(model.index(2, 1))  # "c"
    gone = QPersistentModelIndex(model.index(1, 0))  # "b"
    # New alarm on top, "b" cleared, "d" and "c" swapped.
    model.set_rows([row("n"), row("a"), row("d"), row("c")])
    assert ids(model) == ["n", "a", "d", "c"]
    assert keep.isValid()
    assert keep.row() == 3
    assert keep.column() == 1
    assert not gone.isValid()


def test_empty_rows(qtbot):
    model = EventTableModel(COLUMNS)
    model.set_rows([row("a")])
    model.set_rows([])
    assert model.rowCount() == 0
    assert model.rowCount(model.index(0, 0)) == 0
    assert model.data(QModelIndex()) is None


# ---- alarm table -------------------------------------------------------------


def button(table: AlarmTable, text: str) -> QAbstractButton:
    return next(b for b in table.findChildren(QAbstractButton) if b.text() == text)


@pytest.fixture
def table(qtbot, themed):
    w = AlarmTable(COLUMNS)
    qtbot.addWidget(w)
    w.resize(700, 300)
    w.set_rows(
        [
            row("1", "unacked", Level.CRITICAL),
            row("2", "acked", Level.WARNING),
            row("3", "shelved", Level.WATCH),
            row("4", "unacked", Level.WATCH),
        ]
    )
    return w


def test_default_filter_hides_shelved(table):
    assert table.current_filter() == "Active"
    assert table.visible_ids() == ["1", "2", "4"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Unacknowledged", ["1", "4"]),
        ("Acknowledged", ["2"]),
        ("Shelved", ["3"]),
        ("All", ["1", "2", "3", "4"]),
    ],
)
def test_filter_by_state(table, name, expected):
    table.set_filter(name)
    assert table.visible_ids() == expected


def test_filter_follows_state_changes(table):
    table.set_filter("Unacknowledged")
    table.set_rows([row("1", "acked"), row("2", "acked"), row("4", "unacked")])
    assert table.visible_ids() == ["4"]


def test_unknown_filter_is_an_error(table):
    with pytest.raises(KeyError):
        table.set_filter("Nope")


def test_ack_button_emits_selected_ids_and_comment(table, qtbot):
    ack = button(table, "Ack")
    assert not ack.isEnabled()  # nothing selected
    table.select_ids(["4", "1"])
    assert table.selected_ids() == ["1", "4"]
    assert ack.isEnabled()
    table.set_comment("crew informed")
    with qtbot.waitSignal(table.ack_requested) as sig:
        qtbot.mouseClick(ack, Qt.MouseButton.LeftButton)
    assert sig.args == [["1", "4"], "crew informed"]
    assert table.comment() == ""


def test_ack_all_visible_sends_only_unacknowledged(table, qtbot):
    with qtbot.waitSignal(table.ack_requested) as sig:
        qtbot.mouseClick(button(table, "Ack all visible"), Qt.MouseButton.LeftButton)
    assert sig.args == [["1", "4"], ""]


def test_selection_survives_refresh(table):
    table.select_ids(["2"])
    table.set_rows(
        [
            row("0", "unacked", Level.CRITICAL),
            row("1", "unacked", Level.CRITICAL),
            row("2", "acked", Level.CRITICAL),
            row("4", "unacked", Level.WATCH),
        ]
    )
    assert table.selected_ids() == ["2"]


def answer_shelve(minutes: int, reason: str) -> list[ShelveDialog]:
    """Fill the next shelve dialog when it opens (modal) and press Shelve."""
    seen: list[ShelveDialog] = []

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, ShelveDialog)
        seen.append(dialog)
        assert not dialog.ok.isEnabled()  # no reason, no shelving
        dialog.duration.setCurrentIndex(dialog.duration.findData(minutes))
        dialog.reason.setText(reason)
        dialog.ok.click()

    QTimer.singleShot(0, fill)
    return seen


def test_shelve_asks_duration_and_reason(table, qtbot):
    table.select_ids(["2"])
    shelve = button(table, "Shelve…")
    assert shelve.isEnabled()
    seen = answer_shelve(120, "  CDRA swap, briefed  ")
    with qtbot.waitSignal(table.shelve_requested) as sig:
        shelve.click()
    assert sig.args == [["2"], 120, "CDRA swap, briefed"]
    offered = [seen[0].duration.itemText(i) for i in range(seen[0].duration.count())]
    assert offered == ["5 min", "15 min", "30 min", "1 h", "2 h", "4 h", "8 h"]
    assert seen[0].windowTitle() == "Shelve alarms"


def test_enter_in_the_comment_acknowledges_the_selection(table, qtbot):
    table.select_ids(["1"])
    table.set_comment("crew informed")
    with qtbot.waitSignal(table.ack_requested) as sig:
        qtbot.keyClick(table.findChild(QLineEdit), Qt.Key.Key_Return)
    assert sig.args == [["1"], "crew informed"]
    assert table.comment() == ""


def test_context_menu_acts_on_selection(table, qtbot):
    menu = table.context_menu()
    ack = next(a for a in menu.actions() if a.text() == "Acknowledge selected")
    assert not ack.isEnabled()
    table.select_ids(["1"])
    menu = table.context_menu()
    acts = {a.text(): a for a in menu.actions()}
    assert acts["Acknowledge selected"].isEnabled()
    with qtbot.waitSignal(table.ack_requested) as sig:
        acts["Acknowledge selected"].trigger()
    assert sig.args == [["1"], ""]
    answer_shelve(60, "known")
    with qtbot.waitSignal(table.shelve_requested) as sig:
        acts["Shelve selected…"].trigger()
    assert sig.args == [["1"], 60, "known"]
    acts["Copy rows"].trigger()
    clip = QGuiApplication.clipboard().text()
    assert clip.splitlines() == ["Time\tSource\tMessage", "12:00:1\tjpm\talarm 1"]


def test_double_click_activates_row(table, qtbot):
    view = table.view()
    table.show()
    qtbot.waitExposed(table)
    rect = view.visualRect(view.model().index(1, 0))
    with qtbot.waitSignal(table.row_activated) as sig:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == ["2"]
