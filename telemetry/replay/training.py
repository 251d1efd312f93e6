"""Trainee action log (its own SQLite file, see ``SCHEMA``) and its evaluation.

The log never goes into the archive being replayed; ``evaluate_responses``
compares it with the scenario's ``[[expect]]`` list (the debrief page is
``telemetry.reports.debrief``).
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import threading
import time
import tomllib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from telemetry.core.severity import Severity
from telemetry.core.side_file import check_identity, create_schema, open_side_file
from telemetry.replay.passage import (
    RunPath,
    clock_text,
    describe,
    follow,
    run_path,
    speed_text,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from telemetry.core.wire import Frame

TRAINING_APPLICATION_ID: Final = 0x4B54524E  # "KTRN"
TRAINING_SCHEMA_VERSION: Final = 3

# The training log (application_id 0x4B54524E "KTRN", user_version 3):
#   training_sessions   one row per training run. started/ended: wall clock,
#                       UTC s; scenario: the scenario file; replayed: the
#                       recorded session; replay_start: its first sample time;
#                       replay_end (version 3): the replay time the run had
#                       reached, kept current while it runs and set at close
#                       (NULL: an older console, which did not log it).
#   trainee_actions     time: replay clock (sample time) of the action; wall:
#                       wall clock; action: ack, shelve, unshelve, note,
#                       shelter, silence...; target: alarm key, crew id...
#   alarm_transitions   what the trainee's console raised (limits and
#                       ``link:<source>``) by sample time. UNIQUE(session,
#                       time, key, severity): the re-ingestion after a replay
#                       seek does not log an alarm twice, so wall (version 3:
#                       wall clock, NULL in older logs) is when the trainee's
#                       console first raised it.
#   replay_controls     (version 2) how the trainee drove the replay: time:
#                       replay clock when used; control: speed, seek, step,
#                       play, pause; value: the new speed (0: as fast as
#                       possible) or, for seek and step, the replay time
#                       landed on. An older log gains the table and the
#                       version 3 columns when a new run is written to it;
#                       read, its runs have no controls, no replay_end and
#                       no transition wall times (the debrief says so).
SCHEMA: Final[tuple[str, ...]] = (
    """CREATE TABLE IF NOT EXISTS training_sessions (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    ended REAL,
    trainee TEXT NOT NULL,
    scenario TEXT NOT NULL,
    replayed TEXT NOT NULL,
    replay_start REAL NOT NULL,
    replay_end REAL
)""",
    """CREATE TABLE IF NOT EXISTS trainee_actions (
    id INTEGER PRIMARY KEY,
    session INTEGER NOT NULL REFERENCES training_sessions(id),
    time REAL NOT NULL,
    wall REAL NOT NULL,
    operator TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    comment TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS alarm_transitions (
    id INTEGER PRIMARY KEY,
    session INTEGER NOT NULL REFERENCES training_sessions(id),
    time REAL NOT NULL,
    key TEXT NOT NULL,
    severity INTEGER NOT NULL,
    previous INTEGER NOT NULL,
    value REAL,
    kind TEXT NOT NULL,
    wall REAL,
    UNIQUE (session, time, key, severity)
)""",
    """CREATE TABLE IF NOT EXISTS replay_controls (
    id INTEGER PRIMARY KEY,
    session INTEGER NOT NULL REFERENCES training_sessions(id),
    time REAL NOT NULL,
    wall REAL NOT NULL,
    control TEXT NOT NULL,
    value REAL
)""",
)
# Columns added by version 3 (an older log gains them when written to).
_V3_COLUMNS: Final = (
    ("training_sessions", "replay_end", "REAL"),
    ("alarm_transitions", "wall", "REAL"),
)
#: What the trainee can do to the replay clock, as logged in replay_controls.
REPLAY_CONTROLS: Final = frozenset({"speed", "seek", "step", "play", "pause"})

# The pipeline reports link alarms as events; these are their levels.
_LINK_LEVELS: Final = {
    "link up": Severity.NOMINAL,
    "link stale": Severity.WARNING,
    "link down": Severity.CRITICAL,
}
# Actions that are about one alarm: their target must be the alarm's key.
_ALARM_ACTIONS: Final = frozenset({"ack", "shelve", "unshelve"})
# Actions whose comment counts as a note about their alarm.
_NOTE_CARRIERS: Final = frozenset({"ack", "shelve"})


EXPECT_SUFFIX: Final = ".expect.toml"


def default_expectations(session: str | Path) -> Path:
    """Return where a recorded session's expected trainee actions live.

    ``replay_data/co2-rise.session.sqlite`` gives
    ``replay_data/co2-rise.expect.toml`` (the file may not exist).
    """
    session = Path(session)
    base = session.name
    for suffix in (".sqlite", ".session"):
        base = base.removesuffix(suffix)
    return session.with_name(base + EXPECT_SUFFIX)


#: Longest a training-log write waits for a file another program holds.
BUSY_WAIT_MS = 50
#: At close, what still waits gets this long.
CLOSE_WAIT_MS = 5000


class TrainingLogError(ValueError):
    """A training log or scenario that cannot be used (names the file); any thread."""


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _upgrade(conn: sqlite3.Connection) -> None:
    """Bring an older log to this version (in the caller's transaction).

    Its old runs keep NULL in the new columns: "not recorded", never zero.
    """
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version >= TRAINING_SCHEMA_VERSION:
        return
    for statement in SCHEMA:  # tables an older version lacked
        conn.execute(statement)
    for table, column, kind in _V3_COLUMNS:
        if column not in _columns(conn, table):
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    conn.execute(f"PRAGMA user_version={TRAINING_SCHEMA_VERSION}")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


class TrainingLog:
    """The trainee's log for one training run; shared by two threads under one lock.

    The GUI thread records the trainee's actions (``put_action``, the
    ``AlarmBook``'s action sink); the replay thread records the alarms the
    console raised, by being the replay pipeline's archive sink
    (``put_transition``/``put_event``; frames and samples are ignored). Each
    write is its own small transaction: actions are rare and must survive a
    crash of the training console.

    A write never waits long: another program holding the file (a backup,
    an ``sqlite3`` shell) used to freeze the GUI for SQLite's 5 s busy
    timeout and then lose the trainee's acknowledgement. Each write waits
    at most ``BUSY_WAIT_MS``; what could not be written is kept, in order,
    and written with the next write or position (every few seconds), and at
    ``close`` with a longer wait. ``write_error`` and ``waiting`` say so.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        trainee: str,
        scenario: str | Path,
        replayed: str | Path,
        replay_start: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        replayed = Path(replayed)
        if _same_file(self.path, replayed) or self.path.resolve() == replayed.resolve():
            raise TrainingLogError(
                f"{self.path} is the session being replayed: the training log "
                "must be a file of its own"
            )
        self._clock = clock
        self._lock = threading.Lock()
        conn = open_side_file(self.path, isolation_level=None, check_same_thread=False)
        self._conn: sqlite3.Connection | None = conn
        try:
            try:
                empty = check_identity(
                    conn,
                    self.path,
                    application_id=TRAINING_APPLICATION_ID,
                    schema_version=TRAINING_SCHEMA_VERSION,
                    what="a training log",
                    error=TrainingLogError,
                )
            except sqlite3.DatabaseError as exc:
                raise TrainingLogError(
                    f"{self.path} is not a training log ({exc})"
                ) from None
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            if empty:
                create_schema(
                    conn,
                    SCHEMA,
                    application_id=TRAINING_APPLICATION_ID,
                    schema_version=TRAINING_SCHEMA_VERSION,
                )
            else:
                _upgrade(conn)
            cursor = conn.execute(
                "INSERT INTO training_sessions (started, trainee, scenario, replayed,"
                " replay_start) VALUES (?, ?, ?, ?, ?)",
                (clock(), trainee, str(scenario), str(replayed), float(replay_start)),
            )
            self.session_id = int(cursor.lastrowid or 0)
            conn.execute("COMMIT")
        except BaseException:
            conn.close()
            raise
        self._last_link: dict[str, int] = {}
        # Writes not yet in the file, oldest first (the file was locked).
        self._waiting: deque[tuple[str, Sequence[object]]] = deque()
        #: Why the last write had to wait ("" once everything is written).
        self.write_error = ""
        conn.execute(f"PRAGMA busy_timeout = {BUSY_WAIT_MS}")

    @property
    def waiting(self) -> int:
        """Records kept in memory until the file can be written."""
        return len(self._waiting)

    def _write(self, sql: str, params: Sequence[object]) -> None:
        with self._lock:
            if self._conn is not None:
                self._waiting.append((sql, params))
                self._write_waiting()

    def _write_waiting(self) -> None:
        """Write what waits, in order, until the file refuses (lock held)."""
        assert self._conn is not None
        while self._waiting:
            sql, params = self._waiting[0]
            try:
                self._conn.execute(sql, params)
            except sqlite3.OperationalError as exc:  # locked or busy: kept
                self.write_error = str(exc)
                return
            self._waiting.popleft()
        self.write_error = ""

    # ------------------------------------------------ the trainee (GUI thread)

    def put_action(
        self, time: float, operator: str, action: str, target: str, comment: str
    ) -> None:
        """Record an action at replay time ``time`` (the ``ActionSink`` signature)."""
        self._write(
            "INSERT INTO trainee_actions (session, time, wall, operator, action,"
            " target, comment) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.session_id, time, self._clock(), operator, action, target, comment),
        )

    # ---------------------------------------- the console (replay thread)

    def put_control(self, time: float, control: str, value: float | None) -> None:
        """Record how the trainee drove the replay (see ``replay_controls``)."""
        if control not in REPLAY_CONTROLS:
            raise ValueError(f"unknown replay control {control!r}")
        self._write(
            "INSERT INTO replay_controls (session, time, wall, control, value)"
            " VALUES (?, ?, ?, ?, ?)",
            (self.session_id, time, self._clock(), control, value),
        )

    def put_transition(
        self,
        time: float,
        key: str,
        severity: int,
        previous: int,
        value: float,
        threshold: float | None,
        kind: str,
    ) -> None:
        """Record a limit transition the trainee's console raised."""
        self._write(
            "INSERT OR IGNORE INTO alarm_transitions (session, time, key, severity,"
            " previous, value, kind, wall) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.session_id,
                time,
                key,
                int(severity),
                int(previous),
                value,
                kind,
                self._clock(),
            ),
        )

    def put_position(self, time: float) -> None:
        """Record the replay time the run has reached (``replay_end``).

        The replay thread calls it every few seconds and ``close`` once
        more, so the debrief knows which deadlines the run got to even if
        the console died.
        """
        self._write(
            "UPDATE training_sessions SET replay_end = ? WHERE id = ?",
            (time, self.session_id),
        )

    def put_event(
        self,
        time: float,
        source: str | None,
        kind: str,
        detail: str,
        severity: int = 0,
        *,
        count: int | None = None,
    ) -> None:
        """Record link alarms (the pipeline reports them as events); skip the rest."""
        level = _LINK_LEVELS.get(kind)
        if level is None or source is None or not math.isfinite(time):
            return
        key = f"link:{source}"
        previous = self._last_link.get(key, int(Severity.NOMINAL))
        self._last_link[key] = int(level)
        if previous != level:  # a source's first "link up" changes nothing
            self.put_transition(time, key, int(level), previous, math.nan, None, "link")

    def put_frame(
        self,
        received: float,
        frame: Frame,
        body: bytes,
        batches: Sequence[tuple[str, Any, Any]],
    ) -> None:
        """Ignore frames: the recorded session already holds them."""

    def put_samples(self, batches: Sequence[tuple[str, Any, Any]]) -> None:
        """Ignore derived samples."""

    def put_channel(
        self,
        key: str,
        *,
        unit: str,
        declared: bool,
        derived: bool,
        states: dict[str, int],
    ) -> None:
        """Ignore channel metadata."""

    def put_rejected(
        self,
        received: float,
        topic: bytes,
        body: bytes,
        source: str | None,
        reason: str,
        detail: str,
    ) -> None:
        """Ignore rejected messages."""

    def close(self, replay_end: float | None = None) -> None:
        """Mark the training session ended and close the file (idempotent).

        ``replay_end``: the replay time the run ended at (the cursor).
        """
        with self._lock:
            if self._conn is None:
                return
            self._waiting.append(
                (
                    "UPDATE training_sessions SET ended = ?,"
                    " replay_end = coalesce(?, replay_end) WHERE id = ?",
                    (self._clock(), replay_end, self.session_id),
                )
            )
            self._conn.execute(f"PRAGMA busy_timeout = {CLOSE_WAIT_MS}")
            self._write_waiting()
            self._conn.close()
            self._conn = None
            if self._waiting:
                raise TrainingLogError(
                    f"{self.path}: {len(self._waiting)} training record(s) not "
                    f"written ({self.write_error}): another program holds the file"
                )

    def __enter__(self) -> TrainingLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class TraineeAction:
    """One recorded trainee action (``time``: replay time); immutable, any thread."""

    time: float
    wall: float
    operator: str
    action: str
    target: str
    comment: str


@dataclass(frozen=True, slots=True)
class AlarmTransition:
    """One alarm transition the trainee's console raised; immutable, any thread."""

    time: float
    key: str
    severity: int
    previous: int
    value: float | None
    kind: str
    # Wall clock the console first raised it (None: a log from before v3).
    wall: float | None = None


@dataclass(frozen=True, slots=True)
class ReplayControl:
    """One use of the replay controls (``time``: replay clock); immutable, any thread.

    ``value``: the new speed (0: as fast as possible) for ``speed``, the
    replay time landed on for ``seek`` and ``step``, None otherwise.
    """

    time: float
    wall: float
    control: str
    value: float | None


@dataclass(frozen=True, slots=True)
class TrainingRecord:
    """A training session as logged; immutable, any thread."""

    session: int
    trainee: str
    scenario: str
    replayed: str
    replay_start: float
    started: float
    ended: float | None
    actions: tuple[TraineeAction, ...]
    transitions: tuple[AlarmTransition, ...]
    controls: tuple[ReplayControl, ...] = ()
    # False for a log written before replay controls were (version 1).
    controls_recorded: bool = True
    # Replay time the run reached (None: not logged, an older console).
    replay_end: float | None = None

    def path(self) -> RunPath:
        """Return the run's path through replay time (``telemetry.replay.passage``).

        Where the log does not say which replay time the run reached, the
        furthest thing it logged stands in for it (a lower bound).
        """
        evidence = [a.time for a in self.actions]
        if not any(c.value is not None and c.value < c.time for c in self.controls):
            # Without a seek back, alarms were raised on the way forward.
            evidence += [tr.time for tr in self.transitions]
        return run_path(
            self.controls,
            start=self.replay_start,
            started=self.started,
            ended=self.ended,
            end=self.replay_end,
            evidence=max(evidence, default=-math.inf),
        )


def read_training_log(path: str | Path, session: int | None = None) -> TrainingRecord:
    """Read one training session (default: the latest) from a training log."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no training log at {path}")
    conn = open_side_file(path, readonly=True)
    try:
        try:
            empty = check_identity(
                conn,
                path,
                application_id=TRAINING_APPLICATION_ID,
                schema_version=TRAINING_SCHEMA_VERSION,
                what="a training log",
                error=TrainingLogError,
            )
        except sqlite3.DatabaseError as exc:
            raise TrainingLogError(f"{path} is not a training log ({exc})") from None
        if empty:
            raise TrainingLogError(f"{path} is empty, not a training log")
        where, params = ("id = ?", (session,)) if session is not None else ("1", ())
        row = conn.execute(
            "SELECT id, trainee, scenario, replayed, replay_start, started, ended"
            f" FROM training_sessions WHERE {where} ORDER BY id DESC LIMIT 1",
            params,
        ).fetchone()
        if row is None:
            raise TrainingLogError(
                f"{path}: no training session {session or ''}".strip()
            )
        sid = row[0]
        replay_end = (
            conn.execute(
                "SELECT replay_end FROM training_sessions WHERE id = ?", (sid,)
            ).fetchone()[0]
            if "replay_end" in _columns(conn, "training_sessions")
            else None
        )
        wall = "wall" if "wall" in _columns(conn, "alarm_transitions") else "NULL"
        actions = tuple(
            TraineeAction(*r)
            for r in conn.execute(
                "SELECT time, wall, operator, action, target, comment"
                " FROM trainee_actions WHERE session = ? ORDER BY time, id",
                (sid,),
            )
        )
        transitions = tuple(
            AlarmTransition(*r)
            for r in conn.execute(
                f"SELECT time, key, severity, previous, value, kind, {wall}"
                " FROM alarm_transitions WHERE session = ? ORDER BY time, id",
                (sid,),
            )
        )
        has_controls = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'replay_controls'"
        ).fetchone()[0]
        controls = (
            tuple(
                ReplayControl(*r)
                for r in conn.execute(
                    "SELECT time, wall, control, value FROM replay_controls"
                    " WHERE session = ? ORDER BY wall, id",
                    (sid,),
                )
            )
            if has_controls
            else ()
        )
    finally:
        conn.close()
    return TrainingRecord(
        session=row[0],
        trainee=row[1],
        scenario=row[2],
        replayed=row[3],
        replay_start=row[4],
        started=row[5],
        ended=row[6],
        actions=actions,
        transitions=transitions,
        controls=controls,
        controls_recorded=bool(has_controls),
        replay_end=replay_end,
    )


# -------------------------------------------------------------- expectations


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the trainee should do when an alarm comes up, and how fast (immutable)."""

    alarm: str
    action: str
    max_response_s: float
    # The level whose onset starts the clock, and at which the alarm must be
    # when the trainee acts; None: any level (the clock starts at the first
    # rise above nominal).
    severity: Severity | None = None
    target: str | None = None  # None: the alarm key for ack/shelve, else any
    comment: str = ""
    line: int | None = None

    @property
    def level(self) -> Severity:
        """Return the level whose onset starts the clock (WATCH for any)."""
        return self.severity if self.severity is not None else Severity.WATCH

    def matches(self, action: TraineeAction) -> bool:
        """Tell whether `action` is the kind of response expected (not when).

        An acknowledgement or shelve with a comment also counts as a note: the
        trainee wrote down what they saw where the alarm is.
        """
        if action.action == self.action:
            target = self.target
            if target is None and self.action in _ALARM_ACTIONS:
                target = self.alarm
            return target is None or action.target == target
        if self.action == "note" and action.action in _NOTE_CARRIERS:
            if not action.comment.strip():
                return False
            about = self.target if self.target is not None else self.alarm
            return action.target in (about, about.partition(".")[0]) or (
                action.target.partition(".")[0] == about
            )
        return False


_EXPECT_KEYS: Final = frozenset(
    {"alarm", "action", "max_response_s", "severity", "target", "comment"}
)


def load_expectations(path: str | Path) -> list[Expectation]:
    """Read the ``[[expect]]`` entries of a scenario file.

    Each has ``alarm`` (a channel key such as ``jpm.ppco2`` or
    ``link:ib2-a``), ``action`` (``ack``, ``shelve``, ``note``,
    ``shelter``...), ``max_response_s``, and optionally ``severity`` (the
    level whose onset starts the clock: watch, warning or critical; default
    any), ``target`` and ``comment``. Errors name the file, line and entry.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TrainingLogError(f"{path}: not valid TOML: {exc}") from None
    lines = [
        i
        for i, line in enumerate(text.splitlines(), 1)
        if re.match(r"^\s*\[\[\s*expect\s*\]\]", line)
    ]
    raw = data.get("expect", [])
    if not isinstance(raw, list):
        raise TrainingLogError(
            f"{path}: 'expect' must be an array of tables: [[expect]]"
        )
    out = []
    for i, entry in enumerate(raw, 1):
        line = lines[i - 1] if i - 1 < len(lines) else None
        where = f"{path}:{line}: [expect #{i}]" if line else f"{path}: [expect #{i}]"
        if not isinstance(entry, dict):
            raise TrainingLogError(f"{where} must be a table")
        unknown = sorted(set(entry) - _EXPECT_KEYS)
        if unknown:
            raise TrainingLogError(
                f"{where} unknown key {unknown[0]!r} "
                f"(allowed: {', '.join(sorted(_EXPECT_KEYS))})"
            )
        for key in ("alarm", "action"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise TrainingLogError(f'{where} needs {key} = "..." (text)')
        limit = entry.get("max_response_s")
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int | float)
            or not limit > 0
        ):
            raise TrainingLogError(
                f"{where} needs max_response_s = <seconds > 0>, got {limit!r}"
            )
        level: Severity | None = None
        if "severity" in entry:
            name = str(entry["severity"]).upper()
            if name not in ("WATCH", "WARNING", "CRITICAL"):
                raise TrainingLogError(
                    f"{where} severity must be watch, warning or critical, "
                    f"got {entry['severity']!r}"
                )
            level = Severity[name]
        target = entry.get("target")
        if target is not None and not isinstance(target, str):
            raise TrainingLogError(f"{where} target must be text")
        out.append(
            Expectation(
                entry["alarm"],
                entry["action"],
                float(limit),
                level,
                target,
                str(entry.get("comment", "")),
                line,
            )
        )
    return out


# ------------------------------------------------------------------ debrief

#: A response's result, worst news first after the two kinds of answer.
STATUSES: Final = ("on time", "late", "missed", "not reached", "alarm not raised")


@dataclass(frozen=True, slots=True)
class Response:
    """One expected response and what the trainee did; immutable, any thread.

    ``status``: "on time", "late", "missed" (the run went past the deadline
    without an answer), "not reached" (the run ended before the deadline)
    or "alarm not raised". ``response_s``: replay seconds the trainee let
    pass with the alarm up before acting, from its first sight: time seen
    again after going back counts again, so a second viewing never
    replaces a slow first one. ``wall_s``: the same on the wall clock
    (pauses included; None if the log cannot tell). ``replay`` says how the
    replay was driven meanwhile: "at 10×", "skipped 2:30", "paused
    1:00:00", "went back 1:55 at T+0:08:35 (to T+0:06:40) before acting"
    ("" if at 1× throughout, without skips, pauses or going back).
    """

    expectation: Expectation
    onset: float | None  # None: the alarm never came up
    action: TraineeAction | None
    status: str
    replay: str = ""
    response_s: float | None = None
    wall_s: float | None = None
    after_going_back: bool = False

    @property
    def note_from_comment(self) -> bool:
        """Tell whether an ack's or shelve's comment was credited as the note."""
        return (
            self.action is not None
            and self.expectation.action == "note"
            and self.action.action != "note"
        )


def _onsets(
    transitions: Sequence[AlarmTransition], key: str, level: int
) -> list[AlarmTransition]:
    """Return the transitions where ``key`` rose from below ``level`` to it or above."""
    return [
        tr for tr in transitions if tr.key == key and tr.severity >= level > tr.previous
    ]


def level_at(transitions: Sequence[AlarmTransition], key: str, t: float) -> int:
    """Return the level alarm ``key`` had at replay time ``t`` (by its transitions)."""
    level = int(Severity.NOMINAL)
    for tr in transitions:
        if tr.time > t:
            break
        if tr.key == key:
            level = tr.severity
    return level


def _fit(exp: Expectation, level: int) -> int | None:
    """How well an action at alarm level ``level`` answers ``exp`` (None: not).

    0: the alarm was at the expected level; 1: it had fallen back below it
    (a late answer to the expected onset); an alarm above the expected level
    is another onset's business: a CRITICAL ack never answers a WATCH
    expectation.
    """
    if exp.severity is None or level == exp.severity:
        return 0
    if level < exp.severity:
        return 1
    return None


def evaluate_responses(
    record: TrainingRecord, expectations: Sequence[Expectation]
) -> tuple[list[Response], list[TraineeAction]]:
    """Pair each expected response with the trainee's action; return the leftovers.

    Matched by alarm and severity, not by the order of the scenario file:
    every onset of an expected alarm needs its own response, an action made
    after that onset and before the next one, while the alarm was at the
    expected level (see `_fit`). Where several expectations could take one
    action, an exact level wins, then an expectation naming its level over
    one for any level, then the action made first (wall clock): after going
    back in the replay, the first pass still counts. An action is used once
    per kind of response: an ack with a comment can answer an "ack" and a
    "note" expectation. Times come from the run's path
    (``telemetry.replay.passage``): pauses, seeks back and an early end are
    accounted for. Actions no expectation claims are returned as unexpected.
    """
    transitions = record.transitions
    path = record.path()
    origin = record.replay_start
    # Every (expectation, onset) that needs an answer, in file then time order.
    slots: list[tuple[int, AlarmTransition, float]] = []
    for e, exp in enumerate(expectations):
        onsets = _onsets(transitions, exp.alarm, int(exp.level))
        for i, onset in enumerate(onsets):
            until = onsets[i + 1].time if i + 1 < len(onsets) else math.inf
            slots.append((e, onset, until))
    candidates: list[tuple[int, int, float, float, int, int]] = []
    for s, (e, onset, until) in enumerate(slots):
        exp = expectations[e]
        for j, action in enumerate(record.actions):
            if not (onset.time <= action.time < until and exp.matches(action)):
                continue
            fit = _fit(exp, level_at(transitions, exp.alarm, action.time))
            if fit is not None:
                vague = 1 if exp.severity is None else 0
                candidates.append((fit, vague, action.wall, action.time, s, j))
    answer: dict[int, int] = {}
    taken: set[tuple[int, str]] = set()  # (action, kind of response)
    for *_order, s, j in sorted(candidates):
        role = (j, expectations[slots[s][0]].action)
        if s in answer or role in taken:
            continue
        answer[s] = j
        taken.add(role)

    responses: list[Response] = []
    for e, exp in enumerate(expectations):
        mine = [(s, slot) for s, slot in enumerate(slots) if slot[0] == e]
        if not mine:
            responses.append(Response(exp, None, None, "alarm not raised"))
            continue
        for s, (_e, onset, _until) in mine:
            found = answer.get(s)
            if found is None:
                passage = follow(
                    path, onset.time, limit=exp.max_response_s, onset_wall=onset.wall
                )
                status = "missed" if passage.deadline_reached else "not reached"
                replay = describe(passage, origin)
                if not passage.deadline_reached:
                    ended = (
                        f"run ended {clock_text(passage.elapsed)} into the "
                        f"{clock_text(exp.max_response_s)} window"
                    )
                    replay = f"{replay}; {ended}" if replay else ended
                responses.append(Response(exp, onset.time, None, status, replay))
                continue
            did = record.actions[found]
            passage = follow(path, onset.time, action=did, onset_wall=onset.wall)
            # A log whose path never reaches the onset (hand-made, or
            # inconsistent) falls back to the replay times alone.
            took = passage.elapsed if passage.reached else did.time - onset.time
            responses.append(
                Response(
                    exp,
                    onset.time,
                    did,
                    "late" if took > exp.max_response_s else "on time",
                    describe(passage, origin, acted=True),
                    took,
                    passage.wall_response(did),
                    bool(passage.went_back),
                )
            )
    used = {j for j, _kind in taken}
    unexpected = [a for j, a in enumerate(record.actions) if j not in used]
    return responses, unexpected


def run_summary(record: TrainingRecord) -> str:
    """Say how the whole run drove the replay ("at 1×, no skips" only if so)."""
    if not record.controls_recorded:
        return "not recorded (a training log from an older console)"
    passage = follow(record.path(), -math.inf)
    return describe(passage, record.replay_start) or "at 1×, no skips or pauses"


def describe_controls(record: TrainingRecord) -> list[tuple[ReplayControl, str]]:
    """Each replay control with a line for the debrief ("skipped ahead 5:00")."""
    out = []
    for c in record.controls:
        if c.control == "speed" and c.value is not None:
            text = f"speed {speed_text(c.value)}"
        elif c.control in ("seek", "step") and c.value is not None:
            jump = c.value - c.time
            way = "skipped ahead" if jump > 0 else "went back"
            text = f"{c.control}: {way} {clock_text(jump)}"
        else:
            text = c.control
        out.append((c, text))
    return out


@dataclass(frozen=True, slots=True)
class Unacknowledged:
    """An alarm onset the trainee never acknowledged; immutable, any thread.

    ``returned``: replay time the alarm went back to NOMINAL and left the
    alarm list unacknowledged (None: it was still in the list when the run
    ended: raised, or a CRITICAL latched until acknowledged).
    """

    onset: AlarmTransition
    returned: float | None = None


@dataclass(slots=True)
class _Row:
    """An alarm-list row as the trainee's console held it; the caller's thread."""

    severity: int = int(Severity.NOMINAL)
    peak: int = int(Severity.NOMINAL)
    acked: bool = False
    waiting: list[AlarmTransition] = field(default_factory=list)


def unacknowledged_alarms(record: TrainingRecord) -> list[Unacknowledged]:
    """Alarm onsets no acknowledgement ever answered, as the alarm list judges them.

    Replays the alarm list's own rules (``telemetry.core.alarms``) over the
    logged transitions and acks in replay-time order: a new occurrence, or
    a level worse than the one last acknowledged (an escalation WARNING ->
    CRITICAL), is an onset needing its own ack; an ack answers every onset
    waiting in its row; a row that returns to NOMINAL unacknowledged leaves
    the list, unless it reached CRITICAL (latched until acknowledged).
    """
    order = sorted(
        [(tr.time, 0, i) for i, tr in enumerate(record.transitions)]
        + [(a.time, 1, j) for j, a in enumerate(record.actions) if a.action == "ack"]
    )
    rows: dict[str, _Row] = {}
    out: list[Unacknowledged] = []
    for time_, kind, i in order:
        if kind == 1:
            target = record.actions[i].target
            row = rows.get(target)
            if row is None or row.acked:
                continue
            if row.severity > Severity.NOMINAL:
                row.waiting.clear()
                row.acked, row.peak = True, row.severity
            else:  # a latched CRITICAL: the ack takes it off the list
                del rows[target]
            continue
        tr = record.transitions[i]
        row = rows.setdefault(tr.key, _Row())
        if tr.severity > Severity.NOMINAL:
            active = row.severity > Severity.NOMINAL
            if not active or tr.severity > row.peak:
                row.waiting.append(tr)
                row.acked = False
            row.peak = max(row.peak, tr.severity)
            row.severity = tr.severity
        elif row.severity > Severity.NOMINAL:
            row.severity = int(Severity.NOMINAL)
            if row.acked or row.peak < Severity.CRITICAL:  # leaves the list
                out.extend(Unacknowledged(w, time_) for w in row.waiting)
                del rows[tr.key]
    for row in rows.values():
        out.extend(Unacknowledged(w) for w in row.waiting)
    return sorted(out, key=lambda u: (u.onset.time, u.onset.key))
