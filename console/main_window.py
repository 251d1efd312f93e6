"""The console's main window: role layouts of docks, menus, mode banner, status bar.

Each role (flight, radiation, trainer) has a built-in dock arrangement and
default charts; whatever the operator rearranges is saved per role in
``<data dir>/layouts/<role>.ini`` and restored next time. About 800 lines,
one concept: the window and its role layouts (menus, sizing to the screen,
saving and restoring); the header is ``console.window_header``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QByteArray,
    QRect,
    QSettings,
    QSize,
    Qt,
    QTimer,
)
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QGuiApplication,
    QKeySequence,
    QResizeEvent,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from console.annunciator import SILENCE_CHOICES_MIN, Annunciator, TonePlayer
from console.config import data_dir
from console.docks.alarm_dock import AlarmDock
from console.docks.eclss_dock import EclssDock
from console.docks.event_dock import EventDock
from console.docks.plot_dock import PlotDock
from console.docks.radiation_dock import RadiationDock
from console.docks.robot_dock import RobotDock
from console.help_dialog import REPLAY_KEYS, HelpDialog
from console.status_bar import ConsoleStatusBar
from console.window_header import WindowHeader
from telemetry.core.severity import Severity
from widgets.banner import Banner
from widgets.levels import Level
from widgets.plain_text import tip

if TYPE_CHECKING:
    from console.context import ConsoleContext
    from console.docks.panel import Panel
    from console.refresh import RefreshLoop

ROLES = ("flight", "radiation", "trainer")
ROLE_TITLES = {
    "flight": "Flight control",
    "radiation": "Radiation",
    "trainer": "Trainer",
}
# Bump when dock object names or the default arrangement change: saved states
# of another version are ignored rather than half-applied.
LAYOUT_VERSION = 2
# Docks shown by each role's built-in layout (others stay available in View).
ROLE_DOCKS = {
    "flight": ("robots", "eclss", "plots", "alarms", "events"),
    "radiation": ("radiation", "plots", "alarms", "events"),
    "trainer": ("robots", "eclss", "plots", "alarms", "events"),
}
MODE_BANNERS = {
    "live": ("LIVE", Level.NO_DATA),
    "replay": ("REPLAY · recorded data, not live", Level.WATCH),
    "training": ("TRAINING · not live data", Level.STALE),
}
# The two layouts of a plot export, as the CSV export command writes them.
LONG_CSV = "Long CSV: time,channel,value (*.csv)"
WIDE_CSV = "Wide CSV: one column per channel (*.csv)"
# The alarm list never shows fewer rows than this (issue 15: one row at 1280x720).
ALARM_ROWS_MIN = 3
# The window's size when nothing was saved, if the screen has room for it.
DEFAULT_SIZE = QSize(1600, 1000)


def layout_path(role: str) -> Path:
    """Where a role's saved layout lives."""
    return data_dir() / "layouts" / f"{role}.ini"


class MainWindow(QMainWindow):
    """The console window and its docks; owned by the GUI thread.

    ``panels()`` is what the RefreshLoop redraws (the header, the status bar
    and every dock); invisible docks are skipped by the loop.
    """

    def __init__(
        self,
        context: ConsoleContext,
        layout: str = "flight",
        parent: QWidget | None = None,
        *,
        player: TonePlayer | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self.role = layout if layout in ROLES else "flight"
        self._loop: RefreshLoop | None = None
        self._shut = False
        self._pending_sizes = True
        self.setObjectName("mainWindow")
        self.setDockNestingEnabled(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
        )
        for corner, area in (
            (Qt.Corner.TopLeftCorner, Qt.DockWidgetArea.TopDockWidgetArea),
            (Qt.Corner.TopRightCorner, Qt.DockWidgetArea.TopDockWidgetArea),
            (Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.BottomDockWidgetArea),
            (Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.BottomDockWidgetArea),
        ):
            self.setCorner(corner, area)
        # QMainWindow needs a central widget; the docks are the content, so it
        # is kept empty and hidden and the dock areas share the whole window.
        placeholder = QWidget(self)
        placeholder.hide()
        self.setCentralWidget(placeholder)

        self.robots = RobotDock(context, self)
        self.eclss = EclssDock(context, self)
        self.plots = PlotDock(context, self, role=self.role)
        self.alarms = AlarmDock(context, self)
        self.plots.export_requested.connect(self.export_plot_csv)
        self.events = EventDock(context, self)
        self.radiation = RadiationDock(context, self)
        self.docks: dict[str, Panel] = {
            d.objectName(): d
            for d in (
                self.robots,
                self.eclss,
                self.plots,
                self.radiation,
                self.alarms,
                self.events,
            )
        }
        self.alarms.action_done.connect(self.events.add_operator_event)
        view = self.alarms.table.view()
        view.setMinimumHeight(
            ALARM_ROWS_MIN * view.verticalHeader().defaultSectionSize()
            + view.horizontalHeader().sizeHint().height()
            + view.horizontalScrollBar().sizeHint().height()
            + 2 * view.frameWidth()
        )
        for dock in self.docks.values():
            dock.plot_requested.connect(self.plot_channels)

        self.header = WindowHeader(self, self)
        self.setMenuWidget(self.header)
        if self.header.replay_bar is not None:
            # A trainee's notes belong beside their acks in the event list.
            self.header.replay_bar.action_done.connect(self.events.add_operator_event)
            # A note is about the alarm selected in the list, if any.
            self.header.replay_bar.selected_alarms = self.alarms.table.selected_ids
        self.dock_banners: dict[str, Banner] = {}
        self._mark_docks_with_mode()
        self.status = ConsoleStatusBar(context, self)
        self.setStatusBar(self.status)
        # Asked before a live console quits (tests replace it).
        self.confirm_quit = self._ask_quit
        # Each docked panel's share of the window (width, height), kept while
        # the window keeps its size, restored after it changes size.
        self._proportions: dict[str, tuple[float, float]] = {}
        self._proportions_size = QSize()
        self._restore_pending = False
        self._quit_confirmed = False
        self._fit_pending = False
        self.annunciator = Annunciator(context.alarms, player=player, parent=self)
        self.annunciator.state_changed.connect(self.header.audio.setText)
        self.header.audio.setText(self.annunciator.status_text())
        self._build_menus()
        self._show_mode()
        self.resize(self._default_size())
        self._load_role(self.role)

    # ---- the contract with Console ---------------------------------------

    def panels(self) -> list[Any]:
        return [self.header, self.status, *self.docks.values()]

    def set_refresh_loop(self, loop: RefreshLoop) -> None:
        self._loop = loop
        self.status.set_refresh_loop(loop)

    def save_screenshot(self, path: Path | str) -> bool:
        """Grab the whole window (menus, docks, status bar) into a PNG."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return bool(self.grab().save(str(target), "PNG"))

    def shutdown(self) -> None:
        """Save the layout and stop sound and history hooks (idempotent)."""
        if self._shut:
            return
        self._shut = True
        self.save_layout()
        self.annunciator.shutdown()
        for dock in self.docks.values():
            dock.shutdown()

    # ---- mode and alarms -------------------------------------------------

    def _show_mode(self) -> None:
        mode = self.context.mode
        text, level = MODE_BANNERS.get(mode, (mode.upper(), Level.WATCH))
        operator = self.context.alarms.operator or "operator not set"
        archive = self.context.archive_path
        role = ROLE_TITLES[self.role]
        if archive is None:
            where = "not recording"
        elif mode == "live":
            where = f"archive {archive.name}"
        else:
            where = archive.name
        parts = [role, f"trainee {operator}" if mode == "training" else operator, where]
        log = self.context.training_log
        if mode == "training" and log is not None:
            parts.append(f"log {Path(log).name}")
            self.header.banner.setToolTip(tip(f"The trainee's actions go to {log}"))
        self.header.banner.set_message(text, level, " · ".join(parts))
        word = text.split()[0]
        if mode == "live":
            self.setWindowTitle(f"Kibo Ops Console · {role} · {word}")
        else:
            # The mode first: it is what a task bar or a window list shows.
            session = f"{archive.name} · " if archive is not None else ""
            self.setWindowTitle(
                f"{word} (not live) · {session}Kibo Ops Console · {role}"
            )

    def _mark_docks_with_mode(self) -> None:
        """Put the REPLAY/TRAINING strip in docks that may be seen on their own.

        A floating dock is a window of its own, away from the header banner,
        so it gets the strip (and the mode in its title) while it floats. The
        radiation dock always has it: its shelter banner must never be taken
        for a live call.
        """
        mode = self.context.mode
        if mode not in ("replay", "training"):
            return
        text, level = MODE_BANNERS[mode]
        for name, dock in self.docks.items():
            body = dock.widget()
            holder = QWidget(dock)
            column = QVBoxLayout(holder)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(0)
            banner = Banner(holder)
            banner.setObjectName("dockModeBanner")
            banner.set_message(text, level)
            column.addWidget(banner)
            if body is not None:
                column.addWidget(body, 1)
            dock.setWidget(holder)
            self.dock_banners[name] = banner
            always = name == "radiation"
            title = dock.windowTitle()

            def floated(
                floating: bool,
                dock: Panel = dock,
                banner: Banner = banner,
                always: bool = always,
                title: str = title,
            ) -> None:
                banner.setVisible(always or floating)
                word = text.split()[0]
                dock.setWindowTitle(
                    f"{word} (not live) · {title}" if floating else title
                )

            floated(dock.isFloating())
            dock.topLevelChanged.connect(floated)

    def update_alarm_state(self, now: float) -> None:
        """Header alarm summary and the audible annunciation (called at ~4 Hz)."""
        self.annunciator.update(now)
        book = self.context.alarms
        unacked = [a for a in book.snapshot() if not a.acked and not a.shelved(now)]
        worst = max((a.peak for a in unacked), default=Severity.NOMINAL)
        if not unacked:
            active = sum(1 for a in book.snapshot() if a.active)
            # A shelved alarm is hidden, not acknowledged: never say "all
            # acknowledged" about one nobody acknowledged.
            hidden = sum(1 for a in book.snapshot() if not a.acked and a.shelved(now))
            if hidden:
                level = Level.NO_DATA
                text = f"{active} active alarms, {hidden} shelved unacknowledged"
            elif active:
                level, text = Level.NO_DATA, f"{active} active alarms, all acknowledged"
            elif not self.context.store.sources:
                # Nothing received: no alarm means nothing was checked, not
                # that all is well. Never green before the first message.
                level, text = Level.NO_DATA, "no data yet · no limits checked"
            else:
                level, text = Level.NOMINAL, "no alarms"
            self.header.alarm_lamp.set_level(level, text)
        else:
            level = Level[worst.name] if worst > Severity.NOMINAL else Level.WATCH
            self.header.alarm_lamp.set_level(
                level, f"{len(unacked)} unacknowledged · {worst.name}"
            )

    def show_alarms(self) -> None:
        self.alarms.show()
        self.alarms.raise_()

    def silence(self, minutes: float) -> None:
        now = self.context.clock()
        self.annunciator.silence(minutes, now)
        self.events.add_operator_event(
            f"audible alarms silenced for {minutes:g} min", now
        )

    def unsilence(self) -> None:
        now = self.context.clock()
        self.annunciator.unsilence(now)
        self.events.add_operator_event("audible alarms unsilenced", now)

    def plot_channel(self, key: str) -> None:
        """Show a channel's plot and bring the plots forward."""
        self.plot_channels([key])

    def plot_channels(self, keys: list[str]) -> None:
        """Show channels (a readout's, an alarm's) on a chart, plots in front.

        A chart already showing them is highlighted rather than repeated.
        """
        self.plots.show_channels(keys)
        self.plots.show()
        self.plots.raise_()

    # ---- menus -----------------------------------------------------------

    def _build_menus(self) -> None:
        bar = self.header.menu_bar
        file = bar.addMenu("&File")
        self._action(
            file, "Export visible plot data (CSV)…", self.export_plot_csv, "Ctrl+E"
        )
        self._action(
            file, "Export layout image (PNG)…", self.export_layout_png, "Ctrl+Shift+S"
        )
        file.addSeparator()
        # Ctrl+Q spelled out: StandardKey.Quit is empty on some platforms.
        self._action(file, "Quit", self.request_quit, "Ctrl+Q")

        view = bar.addMenu("&View")
        roles = view.addMenu("Role layout")
        group = QActionGroup(self)
        group.setExclusive(True)
        self.role_actions: dict[str, QAction] = {}
        for number, role in enumerate(ROLES, start=1):
            action = QAction(ROLE_TITLES[role], self)
            action.setCheckable(True)
            action.setShortcut(QKeySequence(f"Ctrl+{number}"))
            action.triggered.connect(lambda _=False, r=role: self.set_role(r))
            group.addAction(action)
            roles.addAction(action)
            self.addAction(action)
            self.role_actions[role] = action
        self._mark_role()
        view.addSeparator()
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        self._action(
            view, "Fit the window to the screen", lambda: self.fit_to_screen(), "F11"
        )
        self._action(view, "Reset layout to the role's default", self.reset_layout)

        alarms = bar.addMenu("&Alarms")
        self._action(
            alarms,
            "Acknowledge selected alarms",
            lambda: self.alarms.table.request_ack(),
            "Ctrl+K",
        )
        self._action(
            alarms,
            "Acknowledge selected with note…",
            self.alarms.ack_with_dialog,
            "Ctrl+Shift+K",
        )
        self._action(
            alarms, "Shelve selected alarms…", self.alarms.shelve_dialog, "Ctrl+H"
        )
        self._action(
            alarms, "Acknowledge all visible alarms", self.alarms.acknowledge_visible
        )
        self._action(alarms, "Show alarm list", self.show_alarms, "F2")
        alarms.addSeparator()
        for minutes in SILENCE_CHOICES_MIN:
            self._action(
                alarms,
                f"Silence audible alarms {minutes:g} min",
                lambda _=False, m=minutes: self.silence(m),
                "Ctrl+M" if minutes == SILENCE_CHOICES_MIN[0] else None,
            )
        self._action(alarms, "Unsilence", lambda _=False: self.unsilence())

        replay_bar = self.header.replay_bar
        if replay_bar is not None:
            # The transport's keys are QShortcuts of the bar (they yield the
            # arrows to a focused list); the menu names them and fires them.
            replay = bar.addMenu("&Replay")
            for name, text in REPLAY_KEYS:
                shortcut = replay_bar.shortcuts.get(name)
                if shortcut is None:
                    continue
                keys = shortcut.key().toString(QKeySequence.SequenceFormat.NativeText)
                action = replay.addAction(f"{text}\t{keys}")
                action.triggered.connect(lambda _=False, s=shortcut: s.activated.emit())
            if replay_bar.note is not None:
                replay.addSeparator()
                note = replay.addAction("Note for the debrief…")
                note.triggered.connect(lambda _=False: replay_bar.ask_note())

        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Keyboard shortcuts", self.show_help, "F1")

    def _mark_role(self) -> None:
        """Check the current role in View > Role layout and say it in the text."""
        for role, action in self.role_actions.items():
            current = role == self.role
            action.setChecked(current)
            title = ROLE_TITLES[role]
            action.setText(f"{title}  (current)" if current else title)

    def shortcut_rows(self) -> list[tuple[str, str]]:
        """Return (keys, what they do) for every shortcut of this window."""
        rows: list[tuple[str, str]] = []
        native = QKeySequence.SequenceFormat.NativeText
        for action in self.actions():
            key = action.shortcut()
            if not key.isEmpty():
                text = action.text().replace("&", "").split("\t")[0]
                rows.append((key.toString(native), text.removesuffix("  (current)")))
        rows.append(("Enter (in the ack comment)", "Acknowledge selected with it"))
        rows.append(("Double-click an alarm", "Plot its channel"))
        replay_bar = self.header.replay_bar
        if replay_bar is not None:
            for name, text in REPLAY_KEYS:
                shortcut = replay_bar.shortcuts.get(name)
                if shortcut is not None:
                    rows.append((shortcut.key().toString(native), f"Replay: {text}"))
        return rows

    def show_help(self) -> None:
        HelpDialog(self.shortcut_rows(), self).exec()

    def _action(
        self,
        menu: Any,
        text: str,
        slot: Any,
        shortcut: str | QKeySequence.StandardKey | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work wherever the focus is
        return action

    def export_plot_csv(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Export visible plot data",
            str(self._export_dir() / f"plots-{stamp}.csv"),
            f"{LONG_CSV};;{WIDE_CSV}",
        )
        if not path:
            return
        if chosen == WIDE_CSV:
            rows = self.plots.export_wide_csv(Path(path))
            self.status.say(f"wrote {rows} rows (one column a channel) to {path}")
        else:
            rows = self.plots.export_csv(Path(path))
            self.status.say(f"wrote {rows} samples to {path}")

    def export_layout_png(self) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Export layout image",
            str(self._export_dir() / f"console-{stamp}.png"),
            "PNG (*.png)",
        )
        if path:
            ok = self.save_screenshot(path)
            self.status.say(f"saved {path}" if ok else f"could not write {path}")

    @staticmethod
    def _export_dir() -> Path:
        """Where export dialogs open: ``<data dir>/exports`` (made on demand)."""
        folder = data_dir() / "exports"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return data_dir()
        return folder

    # ---- role layouts ----------------------------------------------------

    def set_role(self, role: str) -> None:
        """Switch to another role's layout (the current one is saved first)."""
        if role not in ROLES or role == self.role:
            return
        self.save_layout()
        self.role = role
        self._mark_role()
        self._load_role(role)
        self._show_mode()

    def reset_layout(self) -> None:
        """Forget the saved layout of the current role and show its defaults.

        Asks first when the plots show channels the defaults do not: a reset
        would drop them.
        """
        added = list(dict.fromkeys(self.plots.added_channels(self.role)))
        if added:
            shown = ", ".join(added[:6]) + (" …" if len(added) > 6 else "")
            answer = QMessageBox.question(
                self,
                "Reset layout",
                f"Resetting the {ROLE_TITLES[self.role]} layout removes the "
                f"channels you added to the plots: {shown}.\n\nReset anyway?",
                QMessageBox.StandardButton.Reset | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Reset:
                return
        path = layout_path(self.role)
        path.unlink(missing_ok=True)
        self._apply_default(self.role)

    def save_layout(self) -> None:
        try:
            settings = QSettings(
                str(layout_path(self.role)), QSettings.Format.IniFormat
            )
        except OSError:
            return
        settings.setValue("version", LAYOUT_VERSION)
        settings.setValue("state", self.saveState(LAYOUT_VERSION))
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue(
            "panels", json.dumps({name: d.settings() for name, d in self.docks.items()})
        )
        settings.sync()

    def _load_role(self, role: str) -> None:
        self._apply_default(role)
        path = layout_path(role)
        if not path.exists():
            return
        settings = QSettings(str(path), QSettings.Format.IniFormat)
        if str(settings.value("version", "")) != str(LAYOUT_VERSION):
            return
        state = settings.value("state")
        if isinstance(state, QByteArray) and self.restoreState(state, LAYOUT_VERSION):
            self._pending_sizes = False
        geometry = settings.value("geometry")
        if isinstance(geometry, QByteArray) and not self.isVisible():
            self.restoreGeometry(geometry)
        try:
            panels = json.loads(str(settings.value("panels", "{}")))
        except ValueError:
            panels = {}
        if isinstance(panels, dict):
            for name, data in panels.items():
                dock = self.docks.get(name)
                if dock is not None and isinstance(data, dict):
                    dock.restore_settings(data)

    def _apply_default(self, role: str) -> None:
        """Arrange the docks as the role's built-in layout."""
        for dock in self.docks.values():
            self.removeDockWidget(dock)
        # Everything above the alarm list lives in the top area, split side
        # by side: with the central widget hidden, this is the arrangement
        # whose proportions QMainWindow honours (the left/right areas leave
        # the bottom area all the spare height).
        top = Qt.DockWidgetArea.TopDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        horizontal = Qt.Orientation.Horizontal
        d = self.docks
        if role == "radiation":
            # The radiation panel takes the full width; crew dose charts sit
            # beside the alarm list.
            self.addDockWidget(top, d["radiation"])
            self.tabifyDockWidget(d["radiation"], d["robots"])
            self.tabifyDockWidget(d["radiation"], d["eclss"])
            d["radiation"].raise_()
            self.addDockWidget(bottom, d["alarms"])
            self.splitDockWidget(d["alarms"], d["plots"], horizontal)
            self.tabifyDockWidget(d["alarms"], d["events"])
            d["alarms"].raise_()
        else:
            # Map | charts | a column of cabin readouts.
            self.addDockWidget(top, d["robots"])
            self.splitDockWidget(d["robots"], d["plots"], horizontal)
            self.splitDockWidget(d["plots"], d["eclss"], horizontal)
            self.tabifyDockWidget(d["plots"], d["radiation"])
            d["plots"].raise_()
            self.addDockWidget(bottom, d["alarms"])
            if role == "trainer":
                # The trainer watches what the trainee does: both lists at once.
                self.splitDockWidget(d["alarms"], d["events"], horizontal)
            else:
                self.addDockWidget(bottom, d["events"])
                self.tabifyDockWidget(d["alarms"], d["events"])
                d["alarms"].raise_()
        shown = ROLE_DOCKS.get(role, ROLE_DOCKS["flight"])
        for name, dock in d.items():
            dock.setVisible(name in shown)
        self.plots.apply_role(role)
        self._proportions = {}
        self._pending_sizes = True
        self._apply_sizes()

    def _apply_sizes(self) -> None:
        """Proportions of the default layout (needs the window's real size)."""
        w, h = max(self.width(), 800), max(self.height(), 600)
        # The bottom row (alarm list) always gets room for its minimum (three
        # rows); the docks above share the rest.
        chrome = self.header.sizeHint().height() + self.status.sizeHint().height()
        docks_h = max(h - chrome, 400)
        alarms_h = self.alarms.minimumSizeHint().height()
        bar = self.header.replay_bar
        if bar is not None:
            # The replay bar's height comes out of the docks, not out of the
            # alarm list below them: split what is left as live does.
            h = max(h - bar.sizeHint().height(), 600)
        d = self.docks
        horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
        if self.role == "radiation":
            # As much as the panel needs to show its charts without scrolling
            # (if the alarm list keeps its three rows), at least 64 %.
            want = self.radiation.content_height() + 40
            top = min(max(int(docks_h * 0.64), want), docks_h - alarms_h - 8)
            self.resizeDocks([d["radiation"]], [top], vertical)
            self.resizeDocks(
                [d["alarms"], d["plots"]], [int(w * 0.55), int(w * 0.45)], horizontal
            )
        else:
            # The robot readouts want their natural width (a smaller window
            # takes it from the charts, which stay legible narrower).
            robots_w = min(
                max(int(w * 0.37), self.robots.widget().sizeHint().width()),
                int(w * 0.45),
            )
            eclss_w = int(w * 0.18)
            self.resizeDocks(
                [d["robots"], d["plots"], d["eclss"]],
                [robots_w, w - robots_w - eclss_w, eclss_w],
                horizontal,
            )
            top = min(int(docks_h * 0.70), docks_h - alarms_h - 8)
            self.resizeDocks([d["robots"]], [top], vertical)

    # ---- the window on its screen -----------------------------------------

    def _default_size(self) -> QSize:
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is None:
            return DEFAULT_SIZE
        return DEFAULT_SIZE.boundedTo(screen.availableGeometry().size())

    def fit_to_screen(self, available: QRect | None = None) -> None:
        """Shrink and move the window (frame included) into ``available``.

        ``available`` defaults to the free area of the screen the window is
        on. A window larger than its screen hides its status bar and the
        alarm list's last rows off-screen, so this runs at every show and
        whenever the window grew past the screen.
        """
        if available is None:
            screen = self.screen() or QGuiApplication.primaryScreen()
            if screen is None:
                return
            available = screen.availableGeometry()
        frame = self.frameGeometry()
        extra_w = max(frame.width() - self.width(), 0)
        extra_h = max(frame.height() - self.height(), 0)
        if self.isMaximized() or self.isFullScreen():
            return
        room = QSize(available.width() - extra_w, available.height() - extra_h)
        size = self.size().boundedTo(room)
        if size != self.size():
            self.resize(size)
        frame = self.frameGeometry()
        x = min(max(frame.x(), available.left()), available.right() + 1 - frame.width())
        y = min(
            max(frame.y(), available.top()), available.bottom() + 1 - frame.height()
        )
        if (x, y) != (frame.x(), frame.y()):
            self.move(max(x, available.left()), max(y, available.top()))

    def exceeds_screen(self) -> bool:
        """Tell whether the window's frame reaches beyond its screen's free area."""
        screen = self.screen()
        if screen is None:
            return False
        return not screen.availableGeometry().contains(self.frameGeometry())

    def exceeds_desktop(self) -> bool:
        """Tell whether the window reaches beyond every screen's free area.

        Spanning two monitors on purpose is allowed; hanging off the desktop
        (a screen unplugged, content that grew) is not.
        """
        screens = QGuiApplication.screens()
        if not screens:
            return False
        desktop = QRect()
        for screen in screens:
            desktop = desktop.united(screen.availableGeometry())
        return not desktop.contains(self.frameGeometry())

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.fit_to_screen()
        # The window manager adds its frame after the first show: fit again
        # once the frame is known, or the status bar hangs below the screen.
        QTimer.singleShot(300, self._refit)
        if self._pending_sizes:
            self._pending_sizes = False
            self._apply_sizes()

    def remember_proportions(self) -> None:
        """Note each docked panel's share of the window (while its size holds)."""
        if self._restore_pending or self.size() != self._proportions_size:
            self._proportions_size = self.size()
            return  # wait for a steady size: the layout may still move
        w, h = max(self.width(), 1), max(self.height(), 1)
        self._proportions = {
            name: (dock.width() / w, dock.height() / h)
            for name, dock in self.docks.items()
            if dock.isVisible() and not dock.isFloating()
        }

    def _restore_proportions(self) -> None:
        """Give every docked panel its earlier share of the new window size.

        QMainWindow gives all of a change in size to one panel: shrinking
        then enlarging again would leave the layout distorted until Reset.
        """
        self._restore_pending = False
        shares = {
            n: p
            for n, p in self._proportions.items()
            if self.docks[n].isVisible() and not self.docks[n].isFloating()
        }
        if not shares:
            return
        docks = [self.docks[n] for n in shares]
        w, h = self.width(), self.height()
        self.resizeDocks(
            docks, [int(p[0] * w) for p in shares.values()], Qt.Orientation.Horizontal
        )
        self.resizeDocks(
            docks, [int(p[1] * h) for p in shares.values()], Qt.Orientation.Vertical
        )
        self._proportions_size = self.size()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._proportions and not self._restore_pending:
            self._restore_pending = True
            QTimer.singleShot(0, self._restore_proportions)
        # A dock that asks for more room (e.g. the channel browser opening)
        # makes Qt grow the window: bring it back onto the screen.
        if self.isVisible() and not self._fit_pending and self.exceeds_screen():
            self._fit_pending = True
            QTimer.singleShot(0, self._refit)

    def _refit(self) -> None:
        self._fit_pending = False
        self.fit_to_screen()

    def _ask_quit(self) -> bool:
        answer = QMessageBox.question(
            self,
            "Quit the live console?",
            "Quitting stops receiving and recording telemetry and the audible "
            "alarms.\n\nQuit the live console?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _must_ask(self) -> bool:
        return self.context.mode == "live" and not self._shut

    def request_quit(self) -> None:
        """File > Quit (Ctrl+Q): a live console asks first; replays just close."""
        if self._must_ask() and not self.confirm_quit():
            return
        self._quit_confirmed = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        # A live console stops recording when it quits: the window manager's
        # close button asks too (a spontaneous event). Closing from code
        # (shutdown, --quit-after, tests) does not ask.
        ask = event.spontaneous() and not self._quit_confirmed and self._must_ask()
        if ask and not self.confirm_quit():
            event.ignore()
            return
        self.save_layout()
        super().closeEvent(event)
