"""Real-time crew dose estimation: dose rate channels in, per-crew dose channels out.

Owns per-crew accumulators, budgets, SPE/SAA state and the GUI's ``DoseSnapshot``.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from telemetry.core.decoding import ChannelBatch
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.severity import Severity
from telemetry.radiation.physics import SECONDS_PER_DAY, SECONDS_PER_HOUR
from telemetry.radiation.roster import (
    CareerLimit,
    CrewMember,
    DoseLimits,
    EstimatorConfig,
    Roster,
    ShortTermLimit,
)
from telemetry.radiation.spaceweather import (
    SpeDetector,
    SpeState,
    SpeTransitionKind,
    in_saa,
    s_label,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

FloatArray = npt.NDArray[np.float64]
Batch = tuple[str, FloatArray, FloatArray]

#: Derived channels emitted per crew member, ``"<crew>.<name>"``.
CREW_CHANNELS: Final = (
    "dose_rate",
    "dose_session",
    "dose_30d",
    "dose_1y",
    "dose_career",
    "career_fraction",
    "days_to_limit",
    "dose_uncertainty",
)
#: A rolling limit re-arms its alerts once the dose is this fraction below a level.
ALERT_REARM_FRACTION: Final = 0.02
#: Events kept for :meth:`DoseEstimator.drain_events`; older ones are dropped.
MAX_PENDING_EVENTS: Final = 10_000
#: Output-grid points one integration step may produce (~11.6 d at 10 s).
MAX_GRID_POINTS: Final = 100_000
#: Largest dose-equivalent rate taken as a measurement (µSv/h; 10 Sv/h, an
#: acute lethal dose within the hour). ISS monitors read ~10-30 µSv/h and a
#: few hundred in a deep SAA pass; the dictionary's display range ends at
#: 5,000. Fuzzing fix: a reading near 1e307 overflowed the integral to inf
#: (RuntimeWarning) and made every crew total infinite for the session.
MAX_DOSE_RATE_USV_H: Final = 1e7
#: Largest GOES integral proton flux taken as a measurement (pfu, >10 and
#: >100 MeV): about 20x the largest SPE on record (~43,000 pfu >10 MeV, 1991).
MAX_FLUX_PFU: Final = 1e6
#: A dose input's out-of-range values raise at most one event per this much
#: sample time (they are all counted in ``DoseSnapshot.invalid_samples``).
INVALID_EVENT_INTERVAL_S: Final = 3600.0
_RAD_CHANNEL: Final = "dose_eq_rate"


class EstimateSource(StrEnum):
    """Where a crew member's dose rate comes from."""

    PERSONAL = "personal"  # their own active dosimeter
    AREA = "area"  # monitors in the module they are in
    MODEL = "model"  # another module's monitors scaled by shielding, or the baseline
    NONE = "none"  # nothing integrated yet


_SOURCE_CODES: Final = (
    EstimateSource.PERSONAL,
    EstimateSource.AREA,
    EstimateSource.MODEL,
)


class DoseEventKind(StrEnum):
    """What a DoseEvent reports."""

    LIMIT = "dose limit"
    SPE_ONSET = "SPE onset"
    SPE_END = "SPE end"
    ENERGETIC_SPE = "energetic SPE"
    ENERGETIC_SPE_END = "energetic SPE end"
    SHELTER = "shelter recommended"
    SHELTER_CLEARED = "shelter cleared"
    DATA_STALE = "dose data stale"
    DATA_FRESH = "dose data fresh"
    INPUT_INVALID = "dose input invalid"


@dataclass(frozen=True, slots=True)
class DoseEvent:
    """An alert for the event log; ``time`` is the sample time it refers to."""

    time: float
    kind: DoseEventKind
    severity: Severity
    message: str
    crew: str | None = None
    limit_id: str | None = None
    fraction: float | None = None


@dataclass(frozen=True, slots=True)
class LimitStatus:
    """One limit for one crew member: dose against it, fraction, days left."""

    id: str
    label: str
    limit: float
    unit: str
    window_days: float | None
    dose: float
    fraction: float
    days_to_limit: float
    level: Severity
    source: str
    status: str


@dataclass(frozen=True, slots=True)
class CrewDose:
    """Everything the display shows for one crew member (doses in mSv).

    Rate, session and career dose are as of the snapshot time; rolling sums,
    per-limit fractions and days to limit as of ``budgets_time``, the last
    output-grid time (at most ``output_interval_s`` earlier). ``earlier_msv``
    is the dose of earlier console sessions since the mission start (the dose
    ledger), part of ``career_msv`` = prior + earlier + session.
    """

    crew_id: str
    name: str
    agency: str
    module: str | None
    source: EstimateSource
    stale: bool
    rate_usv_h: float
    trailing_rate_msv_d: float
    session_msv: float
    dose_30d_msv: float
    dose_1y_msv: float
    prior_msv: float
    career_msv: float
    career_limit_msv: float
    career_fraction: float
    days_to_limit: float
    limiting: str
    uncertainty_rel: float
    projected_mission_msv: float | None
    limits: tuple[LimitStatus, ...]
    level: Severity
    budgets_time: float
    earlier_msv: float = 0.0

    @property
    def remaining_msv(self) -> float:
        return self.career_limit_msv - self.career_msv

    @property
    def band_msv(self) -> tuple[float, float]:
        """Session dose ± 1σ."""
        sigma = self.uncertainty_rel * self.session_msv
        return self.session_msv - sigma, self.session_msv + sigma


@dataclass(frozen=True, slots=True)
class ShelterAdvice:
    """Whether to shelter, why, where, and the dose it would avoid (mSv)."""

    recommended: bool
    since: float | None
    reason: str
    module: str
    horizon_h: float
    dose_avoided_msv: float
    per_crew: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class DoseSnapshot:
    """An immutable view of the estimator for the GUI thread.

    ``time`` is the sample time doses are integrated to (NaN before any).
    ``invalid_samples`` counts input values outside their physical range
    (``MAX_DOSE_RATE_USV_H``, ``MAX_FLUX_PFU``, latitude/longitude), ignored.
    ``history_note`` says what the totals hold of earlier console sessions
    (the dose ledger); empty when the estimator was not seeded.
    """

    time: float
    crew: tuple[CrewDose, ...]
    spe: SpeState
    saa: bool | None
    saa_since: float
    shelter: ShelterAdvice
    late_samples: int
    dropped_events: int
    version: int
    invalid_samples: int = 0
    history_note: str = ""

    def member(self, crew_id: str) -> CrewDose:
        for crew in self.crew:
            if crew.crew_id == crew_id:
                return crew
        raise KeyError(crew_id)


# ------------------------------------------------------------- inputs


class _Stream:
    """Samples of one input, kept until the watermark passes them (zmq-subscriber)."""

    __slots__ = ("first", "key", "late", "stale_s", "t", "v")

    def __init__(self, key: str, stale_s: float) -> None:
        self.key = key
        self.stale_s = stale_s
        self.t = np.empty(0)
        self.v = np.empty(0)
        self.first = math.nan
        self.late = 0

    @property
    def seen(self) -> bool:
        return self.t.shape[0] > 0

    @property
    def known(self) -> float:
        """The latest sample time: the stream is determined up to here."""
        return float(self.t[-1]) if self.t.shape[0] else -math.inf

    def append(self, times: FloatArray, values: FloatArray, floor: float) -> None:
        """Add samples newer than both the last one and ``floor`` (integrated)."""
        valid = np.isfinite(values)  # NaN: not sampled, which is not late
        keep = times > max(self.known, floor)
        if times.shape[0] > 1:
            # Within a batch, times must also increase; repeats are dropped.
            keep &= np.concatenate(([True], np.diff(times) > 0))
        self.late += int(np.count_nonzero(valid & ~keep))
        keep &= valid
        if not keep.any():
            return
        if not self.seen:
            self.first = float(times[keep][0])
        self.t = np.concatenate((self.t, times[keep]))
        self.v = np.concatenate((self.v, values[keep]))

    def at(self, points: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return (held value, age) at each point; NaN value before any sample."""
        idx = np.searchsorted(self.t, points, side="right") - 1
        has = idx >= 0
        safe = np.maximum(idx, 0)
        if self.t.shape[0] == 0:
            nan = np.full(points.shape[0], np.nan)
            return nan, np.full(points.shape[0], np.inf)
        values = np.where(has, self.v[safe], np.nan)
        ages = np.where(has, points - self.t[safe], np.inf)
        return values, ages

    def fresh_at(self, points: FloatArray) -> FloatArray:
        """Held values, NaN once older than the stale time (hold at most that long)."""
        values, ages = self.at(points)
        return np.where(ages < self.stale_s, values, np.nan)

    def expiries(self, lo: float, hi: float) -> FloatArray:
        """Return times in (lo, hi) where a sample goes stale before the next one."""
        if self.t.shape[0] == 0:
            return np.empty(0)
        ends = self.t + self.stale_s
        gaps = np.append(self.t[1:] > ends[:-1], True)
        ends = ends[gaps]
        return np.asarray(ends[(ends > lo) & (ends < hi)], dtype=np.float64)

    def times_in(self, lo: float, hi: float) -> FloatArray:
        i = np.searchsorted(self.t, lo, side="right")
        j = np.searchsorted(self.t, hi, side="left")
        return self.t[i:j]

    def trim(self, before: float) -> None:
        """Drop samples older than the last one at or before ``before``."""
        i = int(np.searchsorted(self.t, before, side="right")) - 1
        if i > 0:
            self.t = self.t[i:]
            self.v = self.v[i:]


class _RowJoiner:
    """Pairs two channels of one source by sample time; zmq-subscriber thread.

    A frame may omit a value (null), so rows are released once both channels
    have reached their time, or the other has been silent for ``timeout_s``
    of sample time; a missing partner is NaN.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._t: list[FloatArray] = [np.empty(0), np.empty(0)]
        self._v: list[FloatArray] = [np.empty(0), np.empty(0)]
        self._known = [-math.inf, -math.inf]
        self._released = -math.inf
        self.late = 0

    def add(
        self, side: int, times: FloatArray, values: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        floor = max(self._released, self._known[side])
        keep = times > floor
        if times.shape[0] > 1:
            keep &= np.concatenate(([True], np.diff(times) > 0))
        self.late += int(times.shape[0] - np.count_nonzero(keep))
        if keep.any():
            self._t[side] = np.concatenate((self._t[side], times[keep]))
            self._v[side] = np.concatenate((self._v[side], values[keep]))
            self._known[side] = float(times[keep][-1])
        bound = max(min(self._known), max(self._known) - self.timeout_s)
        if bound <= self._released:
            empty = np.empty(0)
            return empty, empty, empty
        self._released = bound
        cut = [int(np.searchsorted(t, bound, side="right")) for t in self._t]
        ta, tb = self._t[0][: cut[0]], self._t[1][: cut[1]]
        va, vb = self._v[0][: cut[0]], self._v[1][: cut[1]]
        for s in (0, 1):
            self._t[s] = self._t[s][cut[s] :]
            self._v[s] = self._v[s][cut[s] :]
        rows = np.union1d(ta, tb)
        return rows, _place(rows, ta, va), _place(rows, tb, vb)


def _place(rows: FloatArray, t: FloatArray, v: FloatArray) -> FloatArray:
    out = np.full(rows.shape[0], np.nan)
    out[np.searchsorted(rows, t)] = v
    return out


class _CumulativeHistory:
    """Session dose at bin edges, for rolling sums; zmq-subscriber thread.

    Between edges the dose is interpolated linearly (exact for a rate that is
    constant within a bin; otherwise off by at most part of one bin's dose).
    """

    __slots__ = ("c", "keep_s", "t")

    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self.t = np.empty(0)
        self.c = np.empty(0)

    def append(self, t: FloatArray, c: FloatArray) -> None:
        if t.shape[0] == 0:
            return
        self.t = np.concatenate((self.t, t))
        self.c = np.concatenate((self.c, c))
        i = int(np.searchsorted(self.t, self.t[-1] - self.keep_s, side="right")) - 1
        if i > 0:
            self.t = self.t[i:]
            self.c = self.c[i:]

    def at(self, times: FloatArray) -> FloatArray:
        # Before the first knot (the start) nothing had been accrued.
        return np.asarray(np.interp(times, self.t, self.c, left=0.0), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class _Limit:
    """A limit as the estimator evaluates it (career or a rolling window)."""

    id: str
    label: str
    value: float
    unit: str
    window_days: float | None
    source: str
    status: str


class _Crew:
    """Accumulators of one crew member (zmq-subscriber thread only)."""

    def __init__(
        self, member: CrewMember, career: CareerLimit, limits: list[_Limit]
    ) -> None:
        self.member = member
        self.career = career
        self.limits = limits
        self.windows = [lim.window_days for lim in limits]
        self.values = np.array([lim.value for lim in limits])
        self.is_career = np.array([w is None for w in self.windows])
        self.window_days = np.array([w or 0.0 for w in self.windows])
        self.personal: _Stream | None = None
        self.module: _Stream | None = None
        # Dose of earlier console sessions (seed_history), kept by reset():
        # cumulative mSv at bin starts and ends, and the part since the
        # mission start (career).
        self.earlier_t = np.empty(0)
        self.earlier_c = np.empty(0)
        self.earlier_career = 0.0
        self.reset()

    def earlier_at(self, times: FloatArray) -> FloatArray:
        """Dose of earlier sessions accrued by ``times`` (mSv)."""
        if self.earlier_t.shape[0] == 0:
            return np.zeros(times.shape[0])
        return np.asarray(
            np.interp(times, self.earlier_t, self.earlier_c, left=0.0),
            dtype=np.float64,
        )

    def reset(self) -> None:
        self.session = 0.0  # mSv since the start of integration
        self.sigma = 0.0  # absolute 1σ of the session dose, mSv
        self.rate = math.nan  # µSv/h now
        self.source = EstimateSource.NONE
        self.stale = False
        self.module_id: str | None = None
        self.alert_level = [0] * len(self.limits)
        self.history: _CumulativeHistory | None = None
        self.now: dict[str, float] = {}
        self.limit_now: list[tuple[float, float, float]] = []


# ------------------------------------------------------------ estimator


class DoseEstimator:
    """Per-crew dose from area/personal dosimeters, crew location and space weather.

    Owned by the zmq-subscriber thread (the pipeline calls :meth:`update`
    there). :meth:`snapshot` and :meth:`drain_events` may be called from any
    thread (the GUI's) and never wait for an update in progress. The snapshot
    is built on demand, once per change: building one on every update was
    most of the estimator's cost at high message rates.

    Input values outside their physical range (a dose rate above
    ``MAX_DOSE_RATE_USV_H``, a flux above ``MAX_FLUX_PFU``, an impossible
    latitude or longitude) are ignored as not sampled, counted, and reported
    by a ``dose input invalid`` event.

    Integration is by sample time. All inputs that decide a crew rate (area
    and personal dose-equivalent rates, crew module) are integrated up to a
    watermark: the latest time every one of them has reported, except that an
    input is not waited for once the freshest input is ``stale_after_s +
    lateness_s`` ahead of it (it is then stale), and an input never heard
    from is ignored after ``lateness_s``. So live, replay at any speed and
    any batching give the same totals as long as no publisher lags by more
    than ``lateness_s``; samples older than the watermark are counted as late
    and dropped.

    Crew rate at each instant, first that applies:

    1. personal: the crew member's own active dosimeter, if fresh;
    2. area: mean of the fresh monitors in their module × body factor;
    3. model: the fresh monitors elsewhere, each divided by its module's
       shielding factor, averaged and multiplied by the crew module's factor;
    4. model, stale: ``model_rate_usv_h`` × module factor (no fresh monitor),
       or the highest fresh module rate when the crew location is unknown.

    The estimate is flagged stale when it runs on a fallback because data it
    should use stopped (personal dosimeter or crew location older than their
    stale time, no monitor at all).
    """

    def __init__(
        self, dictionary: TelemetryDictionary, roster: Roster, limits: DoseLimits
    ) -> None:
        self.dictionary = dictionary
        self.roster = roster
        self.limits = limits
        self.config: EstimatorConfig = roster.estimator
        cfg = self.config
        self._modules = list(dictionary.modules)
        if cfg.shelter.module not in dictionary.modules:
            raise ValueError(
                f"{roster.path}: [estimator.shelter] module {cfg.shelter.module!r} "
                f"is not a module of {dictionary.path} ({self._modules})"
            )
        self._shelter_idx = self._modules.index(cfg.shelter.module)
        self._sf = np.array(
            [dictionary.modules[m].shielding_factor for m in self._modules]
        )
        crew_module = dictionary.channel("crew", "module")
        if crew_module is None or not crew_module.states:
            raise ValueError(
                f"{dictionary.path}: crew family needs an enum 'module' channel"
            )
        self._module_lut = self._module_codes(crew_module.states)
        module_stale = crew_module.stale_after_s

        rad_spec = dictionary.channel("rad", _RAD_CHANNEL)
        rad_stale = rad_spec.stale_after_s if rad_spec else 30.0
        self._area: list[tuple[_Stream, int]] = []
        personal: dict[str, _Stream] = {}  # by source id
        worn_by: dict[str, str] = {}  # crew id -> source id, from the dictionary
        for source in dictionary.sources_of("rad"):
            stream = _Stream(f"{source.id}.{_RAD_CHANNEL}", rad_stale)
            if source.crew is not None:
                personal[source.id] = stream
                worn_by[source.crew] = source.id
            elif source.module is not None:
                self._area.append((stream, self._modules.index(source.module)))
        n_mod = len(self._modules)
        self._membership = np.zeros((n_mod, len(self._area)))
        for k, (_, m) in enumerate(self._area):
            self._membership[m, k] = 1.0
        self._area_sf = np.array([self._sf[m] for _, m in self._area])

        self._crew: list[_Crew] = []
        self._streams: dict[str, _Stream] = {s.key: s for s, _ in self._area}
        for member in roster.crew:
            try:
                career = limits.career_limit(
                    member.agency, member.sex, member.age_at_first_flight
                )
            except KeyError as exc:
                raise ValueError(
                    f"{roster.path}: crew {member.id}: {exc.args[0]}"
                ) from None
            crew = _Crew(member, career, self._limits_for(member, career))
            # The roster names the dosimeter; otherwise the dictionary's ``crew``.
            dosimeter = member.personal_dosimeter or worn_by.get(member.id)
            if dosimeter is not None:
                if dosimeter not in personal:
                    raise ValueError(
                        f"{roster.path}: crew {member.id}: personal dosimeter "
                        f"{dosimeter!r} is not a personal rad source of "
                        f"{dictionary.path}"
                    )
                crew.personal = personal[dosimeter]
            crew.module = _Stream(f"{member.id}.module", module_stale)
            self._streams[crew.module.key] = crew.module
            if crew.personal is not None:
                self._streams[crew.personal.key] = crew.personal
            self._crew.append(crew)

        goes = dictionary.sources_of("spacewx")
        orbit = dictionary.sources_of("orbit")
        self._goes_id = goes[0].id if goes else "goes"
        self._orbit_id = orbit[0].id if orbit else "iss"
        self._goes_timeout = self._join_timeout("spacewx", ("p10", "p100"))
        self._orbit_timeout = self._join_timeout("orbit", ("lat", "lon"))
        sig = cfg.uncertainty
        self._sigma = np.array(
            [
                [sig.relative(str(src), stale) for stale in (False, True)]
                for src in _SOURCE_CODES
            ]
        )
        # ``_lock`` guards the published snapshot and the pending events;
        # ``_state_lock`` is held by whichever thread changes or reads what a
        # snapshot is built from (the owner's updates, a snapshot build).
        self._lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._wanted = False  # a reader found the state busy: build after it
        # Valid range and unit of the inputs screened for absurd values.
        self._ranges: dict[str, tuple[float, float, str]] = {
            stream.key: (-MAX_DOSE_RATE_USV_H, MAX_DOSE_RATE_USV_H, "µSv/h")
            for stream in self._streams.values()
            if stream.key.endswith(f".{_RAD_CHANNEL}")
        }
        for name in ("p10", "p100"):
            self._ranges[f"{self._goes_id}.{name}"] = (-math.inf, MAX_FLUX_PFU, "pfu")
        self._ranges[f"{self._orbit_id}.lat"] = (-90.0, 90.0, "deg")
        self._ranges[f"{self._orbit_id}.lon"] = (-360.0, 360.0, "deg")
        # Undrained events are bounded: drop the oldest and count the drops.
        self._events: deque[DoseEvent] = deque(maxlen=MAX_PENDING_EVENTS)
        self._dropped_events = 0
        self._version = 0
        self._seed_note = ""
        self._seed_time = math.nan
        self._reset_state()

    # ---------------------------------------------------------------- setup

    def _module_codes(self, states: dict[str, int]) -> npt.NDArray[np.intp]:
        """Lookup table enum code -> module index (-1: not a module)."""
        by_name = {m.casefold(): i for i, m in enumerate(self._modules)}
        lut = np.full(max(max(states.values()), 0) + 1, -1, dtype=np.intp)
        for name, code in states.items():
            if code >= 0 and name.casefold() in by_name:
                lut[code] = by_name[name.casefold()]
        return lut

    def _join_timeout(self, family: str, names: tuple[str, str]) -> float:
        """Wait for a missing partner as long as for a lagging dose input."""
        stale = [
            c.stale_after_s for n in names if (c := self.dictionary.channel(family, n))
        ]
        return max([*stale, self.config.lateness_s])

    def _limits_for(self, member: CrewMember, career: CareerLimit) -> list[_Limit]:
        out = [
            _Limit(
                "career",
                f"career ({member.agency})",
                career.limit_msv,
                "mSv",
                None,
                career.source,
                career.status,
            )
        ]
        short: Sequence[ShortTermLimit] = self.limits.evaluated_short_term()
        for s in short:
            window = f"{s.window_days:g} d"
            out.append(
                _Limit(
                    s.id,
                    f"{s.organ} {window}",
                    s.limit,
                    s.unit,
                    s.window_days,
                    s.source,
                    s.status,
                )
            )
        return out

    def _reset_state(self) -> None:
        self._until = math.nan
        self._first_seen = math.nan
        self._invalid: dict[str, int] = {}
        self._invalid_event_at: dict[str, float] = {}
        for stream in self._streams.values():
            stream.t = np.empty(0)
            stream.v = np.empty(0)
            stream.first = math.nan
            stream.late = 0
        for crew in self._crew:
            crew.reset()
        self._spe = SpeDetector(self.config.spe)
        self._goes = _RowJoiner(self._goes_timeout)
        self._orbit = _RowJoiner(self._orbit_timeout)
        self._saa: bool | None = None
        self._saa_since = math.nan
        self._shelter_on = False
        self._shelter_since: float | None = None
        self._shelter_reason = ""
        self._shelter_clear = 0
        self._shelter_run = 0
        self._shelter_run_start = math.nan
        self._shelter_rate = math.nan
        keep = (
            max(
                [365.0, self.config.projection_window_days]
                + [s.window_days for s in self.limits.evaluated_short_term()]
            )
            * SECONDS_PER_DAY
            + self.config.rolling_bin_s
        )
        self._history_keep_s = keep
        with self._lock:
            self._events.clear()
            self._dropped_events = 0
        self._publish()

    def reset(self) -> None:
        """Forget everything accrued (a replay seek rebuilds from the start).

        Events not yet drained are dropped. A :meth:`seed_history` is kept.
        """
        with self._state_lock:
            self._reset_state()

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
            for crew in self._crew:
                bins = per_crew_bins.get(crew.member.id, ())
                t: list[float] = []
                c: list[float] = []
                total = 0.0
                mission = dt.datetime.combine(
                    crew.member.mission_start, dt.time(), tzinfo=dt.UTC
                ).timestamp()
                career: list[float] = []
                for start, end, msv in bins:
                    t += [start, end]
                    c += [total, total + msv]
                    total += msv
                    if start >= mission:
                        career.append(msv)
                crew.earlier_t = np.array(t, dtype=np.float64)
                crew.earlier_c = np.array(c, dtype=np.float64)
                crew.earlier_career = math.fsum(career)
            self._seed_note = note
            self._seed_time = now
            self._publish()

    @property
    def integrated_until(self) -> float:
        """Sample time the doses are integrated to (NaN before any data)."""
        return self._until

    def session_bins(self) -> tuple[float, float, dict[str, dict[float, float]]]:
        """Return ``(first, until, crew -> {bin start: mSv})`` of this session.

        The dose each crew member accrued since integration started, per
        ``rolling_bin_s`` bin of sample time (the last one partial). Owner
        thread, or any thread once the owner has stopped.
        """
        from telemetry.radiation.ledger import crew_bins

        bin_s = self.config.rolling_bin_s
        with self._state_lock:
            until = self._until
            out: dict[str, dict[float, float]] = {}
            first = math.nan
            for crew in self._crew:
                history = crew.history
                if history is None or math.isnan(until):
                    continue
                first = float(history.t[0])
                t = [*history.t.tolist(), until]
                c = [*history.c.tolist(), crew.session]
                out[crew.member.id] = crew_bins(t, c, bin_s)
        return first, until, out

    # Attributes a checkpoint leaves out: locks, the read-only configuration,
    # and the snapshot, rebuilt (with a new version) on the next read.
    _NOT_CHECKPOINTED: Final = frozenset(
        {
            "dictionary",
            "roster",
            "limits",
            "config",
            "_lock",
            "_state_lock",
            "_wanted",
            "_snapshot",
            "_version",
        }
    )

    def checkpoint(self) -> object:
        """Return a copy of the accrued state for :meth:`restore` (owner thread).

        The replay engine keeps one per checkpoint to seek quickly.
        """
        with self._state_lock:
            state = {
                k: v for k, v in vars(self).items() if k not in self._NOT_CHECKPOINTED
            }
            return copy.deepcopy(state, self._shared_memo())

    def restore(self, state: object) -> None:
        """Return to a :meth:`checkpoint` (owner thread); the snapshot follows.

        The checkpoint itself is not consumed: it may be restored again.
        """
        assert isinstance(state, dict)
        with self._state_lock:
            fresh = copy.deepcopy(state, self._shared_memo())
            with self._lock:
                vars(self).update(fresh)
            self._publish()

    def _shared_memo(self) -> dict[int, object]:
        """Deepcopy memo: objects every checkpoint shares (read-only after init)."""
        shared: list[object] = [self.dictionary, self.roster, self.limits, self.config]
        for crew in self._crew:
            shared += [crew.member, crew.career, *crew.limits]
        return {id(obj): obj for obj in shared}

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
            Sample times, unix seconds, increasing.
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

    def _take(self, key: str, t: FloatArray, v: FloatArray) -> list[Batch]:
        """Route one batch to its input (the caller holds ``_state_lock``)."""
        if t.shape[0] == 0:
            return []
        source, _, channel = key.partition(".")
        out: list[Batch] = []
        valid_range = self._ranges.get(key)
        if valid_range is not None:
            v = self._screen(key, t, v, valid_range)
        stream = self._streams.get(key)
        late = self._late_count()
        if stream is not None:
            if key.endswith(".module"):
                v = self._module_indices(v)
            started = not math.isnan(self._until)
            stream.append(t, v, self._until if started else -math.inf)
            if stream.seen and not stream.first >= self._first_seen:  # NaN at first
                self._first_seen = stream.first
            out.extend(self._advance())
        elif source == self._goes_id and channel in ("p10", "p100"):
            rows = self._goes.add(0 if channel == "p10" else 1, t, v)
            out.extend(self._space_weather(*rows))
        elif source == self._orbit_id and channel in ("lat", "lon"):
            rows = self._orbit.add(0 if channel == "lat" else 1, t, v)
            out.extend(self._orbit_rows(*rows))
        else:
            return []
        if self._late_count() != late:
            self._dirty = True
        return out

    def _screen(
        self,
        key: str,
        t: FloatArray,
        v: FloatArray,
        valid_range: tuple[float, float, str],
    ) -> FloatArray:
        """Return ``v`` with values outside ``valid_range`` as NaN (not sampled)."""
        lo, hi, unit = valid_range
        bad = (v < lo) | (v > hi)  # NaN compares False: it stays not sampled
        if not bad.any():
            return v
        n = int(np.count_nonzero(bad))
        self._invalid[key] = self._invalid.get(key, 0) + n
        self._dirty = True
        first = int(np.flatnonzero(bad)[0])
        when = float(t[first])
        last_event = self._invalid_event_at.get(key, -math.inf)
        if not when - last_event < INVALID_EVENT_INTERVAL_S:
            self._invalid_event_at[key] = when
            self._emit(
                DoseEvent(
                    when,
                    DoseEventKind.INPUT_INVALID,
                    Severity.WATCH,
                    f"{key}: {n} value(s) outside [{lo:g}, {hi:g}] {unit} ignored "
                    f"(first {float(v[first]):.3g}); "
                    f"{self._invalid[key]} so far",
                )
            )
        return np.where(bad, np.nan, v)

    def _late_count(self) -> int:
        joined = self._goes.late + self._orbit.late
        return joined + sum(s.late for s in self._streams.values())

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

    def _module_indices(self, codes: FloatArray) -> FloatArray:
        """Enum codes -> module index as float (-1 for a code that is no module)."""
        lut = self._module_lut
        ok = np.isfinite(codes) & (codes >= 0) & (codes < lut.shape[0])
        ok &= codes == np.round(codes)
        idx = np.where(ok, codes, 0).astype(np.intp)
        return np.where(ok, lut[idx], -1).astype(np.float64)

    # ---------------------------------------------------------- integration

    def _watermark(self) -> float:
        cfg = self.config
        seen = [s for s in self._streams.values() if s.seen]
        if not seen:
            return -math.inf
        newest = max(s.known for s in seen)
        in_grace = newest - self._first_seen <= cfg.lateness_s
        mark = math.inf
        for stream in self._streams.values():
            if stream.seen:
                mark = min(
                    mark, max(stream.known, newest - stream.stale_s - cfg.lateness_s)
                )
            elif in_grace:
                # Give every declared input a chance to report before starting.
                mark = min(mark, self._first_seen)
        return mark

    def _advance(self) -> list[Batch]:
        mark = self._watermark()
        if math.isnan(self._until):
            if not mark > self._first_seen:
                return []
            self._until = self._first_seen
            for crew in self._crew:
                crew.history = _CumulativeHistory(self._history_keep_s)
                crew.history.append(np.array([self._until]), np.array([0.0]))
        if not mark > self._until:
            return []
        out = self._integrate(self._until, mark)
        self._until = mark
        for stream in self._streams.values():
            stream.trim(mark)
        return out

    def _integrate(self, a: float, b: float) -> list[Batch]:
        """Integrate every crew member over (a, b] and return the grid outputs."""
        cfg = self.config
        step = cfg.output_interval_s
        first, last = math.floor(a / step) + 1, math.floor(b / step)
        # Fuzzing fix: one valid sample far ahead (a clock in milliseconds,
        # t = 1e189) asked for a grid point per interval across the jump and
        # exhausted memory (or overflowed int64). The integral does not need
        # the grid (its breakpoints are the inputs' own changes), so across
        # such a jump only the last MAX_GRID_POINTS outputs are produced.
        # Float indices: exact below 2**53, and no overflow above it.
        first = max(first, last - MAX_GRID_POINTS + 1)
        k = float(first) + np.arange(max(0, last - first + 1), dtype=np.float64)
        grid: FloatArray = k * step
        inside = (grid > a) & (grid <= b)
        k, grid = k[inside], grid[inside]
        per_bin = round(cfg.rolling_bin_s / step)
        knots = grid[k % per_bin == 0]
        # Breakpoints: every change of any input, stale expiries, grid times.
        parts = [np.array([a, b]), grid]
        for stream in self._streams.values():
            parts.append(stream.times_in(a, b))
            parts.append(stream.expiries(a, b))
        points = np.unique(np.concatenate(parts))
        dts = np.diff(points)
        module_rate, ref, highest = self._module_rates(points)
        self._shelter_rate = self._shelter_rate_now(module_rate, ref)

        at_grid = np.searchsorted(points, grid)
        at_knots = np.searchsorted(points, knots)
        out: list[Batch] = []
        for crew in self._crew:
            rate, src, stale, mod = self._crew_rate(
                crew, points, module_rate, ref, highest
            )
            inc = rate[:-1] * dts / SECONDS_PER_HOUR / 1000.0
            cum = crew.session + np.concatenate(([0.0], np.cumsum(inc)))
            # Uncertainties of one source are systematic, so they add linearly.
            rel = self._sigma[src, stale.astype(np.intp)]
            sigma = crew.sigma + np.concatenate(([0.0], np.cumsum(inc * rel[:-1])))
            # Before any dose, the band is that of the current source.
            relative = np.divide(sigma, cum, out=rel.copy(), where=cum > 0)
            self._stale_events(crew, points, stale, src)
            crew.session = float(cum[-1])
            crew.sigma = float(sigma[-1])
            crew.rate = float(rate[-1])
            crew.source = _SOURCE_CODES[int(src[-1])]
            crew.stale = bool(stale[-1])
            crew.module_id = self._modules[int(mod[-1])] if mod[-1] >= 0 else None
            assert crew.history is not None
            crew.history.append(knots, cum[at_knots])
            # Budgets and alerts only on the output grid: their times then do
            # not depend on batching, and most 1 Hz updates skip this work.
            if grid.shape[0]:
                series, fractions = self._evaluate(
                    crew, grid, cum[at_grid], rate[at_grid], relative[at_grid]
                )
                for name, values in series.items():
                    out.append((f"{crew.member.id}.{name}", grid, values))
                self._alerts(crew, grid, fractions)
        self._dirty = True
        return out

    def _module_rates(
        self, points: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return per-module mean rate, shielding-normalised mean, and highest rate.

        Shapes (modules, points), (points,), (points,); NaN where no monitor is
        fresh.
        """
        n = points.shape[0]
        if not self._area:
            nan = np.full(n, np.nan)
            return np.full((len(self._modules), n), np.nan), nan, nan
        vals = np.vstack([s.fresh_at(points) for s, _ in self._area])
        valid = ~np.isnan(vals)
        filled = np.where(valid, vals, 0.0)
        counts = self._membership @ valid
        sums = self._membership @ filled
        module_rate = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        n_valid = valid.sum(axis=0)
        ref_sum = (filled / self._area_sf[:, None]).sum(axis=0)
        ref = np.where(n_valid > 0, ref_sum / np.maximum(n_valid, 1), np.nan)
        highest = np.where(valid, vals, -np.inf).max(axis=0)
        return module_rate, ref, np.where(n_valid > 0, highest, np.nan)

    def _shelter_rate_now(self, module_rate: FloatArray, ref: FloatArray) -> float:
        """Latest area rate in the shelter module: measured, else scaled, else model."""
        m = self._shelter_idx
        for candidate in (
            float(module_rate[m, -1]),
            float(ref[-1]) * float(self._sf[m]),
        ):
            if candidate == candidate:
                return candidate
        return self.config.model_rate_usv_h * float(self._sf[m])

    def _crew_rate(
        self,
        crew: _Crew,
        points: FloatArray,
        module_rate: FloatArray,
        ref: FloatArray,
        highest: FloatArray,
    ) -> tuple[
        FloatArray, npt.NDArray[np.intp], npt.NDArray[np.bool_], npt.NDArray[np.intp]
    ]:
        """Return rate (µSv/h), source code, stale flag and module index per point."""
        cfg = self.config
        body = cfg.body_shielding_factor
        n = points.shape[0]
        assert crew.module is not None
        held, age = crew.module.at(points)
        mod = np.where(np.isnan(held), -1, held).astype(np.intp)
        known = mod >= 0
        safe = np.maximum(mod, 0)
        stale = ~known | (age >= crew.module.stale_s)
        rate = np.full(n, np.nan)
        src = np.full(n, 2, dtype=np.intp)
        if crew.personal is not None:
            own = crew.personal.fresh_at(points)
            has = ~np.isnan(own)
            rate[has] = own[has]
            src[has] = 0
            stale |= ~has
        need = np.isnan(rate)
        area = np.where(known, module_rate[safe, np.arange(n)], np.nan) * body
        use = need & ~np.isnan(area)
        rate[use] = area[use]
        src[use] = 1
        need &= ~use
        scaled = np.where(known, ref * self._sf[safe], np.nan) * body
        use = need & ~np.isnan(scaled)
        rate[use] = scaled[use]
        need &= ~use
        # Nothing fresh to scale: the baseline model, flagged stale. With the
        # location unknown take the worst module, so the guess errs high.
        worst = np.where(
            np.isnan(highest), cfg.model_rate_usv_h * float(self._sf.max()), highest
        )
        baseline = np.where(known, cfg.model_rate_usv_h * self._sf[safe], worst) * body
        rate[need] = baseline[need]
        stale |= need
        return rate, src, stale, mod

    def _evaluate(
        self,
        crew: _Crew,
        evals: FloatArray,
        cum: FloatArray,
        rate: FloatArray,
        relative: FloatArray,
    ) -> tuple[dict[str, FloatArray], FloatArray]:
        """Return the derived series at ``evals`` and each limit's fraction.

        Fractions are (limits, evals), rows in ``crew.limits`` order.
        """
        cfg = self.config
        history = crew.history
        assert history is not None
        start = float(history.t[0])
        lo = np.maximum(evals - cfg.projection_window_days * SECONDS_PER_DAY, start)
        span_d = np.maximum((evals - lo) / SECONDS_PER_DAY, 1e-12)
        trailing = (cum - history.at(lo)) / span_d
        career = crew.member.prior_career_msv + crew.earlier_career + cum
        windows = {30.0, 365.0} | {w for w in crew.windows if w is not None}
        # Earlier sessions (seed_history) add the part of their dose in the window.
        earlier_now = crew.earlier_at(evals)
        rolling = {
            w: cum
            - history.at(evals - w * SECONDS_PER_DAY)
            + earlier_now
            - crew.earlier_at(evals - w * SECONDS_PER_DAY)
            for w in windows
        }
        dose = np.vstack([career if w is None else rolling[w] for w in crew.windows])
        value = crew.values[:, None]
        positive = trailing > 0
        # A career dose only grows. At a steady rate a rolling sum tends to
        # rate × window, so below the limit it is never reached; otherwise
        # count as if no dose left the window (early, so conservative).
        reaches = np.where(
            crew.is_career[:, None],
            positive[None, :],
            trailing[None, :] * crew.window_days[:, None] >= value,
        )
        per_day = np.where(positive, trailing, 1.0)[None, :]
        days = np.where(
            dose >= value, 0.0, np.where(reaches, (value - dose) / per_day, np.inf)
        )
        fraction = dose / value
        crew.limit_now = list(
            zip(
                dose[:, -1].tolist(),
                fraction[:, -1].tolist(),
                days[:, -1].tolist(),
                strict=True,
            )
        )
        best_days = days.min(axis=0)
        crew.now = {
            "trailing": float(trailing[-1]),
            "d30": float(rolling[30.0][-1]),
            "d1y": float(rolling[365.0][-1]),
            "time": float(evals[-1]),
        }
        series = {
            "dose_rate": rate,
            "dose_session": cum,
            "dose_30d": rolling[30.0],
            "dose_1y": rolling[365.0],
            "dose_career": career,
            "career_fraction": fraction[0],
            "days_to_limit": best_days,
            "dose_uncertainty": relative,
        }
        return series, fraction

    def _relative_sigma(self, crew: _Crew) -> float:
        """Relative 1σ of the session dose (of the current source before any dose)."""
        if crew.session > 0:
            return crew.sigma / crew.session
        if crew.source == EstimateSource.NONE:
            return math.nan
        return float(self._sigma[_SOURCE_CODES.index(crew.source), int(crew.stale)])

    # -------------------------------------------------------------- alerts

    def _alerts(self, crew: _Crew, evals: FloatArray, fractions: FloatArray) -> None:
        """Raise an event per alert level crossed upwards (re-armed going down)."""
        levels = self.limits.alert_levels
        if not levels:
            return
        fracs = np.array([lv.fraction for lv in levels])
        reached = np.searchsorted(fracs, fractions, side="right")
        rearm = np.searchsorted(fracs, fractions + ALERT_REARM_FRACTION, side="right")
        state = np.array(crew.alert_level)[:, None]
        changed = (reached > state).any(axis=1) | (rearm < state).any(axis=1)
        for li in np.flatnonzero(changed).tolist():
            limit = crew.limits[li]
            level_now = crew.alert_level[li]
            for j in range(evals.shape[0]):
                if reached[li, j] > level_now:
                    level_now = int(reached[li, j])
                    level = levels[level_now - 1]
                    fraction = float(fractions[li, j])
                    self._emit(
                        DoseEvent(
                            float(evals[j]),
                            DoseEventKind.LIMIT,
                            level.severity,
                            _limit_message(crew, limit, level.name, fraction),
                            crew.member.id,
                            limit.id,
                            fraction,
                        )
                    )
                elif rearm[li, j] < level_now:
                    level_now = int(rearm[li, j])
            crew.alert_level[li] = level_now

    def _stale_events(
        self,
        crew: _Crew,
        starts: FloatArray,
        stale: npt.NDArray[np.bool_],
        src: npt.NDArray[np.intp],
    ) -> None:
        if stale.shape[0] == 0:
            return
        previous = crew.stale
        flips = np.flatnonzero(
            np.diff(np.concatenate(([previous], stale)).astype(np.int8))
        )
        for j in flips:
            now_stale = bool(stale[j])
            source = _SOURCE_CODES[int(src[j])]
            if now_stale:
                message = f"{crew.member.id}: dose estimate on a fallback ({source})"
                if crew.personal is not None:
                    message += f"; personal dosimeter {crew.personal.key} not fresh"
            else:
                message = f"{crew.member.id}: dose estimate from fresh data ({source})"
            self._emit(
                DoseEvent(
                    float(starts[j]),
                    DoseEventKind.DATA_STALE if now_stale else DoseEventKind.DATA_FRESH,
                    Severity.WATCH if now_stale else Severity.NOMINAL,
                    message,
                    crew.member.id,
                )
            )
        crew.stale = bool(stale[-1])

    def _emit(self, event: DoseEvent) -> None:
        with self._lock:
            if len(self._events) == self._events.maxlen:
                self._dropped_events += 1
            self._events.append(event)

    def drain_events(self) -> list[DoseEvent]:
        """Return and forget the events raised since the last call (any thread)."""
        with self._lock:
            events = list(self._events)
            self._events.clear()
        return events

    # ------------------------------------------------------- space weather

    def _space_weather(
        self, times: FloatArray, p10: FloatArray, p100: FloatArray
    ) -> list[Batch]:
        if times.shape[0] == 0:
            return []
        # GOES fill values are negative: not a measurement.
        p10 = np.where(p10 >= 0, p10, np.nan)
        p100 = np.where(p100 >= 0, p100, np.nan)
        levels, active = self._spe.update(times, p10, p100)
        self._dirty = True
        for tr in self._spe.drain_transitions():
            self._emit(self._spe_event(tr.kind, tr.time, tr.flux_pfu))
        self._shelter_rows(times, p10, p100)
        has = ~np.isnan(levels)
        goes = self._goes_id
        out: list[Batch] = []
        if has.any():
            out.append((f"{goes}.s_scale", times[has], levels[has]))
        out.append((f"{goes}.spe_active", times, active))
        return out

    def _spe_event(
        self, kind: SpeTransitionKind, when: float, flux: float
    ) -> DoseEvent:
        spe = self.config.spe
        if kind == SpeTransitionKind.ONSET:
            return DoseEvent(
                when,
                DoseEventKind.SPE_ONSET,
                Severity.WARNING,
                f"solar particle event: >10 MeV {flux:.3g} pfu "
                f"({s_label(self._spe.state().s_level)}), {spe.onset_points} "
                f"points >= {spe.onset_pfu:g} pfu",
            )
        if kind == SpeTransitionKind.END:
            last = self._spe.events[-1] if self._spe.events else None
            detail = (
                f"; peak {last.peak_p10:.4g} pfu ({s_label(last.s_level)}), "
                f"fluence {last.fluence_p10:.3g} cm^-2"
                if last
                else ""
            )
            return DoseEvent(
                when, DoseEventKind.SPE_END, Severity.NOMINAL, f"SPE ended{detail}"
            )
        if kind == SpeTransitionKind.ENERGETIC:
            return DoseEvent(
                when,
                DoseEventKind.ENERGETIC_SPE,
                Severity.WARNING,
                f"energetic SPE: >100 MeV {flux:.3g} pfu >= "
                f"{self.config.spe.energetic_pfu:g} pfu",
            )
        return DoseEvent(
            when,
            DoseEventKind.ENERGETIC_SPE_END,
            Severity.NOMINAL,
            "energetic SPE ended",
        )

    def _shelter_rows(
        self, times: FloatArray, p10: FloatArray, p100: FloatArray
    ) -> None:
        """Recommend sheltering after ``trigger_points`` samples meeting a criterion.

        The advice is dated from the first of them, and cleared after
        ``clear_points`` samples below ``clear_fraction`` × both thresholds,
        so a flux hovering at a threshold does not toggle it.
        """
        cfg = self.config.shelter
        low10 = cfg.clear_fraction * cfg.p10_pfu
        low100 = cfg.clear_fraction * cfg.p100_pfu
        rows = zip(times.tolist(), p10.tolist(), p100.tolist(), strict=True)
        for t, f10, f100 in rows:
            reasons = []
            if f10 >= cfg.p10_pfu:
                reasons.append(f">10 MeV {f10:.4g} pfu >= {cfg.p10_pfu:g} pfu")
            if f100 >= cfg.p100_pfu:
                reasons.append(f">100 MeV {f100:.3g} pfu >= {cfg.p100_pfu:g} pfu")
            if reasons:
                self._shelter_clear = 0
                self._shelter_run += 1
                if self._shelter_run == 1:
                    self._shelter_run_start = t
                if not self._shelter_on and self._shelter_run >= cfg.trigger_points:
                    self._shelter_on = True
                    self._shelter_since = self._shelter_run_start
                    self._shelter_reason = " and ".join(reasons)
                    self._emit(
                        DoseEvent(
                            self._shelter_run_start,
                            DoseEventKind.SHELTER,
                            Severity.CRITICAL,
                            f"shelter in {cfg.module} recommended: "
                            + self._shelter_reason,
                        )
                    )
                continue
            self._shelter_run = 0
            quiet = not f10 >= low10 and not f100 >= low100  # NaN: no reading
            if not (self._shelter_on and quiet):
                self._shelter_clear = 0
                continue
            self._shelter_clear += 1
            if self._shelter_clear >= cfg.clear_points:
                self._shelter_on = False
                self._shelter_since = None
                self._emit(
                    DoseEvent(
                        t,
                        DoseEventKind.SHELTER_CLEARED,
                        Severity.NOMINAL,
                        f"shelter no longer recommended: {cfg.clear_points} "
                        f"samples below {cfg.clear_fraction:g} x both criteria",
                    )
                )

    def _orbit_rows(
        self, times: FloatArray, lat: FloatArray, lon: FloatArray
    ) -> list[Batch]:
        ok = ~(np.isnan(lat) | np.isnan(lon))
        if not ok.any():
            return []
        t = times[ok]
        flag = in_saa(lat[ok], lon[ok]).astype(np.float64)
        # Rebuild the snapshot only when the flag changes, not at 1 Hz.
        inside = flag == 1
        previous = bool(inside[0]) if self._saa is None else self._saa
        edges = np.diff(np.concatenate(([previous], inside)).astype(np.int8))
        changes = np.flatnonzero(edges)
        if self._saa is None or changes.shape[0]:
            self._saa_since = float(t[changes[-1]] if changes.shape[0] else t[0])
            self._saa = bool(inside[-1])
            self._dirty = True
        return [(f"{self._orbit_id}.saa", t, flag)]

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
                if self._dirty:
                    self._publish()
            finally:
                self._state_lock.release()
        else:
            self._wanted = True
        with self._lock:
            return self._snapshot

    def _publish_if_wanted(self) -> None:
        if self._wanted and self._dirty:
            self._publish()

    def _publish(self) -> None:
        """Build and publish the snapshot (the caller holds ``_state_lock``)."""
        snap = self._build_snapshot()
        with self._lock:
            self._snapshot = snap
        self._dirty = False
        self._wanted = False

    def _build_snapshot(self) -> DoseSnapshot:
        self._version += 1
        crews = tuple(self._crew_dose(c) for c in self._crew)
        return DoseSnapshot(
            time=self._until,
            crew=crews,
            spe=self._spe.state(),
            saa=self._saa,
            saa_since=self._saa_since,
            shelter=self._shelter_advice(crews),
            late_samples=self._late_count(),
            dropped_events=self._dropped_events,
            version=self._version,
            invalid_samples=sum(self._invalid.values()),
            history_note=self._seed_note,
        )

    def _crew_dose(self, crew: _Crew) -> CrewDose:
        member = crew.member
        levels = self.limits.alert_levels
        statuses: list[LimitStatus] = []
        for li, limit in enumerate(crew.limits):
            if crew.limit_now:
                dose, fraction, days = crew.limit_now[li]
            else:
                dose = (
                    member.prior_career_msv + crew.earlier_career
                    if limit.window_days is None
                    else self._earlier_window(crew, limit.window_days)
                )
                fraction, days = dose / limit.value, math.inf
            state = crew.alert_level[li]
            statuses.append(
                LimitStatus(
                    limit.id,
                    limit.label,
                    limit.value,
                    limit.unit,
                    limit.window_days,
                    dose,
                    fraction,
                    days,
                    levels[state - 1].severity if state > 0 else Severity.NOMINAL,
                    limit.source,
                    limit.status,
                )
            )
        nearest = min(statuses, key=lambda s: s.days_to_limit)
        now = crew.now
        career = member.prior_career_msv + crew.earlier_career + crew.session
        trailing = now.get("trailing", math.nan)
        projected = None
        if member.mission_end is not None and now:
            end = dt.datetime.combine(
                member.mission_end, dt.time(), tzinfo=dt.UTC
            ).timestamp()
            left_d = max(0.0, (end - now["time"]) / SECONDS_PER_DAY)
            projected = career + max(trailing, 0.0) * left_d
        uncertainty = self._relative_sigma(crew)
        return CrewDose(
            crew_id=member.id,
            name=member.name,
            agency=member.agency,
            module=crew.module_id,
            source=crew.source,
            stale=crew.stale,
            rate_usv_h=crew.rate,
            trailing_rate_msv_d=trailing,
            session_msv=crew.session,
            dose_30d_msv=now.get("d30", self._earlier_window(crew, 30.0)),
            dose_1y_msv=now.get("d1y", self._earlier_window(crew, 365.0)),
            prior_msv=member.prior_career_msv,
            career_msv=career,
            career_limit_msv=crew.career.limit_msv,
            career_fraction=career / crew.career.limit_msv,
            days_to_limit=nearest.days_to_limit,
            limiting=nearest.id,
            uncertainty_rel=uncertainty,
            projected_mission_msv=projected,
            limits=tuple(statuses),
            level=max((s.level for s in statuses), default=Severity.NOMINAL),
            budgets_time=now.get("time", math.nan),
            earlier_msv=crew.earlier_career,
        )

    def _earlier_window(self, crew: _Crew, days: float) -> float:
        """Earlier sessions' dose in the window ending at the seed time (no data)."""
        at = self._seed_time
        if crew.earlier_t.shape[0] == 0 or math.isnan(at):
            return 0.0
        ends = crew.earlier_at(np.array([at - days * SECONDS_PER_DAY, at]))
        return float(ends[1] - ends[0])

    def _shelter_advice(self, crews: tuple[CrewDose, ...]) -> ShelterAdvice:
        """Advice with the dose avoided: (rate now - shelter rate) × horizon."""
        cfg = self.config.shelter
        shelter_rate = self._shelter_rate * self.config.body_shielding_factor
        per_crew: list[tuple[str, float]] = []
        for crew in crews:
            avoided = 0.0
            outside = crew.module != cfg.module
            if outside and not math.isnan(crew.rate_usv_h + shelter_rate):
                saved = max(0.0, crew.rate_usv_h - shelter_rate)
                avoided = saved * cfg.horizon_h / 1000.0
            per_crew.append((crew.crew_id, avoided))
        return ShelterAdvice(
            recommended=self._shelter_on,
            since=self._shelter_since,
            reason=self._shelter_reason if self._shelter_on else "",
            module=cfg.module,
            horizon_h=cfg.horizon_h,
            dose_avoided_msv=math.fsum(v for _, v in per_crew),
            per_crew=tuple(per_crew),
        )


def _limit_message(crew: _Crew, limit: _Limit, level: str, fraction: float) -> str:
    who = f"{crew.member.id} ({crew.member.name})"
    dose = f"{fraction * limit.value:.1f} of {limit.value:g} {limit.unit}"
    return f"{who}: {limit.label} at {fraction:.0%} ({level}): {dose}"


# ------------------------------------------------------------ benchmark


@dataclass(frozen=True, slots=True)
class DoseBenchResult:
    """Cost of ``DoseEstimator.update`` per crew member per input sample."""

    crew: int
    samples: int
    calls: int
    seconds: float
    us_per_crew_sample: float
    us_per_call: float


def bench_dose_update(
    dictionary: TelemetryDictionary | None = None,
    roster: Roster | None = None,
    limits: DoseLimits | None = None,
    *,
    hours: float = 2.0,
    rows_per_batch: int = 1,
    seed: int = 0,
) -> DoseBenchResult:
    """Time the estimator on synthetic 1 Hz data for every dose input.

    Every crew module channel and every ``rad`` source publishes at 1 Hz for
    ``hours`` of sample time, in batches of ``rows_per_batch`` rows (1 is
    live-like, 600 is fast-replay-like); crew move module every 10 minutes.

    Returns
    -------
    DoseBenchResult
        ``us_per_crew_sample`` is wall time / (crew × input samples).
    """
    dictionary = dictionary or TelemetryDictionary.load()
    limits = limits or DoseLimits.load()
    roster = roster or Roster.load(limits=limits)
    estimator = DoseEstimator(dictionary, roster, limits)
    rng = np.random.default_rng(seed)
    spec = dictionary.channel("crew", "module")
    codes = sorted(spec.states.values()) if spec else [0]
    t0 = 1.75e9
    n = int(hours * SECONDS_PER_HOUR)
    times = t0 + np.arange(n, dtype=np.float64)
    inputs: list[tuple[str, FloatArray]] = []
    for source in dictionary.sources_of("rad"):
        inputs.append(
            (f"{source.id}.{_RAD_CHANNEL}", 25.75 * rng.lognormal(0.0, 0.2, n))
        )
    for member in roster.crew:
        moves = rng.choice(codes, size=n // 600 + 1)
        inputs.append(
            (f"{member.id}.module", np.repeat(moves, 600)[:n].astype(np.float64))
        )
    calls = 0
    start = time.perf_counter()
    for lo in range(0, n, rows_per_batch):
        hi = min(n, lo + rows_per_batch)
        for key, values in inputs:
            estimator.update(key, times[lo:hi], values[lo:hi])
            calls += 1
    elapsed = time.perf_counter() - start
    samples = n * len(inputs)
    crew = len(roster.crew)
    return DoseBenchResult(
        crew,
        samples,
        calls,
        elapsed,
        elapsed / (crew * samples) * 1e6,
        elapsed / calls * 1e6,
    )
