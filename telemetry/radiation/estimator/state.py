"""All mutable state of the dose estimator, in one dataclass.

A checkpoint is a deep copy of :class:`EstimatorState` and a restore swaps it
in: nothing the estimator changes lives anywhere else. Owned by the
telemetry-pipeline thread (or the thread driving a replay or a report).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import numpy as np

from telemetry.radiation.estimator.model import (
    CrewShelter,
    DoseEvent,
    EstimateSource,
    Fallback,
    FloatArray,
    ShelterAction,
)
from telemetry.radiation.estimator.streams import (
    CumulativeHistory,
    RowJoiner,
    SampleStream,
)
from telemetry.radiation.spaceweather import SpeDetector

if TYPE_CHECKING:
    from telemetry.radiation.estimator.setup import EstimatorSetup

#: Events kept for ``DoseEstimator.drain_events``; older ones are dropped.
MAX_PENDING_EVENTS: Final = 10_000


def _empty() -> FloatArray:
    return np.empty(0)


@dataclass(slots=True)
class Seed:
    """Dose of earlier console sessions (the ledger), kept by a reset.

    Area dose equivalent H, cumulative mSv at bin starts and ends, and the part
    since the mission start (career).
    """

    t: FloatArray = field(default_factory=_empty)
    c: FloatArray = field(default_factory=_empty)
    career: float = 0.0
    # Seconds of sample time the bins cover, cumulative at the same knots.
    cov: FloatArray = field(default_factory=_empty)

    def covered(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """Seconds of earlier sessions between ``a`` and ``b``."""
        if self.t.shape[0] == 0:
            return np.zeros(np.shape(b))
        hi = np.interp(b, self.t, self.cov, left=0.0)
        lo = np.interp(a, self.t, self.cov, left=0.0)
        return np.asarray(hi - lo, dtype=np.float64)

    def at(self, times: FloatArray) -> FloatArray:
        """Dose of earlier sessions accrued by ``times`` (mSv H)."""
        if self.t.shape[0] == 0:
            return np.zeros(times.shape[0])
        return np.asarray(np.interp(times, self.t, self.c, left=0.0), dtype=np.float64)


@dataclass(slots=True)
class CrewState:
    """Accumulators of one crew member (doses are area H at their location, mSv)."""

    n_limits: int
    seed: Seed = field(default_factory=Seed)
    session: float = 0.0  # mSv since the start of integration
    sigma: float = 0.0  # absolute 1σ of the session dose, mSv
    rate: float = math.nan  # µSv/h now
    source: EstimateSource = EstimateSource.NONE
    stale: bool = False
    fallback: Fallback = Fallback.NONE
    fallback_since: float = math.nan
    module_id: str | None = None
    eva: bool = False
    eva_msv: float = 0.0
    alert_level: list[int] = field(default_factory=list)
    projection_level: list[int] = field(default_factory=list)
    history: CumulativeHistory | None = None
    now: dict[str, float] = field(default_factory=dict)
    limit_now: list[tuple[float, float, float]] = field(default_factory=list)
    # Per limit: fraction projected at mission end, and its upper 1σ edge.
    projected: list[tuple[float, float]] = field(default_factory=list)
    shelter_action: ShelterAction = ShelterAction.NONE
    shelter: CrewShelter | None = None
    # Session dose H at the output grid over the last orbits (shelter advice).
    fine_t: FloatArray = field(default_factory=_empty)
    fine_c: FloatArray = field(default_factory=_empty)

    def __post_init__(self) -> None:
        if not self.alert_level:
            self.alert_level = [0] * self.n_limits
        if not self.projection_level:
            self.projection_level = [0] * self.n_limits


@dataclass(slots=True)
class ShelterState:
    """Shelter advice in force and the runs deciding it."""

    on: bool = False
    since: float | None = None
    reason: str = ""
    clear: int = 0
    run: int = 0
    run_start: float = math.nan
    rate: float = math.nan  # latest area rate in the shelter module, µSv/h
    # Advice carried over from the console before a restart (the ledger):
    # it stands until this console sees the flux quiet for a whole end run.
    carried: bool = False
    quiet_run: int = 0


@dataclass(slots=True)
class EstimatorState:
    """Everything the estimator changes; a checkpoint is a deep copy of it."""

    streams: dict[str, SampleStream]
    crew: list[CrewState]
    spe: SpeDetector
    goes: RowJoiner
    orbit: RowJoiner
    until: float = math.nan
    first_seen: float = math.nan
    # The limits were judged on the prior record and the ledger (first input).
    prior_judged: bool = False
    # Samples before this are history, not this session (``_note_first``).
    not_before: float = -math.inf
    invalid: dict[str, int] = field(default_factory=dict)
    invalid_event_at: dict[str, float] = field(default_factory=dict)
    saa: bool | None = None
    saa_since: float = math.nan
    # Last measured rate per module index (µSv/h) and when: the fallback floor.
    module_last: dict[int, tuple[float, float]] = field(default_factory=dict)
    # GOES >10 MeV flux (pfu) when each module's rate was last measured: the
    # floor follows the flux up while its monitors are silent in an SPE.
    module_last_p10: dict[int, float] = field(default_factory=dict)
    # Highest rate measured per module in the SPE in progress (cleared after).
    module_event_max: dict[int, float] = field(default_factory=dict)
    shelter: ShelterState = field(default_factory=ShelterState)
    events: deque[DoseEvent] = field(
        default_factory=lambda: deque(maxlen=MAX_PENDING_EVENTS)
    )
    dropped_events: int = 0
    revisions: int = 0
    # Earliest sample time late data changed, to re-integrate from (inf: none).
    revise_from: float = math.inf
    revise_keys: set[str] = field(default_factory=set)
    # GOES sample times awaiting a shelter decision, with SPE-or-energetic
    # and whether the flux was below both end thresholds then.
    shelter_pending: list[tuple[float, bool, bool]] = field(default_factory=list)
    revised_at: float = -math.inf  # integration time of the last revision
    seed_note: str = ""
    seed_time: float = math.nan
    # Why this session's dose is not reaching the ledger ("" when it is).
    ledger_problem: str = ""
    dirty: bool = True

    @classmethod
    def fresh(
        cls, setup: EstimatorSetup, seeds: list[Seed] | None = None
    ) -> EstimatorState:
        """Return the state before any data (keeping ``seeds`` of a reset)."""
        streams = {
            key: SampleStream(key, spec.stale_s, spec.hold_max_s)
            for key, spec in setup.streams.items()
        }
        crew = [CrewState(len(c.limits)) for c in setup.crew]
        if seeds is not None:
            for state, seed in zip(crew, seeds, strict=True):
                state.seed = seed
        return cls(
            streams=streams,
            crew=crew,
            spe=SpeDetector(setup.config.spe),
            goes=RowJoiner(setup.goes_timeout),
            orbit=RowJoiner(setup.orbit_timeout),
        )

    def late_count(self) -> int:
        joined = self.goes.late + self.orbit.late
        return joined + sum(s.late for s in self.streams.values())
