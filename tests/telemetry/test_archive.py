"""Tests of the SQLite archive: real files in tmp_path, real writer threads."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import selectors
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from polling import wait_for

from telemetry.archive.bench import bench_insert, bench_query
from telemetry.archive.export import export_channel
from telemetry.archive.items import (
    ITEM_OVERHEAD,
    MAX_REJECTED_BODY,
    batches_bytes,
    missing_count,
)
from telemetry.archive.reader import ArchiveReader
from telemetry.archive.schema import SCHEMA, ArchiveError, installed_version
from telemetry.archive.writer import ArchiveWriter
from telemetry.core.wire import Frame, decode_frame, encode_frame

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

REPO = Path(__file__).resolve().parents[2]
T0 = 1_732_400_000.0  # 2024-11-23T22:13:20Z
SHA = "ab" * 32


def make_frame(
    source: str,
    seq: int,
    times: list[float] | np.ndarray,
    columns: dict[str, Any],
    family: str = "robot",
    encoding: str = "msgpack",
) -> tuple[list[bytes], Frame, list[tuple[str, np.ndarray, np.ndarray]]]:
    """Encode and decode a real frame; batches drop nulls as the decoder does."""
    parts = encode_frame(family, source, seq, times, columns, encoding)  # type: ignore[arg-type]
    frame = decode_frame(parts)
    batches = []
    for name, column in frame.columns.items():
        values = np.array(
            [math.nan if v is None else float(v) for v in column], dtype=np.float64
        )
        keep = ~np.isnan(values)
        batches.append((f"{source}.{name}", frame.times[keep], values[keep]))
    return parts, frame, batches


@pytest.fixture
def make_writer(tmp_path: Path) -> Iterator[Callable[..., ArchiveWriter]]:
    writers: list[ArchiveWriter] = []

    def make(name: str = "archive.sqlite", **kwargs: Any) -> ArchiveWriter:
        kwargs.setdefault("dictionary_sha256", SHA)
        kwargs.setdefault("dictionary_version", "2024.11-1")
        writer = ArchiveWriter(tmp_path / name, **kwargs)
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        writer.stop(timeout=5.0)
    assert not [t for t in threading.enumerate() if t.name == "archive-writer"]


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as conn:
        n = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    conn.close()
    return int(n)


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def test_file_is_private_wal_and_written_by_named_thread(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    old = os.umask(0)  # the mode must not depend on the umask
    try:
        writer = make_writer()
    finally:
        os.umask(old)
    path = tmp_path / "archive.sqlite"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    writer.start()
    assert writer._thread is not None
    assert writer._thread.name == "archive-writer"
    parts, frame, batches = make_frame("ib2-a", 0, [T0], {"pos_x": [1.0]})
    writer.put_frame(T0, frame, parts[1], batches)
    assert writer.flush()
    for suffix in ("", "-wal", "-shm"):
        assert stat.S_IMODE(Path(f"{path}{suffix}").stat().st_mode) == 0o600, suffix
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert writer.stop()
    assert not writer.alive


def test_round_trip_of_frames_and_samples(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    writer = make_writer(operator="flight-ops-1", kind="live")
    writer.put_channel("ib2-a.pos_x", unit="m", declared=True, derived=False, states={})
    writer.put_channel(
        "ib2-a.mode",
        unit="",
        declared=True,
        derived=False,
        states={"STANDBY": 0, "OPERATION": 4},
    )
    writer.put_channel(
        "c2.dose_rate", unit="µSv/h", declared=True, derived=True, states={}
    )
    f0 = make_frame(
        "ib2-a", 0, [T0 + 10, T0 + 11], {"pos_x": [1.5, None], "mode": [4, 4]}
    )
    f1 = make_frame("ib2-a", 1, [T0, T0 + 1], {"pos_x": [0.5, 0.75], "mode": [0, 4]})
    f2 = make_frame(
        "jpm", 7, [T0 + 5], {"ppco2": [2.31]}, family="eclss", encoding="json"
    )
    for parts, frame, batches in (f0, f1, f2):
        writer.put_frame(T0 + 100, frame, parts[1], batches)
    dose_t = np.array([T0 + 2, T0 + 3])
    writer.put_samples([("c2.dose_rate", dose_t, np.array([25.75, 26.0]))])
    writer.start()
    assert writer.stop()
    assert writer.written_frames == 3
    assert writer.written_samples == 3 + 4 + 1 + 2

    path = tmp_path / "archive.sqlite"
    assert count(path, "frames") == 3
    assert count(path, "samples") == 6  # one row per (frame, channel) with data
    assert count(path, "sources") == 2
    with ArchiveReader(path) as reader:
        t, v = reader.channel_window("ib2-a.pos_x", -math.inf, math.inf)
        assert t.tolist() == [T0, T0 + 1, T0 + 10]
        assert v.tolist() == [0.5, 0.75, 1.5]
        assert t.dtype == np.float64
        assert v.dtype == np.float64
        t, v = reader.channel_window("ib2-a.mode", T0, T0 + 20)
        assert v.tolist() == [0, 4, 4, 4]
        t, v = reader.channel_window("c2.dose_rate", T0, T0 + 20)
        assert (t.tolist(), v.tolist()) == ([T0 + 2, T0 + 3], [25.75, 26.0])

        replay = list(reader.iter_frames())
        assert [body for _, _, body in replay] == [f1[0][1], f2[0][1], f0[0][1]]
        assert [topic for _, topic, _ in replay] == [
            b"robot.ib2-a",
            b"eclss.jpm",
            b"robot.ib2-a",
        ]
        again = decode_frame([replay[1][1], replay[1][2]])
        assert again.encoding == "json"
        assert again.columns == {"ppco2": [2.31]}
        assert list(reader.iter_frames(T0 + 5, T0 + 10)) == [replay[1]]

        channels = {c.key: c for c in reader.channels()}
        assert channels["ib2-a.pos_x"].unit == "m"
        assert channels["ib2-a.pos_x"].samples == 3
        assert channels["ib2-a.pos_x"].t_first == T0
        assert channels["ib2-a.pos_x"].t_last == T0 + 10
        assert channels["ib2-a.mode"].states == {"STANDBY": 0, "OPERATION": 4}
        assert channels["c2.dose_rate"].derived
        assert channels["c2.dose_rate"].unit == "µSv/h"
        assert channels["jpm.ppco2"].declared is False  # never described
        (session,) = reader.sessions()
        assert session.operator == "flight-ops-1"
        assert session.console_version == installed_version()
        assert session.dictionary_sha256 == SHA
        assert session.dictionary_version == "2024.11-1"
        assert session.ended is not None
        assert session.ended >= session.started

    conn = sqlite3.connect(path)
    row = conn.execute(
        "SELECT seq, rows, encoding, t_first, t_last, received FROM frames"
        " WHERE seq = 0"
    ).fetchone()
    conn.close()
    assert row == (0, 2, "msgpack", T0 + 10, T0 + 11, T0 + 100)


def test_info_counts_per_source(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    writer = make_writer()
    for seq in range(3):
        parts, frame, batches = make_frame(
            "ib2-a", seq, [T0 + seq, T0 + seq + 0.5], {"pos_x": [1.0, None]}
        )
        writer.put_frame(T0 + seq, frame, parts[1], batches)
    parts, frame, batches = make_frame(
        "jpm", 0, [T0 + 50], {"ppo2": [160.0], "ppco2": [2.4]}, family="eclss"
    )
    writer.put_frame(T0 + 50, frame, parts[1], batches)
    writer.put_event(T0 + 1, "ib2-a", "gap", "seq 0 -> 3", 1, count=2)
    writer.put_event(T0 + 2, "ib2-a", "gap", "5 frames missing (seq 3 -> 9)", 1)
    writer.put_event(T0 + 3, "ib2-a", "restart", "publisher restarted", 1)
    writer.put_rejected(T0, b"robot.ib2-a", b"\x00junk", "ib2-a", "bad encoding", "x")
    writer.put_rejected(T0, b"\xff\xfe", b"", None, "bad topic", "not ASCII")
    writer.start()
    assert writer.stop()

    with ArchiveReader(tmp_path / "archive.sqlite") as reader:
        info = reader.info()
    assert info["sources"] == {
        "ib2-a": {"messages": 3, "samples": 3, "gaps": 2, "rejected": 1, "missed": 7},
        "jpm": {"messages": 1, "samples": 2, "gaps": 0, "rejected": 0, "missed": 0},
    }
    assert info["rejected"] == 2
    assert info["channels"] == 3
    assert info["samples"] == 5
    assert info["start"] == T0
    assert info["end"] == T0 + 50
    assert [s["id"] for s in info["sessions"]] == [writer.session_id]


def test_missing_count_is_read_from_gap_details() -> None:
    assert missing_count("missed 5 message(s): seq 3 -> 9") == 5  # the pipeline's
    assert missing_count("missing 5 frames") == 5
    assert missing_count("missed=12 (seq 3 -> 16)") == 12
    assert missing_count("seq 3 -> 9: 5 frames missing") == 5
    assert missing_count("link down") is None


def test_events_transitions_actions_bookmarks_and_rejected(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    writer = make_writer()
    writer.start()
    writer.put_event(T0, None, "link_down", "no frames for 5 s", 2)
    writer.put_event(T0 + 10, "goes", "spe", "S2 radiation storm", 3)
    before = time.time()
    writer.put_event(math.nan, "ib2-a", "undeclared channel", "ib2-a.x", 1)
    writer.put_transition(T0 + 1, "jpm.ppco2", 2, 1, 2.8, 2.7, "high")
    writer.put_transition(T0 + 2, "ib2-a.mode", 0, 2, 4.0, None, "state")
    writer.put_action(T0 + 3, "ops1", "ack", "jpm.ppco2", "crew informed")
    writer.put_bookmark(T0 + 4, "ops1", "SAA entry <script>")
    big = bytes(range(256)) * (MAX_REJECTED_BODY // 256 + 10)
    writer.put_rejected(T0 + 5, b"robot.\xff", big, None, "bad topic", "not ASCII")
    assert writer.stop()

    with ArchiveReader(tmp_path / "archive.sqlite") as reader:
        (undeclared,) = reader.events(kind="undeclared channel")
        assert undeclared.time >= before
        events = reader.events(None, T0 + 1000)
        assert [(e.kind, e.severity, e.source) for e in events] == [
            ("link_down", 2, None),
            ("spe", 3, "goes"),
        ]
        assert reader.events(T0, T0 + 10) == events[:1]  # half-open
        assert reader.events(kind="spe") == events[1:]
        transitions = reader.transitions()
        assert transitions[0].key == "jpm.ppco2"
        assert (transitions[0].severity, transitions[0].previous) == (2, 1)
        assert (transitions[0].value, transitions[0].threshold) == (2.8, 2.7)
        assert transitions[1].threshold is None
        assert reader.transitions(key="ib2-a.mode") == transitions[1:]
        (action,) = reader.actions()
        assert (action.operator, action.action, action.target) == (
            "ops1",
            "ack",
            "jpm.ppco2",
        )
        assert action.comment == "crew informed"
        assert reader.bookmarks()[0].text == "SAA entry <script>"
        (rejected,) = reader.rejected()
        assert rejected.topic == b"robot.\xff"
        assert rejected.length == len(big)
        assert rejected.body == big[:MAX_REJECTED_BODY]
        assert rejected.reason == "bad topic"
        assert reader.rejected(T0 + 6, None) == []


def test_reader_sees_commits_while_writer_keeps_writing(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    writer = make_writer(batch_seconds=0.01)
    writer.start()
    reader = ArchiveReader(tmp_path / "archive.sqlite")
    try:
        assert reader.info()["samples"] == 0
        parts, frame, batches = make_frame(
            "ib2-a", 0, [T0, T0 + 1], {"temp_c": [40, 41]}
        )
        writer.put_frame(T0, frame, parts[1], batches)
        wait_for(
            lambda: reader.info()["samples"] == 2,
            10.0,
            "the first batch committed",
            every=0.005,
        )
        assert writer.alive
        for seq in range(1, 50):
            parts, frame, batches = make_frame(
                "ib2-a", seq, [T0 + 2 * seq], {"temp_c": [42]}
            )
            writer.put_frame(T0, frame, parts[1], batches)
        wait_for(
            lambda: reader.info()["samples"] == 51,
            10.0,
            "the second batch committed",
            every=0.005,
        )
        assert writer.alive
        t, v = reader.channel_window("ib2-a.temp_c", T0, T0 + 1000)
        assert t.size == 51
        assert v[:3].tolist() == [40, 41, 42]
    finally:
        reader.close()
    assert writer.stop()


def test_overflow_drops_are_counted_and_recorded(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    parts, _, batches = make_frame("ib2-a", 0, [T0] * 2, {"pos_x": [1, 2]})
    cost = ITEM_OVERHEAD + len(parts[1]) + batches_bytes(batches)
    # Room for three such frames, not for the event after them; not started:
    # nothing drains the queue.
    writer = make_writer(queue_bytes=3 * cost + cost // 2)
    dropped = []
    for seq in range(5):
        parts, frame, batches = make_frame(
            "ib2-a", seq, [T0 + seq] * 2, {"pos_x": [1, 2]}
        )
        writer.put_frame(T0 + seq, frame, parts[1], batches)
        dropped.append(writer.dropped)
    writer.put_event(T0, "ib2-a", "gap", "missing 1")
    assert dropped == [0, 0, 0, 1, 2]
    assert writer.dropped == 3
    assert writer.dropped_samples == 4
    assert writer.backlog == 3

    writer.start()
    assert writer.stop()
    with ArchiveReader(tmp_path / "archive.sqlite") as reader:
        assert reader.info()["sources"]["ib2-a"]["messages"] == 3
        (event,) = reader.events(kind="archive_overflow")
    assert event.count == 3
    assert "frames: 2" in event.detail
    assert "events: 1" in event.detail
    assert "4 samples" in event.detail
    assert event.severity >= 2

    parts, frame, batches = make_frame("ib2-a", 9, [T0], {"pos_x": [1]})
    writer.put_frame(T0, frame, parts[1], batches)  # after stop: counted, not lost
    assert writer.dropped == 4
    assert writer.dropped_samples == 5


def test_disk_full_keeps_the_batch_and_recovers(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    path = tmp_path / "archive.sqlite"
    # max_page_count cannot go below the current size: the file may not grow.
    writer = make_writer(max_page_count=1, retry_seconds=0.05, batch_seconds=0.01)
    writer.start()
    sent = 0
    for seq in range(20):
        t = T0 + np.arange(100.0) + 100 * seq
        parts, frame, batches = make_frame("ib2-a", seq, t, {"pos_x": t - T0})
        writer.put_frame(T0 + seq, frame, parts[1] + bytes(4096), batches)
        sent += 100
    wait_for(
        lambda: writer.disk_full and writer.retrying,
        10.0,
        "the writer to report a full disk",
        every=0.005,
    )
    assert writer.alive
    assert writer.errors >= 1
    assert "full" in writer.last_error
    assert writer.backlog > 0
    assert writer.written_samples == 0
    assert not writer.flush(timeout=0.2)
    with ArchiveReader(path) as reader:
        assert reader.info()["samples"] == 0

    writer.set_max_page_count(1_000_000)
    assert writer.flush(timeout=10.0)
    assert not writer.disk_full
    assert writer.written_samples == sent
    assert writer.stop()
    assert integrity(path) == "ok"
    with ArchiveReader(path) as reader:
        t, v = reader.channel_window("ib2-a.pos_x", T0, T0 + 1e6)
        assert t.size == sent
        assert np.array_equal(v, t - T0)
        (event,) = reader.events(kind="archive_recovered")
        assert "full" in event.detail


CHILD = """
import sys, time
import numpy as np
from telemetry.archive.writer import ArchiveWriter
from telemetry.core.wire import decode_frame, encode_frame

writer = ArchiveWriter(sys.argv[1], dictionary_sha256="x", dictionary_version="1",
                       batch_seconds=0.02)
writer.start()
last = -1
seq = 0
while True:
    t = 1.7e9 + seq * 10 + np.arange(10.0)
    parts = encode_frame("robot", "ib2-a", seq, t, {"pos_x": t - 1.7e9})
    frame = decode_frame(parts)
    writer.put_frame(float(t[0]), frame, parts[1], [("ib2-a.pos_x", t, t - 1.7e9)])
    seq += 1
    if writer.written_samples != last:
        last = writer.written_samples
        print(last, flush=True)
    while writer.backlog > 2000:
        time.sleep(0.001)
"""


def test_sigkill_loses_only_the_uncommitted_batch(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env=env,
        text=True,
    )
    committed = [0]
    try:
        assert child.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(child.stdout, selectors.EVENT_READ)
            deadline = time.monotonic() + 30.0
            while len([c for c in committed if c > 0]) < 5:
                assert time.monotonic() < deadline, "child reported no commits"
                if sel.select(timeout=0.5):
                    line = child.stdout.readline()
                    assert line, f"child exited: {child.poll()}"
                    committed.append(int(line))
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10.0) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()

    assert integrity(path) == "ok"
    with ArchiveReader(path) as reader:
        t, v = reader.channel_window("ib2-a.pos_x", 0.0, math.inf)
        (session,) = reader.sessions()
        frames = reader.info()["sources"]["ib2-a"]["messages"]
    assert session.ended is None  # the writer never stopped
    assert t.size >= max(committed)
    assert np.array_equal(v, t - 1.7e9)
    # whole frames only, none missing before the last one written
    assert t.size == 10 * frames
    assert np.array_equal(t, 1.7e9 + np.arange(t.size, dtype=np.float64))


def test_channel_window_is_half_open_sorted_and_finds_long_segments(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    writer = make_writer()
    parts, frame, batches = make_frame(
        "ib2-a", 0, T0 + np.arange(5.0), {"pos_x": [0, 1, 2, 3, 4]}
    )
    writer.put_frame(T0, frame, parts[1], batches)
    parts, frame, batches = make_frame(
        "ib2-a", 1, [T0 + 2.5, T0 + 0.5, T0 + 2], {"pos_x": [25, 5, 20]}
    )
    writer.put_frame(T0, frame, parts[1], batches)
    # one derived segment spanning 1000 s that starts long before the window
    writer.put_samples(
        [("ib2-a.pos_x", np.array([T0 - 1000, T0 + 2.25]), np.array([-1.0, 22.5]))]
    )
    writer.start()
    assert writer.stop()

    with ArchiveReader(tmp_path / "archive.sqlite") as reader:
        t, v = reader.channel_window("ib2-a.pos_x", T0 + 1, T0 + 3)
        assert t.tolist() == [T0 + 1, T0 + 2, T0 + 2, T0 + 2.25, T0 + 2.5]
        assert v.tolist() == [1, 2, 20, 22.5, 25]  # equal times: arrival order
        assert reader.channel_window("ib2-a.pos_x", T0 + 3, T0 + 3)[0].size == 0
        assert reader.channel_window("ib2-a.pos_x", T0 + 3, T0 + 4)[1].tolist() == [3]
        assert reader.channel_window("ib2-a.pos_x", T0 + 4, T0 + 5)[1].tolist() == [4]
        assert reader.channel_window("ib2-a.pos_x", T0 + 5, T0 + 9)[0].size == 0
        with pytest.raises(KeyError):
            reader.channel_window("ib2-a.nope", T0, T0 + 1)


def test_export_pages_through_overlapping_segments(
    make_writer: Callable[..., ArchiveWriter],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    writer = make_writer()
    rng = np.random.default_rng(3)
    for _ in range(40):  # segments with equal and overlapping starts
        t = T0 + np.sort(rng.integers(0, 20, size=4)).astype(float)
        writer.put_samples([("c1.dose_rate", t, rng.normal(size=4))])
    writer.start()
    assert writer.stop()
    monkeypatch.setattr(ArchiveReader, "_SEGMENT_PAGE", 3)
    with ArchiveReader(tmp_path / "archive.sqlite") as reader:
        t, v = reader.channel_window("c1.dose_rate", T0 + 2, T0 + 17)
        out = io.StringIO()
        assert (
            export_channel(reader, "c1.dose_rate", T0 + 2, T0 + 17, "json", out)
            == t.size
        )
    lines = out.getvalue().splitlines()
    assert len(lines) == t.size + 2  # header line, one line per sample, "]}"
    samples = json.loads(out.getvalue())["samples"]
    assert [s["t"] for s in samples] == t.tolist()
    assert [s["value"] for s in samples] == v.tolist()


HOSTILE = "=cmd|' /C calc'!A0"
SCRIPT = "<script>alert(1)</script>"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_export_csv_and_json_with_hostile_strings(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    writer = make_writer()
    states = {"STANDBY": 0, HOSTILE: 7, SCRIPT: 8, "@SUM(A1)": 9, "-2+3": 10}
    writer.put_channel(
        "ib2-a.mode", unit="", declared=False, derived=False, states=states
    )
    codes = [0, 7, 8, 9, 10, 11]
    times = T0 + 0.123456 + np.arange(6.0)
    writer.put_samples([("ib2-a.mode", times, np.array(codes, dtype=float))])
    writer.put_samples(
        [(HOSTILE, T0 + np.arange(3.0), np.array([-1.5, 2.0, math.nan]))]
    )
    writer.start()
    assert writer.stop()

    with ArchiveReader(tmp_path / "archive.sqlite") as reader:
        out = io.StringIO()
        assert export_channel(reader, "ib2-a.mode", T0, T0 + 5, "csv", out) == 5
        text = out.getvalue()
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["time", "channel", "value"]
        assert rows[1] == ["2024-11-23T22:13:20.123456Z", "ib2-a.mode", "STANDBY"]
        assert [r[2] for r in rows[1:]] == [
            "STANDBY",
            "'" + HOSTILE,
            SCRIPT,
            "'@SUM(A1)",
            "'-2+3",
        ]
        assert all(ISO.match(r[0]) for r in rows[1:])
        for row in rows[1:]:
            assert not row[2].startswith(("=", "+", "-", "@"))

        out = io.StringIO()
        assert export_channel(reader, "ib2-a.mode", T0, T0 + 10, "csv", out) == 6
        assert out.getvalue().splitlines()[-1].endswith(",11.0")  # unknown code

        out = io.StringIO()
        export_channel(reader, HOSTILE, -math.inf, math.inf, "csv", out)
        rows = list(csv.reader(io.StringIO(out.getvalue())))
        assert [r[1] for r in rows[1:]] == ["'" + HOSTILE] * 3
        assert [r[2] for r in rows[1:]] == ["-1.5", "2.0", ""]  # numbers stay numbers

        out = io.StringIO()
        assert export_channel(reader, "ib2-a.mode", T0, T0 + 10, "json", out) == 6
        raw = out.getvalue()
        assert "<script>" not in raw  # inert if pasted into HTML
        doc = json.loads(raw)
        assert doc["channel"] == "ib2-a.mode"
        assert doc["states"] == states
        assert doc["start"] == "2024-11-23T22:13:20.000000Z"
        assert [s["value"] for s in doc["samples"]] == [
            "STANDBY",
            HOSTILE,
            SCRIPT,
            "@SUM(A1)",
            "-2+3",
            11.0,
        ]
        assert doc["samples"][1]["code"] == 7
        assert isinstance(doc["samples"][1]["code"], int)
        assert doc["samples"][0]["time"] == "2024-11-23T22:13:20.123456Z"
        assert doc["samples"][0]["t"] == times[0]

        out = io.StringIO()
        export_channel(reader, HOSTILE, None, None, "json", out)
        doc = json.loads(out.getvalue())
        assert doc["channel"] == HOSTILE
        assert doc["start"] is None
        assert [s["value"] for s in doc["samples"]] == [-1.5, 2.0, None]

        out = io.StringIO()
        assert export_channel(reader, "ib2-a.mode", T0 + 50, T0 + 60, "json", out) == 0
        assert json.loads(out.getvalue())["samples"] == []
        with pytest.raises(ValueError, match="no channel"):
            export_channel(reader, "nope.nope", T0, T0 + 1, "csv", io.StringIO())
        with pytest.raises(ValueError, match="format"):
            export_channel(reader, "ib2-a.mode", T0, T0 + 1, "xml", io.StringIO())  # type: ignore[arg-type]


def test_unwritable_item_is_reported_and_the_rest_is_kept(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    writer = make_writer()
    good = make_frame("ib2-a", 0, [T0], {"pos_x": [1.0]})
    writer.put_frame(T0, good[1], good[0][1], good[2])
    writer.put_samples([("c1.dose_rate", np.array([T0, T0 + 1]), np.array([1.0]))])
    writer.put_event(T0, "ib2-a", "link_up", "first frame")
    writer.start()
    assert writer.stop()
    assert writer.lost == 1
    assert writer.errors == 1
    assert "2 times but 1 values" in writer.last_error
    with ArchiveReader(tmp_path / "archive.sqlite") as reader:
        assert reader.info()["samples"] == 1
        assert sorted(e.kind for e in reader.events()) == ["archive_error", "link_up"]


def test_stop_is_idempotent_and_start_is_single_use(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    idle = make_writer("idle.sqlite")
    assert idle.stop()
    assert idle.stop()
    with ArchiveReader(tmp_path / "idle.sqlite") as reader:
        assert reader.sessions()[0].ended is not None
    with pytest.raises(RuntimeError):
        idle.start()

    writer = make_writer()
    writer.start()
    with pytest.raises(RuntimeError):
        writer.start()
    assert writer.stop(timeout=5.0)
    assert writer.stop(timeout=0.0)
    assert writer.flush(timeout=0.1)  # nothing left unwritten


def test_a_second_session_appends_to_the_same_file(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    for session in range(2):
        writer = make_writer(kind=f"run{session}")
        parts, frame, batches = make_frame(
            "ib2-a", 0, [T0 + session], {"pos_x": [float(session)]}
        )
        with writer:
            writer.put_frame(T0, frame, parts[1], batches)
    with ArchiveReader(tmp_path / "archive.sqlite") as reader:
        assert [s.kind for s in reader.sessions()] == ["run0", "run1"]
        assert reader.info()["sources"]["ib2-a"]["messages"] == 2
        assert reader.channel_window("ib2-a.pos_x", T0, T0 + 2)[1].tolist() == [0, 1]
        assert len(list(reader.iter_frames())) == 2
    assert count(tmp_path / "archive.sqlite", "channels") == 1


def test_replay_pages_through_many_frames(
    make_writer: Callable[..., ArchiveWriter], tmp_path: Path
) -> None:
    writer = make_writer()
    order = np.random.default_rng(5).permutation(1200)
    for seq in order.tolist():
        parts, frame, batches = make_frame("ib2-a", seq, [T0 + seq // 2], {"v": [1]})
        writer.put_frame(T0, frame, parts[1], batches)
    empty = make_frame("ib2-a", 5000, [], {})
    writer.put_frame(T0 + 0.5, empty[1], empty[0][1], empty[2])
    writer.start()
    assert writer.stop()
    with ArchiveReader(tmp_path / "archive.sqlite") as reader:
        seqs = [decode_frame([tp, body]).seq for _, tp, body in reader.iter_frames()]
        assert len(seqs) == 1201
        sample_times = [T0 + s // 2 if s < 5000 else T0 + 0.5 for s in seqs]
        assert sample_times == sorted(sample_times)
        window = [
            decode_frame([tp, b]).seq for _, tp, b in reader.iter_frames(T0, T0 + 1)
        ]
        assert sorted(window) == [0, 1, 5000]


def test_foreign_sqlite_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(ArchiveError):
        ArchiveWriter(path, dictionary_sha256=SHA, dictionary_version="1")
    with pytest.raises(ArchiveError):
        ArchiveReader(path)
    with pytest.raises(FileNotFoundError):
        ArchiveReader(tmp_path / "missing.sqlite")
    assert count(path, "notes") == 0


def test_schema_document_matches_the_code() -> None:
    doc = " ".join((REPO / "docs" / "archive-schema.md").read_text().split())
    for statement in SCHEMA:
        assert " ".join(statement.split()) in doc, statement.splitlines()[0]


def test_benchmarks_run_small(tmp_path: Path) -> None:
    assert bench_insert(20_000, directory=str(tmp_path)) > 0
    result = bench_query(
        40_000, channels=2, window_s=60.0, repeats=2, path=str(tmp_path / "q.sqlite")
    )
    assert result["samples_per_window"] == 600
    assert result["median_ms"] > 0


def test_large_messages_behind_a_full_disk_stay_within_the_byte_budget(
    make_writer: Callable[..., ArchiveWriter],
) -> None:
    """200 MiB of 1 MiB messages behind a full disk: memory holds the 8 MiB budget.

    What is refused is counted in items, frames, samples and bytes, and the
    loss is reported; with a queue bounded in items all of it stayed in memory.
    """
    budget = 8 << 20
    writer = make_writer(
        queue_bytes=budget, max_page_count=1, retry_seconds=0.05, batch_seconds=0.01
    )
    writer.start()
    tracemalloc.start()
    try:
        for seq in range(200):
            body = bytes([seq % 251]) * (1 << 20)  # a fresh 1 MiB body each time
            _, frame, batches = make_frame("ib2-a", seq, [T0 + seq], {"pos_x": [1.0]})
            writer.put_frame(T0 + seq, frame, body, batches)
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < budget + (4 << 20)
    assert writer.held_bytes <= budget
    assert writer.dropped >= 190
    loss = writer.loss()
    assert loss.frames == writer.dropped
    assert loss.nbytes >= 190 << 20
    assert "archive queue full" in loss.reason
    assert not writer.stop(timeout=0.5)  # the disk never frees up: given up
    after = writer.loss()
    assert after.items == 200 and after.frames == 200 and after.samples == 200
    assert "DATA LOST: 200 items" in after.summary()
