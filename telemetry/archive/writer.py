"""The archive writer: appends one session to an archive file on its own thread.

One concept, the writer's life: create or open the file under its writer
lock, drain the byte-bounded queue in transactions, retry what a full disk
refuses, account for every item it could not keep, and close. A little over
800 lines because that failure accounting (drops, retries, isolation of a bad
item, abandonment at stop) is one state machine; turning items into rows is
``rows.py``.
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from telemetry.archive.backlog import DEFAULT_QUEUE_BYTES, ArchiveBacklog, Empty
from telemetry.archive.items import (
    ITEM_OVERHEAD,
    MAX_REJECTED_BODY,
    ActionItem,
    Batch,
    BookmarkItem,
    ChannelItem,
    DataItem,
    EventItem,
    Flush,
    FrameItem,
    RejectedItem,
    SamplesItem,
    Stop,
    TransitionItem,
    Wake,
    batches_bytes,
    describe,
    missing_count,
)
from telemetry.archive.lock import WriterLock
from telemetry.archive.rows import RowWriter, SqlRow
from telemetry.archive.schema import (
    APPLICATION_ID,
    SCHEMA,
    SCHEMA_VERSION,
    ArchiveError,
    check_archive,
    installed_version,
    probe_file,
)
from telemetry.core.private_file import create_private_file
from telemetry.core.severity import Severity

if TYPE_CHECKING:
    from collections.abc import Sequence

    from telemetry.core.wire import Frame

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


_DropSnapshot = tuple[int, int, collections.Counter[str]]
"""Dropped items, their samples and their kinds, as last reported."""
_wall_clock: Final = time.time  # put_* methods have a parameter named ``time``
_CHECKPOINT_TRIES: Final = 3


@dataclass(frozen=True, slots=True)
class ArchiveLoss:
    """What a writer did not keep: dropped (queue full) or lost (write failed).

    ``frames`` and ``samples`` are the telemetry among ``items``; ``nbytes``
    what those items weighed in memory. Any thread may ask for it.
    """

    items: int
    frames: int
    samples: int
    nbytes: int
    reason: str

    def __bool__(self) -> bool:
        return self.items > 0

    def summary(self) -> str:
        """One line for a terminal or a log: how much, and why."""
        return (
            f"DATA LOST: {self.items} items not archived ({self.frames} frames, "
            f"{self.samples} samples, {self.nbytes / 2**20:.1f} MiB): {self.reason}"
        )


class ArchiveWriter:
    """Append-only writer of one archive session; owned by its own thread.

    The sqlite3 write connection lives on a ``threading.Thread`` named
    ``archive-writer`` that this object starts in :meth:`start` and joins in
    :meth:`stop`. The ``put_*`` methods are called from other threads (the
    telemetry-pipeline thread for telemetry, the GUI thread for operator actions):
    they only append to a queue bounded in bytes (``queue_bytes``, counting
    what a held retry batch keeps too) and never block; when it is full the
    item is dropped, counted in :attr:`dropped`, and the writer records an
    ``archive_overflow`` event once it has room again. The counter
    properties and :meth:`loss` may be read from any thread.

    The writer drains the queue for at most ``batch_seconds`` or ``batch_rows``
    items and commits them in one transaction (WAL, ``synchronous=NORMAL``), so
    a crash or SIGKILL loses at most that uncommitted batch. A batch that fails
    to commit for a reason that can pass (disk full, I/O error) is kept and
    retried every ``retry_seconds`` (:attr:`disk_full`, :attr:`errors`,
    :attr:`last_error` say so meanwhile); the queue bounds what waits behind it.

    The constructor takes the file's writer lock (a second writer of the same
    file, in this process or another, is refused with ``ArchiveBusyError``),
    creates the file (mode 0o600) and the schema and inserts the session row
    on the calling thread with a short-lived connection, so a bad path fails
    at once. :meth:`stop` checkpoints the WAL into the main file, whatever
    readers are open, and releases the lock.

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
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        batch_seconds: float = 0.2,
        batch_rows: int = 2_000,
        max_page_count: int | None = None,
        retry_seconds: float = 1.0,
    ) -> None:
        if queue_bytes < 1 or batch_rows < 1 or batch_seconds < 0 or retry_seconds <= 0:
            raise ValueError("queue_bytes, batch_rows > 0; batch/retry seconds >= 0")
        self.path = os.fspath(path)
        self._queue = ArchiveBacklog(queue_bytes)
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
        self._dropped_bytes = 0
        self._dropped_kinds: collections.Counter[str] = collections.Counter()
        self._drop_since: float | None = None
        self._reported = (0, 0, collections.Counter[str]())
        # Writer-side counters (written by the writer thread only).
        self._written_samples = 0
        self._written_frames = 0
        self._written_items = 0
        self._written_bytes = 0
        self._errors = 0
        self._lost = 0
        self._lost_samples = 0
        self._lost_bytes = 0
        self._lost_kinds: collections.Counter[str] = collections.Counter()
        self._last_error = ""
        self._disk_full = False
        self.checkpoint_error = ""
        """Why the WAL could not be copied into the main file at stop ("" if it was).

        Nothing is lost then (SQLite reads the ``-wal`` with the file), but
        the main file alone is not complete."""
        self._pending_count = 0
        self._failing_since: float | None = None
        self._failed_attempts = 0
        self._notes: list[tuple[float, str, str, int]] = []  # events to write

        self._writer_lock = WriterLock(self.path)
        self._writer_lock.acquire()
        try:
            self._create(kind, dictionary_sha256, dictionary_version, operator)
            # The file this writer made, by device and inode, and a descriptor
            # of it that tells whether any name still leads to it: a file
            # removed or replaced at the path while SQLite keeps writing into
            # the old inode is data going nowhere; one renamed still holds it
            # (check_file).
            self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except BaseException:
            self._writer_lock.release()
            raise
        self._rows = RowWriter(self.session_id)  # the writer thread's from now on
        made = os.fstat(self._fd)
        self._identity = (made.st_dev, made.st_ino)
        self._gone = ""
        self._moved = ""

    def _create(
        self, kind: str, dictionary_sha256: str, dictionary_version: str, operator: str
    ) -> None:
        if os.path.isdir(self.path):
            raise ArchiveError(f"{self.path} is a directory, not an archive")
        create_private_file(self.path)
        probe_file(self.path, allow_empty=True)
        try:
            self._create_schema(kind, dictionary_sha256, dictionary_version, operator)
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(
                f"{self.path}: cannot write the archive ({exc})"
            ) from None

    def _create_schema(
        self, kind: str, dictionary_sha256: str, dictionary_version: str, operator: str
    ) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=1.0)
        try:
            # Identified before anything is written: a foreign file given by
            # mistake is left exactly as it was (not even switched to WAL).
            check_archive(conn, self.path)
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise ArchiveError(f"{self.path}: cannot use WAL (journal_mode={mode})")
            conn.execute("BEGIN IMMEDIATE")
            check_archive(conn, self.path)  # again, now that no one else can write
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
                self._writer_lock.release()
                self._close_fd()
                self._stop_result = True
                return True
            deadline = time.monotonic() + max(0.0, timeout)
            self._stop_deadline = deadline
            self._stop_requested.set()
            self._wake.set()
            if thread.is_alive():
                self._queue.put_control(Stop())
            # Past the deadline the writer abandons the queue; give it a moment
            # to finish the statement it is in and close the connection.
            thread.join(max(0.0, deadline - time.monotonic()) + 2.0)
            done = not thread.is_alive()
            # Removed just before the end is as lost as removed long before.
            self.check_file()
            self._close_fd()
            if done:  # a writer still running keeps the file to itself
                self._writer_lock.release()
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
        item = Flush()
        self._queue.put_control(item)
        return item.done.wait(max(0.0, timeout))

    def set_max_page_count(self, pages: int) -> None:
        """Set ``PRAGMA max_page_count`` on the write connection (for tests).

        Runs on the writer thread through an out-of-band command queue, so it
        takes effect even while the data queue is full or a batch is waiting to
        be retried.
        """
        self._commands.append(("max_page_count", int(pages)))
        self._wake.set()
        self._queue.put_control(Wake())

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
    def held_bytes(self) -> int:
        """Bytes the archive keeps in memory: queued plus a batch held for retry."""
        return self._queue.held_bytes

    @property
    def queue_bytes(self) -> int:
        """The byte budget of the queue."""
        return self._queue.max_bytes

    @property
    def queue_fill(self) -> float:
        """``held_bytes`` as a fraction of the budget (0 to 1)."""
        return min(1.0, self._queue.held_bytes / self._queue.max_bytes)

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def check_file(self) -> str:
        """Tell whether the archive file is lost: removed, or replaced and deleted.

        Any thread (the archive watch calls it on every tick; a ``stat`` and
        an ``fstat``). Returns ``""`` while the data is still in a file, else
        why not. Once gone, gone for good: SQLite goes on writing into the
        unlinked inode, which nobody can open and which disappears when the
        writer closes it. A file renamed or moved away (log rotation) still
        holds everything: :attr:`moved` says so instead.
        """
        if self._gone or self._fd < 0:
            return self._gone
        missing = False
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            missing = True
        except OSError:
            return ""  # cannot tell (permissions on the way): not proof of loss
        else:
            if (now.st_dev, now.st_ino) == self._identity:
                self._moved = ""  # put back
                return ""
        try:
            links = os.fstat(self._fd).st_nlink
        except OSError:
            return ""
        at = time.strftime("%H:%M:%SZ", time.gmtime())
        if links > 0:
            if not self._moved:
                self._moved = (
                    f"archive file no longer at {self.path} since {at} (renamed or "
                    "moved): the writer goes on writing into it under its new name"
                )
            return ""
        what = "removed" if missing else "replaced by another file"
        self._gone = (
            f"archive file {self.path} {what} under the running writer at {at}: "
            "everything written to it went with it, and what follows goes nowhere"
        )
        return self._gone

    @property
    def file_gone(self) -> bool:
        """Whether :meth:`check_file` found the file removed or replaced."""
        return bool(self._gone)

    @property
    def moved(self) -> str:
        """Why the file is not at its path though its data is safe ("" if it is)."""
        return self._moved

    def loss(self) -> ArchiveLoss:
        """Everything this writer did not keep so far, and the last reason why."""
        with self._drop_lock:
            kinds = self._dropped_kinds + self._lost_kinds
            items = self._dropped + self._lost
            samples = self._dropped_samples + self._lost_samples
            nbytes = self._dropped_bytes + self._lost_bytes
        reasons = []
        if self._gone:
            # What was written is in no file anyone can open any more.
            reasons.append(self._gone)
            kinds[FrameItem.label] += self._written_frames
            items += self._written_items
            samples += self._written_samples
            nbytes += self._written_bytes
        if self._dropped:
            reasons.append(
                f"{self._dropped} dropped with the archive queue full "
                f"({self._queue.max_bytes / 2**20:.0f} MiB) or after stop"
            )
        if self._lost:
            reasons.append(f"{self._lost} could not be written")
        if self._last_error and items:
            reasons.append(f"last error: {self._last_error}")
        return ArchiveLoss(
            items=items,
            frames=kinds[FrameItem.label],
            samples=samples,
            nbytes=nbytes,
            reason="; ".join(reasons),
        )

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
    def stopped_cleanly(self) -> bool:
        """Whether :meth:`stop` ended with every queued item committed."""
        return bool(self._stop_result)

    @property
    def alive(self) -> bool:
        """Whether the writer thread is running."""
        return self._thread is not None and self._thread.is_alive()

    # -------------------------------------------------------- producer API

    def _drop(self, item: DataItem) -> None:
        with self._drop_lock:
            self._dropped += 1
            self._dropped_samples += item.samples
            self._dropped_bytes += item.nbytes
            self._dropped_kinds[item.label] += 1
            if self._drop_since is None:
                self._drop_since = time.time()

    def _put(self, item: DataItem) -> None:
        if self._closing or not self._queue.put_item(item):
            self._drop(item)

    def put_frame(
        self, received: float, frame: Frame, body: bytes, batches: Sequence[Batch]
    ) -> None:
        """Queue a raw frame body and its decoded channel batches.

        ``received`` is the arrival time (UTC s); ``batches`` holds
        ``("source.channel", times, values)`` with nulls already removed. The
        frame's decoded columns are not kept: only what its row needs.
        """
        times = frame.times
        rows = int(times.shape[0])
        self._put(
            FrameItem(
                received=received,
                family=frame.family,
                source=frame.source,
                seq=frame.seq,
                t_first=float(times.min()) if rows else None,
                t_last=float(times.max()) if rows else None,
                rows=rows,
                encoding=frame.encoding,
                body=body,
                batches=batches,
                nbytes=ITEM_OVERHEAD + len(body) + batches_bytes(batches),
            )
        )

    def put_samples(self, batches: Sequence[Batch]) -> None:
        """Queue derived samples (no raw frame), e.g. dose channels."""
        self._put(SamplesItem(batches, ITEM_OVERHEAD + batches_bytes(batches)))

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
        self._put(
            ChannelItem(
                key,
                unit,
                bool(declared),
                bool(derived),
                states_json,
                ITEM_OVERHEAD + len(states_json),
            )
        )

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
            RejectedItem(
                received,
                bytes(topic),
                kept,
                length,
                source,
                reason,
                detail,
                ITEM_OVERHEAD + len(kept) + len(topic) + len(detail),
            )
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
        self._put(
            EventItem(
                when,
                source,
                kind,
                detail,
                int(severity),
                count,
                ITEM_OVERHEAD + len(detail),
            )
        )

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
            TransitionItem(
                time, key, int(severity), int(previous), value, threshold, kind
            )
        )

    def put_action(
        self, time: float, operator: str, action: str, target: str, comment: str
    ) -> None:
        """Queue an operator action (ack, shelve, note, silence, shelter...)."""
        self._put(
            ActionItem(
                time, operator, action, target, comment, ITEM_OVERHEAD + len(comment)
            )
        )

    def put_bookmark(self, time: float, author: str, text: str) -> None:
        """Queue a bookmark."""
        self._put(BookmarkItem(time, author, text, ITEM_OVERHEAD + len(text)))

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
            self._rows.load(conn)
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

    def _run_commands(self, conn: sqlite3.Connection) -> None:
        while self._commands:
            name, value = self._commands.popleft()
            if name == "max_page_count":
                conn.execute(f"PRAGMA max_page_count={int(value)}")

    def _loop(self, conn: sqlite3.Connection) -> None:
        pending: list[DataItem] = []
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

    def _collect(self, pending: list[DataItem], flushes: list[threading.Event]) -> bool:
        """Move up to one batch from the queue into ``pending``; True on stop."""
        q = self._queue
        try:
            item = q.get(timeout=1.0)
        except Empty:
            return False
        deadline = time.monotonic() + self._batch_seconds
        limit = self._batch_rows
        while True:
            match item:
                case Stop():
                    return True
                case Flush(done=done):
                    flushes.append(done)
                case Wake():
                    pass
                case _:
                    pending.append(item)
                    if len(pending) >= limit:
                        return False
            try:
                item = q.get_nowait()
            except Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or flushes or self._commands:
                    return False
                try:
                    item = q.get(timeout=remaining)
                except Empty:
                    return False

    def _has_notes(self) -> bool:
        return bool(self._notes) or self._dropped != self._reported[0]

    def _commit(self, conn: sqlite3.Connection, items: list[DataItem]) -> bool:
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
        self, conn: sqlite3.Connection, items: list[DataItem], exc: Exception
    ) -> bool:
        if len(items) <= 1:
            what = describe(items[0]) if items else "archive bookkeeping"
            message = f"could not archive {what}: {type(exc).__name__}: {exc}"
            self._fail(message)
            if items:
                self._count_lost(items)
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

    def _count_lost(self, items: Sequence[DataItem]) -> None:
        """Account for items taken from the queue that will never be written."""
        nbytes = sum(i.nbytes for i in items)
        with self._drop_lock:
            self._lost += len(items)
            self._lost_samples += sum(i.samples for i in items)
            self._lost_bytes += nbytes
            self._lost_kinds.update(i.label for i in items)
        self._queue.release(nbytes)

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

    def _drop_event(self) -> tuple[float, str, int, _DropSnapshot] | None:
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
            f"archive queue full ({self._queue.max_bytes / 2**20:.0f} MiB held in "
            f"memory): {n} items not archived ({what}; "
            f"{samples - self._reported[1]} samples); "
            f"{dropped} dropped in this session"
        )
        return since, detail, n, snapshot

    def _transaction(self, conn: sqlite3.Connection, items: list[DataItem]) -> None:
        drops = self._drop_event()
        notes: list[SqlRow] = []
        for when, kind, detail, count in self._notes:
            sev = int(Severity.WARNING) if kind == "archive_error" else 0
            notes.append((when, None, kind, detail, sev, count))
        if drops is not None:
            when, detail, n, _ = drops
            notes.append(
                (when, None, "archive_overflow", detail, int(Severity.WARNING), n)
            )
        samples, frames = self._rows.write(conn, items, notes)
        self._notes.clear()
        nbytes = sum(i.nbytes for i in items)
        self._queue.release(nbytes)
        if drops is not None:
            with self._drop_lock:
                self._reported = drops[3]
                if self._dropped == drops[3][0]:
                    self._drop_since = None
        self._written_samples += samples
        self._written_frames += frames
        self._written_items += len(items)
        self._written_bytes += nbytes

    def _abandon(self, conn: sqlite3.Connection, pending: list[DataItem]) -> None:
        abandoned = [*pending, *_drain(self._queue)]
        pending.clear()
        left = len(abandoned)
        self._pending_count = 0
        if left:
            self._abandoned = True
            self._count_lost(abandoned)
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
        self._checkpoint(conn)

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        """Copy the WAL into the main file and empty it, so the file alone is whole.

        SQLite checkpoints on close only when no other connection has the file
        open; a console's history reader or an ``info`` beside it would leave
        the frames in ``-wal``. A TRUNCATE checkpoint waits (busy timeout) for
        readers inside a query, not for idle ones.
        """
        for _ in range(_CHECKPOINT_TRIES):
            try:
                busy, _log, _done = conn.execute(
                    "PRAGMA wal_checkpoint(TRUNCATE)"
                ).fetchone()
            except sqlite3.Error as exc:
                self.checkpoint_error = f"WAL not checkpointed (kept in -wal): {exc}"
                return
            if not busy:
                return
        self.checkpoint_error = "WAL not checkpointed: readers kept it busy"


def _drain(q: ArchiveBacklog) -> list[DataItem]:
    """Take every data item left in the queue (control items are dropped)."""
    items: list[DataItem] = []
    while True:
        try:
            item = q.get_nowait()
        except Empty:
            return items
        if not isinstance(item, Flush | Stop | Wake):
            items.append(item)
