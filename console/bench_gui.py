"""``kibo-console bench gui``: redraw rate and latency while data pours in.

Offscreen, 20 strip charts holding 100,000 points each are redrawn as fast as
the GUI thread can while a publisher process sends 100,000 samples/s through
the real subscriber, pipeline and archive. Reports frames/s, p99 frame time
and p99 publish-to-screen latency (publisher stamps each row with its send
time; latency is measured after the frame is painted).
"""

from __future__ import annotations

import multiprocessing as mp
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from telemetry.archive import ArchiveWriter
from telemetry.channels import ChannelStore
from telemetry.dictionary import TelemetryDictionary
from telemetry.pipeline import Pipeline
from telemetry.subscriber import SubscriberConfig, ZmqSubscriber
from telemetry.wire import encode_frame

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
            while time.perf_counter() < due:
                pass
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

        window = QWidget()
        grid = QGridLayout(window)
        charts = []
        for i in range(CHARTS):
            chart = StripChart(title=f"ch{i:02d}", window_s=POINTS * CHARTS / RATE)
            grid.addWidget(chart, i // 4, i % 4)
            charts.append(chart)
        window.resize(1600, 1000)
        window.show()
        app.processEvents()

        frame_ms: list[float] = []
        latency_ms: list[float] = []
        versions = [-1] * CHARTS
        deadline = time.perf_counter() + seconds
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                newest = 0.0
                for i, chart in enumerate(charts):
                    buf = store.buffer(f"gui.ch{i:02d}")
                    if buf is None or buf.version == versions[i]:
                        continue
                    versions[i] = buf.version
                    t, y = buf.snapshot()
                    chart.set_now(float(t[-1]))
                    chart.set_series("value", t, y)
                    newest = max(newest, float(t[-1]))
                app.processEvents()
                window.repaint()
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
    return result
