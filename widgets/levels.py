"""Display levels and the console palette.

Owns the mapping from `Level` to colour (read from resources/styles/levels.toml)
and the style sheet (console.qss with its @tokens filled in from the same file).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from PySide6.QtWidgets import QApplication, QWidget

STYLE_DIR = Path(__file__).resolve().parents[1] / "resources" / "styles"
_TOKEN = re.compile(r"@([a-z_]+)")
_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


class Level(StrEnum):
    """What a display element says about its value: limit state or data state.

    NOMINAL..CRITICAL carry the names of the core's severities, so the console
    maps with ``Level[severity.name]``; STALE and NO_DATA are data states. The
    string value is what style-sheet selectors match (``[level="warning"]``).
    Immutable; usable from any thread (colours need no QApplication).
    """

    NO_DATA = "no_data"
    NOMINAL = "nominal"
    WATCH = "watch"
    WARNING = "warning"
    CRITICAL = "critical"
    STALE = "stale"

    @property
    def rank(self) -> int:
        """Return the urgency order for sorting and `worst`.

        STALE ranks above WATCH and below WARNING: an unknown value may hide
        anything, but a known warning needs action first.
        """
        return _RANK[self]

    @property
    def label(self) -> str:
        """Return upper-case text for tags and tables, e.g. ``"NO DATA"``."""
        return self.name.replace("_", " ")

    @property
    def is_abnormal(self) -> bool:
        """Tell whether the level gets colour (all but NOMINAL and NO_DATA)."""
        return self not in (Level.NOMINAL, Level.NO_DATA)

    @property
    def color(self) -> QColor:
        """Return the colour for lamps, bars, limit lines and row marks."""
        return QColor(palette().levels[self][0])

    @property
    def on_color(self) -> QColor:
        """Return the colour for text drawn on top of `color`."""
        return QColor(palette().levels[self][1])

    def brush(self, alpha: int = 255) -> QBrush:
        """Return the fill for this level: solid, or diagonally hatched for STALE."""
        color = self.color
        color.setAlpha(alpha)
        style = (
            Qt.BrushStyle.BDiagPattern
            if self is Level.STALE
            else Qt.BrushStyle.SolidPattern
        )
        return QBrush(color, style)


_RANK = {
    Level.NO_DATA: 0,
    Level.NOMINAL: 1,
    Level.WATCH: 2,
    Level.STALE: 3,
    Level.WARNING: 4,
    Level.CRITICAL: 5,
}


def worst(levels: Iterable[Level]) -> Level:
    """Return the most urgent of `levels` by `Level.rank`; NO_DATA when empty."""
    return max(levels, key=_RANK.__getitem__, default=Level.NO_DATA)


@dataclass(frozen=True, slots=True)
class Palette:
    """Colours of the console theme, as hex strings from levels.toml.

    Immutable; usable from any thread.
    """

    theme: Mapping[str, str]
    series: tuple[str, ...]
    levels: Mapping[Level, tuple[str, str]]

    def color(self, name: str) -> QColor:
        """Return a theme colour by key, e.g. ``"plot_bg"`` or ``"text_dim"``."""
        return QColor(self.theme[name])

    def series_color(self, index: int) -> QColor:
        """Return trace colour number `index`, cycling through the series palette."""
        return QColor(self.series[index % len(self.series)])

    def tokens(self) -> dict[str, str]:
        """Return every @token the style sheet may use, mapped to its colour."""
        out = dict(self.theme)
        for level, (color, on_color) in self.levels.items():
            out[level.value] = color
            out[f"on_{level.value}"] = on_color
        return out


def _checked(value: object, where: str) -> str:
    if not isinstance(value, str) or not QColor(value).isValid():
        raise ValueError(f"{where}: not a colour: {value!r}")
    return value


def load_palette(path: Path) -> Palette:
    """Read and validate a palette file (see resources/styles/levels.toml)."""
    with path.open("rb") as f:
        doc = tomllib.load(f)
    theme = {k: _checked(v, f"theme.{k}") for k, v in doc["theme"].items()}
    series = tuple(
        _checked(v, f"series.colors[{i}]")
        for i, v in enumerate(doc["series"]["colors"])
    )
    if not series:
        raise ValueError(f"{path}: series.colors is empty")
    levels: dict[Level, tuple[str, str]] = {}
    for level in Level:
        entry = doc["level"].get(level.value)
        if entry is None:
            raise ValueError(f"{path}: no colours for level {level.value!r}")
        levels[level] = (
            _checked(entry.get("color"), f"level.{level.value}.color"),
            _checked(entry.get("on_color"), f"level.{level.value}.on_color"),
        )
    return Palette(theme=theme, series=series, levels=levels)


@cache
def palette() -> Palette:
    """Return the console palette, read once from ``STYLE_DIR/levels.toml``."""
    return load_palette(STYLE_DIR / "levels.toml")


def fill_tokens(template: str, tokens: Mapping[str, str]) -> str:
    """Drop comments and fill each ``@name`` in a style sheet; unknown names raise."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in tokens:
            raise KeyError(f"style sheet uses unknown colour token @{name}")
        return tokens[name]

    return _TOKEN.sub(sub, _COMMENT.sub("", template))


@cache
def style_sheet() -> str:
    """Return the console style sheet: console.qss with its @tokens filled in."""
    template = (STYLE_DIR / "console.qss").read_text(encoding="utf-8")
    return fill_tokens(template, palette().tokens())


def style_level(level: Level, *widgets: QWidget) -> None:
    """Set the ``level`` property the style sheet selects on, and re-polish.

    Re-polishing is what makes Qt re-read property selectors; it costs a style
    pass, so callers do it only when the level changes.
    """
    for widget in widgets:
        widget.setProperty("level", level.value)
        style = widget.style()
        style.unpolish(widget)
        style.polish(widget)
        widget.update()


def apply_theme(app: QApplication) -> None:
    """Install the console style sheet and pyqtgraph defaults on `app`.

    Call once on the GUI thread before creating windows.
    """
    import pyqtgraph as pg

    app.setStyleSheet(style_sheet())
    pal = palette()
    pg.setConfigOptions(
        background=pal.theme["plot_bg"],
        foreground=pal.theme["text_dim"],
        antialias=False,
    )
