"""Bookmarks beside a recorded session, their timeline marks, and typed replay times."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from telemetry.archive.writer import ArchiveWriter
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.replay.bookmarks import (
    BOOKMARKS_APPLICATION_ID,
    BookmarkError,
    BookmarkFile,
    sidecar_path,
)
from telemetry.replay.engine import ReplayEngine
from telemetry.replay.session_reader import SessionReader, parse_session_time
from telemetry.replay.timeline import read_timeline_marks
from telemetry.replay.training import TrainingLog, default_expectations

REPO = Path(__file__).resolve().parents[2]
CO2 = REPO / "replay_data" / "co2-rise.session.sqlite"
START = 1_772_442_000.0  # replay_data's sessions start 2026-03-02 09:00:00 UTC


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def session(tmp_path: Path) -> Path:
    path = tmp_path / "co2-rise.session.sqlite"
    shutil.copyfile(CO2, path)
    path.chmod(0o640)
    return path


def test_the_sidecar_sits_beside_the_session() -> None:
    assert sidecar_path(Path("d/co2-rise.session.sqlite")) == Path(
        "d/co2-rise.session.bookmarks.sqlite"
    )
    assert sidecar_path(Path("d/archive.db")) == Path("d/archive.db.bookmarks.sqlite")


def test_bookmarks_are_stored_beside_and_never_in_the_session(session: Path) -> None:
    before = sha256(session)
    marks = BookmarkFile(session, clock=lambda: 1_800_000_000.0)
    assert marks.read() == []
    assert marks.version() is None
    first = marks.add(START + 183.0, "Trainer B", "  critical: relocate crew ")
    second = marks.add(START + 60.0, "", "CDRA fails")
    assert (first.text, first.author, first.created) == (
        "critical: relocate crew",
        "Trainer B",
        1_800_000_000.0,
    )
    # Another console (another object, its own connections) sees both.
    assert [(b.id, b.time, b.text) for b in BookmarkFile(session).read()] == [
        (second.id, START + 60.0, "CDRA fails"),
        (first.id, START + 183.0, "critical: relocate crew"),
    ]
    # Same permissions as the session: whoever may replay it sees its bookmarks.
    assert stat.S_IMODE(marks.path.stat().st_mode) == 0o640
    with sqlite3.connect(marks.path) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] == (
            BOOKMARKS_APPLICATION_ID
        )
        assert conn.execute("SELECT session FROM sidecar").fetchall() == [
            (session.name,)
        ]
    assert marks.remove(second.id)
    assert not marks.remove(second.id)
    assert [b.id for b in marks.read()] == [first.id]
    assert sha256(session) == before


def test_version_changes_when_anyone_writes(session: Path) -> None:
    marks = BookmarkFile(session)
    marks.add(START, "a", "one")
    seen = marks.version()
    assert seen is not None
    os.utime(marks.path, ns=(0, 0))  # a coarse clock must not hide a write
    seen = marks.version()
    BookmarkFile(session).add(START + 1.0, "b", "two")
    assert marks.version() != seen


@pytest.mark.parametrize(
    ("text", "time", "message"),
    [
        ("   ", START, "needs some text"),
        ("x" * 2001, START, "limited to 2000"),
        ("ok", float("nan"), "finite"),
    ],
)
def test_bad_bookmarks_are_refused(
    session: Path, text: str, time: float, message: str
) -> None:
    with pytest.raises(BookmarkError, match=message):
        BookmarkFile(session).add(time, "a", text)
    assert not sidecar_path(session).exists()


def test_other_files_are_never_taken_for_a_sidecar(
    session: Path, tmp_path: Path
) -> None:
    path = sidecar_path(session)
    writer = ArchiveWriter(path, dictionary_sha256="0" * 64, dictionary_version="t")
    writer.start()
    assert writer.stop(timeout=10.0)
    with pytest.raises(BookmarkError, match="is a console archive"):
        BookmarkFile(session).read()
    with pytest.raises(BookmarkError, match="is a console archive"):
        BookmarkFile(session).add(START, "a", "b")
    path.unlink()
    TrainingLog(
        path, trainee="t", scenario="s", replayed=session, replay_start=START
    ).close()
    with pytest.raises(BookmarkError, match="is a training log"):
        BookmarkFile(session).add(START, "a", "b")
    path.unlink()
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(BookmarkError, match="an SQLite file, not a bookmarks file"):
        BookmarkFile(session).read()
    path.write_text("plain text")
    with pytest.raises(BookmarkError, match="cannot read bookmarks"):
        BookmarkFile(session).read()
    path.unlink()
    BookmarkFile(session).add(START, "a", "b")
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version=99")
    with pytest.raises(BookmarkError, match="schema 99 is newer"):
        BookmarkFile(session).read()


def test_a_sidecar_that_cannot_be_written_is_reported(session: Path) -> None:
    sidecar_path(session).mkdir()  # in the way, whoever runs the test
    with pytest.raises(BookmarkError, match="cannot open bookmarks"):
        BookmarkFile(session).add(START, "a", "b")


def test_timeline_marks_include_the_sidecar_read_afresh(session: Path) -> None:
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    before = sha256(session)
    BookmarkFile(session).add(START + 60.0, "Trainer B", "CDRA fails")
    marks = read_timeline_marks(session)
    assert [(m.time, m.label) for m in marks if m.kind == "bookmark"] == [
        (START + 60.0, "Trainer B: CDRA fails")
    ]
    assert not [m for m in read_timeline_marks(session, sidecar=False)
                if m.kind == "bookmark"]  # fmt: skip
    pipeline = Pipeline(dictionary, ChannelStore(1000), AlarmBook(), None, [])
    with SessionReader(session) as reader:
        engine = ReplayEngine(reader, pipeline)
        assert len([m for m in engine.timeline_marks() if m.kind == "bookmark"]) == 1
        BookmarkFile(session).add(START + 183.0, "", "relocate")
        BookmarkFile(session).add(START + 9999.0, "", "after the session")
        bookmarks = [m for m in engine.timeline_marks() if m.kind == "bookmark"]
        assert [(m.time, m.label) for m in bookmarks] == [
            (START + 60.0, "Trainer B: CDRA fails"),
            (START + 183.0, "relocate"),
        ]
        marks = engine.timeline_marks()
        assert [m.time for m in marks] == sorted(m.time for m in marks)
        assert {m.kind for m in engine.timeline_marks(sidecar=False)} == {
            "alarm",
            "event",
            "saa",
        }
    assert sha256(session) == before


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("+02:30", 150.0),
        ("+2:30", 150.0),
        ("T+02:30", 150.0),
        ("+0:02:30", 150.0),
        ("+150", 150.0),
        ("+1.5", 1.5),
        ("-0:30", -30.0),
        ("2026-03-02T09:02:30Z", 150.0),
        ("2026-03-02T09:02:30.5", 150.5),
        ("2026-03-02 11:02:30+02:00", 150.0),
        ("061/09:02:30", 150.0),
        ("061/09:02", 120.0),
        ("09:02:30", 150.0),
        ("08:59:00", 86340.0),  # before the start: the next day
    ],
)
def test_typed_times(text: str, offset: float) -> None:
    assert parse_session_time(text, START) == START + offset


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not a time"),
        ("half past nine", "use \\+MM:SS"),
        ("+1:75", "minutes and seconds < 60"),
        ("+1:75:00", "minutes and seconds < 60"),
        ("400/01:00:00", "day of year 400 is not in 2026"),
        ("25:00:00", "not a time of day"),
    ],
)
def test_bad_typed_times_say_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_session_time(text, START)


def test_each_shipped_session_has_its_expectations() -> None:
    sessions = sorted((REPO / "replay_data").glob("*.session.sqlite"))
    assert len(sessions) == 4
    for path in sessions:
        expect = default_expectations(path)
        assert expect.name == path.name.replace(".session.sqlite", ".expect.toml")
        assert expect.is_file(), expect
    assert default_expectations(Path("x/run.sqlite")) == Path("x/run.expect.toml")


def test_trainer_only_bookmarks_are_hidden_from_the_trainee(session: Path) -> None:
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    marks = BookmarkFile(session)
    shared = marks.add(START + 30.0, "Lead", "watch the CO2 trend")
    answer = marks.add(START + 183.0, "Lead", "expect LiOH", audience="trainer")
    assert (shared.audience, answer.audience) == ("all", "trainer")
    with pytest.raises(BookmarkError, match="audience must be all or trainer"):
        marks.add(START, "Lead", "x", audience="crew")
    assert [b.id for b in marks.read()] == [shared.id, answer.id]
    assert [b.id for b in marks.read(trainee=True)] == [shared.id]
    pipeline = Pipeline(dictionary, ChannelStore(1000), AlarmBook(), None, [])
    with SessionReader(session) as reader:
        engine = ReplayEngine(reader, pipeline)

        def labels(**kw: bool) -> list[str]:
            return [
                m.label for m in engine.timeline_marks(**kw) if m.kind == "bookmark"
            ]

        assert labels() == ["Lead: watch the CO2 trend", "Lead: expect LiOH"]
        assert labels(trainee=True) == ["Lead: watch the CO2 trend"]
    # A trainer may change their mind either way.
    assert marks.set_audience(shared.id, "trainer")
    assert marks.read(trainee=True) == []
    assert not marks.set_audience(999, "all")


def test_a_version_1_sidecar_reads_as_shared_and_upgrades_on_write(
    session: Path,
) -> None:
    path = sidecar_path(session)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE sidecar (session TEXT NOT NULL, created REAL)")
        conn.execute(
            "CREATE TABLE bookmarks (id INTEGER PRIMARY KEY, time REAL NOT NULL,"
            " author TEXT NOT NULL, text TEXT NOT NULL, created REAL NOT NULL)"
        )
        conn.execute("INSERT INTO bookmarks VALUES (1, ?, 'Lead', 'old', 0)", (START,))
        conn.execute(f"PRAGMA application_id={BOOKMARKS_APPLICATION_ID}")
        conn.execute("PRAGMA user_version=1")
    conn.close()
    marks = BookmarkFile(session)
    assert [(b.text, b.audience) for b in marks.read(trainee=True)] == [("old", "all")]
    marks.add(START + 5.0, "Lead", "new", audience="trainer")
    assert [(b.text, b.audience) for b in marks.read()] == [
        ("old", "all"),
        ("new", "trainer"),
    ]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()


def test_the_shipped_training_lead_notes_are_trainer_only() -> None:
    marks = BookmarkFile(CO2)
    assert marks.read(), "replay_data/co2-rise has the training lead's notes"
    assert marks.read(trainee=True) == []
