"""``kibo-console sim`` and ``replay`` say where they publish, then that they live."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import zmq

from console import publish_report
from console.cli import main
from telemetry.bus.publisher import free_tcp_endpoint

if TYPE_CHECKING:
    import pytest

SESSION = Path(__file__).resolve().parents[2] / "replay_data/co2-rise.session.sqlite"


def test_sim_prints_its_endpoint_then_a_heartbeat(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish_report, "HEARTBEAT_S", 0.3)
    endpoint = free_tcp_endpoint()
    assert main(["sim", "--bind", endpoint, "--duration", "1.2"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == (
        f"kibo-console sim: publishing on {endpoint} · scenario nominal · Ctrl+C stops"
    )
    beats = [line for line in lines if " alive · " in line]
    assert beats, lines
    assert re.fullmatch(
        rf"kibo-console sim: alive · publishing on {re.escape(endpoint)} · up \d+ s",
        beats[0],
    )


def test_replay_says_where_it_publishes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    endpoint = free_tcp_endpoint()
    context = zmq.Context.instance()
    console = context.socket(zmq.SUB)  # connects first; ZeroMQ retries until bound
    console.setsockopt(zmq.SUBSCRIBE, b"")
    console.connect(endpoint)
    try:
        args = ["replay", "--archive", str(SESSION), "--bind", endpoint]
        assert main([*args, "--speed", "0"]) == 0
    finally:
        console.close(linger=0)
    lines = capsys.readouterr().err.splitlines()
    assert re.fullmatch(
        rf"kibo-console replay: publishing on {re.escape(endpoint)} · recording "
        r".*co2-rise\.session\.sqlite · Ctrl\+C stops",
        lines[0],
    ), lines[0]
    assert lines[-1].startswith("replayed ")
