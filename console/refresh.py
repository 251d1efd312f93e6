"""The one timer that redraws the console at a fixed rate.

Data threads never push to the GUI; this loop pulls from the store at
``refresh_hz`` and lets each visible panel redraw what changed.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PySide6.QtCore import QObject, QTimer

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)


class Refreshable(Protocol):
    """A panel that pulls its data from the context when asked."""

    def refresh(self, now: float) -> None: ...

    def isVisible(self) -> bool: ...


class RefreshLoop(QObject):
    """Drives every panel's ``refresh(now)``; owned by the GUI thread.

    Keeps the last frame times so the status bar and ``bench gui`` can show
    the real redraw cost.
    """

    def __init__(
        self,
        panels: Callable[[], Sequence[Refreshable]],
        clock: Callable[[], float],
        refresh_hz: float = 20.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._panels = panels
        self._clock = clock
        self.frame_ms: deque[float] = deque(maxlen=600)
        self.frames = 0
        self.errors = 0
        self.last_error = ""
        self._timer = QTimer(self)
        self._timer.setInterval(max(1, round(1000.0 / refresh_hz)))
        self._timer.timeout.connect(self.tick)

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def tick(self) -> None:
        started = time.perf_counter()
        now = self._clock()
        for panel in self._panels():
            if not panel.isVisible():
                continue
            try:
                panel.refresh(now)
            except Exception as exc:  # one broken panel must not stop the others
                log.exception("panel %s failed to refresh", type(panel).__name__)
                self.errors += 1
                self.last_error = f"{type(panel).__name__}: {exc!r}"[:300]
        self.frames += 1
        self.frame_ms.append((time.perf_counter() - started) * 1000.0)

    def frame_stats(self) -> tuple[float, float]:
        """Return (median, p99) refresh time in ms over the recent frames."""
        if not self.frame_ms:
            return 0.0, 0.0
        values = np.fromiter(self.frame_ms, dtype=float)
        return float(np.median(values)), float(np.percentile(values, 99))
