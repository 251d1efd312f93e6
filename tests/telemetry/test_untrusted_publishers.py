"""Issue 14: a deliberate or buggy publisher cannot lock out, flood or fool the console.

Each class of the issue (names and budgets, time, values, limits) through a
real XPUB socket into a live session that records to a real archive file;
the time rules that depend on the receive clock drive the session's clock.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import pytest
import zmq
from polling import wait_for

from telemetry.archive.reader import ArchiveReader
from telemetry.bus.subscriber import listen_endpoint
from telemetry.core.channels import ChannelStore
from telemetry.core.decoding import DERIVED_ON_WIRE
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.pipeline import (
    MAX_UNDECLARED_SOURCES,
    TIME_AHEAD,
    TOO_MANY_SOURCES,
    UNDECLARED_SOURCE_PRUNE_S,
    Pipeline,
)
from telemetry.core.severity import Severity
from telemetry.core.source_clock import LEARN_S
from telemetry.core.wire import encode_frame
from telemetry.live.session import LiveSession, SessionConfig, build_derivers
from telemetry.replay.republish import republish
from telemetry.sim.recording import record_simulated_session
from telemetry.sim.simulator import Simulator

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

NOW = 1.75e9


class Clock:
    """The session clock, moved by the test (what the subscriber stamps)."""

    def __init__(self, now: float) -> None:
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def set(self, now: float) -> None:
        with self._lock:
            self.now = now


class Feed:
    """An XPUB the test publishes on, and a live session subscribed to it."""

    def __init__(self, path: Path, clock: Clock | None = None) -> None:
        self.dictionary = TelemetryDictionary.load()
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.pub = self.context.socket(zmq.XPUB)
        self.pub.setsockopt(zmq.LINGER, 0)
        self.pub.setsockopt(zmq.SNDHWM, 0)
        port = self.pub.bind_to_random_port("tcp://127.0.0.1")
        self.clock = clock or Clock(NOW)
        self.session = LiveSession(
            self.dictionary,
            SessionConfig([f"tcp://127.0.0.1:{port}"], path),
            clock=self.clock,
        )
        self.session.start()
        assert self.pub.poll(5000), "no subscription"
        self.pub.recv()
        self.sent = 0

    def send(self, parts: list[bytes]) -> None:
        self.pub.send_multipart(parts)
        self.sent += 1

    def settle(self) -> None:
        """Wait until every message sent was accepted or rejected."""
        store = self.session.store

        def done() -> bool:
            # Processed to the end (accepted or rejected), not only received.
            return self.session.subscriber.received >= self.sent

        wait_for(done, 20.0, f"{self.sent} messages to arrive", every=0.01)
        assert store is self.session.store

    def close(self) -> None:
        self.session.stop()
        self.pub.close(linger=0)
        self.context.term()


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[Feed]:
    f = Feed(tmp_path / "session.sqlite")
    yield f
    f.close()


def kinds(session: LiveSession, kind: str) -> list[str]:
    return [e.detail for e in session.store.events_since(0) if e.kind == kind]


# ----------------------------------------------------------- names and budgets


def test_an_invented_source_storm_never_locks_out_declared_sources(
    feed: Feed, tmp_path: Path
) -> None:
    """Hundreds of junk topics: declared sources still in, no alarm flood."""
    # Rejected messages from invented sources take no place in any budget.
    for i in range(300):
        feed.send([f"zz.junk{i}".encode(), b"\x00not a message"])
    storm = 3 * MAX_UNDECLARED_SOURCES
    for i in range(storm):
        feed.send(encode_frame("zz", f"inv{i}", 0, [NOW], {"x": [1.0]}))
    for seq in range(3):
        feed.send(encode_frame("robot", "ib2-a", seq, [NOW + seq], {"pos_x": [0.5]}))
        feed.send(encode_frame("eclss", "jpm", seq, [NOW + seq], {"temp": [22.0]}))
    feed.settle()
    store = feed.session.store
    assert store.sources["ib2-a"].messages == 3
    assert store.sources["jpm"].messages == 3
    invented = [s for s, st in store.sources.items() if not st.declared]
    assert len(invented) == MAX_UNDECLARED_SOURCES  # the first ones, then refused
    assert store.rejected_by_reason[TOO_MANY_SOURCES] == storm - MAX_UNDECLARED_SOURCES
    assert store.rejected_by_reason["bad encoding"] == 300
    # One aggregated, bounded report: no CRITICAL "link down" per invented name.
    feed.session.pipeline.tick(NOW + 3600.0)  # an hour of silence from everyone
    alarms = {a.key: a.severity for a in feed.session.alarms.snapshot()}
    assert not [k for k in alarms if k.startswith("link:inv")]
    assert alarms["link:ib2-a"] == alarms["link:jpm"] == Severity.CRITICAL
    reports = kinds(feed.session, "undeclared source")
    assert 1 <= len(reports) <= 2, reports
    assert "source(s) not in the dictionary" in reports[0]
    refusals = [d for d in kinds(feed.session, "rejected") if TOO_MANY_SOURCES in d]
    assert len(refusals) == 1  # folded, not one event per invented name
    assert "declared sources are not affected" in refusals[0]
    feed.close()
    with ArchiveReader(tmp_path / "session.sqlite") as reader:
        # Everything received is kept: accepted frames and rejected raw.
        assert reader.info()["frames"] == MAX_UNDECLARED_SOURCES + 6
        assert len(reader.rejected()) == 300 + storm - MAX_UNDECLARED_SOURCES


def test_invented_sources_are_forgotten_when_silent(
    tiny_dictionary: TelemetryDictionary,
) -> None:
    """Per-source bookkeeping stays bounded: a silent invented source is pruned."""
    pipeline = Pipeline(tiny_dictionary, ChannelStore(capacity=100))
    for i in range(MAX_UNDECLARED_SOURCES):
        assert pipeline.ingest(encode_frame("zz", f"s{i}", 0, [NOW], {"x": [1.0]}), NOW)
    assert (
        pipeline.ingest(encode_frame("zz", "late", 0, [NOW], {"x": [1.0]}), NOW) is None
    )
    # A rejected message of an admitted one leaves a folding entry behind...
    bad = encode_frame("zz", "s0", 1, [NOW], {"x": ["text"]})
    assert pipeline.ingest(bad, NOW) is None
    pipeline.tick(NOW + UNDECLARED_SOURCE_PRUNE_S + 1)
    assert not [s for s in pipeline.store.sources.values() if not s.declared]
    # ...which goes with it.
    assert not [k for k in pipeline.checkpoint().last_reject if k[0] == "s0"]
    assert pipeline.ingest(
        encode_frame("zz", "late", 1, [NOW + 400], {"x": [1.0]}), NOW + 400
    )


def test_invented_channel_names_are_one_event_not_a_flood(feed: Feed) -> None:
    """2,000 new names in two messages must not push the log's events out."""
    feed.send(encode_frame("eclss", "jpm", 0, [NOW], {"temp": [22.0]}))
    feed.send(encode_frame("eclss", "jpm", 5, [NOW + 1], {"temp": [22.0]}))  # a gap
    for k in (6, 7):
        names = {f"x{k}_{i}": [1.0] for i in range(1000)}
        feed.send(encode_frame("eclss", "jpm", k, [NOW + k], names))
    feed.settle()
    [said] = kinds(feed.session, "undeclared channel")
    assert said.startswith("1000 channel(s) not in the dictionary: 'jpm.x6_0'")
    assert "and 995 more" in said
    assert kinds(feed.session, "gap")  # the earlier event is still there
    # The second message's names are reported once the interval has passed.
    feed.clock.set(NOW + 10)
    wait_for(
        lambda: len(kinds(feed.session, "undeclared channel")) == 2,
        10.0,
        "the second folded report",
    )


def test_a_source_id_with_a_dot_is_refused_not_misattributed(feed: Feed) -> None:
    """``robot.ib2-a.x`` used to land in ib2-a's channel ``x.pos_x``."""
    parts = encode_frame("robot", "ib2-a", 0, [NOW], {"pos_x": [9.0]})
    feed.send([b"robot.ib2-a.x", parts[1].replace(b"ib2-a", b"ib2-a.x", 1)])
    feed.send(encode_frame("robot", "ib2-a", 0, [NOW], {"pos_x": [1.0]}))
    feed.settle()
    store = feed.session.store
    assert store.rejected_by_reason == {"bad topic": 1}
    (detail,) = kinds(feed.session, "rejected")
    assert "source id 'ib2-a.x' contains '.'" in detail
    assert store.keys() == ["ib2-a.pos_x"]
    buf = store.buffer("ib2-a.pos_x")
    assert buf is not None and buf.snapshot()[1].tolist() == [1.0]


# ------------------------------------------------------------------------ time


def test_a_backlog_goes_to_history_never_to_now(feed: Feed, tmp_path: Path) -> None:
    """Old samples after live data: archived and in windows, never "latest"."""
    live = [NOW + i for i in range(10)]
    feed.send(encode_frame("robot", "ib2-a", 0, live, {"battery_pct": [80.0] * 10}))
    feed.settle()
    # The dump after a loss of signal: a flat battery an hour ago.
    old = [NOW - 3600 + i for i in range(10)]
    feed.send(encode_frame("robot", "ib2-a", 1, old, {"battery_pct": [3.0] * 10}))
    feed.settle()
    buf = feed.session.store.buffer("ib2-a.battery_pct")
    assert buf is not None
    assert buf.latest() == (NOW + 9, 80.0)  # the readout still shows now
    # The live alarm state was not driven by the old values...
    alarm = feed.session.alarms.get("ib2-a.battery_pct")
    assert alarm is None or alarm.severity == Severity.NOMINAL
    # ...while a window query (a history view, a plot) finds them in order.
    t, y = buf.window(NOW - 3600, NOW - 3000)
    assert t.tolist() == old and y.tolist() == [3.0] * 10
    t, _ = buf.window(NOW - 4000)
    assert bool((np.diff(t) > 0).all()) and t.shape[0] == 20
    assert feed.session.store.sources["ib2-a"].late == 10
    (note,) = kinds(feed.session, "backlog")
    assert "10 sample(s) older than the newest held" in note
    feed.close()
    with ArchiveReader(tmp_path / "session.sqlite") as reader:
        t, _ = reader.channel_window("ib2-a.battery_pct", None, None)
        assert np.asarray(t).tolist() == old + live


def test_an_old_sample_into_an_empty_channel_is_history_not_now(feed: Feed) -> None:
    """Console started during a loss of signal: the hour-old dump comes first."""
    old = [NOW - 3600 + i for i in range(10)]
    feed.send(encode_frame("robot", "ib2-a", 0, old, {"battery_pct": [3.0] * 10}))
    feed.settle()
    buf = feed.session.store.buffer("ib2-a.battery_pct")
    assert buf is not None
    # Archived and in history (a plot or a window query finds it)...
    assert buf.window(NOW - 4000)[0].tolist() == old
    # ...but it never was "now": no arrival to judge staleness from, its age
    # on arrival kept for the readout, and no live alarm from a 3 % battery.
    assert math.isnan(buf.received)
    assert buf.arrival_lag_s == pytest.approx(3591.0)
    alarm = feed.session.alarms.get("ib2-a.battery_pct")
    assert alarm is None or alarm.severity == Severity.NOMINAL
    stats = feed.session.store.sources["ib2-a"]
    assert (stats.arrived_old, stats.late) == (10, 0)
    [said] = kinds(feed.session, "arrived old")
    assert said.startswith("10 sample(s) arrived 60 min behind the receive clock")
    # Live data then is "now" again, and judged.
    feed.send(encode_frame("robot", "ib2-a", 1, [NOW], {"battery_pct": [80.0]}))
    feed.settle()
    assert buf.received == NOW and math.isnan(buf.arrival_lag_s)
    assert buf.latest() == (NOW, 80.0)


def test_a_recording_sent_again_is_shown_in_its_own_time_never_in_the_ledger(
    tmp_path: Path,
) -> None:
    """This morning's session replayed to a console: its data, never crew dose."""
    dictionary = TelemetryDictionary.load()
    recording = tmp_path / "morning.sqlite"
    # Two hours old: within the day a lagging clock may still be crew dose.
    began = time.time() - 7200.0
    record_simulated_session(recording, dictionary, 120.0, start_time=began)
    ledger = tmp_path / "dose_ledger.sqlite"
    session = LiveSession(
        dictionary,
        SessionConfig(
            [listen_endpoint("tcp://127.0.0.1:*")],
            tmp_path / "console.sqlite",
            dose_ledger=ledger,
        ),
        build_derivers(dictionary),
    )
    session.start()
    try:
        [endpoint] = session.subscriber.listening_on
        sent = republish(recording, endpoint, speed=0, connect=True)
        wait_for(lambda: session.subscriber.received >= sent, 30.0, "the recording")
    finally:
        session.stop()
    store = session.store
    assert store.sources["ib2-a"].recorded
    buf = store.buffer("ib2-a.battery_pct")
    assert buf is not None and buf.latest() is not None
    # Shown in the recording's own time: current, not "arrived old".
    assert math.isfinite(buf.received) and math.isnan(buf.arrival_lag_s)
    assert store.sources["ib2-a"].arrived_old == 0
    assert kinds(session, "recording")
    # Not one bin of it in the crew's dose ledger, and the officer is told.
    with sqlite3.connect(ledger) as db:
        assert db.execute("SELECT count(*) FROM ledger_bins").fetchone() == (0,)
    db.close()
    [refused] = [d for d in kinds(session, "dose ledger") if "not written" in d]
    assert "sent a recording (kibo-console replay), not live telemetry" in refused


def test_a_clock_that_steps_back_raises_an_alarm_and_its_violations_are_logged(
    tmp_path: Path,
) -> None:
    """A gateway's clock steps back an hour: new data is history, never unseen."""
    clock = Clock(NOW)
    feed = Feed(tmp_path / "step.sqlite", clock)
    try:
        for k in range(40):
            clock.set(NOW + k)
            # Real time for ten seconds, then the clock steps back an hour
            # while ppCO2 climbs past its WARNING limit (2.7 mmHg).
            t = NOW + k if k < 10 else NOW + k - 3600.0
            ppco2 = 2.0 if k < 10 else 3.0
            feed.send(encode_frame("eclss", "jpm", k, [t], {"ppco2": [ppco2]}))
            feed.settle()
        session = feed.session
        alarm = session.alarms.get("clock:jpm")
        assert alarm is not None and alarm.severity == Severity.WARNING
        assert session.store.sources["jpm"].history_alarm
        # The rise is in history (not the live state), and said in the log.
        live = session.alarms.get("jpm.ppco2")
        assert live is None or live.severity == Severity.NOMINAL
        said = kinds(session, "history limit")[0]
        assert said.startswith("jpm.ppco2 = 3.00 mmHg beyond its WARNING limit")
        # Current samples again: the clock alarm returns to normal.
        clock.set(NOW + 41)
        feed.send(encode_frame("eclss", "jpm", 40, [NOW + 41], {"ppco2": [3.0]}))
        feed.settle()
        alarm = session.alarms.get("clock:jpm")
        assert alarm is None or alarm.severity == Severity.NOMINAL
        assert not session.store.sources["jpm"].history_alarm
    finally:
        feed.close()


def test_late_and_repeated_messages_are_not_restarts_or_losses(feed: Feed) -> None:
    """One message overtaken by the next, one sent twice: nothing was lost."""
    for seq in (0, 1, 3, 2, 4, 4):
        t = NOW + seq
        feed.send(encode_frame("eclss", "jpm", seq, [t], {"temp": [22.0]}))
        feed.settle()
    stats = feed.session.store.sources["jpm"]
    assert (stats.gaps, stats.missed, stats.reordered) == (1, 0, 1)
    assert (stats.duplicates, stats.restarts) == (1, 0)
    assert stats.last_seq == 4
    assert not kinds(feed.session, "publisher restart")
    # A real restart still counts as one.
    feed.send(encode_frame("eclss", "jpm", 0, [NOW + 6], {"temp": [22.0]}))
    feed.settle()
    assert stats.restarts == 1


def test_two_publishers_on_one_source_fold_their_events(feed: Feed) -> None:
    """Hot-standby gateways both sending as jpm: a few folded events, not 200."""
    for i in range(100):
        for seq in (5000 + i, i):
            t = NOW + i + (0.5 if seq < 5000 else 0.0)
            feed.send(encode_frame("eclss", "jpm", seq, [t], {"temp": [22.0]}))
    feed.settle()
    session = feed.session
    assert session.store.sources["jpm"].restarts == 100
    assert len(kinds(session, "gap")) + len(kinds(session, "publisher restart")) <= 4
    # The rest is reported folded once the interval passes, naming the cause.
    feed.clock.set(NOW + 10)
    wait_for(
        lambda: any("more" in d for d in kinds(session, "publisher restart")),
        10.0,
        "the folded restart report",
    )


def test_the_time_bound_cannot_be_walked_forward(tmp_path: Path) -> None:
    """Steps of 290 s, each under the 300 s bound, never get a source ahead."""
    clock = Clock(NOW)
    feed = Feed(tmp_path / "walk.sqlite", clock)
    try:
        t = NOW
        for seq in range(40):
            clock.set(NOW + seq)
            # Real time for ten seconds, then 290 s further at every message.
            t = NOW + seq if seq < 10 else t + 290.0
            feed.send(encode_frame("eclss", "jpm", seq, [t], {"temp": [22.0]}))
            feed.settle()
        stats = feed.session.store.sources["jpm"]
        # Only what stayed within 300 s of the receive clock got in.
        assert stats.last_sample_time - clock() <= 300.0
        assert stats.messages == 11
        assert feed.session.store.rejected_by_reason == {TIME_AHEAD: 29}
        assert "it runs in real time" in kinds(feed.session, "rejected")[-1]
        assert not stats.clock.accelerated
    finally:
        feed.close()


def test_a_clock_faster_than_any_simulator_is_not_followed(
    tiny_dictionary: TelemetryDictionary,
) -> None:
    """A walker running 2,900x from its first message is refused past the bound."""
    pipeline = Pipeline(
        tiny_dictionary, ChannelStore(capacity=100), max_time_ahead_s=300.0
    )
    accepted = 0
    for seq in range(100):
        received = NOW + seq * 0.1
        parts = encode_frame(
            "robot", "ib2-a", seq, [NOW + seq * 290.0], {"pos_x": [1.0]}
        )
        accepted += pipeline.ingest(parts, received) is not None
    assert accepted == 2
    assert pipeline.store.sources["ib2-a"].last_sample_time <= NOW + 300.0


def test_a_console_joining_an_accelerated_simulator_late_follows_it() -> None:
    """``sim --rate-scale 60`` started an hour ago is 59 h ahead: followed anyway."""
    dictionary = TelemetryDictionary.load()
    speed = 60.0
    started = NOW - 3600.0
    sim = Simulator(dictionary, seed=3, rate_scale=speed, start_time=started)
    clock = Clock(NOW)
    session = LiveSession(dictionary, SessionConfig([], None), clock=clock)
    first: float | None = None
    refused = accepted = 0
    join = started + 3600.0 * speed  # its sample time when the console joins
    for frame in sim.frames_until(join + 120.0 * speed):
        newest = float(frame.times.max())
        if newest < join:
            continue
        first = newest if first is None else first
        clock.set(NOW + (newest - first) / speed)
        if session.pipeline.ingest(frame.encode(), clock()) is None:
            refused += 1
            # Only while its clock is being learned.
            assert clock() - NOW <= LEARN_S + 1.0
        else:
            accepted += 1
    session.stop()
    assert accepted > 10 * refused > 0
    jpm = session.store.sources["jpm"]
    assert jpm.clock.accelerated and jpm.clock.rate == pytest.approx(speed, rel=0.03)
    assert jpm.last_sample_time - clock() > 50 * 3600.0
    # Its clock is followed, not trusted without bound: a jump is refused.
    jump = [jpm.last_sample_time + 2000.0]
    parts = encode_frame("eclss", "jpm", jpm.last_seq + 1, jump, {"temp": [22.0]})
    assert session.pipeline.ingest(parts, clock()) is None


# ---------------------------------------------------------------------- values


def test_bad_values_are_refused_with_their_reason(feed: Feed, tmp_path: Path) -> None:
    """Non-codes in enums, mixed columns, negative or NaN rates, derived channels."""
    cases: list[tuple[list[bytes], str, str]] = [
        # nav_status has codes 0..3; 7 is no state.
        (
            encode_frame("robot", "ib2-a", 0, [NOW], {"nav_status": [7]}),
            "bad value",
            "is no state code of ib2-a.nav_status",
        ),
        (
            encode_frame("robot", "ib2-a", 1, [NOW, NOW + 1], {"made_up": ["ON", 0]}),
            "bad value",
            "mixes numbers and strings",
        ),
        (
            encode_frame("rad", "tepc-uslab", 0, [NOW], {"absorbed_rate": [-5.0]}),
            "bad value",
            "outside the valid range [0, inf]",
        ),
        (
            [
                b"rad.tepc-uslab",
                msgspec.msgpack.encode(
                    {
                        "v": 1,
                        "src": "tepc-uslab",
                        "seq": 1,
                        "t": [NOW],
                        "ch": {"dose_eq_rate": [math.nan]},
                    }
                ),
            ],
            "bad value",
            "is not finite",
        ),
        (
            encode_frame("spacewx", "goes", 0, [NOW], {"p10": [-99999.0]}),
            "bad value",
            "outside the valid range",
        ),
        (
            encode_frame("crew", "c1", 0, [NOW], {"dose_career": [0.0]}),
            DERIVED_ON_WIRE,
            "c1.dose_career is computed by this console",
        ),
        (
            encode_frame("eclss", "jpm", 0, [NOW], {"dewpoint": [99.0]}),
            DERIVED_ON_WIRE,
            "jpm.dewpoint is computed by this console",
        ),
        # A boolean is a two-state flag, never 1.00 mmHg or a robot mode.
        (
            encode_frame("eclss", "jpm", 1, [NOW], {"ppco2": [True]}),
            "bad value",
            "ppco2[0] = true: a boolean, and the channel is numeric",
        ),
        (
            encode_frame("robot", "ib2-a", 4, [NOW], {"mode": [True]}),
            "bad value",
            "a boolean, and the channel is an enum of more than two states",
        ),
    ]
    for parts, _, _ in cases:
        feed.send(parts)
    # An undeclared channel keeps the kind it started with.
    feed.send(encode_frame("robot", "ib2-a", 2, [NOW], {"note": ["A"]}))
    feed.send(encode_frame("robot", "ib2-a", 3, [NOW + 1], {"note": [0]}))
    # Good data from the same sources still flows.
    feed.send(encode_frame("rad", "tepc-uslab", 2, [NOW], {"absorbed_rate": [13.3]}))
    feed.send(encode_frame("robot", "ib2-a", 5, [NOW + 2], {"wifi": [True]}))
    feed.settle()
    store = feed.session.store
    assert store.rejected_by_reason == {"bad value": 8, DERIVED_ON_WIRE: 2}
    wifi = store.buffer("ib2-a.wifi")  # a flag: true is its state UP (1)
    assert wifi is not None and wifi.snapshot()[1].tolist() == [1.0]
    assert store.buffer("c1.dose_career") is None
    buf = store.buffer("tepc-uslab.absorbed_rate")
    assert buf is not None and buf.snapshot()[1].tolist() == [13.3]
    feed.close()
    with ArchiveReader(tmp_path / "session.sqlite") as reader:
        # Each kept raw, with its reason and a detail saying what was wrong.
        rejected = [(r.reason, r.detail) for r in reader.rejected()]
    assert len(rejected) == 10
    for _, reason, text in cases:
        assert any(r == reason and text in d for r, d in rejected), (text, rejected)
    assert any("carried strings, now numbers" in d for _, d in rejected)


# ---------------------------------------------------------------------- limits


def co2(seq: int, times: list[float], value: float) -> list[bytes]:
    return encode_frame("eclss", "jpm", seq, times, {"ppco2": [value] * len(times)})


def test_an_excursion_inside_one_batch_is_never_unseen(feed: Feed) -> None:
    """Raised and cleared within one 15-row message: the log says so."""
    values = [2.0] * 5 + [3.0] * 7 + [2.0] * 3  # WARNING 2.7, persistence 5
    times = [NOW + i for i in range(15)]
    feed.send(encode_frame("eclss", "jpm", 0, times, {"ppco2": values}))
    feed.settle()
    assert feed.session.alarms.get("jpm.ppco2") is None  # no longer active
    [said] = kinds(feed.session, "returned unacknowledged")
    assert said.startswith("jpm.ppco2 was WARNING from ")
    assert "(trip value 3.00 mmHg); it returned before anyone acknowledged" in said


def test_a_24_hour_limit_is_judged_on_the_24_hour_mean(
    tiny_dictionary: TelemetryDictionary,
) -> None:
    """The ppCO2 ops limit (24-h avg, 4.0 mmHg): a spike is no CRITICAL, a day is."""
    dictionary = TelemetryDictionary.load()
    pipeline = Pipeline(dictionary, ChannelStore())
    raised: list[Any] = []
    seq = 0

    def feed(start: float, hours: float, value: float) -> None:
        nonlocal seq
        for minute in range(int(hours * 60)):
            times = [start + minute * 60.0 + i * 10.0 for i in range(6)]
            assert pipeline.ingest(co2(seq, times, value), times[-1]) is not None
            seq += 1
            alarm = pipeline.alarms.get("jpm.ppco2")
            raised.append(alarm.severity if alarm else Severity.NOMINAL)

    feed(NOW, 20.0, 2.0)
    feed(NOW + 20 * 3600, 1.0, 5.0)  # an hour at 5 mmHg: the mean stays near 2.1
    assert max(raised) == Severity.WARNING  # the per-sample levels, not CRITICAL
    alarm = pipeline.alarms.get("jpm.ppco2")
    assert alarm is not None
    feed(NOW + 21 * 3600, 17.0, 5.0)  # 18 h at 5 in the last 24: mean 4.25
    alarm = pipeline.alarms.get("jpm.ppco2")
    assert alarm is not None and alarm.severity == Severity.CRITICAL
    evaluator = pipeline._evaluators["jpm.ppco2"]
    assert evaluator is not None and evaluator.mean >= 4.0


def test_a_restarted_publisher_has_its_clock_learned_again(
    tiny_dictionary: TelemetryDictionary,
) -> None:
    """A trainer restarts the simulator at --rate-scale 60 on a running console."""
    pipeline = Pipeline(
        tiny_dictionary, ChannelStore(capacity=1000), max_time_ahead_s=300.0
    )
    for seq in range(10):  # real time first
        parts = encode_frame("robot", "ib2-a", 100 + seq, [NOW + seq], {"pos_x": [1.0]})
        assert pipeline.ingest(parts, NOW + seq)
    assert not pipeline.store.sources["ib2-a"].clock.accelerated
    start = NOW + 20.0
    accepted = 0
    for seq in range(60):  # restarted (seq from 0), 60x, paced by sample time
        t = start + seq * 6.0
        parts = encode_frame("robot", "ib2-a", seq, [t], {"pos_x": [1.0]})
        accepted += pipeline.ingest(parts, start + seq * 0.1) is not None
    assert accepted == 60
    assert pipeline.store.sources["ib2-a"].clock.accelerated
