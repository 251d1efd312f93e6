"""A broken configuration file stops the console before it starts, naming the fault.

Half-configured (no dose engine, a default limit, a channel missing) is worse
than not started: the recorder and the console exit with status 2 and say
which file, which line and which entry, and create no archive.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from telemetry.core.dictionary import DEFAULT_DICTIONARY
from telemetry.radiation.roster import DEFAULT_LIMITS, DEFAULT_ROSTER

if TYPE_CHECKING:
    from pathlib import Path

    from PySide6.QtWidgets import QApplication

pytestmark = pytest.mark.e2e

# (option, shipped file, text to break, its replacement, entry named in the error)
BREAKAGES = [
    pytest.param(
        "--dictionary",
        DEFAULT_DICTIONARY,
        "rate_hz = 1.0",
        "rate_hz = -1.0",
        "[families.robot.channels.pos_x.rate_hz]",
        id="dictionary-negative-rate",
    ),
    pytest.param(
        "--dictionary",
        DEFAULT_DICTIONARY,
        'family = "robot"',
        'family = "robots"',
        "family 'robots' is not declared",
        id="dictionary-unknown-family",
    ),
    pytest.param(
        "--dictionary",
        DEFAULT_DICTIONARY,
        "rate_hz = 1.0",
        "rate_hz = = 1.0",
        "TOML syntax error",
        id="dictionary-toml-syntax",
    ),
    pytest.param(
        "--roster",
        DEFAULT_ROSTER,
        'sex = "M"',
        'sex = "X"',
        "[crew[1].sex] (c2)",
        id="roster-bad-sex",
    ),
    pytest.param(
        "--roster",
        DEFAULT_ROSTER,
        'agency = "ESA"',
        'agency = "XSA"',
        "XSA",
        id="roster-unknown-agency",
    ),
    pytest.param(
        "--limits",
        DEFAULT_LIMITS,
        "limit_msv = 600.0",
        "limit_msv = -600.0",
        "[career.NASA.limit_msv]",
        id="limits-negative",
    ),
    # Numbers out of range: each one line naming file, line and entry.
    pytest.param(
        "--dictionary",
        DEFAULT_DICTIONARY,
        "stale_after_s = 5.0",
        "stale_after_s = -5.0",
        "stale_after_s] must be > 0",
        id="dictionary-negative-stale",
    ),
    pytest.param(
        "--dictionary",
        DEFAULT_DICTIONARY,
        "shielding_factor = 1.0",
        "shielding_factor = -1.0",
        "[modules.JPM.shielding_factor] must be > 0",
        id="dictionary-negative-shielding",
    ),
    pytest.param(
        "--dictionary",
        DEFAULT_DICTIONARY,
        "STANDBY = 0,",
        "STANDBY = 18446744073709551615,",
        "states.STANDBY] code must be within",
        id="dictionary-state-code-beyond-float64",
    ),
    pytest.param(
        "--dictionary",
        DEFAULT_DICTIONARY,
        "critical_high = 4.0",
        "critical_high = nan",
        "critical_high] must be finite",
        id="dictionary-nan-limit",
    ),
    pytest.param(
        "--roster",
        DEFAULT_ROSTER,
        "prior_career_msv = 12.0",
        "prior_career_msv = inf",
        "prior_career_msv] must be finite",
        id="roster-infinite-dose",
    ),
    pytest.param(
        "--limits",
        DEFAULT_LIMITS,
        "limit_msv = 600.0",
        "limit_msv = nan",
        "[career.NASA.limit_msv] must be finite",
        id="limits-nan",
    ),
]


def broken_copy(original: Path, old: str, new: str, target: Path) -> int:
    """Write ``original`` with the first ``old`` replaced; return its line (1-based)."""
    text = original.read_text(encoding="utf-8")
    at = text.index(old)
    target.write_text(text[:at] + new + text[at + len(old) :], encoding="utf-8")
    return text.count("\n", 0, at) + 1


def run(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def console_env(tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ, QT_QPA_PLATFORM="offscreen", KIBO_DATA_DIR=str(tmp_path / "data")
    )


def run_console(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Start the console window on a live endpoint, archiving to ``never.sqlite``."""
    return run(
        *args,
        "--connect",
        "tcp://127.0.0.1:9",
        "--archive",
        str(tmp_path / "never.sqlite"),
        "--quit-after",
        "20",
        env=console_env(tmp_path),
    )


def assert_refused_naming(
    result: subprocess.CompletedProcess[str], bad: Path, line: int, entry: str
) -> None:
    """Exit 2 with one error line naming the file, the entry's line and the entry."""
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("kibo-console: error: ")
    assert "Traceback" not in result.stderr
    assert str(bad) in result.stderr
    # The line of the entry: the broken key, or its table's header just above.
    reported = re.search(r"\.toml:(\d+):|at line (\d+)", result.stderr)
    assert reported is not None, result.stderr
    assert line - 3 <= int(reported.group(1) or reported.group(2)) <= line
    assert entry in result.stderr


@pytest.mark.parametrize(("option", "original", "old", "new", "entry"), BREAKAGES)
def test_recorder_refuses_to_start_with_a_broken_file(
    tmp_path: Path, option: str, original: Path, old: str, new: str, entry: str
) -> None:
    bad = tmp_path / original.name
    line = broken_copy(original, old, new, bad)
    archive = tmp_path / "never.sqlite"
    rec = run(
        "record",
        "--connect",
        "tcp://127.0.0.1:9",
        "--archive",
        str(archive),
        "--duration",
        "30",
        option,
        str(bad),
    )
    assert_refused_naming(rec, bad, line, entry)
    assert not archive.exists()


def test_recorder_refuses_missing_files_and_keys(tmp_path: Path) -> None:
    for args, named in [
        (["--roster", str(tmp_path / "nope.toml")], "nope.toml"),
        (["--dictionary", str(tmp_path / "nope.toml")], "nope.toml"),
        (["--curve-keys", str(tmp_path / "no-keys")], "console.key_secret"),
    ]:
        rec = run(
            "record",
            "--connect",
            "tcp://127.0.0.1:9",
            "--archive",
            str(tmp_path / "never.sqlite"),
            *args,
        )
        assert rec.returncode == 2, rec.stderr
        assert named in rec.stderr and "Traceback" not in rec.stderr
        assert not (tmp_path / "never.sqlite").exists()


def test_console_window_refuses_to_start_with_a_broken_dictionary(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "dictionary.toml"
    line = broken_copy(DEFAULT_DICTIONARY, "rate_hz = 1.0", "rate_hz = 0.0", bad)
    gui = run_console(tmp_path, "--dictionary", str(bad))
    assert gui.returncode == 2, gui.stderr
    assert f"{bad}:{line}: [families.robot.channels.pos_x.rate_hz]" in gui.stderr
    assert not (tmp_path / "never.sqlite").exists()


# Roster and limits breakages: the GUI takes the same files as the recorder.
DOSE_BREAKAGES = [p for p in BREAKAGES if p.values[0] in ("--roster", "--limits")]


@pytest.mark.parametrize(("option", "original", "old", "new", "entry"), DOSE_BREAKAGES)
def test_console_window_refuses_to_start_with_a_broken_roster_or_limits(
    tmp_path: Path, option: str, original: Path, old: str, new: str, entry: str
) -> None:
    bad = tmp_path / original.name
    line = broken_copy(original, old, new, bad)
    gui = run_console(tmp_path, option, str(bad))
    assert_refused_naming(gui, bad, line, entry)
    assert not (tmp_path / "never.sqlite").exists()


def test_console_with_a_broken_roster_opens_no_window_and_starts_no_simulator(
    qapp: QApplication,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In process: the error comes before the demo simulator and any window."""
    from console.app import Console
    from console.cli import main

    bad = tmp_path / "crew_roster.toml"
    broken_copy(DEFAULT_ROSTER, 'sex = "M"', 'sex = "X"', bad)
    monkeypatch.setenv("KIBO_DATA_DIR", str(tmp_path / "data"))
    started: list[object] = []
    monkeypatch.setattr(
        Console, "_start_simulator", staticmethod(lambda *a: started.append(a))
    )
    before = set(qapp.topLevelWidgets())
    code = main(["--demo", "--roster", str(bad), "--quit-after", "5"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "[crew[1].sex] (c2)" in err
    assert started == []
    assert set(qapp.topLevelWidgets()) == before
    assert not list((tmp_path / "data").rglob("*.sqlite"))


def test_replay_with_a_broken_roster_stops_before_opening_the_session(
    qapp: QApplication,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A replay takes --roster and --limits too, and refuses a broken one."""
    from console.cli import main

    bad = tmp_path / "crew_roster.toml"
    broken_copy(DEFAULT_ROSTER, 'sex = "M"', 'sex = "X"', bad)
    session = tmp_path / "any.session.sqlite"
    session.write_bytes(b"")  # never opened: the roster is read first
    monkeypatch.setenv("KIBO_DATA_DIR", str(tmp_path / "data"))
    before = set(qapp.topLevelWidgets())
    code = main(["--replay", str(session), "--roster", str(bad), "--quit-after", "5"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "[crew[1].sex] (c2)" in err
    assert set(qapp.topLevelWidgets()) == before
    assert session.read_bytes() == b""
