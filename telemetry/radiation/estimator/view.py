"""Typed seams of the dose estimator: what the GUI, replay and sessions rely on.

Protocols, so a dock or a replay depends on what it reads, not on the class
(a test double or a recorded-snapshot player satisfies them too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from telemetry.radiation.estimator.model import DoseEvent, DoseSnapshot
    from telemetry.radiation.estimator.state import EstimatorState
    from telemetry.radiation.roster import DoseLimits


class DoseView(Protocol):
    """The dose view the radiation panel reads (GUI thread; never waits)."""

    def snapshot(self) -> DoseSnapshot: ...

    @property
    def limits(self) -> DoseLimits:
        """The dose limits in force (their version is shown on the panel)."""
        ...


class DoseEventSource(Protocol):
    """Where the console's event log drains dose alerts from (any thread)."""

    def drain_events(self) -> list[DoseEvent]: ...


class DoseCheckpointing(Protocol):
    """Checkpoint and restore of the estimator's state (its owner thread)."""

    def checkpoint(self) -> EstimatorState: ...

    def restore(self, state: object) -> None: ...
