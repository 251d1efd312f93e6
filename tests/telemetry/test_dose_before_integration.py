"""What the radiation officer is told before the dose estimator first integrates.

The prior career record (and earlier sessions' dose in the ledger) is known
when the console starts. A crew member at 99.9 % of a limit must be judged
and alarmed at once, not when the first integration step is done — which one
silent input (another crew member's location tag) delays by five minutes.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import pytest

from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.severity import Severity
from telemetry.live.session import LiveSession, SessionConfig, build_derivers
from telemetry.radiation.estimator import DoseEventKind
from telemetry.radiation.roster import DEFAULT_ROSTER
from telemetry.sim.simulator import Simulator

if TYPE_CHECKING:
    from pathlib import Path

    from telemetry.radiation.estimator import DoseEstimator

T0 = 1_764_547_200.0  # 2025-12-01T00:00Z, inside the roster's missions


def tight_roster(tmp_path: Path, prior_msv: float = 599.5) -> Path:
    """The shipped roster with c2 ``prior_msv`` of NASA's 600 mSv career limit."""
    text = DEFAULT_ROSTER.read_text(encoding="utf-8")
    text, n = re.subn(
        r"prior_career_msv = 480\.0", f"prior_career_msv = {prior_msv}", text
    )
    assert n == 1
    path = tmp_path / "roster.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Console:
    """A live session fed the simulator in process, one crew location silent."""

    def __init__(self, roster: Path, silent: set[str]) -> None:
        self.dictionary = TelemetryDictionary.load()
        self.now = T0
        derivers = build_derivers(self.dictionary, roster)
        self.estimator: DoseEstimator = derivers[0]  # type: ignore[assignment]
        self.session = LiveSession(
            self.dictionary,
            SessionConfig([], None),
            derivers,
            clock=lambda: self.now,
        )
        self.sim = Simulator(self.dictionary, seed=2, start_time=T0, batch_s=10)
        self.silent = silent

    def run(self, until: float) -> None:
        tick = self.session.subscriber.on_tick
        assert tick is not None
        for frame in self.sim.frames_until(until):
            if frame.source in self.silent:
                continue
            self.now = float(frame.times[-1]) + 0.1
            self.session.pipeline.ingest(frame.encode(), self.now)
            tick(self.now)

    def alarm(self, key: str) -> Severity | None:
        found = [a for a in self.session.alarms.snapshot() if a.key == key]
        return found[0].severity if found else None


@pytest.fixture
def console(tmp_path: Path) -> Any:
    console = Console(tight_roster(tmp_path), silent={"c4"})
    yield console
    console.session.stop()


def test_the_prior_record_is_judged_before_any_dose_is_integrated(
    console: Console,
) -> None:
    # Before any message: the panel's level is already that of the record.
    c2 = console.estimator.snapshot().member("c2")
    assert c2.level == Severity.CRITICAL
    assert math.isnan(c2.days_to_limit)  # "insufficient data", never "not reached"
    console.run(T0 + 60.0)
    snap = console.estimator.snapshot()
    # c4's location never came: nothing is integrated yet (lateness 300 s)...
    assert math.isnan(snap.time)
    assert "c4.module" in snap.unheard_inputs
    # ... yet c2's career is judged, alarmed and logged at once.
    c2 = snap.member("c2")
    assert c2.career_fraction == pytest.approx(599.5 / 600)
    assert c2.level == Severity.CRITICAL
    career = next(s for s in c2.limits if s.window_days is None)
    assert career.level == Severity.CRITICAL
    assert math.isnan(c2.days_to_limit)
    assert not c2.projection.ok
    assert c2.projection.reason.startswith("insufficient data")
    assert console.alarm("c2.career_fraction") == Severity.CRITICAL
    events = [
        e
        for e in console.session.store.events_since(0)
        if e.kind == str(DoseEventKind.LIMIT)
    ]
    assert any(
        "c2" in e.detail and "career" in e.detail and e.severity == Severity.CRITICAL
        for e in events
    )
    # Other crew members' levels are judged too, not held back: c1 is fine.
    assert snap.member("c1").level == Severity.NOMINAL
    assert math.isnan(snap.member("c1").days_to_limit)


def test_once_integration_starts_the_alarm_is_not_raised_twice(
    console: Console,
) -> None:
    console.run(T0 + 420.0)
    snap = console.estimator.snapshot()
    assert not math.isnan(snap.time)  # integrating now, c4 given up on
    events = [
        e
        for e in console.session.store.events_since(0)
        if e.kind == str(DoseEventKind.LIMIT) and "c2" in e.detail
    ]
    assert len(events) == 1
    assert snap.member("c2").level == Severity.CRITICAL
    # The prior point was not "backlog": no source's samples went to history.
    assert not [e for e in console.session.store.events_since(0) if e.kind == "backlog"]
