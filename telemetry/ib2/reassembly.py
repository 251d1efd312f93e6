"""Accounting of the split parts of each telemetry cycle, per sending socket.

The robot splits one cycle's dict into parts sent one period apart, each
with its own header (split number N, 1-based index i) and timestamp; the
ground publishes every part as it comes (JAXA's bridge never joins them)
and so does this console: waiting for a whole cycle would delay data by N
periods and lose all of it with one missing part. What the parts add up to
is tracked here: completed cycles and parts missed. Owned by the bridge
thread.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class PortCycles:
    """Cycle state of one sending socket (sending-port index); the bridge thread's."""

    split_number: int = 0
    next_index: int = 1
    complete: int = 0
    missed_parts: int = 0


class PartTracker:
    """Counts complete cycles and missed parts per sending socket; bridge thread."""

    def __init__(self) -> None:
        self.ports: dict[int, PortCycles] = {}

    def add(self, port: int, split_number: int, index: int) -> int:
        """Record part ``index`` of ``split_number``; return the parts missed before."""
        state = self.ports.setdefault(port, PortCycles())
        missed = 0
        if state.split_number and (
            split_number != state.split_number or index < state.next_index
        ):
            # A new cycle began before the last one ended.
            missed += state.split_number - state.next_index + 1
            state.next_index = 1
        if index > state.next_index:
            missed += index - state.next_index
        state.split_number = split_number
        state.next_index = index + 1
        if index == split_number:
            state.complete += 1
            state.split_number = 0
            state.next_index = 1
        state.missed_parts += missed
        return missed
