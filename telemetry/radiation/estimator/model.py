"""What the dose estimator publishes: events, per-crew doses, shelter advice, snapshot.

Immutable values, built on the telemetry-pipeline thread and read by any thread
(the GUI's, a report's). Every dose carries its quantity in its name and its
unit: ``_msv`` is mSv of the quantity said in the field's doc, ``_usv_h`` µSv/h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from telemetry.core.severity import Severity
    from telemetry.radiation.spaceweather import SpeState

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


class EstimateSource(StrEnum):
    """Where a crew member's dose rate comes from."""

    PERSONAL = "personal"  # their own active dosimeter
    AREA = "area"  # monitors in the module they are in
    MODEL = "model"  # another module's monitors scaled by shielding, or the baseline
    NONE = "none"  # nothing integrated yet


SOURCE_CODES: Final = (
    EstimateSource.PERSONAL,
    EstimateSource.AREA,
    EstimateSource.MODEL,
)


class Fallback(StrEnum):
    """Which fallback rule decides a crew member's rate when inputs are stale.

    Ordered from the best to the last resort; docs/dosimetry.md states the rules.
    """

    NONE = "none"  # fresh data: no fallback
    AREA = "module monitors"  # personal dosimeter not fresh: the module's monitors
    SCALED = "scaled"  # other modules' monitors, scaled by shielding
    FLOOR = "last module rate"  # last measured rate of the module (SPE or SAA)
    BASELINE = "baseline"  # the quiet-time model rate
    WORST = "worst module"  # location unknown: the highest module rate


FALLBACK_CODES: Final = tuple(Fallback)


class DoseEventKind(StrEnum):
    """What a DoseEvent reports."""

    LIMIT = "dose limit"
    PROJECTION = "projected limit"
    SPE_ONSET = "SPE onset"
    SPE_END = "SPE end"
    ENERGETIC_SPE = "energetic SPE"
    ENERGETIC_SPE_END = "energetic SPE end"
    SHELTER = "shelter recommended"
    SHELTER_CLEARED = "shelter cleared"
    DATA_STALE = "dose data stale"
    DATA_FRESH = "dose data fresh"
    INPUT_INVALID = "dose input invalid"
    REVISED = "dose revised"
    EVA = "EVA"


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
    """One limit for one crew member: dose against it, fraction, days left.

    ``dose`` is in the limit's own ``unit`` and ``quantity`` (effective dose E
    in mSv for a career limit, mGy-Eq or mGy for an organ limit).
    ``upper_fraction`` is the fraction at the upper edge of the estimate's
    1σ band; ``projected_fraction`` the fraction at mission end (NaN when
    there is no projection).
    """

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
    quantity: str = "effective dose E"
    upper_fraction: float = math.nan
    projected_fraction: float = math.nan


@dataclass(frozen=True, slots=True)
class Projection:
    """End-of-mission projection from the ledger's trailing days.

    ``rate_msv_d`` is the trailing mean rate of area dose equivalent H at the
    crew member's location (mSv/d) over ``basis_days`` of data; ``reason``
    says why there is no number (``"insufficient data: ..."``).
    """

    ok: bool
    reason: str
    basis_days: float
    rate_msv_d: float
    mission_end: float | None
    career_e_msv: float
    career_e_upper_msv: float


@dataclass(frozen=True, slots=True)
class CrewDose:
    """Everything the display shows for one crew member.

    ``session_msv``, ``dose_30d_msv``, ``dose_1y_msv`` and ``rate_usv_h`` are
    area dose equivalent H at the crew member's location (with the body
    factor of the roster); ``career_msv`` is effective dose E (H converted,
    see docs/dosimetry.md) and is what the career limit is compared with.
    Rate, session and career dose are as of the snapshot time; rolling sums,
    per-limit fractions and days to limit as of ``budgets_time``.
    ``earlier_msv`` is H of earlier console sessions since the mission start
    (the dose ledger); ``career_msv`` = prior E + E(earlier + session).
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
    fallback: Fallback = Fallback.NONE
    fallback_since: float = math.nan
    eva: bool = False
    eva_msv: float = 0.0
    projection: Projection | None = None

    @property
    def remaining_msv(self) -> float:
        """Effective dose E left under the career limit (mSv)."""
        return self.career_limit_msv - self.career_msv

    @property
    def band_msv(self) -> tuple[float, float]:
        """Session dose H ± 1σ."""
        sigma = self.uncertainty_rel * self.session_msv
        return self.session_msv - sigma, self.session_msv + sigma


class ShelterAction(StrEnum):
    """Graded shelter advice, mildest first (ISS practice, docs/dosimetry.md)."""

    NONE = "none"
    AVOID_LOW_SHIELDED = "avoid low-shielded modules"
    SLEEP_SHIELDED = "sleep in shielded crew quarters"
    RELOCATE = "relocate to the shelter"

    @property
    def rank(self) -> int:
        return list(ShelterAction).index(self)


@dataclass(frozen=True, slots=True)
class CrewShelter:
    """One crew member's advice: the action, why, and the doses it rests on.

    ``event_msv`` is the effective dose E projected over the rest of the event
    (orbit-averaged), ``margin_msv`` the smallest remaining margin (E) under
    any limit, ``fraction`` their ratio, ``avoided_msv`` what relocating to
    the shelter would avoid (E). ``provisional``: decided on less than an
    orbit of dose history (it errs high), replaced by the first decision on
    a full orbit average, even a milder one.
    """

    crew_id: str
    action: ShelterAction
    reason: str
    event_msv: float
    margin_msv: float
    fraction: float
    avoided_msv: float
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class ShelterAdvice:
    """Whether to shelter, why, where, and the dose it would avoid (mSv E).

    ``recommended`` is true when any crew member's action is at least
    "sleep in shielded quarters"; ``action`` is the strongest one.
    """

    recommended: bool
    since: float | None
    reason: str
    module: str
    horizon_h: float
    dose_avoided_msv: float
    per_crew: tuple[tuple[str, float], ...]
    action: ShelterAction = ShelterAction.NONE
    crew: tuple[CrewShelter, ...] = ()


@dataclass(frozen=True, slots=True)
class DoseSnapshot:
    """An immutable view of the estimator for the GUI thread.

    ``time`` is the sample time doses are integrated to (NaN before any).
    ``invalid_samples`` counts input values outside their physical range
    (negative or above the maximum rate or flux, impossible positions),
    ignored. ``history_note`` says what the totals hold of earlier console
    sessions (the dose ledger); empty when the estimator was not seeded.
    ``provisional_since`` is the sample time from which the estimate rests on
    held or fallback values of an input that has not yet reported (late data
    may revise it); NaN when every input has reported up to ``time``.
    ``revisions`` counts how often late data revised integrated dose.
    ``ledger_problem`` says why this session's dose is not reaching the dose
    ledger (a failing write: "dose ledger not written since 14:00 UTC ...");
    empty while it is written or when there is no ledger.
    ``unheard_inputs`` are the dose inputs (``<source>.<channel>``) never
    heard from: before the first integration, what the estimate waits for.
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
    provisional_since: float = math.nan
    revisions: int = 0
    quantities: tuple[str, ...] = field(default_factory=tuple)
    ledger_problem: str = ""
    unheard_inputs: tuple[str, ...] = ()

    def member(self, crew_id: str) -> CrewDose:
        for crew in self.crew:
            if crew.crew_id == crew_id:
                return crew
        raise KeyError(crew_id)
