"""Damaged, foreign, shared, read-only and full archives, as a user meets them.

Every test runs the real ``kibo-console`` in a separate process on real
files: one line and exit 2 for a file that cannot be used, one writer per
archive, the loss said on the last line and in the exit status when the disk
fills, read-only media readable by every reading command.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from typing import TYPE_CHECKING

import numpy as np
import pytest
import zmq
from polling import wait_for

from telemetry.archive.lock import LOCK_SUFFIX
from telemetry.archive.reader import ArchiveReader
from telemetry.archive.writer import ArchiveWriter
from telemetry.bus.publisher import free_tcp_endpoint
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.core.wire import MAX_SEQ, encode_frame
from telemetry.live.session import ARCHIVE_QUEUE_BYTES, build_derivers
from telemetry.sim.recording import record_simulated_session

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.e2e

T0 = 1_750_000_000.0
COMMANDS: dict[str, Callable[[Path, Path], list[str]]] = {
    "info": lambda a, out: ["info", "--archive", str(a)],
    "export": lambda a, out: [
        "export",
        "--archive",
        str(a),
        "--channel",
        "ib2-a.pos_x",
    ],
    "dose-report": lambda a, out: ["dose-report", "--archive", str(a)],
    "handover": lambda a, out: ["handover", "--archive", str(a)],
    "replay": lambda a, out: ["replay", "--archive", str(a), "--wait-subscriber", "0"],
    "bookmark list": lambda a, out: ["bookmark", "--session", str(a)],
    "--replay": lambda a, out: ["--replay", str(a), "--quit-after", "1"],
}


def kibo(*args: str) -> list[str]:
    return [sys.executable, "-m", "console", *args]


def run(
    *args: str, timeout: float = 90, **kw: object
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        kibo(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
        **kw,  # type: ignore[arg-type]
    )


def own_lines(stderr: str) -> list[str]:
    """The console's own stderr lines (Qt's platform-plugin chatter left out)."""
    return [line for line in stderr.splitlines() if "propagateSizeHints" not in line]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "good.sqlite"
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    record_simulated_session(path, dictionary, 30.0, start_time=T0)
    return path


def bad_file(kind: str, good: Path, directory: Path) -> Path:
    path = directory / f"{kind}.sqlite"
    if kind == "zero-byte":
        path.write_bytes(b"")
    elif kind == "not-sqlite":
        path.write_bytes(b"time,channel,value\n" * 40)
    elif kind == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "newer-schema":
        shutil.copyfile(good, path)
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA user_version=99")
    elif kind == "foreign-sqlite":
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("CREATE TABLE contacts (name TEXT)")
            conn.commit()
    return path


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("zero-byte", "empty (0 bytes)"),
        ("not-sqlite", "not an SQLite file"),
        ("truncated", "truncated"),
        ("newer-schema", "schema v99"),
        ("foreign-sqlite", "not a Kibo console archive"),
    ],
)
def test_an_unusable_file_gives_one_line_and_exit_2(
    command: str, kind: str, problem: str, good: Path, tmp_path: Path
) -> None:
    path = bad_file(kind, good, tmp_path)
    before = path.read_bytes()
    done = run(*COMMANDS[command](path, tmp_path / "out"), cwd=tmp_path)
    lines = own_lines(done.stderr)
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1, done.stderr
    assert str(path) in lines[0] and problem in lines[0]
    assert "Traceback" not in done.stderr
    assert path.read_bytes() == before  # a reader never changes what it refuses


def test_a_recorder_refuses_a_file_that_is_not_an_archive(
    good: Path, tmp_path: Path
) -> None:
    for kind in ("not-sqlite", "truncated", "newer-schema", "foreign-sqlite"):
        path = bad_file(kind, good, tmp_path)
        before = path.read_bytes()
        done = run(
            "record", "--connect", free_tcp_endpoint(), "--archive", str(path),
            "--duration", "1", "--no-dose-ledger",
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        (line,) = own_lines(done.stderr)
        assert str(path) in line
        assert path.read_bytes() == before


@pytest.mark.parametrize(
    "args",
    [
        ["export", "--channel", "ib2-a.no_such_channel"],
        ["export", "--channel", "ib2-a.pos_x", "--start", "2025-06-15T15:07:00Z",
         "--end", "2025-06-15T15:07:00Z"],
        ["dose-report", "--start", "2025-06-15T15:08:00Z", "--end",
         "2025-06-15T15:07:00Z"],
        ["handover", "--start", "2025-06-15T15:08:00Z", "--end",
         "2025-06-15T15:07:00Z"],
        ["replay", "--start", "2025-06-15T15:08:00Z", "--end",
         "2025-06-15T15:07:00Z"],
    ],
    ids=["unknown channel", "export", "dose-report", "handover", "replay"],
)  # fmt: skip
def test_unknown_channels_and_reversed_periods_are_refused(
    args: list[str], good: Path
) -> None:
    done = run(args[0], "--archive", str(good), *args[1:])
    assert done.returncode == 2, done.stderr
    (line,) = own_lines(done.stderr)
    assert "no channel" in line or "not after" in line
    assert done.stdout == ""


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-5", "0", "ten"])
@pytest.mark.parametrize("command", ["record", "sim"])
def test_durations_that_are_not_a_positive_number_are_refused(
    command: str, value: str, tmp_path: Path
) -> None:
    target = ["--connect", free_tcp_endpoint(), "--archive", str(tmp_path / "a.sqlite")]
    args = target if command == "record" else ["--bind", free_tcp_endpoint()]
    done = run(command, *args, f"--duration={value}", timeout=30)
    assert done.returncode == 2
    assert "--duration" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "a.sqlite").exists()


def test_a_simulator_slower_than_real_time_is_refused(tmp_path: Path) -> None:
    done = run("sim", "--bind", free_tcp_endpoint(), "--rate-scale", "0.5", timeout=30)
    assert done.returncode == 2
    assert "--rate-scale: must be 1 (real time) or more" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------ one writer


def test_a_second_writer_of_an_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "shared.sqlite"
    endpoint = free_tcp_endpoint()
    first = subprocess.Popen(
        kibo("record", "--connect", endpoint, "--archive", str(archive),
             "--duration", "60", "--no-dose-ledger"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        lock = archive.with_name(archive.name + LOCK_SUFFIX)
        wait_for(lock.exists, 30, "the first recorder to take the archive")
        second = run(
            "record", "--connect", endpoint, "--archive", str(archive),
            "--duration", "1", "--no-dose-ledger",
        )  # fmt: skip
        assert second.returncode == 2
        (line,) = own_lines(second.stderr)
        assert str(archive) in line and "already being written" in line
        assert f"process {first.pid}" in line
        gui = run(
            "--connect", endpoint, "--archive", str(archive), "--quit-after", "1",
            "--no-dose-ledger",
        )  # fmt: skip
        assert gui.returncode == 2, gui.stderr
        assert "already being written" in own_lines(gui.stderr)[-1]
        # Readers are never refused beside the writer.
        assert run("info", "--archive", str(archive)).returncode == 0
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=30)
    assert first.returncode == 0, err
    assert not lock.exists()  # released: the next session may write it
    with ArchiveReader(archive) as reader:
        assert len(reader.sessions()) == 1  # the refused ones wrote nothing


def test_a_killed_recorder_leaves_the_archive_writable(tmp_path: Path) -> None:
    archive = tmp_path / "killed.sqlite"
    endpoint = free_tcp_endpoint()
    first = subprocess.Popen(
        kibo("record", "--connect", endpoint, "--archive", str(archive),
             "--no-dose-ledger"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    lock = archive.with_name(archive.name + LOCK_SUFFIX)
    wait_for(lock.exists, 30, "the recorder to take the archive")
    first.kill()
    first.wait(10)
    again = run(
        "record", "--connect", endpoint, "--archive", str(archive),
        "--duration", "0.5", "--no-dose-ledger",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr


def test_two_writers_in_one_process_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "one.sqlite"
    first = ArchiveWriter(path, dictionary_sha256="x", dictionary_version="x")
    try:
        with pytest.raises(ValueError, match="already being written"):
            ArchiveWriter(path, dictionary_sha256="x", dictionary_version="x")
    finally:
        assert first.stop()
    ArchiveWriter(path, dictionary_sha256="x", dictionary_version="x").stop()


# ------------------------------------------------------------- full disk


@contextlib.contextmanager
def small_disk(
    tmp_path: Path, size_kib: int
) -> Iterator[tuple[Path, Callable[[], None] | None]]:
    """A directory on a tiny tmpfs (root), else a file-size limit for the child.

    Yields the directory and a ``preexec_fn`` (None on tmpfs) that limits the
    files the child may write to ``size_kib`` (writes past it fail as a full
    disk does, with an I/O error instead of SQLITE_FULL).
    """
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:8]}"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs",
         str(mount)],
        capture_output=True, check=False,
    ).returncode == 0  # fmt: skip
    if mounted:
        try:
            yield mount, None
        finally:
            subprocess.run(["umount", "-l", str(mount)], check=False)
        return

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size_kib * 1024,) * 2)

    yield mount, limit


@pytest.mark.parametrize("who", ["record", "gui"])
def test_a_recorder_that_lost_data_to_a_full_disk_says_so(
    who: str, tmp_path: Path
) -> None:
    """The recorder and the console window alike: exit 3, the loss on the last line."""
    endpoint = free_tcp_endpoint()
    sim = subprocess.Popen(
        kibo("sim", "--bind", endpoint, "--rate-scale", "20", "--duration", "60"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with small_disk(tmp_path, 400) as (disk, limit):
            archive = disk / "full.sqlite"
            how = (
                ["record", "--duration", "12"]
                if who == "record"
                else ["--quit-after", "12"]
            )
            rec = run(
                *how, "--connect", endpoint, "--archive", str(archive),
                "--no-dose-ledger", preexec_fn=limit,
            )  # fmt: skip
    finally:
        sim.terminate()
        sim.wait(10)
    assert rec.returncode == 3, rec.stderr
    last = own_lines(rec.stderr)[-1]
    assert last.startswith("kibo-console: DATA LOST: ")
    assert str(archive) in last
    frames = int(last.split("(")[1].split(" frames")[0])
    assert frames > 0
    assert "samples" in last and "MiB" in last


@pytest.mark.parametrize("who", ["record", "gui"])
def test_an_archive_removed_under_a_running_recorder_is_data_lost(
    who: str, tmp_path: Path
) -> None:
    """rm of the archive while recording: never "recorded ... to" and exit 0 (A1).

    The recorder ends at once (a supervisor can start a new file); the window
    keeps showing live data until it is closed, then says the loss too.
    """
    endpoint = free_tcp_endpoint()
    sim = subprocess.Popen(
        kibo("sim", "--bind", endpoint, "--duration", "90"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    archive = tmp_path / "rm.sqlite"
    how = ["record", "--duration", "60"] if who == "record" else ["--quit-after", "25"]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    rec = subprocess.Popen(
        kibo(*how, "--connect", endpoint, "--archive", str(archive),
             "--no-dose-ledger"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        wal = archive.with_name(archive.name + "-wal")
        wait_for(lambda: wal.exists() and wal.stat().st_size > 0, 60, "frames written")
        for path in (archive, wal, archive.with_name(archive.name + "-shm")):
            path.unlink(missing_ok=True)
        _, stderr = rec.communicate(timeout=60)
    finally:
        rec.kill()
        sim.terminate()
        sim.wait(10)
    assert rec.returncode == 3, stderr
    last = own_lines(stderr)[-1]
    assert last.startswith("kibo-console: DATA LOST: "), last
    assert f"archive file {archive} removed under the running writer" in last
    assert int(last.split("(")[1].split(" frames")[0]) > 0


# ------------------------------------------------------- read-only media


@contextlib.contextmanager
def read_only(source: Path, tmp_path: Path) -> Iterator[Path]:
    """``source`` (a directory) seen through a read-only bind mount (root), else
    copied into a 0555 directory."""
    target = tmp_path / "ro"
    target.mkdir()
    bound = (
        subprocess.run(
            ["mount", "--bind", str(source), str(target)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    if bound:
        remount = ["mount", "-o", "remount,bind,ro", str(target)]
        if subprocess.run(remount, capture_output=True, check=False).returncode:
            subprocess.run(["umount", str(target)], check=False)
            pytest.skip("cannot make a read-only mount here")
        try:
            yield target
        finally:
            subprocess.run(["umount", str(target)], check=False)
        return
    if os.geteuid() == 0:
        pytest.skip("root without mount: no way to make a read-only directory")
    for item in source.iterdir():
        shutil.copyfile(item, target / item.name)
    target.chmod(0o555)
    try:
        yield target
    finally:
        target.chmod(0o755)


@pytest.fixture
def read_only_copy(good: Path, tmp_path: Path) -> Iterator[Path]:
    """The good archive, alone, on read-only media."""
    source = tmp_path / "src"
    source.mkdir()
    shutil.copyfile(good, source / "ro.sqlite")
    with read_only(source, tmp_path) as target:
        yield target / "ro.sqlite"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_reading_command_opens_an_archive_on_read_only_media(
    command: str, read_only_copy: Path, tmp_path: Path
) -> None:
    args = COMMANDS[command](read_only_copy, tmp_path)
    if command == "replay":
        # A subscriber is needed for the republish to start at all.
        args = ["replay", "--archive", str(read_only_copy), "--speed", "0",
                "--wait-subscriber", "0.1"]  # fmt: skip
    done = run(*args, cwd=tmp_path)
    if command == "replay":
        assert "no subscriber" in done.stderr  # it got past opening the archive
    else:
        assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in read_only_copy.parent.iterdir()) == ["ro.sqlite"]


def test_an_unmerged_wal_on_read_only_media_is_said_not_ignored(
    tmp_path: Path,
) -> None:
    """A recorder's file copied with its -wal before it closed: never read in part."""
    source = tmp_path / "src"
    source.mkdir()
    live = tmp_path / "live.sqlite"
    writer = ArchiveWriter(live, dictionary_sha256="x", dictionary_version="x")
    writer.start()
    writer.put_event(T0, "ib2-a", "gap", "missing 3")
    assert writer.flush()
    shutil.copyfile(live, source / "copy.sqlite")  # mid-session: frames in -wal
    shutil.copyfile(f"{live}-wal", source / "copy.sqlite-wal")
    assert writer.stop()
    with read_only(source, tmp_path) as target:
        done = run("info", "--archive", str(target / "copy.sqlite"))
    assert done.returncode == 2
    (line,) = own_lines(done.stderr)
    assert "copy.sqlite-wal" in line and "read-only" in line


# ------------------------------------------------------ sequence extremes


def test_sequence_numbers_at_the_protocol_maximum_never_overflow(
    tmp_path: Path,
) -> None:
    path = tmp_path / "seq.sqlite"
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    writer = ArchiveWriter(
        path, dictionary_sha256=dictionary.sha256, dictionary_version="t"
    )
    pipeline = Pipeline(
        dictionary, ChannelStore(1000), AlarmBook(), writer, build_derivers(dictionary)
    )
    writer.start()
    # Jumps of ~2^63 frames, several times: the gap counts sum past 2^64.
    seqs = [0, MAX_SEQ, 0, MAX_SEQ, 0, MAX_SEQ, MAX_SEQ - 1, MAX_SEQ]
    for i, seq in enumerate(seqs):
        parts = encode_frame(
            "robot", "ib2-a", seq, np.array([T0 + i]), {"pos_x": [float(i)]}, "msgpack"
        )
        pipeline.ingest(parts, T0 + i)
        pipeline.tick(T0 + i)
    assert writer.stop()
    info = run("info", "--json", "--archive", str(path))
    assert info.returncode == 0, info.stderr
    assert '"missed": 27670116110564327418' in info.stdout  # exact: 3 (2^63 - 2)
    for command in ("handover", "dose-report", "--replay"):
        done = run(*COMMANDS[command](path, tmp_path), cwd=tmp_path)
        assert done.returncode == 0, (command, done.stderr)


# ------------------------------------------------------------- export


def hostile_archive(path: Path) -> None:
    writer = ArchiveWriter(path, dictionary_sha256="x", dictionary_version="x")
    states = {"\x1b]0;owned\x07\x1b[31mRED": 1, "=cmd|'/c calc'!A0": 2, "\x9b2J": 3}
    writer.put_channel(
        "ib2-a.mode", unit="", declared=True, derived=False, states=states
    )
    writer.put_channel("ib2-a.pos_x", unit="m", declared=True, derived=False, states={})
    writer.start()
    t_mode = np.array([T0, T0 + 1, T0 + 2])
    t_pos = np.array([T0 + 0.5, T0 + 1, T0 + 3])
    writer.put_samples(
        [("ib2-a.mode", t_mode, np.array([1.0, 2.0, 3.0])),
         ("ib2-a.pos_x", t_pos, np.array([0.25, 0.5, np.nan]))]
    )  # fmt: skip
    assert writer.stop()


def test_csv_export_writes_no_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "hostile.sqlite"
    hostile_archive(path)
    done = run("export", "--archive", str(path), "--channel", "ib2-a.mode")
    assert done.returncode == 0, done.stderr
    assert not any(c in done.stdout for c in "\x1b\x07\x9b\r")
    values = [r[2] for r in csv.reader(io.StringIO(done.stdout))][1:]
    assert values == [
        "\\x1b]0;owned\\x07\\x1b[31mRED",
        "'=cmd|'/c calc'!A0",  # still defused for spreadsheets
        "\\x9b2J",
    ]
    as_json = run(
        "export", "--archive", str(path), "--channel", "ib2-a.mode", "--format",
        "json",
    )  # fmt: skip
    assert not any(c in as_json.stdout for c in "\x1b\x07\x9b")


def test_wide_export_puts_channels_side_by_side_on_their_times(tmp_path: Path) -> None:
    path = tmp_path / "wide.sqlite"
    hostile_archive(path)
    done = run(
        "export", "--archive", str(path), "--wide", "--channel", "ib2-a.pos_x",
        "--channel", "ib2-a.mode", "--start", "2025-06-15T15:06:40Z",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[0] == ["time", "ib2-a.pos_x", "ib2-a.mode"]
    assert [r[0][17:23] for r in rows[1:]] == ["40.000", "40.500", "41.000",
                                               "42.000", "43.000"]  # fmt: skip
    assert [r[1:] for r in rows[1:]] == [
        ["", "\\x1b]0;owned\\x07\\x1b[31mRED"],
        ["0.25", ""],
        ["0.5", "'=cmd|'/c calc'!A0"],
        ["", "\\x9b2J"],
        ["", ""],  # a NaN sample: its time is kept, its value empty
    ]
    refused = run(
        "export", "--archive", str(path), "--channel", "ib2-a.pos_x",
        "--channel", "ib2-a.mode",
    )  # fmt: skip
    assert refused.returncode == 2 and "--wide" in refused.stderr


# ------------------------------------------------- GUI scroll-back and quit


@pytest.mark.usefixtures("console_env", "themed")
def test_after_scrolling_back_and_quitting_the_main_file_holds_every_frame(
    qtbot: QtBot, tmp_path: Path
) -> None:
    from console.app import build_console
    from console.config import ConsoleConfig

    pub = zmq.Context.instance().socket(zmq.XPUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    path = tmp_path / "gui.sqlite"
    console = build_console(
        ConsoleConfig(endpoints=[f"tcp://127.0.0.1:{port}"], archive_path=path)
    )
    qtbot.addWidget(console.window)
    console.start()
    bystander = None
    try:
        assert pub.poll(10_000), "the console did not subscribe"
        pub.recv()
        now = time.time()
        n = 60
        for seq in range(n):
            times = now - n + seq + np.arange(5) * 0.2
            pub.send_multipart(
                encode_frame("eclss", "jpm", seq, times, {"ppco2": np.full(5, 2.5)})
            )
        archive = console.session.archive if console.session else None
        assert archive is not None and console.history is not None
        wait_for(lambda: archive.written_frames == n, 20, "every frame archived")
        # The operator scrolls back: the history worker opens its reader...
        console.history.request("scroll", "jpm.ppco2", now - n, now).result(10)
        # ...and a reader elsewhere (another window's export) is still open.
        bystander = ArchiveReader(path)
        assert bystander.info()["frames"] == n
        console.shutdown()
    finally:
        console.shutdown()
        if bystander is not None:
            bystander.close()
        pub.close(linger=0)
    alone = tmp_path / "copied" / "gui.sqlite"
    alone.parent.mkdir()
    shutil.copyfile(path, alone)  # the .sqlite only, as a user would copy it
    with ArchiveReader(alone) as reader:
        assert reader.info()["frames"] == n


def test_wide_export_keeps_every_sample_of_a_repeated_time(tmp_path: Path) -> None:
    path = tmp_path / "repeat.sqlite"
    writer = ArchiveWriter(path, dictionary_sha256="x", dictionary_version="x")
    writer.start()
    writer.put_samples(
        [("ib2-a.x", np.array([T0, T0, T0 + 1]), np.array([1.0, 2.0, 3.0])),
         ("ib2-a.y", np.array([T0]), np.array([9.0]))]
    )  # fmt: skip
    assert writer.stop()
    done = run(
        "export", "--archive", str(path), "--wide", "--channel", "ib2-a.x",
        "--channel", "ib2-a.y",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))[1:]
    assert [r[1:] for r in rows] == [["1.0", "9.0"], ["2.0", ""], ["3.0", ""]]
    assert rows[0][0] == rows[1][0] != rows[2][0]


@pytest.mark.parametrize("command", ["export", "dose-report", "handover"])
def test_an_output_that_is_the_archive_itself_is_refused(
    command: str, good: Path, tmp_path: Path
) -> None:
    path = tmp_path / "mine.sqlite"
    shutil.copyfile(good, path)
    before = path.read_bytes()
    args = COMMANDS[command](path, tmp_path)
    done = run(*args, "--output", str(tmp_path / "." / "mine.sqlite"))
    assert done.returncode == 2
    (line,) = own_lines(done.stderr)
    assert "is the archive itself" in line
    assert path.read_bytes() == before


def test_a_writer_through_a_symlink_is_the_same_writer(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    first = ArchiveWriter(
        real / "a.sqlite", dictionary_sha256="x", dictionary_version="x"
    )
    try:
        with pytest.raises(ValueError, match="already being written"):
            ArchiveWriter(
                tmp_path / "link" / "a.sqlite",
                dictionary_sha256="x",
                dictionary_version="x",
            )
    finally:
        assert first.stop()


# ------------------------------------------------------------ side files


def test_side_files_are_created_owner_only_whatever_the_umask(
    good: Path, tmp_path: Path
) -> None:
    from telemetry.radiation.ledger import DoseLedger
    from telemetry.replay.bookmarks import BookmarkFile, sidecar_path
    from telemetry.replay.training import TrainingLog

    session = tmp_path / "s.sqlite"
    shutil.copyfile(good, session)
    session.chmod(0o600)
    old = os.umask(0o000)  # the most permissive an operator's shell could have
    try:
        TrainingLog(
            tmp_path / "t.sqlite", trainee="t", scenario="s", replayed=session,
            replay_start=T0,
        ).close()  # fmt: skip
        DoseLedger(
            tmp_path / "ledger.sqlite", roster_version="v", roster_sha256="x",
            bin_s=3600.0, opened=T0,
        ).close()  # fmt: skip
        BookmarkFile(session).add(T0 + 1, "a", "note")
    finally:
        os.umask(old)
    for path in (
        tmp_path / "t.sqlite",
        tmp_path / "ledger.sqlite",
        sidecar_path(session),
    ):
        assert path.stat().st_mode & 0o777 == 0o600, path


RECEIVE_MIB = 64


def test_a_recorder_behind_a_full_disk_keeps_its_memory_bounded(
    tmp_path: Path,
) -> None:
    """270 MB of large messages into a full disk: the recorder's peak RSS stays
    near its byte budget above its own size, and it says what it lost."""
    pub = zmq.Context.instance().socket(zmq.XPUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.setsockopt(zmq.SNDHWM, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    try:
        with small_disk(tmp_path, 400) as (disk, limit):
            archive = disk / "big.sqlite"
            rec = subprocess.Popen(
                kibo("record", "--connect", f"tcp://127.0.0.1:{port}",
                     "--archive", str(archive), "--no-dose-ledger",
                     "--receive-queue-mib", str(RECEIVE_MIB)),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                preexec_fn=limit,
            )  # fmt: skip
            assert pub.poll(30_000), "the recorder did not subscribe"
            pub.recv()
            rows = 100_000  # ~1.8 MB a message
            sent = 0
            for seq in range(150):
                times = time.time() - 1.0 + np.arange(rows) * 1e-6
                parts = encode_frame(
                    "robot", "ib2-a", seq, times, {"pos_x": np.zeros(rows)}
                )
                pub.send_multipart(parts)
                sent += len(parts[1])
                threading.Event().wait(0.05)  # paced: the receive side keeps up
            rec.send_signal(signal.SIGTERM)
            _, status, usage = os.wait4(rec.pid, 0)
            assert rec.stderr is not None
            err = rec.stderr.read()
            rec.stderr.close()
            rec.returncode = os.waitstatus_to_exitcode(status)
    finally:
        pub.close(linger=0)
    assert sent > 250e6
    peak_mib = usage.ru_maxrss / 1024
    # Both budgets (the archive's, and the receive queue's if a loaded machine
    # slows the pipeline), the recorder itself (~100 MiB) and one message in
    # flight.
    bound_mib = ARCHIVE_QUEUE_BYTES / 2**20 + RECEIVE_MIB + 200
    assert peak_mib < bound_mib, f"peak RSS {peak_mib:.0f} MiB"
    assert rec.returncode == 3, err
    assert "DATA LOST" in own_lines(err)[-1]


def test_the_gui_stopped_by_sigterm_flushes_its_archive(tmp_path: Path) -> None:
    """A logout or ``kill`` sends SIGTERM: the console quits as if asked, and
    the main file alone holds every frame it received."""
    pub = zmq.Context.instance().socket(zmq.XPUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    archive = tmp_path / "gui.sqlite"
    gui = subprocess.Popen(
        kibo("--connect", f"tcp://127.0.0.1:{port}", "--archive", str(archive),
             "--no-dose-ledger"),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    try:
        assert pub.poll(60_000), "the console did not subscribe"
        pub.recv()
        now = time.time()
        for seq in range(20):
            times = now - 20 + seq + np.arange(5) * 0.2
            pub.send_multipart(
                encode_frame("eclss", "jpm", seq, times, {"ppco2": np.full(5, 2.5)})
            )

        def archived() -> int:
            with contextlib.suppress(Exception), ArchiveReader(archive) as reader:
                return int(reader.info()["frames"])
            return 0

        wait_for(lambda: archived() == 20, 60, "the frames archived")
        gui.send_signal(signal.SIGTERM)
        code = gui.wait(60)
    finally:
        pub.close(linger=0)
        if gui.poll() is None:
            gui.kill()
            gui.wait()
        assert gui.stderr is not None
        err = gui.stderr.read()
        gui.stderr.close()
    assert code == 0, err
    assert not archive.with_name(archive.name + "-wal").exists()
    with sqlite3.connect(f"file:{archive}?mode=ro&immutable=1", uri=True) as main:
        assert main.execute("SELECT count(*) FROM frames").fetchone()[0] == 20
