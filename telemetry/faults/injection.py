"""Fault injection on wire messages; the scenarios are TOML data files.

A ``FaultPlan`` says what misbehaves, when and how; a ``FaultInjector`` rewrites
protocol-v1 messages accordingly, on a replay or in front of the simulator.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeGuard

import numpy as np

from telemetry.core.wire import (
    Frame,
    Value,
    WireError,
    decode_frame,
    encode_frame,
    split_topic,
)

if TYPE_CHECKING:
    from telemetry.core.dictionary import TelemetryDictionary

FAULT_KINDS: Final = ("stuck", "ramp", "noisy", "dropped", "silent")
"""``stuck`` holds the last value, ``ramp`` adds ``rate × dt``, ``noisy`` adds
gaussian noise of ``sigma``, ``dropped`` sends null (not sampled), and
``silent`` drops every message of a source."""

# Keys each [[fault]] entry may have, by kind; anything else is a typo.
_COMMON_KEYS: Final = frozenset({"kind", "at", "duration", "comment"})
_KEYS: Final = {
    "stuck": _COMMON_KEYS | {"channel"},
    "ramp": _COMMON_KEYS | {"channel", "rate"},
    "noisy": _COMMON_KEYS | {"channel", "sigma"},
    "dropped": _COMMON_KEYS | {"channel"},
    "silent": _COMMON_KEYS | {"source"},
}
# Top-level tables a scenario file may hold; ``expect`` is read by the trainer
# (``telemetry.replay.training``), so one file describes a whole training scenario.
_TOP_LEVEL: Final = frozenset({"scenario", "fault", "expect"})
_SCENARIO_KEYS: Final = frozenset({"name", "description", "seed"})


class FaultPlanError(ValueError):
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
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(f"no fault scenario at {path}") from None
        except UnicodeDecodeError as exc:
            raise FaultPlanError(f"{path}: not UTF-8 text ({exc.reason})") from None
        return cls.from_text(text, path, dictionary)

    @classmethod
    def from_text(
        cls,
        text: str,
        path: str | Path | None = None,
        dictionary: TelemetryDictionary | None = None,
    ) -> FaultPlan:
        """Parse scenario TOML text (see :meth:`load`); ``path`` names it in errors."""
        where = Path(path) if path is not None else None
        return _PlanParser(where, text, dictionary).parse()

    def for_source(self, source: str) -> list[Fault]:
        return [f for f in self.faults if f.source == source]


class _PlanParser:
    """Turns TOML into a FaultPlan (errors: file, line, entry); the loading thread."""

    def __init__(
        self, path: Path | None, text: str, dictionary: TelemetryDictionary | None
    ) -> None:
        self.path = path
        self.name = str(path) if path is not None else "<fault scenario>"
        self.lines = text.splitlines()
        self.text = text
        self.dictionary = dictionary

    def fail(
        self, problem: str, line: int | None = None, entry: str = ""
    ) -> FaultPlanError:
        where = f"{self.name}:{line}" if line else self.name
        label = f" [{entry}]" if entry else ""
        return FaultPlanError(f"{where}:{label} {problem}")

    def _fault_lines(self) -> list[int]:
        header = re.compile(r"^\s*\[\[\s*fault\s*\]\]")
        return [i for i, line in enumerate(self.lines, 1) if header.match(line)]

    def _key_line(self, start: int | None, key: str) -> int | None:
        """Find the line of ``key = ...`` in the table that starts at ``start``."""
        if start is None:
            return None
        pattern = re.compile(r"^\s*" + re.escape(key) + r"\s*=")
        for i in range(start, len(self.lines)):
            if pattern.match(self.lines[i]):
                return i + 1
            if self.lines[i].lstrip().startswith("["):
                break
        return start

    def parse(self) -> FaultPlan:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            # tomllib's message already says "(at line N, column M)".
            raise self.fail(f"not valid TOML: {exc}") from None
        unknown = sorted(set(data) - _TOP_LEVEL)
        if unknown:
            raise self.fail(
                f"unknown table {unknown[0]!r} (expected: scenario, fault, expect)",
                self._table_line(unknown[0]),
            )
        meta = data.get("scenario", {})
        if not isinstance(meta, dict):
            raise self.fail("[scenario] must be a table", self._table_line("scenario"))
        bad = sorted(set(meta) - _SCENARIO_KEYS)
        if bad:
            raise self.fail(
                f"unknown key {bad[0]!r} (expected: name, description, seed)",
                self._key_line(self._table_line("scenario"), bad[0]),
                "scenario",
            )
        seed = meta.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise self.fail(
                f"seed must be a non-negative integer, got {seed!r}",
                self._key_line(self._table_line("scenario"), "seed"),
                "scenario",
            )
        raw = data.get("fault", [])
        if not isinstance(raw, list):
            raise self.fail("'fault' must be an array of tables: write [[fault]]")
        lines = self._fault_lines()
        faults = []
        for i, entry in enumerate(raw, 1):
            line = lines[i - 1] if i - 1 < len(lines) else None
            faults.append(self._fault(i, entry, line))
        default_name = self.path.stem if self.path is not None else "faults"
        return FaultPlan(
            name=str(meta.get("name", default_name)),
            description=str(meta.get("description", "")),
            seed=seed,
            faults=tuple(faults),
            path=self.path,
        )

    def _table_line(self, name: str) -> int | None:
        pattern = re.compile(r"^\s*\[+\s*" + re.escape(name) + r"\s*[\].]")
        for i, line in enumerate(self.lines, 1):
            if pattern.match(line):
                return i
        return None

    def _number(
        self, entry: dict[str, Any], key: str, label: str, line: int | None
    ) -> float:
        value = entry[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(
                f"{key} must be a number, got {value!r}",
                self._key_line(line, key),
                label,
            )
        if not math.isfinite(value):
            raise self.fail(
                f"{key} must be finite, got {value!r}", self._key_line(line, key), label
            )
        return float(value)

    def _fault(self, index: int, entry: Any, line: int | None) -> Fault:
        label = f"fault #{index}"
        if not isinstance(entry, dict):
            raise self.fail("must be a table", line, label)
        kind = entry.get("kind")
        if kind not in FAULT_KINDS:
            raise self.fail(
                f"kind {kind!r} is not one of {', '.join(FAULT_KINDS)}",
                self._key_line(line, "kind") if "kind" in entry else line,
                label,
            )
        allowed = _KEYS[kind]
        for key in entry:
            if key not in allowed:
                raise self.fail(
                    f"unknown key {key!r} for a {kind} fault "
                    f"(allowed: {', '.join(sorted(allowed))})",
                    self._key_line(line, key),
                    label,
                )
        at = self._number(entry, "at", label, line) if "at" in entry else 0.0
        if at < 0:
            raise self.fail(
                f"at must be >= 0 s from the session start, got {at:g}",
                self._key_line(line, "at"),
                label,
            )
        duration = math.inf
        if "duration" in entry:
            duration = self._number(entry, "duration", label, line)
            if duration <= 0:
                raise self.fail(
                    f"duration must be > 0 s, got {duration:g}",
                    self._key_line(line, "duration"),
                    label,
                )
        if kind == "silent":
            if "source" not in entry:
                raise self.fail(
                    'a silent fault needs source = "<source id>"', line, label
                )
            source = entry["source"]
            if not isinstance(source, str) or not source or "." in source:
                raise self.fail(
                    f'source must be a source id such as "ib2-a", got {source!r}',
                    self._key_line(line, "source"),
                    label,
                )
            channel = None
        else:
            if "channel" not in entry:
                raise self.fail(
                    f'a {kind} fault needs channel = "<source>.<channel>"', line, label
                )
            key = entry["channel"]
            source, dot, channel = (
                key.partition(".") if isinstance(key, str) else ("", "", "")
            )
            if not dot or not source or not channel:
                raise self.fail(
                    f"channel must be <source>.<channel> like jpm.ppco2, got {key!r}",
                    self._key_line(line, "channel"),
                    label,
                )
        rate = sigma = 0.0
        if kind == "ramp":
            if "rate" not in entry:
                raise self.fail(
                    "a ramp fault needs rate (units per second)", line, label
                )
            rate = self._number(entry, "rate", label, line)
        if kind == "noisy":
            if "sigma" not in entry:
                raise self.fail("a noisy fault needs sigma (> 0)", line, label)
            sigma = self._number(entry, "sigma", label, line)
            if sigma <= 0:
                raise self.fail(
                    f"sigma must be > 0, got {sigma:g}",
                    self._key_line(line, "sigma"),
                    label,
                )
        comment = entry.get("comment", "")
        if not isinstance(comment, str):
            raise self.fail(
                "comment must be text", self._key_line(line, "comment"), label
            )
        fault = Fault(
            index, kind, source, channel, at, duration, rate, sigma, comment, line
        )
        self._check_dictionary(fault, label, line)
        return fault

    def _check_dictionary(self, fault: Fault, label: str, line: int | None) -> None:
        d = self.dictionary
        if d is None:
            return
        spec = d.sources.get(fault.source)
        if spec is None:
            raise self.fail(
                f"source {fault.source!r} is not in the dictionary {d.path}",
                line,
                label,
            )
        if fault.channel is None:
            return
        channel = d.channel(spec.family, fault.channel)
        if channel is None:
            raise self.fail(
                f"{fault.target} is not a channel of the dictionary {d.path}",
                line,
                label,
            )
        if channel.derived:
            raise self.fail(
                f"{fault.target} is derived by the console, not sent: "
                "fault the channels it is derived from",
                line,
                label,
            )
        if fault.kind in ("ramp", "noisy") and channel.states:
            raise self.fail(
                f"{fault.target} is an enum ({', '.join(channel.states)}); "
                f"a {fault.kind} fault needs a numeric channel",
                line,
                label,
            )


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
