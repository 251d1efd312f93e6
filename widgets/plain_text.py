"""Telemetry text is shown as plain text, never interpreted as markup.

A source or channel name, an enum state or a bookmark note comes from a
publisher or an operator; Qt labels and tool tips interpret anything that
looks like HTML (a source named ``<h1>x</h1>`` rendered as a heading). Every
label that may show such text is made plain, and every tool tip built from
it is escaped. Functions only; called on the GUI thread.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel

# A tool tip starting with this tag is rich text for Qt (so it never guesses);
# ``white-space: pre`` keeps the plain text's line breaks and spacing.
_TIP_OPEN = "<p style='white-space:pre'>"


def plain(label: QLabel) -> QLabel:
    """Make ``label`` show its text literally (``Qt.TextFormat.PlainText``)."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def tip(text: str) -> str:
    """Return ``text`` as a tool tip that Qt shows literally, line breaks kept."""
    if not text:
        return ""
    return f"{_TIP_OPEN}{html.escape(text)}</p>"


def markup(text: str) -> str:
    """Escape ``text`` for a place that always takes HTML (pyqtgraph labels)."""
    return html.escape(text)
