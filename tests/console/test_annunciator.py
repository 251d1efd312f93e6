from __future__ import annotations

import wave
from typing import TYPE_CHECKING

import pytest

from console.annunciator import SOUND_DIR, Annunciator, NullPlayer, select_player
from telemetry.core.limits import LimitTransition
from telemetry.core.severity import Severity

if TYPE_CHECKING:
    from pytestqt.qtbot import QtBot

    from telemetry.core.alarms import AlarmBook

pytestmark = pytest.mark.usefixtures("console_env")

T0 = 1_750_000_000.0


class FakePlayer:
    def __init__(self) -> None:
        self.available = True
        self.note = "audio: test"
        self.played: list[Severity] = []
        self.stops = 0

    def play(self, severity: Severity) -> None:
        self.played.append(severity)

    def stop(self) -> None:
        self.stops += 1


class Wall:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def trip(book: AlarmBook, key: str, severity: Severity, t: float = T0) -> None:
    book.raise_transition(
        LimitTransition(key, t, Severity.NOMINAL, severity, 3.0, 2.7, "high")
    )


@pytest.fixture
def rig(qtbot: QtBot) -> tuple[Annunciator, FakePlayer, Wall, AlarmBook]:
    from telemetry.core.alarms import AlarmBook

    actions: list[tuple[object, ...]] = []
    book = AlarmBook(on_action=lambda *a: actions.append(a), operator="K. Tanaka")
    book.actions = actions  # type: ignore[attr-defined]
    player = FakePlayer()
    wall = Wall()
    ann = Annunciator(book, player=player, monotonic=wall)
    return ann, player, wall, book


def test_critical_repeats_until_acknowledged(
    rig: tuple[Annunciator, FakePlayer, Wall, AlarmBook],
) -> None:
    ann, player, wall, book = rig
    ann.update(T0)
    assert player.played == []
    trip(book, "jpm.ppco2", Severity.CRITICAL)
    ann.update(T0)
    assert player.played == [Severity.CRITICAL]
    wall.t += 1.0
    ann.update(T0)
    assert len(player.played) == 1  # not before the repeat period
    wall.t += 1.6
    ann.update(T0)
    assert player.played == [Severity.CRITICAL] * 2
    assert ann.status_text() == "🔊 critical"
    book.acknowledge(["jpm.ppco2"], T0)
    wall.t += 10.0
    ann.update(T0)
    assert len(player.played) == 2
    assert ann.sounding is Severity.NOMINAL
    assert player.stops == 1


def test_worse_alarm_escalates_at_once(
    rig: tuple[Annunciator, FakePlayer, Wall, AlarmBook],
) -> None:
    ann, player, wall, book = rig
    trip(book, "jpm.rh", Severity.WARNING)
    ann.update(T0)
    wall.t += 0.5
    trip(book, "jpm.ppco2", Severity.CRITICAL)
    ann.update(T0)
    assert player.played == [Severity.WARNING, Severity.CRITICAL]


def test_watch_chimes_once_per_new_alarm(
    rig: tuple[Annunciator, FakePlayer, Wall, AlarmBook],
) -> None:
    ann, player, wall, book = rig
    trip(book, "jpm.ppco2", Severity.WATCH)
    for _ in range(5):
        ann.update(T0)
        wall.t += 30.0
    assert player.played == [Severity.WATCH]
    trip(book, "jpm.ppo2", Severity.WATCH)
    ann.update(T0)
    assert player.played == [Severity.WATCH] * 2


def test_silence_times_out_and_is_archived(
    rig: tuple[Annunciator, FakePlayer, Wall, AlarmBook],
) -> None:
    ann, player, wall, book = rig
    trip(book, "jpm.ppco2", Severity.WARNING)
    ann.update(T0)
    ann.silence(2.0, T0)
    assert book.actions == [(T0, "K. Tanaka", "silence", "annunciator", "2 min")]  # type: ignore[attr-defined]
    assert ann.status_text() == "🔇 silenced 2:00"
    for _ in range(10):
        wall.t += 10.0
        ann.update(T0)
    assert player.played == [Severity.WARNING]
    assert ann.status_text() == "🔇 silenced 0:20"
    wall.t += 25.0
    ann.update(T0)
    assert player.played == [Severity.WARNING] * 2
    assert not ann.silenced()


def test_a_worse_alarm_breaks_the_silence(
    rig: tuple[Annunciator, FakePlayer, Wall, AlarmBook],
) -> None:
    ann, player, wall, book = rig
    trip(book, "jpm.rh", Severity.WARNING)
    ann.update(T0)
    ann.silence(5.0, T0)
    trip(book, "jpm.rh2", Severity.WARNING)
    ann.update(T0)
    assert player.played == [Severity.WARNING]
    trip(book, "jpm.ppco2", Severity.CRITICAL)
    ann.update(T0)
    assert player.played == [Severity.WARNING, Severity.CRITICAL]
    assert not ann.silenced()


def test_unsilence_sounds_again(
    rig: tuple[Annunciator, FakePlayer, Wall, AlarmBook],
) -> None:
    ann, player, wall, book = rig
    trip(book, "jpm.ppco2", Severity.CRITICAL)
    ann.update(T0)
    ann.silence(2.0, T0)
    ann.unsilence(T0)
    ann.update(T0)
    assert player.played == [Severity.CRITICAL] * 2
    assert [a[2] for a in book.actions] == ["silence", "unsilence"]  # type: ignore[attr-defined]


def test_no_audio_device_degrades_to_a_note(qtbot: QtBot) -> None:
    from telemetry.core.alarms import AlarmBook

    book = AlarmBook()
    ann = Annunciator(book)  # KIBO_AUDIO=off: as on a runner without sound
    assert not ann.available
    assert isinstance(ann.player, NullPlayer)
    assert ann.status_text() == "audio unavailable: no audio output device"
    trip(book, "jpm.ppco2", Severity.CRITICAL)
    ann.update(T0)  # no error, no Qt warning
    assert ann.played == [Severity.CRITICAL]
    ann.shutdown()


def test_select_player_without_device(qtbot: QtBot) -> None:
    from PySide6.QtCore import QObject

    parent = QObject()
    player = select_player(SOUND_DIR, parent)
    assert not player.available
    assert player.note.startswith("audio unavailable")


@pytest.mark.parametrize("name", ["critical", "warning", "watch"])
def test_tones_are_shipped_small_and_playable(name: str) -> None:
    path = SOUND_DIR / f"{name}.wav"
    assert path.stat().st_size < 100_000
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
        assert 0.3 < w.getnframes() / w.getframerate() < 1.0
