"""Live sessions refuse sample times far ahead of their receive clock.

One message dated a day (or decades) ahead made the dose engine integrate up
to that time and then drop every real sample as late until the clock caught
up. Replays feed recorded times with recorded receive times and keep no bound.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from telemetry.archive.reader import ArchiveReader
from telemetry.core.channels import ChannelStore
from telemetry.core.console_clock import CONSOLE_CLOCK_ALARM
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.pipeline import (
    MAX_TIME_AHEAD_S,
    TIME_AHEAD,
    TIME_BEFORE_2000,
    Pipeline,
)
from telemetry.core.severity import Severity
from telemetry.core.wire import encode_frame
from telemetry.live.session import LiveSession, SessionConfig, build_derivers
from telemetry.sim.simulator import Simulator

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from telemetry.core.deriver import Deriver

NOW = 1.75e9
DAY = 86400.0


class Clock:
    """The session clock, set by the test (what the subscriber stamps)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def live(
    dictionary: TelemetryDictionary,
    clock: Clock,
    archive: Path | None = None,
    derivers: Sequence[Deriver] = (),
    **config: Any,
) -> LiveSession:
    """A live session whose messages the test hands over as the subscriber would."""
    return LiveSession(
        dictionary, SessionConfig([], archive, **config), derivers, clock=clock
    )


def receive(session: LiveSession, parts: list[bytes]) -> bool:
    """Deliver one message stamped with the session clock; True if accepted."""
    return session.pipeline.ingest(parts, session.clock()) is not None


def test_a_message_from_far_ahead_is_refused_counted_and_archived_raw(
    tiny_dictionary: TelemetryDictionary, tmp_path: Path
) -> None:
    clock = Clock(NOW)
    path = tmp_path / "live.sqlite"
    session = live(tiny_dictionary, clock, path)
    assert session.archive is not None
    session.archive.start()
    try:
        future = encode_frame(
            "robot", "ib2-a", 1, [NOW, NOW + DAY], {"battery_pct": [1.0, 1.0]}
        )
        assert not receive(session, future)
        clock.now += 1.0
        assert receive(
            session, encode_frame("robot", "ib2-a", 1, [NOW], {"pos_x": [2.0]})
        )
    finally:
        session.stop()
    store = session.store
    assert store.rejected_by_reason == {TIME_AHEAD: 1}
    assert store.sources["ib2-a"].rejected == 1
    assert store.sources["ib2-a"].messages == 1
    # Nothing of it reached the rings or the limits (1 % battery is critical).
    assert store.buffer("ib2-a.battery_pct") is None
    assert session.alarms.get("ib2-a.battery_pct") is None
    (event,) = [e for e in store.events_since(0) if e.kind == "rejected"]
    assert event.detail.startswith("time ahead: t[1] = ")
    assert "86,400 s ahead of the receive clock (at most 300 s;" in event.detail
    with ArchiveReader(path) as reader:
        (rejected,) = reader.rejected()
        assert reader.info()["frames"] == 1
    assert (rejected.reason, rejected.source) == (TIME_AHEAD, "ib2-a")
    assert rejected.detail == event.detail.removeprefix("time ahead: ")
    assert rejected.received == NOW
    assert rejected.length == len(future[1])


def test_the_dose_engine_goes_on_as_if_the_message_never_came() -> None:
    dictionary = TelemetryDictionary.load()
    runs = []
    for inject in (False, True):
        sim = Simulator(dictionary, seed=5, start_time=NOW)
        derivers = build_derivers(dictionary)
        clock = Clock(NOW)
        session = live(dictionary, clock, derivers=derivers)
        injected = False
        for frame in sim.frames_until(NOW + 240.0):
            clock.now = float(frame.times.max()) + 0.05  # as it arrives live
            if inject and not injected and clock.now > NOW + 120.0:
                stats = session.store.sources["padles-jpm-1"]
                t = [clock.now + 2 * DAY]  # a dosimeter clock two days fast
                bad = encode_frame(
                    "rad",
                    "padles-jpm-1",
                    stats.last_seq + 1,
                    t,
                    {"dose_eq_rate": [25.0]},
                )
                assert not receive(session, bad)
                injected = True
            assert receive(session, frame.encode())
        session.stop()
        estimator: Any = derivers[0]
        runs.append((session.store, estimator.snapshot()))
    (clean_store, clean), (store, snap) = runs
    assert store.rejected_by_reason == {TIME_AHEAD: 1}
    assert clean_store.rejected_total == 0
    assert snap.late_samples == 0
    assert snap.time == clean.time > NOW + 200.0
    assert [c.session_msv for c in snap.crew] == [c.session_msv for c in clean.crew]
    assert all(c.session_msv > 0 for c in snap.crew)
    assert store.sources["padles-jpm-1"].gaps == 0  # its real seq carried on


def test_a_simulator_running_faster_than_the_wall_clock_is_followed() -> None:
    """``sim --rate-scale 60``: after 10 min its samples are 10 h ahead, and fine."""
    dictionary = TelemetryDictionary.load()
    speed = 60.0
    sim = Simulator(dictionary, seed=2, rate_scale=speed, start_time=NOW)
    clock = Clock(NOW)
    session = live(dictionary, clock)
    first: float | None = None
    frames = 0
    for frame in sim.frames_until(NOW + 600.0 * speed):
        last = float(frame.times.max())
        first = last if first is None else first
        # The publisher paces by sample time: message i goes out at
        # (t_i - t_0) / speed after the first one.
        clock.now = NOW + (last - first) / speed
        assert receive(session, frame.encode()), frame.topic
        frames += 1
    session.stop()
    assert frames > 1000
    assert session.store.rejected_total == 0
    newest = max(s.last_sample_time for s in session.store.sources.values())
    assert newest - clock.now > 9 * 3600
    # Its clock is followed, not trusted without bound: a jump is still refused.
    stats = session.store.sources["jpm"]
    jump = [stats.last_sample_time + MAX_TIME_AHEAD_S + 120.0]
    parts = encode_frame("eclss", "jpm", stats.last_seq + 1, jump, {"temp": [22.0]})
    assert not receive(session, parts)


def test_recorded_times_from_the_past_are_accepted_live(
    tiny_dictionary: TelemetryDictionary,
) -> None:
    """``kibo-console replay --bind`` republishes old sessions to live consoles."""
    session = live(tiny_dictionary, Clock(NOW))
    then = 1_505_001_600.0  # 2017-09-10
    parts = encode_frame("robot", "ib2-a", 7, [then, then + 1.0], {"pos_x": [1.0, 2.0]})
    assert receive(session, parts)
    session.stop()


def test_the_bound_is_configurable_and_off_outside_live_sessions(
    tiny_dictionary: TelemetryDictionary,
) -> None:
    ahead = encode_frame("robot", "ib2-a", 1, [NOW + 600.0], {"pos_x": [1.0]})
    default = live(tiny_dictionary, Clock(NOW))
    assert default.pipeline.max_time_ahead_s == MAX_TIME_AHEAD_S == 300.0
    assert not receive(default, ahead)
    wider = live(tiny_dictionary, Clock(NOW), max_time_ahead_s=900.0)
    assert receive(wider, ahead)
    off = live(tiny_dictionary, Clock(NOW), max_time_ahead_s=None)
    assert receive(
        off, encode_frame("robot", "ib2-a", 1, [NOW + DAY], {"pos_x": [1.0]})
    )
    for session in (default, wider, off):
        session.stop()
    # Replays, reports and training runs build a Pipeline without a bound:
    # what was decoded live decodes the same when replayed.
    replay = Pipeline(tiny_dictionary, ChannelStore(100))
    assert replay.max_time_ahead_s is None
    assert replay.ingest(ahead, NOW) is not None


@pytest.mark.parametrize("bound", [-1.0, float("nan")])
def test_a_meaningless_bound_is_refused(
    tiny_dictionary: TelemetryDictionary, bound: float
) -> None:
    with pytest.raises(ValueError, match="max_time_ahead_s"):
        Pipeline(tiny_dictionary, ChannelStore(100), max_time_ahead_s=bound)


def test_rows_out_of_order_are_judged_by_their_newest(
    tiny_dictionary: TelemetryDictionary,
) -> None:
    session = live(tiny_dictionary, Clock(NOW))
    rows = np.array([NOW + 2 * DAY, NOW - 1.0, NOW])
    parts = encode_frame("robot", "ib2-a", 1, rows, {"pos_x": [1.0, 2.0, 3.0]})
    assert not receive(session, parts)
    session.stop()
    (event,) = [e for e in session.store.events_since(0) if e.kind == "rejected"]
    assert "t[0] = " in event.detail


def test_a_live_session_refuses_a_clock_that_was_never_set(
    tiny_dictionary: TelemetryDictionary,
) -> None:
    """A sample stamped 1970 (an unset clock) would stretch the session, its
    reports and its replay over decades: refused, counted, the rest kept."""
    clock = Clock(NOW)
    session = live(tiny_dictionary, clock)
    unset = encode_frame("robot", "ib2-a", 1, [0.0, NOW], {"battery_pct": [9.0, 9.0]})
    assert not receive(session, unset)
    assert session.store.rejected_by_reason == {TIME_BEFORE_2000: 1}
    assert receive(
        session, encode_frame("robot", "ib2-a", 2, [NOW], {"battery_pct": [50.0]})
    )
    buf = session.store.buffer("ib2-a.battery_pct")
    assert buf is not None and buf.latest() == (NOW, 50.0)


def console_clock_events(session: LiveSession) -> list[str]:
    return [
        e.detail for e in session.store.events_since(0) if e.kind == "console clock"
    ]


def test_a_console_clock_ten_minutes_slow_is_named_once_not_blamed_on_publishers() -> (
    None
):
    """C2: every publisher "ahead" by the same 600 s is the console's clock."""
    dictionary = TelemetryDictionary.load()
    sim = Simulator(dictionary, seed=3, start_time=NOW, batch_s=1)
    clock = Clock(NOW)
    session = live(dictionary, clock)
    step = 0.0
    for frame in sim.frames_until(NOW + 400):
        t = float(frame.times[-1])
        if t > NOW + 120:
            step = -600.0  # the console's clock steps back (NTP, VM resume)
        if t > NOW + 300:
            step = 0.0  # and is put right
        clock.now = t + 0.1 + step
        receive(session, frame.encode())
        session.pipeline.tick(clock.now)
        if NOW + 100 < t < NOW + 101:
            assert session.alarms.get(CONSOLE_CLOCK_ALARM) is None
        if NOW + 299 < t < NOW + 300:
            alarm = session.alarms.get(CONSOLE_CLOCK_ALARM)
            assert alarm is not None and alarm.severity == Severity.CRITICAL
    (raised, cleared) = console_clock_events(session)
    assert "the console's clock is probably 600 s slow" in raised
    assert "sources are refused as 600 s ahead of this console's clock" in raised
    assert cleared == "sources' sample times agree with this console's clock again"
    alarm = session.alarms.get(CONSOLE_CLOCK_ALARM)
    assert alarm is not None and alarm.severity == Severity.NOMINAL  # latched
    session.stop()


def test_one_publisher_with_a_clock_ahead_is_not_the_consoles_clock() -> None:
    dictionary = TelemetryDictionary.load()
    sim = Simulator(dictionary, seed=3, start_time=NOW, batch_s=1)
    clock = Clock(NOW)
    session = live(dictionary, clock)
    for frame in sim.frames_until(NOW + 200):
        t = float(frame.times[-1])
        clock.now = t + 0.1
        parts = frame.encode()
        if frame.source == "jpm" and t > NOW + 60:
            times = [float(x) + 600.0 for x in frame.times]
            columns = {k: list(map(float, v)) for k, v in frame.columns.items()}
            parts = encode_frame("eclss", "jpm", frame.seq, times, columns)
        receive(session, parts)
        session.pipeline.tick(clock.now)
    assert session.store.rejected_by_reason[TIME_AHEAD] > 100
    assert console_clock_events(session) == []
    assert session.alarms.get(CONSOLE_CLOCK_ALARM) is None
    session.stop()


def test_joining_an_accelerated_simulator_late_does_not_blame_the_consoles_clock() -> (
    None
):
    """Its first seconds are refused while its rate is learned: no clock alarm."""
    dictionary = TelemetryDictionary.load()
    speed = 60.0
    started = NOW - 3600.0
    sim = Simulator(dictionary, seed=3, rate_scale=speed, start_time=started)
    clock = Clock(NOW)
    session = live(dictionary, clock)
    join = started + 3600.0 * speed  # 59 h ahead of the console when it joins
    first: float | None = None
    for frame in sim.frames_until(join + 120.0 * speed):
        newest = float(frame.times.max())
        if newest < join:
            continue
        first = newest if first is None else first
        clock.now = NOW + (newest - first) / speed
        receive(session, frame.encode())
        session.pipeline.tick(clock.now)
    assert session.store.rejected_by_reason[TIME_AHEAD] > 0  # while learning
    assert console_clock_events(session) == []
    session.stop()
