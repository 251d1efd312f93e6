"""Alarm load: floods and chattering sources, as EEMUA 191 / ISA-18.2 count them."""

from __future__ import annotations

from telemetry.core.alarms import AlarmBook
from telemetry.core.limits import LimitTransition
from telemetry.core.severity import Severity

T0 = 1_750_000_000.0


def raise_(book: AlarmBook, key: str, t: float) -> None:
    book.raise_transition(
        LimitTransition(key, t, Severity.NOMINAL, Severity.WARNING, 1.0, 0.5, "high")
    )


def clear(book: AlarmBook, key: str, t: float) -> None:
    book.raise_transition(
        LimitTransition(key, t, Severity.WARNING, Severity.NOMINAL, 0.0, 0.5, "clear")
    )


def test_more_than_ten_new_alarms_in_ten_minutes_is_a_flood() -> None:
    book = AlarmBook()
    for i in range(11):
        raise_(book, f"s.c{i}", T0 + 50 * i)
    load = book.load(T0 + 500)
    assert load.raised == 11 and load.flood
    assert load.chattering == ()
    assert not book.load(T0 + 1000).flood  # the first ones left the window


def test_a_level_change_of_a_standing_alarm_is_no_new_occurrence() -> None:
    book = AlarmBook()
    raise_(book, "s.c", T0)
    book.raise_transition(
        LimitTransition(
            "s.c", T0 + 1, Severity.WARNING, Severity.CRITICAL, 2, 1, "high"
        )
    )
    assert book.load(T0 + 2).raised == 1


def test_three_occurrences_within_a_minute_chatter_and_slower_ones_do_not() -> None:
    book = AlarmBook()
    for i in range(3):
        raise_(book, "fast.c", T0 + 25 * i)
        clear(book, "fast.c", T0 + 25 * i + 5)
        raise_(book, "slow.c", T0 + 40 * i)
        clear(book, "slow.c", T0 + 40 * i + 5)
    assert book.load(T0 + 100).chattering == ("fast.c",)


def test_checkpoint_and_restore_carry_the_load() -> None:
    book = AlarmBook()
    for i in range(3):
        raise_(book, "s.c", T0 + 10 * i)
        clear(book, "s.c", T0 + 10 * i + 5)
    saved = book.checkpoint()
    book.clear()
    assert book.load(T0 + 30).raised == 0
    book.restore(saved)
    assert book.load(T0 + 30) == (3, 600.0, ("s.c",))


def _step(book: AlarmBook, t: float, before: Severity, after: Severity) -> None:
    book.raise_transition(
        LimitTransition("jpm.ppco2", t, before, after, 5.0, 4.0, "high")
    )


def test_a_shelved_alarm_that_escalates_is_unshelved_and_sounds_again() -> None:
    """Shelving a WATCH for maintenance must not hide a CRITICAL (H1)."""
    actions: list[tuple[float, str, str, str, str]] = []
    book = AlarmBook(on_action=lambda *a: actions.append(a), operator="FC")
    _step(book, T0, Severity.NOMINAL, Severity.WATCH)
    book.acknowledge(["jpm.ppco2"], T0 + 1)
    book.shelve(["jpm.ppco2"], T0 + 2, 60, "known CDRA maintenance")
    assert book.unacked_severity(T0 + 3) is Severity.NOMINAL
    # The level that was shelved, reported again: stays shelved.
    _step(book, T0 + 20, Severity.WATCH, Severity.WATCH)
    alarm = book.get("jpm.ppco2")
    assert alarm is not None and alarm.shelved(T0 + 21)
    was = book.raise_transition(
        LimitTransition(
            "jpm.ppco2", T0 + 30, Severity.WATCH, Severity.CRITICAL, 5.0, 4.0, "high"
        )
    )
    assert was is not None and was.shelve_reason == "known CDRA maintenance"
    alarm = book.get("jpm.ppco2")
    assert alarm is not None
    assert not alarm.shelved(T0 + 31) and not alarm.acked
    assert book.unacked_severity(T0 + 31) is Severity.CRITICAL
    assert actions[-1] == (
        T0 + 30,
        "FC",
        "unshelve",
        "jpm.ppco2",
        "escalated to CRITICAL while shelved at WATCH",
    )
    # A fresh acknowledgement is needed, and it silences it.
    assert book.acknowledge(["jpm.ppco2"], T0 + 40) == 1
    assert book.unacked_severity(T0 + 41) is Severity.NOMINAL
