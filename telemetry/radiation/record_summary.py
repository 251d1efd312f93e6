"""What the radiation panel shows of the dose ledger: each crew member's dose of record.

Per crew member: the latest dose of record (passive dosimeter readout: value,
period, dosimeter) beside the ledger's estimate for the same period with the
bias, and this calendar year's and fiscal year's totals from the ledger (the
estimate outside adopted records plus the records; ``dose_record``) against
the crew member's tightest one-year limit, in that limit's own quantity.

Read through a read-only connection of its own, so a live session writing
the same ledger is never disturbed; a plain function with immutable results,
called on the console's ``dose-record`` thread (never the GUI thread).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from telemetry.core.severity import Severity
from telemetry.core.units import format_dose, format_percent, utc_text
from telemetry.radiation.dose_record import (
    RecordComparison,
    YearTotal,
    adopt,
    year_totals,
)
from telemetry.radiation.ledger import DoseLedger, LedgerError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from telemetry.radiation.roster import DoseLimits

#: A limit over a window of at least this many days is an annual limit.
ANNUAL_DAYS: Final = 365.0


@dataclass(frozen=True, slots=True)
class AnnualUse:
    """A year's total in one one-year limit's quantity (immutable; any thread).

    ``dose`` = the year's H (mSv) converted into ``unit`` (mGy-Eq, mGy) as
    the estimator converts it for that limit (docs/dosimetry.md).
    """

    limit_id: str
    label: str  # "BFO 1 y"
    unit: str
    dose: float
    limit: float
    year: str  # which year's total: "CY2026" or "FY2025"
    severity: Severity = Severity.NOMINAL  # the alert level reached (50/75/90/100 %)

    @property
    def fraction(self) -> float:
        return self.dose / self.limit if self.limit > 0 else math.nan


@dataclass(frozen=True, slots=True)
class CrewRecord:
    """One crew member's dose of record and year totals (immutable; any thread).

    ``latest``: the dose of record whose period ends last (None: none in the
    ledger); ``years``: the calendar and fiscal years holding ``now`` that
    the ledger has dose in; ``annual``: the larger of them against the
    tightest one-year limit (None without a year total or such a limit).
    """

    crew_id: str
    latest: RecordComparison | None = None
    records: int = 0
    years: tuple[YearTotal, ...] = ()
    annual: AnnualUse | None = None


@dataclass(frozen=True)
class RecordSummary:
    """Every crew member's dose of record, read at ``now`` (immutable; any thread).

    ``error``: why the ledger could not be read ("" when it was); then
    ``crew`` is empty and the panel says so.
    """

    ledger: str
    now: float
    crew: dict[str, CrewRecord] = field(default_factory=dict)
    error: str = ""


def annual_use(total: YearTotal, limits: DoseLimits) -> AnnualUse | None:
    """Return ``total`` against the tightest evaluated one-year limit."""
    best: AnnualUse | None = None
    for limit in limits.evaluated_short_term():
        if limit.window_days < ANNUAL_DAYS or limit.limit <= 0:
            continue
        dose = total.total_msv * limits.conversion.per_h(limit.unit, limit.organ)
        reached = [
            a.severity for a in limits.alert_levels if dose / limit.limit >= a.fraction
        ]
        use = AnnualUse(
            limit.id,
            f"{limit.organ} 1 y",
            limit.unit,
            dose,
            limit.limit,
            total.label,
            max(reached, default=Severity.NOMINAL),
        )
        if best is None or use.fraction > best.fraction:
            best = use
    return best


def summarize_ledger(
    path: Path,
    crew_ids: Iterable[str],
    limits: DoseLimits,
    *,
    bin_s: float,
    now: float,
) -> RecordSummary:
    """Read the ledger at ``path`` for the crew members ``crew_ids`` at time ``now``.

    A missing ledger gives every crew member an empty record; one that cannot
    be read gives ``error`` (never an exception: the panel shows it).
    """
    crew = list(crew_ids)
    try:
        ledger = DoseLedger(
            path,
            roster_version="",
            roster_sha256="",
            bin_s=bin_s,
            opened=now,
            read_only=True,
        )
    except (LedgerError, OSError) as exc:
        return RecordSummary(str(path), now, error=str(exc))
    try:
        estimate = ledger.estimate_bins()  # read once: the costly query
        comparisons = ledger.comparisons(estimate)
        stored = ledger.records()
    except LedgerError as exc:
        return RecordSummary(str(path), now, error=str(exc))
    finally:
        ledger.close()
    adopted = [r.reading for r in stored if r.adopted]
    years = year_totals(estimate, adopt(estimate, adopted, bin_s), adopted)
    out: dict[str, CrewRecord] = {}
    for crew_id in crew:
        mine = [c for c in comparisons if c.crew_id == crew_id]
        latest = max(mine, key=lambda c: (c.end, c.start), default=None)
        current = tuple(
            y for y in years if y.crew_id == crew_id and y.start <= now < y.end
        )
        top = max(current, key=lambda y: y.total_msv, default=None)
        out[crew_id] = CrewRecord(
            crew_id,
            latest,
            len(mine),
            current,
            annual_use(top, limits) if top is not None else None,
        )
    return RecordSummary(str(path), now, out)


# ------------------------------------------------------------------ wording


def record_line(crew: CrewRecord) -> str:
    """Return the panel's dose-of-record line: record, period, dosimeter, bias.

    ``record 45.0 mSv H · 2026-01-01–04-01 · PADLES · bias +4.10 mSv (+9.1 %)``
    """
    c = crew.latest
    if c is None:
        return "no dose of record in the ledger"
    period = f"{_day(c.start)}–{_day(c.end, after=c.start)}"
    text = (
        f"record {format_dose(c.record_msv, quantity=c.quantity)} · {period} · "
        f"{c.dosimeter}"
    )
    if c.bias_msv is None:
        return f"{text} · no estimate for that period"
    sign = "+" if c.bias_msv >= 0 else "−"
    text += f" · bias {sign}{format_dose(abs(c.bias_msv))}"
    if c.bias_fraction is not None:
        text += f" ({sign}{format_percent(abs(c.bias_fraction))})"
    if c.covered_fraction < 0.995:
        text += f", estimate covers {format_percent(c.covered_fraction, 0)}"
    return text


def year_line(crew: CrewRecord) -> str:
    """Return the panel's year line: this CY and FY totals, the larger vs its limit.

    ``CY2026 62.0 mSv · FY2025 58.3 mSv H · BFO 1 y 6.3 % (31.6 / 500 mGy-Eq)``
    """
    if not crew.years:
        return "no ledger dose this year"
    years = " · ".join(f"{y.label} {format_dose(y.total_msv)}" for y in crew.years)
    use = crew.annual
    if use is None:
        return f"{years} H"
    return (
        f"{years} H · {use.label} {format_percent(use.fraction)} "
        f"({format_dose(use.dose, unit=use.unit)} / {use.limit:g} {use.unit})"
    )


def record_tooltip(crew: CrewRecord, summary: RecordSummary) -> str:
    """Return every figure behind the two lines, for the radiation officer to audit."""
    lines = []
    c = crew.latest
    if c is None:
        lines.append(f"{crew.crew_id}: no dose of record in the ledger")
    else:
        lines.append(
            f"{crew.crew_id}: latest of {crew.records} dose(s) of record: "
            f"{format_dose(c.record_msv, quantity=c.quantity)} from "
            f"{utc_text(c.start)} to {utc_text(c.end)}, "
            f"dosimeter {c.dosimeter}, "
            + ("adopted into the totals" if c.adopted else "beside the estimate")
        )
        if c.estimate_msv is None:
            lines.append("the ledger has no estimate for that period")
        else:
            lines.append(
                f"estimate for the period {format_dose(c.estimate_msv)} H "
                f"(live sessions covered {format_percent(c.covered_fraction)}); "
                "bias = estimate − record"
            )
    for y in crew.years:
        lines.append(
            f"{y.label} ({utc_text(y.start)} to "
            f"{utc_text(y.end)}): {format_dose(y.total_msv)} H = "
            f"estimate outside records + {format_dose(y.record_msv)} of record "
            f"(estimate alone {format_dose(y.estimate_msv)})"
        )
    use = crew.annual
    if use is not None:
        lines.append(
            f"{use.year} total against the tightest one-year limit, {use.label} "
            f"{use.limit:g} {use.unit}: {format_dose(use.dose, unit=use.unit)} "
            f"({format_percent(use.fraction)}; H converted as for the rolling "
            "limits, docs/dosimetry.md)"
        )
    lines.append(
        f"from {summary.ledger}, read {utc_text(summary.now)} "
        "(every minute; the current hour is not in it yet)"
    )
    return "\n".join(lines)


def _day(t: float, after: float | None = None) -> str:
    """``2026-01-01``, or ``04-01`` after a start in the same year."""
    text = utc_text(t)[:10]
    if after is not None and text[:4] == utc_text(after)[:4]:
        return text[5:]
    return text
