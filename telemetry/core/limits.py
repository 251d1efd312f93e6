"""Limit checking with persistence and hysteresis, and staleness.

A LimitEvaluator turns a channel's samples into LimitTransitions (changes
only). Raising a level needs ``persistence`` consecutive violations (Yamcs's
minViolations); clearing needs the value back inside by ``hysteresis``. A
limit declared on a rolling mean (``statistic = "mean"``, ``window_s``) is
judged on that mean at each sample, not on the sample itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from telemetry.core.dictionary import ChannelSpec, LimitSpec
from telemetry.core.severity import Severity

#: Samples a rolling-mean limit keeps (3.2 MB): past it the mean covers the
#: newest ones only (a day at 2 Hz fits).
MAX_MEAN_SAMPLES = 200_000


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
    """Per-channel limit state; owned by the telemetry-pipeline thread.

    Judges each sample against the channel's ``limits`` and, if it has
    ``mean_limits``, the rolling mean at that sample against those; the
    channel's level is the worse of the two (one alarm per channel).
    """

    def __init__(self, key: str, spec: ChannelSpec) -> None:
        self.key = key
        self.spec = spec
        self.limits: LimitSpec = spec.limits or LimitSpec()
        self.mean_limits: LimitSpec | None = spec.mean_limits
        self.persistence = self.limits.persistence
        self.state = Severity.NOMINAL
        # Consecutive violations at or above each level (index = level).
        self._runs = [0, 0, 0, 0]
        self._state_levels: dict[int, Severity] = {
            spec.states[name]: sev for name, sev in spec.alarm_states.items()
        }
        # The samples inside a rolling-mean limit's window (sample time).
        self._window_t = np.empty(0)
        self._window_y = np.empty(0)
        #: The rolling mean at the newest sample (NaN before any, or no mean).
        self.mean = float("nan")

    @property
    def active(self) -> bool:
        return bool(
            self.limits.low
            or self.limits.high
            or self._state_levels
            or (self.mean_limits and (self.mean_limits.low or self.mean_limits.high))
        )

    def rolling_mean(self, times: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Return the window mean at each new sample, and keep the window.

        Each mean covers the samples with time in ``(t - window_s, t]``,
        earlier messages' included (fewer at the start of a session). Feed
        samples in time order.
        """
        assert self.mean_limits is not None
        window = self.mean_limits.window_s
        all_t = np.concatenate((self._window_t, times))
        all_y = np.concatenate((self._window_y, values))
        held = int(self._window_t.shape[0])
        sums = np.concatenate(([0.0], np.cumsum(all_y)))
        ends = np.arange(held, all_t.shape[0])
        starts = np.searchsorted(all_t, all_t[ends] - window, side="right")
        means = (sums[ends + 1] - sums[starts]) / (ends + 1 - starts)
        keep = int(np.searchsorted(all_t, all_t[-1] - window, side="right"))
        keep = max(keep, all_t.shape[0] - MAX_MEAN_SAMPLES)
        self._window_t = all_t[keep:].copy()
        self._window_y = all_y[keep:].copy()
        self.mean = float(means[-1])
        return np.asarray(means, dtype=np.float64)

    def classify(
        self, values: np.ndarray, margin: float = 0.0, limits: LimitSpec | None = None
    ) -> np.ndarray:
        """Return the raw level per value; ``margin`` narrows the bands (hysteresis)."""
        levels = np.zeros(values.shape[0], dtype=np.int8)
        if self._state_levels and limits is None:
            for code, sev in self._state_levels.items():
                levels[values == code] = int(sev)
            return levels
        for sev, low, high in (limits or self.limits).bands():
            if low is not None:
                levels[values < low + margin] = int(sev)
            if high is not None:
                levels[values > high - margin] = int(sev)
        return levels

    def _threshold(
        self, value: float, level: Severity, limits: LimitSpec
    ) -> tuple[float | None, str]:
        if self._state_levels and limits is self.limits:
            return None, "state"
        low = limits.low.get(level)
        high = limits.high.get(level)
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
        means: np.ndarray | None = None
        by_mean = np.zeros(values.shape[0], dtype=bool)
        if self.mean_limits is not None:
            m = self.mean_limits
            means = self.rolling_mean(times, values)
            raw_mean = self.classify(means, 0.0, m)
            cleared_mean = (
                self.classify(means, m.hysteresis, m) if m.hysteresis else raw_mean
            )
            by_mean = raw_mean > raw
            raw = np.maximum(raw, raw_mean)
            cleared = np.maximum(cleared, cleared_mean)
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
                new = Severity(target)
                if means is not None and self.mean_limits is not None and by_mean[i]:
                    value = float(means[i])
                    threshold, kind = self._threshold(value, new, self.mean_limits)
                else:
                    value = float(values[i])
                    threshold, kind = self._threshold(value, new, self.limits)
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
