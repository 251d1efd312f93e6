from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from widgets.levels import (
    STYLE_DIR,
    Level,
    fill_tokens,
    load_palette,
    palette,
    style_sheet,
    worst,
)


def test_every_level_has_distinct_valid_colours():
    colors = {level: level.color for level in Level}
    assert all(c.isValid() for c in colors.values())
    assert len({c.name() for c in colors.values()}) == len(Level)
    assert all(level.on_color.isValid() for level in Level)


def test_limit_levels_carry_the_core_severity_names():
    # The console maps a telemetry Severity with Level[severity.name].
    for name in ("NOMINAL", "WATCH", "WARNING", "CRITICAL"):
        assert Level[name].name == name


def test_abnormal_states_are_coloured_and_ranked():
    assert not Level.NOMINAL.is_abnormal
    assert not Level.NO_DATA.is_abnormal
    assert all(
        lvl.is_abnormal
        for lvl in (Level.WATCH, Level.WARNING, Level.CRITICAL, Level.STALE)
    )
    order = sorted(Level, key=lambda lvl: lvl.rank)
    assert order == [
        Level.NO_DATA,
        Level.NOMINAL,
        Level.WATCH,
        Level.STALE,
        Level.WARNING,
        Level.CRITICAL,
    ]
    assert worst([Level.WATCH, Level.CRITICAL, Level.STALE]) is Level.CRITICAL
    assert worst([]) is Level.NO_DATA


def test_stale_brush_is_hatched():
    assert Level.STALE.brush().style() == Qt.BrushStyle.BDiagPattern
    assert Level.WARNING.brush(40).color().alpha() == 40


def test_style_sheet_fills_every_token_from_the_palette():
    qss = style_sheet()
    assert "@" not in qss
    assert Level.CRITICAL.color.name() in qss.lower()
    assert palette().theme["window"] in qss


def test_qss_has_no_literal_colours():
    # Colours live in levels.toml only; the .qss uses @tokens.
    text = (STYLE_DIR / "console.qss").read_text(encoding="utf-8")
    assert not re.search(r"#[0-9a-fA-F]{3,8}\b", text)


def test_unknown_token_is_an_error():
    with pytest.raises(KeyError, match="@nope"):
        fill_tokens("QWidget { color: @nope; }", {"text": "#fff"})
    assert fill_tokens("/* @ignored */ a { color: @text; }", {"text": "#fff"}) == (
        " a { color: #fff; }"
    )


def test_bad_palette_file_is_rejected(tmp_path):
    good = (STYLE_DIR / "levels.toml").read_text(encoding="utf-8")
    bad = tmp_path / "levels.toml"
    bad.write_text(good.replace('color = "#e5484d"', 'color = "reddish"'))
    with pytest.raises(ValueError, match=r"level\.critical\.color"):
        load_palette(bad)
    missing = tmp_path / "missing.toml"
    missing.write_text(good.replace("[level.stale]", "[level.unused]"))
    with pytest.raises(ValueError, match="stale"):
        load_palette(missing)


def test_series_colours_cycle_and_avoid_level_colours():
    pal = palette()
    n = len(pal.series)
    assert pal.series_color(0) == pal.series_color(n)
    level_names = {lvl.color.name() for lvl in Level}
    assert not {QColor(c).name() for c in pal.series} & level_names
