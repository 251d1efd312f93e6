"""``kibo-console bench``: dispatch to each benchmark and print its ratios."""

from __future__ import annotations

import os


def run_bench(
    which: str,
    seconds: float | None = None,
    hours: float | None = None,
    frames: int | None = None,
    rate: float | None = None,
) -> int:
    """Run one benchmark (or all); figures are printed as ratios to measured limits.

    Returns 1 if a benchmark that checks its results (fuzz) found a fault.
    """
    every = ["ingest", "query", "dose", "replay", "report", "gui", "fuzz", "flood"]
    names = every if which == "all" else [which]
    status = 0
    for name in names:
        print(f"== bench {name}")
        if name == "ingest":
            from console.bench_ingest import run_ingest_bench

            run_ingest_bench(seconds or 5.0)
        elif name == "gui":
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
            from console.bench_gui import run_gui_bench

            run_gui_bench(seconds or 15.0)
        elif name == "query":
            from telemetry.archive.bench import bench_query

            result = bench_query(n_samples=int(hours * 1e8) if hours else 100_000_000)
            for key, value in result.items():
                print(f"  {key:28} {value}")
        elif name == "dose":
            from telemetry.radiation.estimator import bench_dose_update

            for rows in (1, 10, 60, 600):
                d = bench_dose_update(rows_per_batch=rows)
                rate = d.samples / d.seconds
                print(
                    f"  {rows:4} rows/message: {d.us_per_crew_sample:7.2f} µs per crew "
                    f"member per sample, {rate:12,.0f} dose-input samples/s = "
                    f"{rate / 11:,.0f} x the 11 dose inputs at 1 Hz"
                )
        elif name == "replay":
            from console.bench_replay import bench_replay

            for key, value in bench_replay().items():
                print(f"  {key:28} {value:12.2f}")
        elif name == "soak":
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
            from console.bench_soak import run_soak

            run_soak(
                hours=hours if hours is not None else (seconds or 600) / 3600,
                samples_per_s=rate or 10_000,
            )
        elif name == "report":
            from console.bench_report import DAYS, run_report_bench

            # --hours H: a shorter increment (at least 3 days: shorter replays).
            run_report_bench(max(3, round(hours / 24)) if hours else DAYS)
        elif name == "flood":
            from console.bench_flood import run_flood_bench

            run_flood_bench()
        elif name == "fuzz":
            from console.bench_fuzz import DEFAULT_FRAMES, print_fuzz, run_fuzz_bench

            if not print_fuzz(run_fuzz_bench(frames or DEFAULT_FRAMES)):
                status = 1
    return status
