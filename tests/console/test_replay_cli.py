"""Replay, training, bookmark and debrief from the command line, run as processes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from telemetry.replay.bookmarks import BookmarkFile, sidecar_path
from telemetry.replay.training import read_training_log

pytestmark = pytest.mark.e2e

REPLAY_DATA = Path(__file__).resolve().parents[2] / "replay_data"
SESSIONS = sorted(REPLAY_DATA.glob("*.session.sqlite"))
START = 1_772_442_000.0  # replay_data's sessions start 2026-03-02 09:00:00 UTC


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def kibo(*args: str) -> list[str]:
    return [sys.executable, "-m", "console", *args]


def gui_env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "KIBO_DATA_DIR": str(tmp_path / "data"),
        "KIBO_AUDIO": "off",
    }


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        kibo(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def test_every_session_opens_in_the_console_and_quits_cleanly(tmp_path: Path) -> None:
    """The shipped files themselves (and co2-rise's bookmarks), read-only."""
    assert len(SESSIONS) == 4
    runs = []
    for path in SESSIONS:
        before = sha256(path)
        proc = subprocess.Popen(
            kibo("--replay", str(path), "--quit-after", "5"),
            env=gui_env(tmp_path / path.stem),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        runs.append((path, before, proc))
    for path, before, proc in runs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, f"{path.name}: {err}"
        assert sha256(path) == before


def test_training_from_the_command_line_starts_where_and_how_fast_asked(
    tmp_path: Path,
) -> None:
    session = tmp_path / "co2-rise.session.sqlite"
    shutil.copyfile(REPLAY_DATA / session.name, session)
    before = sha256(session)
    log = tmp_path / "trainee-a.sqlite"
    result = run(
        "--replay", str(session), "--training", "--operator", "Trainee A",
        "--training-log", str(log), "--layout", "trainer",
        "--replay-start", "+06:50", "--replay-speed", "20", "--quit-after", "4",
        env=gui_env(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"the trainee's actions go to {log}" in result.stderr
    assert sha256(session) == before
    record = read_training_log(log)
    assert record.trainee == "Trainee A"
    assert record.ended is not None  # closed on quit
    raised = {(round(t.time - START), t.key, t.severity) for t in record.transitions}
    # Opened at T+6:50 (the run there raises the early ones) and played at
    # 20×: the critical CO2 alarm (24 h mean) at T+6:59 comes up within the 4 s.
    assert {(74, "jpm.ppco2", 1), (94, "jpm.ppco2", 2)} <= raised
    assert (419, "jpm.ppco2", 3) in raised
    # Where and how fast the trainee was put is in the log for the debrief.
    controls = [(c.control, c.value) for c in record.controls]
    assert controls[:2] == [("seek", START + 410.0), ("speed", 20.0)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replay-start", "half past"], "not a time"),
        (["--replay-speed", "500"], "replay speed must be"),
    ],
)
def test_bad_replay_options_exit_2_with_the_reason(
    tmp_path: Path, args: list[str], message: str
) -> None:
    session = tmp_path / "nominal-ops.session.sqlite"
    shutil.copyfile(REPLAY_DATA / session.name, session)
    result = run("--replay", str(session), *args, env=gui_env(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr


def test_a_broken_fault_scenario_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    session = tmp_path / "nominal-ops.session.sqlite"
    shutil.copyfile(REPLAY_DATA / session.name, session)
    faults = tmp_path / "typo.toml"
    faults.write_text('[[fault]]\nkind = "stuk"\nchannel = "jpm.ppco2"\n')
    result = run(
        "--replay", str(session), "--faults", str(faults), "--quit-after", "5",
        env=gui_env(tmp_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"{faults}:2: [fault #1] kind 'stuk'" in result.stderr


def test_replay_options_need_a_replay(tmp_path: Path) -> None:
    result = run("--replay-speed", "2", env=gui_env(tmp_path))
    assert result.returncode == 2
    assert "need --replay FILE" in result.stderr


def test_bookmark_add_list_remove(tmp_path: Path) -> None:
    session = tmp_path / "co2-rise.session.sqlite"
    shutil.copyfile(REPLAY_DATA / session.name, session)
    before = sha256(session)
    added = run(
        "bookmark", "--session", str(session), "--time", "+01:00",
        "--text", "CDRA fails", "--author", "Trainer B",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert f"added bookmark 1 to {sidecar_path(session)}" in added.stderr
    run("bookmark", "--session", str(session), "--time", "2026-03-02T09:03:03Z",
        "--text", "critical")  # fmt: skip
    run("bookmark", "--session", str(session), "--time", "+03:10",
        "--text", "expect LiOH", "--trainer-only")  # fmt: skip
    listed = run("bookmark", "--session", str(session))
    assert listed.stdout.splitlines() == [
        "   1  2026-03-02T09:01:00Z  T+1:00.0  Trainer B: CDRA fails",
        "   2  2026-03-02T09:03:03Z  T+3:03.0  -: critical",
        "   3  2026-03-02T09:03:10Z  T+3:10.0  -: expect LiOH  [trainer only]",
    ]
    assert [b.id for b in BookmarkFile(session).read(trainee=True)] == [1, 2]
    assert run("bookmark", "--session", str(session), "--remove", "3").returncode == 0
    outside = run(
        "bookmark", "--session", str(session), "--time", "+20:00", "--text", "late"
    )
    assert outside.returncode == 2
    assert "outside the session" in outside.stderr
    half = run("bookmark", "--session", str(session), "--text", "when?")
    assert half.returncode == 2
    assert "give both --time and --text" in half.stderr
    assert run("bookmark", "--session", str(session), "--remove", "1").returncode == 0
    assert [b.text for b in BookmarkFile(session).read()] == ["critical"]
    missing = run("bookmark", "--session", str(session), "--remove", "1")
    assert missing.returncode == 2
    assert sha256(session) == before


def test_debrief_errors_name_what_is_missing(tmp_path: Path) -> None:
    result = run("debrief", "--training-log", str(tmp_path / "none.sqlite"))
    assert result.returncode == 2
    assert "no training log" in result.stderr
    session = tmp_path / "copy.sqlite"
    shutil.copyfile(REPLAY_DATA / "nominal-ops.session.sqlite", session)
    log = tmp_path / "log.sqlite"
    from telemetry.replay.training import TrainingLog

    TrainingLog(
        log, trainee="t", scenario="copy", replayed=session, replay_start=START
    ).close()
    result = run("debrief", "--training-log", str(log))
    assert result.returncode == 2
    assert "give --expect SCENARIO.toml" in result.stderr
    expect = REPLAY_DATA / "nominal-ops.expect.toml"
    out = tmp_path / "report.html"
    result = run(
        "debrief", "--training-log", str(log), "--expect", str(expect),
        "--output", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    page = out.read_text()
    assert "alarm not raised" in page  # the trainee's run never got that far
