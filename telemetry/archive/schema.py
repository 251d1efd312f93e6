"""The archive file format: its DDL, identity (application id, schema version), checks.

Module-level constants and pure functions only; used by the writer thread and
by any thread that opens a reader. Schema for users: docs/archive-schema.md.
"""

from __future__ import annotations

import importlib.metadata
import os
import sqlite3
import struct
from pathlib import Path
from typing import Final

SCHEMA_VERSION: Final = 1
APPLICATION_ID: Final = 0x4B49424F  # "KIBO" in the SQLite file header

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

_MAGIC: Final = b"SQLite format 3\x00"
_HEADER: Final = 100


class ArchiveError(ValueError):
    """A file that cannot be used as an archive; the message names it and why.

    A ``ValueError``, so every command reports it as one line and exits 2.
    """


def installed_version() -> str:
    """Return the installed kibo-console version, or ``"unknown"``."""
    try:
        return importlib.metadata.version("kibo-console")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def probe_file(path: str, *, allow_empty: bool = False) -> None:
    """Refuse, before SQLite sees it, a file that cannot be an archive.

    Zero bytes (unless ``allow_empty``: the writer makes it one), a file that
    does not start with the SQLite header, and a file shorter than its header
    says (truncated: copied or downloaded in part). The length check is made
    only without a ``-wal`` file beside it: with one, a writer may be between
    checkpoints, when the header runs ahead of the file.
    """
    try:
        with open(path, "rb") as f:
            header = f.read(_HEADER)
            size = os.fstat(f.fileno()).st_size
    except IsADirectoryError:
        raise ArchiveError(f"{path} is a directory, not an archive") from None
    if not header:
        if allow_empty:
            return
        raise ArchiveError(f"{path} is empty (0 bytes), not an archive")
    if len(header) < _HEADER or not header.startswith(_MAGIC):
        raise ArchiveError(f"{path} is not an SQLite file, so not an archive")
    (page,) = struct.unpack_from(">H", header, 16)
    page_size = 65536 if page == 1 else page
    counter, pages = struct.unpack_from(">II", header, 24)
    (valid_for,) = struct.unpack_from(">I", header, 92)
    wal = Path(path + "-wal")
    truncated = pages and counter == valid_for and size < pages * page_size
    if truncated and not (wal.exists() and wal.stat().st_size > 0):
        raise ArchiveError(
            f"{path} is truncated: {size} bytes of the {pages * page_size} "
            "its header declares (a partial copy?)"
        )


def check_archive(conn: sqlite3.Connection, path: str) -> None:
    """Refuse a foreign SQLite file or an archive of a newer schema (ArchiveError).

    Damage SQLite notices while reading the header is reported the same way.
    """
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(f"{path} is damaged or not an archive ({exc})") from None
    if tables and app_id != APPLICATION_ID:
        raise ArchiveError(f"{path} is an SQLite file but not a Kibo console archive")
    if version > SCHEMA_VERSION:
        raise ArchiveError(
            f"{path} has archive schema v{version}; this console reads up to "
            f"v{SCHEMA_VERSION}"
        )
