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
from telemetry.radiation.estimator import alerts
from telemetry.radiation.estimator.model import (
    SOURCE_CODES,
    CrewDose,
    DoseSnapshot,
    EstimateSource,
    LimitStatus,
    Projection,
    ShelterAction,
    ShelterAdvice,
)
from telemetry.radiation.physics import SECONDS_PER_DAY

if TYPE_CHECKING:
    from telemetry.radiation.estimator.setup import CrewSetup, EstimatorSetup
    from telemetry.radiation.estimator.state import CrewState, EstimatorState
    from telemetry.radiation.roster import DoseLimits
    from telemetry.radiation.shelter_rules import ShelterRules


def _same_nan(value: float) -> float:
    """Return ``value``, with any NaN as the one ``math.nan`` object.

    Snapshots are compared with ``==`` (a GUI redraws on a change): equal
    tuples of fields need NaN to be the identical object.
    """
    return value if value == value else math.nan


class SnapshotBuilder:
    """Turns an :class:`EstimatorState` into a :class:`DoseSnapshot`."""

    def __init__(
        self, setup: EstimatorSetup, limits: DoseLimits, rules: ShelterRules
    ) -> None:
        self.setup = setup
        self.limits = limits
        self.rules = rules

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
            provisional_since=self._provisional_since(state),
            revisions=state.revisions,
            ledger_problem=state.ledger_problem,
            unheard_inputs=tuple(
                sorted(k for k, s in state.streams.items() if not s.seen)
            ),
        )

    def _provisional_since(self, state: EstimatorState) -> float:
        """Earliest last sample of an input that has not reported up to now.

        From there on the estimate holds or falls back for that input, and
        late data from it would still revise the dose (within the revise
        window); NaN when every input has reported up to the integration time.
        """
        until = state.until
        if math.isnan(until):
            return math.nan
        window = self.setup.config.revise_window_s
        behind = [
            s.known
            for s in state.streams.values()
            if s.seen and s.known < until and until - s.known < window
        ]
        return min(behind) if behind else math.nan

    def _crew_dose(
        self, state: EstimatorState, setup: CrewSetup, crew: CrewState
    ) -> CrewDose:
        member = setup.member
        levels = self.limits.alert_levels
        statuses: list[LimitStatus] = []
        rel = self._relative_sigma(crew)
        rel = rel if math.isfinite(rel) else 0.0
        e_per_h = setup.limits[0].per_h
        for li, limit in enumerate(setup.limits):
            if crew.limit_now:
                dose, fraction, days = crew.limit_now[li]
            else:
                dose = (
                    member.prior_career_msv + limit.per_h * crew.seed.career
                    if limit.window_days is None
                    else limit.per_h
                    * self._earlier_window(state, crew, limit.window_days)
                )
                # Nothing integrated yet: no rate, so no days to the limit
                # ("insufficient data"), but the level is known already.
                fraction = dose / limit.value
                days = 0.0 if fraction >= 1.0 else math.nan
            level_idx = max(crew.alert_level[li], alerts.level_index(levels, fraction))
            # The estimate's upper 1σ edge (the prior career record is exact).
            estimated = (
                dose - member.prior_career_msv if limit.window_days is None else dose
            )
            upper = (dose + rel * max(estimated, 0.0)) / limit.value
            statuses.append(
                LimitStatus(
                    limit.id,
                    limit.label,
                    limit.value,
                    limit.unit,
                    limit.window_days,
                    dose,
                    fraction,
                    _same_nan(days),
                    levels[level_idx - 1].severity
                    if level_idx > 0
                    else Severity.NOMINAL,
                    limit.source,
                    limit.status,
                    limit.quantity,
                    _same_nan(upper),
                    _same_nan(crew.projected[li][0]) if crew.projected else math.nan,
                )
            )
        uncertainty = self._relative_sigma(crew)
        nearest = min(
            statuses,
            key=lambda s: s.days_to_limit
            if math.isfinite(s.days_to_limit) or math.isinf(s.days_to_limit)
            else math.inf,
        )
        now = crew.now
        career = member.prior_career_msv + e_per_h * (crew.seed.career + crew.session)
        trailing = now.get("trailing", math.nan)
        projected = None
        projection = self._projection(setup, crew, career, uncertainty)
        if projection.ok and projection.mission_end is not None:
            projected = projection.career_e_msv
        return CrewDose(
            crew_id=member.id,
            name=member.name,
            agency=member.agency,
            module=crew.module_id,
            source=crew.source,
            stale=crew.stale,
            rate_usv_h=crew.rate,
            trailing_rate_msv_d=_same_nan(trailing),
            session_msv=crew.session,
            dose_30d_msv=now.get("d30", self._earlier_window(state, crew, 30.0)),
            dose_1y_msv=now.get("d1y", self._earlier_window(state, crew, 365.0)),
            prior_msv=member.prior_career_msv,
            career_msv=career,
            career_limit_msv=setup.career.limit_msv,
            career_fraction=career / setup.career.limit_msv,
            days_to_limit=_same_nan(nearest.days_to_limit),
            limiting=nearest.id,
            uncertainty_rel=uncertainty,
            projected_mission_msv=projected,
            limits=tuple(statuses),
            level=max((s.level for s in statuses), default=Severity.NOMINAL),
            budgets_time=now.get("time", math.nan),
            earlier_msv=crew.seed.career,
            fallback=crew.fallback,
            fallback_since=crew.fallback_since,
            eva=crew.eva,
            eva_msv=crew.eva_msv,
            projection=projection,
        )

    def _projection(
        self, setup: CrewSetup, crew: CrewState, career: float, rel: float
    ) -> Projection:
        """End-of-mission career E from the trailing days, or why there is none."""
        cfg = self.setup.config
        now = crew.now
        covered = now.get("covered_d", 0.0)
        trailing = now.get("trailing", math.nan)
        member = setup.member
        end = (
            dt.datetime.combine(
                member.mission_end, dt.time(), tzinfo=dt.UTC
            ).timestamp()
            if member.mission_end is not None
            else None
        )
        if not math.isfinite(trailing):
            return Projection(
                False,
                f"insufficient data: {covered:.2f} d of dose in the last "
                f"{cfg.projection_window_days:g} d, "
                f"{cfg.projection_min_days:g} d needed",
                covered,
                math.nan,
                end,
                math.nan,
                math.nan,
            )
        if end is None:
            return Projection(
                False,
                "no mission end in the roster",
                covered,
                trailing,
                None,
                math.nan,
                math.nan,
            )
        e_per_h = setup.limits[0].per_h
        left_d = max(0.0, (end - now["time"]) / SECONDS_PER_DAY)
        added = e_per_h * max(trailing, 0.0) * left_d
        estimated = career - member.prior_career_msv
        rel = rel if math.isfinite(rel) else 0.0
        return Projection(
            True,
            "",
            covered,
            trailing,
            end,
            career + added,
            member.prior_career_msv + (estimated + added) * (1.0 + rel),
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
        """Graded advice per crew member (ShelterAdvisor), strongest first."""
        cfg = self.setup.config.shelter
        advice = [c.shelter for c in state.crew if c.shelter is not None]
        advised = [a for a in advice if a.action != ShelterAction.NONE]
        top = max(advised, key=lambda a: a.action.rank, default=None)
        where = {c.crew_id: c.module for c in crews}
        per_crew = tuple(
            (a.crew_id, a.avoided_msv if where.get(a.crew_id) != cfg.module else 0.0)
            for a in advised
        )
        return ShelterAdvice(
            recommended=state.shelter.on,
            since=state.shelter.since,
            reason=f"{top.crew_id}: {top.reason}" if top is not None else "",
            module=cfg.module,
            horizon_h=self.rules.horizon_h,
            dose_avoided_msv=math.fsum(v for _, v in per_crew),
            per_crew=per_crew,
            action=top.action if top is not None else ShelterAction.NONE,
            crew=tuple(advice),
        )
