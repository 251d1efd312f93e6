"""Files only their owner may read: archives, dose ledgers, training logs, keys.

Operator data (crew dose, sessions) must not be readable by other users of a
shared ground-station machine, whatever their umask.
"""

from __future__ import annotations

import os


def create_private_file(path: str) -> None:
    """Create ``path`` as an empty file readable by its owner only (0o600).

    An existing file is left as it is. SQLite gives the ``-wal`` and ``-shm``
    files it creates later the same permissions as the database file.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
    finally:
        os.close(fd)
