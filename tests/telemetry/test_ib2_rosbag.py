"""ROS 1 and ROS 2 bags of Int-Ball2 topics written by rosbags, imported, replayed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ib2_flight as flight
import numpy as np
import pytest
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import StoragePlugin
from rosbags.rosbag2 import Writer as Writer2
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from telemetry.archive.reader import ArchiveReader
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import REPO_ROOT, TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.ib2.messages import ib2_typestore
from telemetry.ib2.rosbag_import import BagError, import_bag
from telemetry.replay.engine import ReplayEngine
from telemetry.replay.session_reader import SessionReader

if TYPE_CHECKING:
    from pathlib import Path

    from rosbags.typesys.store import Typestore

IB2_PROFILE = REPO_ROOT / "resources" / "ib2" / "dictionary.toml"
T0 = 1_796_000_000
SECONDS = 20
# The md5 genmsg gives MainCameraStatus (int-ball2-downlink.md 7); rosbags
# alone, taking "uint8 FullHD = 1" for a field, gets another and refuses the bag.
GENMSG_CAMERA_MD5 = "0c3c735408b859517f00b5be86f32716"
CUSTOM_DEF = (
    "# a ground-test fixture of the operator's own\nfloat32 heater_w\nuint8 LOW = 1\n"
)


@pytest.fixture(scope="module")
def dictionary() -> TelemetryDictionary:
    return TelemetryDictionary.load(IB2_PROFILE)


def _messages(store: Typestore, k: int) -> dict[str, tuple[str, Any]]:
    T = store.types
    vec = T["geometry_msgs/msg/Vector3"]
    stamp = T["builtin_interfaces/msg/Time"](sec=T0 + k, nanosec=0)
    header_fields: dict[str, Any] = {"stamp": stamp, "frame_id": "iss_body"}
    if "seq" in {name for name, _ in store.fielddefs["std_msgs/msg/Header"][1]}:
        header_fields["seq"] = k
    pose = T["geometry_msgs/msg/PoseStamped"](
        header=T["std_msgs/msg/Header"](**header_fields),
        pose=T["geometry_msgs/msg/Pose"](
            position=T["geometry_msgs/msg/Point"](x=0.01 * k, y=0.0, z=-0.2),
            orientation=T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0),
        ),
    )
    power = T["ib2_msgs/msg/PowerStatus"]
    return {
        "/sensor_fusion/navigation": (
            "ib2_msgs/msg/Navigation",
            T["ib2_msgs/msg/Navigation"](
                pose=pose,
                twist=T["geometry_msgs/msg/Twist"](
                    linear=vec(x=0.01, y=0.0, z=0.0), angular=vec(x=0.0, y=0.0, z=0.0)
                ),
                a=vec(x=0.0, y=0.0, z=0.0),
                status=T["ib2_msgs/msg/NavigationStatus"](status=1, marker=k < 5),
            ),
        ),
        "/task_manager/mode": ("ib2_msgs/msg/Mode", T["ib2_msgs/msg/Mode"](mode=4)),
        "/camera_and_microphone/status": (
            "ib2_msgs/msg/MainCameraStatus",
            T["ib2_msgs/msg/MainCameraStatus"](
                streaming_status=power(status=1),
                recording_status=power(status=1 if k >= 10 else 0),
                camera_power=power(status=1),
                microphone_power=power(status=0),
                zoom=2.0,
                resolution_type=T["ib2_msgs/msg/MainCameraResolutionType"](type=1),
                EV=0.5,
                camera_gain=0.0,
                white_balance_mode=T["ib2_msgs/msg/MainCameraWhiteBalanceMode"](mode=1),
                frame_rate=15.0,
                sending_bit_rate=2.0,
                microphone_gain=0.0,
            ),
        ),
        "/dock/battery_charge_info": (
            "ib2_msgs/msg/BatteryChargeInfo",
            T["ib2_msgs/msg/BatteryChargeInfo"](battery_remain=max(0, 90 - k)),
        ),
        "/cabin/fan_rpm": (
            "std_msgs/msg/Float64",
            T["std_msgs/msg/Float64"](data=1200.0 + k),
        ),
    }


def write_ros1(path: Path) -> None:
    store = ib2_typestore()
    with Writer1(path) as writer:
        conns = {}
        for topic, (typename, _) in _messages(store, 0).items():
            conns[topic] = writer.add_connection(topic, typename, typestore=store)
        assert conns["/camera_and_microphone/status"].digest == GENMSG_CAMERA_MD5
        custom = writer.add_connection(
            "/ground/heater",
            "ground_msgs/msg/Heater",
            msgdef=CUSTOM_DEF,
            md5sum="0" * 32,
        )
        for k in range(SECONDS):
            for topic, (typename, msg) in _messages(store, k).items():
                raw = store.serialize_ros1(msg, typename)
                writer.write(conns[topic], (T0 + k) * 10**9, raw)
            writer.write(custom, (T0 + k) * 10**9, np.float32(30.0 + k).tobytes())


def write_ros2(path: Path, storage: StoragePlugin) -> None:
    store = ib2_typestore(ros2=True)
    with Writer2(path, version=9, storage_plugin=storage) as writer:
        conns = {
            topic: writer.add_connection(topic, typename, typestore=store)
            for topic, (typename, _) in _messages(store, 0).items()
        }
        for k in range(SECONDS):
            for topic, (typename, msg) in _messages(store, k).items():
                writer.write(
                    conns[topic], (T0 + k) * 10**9, store.serialize_cdr(msg, typename)
                )


def replay_to_end(archive: Path, dictionary: TelemetryDictionary) -> Pipeline:
    pipeline = Pipeline(dictionary, ChannelStore(1000), AlarmBook())
    with SessionReader(archive) as reader:
        engine = ReplayEngine(reader, pipeline)
        engine.set_speed(0)
        engine.play()
        while engine.playing:
            engine.advance(0.0)
    return pipeline


def _latest(pipeline: Pipeline, key: str) -> float:
    buffer = pipeline.store.buffer(key)
    assert buffer is not None, key
    latest = buffer.latest()
    assert latest is not None
    return latest[1]


@pytest.mark.parametrize("kind", ["ros1", "ros2-sqlite3", "ros2-mcap"])
def test_a_bag_imports_as_a_session_that_replays(
    kind: str, tmp_path: Path, dictionary: TelemetryDictionary
) -> None:
    if kind == "ros1":
        bag = tmp_path / "flight.bag"
        write_ros1(bag)
    else:
        bag = tmp_path / "flight_bag"
        storage = StoragePlugin.MCAP if kind.endswith("mcap") else StoragePlugin.SQLITE3
        write_ros2(bag, storage)
    archive = tmp_path / "flight.sqlite"
    seen: list[tuple[int, int]] = []
    stats = import_bag(
        bag, archive, dictionary, progress=lambda d, t: seen.append((d, t))
    )
    topics = 6 if kind == "ros1" else 5
    assert stats.messages == topics * SECONDS and stats.rejected == 0
    assert seen[-1] == (topics * SECONDS, topics * SECONDS)
    assert not stats.skipped

    with ArchiveReader(archive) as reader:
        info = reader.info()
    assert info["sources"]["ib2"]["rejected"] == 0
    assert info["sources"]["ib2"]["samples"] > 0

    pipeline = replay_to_end(archive, dictionary)
    # Docking-station frame + (1.15, 0, 0.73) = the JPM frame; bag time is sample time.
    pos_x = pipeline.store.buffer("ib2.pos_x")
    assert pos_x is not None
    times, values = pos_x.snapshot()
    assert times.tolist() == [float(T0 + k) for k in range(SECONDS)]
    assert values.tolist() == pytest.approx([1.15 + 0.01 * k for k in range(SECONDS)])
    assert _latest(pipeline, "ib2.pos_z") == pytest.approx(0.53)
    assert _latest(pipeline, "ib2.mode") == 4.0
    assert _latest(pipeline, "ib2.cam_record") == 1.0
    assert _latest(pipeline, "ib2.battery_pct") == 90 - (SECONDS - 1)
    assert _latest(pipeline, "ib2.camera.EV") == 0.5
    assert _latest(pipeline, "ib2.cabin_fan_rpm.data") == 1200.0 + SECONDS - 1
    if kind == "ros1":
        # A type only the bag defines is read from its own definition.
        assert _latest(pipeline, "ib2.ground_heater.heater_w") == 30.0 + SECONDS - 1


def test_what_is_not_a_bag_is_refused_before_an_archive_is_made(
    tmp_path: Path, dictionary: TelemetryDictionary
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a bag")
    broken = tmp_path / "broken.bag"
    broken.write_bytes(b"#ROSBAG V2.0\n" + b"\0" * 10)
    for path, words in ((text, "not a ROS 1 bag"), (broken, "cannot read the bag")):
        with pytest.raises(BagError, match=words):
            import_bag(path, tmp_path / "out.sqlite", dictionary)
        assert not (tmp_path / "out.sqlite").exists()


# JAXA's ground bridge's own topics (communication_software/msg, from the
# public description): one Telemetry per datagram, the per-id bytes as received.
TELEMETRY_DEF = """time received_time
uint32 last_command
uint32 split_number
uint32 current_split_index
communication_software/Message[] data
"""
MESSAGE_DEF = """uint8 INTBALL2_SERIALIZED_BINARY_DATA = 0
uint8 INTBALL2_YAML_UTF8 = 1
uint8 DOCK_ROW_BINARY_DATA = 2
uint16 id
uint8 msg_type
string name
uint8[] data
time additional_timestamp
"""


def test_a_bag_of_the_ground_bridges_topics_decodes_as_the_bridge_does(
    tmp_path: Path, dictionary: TelemetryDictionary
) -> None:
    store = get_typestore(Stores.ROS1_NOETIC)
    store.register(
        get_types_from_msg(MESSAGE_DEF, "communication_software/msg/Message")
        | get_types_from_msg(TELEMETRY_DEF, "communication_software/msg/Telemetry")
    )
    T = store.types
    time = T["builtin_interfaces/msg/Time"]

    def record(received: float, items: dict[int, bytes], kind: int = 0) -> Any:
        return T["communication_software/msg/Telemetry"](
            received_time=time(sec=int(received), nanosec=0),
            last_command=0,
            split_number=1,
            current_split_index=1,
            data=[
                T["communication_software/msg/Message"](
                    id=tid,
                    msg_type=kind,
                    name="",
                    data=np.frombuffer(raw, dtype=np.uint8),
                    additional_timestamp=time(sec=0, nanosec=0),
                )
                for tid, raw in items.items()
            ],
        )

    bag = tmp_path / "ground.bag"
    name = "communication_software/msg/Telemetry"
    with Writer1(bag) as writer:
        robot = writer.add_connection("/telemetry_intball2", name, typestore=store)
        dock = writer.add_connection("/telemetry_dock", name, typestore=store)
        for k in range(5):
            robot_clock = T0 + k + 0.25  # the header's time, not the ground's
            items = {302: flight.navigation(robot_clock, (0.2 * k, 0.0, 0.0))}
            items |= flight.header(robot_clock, 5001 if k >= 3 else 0, 1, 1, 1)
            raw = store.serialize_ros1(record(T0 + k + 0.5, items), name)
            writer.write(robot, (T0 + k) * 10**9 + 500_000_000, raw)
            row = flight.dock_record(k, 1, 1, 2, 1, 25.0, 30.0, 1.0, 0.5, 0, 60)
            raw = store.serialize_ros1(record(T0 + k + 0.5, {0: row}, 2), name)
            writer.write(dock, (T0 + k) * 10**9 + 500_000_000, raw)
    archive = tmp_path / "ground.sqlite"
    stats = import_bag(bag, archive, dictionary)
    assert stats.messages == 10 and not stats.skipped and stats.rejected == 0

    pipeline = replay_to_end(archive, dictionary)
    pos_x = pipeline.store.buffer("ib2.pos_x")
    assert pos_x is not None
    times, values = pos_x.snapshot()
    assert times.tolist() == [T0 + k + 0.25 for k in range(5)]
    assert values.tolist() == pytest.approx([1.15 + 0.2 * k for k in range(5)])
    assert _latest(pipeline, "ib2-dock.charge") == 1.0
    assert _latest(pipeline, "ib2-dock.telemetry_counter") == 4.0
    events = [e for e in pipeline.store.events() if e.kind == "last_cmd"]
    assert [e.time for e in events] == [T0 + 3.25]


def test_a_message_stamped_1970_is_refused_and_does_not_stall_the_import(
    tmp_path: Path, dictionary: TelemetryDictionary
) -> None:
    """A robot whose clock was not set stamps 0: the import refuses that
    message (counted) instead of ticking the watchdog once a second from 1970."""
    store = ib2_typestore()
    bag = tmp_path / "unset_clock.bag"
    with Writer1(bag) as writer:
        typename, _ = _messages(store, 0)["/task_manager/mode"]
        conn = writer.add_connection("/task_manager/mode", typename, typestore=store)
        for k, stamp in enumerate([0, *range(T0, T0 + 5)]):
            _, msg = _messages(store, k)["/task_manager/mode"]
            writer.write(conn, stamp * 10**9, store.serialize_ros1(msg, typename))
    archive = tmp_path / "unset_clock.sqlite"
    stats = import_bag(bag, archive, dictionary)
    assert stats.messages == 6
    with ArchiveReader(archive) as reader:
        info = reader.info()
    assert info["sources"]["ib2"]["rejected"] >= 1
    t0, t1 = info["start"], info["end"]
    assert t0 >= T0 - 1 and t1 <= T0 + 10, (t0, t1)
