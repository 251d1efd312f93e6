"""Shared fixtures for widget tests: offscreen Qt and the console theme."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from widgets.levels import apply_theme

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

# Read when pytest-qt creates the QApplication, i.e. after this import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def themed(qapp: QApplication) -> QApplication:
    """The QApplication with the console style sheet installed."""
    apply_theme(qapp)
    return qapp
