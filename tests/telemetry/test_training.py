"""Training: the trainee's own log, expectations, and the debrief report."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from telemetry.archive.writer import ArchiveWriter
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.core.severity import Severity
from telemetry.faults.injection import FaultInjector, FaultPlan
from telemetry.replay.engine import ReplayEngine
from telemetry.replay.session_reader import SessionReader
from telemetry.replay.training import (
    TRAINING_APPLICATION_ID,
    Expectation,
    TrainingLog,
    TrainingLogError,
    evaluate_responses,
    load_expectations,
    read_training_log,
)
from telemetry.reports.debrief import write_debrief_report
from telemetry.sim.recording import record_simulated_session

REPO = Path(__file__).resolve().parents[2]
SILENT = REPO / "replay_data" / "faults" / "ib2-a-silent.toml"
START = 1_750_000_000.0
HOSTILE = "<script>alert('x')</script>"


@pytest.fixture(scope="module")
def dictionary() -> TelemetryDictionary:
    return TelemetryDictionary.load(DEFAULT_DICTIONARY)


@pytest.fixture(scope="module")
def session(
    tmp_path_factory: pytest.TempPathFactory, dictionary: TelemetryDictionary
) -> Path:
    path = tmp_path_factory.mktemp("training") / "nominal.sqlite"
    record_simulated_session(path, dictionary, 8 * 60, derivers=[], capacity=1000)
    return path


def open_log(tmp_path: Path, session: Path, trainee: str = "trainee") -> TrainingLog:
    return TrainingLog(
        tmp_path / "training.sqlite",
        trainee=trainee,
        scenario=SILENT,
        replayed=session,
        replay_start=START,
        clock=lambda: 1_800_000_000.0,
    )


def test_the_log_is_never_the_replayed_archive(tmp_path: Path, session: Path) -> None:
    with pytest.raises(TrainingLogError, match="file of its own"):
        TrainingLog(
            session, trainee="t", scenario=SILENT, replayed=session, replay_start=START
        )
    other = tmp_path / "another-archive.sqlite"
    ArchiveWriter(other, dictionary_sha256="x", dictionary_version="x").stop()
    with pytest.raises(TrainingLogError, match="console archive"):
        TrainingLog(
            other, trainee="t", scenario=SILENT, replayed=session, replay_start=0
        )
    plain = tmp_path / "plain.sqlite"
    with sqlite3.connect(plain) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(TrainingLogError, match="not a training log"):
        TrainingLog(
            plain, trainee="t", scenario=SILENT, replayed=session, replay_start=0
        )


def test_actions_and_alarms_are_logged_once(tmp_path: Path, session: Path) -> None:
    log = open_log(tmp_path, session)
    book = AlarmBook(on_action=log.put_action, operator="ana")
    book.note(START + 5, "jpm", "looks fine")
    log.put_transition(START + 10, "jpm.ppco2", 1, 0, 2.4, 2.3, "high")
    log.put_transition(START + 10, "jpm.ppco2", 1, 0, 2.4, 2.3, "high")  # re-ingested
    log.put_event(START + 1, "ib2-a", "link up", "first message", 0)
    log.put_event(START + 20, "ib2-a", "link stale", "up -> stale", 2)
    log.put_event(START + 20, "ib2-a", "link stale", "up -> stale", 2)
    log.put_event(START + 30, "ib2-a", "gap", "missed 3", 1)
    log.close()
    log.close()  # idempotent
    record = read_training_log(tmp_path / "training.sqlite")
    assert [
        (a.time, a.operator, a.action, a.target, a.comment) for a in record.actions
    ] == [(START + 5, "ana", "note", "jpm", "looks fine")]
    assert [(t.time, t.key, t.severity, t.previous) for t in record.transitions] == [
        (START + 10, "jpm.ppco2", 1, 0),
        (START + 20, "link:ib2-a", 2, 0),
    ]
    assert record.ended == 1_800_000_000.0
    with sqlite3.connect(tmp_path / "training.sqlite") as conn:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    conn.close()
    assert app_id == TRAINING_APPLICATION_ID


def test_one_log_file_holds_several_runs(tmp_path: Path, session: Path) -> None:
    open_log(tmp_path, session, "first").close()
    open_log(tmp_path, session, "second").close()
    assert read_training_log(tmp_path / "training.sqlite").trainee == "second"
    assert read_training_log(tmp_path / "training.sqlite", session=1).trainee == "first"
    with pytest.raises(TrainingLogError, match="no training session 7"):
        read_training_log(tmp_path / "training.sqlite", session=7)


def test_expectations_load_with_errors_naming_line_and_entry(tmp_path: Path) -> None:
    exp = load_expectations(SILENT)
    assert [(e.alarm, e.action, e.severity, e.max_response_s) for e in exp] == [
        ("link:ib2-a", "ack", Severity.WARNING, 60.0),
        ("link:ib2-a", "ack", Severity.CRITICAL, 60.0),
    ]
    bad = tmp_path / "bad.toml"
    cases = [
        ('alarm = "a"\naction = "ack"\n', "max_response_s"),
        (
            'alarm = "a"\naction = "ack"\nmax_response_s = 5\nseverity = "loud"\n',
            "loud",
        ),
        ('alarm = "a"\naction = "ack"\nmax_response_s = 5\nwithin = 3\n', "'within'"),
        ('action = "ack"\nmax_response_s = 5\n', "needs alarm"),
    ]
    for body, message in cases:
        first = '[[expect]]\nalarm = "x"\naction = "ack"\nmax_response_s = 1\n\n'
        bad.write_text(f"{first}[[expect]]\n{body}")
        with pytest.raises(TrainingLogError) as err:
            load_expectations(bad)
        assert "bad.toml:6: [expect #2]" in str(err.value)
        assert message in str(err.value)


def test_a_training_run_is_debriefed(
    tmp_path: Path,
    session: Path,
    dictionary: TelemetryDictionary,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Replay with ib2-a silenced; the trainee acks late once and acts out of script."""
    log = open_log(tmp_path, session, trainee=f"trainee {HOSTILE}")
    alarms = AlarmBook(on_action=log.put_action, operator=f"op {HOSTILE}")
    pipeline = Pipeline(dictionary, ChannelStore(1000), alarms, log)
    with SessionReader(session) as reader:
        faults = FaultInjector(FaultPlan.load(SILENT, dictionary), reader.start)
        engine = ReplayEngine(reader, pipeline, faults=faults)
        engine.seek(START + 320)  # link stale at T+305
        alarms.acknowledge(["link:ib2-a"], engine.cursor, "seen")  # 15 s: on time
        engine.seek(START + 400)  # link down at T+330
        alarms.acknowledge(["link:ib2-a"], engine.cursor, HOSTILE)  # 70 s: late
        alarms.record_action(engine.cursor, "silence", "annunciator", "")  # unasked
        alarms.note(engine.cursor, HOSTILE, f"robot A quiet {HOSTILE}")
        engine.seek(START + 310)  # a seek re-ingests: nothing is logged twice
        engine.seek(engine.end)
    log.close()

    record = read_training_log(tmp_path / "training.sqlite")
    raised = [(t.time - START, t.key, t.severity) for t in record.transitions]
    assert raised == [
        (305.0, "link:ib2-a", Severity.WARNING),
        (330.0, "link:ib2-a", Severity.CRITICAL),
        (420.0, "link:ib2-a", Severity.NOMINAL),
    ]
    responses, unexpected = evaluate_responses(record, load_expectations(SILENT))
    assert [(r.status, r.response_s) for r in responses] == [
        ("on time", 15.0),
        ("late", 70.0),
    ]
    assert [a.action for a in unexpected] == ["silence", "note"]

    out = tmp_path / "debrief.html"
    page = write_debrief_report(tmp_path / "training.sqlite", SILENT, out)
    assert out.read_text(encoding="utf-8") == page
    assert "<script" not in page and "alert('x')" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "on time" in page and "late" in page and "70 s" in page
    assert "T+0:05:05" in page  # the warning's onset, from the session start
    assert "silence" in page and "annunciator" in page
    assert write_debrief_report(tmp_path / "training.sqlite", SILENT) == page
    assert capsys.readouterr().out == page


def test_missed_and_not_raised_alarms_are_reported(
    tmp_path: Path, session: Path
) -> None:
    log = open_log(tmp_path, session)
    log.put_transition(START + 10, "jpm.ppco2", 2, 0, 2.8, 2.7, "high")
    log.put_transition(START + 50, "jpm.ppco2", 0, 2, 2.1, None, "clear")
    log.put_transition(START + 90, "jpm.ppco2", 2, 0, 2.9, 2.7, "high")
    log.put_action(START + 20, "ana", "ack", "jpm.ppco2", "")
    log.close()
    record = read_training_log(tmp_path / "training.sqlite")
    expectations = [
        Expectation("jpm.ppco2", "ack", 30.0, Severity.WARNING),
        Expectation("goes.spe_active", "shelter", 600.0, Severity.WARNING, "c1"),
    ]
    responses, unexpected = evaluate_responses(record, expectations)
    assert [(r.status, r.onset) for r in responses] == [
        ("on time", START + 10),
        ("missed", START + 90),  # the second onset needs its own response
        ("alarm not raised", None),
    ]
    assert unexpected == []
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        '[[expect]]\nalarm = "jpm.ppco2"\nseverity = "warning"\naction = "ack"\n'
        "max_response_s = 30\n"
    )
    page = write_debrief_report(
        tmp_path / "training.sqlite", scenario, tmp_path / "d.html"
    )
    assert "missed" in page
    assert "Alarms never acknowledged" in page


def co2_rise(log: TrainingLog) -> None:
    """The co2-rise onsets: WATCH T+74, WARNING T+94, CRITICAL T+183."""
    log.put_transition(START + 74, "jpm.ppco2", 1, 0, 2.4, 2.3, "high")
    log.put_transition(START + 94, "jpm.ppco2", 2, 1, 2.8, 2.7, "high")
    log.put_transition(START + 183, "jpm.ppco2", 3, 2, 4.1, 4.0, "high")


CO2_EXPECT = [
    Expectation("jpm.ppco2", "ack", 120.0, Severity.WATCH),
    Expectation("jpm.ppco2", "ack", 90.0, Severity.WARNING),
    Expectation("jpm.ppco2", "note", 180.0, Severity.WARNING),
    Expectation("jpm.ppco2", "ack", 60.0, Severity.CRITICAL),
    Expectation("jpm.ppco2", "note", 180.0, Severity.CRITICAL),
]


def test_a_critical_ack_is_never_credited_to_the_watch_expectation(
    tmp_path: Path, session: Path
) -> None:
    log = open_log(tmp_path, session)
    co2_rise(log)
    # The trainee acts only once the alarm is CRITICAL; the ack's comment is
    # their note about it.
    log.put_action(START + 190, "ana", "ack", "jpm.ppco2", "relocating crew")
    log.close()
    record = read_training_log(tmp_path / "training.sqlite")
    responses, unexpected = evaluate_responses(record, CO2_EXPECT)
    got = [(r.expectation.severity, r.expectation.action, r.status) for r in responses]
    assert got == [
        (Severity.WATCH, "ack", "missed"),
        (Severity.WARNING, "ack", "missed"),
        (Severity.WARNING, "note", "missed"),
        (Severity.CRITICAL, "ack", "on time"),
        (Severity.CRITICAL, "note", "on time"),  # the ack's comment
    ]
    assert responses[4].note_from_comment and responses[4].response_s == 7.0
    assert unexpected == []


def test_matching_is_by_alarm_and_severity_not_file_order(
    tmp_path: Path, session: Path
) -> None:
    log = open_log(tmp_path, session)
    co2_rise(log)
    log.put_action(START + 80, "ana", "ack", "jpm.ppco2", "")  # at WATCH
    log.put_action(START + 190, "ana", "ack", "jpm.ppco2", "")  # at CRITICAL
    log.put_action(START + 200, "ana", "note", "jpm.ppco2", "LiOH")  # CRITICAL
    log.put_action(START + 210, "ana", "ack", "jpm.ppco2", "")  # again: unasked
    log.close()
    record = read_training_log(tmp_path / "training.sqlite")
    # Most severe first in the file: the answer must not change.
    for expectations in (CO2_EXPECT, CO2_EXPECT[::-1]):
        responses, unexpected = evaluate_responses(record, expectations)
        by = {
            (r.expectation.severity, r.expectation.action): (r.status, r.response_s)
            for r in responses
        }
        assert by == {
            (Severity.WATCH, "ack"): ("on time", 6.0),
            (Severity.WARNING, "ack"): ("missed", None),
            # The only note was written at CRITICAL: it answers that one.
            (Severity.WARNING, "note"): ("missed", None),
            (Severity.CRITICAL, "ack"): ("on time", 7.0),
            (Severity.CRITICAL, "note"): ("on time", 17.0),
        }
        assert [(a.time - START, a.action) for a in unexpected] == [(210.0, "ack")]


def test_an_expectation_without_severity_takes_any_level(
    tmp_path: Path, session: Path
) -> None:
    log = open_log(tmp_path, session)
    co2_rise(log)
    log.put_action(START + 190, "ana", "ack", "jpm.ppco2", "")
    log.close()
    record = read_training_log(tmp_path / "training.sqlite")
    (response,), _ = evaluate_responses(record, [Expectation("jpm.ppco2", "ack", 60.0)])
    assert (response.status, response.onset) == ("late", START + 74)


def test_replay_speed_and_skips_are_logged_and_shown_in_the_debrief(
    tmp_path: Path, session: Path
) -> None:
    log = open_log(tmp_path, session)
    co2_rise(log)
    log.put_control(START, "speed", 10.0)
    log.put_control(START + 30, "seek", START + 170)  # jumps over WATCH, WARNING
    log.put_control(START + 170, "speed", 1.0)
    log.put_control(START + 195, "pause", None)
    log.put_action(START + 190, "ana", "ack", "jpm.ppco2", "")
    with pytest.raises(ValueError, match="unknown replay control"):
        log.put_control(START, "rewind", None)
    log.close()
    record = read_training_log(tmp_path / "training.sqlite")
    assert [(c.time - START, c.control, c.value) for c in record.controls] == [
        (0.0, "speed", 10.0),
        (30.0, "seek", START + 170),
        (170.0, "speed", 1.0),
        (195.0, "pause", None),
    ]
    responses, _ = evaluate_responses(record, CO2_EXPECT)
    watch = responses[0]
    assert (watch.status, watch.replay) == ("missed", "at 10×; skipped 1:36")
    assert responses[3].replay == ""  # CRITICAL: at 1×, nothing skipped

    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        '[[expect]]\nalarm = "jpm.ppco2"\nseverity = "watch"\naction = "ack"\n'
        "max_response_s = 120\n"
    )
    page = write_debrief_report(tmp_path / "training.sqlite", scenario)
    assert "<h2>Replay controls</h2>" in page
    assert "seek: skipped ahead 2:20" in page and "speed 10×" in page
    assert "<th>Replay driven</th><td>at 10×; skipped 2:20</td>" in page


def test_a_log_from_before_replay_controls_says_they_were_not_recorded(
    tmp_path: Path, session: Path
) -> None:
    open_log(tmp_path, session).close()
    path = tmp_path / "training.sqlite"
    with sqlite3.connect(path) as conn:  # as a version 1 console wrote it
        conn.execute("DROP TABLE replay_controls")
        conn.execute("PRAGMA user_version=1")
    conn.close()
    record = read_training_log(path)
    assert not record.controls_recorded and record.controls == ()
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        '[[expect]]\nalarm = "x.y"\naction = "ack"\nmax_response_s = 30\n'
    )
    page = write_debrief_report(path, scenario)
    assert "not recorded (a training log from an older console)" in page
    assert "Played at 1×" not in page
