"""A recorder that could not write crew dose to the dose ledger says so and exits 3.

Runs the real ``kibo-console sim`` and ``kibo-console record`` processes; the
test holds the ledger locked (as an ``sqlite3`` shell or a backup would) from
the recorder's first write until it has exited.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from polling import wait_for

from telemetry.bus.publisher import free_tcp_endpoint

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e


def kibo(*args: str) -> list[str]:
    return [sys.executable, "-m", "console", *args]


def sessions_in(path: Path) -> int:
    if not path.exists():
        return 0
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=0.1)
    try:
        return int(db.execute("SELECT count(*) FROM ledger_sessions").fetchone()[0])
    except sqlite3.Error:
        return 0  # being created
    finally:
        db.close()


@pytest.mark.parametrize("who", ["record", "gui"])
def test_a_recorder_whose_ledger_stays_locked_ends_with_data_lost(
    who: str, tmp_path: Path
) -> None:
    """The recorder and the console window alike: exit 3, the loss on the last line."""
    endpoint = free_tcp_endpoint()
    data = tmp_path / "data"
    ledger = data / "dose_ledger.sqlite"
    env = {**os.environ, "KIBO_DATA_DIR": str(data), "QT_QPA_PLATFORM": "offscreen"}
    # 5x: dose accrues quickly, and sample times stay within the hour ahead
    # of the clock the ledger accepts as live.
    sim = subprocess.Popen(
        kibo("sim", "--bind", endpoint, "--duration", "60", "--rate-scale", "5"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
    )  # fmt: skip
    how = ["record", "--duration", "25"] if who == "record" else ["--quit-after", "30"]
    rec = subprocess.Popen(
        kibo(*how, "--connect", endpoint, "--archive", str(tmp_path / "a.sqlite")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    holder = None
    try:
        wait_for(lambda: sessions_in(ledger) > 0, 28, "the recorder's first write")
        holder = sqlite3.connect(ledger, timeout=5, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        _out, err = rec.communicate(timeout=60)
    finally:
        if holder is not None:
            holder.close()
        rec.kill()
        sim.terminate()
        sim.wait(10)
    assert rec.returncode == 3, err
    # The console's own lines (Qt's platform-plugin chatter left out).
    last = [line for line in err.splitlines() if "propagateSizeHints" not in line][-1]
    assert last.startswith("kibo-console: DATA LOST: crew dose not recorded: ")
    assert str(ledger) in last and "not written since" in last
    assert "database is locked" in last
    # Every crew member's missing dose is named, and it is not zero.
    for crew_id in ("c1", "c2", "c3", "c4"):
        assert f"{crew_id} " in last
    assert " 0 mSv" not in last
