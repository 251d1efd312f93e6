"""What the archive queue carries: one frozen dataclass per kind of row.

Producers (the telemetry-pipeline thread, the GUI thread) build an item and hand
it to ``ArchiveWriter.put_*``; the ``archive-writer`` thread takes it from the
queue and dispatches on its class with ``match``. Items are immutable, so no
thread changes one after another has seen it.

Every data item carries ``nbytes``, what it keeps alive in memory (bodies,
sample arrays and a fixed overhead), because the queue is bounded in bytes:
a few large messages behind a full disk weigh as much as many small ones.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

Batch = tuple[str, np.ndarray, np.ndarray]
"""One channel's samples: ``("source.channel", times, values)``, float64 each."""

MAX_REJECTED_BODY: Final = 1 << 20
"""Rejected bodies are stored up to this many bytes; ``length`` keeps the size."""

ITEM_OVERHEAD: Final = 256
"""Bytes counted for any item beyond its payload: the object, its fields, strings."""

_MISSING_RE: Final = re.compile(
    r"(?:missing|missed|lost)\D{0,3}(\d+)|(\d+)\s+(?:frames?\s+)?(?:missing|missed|lost)",
    re.IGNORECASE,
)


def missing_count(detail: str) -> int | None:
    """Return the missing-frame count written in a gap event's detail, if any.

    Understands ``"missing 5"``, ``"missed=5"``, ``"5 frames missing"`` and the
    like; callers that know the number should pass ``count=`` instead.
    """
    match = _MISSING_RE.search(detail)
    if match is None:
        return None
    return int(match.group(1) or match.group(2))


def batches_bytes(batches: Sequence[Batch]) -> int:
    """Bytes of sample arrays in ``batches`` (shared arrays counted once each)."""
    seen: set[int] = set()
    total = 0
    for _key, times, values in batches:
        for array in (times, values):
            if id(array) not in seen:
                seen.add(id(array))
                total += int(getattr(array, "nbytes", 8 * len(array)))
    return total


def batches_samples(batches: Sequence[Batch]) -> int:
    """Return the number of samples in ``batches``."""
    return sum(len(b[1]) for b in batches)


@dataclass(frozen=True, slots=True)
class FrameItem:
    """A raw frame: what its ``frames`` row needs, and its channels' samples.

    The decoded columns are not kept: they would double what waits in memory.
    """

    received: float
    family: str
    source: str
    seq: int
    t_first: float | None
    t_last: float | None
    rows: int
    encoding: str
    body: bytes
    batches: Sequence[Batch]
    nbytes: int

    label = "frames"

    @property
    def samples(self) -> int:
        return batches_samples(self.batches)


@dataclass(frozen=True, slots=True)
class SamplesItem:
    """Derived samples with no raw frame (dose channels)."""

    batches: Sequence[Batch]
    nbytes: int

    label = "derived sample batches"

    @property
    def samples(self) -> int:
        return batches_samples(self.batches)


@dataclass(frozen=True, slots=True)
class ChannelItem:
    """Channel metadata, upserted by key."""

    key: str
    unit: str
    declared: bool
    derived: bool
    states_json: str
    nbytes: int = ITEM_OVERHEAD

    label = "channel records"
    samples = 0


@dataclass(frozen=True, slots=True)
class RejectedItem:
    """A rejected message, its body cut to ``MAX_REJECTED_BODY``."""

    received: float
    topic: bytes
    body: bytes
    length: int
    source: str | None
    reason: str
    detail: str
    nbytes: int

    label = "rejected frames"
    samples = 0


@dataclass(frozen=True, slots=True)
class EventItem:
    """An event: gap, restart, link, archive trouble, SPE..."""

    time: float
    source: str | None
    kind: str
    detail: str
    severity: int
    count: int | None
    nbytes: int = ITEM_OVERHEAD

    label = "events"
    samples = 0


@dataclass(frozen=True, slots=True)
class TransitionItem:
    """A limit transition of one channel."""

    time: float
    key: str
    severity: int
    previous: int
    value: float
    threshold: float | None
    kind: str
    nbytes: int = ITEM_OVERHEAD

    label = "limit transitions"
    samples = 0


@dataclass(frozen=True, slots=True)
class ActionItem:
    """An operator action (ack, shelve, note...)."""

    time: float
    operator: str
    action: str
    target: str
    comment: str
    nbytes: int = ITEM_OVERHEAD

    label = "operator actions"
    samples = 0


@dataclass(frozen=True, slots=True)
class BookmarkItem:
    """A bookmark written during a live session."""

    time: float
    author: str
    text: str
    nbytes: int = ITEM_OVERHEAD

    label = "bookmarks"
    samples = 0


@dataclass(frozen=True, slots=True)
class Flush:
    """Control: set ``done`` once everything queued before it is committed."""

    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, slots=True)
class Stop:
    """Control: write what is queued, then end the writer thread."""


@dataclass(frozen=True, slots=True)
class Wake:
    """Control: wake the writer to run an out-of-band command."""


DataItem = (
    FrameItem
    | SamplesItem
    | ChannelItem
    | RejectedItem
    | EventItem
    | TransitionItem
    | ActionItem
    | BookmarkItem
)
Control = Flush | Stop | Wake
QueueItem = DataItem | Control


def describe(item: DataItem) -> str:
    """Name an item in an error message."""
    match item:
        case FrameItem(family=family, source=source, seq=seq):
            return f"frame {family}.{source} seq {seq}"
        case _:
            return f"one of the {item.label}"


__all__ = [
    "ITEM_OVERHEAD",
    "MAX_REJECTED_BODY",
    "ActionItem",
    "Batch",
    "BookmarkItem",
    "ChannelItem",
    "Control",
    "DataItem",
    "EventItem",
    "Flush",
    "FrameItem",
    "QueueItem",
    "RejectedItem",
    "SamplesItem",
    "Stop",
    "TransitionItem",
    "Wake",
    "batches_bytes",
    "batches_samples",
    "describe",
    "missing_count",
]
