"""Crew roster, dose limits and dose-estimator settings, loaded from TOML.

``resources/crew_roster.toml`` and ``resources/dose_limits.toml`` become frozen
dataclasses; every error names the file, the line and the entry.

Over 800 lines as one concept, the radiation configuration: the two files
share the TOML reader that points errors at lines, and a roster is only valid
against the limits (each member's agency, sex and age must resolve).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from telemetry.core.severity import Severity

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROSTER = REPO_ROOT / "resources" / "crew_roster.toml"
DEFAULT_LIMITS = REPO_ROOT / "resources" / "dose_limits.toml"

Sex = Literal["F", "M"]
Status = Literal["V", "R", "D"]
_STATUSES: tuple[Status, ...] = ("V", "R", "D")
_SEVERITIES = {s.name.lower(): s for s in Severity if s > Severity.NOMINAL}
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class RosterError(ValueError):
    """A roster or limits file that cannot be used; names file, line and entry."""


# ------------------------------------------------------------------ limits


@dataclass(frozen=True, slots=True)
class CareerLimit:
    """The career limit that applies to one person, with its provenance."""

    agency: str
    limit_msv: float
    source: str
    date: str
    status: Status
    note: str = ""


@dataclass(frozen=True, slots=True)
class AgeRow:
    """One row of an age/sex career table (ages in whole years at first flight).

    ``age_min``..``age_max`` inclusive, as published ("27-30"); a row
    published as "> 46" has ``age_min`` 47 and ``above`` true (46 is not in
    it). An age between two rows takes the row below it (see
    :meth:`AgencyCareer.lookup`).
    """

    age_min: int
    age_max: int | None
    male_msv: float
    male_status: Status
    female_msv: float
    female_status: Status
    source: str
    date: str
    note: str = ""
    above: bool = False

    def covers(self, age: int) -> bool:
        return age >= self.age_min and (self.age_max is None or age <= self.age_max)

    @property
    def band(self) -> str:
        """The band as published: '27-30', '> 46'."""
        if self.above:
            return f"> {self.age_min - 1}"
        if self.age_max is None:
            return f">= {self.age_min}"
        return f"{self.age_min}-{self.age_max}"


@dataclass(frozen=True, slots=True)
class AgencyCareer:
    """An agency's career rule: one flat limit, or rows by age and sex."""

    agency: str
    quantity: str
    source: str
    date: str
    limit_msv: float | None = None
    status: Status = "R"
    note: str = ""
    rows: tuple[AgeRow, ...] = ()

    def lookup(self, sex: Sex, age: int) -> CareerLimit:
        """Return the limit for ``sex`` and ``age`` at first flight.

        Boundary rule: a band covers its published ends ("27-30" holds 27
        and 30; "> 46" holds 47 and older, not 46). An age that falls between
        two published bands (46, between "41-45" and "> 46") takes the band
        below it, whose limit is the lower, more protective one; the returned
        limit's note says so.

        Raises
        ------
        KeyError
            When the age is below the first row or above a bounded last row; an
            age outside the table is not extrapolated, because a limit is a
            safety datum.
        """
        if self.limit_msv is not None:
            return CareerLimit(
                self.agency,
                self.limit_msv,
                self.source,
                self.date,
                self.status,
                self.note,
            )
        for row in self.rows:
            if row.covers(age):
                value, status = (
                    (row.female_msv, row.female_status)
                    if sex == "F"
                    else (row.male_msv, row.male_status)
                )
                return CareerLimit(
                    self.agency, value, row.source, row.date, status, row.note
                )
        below = [r for r in self.rows if r.age_max is not None and r.age_max < age]
        above = [r for r in self.rows if r.age_min > age]
        if below and above:
            row = below[-1]
            value, status = (
                (row.female_msv, row.female_status)
                if sex == "F"
                else (row.male_msv, row.male_status)
            )
            note = (
                f"age {age} falls between the published bands {row.band} and "
                f"{above[0].band}: the lower band ({row.band}) applies"
            )
            return CareerLimit(self.agency, value, row.source, row.date, status, note)
        spans = ", ".join(r.band for r in self.rows)
        raise KeyError(
            f"{self.agency} has no career limit for age {age} (rows: {spans})"
        )


@dataclass(frozen=True, slots=True)
class ShortTermLimit:
    """A deterministic-effect limit over a rolling window (e.g. BFO 30 d)."""

    id: str
    organ: str
    window_days: float
    limit: float
    unit: str
    evaluate: bool
    source: str
    date: str
    status: Status


@dataclass(frozen=True, slots=True)
class AlertLevel:
    """An administrative alert at a fraction of a limit (50/75/90/100 %)."""

    fraction: float
    name: str
    severity: Severity


@dataclass(frozen=True, slots=True)
class DoseConversion:
    """How area dose equivalent H at a crew member becomes each limit's quantity.

    - effective dose E = ``effective_per_h`` × H (career limits, mSv);
    - organ absorbed dose D_T = H / ``quality_factor`` × ``organ_depth[T]``
      (mGy; the CNS limit);
    - RBE-weighted organ dose = D_T × ``rbe`` (mGy-Eq; BFO, lens, skin,
      circulatory limits).

    The defaults are the identity (every quantity taken as H, the old
    conservative stand-in); ``dose_limits.toml`` ``[conversion]`` gives the
    published values with their sources (docs/dosimetry.md).
    """

    effective_per_h: float = 1.0
    quality_factor: float = 1.0
    rbe: float = 1.0
    organ_depth: dict[str, float] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def per_h(self, unit: str, organ: str | None = None) -> float:
        """Return the factor from H (mSv) to a limit's ``unit`` (per mSv of H)."""
        if unit.endswith("Sv"):
            return self.effective_per_h
        depth = self.organ_depth.get(organ or "", 1.0)
        absorbed = depth / self.quality_factor
        return absorbed * self.rbe if unit.endswith("Gy-Eq") else absorbed

    @staticmethod
    def quantity(unit: str, organ: str | None = None) -> str:
        """Name of the quantity a limit in ``unit`` is compared in."""
        if unit.endswith("Sv"):
            return "effective dose E"
        if unit.endswith("Gy-Eq"):
            return f"RBE-weighted {organ or 'organ'} dose"
        return f"{organ or 'organ'} absorbed dose"


@dataclass(frozen=True)
class DoseLimits:
    """Career, short-term and alert levels from ``dose_limits.toml``.

    Read-only once loaded, so any thread may share it.
    """

    path: Path
    version: str
    career: dict[str, AgencyCareer]
    short_term: tuple[ShortTermLimit, ...]
    alert_levels: tuple[AlertLevel, ...]
    alert_source: str = ""
    conversion: DoseConversion = field(default_factory=DoseConversion)

    @classmethod
    def load(cls, path: Path | str = DEFAULT_LIMITS) -> DoseLimits:
        path = Path(path)
        doc = _Document.read(path)
        return _parse_limits(doc)

    def agency(self, name: str) -> AgencyCareer:
        """Return the agency's career rule (case-insensitive name)."""
        for key, rule in self.career.items():
            if key.casefold() == name.casefold():
                return rule
        raise KeyError(f"unknown agency {name!r}; known: {sorted(self.career)}")

    def career_limit(self, agency: str, sex: Sex, age: int) -> CareerLimit:
        return self.agency(agency).lookup(sex, age)

    def evaluated_short_term(self) -> tuple[ShortTermLimit, ...]:
        return tuple(s for s in self.short_term if s.evaluate)


# ------------------------------------------------------------------ roster


@dataclass(frozen=True, slots=True)
class CrewMember:
    """One crew member: identity, the inputs to their career limit, prior dose."""

    id: str
    name: str
    agency: str
    sex: Sex
    age_at_first_flight: int
    prior_career_msv: float
    mission_start: dt.date
    mission_end: dt.date | None = None
    personal_dosimeter: str | None = None


@dataclass(frozen=True, slots=True)
class SpeConfig:
    """Solar particle event thresholds (pfu) and run lengths (samples)."""

    onset_pfu: float = 10.0
    onset_points: int = 3
    end_pfu: float = 8.5
    end_points: int = 3
    energetic_pfu: float = 1.0
    energetic_points: int = 3
    energetic_end_pfu: float = 0.85


@dataclass(frozen=True, slots=True)
class ShelterConfig:
    """When to recommend sheltering, where, and for how long a dose estimate."""

    module: str = "SM"
    p10_pfu: float = 100.0
    p100_pfu: float = 1.0
    trigger_points: int = 3
    clear_fraction: float = 0.85
    clear_points: int = 3
    horizon_h: float = 12.0


@dataclass(frozen=True, slots=True)
class UncertaintyConfig:
    """Relative 1-sigma components and which apply to each estimate source."""

    components: dict[str, float] = field(
        default_factory=lambda: {
            "shielding": 0.10,
            "quality_convention": 0.15,
            "si_to_water": 0.04,
            "location_timeline": 0.042,
            "personal_calibration": 0.10,
            "model_scaling": 0.30,
            "stale_data": 0.50,
        }
    )
    sources: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "personal": ("personal_calibration", "quality_convention"),
            "area": (
                "shielding",
                "quality_convention",
                "si_to_water",
                "location_timeline",
            ),
            "model": (
                "shielding",
                "quality_convention",
                "si_to_water",
                "location_timeline",
                "model_scaling",
            ),
            "stale": ("stale_data",),
        }
    )

    def relative(self, source: str, stale: bool) -> float:
        """Return the combined relative 1-sigma, ``sqrt(sum(sigma_i**2))``."""
        names = list(self.sources.get(source, ()))
        if stale:
            names += self.sources.get("stale", ())
        return math.sqrt(sum(self.components[n] ** 2 for n in names))


@dataclass(frozen=True, slots=True)
class EstimatorConfig:
    """Dose-estimator settings from the roster's ``[estimator]`` table."""

    body_shielding_factor: float = 1.0
    model_rate_usv_h: float = 25.75
    lateness_s: float = 300.0
    output_interval_s: float = 10.0
    rolling_bin_s: float = 3600.0
    projection_window_days: float = 7.0
    # Late data up to this far behind the integration time revises the dose
    # (a dump after loss of signal); older samples are counted late, dropped.
    revise_window_s: float = 21600.0
    # Projections need at least this many days of ledger and session dose.
    projection_min_days: float = 1.0
    # EVA dose rate / shielding-normalised (Kibo PM equivalent) interior rate:
    # Kibo Exposed Facility vs PM 231 / 82 mGy/yr = 2.8 (Tanpopo, Kodaira et
    # al. 2021, Astrobiology 21:1473; radiation.md 2.5). A suit adds little.
    eva_factor: float = 2.8
    spe: SpeConfig = field(default_factory=SpeConfig)
    shelter: ShelterConfig = field(default_factory=ShelterConfig)
    uncertainty: UncertaintyConfig = field(default_factory=UncertaintyConfig)


@dataclass(frozen=True)
class Roster:
    """The crew and estimator settings from ``crew_roster.toml``.

    Read-only once loaded, so any thread may share it.
    """

    path: Path
    version: str
    crew: tuple[CrewMember, ...]
    estimator: EstimatorConfig

    @classmethod
    def load(
        cls, path: Path | str = DEFAULT_ROSTER, limits: DoseLimits | None = None
    ) -> Roster:
        """Load and validate the roster.

        With ``limits``, every crew member's agency, sex and age must resolve to
        a career limit, so a bad entry fails at start-up rather than mid-shift.
        """
        doc = _Document.read(Path(path))
        return _parse_roster(doc, limits)

    def member(self, crew_id: str) -> CrewMember:
        for member in self.crew:
            if member.id == crew_id:
                return member
        raise KeyError(f"no crew member {crew_id!r} in {self.path}")


def load_limits(path: Path | str = DEFAULT_LIMITS) -> DoseLimits:
    """Load ``dose_limits.toml`` (see :class:`DoseLimits`)."""
    return DoseLimits.load(path)


def load_roster(
    path: Path | str = DEFAULT_ROSTER, limits: DoseLimits | None = None
) -> Roster:
    """Load ``crew_roster.toml`` (see :meth:`Roster.load`)."""
    return Roster.load(path, limits)


# ----------------------------------------------------------------- parsing

Entry = tuple[str | int, ...]


class _Document:
    """A parsed TOML file plus its text, to point errors at lines (loading thread)."""

    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        self.path = path
        self.lines = text.splitlines()
        self.data = data

    @classmethod
    def read(cls, path: Path) -> _Document:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RosterError(f"{path}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise RosterError(f"{path}: not UTF-8: {exc.reason}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RosterError(f"{path}: TOML syntax error: {exc}") from None
        return cls(path, text, data)

    # -- errors

    def fail(self, entry: Entry, problem: str, name: str | None = None) -> RosterError:
        line = self._line_of(entry)
        where = f"{self.path}:{line}" if line else str(self.path)
        label = _entry_label(entry)
        who = f" ({name})" if name else ""
        return RosterError(f"{where}: [{label}]{who} {problem}")

    def _line_of(self, entry: Entry) -> int | None:
        """Return the line of the entry's deepest table header, or of its key."""
        header: list[str] = []
        line: int | None = None
        for i, part in enumerate(entry):
            if isinstance(part, int):
                continue
            nxt = entry[i + 1] if i + 1 < len(entry) else None
            header.append(part)
            if isinstance(nxt, int):
                found = self._header_line(header, nxt, array=True)
            else:
                found = self._header_line(header, 0, array=False)
            if found is not None:
                line = found
            elif nxt is None:
                key_line = self._key_line(part, line)
                return key_line if key_line is not None else line
        return line

    def _header_line(self, names: list[str], index: int, *, array: bool) -> int | None:
        dotted = r"\s*\.\s*".join(re.escape(n) for n in names)
        if array:
            pattern = re.compile(r"^\s*\[\[\s*" + dotted + r"\s*\]\]")
        else:
            pattern = re.compile(r"^\s*\[\s*" + dotted + r"\s*\]")
        seen = 0
        for n, text in enumerate(self.lines, 1):
            if pattern.match(text):
                if seen == index:
                    return n
                seen += 1
        return None

    def _key_line(self, key: str, after: int | None) -> int | None:
        pattern = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
        start = after or 0
        for n in range(start, len(self.lines)):
            text = self.lines[n]
            if n > start and text.lstrip().startswith("["):
                break
            if pattern.match(text):
                return n + 1
        return None

    # -- typed getters

    def table(self, value: Any, entry: Entry) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(entry, f"must be a table, got {type(value).__name__}")
        return value

    def tables(self, value: Any, entry: Entry) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(entry, "must be an array of tables ([[...]])")
        return value

    def only_keys(self, table: dict[str, Any], allowed: set[str], entry: Entry) -> None:
        # A misspelt key (``prior_carreer_msv``) must not silently become a default.
        for key in table:
            if key not in allowed:
                raise self.fail(
                    (*entry, key), f"unknown key; expected one of {sorted(allowed)}"
                )

    def string(
        self, table: dict[str, Any], key: str, entry: Entry, default: str | None = None
    ) -> str:
        value = table.get(key, default)
        if isinstance(value, dt.date):
            return value.isoformat()
        if not isinstance(value, str) or not value.strip():
            if key not in table:
                raise self.fail((*entry, key), "is missing")
            raise self.fail((*entry, key), f"must be a non-empty string, got {value!r}")
        return value

    def number(
        self,
        table: dict[str, Any],
        key: str,
        entry: Entry,
        default: float | None = None,
        *,
        minimum: float | None = None,
        positive: bool = False,
    ) -> float:
        value = table.get(key, default)
        if value is None:
            raise self.fail((*entry, key), "is missing")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail((*entry, key), f"must be a number, got {value!r}")
        if not math.isfinite(value):
            raise self.fail((*entry, key), f"must be finite, got {value!r}")
        if positive and value <= 0:
            raise self.fail((*entry, key), f"must be > 0, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail((*entry, key), f"must be >= {minimum:g}, got {value!r}")
        return float(value)

    def integer(
        self,
        table: dict[str, Any],
        key: str,
        entry: Entry,
        default: int | None = None,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int:
        value = table.get(key, default)
        if value is None:
            raise self.fail((*entry, key), "is missing")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail((*entry, key), f"must be an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.fail((*entry, key), f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.fail((*entry, key), f"must be <= {maximum}, got {value}")
        return int(value)

    def status(self, table: dict[str, Any], key: str, entry: Entry) -> Status:
        value = table.get(key)
        for status in _STATUSES:
            if value == status:
                return status
        if key not in table:
            raise self.fail((*entry, key), "is missing (V, R or D)")
        raise self.fail((*entry, key), f"must be V, R or D, got {value!r}")

    def date(self, table: dict[str, Any], key: str, entry: Entry) -> dt.date | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise self.fail((*entry, key), f"must be a date like 2025-09-01, got {value!r}")


def _entry_label(entry: Entry) -> str:
    out = ""
    for part in entry:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _parse_limits(doc: _Document) -> DoseLimits:
    data = doc.data
    meta = doc.table(data.get("meta", {}), ("meta",))
    career_raw = doc.table(data.get("career"), ("career",))
    career: dict[str, AgencyCareer] = {}
    for agency, raw in career_raw.items():
        entry: Entry = ("career", agency)
        table = doc.table(raw, entry)
        doc.only_keys(
            table,
            {"limit_msv", "quantity", "source", "date", "status", "note", "rows"},
            entry,
        )
        quantity = doc.string(table, "quantity", entry, "effective dose E")
        source = doc.string(table, "source", entry)
        date = doc.string(table, "date", entry)
        note = str(table.get("note", ""))
        if ("limit_msv" in table) == ("rows" in table):
            raise doc.fail(entry, "needs exactly one of limit_msv or [[rows]]")
        if "limit_msv" in table:
            career[agency] = AgencyCareer(
                agency,
                quantity,
                source,
                date,
                doc.number(table, "limit_msv", entry, positive=True),
                doc.status(table, "status", entry),
                note,
            )
            continue
        rows = _parse_age_rows(doc, table["rows"], (*entry, "rows"))
        career[agency] = AgencyCareer(
            agency, quantity, source, date, rows=rows, note=note
        )

    short_term: list[ShortTermLimit] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc.tables(data.get("short_term", []), ("short_term",))):
        entry = ("short_term", i)
        doc.only_keys(
            raw,
            {"id", "organ", "window_days", "limit", "unit", "evaluate"}
            | {"source", "date", "status"},
            entry,
        )
        sid = doc.string(raw, "id", entry)
        if sid in seen:
            raise doc.fail((*entry, "id"), f"duplicate id {sid!r}")
        seen.add(sid)
        evaluate = raw.get("evaluate", True)
        if not isinstance(evaluate, bool):
            raise doc.fail(
                (*entry, "evaluate"), f"must be true or false, got {evaluate!r}"
            )
        short_term.append(
            ShortTermLimit(
                sid,
                doc.string(raw, "organ", entry),
                doc.number(raw, "window_days", entry, positive=True),
                doc.number(raw, "limit", entry, positive=True),
                doc.string(raw, "unit", entry),
                evaluate,
                doc.string(raw, "source", entry),
                doc.string(raw, "date", entry),
                doc.status(raw, "status", entry),
            )
        )

    alerts = doc.table(data.get("alerts", {}), ("alerts",))
    levels: list[AlertLevel] = []
    for i, raw in enumerate(doc.tables(alerts.get("levels", []), ("alerts", "levels"))):
        entry = ("alerts", "levels", i)
        doc.only_keys(raw, {"fraction", "name", "severity"}, entry)
        fraction = doc.number(raw, "fraction", entry, positive=True)
        sev_name = raw.get("severity")
        if not isinstance(sev_name, str) or sev_name.lower() not in _SEVERITIES:
            raise doc.fail(
                (*entry, "severity"),
                f"must be one of {sorted(_SEVERITIES)}, got {sev_name!r}",
            )
        if levels and fraction <= levels[-1].fraction:
            raise doc.fail((*entry, "fraction"), "levels must be in increasing order")
        levels.append(
            AlertLevel(
                fraction, doc.string(raw, "name", entry), _SEVERITIES[sev_name.lower()]
            )
        )
    alert_source = str(alerts.get("source", ""))
    return DoseLimits(
        doc.path,
        str(meta.get("version", "0")),
        career,
        tuple(short_term),
        tuple(levels),
        alert_source,
        _parse_conversion(doc, data.get("conversion", {})),
    )


def _parse_conversion(doc: _Document, raw: Any) -> DoseConversion:
    entry: Entry = ("conversion",)
    table = doc.table(raw, entry)
    doc.only_keys(
        table,
        {"effective_per_h", "quality_factor", "rbe", "organ_depth", "sources"},
        entry,
    )
    d = DoseConversion()
    depth_raw = doc.table(table.get("organ_depth", {}), (*entry, "organ_depth"))
    depth = {
        organ: doc.number(depth_raw, organ, (*entry, "organ_depth"), positive=True)
        for organ in depth_raw
    }
    sources_raw = doc.table(table.get("sources", {}), (*entry, "sources"))
    sources = {k: str(v) for k, v in sources_raw.items()}
    factor = doc.number(
        table, "effective_per_h", entry, d.effective_per_h, positive=True
    )
    if factor > 1.0:
        raise doc.fail(
            (*entry, "effective_per_h"),
            f"must be <= 1 (E inside the body is below area H), got {factor:g}",
        )
    return DoseConversion(
        factor,
        doc.number(table, "quality_factor", entry, d.quality_factor, positive=True),
        doc.number(table, "rbe", entry, d.rbe, positive=True),
        depth,
        sources,
    )


def _parse_age_rows(doc: _Document, raw: Any, entry: Entry) -> tuple[AgeRow, ...]:
    rows: list[AgeRow] = []
    for i, row in enumerate(doc.tables(raw, entry)):
        where: Entry = (*entry, i)
        doc.only_keys(
            row,
            {"age_min", "age_max", "male_msv", "male_status", "female_msv"}
            | {"female_status", "source", "date", "note", "age_above"},
            where,
        )
        if ("age_min" in row) == ("age_above" in row):
            raise doc.fail(where, "needs exactly one of age_min or age_above")
        above = "age_above" in row
        age_min = (
            doc.integer(row, "age_above", where, minimum=0) + 1
            if above
            else doc.integer(row, "age_min", where, minimum=0)
        )
        age_max = (
            doc.integer(row, "age_max", where, minimum=age_min)
            if "age_max" in row
            else None
        )
        if rows and (rows[-1].age_max is None or age_min <= rows[-1].age_max):
            raise doc.fail(
                (*where, "age_min"),
                "rows must be in increasing, non-overlapping age order",
            )
        rows.append(
            AgeRow(
                age_min,
                age_max,
                doc.number(row, "male_msv", where, positive=True),
                doc.status(row, "male_status", where),
                doc.number(row, "female_msv", where, positive=True),
                doc.status(row, "female_status", where),
                doc.string(row, "source", where),
                doc.string(row, "date", where),
                str(row.get("note", "")),
                above,
            )
        )
    if not rows:
        raise doc.fail(entry, "needs at least one row")
    return tuple(rows)


_CREW_KEYS = {
    "id",
    "name",
    "agency",
    "sex",
    "age_at_first_flight",
    "prior_career_msv",
    "mission_start",
    "mission_end",
    "personal_dosimeter",
}


def _parse_roster(doc: _Document, limits: DoseLimits | None) -> Roster:
    data = doc.data
    meta = doc.table(data.get("roster", {}), ("roster",))
    crew: list[CrewMember] = []
    ids: set[str] = set()
    for i, raw in enumerate(doc.tables(data.get("crew", []), ("crew",))):
        entry: Entry = ("crew", i)
        name = raw.get("id") if isinstance(raw.get("id"), str) else None
        doc.only_keys(raw, _CREW_KEYS, entry)
        cid = doc.string(raw, "id", entry)
        if not _ID_RE.match(cid):
            raise doc.fail(
                (*entry, "id"), f"must be lower-case letters/digits, got {cid!r}"
            )
        if cid in ids:
            raise doc.fail((*entry, "id"), f"duplicate crew id {cid!r}")
        ids.add(cid)
        sex_raw = raw.get("sex")
        if sex_raw not in ("F", "M"):
            raise doc.fail(
                (*entry, "sex"), f"must be 'F' or 'M', got {sex_raw!r}", name
            )
        sex: Sex = "F" if sex_raw == "F" else "M"
        agency = doc.string(raw, "agency", entry)
        age = doc.integer(raw, "age_at_first_flight", entry, minimum=18, maximum=80)
        start = doc.date(raw, "mission_start", entry)
        if start is None:
            raise doc.fail((*entry, "mission_start"), "is missing", name)
        end = doc.date(raw, "mission_end", entry)
        if end is not None and end < start:
            raise doc.fail(
                (*entry, "mission_end"), f"{end} is before mission_start {start}"
            )
        dosimeter = raw.get("personal_dosimeter")
        if dosimeter is not None and (not isinstance(dosimeter, str) or not dosimeter):
            raise doc.fail(
                (*entry, "personal_dosimeter"),
                f"must be a source id, got {dosimeter!r}",
            )
        member = CrewMember(
            cid,
            doc.string(raw, "name", entry),
            agency,
            sex,
            age,
            doc.number(raw, "prior_career_msv", entry, minimum=0.0),
            start,
            end,
            dosimeter,
        )
        if limits is not None:
            try:
                limits.career_limit(
                    member.agency, member.sex, member.age_at_first_flight
                )
            except KeyError as exc:
                raise doc.fail(
                    (*entry, "agency"), f"{exc.args[0]} in {limits.path}", cid
                ) from None
        crew.append(member)
    if not crew:
        raise doc.fail(("crew",), "the roster has no [[crew]] entries")
    estimator = _parse_estimator(doc, data.get("estimator", {}))
    return Roster(doc.path, str(meta.get("version", "0")), tuple(crew), estimator)


def _parse_estimator(doc: _Document, raw: Any) -> EstimatorConfig:
    entry: Entry = ("estimator",)
    est = doc.table(raw, entry)
    defaults = EstimatorConfig()
    doc.only_keys(
        est,
        {"body_shielding_factor", "model_rate_usv_h", "lateness_s", "output_interval_s"}
        | {"rolling_bin_s", "projection_window_days", "spe", "shelter", "uncertainty"}
        | {"revise_window_s", "projection_min_days", "eva_factor"},
        entry,
    )

    def num(key: str, default: float, positive: bool = True) -> float:
        return doc.number(est, key, entry, default, positive=positive, minimum=0.0)

    output = num("output_interval_s", defaults.output_interval_s)
    rolling = num("rolling_bin_s", defaults.rolling_bin_s)
    ratio = rolling / output
    if abs(ratio - round(ratio)) > 1e-9:
        # Bin edges must fall on the output grid so every emitted value sits
        # on a stored cumulative-dose knot or between two of them.
        raise doc.fail(
            (*entry, "rolling_bin_s"),
            f"must be a multiple of output_interval_s ({output:g})",
        )
    return EstimatorConfig(
        body_shielding_factor=num(
            "body_shielding_factor", defaults.body_shielding_factor
        ),
        model_rate_usv_h=num(
            "model_rate_usv_h", defaults.model_rate_usv_h, positive=False
        ),
        lateness_s=num("lateness_s", defaults.lateness_s, positive=False),
        output_interval_s=output,
        rolling_bin_s=rolling,
        projection_window_days=num(
            "projection_window_days", defaults.projection_window_days
        ),
        revise_window_s=num(
            "revise_window_s", defaults.revise_window_s, positive=False
        ),
        projection_min_days=num(
            "projection_min_days", defaults.projection_min_days, positive=False
        ),
        eva_factor=num("eva_factor", defaults.eva_factor),
        spe=_parse_spe(doc, est.get("spe", {})),
        shelter=_parse_shelter(doc, est.get("shelter", {})),
        uncertainty=_parse_uncertainty(doc, est.get("uncertainty", {})),
    )


def _parse_spe(doc: _Document, raw: Any) -> SpeConfig:
    entry: Entry = ("estimator", "spe")
    t = doc.table(raw, entry)
    d = SpeConfig()
    doc.only_keys(t, set(SpeConfig.__dataclass_fields__), entry)
    cfg = SpeConfig(
        onset_pfu=doc.number(t, "onset_pfu", entry, d.onset_pfu, positive=True),
        onset_points=doc.integer(t, "onset_points", entry, d.onset_points, minimum=1),
        end_pfu=doc.number(t, "end_pfu", entry, d.end_pfu, positive=True),
        end_points=doc.integer(t, "end_points", entry, d.end_points, minimum=1),
        energetic_pfu=doc.number(
            t, "energetic_pfu", entry, d.energetic_pfu, positive=True
        ),
        energetic_points=doc.integer(
            t, "energetic_points", entry, d.energetic_points, minimum=1
        ),
        energetic_end_pfu=doc.number(
            t, "energetic_end_pfu", entry, d.energetic_end_pfu, positive=True
        ),
    )
    if cfg.end_pfu > cfg.onset_pfu:
        raise doc.fail((*entry, "end_pfu"), "must not exceed onset_pfu")
    if cfg.energetic_end_pfu > cfg.energetic_pfu:
        raise doc.fail((*entry, "energetic_end_pfu"), "must not exceed energetic_pfu")
    return cfg


def _parse_shelter(doc: _Document, raw: Any) -> ShelterConfig:
    entry: Entry = ("estimator", "shelter")
    t = doc.table(raw, entry)
    d = ShelterConfig()
    doc.only_keys(t, set(ShelterConfig.__dataclass_fields__), entry)
    return ShelterConfig(
        module=doc.string(t, "module", entry, d.module),
        p10_pfu=doc.number(t, "p10_pfu", entry, d.p10_pfu, positive=True),
        p100_pfu=doc.number(t, "p100_pfu", entry, d.p100_pfu, positive=True),
        trigger_points=doc.integer(
            t, "trigger_points", entry, d.trigger_points, minimum=1
        ),
        clear_fraction=doc.number(
            t, "clear_fraction", entry, d.clear_fraction, positive=True
        ),
        clear_points=doc.integer(t, "clear_points", entry, d.clear_points, minimum=1),
        horizon_h=doc.number(t, "horizon_h", entry, d.horizon_h, positive=True),
    )


def _parse_uncertainty(doc: _Document, raw: Any) -> UncertaintyConfig:
    entry: Entry = ("estimator", "uncertainty")
    t = doc.table(raw, entry)
    d = UncertaintyConfig()
    components = dict(d.components)
    for key in t:
        if key == "sources":
            continue
        components[key] = doc.number(t, key, entry, minimum=0.0)
    sources = dict(d.sources)
    src_entry: Entry = (*entry, "sources")
    for key, value in doc.table(t.get("sources", {}), src_entry).items():
        if key not in ("personal", "area", "model", "stale"):
            raise doc.fail(
                (*src_entry, key), "unknown source; use personal, area, model, stale"
            )
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise doc.fail((*src_entry, key), "must be a list of component names")
        for name in value:
            if name not in components:
                raise doc.fail((*src_entry, key), f"unknown component {name!r}")
        sources[key] = tuple(value)
    return UncertaintyConfig(components, sources)
