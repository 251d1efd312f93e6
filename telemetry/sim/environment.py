"""The simulated radiation environment: Kibo dose rates, SAA shape, the GOES feed.

Numbers carry their source ([R] reference, [D] design choice); used on the
simulator's thread.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from telemetry.radiation.goes import DEFAULT_GOES_CSV, load_goes_csv
from telemetry.sim.orbit import IssOrbit, dose_shapes

KIBO_ABSORBED_UGY_H: Final = 319.0 / 24.0  # PADLES #1 Kibo PM, 319 uGy/d


KIBO_DOSE_EQ_USV_H: Final = 618.0 / 24.0  # PADLES #1 Kibo PM, 618 uSv/d


SAA_DOSE_SHARE: Final = 0.35  # [R] trapped protons: 30-50 % of absorbed dose


Q_TRAPPED: Final = 1.4  # [R] trapped-proton Q: 1.3-1.6


Q_SPE: Final = 1.4  # [D] solar protons, like trapped ones: low LET


# [D] >10 MeV flux of 1000 pfu adds 3x the Kibo mean at high geomagnetic
# latitude behind JPM walls; softer than GCR, so module shielding counts twice.
SPE_UGY_H_PER_1000PFU: Final = 3.0 * KIBO_ABSORBED_UGY_H


GOES_COMPRESSION: Final = 1200.0  # spe-2017-09: GOES seconds per scenario second


GOES_QUIET_S: Final = 16 * 3600.0  # 2017-09-10 00:00-16:00, before the rise


SHELTER_PFU: Final = 100.0  # spe-2017-09: crew (not c2) shelter in SM from S2


@dataclass(frozen=True, slots=True)
class RadiationCalibration:
    """Scale factors that make one day's mean in the JPM equal PADLES #1."""

    base: float  # uGy/h per unit GCR shape
    saa_gain: float  # SAA core amplitude relative to the GCR shape
    q_gcr: float


@functools.cache
def radiation_calibration() -> RadiationCalibration:
    lat, lon, _alt = IssOrbit().track(np.arange(0.0, 86400.0, 30.0))
    gcr, saa, _polar = dose_shapes(lat, lon)
    g, s = float(gcr.mean()), float(saa.mean())
    gain = SAA_DOSE_SHARE / (1.0 - SAA_DOSE_SHARE) * g / s
    base = KIBO_ABSORBED_UGY_H / (g + gain * s)
    # H = base * (q_gcr * g + Q_TRAPPED * gain * s) must equal the PADLES mean.
    q_gcr = (KIBO_DOSE_EQ_USV_H / base - Q_TRAPPED * gain * s) / g
    return RadiationCalibration(base, gain, q_gcr)


class GoesFeed:
    """Maps simulated time to GOES file time and interpolates the fluxes (log-linear).

    Read-only after construction; owned by its Simulator.
    """

    def __init__(self, scenario: str, rate_scale: float, start: float) -> None:
        self.times, p10, p100 = load_goes_csv(DEFAULT_GOES_CSV)
        self.log_p10 = np.log10(np.maximum(p10, 1e-3))
        self.log_p100 = np.log10(np.maximum(p100, 1e-4))
        self.start = start
        self.event = scenario == "spe-2017-09"
        # Fixture seconds per simulated second; never slower than real time.
        self.compression = (
            max(1.0, GOES_COMPRESSION / rate_scale) if self.event else 1.0
        )
        span = float(self.times[-1] - self.times[0])
        self.event_end_s = span / self.compression if self.event else 0.0

    def fixture_time(self, t: np.ndarray) -> np.ndarray:
        elapsed = t - self.start
        quiet: np.ndarray = self.times[0] + np.mod(
            elapsed - self.event_end_s, GOES_QUIET_S
        )
        if not self.event:
            return quiet
        replay = self.times[0] + elapsed * self.compression
        result: np.ndarray = np.where(elapsed < self.event_end_s, replay, quiet)
        return result

    def fluxes(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ft = self.fixture_time(t)
        p10 = 10.0 ** np.interp(ft, self.times, self.log_p10)
        p100 = 10.0 ** np.interp(ft, self.times, self.log_p100)
        return p10, p100

    def shelter_window(self) -> tuple[float, float] | None:
        """Simulated-time span where the event's >10 MeV flux is at S2 or above."""
        if not self.event:
            return None
        high = np.flatnonzero(self.log_p10 >= math.log10(SHELTER_PFU))
        if not high.size:
            return None
        first, last = self.times[high[0]], self.times[high[-1]]
        to_sim = self.start - self.times[0] / self.compression
        return to_sim + first / self.compression, to_sim + last / self.compression
