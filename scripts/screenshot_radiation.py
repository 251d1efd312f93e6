"""Render the radiation dock during the SPE scenario to docs/screenshot-radiation.png.

The simulator's spe-2017-09 scenario is ingested in process (no sockets) up to
just after the S3 peak, then the dock is grabbed at 1400 x 900.
Usage: QT_QPA_PLATFORM=offscreen python scripts/screenshot_radiation.py [OUTPUT]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from console.context import ConsoleContext
from console.docks.radiation_dock import RadiationDock
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.live.session import build_derivers
from telemetry.sim.simulator import Simulator
from widgets.levels import apply_theme

REPO = Path(__file__).resolve().parents[1]
# Inside the fictional roster's mission (2025-09-01..2026-03-01), so the
# end-of-mission projections are meaningful; GOES replays 2017-09-10.
START = 1_764_547_200.0  # 2025-12-01T00:00Z
# 300 simulated seconds per scenario second: the S3 peak (s = 107.25) comes
# about 9 h into the run, so the plots show several orbits and SAA passes.
RATE_SCALE = 300.0
UNTIL_S = 112.0


def main(output: Path) -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    assert isinstance(app, QApplication)
    apply_theme(app)
    dictionary = TelemetryDictionary.load()
    store = ChannelStore()
    derivers = build_derivers(dictionary)
    pipeline = Pipeline(dictionary, store, derivers=derivers)
    sim = Simulator(
        dictionary, 11, scenario="spe-2017-09", rate_scale=RATE_SCALE, start_time=START
    )
    now = START
    for frame in sim.frames_until(sim.scenario_time(UNTIL_S)):
        now = float(frame.times[-1])
        pipeline.ingest(frame.encode(), now)
    context = ConsoleContext(
        dictionary=dictionary,
        store=store,
        alarms=AlarmBook(),
        clock=lambda: now,
        dose=derivers[0],
    )
    dock = RadiationDock(context)
    dock.resize(1400, 900)
    dock.set_window(43200.0)
    dock.show()
    for _ in range(3):
        dock.refresh(now)
        app.processEvents()
    for chart in (dock.goes_chart, dock.rate_chart, dock.location_chart):
        chart.flush()
    app.processEvents()
    output.parent.mkdir(parents=True, exist_ok=True)
    if not dock.grab().save(str(output)):
        print(f"could not write {output}", file=sys.stderr)
        return 1
    print(output)
    dock.close()
    return 0


if __name__ == "__main__":
    default = REPO / "docs" / "screenshot-radiation.png"
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    sys.exit(main(target))
