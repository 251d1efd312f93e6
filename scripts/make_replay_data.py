"""Record the training sessions in replay_data/ from the simulator, in process.

Each session is a normal archive file: the simulator's messages go through
the same Pipeline (dose estimator, limits) and ArchiveWriter as live data,
with the sample time as the arrival time. Run from the repo root:

    .venv/bin/python scripts/make_replay_data.py
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from telemetry.archive.writer import ArchiveWriter  # noqa: E402
from telemetry.core.channels import ChannelStore  # noqa: E402
from telemetry.core.dictionary import TelemetryDictionary  # noqa: E402
from telemetry.core.pipeline import Pipeline  # noqa: E402
from telemetry.live.session import build_derivers  # noqa: E402
from telemetry.sim.simulator import Simulator  # noqa: E402

# name, scenario, seed, minutes of session
SESSIONS = (
    ("nominal-ops", "nominal", 11, 10.0),
    ("co2-rise", "co2-rise", 12, 9.0),  # the 24 h-mean critical comes at T+7:00
    ("nav-loss", "nav-loss", 13, 8.0),
    ("spe-2017-09", "spe-2017-09", 14, 7.0),
)
# A fixed start keeps the sessions reproducible (and dose windows comparable).
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()
# Ten-second batches: one message per source per 10 s keeps a session ~1 MB.
BATCH_S = 10.0


def record(name: str, scenario: str, seed: int, minutes: float, out_dir: Path) -> Path:
    dictionary = TelemetryDictionary.load()
    path = out_dir / f"{name}.session.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    archive = ArchiveWriter(
        path,
        dictionary_sha256=dictionary.sha256,
        dictionary_version=dictionary.version,
        kind="recorded",
        operator="simulator",
    )
    archive.start()
    pipeline = Pipeline(
        dictionary,
        ChannelStore(10_000),
        archive=archive,
        derivers=build_derivers(dictionary),
    )
    sim = Simulator(
        dictionary, seed, scenario=scenario, start_time=START, batch_s=BATCH_S
    )
    end = START + minutes * 60.0
    for frame in sim.frames_until(end):
        received = float(frame.times[-1])
        pipeline.ingest(frame.encode("msgpack"), received)
        pipeline.tick(received)
    archive.stop()
    return path


def main() -> int:
    out_dir = REPO / "replay_data"
    out_dir.mkdir(exist_ok=True)
    for name, scenario, seed, minutes in SESSIONS:
        path = record(name, scenario, seed, minutes, out_dir)
        print(f"{path.relative_to(REPO)}: {path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
