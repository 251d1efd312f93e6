"""Hostile names and values travel the whole path and come out inert.

A publisher sends an undeclared channel named like a spreadsheet formula with
enum values that are HTML; the console receives them over a real socket,
archives them verbatim, and the CSV/JSON exports and the HTML handover report
defuse them.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import zmq

from telemetry.archive.export import export_channel
from telemetry.archive.reader import ArchiveReader
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.core.wire import encode_frame
from telemetry.live.session import LiveSession, SessionConfig
from telemetry.reports.handover import write_handover_report

if TYPE_CHECKING:
    from pathlib import Path

FORMULA = "=cmd|' /C calc'!A0"
SCRIPT = "<script>alert(1)</script>"
STATES = [SCRIPT, FORMULA, "+SUM(1+1)", "-2+3", "@SUM(A1)", "\tTAB", "plain"]
SOURCE = '=HYPERLINK("http://evil/","x")'  # a valid, printable topic (no dot)
T0 = 1.75e9


def record_hostile_session(path: Path) -> None:
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.LINGER, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    session = LiveSession(
        dictionary, SessionConfig([f"tcp://127.0.0.1:{port}"], path, operator=SCRIPT)
    )
    session.start()
    try:
        assert pub.poll(5000), "no subscription"
        pub.recv()
        times = [T0 + i for i in range(len(STATES))]
        messages = [
            encode_frame("robot", "ib2-a", 0, times, {FORMULA: STATES}),
            encode_frame("zz", SOURCE, 0, times, {SCRIPT: STATES}, "json"),
            # Rejected: a hostile state for a declared enum (its detail quotes it).
            encode_frame("robot", "ib2-a", 1, [T0 + 10], {"mode": [SCRIPT]}),
        ]
        for parts in messages:
            pub.send_multipart(parts)
        deadline = time.monotonic() + 10
        store = session.store
        while store.rejected_total + sum(
            s.messages for s in list(store.sources.values())
        ) < len(messages):
            assert time.monotonic() < deadline, "messages did not arrive"
            threading.Event().wait(0.01)
        session.alarms.note(T0 + 3, FORMULA, f"operator note {SCRIPT}")
    finally:
        session.stop()
        pub.close(linger=0)
        ctx.term()


def test_hostile_strings_are_archived_verbatim_and_exported_inert(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hostile.sqlite"
    record_hostile_session(path)
    key = f"ib2-a.{FORMULA}"
    with ArchiveReader(path) as reader:
        channel = reader.channel(key)
        assert channel.states == {s: i for i, s in enumerate(STATES)}  # verbatim
        as_json = io.StringIO()
        export_channel(reader, key, None, None, "json", as_json)
        assert [r.reason for r in reader.rejected()] == ["bad value"]

    # CSV through the command line, as an operator would export it.
    exported = subprocess.run(
        [sys.executable, "-m", "console", "export", "--archive", str(path),
         "--channel", key, "--format", "csv"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["time", "channel", "value"]
    values = [r[2] for r in rows[1:]]
    assert values == [SCRIPT, "'" + FORMULA, "'+SUM(1+1)", "'-2+3", "'@SUM(A1)",
                      "'\\x09TAB", "plain"]  # fmt: skip
    # No cell a spreadsheet would evaluate: nothing starts with = + - @ tab CR.
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell

    # The source that is a formula is quoted as well.
    other = subprocess.run(
        [sys.executable, "-m", "console", "export", "--archive", str(path),
         "--channel", f"{SOURCE}.{SCRIPT}", "--format", "csv"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert {r[1] for r in list(csv.reader(io.StringIO(other)))[1:]} == {
        f"'{SOURCE}.{SCRIPT}"
    }

    # JSON: the same strings for a parser, no markup for a browser.
    text = as_json.getvalue()
    assert "<" not in text and ">" not in text
    doc = json.loads(text)
    assert doc["channel"] == key
    assert [s["value"] for s in doc["samples"]] == STATES


def test_handover_report_escapes_everything_a_publisher_or_operator_wrote(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hostile.sqlite"
    record_hostile_session(path)
    # Up to now: rejected frames are filed at their (wall-clock) arrival.
    end = time.time() + 60
    page = write_handover_report(path, T0 - 60, end, tmp_path / "handover.html")
    assert (tmp_path / "handover.html").read_text(encoding="utf-8") == page
    assert "<script" not in page.lower()
    # The hostile text is there, escaped: the rejected frame's detail and the
    # operator's note.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # (A quote may be escaped as &#39; or &#x27;: both are one apostrophe.)
    quoted = page.replace("&#39;", "&#x27;")
    assert "mode[0] = &#x27;&lt;script&gt;alert(1)&lt;/script&gt;&#x27;" in quoted
    assert "operator note &lt;script&gt;" in page
    assert "=cmd|&#x27; /C calc&#x27;!A0" in quoted
