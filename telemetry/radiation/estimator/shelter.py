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
        for t, spe_on in ready:
            self._decide(state, t, spe_on)
        state.dirty = True

    def _decide(self, state: EstimatorState, t: float, spe_on: bool) -> None:
        if not spe_on:
            self._clear(state, t)
            return
        for setup, crew in zip(self.setup.crew, state.crew, strict=True):
            advice = self._advise(setup, crew, t)
            if advice is None:
                continue
            previous = crew.shelter_action
            # Hysteresis: within one event the advice only grows; it ends
            # when the SPE (and the energetic flag) ends.
            if advice.action.rank < previous.rank and crew.shelter is not None:
                advice = CrewShelter(
                    advice.crew_id,
                    previous,
                    crew.shelter.reason,
                    advice.event_msv,
                    advice.margin_msv,
                    advice.fraction,
                    advice.avoided_msv,
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

    def _advise(
        self, setup: CrewSetup, crew: CrewState, t: float
    ) -> CrewShelter | None:
        """Return one crew member's advice at ``t`` (None: too little history)."""
        rules = self.rules
        cfg = self.setup.config
        ft, fc = crew.fine_t, crew.fine_c
        if ft.shape[0] < 2 or t - float(ft[0]) < rules.min_history_s:
            return None
        lo = max(t - rules.orbit_average_s, float(ft[0]))
        c_lo, c_hi = np.interp([lo, t], ft, fc)
        span_h = (t - lo) / 3600.0
        average = (float(c_hi) - float(c_lo)) / span_h * 1000.0  # µSv/h of H
        sf = self.setup.sf
        module = crew.module_id
        factor = (
            float(sf[self.setup.modules.index(module)])
            if module in self.setup.modules
            else float(sf.max())
        )
        quiet = cfg.model_rate_usv_h * factor * cfg.body_shielding_factor
        excess = max(0.0, average - quiet)
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
        avoided = e_per_h * max(0.0, average * (1.0 - shelter_sf / factor))
        avoided *= rules.horizon_h / 1000.0
        reason = (
            f"projected event dose {format_dose(event_e)} E over the next "
            f"{rules.horizon_h:g} h (orbit-averaged {average:.1f} µSv/h H vs quiet "
            f"{quiet:.1f} µSv/h in {module or 'unknown module'}) = "
            f"{format_percent(worst)} of the {margin_text}"
        )
        return CrewShelter(
            setup.member.id, action, reason, event_e, margin_e, worst, avoided
        )
