"""Live dose over real ZeroMQ, then the dose-report CLI on the archive it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from polling import wait_for

from telemetry.bus.publisher import free_tcp_endpoint
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.live.session import LiveSession, SessionConfig, build_derivers

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def test_live_dose_then_dose_report_from_the_archive(tmp_path: Path) -> None:
    endpoint = free_tcp_endpoint()
    sim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "console",
            "sim",
            "--bind",
            endpoint,
            "--scenario",
            "spe-2017-09",
            "--rate-scale",
            "10",
            "--duration",
            "60",
        ],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    archive = tmp_path / "live.sqlite"
    dictionary = TelemetryDictionary.load()
    derivers = build_derivers(dictionary)
    estimator: Any = derivers[0]
    session = LiveSession(
        dictionary, SessionConfig([endpoint], archive, operator="e2e"), derivers
    )
    session.start()
    try:

        def every_crew_member_has_dose() -> bool:
            snap = estimator.snapshot()
            return bool(snap.crew) and all(c.session_msv > 0 for c in snap.crew)

        wait_for(every_crew_member_has_dose, 45.0, "dose for every crew member")
    finally:
        session.stop()
        sim.terminate()
        _out, err = sim.communicate(timeout=20)
    assert sim.returncode in (0, -15), err
    live = estimator.snapshot()
    assert live.late_samples == 0

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "console",
            "dose-report",
            "--archive",
            str(archive),
            "--format",
            "json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["crew"]) == {c.crew_id for c in live.crew}
    for crew in live.crew:
        entry = report["crew"][crew.crew_id]
        assert entry["dose_equivalent_msv"] == pytest.approx(crew.session_msv, rel=1e-9)
        assert entry["career_msv"] == pytest.approx(crew.career_msv, rel=1e-12)
        assert entry["career_limit_msv"] == crew.career_limit_msv
        assert 0 < entry["absorbed_mgy"] < entry["dose_equivalent_msv"]
    assert report["dictionary_version"] == dictionary.version
    assert report["frames_replayed"] > 0
