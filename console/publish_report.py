"""What ``kibo-console sim`` and ``replay`` say on stderr: where, and that they live.

A publisher that prints nothing looks the same as one that is stuck or bound
somewhere else: the first line names the endpoint (the real port when the
command asked for ``:*``) and a heartbeat line follows every
``HEARTBEAT_S`` seconds until the publisher stops.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

HEARTBEAT_S = 30.0


class PublishReport:
    """Prints the bound endpoint and a heartbeat; its thread is ``publish-heartbeat``.

    ``bound`` is handed to the publisher as ``on_bound`` (called on the
    publisher's thread); ``stop`` ends the heartbeat and prints nothing more.
    """

    def __init__(
        self,
        command: str,
        what: str,
        *,
        connect: bool = False,
        out: TextIO | None = None,
        interval: float | None = None,
    ) -> None:
        self.command = command
        self.what = what
        self.verb = "connecting to" if connect else "publishing on"
        self.endpoint = ""
        self._out = out if out is not None else sys.stderr
        self._interval = HEARTBEAT_S if interval is None else interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = time.monotonic()

    def _say(self, text: str) -> None:
        self._out.write(f"kibo-console {self.command}: {text}\n")
        self._out.flush()

    def bound(self, endpoint: str) -> None:
        """Say where the publisher is (first line) and start the heartbeat."""
        self.endpoint = endpoint
        self._started = time.monotonic()
        self._say(f"{self.verb} {endpoint} · {self.what} · Ctrl+C stops")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._beat, name="publish-heartbeat", daemon=True
            )
            self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            up = time.monotonic() - self._started
            self._say(f"alive · {self.verb} {self.endpoint} · up {up:.0f} s")

    def stop(self) -> None:
        """End the heartbeat (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
