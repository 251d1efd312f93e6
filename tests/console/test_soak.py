"""Crash guards for the Qt binding: the soak run and a reference-count probe.

PySide6 6.12.0 on Python 3.11 over-releases True/None on every Signal.emit and
Python paint override, which aborts the interpreter within seconds of
plotting. These tests would catch that (or a similar binding regression).
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

if TYPE_CHECKING:
    from pathlib import Path

    from pytestqt.qtbot import QtBot


class _Emitter(QtCore.QObject):
    sig = QtCore.Signal(object)


class _Painted(QtWidgets.QWidget):
    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        painter = QtGui.QPainter(self)
        painter.drawLine(0, 0, 10, 10)
        painter.end()


def test_binding_does_not_leak_references_to_true_or_none(qtbot: QtBot) -> None:
    spare = [True] * 4000 + [
        None
    ] * 4000  # keep a leaking build alive through the check
    emitter = _Emitter()
    emitter.sig.connect(lambda value: None)
    before = sys.getrefcount(True)
    for _ in range(1000):
        emitter.sig.emit(1)
    assert sys.getrefcount(True) - before > -500
    widget = _Painted()
    qtbot.addWidget(widget)
    widget.resize(50, 50)
    widget.grab()
    before = sys.getrefcount(None)
    for _ in range(1000):
        widget.grab()
    assert sys.getrefcount(None) - before > -500
    del spare


@pytest.mark.soak
def test_demo_console_runs_30_s_at_full_refresh_without_crashing(
    tmp_path: Path,
) -> None:
    """The real entry point, simulator included, redrawing every panel for 30 s."""
    shot = tmp_path / "soak.png"
    env = dict(
        os.environ, QT_QPA_PLATFORM="offscreen", KIBO_DATA_DIR=str(tmp_path / "data")
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "console",
            "--demo",
            "--archive",
            str(tmp_path / "soak.sqlite"),
            "--refresh-hz",
            "30",
            "--quit-after",
            "30",
            "--screenshot",
            str(shot),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert "Fatal Python error" not in proc.stderr
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert shot.stat().st_size > 10_000
