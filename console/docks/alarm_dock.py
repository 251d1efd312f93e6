"""The alarm list: what is out of limits, since when, and what the operator did.

Rows come from ``AlarmBook.snapshot()``; acknowledge, shelve and unshelve go
back to the AlarmBook, which hands each action to the archive with the
operator's name and comment.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.docks.panel import Panel, utc_text
from telemetry.core.alarms import LOAD_WINDOW_S, AlarmLoad
from telemetry.core.console_clock import CONSOLE_CLOCK_ALARM
from telemetry.core.pipeline import HISTORY_ALARM_PREFIX
from telemetry.core.severity import Severity
from telemetry.live.ledger_keeper import LEDGER_ALARM
from telemetry.live.session import ARCHIVE_ALARM
from widgets.event_table import AlarmTable, EventRow
from widgets.fit_label import FitLabel
from widgets.levels import Level, palette

if TYPE_CHECKING:
    from console.context import ConsoleContext
    from telemetry.core.alarms import Alarm

COLUMNS = (
    "Severity",
    "Channel",
    "Description",
    "Value",
    "Limit",
    "First (UTC)",
    "Last (UTC)",
    "Count",
    "Shelved until",
    "State",
)
# Starting widths; AlarmTable.fit_columns widens a column whose text would be
# cut and narrows an empty one. State, last, takes what is left.
WIDTHS = (150, 150, 220, 150, 100, 116, 116, 56, 60, 190)


# Alarms about the console itself, with what the list says of them.
_OWN_ALARMS = {
    ARCHIVE_ALARM: "Archive file and writer (Events: what failed)",
    CONSOLE_CLOCK_ALARM: "This console's clock: sources refused as ahead by",
}


class AlarmDock(Panel):
    """AlarmTable wired to the AlarmBook; owned by the GUI thread.

    ``action_done(text)`` reports each operator action (for the event log and
    the trainee record); a double-click asks for the alarm's chart (the
    panel's ``plot_requested``).
    """

    action_done = Signal(str)

    def __init__(self, context: ConsoleContext, parent: QWidget | None = None) -> None:
        super().__init__(context, "Alarms", "alarms", parent)
        self.table = AlarmTable(COLUMNS, self)
        self.table.set_column_widths(WIDTHS)
        # A long description is elided rather than pushing the state (acked
        # by whom, shelved why) out of view.
        self.table.set_elastic_column(COLUMNS.index("Description"))
        self.table.ack_requested.connect(self.acknowledge)
        self.table.shelve_requested.connect(self.shelve)
        self.table.row_activated.connect(self._on_activated)
        unshelve = QPushButton("Unshelve", self)
        unshelve.setToolTip("Return the selected shelved alarms to the list now")
        unshelve.clicked.connect(lambda: self.unshelve(self.table.selected_ids()))
        ack_note = QPushButton("Ack with note…", self)
        ack_note.setToolTip(
            "Acknowledge the selected alarms with a comment for the log"
        )
        ack_note.clicked.connect(self.ack_with_dialog)
        self.summary = FitLabel("", self)  # elides: never widens the window
        self.summary.setStyleSheet(f"color: {palette().theme['text_dim']};")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.summary, 1)
        bar.addWidget(ack_note)
        bar.addWidget(unshelve)
        body = QWidget(self)
        column = QVBoxLayout(body)
        column.setContentsMargins(4, 4, 4, 4)
        column.setSpacing(4)
        column.addWidget(self.table, 1)
        column.addLayout(bar)
        self.setWidget(body)
        self._version = -1
        self._next_tick = -math.inf
        self._snapshot: list[Alarm] = []
        self._load = AlarmLoad(0, LOAD_WINDOW_S, ())
        self._busy = False

    # ---- rows ------------------------------------------------------------

    def refresh(self, now: float) -> None:
        book = self.context.alarms
        # Shelving expiry and "shelved until" move with time, so rebuild at
        # least once a second even when the book did not change.
        if book.version == self._version and now < self._next_tick:
            return
        self._version = book.version
        self._next_tick = now + 1.0
        self._snapshot = book.snapshot()
        self._load = book.load(now)
        self.table.set_rows(self.row(a, now) for a in self._snapshot)
        unacked = sum(1 for a in self._snapshot if not a.acked and not a.shelved(now))
        shelved = sum(1 for a in self._snapshot if a.shelved(now))
        active = sum(1 for a in self._snapshot if a.active)
        self.summary.setText(
            f"{active} active · {unacked} unacknowledged · {shelved} shelved"
            f" · {self._load_text()} · operator {book.operator or '(not set)'}"
        )
        # A flood or a chattering source is the operator's cue to shelve or
        # to ask for a limit review (EEMUA 191): say so in the warning colour.
        busy = self._load.flood or bool(self._load.chattering)
        if busy != self._busy:
            self._busy = busy
            colour = palette().levels[Level.WARNING][0] if busy else None
            self.summary.setStyleSheet(
                f"color: {colour or palette().theme['text_dim']};"
            )

    def _load_text(self) -> str:
        load = self._load
        minutes = load.window_s / 60.0
        text = f"{load.raised} raised in {minutes:.0f} min"
        if load.flood:
            text = f"ALARM FLOOD: {text}"
        if load.chattering:
            names = ", ".join(load.chattering[:3])
            more = len(load.chattering) - 3
            text += f" · chattering: {names}{f' +{more}' if more > 0 else ''}"
        return text

    def row(self, alarm: Alarm, now: float) -> EventRow:
        """One table row for an alarm (public so tests and reports agree)."""
        ctx = self.context
        key = alarm.key
        shown = alarm.severity if alarm.active else alarm.peak
        level = Level[shown.name] if shown > Severity.NOMINAL else Level.NOMINAL
        if key.startswith("link:"):
            source = key.partition(":")[2]
            description = f"Link to {source} (no messages)"
            value = f"{alarm.value:.0f} s silent" if alarm.active else "up"
            limit = ""
        elif key in _OWN_ALARMS:
            # The console's own health, not a channel: the Events log and the
            # status bar say what exactly (the last event of that kind).
            description = _OWN_ALARMS[key]
            # The archive alarm's number is its queue at the change: no value.
            value = "" if key == ARCHIVE_ALARM else f"{alarm.value:,.0f} s"
            limit = ""
        elif key.startswith(HISTORY_ALARM_PREFIX):
            source = key.partition(":")[2]
            description = (
                f"{source}: only old samples arriving (clock stepped back? backlog?)"
            )
            value = f"{alarm.value:.0f} s" if alarm.active else "current again"
            limit = ""
        elif key == LEDGER_ALARM:
            # Its value is when the ledger was last written (receive clock).
            description = "Dose ledger: this session's crew dose of record"
            since = utc_text(alarm.value)
            value = f"not written since {since}" if alarm.active else "written"
            limit = ""
        else:
            spec = ctx.dictionary.channel_for_key(key)
            description = spec.description if spec is not None else "undeclared channel"
            unit = ctx.unit(key)
            value = f"{ctx.format(key, alarm.value)} {unit}".strip()
            latest = ctx.latest(key)
            if latest is not None and latest[1] != alarm.value:
                # Show where the value is now; the tripping value stays beside it.
                now_text = f"{ctx.format(key, latest[1])} {unit}".strip()
                value = f"{now_text} (trip {value})"
            limit = self._limit_text(key, alarm, unit)
        shelved = alarm.shelved(now)
        if shelved:
            state = "shelved"
        elif alarm.acked:
            state = "acked"
        else:
            state = "unacked"
        acked = f"acknowledged{f' by {alarm.ack_by}' if alarm.ack_by else ''}"
        if alarm.acked and alarm.ack_comment:
            acked += f": {alarm.ack_comment}"
        if state == "shelved":
            # Who, when and why stay in view; an acknowledgement and its
            # comment are kept, not dropped, while the alarm is shelved.
            by = f" by {alarm.shelved_by}" if alarm.shelved_by else ""
            at = (
                f" at {utc_text(alarm.shelved_at)}"
                if alarm.shelved_at is not None
                else ""
            )
            why = f": {alarm.shelve_reason}" if alarm.shelve_reason else ""
            state_text = f"shelved{by}{at}{why}"
            if alarm.acked:
                state_text += f" · {acked}"
        elif state == "acked":
            state_text = acked
        else:
            state_text = (
                "UNACKNOWLEDGED" if alarm.active else "returned, unacknowledged"
            )
        if key in self._load.chattering:
            state_text += " · chattering"
        severity = shown.name if alarm.active else f"{shown.name} (rtn)"
        if alarm.active and alarm.peak > alarm.severity:
            # The unacknowledged peak is what sounds and what the header counts.
            severity = f"{shown.name} (peak {alarm.peak.name})"
        cells = (
            severity,
            key,
            description,
            value,
            limit,
            utc_text(alarm.first_time),
            utc_text(alarm.last_time),
            str(alarm.count),
            utc_text(alarm.shelved_until) if shelved and alarm.shelved_until else "",
            state_text,
        )
        return EventRow(key, cells, level, state, emphasized=state == "unacked")

    def _limit_text(self, key: str, alarm: Alarm, unit: str) -> str:
        if alarm.kind == "state":
            return f"= {self.context.format(key, alarm.value)}"
        if alarm.threshold is None:
            return ""
        sign = {"low": "<", "high": ">"}.get(alarm.kind, "")
        # The raw threshold, not the channel's display format: a battery limit
        # of 5.5 % must not read as "< 6 %".
        return f"{sign} {alarm.threshold:g} {unit}".strip()

    # ---- actions ---------------------------------------------------------

    def acknowledge(self, keys: list[str], comment: str = "") -> int:
        now = self.context.clock()
        changed = self.context.alarms.acknowledge(list(keys), now, comment)
        if changed:
            note = f" ({comment})" if comment else ""
            self.action_done.emit(f"acknowledged {', '.join(keys)}{note}")
        self.refresh(now)
        return changed

    def acknowledge_visible(self) -> None:
        self.table.request_ack_visible()

    def shelve(self, keys: list[str], minutes: int, comment: str = "") -> None:
        now = self.context.clock()
        self.context.alarms.shelve(list(keys), now, float(minutes), comment)
        why = f": {comment}" if comment else ""
        self.action_done.emit(f"shelved {', '.join(keys)} for {minutes} min{why}")
        self.refresh(now)

    def shelve_dialog(self) -> None:
        """Ask for a duration and a reason, then shelve the selected alarms."""
        self.table.ask_shelve()

    def unshelve(self, keys: list[str]) -> None:
        if not keys:
            return
        now = self.context.clock()
        self.context.alarms.unshelve(list(keys), now)
        self.action_done.emit(f"unshelved {', '.join(keys)}")
        self.refresh(now)

    def ack_with_dialog(self) -> None:
        """Acknowledge the selected alarms with a note typed in a dialog."""
        keys = self.table.selected_ids()
        if not keys:
            return
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Acknowledge with note")
        dialog.setLabelText(f"Note for {', '.join(keys)}:")
        dialog.setTextValue(self.table.comment())
        # Wide enough for its title: a window manager cuts a long title to
        # the dialog's width ("Ackno…h note").
        dialog.resize(max(dialog.sizeHint().width(), 460), dialog.sizeHint().height())
        if dialog.exec() == QInputDialog.DialogCode.Accepted:
            self.table.set_comment("")
            self.acknowledge(keys, dialog.textValue().strip())

    def _on_activated(self, key: str) -> None:
        # Double-click: a quick way to put the alarmed channel on a chart.
        # The console's own alarms (link, clock, ledger, archive) have no chart.
        own = key.startswith(("link:", HISTORY_ALARM_PREFIX))
        if not own and key not in _OWN_ALARMS and key != LEDGER_ALARM:
            self.plot_requested.emit([key])
