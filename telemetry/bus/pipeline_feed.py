"""The receive queue and the ``telemetry-pipeline`` thread behind the subscriber.

The ``zmq-subscriber`` thread only receives: it copies each message out of
libzmq and hands it here. While the pipeline is behind (a burst, a slow
deriver, the GIL held by the GUI), what waits is held in a queue bounded in
BYTES (``telemetry.core.byte_queue``), not in libzmq's queue, which is
bounded only in messages (each up to 64 MiB). A message that does not fit is
dropped at once, never blocking the receive thread, and counted: the
subscriber reports it as "receive queue full" and the recorder's last line
says DATA LOST.

A message costs its parts' bytes plus a fixed overhead per part and per
message (the Python objects around them), so a flood of tiny messages is
bounded too, not only a few large ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from telemetry.core.byte_queue import ByteBoundedQueue, Empty

log = logging.getLogger(__name__)

PART_OVERHEAD: Final = 64
"""Bytes counted per part beyond its payload: the ``bytes`` object (33) and its
list slot, rounded up for the allocator."""
MESSAGE_OVERHEAD: Final = 160
"""Bytes counted per message: its parts list, the ``(parts, received)`` tuple,
the float and its slot in a batch."""
BATCH_MESSAGES: Final = 500
"""The receive thread hands over at most this many messages at once: one lock
and one wake-up per batch, not per message, and a slow pipeline still sees the
first messages of a burst early."""
DRAIN_ON_STOP_S: Final = 10.0
"""How long a normal stop lets the pipeline work through what is queued
(256 MiB of typical telemetry takes a few seconds); the rest is counted lost."""

Message = tuple[list[bytes], float]
"""``(parts, received)``: one message as the receive thread got it."""
MessageHandler = Callable[[list[bytes], float], object]
TickHandler = Callable[[float], None]


def message_cost(parts: list[bytes]) -> int:
    """Return the bytes one received message is counted for in the queue."""
    return MESSAGE_OVERHEAD + sum(len(p) + PART_OVERHEAD for p in parts)


@dataclass(frozen=True, slots=True)
class ReceiveLoss:
    """Messages this console received but never processed; any thread may ask.

    ``messages``/``nbytes`` dropped with the receive queue full (``budget``
    bytes), ``at_stop`` of them still queued when a stop's drain deadline
    passed.
    """

    messages: int
    nbytes: int
    budget: int
    at_stop: int = 0

    def __bool__(self) -> bool:
        return self.messages > 0

    def summary(self) -> str:
        """One line for a terminal or a log: how much, and why."""
        reasons = []
        full = self.messages - self.at_stop
        if full:
            reasons.append(
                f"{full} with its receive queue full ({self.budget / 2**20:.0f} MiB): "
                "the pipeline was behind"
            )
        if self.at_stop:
            reasons.append(
                f"{self.at_stop} still queued when the stop's "
                f"{DRAIN_ON_STOP_S:.0f} s drain ended"
            )
        return (
            f"DATA LOST: {self.messages} messages ({self.nbytes / 2**20:.1f} MiB) "
            f"dropped by this console, {'; '.join(reasons)}; they show as "
            "sequence gaps"
        )


@dataclass
class _Batch:
    """Messages handed over together, and the bytes they were counted for.

    Built by the ``zmq-subscriber`` thread, then only read by the
    ``telemetry-pipeline`` thread once queued.
    """

    messages: list[Message]
    cost: int


class PipelineFeed:
    """The byte-bounded receive queue and the ``telemetry-pipeline`` thread.

    :meth:`admit` and :meth:`flush` are called by the ``zmq-subscriber``
    thread only; the ``telemetry-pipeline`` thread this object starts calls
    ``on_message(parts, received)`` for each message in order and
    ``on_tick(now)`` every ``tick_s`` (between messages too, and when nothing
    arrives). The counters may be read from any thread.
    """

    def __init__(
        self,
        max_bytes: int,
        on_message: MessageHandler,
        on_tick: TickHandler | None,
        clock: Callable[[], float],
        tick_s: float,
    ) -> None:
        self.queue: ByteBoundedQueue[_Batch | None] = ByteBoundedQueue(
            max_bytes, "receive queue"
        )
        self.on_message = on_message
        self.on_tick = on_tick
        self.clock = clock
        self.tick_s = tick_s
        self._thread: threading.Thread | None = None
        self._abandon = threading.Event()
        self._next_tick = 0.0  # monotonic; telemetry-pipeline thread
        self._pending: list[Message] = []
        self._pending_cost = 0
        # Written by the zmq-subscriber thread (until it has stopped).
        self.admitted = 0
        self.dropped = 0
        self.dropped_bytes = 0
        # Written by the telemetry-pipeline thread.
        self.processed = 0
        self.dropped_at_stop = 0
        self.internal_errors = 0
        self.error = ""

    @property
    def budget(self) -> int:
        return self.queue.max_bytes

    @property
    def queued_bytes(self) -> int:
        """Bytes received and not yet processed (queued or in the pipeline)."""
        return self.queue.held_bytes

    def loss(self) -> ReceiveLoss:
        """Return everything received and not processed so far."""
        return ReceiveLoss(
            self.dropped + self.dropped_at_stop,
            self.dropped_bytes,
            self.budget,
            self.dropped_at_stop,
        )

    # ----------------------------------------------- zmq-subscriber thread

    def admit(self, parts: list[bytes], received: float) -> bool:
        """Add a message to the next batch, or drop and count it if it does not fit."""
        cost = message_cost(parts)
        if not self.queue.reserve(cost):
            self.dropped += 1
            self.dropped_bytes += cost
            return False
        self.admitted += 1
        self._pending.append((parts, received))
        self._pending_cost += cost
        if len(self._pending) >= BATCH_MESSAGES:
            self.flush()
        return True

    def flush(self) -> None:
        """Hand the messages admitted so far to the pipeline thread."""
        if self._pending:
            self.queue.put_reserved(_Batch(self._pending, self._pending_cost))
            self._pending, self._pending_cost = [], 0

    # ------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("pipeline feed already started")
        self._thread = threading.Thread(
            target=self._run, name="telemetry-pipeline", daemon=True
        )
        self._thread.start()

    def stop(self, drain_s: float = DRAIN_ON_STOP_S) -> None:
        """Process what is queued (up to ``drain_s``), then end the thread.

        Call after the receive thread has stopped (nothing more is admitted).
        Messages still queued at the deadline are counted in
        :attr:`dropped_at_stop`; the thread is then joined.
        """
        thread = self._thread
        if thread is None:
            return
        self.queue.put_control(None)
        thread.join(max(0.0, drain_s))
        if thread.is_alive():
            self._abandon.set()
            thread.join(2.0)
        if not thread.is_alive():
            self._count_left()

    def _count_left(self) -> None:
        """Count what a thread that ended early (it died) left queued as lost."""
        while True:
            try:
                batch = self.queue.get_nowait()
            except Empty:
                return
            if batch is not None:
                self.dropped_at_stop += len(batch.messages)
                self.dropped_bytes += batch.cost
                self.queue.release(batch.cost)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------ telemetry-pipeline thread

    def _tick(self) -> None:
        if self.on_tick is None:
            return
        try:
            self.on_tick(self.clock())
        except Exception as exc:  # a bug must not stop the feed
            log.exception("internal error in a watchdog tick")
            self.internal_errors += 1
            self.error = f"internal error in a tick: {exc!r}"[:500]

    def _handle(self, parts: list[bytes], received: float) -> None:
        try:
            self.on_message(parts, received)
        except Exception as exc:
            log.exception("internal error on a message")
            self.internal_errors += 1
            self.error = f"internal error on a message: {exc!r}"[:500]

    def _tick_if_due(self) -> None:
        if time.monotonic() >= self._next_tick:
            self._tick()
            self._next_tick = time.monotonic() + self.tick_s

    def _run(self) -> None:
        # Ticks are scheduled on the monotonic clock: the session clock may be
        # a replayed or simulated one; ``on_tick`` still gets ``clock()``.
        self._next_tick = time.monotonic()
        while True:
            self._tick_if_due()
            try:
                item = self.queue.get(max(0.0, self._next_tick - time.monotonic()))
            except Empty:
                continue
            if item is None:
                return
            self._process(item)

    def _process(self, batch: _Batch) -> None:
        """Run one batch through the pipeline, ticking between messages when due."""
        try:
            for index, (parts, received) in enumerate(batch.messages):
                if self._abandon.is_set():
                    left = batch.messages[index:]
                    self.dropped_at_stop += len(left)
                    self.dropped_bytes += sum(message_cost(p) for p, _ in left)
                    break
                self._handle(parts, received)
                self.processed += 1
                self._tick_if_due()
        finally:
            # Released after processing: the budget bounds what the pipeline
            # still holds, not only what waits.
            self.queue.release(batch.cost)
