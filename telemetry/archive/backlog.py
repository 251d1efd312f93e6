"""The archive queue, bounded in bytes: what waits for the disk cannot outgrow memory.

Producers (the zmq-subscriber and GUI threads) put items without ever
blocking; the ``archive-writer`` thread takes them. An item's bytes stay
counted until the writer *releases* them (committed, or given up), so a batch
held for retry behind a full disk is counted too: the budget bounds
everything the archive keeps in memory, not only what is still queued.
Control items (flush, stop, wake) cost nothing and are never refused.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Final

from telemetry.archive.items import Control, DataItem, QueueItem

DEFAULT_QUEUE_BYTES: Final = 64 << 20
"""64 MiB: minutes of a busy station's telemetry, small beside the live buffers."""


class Empty(Exception):
    """Nothing arrived before the timeout."""


class ByteBoundedQueue:
    """A FIFO of archive items whose payload bytes are capped; any thread.

    ``put`` refuses (returns False) an item that would take the held bytes
    past ``max_bytes``; one item larger than the whole budget is accepted
    only into an empty queue, so a single huge message is still archived.
    """

    def __init__(self, max_bytes: int = DEFAULT_QUEUE_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError("the archive queue needs a budget of at least 1 byte")
        self.max_bytes = int(max_bytes)
        self._items: collections.deque[QueueItem] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._held = 0
        self._data = 0

    @property
    def held_bytes(self) -> int:
        """Bytes of items queued or taken but not yet released."""
        return self._held

    def qsize(self) -> int:
        """Return how many data items are queued (control items not counted)."""
        return self._data

    def put(self, item: DataItem) -> bool:
        """Queue ``item`` unless that would exceed the budget; never blocks."""
        with self._cond:
            cost = item.nbytes
            if self._held + cost > self.max_bytes and self._held > 0:
                return False
            self._held += cost
            self._data += 1
            self._items.append(item)
            self._cond.notify()
        return True

    def put_control(self, item: Control) -> None:
        """Queue a control item (always accepted)."""
        with self._cond:
            self._items.append(item)
            self._cond.notify()

    def get(self, timeout: float | None = None) -> QueueItem:
        """Take the oldest item, waiting up to ``timeout`` s (None: forever)."""
        with self._cond:
            if not self._items:
                deadline = None if timeout is None else time.monotonic() + timeout
                while not self._items:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise Empty
                    self._cond.wait(left)
            item = self._items.popleft()
            if not isinstance(item, Control):
                self._data -= 1
            return item

    def get_nowait(self) -> QueueItem:
        """Take the oldest item or raise :class:`Empty`."""
        return self.get(timeout=0.0)

    def release(self, nbytes: int) -> None:
        """Give back the budget of items the writer has finished with."""
        with self._cond:
            self._held = max(0, self._held - nbytes)


__all__ = ["DEFAULT_QUEUE_BYTES", "ByteBoundedQueue", "Empty"]
