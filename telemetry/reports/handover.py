"""Shift handover report: alarms, crew dose, gaps, outages, rejects, notes, as HTML.

One self-contained page (``templates/handover.html``, autoescaped) for a time
range.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from telemetry.archive.reader import ArchiveReader
from telemetry.archive.records import TransitionRecord
from telemetry.core.severity import Severity
from telemetry.reports.pages import render_page

if TYPE_CHECKING:
    from collections.abc import Sequence

    from telemetry.archive.records import ActionRecord, EventRecord, RejectedRecord

# Event kinds the pipeline writes for a source's link state, and the level of
# the ``link:<source>`` alarm each one means.
_LINK_DOWN: Final = frozenset({"link stale", "link down"})
_LINK_UP: Final = "link up"
_LINK_LEVELS: Final = {
    "link up": Severity.NOMINAL,
    "link stale": Severity.WARNING,
    "link down": Severity.CRITICAL,
}
_ARCHIVE_TROUBLE: Final = frozenset({"archive_overflow", "archive_error"})
# How far before the range to look for a dose value to start from.
_DOSE_LOOKBACK_S: Final = 7 * 86400.0


def _level(value: int) -> str:
    try:
        return Severity(value).name
    except ValueError:
        return str(value)


@dataclass
class AlarmSummary:
    """What one alarm did during the shift; built and read by the reporting thread."""

    key: str
    raised: int = 0
    peak: int = 0
    first: float = math.nan
    last_value: float | None = None
    acks: list[ActionRecord] = field(default_factory=list)
    shelves: list[ActionRecord] = field(default_factory=list)
    open_at_start: int = 0  # level the alarm was at when the shift began
    level_at_end: int = 0
    last_raise: float = math.nan  # last rise to a higher level (needs a fresh ack)
    acked: bool = False  # acknowledged since ``last_raise`` (shift or before)

    @property
    def state(self) -> str:
        """The alarm's state when the shift is handed over."""
        ack = "acknowledged" if self.acked else "unacknowledged"
        if self.level_at_end > 0:
            return f"OPEN {_level(self.level_at_end)} ({ack})"
        if self.peak >= Severity.CRITICAL and not self.acked:
            # Critical alarms latch in the alarm list until acknowledged.
            return "returned, CRITICAL latched until acknowledged"
        return "returned to nominal"


@dataclass(frozen=True, slots=True)
class LinkOutage:
    """A link was stale or down from ``start`` to ``end`` (None: still); immutable."""

    source: str
    start: float
    end: float | None
    worst: str


@dataclass(frozen=True, slots=True)
class CrewDoseSummary:
    """Dose a crew member accrued in the range (derived channels); immutable."""

    crew: str
    accrued_msv: float | None  # dose_career(end) - dose_career(start): E: E
    session_msv: float | None  # dose_session at the end of the range: area H
    career_msv: float | None  # dose_career at the end of the range: E


@dataclass
class HandoverData:
    """Everything the handover page shows; built and read by the reporting thread."""

    archive: str
    start: float
    end: float
    operators: list[str]
    alarms: list[AlarmSummary]
    outages: list[LinkOutage]
    gaps: list[EventRecord]
    restarts: list[EventRecord]
    archive_trouble: list[EventRecord]
    rejected: list[tuple[str, str, int, str]]  # source, reason, count, example
    dose: list[CrewDoseSummary]
    has_dose: bool
    notes: list[ActionRecord]
    actions: list[ActionRecord]
    bookmarks: list[tuple[float, str, str]]


def _alarm_summaries(
    history: Sequence[TransitionRecord],
    actions: Sequence[ActionRecord],
    start: float,
    end: float,
) -> list[AlarmSummary]:
    level: dict[str, int] = {}
    raised_at: dict[str, float] = {}
    out: dict[str, AlarmSummary] = {}
    for tr in history:
        if tr.time >= end:
            break
        if tr.severity > tr.previous:
            raised_at[tr.key] = tr.time
        if tr.time < start:
            level[tr.key] = tr.severity
            continue
        summary = out.get(tr.key)
        if summary is None:
            summary = out[tr.key] = AlarmSummary(tr.key)
            summary.open_at_start = level.get(tr.key, 0)
        if tr.severity > tr.previous and tr.previous == 0:
            summary.raised += 1
            if math.isnan(summary.first):
                summary.first = tr.time
        summary.peak = max(summary.peak, tr.severity)
        summary.last_value = tr.value
        level[tr.key] = tr.severity
    # Alarms open when the shift began are part of the handover even if quiet.
    for key, sev in level.items():
        if sev > 0 and key not in out:
            summary = out[key] = AlarmSummary(key, peak=sev, open_at_start=sev)
    for summary in out.values():
        summary.level_at_end = level.get(summary.key, 0)
        summary.last_raise = raised_at.get(summary.key, math.nan)
    for action in actions:  # from before the shift too: acks carry over
        summary = out.get(action.target)
        if summary is None or action.time >= end:
            continue
        if action.action == "ack" and action.time >= summary.last_raise:
            summary.acked = True
        if action.time < start:
            continue
        if action.action == "ack":
            summary.acks.append(action)
        elif action.action == "shelve":
            summary.shelves.append(action)
    return sorted(out.values(), key=lambda s: (-s.level_at_end, -s.peak, s.key))


def _link_transitions(events: Sequence[EventRecord]) -> list[TransitionRecord]:
    """Turn link events into ``link:<source>`` alarm transitions.

    The pipeline raises link alarms in the alarm list but archives them as
    events, not limit transitions.
    """
    level: dict[str, int] = {}
    out = []
    for ev in events:
        sev = _LINK_LEVELS.get(ev.kind)
        if sev is None or ev.source is None:
            continue
        key = f"link:{ev.source}"
        previous = level.get(key, 0)
        if int(sev) != previous:
            out.append(
                TransitionRecord(
                    ev.time, key, int(sev), previous, None, None, "link", 0
                )
            )
            level[key] = int(sev)
    return out


def _outages(events: Sequence[EventRecord], t0: float, t1: float) -> list[LinkOutage]:
    """Link outages overlapping ``[t0, t1)`` (``events`` start before ``t0``)."""
    open_: dict[str, tuple[float, str]] = {}
    out: list[LinkOutage] = []
    for ev in events:
        if ev.source is None:
            continue
        if ev.kind in _LINK_DOWN:
            began, worst = open_.get(ev.source, (ev.time, ev.kind))
            if ev.kind == "link down":
                worst = "down"
            elif worst != "down":
                worst = "stale"
            open_[ev.source] = (began, worst)
        elif ev.kind == _LINK_UP and ev.source in open_:
            began, worst = open_.pop(ev.source)
            out.append(LinkOutage(ev.source, began, ev.time, worst))
    for source, (began, worst) in open_.items():
        out.append(LinkOutage(source, began, None, worst))
    out = [o for o in out if o.start < t1 and (o.end is None or o.end >= t0)]
    return sorted(out, key=lambda o: o.start)


def _value_at(reader: ArchiveReader, key: str, t: float) -> float | None:
    """Return the channel's last value at or before ``t`` (None if none)."""
    times, values = reader.channel_window(key, t - _DOSE_LOOKBACK_S, t + 1e-6)
    finite = values[~(values != values)]
    return float(finite[-1]) if finite.size else None


def _crew_dose(
    reader: ArchiveReader, keys: set[str], start: float, end: float
) -> list[CrewDoseSummary]:
    crews = sorted(
        {
            k.split(".", 1)[0]
            for k in keys
            if k.endswith((".dose_career", ".dose_session"))
        }
    )
    out = []
    for crew in crews:
        career_key, session_key = f"{crew}.dose_career", f"{crew}.dose_session"
        career_end = _value_at(reader, career_key, end) if career_key in keys else None
        career_start = None
        if career_key in keys:
            career_start = _value_at(reader, career_key, start)
            if career_start is None:  # the channel began inside the range
                t, v = reader.channel_window(career_key, start, end)
                career_start = float(v[0]) if v.size else None
        accrued = None
        if career_end is not None and career_start is not None:
            accrued = career_end - career_start
        session = _value_at(reader, session_key, end) if session_key in keys else None
        out.append(CrewDoseSummary(crew, accrued, session, career_end))
    return out


def read_handover(
    archive: str | Path, start: float | None = None, end: float | None = None
) -> HandoverData:
    """Collect the handover for ``[start, end)`` (default: the whole archive)."""
    with ArchiveReader(archive) as reader:
        info = reader.info()
        t0 = float(start) if start is not None else float(info["start"] or 0.0)
        # The end of the archive is its last sample: include it.
        t1 = float(end) if end is not None else float(info["end"] or t0) + 1e-3
        every_action = reader.actions(None, t1)
        actions = [a for a in every_action if a.time >= t0]
        # Everything before the range too: what was open when the shift began.
        every_event = reader.events(None, t1)
        events = [e for e in every_event if e.time >= t0]
        link_events = [e for e in every_event if e.kind in _LINK_LEVELS]
        history = sorted(
            [*reader.transitions(None, t1), *_link_transitions(link_events)],
            key=lambda tr: tr.time,
        )
        rejected: Counter[tuple[str, str]] = Counter()
        example: dict[tuple[str, str], str] = {}
        records: list[RejectedRecord] = reader.rejected(t0, t1)
        for r in records:
            k = (r.source or "(unknown)", r.reason)
            rejected[k] += 1
            example.setdefault(k, r.detail)
        keys = {c.key for c in reader.channels()}
        dose = _crew_dose(reader, keys, t0, t1)
        operators = sorted({s.operator for s in reader.sessions() if s.operator})
        bookmarks = [(b.time, b.author, b.text) for b in reader.bookmarks()]
    return HandoverData(
        archive=str(archive),
        start=t0,
        end=t1,
        operators=operators,
        alarms=_alarm_summaries(history, every_action, t0, t1),
        outages=_outages(link_events, t0, t1),
        gaps=[e for e in events if e.kind == "gap"],
        restarts=[e for e in events if e.kind == "publisher restart"],
        archive_trouble=[e for e in events if e.kind in _ARCHIVE_TROUBLE],
        rejected=[(s, r, n, example[(s, r)]) for (s, r), n in sorted(rejected.items())],
        dose=dose,
        has_dose=bool(dose),
        notes=[a for a in actions if a.action == "note"],
        actions=actions,
        bookmarks=[b for b in bookmarks if t0 <= b[0] < t1],
    )


def render_handover(data: HandoverData) -> str:
    """Return the handover page (self-contained HTML, every string escaped)."""
    return render_page(
        "handover.html",
        {
            "data": data,
            "still_open": sum(1 for a in data.alarms if a.level_at_end > 0),
            "rejected_total": sum(r[2] for r in data.rejected),
            "gaps": sorted([*data.gaps, *data.restarts], key=lambda e: e.time),
            "level": _level,
        },
    )


def write_handover_report(
    archive: str | Path,
    start: float | None,
    end: float | None,
    output: str | Path | None,
) -> str:
    """Write the shift handover for ``[start, end)`` of an archive; return the page.

    Parameters
    ----------
    archive : str or Path
        The console archive (opened read-only).
    start, end : float or None
        UTC seconds; None means the archive's first/last sample.
    output : str or Path or None
        The HTML file to write; standard output when None.
    """
    page = render_handover(read_handover(archive, start, end))
    if output is None:
        sys.stdout.write(page)
    else:
        Path(output).write_text(page, encoding="utf-8")
    return page
