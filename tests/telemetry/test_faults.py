"""Fault scenarios: loading with clear errors, and exactly targeted rewriting."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.core.severity import Severity
from telemetry.core.wire import decode_frame, encode_frame
from telemetry.faults.injection import (
    FaultInjector,
    FaultPlan,
    FaultPlanError,
    load_injector,
)
from telemetry.replay.engine import ReplayEngine
from telemetry.replay.session_reader import SessionReader
from telemetry.sim.recording import record_simulated_session

if TYPE_CHECKING:
    from telemetry.core.limits import LimitTransition

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "replay_data" / "faults"
T0 = 1_750_000_000.0


def jpm_messages(seconds: int = 100, encoding: str = "msgpack") -> list[list[bytes]]:
    """One ECLSS message per second: ppco2 2.0 + 0.001 t, temp 23.0, rh 40."""
    out = []
    for i in range(seconds):
        t = T0 + i
        out.append(
            encode_frame(
                "eclss",
                "jpm",
                i,
                [t],
                {"ppco2": [2.0 + 0.001 * i], "temp": [23.0], "rh": [40]},
                encoding,  # type: ignore[arg-type]
            )
        )
    return out


def robot_messages(seconds: int = 100) -> list[list[bytes]]:
    return [
        encode_frame("robot", src, i, [T0 + i], {"pos_x": [1.0], "mode": ["OPERATION"]})
        for i in range(seconds)
        for src in ("ib2-a", "ib2-b")
    ]


def plan(text: str) -> FaultPlan:
    return FaultPlan.from_text(text, "test.toml")


def column(parts: list[bytes], name: str) -> object:
    return decode_frame(parts).columns[name][0]


# ------------------------------------------------------------------ loading


def test_example_scenarios_load_against_the_dictionary() -> None:
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    co2 = FaultPlan.load(SCENARIOS / "co2-sensor-stuck.toml", dictionary)
    assert [(f.kind, f.target, f.at, f.duration) for f in co2.faults] == [
        ("ramp", "jpm.ppco2", 120.0, 300.0),
        ("stuck", "jpm.ppco2", 420.0, 600.0),
    ]
    assert co2.faults[0].rate == pytest.approx(0.003)
    assert co2.seed == 11
    silent = FaultPlan.load(SCENARIOS / "ib2-a-silent.toml", dictionary)
    assert [(f.kind, f.target, f.channel) for f in silent.faults] == [
        ("silent", "ib2-a", None)
    ]


def test_duration_is_optional_and_means_until_the_end() -> None:
    p = plan('[[fault]]\nkind = "dropped"\nchannel = "jpm.rh"\nat = 5\n')
    assert p.faults[0].window(T0) == (T0 + 5, math.inf)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[[fault]]\nkind = "stuk"\nchannel = "jpm.ppco2"\n', 2, "kind 'stuk'"),
        ('[[fault]]\nkind = "stuck"\n', 1, "needs channel"),
        ('[[fault]]\nkind = "stuck"\nchannel = "ppco2"\n', 3, "<source>.<channel>"),
        ('[[fault]]\nkind = "ramp"\nchannel = "jpm.ppco2"\n', 1, "needs rate"),
        ('[[fault]]\nkind = "noisy"\nchannel = "jpm.ppco2"\nsigma = 0\n', 4, "sigma"),
        (
            '[[fault]]\nkind = "silent"\nsource = "ib2-a"\nduration = -1\n',
            4,
            "duration",
        ),
        ('[[fault]]\nkind = "silent"\nsource = "ib2-a"\nat = "soon"\n', 4, "number"),
        ('[[fault]]\nkind = "noisy"\nchannel = "jpm.rh"\nsigma = inf\n', 4, "finite"),
        ('[[fault]]\nkind = "ramp"\nchannel = "jpm.rh"\nrate = nan\n', 4, "finite"),
        ('[[fault]]\nkind = "stuck"\nchannel = "jpm.rh"\nat = inf\n', 4, "finite"),
        (
            '[[fault]]\nkind = "stuck"\nchannel = "jpm.ppco2"\nduraton = 3\n',
            4,
            "duraton",
        ),
        ('[[fault]]\nkind = "silent"\nchannel = "jpm.ppco2"\n', 3, "unknown key"),
    ],
)
def test_errors_name_file_line_and_entry(text: str, line: int, message: str) -> None:
    # A first, valid entry makes the broken one "fault #2" on a shifted line.
    valid = '[[fault]]\nkind = "dropped"\nchannel = "jpm.rh"\n\n'
    with pytest.raises(FaultPlanError) as err:
        plan(valid + text)
    text_of = str(err.value)
    assert text_of.startswith(f"test.toml:{line + 4}:"), text_of
    assert "[fault #2]" in text_of
    assert message in text_of


def test_syntax_errors_and_unknown_tables_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[fault]]\nkind = "stuck\n')
    with pytest.raises(FaultPlanError, match=r"bad\.toml: not valid TOML.*line 2"):
        FaultPlan.load(bad)
    with pytest.raises(FaultPlanError, match=r"test\.toml:1: unknown table 'faults'"):
        plan('[[faults]]\nkind = "stuck"\n')
    with pytest.raises(FileNotFoundError, match="no fault scenario"):
        FaultPlan.load(tmp_path / "missing.toml")


def test_dictionary_check_rejects_unknown_and_unsuitable_channels() -> None:
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    cases = [
        ('kind = "stuck"\nchannel = "jpm.co2"', "not a channel"),
        ('kind = "silent"\nsource = "ib3"', "source 'ib3' is not in the dictionary"),
        (
            'kind = "noisy"\nchannel = "ib2-a.mode"\nsigma = 1',
            "needs a numeric channel",
        ),
        ('kind = "stuck"\nchannel = "jpm.dewpoint"', "derived"),
    ]
    for body, message in cases:
        with pytest.raises(FaultPlanError, match=message):
            FaultPlan.from_text(f"[[fault]]\n{body}\n", "x.toml", dictionary)


# ---------------------------------------------------------------- injecting


def test_messages_without_faults_come_back_untouched() -> None:
    inj = FaultInjector(plan('[[fault]]\nkind = "silent"\nsource = "ib2-a"\n'), T0)
    for parts in jpm_messages(5):
        assert inj.apply(parts) is parts
    garbage = [b"robot.ib2-a", b"\x00not msgpack"]
    assert inj.apply(garbage) is garbage  # the console must see it as sent
    assert inj.apply([b"only one part"]) == [b"only one part"]


@pytest.mark.parametrize("encoding", ["msgpack", "json"])
def test_stuck_holds_the_last_value_before_the_window(encoding: str) -> None:
    inj = FaultInjector(
        plan(
            '[[fault]]\nkind = "stuck"\nchannel = "jpm.ppco2"\nat = 10\nduration = 20\n'
        ),
        T0,
    )
    out = [inj.apply(p) for p in jpm_messages(50, encoding)]
    values = [column(p, "ppco2") for p in out if p is not None]
    assert values[:10] == pytest.approx([2.0 + 0.001 * i for i in range(10)])
    assert values[10:30] == pytest.approx([2.009] * 20)
    assert values[30:] == pytest.approx([2.0 + 0.001 * i for i in range(30, 50)])
    for original, changed in zip(jpm_messages(50, encoding), out, strict=True):
        assert changed is not None
        a, b = decode_frame(original), decode_frame(changed)
        assert (b.seq, b.encoding, b.columns["temp"], b.columns["rh"]) == (
            a.seq,
            encoding,
            a.columns["temp"],
            a.columns["rh"],
        )
    assert inj.modified == 20


def test_stuck_without_an_earlier_value_holds_the_first_one_seen() -> None:
    inj = FaultInjector(
        plan('[[fault]]\nkind = "stuck"\nchannel = "jpm.ppco2"\nat = 10\n'), T0
    )
    values = [column(inj.apply(p) or [], "ppco2") for p in jpm_messages(40)[20:]]
    assert values == pytest.approx([2.020] * 20)


def test_ramp_adds_rate_times_time_into_the_window() -> None:
    inj = FaultInjector(
        plan(
            '[[fault]]\nkind = "ramp"\nchannel = "jpm.ppco2"\n'
            "at = 10\nduration = 20\nrate = 0.05\n"
        ),
        T0,
    )
    values = [column(inj.apply(p) or [], "ppco2") for p in jpm_messages(40)]
    expected = [
        2.0 + 0.001 * i + (0.05 * (i - 10) if 10 <= i < 30 else 0.0) for i in range(40)
    ]
    assert values == pytest.approx(expected)


def test_noisy_is_seeded_gaussian_and_limited_to_its_window() -> None:
    text = (
        '[scenario]\nseed = 3\n[[fault]]\nkind = "noisy"\nchannel = "jpm.ppco2"\n'
        "at = 100\nduration = 2000\nsigma = 0.5\n"
    )
    first = [FaultInjector(plan(text), T0).apply(p) for p in jpm_messages(2500)]
    again = [FaultInjector(plan(text), T0).apply(p) for p in jpm_messages(2500)]
    assert first == again  # seeded: the same scenario gives the same noise
    noise = np.array(
        [
            float(column(p or [], "ppco2")) - (2.0 + 0.001 * i)  # type: ignore[arg-type]
            for i, p in enumerate(first)
        ]
    )
    assert np.all(noise[:100] == 0) and np.all(noise[2100:] == 0)
    assert noise[100:2100].std() == pytest.approx(0.5, rel=0.1)
    assert abs(noise[100:2100].mean()) < 0.05
    other = plan(text.replace("seed = 3", "seed = 4"))
    assert [FaultInjector(other, T0).apply(p) for p in jpm_messages(2500)] != first


def test_dropped_sends_null_only_for_that_channel() -> None:
    inj = FaultInjector(
        plan('[[fault]]\nkind = "dropped"\nchannel = "jpm.rh"\nat = 3\nduration = 2\n'),
        T0,
    )
    out = [inj.apply(p) or [] for p in jpm_messages(8)]
    assert [column(p, "rh") for p in out] == [40, 40, 40, None, None, 40, 40, 40]
    assert [column(p, "ppco2") for p in out] == pytest.approx(
        [2.0 + 0.001 * i for i in range(8)]
    )


def test_silent_drops_only_that_source_in_its_window() -> None:
    inj = FaultInjector(
        plan('[[fault]]\nkind = "silent"\nsource = "ib2-a"\nat = 10\nduration = 5\n'),
        T0,
    )
    kept = [p for p in robot_messages(30) if inj.apply(p) is not None]
    seqs = {
        src: [decode_frame(p).seq for p in kept if decode_frame(p).source == src]
        for src in ("ib2-a", "ib2-b")
    }
    assert seqs["ib2-b"] == list(range(30))
    assert seqs["ib2-a"] == [*range(10), *range(15, 30)]
    assert inj.dropped == 5


def test_faults_apply_in_file_order_and_active_lists_them() -> None:
    p = FaultPlan.load(SCENARIOS / "co2-sensor-stuck.toml")
    inj = FaultInjector(p, T0)
    assert [f.kind for f in inj.active(T0 + 200)] == ["ramp"]
    assert [f.kind for f in inj.active(T0 + 500)] == ["stuck"]
    assert inj.active(T0 + 2000) == []
    values = [column(inj.apply(m) or [], "ppco2") for m in jpm_messages(1100)]
    ramped_last = 2.0 + 0.001 * 419 + 0.003 * 299
    # The stuck fault holds what the ramp made of the last value before it.
    assert values[420] == pytest.approx(ramped_last)
    assert values[1019] == pytest.approx(ramped_last)
    assert values[1020] == pytest.approx(2.0 + 0.001 * 1020)


def test_checkpoint_restore_reproduces_the_stream() -> None:
    text = (
        '[[fault]]\nkind = "stuck"\nchannel = "jpm.ppco2"\nat = 10\n'
        '[[fault]]\nkind = "noisy"\nchannel = "jpm.temp"\nsigma = 1\n'
    )
    messages = jpm_messages(40)
    inj = FaultInjector(plan(text), T0)
    straight = [inj.apply(m) for m in messages]
    inj = FaultInjector(plan(text), T0)
    head = [inj.apply(m) for m in messages[:20]]
    state = inj.checkpoint()
    [inj.apply(m) for m in messages[20:]]  # run on, then seek back
    inj.restore(state)
    assert head + [inj.apply(m) for m in messages[20:]] == straight
    with pytest.raises(TypeError):
        inj.restore(object())


def test_load_injector_accepts_a_path_a_plan_or_nothing() -> None:
    assert load_injector(None, T0) is None
    by_path = load_injector(SCENARIOS / "ib2-a-silent.toml", T0)
    assert by_path is not None and by_path.plan.name == "ib2-a silent"
    p = FaultPlan.load(SCENARIOS / "ib2-a-silent.toml")
    by_plan = load_injector(p, T0)
    assert by_plan is not None and by_plan.plan is p


# ------------------------------------------ the example scenarios' alarms


@pytest.fixture(scope="module")
def nominal_18min(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """18 minutes of the nominal simulator, recorded (no dose engine: fast)."""
    path = tmp_path_factory.mktemp("faults") / "nominal.sqlite"
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    record_simulated_session(path, dictionary, 18 * 60, derivers=[], capacity=1000)
    return path


def replay_transitions(session: Path, scenario: Path) -> list[LimitTransition]:
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    seen: list[LimitTransition] = []

    class Recording(AlarmBook):
        def raise_transition(self, tr: LimitTransition) -> None:
            seen.append(tr)
            super().raise_transition(tr)

    with SessionReader(session) as reader:
        pipeline = Pipeline(dictionary, ChannelStore(1000), Recording())
        faults = FaultInjector(FaultPlan.load(scenario, dictionary), reader.start)
        engine = ReplayEngine(reader, pipeline, faults=faults)
        engine.seek(engine.end)
        start = reader.start
    # Times from the session start, as the scenario's comments give them.
    return [
        replace(tr, time=tr.time - start) for tr in seen if tr.severity != tr.previous
    ]


def test_co2_sensor_stuck_raises_the_alarms_its_comments_promise(
    nominal_18min: Path,
) -> None:
    trs = replay_transitions(nominal_18min, SCENARIOS / "co2-sensor-stuck.toml")
    raised = [(t.key, t.severity, t.time) for t in trs if t.severity > t.previous]
    assert [(k, s) for k, s, _ in raised] == [
        ("jpm.ppco2", Severity.WATCH),
        ("jpm.ppco2", Severity.WARNING),
    ]
    assert 3 * 60 + 5 <= raised[0][2] <= 3 * 60 + 25
    assert 5 * 60 + 13 <= raised[1][2] <= 5 * 60 + 35
    cleared = [t for t in trs if t.key == "jpm.ppco2" and t.severity < t.previous]
    assert [(c.severity, c.time) for c in cleared] == [(Severity.NOMINAL, 17 * 60.0)]


def test_ib2_a_silent_raises_the_alarms_its_comments_promise(
    nominal_18min: Path,
) -> None:
    trs = replay_transitions(nominal_18min, SCENARIOS / "ib2-a-silent.toml")
    changes = [
        (t.key, t.severity, t.time)
        for t in trs
        if t.time > 0  # the first messages bring every link up at T+0
    ]
    assert changes == [
        ("link:ib2-a", Severity.WARNING, 5 * 60 + 5.0),
        ("link:ib2-a", Severity.CRITICAL, 5 * 60 + 30.0),
        ("link:ib2-a", Severity.NOMINAL, 7 * 60.0),
    ]
