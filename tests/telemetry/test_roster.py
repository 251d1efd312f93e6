"""Crew roster and dose-limits files: contents, provenance, errors naming lines."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from telemetry.core.severity import Severity
from telemetry.radiation.roster import (
    DEFAULT_LIMITS,
    DEFAULT_ROSTER,
    DoseLimits,
    Roster,
    RosterError,
)

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def limits() -> DoseLimits:
    return DoseLimits.load(DEFAULT_LIMITS)


@pytest.fixture(scope="module")
def roster(limits: DoseLimits) -> Roster:
    return Roster.load(DEFAULT_ROSTER, limits)


# ------------------------------------------------------------ shipped files


def test_shipped_roster_covers_the_four_training_cases(
    roster: Roster, limits: DoseLimits
) -> None:
    assert [m.id for m in roster.crew] == ["c1", "c2", "c3", "c4"]
    by_id = {m.id: m for m in roster.crew}

    def limit(cid: str) -> float:
        m = by_id[cid]
        return limits.career_limit(m.agency, m.sex, m.age_at_first_flight).limit_msv

    young = by_id["c1"]
    assert (young.agency, young.sex) == ("JAXA", "F")
    assert limit("c1") == min(limit(c) for c in by_id)  # the smallest budget
    veteran = by_id["c2"]
    assert veteran.agency == "NASA"
    assert limit("c2") - veteran.prior_career_msv <= 0.2 * limit("c2")  # little left
    assert by_id["c3"].agency == "ESA"
    mid = by_id["c4"]
    assert (mid.agency, mid.sex) == ("JAXA", "M")
    assert 0 < mid.prior_career_msv < 0.5 * limit("c4")
    assert all(
        m.mission_end is not None and m.mission_end > m.mission_start
        for m in roster.crew
    )
    assert veteran.personal_dosimeter == "pd-c2"


def test_estimator_settings_are_conservative_defaults(roster: Roster) -> None:
    est = roster.estimator
    assert est.body_shielding_factor == 1.0
    assert est.shelter.module == "SM"
    assert (est.shelter.p10_pfu, est.shelter.p100_pfu) == (100.0, 1.0)
    assert (est.spe.onset_pfu, est.spe.onset_points, est.spe.end_pfu) == (10.0, 3, 8.5)
    # Independent components add in quadrature: sqrt(0.1² + 0.15²) for personal.
    assert est.uncertainty.relative("personal", stale=False) == pytest.approx(
        (0.10**2 + 0.15**2) ** 0.5
    )
    assert est.uncertainty.relative("area", stale=True) > est.uncertainty.relative(
        "area", stale=False
    )


def test_every_limit_carries_source_date_and_status(limits: DoseLimits) -> None:
    for rule in limits.career.values():
        assert rule.source
        assert rule.date
        for row in rule.rows:
            assert row.source
            assert row.date
            assert {row.male_status, row.female_status} <= {"V", "R", "D"}
    for short in limits.short_term:
        assert short.source
        assert short.date
        assert short.status in ("V", "R", "D")
    assert limits.alert_source


def test_limit_values_and_statuses(limits: DoseLimits) -> None:
    assert limits.career_limit("NASA", "F", 30).limit_msv == 600.0
    assert limits.career_limit("nasa", "M", 30).status == "V"  # case-insensitive
    for agency in ("ESA", "CSA", "Roscosmos"):
        assert limits.agency(agency).limit_msv == 1000.0
    jaxa_rows = limits.agency("JAXA").rows
    assert [r.band for r in jaxa_rows] == ["27-30", "31-35", "36-40", "41-45", "> 46"]
    assert jaxa_rows[0].female_status == "V"  # 500 mSv, NASEM Table 3-1
    assert jaxa_rows[-1].male_status == "V"  # 1000 mSv
    assert jaxa_rows[1].male_status == "R"  # rows still to verify are marked
    short = {s.id: s for s in limits.short_term}
    assert (short["bfo_30d"].limit, short["bfo_1y"].limit) == (250.0, 500.0)
    assert short["bfo_30d"].unit == "mGy-Eq"
    assert not short["cns_hze_1y"].evaluate
    assert [(a.fraction, a.severity) for a in limits.alert_levels] == [
        (0.5, Severity.WATCH),
        (0.75, Severity.WARNING),
        (0.9, Severity.CRITICAL),
        (1.0, Severity.CRITICAL),
    ]


# ------------------------------------------------------------------ errors

GOOD_CREW = """\
[roster]
version = "t"

[[crew]]
id = "c1"
name = "A"
agency = "JAXA"
sex = "F"
age_at_first_flight = 28
prior_career_msv = 0.0
mission_start = 2025-09-01

[[crew]]
id = "c2"
name = "B"
agency = "NASA"
sex = "M"
age_at_first_flight = 40
prior_career_msv = 100.0
mission_start = 2025-09-01
"""


def write(tmp_path: Path, text: str, name: str = "roster.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 0) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return lines[occurrence]


def test_good_minimal_roster_gets_default_estimator(
    tmp_path: Path, limits: DoseLimits
) -> None:
    roster = Roster.load(write(tmp_path, GOOD_CREW), limits)
    assert roster.member("c2").prior_career_msv == 100.0
    assert roster.estimator.lateness_s > 0
    with pytest.raises(KeyError, match="c9"):
        roster.member("c9")


@pytest.mark.parametrize(
    ("old", "new", "entry", "problem", "occurrence"),
    [
        ('agency = "NASA"\n', "", "crew[1].agency", "is missing", None),
        (
            'sex = "M"',
            'sex = "male"',
            "crew[1].sex",
            "must be 'F' or 'M'",
            'sex = "male"',
        ),
        (
            "prior_career_msv = 100.0",
            "prior_career_msv = -5.0",
            "crew[1].prior_career_msv",
            "must be >= 0",
            "prior_career_msv = -5.0",
        ),
        (
            "prior_career_msv = 100.0",
            "prior_carreer_msv = 100.0",
            "crew[1].prior_carreer_msv",
            "unknown key",
            "prior_carreer_msv",
        ),
        ('id = "c2"', 'id = "c1"', "crew[1].id", "duplicate crew id", None),
        (
            "age_at_first_flight = 40",
            "age_at_first_flight = 40.5",
            "crew[1].age_at_first_flight",
            "must be an integer",
            "40.5",
        ),
    ],
)
def test_roster_errors_name_file_line_and_entry(
    tmp_path: Path,
    old: str,
    new: str,
    entry: str,
    problem: str,
    occurrence: str | None,
) -> None:
    # Change the second crew member only.
    head, tail = GOOD_CREW.split('[[crew]]\nid = "c2"')
    text = head + ('[[crew]]\nid = "c2"' + tail).replace(old, new, 1)
    path = write(tmp_path, text)
    with pytest.raises(RosterError) as info:
        Roster.load(path)
    message = str(info.value)
    assert f"[{entry}]" in message
    assert problem in message
    line = int(re.match(rf"{re.escape(str(path))}:(\d+):", message).group(1))  # type: ignore[union-attr]
    if occurrence is not None:
        assert line == line_of(text, occurrence)
    else:
        assert line >= line_of(text, "[[crew]]", 1)


def test_unknown_agency_and_uncovered_age_fail_at_load(
    tmp_path: Path, limits: DoseLimits
) -> None:
    text = GOOD_CREW.replace('agency = "NASA"', 'agency = "ISRO"')
    with pytest.raises(
        RosterError, match=r"\[crew\[1\]\.agency\] \(c2\) unknown agency 'ISRO'"
    ):
        Roster.load(write(tmp_path, text), limits)
    text = GOOD_CREW.replace("age_at_first_flight = 28", "age_at_first_flight = 25")
    with pytest.raises(RosterError, match="no career limit for age 25") as info:
        Roster.load(write(tmp_path, text), limits)
    assert f":{line_of(text, 'agency = \"JAXA\"')}:" in str(info.value)


def test_estimator_section_errors(tmp_path: Path) -> None:
    text = GOOD_CREW + "\n[estimator]\nbody_shielding_factor = -1.0\n"
    with pytest.raises(RosterError, match=r"\[estimator\.body_shielding_factor\]"):
        Roster.load(write(tmp_path, text))
    text = GOOD_CREW + "\n[estimator.spe]\nend_pfu = 20.0\n"
    with pytest.raises(RosterError, match="must not exceed onset_pfu") as info:
        Roster.load(write(tmp_path, text))
    assert f":{line_of(text, 'end_pfu')}:" in str(info.value)
    text = GOOD_CREW + '\n[estimator.uncertainty.sources]\narea = ["nope"]\n'
    with pytest.raises(RosterError, match="unknown component 'nope'"):
        Roster.load(write(tmp_path, text))
    text = GOOD_CREW + "\n[estimator]\noutput_interval_s = 7.0\n"
    with pytest.raises(RosterError, match="multiple of output_interval_s"):
        Roster.load(write(tmp_path, text))


def test_unreadable_or_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(RosterError, match="cannot read"):
        Roster.load(tmp_path / "missing.toml")
    with pytest.raises(RosterError, match="TOML syntax error"):
        Roster.load(write(tmp_path, "[[crew]\nid = 1"))
    with pytest.raises(RosterError, match="no \\[\\[crew\\]\\] entries"):
        Roster.load(write(tmp_path, "[roster]\nversion = '1'\n"))


LIMITS_BASE = DEFAULT_LIMITS.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        (
            'status = "V"',
            'status = "maybe"',
            r"\[career\.NASA\.status\] must be V, R or D",
        ),
        (
            "age_min = 31",
            "age_min = 29",
            r"\[career\.JAXA\.rows\[1\]\.age_min\] rows must be in increasing",
        ),
        (
            "limit_msv = 600.0",
            "limit_msv = -600.0",
            r"\[career\.NASA\.limit_msv\] must be > 0",
        ),
        (
            'severity = "watch"',
            'severity = "loud"',
            r"\[alerts\.levels\[0\]\.severity\]",
        ),
        ('id = "bfo_1y"', 'id = "bfo_30d"', r"\[short_term\[1\]\.id\] duplicate id"),
    ],
)
def test_limits_errors_name_file_line_and_entry(
    tmp_path: Path, old: str, new: str, match: str
) -> None:
    assert old in LIMITS_BASE
    text = LIMITS_BASE.replace(old, new, 1)
    path = write(tmp_path, text, "limits.toml")
    with pytest.raises(RosterError, match=match) as info:
        DoseLimits.load(path)
    # The changed line (for the duplicate id: its second occurrence).
    assert f"{path}:{line_of(text, new, -1)}:" in str(info.value)


def test_limits_need_source_and_date(tmp_path: Path) -> None:
    text = LIMITS_BASE.replace(
        'source = "NASEM 2021, Space Radiation and Astronaut Health, Table 3-1"\n',
        "",
        1,
    )
    with pytest.raises(RosterError, match=r"\[career\.ESA\.source\] is missing"):
        DoseLimits.load(write(tmp_path, text, "limits.toml"))
