"""What a replay timeline marks: alarms, events, SPE/SAA periods, bookmarks.

Read once from a session (and its bookmark sidecar) on the replay thread;
the marks are immutable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telemetry.archive.reader import ArchiveReader
from telemetry.core.severity import Severity
from telemetry.replay.bookmarks import BookmarkFile

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np


@dataclass(frozen=True, slots=True)
class TimelineMark:
    """An instant or a period on the replay timeline; immutable, any thread."""

    time: float
    kind: str  # "alarm", "event", "spe", "saa", "bookmark", "fault"
    label: str
    severity: int = 0
    end: float | None = None  # periods (SPE, SAA, faults) end here
    # Bookmarks: "all", or "trainer" for a trainer-only note (never in training).
    audience: str = "all"

    @property
    def trainer_only(self) -> bool:
        """Tell whether only trainers see this mark (a trainer-only bookmark)."""
        return self.audience == "trainer"


def _periods(times: np.ndarray, values: np.ndarray) -> list[tuple[float, float]]:
    """Return the ``[start, end]`` runs where a boolean channel is on (>= 0.5)."""
    on = values >= 0.5
    out: list[tuple[float, float]] = []
    start: float | None = None
    for t, flag in zip(times.tolist(), on.tolist(), strict=True):
        if flag and start is None:
            start = t
        elif not flag and start is not None:
            out.append((start, t))
            start = None
    if start is not None:
        out.append((start, float(times[-1])))
    return out


def read_timeline_marks(
    path: str | Path,
    t0: float | None = None,
    t1: float | None = None,
    *,
    sidecar: bool = True,
) -> list[TimelineMark]:
    """Read alarm onsets, events, SPE and SAA periods and bookmarks from an archive.

    Alarms are limit transitions to a higher level; events are those with a
    severity above nominal; SPE and SAA periods come from the derived
    ``goes.spe_active`` and ``iss.saa`` channels when the archive has them.
    Bookmarks are the archive's own (made live) and, with ``sidecar``, those
    of its bookmarks sidecar (``telemetry.replay.bookmarks``, made in replays).

    Raises
    ------
    BookmarkError
        If the sidecar exists but cannot be read.
    """
    lo = -math.inf if t0 is None else t0
    hi = math.inf if t1 is None else t1
    marks: list[TimelineMark] = []
    with ArchiveReader(path) as archive:
        for tr in archive.transitions(t0, t1):
            if tr.severity > tr.previous:
                level = Severity(tr.severity).name
                marks.append(
                    TimelineMark(tr.time, "alarm", f"{tr.key} {level}", tr.severity)
                )
        for ev in archive.events(t0, t1):
            if ev.severity > 0 and math.isfinite(ev.time):
                label = f"{ev.source + ' ' if ev.source else ''}{ev.kind}: {ev.detail}"
                marks.append(TimelineMark(ev.time, "event", label, ev.severity))
        info = archive.info()
        span = (
            lo if math.isfinite(lo) else float(info["start"] or 0.0),
            hi if math.isfinite(hi) else float(info["end"] or 0.0) + 1.0,
        )
        known = {c.key for c in archive.channels()}
        for key, kind, label, severity in (
            ("goes.spe_active", "spe", "solar particle event", int(Severity.WARNING)),
            ("iss.saa", "saa", "SAA pass", int(Severity.WATCH)),
        ):
            if key in known:
                t, v = archive.channel_window(key, *span)
                for start, end in _periods(t, v):
                    marks.append(TimelineMark(start, kind, label, severity, end))
        for bm in archive.bookmarks():
            if lo <= bm.time < hi:
                marks.append(
                    TimelineMark(bm.time, "bookmark", f"{bm.author}: {bm.text}")
                )
    if sidecar:
        marks += sidecar_marks(path, lo, hi)
    marks.sort(key=lambda m: (m.time, m.kind))
    return marks


def sidecar_marks(
    session: str | Path,
    t0: float = -math.inf,
    t1: float = math.inf,
    *,
    trainee: bool = False,
) -> list[TimelineMark]:
    """Return the bookmarks of a session's sidecar in ``[t0, t1]`` as marks.

    Read afresh on every call (a stat and one small query): other consoles
    replaying the same session may have added some. With ``trainee``, only
    the bookmarks a trainee may see (trainer-only notes give answers away).
    """
    return [
        TimelineMark(
            bm.time,
            "bookmark",
            f"{bm.author}: {bm.text}" if bm.author else bm.text,
            audience=bm.audience,
        )
        for bm in BookmarkFile(session).read(trainee=trainee)
        if t0 <= bm.time <= t1
    ]
