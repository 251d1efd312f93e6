"""The dose ledger: crew dose accrued by earlier live console sessions.

One SQLite file per data directory; live sessions seed the dose estimator from
it and add their own dose to it, so rolling and career totals survive restarts.
Doses of record (passive dosimeters, ``kibo-console dose-record import``) are
kept beside the estimate and, once adopted, stand in for it over their period
(``telemetry.radiation.dose_record``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import math
import os
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from telemetry.core.side_file import open_side_file
from telemetry.radiation.dose_record import (
    MAX_RATE_MSV_PER_DAY,
    MAX_READOUT_MSV,
    Bins,
    PassiveReading,
    RecordComparison,
    adopt,
    compare,
)

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
# Doses of record (passive dosimeters read out after return), added by
# ``kibo-console dose-record import``; the estimate is never overwritten: it
# stays in ledger_bins beside the record. Added to schema-1 files as they are
# opened for writing (older consoles ignore the table).
_RECORDS_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS ledger_records (
    record_id INTEGER PRIMARY KEY,
    crew_id TEXT NOT NULL,
    period_start REAL NOT NULL,
    period_end REAL NOT NULL,
    dose_msv REAL NOT NULL,
    quantity TEXT NOT NULL,
    dosimeter TEXT NOT NULL,
    adopted INTEGER NOT NULL,
    estimate_msv REAL,
    imported REAL NOT NULL,
    source TEXT NOT NULL
);
"""

# Shelter advice standing when the writing console last wrote (one row per
# crew member advised): a console restarted during a solar particle event
# carries it over instead of withdrawing it. Added like ledger_records.
_ADVICE_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS ledger_shelter (
    crew_id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    since REAL NOT NULL,
    written REAL NOT NULL,
    reason TEXT NOT NULL
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
    records: int = 0  # adopted doses of record in ``bins`` (in place of the estimate)
    damaged: int = 0  # bins left out as implausible (see ``DoseLedger.estimate_bins``)

    def total_msv(self, crew_id: str) -> float:
        return math.fsum(m for _s, _e, m in self.bins.get(crew_id, ()))


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A dose of record as the ledger keeps it (immutable; any thread)."""

    reading: PassiveReading
    adopted: bool
    estimate_at_import_msv: float | None
    imported: float
    source: str


@dataclass(frozen=True, slots=True)
class StandingAdvice:
    """A crew member's shelter advice as the last writing console left it.

    ``action`` is a ``ShelterAction`` value, ``since`` the sample time it was
    first given, ``written`` the receive time it was last confirmed.
    """

    crew_id: str
    action: str
    since: float
    written: float
    reason: str


class DoseLedger:
    """An open ledger: the writer (holding its lock) or a read-only reader.

    Created and seeded from by the thread starting the live session, written
    by the telemetry-pipeline thread's tick while the session runs, and finally
    written and closed by the thread stopping it once the subscriber has been
    joined: one thread at a time, never two at once.

    Only one console per data directory writes: the first one takes an
    exclusive ``flock`` on ``<ledger>.lock``; another one running at the same
    time only reads (``writable`` is false), so no dose is counted twice,
    until :meth:`take_over` finds the lock released (the writer closed) and
    it writes from :meth:`recorded_until` on.
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
        read_only: bool = False,
    ) -> None:
        self.path = path
        self.roster_version = roster_version
        self.roster_sha256 = roster_sha256
        self.bin_s = bin_s
        self.opened = opened
        self._session_id: int | None = None
        # Damaged bins (not a number, negative, implausibly large) the last
        # read left out: the totals read are then a lower bound.
        self.damaged = 0
        self._open_from = -math.inf  # bins before this are complete and written
        # Bins refused because negative or not finite (never written).
        self.refused = 0
        self._db: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self.writable = False
        if not read_only:
            # Only one console per data directory writes: the first to lock.
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.writable = self._lock()
        try:
            self._db = self._connect()
        except BaseException:
            self.close()
            raise

    def _lock(self) -> bool:
        """Take the writer's lock if no other console holds it."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def take_over(self) -> bool:
        """Become the writer if the console holding the lock has closed.

        A read-only ledger (another console wrote it when this one opened)
        tries the lock again; on success it reopens the file for writing and
        returns True. Returns False while the other console still holds it.

        Raises
        ------
        LedgerError
            If the lock was taken but the file cannot be opened for writing.
        """
        if self.writable:
            return True
        if not self._lock():
            return False
        if self._db is not None:
            self._db.close()
            self._db = None
        self.writable = True
        try:
            self._db = self._connect()
        except LedgerError:
            self.close()
            self.writable = False
            raise
        return True

    def recorded_until(self) -> float:
        """Return the latest sample time any session wrote (-inf: none).

        A console taking over the ledger writes only its dose after this: the
        time before it was recorded by the console that held the lock.
        """
        if self._db is None:
            return -math.inf
        try:
            (last,) = self._db.execute(
                "SELECT MAX(last_sample) FROM ledger_sessions"
            ).fetchone()
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: dose ledger unreadable ({exc})") from exc
        return -math.inf if last is None else float(last)

    def _connect(self) -> sqlite3.Connection | None:
        try:
            if self.writable:
                db = open_side_file(self.path, check_same_thread=False)
                try:
                    self._check(db, create=True)
                except BaseException:
                    db.close()
                    raise
                return db
            if not self.path.exists():
                return None
            db = open_side_file(self.path, readonly=True, check_same_thread=False)
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
                db.executescript(_SCHEMA + _RECORDS_SCHEMA + _ADVICE_SCHEMA)
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
        if create and "ledger_records" not in tables:
            with db:
                db.executescript(_RECORDS_SCHEMA)
        if create and "ledger_shelter" not in tables:
            with db:
                db.executescript(_ADVICE_SCHEMA)

    # -------------------------------------------------------------- reading

    def history(self, crew_ids: Iterable[str]) -> LedgerHistory:
        """Return the earlier sessions' dose of the crew members ``crew_ids``.

        Rows of other crew ids (written with another roster) are left out.
        Adopted doses of record replace the estimate over their periods (see
        ``dose_record.adopt``). Call it before :meth:`record` (this session's
        rows are not in it).
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
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: dose ledger unreadable ({exc})") from exc
        bins = {c: b for c, b in self.estimate_bins().items() if c in known}
        adopted = [
            r.reading
            for r in self.records()
            if r.adopted and r.reading.crew_id in known
        ]
        if adopted:
            bins = adopt(bins, adopted, self.bin_s)
        return LedgerHistory(
            bins,
            int(sessions[0]),
            float(sessions[1]),
            bool(sessions[2]),
            len(adopted),
            self.damaged,
        )

    def estimate_bins(self) -> Bins:
        """Return the estimated dose per crew and bin, summed over sessions.

        ``(start, end, msv)`` per bin, sorted; ``end`` is the bin end, or the
        last sample time the sessions covered if earlier. Rows are screened
        as :meth:`record` screens them, and against the plausibility bound of
        a dose of record (``dose_record.MAX_RATE_MSV_PER_DAY``): a damaged
        row (text, negative, not finite, more than a bin can hold) is left
        out and counted in ``damaged``, never summed (a -100 mSv row would
        take 100 mSv off a career and clear its alarm).
        """
        self.damaged = 0
        if self._db is None:
            return {}
        most = min(
            MAX_READOUT_MSV, MAX_RATE_MSV_PER_DAY * max(self.bin_s / 86400.0, 1.0)
        )
        good = "typeof(b.msv) IN ('real', 'integer') AND b.msv >= 0 AND b.msv <= ?"
        try:
            rows = self._db.execute(
                "SELECT b.crew_id, b.bin_start, MIN(b.bin_start + s.bin_s), "
                "MAX(s.last_sample), SUM(b.msv) FROM ledger_bins b "
                f"JOIN ledger_sessions s USING (session_id) WHERE {good} "
                "GROUP BY b.crew_id, b.bin_start ORDER BY b.crew_id, b.bin_start",
                (most,),
            ).fetchall()
            (bad,) = self._db.execute(
                f"SELECT COUNT(*) FROM ledger_bins b WHERE NOT ({good})", (most,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: dose ledger unreadable ({exc})") from exc
        self.damaged = int(bad)
        bins: Bins = {}
        for crew_id, start, end, last, msv in rows:
            bins.setdefault(crew_id, []).append(
                (float(start), max(float(start), min(float(end), float(last))), msv)
            )
        return bins

    def covered_s(self, start: float, end: float) -> float:
        """Return the seconds of ``[start, end)`` some live session covered."""
        if self._db is None:
            return 0.0
        try:
            spans = sorted(
                self._db.execute(
                    "SELECT first_sample, last_sample FROM ledger_sessions "
                    "WHERE last_sample > ? AND first_sample < ?",
                    (start, end),
                ).fetchall()
            )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: dose ledger unreadable ({exc})") from exc
        total, reach = 0.0, start
        for a, b in spans:
            a, b = max(a, reach), min(b, end)
            if b > a:
                total += b - a
                reach = b
        return total

    def _rows(self, table: str, sql: str) -> list[tuple[Any, ...]]:
        """Return ``sql``'s rows; none when the ledger lacks ``table`` (older file).

        Raises
        ------
        LedgerError
            If the file cannot be read.
        """
        if self._db is None:
            return []
        try:
            tables = {
                r[0]
                for r in self._db.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'"
                )
            }
            if table not in tables:
                return []
            return list(self._db.execute(sql).fetchall())
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: dose ledger unreadable ({exc})") from exc

    def standing_advice(self) -> list[StandingAdvice]:
        """Return the shelter advice standing when the ledger was last written."""
        rows = self._rows(
            "ledger_shelter",
            "SELECT crew_id, action, since, written, reason FROM ledger_shelter "
            "ORDER BY crew_id",
        )
        return [
            StandingAdvice(str(c), str(a), float(s), float(w), str(r))
            for c, a, s, w, r in rows
        ]

    def record_advice(
        self, advice: Iterable[StandingAdvice], *, wait_s: float = 5.0
    ) -> None:
        """Replace the standing shelter advice (empty: none stands).

        Raises
        ------
        LedgerError
            If the write fails (another program's lock, disk full...).
        """
        if not self.writable or self._db is None:
            return
        rows = [(a.crew_id, a.action, a.since, a.written, a.reason) for a in advice]
        try:
            self._db.execute(f"PRAGMA busy_timeout = {max(0, round(wait_s * 1000))}")
            with self._db as db:
                db.execute("DELETE FROM ledger_shelter")
                db.executemany(
                    "INSERT INTO ledger_shelter (crew_id, action, since, written, "
                    "reason) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: dose ledger write failed ({exc})") from exc

    def records(self) -> list[StoredRecord]:
        """Return the doses of record, by crew and period start."""
        rows = self._rows(
            "ledger_records",
            "SELECT crew_id, period_start, period_end, dose_msv, quantity, "
            "dosimeter, adopted, estimate_msv, imported, source "
            "FROM ledger_records ORDER BY crew_id, period_start",
        )
        return [
            StoredRecord(
                PassiveReading(c, s, e, d, q, m), bool(a), est, imported, source
            )
            for c, s, e, d, q, m, a, est, imported, source in rows
        ]

    def comparisons(self, bins: Bins | None = None) -> list[RecordComparison]:
        """Return every dose of record beside the ledger's estimate for its period.

        What the radiation panel and ``dose-report --ledger`` show. ``bins``:
        :meth:`estimate_bins`, if the caller has already read them.
        """
        if bins is None:
            bins = self.estimate_bins()
        return [
            compare(
                r.reading,
                bins,
                self.covered_s(r.reading.start, r.reading.end),
                adopted=r.adopted,
                estimate_at_import=r.estimate_at_import_msv,
            )
            for r in self.records()
        ]

    def add_records(
        self,
        readings: Iterable[PassiveReading],
        *,
        adopt_records: bool,
        source: str,
        imported: float,
    ) -> tuple[list[RecordComparison], int]:
        """Store doses of record (all or none); return them compared, and repeats.

        A reading identical to one already stored (crew, period, dose,
        dosimeter) is a repeat of an earlier import and is skipped. The
        estimate of the period at import is kept beside each record.

        Raises
        ------
        LedgerError
            If the ledger is read-only (a console is running on it), or a
            reading overlaps another dose of record of the same crew member.
        """
        if not self.writable or self._db is None:
            raise LedgerError(
                f"{self.path}: the dose ledger is in use by a running console "
                "(it holds the write lock); import once it has stopped"
            )
        existing = self.records()
        bins = self.estimate_bins()
        new: list[PassiveReading] = []
        repeats = 0
        for r in readings:
            same = [
                x.reading
                for x in existing
                if x.reading.crew_id == r.crew_id
                and x.reading.start < r.end
                and r.start < x.reading.end
            ]
            if any(
                (x.start, x.end, x.dose_msv, x.dosimeter)
                == (r.start, r.end, r.dose_msv, r.dosimeter)
                for x in same
            ):
                repeats += 1
                continue
            if same:
                where = f"line {r.line}: " if r.line else ""
                raise LedgerError(
                    f"{source}: {where}{r.crew_id}'s readout overlaps a dose of "
                    "record already in the ledger (one per crew member and time)"
                )
            new.append(r)
        out = []
        rows = []
        for r in new:
            c = compare(r, bins, self.covered_s(r.start, r.end), adopted=adopt_records)
            c = dataclasses.replace(c, estimate_at_import_msv=c.estimate_msv)
            out.append(c)
            rows.append(
                (
                    r.crew_id,
                    r.start,
                    r.end,
                    r.dose_msv,
                    r.quantity,
                    r.dosimeter,
                    int(adopt_records),
                    c.estimate_msv,
                    imported,
                    source,
                )
            )
        try:
            with self._db as db:
                db.executemany(
                    "INSERT INTO ledger_records (crew_id, period_start, period_end, "
                    "dose_msv, quantity, dosimeter, adopted, estimate_msv, imported, "
                    "source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: dose ledger write failed ({exc})") from exc
        return out, repeats

    # -------------------------------------------------------------- writing

    def record(
        self,
        first: float,
        until: float,
        bins: Mapping[str, Mapping[float, float]],
        settled: float | None = None,
        *,
        wait_s: float = 5.0,
    ) -> int:
        """Write this session's dose per crew and bin, integrated over [first, until].

        ``bins`` holds the dose accrued in each bin by this session (sample
        time). Bins before the one ``settled`` (default ``until``) falls in
        are then complete: they are not written again; later ones are
        rewritten by the next call (late data may still revise them).
        Returns the rows written (0 when read-only). ``wait_s`` is how long
        to wait for another program's lock on the file (SQLite busy timeout):
        a live session passes a short one, so its thread never stalls for
        seconds, and retries later.

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
            self._db.execute(f"PRAGMA busy_timeout = {max(0, round(wait_s * 1000))}")
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
