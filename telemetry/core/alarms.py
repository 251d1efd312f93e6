"""The alarm list: raised limits, link and staleness alarms, and operator actions.

One row per alarm source (a channel key or ``link:<source>``): repeats fold
into the row's count instead of flooding the list. Critical alarms latch until
acknowledged; shelving hides an alarm until its timer runs out. Every operator
action is handed to the archive with its time, operator and comment.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, NamedTuple

from telemetry.core.severity import Severity

if TYPE_CHECKING:
    from telemetry.core.limits import LimitTransition

ActionSink = Callable[[float, str, str, str, str], None]
"""(time, operator, action, target, comment): usually ArchiveWriter.put_action."""

#: Alarm-rate yardsticks of EEMUA 191 / ISA-18.2: more than 10 new alarms in
#: 10 minutes is a flood; one source alarming 3 times within 60 s chatters.
LOAD_WINDOW_S = 600.0
FLOOD_PER_WINDOW = 10
CHATTER_WINDOW_S = 60.0
CHATTER_COUNT = 3
# Occurrences kept for the load figures (a flood of floods stays bounded).
_RAISES_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class Alarm:
    """One row of the alarm list, as the GUI sees it (immutable snapshot)."""

    key: str
    severity: Severity  # current level; NOMINAL once the value has returned
    peak: Severity  # worst level since the last acknowledgement
    value: float
    threshold: float | None
    kind: str
    first_time: float
    last_time: float
    count: int
    acked: bool = False
    ack_by: str = ""
    ack_comment: str = ""
    shelved_until: float | None = None
    # Who shelved it, when and why (shown in the list while it is shelved).
    shelved_by: str = ""
    shelved_at: float | None = None
    shelve_reason: str = ""
    # The worst level the operator saw when shelving: a worse one unshelves.
    shelved_level: Severity = Severity.NOMINAL

    @property
    def active(self) -> bool:
        return self.severity > Severity.NOMINAL

    def shelved(self, now: float) -> bool:
        return self.shelved_until is not None and now < self.shelved_until

    def unshelved(self) -> Alarm:
        """Return this alarm back in the list (who shelved it and why forgotten)."""
        return replace(
            self,
            shelved_until=None,
            shelved_by="",
            shelved_at=None,
            shelve_reason="",
            shelved_level=Severity.NOMINAL,
        )

    @property
    def state(self) -> str:
        if self.active:
            return "acknowledged" if self.acked else "unacknowledged"
        return "returned (unacknowledged)"


class AlarmLoad(NamedTuple):
    """How hard the alarm list is working the operator; immutable, any thread.

    ``raised`` counts new occurrences (an alarm becoming active) in the last
    ``window_s``; ``chattering`` names the sources that became active at least
    ``CHATTER_COUNT`` times within ``CHATTER_WINDOW_S`` in that window.
    """

    raised: int
    window_s: float
    chattering: tuple[str, ...]

    @property
    def flood(self) -> bool:
        return self.raised > FLOOD_PER_WINDOW * self.window_s / LOAD_WINDOW_S


class AlarmBookState(NamedTuple):
    """What :meth:`AlarmBook.checkpoint` returns (immutable parts, shallow copies)."""

    alarms: dict[str, Alarm]
    raised_total: int
    raises: tuple[tuple[float, str], ...]


class AlarmBook:
    """Alarm state shared by two threads, guarded by one lock.

    The telemetry-pipeline thread feeds transitions (``raise_transition``) and
    timer ticks; the GUI thread acknowledges, shelves and reads snapshots.
    """

    def __init__(self, on_action: ActionSink | None = None, operator: str = "") -> None:
        self._alarms: dict[str, Alarm] = {}
        self._lock = threading.Lock()
        self._on_action = on_action
        self.operator = operator
        self.version = 0
        self.raised_total = 0
        # (time, key) of each new occurrence, for the alarm-load figures.
        self._raises: deque[tuple[float, str]] = deque(maxlen=_RAISES_KEPT)

    def raise_transition(self, tr: LimitTransition) -> Alarm | None:
        """Apply a limit (or link/stale) transition.

        A shelved alarm that escalates above the level it was shelved at is
        unshelved (ISA-18.2 shelves a level, not a source: a WATCH expected
        during maintenance must not hide a CRITICAL), so it sounds and needs a
        fresh acknowledgement. Return that alarm, as it was while shelved,
        so the caller can log why it came back; else None.
        """
        escalated: Alarm | None = None
        with self._lock:
            alarm = self._alarms.get(tr.key)
            if tr.severity > Severity.NOMINAL:
                self.raised_total += 1
                if alarm is None or not alarm.active:
                    self._raises.append((tr.time, tr.key))
                if alarm is None:
                    alarm = Alarm(
                        tr.key,
                        tr.severity,
                        tr.severity,
                        tr.value,
                        tr.threshold,
                        tr.kind,
                        tr.time,
                        tr.time,
                        1,
                    )
                else:
                    worse = tr.severity > alarm.peak or not alarm.active
                    alarm = replace(
                        alarm,
                        severity=tr.severity,
                        peak=max(alarm.peak, tr.severity),
                        value=tr.value,
                        threshold=tr.threshold,
                        kind=tr.kind,
                        last_time=tr.time,
                        count=alarm.count + (1 if not alarm.active else 0),
                        # A worse level or a new occurrence needs a fresh ack.
                        acked=alarm.acked and not worse,
                    )
                    if (
                        alarm.shelved_until is not None
                        and tr.severity > alarm.shelved_level
                    ):
                        escalated = alarm
                        alarm = alarm.unshelved()
                        self._record(
                            tr.time,
                            "unshelve",
                            tr.key,
                            f"escalated to {tr.severity.name} while shelved at "
                            f"{escalated.shelved_level.name}",
                        )
                self._alarms[tr.key] = alarm
            elif alarm is not None:
                alarm = replace(
                    alarm, severity=Severity.NOMINAL, value=tr.value, last_time=tr.time
                )
                # Returned alarms leave the list once acknowledged; critical ones
                # latch until someone acknowledges them.
                if alarm.acked or alarm.peak < Severity.CRITICAL:
                    del self._alarms[tr.key]
                else:
                    self._alarms[tr.key] = alarm
            self.version += 1
        return escalated

    def acknowledge(self, keys: list[str], now: float, comment: str = "") -> int:
        """Acknowledge alarms; return how many changed."""
        changed = 0
        with self._lock:
            for key in keys:
                alarm = self._alarms.get(key)
                if alarm is None or alarm.acked:
                    continue
                changed += 1
                if alarm.active:
                    self._alarms[key] = replace(
                        alarm,
                        acked=True,
                        ack_by=self.operator,
                        ack_comment=comment,
                        peak=alarm.severity,
                    )
                else:
                    del self._alarms[key]
                self._record(now, "ack", key, comment)
            self.version += 1
        return changed

    def shelve(
        self, keys: list[str], now: float, minutes: float, comment: str = ""
    ) -> None:
        with self._lock:
            for key in keys:
                alarm = self._alarms.get(key)
                if alarm is None:
                    continue
                self._alarms[key] = replace(
                    alarm,
                    shelved_until=now + minutes * 60.0,
                    shelved_by=self.operator,
                    shelved_at=now,
                    shelve_reason=comment.strip(),
                    shelved_level=alarm.peak,
                )
                self._record(now, "shelve", key, f"{minutes:g} min. {comment}".strip())
            self.version += 1

    def unshelve(self, keys: list[str], now: float) -> None:
        with self._lock:
            for key in keys:
                alarm = self._alarms.get(key)
                if alarm is not None and alarm.shelved_until is not None:
                    self._alarms[key] = alarm.unshelved()
                    self._record(now, "unshelve", key, "")
            self.version += 1

    def tick(self, now: float) -> None:
        """Unshelve alarms whose shelving time ran out."""
        with self._lock:
            expired = [
                k
                for k, a in self._alarms.items()
                if a.shelved_until is not None and now >= a.shelved_until
            ]
            for key in expired:
                self._alarms[key] = self._alarms[key].unshelved()
                self._record(now, "unshelve", key, "shelving expired")
            if expired:
                self.version += 1

    def note(self, now: float, target: str, text: str) -> None:
        self._record(now, "note", target, text)

    def record_action(self, now: float, action: str, target: str, comment: str) -> None:
        """Archive an operator action that is not about one alarm (silence, shelter)."""
        self._record(now, action, target, comment)

    def _record(self, now: float, action: str, target: str, comment: str) -> None:
        if self._on_action is not None:
            self._on_action(now, self.operator, action, target, comment)

    def checkpoint(self) -> AlarmBookState:
        """Return every alarm, the raised count and recent raises, for :meth:`restore`.

        Alarms are immutable, so the copy is shallow. A replay keeps one per
        checkpoint to seek quickly.
        """
        with self._lock:
            return AlarmBookState(
                dict(self._alarms), self.raised_total, tuple(self._raises)
            )

    def restore(self, state: AlarmBookState) -> None:
        """Return to a :meth:`checkpoint`; views see a new version and re-read."""
        with self._lock:
            self._alarms = dict(state.alarms)
            self.raised_total = state.raised_total
            self._raises = deque(state.raises, maxlen=_RAISES_KEPT)
            self.version += 1

    def load(self, now: float, window_s: float = LOAD_WINDOW_S) -> AlarmLoad:
        """Return the alarm load over the ``window_s`` before ``now``."""
        since = now - window_s
        with self._lock:
            recent = [(t, key) for t, key in self._raises if since < t <= now]
        times: dict[str, list[float]] = {}
        for t, key in recent:
            times.setdefault(key, []).append(t)
        n = CHATTER_COUNT
        chattering = []
        for key, ts in sorted(times.items()):
            ts.sort()
            # Any n consecutive occurrences within the chatter window.
            if any(
                ts[i + n - 1] - ts[i] <= CHATTER_WINDOW_S
                for i in range(len(ts) - n + 1)
            ):
                chattering.append(key)
        return AlarmLoad(len(recent), window_s, tuple(chattering))

    def snapshot(self) -> list[Alarm]:
        """Every alarm, worst first, then newest first."""
        with self._lock:
            alarms = list(self._alarms.values())
        return sorted(
            alarms, key=lambda a: (-int(a.severity), -int(a.peak), -a.last_time)
        )

    def get(self, key: str) -> Alarm | None:
        with self._lock:
            return self._alarms.get(key)

    def unacked_severity(self, now: float) -> Severity:
        """Return the worst unacknowledged, unshelved level (for the audible alarm)."""
        with self._lock:
            levels = [
                a.peak
                for a in self._alarms.values()
                if not a.acked and not a.shelved(now)
            ]
        return max(levels, default=Severity.NOMINAL)

    def clear(self) -> None:
        with self._lock:
            self._alarms.clear()
            self._raises.clear()
            self.version += 1
