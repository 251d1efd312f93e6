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

from telemetry.dictionary import DEFAULT_DICTIONARY
from telemetry.roster import DEFAULT_LIMITS, DEFAULT_ROSTER

if TYPE_CHECKING:
    from pathlib import Path

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
    assert rec.returncode == 2, rec.stderr
    assert rec.stderr.startswith("kibo-console: error: ")
    assert "Traceback" not in rec.stderr
    assert str(bad) in rec.stderr
    # The line of the entry: the broken key, or its table's header just above.
    reported = re.search(r"\.toml:(\d+):|at line (\d+)", rec.stderr)
    assert reported is not None, rec.stderr
    assert line - 3 <= int(reported.group(1) or reported.group(2)) <= line
    assert entry in rec.stderr
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
    env = dict(
        os.environ, QT_QPA_PLATFORM="offscreen", KIBO_DATA_DIR=str(tmp_path / "data")
    )
    gui = run(
        "--dictionary",
        str(bad),
        "--connect",
        "tcp://127.0.0.1:9",
        "--archive",
        str(tmp_path / "never.sqlite"),
        "--quit-after",
        "20",
        env=env,
    )
    assert gui.returncode == 2, gui.stderr
    assert f"{bad}:{line}: [families.robot.channels.pos_x.rate_hz]" in gui.stderr
    assert not (tmp_path / "never.sqlite").exists()
