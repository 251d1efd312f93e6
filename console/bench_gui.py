"""``kibo-console bench gui``: redraw rate and latency while data pours in.

Offscreen, 20 strip charts holding 100,000 points each are redrawn as fast as
the GUI thread can while a publisher process sends 100,000 samples/s through
the real subscriber, pipeline and archive. Each frame feeds every chart its
new samples, decimates, and paints every changed chart once (counted, and
forced if the event loop did not). Reports frames/s, p99 frame time and p99
publish-to-screen latency (publisher stamps each row with its send time;
latency is measured after the frame is painted).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from telemetry.archive.writer import ArchiveWriter
from telemetry.bus.subscriber import SubscriberConfig, ZmqSubscriber
from telemetry.core.channels import ChannelStore
from telemetry.core.dictionary import TelemetryDictionary
from telemetry.core.pipeline import Pipeline
from telemetry.core.wire import encode_frame

CHARTS = 20
POINTS = 100_000
RATE = 100_000  # samples/s over all charts
ROWS = 50  # rows per message -> 100 messages/s


def _publisher(endpoint: str, seconds: float, ready: Any) -> None:
    """Child process: send RATE samples/s stamped with wall time."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.bind(endpoint)
    ready.set()
    if sock.poll(30_000):
        sock.recv()
        per_channel_hz = RATE / CHARTS
        msgs_per_s = per_channel_hz / ROWS
        rng = np.random.default_rng(3)
        start = time.perf_counter()
        seq = 0
        while time.perf_counter() - start < seconds:
            due = start + seq / msgs_per_s
            # Sleep, not spin: a spinning publisher took one of the machine's
            # cores away from the console it is meant to load with data only.
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            now = time.time()
            times = now - (ROWS - 1 - np.arange(ROWS)) / per_channel_hz
            cols = {
                f"ch{i:02d}": np.sin(times * (i + 1)) + rng.normal(0, 0.05, ROWS)
                for i in range(CHARTS)
            }
            sock.send_multipart(encode_frame("bench", "gui", seq, times, cols))
            seq += 1
    sock.close(linger=1000)
    ctx.term()


def run_gui_bench(seconds: float = 15.0) -> dict[str, float]:
    """Run the benchmark (needs a QApplication-capable platform, e.g. offscreen)."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QGridLayout, QWidget

    from widgets.levels import apply_theme
    from widgets.strip_chart import StripChart

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    apply_theme(app)
    dictionary = TelemetryDictionary.load()
    with tempfile.TemporaryDirectory(prefix="kibo-bench-gui-") as tmpdir:
        tmp = Path(tmpdir)
        store = ChannelStore(POINTS)
        # Charts start full: 100,000 points each, as after 20 s of this rate.
        t_fill = (
            time.time() - POINTS * CHARTS / RATE + np.arange(POINTS) * CHARTS / RATE
        )
        for i in range(CHARTS):
            store.append(f"gui.ch{i:02d}", t_fill, np.sin(t_fill * (i + 1)))
        archive = ArchiveWriter(
            tmp / "gui.sqlite",
            dictionary_sha256=dictionary.sha256,
            dictionary_version=dictionary.version,
        )
        pipeline = Pipeline(dictionary, store, archive=archive)
        ctx = mp.get_context("spawn")
        endpoint = f"ipc://{tmp}/gui.ipc"
        ready = ctx.Event()
        proc = ctx.Process(
            target=_publisher, args=(endpoint, seconds + 2, ready), daemon=True
        )
        proc.start()
        ready.wait(30)
        sub = ZmqSubscriber(
            SubscriberConfig([endpoint]), pipeline.ingest, pipeline.tick
        )
        archive.start()
        sub.start()

        class PaintCounter(QObject):
            """Counts paints of each chart's viewport; owned by the GUI thread."""

            def __init__(self) -> None:
                super().__init__()
                self.counts = [0] * CHARTS

            def eventFilter(self, obj: QObject, event: QEvent) -> bool:
                if event.type() == QEvent.Type.Paint:
                    self.counts[int(obj.property("chart"))] += 1
                return False

        painted = PaintCounter()
        window_s = POINTS * CHARTS / RATE
        window = QWidget()
        grid = QGridLayout(window)
        charts = []
        for i in range(CHARTS):
            chart = StripChart(title=f"ch{i:02d}", window_s=window_s)
            grid.addWidget(chart, i // 4, i % 4)
            chart.viewport().setProperty("chart", i)
            chart.viewport().installEventFilter(painted)
            charts.append(chart)
        window.resize(1600, 1000)
        window.show()
        app.processEvents()

        frame_ms: list[float] = []
        latency_ms: list[float] = []
        totals = [0] * CHARTS
        paints = forced = fed_total = 0
        deadline = time.perf_counter() + seconds
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                newest = 0.0
                fed = []
                for i, chart in enumerate(charts):
                    buf = store.buffer(f"gui.ch{i:02d}")
                    if buf is None:
                        continue
                    # Only the samples that are new since the last frame: the
                    # chart keeps the rest (the 100,000 of its window).
                    tail = buf.since(totals[i])
                    totals[i] = tail.total
                    if tail.t.size == 0:
                        continue
                    last = float(tail.t[-1])
                    if tail.reset:
                        chart.set_series("value", tail.t, tail.y)
                    else:
                        chart.append_series(
                            "value", tail.t, tail.y, keep_from=last - window_s
                        )
                    chart.set_now(last)
                    newest = max(newest, last)
                    fed.append(i)
                if not fed:
                    # Nothing new: no frame to draw or time. Let the subscriber
                    # thread have the interpreter rather than spin on its lock.
                    time.sleep(0.0005)
                    continue
                before = list(painted.counts)
                for i in fed:
                    charts[i].flush()
                app.processEvents()  # paints what changed, as the console does
                for i in fed:
                    if painted.counts[i] == before[i]:
                        charts[i].viewport().repaint()
                        forced += 1
                    paints += painted.counts[i] - before[i]
                fed_total += len(fed)
                done = time.perf_counter()
                frame_ms.append((done - started) * 1000)
                if newest:
                    latency_ms.append((time.time() - newest) * 1000)
        finally:
            sub.stop()
            archive.stop()
            proc.join(10)
            window.close()
            window.deleteLater()
            app.processEvents()
    frames = np.array(frame_ms)
    lat = np.array(latency_ms) if latency_ms else np.array([np.nan])
    fps = len(frames) / (frames.sum() / 1000) if frames.size else 0.0
    result = {
        "fps": fps,
        "frame_p50_ms": float(np.percentile(frames, 50)),
        "frame_p99_ms": float(np.percentile(frames, 99)),
        "latency_p50_ms": float(np.nanpercentile(lat, 50)),
        "latency_p99_ms": float(np.nanpercentile(lat, 99)),
        "received_samples": float(
            store.sources["gui"].samples if "gui" in store.sources else 0
        ),
        "paints_per_update": paints / fed_total if fed_total else math.nan,
        "forced_paints": float(forced),
        # frames/s above is the redraw capacity (frames per second of frame
        # time); this is how many were drawn per wall second, at most the
        # rate at which new data arrives (100 messages/s).
        "frames_drawn_per_s": len(frames) / seconds,
    }
    r = result
    print(f"{CHARTS} charts x {POINTS:,} points, {RATE:,} samples/s, {seconds:.0f} s")
    print(
        f"  frames/s           {r['fps']:8.1f}   (target >= 30: {r['fps'] / 30:.2f} x)"
    )
    print(
        f"  frame time p50/p99 {r['frame_p50_ms']:6.1f} / {r['frame_p99_ms']:6.1f} ms"
        f"   (target p99 < 50 ms: {r['frame_p99_ms'] / 50:.2f} of budget)"
    )
    print(
        f"  publish->screen    p50 {r['latency_p50_ms']:6.1f} / "
        f"p99 {r['latency_p99_ms']:6.1f} ms"
        f"   (target p99 < 100 ms: {r['latency_p99_ms'] / 100:.2f} of budget)"
    )
    print(
        f"  paints per chart update {r['paints_per_update']:.2f}"
        f" ({r['forced_paints']:.0f} forced), frames drawn"
        f" {r['frames_drawn_per_s']:.1f}/s, samples received"
        f" {r['received_samples']:,.0f}"
    )
    return result
