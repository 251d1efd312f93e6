"""Space weather for crew dose: NOAA S-scale, solar particle events, SAA flag.

``SpeDetector`` works sample by sample on GOES >10 and >100 MeV integral
proton flux (radiation.md §3.3); ``in_saa`` flags the ISS ground track (§3.2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, overload

import numpy as np
import numpy.typing as npt

from telemetry.radiation.roster import SpeConfig

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: NOAA S1..S5 lower bounds on the >10 MeV flux, pfu (inclusive, AMS Glossary).
S_SCALE_THRESHOLDS_PFU: Final = (10.0, 100.0, 1_000.0, 10_000.0, 100_000.0)
#: 4π sr: integral flux (per sr) -> omnidirectional fluence.
FOUR_PI: Final = 4.0 * math.pi
#: GOES integral proton flux cadence (s): one point per 5 minutes.
GOES_POINT_S: Final = 300.0


@overload
def s_scale(p10: float) -> int: ...
@overload
def s_scale(p10: FloatArray) -> npt.NDArray[np.int64]: ...
def s_scale(p10: float | FloatArray) -> int | npt.NDArray[np.int64]:
    """Return the NOAA S-level (0 = none, 1..5) for a >10 MeV flux in pfu.

    Raises
    ------
    ValueError
        On NaN or a negative flux (GOES fill values are negative): an invalid
        reading must not show as "S5" or as "quiet".
    """
    flux = np.asarray(p10, dtype=np.float64)
    if flux.size and not bool(np.all(flux >= 0)):
        raise ValueError("proton flux must be a number >= 0 pfu")
    level = np.searchsorted(S_SCALE_THRESHOLDS_PFU, flux, side="right").astype(np.int64)
    if np.ndim(p10) == 0:
        return int(level)
    return level


def s_label(level: int) -> str:
    """Return ``"S3"`` for 3 and ``"none"`` for 0."""
    return f"S{level}" if level > 0 else "none"


# -------------------------------------------------------------- SAA


@dataclass(frozen=True, slots=True)
class SaaPolygon:
    """An SAA boundary: vertices in degrees, closed implicitly, with provenance."""

    name: str
    lat: tuple[float, ...]
    lon: tuple[float, ...]
    source: str


#: MinXSS (ISS-deployed CubeSat, ~400 km, 51.6°) SAA boundary, digitised from
#: the PROBA-V EPT >800 keV electron map. Drawn for electrons at ~820 km, so a
#: conservative flag for the proton SAA at the ISS (radiation.md §3.2, [V]).
MINXSS_SAA: Final = SaaPolygon(
    "MinXSS",
    (
        2.23, 4.397, 4.935, 4.397, -0.252, -4.546, -9.198, -11.701, -15.458, -19.192,
        -24.538, -28.093, -32.007, -36.838, -36.701, -40.809, -45.817, -47.385, -51.141,
        -57.493, -60.67, -61.028, -61.028, -59.039, -59.755, -50.369, -37.355, -25.791,
        -18.323, -11.188, -4.613, -1.458, 2.098,
    ),
    (
        -71.679, -59.046, -42.545, -24.567, -13.899, -6.477, 3.396, 13.303, 25.35,
        31.701, 36.639, 39.949, 39.154, 38.359, 39.39, 31.039, 21.443, 12.43, 0.415,
        -10.949, -22.964, -37.84, -51.819, -68.387, -83.229, -96.434, -94.779, -96.434,
        -97.54, -97.54, -93.431, -82.797, -70.539,
    ),
    "minxsscubesat/minxsscubesat get_saa_boundary.pro (J. P. Mason, 2016-07-25)",
)  # fmt: skip


@overload
def in_saa(lat: float, lon: float, polygon: SaaPolygon = ...) -> bool: ...
@overload
def in_saa(
    lat: FloatArray, lon: FloatArray, polygon: SaaPolygon = ...
) -> BoolArray: ...
def in_saa(
    lat: float | FloatArray, lon: float | FloatArray, polygon: SaaPolygon = MINXSS_SAA
) -> bool | BoolArray:
    """Return whether (lat, lon) in degrees lies inside the SAA polygon.

    Even-odd ray casting in the lon/lat plane, vectorised over points. The
    polygon must not cross the antimeridian (MinXSS does not); longitudes are
    wrapped to [-180, 180) first.
    """
    y = np.asarray(lat, dtype=np.float64)
    x = (np.asarray(lon, dtype=np.float64) + 180.0) % 360.0 - 180.0
    vy = np.asarray(polygon.lat)
    vx = np.asarray(polygon.lon)
    inside = np.zeros(np.broadcast(x, y).shape, dtype=bool)
    j = len(vx) - 1
    for i in range(len(vx)):
        xi, yi, xj, yj = vx[i], vy[i], vx[j], vy[j]
        # The edge straddles the point's latitude, and the crossing lies east.
        straddles = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= straddles & (x < x_cross)
        j = i
    if np.ndim(lat) == 0 and np.ndim(lon) == 0:
        return bool(inside)
    return inside


# -------------------------------------------------------------- SPE


class SpeTransitionKind(IntEnum):
    """What changed in the proton environment."""

    ONSET = 1
    END = 2
    ENERGETIC = 3
    ENERGETIC_END = 4


@dataclass(frozen=True, slots=True)
class SpeTransition:
    """A change reported by the detector; ``time`` is the sample time it refers to.

    For ONSET that is the first of the run of points that confirmed it (so it
    lies before the sample that confirmed it), for END the first point of the
    sub-threshold run.
    """

    kind: SpeTransitionKind
    time: float
    flux_pfu: float


@dataclass(frozen=True, slots=True)
class SpeEvent:
    """One solar particle event (ongoing while ``end`` is None).

    Fluences are omnidirectional, ``4π Σ flux·Δt`` from onset up to (not
    including) the end, in cm⁻².
    """

    onset: float
    end: float | None
    peak_p10: float
    peak_p10_time: float
    peak_p100: float
    peak_p100_time: float
    energetic_onset: float | None
    fluence_p10: float
    fluence_p100: float

    @property
    def s_level(self) -> int:
        return s_scale(self.peak_p10)


@dataclass(frozen=True, slots=True)
class SpeState:
    """The proton environment now, for displays (immutable copy)."""

    time: float
    p10: float
    p100: float
    s_level: int
    active: bool
    energetic: bool
    energetic_onset: float | None
    event: SpeEvent | None


class _Phase(IntEnum):
    """Where the >10 MeV flux is in the event definition."""

    QUIET = 0
    CANDIDATE = 1
    ACTIVE = 2


class SpeDetector:
    """Incremental SPE detector over aligned GOES samples; owned by one thread.

    In the console that is the telemetry-pipeline thread (inside the dose
    estimator); batch use goes through :func:`detect_spe`.

    - onset: ``onset_points`` consecutive >10 MeV samples >= ``onset_pfu``;
      the onset time is the first of them (NOAA/SWPC);
    - end: ``end_points`` consecutive samples < ``end_pfu`` (SRAG uses
      0.85 × threshold); the end time is the first of them;
    - energetic: >100 MeV >= ``energetic_pfu`` (NRC 2000) for
      ``energetic_points`` consecutive samples, dated from the first of them
      (one sample would toggle on a flux hovering at 1 pfu, as on
      2017-09-12/13), until ``end_points`` samples < ``energetic_end_pfu``;
    - fluence: each sample's flux held until the next sample (the same
      hold-last rule as the dose integral), from onset to end.

    Samples are processed in order; a sample not newer than the last one is
    ignored (and counted in ``ignored``). NaN means "not sampled" for that
    channel at that time.

    Points are GOES points: a sample repeating the last point's fluxes
    within ``GOES_POINT_S`` (a relay re-sending the latest 5-minute value
    every few seconds, stamped anew) is the same point, not a new one; it is
    counted in ``repeats`` and decides nothing, so one 12 pfu point relayed
    60 times is not "3 consecutive points". Changed fluxes are new points at
    any cadence (an accelerated simulator), and an unchanged value 5 minutes
    on is GOES's next point.
    """

    def __init__(self, config: SpeConfig | None = None) -> None:
        self.config = config or SpeConfig()
        self.events: list[SpeEvent] = []
        self.ignored = 0
        self.repeats = 0
        # Which samples of the last ``update`` were new GOES points.
        self.new_points: BoolArray = np.zeros(0, dtype=np.bool_)
        self._transitions: list[SpeTransition] = []
        self._reset_state()

    def _reset_state(self) -> None:
        self._last_t = -math.inf
        self._point = (-math.inf, math.nan, math.nan)  # time, p10, p100
        self._p10 = math.nan
        self._p100 = math.nan
        self._phase = _Phase.QUIET
        self._run = 0
        self._start = math.nan
        self._below = 0
        self._below_start = math.nan
        # Flux·time by bucket: the unconfirmed onset run, the confirmed event,
        # and the unconfirmed sub-threshold run at its tail.
        self._bucket = "none"
        self._acc: dict[str, list[float]] = {
            "candidate": [0.0, 0.0],
            "committed": [0.0, 0.0],
            "tentative": [0.0, 0.0],
        }
        self._peak10 = (-math.inf, math.nan)
        self._peak100 = (-math.inf, math.nan)
        self._energetic = False
        self._energetic_onset: float | None = None
        self._energetic_run = 0
        self._energetic_start = math.nan
        self._energetic_below = 0
        self._event_energetic: float | None = None

    def reset(self) -> None:
        """Forget all events and state."""
        self.events.clear()
        self._transitions.clear()
        self.ignored = 0
        self.repeats = 0
        self._reset_state()

    # ---------------------------------------------------------- input

    def update(
        self, times: npt.ArrayLike, p10: npt.ArrayLike, p100: npt.ArrayLike
    ) -> tuple[FloatArray, FloatArray]:
        """Process aligned samples; return (S-level, SPE-active) per sample.

        Parameters
        ----------
        times : ndarray
            Sample times, s, increasing.
        p10, p100 : ndarray
            >10 and >100 MeV integral flux, pfu; NaN where not sampled.

        Returns
        -------
        tuple of ndarray
            S-level (NaN where p10 is NaN) and 1.0/0.0 for an active SPE after
            each sample. "Active" starts at the confirming sample: a live
            system cannot know sooner.
        """
        t_arr = np.asarray(times, dtype=np.float64)
        p10_arr = np.asarray(p10, dtype=np.float64)
        p100_arr = np.asarray(p100, dtype=np.float64)
        n = int(t_arr.shape[0])
        levels = np.full(n, np.nan)
        active = np.zeros(n)
        new = np.zeros(n, dtype=np.bool_)
        for i in range(n):
            t = float(t_arr[i])
            f10 = float(p10_arr[i])
            f100 = float(p100_arr[i])
            if not t > self._last_t:
                self.ignored += 1
                levels[i] = math.nan
                active[i] = float(self._phase == _Phase.ACTIVE)
                continue
            if self._repeats_point(t, f10, f100):
                self.repeats += 1
                if f10 >= 0:
                    levels[i] = s_scale(f10)
                active[i] = float(self._phase == _Phase.ACTIVE)
                continue
            new[i] = True
            _t0, last10, last100 = self._point
            self._point = (
                t,
                last10 if math.isnan(f10) else f10,
                last100 if math.isnan(f100) else f100,
            )
            self._step(t, f10, f100)
            if f10 >= 0:
                levels[i] = s_scale(f10)
            active[i] = float(self._phase == _Phase.ACTIVE)
        self.new_points = new
        return levels, active

    def _repeats_point(self, t: float, f10: float, f100: float) -> bool:
        """Whether a sample is the last GOES point sent again (see the class)."""
        t0, p10, p100 = self._point
        if not t - t0 < GOES_POINT_S:
            return False
        # A channel not sampled in this row (NaN) repeats nothing new either.
        same10 = math.isnan(f10) or f10 == p10
        same100 = math.isnan(f100) or f100 == p100
        return same10 and same100

    def _step(self, t: float, f10: float, f100: float) -> None:
        cfg = self.config
        dt_s = t - self._last_t
        if self._bucket != "none":
            acc = self._acc[self._bucket]
            # Hold-last: the latest valid flux of each channel covers dt.
            if self._p10 >= 0:
                acc[0] += self._p10 * dt_s
            if self._p100 >= 0:
                acc[1] += self._p100 * dt_s
        self._last_t = t
        if f10 >= 0:
            self._p10 = f10
            self._step_p10(t, f10, cfg)
        if f100 >= 0:
            self._p100 = f100
            self._step_p100(t, f100, cfg)
        if self._phase == _Phase.QUIET:
            self._bucket = "none"
        elif self._phase == _Phase.CANDIDATE:
            self._bucket = "candidate"
        else:
            self._bucket = "tentative" if self._below else "committed"

    def _step_p10(self, t: float, f10: float, cfg: SpeConfig) -> None:
        if self._phase == _Phase.QUIET and f10 >= cfg.onset_pfu:
            self._phase = _Phase.CANDIDATE
            self._run = 0
            self._start = t
            self._acc["candidate"] = [0.0, 0.0]
            self._peak10 = (-math.inf, math.nan)
            self._peak100 = (-math.inf, math.nan)
        if self._phase == _Phase.CANDIDATE:
            if f10 < cfg.onset_pfu:
                self._phase = _Phase.QUIET
                return
            self._run += 1
            self._track_peak10(t, f10)
            if self._run >= cfg.onset_points:
                self._phase = _Phase.ACTIVE
                self._below = 0
                self._acc["committed"] = list(self._acc["candidate"])
                self._acc["tentative"] = [0.0, 0.0]
                self._event_energetic = (
                    self._energetic_onset if self._energetic else None
                )
                self._transitions.append(
                    SpeTransition(SpeTransitionKind.ONSET, self._start, f10)
                )
            return
        if self._phase == _Phase.ACTIVE:
            self._track_peak10(t, f10)
            if f10 < cfg.end_pfu:
                if self._below == 0:
                    self._below_start = t
                    self._acc["tentative"] = [0.0, 0.0]
                self._below += 1
                if self._below >= cfg.end_points:
                    self._finish(self._below_start)
            else:
                committed = self._acc["committed"]
                tentative = self._acc["tentative"]
                committed[0] += tentative[0]
                committed[1] += tentative[1]
                self._acc["tentative"] = [0.0, 0.0]
                self._below = 0

    def _step_p100(self, t: float, f100: float, cfg: SpeConfig) -> None:
        if self._phase != _Phase.QUIET and f100 > self._peak100[0]:
            self._peak100 = (f100, t)
        if not self._energetic:
            if f100 < cfg.energetic_pfu:
                self._energetic_run = 0
                return
            self._energetic_run += 1
            if self._energetic_run == 1:
                self._energetic_start = t
            if self._energetic_run >= cfg.energetic_points:
                start = self._energetic_start
                self._energetic = True
                self._energetic_onset = start
                self._energetic_below = 0
                if self._phase == _Phase.ACTIVE and self._event_energetic is None:
                    self._event_energetic = start
                self._transitions.append(
                    SpeTransition(SpeTransitionKind.ENERGETIC, start, f100)
                )
            return
        if f100 < cfg.energetic_end_pfu:
            self._energetic_below += 1
            if self._energetic_below >= cfg.end_points:
                self._energetic = False
                # The run that declared it is over: a later declaration needs
                # a new run of energetic_points samples, dated from its own start.
                self._energetic_run = 0
                self._energetic_start = math.nan
                self._energetic_below = 0
                self._transitions.append(
                    SpeTransition(SpeTransitionKind.ENERGETIC_END, t, f100)
                )
        else:
            self._energetic_below = 0

    def _track_peak10(self, t: float, f10: float) -> None:
        if f10 > self._peak10[0]:
            self._peak10 = (f10, t)

    def _finish(self, end: float) -> None:
        self.events.append(self._event(end))
        self._transitions.append(SpeTransition(SpeTransitionKind.END, end, self._p10))
        self._phase = _Phase.QUIET
        self._below = 0

    def _event(self, end: float | None) -> SpeEvent:
        committed = self._acc["committed"]
        return SpeEvent(
            onset=self._start,
            end=end,
            peak_p10=self._peak10[0],
            peak_p10_time=self._peak10[1],
            peak_p100=self._peak100[0] if self._peak100[0] >= 0 else math.nan,
            peak_p100_time=self._peak100[1],
            energetic_onset=self._event_energetic,
            fluence_p10=FOUR_PI * committed[0],
            fluence_p100=FOUR_PI * committed[1],
        )

    # ---------------------------------------------------------- output

    @property
    def active(self) -> bool:
        return self._phase == _Phase.ACTIVE

    @property
    def energetic(self) -> bool:
        return self._energetic

    def drain_transitions(self) -> list[SpeTransition]:
        """Return and forget the transitions since the last call."""
        out, self._transitions = self._transitions, []
        return out

    def state(self) -> SpeState:
        """Return the current environment as an immutable value."""
        event = self._event(None) if self._phase == _Phase.ACTIVE else None
        return SpeState(
            time=self._last_t,
            p10=self._p10,
            p100=self._p100,
            s_level=s_scale(self._p10) if self._p10 >= 0 else 0,
            active=event is not None,
            energetic=self._energetic,
            energetic_onset=self._energetic_onset if self._energetic else None,
            event=event,
        )


def detect_spe(
    times: npt.ArrayLike,
    p10: npt.ArrayLike,
    p100: npt.ArrayLike,
    config: SpeConfig | None = None,
) -> list[SpeEvent]:
    """Return every SPE in a recorded series (the last one may have ``end=None``).

    Runs the same :class:`SpeDetector` as live data, so batch and live
    results cannot disagree.
    """
    detector = SpeDetector(config)
    detector.update(times, p10, p100)
    events = list(detector.events)
    if detector.active:
        current = detector.state().event
        assert current is not None
        events.append(current)
    return events
