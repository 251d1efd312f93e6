"""Logging, configured once when a ``kibo-console`` command starts (main thread).

Threads log their failures with ``log.exception`` so a bug's whole traceback
reaches stderr with the thread's name, while the screen shows one line.
"""

from __future__ import annotations

import logging
import os

LEVEL_VARIABLE = "KIBO_LOG_LEVEL"
FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"


def configure_logging() -> None:
    """Send warnings and worse (or ``$KIBO_LOG_LEVEL``) to stderr, once.

    A second call, or a host (pytest) that already configured the root
    logger, changes nothing.
    """
    name = os.environ.get(LEVEL_VARIABLE, "WARNING").upper()
    level = logging.getLevelNamesMapping().get(name, logging.WARNING)
    logging.basicConfig(level=level, format=FORMAT)
