"""``kibo-console bench report``: a crew dose report over a synthetic 180-day increment.

The increment is written as a recorder writes one: one-minute messages of the
channels a dose report needs (every dosimeter's dose-equivalent and absorbed
rate at 0.1 Hz, GOES >10 and >100 MeV flux at 0.2 Hz with a three-day solar
particle event, the SAA flag at 1 Hz) and what a recorder keeps beside them
each hour: the crew's dose bins with their ``dose bins`` event, and the
inputs' hourly summaries (computed by the recorder's own code from a ring
buffer holding the day). Robots, cabin air
and the other orbit channels are left out: the report never reads them. The
report (JSON and HTML) is then timed against the 10 s target; a replay of
every frame would take about 6 s per simulated day here. Runs on the main
thread.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Final

import numpy as np

from telemetry.archive.reader import ArchiveReader
from telemetry.archive.writer import ArchiveWriter
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.live.dose_bins import (
    BIN_CHANNEL,
    BINS_EVENT,
    SIGMA_CHANNEL,
    InputSummaries,
    bins_detail,
)
from telemetry.radiation.roster import (
    DEFAULT_LIMITS,
    DEFAULT_ROSTER,
    load_limits,
    load_roster,
)
from telemetry.reports.dose_report import build_dose_report, render_html, render_json

TARGET_S: Final = 10.0
DAYS: Final = 180
MESSAGE_S: Final = 60.0
#: 2026-04-01, the start of JAXA fiscal year 2026.
START: Final = 1_775_001_600.0


def _rate(t: np.ndarray, base: float, seed: int) -> np.ndarray:
    """Return a dose rate with SAA-like peaks every ~93 min and an SPE on days 60-63."""
    rng = np.random.default_rng(seed)
    orbit = np.maximum(np.sin(2 * np.pi * (t - START) / 5580.0) - 0.93, 0) * 40.0
    spe = np.where((t - START > 60 * 86400) & (t - START < 63 * 86400), 40.0, 1.0)
    return base * (1.0 + orbit) * spe * rng.uniform(0.95, 1.05, t.shape[0])


def build_increment(path: Path, days: int = DAYS) -> int:
    """Write the synthetic increment to ``path``; return the samples written."""
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    limits = load_limits(DEFAULT_LIMITS)
    roster = load_roster(DEFAULT_ROSTER, limits)
    writer = ArchiveWriter(
        path,
        dictionary_sha256=dictionary.sha256,
        dictionary_version=dictionary.version,
        kind="recorded",
        operator="bench",
        queue_bytes=1 << 40,  # in process: never drop, the caller waits
        batch_rows=20_000,
    )
    rad = [s.id for s in dictionary.sources_of("rad")]
    goes = dictionary.sources_of("spacewx")[0].id
    orbit = dictionary.sources_of("orbit")[0].id
    keys = [f"{s}.{c}" for s in rad for c in ("dose_eq_rate", "absorbed_rate")]
    keys += [f"{goes}.p10", f"{goes}.p100", f"{orbit}.saa"]
    bin_s = roster.estimator.rolling_bin_s
    samples = 0
    writer.start()
    try:
        for key in keys:
            writer.put_channel(
                key, unit="", declared=True, derived=key.endswith("saa"), states={}
            )
        for crew in roster.crew:
            for channel in (BIN_CHANNEL, SIGMA_CHANNEL):
                writer.put_channel(
                    f"{crew.id}.{channel}",
                    unit="mSv",
                    declared=False,
                    derived=True,
                    states={},
                )
        writer.put_event(
            START, None, BINS_EVENT, bins_detail(dictionary.sha256, roster)
        )
        per_minute = int(MESSAGE_S)
        for day in range(days):
            t_day = START + day * 86400.0
            slow = t_day + np.arange(0, 86400, 10.0)  # 0.1 Hz
            goes_t = t_day + np.arange(0, 86400, 5.0)  # 0.2 Hz
            fast = t_day + np.arange(0, 86400, 1.0)  # 1 Hz
            series: list[tuple[str, np.ndarray, np.ndarray, int]] = []
            for i, sid in enumerate(rad):
                h = _rate(slow, 25.75, day * 100 + i)
                series.append((f"{sid}.dose_eq_rate", slow, h, per_minute // 10))
                series.append(
                    (f"{sid}.absorbed_rate", slow, h / 1.94, per_minute // 10)
                )
            p10 = _rate(goes_t, 0.5, day)
            series.append((f"{goes}.p10", goes_t, p10, per_minute // 5))
            series.append((f"{goes}.p100", goes_t, p10 / 20.0, per_minute // 5))
            saa = (np.sin(2 * np.pi * (fast - START) / 5580.0) > 0.93).astype(float)
            series.append((f"{orbit}.saa", fast, saa, per_minute))
            store = ChannelStore()  # what the recorder's ring buffers hold
            for key, t, v, n in series:
                # One segment per one-minute message, as a recorder writes them.
                writer.put_samples(
                    [(key, t[k : k + n], v[k : k + n]) for k in range(0, t.shape[0], n)]
                )
                store.append(key, t, v, float(t[-1]))
                samples += t.shape[0]
            hours = t_day + np.arange(0, 86400, bin_s)
            summaries = InputSummaries(dictionary, store).batches(hours, bin_s)
            if day == 0:
                for key, _t, _v in summaries:
                    writer.put_channel(
                        key, unit="", declared=False, derived=True, states={}
                    )
            writer.put_samples(summaries)
            for j, crew in enumerate(roster.crew):
                dose = _rate(hours, 25.75, 7 + j) * bin_s / 3600.0 / 1000.0
                writer.put_samples(
                    [
                        (f"{crew.id}.{BIN_CHANNEL}", hours, dose),
                        (f"{crew.id}.{SIGMA_CHANNEL}", hours, 0.2 * dose),
                    ]
                )
                samples += 2 * hours.shape[0]
    finally:
        if not writer.stop(timeout=600.0):
            raise RuntimeError(f"bench archive {path} failed: {writer.last_error}")
    return samples


def run_report_bench(days: int = DAYS) -> dict[str, float]:
    """Build the increment, time the report; print and return the figures."""
    with tempfile.TemporaryDirectory(prefix="kibo-bench-report-") as tmp:
        path = Path(tmp) / "increment.sqlite"
        t = time.perf_counter()
        samples = build_increment(path, days)
        built = time.perf_counter() - t
        size = path.stat().st_size
        with ArchiveReader(path) as reader:
            info = reader.info()
        t = time.perf_counter()
        report = build_dose_report(path)
        text = render_json(report)
        json_s = time.perf_counter() - t
        t = time.perf_counter()
        page = render_html(build_dose_report(path))
        html_s = time.perf_counter() - t
    span_d = (info["end"] - info["start"]) / 86400.0
    figures = {
        "days": span_d,
        "samples_m": samples / 1e6,
        "archive_mb": size / 1e6,
        "build_s": built,
        "report_json_s": json_s,
        "report_html_s": html_s,
        "target_ratio": TARGET_S / max(json_s, html_s),
    }
    print(
        f"  synthetic increment: {span_d:.0f} days, {samples / 1e6:.1f} M samples in "
        f"one-minute segments, {size / 1e6:.0f} MB (written in {built:.0f} s)"
    )
    print(f"  basis: {report.basis}")
    print(f"  dose report JSON   {json_s:6.2f} s ({len(text) / 1e3:.0f} kB)")
    print(f"  dose report HTML   {html_s:6.2f} s ({len(page) / 1e3:.0f} kB)")
    print(
        f"  target < {TARGET_S:g} s: {figures['target_ratio']:.1f}x faster than needed"
    )
    return figures
