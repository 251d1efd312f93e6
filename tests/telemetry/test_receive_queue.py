"""The receive queue between the zmq-subscriber and telemetry-pipeline threads.

Real sockets on 127.0.0.1: a publisher floods while the pipeline is stalled
or slow on purpose. What waits is bounded in bytes, what does not fit is
dropped, counted and reported once per interval as this console's loss,
ticks keep coming, and a normal stop processes everything received.
"""

from __future__ import annotations

import re
import threading
import tracemalloc
from typing import TYPE_CHECKING

import pytest
import zmq
from polling import wait_for

from telemetry.bus.pipeline_feed import message_cost
from telemetry.bus.subscriber import (
    RECEIVE_QUEUE_FULL,
    TICK_S,
    SubscriberConfig,
    ZmqSubscriber,
)
from telemetry.core.byte_queue import ByteBoundedQueue

if TYPE_CHECKING:
    from collections.abc import Iterator

MIB = 1 << 20


@pytest.fixture
def xpub() -> Iterator[tuple[zmq.Socket[bytes], str]]:
    sock = zmq.Context.instance().socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 0)  # the publisher must not be the one dropping
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    yield sock, f"tcp://127.0.0.1:{port}"
    sock.close(linger=0)


def message(seq: int, size: int) -> list[bytes]:
    return [b"robot.ib2-a", seq.to_bytes(4, "big") + bytes(size - 4)]


def seq_of(parts: list[bytes]) -> int:
    return int.from_bytes(parts[1][:4], "big")


class Events:
    """``on_event`` of a subscriber: what it reported, from any thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str]] = []

    def __call__(self, now: float, kind: str, detail: str) -> None:
        with self.lock:
            self.seen.append((kind, detail))

    def details(self, kind: str) -> list[str]:
        with self.lock:
            return [d for k, d in self.seen if k == kind]


def subscribed(pub: zmq.Socket[bytes]) -> None:
    assert pub.poll(5000), "no subscription arrived"
    pub.recv()


def test_a_stalled_pipeline_under_a_flood_holds_only_its_byte_budget(
    xpub: tuple[zmq.Socket[bytes], str],
) -> None:
    """40 MiB at a pipeline stuck on its first message: 4 MiB wait, the rest is
    dropped, counted and reported as this console's loss; released, the
    pipeline processes what waited, in order, and the feed goes on."""
    pub, endpoint = xpub
    budget, size, count = 4 * MIB, MIB, 40
    release = threading.Event()
    processed: list[int] = []

    def stalled(parts: list[bytes], received: float) -> None:
        release.wait(30.0)
        processed.append(seq_of(parts))

    events = Events()
    sub = ZmqSubscriber(
        SubscriberConfig([endpoint], receive_queue_bytes=budget),
        stalled,
        on_event=events,
    )
    feed = sub.feed
    sub.start()
    try:
        subscribed(pub)
        for seq in range(count):
            pub.send_multipart(message(seq, size))
        wait_for(
            lambda: feed.admitted + feed.dropped == count,
            10.0,
            "every message received (queued or dropped)",
        )
        one = message_cost(message(0, size))
        assert feed.queue.peak_bytes <= budget + one
        assert feed.dropped == count - feed.admitted > 0
        assert feed.dropped_bytes == feed.dropped * one
        assert sub.received == 0 and not processed
        # The first drop is reported at once; the rest fold into later reports.
        [first] = events.details(RECEIVE_QUEUE_FULL)
        assert re.search(r"\d+ messages? \(\d+\.0 MiB\) dropped by this console", first)
        assert "this console's loss, not the publisher's" in first
        loss = sub.loss()
        assert loss and loss.messages == feed.dropped
        assert "dropped by this console" in loss.summary()

        release.set()
        wait_for(lambda: sub.received == feed.admitted, 10.0, "the queue processed")
        assert processed == list(range(feed.admitted))
        assert feed.queued_bytes == 0
        # Room again: the next message goes through.
        pub.send_multipart(message(count, 100))
        wait_for(lambda: processed[-1] == count, 5.0, "a message after the stall")
    finally:
        release.set()
        sub.stop()
    # Folded (the test lasts less than one interval): the first report, and at
    # stop the drops not yet reported. Every drop is in one of them.
    reports = events.details(RECEIVE_QUEUE_FULL)
    assert 1 <= len(reports) <= 2
    counted = [re.search(r"(\d+) messages?", d) for d in reports]
    assert sum(int(m[1]) for m in counted if m) == feed.dropped


def test_ticks_run_on_the_pipeline_thread_with_nothing_arriving(
    xpub: tuple[zmq.Socket[bytes], str],
) -> None:
    _, endpoint = xpub
    threads: list[str] = []
    sub = ZmqSubscriber(
        SubscriberConfig([endpoint]),
        lambda p, r: None,
        on_tick=lambda now: threads.append(threading.current_thread().name),
    )
    sub.start()
    try:
        wait_for(lambda: len(threads) >= 3, 5.0, "three ticks with no traffic")
    finally:
        sub.stop()
    assert set(threads) == {"telemetry-pipeline"}


def test_ticks_keep_their_pace_while_the_pipeline_is_slow(
    xpub: tuple[zmq.Socket[bytes], str],
) -> None:
    """30 messages of 50 ms of work each (1.5 s): the watchdog still ticks
    every TICK_S between them instead of waiting for the batch."""
    pub, endpoint = xpub
    log: list[str] = []
    lock = threading.Lock()

    def slow(parts: list[bytes], received: float) -> None:
        threading.Event().wait(0.05)  # the pipeline's own work, not ZeroMQ
        with lock:
            log.append("message")

    def tick(now: float) -> None:
        with lock:
            log.append("tick")

    sub = ZmqSubscriber(SubscriberConfig([endpoint]), slow, on_tick=tick)
    sub.start()
    try:
        subscribed(pub)
        for seq in range(30):
            pub.send_multipart(message(seq, 100))
        wait_for(lambda: sub.received == 30, 10.0, "30 slow messages")
    finally:
        sub.stop()
    first = log.index("message")
    last = len(log) - 1 - log[::-1].index("message")
    during = log[first:last].count("tick")
    # 1.5 s of work at one tick per 0.25 s: about 6 ticks (4 leaves room for a
    # loaded machine, 0 is what a tick per batch would give).
    assert during >= int(1.5 / TICK_S) - 2, log


def test_stop_processes_everything_received_in_order(
    xpub: tuple[zmq.Socket[bytes], str],
) -> None:
    """Stopped while 200 messages wait for a slow pipeline: none is lost."""
    pub, endpoint = xpub
    gate = threading.Event()
    processed: list[int] = []

    def gated(parts: list[bytes], received: float) -> None:
        gate.wait(30.0)
        processed.append(seq_of(parts))

    sub = ZmqSubscriber(SubscriberConfig([endpoint]), gated)
    sub.start()
    try:
        subscribed(pub)
        for seq in range(200):
            pub.send_multipart(message(seq, 1000))
        wait_for(lambda: sub.feed.admitted == 200, 10.0, "200 messages queued")
        stopper = threading.Thread(target=sub.stop, name="test-stopper")
        stopper.start()
        # The receive thread ends first; the pipeline is still at work.
        wait_for(lambda: not sub.running, 5.0, "the receive thread to end")
        assert sub.feed.running
        gate.set()
        stopper.join(15.0)
    finally:
        gate.set()
        sub.stop()
    assert processed == list(range(200))
    assert not sub.loss() and not sub.feed.running


def test_a_stop_whose_drain_deadline_passes_counts_what_it_left(
    xpub: tuple[zmq.Socket[bytes], str],
) -> None:
    pub, endpoint = xpub
    gate = threading.Event()
    events = Events()
    processed: list[int] = []

    def slow(parts: list[bytes], received: float) -> None:
        gate.wait(30.0)
        threading.Event().wait(0.02)
        processed.append(seq_of(parts))

    sub = ZmqSubscriber(SubscriberConfig([endpoint]), slow, on_event=events)
    sub.start()
    try:
        subscribed(pub)
        for seq in range(100):
            pub.send_multipart(message(seq, 1000))
        wait_for(lambda: sub.feed.admitted == 100, 10.0, "100 messages queued")
        gate.set()
        sub.stop(drain_s=0.3)  # ~15 of the 2 s of work
    finally:
        gate.set()
        sub.stop()
    loss = sub.loss()
    assert 0 < loss.at_stop == loss.messages == 100 - len(processed)
    assert processed == list(range(len(processed)))
    assert "still queued when the stop" in loss.summary()
    [report] = events.details(RECEIVE_QUEUE_FULL)
    assert f"stopped with {loss.at_stop} messages received but not processed" in report


def test_the_byte_queue_admits_one_oversized_item_only_when_empty() -> None:
    queue: ByteBoundedQueue[str] = ByteBoundedQueue(100)
    assert queue.put("big", 500)  # larger than the budget, into an empty queue
    assert not queue.put("small", 1)
    assert queue.get_nowait() == "big"
    assert not queue.reserve(1)  # still held until released
    queue.release(500)
    assert queue.reserve(60) and queue.reserve(40) and not queue.reserve(1)
    assert queue.held_bytes == 100 and queue.peak_bytes == 500


def test_a_message_costs_at_least_what_it_weighs_in_memory() -> None:
    """100,000 tiny messages as the receive thread holds them: the bytes they
    are counted for cover what Python allocated, so a flood of tiny messages
    is bounded by the budget as surely as a few large ones."""
    count = 100_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = [
            ([bytes(bytearray(b"robot.ib2-a")), bytes(bytearray(10))], 1.7e9 + i)
            for i in range(count)
        ]
        weight = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    counted = sum(message_cost(parts) for parts, _ in held)
    assert counted >= weight, (counted / count, weight / count)
