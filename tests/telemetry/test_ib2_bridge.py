"""The Int-Ball2 bridge through real UDP, fed datagrams built as the robot does."""

from __future__ import annotations

import os
import pickle
import pickletools
import socket
import time
from typing import TYPE_CHECKING

import ib2_flight as flight
import pytest
import zmq
from polling import wait_for

from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.core.wire import Frame, decode_frame
from telemetry.ib2.bridge import Ib2Bridge
from telemetry.ib2.transform import FrameTransform
from telemetry.sim.ib2_downlink import Ib2DownlinkSender
from telemetry.sim.simulator import Simulator

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

T0 = 1_796_000_000.0
# resources/ib2/frames.toml: the docking station at (1.15, 0, 0.73) in the JPM frame.
DOCK = (1.15, 0.0, 0.73)


class Link:
    """A bridge on loopback, a SUB socket on its bus and a UDP sender."""

    def __init__(self) -> None:
        self.bridge = Ib2Bridge(
            ("127.0.0.1", 0), "tcp://127.0.0.1:*", dock=("127.0.0.1", 0)
        )
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.sub = self.context.socket(zmq.SUB)
        self.sub.connect(self.bridge.endpoint)
        self.sub.subscribe(b"")
        # The subscription must have reached the bridge before anything is sent.
        assert self.bridge.publisher.wait_for_subscriber(5.0)
        self.bridge.start()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.frames: list[Frame] = []

    def send(self, data: bytes, dock: bool = False) -> None:
        target = self.bridge.dock_address if dock else self.bridge.robot_address
        assert target is not None
        self.udp.sendto(data, target)

    def receive(self, count: int) -> list[Frame]:
        def arrived() -> bool:
            while self.sub.poll(0):
                self.frames.append(decode_frame(self.sub.recv_multipart()))
            return len(self.frames) >= count

        wait_for(arrived, 5.0, f"{count} published messages")
        return self.frames

    def settle(self, received: int) -> None:
        wait_for(lambda: self.bridge.stats.received >= received, 5.0, "datagrams")

    def close(self) -> None:
        self.bridge.stop()
        self.udp.close()
        self.sub.close()
        self.context.term()


@pytest.fixture
def link() -> Iterator[Link]:
    result = Link()
    yield result
    result.close()


def _state_items(t: float) -> dict[int, bytes]:
    return {
        302: flight.navigation(t - 0.1, (0.5, -0.2, 0.1), velocity=(0.01, 0.0, -0.02)),
        5001: flight.mode(4),
        5201: flight.system_status([("/", 42.5), ("/data", 12.0)], True, 41.0, t),
    }


def test_a_cycle_is_published_at_the_header_time_in_the_module_frame(
    link: Link,
) -> None:
    data = flight.datagrams(_state_items(T0), [T0], last_command=0, port=1)
    assert len(data) == 1 and len(data[0]) % 4 == 3  # padded as the robot pads
    # Split 1 of 1 on port 1: three equal one-byte values, so the pickle
    # reuses the first through the memo (BINGET) as CPython's pickler does.
    assert any(op.name == "BINGET" for op, _, _ in pickletools.genops(data[0]))
    link.send(data[0])
    (frame,) = link.receive(1)
    assert (frame.topic, frame.seq, frame.times.tolist()) == ("robot.ib2", 1, [T0])
    ch = frame.columns
    # The docking-station frame reported, plus the station's place in the JPM.
    assert ch["pos_x"] == [pytest.approx(0.5 + DOCK[0])]
    assert ch["pos_y"] == [pytest.approx(-0.2 + DOCK[1])]
    assert ch["pos_z"] == [pytest.approx(0.1 + DOCK[2])]
    assert ch["quat_w"] == [1.0] and ch["vel_z"] == [pytest.approx(-0.02)]
    assert ch["nav_status"] == [1.0] and ch["nav_marker"] == [0.0]
    assert ch["mode"] == [4.0]  # OPERATION, by the dictionary's state names
    assert ch["temp_c"] == [41.0] and ch["wifi"] == [1.0]
    assert ch["disk_remain_pct"] == [12.0]  # the fullest disk
    assert ch["disk.data"] == [12.0]
    assert ch["last_cmd"] == [0.0]
    assert link.bridge.stats.rejected_total == 0


def test_split_parts_each_publish_with_their_own_time_and_count_a_cycle(
    link: Link,
) -> None:
    # 30 alive statuses (ids 13000-13029): about 2,000 bytes of getsizeof.
    items = {
        13000 + i: flight.alive_status(f"/node_{i}/status", i % 2, T0)
        for i in range(30)
    }
    parts = flight.datagrams(items, [T0, T0 + 1.0], last_command=0, port=0)
    assert len(parts) == 2
    for part in parts:
        link.send(part)
    frames = link.receive(2)
    assert [f.times.tolist() for f in frames] == [[T0], [T0 + 1.0]]
    assert [f.seq for f in frames] == [1, 2]  # the bridge's own numbering
    assert frames[0].columns["downlink.split_number"] == [2.0]
    assert [f.columns["downlink.split_index"] for f in frames] == [[1.0], [2.0]]
    results = {
        name: values
        for f in frames
        for name, values in f.columns.items()
        if name.startswith("alive_monitor_statuses.") and name.endswith(".result")
    }
    assert len(results) == 30
    assert results["alive_monitor_statuses.node_3_status.result"] == [1.0]
    port = link.bridge.parts.ports[0]
    assert (port.complete, port.missed_parts) == (1, 0)


def test_a_lost_part_is_counted_as_missed(link: Link) -> None:
    items = {13000 + i: flight.alive_status(f"/n{i}", 0, T0) for i in range(30)}
    first, _second = flight.datagrams(items, [T0, T0 + 1], 0, port=0)
    again, _ = flight.datagrams(items, [T0 + 2, T0 + 3], 0, port=0)
    link.send(first)
    link.send(again)  # part 2 of the first cycle never came
    link.receive(2)
    assert link.bridge.parts.ports[0].missed_parts == 1


def test_a_service_response_is_published_once_at_its_own_time(link: Link) -> None:
    stored = T0 - 30.0
    items = {2001: flight.switch_power_response(1) + flight.ros_time(stored)}
    for k in range(2):  # the robot resends it every cycle
        (data,) = flight.datagrams(items, [T0 + k], last_command=2001, port=1)
        link.send(data)
    first, second = link.receive(2)
    assert first.times.tolist() == [stored, T0]
    column = "camera_and_microphone_switch_power.current_power.status"
    assert first.columns[column] == [1.0, None]
    assert column not in second.columns
    assert first.columns["last_cmd"] == [None, 2001.0]


def test_battery_from_the_minimal_publisher_and_the_dock_record(link: Link) -> None:
    data = flight.header(T0, 0xFFFF, 1, 1, 0xFF)
    data[2301] = flight.battery(57)
    data[9001] = flight.one_byte(1)
    link.send(flight.padded(pickle.dumps(data, protocol=3)))
    record = flight.dock_record(9, 1, 3, 2, 1, 24.56, 31.2, 1.25, 0.3, 2, 600)
    before = time.time()
    link.send(record, dock=True)
    frames = link.receive(2)
    robot = next(f for f in frames if f.topic == "robot.ib2")
    dock = next(f for f in frames if f.topic == "dock.ib2-dock")
    assert robot.columns["battery_pct"] == [57.0]
    # 0xFFFF from the minimal publisher is no command report.
    assert "last_cmd" not in robot.columns
    assert robot.columns["not_ros_normal_flight_software_status.data"] == [True]
    # No time in the record: stamped on arrival.
    assert before <= dock.times[0] <= time.time()
    ch = dock.columns
    assert (ch["charge"], ch["motor"], ch["switch"]) == ([1.0], [3.0], [2.0])
    assert ch["motor_temp_c"] == [pytest.approx(24.56)]
    assert ch["power1_current_a"] == [pytest.approx(1.25)]
    assert (ch["temp_alert"], ch["charge_time"]) == ([2.0], [600.0])


class _Exploit:
    """A pickle that calls os.system when plain ``pickle.loads`` reads it."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (self.command,)


def test_hostile_datagrams_are_rejected_counted_and_never_executed(
    link: Link, tmp_path: Path
) -> None:
    sentinel = tmp_path / "executed"
    exploit_dict = flight.header(T0, 0, 1, 1, 1)
    exploit_dict[302] = _Exploit(f"touch {sentinel}")  # type: ignore[assignment]
    exploit = pickle.dumps(exploit_dict, protocol=3)
    # The datagram is a working exploit: plain pickle.loads runs the command.
    pickle.loads(exploit)
    assert sentinel.exists()
    sentinel.unlink()

    good = flight.datagrams(_state_items(T0), [T0], 0, port=1)[0]
    hostile = {
        "forbidden opcode": [exploit, pickle.dumps([1, 2], protocol=3)],
        "truncated": [good[:40], b""],
        "oversized": [good + bytes(1472 - len(good) + 1)],
        "wrong type": [
            pickle.dumps({70000: b"x"}, protocol=3),
            pickle.dumps({0: 5}, protocol=3),
        ],
        "bad header": [pickle.dumps({302: b"x"}, protocol=3)],
        "bad padding": [good + b"junk"],
        "bad dock record": [b"\x01" * 17],
    }
    for reason, datagrams in hostile.items():
        for data in datagrams:
            link.send(data, dock=reason == "bad dock record")
    total = sum(len(v) for v in hostile.values())
    link.settle(total)
    assert dict(link.bridge.stats.rejected) == {k: len(v) for k, v in hostile.items()}
    assert not sentinel.exists()
    # The feed goes on: a good datagram after all that is published.
    link.send(good)
    (frame,) = link.receive(1)
    assert frame.seq == 1 and frame.columns["mode"] == [4.0]


def test_one_bad_item_is_dropped_and_the_rest_kept(link: Link) -> None:
    items = _state_items(T0)
    items[306] = b"\x01"  # NavigationStatus is 2 bytes: one is missing
    items[9999] = b"unknown id"
    (data,) = flight.datagrams(items, [T0], 0, port=1)
    link.send(data)
    (frame,) = link.receive(1)
    assert frame.columns["mode"] == [4.0]
    assert link.bridge.decoder.dropped == {"bad message": 1, "unknown id": 1}


def test_a_silent_socket_goes_stale(link: Link) -> None:
    link.bridge.stale_after_s = 0.3
    (data,) = flight.datagrams(_state_items(T0), [T0], 0, port=1)
    link.send(data)
    link.receive(1)
    wait_for(lambda: link.bridge.stats.sockets["robot port 1"].stale, 5.0, "staleness")


def test_the_transform_round_trips() -> None:
    transform = FrameTransform.load()
    back = transform.inverse()
    p = (0.3, -0.4, 0.5)
    assert back.point(transform.point(p)) == pytest.approx(p)


def test_the_simulators_downlink_comes_back_as_the_simulated_robot(link: Link) -> None:
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    sender = Ib2DownlinkSender(
        dictionary, link.bridge.robot_address, link.bridge.dock_address
    )
    sim = Simulator(dictionary, 1, "nominal", start_time=T0)
    try:
        robot = [f for f in sender.tee(sim.frames_until(T0 + 3)) if f.source == "ib2-a"]
    finally:
        sender.close()
    # Per 1 s row: sockets 0 and 1 and the dock; the minimal publisher at 0 s and 3 s.
    frames = link.receive(sender.sent)
    assert link.bridge.stats.rejected_total == 0 and not link.bridge.decoder.dropped
    state = [f for f in frames if "pos_x" in f.columns]
    sent_x = [float(x) for f in robot for x in f.columns["pos_x"]]
    assert [f.columns["pos_x"][0] for f in state] == pytest.approx(sent_x)
    assert [f.times[0] for f in state] == [float(t) for f in robot for t in f.times]
    modes = dictionary.channel("robot", "mode")
    assert modes is not None
    assert state[0].columns["mode"] == [modes.states[robot[0].columns["mode"][0]]]
    assert any(f.topic == "dock.ib2-dock" for f in frames)


def test_endless_new_names_lose_only_the_new_names(link: Link) -> None:
    link.bridge.bound.limit = 20
    for cycle in range(3):
        items = {
            13000 + i: flight.alive_status(f"/c{cycle}_{i}", 0, T0) for i in range(10)
        }
        (data,) = flight.datagrams(items | {5001: flight.mode(4)}, [T0 + cycle], 0, 1)
        link.send(data)
    frames = link.receive(3)
    # The first undeclared names fill the bound; later ones are left out
    # while the mapped channels keep coming.
    assert all(f.columns["mode"] == [4.0] for f in frames)
    assert len({n for f in frames for n in f.columns if "." in n}) == 20
    assert link.bridge.bound.refused > 0
