import numpy as np
import pytest

from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.limits import LimitEvaluator, is_stale
from telemetry.core.severity import Severity


def run(ev: LimitEvaluator, values: list[float]) -> list[tuple[int, Severity]]:
    t = np.arange(len(values), dtype=float)
    return [(int(tr.time), tr.severity) for tr in ev.evaluate(t, np.array(values))]


@pytest.fixture
def battery(tiny_dictionary: TelemetryDictionary) -> LimitEvaluator:
    spec = tiny_dictionary.channel("robot", "battery_pct")
    assert spec is not None
    return LimitEvaluator("ib2-a.battery_pct", spec)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([50, 40, 30], []),
        ([50, 19, 50], []),  # one violation is not enough (persistence 2)
        ([50, 19, 18], [(2, Severity.WARNING)]),
        ([19, 18, 4, 4], [(1, Severity.WARNING), (3, Severity.CRITICAL)]),
        ([4, 4], [(1, Severity.CRITICAL)]),
        # hysteresis 2: clearing 20 needs >= 22
        ([19, 18, 21, 22, 22.5], [(1, Severity.WARNING), (3, Severity.NOMINAL)]),
        ([4, 4, 6, 8], [(1, Severity.CRITICAL), (3, Severity.WARNING)]),
    ],
)
def test_transitions(
    battery: LimitEvaluator, values: list[float], expected: list[tuple[int, Severity]]
) -> None:
    assert run(battery, values) == expected


def test_state_persists_across_batches(battery: LimitEvaluator) -> None:
    assert run(battery, [19]) == []
    assert run(battery, [19]) == [(0, Severity.WARNING)]
    assert battery.state == Severity.WARNING
    assert run(battery, [19, 19, 19]) == []


def test_transition_names_threshold(battery: LimitEvaluator) -> None:
    tr = battery.evaluate(np.array([0.0, 1.0]), np.array([3.0, 3.0]))[0]
    assert tr.threshold == 5.0
    assert tr.kind == "low"
    assert tr.previous == Severity.NOMINAL


def test_enum_alarm_states(tiny_dictionary: TelemetryDictionary) -> None:
    spec = tiny_dictionary.channel("robot", "nav_status")
    assert spec is not None
    ev = LimitEvaluator("ib2-a.nav_status", spec)
    assert run(ev, [1, 3, 2, 0, 1]) == [
        (2, Severity.WATCH),
        (3, Severity.CRITICAL),
        (4, Severity.NOMINAL),
    ]


def test_staleness() -> None:
    assert is_stale(float("nan"), 10.0, 5.0)
    assert not is_stale(6.0, 10.0, 5.0)
    assert is_stale(4.0, 10.0, 5.0)
