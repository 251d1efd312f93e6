"""Double-click on a readout to reach its plot: one relay for any readout widget.

Readouts are composite (a tile of labels, a value label that selects text):
the relay watches a widget and every child it has, so a double-click
anywhere on it is one ``activated(keys)``, whatever child was hit.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QWidget

PLOT_HINT = "Double-click to plot."


class DoubleClickRelay(QObject):
    """Turns a double-click on any watched widget into ``activated(keys)``.

    Owned by the GUI thread.
    """

    #: The channel keys of the readout that was double-clicked.
    activated = Signal(list)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._keys: dict[QObject, list[str]] = {}

    def watch(self, widget: QWidget, keys: list[str]) -> None:
        """Emit ``activated(keys)`` on a double-click on `widget` or its children.

        The widget's tooltip gains a line saying so.
        """
        for target in (widget, *widget.findChildren(QWidget)):
            self._keys[target] = list(keys)
            target.installEventFilter(self)
            target.destroyed.connect(self._forget)
        tip = widget.toolTip()
        if PLOT_HINT not in tip:
            widget.setToolTip(f"{tip}\n\n{PLOT_HINT}" if tip else PLOT_HINT)

    def keys_of(self, widget: QObject) -> list[str]:
        """Return the keys a double-click on `widget` plots ([] if not watched)."""
        return list(self._keys.get(widget, []))

    def _forget(self, obj: QObject) -> None:
        self._keys.pop(obj, None)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonDblClick:
            keys = self._keys.get(watched)
            if keys:
                self.activated.emit(list(keys))
                return True  # not also a word selection in a value label
        return False
