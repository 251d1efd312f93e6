"""Every role layout fits 1280x720 and 2560x1440 screens, with every number whole.

The real console replays the SPE session (robots, cabin, crew dose, GOES:
every panel has values) on the offscreen platform's two screens (see
tests/offscreen_screens.json). A test fails when the window reaches past
its screen, when any label's text is wider than its rectangle (a cut digit),
when the alarm list shows fewer than three rows, or a chart is squashed, its
reference labels (NOAA S1-S5) overlap or its legend covers the newest data.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QRect
from PySide6.QtGui import QFontMetrics, QGuiApplication, QScreen
from PySide6.QtWidgets import QApplication, QLabel

from console.app import build_console
from console.config import ConsoleConfig
from console.docks.plot_dock import CHART_MIN_HEIGHT
from console.main_window import ALARM_ROWS_MIN
from widgets.fit_label import FitLabel
from widgets.strip_chart import StripChart

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pytestqt.qtbot import QtBot

    from console.app import Console
    from console.main_window import MainWindow

pytestmark = pytest.mark.usefixtures("console_env", "themed")

SESSION = Path(__file__).resolve().parents[2] / "replay_data/spe-2017-09.session.sqlite"
# A legend may cover at most this share of its plot's height.
LEGEND_MAX_HEIGHT = 0.4
SCREENS = {"1280x720": QRect(2560, 0, 1280, 720), "2560x1440": QRect(0, 0, 2560, 1440)}
LAYOUTS = ("flight", "radiation", "trainer")


def screen_named(size: str) -> QScreen:
    """The offscreen screen of that size (skips if the platform lacks it)."""
    rect = SCREENS[size]
    for screen in QGuiApplication.screens():
        if screen.geometry() == rect:
            return screen
    pytest.skip(f"no {size} screen (run with QT_QPA_PLATFORM=offscreen)")


@pytest.fixture
def open_console(qtbot: QtBot, tmp_path: Path) -> Iterator[Callable[[str], Console]]:
    opened: list[Console] = []

    def make(layout: str) -> Console:
        path = tmp_path / SESSION.name
        shutil.copyfile(SESSION, path)
        config = ConsoleConfig(replay=path, layout=layout, training=layout == "trainer")
        config.buffer_capacity = 5000
        con = build_console(config, training_log=tmp_path / "training.sqlite")
        con.start()
        qtbot.waitExposed(con.window)
        opened.append(con)
        return con

    yield make
    for con in opened:
        con.shutdown()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)


def show_data(qtbot: QtBot, con: Console) -> None:
    """Seek into the SPE (every source has data) and draw a frame."""
    driver = con.replay
    assert driver is not None
    driver.seek(driver.start_time + 0.6 * (driver.end_time - driver.start_time))
    qtbot.waitUntil(lambda: len(con.store.sources) >= 10, timeout=10_000)
    # Frames drawn here, not by the timer: a text changed by a frame the
    # timer fires during a check would be judged before its re-layout.
    con.refresh.stop()
    for _ in range(3):
        con.refresh.tick()
        QApplication.processEvents()


def place(window: MainWindow, screen: QScreen, *, maximize: bool) -> None:
    """Put the window on a screen, at its default size or filling the screen."""
    available = screen.availableGeometry()
    window.setScreen(screen)
    window.move(available.topLeft())
    if maximize:
        window.resize(available.size())
    window.fit_to_screen()
    QApplication.processEvents()


def cut_labels(window: MainWindow) -> list[str]:
    """Every visible one-line label whose text does not fit its rectangle."""
    problems = []
    for label in window.findChildren(QLabel):
        if not label.isVisibleTo(window) or label.wordWrap() or not label.text():
            continue
        if label.textFormat() == label.textFormat().RichText:
            continue
        room = label.contentsRect().width() - 2 * label.margin()
        if isinstance(label, FitLabel):
            text, font = label.shown_text(), label.shown_font()
            # Values (whole=True) must never be elided; names may be, with
            # their whole text in the tooltip.
            if label.is_cut() and (
                label._whole or label.text() not in label.whole_tooltip()
            ):
                problems.append(f"{label.objectName()} {label.text()!r} elided")
        else:
            text, font = label.text(), label.font()
        metrics = QFontMetrics(font)
        width = max(metrics.horizontalAdvance(line) for line in text.split("\n"))
        if width > room + 1:
            problems.append(f"{label.objectName()} {text!r}: {width} px in {room} px")
    return problems


def crowded_charts(window: MainWindow) -> list[str]:
    """Every chart whose reference labels overlap or sit on the plot, or whose
    legend covers the newest data or more than its share of the plot."""
    problems = []
    for chart in window.findChildren(StripChart):
        if not chart.isVisibleTo(window):
            continue
        name = chart.getPlotItem().titleLabel.text
        chart.grab()  # a paint: the labels the reference axis drew
        axis = chart.getPlotItem().getAxis("right")
        drawn = (
            [rect for _label, rect in axis.drawn_labels()] if axis.isVisible() else []
        )
        for i, a in enumerate(drawn):
            if any(a.intersects(b) for b in drawn[i + 1 :]):
                problems.append(f"{name}: reference labels overlap")
        plot = chart.getPlotItem().vb.sceneBoundingRect()
        for label, rect in chart.reference_labels():
            if rect.intersects(plot):
                problems.append(f"{name}: {label} over the plot")
        limits = chart.band_label_rects()
        for i, a in enumerate(limits):
            if any(a.intersects(b) for b in limits[i + 1 :]):
                problems.append(f"{name}: limit labels overlap")
        fit = chart.legend_fit()
        if fit.covered():
            problems.append(f"{name}: legend covers the newest data")
        legend = chart.getPlotItem().legend
        share = fit.rect().height() / max(chart.getPlotItem().vb.height(), 1.0)
        if legend.isVisible() and share > LEGEND_MAX_HEIGHT:
            problems.append(f"{name}: legend covers {share:.0%} of the plot's height")
    return problems


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("size", list(SCREENS))
@pytest.mark.parametrize("maximize", [False, True], ids=["default", "maximized"])
def test_layout_fits_the_screen_with_every_value_whole(
    qtbot: QtBot,
    open_console: Callable[[str], Console],
    layout: str,
    size: str,
    maximize: bool,
) -> None:
    screen = screen_named(size)
    available = screen.availableGeometry()
    con = open_console(layout)
    window = con.window
    place(window, screen, maximize=maximize)
    show_data(qtbot, con)
    window.fit_to_screen()
    QApplication.processEvents()
    QApplication.processEvents()

    assert available.contains(
        window.frameGeometry()
    ), f"{layout} at {size}: window {window.frameGeometry()} beyond {available}"
    assert not window.exceeds_screen()
    assert cut_labels(window) == []
    assert crowded_charts(window) == []
    # At least three alarm rows and no squashed chart.
    view = window.alarms.table.view()
    rows = view.viewport().height() // view.verticalHeader().defaultSectionSize()
    assert rows >= ALARM_ROWS_MIN
    for chart in window.plots.charts():
        if chart.isVisibleTo(window):
            assert chart.parentWidget().height() >= CHART_MIN_HEIGHT


def test_readouts_are_checked_for_real(
    qtbot: QtBot, open_console: Callable[[str], Console]
) -> None:
    """The check above catches a cut value: a plain QLabel in a narrow tile."""
    con = open_console("flight")
    window = con.window
    place(window, screen_named("1280x720"), maximize=True)
    show_data(qtbot, con)
    readout = window.eclss.readout("jpm.p_total")
    plain = QLabel(readout.text(), readout)
    plain.setObjectName("plainValue")
    plain.setFont(readout.value_label().font())
    plain.setGeometry(0, 0, 20, 30)
    plain.show()
    assert any("plainValue" in p for p in cut_labels(window))
    # A FitLabel squeezed below its text at the smallest size says so.
    value = readout.value_label()
    value.setFixedWidth(12)
    QApplication.processEvents()
    assert value.is_cut()
    assert value.text() in value.whole_tooltip()


def test_channel_browser_open_still_fits_1280(
    qtbot: QtBot, open_console: Callable[[str], Console]
) -> None:
    screen = screen_named("1280x720")
    con = open_console("flight")
    window = con.window
    place(window, screen, maximize=True)
    window.plots.browser_button.setChecked(True)
    QApplication.processEvents()
    qtbot.waitUntil(lambda: not window.exceeds_screen(), timeout=2000)
    assert window.minimumSizeHint().width() <= screen.availableGeometry().width()


# A floating dock is raised; the offscreen platform cannot, and says so.
@pytest.mark.qt_log_ignore("This plugin does not support raise")
def test_docks_float_to_the_second_screen_and_come_back(
    qtbot: QtBot, open_console: Callable[[str], Console]
) -> None:
    large_screen, small_screen = screen_named("2560x1440"), screen_named("1280x720")
    large = large_screen.availableGeometry()
    small = small_screen.availableGeometry()
    con = open_console("radiation")
    window = con.window
    place(window, large_screen, maximize=True)
    dock = window.radiation
    dock.setFloating(True)
    dock.move(small.topLeft())
    dock.resize(small.size())
    QApplication.processEvents()
    assert dock.isFloating() and small.contains(dock.geometry().center())
    show_data(qtbot, con)
    assert cut_labels(window) == []
    dock.setFloating(False)
    QApplication.processEvents()
    assert not dock.isFloating()
    assert large.contains(dock.mapToGlobal(dock.rect().center()))


def test_enlarging_again_restores_the_proportions(
    qtbot: QtBot, open_console: Callable[[str], Console]
) -> None:
    """Shrinking to 1280x720 and back leaves no dock squeezed (issue 15)."""
    large, small = screen_named("2560x1440"), screen_named("1280x720")
    con = open_console("flight")
    window = con.window
    place(window, large, maximize=True)
    for _ in range(2):  # the window notes its proportions while its size holds
        window.remember_proportions()
    before = {n: d.width() / window.width() for n, d in window.docks.items()}
    place(window, small, maximize=True)
    qtbot.wait(50)
    place(window, large, maximize=True)
    qtbot.wait(50)
    after = {n: d.width() / window.width() for n, d in window.docks.items()}
    for name in ("robots", "plots", "eclss"):
        assert after[name] == pytest.approx(before[name], abs=0.05), name
