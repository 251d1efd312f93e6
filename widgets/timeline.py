"""Replay timeline: a session's extent with periods, alarms, events and bookmarks.

Draws only what it is given (times, spans, labels, ``Level``s), the replay
cursor and the loop range; a click or a drag asks for a seek with
``seek_requested(t)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from widgets.levels import Level, palette
from widgets.plain_text import tip

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from PySide6.QtGui import QPaintEvent, QResizeEvent

LANE_H = 14
AXIS_H = 18
TOP = 3
RIGHT = 12
SNAP_PX = 5.0
MIN_LABEL_PX = 70.0
# Axis label steps in seconds: the first giving labels MIN_LABEL_PX apart wins.
_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
          10800, 21600, 43200, 86400, 172800, 604800)  # fmt: skip


def format_offset(seconds: float) -> str:
    """Format seconds from the start as ``+M:SS`` (``+H:MM:SS`` from an hour on)."""
    if not math.isfinite(seconds):
        return "—"
    sign = "-" if seconds < 0 else "+"
    # Truncated as a clock is (T+3:12.6 reads +3:12, with the UTC clock);
    # the epsilon absorbs float noise in differences of epoch times.
    whole = int(abs(seconds) + 1e-6)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{sign}{h}:{m:02d}:{s:02d}" if h else f"{sign}{m}:{s:02d}"


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One mark: an instant (a tick, or a flag) or a span; immutable, any thread.

    ``lane`` is the row it is drawn in (see ``Timeline.set_lanes``). Ticks
    and spans take the colour of ``level``; flags (bookmarks) are drawn in
    the theme's accent colour, since a bookmark is not a limit state. A
    ``restricted`` flag (a note for a narrower audience, e.g. trainers only)
    is drawn hollow on a dashed pole, its label in italics, so whoever sees
    it can tell it apart from the notes everyone sees.
    """

    time: float
    label: str
    level: Level = Level.NO_DATA
    lane: int = 0
    end: float | None = None  # a span from ``time`` to ``end``
    flag: bool = False
    restricted: bool = False


class Timeline(QWidget):
    """Lanes of marks over a session's time axis, a cursor and a loop range.

    Owned by the GUI thread. The static part (lanes, marks, axis) is drawn
    once into a pixmap and reused until the marks, range or size change, so
    moving the cursor at the refresh rate costs one blit and two lines.
    ``seek_requested(t)`` is emitted on a click (snapped to a mark of that
    lane within ``SNAP_PX``) and while dragging; during a drag the cursor
    follows the pointer rather than ``set_cursor`` (``cursor_time``).
    """

    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        self.setAccessibleName("Replay timeline")
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._start = 0.0
        self._end = 1.0
        self._lanes: tuple[str, ...] = ("",)
        self._items: list[TimelineItem] = []
        self._cursor = math.nan
        self._loop: tuple[float | None, float | None] = (None, None)
        self._drag: float | None = None
        self._last_emit_x: float | None = None
        self._static: QPixmap | None = None
        self._format_time: Callable[[float], str] | None = None
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        self._small = font
        self._gutter = 8
        self._update_gutter()
        self.setFixedHeight(self._height())

    # ------------------------------------------------------------- inputs

    def set_range(self, start: float, end: float) -> None:
        """Set the time axis: the session's first and last sample times."""
        if (start, end) != (self._start, self._end):
            self._start, self._end = float(start), float(end)
            self._invalidate()

    def set_lanes(self, names: Sequence[str]) -> None:
        """Name the rows, top to bottom (an item's ``lane`` indexes this)."""
        lanes = tuple(names) or ("",)
        if lanes != self._lanes:
            self._lanes = lanes
            self._update_gutter()
            self.setFixedHeight(self._height())
            self._invalidate()

    def set_marks(self, items: Iterable[TimelineItem]) -> None:
        """Replace every mark."""
        self._items = list(items)
        self._invalidate()

    def set_cursor(self, t: float) -> None:
        """Move the replay cursor (redraws only when it moves a pixel)."""
        before = self.x_of(self._cursor) if math.isfinite(self._cursor) else None
        self._cursor = float(t)
        after = self.x_of(self._cursor) if math.isfinite(self._cursor) else None
        if before is None or after is None or round(before) != round(after):
            self.update()

    def set_loop(self, t0: float | None, t1: float | None = None) -> None:
        """Show the loop range; one end alone is shown as a pending marker."""
        loop = (t0, t1)
        if loop != self._loop:
            self._loop = loop
            self.update()

    def set_time_formatter(self, fmt: Callable[[float], str] | None) -> None:
        """Format absolute times in tooltips (e.g. UTC); offsets are always shown."""
        self._format_time = fmt

    # ------------------------------------------------------------ reading

    def start(self) -> float:
        return self._start

    def end(self) -> float:
        return self._end

    def cursor_time(self) -> float:
        """Return the cursor as drawn: the drag position while dragging."""
        return self._drag if self._drag is not None else self._cursor

    def loop(self) -> tuple[float | None, float | None]:
        return self._loop

    def marks(self) -> list[TimelineItem]:
        return list(self._items)

    def lanes(self) -> tuple[str, ...]:
        return self._lanes

    def plot_rect(self) -> QRectF:
        """Return the area of the lanes (the axis is below it)."""
        return QRectF(
            float(self._gutter),
            float(TOP),
            max(1.0, float(self.width() - self._gutter - RIGHT)),
            float(len(self._lanes) * LANE_H),
        )

    def lane_rect(self, lane: int) -> QRectF:
        plot = self.plot_rect()
        return QRectF(plot.left(), plot.top() + lane * LANE_H, plot.width(), LANE_H)

    def x_of(self, t: float) -> float:
        """Return the x (widget pixels) of sample time ``t``, unclamped."""
        plot = self.plot_rect()
        span = max(self._end - self._start, 1e-9)
        return plot.left() + (t - self._start) / span * plot.width()

    def time_at(self, x: float) -> float:
        """Return the sample time under x, clamped to the range."""
        plot = self.plot_rect()
        frac = (x - plot.left()) / plot.width()
        frac = min(max(frac, 0.0), 1.0)
        return self._start + frac * (self._end - self._start)

    def lane_at(self, y: float) -> int | None:
        plot = self.plot_rect()
        if not plot.top() <= y < plot.bottom():
            return None
        return int((y - plot.top()) // LANE_H)

    def items_at(self, x: float, y: float) -> list[TimelineItem]:
        """Return the marks under a point: in its lane, ticks within ``SNAP_PX``."""
        lane = self.lane_at(y)
        if lane is None:
            return []
        found = []
        for item in self._items:
            if item.lane != lane:
                continue
            x0 = self.x_of(item.time)
            if item.end is not None:
                x1 = self.x_of(item.end)
                if x0 - SNAP_PX <= x <= max(x1, x0 + 2.0) + SNAP_PX:
                    found.append(item)
            elif abs(x0 - x) <= SNAP_PX:
                found.append(item)
        return found

    def snap(self, x: float, y: float) -> float:
        """Return the time a click at (x, y) seeks to: a mark's if one is near."""
        near = [
            (abs(self.x_of(item.time) - x), item.time)
            for item in self.items_at(x, y)
            if abs(self.x_of(item.time) - x) <= SNAP_PX
        ]
        return min(near)[1] if near else self.time_at(x)

    def tooltip_text(self, x: float, y: float) -> str:
        """Return the hover text at (x, y): the marks there and the time."""
        lines = []
        for item in self.items_at(x, y)[:12]:
            when = self._describe(item.time)
            if item.end is not None:
                when += f" – {self._describe(item.end)}"
            lines.append(f"{when}  {item.label}")
        t = self.snap(x, y)
        lines.append(f"click to go to {self._describe(t)}")
        return "\n".join(lines)

    def sizeHint(self) -> QSize:
        return QSize(600, self._height())

    def minimumSizeHint(self) -> QSize:
        return QSize(200, self._height())

    # ------------------------------------------------------------- mouse

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            super().mousePressEvent(event)
            return
        pos = event.position()
        t = self.snap(pos.x(), pos.y())
        self._drag = t
        self._last_emit_x = pos.x()
        self.update()
        self.seek_requested.emit(t)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag is None or not event.buttons() & Qt.MouseButton.LeftButton:
            super().mouseMoveEvent(event)
            return
        x = event.position().x()
        if self._last_emit_x is not None and abs(x - self._last_emit_x) < 1.0:
            return
        self._last_emit_x = x
        self._drag = self.time_at(x)
        self.update()
        self.seek_requested.emit(self._drag)
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._drag is None:
            super().mouseReleaseEvent(event)
            return
        # The driver's cursor is where the last seek went; draw it from now on.
        self._cursor = self._drag
        self._drag = None
        self._last_emit_x = None
        self.update()
        event.accept()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            QToolTip.showText(
                event.globalPos(), tip(self.tooltip_text(event.x(), event.y())), self
            )
            return True
        return super().event(event)

    # ----------------------------------------------------------- painting

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._invalidate()

    def paintEvent(self, event: QPaintEvent | None) -> None:
        if self._static is None or self._static.size() != self._pixel_size():
            self._static = self._render_static()
        p = QPainter(self)
        p.drawPixmap(0, 0, self._static)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._paint_loop(p)
        self._paint_cursor(p)
        p.end()

    def _pixel_size(self) -> QSize:
        ratio = self.devicePixelRatioF()
        return QSize(
            max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio))
        )

    def _render_static(self) -> QPixmap:
        pix = QPixmap(self._pixel_size())
        pix.setDevicePixelRatio(self.devicePixelRatioF())
        pal = palette()
        pix.fill(pal.color("plot_bg"))
        p = QPainter(pix)
        p.setFont(self._small)
        plot = self.plot_rect()
        for i, name in enumerate(self._lanes):
            lane = self.lane_rect(i)
            if i % 2 == 0:
                p.fillRect(lane, pal.color("panel"))
            p.setPen(pal.color("text_dim"))
            p.drawText(
                QRectF(4.0, lane.top(), self._gutter - 8.0, LANE_H),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                name,
            )
        self._paint_axis(p, plot)
        p.setClipRect(plot.adjusted(-1.0, 0.0, 1.0, 0.0))
        self._paint_items(p)
        p.end()
        return pix

    def _paint_axis(self, p: QPainter, plot: QRectF) -> None:
        pal = palette()
        span = self._end - self._start
        base = plot.bottom()
        p.setPen(QPen(pal.color("border"), 1.0))
        p.drawLine(QPointF(plot.left(), base), QPointF(plot.right(), base))
        if not span > 0:
            return
        step = next(
            (s for s in _STEPS if s / span * plot.width() >= MIN_LABEL_PX),
            _STEPS[-1],
        )
        metrics = QFontMetrics(self._small)
        k = 0
        while k * step <= span + 1e-9:
            x = self.x_of(self._start + k * step)
            p.setPen(QPen(pal.color("grid"), 1.0))
            p.drawLine(QPointF(x, plot.top()), QPointF(x, base + 3.0))
            text = format_offset(k * step)
            width = metrics.horizontalAdvance(text)
            left = min(max(x - width / 2, plot.left() - 4), self.width() - width - 2.0)
            p.setPen(pal.color("text_dim"))
            p.drawText(QPointF(left, base + 4.0 + metrics.ascent()), text)
            k += 1

    def _paint_items(self, p: QPainter) -> None:
        pal = palette()
        plot = self.plot_rect()
        # Spans under ticks, worse levels over milder ones, flags on top.
        order = sorted(
            self._items,
            key=lambda i: (i.flag, i.end is None, i.level.rank, i.time),
        )
        shown = [
            i
            for i in order
            if 0 <= i.lane < len(self._lanes)
            and (i.end if i.end is not None else i.time) >= self._start
            and i.time <= self._end
        ]
        # A flag's label runs up to the next flag of its lane.
        flags = sorted((i.time, i.lane) for i in shown if i.flag)
        room: dict[tuple[float, int], float] = {}
        for k, (t, row) in enumerate(flags):
            later = [u for u, other in flags[k + 1 :] if other == row and u > t]
            room[(t, row)] = self.x_of(later[0]) if later else plot.right()
        for item in shown:
            lane = self.lane_rect(item.lane).adjusted(0.0, 2.0, 0.0, -2.0)
            x0 = self.x_of(item.time)
            if item.flag:
                self._paint_flag(p, x0, lane, pal.color("accent"), item.restricted)
                label = QRectF(x0 + 9.0, lane.top() - 2.0, 0.0, lane.height() + 4.0)
                label.setRight(room[(item.time, item.lane)] - 6.0)
                self._paint_label(
                    p,
                    label,
                    item.label,
                    pal.color("text_dim"),
                    italic=item.restricted,
                )
            elif item.end is not None:
                x1 = max(self.x_of(item.end), x0 + 2.0)
                rect = QRectF(x0, lane.top(), x1 - x0, lane.height())
                p.fillRect(rect, item.level.brush(90))
                p.setPen(QPen(item.level.color, 1.0))
                p.drawRect(rect)
                label = rect.adjusted(5.0, -2.0, -4.0, 2.0)
                label.setRight(min(label.right(), plot.right() - 4.0))
                self._paint_label(p, label, item.label, pal.color("text"))
            else:
                p.fillRect(
                    QRectF(x0 - 1.5, lane.top(), 3.0, lane.height()), item.level.color
                )

    def _paint_label(
        self,
        p: QPainter,
        rect: QRectF,
        text: str,
        color: QColor,
        *,
        italic: bool = False,
    ) -> None:
        """Draw ``text`` in ``rect``, elided to fit; nothing if not even "a…" fits."""
        font = QFont(self._small)
        font.setItalic(italic)
        metrics = QFontMetrics(font)
        if rect.width() < metrics.horizontalAdvance("a…") + 2:
            return
        elided = metrics.elidedText(
            text, Qt.TextElideMode.ElideRight, int(rect.width())
        )
        p.save()
        p.setFont(font)
        p.setPen(color)
        p.drawText(
            rect,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            elided,
        )
        p.restore()

    @staticmethod
    def _paint_flag(
        p: QPainter, x: float, lane: QRectF, color: QColor, hollow: bool = False
    ) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        style = Qt.PenStyle.DashLine if hollow else Qt.PenStyle.SolidLine
        p.setPen(QPen(color, 1.5, style))
        p.drawLine(QPointF(x, lane.top() - 1.0), QPointF(x, lane.bottom() + 1.0))
        flag = QPainterPath(QPointF(x, lane.top() - 1.0))
        flag.lineTo(x + 7.0, lane.top() + 2.5)
        flag.lineTo(x, lane.top() + 6.0)
        flag.closeSubpath()
        if hollow:
            p.setPen(QPen(color, 1.2))
            p.drawPath(flag)
        else:
            p.fillPath(flag, color)
        p.restore()

    def _paint_loop(self, p: QPainter) -> None:
        t0, t1 = self._loop
        if t0 is None and t1 is None:
            return
        plot = self.plot_rect()
        accent = palette().color("accent")
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self._paint_loop_marks(p, plot, accent, t0, t1)
        p.restore()

    def _paint_loop_marks(
        self,
        p: QPainter,
        plot: QRectF,
        accent: QColor,
        t0: float | None,
        t1: float | None,
    ) -> None:
        if t0 is not None and t1 is not None:
            x0, x1 = sorted((float(round(self.x_of(t0))), float(round(self.x_of(t1)))))
            band = QColor(accent)
            band.setAlpha(55)
            p.fillRect(QRectF(x0, plot.top(), x1 - x0, plot.height()), band)
            p.setPen(QPen(accent, 2.0))
            for x, inward in ((x0, 5.0), (x1, -5.0)):
                p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
                p.drawLine(QPointF(x, plot.top()), QPointF(x + inward, plot.top()))
                p.drawLine(
                    QPointF(x, plot.bottom()), QPointF(x + inward, plot.bottom())
                )
            return
        t = t0 if t0 is not None else t1
        assert t is not None
        x = float(round(self.x_of(t)))
        pen = QPen(accent, 2.0, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))

    def _paint_cursor(self, p: QPainter) -> None:
        t = self.cursor_time()
        if not math.isfinite(t):
            return
        pal = palette()
        plot = self.plot_rect()
        # Whole pixels and no antialiasing: a crisp 2-px line, not a blur.
        x = float(round(min(max(self.x_of(t), plot.left()), plot.right())))
        color = pal.color("text")
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        p.fillRect(QRectF(x - 1.0, plot.top(), 2.0, plot.height() + 2.0), color)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        handle = QPainterPath(QPointF(x - 5.0, 0.0))
        handle.lineTo(x + 5.0, 0.0)
        handle.lineTo(x, 6.0)
        handle.closeSubpath()
        p.fillPath(handle, color)
        # The cursor's own time on the axis, over the tick labels it hides.
        p.setFont(self._small)
        metrics = QFontMetrics(self._small)
        text = format_offset(t - self._start)
        width = metrics.horizontalAdvance(text) + 8.0
        left = min(max(x - width / 2, 0.0), self.width() - width)
        box = QRectF(left, plot.bottom() + 2.0, width, metrics.height() + 1.0)
        p.fillRect(box, color)
        p.setPen(pal.color("plot_bg"))
        p.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)

    # ------------------------------------------------------------ helpers

    def _describe(self, t: float) -> str:
        text = f"T{format_offset(t - self._start)}"
        if self._format_time is not None:
            text += f" ({self._format_time(t)})"
        return text

    def _height(self) -> int:
        return TOP + len(self._lanes) * LANE_H + AXIS_H

    def _update_gutter(self) -> None:
        metrics = QFontMetrics(self._small)
        widest = max((metrics.horizontalAdvance(n) for n in self._lanes), default=0)
        self._gutter = widest + 14

    def _invalidate(self) -> None:
        self._static = None
        self.update()
