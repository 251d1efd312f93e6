"""The dose ledger: crew dose accrued by earlier live console sessions.

One SQLite file per data directory; live sessions seed the dose estimator from
it and add their own dose to it, so rolling and career totals survive restarts.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from telemetry.core.private_file import create_private_file

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

#: The ledger's file name in the console's data directory.
LEDGER_NAME: Final = "dose_ledger.sqlite"
#: ``ledger_meta.format``: what the file is.
LEDGER_FORMAT: Final = "kibo-dose-ledger"
LEDGER_SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS ledger_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_sessions (
    session_id INTEGER PRIMARY KEY,
    opened REAL NOT NULL,
    first_sample REAL NOT NULL,
    last_sample REAL NOT NULL,
    bin_s REAL NOT NULL,
    roster_version TEXT NOT NULL,
    roster_sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_bins (
    session_id INTEGER NOT NULL REFERENCES ledger_sessions (session_id),
    crew_id TEXT NOT NULL,
    bin_start REAL NOT NULL,
    msv REAL NOT NULL,
    PRIMARY KEY (session_id, crew_id, bin_start)
);
"""


class LedgerError(Exception):
    """The ledger file cannot be read or written (the message names it and why)."""


@dataclass(frozen=True)
class LedgerHistory:
    """Dose of earlier sessions, as the estimator is seeded with it.

    ``bins`` maps crew id to ``(start, end, msv)`` per rolling bin, sorted,
    summed over sessions; ``end`` is the bin end, or the last sample time the
    sessions covered if earlier (the dose of a partial bin is placed in it).
    """

    bins: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)
    sessions: int = 0
    covered_s: float = 0.0
    roster_changed: bool = False

    def total_msv(self, crew_id: str) -> float:
        return math.fsum(m for _s, _e, m in self.bins.get(crew_id, ()))


class DoseLedger:
    """An open ledger: the writer (holding its lock) or a read-only reader.

    Created and seeded from by the thread starting the live session, written
    by the zmq-subscriber thread's tick while the session runs, and finally
    written and closed by the thread stopping it once the subscriber has been
    joined: one thread at a time, never two at once.

    Only one console per data directory writes: the first one takes an
    exclusive ``flock`` on ``<ledger>.lock``; another one running at the same
    time only reads (``writable`` is false), so no dose is counted twice.
    Rows are written at each completed bin and at stop, so a crash loses at
    most the dose of the current partial bin.
    """

    def __init__(
        self,
        path: Path,
        *,
        roster_version: str,
        roster_sha256: str,
        bin_s: float,
        opened: float,
    ) -> None:
        self.path = path
        self.roster_version = roster_version
        self.roster_sha256 = roster_sha256
        self.bin_s = bin_s
        self.opened = opened
        self._session_id: int | None = None
        self._open_from = -math.inf  # bins before this are complete and written
        # Bins refused because negative or not finite (never written).
        self.refused = 0
        self._db: sqlite3.Connection | None = None
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = path.with_name(path.name + ".lock")
        self._lock_fd: int | None = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.writable = True
        except BlockingIOError:
            self.writable = False
            os.close(self._lock_fd)
            self._lock_fd = None
        try:
            self._db = self._connect()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> sqlite3.Connection | None:
        try:
            if self.writable:
                create_private_file(str(self.path))
                db = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False)
                try:
                    self._check(db, create=True)
                except BaseException:
                    db.close()
                    raise
                return db
            if not self.path.exists():
                return None
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            db = sqlite3.connect(uri, uri=True, timeout=5.0, check_same_thread=False)
            try:
                self._check(db, create=False)
            except BaseException:
                db.close()
                raise
            return db
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: not a usable dose ledger ({exc})") from exc

    def _check(self, db: sqlite3.Connection, *, create: bool) -> None:
        tables = {
            row[0]
            for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if not tables and create:
            with db:
                db.executescript(_SCHEMA)
                db.executemany(
                    "INSERT INTO ledger_meta (key, value) VALUES (?, ?)",
                    [
                        ("format", LEDGER_FORMAT),
                        ("schema_version", str(LEDGER_SCHEMA_VERSION)),
                    ],
                )
            return
        meta = (
            dict(db.execute("SELECT key, value FROM ledger_meta").fetchall())
            if "ledger_meta" in tables
            else {}
        )
        if meta.get("format") != LEDGER_FORMAT:
            raise LedgerError(f"{self.path}: not a dose ledger (no ledger_meta format)")
        if meta.get("schema_version") != str(LEDGER_SCHEMA_VERSION):
            raise LedgerError(
                f"{self.path}: dose ledger schema {meta.get('schema_version')!r}, "
                f"this console reads {LEDGER_SCHEMA_VERSION}"
            )

    # -------------------------------------------------------------- reading

    def history(self, crew_ids: Iterable[str]) -> LedgerHistory:
        """Return the earlier sessions' dose of the crew members ``crew_ids``.

        Rows of other crew ids (written with another roster) are left out.
        Call it before :meth:`record` (this session's rows are not in it).
        """
        known = set(crew_ids)
        if self._db is None:
            return LedgerHistory()
        try:
            sessions = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(last_sample - first_sample), 0), "
                "COALESCE(SUM(roster_sha256 != ?), 0) FROM ledger_sessions",
                (self.roster_sha256,),
            ).fetchone()
            rows = self._db.execute(
                "SELECT b.crew_id, b.bin_start, MIN(b.bin_start + s.bin_s), "
                "MAX(s.last_sample), SUM(b.msv) FROM ledger_bins b "
                "JOIN ledger_sessions s USING (session_id) "
                "GROUP BY b.crew_id, b.bin_start ORDER BY b.crew_id, b.bin_start"
            ).fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: dose ledger unreadable ({exc})") from exc
        bins: dict[str, list[tuple[float, float, float]]] = {}
        for crew_id, start, end, last, msv in rows:
            if crew_id not in known:
                continue
            bins.setdefault(crew_id, []).append(
                (float(start), max(float(start), min(float(end), float(last))), msv)
            )
        return LedgerHistory(
            bins, int(sessions[0]), float(sessions[1]), bool(sessions[2])
        )

    # -------------------------------------------------------------- writing

    def record(
        self,
        first: float,
        until: float,
        bins: Mapping[str, Mapping[float, float]],
        settled: float | None = None,
    ) -> int:
        """Write this session's dose per crew and bin, integrated over [first, until].

        ``bins`` holds the dose accrued in each bin by this session (sample
        time). Bins before the one ``settled`` (default ``until``) falls in
        are then complete: they are not written again; later ones are
        rewritten by the next call (late data may still revise them).
        Returns the rows written (0 when read-only).

        Raises
        ------
        LedgerError
            If the write fails (disk full, file removed...).
        """
        if not self.writable or self._db is None or not until >= first:
            return 0
        open_from = self._open_from
        # The ledger keeps real crew dose: a bin that is negative or not a
        # number (a sign error upstream) is refused, never written.
        rows = [
            (crew_id, start, msv)
            for crew_id, per_bin in bins.items()
            for start, msv in per_bin.items()
            if start >= open_from
        ]
        good = [r for r in rows if math.isfinite(r[2]) and r[2] >= 0.0]
        self.refused += len(rows) - len(good)
        rows = good
        try:
            with self._db as db:
                if self._session_id is None:
                    cursor = db.execute(
                        "INSERT INTO ledger_sessions (opened, first_sample, "
                        "last_sample, bin_s, roster_version, roster_sha256) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            self.opened,
                            first,
                            until,
                            self.bin_s,
                            self.roster_version,
                            self.roster_sha256,
                        ),
                    )
                    self._session_id = cursor.lastrowid
                else:
                    db.execute(
                        "UPDATE ledger_sessions SET first_sample = ?, last_sample = ? "
                        "WHERE session_id = ?",
                        (first, until, self._session_id),
                    )
                db.executemany(
                    "INSERT OR REPLACE INTO ledger_bins "
                    "(session_id, crew_id, bin_start, msv) VALUES (?, ?, ?, ?)",
                    [(self._session_id, c, s, m) for c, s, m in rows],
                )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: dose ledger write failed ({exc})") from exc
        done = until if settled is None else min(until, settled)
        self._open_from = max(open_from, math.floor(done / self.bin_s) * self.bin_s)
        return len(rows)

    def close(self) -> None:
        """Close the file and release the writer's lock (idempotent)."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None


def crew_bins(
    knots_t: Iterable[float], knots_c: Iterable[float], bin_s: float
) -> dict[float, float]:
    """Return dose per bin start from cumulative dose at bin edges (and the ends).

    Between consecutive knots the dose lies within one bin: the knots are the
    session start, every bin edge and the integration time.
    """
    out: dict[float, float] = {}
    ts = list(knots_t)
    cs = list(knots_c)
    for i in range(len(ts) - 1):
        if ts[i + 1] <= ts[i]:
            continue
        start = math.floor(ts[i] / bin_s) * bin_s
        out[start] = out.get(start, 0.0) + (cs[i + 1] - cs[i])
    return out
