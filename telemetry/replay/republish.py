"""``kibo-console replay``: a recorded session republished for other consoles.

Runs on the command's main thread.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Final

from telemetry.core.wire import mark_recorded
from telemetry.faults.injection import FaultPlan, load_injector
from telemetry.replay.session_reader import SessionReader, check_speed, paced

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from telemetry.bus.curve import PublisherCurve

# An as-fast-as-possible republish must not lose what the console is slow to
# take: the archive is finite, so queue all of a long session rather than drop.
AS_FAST_SNDHWM: Final = 1_000_000


def republish(
    archive: str | Path,
    bind: str,
    *,
    speed: float = 1.0,
    start: float | None = None,
    end: float | None = None,
    faults: str | Path | FaultPlan | None = None,
    stop_event: threading.Event | None = None,
    wait_subscriber: float | None = 10.0,
    on_bound: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    connect: bool = False,
    curve: PublisherCurve | None = None,
) -> int:
    """Publish a recorded session on an XPUB socket; return the messages sent.

    Parameters
    ----------
    archive : str or Path
        The recorded session (opened read-only).
    bind : str
        ZeroMQ endpoint, e.g. ``tcp://127.0.0.1:5557`` (``:*`` picks a port,
        reported to ``on_bound``).
    speed : float
        0.1..200 times real time, or 0 for as fast as possible.
    start, end : float, optional
        Sample-time range ``[start, end)`` to send.
    faults : path or FaultPlan, optional
        Fault scenario applied to the messages; its offsets count from the
        session's first frame, even when ``start`` is later.
    stop_event : threading.Event, optional
        Set it from any thread to stop promptly.
    wait_subscriber : float or None
        Seconds to wait for the first subscription (None: send at once).
    connect : bool
        Connect to ``bind`` (a console that listens) instead of binding it.
    curve : PublisherCurve, optional
        CurveZMQ keys (``telemetry.bus.curve.load_publisher_curve``): a CURVE
        server admitting only its allow-list of consoles, or a CURVE client
        of a listening console.

    Messages go out as recorded (topic, sequence numbers, times and values)
    unless a fault rewrites or drops them, with the body marked ``rec``
    (``telemetry.core.wire.mark_recorded``): a console shows the rows in
    their own time, marked as a recording, and never writes them to the crew
    dose ledger, however recent the recording is.

    Raises
    ------
    TimeoutError
        If no subscriber arrives within ``wait_subscriber`` seconds.
    """
    from telemetry.bus.curve import publish_with_curve
    from telemetry.bus.publisher import DEFAULT_SNDHWM, RawMessage

    check_speed(speed)
    stop = stop_event if stop_event is not None else threading.Event()
    with SessionReader(archive) as reader:
        injector = load_injector(faults, reader.start)

        def messages() -> Iterator[RawMessage]:
            for t, topic, body in paced(
                reader.frames(start, end), speed, clock, stop.wait
            ):
                parts: list[bytes] | None = [topic, body]
                if injector is not None:
                    parts = injector.apply([topic, body])
                if parts is not None:
                    if len(parts) == 2:
                        parts = [parts[0], mark_recorded(parts[1])]
                    yield RawMessage(t, parts)

        stats = publish_with_curve(
            messages(),
            bind,
            curve,
            speed=None,  # paced() above already holds each message
            stop_event=stop,
            wait_for_subscriber=wait_subscriber,
            sndhwm=AS_FAST_SNDHWM if speed == 0 else DEFAULT_SNDHWM,
            on_bound=on_bound,
            connect=connect,
        )
    return stats.messages
