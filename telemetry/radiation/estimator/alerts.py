"""Dose alerts: limit levels crossed, projected crossings, stale inputs.

Functions of the estimator's state, called on the telemetry-pipeline thread while
it integrates; events go out through the estimator's ``emit``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from telemetry.core.severity import Severity
from telemetry.core.units import format_percent
from telemetry.radiation.estimator.model import (
    SOURCE_CODES,
    DoseEvent,
    DoseEventKind,
    FloatArray,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from telemetry.radiation.estimator.setup import CrewSetup, Limit
    from telemetry.radiation.estimator.state import CrewState
    from telemetry.radiation.roster import AlertLevel

    Emit = Callable[[DoseEvent], None]

#: A limit re-arms its alerts once the dose is this fraction below a level.
ALERT_REARM_FRACTION: Final = 0.02


def limit_message(
    crew: CrewSetup, limit: Limit, level: str, fraction: float, what: str = "at"
) -> str:
    """'c2 (Name): career (NASA) at 90.0 % (alarm): 540.0 of 600 mSv E'."""
    who = f"{crew.member.id} ({crew.member.name})"
    dose = (
        f"{fraction * limit.value:.1f} of {limit.value:g} {limit.unit} "
        f"{_quantity_symbol(limit.quantity)}"
    )
    return f"{who}: {limit.label} {what} {format_percent(fraction)} ({level}): {dose}"


def _quantity_symbol(quantity: str) -> str:
    """Return the short quantity name printed beside a unit: E, H, Gy-Eq organ dose."""
    if quantity.startswith("effective"):
        return "E"
    if quantity.startswith("dose equivalent"):
        return "H"
    return quantity


def level_index(levels: Sequence[AlertLevel], fraction: float) -> int:
    """Return how many alert levels ``fraction`` of a limit has reached (0: none)."""
    if not math.isfinite(fraction):
        return 0
    return sum(1 for lv in levels if fraction >= lv.fraction)


def limit_alerts(
    emit: Emit,
    levels: Sequence[AlertLevel],
    setup: CrewSetup,
    crew: CrewState,
    evals: FloatArray,
    fractions: FloatArray,
    *,
    projected: bool = False,
) -> None:
    """Raise an event per alert level crossed upwards (re-armed going down).

    With ``projected`` the fractions are those projected at mission end (or
    at the upper edge of the uncertainty band) and the events say so.
    """
    if not levels:
        return
    state_list = crew.projection_level if projected else crew.alert_level
    fracs = np.array([lv.fraction for lv in levels])
    finite = np.where(np.isfinite(fractions), fractions, 0.0)
    reached = np.searchsorted(fracs, finite, side="right")
    rearm = np.searchsorted(fracs, finite + ALERT_REARM_FRACTION, side="right")
    state = np.array(state_list)[:, None]
    changed = (reached > state).any(axis=1) | (rearm < state).any(axis=1)
    for li in np.flatnonzero(changed).tolist():
        limit = setup.limits[li]
        level_now = state_list[li]
        for j in range(evals.shape[0]):
            if reached[li, j] > level_now:
                level_now = int(reached[li, j])
                level = levels[level_now - 1]
                fraction = float(finite[li, j])
                what = (
                    "projected (upper 1σ edge) at mission end to reach"
                    if projected
                    else "at"
                )
                emit(
                    DoseEvent(
                        float(evals[j]),
                        DoseEventKind.PROJECTION if projected else DoseEventKind.LIMIT,
                        level.severity,
                        limit_message(setup, limit, level.name, fraction, what),
                        setup.member.id,
                        limit.id,
                        fraction,
                    )
                )
            elif rearm[li, j] < level_now:
                level_now = int(rearm[li, j])
        state_list[li] = level_now


def stale_events(
    emit: Emit,
    setup: CrewSetup,
    crew: CrewState,
    starts: FloatArray,
    stale: npt.NDArray[np.bool_],
    src: npt.NDArray[np.intp],
) -> None:
    """Raise an event where a crew member's estimate goes onto or off a fallback."""
    if stale.shape[0] == 0:
        return
    previous = crew.stale
    flips = np.flatnonzero(np.diff(np.concatenate(([previous], stale)).astype(np.int8)))
    for j in flips:
        now_stale = bool(stale[j])
        source = SOURCE_CODES[int(src[j])]
        if now_stale:
            message = f"{setup.member.id}: dose estimate on a fallback ({source})"
            if setup.personal_key is not None:
                message += f"; personal dosimeter {setup.personal_key} not fresh"
        else:
            message = f"{setup.member.id}: dose estimate from fresh data ({source})"
        emit(
            DoseEvent(
                float(starts[j]),
                DoseEventKind.DATA_STALE if now_stale else DoseEventKind.DATA_FRESH,
                Severity.WATCH if now_stale else Severity.NOMINAL,
                message,
                setup.member.id,
            )
        )
    crew.stale = bool(stale[-1])
