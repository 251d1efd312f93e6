"""The Int-Ball2 commands as a user runs them: processes, real UDP and ZeroMQ."""

from __future__ import annotations

import csv
import io
import json
import select
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from rosbags.rosbag1 import Writer

from telemetry.bus.publisher import free_tcp_endpoint
from telemetry.core.dictionary import REPO_ROOT
from telemetry.ib2.messages import ib2_typestore

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e

PROFILE = str(REPO_ROOT / "resources" / "ib2" / "dictionary.toml")


def kibo(*args: str) -> list[str]:
    return [sys.executable, "-m", "console", *args]


def free_udp() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def info(archive: Path) -> dict[str, dict[str, int]]:
    done = subprocess.run(
        kibo("info", "--archive", str(archive), "--json"),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    result: dict[str, dict[str, int]] = json.loads(done.stdout)["sources"]
    return result


def test_simulator_to_bridge_to_recorder(tmp_path: Path) -> None:
    robot, dock, bus = free_udp(), free_udp(), free_tcp_endpoint()
    archive = tmp_path / "chain.sqlite"
    bridge = subprocess.Popen(
        kibo("ib2-bridge", "--udp", robot, "--dock-udp", dock, "--bind", bus,
             "--duration", "12"),
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    record = subprocess.Popen(
        kibo("record", "--connect", bus, "--archive", str(archive), "--dictionary",
             PROFILE, "--duration", "10", "--no-dose-ledger"),
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    hostile = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        # The bridge says where it listens once its sockets are bound.
        assert bridge.stderr is not None
        ready, _, _ = select.select([bridge.stderr], [], [], 30.0)
        assert ready and "protocol v1 on" in bridge.stderr.readline()
        # A pickle that would call a function, among the simulator's datagrams.
        host, port = robot.split(":")
        exploit = (
            b"\x80\x03cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
        )
        hostile.sendto(exploit, (host, int(port)))
        sim = subprocess.run(
            kibo("sim", "--bind", free_tcp_endpoint(), "--ib2-udp", robot,
                 "--ib2-dock-udp", dock, "--duration", "6"),
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert "Int-Ball2 datagrams" in sim.stderr
        _, bridge_err = bridge.communicate(timeout=60)
        record.communicate(timeout=60)
    finally:
        hostile.close()
        bridge.kill()
        record.kill()
    assert bridge.returncode == 0 and record.returncode == 0
    assert "rejected datagram (forbidden opcode, 1 so far): GLOBAL" in bridge_err
    assert "rejected 1 (forbidden opcode 1)" in bridge_err
    sources = info(archive)
    assert sources["ib2"]["messages"] >= 8 and sources["ib2"]["rejected"] == 0
    assert sources["ib2-dock"]["messages"] >= 4
    exported = subprocess.run(
        kibo("export", "--archive", str(archive), "--channel", "ib2.pos_x",
             "--format", "csv"),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    # Sent in the docking-station frame, back in the JPM frame (keep-in 0.4-6.9 m).
    assert rows and all(0.4 <= float(r["value"]) <= 6.9 for r in rows)


def test_import_then_info_export_dose_report_and_handover(tmp_path: Path) -> None:
    store = ib2_typestore()
    bag = tmp_path / "ground_test.bag"
    mode = store.types["ib2_msgs/msg/Mode"]
    with Writer(bag) as writer:
        conn = writer.add_connection(
            "/task_manager/mode", "ib2_msgs/msg/Mode", typestore=store
        )
        for k in range(30):
            raw = store.serialize_ros1(
                mode(mode=4 if k < 20 else 99), "ib2_msgs/msg/Mode"
            )
            writer.write(conn, (1_796_000_000 + k) * 10**9, raw)
    archive = tmp_path / "ground_test.sqlite"
    done = subprocess.run(
        kibo("import", "--rosbag", str(bag), "--archive", str(archive)),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "30/30 messages" in done.stderr  # the progress bar's last state
    assert "imported 30 messages of 1 topics" in done.stderr
    assert info(archive)["ib2"]["samples"] == 30
    exported = subprocess.run(
        kibo("export", "--archive", str(archive), "--channel", "ib2.mode",
             "--format", "csv"),
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert len(exported.stdout.strip().splitlines()) == 31
    for command in (
        ("dose-report", "--format", "json", "--output", str(tmp_path / "dose.json")),
        ("handover", "--output", str(tmp_path / "handover.html")),
    ):
        subprocess.run(
            kibo(command[0], "--archive", str(archive), *command[1:]),
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
    # OFF_NOMINAL is a warning state of the robot's mode: the handover lists it.
    handover = (tmp_path / "handover.html").read_text()
    assert '<td>ib2.mode</td><td class="WARNING">OPEN WARNING' in handover
    again = subprocess.run(
        kibo("import", "--rosbag", str(bag), "--archive", str(archive)),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode == 2 and "exists" in again.stderr
