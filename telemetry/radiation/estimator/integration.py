"""Dose integration by sample time: watermark, crew rates, rolling sums, budgets.

:class:`Integrator` works on an :class:`EstimatorState` on the telemetry-pipeline
thread (or whichever thread drives the estimator). The integral's breakpoints
are the inputs' own samples and expiries, so the totals depend on sample
times only, not on how the samples were batched or when they arrived.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from telemetry.core.severity import Severity
from telemetry.core.units import format_dose, gmt_text
from telemetry.radiation.estimator import alerts
from telemetry.radiation.estimator.model import (
    FALLBACK_CODES,
    SOURCE_CODES,
    Batch,
    DoseEvent,
    DoseEventKind,
    Fallback,
    FloatArray,
)
from telemetry.radiation.estimator.setup import EVA_INDEX
from telemetry.radiation.estimator.streams import CumulativeHistory
from telemetry.radiation.physics import SECONDS_PER_DAY, SECONDS_PER_HOUR

if TYPE_CHECKING:
    from telemetry.radiation.estimator.alerts import Emit
    from telemetry.radiation.estimator.setup import CrewSetup, EstimatorSetup
    from telemetry.radiation.estimator.state import CrewState, EstimatorState
    from telemetry.radiation.roster import DoseLimits

#: Output-grid points one integration step may produce (~11.6 d at 10 s).
MAX_GRID_POINTS: Final = 100_000
#: Late data is folded in at most once per this much integrated sample time
#: (and whenever a snapshot or the ledger bins are read): a feed that is late
#: on every message must not re-integrate hours of data per message.
REVISE_EVERY_S: Final = 60.0
#: Projected doses at mission end alert from this fraction of a limit up.
PROJECTION_ALERT_FROM: Final = 0.9

IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


class Integrator:
    """Integrates every crew member's dose rate over sample time (owner thread)."""

    def __init__(
        self,
        setup: EstimatorSetup,
        limits: DoseLimits,
        emit: Emit,
        fine_keep_s: float = 6 * 3600.0,
    ) -> None:
        self.setup = setup
        self.limits = limits
        self.emit = emit
        self.fine_keep_s = fine_keep_s
        # Projected alerts only from these levels up (90 % and the limit).
        self.projection_levels = tuple(
            lv for lv in limits.alert_levels if lv.fraction >= PROJECTION_ALERT_FROM
        )

    # ------------------------------------------------------------ watermark

    def watermark(self, state: EstimatorState) -> float:
        """Return the sample time every dose input has reported to, or given up on."""
        cfg = self.setup.config
        streams = state.streams
        seen = [s for s in streams.values() if s.seen]
        if not seen:
            return -math.inf
        newest = max(s.known for s in seen)
        in_grace = newest - state.first_seen <= cfg.lateness_s
        mark = math.inf
        for stream in streams.values():
            if stream.seen:
                mark = min(
                    mark, max(stream.known, newest - stream.last_hold - cfg.lateness_s)
                )
            elif in_grace:
                # Give every declared input a chance to report before starting.
                mark = min(mark, state.first_seen)
        return mark

    def judge_prior(self, state: EstimatorState, t: float) -> list[Batch]:
        """Judge every limit on the dose known before any integration, at ``t``.

        The prior career record and earlier sessions' dose (the ledger) are
        known at start: a crew member at 99.9 % of a limit must be alarmed at
        once, not when the first integration step is done (one silent input
        delays that by ``lateness_s``). Sets the limits' state and levels (so
        integration does not raise the same alerts again) and returns one
        ``dose_career`` and ``career_fraction`` point at ``t`` for the
        channel alarms. Days to a limit stay NaN ("insufficient data") until
        a trailing rate is known, 0 for a limit already reached.
        """
        out: list[Batch] = []
        times = np.array([t])
        for setup, crew in zip(self.setup.crew, state.crew, strict=True):
            doses: list[float] = []
            for limit in setup.limits:
                if limit.window_days is None:
                    dose = setup.member.prior_career_msv + limit.per_h * (
                        crew.seed.career
                    )
                else:
                    ends = crew.seed.at(
                        np.array([t - limit.window_days * SECONDS_PER_DAY, t])
                    )
                    dose = limit.per_h * float(ends[1] - ends[0])
                doses.append(dose)
            fractions = [
                d / lim.value for d, lim in zip(doses, setup.limits, strict=True)
            ]
            crew.limit_now = [
                (d, f, 0.0 if f >= 1.0 else math.nan)
                for d, f in zip(doses, fractions, strict=True)
            ]
            alerts.limit_alerts(
                self.emit,
                self.limits.alert_levels,
                setup,
                crew,
                times,
                np.array(fractions)[:, None],
            )
            member = setup.member.id
            out.append((f"{member}.dose_career", times, np.array([doses[0]])))
            out.append((f"{member}.career_fraction", times, np.array([fractions[0]])))
        state.dirty = True
        return out

    def advance(self, state: EstimatorState) -> list[Batch]:
        """Integrate up to the watermark; return the output-grid batches.

        Late data first revises what was integrated (see :meth:`revise`).
        """
        if state.until - state.revised_at >= REVISE_EVERY_S:
            self.flush(state)
        mark = self.watermark(state)
        if math.isnan(state.until):
            if not mark > state.first_seen:
                return []
            state.until = state.first_seen
            for crew in state.crew:
                crew.history = CumulativeHistory(self.setup.history_keep_s)
                crew.history.append(np.array([state.until]), np.array([0.0]))
        if not mark > state.until:
            return []
        out = self.integrate(state, state.until, mark)
        state.until = mark
        # Keep what a revision may need: the revisable window, one rolling bin
        # (revisions restart at a bin edge) and the samples in force then.
        keep = self.setup.config.revise_window_s + self.setup.config.rolling_bin_s
        for stream in state.streams.values():
            stream.trim(mark - keep)
        return out

    def flush(self, state: EstimatorState) -> None:
        """Fold in late data now, if any is pending."""
        if state.revise_from < math.inf and not math.isnan(state.until):
            self.revise(state)

    def revise(self, state: EstimatorState) -> None:
        """Re-integrate from before the earliest late sample to the same time.

        Each crew member's dose rolls back to the last rolling-bin edge before
        the late data (or to the start when the data precede it) and is
        integrated again with every sample now known. The derived series
        already emitted stay as they were (provisional); the snapshot, the
        ledger bins and later outputs carry the revised dose, and a ``dose
        revised`` event per crew member says by how much.
        """
        since = state.revise_from
        keys = sorted(state.revise_keys)
        state.revised_at = state.until
        state.revise_from = math.inf
        state.revise_keys = set()
        until = state.until
        before = [c.session for c in state.crew]
        start = state.first_seen
        restart = False
        knot = math.nan
        for crew in state.crew:
            assert crew.history is not None
            back = crew.history.rollback(since)
            if back is None:  # the late data precede the start
                restart = True
                break
            knot, crew.session, crew.sigma, crew.eva_msv = back
        if restart:
            for crew in state.crew:
                crew.history = CumulativeHistory(self.setup.history_keep_s)
                crew.history.append(np.array([start]), np.array([0.0]))
                crew.session = 0.0
                crew.sigma = 0.0
                crew.eva_msv = 0.0
            knot = start
        for crew in state.crew:
            keep = crew.fine_t <= knot
            crew.fine_t, crew.fine_c = crew.fine_t[keep], crew.fine_c[keep]
        if not until > knot:
            return
        self.integrate(state, knot, until, revising=True)
        state.revisions += 1
        for setup, crew, old in zip(self.setup.crew, state.crew, before, strict=True):
            delta = crew.session - old
            if abs(delta) <= 1e-12 * max(1.0, abs(old)):
                continue
            self.emit(
                DoseEvent(
                    since,
                    DoseEventKind.REVISED,
                    Severity.NOMINAL,
                    f"{setup.member.id}: session dose H revised by "
                    f"{'+' if delta >= 0 else '-'}{format_dose(abs(delta))} "
                    f"to {format_dose(crew.session)} (late data from "
                    f"{', '.join(keys)} since {gmt_text(since)})",
                    setup.member.id,
                )
            )

    # ----------------------------------------------------------- integrate

    def integrate(
        self, state: EstimatorState, a: float, b: float, *, revising: bool = False
    ) -> list[Batch]:
        """Integrate every crew member over (a, b] and return the grid outputs.

        ``revising``: the span was integrated before (late data); its stale
        and fresh transitions were reported then and are not repeated.
        """
        cfg = self.setup.config
        step = cfg.output_interval_s
        first, last = math.floor(a / step) + 1, math.floor(b / step)
        # Fuzzing fix: one valid sample far ahead (a clock in milliseconds,
        # t = 1e189) asked for a grid point per interval across the jump and
        # exhausted memory (or overflowed int64). The integral does not need
        # the grid (its breakpoints are the inputs' own changes), so across
        # such a jump only the last MAX_GRID_POINTS outputs are produced.
        # Float indices: exact below 2**53, and no overflow above it.
        first = max(first, last - MAX_GRID_POINTS + 1)
        k = float(first) + np.arange(max(0, last - first + 1), dtype=np.float64)
        grid: FloatArray = k * step
        inside = (grid > a) & (grid <= b)
        k, grid = k[inside], grid[inside]
        per_bin = round(cfg.rolling_bin_s / step)
        knots = grid[k % per_bin == 0]
        # Breakpoints: every change of any input, expiries, grid times.
        parts = [np.array([a, b]), grid]
        for stream in state.streams.values():
            parts.append(stream.times_in(a, b))
            parts.append(stream.expiries(a, b))
        points = np.unique(np.concatenate(parts))
        dts = np.diff(points)
        module_rate, ref, highest = self.module_rates(state, points)
        state.shelter.rate = self._shelter_rate_now(module_rate, ref)
        spe = state.spe.state()
        if not (spe.active or spe.energetic):
            state.module_event_max.clear()
        last_known = self._last_module_rates(state, points, module_rate, spe.p10)
        if spe.active or spe.energetic:
            # The event's highest measured rate holds through a dropout: the
            # last sample may be from a low-latitude pass, the gap span the
            # high-latitude ones (dosimetry.md §4: fallbacks err high).
            for m in range(module_rate.shape[0]):
                row = module_rate[m]
                if (~np.isnan(row)).any():
                    top = float(np.nanmax(row))
                    state.module_event_max[m] = max(
                        state.module_event_max.get(m, top), top
                    )
            for m, top in state.module_event_max.items():
                last_known[m] = np.fmax(last_known[m], top)
        # Fallbacks err high while the field may be far above the quiet-time
        # model: during an SPE (or energetic protons) or an SAA pass.
        floor_on = bool(spe.active or spe.energetic or state.saa)
        floor_scale = self._floor_scale(state, spe.p10)

        at_grid = np.searchsorted(points, grid)
        at_knots = np.searchsorted(points, knots)
        out: list[Batch] = []
        for setup, crew in zip(self.setup.crew, state.crew, strict=True):
            rate, src, stale, mod, fb = self.crew_rate(
                state, setup, points, module_rate, ref, highest
            )
            if floor_on:
                self._floor(rate, fb, mod, last_known, floor_scale)
            self._track_fallback(crew, points, fb)
            inc = rate[:-1] * dts / SECONDS_PER_HOUR / 1000.0
            cum = crew.session + np.concatenate(([0.0], np.cumsum(inc)))
            on_eva = mod == EVA_INDEX
            eva_cum = crew.eva_msv + np.concatenate(
                ([0.0], np.cumsum(np.where(on_eva[:-1], inc, 0.0)))
            )
            # Uncertainties of one source are systematic, so they add linearly.
            rel = self.setup.sigma[src, stale.astype(np.intp)]
            sigma = crew.sigma + np.concatenate(([0.0], np.cumsum(inc * rel[:-1])))
            # Before any dose, the band is that of the current source.
            relative = np.divide(sigma, cum, out=rel.copy(), where=cum > 0)
            if not revising:
                alerts.stale_events(self.emit, setup, crew, points, stale, src)
            crew.session = float(cum[-1])
            crew.sigma = float(sigma[-1])
            crew.rate = float(rate[-1])
            crew.source = SOURCE_CODES[int(src[-1])]
            crew.stale = bool(stale[-1])
            crew.module_id = (
                self.setup.modules[int(mod[-1])]
                if mod[-1] >= 0
                else ("EVA" if mod[-1] == EVA_INDEX else None)
            )
            crew.eva = bool(on_eva[-1])
            crew.eva_msv = float(eva_cum[-1])
            assert crew.history is not None
            crew.history.append(
                knots, cum[at_knots], sigma[at_knots], eva_cum[at_knots]
            )
            if grid.shape[0]:
                crew.fine_t = np.concatenate((crew.fine_t, grid))
                crew.fine_c = np.concatenate((crew.fine_c, cum[at_grid]))
                cut = int(np.searchsorted(crew.fine_t, b - self.fine_keep_s))
                if cut > 0:
                    crew.fine_t, crew.fine_c = crew.fine_t[cut:], crew.fine_c[cut:]
            # Budgets and alerts only on the output grid: their times then do
            # not depend on batching, and most 1 Hz updates skip this work.
            if grid.shape[0]:
                series, fractions = self.evaluate(
                    setup, crew, grid, cum[at_grid], rate[at_grid], relative[at_grid]
                )
                for name, values in series.items():
                    out.append((f"{setup.member.id}.{name}", grid, values))
                alerts.limit_alerts(
                    self.emit, self.limits.alert_levels, setup, crew, grid, fractions
                )
                self._projection(setup, crew, float(grid[-1]), float(relative[-1]))
        state.dirty = True
        return out

    def _projection(
        self, setup: CrewSetup, crew: CrewState, t: float, rel: float
    ) -> None:
        """Fraction of each limit projected at mission end, and its alerts.

        Career: today's E plus the trailing rate to the mission end; a rolling
        limit: the trailing rate over its window. The upper edge adds the
        estimate's relative 1σ to what the console estimated (the prior
        record is exact); alerts fire when that upper edge crosses 90 % or
        100 % of a limit, so an uncertain estimate warns early.
        """
        member = setup.member
        trailing = crew.now.get("trailing", math.nan)
        crew.projected = []
        if member.mission_end is None or not math.isfinite(trailing):
            return
        end = dt.datetime.combine(
            member.mission_end, dt.time(), tzinfo=dt.UTC
        ).timestamp()
        left_d = max(0.0, (end - t) / SECONDS_PER_DAY)
        rel = rel if math.isfinite(rel) else 0.0
        upper_fractions: list[float] = []
        for li, limit in enumerate(setup.limits):
            dose = crew.limit_now[li][0]
            rate_q = max(trailing, 0.0) * limit.per_h
            if limit.window_days is None:
                estimated = dose - member.prior_career_msv
                added = rate_q * left_d
                projected = dose + added
                upper = member.prior_career_msv + (estimated + added) * (1.0 + rel)
            else:
                projected = rate_q * limit.window_days
                upper = projected * (1.0 + rel)
            crew.projected.append((projected / limit.value, upper / limit.value))
            upper_fractions.append(upper / limit.value)
        alerts.limit_alerts(
            self.emit,
            self.projection_levels,
            setup,
            crew,
            np.array([t]),
            np.array(upper_fractions)[:, None],
            projected=True,
        )

    def _last_module_rates(
        self,
        state: EstimatorState,
        points: FloatArray,
        module_rate: FloatArray,
        p10: float,
    ) -> FloatArray:
        """Last measured rate of each module at each point (NaN: never measured).

        Carried across integration steps in ``state.module_last``, with the
        GOES >10 MeV flux ``p10`` then in ``state.module_last_p10``.
        """
        n_mod, n = module_rate.shape
        out = np.empty((n_mod, n))
        index = np.arange(n)
        for m in range(n_mod):
            row = module_rate[m]
            has = ~np.isnan(row)
            idx = np.maximum.accumulate(np.where(has, index, -1))
            before = state.module_last.get(m, (math.nan, math.nan))[0]
            out[m] = np.where(idx >= 0, row[np.maximum(idx, 0)], before)
            if has.any():
                j = int(np.flatnonzero(has)[-1])
                state.module_last[m] = (float(row[j]), float(points[j]))
                state.module_last_p10[m] = p10
        return out

    def _floor_scale(self, state: EstimatorState, p10: float) -> FloatArray:
        """Per module: how much the SPE part of the last measured rate has grown.

        The GOES >10 MeV flux now over the flux when the module's monitors
        last reported (never below 1): a dropout on the rise of an event must
        not hold the rate of its first minutes (docs/dosimetry.md §4).
        """
        scale = np.ones(len(self.setup.modules))
        for m, then in state.module_last_p10.items():
            if then > 0 and p10 > then:
                scale[m] = p10 / then
        return scale

    def _floor(
        self,
        rate: FloatArray,
        fb: IntArray,
        mod: IntArray,
        last_known: FloatArray,
        scale: FloatArray,
    ) -> None:
        """Never below the module's last measured rate while on a model fallback.

        In an SPE the part of that rate above the module's quiet-time model
        (the event's) grows with the GOES flux since (``scale``): holding the
        last rate on the rise of an event would err low.
        """
        model = fb >= FALLBACK_CODES.index(Fallback.SCALED)
        known = mod >= 0
        if not (model & known).any():
            return
        n = rate.shape[0]
        safe = np.maximum(mod, 0)
        last = last_known[safe, np.arange(n)]
        quiet = self.setup.config.model_rate_usv_h * self.setup.sf[safe]
        last = last + np.maximum(last - quiet, 0.0) * (scale[safe] - 1.0)
        last = last * self.setup.config.body_shielding_factor
        raise_it = model & known & (last > rate)
        rate[raise_it] = last[raise_it]
        fb[raise_it] = FALLBACK_CODES.index(Fallback.FLOOR)

    @staticmethod
    def _track_fallback(crew: CrewState, points: FloatArray, fb: IntArray) -> None:
        """Keep which fallback runs now and since when (sample time)."""
        now = FALLBACK_CODES[int(fb[-1])]
        other = np.flatnonzero(fb != fb[-1])
        if other.shape[0]:
            crew.fallback_since = float(points[int(other[-1]) + 1])
        elif now != crew.fallback:
            crew.fallback_since = float(points[0])
        crew.fallback = now

    def module_rates(
        self, state: EstimatorState, points: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return per-module mean rate, shielding-normalised mean, and highest rate.

        Shapes (modules, points), (points,), (points,); NaN where no monitor is
        fresh.
        """
        setup = self.setup
        n = points.shape[0]
        if not setup.area:
            nan = np.full(n, np.nan)
            return np.full((len(setup.modules), n), np.nan), nan, nan
        vals = np.vstack([state.streams[key].fresh_at(points) for key, _ in setup.area])
        valid = ~np.isnan(vals)
        filled = np.where(valid, vals, 0.0)
        counts = setup.membership @ valid
        sums = setup.membership @ filled
        module_rate = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        n_valid = valid.sum(axis=0)
        ref_sum = (filled / setup.area_sf[:, None]).sum(axis=0)
        ref = np.where(n_valid > 0, ref_sum / np.maximum(n_valid, 1), np.nan)
        highest = np.where(valid, vals, -np.inf).max(axis=0)
        return module_rate, ref, np.where(n_valid > 0, highest, np.nan)

    def _shelter_rate_now(self, module_rate: FloatArray, ref: FloatArray) -> float:
        """Latest area rate in the shelter module: measured, else scaled, else model."""
        m = self.setup.shelter_idx
        for candidate in (
            float(module_rate[m, -1]),
            float(ref[-1]) * float(self.setup.sf[m]),
        ):
            if candidate == candidate:
                return candidate
        return self.setup.config.model_rate_usv_h * float(self.setup.sf[m])

    def crew_rate(
        self,
        state: EstimatorState,
        setup: CrewSetup,
        points: FloatArray,
        module_rate: FloatArray,
        ref: FloatArray,
        highest: FloatArray,
    ) -> tuple[FloatArray, IntArray, BoolArray, IntArray, IntArray]:
        """Return rate (µSv/h), source, stale flag, module index, fallback code."""
        cfg = self.setup.config
        sf = self.setup.sf
        body = cfg.body_shielding_factor
        n = points.shape[0]
        module = state.streams[setup.module_key]
        held, age = module.at(points)
        mod = np.where(np.isnan(held), -1, held).astype(np.intp)
        known = mod >= 0
        safe = np.maximum(mod, 0)
        stale = ~known | (age >= module.hold_at(points))
        rate = np.full(n, np.nan)
        src = np.full(n, 2, dtype=np.intp)
        fb = np.zeros(n, dtype=np.intp)
        if setup.personal_key is not None:
            own = state.streams[setup.personal_key].fresh_at(points)
            has = ~np.isnan(own)
            rate[has] = own[has]
            src[has] = 0
            stale |= ~has
            fb[~has] = FALLBACK_CODES.index(Fallback.AREA)
        # EVA: outside the station, its own rate model (not a fallback).
        eva = mod == EVA_INDEX
        if eva.any():
            outside = np.where(np.isnan(ref), cfg.model_rate_usv_h, ref)
            use = eva & np.isnan(rate)
            rate[use] = (outside * cfg.eva_factor * body)[use]
            fb[use] = 0
            stale &= ~eva
        need = np.isnan(rate)
        area = np.where(known, module_rate[safe, np.arange(n)], np.nan) * body
        use = need & ~np.isnan(area)
        rate[use] = area[use]
        src[use] = 1
        need &= ~use
        scaled = np.where(known, ref * sf[safe], np.nan) * body
        use = need & ~np.isnan(scaled)
        rate[use] = scaled[use]
        fb[use] = FALLBACK_CODES.index(Fallback.SCALED)
        need &= ~use
        # Nothing fresh to scale: the baseline model, flagged stale. With the
        # location unknown take the worst module, so the guess errs high.
        worst = np.where(
            np.isnan(highest), cfg.model_rate_usv_h * float(sf.max()), highest
        )
        baseline = np.where(known, cfg.model_rate_usv_h * sf[safe], worst) * body
        rate[need] = baseline[need]
        fb[need & known] = FALLBACK_CODES.index(Fallback.BASELINE)
        fb[need & ~known] = FALLBACK_CODES.index(Fallback.WORST)
        stale |= need
        return rate, src, stale, mod, fb

    # ------------------------------------------------------------ budgets

    def evaluate(
        self,
        setup: CrewSetup,
        crew: CrewState,
        evals: FloatArray,
        cum: FloatArray,
        rate: FloatArray,
        relative: FloatArray,
    ) -> tuple[dict[str, FloatArray], FloatArray]:
        """Return the derived series at ``evals`` and each limit's fraction.

        Fractions are (limits, evals), rows in ``setup.limits`` order.
        """
        cfg = self.setup.config
        history = crew.history
        assert history is not None
        start = float(history.t[0])
        # Trailing rate over the projection window from the ledger's earlier
        # sessions and this one, over the time they cover; NaN ("insufficient
        # data") below projection_min_days of data.
        back = evals - cfg.projection_window_days * SECONDS_PER_DAY
        lo = np.maximum(back, start)
        covered_s = (evals - lo) + crew.seed.covered(back, evals)
        in_window = (cum - history.at(lo)) + (crew.seed.at(evals) - crew.seed.at(back))
        covered_d = covered_s / SECONDS_PER_DAY
        enough = covered_d >= max(cfg.projection_min_days, 1e-9)
        trailing = np.where(enough, in_window / np.maximum(covered_d, 1e-12), np.nan)
        # Prior career is effective dose E already; what the console integrated
        # is area H, converted into each limit's own quantity (per_h).
        per_h = np.array([lim.per_h for lim in setup.limits])[:, None]
        e_per_h = float(per_h[0, 0]) if setup.limits[0].window_days is None else 1.0
        career = setup.member.prior_career_msv + e_per_h * (crew.seed.career + cum)
        windows_list = setup.windows
        windows = {30.0, 365.0} | {w for w in windows_list if w is not None}
        # Earlier sessions (seed_history) add the part of their dose in the window.
        earlier_now = crew.seed.at(evals)
        rolling = {
            w: cum
            - history.at(evals - w * SECONDS_PER_DAY)
            + earlier_now
            - crew.seed.at(evals - w * SECONDS_PER_DAY)
            for w in windows
        }
        dose = np.vstack(
            [
                career if w is None else rolling[w] * lim.per_h
                for w, lim in zip(windows_list, setup.limits, strict=True)
            ]
        )
        value = np.array([lim.value for lim in setup.limits])[:, None]
        is_career = np.array([w is None for w in windows_list])
        window_days = np.array([w or 0.0 for w in windows_list])
        positive = trailing > 0  # NaN (insufficient data) is not
        trailing_q = trailing[None, :] * per_h  # in each limit's quantity, per day
        # A career dose only grows. At a steady rate a rolling sum tends to
        # rate × window, so below the limit it is never reached; otherwise
        # count as if no dose left the window (early, so conservative).
        reaches = np.where(
            is_career[:, None],
            positive[None, :],
            trailing_q * window_days[:, None] >= value,
        )
        per_day = np.where(positive[None, :], trailing_q, 1.0)
        days = np.where(
            dose >= value, 0.0, np.where(reaches, (value - dose) / per_day, np.inf)
        )
        days = np.where(enough[None, :] | (dose >= value), days, np.nan)
        fraction = dose / value
        crew.limit_now = list(
            zip(
                dose[:, -1].tolist(),
                fraction[:, -1].tolist(),
                days[:, -1].tolist(),
                strict=True,
            )
        )
        best_days = np.fmin.reduce(days, axis=0)
        crew.now = {
            "covered_d": float(covered_d[-1]),
            "trailing": float(trailing[-1]),
            "d30": float(rolling[30.0][-1]),
            "d1y": float(rolling[365.0][-1]),
            "time": float(evals[-1]),
        }
        series = {
            "dose_rate": rate,
            "dose_session": cum,
            "dose_30d": rolling[30.0],
            "dose_1y": rolling[365.0],
            "dose_career": career,
            "career_fraction": fraction[0],
            "days_to_limit": best_days,
            "dose_uncertainty": relative,
        }
        return series, fraction
