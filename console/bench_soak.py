"""``kibo-console bench soak``: the whole console for hours; RSS and GUI stalls sampled.

A publisher process sends every declared channel at 10,000 samples/s with
values swinging across their limits (the alarm list stays busy); this process
runs the real console offscreen (session, archive, dose engine, every panel).
RSS is sampled every minute (more often in short runs) and a QTimer probe
measures how long the GUI event loop was ever kept from running.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zmq
from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, Qt, QTimer

from telemetry.core.dictionary import (
    DEFAULT_DICTIONARY,
    ChannelSpec,
    TelemetryDictionary,
)
from telemetry.core.wire import encode_frame

if TYPE_CHECKING:
    from collections.abc import Callable

    from console.app import Console

TICK_S = 0.1  # the publisher sends one message per source this often
SETTLE_S = 5.0  # start-up stalls (first data everywhere) are reported apart
SWING_PERIOD_S = 40.0  # limit channels cross their thresholds this often


# ------------------------------------------------------------- the publisher


def _swing(spec: ChannelSpec, t: np.ndarray, phase: float) -> np.ndarray | list[str]:
    """Values that cross the channel's limits (or cycle its states) with time."""
    w = 2 * math.pi / SWING_PERIOD_S
    if spec.states:
        names = list(spec.states)
        idx = ((t / (SWING_PERIOD_S / 4) + phase * len(names)) % len(names)).astype(int)
        return [names[i] for i in idx]
    if spec.limits is not None:
        edges = [
            v for _, lo, hi in spec.limits.bands() for v in (lo, hi) if v is not None
        ]
        lo, hi = min(edges), max(edges)
        span = max(hi - lo, abs(hi) * 0.1, 1.0)
        mid = (lo + hi) / 2
        return mid + 0.75 * span * np.sin(w * t + phase * 2 * math.pi)
    low, high = spec.display_range or (0.0, 100.0)
    mid, amp = (low + high) / 2, (high - low) / 4
    return mid + amp * np.sin(w * t / 3 + phase * 2 * math.pi)


def publish_load(endpoint: str, samples_per_s: float, seconds: float) -> int:
    """Send every declared measured channel at ``samples_per_s`` in total.

    Binds an XPUB at ``endpoint``, prints ``bound``, waits for a subscriber,
    then sends for ``seconds``; returns the messages sent. Runs in its own
    process (``python -m console.bench_soak publish``) so its Python work does
    not share the console's GIL.
    """
    dictionary = TelemetryDictionary.load(DEFAULT_DICTIONARY)
    plan: list[tuple[str, str, list[ChannelSpec]]] = []
    for sid, source in dictionary.sources.items():
        measured = [
            c for c in dictionary.families[source.family].values() if not c.derived
        ]
        if measured:
            plan.append((source.family, sid, measured))
    channels = sum(len(m) for _, _, m in plan)
    rows = max(1, round(samples_per_s * TICK_S / channels))
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.bind(endpoint)
    print("bound", flush=True)
    sent = 0
    if sock.poll(60_000):
        sock.recv()
        seq = 0
        start = time.perf_counter()
        wall0 = time.time()
        while (elapsed := time.perf_counter() - start) < seconds:
            t_end = wall0 + elapsed
            t = t_end - TICK_S + (np.arange(rows) + 1) * (TICK_S / rows)
            for k, (family, sid, measured) in enumerate(plan):
                columns = {
                    c.name: _swing(c, t, (k * 7 + j) / 31)
                    for j, c in enumerate(measured)
                }
                sock.send_multipart(encode_frame(family, sid, seq, t, columns))
                sent += 1
            seq += 1
            due = start + seq * TICK_S
            while (left := due - time.perf_counter()) > 0:
                time.sleep(min(left, 0.01))  # pacing a stream, not waiting on it
    sock.close(linger=2000)
    ctx.term()
    return sent


# --------------------------------------------------------------- the probes


class StallProbe(QObject):
    """Measures the GUI event loop's longest stall; owned by the GUI thread.

    A precise timer asks to run every ``interval_ms``; any extra delay before
    it runs is time the loop was busy elsewhere (painting, decoding under the
    GIL, a blocking call) or the process was not scheduled at all (other
    programs on a busy machine). ``max_ms`` is the worst such delay;
    ``max_own_ms`` caps each delay by the CPU time this process used during
    it, so it counts only the console's own work, whatever else runs.
    """

    def __init__(self, interval_ms: int = 5) -> None:
        super().__init__()
        self.interval_ms = interval_ms
        self.max_ms = 0.0
        self.max_own_ms = 0.0
        self.startup_max_ms = 0.0
        self._cpu = 0.0
        self.stalls: list[tuple[float, float]] = []  # (seconds since start, ms)
        self._clock = QElapsedTimer()
        self._last = 0
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._beat)

    def start(self) -> None:
        self._clock.start()
        self._last = self._clock.nsecsElapsed()
        self._cpu = time.process_time()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def reset(self) -> None:
        """Keep the worst stall so far as ``startup_max_ms``, then measure anew."""
        self.startup_max_ms = max(self.startup_max_ms, self.max_ms)
        self.max_ms = self.max_own_ms = 0.0
        self.stalls.clear()

    def _beat(self) -> None:
        now = self._clock.nsecsElapsed()
        cpu = time.process_time()  # every thread of this process
        late_ms = (now - self._last) / 1e6 - self.interval_ms
        own_ms = min(late_ms, (cpu - self._cpu) * 1e3)
        self._last, self._cpu = now, cpu
        self.max_ms = max(self.max_ms, late_ms)
        self.max_own_ms = max(self.max_own_ms, own_ms)
        if late_ms > 50:
            self.stalls.append((now / 1e9, late_ms))


def rss_mib() -> float:
    """Return this process's resident set size now, in MiB (Linux /proc)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class SoakResult:
    """What one soak run measured; returned to the calling (GUI) thread."""

    seconds: float
    samples_per_s: float
    rss: list[tuple[float, float]] = field(default_factory=list)  # (s, MiB)
    warmup_s: float = 0.0
    growth_mib_per_h: float = math.nan
    max_stall_ms: float = math.nan  # after the first data has been drawn
    max_own_stall_ms: float = math.nan  # the part this process was busy
    startup_stall_ms: float = math.nan  # while the first data arrives
    stalls: list[tuple[float, float]] = field(default_factory=list)  # (s, ms)
    messages: int = 0
    samples: int = 0
    rejected: int = 0
    gaps: int = 0
    alarms_raised: int = 0
    archive_max_backlog: int = 0
    archive_dropped: int = 0
    internal_errors: int = 0
    # Rings fill up to their capacity first: until they all have, RSS grows
    # by design (1.6 MB per busy channel), not by a leak.
    rings_full: int = 0
    rings: int = 0

    @property
    def rss_max_mib(self) -> float:
        return max((r for _, r in self.rss), default=math.nan)

    @property
    def rss_after_warmup_mib(self) -> float:
        later = [r for t, r in self.rss if t >= self.warmup_s]
        return later[0] if later else math.nan

    def report(self) -> str:
        return "\n".join(
            [
                f"  duration                 {self.seconds / 3600:.3f} h "
                f"at {self.samples_per_s:,.0f} samples/s",
                f"  messages / samples       {self.messages:,} / {self.samples:,}",
                f"  rejected / gaps          {self.rejected} / {self.gaps}",
                f"  alarms raised            {self.alarms_raised:,}",
                f"  RSS after warm-up / max  {self.rss_after_warmup_mib:.0f} / "
                f"{self.rss_max_mib:.0f} MiB",
                f"  RSS growth after warm-up {self.growth_mib_per_h:+.1f} MiB/h "
                f"({self.rings_full} of {self.rings} ring buffers full)",
                f"  longest GUI stall        {self.max_stall_ms:.1f} ms wall, "
                f"{self.max_own_stall_ms:.1f} ms own work "
                f"({len(self.stalls)} over 50 ms); first {SETTLE_S:.0f} s: "
                f"{self.startup_stall_ms:.1f} ms",
                f"  archive backlog max      {self.archive_max_backlog} items, "
                f"{self.archive_dropped} dropped",
                f"  internal errors          {self.internal_errors}",
            ]
        )


def growth_per_hour(samples: list[tuple[float, float]], after: float) -> float:
    """Least-squares slope of RSS (MiB) over time after ``after`` s, per hour."""
    points = [(t, r) for t, r in samples if t >= after]
    if len(points) < 3:
        return math.nan
    t, r = np.array(points).T
    return float(np.polyfit(t, r, 1)[0] * 3600.0)


def run_loaded_console(
    seconds: float,
    samples_per_s: float = 10_000,
    *,
    sample_every_s: float | None = None,
    directory: Path | None = None,
    refresh_hz: float = 20.0,
    on_console: Callable[[Console], None] | None = None,
) -> SoakResult:
    """Run the offscreen console under publisher load for ``seconds``.

    Needs a Qt platform (``QT_QPA_PLATFORM=offscreen`` headless). Alarms are
    acknowledged every 20 s, as an operator would, so latched ones cycle.
    """
    from PySide6.QtWidgets import QApplication

    from console.app import build_console
    from console.config import ConsoleConfig
    from telemetry.bus.publisher import free_tcp_endpoint
    from widgets.levels import apply_theme

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    apply_theme(app)
    every = sample_every_s or min(60.0, max(1.0, seconds / 60))
    result = SoakResult(seconds, samples_per_s)
    result.warmup_s = min(seconds / 4, 600.0)
    endpoint = free_tcp_endpoint()
    publisher = subprocess.Popen(
        [sys.executable, "-m", "console.bench_soak", "publish", endpoint,
         str(samples_per_s), str(seconds + 60)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert publisher.stdout is not None
        if publisher.stdout.readline().strip() != "bound":
            raise RuntimeError("the load publisher did not start")
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            config = ConsoleConfig(
                endpoints=[endpoint],
                archive_path=Path(tmp) / "soak.sqlite",
                refresh_hz=refresh_hz,
            )
            console = build_console(config)
            _drive(console, result, seconds, every, on_console)
    finally:
        publisher.terminate()
        try:
            publisher.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            publisher.kill()
            publisher.communicate()
    return result


def _drive(
    console: Console,
    result: SoakResult,
    seconds: float,
    every: float,
    on_console: Callable[[Console], None] | None,
) -> None:
    session = console.session
    assert session is not None
    probe = StallProbe()
    started = time.monotonic()

    def sample() -> None:
        result.rss.append((time.monotonic() - started, rss_mib()))

    def acknowledge() -> None:
        keys = [a.key for a in session.alarms.snapshot() if not a.acked]
        session.alarms.acknowledge(keys, time.time(), "soak operator")

    timers: list[QTimer] = []
    for interval_s, slot in ((every, sample), (20.0, acknowledge)):
        timer = QTimer()
        timer.setInterval(int(interval_s * 1000))
        timer.timeout.connect(slot)
        timers.append(timer)
    loop = QEventLoop()
    try:
        console.start()
        if on_console is not None:
            on_console(console)
        sample()
        probe.start()
        # Start-up (windows mapped, every buffer and chart meeting its first
        # data, the dose engine's first integration) is reported apart.
        QTimer.singleShot(int(SETTLE_S * 1000), probe.reset)
        for timer in timers:
            timer.start()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()
        sample()
    finally:
        probe.stop()
        for timer in timers:
            timer.stop()
        console.shutdown()
    result.growth_mib_per_h = growth_per_hour(result.rss, result.warmup_s)
    result.max_stall_ms = probe.max_ms
    result.max_own_stall_ms = probe.max_own_ms
    result.startup_stall_ms = probe.startup_max_ms
    result.stalls = list(probe.stalls)
    stats = list(session.store.sources.values())
    result.messages = sum(s.messages for s in stats)
    result.samples = sum(s.samples for s in stats)
    result.gaps = sum(s.gaps for s in stats)
    result.rejected = session.store.rejected_total
    result.alarms_raised = session.alarms.raised_total
    result.internal_errors = session.subscriber.internal_errors
    names = session.store.keys()
    buffers = [b for k in names if (b := session.store.buffer(k)) is not None]
    result.rings = len(buffers)
    result.rings_full = sum(len(b) == b.capacity for b in buffers)
    if session.archive is not None and session.archive_watch is not None:
        result.archive_max_backlog = session.archive_watch.max_backlog
        result.archive_dropped = session.archive.dropped


def run_soak(hours: float, samples_per_s: float = 10_000) -> SoakResult:
    """Run the soak for ``hours`` and print its report (``bench soak --hours H``)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    result = run_loaded_console(hours * 3600.0, samples_per_s)
    print(result.report())
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m console.bench_soak publish|soak ...`` (the publisher process)."""
    parser = argparse.ArgumentParser(prog="python -m console.bench_soak")
    sub = parser.add_subparsers(dest="command", required=True)
    pub = sub.add_parser("publish", help="the load publisher (a child process)")
    pub.add_argument("endpoint")
    pub.add_argument("samples_per_s", type=float)
    pub.add_argument("seconds", type=float)
    soak = sub.add_parser("soak", help="run the soak")
    soak.add_argument("--hours", type=float, default=1.0)
    soak.add_argument("--rate", type=float, default=10_000)
    args: Any = parser.parse_args(argv)
    if args.command == "publish":
        publish_load(args.endpoint, args.samples_per_s, args.seconds)
    else:
        run_soak(args.hours, args.rate)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
