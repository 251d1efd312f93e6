"""The telemetry dictionary: families, sources, channels, limits, module geometry.

Loaded once from TOML (``resources/telemetry_dictionary.toml``) and then
read-only, so every thread may share it. Errors name the file, the line and
the entry.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from telemetry.core.severity import Severity

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DICTIONARY = REPO_ROOT / "resources" / "telemetry_dictionary.toml"


#: Longest rolling window a limit may average over (a week of sample time).
MAX_LIMIT_WINDOW_S = 7 * 86400.0


class DictionaryError(ValueError):
    """A dictionary file that cannot be used; the message names file, line, entry."""


#: Longest number a channel's format may print (see ``ChannelSpec.format_value``).
MAX_VALUE_CHARS = 12


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """Low/high thresholds per severity, with persistence and hysteresis.

    A value violates a level when it is below its ``low`` or above its
    ``high``; ``persistence`` consecutive violations raise it, and it clears
    only once the value is back inside by ``hysteresis`` (in channel units).

    ``statistic`` says what the thresholds apply to: ``"value"`` (each
    sample) or ``"mean"``, the rolling mean of the samples over the last
    ``window_s`` seconds of sample time (a limit written for a 24-hour
    average, such as the ppCO2 ops limits). A channel's ``limits`` table
    judges values; its ``limits.mean`` table, if any, the rolling mean.
    """

    low: dict[Severity, float] = field(default_factory=dict)
    high: dict[Severity, float] = field(default_factory=dict)
    persistence: int = 1
    hysteresis: float = 0.0
    statistic: str = "value"
    window_s: float = 0.0

    def applies_to(self) -> str:
        """Say in words what the thresholds judge: ``value`` or ``24 h mean``."""
        if self.statistic != "mean":
            return "value"
        return f"{window_text(self.window_s)} mean"

    def bands(self) -> list[tuple[Severity, float | None, float | None]]:
        """Return (severity, low, high) per configured level, mildest first."""
        levels = sorted(set(self.low) | set(self.high))
        return [(s, self.low.get(s), self.high.get(s)) for s in levels]


def window_text(seconds: float) -> str:
    """``24 h``, ``30 min``, ``45 s``: a window length as an operator reads it."""
    if seconds >= 3600.0 and seconds % 3600.0 == 0:
        return f"{seconds / 3600.0:g} h"
    if seconds >= 60.0 and seconds % 60.0 == 0:
        return f"{seconds / 60.0:g} min"
    return f"{seconds:g} s"


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One channel of a family: unit, expected rate, display hints, limits."""

    family: str
    name: str
    unit: str = ""
    description: str = ""
    rate_hz: float = 1.0
    stale_after_s: float = 5.0
    # Longest a consumer that integrates by sample time (the dose estimator)
    # may hold a sample over its learned cadence; never below stale_after_s.
    hold_max_s: float = 5.0
    display_range: tuple[float, float] | None = None
    fmt: str = "{:.2f}"
    states: dict[str, int] = field(default_factory=dict)
    alarm_states: dict[str, Severity] = field(default_factory=dict)
    limits: LimitSpec | None = None
    derived: bool = False
    log_scale: bool = False
    # A change of value is also an event (the robot's last executed command).
    event_on_change: bool = False
    #: Physically possible values ``[low, high]``; others are refused on
    #: arrival as bad values (a negative dose rate, a flux below zero).
    valid_range: tuple[float, float] | None = None
    #: Limits on the rolling mean (``[...limits.mean]``), judged beside ``limits``.
    mean_limits: LimitSpec | None = None

    @property
    def is_enum(self) -> bool:
        return bool(self.states)

    def state_name(self, code: float) -> str:
        """Return the enum name for a numeric code (or the number as text)."""
        if math.isnan(code):
            return "—"
        for name, value in self.states.items():
            if value == code:
                return name
        return f"{code:g}"

    def format_value(self, value: float) -> str:
        """Return ``value`` as the channel's format writes it, in bounded width.

        A corrupt but finite value (1e20 %, -9.99e99 °C) printed by a
        ``{:.1f}`` format has hundreds of digits: it widened the console's
        window past the screen. Past ``MAX_VALUE_CHARS`` it reads in
        exponent form (``1e+20``).
        """
        if math.isnan(value):
            return "—"
        if self.states:
            return self.state_name(value)
        text = self.fmt.format(value)
        return text if len(text) <= MAX_VALUE_CHARS else f"{value:.3g}"


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A publisher: its family, and where it is (module) or whom it is on (crew)."""

    id: str
    family: str
    description: str = ""
    module: str | None = None
    crew: str | None = None


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    """A pressurized module: name, shielding rank, and (for Kibo) map geometry."""

    id: str
    name: str
    shielding_factor: float = 1.0
    shelter: bool = False
    extent: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Zone:
    """A named box in the JPM frame (keep-out zone, end bay, hatch)."""

    name: str
    kind: str
    x: tuple[float, float]
    y: tuple[float, float]
    z: tuple[float, float]


@dataclass(frozen=True)
class TelemetryDictionary:
    """Families, sources, channels and geometry from one versioned TOML file."""

    path: Path
    version: str
    sha256: str
    families: dict[str, dict[str, ChannelSpec]]
    family_descriptions: dict[str, str]
    sources: dict[str, SourceSpec]
    modules: dict[str, ModuleSpec]
    zones: list[Zone]
    dock: tuple[float, float, float]

    @classmethod
    def load(cls, path: Path | str = DEFAULT_DICTIONARY) -> TelemetryDictionary:
        path = Path(path)
        try:
            raw_bytes = path.read_bytes()
        except OSError as exc:
            raise DictionaryError(f"{path}: cannot read: {exc.strerror}") from None
        text = raw_bytes.decode("utf-8", errors="replace")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise DictionaryError(f"{path}: TOML syntax error: {exc}") from None
        digest = hashlib.sha256(raw_bytes)
        meta = data.get("dictionary", {})
        if isinstance(meta, dict) and "extends" in meta:
            # A profile (e.g. the one-robot flight profile) is its base plus
            # its own tables, minus the base's sources it names: one copy of
            # every shared channel, limit and source.
            base_path = path.parent / str(meta["extends"])
            if base_path.resolve() == path.resolve():
                raise DictionaryError(f"{path}: [dictionary] extends itself")
            base = cls.load(base_path)
            data = _extend(tomllib.loads(base_path.read_text("utf-8")), data)
            digest.update(base.sha256.encode())
        return _Parser(path, text).parse(data, digest.hexdigest())

    def channel(self, family: str, name: str) -> ChannelSpec | None:
        return self.families.get(family, {}).get(name)

    def channel_for_key(self, key: str) -> ChannelSpec | None:
        """Look up ``"<source>.<channel>"`` through the source's family."""
        source, _, name = key.partition(".")
        spec = self.sources.get(source)
        return self.channel(spec.family, name) if spec else None

    def sources_of(self, family: str) -> list[SourceSpec]:
        return [s for s in self.sources.values() if s.family == family]

    def channel_keys(self) -> list[str]:
        """Every ``source.channel`` the dictionary declares, sources in file order."""
        return [
            f"{s.id}.{name}"
            for s in self.sources.values()
            for name in self.families.get(s.family, {})
        ]


_MAX_STATE_CODE: Final = 2**53  # float64 holds every integer up to here
_SEVERITY_NAMES = {s.name.lower(): s for s in Severity if s > Severity.NOMINAL}


def _extend(base: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """Merge a profile's tables over its base's; drop the sources it removes."""

    def merge(low: dict[str, Any], high: dict[str, Any]) -> dict[str, Any]:
        out = dict(low)
        for key, value in high.items():
            below = out.get(key)
            both = isinstance(below, dict) and isinstance(value, dict)
            out[key] = merge(below, value) if both else value  # type: ignore[arg-type]
        return out

    merged = merge(base, profile)
    removed = profile.get("dictionary", {}).get("remove_sources", [])
    sources = dict(merged.get("sources", {}))
    for sid in removed:
        sources.pop(sid, None)
    merged["sources"] = sources
    return merged


class _Parser:
    """Turns the TOML tree into specs; each error names file, line and entry."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    def fail(self, entry: str, problem: str) -> DictionaryError:
        line = self._line_of(entry)
        where = f"{self.path}:{line}" if line else str(self.path)
        return DictionaryError(f"{where}: [{entry}] {problem}")

    def _line_of(self, entry: str) -> int | None:
        """Best-effort line of a dotted entry: its table header or its key."""
        parts = entry.split(".")
        for n in range(len(parts), 0, -1):
            header = re.compile(
                r"^\s*\[+\s*" + re.escape(".".join(parts[:n])) + r"\s*[\].]"
            )
            for i, line in enumerate(self.lines, 1):
                if header.match(line):
                    if n == len(parts):
                        return i
                    key = re.compile(r"^\s*" + re.escape(parts[n]) + r"\s*[=.]")
                    for j in range(i, len(self.lines)):
                        if key.match(self.lines[j]):
                            return j + 1
                        if self.lines[j].lstrip().startswith("["):
                            break
                    return i
        return None

    def table(self, data: Any, entry: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(entry, f"must be a table, got {type(data).__name__}")
        return data

    def number(
        self, data: dict[str, Any], key: str, entry: str, default: float
    ) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"{entry}.{key}", f"must be a number, got {value!r}")
        if not math.isfinite(value):
            raise self.fail(f"{entry}.{key}", f"must be finite, got {value!r}")
        return float(value)

    def positive(
        self, data: dict[str, Any], key: str, entry: str, default: float
    ) -> float:
        value = self.number(data, key, entry, default)
        if value <= 0:
            raise self.fail(f"{entry}.{key}", f"must be > 0, got {value}")
        return value

    def pair(self, value: Any, entry: str) -> tuple[float, float]:
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in value
            )
            or any(v != v for v in value)
            or value[0] > value[1]
        ):
            raise self.fail(entry, f"must be [low, high] numbers, got {value!r}")
        return float(value[0]), float(value[1])

    def parse(self, data: dict[str, Any], sha256: str) -> TelemetryDictionary:
        meta = self.table(data.get("dictionary", {}), "dictionary")
        version = str(meta.get("version", "0"))
        families: dict[str, dict[str, ChannelSpec]] = {}
        descriptions: dict[str, str] = {}
        raw_families = self.table(data.get("families"), "families")
        for fam, fam_data in raw_families.items():
            entry = f"families.{fam}"
            fam_table = self.table(fam_data, entry)
            descriptions[fam] = str(fam_table.get("description", ""))
            default_stale = self.number(fam_table, "stale_after_s", entry, 0.0)
            if default_stale < 0:
                raise self.fail(
                    f"{entry}.stale_after_s", f"must be > 0, got {default_stale}"
                )
            channels = self.table(fam_table.get("channels", {}), f"{entry}.channels")
            families[fam] = {
                name: self.channel(fam, name, ch, default_stale)
                for name, ch in channels.items()
            }
        modules = {
            mid: self.module(mid, m)
            for mid, m in self.table(data.get("modules", {}), "modules").items()
        }
        sources: dict[str, SourceSpec] = {}
        for sid, s in self.table(data.get("sources", {}), "sources").items():
            entry = f"sources.{sid}"
            if "." in sid or not sid:
                # Keys are "<source>.<channel>", split at the first dot.
                raise self.fail(entry, "a source id must be non-empty, without '.'")
            s = self.table(s, entry)
            family = s.get("family")
            if family not in families:
                raise self.fail(entry, f"family {family!r} is not declared")
            module = s.get("module")
            if module is not None and module not in modules:
                raise self.fail(entry, f"module {module!r} is not declared")
            sources[sid] = SourceSpec(
                sid, family, str(s.get("description", "")), module, s.get("crew")
            )
        geometry = self.table(data.get("geometry", {}), "geometry")
        zones = [
            Zone(
                str(z.get("name", f"zone {i}")),
                str(z.get("kind", "keep_out")),
                self.pair(z.get("x"), f"geometry.zones[{i}].x"),
                self.pair(z.get("y"), f"geometry.zones[{i}].y"),
                self.pair(z.get("z"), f"geometry.zones[{i}].z"),
            )
            for i, z in enumerate(geometry.get("zones", []))
        ]
        dock_raw = geometry.get("dock", [1.15, 0.0, 0.73])
        if not isinstance(dock_raw, list) or len(dock_raw) != 3:
            raise self.fail("geometry.dock", f"must be [x, y, z], got {dock_raw!r}")
        dock = (float(dock_raw[0]), float(dock_raw[1]), float(dock_raw[2]))
        return TelemetryDictionary(
            self.path,
            version,
            sha256,
            families,
            descriptions,
            sources,
            modules,
            zones,
            dock,
        )

    def module(self, mid: str, data: Any) -> ModuleSpec:
        entry = f"modules.{mid}"
        m = self.table(data, entry)
        extent = {
            axis: self.pair(m[axis], f"{entry}.{axis}") for axis in "xyz" if axis in m
        }
        return ModuleSpec(
            mid,
            str(m.get("name", mid)),
            self.positive(m, "shielding_factor", entry, 1.0),
            bool(m.get("shelter", False)),
            extent,
        )

    def channel(
        self, family: str, name: str, data: Any, default_stale: float
    ) -> ChannelSpec:
        entry = f"families.{family}.channels.{name}"
        ch = self.table(data, entry)
        rate = self.number(ch, "rate_hz", entry, 1.0)
        if rate <= 0:
            raise self.fail(f"{entry}.rate_hz", f"must be > 0, got {rate}")
        # Yamcs marks a parameter expired after ~1.9 periods; we allow a bit
        # more so one late message does not flicker the display.
        stale = self.positive(ch, "stale_after_s", entry, default_stale or 2.5 / rate)
        hold = self.number(ch, "hold_max_s", entry, stale)
        if hold < stale:
            raise self.fail(
                f"{entry}.hold_max_s", f"must be >= stale_after_s ({stale}), got {hold}"
            )
        states_raw = self.table(ch.get("states", {}), f"{entry}.states")
        states: dict[str, int] = {}
        for state, code in states_raw.items():
            if isinstance(code, bool) or not isinstance(code, int):
                raise self.fail(
                    f"{entry}.states.{state}", f"code must be an integer, got {code!r}"
                )
            if abs(code) > _MAX_STATE_CODE:
                # Samples are float64: a larger code would share its value
                # with its neighbours and show another state's name.
                raise self.fail(
                    f"{entry}.states.{state}",
                    f"code must be within ±2^53, got {code}",
                )
            states[state] = code
        alarm_states: dict[str, Severity] = {}
        for state, sev in self.table(
            ch.get("alarm_states", {}), f"{entry}.alarm_states"
        ).items():
            if state not in states:
                raise self.fail(
                    f"{entry}.alarm_states.{state}",
                    "is not one of the channel's states",
                )
            alarm_states[state] = self.severity(sev, f"{entry}.alarm_states.{state}")
        display = ch.get("range")
        fmt = str(ch.get("format", "{:.2f}"))
        try:
            fmt.format(1.0)
        except (ValueError, IndexError, KeyError):
            raise self.fail(
                f"{entry}.format", f"is not a format like '{{:.2f}}': {fmt!r}"
            ) from None
        return ChannelSpec(
            family=family,
            name=name,
            unit=str(ch.get("unit", "")),
            description=str(ch.get("description", "")),
            rate_hz=rate,
            stale_after_s=stale,
            hold_max_s=hold,
            display_range=self.pair(display, f"{entry}.range")
            if display is not None
            else None,
            fmt=fmt,
            states=states,
            alarm_states=alarm_states,
            limits=self.limits(ch["limits"], f"{entry}.limits")
            if "limits" in ch
            else None,
            mean_limits=self.limits(
                ch["limits"]["mean"], f"{entry}.limits.mean", statistic="mean"
            )
            if isinstance(ch.get("limits"), dict) and "mean" in ch["limits"]
            else None,
            derived=bool(ch.get("derived", False)),
            log_scale=bool(ch.get("log_scale", False)),
            event_on_change=bool(ch.get("event_on_change", False)),
            valid_range=self.pair(ch["valid"], f"{entry}.valid")
            if "valid" in ch
            else None,
        )

    def severity(self, value: Any, entry: str) -> Severity:
        if not isinstance(value, str) or value.lower() not in _SEVERITY_NAMES:
            raise self.fail(
                entry, f"must be one of {sorted(_SEVERITY_NAMES)}, got {value!r}"
            )
        return _SEVERITY_NAMES[value.lower()]

    def limits(self, data: Any, entry: str, statistic: str = "value") -> LimitSpec:
        lim = self.table(data, entry)
        low: dict[Severity, float] = {}
        high: dict[Severity, float] = {}
        known = {"persistence", "hysteresis"}
        known |= {"window_s"} if statistic == "mean" else {"mean"}
        for key in lim:
            if key in known:
                continue
            sev_name, _, side = key.rpartition("_")
            if sev_name not in _SEVERITY_NAMES or side not in ("low", "high"):
                raise self.fail(
                    f"{entry}.{key}",
                    "unknown key; use watch_low, warning_high, critical_low, ..., "
                    "persistence, hysteresis, and a [mean] table with window_s",
                )
            target = low if side == "low" else high
            target[_SEVERITY_NAMES[sev_name]] = self.number(lim, key, entry, 0.0)
        # Worse levels must sit further out than milder ones.
        for side, values, outward in (("low", low, -1), ("high", high, 1)):
            ordered = [values[s] for s in sorted(values)]
            if any(outward * (b - a) < 0 for a, b in itertools.pairwise(ordered)):
                raise self.fail(
                    entry, f"{side} thresholds must widen with severity: {values}"
                )
        persistence = lim.get("persistence", 1)
        if (
            isinstance(persistence, bool)
            or not isinstance(persistence, int)
            or persistence < 1
        ):
            raise self.fail(
                f"{entry}.persistence", f"must be an integer >= 1, got {persistence!r}"
            )
        hysteresis = self.number(lim, "hysteresis", entry, 0.0)
        if hysteresis < 0:
            raise self.fail(f"{entry}.hysteresis", f"must be >= 0, got {hysteresis}")
        window = self.number(lim, "window_s", entry, 0.0)
        if statistic == "mean" and not 0 < window <= MAX_LIMIT_WINDOW_S:
            raise self.fail(
                f"{entry}.window_s",
                f"a mean needs a window in (0, {MAX_LIMIT_WINDOW_S:g}] s, "
                f"got {window:g}",
            )
        return LimitSpec(low, high, persistence, hysteresis, statistic, window)
