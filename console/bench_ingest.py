"""``kibo-console bench ingest``: sustained samples/s with zero loss, end to end.

A publisher process sends wide batches (rows x channels per message) at
stepped rates; this process runs the real subscriber, pipeline, buffers and
archive writer. Next to the result it measures, in the same run, the raw
limits: ZeroMQ receive + decode alone, and the archive writer alone.
"""

from __future__ import annotations

import multiprocessing as mp
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from telemetry.archive.writer import ArchiveWriter
from telemetry.bus.subscriber import SubscriberConfig, ZmqSubscriber
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.core.wire import decode_frame, encode_frame

ROWS = 100
CHANNELS = (
    "pos_x",
    "pos_y",
    "pos_z",
    "quat_x",
    "quat_y",
    "quat_z",
    "quat_w",
    "vel_x",
    "vel_y",
    "vel_z",
)
SAMPLES_PER_MESSAGE = ROWS * len(CHANNELS)


def _messages(count: int, seed: int) -> list[list[bytes]]:
    rng = np.random.default_rng(seed)
    t0 = 1.7e9
    out = []
    for seq in range(count):
        times = t0 + (seq * ROWS + np.arange(ROWS)) * 1e-3
        cols = {name: 1.0 + rng.random(ROWS) for name in CHANNELS}
        out.append(encode_frame("robot", "ib2-a", seq, times, cols))
    return out


def _publisher(endpoint: str, rate_msgs: float, count: int, ready: Any) -> None:
    """Child process: pre-encode, wait for the subscriber, then send paced messages."""
    messages = _messages(count, seed=1)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.SNDHWM, 0)  # the publisher must not be the one dropping
    sock.bind(endpoint)
    ready.set()
    if sock.poll(30_000):
        sock.recv()
        start = time.perf_counter()
        for i, parts in enumerate(messages):
            if rate_msgs > 0:
                due = start + i / rate_msgs
                while time.perf_counter() < due:
                    pass
            sock.send_multipart(parts)
    sock.close(linger=10_000)
    ctx.term()


@dataclass
class StepResult:
    """Outcome of one paced rate step."""

    target: float
    achieved: float
    missed: int
    dropped: int
    lossless: bool
    received_dropped: int = 0  # by the receive queue (pipeline behind)


def _run_step(
    dictionary: TelemetryDictionary, rate: float, seconds: float, tmp: Path
) -> StepResult:
    ctx = mp.get_context("spawn")
    endpoint = f"ipc://{tmp}/bench-{int(rate)}.ipc"
    rate_msgs = rate / SAMPLES_PER_MESSAGE
    count = max(50, int(rate_msgs * seconds))
    ready = ctx.Event()
    proc = ctx.Process(
        target=_publisher, args=(endpoint, rate_msgs, count, ready), daemon=True
    )
    proc.start()
    ready.wait(30)
    archive = ArchiveWriter(
        tmp / f"ingest-{int(rate)}.sqlite",
        dictionary_sha256=dictionary.sha256,
        dictionary_version=dictionary.version,
    )
    store = ChannelStore(100_000)
    pipeline = Pipeline(dictionary, store, archive=archive)
    # Rate is measured from the first to the last message the pipeline saw, so
    # waiting for the publisher to start does not dilute it.
    seen: list[float] = []

    def ingest(parts: list[bytes], received: float) -> None:
        now = time.perf_counter()
        if not seen:
            seen.append(now)
        pipeline.ingest(parts, received)
        if len(seen) == 1:
            seen.append(now)
        else:
            seen[1] = now

    sub = ZmqSubscriber(SubscriberConfig([endpoint]), ingest, pipeline.tick)
    archive.start()
    sub.start()
    started = time.perf_counter()
    deadline = started + seconds * 4 + 20
    while time.perf_counter() < deadline:
        stats = store.sources.get("ib2-a")
        if stats is not None and stats.messages + stats.missed >= count:
            break
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    sub.stop()
    archive.stop()
    proc.join(10)
    stats = store.sources.get("ib2-a")
    received = stats.messages if stats else 0
    missed = count - received  # gaps inside the run and messages never seen
    span = seen[1] - seen[0] if len(seen) == 2 and seen[1] > seen[0] else elapsed
    achieved = (received - 1) * SAMPLES_PER_MESSAGE / span
    lossless = (
        missed == 0
        and archive.dropped == 0
        and archive.written_samples == received * SAMPLES_PER_MESSAGE
    )
    return StepResult(rate, achieved, missed, archive.dropped, lossless, sub.dropped)


def _receive_decode_limit(tmp: Path, seconds: float) -> float:
    """Raw limit: ZeroMQ receive + decode only, publisher unpaced."""
    ctx = mp.get_context("spawn")
    endpoint = f"ipc://{tmp}/raw.ipc"
    count = int(seconds * 3000)
    ready = ctx.Event()
    proc = ctx.Process(
        target=_publisher, args=(endpoint, 0.0, count, ready), daemon=True
    )
    proc.start()
    ready.wait(30)
    zctx = zmq.Context.instance()
    sock = zctx.socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    got = 0
    first = None
    try:
        while got < count and sock.poll(5000):
            parts = sock.recv_multipart()
            if first is None:
                first = time.perf_counter()
            decode_frame(parts)
            got += 1
    finally:
        sock.close(linger=0)
        proc.join(10)
    elapsed = time.perf_counter() - (first or time.perf_counter())
    return (got - 1) * SAMPLES_PER_MESSAGE / elapsed if elapsed > 0 else 0.0


def run_ingest_bench(seconds: float = 5.0) -> dict[str, float]:
    """Run the stepped ingest benchmark and print the ratios; return the figures."""
    from telemetry.archive.bench import bench_insert

    dictionary = TelemetryDictionary.load()
    with tempfile.TemporaryDirectory(prefix="kibo-bench-") as tmpdir:
        tmp = Path(tmpdir)
        raw_decode = _receive_decode_limit(tmp, seconds)
        raw_sqlite = bench_insert(2_000_000)
        print(f"limit: ZeroMQ receive + decode alone   {raw_decode:12,.0f} samples/s")
        print(f"limit: archive writer alone (SQLite)   {raw_sqlite:12,.0f} samples/s")
        best = 0.0
        steps = (
            250_000,
            500_000,
            1_000_000,
            1_500_000,
            2_000_000,
            3_000_000,
            4_000_000,
        )
        for rate in steps:
            result = _run_step(dictionary, rate, seconds, tmp)
            verdict = (
                "no loss"
                if result.lossless
                else (
                    f"LOSS (missed {result.missed}, {result.received_dropped} of "
                    "them dropped by the receive queue; "
                    f"archive dropped {result.dropped})"
                )
            )
            print(f"step {rate:>10,} samples/s -> {result.achieved:12,.0f}  {verdict}")
            if not result.lossless:
                break
            best = max(best, min(result.achieved, rate))
    print(
        f"sustained with zero loss: {best:,.0f} samples/s "
        f"= {best / raw_decode:.2f} x receive+decode limit, "
        f"{best / raw_sqlite:.2f} x SQLite limit; "
        f"target 1,000,000 ({best / 1e6:.2f} x)"
    )
    return {
        "sustained": best,
        "receive_decode_limit": raw_decode,
        "sqlite_limit": raw_sqlite,
    }
