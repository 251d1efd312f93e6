"""A FIFO bounded in bytes, not items: what waits cannot outgrow memory.

Used where one thread hands data to another that may fall behind: the
receive queue between the ``zmq-subscriber`` and ``telemetry-pipeline``
threads (``telemetry.bus.handoff``), and the archive queue in front of the
``archive-writer`` thread (``telemetry.archive.backlog``). A count of items
bounds nothing when one message may be 64 MiB and another 40 bytes.

Producers never block: an item that does not fit is refused and the producer
counts it as lost. An item's bytes stay counted until the consumer
*releases* them (processed, committed, or given up), so the budget bounds
what the consumer still holds too, not only what is queued. Control items
(stop, flush, wake) cost nothing and are never refused.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Generic, TypeVar

T = TypeVar("T")


class Empty(Exception):
    """Nothing arrived before the timeout."""


class ByteBoundedQueue(Generic[T]):
    """A FIFO whose held bytes are capped at ``max_bytes``; any thread.

    A producer either :meth:`put` an item with its cost, or first
    :meth:`reserve` the cost of each part it collects and then hands the
    whole batch over with :meth:`put_reserved` (one lock and one wake-up per
    batch instead of per message). A cost that would take the held bytes
    past the budget is refused, except into an empty queue: one item larger
    than the whole budget still passes, so the bound is ``max_bytes`` plus
    one item.
    """

    def __init__(self, max_bytes: int, what: str = "queue") -> None:
        if max_bytes < 1:
            raise ValueError(f"the {what} needs a budget of at least 1 byte")
        self.max_bytes = int(max_bytes)
        self._items: collections.deque[tuple[T, bool]] = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._held = 0
        self._data = 0
        self._peak = 0

    @property
    def held_bytes(self) -> int:
        """Bytes reserved, queued or taken but not yet released."""
        return self._held

    @property
    def peak_bytes(self) -> int:
        """The most bytes ever held at once."""
        return self._peak

    def qsize(self) -> int:
        """Return how many data items are queued (control items not counted)."""
        return self._data

    def reserve(self, nbytes: int) -> bool:
        """Count ``nbytes`` against the budget unless they do not fit; never blocks."""
        with self._cond:
            if self._held + nbytes > self.max_bytes and self._held > 0:
                return False
            self._held += nbytes
            self._peak = max(self._peak, self._held)
        return True

    def put_reserved(self, item: T) -> None:
        """Queue a data item whose bytes were already :meth:`reserve`-d."""
        with self._cond:
            self._data += 1
            self._items.append((item, True))
            self._cond.notify()

    def put(self, item: T, nbytes: int) -> bool:
        """Queue ``item`` costing ``nbytes`` unless it does not fit; never blocks."""
        with self._cond:
            if self._held + nbytes > self.max_bytes and self._held > 0:
                return False
            self._held += nbytes
            self._peak = max(self._peak, self._held)
            self._data += 1
            self._items.append((item, True))
            self._cond.notify()
        return True

    def put_control(self, item: T) -> None:
        """Queue a control item (costs nothing, always accepted)."""
        with self._cond:
            self._items.append((item, False))
            self._cond.notify()

    def get(self, timeout: float | None = None) -> T:
        """Take the oldest item, waiting up to ``timeout`` s (None: forever)."""
        with self._cond:
            if not self._items:
                deadline = None if timeout is None else time.monotonic() + timeout
                while not self._items:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise Empty
                    self._cond.wait(left)
            item, data = self._items.popleft()
            if data:
                self._data -= 1
            return item

    def get_nowait(self) -> T:
        """Take the oldest item or raise :class:`Empty`."""
        return self.get(timeout=0.0)

    def release(self, nbytes: int) -> None:
        """Give back the budget of items the consumer has finished with."""
        with self._cond:
            self._held = max(0, self._held - nbytes)


__all__ = ["ByteBoundedQueue", "Empty"]
