"""Seeded telemetry simulator: robots, ECLSS, dosimeters, crew, ISS orbit, GOES.

Produces protocol-v1 batches (``SimFrame``) for every source the dictionary
declares, numpy-vectorised per batch. It owns no socket: see
``telemetry.bus.publisher``.
"""

from __future__ import annotations

import math
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

import numpy as np

from telemetry.core.wire import encode_frame
from telemetry.sim.crew import CrewTimeline
from telemetry.sim.environment import (
    Q_SPE,
    Q_TRAPPED,
    SPE_UGY_H_PER_1000PFU,
    GoesFeed,
    radiation_calibration,
)
from telemetry.sim.orbit import ORBIT_WRAP_S, IssOrbit, dose_shapes
from telemetry.sim.robots import (
    NAV_INERTIAL_S,
    NAV_LOSS_BATTERY,
    NAV_NOISE,
    NAV_OFF_S,
    ROBOT_MARGIN_M,
    ROBOT_RADIUS_M,
    DockSchedule,
    Fleet,
    NavLoss,
    RobotPlanner,
    quaternion,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from telemetry.core.dictionary import ModuleSpec, TelemetryDictionary

SCENARIOS: Final = ("nominal", "co2-rise", "nav-loss", "spe-2017-09")


# --- Scenario timelines, in scenario seconds (x rate_scale in sim time) -------
SAA_ENTRY_S: Final = 120.0
CDRA_FAIL_S: Final = 60.0
CO2_NOMINAL: Final = 2.1  # mmHg: inside the 2-3 band, under the 2.3 watch level
CO2_PLATEAU: Final = 6.0
CO2_TAU_S: Final = 176.0  # 2.1 -> 5.0 mmHg in 240 s


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


def _source_rng(seed: int, source: str, stream: int) -> np.random.Generator:
    """One independent Generator per (source, purpose), stable across dictionaries."""
    key = (zlib.crc32(source.encode("utf-8")), stream)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


# --- Orbit and radiation environment --------------------------------------------


# --- Robots ---------------------------------------------------------------------


# --- Crew ---------------------------------------------------------------------------


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
        self._goes = GoesFeed(scenario, self.rate_scale, self.start_time)
        self._orbit = IssOrbit(self._orbit_offset())
        self._cal = radiation_calibration()
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

    def _build_fleet(self) -> Fleet:
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
        schedule = DockSchedule()
        planners: dict[str, RobotPlanner] = {}
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
            planners[sid] = RobotPlanner(
                sid, _source_rng(self.seed, sid, 0), keep_in, work, zones,
                np.array(self.dictionary.dock), schedule, self.start_time,
                battery, (80.0, 55.0, 70.0)[min(k, 2)],
            )  # fmt: skip
        self._keep_in = (lo + ROBOT_RADIUS_M, hi - ROBOT_RADIUS_M)
        return Fleet(planners)

    def _build_nav_loss(self) -> NavLoss | None:
        robots = list(self._fleet.planners)
        if self.scenario != "nav-loss" or len(robots) < 2:
            return None
        rng = _source_rng(self.seed, robots[1], 2)
        d = rng.standard_normal(3)
        return NavLoss(
            robots[1],
            self.scenario_time(NAV_INERTIAL_S),
            self.scenario_time(NAV_OFF_S),
            d / np.linalg.norm(d),
        )

    def _build_crew(self) -> dict[str, CrewTimeline]:
        crew_ids = [sid for fam, sid, _n, _r in self._plan if fam == "crew"]
        spec = self.dictionary.channel("crew", "module")
        names = list(spec.states) if spec is not None else list(self._modules)
        modules = [m for m in names if m in self._modules] or names
        shelter_module = next((m.id for m in self._modules.values() if m.shelter), None)
        window = self._goes.shelter_window()
        # c2 wears the personal dosimeter and stays at work to show the bursts.
        return {
            cid: CrewTimeline(
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
        quat = quaternion(st["yaw"] + sa * noise[:, 6], st["pitch"] + sa * noise[:, 7])
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
        loss: NavLoss,
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
        gcr, saa, polar = dose_shapes(lat, lon)
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
