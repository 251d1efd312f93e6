"""What every dock reads from: the store, alarms, dictionary and the session clock.

Docks get one ConsoleContext and pull from it at the refresh rate; they never
receive per-sample signals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from telemetry.core.limits import is_stale
from telemetry.core.severity import Severity
from telemetry.core.units import format_duration
from widgets.levels import Level

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from console.dose_record_watch import DoseRecordWatch
    from console.history import HistoryService
    from console.replay_driver import ReplayDriver
    from telemetry.bus.subscriber import ZmqSubscriber
    from telemetry.core.alarms import AlarmBook
    from telemetry.core.channels import ChannelStore
    from telemetry.core.dictionary import TelemetryDictionary
    from telemetry.radiation.estimator.view import DoseView


class ArchiveHealth(Protocol):
    """What the status bar shows of a live session's archive writer."""

    @property
    def backlog(self) -> int: ...

    @property
    def dropped(self) -> int: ...

    @property
    def errors(self) -> int: ...

    @property
    def disk_full(self) -> bool: ...

    @property
    def last_error(self) -> str: ...

    @property
    def file_gone(self) -> bool: ...

    @property
    def moved(self) -> str: ...


@dataclass
class ConsoleContext:
    """Shared read access for the GUI thread's docks (owned by the GUI thread).

    What a mode has is declared here (``archive`` when live, ``replay`` when
    replaying), so a dock never probes for it. ``clock`` is the session clock:
    wall time when live, the replay cursor when replaying, so staleness and
    windows follow whichever is showing.
    """

    dictionary: TelemetryDictionary
    store: ChannelStore
    alarms: AlarmBook
    clock: Callable[[], float]
    mode: str = "live"  # "live", "replay" or "training"
    archive_path: Path | None = None
    history: HistoryService | None = None
    dose: DoseView | None = None  # read through its snapshot() lock
    archive: ArchiveHealth | None = None  # a live session's writer
    subscriber: ZmqSubscriber | None = None  # a live session's sockets
    replay: ReplayDriver | None = None  # replay and training modes
    training_log: Path | None = None  # training mode: the trainee's action log
    dose_records: DoseRecordWatch | None = None  # live with a dose ledger

    def latest(self, key: str) -> tuple[float, float] | None:
        buf = self.store.buffer(key)
        return buf.latest() if buf is not None else None

    def level_of(self, key: str, now: float) -> Level:
        """Display level of a channel: its alarm level, stale, or no data.

        ``now`` is the session clock; staleness is judged on arrival time.
        """
        buf = self.store.buffer(key)
        if buf is None or len(buf) == 0:
            return Level.NO_DATA
        spec = self.dictionary.channel_for_key(key)
        if spec is not None:
            stale_s = spec.stale_after_s
            # A publisher that batches (10 s of rows per message) is not stale
            # between messages: allow for its learned cadence.
            stats = self.store.sources.get(key.partition(".")[0])
            if stats is not None and stats.interval_s == stats.interval_s:
                stale_s = max(stale_s, 2.5 * stats.interval_s)
            if is_stale(buf.received, now, stale_s):
                return Level.STALE
        alarm = self.alarms.get(key)
        if alarm is None or alarm.severity == Severity.NOMINAL:
            return Level.NOMINAL
        return Level[alarm.severity.name]

    def stale_note(self, key: str, now: float) -> str:
        """Say how old a stale value is (``"12 s old"``, ``"arrived 1.0 h old"``).

        A value that arrived too old to be "now" (a backlog into an empty
        channel, a publisher whose clock lags) never was current: the note
        says how old it was on arrival. Empty when there is nothing to say.
        """
        buf = self.store.buffer(key)
        if buf is None:
            return ""
        if math.isfinite(buf.arrival_lag_s):
            return f"arrived {format_duration(buf.arrival_lag_s)} old"
        if math.isfinite(buf.received):
            return f"{now - buf.received:.0f} s old"
        return ""

    def format(self, key: str, value: float) -> str:
        spec = self.dictionary.channel_for_key(key)
        return spec.format_value(value) if spec is not None else f"{value:g}"

    def unit(self, key: str) -> str:
        spec = self.dictionary.channel_for_key(key)
        return spec.unit if spec is not None else ""
