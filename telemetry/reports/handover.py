"""Shift handover report: alarms, crew dose, gaps, outages, rejects, notes, as HTML.

One self-contained page (inline CSS, every string escaped) for a time range.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from telemetry.archive.store import ArchiveReader, TransitionRecord
from telemetry.core.severity import Severity
from telemetry.core.text import escape_html, utc_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from telemetry.archive.store import ActionRecord, EventRecord, RejectedRecord

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

CSS: Final = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #1d2430; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #c8cdd6; padding: 0.25em 0.6em; text-align: left;
         vertical-align: top; }
th { background: #eef1f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.CRITICAL { color: #cf222e; font-weight: 600; } .WARNING { color: #bc4c00; }
.WATCH { color: #9a6700; } .muted { color: #6e7781; }
"""


_esc = escape_html


def _utc(t: float | None) -> str:
    return utc_text(t, "")


def _level(value: int) -> str:
    try:
        return Severity(value).name
    except ValueError:
        return str(value)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return ""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


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
    accrued_msv: float | None  # dose_career(end) - dose_career(start): E
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
    still_open = [a for a in data.alarms if a.level_at_end > 0]
    period = f"{_utc(data.start)} to {_utc(data.end)}"
    operators = ", ".join(data.operators) or "n/a"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Shift handover {_esc(period)}</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Shift handover</h1>",
        "<table>",
        f"<tr><th>Period</th><td>{_esc(_utc(data.start))} to {_esc(_utc(data.end))} "
        f"({_esc(_duration(data.end - data.start))})</td></tr>",
        f"<tr><th>Archive</th><td>{_esc(data.archive)}</td></tr>",
        f"<tr><th>Operators</th><td>{_esc(operators)}</td></tr>",
        f"<tr><th>Alarms still open</th><td class='num'>{len(still_open)}</td></tr>",
        f"<tr><th>Link outages</th><td class='num'>{len(data.outages)}</td></tr>",
        f"<tr><th>Data gaps</th><td class='num'>{len(data.gaps)}</td></tr>",
        f"<tr><th>Rejected frames</th>"
        f"<td class='num'>{sum(r[2] for r in data.rejected)}</td></tr>",
        "</table>",
    ]
    out.append("<h2>Alarms</h2>")
    if data.alarms:
        out.append(
            "<table><tr><th>Alarm</th><th>State at handover</th><th>Peak</th>"
            "<th>Raised</th><th>First raised</th><th>Acknowledged</th>"
            "<th>Shelved</th></tr>"
        )
        for a in data.alarms:
            acks = "<br>".join(
                f"{_esc(_utc(x.time))} {_esc(x.operator)}"
                + (f": {_esc(x.comment)}" if x.comment else "")
                for x in a.acks
            )
            shelves = "<br>".join(
                f"{_esc(_utc(x.time))} {_esc(x.operator)} {_esc(x.comment)}"
                for x in a.shelves
            )
            first = _utc(a.first) or (
                f"before the shift ({_level(a.open_at_start)})"
                if a.open_at_start
                else ""
            )
            css = _level(a.level_at_end) if a.level_at_end else ""
            out.append(
                f"<tr><td>{_esc(a.key)}</td>"
                f"<td class='{_esc(css)}'>{_esc(a.state)}</td>"
                f"<td class='{_esc(_level(a.peak))}'>{_esc(_level(a.peak))}</td>"
                f"<td class='num'>{a.raised}</td><td>{_esc(first)}</td>"
                f"<td>{acks or '<span class=muted>no</span>'}</td>"
                f"<td>{shelves or '<span class=muted>no</span>'}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p class='muted'>No alarm in this period.</p>")

    out.append("<h2>Crew dose accrued</h2>")
    if data.has_dose:
        out.append(
            "<table><tr><th>Crew</th><th>Accrued in period (E)</th>"
            "<th>Session dose at end (area H)</th><th>Career dose at end (E)</th>"
            "</tr>"
        )
        for d in data.dose:
            accrued = (
                f"{d.accrued_msv * 1000:.1f} µSv" if d.accrued_msv is not None else ""
            )
            session = f"{d.session_msv:.4f} mSv" if d.session_msv is not None else ""
            career = f"{d.career_msv:.3f} mSv" if d.career_msv is not None else ""
            out.append(
                f"<tr><td>{_esc(d.crew)}</td><td class='num'>{_esc(accrued)}</td>"
                f"<td class='num'>{_esc(session)}</td>"
                f"<td class='num'>{_esc(career)}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p class='muted'>No crew dose channels in this archive.</p>")

    out.append("<h2>Link outages</h2>")
    if data.outages:
        out.append(
            "<table><tr><th>Source</th><th>From</th><th>To</th><th>Duration</th>"
            "<th>Worst</th></tr>"
        )
        for o in data.outages:
            to = _utc(o.end) if o.end is not None else "still out"
            length = _duration((o.end if o.end is not None else data.end) - o.start)
            out.append(
                f"<tr><td>{_esc(o.source)}</td><td>{_esc(_utc(o.start))}</td>"
                f"<td>{_esc(to)}</td><td class='num'>{_esc(length)}</td>"
                f"<td>{_esc(o.worst)}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p class='muted'>No link outage.</p>")

    out.append("<h2>Data gaps and publisher restarts</h2>")
    gaps = sorted([*data.gaps, *data.restarts], key=lambda e: e.time)
    if gaps:
        out.append("<table><tr><th>Time</th><th>Source</th><th>What</th></tr>")
        for e in gaps:
            out.append(
                f"<tr><td>{_esc(_utc(e.time))}</td><td>{_esc(e.source or '')}</td>"
                f"<td>{_esc(e.kind)}: {_esc(e.detail)}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p class='muted'>No data gap.</p>")

    out.append("<h2>Rejected frames</h2>")
    if data.rejected:
        out.append(
            "<table><tr><th>Source</th><th>Reason</th><th>Count</th>"
            "<th>Example</th></tr>"
        )
        for source, reason, n, detail in data.rejected:
            out.append(
                f"<tr><td>{_esc(source)}</td><td>{_esc(reason)}</td>"
                f"<td class='num'>{n}</td><td>{_esc(detail)}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p class='muted'>No rejected frame.</p>")

    if data.archive_trouble:
        out.append("<h2>Archive problems</h2><table>")
        for e in data.archive_trouble:
            out.append(
                f"<tr><td>{_esc(_utc(e.time))}</td><td>{_esc(e.kind)}</td>"
                f"<td>{_esc(e.detail)}</td></tr>"
            )
        out.append("</table>")

    out.append("<h2>Operator notes</h2>")
    if data.notes:
        out.append(
            "<table><tr><th>Time</th><th>Operator</th><th>About</th><th>Note</th></tr>"
        )
        for note in data.notes:
            out.append(
                f"<tr><td>{_esc(_utc(note.time))}</td><td>{_esc(note.operator)}</td>"
                f"<td>{_esc(note.target)}</td><td>{_esc(note.comment)}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p class='muted'>No note.</p>")

    out.append("<h2>Bookmarks</h2>")
    if data.bookmarks:
        out.append("<table><tr><th>Time</th><th>Author</th><th>Text</th></tr>")
        for t, author, text in data.bookmarks:
            out.append(
                f"<tr><td>{_esc(_utc(t))}</td><td>{_esc(author)}</td>"
                f"<td>{_esc(text)}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p class='muted'>No bookmark.</p>")

    others = [a for a in data.actions if a.action != "note"]
    out.append("<h2>All operator actions</h2>")
    if others:
        out.append(
            "<table><tr><th>Time</th><th>Operator</th><th>Action</th><th>Target</th>"
            "<th>Comment</th></tr>"
        )
        for act in others:
            out.append(
                f"<tr><td>{_esc(_utc(act.time))}</td><td>{_esc(act.operator)}</td>"
                f"<td>{_esc(act.action)}</td><td>{_esc(act.target)}</td>"
                f"<td>{_esc(act.comment)}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append("<p class='muted'>No operator action.</p>")
    out.append("</body></html>\n")
    return "\n".join(out)


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
