"""Replay transport under the mode banner: play, step, speed, seek, loop and marks.

Commands go to the ReplayDriver (queued for the replay thread); the bar redraws
from the driver's plain attributes, and its Timeline shows the session's marks.
"""

from __future__ import annotations

import getpass
import math
import time
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QEvent, QKeyCombination, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSlider,
    QApplication,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from console.docks.panel import utc_text
from telemetry.core.severity import Severity
from telemetry.replay.session_reader import SESSION_TIME_FORMATS, parse_session_time
from widgets.bookmark_dialog import BookmarkDialog, note_buttons
from widgets.fit_label import FitLabel
from widgets.levels import Level, palette
from widgets.plain_text import plain, tip
from widgets.timeline import Timeline, TimelineItem, format_offset

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from telemetry.core.alarms import AlarmBook
    from telemetry.replay.timeline import TimelineMark

AFAP = 0.0  # ReplayEngine's speed 0: as fast as possible
SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, AFAP)
SKIP_S = 60.0
DEFAULT_STEP_S = 10
MESSAGE_S = 10.0
LANES = ("Periods", "Alarms", "Events", "Bookmarks")
_LANE = {"spe": 0, "saa": 0, "fault": 0, "alarm": 1, "event": 2, "bookmark": 3}
MAX_MENU_MARKS = 40
# Before a trainer-only bookmark's note, on the timeline and in the Marks menu.
TRAINERS_ONLY = "trainers only · "
SHORTCUTS = (
    "Space play/pause · ←/→ step back/forward · Shift+←/→ 60 s · . one frame · "
    "Home/End start/end · Ctrl+←/→ previous/next mark · [ ] loop in/out · "
    "\\ clear loop · +/− speed · Ctrl+G go to time · Ctrl+B bookmark"
)
# Widgets whose own arrow keys must win over the transport's shortcuts (a
# trainee moving through the alarm list must not step the replay).
_OWN_ARROWS = (QAbstractItemView, QAbstractSlider)


def speed_text(speed: float) -> str:
    """Return ``"20×"``, or ``"max"`` for as fast as possible."""
    return "max" if speed == AFAP else f"{speed:g}×"


def timeline_items(marks: Iterable[TimelineMark]) -> list[TimelineItem]:
    """Translate the engine's marks into what the Timeline draws (lane, level)."""
    items = []
    for m in marks:
        lane = _LANE.get(m.kind, 2)
        if m.kind == "fault":
            level = Level.STALE  # injected, not recorded: its own colour
        else:
            try:
                severity = Severity(m.severity)
            except ValueError:
                severity = Severity.WATCH
            level = Level[severity.name]
        items.append(
            TimelineItem(
                m.time,
                mark_text(m),
                level,
                lane,
                m.end,
                flag=m.kind == "bookmark",
                restricted=m.trainer_only,
            )
        )
    return items


def mark_text(m: TimelineMark) -> str:
    """Return how a mark reads on the timeline and in the Marks menu."""
    if m.kind == "fault":
        return f"injected fault: {m.label}"
    if m.trainer_only:
        return TRAINERS_ONLY + m.label
    return m.label


class ReplayControl(Protocol):
    """What the replay bar reads and commands of a replay (``ReplayDriver``).

    Attributes are read on the GUI thread at the refresh rate; commands are
    queued to the replay's own thread.
    """

    start_time: float
    end_time: float
    cursor: float
    playing: bool
    speed: float
    loop: tuple[float, float] | None
    marks: list[TimelineMark]
    marks_version: int
    message: str
    message_seq: int
    alarms: AlarmBook

    @property
    def training(self) -> bool: ...

    def play(self) -> None: ...

    def pause(self) -> None: ...

    def step(self, seconds: float | None = None, frames: int | None = None) -> None: ...

    def seek(self, t: float) -> None: ...

    def set_speed(self, speed: float) -> None: ...

    def set_loop(self, t0: float | None, t1: float | None = None) -> None: ...

    def add_bookmark(
        self, t: float, author: str, text: str, audience: str = "all"
    ) -> None: ...


class NoteDialog(QDialog):
    """Asks for a trainee's note and what it is about; owned by the GUI thread."""

    def __init__(
        self, when: str, targets: list[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("TRAINING · note for the debrief")
        self.about = QComboBox(self)
        self.about.addItems(targets)
        self.about.setEditable(True)
        self.text = QLineEdit(self)
        self.text.setPlaceholderText("e.g. called for CDRA troubleshooting")
        self.text.setMinimumWidth(380)
        buttons, self.ok = note_buttons(self, self.text)
        form = QFormLayout(self)
        form.addRow(plain(QLabel(f"Note at {when}, written to the training log", self)))
        form.addRow("About", self.about)
        form.addRow("Note", self.text)
        form.addRow(buttons)

    def target(self) -> str:
        return self.about.currentText().strip() or "general"

    def note(self) -> str:
        return self.text.text().strip()


class ReplayBar(QWidget):
    """Transport controls and timeline of one ReplayDriver; owned by the GUI thread.

    A panel of the RefreshLoop: ``refresh(now)`` moves the timeline cursor
    and the clock text, and rebuilds the marks when the driver's
    ``marks_version`` changes. ``action_done(text)`` reports the trainee's
    notes for the event log.
    """

    action_done = Signal(str)

    def __init__(
        self,
        driver: ReplayControl,
        parent: QWidget | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("replayBar")
        self.driver = driver
        self.start = float(driver.start_time)
        self.end = float(driver.end_time)
        self._monotonic = monotonic
        self.training = driver.training
        dim = palette().theme["text_dim"]

        self.to_start = self._button("⇤", "Go to the start (Home)", self.go_start)
        self.back = self._button("", "", self.step_back)
        self.play = self._button("▶ Play", "Play or pause the replay (Space)")
        self.play.clicked.connect(self.toggle)
        self.play.setMinimumWidth(72)
        self.frame = self._button(
            "Frame ▸", "Step one frame forward (.)", self.step_frame
        )
        self.forward = self._button("", "", self.step_forward)
        self.step_s = QSpinBox(self)
        self.step_s.setRange(1, 3600)
        self.step_s.setValue(DEFAULT_STEP_S)
        self.step_s.setSuffix(" s")
        self.step_s.setToolTip("Step size of ← / → and the step buttons")
        self.step_s.valueChanged.connect(self._label_steps)
        self._label_steps()
        self.speed = QComboBox(self)
        for value in SPEEDS:
            self.speed.addItem(speed_text(value), value)
        self.speed.setItemData(
            self.speed.findData(AFAP),
            "as fast as possible",
            Qt.ItemDataRole.ToolTipRole,
        )
        self.speed.setToolTip(
            "Replay speed: 0.1× to 200× real time, or max (as fast as possible)"
        )
        self.speed.setCurrentIndex(self.speed.findData(1.0))
        self.speed.currentIndexChanged.connect(self._on_speed)
        self.goto = QLineEdit(self)
        self.goto.setPlaceholderText("go to +MM:SS or UTC")
        self.goto.setToolTip(f"Type a time and press Enter: {SESSION_TIME_FORMATS}")
        self.goto.setClearButtonEnabled(True)
        # Narrow screens (1280 px) need the whole row: the box may shrink to
        # its placeholder and grows where there is room.
        self.goto.setMinimumWidth(110)
        self.goto.setMaximumWidth(200)
        self.goto.returnPressed.connect(lambda: self.go_to(self.goto.text()))
        self.loop_in = self._button(
            "[ In", "Start a loop at the cursor ([)", self.set_loop_in
        )
        self.loop_out = self._button(
            "Out ]", "End the loop at the cursor (])", self.set_loop_out
        )
        self.loop_clear = self._button("✕ Loop", "Clear the loop (\\)", self.clear_loop)
        self.bookmark = self._button(
            "Bookmark…",
            "Bookmark the cursor with a note, stored beside the session for "
            "everyone who replays it (Ctrl+B)",
            self.ask_bookmark,
        )
        self.jump = QToolButton(self)
        self.jump.setText("Marks ▾")
        self.jump.setToolTip("Bookmarks, alarms and periods: pick one to go there")
        self.jump.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.jump_menu = QMenu(self.jump)
        self.jump.setMenu(self.jump_menu)
        self.note: QPushButton | None = None
        if self.training:
            self.note = self._button(
                "Note…",
                "Write a note for the debrief (goes to the training log)",
                self.ask_note,
            )
        self.notice = FitLabel("", self)  # a long notice elides, never widens
        self.notice.setStyleSheet(f"color: {palette().levels[Level.WARNING][0]};")
        self.timeline = Timeline(self)
        self.timeline.set_lanes(LANES)
        self.timeline.set_range(self.start, self.end)
        self.timeline.set_time_formatter(lambda t: f"{utc_text(t)} UTC")
        self.timeline.seek_requested.connect(self.seek)
        self.timeline.setToolTip("")
        self.offset = QLabel("", self)
        self.offset.setObjectName("replayOffset")
        self.offset.setStyleSheet(
            f"color: {palette().theme['text']}; font-size: 15pt; font-weight: bold;"
            " font-family: monospace;"
        )
        self.utc = QLabel("", self)
        self.utc.setStyleSheet(f"color: {dim}; font-family: monospace;")
        self.state = plain(QLabel("", self))
        self.state.setStyleSheet(f"color: {palette().theme['text']};")

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        for w in (self.to_start, self.back, self.play, self.frame, self.forward):
            row.addWidget(w)
        row.addWidget(self.step_s)
        row.addSpacing(6)
        row.addWidget(self.speed)  # its items say "×": no label needed
        row.addSpacing(6)
        row.addWidget(self.goto, 1)
        row.addSpacing(6)
        for w in (self.loop_in, self.loop_out, self.loop_clear):
            row.addWidget(w)
        row.addSpacing(6)
        row.addWidget(self.bookmark)
        row.addWidget(self.jump)
        if self.note is not None:
            row.addWidget(self.note)
        row.addSpacing(6)
        row.addWidget(self.notice, 1)
        clock = QVBoxLayout()
        clock.setContentsMargins(0, 0, 0, 0)
        clock.setSpacing(0)
        for label in (self.offset, self.utc, self.state):
            label.setAlignment(Qt.AlignmentFlag.AlignRight)
            clock.addWidget(label)
        lower = QHBoxLayout()
        lower.setContentsMargins(0, 0, 0, 0)
        lower.setSpacing(10)
        lower.addWidget(self.timeline, 1)
        lower.addLayout(clock)
        column = QVBoxLayout(self)
        column.setContentsMargins(8, 4, 8, 4)
        column.setSpacing(4)
        column.addLayout(row)
        column.addLayout(lower)

        self.loop_pending: tuple[float | None, float | None] = (None, None)
        self._marks: list[TimelineMark] = []
        self._marks_version = -1
        self._message_seq = driver.message_seq
        self._notice_until = -math.inf
        self._shown: tuple[Any, ...] = ()
        self.shortcuts: dict[str, QShortcut] = {}
        self._install_shortcuts()
        # The alarms selected in the alarm list (the window wires it): a note
        # starts out about the first of them.
        self.selected_alarms: Callable[[], list[str]] = list

    # ---- building ----------------------------------------------------------

    def _button(
        self, text: str, tip: str, slot: Callable[[], object] | None = None
    ) -> QPushButton:
        button = QPushButton(text, self)
        button.setToolTip(tip)
        # Keyboard focus stays where it was: Space is play/pause, not "click
        # the last button pressed".
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        if slot is not None:
            button.clicked.connect(lambda _=False: slot())
        return button

    def _label_steps(self, *_args: object) -> None:
        n = self.step_seconds()
        self.back.setText(f"− {n:g} s")
        self.back.setToolTip(f"Step back {n:g} s (←; Shift+← {SKIP_S:g} s)")
        self.forward.setText(f"+ {n:g} s")
        self.forward.setToolTip(f"Step forward {n:g} s (→; Shift+→ {SKIP_S:g} s)")

    def _install_shortcuts(self) -> None:
        key = Qt.Key
        shift, ctrl = (
            Qt.KeyboardModifier.ShiftModifier,
            Qt.KeyboardModifier.ControlModifier,
        )
        none = Qt.KeyboardModifier.NoModifier
        table: list[tuple[str, Qt.Key, Qt.KeyboardModifier, Callable[[], object], bool]]
        table = [
            ("play", key.Key_Space, none, self.toggle, False),
            ("back", key.Key_Left, none, self.step_back, True),
            ("forward", key.Key_Right, none, self.step_forward, True),
            ("back60", key.Key_Left, shift, lambda: self.skip(-SKIP_S), True),
            ("forward60", key.Key_Right, shift, lambda: self.skip(SKIP_S), True),
            ("frame", key.Key_Period, none, self.step_frame, False),
            ("start", key.Key_Home, none, self.go_start, True),
            ("end", key.Key_End, none, self.go_end, True),
            ("previous_mark", key.Key_Left, ctrl, lambda: self.jump_mark(-1), True),
            ("next_mark", key.Key_Right, ctrl, lambda: self.jump_mark(1), True),
            ("loop_in", key.Key_BracketLeft, none, self.set_loop_in, False),
            ("loop_out", key.Key_BracketRight, none, self.set_loop_out, False),
            ("loop_clear", key.Key_Backslash, none, self.clear_loop, False),
            ("faster", key.Key_Plus, none, lambda: self.nudge_speed(1), False),
            ("faster=", key.Key_Equal, none, lambda: self.nudge_speed(1), False),
            ("slower", key.Key_Minus, none, lambda: self.nudge_speed(-1), False),
            ("goto", key.Key_G, ctrl, self._focus_goto, False),
            ("bookmark", key.Key_B, ctrl, self.ask_bookmark, False),
        ]  # fmt: skip
        for name, k, mods, action, yields in table:
            shortcut = QShortcut(QKeySequence(QKeyCombination(mods, k)), self)
            shortcut.setAutoRepeat(name not in ("play", "bookmark", "goto"))
            shortcut.activated.connect(self._keyed(k, mods, action, yields))
            self.shortcuts[name] = shortcut
        self.setToolTip(f"Keys: {SHORTCUTS}")

    def _keyed(
        self,
        key: Qt.Key,
        mods: Qt.KeyboardModifier,
        action: Callable[[], object],
        yields: bool,
    ) -> Callable[[], None]:
        def run() -> None:
            focus = QApplication.focusWidget()
            if yields and isinstance(focus, _OWN_ARROWS):
                # Give the key back to the list or slider that has the focus.
                for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
                    QApplication.sendEvent(focus, QKeyEvent(kind, key, mods))
                return
            action()

        return run

    # ---- commands ----------------------------------------------------------

    def cursor_time(self) -> float:
        """Return the replay cursor (sample time) the driver last published."""
        return float(self.driver.cursor)

    def step_seconds(self) -> float:
        return float(self.step_s.value())

    def toggle(self) -> None:
        if self.driver.playing:
            self.driver.pause()
        else:
            self.driver.play()

    def seek(self, t: float) -> None:
        """Go to sample time ``t`` (clamped to the session)."""
        self.driver.seek(min(max(float(t), self.start), self.end))

    def skip(self, seconds: float) -> None:
        """Step by ``seconds`` of sample time from the cursor (negative: back)."""
        self.seek(self.cursor_time() + seconds)

    def step_back(self) -> None:
        self.skip(-self.step_seconds())

    def step_forward(self) -> None:
        self.skip(self.step_seconds())

    def step_frame(self) -> None:
        """Step one frame forward (pauses first: a frame step is for inspecting)."""
        if self.driver.playing:
            self.driver.pause()
        self.driver.step(frames=1)

    def go_start(self) -> None:
        self.seek(self.start)

    def go_end(self) -> None:
        self.seek(self.end)

    def seek_fraction(self, fraction: float) -> None:
        """Seek to a fraction (0..1) of the recording."""
        fraction = min(max(fraction, 0.0), 1.0)
        self.seek(self.start + fraction * (self.end - self.start))

    def go_to(self, text: str) -> bool:
        """Seek to a typed time (``+MM:SS``, ISO UTC, ``DDD/HH:MM:SS``...)."""
        try:
            t = parse_session_time(text, self.start)
        except ValueError as exc:
            self.say(str(exc))
            return False
        if not self.start <= t <= self.end:
            self.say(
                f"{text.strip()} is outside the session "
                f"(T+0:00 to T{format_offset(self.end - self.start)}): clamped"
            )
        self.seek(t)
        return True

    def set_speed(self, speed: float) -> None:
        """Select a speed (0.1..200, or 0: as fast as possible); the combo follows."""
        i = self._speed_index(speed)
        if i == self.speed.currentIndex():
            self.driver.set_speed(float(speed))
        else:
            self.speed.setCurrentIndex(i)

    def nudge_speed(self, direction: int) -> None:
        i = self.speed.currentIndex() + direction
        if 0 <= i < self.speed.count():
            self.speed.setCurrentIndex(i)

    def _on_speed(self, index: int) -> None:
        value = self.speed.itemData(index)
        if isinstance(value, float | int):
            self.driver.set_speed(float(value))

    def _speed_index(self, speed: float) -> int:
        """Index of ``speed`` in the combo, adding it (in order) if it is new."""
        i = self.speed.findData(float(speed))
        if i >= 0:
            return i
        values = [self.speed.itemData(k) for k in range(self.speed.count())]
        # "max" stays last; other speeds are kept in increasing order.
        at = next(
            (k for k, v in enumerate(values) if v == AFAP or v > speed), len(values)
        )
        self.speed.blockSignals(True)
        self.speed.insertItem(at, speed_text(speed), float(speed))
        self.speed.blockSignals(False)
        return at

    # ---- loop -------------------------------------------------------------

    def set_loop_in(self) -> None:
        """Start the loop at the cursor; with an end already set, loop at once."""
        t = self.cursor_time()
        out = self.loop_pending[1]
        if out is None and self.driver.loop is not None:
            out = self.driver.loop[1]
        self._set_loop(t, out)

    def set_loop_out(self) -> None:
        """End the loop at the cursor; with a start already set, loop at once."""
        t = self.cursor_time()
        start = self.loop_pending[0]
        if start is None and self.driver.loop is not None:
            start = self.driver.loop[0]
        self._set_loop(start, t)

    def _set_loop(self, t0: float | None, t1: float | None) -> None:
        if t0 is not None and t1 is not None:
            if t1 > t0:
                self.loop_pending = (None, None)
                self.driver.set_loop(t0, t1)
                self.say(
                    f"looping T{format_offset(t0 - self.start)} to "
                    f"T{format_offset(t1 - self.start)}"
                )
                return
            # The other end is on the wrong side of the cursor: start afresh.
            if self.driver.loop is not None:
                self.driver.set_loop(None)
            if t0 == self.cursor_time():
                t1 = None
            else:
                t0 = None
        self.loop_pending = (t0, t1)
        self.timeline.set_loop(*self.loop_pending)

    def clear_loop(self) -> None:
        self.loop_pending = (None, None)
        self.driver.set_loop(None)
        self.timeline.set_loop(None, None)

    # ---- marks, bookmarks and notes -------------------------------------------

    def marks(self) -> list[TimelineMark]:
        return list(self._marks)

    def jump_mark(self, direction: int) -> None:
        """Go to the next (1) or previous (-1) alarm, event or bookmark."""
        cursor = self.cursor_time()
        times = sorted(
            {m.time for m in self._marks if m.kind in ("alarm", "event", "bookmark")}
        )
        if direction > 0:
            target = next((t for t in times if t > cursor + 0.5), None)
        else:
            target = next((t for t in reversed(times) if t < cursor - 0.5), None)
        if target is not None:
            self.seek(target)

    def author(self) -> str:
        name = self.driver.alarms.operator
        if name:
            return name
        try:
            return getpass.getuser()
        except (OSError, KeyError):
            return "unknown"

    def add_bookmark(
        self, text: str, t: float | None = None, *, trainers_only: bool = False
    ) -> bool:
        """Bookmark ``t`` (default: the cursor) with ``text``; False if empty.

        ``trainers_only`` hides it from training runs; a training run itself
        never makes one (False is returned, nothing is stored).
        """
        text = text.strip()
        if not text or (trainers_only and self.training):
            return False
        self.driver.add_bookmark(
            self.cursor_time() if t is None else t,
            self.author(),
            text,
            "trainer" if trainers_only else "all",
        )
        return True

    def bookmark_dialog(self, t: float) -> BookmarkDialog:
        """Return the dialog for a bookmark at ``t``.

        A training run is not offered trainer-only notes: the trainee must
        neither make nor see them.
        """
        return BookmarkDialog(
            f"{'TRAINING' if self.training else 'REPLAY'} · bookmark",
            f"T{format_offset(t - self.start)} ({utc_text(t)} UTC)",
            offer_trainers_only=not self.training,
            parent=self,
        )

    def ask_bookmark(self) -> None:
        t = self.cursor_time()  # where the operator was when asking, not after typing
        dialog = self.bookmark_dialog(t)
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted:
                self.add_bookmark(
                    dialog.note(), t, trainers_only=dialog.is_trainers_only()
                )
        finally:
            dialog.deleteLater()

    def note_targets(self) -> list[str]:
        """Return what a note can be about: active alarms (worst first), general."""
        keys = [a.key for a in self.driver.alarms.snapshot() if a.active]
        return [*keys, "general"]

    def add_note(self, target: str, text: str, t: float | None = None) -> bool:
        """Write a trainee note to the training log (and the event list)."""
        text = text.strip()
        if not text:
            return False
        self.driver.alarms.note(self.cursor_time() if t is None else t, target, text)
        self.action_done.emit(f"note on {target}: {text}")
        return True

    def ask_note(self) -> None:
        t = self.cursor_time()
        targets = self.note_targets()
        selected = [k for k in self.selected_alarms() if k not in targets]
        dialog = NoteDialog(
            f"T{format_offset(t - self.start)} ({utc_text(t)} UTC)",
            [*selected, *targets],
            self,
        )
        chosen = next(iter(self.selected_alarms()), None)
        if chosen is not None:
            dialog.about.setCurrentText(chosen)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.add_note(dialog.target(), dialog.note(), t)

    def _focus_goto(self) -> None:
        self.goto.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.goto.selectAll()

    def say(self, text: str) -> None:
        """Show a short message beside the transport for a few seconds."""
        self.notice.setText(text)
        self.notice.setToolTip(tip(text))
        self._notice_until = self._monotonic() + MESSAGE_S

    def _rebuild_marks(self) -> None:
        self._marks = list(self.driver.marks)
        self.timeline.set_marks(timeline_items(self._marks))
        menu = self.jump_menu
        menu.clear()
        for title, kinds in (
            ("Bookmarks", ("bookmark",)),
            ("Alarms", ("alarm",)),
            ("Periods and faults", ("spe", "saa", "fault")),
            ("Events", ("event",)),
        ):
            picked = [m for m in self._marks if m.kind in kinds]
            if not picked:
                continue
            menu.addSection(title)
            for m in picked[:MAX_MENU_MARKS]:
                action = menu.addAction(
                    f"T{format_offset(m.time - self.start)}  "
                    f"{(TRAINERS_ONLY if m.trainer_only else '') + m.label[:90]}"
                )
                action.triggered.connect(lambda _=False, t=m.time: self.seek(t))
            if len(picked) > MAX_MENU_MARKS:
                more = menu.addAction(f"… {len(picked) - MAX_MENU_MARKS} more")
                more.setEnabled(False)
        if menu.isEmpty():
            menu.addAction("no marks in this session").setEnabled(False)
        self.jump.setText(f"Marks ({len(self._marks)}) ▾")

    # ---- refresh --------------------------------------------------------------

    def refresh(self, now: float) -> None:
        driver = self.driver
        version = driver.marks_version
        if version != self._marks_version:
            self._marks_version = version
            self._rebuild_marks()
        seq = driver.message_seq
        if seq != self._message_seq:
            self._message_seq = seq
            self.say(str(driver.message))
        if self.notice.text() and self._monotonic() > self._notice_until:
            self.notice.setText("")
        cursor = float(driver.cursor)
        playing = bool(driver.playing)
        speed = float(driver.speed)
        loop = driver.loop
        self.timeline.set_cursor(cursor)
        if loop is not None:
            self.timeline.set_loop(*loop)
        else:
            self.timeline.set_loop(*self.loop_pending)
        shown = (round(cursor, 1), playing, speed, loop)
        if shown == self._shown:
            return
        self._shown = shown
        self.play.setText("❚❚ Pause" if playing else "▶ Play")
        i = self._speed_index(speed)
        if i != self.speed.currentIndex():
            self.speed.blockSignals(True)
            self.speed.setCurrentIndex(i)
            self.speed.blockSignals(False)
        self.offset.setText(
            f"T{format_offset(cursor - self.start)} / "
            f"{format_offset(self.end - self.start)[1:]}"
        )
        self.utc.setText(f"{utc_text(cursor, date=True)} UTC")
        if playing:
            state = f"▶ playing · {speed_text(speed)}"
        elif cursor >= self.end:
            state = "■ at the end"
        else:
            state = f"❚❚ paused · {speed_text(speed)}"
        if loop is not None:
            state += (
                f" · loop T{format_offset(loop[0] - self.start)}–"
                f"{format_offset(loop[1] - self.start).lstrip('+')}"
            )
        self.state.setText(state)

    def position_text(self) -> str:
        """Return the clock beside the timeline as one line (tests, screen readers)."""
        return f"{self.offset.text()} · {self.utc.text()} · {self.state.text()}"
