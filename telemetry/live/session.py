"""A live session: subscriber -> pipeline -> store, alarms and archive, with no GUI.

The headless recorder runs one; the console runs one behind its windows. It
owns the start and stop order of the threads (subscriber first, archive last,
so everything received is flushed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from telemetry.archive.backlog import DEFAULT_QUEUE_BYTES
from telemetry.archive.writer import ArchiveWriter
from telemetry.bus.subscriber import (
    DEFAULT_MAX_MESSAGE_BYTES,
    RECEIVE_QUEUE_FULL,
    CurveConfig,
    SubscriberConfig,
    ZmqSubscriber,
)
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import DEFAULT_CAPACITY, ChannelStore
from telemetry.core.limits import LimitTransition
from telemetry.core.pipeline import (
    CLOCK_SLACK_S,
    EARLIEST_SAMPLE_TIME,
    MAX_TIME_AHEAD_S,
    Pipeline,
)
from telemetry.core.severity import Severity
from telemetry.live.dose_bins import DoseBinWriter
from telemetry.live.ledger_keeper import LedgerKeeper
from telemetry.radiation.estimator import DoseEstimator

if TYPE_CHECKING:
    from pathlib import Path

    from telemetry.core.deriver import Deriver
    from telemetry.core.dictionary import TelemetryDictionary
    from telemetry.live.ledger_keeper import LedgerLoss
    from telemetry.radiation.ledger import DoseLedger


#: Bytes the archive may hold in memory while the disk is slow or full; past
#: them items are dropped, counted and alarmed (see telemetry.archive.backlog).
#: A queued message costs its body plus its decoded samples (16 bytes each,
#: at most about twice the body for float64 columns), so the budget is four
#: of the largest messages the subscriber admits: any admissible message
#: can be archived on a healthy disk.
ARCHIVE_QUEUE_BYTES = max(DEFAULT_QUEUE_BYTES, 4 * DEFAULT_MAX_MESSAGE_BYTES)
#: The ``archive`` alarm's key in the alarm list.
ARCHIVE_ALARM = "archive"
# Backlog fractions of the queue that raise the archive alarm to WATCH / WARNING.
_BACKLOG_WATCH = 0.25
_BACKLOG_WARNING = 0.75
_DROP_HOLD_S = 5.0
_CRITICAL = Severity.CRITICAL

EventSink = Callable[[float, str, str, int], None]
"""``(time, kind, detail, severity)``: an event for the log and the archive."""


class ArchiveWatch:
    """Turns the archive writer's health into the ``archive`` alarm and events.

    Owned by the telemetry-pipeline thread: the session calls :meth:`check` from
    the pipeline's tick (every 0.25 s), so the alarm follows the disk even
    when no telemetry arrives. It only reads the writer's counters, which any
    thread may read; the live buffers never wait for the archive.
    """

    def __init__(
        self,
        archive: ArchiveWriter,
        alarms: AlarmBook,
        note: EventSink,
    ) -> None:
        self.archive = archive
        self.alarms = alarms
        self.note = note
        self.level = Severity.NOMINAL
        self.kind = "archive ok"
        self.max_backlog = 0
        self._dropped = 0
        self._last_drop = -math.inf

    def assess(self, now: float) -> tuple[Severity, str, str]:
        """Return ``(level, kind, detail)`` of the writer as it is at ``now``."""
        a = self.archive
        backlog = a.backlog
        self.max_backlog = max(self.max_backlog, backlog)
        fill = a.queue_fill
        held = (
            f"{backlog} items held in memory ({a.held_bytes / 2**20:.1f} MiB, "
            f"{fill:.0%} of the queue)"
        )
        if a.dropped > self._dropped:
            self._dropped, self._last_drop = a.dropped, now
        gone = a.check_file()
        if gone:
            return _CRITICAL, "archive file gone", gone
        if not a.alive:
            error = a.last_error or "no error recorded"
            return _CRITICAL, "archive stopped", f"archive writer stopped: {error}"
        if now - self._last_drop < _DROP_HOLD_S:
            # Held for a few seconds, so a queue hovering at full does not
            # flap between "dropping" and "backlog" on every tick.
            detail = f"archive queue full: {a.dropped} items not archived; {held}"
            return _CRITICAL, "archive dropping", detail
        if a.disk_full:
            detail = f"disk full, retrying every second; {held}; free space to resume"
            return _CRITICAL, "archive disk full", detail
        if a.retrying:
            detail = f"archive writes failing, retrying ({a.last_error}); {held}"
            return Severity.WARNING, "archive failing", detail
        if fill >= _BACKLOG_WARNING:
            return Severity.WARNING, "archive backlog", f"archive is behind: {held}"
        if fill >= _BACKLOG_WATCH:
            return Severity.WATCH, "archive backlog", f"archive is behind: {held}"
        if a.moved:
            return Severity.WARNING, "archive file moved", a.moved
        return Severity.NOMINAL, "archive ok", f"archive writing normally; {held}"

    def check(self, now: float) -> None:
        """Raise, change or clear the alarm when the writer's health changes."""
        level, kind, detail = self.assess(now)
        if level == self.level and kind == self.kind:
            return
        previous, self.level, self.kind = self.level, level, kind
        self.note(now, kind, detail, int(level))
        backlog = float(self.archive.backlog)
        self.alarms.raise_transition(
            LimitTransition(
                ARCHIVE_ALARM, now, previous, level, backlog, None, "archive"
            )
        )
        if level != previous:
            # Queued like any item: on a full disk it is written on recovery.
            self.archive.put_transition(
                now, ARCHIVE_ALARM, int(level), int(previous), backlog, None, "archive"
            )


@dataclass
class SessionConfig:
    """What a live session connects to and where it records.

    ``max_time_ahead_s``: messages with a sample time further ahead of the
    receive clock are refused ("time ahead"), see ``Pipeline``; a simulator
    running up to ~300x faster than the wall clock is still followed. ``None``
    turns the check off.

    ``receive_queue_bytes``: what may wait in memory for the pipeline
    (default ``DEFAULT_RECEIVE_QUEUE_BYTES``); past it messages are dropped,
    counted and reported (see ``telemetry.bus.pipeline_feed``).

    ``dose_ledger``: the dose ledger file (see ``telemetry.radiation.ledger``) the
    session seeds the dose estimator from and adds its dose to; ``None``
    leaves out earlier sessions.
    """

    endpoints: Sequence[str]
    archive_path: Path | None
    topics: Sequence[str] = ("",)
    buffer_capacity: int = DEFAULT_CAPACITY
    operator: str = ""
    curve: CurveConfig | None = None
    max_message_bytes: int | None = None
    receive_queue_bytes: int | None = None
    archive_options: dict[str, int] = field(default_factory=dict)
    max_time_ahead_s: float | None = MAX_TIME_AHEAD_S
    dose_ledger: Path | None = None


class LiveSession:
    """Wires the core threads together; created and stopped by the main thread.

    Threads: ``zmq-subscriber`` (sockets, connection events),
    ``telemetry-pipeline`` (pipeline, store writes, the archive watch,
    dose-ledger writes at each completed bin) and ``archive-writer``
    (SQLite). ``stop()`` stops receiving, lets the pipeline finish what was
    received, joins both, writes the ledger a last time, then flushes the
    archive.
    """

    def __init__(
        self,
        dictionary: TelemetryDictionary,
        config: SessionConfig,
        derivers: Sequence[Deriver] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dictionary = dictionary
        self.config = config
        self.clock = clock
        self.store = ChannelStore(config.buffer_capacity)
        self.archive: ArchiveWriter | None = None
        options = {"queue_bytes": ARCHIVE_QUEUE_BYTES, **config.archive_options}
        if config.archive_path is not None:
            self.archive = ArchiveWriter(
                config.archive_path,
                dictionary_sha256=dictionary.sha256,
                dictionary_version=dictionary.version,
                kind="live",
                operator=config.operator,
                **options,
            )
        self.alarms = AlarmBook(
            on_action=self.archive.put_action if self.archive else None,
            operator=config.operator,
        )
        # The subscriber hands the pipeline ``clock()`` as each message's
        # receive time, so the time-ahead check runs against this clock.
        self.pipeline = Pipeline(
            dictionary,
            self.store,
            self.alarms,
            self.archive,
            derivers,
            max_time_ahead_s=config.max_time_ahead_s,
            earliest_time=EARLIEST_SAMPLE_TIME,
            clock_slack_s=CLOCK_SLACK_S,
        )
        self.archive_watch = (
            ArchiveWatch(self.archive, self.alarms, self.note)
            if self.archive is not None
            else None
        )
        sub_config = SubscriberConfig(
            config.endpoints, config.topics, curve=config.curve
        )
        if config.max_message_bytes is not None:
            sub_config.max_message_bytes = config.max_message_bytes
        if config.receive_queue_bytes is not None:
            sub_config.receive_queue_bytes = config.receive_queue_bytes
        self.subscriber = ZmqSubscriber(
            sub_config,
            self.pipeline.ingest,
            self._tick,
            clock=clock,
            on_event=self._connection_event,
        )
        self._started = False
        self._dose = next((d for d in derivers if isinstance(d, DoseEstimator)), None)
        if self._dose is not None:
            # Dose before the console started belongs to earlier sessions.
            self._dose.start_not_before(clock())
        self._ledger = (
            LedgerKeeper(
                config.dose_ledger,
                self._dose,
                self.store,
                self.alarms,
                self.note,
                self.clock(),
            )
            if config.dose_ledger is not None and self._dose is not None
            else None
        )
        # Hourly crew dose in the archive, so increment reports need no replay.
        self._dose_bins = (
            DoseBinWriter(self._dose, self.archive, self.store)
            if self._dose is not None and self.archive is not None
            else None
        )

    @property
    def ledger(self) -> DoseLedger | None:
        """The open dose ledger (None: none, unusable, or closed at stop)."""
        return self._ledger.ledger if self._ledger is not None else None

    def ledger_loss(self) -> LedgerLoss | None:
        """Crew dose this session could not write to the ledger (after stop)."""
        return self._ledger.loss() if self._ledger is not None else None

    def note(self, time: float, kind: str, detail: str, severity: int) -> None:
        """Put an event in the operator's log and the archive; any thread.

        The store and the archive queue take their own locks: the pipeline
        thread notes its events here, the receive thread its connection events.
        """
        self.store.add_event(time, None, kind, detail, severity)
        if self.archive is not None:
            self.archive.put_event(time, None, kind, detail, severity)

    def _tick(self, now: float) -> None:
        self.pipeline.tick(now)
        if self.archive_watch is not None:
            self.archive_watch.check(now)
        if self._ledger is not None:
            self._ledger.tick(now)
        if self._dose_bins is not None:
            self._dose_bins.flush(now)

    def _connection_event(self, now: float, kind: str, detail: str) -> None:
        # Messages this console dropped are data lost, as when the archive drops.
        level = _CRITICAL if kind == RECEIVE_QUEUE_FULL else Severity.WARNING
        self.note(now, kind, detail, int(level))

    def start(self) -> None:
        if self.archive is not None:
            self.archive.start()
        self.subscriber.start()
        self._started = True

    def stop(self) -> None:
        """Stop receiving, write the dose ledger, flush the archive (idempotent)."""
        self.subscriber.stop()
        if self._ledger is not None:
            self._ledger.stop(self.clock())
        if self._dose_bins is not None:
            self._dose_bins.flush(self.clock(), final=True)
        if self.archive is not None:
            self.archive.stop()
        self._started = False


def build_derivers(
    dictionary: TelemetryDictionary,
    roster_path: Path | None = None,
    limits_path: Path | None = None,
) -> list[Deriver]:
    """Return the derived-channel engines every session runs (the dose estimator).

    Raises ``RosterError`` naming file, line and entry when the roster or the
    limits are wrong, so the console never starts half-configured.
    """
    from telemetry.radiation.roster import (
        DEFAULT_LIMITS,
        DEFAULT_ROSTER,
        load_limits,
        load_roster,
    )

    limits = load_limits(limits_path or DEFAULT_LIMITS)
    roster = load_roster(roster_path or DEFAULT_ROSTER, limits)
    return [DoseEstimator(dictionary, roster, limits)]
