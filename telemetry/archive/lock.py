"""One writer per archive file, enforced with an exclusive ``flock``.

SQLite would let two writers take turns on one file; each would then believe
it owns the session. The lock is taken on ``<archive>-writer.lock`` beside the
archive (not on the archive itself, whose byte-range locks belong to SQLite)
by the thread that creates the writer, and released by the one that stops it.
Readers never take it, so ``info``, ``export`` and the rest work beside a live
recorder and on read-only media. The kernel drops the lock when a process
dies, so a SIGKILLed recorder never leaves the file locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Final

LOCK_SUFFIX: Final = "-writer.lock"


class ArchiveBusyError(ValueError):
    """The archive cannot be had for writing: another writer holds it, or no lock."""


class WriterLock:
    """The exclusive right to write one archive, from ``acquire`` to ``release``."""

    def __init__(self, archive: str) -> None:
        self.archive = archive
        # Beside the real file: a path through a symlink locks the same file.
        self.path = os.path.realpath(archive) + LOCK_SUFFIX
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`ArchiveBusyError` at once (never waits).

        The pid of the holder is written into the lock file so the refusal
        can name it.
        """
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise ArchiveBusyError(
                    f"cannot write {self.archive}: {exc.strerror or exc} "
                    f"(creating its writer lock {self.path})"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise ArchiveBusyError(
                    f"{self.archive} is already being written by another recorder "
                    f"or console{holder}; give each a file of its own"
                ) from None
            # The previous holder may have removed the file between our open
            # and our flock: then we hold a lock on a name nobody else sees.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Remove the lock file and drop the lock (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.unlink(self.path)  # while still held: no one can be fooled by it
        os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (process {text})" if text.isdigit() else ""


__all__ = ["LOCK_SUFFIX", "ArchiveBusyError", "WriterLock"]
