"""The ZeroMQ SUB socket and the thread that owns it.

ZeroMQ sockets are not thread-safe, so one thread creates, uses and closes
the socket. It polls with a short timeout so ``stop()`` is prompt and the
pipeline's watchdog runs even when nothing arrives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import zmq

# ZeroMQ's default receive HWM (1000) drops silently under load; this holds
# ~10 s of the heaviest stream we expect while the pipeline catches up.
DEFAULT_RCVHWM = 100_000
# Larger messages make libzmq drop the connection instead of buffering them.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
POLL_MS = 100
TICK_S = 0.25


@dataclass(frozen=True)
class CurveConfig:
    """CurveZMQ keys for an authenticated, encrypted subscription (Z85 text)."""

    secret_key: bytes
    public_key: bytes
    server_key: bytes  # the publisher's public key


@dataclass
class SubscriberConfig:
    """Where to connect and how the socket is tuned."""

    endpoints: Sequence[str]
    topics: Sequence[str] = ("",)
    rcvhwm: int = DEFAULT_RCVHWM
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    curve: CurveConfig | None = None
    extra: dict[str, int] = field(default_factory=dict)


MessageHandler = Callable[[list[bytes], float], object]
TickHandler = Callable[[float], None]


class ZmqSubscriber:
    """Owns the SUB socket and the ``zmq-subscriber`` thread that drives the pipeline.

    ``on_message(parts, received)`` and ``on_tick(now)`` run on that thread;
    ``received`` and ``now`` come from ``clock`` (UTC seconds by default).
    """

    def __init__(
        self,
        config: SubscriberConfig,
        on_message: MessageHandler,
        on_tick: TickHandler | None = None,
        clock: Callable[[], float] = time.time,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        self.config = config
        self.on_message = on_message
        self.on_tick = on_tick
        self.clock = clock
        self._context = context or zmq.Context.instance()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str = ""
        self.received = 0
        self.internal_errors = 0

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("subscriber already started")
        self._thread = threading.Thread(
            target=self._run, name="zmq-subscriber", daemon=True
        )
        self._thread.start()
        self._ready.wait(5.0)
        if self.error:
            raise RuntimeError(self.error)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and close the socket (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _open(self) -> zmq.Socket[bytes]:
        sock = self._context.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, self.config.rcvhwm)
        sock.setsockopt(zmq.MAXMSGSIZE, self.config.max_message_bytes)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        for option, value in self.config.extra.items():
            sock.setsockopt(getattr(zmq, option), value)
        if self.config.curve is not None:
            sock.curve_secretkey = self.config.curve.secret_key
            sock.curve_publickey = self.config.curve.public_key
            sock.curve_serverkey = self.config.curve.server_key
        for topic in self.config.topics:
            sock.setsockopt(zmq.SUBSCRIBE, topic.encode("ascii"))
        for endpoint in self.config.endpoints:
            sock.connect(endpoint)
        return sock

    def _handle(self, parts: list[bytes]) -> None:
        try:
            self.on_message(parts, self.clock())
        except Exception as exc:
            self.internal_errors += 1
            self.error = f"internal error on a message: {exc!r}"[:500]

    def _run(self) -> None:
        try:
            sock = self._open()
        except (zmq.ZMQError, ValueError, AttributeError) as exc:
            self.error = f"cannot open subscriber: {exc}"
            self._ready.set()
            return
        self._ready.set()
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        next_tick = 0.0
        try:
            while not self._stop.is_set():
                if poller.poll(POLL_MS):
                    # Drain what is queued, but come back to check stop and
                    # the watchdog at least every few hundred messages.
                    for _ in range(500):
                        try:
                            parts = sock.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        self.received += 1
                        self._handle(parts)
                now = self.clock()
                if self.on_tick is not None and now >= next_tick:
                    self.on_tick(now)
                    next_tick = now + TICK_S
        finally:
            sock.close(linger=0)
