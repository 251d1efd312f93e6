"""Simulated Int-Ball2 robots: flight planning in the module, battery, navigation loss.

Each planner is owned by the simulator's thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

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


NAV_INERTIAL_S: Final = 60.0


NAV_OFF_S: Final = 150.0


NAV_LOSS_BATTERY: Final = ((0.0, 36.0), (180.0, 20.0), (300.0, 5.0), (420.0, 2.0))


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


def quaternion(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
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
class DockSchedule:
    """Reservations of the one docking station; shared by the planners of a fleet."""

    slots: list[tuple[float, float]] = field(default_factory=list)

    def earliest(self, start: float, length: float) -> float:
        t = start
        for a, b in sorted(self.slots):
            if t + length <= a:
                break
            t = max(t, b)
        return t


class RobotPlanner:
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
        dock_schedule: DockSchedule,
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
        self.others: list[RobotPlanner] = []
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


class Fleet:
    """All robot planners, extended in global time order.

    Planning in time order makes the plan independent of batch size. Owned
    by the thread that iterates its Simulator.
    """

    def __init__(self, planners: dict[str, RobotPlanner]) -> None:
        self.planners = planners
        placed: list[RobotPlanner] = []
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
class NavLoss:
    """The nav-loss fault of one robot (times are simulated UTC); immutable."""

    source: str
    t_inertial: float
    t_off: float
    direction: np.ndarray
    accel: float = 1e-4  # [D] m/s^2 accelerometer bias
    v_cap: float = 0.02  # [D] m/s drift, well under v_max
