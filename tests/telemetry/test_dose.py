"""radiation.md §6 test cases TC1..TC14 against telemetry.radiation.physics."""

from __future__ import annotations

import logging
import math
import tomllib

import numpy as np
import pytest

from telemetry.radiation.physics import (
    ICRP103_TISSUE_WEIGHTS,
    career_limit,
    convert,
    cumulative_dose,
    days_to_limit,
    effective_dose,
    integrate,
    location_weighted_rate,
    neutron_weighting_factor,
    quality_factor,
    remaining_dose,
    rolling_sum,
    silicon_dose_rate,
    silicon_mass_kg,
    silicon_to_water,
    spectrum_dose,
    telescope_let,
)
from telemetry.radiation.roster import DEFAULT_LIMITS, DoseLimits, Sex

DAY = 86400.0


@pytest.fixture(scope="module")
def limits() -> DoseLimits:
    return DoseLimits.load(DEFAULT_LIMITS)


# ---------------------------------------------------------------- TC1


@pytest.mark.parametrize(
    ("let", "q"),
    [
        (0.3, 1.0),
        (9.999, 1.0),
        (10.0, 1.0),
        (10.5, 1.16),
        (20.0, 4.2),
        (50.0, 13.8),
        (99.9, 29.768),
        (100.0, 29.8),
        (100.0001, 29.999985),
        (200.0, 21.213203),
        (400.0, 15.0),
        (900.0, 10.0),
        (1000.0, 9.486833),
    ],
)
def test_tc1_quality_factor(let: float, q: float) -> None:
    assert quality_factor(let) == pytest.approx(q, rel=1e-6)


def test_tc1_quality_factor_vectorised_and_discontinuous_at_100() -> None:
    q = quality_factor(np.array([0.3, 20.0, 100.0, 100.0001]))
    np.testing.assert_allclose(q, [1.0, 4.2, 29.8, 29.999985], rtol=1e-6)
    assert quality_factor(np.nextafter(100.0, 200.0)) > 29.99


@pytest.mark.parametrize("bad", [-1e-9, -5.0, math.nan])
def test_tc1_negative_or_nan_let_raises(bad: float) -> None:
    with pytest.raises(ValueError, match="LET"):
        quality_factor(bad)
    with pytest.raises(ValueError, match="LET"):
        quality_factor(np.array([1.0, bad]))


# ---------------------------------------------------------------- TC2


def test_tc2_let_spectrum_to_d_h_qbar() -> None:
    d_bins, h_bins, d, h, qbar = spectrum_dose([1e6, 1e3, 10.0], [0.3, 20.0, 200.0])
    np.testing.assert_allclose(
        d_bins, [4.806530e-4, 3.204353e-5, 3.204353e-6], rtol=1e-6
    )
    np.testing.assert_allclose(
        h_bins, [4.806530e-4, 1.345828e-4, 6.797460e-5], rtol=1e-6
    )
    assert d == pytest.approx(5.159009e-4, rel=1e-6)
    assert h == pytest.approx(6.832104e-4, rel=1e-6)
    assert qbar == pytest.approx(1.324306, rel=1e-6)


def test_tc2_spectrum_rejects_mismatched_or_negative_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        spectrum_dose([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="fluence"):
        spectrum_dose([-1.0], [1.0])
    assert math.isnan(spectrum_dose([0.0], [5.0]).qbar)


# ---------------------------------------------------------------- TC3

PADLES = [
    # µGy/d, µSv/d, days, Q̄, D total mGy, H total mSv
    (319.0, 618.0, 301, 1.9373, 96.02, 186.02),
    (276.0, 608.0, 180, 2.2029, 49.68, 109.44),
    (297.0, 661.0, 232, 2.2256, 68.90, 153.35),
]


@pytest.mark.parametrize("step_s", [60.0, 3600.0, DAY], ids=["1min", "1h", "1d"])
@pytest.mark.parametrize("case", PADLES, ids=["PADLES1", "PADLES2", "PADLES3-ELM"])
def test_tc3_constant_rate_period_totals_at_any_step(
    case: tuple[float, float, int, float, float, float], step_s: float
) -> None:
    d_rate, h_rate, days, qbar, d_total, h_total = case
    times = 1.2e9 + np.arange(0.0, days * DAY + step_s / 2, step_s)
    d = integrate(times, np.full(times.shape, d_rate), per_s=DAY) / 1000.0
    h = integrate(times, np.full(times.shape, h_rate), per_s=DAY) / 1000.0
    assert h_rate / d_rate == pytest.approx(qbar, rel=1e-3)
    assert d == pytest.approx(d_total, rel=1e-3)
    assert h == pytest.approx(h_total, rel=1e-3)


def test_tc3_hold_last_is_additive_so_batching_does_not_matter() -> None:
    rng = np.random.default_rng(3)
    times = np.cumsum(rng.uniform(1.0, 20.0, 500))
    rates = rng.lognormal(3.0, 1.0, 500)
    whole = integrate(times, rates)
    split = 217
    parts = integrate(times[: split + 1], rates[: split + 1]) + integrate(
        times[split:], rates[split:]
    )
    assert parts == pytest.approx(whole, rel=1e-12)
    cum = cumulative_dose(times, rates)
    assert cum[0] == 0.0
    assert cum[-1] == pytest.approx(whole, rel=1e-12)


def test_tc3_a_sample_is_held_at_most_its_stale_time() -> None:
    # 10 µSv/h at t=0, then nothing for an hour: a 30 s hold counts 30 s only.
    times = np.array([0.0, 3600.0])
    assert integrate(times, np.array([10.0, 10.0]), max_hold_s=30.0) == pytest.approx(
        10.0 * 30.0 / 3600.0
    )
    assert integrate(times, np.array([10.0, 99.0]), until=7200.0) == pytest.approx(
        10.0 + 99.0
    )
    with pytest.raises(ValueError, match="increasing"):
        integrate(np.array([2.0, 1.0]), np.array([1.0, 1.0]))


# ---------------------------------------------------------------- TC4


def test_tc4_annual_rates_to_daily() -> None:
    pm = convert(82.0, "mGy/yr", "µGy/d")
    ef = convert(231.0, "mGy/yr", "uGy/d")
    assert pm == pytest.approx(224.5, abs=0.05)
    assert ef == pytest.approx(632.4, abs=0.05)
    assert pm / ef == pytest.approx(0.355, abs=5e-4)


def test_tc4_console_units() -> None:
    assert convert(618.0, "µSv/d", "µSv/h") == pytest.approx(25.75)
    assert convert(25.75, "µSv/h", "mSv/d") == pytest.approx(0.618)
    assert convert(1.5, "Sv", "mSv") == pytest.approx(1500.0)
    assert convert(250.0, "mGy-Eq", "Gy-Eq") == pytest.approx(0.25)
    with pytest.raises(ValueError, match="cannot convert Gy to Sv"):
        convert(1.0, "mGy", "mSv")
    with pytest.raises(ValueError, match="dose to a rate"):
        convert(1.0, "mSv", "mSv/d")
    with pytest.raises(ValueError, match="unknown dose unit"):
        convert(1.0, "rem", "mSv")


# ---------------------------------------------------------------- TC5


def test_tc5_nasa_remaining_and_days(limits: DoseLimits) -> None:
    limit = career_limit("NASA", "F", 35, limits).limit_msv
    remaining = remaining_dose(limit, 350.0)
    assert remaining == pytest.approx(250.0)
    assert days_to_limit(remaining, 0.600) == pytest.approx(416.7, abs=0.05)
    assert career_limit("NASA", "M", 60, limits).limit_msv == limit
    assert days_to_limit(limit, 0.618) == pytest.approx(970.9, abs=0.05)


def test_tc5_jaxa_endpoints(limits: DoseLimits) -> None:
    young_female = career_limit("JAXA", "F", 28, limits)
    assert young_female.limit_msv == pytest.approx(500.0)
    assert young_female.status == "V"
    remaining = remaining_dose(young_female.limit_msv, 350.0)
    assert remaining == pytest.approx(150.0)
    assert days_to_limit(remaining, 0.600) == pytest.approx(250.0)
    older_male = career_limit("JAXA", "M", 47, limits)
    assert older_male.limit_msv == pytest.approx(1000.0)
    assert older_male.status == "V"


@pytest.mark.parametrize("agency", ["ESA", "CSA", "Roscosmos"])
def test_tc5_flat_agencies_do_not_depend_on_age_or_sex(
    limits: DoseLimits, agency: str
) -> None:
    sexes: tuple[Sex, ...] = ("F", "M")
    values = {
        career_limit(agency, sex, age, limits).limit_msv
        for sex in sexes
        for age in (27, 35, 50)
    }
    assert values == {1000.0}


def test_tc5_intermediate_jaxa_rows_come_from_the_limits_file(
    limits: DoseLimits,
) -> None:
    # Read the table straight from the file, so no row is hard-coded here.
    table = tomllib.loads(DEFAULT_LIMITS.read_text(encoding="utf-8"))
    rows = table["career"]["JAXA"]["rows"]
    assert len(rows) >= 5
    for row in rows:
        # "> 46" is written age_above = 46: its first age is 47.
        first = row["age_min"] if "age_min" in row else row["age_above"] + 1
        ages = [first, row.get("age_max", first + 20)]
        for age in ages:
            assert career_limit("JAXA", "M", age, limits).limit_msv == row["male_msv"]
            assert career_limit("JAXA", "F", age, limits).limit_msv == row["female_msv"]
    with pytest.raises(KeyError, match="no career limit for age 25"):
        career_limit("JAXA", "F", 25, limits)
    with pytest.raises(KeyError, match="unknown agency"):
        career_limit("ISRO", "F", 30, limits)


def test_tc5_days_to_limit_edges() -> None:
    assert days_to_limit(0.0, 0.6) == 0.0
    assert days_to_limit(-3.0, 0.6) == 0.0
    assert days_to_limit(10.0, 0.0) == math.inf


# ---------------------------------------------------------------- TC9

TC9_HOURS = {"JPM": 8.0, "NODE2": 9.0, "USLAB": 7.0}
TC9_RATES = {"JPM": 0.618, "NODE2": 0.50, "USLAB": 0.55}


def test_tc9_location_weighted_daily_dose() -> None:
    assert location_weighted_rate(TC9_HOURS, TC9_RATES) == pytest.approx(
        0.553917, rel=1e-6
    )
    assert location_weighted_rate(TC9_HOURS, TC9_RATES, body_factor=0.5) == (
        pytest.approx(0.553917 / 2, rel=1e-6)
    )


def test_tc9_timeline_not_24_h_raises_by_default() -> None:
    short = {**TC9_HOURS, "USLAB": 6.0}
    with pytest.raises(ValueError, match="covers 23 h, not 24 h"):
        location_weighted_rate(short, TC9_RATES)
    with pytest.raises(ValueError, match="no dose rate"):
        location_weighted_rate({**TC9_HOURS, "SM": 0.0}, TC9_RATES)


def test_tc9_normalise_is_opt_in_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    doubled = {m: 2 * h for m, h in TC9_HOURS.items()}
    with caplog.at_level(logging.WARNING, logger="telemetry.radiation.physics"):
        rate = location_weighted_rate(doubled, TC9_RATES, normalise=True)
    assert rate == pytest.approx(0.553917, rel=1e-6)
    assert "normalised" in caplog.text


# ---------------------------------------------------------------- TC10


def test_tc10_silicon_diode_dose_rate() -> None:
    mass = silicon_mass_kg(60.0)
    assert mass == pytest.approx(1.397400e-4, rel=1e-6)
    d_si = silicon_dose_rate([100.0], [1], mass, 10.4)
    assert d_si == pytest.approx(39.6880, rel=1e-5)
    assert silicon_to_water(d_si, k=1.23) == pytest.approx(48.8162, rel=1e-5)
    # The same 100 MeV as a calibrated histogram E_j = c0 + c1 j.
    energies = 0.5 + 0.25 * np.arange(4)
    assert silicon_dose_rate(energies, [40, 24, 16, 10], mass, 10.4) == pytest.approx(
        silicon_dose_rate([1.0], [40 * 0.5 + 24 * 0.75 + 16 + 10 * 1.25], mass, 10.4)
    )


# ---------------------------------------------------------------- TC11


def test_tc11_silicon_telescope_let() -> None:
    let_si, mass_stopping, let_water = telescope_let(1.000, 300.0, k=1.23)
    assert let_si == pytest.approx(3.3333, rel=1e-4)
    assert mass_stopping == pytest.approx(14.3123, rel=1e-5)
    assert let_water == pytest.approx(1.7604, rel=1e-4)
    assert quality_factor(let_water) == 1.0


# ---------------------------------------------------------------- TC12


def test_tc12_icrp103_tissue_weights() -> None:
    assert len(ICRP103_TISSUE_WEIGHTS) == 15
    assert math.fsum(ICRP103_TISSUE_WEIGHTS.values()) == pytest.approx(1.00, abs=1e-12)
    uniform = dict.fromkeys(ICRP103_TISSUE_WEIGHTS, 1.0)
    assert effective_dose(uniform) == pytest.approx(1.000)
    assert effective_dose({**uniform, "skin": 10.0}) == pytest.approx(1.09)


def test_tc12_partial_organ_set_raises() -> None:
    uniform = dict.fromkeys(ICRP103_TISSUE_WEIGHTS, 1.0)
    del uniform["colon"]
    with pytest.raises(ValueError, match="colon"):
        effective_dose(uniform)
    with pytest.raises(ValueError, match="spleen"):
        effective_dose({**dict.fromkeys(ICRP103_TISSUE_WEIGHTS, 1.0), "spleen": 1.0})


# ---------------------------------------------------------------- TC13


@pytest.mark.parametrize(
    ("energy", "w_r"),
    [
        (0.001, 2.506),
        (0.1, 10.022),
        (1.0, 20.692),
        (2.0, 17.341),
        (10.0, 8.809),
        (100.0, 4.859),
        (1000.0, 2.836),
    ],
)
def test_tc13_neutron_weighting_factor(energy: float, w_r: float) -> None:
    assert neutron_weighting_factor(energy) == pytest.approx(w_r, abs=1e-3)


def test_tc13_vectorised_and_rejects_non_positive_energy() -> None:
    w = neutron_weighting_factor(np.array([0.001, 1.0, 1000.0]))
    np.testing.assert_allclose(w, [2.506, 20.692, 2.836], atol=1e-3)
    with pytest.raises(ValueError, match="> 0"):
        neutron_weighting_factor(0.0)


# ---------------------------------------------------------------- TC14


def test_tc14_rolling_30_day_window_is_half_open(limits: DoseLimits) -> None:
    days = np.arange(1, 71, dtype=np.float64)
    doses = np.full(days.shape, 0.3)
    doses[days == 35] += 5.0
    ends = np.array([40.0, 64.0, 65.0, 20.0]) * DAY
    sums = rolling_sum(days * DAY, doses, 30 * DAY, ends)
    np.testing.assert_allclose(sums, [14.0, 14.0, 9.0, 6.0], rtol=1e-12)
    bfo_30d = next(s for s in limits.short_term if s.id == "bfo_30d")
    assert sums[0] / bfo_30d.limit == pytest.approx(0.056)
