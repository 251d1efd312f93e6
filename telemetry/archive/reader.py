"""Read-only queries on an archive file: summary, sample windows, frames, events.

ArchiveReader holds one read-only connection used under a lock by whichever
thread calls (the history-query worker, a replay thread, a command). It opens
archives on read-only media too (``immutable=1``: no WAL side files needed).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
import threading
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import sqlite_utils

from telemetry.archive.records import (
    ActionRecord,
    BookmarkRecord,
    ChannelInfo,
    EventRecord,
    RejectedRecord,
    SessionRecord,
    TransitionRecord,
)
from telemetry.archive.schema import ArchiveError, check_archive, probe_file

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

FloatArray = npt.NDArray[np.float64]
_SPAN_SLACK: Final = 1e-3  # seconds; covers float rounding of t_last - t_first
_REQUIRED_TABLES: Final = (
    "sessions",
    "sources",
    "channels",
    "frames",
    "samples",
    "events",
)


def _connect(uri: str) -> sqlite3.Connection:
    """Open ``uri`` read-only and read its schema, so a failure shows here."""
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _read_only_place(path: Path) -> bool:
    """Tell whether ``path`` is on read-only media or in a directory we cannot write."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(path.parent, os.W_OK)


class ArchiveReader:
    """Read-only queries on an archive file; safe to call from any thread.

    Holds one ``mode=ro`` connection, used under a lock by whichever thread
    calls (typically the history-query worker). WAL lets it read committed
    data while an ``ArchiveWriter`` is still writing; each call sees the file
    as of its start. On read-only media it opens ``immutable=1``
    (:attr:`immutable`). Refuses, with :class:`ArchiveError` naming the file,
    anything that is not a readable archive.
    """

    _SEGMENT_PAGE: Final = 2_000

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        resolved = Path(self.path).resolve()
        if not resolved.exists():
            raise FileNotFoundError(f"no archive at {self.path}")
        if not resolved.is_file():
            raise ArchiveError(f"{self.path} is not a file, so not an archive")
        probe_file(str(resolved))
        self._lock = threading.RLock()
        self.immutable = False
        try:
            self._conn = _connect(f"{resolved.as_uri()}?mode=ro")
        except sqlite3.OperationalError as exc:
            if not _read_only_place(resolved):
                raise ArchiveError(
                    f"{self.path}: cannot open the archive ({exc})"
                ) from None
            # Read-only media: SQLite cannot make the -shm file WAL readers
            # need. Nothing can be writing there, so read the file as it is,
            # unless frames wait in a -wal that immutable mode would ignore.
            wal = Path(f"{resolved}-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise ArchiveError(
                    f"{self.path}: part of it is still in {wal.name} (the writer "
                    "did not close it) and the media is read-only: copy both files "
                    "to a writable place to read it all"
                ) from None
            self.immutable = True
            try:
                self._conn = _connect(f"{resolved.as_uri()}?immutable=1")
            except sqlite3.DatabaseError as again:
                raise ArchiveError(
                    f"{self.path}: cannot open the archive ({again})"
                ) from None
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(
                f"{self.path} is damaged or not an archive ({exc})"
            ) from None
        try:
            check_archive(self._conn, self.path)
            # sqlite-utils reads the small tables: rows come back as dicts keyed
            # by column name, and the file stays usable with its CLI; sample
            # segments are read with raw SQL for speed.
            self._db = sqlite_utils.Database(
                self._conn, recursive_triggers=False, execute_plugins=False
            )
            missing = [t for t in _REQUIRED_TABLES if not self._db[t].exists()]
            if missing:
                raise ArchiveError(
                    f"{self.path} has no archive tables ({', '.join(missing)} missing)"
                )
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

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Return the first column of the first row of ``sql`` (None if no row)."""
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
        ``rejected``. ``start``/``end`` are the first/last sample time of the
        telemetry (None if there are no samples), not of the hourly dose-bin
        bookkeeping written at the top of each hour.
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
            # A gap may count up to 2^63 - 1 missed frames (seq spans the
            # signed 64-bit range): summed in two 32-bit halves, the total is
            # exact where SQLite's sum() would stop with "integer overflow".
            "SELECT source, count(*) AS gaps, sum(ifnull(count, 0) >> 32) AS hi,"
            " sum(ifnull(count, 0) & 4294967295) AS lo"
            " FROM events WHERE kind = 'gap' AND source IS NOT NULL GROUP BY source"
        ):
            e = entry(r["source"])
            e["gaps"] = r["gaps"]
            e["missed"] = (int(r["hi"] or 0) << 32) + int(r["lo"] or 0)
        for r in self._rows(
            "SELECT source, count(*) AS n FROM rejected"
            " WHERE source IS NOT NULL GROUP BY source"
        ):
            entry(r["source"])["rejected"] = r["n"]
        extent = self._rows(
            "SELECT sum(samples) AS n, count(*) AS channels FROM channels"
        )[0]
        # The extent is the telemetry's: channels that came in frames or that
        # the dictionary declares. Derived channels no dictionary declares are
        # the console's own bookkeeping (the hourly dose bins, written at the
        # top of the hour): they would stretch a 1-minute recording to an hour.
        span = self._rows(
            "SELECT min(t_first) AS start, max(t_last) AS end FROM channels"
            " WHERE declared OR NOT derived"
        )[0]
        if span["start"] is None:  # bookkeeping alone: better than nothing
            span = self._rows(
                "SELECT min(t_first) AS start, max(t_last) AS end FROM channels"
            )[0]
        return {
            "sources": dict(sorted(per.items())),
            "rejected": self.scalar("SELECT count(*) FROM rejected"),
            "channels": extent["channels"],
            "samples": int(extent["n"] or 0),
            "frames": self.scalar("SELECT count(*) FROM frames"),
            "events": self.scalar("SELECT count(*) FROM events"),
            "sessions": [asdict(s) for s in self.sessions()],
            "start": span["start"],
            "end": span["end"],
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

    def channel_span(self, key: str) -> tuple[int, float]:
        """Return a channel's row id and longest segment span; KeyError if unknown."""
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
        cid, span = self.channel_span(key)
        t0, t1 = _bounds(t0, t1)
        with self._lock:
            rows = self._conn.execute(
                'SELECT times, "values" FROM samples WHERE channel_id = ?'
                " AND t_first >= ? AND t_first < ? AND t_last >= ? ORDER BY t_first",
                (cid, t0 - span - _SPAN_SLACK, t1, t0),
            ).fetchall()
        return _clip(rows, t0, t1)

    def iter_segments(
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


__all__ = ["ArchiveReader", "FloatArray"]
