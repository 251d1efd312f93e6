"""Builds the immutable :class:`DoseSnapshot` from the estimator's state.

Called by whichever thread holds the estimator's state lock (the owner after
an update, or a reader finding the state idle); the result is shared freely.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING

import numpy as np

from telemetry.core.severity import Severity
from telemetry.radiation.estimator.model import (
    SOURCE_CODES,
    CrewDose,
    DoseSnapshot,
    EstimateSource,
    LimitStatus,
    ShelterAdvice,
)
from telemetry.radiation.physics import SECONDS_PER_DAY

if TYPE_CHECKING:
    from telemetry.radiation.estimator.setup import CrewSetup, EstimatorSetup
    from telemetry.radiation.estimator.state import CrewState, EstimatorState
    from telemetry.radiation.roster import DoseLimits


class SnapshotBuilder:
    """Turns an :class:`EstimatorState` into a :class:`DoseSnapshot`."""

    def __init__(self, setup: EstimatorSetup, limits: DoseLimits) -> None:
        self.setup = setup
        self.limits = limits

    def build(self, state: EstimatorState, version: int) -> DoseSnapshot:
        crews = tuple(
            self._crew_dose(state, s, c)
            for s, c in zip(self.setup.crew, state.crew, strict=True)
        )
        return DoseSnapshot(
            time=state.until,
            crew=crews,
            spe=state.spe.state(),
            saa=state.saa,
            saa_since=state.saa_since,
            shelter=self._shelter_advice(state, crews),
            late_samples=state.late_count(),
            dropped_events=state.dropped_events,
            version=version,
            invalid_samples=sum(state.invalid.values()),
            history_note=state.seed_note,
            revisions=state.revisions,
        )

    def _crew_dose(
        self, state: EstimatorState, setup: CrewSetup, crew: CrewState
    ) -> CrewDose:
        member = setup.member
        levels = self.limits.alert_levels
        statuses: list[LimitStatus] = []
        for li, limit in enumerate(setup.limits):
            if crew.limit_now:
                dose, fraction, days = crew.limit_now[li]
            else:
                dose = (
                    member.prior_career_msv + crew.seed.career
                    if limit.window_days is None
                    else self._earlier_window(state, crew, limit.window_days)
                )
                fraction, days = dose / limit.value, math.inf
            level_idx = crew.alert_level[li]
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
                    levels[level_idx - 1].severity
                    if level_idx > 0
                    else Severity.NOMINAL,
                    limit.source,
                    limit.status,
                )
            )
        nearest = min(statuses, key=lambda s: s.days_to_limit)
        now = crew.now
        career = member.prior_career_msv + crew.seed.career + crew.session
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
            dose_30d_msv=now.get("d30", self._earlier_window(state, crew, 30.0)),
            dose_1y_msv=now.get("d1y", self._earlier_window(state, crew, 365.0)),
            prior_msv=member.prior_career_msv,
            career_msv=career,
            career_limit_msv=setup.career.limit_msv,
            career_fraction=career / setup.career.limit_msv,
            days_to_limit=nearest.days_to_limit,
            limiting=nearest.id,
            uncertainty_rel=uncertainty,
            projected_mission_msv=projected,
            limits=tuple(statuses),
            level=max((s.level for s in statuses), default=Severity.NOMINAL),
            budgets_time=now.get("time", math.nan),
            earlier_msv=crew.seed.career,
        )

    def _earlier_window(
        self, state: EstimatorState, crew: CrewState, days: float
    ) -> float:
        """Earlier sessions' dose in the window ending at the seed time (no data)."""
        at = state.seed_time
        if crew.seed.t.shape[0] == 0 or math.isnan(at):
            return 0.0
        ends = crew.seed.at(np.array([at - days * SECONDS_PER_DAY, at]))
        return float(ends[1] - ends[0])

    def _relative_sigma(self, crew: CrewState) -> float:
        """Relative 1σ of the session dose (of the current source before any dose)."""
        if crew.session > 0:
            return crew.sigma / crew.session
        if crew.source == EstimateSource.NONE:
            return math.nan
        return float(self.setup.sigma[SOURCE_CODES.index(crew.source), int(crew.stale)])

    def _shelter_advice(
        self, state: EstimatorState, crews: tuple[CrewDose, ...]
    ) -> ShelterAdvice:
        """Advice with the dose avoided: (rate now - shelter rate) × horizon."""
        cfg = self.setup.config.shelter
        shelter_rate = state.shelter.rate * self.setup.config.body_shielding_factor
        per_crew: list[tuple[str, float]] = []
        for crew in crews:
            avoided = 0.0
            outside = crew.module != cfg.module
            if outside and not math.isnan(crew.rate_usv_h + shelter_rate):
                saved = max(0.0, crew.rate_usv_h - shelter_rate)
                avoided = saved * cfg.horizon_h / 1000.0
            per_crew.append((crew.crew_id, avoided))
        return ShelterAdvice(
            recommended=state.shelter.on,
            since=state.shelter.since,
            reason=state.shelter.reason if state.shelter.on else "",
            module=cfg.module,
            horizon_h=cfg.horizon_h,
            dose_avoided_msv=math.fsum(v for _, v in per_crew),
            per_crew=tuple(per_crew),
        )
