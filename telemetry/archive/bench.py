"""Archive benchmarks: the writer's own insert rate and window-query latency.

Run by ``kibo-console bench ingest`` / ``bench query`` on the caller's thread
(the writer benchmark starts and joins its own ``archive-writer`` thread).
"""

from __future__ import annotations

import math
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from telemetry.archive.reader import ArchiveReader
from telemetry.archive.rows import INSERT_SEGMENT, values_sql
from telemetry.archive.writer import ArchiveWriter
from telemetry.core.wire import Frame, decode_frame, encode_frame

if TYPE_CHECKING:
    from telemetry.archive.items import Batch


def _bench_frames(
    n_frames: int, channels: int, rows: int, t_start: float = 1.7e9
) -> list[tuple[float, Frame, bytes, list[Batch]]]:
    names = [f"ch{i:02d}" for i in range(channels)]
    base = np.arange(rows, dtype=np.float64) * 0.01
    parts = encode_frame(
        "bench", "bench-1", 0, t_start + base, {n: base for n in names}, "msgpack"
    )
    body = parts[1]
    template = decode_frame(parts)
    rng = np.random.default_rng(0)
    out = []
    for i in range(n_frames):
        t = t_start + i * rows * 0.01 + base
        frame = Frame(
            template.family, template.source, i, t, template.columns, "msgpack"
        )
        batches = [(f"bench-1.{n}", t, rng.normal(size=rows)) for n in names]
        out.append((t[0], frame, body, batches))
    return out


def bench_insert(
    n_samples: int = 1_000_000,
    *,
    channels: int = 10,
    rows_per_frame: int = 100,
    directory: str | None = None,
) -> float:
    """Return the archive writer's own rate in samples/s (queue pre-filled).

    Frames of ``channels`` x ``rows_per_frame`` samples (with a real msgpack
    body) are queued before the writer starts, so the time from ``start()`` to
    the end of ``stop()`` is the writer thread alone: segmenting, inserting,
    committing (WAL, synchronous=NORMAL), closing.
    """
    per_frame = channels * rows_per_frame
    n_frames = max(1, n_samples // per_frame)
    frames = _bench_frames(n_frames, channels, rows_per_frame)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        writer = ArchiveWriter(
            Path(tmp) / "bench.sqlite",
            dictionary_sha256="bench",
            dictionary_version="bench",
            kind="bench",
            queue_bytes=1 << 40,  # the whole pre-filled run
        )
        for received, frame, body, batches in frames:
            writer.put_frame(received, frame, body, batches)
        t0 = time.perf_counter()
        writer.start()
        ok = writer.stop(timeout=600.0)
        elapsed = time.perf_counter() - t0
        if not ok or writer.written_samples != n_frames * per_frame:
            raise RuntimeError(f"bench_insert: writer failed ({writer.last_error})")
    return n_frames * per_frame / elapsed


def bench_query(
    n_samples: int = 100_000_000,
    *,
    channels: int = 40,
    rate_hz: float = 10.0,
    segment: int = 10,
    window_s: float = 3600.0,
    repeats: int = 7,
    path: str | None = None,
) -> dict[str, float]:
    """Time ``channel_window`` for one channel over ``window_s`` seconds.

    Builds an archive of ``n_samples`` samples (``channels`` channels at
    ``rate_hz``, ``segment`` samples per segment row, as 1-s frames at 10 Hz
    give) by writing segments directly, then times ``repeats`` windows at
    random channels and times. With ``path`` the file is kept (and reused
    if it already exists).

    Returns
    -------
    dict
        ``build_s``, ``file_mb``, ``segments``, ``samples_per_window``,
        ``median_ms`` and ``max_ms``.
    """
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(path) if path else Path(tmp) / "query.sqlite"
        per_channel = n_samples // channels
        build_s = math.nan
        if not target.exists():
            build_s = _build_query_archive(
                target, channels, per_channel, rate_hz, segment
            )
        rng = np.random.default_rng(7)
        span = per_channel / rate_hz
        t_start = 1.7e9
        timings, counts = [], []
        with ArchiveReader(target) as reader:
            reader.channel_window("q.ch00", t_start, t_start + 1.0)  # warm up
            for _ in range(repeats):
                ch = int(rng.integers(channels))
                start = t_start + float(rng.uniform(0, max(0.0, span - window_s)))
                a = time.perf_counter()
                times, _ = reader.channel_window(
                    f"q.ch{ch:02d}", start, start + window_s
                )
                timings.append((time.perf_counter() - a) * 1e3)
                counts.append(times.size)
            segments = reader.scalar("SELECT max(rowid) FROM samples")
        return {
            "build_s": build_s,
            "file_mb": target.stat().st_size / 1e6,
            "segments": float(segments or 0),
            "samples_per_window": float(statistics.median(counts)),
            "median_ms": statistics.median(timings),
            "max_ms": max(timings),
        }


def _build_query_archive(
    target: Path, channels: int, per_channel: int, rate_hz: float, segment: int
) -> float:
    t0 = time.perf_counter()
    ArchiveWriter(target, dictionary_sha256="bench", dictionary_version="bench").stop()
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=NORMAL")
        keys = [f"q.ch{i:02d}" for i in range(channels)]
        conn.executemany(
            "INSERT INTO channels (key, source, name, declared) VALUES (?, 'q', ?, 1)",
            [(k, k[2:]) for k in keys],
        )
        ids = dict(conn.execute("SELECT key, id FROM channels"))
        rng = np.random.default_rng(1)
        dt = 1.0 / rate_hz
        block = segment * max(1, 20_000 // segment)  # per channel per transaction
        for start in range(0, per_channel, block):
            m = min(block, per_channel - start)
            m -= m % segment
            if m == 0:
                break
            t = 1.7e9 + (start + np.arange(m)) * dt
            tb = t.reshape(-1, segment)
            t_bytes = [row.tobytes() for row in tb]
            firsts, lasts = tb[:, 0].tolist(), tb[:, -1].tolist()
            conn.execute("BEGIN")
            for key in keys:
                vb = rng.normal(size=(m // segment, segment))
                conn.executemany(
                    values_sql(INSERT_SEGMENT, 7, 1),
                    [
                        (ids[key], None, f, la, segment, tt, row.tobytes())
                        for f, la, tt, row in zip(
                            firsts, lasts, t_bytes, vb, strict=True
                        )
                    ],
                )
            conn.execute("COMMIT")
        n = per_channel - per_channel % segment
        span = (segment - 1) * dt
        conn.execute(
            "UPDATE channels SET samples = ?, t_first = ?, t_last = ?, max_span = ?",
            (n, 1.7e9, 1.7e9 + (n - 1) * dt, span),
        )
    finally:
        conn.close()
    return time.perf_counter() - t0


__all__ = ["bench_insert", "bench_query"]
