"""Bookmarks of a recorded session, kept in a sidecar file beside it, never inside it.

A replay writes nothing into the archive it reads, yet a trainer's bookmarks
must travel with the session: ``<name>.bookmarks.sqlite`` next to the session.
Each bookmark has an audience: everyone, or the trainers only (notes that
would give a trainee the answers); a training run shows only the former.
"""

from __future__ import annotations

import math
import sqlite3
import stat
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from telemetry.core.side_file import (
    check_identity,
    create_file,
    create_schema,
    open_side_file,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

BOOKMARKS_APPLICATION_ID: Final = 0x4B424D4B  # "KBMK"
BOOKMARKS_SCHEMA_VERSION: Final = 2
SIDECAR_SUFFIX: Final = ".bookmarks.sqlite"
MAX_TEXT: Final = 2000
BUSY_TIMEOUT_S: Final = 5.0

# The sidecar (application_id 0x4B424D4B "KBMK", user_version 2). A rollback
# journal rather than WAL: writes are rare, and several consoles, possibly on
# a shared directory, read and write it; WAL needs shared memory and a
# writable -shm even to read.
#   sidecar     one row: the session file it annotates (its name) and when
#               the sidecar was created (wall clock).
#   bookmarks   time: sample time in the session; created: wall clock;
#               audience (version 2): "all", or "trainer" for notes a
#               trainee must not see. A version 1 file gains the column
#               (every bookmark "all") at its next write; read, it is "all".
SCHEMA: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS sidecar (
    session TEXT NOT NULL,
    created REAL NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS bookmarks (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    created REAL NOT NULL,
    audience TEXT NOT NULL DEFAULT 'all'
)""",
)
#: Who sees a bookmark: everyone, or the trainers only (never a trainee).
AUDIENCES: Final = ("all", "trainer")


class BookmarkError(ValueError):
    """A bookmark or sidecar that cannot be used (names the file); any thread."""


@dataclass(frozen=True, slots=True)
class Bookmark:
    """One bookmark: a sample time in the session and a note; immutable, any thread."""

    id: int
    time: float
    author: str
    text: str
    created: float
    audience: str = "all"

    @property
    def trainee_visible(self) -> bool:
        """Tell whether a trainee may see it (a trainer-only note is hidden)."""
        return self.audience != "trainer"


def sidecar_path(session: str | Path) -> Path:
    """Return the bookmarks file of a session, the same name with its suffix.

    ``x.session.sqlite`` gives ``x.session.bookmarks.sqlite``; a name not
    ending in ``.sqlite`` gets the suffix appended.
    """
    session = Path(session)
    name = session.name
    base = name[: -len(".sqlite")] if name.endswith(".sqlite") else name
    return session.with_name(base + SIDECAR_SUFFIX)


class BookmarkFile:
    """The bookmarks sidecar of one recorded session; usable from any thread.

    Every call opens its own short-lived SQLite connection, so several
    consoles replaying the same session (even from a shared directory) see
    each other's bookmarks and never hold a lock between calls. The session
    file itself is never opened for writing.
    """

    def __init__(
        self, session: str | Path, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.session = Path(session)
        self.path = sidecar_path(self.session)  # never the session's own name
        self._clock = clock

    # -------------------------------------------------------------- reading

    def read(self, *, trainee: bool = False) -> list[Bookmark]:
        """Return every bookmark, oldest sample time first; [] without a sidecar.

        With ``trainee``, only those a trainee may see (not trainer-only ones).
        """
        if not self.path.is_file():
            return []
        try:
            conn = open_side_file(self.path, readonly=True, timeout=BUSY_TIMEOUT_S)
        except sqlite3.Error as exc:
            raise BookmarkError(f"{self.path}: cannot read bookmarks: {exc}") from None
        try:
            self._check(conn, creating=False)
            columns = {r[1] for r in conn.execute("PRAGMA table_info(bookmarks)")}
            audience = "audience" if "audience" in columns else "'all'"
            rows = conn.execute(
                f"SELECT id, time, author, text, created, {audience} FROM bookmarks"
                " ORDER BY time, id"
            ).fetchall()
        except sqlite3.Error as exc:
            raise BookmarkError(f"{self.path}: cannot read bookmarks: {exc}") from None
        finally:
            conn.close()
        marks = [
            Bookmark(int(r[0]), float(r[1]), r[2], r[3], float(r[4]), str(r[5]))
            for r in rows
        ]
        return [m for m in marks if m.trainee_visible] if trainee else marks

    def version(self) -> tuple[int, int] | None:
        """Return what changes whenever anyone writes the sidecar (None: no file).

        A stat: cheap enough to poll every few seconds for other consoles'
        bookmarks.
        """
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    # -------------------------------------------------------------- writing

    def add(
        self, time: float, author: str, text: str, *, audience: str = "all"
    ) -> Bookmark:
        """Store a bookmark at sample time ``time``; return it (with its id).

        ``audience``: "all", or "trainer" to hide it from trainees.

        Creates the sidecar on first use, with the session file's permission
        bits: whoever may read the session may read its bookmarks.
        """
        text = text.strip()
        if not text:
            raise BookmarkError("a bookmark needs some text")
        if len(text) > MAX_TEXT:
            raise BookmarkError(f"bookmark text is limited to {MAX_TEXT} characters")
        if not math.isfinite(time):
            raise BookmarkError(f"bookmark time must be a finite number, got {time!r}")
        if audience not in AUDIENCES:
            raise BookmarkError(
                f"bookmark audience must be {' or '.join(AUDIENCES)}, got {audience!r}"
            )
        created = self._clock()
        with self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO bookmarks (time, author, text, created, audience)"
                " VALUES (?,?,?,?,?)",
                (float(time), author.strip(), text, created, audience),
            )
            row_id = int(cursor.lastrowid or 0)
        return Bookmark(row_id, float(time), author.strip(), text, created, audience)

    def set_audience(self, bookmark_id: int, audience: str) -> bool:
        """Show a bookmark to everyone or to trainers only; return whether it exists."""
        if audience not in AUDIENCES:
            raise BookmarkError(
                f"bookmark audience must be {' or '.join(AUDIENCES)}, got {audience!r}"
            )
        if not self.path.is_file():
            return False
        with self._connect() as conn:
            cursor = conn.execute(
                "UPDATE bookmarks SET audience = ? WHERE id = ?",
                (audience, bookmark_id),
            )
            return cursor.rowcount > 0

    def remove(self, bookmark_id: int) -> bool:
        """Delete a bookmark by id; return whether it existed."""
        if not self.path.is_file():
            return False
        with self._connect() as conn:
            cursor = conn.execute("DELETE FROM bookmarks WHERE id = ?", (bookmark_id,))
            return cursor.rowcount > 0

    # ------------------------------------------------------------ internals

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed on success; SQLite errors name the file."""
        if not self.path.exists():
            self._create_file()
        try:
            conn = open_side_file(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise BookmarkError(f"{self.path}: cannot open bookmarks: {exc}") from None
        try:
            conn.execute("BEGIN IMMEDIATE")
            if self._check(conn, creating=True):
                create_schema(
                    conn,
                    SCHEMA,
                    application_id=BOOKMARKS_APPLICATION_ID,
                    schema_version=BOOKMARKS_SCHEMA_VERSION,
                )
                conn.execute(
                    "INSERT INTO sidecar (session, created) VALUES (?, ?)",
                    (self.session.name, self._clock()),
                )
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise BookmarkError(f"{self.path}: cannot save bookmarks: {exc}") from None
        finally:
            conn.close()  # an open transaction is rolled back

    def _create_file(self) -> None:
        try:
            mode = stat.S_IMODE(self.session.stat().st_mode) & 0o666
        except OSError:
            mode = 0o600
        try:
            create_file(self.path, mode or 0o600)  # another console's first: fine
        except OSError as exc:
            raise BookmarkError(
                f"cannot create {self.path} (bookmarks are stored next to the "
                f"session): {exc.strerror or exc}"
            ) from None

    def _check(self, conn: sqlite3.Connection, *, creating: bool) -> bool:
        """Refuse files that are not a bookmarks sidecar; True if it is still empty."""
        empty = check_identity(
            conn,
            self.path,
            application_id=BOOKMARKS_APPLICATION_ID,
            schema_version=BOOKMARKS_SCHEMA_VERSION,
            what="a bookmarks file",
            error=BookmarkError,
        )
        if not empty:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if creating and version < 2:  # in the write transaction: upgrade
                conn.execute(
                    "ALTER TABLE bookmarks ADD COLUMN audience TEXT NOT NULL"
                    " DEFAULT 'all'"
                )
                conn.execute(f"PRAGMA user_version={BOOKMARKS_SCHEMA_VERSION}")
        if empty and not creating:
            raise BookmarkError(f"{self.path}: empty bookmarks file")
        return empty
