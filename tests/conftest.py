"""Shared fixtures: offscreen Qt, a small dictionary, and a dangling-thread guard."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading

import pytest
from hypothesis import settings

# CI machines are shared and slow to warm up: judge Hypothesis tests on
# behaviour, not on per-example deadlines.
settings.register_profile("kibo", deadline=None)
settings.load_profile("kibo")

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Two screens for the offscreen platform, 2560x1440 (primary) and 1280x720
# beside it, so layout tests put windows on real screens of both sizes.
OFFSCREEN_SCREENS = os.path.join(os.path.dirname(__file__), "offscreen_screens.json")
# Never the operator's data: archives, layouts and the dose ledger of every
# console and recorder a test starts (subprocesses too) go to a scratch dir.
_SCRATCH_DATA_DIR = tempfile.mkdtemp(prefix="kibo-tests-")
os.environ["KIBO_DATA_DIR"] = _SCRATCH_DATA_DIR
atexit.register(shutil.rmtree, _SCRATCH_DATA_DIR, True)

from typing import TYPE_CHECKING  # noqa: E402

from telemetry.core.dictionary import TelemetryDictionary  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TINY_DICTIONARY = """
[dictionary]
version = "test-1"

[modules.JPM]
name = "Kibo PM"
x = [0.4, 6.9]
y = [-1.07, 1.07]
z = [-1.07, 1.07]

[modules.SM]
name = "Zvezda"
shielding_factor = 0.4
shelter = true

[families.robot]
description = "test robot"
stale_after_s = 5.0

[families.robot.channels.pos_x]
unit = "m"
rate_hz = 1.0

[families.robot.channels.battery_pct]
unit = "%"
limits = { warning_low = 20.0, critical_low = 5.0, persistence = 2, hysteresis = 2.0 }

[families.robot.channels.nav_status]
states = { NAV_OFF = 0, FUSION = 1, INERTIAL = 2, SLAM = 3 }
alarm_states = { NAV_OFF = "critical", INERTIAL = "watch" }

[families.eclss]
description = "cabin"

[families.eclss.channels.temp]
unit = "degC"

[families.eclss.channels.rh]
unit = "%"

[families.eclss.channels.ppco2]
unit = "mmHg"
limits = { watch_high = 2.3, warning_high = 2.7, critical_high = 4.0 }

[families.eclss.channels.dewpoint]
unit = "degC"
derived = true

[sources.ib2-a]
family = "robot"

[sources.jpm]
family = "eclss"
module = "JPM"
"""


@pytest.fixture
def tiny_dictionary(tmp_path: Path) -> TelemetryDictionary:
    path = tmp_path / "dictionary.toml"
    path.write_text(TINY_DICTIONARY)
    return TelemetryDictionary.load(path)


@pytest.fixture(autouse=True)
def no_dangling_threads() -> Iterator[None]:
    """Fail a test that leaves threads running (as napari's dangling-thread guard)."""
    before = set(threading.enumerate())
    yield
    leftover = [
        t
        for t in threading.enumerate()
        if t not in before
        and t.is_alive()
        and not t.name.startswith(("pydevd", "asyncio"))
    ]
    for t in leftover:
        t.join(timeout=5.0)
    leftover = [t for t in leftover if t.is_alive()]
    assert not leftover, f"test left threads running: {[t.name for t in leftover]}"


@pytest.fixture(scope="session")
def qapp_args() -> list[str]:
    """Arguments of the tests' QApplication: the two offscreen screens."""
    if os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        return ["pytest", "-platform", f"offscreen:configfile={OFFSCREEN_SCREENS}"]
    return ["pytest"]
