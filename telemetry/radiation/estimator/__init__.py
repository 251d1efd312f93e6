"""Real-time crew dose estimation: dose rate channels in, per-crew dose channels out.

One module per concern: ``model`` (published values), ``setup`` (fixed
configuration), ``state`` (all mutable state, one dataclass), ``streams``
(inputs), ``integration`` (dose by sample time), ``alerts``, ``spe`` (SPE, SAA
and shelter), ``snapshot`` (the GUI's view), ``engine`` (``DoseEstimator``),
``view`` (Protocols), ``bench``.
"""

from __future__ import annotations

from telemetry.radiation.estimator.alerts import ALERT_REARM_FRACTION
from telemetry.radiation.estimator.bench import DoseBenchResult, bench_dose_update
from telemetry.radiation.estimator.engine import (
    INVALID_EVENT_INTERVAL_S,
    DoseEstimator,
)
from telemetry.radiation.estimator.integration import MAX_GRID_POINTS
from telemetry.radiation.estimator.model import (
    CREW_CHANNELS,
    Batch,
    CrewDose,
    CrewShelter,
    DoseEvent,
    DoseEventKind,
    DoseSnapshot,
    EstimateSource,
    Fallback,
    LimitStatus,
    Projection,
    ShelterAction,
    ShelterAdvice,
)
from telemetry.radiation.estimator.setup import MAX_DOSE_RATE_USV_H, MAX_FLUX_PFU
from telemetry.radiation.estimator.state import MAX_PENDING_EVENTS, EstimatorState
from telemetry.radiation.estimator.view import (
    DoseView,
)

__all__ = [
    "ALERT_REARM_FRACTION",
    "CREW_CHANNELS",
    "INVALID_EVENT_INTERVAL_S",
    "MAX_DOSE_RATE_USV_H",
    "MAX_FLUX_PFU",
    "MAX_GRID_POINTS",
    "MAX_PENDING_EVENTS",
    "Batch",
    "CrewDose",
    "CrewShelter",
    "DoseBenchResult",
    "DoseEstimator",
    "DoseEvent",
    "DoseEventKind",
    "DoseSnapshot",
    "DoseView",
    "EstimateSource",
    "EstimatorState",
    "Fallback",
    "LimitStatus",
    "Projection",
    "ShelterAction",
    "ShelterAdvice",
    "bench_dose_update",
]
