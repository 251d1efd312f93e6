"""Per-channel ring buffers and the store that holds them.

The telemetry-pipeline thread is the only writer of samples; the GUI thread
reads copies at its refresh rate. Each buffer has its own lock and a version
counter so a reader can skip channels that did not change.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections import deque
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np

from telemetry.core.source_clock import SourceClock

DEFAULT_CAPACITY = 100_000
#: Longest message cadence a source's link watchdog learns from one
#: observation (seconds). One message whose rows spanned years used to teach a
#: years-long cadence, and the link was then never flagged stale; 60 s covers
#: any batching publisher.
MAX_LEARNED_INTERVAL_S = 60.0
#: Longest cadence learned from arrival gaps seen twice in a row (seconds): a
#: publisher that sends one message every 5 or 10 minutes (a relay of a
#: 5-minute product, a housekeeping digest) is judged by its own cadence
#: after its second long gap, instead of going stale after every message.
#: One long silence alone stays an outage.
MAX_CONFIRMED_INTERVAL_S = 1800.0
#: Arrivals closer than this belong to one burst (a gateway flushing its
#: buffer as many messages at once): the gap between bursts is the cadence,
#: not the microseconds inside one. No gap this short matters to the
#: watchdog anyway: the shortest stale time a family declares is 5 s.
BURST_GAP_S = 1.0
# Row spacings of a source's first burst kept to guess its cadence before
# any gap (a median of this many costs microseconds per message).
_FIRST_BURST_STEPS = 64
#: Skipped sequence numbers a source remembers, so that a message arriving
#: out of order (after a later one) is told from a publisher restart.
MAX_RECENT_MISSED = 256
# Rings start this small and double up to their capacity: a full-size ring
# is 1.6 MB, and a publisher inventing channels (bounded at 2,000) must not
# cost gigabytes before those channels hold any data.
INITIAL_ALLOCATION = 1024


class Tail(NamedTuple):
    """What `ChannelBuffer.since` returns; immutable, usable from any thread.

    ``t``/``y`` are copies, oldest first; ``total`` is the count to pass to the
    next call; ``reset`` is True when the samples do not continue the reader's
    previous ones and replace them (see `ChannelBuffer.since`).
    """

    t: np.ndarray
    y: np.ndarray
    total: int
    reset: bool


class ChannelBuffer:
    """A numpy ring of (time, value); written by the telemetry-pipeline thread.

    Each sample is stored once: a full ring of ``capacity`` samples is 1.6 MB.
    (A mirrored ring, every sample written twice so the newest ones are always
    one slice, cost twice that; with a hundred busy channels it was most of
    the console's memory, while readers copy only a few new samples per
    refresh and a wrapped read costs one small concatenate.) The ring grows by
    doubling up to ``capacity`` before anything is overwritten. Readers on any
    thread get copies, taken under the buffer's lock.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._size = min(capacity, INITIAL_ALLOCATION)
        self._t = np.full(self._size, np.nan)
        self._y = np.full(self._size, np.nan)
        self._head = 0  # next write position in [0, size)
        self._count = 0
        self._lock = threading.Lock()
        self.version = 0
        self.total = 0
        # Session-clock time of the last append of a current sample:
        # staleness is judged on arrival, so a publisher whose clock runs
        # fast still goes stale. NaN while nothing current arrived.
        self.received = float("nan")
        # How old the newest sample was when it arrived, if it arrived too old
        # to be "now" (NaN when it arrived current): the readout's "arrived
        # 1 h 02 min old" note.
        self.arrival_lag_s = math.nan
        # Readers holding a ``total`` below this must re-read everything: a
        # merge of older samples changed what lies before it (see ``since``).
        self._reset_total = 0

    def __len__(self) -> int:
        return self._count

    def append(
        self,
        t: np.ndarray,
        y: np.ndarray,
        received: float = float("nan"),
        arrived_old_by: float | None = None,
    ) -> int:
        """Add samples given in time order (only the newest ``capacity`` are kept).

        Samples older than the newest one held (a backlog sent after live
        data) are merged into their place in time, so the ring stays in time
        order (``window`` finds them) and ``latest`` stays the newest sample;
        ``received`` then only moves if something newer came with them.

        ``arrived_old_by`` (seconds) says the samples arrived that far behind
        their source's clock, too old to be "now" (a backlog into a channel
        that holds nothing newer; a publisher whose clock lags): they are kept
        as history, but ``received`` does not move for them, and
        ``arrival_lag_s`` keeps how old they were for the readout.

        Returns how many of the first samples are history, not "now" (all of
        them when they arrived old, else those no newer than the newest
        already held): the caller judges live limits on the others only.
        """
        n = int(t.shape[0])
        if n == 0:
            return 0
        with self._lock:
            newest = self._newest_locked()
            if newest == newest and float(t[0]) <= newest:
                old = int(np.searchsorted(t, newest, side="right"))
                if float(t[0]) < newest:
                    self._merge(t, y)
                    if old < n:  # the newest sample held is one of these
                        self._arrived(received, arrived_old_by)
                    return n if arrived_old_by is not None else old
            else:
                old = 0
        self._arrived(received, arrived_old_by)
        cap = self.capacity
        if n > cap:
            t, y = t[-cap:], y[-cap:]
            skipped = n - cap
        else:
            skipped = 0
        m = int(t.shape[0])
        with self._lock:
            if self._size < cap and self._count + m > self._size:
                self._grow(self._count + m)
            size = self._size
            start = self._head
            first = min(m, size - start)
            self._t[start : start + first] = t[:first]
            self._y[start : start + first] = y[:first]
            if first < m:  # wrap: m <= size, so this never reaches ``start``
                self._t[: m - first] = t[first:]
                self._y[: m - first] = y[first:]
            self._head = (start + m) % size
            self._count = min(size, self._count + m)
            self.total += m + skipped
            self.version += 1
        return n if arrived_old_by is not None else old

    def _arrived(self, received: float, arrived_old_by: float | None) -> None:
        """Note the arrival of a new newest sample, current or arrived old."""
        if arrived_old_by is None:
            self.received = received
            self.arrival_lag_s = math.nan
        else:
            self.arrival_lag_s = arrived_old_by

    def _newest_locked(self) -> float:
        if self._count == 0:
            return float("nan")
        return float(self._t[(self._head - 1) % self._size])

    def _merge(self, t: np.ndarray, y: np.ndarray) -> None:
        """Merge samples older than the newest held into time order (lock held).

        One copy of the ring (both parts are in time order: an insert, not a
        sort); a backlog is rare, and each of its messages merges once.
        """
        held_t, held_y = self._take(0, self._count)
        # side="right": a sample at a time already held goes after it.
        at = np.searchsorted(held_t, t, side="right")
        all_t = np.insert(held_t, at, t)[-self.capacity :]
        all_y = np.insert(held_y, at, y)[-self.capacity :]
        m = int(all_t.shape[0])
        size = self._size
        if m > size:
            size = min(self.capacity, max(2 * size, m))
        self._t = np.full(size, np.nan)
        self._y = np.full(size, np.nan)
        self._t[:m] = all_t
        self._y[:m] = all_y
        self._size = size
        self._head = m % size
        self._count = m
        self.total += int(t.shape[0])
        self._reset_total = self.total
        self.version += 1

    def newest_time(self) -> float:
        """Return the newest sample time held (NaN when empty)."""
        with self._lock:
            return self._newest_locked()

    def restore(
        self,
        t: np.ndarray,
        y: np.ndarray,
        total: int,
        received: float,
        arrival_lag_s: float = math.nan,
    ) -> None:
        """Hold exactly ``t, y`` as if ``total`` samples had been appended.

        A replay seek rebuilds buffers from a checkpoint; readers see the new
        ``total`` and ``version`` and re-read (``since`` marks it a reset).
        """
        with self._lock:
            self._head = 0
            self._count = 0
        self.append(t, y, received)
        with self._lock:
            self.total = total
            self._reset_total = total
            self.received = received
            self.arrival_lag_s = arrival_lag_s
            self.version += 1

    def _grow(self, needed: int) -> None:
        """Re-lay the ring, oldest first, at a larger size (caller holds the lock)."""
        t, y = self._take(0, self._count)
        size = min(self.capacity, max(2 * self._size, needed))
        self._t = np.full(size, np.nan)
        self._y = np.full(size, np.nan)
        n = self._count
        self._t[:n] = t
        self._y[:n] = y
        self._size = size
        self._head = n % size

    def _take(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Copy samples ``lo:hi`` counted from the oldest held (lock held)."""
        n = hi - lo
        if n <= 0:
            return np.empty(0), np.empty(0)
        start = (self._head - self._count + lo) % self._size
        end = start + n
        if end <= self._size:
            return self._t[start:end].copy(), self._y[start:end].copy()
        wrap = end - self._size
        return (
            np.concatenate((self._t[start:], self._t[:wrap])),
            np.concatenate((self._y[start:], self._y[:wrap])),
        )

    def _position(self, t: float) -> int:
        """Count of held samples with time < ``t`` (lock held; times ascend)."""
        start = (self._head - self._count) % self._size
        older = min(self._count, self._size - start)
        i = int(np.searchsorted(self._t[start : start + older], t, side="left"))
        if i < older:
            return i
        newer = self._t[: self._count - older]
        return older + int(np.searchsorted(newer, t, side="left"))

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """Return copies of every sample held, oldest first."""
        with self._lock:
            return self._take(0, self._count)

    def since(self, total: int) -> Tail:
        """Return the samples appended after the first ``total`` ever appended.

        A live reader passes back the ``total`` of its previous call and copies
        only what is new (a few samples per refresh instead of the whole ring);
        start with 0. If samples after ``total`` were already overwritten (the
        reader fell more than ``capacity`` behind) or ``total`` is not a count
        of this buffer, the result holds every sample kept, with ``reset`` set:
        it replaces what the reader had (pass -1 to always get that). A reader
        that may see the buffer replaced (the store is cleared on a replay
        seek) must also check that it is the same buffer object.
        """
        with self._lock:
            new = self.total - total
            reset = not 0 <= new <= self._count or total < self._reset_total
            lo = 0 if reset else self._count - new
            t, y = self._take(lo, self._count)
            return Tail(t, y, self.total, reset)

    def window(self, t0: float, t1: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
        """Return copies of the samples with ``t0 <= t < t1``, oldest first."""
        with self._lock:
            return self._take(self._position(t0), self._position(t1))

    def latest(self) -> tuple[float, float] | None:
        """Return the newest ``(time, value)``, or None when empty."""
        with self._lock:
            if self._count == 0:
                return None
            i = (self._head - 1) % self._size
            return float(self._t[i]), float(self._y[i])


@dataclass
class SourceStats:
    """Counters of one publisher; written by the telemetry-pipeline thread only.

    Readers on other threads see plain ints and floats, each read atomically.
    """

    family: str
    messages: int = 0
    samples: int = 0
    rejected: int = 0
    gaps: int = 0
    missed: int = 0
    restarts: int = 0
    last_seq: int = -1
    last_received: float = float("nan")
    # Smoothed time between messages: a publisher that batches 10 s of rows
    # per message is not "stale" 5 s after each one. See ``learn_interval``.
    interval_s: float = float("nan")
    #: Arrival of the first message of the current burst (``BURST_GAP_S``).
    burst_start: float = float("nan")
    #: The last gap too long to be the cadence (an outage, unless the next
    #: gap is alike: then it is the cadence). NaN when none is pending.
    long_gap_s: float = float("nan")
    #: ``interval_s`` came from two alike long gaps (may exceed the ceiling).
    long_cadence: bool = False
    # Row spacings seen in the first burst (bounded), for its cadence; None
    # once it is over. With its rows counted and its newest sample time.
    _first_burst: list[float] | None = None
    _burst_rows: int = 0
    _burst_newest: float = float("nan")
    _first_rows_interval: float = float("nan")
    last_sample_time: float = float("nan")
    link: str = "down"
    #: False for a source the dictionary does not declare: it raises no link
    #: alarm of its own (invented sources are reported together).
    declared: bool = True
    #: Samples that arrived older than what their channel already held (a
    #: backlog): archived and kept as history, never shown as "now".
    late: int = 0
    #: Samples newer than their channel held, of messages that arrived further
    #: behind the source's clock than their channels' stale time plus
    #: ``pipeline.CLOCK_SLACK_S``: history too.
    arrived_old: int = 0
    #: The source sent rows marked as a recording sent again (``Frame.recorded``).
    recorded: bool = False
    #: Messages whose seq equalled the last one (sent twice).
    duplicates: int = 0
    #: Messages that arrived after a later one (their seq had been counted
    #: missed): late, out of order, not a restart and no longer missed.
    reordered: int = 0
    #: Sequence numbers counted missed lately (at most ``MAX_RECENT_MISSED``).
    recent_missed: set[int] = field(default_factory=set)
    #: Receive time since which every message of the source carried only
    #: history (older than held, or arrived old); NaN once a current one came.
    history_since: float = float("nan")
    #: The "only history" alarm (``clock:<source>``) is raised.
    history_alarm: bool = False
    clock: SourceClock = field(default_factory=SourceClock)
    rate_hz: float = 0.0
    _rate_mark_time: float = float("nan")
    _rate_mark_count: int = 0

    def sequence_kind(self, seq: int) -> str:
        """Say what ``seq`` is: first, next, gap, duplicate, late or restart.

        A seq that fills a recent gap is a late message (out of order), and
        one equal to the last is the same message again; only a seq that
        goes back past both is a publisher that restarted counting.
        """
        last = self.last_seq
        if last < 0:
            return "first"
        if seq == last + 1:
            return "next"
        if seq > last + 1:
            return "gap"
        if seq == last:
            return "duplicate"
        return "late" if seq in self.recent_missed else "restart"

    def note_missed(self, after: int, seq: int) -> None:
        """Remember the seqs a gap skipped (the newest ``MAX_RECENT_MISSED``)."""
        self.recent_missed.update(range(max(after + 1, seq - MAX_RECENT_MISSED), seq))
        if len(self.recent_missed) > MAX_RECENT_MISSED:
            floor = seq - MAX_RECENT_MISSED
            self.recent_missed = {s for s in self.recent_missed if s >= floor}

    def learn_interval(
        self,
        received: float,
        times: np.ndarray,
        ceiling: float = MAX_LEARNED_INTERVAL_S,
        confirmed_ceiling: float = MAX_CONFIRMED_INTERVAL_S,
    ) -> None:
        """Learn the message cadence from a message received at ``received``.

        Call before ``last_received`` is set to ``received``. Before the
        second message the first one's rows tell the cadence of a publisher
        that batches (10 rows at 1 Hz arrive every ~10 s): their typical
        spacing times their count, so one stray row cannot stretch it. After
        that, gaps between bursts are smoothed in: messages closer than
        ``BURST_GAP_S`` are one burst (ten one-row messages flushed in a
        millisecond every 10 s teach 10 s, as one ten-row message does), and
        a silence longer than the burst before it is a cadence only then (a
        fast stream's one hiccup is not). A gap over 4 times the cadence is
        an outage, unless the next one is alike (or the first message's rows
        spanned alike): then it is the cadence, up to ``confirmed_ceiling``.
        One observation never teaches more than ``ceiling`` seconds.
        """
        if self.last_received == self.last_received:  # not NaN: a previous one
            gap_s = received - self.last_received
            if gap_s < BURST_GAP_S:
                if self._first_burst is None:
                    return  # the same burst
                if received - self.burst_start < BURST_GAP_S:
                    # The first burst's rows together are the first message.
                    self._add_burst_rows(times, ceiling)
                else:
                    # A steady fast stream, not a flush: only the first
                    # message's own rows say anything about a cadence.
                    self._first_burst = None
                    self.interval_s = self._first_rows_interval
                return
            self._first_burst = None
            burst_s = self.last_received - self.burst_start
            self.burst_start = received
            if not burst_s < gap_s:
                return  # a long stream's pause, not its rhythm
            if self.interval_s != self.interval_s:
                self.interval_s = min(gap_s, ceiling)
                self.long_gap_s = gap_s if gap_s > ceiling else math.nan
            elif gap_s <= 4 * self.interval_s:
                cap = confirmed_ceiling if self.long_cadence else ceiling
                self.interval_s = min(0.8 * self.interval_s + 0.2 * gap_s, cap)
                self.long_gap_s = math.nan
            elif 0.5 <= gap_s / self.long_gap_s <= 2.0:  # NaN compares False
                # The same long silence twice in a row: the publisher's rhythm.
                confirmed = max(ceiling, confirmed_ceiling)
                self.interval_s = min(max(gap_s, self.long_gap_s), confirmed)
                self.long_gap_s = math.nan
                self.long_cadence = True
            else:
                self.long_gap_s = gap_s  # an outage, unless it comes again
            return
        self.burst_start = received
        self._first_burst = []
        self._burst_rows = 0
        self._burst_newest = math.nan
        self._add_burst_rows(times, ceiling)
        self._first_rows_interval = self.interval_s

    def _add_burst_rows(self, times: np.ndarray, ceiling: float) -> None:
        """Count a first-burst message's rows and spacings; guess the cadence."""
        steps = self._first_burst
        if steps is None or not times.shape[0]:
            return
        ordered = np.sort(times)  # rows may be out of order inside a message
        room = _FIRST_BURST_STEPS - len(steps)
        if room > 0 and ordered[0] > self._burst_newest:  # NaN compares False
            steps.append(float(ordered[0]) - self._burst_newest)
            room -= 1
        if room > 0 and ordered.shape[0] > 1:
            inner = np.diff(ordered[: room + 1])
            steps.extend(inner[inner > 0].tolist())
        self._burst_rows += int(times.shape[0])
        newest = float(ordered[-1])
        if not self._burst_newest >= newest:
            self._burst_newest = newest
        if steps:
            self._learn_from_rows(statistics.median(steps), self._burst_rows, ceiling)

    def _learn_from_rows(self, spacing: float, rows: int, ceiling: float) -> None:
        """Take the first message's (or burst's) rows as one batch's cadence.

        Their typical (median) spacing times their count: one stray row
        cannot stretch it.
        """
        rows_s = spacing * rows
        self.interval_s = min(rows_s, ceiling)
        # Longer than one observation may teach: confirmed if the first gap
        # is alike (10 min of rows every 10 min).
        self.long_gap_s = rows_s if rows_s > ceiling else math.nan

    def update_rate(self, now: float) -> None:
        """Recompute the message rate over windows of at least one second."""
        if self._rate_mark_time != self._rate_mark_time:  # NaN: first call
            self._rate_mark_time, self._rate_mark_count = now, self.messages
            return
        elapsed = now - self._rate_mark_time
        if elapsed >= 1.0:
            self.rate_hz = (self.messages - self._rate_mark_count) / elapsed
            self._rate_mark_time, self._rate_mark_count = now, self.messages


@dataclass(frozen=True, slots=True)
class StoreEvent:
    """Something the operator should see in the event log (gap, restart, link...)."""

    seq: int
    time: float
    source: str | None
    kind: str
    detail: str
    severity: int = 0


class ChannelStore:
    """All live buffers, per-source counters and recent events.

    The telemetry-pipeline thread (through the Pipeline) is the only writer of
    buffers and counters; the GUI thread reads. Buffers are created lazily
    under a lock. Events may be added from any thread (the zmq-subscriber
    thread reports connection events): :meth:`add_event` takes the lock.
    """

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, max_events: int = 5000
    ) -> None:
        self.capacity = capacity
        self._buffers: dict[str, ChannelBuffer] = {}
        self._lock = threading.Lock()
        self.sources: dict[str, SourceStats] = {}
        self.rejected_by_reason: dict[str, int] = {}
        self.rejected_total = 0
        #: Rejected messages whose topic named no known source (counted only).
        self.rejected_invented = 0
        #: Sources not in the dictionary admitted this session (see Pipeline).
        self.undeclared_sources = 0
        self.undeclared: set[str] = set()
        self._events: deque[StoreEvent] = deque(maxlen=max_events)
        self._event_seq = 0

    def buffer(self, key: str) -> ChannelBuffer | None:
        return self._buffers.get(key)

    def ensure(self, key: str, capacity: int | None = None) -> ChannelBuffer:
        """Return ``key``'s buffer, made with ``capacity`` (default the store's)."""
        buf = self._buffers.get(key)
        if buf is None:
            size = self.capacity if capacity is None else min(capacity, self.capacity)
            with self._lock:
                buf = self._buffers.setdefault(key, ChannelBuffer(size))
        return buf

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._buffers)

    def append(
        self, key: str, t: np.ndarray, y: np.ndarray, received: float = float("nan")
    ) -> int:
        """Append to ``key``'s buffer; return how many samples were history."""
        return self.ensure(key).append(t, y, received)

    def add_event(
        self, time: float, source: str | None, kind: str, detail: str, severity: int = 0
    ) -> StoreEvent:
        with self._lock:
            self._event_seq += 1
            event = StoreEvent(self._event_seq, time, source, kind, detail, severity)
            self._events.append(event)
        return event

    def events_since(self, seq: int) -> list[StoreEvent]:
        """Return the events newer than ``seq`` (a reader keeps its last seq)."""
        with self._lock:
            return [e for e in self._events if e.seq > seq]

    def events(self) -> list[StoreEvent]:
        """Return every event held, oldest first."""
        with self._lock:
            return list(self._events)

    def restore(
        self,
        buffers: dict[str, ChannelBuffer],
        sources: dict[str, SourceStats],
        rejected_by_reason: dict[str, int],
        rejected_total: int,
        undeclared: set[str],
        events: list[StoreEvent],
    ) -> None:
        """Swap in a checkpoint's contents in one step (replay seeks).

        Event sequence numbers keep counting, as after :meth:`clear`: a view
        reading ``events_since(its last seq)`` gets the rebuilt list as new.
        """
        with self._lock:
            self._buffers = buffers
            self.sources = sources
            self.rejected_by_reason = rejected_by_reason
            self.rejected_total = rejected_total
            self.undeclared = undeclared
            base = self._event_seq
            renumbered = [replace(e, seq=base + i) for i, e in enumerate(events, 1)]
            self._events = deque(renumbered, maxlen=self._events.maxlen)
            self._event_seq = base + len(renumbered)

    def clear(self) -> None:
        """Drop every buffer, counter and event (replay seeks rebuild from scratch)."""
        with self._lock:
            self._buffers = {}
            self.sources = {}
            self.rejected_by_reason = {}
            self.rejected_total = 0
            self.rejected_invented = 0
            self.undeclared_sources = 0
            self.undeclared = set()
            self._events.clear()
