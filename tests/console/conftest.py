"""Fixtures for the console panels: the real dictionary, a synchronous feed, a theme.

``Feed`` drives the real Pipeline with frames built by ``encode_frame`` (no
sockets, no threads), so a test ingests, calls ``dock.refresh(now)`` and
asserts what the operator would see.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from console.context import ConsoleContext
from telemetry.core.alarms import AlarmBook
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.core.pipeline import CLOCK_SLACK_S, Pipeline
from telemetry.core.wire import Frame, encode_frame
from widgets.levels import apply_theme, style_sheet

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from PySide6.QtWidgets import QApplication

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z: a fixed session start


@dataclass
class RecordingArchive:
    """Stands in for ArchiveWriter: records what it is handed; has its counters."""

    calls: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    backlog: int = 0
    dropped: int = 0
    errors: int = 0
    last_error: str = ""
    disk_full: bool = False
    file_gone: bool = False
    moved: str = ""

    def _add(self, name: str, *args: Any) -> None:
        self.calls.setdefault(name, []).append(args)

    # The pipeline's sink methods; keyword extras are accepted so the stub
    # keeps up with new optional fields.
    def put_frame(self, received: float, frame: Frame, *args: Any, **kw: Any) -> None:
        self._add("frame", received, frame.source)

    def put_samples(self, batches: Sequence[Any], **kw: Any) -> None:
        self._add("samples", len(batches))

    def put_channel(self, key: str, **kw: Any) -> None:
        self._add("channel", key)

    def put_rejected(self, *args: Any, **kw: Any) -> None:
        self._add("rejected", *args)

    def put_event(self, *args: Any, **kw: Any) -> None:
        self._add("event", *args)

    def put_transition(self, *args: Any, **kw: Any) -> None:
        self._add("transition", *args)

    def put_action(
        self, time: float, operator: str, action: str, target: str, comment: str
    ) -> None:
        self._add("action", time, operator, action, target, comment)

    def actions(self) -> list[tuple[Any, ...]]:
        return self.calls.get("action", [])


class Clock:
    """A session clock the test moves by hand."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Feed:
    """Real store + pipeline + alarm book, fed synchronously with encoded frames."""

    def __init__(
        self, dictionary: TelemetryDictionary, operator: str = "K. Tanaka"
    ) -> None:
        self.dictionary = dictionary
        self.archive = RecordingArchive()
        self.store = ChannelStore(capacity=5000)
        self.alarms = AlarmBook(on_action=self.archive.put_action, operator=operator)
        # "Now" judged as a live session judges it (CLOCK_SLACK_S).
        self.pipeline = Pipeline(
            dictionary,
            self.store,
            self.alarms,
            self.archive,
            clock_slack_s=CLOCK_SLACK_S,
        )
        self.clock = Clock()
        self.context = ConsoleContext(
            dictionary=dictionary,
            store=self.store,
            alarms=self.alarms,
            clock=self.clock,
            archive=self.archive,
        )
        self._seq: dict[str, int] = {}

    def send(
        self,
        family: str,
        source: str,
        times: Sequence[float],
        received: float | None = None,
        **columns: Sequence[Any],
    ) -> None:
        """Ingest one message received at ``received`` (default: its last sample time).

        The clock moves to the receive time.
        """
        seq = self._seq.get(source, 0)
        self._seq[source] = seq + 1
        parts = encode_frame(family, source, seq, list(times), dict(columns))
        at = float(times[-1]) if received is None else received
        self.clock.t = max(self.clock.t, at)
        self.pipeline.ingest(parts, received=at)

    def each_second(
        self, family: str, source: str, t0: float, n: int, **columns: Any
    ) -> list[float]:
        """Send ``n`` one-row messages at 1 Hz; each column is n values or one."""
        times = [t0 + i for i in range(n)]
        for i, t in enumerate(times):
            row = {k: [v[i] if isinstance(v, list) else v] for k, v in columns.items()}
            self.send(family, source, [t], **row)
        return times

    def robot(self, source: str, t0: float, n: int = 1, **columns: Any) -> list[float]:
        base: dict[str, Any] = {
            "pos_x": 3.0, "pos_y": 0.0, "pos_z": 0.0,
            "quat_x": 0.0, "quat_y": 0.0, "quat_z": 0.0, "quat_w": 1.0,
            "battery_pct": 80.0, "mode": "OPERATION", "nav_status": "FUSION",
            "ctl_type": "KEEP_POSE", "cam_power": "ON", "cam_record": "OFF",
            "cam_stream": "ON", "temp_c": 40.0,
        }  # fmt: skip
        base.update(columns)
        return self.each_second("robot", source, t0, n, **base)

    def cabin(self, t0: float, n: int = 1, **columns: Any) -> list[float]:
        base: dict[str, Any] = {
            "p_total": 760.0, "ppo2": 160.0, "ppco2": 2.1, "temp": 22.5,
            "rh": 45.0, "water_recovery": 98.0,
        }  # fmt: skip
        base.update(columns)
        return self.each_second("eclss", "jpm", t0, n, **base)


@pytest.fixture(scope="session")
def dictionary() -> TelemetryDictionary:
    """The real dictionary shipped in resources/ (part of this repository)."""
    return TelemetryDictionary.load(DEFAULT_DICTIONARY)


@pytest.fixture
def feed(dictionary: TelemetryDictionary) -> Feed:
    return Feed(dictionary)


@pytest.fixture
def console_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Layouts go to a temporary data dir; no test may touch a sound device."""
    data = tmp_path / "kibo-data"
    monkeypatch.setenv("KIBO_DATA_DIR", str(data))
    monkeypatch.setenv("KIBO_AUDIO", "off")
    return data


@pytest.fixture
def themed(qapp: QApplication) -> QApplication:
    # Setting a style sheet re-polishes every live widget: do it only once.
    if qapp.styleSheet() != style_sheet():
        apply_theme(qapp)
    return qapp
