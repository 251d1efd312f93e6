"""The one-robot-and-dock profile, its last-command event, the ib2_msgs definitions."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import DEFAULT_DICTIONARY, REPO_ROOT, TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.core.wire import encode_frame
from telemetry.ib2.messages import ib2_typestore
from telemetry.ib2.unpickler import PickleRefused, load_telemetry

PROFILE = REPO_ROOT / "resources" / "ib2" / "dictionary.toml"


def test_the_profile_is_one_robot_and_its_dock_over_the_base() -> None:
    base = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    ib2 = TelemetryDictionary.load(PROFILE)
    assert [s.id for s in ib2.sources_of("robot")] == ["ib2"]
    assert [s.id for s in ib2.sources_of("dock")] == ["ib2-dock"]
    assert [s.id for s in base.sources_of("robot")] == ["ib2-a", "ib2-b"]
    # Everything else is the base's: one copy of every shared channel and limit.
    assert ib2.families["eclss"] == base.families["eclss"]
    assert ib2.channel("robot", "battery_pct") == base.channel("robot", "battery_pct")
    assert "jpm" in ib2.sources and ib2.sha256 != base.sha256
    temp_alert = ib2.channel("dock", "temp_alert")
    assert temp_alert is not None and "ALERT_ALL" in temp_alert.alarm_states


def test_the_last_executed_command_is_a_channel_and_an_event() -> None:
    dictionary = TelemetryDictionary.load(PROFILE)
    pipeline = Pipeline(dictionary, ChannelStore(100), AlarmBook())
    t0 = 1_796_000_000.0
    for seq, (t, command) in enumerate([(t0, 0), (t0 + 1, 0), (t0 + 2, 5001)], 1):
        frame = encode_frame("robot", "ib2", seq, [t], {"last_cmd": [command]})
        pipeline.ingest(frame, t)
    events = [e for e in pipeline.store.events() if e.kind == "last_cmd"]
    assert [(e.time, e.detail) for e in events] == [
        (t0 + 2, "NONE -> /trans_communication/action_goal")
    ]
    buffer = pipeline.store.buffer("ib2.last_cmd")
    assert buffer is not None
    assert buffer.snapshot()[1].tolist() == [0.0, 0.0, 5001.0]


@pytest.mark.parametrize(
    ("name", "md5"),
    [
        # genmsg's md5s (int-ball2-downlink.md 7): constants stay constants.
        ("Navigation", "fad62f95d117b28cf9d0c09058c3bc1b"),
        ("CtlStatus", "d8412c3df361e6357bd265e1e3d16980"),
        ("Mode", "c575f4cc9ea50678707134c7adff9c0d"),
        ("BatteryChargeInfo", "bd397af2bf212e5aa722d7248cc2d39e"),
        ("MainCameraStatus", "0c3c735408b859517f00b5be86f32716"),
    ],
)
def test_definitions_hash_as_genmsg_does(name: str, md5: str) -> None:
    store = ib2_typestore()
    assert store.generate_msgdef(f"ib2_msgs/msg/{name}", ros_version=1)[1] == md5


def test_the_reader_takes_what_the_pickler_writes_and_nothing_more() -> None:
    big = bytes(range(256)) * 2  # BINBYTES, over 255 bytes
    items = {0: b"\x01", 1: b"\x01", 302: big, 70: b""}
    assert load_telemetry(pickle.dumps(items, protocol=3)) == items
    assert load_telemetry(pickle.dumps({5: b"a"}, protocol=3)) == {5: b"a"}  # SETITEM
    for hostile, reason in (
        (pickle.dumps({1: b"x"}, protocol=4), "bad pickle"),  # not the robot's protocol
        (pickle.dumps({1: {2: b"x"}}, protocol=3), "wrong type"),
        (pickle.dumps({1: np.float64(1.0)}, protocol=3), "forbidden opcode"),
        (pickle.dumps(b"x", protocol=3), "wrong type"),
    ):
        with pytest.raises(PickleRefused) as info:
            load_telemetry(hostile)
        assert info.value.reason == reason, hostile
