"""Audible alarms: a tone per severity, repeated while alarms stay unacknowledged.

The tones are WAV files in ``resources/sounds/`` (made by
``scripts/make_tones.py``). Without an audio device (a CI runner, a remote
session) the console says "audio unavailable" and carries on silently.
"""

from __future__ import annotations

import importlib
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, QProcess, QUrl, Signal

from telemetry.core.severity import Severity

if TYPE_CHECKING:
    from collections.abc import Callable

    from telemetry.core.alarms import AlarmBook

SOUND_DIR = Path(__file__).resolve().parents[1] / "resources" / "sounds"
# Seconds between repeats while the worst unacknowledged alarm is at that
# level; None = once per new alarm (a watch is advice, not a call to act).
REPEAT_S: dict[Severity, float | None] = {
    Severity.CRITICAL: 2.5,
    Severity.WARNING: 6.0,
    Severity.WATCH: None,
}
SILENCE_CHOICES_MIN = (2.0, 5.0)
_FILES = {
    Severity.CRITICAL: "critical",
    Severity.WARNING: "warning",
    Severity.WATCH: "watch",
}


class TonePlayer(Protocol):
    """Plays one tone per severity; ``available`` False means it never will."""

    available: bool
    note: str

    def play(self, severity: Severity) -> None: ...

    def stop(self) -> None: ...


class NullPlayer:
    """Plays nothing and says why; owned by the GUI thread."""

    def __init__(self, note: str) -> None:
        self.available = False
        self.note = note

    def play(self, severity: Severity) -> None:
        pass

    def stop(self) -> None:
        pass


def audio_device_present() -> bool:
    """Best guess whether this machine can make a sound at all.

    Asking a sound server that is not there makes Qt and ALSA log warnings,
    so the console looks for a device or a sound-server socket first.
    """
    if os.environ.get("KIBO_AUDIO", "").lower() in ("0", "off", "no"):
        return False
    if sys.platform != "linux":
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    sockets = (
        [Path(runtime, "pulse", "native"), Path(runtime, "pipewire-0")]
        if runtime
        else []
    )
    return Path("/dev/snd").is_dir() or any(p.exists() for p in sockets)


class QtSoundPlayer:
    """QSoundEffect per severity (needs the QtMultimedia module); GUI thread."""

    def __init__(self, sound_dir: Path, parent: QObject) -> None:
        module: Any = importlib.import_module("PySide6.QtMultimedia")
        if not module.QMediaDevices.audioOutputs():
            raise RuntimeError("no audio output device")
        self.available = True
        self.note = "audio: Qt Multimedia"
        self._effects: dict[Severity, Any] = {}
        for severity, name in _FILES.items():
            effect = module.QSoundEffect(parent)
            effect.setSource(QUrl.fromLocalFile(str(sound_dir / f"{name}.wav")))
            effect.setVolume(0.8)
            self._effects[severity] = effect

    def play(self, severity: Severity) -> None:
        effect = self._effects.get(severity)
        if effect is None:
            return
        if effect.status() == effect.Status.Error:
            self.available = False
            self.note = "audio unavailable: tone could not be loaded"
            return
        for other in self._effects.values():
            other.stop()
        effect.play()

    def stop(self) -> None:
        for effect in self._effects.values():
            effect.stop()


class ProcessPlayer:
    """Plays WAVs with the system's player (pw-play, paplay or aplay); GUI thread.

    Used when the Qt binding has no QtMultimedia (PySide6-Essentials). The
    player runs as a child process through QProcess, so nothing blocks; a
    failing player (no device) turns the annunciator into "unavailable".
    """

    PROGRAMS: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("pw-play", ()),
        ("paplay", ()),
        ("aplay", ("-q",)),
    )

    def __init__(self, sound_dir: Path, parent: QObject) -> None:
        found = next(
            (
                (path, args)
                for name, args in self.PROGRAMS
                if (path := shutil.which(name))
            ),
            None,
        )
        if found is None:
            raise RuntimeError("no audio player program (pw-play, paplay, aplay)")
        self._program, self._args = found
        self._dir = sound_dir
        self._parent = parent
        self._process: QProcess | None = None
        self.available = True
        self.note = f"audio: {Path(self._program).name}"

    def play(self, severity: Severity) -> None:
        if not self.available or severity not in _FILES:
            return
        if (
            self._process is not None
            and self._process.state() != QProcess.ProcessState.NotRunning
        ):
            return  # the previous tone is still playing; do not pile them up
        process = QProcess(self._parent)
        process.finished.connect(
            lambda code, _status, p=process: self._finished(p, code)
        )
        process.start(
            self._program, [*self._args, str(self._dir / f"{_FILES[severity]}.wav")]
        )
        self._process = process

    def _finished(self, process: QProcess, code: int) -> None:
        if code != 0:
            err = bytes(process.readAllStandardError().data()).decode(errors="replace")
            first = err.strip().splitlines()[0] if err.strip() else f"exit {code}"
            self.available = False
            self.note = f"audio unavailable: {first[:80]}"
        if self._process is process:
            self._process = None
        process.deleteLater()

    def stop(self) -> None:
        process = self._process
        if process is not None and process.state() != QProcess.ProcessState.NotRunning:
            process.kill()
            process.waitForFinished(1000)
        self._process = None


def select_player(sound_dir: Path, parent: QObject) -> TonePlayer:
    """Return the first player that can work here, or a NullPlayer saying why not."""
    if not audio_device_present():
        return NullPlayer("audio unavailable: no audio output device")
    reasons = []
    for kind in (QtSoundPlayer, ProcessPlayer):
        try:
            player: TonePlayer = kind(sound_dir, parent)
        except (ImportError, RuntimeError, AttributeError) as exc:
            reasons.append(str(exc))
            continue
        return player
    return NullPlayer(f"audio unavailable: {reasons[-1] if reasons else 'unknown'}")


class Annunciator(QObject):
    """Sounds the worst unacknowledged, unshelved alarm; owned by the GUI thread.

    ``update(now)`` is called by the window's refresh. Silencing lasts a set
    time (wall clock, so a fast replay does not shorten it) and is broken by a
    new alarm worse than the one silenced. ``state_changed`` carries the text
    for the header.
    """

    state_changed = Signal(str)

    def __init__(
        self,
        alarms: AlarmBook,
        *,
        player: TonePlayer | None = None,
        sound_dir: Path = SOUND_DIR,
        monotonic: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.alarms = alarms
        self.player: TonePlayer = (
            player if player is not None else select_player(sound_dir, self)
        )
        self._monotonic = monotonic
        self._sounding = Severity.NOMINAL
        self._last_play = -math.inf
        self._raised = alarms.raised_total
        self._silenced_until = -math.inf
        self._silenced_level = Severity.NOMINAL
        self._text = ""
        self.played: list[Severity] = []  # what was sounded, newest last (bounded)

    # ---- state -----------------------------------------------------------

    @property
    def available(self) -> bool:
        return self.player.available

    @property
    def sounding(self) -> Severity:
        """The level being annunciated now (NOMINAL when quiet or silenced)."""
        return Severity.NOMINAL if self.silenced() else self._sounding

    def silenced(self) -> bool:
        return self._monotonic() < self._silenced_until

    def silence_remaining(self) -> float:
        return max(0.0, self._silenced_until - self._monotonic())

    def status_text(self) -> str:
        if not self.player.available:
            return self.player.note
        if self.silenced():
            left = int(self.silence_remaining() + 0.999)
            return f"🔇 silenced {left // 60}:{left % 60:02d}"
        if self._sounding > Severity.NOMINAL:
            return f"🔊 {self._sounding.name.lower()}"
        return "🔈 audio armed"

    # ---- operator actions ------------------------------------------------

    def silence(self, minutes: float, now: float) -> None:
        """Mute for ``minutes``; archived as an operator action."""
        self._silenced_until = self._monotonic() + minutes * 60.0
        self._silenced_level = max(self._sounding, self.alarms.unacked_severity(now))
        self.player.stop()
        self.alarms.record_action(now, "silence", "annunciator", f"{minutes:g} min")
        self._publish()

    def unsilence(self, now: float) -> None:
        if self._silenced_until == -math.inf:
            return
        self._silenced_until = -math.inf
        self._silenced_level = Severity.NOMINAL
        self._last_play = -math.inf
        self.alarms.record_action(now, "unsilence", "annunciator", "")
        self._publish()

    # ---- the loop --------------------------------------------------------

    def update(self, now: float) -> None:
        """Decide whether to sound now; ``now`` is the session clock (for shelving)."""
        level = self.alarms.unacked_severity(now)
        raised = self.alarms.raised_total
        new_alarm = raised != self._raised
        self._raised = raised
        t = self._monotonic()
        if self._silenced_until != -math.inf and t >= self._silenced_until:
            self._silenced_until = -math.inf  # timed out: sound again
            self._last_play = -math.inf
        if self.silenced():
            if level > self._silenced_level:
                self._silenced_until = -math.inf  # something worse: break the silence
            else:
                self._sounding = level
                self._publish()
                return
        if level == Severity.NOMINAL:
            if self._sounding != Severity.NOMINAL:
                self.player.stop()
            self._sounding = Severity.NOMINAL
            self._last_play = -math.inf
            self._publish()
            return
        repeat = REPEAT_S.get(level)
        due = (
            level != self._sounding
            or (repeat is not None and t - self._last_play >= repeat)
            or (repeat is None and new_alarm)
        )
        self._sounding = level
        if due:
            self._last_play = t
            self.player.play(level)
            self.played.append(level)
            del self.played[:-50]
        self._publish()

    def _publish(self) -> None:
        text = self.status_text()
        if text != self._text:
            self._text = text
            self.state_changed.emit(text)

    def shutdown(self) -> None:
        self.player.stop()
