"""Small SQLite files beside the archive: open, identify, create. One helper for all.

The bookmarks sidecar, the dose ledger and the training log are each an
SQLite file of their own. Opening one is always the same three steps, done
here once: create it owner-only (or with the mode asked) whatever the umask,
connect read-write or read-only, and check that it is the file it should be
(its ``application_id``) and not of a newer schema (its ``user_version``).
A refused file raises the caller's own error class with one line naming it;
SQLite errors are left to the caller, which says what it was doing. Functions
only; the connection belongs to whichever thread the caller opens it on.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: application_id of the console's files, so each can name what it was given.
KNOWN_FILES: Final[dict[int, str]] = {
    0x4B49424F: "a console archive",  # "KIBO"
    0x4B424D4B: "a bookmarks file",  # "KBMK"
    0x4B54524E: "a training log",  # "KTRN"
}


class SideFileError(ValueError):
    """A side file that cannot be used; the message names it and why."""


def create_file(path: str | os.PathLike[str], mode: int = 0o600) -> bool:
    """Create ``path`` empty with exactly ``mode``; False if it already existed."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, mode)  # whatever the umask
    finally:
        os.close(fd)
    return True


def open_side_file(
    path: str | os.PathLike[str],
    *,
    readonly: bool = False,
    mode: int = 0o600,
    timeout: float = 5.0,
    isolation_level: Literal["DEFERRED", "EXCLUSIVE", "IMMEDIATE"] | None = "DEFERRED",
    check_same_thread: bool = True,
) -> sqlite3.Connection:
    """Connect to a side file, creating it (``mode``) unless ``readonly``.

    Read-only connections use ``mode=ro`` and never create anything; a
    missing file is then ``FileNotFoundError``. ``isolation_level``
    ``"DEFERRED"`` is sqlite3's default (implicit transactions), ``None``
    autocommit. Raises ``sqlite3.Error`` or ``OSError`` as they come.
    """
    path = Path(path)
    if readonly:
        if not path.is_file():
            raise FileNotFoundError(f"no file at {path}")
        target = f"{path.resolve().as_uri()}?mode=ro"
    else:
        create_file(path, mode)
        target = str(path)
    return sqlite3.connect(
        target,
        uri=readonly,
        timeout=timeout,
        isolation_level=isolation_level,
        check_same_thread=check_same_thread,
    )


def check_identity(
    conn: sqlite3.Connection,
    path: str | os.PathLike[str],
    *,
    application_id: int,
    schema_version: int,
    what: str,
    error: type[Exception] = SideFileError,
    others: Mapping[int, str] = KNOWN_FILES,
) -> bool:
    """Refuse a foreign or newer file; return True if it is empty (to be created).

    ``what`` names the expected kind ("a training log") in the messages,
    raised as ``error``. A file SQLite cannot read raises ``sqlite3.Error``.
    """
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id == application_id:
        if version > schema_version:
            raise error(
                f"{path}: schema {version} is newer than this console reads "
                f"({schema_version}); it is {what} of a later version"
            )
        return False
    if app_id in others or tables:
        raise error(f"{path} is {others.get(app_id, 'an SQLite file')}, not {what}")
    return True


def create_schema(
    conn: sqlite3.Connection,
    statements: Sequence[str],
    *,
    application_id: int,
    schema_version: int,
) -> None:
    """Run the DDL and stamp the file's identity (inside the caller's transaction)."""
    for statement in statements:
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id={int(application_id)}")
    conn.execute(f"PRAGMA user_version={int(schema_version)}")


__all__ = [
    "KNOWN_FILES",
    "SideFileError",
    "check_identity",
    "create_file",
    "create_schema",
    "open_side_file",
]
