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
    Response,
    TrainingLog,
    TrainingLogError,
    evaluate_responses,
    load_expectations,
    read_training_log,
    unacknowledged_alarms,
)
from telemetry.reports.debrief import write_debrief_report
from telemetry.sim.recording import record_simulated_session

REPO = Path(__file__).resolve().parents[2]
SILENT = REPO / "replay_data" / "faults" / "ib2-a-silent.toml"
START = 1_750_000_000.0
END = START + 8 * 60  # the session recorded below
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
    log.close(replay_end=END)  # the run went to the session's end
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
    log.close(replay_end=END)  # the run went to the session's end
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
    log.close(replay_end=END)  # the run went to the session's end
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
    log.close(replay_end=END)  # the run went to the session's end
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
    log.close(replay_end=END)  # the run went to the session's end
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


# ---------------------------------------------------------------------------
# A debrief a trainer can trust: escalations, pauses, second viewings and an
# early end are scored from what the run did, in the order it did it.
# ---------------------------------------------------------------------------

CRITICAL_ONSET = START + 419  # co2-rise: the CRITICAL (24 h mean) at T+6:59


class Clock:
    """The training log's wall clock; only the test moves it."""

    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def co2_log(tmp_path: Path, session: Path, clock: Clock) -> TrainingLog:
    """A training run of co2-rise as the console logs it: played at 1× from T+0."""
    log = TrainingLog(
        tmp_path / "training.sqlite",
        trainee="ana",
        scenario=SILENT,
        replayed=session,
        replay_start=START,
        clock=clock,
    )
    log.put_control(START, "play", None)
    return log


def run_to(log: TrainingLog, clock: Clock, here: float, to: float) -> float:
    """Play at 1× from replay time ``here`` to ``to``, raising co2-rise's alarms."""
    for t, severity, previous in (
        (10.0, 2, 0),
        (74.0, 1, 0),
        (94.0, 2, 1),
        (419.0, 3, 2),
    ):
        key = "c2.career_fraction" if t == 10.0 else "jpm.ppco2"
        if here < START + t <= to:
            clock.t += START + t - here
            here = START + t
            log.put_transition(here, key, severity, previous, 4.0, 4.0, "high")
    clock.t += to - here
    return to


def ack_early_alarms(log: TrainingLog, clock: Clock) -> float:
    """Acknowledge the c2 WARNING, the ppCO2 WATCH and WARNING in time."""
    here = START
    for t, key, comment in (
        (15.0, "c2.career_fraction", ""),
        (80.0, "jpm.ppco2", ""),
        (100.0, "jpm.ppco2", "CDRA troubleshooting called"),
    ):
        here = run_to(log, clock, here, START + t)
        log.put_action(here, "ana", "ack", key, comment)
    return here


CO2_SCENARIO = REPO / "replay_data" / "co2-rise.expect.toml"


def critical(responses: list[Response], action: str = "ack") -> Response:
    return next(
        r
        for r in responses
        if r.expectation.severity == Severity.CRITICAL
        and r.expectation.action == action
    )


def test_an_unacknowledged_escalation_is_listed_though_its_warning_was_acked(
    tmp_path: Path, session: Path
) -> None:
    """T1: acks at WATCH and WARNING do not acknowledge the later CRITICAL."""
    clock = Clock()
    log = co2_log(tmp_path, session, clock)
    here = ack_early_alarms(log, clock)
    run_to(log, clock, here, START + 480)
    # A WARNING that came and went unacknowledged is listed too, with when
    # it went: the alarm list dropped it unacknowledged.
    log.put_transition(START + 200, "jpm.temp", 2, 0, 28.0, 27.0, "high")
    log.put_transition(START + 230, "jpm.temp", 0, 2, 26.0, None, "clear")
    log.close()
    page = write_debrief_report(tmp_path / "training.sqlite", CO2_SCENARIO)
    section = page.split("<h2>Alarms never acknowledged</h2>")[1].split("<h2>")[0]
    assert "None: every alarm raised was acknowledged" not in section
    assert (
        '<td>jpm.ppco2</td><td class="CRITICAL">CRITICAL</td><td>T+0:06:59</td>'
        in section
    )
    assert "still in the alarm list, unacknowledged, when the run ended" in section
    assert "returned to NOMINAL at T+0:03:50, unacknowledged" in section
    assert "c2.career_fraction" not in section  # acknowledged at T+0:15
    record = read_training_log(tmp_path / "training.sqlite")
    never = [
        (u.onset.key, u.onset.severity, u.returned)
        for u in unacknowledged_alarms(record)
    ]
    assert never == [
        ("jpm.temp", Severity.WARNING, START + 230),
        ("jpm.ppco2", Severity.CRITICAL, None),
    ]


def test_an_ack_after_the_escalation_acknowledges_every_level(
    tmp_path: Path, session: Path
) -> None:
    clock = Clock()
    log = co2_log(tmp_path, session, clock)
    run_to(log, clock, START, START + 425)
    log.put_action(START + 425, "ana", "ack", "jpm.ppco2", "late, but acked")
    log.put_action(START + 425, "ana", "ack", "c2.career_fraction", "")
    log.close(replay_end=START + 425)
    assert unacknowledged_alarms(read_training_log(tmp_path / "training.sqlite")) == []


def test_a_pause_before_the_response_shows_in_its_row_and_the_header(
    tmp_path: Path, session: Path
) -> None:
    """T2: an hour's pause between the CRITICAL and its ack is not "6 s, at 1×"."""
    clock = Clock()
    log = co2_log(tmp_path, session, clock)
    here = ack_early_alarms(log, clock)
    here = run_to(log, clock, here, CRITICAL_ONSET + 2)
    log.put_control(here, "pause", None)
    clock.t += 3600.0
    log.put_control(here, "play", None)
    here = run_to(log, clock, here, CRITICAL_ONSET + 6)
    log.put_action(here, "ana", "ack", "jpm.ppco2", "crew to LiOH")
    log.close()
    page = write_debrief_report(tmp_path / "training.sqlite", CO2_SCENARIO)
    assert "<th>Replay driven</th><td>paused 1:00:00</td>" in page
    assert "no skips" not in page and "at 1×" not in page
    row = next(r for r in page.split("<tr>") if "crew to LiOH" in r and "<td>ack" in r)
    assert '<td class="num">6 s</td>\n<td class="num">1:00:06</td>' in row
    assert "<td>paused 1:00:00</td>" in row
    record = read_training_log(tmp_path / "training.sqlite")
    responses, _ = evaluate_responses(record, load_expectations(CO2_SCENARIO))
    ack = critical(responses)
    assert (ack.status, ack.response_s, ack.replay) == (
        "on time",
        6.0,
        "paused 1:00:00",
    )
    assert ack.wall_s == 3606.0
    # The acks made at 1× without a pause say so: nothing in their column.
    assert [r.replay for r in responses[:3]] == ["", "", ""]
    assert [r.wall_s for r in responses[:3]] == [5.0, 6.0, 6.0]


def test_going_back_and_acting_on_a_second_viewing_scores_the_first_pass(
    tmp_path: Path, session: Path
) -> None:
    """T3: 96 s without acting, back to T+6:40, ack 2 s after the onset: late."""
    clock = Clock()
    log = co2_log(tmp_path, session, clock)
    here = ack_early_alarms(log, clock)
    here = run_to(log, clock, here, START + 515)  # T+8:35, CRITICAL up 96 s
    log.put_control(here, "seek", START + 400)  # back to T+6:40
    # The seek re-ingests: the CRITICAL is raised again, logged once.
    log.put_transition(CRITICAL_ONSET, "jpm.ppco2", 3, 2, 4.0, 4.0, "high")
    clock.t += 21.0
    log.put_action(CRITICAL_ONSET + 2, "ana", "ack", "jpm.ppco2", "crew to LiOH")
    clock.t += 60.0
    log.close()
    record = read_training_log(tmp_path / "training.sqlite")
    responses, unexpected = evaluate_responses(record, load_expectations(CO2_SCENARIO))
    ack = critical(responses)
    assert ack.status == "late"  # the first pass let 96 s go by
    assert (ack.response_s, ack.after_going_back) == (98.0, True)
    assert ack.wall_s == 96.0 + 21.0
    assert ack.replay == "went back 1:55 at T+0:08:35 (to T+0:06:40) before acting"
    assert unexpected == []
    page = write_debrief_report(tmp_path / "training.sqlite", CO2_SCENARIO)
    assert "acted after going back" in page
    assert "went back 1:55 at T+0:08:35 (to T+0:06:40)" in page.split("<h2>Summary")[0]


def test_an_answer_on_the_first_pass_wins_over_one_on_a_second_viewing(
    tmp_path: Path, session: Path
) -> None:
    clock = Clock()
    log = co2_log(tmp_path, session, clock)
    here = ack_early_alarms(log, clock)
    here = run_to(log, clock, here, START + 515)
    log.put_action(here, "ana", "ack", "jpm.ppco2", "")  # 96 s: late
    log.put_control(here, "seek", START + 400)
    clock.t += 21.0
    log.put_action(CRITICAL_ONSET + 2, "ana", "ack", "jpm.ppco2", "rehearsed")
    log.close(replay_end=CRITICAL_ONSET + 2)
    record = read_training_log(tmp_path / "training.sqlite")
    responses, unexpected = evaluate_responses(record, load_expectations(CO2_SCENARIO))
    ack = critical(responses)
    assert (ack.status, ack.response_s, ack.after_going_back) == ("late", 96.0, False)
    assert ack.action is not None and ack.action.time == START + 515
    # The second ack's comment is the CRITICAL note, made after going back.
    note = critical(responses, "note")
    assert note.action is not None and note.action.comment == "rehearsed"
    assert note.after_going_back and unexpected == []
    page = write_debrief_report(tmp_path / "training.sqlite", CO2_SCENARIO)
    # The run ended back at T+7:01, having been as far as T+8:35.
    assert "<th>Replay reached</th><td>T+0:07:01 (furthest T+0:08:35)</td>" in page


def test_a_run_closed_before_the_deadline_is_not_scored_missed(
    tmp_path: Path, session: Path
) -> None:
    """T4: closed 6 s after the CRITICAL onset: its 60 s window was never run."""
    clock = Clock()
    log = co2_log(tmp_path, session, clock)
    here = ack_early_alarms(log, clock)
    here = run_to(log, clock, here, CRITICAL_ONSET + 6)
    log.close(replay_end=here)
    record = read_training_log(tmp_path / "training.sqlite")
    assert record.replay_end == CRITICAL_ONSET + 6
    responses, _ = evaluate_responses(record, load_expectations(CO2_SCENARIO))
    assert [r.status for r in responses] == ["on time"] * 4 + ["not reached"] * 2
    page = write_debrief_report(tmp_path / "training.sqlite", CO2_SCENARIO)
    assert "<th>Replay reached</th><td>T+0:07:05</td>" in page
    assert '<th>missed</th><td class="num">0</td>' in page
    assert '<th>not reached</th><td class="num">2</td>' in page
    assert '<td class="not-reached">not reached</td>' in page
    assert "run ended 0:06 into the 1:00 window" in page

    # Run on past the deadline without acting: missed.
    clock = Clock()
    (tmp_path / "training.sqlite").unlink()
    log = co2_log(tmp_path, session, clock)
    here = ack_early_alarms(log, clock)
    here = run_to(log, clock, here, CRITICAL_ONSET + 61)
    log.close(replay_end=here)
    responses, _ = evaluate_responses(
        read_training_log(tmp_path / "training.sqlite"),
        load_expectations(CO2_SCENARIO),
    )
    assert [r.status for r in responses[4:]] == ["missed", "not reached"]


def test_the_replay_position_is_kept_while_the_run_goes_on(
    tmp_path: Path, session: Path
) -> None:
    """A console that dies still tells the debrief how far the run got."""
    clock = Clock()
    log = co2_log(tmp_path, session, clock)
    log.put_position(START + 300)
    record = read_training_log(tmp_path / "training.sqlite")  # still open
    assert (record.ended, record.replay_end) == (None, START + 300)
    page = write_debrief_report(tmp_path / "training.sqlite", CO2_SCENARIO)
    assert "T+0:05:00 (last logged; the run was not closed)" in page
    log.close()  # without a position: the last one stays
    assert read_training_log(tmp_path / "training.sqlite").replay_end == START + 300


def test_an_older_log_is_read_and_gains_the_new_columns_when_written(
    tmp_path: Path, session: Path
) -> None:
    path = tmp_path / "training.sqlite"
    clock = Clock()
    log = co2_log(tmp_path, session, clock)
    ack_early_alarms(log, clock)
    log.close(replay_end=START + 480)
    with sqlite3.connect(path) as conn:  # as a version 1 console wrote it
        conn.execute("DROP TABLE replay_controls")
        conn.execute("ALTER TABLE training_sessions DROP COLUMN replay_end")
        conn.execute("ALTER TABLE alarm_transitions DROP COLUMN wall")
        conn.execute("PRAGMA user_version=1")
    conn.close()
    old = read_training_log(path)
    assert (old.replay_end, old.controls_recorded) == (None, False)
    assert {tr.wall for tr in old.transitions} == {None}
    page = write_debrief_report(path, CO2_SCENARIO)
    # What the log shows (the last alarm at T+1:34), never more.
    assert "at least T+0:01:40: the log does not say where the run ended" in page
    assert '<th>missed</th><td class="num">0</td>' in page

    # A new run written to it: the file is brought up to date, the old run
    # keeps "not recorded".
    log = co2_log(tmp_path, session, clock)
    log.put_control(START, "speed", 10.0)
    log.close(replay_end=START + 30)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
    conn.close()
    new = read_training_log(path)
    assert new.replay_end == START + 30 and len(new.controls) == 2
    assert read_training_log(path, session=1).replay_end is None


def test_an_ack_made_while_paused_counts_the_pause_up_to_the_ack(
    tmp_path: Path, session: Path
) -> None:
    clock = Clock()
    log = co2_log(tmp_path, session, clock)
    here = ack_early_alarms(log, clock)
    here = run_to(log, clock, here, CRITICAL_ONSET + 3)
    log.put_control(here, "pause", None)
    clock.t += 300.0  # thinks it over, acks with the replay still paused
    log.put_action(here, "ana", "ack", "jpm.ppco2", "")
    clock.t += 30.0
    log.put_control(here, "play", None)
    log.close(replay_end=START + 480)
    record = read_training_log(tmp_path / "training.sqlite")
    ack = critical(evaluate_responses(record, load_expectations(CO2_SCENARIO))[0])
    assert (ack.status, ack.response_s, ack.wall_s) == ("on time", 3.0, 303.0)
    assert ack.replay == "paused 5:00"
    # The whole run paused 5:30; the header says so.
    page = write_debrief_report(tmp_path / "training.sqlite", CO2_SCENARIO)
    assert "<th>Replay driven</th><td>paused 5:30</td>" in page


def test_a_locked_log_keeps_the_trainees_actions_until_it_is_free(
    tmp_path: Path, session: Path
) -> None:
    """A backup holding the file must neither freeze the GUI nor lose an ack."""
    log = open_log(tmp_path, session)
    holder = sqlite3.connect(log.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        # The write returns (no exception, no 5 s wait) with the ack kept.
        log.put_action(100.0, "trainee", "ack", "jpm.ppco2", "")
        assert log.waiting == 1 and "locked" in log.write_error
        log.put_position(101.0)
        assert log.waiting == 2
    finally:
        holder.execute("ROLLBACK")
    log.put_position(102.0)  # the next write writes what waited, in order
    assert (log.waiting, log.write_error) == (0, "")
    log.put_action(103.0, "trainee", "note", "", "checked the CDRA")
    log.close()
    run = read_training_log(log.path)
    assert [(a.time, a.action) for a in run.actions] == [
        (100.0, "ack"),
        (103.0, "note"),
    ]
    holder.close()


def test_a_log_still_locked_at_the_end_says_what_was_not_written(
    tmp_path: Path, session: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("telemetry.replay.training.CLOSE_WAIT_MS", 100)
    log = open_log(tmp_path, session)
    holder = sqlite3.connect(log.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        log.put_action(100.0, "trainee", "ack", "jpm.ppco2", "")
        with pytest.raises(
            TrainingLogError, match=r"2 training record\(s\) not written"
        ):
            log.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
