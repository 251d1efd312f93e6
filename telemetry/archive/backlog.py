"""The archive queue, bounded in bytes: what waits for the disk cannot outgrow memory.

Producers (the ``telemetry-pipeline`` and GUI threads) put items without ever
blocking; the ``archive-writer`` thread takes them. An item's bytes stay
counted until the writer *releases* them (committed, or given up), so a batch
held for retry behind a full disk is counted too: the budget bounds
everything the archive keeps in memory, not only what is still queued.
Control items (flush, stop, wake) cost nothing and are never refused. The
byte accounting itself is ``telemetry.core.byte_queue``, shared with the
receive queue in front of the pipeline.
"""

from __future__ import annotations

from typing import Final

from telemetry.archive.items import DataItem, QueueItem
from telemetry.core.byte_queue import ByteBoundedQueue, Empty

DEFAULT_QUEUE_BYTES: Final = 64 << 20
"""64 MiB: minutes of a busy station's telemetry, small beside the live buffers."""


class ArchiveBacklog(ByteBoundedQueue[QueueItem]):
    """The archive's queue of items, each costing its own ``nbytes``; any thread.

    ``put`` refuses (returns False) an item that would take the held bytes
    past ``max_bytes``; one item larger than the whole budget is accepted
    only into an empty queue, so a single huge message is still archived.
    """

    def __init__(self, max_bytes: int = DEFAULT_QUEUE_BYTES) -> None:
        super().__init__(max_bytes, "archive queue")

    def put_item(self, item: DataItem) -> bool:
        """Queue ``item`` unless that would exceed the budget; never blocks."""
        return self.put(item, item.nbytes)


__all__ = ["DEFAULT_QUEUE_BYTES", "ArchiveBacklog", "Empty"]
