"""The ISS ground track (SGP4) and geomagnetic latitude, for SAA passes and SPE dose.

Pure functions and a stateless propagator; used on the simulator's thread.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
from sgp4.api import Satrec

from telemetry.radiation.spaceweather import in_saa

# ISS (ZARYA) element set, epoch 2019-12-09 16:38:29 UTC (day 343.69339541),
# as printed in the python-sgp4 2.27 README (CelesTrak data): 51.64 deg,
# 15.50 rev/day.  SGP4 drifts days away from its epoch and this one is years
# old, so the track is propagated from the epoch by the elapsed simulated time
# and wraps every ORBIT_WRAP_S (one jump in lat/lon per simulated week).
ISS_TLE: Final = (
    "1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991",
    "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482",
)


ORBIT_WRAP_S: Final = 7 * 86400.0


# [R] centred dipole north pole, IGRF-13 epoch 2020: geomagnetic latitude
# stands in for cut-off rigidity (GCR and SPE protons reach the ISS at high
# geomagnetic latitude).
GEOMAGNETIC_POLE_DEG: Final = (80.65, -72.68)
SAA_CORE_DEG: Final = (-27.0, -50.0, 12.0, 25.0)  # [D] lat, lon, sigma lat, lon
DEEP_SAA_CORE: Final = 0.7  # the aligned pass reaches 70 % of the core peak


def geomagnetic_latitude(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Return centred-dipole geomagnetic latitude in degrees."""
    pole_lat, pole_lon = np.radians(GEOMAGNETIC_POLE_DEG)
    la, lo = np.radians(lat), np.radians(lon)
    s = np.sin(la) * np.sin(pole_lat) + np.cos(la) * np.cos(pole_lat) * np.cos(
        lo - pole_lon
    )
    result: np.ndarray = np.degrees(np.arcsin(np.clip(s, -1.0, 1.0)))
    return result


class IssOrbit:
    """SGP4 ground track from the embedded TLE; owned by the thread using it.

    ``offset_s`` shifts the orbit phase: orbit time = elapsed + offset.
    """

    def __init__(self, offset_s: float = 0.0) -> None:
        self._sat = Satrec.twoline2rv(*ISS_TLE)
        self.offset_s = offset_s

    def track(self, elapsed_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return geodetic (lat deg, lon deg, alt km) at ``elapsed_s`` seconds."""
        orbit_s = np.mod(
            np.asarray(elapsed_s, dtype=np.float64) + self.offset_s, ORBIT_WRAP_S
        )
        jd = np.full(orbit_s.shape, self._sat.jdsatepoch)
        fr = self._sat.jdsatepochF + orbit_s / 86400.0
        err, r, _v = self._sat.sgp4_array(jd, fr)
        if np.any(err):
            raise RuntimeError(f"SGP4 error codes {sorted(set(err.tolist()))}")
        # TEME -> Earth-fixed by Greenwich mean sidereal time (IAU-82, Vallado
        # gstime); polar motion and the equation of equinoxes are ignored.
        t_ut1 = (jd + fr - 2451545.0) / 36525.0
        gmst_s = (
            -6.2e-6 * t_ut1**3
            + 0.093104 * t_ut1**2
            + (876600.0 * 3600.0 + 8640184.812866) * t_ut1
            + 67310.54841
        )
        gmst = np.mod(np.radians(gmst_s / 240.0), 2 * np.pi)
        c, s = np.cos(gmst), np.sin(gmst)
        x = c * r[:, 0] + s * r[:, 1]
        y = -s * r[:, 0] + c * r[:, 1]
        z = r[:, 2]
        # WGS-84 geodetic latitude, Bowring's single-step formula (< 1 m here).
        a, f = 6378.137, 1.0 / 298.257223563
        b = a * (1.0 - f)
        e2 = f * (2.0 - f)
        ep2 = (a * a - b * b) / (b * b)
        p = np.hypot(x, y)
        th = np.arctan2(z * a, p * b)
        lat = np.arctan2(z + ep2 * b * np.sin(th) ** 3, p - e2 * a * np.cos(th) ** 3)
        n = a / np.sqrt(1.0 - e2 * np.sin(lat) ** 2)
        alt = p / np.cos(lat) - n
        return np.degrees(lat), np.degrees(np.arctan2(y, x)), alt

    def first_time(
        self, start_s: float, want: Literal["saa_entry", "max_geomagnetic"]
    ) -> float:
        """Return the orbit time (offset 0) of an event in the day after ``start_s``.

        ``saa_entry``: the first entry into a deep SAA pass;
        ``max_geomagnetic``: the highest geomagnetic latitude.
        """
        grid = start_s + np.arange(0.0, 86400.0, 10.0)
        saved, self.offset_s = self.offset_s, 0.0
        try:
            lat, lon, _alt = self.track(grid)
        finally:
            self.offset_s = saved
        if want == "saa_entry":
            # The first deep pass, so the dose rates show a clear peak.
            _gcr, saa, _polar = dose_shapes(lat, lon)
            inside = saa > 0
            entries = np.flatnonzero(inside[1:] & ~inside[:-1]) + 1
            exits = np.flatnonzero(~inside[1:] & inside[:-1]) + 1
            for entry in entries:
                after = exits[exits > entry]
                end = int(after[0]) if after.size else grid.size
                if saa[entry:end].max() >= DEEP_SAA_CORE:
                    return float(grid[entry])
            return start_s
        return float(grid[int(np.argmax(np.abs(geomagnetic_latitude(lat, lon))))])


def dose_shapes(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, ...]:
    """Unit-free dose-rate shapes: GCR, SAA core, SPE high-latitude weight."""
    mlat = np.abs(geomagnetic_latitude(lat, lon))
    # [D] GCR rises ~6x from the geomagnetic equator to 60 deg (cut-off rigidity).
    gcr = 0.35 + 1.65 * np.clip(mlat / 60.0, 0.0, 1.0) ** 2.5
    c_lat, c_lon, s_lat, s_lon = SAA_CORE_DEG
    core = np.exp(
        -0.5 * ((lat - c_lat) / s_lat) ** 2 - 0.5 * ((lon - c_lon) / s_lon) ** 2
    )
    # The console's own SAA flag (MinXSS polygon, radiation.md 3.2), so the
    # simulated peaks fall where the console says "SAA".
    saa = np.where(in_saa(lat, lon), core, 0.0)
    u = np.clip((mlat - 45.0) / 13.0, 0.0, 1.0)
    polar = u * u * (3.0 - 2.0 * u)  # smoothstep 45 -> 58 deg geomagnetic
    return gcr, saa, polar
