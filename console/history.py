"""Archive queries for scroll-back, run off the GUI thread.

A paused chart asks for a time range; one worker thread reads it from the
archive (WAL allows reads while the writer writes) and the answer comes back
to the GUI thread through a queued signal.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Signal

from telemetry.archive.reader import ArchiveReader

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)


class HistoryService(QObject):
    """Answers ``request(tag, key, t0, t1)`` with ``loaded(tag, key, t, y)``.

    Created on the GUI thread; queries run on the ``history`` worker thread,
    which opens its own read-only connection. Newer requests for the same tag
    make older answers irrelevant: only the latest is delivered.
    """

    loaded = Signal(str, str, object, object)
    failed = Signal(str, str)

    def __init__(self, archive_path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.archive_path = archive_path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history")
        self._latest: dict[str, int] = {}
        self._serial = 0
        self._reader: ArchiveReader | None = None

    def request(self, tag: str, key: str, t0: float, t1: float) -> Future[None]:
        self._serial += 1
        serial = self._serial
        self._latest[tag] = serial
        return self._pool.submit(self._query, tag, key, t0, t1, serial)

    def _query(self, tag: str, key: str, t0: float, t1: float, serial: int) -> None:
        if self._latest.get(tag) != serial:
            return  # superseded before it started
        try:
            if self._reader is None:
                self._reader = ArchiveReader(self.archive_path)
            t, y = self._reader.channel_window(key, t0, t1)
        except Exception as exc:  # shown on the chart; the worker goes on
            log.exception("history query for %s failed", key)
            self.failed.emit(tag, f"history of {key}: {exc}")
            return
        if self._latest.get(tag) == serial:
            self.loaded.emit(tag, key, np.asarray(t), np.asarray(y))

    def close(self) -> None:
        """Drop pending queries, close the reader on its own thread, join it."""
        self._latest.clear()
        self._pool.submit(self._close_reader)
        self._pool.shutdown(wait=True)

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
