"""Dose of record: passive-dosimeter readouts beside the live estimate, and year totals.

Passive dosimeters (PADLES, crew personal passive dosimeters) are read out on
the ground after return: their reading is the dose of record for their
period, never a real-time signal. This module reads their readouts (CSV),
compares each with the estimate the dose ledger holds for the same crew
member and period, and sums the ledger per calendar year and per JAXA fiscal
year (April–March) with adopted records in place of the estimate they cover.
Pure functions and immutable results; any thread may call them.
"""

from __future__ import annotations

import csv
import itertools
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

#: Columns of a readout file, in any order; ``quantity`` and ``dosimeter`` may
#: be left out (H; "passive").
CSV_COLUMNS: Final = ("crew_id", "start", "end", "dose_msv", "quantity", "dosimeter")
_REQUIRED: Final = ("crew_id", "start", "end", "dose_msv")
#: What a passive reading may be: dose equivalent H (what a personal passive
#: dosimeter gives, as the ledger's estimate) or effective dose E.
QUANTITIES: Final = ("H", "E")
#: JAXA's fiscal year starts on 1 April (FY2026 = 2026-04-01 to 2027-03-31).
FISCAL_YEAR_START_MONTH: Final = 4
#: A readout spans at most this long (a dosimeter flown for several increments
#: is read out per increment): a longer one is a typing error.
MAX_PERIOD_DAYS: Final = 400.0
#: The earliest period a readout may start: before 2000 no crew lived on the
#: ISS, so an earlier date is a typing error (or an unset clock).
EARLIEST_START: Final = 946_684_800.0  # 2000-01-01T00:00:00Z
#: Mean dose rate a readout may show, mSv per day: ~100x the ISS average
#: (0.3-0.8 mSv/d) and above any SPE day measured behind ISS shielding. A
#: higher figure is a unit or typing error (µSv written as mSv), and adopting
#: it would put the crew member over every limit in the ledger.
MAX_RATE_MSV_PER_DAY: Final = 50.0
#: One readout above every career limit is an error, not a dose of record.
MAX_READOUT_MSV: Final = 1000.0

Bins = dict[str, list[tuple[float, float, float]]]
"""Crew id -> ``(start, end, msv)`` per ledger bin, sorted (``LedgerHistory``)."""


class DoseRecordError(ValueError):
    """A readout file or row is wrong; the message names the file, line and why."""


@dataclass(frozen=True, slots=True)
class PassiveReading:
    """One readout: a crew member's passive dose over ``[start, end)`` (immutable)."""

    crew_id: str
    start: float
    end: float
    dose_msv: float
    quantity: str = "H"
    dosimeter: str = "passive"
    line: int = 0  # in the file it came from (0: not from a file)


@dataclass(frozen=True, slots=True)
class RecordComparison:
    """A dose of record beside the ledger's estimate for the same period (immutable).

    ``estimate_msv`` is None when the ledger holds no bin in the period;
    ``covered_fraction`` is the part of the period live sessions covered (an
    estimate over half the period is half a dose, not a bias);
    ``bias_msv`` = estimate - record.
    """

    crew_id: str
    start: float
    end: float
    dosimeter: str
    quantity: str
    record_msv: float
    estimate_msv: float | None
    covered_fraction: float
    adopted: bool
    estimate_at_import_msv: float | None = None

    @property
    def bias_msv(self) -> float | None:
        if self.estimate_msv is None:
            return None
        return self.estimate_msv - self.record_msv

    @property
    def bias_fraction(self) -> float | None:
        bias = self.bias_msv
        if bias is None or self.record_msv <= 0:
            return None
        return bias / self.record_msv

    def to_json(self) -> dict[str, object]:
        return {
            "crew_id": self.crew_id,
            "start": iso(self.start),
            "end": iso(self.end),
            "dosimeter": self.dosimeter,
            "quantity": self.quantity,
            "record_msv": self.record_msv,
            "estimate_msv": self.estimate_msv,
            "estimate_covered_fraction": self.covered_fraction,
            "bias_msv": self.bias_msv,
            "bias_fraction": self.bias_fraction,
            "adopted": self.adopted,
        }


@dataclass(frozen=True, slots=True)
class YearTotal:
    """A crew member's dose in one calendar or fiscal year, from the ledger (immutable).

    ``estimate_msv``: the ledger's estimate; ``record_msv``: the adopted doses
    of record falling in the year; ``total_msv``: the estimate outside the
    records' periods plus the records (what JAXA sums per year).
    """

    crew_id: str
    label: str  # "CY2026" or "FY2026"
    start: float
    end: float
    estimate_msv: float
    record_msv: float
    total_msv: float

    def to_json(self) -> dict[str, object]:
        return {
            "crew_id": self.crew_id,
            "year": self.label,
            "start": iso(self.start),
            "end": iso(self.end),
            "estimate_msv": self.estimate_msv,
            "record_msv": self.record_msv,
            "total_msv": self.total_msv,
        }


def iso(t: float) -> str:
    """``2026-04-01T00:00:00Z`` for epoch seconds."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> float:
    """Epoch seconds of an ISO 8601 date or time; no zone means UTC.

    Raises
    ------
    ValueError
        If ``text`` is not an ISO 8601 date or date-time.
    """
    stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def read_readouts(path: Path, crew_ids: Iterable[str]) -> list[PassiveReading]:
    """Read a readout CSV (``CSV_COLUMNS``); every row must be right or none is taken.

    Raises
    ------
    DoseRecordError
        Naming ``file:line`` and what is wrong: a missing column, an unknown
        crew id, a time that is not ISO 8601, an end not after the start, a
        dose that is negative or not a number, an unknown quantity, two
        readouts of one crew member that overlap.
    """
    known = set(crew_ids)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DoseRecordError(f"{path}: cannot read the readout file ({exc})") from exc
    rows = csv.DictReader(text.splitlines())
    header = [h.strip() for h in rows.fieldnames or []]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise DoseRecordError(
            f"{path}:1: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(CSV_COLUMNS)}"
        )
    out: list[PassiveReading] = []
    for row in rows:
        line = rows.line_num
        cells = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        if not any(cells.values()):
            continue
        out.append(_reading(path, line, cells, known))
    if not out:
        raise DoseRecordError(f"{path}: no readout in the file")
    _check_overlaps(path, out)
    return out


def _reading(
    path: Path, line: int, cells: Mapping[str, str], known: set[str]
) -> PassiveReading:
    where = f"{path}:{line}"
    crew_id = cells["crew_id"]
    if crew_id not in known:
        raise DoseRecordError(
            f"{where}: unknown crew id {crew_id!r}; the roster has {sorted(known)}"
        )
    times = []
    for column in ("start", "end"):
        try:
            times.append(parse_utc(cells[column]))
        except ValueError:
            raise DoseRecordError(
                f"{where}: {column} {cells[column]!r} is not an ISO 8601 date or time"
            ) from None
    start, end = times
    if start < EARLIEST_START:
        raise DoseRecordError(
            f"{where}: start {cells['start']} is before 2000: no crew was aboard"
        )
    if end > time.time() + 86_400.0:
        raise DoseRecordError(
            f"{where}: end {cells['end']} is in the future: a dose of record "
            "is read out after its period"
        )
    if not end > start:
        raise DoseRecordError(f"{where}: end {cells['end']} is not after start")
    if end - start > MAX_PERIOD_DAYS * 86400.0:
        raise DoseRecordError(
            f"{where}: a period of {(end - start) / 86400.0:.0f} days "
            f"(at most {MAX_PERIOD_DAYS:.0f})"
        )
    try:
        dose = float(cells["dose_msv"])
    except ValueError:
        dose = math.nan
    if not math.isfinite(dose) or dose < 0:
        raise DoseRecordError(
            f"{where}: dose_msv {cells['dose_msv']!r} is not a dose "
            "(a number of mSv, 0 or more)"
        )
    days = (end - start) / 86400.0
    if dose > MAX_READOUT_MSV or dose > MAX_RATE_MSV_PER_DAY * max(days, 1.0):
        raise DoseRecordError(
            f"{where}: dose_msv {dose:.6g} over {days:.3g} days is not plausible "
            f"(at most {MAX_READOUT_MSV:g} mSv a readout and "
            f"{MAX_RATE_MSV_PER_DAY:g} mSv a day): µSv written as mSv?"
        )
    quantity = cells.get("quantity") or "H"
    if quantity not in QUANTITIES:
        raise DoseRecordError(
            f"{where}: quantity {quantity!r}; use H (dose equivalent) or E (effective)"
        )
    dosimeter = cells.get("dosimeter") or "passive"
    if not dosimeter.isprintable():
        raise DoseRecordError(
            f"{where}: dosimeter {dosimeter!r} has control characters"
        )
    return PassiveReading(crew_id, start, end, dose, quantity, dosimeter, line)


def _check_overlaps(path: Path, readings: Sequence[PassiveReading]) -> None:
    by_crew: dict[str, list[PassiveReading]] = {}
    for r in readings:
        by_crew.setdefault(r.crew_id, []).append(r)
    for crew_id, items in by_crew.items():
        items.sort(key=lambda r: r.start)
        for a, b in itertools.pairwise(items):
            if b.start < a.end:
                raise DoseRecordError(
                    f"{path}:{b.line}: {crew_id}'s readout overlaps line {a.line} "
                    "(one dose of record per crew member and time)"
                )


def overlap_msv(
    bins: Sequence[tuple[float, float, float]], start: float, end: float
) -> tuple[float, float]:
    """Return the dose of ``bins`` within ``[start, end)`` and the seconds they cover.

    A bin straddling an edge counts in proportion to its overlap (dose is
    taken as even within a bin, an hour).
    """
    dose = 0.0
    covered = 0.0
    for b0, b1, msv in bins:
        if b1 <= start or b0 >= end:
            continue
        lo, hi = max(b0, start), min(b1, end)
        span = b1 - b0
        dose += msv * (hi - lo) / span if span > 0 else msv
        covered += hi - lo
    return dose, covered


def compare(
    reading: PassiveReading,
    bins: Bins,
    covered_s: float,
    *,
    adopted: bool,
    estimate_at_import: float | None = None,
) -> RecordComparison:
    """Put ``reading`` beside the ledger's estimate (``bins``) for its period.

    ``covered_s``: seconds of the period the ledger's live sessions covered.
    """
    crew_bins = bins.get(reading.crew_id, [])
    estimate, _ = overlap_msv(crew_bins, reading.start, reading.end)
    has = any(b1 > reading.start and b0 < reading.end for b0, b1, _m in crew_bins)
    return RecordComparison(
        crew_id=reading.crew_id,
        start=reading.start,
        end=reading.end,
        dosimeter=reading.dosimeter,
        quantity=reading.quantity,
        record_msv=reading.dose_msv,
        estimate_msv=estimate if has else None,
        covered_fraction=min(1.0, covered_s / (reading.end - reading.start)),
        adopted=adopted,
        estimate_at_import_msv=estimate_at_import,
    )


def adopt(bins: Bins, records: Iterable[PassiveReading], bin_s: float) -> Bins:
    """Return ``bins`` with each record's period carrying the record's dose.

    The estimate's shape inside the period is kept (its bins are scaled so
    they sum to the record); a period the estimate does not cover gets the
    record spread evenly over bins of ``bin_s``. ``bins`` is not modified.
    """
    out = {crew: list(items) for crew, items in bins.items()}
    for r in records:
        items = out.get(r.crew_id, [])
        inside = [b for b in items if b[0] >= r.start and b[1] <= r.end]
        others = [b for b in items if not (b[0] >= r.start and b[1] <= r.end)]
        estimate = math.fsum(m for _s, _e, m in inside)
        if estimate > 0:
            scale = r.dose_msv / estimate
            scaled = [(s, e, m * scale) for s, e, m in inside]
        else:
            edges = [r.start]
            t = math.floor(r.start / bin_s) * bin_s + bin_s
            while t < r.end:
                edges.append(t)
                t += bin_s
            edges.append(r.end)
            per_s = r.dose_msv / (r.end - r.start)
            scaled = [(a, b, per_s * (b - a)) for a, b in itertools.pairwise(edges)]
            # Bins straddling the period's edges keep their estimate.
        out[r.crew_id] = sorted([*others, *scaled])
    return out


def _years(t0: float, t1: float, month: int) -> list[tuple[int, float, float]]:
    """``(year, start, end)`` of the years starting in ``month`` that meet [t0, t1]."""
    first = datetime.fromtimestamp(t0, UTC)
    year = first.year if first.month >= month else first.year - 1
    out = []
    while True:
        start = datetime(year, month, 1, tzinfo=UTC).timestamp()
        end = datetime(year + 1, month, 1, tzinfo=UTC).timestamp()
        if start > t1:
            break
        out.append((year, start, end))
        year += 1
    return out


def year_totals(
    estimate: Bins, adopted: Bins, records: Sequence[PassiveReading]
) -> list[YearTotal]:
    """Calendar-year (CY) and JAXA fiscal-year (FY, April–March) totals per crew.

    ``estimate``: the ledger's bins; ``adopted``: the same with adopted
    records in place (:func:`adopt`); ``records``: the adopted records.
    """
    out: list[YearTotal] = []
    for crew_id in sorted(set(estimate) | set(adopted)):
        est = estimate.get(crew_id, [])
        eff = adopted.get(crew_id, [])
        spans = [*est, *eff]
        if not spans:
            continue
        t0 = min(b[0] for b in spans)
        t1 = max(b[1] for b in spans)
        mine = [r for r in records if r.crew_id == crew_id]
        for prefix, month in (("CY", 1), ("FY", FISCAL_YEAR_START_MONTH)):
            for year, start, end in _years(t0, t1, month):
                est_msv, _ = overlap_msv(est, start, end)
                total, _ = overlap_msv(eff, start, end)
                record = math.fsum(
                    r.dose_msv * _share(r.start, r.end, start, end) for r in mine
                )
                out.append(
                    YearTotal(
                        crew_id, f"{prefix}{year}", start, end, est_msv, record, total
                    )
                )
    return out


def _share(a: float, b: float, start: float, end: float) -> float:
    """Fraction of [a, b) inside [start, end) (a record spanning a year's edge)."""
    return max(0.0, min(b, end) - max(a, start)) / (b - a)
