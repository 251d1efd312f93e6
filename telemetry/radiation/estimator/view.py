"""Typed seam of the dose estimator: what the radiation panel reads.

Events, checkpoints and restores are the ``core.deriver.Deriver`` protocol
every derived-channel engine declares.

Protocols, so a dock or a replay depends on what it reads, not on the class
(a test double or a recorded-snapshot player satisfies them too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from telemetry.radiation.estimator.model import DoseSnapshot
    from telemetry.radiation.roster import DoseLimits


class DoseView(Protocol):
    """The dose view the radiation panel reads (GUI thread; never waits)."""

    def snapshot(self) -> DoseSnapshot: ...

    @property
    def limits(self) -> DoseLimits:
        """The dose limits in force (their version is shown on the panel)."""
        ...
