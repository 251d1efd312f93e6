"""Fault injection on wire messages; the scenarios are TOML data files.

A ``FaultPlan`` says what misbehaves, when and how; a ``FaultInjector`` rewrites
protocol-v1 messages accordingly, on a replay or in front of the simulator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Final, NamedTuple, TypeGuard

import msgspec
import numpy as np

from telemetry.core.config_file import ConfigError, ConfigFile, KeyPath
from telemetry.core.wire import (
    Frame,
    Value,
    WireError,
    decode_frame,
    encode_frame,
    split_topic,
)

if TYPE_CHECKING:
    from pathlib import Path

    from telemetry.core.dictionary import TelemetryDictionary

FAULT_KINDS: Final = ("stuck", "ramp", "noisy", "dropped", "silent")
"""``stuck`` holds the last value, ``ramp`` adds ``rate × dt``, ``noisy`` adds
gaussian noise of ``sigma``, ``dropped`` sends null (not sampled), and
``silent`` drops every message of a source."""


class FaultPlanError(ConfigError):
    """A fault scenario that cannot be used; names file, line, entry (any thread)."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One scheduled fault, seconds from the session start; immutable, any thread."""

    index: int  # 1-based position in the file, as the error messages count
    kind: str
    source: str
    channel: str | None  # channel name within the source; None for ``silent``
    at: float
    duration: float  # math.inf: until the end of the session
    rate: float = 0.0  # ramp, units per second
    sigma: float = 0.0  # noisy, units (1 sigma)
    comment: str = ""
    line: int | None = None

    @property
    def target(self) -> str:
        """``source.channel`` for channel faults, the source id for ``silent``."""
        return self.source if self.channel is None else f"{self.source}.{self.channel}"

    def window(self, t0: float) -> tuple[float, float]:
        """Return ``[start, end)`` in UTC seconds for a session that began at ``t0``."""
        start = t0 + self.at
        return start, start + self.duration

    def describe(self) -> str:
        """One line for a timeline or a report."""
        what = {
            "stuck": "stuck (holds its last value)",
            "ramp": f"ramp {self.rate:+g}/s",
            "noisy": f"noisy (sigma {self.sigma:g})",
            "dropped": "dropped (null)",
            "silent": "silent (messages dropped)",
        }[self.kind]
        return f"{self.target} {what}"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """A scenario: name, noise seed, faults in file order; immutable, any thread."""

    name: str
    description: str
    seed: int
    faults: tuple[Fault, ...]
    path: Path | None = None

    @classmethod
    def load(
        cls, path: str | Path, dictionary: TelemetryDictionary | None = None
    ) -> FaultPlan:
        """Read a scenario file.

        Parameters
        ----------
        path : str or Path
            TOML with an optional ``[scenario]`` table (``name``,
            ``description``, ``seed``) and ``[[fault]]`` entries (``kind``,
            ``channel`` as ``"source.channel"`` or ``source`` for ``silent``,
            ``at`` and ``duration`` in seconds from the session start,
            ``rate`` for ramp, ``sigma`` for noisy). ``[[expect]]`` entries
            are left to the trainer.
        dictionary : TelemetryDictionary, optional
            When given, sources and channels must be declared in it and
            ``ramp``/``noisy`` channels must be numeric.

        Raises
        ------
        FaultPlanError
            Naming the file, the line and the entry (``[fault #2]``).
        """
        source = ConfigFile.read(
            path, what="fault scenario", error=FaultPlanError, entry_label=_label
        )
        return _plan(source, dictionary)

    @classmethod
    def from_text(
        cls,
        text: str,
        path: str | Path | None = None,
        dictionary: TelemetryDictionary | None = None,
    ) -> FaultPlan:
        """Parse scenario TOML text (see :meth:`load`); ``path`` names it in errors."""
        source = ConfigFile(
            text, path or "<fault scenario>", error=FaultPlanError, entry_label=_label
        )
        return _plan(source, dictionary)

    def for_source(self, source: str) -> list[Fault]:
        return [f for f in self.faults if f.source == source]


class _Scenario(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The ``[scenario]`` table."""

    name: str | None = None
    description: str = ""
    seed: Annotated[int, msgspec.Meta(ge=0)] = 0


class _FaultEntry(
    msgspec.Struct, tag_field="kind", forbid_unknown_fields=True, kw_only=True
):
    """What every ``[[fault]]`` has; the subclasses add their kind's keys."""

    at: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    duration: Annotated[float, msgspec.Meta(gt=0)] = math.inf
    comment: str = ""


class _Stuck(_FaultEntry, tag="stuck", kw_only=True):
    channel: str


class _Ramp(_FaultEntry, tag="ramp", kw_only=True):
    channel: str
    rate: float


class _Noisy(_FaultEntry, tag="noisy", kw_only=True):
    channel: str
    sigma: Annotated[float, msgspec.Meta(gt=0)]


class _Dropped(_FaultEntry, tag="dropped", kw_only=True):
    channel: str


class _Silent(_FaultEntry, tag="silent", kw_only=True):
    source: str


class _ScenarioFile(msgspec.Struct, forbid_unknown_fields=True):
    """A whole scenario file; ``expect`` belongs to the trainer's debrief."""

    scenario: _Scenario = msgspec.field(default_factory=_Scenario)
    fault: list[_Stuck | _Ramp | _Noisy | _Dropped | _Silent] = msgspec.field(
        default_factory=list
    )
    expect: list[dict[str, object]] = msgspec.field(default_factory=list)


def _label(key_path: KeyPath) -> str:
    match key_path:
        case ("fault", int(index)):
            return f"fault #{index + 1}"
        case ("scenario",):
            return "scenario"
    return ""


def _plan(source: ConfigFile, dictionary: TelemetryDictionary | None) -> FaultPlan:
    raw = source.decode(_ScenarioFile)
    faults = tuple(
        _fault(source, i, entry, dictionary) for i, entry in enumerate(raw.fault)
    )
    default_name = source.path.stem if source.path is not None else "faults"
    return FaultPlan(
        name=raw.scenario.name or default_name,
        description=raw.scenario.description,
        seed=raw.scenario.seed,
        faults=faults,
        path=source.path,
    )


def _fault(
    source: ConfigFile,
    i: int,
    entry: _FaultEntry,
    dictionary: TelemetryDictionary | None,
) -> Fault:
    """Check what the types cannot say (finite, names) and build the Fault."""
    here: KeyPath = ("fault", i)
    for key in ("at", "rate", "sigma"):
        value = getattr(entry, key, 0.0)  # rate: ramps, sigma: noisy only
        if not math.isfinite(value):
            raise source.fail(f"{key} must be finite, got {value!r}", (*here, key))
    kind = str(entry.__struct_config__.tag)
    channel: str | None = None
    if isinstance(entry, _Silent):
        src = entry.source
        if not src or "." in src:
            raise source.fail(
                f'source must be a source id such as "ib2-a", got {src!r}',
                (*here, "source"),
            )
    else:
        assert isinstance(entry, _Stuck | _Ramp | _Noisy | _Dropped)
        src, dot, channel = entry.channel.partition(".")
        if not dot or not src or not channel:
            raise source.fail(
                "channel must be <source>.<channel> like jpm.ppco2, "
                f"got {entry.channel!r}",
                (*here, "channel"),
            )
    fault = Fault(
        index=i + 1,
        kind=kind,
        source=src,
        channel=channel,
        at=entry.at,
        duration=entry.duration,
        rate=entry.rate if isinstance(entry, _Ramp) else 0.0,
        sigma=entry.sigma if isinstance(entry, _Noisy) else 0.0,
        comment=entry.comment,
        line=source.line_of(here),
    )
    if dictionary is not None:
        problem = _dictionary_problem(fault, dictionary)
        if problem:
            raise source.fail(problem, here)
    return fault


def _dictionary_problem(fault: Fault, d: TelemetryDictionary) -> str:
    """Return why ``fault`` cannot apply to what ``d`` declares, or ``""``."""
    spec = d.sources.get(fault.source)
    if spec is None:
        return f"source {fault.source!r} is not in the dictionary {d.path}"
    if fault.channel is None:
        return ""
    channel = d.channel(spec.family, fault.channel)
    if channel is None:
        return f"{fault.target} is not a channel of the dictionary {d.path}"
    if channel.derived:
        return (
            f"{fault.target} is derived by the console, not sent: "
            "fault the channels it is derived from"
        )
    if fault.kind in ("ramp", "noisy") and channel.states:
        return (
            f"{fault.target} is an enum ({', '.join(channel.states)}); "
            f"a {fault.kind} fault needs a numeric channel"
        )
    return ""


def _is_number(value: Value) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _InjectorState(NamedTuple):
    last: dict[int, Value]
    held: dict[int, Value]
    modified: int
    dropped: int


class FaultInjector:
    """Rewrites wire messages per a FaultPlan; owned by the one thread that sends them.

    That is the publisher thread for ``republish`` and the simulator, or the
    GUI's replay thread for an in-process replay. ``stuck`` remembers the
    last value seen before its window, so the injector must see the stream
    in time order; ``checkpoint``/``restore`` let a replay seek. Noise is a
    pure function of (seed, fault, message time), so a seek reproduces it.
    """

    def __init__(self, plan: FaultPlan, t0: float) -> None:
        self.plan = plan
        self.t0 = float(t0)
        self._by_source: dict[str, list[Fault]] = {}
        for fault in plan.faults:
            self._by_source.setdefault(fault.source, []).append(fault)
        # Last value seen (after earlier faults) per stuck channel, and the
        # value each stuck fault holds once its window has begun.
        self._last: dict[int, Value] = {}
        self._held: dict[int, Value] = {}
        self.modified = 0
        self.dropped = 0

    def windows(self) -> list[tuple[float, float, Fault]]:
        """Every fault with its ``[start, end)`` in UTC seconds, in file order."""
        return [(*f.window(self.t0), f) for f in self.plan.faults]

    def active(self, t: float) -> list[Fault]:
        """Return the faults in effect at UTC time ``t`` (an instructor's display)."""
        return [f for s, e, f in self.windows() if s <= t < e]

    def checkpoint(self) -> object:
        """Return the injector's state (for a replay checkpoint)."""
        return _InjectorState(
            dict(self._last), dict(self._held), self.modified, self.dropped
        )

    def restore(self, state: object) -> None:
        """Go back to a state returned by :meth:`checkpoint`."""
        if not isinstance(state, _InjectorState):
            raise TypeError(f"not a FaultInjector checkpoint: {type(state).__name__}")
        self._last, self._held = dict(state.last), dict(state.held)
        self.modified, self.dropped = state.modified, state.dropped

    def apply(self, parts: list[bytes]) -> list[bytes] | None:
        """Return the message with the faults applied, or None to drop it.

        Messages of sources without faults, messages outside every window
        and messages that are not valid protocol v1 (the console must see
        those as they are) come back unchanged, as the same list.
        """
        if len(parts) != 2:
            return parts
        try:
            _family, source = split_topic(parts[0])
        except WireError:
            return parts
        faults = self._by_source.get(source)
        if not faults:
            return parts
        try:
            frame = decode_frame(parts)
        except WireError:
            return parts
        if frame.rows == 0:
            return parts
        times = frame.times
        first = float(times.min())
        columns: dict[str, list[Value]] | None = None
        for fault in faults:
            start, end = fault.window(self.t0)
            if fault.kind == "silent":
                if start <= first < end:
                    self.dropped += 1
                    return None
                continue
            assert fault.channel is not None
            column = (columns or frame.columns).get(fault.channel)
            if column is None:
                continue
            inside = (times >= start) & (times < end)
            if fault.kind == "stuck":
                changed = self._stuck(fault, column, times, inside, start)
            elif not inside.any():
                continue
            else:
                changed = self._rewrite(fault, frame, column, times, inside, start)
            if changed is not None:
                if columns is None:
                    columns = dict(frame.columns)
                columns[fault.channel] = changed
        if columns is None:
            return parts
        self.modified += 1
        return encode_frame(
            frame.family, frame.source, frame.seq, times, columns, frame.encoding
        )

    def _stuck(
        self,
        fault: Fault,
        column: list[Value],
        times: np.ndarray,
        inside: np.ndarray,
        start: float,
    ) -> list[Value] | None:
        index = fault.index
        out: list[Value] | None = None
        # Rows in time order, so "last value before the window" is right even
        # when a message's rows arrive unsorted.
        for i in np.argsort(times, kind="stable").tolist():
            value = column[i]
            if value is None:  # not sampled stays not sampled
                continue
            if inside[i]:
                held = self._held.get(index)
                if held is None:
                    # With no earlier value (a replay started inside the
                    # window) the first value seen is the one that sticks.
                    held = self._held[index] = self._last.get(index, value)
                if out is None:
                    out = list(column)
                out[i] = held
            elif times[i] < start:
                self._last[index] = value
        return out

    def _rewrite(
        self,
        fault: Fault,
        frame: Frame,
        column: list[Value],
        times: np.ndarray,
        inside: np.ndarray,
        start: float,
    ) -> list[Value]:
        out = list(column)
        rows = np.flatnonzero(inside).tolist()
        if fault.kind == "dropped":
            for i in rows:
                out[i] = None
            return out
        if fault.kind == "ramp":
            for i in rows:
                value = out[i]
                if _is_number(value):
                    out[i] = value + fault.rate * (float(times[i]) - start)
            return out
        # noisy: one generator per message, seeded by what identifies it, so the
        # same message always gets the same noise whatever came before.
        stamp = round(float(times.min()) * 1e6)
        rng = np.random.default_rng([self.plan.seed, fault.index, stamp, frame.seq])
        noise = rng.normal(0.0, fault.sigma, len(rows)).tolist()
        for i, n in zip(rows, noise, strict=True):
            value = out[i]
            if _is_number(value):
                out[i] = value + n
        return out


def load_injector(
    faults: str | Path | FaultPlan | None,
    t0: float,
    dictionary: TelemetryDictionary | None = None,
) -> FaultInjector | None:
    """Return an injector for a scenario path or plan (None when there is none)."""
    if faults is None:
        return None
    plan = (
        faults if isinstance(faults, FaultPlan) else FaultPlan.load(faults, dictionary)
    )
    return FaultInjector(plan, t0)
