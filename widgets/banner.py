"""Full-width banner for modes and emergencies (REPLAY, TRAINING, SPE shelter)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QWidget

from widgets.fit_label import FitLabel
from widgets.levels import Level, style_level
from widgets.plain_text import plain


class Banner(QFrame):
    """A level-coloured strip with a bold message and optional detail text.

    Hidden until `set_message`; `clear` hides it again. Meant to sit at the top
    of every window, so that REPLAY or TRAINING can never be mistaken for live
    data and an SPE shelter call cannot be missed. Owned by the GUI thread.
    """

    def __init__(self, parent: QWidget | None = None, *, wrap: bool = True) -> None:
        super().__init__(parent)
        self._level = Level.NO_DATA
        # Scaled down rather than cut when the strip is narrow: "SHELTER IN
        # SM RECOMMENDED" must be read whole.
        self._text = FitLabel("", self, whole=True)
        self._text.setObjectName("bannerText")
        # ``wrap=False`` keeps the strip one line high (the window header on
        # a small screen): the detail is elided, whole in its tooltip.
        self._detail: QLabel = plain(QLabel("", self)) if wrap else FitLabel("", self)
        self._detail.setObjectName("bannerDetail")
        self._detail.setWordWrap(wrap)
        if wrap:
            self._detail.setTextInteractionFlags(
                Qt.TextInteractionFlag.TextSelectableByMouse
            )
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 5, 12, 5)
        row.setSpacing(16)
        row.addWidget(self._text)
        row.addWidget(self._detail, 1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        style_level(self._level, self, self._text, self._detail)
        self.hide()

    def set_message(self, text: str, level: Level, detail: str = "") -> None:
        """Show `text` (and `detail`) in the colour of `level`."""
        self._text.setText(text)
        self._detail.setText(detail)
        self._detail.setVisible(bool(detail))
        self.setAccessibleName(f"{level.label}: {text}")
        if level is not self._level:
            self._level = level
            style_level(level, self, self._text, self._detail)
        self.show()

    def clear(self) -> None:
        """Hide the banner."""
        self._text.setText("")
        self._detail.setText("")
        self.hide()

    def text(self) -> str:
        """Return the message shown ('' when cleared)."""
        return self._text.text()

    def detail(self) -> str:
        """Return the detail text shown ('' if none)."""
        return self._detail.text()

    def level(self) -> Level:
        """Return the level of the message shown last."""
        return self._level

    def is_shown(self) -> bool:
        """Tell whether a message is set (whether or not the parent is visible)."""
        return not self.isHidden()
