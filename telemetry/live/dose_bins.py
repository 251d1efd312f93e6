"""Hourly crew dose kept in the archive as it is recorded, for increment reports.

A dose report over a 180-day increment cannot replay every frame in seconds;
it reads these bins instead. Each completed bin of the dose estimator's
session (``DoseEstimator.session_bins``: dose equivalent H, mSv, per crew
member and ``rolling_bin_s`` of sample time) goes to the archive once, as a
sample of the undeclared channel ``<crew>.dose_bin`` at the bin's start, and
a ``dose bins`` event records what they were computed with (a fingerprint
of the dictionary, the estimator settings and the dosimeter assignments, and
the bin width), so a report whose inputs differ replays instead.
Owned by the thread that drives the pipeline (telemetry-pipeline live, the
caller's thread for a recording).
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from telemetry.core.channels import ChannelStore
    from telemetry.core.dictionary import TelemetryDictionary
    from telemetry.core.pipeline import ArchiveSink
    from telemetry.radiation.estimator import DoseEstimator
    from telemetry.radiation.roster import Roster

FloatArray = npt.NDArray[np.float64]
Batch = tuple[str, FloatArray, FloatArray]

#: The archived channel of one crew member's hourly dose: ``<crew>.dose_bin``.
BIN_CHANNEL: Final = "dose_bin"
#: Its absolute 1σ (mSv): the bin's dose times the estimate's relative
#: uncertainty when the bin was written (intervals add linearly, systematic).
SIGMA_CHANNEL: Final = "dose_bin_sigma"
#: Kind of the archive event that describes the bins.
BINS_EVENT: Final = "dose bins"
#: Hourly summaries of the inputs a report shows beside the dose, written with
#: the bins so an increment report reads thousands of samples, not hundreds
#: of millions: ``<key>_hour_sum`` and ``_hour_n`` (dosimeter rates: Q̄ and
#: the module plots), ``_hour_max`` (GOES flux: the plot, and where the SPE
#: detector must look), ``<orbit>.saa_hour_s`` and ``_hour_passes``.
SUM: Final = "_hour_sum"
COUNT: Final = "_hour_n"
MAX: Final = "_hour_max"
SAA_SECONDS: Final = "saa_hour_s"
SAA_PASSES: Final = "saa_hour_passes"


def bins_fingerprint(dictionary_sha256: str, roster: Roster) -> str:
    """Return the sha256 of everything the bins depend on, and nothing else.

    The dictionary (sources, modules, shielding), the estimator settings and
    which crew member wears which dosimeter. Names, prior doses, ages,
    agencies, mission dates and the limits only enter the report's reading
    of the bins: changing them needs no replay.
    """
    crew = [(m.id, m.personal_dosimeter) for m in roster.crew]
    text = repr((dictionary_sha256, roster.estimator, crew))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def bins_detail(dictionary_sha256: str, roster: Roster) -> str:
    """Return the ``dose bins`` event detail: what a report must match to use them."""
    fingerprint = bins_fingerprint(dictionary_sha256, roster)
    return (
        f"inputs sha256 {fingerprint}; bin {roster.estimator.rolling_bin_s:g} s; "
        f"roster {roster.version}; H mSv per crew and bin"
    )


class DoseBinWriter:
    """Writes each completed dose bin of one session to the archive, once.

    With each bin go the hourly summaries of the session's inputs, read from
    the live ring buffers (``store``) while they still hold the hour. Owned by
    the thread driving the pipeline (telemetry-pipeline live, the caller's thread
    for a recording); ``flush(final=True)`` once that thread has stopped.
    """

    def __init__(
        self, estimator: DoseEstimator, archive: ArchiveSink, store: ChannelStore
    ) -> None:
        self.estimator = estimator
        self.archive = archive
        self.bin_s = estimator.config.rolling_bin_s
        self._inputs = InputSummaries(estimator.dictionary, store)
        self._written_until = -math.inf  # bins starting before this are written
        self._announced = False
        self._declared: set[str] = set()
        self._checked_bin = math.nan

    def flush(self, now: float, *, final: bool = False) -> int:
        """Write the bins completed since the last call (all of them if ``final``).

        A bin is complete once the estimator has integrated past its end plus
        the lateness allowance (late samples may still revise it until then).
        Returns the samples written.
        """
        until = self.estimator.integrated_until
        if math.isnan(until):
            return 0
        # A bin can be written once the watermark less the lateness allowance
        # has passed its end: look again only when that moves to a new bin.
        current = math.floor((until - self.estimator.config.lateness_s) / self.bin_s)
        if not final and current == self._checked_bin:
            return 0  # session_bins() walks the whole session: once per bin
        self._checked_bin = current
        _first, until, bins = self.estimator.session_bins()
        settled = until - self.estimator.config.lateness_s
        limit = math.inf if final else math.floor(settled / self.bin_s) * self.bin_s
        batches = []
        snap = None
        if final:
            # The dose integrated past the watermark at the end (what the
            # console shows at stop) goes to the bin it was accrued in.
            snap = self.estimator.snapshot()
            if math.isfinite(snap.time):
                last = math.floor(snap.time / self.bin_s) * self.bin_s
                for crew_id, per_bin in bins.items():
                    extra = snap.member(crew_id).session_msv - math.fsum(
                        per_bin.values()
                    )
                    if extra > 0:
                        per_bin[last] = per_bin.get(last, 0.0) + extra
        for crew_id, per_bin in bins.items():
            starts = sorted(
                s
                for s in per_bin
                if self._written_until <= s and s + self.bin_s <= limit
            )
            if not starts:
                continue
            snap = snap or self.estimator.snapshot()
            rel = snap.member(crew_id).uncertainty_rel
            times = np.array(starts, dtype=np.float64)
            dose = np.array([per_bin[s] for s in starts], dtype=np.float64)
            batches.append((f"{crew_id}.{BIN_CHANNEL}", times, dose))
            batches.append((f"{crew_id}.{SIGMA_CHANNEL}", times, dose * rel))
        if not batches:
            return 0
        hours = sorted({float(x) for _k, t, _v in batches for x in t.tolist()})
        written = sum(int(t.shape[0]) for _k, t, _v in batches) // 2
        batches.extend(self._inputs.batches(np.array(hours), self.bin_s))
        if not self._announced:
            self._announced = True
            detail = bins_detail(
                self.estimator.dictionary.sha256, self.estimator.roster
            )
            self.archive.put_event(now, None, BINS_EVENT, detail)
        for key, _t, _v in batches:
            if key not in self._declared:
                self._declared.add(key)
                self.archive.put_channel(
                    key, unit="", declared=False, derived=True, states={}
                )
        self.archive.put_samples(batches)
        self._written_until = hours[-1] + self.bin_s
        return written


class InputSummaries:
    """Hourly summaries of the dose inputs held in a store's ring buffers.

    Used by the thread that owns the store (the pipeline's), when an hour's
    bins are written.
    """

    def __init__(self, dictionary: TelemetryDictionary, store: ChannelStore) -> None:
        self.store = store
        self._rates = [
            f"{src.id}.{channel}"
            for src in dictionary.sources_of("rad")
            for channel in ("dose_eq_rate", "absorbed_rate")
        ]
        goes = dictionary.sources_of("spacewx")
        self._flux = [f"{goes[0].id}.{c}" for c in ("p10", "p100")] if goes else []
        orbit = dictionary.sources_of("orbit")
        self._orbit = orbit[0].id if orbit else None
        spec = dictionary.channel("orbit", "lat")
        self._orbit_stale = spec.stale_after_s if spec else 5.0

    def batches(self, hours: FloatArray, bin_s: float) -> list[Batch]:
        """Return the sums, counts and maxima per hour starting at ``hours``."""
        out: list[Batch] = []
        edges = np.append(hours, hours[-1] + bin_s)
        lo, hi = float(edges[0]), float(edges[-1])
        for key in self._rates:
            t, v = self._window(key, lo, hi)
            idx, ok = _hour_index(t, v, edges)
            n = hours.shape[0]
            out.append(
                (key + SUM, hours, np.bincount(idx[ok], v[ok], n).astype(np.float64))
            )
            out.append((key + COUNT, hours, _counts(idx[ok], n)))
        for key in self._flux:
            t, v = self._window(key, lo, hi)
            idx, ok = _hour_index(t, v, edges)
            ok &= v >= 0  # GOES fill values are negative
            top = np.full(hours.shape[0], -np.inf)
            np.maximum.at(top, idx[ok], v[ok])
            out.append((key + MAX, hours, np.where(np.isinf(top), np.nan, top)))
        if self._orbit is not None:
            out.extend(self._saa(hours, edges))
        return out

    def _saa(self, hours: FloatArray, edges: FloatArray) -> list[Batch]:
        key = f"{self._orbit}.saa"
        # A sample either side of the hours: whether a pass began in the first,
        # and how long the last sample of the last one holds.
        stale = self._orbit_stale
        t, flag = self._window(key, float(edges[0]) - stale, edges[-1] + stale)
        n = hours.shape[0]
        idx, ok = _hour_index(t, flag, edges)
        inside = flag > 0.5
        rising = np.zeros(t.shape[0], dtype=np.bool_)
        rising[1:] = inside[1:] & ~inside[:-1]
        held = np.zeros(t.shape[0])
        held[:-1] = np.minimum(np.diff(t), stale)
        seconds = np.bincount(idx[ok & inside], held[ok & inside], n).astype(np.float64)
        passes = _counts(idx[ok & rising], n)
        flags = np.bincount(idx[ok], flag[ok], n).astype(np.float64)
        count = _counts(idx[ok], n)
        return [
            (f"{self._orbit}.{SAA_SECONDS}", hours, seconds),
            (f"{self._orbit}.{SAA_PASSES}", hours, passes),
            (f"{key}{SUM}", hours, flags),
            (f"{key}{COUNT}", hours, count),
        ]

    def _window(self, key: str, t0: float, t1: float) -> tuple[FloatArray, FloatArray]:
        buffer = self.store.buffer(key)
        if buffer is None:
            return np.empty(0), np.empty(0)
        return buffer.window(t0, t1)


def _counts(idx: npt.NDArray[np.intp], n: int) -> FloatArray:
    return np.bincount(idx, minlength=n).astype(np.float64)


def _hour_index(
    t: FloatArray, v: FloatArray, edges: FloatArray
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Hour of each sample (``edges``), and which are finite and inside."""
    idx = np.searchsorted(edges, t, side="right") - 1
    ok = (idx >= 0) & (idx < edges.shape[0] - 1) & np.isfinite(v)
    return np.where(ok, idx, 0), ok
