"""The crew dose report's results: per-crew totals, limits, events, plot series.

What a dose report holds, however it was computed (a replay of every frame,
``telemetry.reports.dose_report``, or the hourly dose bins recorded with the
archive, ``telemetry.reports.increment``), its JSON form, and the read-outs
both ways share: limits at the end of the period from the rolling knots, the
archived SPEs, notes and warnings. Built and read by the thread running the
report.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from telemetry.archive.export import iso_utc
from telemetry.radiation.estimator import DoseEvent, DoseEventKind
from telemetry.radiation.physics import SECONDS_PER_DAY, SECONDS_PER_HOUR
from telemetry.radiation.spaceweather import SpeEvent, detect_spe, s_label

if TYPE_CHECKING:
    from collections.abc import Sequence

    from telemetry.archive.reader import ArchiveReader
    from telemetry.radiation.dose_record import RecordComparison, YearTotal
    from telemetry.radiation.estimator import CrewDose
    from telemetry.radiation.roster import (
        CareerLimit,
        CrewMember,
        DoseLimits,
        Roster,
        SpeConfig,
    )

FloatArray = npt.NDArray[np.float64]

#: The order CSV columns and per-crew JSON keys are written in.
CREW_FIELDS: Final = (
    "crew_id",
    "name",
    "agency",
    "absorbed_mgy",
    "dose_equivalent_msv",
    "dose_equivalent_sigma_msv",
    "quality_factor",
    "mean_rate_msv_d",
    "prior_msv",
    "career_msv",
    "career_limit_msv",
    "career_fraction",
    "days_to_career_limit",
    "dose_30d_msv",
    "dose_1y_msv",
    "worst_limit",
    "worst_limit_fraction",
    "time_personal_s",
    "time_area_s",
    "time_model_s",
    "time_stale_s",
)

# SPE transitions, shelter advice and limit alerts are listed one by one;
# stale/fresh flips can come by the hundred, so they are counted.
LISTED_EVENTS: Final = frozenset(
    {
        DoseEventKind.LIMIT,
        DoseEventKind.SPE_ONSET,
        DoseEventKind.SPE_END,
        DoseEventKind.ENERGETIC_SPE,
        DoseEventKind.ENERGETIC_SPE_END,
        DoseEventKind.SHELTER,
        DoseEventKind.SHELTER_CLEARED,
    }
)


# ------------------------------------------------------------------ results


@dataclass(frozen=True, slots=True)
class LimitAtEnd:
    """One limit of one crew member at the end of the period (immutable; any thread)."""

    id: str
    label: str
    limit: float
    unit: str
    window_days: float | None
    dose: float
    fraction: float
    alert: str
    source: str
    status: str


@dataclass(frozen=True, slots=True)
class CrewReport:
    """Dose of one crew member over the period, H in mSv, D in mGy (immutable)."""

    crew_id: str
    name: str
    agency: str
    absorbed_mgy: float
    dose_equivalent_msv: float
    dose_equivalent_sigma_msv: float
    quality_factor: float
    mean_rate_msv_d: float
    prior_msv: float
    career_msv: float
    career_limit_msv: float
    career_fraction: float
    days_to_career_limit: float
    dose_30d_msv: float
    dose_1y_msv: float
    worst_limit: str
    worst_limit_fraction: float
    time_personal_s: float
    time_area_s: float
    time_model_s: float
    time_stale_s: float
    career_rule: CareerLimit
    limits: tuple[LimitAtEnd, ...]

    def row(self) -> dict[str, Any]:
        """Return the flat fields in ``CREW_FIELDS`` order (CSV and JSON)."""
        return {name: getattr(self, name) for name in CREW_FIELDS}


@dataclass(frozen=True, slots=True)
class SaaSummary:
    """SAA passes in the period, from the replayed ``<orbit>.saa`` flag (immutable)."""

    passes: int
    seconds: float
    samples: int


@dataclass(frozen=True, slots=True)
class PlotData:
    """Binned series for the HTML plots, bins ``edges[i]..edges[i+1]`` (read-only)."""

    edges: FloatArray
    crew_cumulative: dict[str, FloatArray]  # period H (mSv) at each edge
    module_rate: dict[str, FloatArray]  # mean µSv/h per bin (NaN: no data)
    p10: FloatArray  # max pfu per bin
    p100: FloatArray
    saa: FloatArray  # fraction of each bin's orbit samples in the SAA
    spe: list[tuple[float, float]]


@dataclass
class DoseReport:
    """Everything a report shows; built and owned by the thread running the report."""

    archive: str
    start: float
    end: float
    requested_start: float | None
    requested_end: float | None
    archive_dictionary: list[tuple[str, str]]  # (version, sha256) per session
    dictionary_version: str
    dictionary_sha256: str
    roster_version: str
    limits: DoseLimits
    roster: Roster
    crew: list[CrewReport]
    spe_events: list[SpeEvent]
    saa: SaaSummary
    events: list[DoseEvent]
    stale_flips: dict[str, int]
    notes: list[tuple[float, str, str]]
    plots: PlotData
    frames: int
    late_samples: int
    basis: str = ""  # how the totals were obtained, in words
    from_bins: bool = False  # from the recorded hourly bins, not a replay
    warnings: list[str] = field(default_factory=list)
    # From the dose ledger, when the report is given one (``--ledger``).
    records: list[RecordComparison] = field(default_factory=list)
    year_totals: list[YearTotal] = field(default_factory=list)
    ledger_path: str = ""
    generated: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        crew = {}
        for c in self.crew:
            entry = {k: _json_number(v) for k, v in c.row().items() if k != "crew_id"}
            # null means two things: say which.
            days = c.days_to_career_limit
            entry["days_to_career_limit_basis"] = (
                "insufficient data: the period is shorter than the estimator's "
                "projection minimum (projection_min_days)"
                if math.isnan(days)
                else "not reached at the period's mean rate"
                if math.isinf(days)
                else "at the period's mean rate"
            )
            entry["limits"] = [
                {k: _json_number(v) for k, v in dataclasses.asdict(lim).items()}
                for lim in c.limits
            ]
            crew[c.crew_id] = entry
        return {
            "crew": crew,
            "period": {
                "start": iso_utc(self.start),
                "end": iso_utc(self.end),
                "start_t": _json_number(self.start),
                "end_t": _json_number(self.end),
                "days": _json_number((self.end - self.start) / SECONDS_PER_DAY),
            },
            "archive": self.archive,
            "dictionary_version": self.dictionary_version,
            "dictionary_sha256": self.dictionary_sha256,
            "archive_dictionaries": [
                {"version": v, "sha256": s} for v, s in self.archive_dictionary
            ],
            "roster_version": self.roster_version,
            "limits_version": self.limits.version,
            "spe_events": [_spe_json(e) for e in self.spe_events],
            "saa": dataclasses.asdict(self.saa),
            "basis": self.basis,
            "frames_replayed": self.frames,
            "late_samples": self.late_samples,
            "warnings": self.warnings,
            **(
                {
                    "ledger": self.ledger_path,
                    "dose_of_record": [r.to_json() for r in self.records],
                    "year_totals": [y.to_json() for y in self.year_totals],
                }
                if self.ledger_path
                else {}
            ),
            "units": {
                "absorbed": "mGy (tissue)",
                "dose_equivalent": "mSv (Q(L) of ICRP 60, x body factor)",
                "career": "mSv of effective dose E (area H converted)",
                "short_term_limits": "each in its own unit (mGy-Eq, mGy), "
                "converted from H (docs/dosimetry.md)",
            },
        }


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no inf/NaN: "never" and "unknown" are null
    return value


def _spe_json(event: SpeEvent) -> dict[str, Any]:
    return {
        "onset": iso_utc(event.onset),
        "end": iso_utc(event.end) if event.end is not None else None,
        "peak_p10_pfu": event.peak_p10,
        "peak_p10_time": iso_utc(event.peak_p10_time),
        "s_level": s_label(event.s_level),
        "peak_p100_pfu": _json_number(event.peak_p100),
        "peak_p100_time": (
            iso_utc(event.peak_p100_time)
            if math.isfinite(event.peak_p100_time)
            else None
        ),
        "energetic_onset": (
            iso_utc(event.energetic_onset)
            if event.energetic_onset is not None
            else None
        ),
        "fluence_p10_cm2": event.fluence_p10,
        "fluence_p100_cm2": event.fluence_p100,
    }


# ---------------------------------------------------------------- read-outs


def alert_name(limits: DoseLimits, fraction: float) -> str:
    name = ""
    for level in limits.alert_levels:
        if fraction >= level.fraction:
            name = level.name
    return name


def limits_from_snapshot(dose: CrewDose, limits: DoseLimits) -> tuple[LimitAtEnd, ...]:
    return tuple(
        LimitAtEnd(
            s.id,
            s.label,
            s.limit,
            s.unit,
            s.window_days,
            s.dose,
            s.fraction,
            alert_name(limits, s.fraction),
            s.source,
            s.status,
        )
        for s in dose.limits
    )


def rolling_dose(
    knots_t: Sequence[float],
    knots_h: Sequence[float],
    t: float,
    session: float,
    days: float,
) -> float:
    """Dose in (t - days, t]: the estimator's method (linear between bin knots).

    ``knots_*``: the session dose at rolling-bin edges; ``session``: at ``t``.
    """
    if not len(knots_t):
        return session
    before = float(np.interp(t - days * SECONDS_PER_DAY, knots_t, knots_h, 0.0))
    return session - before


def career_at(
    member: CrewMember,
    limits: DoseLimits,
    session_h: float,
    period_h: float,
    days: float,
    min_days: float,
) -> tuple[float, CareerLimit, float]:
    """Return career E, its limit and days to it at the period's mean rate.

    Career is effective dose E: the prior career plus this mission's area H
    converted as the estimator converts it; days to the limit divide the E
    left by the E accrued per day. A period shorter than ``min_days`` (the
    estimator's ``projection_min_days``) gives NaN, "insufficient data", as
    the radiation panel says: 7 minutes of an S3 event extrapolated said
    108 days where the panel said nothing.
    """
    e_per_h = limits.conversion.effective_per_h
    career = member.prior_career_msv + e_per_h * session_h
    rule = limits.career_limit(member.agency, member.sex, member.age_at_first_flight)
    rate = period_h / days if days > 0 else math.nan
    remaining = rule.limit_msv - career
    if remaining <= 0:
        to_limit = 0.0
    elif days < min_days:
        to_limit = math.nan
    elif rate > 0:
        to_limit = remaining / (e_per_h * rate)
    else:
        to_limit = math.inf
    return career, rule, to_limit


def limits_at(
    member: CrewMember,
    limits: DoseLimits,
    knots: tuple[Sequence[float], Sequence[float]],
    t: float,
    session: float,
    career: float,
) -> tuple[LimitAtEnd, ...]:
    """Every limit of ``member`` at ``t``: career, then the rolling windows."""
    rule = limits.career_limit(member.agency, member.sex, member.age_at_first_flight)
    out = [
        LimitAtEnd(
            "career",
            f"career ({member.agency})",
            rule.limit_msv,
            "mSv",
            None,
            career,
            career / rule.limit_msv,
            alert_name(limits, career / rule.limit_msv),
            rule.source,
            rule.status,
        )
    ]
    for s in limits.evaluated_short_term():
        # Each organ limit in its own quantity (mGy-Eq, mGy), from area H.
        dose = rolling_dose(
            knots[0], knots[1], t, session, s.window_days
        ) * limits.conversion.per_h(s.unit, s.organ)
        out.append(
            LimitAtEnd(
                s.id,
                f"{s.organ} {s.window_days:g} d",
                s.limit,
                s.unit,
                s.window_days,
                dose,
                dose / s.limit,
                alert_name(limits, dose / s.limit),
                s.source,
                s.status,
            )
        )
    return tuple(out)


def stale_counts(
    events: list[DoseEvent], t0: float, t1: float, wanted: Sequence[str]
) -> dict[str, int]:
    counts = dict.fromkeys(wanted, 0)
    for e in events:
        stale = e.kind == DoseEventKind.DATA_STALE and t0 <= e.time < t1
        if stale and e.crew in counts:
            counts[str(e.crew)] += 1
    return counts


def read_notes(
    reader: ArchiveReader, t0: float, t1: float
) -> list[tuple[float, str, str]]:
    out = [(b.time, b.author, b.text) for b in reader.bookmarks() if t0 <= b.time < t1]
    for a in reader.actions(t0, t1):
        if a.action == "note" or a.comment:
            out.append((a.time, a.operator, f"{a.action} {a.target}: {a.comment}"))
    return sorted(out)


def read_spe_events(
    reader: ArchiveReader,
    goes_id: str,
    t0: float,
    t1: float,
    config: SpeConfig,
    *,
    since: float | None = None,
) -> list[SpeEvent]:
    """SPEs in the period, by the same detector as live, on the archived GOES flux.

    The flux is read from ``since`` (the archive's start when None).
    """
    try:
        ta, p10 = reader.channel_window(f"{goes_id}.p10", since, t1)
        tb, p100 = reader.channel_window(f"{goes_id}.p100", since, t1)
    except KeyError:
        return []
    times = np.union1d(ta, tb)
    a = np.full(times.shape[0], np.nan)
    b = np.full(times.shape[0], np.nan)
    a[np.searchsorted(times, ta)] = p10
    b[np.searchsorted(times, tb)] = p100
    # GOES fill values are negative: not a measurement (as in the estimator).
    a = np.where(a >= 0, a, np.nan)
    b = np.where(b >= 0, b, np.nan)
    events = detect_spe_windows(times, a, b, config)
    return [e for e in events if (e.end is None or e.end >= t0) and e.onset < t1]


def detect_spe_windows(
    times: FloatArray, p10: FloatArray, p100: FloatArray, config: SpeConfig
) -> list[SpeEvent]:
    """``detect_spe`` run only where a flux could start or sustain an event.

    The detector steps one sample at a time (tens of µs each): over a
    180-day increment of 0.2 Hz GOES data that is minutes of quiet sun.
    A sample below every threshold (>10 MeV under the end level, >100 MeV
    under the energetic end level) cannot start an event, and a run of such
    samples ends one, so the detector sees only the stretches around warm
    samples, each padded with more quiet samples than any run length on
    either side: every event starts and ends inside its stretch, with the
    same onset, end, peaks and fluence as over the whole series.
    """
    warm = (p10 >= min(config.end_pfu, config.onset_pfu)) | (
        p100 >= min(config.energetic_end_pfu, config.energetic_pfu)
    )
    if not warm.any():
        return []
    points = max(config.onset_points, config.end_points, config.energetic_points)
    pad = 4 * points + 4  # quiet samples either side (p10 and p100 may alternate)
    hot = np.flatnonzero(warm)
    breaks = np.flatnonzero(np.diff(hot) > 2 * pad) + 1
    events: list[SpeEvent] = []
    for run in np.split(hot, breaks):
        lo = max(0, int(run[0]) - pad)
        hi = min(times.shape[0], int(run[-1]) + pad + 1)
        events.extend(detect_spe(times[lo:hi], p10[lo:hi], p100[lo:hi], config))
    return events


def report_warnings(report: DoseReport, dropped: int) -> list[str]:
    out = []
    recorded = {sha for _v, sha in report.archive_dictionary}
    if recorded and recorded != {report.dictionary_sha256}:
        versions = ", ".join(v for v, _s in report.archive_dictionary)
        out.append(
            f"The archive was recorded with dictionary version(s) {versions}; this "
            f"report decodes it with version {report.dictionary_version} "
            f"({report.dictionary_sha256[:12]}). Check that they agree."
        )
    if report.late_samples:
        out.append(
            f"{report.late_samples} samples arrived later than the estimator's "
            "lateness allowance and were not integrated."
        )
    if dropped:
        out.append(f"{dropped} estimator events were dropped (queue full).")
    for c in report.crew:
        if c.time_stale_s > 0:
            out.append(
                f"{c.crew_id}: {c.time_stale_s / SECONDS_PER_HOUR:.2f} h of the "
                "estimate ran on a fallback (stale inputs); see the uncertainty."
            )
    return out
