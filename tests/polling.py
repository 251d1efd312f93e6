"""Waiting on a condition with a deadline, for end-to-end tests (never a bare sleep)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


def wait_for(
    condition: Callable[[], object], timeout: float, what: str, every: float = 0.05
) -> None:
    """Poll ``condition`` every ``every`` s until it holds; fail naming ``what``.

    Fails once ``timeout`` seconds have passed. In-process checks are cheap
    and may poll often; a check that opens an archive should not.
    """
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        threading.Event().wait(every)
