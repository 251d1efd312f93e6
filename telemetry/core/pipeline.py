"""The data path for one message: decode, derive, store, check limits, archive.

Live data, wire replay and in-process replay all go through ``Pipeline.ingest``,
so every display, alarm and dose total is computed the same way.

It is one concept, the trust put in one message, and so one module though
long: admission (budgets, time bounds), sequence (gaps, duplicates, late
messages, restarts), "now" (what arrived old, what is only history) and the
events each raises share the per-source state and the folding of events.
The mechanisms that stand alone already live elsewhere (``source_clock``,
``console_clock``, ``channels``, ``limits``, ``alarms``); the sequence
bookkeeping is the next piece to move out if it grows.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import MAX_LEARNED_INTERVAL_S, ChannelStore, SourceStats
from telemetry.core.console_clock import CONSOLE_CLOCK_ALARM, ConsoleClockWatch
from telemetry.core.decoding import ChannelBatch, DecodedFrame, Decoder
from telemetry.core.derived import DewPointDeriver
from telemetry.core.limits import LimitEvaluator, LimitTransition
from telemetry.core.severity import Severity
from telemetry.core.source_clock import SourceClock
from telemetry.core.units import format_duration, gmt_text
from telemetry.core.wire import Frame, WireError, decode_frame, split_topic

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from telemetry.core.deriver import Deriver
    from telemetry.core.dictionary import TelemetryDictionary

# A hostile or broken publisher must not grow the store without bound. The
# budgets are separate so that invented names never compete with declared
# ones: declared sources and their declared channels are always admitted;
# undeclared channels of declared sources have one budget, invented sources
# another, and the channels of invented sources a third.
MAX_UNDECLARED_CHANNELS = 2000
MAX_UNDECLARED_SOURCES = 100
MAX_INVENTED_CHANNELS = 1000
#: Samples an undeclared channel's ring keeps (16 kB): with the budgets above
#: every undeclared ring together stays under 48 MiB.
UNDECLARED_CAPACITY = 1024
#: An invented source silent this long is forgotten (its budget freed); it
#: reappears as new if it sends again.
UNDECLARED_SOURCE_PRUNE_S = 300.0
#: ``WireError.reason`` of a message from an invented source past its budget.
TOO_MANY_SOURCES = "too many sources"
# Repeated rejections of the same kind from one source fold into one event.
REJECT_EVENT_INTERVAL_S = 5.0
#: Live sessions refuse sample times further than this ahead of the receive
#: clock (``SessionConfig.max_time_ahead_s``): one such time made the dose
#: engine integrate up to it and then drop every real sample as late until the
#: clock caught up. Five minutes allows for a publisher's clock error and its
#: batching.
MAX_TIME_AHEAD_S = 300.0
# Seconds between watchdog ticks when a replay or an in-process recording
# drives the pipeline on sample time (live sessions tick on the clock).
DEFAULT_TICK_S = 1.0
#: ``WireError.reason`` of a message refused for ``max_time_ahead_s``.
TIME_AHEAD = "time ahead"
#: Sample times before this (2000-01-01) are an unset clock, not telemetry: no
#: crew lived on the ISS before. One such sample would stretch a session, its
#: reports and its replay over decades.
EARLIEST_SAMPLE_TIME = 946_684_800.0
#: ``WireError.reason`` of a message refused for ``earliest_time``.
TIME_BEFORE_2000 = "time before 2000"
#: A message is "now" only if its newest row is at most its channels' stale
#: time plus this (times the clock's rate, for an accelerated simulator) behind
#: its source's clock when it arrives: room for the downlink's latency and a
#: publisher's clock error. Rows of a later message (a backlog after a loss of
#: signal, even into channels that hold nothing newer; a publisher whose clock
#: lags, or that resends a recording without marking it) are history:
#: archived and plotted, never a readout's current value, never the live alarm
#: state. A clock more than this off is itself a fault to see.
CLOCK_SLACK_S = 30.0
#: A declared source whose messages carried nothing but history (no sample
#: that is "now") for this long raises a WARNING alarm ``clock:<source>``.
HISTORY_ONLY_ALARM_S = 15.0
HISTORY_ALARM_PREFIX = "clock:"
#: Seconds between two ``history limit`` events of one channel (an hour's
#: clock step must not fill the operator's log with them).
HISTORY_LIMIT_EVENT_S = 60.0

Batch = tuple[str, np.ndarray, np.ndarray]
_LINK_SEVERITY = {
    "up": Severity.NOMINAL,
    "stale": Severity.WARNING,
    "down": Severity.CRITICAL,
}


def first_names(names: Sequence[str], count: int, width: int) -> str:
    """Write the names given (each cut to ``width``), then how many of ``count`` more.

    One folded report of invented names stays one line however many came.
    """
    shown = ", ".join(repr(n[:width]) for n in names)
    return shown + (f" and {count - len(names)} more" if count > len(names) else "")


class ArchiveSink(Protocol):
    """What the pipeline needs of an archive writer (never blocks)."""

    def put_frame(
        self, received: float, frame: Frame, body: bytes, batches: Sequence[Batch]
    ) -> None: ...

    def put_samples(self, batches: Sequence[Batch]) -> None: ...

    def put_channel(
        self,
        key: str,
        *,
        unit: str,
        declared: bool,
        derived: bool,
        states: dict[str, int],
    ) -> None: ...

    def put_rejected(
        self,
        received: float,
        topic: bytes,
        body: bytes,
        source: str | None,
        reason: str,
        detail: str,
    ) -> None: ...

    def put_event(
        self,
        time: float,
        source: str | None,
        kind: str,
        detail: str,
        severity: int = 0,
        *,
        count: int | None = None,
    ) -> None: ...

    def put_transition(
        self,
        time: float,
        key: str,
        severity: int,
        previous: int,
        value: float,
        threshold: float | None,
        kind: str,
    ) -> None: ...


class PipelineState(NamedTuple):
    """What :meth:`Pipeline.checkpoint` returns; owned by the thread driving it."""

    decoder: Decoder
    evaluators: dict[str, LimitEvaluator | None]
    last_reject: dict[tuple[str | None, str], float]
    # Last value of each ``event_on_change`` channel (None: checkpoint before it).
    last_change: dict[str, float] | None = None


class Pipeline:
    """Decodes and distributes messages; owned by the telemetry-pipeline thread.

    (Or by whichever single thread drives a replay.) It is the only writer of
    the ChannelStore; the AlarmBook has its own lock for the GUI's actions.
    """

    def __init__(
        self,
        dictionary: TelemetryDictionary,
        store: ChannelStore,
        alarms: AlarmBook | None = None,
        archive: ArchiveSink | None = None,
        derivers: Sequence[Deriver] = (),
        on_decoded: Callable[[Frame, DecodedFrame], None] | None = None,
        *,
        max_time_ahead_s: float | None = None,
        max_interval_s: float = MAX_LEARNED_INTERVAL_S,
        earliest_time: float | None = None,
        clock_slack_s: float | None = None,
    ) -> None:
        """Build the data path; nothing runs until ``ingest``.

        Parameters
        ----------
        max_time_ahead_s
            Refuse a message with a sample time more than this many seconds
            ahead of ``received`` (reason ``"time ahead"``), or of where its
            source's own clock had got to if that runs fast (an accelerated
            simulator; see ``_check_time_ahead``). ``None`` (the default)
            checks nothing: replays, reports and the fault and
            training paths feed recorded times with ``received`` taken from
            the recording, and must decode what was decoded live.
            ``LiveSession`` passes ``MAX_TIME_AHEAD_S``.
        max_interval_s
            Longest message cadence the link watchdog learns per source.
        earliest_time
            Refuse a message with a sample time before this (reason
            ``"time before 2000"``): live sessions and imports pass
            ``EARLIEST_SAMPLE_TIME``; replays read what was accepted.
        clock_slack_s
            Judge whether each sample is "now" when it arrives: one further
            behind its source's clock than its channel's stale time plus this
            is history, not the readout's current value or the live alarm
            state (``CLOCK_SLACK_S``, passed by live sessions, replays and
            imports, which all have real receive times). ``None`` judges
            nothing: every sample newer than what a channel holds is "now".
        """
        if max_time_ahead_s is not None and not max_time_ahead_s >= 0:
            raise ValueError(f"max_time_ahead_s must be >= 0, got {max_time_ahead_s}")
        if not max_interval_s > 0:
            raise ValueError(f"max_interval_s must be > 0, got {max_interval_s}")
        self.max_time_ahead_s = max_time_ahead_s
        self.earliest_time = earliest_time
        self.clock_slack_s = clock_slack_s
        self.max_interval_s = max_interval_s
        self.dictionary = dictionary
        self.store = store
        self.alarms = alarms if alarms is not None else AlarmBook()
        self.archive = archive
        eclss = [s.id for s in dictionary.sources_of("eclss")]
        self.derivers: list[Deriver] = [DewPointDeriver(eclss), *derivers]
        self.on_decoded = on_decoded
        self.decoder = Decoder(dictionary)
        self._evaluators: dict[str, LimitEvaluator | None] = {}
        self._announced: set[str] = set()
        self._last_reject_event: dict[tuple[str | None, str], float] = {}
        self._last_change: dict[str, float] = {}
        self._stale_after: dict[str, float] = {}  # key -> stale_after_s
        # (source, kind) -> (events, count) folded since the last report.
        self._pending_fold: dict[tuple[str, str], tuple[int, int]] = {}
        # source -> (first names, count) of undeclared channels not yet reported.
        self._pending_channels: dict[str, tuple[list[str], int]] = {}
        self._pending_sources: list[str] = []
        self._budget_cache: tuple[set[str], int, int, int] | None = None
        # Declared sources refused as "time ahead": their common cause may be
        # this console's clock (live sessions only: max_time_ahead_s).
        self._console_clock = ConsoleClockWatch()
        self._source_stale_s = {
            sid: self._stale_time(spec.family)
            for sid, spec in dictionary.sources.items()
        }

    def _stale_time(self, family: str) -> float:
        measured = [
            c.stale_after_s
            for c in self.dictionary.families.get(family, {}).values()
            if not c.derived
        ]
        return min(measured, default=5.0)

    # ----------------------------------------------------------------- ingest

    def ingest(self, parts: list[bytes], received: float) -> DecodedFrame | None:
        """Process one multipart message received at ``received`` (session clock).

        Returns the decoded frame, or None when the message was rejected (it is
        then counted, archived raw with its reason, and shown as an event).
        Nothing of a rejected message is kept beyond its counters: it takes no
        place in any source or channel budget.
        """
        try:
            frame = decode_frame(parts)
            stats = self._stats(frame.source, frame.family)
            self._check_time_ahead(frame, stats, received)
            self._check_earliest(frame)
            # Fuzzing fix: checked before decoding, because the decoder keeps
            # the state codes it invents for an undeclared channel; checked
            # after, a refused channel still grew that table without end.
            self._check_undeclared_bound(frame)
            decoded = self.decoder.decode(frame)
        except WireError as exc:
            self._reject(parts, received, exc)
            return None
        if frame.source not in self.store.sources:
            self._admit(frame.source, stats, received)
        self._track_sequence(stats, frame, received)
        stats.messages += 1
        stats.samples += decoded.samples
        stats.learn_interval(received, frame.times, self.max_interval_s)
        stats.last_received = received
        if frame.rows:
            # Rows may be out of order inside a message: its newest is the max.
            newest = float(frame.times.max())
            stats.last_sample_time = (
                max(stats.last_sample_time, newest)
                if stats.last_sample_time == stats.last_sample_time
                else newest
            )
            if self.max_time_ahead_s is not None:
                stats.clock.observe(received, newest)
        if frame.recorded and not stats.recorded:
            stats.recorded = True
            self._note_recorded(frame.source, stats, received)
        # Where the source's clock is: a recording sent again is judged in its
        # own time, anything else on the receive clock (or the line of an
        # accelerated simulator's clock).
        source_now = (
            stats.last_sample_time if frame.recorded else stats.clock.now(received)
        )
        arrived_old_by = self._arrived_old_by(frame, decoded, stats, source_now)
        self._announce(decoded, received)
        for batch in decoded.batches:
            self._change_events(batch)
        derived: list[ChannelBatch] = []
        for deriver in self.derivers:
            derived.extend(deriver.derive(decoded.batches))
            for event in deriver.drain_events():
                self._event(
                    event.time,
                    event.crew,
                    str(event.kind),
                    event.message,
                    int(event.severity),
                )
        transitions: list[LimitTransition] = []
        history = behind_held = 0
        measured = len(decoded.batches)
        current = 0  # measured samples that are "now"
        for i, batch in enumerate((*decoded.batches, *derived)):
            buf = self.store.buffer(batch.key)
            if buf is None:
                declared = self.dictionary.channel_for_key(batch.key) is not None
                buf = self.store.ensure(
                    batch.key, None if declared else UNDECLARED_CAPACITY
                )
            # Samples no newer than what the channel holds (a backlog), and
            # every sample of a message that arrived too old, go to the archive
            # and into history (merged in time order), but never become the
            # readout's "now" or drive the live limit state.
            if arrived_old_by is not None:
                held = buf.newest_time()  # older than this is a backlog too
                if held == held:
                    behind_held += int(np.searchsorted(batch.times, held, "right"))
            fresh = buf.append(batch.times, batch.values, received, arrived_old_by)
            history += fresh
            if i < measured:
                current += int(batch.times.shape[0]) - fresh
            evaluator = self._evaluator(batch.key)
            if evaluator is not None and fresh:
                self._judge_history(evaluator, batch, fresh, received)
            if evaluator is not None and fresh < batch.times.shape[0]:
                transitions.extend(
                    evaluator.evaluate(batch.times[fresh:], batch.values[fresh:])
                )
        if measured:
            self._watch_history_only(frame.source, stats, current, received)
        if history:
            # Older than what a channel held is a backlog, however it arrived.
            backlog = history if arrived_old_by is None else behind_held
            stats.late += backlog
            stats.arrived_old += history - backlog
            self._note_backlog(
                frame.source,
                stats,
                history,
                arrived_old_by if history > backlog else None,
                received,
            )
        if self.archive is not None:
            self.archive.put_frame(
                received,
                frame,
                parts[1],
                [(b.key, b.times, b.values) for b in decoded.batches],
            )
            if derived:
                self._announce_derived(derived)
                self.archive.put_samples([(b.key, b.times, b.values) for b in derived])
        for tr in transitions:
            self._apply_transition(tr)
        if self.on_decoded is not None:
            self.on_decoded(frame, decoded)
        return decoded

    def _judge_history(
        self,
        evaluator: LimitEvaluator,
        batch: ChannelBatch,
        n: int,
        received: float,
    ) -> None:
        """Report limit violations in samples that went to history, not "now".

        They never drive the live alarm state (a backlog must not look
        current), but a violation in them must not pass unseen either: a
        clock that stepped back files every new sample as history. One event
        per channel per interval names the worst level, value and time.
        """
        levels = evaluator.classify(batch.values[:n])
        worst = int(levels.max()) if levels.shape[0] else 0
        if worst <= int(Severity.NOMINAL):
            return
        key = (batch.key, "history limit")
        last = self._last_reject_event.get(key)
        if last is not None and received - last < HISTORY_LIMIT_EVENT_S:
            return
        self._last_reject_event[key] = received
        at = int(np.flatnonzero(levels == worst)[0])
        value = float(batch.values[at])
        spec = evaluator.spec
        self._event(
            received,
            batch.key.partition(".")[0],
            "history limit",
            f"{batch.key} = {spec.format_value(value)} {spec.unit}".rstrip()
            + f" beyond its {Severity(worst).name} limit at "
            f"{gmt_text(float(batch.times[at]), date=True)}, in samples that "
            "arrived late or old (history, not the live alarm state)",
            worst,
        )

    def _watch_history_only(
        self, source: str, stats: SourceStats, current: int, received: float
    ) -> None:
        """Alarm when a source's messages keep carrying nothing but history.

        A backlog ends; a publisher clock that stepped back (or a stray
        message far ahead that a channel now holds) files every new sample as
        history for as long as the step, with the readouts frozen on the old
        newest value and no limit judged live: a flight controller must see it.
        """
        if current:
            stats.history_since = math.nan
            if stats.history_alarm:
                stats.history_alarm = False
                self._history_alarm(source, stats, received, Severity.NOMINAL)
            return
        if stats.history_since != stats.history_since:
            stats.history_since = received
            return
        if (
            not stats.history_alarm
            and stats.declared
            and received - stats.history_since >= HISTORY_ONLY_ALARM_S
        ):
            stats.history_alarm = True
            self._history_alarm(source, stats, received, Severity.WARNING)

    def _history_alarm(
        self, source: str, stats: SourceStats, now: float, severity: Severity
    ) -> None:
        raised = severity > Severity.NOMINAL
        self._event(
            now,
            source,
            "only history",
            (
                f"for {now - stats.history_since:.0f} s every message of {source} "
                "carried only samples older than what its channels hold, or too "
                "old to be now: its clock stepped back, a message far ahead came "
                "first, or a long backlog; readouts show the newest held, and "
                "limits are not judged live (violations in history are logged)"
            )
            if raised
            else "current samples again",
            int(severity),
        )
        self._raise_alarm(
            LimitTransition(
                f"{HISTORY_ALARM_PREFIX}{source}",
                now,
                Severity.WARNING if not raised else Severity.NOMINAL,
                severity,
                now - stats.history_since if raised else 0.0,
                None,
                "history",
            )
        )

    def _arrived_old_by(
        self,
        frame: Frame,
        decoded: DecodedFrame,
        stats: SourceStats,
        source_now: float,
    ) -> float | None:
        """Return how far behind its source's clock a message arrived too old, or None.

        The newest row decides for the message: a publisher that batches
        sends rows up to its cadence old with a fresh one, and a slow channel's
        last value in a fresh message is as current as that channel gets.
        """
        slack = self.clock_slack_s
        if slack is None or not frame.rows:
            return None
        stale_s = 0.0
        for batch in decoded.batches:
            known = self._stale_after.get(batch.key)
            if known is None:
                spec = self.dictionary.channel_for_key(batch.key)
                known = (
                    spec.stale_after_s
                    if spec is not None
                    else self._source_stale_s.get(frame.source, 5.0)
                )
                self._stale_after[batch.key] = known
            stale_s = max(stale_s, known)
        # Latency and clock error are receive-clock seconds: an accelerated
        # simulator's clock covers that many times more in them.
        rate = stats.clock.rate if stats.clock.accelerated else 1.0
        lag = source_now - float(frame.times.max())
        return lag if lag > stale_s + slack * rate else None

    def _note_backlog(
        self,
        source: str,
        stats: SourceStats,
        history: int,
        arrived_old_by: float | None,
        received: float,
    ) -> None:
        """Say (folded per source) that old samples went to history, not "now"."""
        if not stats.declared:
            return
        kind = "backlog" if arrived_old_by is None else "arrived old"
        key = (source, kind)
        last = self._last_reject_event.get(key)
        if last is not None and received - last < REJECT_EVENT_INTERVAL_S:
            return
        self._last_reject_event[key] = received
        if arrived_old_by is None:
            self._event(
                received,
                source,
                kind,
                f"{history} sample(s) older than the newest held went to the "
                f"archive and history, not to the live readouts ({stats.late} so "
                "far)",
                int(Severity.NOMINAL),
            )
            return
        clock = (
            "its own newest sample"
            if stats.recorded
            else "its accelerated clock"
            if stats.clock.accelerated
            else "the receive clock"
        )
        self._event(
            received,
            source,
            kind,
            f"{history} sample(s) arrived {format_duration(arrived_old_by)} behind "
            f"{clock}, more than their channels' stale time + "
            f"{self.clock_slack_s or 0.0:g} s: archived and plotted as history, "
            f"not shown as current ({stats.arrived_old} so far). A backlog after "
            "a loss of signal, a publisher clock that lags, or a recording sent "
            "again without its mark",
            int(Severity.WATCH),
        )

    def _note_recorded(self, source: str, stats: SourceStats, received: float) -> None:
        """Say once that a source sends a recording, not live telemetry."""
        if not stats.declared:
            return
        self._event(
            received,
            source,
            "recording",
            "its messages are marked as a recording sent again (kibo-console "
            "replay): shown in the recording's own time, not live telemetry; "
            "a live console writes none of it to the crew dose ledger",
            int(Severity.WATCH),
        )

    def _check_earliest(self, frame: Frame) -> None:
        earliest = self.earliest_time
        if earliest is None or not frame.rows:
            return
        i = int(np.argmin(frame.times))
        if float(frame.times[i]) < earliest:
            raise WireError(
                TIME_BEFORE_2000,
                f"t[{i}] = {float(frame.times[i]):.3f} is before "
                f"{earliest:.0f} (2000-01-01): the publisher's clock is not set",
            )

    def _check_time_ahead(
        self, frame: Frame, stats: SourceStats, received: float
    ) -> None:
        """Refuse rows from too far in the future (live sessions only).

        The reference is the receive clock, or, for a source whose clock was
        learned as accelerated (a simulator at ``--rate-scale 60``), the line
        of that clock anchored at its first sighting; see
        ``telemetry.core.source_clock``. It is never the source's own last
        sample time, so the bound cannot be walked forward in small steps.
        """
        bound = self.max_time_ahead_s
        if bound is None or not frame.rows:
            return
        i = int(np.argmax(frame.times))
        newest = float(frame.times[i])
        if stats.last_seq >= 0 and (
            stats.sequence_kind(frame.seq) == "restart" or stats.link == "down"
        ):
            # A restarted publisher, or one back after its link went down, may
            # be another run (a simulator at another --rate-scale): its clock
            # is learned again, from this message, as a new source's is.
            stats.clock = SourceClock()
        clock = stats.clock
        if not clock.learned:
            # Learning needs the refused messages of a simulator joined late.
            clock.observe(received, newest)
        limit = clock.limit(received, bound)
        if newest > limit:
            # Only a real-time source's refusals say anything of this
            # console's clock (an accelerated one joined late is refused
            # while its rate is learned, whatever the console's clock says).
            if (
                frame.source in self.dictionary.sources
                and clock.learned
                and not clock.accelerated
            ):
                self._console_clock.note_ahead(
                    frame.source, received, newest - received
                )
            raise WireError(
                TIME_AHEAD,
                f"t[{i}] = {newest:.3f} is {newest - received:,.0f} s ahead of the "
                f"receive clock (at most {bound:g} s; {clock.describe()})",
            )

    def _undeclared_counts(self) -> tuple[int, int]:
        """Return (undeclared channels of declared sources, of invented ones)."""
        undeclared = self.store.undeclared
        cached = self._budget_cache
        if (
            cached is not None
            and cached[0] is undeclared
            and cached[1] == len(undeclared)
        ):
            return cached[2], cached[3]
        sources = self.dictionary.sources
        of_declared = sum(1 for k in undeclared if k.partition(".")[0] in sources)
        counts = (of_declared, len(undeclared) - of_declared)
        self._budget_cache = (undeclared, len(undeclared), *counts)
        return counts

    def _check_undeclared_bound(self, frame: Frame) -> None:
        if len(self.store.undeclared) < min(
            MAX_UNDECLARED_CHANNELS, MAX_INVENTED_CHANNELS
        ):
            return
        declared_source = frame.source in self.dictionary.sources
        of_declared, of_invented = self._undeclared_counts()
        held, budget = (
            (of_declared, MAX_UNDECLARED_CHANNELS)
            if declared_source
            else (of_invented, MAX_INVENTED_CHANNELS)
        )
        if held < budget:
            return
        for name in frame.columns:
            key = f"{frame.source}.{name}"
            if (
                key not in self.store.undeclared
                and self.dictionary.channel_for_key(key) is None
            ):
                whose = "declared" if declared_source else "undeclared"
                raise WireError(
                    "too many channels",
                    f"{held} undeclared channels of {whose} sources already; "
                    f"refusing {key[:80]!r}",
                )

    def _stats(self, source: str, family: str) -> SourceStats:
        """Return the source's counters, or new ones not yet in the store.

        A new source enters the store only once a message of it is accepted
        (``_admit``): rejected messages take no place in the budget.
        """
        stats = self.store.sources.get(source)
        declared = self.dictionary.sources.get(source)
        if declared is not None and declared.family != family:
            # Fuzzing fix: the first message used to fix a source's family, so
            # a stray "eclss.ib2-a" locked the real robot out for the session.
            raise WireError(
                "source mismatch",
                f"source {source!r} is declared in family {declared.family!r}, "
                f"not {family!r}",
            )
        if stats is None:
            if declared is not None:
                # Declared sources are always admitted, whatever was invented.
                stats = SourceStats(family)
                self.store.sources[source] = stats
                return stats
            if self._invented_sources() >= MAX_UNDECLARED_SOURCES:
                raise WireError(
                    TOO_MANY_SOURCES,
                    f"{MAX_UNDECLARED_SOURCES} undeclared sources already; "
                    f"refusing {source[:40]!r} (declared sources are not affected)",
                )
            return SourceStats(family, declared=False)
        if stats.family != family:
            if stats.messages == 0:
                # Only rejected messages so far: the first accepted message
                # decides the family.
                stats.family = family
                return stats
            raise WireError(
                "source mismatch",
                f"source {source!r} was family {stats.family!r}, now {family!r}",
            )
        return stats

    def _invented_sources(self) -> int:
        return sum(1 for s in self.store.sources.values() if not s.declared)

    def _admit(self, source: str, stats: SourceStats, received: float) -> None:
        """Enter an invented source's first accepted message (one folded report)."""
        self.store.sources[source] = stats
        self.store.undeclared_sources += 1
        self._pending_sources.append(source)
        self._report_invented(received)

    def _report_invented(self, now: float) -> None:
        """One event per interval for every invented source admitted meanwhile."""
        if not self._pending_sources:
            return
        last = self._last_reject_event.get((None, "undeclared source"))
        if last is not None and now - last < REJECT_EVENT_INTERVAL_S:
            return
        self._last_reject_event[(None, "undeclared source")] = now
        names = self._pending_sources
        shown = first_names(names[:5], len(names), 40)
        self._pending_sources = []
        self._event(
            now,
            None,
            "undeclared source",
            f"{len(names)} source(s) not in the dictionary: {shown}; "
            f"archived and flagged, no link alarms "
            f"({self.store.undeclared_sources} so far, at most "
            f"{MAX_UNDECLARED_SOURCES} at once)",
            int(Severity.WATCH),
            count=len(names),
        )

    def _track_sequence(
        self, stats: SourceStats, frame: Frame, received: float
    ) -> None:
        source = frame.source
        seq, last = frame.seq, stats.last_seq
        kind = stats.sequence_kind(seq)
        if kind == "first":
            self._set_link(source, stats, "up", received, f"first message, seq {seq}")
        elif kind == "gap":
            missed = seq - last - 1
            stats.gaps += 1
            stats.missed += missed
            stats.note_missed(last, seq)
            self._folded_event(
                received,
                stats,
                source,
                "gap",
                f"missed {missed} message(s): seq {last} -> {seq}",
                missed,
            )
        elif kind == "duplicate":
            stats.duplicates += 1
            self._folded_event(
                received,
                stats,
                source,
                "duplicate",
                f"seq {seq} received again (a publisher or bridge sending twice): "
                "its samples were already held",
                1,
            )
        elif kind == "late":
            # Counted missed when the gap was seen; it came after all.
            stats.reordered += 1
            stats.missed -= 1
            stats.recent_missed.discard(seq)
            self._folded_event(
                received,
                stats,
                source,
                "out of order",
                f"seq {seq} arrived after seq {last}: late, not missed",
                1,
            )
        elif kind == "restart":
            # A publisher that restarts begins counting again; that is not a
            # gap, so no gap storm follows.
            stats.restarts += 1
            stats.recent_missed.clear()
            self._folded_event(
                received,
                stats,
                source,
                "publisher restart",
                f"seq went back from {last} to {seq}",
                1,
                "; seq jumping back and forth means more than one publisher "
                f"sends as {source!r}",
            )
        if kind in ("first", "next", "gap", "restart"):
            stats.last_seq = seq
        if stats.link != "up":
            self._set_link(source, stats, "up", received)

    def _folded_event(
        self,
        now: float,
        stats: SourceStats,
        source: str,
        kind: str,
        detail: str,
        count: int,
        if_repeated: str = "",
    ) -> None:
        """Log a sequence event: each one archived, on screen folded per interval.

        Two publishers on one source id, or a bridge that sends everything
        twice, make one such event per message: unfolded they pushed every
        other event out of the operator's log in minutes. The archive keeps
        each (its counts are what ``info`` and reports sum, exactly).
        """
        if not stats.declared:
            return
        if self.archive is not None:
            self.archive.put_event(
                now, source, kind, detail, int(Severity.WATCH), count=count
            )
        key = (source, kind)
        pending = self._pending_fold.get(key)
        last = self._last_reject_event.get(key)
        if last is not None and now - last < REJECT_EVENT_INTERVAL_S:
            held_n, held_count = pending or (0, 0)
            self._pending_fold[key] = (held_n + 1, held_count + count)
            return
        self._last_reject_event[key] = now
        if pending is not None:
            del self._pending_fold[key]
            n, folded = pending
            detail += (
                f" ({n} more since the last report, {folded + count} in all"
                f"{if_repeated})"
            )
        self.store.add_event(now, source, kind, detail, int(Severity.WATCH))

    def _flush_folded(self, now: float) -> None:
        """Report folded sequence events whose interval passed with no new one."""
        for source, kind in list(self._pending_fold):
            last = self._last_reject_event.get((source, kind), -math.inf)
            if now - last >= REJECT_EVENT_INTERVAL_S:
                self._report_folded(now, source, kind)

    def _report_folded(self, now: float, source: str, kind: str) -> None:
        """Show the events folded for ``(source, kind)`` as one (archived each)."""
        n, count = self._pending_fold.pop((source, kind))
        self._last_reject_event[(source, kind)] = now
        self.store.add_event(
            now,
            source,
            kind,
            f"{n} more {kind} event(s) since the last report ({count} in all)",
            int(Severity.WATCH),
        )

    def _reject(self, parts: list[bytes], received: float, exc: WireError) -> None:
        topic = parts[0] if parts else b""
        body = parts[1] if len(parts) > 1 else b""
        try:
            family, source = split_topic(topic)
        except WireError:
            family, source = "", None
        known = self.store.sources.get(source) if source is not None else None
        if known is not None:
            known.rejected += 1
        elif source is not None and source in self.dictionary.sources:
            stats = SourceStats(family, link="down")
            stats.rejected = 1
            self.store.sources[source] = stats
        else:
            # Invented names get no bookkeeping of their own: a storm of them
            # is counted here and reported in one folded line per reason.
            self.store.rejected_invented += 1
        self.store.rejected_total += 1
        self.store.rejected_by_reason[exc.reason] = (
            self.store.rejected_by_reason.get(exc.reason, 0) + 1
        )
        if self.archive is not None:
            self.archive.put_rejected(
                received, topic, body, source, exc.reason, exc.detail
            )
        fold_key = (source if known is not None else None, exc.reason)
        last = self._last_reject_event.get(fold_key)
        if last is None or received - last >= REJECT_EVENT_INTERVAL_S:
            self._last_reject_event[fold_key] = received
            self.store.add_event(
                received,
                source if known is not None else None,
                "rejected",
                f"{exc.reason}: {exc.detail}"[:300],
                int(Severity.WARNING),
            )

    def _announce(self, decoded: DecodedFrame, received: float) -> None:
        for key in decoded.undeclared:
            if key not in self.store.undeclared:
                self.store.undeclared.add(key)
                source = key.partition(".")[0]
                names, count = self._pending_channels.get(source, ([], 0))
                if len(names) < 5:
                    names.append(key)
                self._pending_channels[source] = (names, count + 1)
        if self._pending_channels:
            self._report_undeclared_channels(received)
        if self.archive is None:
            return
        for batch in decoded.batches:
            if batch.key not in self._announced or batch.key in decoded.new_states:
                self._announced.add(batch.key)
                spec = self.dictionary.channel_for_key(batch.key)
                self.archive.put_channel(
                    batch.key,
                    unit=spec.unit if spec else "",
                    declared=spec is not None,
                    derived=False,
                    states=self.decoder.states_of(batch.key),
                )

    def _report_undeclared_channels(self, now: float) -> None:
        """One event per source per interval for the new undeclared channels.

        One event per key let two messages of 1,000 invented names push every
        other event (an SPE onset) out of the operator's log.
        """
        for source, (names, count) in list(self._pending_channels.items()):
            last = self._last_reject_event.get((source, "undeclared channel"))
            if last is not None and now - last < REJECT_EVENT_INTERVAL_S:
                continue
            del self._pending_channels[source]
            self._last_reject_event[(source, "undeclared channel")] = now
            shown = first_names(names, count, 60)
            self.store.add_event(
                float("nan"),
                source,
                "undeclared channel",
                f"{count} channel(s) not in the dictionary: {shown}; archived "
                f"and flagged ({len(self.store.undeclared)} undeclared so far)",
                int(Severity.WATCH),
            )

    def _announce_derived(self, derived: list[ChannelBatch]) -> None:
        assert self.archive is not None
        for batch in derived:
            if batch.key not in self._announced:
                self._announced.add(batch.key)
                spec = self.dictionary.channel_for_key(batch.key)
                self.archive.put_channel(
                    batch.key,
                    unit=spec.unit if spec else "",
                    declared=spec is not None,
                    derived=True,
                    states=dict(spec.states) if spec else {},
                )

    def _evaluator(self, key: str) -> LimitEvaluator | None:
        if key not in self._evaluators:
            spec = self.dictionary.channel_for_key(key)
            evaluator = LimitEvaluator(key, spec) if spec is not None else None
            self._evaluators[key] = (
                evaluator if evaluator and evaluator.active else None
            )
        return self._evaluators[key]

    def _apply_transition(self, tr: LimitTransition) -> None:
        before = self.alarms.get(tr.key) if tr.severity == Severity.NOMINAL else None
        self._raise_alarm(tr)
        if (
            before is not None
            and not before.acked
            and Severity.WARNING <= before.peak < Severity.CRITICAL
            and self.alarms.get(tr.key) is None
        ):
            # A returned WARNING leaves the list at once (only CRITICAL
            # latches): one raised and cleared inside a batched message, or
            # between two refreshes, was never on screen. Say it in the log.
            spec = self.dictionary.channel_for_key(tr.key)
            trip = (
                f"{spec.format_value(before.value)} {spec.unit}".rstrip()
                if spec is not None
                else f"{before.value:.6g}"
            )
            self._event(
                tr.time,
                tr.key.partition(".")[0],
                "returned unacknowledged",
                f"{tr.key} was {before.peak.name} from "
                f"{gmt_text(before.first_time)} to {gmt_text(tr.time)} "
                f"(trip value {trip}); it returned before anyone "
                "acknowledged it",
                int(before.peak),
            )
        if self.archive is not None:
            self.archive.put_transition(
                tr.time,
                tr.key,
                int(tr.severity),
                int(tr.previous),
                tr.value,
                tr.threshold,
                tr.kind,
            )

    def _raise_alarm(self, tr: LimitTransition) -> None:
        """Hand a transition to the alarm book; log a shelved alarm escalating."""
        shelved = self.alarms.raise_transition(tr)
        if shelved is None:
            return
        by = f" by {shelved.shelved_by}" if shelved.shelved_by else ""
        why = f" ({shelved.shelve_reason})" if shelved.shelve_reason else ""
        self._event(
            tr.time,
            tr.key.rpartition(":")[2].partition(".")[0],
            "unshelved",
            f"{tr.key} escalated to {tr.severity.name} while shelved{by} at "
            f"{shelved.shelved_level.name}{why}: back in the list, sounding, "
            "needs a fresh acknowledgement",
            int(tr.severity),
        )

    def _change_events(self, batch: ChannelBatch) -> None:
        """Log an event for each change of an ``event_on_change`` channel."""
        spec = self.dictionary.channel_for_key(batch.key)
        if spec is None or not spec.event_on_change:
            return
        source = batch.key.partition(".")[0]
        order = np.argsort(batch.times, kind="stable")
        for t, value in zip(batch.times[order], batch.values[order], strict=True):
            last = self._last_change.get(batch.key)
            if value != value or value == last:
                continue
            self._last_change[batch.key] = float(value)
            # The first value seen is a state, not a change: no event for it.
            if last is not None:
                self._event(
                    float(t),
                    source,
                    spec.name,
                    f"{spec.format_value(last)} -> {spec.format_value(value)}",
                )

    def _event(
        self,
        time: float,
        source: str | None,
        kind: str,
        detail: str,
        severity: int = 0,
        count: int | None = None,
    ) -> None:
        self.store.add_event(time, source, kind, detail, severity)
        if self.archive is not None:
            self.archive.put_event(time, source, kind, detail, severity, count=count)

    # ------------------------------------------------------------- watchdog

    def tick(self, now: float) -> None:
        """Run timers: link watchdog per source, shelving expiry, message rates."""
        self._report_invented(now)
        if self.max_time_ahead_s is not None:
            self._check_console_clock(now)
        if self._pending_fold:
            self._flush_folded(now)
        if self._pending_channels:
            self._report_undeclared_channels(now)
        for source, stats in list(self.store.sources.items()):
            stats.update_rate(now)
            if not stats.declared and not now - stats.last_received < (
                UNDECLARED_SOURCE_PRUNE_S
            ):
                del self.store.sources[source]  # bookkeeping stays bounded
                for key in [k for k in self._last_reject_event if k[0] == source]:
                    del self._last_reject_event[key]
                continue
            if stats.last_seq < 0:
                continue
            stale_s = self._source_stale_s.get(source, 5.0)
            if stats.interval_s == stats.interval_s:
                stale_s = max(stale_s, 2.5 * stats.interval_s)
            silent = now - stats.last_received
            state = (
                "up"
                if silent <= stale_s
                else "stale"
                if silent <= 6 * stale_s
                else "down"
            )
            if state != stats.link:
                self._set_link(source, stats, state, now)
        self.alarms.tick(now)

    def _check_console_clock(self, now: float) -> None:
        """Raise or clear the console-clock alarm when its verdict changes."""
        watch = self._console_clock
        accepted = {
            source: stats.last_received
            for source, stats in self.store.sources.items()
            if stats.declared
        }
        verdict = watch.assess(now, accepted)
        if verdict.suspect == watch.suspect:
            return
        watch.suspect = verdict.suspect
        severity = Severity.CRITICAL if verdict.suspect else Severity.NOMINAL
        self._event(now, None, CONSOLE_CLOCK_ALARM, verdict.text(), int(severity))
        self._raise_alarm(
            LimitTransition(
                CONSOLE_CLOCK_ALARM,
                now,
                Severity.NOMINAL if verdict.suspect else Severity.CRITICAL,
                severity,
                verdict.offset_s,
                None,
                "clock",
            )
        )

    def _set_link(
        self, source: str, stats: SourceStats, state: str, now: float, detail: str = ""
    ) -> None:
        previous = stats.link
        stats.link = state
        if not stats.declared:
            # An invented source is no link anyone relies on: one message
            # each from a few hundred names must not flood the alarm list.
            return
        severity = _LINK_SEVERITY[state]
        self._event(
            now,
            source,
            f"link {state}",
            detail or f"{previous} -> {state}",
            int(severity),
        )
        self._raise_alarm(
            LimitTransition(
                f"link:{source}",
                now,
                _LINK_SEVERITY.get(previous, Severity.NOMINAL),
                severity,
                now - stats.last_received if state != "up" else 0.0,
                None,
                "link",
            )
        )

    def checkpoint(self) -> PipelineState:
        """Return the decoding and limit state, uncopied, for :meth:`restore`.

        The caller deep-copies it (a replay shares the dictionary's specs
        between copies); the store, alarms and derivers have their own.
        """
        return PipelineState(
            self.decoder, self._evaluators, self._last_reject_event, self._last_change
        )

    def restore(self, state: PipelineState) -> None:
        """Return to a :meth:`checkpoint` (a copy the caller no longer uses)."""
        self.decoder = state.decoder
        self._evaluators = state.evaluators
        self._last_reject_event = state.last_reject
        self._last_change = state.last_change or {}

    def reset(self) -> None:
        """Forget all state (a replay seek rebuilds it from the start)."""
        self.store.clear()
        self.alarms.clear()
        self.decoder = Decoder(self.dictionary)
        self._evaluators.clear()
        self._last_reject_event.clear()
        self._last_change.clear()
        self._pending_fold.clear()
        self._pending_channels.clear()
        for deriver in self.derivers:
            deriver.reset()
