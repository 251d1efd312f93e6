"""Derived ECLSS quantities computed in the data path (dew point).

Derived channels go into the same buffers, limits and archive as measured
ones, so every display and alarm treats them alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from telemetry.core.decoding import ChannelBatch

if TYPE_CHECKING:
    from telemetry.core.deriver import DerivedEvent

# Magnus-Tetens coefficients over water (Alduchov & Eskridge 1996), good to
# ~0.35 °C for -45..60 °C: the cabin range with a wide margin.
_MAGNUS_A = 17.625
_MAGNUS_B = 243.04


def dew_point(temp_c: np.ndarray, rh_pct: np.ndarray) -> np.ndarray:
    """Return the dew point (°C) from air temperature (°C) and relative humidity (%)."""
    rh = np.clip(rh_pct, 0.1, 100.0) / 100.0
    gamma = np.log(rh) + _MAGNUS_A * temp_c / (_MAGNUS_B + temp_c)
    result: np.ndarray = _MAGNUS_B * gamma / (_MAGNUS_A - gamma)
    return result


class DewPointDeriver:
    """Adds ``<src>.dewpoint`` per ECLSS source; owned by the telemetry-pipeline thread.

    Temperature is interpolated to the humidity sample times (holding the
    last value) so the two need not arrive in the same message.
    """

    def __init__(self, sources: list[str]) -> None:
        self.sources = set(sources)
        self._last_temp: dict[str, tuple[float, float]] = {}

    def derive(self, batches: list[ChannelBatch]) -> list[ChannelBatch]:
        temps = {b.key.partition(".")[0]: b for b in batches if b.key.endswith(".temp")}
        out: list[ChannelBatch] = []
        for batch in batches:
            source, _, name = batch.key.partition(".")
            if name != "rh" or source not in self.sources:
                continue
            temp = temps.get(source)
            if temp is not None:
                t_at = np.interp(batch.times, temp.times, temp.values)
            elif source in self._last_temp:
                t_at = np.full(batch.times.shape[0], self._last_temp[source][1])
            else:
                continue
            out.append(
                ChannelBatch(
                    f"{source}.dewpoint", batch.times, dew_point(t_at, batch.values)
                )
            )
        for source, temp in temps.items():
            if source in self.sources and temp.times.shape[0]:
                self._last_temp[source] = (
                    float(temp.times[-1]),
                    float(temp.values[-1]),
                )
        return out

    def reset(self) -> None:
        self._last_temp.clear()

    def drain_events(self) -> list[DerivedEvent]:
        return []  # a dew point raises no events of its own

    def checkpoint(self) -> object:
        return dict(self._last_temp)

    def restore(self, state: object) -> None:
        assert isinstance(state, dict)
        self._last_temp = dict(state)
