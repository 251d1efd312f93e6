"""The dose report from the hourly dose bins recorded with the archive (no replay).

A 180-day increment holds hundreds of millions of samples: replaying them all
through the estimator takes a quarter of an hour. Live sessions and
recordings keep each crew member's dose per hour in the archive as they go
(``telemetry.live.dose_bins``); when every session of the archive did so from
the inputs this report uses (dictionary, estimator settings, who wears which
dosimeter), the report reads those bins instead, and recomputes only what a
change of limits or of the crew's records requires (prior dose, names, ages:
career, fractions, alerts, days to limit), which needs no replay. A change of
the bins' inputs makes the report replay.

What the bins cannot give, and how it is obtained instead:

- a period edge inside an hour: the hour's dose is taken as even within it;
- absorbed dose D: each hour's H over the Q̄ = ΣH/ΣD of the archived
  monitors in that hour (the crew member's own dosimeter when it reported,
  else every area monitor, else the PADLES #1 baseline), where the replay
  uses the monitors the estimator used at each 10-s step;
- where each step's estimate came from (own dosimeter, area, model): not
  known; ``--replay`` gives it.

Runs on the thread that asked for the report.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from telemetry.archive.reader import ArchiveReader
from telemetry.core.severity import Severity
from telemetry.live.dose_bins import (
    BIN_CHANNEL,
    BINS_EVENT,
    COUNT,
    MAX,
    SAA_PASSES,
    SAA_SECONDS,
    SIGMA_CHANNEL,
    SUM,
    bins_fingerprint,
)
from telemetry.radiation.estimator import DoseEvent, DoseEventKind
from telemetry.radiation.physics import SECONDS_PER_DAY
from telemetry.reports.dose_replay import BASELINE_QUALITY, PLOT_BINS
from telemetry.reports.dose_results import (
    LISTED_EVENTS,
    CrewReport,
    DoseReport,
    PlotData,
    SaaSummary,
    career_at,
    limits_at,
    read_notes,
    read_spe_events,
    report_warnings,
    stale_counts,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from telemetry.archive.records import EventRecord
    from telemetry.core.dictionary import TelemetryDictionary
    from telemetry.radiation.roster import CrewMember, DoseLimits, Roster, SpeConfig
    from telemetry.radiation.spaceweather import SpeEvent

FloatArray = npt.NDArray[np.float64]

#: Archives shorter than this are replayed: that takes seconds, and gives the
#: step-by-step absorbed dose and estimate basis the bins do not keep.
BINS_MIN_SPAN_S: Final = 2 * SECONDS_PER_DAY


def bins_usable(
    reader: ArchiveReader, dictionary: TelemetryDictionary, roster: Roster, bin_s: float
) -> bool:
    """Return whether every session kept bins from the inputs this report uses.

    Late data (a dump after a loss of signal) revises dose the recorder may
    already have written as a bin: an archive with a revision is replayed,
    so the report integrates every sample in sample-time order.
    """
    sessions = {s.id for s in reader.sessions()}
    fingerprint = bins_fingerprint(dictionary.sha256, roster)
    wanted = f"inputs sha256 {fingerprint}; bin {bin_s:g} s"
    kept = {e.session for e in reader.events(kind=BINS_EVENT) if wanted in e.detail}
    if reader.events(kind=str(DoseEventKind.REVISED)):
        return False
    return bool(sessions) and sessions <= kept


class _Cumulative:
    """A crew member's dose as recorded per bin, read at any time (report thread).

    Linear within each bin, flat across gaps; ``at(-inf)`` is 0.
    """

    def __init__(self, starts: FloatArray, dose: FloatArray, bin_s: float) -> None:
        order = np.argsort(starts, kind="stable")
        starts, first = np.unique(starts[order], return_index=True)
        # Two sessions sharing an hour (a restart): their doses add.
        dose = np.add.reduceat(dose[order], first) if first.shape[0] else dose
        self.bin_s = bin_s
        self.starts = starts
        self.dose = dose
        after = np.cumsum(dose)
        self.knots_t = np.column_stack((starts, starts + bin_s)).ravel()
        self.knots_h = np.column_stack((after - dose, after)).ravel()
        self.total = float(after[-1]) if after.shape[0] else 0.0

    def at(self, t: FloatArray | float) -> FloatArray:
        points = np.atleast_1d(np.asarray(t, dtype=np.float64))
        if self.knots_t.shape[0] == 0:
            return np.zeros(points.shape[0])
        return np.interp(points, self.knots_t, self.knots_h, left=0.0, right=self.total)


def _window(
    reader: ArchiveReader, key: str, t0: float | None, t1: float | None
) -> tuple[FloatArray, FloatArray]:
    try:
        return reader.channel_window(key, t0, t1)
    except KeyError:
        return np.empty(0), np.empty(0)


def _bin_sums(
    t: FloatArray, v: FloatArray, edges: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Sum and count of the finite values per bin ``edges[i]..edges[i+1]``."""
    n = edges.shape[0] - 1
    idx = np.searchsorted(edges, t, side="right") - 1
    ok = (idx >= 0) & (idx < n) & np.isfinite(v)
    return (
        np.bincount(idx[ok], weights=v[ok], minlength=n),
        np.bincount(idx[ok], minlength=n).astype(np.float64),
    )


def _ratio(h: FloatArray, d: FloatArray) -> FloatArray:
    ok = (h > 0) & (d > 0)
    out = np.full(h.shape[0], np.nan)
    np.divide(h, d, out=out, where=ok)
    return out


def bins_dose_report(
    archive: Path | str,
    start: float | None,
    end: float | None,
    wanted: Sequence[str],
    dictionary: TelemetryDictionary,
    roster: Roster,
    limits: DoseLimits,
    *,
    min_span_s: float = BINS_MIN_SPAN_S,
) -> DoseReport | None:
    """Return the report of ``[start, end)`` from the recorded bins; None to replay.

    None when the archive spans less than ``min_span_s`` or a session of it
    kept no bins from these inputs.
    """
    cfg = roster.estimator
    bin_s = cfg.rolling_bin_s
    with ArchiveReader(archive) as reader:
        info = reader.info()
        first, last = info["start"], info["end"]
        if first is None or last is None or last - first < min_span_s:
            return None
        if not bins_usable(reader, dictionary, roster, bin_s):
            return None
        t0 = float(start) if start is not None else float(first)
        t1 = float(end) if end is not None else float(last)
        if not t1 > t0:
            raise ValueError("empty period: the end is not after the start")
        # The whole archive: from 0 to every bin (the last one is partial).
        q0 = -math.inf if start is None else t0
        q1 = math.inf if end is None else t1
        crews = {}
        for member in roster.crew:
            tb, hb = _window(reader, f"{member.id}.{BIN_CHANNEL}", None, None)
            ts, sb = _window(reader, f"{member.id}.{SIGMA_CHANNEL}", None, None)
            crews[member.id] = (
                _Cumulative(tb, hb, bin_s),
                _Cumulative(ts, sb, bin_s),
            )
        hours = _hour_edges(crews, bin_s)
        edges = np.linspace(t0, t1, PLOT_BINS + 1)
        monitors = _monitors(reader, dictionary, hours, edges)
        saa = _saa(reader, dictionary, hours, t0, t1, edges)
        goes = dictionary.sources_of("spacewx")
        goes_id = goes[0].id if goes else "goes"
        p10, p100, spe_events = _flux(reader, goes_id, hours, edges, cfg.spe, (t0, t1))
        archived = reader.events(t0, t1)
        notes = read_notes(reader, t0, t1)
        sessions = reader.sessions()
    events = _dose_events(archived)
    reports = []
    cumulative = {}
    for member in roster.crew:
        h, sigma = crews[member.id]
        quality = _crew_quality(member, dictionary, monitors, hours, h)
        if member.id in wanted:
            reports.append(
                _crew_report(
                    member,
                    limits,
                    h,
                    sigma,
                    quality,
                    (q0, q1),
                    (t0, t1),
                    cfg.projection_min_days,
                )
            )
            at = h.at(edges)
            cumulative[member.id] = at - at[0]
    module_rate = {
        name: np.where(c > 0, s / np.maximum(c, 1), np.nan)
        for name, (s, c) in monitors.plot.items()
    }
    spe = [(e.onset, e.end if e.end is not None else t1) for e in spe_events]
    n_bins = sum(h.starts.shape[0] for h, _s in crews.values())
    report = DoseReport(
        archive=str(archive),
        start=t0,
        end=t1,
        requested_start=start,
        requested_end=end,
        archive_dictionary=sorted(
            {(s.dictionary_version, s.dictionary_sha256) for s in sessions}
        ),
        dictionary_version=dictionary.version,
        dictionary_sha256=dictionary.sha256,
        roster_version=roster.version,
        limits=limits,
        roster=roster,
        crew=reports,
        spe_events=spe_events,
        saa=saa[0],
        events=[
            e
            for e in events
            if e.kind in LISTED_EVENTS and (e.crew is None or e.crew in wanted)
        ],
        stale_flips=stale_counts(events, t0, t1, wanted),
        notes=notes,
        plots=PlotData(edges, cumulative, module_rate, p10, p100, saa[1], spe),
        frames=0,
        late_samples=0,
        basis=f"{n_bins} hourly dose bins kept by its recorder; no replay",
        from_bins=True,
    )
    report.warnings = report_warnings(report, 0)
    return report


def _hour_edges(
    crews: dict[str, tuple[_Cumulative, _Cumulative]], bin_s: float
) -> FloatArray:
    """Edges of every bin any crew member has, first to last (absorbed dose)."""
    starts = [h.starts for h, _s in crews.values() if h.starts.shape[0]]
    if not starts:
        return np.empty(0)
    lo = float(min(s[0] for s in starts))
    hi = float(max(s[-1] for s in starts)) + bin_s
    return np.arange(lo, hi + 0.5 * bin_s, bin_s)


class _Monitors:
    """Hourly H and D sums per dosimeter, and plot-bin means per module (report)."""

    def __init__(self) -> None:
        self.hourly: dict[str, tuple[FloatArray, FloatArray]] = {}  # source -> H, D
        self.area: list[str] = []
        self.plot: dict[str, tuple[FloatArray, FloatArray]] = {}  # name -> sum, count


def _hourly(
    reader: ArchiveReader, key: str, hours: FloatArray, t0: float, t1: float
) -> FloatArray:
    """One hourly summary channel on the ``hours`` grid (0 where none)."""
    n = max(hours.shape[0] - 1, 0)
    t, v = _window(reader, key, t0, t1)
    out = np.zeros(n)
    idx = np.searchsorted(hours, t, side="right") - 1
    ok = (idx >= 0) & (idx < n) & np.isfinite(v)
    np.add.at(out, idx[ok], v[ok])
    return out


def _monitors(
    reader: ArchiveReader,
    dictionary: TelemetryDictionary,
    hours: FloatArray,
    edges: FloatArray,
) -> _Monitors:
    """Hourly ΣH, ΣD per dosimeter and the plot's module means, from the summaries."""
    out = _Monitors()
    if hours.shape[0] < 2:
        return out
    lo, hi = float(hours[0]), float(hours[-1])
    for src in dictionary.sources_of("rad"):
        h_sum = _hourly(reader, f"{src.id}.dose_eq_rate{SUM}", hours, lo, hi)
        h_n = _hourly(reader, f"{src.id}.dose_eq_rate{COUNT}", hours, lo, hi)
        d_sum = _hourly(reader, f"{src.id}.absorbed_rate{SUM}", hours, lo, hi)
        out.hourly[src.id] = (h_sum, d_sum)
        if src.crew is None:
            out.area.append(src.id)
        name = f"{src.crew} personal ({src.id})" if src.crew is not None else src.module
        if name is None:
            continue
        s, _ = _bin_sums(hours[:-1], h_sum, edges)
        c, _ = _bin_sums(hours[:-1], h_n, edges)
        n = edges.shape[0] - 1
        s0, c0 = out.plot.get(name, (np.zeros(n), np.zeros(n)))
        out.plot[name] = (s0 + s, c0 + c)
    return out


def _crew_quality(
    member: CrewMember,
    dictionary: TelemetryDictionary,
    monitors: _Monitors,
    hours: FloatArray,
    h: _Cumulative,
) -> FloatArray:
    """Q̄ = ΣH/ΣD for each of the crew member's bins (for absorbed dose)."""
    if h.starts.shape[0] == 0 or hours.shape[0] < 2:
        return np.full(h.starts.shape[0], BASELINE_QUALITY)
    worn = [s.id for s in dictionary.sources_of("rad") if s.crew == member.id]
    personal = member.personal_dosimeter or (worn[0] if worn else None)
    idx = np.clip(np.searchsorted(hours, h.starts, side="right") - 1, 0, None)
    n = hours.shape[0] - 1
    idx = np.minimum(idx, n - 1)
    area_h = sum((monitors.hourly[s][0] for s in monitors.area), np.zeros(n))
    area_d = sum((monitors.hourly[s][1] for s in monitors.area), np.zeros(n))
    quality = _ratio(area_h, area_d)[idx]
    if personal is not None and personal in monitors.hourly:
        own = _ratio(*monitors.hourly[personal])[idx]
        quality = np.where(np.isnan(own), quality, own)
    return np.where(np.isnan(quality), BASELINE_QUALITY, quality)


def _crew_report(
    member: CrewMember,
    limits: DoseLimits,
    h: _Cumulative,
    sigma: _Cumulative,
    quality: FloatArray,
    queries: tuple[float, float],
    period: tuple[float, float],
    min_days: float,
) -> CrewReport:
    """One crew member's totals; ``queries``: where period H starts and ends."""
    t0, t1 = period
    q0, q1 = queries
    d = _Cumulative(h.starts, h.dose / quality, h.bin_s)
    h_start, h_end = (float(x) for x in h.at(np.array([q0, q1])))
    period_h = h_end - h_start
    period_d = float(d.at(q1)[0] - d.at(q0)[0])
    period_sigma = float(sigma.at(q1)[0] - sigma.at(q0)[0])
    days = max(t1 - t0, 0.0) / SECONDS_PER_DAY
    rate = period_h / days if days > 0 else math.nan
    career, rule, to_limit = career_at(member, limits, h_end, period_h, days, min_days)
    knots = (h.knots_t.tolist(), h.knots_h.tolist())
    at_end = limits_at(member, limits, knots, t1, h_end, career)
    worst = max(at_end, key=lambda lim: lim.fraction)
    return CrewReport(
        crew_id=member.id,
        name=member.name,
        agency=member.agency,
        absorbed_mgy=period_d,
        dose_equivalent_msv=period_h,
        dose_equivalent_sigma_msv=period_sigma,
        quality_factor=period_h / period_d if period_d > 0 else math.nan,
        mean_rate_msv_d=rate,
        prior_msv=member.prior_career_msv,
        career_msv=career,
        career_limit_msv=rule.limit_msv,
        career_fraction=career / rule.limit_msv,
        days_to_career_limit=to_limit,
        # Area H over the windows, as the replay reports them (the limits
        # hold each window's dose in the limit's own quantity).
        dose_30d_msv=_rolling(h, t1, h_end, 30.0),
        dose_1y_msv=_rolling(h, t1, h_end, 365.0),
        worst_limit=worst.id,
        worst_limit_fraction=worst.fraction,
        # Not kept in the bins: unknown (null in JSON, empty in CSV).
        time_personal_s=math.nan,
        time_area_s=math.nan,
        time_model_s=math.nan,
        time_stale_s=math.nan,
        career_rule=rule,
        limits=at_end,
    )


def _rolling(h: _Cumulative, t: float, session: float, days: float) -> float:
    return session - float(h.at(t - days * SECONDS_PER_DAY)[0])


def _saa(
    reader: ArchiveReader,
    dictionary: TelemetryDictionary,
    hours: FloatArray,
    t0: float,
    t1: float,
    edges: FloatArray,
) -> tuple[SaaSummary, FloatArray]:
    """SAA passes and time in the period's hours, and each plot bin's SAA share."""
    orbit = dictionary.sources_of("orbit")
    orbit_id = orbit[0].id if orbit else "iss"
    n = edges.shape[0] - 1
    if hours.shape[0] < 2:
        return SaaSummary(0, 0.0, 0), np.zeros(n)
    lo, hi = float(hours[0]), float(hours[-1])
    seconds = _hourly(reader, f"{orbit_id}.{SAA_SECONDS}", hours, lo, hi)
    passes = _hourly(reader, f"{orbit_id}.{SAA_PASSES}", hours, lo, hi)
    flags = _hourly(reader, f"{orbit_id}.saa{SUM}", hours, lo, hi)
    count = _hourly(reader, f"{orbit_id}.saa{COUNT}", hours, lo, hi)
    # The hours the period touches (an edge inside an hour counts that hour).
    inside = (hours[1:] > t0) & (hours[:-1] < t1)
    summary = SaaSummary(
        int(passes[inside].sum()),
        float(seconds[inside].sum()),
        int(count[inside].sum()),
    )
    s, _ = _bin_sums(hours[:-1], flags, edges)
    c, _ = _bin_sums(hours[:-1], count, edges)
    return summary, np.where(c > 0, s / np.maximum(c, 1), 0.0)


def _flux(
    reader: ArchiveReader,
    goes_id: str,
    hours: FloatArray,
    edges: FloatArray,
    config: SpeConfig,
    period: tuple[float, float],
) -> tuple[FloatArray, FloatArray, list[SpeEvent]]:
    """Plot maxima of the GOES flux from the hourly maxima, and the SPEs.

    The detector reads the full-rate flux only around hours whose maximum
    could start or sustain an event (padded by an hour of quiet either side).
    """
    n = edges.shape[0] - 1
    if hours.shape[0] < 2:
        return np.full(n, np.nan), np.full(n, np.nan), []
    lo, hi = float(hours[0]), float(hours[-1])
    maxima = []
    for channel in ("p10", "p100"):
        t, v = _window(reader, f"{goes_id}.{channel}{MAX}", lo, hi)
        top = np.full(n, -np.inf)
        idx = np.searchsorted(edges, t, side="right") - 1
        ok = (idx >= 0) & (idx < n) & (v >= 0)
        np.maximum.at(top, idx[ok], v[ok])
        maxima.append((t, v, np.where(np.isinf(top), np.nan, top)))
    (t10, m10, p10), (t100, m100, p100) = maxima
    warm = np.concatenate(
        (
            t10[m10 >= min(config.end_pfu, config.onset_pfu)],
            t100[m100 >= min(config.energetic_end_pfu, config.energetic_pfu)],
        )
    )
    events: list[SpeEvent] = []
    t0, t1 = period
    bin_s = float(hours[1] - hours[0])
    for run in _runs(np.unique(warm), bin_s):
        a, b = run[0] - bin_s, run[-1] + 2 * bin_s
        found = read_spe_events(reader, goes_id, a, b, config, since=a)
        events.extend(
            e for e in found if (e.end is None or e.end >= t0) and e.onset < t1
        )
    return p10, p100, events


def _runs(starts: FloatArray, bin_s: float) -> list[FloatArray]:
    """Consecutive hours, split where more than two hours of quiet lie between."""
    if starts.shape[0] == 0:
        return []
    return np.split(starts, np.flatnonzero(np.diff(starts) > 3 * bin_s) + 1)


_KINDS: Final = {str(k): k for k in DoseEventKind}


def _dose_events(archived: Sequence[EventRecord]) -> list[DoseEvent]:
    """Return the estimator's events as the pipeline archived them (crew: source)."""
    return [
        DoseEvent(e.time, _KINDS[e.kind], Severity(e.severity), e.detail, e.source)
        for e in archived
        if e.kind in _KINDS
    ]
