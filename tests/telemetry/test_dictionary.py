"""The shipped dictionary, and the errors a broken dictionary file gives."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import pytest

from telemetry.core.dictionary import (
    DEFAULT_DICTIONARY,
    DictionaryError,
    TelemetryDictionary,
)
from telemetry.core.severity import Severity

if TYPE_CHECKING:
    from pathlib import Path

# The names every part of the console relies on (resources/telemetry_dictionary.toml).
BRIEF_CHANNELS = {
    "robot": {
        "pos_x", "pos_y", "pos_z", "quat_x", "quat_y", "quat_z", "quat_w",
        "vel_x", "vel_y", "vel_z", "battery_pct", "mode", "nav_status",
        "nav_marker", "ctl_type", "cam_power", "cam_stream", "cam_record",
        "temp_c", "disk_remain_pct", "wifi",
    },
    "eclss": {"p_total", "ppo2", "ppco2", "temp", "rh", "water_recovery", "dewpoint"},
    "rad": {"absorbed_rate", "dose_eq_rate"},
    "crew": {
        "module", "dose_rate", "dose_session", "dose_30d", "dose_1y", "dose_career",
        "career_fraction", "days_to_limit", "dose_uncertainty",
    },
    "orbit": {"lat", "lon", "alt_km", "saa"},
    "spacewx": {"p10", "p100", "s_scale", "spe_active"},
}  # fmt: skip
DERIVED = {
    "eclss": {"dewpoint"},
    "crew": {
        "dose_rate", "dose_session", "dose_30d", "dose_1y", "dose_career",
        "career_fraction", "days_to_limit", "dose_uncertainty",
    },
    "orbit": {"saa"},
    "spacewx": {"s_scale", "spe_active"},
}  # fmt: skip
BRIEF_SOURCES = {
    "ib2-a": "robot", "ib2-b": "robot", "jpm": "eclss",
    "padles-jpm-1": "rad", "padles-jpm-2": "rad", "tepc-uslab": "rad",
    "dostel-col": "rad", "rem-node2": "rad", "rem-sm": "rad", "pd-c2": "rad",
    "c1": "crew", "c2": "crew", "c3": "crew", "c4": "crew",
    "iss": "orbit", "goes": "spacewx",
}  # fmt: skip
MODULES = ["JPM", "ELM", "NODE2", "USLAB", "COL", "NODE1", "NODE3", "SM"]


@pytest.fixture(scope="module")
def shipped() -> TelemetryDictionary:
    return TelemetryDictionary.load()


def test_shipped_dictionary_declares_every_family_source_and_channel(
    shipped: TelemetryDictionary,
) -> None:
    assert shipped.path == DEFAULT_DICTIONARY
    assert shipped.version == "1.0.0"
    assert len(shipped.sha256) == 64
    assert {f: set(ch) for f, ch in shipped.families.items()} == BRIEF_CHANNELS
    assert {s.id: s.family for s in shipped.sources.values()} == BRIEF_SOURCES
    for family, names in BRIEF_CHANNELS.items():
        assert shipped.family_descriptions[family]
        for name in names:
            spec = shipped.families[family][name]
            assert spec.description, f"{family}.{name} has no description"
            assert spec.derived == (name in DERIVED.get(family, set()))


def test_every_source_family_and_module_exists(shipped: TelemetryDictionary) -> None:
    for source in shipped.sources.values():
        assert source.family in shipped.families
        if source.module is not None:
            assert source.module in shipped.modules
    for source in shipped.sources_of("rad"):
        # A dosimeter is either somewhere (area) or on someone (personal).
        assert (source.module is None) != (source.crew is None)
        if source.crew is not None:
            assert source.crew in shipped.sources
    assert shipped.sources["pd-c2"].crew == "c2"
    assert shipped.sources["rem-sm"].module == "SM"


def test_modules_shielding_and_kibo_geometry(shipped: TelemetryDictionary) -> None:
    assert list(shipped.modules) == MODULES
    assert shipped.modules["JPM"].shielding_factor == 1.0
    assert shipped.modules["SM"].shielding_factor == pytest.approx(0.4)
    assert [m.id for m in shipped.modules.values() if m.shelter] == ["SM"]
    for module in shipped.modules.values():
        assert 0.0 < module.shielding_factor <= 1.2
    assert shipped.modules["JPM"].extent == {
        "x": (0.4, 6.9),
        "y": (-1.07, 1.07),
        "z": (-1.07, 1.07),
    }
    assert shipped.dock == (1.15, 0.0, 0.73)
    kinds = [z.kind for z in shipped.zones]
    assert kinds.count("end_bay") == kinds.count("hatch") == 1
    assert kinds.count("keep_out") >= 2
    jpm = shipped.modules["JPM"].extent
    for zone in shipped.zones:
        if zone.kind == "keep_out":
            # Keep-out zones sit inside the free volume, clear of the dock.
            for axis, (lo, hi) in zip("xyz", (zone.x, zone.y, zone.z), strict=True):
                assert jpm[axis][0] <= lo < hi <= jpm[axis][1]
            inside = all(
                lo <= c <= hi
                for c, (lo, hi) in zip(
                    shipped.dock, (zone.x, zone.y, zone.z), strict=True
                )
            )
            assert not inside


def test_crew_module_states_are_the_module_ids(shipped: TelemetryDictionary) -> None:
    spec = shipped.channel("crew", "module")
    assert spec is not None
    # Every module by its id, and EVA (outside the station) beside them.
    states = dict(spec.states)
    assert states.pop("EVA") not in states.values()
    assert states == {m: i for i, m in enumerate(MODULES)}


def test_limits_and_alarm_states_from_the_reference(
    shipped: TelemetryDictionary,
) -> None:
    def limits(key: str) -> tuple[dict[Severity, float], dict[Severity, float]]:
        spec = shipped.channel_for_key(key)
        assert spec is not None, key
        assert spec.limits is not None, key
        return spec.limits.low, spec.limits.high

    low, _ = limits("ib2-a.battery_pct")
    # Integer percent: "warn at <= 20" is a threshold just above 20.
    assert 20 < low[Severity.WARNING] < 21
    assert 5 < low[Severity.CRITICAL] < 6
    _, high = limits("ib2-a.temp_c")
    assert high == {Severity.WARNING: 60.0, Severity.CRITICAL: 70.0}
    temp = shipped.channel_for_key("ib2-a.temp_c")
    assert temp is not None
    assert temp.limits is not None
    assert temp.limits.hysteresis == 10.0  # clears below 50 °C
    _, high = limits("jpm.ppco2")
    assert high == {Severity.WATCH: 2.3, Severity.WARNING: 2.7}  # per sample
    co2 = shipped.channel_for_key("jpm.ppco2")
    assert co2 is not None and co2.mean_limits is not None
    # The ops limits are written for a 24-hour average, and judged on one.
    assert co2.mean_limits.high == {Severity.CRITICAL: 4.0}
    assert (co2.mean_limits.statistic, co2.mean_limits.window_s) == ("mean", 86400.0)
    assert co2.mean_limits.applies_to() == "24 h mean"
    low, high = limits("jpm.ppo2")
    assert low[Severity.CRITICAL] == 146.0
    assert high[Severity.CRITICAL] == 173.0
    _, high = limits("c1.career_fraction")
    assert high == {Severity.WATCH: 0.5, Severity.WARNING: 0.75, Severity.CRITICAL: 0.9}
    _, high = limits("goes.s_scale")
    assert [high[s] for s in (Severity.WATCH, Severity.WARNING, Severity.CRITICAL)] == [
        0.5,
        1.5,
        2.5,
    ]
    nav = shipped.channel("robot", "nav_status")
    mode = shipped.channel("robot", "mode")
    assert nav is not None
    assert mode is not None
    assert nav.alarm_states == {
        "NAV_OFF": Severity.CRITICAL,
        "INERTIAL": Severity.WATCH,
    }
    assert mode.alarm_states["OFF_NOMINAL"] == Severity.WARNING
    assert mode.states["OFF_NOMINAL"] == 99
    assert mode.states["UNKNOWN"] == 255


def test_rates_and_staleness(shipped: TelemetryDictionary) -> None:
    robot = shipped.families["robot"]
    assert all(c.rate_hz == 1.0 and c.stale_after_s == 5.0 for c in robot.values())
    for family in shipped.families.values():
        for spec in family.values():
            # Stale only after more than one missed sample.
            assert spec.stale_after_s > 1.0 / spec.rate_hz
            if spec.display_range is not None and spec.log_scale:
                assert spec.display_range[0] > 0


def test_every_uncertain_value_is_marked_in_a_comment() -> None:
    text = DEFAULT_DICTIONARY.read_text(encoding="utf-8")
    # The reference marks these [U]; the dictionary must say so next to them.
    for value in (
        "warning_low = 718.6",
        "warning_high = 770.3",
        "warning_low = 18.3",
        "warning_high = 26.7",
        "warning_low = 25.0",
        "warning_high = 70.0",
        "warning_low = 4.4",
        "warning_high = 15.6",
    ):
        lines = [ln for ln in text.splitlines() if ln.startswith(value)]
        assert len(lines) == 1, value
        assert "[U]" in lines[0], lines[0]


# --- Broken files ----------------------------------------------------------------

GOOD = """\
[dictionary]
version = "t"

[modules.JPM]
name = "Kibo"

[families.eclss]
description = "cabin"

[families.eclss.channels.ppco2]
unit = "mmHg"

[families.eclss.channels.ppco2.limits]
watch_high = 2.3
warning_high = 2.7
critical_high = 4.0

[sources.jpm]
family = "eclss"
module = "JPM"
"""


def load_text(tmp_path: Path, text: str) -> TelemetryDictionary:
    path = tmp_path / "dictionary.toml"
    path.write_text(text, encoding="utf-8")
    return TelemetryDictionary.load(path)


def line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith(needle))


def test_the_good_fixture_loads(tmp_path: Path) -> None:
    d = load_text(tmp_path, GOOD)
    assert d.channel_keys() == ["jpm.ppco2"]


@pytest.mark.parametrize(
    ("old", "new", "needle", "entry", "problem"),
    [
        (
            'family = "eclss"',
            'family = "ecls"',
            "[sources.jpm]",
            "sources.jpm",
            "family 'ecls' is not declared",
        ),
        (
            'module = "JPM"',
            'module = "KIBO"',
            "[sources.jpm]",
            "sources.jpm",
            "module 'KIBO' is not declared",
        ),
        (
            "warning_high = 2.7",
            "warning_high = 4.5",
            "[families.eclss.channels.ppco2.limits]",
            "families.eclss.channels.ppco2.limits",
            "high thresholds must widen with severity",
        ),
        (
            "watch_high = 2.3",
            "watch_hi = 2.3",
            "watch_hi",
            "families.eclss.channels.ppco2.limits.watch_hi",
            "unknown key",
        ),
        (
            'unit = "mmHg"',
            'unit = "mmHg"\nrate_hz = 0',
            "rate_hz",
            "families.eclss.channels.ppco2.rate_hz",
            "must be > 0",
        ),
        (
            'unit = "mmHg"',
            'unit = "mmHg"\nstates = { LOW = 0 }\nalarm_states = { HIGH = "warning" }',
            "alarm_states",
            "families.eclss.channels.ppco2.alarm_states.HIGH",
            "is not one of the channel's states",
        ),
        (
            'unit = "mmHg"',
            'unit = "mmHg"\nrange = [8, 0]',
            "range",
            "families.eclss.channels.ppco2.range",
            "must be [low, high] numbers",
        ),
    ],
)
def test_bad_entries_name_file_line_and_entry(
    tmp_path: Path, old: str, new: str, needle: str, entry: str, problem: str
) -> None:
    text = GOOD.replace(old, new)
    with pytest.raises(DictionaryError) as info:
        load_text(tmp_path, text)
    message = str(info.value)
    where = f"{tmp_path / 'dictionary.toml'}:{line_of(text, needle)}: [{entry}]"
    assert message.startswith(where), message
    assert problem in message


def test_limit_levels_must_widen_on_the_low_side_too(tmp_path: Path) -> None:
    text = GOOD.replace(
        "watch_high = 2.3", "watch_low = 1.0\nwarning_low = 1.5\nwatch_high = 2.3"
    )
    with pytest.raises(DictionaryError, match="low thresholds must widen"):
        load_text(tmp_path, text)


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    text = GOOD.replace('unit = "mmHg"', "unit = ")
    with pytest.raises(DictionaryError) as info:
        load_text(tmp_path, text)
    message = str(info.value)
    assert message.startswith(str(tmp_path / "dictionary.toml"))
    assert re.search(rf"line {line_of(text, 'unit = ')}\b", message), message


def test_missing_file_is_a_dictionary_error(tmp_path: Path) -> None:
    with pytest.raises(DictionaryError, match="cannot read"):
        TelemetryDictionary.load(tmp_path / "absent.toml")


# --- Issue 14: statistics, valid ranges, source ids ---------------------------


def test_a_mean_limit_and_a_valid_range_are_declared_in_the_file(
    tmp_path: Path,
) -> None:
    text = (
        GOOD.replace('unit = "mmHg"\n', 'unit = "mmHg"\nvalid = [0.0, inf]\n', 1)
        + "\n[families.eclss.channels.ppco2.limits.mean]\nwindow_s = 3600\n"
    )
    text = text.replace("critical_high = 4.0\n", "", 1) + "critical_high = 4.0\n"
    d = load_text(tmp_path, text)
    spec = d.channel("eclss", "ppco2")
    assert spec is not None and spec.valid_range == (0.0, math.inf)
    assert spec.mean_limits is not None
    assert spec.mean_limits.applies_to() == "1 h mean"
    assert spec.mean_limits.high == {Severity.CRITICAL: 4.0}


@pytest.mark.parametrize(
    ("extra", "entry", "problem"),
    [
        (
            "\n[families.eclss.channels.ppco2.limits.mean]\ncritical_high = 4.0\n",
            "families.eclss.channels.ppco2.limits.mean.window_s",
            "a mean needs a window",
        ),
        (
            '\n[sources."jpm.x"]\nfamily = "eclss"\n',
            "sources.jpm.x",
            "without '.'",
        ),
    ],
)
def test_bad_statistics_and_source_ids_name_their_entry(
    tmp_path: Path, extra: str, entry: str, problem: str
) -> None:
    with pytest.raises(DictionaryError, match=problem) as caught:
        load_text(tmp_path, GOOD + extra)
    assert f"[{entry}]" in str(caught.value)
