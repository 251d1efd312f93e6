"""Shelter advice for a console (re)started during a solar particle event.

A console started during an S3 event used to give no advice for an orbit
(``min_history_min``), even for a crew member 0.5 mSv from the career limit,
and a restart withdrew a standing "relocate". Advice now comes from the first
decision of an event, from earlier sessions' ledger bins or, lacking history,
the current rate (it errs high), and standing advice survives a restart.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

from telemetry.core.dictionary import TelemetryDictionary
from telemetry.live.ledger_keeper import CARRIED
from telemetry.live.session import LiveSession, SessionConfig, build_derivers
from telemetry.radiation.estimator import DoseEventKind, ShelterAction
from telemetry.radiation.ledger import DoseLedger, StandingAdvice
from telemetry.radiation.roster import DEFAULT_ROSTER
from telemetry.sim.simulator import Simulator

if TYPE_CHECKING:
    from pathlib import Path

    from telemetry.radiation.estimator import DoseEstimator, DoseSnapshot

T0 = 1_764_547_200.0  # 2025-12-01T00:00Z, inside the roster's missions
MIN = 60.0


@pytest.fixture(scope="module")
def dictionary() -> TelemetryDictionary:
    return TelemetryDictionary.load()


@pytest.fixture
def roster(tmp_path: Path) -> Path:
    """The shipped roster with c2 at 599.5 of NASA's 600 mSv (0.5 mSv left)."""
    text, n = re.subn(
        r"prior_career_msv = 480\.0",
        "prior_career_msv = 599.5",
        DEFAULT_ROSTER.read_text(encoding="utf-8"),
    )
    assert n == 1
    path = tmp_path / "roster.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Console:
    """A live session fed ``spe-2017-09`` at 60x in process, from ``join`` on."""

    def __init__(
        self,
        dictionary: TelemetryDictionary,
        roster: Path,
        ledger: Path | None,
        join: float,
        scenario: str = "spe-2017-09",
        lag: float = 0.0,
    ) -> None:
        self.lag = lag  # receive clock behind the sample times (a recording)
        self.now = T0 + join + lag
        derivers = build_derivers(dictionary, roster)
        self.estimator: DoseEstimator = derivers[0]  # type: ignore[assignment]
        self.session = LiveSession(
            dictionary,
            SessionConfig([], None, dose_ledger=ledger),
            derivers,
            clock=lambda: self.now,
        )
        self.sim = Simulator(
            dictionary, 2, scenario=scenario, rate_scale=60.0, start_time=T0, batch_s=10
        )
        self.frames = (
            f for f in self.sim.frames_until(T0 + 10 * 3600) if f.times[-1] >= T0 + join
        )

    def run(self, until: float, every: float = MIN) -> list[DoseSnapshot]:
        """Feed frames up to ``T0 + until``; return a snapshot per ``every`` s."""
        tick = self.session.subscriber.on_tick
        assert tick is not None
        snaps: list[DoseSnapshot] = []
        due = self.now
        for frame in self.frames:
            self.now = float(frame.times[-1]) + 0.1 + self.lag
            self.session.pipeline.ingest(frame.encode(), self.now)
            tick(self.now)
            if self.now >= due:
                snaps.append(self.estimator.snapshot())
                due = self.now + every
            if self.now - self.lag >= T0 + until:
                break
        return snaps


def c2_provisional(snap: DoseSnapshot) -> bool:
    return next(c for c in snap.shelter.crew if c.crew_id == "c2").provisional


def action(snap: DoseSnapshot, crew_id: str) -> ShelterAction:
    advice = next((c for c in snap.shelter.crew if c.crew_id == crew_id), None)
    return advice.action if advice is not None else ShelterAction.NONE


def test_a_console_started_during_an_s3_event_advises_at_once(
    dictionary: TelemetryDictionary, roster: Path
) -> None:
    # 100 min into the scenario the event is S3 (~1,250 pfu); no ledger.
    console = Console(dictionary, roster, None, join=100 * MIN)
    snaps = console.run(130 * MIN)
    first_spe = next(s for s in snaps if s.spe.active)
    first_advice = next(s for s in snaps if action(s, "c2") != ShelterAction.NONE)
    # From the event's first decision (a GOES sample, 5 min), not an orbit later.
    assert first_advice.time - first_spe.time <= 5 * MIN
    assert action(first_advice, "c2") == ShelterAction.RELOCATE
    assert first_advice.shelter.recommended
    reason = next(c for c in first_advice.shelter.crew if c.crew_id == "c2").reason
    assert "current or" in reason and "whichever is higher (errs high)" in reason
    assert c2_provisional(first_advice)
    # After an orbit of history the orbit average decides (not provisional),
    # and c2's tiny margin keeps "relocate".
    later = console.run(200 * MIN, every=10 * MIN)[-1]
    assert later.spe.active
    assert not c2_provisional(later)
    assert action(later, "c2") == ShelterAction.RELOCATE
    assert all(not c.provisional for c in later.shelter.crew)
    console.session.stop()


def test_a_restart_keeps_a_standing_relocate_and_uses_the_ledger_history(
    dictionary: TelemetryDictionary, roster: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "dose_ledger.sqlite"
    first = Console(dictionary, roster, ledger, join=0.0)
    before = first.run(100 * MIN)
    assert action(before[-1], "c2") == ShelterAction.RELOCATE
    first.session.stop()
    # Restarted two minutes later: the advice stands before any data...
    second = Console(dictionary, roster, ledger, join=102 * MIN)
    snap = second.estimator.snapshot()
    assert action(snap, "c2") == ShelterAction.RELOCATE
    assert snap.shelter.recommended
    c2 = next(c for c in snap.shelter.crew if c.crew_id == "c2")
    assert c2.reason.startswith(CARRIED)
    assert "shelter advice carried over for" in snap.history_note
    # ... and at every moment after (never withdrawn while the SPE is confirmed).
    after = second.run(140 * MIN)
    assert all(action(s, "c2") == ShelterAction.RELOCATE for s in after)
    # Decided afresh on the ledger's hourly bins: an orbit average, not the
    # short-history estimate.
    reason = next(c for c in after[-1].shelter.crew if c.crew_id == "c2").reason
    assert "orbit-averaged" in reason, reason
    second.session.stop()


def test_carried_advice_ends_once_the_flux_is_seen_quiet(
    dictionary: TelemetryDictionary, roster: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "dose_ledger.sqlite"
    writer = DoseLedger(
        ledger, roster_version="x", roster_sha256="", bin_s=3600.0, opened=T0
    )
    writer.record_advice(
        [
            StandingAdvice(
                "c2", ShelterAction.RELOCATE.value, T0 - 30 * MIN, T0 - MIN, "why"
            )
        ]
    )
    writer.close()
    console = Console(dictionary, roster, ledger, join=0.0, scenario="nominal")
    assert action(console.estimator.snapshot(), "c2") == ShelterAction.RELOCATE
    # The nominal scenario's GOES flux is quiet (< 8.5 pfu): three samples end it.
    console.run(30 * MIN)
    snap = console.estimator.snapshot()
    assert action(snap, "c2") == ShelterAction.NONE
    assert not snap.shelter.recommended
    cleared = [
        e
        for e in console.session.store.events_since(0)
        if e.kind == str(DoseEventKind.SHELTER_CLEARED)
    ]
    assert len(cleared) == 1 and "c2" in cleared[0].detail
    console.session.stop()
    # A stop with no advice in force leaves none for the next console.
    reader = DoseLedger(
        ledger, roster_version="x", roster_sha256="", bin_s=3600.0, opened=T0,
        read_only=True,
    )  # fmt: skip
    assert reader.standing_advice() == []
    reader.close()


def test_advice_older_than_its_horizon_is_not_carried(
    dictionary: TelemetryDictionary, roster: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "dose_ledger.sqlite"
    writer = DoseLedger(
        ledger, roster_version="x", roster_sha256="", bin_s=3600.0, opened=T0
    )
    stale = T0 - 25 * 3600.0  # confirmed last more than 24 h (horizon_h) ago
    writer.record_advice(
        [StandingAdvice("c2", ShelterAction.RELOCATE.value, stale, stale, "old")]
    )
    writer.close()
    console = Console(dictionary, roster, ledger, join=0.0, scenario="nominal")
    assert action(console.estimator.snapshot(), "c2") == ShelterAction.NONE
    console.session.stop()


def test_advice_from_a_republished_recording_is_never_carried(
    dictionary: TelemetryDictionary, roster: Path, tmp_path: Path
) -> None:
    """Like its dose, a recording's advice is not the crew's (never written)."""
    ledger = tmp_path / "dose_ledger.sqlite"
    # Last week's event sent again today: its sample times are not live.
    console = Console(dictionary, roster, ledger, join=0.0, lag=7 * 86400.0)
    snaps = console.run(100 * MIN)
    assert action(snaps[-1], "c2") == ShelterAction.RELOCATE
    console.session.stop()
    reader = DoseLedger(
        ledger, roster_version="x", roster_sha256="", bin_s=3600.0, opened=T0,
        read_only=True,
    )  # fmt: skip
    assert reader.standing_advice() == []
    reader.close()
