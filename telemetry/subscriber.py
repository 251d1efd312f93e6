"""The ZeroMQ SUB socket and the thread that owns it.

ZeroMQ sockets are not thread-safe, so one thread creates, uses and closes
the socket (and its monitor). It polls with a short timeout so ``stop()`` is
prompt and the pipeline's watchdog runs even when nothing arrives.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import zmq
from zmq.utils.monitor import parse_monitor_message

# ZeroMQ's default receive HWM (1000) drops silently under load; this holds
# ~10 s of the heaviest stream we expect while the pipeline catches up.
DEFAULT_RCVHWM = 100_000
# Larger messages make libzmq drop the connection instead of buffering them.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
POLL_MS = 100
TICK_S = 0.25
# A refused publisher is retried every RECONNECT_IVL_MAX; after the first
# event, further refusals from one endpoint fold into one event this often.
REFUSAL_EVENT_INTERVAL_S = 30.0
# libzmq does not reconnect after a protocol error (such as a message over
# MAXMSGSIZE) or a refusal of our key: it says nothing more about the endpoint.
# If neither a retry nor a connection follows a disconnect within this time,
# the subscriber reconnects itself (refusals wait longer: they repeat).
REVIVE_AFTER_S = 3.0
REVIVE_REFUSED_AFTER_S = 10.0
_RECONNECT_IVL_MS = 100
_RECONNECT_IVL_MAX_MS = 2000
_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
# Events that show libzmq is (re)connecting an endpoint by itself.
_CONNECTING = (
    zmq.EVENT_CONNECTED | zmq.EVENT_CONNECT_DELAYED | zmq.EVENT_CONNECT_RETRIED
)
_MONITORED = (
    _HANDSHAKE_FAILED
    | _CONNECTING
    | zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_DISCONNECTED
)


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
EventHandler = Callable[[float, str, str], None]
"""``(now, kind, detail)``: a connection event for the operator's event log."""


class ZmqSubscriber:
    """Owns the SUB socket and the ``zmq-subscriber`` thread that drives the pipeline.

    ``on_message(parts, received)``, ``on_tick(now)`` and ``on_event(now,
    kind, detail)`` run on that thread; ``received`` and ``now`` come from
    ``clock`` (UTC seconds by default).

    A socket monitor watches the connection handshakes: a publisher that
    fails the CURVE handshake (not the server key we expect, or no CURVE at
    all) or refuses our key is counted in :attr:`refused` and reported through
    ``on_event`` as ``"publisher refused"``. libzmq drops such a connection
    before any message is delivered, so nothing of it reaches the pipeline.
    The monitor also catches a connection libzmq dropped and will not retry
    (an oversized message is a protocol error): the subscriber reconnects it,
    counted in :attr:`revived` and reported as ``"link reset"``.
    """

    def __init__(
        self,
        config: SubscriberConfig,
        on_message: MessageHandler,
        on_tick: TickHandler | None = None,
        clock: Callable[[], float] = time.time,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
        on_event: EventHandler | None = None,
    ) -> None:
        self.config = config
        self.on_message = on_message
        self.on_tick = on_tick
        self.on_event = on_event
        self.clock = clock
        self._context = context or zmq.Context.instance()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str = ""
        self.received = 0
        self.internal_errors = 0
        # Counters below are written by the zmq-subscriber thread only.
        self.refused = 0
        self.handshakes = 0
        self.revived = 0
        self._refusals: dict[str, tuple[float, int]] = {}  # endpoint: (last, n)
        self._resets: dict[str, tuple[float, int]] = {}  # endpoint: (last, n)
        # Endpoint -> (monotonic time of its disconnect, refused before it).
        self._silent: dict[str, tuple[float, bool]] = {}
        self._refused_last: set[str] = set()

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

    def _open(self) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
        """Return the connected SUB socket and its monitor (closed on failure)."""
        sock = self._context.socket(zmq.SUB)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, self.config.rcvhwm)
            sock.setsockopt(zmq.MAXMSGSIZE, self.config.max_message_bytes)
            sock.setsockopt(zmq.RECONNECT_IVL, _RECONNECT_IVL_MS)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, _RECONNECT_IVL_MAX_MS)
            for option, value in self.config.extra.items():
                sock.setsockopt(getattr(zmq, option), value)
            if self.config.curve is not None:
                sock.curve_secretkey = self.config.curve.secret_key
                sock.curve_publickey = self.config.curve.public_key
                sock.curve_serverkey = self.config.curve.server_key
            for topic in self.config.topics:
                sock.setsockopt(zmq.SUBSCRIBE, topic.encode("ascii"))
            # Monitor first, connect after: a handshake refused at once was
            # otherwise missed (1 run in ~70), and libzmq never retries it.
            monitor = sock.get_monitor_socket(_MONITORED)
        except BaseException:
            sock.close(linger=0)
            raise
        try:
            for endpoint in self.config.endpoints:
                sock.connect(endpoint)
        except BaseException:
            sock.disable_monitor()
            monitor.close(linger=0)
            sock.close(linger=0)
            raise
        return sock, monitor

    def _describe_refusal(self, event: int, value: int) -> str:
        if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            return f"the publisher refused this console's key (ZAP status {value})"
        if self.config.curve is not None:
            return (
                "CURVE handshake failed: the publisher's key is not the expected "
                "server key, or it does not use CURVE"
            )
        return "handshake failed: the publisher may require CURVE keys"

    def _fold(
        self, table: dict[str, tuple[float, int]], endpoint: str, now: float
    ) -> int | None:
        """Return how many were folded since the last report, or None to stay quiet."""
        last, folded = table.get(endpoint, (-math.inf, 0))
        if now - last < REFUSAL_EVENT_INTERVAL_S:
            table[endpoint] = (last, folded + 1)
            return None
        table[endpoint] = (now, 0)
        return folded

    def _report(self, now: float, kind: str, detail: str) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(now, kind, detail)
        except Exception as exc:
            self.internal_errors += 1
            self.error = f"internal error on an event: {exc!r}"[:500]

    def _monitor_event(self, message: list[bytes]) -> None:
        try:
            parsed = parse_monitor_message(message)
        except RuntimeError:  # a malformed monitor frame: libzmq's, not ours
            return
        event = int(parsed["event"])
        endpoint = parsed["endpoint"].decode("utf-8", "replace")
        if event & _CONNECTING:
            self._silent.pop(endpoint, None)
            return
        if event == zmq.EVENT_DISCONNECTED:
            refused = endpoint in self._refused_last
            self._silent[endpoint] = (time.monotonic(), refused)
            return
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self.handshakes += 1
            # The next refusal from this endpoint is news again.
            self._refusals.pop(endpoint, None)
            self._refused_last.discard(endpoint)
            return
        if not event & _HANDSHAKE_FAILED:
            return
        self.refused += 1
        self._refused_last.add(endpoint)
        now = self.clock()
        folded = self._fold(self._refusals, endpoint, now)
        if folded is None:
            return
        detail = f"{endpoint}: {self._describe_refusal(event, int(parsed['value']))}"
        if folded:
            detail += f" ({folded + 1} attempts since the last report)"
        self._report(now, "publisher refused", detail)

    def _revive(self, sock: zmq.Socket[bytes]) -> None:
        """Reconnect endpoints libzmq dropped for good (see REVIVE_AFTER_S)."""
        if not self._silent:
            return
        mono = time.monotonic()
        for endpoint, (since, refused) in list(self._silent.items()):
            wait = REVIVE_REFUSED_AFTER_S if refused else REVIVE_AFTER_S
            if mono - since < wait:
                continue
            del self._silent[endpoint]
            if endpoint not in self.config.endpoints:  # not a name we connected
                continue
            with contextlib.suppress(zmq.ZMQError):  # already forgotten by libzmq
                sock.disconnect(endpoint)
            sock.connect(endpoint)
            self.revived += 1
            if refused:  # the refusal itself was reported (folded)
                continue
            now = self.clock()
            folded = self._fold(self._resets, endpoint, now)
            if folded is None:
                continue
            detail = (
                f"{endpoint}: the connection was dropped and libzmq would not "
                f"retry (a message over {self.config.max_message_bytes} bytes, or "
                "a protocol error); reconnected, messages lost meanwhile show "
                "as a gap"
            )
            if folded:
                detail += f" ({folded + 1} times since the last report)"
            self._report(now, "link reset", detail)

    def _handle(self, parts: list[bytes]) -> None:
        try:
            self.on_message(parts, self.clock())
        except Exception as exc:
            self.internal_errors += 1
            self.error = f"internal error on a message: {exc!r}"[:500]

    def _run(self) -> None:
        try:
            sock, monitor = self._open()
        except (zmq.ZMQError, ValueError, AttributeError) as exc:
            self.error = f"cannot open subscriber: {exc}"
            self._ready.set()
            return
        self._ready.set()
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        next_tick = 0.0
        try:
            while not self._stop.is_set():
                ready = dict(poller.poll(POLL_MS))
                if monitor in ready:
                    while True:
                        try:
                            self._monitor_event(monitor.recv_multipart(zmq.NOBLOCK))
                        except zmq.Again:
                            break
                self._revive(sock)
                if sock in ready:
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
                    next_tick = now + TICK_S
                    try:
                        self.on_tick(now)
                    except Exception as exc:  # a bug must not stop the feed
                        self.internal_errors += 1
                        self.error = f"internal error in a tick: {exc!r}"[:500]
        finally:
            sock.disable_monitor()
            monitor.close(linger=0)
            sock.close(linger=0)
