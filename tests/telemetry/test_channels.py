import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telemetry.core.channels import (
    MAX_LEARNED_INTERVAL_S,
    ChannelBuffer,
    ChannelStore,
    SourceStats,
)


def test_empty_buffer() -> None:
    buf = ChannelBuffer(4)
    assert buf.latest() is None
    t, y = buf.snapshot()
    assert t.size == 0 and y.size == 0


def test_wraps_and_keeps_newest_in_order() -> None:
    buf = ChannelBuffer(5)
    for start in range(0, 12, 3):
        t = np.arange(start, start + 3, dtype=float)
        buf.append(t, t * 10)
    t, y = buf.snapshot()
    assert t.tolist() == [7.0, 8.0, 9.0, 10.0, 11.0]
    assert y.tolist() == [70.0, 80.0, 90.0, 100.0, 110.0]
    assert buf.latest() == (11.0, 110.0)
    assert buf.total == 12
    assert len(buf) == 5


def test_block_larger_than_capacity_keeps_tail() -> None:
    buf = ChannelBuffer(3)
    t = np.arange(10, dtype=float)
    buf.append(t, t)
    assert buf.snapshot()[0].tolist() == [7.0, 8.0, 9.0]
    assert buf.total == 10


def test_window_is_half_open() -> None:
    buf = ChannelBuffer(10)
    t = np.arange(8, dtype=float)
    buf.append(t, t)
    wt, wy = buf.window(2.0, 5.0)
    assert wt.tolist() == [2.0, 3.0, 4.0]
    assert buf.window(6.5)[0].tolist() == [7.0]


def test_window_copies_are_independent_of_later_writes() -> None:
    buf = ChannelBuffer(3)
    buf.append(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    t, _ = buf.snapshot()
    buf.append(np.array([3.0, 4.0, 5.0]), np.array([3.0, 4.0, 5.0]))
    assert t.tolist() == [1.0, 2.0]


def test_version_counts_appends() -> None:
    buf = ChannelBuffer(3)
    v0 = buf.version
    buf.append(np.array([1.0]), np.array([1.0]))
    buf.append(np.array([]), np.array([]))
    assert buf.version == v0 + 1


def test_invalid_capacity() -> None:
    with pytest.raises(ValueError, match="capacity"):
        ChannelBuffer(0)


def test_store_events_since() -> None:
    store = ChannelStore(capacity=4, max_events=3)
    for i in range(5):
        store.add_event(float(i), "s", "gap", str(i))
    events = store.events_since(0)
    assert [e.detail for e in events] == ["2", "3", "4"]
    assert [e.detail for e in store.events_since(events[1].seq)] == ["4"]


def test_since_returns_only_new_samples_and_the_count_to_resume_from() -> None:
    buf = ChannelBuffer(5)
    buf.append(np.array([1.0, 2.0]), np.array([10.0, 20.0]))
    first = buf.since(0)
    assert first.t.tolist() == [1.0, 2.0] and first.y.tolist() == [10.0, 20.0]
    assert (first.total, first.reset) == (2, False)
    buf.append(np.array([3.0, 4.0, 5.0, 6.0]), np.array([30.0, 40.0, 50.0, 60.0]))
    tail = buf.since(first.total)  # wrapped: 1.0 was overwritten, 3..6 were not
    assert tail.t.tolist() == [3.0, 4.0, 5.0, 6.0]
    assert tail.y.tolist() == [30.0, 40.0, 50.0, 60.0]
    assert (tail.total, tail.reset) == (6, False)
    nothing = buf.since(tail.total)
    assert nothing.t.size == 0 and not nothing.reset


def test_since_resets_a_reader_that_fell_behind_or_is_not_from_this_buffer() -> None:
    buf = ChannelBuffer(3)
    buf.append(np.arange(2.0), np.arange(2.0))
    mark = buf.since(0).total
    buf.append(np.arange(2.0, 7.0), np.arange(2.0, 7.0))  # 2.0 was lost unread
    behind = buf.since(mark)
    assert behind.reset and behind.t.tolist() == [4.0, 5.0, 6.0]
    ahead = buf.since(100)  # a count from another (e.g. cleared) buffer
    assert ahead.reset and ahead.t.tolist() == [4.0, 5.0, 6.0] and ahead.total == 7


def test_since_copies_are_independent_of_later_writes() -> None:
    buf = ChannelBuffer(2)
    buf.append(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    tail = buf.since(0)
    buf.append(np.array([3.0, 4.0]), np.array([3.0, 4.0]))
    assert tail.t.tolist() == [1.0, 2.0] and tail.y.tolist() == [1.0, 2.0]


def test_ring_grows_to_capacity_without_losing_samples() -> None:
    buf = ChannelBuffer(5000)
    for start in range(0, 12_000, 700):
        t = np.arange(start, start + 700, dtype=float)
        buf.append(t, -t)
    t, y = buf.snapshot()
    assert t.tolist() == list(np.arange(12_600 - 5000, 12_600, dtype=float))
    np.testing.assert_array_equal(y, -t)
    assert buf.latest() == (12_599.0, -12_599.0)
    tail = buf.since(buf.total - 3)
    assert tail.t.tolist() == [12_597.0, 12_598.0, 12_599.0]


def test_an_unused_channel_costs_little_memory() -> None:
    buf = ChannelBuffer(100_000)
    buf.append(np.array([1.0]), np.array([2.0]))
    assert buf._t.nbytes + buf._y.nbytes < 100_000  # not the 1.6 MB of a full ring


def test_a_full_ring_stores_each_sample_once() -> None:
    buf = ChannelBuffer(100_000)
    t = np.arange(250_000, dtype=float)
    buf.append(t, t)
    assert buf._t.nbytes + buf._y.nbytes == 100_000 * 2 * 8  # 1.6 MB, not 3.2


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 40),
    blocks=st.lists(st.integers(0, 60), max_size=25),
    reader_lag=st.integers(-1, 50),
    edges=st.tuples(st.floats(-5, 700), st.floats(-5, 700)),
)
def test_every_read_matches_a_plain_list_across_wraps_and_growth(
    capacity: int,
    blocks: list[int],
    reader_lag: int,
    edges: tuple[float, float],
) -> None:
    """Whatever the append sizes, reads equal the newest samples of a list."""
    buf = ChannelBuffer(capacity)
    sent: list[float] = []
    for n in blocks:
        t = np.arange(len(sent), len(sent) + n, dtype=float)
        buf.append(t, t * 10)
        sent.extend(t.tolist())
    kept = sent[-capacity:] if sent else []
    t, y = buf.snapshot()
    assert t.tolist() == kept
    assert y.tolist() == [v * 10 for v in kept]
    assert buf.latest() == ((kept[-1], kept[-1] * 10) if kept else None)
    tail = buf.since(len(sent) - reader_lag)
    if 0 <= reader_lag <= len(kept):
        assert not tail.reset
        assert tail.t.tolist() == kept[len(kept) - reader_lag :]
    else:
        assert tail.reset
        assert tail.t.tolist() == kept
    lo, hi = edges
    wt, wy = buf.window(lo, hi)
    assert wt.tolist() == [v for v in kept if lo <= v < hi]
    assert wy.tolist() == [v * 10 for v in kept if lo <= v < hi]


def test_restore_holds_exactly_the_given_samples_and_count() -> None:
    buf = ChannelBuffer(8)
    buf.append(np.arange(13.0), np.arange(13.0))
    reader = buf.since(0)
    buf.restore(np.array([3.0, 4.0]), np.array([30.0, 40.0]), total=5, received=9.0)
    assert buf.snapshot()[0].tolist() == [3.0, 4.0]
    assert buf.total == 5
    assert buf.received == 9.0
    assert buf.since(reader.total).reset  # the reader's 13 samples are gone
    buf.append(np.array([5.0]), np.array([50.0]))
    assert buf.since(5).t.tolist() == [5.0]


# ------------------------------------------------------ learned cadence


def first_message(stats: SourceStats, times: list[float], received: float) -> None:
    stats.learn_interval(received, np.array(times))
    stats.last_received = received


def test_a_batch_teaches_its_cadence_from_its_row_spacing() -> None:
    stats = SourceStats("robot")
    first_message(stats, [float(t) for t in range(10)], 10.0)  # 10 rows at 1 Hz
    assert stats.interval_s == 10.0
    # Then arrivals every 12 s pull it up smoothly; an outage does not.
    for k in range(1, 4):
        stats.learn_interval(10.0 + 12 * k, np.arange(10.0))
        stats.last_received = 10.0 + 12 * k
    assert 10.0 < stats.interval_s < 12.0
    learned = stats.interval_s
    stats.learn_interval(stats.last_received + 3600.0, np.arange(10.0))
    assert stats.interval_s == learned


def test_one_stray_row_does_not_stretch_the_cadence() -> None:
    stats = SourceStats("robot")
    rows = [1.7e9 - 86400.0 * 365, *(1.7e9 + np.arange(10.0))]  # out of order, too
    first_message(stats, [rows[3], *rows[:3], *rows[4:]], 1.7e9 + 10)
    assert stats.interval_s == 11.0  # 1 s spacing x 11 rows


def test_the_learned_cadence_never_exceeds_the_ceiling() -> None:
    years = SourceStats("robot")
    first_message(years, [0.0, 3 * 365 * 86400.0], 1.7e9)
    assert years.interval_s == MAX_LEARNED_INTERVAL_S
    slow = SourceStats("eclss")
    first_message(slow, [0.0], 1000.0)
    slow.learn_interval(1000.0 + 7200.0, np.array([1.0]))
    assert slow.interval_s == MAX_LEARNED_INTERVAL_S
    custom = SourceStats("eclss")
    first_message(custom, [0.0, 50.0], 1000.0)
    assert custom.interval_s == 60.0
    custom.learn_interval(1045.0, np.array([1.0]), ceiling=30.0)
    assert custom.interval_s == 30.0


def test_rows_at_one_time_teach_nothing() -> None:
    stats = SourceStats("robot")
    first_message(stats, [5.0, 5.0, 5.0], 10.0)
    assert stats.interval_s != stats.interval_s  # NaN: still unknown


def test_store_restore_swaps_contents_and_views_see_the_events_as_new() -> None:
    store = ChannelStore(capacity=8)
    store.append("a.x", np.array([1.0]), np.array([2.0]))
    store.add_event(1.0, "a", "gap", "first")
    seen = store.add_event(2.0, "a", "gap", "second").seq
    saved = store.events()
    buf = ChannelBuffer(8)
    buf.append(np.array([5.0]), np.array([6.0]))
    store.restore({"b.y": buf}, {}, {"bad topic": 1}, 1, {"b.z"}, saved[:1])
    assert store.keys() == ["b.y"]
    assert (store.rejected_total, store.undeclared) == (1, {"b.z"})
    again = store.events_since(seen)  # a view that had read both
    assert [e.detail for e in again] == ["first"]
    assert again[0].seq > seen


def test_ten_minutes_of_rows_every_ten_minutes_is_learned_at_the_first_gap() -> None:
    """K1: the rows said 600 s (above the 60 s one-look ceiling); the gap agrees."""
    stats = SourceStats("eclss")
    first_message(stats, [float(t) for t in range(600)], 1000.0)
    assert stats.interval_s == MAX_LEARNED_INTERVAL_S
    stats.learn_interval(1600.0, np.arange(600.0))
    assert stats.interval_s == 600.0
    # Years of rows are still no cadence: the first gap does not agree.
    years = SourceStats("robot")
    first_message(years, [0.0, 3 * 365 * 86400.0], 1.7e9)
    years.learn_interval(1.7e9 + 600.0, np.array([1.0]))
    assert years.interval_s == MAX_LEARNED_INTERVAL_S
