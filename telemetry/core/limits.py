"""Limit checking with persistence and hysteresis, and staleness.

A LimitEvaluator turns a channel's samples into LimitTransitions (changes
only). Raising a level needs ``persistence`` consecutive violations (Yamcs's
minViolations); clearing needs the value back inside by ``hysteresis``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from telemetry.core.dictionary import ChannelSpec, LimitSpec
from telemetry.core.severity import Severity


@dataclass(frozen=True, slots=True)
class LimitTransition:
    """A channel's limit level changed at ``time`` (sample time)."""

    key: str
    time: float
    previous: Severity
    severity: Severity
    value: float
    threshold: float | None
    kind: str  # "low", "high", "state" or "clear"


def is_stale(last_sample_time: float, now: float, stale_after_s: float) -> bool:
    """Return True when no sample arrived within the channel's stale time."""
    return math.isnan(last_sample_time) or now - last_sample_time > stale_after_s


class LimitEvaluator:
    """Per-channel limit state; owned by the zmq-subscriber thread."""

    def __init__(self, key: str, spec: ChannelSpec) -> None:
        self.key = key
        self.spec = spec
        self.limits: LimitSpec = spec.limits or LimitSpec()
        self.persistence = self.limits.persistence
        self.state = Severity.NOMINAL
        # Consecutive violations at or above each level (index = level).
        self._runs = [0, 0, 0, 0]
        self._state_levels: dict[int, Severity] = {
            spec.states[name]: sev for name, sev in spec.alarm_states.items()
        }

    @property
    def active(self) -> bool:
        return bool(self.limits.low or self.limits.high or self._state_levels)

    def classify(self, values: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Return the raw level per value; ``margin`` narrows the bands (hysteresis)."""
        levels = np.zeros(values.shape[0], dtype=np.int8)
        if self._state_levels:
            for code, sev in self._state_levels.items():
                levels[values == code] = int(sev)
            return levels
        for sev, low, high in self.limits.bands():
            if low is not None:
                levels[values < low + margin] = int(sev)
            if high is not None:
                levels[values > high - margin] = int(sev)
        return levels

    def _threshold(self, value: float, level: Severity) -> tuple[float | None, str]:
        if self._state_levels:
            return None, "state"
        low = self.limits.low.get(level)
        high = self.limits.high.get(level)
        if low is not None and value < low:
            return low, "low"
        if high is not None and value > high:
            return high, "high"
        return (
            high if high is not None else low
        ), "high" if high is not None else "low"

    def evaluate(self, times: np.ndarray, values: np.ndarray) -> list[LimitTransition]:
        """Feed samples in time order; return the level changes they cause."""
        if not self.active or values.shape[0] == 0:
            return []
        raw = self.classify(values)
        cleared = (
            self.classify(values, self.limits.hysteresis)
            if self.limits.hysteresis
            else raw
        )
        current = int(self.state)
        # Fast path: every sample stays in the current level (the usual case).
        if bool((raw == current).all()) and bool((cleared >= current).all()):
            n = int(values.shape[0])
            for level in range(1, 4):
                self._runs[level] = self._runs[level] + n if level <= current else 0
            return []
        out: list[LimitTransition] = []
        for i in range(values.shape[0]):
            r = int(raw[i])
            for level in range(1, 4):
                self._runs[level] = self._runs[level] + 1 if r >= level else 0
            target = current
            for level in range(3, current, -1):
                if self._runs[level] >= self.persistence:
                    target = level
                    break
            if target == current and int(cleared[i]) < current:
                target = int(cleared[i])
            if target != current:
                value = float(values[i])
                new = Severity(target)
                threshold, kind = self._threshold(value, new)
                out.append(
                    LimitTransition(
                        self.key,
                        float(times[i]),
                        Severity(current),
                        new,
                        value,
                        threshold,
                        "clear" if new == Severity.NOMINAL else kind,
                    )
                )
                current = target
        self.state = Severity(current)
        return out
