"""The whole console under sustained load: GUI responsiveness and bounded memory.

The real console runs offscreen (session, archive, dose engine, every panel of
the flight layout) while a publisher process sends every declared channel with
values swinging across their limits, so the alarm list stays busy. The long
runs are ``kibo-console bench soak --hours H``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from console.bench_soak import run_loaded_console

if TYPE_CHECKING:
    from pathlib import Path

    from PySide6.QtWidgets import QApplication


@pytest.mark.e2e
def test_gui_event_loop_never_freezes_under_ingest_load(
    qapp: QApplication, tmp_path: Path
) -> None:
    """A QTimer probe every 5 ms: the longest it ever waited beyond its period.

    100,000 samples/s of every declared channel. The console's own share of
    any stall is measured against the 100 ms target by ``kibo-console bench
    soak`` (a benchmark, not a timed test); here, on a shared 2-CPU runner
    where other programs take the CPU too, it is held to "never freezes".
    """
    result = run_loaded_console(15, 100_000, sample_every_s=2, directory=tmp_path)
    print(f"\n{result.report()}")
    assert result.samples > 1_000_000 and result.gaps == 0
    assert result.internal_errors == 0
    assert result.max_own_stall_ms < 500
    assert result.max_stall_ms < 1000


@pytest.mark.soak
def test_short_soak_keeps_memory_bounded(qapp: QApplication, tmp_path: Path) -> None:
    """50 s at 10,000 samples/s: RSS levels off once the ring buffers exist."""
    result = run_loaded_console(50, 10_000, sample_every_s=1, directory=tmp_path)
    print(f"\n{result.report()}")
    assert result.rejected == 0 and result.gaps == 0
    assert result.internal_errors == 0
    assert result.alarms_raised > 20  # the alarm list was busy
    assert result.archive_dropped == 0
    after = [rss for t, rss in result.rss if t >= result.warmup_s]
    assert after[-1] - after[0] < 40  # MiB over the ~37 s after warm-up
    assert result.rss_max_mib < 1024
