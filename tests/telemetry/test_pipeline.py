from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
import pytest

from telemetry.core.channels import MAX_LEARNED_INTERVAL_S, ChannelStore
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.pipeline import MAX_UNDECLARED_CHANNELS, Pipeline
from telemetry.core.severity import Severity
from telemetry.core.wire import Frame, encode_frame


class RecordingArchive:
    """Stands in for ArchiveWriter: records what the pipeline hands over."""

    def __init__(self) -> None:
        self.calls: dict[str, list[Any]] = {}

    def _add(self, name: str, *args: Any, **kw: Any) -> None:
        self.calls.setdefault(name, []).append((args, kw))

    def put_frame(
        self, received: float, frame: Frame, body: bytes, batches: Sequence[Any]
    ) -> None:
        self._add("frame", received, frame, body, list(batches))

    def put_samples(self, batches: Sequence[Any]) -> None:
        self._add("samples", list(batches))

    def put_channel(self, key: str, **kw: Any) -> None:
        self._add("channel", key, **kw)

    def put_rejected(self, *args: Any) -> None:
        self._add("rejected", *args)

    def put_event(self, *args: Any, **kw: Any) -> None:
        self._add("event", *args, **kw)

    def put_transition(self, *args: Any) -> None:
        self._add("transition", *args)


@pytest.fixture
def archive() -> RecordingArchive:
    return RecordingArchive()


@pytest.fixture
def pipeline(
    tiny_dictionary: TelemetryDictionary, archive: RecordingArchive
) -> Pipeline:
    return Pipeline(tiny_dictionary, ChannelStore(capacity=1000), archive=archive)


def robot(seq: int, t0: float, **cols: list[Any]) -> list[bytes]:
    n = len(next(iter(cols.values())))
    return encode_frame("robot", "ib2-a", seq, [t0 + i for i in range(n)], cols)


def test_values_reach_buffers_and_archive(
    pipeline: Pipeline, archive: RecordingArchive
) -> None:
    parts = robot(
        1, 100.0, pos_x=[1.0, None, 3.0], nav_status=["SLAM", "SLAM", "FUSION"]
    )
    decoded = pipeline.ingest(parts, received=200.0)
    assert decoded is not None
    buf = pipeline.store.buffer("ib2-a.pos_x")
    assert buf is not None
    t, y = buf.snapshot()
    assert t.tolist() == [100.0, 102.0]  # the null row was not sampled
    assert y.tolist() == [1.0, 3.0]
    nav = pipeline.store.buffer("ib2-a.nav_status")
    assert nav is not None and nav.snapshot()[1].tolist() == [3.0, 3.0, 1.0]
    stats = pipeline.store.sources["ib2-a"]
    assert (stats.messages, stats.samples, stats.link) == (1, 5, "up")
    ((args, _),) = archive.calls["frame"]
    assert args[2] == parts[1]  # the raw body is archived
    assert {key for (key, *_rest) in args[3]} == {"ib2-a.pos_x", "ib2-a.nav_status"}
    assert {c[0][0] for c in archive.calls["channel"]} == {
        "ib2-a.pos_x",
        "ib2-a.nav_status",
    }


def test_rows_out_of_order_are_sorted(pipeline: Pipeline) -> None:
    parts = encode_frame(
        "robot", "ib2-a", 1, [3.0, 1.0, 2.0], {"pos_x": [30.0, 10.0, 20.0]}
    )
    pipeline.ingest(parts, 0.0)
    buf = pipeline.store.buffer("ib2-a.pos_x")
    assert buf is not None
    assert buf.snapshot()[1].tolist() == [10.0, 20.0, 30.0]


def test_gap_and_restart_are_events_not_storms(pipeline: Pipeline) -> None:
    for seq in (1, 2, 5, 6, 0, 1, 2):
        pipeline.ingest(robot(seq, float(seq), pos_x=[1.0]), 0.0)
    stats = pipeline.store.sources["ib2-a"]
    assert (stats.gaps, stats.missed, stats.restarts) == (1, 2, 1)
    kinds = [e.kind for e in pipeline.store.events_since(0)]
    # The restarted publisher's times (0, 1, 2) are older than what is held.
    assert kinds == ["link up", "gap", "publisher restart", "backlog"]


def test_rejected_frames_are_counted_archived_and_shown(
    pipeline: Pipeline, archive: RecordingArchive
) -> None:
    bad = msgspec.json.encode(
        {"v": 1, "src": "ib2-a", "seq": 1, "t": [1.0], "ch": {"pos_x": [1.0, 2.0]}}
    )
    assert pipeline.ingest([b"robot.ib2-a", bad], 5.0) is None
    assert pipeline.ingest([b"robot.ib2-a", b"\x00garbage"], 6.0) is None
    assert pipeline.ingest([b"only-one-part"], 7.0) is None
    store = pipeline.store
    assert store.rejected_total == 3
    assert store.rejected_by_reason == {
        "length mismatch": 1,
        "bad encoding": 1,
        "bad frame count": 1,
    }
    assert store.sources["ib2-a"].rejected == 2
    rejected = archive.calls["rejected"]
    assert rejected[0][0][2] == bad and rejected[0][0][4] == "length mismatch"
    assert any(
        "pos_x" in e.detail for e in store.events_since(0) if e.kind == "rejected"
    )
    # good data still flows afterwards
    assert pipeline.ingest(robot(2, 10.0, pos_x=[1.0]), 8.0) is not None


def test_string_in_numeric_channel_is_rejected_with_location(
    pipeline: Pipeline,
) -> None:
    assert pipeline.ingest(robot(1, 0.0, pos_x=[1.0, "fast"]), 0.0) is None
    detail = pipeline.store.events_since(0)[-1].detail
    assert "pos_x[1]" in detail and "'fast'" in detail


def test_unknown_enum_state_is_rejected(pipeline: Pipeline) -> None:
    assert pipeline.ingest(robot(1, 0.0, nav_status=["WARP"]), 0.0) is None
    assert pipeline.store.rejected_by_reason == {"bad value": 1}


def test_undeclared_channels_are_kept_and_flagged(
    pipeline: Pipeline, archive: RecordingArchive
) -> None:
    pipeline.ingest(robot(1, 0.0, warp_core=["HOT", "COLD", "HOT"]), 0.0)
    assert "ib2-a.warp_core" in pipeline.store.undeclared
    buf = pipeline.store.buffer("ib2-a.warp_core")
    assert buf is not None and buf.snapshot()[1].tolist() == [0.0, 1.0, 0.0]
    channel = archive.calls["channel"][0]
    assert channel[1]["declared"] is False
    assert channel[1]["states"] == {"HOT": 0, "COLD": 1}
    assert any(e.kind == "undeclared channel" for e in pipeline.store.events_since(0))


def test_undeclared_channel_flood_is_bounded(pipeline: Pipeline) -> None:
    cols = {f"c{i}": [1.0] for i in range(MAX_UNDECLARED_CHANNELS)}
    assert (
        pipeline.ingest(encode_frame("robot", "ib2-a", 1, [0.0], cols), 0.0) is not None
    )
    assert pipeline.ingest(robot(2, 1.0, one_more=[1.0]), 0.0) is None
    assert pipeline.store.rejected_by_reason == {"too many channels": 1}


def test_limit_violation_raises_alarm_and_archives_transition(
    pipeline: Pipeline, archive: RecordingArchive
) -> None:
    pipeline.ingest(robot(1, 0.0, battery_pct=[50.0, 19.0, 18.0, 17.0]), 0.0)
    alarm = pipeline.alarms.get("ib2-a.battery_pct")
    assert alarm is not None
    assert (
        alarm.severity == Severity.WARNING
        and alarm.threshold == 20.0
        and not alarm.acked
    )
    ((args, _),) = archive.calls["transition"]
    assert args[1:4] == (
        "ib2-a.battery_pct",
        int(Severity.WARNING),
        int(Severity.NOMINAL),
    )


def test_dew_point_is_derived_and_archived(
    pipeline: Pipeline, archive: RecordingArchive
) -> None:
    parts = encode_frame(
        "eclss", "jpm", 1, [0.0, 1.0], {"temp": [22.0, 22.0], "rh": [50.0, 50.0]}
    )
    pipeline.ingest(parts, 0.0)
    buf = pipeline.store.buffer("jpm.dewpoint")
    assert buf is not None
    assert buf.snapshot()[1] == pytest.approx([11.1, 11.1], abs=0.1)
    ((args, _),) = archive.calls["samples"]
    assert args[0][0][0] == "jpm.dewpoint"


def test_link_watchdog(pipeline: Pipeline) -> None:
    pipeline.ingest(robot(1, 0.0, pos_x=[1.0]), 100.0)
    pipeline.tick(104.0)
    assert pipeline.store.sources["ib2-a"].link == "up"
    pipeline.tick(106.0)
    assert pipeline.store.sources["ib2-a"].link == "stale"
    alarm = pipeline.alarms.get("link:ib2-a")
    assert alarm is not None and alarm.severity == Severity.WARNING
    pipeline.tick(131.0)
    assert pipeline.store.sources["ib2-a"].link == "down"
    pipeline.ingest(robot(2, 1.0, pos_x=[1.0]), 132.0)
    assert pipeline.store.sources["ib2-a"].link == "up"
    kinds = [e.kind for e in pipeline.store.events_since(0)]
    assert kinds == ["link up", "link stale", "link down", "link up"]


def test_reset_forgets_everything(pipeline: Pipeline) -> None:
    pipeline.ingest(robot(1, 0.0, battery_pct=[1.0, 1.0]), 0.0)
    pipeline.reset()
    assert pipeline.store.keys() == []
    assert pipeline.alarms.snapshot() == []
    assert pipeline.store.sources == {}
    np.testing.assert_array_equal([], pipeline.store.events_since(0))


def test_link_watchdog_learns_a_batching_publishers_cadence(pipeline: Pipeline) -> None:
    # One message of 10 rows every 10 s: never stale between messages...
    for i in range(5):
        rows = [float(10 * i + r) for r in range(10)]
        pipeline.ingest(robot(i + 1, rows[0], pos_x=[1.0] * 10), 100.0 + 10 * i + 9)
        pipeline.tick(100.0 + 10 * i + 18)
    assert pipeline.store.sources["ib2-a"].link == "up"
    # ...but a real silence still is.
    pipeline.tick(100.0 + 40 + 9 + 26)
    assert pipeline.store.sources["ib2-a"].link == "stale"


def test_a_message_spanning_years_does_not_blind_the_link_watchdog(
    pipeline: Pipeline,
) -> None:
    """Its rows' span once taught a years-long cadence: a dead link stayed "up"."""
    now = 1.75e9
    years = 3 * 365.25 * 86400.0
    parts = encode_frame("robot", "ib2-a", 1, [now - years, now], {"pos_x": [1.0, 2.0]})
    assert pipeline.ingest(parts, now) is not None
    stats = pipeline.store.sources["ib2-a"]
    assert stats.interval_s == MAX_LEARNED_INTERVAL_S
    # Then silence: stale after 2.5 x the longest cadence, down after 6 x that.
    pipeline.tick(now + 150.0)
    assert stats.link == "up"
    pipeline.tick(now + 151.0)
    assert stats.link == "stale"
    alarm = pipeline.alarms.get("link:ib2-a")
    assert alarm is not None and alarm.severity == Severity.WARNING
    pipeline.tick(now + 6 * 150.0 + 1.0)
    assert stats.link == "down"


def test_an_outage_between_the_first_two_messages_is_not_learned_as_cadence(
    pipeline: Pipeline,
) -> None:
    pipeline.ingest(robot(1, 0.0, pos_x=[1.0]), 100.0)
    pipeline.ingest(robot(2, 1.0, pos_x=[1.0]), 100.0 + 6 * 3600.0)
    stats = pipeline.store.sources["ib2-a"]
    assert stats.interval_s == MAX_LEARNED_INTERVAL_S
    pipeline.tick(100.0 + 6 * 3600.0 + 151.0)
    assert stats.link == "stale"


def test_the_cap_is_a_pipeline_setting(tiny_dictionary: TelemetryDictionary) -> None:
    pipeline = Pipeline(tiny_dictionary, ChannelStore(100), max_interval_s=20.0)
    rows = [0.0, 3600.0]
    pipeline.ingest(encode_frame("robot", "ib2-a", 1, rows, {"pos_x": [1, 2]}), 1e4)
    assert pipeline.store.sources["ib2-a"].interval_s == 20.0
    with pytest.raises(ValueError, match="max_interval_s"):
        Pipeline(tiny_dictionary, ChannelStore(100), max_interval_s=0.0)


def link_events(pipeline: Pipeline) -> list[str]:
    return [e.kind for e in pipeline.store.events_since(0) if e.kind.startswith("link")]


@pytest.mark.parametrize("delivery", ["batch", "burst"])
def test_a_burst_flushed_publisher_is_judged_like_a_batching_one(
    tiny_dictionary: TelemetryDictionary, delivery: str
) -> None:
    """K1: 1 Hz rows every 10 s, as one 10-row message or ten 1-row ones in 1 ms.

    Same data, same link state: up throughout, one "link up", no alarm.
    """
    pipeline = Pipeline(tiny_dictionary, ChannelStore(capacity=1000))
    t0, seq, tick = 1000.0, 0, 1000.0
    for burst in range(60):  # 10 minutes
        start = t0 + 10 * burst
        arrival = start + 10.0
        while tick < arrival:  # the watchdog every 0.25 s
            pipeline.tick(tick)
            tick += 0.25
        rows = [start + r for r in range(10)]
        if delivery == "batch":
            seq += 1
            parts = encode_frame("robot", "ib2-a", seq, rows, {"pos_x": [1.0] * 10})
            pipeline.ingest(parts, arrival)
        else:
            for r, t in enumerate(rows):
                seq += 1
                parts = encode_frame("robot", "ib2-a", seq, [t], {"pos_x": [1.0]})
                pipeline.ingest(parts, arrival + r * 1e-4)
    assert link_events(pipeline) == ["link up"]
    assert pipeline.alarms.get("link:ib2-a") is None
    assert pipeline.store.sources["ib2-a"].interval_s == pytest.approx(10.0, abs=0.01)


def test_a_slow_publisher_is_learned_after_two_alike_gaps_and_stops_alarming(
    tiny_dictionary: TelemetryDictionary,
) -> None:
    """K1: one message every 10 minutes raised "link stale" after every one."""
    pipeline = Pipeline(tiny_dictionary, ChannelStore(capacity=1000))
    t = 1000.0
    for k in range(12):  # two hours
        arrival = t + 600.0 * k
        pipeline.ingest(robot(k + 1, arrival - 1, pos_x=[1.0]), arrival)
        if k == 2:
            learned = len(link_events(pipeline))
        for s in range(1, 600, 5):
            pipeline.tick(arrival + s)
    stats = pipeline.store.sources["ib2-a"]
    assert stats.interval_s == 600.0
    assert len(link_events(pipeline)) == learned  # nothing after the third
    assert stats.link == "up"
    # A real silence is still seen: stale after 2.5 cadences.
    pipeline.tick(t + 600.0 * 11 + 1501.0)
    assert stats.link == "stale"


def test_a_fast_streams_single_pause_is_no_cadence(
    tiny_dictionary: TelemetryDictionary,
) -> None:
    pipeline = Pipeline(tiny_dictionary, ChannelStore(capacity=1000))
    for k in range(600):  # 10 Hz for a minute, then 3 s of nothing
        t = 1000.0 + 0.1 * k + (3.0 if k >= 300 else 0.0)
        pipeline.ingest(robot(k + 1, t, pos_x=[1.0]), t)
    stats = pipeline.store.sources["ib2-a"]
    assert stats.interval_s != stats.interval_s  # NaN: the family's stale time
