"""The shelve dialog: how long to hide the selected alarms, and why.

Shelving hides an alarm from the list and silences it (ISA-18.2 "shelved"
state); a reason is required so the next operator and the log can tell a
known, briefed condition from an annoyance switched off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from PySide6.QtWidgets import QWidget

#: Durations offered, in minutes (the first one is preselected).
SHELVE_MINUTES = (15, 5, 30, 60, 120, 240, 480)


def duration_text(minutes: int) -> str:
    """Return ``"15 min"`` or ``"2 h"``."""
    return (
        f"{minutes // 60} h"
        if minutes >= 60 and minutes % 60 == 0
        else f"{minutes} min"
    )


class ShelveDialog(QDialog):
    """Asks for a shelving duration and a reason; owned by the GUI thread.

    OK stays disabled until a reason is typed; Enter in the reason accepts.
    """

    def __init__(
        self,
        targets: Sequence[str],
        parent: QWidget | None = None,
        *,
        minutes: Sequence[int] = SHELVE_MINUTES,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Shelve alarms")
        self.duration = QComboBox(self)
        for m in sorted(minutes):
            self.duration.addItem(duration_text(m), m)
        self.duration.setCurrentIndex(sorted(minutes).index(minutes[0]))
        self.reason = QLineEdit(self)
        self.reason.setPlaceholderText("e.g. CDRA swap in progress, briefed at DPC")
        self.reason.setMinimumWidth(360)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
            self,
        )
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Shelve")
        self.ok.setEnabled(False)
        self.reason.textChanged.connect(lambda s: self.ok.setEnabled(bool(s.strip())))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        names = ", ".join(targets[:4]) + (
            f" +{len(targets) - 4}" if len(targets) > 4 else ""
        )
        about = QLabel(f"Hide and silence {names}", self)
        about.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow(about)
        form.addRow("For", self.duration)
        form.addRow("Reason", self.reason)
        form.addRow(buttons)

    def accept(self) -> None:
        if self.reason_text():
            super().accept()

    def minutes(self) -> int:
        """Return the chosen duration in minutes."""
        return int(self.duration.currentData())

    def reason_text(self) -> str:
        """Return the reason typed (stripped)."""
        return self.reason.text().strip()
