"""Radiation dosimetry as pure functions: quality factor, spectra, integration, limits.

Formulas follow ``radiation.md`` (§2 physics, §4 crew method, §6 test cases);
the stateful crew estimator that uses them lives in ``telemetry.radiation.estimator``.
"""

from __future__ import annotations

import logging
import math
import re
from typing import TYPE_CHECKING, Final, NamedTuple, overload

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from collections.abc import Mapping

    from telemetry.radiation.roster import CareerLimit, DoseLimits, Sex

log = logging.getLogger(__name__)

#: Exact: 1 MeV in joules (SI 2019 value of the elementary charge).
J_PER_MEV: Final = 1.602176634e-13
#: Julian year; published annual rates (Tanpopo, TC4) use it.
DAYS_PER_YEAR: Final = 365.25
SECONDS_PER_HOUR: Final = 3600.0
SECONDS_PER_DAY: Final = 86400.0
#: Silicon density, g/cm³.
SI_DENSITY: Final = 2.329
#: Water/silicon mass stopping-power ratio [R]; instruments should give their own.
K_SI_TO_WATER: Final = 1.23

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


# -------------------------------------------------------------- physics


@overload
def quality_factor(let: float) -> float: ...
@overload
def quality_factor(let: FloatArray) -> FloatArray: ...
def quality_factor(let: float | FloatArray) -> float | FloatArray:
    """Return the ICRP 60 quality factor Q(L).

    Parameters
    ----------
    let : float or ndarray
        Unrestricted LET in water, keV/µm.

    Returns
    -------
    float or ndarray
        1 below 10 keV/µm, ``0.32 L - 2.2`` for 10..100, ``300/sqrt(L)`` above
        100. Q is continuous at 10 but steps from 29.8 to 30.0 at 100, as the
        definition has it.

    Raises
    ------
    ValueError
        If any L is negative or NaN: an LET below zero is a calibration error,
        and silently returning Q = 1 would hide it.
    """
    arr = np.asarray(let, dtype=np.float64)
    if arr.size and not bool(np.all(arr >= 0)):
        raise ValueError(f"LET must be >= 0 keV/µm, got {arr[~(arr >= 0)].flat[0]!r}")
    with np.errstate(divide="ignore"):
        q = np.where(
            arr < 10.0,
            1.0,
            np.where(
                arr <= 100.0, 0.32 * arr - 2.2, 300.0 / np.sqrt(np.maximum(arr, 1.0))
            ),
        )
    if np.ndim(let) == 0:
        return float(q)
    return q.astype(np.float64)


class SpectrumDose(NamedTuple):
    """Per-bin and total absorbed dose (Gy) and dose equivalent (Sv), and Q̄."""

    d_bins: FloatArray
    h_bins: FloatArray
    d: float
    h: float
    qbar: float


def spectrum_dose(
    fluence: ArrayLike, let: ArrayLike, density: float = 1.0
) -> SpectrumDose:
    """Return D, H and Q̄ of a binned LET fluence spectrum.

    Parameters
    ----------
    fluence : array_like
        Particles per cm² in each bin.
    let : array_like
        LET of each bin in keV/µm (water unless ``density`` says otherwise).
    density : float
        Medium density, g/cm³ (1 for water).

    Returns
    -------
    SpectrumDose
        ``D_i = 1.602176634e-9 Φ_i L_i / ρ`` Gy, ``H_i = Q(L_i) D_i`` Sv,
        totals and ``Q̄ = H / D`` (NaN when D is zero).
    """
    phi = np.asarray(fluence, dtype=np.float64)
    lets = np.asarray(let, dtype=np.float64)
    if phi.shape != lets.shape:
        raise ValueError(f"fluence {phi.shape} and LET {lets.shape} differ in shape")
    if bool(np.any(phi < 0)):
        raise ValueError("fluence must be >= 0")
    # keV/µm -> MeV/cm is ×10; MeV -> J, per gram -> per kg is ×1000.
    d_bins = phi * lets * 10.0 * J_PER_MEV * 1000.0 / density
    h_bins = quality_factor(lets) * d_bins
    d = float(d_bins.sum())
    h = float(h_bins.sum())
    return SpectrumDose(d_bins, h_bins, d, h, h / d if d > 0 else math.nan)


def silicon_mass_kg(volume_mm3: float, density: float = SI_DENSITY) -> float:
    """Return the mass in kg of a silicon sensitive volume given in mm³."""
    return volume_mm3 * 1e-3 * density * 1e-3


def silicon_dose_rate(
    energies_mev: ArrayLike, counts: ArrayLike, mass_kg: float, dt_s: float
) -> float:
    """Return the absorbed dose rate in silicon, µGy/h, from a deposit histogram.

    Parameters
    ----------
    energies_mev : array_like
        Deposited energy of each histogram channel, MeV (``E_j = c0 + c1 j``).
    counts : array_like
        Counts per channel over the interval.
    mass_kg : float
        Mass of the sensitive volume (see :func:`silicon_mass_kg`).
    dt_s : float
        Length of the interval, s.

    Returns
    -------
    float
        ``Σ C_j E_j · 1.602e-13 / m · 1e6 · 3600 / Δt`` (DOSPORTAL method).
    """
    if mass_kg <= 0 or dt_s <= 0:
        raise ValueError(f"mass and interval must be > 0, got {mass_kg}, {dt_s}")
    deposited = float(
        np.sum(np.asarray(energies_mev, float) * np.asarray(counts, float))
    )
    return deposited * J_PER_MEV / mass_kg * 1e6 * SECONDS_PER_HOUR / dt_s


def silicon_to_water(dose_si: float, k: float = K_SI_TO_WATER) -> float:
    """Convert a dose (or dose rate) in silicon to water: ``D_w = k · D_Si``."""
    return k * dose_si


class TelescopeLet(NamedTuple):
    """LET from one silicon-telescope coincidence."""

    let_si_kev_um: float
    mass_stopping_mev_cm2_g: float
    let_water_kev_um: float


def telescope_let(
    delta_e_mev: float,
    thickness_um: float,
    k: float = K_SI_TO_WATER,
    density_si: float = SI_DENSITY,
) -> TelescopeLet:
    """Return the LET in silicon and water from ΔE across a detector.

    Parameters
    ----------
    delta_e_mev : float
        Energy deposited in the detector, MeV.
    thickness_um : float
        Path length through it, µm (the thickness at normal incidence).
    k : float
        Water/silicon mass stopping-power ratio.
    density_si : float
        Silicon density, g/cm³.

    Returns
    -------
    TelescopeLet
        Linear LET in Si (keV/µm), mass stopping power in Si (MeV·cm²/g), and
        LET in water ``k × S/ρ × 0.1`` keV/µm (ρ_water = 1).
    """
    if thickness_um <= 0:
        raise ValueError(f"thickness must be > 0, got {thickness_um}")
    let_si = delta_e_mev * 1000.0 / thickness_um
    mass_stopping = delta_e_mev / (density_si * thickness_um * 1e-4)
    return TelescopeLet(let_si, mass_stopping, k * mass_stopping * 0.1)


#: ICRP 103 tissue weighting factors w_T [R]; they sum to 1.
ICRP103_TISSUE_WEIGHTS: Final[Mapping[str, float]] = {
    "red_bone_marrow": 0.12,
    "colon": 0.12,
    "lung": 0.12,
    "stomach": 0.12,
    "breast": 0.12,
    "remainder": 0.12,
    "gonads": 0.08,
    "bladder": 0.04,
    "oesophagus": 0.04,
    "liver": 0.04,
    "thyroid": 0.04,
    "bone_surface": 0.01,
    "brain": 0.01,
    "salivary_glands": 0.01,
    "skin": 0.01,
}


def effective_dose(
    organ_doses: Mapping[str, float],
    weights: Mapping[str, float] = ICRP103_TISSUE_WEIGHTS,
) -> float:
    """Return ``E = Σ w_T H_T`` over every weighted tissue.

    Raises
    ------
    ValueError
        If a weighted tissue is missing or an unknown tissue is given: a
        partial sum would silently under-state E.
    """
    missing = sorted(set(weights) - set(organ_doses))
    unknown = sorted(set(organ_doses) - set(weights))
    if missing or unknown:
        raise ValueError(f"organ doses: missing {missing}, unknown {unknown}")
    return math.fsum(weights[t] * organ_doses[t] for t in weights)


@overload
def neutron_weighting_factor(energy_mev: float) -> float: ...
@overload
def neutron_weighting_factor(energy_mev: FloatArray) -> FloatArray: ...
def neutron_weighting_factor(energy_mev: float | FloatArray) -> float | FloatArray:
    """Return the ICRP 103 neutron radiation weighting factor w_R(E), E in MeV."""
    e = np.asarray(energy_mev, dtype=np.float64)
    if e.size and not bool(np.all(e > 0)):
        raise ValueError("neutron energy must be > 0 MeV")
    low = 2.5 + 18.2 * np.exp(-(np.log(e) ** 2) / 6.0)
    mid = 5.0 + 17.0 * np.exp(-(np.log(2.0 * e) ** 2) / 6.0)
    high = 2.5 + 3.25 * np.exp(-(np.log(0.04 * e) ** 2) / 6.0)
    w = np.where(e < 1.0, low, np.where(e <= 50.0, mid, high))
    if np.ndim(energy_mev) == 0:
        return float(w)
    return w.astype(np.float64)


# --------------------------------------------------------- time integrals


def _increments(
    times: FloatArray,
    rates: FloatArray,
    per_s: float,
    max_hold_s: float,
    until: float | None,
) -> FloatArray:
    if times.ndim != 1 or times.shape != rates.shape:
        raise ValueError(
            f"times {times.shape} and rates {rates.shape} must be equal 1-D"
        )
    if times.size > 1 and bool(np.any(np.diff(times) < 0)):
        raise ValueError("times must be in increasing order")
    end = times[-1] if until is None else max(until, float(times[-1]))
    held = np.diff(np.append(times, end))
    return np.asarray(rates * np.minimum(held, max_hold_s) / per_s, dtype=np.float64)


def integrate(
    times: ArrayLike,
    rates: ArrayLike,
    *,
    per_s: float = SECONDS_PER_HOUR,
    max_hold_s: float = math.inf,
    until: float | None = None,
) -> float:
    """Integrate a sampled dose rate by sample time, holding each sample.

    Hold-last (zero-order hold) rather than trapezoid, because:

    - crew location is a step function, and a rate held per sample stays
      exact across a module change sampled at its time;
    - a sample covers at most ``max_hold_s`` (its stale time), so a gap never
      spreads an old reading over hours, as a trapezoid across the gap would;
    - the integral is additive, ``∫[a,c] = ∫[a,b] + ∫[b,c]`` at any split, so
      the totals do not depend on how samples were batched, and a constant
      rate gives exactly ``rate × duration`` at any step (TC3).

    Its bias is a lag of one sample interval, ≤ rate × interval (0.07 µSv
    for 25 µSv/h at 10 s).

    Parameters
    ----------
    times : array_like
        Sample times, s, increasing.
    rates : array_like
        Rate at each sample, in dose units per ``per_s`` seconds.
    per_s : float
        Seconds in the rate's time unit (3600 for /h, 86400 for /d).
    max_hold_s : float
        Longest time one sample is held for.
    until : float, optional
        Integrate to this time; by default to the last sample (which then
        contributes nothing).

    Returns
    -------
    float
        The dose, in the rate's dose unit.
    """
    t = np.asarray(times, dtype=np.float64)
    r = np.asarray(rates, dtype=np.float64)
    if t.size == 0:
        return 0.0
    return math.fsum(_increments(t, r, per_s, max_hold_s, until).tolist())


def cumulative_dose(
    times: ArrayLike,
    rates: ArrayLike,
    *,
    per_s: float = SECONDS_PER_HOUR,
    max_hold_s: float = math.inf,
) -> FloatArray:
    """Return the hold-last integral from the first sample to each sample time."""
    t = np.asarray(times, dtype=np.float64)
    r = np.asarray(rates, dtype=np.float64)
    if t.size == 0:
        return np.zeros(0)
    inc = _increments(t, r, per_s, max_hold_s, None)
    return np.concatenate(([0.0], np.cumsum(inc[:-1])))


def rolling_sum(
    times: ArrayLike, doses: ArrayLike, window_s: float, at: ArrayLike
) -> FloatArray:
    """Sum dose increments over the half-open window ``(at - window_s, at]``.

    Parameters
    ----------
    times : array_like
        Time stamp of each increment, increasing.
    doses : array_like
        Dose increments.
    window_s : float
        Window length, s (30 d = 2 592 000).
    at : array_like
        Window end times.

    Returns
    -------
    ndarray
        One sum per ``at``. An increment exactly ``window_s`` old has left the
        window; one stamped at ``at`` is inside it (TC14).
    """
    t = np.asarray(times, dtype=np.float64)
    d = np.asarray(doses, dtype=np.float64)
    ends = np.atleast_1d(np.asarray(at, dtype=np.float64))
    csum = np.concatenate(([0.0], np.cumsum(d)))
    hi = np.searchsorted(t, ends, side="right")
    lo = np.searchsorted(t, ends - window_s, side="right")
    return np.asarray(csum[hi] - csum[lo], dtype=np.float64)


# ------------------------------------------------------------- budgets


def remaining_dose(limit: float, dose: float) -> float:
    """Return what is left of a limit (negative once it is exceeded)."""
    return limit - dose


def days_to_limit(remaining: float, rate_per_day: float) -> float:
    """Return days until ``remaining`` is used at a constant ``rate_per_day``.

    Returns 0 when nothing remains and ``inf`` when the rate is not positive.
    """
    if remaining <= 0:
        return 0.0
    if not rate_per_day > 0:
        return math.inf
    return remaining / rate_per_day


def career_limit(agency: str, sex: Sex, age: int, limits: DoseLimits) -> CareerLimit:
    """Return the career limit from the limits file for agency, sex and age.

    Raises
    ------
    KeyError
        For an unknown agency, or an age the agency's table does not cover.
    """
    return limits.career_limit(agency, sex, age)


def location_weighted_rate(
    hours: Mapping[str, float],
    rates: Mapping[str, float],
    *,
    body_factor: float = 1.0,
    period_h: float = 24.0,
    normalise: bool = False,
) -> float:
    """Return a crew member's rate from time spent per module (§4.1, TC9).

    Parameters
    ----------
    hours : Mapping[str, float]
        Hours spent in each module over the period.
    rates : Mapping[str, float]
        Dose-equivalent rate in each module (any unit; the result has it).
    body_factor : float
        Area H to effective dose factor (1 is conservative).
    period_h : float
        Length of the period the timeline must cover.
    normalise : bool
        If the timeline does not add up to ``period_h``: False (the default)
        raises, because a timeline with missing or double-booked hours is a
        planning error the operator must see; True scales the hours to the
        period and logs a warning saying so.

    Raises
    ------
    ValueError
        On a timeline that does not cover the period (unless ``normalise``),
        negative hours, or a module without a rate.
    """
    if any(h < 0 for h in hours.values()):
        raise ValueError(f"negative hours in timeline {dict(hours)}")
    missing = sorted(set(hours) - set(rates))
    if missing:
        raise ValueError(f"no dose rate for module(s) {missing}")
    total = math.fsum(hours.values())
    if total <= 0:
        raise ValueError("timeline has no hours")
    if not math.isclose(total, period_h, rel_tol=1e-9, abs_tol=1e-9):
        if not normalise:
            raise ValueError(f"timeline covers {total:g} h, not {period_h:g} h")
        log.warning(
            "timeline covers %g h of %g h: normalised to the period", total, period_h
        )
    weighted = math.fsum(h * rates[m] for m, h in hours.items())
    return body_factor * weighted / total


# --------------------------------------------------------------- units

_PREFIX: Final = {"": 1.0, "k": 1e3, "m": 1e-3, "µ": 1e-6, "u": 1e-6, "n": 1e-9}
_TIME: Final = {
    "s": 1.0,
    "min": 60.0,
    "h": SECONDS_PER_HOUR,
    "d": SECONDS_PER_DAY,
    "yr": DAYS_PER_YEAR * SECONDS_PER_DAY,
    "y": DAYS_PER_YEAR * SECONDS_PER_DAY,
}
_UNIT_RE: Final = re.compile(r"^(k|m|µ|u|n|)(Gy-Eq|Gy|Sv)(?:/(s|min|h|d|yr|y))?$")


def _parse_unit(unit: str) -> tuple[str, float, float | None]:
    match = _UNIT_RE.match(unit.strip())
    if match is None:
        raise ValueError(f"unknown dose unit {unit!r} (e.g. mSv, µGy/d, mGy/yr)")
    prefix, quantity, per = match.groups()
    return quantity, _PREFIX[prefix], _TIME[per] if per else None


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert a dose or dose rate between units of the same quantity.

    Examples: ``convert(82, "mGy/yr", "µGy/d")`` is 224.5 (365.25 d per year);
    ``convert(25.75, "µSv/h", "mSv/d")`` is 0.618. Gy and Sv never convert into
    each other: that needs a quality factor, which is physics, not units.
    """
    q_from, scale_from, per_from = _parse_unit(from_unit)
    q_to, scale_to, per_to = _parse_unit(to_unit)
    if q_from != q_to:
        raise ValueError(f"cannot convert {q_from} to {q_to}")
    if (per_from is None) != (per_to is None):
        raise ValueError(f"cannot convert a dose to a rate: {from_unit} -> {to_unit}")
    result = value * scale_from / scale_to
    if per_from is not None and per_to is not None:
        result *= per_to / per_from
    return result
