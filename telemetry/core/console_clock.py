"""Whether the console's own clock is the likely culprit of "time ahead" refusals.

A live session refuses a message whose sample times run more than
``MAX_TIME_AHEAD_S`` ahead of the receive clock. When the console machine's
clock is wrong (an NTP step back, a VM resumed, a bad time server), every
publisher is "ahead" by the same amount at once, and each refusal blames its
own publisher. Several declared sources refused within a minute by a similar
offset point at the one clock they share: this console's.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Final

#: Refusals and arrivals older than this (seconds) are forgotten.
WINDOW_S: Final = 60.0
#: At least this many declared sources must be refused as ahead...
MIN_SOURCES: Final = 2
#: ...and more than this share of the declared sources heard in the window.
MIN_SHARE: Final = 0.5
#: Their offsets must agree within this many seconds (batching and latency
#: spread them; independent clock faults would not agree).
MAX_SPREAD_S: Final = 60.0
#: The alarm's key in the alarm list.
CONSOLE_CLOCK_ALARM: Final = "console clock"


@dataclass(frozen=True, slots=True)
class ClockVerdict:
    """What :meth:`ConsoleClockWatch.assess` concluded (immutable)."""

    suspect: bool
    offset_s: float  # median of the refused sources' offsets (s ahead)
    refused: int  # declared sources refused as ahead in the window
    heard: int  # declared sources heard (accepted or refused) in the window

    def text(self) -> str:
        """One line for the event log and the alarm list."""
        if not self.suspect:
            return "sources' sample times agree with this console's clock again"
        return (
            f"{self.refused} of {self.heard} sources are refused as "
            f"{self.offset_s:,.0f} s ahead of this console's clock: the console's "
            f"clock is probably {self.offset_s:,.0f} s slow (NTP step, VM resume, "
            "bad time server); check its time. Their live data is refused meanwhile"
        )


@dataclass
class ConsoleClockWatch:
    """Recent "time ahead" refusals of declared sources; zmq-subscriber thread."""

    _ahead: dict[str, tuple[float, float]] = field(default_factory=dict)
    suspect: bool = False

    def note_ahead(self, source: str, received: float, ahead_s: float) -> None:
        """Remember that ``source``'s message at ``received`` ran ``ahead_s`` ahead."""
        self._ahead[source] = (received, ahead_s)

    def assess(self, now: float, last_accepted: dict[str, float]) -> ClockVerdict:
        """Judge the last ``WINDOW_S`` before ``now``.

        ``last_accepted`` maps each declared source to the receive time of its
        last accepted message (NaN if none).
        """
        since = now - WINDOW_S
        self._ahead = {s: v for s, v in self._ahead.items() if v[0] > since}
        offsets = [ahead for _t, ahead in self._ahead.values()]
        heard = set(self._ahead) | {s for s, t in last_accepted.items() if t > since}
        refused = len(offsets)
        suspect = (
            refused >= MIN_SOURCES
            and refused > MIN_SHARE * len(heard)
            and max(offsets) - min(offsets) <= MAX_SPREAD_S
        )
        offset = statistics.median(offsets) if offsets else 0.0
        return ClockVerdict(suspect, offset, refused, len(heard))
