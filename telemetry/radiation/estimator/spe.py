"""Space weather and orbit in the dose estimator: SPE flags, shelter advice, SAA.

:class:`SpaceWeather` turns joined GOES and ground-track rows into the
estimator's SPE, shelter and SAA state and its events; telemetry-pipeline thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from telemetry.core.severity import Severity
from telemetry.radiation.estimator.model import (
    Batch,
    DoseEvent,
    DoseEventKind,
    FloatArray,
)
from telemetry.radiation.spaceweather import SpeTransitionKind, in_saa, s_label

if TYPE_CHECKING:
    from telemetry.radiation.estimator.alerts import Emit
    from telemetry.radiation.estimator.setup import EstimatorSetup
    from telemetry.radiation.estimator.state import EstimatorState


#: GOES sample times kept waiting for the dose integration (~35 d at 5 min).
MAX_PENDING_DECISIONS: Final = 10_000


class SpaceWeather:
    """SPE and energetic flags, shelter advice and the SAA flag (owner thread)."""

    def __init__(self, setup: EstimatorSetup, emit: Emit) -> None:
        self.setup = setup
        self.emit = emit

    def space_weather(
        self,
        state: EstimatorState,
        times: FloatArray,
        p10: FloatArray,
        p100: FloatArray,
    ) -> list[Batch]:
        if times.shape[0] == 0:
            return []
        # GOES fill values are negative: not a measurement.
        p10 = np.where(p10 >= 0, p10, np.nan)
        p100 = np.where(p100 >= 0, p100, np.nan)
        levels, active = state.spe.update(times, p10, p100)
        state.dirty = True
        for tr in state.spe.drain_transitions():
            self.emit(self._spe_event(state, tr.kind, tr.time, tr.flux_pfu))
        # Shelter advice is decided at each GOES sample time once the dose is
        # integrated that far (ShelterAdvisor), on the event state then.
        spe = state.spe.state()
        on = (active > 0) | spe.energetic
        cfg = self.setup.config.spe
        # Below both end thresholds (NaN: not known, so not quiet).
        quiet = (p10 < cfg.end_pfu) & ~(p100 >= cfg.energetic_end_pfu)
        # Only new GOES points count towards the shelter runs: a relay's
        # repeats of one 5-minute point carry no new information.
        points = state.spe.new_points
        state.shelter_pending.extend(
            zip(
                times[points].tolist(),
                on[points].tolist(),
                quiet[points].tolist(),
                strict=True,
            )
        )
        # Without dose data nothing is decided: keep a bounded queue.
        del state.shelter_pending[:-MAX_PENDING_DECISIONS]
        has = ~np.isnan(levels)
        goes = self.setup.goes_id
        out: list[Batch] = []
        if has.any():
            out.append((f"{goes}.s_scale", times[has], levels[has]))
        out.append((f"{goes}.spe_active", times, active))
        return out

    def _spe_event(
        self, state: EstimatorState, kind: SpeTransitionKind, when: float, flux: float
    ) -> DoseEvent:
        spe = self.setup.config.spe
        if kind == SpeTransitionKind.ONSET:
            return DoseEvent(
                when,
                DoseEventKind.SPE_ONSET,
                Severity.WARNING,
                f"solar particle event: >10 MeV {flux:.3g} pfu "
                f"({s_label(state.spe.state().s_level)}), {spe.onset_points} "
                f"points >= {spe.onset_pfu:g} pfu",
            )
        if kind == SpeTransitionKind.END:
            last = state.spe.events[-1] if state.spe.events else None
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
                f"{self.setup.config.spe.energetic_pfu:g} pfu",
            )
        return DoseEvent(
            when,
            DoseEventKind.ENERGETIC_SPE_END,
            Severity.NOMINAL,
            "energetic SPE ended",
        )

    def orbit_rows(
        self, state: EstimatorState, times: FloatArray, lat: FloatArray, lon: FloatArray
    ) -> list[Batch]:
        ok = ~(np.isnan(lat) | np.isnan(lon))
        if not ok.any():
            return []
        t = times[ok]
        flag = in_saa(lat[ok], lon[ok]).astype(np.float64)
        # Rebuild the snapshot only when the flag changes, not at 1 Hz.
        inside = flag == 1
        previous = bool(inside[0]) if state.saa is None else state.saa
        edges = np.diff(np.concatenate(([previous], inside)).astype(np.int8))
        changes = np.flatnonzero(edges)
        if state.saa is None or changes.shape[0]:
            state.saa_since = float(t[changes[-1]] if changes.shape[0] else t[0])
            state.saa = bool(inside[-1])
            state.dirty = True
        return [(f"{self.setup.orbit_id}.saa", t, flag)]
