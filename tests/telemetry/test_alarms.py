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
