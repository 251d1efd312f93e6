"""Keeps a live session's crew dose in the dose ledger, and says when it cannot.

The ledger (``telemetry.radiation.ledger``) is the dose of record's running
estimate: the next console starts its rolling and career totals from it. A
write that fails (another program holding the file locked for a few seconds,
a full disk) is therefore retried, never given up: the estimator still holds
the whole session (``DoseEstimator.session_bins``), so any later write puts
all of it in. While writes fail, an alarm, an event and the radiation panel's
input lamp say "dose ledger not written since HH:MM", and at stop
:meth:`LedgerKeeper.loss` gives the line the recorder and the GUI print.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from telemetry.core.limits import LimitTransition
from telemetry.core.severity import Severity
from telemetry.core.text import utc_text
from telemetry.radiation.estimator.model import ShelterAction
from telemetry.radiation.ledger import DoseLedger, LedgerError, StandingAdvice

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from telemetry.core.alarms import AlarmBook
    from telemetry.core.channels import ChannelStore
    from telemetry.radiation.estimator import DoseEstimator

    EventSink = Callable[[float, str, str, int], None]

#: The dose ledger alarm's key in the alarm list (its value: when it was last
#: written, receive clock).
LEDGER_ALARM: Final = "dose ledger"
# The ledger holds real crew dose: only dose integrated at sample times near
# the receive clock is written. Older samples are a recording republished
# (``kibo-console replay``), much newer ones an accelerated simulator.
LEDGER_MAX_LAG_S: Final = 86_400.0
LEDGER_MAX_LEAD_S: Final = 3600.0
#: A read-only console tries the ledger's lock this often (s), to take over
#: when the console writing it closes.
LEDGER_LOCK_RETRY_S: Final = 60.0
#: While writes fail they are retried this often (receive clock), not only at
#: the next bin: a lock held for seconds then costs seconds of record, not an hour.
RETRY_S: Final = 30.0
#: How long a write during the session waits for another program's lock. The
#: thread driving the pipeline writes: it must not stall for SQLite's default
#: 5 s busy timeout on every retry (ingest stops meanwhile); a reader's shared
#: lock (a report reading the ledger) lasts milliseconds, well inside this.
TICK_WAIT_S: Final = 0.2
#: At stop nothing else waits on the thread: the last write waits longer.
STOP_WAIT_S: Final = 2.0
#: How carried-over shelter advice begins its reason.
CARRIED: Final = "carried over from the console before a restart"


@dataclass(frozen=True, slots=True)
class LedgerLoss:
    """Crew dose of this session the ledger does not hold (any thread)."""

    path: str
    since: float  # receive time of the last write that succeeded (or the start)
    written: bool  # some of this session's dose did reach the ledger
    missing: tuple[tuple[str, float], ...]  # (crew id, mSv H) not written
    error: str

    def summary(self) -> str:
        """One line for a terminal: what was not recorded, since when, why."""
        return f"DATA LOST: {self.what()}"

    def what(self) -> str:
        """Say what was not recorded, since when and why (the last line's words)."""
        doses = ", ".join(f"{c} {m:.3g} mSv H" for c, m in self.missing) or "none"
        what = (
            f"not written since {utc_text(self.since)}"
            if self.written
            else "never written"
        )
        return (
            f"crew dose not recorded: dose ledger {self.path} {what} "
            f"({doses} missing from the dose of record): {self.error}"
        )


class LedgerKeeper:
    """Opens the dose ledger, writes the session's dose to it, reports failures.

    Created by the thread starting the live session; :meth:`tick` runs on the
    thread that drives the pipeline's tick (it owns the dose estimator), and
    :meth:`stop` on the thread stopping the session once that one has been
    joined. :meth:`loss` may be read from any thread after stop.
    """

    def __init__(
        self,
        path: Path,
        dose: DoseEstimator,
        store: ChannelStore,
        alarms: AlarmBook,
        note: EventSink,
        now: float,
    ) -> None:
        self.path = path
        self.dose = dose
        self.store = store
        self.alarms = alarms
        self.note = note
        self.ledger: DoseLedger | None = None
        self._bin = math.nan
        self._refused = False
        self._ok_at = now  # receive time of the last successful write
        self._written = False
        self._in_ledger: dict[str, float] = {}  # session dose written, per crew
        self._failing = False
        self._retry_at = -math.inf
        self._error = ""
        self._loss: LedgerLoss | None = None
        self._advice: tuple[tuple[str, str], ...] = ()  # as last written
        self._advice_retry_at = -math.inf
        self._lock_tried = -math.inf  # receive clock of the last lock attempt
        self._since = -math.inf  # write dose after this (taken over)
        self._open(now)

    # ------------------------------------------------------------- opening

    def _open(self, now: float) -> None:
        """Seed the dose estimator with earlier sessions' dose (before any data).

        A ledger that cannot be read (corrupt, not a ledger, newer schema) is
        left as it is, untouched, for someone to look at: this session neither
        reads nor writes it, says so in a WARNING event and in the radiation
        panel, and runs on without earlier sessions' dose.
        """
        dose, path = self.dose, self.path
        roster = dose.roster
        try:
            roster_sha = hashlib.sha256(roster.path.read_bytes()).hexdigest()
        except OSError:
            roster_sha = ""
        try:
            ledger = DoseLedger(
                path,
                roster_version=roster.version,
                roster_sha256=roster_sha,
                bin_s=dose.config.rolling_bin_s,
                opened=now,
            )
            try:
                history = ledger.history(m.id for m in roster.crew)
            except LedgerError:
                ledger.close()
                raise
        except LedgerError as exc:
            note = f"dose ledger unusable: earlier sessions left out ({exc})"
            self.note(now, "dose ledger", note, int(Severity.WARNING))
            dose.seed_history(
                {},
                now=now,
                note="dose ledger unusable: earlier sessions left out (see events)",
            )
            return
        self.ledger = ledger
        parts = []
        if history.sessions:
            span = span_text(history.covered_s)
            parts.append(f"includes {span} from earlier sessions (ledger)")
        else:
            parts.append("ledger: no earlier sessions")
        if history.records:
            parts.append(f"{history.records} dose(s) of record adopted")
        if history.roster_changed:
            parts.append("roster changed since: crew no longer listed ignored")
        # What needs the officer's attention first: the panel's lamp elides
        # the end of a long note.
        if not ledger.writable:
            parts.insert(0, "ledger read-only: another console writes it")
        if history.damaged:
            parts.insert(
                0,
                f"{history.damaged} damaged ledger bin(s) left out: "
                "totals are a lower bound",
            )
        carried = self._carried_advice(ledger, now)
        if carried:
            parts.append(f"shelter advice carried over for {', '.join(carried)}")
        text = "; ".join(parts)
        dose.seed_history(history.bins, now=now, note=text)
        level = Severity.NOMINAL if ledger.writable else Severity.WATCH
        if history.damaged:
            level = Severity.WARNING
        self.note(now, "dose ledger", f"{path}: {text}", int(level))

    def _carried_advice(self, ledger: DoseLedger, now: float) -> list[str]:
        """Stand by the shelter advice the console before left (a restart).

        Only advice confirmed within the advice's horizon (``horizon_h`` of
        resources/shelter_advice.toml) is carried: older advice is history.
        Returns the crew ids it was carried for.
        """
        try:
            standing = ledger.standing_advice()
        except LedgerError as exc:
            self.note(now, "dose ledger", str(exc), int(Severity.WARNING))
            return []
        horizon_s = self.dose.shelter_rules.horizon_h * 3600.0
        actions = {a.value: a for a in ShelterAction}
        advice: dict[str, tuple[ShelterAction, str]] = {}
        since: float | None = None
        for item in standing:
            action = actions.get(item.action)
            if action is None or not now - item.written <= horizon_s:
                continue
            reason = (
                f"{CARRIED} (advised since {utc_text(item.since)}, last confirmed "
                f"{utc_text(item.written)}): {_original(item.reason)}"
            )
            advice[item.crew_id] = (action, reason)
            since = item.since if since is None else min(since, item.since)
        if advice:
            self.dose.carry_over_advice(advice, since)
            self._advice = self._standing()
            self.note(
                now,
                "shelter recommended",
                "shelter advice carried over from before the restart: "
                + "; ".join(f"{c}: {a.value}" for c, (a, _r) in advice.items()),
                int(Severity.WARNING),
            )
        return sorted(advice)

    def _standing(self) -> tuple[tuple[str, str], ...]:
        _since, advice = self.dose.standing_advice()
        return tuple((c, a.value) for c, a, _r in advice)

    def _write_advice(self, now: float, wait_s: float) -> None:
        """Keep the advice in force in the ledger (for a console restarted later)."""
        ledger = self.ledger
        # Advice from a recording sent again or an accelerated simulator is
        # not the crew's: never carried over (as their dose is never written).
        if ledger is None or not ledger.writable or self._refused:
            return
        since, advice = self.dose.standing_advice()
        rows = [
            StandingAdvice(
                c, a.value, since if since is not None else now, now, _original(r)
            )
            for c, a, r in advice
        ]
        try:
            ledger.record_advice(rows, wait_s=wait_s)
        except LedgerError:
            self._advice_retry_at = now + RETRY_S
            return
        self._advice = tuple((c, a.value) for c, a, _r in advice)
        self._advice_retry_at = -math.inf

    # ------------------------------------------------------------- writing

    def _take_over(self, now: float, final: bool) -> bool:
        """Retry the writer's lock now and then; True once this console writes.

        When the console that held it has closed (a shift change), this one
        takes the ledger over and writes its dose since the last sample time
        that console wrote: the hours after it are recorded by someone.
        """
        ledger, dose = self.ledger, self.dose
        assert ledger is not None
        if ledger.writable:
            return True
        if not final and now - self._lock_tried < LEDGER_LOCK_RETRY_S:
            return False
        self._lock_tried = now
        try:
            if not ledger.take_over():
                return False
            since = ledger.recorded_until()
        except LedgerError as exc:
            self.note(now, "dose ledger", str(exc), int(Severity.WARNING))
            self.ledger = None
            return False
        self._since = since
        when = utc_text(since) if math.isfinite(since) else "its start"
        text = (
            f"dose ledger taken over: the console writing it has closed; "
            f"this console writes it from {when}"
        )
        self.note(now, "dose ledger", text, int(Severity.NOMINAL))
        kept = [
            part
            for part in dose.snapshot().history_note.split("; ")
            if part and not part.startswith("ledger read-only")
        ]
        lamp = f"dose ledger taken over: this console writes it from {when}"
        dose.set_history_note("; ".join([lamp, *kept]))
        return True

    def tick(self, now: float) -> None:
        """Write at each completed bin, and every ``RETRY_S`` while writes fail."""
        ledger = self.ledger
        if ledger is None or not self._take_over(now, final=False):
            return
        until = self.dose.integrated_until
        if math.isnan(until):
            return
        current = math.floor(until / ledger.bin_s)
        retry = self._failing and now >= self._retry_at
        if current != self._bin or retry:
            self._bin = current
            self._write(now, TICK_WAIT_S)
            self._write_advice(now, TICK_WAIT_S)
        elif self._standing() != self._advice and now >= self._advice_retry_at:
            self._write_advice(now, TICK_WAIT_S)

    def stop(self, now: float) -> None:
        """Write a last time (all the session's dose), then close (idempotent)."""
        ledger = self.ledger
        if ledger is None:
            return
        self._take_over(now, final=True)
        ledger = self.ledger
        if ledger is None:
            return
        if ledger.writable and not math.isnan(self.dose.integrated_until):
            self._write(now, STOP_WAIT_S)
            if self._failing:
                self._loss = self._lost()
            else:  # a file still locked is not waited on twice at exit
                self._write_advice(now, STOP_WAIT_S)
        ledger.close()
        self.ledger = None

    def loss(self) -> LedgerLoss | None:
        """Return the session's dose the ledger lacks after stop (None: nothing)."""
        return self._loss

    def _write(self, now: float, wait_s: float) -> None:
        ledger, dose = self.ledger, self.dose
        assert ledger is not None
        # session_bins() walks the whole session: a write after failures
        # puts in everything the failed ones missed.
        first, until, bins = dose.session_bins(self._since)
        # A recording sent again (marked on the wire) is never crew dose,
        # however recent: this morning's session replayed to a classroom
        # would otherwise count twice.
        recorded = sorted(s for s, st in self.store.sources.items() if st.recorded)
        # Judged on the newest time being written, not the session's first
        # sample: a console up for a week writes every hour of it.
        if (
            recorded
            or until < now - LEDGER_MAX_LAG_S
            or until > now + LEDGER_MAX_LEAD_S
        ):
            if not self._refused:
                self._refused = True
                why = (
                    f"{', '.join(recorded[:5])} sent a recording (kibo-console "
                    "replay), not live telemetry"
                    if recorded
                    else f"sample times {utc_text(first)} to {utc_text(until)} "
                    "are not live (a recording or an accelerated simulator)"
                )
                self.note(
                    now,
                    "dose ledger",
                    f"not written: {why}; the ledger keeps real crew dose only",
                    int(Severity.WATCH),
                )
            return
        try:
            # Bins late data may still revise are rewritten until settled.
            ledger.record(
                first, until, bins, until - dose.config.revise_window_s, wait_s=wait_s
            )
        except LedgerError as exc:
            # The panel's lamp gets SQLite's reason; events and the exit line
            # the whole message, naming the file.
            self._failed(now, str(exc), str(exc.__cause__ or exc))
            return
        self._written = True
        self._ok_at = now
        self._in_ledger = {c: math.fsum(b.values()) for c, b in bins.items()}
        if self._failing:
            self._failing = False
            self._error = ""
            self.note(
                now,
                "dose ledger",
                f"dose ledger written again: this session's dose to "
                f"{utc_text(until)} is in {self.path}",
                int(Severity.NOMINAL),
            )
            self._alarm(now, Severity.WARNING, Severity.NOMINAL)
            self.dose.set_ledger_problem("")

    def _failed(self, now: float, error: str, reason: str) -> None:
        self._retry_at = now + RETRY_S
        self._error = error
        since = dt.datetime.fromtimestamp(self._ok_at, dt.UTC).strftime("%H:%M UTC")
        if not self._written:
            since = f"the session began at {since}"
        self.dose.set_ledger_problem(
            f"dose ledger not written since {since} ({reason}); retrying"
        )
        if not self._failing:
            self._failing = True
            self.note(
                now,
                "dose ledger",
                f"dose ledger not written since {utc_text(self._ok_at)} ({error}); "
                f"retrying every {RETRY_S:.0f} s",
                int(Severity.WARNING),
            )
            self._alarm(now, Severity.NOMINAL, Severity.WARNING)

    def _alarm(self, now: float, previous: Severity, level: Severity) -> None:
        # The value is when the ledger was last written: the alarm list shows
        # "not written since" from it.
        self.alarms.raise_transition(
            LimitTransition(LEDGER_ALARM, now, previous, level, self._ok_at, None, "")
        )

    def _lost(self) -> LedgerLoss:
        """Return the session's dose not in the ledger, per crew member (mSv H)."""
        _first, _until, bins = self.dose.session_bins(self._since)
        missing = tuple(
            (crew_id, math.fsum(per_bin.values()) - self._in_ledger.get(crew_id, 0.0))
            for crew_id, per_bin in sorted(bins.items())
        )
        return LedgerLoss(
            str(self.path), self._ok_at, self._written, missing, self._error
        )


def _original(reason: str) -> str:
    """Return an advice's own reason, without the carried-over preamble(s)."""
    while reason.startswith(CARRIED) and "): " in reason:
        reason = reason.split("): ", 1)[1]
    return reason


def span_text(seconds: float) -> str:
    """``3.2 d``; ``2.5 h`` below a day, ``12 min`` below an hour, ``40 s``."""
    if seconds < 59.5:
        return f"{seconds:.0f} s"
    if seconds < 3600.0:
        return f"{seconds / 60.0:.0f} min"
    if seconds < 86400.0:
        return f"{seconds / 3600.0:.1f} h"
    return f"{seconds / 86400.0:.1f} d"
