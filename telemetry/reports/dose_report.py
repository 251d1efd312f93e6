"""Crew dose report of an archive period: which way it is computed, and its outputs.

From the hourly dose bins the recorder kept (``increment``) or by replaying
every frame through the dose estimator (``dose_replay``); with a dose ledger,
its doses of record and year totals beside. Writes JSON, CSV and a
self-contained HTML page (``templates/dose_report.html``, autoescaped). Runs on
the thread that asked for the report.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
import numpy.typing as npt

from telemetry.archive.export import csv_text
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.radiation.dose_record import adopt, year_totals
from telemetry.radiation.ledger import DoseLedger, LedgerError
from telemetry.radiation.roster import (
    DEFAULT_LIMITS,
    DEFAULT_ROSTER,
    DoseLimits,
    load_limits,
    load_roster,
)
from telemetry.radiation.spaceweather import (
    S_SCALE_THRESHOLDS_PFU,
    s_label,
)
from telemetry.reports.chart import COLORS, line_chart
from telemetry.reports.dose_replay import BASELINE_QUALITY, replay_dose_report
from telemetry.reports.dose_results import (
    CREW_FIELDS,
    CrewReport,
    DoseReport,
    LimitAtEnd,
)
from telemetry.reports.increment import bins_dose_report
from telemetry.reports.pages import render_page

if TYPE_CHECKING:
    from collections.abc import Sequence


FloatArray = npt.NDArray[np.float64]
Format = Literal["json", "csv", "html"]
FORMATS: Final = ("json", "csv", "html")


def build_dose_report(
    archive: Path | str,
    start: float | None = None,
    end: float | None = None,
    crew: Sequence[str] | None = None,
    *,
    dictionary: TelemetryDictionary | None = None,
    roster_path: Path | str | None = None,
    limits_path: Path | str | None = None,
    ledger: Path | str | None = None,
    replay: bool = False,
) -> DoseReport:
    """Return the crew dose report of ``[start, end)`` of an archive.

    From the hourly dose bins the archive's recorder kept, when they were
    computed from the same inputs and the archive spans more than
    ``BINS_MIN_SPAN_S`` (see ``telemetry.reports.increment``); otherwise, or
    with ``replay``, by replaying every frame through the dose estimator.

    Parameters
    ----------
    archive : Path or str
        A console archive, opened read-only (nothing is written to it).
    start, end : float or None
        UTC seconds; None means the archive's first/last sample. Career and
        rolling doses at ``end`` include what came before ``start``.
    crew : sequence of str or None
        Crew ids to report (all when None); an unknown id raises ValueError.
    dictionary, roster_path, limits_path
        What the estimator runs with; defaults are the shipped files.
    ledger : Path or str or None
        A dose ledger: its doses of record beside its estimate, and the
        calendar- and fiscal-year totals, for the reported crew.
    replay : bool
        Replay every frame even when the archive holds hourly dose bins.

    Returns
    -------
    DoseReport
        Period totals and end-of-period career figures per crew member.
    """
    dictionary = dictionary or TelemetryDictionary.load(DEFAULT_DICTIONARY)
    limits = load_limits(limits_path or DEFAULT_LIMITS)
    roster = load_roster(roster_path or DEFAULT_ROSTER, limits)
    known = [m.id for m in roster.crew]
    wanted = list(crew) if crew else known
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise ValueError(f"unknown crew id {unknown[0]!r}; the roster has {known}")
    report = None
    if not replay:
        report = bins_dose_report(
            archive, start, end, wanted, dictionary, roster, limits
        )
    if report is None:
        report = replay_dose_report(
            archive, start, end, wanted, dictionary, roster, limits
        )
    if ledger is not None:
        _add_ledger(report, Path(ledger), wanted)
    return report


def _add_ledger(report: DoseReport, path: Path, wanted: Sequence[str]) -> None:
    """Add the ledger's doses of record and year totals of the ``wanted`` crew."""
    if not path.is_file():
        raise ValueError(f"{path}: no dose ledger there")
    try:
        ledger = DoseLedger(
            path,
            roster_version=report.roster_version,
            roster_sha256="",
            bin_s=report.roster.estimator.rolling_bin_s,
            opened=time.time(),
            read_only=True,
        )
        try:
            comparisons = ledger.comparisons()
            records = [r.reading for r in ledger.records() if r.adopted]
            estimate = ledger.estimate_bins()
        finally:
            ledger.close()
    except LedgerError as exc:
        raise ValueError(str(exc)) from exc
    keep = set(wanted)
    estimate = {c: b for c, b in estimate.items() if c in keep}
    records = [r for r in records if r.crew_id in keep]
    adopted = adopt(estimate, records, report.roster.estimator.rolling_bin_s)
    report.ledger_path = str(path)
    report.records = [c for c in comparisons if c.crew_id in keep]
    report.year_totals = year_totals(estimate, adopted, records)


# ----------------------------------------------------------------- writing


def render_json(report: DoseReport) -> str:
    """One JSON object: ``{"crew": {id: {...}}, "period": ..., ...}``."""
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False, allow_nan=False)


def render_csv(report: DoseReport) -> str:
    """One row per crew member, ``CREW_FIELDS`` columns; text fields defused."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CREW_FIELDS)
    for c in report.crew:
        cells = []
        for value in c.row().values():
            if isinstance(value, str):
                cells.append(csv_text(value))
            elif isinstance(value, float) and not math.isfinite(value):
                cells.append("")
            else:
                cells.append(repr(value))
        out.write(",".join(cells) + "\n")
    return out.getvalue()


def write_dose_report(
    archive: Path | str,
    start: float | None,
    end: float | None,
    crew: list[str] | None,
    fmt: Format,
    output: Path | str | None,
    *,
    dictionary: TelemetryDictionary | None = None,
    roster_path: Path | str | None = None,
    limits_path: Path | str | None = None,
    ledger: Path | str | None = None,
    replay: bool = False,
) -> str:
    """Write the crew dose report of ``[start, end)`` of an archive; return it.

    Parameters
    ----------
    archive : Path or str
        The console archive (read-only; nothing is written to it).
    start, end : float or None
        UTC seconds; None means the archive's first/last sample.
    crew : list of str or None
        Crew ids to include (all when None).
    fmt : {"json", "csv", "html"}
        Output format.
    output : Path or str or None
        File to write; standard output when None.
    dictionary, roster_path, limits_path
        Override the shipped dictionary, roster and limits.
    ledger, replay
        As :func:`build_dose_report`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (json, csv or html)")
    report = build_dose_report(
        archive,
        start,
        end,
        crew,
        dictionary=dictionary,
        roster_path=roster_path,
        limits_path=limits_path,
        ledger=ledger,
        replay=replay,
    )
    if fmt == "json":
        text = render_json(report) + "\n"
    elif fmt == "csv":
        text = render_csv(report)
    else:
        text = render_html(report)
    if output is None:
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8", newline="")
    return text


# ------------------------------------------------------------------- HTML


def _alert_class(limits: DoseLimits, fraction: float) -> str:
    cls = ""
    for level in limits.alert_levels:
        if fraction >= level.fraction:
            cls = level.severity.name.lower()
    return cls


def _basis(c: CrewReport) -> str:
    """Where the estimate came from, as shares of the period: 'area 80 %, ...'."""
    total = c.time_personal_s + c.time_area_s + c.time_model_s
    basis = ", ".join(
        f"{name} {100 * seconds / total:.0f} %"
        for name, seconds in (
            ("personal", c.time_personal_s),
            ("area", c.time_area_s),
            ("model", c.time_model_s),
        )
        if total > 0 and seconds > 0
    )
    if c.time_stale_s > 0 and total > 0:
        basis += f"; stale {100 * c.time_stale_s / total:.1f} %"
    return basis


def _charts(report: DoseReport) -> dict[str, object]:
    plots = report.plots
    edges = plots.edges
    t0, t1 = float(edges[0]), float(edges[-1])
    mids = 0.5 * (edges[:-1] + edges[1:])
    crew_series = [
        (
            f"{c.crew_id} {c.name}",
            COLORS[i % len(COLORS)],
            edges,
            plots.crew_cumulative[c.crew_id],
        )
        for i, c in enumerate(report.crew)
    ]
    module_series = [
        (name, COLORS[(i + 4) % len(COLORS)], mids, rate)
        for i, (name, rate) in enumerate(plots.module_rate.items())
    ]
    saa_spans = [
        (float(edges[i]), float(edges[i + 1]), "#3fa6d4", 0.12 + 0.3 * float(f))
        for i, f in enumerate(plots.saa.tolist())
        if f > 0
    ]
    refs = [
        (v, f"S{i + 1}", "#cf222e" if i >= 2 else "#a85d00" if i == 1 else "#0a6ea0")
        for i, v in enumerate(S_SCALE_THRESHOLDS_PFU)
    ]
    refs.append((1.0, "energetic (>100 MeV)", "#6e40c9"))
    return {
        "crew": line_chart(
            crew_series,
            t0,
            t1,
            title="Dose equivalent accrued in the period",
            unit="mSv",
        ),
        "modules": line_chart(
            module_series,
            t0,
            t1,
            title="Dose-equivalent rate by module (bin means); SAA passes shaded",
            unit="µSv/h",
            log_y=True,
            spans=saa_spans,
        ),
        "goes": line_chart(
            [
                (">10 MeV", "#d62728", mids, plots.p10),
                (">100 MeV", "#9467bd", mids, plots.p100),
            ],
            t0,
            t1,
            title="GOES integral proton flux (bin maxima); SPEs shaded",
            unit="pfu",
            log_y=True,
            spans=[(a, b, "#e2a13a", 0.18) for a, b in plots.spe],
            refs=refs,
            y_range=(0.01, 2e5),
        ),
        "bins": len(edges) - 1,
        "bin_s": (t1 - t0) / max(len(edges) - 1, 1),
    }


def render_html(report: DoseReport) -> str:
    """Render a self-contained page for the officer's file (every string escaped)."""
    limits = report.limits
    unc = report.roster.estimator.uncertainty
    return render_page(
        "dose_report.html",
        {
            "report": report,
            "limits": limits,
            "cfg": report.roster.estimator,
            "basis_text": report.basis,
            "crew_rows": [
                {
                    "crew": c,
                    "css": _alert_class(limits, c.career_fraction),
                    "basis": _basis(c),
                }
                for c in report.crew
            ],
            "limit_rows": [
                (c.crew_id, lim, _alert_class(limits, lim.fraction))
                for c in report.crew
                for lim in _binding_limits(c.limits)
            ],
            "stale_flips": [(k, v) for k, v in report.stale_flips.items() if v],
            "charts": _charts(report),
            "uncertainty": [
                (name, value, [s for s, names in unc.sources.items() if name in names])
                for name, value in unc.components.items()
            ],
            "baseline_quality": BASELINE_QUALITY,
            "s_label": s_label,
        },
    )


def _binding_limits(limits: Sequence[LimitAtEnd]) -> list[LimitAtEnd]:
    """Career, then the most used limit of each window (alerts always shown)."""
    best: dict[float | None, LimitAtEnd] = {}
    alerted = []
    for lim in limits:
        if lim.alert:
            alerted.append(lim)
        held = best.get(lim.window_days)
        if held is None or lim.fraction > held.fraction:
            best[lim.window_days] = lim
    chosen = {id(lim): lim for lim in [*best.values(), *alerted]}
    return sorted(
        chosen.values(),
        key=lambda lim: (lim.window_days is not None, lim.window_days or 0.0),
    )
