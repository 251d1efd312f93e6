"""The dose of record for the radiation panel, read off the GUI thread at a low rate.

A live console's dose ledger holds the crew's doses of record (``kibo-console
dose-record import``, run while no console writes the ledger) and the
estimate the year totals sum, which grows by the hour as the live session
writes. Reading it takes SQLite queries over every hourly bin (0.2-0.3 s
for a year of four crew members): the ``dose-record`` thread does it at
start and once a minute, and the panel reads the last summary (one
attribute, replaced whole).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Final

from telemetry.radiation.record_summary import RecordSummary, summarize_ledger

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from telemetry.radiation.roster import DoseLimits

#: How often the ledger is read again (doses of record arrive after return;
#: year totals move by the hour).
READ_EVERY_S: Final = 60.0

log = logging.getLogger(__name__)


class DoseRecordWatch:
    """Owns the ``dose-record`` thread that summarises the dose ledger.

    The GUI thread reads ``summary`` (None until the first read) and
    ``version`` (bumped with each new summary); both are replaced whole by
    the ``dose-record`` thread. ``reread()`` asks for a read now.
    """

    def __init__(
        self,
        path: Path,
        crew_ids: Iterable[str],
        limits: DoseLimits,
        *,
        bin_s: float,
        clock: Callable[[], float] = time.time,
        every_s: float = READ_EVERY_S,
    ) -> None:
        self.path = path
        self._crew = list(crew_ids)
        self._limits = limits
        self._bin_s = bin_s
        self._clock = clock
        self._every_s = every_s
        self.summary: RecordSummary | None = None
        self.version = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="dose-record", daemon=True
        )
        self._thread.start()

    def reread(self) -> None:
        """Read the ledger again now, not at the next minute."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                summary = summarize_ledger(
                    self.path,
                    self._crew,
                    self._limits,
                    bin_s=self._bin_s,
                    now=self._clock(),
                )
            except Exception as exc:  # a bug: say it on the panel, keep going
                log.exception("reading the dose of record from %s failed", self.path)
                summary = RecordSummary(
                    str(self.path),
                    self._clock(),
                    error=f"{type(exc).__name__}: {exc}",
                )
            self.summary = summary
            self.version += 1
            self._wake.wait(self._every_s)
