"""The composition root: builds the session, the window and the refresh loop.

``build_console(config)`` wires the Qt-free core to the widgets; ``Console``
starts and stops everything in a safe order (subscriber, archive, then the
windows).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from console.archive_commands import report_loss
from console.config import (
    ConsoleConfig,
    console_curve,
    data_dir,
    default_archive_path,
    default_dose_ledger,
)
from console.context import ConsoleContext
from console.dose_record_watch import DoseRecordWatch
from console.history import HistoryService
from console.main_window import MainWindow
from console.refresh import RefreshLoop
from console.replay_driver import ReplayDriver
from telemetry.bus.publisher import free_tcp_endpoint
from telemetry.bus.subscriber import listen_endpoint
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.live.session import LiveSession, SessionConfig, build_derivers
from telemetry.radiation.estimator import DoseEstimator
from telemetry.replay.session_reader import check_speed, parse_session_time
from telemetry.replay.training import default_expectations

if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from types import FrameType

log = logging.getLogger(__name__)


class Console:
    """The running console; created, started and shut down by the GUI thread.

    Owns the source (a LiveSession with its subscriber and archive threads,
    or a ReplayDriver with its replay thread), the history worker, the demo
    simulator process and the main window.
    """

    def __init__(
        self, config: ConsoleConfig, *, training_log: Path | None = None
    ) -> None:
        self.config = config
        self._training_log = training_log
        self.dictionary = TelemetryDictionary.load(config.dictionary_path)
        self.simulator: subprocess.Popen[bytes] | None = None
        self.session: LiveSession | None = None
        self.replay: ReplayDriver | None = None
        self.dose_records: DoseRecordWatch | None = None
        try:
            if config.replay is not None:
                self._build_replay(config, config.replay)
            else:
                self._build_live(config)
        except BaseException:
            self._stop_simulator()  # never leave the demo simulator behind
            raise
        self.window = MainWindow(self.context, config.layout)
        self.refresh = RefreshLoop(
            self.window.panels, self.context.clock, config.refresh_hz
        )
        self.window.set_refresh_loop(self.refresh)
        self._shut_down = False

    def _build_live(self, config: ConsoleConfig) -> None:
        # First: a bad roster or limits file stops the console (naming file,
        # line and entry) before a simulator, an archive or a window exists.
        derivers = build_derivers(self.dictionary, config.roster, config.limits)
        endpoints = [*config.endpoints, *map(listen_endpoint, config.listen)]
        if config.demo:
            endpoint = free_tcp_endpoint()
            self.simulator = self._start_simulator(
                endpoint, config.scenario, config.faults
            )
            endpoints.append(endpoint)
        self.session = LiveSession(
            self.dictionary,
            SessionConfig(
                endpoints=endpoints,
                archive_path=config.archive_path,
                operator=config.operator,
                curve=config.curve,
                buffer_capacity=config.buffer_capacity,
                dose_ledger=config.dose_ledger,
            ),
            derivers,
        )
        self.store = self.session.store
        self.history = (
            HistoryService(config.archive_path)
            if config.archive_path is not None
            else None
        )
        dose = next((d for d in derivers if isinstance(d, DoseEstimator)), None)
        # The radiation panel's dose of record: the ledger this session opens,
        # read on a thread of its own (never the GUI's) once a minute.
        self.dose_records = (
            DoseRecordWatch(
                config.dose_ledger,
                (m.id for m in dose.roster.crew),
                dose.limits,
                bin_s=dose.config.rolling_bin_s,
            )
            if config.dose_ledger is not None and dose is not None
            else None
        )
        self.context = ConsoleContext(
            dictionary=self.dictionary,
            store=self.store,
            alarms=self.session.alarms,
            clock=time.time,
            mode="live",
            archive_path=config.archive_path,
            history=self.history,
            dose=dose,
            archive=self.session.archive,
            subscriber=self.session.subscriber,
            dose_records=self.dose_records,
        )

    def _build_replay(self, config: ConsoleConfig, path: Path) -> None:
        """Replay is just another source: same store, alarms and panels."""
        log = None
        operator = config.operator
        scenario: Path | None = None
        if config.training:
            log = self._training_log
            if log is None:
                stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
                name = path.name.removesuffix(".sqlite").removesuffix(".session")
                log = data_dir() / "training" / f"{name}-{stamp}.sqlite"
            log.parent.mkdir(parents=True, exist_ok=True)
            operator = operator or "trainee"
            # What the debrief will hold the trainee to: the fault scenario's
            # [[expect]] list, else the session's own expectations file.
            expect = default_expectations(path)
            scenario = config.faults or (expect if expect.is_file() else None)
        self.replay = ReplayDriver(
            self.dictionary,
            path,
            training_log=log,
            operator=operator,
            faults=config.faults,
            scenario=scenario.resolve() if scenario is not None else None,
            capacity=config.buffer_capacity,
            roster=config.roster,
            limits=config.limits,
        )
        self.store = self.replay.store
        # Scroll-back reads the recording itself (read-only, WAL-safe).
        self.history = HistoryService(path)
        self.context = ConsoleContext(
            dictionary=self.dictionary,
            store=self.store,
            alarms=self.replay.alarms,
            clock=self.replay.clock,
            mode="training" if config.training else "replay",
            archive_path=path,
            history=self.history,
            dose=self.replay.dose,
            replay=self.replay,
            training_log=log,
        )

    @staticmethod
    def _start_simulator(
        endpoint: str, scenario: str, faults: Path | None
    ) -> subprocess.Popen[bytes]:
        # A separate process: the simulator's Python work must not share the
        # console's GIL (it would show up as GUI stalls).
        command = [sys.executable, "-m", "console", "sim", "--bind", endpoint]
        command += ["--scenario", scenario]
        if faults is not None:
            command += ["--faults", str(faults)]
        return subprocess.Popen(command, stdin=subprocess.DEVNULL)

    def _stop_simulator(self) -> None:
        if self.simulator is None:
            return
        self.simulator.terminate()
        try:
            self.simulator.wait(5.0)
        except subprocess.TimeoutExpired:
            self.simulator.kill()
            self.simulator.wait()
        self.simulator = None

    def start(self) -> None:
        if self.session is not None:
            self.session.start()
        if self.dose_records is not None:
            self.dose_records.start()
        if self.replay is not None:
            self.replay.start()
        self.refresh.start()
        self.window.show()

    def shutdown(self) -> None:
        """Stop receiving, flush the archive, stop workers, close windows (once)."""
        if self._shut_down:
            return
        self._shut_down = True
        self.refresh.stop()
        # History first: its reader must not be mid-query while the archive
        # checkpoints its WAL into the main file at stop.
        if self.history is not None:
            self.history.close()
        if self.dose_records is not None:
            self.dose_records.stop()
        if self.session is not None:
            self.session.stop()
        if self.replay is not None:
            self.replay.stop()
        self._stop_simulator()
        self.window.shutdown()
        self.window.close()
        self.window.deleteLater()


def build_console(
    config: ConsoleConfig, *, training_log: Path | None = None
) -> Console:
    """Build (but do not start) a console; a QApplication must exist.

    ``training_log`` names the trainee's log of a training replay (default:
    a new file in ``<data dir>/training/``).
    """
    return Console(config, training_log=training_log)


def replay_start_options(
    args: argparse.Namespace, start: float
) -> tuple[float | None, float | None]:
    """Return the ``--replay-start`` time and ``--replay-speed`` of the command line.

    Raises
    ------
    ValueError
        If either cannot be used (the message says why).
    """
    at: float | None = None
    speed: float | None = None
    text = getattr(args, "replay_start", None)
    if text is not None:
        at = parse_session_time(text, start)
    value = getattr(args, "replay_speed", None)
    if value is not None:
        speed = check_speed(value)
    return at, speed


def config_from_args(args: argparse.Namespace) -> ConsoleConfig:
    archive = args.archive
    if archive is None and args.replay is None:
        archive = default_archive_path()
    return ConsoleConfig(
        endpoints=list(args.connect),
        listen=list(args.listen),
        archive_path=archive,
        dictionary_path=args.dictionary,
        layout=args.layout,
        operator=args.operator,
        refresh_hz=args.refresh_hz,
        demo=args.demo,
        scenario=args.scenario,
        replay=args.replay,
        training=args.training,
        faults=args.faults,
        curve=console_curve(
            args.curve_keys,
            connect=bool(args.connect) or args.demo,
            listen=bool(args.listen),
            allow=args.curve_allow,
        ),
        roster=args.roster,
        limits=args.limits,
        dose_ledger=(
            None
            if args.no_dose_ledger or args.replay is not None
            else default_dose_ledger(demo=args.demo)
        ),
    )


def quit_on_signals(app: QApplication) -> None:
    """Make SIGTERM and SIGINT quit the event loop, so the archive is flushed.

    A logout, a shutdown or ``kill`` sends SIGTERM; Python's default would
    end the process at once with everything still queued for the archive.
    Python runs signal handlers only between bytecodes, and Qt's event loop
    is C++, so a timer wakes the interpreter a few times a second.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        log.warning("signal %d: quitting, flushing the archive", signum)
        app.quit()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    wake = QTimer(app)
    wake.timeout.connect(lambda: None)
    wake.start(200)


def run_gui(args: argparse.Namespace) -> int:
    """Start the console window; returns the process exit code."""
    config = config_from_args(args)
    replay_flags = (
        getattr(args, "replay_start", None),
        getattr(args, "replay_speed", None),
        getattr(args, "training_log", None),
    )
    if config.replay is None and any(f is not None for f in replay_flags):
        sys.stderr.write(
            "kibo-console: --replay-start, --replay-speed and --training-log "
            "need --replay FILE\n"
        )
        return 2
    live = config.endpoints or config.listen or config.demo
    if not live and config.replay is None:
        sys.stderr.write(
            "kibo-console: nothing to show: give --connect ENDPOINT, --listen "
            "ENDPOINT, --demo or --replay FILE\n"
        )
        return 2
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Kibo Ops Console")
    from widgets.levels import apply_theme

    apply_theme(app)
    data_dir()
    console = build_console(config, training_log=getattr(args, "training_log", None))
    start_at: float | None = None
    speed: float | None = None
    if console.replay is not None:
        try:
            start_at, speed = replay_start_options(args, console.replay.start_time)
        except ValueError as exc:
            console.shutdown()
            sys.stderr.write(f"kibo-console: error: {exc}\n")
            return 2
        log = console.context.training_log
        if log is not None:
            sys.stderr.write(
                f"kibo-console: training run: the trainee's actions go to {log}\n"
                f"  debrief: kibo-console debrief --training-log {log}\n"
            )
    app.aboutToQuit.connect(console.shutdown)
    quit_on_signals(app)
    try:
        console.start()
    except RuntimeError as exc:  # a replay that cannot open: its file, one line
        console.shutdown()
        sys.stderr.write(f"kibo-console: error: {exc}\n")
        return 2
    if console.replay is not None:
        if start_at is not None:
            console.replay.seek(start_at)
        if speed is not None:
            bar = console.window.header.replay_bar
            if bar is not None:
                bar.set_speed(speed)  # the speed box shows it too
            else:
                console.replay.set_speed(speed)
            console.replay.play()
    if args.quit_after is not None:
        if args.screenshot is not None:
            shot: Path = args.screenshot
            QTimer.singleShot(
                max(0, int((args.quit_after - 0.5) * 1000)),
                lambda: console.window.save_screenshot(shot),
            )
        QTimer.singleShot(int(args.quit_after * 1000), app.quit)
    code = app.exec()
    console.shutdown()
    archive = console.session.archive if console.session is not None else None
    received = console.session.subscriber.loss() if console.session else None
    # The trainee's actions that never reached the training log, and crew
    # dose the dose ledger never got, if any.
    unlogged = [console.replay.log_error] if console.replay else []
    ledger = console.session.ledger_loss() if console.session else None
    lost = report_loss(
        archive,
        archive.stopped_cleanly if archive else True,
        received,
        [text for text in unlogged if text] + ([ledger.what()] if ledger else []),
    )
    return int(code) or lost
