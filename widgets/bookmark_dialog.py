"""The bookmark dialog: a note at a replay time, and who may see it.

A trainer annotating a session writes two kinds of notes: hints everyone
replaying it may see, and notes that would give a trainee the answers
("expect the LiOH call here"). The second kind is offered only when the
dialog is told the author may make it (a trainer's replay, never a training
run: a trainee must neither make nor see them).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from widgets.plain_text import plain

# One line each (the dialog does not grow when the box is ticked).
EVERYONE_HINT = "Stored beside the session: everyone replaying it sees it."
TRAINERS_HINT = "Stored beside the session: never shown in a training run."


def note_buttons(
    dialog: QDialog, text: QLineEdit
) -> tuple[QDialogButtonBox, QPushButton]:
    """Return OK/Cancel for a note dialog; OK is enabled once ``text`` has words."""
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
        dialog,
    )
    ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
    ok.setEnabled(False)
    text.textChanged.connect(lambda s: ok.setEnabled(bool(s.strip())))
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons, ok


class BookmarkDialog(QDialog):
    """Asks for a bookmark's note and, for trainers, its audience; GUI thread.

    ``trainers_only`` is None when the choice is not offered. OK stays
    disabled until some text is typed; Enter in the note accepts.
    """

    def __init__(
        self,
        title: str,
        when: str,
        *,
        offer_trainers_only: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.text = QLineEdit(self)
        self.text.setPlaceholderText("e.g. CDRA fails here")
        self.text.setMinimumWidth(380)
        self.trainers_only: QCheckBox | None = None
        self.hint = plain(QLabel(EVERYONE_HINT, self))
        buttons, self.ok = note_buttons(self, self.text)
        form = QFormLayout(self)
        form.addRow(plain(QLabel(f"Bookmark at {when}", self)))
        form.addRow("Note", self.text)
        if offer_trainers_only:
            box = QCheckBox("Trainers only (hidden from training runs)", self)
            box.setToolTip(
                "For notes that would give a trainee the answers: shown in "
                "replays, never in a --training run of this session"
            )
            box.toggled.connect(self._on_audience)
            self.trainers_only = box
            form.addRow("", box)
        form.addRow(self.hint)
        form.addRow(buttons)
        # Tab goes note -> trainers only -> OK: the box was made after the buttons.
        if self.trainers_only is not None:
            QWidget.setTabOrder(self.text, self.trainers_only)
            QWidget.setTabOrder(self.trainers_only, self.ok)

    def _on_audience(self, trainers: bool) -> None:
        self.hint.setText(TRAINERS_HINT if trainers else EVERYONE_HINT)

    def accept(self) -> None:
        if self.note():
            super().accept()

    def note(self) -> str:
        """Return the note typed (stripped)."""
        return self.text.text().strip()

    def is_trainers_only(self) -> bool:
        """Tell whether the author chose trainers only (False when not offered)."""
        return self.trainers_only is not None and self.trainers_only.isChecked()
