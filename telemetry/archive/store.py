"""SQLite archive of everything received: raw frames, sample segments, events.

ArchiveWriter appends on its own thread; ArchiveReader queries read-only.
Schema for users: docs/archive-schema.md.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import importlib.metadata
import json
import math
import os
import queue
import re
import sqlite3
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, TextIO

import numpy as np
import numpy.typing as npt
import sqlite_utils

from telemetry.core.private_file import create_private_file
from telemetry.core.severity import Severity
from telemetry.core.wire import Frame, decode_frame, encode_frame

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

FloatArray = npt.NDArray[np.float64]
Batch = tuple[str, np.ndarray, np.ndarray]
"""One channel's samples: ``("source.channel", times, values)``, float64 each."""

SCHEMA_VERSION: Final = 1
APPLICATION_ID: Final = 0x4B49424F  # "KIBO" in the SQLite file header
MAX_REJECTED_BODY: Final = 1 << 20
"""Rejected bodies are stored up to this many bytes; ``length`` keeps the size."""

# The schema is hand-written DDL rather than sqlite-utils ``create_table``: the
# documented column types must be exactly what is on disk (sqlite-utils writes
# FLOAT, not REAL), the file must be created in one transaction, and the
# expression index on frames is not expressible there. docs/archive-schema.md
# reproduces these statements and tests/telemetry/test_archive.py checks that the
# two agree.
SCHEMA: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    ended REAL,
    kind TEXT NOT NULL,
    dictionary_sha256 TEXT NOT NULL,
    dictionary_version TEXT NOT NULL,
    operator TEXT NOT NULL,
    console_version TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    family TEXT NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    frames INTEGER NOT NULL DEFAULT 0
)""",
    """CREATE TABLE IF NOT EXISTS channels (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    declared INTEGER NOT NULL DEFAULT 0,
    derived INTEGER NOT NULL DEFAULT 0,
    states TEXT NOT NULL DEFAULT '{}',
    samples INTEGER NOT NULL DEFAULT 0,
    t_first REAL,
    t_last REAL,
    max_span REAL NOT NULL DEFAULT 0
)""",
    """CREATE TABLE IF NOT EXISTS frames (
    id INTEGER PRIMARY KEY,
    session INTEGER NOT NULL REFERENCES sessions(id),
    source_id INTEGER NOT NULL REFERENCES sources(id),
    seq INTEGER NOT NULL,
    received REAL NOT NULL,
    t_first REAL,
    t_last REAL,
    rows INTEGER NOT NULL,
    encoding TEXT NOT NULL,
    body BLOB NOT NULL
)""",
    """CREATE INDEX IF NOT EXISTS frames_replay_order
    ON frames(ifnull(t_first, received), id)""",
    """CREATE TABLE IF NOT EXISTS samples (
    channel_id INTEGER NOT NULL REFERENCES channels(id),
    frame_id INTEGER REFERENCES frames(id),
    t_first REAL NOT NULL,
    t_last REAL NOT NULL,
    n INTEGER NOT NULL,
    times BLOB NOT NULL,
    "values" BLOB NOT NULL
)""",
    """CREATE INDEX IF NOT EXISTS samples_channel_time
    ON samples(channel_id, t_first)""",
    """CREATE TABLE IF NOT EXISTS rejected (
    id INTEGER PRIMARY KEY,
    session INTEGER NOT NULL REFERENCES sessions(id),
    received REAL NOT NULL,
    topic BLOB NOT NULL,
    source TEXT,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    length INTEGER NOT NULL,
    body BLOB NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS rejected_received ON rejected(received)",
    """CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    session INTEGER NOT NULL REFERENCES sessions(id),
    time REAL NOT NULL,
    source TEXT,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    severity INTEGER NOT NULL DEFAULT 0,
    count INTEGER
)""",
    "CREATE INDEX IF NOT EXISTS events_time ON events(time)",
    """CREATE TABLE IF NOT EXISTS limit_transitions (
    id INTEGER PRIMARY KEY,
    session INTEGER NOT NULL REFERENCES sessions(id),
    time REAL NOT NULL,
    channel TEXT NOT NULL,
    severity INTEGER NOT NULL,
    previous INTEGER NOT NULL,
    value REAL,
    threshold REAL,
    kind TEXT NOT NULL
)""",
    """CREATE INDEX IF NOT EXISTS limit_transitions_time
    ON limit_transitions(time)""",
    """CREATE TABLE IF NOT EXISTS operator_actions (
    id INTEGER PRIMARY KEY,
    session INTEGER NOT NULL REFERENCES sessions(id),
    time REAL NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    comment TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS bookmarks (
    id INTEGER PRIMARY KEY,
    session INTEGER NOT NULL REFERENCES sessions(id),
    time REAL NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
)""",
)

# Queue item tags (first element of every queued tuple).
_FRAME: Final = 0
_SAMPLES: Final = 1
_CHANNEL: Final = 2
_REJECTED: Final = 3
_EVENT: Final = 4
_TRANSITION: Final = 5
_ACTION: Final = 6
_BOOKMARK: Final = 7
_FLUSH: Final = 8
_STOP: Final = 9
_WAKE: Final = 10
_KIND_NAMES: Final = {
    _FRAME: "frames",
    _SAMPLES: "derived sample batches",
    _CHANNEL: "channel records",
    _REJECTED: "rejected frames",
    _EVENT: "events",
    _TRANSITION: "limit transitions",
    _ACTION: "operator actions",
    _BOOKMARK: "bookmarks",
}

# SQLite primary result codes after which the same batch may succeed later.
_RETRYABLE: Final = frozenset(
    {
        5,  # SQLITE_BUSY
        6,  # SQLITE_LOCKED
        7,  # SQLITE_NOMEM
        8,  # SQLITE_READONLY (e.g. file system remounted read-only)
        10,  # SQLITE_IOERR
        13,  # SQLITE_FULL
        14,  # SQLITE_CANTOPEN
        15,  # SQLITE_PROTOCOL
    }
)
_SQLITE_FULL: Final = 13

# Row-writing statements: "%VALUES%" becomes "VALUES (?, ...), (?, ...)" with as
# many rows as written at once (see ArchiveWriter._write_rows).
_INSERT_FRAME: Final = (
    "INSERT INTO frames (id, session, source_id, seq, received, t_first, t_last,"
    " rows, encoding, body) %VALUES%"
)
_INSERT_SEGMENT: Final = (
    'INSERT INTO samples (channel_id, frame_id, t_first, t_last, n, times, "values")'
    " %VALUES%"
)
_UPDATE_CHANNEL_STATS: Final = (
    "UPDATE channels SET samples = samples + v.column2,"
    " t_first = min(ifnull(t_first, v.column3), v.column3),"
    " t_last = max(ifnull(t_last, v.column4), v.column4),"
    " max_span = max(max_span, v.column5)"
    " FROM (%VALUES%) AS v WHERE channels.id = v.column1"
)
_UPDATE_SOURCES: Final = (
    "UPDATE sources SET last_seen = max(last_seen, v.column2),"
    " frames = frames + v.column3 FROM (%VALUES%) AS v WHERE sources.id = v.column1"
)
_UPSERT_CHANNEL: Final = (
    "INSERT INTO channels (key, source, name, unit, declared, derived, states)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
    " unit = excluded.unit, declared = excluded.declared,"
    " derived = excluded.derived, states = excluded.states RETURNING id"
)
_INSERT_EVENT: Final = (
    "INSERT INTO events (session, time, source, kind, detail, severity, count)"
    " %VALUES%"
)
_INSERT_TRANSITION: Final = (
    "INSERT INTO limit_transitions (session, time, channel, severity, previous,"
    " value, threshold, kind) %VALUES%"
)
_INSERT_ACTION: Final = (
    "INSERT INTO operator_actions (session, time, operator, action, target, comment)"
    " %VALUES%"
)
_INSERT_BOOKMARK: Final = "INSERT INTO bookmarks (session, time, author, text) %VALUES%"
_INSERT_REJECTED: Final = (
    "INSERT INTO rejected (session, received, topic, source, reason, detail, length,"
    " body) %VALUES%"
)

_MISSING_RE: Final = re.compile(
    r"(?:missing|missed|lost)\D{0,3}(\d+)|(\d+)\s+(?:frames?\s+)?(?:missing|missed|lost)",
    re.IGNORECASE,
)
_MAX_STATEMENT_ROWS: Final = 4096
_wall_clock: Final = time.time  # put_* methods have a parameter named ``time``
_SPAN_SLACK: Final = 1e-3  # seconds; covers float rounding of t_last - t_first


class ArchiveError(RuntimeError):
    """A file that cannot be used as an archive (wrong format, newer schema)."""


def installed_version() -> str:
    """Return the installed kibo-console version, or ``"unknown"``."""
    try:
        return importlib.metadata.version("kibo-console")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def missing_count(detail: str) -> int | None:
    """Return the missing-frame count written in a gap event's detail, if any.

    Understands ``"missing 5"``, ``"missed=5"``, ``"5 frames missing"`` and the
    like; callers that know the number should pass ``count=`` instead.
    """
    match = _MISSING_RE.search(detail)
    if match is None:
        return None
    return int(match.group(1) or match.group(2))


def _split_key(key: str) -> tuple[str, str]:
    source, dot, name = key.partition(".")
    return (source, name) if dot else ("", key)


def _check_archive(conn: sqlite3.Connection, path: str) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if tables and app_id != APPLICATION_ID:
        raise ArchiveError(f"{path} is an SQLite file but not a Kibo console archive")
    if version > SCHEMA_VERSION:
        raise ArchiveError(
            f"{path} has archive schema v{version}; this console reads up to "
            f"v{SCHEMA_VERSION}"
        )


class ArchiveWriter:
    """Append-only writer of one archive session; owned by its own thread.

    The sqlite3 write connection lives on a ``threading.Thread`` named
    ``archive-writer`` that this object starts in :meth:`start` and joins in
    :meth:`stop`. The ``put_*`` methods are called from other threads (the
    zmq-subscriber thread for telemetry, the GUI thread for operator actions):
    they only append to a bounded queue and never block; when the queue is
    full the item is dropped, counted in :attr:`dropped`, and the writer
    records an ``archive_overflow`` event once it has room again. The counter
    properties may be read from any thread.

    The writer drains the queue for at most ``batch_seconds`` or ``batch_rows``
    items and commits them in one transaction (WAL, ``synchronous=NORMAL``), so
    a crash or SIGKILL loses at most that uncommitted batch. A batch that fails
    to commit for a reason that can pass (disk full, I/O error) is kept and
    retried every ``retry_seconds`` (:attr:`disk_full`, :attr:`errors`,
    :attr:`last_error` say so meanwhile); the queue bounds what waits behind it.

    The constructor creates the file (mode 0o600) and the schema and inserts the
    session row on the calling thread with a short-lived connection, so a bad
    path fails at once; one writer per file at a time.

    Arrays passed in batches must not be modified afterwards (no copy is made).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        dictionary_sha256: str,
        dictionary_version: str,
        kind: str = "live",
        operator: str = "",
        queue_max: int = 200_000,
        batch_seconds: float = 0.2,
        batch_rows: int = 2_000,
        max_page_count: int | None = None,
        retry_seconds: float = 1.0,
    ) -> None:
        if queue_max < 1 or batch_rows < 1 or batch_seconds < 0 or retry_seconds <= 0:
            raise ValueError("queue_max, batch_rows > 0; batch/retry seconds >= 0")
        self.path = os.fspath(path)
        self._queue: queue.Queue[tuple[Any, ...]] = queue.Queue(queue_max)
        self._queue_max = queue_max
        self._batch_seconds = float(batch_seconds)
        self._batch_rows = int(batch_rows)
        self._retry_seconds = float(retry_seconds)
        self._max_page_count = max_page_count
        self._commands: collections.deque[tuple[str, int]] = collections.deque()
        self._wake = threading.Event()
        self._lifecycle = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._stop_requested = threading.Event()
        self._stop_deadline = math.inf
        self._stop_result: bool | None = None
        self._abandoned = False
        self._crashed = False
        # Producer-side drop accounting (any thread; guarded by _drop_lock).
        self._drop_lock = threading.Lock()
        self._dropped = 0
        self._dropped_samples = 0
        self._dropped_kinds: collections.Counter[str] = collections.Counter()
        self._drop_since: float | None = None
        self._reported = (0, 0, collections.Counter[str]())
        # Writer-side counters (written by the writer thread only).
        self._written_samples = 0
        self._written_frames = 0
        self._errors = 0
        self._lost = 0
        self._last_error = ""
        self._disk_full = False
        self._pending_count = 0
        self._failing_since: float | None = None
        self._failed_attempts = 0
        self._notes: list[tuple[float, str, str, int]] = []  # events to write
        # Writer-thread caches of row ids (restored when a transaction fails).
        self._source_ids: dict[str, int] = {}
        self._channel_ids: dict[str, int] = {}
        self._next_frame_id = 1
        self._max_variables = 999

        create_private_file(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise ArchiveError(f"{self.path}: cannot use WAL (journal_mode={mode})")
            conn.execute("BEGIN IMMEDIATE")
            _check_archive(conn, self.path)
            for statement in SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            cursor = conn.execute(
                "INSERT INTO sessions (started, kind, dictionary_sha256,"
                " dictionary_version, operator, console_version)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    kind,
                    dictionary_sha256,
                    dictionary_version,
                    operator,
                    installed_version(),
                ),
            )
            self.session_id = int(cursor.lastrowid or 0)
            conn.execute("COMMIT")
        finally:
            conn.close()

    # ----------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the ``archive-writer`` thread (once)."""
        with self._lifecycle:
            if self._thread is not None or self._closing:
                raise RuntimeError("ArchiveWriter.start() may be called only once")
            self._thread = threading.Thread(
                target=self._run, name="archive-writer", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Write everything queued so far, close the file and join the thread.

        Idempotent. Items put after ``stop`` are counted as dropped. If the
        queue cannot be written within ``timeout`` seconds (disk still full),
        the writer gives up, counts the abandoned items in :attr:`lost` and
        :attr:`last_error`, and ``False`` is returned.

        Returns
        -------
        bool
            ``True`` when every queued item was committed and the thread ended.
        """
        with self._lifecycle:
            if self._stop_result is not None:
                return self._stop_result
            self._closing = True
            thread = self._thread
            if thread is None:
                self._mark_ended_here()
                self._stop_result = True
                return True
            deadline = time.monotonic() + max(0.0, timeout)
            self._stop_deadline = deadline
            self._stop_requested.set()
            self._wake.set()
            if thread.is_alive():
                with contextlib.suppress(queue.Full):
                    remaining = max(0.0, deadline - time.monotonic())
                    self._queue.put((_STOP,), timeout=remaining)
            # Past the deadline the writer abandons the queue; give it a moment
            # to finish the statement it is in and close the connection.
            thread.join(max(0.0, deadline - time.monotonic()) + 2.0)
            done = not thread.is_alive()
            self._stop_result = done and not self._abandoned and not self._crashed
            return self._stop_result

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything put before this call is committed.

        Returns ``False`` if that did not happen within ``timeout`` seconds
        (writer not running, or writes failing). Not for the producer thread.
        """
        thread = self._thread
        if thread is None or not thread.is_alive() or self._closing:
            return self.backlog == 0 and self._thread is not None
        done = threading.Event()
        deadline = time.monotonic() + timeout
        try:
            self._queue.put((_FLUSH, done), timeout=timeout)
        except queue.Full:
            return False
        return done.wait(max(0.0, deadline - time.monotonic()))

    def set_max_page_count(self, pages: int) -> None:
        """Set ``PRAGMA max_page_count`` on the write connection (for tests).

        Runs on the writer thread through an out-of-band command queue, so it
        takes effect even while the data queue is full or a batch is waiting to
        be retried.
        """
        self._commands.append(("max_page_count", int(pages)))
        self._wake.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait((_WAKE,))

    def __enter__(self) -> ArchiveWriter:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ counters

    @property
    def backlog(self) -> int:
        """Items waiting: queued plus a failed batch kept for retry."""
        return self._queue.qsize() + self._pending_count

    @property
    def dropped(self) -> int:
        """Items not archived because the queue was full (or after stop)."""
        return self._dropped

    @property
    def dropped_samples(self) -> int:
        """Samples inside the dropped items."""
        return self._dropped_samples

    @property
    def written_samples(self) -> int:
        """Samples committed to the file by this writer."""
        return self._written_samples

    @property
    def written_frames(self) -> int:
        """Raw frames committed to the file by this writer."""
        return self._written_frames

    @property
    def errors(self) -> int:
        """Failed commits and unwritable items since the writer started."""
        return self._errors

    @property
    def lost(self) -> int:
        """Items the writer took from the queue but could not write."""
        return self._lost

    @property
    def last_error(self) -> str:
        """The most recent error message, or ``""``."""
        return self._last_error

    @property
    def disk_full(self) -> bool:
        """Whether the last commit failed because the disk (or quota) is full."""
        return self._disk_full

    @property
    def retrying(self) -> bool:
        """Whether a failed batch is waiting to be retried."""
        return self._failing_since is not None

    @property
    def alive(self) -> bool:
        """Whether the writer thread is running."""
        return self._thread is not None and self._thread.is_alive()

    # -------------------------------------------------------- producer API

    def _drop(self, tag: int, samples: int) -> None:
        with self._drop_lock:
            self._dropped += 1
            self._dropped_samples += samples
            self._dropped_kinds[_KIND_NAMES[tag]] += 1
            if self._drop_since is None:
                self._drop_since = time.time()

    def _put(self, item: tuple[Any, ...]) -> None:
        if self._closing:
            self._drop(item[0], 0)
            return
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._drop(item[0], 0)

    def put_frame(
        self, received: float, frame: Frame, body: bytes, batches: Sequence[Batch]
    ) -> None:
        """Queue a raw frame body and its decoded channel batches.

        ``received`` is the arrival time (UTC s); ``batches`` holds
        ``("source.channel", times, values)`` with nulls already removed.
        """
        if self._closing:
            self._drop(_FRAME, sum(len(b[1]) for b in batches))
            return
        try:
            self._queue.put_nowait((_FRAME, received, frame, body, batches))
        except queue.Full:
            self._drop(_FRAME, sum(len(b[1]) for b in batches))

    def put_samples(self, batches: Sequence[Batch]) -> None:
        """Queue derived samples (no raw frame), e.g. dose channels."""
        if self._closing:
            self._drop(_SAMPLES, sum(len(b[1]) for b in batches))
            return
        try:
            self._queue.put_nowait((_SAMPLES, batches))
        except queue.Full:
            self._drop(_SAMPLES, sum(len(b[1]) for b in batches))

    def put_channel(
        self,
        key: str,
        *,
        unit: str,
        declared: bool,
        derived: bool,
        states: dict[str, int],
    ) -> None:
        """Queue channel metadata; call again when an enum gains a state."""
        states_json = json.dumps(dict(states), ensure_ascii=False)
        self._put((_CHANNEL, key, unit, bool(declared), bool(derived), states_json))

    def put_rejected(
        self,
        received: float,
        topic: bytes,
        body: bytes,
        source: str | None,
        reason: str,
        detail: str,
    ) -> None:
        """Queue a rejected message, body cut to ``MAX_REJECTED_BODY`` bytes."""
        length = len(body)
        kept = bytes(body[:MAX_REJECTED_BODY]) if length > MAX_REJECTED_BODY else body
        self._put(
            (_REJECTED, received, bytes(topic), kept, length, source, reason, detail)
        )

    def put_event(
        self,
        time: float,
        source: str | None,
        kind: str,
        detail: str,
        severity: int = 0,
        *,
        count: int | None = None,
    ) -> None:
        """Queue an event: gap, publisher restart, link up/down, SPE, errors.

        A NaN ``time`` (no sample time known) is replaced by the wall clock.

        For ``kind="gap"`` pass the number of missing frames as ``count``; if
        omitted it is read from ``detail`` (``"missing 5"``, ``"5 missed"``).
        """
        if count is None and kind == "gap":
            count = missing_count(detail)
        when = time if time == time else _wall_clock()  # NaN: "now"
        self._put((_EVENT, when, source, kind, detail, int(severity), count))

    def put_transition(
        self,
        time: float,
        key: str,
        severity: int,
        previous: int,
        value: float,
        threshold: float | None,
        kind: str,
    ) -> None:
        """Queue a limit transition (severity change of one channel)."""
        self._put(
            (
                _TRANSITION,
                time,
                key,
                int(severity),
                int(previous),
                value,
                threshold,
                kind,
            )
        )

    def put_action(
        self, time: float, operator: str, action: str, target: str, comment: str
    ) -> None:
        """Queue an operator action (ack, shelve, note, silence, shelter...)."""
        self._put((_ACTION, time, operator, action, target, comment))

    def put_bookmark(self, time: float, author: str, text: str) -> None:
        """Queue a bookmark."""
        self._put((_BOOKMARK, time, author, text))

    # --------------------------------------------------------- writer thread

    def _mark_ended_here(self) -> None:
        with (
            contextlib.suppress(sqlite3.Error),
            contextlib.closing(self._connect()) as conn,
        ):
            conn.execute(
                "UPDATE sessions SET ended = ? WHERE id = ?",
                (time.time(), self.session_id),
            )

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, timeout=5.0, cached_statements=256
        )
        self._max_variables = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA journal_size_limit=67108864")
        return conn

    def _run(self) -> None:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            self._crashed = True
            self._fail(f"cannot open {self.path}: {exc}")
            return
        try:
            self._load_ids(conn)
            if self._max_page_count is not None:
                conn.execute(f"PRAGMA max_page_count={int(self._max_page_count)}")
            self._loop(conn)
            self._finish(conn)
        except Exception as exc:  # a bug: keep the message where the GUI shows it
            self._crashed = True
            self._fail(f"archive writer stopped: {type(exc).__name__}: {exc}")
        finally:
            conn.close()

    def _fail(self, message: str) -> None:
        self._errors += 1
        self._last_error = message

    def _load_ids(self, conn: sqlite3.Connection) -> None:
        self._source_ids = dict(conn.execute("SELECT name, id FROM sources"))
        self._channel_ids = dict(conn.execute("SELECT key, id FROM channels"))
        last = conn.execute("SELECT max(id) FROM frames").fetchone()[0]
        self._next_frame_id = int(last or 0) + 1

    def _run_commands(self, conn: sqlite3.Connection) -> None:
        while self._commands:
            name, value = self._commands.popleft()
            if name == "max_page_count":
                conn.execute(f"PRAGMA max_page_count={int(value)}")

    def _loop(self, conn: sqlite3.Connection) -> None:
        pending: list[tuple[Any, ...]] = []
        flushes: list[threading.Event] = []
        stop_seen = False
        while True:
            self._wake.clear()
            self._run_commands(conn)
            if self._stop_requested.is_set() and time.monotonic() > self._stop_deadline:
                self._abandon(conn, pending)
                return
            if not pending and not stop_seen:
                stop_seen = self._collect(pending, flushes)
            self._pending_count = len(pending)
            if pending or self._has_notes():
                if not self._commit(conn, pending):
                    self._pending_count = len(pending)
                    wait = self._retry_seconds
                    if self._stop_requested.is_set():
                        wait = min(wait, self._stop_deadline - time.monotonic())
                    self._wake.wait(max(0.0, wait))
                    continue
                pending.clear()
                self._pending_count = 0
            for event in flushes:
                event.set()
            flushes.clear()
            if stop_seen:
                return

    def _collect(
        self, pending: list[tuple[Any, ...]], flushes: list[threading.Event]
    ) -> bool:
        """Move up to one batch from the queue into ``pending``; True on stop."""
        q = self._queue
        try:
            item = q.get(timeout=1.0)
        except queue.Empty:
            return False
        deadline = time.monotonic() + self._batch_seconds
        limit = self._batch_rows
        while True:
            tag = item[0]
            if tag == _STOP:
                return True
            if tag == _FLUSH:
                flushes.append(item[1])
            elif tag != _WAKE:
                pending.append(item)
                if len(pending) >= limit:
                    return False
            try:
                item = q.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or flushes or self._commands:
                    return False
                try:
                    item = q.get(timeout=remaining)
                except queue.Empty:
                    return False

    def _has_notes(self) -> bool:
        return bool(self._notes) or self._dropped != self._reported[0]

    def _commit(self, conn: sqlite3.Connection, items: list[tuple[Any, ...]]) -> bool:
        """Write ``items`` in one transaction; True when none is left to retry.

        On a passing failure (disk full, I/O) ``items`` stays as it is. An item
        that cannot be written at all (a bug, bad arrays) is isolated by
        writing the items one by one, then discarded with an error event.
        """
        try:
            self._transaction(conn, items)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in _RETRYABLE:
                self._note_failure(exc)
                return False
            return self._isolate(conn, items, exc)
        except Exception as exc:
            return self._isolate(conn, items, exc)
        self._note_success()
        return True

    def _isolate(
        self, conn: sqlite3.Connection, items: list[tuple[Any, ...]], exc: Exception
    ) -> bool:
        if len(items) <= 1:
            what = _describe(items[0]) if items else "archive bookkeeping"
            message = f"could not archive {what}: {type(exc).__name__}: {exc}"
            self._fail(message)
            if items:
                self._lost += 1
                items.clear()
                self._notes.append((time.time(), "archive_error", message, 1))
            else:  # the bookkeeping rows themselves fail: do not loop on them
                self._notes.clear()
                self._note_drops_reported()
            return True
        if self._has_notes() and not self._commit(conn, []):
            return False
        while items:
            one = [items[0]]
            if not self._commit(conn, one):
                return False
            del items[0]
        return True

    def _note_failure(self, exc: sqlite3.Error) -> None:
        self._errors += 1
        self._last_error = f"archive write failed, will retry: {exc}"
        self._disk_full = getattr(exc, "sqlite_errorcode", 0) & 0xFF == _SQLITE_FULL
        self._failed_attempts += 1
        if self._failing_since is None:
            self._failing_since = time.time()

    def _note_success(self) -> None:
        if self._failing_since is not None:
            since = self._failing_since
            detail = (
                f"archive writes failed for {time.time() - since:.1f} s "
                f"({self._failed_attempts} attempts; last: {self._last_error}); "
                "recovered, the held batch was written"
            )
            self._notes.append((since, "archive_recovered", detail, 0))
            self._failing_since = None
            self._failed_attempts = 0
        self._disk_full = False

    def _note_drops_reported(self) -> None:
        with self._drop_lock:
            self._reported = (
                self._dropped,
                self._dropped_samples,
                collections.Counter(self._dropped_kinds),
            )
            self._drop_since = None

    def _drop_event(self) -> tuple[float, str, int, tuple[int, int, Any]] | None:
        with self._drop_lock:
            dropped, samples = self._dropped, self._dropped_samples
            if dropped == self._reported[0]:
                return None
            kinds = self._dropped_kinds - self._reported[2]
            since = self._drop_since if self._drop_since is not None else time.time()
            snapshot = (dropped, samples, collections.Counter(self._dropped_kinds))
        n = dropped - self._reported[0]
        what = ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items()))
        detail = (
            f"archive queue full ({self._queue_max} items): {n} items not archived "
            f"({what}; {samples - self._reported[1]} samples); "
            f"{dropped} dropped in this session"
        )
        return since, detail, n, snapshot

    def _transaction(
        self, conn: sqlite3.Connection, items: list[tuple[Any, ...]]
    ) -> None:
        session = self.session_id
        saved = (dict(self._source_ids), dict(self._channel_ids), self._next_frame_id)
        frames: list[tuple[Any, ...]] = []
        segments: list[tuple[Any, ...]] = []
        stats: dict[int, list[float]] = {}
        sources: dict[int, list[float]] = {}
        events: list[tuple[Any, ...]] = []
        transitions: list[tuple[Any, ...]] = []
        actions: list[tuple[Any, ...]] = []
        bookmarks: list[tuple[Any, ...]] = []
        rejected: list[tuple[Any, ...]] = []
        drops = self._drop_event()
        try:
            conn.execute("BEGIN IMMEDIATE")
            for item in items:
                tag = item[0]
                if tag == _FRAME:
                    _, received, frame, body, batches = item
                    sid = self._source_id(conn, frame, received)
                    fid = self._next_frame_id
                    self._next_frame_id += 1
                    times = frame.times
                    rows = int(times.shape[0])
                    t_first = float(times.min()) if rows else None
                    t_last = float(times.max()) if rows else None
                    frames.append(
                        (fid, session, sid, frame.seq, received, t_first, t_last,
                         rows, frame.encoding, body)
                    )  # fmt: skip
                    seen = sources.get(sid)
                    if seen is None:
                        sources[sid] = [received, 1.0]
                    else:
                        seen[0] = max(seen[0], received)
                        seen[1] += 1
                    self._segments(conn, batches, fid, segments, stats)
                elif tag == _SAMPLES:
                    self._segments(conn, item[1], None, segments, stats)
                elif tag == _CHANNEL:
                    _, key, unit, declared, derived, states_json = item
                    source, name = _split_key(key)
                    row = conn.execute(
                        _UPSERT_CHANNEL,
                        (key, source, name, unit, declared, derived, states_json),
                    ).fetchone()
                    self._channel_ids[key] = int(row[0])
                elif tag == _EVENT:
                    events.append((session, *item[1:]))
                elif tag == _TRANSITION:
                    transitions.append((session, *item[1:]))
                elif tag == _ACTION:
                    actions.append((session, *item[1:]))
                elif tag == _BOOKMARK:
                    bookmarks.append((session, *item[1:]))
                elif tag == _REJECTED:
                    _, received, topic, body, length, source, reason, detail = item
                    rejected.append(
                        (session, received, topic, source, reason, detail, length, body)
                    )
                else:
                    raise ValueError(f"unknown archive item tag {tag!r}")
            for when, kind, detail, count in self._notes:
                sev = int(Severity.WARNING) if kind == "archive_error" else 0
                events.append((session, when, None, kind, detail, sev, count))
            if drops is not None:
                when, detail, n, _ = drops
                sev = int(Severity.WARNING)
                events.append((session, when, None, "archive_overflow", detail, sev, n))
            write = self._write_rows
            write(conn, _INSERT_FRAME, frames)
            write(conn, _INSERT_SEGMENT, segments)
            write(
                conn,
                _UPDATE_CHANNEL_STATS,
                [(c, int(s[0]), s[1], s[2], s[3]) for c, s in stats.items()],
            )
            write(
                conn,
                _UPDATE_SOURCES,
                [(sid, s[0], int(s[1])) for sid, s in sources.items()],
            )
            write(conn, _INSERT_EVENT, events)
            write(conn, _INSERT_TRANSITION, transitions)
            write(conn, _INSERT_ACTION, actions)
            write(conn, _INSERT_BOOKMARK, bookmarks)
            write(conn, _INSERT_REJECTED, rejected)
            conn.execute("COMMIT")
        except BaseException:
            self._source_ids, self._channel_ids, self._next_frame_id = saved
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        self._notes.clear()
        if drops is not None:
            with self._drop_lock:
                self._reported = drops[3]
                if self._dropped == drops[3][0]:
                    self._drop_since = None
        self._written_samples += int(sum(s[0] for s in stats.values()))
        self._written_frames += len(frames)

    def _write_rows(
        self, conn: sqlite3.Connection, template: str, rows: list[tuple[Any, ...]]
    ) -> None:
        """Write ``rows`` with as few statements as possible (multi-row VALUES).

        Python's sqlite3 releases the GIL around every ``sqlite3_step``, and
        ``executemany`` steps once per row. While another thread is busy in
        Python (the subscriber decoding) each re-acquisition can wait for the
        5 ms switch interval: measured, the writer then fell from 5.3 M to
        0.3 M samples/s. One statement per up to 4096 rows keeps those
        hand-overs rare. Row counts per statement are powers of two, so the
        statement cache holds every form that is used.
        """
        if not rows:
            return
        ncols = len(rows[0])
        cap = min(_MAX_STATEMENT_ROWS, self._max_variables // ncols)
        cap = 1 << (cap.bit_length() - 1)
        done, total = 0, len(rows)
        while done < total:
            left = total - done
            k = cap if left >= cap else 1 << (left.bit_length() - 1)
            chunk = rows[done : done + k]
            conn.execute(_values_sql(template, ncols, k), [x for r in chunk for x in r])
            done += k

    def _source_id(
        self, conn: sqlite3.Connection, frame: Frame, received: float
    ) -> int:
        sid = self._source_ids.get(frame.source)
        if sid is None:
            cursor = conn.execute(
                "INSERT INTO sources (name, family, first_seen, last_seen)"
                " VALUES (?, ?, ?, ?)",
                (frame.source, frame.family, received, received),
            )
            sid = int(cursor.lastrowid or 0)
            self._source_ids[frame.source] = sid
        return sid

    def _channel_id(self, conn: sqlite3.Connection, key: str) -> int:
        cid = self._channel_ids.get(key)
        if cid is None:
            source, name = _split_key(key)
            conn.execute(
                "INSERT INTO channels (key, source, name) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO NOTHING",
                (key, source, name),
            )
            row = conn.execute("SELECT id FROM channels WHERE key = ?", (key,))
            cid = int(row.fetchone()[0])
            self._channel_ids[key] = cid
        return cid

    def _segments(
        self,
        conn: sqlite3.Connection,
        batches: Sequence[Batch],
        frame_id: int | None,
        out: list[tuple[Any, ...]],
        stats: dict[int, list[float]],
    ) -> None:
        for key, times, values in batches:
            n = len(times)
            if n == 0:
                continue
            if len(values) != n:
                raise ValueError(f"{key}: {n} times but {len(values)} values")
            cid = self._channel_id(conn, key)
            t = np.ascontiguousarray(times, dtype="<f8")
            v = np.ascontiguousarray(values, dtype="<f8")
            if n == 1:
                lo = hi = float(t[0])
            else:
                lo, hi = float(t.min()), float(t.max())
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise ValueError(f"{key}: sample times must be finite")
            out.append((cid, frame_id, lo, hi, n, t.tobytes(), v.tobytes()))
            s = stats.get(cid)
            if s is None:
                stats[cid] = [n, lo, hi, hi - lo]
            else:
                s[0] += n
                s[1] = min(s[1], lo)
                s[2] = max(s[2], hi)
                s[3] = max(s[3], hi - lo)

    def _abandon(
        self, conn: sqlite3.Connection, pending: list[tuple[Any, ...]]
    ) -> None:
        left = len(pending) + sum(
            1 for item in _drain(self._queue) if item[0] not in (_FLUSH, _STOP, _WAKE)
        )
        self._pending_count = 0
        if left:
            self._abandoned = True
            self._lost += left
            self._fail(
                f"archive stopped with {left} items unwritten ({self._last_error})"
            )
            self._notes.append((time.time(), "archive_error", self._last_error, left))
            with contextlib.suppress(Exception):
                self._commit(conn, [])
        self._finish(conn)

    def _finish(self, conn: sqlite3.Connection) -> None:
        with contextlib.suppress(sqlite3.Error):
            conn.execute(
                "UPDATE sessions SET ended = ? WHERE id = ?",
                (time.time(), self.session_id),
            )
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA optimize")


@functools.lru_cache(maxsize=256)
def _values_sql(template: str, ncols: int, rows: int) -> str:
    one = "(" + ", ".join("?" * ncols) + ")"
    return template.replace("%VALUES%", "VALUES " + ", ".join([one] * rows))


def _drain(q: queue.Queue[tuple[Any, ...]]) -> Iterator[tuple[Any, ...]]:
    while True:
        try:
            yield q.get_nowait()
        except queue.Empty:
            return


def _describe(item: tuple[Any, ...]) -> str:
    tag = item[0]
    if tag == _FRAME:
        frame = item[2]
        return f"frame {frame.topic} seq {frame.seq}"
    return f"one of the {_KIND_NAMES.get(tag, 'items')}"


# ------------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One archived channel: metadata and the extent of its samples."""

    key: str
    source: str
    name: str
    unit: str
    declared: bool
    derived: bool
    states: dict[str, int]
    samples: int
    t_first: float | None
    t_last: float | None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One recording session (a writer's lifetime); ``ended`` None = crashed."""

    id: int
    started: float
    ended: float | None
    kind: str
    dictionary_sha256: str
    dictionary_version: str
    operator: str
    console_version: str


@dataclass(frozen=True, slots=True)
class EventRecord:
    """An archived event (gap, restart, link, archive_overflow, SPE, ...)."""

    time: float
    source: str | None
    kind: str
    detail: str
    severity: int
    count: int | None
    session: int


@dataclass(frozen=True, slots=True)
class TransitionRecord:
    """An archived limit transition."""

    time: float
    key: str
    severity: int
    previous: int
    value: float | None
    threshold: float | None
    kind: str
    session: int


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """An archived operator action."""

    time: float
    operator: str
    action: str
    target: str
    comment: str
    session: int


@dataclass(frozen=True, slots=True)
class BookmarkRecord:
    """An archived bookmark."""

    time: float
    author: str
    text: str
    session: int


@dataclass(frozen=True, slots=True)
class RejectedRecord:
    """A rejected message as received (``body`` cut to ``MAX_REJECTED_BODY``)."""

    received: float
    topic: bytes
    source: str | None
    reason: str
    detail: str
    length: int
    body: bytes
    session: int


def iso_utc(t: float) -> str | None:
    """Format UTC seconds as ``2024-11-24T01:02:03.456789Z`` (None if impossible)."""
    try:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (OverflowError, ValueError, OSError):
        return None


_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def csv_text(text: str) -> str:
    """Quote a text field for CSV, defusing spreadsheet formulas (OWASP).

    Fields starting with ``= + - @``, tab or CR get a leading ``'`` so a
    spreadsheet shows them as text; every text field is double-quoted.
    """
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return '"' + text.replace('"', '""') + '"'


def _json_text(value: Any) -> str:
    # <, > and & only occur inside JSON strings, so escaping them keeps the
    # document identical to a JSON parser while making it inert in HTML.
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class ArchiveReader:
    """Read-only queries on an archive file; safe to call from any thread.

    Holds one ``mode=ro`` connection, used under a lock by whichever thread
    calls (typically the history-query worker). WAL lets it read committed
    data while an ``ArchiveWriter`` is still writing; each call sees the file
    as of its start.
    """

    _SEGMENT_PAGE: Final = 2_000

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        resolved = Path(self.path).resolve()
        if not resolved.is_file():
            raise FileNotFoundError(f"no archive at {self.path}")
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            f"{resolved.as_uri()}?mode=ro",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            _check_archive(self._conn, self.path)
            # sqlite-utils reads the small tables: rows come back as dicts keyed
            # by column name, and the file stays usable with its CLI; sample
            # segments are read with raw SQL for speed.
            self._db = sqlite_utils.Database(
                self._conn, recursive_triggers=False, execute_plugins=False
            )
            if not self._db["samples"].exists():
                raise ArchiveError(f"{self.path} has no archive tables")
        except BaseException:
            self._conn.close()
            raise

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._db.query(sql, params))

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[None]:
        """Hold the lock and one read transaction: queries agree with each other."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                self._conn.execute("COMMIT")

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------- summary

    def sessions(self) -> list[SessionRecord]:
        """Return every session, oldest first."""
        return [
            SessionRecord(**r) for r in self._rows("SELECT * FROM sessions ORDER BY id")
        ]

    def info(self) -> dict[str, Any]:
        """Summarize the archive: per-source counts, totals, sessions, extent.

        ``sources[src]`` has ``messages`` (archived frames), ``samples``
        (archived non-null values of its channels, derived included), ``gaps``
        (gap events), ``missed`` (frames the gap events say were missing) and
        ``rejected``. ``start``/``end`` are the first/last sample time (None if
        there are no samples).
        """
        with self._snapshot():
            return self._info()

    def _info(self) -> dict[str, Any]:
        per: dict[str, dict[str, int]] = {}

        def entry(name: str) -> dict[str, int]:
            return per.setdefault(
                name,
                {"messages": 0, "samples": 0, "gaps": 0, "rejected": 0, "missed": 0},
            )

        for r in self._rows("SELECT name, frames FROM sources"):
            entry(r["name"])["messages"] = r["frames"]
        for r in self._rows(
            "SELECT source, sum(samples) AS n FROM channels GROUP BY source"
        ):
            entry(r["source"])["samples"] = int(r["n"] or 0)
        for r in self._rows(
            "SELECT source, count(*) AS gaps, sum(ifnull(count, 0)) AS missed"
            " FROM events WHERE kind = 'gap' AND source IS NOT NULL GROUP BY source"
        ):
            e = entry(r["source"])
            e["gaps"], e["missed"] = r["gaps"], int(r["missed"] or 0)
        for r in self._rows(
            "SELECT source, count(*) AS n FROM rejected"
            " WHERE source IS NOT NULL GROUP BY source"
        ):
            entry(r["source"])["rejected"] = r["n"]
        extent = self._rows(
            "SELECT min(t_first) AS start, max(t_last) AS end, sum(samples) AS n,"
            " count(*) AS channels FROM channels"
        )[0]
        return {
            "sources": dict(sorted(per.items())),
            "rejected": self._one("SELECT count(*) FROM rejected"),
            "channels": extent["channels"],
            "samples": int(extent["n"] or 0),
            "frames": self._one("SELECT count(*) FROM frames"),
            "events": self._one("SELECT count(*) FROM events"),
            "sessions": [asdict(s) for s in self.sessions()],
            "start": extent["start"],
            "end": extent["end"],
        }

    def channels(self) -> list[ChannelInfo]:
        """Return every archived channel, sorted by key."""
        return [
            _channel_info(r) for r in self._rows("SELECT * FROM channels ORDER BY key")
        ]

    def channel(self, key: str) -> ChannelInfo:
        """Return one channel's metadata; raise KeyError if it is not archived."""
        rows = self._rows("SELECT * FROM channels WHERE key = ?", (key,))
        if not rows:
            raise KeyError(key)
        return _channel_info(rows[0])

    # -------------------------------------------------------------- samples

    def _channel_span(self, key: str) -> tuple[int, float]:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, max_span FROM channels WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            raise KeyError(key)
        return int(row[0]), float(row[1])

    def channel_window(
        self, key: str, t0: float | None, t1: float | None
    ) -> tuple[FloatArray, FloatArray]:
        """Return ``(times, values)`` of one channel with ``t0 <= time < t1``.

        Sorted by time (stable: equal times keep their arrival order). A
        segment is found through the (channel_id, t_first) index: only
        segments starting in ``[t0 - max_span, t1)`` are read, where
        ``max_span`` is the channel's longest segment. ``None`` leaves a side
        open. Raises KeyError for a channel that was never archived.
        """
        cid, span = self._channel_span(key)
        t0, t1 = _bounds(t0, t1)
        with self._lock:
            rows = self._conn.execute(
                'SELECT times, "values" FROM samples WHERE channel_id = ?'
                " AND t_first >= ? AND t_first < ? AND t_last >= ? ORDER BY t_first",
                (cid, t0 - span - _SPAN_SLACK, t1, t0),
            ).fetchall()
        return _clip(rows, t0, t1)

    def _iter_segments(
        self, cid: int, span: float, t0: float, t1: float
    ) -> Iterator[tuple[FloatArray, FloatArray]]:
        """Yield sorted, clipped chunks of one channel, pages of segments each.

        Samples of later segments are never earlier than their ``t_first``,
        so everything before the last ``t_first`` of a page is final; the rest
        is carried into the next page.
        """
        after = (t0 - span - _SPAN_SLACK, -1)
        carry_t: FloatArray = np.empty(0)
        carry_v: FloatArray = np.empty(0)
        while True:
            with self._lock:
                rows = self._conn.execute(
                    'SELECT t_first, rowid, times, "values" FROM samples'
                    " WHERE channel_id = ? AND (t_first, rowid) > (?, ?)"
                    " AND t_first < ? AND t_last >= ? ORDER BY t_first, rowid LIMIT ?",
                    (cid, after[0], after[1], t1, t0, self._SEGMENT_PAGE),
                ).fetchall()
            if not rows:
                if carry_t.size:
                    yield carry_t, carry_v
                return
            after = (rows[-1][0], rows[-1][1])
            t, v = _clip([(r[2], r[3]) for r in rows], t0, t1)
            t, v = np.concatenate((carry_t, t)), np.concatenate((carry_v, v))
            order = np.argsort(t, kind="stable")
            t, v = t[order], v[order]
            final = np.searchsorted(t, after[0], side="left")
            if final:
                yield t[:final], v[:final]
            carry_t, carry_v = t[final:], v[final:]

    def export(
        self,
        key: str,
        t0: float | None,
        t1: float | None,
        fmt: Literal["csv", "json"],
        out: TextIO,
    ) -> int:
        """Write one channel's samples in ``[t0, t1)`` to ``out``; return the count.

        CSV: header ``time,channel,value``; time as ISO-8601 UTC with
        microseconds and ``Z``; enum channels give the state name; text fields
        are quoted and formula-like text (``= + - @``) gets a leading ``'``.
        JSON: ``{"channel", "unit", "states", "start", "end", "samples":
        [{"time", "t", "value"[, "code"]}]}`` with ``<>&`` escaped. ``None``
        leaves a side of the range open.
        Non-finite values are written empty (CSV) or null (JSON).
        """
        if fmt not in ("csv", "json"):
            raise ValueError(f"unknown export format {fmt!r} (csv or json)")
        info = self.channel(key)
        cid, span = self._channel_span(key)
        t0, t1 = _bounds(t0, t1)
        names: dict[float, str] = {}
        for name, code in info.states.items():
            names.setdefault(float(code), name)
        count = 0
        if fmt == "csv":
            out.write("time,channel,value\n")
            key_field = csv_text(key)
            for times, values in self._iter_segments(cid, span, t0, t1):
                lines = []
                for t, v in zip(times.tolist(), values.tolist(), strict=True):
                    stamp = iso_utc(t) or repr(t)
                    state = names.get(v)
                    if state is not None:
                        field = csv_text(state)
                    elif math.isfinite(v):
                        field = repr(v)
                    else:
                        field = ""
                    lines.append(f"{stamp},{key_field},{field}\n")
                out.write("".join(lines))
                count += len(lines)
            return count
        head = {
            "channel": key,
            "unit": info.unit,
            "states": info.states,
            "start": iso_utc(t0),
            "end": iso_utc(t1),
        }
        out.write(_json_text(head)[:-1] + ', "samples": [')
        for times, values in self._iter_segments(cid, span, t0, t1):
            parts = []
            for t, v in zip(times.tolist(), values.tolist(), strict=True):
                sample: dict[str, Any] = {"time": iso_utc(t), "t": t}
                state = names.get(v)
                if state is not None:
                    sample["value"] = state
                    sample["code"] = int(v) if v.is_integer() else v
                else:
                    sample["value"] = v if math.isfinite(v) else None
                parts.append(_json_text(sample))
            if parts:
                out.write((",\n" if count else "\n") + ",\n".join(parts))
                count += len(parts)
        out.write("\n]}\n")
        return count

    # --------------------------------------------------------------- frames

    def iter_frames(
        self, t0: float | None = None, t1: float | None = None
    ) -> Iterator[tuple[float, bytes, bytes]]:
        """Yield ``(received, topic, body)`` in order of first sample time.

        Frames without samples are placed at their arrival time. ``t0``/``t1``
        select frames whose first sample time is in ``[t0, t1)``. Reads pages
        of frames, so a replay of a large archive stays small in memory.
        """
        lo, hi = _bounds(t0, t1)
        after: tuple[float, int] = (lo, -1)
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT ifnull(f.t_first, f.received), f.id, f.received,"
                    " s.family || '.' || s.name, f.body"
                    " FROM frames AS f JOIN sources AS s ON s.id = f.source_id"
                    # the redundant ">=" lets the index range start at the page
                    " WHERE ifnull(f.t_first, f.received) >= ?"
                    " AND (ifnull(f.t_first, f.received), f.id) > (?, ?)"
                    " AND ifnull(f.t_first, f.received) < ?"
                    " ORDER BY ifnull(f.t_first, f.received), f.id LIMIT 500",
                    (after[0], after[0], after[1], hi),
                ).fetchall()
            if not rows:
                return
            for _, _, received, topic, body in rows:
                yield received, topic.encode("utf-8"), bytes(body)
            after = (rows[-1][0], rows[-1][1])

    # ----------------------------------------------------- event-like tables

    @staticmethod
    def _range(
        column: str, t0: float | None, t1: float | None
    ) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if t0 is not None:
            clauses.append(f"{column} >= ?")
            params.append(float(t0))
        if t1 is not None:
            clauses.append(f"{column} < ?")
            params.append(float(t1))
        return " AND ".join(clauses) or "1", params

    def events(
        self,
        t0: float | None = None,
        t1: float | None = None,
        *,
        source: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> list[EventRecord]:
        """Return events with ``t0 <= time < t1``, oldest first."""
        where, params = self._range("time", t0, t1)
        if source is not None:
            where += " AND source = ?"
            params.append(source)
        if kind is not None:
            where += " AND kind = ?"
            params.append(kind)
        sql = (
            "SELECT time, source, kind, detail, severity, count, session FROM events"
            f" WHERE {where} ORDER BY time, id"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [EventRecord(**r) for r in self._rows(sql, params)]

    def transitions(
        self,
        t0: float | None = None,
        t1: float | None = None,
        *,
        key: str | None = None,
    ) -> list[TransitionRecord]:
        """Return limit transitions with ``t0 <= time < t1``, oldest first."""
        where, params = self._range("time", t0, t1)
        if key is not None:
            where += " AND channel = ?"
            params.append(key)
        return [
            TransitionRecord(**r)
            for r in self._rows(
                "SELECT time, channel AS key, severity, previous, value, threshold,"
                " kind, session FROM limit_transitions"
                f" WHERE {where} ORDER BY time, id",
                params,
            )
        ]

    def actions(
        self, t0: float | None = None, t1: float | None = None
    ) -> list[ActionRecord]:
        """Return operator actions with ``t0 <= time < t1``, oldest first."""
        where, params = self._range("time", t0, t1)
        return [
            ActionRecord(**r)
            for r in self._rows(
                "SELECT time, operator, action, target, comment, session"
                f" FROM operator_actions WHERE {where} ORDER BY time, id",
                params,
            )
        ]

    def bookmarks(self) -> list[BookmarkRecord]:
        """Return every bookmark, oldest first."""
        return [
            BookmarkRecord(**r)
            for r in self._rows(
                "SELECT time, author, text, session FROM bookmarks ORDER BY time, id"
            )
        ]

    def rejected(
        self,
        t0: float | None = None,
        t1: float | None = None,
        *,
        source: str | None = None,
    ) -> list[RejectedRecord]:
        """Return rejected messages received in ``[t0, t1)``, oldest first."""
        where, params = self._range("received", t0, t1)
        if source is not None:
            where += " AND source = ?"
            params.append(source)
        return [
            RejectedRecord(
                **{**r, "topic": bytes(r["topic"]), "body": bytes(r["body"])}
            )
            for r in self._rows(
                "SELECT received, topic, source, reason, detail, length, body, session"
                f" FROM rejected WHERE {where} ORDER BY received, id",
                params,
            )
        ]


def _bounds(t0: float | None, t1: float | None) -> tuple[float, float]:
    return (
        -math.inf if t0 is None else float(t0),
        math.inf if t1 is None else float(t1),
    )


def _channel_info(r: dict[str, Any]) -> ChannelInfo:
    return ChannelInfo(
        key=r["key"],
        source=r["source"],
        name=r["name"],
        unit=r["unit"],
        declared=bool(r["declared"]),
        derived=bool(r["derived"]),
        states=json.loads(r["states"]),
        samples=r["samples"],
        t_first=r["t_first"],
        t_last=r["t_last"],
    )


def _clip(
    rows: Sequence[tuple[bytes, bytes]], t0: float, t1: float
) -> tuple[FloatArray, FloatArray]:
    """Join segment blobs into sorted arrays clipped to ``[t0, t1)``."""
    if not rows:
        return np.empty(0), np.empty(0)
    times = np.frombuffer(b"".join(r[0] for r in rows), dtype="<f8")
    values = np.frombuffer(b"".join(r[1] for r in rows), dtype="<f8")
    keep = (times >= t0) & (times < t1)
    t = times[keep].astype(np.float64, copy=False)
    v = values[keep].astype(np.float64, copy=False)
    if t.size > 1 and bool((t[1:] < t[:-1]).any()):
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
    return t, v


# --------------------------------------------------------------- benchmarks


def _bench_frames(
    n_frames: int, channels: int, rows: int, t_start: float = 1.7e9
) -> list[tuple[float, Frame, bytes, list[Batch]]]:
    names = [f"ch{i:02d}" for i in range(channels)]
    base = np.arange(rows, dtype=np.float64) * 0.01
    parts = encode_frame(
        "bench", "bench-1", 0, t_start + base, {n: base for n in names}, "msgpack"
    )
    body = parts[1]
    template = decode_frame(parts)
    rng = np.random.default_rng(0)
    out = []
    for i in range(n_frames):
        t = t_start + i * rows * 0.01 + base
        frame = Frame(
            template.family, template.source, i, t, template.columns, "msgpack"
        )
        batches = [(f"bench-1.{n}", t, rng.normal(size=rows)) for n in names]
        out.append((t[0], frame, body, batches))
    return out


def bench_insert(
    n_samples: int = 1_000_000,
    *,
    channels: int = 10,
    rows_per_frame: int = 100,
    directory: str | None = None,
) -> float:
    """Return the archive writer's own rate in samples/s (queue pre-filled).

    Frames of ``channels`` x ``rows_per_frame`` samples (with a real msgpack
    body) are queued before the writer starts, so the time from ``start()`` to
    the end of ``stop()`` is the writer thread alone: segmenting, inserting,
    committing (WAL, synchronous=NORMAL), closing.
    """
    per_frame = channels * rows_per_frame
    n_frames = max(1, n_samples // per_frame)
    frames = _bench_frames(n_frames, channels, rows_per_frame)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        writer = ArchiveWriter(
            Path(tmp) / "bench.sqlite",
            dictionary_sha256="bench",
            dictionary_version="bench",
            kind="bench",
            queue_max=n_frames + 1,
        )
        for received, frame, body, batches in frames:
            writer.put_frame(received, frame, body, batches)
        t0 = time.perf_counter()
        writer.start()
        ok = writer.stop(timeout=600.0)
        elapsed = time.perf_counter() - t0
        if not ok or writer.written_samples != n_frames * per_frame:
            raise RuntimeError(f"bench_insert: writer failed ({writer.last_error})")
    return n_frames * per_frame / elapsed


def bench_query(
    n_samples: int = 100_000_000,
    *,
    channels: int = 40,
    rate_hz: float = 10.0,
    segment: int = 10,
    window_s: float = 3600.0,
    repeats: int = 7,
    path: str | None = None,
) -> dict[str, float]:
    """Time ``channel_window`` for one channel over ``window_s`` seconds.

    Builds an archive of ``n_samples`` samples (``channels`` channels at
    ``rate_hz``, ``segment`` samples per segment row, as 1-s frames at 10 Hz
    give) by writing segments directly, then times ``repeats`` windows at
    random channels and times. With ``path`` the file is kept (and reused
    if it already exists).

    Returns
    -------
    dict
        ``build_s``, ``file_mb``, ``segments``, ``samples_per_window``,
        ``median_ms`` and ``max_ms``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(path) if path else Path(tmp) / "query.sqlite"
        per_channel = n_samples // channels
        build_s = math.nan
        if not target.exists():
            build_s = _build_query_archive(
                target, channels, per_channel, rate_hz, segment
            )
        rng = np.random.default_rng(7)
        span = per_channel / rate_hz
        t_start = 1.7e9
        timings, counts = [], []
        with ArchiveReader(target) as reader:
            reader.channel_window("q.ch00", t_start, t_start + 1.0)  # warm up
            for _ in range(repeats):
                ch = int(rng.integers(channels))
                start = t_start + float(rng.uniform(0, max(0.0, span - window_s)))
                a = time.perf_counter()
                times, _ = reader.channel_window(
                    f"q.ch{ch:02d}", start, start + window_s
                )
                timings.append((time.perf_counter() - a) * 1e3)
                counts.append(times.size)
            segments = reader._one("SELECT max(rowid) FROM samples")
        return {
            "build_s": build_s,
            "file_mb": target.stat().st_size / 1e6,
            "segments": float(segments or 0),
            "samples_per_window": float(statistics.median(counts)),
            "median_ms": statistics.median(timings),
            "max_ms": max(timings),
        }


def _build_query_archive(
    target: Path, channels: int, per_channel: int, rate_hz: float, segment: int
) -> float:
    t0 = time.perf_counter()
    ArchiveWriter(target, dictionary_sha256="bench", dictionary_version="bench").stop()
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=NORMAL")
        keys = [f"q.ch{i:02d}" for i in range(channels)]
        conn.executemany(
            "INSERT INTO channels (key, source, name, declared) VALUES (?, 'q', ?, 1)",
            [(k, k[2:]) for k in keys],
        )
        ids = dict(conn.execute("SELECT key, id FROM channels"))
        rng = np.random.default_rng(1)
        dt = 1.0 / rate_hz
        block = segment * max(1, 20_000 // segment)  # per channel per transaction
        for start in range(0, per_channel, block):
            m = min(block, per_channel - start)
            m -= m % segment
            if m == 0:
                break
            t = 1.7e9 + (start + np.arange(m)) * dt
            tb = t.reshape(-1, segment)
            t_bytes = [row.tobytes() for row in tb]
            firsts, lasts = tb[:, 0].tolist(), tb[:, -1].tolist()
            conn.execute("BEGIN")
            for key in keys:
                vb = rng.normal(size=(m // segment, segment))
                conn.executemany(
                    _values_sql(_INSERT_SEGMENT, 7, 1),
                    [
                        (ids[key], None, f, la, segment, tt, row.tobytes())
                        for f, la, tt, row in zip(
                            firsts, lasts, t_bytes, vb, strict=True
                        )
                    ],
                )
            conn.execute("COMMIT")
        n = per_channel - per_channel % segment
        span = (segment - 1) * dt
        conn.execute(
            "UPDATE channels SET samples = ?, t_first = ?, t_last = ?, max_span = ?",
            (n, 1.7e9, 1.7e9 + (n - 1) * dt, span),
        )
    finally:
        conn.close()
    return time.perf_counter() - t0


__all__ = [
    "APPLICATION_ID",
    "MAX_REJECTED_BODY",
    "SCHEMA",
    "SCHEMA_VERSION",
    "ActionRecord",
    "ArchiveError",
    "ArchiveReader",
    "ArchiveWriter",
    "Batch",
    "BookmarkRecord",
    "ChannelInfo",
    "EventRecord",
    "RejectedRecord",
    "SessionRecord",
    "TransitionRecord",
    "bench_insert",
    "bench_query",
]
