"""Crew dose report: an archive period replayed through the live dose estimator.

Owns the replay tap (absorbed dose, plot bins, events), the report data and
its JSON, CSV and self-contained HTML (inline SVG, every string escaped).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import numpy.typing as npt

from telemetry.archive.store import ArchiveReader, csv_text, iso_utc
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.core.text import escape_html, utc_text
from telemetry.radiation.estimator import DoseEstimator, DoseEvent, DoseEventKind
from telemetry.radiation.physics import SECONDS_PER_DAY, SECONDS_PER_HOUR
from telemetry.radiation.roster import (
    DEFAULT_LIMITS,
    DEFAULT_ROSTER,
    CareerLimit,
    DoseLimits,
    Roster,
    load_limits,
    load_roster,
)
from telemetry.radiation.spaceweather import (
    S_SCALE_THRESHOLDS_PFU,
    SpeEvent,
    detect_spe,
    s_label,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from telemetry.core.decoding import ChannelBatch
    from telemetry.radiation.estimator import CrewDose, DoseSnapshot

FloatArray = npt.NDArray[np.float64]
Format = Literal["json", "csv", "html"]
FORMATS: Final = ("json", "csv", "html")

#: Q̄ = H/D assumed when no monitor is fresh, the one the baseline model rate
#: comes from: Area PADLES #1 in Kibo PM, 618 µSv/d over 319 µGy/d
#: (Nagamatsu et al. 2013; radiation.md §2.5, TC3).
BASELINE_QUALITY: Final = 618.0 / 319.0
#: Families whose frames the dose estimator reads (the others are not replayed).
DOSE_FAMILIES: Final = frozenset({b"rad", b"crew", b"orbit", b"spacewx"})
#: Time bins of the report's plots.
PLOT_BINS: Final = 360
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
_SOURCES: Final = ("personal", "area", "model")
# SPE transitions, shelter advice and limit alerts are listed one by one;
# stale/fresh flips can come by the hundred, so they are counted.
_LISTED_EVENTS: Final = frozenset(
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
    warnings: list[str] = field(default_factory=list)
    generated: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        crew = {}
        for c in self.crew:
            entry = {k: _json_number(v) for k, v in c.row().items() if k != "crew_id"}
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
            "frames_replayed": self.frames,
            "late_samples": self.late_samples,
            "warnings": self.warnings,
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


def build_dose_report(
    archive: Path | str,
    start: float | None = None,
    end: float | None = None,
    crew: Sequence[str] | None = None,
    *,
    dictionary: TelemetryDictionary | None = None,
    roster_path: Path | str | None = None,
    limits_path: Path | str | None = None,
) -> DoseReport:
    """Replay an archive through a fresh Pipeline and DoseEstimator; collect totals.

    Parameters
    ----------
    archive : Path or str
        A console archive, opened read-only (nothing is written to it).
    start, end : float or None
        UTC seconds; None means the archive's first/last sample. Frames are
        replayed from the archive's beginning, so career and rolling doses at
        ``end`` include what came before ``start``; period totals are the
        difference of the session dose at ``end`` and at ``start``.
    crew : sequence of str or None
        Crew ids to report (all when None); an unknown id raises ValueError.
    dictionary, roster_path, limits_path
        What the estimator runs with; defaults are the shipped files.

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
        notes = _notes(reader, t0, t1)
        spe_events = _spe_events(reader, tap.goes_id, t0, t1, estimator)
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
            and e.kind in _LISTED_EVENTS
            and (e.crew is None or e.crew in wanted)
        ],
        stale_flips=_stale_counts(tap.events, t0, t1, wanted),
        notes=notes,
        plots=_plots(tap, edges, queries, wanted, spe_events),
        frames=frames,
        late_samples=snap.late_samples,
    )
    report.warnings = _warnings(report, snap.dropped_events)
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
    # Career is effective dose E: area H converted as the estimator does.
    e_per_h = replay.estimator.limits.conversion.effective_per_h
    career = member.prior_career_msv + e_per_h * session_end
    career_rule = replay.estimator.limits.career_limit(
        member.agency, member.sex, member.age_at_first_flight
    )
    limit = career_rule.limit_msv
    days = max(t1 - t0, 0.0) / SECONDS_PER_DAY
    rate = h / days if days > 0 else math.nan
    remaining = limit - career
    if remaining <= 0:
        to_limit = 0.0
    elif rate > 0:
        to_limit = remaining / (e_per_h * rate)  # E left / E per day
    else:
        to_limit = math.inf
    if q_end == math.inf:
        # The end of the data: the estimator's own figures, as live.
        limits = _limits_from_snapshot(dose, replay.estimator.limits)
        d30, d1y = dose.dose_30d_msv, dose.dose_1y_msv
    else:
        limits = _limits_at(tap, t1, session_end, career, replay)
        d30 = _rolling(tap, t1, session_end, 30.0)
        d1y = _rolling(tap, t1, session_end, 365.0)
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


def _alert(limits: DoseLimits, fraction: float) -> str:
    name = ""
    for level in limits.alert_levels:
        if fraction >= level.fraction:
            name = level.name
    return name


def _limits_from_snapshot(dose: CrewDose, limits: DoseLimits) -> tuple[LimitAtEnd, ...]:
    return tuple(
        LimitAtEnd(
            s.id,
            s.label,
            s.limit,
            s.unit,
            s.window_days,
            s.dose,
            s.fraction,
            _alert(limits, s.fraction),
            s.source,
            s.status,
        )
        for s in dose.limits
    )


def _rolling(tap: _CrewTap, t: float, session: float, days: float) -> float:
    """Dose in (t - days, t]: the estimator's method (linear between bin knots)."""
    if not tap.knots_t:
        return session
    before = float(np.interp(t - days * SECONDS_PER_DAY, tap.knots_t, tap.knots_h, 0.0))
    return session - before


def _limits_at(
    tap: _CrewTap, t: float, session: float, career: float, replay: _ReplayTap
) -> tuple[LimitAtEnd, ...]:
    estimator = replay.estimator
    member = estimator.roster.member(tap.crew_id)
    rule = estimator.limits.career_limit(
        member.agency, member.sex, member.age_at_first_flight
    )
    out = [
        LimitAtEnd(
            "career",
            f"career ({member.agency})",
            rule.limit_msv,
            "mSv",
            None,
            career,
            career / rule.limit_msv,
            _alert(estimator.limits, career / rule.limit_msv),
            rule.source,
            rule.status,
        )
    ]
    conversion = estimator.limits.conversion
    for s in estimator.limits.evaluated_short_term():
        # Each organ limit in its own quantity (mGy-Eq, mGy), from area H.
        dose = _rolling(tap, t, session, s.window_days) * conversion.per_h(
            s.unit, s.organ
        )
        out.append(
            LimitAtEnd(
                s.id,
                f"{s.organ} {s.window_days:g} d",
                s.limit,
                s.unit,
                s.window_days,
                dose,
                dose / s.limit,
                _alert(estimator.limits, dose / s.limit),
                s.source,
                s.status,
            )
        )
    return tuple(out)


def _stale_counts(
    events: list[DoseEvent], t0: float, t1: float, wanted: list[str]
) -> dict[str, int]:
    counts = dict.fromkeys(wanted, 0)
    for e in events:
        stale = e.kind == DoseEventKind.DATA_STALE and t0 <= e.time < t1
        if stale and e.crew in counts:
            counts[str(e.crew)] += 1
    return counts


def _notes(reader: ArchiveReader, t0: float, t1: float) -> list[tuple[float, str, str]]:
    out = [(b.time, b.author, b.text) for b in reader.bookmarks() if t0 <= b.time < t1]
    for a in reader.actions(t0, t1):
        if a.action == "note" or a.comment:
            out.append((a.time, a.operator, f"{a.action} {a.target}: {a.comment}"))
    return sorted(out)


def _spe_events(
    reader: ArchiveReader,
    goes_id: str,
    t0: float,
    t1: float,
    estimator: DoseEstimator,
) -> list[SpeEvent]:
    """SPEs in the period, by the same detector as live, on the archived GOES flux."""
    try:
        ta, p10 = reader.channel_window(f"{goes_id}.p10", None, t1)
        tb, p100 = reader.channel_window(f"{goes_id}.p100", None, t1)
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
    events = detect_spe(times, a, b, estimator.config.spe)
    return [e for e in events if (e.end is None or e.end >= t0) and e.onset < t1]


def _plots(
    tap: _ReplayTap,
    edges: FloatArray,
    queries: FloatArray,
    wanted: list[str],
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


def _warnings(report: DoseReport, dropped: int) -> list[str]:
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

CSS: Final = """
body { font-family: system-ui, sans-serif; margin: 1.5em 2em; color: #1d2430;
       max-width: 1100px; }
h1 { font-size: 1.45em; margin-bottom: 0.2em; }
h2 { font-size: 1.1em; margin-top: 1.8em; border-bottom: 1px solid #c8cdd6; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.92em; }
th, td { border: 1px solid #c8cdd6; padding: 0.25em 0.55em; text-align: left;
         vertical-align: top; }
th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.meta td { border: none; padding: 0.1em 0.8em 0.1em 0; }
.watch { color: #0a6ea0; } .warning { color: #a85d00; font-weight: 600; }
.critical { color: #cf222e; font-weight: 700; } .muted { color: #6e7781; }
.warn { background: #fff4e0; border-left: 4px solid #e2a13a; padding: 0.4em 0.8em; }
figure { margin: 1em 0; } figcaption { font-size: 0.85em; color: #57606a; }
svg text { font-family: system-ui, sans-serif; }
"""
# Crew and module colours of the plots (print-friendly, distinguishable).
_COLORS: Final = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd",
    "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
)  # fmt: skip


_esc = escape_html


def _utc(t: float | None) -> str:
    return utc_text(t, "—")


def _num(value: float, digits: int = 3) -> str:
    if not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    mag = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - mag)
    return f"{value:.{decimals}f}"


def _days(value: float) -> str:
    if math.isinf(value):
        return "not reached"
    if not math.isfinite(value):
        return "—"
    return f"{value:,.0f} d" if value >= 10 else f"{value:.1f} d"


def _pct(fraction: float) -> str:
    return "—" if not math.isfinite(fraction) else f"{fraction * 100:.1f} %"


def _alert_class(limits: DoseLimits, fraction: float) -> str:
    cls = ""
    for level in limits.alert_levels:
        if fraction >= level.fraction:
            cls = level.severity.name.lower()
    return cls


def _svg_chart(
    series: list[tuple[str, str, FloatArray, FloatArray]],
    t0: float,
    t1: float,
    *,
    title: str,
    unit: str,
    log_y: bool = False,
    spans: Sequence[tuple[float, float, str, float]] = (),
    refs: Sequence[tuple[float, str, str]] = (),
    y_range: tuple[float, float] | None = None,
    width: int = 1000,
    height: int = 260,
) -> str:
    """Draw a line chart as inline SVG: UTC time axis, optional log Y, spans."""
    left, right, top, bottom = 64, 150, 26, 36
    pw, ph = width - left - right, height - top - bottom
    values = [
        y[np.isfinite(y) & ((y > 0) if log_y else True)] for _n, _c, _x, y in series
    ]
    finite = np.concatenate(values) if values else np.empty(0)
    if y_range is not None:
        lo, hi = y_range
    elif finite.size:
        lo, hi = float(finite.min()), float(finite.max())
    else:
        lo, hi = (1.0, 10.0) if log_y else (0.0, 1.0)
    if log_y:
        lo, hi = math.log10(max(lo, 1e-12)), math.log10(max(hi, 1e-12))
        lo, hi = math.floor(lo), math.ceil(hi)
        if hi <= lo:
            hi = lo + 1
    else:
        if y_range is None:
            lo = min(lo, 0.0)
        if hi <= lo:
            hi = lo + 1.0
        hi += 0.05 * (hi - lo)
    span_t = max(t1 - t0, 1e-9)

    def x_of(t: FloatArray) -> FloatArray:
        return left + (t - t0) / span_t * pw

    def y_of(v: FloatArray) -> FloatArray:
        vv = np.log10(np.where(v > 0, v, np.nan)) if log_y else v
        return top + ph - (vv - lo) / (hi - lo) * ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_esc(title)}">',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fbfcfd" '
        'stroke="#c8cdd6"/>',
        f'<text x="{left}" y="16" font-size="13" font-weight="600">'
        f"{_esc(title)}</text>",
    ]
    for a, b, color, opacity in spans:
        xa = float(x_of(np.array([max(a, t0)]))[0])
        xb = float(x_of(np.array([min(b, t1)]))[0])
        if xb > xa:
            out.append(
                f'<rect x="{xa:.1f}" y="{top}" width="{max(xb - xa, 0.8):.1f}" '
                f'height="{ph}" fill="{_esc(color)}" fill-opacity="{opacity}"/>'
            )
    # Y grid and labels.
    if log_y:
        ticks = [(float(10.0**k), float(k)) for k in range(int(lo), int(hi) + 1)]
        step = max(1, math.ceil(len(ticks) / 7))
        ticks = ticks[::step]
    else:
        raw = (hi - lo) / 5
        mag = 10 ** math.floor(math.log10(raw))
        nice = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
        first = math.ceil(lo / nice) * nice
        ticks = [(v, v) for v in np.arange(first, hi, nice).tolist()]
    for value, pos in ticks:
        y = top + ph - (pos - lo) / (hi - lo) * ph
        label = f"{value:g}" if not log_y else _log_label(value)
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#e3e7ec"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" '
            f'text-anchor="end">{_esc(label)}</text>'
        )
    out.append(
        f'<text x="14" y="{top + ph / 2:.0f}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + ph / 2:.0f})">{_esc(unit)}</text>'
    )
    # Time ticks.
    for tick in _time_ticks(t0, t1):
        x = float(x_of(np.array([tick]))[0])
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + ph}" '
            'stroke="#eef0f3"/>'
            f'<text x="{x:.1f}" y="{top + ph + 15}" font-size="11" '
            f'text-anchor="middle">{_esc(_tick_label(tick, t1 - t0))}</text>'
        )
    out.append(
        f'<text x="{left + pw}" y="{height - 4}" font-size="10" text-anchor="end" '
        'fill="#57606a">UTC</text>'
    )
    for value, label, color in refs:
        if log_y and value <= 0:
            continue
        y = float(y_of(np.array([value]))[0])
        if not top <= y <= top + ph:
            continue
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{_esc(color)}" stroke-dasharray="4 3"/>'
            f'<text x="{left + pw - 4}" y="{y - 3:.1f}" font-size="10" '
            f'text-anchor="end" fill="{_esc(color)}">{_esc(label)}</text>'
        )
    for i, (name, color, xs, ys) in enumerate(series):
        out.extend(_polylines(x_of(xs), y_of(ys), color))
        ly = top + 12 + 16 * i
        out.append(
            f'<line x1="{left + pw + 10}" x2="{left + pw + 28}" y1="{ly - 4}" '
            f'y2="{ly - 4}" stroke="{_esc(color)}" stroke-width="2.5"/>'
            f'<text x="{left + pw + 33}" y="{ly}" font-size="11">{_esc(name)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _polylines(x: FloatArray, y: FloatArray, color: str) -> list[str]:
    """Polylines through the finite points, broken where the data has a gap.

    Empty plot bins are skipped (a 0.1 Hz monitor leaves most 4-s bins empty);
    a step over three median spacings is a gap and is not joined.
    """
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.shape[0] == 0:
        return []
    steps = np.diff(x)
    limit = 3.0 * float(np.median(steps)) if steps.shape[0] else math.inf
    out = []
    for run in np.split(np.arange(x.shape[0]), np.flatnonzero(steps > limit) + 1):
        if run.size == 1:
            out.append(
                f'<circle cx="{x[run[0]]:.1f}" cy="{y[run[0]]:.1f}" r="1.5" '
                f'fill="{_esc(color)}"/>'
            )
            continue
        pairs = zip(x[run].tolist(), y[run].tolist(), strict=True)
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in pairs)
        out.append(
            f'<polyline fill="none" stroke="{_esc(color)}" stroke-width="1.6" '
            f'stroke-linejoin="round" points="{points}"/>'
        )
    return out


_SUPERSCRIPT: Final = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _log_label(value: float) -> str:
    if 1e-2 <= value <= 1e3:
        return f"{value:g}"
    return "10" + str(round(math.log10(value))).translate(_SUPERSCRIPT)


def _time_ticks(t0: float, t1: float) -> list[float]:
    span = t1 - t0
    for step in (
        60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400,
        7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 182 * 86400, 365 * 86400,
    ):  # fmt: skip
        if span / step <= 8:
            break
    first = math.ceil(t0 / step) * step
    return [float(t) for t in np.arange(first, t1 + 1e-9, step)]


def _tick_label(t: float, span: float) -> str:
    stamp = datetime.fromtimestamp(t, UTC)
    if span <= 2 * 86400:
        return (
            stamp.strftime("%H:%M")
            if stamp.hour or stamp.minute
            else stamp.strftime("%m-%d")
        )
    return stamp.strftime("%m-%d")


def _plots_html(report: DoseReport) -> list[str]:
    plots = report.plots
    edges = plots.edges
    t0, t1 = float(edges[0]), float(edges[-1])
    mids = 0.5 * (edges[:-1] + edges[1:])
    out = ["<h2>Plots</h2>"]
    crew_series = [
        (
            f"{c.crew_id} {c.name}",
            _COLORS[i % len(_COLORS)],
            edges,
            plots.crew_cumulative[c.crew_id],
        )
        for i, c in enumerate(report.crew)
    ]
    out.append(
        "<figure>"
        + _svg_chart(
            crew_series,
            t0,
            t1,
            title="Dose equivalent accrued in the period",
            unit="mSv",
        )
        + "<figcaption>Estimated dose equivalent H per crew member since the start "
        "of the period (same estimator as the live console).</figcaption></figure>"
    )
    module_series = []
    for i, (name, rate) in enumerate(plots.module_rate.items()):
        module_series.append((name, _COLORS[(i + 4) % len(_COLORS)], mids, rate))
    saa_spans = [
        (float(edges[i]), float(edges[i + 1]), "#3fa6d4", 0.12 + 0.3 * float(f))
        for i, f in enumerate(plots.saa.tolist())
        if f > 0
    ]
    out.append(
        "<figure>"
        + _svg_chart(
            module_series,
            t0,
            t1,
            title="Dose-equivalent rate by module (bin means); SAA passes shaded",
            unit="µSv/h",
            log_y=True,
            spans=saa_spans,
        )
        + f"<figcaption>{len(edges) - 1} bins of "
        f"{_esc(_duration((t1 - t0) / (len(edges) - 1)))}; blue shading: share of "
        "the bin spent in the SAA (MinXSS polygon).</figcaption></figure>"
    )
    goes_series = [
        (">10 MeV", "#d62728", mids, plots.p10),
        (">100 MeV", "#9467bd", mids, plots.p100),
    ]
    refs = [
        (v, f"S{i + 1}", "#cf222e" if i >= 2 else "#a85d00" if i == 1 else "#0a6ea0")
        for i, v in enumerate(S_SCALE_THRESHOLDS_PFU)
    ]
    refs.append((1.0, "energetic (>100 MeV)", "#6e40c9"))
    spe_spans = [(a, b, "#e2a13a", 0.18) for a, b in plots.spe]
    out.append(
        "<figure>"
        + _svg_chart(
            goes_series,
            t0,
            t1,
            title="GOES integral proton flux (bin maxima); SPEs shaded",
            unit="pfu",
            log_y=True,
            spans=spe_spans,
            refs=refs,
            y_range=(0.01, 2e5),
        )
        + "<figcaption>NOAA S-scale thresholds on the >10 MeV flux (inclusive); "
        "energetic SPE at >100 MeV &ge; 1 pfu (NRC 2000).</figcaption></figure>"
    )
    return out


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


def render_html(report: DoseReport) -> str:
    """Render a self-contained page for the officer's file (every string escaped)."""
    limits = report.limits
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Crew dose report {_esc(_utc(report.start))} to "
        f"{_esc(_utc(report.end))}</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Crew radiation dose report</h1>",
        "<table class='meta'>",
        f"<tr><td>Period</td><td><b>{_esc(_utc(report.start))}</b> to "
        f"<b>{_esc(_utc(report.end))}</b> "
        f"({_esc(_duration(report.end - report.start))})</td></tr>",
        f"<tr><td>Archive</td><td><code>{_esc(report.archive)}</code> "
        f"({report.frames} frames replayed)</td></tr>",
        f"<tr><td>Telemetry dictionary</td><td>version "
        f"{_esc(report.dictionary_version)} "
        f"<span class='muted'>sha256 {_esc(report.dictionary_sha256[:16])}…</span>"
        "; recorded with "
        + ", ".join(_esc(v) for v, _s in report.archive_dictionary)
        + "</td></tr>",
        f"<tr><td>Crew roster / dose limits</td><td>roster "
        f"{_esc(report.roster_version)} · limits {_esc(limits.version)} "
        f"<span class='muted'>({_esc(limits.path.name)})</span></td></tr>",
        f"<tr><td>Generated</td><td>{_esc(_utc(report.generated))}</td></tr>",
        "</table>",
    ]
    for warning in report.warnings:
        out.append(f"<p class='warn'>{_esc(warning)}</p>")

    out.append("<h2>Dose per crew member</h2>")
    out.append(
        "<table><tr><th>Crew</th><th>Agency</th><th>H in period (mSv) ±1σ</th>"
        "<th>D in period (mGy)</th><th>Q̄ = H/D</th><th>Mean rate (mSv/d)</th>"
        "<th>Prior (mSv)</th><th>Career (mSv)</th><th>Career limit (mSv)</th>"
        "<th>Used</th><th>Days to career limit</th><th>30-d / 1-yr H (mSv)</th>"
        "<th>Estimate basis</th></tr>"
    )
    for c in report.crew:
        cls = _alert_class(limits, c.career_fraction)
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
        out.append(
            f"<tr><td><b>{_esc(c.crew_id)}</b> {_esc(c.name)}</td>"
            f"<td>{_esc(c.agency)}</td>"
            f"<td class='num'>{_num(c.dose_equivalent_msv)} ± "
            f"{_num(c.dose_equivalent_sigma_msv, 2)}</td>"
            f"<td class='num'>{_num(c.absorbed_mgy)}</td>"
            f"<td class='num'>{_num(c.quality_factor)}</td>"
            f"<td class='num'>{_num(c.mean_rate_msv_d)}</td>"
            f"<td class='num'>{_num(c.prior_msv, 4)}</td>"
            f"<td class='num'>{_num(c.career_msv, 4)}</td>"
            f"<td class='num'>{c.career_limit_msv:g}</td>"
            f"<td class='num {cls}'>{_pct(c.career_fraction)}</td>"
            f"<td class='num'>{_esc(_days(c.days_to_career_limit))}</td>"
            f"<td class='num'>{_num(c.dose_30d_msv)} / {_num(c.dose_1y_msv)}</td>"
            f"<td>{_esc(basis or '—')}</td></tr>"
        )
    out.append("</table>")
    out.append(
        "<p class='muted'>Days to the career limit at the period's mean rate. "
        "Career = prior career dose (roster) + the dose equivalent estimated from "
        "the start of the archive to the end of the period.</p>"
    )

    out.append("<h2>Limits at the end of the period</h2>")
    out.append(
        "<table><tr><th>Crew</th><th>Limit</th><th>Dose</th><th>Limit value</th>"
        "<th>Used</th><th>Alert</th><th>Source [status]</th></tr>"
    )
    for c in report.crew:
        for lim in _binding_limits(c.limits):
            cls = _alert_class(limits, lim.fraction)
            out.append(
                f"<tr><td>{_esc(c.crew_id)}</td><td>{_esc(lim.label)}</td>"
                f"<td class='num'>{_num(lim.dose, 4)} {_esc(lim.unit)}</td>"
                f"<td class='num'>{lim.limit:g} {_esc(lim.unit)}</td>"
                f"<td class='num {cls}'>{_pct(lim.fraction)}</td>"
                f"<td class='{cls}'>{_esc(lim.alert or '—')}</td>"
                f"<td>{_esc(lim.source)} [{_esc(lim.status)}]</td></tr>"
            )
    out.append("</table>")
    out.append(
        "<p class='muted'>Per crew member: the career limit and the most used "
        "limit of each rolling window. The other limits of a window are compared "
        "with the same H and have larger values; every limit is in the JSON "
        "output.</p>"
    )

    out.extend(_plots_html(report))
    out.extend(_space_weather_html(report))
    out.extend(_events_html(report))
    out.extend(_method_html(report))
    out.append("</body></html>\n")
    return "\n".join(out)


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


def _space_weather_html(report: DoseReport) -> list[str]:
    out = ["<h2>Solar particle events and SAA passes</h2>"]
    if report.spe_events:
        out.append(
            "<table><tr><th>Onset</th><th>End</th><th>Peak &gt;10 MeV</th>"
            "<th>S-level</th><th>Peak &gt;100 MeV</th><th>Energetic from</th>"
            "<th>Fluence &gt;10 / &gt;100 MeV (cm⁻²)</th></tr>"
        )
        for e in report.spe_events:
            end = _utc(e.end) if e.end is not None else "ongoing"
            energetic = (
                _utc(e.energetic_onset) if e.energetic_onset is not None else "—"
            )
            out.append(
                f"<tr><td>{_esc(_utc(e.onset))}</td><td>{_esc(end)}</td>"
                f"<td class='num'>{e.peak_p10:.4g} pfu at "
                f"{_esc(_utc(e.peak_p10_time))}</td>"
                f"<td class='critical'>{_esc(s_label(e.s_level))}</td>"
                f"<td class='num'>{e.peak_p100:.3g} pfu</td>"
                f"<td>{_esc(energetic)}</td>"
                f"<td class='num'>{e.fluence_p10:.3g} / {e.fluence_p100:.3g}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p>No solar particle event in the period.</p>")
    saa = report.saa
    out.append(
        f"<p>SAA passes in the period: <b>{saa.passes}</b>, "
        f"{_esc(_duration(saa.seconds))} inside the SAA "
        f"(from {saa.samples} ground-track samples).</p>"
    )
    return out


def _events_html(report: DoseReport) -> list[str]:
    out = ["<h2>Alerts and advisories</h2>"]
    if report.events:
        out.append(
            "<table><tr><th>Time</th><th>Kind</th><th>Level</th><th>Crew</th>"
            "<th>Message</th></tr>"
        )
        for e in report.events:
            level = e.severity.name.lower()
            out.append(
                f"<tr><td>{_esc(_utc(e.time))}</td><td>{_esc(e.kind)}</td>"
                f"<td class='{_esc(level)}'>{_esc(e.severity.name)}</td>"
                f"<td>{_esc(e.crew or '')}</td><td>{_esc(e.message)}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p>No dose alert, SPE or shelter advisory in the period.</p>")
    flips = {k: v for k, v in report.stale_flips.items() if v}
    if flips:
        out.append(
            "<p>Estimates that fell back on stale data: "
            + ", ".join(f"{_esc(k)} {v}×" for k, v in flips.items())
            + ".</p>"
        )
    out.append("<h2>Operator notes</h2>")
    if report.notes:
        out.append("<table><tr><th>Time</th><th>Author</th><th>Note</th></tr>")
        for t, author, text in report.notes:
            out.append(
                f"<tr><td>{_esc(_utc(t))}</td><td>{_esc(author)}</td>"
                f"<td>{_esc(text)}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p class='muted'>No note in the period.</p>")
    return out


def _method_html(report: DoseReport) -> list[str]:
    limits = report.limits
    cfg = report.roster.estimator
    unc = cfg.uncertainty
    out = [
        "<h2>Method</h2>",
        "<p>The archived frames are replayed in process through a fresh telemetry "
        "pipeline and dose estimator: the same code, dictionary, roster and limits "
        "as the live console, so the same data give the same totals. Nothing is "
        "written to the archive. Frames are replayed from the start of the archive "
        "so that career and rolling doses include what came before the period; "
        "period totals are the difference of the estimated session dose at the end "
        "and at the start of the period.</p>",
        "<p><b>Dose equivalent H</b> (mSv): per crew member, the first that applies "
        "at each instant: their own active dosimeter; the mean of the fresh area "
        "monitors in the module they are in; the monitors elsewhere scaled by the "
        "modules' shielding factors; the baseline model rate "
        f"({cfg.model_rate_usv_h:g} µSv/h, Area PADLES #1) flagged stale. Area H "
        f"is multiplied by the body factor f_body = {cfg.body_shielding_factor:g} "
        "(1 = conservative). Integrated by sample time (radiation.md §4.1).</p>",
        "<p><b>Absorbed dose D</b> (mGy, tissue): the estimator integrates H only. "
        "D is derived here for each 10-s output step as ΔH / Q̄, where Q̄ = ΣH/ΣD is "
        "the mean quality factor of the dosimeters the estimator used in that step "
        "(the same order of choice as above, from their <code>dose_eq_rate</code> "
        "and <code>absorbed_rate</code>), evaluated at the middle of the step; when "
        f"no monitor is fresh, Q̄ = 618/319 = {BASELINE_QUALITY:.3f} (Area PADLES "
        "#1, Nagamatsu et al. 2013). Q̄ in the crew table is H/D over the period.</p>",
        "<p><b>Quantities.</b> Career limits are in effective dose E: E = "
        "0.80 × area H (MATROSHKA-R phantom, upper end of E/H 0.65-0.80). "
        "Short-term limits are in mGy-Eq (RBE-weighted organ dose: H / Q̄ × "
        "organ depth factor × RBE) or mGy (CNS), each compared in its own unit "
        "(<code>dose_limits.toml [conversion]</code>, docs/dosimetry.md); a CNS "
        "heavy-ion limit cannot be estimated from H and is not evaluated.</p>",
        "<p><b>Uncertainty</b> (1σ): relative components per estimate source, "
        "combined in quadrature; successive intervals add linearly (systematic). "
        "Components:</p><table><tr><th>Component</th><th>Relative 1σ</th>"
        "<th>Applies to</th></tr>",
    ]
    for name, value in unc.components.items():
        users = [s for s, names in unc.sources.items() if name in names]
        out.append(
            f"<tr><td>{_esc(name)}</td><td class='num'>{value:.3g}</td>"
            f"<td>{_esc(', '.join(users))}</td></tr>"
        )
    out.append("</table>")
    out.append(
        "<p>No separate 1σ is given for D: the components above except the "
        "quality-factor convention apply to it as well, plus the error of the "
        "monitors' own H/D ratio.</p>"
    )
    out.append("<h2>Limits and their sources</h2>")
    out.append(
        f"<p>From <code>{_esc(limits.path.name)}</code> version "
        f"{_esc(limits.version)}. Status: V = checked in a retrieved source, R = "
        "recalled, verify before flight use, D = design choice.</p>"
    )
    out.append(
        "<table><tr><th>Crew</th><th>Career limit</th><th>Source</th><th>Date</th>"
        "<th>Status</th><th>Note</th></tr>"
    )
    for c in report.crew:
        rule = c.career_rule
        out.append(
            f"<tr><td>{_esc(c.crew_id)} ({_esc(c.agency)})</td>"
            f"<td class='num'>{rule.limit_msv:g} mSv</td><td>{_esc(rule.source)}</td>"
            f"<td>{_esc(rule.date)}</td><td>{_esc(rule.status)}</td>"
            f"<td>{_esc(rule.note)}</td></tr>"
        )
    out.append("</table>")
    out.append(
        "<table><tr><th>Short-term limit</th><th>Window</th><th>Limit</th>"
        "<th>Evaluated</th><th>Source</th><th>Status</th></tr>"
    )
    for s in limits.short_term:
        out.append(
            f"<tr><td>{_esc(s.organ)}</td><td class='num'>{s.window_days:g} d</td>"
            f"<td class='num'>{s.limit:g} {_esc(s.unit)}</td>"
            f"<td>{'yes' if s.evaluate else 'no'}</td><td>{_esc(s.source)}</td>"
            f"<td>{_esc(s.status)}</td></tr>"
        )
    out.append("</table>")
    levels = ", ".join(
        f"{_esc(lv.name)} at {lv.fraction * 100:g} %" for lv in limits.alert_levels
    )
    out.append(
        f"<p>Administrative alert levels: {levels} "
        f"<span class='muted'>({_esc(limits.alert_source)})</span>.</p>"
    )
    return out
