"""A real recorder whose receive queue overflows says so: event, last line, exit 3."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import numpy as np
import zmq
from polling import wait_for

from telemetry.archive.reader import ArchiveReader
from telemetry.bus.subscriber import RECEIVE_QUEUE_FULL
from telemetry.core.severity import Severity
from telemetry.core.wire import encode_frame

if TYPE_CHECKING:
    from pathlib import Path

MESSAGES = 60
ROWS = 100_000  # ~1.8 MB a message: tens of ms of pipeline work, <1 ms to receive


def reported(archive: Path) -> bool:
    """Whether the live recorder's archive holds a "receive queue full" event."""
    if not archive.exists():
        return False
    with ArchiveReader(archive) as reader:
        return bool(reader.events(kind=RECEIVE_QUEUE_FULL))


def test_a_recorder_whose_pipeline_falls_behind_says_data_lost_and_exits_3(
    tmp_path: Path,
) -> None:
    """A 1-byte receive queue (``--receive-queue-mib``) holds one message at a
    time: a burst of large messages overflows it. The recorder reports the
    drops as its own loss in the archive, its last line says DATA LOST with
    the count, and the messages it recorded plus those it dropped are all
    that were sent."""
    pub = zmq.Context.instance().socket(zmq.XPUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.setsockopt(zmq.SNDHWM, 0)  # the publisher must not be the one dropping
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    archive = tmp_path / "rec.sqlite"
    rec = subprocess.Popen(
        [sys.executable, "-m", "console", "record",
         "--connect", f"tcp://127.0.0.1:{port}", "--archive", str(archive),
         "--no-dose-ledger", "--receive-queue-mib", "0.000001"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    try:
        assert pub.poll(30_000), "the recorder did not subscribe"
        pub.recv()
        for seq in range(MESSAGES):
            times = time.time() - 1.0 + np.arange(ROWS) * 1e-6
            pub.send_multipart(
                encode_frame("robot", "ib2-a", seq, times, {"pos_x": np.zeros(ROWS)})
            )
        # Read beside the live recorder: the first drop is reported at once.
        wait_for(lambda: reported(archive), 30.0, "the drop event", every=0.5)
        rec.send_signal(signal.SIGTERM)
        _, err = rec.communicate(timeout=60)
    finally:
        if rec.poll() is None:
            rec.kill()
            rec.communicate()
        pub.close(linger=0)
    lines = err.splitlines()
    assert rec.returncode == 3, err
    last = lines[-1]
    match = re.match(
        r"kibo-console: DATA LOST: (\d+) messages \([\d.]+ MiB\) dropped by this "
        r"console, \d+ with its receive queue full",
        last,
    )
    assert match, last
    dropped = int(match[1])
    recorded = next(
        int(m[1]) for line in lines if (m := re.match(r"recorded (\d+) messages", line))
    )
    assert dropped > 0 and recorded + dropped == MESSAGES
    with ArchiveReader(archive) as reader:
        events = reader.events(kind=RECEIVE_QUEUE_FULL)
        frames = reader.info()["sources"]["ib2-a"]
    assert all(e.severity == int(Severity.CRITICAL) for e in events)
    assert all("dropped by this console" in e.detail for e in events)
    told = [re.search(r"(\d+) messages? \(", e.detail) for e in events]
    assert sum(int(m[1]) for m in told if m) == dropped
    assert frames["messages"] == recorded, frames
    # Dropped messages show as sequence gaps (those before the last recorded).
    assert frames["missed"] <= dropped, frames
