"""What a deriver is: an engine that computes channels from decoded ones.

The dew point and the crew dose estimator are derivers. Every capability the
pipeline and the replay use is declared here, so none is discovered by
probing an object's attributes. A deriver is owned by the thread that drives
its pipeline (telemetry-pipeline live, the replay thread in a replay).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from telemetry.core.decoding import ChannelBatch
    from telemetry.core.severity import Severity


class DerivedEvent(Protocol):
    """An event a deriver reports for the event log (a dose alert, say)."""

    @property
    def time(self) -> float: ...

    @property
    def crew(self) -> str | None: ...

    @property
    def kind(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def severity(self) -> Severity: ...


class Deriver(Protocol):
    """Computes derived channel batches from a frame's decoded batches.

    Every capability the pipeline and the replay use is declared here, so
    none is discovered by probing an object's attributes.
    """

    def derive(self, batches: list[ChannelBatch]) -> list[ChannelBatch]: ...

    def reset(self) -> None: ...

    def drain_events(self) -> Sequence[DerivedEvent]:
        """Return and forget the events raised since the last call."""
        ...

    def checkpoint(self) -> object:
        """Return a copy of the state, unaffected by later input (for seeks)."""
        ...

    def restore(self, state: object) -> None:
        """Return to a :meth:`checkpoint`, which stays usable for another restore."""
        ...
