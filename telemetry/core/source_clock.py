"""How far ahead of the receive clock one source's sample times may run.

A live session refuses sample times far ahead of its receive clock
(``Pipeline(max_time_ahead_s=...)``). Two things must both hold:

- the bound cannot be *walked*: a publisher that moves its clock forward in
  steps that each stay under the bound must not end up days ahead. So the
  reference is never the source's own last sample time;
- a simulator running faster than the wall clock (``sim --rate-scale 60``),
  including one the console joins long after it started, is followed.

The rule that tells them apart: a source's clock *rate* (sample seconds per
receive second) is learned once, from its first ``LEARN_S`` seconds, and may
then drift by at most ``RATE_TOLERANCE`` of that. A source whose rate is near
1 is a real-time source and is anchored to the receive clock itself (its
samples may be at most the bound ahead of ``received``, forever). A faster one
is an accelerated clock, anchored to the line through its first sighting at
its rate (refined as the baseline grows, within the tolerance), plus
``JITTER_S`` of its clock and the bound. Neither can be walked: a walker that
starts real time stays anchored to the receive clock, and one that starts
fast can never run faster than the rate it showed while being learned (at most
``MAX_CLOCK_RATE``) times ``1 + RATE_TOLERANCE``. While a source's first
messages are more than the bound ahead its rate is not known yet: those are
refused ("its clock is being learned"); the rest are followed.

The rate is learned only from a consistent clock: every message seen while
learning must lie on one line (within ``JITTER_S`` of receive time); a source
that runs in real time and then jumps ahead is learned as real time. A
source that runs fast from its very first message at a constant rate is, by
every measure the console has, an accelerated simulator: it is followed, at
no more than ``MAX_CLOCK_RATE``. A first message from the past (a backlog
after loss of signal) anchors at the receive clock, not at its own time, so
the backlog is not mistaken for speed.

Owned by the thread driving the pipeline (one ``SourceClock`` per source).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Receive-clock seconds over which a source's clock rate is learned.
LEARN_S = 2.0
#: A learned rate below this is a real-time clock (batching and jitter make a
#: real-time source's rate wobble around 1 over the first seconds).
REAL_TIME_BELOW = 1.5
#: Fastest clock followed: ``sim --rate-scale`` beyond this is refused.
MAX_CLOCK_RATE = 1000.0
#: Relative drift an accelerated clock may show against the rate first learned.
RATE_TOLERANCE = 0.02
#: Receive-clock jitter allowed for (seconds of receive time, times the rate).
JITTER_S = 1.0
# Sightings kept while learning (the first and the newest ones).
_MAX_POINTS = 64


@dataclass(slots=True)
class SourceClock:
    """The learned clock of one source: first sighting, and rate once learned."""

    first_received: float = math.nan
    first_time: float = math.nan
    learned_rate: float = math.nan  # NaN while learning; then fixed
    rate: float = math.nan  # refined within RATE_TOLERANCE of learned_rate
    # (receive time, sample time) seen while learning; emptied once learned.
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def learned(self) -> bool:
        return not math.isnan(self.learned_rate)

    @property
    def accelerated(self) -> bool:
        return self.learned and self.learned_rate >= REAL_TIME_BELOW

    def limit(self, received: float, bound: float) -> float:
        """Return the newest sample time accepted at ``received``."""
        if not self.accelerated:
            return received + bound
        elapsed = max(0.0, received - self.first_received)
        ahead = self.first_time + self.rate * (elapsed + JITTER_S)
        return max(received, ahead) + bound

    def now(self, received: float) -> float:
        """Return the source's own "now" at ``received``: where its clock is.

        The receive clock, or for an accelerated clock the point its line
        has reached (ahead of the receive clock). A sample well before it is
        an old one, whenever it arrives.
        """
        if not self.accelerated:
            return received
        elapsed = max(0.0, received - self.first_received)
        return max(received, self.first_time + self.rate * elapsed)

    def observe(self, received: float, newest: float) -> None:
        """Learn from one accepted or refused message (receive, newest sample)."""
        anchored = max(newest, received)
        if math.isnan(self.first_received):
            self.first_received = received
            self.first_time = anchored
            self.points = [(received, anchored)]
            return
        elapsed = received - self.first_received
        if not self.learned:
            if len(self.points) >= _MAX_POINTS:
                del self.points[1]
            self.points.append((received, anchored))
            if elapsed < LEARN_S:
                return
            rate = (anchored - self.first_time) / elapsed
            # A clock faster than any simulator, or one that did not run at
            # one rate while it was learned (real time, then a jump), is not
            # followed: it is real time, and what it sends beyond the bound
            # is refused.
            fast = REAL_TIME_BELOW <= rate <= MAX_CLOCK_RATE and self._steady(rate)
            self.learned_rate = self.rate = rate if fast else 1.0
            self.points = []
            return
        if self.accelerated and elapsed > 0:
            rate = (newest - self.first_time) / elapsed
            low = self.learned_rate / (1.0 + RATE_TOLERANCE)
            high = self.learned_rate * (1.0 + RATE_TOLERANCE)
            self.rate = min(max(rate, low), high)

    def _steady(self, rate: float) -> bool:
        """Tell whether every sighting lies on the line at ``rate`` (within jitter)."""
        r0, t0 = self.first_received, self.first_time
        slack = rate * JITTER_S
        return all(abs(t - (t0 + rate * (r - r0))) <= slack for r, t in self.points)

    def describe(self) -> str:
        """Say in words what the clock was learned as (for a refusal's detail)."""
        if not self.learned:
            return "its clock is being learned"
        if not self.accelerated:
            return "it runs in real time"
        return f"its clock runs {self.rate:.3g}x the receive clock"
