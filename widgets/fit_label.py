"""A one-line label that never cuts its text: it shrinks the font, then elides.

A plain QLabel in a narrow cell clips: "160" becomes "16" and reads as a
wrong number. ``FitLabel`` draws its text whole at the styled size when it
fits, else at a smaller size (down to ``MIN_SCALE`` of it), else elided with
"…" at the smallest size, and its tooltip then carries the whole text. It
also asks its layout for less width than its text, so a window can shrink.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from PySide6.QtWidgets import QLabel, QToolTip, QWidget

from widgets.plain_text import tip

if TYPE_CHECKING:
    from PySide6.QtGui import QHelpEvent, QPaintEvent

#: Smallest font, as a fraction of the styled one, before a value is elided;
#: names and notes (``whole=False``) shrink less and elide sooner, as a
#: smaller font would be hard to read.
MIN_SCALE = 0.6
NAME_MIN_SCALE = 0.85
#: Characters a FitLabel keeps visible at its minimum width (plus "…").
MIN_CHARS = 3


def text_width(font: QFont, lines: list[str]) -> int:
    """Return the width in pixels of the widest of ``lines`` in ``font``."""
    metrics = QFontMetrics(font)
    return max((metrics.horizontalAdvance(line) for line in lines), default=0)


class FitLabel(QLabel):
    """A QLabel for one line of plain text that is shown whole or marked cut.

    ``shown_text()``/``shown_font()`` say what is drawn now (tests check them
    against ``contentsRect()``); ``is_cut()`` tells whether the text was
    elided, in which case the tooltip starts with the whole text.
    ``whole=True`` (values) asks the layout for room for the whole text at
    the smallest size, so it is elided only when its whole parent is too
    narrow; otherwise (names, headings) a few characters and "…" suffice.
    Owned by the GUI thread.
    """

    def __init__(
        self, text: str = "", parent: QWidget | None = None, *, whole: bool = False
    ) -> None:
        super().__init__(text, parent)
        self._whole = whole
        self.setTextFormat(Qt.TextFormat.PlainText)
        self._fit: tuple[int, str, QFont] | None = None  # (width, text, font)
        self._shown = text

    # ---- what is drawn -------------------------------------------------------

    def _fitted(self) -> tuple[str, QFont]:
        width = max(self.contentsRect().width() - 2 * self.margin(), 0)
        text = self.text()
        cached = self._fit
        if cached is not None and cached[0] == width and cached[1] == text:
            return self._shown, cached[2]
        font = QFont(self.font())
        shown = text
        lines = text.split("\n")
        if text_width(font, lines) > width:
            base = font.pointSizeF() if font.pointSizeF() > 0 else 10.0
            size = base
            floor = base * (MIN_SCALE if self._whole else NAME_MIN_SCALE)
            while size > floor:
                size = max(floor, size - 0.5)
                font.setPointSizeF(size)
                if text_width(font, lines) <= width:
                    break
            metrics = QFontMetrics(font)
            if text_width(font, lines) > width:
                shown = "\n".join(
                    metrics.elidedText(line, Qt.TextElideMode.ElideRight, width)
                    for line in lines
                )
        self._fit = (width, text, font)
        self._shown = shown
        return shown, font

    def shown_text(self) -> str:
        """Return the text as drawn now ('…' marks a cut)."""
        return self._fitted()[0]

    def shown_font(self) -> QFont:
        """Return the font the text is drawn in now."""
        return self._fitted()[1]

    def is_cut(self) -> bool:
        """Tell whether the text is elided at the current width."""
        return self.shown_text() != self.text()

    def whole_tooltip(self) -> str:
        """Return the tooltip shown on hover (the whole text first when cut)."""
        own = self.toolTip()
        if not self.is_cut():
            return own
        # The text may come from a publisher: shown literally, never as markup.
        return tip(self.text()) + own

    # ---- Qt ------------------------------------------------------------------

    def setText(self, text: str) -> None:
        if text != self.text():
            self._fit = None
            super().setText(text)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        if self.wordWrap():
            return hint
        font = QFont(self.font())
        if font.pointSizeF() > 0:
            scale = MIN_SCALE if self._whole else NAME_MIN_SCALE
            font.setPointSizeF(font.pointSizeF() * scale)
        lines = self.text().split("\n")
        if not self._whole:
            lines = [line[:MIN_CHARS] + "…" for line in lines]
        short = text_width(font, lines) + 1
        margins = self.contentsMargins()
        width = short + margins.left() + margins.right() + 2 * self.margin()
        return QSize(min(hint.width(), width), hint.height())

    def changeEvent(self, event: QEvent) -> None:
        # A style sheet or level change may change the font.
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit = None
        super().changeEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.is_cut():
            help_event: QHelpEvent = event  # type: ignore[assignment]
            QToolTip.showText(help_event.globalPos(), self.whole_tooltip(), self)
            return True
        return super().event(event)

    def paintEvent(self, event: QPaintEvent | None) -> None:
        if self.wordWrap():
            if event is not None:
                super().paintEvent(event)
            return
        text, font = self._fitted()
        p = QPainter(self)
        p.setFont(font)
        p.setPen(self.palette().color(self.foregroundRole()))
        rect = self.contentsRect().adjusted(
            self.margin(), self.margin(), -self.margin(), -self.margin()
        )
        p.drawText(rect, int(self.alignment()), text)
        p.end()
