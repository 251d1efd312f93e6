"""Publish frames on a ZeroMQ XPUB socket, paced by sample time.

Shared by the simulator and replay command lines; the console cannot tell
their output from a live gateway's. The socket binds (consoles connect to it)
or connects to a console that listens.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from dataclasses import dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    Final,
    Literal,
    NamedTuple,
    Protocol,
    TypedDict,
)

import zmq

from telemetry.core.wire import encode_frame

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import numpy as np

log = logging.getLogger(__name__)

# ZeroMQ's default of 1000 is ~1 min of the 1 Hz simulator; a replay at speed
# or a console that stalls for a few seconds would lose data silently. 10,000
# messages bounds memory (at most ~100 MB of 10 kB batches per subscriber)
# while riding out stalls; losses beyond it show up as seq gaps.
DEFAULT_SNDHWM: Final = 10_000
# Enough to flush the last batches to a connected subscriber on exit, short
# enough that a vanished subscriber cannot hang shutdown.
DEFAULT_LINGER_MS: Final = 1000
_POLL_SLICE_S: Final = 0.1


class FrameLike(Protocol):
    """What ``publish`` needs of a frame (``SimFrame`` and ``wire.Frame`` fit)."""

    @property
    def family(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def seq(self) -> int: ...

    @property
    def times(self) -> np.ndarray: ...

    @property
    def columns(self) -> dict[str, Any]: ...


class RawMessage(NamedTuple):
    """An already encoded message and the sample time that paces it (replay)."""

    time: float
    parts: list[bytes]


@dataclass(slots=True)
class PublishStats:
    """What one ``publish`` call did; returned to the thread that called it."""

    endpoint: str
    messages: int = 0
    rows: int = 0
    stopped: bool = False


class Pacer:
    """Holds each message until its sample time is due; owned by the publisher thread.

    The first message anchors sample time to the clock; message ``i`` is due
    at ``anchor_clock + (t_i - anchor_t) / speed``. A late message goes out
    at once and the anchor stays, so a stall is caught up rather than
    stretching the run. ``speed=None`` sends as fast as possible.
    """

    def __init__(
        self,
        speed: float | None,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        if speed is not None and not (speed > 0 and math.isfinite(speed)):
            raise ValueError(f"speed must be a positive number or None, got {speed}")
        self.speed = speed
        self.clock = clock
        # wait(seconds) returns True when the caller should stop.
        self.wait = wait or threading.Event().wait
        self._anchor: tuple[float, float] | None = None

    def due(self, sample_time: float) -> float | None:
        """Return the clock time ``sample_time`` is due at (None: not anchored)."""
        if self.speed is None or self._anchor is None:
            return None
        t0, c0 = self._anchor
        return c0 + (sample_time - t0) / self.speed

    def hold(self, sample_time: float) -> bool:
        """Wait until ``sample_time`` is due; return False if told to stop."""
        if self.speed is None:
            return True
        if self._anchor is None:
            self._anchor = (sample_time, self.clock())
            return True
        due = self.due(sample_time)
        assert due is not None
        while (delay := due - self.clock()) > 0:
            if self.wait(delay):
                return False
        return True


class Publisher:
    """An XPUB socket on ``endpoint``; owned by the thread that publishes.

    XPUB (not PUB) so the publisher can see subscriptions and wait for the
    first one instead of losing the start of a run to the slow joiner.
    ``connect=True`` connects to a console that listens (its SUB socket
    binds); subscriptions then flow the same way.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        sndhwm: int = DEFAULT_SNDHWM,
        linger_ms: int = DEFAULT_LINGER_MS,
        context: zmq.Context[Any] | None = None,
        curve_secret_key: bytes | None = None,
        curve_server_key: bytes | None = None,
        connect: bool = False,
    ) -> None:
        self._own_context = context is None
        self._context: zmq.Context[Any] = (
            context if context is not None else zmq.Context()
        )
        self.socket: zmq.Socket[bytes] = self._context.socket(zmq.XPUB)
        self.socket.setsockopt(zmq.SNDHWM, sndhwm)
        self.socket.setsockopt(zmq.LINGER, linger_ms)
        try:
            if curve_secret_key is not None and curve_server_key is not None:
                # CurveZMQ client of a listening console: the link is
                # encrypted and only a console holding that key can answer.
                self.socket.curve_secretkey = curve_secret_key
                self.socket.curve_publickey = zmq.curve_public(curve_secret_key)
                self.socket.curve_serverkey = curve_server_key
            elif curve_secret_key is not None:
                # CurveZMQ server: encrypted, and only clients that know our
                # public key (the console's --curve-keys) can connect.
                self.socket.curve_secretkey = curve_secret_key
                self.socket.curve_server = True
            if connect:
                self.socket.connect(endpoint)
            else:
                self.socket.bind(endpoint)
        except zmq.ZMQError:
            self.close()
            raise
        # A ``tcp://host:*`` endpoint resolves to the port the OS picked.
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT) or endpoint
        self.subscriptions = 0

    def wait_for_subscriber(
        self, timeout_s: float, stop_event: threading.Event | None = None
    ) -> bool:
        """Block until a subscription arrives; False on timeout or stop."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            if stop_event is not None and stop_event.is_set():
                return False
            slice_ms = int(min(remaining, _POLL_SLICE_S) * 1000) + 1
            if self.socket.poll(slice_ms, zmq.POLLIN):
                message = self.socket.recv()
                if message[:1] == b"\x01":
                    self.subscriptions += 1
                    return True
        return False

    def send(self, parts: list[bytes]) -> None:
        # XPUB never blocks: past SNDHWM it drops, and the console counts the gap.
        self.socket.send_multipart(parts)

    def close(self) -> None:
        if not self.socket.closed:
            self.socket.close()
        if self._own_context:
            self._context.term()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PublishOptions(TypedDict, total=False):
    """The ``publish`` keywords that ``security.publish_with_curve`` passes on."""

    speed: float | None
    stop_event: threading.Event | None
    wait_for_subscriber: float | None
    encoding: Literal["json", "msgpack"]
    sndhwm: int
    linger_ms: int
    on_bound: Callable[[str], None] | None
    connect: bool


def _message(
    item: FrameLike | RawMessage, encoding: Literal["json", "msgpack"]
) -> tuple[float | None, list[bytes], int]:
    if isinstance(item, RawMessage):
        return item.time, item.parts, 0
    rows = int(item.times.shape[0])
    parts = encode_frame(
        item.family, item.source, item.seq, item.times, item.columns, encoding
    )
    return (float(item.times[-1]) if rows else None), parts, rows


def publish(
    frames: Iterable[FrameLike | RawMessage],
    endpoint: str,
    *,
    speed: float | None = 1.0,
    stop_event: threading.Event | None = None,
    wait_for_subscriber: float | None = 5.0,
    encoding: Literal["json", "msgpack"] = "msgpack",
    sndhwm: int = DEFAULT_SNDHWM,
    linger_ms: int = DEFAULT_LINGER_MS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] | None = None,
    on_bound: Callable[[str], None] | None = None,
    context: zmq.Context[Any] | None = None,
    curve_secret_key: bytes | None = None,
    curve_server_key: bytes | None = None,
    connect: bool = False,
) -> PublishStats:
    """Bind an XPUB socket at ``endpoint`` and send ``frames`` paced by sample time.

    Parameters
    ----------
    frames
        Frames (published as protocol v1 in ``encoding``) or ``RawMessage``s
        (sent as they are), in the order to send them. Pulled lazily, so an
        endless generator is fine.
    endpoint
        ZeroMQ bind address, e.g. ``tcp://127.0.0.1:5556``; ``tcp://host:*``
        picks a free port (see ``on_bound``). With ``connect``, the address
        of a listening console to connect to.
    speed
        Sample seconds per clock second: a frame whose last sample is ``dt``
        after the first frame's is sent ``dt / speed`` after it. ``None``
        sends as fast as possible.
    stop_event
        Set it (from any thread) to stop promptly; waits are on this event.
    wait_for_subscriber
        Seconds to wait for the first subscription before sending anything;
        ``None`` sends at once (early messages may then reach nobody).
    clock, sleep
        Injectable time source and sleeper for tests; ``sleep`` replaces
        waiting on ``stop_event`` while pacing.
    on_bound
        Called with the resolved endpoint once the socket is bound (or
        connecting).
    curve_secret_key
        Z85 CurveZMQ server secret key: serve encrypted, authenticated links.
    curve_server_key
        With ``curve_secret_key``: be a CURVE client of the console whose
        Z85 public key this is (a listening console with an allow-list).
    connect
        Connect to ``endpoint`` instead of binding it.

    Returns
    -------
    PublishStats
        Messages and rows sent, and whether ``stop_event`` ended the run.

    Raises
    ------
    TimeoutError
        If ``wait_for_subscriber`` seconds pass without a subscription.
    zmq.ZMQError
        If the endpoint cannot be bound.
    """
    stop = stop_event if stop_event is not None else threading.Event()

    def wait(seconds: float) -> bool:
        if sleep is None:
            return stop.wait(seconds)
        sleep(seconds)
        return stop.is_set()

    pacer = Pacer(speed, clock, wait)
    with Publisher(
        endpoint,
        sndhwm=sndhwm,
        linger_ms=linger_ms,
        context=context,
        curve_secret_key=curve_secret_key,
        curve_server_key=curve_server_key,
        connect=connect,
    ) as publisher:
        stats = PublishStats(publisher.endpoint)
        if on_bound is not None:
            on_bound(publisher.endpoint)
        if wait_for_subscriber is not None and not publisher.wait_for_subscriber(
            wait_for_subscriber, stop
        ):
            if stop.is_set():
                stats.stopped = True
                return stats
            hint = (
                " (is the console listening there, and does it allow this "
                "publisher's key?)"
                if connect
                else ""
            )
            raise TimeoutError(
                f"no subscriber on {publisher.endpoint} within "
                f"{wait_for_subscriber} s{hint}"
            )
        last_time: float | None = None
        for item in frames:
            if stop.is_set():
                stats.stopped = True
                break
            sample_time, parts, rows = _message(item, encoding)
            # A frame without rows is paced like the one before it.
            last_time = sample_time if sample_time is not None else last_time
            if last_time is not None and not pacer.hold(last_time):
                stats.stopped = True
                break
            publisher.send(parts)
            stats.messages += 1
            stats.rows += rows
    log.info(
        "published %d messages (%d rows) on %s",
        stats.messages,
        stats.rows,
        stats.endpoint,
    )
    return stats


def free_tcp_endpoint() -> str:
    """Return a loopback endpoint on a port that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"
