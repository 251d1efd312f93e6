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
#: ``WireError.reason`` of a channel the console computes itself, sent on the wire.
DERIVED_ON_WIRE = "derived channel"


def _two_state(spec: ChannelSpec) -> bool:
    """Tell whether a channel is a flag whose states are the codes 0 and 1."""
    return sorted(spec.states.values()) == [0, 1]


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
    """Turns Frames into ChannelBatches; owned by the telemetry-pipeline thread.

    Holds the state codes it invented for undeclared enum channels, so it must
    not be shared between threads.
    """

    def __init__(self, dictionary: TelemetryDictionary) -> None:
        self.dictionary = dictionary
        self._undeclared_states: dict[str, dict[str, int]] = {}
        # Whether each undeclared channel carries numbers or strings, fixed by
        # its first values: a column mixing both would show the number 0 as
        # the first string's name (codes are invented from 0).
        self._undeclared_numeric: dict[str, bool] = {}

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
            ``bad value`` when a declared enum gets an unknown state or a
            number that is no state's code, a numeric channel gets a string,
            a value is not finite or outside the channel's declared valid
            range, or an undeclared channel mixes numbers and strings;
            ``derived channel`` when the frame carries a channel the console
            computes itself (crew dose, dew point...).
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
            elif spec.derived:
                raise WireError(
                    DERIVED_ON_WIRE,
                    f"{key} is computed by this console; a publisher may not "
                    "send it",
                )
            values = self._column(key, name, spec, column, out)
            if spec is not None and spec.valid_range is not None:
                _check_range(name, spec.valid_range, spec.unit, values)
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
        if bool in kinds and spec is not None and not _two_state(spec):
            # true/false is a two-state flag (a marker seen, a link up): in
            # ppCO2 it read as 1.00 mmHg, in a robot mode as MAINTENANCE.
            row = next(i for i, v in enumerate(column) if isinstance(v, bool))
            what = "an enum of more than two states" if spec.states else "numeric"
            raise WireError(
                "bad value",
                f"{name}[{row}] = {str(column[row]).lower()}: a boolean, and the "
                f"channel is {what}",
            )
        if kinds <= _NUMERIC_TYPES:
            values = np.array(column, dtype=np.float64)  # None -> NaN
            finite = np.isfinite(values)
            # null is "not sampled", and so is a NaN number (msgpack carries
            # one; docs/protocol.md) except where the dictionary declares a
            # valid range: a dose rate or a flux that is NaN is refused.
            strict = spec is not None and spec.valid_range is not None
            if not finite.all() and (
                np.isinf(values).any()
                or (strict and int((~finite).sum()) != column.count(None))
            ):
                row = next(
                    i
                    for i, v in enumerate(column)
                    if v is not None and not np.isfinite(float(v))
                )
                raise WireError(
                    "bad value", f"{name}[{row}] = {column[row]!r} is not finite"
                )
            if spec is not None and spec.states:
                _check_codes(key, name, spec.states, values)
            elif spec is None and finite.any():
                self._fix_kind(key, name, numeric=True)
            return values
        if spec is not None and not spec.states:
            row = next(i for i, v in enumerate(column) if isinstance(v, str))
            raise WireError(
                "bad value",
                f"{name}[{row}] = {column[row]!r}: "
                f"channel is numeric ({spec.unit or 'no unit'})",
            )
        if spec is None:
            if kinds & {float, int, bool}:
                row = next(
                    i
                    for i, v in enumerate(column)
                    if v is not None and not isinstance(v, str)
                )
                raise WireError(
                    "bad value",
                    f"{name}[{row}] = {column[row]!r}: undeclared channel {key} "
                    "mixes numbers and strings",
                )
            self._fix_kind(key, name, numeric=False)
        states = (
            spec.states
            if spec is not None
            else self._undeclared_states.setdefault(key, {})
        )
        values = np.empty(len(column), dtype=np.float64)
        numbers = False
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
                numbers = True
        if numbers and spec is not None:
            # State names map to codes by construction; numbers may not.
            _check_codes(key, name, spec.states, values)
        return values

    def _fix_kind(self, key: str, name: str, *, numeric: bool) -> None:
        """Refuse an undeclared channel whose values change between numbers and text."""
        was = self._undeclared_numeric.setdefault(key, numeric)
        if was != numeric:
            had, got = ("numbers", "strings") if was else ("strings", "numbers")
            raise WireError(
                "bad value",
                f"{name}: undeclared channel {key} carried {had}, now {got}",
            )


def _check_codes(
    key: str, name: str, states: dict[str, int], values: np.ndarray
) -> None:
    """Refuse a number in an enum channel that is no state's code."""
    codes = np.fromiter(states.values(), dtype=np.float64, count=len(states))
    bad = ~np.isnan(values) & ~np.isin(values, codes)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise WireError(
            "bad value",
            f"{name}[{row}] = {values[row]:g} is no state code of {key} "
            f"({', '.join(f'{n}={c}' for n, c in states.items())})"[:300],
        )


def _check_range(
    name: str, valid: tuple[float, float], unit: str, values: np.ndarray
) -> None:
    """Refuse a value outside the channel's physically possible range."""
    low, high = valid
    bad = (values < low) | (values > high)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise WireError(
            "bad value",
            f"{name}[{row}] = {values[row]:g} {unit} is outside the valid range "
            f"[{low:g}, {high:g}]".replace("  ", " "),
        )
