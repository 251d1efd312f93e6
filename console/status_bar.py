"""The status bar: per-source link health, archive health, the display's frame rate.

Everything here is a counter read from the store, the archive writer and the
refresh loop, redrawn at most twice a second. Before the first message it
says so: "waiting for first data from <address>", lamps turning amber after
``FIRST_DATA_GRACE_S`` and red after ``NO_DATA_ALARM_S`` of silence, each
lamp's tooltip naming its source, the wait and the address listened to.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStatusBar, QWidget

from widgets.fit_label import FitLabel
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
# A live source silent this long after the console started is amber; with
# nothing at all from any source after NO_DATA_ALARM_S, every lamp is red.
FIRST_DATA_GRACE_S = 5.0
NO_DATA_ALARM_S = 30.0
# How long a message from ``say`` stays beside the lamps.
NOTICE_MS = 8000


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
        # FitLabels: a long wait message or notice elides (whole text in the
        # tooltip) instead of widening the window past the screen.
        self.traffic = FitLabel("", self)
        # Messages (export written, ...) go here: QStatusBar.showMessage
        # would hide the link lamps while it shows.
        self.notice = FitLabel("", self)
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.timeout.connect(lambda: self.notice.setText(""))
        self._born = monotonic()
        self.archive = StatusLamp("archive", self)
        self.frame_rate = StatusLamp("refresh", self)
        self.addWidget(self._links_box)
        self.addWidget(self.traffic)
        self.addWidget(self.notice, 1)
        self.addPermanentWidget(_separator(self))
        self.addPermanentWidget(self.archive)
        self.addPermanentWidget(_separator(self))
        self.addPermanentWidget(self.frame_rate)
        self._families: dict[str, QHBoxLayout] = {}
        for source in context.dictionary.sources.values():
            self._lamp(source.id, source.family)

    def set_refresh_loop(self, loop: RefreshLoop) -> None:
        self._loop = loop

    def say(self, text: str, ms: int = NOTICE_MS) -> None:
        """Show a short message beside the lamps for ``ms`` (lamps stay visible)."""
        self.notice.setText(text)
        self.notice.setToolTip(text)
        self._notice_timer.start(ms)

    def addresses(self) -> str:
        """Say where data comes from: endpoints connected to or listened on."""
        sub = self.context.subscriber
        if sub is not None:
            parts = [f"connected to {e}" for e in sub.config.connect_endpoints]
            listening = list(sub.listening_on) or list(sub.config.listen_endpoints)
            parts += [f"listening on {e}" for e in listening]
            return ", ".join(parts) or "no endpoint"
        path = self.context.archive_path
        if self.context.mode != "live" and path is not None:
            return f"replay of {path.name}"
        return "no endpoint"

    def _grace_s(self, source: str) -> float:
        """Return how long a source may be silent at start before it is amber.

        A source that sends every 10 s is not late after 5 s: the wait is at
        least the staleness time of its slowest channel.
        """
        dictionary = self.context.dictionary
        spec = dictionary.sources.get(source)
        channels = dictionary.families.get(spec.family, {}) if spec else {}
        slowest = max((c.stale_after_s for c in channels.values()), default=0.0)
        return max(FIRST_DATA_GRACE_S, slowest)

    def _waiting_level(self, waited: float, source: str | None = None) -> Level:
        """Return the level of a source never heard from, ``waited`` s after start.

        Amber (the warning colour) once past its grace, red when nothing at
        all has arrived from any source for ``NO_DATA_ALARM_S``.
        """
        grace = FIRST_DATA_GRACE_S if source is None else self._grace_s(source)
        if self.context.mode != "live" or waited < grace:
            return Level.NO_DATA
        if waited >= NO_DATA_ALARM_S and not self.context.store.sources:
            return Level.CRITICAL
        return Level.WARNING

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
        waited = t - self._born
        address = self.addresses()
        for source in self.links:
            if source not in store.sources:
                self.links[source].set_level(self._waiting_level(waited, source), "")
                self.links[source].setToolTip(
                    tip(
                        f"{source}: no message received yet ({waited:.0f} s "
                        f"since the console started)\n{address}"
                    )
                )
        reasons = ", ".join(
            f"{k} {v}" for k, v in sorted(store.rejected_by_reason.items())
        )
        sub = self.context.subscriber
        # Messages this console received and dropped itself (pipeline behind):
        # not the publisher's loss, so said apart from the gaps.
        dropped = sub.dropped if sub is not None else 0
        # Calm when all is well: counts appear only once they are non-zero.
        parts = [f"{total_rate:.0f} msg/s"]
        colour: str | None = None
        if not store.sources:
            # Nothing has arrived: say so plainly, in the colour of the wait.
            level = self._waiting_level(waited)
            if self.context.mode == "live":
                parts = [f"waiting for first data from {address} · {waited:.0f} s"]
            else:
                parts = [f"no data at the cursor yet ({address})"]
            colour = level.color.name() if level.is_abnormal else None
        if dropped:
            parts.append(f"{dropped} DROPPED by this console")
            colour = Level.CRITICAL.color.name()
        style = f"color: {colour};" if colour else ""
        if self.traffic.styleSheet() != style:
            self.traffic.setStyleSheet(style)
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
                + (
                    f"\n{sub.loss().summary()}: the pipeline was behind and the "
                    "receive queue full (see the events)"
                    if sub is not None and dropped
                    else ""
                )
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
        self._update_archive(received=bool(store.sources))
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
        elif stats.history_alarm:
            # Messages arrive, but carry only old samples: not a healthy link.
            level = Level.WARNING
            text = f"{source} OLD DATA"
        elif stats.recorded:
            # A recording sent again (kibo-console replay): never live.
            text = f"{source} REPLAY"
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
                    f"history only: {stats.late} behind newer samples · "
                    f"{stats.arrived_old} arrived old\n"
                    if stats.late or stats.arrived_old
                    else ""
                )
                + (
                    "a recording sent again (kibo-console replay), not live\n"
                    if stats.recorded
                    else ""
                )
                + (
                    f"last message {age:.1f} s ago"
                    if math.isfinite(age)
                    else "no message yet"
                )
            )
            + f"\n{self.addresses()}"
        )

    def _update_archive(self, *, received: bool = True) -> None:
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
        if archive.file_gone:
            # Removed or replaced under the writer: nothing kept from now on.
            level, text = Level.CRITICAL, "ARCHIVE FILE GONE"
        elif archive.disk_full:
            level, text = Level.CRITICAL, "ARCHIVE DISK FULL"
        elif dropped:
            level, text = Level.CRITICAL, f"archive DROPPED {dropped}"
        elif errors:
            level, text = Level.WARNING, f"archive {errors} errors"
        elif archive.moved:
            level, text = Level.WARNING, "archive file moved"
        elif not received:
            # An empty archive is not a healthy recording: never green before
            # the first message.
            level, text = Level.NO_DATA, "archive · nothing received yet"
        else:
            level, text = Level.NOMINAL, "archive ok"
        text += f" · backlog {backlog}"
        self.archive.set_level(level, text)
        path = self.context.archive_path
        last = archive.last_error
        self.archive.setToolTip(
            f"Recording to {path}\nqueue backlog {backlog} · dropped {dropped} · "
            f"write errors {errors}"
            + (f"\nlast error: {last}" if last else "")
            + (f"\n{archive.moved}" if archive.moved else "")
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
