"""The status bar: per-source link health, archive health, the display's frame rate.

Everything here is a counter read from the store, the archive writer and the
refresh loop, redrawn at most twice a second.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStatusBar, QWidget

from widgets.levels import Level, palette
from widgets.plain_text import plain, tip
from widgets.status_lamp import StatusLamp

if TYPE_CHECKING:
    from collections.abc import Callable

    from console.context import ConsoleContext
    from console.refresh import RefreshLoop
    from telemetry.core.channels import SourceStats

UPDATE_S = 0.5
# A source whose gap or rejection count grew within this many seconds is
# flagged (WATCH) so a burst of losses is seen even after the link recovers.
RECENT_TROUBLE_S = 60.0
LINK_LEVELS = {"up": Level.NOMINAL, "stale": Level.STALE, "down": Level.CRITICAL}


@dataclass
class _SourceMark:
    gaps: int = 0
    rejected: int = 0
    trouble_until: float = -math.inf


def _separator(parent: QWidget) -> QFrame:
    line = QFrame(parent)
    line.setFrameShape(QFrame.Shape.VLine)
    line.setStyleSheet(f"color: {palette().theme['border']};")
    return line


class ConsoleStatusBar(QStatusBar):
    """Link lamps, archive lamp and refresh statistics; owned by the GUI thread.

    ``refresh(now)`` is called by the RefreshLoop at its full rate and does the
    work only every ``UPDATE_S`` of wall time (``update_from`` does it now).
    """

    def __init__(
        self,
        context: ConsoleContext,
        parent: QWidget | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.context = context
        self._monotonic = monotonic
        self._next = -math.inf
        self._loop: RefreshLoop | None = None
        self._frames = (0, math.nan)  # (frame count, monotonic time) at the last update
        self._fps = 0.0
        self._marks: dict[str, _SourceMark] = {}
        self.links: dict[str, StatusLamp] = {}
        self._links_box = QWidget(self)
        self._links_row = QHBoxLayout(self._links_box)
        self._links_row.setContentsMargins(0, 0, 0, 0)
        self._links_row.setSpacing(0)
        self.traffic = plain(QLabel("", self))
        self.archive = StatusLamp("archive", self)
        self.frame_rate = StatusLamp("refresh", self)
        self.addWidget(self._links_box)
        self.addWidget(self.traffic, 1)
        self.addPermanentWidget(_separator(self))
        self.addPermanentWidget(self.archive)
        self.addPermanentWidget(_separator(self))
        self.addPermanentWidget(self.frame_rate)
        self._families: dict[str, QHBoxLayout] = {}
        for source in context.dictionary.sources.values():
            self._lamp(source.id, source.family)

    def set_refresh_loop(self, loop: RefreshLoop) -> None:
        self._loop = loop

    def _lamp(self, source: str, family: str) -> StatusLamp:
        """Return the lamp of a source, in its family's group (made on first sight).

        Lamps carry no text while their source is healthy (the tooltip has
        the numbers), so sixteen sources fit beside the archive and frame
        counters; a source in trouble spells out its name and state.
        """
        lamp = self.links.get(source)
        if lamp is None:
            group = self._families.get(family)
            if group is None:
                box = QWidget(self._links_box)
                group = QHBoxLayout(box)
                group.setContentsMargins(8, 0, 0, 0)
                group.setSpacing(0)
                label = plain(QLabel(family, box))
                label.setStyleSheet(f"color: {palette().theme['text_faint']};")
                group.addWidget(label)
                self._links_row.addWidget(box)
                self._families[family] = group
            lamp = StatusLamp("", self._links_box)
            lamp.setAccessibleName(f"link {source}")
            group.addWidget(lamp)
            self.links[source] = lamp
            self._marks[source] = _SourceMark()
        return lamp

    def refresh(self, now: float) -> None:
        t = self._monotonic()
        if t < self._next:
            return
        self._next = t + UPDATE_S
        self.update_from(now)

    def update_from(self, now: float) -> None:
        """Redraw every counter now (``now`` is the session clock)."""
        t = self._monotonic()
        store = self.context.store
        total_rate = 0.0
        gaps = missed = rejected = 0
        invented = 0
        for source, stats in list(store.sources.items()):
            if not stats.declared:
                # Sources not in the dictionary get no lamp each (a few hundred
                # junk topics would fill the bar): they are counted below.
                invented += 1
                total_rate += stats.rate_hz
                continue
            self._update_link(source, stats, now, t)
            total_rate += stats.rate_hz
            gaps += stats.gaps
            missed += stats.missed
        rejected = store.rejected_total
        for source in self.links:
            if source not in store.sources:
                self.links[source].set_level(Level.NO_DATA, "")
                self.links[source].setToolTip(tip(f"{source}: no message received yet"))
        reasons = ", ".join(
            f"{k} {v}" for k, v in sorted(store.rejected_by_reason.items())
        )
        # Calm when all is well: counts appear only once they are non-zero.
        parts = [f"{total_rate:.0f} msg/s"]
        if gaps:
            parts.append(f"{gaps} gaps ({missed} missed)")
        if rejected:
            parts.append(f"{rejected} rejected")
        if invented:
            parts.append(f"{invented} undeclared sources")
        self.traffic.setText(" · ".join(parts))
        self.traffic.setToolTip(
            tip(
                f"{total_rate:.1f} messages/s over all sources · {gaps} sequence gaps "
                f"({missed} messages missed) · {rejected} rejected"
                + (f"\nrejected by reason: {reasons}" if reasons else "")
                + (
                    f"\nundeclared channels: {len(store.undeclared)}"
                    if store.undeclared
                    else ""
                )
                + (
                    f"\nundeclared sources: {invented} now, "
                    f"{store.undeclared_sources} this session; "
                    f"{store.rejected_invented} messages from unknown names rejected"
                    if store.undeclared_sources or store.rejected_invented
                    else ""
                )
            )
        )
        self._update_archive()
        self._update_frames(t)

    def _update_link(
        self, source: str, stats: SourceStats, now: float, t: float
    ) -> None:
        lamp = self._lamp(source, stats.family)
        mark = self._marks[source]
        if stats.gaps > mark.gaps or stats.rejected > mark.rejected:
            mark.trouble_until = t + RECENT_TROUBLE_S
        mark.gaps, mark.rejected = stats.gaps, stats.rejected
        level = LINK_LEVELS.get(stats.link, Level.NO_DATA)
        if stats.last_seq < 0:
            level = Level.CRITICAL if stats.rejected else Level.NO_DATA
        text = ""
        if stats.link in ("stale", "down") and stats.last_seq >= 0:
            text = f"{source} {stats.link.upper()}"
        elif t < mark.trouble_until:
            level = Level.WATCH if level is Level.NOMINAL else level
            text = f"{source} ⚠"
        lamp.set_level(level, text)
        age = now - stats.last_received
        lamp.setToolTip(
            tip(
                f"{source} ({stats.family}): link {stats.link}\n"
                f"{stats.rate_hz:.2f} msg/s · {stats.messages} messages · "
                f"{stats.samples} samples\n"
                f"{stats.gaps} gaps ({stats.missed} missed) · "
                f"{stats.restarts} restarts · {stats.rejected} rejected\n"
                + (
                    f"last message {age:.1f} s ago"
                    if math.isfinite(age)
                    else "no message yet"
                )
            )
        )

    def _update_archive(self) -> None:
        archive = self.context.archive
        if archive is None:
            path = self.context.archive_path
            self.archive.set_level(Level.NO_DATA, "not archiving")
            self.archive.setToolTip(
                f"Reading {path.name}"
                if path is not None
                else "This session is not recorded"
            )
            return
        backlog = archive.backlog
        dropped = archive.dropped
        errors = archive.errors
        if archive.disk_full:
            level, text = Level.CRITICAL, "ARCHIVE DISK FULL"
        elif dropped:
            level, text = Level.CRITICAL, f"archive DROPPED {dropped}"
        elif errors:
            level, text = Level.WARNING, f"archive {errors} errors"
        else:
            level, text = Level.NOMINAL, "archive ok"
        text += f" · backlog {backlog}"
        self.archive.set_level(level, text)
        path = self.context.archive_path
        last = archive.last_error
        self.archive.setToolTip(
            f"Recording to {path}\nqueue backlog {backlog} · dropped {dropped} · "
            f"write errors {errors}" + (f"\nlast error: {last}" if last else "")
        )

    def _update_frames(self, t: float) -> None:
        loop = self._loop
        if loop is None:
            self.frame_rate.set_level(Level.NO_DATA, "refresh —")
            return
        count, since = self._frames
        if math.isfinite(since) and t > since:
            self._fps = (loop.frames - count) / (t - since)
        self._frames = (loop.frames, t)
        median, p99 = loop.frame_stats()
        level = Level.NOMINAL
        if p99 > 50.0 or loop.errors:
            level = Level.WARNING
        text = f"{self._fps:.0f} fps · p99 {p99:.1f} ms"
        if loop.errors:
            text += f" · {loop.errors} panel errors"
        self.frame_rate.set_level(level, text)
        self.frame_rate.setToolTip(
            f"Display refresh: median {median:.1f} ms, p99 {p99:.1f} ms per frame"
            + (f"\nlast panel error: {loop.last_error}" if loop.last_error else "")
        )
