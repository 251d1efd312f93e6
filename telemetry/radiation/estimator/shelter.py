"""Graded shelter advice from each crew member's projected event dose.

During an SPE, at each GOES sample time (once the dose is integrated that
far): the orbit-averaged dose rate of the last orbits above the quiet-time
rate of the crew member's module, times the remaining event horizon, is the
event dose; against the smallest remaining margin of any of their limits it
picks the action (``resources/shelter_advice.toml``). Owned by the
telemetry-pipeline thread, inside the estimator.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from telemetry.core.severity import Severity
from telemetry.core.units import format_dose, format_percent
from telemetry.radiation.estimator.model import (
    CrewShelter,
    DoseEvent,
    DoseEventKind,
    ShelterAction,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from telemetry.radiation.estimator.alerts import Emit
    from telemetry.radiation.estimator.setup import CrewSetup, EstimatorSetup
    from telemetry.radiation.estimator.state import CrewState, EstimatorState
    from telemetry.radiation.shelter_rules import ShelterRules

_SEVERITY = {
    ShelterAction.NONE: Severity.NOMINAL,
    ShelterAction.AVOID_LOW_SHIELDED: Severity.WATCH,
    ShelterAction.SLEEP_SHIELDED: Severity.WARNING,
    ShelterAction.RELOCATE: Severity.CRITICAL,
}


class ShelterAdvisor:
    """Decides each crew member's action at queued GOES sample times."""

    def __init__(self, setup: EstimatorSetup, rules: ShelterRules, emit: Emit) -> None:
        self.setup = setup
        self.rules = rules
        self.emit = emit

    def process(self, state: EstimatorState) -> None:
        """Decide at every queued time the dose is integrated to (in order)."""
        until = state.until
        if math.isnan(until) or not state.shelter_pending:
            return
        ready = [p for p in state.shelter_pending if p[0] <= until]
        if not ready:
            return
        state.shelter_pending = [p for p in state.shelter_pending if p[0] > until]
        for t, spe_on, quiet in ready:
            self._decide(state, t, spe_on, quiet)
        state.dirty = True

    def carry_over(
        self,
        state: EstimatorState,
        advice: Mapping[str, tuple[ShelterAction, str]],
        since: float | None,
    ) -> None:
        """Stand by the advice of the console before a restart (crew -> action, why).

        A restart must not withdraw a standing "relocate": it stands, and only
        grows, until this console sees the flux below both end thresholds for
        a whole end run (``spe.end_points`` GOES samples), or its own SPE ends.
        """
        for setup, crew in zip(self.setup.crew, state.crew, strict=True):
            carried = advice.get(setup.member.id)
            if carried is None or carried[0] == ShelterAction.NONE:
                continue
            action, reason = carried
            crew.shelter_action = action
            crew.shelter = CrewShelter(
                setup.member.id,
                action,
                reason,
                math.nan,
                math.nan,
                math.nan,
                0.0,
            )
            state.shelter.carried = True
        if state.shelter.carried and state.shelter.since is None:
            state.shelter.since = since
        state.shelter.on = any(
            c.shelter_action == ShelterAction.RELOCATE for c in state.crew
        )
        state.dirty = True

    def _decide(
        self, state: EstimatorState, t: float, spe_on: bool, quiet: bool
    ) -> None:
        if not spe_on:
            if state.shelter.carried:
                state.shelter.quiet_run = state.shelter.quiet_run + 1 if quiet else 0
                if state.shelter.quiet_run < self.setup.config.spe.end_points:
                    return
            self._clear(state, t)
            return
        state.shelter.quiet_run = 0
        for setup, crew in zip(self.setup.crew, state.crew, strict=True):
            advice = self._advise(setup, crew, t)
            if advice is None:
                continue
            previous = crew.shelter_action
            held = crew.shelter
            if (
                held is not None
                and held.provisional
                and not advice.provisional
                and advice.action.rank < previous.rank
            ):
                # An orbit of history now: its average replaces the early
                # estimate that erred high, once (then it only grows again).
                crew.shelter = advice
                crew.shelter_action = advice.action
                self.emit(
                    DoseEvent(
                        t,
                        DoseEventKind.SHELTER,
                        _SEVERITY[advice.action],
                        f"{setup.member.id} ({setup.member.name}): "
                        f"{advice.action.value} (was {previous.value} on under an "
                        f"orbit of dose history): {advice.reason}",
                        setup.member.id,
                    )
                )
                continue
            # Hysteresis: within one event the advice only grows; it ends
            # when the SPE (and the energetic flag) ends.
            if advice.action.rank < previous.rank and held is not None:
                advice = CrewShelter(
                    advice.crew_id,
                    previous,
                    held.reason,
                    advice.event_msv,
                    advice.margin_msv,
                    advice.fraction,
                    advice.avoided_msv,
                    held.provisional,
                )
            crew.shelter = advice
            if advice.action.rank > previous.rank:
                crew.shelter_action = advice.action
                if state.shelter.since is None:
                    state.shelter.since = t
                self.emit(
                    DoseEvent(
                        t,
                        DoseEventKind.SHELTER,
                        _SEVERITY[advice.action],
                        f"{setup.member.id} ({setup.member.name}): "
                        f"{advice.action.value}: {advice.reason}",
                        setup.member.id,
                    )
                )
        state.shelter.on = any(
            c.shelter_action == ShelterAction.RELOCATE for c in state.crew
        )

    def _clear(self, state: EstimatorState, t: float) -> None:
        for setup, crew in zip(self.setup.crew, state.crew, strict=True):
            if crew.shelter_action != ShelterAction.NONE:
                self.emit(
                    DoseEvent(
                        t,
                        DoseEventKind.SHELTER_CLEARED,
                        Severity.NOMINAL,
                        f"{setup.member.id}: shelter advice ended with the SPE "
                        f"(was: {crew.shelter_action.value})",
                        setup.member.id,
                    )
                )
            crew.shelter_action = ShelterAction.NONE
            crew.shelter = None
        state.shelter.on = False
        state.shelter.since = None
        state.shelter.carried = False
        state.shelter.quiet_run = 0

    def _advise(
        self, setup: CrewSetup, crew: CrewState, t: float
    ) -> CrewShelter | None:
        """Return one crew member's advice at ``t`` (None: no dose known at all).

        The orbit average uses this session's dose and, before it, earlier
        sessions' hourly ledger bins. With less than ``min_history_s`` of
        history (a console started or restarted during the event) the
        estimate errs high, as every fallback does: the higher of that short
        average and the crew member's current rate. Anyone whose remaining
        margin is tiny gets advice from the first decision of an event.
        """
        rules = self.rules
        lo = t - rules.orbit_average_s
        ft, fc = crew.fine_t, crew.fine_c
        start = float(ft[0]) if ft.shape[0] else t
        dose_h = 0.0  # mSv of H over the history used
        history_s = 0.0
        if ft.shape[0] >= 2 and t > start:
            c_lo, c_hi = np.interp([max(lo, start), t], ft, fc)
            dose_h += float(c_hi) - float(c_lo)
            history_s += t - max(lo, start)
        if lo < start and crew.seed.t.shape[0]:
            # Earlier sessions (the ledger), up to where this one begins.
            edges = np.array([lo, start])
            earlier = crew.seed.at(edges)
            dose_h += float(earlier[1] - earlier[0])
            history_s += float(crew.seed.covered(edges[:1], edges[1:])[0])
        average = dose_h / (history_s / 3600.0) * 1000.0 if history_s > 0 else math.nan
        short = history_s < rules.min_history_s
        estimate = average
        current = crew.rate if short else math.nan
        if math.isfinite(current):
            estimate = max(current, average) if math.isfinite(average) else current
        if not math.isfinite(estimate):
            return None
        return self._grade(setup, crew, estimate, history_s, short=short)

    def _grade(
        self,
        setup: CrewSetup,
        crew: CrewState,
        rate: float,
        history_s: float,
        *,
        short: bool,
    ) -> CrewShelter:
        """Grade the event dose of ``rate`` (µSv/h of H) against the margins."""
        rules = self.rules
        cfg = self.setup.config
        sf = self.setup.sf
        module = crew.module_id
        factor = (
            float(sf[self.setup.modules.index(module)])
            if module in self.setup.modules
            else float(sf.max())
        )
        quiet = cfg.model_rate_usv_h * factor * cfg.body_shielding_factor
        excess = max(0.0, rate - quiet)
        event_h = excess * rules.horizon_h / 1000.0  # mSv of H
        e_per_h = setup.limits[0].per_h
        event_e = e_per_h * event_h
        worst = 0.0
        margin_text = "no limit data yet"
        margin_e = math.inf
        for li, limit in enumerate(setup.limits):
            if not crew.limit_now:
                break
            dose = crew.limit_now[li][0]
            remaining = limit.value - dose
            event_q = event_h * limit.per_h
            fraction = event_q / remaining if remaining > 0 else math.inf
            if fraction >= worst:
                worst = fraction
                margin_e = remaining
                margin_text = (
                    f"remaining {format_dose(max(remaining, 0.0), unit=limit.unit)} "
                    f"{limit.label} margin"
                )
        rule = rules.grade(event_e, worst)
        action = rule.action if rule is not None else ShelterAction.NONE
        shelter_sf = float(sf[self.setup.shelter_idx])
        avoided = e_per_h * max(0.0, rate * (1.0 - shelter_sf / factor))
        avoided *= rules.horizon_h / 1000.0
        where = module or "unknown module"
        if short:
            # Under an orbit of history: say so, and that it errs high.
            basis = (
                f"{rate:.1f} µSv/h H: current or {history_s / 60.0:.0f}-min "
                f"average, whichever is higher (errs high) vs quiet {quiet:.1f} "
                f"µSv/h in {where}"
            )
        else:
            basis = (
                f"orbit-averaged {rate:.1f} µSv/h H vs quiet {quiet:.1f} µSv/h "
                f"in {where}"
            )
        reason = (
            f"projected event dose {format_dose(event_e)} E over the next "
            f"{rules.horizon_h:g} h ({basis}) = "
            f"{format_percent(worst)} of the {margin_text}"
        )
        return CrewShelter(
            setup.member.id, action, reason, event_e, margin_e, worst, avoided, short
        )
