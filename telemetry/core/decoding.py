"""Frame -> numeric channel batches, per the dictionary.

Numbers and booleans become float64, null becomes "not sampled" (dropped),
enum strings become their dictionary codes. Channels the dictionary does not
declare are kept (and flagged), with codes assigned to their strings on first
sight so nothing received is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from telemetry.core.wire import Frame, Value, WireError

if TYPE_CHECKING:
    from telemetry.core.dictionary import ChannelSpec, TelemetryDictionary

_NUMERIC_TYPES = frozenset({float, int, bool, type(None)})
# Undeclared channels get codes for their strings; a bound keeps a hostile
# publisher from growing the table without end.
MAX_INVENTED_STATES = 256
# Fuzzing fix: the count bound alone let 256 states of megabytes each in.
MAX_STATE_CHARS = 128


@dataclass(frozen=True, slots=True)
class ChannelBatch:
    """Samples of one channel from one frame; NaN-free, in time order."""

    key: str
    times: np.ndarray
    values: np.ndarray


@dataclass(slots=True)
class DecodedFrame:
    """The decoder's output for one frame."""

    batches: list[ChannelBatch]
    undeclared: list[str] = field(default_factory=list)
    new_states: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        return sum(int(b.times.shape[0]) for b in self.batches)


class Decoder:
    """Turns Frames into ChannelBatches; owned by the zmq-subscriber thread.

    Holds the state codes it invented for undeclared enum channels, so it must
    not be shared between threads.
    """

    def __init__(self, dictionary: TelemetryDictionary) -> None:
        self.dictionary = dictionary
        self._undeclared_states: dict[str, dict[str, int]] = {}

    def states_of(self, key: str) -> dict[str, int]:
        """Return the state codes for ``key`` (declared or invented)."""
        spec = self.dictionary.channel_for_key(key)
        if spec is not None and spec.states:
            return dict(spec.states)
        return dict(self._undeclared_states.get(key, {}))

    def decode(self, frame: Frame) -> DecodedFrame:
        """Convert every column of ``frame``.

        Raises
        ------
        WireError
            ``bad value`` when a declared enum gets an unknown state, a
            numeric channel gets a string, or a value is not finite.
        """
        out = DecodedFrame([])
        family_channels = self.dictionary.families.get(frame.family, {})
        source_known = frame.source in self.dictionary.sources
        times = frame.times
        # Rows must be in time order for the ring buffers and the integrators.
        order = None
        # Compared, not differenced: np.diff overflowed (with a warning) on
        # finite extremes such as [1e308, -1e308] (found by fuzzing).
        if times.shape[0] > 1 and bool((times[1:] < times[:-1]).any()):
            order = np.argsort(times, kind="stable")
            times = times[order]
        for name, column in frame.columns.items():
            key = f"{frame.source}.{name}"
            spec = family_channels.get(name) if source_known else None
            if spec is None:
                out.undeclared.append(key)
            values = self._column(key, name, spec, column, out)
            if order is not None:
                values = values[order]
            present = ~np.isnan(values)
            if present.all():
                out.batches.append(ChannelBatch(key, times, values))
            elif present.any():
                out.batches.append(ChannelBatch(key, times[present], values[present]))
        return out

    def _column(
        self,
        key: str,
        name: str,
        spec: ChannelSpec | None,
        column: list[Value],
        out: DecodedFrame,
    ) -> np.ndarray:
        kinds = set(map(type, column))
        if kinds <= _NUMERIC_TYPES:
            values = np.array(column, dtype=np.float64)  # None -> NaN
            if np.isinf(values).any():
                row = int(np.flatnonzero(np.isinf(values))[0])
                raise WireError(
                    "bad value", f"{name}[{row}] = {column[row]!r} is not finite"
                )
            return values
        if spec is not None and not spec.states:
            row = next(i for i, v in enumerate(column) if isinstance(v, str))
            raise WireError(
                "bad value",
                f"{name}[{row}] = {column[row]!r}: "
                f"channel is numeric ({spec.unit or 'no unit'})",
            )
        states = (
            spec.states
            if spec is not None
            else self._undeclared_states.setdefault(key, {})
        )
        values = np.empty(len(column), dtype=np.float64)
        for i, v in enumerate(column):
            if v is None:
                values[i] = np.nan
            elif isinstance(v, str):
                code = states.get(v)
                if code is None:
                    if spec is not None:
                        raise WireError(
                            "bad value",
                            f"{name}[{i}] = {v[:40]!r} is not a state of {key} "
                            f"({', '.join(spec.states)})",
                        )
                    if len(states) >= MAX_INVENTED_STATES:
                        raise WireError(
                            "bad value",
                            f"{name}[{i}]: undeclared channel {key} has more than "
                            f"{MAX_INVENTED_STATES} distinct strings",
                        )
                    if len(v) > MAX_STATE_CHARS:
                        raise WireError(
                            "bad value",
                            f"{name}[{i}]: a string of {len(v)} characters "
                            f"(max {MAX_STATE_CHARS}) in undeclared channel {key}",
                        )
                    code = len(states)
                    states[v] = code
                    out.new_states[key] = dict(states)
                values[i] = code
            else:
                values[i] = float(v)
        return values
