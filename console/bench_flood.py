"""``kibo-console bench flood``: memory of a live session whose pipeline is stuck.

A publisher process floods 1-4 MiB messages (2 GiB by default) at a
recording live session whose pipeline is stalled on purpose (its message
handler waits until the flood is over). Received messages wait in the
receive queue, bounded in bytes; the rest is dropped and counted. The figure
is the session's peak RSS growth over its budget; then the pipeline is
released and the session stops, processing what was queued.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import zmq

from telemetry.core.dictionary import TelemetryDictionary
from telemetry.live.session import LiveSession, SessionConfig

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

MIB = 1 << 20


def _publisher(endpoint: str, total_mib: int, ready: Event, done: Event) -> None:
    """Child process: send 1-4 MiB messages until ``total_mib`` went out."""
    rng = np.random.default_rng(1)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.SNDHWM, 0)  # the publisher must not be the one dropping
    sock.bind(endpoint)
    ready.set()
    if sock.poll(30_000):
        sock.recv()
        blob = bytes(4 * MIB)
        sent = seq = 0
        while sent < total_mib * MIB:
            size = int(rng.integers(MIB, 4 * MIB))
            sock.send_multipart([b"robot.ib2-a", seq.to_bytes(8, "big") + blob[8:size]])
            sent += size
            seq += 1
    sock.close(linger=120_000)  # everything is delivered before the child ends
    ctx.term()
    done.set()


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return math.nan


@dataclass
class FloodResult:
    """What one flood did to the session's memory (built on the main thread)."""

    flood_mib: int
    budget_mib: float
    rss_before_mib: float
    peak_mib: float
    peak_queued_mib: float
    received: int
    dropped: int
    dropped_mib: float
    processed: int
    stop_s: float


def run_flood_bench(total_mib: int = 2048) -> FloodResult:
    """Flood a stalled live session with ``total_mib`` and print its memory."""
    dictionary = TelemetryDictionary.load()
    with tempfile.TemporaryDirectory(prefix="kibo-bench-") as tmpdir:
        tmp = Path(tmpdir)
        endpoint = f"ipc://{tmp}/flood.ipc"
        ctx = mp.get_context("spawn")
        ready, done = ctx.Event(), ctx.Event()
        proc = ctx.Process(
            target=_publisher, args=(endpoint, total_mib, ready, done), daemon=True
        )
        proc.start()
        ready.wait(30)
        session = LiveSession(dictionary, SessionConfig([endpoint], tmp / "f.sqlite"))
        feed = session.subscriber.feed
        gate = threading.Event()
        ingest = feed.on_message

        def stalled(parts: list[bytes], received: float) -> object:
            gate.wait()  # the stuck pipeline this bench is about
            return ingest(parts, received)

        feed.on_message = stalled
        session.start()
        before = _status_mib("VmRSS")
        try:
            done.wait(600)
            # Until the receive thread has taken everything in flight.
            deadline = time.monotonic() + 30
            last = -1
            while time.monotonic() < deadline:
                seen = feed.admitted + feed.dropped
                if seen == last:
                    break
                last = seen
                time.sleep(1.0)  # a bench, not a test: plain polling is fine
            peak = _status_mib("VmHWM")
        finally:
            gate.set()
            started = time.monotonic()
            session.stop()
            stop_s = time.monotonic() - started
            proc.join(10)
    result = FloodResult(
        flood_mib=total_mib,
        budget_mib=feed.budget / MIB,
        rss_before_mib=before,
        peak_mib=peak,
        peak_queued_mib=feed.queue.peak_bytes / MIB,
        received=feed.admitted + feed.dropped,
        dropped=feed.dropped,
        dropped_mib=feed.dropped_bytes / MIB,
        processed=feed.processed,
        stop_s=stop_s,
    )
    print(
        f"flood of {result.flood_mib} MiB (1-4 MiB messages) at a stalled pipeline: "
        f"{result.received} messages received, {result.dropped} dropped "
        f"({result.dropped_mib:.0f} MiB), {result.processed} processed after release"
    )
    growth = result.peak_mib - result.rss_before_mib
    print(
        f"receive queue peak {result.peak_queued_mib:.0f} MiB of a "
        f"{result.budget_mib:.0f} MiB budget; session RSS {result.rss_before_mib:.0f}"
        f" -> peak {result.peak_mib:.0f} MiB: growth {growth:.0f} MiB = "
        f"{growth / result.budget_mib:.2f} x the budget; stop (draining the queue) "
        f"{result.stop_s:.1f} s"
    )
    return result
