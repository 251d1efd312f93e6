"""The scriptable CLI forms, run as a user would: separate processes, real sockets."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from polling import wait_for

from telemetry.archive.reader import ArchiveReader
from telemetry.bus.publisher import free_tcp_endpoint

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = pytest.mark.e2e


def kibo(*args: str) -> list[str]:
    return [sys.executable, "-m", "console", *args]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        kibo(*args), capture_output=True, text=True, timeout=timeout, check=False
    )


def shift_iso(text: str, seconds: float) -> str:
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (stamp + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def simulator() -> Iterator[str]:
    endpoint = free_tcp_endpoint()
    proc = subprocess.Popen(
        kibo(
            "sim",
            "--bind",
            endpoint,
            "--seed",
            "7",
            "--rate-scale",
            "5",
            "--duration",
            "120",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    yield endpoint
    proc.terminate()
    proc.wait(10)


def archived_frames(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with ArchiveReader(path) as reader:
            info = reader.info()
    except Exception:  # the writer may still be creating the file
        return 0
    return sum(s["messages"] for s in info["sources"].values())


def test_sim_record_info_export(simulator: str, tmp_path: Path) -> None:
    archive = tmp_path / "session.sqlite"
    rec = run(
        "record", "--connect", simulator, "--archive", str(archive), "--duration", "4"
    )
    assert rec.returncode == 0, rec.stderr
    assert "recorded" in rec.stderr

    info_run = run("info", "--archive", str(archive), "--json")
    assert info_run.returncode == 0, info_run.stderr
    info = json.loads(info_run.stdout)
    for family_source in ("ib2-a", "ib2-b", "jpm", "padles-jpm-1", "c1", "iss", "goes"):
        assert info["sources"][family_source]["messages"] > 0, family_source
        assert info["sources"][family_source]["gaps"] == 0
        assert info["sources"][family_source]["rejected"] == 0
    assert info["rejected"] == 0
    assert info["samples"] == sum(s["samples"] for s in info["sources"].values())
    recorded = int(rec.stderr.split("recorded ")[1].split(" messages")[0])
    assert sum(s["messages"] for s in info["sources"].values()) == recorded

    exp = run(
        "export", "--archive", str(archive), "--channel", "jpm.ppco2", "--format", "csv"
    )
    assert exp.returncode == 0, exp.stderr
    rows = list(csv.reader(io.StringIO(exp.stdout)))
    assert rows[0] == ["time", "channel", "value"]
    assert len(rows) > 2
    assert rows[1][0].endswith("Z") and rows[1][1] == "jpm.ppco2"
    assert 0.5 < float(rows[1][2]) < 10.0

    as_json = run(
        "export",
        "--archive",
        str(archive),
        "--channel",
        "ib2-a.mode",
        "--format",
        "json",
    )
    assert as_json.returncode == 0, as_json.stderr
    assert (
        "OPERATION" in as_json.stdout
        or "STANDBY" in as_json.stdout
        or "DOCKING" in as_json.stdout
    )


def test_record_flushes_everything_on_sigint(simulator: str, tmp_path: Path) -> None:
    archive = tmp_path / "sigint.sqlite"
    proc = subprocess.Popen(
        kibo("record", "--connect", simulator, "--archive", str(archive)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: archived_frames(archive) >= 20, 30, "20 archived messages")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    recorded = int(err.split("recorded ")[1].split(" messages")[0])
    assert archived_frames(archive) == recorded


def test_export_time_range_and_errors(simulator: str, tmp_path: Path) -> None:
    archive = tmp_path / "range.sqlite"
    assert (
        run(
            "record",
            "--connect",
            simulator,
            "--archive",
            str(archive),
            "--duration",
            "3",
        ).returncode
        == 0
    )
    full = run(
        "export",
        "--archive",
        str(archive),
        "--channel",
        "ib2-a.pos_x",
        "--format",
        "csv",
    )
    rows = full.stdout.strip().splitlines()[1:]
    assert len(rows) >= 4
    # Half a second inside each sample (1 Hz): microsecond ISO text rounds.
    start = shift_iso(rows[1].split(",")[0], -0.5)
    end = shift_iso(rows[-1].split(",")[0], -0.5)
    part = run(
        "export",
        "--archive",
        str(archive),
        "--channel",
        "ib2-a.pos_x",
        "--start",
        start,
        "--end",
        end,
        "--format",
        "csv",
    )
    part_rows = part.stdout.strip().splitlines()[1:]
    assert part_rows == rows[1:-1]  # half-open: the end sample is excluded

    missing = run("info", "--archive", str(tmp_path / "nope.sqlite"), "--json")
    assert missing.returncode == 2
    assert "nope.sqlite" in missing.stderr


def test_bench_fuzz_runs_and_prints_its_figures() -> None:
    """``kibo-console bench fuzz``: a small run through a real socket, checked."""
    bench = run("bench", "fuzz", "--frames", "400", timeout=120)
    assert bench.returncode == 0, bench.stderr
    assert "== bench fuzz" in bench.stdout
    assert "frames sent / received      400 / 400" in bench.stdout
    assert "internal errors             0" in bench.stdout
    assert "verdict                     ok" in bench.stdout
    assert "frames/s" in bench.stdout and "MiB" in bench.stdout
