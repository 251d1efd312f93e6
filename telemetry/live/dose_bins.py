"""Hourly crew dose kept in the archive as it is recorded, for increment reports.

A dose report over a 180-day increment cannot replay every frame in seconds;
it reads these bins instead. Each completed bin of the dose estimator's
session (``DoseEstimator.session_bins``: dose equivalent H, mSv, per crew
member and ``rolling_bin_s`` of sample time) goes to the archive once, as a
sample of the undeclared channel ``<crew>.dose_bin`` at the bin's start, and
a ``dose bins`` event records what they were computed with (roster file
sha256, bin width), so a report made with another roster replays instead.
Owned by the thread that drives the pipeline (zmq-subscriber live, the
caller's thread for a recording).
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Final

import numpy as np

if TYPE_CHECKING:
    from telemetry.core.pipeline import ArchiveSink
    from telemetry.radiation.estimator import DoseEstimator

#: The archived channel of one crew member's hourly dose: ``<crew>.dose_bin``.
BIN_CHANNEL: Final = "dose_bin"
#: Its absolute 1σ (mSv): the bin's dose times the estimate's relative
#: uncertainty when the bin was written (intervals add linearly, systematic).
SIGMA_CHANNEL: Final = "dose_bin_sigma"
#: Kind of the archive event that describes the bins.
BINS_EVENT: Final = "dose bins"


def roster_fingerprint(estimator: DoseEstimator) -> str:
    """Return the sha256 of the roster file the estimator runs with ('' if gone)."""
    try:
        return hashlib.sha256(estimator.roster.path.read_bytes()).hexdigest()
    except OSError:
        return ""


def bins_detail(estimator: DoseEstimator) -> str:
    """Return the ``dose bins`` event detail: what a report must match to use them."""
    return (
        f"roster {estimator.roster.version} sha256 {roster_fingerprint(estimator)}; "
        f"bin {estimator.config.rolling_bin_s:g} s; H mSv per crew and bin"
    )


class DoseBinWriter:
    """Writes each completed dose bin of one session to the archive, once."""

    def __init__(self, estimator: DoseEstimator, archive: ArchiveSink) -> None:
        self.estimator = estimator
        self.archive = archive
        self.bin_s = estimator.config.rolling_bin_s
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
        current = math.floor(until / self.bin_s)
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
        if not self._announced:
            self._announced = True
            self.archive.put_event(now, None, BINS_EVENT, bins_detail(self.estimator))
        for key, _t, _v in batches:
            if key not in self._declared:
                self._declared.add(key)
                self.archive.put_channel(
                    key, unit="mSv", declared=False, derived=True, states={}
                )
        self.archive.put_samples(batches)
        self._written_until = max(float(t[-1]) for _k, t, _v in batches) + self.bin_s
        return sum(int(t.shape[0]) for _k, t, _v in batches) // 2
