from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from console.docks.eclss_dock import TREND_S, EclssDock
from widgets.levels import Level

if TYPE_CHECKING:
    from conftest import Feed
    from pytestqt.qtbot import QtBot

pytestmark = pytest.mark.usefixtures("console_env", "themed")

T0 = 1_750_000_000.0  # the Feed clock's start


@pytest.fixture
def dock(qtbot: QtBot, feed: Feed) -> EclssDock:
    dock = EclssDock(feed.context)
    qtbot.addWidget(dock)
    dock.show()
    return dock


def test_every_cabin_channel_has_a_readout_with_its_unit(dock: EclssDock) -> None:
    assert dock.keys() == [
        "jpm.ppco2", "jpm.ppo2", "jpm.p_total", "jpm.temp", "jpm.rh",
        "jpm.dewpoint", "jpm.water_recovery",
    ]  # fmt: skip
    assert dock.readout("jpm.ppco2").unit() == "mmHg"
    assert dock.readout("jpm.temp").unit() == "°C"
    assert dock.readout("jpm.ppco2").level() is Level.NO_DATA


def test_values_show_in_dictionary_format_with_derived_dew_point(
    dock: EclssDock, feed: Feed
) -> None:
    feed.cabin(T0, 3, ppco2=[2.05, 2.08, 2.104], temp=22.0, rh=50.0)
    dock.refresh(feed.clock())
    ppco2 = dock.readout("jpm.ppco2")
    assert ppco2.text() == "2.10"
    assert ppco2.level() is Level.NOMINAL
    assert ppco2.tag() == ""
    # Magnus formula: 22 °C at 50 % RH -> 11.1 °C dew point.
    assert dock.readout("jpm.dewpoint").text() == "11.1"
    assert dock.readout("jpm.p_total").text() == "760.0"


def test_ppco2_over_the_warning_limit_turns_the_readout_warning(
    dock: EclssDock, feed: Feed
) -> None:
    # Persistence is 5 samples: four high samples are not yet an alarm.
    feed.cabin(T0, 4, ppco2=2.9)
    dock.refresh(feed.clock())
    assert dock.readout("jpm.ppco2").level() is Level.NOMINAL
    feed.cabin(T0 + 4, 1, ppco2=2.9)
    dock.refresh(feed.clock())
    readout = dock.readout("jpm.ppco2")
    assert readout.text() == "2.90"
    assert readout.level() is Level.WARNING
    assert readout.tag() == "WARNING"


def test_trend_shows_the_last_ten_minutes(dock: EclssDock, feed: Feed) -> None:
    n = 900
    values = [2.0 + 0.001 * i for i in range(n)]
    feed.cabin(T0, n, ppco2=values)
    dock.refresh(feed.clock())
    t, y = dock.readout("jpm.ppco2").trend()._t, dock.readout("jpm.ppco2").trend()._y
    assert t[0] >= feed.clock() - TREND_S
    assert t[-1] == feed.clock()
    assert y[-1] == pytest.approx(values[-1])
    assert len(t) == int(TREND_S) + 1


def test_silent_cabin_goes_stale_with_its_age(dock: EclssDock, feed: Feed) -> None:
    feed.cabin(T0, 2)
    dock.refresh(feed.clock())
    now = feed.clock() + 12.0  # stale_after_s is 5 s
    dock.refresh(now)
    readout = dock.readout("jpm.ppo2")
    assert readout.level() is Level.STALE
    assert readout.text() == "160.0"  # the last value stays readable
    assert readout.tag() == "STALE · 12 s old"


def test_unchanged_buffers_are_not_redrawn(dock: EclssDock, feed: Feed) -> None:
    feed.cabin(T0, 1, ppo2=161.0)
    dock.refresh(feed.clock())
    readout = dock.readout("jpm.ppo2")
    readout.set_value("sentinel", Level.NOMINAL)  # would be overwritten by a redraw
    dock.refresh(feed.clock())
    assert readout.text() == "sentinel"
    feed.cabin(T0 + 1, 1, ppo2=162.0)
    dock.refresh(feed.clock())
    assert readout.text() == "162.0"


def test_a_replay_seek_that_clears_the_store_clears_the_readouts(
    dock: EclssDock, feed: Feed
) -> None:
    feed.cabin(T0, 3)
    dock.refresh(feed.clock())
    feed.store.clear()
    dock.refresh(feed.clock())
    assert dock.readout("jpm.ppco2").text() == "—"
    assert dock.readout("jpm.ppco2").level() is Level.NO_DATA
    # New buffers count their versions from zero again: still redrawn.
    feed.cabin(T0 + 3, 1, ppco2=2.2)
    dock.refresh(feed.clock())
    assert dock.readout("jpm.ppco2").text() == "2.20"


def test_the_ppco2_critical_limit_is_shown_as_a_24_hour_mean(
    dock: EclssDock, feed: Feed
) -> None:
    """Issue 14: the ops limit says 24-h average, and the readout says so."""
    feed.cabin(T0, 60, ppco2=[2.0] * 30 + [4.4] * 30)
    dock.refresh(feed.clock())
    readout = dock.readout("jpm.ppco2")
    assert readout.text() == "4.40"  # the sample, over the 4.0 critical...
    assert readout.level() is Level.WARNING  # ...judged per sample: > 2.7 only
    text = readout.toolTip()
    assert "limits on the 24 h mean: critical &gt; 4" in text
    assert "24 h mean now 3.20 mmHg, over 1 min so far" in text
