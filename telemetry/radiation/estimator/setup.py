"""The estimator's fixed setup: modules, monitors, crew and their limits.

Built once from the dictionary, roster and limits, then read-only: any thread
may share it, and a checkpoint never copies it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from telemetry.radiation.estimator.model import SOURCE_CODES

if TYPE_CHECKING:
    from telemetry.core.dictionary import TelemetryDictionary
    from telemetry.radiation.roster import (
        CareerLimit,
        CrewMember,
        DoseLimits,
        EstimatorConfig,
        Roster,
    )

#: Largest dose-equivalent rate taken as a measurement (µSv/h; 10 Sv/h, an
#: acute lethal dose within the hour). ISS monitors read ~10-30 µSv/h and a
#: few hundred in a deep SAA pass; the dictionary's display range ends at
#: 5,000. Fuzzing fix: a reading near 1e307 overflowed the integral to inf.
MAX_DOSE_RATE_USV_H: Final = 1e7
#: Largest GOES integral proton flux taken as a measurement (pfu, >10 and
#: >100 MeV): about 20x the largest SPE on record (~43,000 pfu >10 MeV, 1991).
MAX_FLUX_PFU: Final = 1e6
RAD_CHANNEL: Final = "dose_eq_rate"
#: Module index of a crew member outside the station (the ``EVA`` location).
EVA_INDEX: Final = -2


@dataclass(frozen=True, slots=True)
class Limit:
    """A limit as the estimator evaluates it (career or a rolling window).

    ``per_h`` converts area dose equivalent H (mSv) into the limit's quantity
    and unit (E in mSv for a career limit; mGy-Eq or mGy for an organ).
    """

    id: str
    label: str
    value: float
    unit: str
    window_days: float | None
    source: str
    status: str
    quantity: str = "effective dose E"
    per_h: float = 1.0


@dataclass(frozen=True, slots=True)
class CrewSetup:
    """One crew member as configured: limits and which streams are theirs."""

    index: int
    member: CrewMember
    career: CareerLimit
    limits: tuple[Limit, ...]
    personal_key: str | None
    module_key: str

    @property
    def windows(self) -> list[float | None]:
        return [lim.window_days for lim in self.limits]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """An input stream: its key, stale time and the bound on holding a value."""

    key: str
    stale_s: float
    hold_max_s: float


class EstimatorSetup:
    """Modules, monitors, crew and screening ranges (read-only after init)."""

    def __init__(
        self, dictionary: TelemetryDictionary, roster: Roster, limits: DoseLimits
    ) -> None:
        cfg: EstimatorConfig = roster.estimator
        self.config = cfg
        self.modules = list(dictionary.modules)
        if cfg.shelter.module not in dictionary.modules:
            raise ValueError(
                f"{roster.path}: [estimator.shelter] module {cfg.shelter.module!r} "
                f"is not a module of {dictionary.path} ({self.modules})"
            )
        self.shelter_idx = self.modules.index(cfg.shelter.module)
        self.sf = np.array(
            [dictionary.modules[m].shielding_factor for m in self.modules]
        )
        crew_module = dictionary.channel("crew", "module")
        if crew_module is None or not crew_module.states:
            raise ValueError(
                f"{dictionary.path}: crew family needs an enum 'module' channel"
            )
        self.module_lut = self._module_codes(crew_module.states)
        eva_code = crew_module.states.get("EVA")
        if eva_code is not None and eva_code >= 0:
            self.module_lut[eva_code] = EVA_INDEX
        module_stale = crew_module.stale_after_s
        module_hold = max(crew_module.hold_max_s, module_stale)

        rad_spec = dictionary.channel("rad", RAD_CHANNEL)
        rad_stale = rad_spec.stale_after_s if rad_spec else 30.0
        rad_hold = max(rad_spec.hold_max_s if rad_spec else rad_stale, rad_stale)
        self.streams: dict[str, StreamSpec] = {}
        self.area: list[tuple[str, int]] = []  # stream key, module index
        personal: dict[str, str] = {}  # source id -> stream key
        worn_by: dict[str, str] = {}  # crew id -> source id, from the dictionary
        for source in dictionary.sources_of("rad"):
            key = f"{source.id}.{RAD_CHANNEL}"
            spec = StreamSpec(key, rad_stale, rad_hold)
            if source.crew is not None:
                personal[source.id] = key
                worn_by[source.crew] = source.id
            elif source.module is not None:
                self.area.append((key, self.modules.index(source.module)))
                self.streams[key] = spec
        n_mod = len(self.modules)
        self.membership = np.zeros((n_mod, len(self.area)))
        for k, (_, m) in enumerate(self.area):
            self.membership[m, k] = 1.0
        self.area_sf = np.array([self.sf[m] for _, m in self.area])

        self.crew: list[CrewSetup] = []
        for i, member in enumerate(roster.crew):
            try:
                career = limits.career_limit(
                    member.agency, member.sex, member.age_at_first_flight
                )
            except KeyError as exc:
                raise ValueError(
                    f"{roster.path}: crew {member.id}: {exc.args[0]}"
                ) from None
            # The roster names the dosimeter; otherwise the dictionary's ``crew``.
            dosimeter = member.personal_dosimeter or worn_by.get(member.id)
            personal_key = None
            if dosimeter is not None:
                if dosimeter not in personal:
                    raise ValueError(
                        f"{roster.path}: crew {member.id}: personal dosimeter "
                        f"{dosimeter!r} is not a personal rad source of "
                        f"{dictionary.path}"
                    )
                personal_key = personal[dosimeter]
                self.streams[personal_key] = StreamSpec(
                    personal_key, rad_stale, rad_hold
                )
            module_key = f"{member.id}.module"
            self.streams[module_key] = StreamSpec(module_key, module_stale, module_hold)
            self.crew.append(
                CrewSetup(
                    i,
                    member,
                    career,
                    tuple(_limits_for(member, career, limits)),
                    personal_key,
                    module_key,
                )
            )

        goes = dictionary.sources_of("spacewx")
        orbit = dictionary.sources_of("orbit")
        self.goes_id = goes[0].id if goes else "goes"
        self.orbit_id = orbit[0].id if orbit else "iss"
        self.goes_timeout = self._join_timeout(dictionary, "spacewx", ("p10", "p100"))
        self.orbit_timeout = self._join_timeout(dictionary, "orbit", ("lat", "lon"))
        sig = cfg.uncertainty
        self.sigma = np.array(
            [
                [sig.relative(str(src), stale) for stale in (False, True)]
                for src in SOURCE_CODES
            ]
        )
        # Valid range and unit of the inputs screened for absurd values. A dose
        # rate or flux below zero is no measurement (a sign error in a gateway):
        # it must never lower a crew member's dose.
        self.ranges: dict[str, tuple[float, float, str]] = {
            key: (0.0, MAX_DOSE_RATE_USV_H, "µSv/h")
            for key in self.streams
            if key.endswith(f".{RAD_CHANNEL}")
        }
        for name in ("p10", "p100"):
            self.ranges[f"{self.goes_id}.{name}"] = (-math.inf, MAX_FLUX_PFU, "pfu")
        self.ranges[f"{self.orbit_id}.lat"] = (-90.0, 90.0, "deg")
        self.ranges[f"{self.orbit_id}.lon"] = (-360.0, 360.0, "deg")
        self.history_keep_s = (
            max(
                [365.0, cfg.projection_window_days]
                + [s.window_days for s in limits.evaluated_short_term()]
            )
            * 86400.0
            + cfg.rolling_bin_s
        )

    def _module_codes(self, states: dict[str, int]) -> npt.NDArray[np.intp]:
        """Lookup table enum code -> module index (-1: not a module)."""
        by_name = {m.casefold(): i for i, m in enumerate(self.modules)}
        lut = np.full(max(max(states.values()), 0) + 1, -1, dtype=np.intp)
        for name, code in states.items():
            if code >= 0 and name.casefold() in by_name:
                lut[code] = by_name[name.casefold()]
        return lut

    def _join_timeout(
        self, dictionary: TelemetryDictionary, family: str, names: tuple[str, str]
    ) -> float:
        """Wait for a missing partner as long as for a lagging dose input."""
        stale = [c.stale_after_s for n in names if (c := dictionary.channel(family, n))]
        return max([*stale, self.config.lateness_s])


def _limits_for(
    member: CrewMember, career: CareerLimit, limits: DoseLimits
) -> list[Limit]:
    conv = limits.conversion
    out = [
        Limit(
            "career",
            f"career ({member.agency})",
            career.limit_msv,
            "mSv",
            None,
            career.source,
            career.status,
            conv.quantity("mSv"),
            conv.per_h("mSv"),
        )
    ]
    for s in limits.evaluated_short_term():
        window = f"{s.window_days:g} d"
        out.append(
            Limit(
                s.id,
                f"{s.organ} {window}",
                s.limit,
                s.unit,
                s.window_days,
                s.source,
                s.status,
                conv.quantity(s.unit, s.organ),
                conv.per_h(s.unit, s.organ),
            )
        )
    return out
