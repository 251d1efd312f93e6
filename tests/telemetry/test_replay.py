"""Replay: pacing, the in-process engine (play, step, seek, loop), republish."""

from __future__ import annotations

import copy
import hashlib
import math
import queue
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zmq

from telemetry.archive.reader import ArchiveReader
from telemetry.archive.writer import ArchiveWriter
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.core.severity import Severity
from telemetry.core.wire import decode_frame, encode_frame
from telemetry.faults.injection import FaultInjector, FaultPlan
from telemetry.radiation.estimator import DoseEstimator
from telemetry.replay.engine import ReplayEngine, replay_derivers
from telemetry.replay.republish import republish
from telemetry.replay.session_reader import (
    SessionReader,
    check_speed,
    frame_span,
    frame_time,
    paced,
)
from telemetry.sim.recording import record_simulated_session

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "replay_data" / "faults"
START = 1_750_000_000.0
MINUTES = 8
CAPACITY = 1000  # small rings keep memory low; 8 min of 1 Hz data fits
BOOKMARK_AT = START + 200.0


@pytest.fixture(scope="module")
def dictionary() -> TelemetryDictionary:
    return TelemetryDictionary.load(DEFAULT_DICTIONARY)


@pytest.fixture(scope="module")
def recorded(
    tmp_path_factory: pytest.TempPathFactory, dictionary: TelemetryDictionary
) -> tuple[Path, Pipeline]:
    """8 minutes of the nominal simulator with the dose engine; the live pipeline."""
    path = tmp_path_factory.mktemp("replay") / "nominal.session.sqlite"

    marked: list[float] = []

    def bookmark(pipeline: Pipeline, t: float) -> None:
        if t == BOOKMARK_AT and not marked:  # called once per frame at t
            marked.append(t)
            pipeline.archive.put_bookmark(t, "flight", "crew starts the survey")  # type: ignore[union-attr]

    live = record_simulated_session(
        path, dictionary, MINUTES * 60, capacity=CAPACITY, before_frame=bookmark
    )
    return path, live


@pytest.fixture
def session(recorded: tuple[Path, Pipeline]) -> Path:
    return recorded[0]


@pytest.fixture(scope="module")
def batched(
    tmp_path_factory: pytest.TempPathFactory, dictionary: TelemetryDictionary
) -> tuple[Path, Pipeline]:
    """As replay_data's sessions: one 10-s batch per source per message."""
    path = tmp_path_factory.mktemp("replay") / "batched.session.sqlite"
    live = record_simulated_session(
        path, dictionary, 5 * 60, capacity=CAPACITY, batch_s=10.0
    )
    return path, live


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def new_pipeline(
    dictionary: TelemetryDictionary, capacity: int = CAPACITY, derivers: Any = None
) -> Pipeline:
    return Pipeline(
        dictionary,
        ChannelStore(capacity),
        AlarmBook(),
        None,
        replay_derivers(dictionary) if derivers is None else derivers,
    )


def all_frames(path: Path) -> list[tuple[float, bytes, bytes]]:
    with SessionReader(path) as reader:
        return list(reader.frames())


def dose(pipeline: Pipeline) -> list[tuple[str, float, float]]:
    estimators = [d for d in pipeline.derivers if isinstance(d, DoseEstimator)]
    assert estimators, "the replay runs the dose estimator"
    snap = estimators[0].snapshot()
    return [(c.crew_id, c.session_msv, c.career_msv) for c in snap.crew]


def assert_same_state(a: Pipeline, b: Pipeline) -> None:
    """Two pipelines hold the same buffers, counters, events, alarms and dose."""
    assert sorted(a.store.keys()) == sorted(b.store.keys())
    keys = a.store.keys()
    for key in keys:
        ba, bb = a.store.buffer(key), b.store.buffer(key)
        assert ba is not None and bb is not None
        ta, ya = ba.snapshot()
        tb, yb = bb.snapshot()
        np.testing.assert_array_equal(ta, tb, err_msg=key)
        np.testing.assert_array_equal(ya, yb, err_msg=key)
        assert (ba.total, ba.received) == (bb.total, bb.received), key
    assert a.store.sources == b.store.sources
    assert a.store.rejected_total == b.store.rejected_total
    # Sequence numbers keep counting across a rebuild; the events are the same.
    assert [replace(e, seq=0) for e in a.store.events_since(0)] == [
        replace(e, seq=0) for e in b.store.events_since(0)
    ]
    assert a.alarms.snapshot() == b.alarms.snapshot()
    assert a.alarms.raised_total == b.alarms.raised_total
    assert dose(a) == dose(b)


# ------------------------------------------------------------------- pacing


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


FRAMES = [(0.0, "a"), (1.0, "b"), (3.0, "c"), (3.0, "d"), (7.0, "e")]


@pytest.mark.parametrize("speed", [0.1, 1.0, 2.0, 200.0])
def test_paced_yields_each_frame_when_its_sample_time_is_due(speed: float) -> None:
    clock = FakeClock()
    yielded = [(clock.now, f[1]) for f in paced(FRAMES, speed, clock, clock.sleep)]
    assert [name for _, name in yielded] == ["a", "b", "c", "d", "e"]
    expected = [100.0 + t / speed for t, _ in FRAMES]
    assert [at for at, _ in yielded] == pytest.approx(expected)


def test_paced_at_speed_zero_never_sleeps() -> None:
    clock = FakeClock()
    assert [f[1] for f in paced(FRAMES, 0, clock, clock.sleep)] == list("abcde")
    assert clock.sleeps == []


def test_paced_catches_up_after_a_slow_consumer_without_stretching() -> None:
    clock = FakeClock()
    times = []
    for t, _ in paced(FRAMES, 1.0, clock, clock.sleep):
        times.append(clock.now)
        if t == 0.0:
            clock.now += 5.0  # the consumer stalls for 5 s
    # b (due at 101) and c, d (due 103) go at once; e is still due at 107.
    assert times == pytest.approx([100.0, 105.0, 105.0, 105.0, 107.0])


def test_paced_rechecks_after_a_sleep_that_returns_early() -> None:
    clock = FakeClock()

    def short_sleep(seconds: float) -> None:  # like Event.wait woken early
        clock.sleeps.append(seconds)
        clock.now += seconds / 2

    times = [clock.now for _ in paced([(0.0,), (4.0,)], 1.0, clock, short_sleep)]
    assert times[1] >= 104.0
    assert len(clock.sleeps) > 1


@pytest.mark.parametrize("speed", [-1.0, 0.05, 200.5, math.inf, math.nan])
def test_speeds_outside_the_range_are_refused(speed: float) -> None:
    with pytest.raises(ValueError, match="replay speed"):
        check_speed(speed)
    with pytest.raises(ValueError, match="replay speed"):
        list(paced(FRAMES, speed))


# ------------------------------------------------------------ SessionReader


def test_reader_gives_sample_time_order_and_writes_nothing(session: Path) -> None:
    before = sha256(session)
    frames = all_frames(session)
    with SessionReader(session) as reader:
        assert reader.count == len(frames)
        assert reader.start == frames[0][0] == START
        assert reader.end >= frames[-1][0]
    times = [f[0] for f in frames]
    assert times == sorted(times)
    for t, topic, body in frames[:50]:
        decoded = decode_frame([topic, body])
        assert t == float(decoded.times.max())
    assert sha256(session) == before


def test_a_frame_replays_at_its_last_sample_time() -> None:
    parts = encode_frame("robot", "ib2-a", 0, [3.0, 5.0], {"pos_x": [1.0, 2.0]}, "json")
    assert frame_time(parts[1], 0.0) == 5.0  # sent once the batch is complete
    assert frame_span(parts[1], 0.0) == (3.0, 5.0)
    unsorted = encode_frame("robot", "ib2-a", 0, [5.0, 3.0], {"pos_x": [1.0, 2.0]})
    assert frame_span(unsorted[1], 0.0) == (3.0, 5.0)
    # Without rows (or undecodable) a frame keeps its arrival time.
    assert frame_time(encode_frame("robot", "ib2-a", 0, [], {})[1], 42.0) == 42.0
    assert frame_time(b"\xc1 broken", 7.0) == 7.0


def test_reader_orders_batches_of_different_lengths_by_last_sample(
    tmp_path: Path, dictionary: TelemetryDictionary
) -> None:
    """The archive keeps frames by first sample; replay needs them by last."""
    path = tmp_path / "batches.sqlite"
    pipeline = Pipeline(dictionary, ChannelStore(100), archive=None)
    writer = ArchiveWriter(
        path,
        dictionary_sha256=dictionary.sha256,
        dictionary_version=dictionary.version,
    )
    pipeline.archive = writer
    # jpm sends 10-s batches, ib2-a 1-s ones, goes one 30-s batch.
    spans = {"jpm": ("eclss", 10), "ib2-a": ("robot", 1), "goes": ("spacewx", 30)}
    cols = {"eclss": "rh", "robot": "pos_x", "spacewx": "p10"}
    messages = []
    for source, (family, length) in spans.items():
        for seq, t in enumerate(range(0, 60, length)):
            times = START + np.arange(t, t + length, dtype=float)
            parts = encode_frame(family, source, seq, times, {cols[family]: times * 0})
            messages.append((float(times[-1]), parts))
    messages.sort(key=lambda m: m[0])
    with writer:
        for t, parts in messages:
            pipeline.ingest(parts, t)
    with SessionReader(path) as reader:
        assert (reader.start, reader.end, reader.max_span) == (START, START + 59, 29)
        frames = list(reader.frames())
        assert [f[0] for f in frames] == sorted(m[0] for m in messages)
        assert sorted(f[2] for f in frames) == sorted(m[1][1] for m in messages)
        window = list(reader.frames(START + 25, START + 40))
        assert window == [f for f in frames if START + 25 <= f[0] < START + 40]
        # The 30-s goes batch (first sample at 0) ends at 29: it is in.
        assert any(f[1] == b"spacewx.goes" and f[0] == START + 29 for f in window)


def test_reader_refuses_an_archive_without_frames(
    tmp_path: Path, dictionary: TelemetryDictionary
) -> None:
    empty = tmp_path / "empty.sqlite"
    ArchiveWriter(
        empty,
        dictionary_sha256=dictionary.sha256,
        dictionary_version=dictionary.version,
    ).stop()
    with pytest.raises(ValueError, match="no recorded frames"):
        SessionReader(empty)


# ------------------------------------------------------------------- engine


def test_engine_starts_at_the_session_start_paused(
    session: Path, dictionary: TelemetryDictionary
) -> None:
    frames = all_frames(session)
    with SessionReader(session) as reader:
        pipeline = new_pipeline(dictionary)
        engine = ReplayEngine(reader, pipeline)
        assert (engine.cursor, engine.playing, engine.speed) == (START, False, 1.0)
        at_start = sum(1 for f in frames if f[0] <= START)
        assert sum(s.messages for s in pipeline.store.sources.values()) == at_start
        assert engine.advance(10.0) == 0  # paused: nothing moves
        assert engine.cursor == START


def test_advance_moves_the_clock_by_wall_time_times_speed(
    session: Path, dictionary: TelemetryDictionary
) -> None:
    frames = all_frames(session)
    with SessionReader(session) as reader:
        pipeline = new_pipeline(dictionary)
        engine = ReplayEngine(reader, pipeline)
        engine.set_speed(10)
        engine.play()
        n = engine.advance(1.5)
        assert engine.cursor == START + 15.0
        assert n == sum(1 for f in frames if START < f[0] <= START + 15.0)
        engine.set_speed(0.5)
        engine.advance(3.0)
        assert engine.cursor == START + 16.5
        # Staleness follows the replay clock: received is the sample time.
        buf = pipeline.store.buffer("jpm.ppco2")
        assert buf is not None and buf.received == START + 16.0
        engine.pause()
        assert engine.advance(100.0) == 0 and engine.cursor == START + 16.5
    with pytest.raises(ValueError, match="replay speed"):
        engine.set_speed(500)


def test_speed_zero_ingests_bursts_up_to_whole_timestamps(
    session: Path, dictionary: TelemetryDictionary
) -> None:
    frames = all_frames(session)
    with SessionReader(session) as reader:
        pipeline = new_pipeline(dictionary)
        engine = ReplayEngine(reader, pipeline, burst=40)
        engine.set_speed(0)
        engine.play()
        n = engine.advance(0.0)
        assert n >= 40
        # Every frame at or before the cursor is in, none after it.
        assert n == sum(1 for f in frames if START < f[0] <= engine.cursor)
        assert engine.cursor == max(f[0] for f in frames if f[0] <= engine.cursor)
        calls = 1
        while engine.playing:
            engine.advance(0.0)
            calls += 1
        assert engine.at_end and engine.cursor == engine.end
        assert calls >= len(frames) // 60
        messages = sum(s.messages for s in pipeline.store.sources.values())
        assert messages == len(frames)


def test_step_by_seconds_frames_and_backwards(
    session: Path, dictionary: TelemetryDictionary
) -> None:
    frames = all_frames(session)
    with SessionReader(session) as reader:
        pipeline = new_pipeline(dictionary)
        engine = ReplayEngine(reader, pipeline)
        engine.step(seconds=30)
        assert engine.cursor == START + 30
        # One frame, plus the others with the same sample time (never split).
        nxt = min(f[0] for f in frames if f[0] > START + 30)
        assert engine.step(frames=1) == sum(1 for f in frames if f[0] == nxt) > 1
        assert engine.cursor == nxt
        engine.step(frames=3)
        here = engine.cursor
        engine.step(seconds=-20)
        assert engine.cursor == here - 20
        with pytest.raises(ValueError, match="exactly one"):
            engine.step()
        with pytest.raises(ValueError, match="frames must be"):
            engine.step(frames=0)


def straight_run(
    session: Path, dictionary: TelemetryDictionary, target: float, capacity: int
) -> Pipeline:
    """A pipeline fed from the session start to ``target`` without any restore."""
    pipeline = new_pipeline(dictionary, capacity)
    with SessionReader(session) as reader:
        engine = ReplayEngine(reader, pipeline, checkpoint_every=1e9)
        engine.seek(target)
    return pipeline


@pytest.mark.parametrize("capacity", [CAPACITY, 100])
def test_seek_rebuilds_the_same_state_as_a_straight_run(
    session: Path, dictionary: TelemetryDictionary, capacity: int
) -> None:
    """Buffers (wrapped ones too), counters, events, alarms and dose totals."""
    with SessionReader(session) as reader:
        seeking = new_pipeline(dictionary, capacity)
        engine = ReplayEngine(reader, seeking, checkpoint_every=30)
        engine.seek(engine.end)
        for target in (START + 301.5, START + 125.0, START + 90.0, START + 400.0):
            generation = engine.generation
            engine.seek(target)
            assert engine.cursor == target
            assert engine.generation > generation  # views must drop their caches
            assert_same_state(
                straight_run(session, dictionary, target, capacity), seeking
            )


def test_seek_without_usable_checkpoints_replays_from_the_start(
    session: Path, dictionary: TelemetryDictionary
) -> None:
    class LockedDeriver:
        """Its state cannot be copied (a lock inside a dict), as a C object's."""

        def __init__(self) -> None:
            self.state = {"lock": threading.Lock()}

        def derive(self, batches: list[Any]) -> list[Any]:
            return []

        def reset(self) -> None:
            pass

        def drain_events(self) -> list[Any]:
            return []

        def checkpoint(self) -> object:
            return copy.deepcopy(self.state)

        def restore(self, state: object) -> None:
            raise AssertionError("nothing to restore: no checkpoint was taken")

    with SessionReader(session) as r1, SessionReader(session) as r2:
        derivers = [*replay_derivers(dictionary), LockedDeriver()]
        locked = new_pipeline(dictionary, derivers=derivers)
        engine = ReplayEngine(r1, locked)
        assert engine.checkpoint_error is not None
        assert "checkpoint" in engine.checkpoint_error
        engine.seek(START + 200)
        engine.seek(START + 100)
        fresh = new_pipeline(dictionary, derivers=[*replay_derivers(dictionary)])
        ReplayEngine(r2, fresh).seek(START + 100)
        locked.derivers.pop()
        assert_same_state(fresh, locked)


def test_a_deriver_may_provide_its_own_checkpoint(
    session: Path, dictionary: TelemetryDictionary
) -> None:
    class Counting:
        def __init__(self) -> None:
            self.batches = 0
            self.restored: list[object] = []

        def derive(self, batches: list[Any]) -> list[Any]:
            self.batches += len(batches)
            return []

        def reset(self) -> None:
            self.batches = 0

        def drain_events(self) -> list[Any]:
            return []

        def checkpoint(self) -> object:
            return self.batches

        def restore(self, state: object) -> None:
            self.restored.append(state)
            assert isinstance(state, int)
            self.batches = state

    counting = Counting()
    with SessionReader(session) as reader:
        engine = ReplayEngine(reader, new_pipeline(dictionary, derivers=[counting]))
        engine.seek(START + 100)
        at_100 = counting.batches
        engine.seek(START + 300)
        engine.seek(START + 100)
        assert engine.checkpoint_error is None
        assert counting.restored and counting.batches == at_100


def test_prepare_captures_every_checkpoint_and_returns_to_the_cursor(
    session: Path, dictionary: TelemetryDictionary
) -> None:
    with SessionReader(session) as reader:
        engine = ReplayEngine(reader, new_pipeline(dictionary), checkpoint_every=60)
        engine.seek(START + 100)
        fractions: list[float] = []
        engine.prepare(fractions.append)
        assert engine.cursor == START + 100
        assert engine.checkpoints == math.floor((engine.end - START) / 60) + 1
        assert fractions and fractions[-1] == pytest.approx(1.0)


def test_loop_wraps_to_its_start(
    session: Path, dictionary: TelemetryDictionary
) -> None:
    with SessionReader(session) as reader:
        engine = ReplayEngine(reader, new_pipeline(dictionary))
        engine.set_loop(START + 100, START + 130)
        assert engine.cursor == START + 100  # outside the loop: jump in
        engine.set_speed(10)
        engine.play()
        engine.advance(2.0)
        assert engine.cursor == START + 120
        generation = engine.generation
        engine.advance(2.0)  # passes 130: back to 100
        assert engine.cursor == START + 100 and engine.playing
        assert engine.generation > generation
        engine.set_loop(None)
        assert engine.loop is None
        with pytest.raises(ValueError, match="t0 < t1"):
            engine.set_loop(START + 50, START + 40)


def test_play_pauses_at_the_end_and_starts_over(
    session: Path, dictionary: TelemetryDictionary
) -> None:
    with SessionReader(session) as reader:
        engine = ReplayEngine(reader, new_pipeline(dictionary))
        engine.seek(engine.end - 5)
        engine.set_speed(1)
        engine.play()
        engine.advance(10.0)
        assert engine.at_end and not engine.playing
        engine.play()
        assert engine.cursor == START and engine.playing


def test_replay_reproduces_the_live_sessions_alarms_and_dose(
    recorded: tuple[Path, Pipeline], dictionary: TelemetryDictionary
) -> None:
    path, live = recorded
    with SessionReader(path) as reader:
        replayed = new_pipeline(dictionary)
        engine = ReplayEngine(reader, replayed)
        engine.set_speed(0)
        engine.play()
        while engine.playing:
            engine.advance(0.0)
    assert_same_state(live, replayed)
    with ArchiveReader(path) as archive:
        recorded_raises = [(t.key, t.severity) for t in archive.transitions()]
    assert recorded_raises, "the nominal session raises something to compare"
    live_alarms = {(a.key, a.severity, a.first_time) for a in live.alarms.snapshot()}
    assert live_alarms == {
        (a.key, a.severity, a.first_time) for a in replayed.alarms.snapshot()
    }
    assert all(total > 0 for _, total, _ in dose(replayed))


def test_replay_with_faults_injects_them_in_process(
    session: Path, dictionary: TelemetryDictionary
) -> None:
    plan = FaultPlan.load(SCENARIOS / "ib2-a-silent.toml", dictionary)
    with SessionReader(session) as reader:
        pipeline = new_pipeline(dictionary)
        faults = FaultInjector(plan, reader.start)
        engine = ReplayEngine(reader, pipeline, faults=faults)
        engine.seek(START + 340)
        link = pipeline.alarms.get("link:ib2-a")
        assert link is not None and link.severity == Severity.CRITICAL
        engine.seek(START + 200)  # back before the fault: restored, no alarm
        assert pipeline.alarms.get("link:ib2-a") is None
        engine.seek(START + 340)
        link = pipeline.alarms.get("link:ib2-a")
        assert link is not None and link.first_time == START + 305


def test_engine_refuses_to_archive_into_the_session_it_reads(
    session: Path, dictionary: TelemetryDictionary
) -> None:
    pipeline = new_pipeline(dictionary)
    # A writer on the session itself (never started: nothing is written).
    pipeline.archive = ArchiveWriter(
        session,
        dictionary_sha256=dictionary.sha256,
        dictionary_version=dictionary.version,
    )
    with (
        SessionReader(session) as reader,
        pytest.raises(ValueError, match="never write into the archive"),
    ):
        ReplayEngine(reader, pipeline)


def test_timeline_marks_show_alarms_periods_bookmarks_and_faults(
    session: Path, dictionary: TelemetryDictionary
) -> None:
    plan = FaultPlan.load(SCENARIOS / "co2-sensor-stuck.toml", dictionary)
    with SessionReader(session) as reader:
        engine = ReplayEngine(
            reader, new_pipeline(dictionary), faults=FaultInjector(plan, START)
        )
        marks = engine.timeline_marks()
    kinds = {m.kind for m in marks}
    assert {"alarm", "saa", "bookmark", "fault"} <= kinds
    (bookmark,) = [m for m in marks if m.kind == "bookmark"]
    assert (bookmark.time, bookmark.label) == (
        BOOKMARK_AT,
        "flight: crew starts the survey",
    )
    saa = [m for m in marks if m.kind == "saa"]
    assert saa and all(m.end is not None and m.end > m.time for m in saa)
    faults = [(m.time - START, m.end) for m in marks if m.kind == "fault"]
    assert faults[0] == (120.0, START + 420.0)
    assert [m.time for m in marks] == sorted(m.time for m in marks)


# ---------------------------------------------------------------- republish


class Subscriber:
    """A real SUB socket on the endpoint ``republish`` reports."""

    def __init__(self, endpoint: str) -> None:
        self.context = zmq.Context()
        self.socket = self.context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.RCVHWM, 0)
        self.socket.setsockopt(zmq.SUBSCRIBE, b"")
        self.socket.connect(endpoint)

    def receive(self, count: int, timeout_ms: int = 10_000) -> list[list[bytes]]:
        out = []
        while len(out) < count and self.socket.poll(timeout_ms):
            out.append(self.socket.recv_multipart())
        return out

    def close(self) -> None:
        self.socket.close(linger=0)
        self.context.term()


def run_republish(
    session: Path, expected: int, **kwargs: Any
) -> tuple[int, list[list[bytes]]]:
    bound: queue.Queue[str] = queue.Queue()
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["sent"] = republish(
                session, "tcp://127.0.0.1:*", on_bound=bound.put, **kwargs
            )
        except BaseException as exc:  # surfaced in the test thread
            result["error"] = exc

    thread = threading.Thread(target=run, name="test-republish")
    thread.start()
    sub = Subscriber(bound.get(timeout=10))
    try:
        received = sub.receive(expected)
    finally:
        thread.join(30)
        sub.close()
    assert not thread.is_alive()
    if "error" in result:
        raise result["error"]
    return result["sent"], received


def same_rows(sent: list[bytes], recorded: tuple[bytes, bytes]) -> bool:
    """Tell whether a republished message carries a recorded one's rows, marked."""
    got, want = decode_frame(sent), decode_frame(list(recorded))
    return (
        sent[0] == recorded[0]
        and got.recorded
        and not want.recorded
        and (got.seq, got.encoding) == (want.seq, want.encoding)
        and got.columns == want.columns
        and np.array_equal(got.times, want.times)
    )


def test_republish_sends_the_recording_as_recorded(session: Path) -> None:
    before = sha256(session)
    frames = all_frames(session)
    sent, received = run_republish(session, len(frames), speed=0)
    assert sent == len(frames) == len(received)
    # Same topics, sequence numbers, times and values, each marked as a
    # recording: a console never mistakes it for live telemetry.
    assert all(
        same_rows(got, (topic, body))
        for got, (_, topic, body) in zip(received, frames, strict=True)
    )
    assert sha256(session) == before


def test_republish_a_time_range_with_faults(session: Path) -> None:
    start, end = START + 290, START + 320
    frames = [f for f in all_frames(session) if start <= f[0] < end]
    silent = [f for f in frames if f[1] == b"robot.ib2-a" and f[0] >= START + 300]
    expected = len(frames) - len(silent)
    sent, received = run_republish(
        session,
        expected,
        speed=0,
        start=start,
        end=end,
        faults=SCENARIOS / "ib2-a-silent.toml",
    )
    assert sent == expected == len(received)
    ib2a = [decode_frame(p) for p in received if p[0] == b"robot.ib2-a"]
    assert [f.seq for f in ib2a] == list(range(290, 300))  # seq as recorded
    kept = [(t, b) for _, t, b in frames if (_, t, b) not in silent]
    assert all(same_rows(got, f) for got, f in zip(received, kept, strict=True))


def test_republish_paces_at_speed_with_the_given_clock(session: Path) -> None:
    frames = [f for f in all_frames(session) if f[0] < START + 3]
    sent, received = run_republish(session, len(frames), speed=200, end=START + 3)
    assert sent == len(frames) == len(received)


def test_republish_times_out_without_a_subscriber(session: Path) -> None:
    with pytest.raises(TimeoutError, match="no subscriber"):
        republish(session, "tcp://127.0.0.1:*", speed=0, wait_subscriber=0.2)


def test_republish_stops_when_told(session: Path) -> None:
    stop = threading.Event()
    stop.set()
    assert republish(session, "tcp://127.0.0.1:*", stop_event=stop) == 0


def test_batched_session_replays_as_live_and_seeks_exactly(
    batched: tuple[Path, Pipeline], dictionary: TelemetryDictionary
) -> None:
    path, live = batched
    with SessionReader(path) as reader:
        assert reader.max_span == pytest.approx(9.0)
        replayed = new_pipeline(dictionary)
        engine = ReplayEngine(reader, replayed, checkpoint_every=30)
        engine.seek(START + 125)
        # At the cursor the store holds what a live console had: whole
        # batches up to their last sample, nothing later.
        buf = replayed.store.buffer("jpm.ppco2")
        assert buf is not None and buf.latest() is not None
        assert buf.latest()[0] == START + 119 == buf.received  # type: ignore[index]
        engine.seek(engine.end)
        assert_same_state(live, replayed)
        for target in (START + 95.5, START + 240.0, START + 31.0):
            engine.seek(target)
            straight = straight_run(path, dictionary, target, CAPACITY)
            assert_same_state(straight, replayed)


SHIPPED = sorted((REPO / "replay_data").glob("*.session.sqlite"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_sessions_replay_to_their_recorded_alarms(
    path: Path, dictionary: TelemetryDictionary
) -> None:
    """replay_data/ was recorded live-like; a replay raises the same limits."""
    raised: list[tuple[float, str, int]] = []

    class Recording(AlarmBook):
        def raise_transition(self, tr: Any) -> None:
            if tr.kind != "link":
                raised.append((tr.time, tr.key, int(tr.severity)))
            super().raise_transition(tr)

    before = sha256(path)
    derivers = replay_derivers(dictionary)
    with SessionReader(path) as reader:
        pipeline = Pipeline(
            dictionary, ChannelStore(CAPACITY), Recording(), None, derivers
        )
        ReplayEngine(reader, pipeline).seek(reader.end)
    with ArchiveReader(path) as archive:
        recorded = [(t.time, t.key, t.severity) for t in archive.transitions()]
    assert recorded and raised == recorded
    assert sha256(path) == before
