"""Seeded telemetry simulator: robots, ECLSS, dosimeters, crew, ISS orbit, GOES.

Produces protocol-v1 batches (``SimFrame``) for every source the dictionary
declares, numpy-vectorised per batch. It owns no socket: see
``telemetry.bus.publisher``.
"""

from __future__ import annotations

import functools
import math
import time
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
from sgp4.api import Satrec

from telemetry.core.wire import encode_frame
from telemetry.radiation.goes import DEFAULT_GOES_CSV, load_goes_csv
from telemetry.radiation.spaceweather import in_saa

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from telemetry.core.dictionary import ModuleSpec, TelemetryDictionary

SCENARIOS: Final = ("nominal", "co2-rise", "nav-loss", "spe-2017-09")

# --- ISS orbit ---------------------------------------------------------------
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

# --- Radiation (radiation.md 2.5, 3.2) ----------------------------------------
KIBO_ABSORBED_UGY_H: Final = 319.0 / 24.0  # PADLES #1 Kibo PM, 319 uGy/d
KIBO_DOSE_EQ_USV_H: Final = 618.0 / 24.0  # PADLES #1 Kibo PM, 618 uSv/d
SAA_DOSE_SHARE: Final = 0.35  # [R] trapped protons: 30-50 % of absorbed dose
Q_TRAPPED: Final = 1.4  # [R] trapped-proton Q: 1.3-1.6
Q_SPE: Final = 1.4  # [D] solar protons, like trapped ones: low LET
SAA_CORE_DEG: Final = (-27.0, -50.0, 12.0, 25.0)  # [D] lat, lon, sigma lat, lon
# [D] >10 MeV flux of 1000 pfu adds 3x the Kibo mean at high geomagnetic
# latitude behind JPM walls; softer than GCR, so module shielding counts twice.
SPE_UGY_H_PER_1000PFU: Final = 3.0 * KIBO_ABSORBED_UGY_H

# --- Robots (IB2 ctl.yaml, sim.yaml; telemetry-reference.md) -----------------
ROBOT_RADIUS_M: Final = 0.10
ROBOT_MARGIN_M: Final = 0.05
V_CRUISE: Final = 0.15  # min-jerk peak speed, under v_max 0.20 m/s
V_DOCK: Final = 0.04
W_TURN: Final = math.radians(15.0)  # peak turn rate, under 25 deg/s
# Min-jerk s(tau) = 10 tau^3 - 15 tau^4 + 6 tau^5 peaks at 1.875 x mean speed.
MIN_JERK_PEAK: Final = 1.875
DOCK_AT_PCT: Final = 35.0
CHARGE_TO_PCT: Final = 95.0
# [D] battery rates in %/s by activity; charging +2 %/min.
DRAIN: Final = {"move": 0.9 / 60, "turn": 0.8 / 60, "hold": 0.6 / 60, "idle": 0.4 / 60}
CHARGE: Final = 2.0 / 60
NAV_NOISE: Final = (0.001, 0.002, math.radians(0.01))  # 1 sigma: m, m/s, rad

# --- Scenario timelines, in scenario seconds (x rate_scale in sim time) -------
SAA_ENTRY_S: Final = 120.0
DEEP_SAA_CORE: Final = 0.7  # the aligned pass reaches 70 % of the core peak
CDRA_FAIL_S: Final = 60.0
CO2_NOMINAL: Final = 2.1  # mmHg: inside the 2-3 band, under the 2.3 watch level
CO2_PLATEAU: Final = 6.0
CO2_TAU_S: Final = 176.0  # 2.1 -> 5.0 mmHg in 240 s
NAV_INERTIAL_S: Final = 60.0
NAV_OFF_S: Final = 150.0
NAV_LOSS_BATTERY: Final = ((0.0, 36.0), (180.0, 20.0), (300.0, 5.0), (420.0, 2.0))
GOES_COMPRESSION: Final = 1200.0  # spe-2017-09: GOES seconds per scenario second
GOES_QUIET_S: Final = 16 * 3600.0  # 2017-09-10 00:00-16:00, before the rise
SHELTER_PFU: Final = 100.0  # spe-2017-09: crew (not c2) shelter in SM from S2


@dataclass(frozen=True, slots=True)
class SimFrame:
    """One message's worth of rows for one source; immutable, so any thread may read it.

    ``columns`` maps channel name to a numpy array (floats, ints, bools, or
    an object array of enum state names) with one value per time.
    """

    family: str
    source: str
    seq: int
    times: np.ndarray
    columns: dict[str, np.ndarray]

    @property
    def topic(self) -> str:
        return f"{self.family}.{self.source}"

    @property
    def rows(self) -> int:
        return int(self.times.shape[0])

    @property
    def samples(self) -> int:
        return self.rows * len(self.columns)

    def encode(self, encoding: Literal["json", "msgpack"] = "msgpack") -> list[bytes]:
        """Return the multipart message ``[topic, payload]``."""
        return encode_frame(
            self.family, self.source, self.seq, self.times, self.columns, encoding
        )


# --- Geometry helpers ----------------------------------------------------------


def geomagnetic_latitude(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Return centred-dipole geomagnetic latitude in degrees."""
    pole_lat, pole_lon = np.radians(GEOMAGNETIC_POLE_DEG)
    la, lo = np.radians(lat), np.radians(lon)
    s = np.sin(la) * np.sin(pole_lat) + np.cos(la) * np.cos(pole_lat) * np.cos(
        lo - pole_lon
    )
    result: np.ndarray = np.degrees(np.arcsin(np.clip(s, -1.0, 1.0)))
    return result


def _min_jerk(tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return position fraction and its derivative d/dtau on [0, 1]."""
    t2 = tau * tau
    s = t2 * tau * (10.0 - 15.0 * tau + 6.0 * t2)
    ds = 30.0 * t2 * (1.0 - 2.0 * tau + t2)
    return s, ds


def _heading(direction: np.ndarray) -> tuple[float, float]:
    """Return (yaw, pitch) that point the body +X axis along ``direction``."""
    dx, dy, dz = (float(v) for v in direction)
    return math.atan2(dy, dx), math.atan2(-dz, math.hypot(dx, dy))


def _quaternion(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Return (n, 4) quaternions x, y, z, w of Rz(yaw) * Ry(pitch).

    Yaw stays unwrapped so the components are continuous through turns.
    """
    sz, cz = np.sin(yaw / 2), np.cos(yaw / 2)
    sy, cy = np.sin(pitch / 2), np.cos(pitch / 2)
    return np.stack([-sz * sy, cz * sy, sz * cy, cz * cy], axis=1)


def _segment_hits_box(
    p: np.ndarray, q: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> bool:
    """Return whether the segment p->q touches the box [lo, hi] (slab test)."""
    t0, t1 = 0.0, 1.0
    d = q - p
    for axis in range(3):
        if abs(d[axis]) < 1e-12:
            if p[axis] < lo[axis] or p[axis] > hi[axis]:
                return False
            continue
        a = (lo[axis] - p[axis]) / d[axis]
        b = (hi[axis] - p[axis]) / d[axis]
        t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
        if t0 > t1:
            return False
    return True


def _source_rng(seed: int, source: str, stream: int) -> np.random.Generator:
    """One independent Generator per (source, purpose), stable across dictionaries."""
    key = (zlib.crc32(source.encode("utf-8")), stream)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


# --- Orbit and radiation environment --------------------------------------------


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
            _gcr, saa, _polar = _shapes(lat, lon)
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


def _shapes(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, ...]:
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


@dataclass(frozen=True, slots=True)
class _RadiationCalibration:
    """Scale factors that make one day's mean in the JPM equal PADLES #1."""

    base: float  # uGy/h per unit GCR shape
    saa_gain: float  # SAA core amplitude relative to the GCR shape
    q_gcr: float


@functools.cache
def _radiation_calibration() -> _RadiationCalibration:
    lat, lon, _alt = IssOrbit().track(np.arange(0.0, 86400.0, 30.0))
    gcr, saa, _polar = _shapes(lat, lon)
    g, s = float(gcr.mean()), float(saa.mean())
    gain = SAA_DOSE_SHARE / (1.0 - SAA_DOSE_SHARE) * g / s
    base = KIBO_ABSORBED_UGY_H / (g + gain * s)
    # H = base * (q_gcr * g + Q_TRAPPED * gain * s) must equal the PADLES mean.
    q_gcr = (KIBO_DOSE_EQ_USV_H / base - Q_TRAPPED * gain * s) / g
    return _RadiationCalibration(base, gain, q_gcr)


class _GoesFeed:
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


# --- Robots ---------------------------------------------------------------------


@dataclass(slots=True)
class _Phase:
    """A piece of a robot's plan: hold, turn in place, or a min-jerk move."""

    t0: float
    t1: float
    kind: Literal["hold", "turn", "move"]
    p0: np.ndarray
    p1: np.ndarray
    att0: tuple[float, float]
    att1: tuple[float, float]
    mode: str
    ctl: str
    cams: tuple[str, str, str]
    batt0: float
    batt_rate: float
    temp0: float
    temp_target: float
    disk0: float
    disk_rate: float


TEMP_TAU_S: Final = 600.0
TEMP_TARGET: Final = {
    "move": 43.0,
    "turn": 42.0,
    "hold": 41.0,
    "idle": 39.0,
    "dock": 36.0,
}
DISK_RECORD: Final = -0.004  # %/s while recording 4K
DISK_DOWNLINK: Final = 0.02  # %/s while docked
DISK_FULL: Final = 90.0
ROBOT_CLEARANCE_M: Final = 0.35  # two radii and 15 cm between robots
DOCK_CLEAR_M: Final = 0.8  # no parking this close to the station or its approach
CONFLICT_WAIT_S: Final = 10.0
CLEARANCE_CHECK_S: Final = 0.5  # 0.15 m at the 0.30 m/s closing speed of two robots


@dataclass(slots=True)
class _DockSchedule:
    """Reservations of the one docking station; shared by the planners of a fleet."""

    slots: list[tuple[float, float]] = field(default_factory=list)

    def earliest(self, start: float, length: float) -> float:
        t = start
        for a, b in sorted(self.slots):
            if t + length <= a:
                break
            t = max(t, b)
        return t


class _RobotPlanner:
    """Plans one robot's phases ahead of time; owned by its Simulator's thread.

    Every step is planned tentatively and kept only if it stays clear of the
    other robots' plans (a robot is assumed to stay put beyond its plan), so
    whichever robot plans second steers around the first.
    """

    def __init__(
        self,
        source: str,
        rng: np.random.Generator,
        keep_in: tuple[np.ndarray, np.ndarray],
        work_x: tuple[float, float],
        zones: list[tuple[np.ndarray, np.ndarray]],
        dock: np.ndarray,
        dock_schedule: _DockSchedule,
        start: float,
        battery: float,
        disk: float,
    ) -> None:
        self.source = source
        self.rng = rng
        self.lo, self.hi = keep_in
        self.work_lo = np.array([max(work_x[0], self.lo[0]), self.lo[1], self.lo[2]])
        self.work_hi = np.array([min(work_x[1], self.hi[0]), self.hi[1], self.hi[2]])
        self.zones = zones
        self.dock = dock
        # Approach point in front of the station, on the +X side.
        self.approach = dock + np.array([0.5, 0.0, 0.0])
        self.schedule = dock_schedule
        self.others: list[_RobotPlanner] = []
        self.phases: list[_Phase] = []
        self.t = start
        self.pos = self._free_point()
        self.att = (float(rng.uniform(-math.pi, math.pi)), 0.0)
        self.batt = battery
        self.temp = 38.0
        self.disk = disk
        self.docked = False

    # Planning ------------------------------------------------------------------

    def _parkable(self, p: np.ndarray) -> bool:
        """Clear of keep-out zones and of the station's approach corridor."""
        if any(_segment_hits_box(p, p, lo, hi) for lo, hi in self.zones):
            return False
        # Nobody parks by the station, so docking traffic never waits on a
        # hovering robot (and two robots cannot block each other there).
        return bool(
            np.linalg.norm(p - self.dock) > DOCK_CLEAR_M
            and np.linalg.norm(p - self.approach) > DOCK_CLEAR_M
        )

    def _free_point(
        self, lo: np.ndarray | None = None, hi: np.ndarray | None = None
    ) -> np.ndarray:
        lo = self.work_lo if lo is None else lo
        hi = self.work_hi if hi is None else hi
        p: np.ndarray = (lo + hi) / 2
        for _ in range(200):
            p = self.rng.uniform(lo, hi)
            if self._parkable(p):
                return p
        return p

    def _clear(self, p: np.ndarray, q: np.ndarray) -> bool:
        return not any(_segment_hits_box(p, q, lo, hi) for lo, hi in self.zones)

    def _route(self, goal: np.ndarray) -> list[np.ndarray] | None:
        """Return waypoints to ``goal`` clear of keep-out zones, or None.

        Straight if clear, else through one random via-point, else out to the
        module's axis, along it and back out (keep-out zones hug the walls).
        """
        if self._clear(self.pos, goal):
            return [goal]
        for box in ((self.work_lo, self.work_hi), (self.lo, self.hi)):
            for _ in range(30):
                via = self.rng.uniform(*box)
                if self._clear(self.pos, via) and self._clear(via, goal):
                    return [via, goal]
        mid = (self.lo + self.hi) / 2
        route = [np.array([self.pos[0], *mid[1:]]), np.array([goal[0], *mid[1:]]), goal]
        legs = zip([self.pos, *route[:-1]], route, strict=True)
        return route if all(self._clear(p, q) for p, q in legs) else None

    def _mark(
        self,
    ) -> tuple[int, float, np.ndarray, tuple[float, float], float, float, float]:
        return (
            len(self.phases),
            self.t,
            self.pos,
            self.att,
            self.batt,
            self.temp,
            self.disk,
        )

    def _rollback(
        self,
        mark: tuple[int, float, np.ndarray, tuple[float, float], float, float, float],
    ) -> None:
        n, self.t, self.pos, self.att, self.batt, self.temp, self.disk = mark
        del self.phases[n:]

    def _conflicts(self, since: int) -> bool:
        """Return whether phases planned since ``since`` come near another robot.

        Checked until both plans end (beyond its plan a robot stays put), so
        parking where the other robot will arrive later counts too.
        """
        if since >= len(self.phases) or not self.others:
            return False
        t0 = self.phases[since].t0
        t1 = max([self.t, *(other.t for other in self.others)])
        times = np.append(np.arange(t0, t1, CLEARANCE_CHECK_S), t1)
        mine = self.positions(times)
        for other in self.others:
            gap = np.linalg.norm(mine - other.positions(times), axis=1)
            # Robots that start too close may only move apart.
            if (gap < min(ROBOT_CLEARANCE_M, float(gap[0]) - 1e-6)).any():
                return True
        return False

    def _add(
        self,
        kind: Literal["hold", "turn", "move"],
        duration: float,
        *,
        to: np.ndarray | None = None,
        att: tuple[float, float] | None = None,
        mode: str = "OPERATION",
        ctl: str = "KEEP_POSE",
        cams: tuple[str, str, str] = ("ON", "ON", "OFF"),
        activity: str = "hold",
    ) -> None:
        duration = max(duration, 0.5)
        batt_rate = CHARGE if activity == "dock" else -DRAIN[activity]
        disk_rate = DISK_DOWNLINK if activity == "dock" else 0.0
        if cams[2] == "ON":
            disk_rate += DISK_RECORD
        p1 = self.pos if to is None else to
        a1 = self.att if att is None else att
        target = TEMP_TARGET[activity]
        self.phases.append(
            _Phase(
                self.t,
                self.t + duration,
                kind,
                self.pos,
                p1,
                self.att,
                a1,
                mode,
                ctl,
                cams,
                self.batt,
                batt_rate,
                self.temp,
                target,
                self.disk,
                disk_rate,
            )  # fmt: skip
        )
        self.t += duration
        self.pos, self.att = p1, a1
        self.batt = float(np.clip(self.batt + batt_rate * duration, 0.0, 100.0))
        decay = math.exp(-duration / TEMP_TAU_S)
        self.temp = target + (self.temp - target) * decay
        self.disk = float(np.clip(self.disk + disk_rate * duration, 0.0, DISK_FULL))

    def _fly(self, goal: np.ndarray, speed: float, mode: str, ctl: str) -> None:
        """Turn toward ``goal`` then move there on a min-jerk profile."""
        distance = float(np.linalg.norm(goal - self.pos))
        if distance < 1e-3:
            return
        yaw, pitch = _heading(goal - self.pos)
        dyaw = (yaw - self.att[0] + math.pi) % (2 * math.pi) - math.pi
        target = (self.att[0] + dyaw, pitch)
        sweep = max(abs(dyaw), abs(pitch - self.att[1]))
        if sweep > math.radians(1.0):
            self._add(
                "turn", MIN_JERK_PEAK * sweep / W_TURN,
                att=target, mode=mode, ctl=ctl, activity="turn",
            )  # fmt: skip
        self._add(
            "move", MIN_JERK_PEAK * distance / speed,
            to=goal, att=target, mode=mode, ctl=ctl, activity="move",
        )  # fmt: skip

    def plan_next(self) -> None:
        """Append the next step: an errand, a docking, or a charge and release."""
        if self.docked:
            self._release()
        elif self.batt < DOCK_AT_PCT:
            self._dock()
        else:
            self._errand()

    def _errand(self) -> None:
        for _ in range(8):
            mark = self._mark()
            route = self._route(self._free_point())
            if route is None:
                continue
            for point in route:
                self._fly(point, V_CRUISE, "OPERATION", "MOVE_TO_ABSOLUTE_TARGET")
            recording = bool(self.rng.random() < 0.5)
            self._add(
                "hold", float(self.rng.uniform(5.0, 40.0)),
                cams=("ON", "ON", "ON" if recording else "OFF"),
            )  # fmt: skip
            if not self._conflicts(mark[0]):
                return
            self._rollback(mark)
        self._add("hold", CONFLICT_WAIT_S)

    def _dock(self) -> None:
        mark = self._mark()
        legs = self._route(self.approach)
        if legs is None:
            self._add("hold", CONFLICT_WAIT_S, mode="IDLING", activity="idle")
            return
        # Find a free slot on the station for the whole stay, then go.
        travel, here = 0.0, self.pos
        for point in legs:
            travel += MIN_JERK_PEAK * float(np.linalg.norm(point - here)) / V_CRUISE
            travel += 15.0  # turning
            here = point
        final = (
            MIN_JERK_PEAK * float(np.linalg.norm(self.dock - self.approach)) / V_DOCK
        )
        wait = 0.0
        for _ in range(10):
            at_dock = self.batt - DRAIN["idle"] * wait - DRAIN["move"] * (travel + 30.0)
            stay = 2 * (30.0 + final) + (CHARGE_TO_PCT - at_dock) / CHARGE
            slot = self.schedule.earliest(self.t + wait + travel, stay)
            if slot <= self.t + wait + travel + 1e-6:
                break
            wait = slot - self.t - travel
        if wait > 0:
            self._add("hold", wait, mode="IDLING", activity="idle")
        depart = self.t
        for point in legs:
            self._fly(point, V_CRUISE, "DOCKING", "MOVING_TO_AIA_AIP")
        dyaw = self._to_face_dock()
        sweep = max(abs(dyaw), abs(self.att[1]))
        self._add(
            "turn", MIN_JERK_PEAK * sweep / W_TURN + 1.0,
            att=(self.att[0] + dyaw, 0.0),
            mode="DOCKING", ctl="WAITING_AT_AIA_AIP", activity="turn",
        )  # fmt: skip
        self._add("hold", 5.0, mode="DOCKING", ctl="DOCKING_STAND_BY")
        self._add(
            "move", final, to=self.dock.copy(),
            mode="DOCKING", ctl="MOVING_TO_RDP", activity="move",
        )  # fmt: skip
        charge = max((CHARGE_TO_PCT - self.batt) / CHARGE, 60.0)
        self._add(
            "hold", charge, mode="STANDBY", ctl="STAND_BY",
            cams=("ON", "OFF", "OFF"), activity="dock",
        )  # fmt: skip
        if self._conflicts(mark[0]):
            self._rollback(mark)
            self._add("hold", CONFLICT_WAIT_S, mode="IDLING", activity="idle")
            return
        self.docked = True
        self.schedule.slots.append((depart, self.t + 5.0 + final + 30.0))

    def _to_face_dock(self) -> float:
        # The station is on -X of the approach point: face yaw = pi.
        return (math.pi - self.att[0] + math.pi) % (2 * math.pi) - math.pi

    def _release(self) -> None:
        mark = self._mark()
        self._add("hold", 5.0, mode="RELEASE", ctl="RELEASE", cams=("ON", "OFF", "OFF"))
        final = MIN_JERK_PEAK * float(np.linalg.norm(self.approach - self.pos)) / V_DOCK
        self._add(
            "move", final, to=self.approach.copy(), mode="RELEASE", ctl="RELEASE",
            cams=("ON", "ON", "OFF"), activity="move",
        )  # fmt: skip
        if self._conflicts(mark[0]):
            self._rollback(mark)
            self._add(
                "hold", CONFLICT_WAIT_S, mode="STANDBY", ctl="STAND_BY",
                cams=("ON", "OFF", "OFF"), activity="dock",
            )  # fmt: skip
            return
        self.docked = False

    # Evaluation ------------------------------------------------------------------

    def _index(self, times: np.ndarray) -> np.ndarray:
        starts = np.array([p.t0 for p in self.phases])
        index: np.ndarray = np.searchsorted(starts, times, side="right") - 1
        index[index < 0] = 0
        return index

    def positions(self, times: np.ndarray) -> np.ndarray:
        """Planned positions at ``times``; past the plan the robot stays put."""
        out = np.repeat(self.pos[None, :], times.shape[0], axis=0)
        planned = times < self.t
        if not self.phases or not planned.any():
            return out
        index = self._index(times[planned])
        pos = np.empty((index.shape[0], 3))
        for i in np.unique(index):
            ph = self.phases[int(i)]
            m = index == i
            if ph.kind == "move":
                tau = np.clip((times[planned][m] - ph.t0) / (ph.t1 - ph.t0), 0.0, 1.0)
                s, _ds = _min_jerk(tau)
                pos[m] = ph.p0 + np.outer(s, ph.p1 - ph.p0)
            else:
                pos[m] = ph.p0
        out[planned] = pos
        return out

    def evaluate(self, times: np.ndarray) -> dict[str, np.ndarray]:
        """Return the plan's state at ``times`` and forget older phases.

        The plan must already reach past ``times``.
        """
        n = times.shape[0]
        pos = np.empty((n, 3))
        vel = np.zeros((n, 3))
        yaw, pitch = np.empty(n), np.empty(n)
        batt, temp, disk = np.empty(n), np.empty(n), np.empty(n)
        text = {k: np.empty(n, dtype=object) for k in ("mode", "ctl", "p", "s", "r")}
        index = self._index(times)
        for i in np.unique(index):
            ph = self.phases[int(i)]
            m = index == i
            dt = times[m] - ph.t0
            span = ph.t1 - ph.t0
            s, ds = _min_jerk(np.clip(dt / span, 0.0, 1.0))
            if ph.kind == "move":
                pos[m] = ph.p0 + np.outer(s, ph.p1 - ph.p0)
                vel[m] = np.outer(ds / span, ph.p1 - ph.p0)
            else:
                pos[m] = ph.p0
            frac = s if ph.kind == "turn" else np.zeros_like(s)
            yaw[m] = ph.att0[0] + (ph.att1[0] - ph.att0[0]) * frac
            pitch[m] = ph.att0[1] + (ph.att1[1] - ph.att0[1]) * frac
            batt[m] = ph.batt0 + ph.batt_rate * dt
            target = ph.temp_target
            temp[m] = target + (ph.temp0 - target) * np.exp(-dt / TEMP_TAU_S)
            disk[m] = ph.disk0 + ph.disk_rate * dt
            text["mode"][m], text["ctl"][m] = ph.mode, ph.ctl
            text["p"][m], text["s"][m], text["r"][m] = ph.cams
        # Keep one phase before this batch: a late reader (nav-loss) may ask.
        keep = max(int(index.min()) - 1, 0) if n else 0
        del self.phases[:keep]
        return {
            "pos": pos, "vel": vel, "yaw": yaw, "pitch": pitch,
            "batt": np.clip(batt, 0.0, 100.0), "temp": temp,
            "disk": np.clip(disk, 0.0, DISK_FULL),
            "mode": text["mode"], "ctl": text["ctl"], "cam_power": text["p"],
            "cam_stream": text["s"], "cam_record": text["r"],
        }  # fmt: skip


class _Fleet:
    """All robot planners, extended in global time order.

    Planning in time order makes the plan independent of batch size. Owned
    by the thread that iterates its Simulator.
    """

    def __init__(self, planners: dict[str, _RobotPlanner]) -> None:
        self.planners = planners
        placed: list[_RobotPlanner] = []
        for planner in planners.values():
            planner.others = [p for p in planners.values() if p is not planner]
            for _ in range(100):
                gaps = [np.linalg.norm(planner.pos - p.pos) for p in placed]
                if min(gaps, default=np.inf) >= 2 * ROBOT_CLEARANCE_M:
                    break
                planner.pos = planner._free_point()
            placed.append(planner)

    def extend_to(self, t: float) -> None:
        while self.planners:
            planner = min(self.planners.values(), key=lambda p: p.t)
            if planner.t > t:
                return
            planner.plan_next()


@dataclass(frozen=True, slots=True)
class _NavLoss:
    """The nav-loss fault of one robot (times are simulated UTC); immutable."""

    source: str
    t_inertial: float
    t_off: float
    direction: np.ndarray
    accel: float = 1e-4  # [D] m/s^2 accelerometer bias
    v_cap: float = 0.02  # [D] m/s drift, well under v_max


# --- Crew ---------------------------------------------------------------------------

# [D] where each crew member tends to work (JAXA astronaut c1 in Kibo, c4 in
# the Russian segment); unknown crew ids spread evenly.
CREW_HABITS: Final = {
    "c1": {"JPM": 0.45, "ELM": 0.1, "NODE2": 0.15, "USLAB": 0.15, "COL": 0.05,
           "NODE1": 0.05, "NODE3": 0.05},
    "c2": {"JPM": 0.3, "USLAB": 0.25, "COL": 0.15, "NODE2": 0.1, "NODE1": 0.1,
           "NODE3": 0.1},
    "c3": {"USLAB": 0.3, "COL": 0.25, "NODE3": 0.15, "NODE2": 0.1, "JPM": 0.1,
           "NODE1": 0.1},
    "c4": {"SM": 0.5, "NODE1": 0.15, "USLAB": 0.15, "NODE3": 0.1, "JPM": 0.1},
}  # fmt: skip
DWELL_S: Final = (10 * 60.0, 90 * 60.0)
FIRST_DWELL_S: Final = (30.0, 8 * 60.0)


class _CrewTimeline:
    """Piecewise-constant module timeline for one crew member, generated lazily.

    Owned by the thread that iterates its Simulator.
    """

    def __init__(
        self,
        crew: str,
        rng: np.random.Generator,
        modules: Sequence[str],
        start: float,
        shelter: tuple[float, float] | None,
        shelter_module: str | None,
    ) -> None:
        habits = CREW_HABITS.get(crew, {})
        weights = np.array([habits.get(m, 0.0) for m in modules])
        if weights.sum() <= 0:
            weights = np.ones(len(modules))
        self.modules = list(modules)
        self.p = weights / weights.sum()
        self.rng = rng
        self.changes = [start]
        self.where = [int(rng.choice(len(modules), p=self.p))]
        self.end = start + float(rng.uniform(*FIRST_DWELL_S))
        self.shelter = shelter
        self.shelter_index = (
            self.modules.index(shelter_module)
            if shelter_module in self.modules
            else None
        )

    def at(self, times: np.ndarray) -> np.ndarray:
        """Return module indices at ``times``."""
        while self.end <= times[-1]:
            p = self.p.copy()
            p[self.where[-1]] = 0.0  # a change means another module
            nxt = int(self.rng.choice(len(self.modules), p=p / p.sum()))
            self.changes.append(self.end)
            self.where.append(nxt)
            self.end += float(self.rng.uniform(*DWELL_S))
        i = np.searchsorted(np.array(self.changes), times, side="right") - 1
        out = np.array(self.where)[np.clip(i, 0, None)]
        if self.shelter is not None and self.shelter_index is not None:
            a, b = self.shelter
            out = np.where((times >= a) & (times <= b), self.shelter_index, out)
        # Drop history before this batch; keep the segment in force and the
        # one before it (another reader may look a few seconds earlier).
        first = max(int(i.min()) - 1, 0)
        del self.changes[:first]
        del self.where[:first]
        return out


# --- The simulator ------------------------------------------------------------------

ROBOT_CHANNELS: Final = (
    "pos_x", "pos_y", "pos_z", "quat_x", "quat_y", "quat_z", "quat_w",
    "vel_x", "vel_y", "vel_z", "battery_pct", "mode", "nav_status", "nav_marker",
    "ctl_type", "cam_power", "cam_stream", "cam_record", "temp_c",
    "disk_remain_pct", "wifi",
)  # fmt: skip
ECLSS_CHANNELS: Final = ("p_total", "ppo2", "ppco2", "temp", "rh", "water_recovery")
MODEL_CHANNELS: Final = {
    "robot": ROBOT_CHANNELS,
    "eclss": ECLSS_CHANNELS,
    "rad": ("absorbed_rate", "dose_eq_rate"),
    "crew": ("module",),
    "orbit": ("lat", "lon", "alt_km"),
    "spacewx": ("p10", "p100"),
}
# [D] ECLSS: (mean, drift amplitude, drift period range s, white noise 1 sigma).
ECLSS_MODEL: Final = {
    "p_total": (760.0, 1.5, (2 * 3600.0, 6 * 3600.0), 0.15),  # ISSMON ~760 mmHg
    "ppo2": (160.0, 3.0, (1.5 * 3600.0, 5 * 3600.0), 0.2),  # HSMAD ~160 mmHg
    "ppco2": (CO2_NOMINAL, 0.05, (3 * 3600.0, 8 * 3600.0), 0.015),
    "temp": (22.8, 0.4, (1 * 3600.0, 4 * 3600.0), 0.03),  # ISSMON 22-24 C
    "rh": (46.0, 4.0, (2 * 3600.0, 6 * 3600.0), 0.3),  # [U] 40-60 %
    "water_recovery": (98.0, 0.2, (6 * 3600.0, 12 * 3600.0), 0.03),  # NASA 2023
}
CDRA_CYCLE_S: Final = 2 * 80 * 60.0  # [D] two adsorbent beds, ~80 min half-cycle
CDRA_SWING: Final = 0.06


class Simulator:
    """Seeded, deterministic telemetry generator; owned by the thread that iterates it.

    Parameters
    ----------
    dictionary
        Every source of a family the simulator models (robot, eclss, rad,
        crew, orbit, spacewx) gets frames with its declared, non-derived
        channels. Derived channels are left to the console.
    seed
        Seeds every random stream (one per source and purpose).
    scenario
        One of ``SCENARIOS`` (below); ``events()`` lists its timeline.
    rate_scale
        Simulated seconds per wall-clock second when published: the
        publisher's ``speed``, so sample times run ``rate_scale`` times
        faster than the wall clock. Physics (robot speeds, orbit, battery,
        drifts, dose rates) is real in simulated time. Scenario timelines are
        written in *scenario seconds* and happen at ``start_time +
        rate_scale * s``, so a scenario takes the same wall-clock minutes at
        any rate_scale, and its physics is more realistic the higher
        rate_scale is (co2-rise at 60x ramps over ~4 simulated hours).
    start_time
        UTC seconds of the first sample; default the wall clock now.
    batch_s
        Simulated seconds per message per source; default
        ``max(1, rate_scale)``, about one message per source per wall second
        when published at ``rate_scale``.

    Scenarios (times in scenario seconds ``s``)
    -------------------------------------------
    Every scenario picks the orbit phase so that the ISS enters a deep SAA
    pass at s = 120 (spe-2017-09: so that it is at its highest geomagnetic
    latitude at the S3 peak, s = 107.25).

    ``nominal``
        Robots run errands and take turns on the dock (battery 35 -> 95 %),
        cabin air drifts inside its limits, dose rates follow PADLES #1 with
        SAA peaks, GOES replays the quiet first 16 h of 2017-09-10 in real
        time.
    ``co2-rise``
        CDRA fails at s = 60: ppco2 rises from ~2.1 toward 6 mmHg with a
        176 s time constant, crossing 2.3 at ~70, 2.7 at ~90, 4.0 at ~178
        and 5.0 at ~300.
    ``nav-loss``
        ib2-b reports 36 % battery at s = 0, 20 % at 180, 5 % at 300 and 2 %
        from 420 (linear in between). At s = 60 its navigation goes
        INERTIAL and its position drifts (bias 1e-4 m/s^2, up to 0.02 m/s,
        stopping at the walls with KEEPING_POSE_BY_COLLISION); at s = 150
        NAV_OFF, mode OFF_NOMINAL, ctl DISTURBED, and it tumbles at 3 deg/s.
    ``spe-2017-09``
        GOES replays the whole 2017-09-10..16 file at 1200 GOES seconds per
        scenario second (at least real time): energetic SPE at s = 49.25, S1
        at 50.25, S3 peak 1493.5 pfu at 107.25, end at 344.5, then the quiet
        loop again. Dose rates rise with p10 on high-latitude segments
        (shielding counted twice: soft spectrum); c1, c3 and c4 shelter in
        the SM while p10 >= 100 pfu, c2 (who wears pd-c2) stays at work.

    Output is a pure function of (dictionary, seed, scenario, rate_scale,
    start_time); ``batch_s`` and how ``frames_until`` calls split the run
    change only how rows are grouped into messages.
    """

    def __init__(
        self,
        dictionary: TelemetryDictionary,
        seed: int,
        scenario: str = "nominal",
        rate_scale: float = 1.0,
        start_time: float | None = None,
        *,
        batch_s: float | None = None,
    ) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; choose from {SCENARIOS}")
        if not (rate_scale > 0 and math.isfinite(rate_scale)):
            raise ValueError(f"rate_scale must be a positive number, got {rate_scale}")
        self.dictionary = dictionary
        self.seed = seed
        self.scenario = scenario
        self.rate_scale = float(rate_scale)
        self.start_time = time.time() if start_time is None else float(start_time)
        self.batch_s = float(batch_s) if batch_s else max(1.0, self.rate_scale)
        if self.batch_s <= 0:
            raise ValueError(f"batch_s must be > 0, got {batch_s}")
        self._block = 0
        self._seq: dict[str, int] = {}
        # Sources the simulator models, with the channels and rate it emits.
        self._plan: list[tuple[str, str, tuple[str, ...], float]] = []
        for src in dictionary.sources.values():
            model = MODEL_CHANNELS.get(src.family)
            specs = dictionary.families.get(src.family, {})
            names = tuple(
                n for n, c in specs.items() if not c.derived and model and n in model
            )
            if names:
                rate = max(specs[n].rate_hz for n in names)
                self._plan.append((src.family, src.id, names, rate))
        self._goes = _GoesFeed(scenario, self.rate_scale, self.start_time)
        self._orbit = IssOrbit(self._orbit_offset())
        self._cal = _radiation_calibration()
        self._modules: dict[str, ModuleSpec] = dict(dictionary.modules)
        self._noise: dict[str, np.random.Generator] = {}
        self._loss_state: tuple[np.ndarray, float] | None = None
        self._fleet = self._build_fleet()
        self._nav_loss = self._build_nav_loss()
        self._crew = self._build_crew()
        self._eclss_drift = {
            sid: self._drift_terms(sid)
            for fam, sid, _n, _r in self._plan
            if fam == "eclss"
        }

    # Public API ---------------------------------------------------------------

    @property
    def now(self) -> float:
        """Simulated time up to which frames have been produced."""
        return self.start_time + self._block * self.batch_s

    def scenario_time(self, seconds: float) -> float:
        """Return the simulated UTC time of a scenario-seconds offset."""
        return self.start_time + seconds * self.rate_scale

    def events(self) -> list[tuple[float, str]]:
        """Return the scenario's scheduled events as (simulated UTC time, what)."""
        s = self.scenario_time
        out = [(s(SAA_ENTRY_S), "ISS enters the SAA (orbit phase chosen for it)")]
        if self.scenario == "co2-rise":
            tau = CO2_TAU_S
            for level in (2.3, 2.7, 4.0, 5.0):
                x = -tau * math.log(
                    1 - (level - CO2_NOMINAL) / (CO2_PLATEAU - CO2_NOMINAL)
                )
                out.append((s(CDRA_FAIL_S + x), f"ppco2 reaches {level} mmHg"))
            out.append((s(CDRA_FAIL_S), "CDRA fails: ppco2 starts to rise"))
        elif self.scenario == "nav-loss" and self._nav_loss is not None:
            robot = self._nav_loss.source
            out += [
                (s(NAV_INERTIAL_S), f"{robot} navigation INERTIAL: position drifts"),
                (s(NAV_OFF_S), f"{robot} NAV_OFF, mode OFF_NOMINAL"),
                (s(180.0), f"{robot} battery 20 %"),
                (s(300.0), f"{robot} battery 5 %"),
            ]
        elif self.scenario == "spe-2017-09":
            out = [(s(107.25), "highest geomagnetic latitude (orbit phase chosen)")]
            for fixture_s, what in (
                (16 * 3600 + 25 * 60, ">100 MeV >= 1 pfu: energetic SPE"),
                (16 * 3600 + 45 * 60, ">10 MeV >= 10 pfu: S1 onset"),
                (35 * 3600 + 45 * 60, "peak 1493.5 pfu (S3)"),
                ((4 * 24 + 18) * 3600 + 50 * 60, "event end (3 points < 8.5 pfu)"),
            ):
                out.append((self.start_time + fixture_s / self._goes.compression, what))
            window = self._goes.shelter_window()
            if window:
                out.append((window[0], "c1, c3, c4 shelter in SM (S2)"))
                out.append((window[1], "S2 over: crew leave the shelter"))
        return sorted(out)

    def frames_until(self, t_end: float) -> Iterator[SimFrame]:
        """Yield frames in sample-time order for batches that start before ``t_end``.

        Each call continues where the previous one stopped; ``math.inf``
        makes an endless stream.
        """
        while self.now < t_end:
            yield from self.step()

    def step(self) -> list[SimFrame]:
        """Produce the next batch of ``batch_s`` simulated seconds for every source."""
        b0 = self.now
        self._block += 1
        b1 = self.now
        frames: list[tuple[float, int, SimFrame]] = []
        rad_env: dict[float, tuple[np.ndarray, ...]] = {}
        for order, (family, source, names, rate) in enumerate(self._plan):
            times = self._sample_times(b0, b1, rate)
            if not times.size:
                continue
            if family == "robot":
                cols = self._robot(source, times)
            elif family == "eclss":
                cols = self._eclss(source, times)
            elif family == "rad":
                if rate not in rad_env:
                    rad_env[rate] = self._rad_environment(times)
                cols = self._rad(source, times, rad_env[rate])
            elif family == "crew":
                index = self._crew[source].at(times)
                cols = {
                    "module": np.array(self._crew[source].modules, dtype=object)[index]
                }
            elif family == "orbit":
                lat, lon, alt = self._orbit.track(times - self.start_time)
                cols = {"lat": lat, "lon": lon, "alt_km": alt}
            else:
                p10, p100 = self._goes.fluxes(times)
                cols = {"p10": p10, "p100": p100}
            seq = self._seq.get(source, 0)
            self._seq[source] = seq + 1
            columns = {n: cols[n] for n in names}
            frames.append(
                (float(times[-1]), order, SimFrame(family, source, seq, times, columns))
            )
        frames.sort(key=lambda f: (f[0], f[1]))
        return [f for _t, _o, f in frames]

    # Construction ---------------------------------------------------------------

    def _sample_times(self, b0: float, b1: float, rate: float) -> np.ndarray:
        # Integer sample indices on the start_time grid, so batches tile exactly.
        k0 = math.ceil((b0 - self.start_time) * rate - 1e-6)
        k1 = math.ceil((b1 - self.start_time) * rate - 1e-6)
        return self.start_time + np.arange(k0, k1, dtype=np.float64) / rate

    def _orbit_offset(self) -> float:
        orbit = IssOrbit()
        if self.scenario == "spe-2017-09":
            target = self.scenario_time(107.25) - self.start_time
            want: Literal["saa_entry", "max_geomagnetic"] = "max_geomagnetic"
        else:
            target = self.scenario_time(SAA_ENTRY_S) - self.start_time
            want = "saa_entry"
        if target > ORBIT_WRAP_S - 2 * 86400.0:
            return 0.0
        return orbit.first_time(target, want) - target

    def _build_fleet(self) -> _Fleet:
        robots = [sid for fam, sid, _n, _r in self._plan if fam == "robot"]
        jpm = self._modules.get("JPM")
        # The JPM extent is the robots' free volume (KEEPIN).
        extent = {"x": (0.4, 6.9), "y": (-1.07, 1.07), "z": (-1.07, 1.07)}
        extent.update(jpm.extent if jpm is not None else {})
        lo = np.array([extent[a][0] for a in "xyz"])
        hi = np.array([extent[a][1] for a in "xyz"])
        shrink = ROBOT_RADIUS_M + ROBOT_MARGIN_M
        keep_in = (lo + shrink, hi - shrink)
        zones = [
            (
                np.array([z.x[0], z.y[0], z.z[0]]) - shrink,
                np.array([z.x[1], z.y[1], z.z[1]]) + shrink,
            )
            for z in self.dictionary.zones
            if z.kind == "keep_out"
        ]
        schedule = _DockSchedule()
        planners: dict[str, _RobotPlanner] = {}
        n = len(robots)
        width = (keep_in[1][0] - keep_in[0][0]) / max(n, 1)
        for k, sid in enumerate(robots):
            # [D] each robot works its own stretch of the module (0.4 m overlap).
            work = (
                keep_in[0][0] + k * width - 0.2,
                keep_in[0][0] + (k + 1) * width + 0.2,
            )
            battery = (92.0, 58.0, 75.0)[min(k, 2)]
            if self.scenario == "nav-loss" and k == 1:
                battery = 100.0  # the reported battery follows the scenario
            planners[sid] = _RobotPlanner(
                sid, _source_rng(self.seed, sid, 0), keep_in, work, zones,
                np.array(self.dictionary.dock), schedule, self.start_time,
                battery, (80.0, 55.0, 70.0)[min(k, 2)],
            )  # fmt: skip
        self._keep_in = (lo + ROBOT_RADIUS_M, hi - ROBOT_RADIUS_M)
        return _Fleet(planners)

    def _build_nav_loss(self) -> _NavLoss | None:
        robots = list(self._fleet.planners)
        if self.scenario != "nav-loss" or len(robots) < 2:
            return None
        rng = _source_rng(self.seed, robots[1], 2)
        d = rng.standard_normal(3)
        return _NavLoss(
            robots[1],
            self.scenario_time(NAV_INERTIAL_S),
            self.scenario_time(NAV_OFF_S),
            d / np.linalg.norm(d),
        )

    def _build_crew(self) -> dict[str, _CrewTimeline]:
        crew_ids = [sid for fam, sid, _n, _r in self._plan if fam == "crew"]
        spec = self.dictionary.channel("crew", "module")
        names = list(spec.states) if spec is not None else list(self._modules)
        modules = [m for m in names if m in self._modules] or names
        shelter_module = next((m.id for m in self._modules.values() if m.shelter), None)
        window = self._goes.shelter_window()
        # c2 wears the personal dosimeter and stays at work to show the bursts.
        return {
            cid: _CrewTimeline(
                cid,
                _source_rng(self.seed, cid, 0),
                modules,
                self.start_time,
                window if cid != "c2" else None,
                shelter_module,
            )  # fmt: skip
            for cid in crew_ids
        }

    def _drift_terms(self, source: str) -> dict[str, np.ndarray]:
        rng = _source_rng(self.seed, source, 0)
        terms = {}
        for name, (_mean, amp, (p_lo, p_hi), _noise) in ECLSS_MODEL.items():
            periods = rng.uniform(p_lo, p_hi, 3)
            phases = rng.uniform(0, 2 * np.pi, 3)
            weights = rng.uniform(0.5, 1.0, 3)
            terms[name] = np.stack([amp * weights / weights.sum(), periods, phases])
        return terms

    # Families ------------------------------------------------------------------------

    def _robot(self, source: str, times: np.ndarray) -> dict[str, np.ndarray]:
        self._fleet.extend_to(float(times[-1]))
        st = self._fleet.planners[source].evaluate(times)
        n = times.shape[0]
        nav = np.full(n, "FUSION", dtype=object)
        near_dock = (
            np.linalg.norm(st["pos"] - np.array(self.dictionary.dock), axis=1) < 1.2
        )
        loss = self._nav_loss
        if loss is not None and loss.source == source:
            self._apply_nav_loss(loss, times, st, nav)
            near_dock &= times < loss.t_inertial
        noise = self._noise_rng(source).standard_normal((n, 8))
        sp, sv, sa = NAV_NOISE
        pos = np.clip(st["pos"] + sp * noise[:, 0:3], *self._keep_in)
        vel = st["vel"] + sv * noise[:, 3:6]
        quat = _quaternion(st["yaw"] + sa * noise[:, 6], st["pitch"] + sa * noise[:, 7])
        return {
            "pos_x": pos[:, 0], "pos_y": pos[:, 1], "pos_z": pos[:, 2],
            "quat_x": quat[:, 0], "quat_y": quat[:, 1], "quat_z": quat[:, 2],
            "quat_w": quat[:, 3],
            "vel_x": vel[:, 0], "vel_y": vel[:, 1], "vel_z": vel[:, 2],
            # int8 percent on the robot (BatteryChargeInfo.msg), rounded up
            "battery_pct": np.ceil(st["batt"] - 1e-9).astype(np.int64),
            "mode": st["mode"], "nav_status": nav, "nav_marker": near_dock,
            "ctl_type": st["ctl"], "cam_power": st["cam_power"],
            "cam_stream": st["cam_stream"], "cam_record": st["cam_record"],
            "temp_c": np.round(st["temp"], 1),
            "disk_remain_pct": np.round(st["disk"], 2),
            "wifi": np.ones(n, dtype=bool),
        }  # fmt: skip

    def _apply_nav_loss(
        self,
        loss: _NavLoss,
        times: np.ndarray,
        st: dict[str, np.ndarray],
        nav: np.ndarray,
    ) -> None:
        # The battery follows the scenario for the whole run (36 % at start).
        knots_t = [self.scenario_time(s) for s, _b in NAV_LOSS_BATTERY]
        st["batt"] = np.interp(times, knots_t, [b for _s, b in NAV_LOSS_BATTERY])
        lost = times >= loss.t_inertial
        if not lost.any():
            return
        if self._loss_state is None:
            pose = self._fleet.planners[loss.source].evaluate(
                np.array([loss.t_inertial])
            )
            self._loss_state = (pose["pos"][0], float(pose["yaw"][0]))
        p_loss, yaw_loss = self._loss_state
        tau = times[lost] - loss.t_inertial
        # Bias acceleration until the drift speed saturates at v_cap.
        t_sat = loss.v_cap / loss.accel
        dist = np.where(
            tau < t_sat,
            0.5 * loss.accel * tau**2,
            0.5 * loss.v_cap * t_sat + loss.v_cap * (tau - t_sat),
        )
        speed = np.minimum(loss.accel * tau, loss.v_cap)
        lo, hi = self._keep_in
        raw = p_loss + np.outer(dist, loss.direction)
        pos = np.clip(raw, lo, hi)
        hit = (raw != pos).any(axis=1)
        vel = np.outer(speed, loss.direction) * (raw == pos)
        off = times[lost] >= loss.t_off
        # Gyro-only attitude creeps; with navigation off the robot tumbles.
        t_on = np.minimum(tau, loss.t_off - loss.t_inertial)
        yaw = yaw_loss + math.radians(0.05) * t_on + math.radians(3.0) * (tau - t_on)
        st["pos"][lost], st["vel"][lost], st["yaw"][lost] = pos, vel, yaw
        st["pitch"][lost] = 0.0
        nav[lost] = np.where(off, "NAV_OFF", "INERTIAL")
        st["mode"][lost] = np.where(off, "OFF_NOMINAL", "OPERATION")
        ctl = np.where(off, "DISTURBED", "KEEP_POSE").astype(object)
        ctl[hit] = "KEEPING_POSE_BY_COLLISION"
        st["ctl"][lost] = ctl
        st["cam_record"][lost] = "OFF"
        st["cam_stream"][lost] = "ON"
        st["cam_power"][lost] = "ON"

    def _eclss(self, source: str, times: np.ndarray) -> dict[str, np.ndarray]:
        elapsed = times - self.start_time
        noise = self._noise_rng(source).standard_normal((times.shape[0], 6))
        out: dict[str, np.ndarray] = {}
        for i, (name, (mean, _amp, _p, sigma)) in enumerate(ECLSS_MODEL.items()):
            amp, period, phase = self._eclss_drift[source][name]
            drift = (amp * np.sin(2 * np.pi * elapsed[:, None] / period + phase)).sum(
                axis=1
            )
            out[name] = mean + drift + sigma * noise[:, i]
        out["ppco2"] += CDRA_SWING * np.sin(2 * np.pi * elapsed / CDRA_CYCLE_S)
        if self.scenario == "co2-rise":
            since = times - self.scenario_time(CDRA_FAIL_S)
            rise = 1.0 - np.exp(-np.maximum(since, 0.0) / (CO2_TAU_S * self.rate_scale))
            out["ppco2"] += (CO2_PLATEAU - CO2_NOMINAL) * rise
        out["water_recovery"] = np.minimum(out["water_recovery"], 99.9)
        return out

    def _noise_rng(self, source: str) -> np.random.Generator:
        if source not in self._noise:
            self._noise[source] = _source_rng(self.seed, source, 1)
        return self._noise[source]

    def _rad_environment(self, times: np.ndarray) -> tuple[np.ndarray, ...]:
        lat, lon, _alt = self._orbit.track(times - self.start_time)
        gcr, saa, polar = _shapes(lat, lon)
        p10, _p100 = self._goes.fluxes(times)
        cal = self._cal
        d_env = cal.base * (gcr + cal.saa_gain * saa)
        h_env = cal.base * (cal.q_gcr * gcr + Q_TRAPPED * cal.saa_gain * saa)
        spe = SPE_UGY_H_PER_1000PFU * (p10 / 1000.0) * polar
        return d_env, h_env, spe

    def _rad(
        self, source: str, times: np.ndarray, env: tuple[np.ndarray, ...]
    ) -> dict[str, np.ndarray]:
        d_env, h_env, spe = env
        spec = self.dictionary.sources[source]
        if spec.crew is not None and spec.crew in self._crew:
            timeline = self._crew[spec.crew]
            shields = np.array([self._shield(m) for m in timeline.modules])
            shield = shields[timeline.at(times)]
        else:
            shield = np.full(times.shape[0], self._shield(spec.module))
        # [D] counting noise of a 10-s read-out: 4 % on D, 8 % on H (LET-resolved).
        z = self._noise_rng(source).standard_normal((times.shape[0], 2))
        jitter = np.exp(np.array([0.04, 0.08]) * z - 0.5 * np.array([0.04, 0.08]) ** 2)
        absorbed = (shield * d_env + shield**2 * spe) * jitter[:, 0]
        dose_eq = (shield * h_env + shield**2 * Q_SPE * spe) * jitter[:, 1]
        return {"absorbed_rate": absorbed, "dose_eq_rate": dose_eq}

    def _shield(self, module: str | None) -> float:
        spec = self._modules.get(module) if module else None
        return spec.shielding_factor if spec is not None else 1.0


def bench_frames(
    dictionary: TelemetryDictionary,
    *,
    rows: int = 100,
    seed: int = 0,
    start_time: float = 1.7e9,
    families: Sequence[str] | None = None,
) -> Iterator[SimFrame]:
    """Yield wide synthetic frames forever: ``rows`` rows x every non-derived channel.

    For throughput benchmarks, not physics: values are drawn once per channel
    (inside the display range, enum states by name) and windows of them are
    reused, so producing a frame costs a few array views (tens of millions
    of samples per second). Sources take turns; times advance by
    ``rows / rate_hz`` per message per source and ``seq`` counts per source.
    """
    rng = np.random.default_rng(seed)
    pool = rows * 8
    plans: list[tuple[str, str, float, dict[str, np.ndarray]]] = []
    for src in dictionary.sources.values():
        if families is not None and src.family not in families:
            continue
        specs = {
            n: c for n, c in dictionary.families[src.family].items() if not c.derived
        }
        if not specs:
            continue
        columns: dict[str, np.ndarray] = {}
        for name, spec in specs.items():
            if spec.states:
                states = np.array(list(spec.states), dtype=object)
                columns[name] = states[rng.integers(0, len(states), pool * 2)]
            else:
                lo, hi = spec.display_range or (0.0, 1.0)
                columns[name] = rng.uniform(lo, hi, pool * 2)
        rate = max(c.rate_hz for c in specs.values())
        plans.append((src.family, src.id, rate, columns))
    if not plans:
        raise ValueError("no source with non-derived channels in the selected families")
    seq = 0
    while True:
        for family, source, rate, columns in plans:
            offset = (seq * 37) % pool
            times = start_time + (seq * rows + np.arange(rows)) / rate
            window = {n: c[offset : offset + rows] for n, c in columns.items()}
            yield SimFrame(family, source, seq, times, window)
        seq += 1
