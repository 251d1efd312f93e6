"""Rows from queue items: one transaction of frames, segments, events and the rest.

Owned by the ``archive-writer`` thread (``ArchiveWriter`` creates it and is its
only caller). Turns a batch of items into rows, keeps the row-id caches of
sources, channels and frames consistent with what was committed, and writes
each table with as few statements as SQLite allows.
"""

from __future__ import annotations

import contextlib
import functools
import math
import sqlite3
from typing import TYPE_CHECKING, Final

import numpy as np

from telemetry.archive.items import (
    ActionItem,
    Batch,
    BookmarkItem,
    ChannelItem,
    DataItem,
    EventItem,
    FrameItem,
    RejectedItem,
    SamplesItem,
    TransitionItem,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

# Row-writing statements: "%VALUES%" becomes "VALUES (?, ...), (?, ...)" with as
# many rows as written at once (see ArchiveWriter._write_rows).
INSERT_FRAME: Final = (
    "INSERT INTO frames (id, session, source_id, seq, received, t_first, t_last,"
    " rows, encoding, body) %VALUES%"
)
INSERT_SEGMENT: Final = (
    'INSERT INTO samples (channel_id, frame_id, t_first, t_last, n, times, "values")'
    " %VALUES%"
)
UPDATE_CHANNEL_STATS: Final = (
    "UPDATE channels SET samples = samples + v.column2,"
    " t_first = min(ifnull(t_first, v.column3), v.column3),"
    " t_last = max(ifnull(t_last, v.column4), v.column4),"
    " max_span = max(max_span, v.column5)"
    " FROM (%VALUES%) AS v WHERE channels.id = v.column1"
)
UPDATE_SOURCES: Final = (
    "UPDATE sources SET last_seen = max(last_seen, v.column2),"
    " frames = frames + v.column3 FROM (%VALUES%) AS v WHERE sources.id = v.column1"
)
UPSERT_CHANNEL: Final = (
    "INSERT INTO channels (key, source, name, unit, declared, derived, states)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET"
    " unit = excluded.unit, declared = excluded.declared,"
    " derived = excluded.derived, states = excluded.states RETURNING id"
)
INSERT_EVENT: Final = (
    "INSERT INTO events (session, time, source, kind, detail, severity, count)"
    " %VALUES%"
)
INSERT_TRANSITION: Final = (
    "INSERT INTO limit_transitions (session, time, channel, severity, previous,"
    " value, threshold, kind) %VALUES%"
)
INSERT_ACTION: Final = (
    "INSERT INTO operator_actions (session, time, operator, action, target, comment)"
    " %VALUES%"
)
INSERT_BOOKMARK: Final = "INSERT INTO bookmarks (session, time, author, text) %VALUES%"
INSERT_REJECTED: Final = (
    "INSERT INTO rejected (session, received, topic, source, reason, detail, length,"
    " body) %VALUES%"
)

SqlRow = tuple[object, ...]
"""One row's parameters for a multi-row statement."""
_MAX_STATEMENT_ROWS: Final = 4096


class RowWriter:
    """Writes batches of items as rows of one session; the writer thread's alone."""

    def __init__(self, session_id: int) -> None:
        self.session_id = session_id
        self._source_ids: dict[str, int] = {}
        self._channel_ids: dict[str, int] = {}
        self._next_frame_id = 1
        self._max_variables = 999

    def load(self, conn: sqlite3.Connection) -> None:
        """Read the ids already in the file (a session appended to an archive)."""
        self._max_variables = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._source_ids = dict(conn.execute("SELECT name, id FROM sources"))
        self._channel_ids = dict(conn.execute("SELECT key, id FROM channels"))
        last = conn.execute("SELECT max(id) FROM frames").fetchone()[0]
        self._next_frame_id = int(last or 0) + 1

    def write(
        self,
        conn: sqlite3.Connection,
        items: Sequence[DataItem],
        notes: Sequence[SqlRow] = (),
    ) -> tuple[int, int]:
        """Write ``items`` and the writer's own ``notes`` in one transaction.

        ``notes`` are event rows without their session: ``(time, source,
        kind, detail, severity, count)``. Returns the samples and frames
        written. On any failure the transaction is rolled back, the id caches
        are as before, and the exception propagates.
        """
        session = self.session_id
        saved = (dict(self._source_ids), dict(self._channel_ids), self._next_frame_id)
        frames: list[SqlRow] = []
        segments: list[SqlRow] = []
        stats: dict[int, list[float]] = {}
        sources: dict[int, list[float]] = {}
        events: list[SqlRow] = []
        transitions: list[SqlRow] = []
        actions: list[SqlRow] = []
        bookmarks: list[SqlRow] = []
        rejected: list[SqlRow] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for item in items:
                match item:
                    case FrameItem():
                        sid = self._source_id(conn, item)
                        fid = self._next_frame_id
                        self._next_frame_id += 1
                        received = item.received
                        frames.append(
                            (fid, session, sid, item.seq, received, item.t_first,
                             item.t_last, item.rows, item.encoding, item.body)
                        )  # fmt: skip
                        seen = sources.get(sid)
                        if seen is None:
                            sources[sid] = [received, 1.0]
                        else:
                            seen[0] = max(seen[0], received)
                            seen[1] += 1
                        self._segments(conn, item.batches, fid, segments, stats)
                    case SamplesItem(batches=batches):
                        self._segments(conn, batches, None, segments, stats)
                    case ChannelItem():
                        key = item.key
                        source, name = _split_key(key)
                        row = conn.execute(
                            UPSERT_CHANNEL,
                            (key, source, name, item.unit, item.declared,
                             item.derived, item.states_json),
                        ).fetchone()  # fmt: skip
                        self._channel_ids[key] = int(row[0])
                    case EventItem():
                        events.append(
                            (session, item.time, item.source, item.kind,
                             item.detail, item.severity, item.count)
                        )  # fmt: skip
                    case TransitionItem():
                        transitions.append(
                            (session, item.time, item.key, item.severity,
                             item.previous, item.value, item.threshold, item.kind)
                        )  # fmt: skip
                    case ActionItem():
                        actions.append(
                            (session, item.time, item.operator, item.action,
                             item.target, item.comment)
                        )  # fmt: skip
                    case BookmarkItem():
                        bookmarks.append((session, item.time, item.author, item.text))
                    case RejectedItem():
                        rejected.append(
                            (session, item.received, item.topic, item.source,
                             item.reason, item.detail, item.length, item.body)
                        )  # fmt: skip
            events.extend((session, *note) for note in notes)
            write = self._write_rows
            write(conn, INSERT_FRAME, frames)
            write(conn, INSERT_SEGMENT, segments)
            write(
                conn,
                UPDATE_CHANNEL_STATS,
                [(c, int(s[0]), s[1], s[2], s[3]) for c, s in stats.items()],
            )
            write(
                conn,
                UPDATE_SOURCES,
                [(sid, s[0], int(s[1])) for sid, s in sources.items()],
            )
            write(conn, INSERT_EVENT, events)
            write(conn, INSERT_TRANSITION, transitions)
            write(conn, INSERT_ACTION, actions)
            write(conn, INSERT_BOOKMARK, bookmarks)
            write(conn, INSERT_REJECTED, rejected)
            conn.execute("COMMIT")
        except BaseException:
            self._source_ids, self._channel_ids, self._next_frame_id = saved
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        return int(sum(s[0] for s in stats.values())), len(frames)

    def _write_rows(
        self, conn: sqlite3.Connection, template: str, rows: list[SqlRow]
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
            conn.execute(values_sql(template, ncols, k), [x for r in chunk for x in r])
            done += k

    def _source_id(self, conn: sqlite3.Connection, item: FrameItem) -> int:
        sid = self._source_ids.get(item.source)
        if sid is None:
            received = item.received
            cursor = conn.execute(
                "INSERT INTO sources (name, family, first_seen, last_seen)"
                " VALUES (?, ?, ?, ?)",
                (item.source, item.family, received, received),
            )
            sid = int(cursor.lastrowid or 0)
            self._source_ids[item.source] = sid
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
        out: list[SqlRow],
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


@functools.lru_cache(maxsize=256)
def values_sql(template: str, ncols: int, rows: int) -> str:
    one = "(" + ", ".join("?" * ncols) + ")"
    return template.replace("%VALUES%", "VALUES " + ", ".join([one] * rows))


def _split_key(key: str) -> tuple[str, str]:
    source, dot, name = key.partition(".")
    return (source, name) if dot else ("", key)


__all__ = ["INSERT_SEGMENT", "RowWriter", "SqlRow", "values_sql"]
