"""The dose report by replay: every archived dose frame through a fresh estimator.

The same pipeline, dictionary, roster and limits as the live console, so the
same data give the same totals. Owns the replay tap, which follows the
estimator as it works: absorbed dose through the Q̄ of the monitors it used,
where each step's estimate came from, the plot bins and the events. Runs on
the thread that asked for the report.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from telemetry.archive.export import iso_utc
from telemetry.archive.reader import ArchiveReader
from telemetry.core.channels import ChannelStore
from telemetry.core.pipeline import Pipeline
from telemetry.radiation.estimator import DoseEstimator, DoseEvent
from telemetry.radiation.physics import SECONDS_PER_DAY
from telemetry.reports.dose_results import (
    LISTED_EVENTS,
    CrewReport,
    DoseReport,
    PlotData,
    SaaSummary,
    career_at,
    limits_at,
    limits_from_snapshot,
    read_notes,
    read_spe_events,
    report_warnings,
    rolling_dose,
    stale_counts,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from telemetry.core.decoding import ChannelBatch
    from telemetry.core.dictionary import TelemetryDictionary
    from telemetry.radiation.estimator import DoseSnapshot
    from telemetry.radiation.roster import DoseLimits, Roster
    from telemetry.radiation.spaceweather import SpeEvent

FloatArray = npt.NDArray[np.float64]

#: Q̄ = H/D assumed when no monitor is fresh, the one the baseline model rate
#: comes from: Area PADLES #1 in Kibo PM, 618 µSv/d over 319 µGy/d
#: (Nagamatsu et al. 2013; radiation.md §2.5, TC3).
BASELINE_QUALITY: Final = 618.0 / 319.0
#: Families whose frames the dose estimator reads (the others are not replayed).
DOSE_FAMILIES: Final = frozenset({b"rad", b"crew", b"orbit", b"spacewx"})
#: Time bins of the report's plots.
PLOT_BINS: Final = 360
_SOURCES: Final = ("personal", "area", "model")


# ---------------------------------------------------------------- the replay


class _Series:
    """Samples of one input channel kept while they may still be held.

    Owned by the thread running the report.
    """

    __slots__ = ("t", "v")

    def __init__(self) -> None:
        self.t: FloatArray = np.empty(0)
        self.v: FloatArray = np.empty(0)

    def append(self, t: FloatArray, v: FloatArray) -> None:
        keep = np.isfinite(v)
        if self.t.shape[0]:
            keep &= t > self.t[-1]
        if keep.any():
            self.t = np.concatenate((self.t, t[keep]))
            self.v = np.concatenate((self.v, v[keep]))

    def held(self, points: FloatArray, stale_s: float) -> FloatArray:
        """Latest value at or before each point; NaN if none or older than stale."""
        values, age = self.held_age(points)
        return np.where(age < stale_s, values, np.nan)

    def held_age(self, points: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Latest value at or before each point and its age (NaN, inf if none)."""
        if self.t.shape[0] == 0:
            n = points.shape[0]
            return np.full(n, np.nan), np.full(n, np.inf)
        idx = np.searchsorted(self.t, points, side="right") - 1
        safe = np.maximum(idx, 0)
        has = idx >= 0
        values = np.where(has, self.v[safe], np.nan)
        return values, np.where(has, points - self.t[safe], np.inf)

    def trim(self, before: float) -> None:
        if self.t.shape[0] < 64:
            return  # a few samples cost less to keep than to cut
        i = int(np.searchsorted(self.t, before, side="right")) - 1
        if i > 0:
            self.t = self.t[i:]
            self.v = self.v[i:]


class _Interpolated:
    """A cumulative quantity, read at fixed query times as its samples stream by.

    Linear between samples (the estimator's rolling history does the same);
    0 before the first one. Owned by the thread running the report.
    """

    def __init__(self, queries: FloatArray) -> None:
        self.q = queries
        self.values = np.zeros(queries.shape[0])
        self.filled = 0
        self.last_t = -math.inf
        self.last_v = 0.0

    def start(self, t: float) -> None:
        """Anchor 0 at ``t`` (when integration began)."""
        if self.last_t == -math.inf:
            self.last_t = t

    def add(self, t: FloatArray, v: FloatArray) -> None:
        if t.shape[0] == 0:
            return
        hi = int(np.searchsorted(self.q, t[-1], side="right"))
        if hi > self.filled:
            qs = self.q[self.filled : hi]
            if self.last_t == -math.inf:
                self.values[self.filled : hi] = np.interp(qs, t, v, left=0.0)
            else:
                xs = np.concatenate(([self.last_t], t))
                ys = np.concatenate(([self.last_v], v))
                self.values[self.filled : hi] = np.interp(qs, xs, ys, left=0.0)
            self.filled = hi
        self.last_t, self.last_v = float(t[-1]), float(v[-1])

    def finish(self, t: float, v: float) -> None:
        """Add the final state; queries after it read it (nothing accrues later)."""
        if t > self.last_t:
            self.add(np.array([t]), np.array([v]))
        self.values[self.filled :] = self.last_v
        self.filled = self.q.shape[0]


class _CrewTap:
    """What the report follows of one crew member (report thread)."""

    def __init__(self, crew_id: str, queries: FloatArray) -> None:
        self.crew_id = crew_id
        self.h = _Interpolated(queries)  # session H, mSv
        self.sigma = _Interpolated(queries)  # absolute 1σ of session H, mSv
        self.d = _Interpolated(queries)  # session D, mGy
        self.d_total = 0.0
        self.h_last = 0.0
        self.t_last = math.nan
        self.quality_last = BASELINE_QUALITY
        self.knots_t: list[float] = []  # session H at rolling-history bins
        self.knots_h: list[float] = []
        self.time_by_source = dict.fromkeys((*_SOURCES, "stale"), 0.0)
        self.personal: str | None = None  # rad source id
        self.pending_rel: tuple[FloatArray, FloatArray] | None = None


class _ReplayTap:
    """Wraps the DoseEstimator in the replay pipeline and watches it work.

    Inputs are recorded before the estimator sees them, so when it emits a
    crew's dose on its output grid, the samples that decided it are at hand:
    the absorbed dose of each step is the step's dose equivalent divided by
    Q̄ = ΣH/ΣD of the monitors the estimator used then (the crew member's
    own dosimeter, else the monitors in their module, else every monitor,
    else the PADLES #1 baseline). Owned by the thread running the report.
    """

    def __init__(
        self,
        estimator: DoseEstimator,
        dictionary: TelemetryDictionary,
        roster: Roster,
        edges: FloatArray,
        queries: FloatArray,
    ) -> None:
        self.estimator = estimator
        cfg = estimator.config
        self.step = cfg.output_interval_s
        self.per_bin = max(1, round(cfg.rolling_bin_s / self.step))
        rad = dictionary.channel("rad", "dose_eq_rate")
        self.rad_stale = rad.stale_after_s if rad else 30.0
        crew_module = dictionary.channel("crew", "module")
        self.module_stale = crew_module.stale_after_s if crew_module else 30.0
        modules = list(dictionary.modules)
        self.modules = modules
        self.monitors: list[tuple[str, int]] = []  # area monitors and module index
        worn_by: dict[str, str] = {}
        for src in dictionary.sources_of("rad"):
            if src.crew is not None:
                worn_by[src.crew] = src.id
            elif src.module is not None and src.module in modules:
                self.monitors.append((src.id, modules.index(src.module)))
        self.rad_ids = [s.id for s in dictionary.sources_of("rad")]
        self.series: dict[str, _Series] = {}
        for sid in self.rad_ids:
            self.series[f"{sid}.absorbed_rate"] = _Series()
            self.series[f"{sid}.dose_eq_rate"] = _Series()
        module_spec = dictionary.channel("crew", "module")
        by_name = {m.casefold(): i for i, m in enumerate(modules)}
        self.module_of_code: dict[int, int] = {}
        if module_spec is not None:
            for name, code in module_spec.states.items():
                if name.casefold() in by_name:
                    self.module_of_code[code] = by_name[name.casefold()]
        self.crew: dict[str, _CrewTap] = {}
        for member in roster.crew:
            tap = _CrewTap(member.id, queries)
            tap.personal = member.personal_dosimeter or worn_by.get(member.id)
            self.crew[member.id] = tap
            self.series[f"{member.id}.module"] = _Series()
        goes = dictionary.sources_of("spacewx")
        orbit = dictionary.sources_of("orbit")
        self.goes_id = goes[0].id if goes else "goes"
        self.orbit_id = orbit[0].id if orbit else "iss"
        orbit_spec = dictionary.channel("orbit", "lat")
        self.orbit_stale = orbit_spec.stale_after_s if orbit_spec else 5.0
        self.first_seen = math.inf
        # Plot bins.
        self.edges = edges
        n = edges.shape[0] - 1
        self.rate_sum = {sid: np.zeros(n) for sid in self.rad_ids}
        self.rate_count = {sid: np.zeros(n) for sid in self.rad_ids}
        self.p10 = np.full(n, np.nan)
        self.p100 = np.full(n, np.nan)
        self.saa_sum = np.zeros(n)
        self.saa_count = np.zeros(n)
        self.saa_last = (math.nan, math.nan)  # (time, flag) of the previous sample
        self.saa_passes = 0
        self.saa_seconds = 0.0
        self.saa_samples = 0
        self.period = (float(edges[0]), float(edges[-1]))
        self.events: list[DoseEvent] = []

    # -- Deriver protocol (the pipeline calls these)

    def derive(self, batches: list[ChannelBatch]) -> list[ChannelBatch]:
        for batch in batches:
            self._record_input(batch.key, batch.times, batch.values)
        out = self.estimator.derive(batches)
        by_key = {b.key: b for b in out}
        for batch in out:
            self._record_output(batch.key, batch.times, batch.values, by_key)
        # Only once every crew member's steps are done: they share the samples.
        done = [c.t_last for c in self.crew.values() if not math.isnan(c.t_last)]
        if done:
            self._trim(min(done))
        return out

    def reset(self) -> None:
        self.estimator.reset()

    def drain_events(self) -> list[DoseEvent]:
        events = self.estimator.drain_events()
        self.events.extend(events)
        return events

    def checkpoint(self) -> object:
        raise TypeError("a dose report reads its period straight through, no seeks")

    def restore(self, state: object) -> None:
        raise TypeError("a dose report reads its period straight through, no seeks")

    # -- inputs

    def _bin(self, t: FloatArray) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        idx = np.searchsorted(self.edges, t, side="right") - 1
        ok = (idx >= 0) & (idx < self.edges.shape[0] - 1)
        return np.where(ok, idx, 0), ok

    def _record_input(self, key: str, t: FloatArray, v: FloatArray) -> None:
        series = self.series.get(key)
        source, _, channel = key.partition(".")
        if series is not None:
            series.append(t, v)
            if t.shape[0]:
                self.first_seen = min(self.first_seen, float(t[0]))
            if channel == "dose_eq_rate":
                idx, ok = self._bin(t)
                good = ok & np.isfinite(v)
                n = self.edges.shape[0] - 1
                self.rate_sum[source] += np.bincount(
                    idx[good], weights=v[good], minlength=n
                )
                self.rate_count[source] += np.bincount(idx[good], minlength=n)
            return
        if source == self.goes_id and channel in ("p10", "p100"):
            idx, ok = self._bin(t)
            good = ok & (v >= 0)
            target = self.p10 if channel == "p10" else self.p100
            vals = np.where(np.isnan(target), -np.inf, target)
            np.maximum.at(vals, idx[good], v[good])
            target[:] = np.where(np.isinf(vals), np.nan, vals)

    # -- outputs

    def _record_output(
        self,
        key: str,
        t: FloatArray,
        v: FloatArray,
        by_key: dict[str, ChannelBatch],
    ) -> None:
        source, _, channel = key.partition(".")
        if source == self.orbit_id and channel == "saa":
            self._record_saa(t, v)
            return
        tap = self.crew.get(source)
        if tap is None or t.shape[0] == 0:
            return
        if channel == "dose_uncertainty":
            # Absolute σ needs the session dose of the same grid (same call).
            h = by_key.get(f"{source}.dose_session")
            if h is not None and h.times.shape == t.shape:
                tap.sigma.start(self.first_seen)
                tap.sigma.add(t, v * h.values)
        elif channel == "dose_session":
            self._record_dose(tap, t, v)

    def _record_dose(self, tap: _CrewTap, t: FloatArray, h: FloatArray) -> None:
        if math.isnan(tap.t_last):
            # The estimator's history starts at 0 when integration starts.
            tap.t_last = self.first_seen
            tap.knots_t.append(self.first_seen)
            tap.knots_h.append(0.0)
            for series in (tap.h, tap.d):
                series.start(self.first_seen)
        prev_t = np.concatenate(([tap.t_last], t[:-1]))
        prev_h = np.concatenate(([tap.h_last], h[:-1]))
        dh = h - prev_h
        quality, source, stale = self._quality(tap, 0.5 * (prev_t + t))
        dd = dh / quality
        d_cum = tap.d_total + np.cumsum(dd)
        tap.h.add(t, h)
        tap.d.add(t, d_cum)
        # Provenance counts the part of each step inside the report's period.
        lo, hi = self.period
        dt_s = np.maximum(np.minimum(t, hi) - np.maximum(prev_t, lo), 0.0)
        for code, name in enumerate(_SOURCES):
            tap.time_by_source[name] += float(dt_s[source == code].sum())
        tap.time_by_source["stale"] += float(dt_s[stale].sum())
        tap.d_total = float(d_cum[-1])
        tap.h_last = float(h[-1])
        tap.t_last = float(t[-1])
        tap.quality_last = float(quality[-1])
        knots = np.round(t / self.step).astype(np.int64) % self.per_bin == 0
        tap.knots_t.extend(t[knots].tolist())
        tap.knots_h.extend(h[knots].tolist())

    def _quality(
        self, tap: _CrewTap, mids: FloatArray
    ) -> tuple[FloatArray, npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """Return Q̄ of the monitors used, the source code and a stale flag per step.

        The choice mirrors the estimator's: own dosimeter if fresh, else the
        fresh monitors in the crew member's (last known) module, else every
        fresh monitor (model scaling), else the baseline. Stale as the
        estimator flags it: location unknown or old, own dosimeter not fresh,
        or the baseline in use.
        """
        n = mids.shape[0]
        stale_s = self.rad_stale
        codes, module_age = self.series[f"{tap.crew_id}.module"].held_age(mids)
        module = np.array(
            [
                self.module_of_code.get(int(c), -1) if c == c else -1
                for c in codes.tolist()
            ],
            dtype=np.intp,
        )
        stale = (module < 0) | (module_age >= self.module_stale)
        quality = np.full(n, np.nan)
        source = np.full(n, 2, dtype=np.intp)
        personal = np.zeros(n, dtype=np.bool_)
        if tap.personal is not None:
            h = self.series[f"{tap.personal}.dose_eq_rate"].held(mids, stale_s)
            d = self.series[f"{tap.personal}.absorbed_rate"].held(mids, stale_s)
            personal = ~np.isnan(h)
            quality = np.where(personal, _ratio(h, d), np.nan)
            source[personal] = 0
            stale |= ~personal
        sum_h = np.zeros(n)
        sum_d = np.zeros(n)
        area_h = np.zeros(n)
        area_d = np.zeros(n)
        in_module = np.zeros(n, dtype=np.bool_)  # a fresh H in the crew's module
        any_fresh = np.zeros(n, dtype=np.bool_)
        for sid, m in self.monitors:
            h = self.series[f"{sid}.dose_eq_rate"].held(mids, stale_s)
            d = self.series[f"{sid}.absorbed_rate"].held(mids, stale_s)
            fresh = ~np.isnan(h)
            any_fresh |= fresh
            in_module |= fresh & (module == m)
            both = fresh & ~np.isnan(d)
            sum_h += np.where(both, h, 0.0)
            sum_d += np.where(both, d, 0.0)
            here = both & (module == m)
            area_h += np.where(here, h, 0.0)
            area_d += np.where(here, d, 0.0)
        source[~personal & in_module] = 1
        stale |= ~personal & ~any_fresh
        # Q̄ falls back along the same chain (also for an H without its D).
        for candidate in (_ratio(area_h, area_d), _ratio(sum_h, sum_d)):
            fill = np.isnan(quality) & ~np.isnan(candidate)
            quality[fill] = candidate[fill]
        quality[np.isnan(quality)] = BASELINE_QUALITY
        return quality, source, stale

    def _trim(self, until: float) -> None:
        before = until - max(self.rad_stale, self.step) - 2 * self.step
        for key, series in self.series.items():
            # Crew modules are held without a stale time: keep the latest one.
            series.trim(before if not key.endswith(".module") else until - self.step)

    def _record_saa(self, t: FloatArray, flag: FloatArray) -> None:
        idx, ok = self._bin(t)
        n = self.edges.shape[0] - 1
        self.saa_sum += np.bincount(idx[ok], weights=flag[ok], minlength=n)
        self.saa_count += np.bincount(idx[ok], minlength=n)
        t0, t1 = self.period
        prev_t, prev_f = self.saa_last
        times = np.concatenate(([prev_t], t))
        flags = np.concatenate(([prev_f], flag))
        inside = (times[1:] >= t0) & (times[1:] < t1)
        rising = (flags[1:] > 0.5) & ~(flags[:-1] > 0.5)
        self.saa_passes += int(np.count_nonzero(rising & inside))
        # Each sample holds until the next, at most the orbit's stale time.
        held = np.minimum(np.diff(times), self.orbit_stale)
        held = np.where(np.isnan(held), 0.0, held)
        self.saa_seconds += float(held[(flags[:-1] > 0.5) & inside].sum())
        self.saa_samples += int(np.count_nonzero(inside))
        self.saa_last = (float(t[-1]), float(flag[-1]))


def _ratio(h: FloatArray, d: FloatArray) -> FloatArray:
    ok = (d > 0) & np.isfinite(h) & (h > 0)
    out = np.full(h.shape[0], np.nan)
    np.divide(h, d, out=out, where=ok)
    return out


# ---------------------------------------------------------------- building


def _period(
    reader: ArchiveReader, start: float | None, end: float | None
) -> tuple[float, float]:
    info = reader.info()
    lo = start if start is not None else info["start"]
    hi = end if end is not None else info["end"]
    if lo is None or hi is None:
        raise ValueError(f"{reader.path}: the archive holds no samples")
    if not hi > lo:
        raise ValueError(
            f"empty period: end {iso_utc(hi)} is not after start {iso_utc(lo)}"
        )
    return float(lo), float(hi)


def replay_dose_report(
    archive: Path | str,
    start: float | None,
    end: float | None,
    wanted: Sequence[str],
    dictionary: TelemetryDictionary,
    roster: Roster,
    limits: DoseLimits,
) -> DoseReport:
    """Replay an archive through a fresh Pipeline and DoseEstimator; collect totals.

    Frames are replayed from the archive's beginning, so career and rolling
    doses at ``end`` include what came before ``start``; period totals are the
    difference of the session dose at ``end`` and at ``start``. ``start`` and
    ``end`` are UTC seconds (None: the archive's first/last sample);
    ``wanted``: the crew ids reported (checked against ``roster``).
    """
    with ArchiveReader(archive) as reader:
        t0, t1 = _period(reader, start, end)
        estimator = DoseEstimator(dictionary, roster, limits)
        edges = np.linspace(t0, t1, PLOT_BINS + 1)
        q_start = -math.inf if start is None else t0
        q_end = math.inf if end is None else t1
        queries = np.unique(np.concatenate((edges, [q_start, q_end])))
        tap = _ReplayTap(estimator, dictionary, roster, edges, queries)
        # A tiny store: the report reads the tap, not the ring buffers.
        pipeline = Pipeline(dictionary, ChannelStore(capacity=16), derivers=[tap])
        # Frames a little past the end let the estimator's watermark pass it.
        margin = estimator.config.lateness_s + 2 * tap.rad_stale
        until = None if end is None else t1 + margin
        frames = 0
        for received, topic, body in reader.iter_frames(None, until):
            # Robots and cabin air do not enter the dose: skipping their frames
            # changes no total and halves the replay time of a live archive.
            if topic.partition(b".")[0] not in DOSE_FAMILIES:
                continue
            pipeline.ingest([topic, body], received)
            frames += 1
        tap.drain_events()
        snap = estimator.snapshot()
        sessions = reader.sessions()
        notes = read_notes(reader, t0, t1)
        spe_events = read_spe_events(reader, tap.goes_id, t0, t1, estimator.config.spe)
    data_start = tap.first_seen if math.isfinite(tap.first_seen) else t0
    if start is None:
        t0 = min(t0, data_start)
    if end is None and math.isfinite(snap.time):
        t1 = max(t1, snap.time)
    crews: list[CrewReport] = []
    for member in roster.crew:
        ctap = tap.crew[member.id]
        dose = snap.member(member.id)
        ctap.h.finish(snap.time, dose.session_msv)
        ctap.sigma.finish(snap.time, dose.uncertainty_rel * dose.session_msv)
        extra = max(dose.session_msv - ctap.h_last, 0.0) / ctap.quality_last
        ctap.d.finish(snap.time, ctap.d_total + extra)
        if member.id not in wanted:
            continue
        crews.append(
            _crew_report(member.id, ctap, queries, q_start, q_end, t0, t1, tap, snap)
        )
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
        crew=crews,
        spe_events=spe_events,
        saa=SaaSummary(tap.saa_passes, tap.saa_seconds, tap.saa_samples),
        events=[
            e
            for e in tap.events
            if t0 <= e.time < t1
            and e.kind in LISTED_EVENTS
            and (e.crew is None or e.crew in wanted)
        ],
        stale_flips=stale_counts(tap.events, t0, t1, wanted),
        notes=notes,
        plots=_plots(tap, edges, queries, wanted, spe_events),
        frames=frames,
        late_samples=snap.late_samples,
        basis=f"{frames} frames replayed",
    )
    report.warnings = report_warnings(report, snap.dropped_events)
    return report


def _crew_report(
    crew_id: str,
    tap: _CrewTap,
    queries: FloatArray,
    q_start: float,
    q_end: float,
    t0: float,
    t1: float,
    replay: _ReplayTap,
    snap: DoseSnapshot,
) -> CrewReport:
    def at(series: _Interpolated, q: float) -> float:
        return float(series.values[int(np.searchsorted(queries, q))])

    dose = snap.member(crew_id)
    member = replay.estimator.roster.member(crew_id)
    h = at(tap.h, q_end) - at(tap.h, q_start)
    d = at(tap.d, q_end) - at(tap.d, q_start)
    sigma = at(tap.sigma, q_end) - at(tap.sigma, q_start)
    session_end = at(tap.h, q_end)
    days = max(t1 - t0, 0.0) / SECONDS_PER_DAY
    rate = h / days if days > 0 else math.nan
    career, career_rule, to_limit = career_at(
        member,
        replay.estimator.limits,
        session_end,
        h,
        days,
        replay.estimator.config.projection_min_days,
    )
    limit = career_rule.limit_msv
    if q_end == math.inf:
        # The end of the data: the estimator's own figures, as live.
        limits = limits_from_snapshot(dose, replay.estimator.limits)
        d30, d1y = dose.dose_30d_msv, dose.dose_1y_msv
    else:
        knots = (tap.knots_t, tap.knots_h)
        limits = limits_at(
            member, replay.estimator.limits, knots, t1, session_end, career
        )
        d30 = rolling_dose(*knots, t1, session_end, 30.0)
        d1y = rolling_dose(*knots, t1, session_end, 365.0)
    worst = max(limits, key=lambda lim: lim.fraction)
    return CrewReport(
        crew_id=crew_id,
        name=member.name,
        agency=member.agency,
        absorbed_mgy=d,
        dose_equivalent_msv=h,
        dose_equivalent_sigma_msv=sigma,
        quality_factor=h / d if d > 0 else math.nan,
        mean_rate_msv_d=rate,
        prior_msv=member.prior_career_msv,
        career_msv=career,
        career_limit_msv=limit,
        career_fraction=career / limit,
        days_to_career_limit=to_limit,
        dose_30d_msv=d30,
        dose_1y_msv=d1y,
        worst_limit=worst.id,
        worst_limit_fraction=worst.fraction,
        time_personal_s=tap.time_by_source["personal"],
        time_area_s=tap.time_by_source["area"],
        time_model_s=tap.time_by_source["model"],
        time_stale_s=tap.time_by_source["stale"],
        career_rule=career_rule,
        limits=limits,
    )


def _plots(
    tap: _ReplayTap,
    edges: FloatArray,
    queries: FloatArray,
    wanted: Sequence[str],
    spe_events: list[SpeEvent],
) -> PlotData:
    at_edges = np.searchsorted(queries, edges)
    cumulative = {}
    for crew_id in wanted:
        h = tap.crew[crew_id].h.values[at_edges]
        cumulative[crew_id] = h - h[0]
    module_rate: dict[str, FloatArray] = {}
    sums: dict[str, tuple[FloatArray, FloatArray]] = {}
    for sid, m in tap.monitors:
        name = tap.modules[m]
        s, c = sums.get(
            name, (np.zeros(edges.shape[0] - 1), np.zeros(edges.shape[0] - 1))
        )
        sums[name] = (s + tap.rate_sum[sid], c + tap.rate_count[sid])
    for name, (s, c) in sums.items():
        module_rate[name] = np.where(c > 0, s / np.maximum(c, 1), np.nan)
    for crew_id in wanted:
        personal = tap.crew[crew_id].personal
        if personal is not None and personal in tap.rate_sum:
            s, c = tap.rate_sum[personal], tap.rate_count[personal]
            module_rate[f"{crew_id} personal ({personal})"] = np.where(
                c > 0, s / np.maximum(c, 1), np.nan
            )
    saa = np.where(tap.saa_count > 0, tap.saa_sum / np.maximum(tap.saa_count, 1), 0.0)
    t1 = float(edges[-1])
    spe = [(e.onset, e.end if e.end is not None else t1) for e in spe_events]
    return PlotData(edges, cumulative, module_rate, tap.p10, tap.p100, saa, spe)
