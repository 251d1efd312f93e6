"""Typed plot time ranges: live windows and fixed ranges, read or refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from console.time_range import TimeRangeError, parse_time_range

NOW = datetime(2026, 12, 7, 10, 45, 0, tzinfo=UTC).timestamp()


def at(hour: int, minute: int, day: int = 7) -> float:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("text", "window"),
    [("15m", 900.0), ("last 2h", 7200.0), ("-90s", 90.0), ("1h30m", 5400.0)],
)
def test_a_duration_is_a_live_window(text: str, window: float) -> None:
    wanted = parse_time_range(text, NOW)
    assert wanted.live and wanted.window_s == window
    assert (wanted.t0, wanted.t1) == (NOW - window, NOW)


def test_ranges_relative_absolute_and_day_of_year() -> None:
    fixed = parse_time_range("10:00 to 10:30", NOW)
    assert not fixed.live and (fixed.t0, fixed.t1) == (at(10, 0), at(10, 30))
    past = parse_time_range("-2h to -1h", NOW)
    assert not past.live and (past.t0, past.t1) == (NOW - 7200, NOW - 3600)
    # 7 December 2026 is GMT day 341; "+20m" counts from the start.
    doy = parse_time_range("341/09:00 to +20m", NOW)
    assert (doy.t0, doy.t1) == (at(9, 0), at(9, 20))
    iso = parse_time_range("2026-12-07T08:00Z .. 2026-12-07 09:00", NOW)
    assert (iso.t0, iso.t1) == (at(8, 0), at(9, 0))
    # Ending at "now" keeps following the live data, like a window.
    live = parse_time_range("10:15 to now", NOW)
    assert live.live and live.window_s == 30 * 60
    # A start later than now is yesterday's; an end is the first after the
    # start (a night shift spans midnight).
    assert parse_time_range("23:00 to 23:30", NOW).t0 == at(23, 0, day=6)
    night = parse_time_range("22:00 to 02:00", NOW)
    assert (night.t0, night.t1) == (at(22, 0, day=6), at(2, 0))
    # An end later than now is still today's (the plot shows up to now).
    ahead = parse_time_range("10:30 to 11:00", NOW)
    assert (ahead.t0, ahead.t1) == (at(10, 30), at(11, 0))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("soon", "cannot read"),
        ("-1h to -2h", "end must come after the start"),
        ("25:00 to 26:00", "not a time of day"),
        ("+5m to now", "only for the end"),
        ("-5x to now", "offset like -15m"),
        ("400/10:00 to +1h", "day of year"),
    ],
)
def test_bad_entries_say_what_was_wrong(text: str, reason: str) -> None:
    with pytest.raises(TimeRangeError, match=reason):
        parse_time_range(text, NOW)
