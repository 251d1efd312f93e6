"""The dose estimator: routes inputs, owns the state, publishes snapshots and events.

The work is done by one module per concern (``streams``, ``integration``,
``alerts``, ``spe``, ``snapshot``); this class routes decoded batches to them,
screens inputs, and guards what other threads read.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import threading
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from telemetry.core.decoding import ChannelBatch
from telemetry.core.severity import Severity
from telemetry.radiation.estimator.integration import Integrator
from telemetry.radiation.estimator.model import (
    Batch,
    DoseEvent,
    DoseEventKind,
    DoseSnapshot,
    FloatArray,
    ShelterAction,
)
from telemetry.radiation.estimator.setup import EstimatorSetup
from telemetry.radiation.estimator.shelter import ShelterAdvisor
from telemetry.radiation.estimator.snapshot import SnapshotBuilder
from telemetry.radiation.estimator.spe import SpaceWeather
from telemetry.radiation.estimator.state import EstimatorState, Seed
from telemetry.radiation.shelter_rules import ShelterRules

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from telemetry.core.dictionary import TelemetryDictionary
    from telemetry.radiation.estimator.state import CrewState
    from telemetry.radiation.estimator.streams import CumulativeHistory
    from telemetry.radiation.roster import DoseLimits, EstimatorConfig, Roster

#: A dose input's out-of-range values raise at most one event per this much
#: sample time (they are all counted in ``DoseSnapshot.invalid_samples``).
INVALID_EVENT_INTERVAL_S: Final = 3600.0


class DoseEstimator:
    """Per-crew dose from area/personal dosimeters, crew location and space weather.

    Owned by the telemetry-pipeline thread (the pipeline calls :meth:`update`
    there). :meth:`snapshot` and :meth:`drain_events` may be called from any
    thread (the GUI's) and never wait for an update in progress. The snapshot
    is built on demand, once per change: building one on every update was
    most of the estimator's cost at high message rates.

    Input values outside their physical range (a negative dose rate or flux,
    a dose rate above ``MAX_DOSE_RATE_USV_H``, a flux above ``MAX_FLUX_PFU``,
    an impossible latitude or longitude) are ignored as not sampled, counted,
    and reported by a ``dose input invalid`` event: a negative reading never
    lowers a crew member's dose.

    Integration is by sample time. All inputs that decide a crew rate (area
    and personal dose-equivalent rates, crew module) are integrated up to a
    watermark: the latest time every one of them has reported, except that an
    input is not waited for once the freshest input is its hold time plus
    ``lateness_s`` ahead of it (it is then stale), and an input never heard
    from is ignored after ``lateness_s``. Each sample holds over its monitor's
    learned cadence (``SampleStream``).

    Crew rate at each instant, first that applies:

    1. personal: the crew member's own active dosimeter, if fresh;
    2. area: mean of the fresh monitors in their module × body factor;
    3. model: the fresh monitors elsewhere, each divided by its module's
       shielding factor, averaged and multiplied by the crew module's factor;
    4. model, stale: ``model_rate_usv_h`` × module factor (no fresh monitor),
       or the highest fresh module rate when the crew location is unknown.

    All mutable state is one :class:`EstimatorState`; a checkpoint copies it.
    """

    def __init__(
        self, dictionary: TelemetryDictionary, roster: Roster, limits: DoseLimits
    ) -> None:
        self.dictionary = dictionary
        self.roster = roster
        self.limits = limits
        self.config: EstimatorConfig = roster.estimator
        self.setup = EstimatorSetup(dictionary, roster, limits)
        self._integrator = Integrator(self.setup, limits, self._emit)
        self._weather = SpaceWeather(self.setup, self._emit)
        self.shelter_rules = ShelterRules.load()
        self._shelter = ShelterAdvisor(self.setup, self.shelter_rules, self._emit)
        self._builder = SnapshotBuilder(self.setup, limits, self.shelter_rules)
        # ``_lock`` guards the published snapshot and the pending events;
        # ``_state_lock`` is held by whichever thread changes or reads what a
        # snapshot is built from (the owner's updates, a snapshot build).
        self._lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._wanted = False  # a reader found the state busy: build after it
        self._version = 0
        self._state = EstimatorState.fresh(self.setup)
        self._snapshot = self._builder.build(self._state, self._version)
        self._publish()

    # ---------------------------------------------------------------- state

    def reset(self) -> None:
        """Forget everything accrued (a replay seek rebuilds from the start).

        Events not yet drained are dropped. A :meth:`seed_history` is kept.
        """
        with self._state_lock:
            old = self._state
            fresh = EstimatorState.fresh(self.setup, [c.seed for c in old.crew])
            fresh.seed_note = old.seed_note
            fresh.seed_time = old.seed_time
            fresh.ledger_problem = old.ledger_problem
            fresh.not_before = old.not_before
            with self._lock:
                self._state = fresh
            self._publish()

    def seed_history(
        self,
        per_crew_bins: Mapping[str, Sequence[tuple[float, float, float]]],
        *,
        now: float = math.nan,
        note: str = "",
    ) -> None:
        """Add the dose of earlier console sessions to the rolling and career totals.

        Owner thread, before any data (a live session does it from the dose
        ledger at start). ``per_crew_bins`` maps crew id to ``(start, end,
        msv)``: dose equivalent accrued between sample times ``start`` and
        ``end``, sorted and not overlapping; unknown crew ids are ignored.
        The rolling sums take the bins inside their window, the career total
        those since the member's ``mission_start`` (the roster's
        ``prior_career_msv`` holds the dose before it); session dose stays
        the dose since this estimator started. ``now`` dates the rolling
        sums shown before any data; ``note`` is published as
        ``DoseSnapshot.history_note``. A new call replaces the previous seed;
        :meth:`reset` keeps it.
        """
        with self._state_lock:
            state = self._state
            for setup, crew in zip(self.setup.crew, state.crew, strict=True):
                bins = per_crew_bins.get(setup.member.id, ())
                t: list[float] = []
                c: list[float] = []
                cov: list[float] = []
                total = 0.0
                covered = 0.0
                mission = dt.datetime.combine(
                    setup.member.mission_start, dt.time(), tzinfo=dt.UTC
                ).timestamp()
                career: list[float] = []
                for start, end, msv in bins:
                    t += [start, end]
                    c += [total, total + msv]
                    cov += [covered, covered + max(0.0, end - start)]
                    total += msv
                    covered += max(0.0, end - start)
                    if start >= mission:
                        career.append(msv)
                crew.seed = Seed(
                    np.array(t, dtype=np.float64),
                    np.array(c, dtype=np.float64),
                    math.fsum(career),
                    np.array(cov, dtype=np.float64),
                )
            state.seed_note = note
            state.seed_time = now
            state.dirty = True
            self._publish()

    def carry_over_advice(
        self,
        advice: Mapping[str, tuple[ShelterAction, str]],
        since: float | None = None,
    ) -> None:
        """Stand by the shelter advice of the console before a restart.

        Owner thread, before any data (a live session does it from the dose
        ledger at start). ``advice`` maps crew id to ``(action, why)``,
        ``since`` is the sample time it was first given; see
        ``ShelterAdvisor.carry_over`` for how long it stands.
        """
        with self._state_lock:
            self._shelter.carry_over(self._state, advice, since)
            self._publish()

    def standing_advice(
        self,
    ) -> tuple[float | None, list[tuple[str, ShelterAction, str]]]:
        """Return ``(since, [(crew id, action, why)])`` of the advice in force.

        Owner thread (the session writes it to the dose ledger).
        """
        with self._state_lock:
            state = self._state
            advice: list[tuple[str, ShelterAction, str]] = [
                (s.member.id, c.shelter_action, c.shelter.reason if c.shelter else "")
                for s, c in zip(self.setup.crew, state.crew, strict=True)
                if c.shelter_action != ShelterAction.NONE
            ]
            return state.shelter.since, advice

    def set_ledger_problem(self, text: str) -> None:
        """Say why this session's dose is not reaching the dose ledger ("": it is).

        Called by whoever writes the ledger (the session's tick, or the
        thread stopping it); published as ``DoseSnapshot.ledger_problem``.
        """
        with self._state_lock:
            if self._state.ledger_problem != text:
                self._state.ledger_problem = text
                self._state.dirty = True
                self._publish()

    @property
    def integrated_until(self) -> float:
        """Sample time the doses are integrated to (NaN before any data)."""
        return self._state.until

    def session_bins(
        self, since: float = -math.inf
    ) -> tuple[float, float, dict[str, dict[float, float]]]:
        """Return ``(first, until, crew -> {bin start: mSv})`` of this session.

        The dose each crew member accrued since integration started (or since
        sample time ``since``, if later: a console taking over the ledger
        writes only what the previous writer did not), per ``rolling_bin_s``
        bin of sample time (the last one partial). Owner thread, or any
        thread once the owner has stopped.
        """
        from telemetry.radiation.ledger import crew_bins

        bin_s = self.config.rolling_bin_s
        with self._state_lock:
            state = self._state
            self._integrator.flush(state)
            until = state.until
            out: dict[str, dict[float, float]] = {}
            first = math.nan
            for setup, crew in zip(self.setup.crew, state.crew, strict=True):
                history = crew.history
                if history is None or math.isnan(until):
                    continue
                first = float(history.t[0])
                t = [*history.t.tolist(), until]
                c = [*history.c.tolist(), crew.session]
                if since > first:
                    first = min(since, until)
                    c = [_dose_at(crew, history, first, until), *c]
                    keep = [i for i, x in enumerate(t) if x > first]
                    t = [first, *(t[i] for i in keep)]
                    c = [c[0], *(c[i + 1] for i in keep)]
                out[setup.member.id] = crew_bins(t, c, bin_s)
        return first, until, out

    def set_history_note(self, note: str) -> None:
        """Replace ``DoseSnapshot.history_note`` (the ledger's state changed)."""
        with self._state_lock:
            self._state.seed_note = note
            self._state.dirty = True
            self._publish()

    def checkpoint(self) -> EstimatorState:
        """Return a copy of the accrued state for :meth:`restore` (owner thread).

        The replay engine keeps one per checkpoint to seek quickly.
        """
        with self._state_lock:
            self._integrator.flush(self._state)
            return copy.deepcopy(self._state)

    def restore(self, state: object) -> None:
        """Return to a :meth:`checkpoint` (owner thread); the snapshot follows.

        The checkpoint itself is not consumed: it may be restored again.
        """
        assert isinstance(state, EstimatorState), "not a dose estimator checkpoint"
        with self._state_lock:
            fresh = copy.deepcopy(state)
            fresh.dirty = True
            with self._lock:
                self._state = fresh
            self._publish()

    def rebuild(self, batches: Iterable[Batch]) -> list[Batch]:
        """Reset, then feed ``batches`` in order; return the derived batches."""
        self.reset()
        out: list[Batch] = []
        for key, times, values in batches:
            out.extend(self.update(key, times, values))
        return out

    # ---------------------------------------------------------------- input

    def update(
        self, key: str, times: npt.ArrayLike, values: npt.ArrayLike
    ) -> list[Batch]:
        """Take one decoded channel batch; return derived batches to store.

        Parameters
        ----------
        key : str
            ``"<source>.<channel>"``, e.g. ``padles-jpm-1.dose_eq_rate``,
            ``c1.module`` (numeric enum code), ``iss.lat``, ``goes.p10``.
            Other keys are ignored.
        times : ndarray
            Sample times, unix seconds, in any order.
        values : ndarray
            Values (float64), NaN for not sampled.

        Returns
        -------
        list of (key, times, values)
            Derived channel batches: ``<crew>.dose_rate`` (µSv/h),
            ``.dose_session``, ``.dose_30d``, ``.dose_1y``, ``.dose_career``
            (mSv), ``.career_fraction``, ``.days_to_limit`` (d),
            ``.dose_uncertainty`` (relative 1σ) on the ``output_interval_s``
            grid, and ``iss.saa``, ``goes.s_scale``, ``goes.spe_active`` per
            input sample.
        """
        t: FloatArray = np.asarray(times, dtype=np.float64)
        v: FloatArray = np.asarray(values, dtype=np.float64)
        with self._state_lock:
            out = self._take(key, t, v)
            self._publish_if_wanted()
        return out

    def derive(self, batches: list[ChannelBatch]) -> list[ChannelBatch]:
        """Pipeline ``Deriver`` interface: all batches of one frame at once."""
        out: list[ChannelBatch] = []
        with self._state_lock:
            for batch in batches:
                t = np.asarray(batch.times, dtype=np.float64)
                v = np.asarray(batch.values, dtype=np.float64)
                for key, times, values in self._take(batch.key, t, v):
                    out.append(ChannelBatch(key, times, values))
            self._publish_if_wanted()
        return out

    def _take(self, key: str, t: FloatArray, v: FloatArray) -> list[Batch]:
        """Route one batch to its input (the caller holds ``_state_lock``)."""
        if t.shape[0] == 0:
            return []
        state = self._state
        setup = self.setup
        source, _, channel = key.partition(".")
        out: list[Batch] = []
        valid_range = setup.ranges.get(key)
        if valid_range is not None:
            v = self._screen(state, key, t, v, valid_range)
        stream = state.streams.get(key)
        late = state.late_count()
        if stream is not None:
            if key.endswith(".module"):
                v = self._module_indices(v)
            started = not math.isnan(state.until)
            floor = state.until - self.config.revise_window_s if started else -math.inf
            previous = stream.t
            earliest = stream.append(t, v, floor)
            if started and earliest <= state.until:
                # Late data: re-integrate from the sample before it (whose hold
                # may change with the new interval), or from the earliest.
                i = int(np.searchsorted(previous, earliest)) - 1
                since = float(previous[i]) if i >= 0 else earliest
                state.revise_from = min(state.revise_from, since)
                state.revise_keys.add(key)
                state.dirty = True
            if stream.seen:
                self._note_first(state, stream.first, t)
            if not state.prior_judged and state.first_seen == state.first_seen:
                # The career record is known before any dose is integrated.
                state.prior_judged = True
                out.extend(self._integrator.judge_prior(state, state.first_seen))
            out.extend(self._integrator.advance(state))
        elif source == setup.goes_id and channel in ("p10", "p100"):
            rows = state.goes.add(0 if channel == "p10" else 1, t, v)
            out.extend(self._weather.space_weather(state, *rows))
        elif source == setup.orbit_id and channel in ("lat", "lon"):
            rows = state.orbit.add(0 if channel == "lat" else 1, t, v)
            out.extend(self._weather.orbit_rows(state, *rows))
        else:
            return []
        self._shelter.process(state)
        if state.late_count() != late:
            state.dirty = True
        return out

    @staticmethod
    def _note_first(state: EstimatorState, first: float, t: FloatArray) -> None:
        """Move the session's start (``first_seen``) for a stream's new samples.

        Samples before ``not_before`` (a dosimeter flushing hours of buffer
        as a live console starts) are history: that time belongs to earlier
        sessions' ledger bins, and integrating from it would invent dose over
        every hour in between. They start the session only while nothing
        newer has come (a recording sent again is all old, and still shown);
        the first newer sample then takes over, if integration has not begun.
        """
        nb = state.not_before
        if first >= nb:
            start = first
        else:
            recent = t[t >= nb]
            start = float(recent.min()) if recent.shape[0] else math.nan
        old_start = not state.first_seen >= nb  # NaN, or set by old samples only
        if math.isnan(start):
            if old_start and not first >= state.first_seen:  # NaN at first
                state.first_seen = first
        elif not start >= state.first_seen or (old_start and math.isnan(state.until)):
            state.first_seen = start

    def start_not_before(self, t: float) -> None:
        """Integrate this session from sample time ``t`` on (a live console's start).

        Owner thread, before any data; a :meth:`reset` keeps it.
        """
        with self._state_lock:
            self._state.not_before = t

    def _screen(
        self,
        state: EstimatorState,
        key: str,
        t: FloatArray,
        v: FloatArray,
        valid_range: tuple[float, float, str],
    ) -> FloatArray:
        """Return ``v`` with values outside ``valid_range`` as NaN (not sampled)."""
        lo, hi, unit = valid_range
        bad = (v < lo) | (v > hi) | np.isinf(v)  # NaN stays "not sampled"
        if not bad.any():
            return v
        n = int(np.count_nonzero(bad))
        state.invalid[key] = state.invalid.get(key, 0) + n
        state.dirty = True
        first = int(np.flatnonzero(bad)[0])
        when = float(t[first])
        last_event = state.invalid_event_at.get(key, -math.inf)
        if not when - last_event < INVALID_EVENT_INTERVAL_S:
            state.invalid_event_at[key] = when
            self._emit(
                DoseEvent(
                    when,
                    DoseEventKind.INPUT_INVALID,
                    Severity.WATCH,
                    f"{key}: {n} value(s) outside [{lo:g}, {hi:g}] {unit} ignored "
                    f"(first {float(v[first]):.3g}); "
                    f"{state.invalid[key]} so far",
                )
            )
        return np.where(bad, np.nan, v)

    def _module_indices(self, codes: FloatArray) -> FloatArray:
        """Enum codes -> module index as float (-1 for a code that is no module)."""
        lut = self.setup.module_lut
        ok = np.isfinite(codes) & (codes >= 0) & (codes < lut.shape[0])
        ok &= codes == np.round(codes)
        idx = np.where(ok, codes, 0).astype(np.intp)
        return np.where(ok, lut[idx], -1).astype(np.float64)

    # --------------------------------------------------------------- events

    def _emit(self, event: DoseEvent) -> None:
        with self._lock:
            events = self._state.events
            if len(events) == events.maxlen:
                self._state.dropped_events += 1
            events.append(event)

    def drain_events(self) -> list[DoseEvent]:
        """Return and forget the events raised since the last call (any thread).

        In sample-time order (a stable sort: one integration step raises
        events of several crew members and inputs).
        """
        with self._lock:
            events = list(self._state.events)
            self._state.events.clear()
        events.sort(key=lambda e: e.time)
        return events

    # ------------------------------------------------------------- snapshot

    def snapshot(self) -> DoseSnapshot:
        """Return an immutable snapshot of the estimator (any thread; never waits).

        It is built here, at most once per change. If the owner thread is in
        the middle of an update, the previous snapshot is returned at once and
        the owner builds a new one when that update ends (so a GUI polling at
        its refresh rate is at most one poll behind, and the subscriber builds
        at most once per poll, not once per update).
        """
        if self._state_lock.acquire(blocking=False):
            try:
                self._integrator.flush(self._state)
                if self._state.dirty:
                    self._publish()
            finally:
                self._state_lock.release()
        else:
            self._wanted = True
        with self._lock:
            return self._snapshot

    def _publish_if_wanted(self) -> None:
        if self._wanted and self._state.dirty:
            self._integrator.flush(self._state)
            self._publish()

    def _publish(self) -> None:
        """Build and publish the snapshot (the caller holds ``_state_lock``)."""
        self._version += 1
        snap = self._builder.build(self._state, self._version)
        with self._lock:
            self._snapshot = snap
        self._state.dirty = False
        self._wanted = False


def _dose_at(
    crew: CrewState, history: CumulativeHistory, t: float, until: float
) -> float:
    """Session dose at sample time ``t`` (mSv H).

    On the output grid while it is kept (the last hours), else interpolated
    between bin edges.
    """
    grid = crew.fine_t.shape[0] > 0 and crew.fine_t[0] <= t
    knots_t = crew.fine_t if grid else history.t
    knots_c = crew.fine_c if grid else history.c
    xs = np.append(knots_t, until)
    ys = np.append(knots_c, crew.session)
    return float(np.interp(t, xs, ys))
