"""Machine faults with real processes, sockets and files: the console rides them out.

Publisher killed and restarted, recorder killed mid-write, disk full, archive
slower than the feed. Each test says what the flight controller relies on.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest
import zmq
from polling import wait_for

from telemetry.archive.reader import ArchiveReader
from telemetry.bus.publisher import free_tcp_endpoint
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.core.severity import Severity
from telemetry.core.wire import encode_frame
from telemetry.live.session import (
    ARCHIVE_ALARM,
    LiveSession,
    SessionConfig,
    build_derivers,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.e2e

# Repetitions of the recorder kill; KIBO_KILL_REPEATS=20 for the report's figure.
KILL_REPEATS = int(os.environ.get("KIBO_KILL_REPEATS", "3"))


class StreamPublisher:
    """An XPUB on its own ``test-publisher`` thread: robot frames at a fixed rate.

    Each message carries ``rows`` samples of ``pos_x`` and ``pos_y`` whose sample
    times are the wall clock at sending, so the last one sent is known to the
    microsecond when something else is killed.
    """

    def __init__(self, rate_hz: float = 100.0, rows: int = 10) -> None:
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.socket = self.context.socket(zmq.XPUB)
        self.socket.setsockopt(zmq.SNDHWM, 0)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.rate_hz, self.rows = rate_hz, rows
        self.sent = 0
        self.last_sent = float("nan")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-publisher")
        self._thread.start()

    def _run(self) -> None:
        period = 1.0 / self.rate_hz
        next_due = time.monotonic()
        while not self._stop.is_set():
            now = time.time()
            times = [
                now - (self.rows - 1 - i) * period / self.rows for i in range(self.rows)
            ]
            parts = encode_frame(
                "robot", "ib2-a", self.sent, times, {"pos_x": times, "pos_y": times}
            )
            self.socket.send_multipart(parts)
            self.last_sent = times[-1]
            self.sent += 1
            next_due += period
            self._stop.wait(max(0.0, next_due - time.monotonic()))
        self.socket.close(linger=0)
        self.context.term()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def stream() -> Iterator[StreamPublisher]:
    pub = StreamPublisher()
    yield pub
    pub.stop()


def sim_process(endpoint: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "console",
            "sim",
            "--bind",
            endpoint,
            "--rate-scale",
            "10",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# ------------------------------------------------------------------ (a)


def test_publisher_killed_and_restarted_gives_one_restart_event_and_no_gaps(
    tmp_path: Path,
) -> None:
    """SIGKILL the simulator, start a new one on the same port: seq restarts."""
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    endpoint = free_tcp_endpoint()
    first = sim_process(endpoint)
    session = LiveSession(
        dictionary,
        SessionConfig([endpoint], tmp_path / "restart.sqlite"),
        build_derivers(dictionary),
    )
    second: subprocess.Popen[bytes] | None = None
    try:
        session.start()
        sources = session.store.sources
        wait_for(
            lambda: len(sources) == len(dictionary.sources)
            and min(s.last_seq for s in sources.values()) >= 5,
            30,
            "every source to send 5 messages",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        before = {name: s.messages for name, s in sources.items()}
        second = sim_process(endpoint)
        wait_for(
            lambda: all(
                s.restarts >= 1 and s.messages >= before[name] + 3
                for name, s in sources.items()
            ),
            30,
            "every source to come back after the restart",
        )
    finally:
        session.stop()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
    events = session.store.events_since(0)
    for name, stats in sources.items():
        assert stats.restarts == 1, name
        assert stats.gaps == 0, name  # no gap storm
        restarts = [
            e for e in events if e.kind == "publisher restart" and e.source == name
        ]
        assert len(restarts) == 1, name
    assert not [e for e in events if e.kind == "gap"]
    # The subscriber reconnected by itself: a second handshake, nothing refused.
    assert session.subscriber.handshakes == 2
    assert session.subscriber.refused == 0 and session.subscriber.revived == 0
    with ArchiveReader(tmp_path / "restart.sqlite") as reader:
        archived = reader.events(kind="publisher restart")
    assert len(archived) == len(sources)


# ------------------------------------------------------------------ (b)


def archived_frames(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT count(*) FROM frames").fetchone()[0])
    except sqlite3.Error:  # not created yet
        return 0


def kill_recorder_once(stream: StreamPublisher, path: Path, run_s: float) -> float:
    """Record, SIGKILL mid-write, check the file; return the seconds of data lost."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "record", "--connect", stream.endpoint,
         "--archive", str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: archived_frames(path) >= 20, 30, "the recorder to write")
        threading.Event().wait(run_s)  # let it run into the middle of a batch
    finally:
        proc.send_signal(signal.SIGKILL)
        last_sent = stream.last_sent
        proc.wait(10)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Every committed frame has all its samples (2 channels x its rows).
        broken = conn.execute(
            "SELECT f.id, f.rows, sum(s.n) FROM frames AS f"
            " LEFT JOIN samples AS s ON s.frame_id = f.id"
            " GROUP BY f.id HAVING ifnull(sum(s.n), 0) != 2 * f.rows"
        ).fetchall()
        assert broken == []
        seqs = [r[0] for r in conn.execute("SELECT seq FROM frames ORDER BY id")]
        last_archived = conn.execute("SELECT max(t_last) FROM frames").fetchone()[0]
    # Committed batches are whole and in order: no hole before the last one.
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    with ArchiveReader(path) as reader:  # the file opens as an archive
        assert reader.sessions()[-1].ended is None  # it knows it crashed
        times, _ = reader.channel_window("ib2-a.pos_x", None, None)
    assert times.size == 10 * len(seqs)
    return float(last_sent - last_archived)


def test_recorder_sigkilled_mid_write_keeps_every_committed_batch(
    stream: StreamPublisher, tmp_path: Path
) -> None:
    """kill -9 the recorder: the file is sound and at most ~1 s of data is lost."""
    losses = [
        kill_recorder_once(stream, tmp_path / f"kill{i}.sqlite", 0.3 + 0.37 * i)
        for i in range(KILL_REPEATS)
    ]
    print(f"loss window on SIGKILL: {', '.join(f'{x:.3f}' for x in losses)} s")
    assert max(losses) <= 1.0


# ------------------------------------------------------------------ (c)


def archive_alarm(session: LiveSession) -> Severity:
    alarm = session.alarms.get(ARCHIVE_ALARM)
    return Severity.NOMINAL if alarm is None else alarm.severity


def test_disk_full_raises_the_archive_alarm_keeps_everything_and_resumes(
    stream: StreamPublisher, tiny_dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    path = tmp_path / "full.sqlite"
    session = LiveSession(
        tiny_dictionary,
        SessionConfig(
            [stream.endpoint],
            path,
            archive_options={"retry_seconds": 0.2},  # type: ignore[dict-item]
        ),
    )
    archive = session.archive
    assert archive is not None
    session.start()
    try:
        wait_for(lambda: archive.written_frames >= 20, 20, "frames archived")
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
        archive.set_max_page_count(pages)  # the disk is full from now on
        wait_for(lambda: archive_alarm(session) == Severity.CRITICAL, 20, "alarm")
        assert archive.disk_full
        kinds = [e.kind for e in session.store.events_since(0)]
        assert "archive disk full" in kinds
        # Live buffers keep updating while the archive cannot write.
        buffer = session.store.buffer("ib2-a.pos_x")
        assert buffer is not None
        seen = buffer.total
        wait_for(lambda: buffer.total >= seen + 100, 10, "live samples")
        assert archive.disk_full and archive.backlog > 0
        assert archive.dropped == 0  # held in memory, not discarded
        held = archive.backlog
        archive.set_max_page_count(2**30)  # space is back
        wait_for(lambda: not archive.disk_full and archive.backlog < held, 20, "resume")
        wait_for(lambda: archive_alarm(session) == Severity.NOMINAL, 20, "alarm clear")
    finally:
        stream.stop()
        session.stop()
    accepted = session.store.sources["ib2-a"].messages
    assert archive.dropped == 0 and archive.lost == 0
    alarm = session.alarms.get(ARCHIVE_ALARM)
    assert alarm is not None and alarm.peak == Severity.CRITICAL  # latched for ack
    with ArchiveReader(path) as reader:
        assert reader.info()["frames"] == accepted  # every frame received
        # The writer's own account, and the alarm's, are in the file too.
        assert reader.events(kind="archive_recovered")
        assert reader.events(kind="archive disk full")
        assert reader.transitions(key=ARCHIVE_ALARM)


# ------------------------------------------------------------------ (d)


def test_an_archive_slower_than_the_feed_shows_a_bounded_backlog(
    tiny_dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    """Another process holds the write lock: the backlog grows to its bound, no more.

    Drops beyond the bound are counted, alarmed and archived afterwards as an
    ``archive_overflow`` event; the live display never waits.
    """
    stream = StreamPublisher(rate_hz=1000.0, rows=1)
    path = tmp_path / "slow.sqlite"
    queue_bytes, batch = 150_000, 100
    session = LiveSession(
        tiny_dictionary,
        SessionConfig(
            [stream.endpoint],
            path,
            archive_options={"queue_bytes": queue_bytes, "batch_rows": batch},
        ),
    )
    archive = session.archive
    assert archive is not None and session.archive_watch is not None
    blocker = sqlite3.connect(path, isolation_level=None, timeout=0)
    session.start()
    try:
        wait_for(lambda: archive.written_frames >= 20, 20, "frames archived")
        blocker.execute("BEGIN IMMEDIATE")  # a slow disk, as the writer sees it
        wait_for(lambda: archive.dropped > 0, 20, "the queue to fill")
        wait_for(lambda: archive_alarm(session) == Severity.CRITICAL, 5, "alarm")
        # Bounded in bytes: the queue and the batch the writer is holding.
        assert 0 < archive.held_bytes <= queue_bytes
        kinds = {e.kind for e in session.store.events_since(0)}
        assert "archive dropping" in kinds
        blocker.execute("COMMIT")
        wait_for(lambda: archive.queue_fill < 0.25, 20, "the writer to catch up")
    finally:
        blocker.close()
        stream.stop()
        session.stop()
    accepted = session.store.sources["ib2-a"].messages
    with ArchiveReader(path) as reader:
        frames = reader.info()["frames"]
        overflow = reader.events(kind="archive_overflow")
    # Every frame received is either archived or counted as dropped (each
    # frame here holds 2 samples), and the archive says how many were dropped.
    assert frames + archive.dropped_samples // 2 == accepted
    assert sum(e.count or 0 for e in overflow) == archive.dropped
    assert "frames: " in overflow[0].detail


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_an_archive_removed_or_replaced_under_the_writer_is_a_critical_loss(
    how: str,
    stream: StreamPublisher,
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    """A clean-up script or a restore over the file: never "archive ok" (A1)."""
    path = tmp_path / "gone.sqlite"
    session = LiveSession(tiny_dictionary, SessionConfig([stream.endpoint], path))
    archive = session.archive
    assert archive is not None
    session.start()
    try:
        wait_for(lambda: archive.written_frames >= 20, 20, "frames archived")
        assert not archive.loss()
        if how == "removed":
            for suffix in ("", "-wal", "-shm"):
                (tmp_path / f"gone.sqlite{suffix}").unlink(missing_ok=True)
        else:  # a copy put over it: a file at the path, but not this writer's
            copy = tmp_path / "copy.sqlite"
            copy.write_bytes(path.read_bytes())
            os.replace(copy, path)
        wait_for(lambda: archive_alarm(session) == Severity.CRITICAL, 10, "alarm")
    finally:
        stream.stop()
        session.stop()
    events = [e for e in session.store.events_since(0) if e.kind == "archive file gone"]
    word = "removed" if how == "removed" else "replaced by another file"
    assert events and word in events[0].detail
    loss = archive.loss()
    assert loss and loss.frames >= 20  # what was written went with the file
    assert loss.summary().startswith("DATA LOST: ")
    assert word in loss.reason


def test_an_archive_renamed_under_the_writer_is_a_warning_not_a_loss(
    stream: StreamPublisher, tiny_dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    """Log rotation by rename: the data goes on into the renamed file (A1)."""
    path = tmp_path / "live.sqlite"
    session = LiveSession(tiny_dictionary, SessionConfig([stream.endpoint], path))
    archive = session.archive
    assert archive is not None
    session.start()
    try:
        wait_for(lambda: archive.written_frames >= 20, 20, "frames archived")
        rotated = tmp_path / "live.1.sqlite"
        for suffix in ("", "-wal", "-shm"):
            os.rename(f"{path}{suffix}", f"{rotated}{suffix}")
        wait_for(lambda: archive_alarm(session) == Severity.WARNING, 10, "alarm")
        written = archive.written_frames
        wait_for(lambda: archive.written_frames > written + 20, 20, "more frames")
    finally:
        stream.stop()
        session.stop()
    assert not archive.loss() and not archive.file_gone
    assert archive.moved.startswith(f"archive file no longer at {path} since ")
    with ArchiveReader(rotated) as reader:
        assert reader.info()["frames"] == archive.written_frames
