"""One way to write a dose, a fraction, a span and a time: screen and report agree."""

from __future__ import annotations

import math

import pytest

from console.docks import radiation_dock
from telemetry.core import units
from telemetry.reports.pages import environment


@pytest.mark.parametrize(
    ("value", "sigma", "unit", "quantity", "text"),
    [
        (0.0223, 0.00423, "mSv", "", "22.3 ± 4.23 µSv"),
        (480.0, None, "mSv", "", "480 mSv"),
        (12.0, None, "mSv", "E", "E 12.0 mSv"),
        (0.5, None, "mGy", "D", "D 500 µGy"),
        (1.0, None, "mSv", "H", "H 1.00 mSv"),
        (math.nan, None, "mSv", "H", "H —"),
        (250.0, None, "mGy-Eq", "", "250 mGy-Eq"),
    ],
)
def test_a_dose_reads_with_its_unit_and_quantity(
    value: float, sigma: float | None, unit: str, quantity: str, text: str
) -> None:
    assert units.format_dose(value, sigma, unit, quantity=quantity) == text


def test_a_fraction_is_never_rounded_up_to_a_level() -> None:
    assert units.format_percent(0.8998) == "89.9 %"
    assert units.format_percent(0.9) == "90.0 %"
    assert units.format_percent(1.034) == "103.4 %"
    assert units.format_percent(math.inf) == "—"


def test_spans_and_days() -> None:
    assert units.format_duration(40) == "40 s"
    assert units.format_duration(720) == "12 min"
    assert units.format_duration(9000) == "2.5 h"
    assert units.format_duration(3 * 86400) == "3.0 d"
    assert units.format_hms(115) == "0:01:55"
    assert units.format_days(math.inf) == "not reached"
    assert units.format_days(416.2) == "416 d"


def test_the_panel_and_the_reports_use_the_same_functions() -> None:
    # The radiation dock draws doses with these very functions, and the report
    # templates' filters are them: the same dose cannot read two ways.
    assert radiation_dock.format_dose is units.format_dose
    assert radiation_dock.format_days is units.format_days
    filters = environment().filters
    assert filters["dose"] is units.format_dose
    assert filters["pct"] is units.format_percent
    page = environment().from_string("{{ 0.0223|dose(0.00423) }}").render()
    assert page == radiation_dock.format_dose(0.0223, 0.00423)


def test_templates_escape_whatever_they_are_given() -> None:
    page = (
        environment()
        .from_string("<td>{{ name }}</td>")
        .render(name='<script>alert("x")</script>')
    )
    assert "<script>" not in page and "&lt;script&gt;" in page
