"""The ZeroMQ SUB sockets and the thread that owns them.

ZeroMQ sockets are not thread-safe, so one thread creates, uses and closes
the sockets (and their monitors). It polls with a short timeout so ``stop()``
is prompt. That thread only receives: the pipeline runs on a thread of its
own behind a queue bounded in bytes (``telemetry.bus.pipeline_feed``), so a
slow pipeline never leaves messages piling up inside libzmq.

The console connects to publishers that bind, or listens (binds) for
publishers that connect to it, or both: one SUB socket for each direction, so
each can have its own CurveZMQ role (client of a trusted publisher, or server
with an allow-list of publisher keys).
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import zmq
from zmq.utils.monitor import parse_monitor_message

from telemetry.bus.pipeline_feed import (
    DRAIN_ON_STOP_S,
    MessageHandler,
    PipelineFeed,
    ReceiveLoss,
    TickHandler,
)

if TYPE_CHECKING:
    from telemetry.bus.curve import ClientAllowList

log = logging.getLogger(__name__)

# libzmq's receive queue is bounded in messages, each up to MAXMSGSIZE: it
# is no memory bound. The receive thread copies messages out as they come
# and does nothing else, so that queue only covers its pauses (a GIL
# hand-off, 5 ms by default; a garbage collection): 10,000 messages is
# 100 ms of a 100,000 msg/s stream. A slow pipeline is absorbed by the
# byte-bounded receive queue behind it instead, where loss is counted.
DEFAULT_RCVHWM = 10_000
# Larger messages make libzmq drop the connection instead of buffering them.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
#: Bytes received but not yet through the pipeline (see pipeline_feed): four
#: of the largest messages admitted, so any message fits on a healthy pipeline.
DEFAULT_RECEIVE_QUEUE_BYTES = 4 * DEFAULT_MAX_MESSAGE_BYTES
POLL_MS = 100
TICK_S = 0.25
# After a drain that took messages, the receive thread waits this long before
# polling again: each wake-up takes the GIL from the pipeline thread (up to
# the 5 ms switch interval, and a context switch), so waking per message at
# thousands of messages/s costs the pipeline a good part of a core. 2 ms of
# messages is far below RCVHWM at any rate we expect, and no display needs
# data sooner than its 50 ms frame.
RECEIVE_PAUSE_S = 0.002
# Messages dropped with the receive queue full are reported at once, then
# folded into one event this often while the drops go on.
DROP_EVENT_INTERVAL_S = 5.0
#: The event kind of messages this console dropped (receive queue full).
RECEIVE_QUEUE_FULL = "receive queue full"
# A refused publisher is retried every RECONNECT_IVL_MAX; after the first
# event, further refusals from one endpoint (or one unknown publisher key)
# fold into one event this often.
REFUSAL_EVENT_INTERVAL_S = 30.0
# Distinct refused keys remembered between two reports (for their count).
MAX_FOLDED_KEYS = 1000
#: An endpoint with this prefix is bound, not connected (CZMQ's convention):
#: the console listens there for publishers that connect to it.
LISTEN_PREFIX = "@"
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
    """The console's CurveZMQ keys for authenticated, encrypted links (Z85 text).

    Connecting, the console is the CURVE client and trusts only
    ``server_key`` (the publisher's public key). Listening, it is the CURVE
    server and admits only publishers whose public key is in
    ``allowed_publishers`` (``{key: name}``, checked by a ZAP handler).
    """

    secret_key: bytes
    public_key: bytes
    server_key: bytes | None = None
    allowed_publishers: Mapping[bytes, str] = field(default_factory=dict)


def listen_endpoint(endpoint: str) -> str:
    """Return ``endpoint`` marked for ``SubscriberConfig.endpoints`` as one to bind."""
    return endpoint if endpoint.startswith(LISTEN_PREFIX) else LISTEN_PREFIX + endpoint


@dataclass
class SubscriberConfig:
    """Where to connect or listen, and how the sockets are tuned.

    ``endpoints`` are connected to, except those marked with ``@``
    (``listen_endpoint``), which are bound: publishers connect to them.
    ``receive_queue_bytes`` bounds what is received and not yet through the
    pipeline; past it messages are dropped and counted.
    """

    endpoints: Sequence[str]
    topics: Sequence[str] = ("",)
    rcvhwm: int = DEFAULT_RCVHWM
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    receive_queue_bytes: int = DEFAULT_RECEIVE_QUEUE_BYTES
    curve: CurveConfig | None = None
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def connect_endpoints(self) -> list[str]:
        return [e for e in self.endpoints if not e.startswith(LISTEN_PREFIX)]

    @property
    def listen_endpoints(self) -> list[str]:
        return [e[1:] for e in self.endpoints if e.startswith(LISTEN_PREFIX)]

    def check(self) -> None:
        """Raise ``ValueError`` if the CURVE keys do not fit the endpoints."""
        curve = self.curve
        if curve is None:
            return
        if self.connect_endpoints and curve.server_key is None:
            raise ValueError(
                "connecting with CurveZMQ needs the publisher's public key "
                "(publisher.key) to trust"
            )
        if self.listen_endpoints and not curve.allowed_publishers:
            raise ValueError(
                "listening with CurveZMQ needs an allow-list of publisher public "
                "keys (--curve-allow)"
            )


@dataclass
class _Link:
    """One SUB socket, its monitor and its direction (zmq-subscriber thread)."""

    socket: zmq.Socket[bytes]
    monitor: zmq.Socket[bytes]
    listening: bool
    bound: list[str] = field(default_factory=list)  # resolved, when listening

    def close(self) -> None:
        self.socket.disable_monitor()
        self.monitor.close(linger=0)
        self.socket.close(linger=0)


EventHandler = Callable[[float, str, str], None]
"""``(now, kind, detail)``: a connection event for the operator's event log."""


class ZmqSubscriber:
    """Owns the SUB sockets, the ``zmq-subscriber`` thread and the pipeline's thread.

    The ``zmq-subscriber`` thread receives and queues each message with its
    receive time; ``on_message(parts, received)`` and ``on_tick(now)`` run on
    the ``telemetry-pipeline`` thread (:class:`PipelineFeed`), in order, ticks
    every ``TICK_S`` whether messages arrive or not. ``on_event(now, kind,
    detail)`` runs on the ``zmq-subscriber`` thread (so an event still reaches
    the log while the pipeline is stuck; a loss at stop is reported on the
    thread calling :meth:`stop`): it must be thread-safe.
    ``received`` and ``now`` come from ``clock`` (UTC seconds by default).

    A message that does not fit the receive queue
    (``SubscriberConfig.receive_queue_bytes``) is dropped, counted in
    :attr:`dropped` / :attr:`loss` and reported as ``"receive queue full"``:
    once, then folded every ``DROP_EVENT_INTERVAL_S``. ``stop()`` stops
    receiving first, then lets the pipeline finish what is queued.

    A socket monitor watches the connection handshakes: a publisher that
    fails the CURVE handshake (not the server key we expect, or no CURVE at
    all) or refuses our key is counted in :attr:`refused` and reported through
    ``on_event`` as ``"publisher refused"``. libzmq drops such a connection
    before any message is delivered, so nothing of it reaches the pipeline.
    The monitor also catches a connection libzmq dropped and will not retry
    (an oversized message is a protocol error): the subscriber reconnects it,
    counted in :attr:`revived` and reported as ``"link reset"``.

    Listening with CurveZMQ, the thread also owns a ZAP allow-list of
    publisher keys (``telemetry.bus.curve.ClientAllowList``): started before
    the socket binds, stopped after it closes, in a context of its own unless
    one is given (only one ZAP handler may serve a context). A publisher whose
    key is not listed is refused, logged, counted in :attr:`refused` and
    reported as ``"publisher refused"`` with its shortened key and address.
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
        self.on_event = on_event
        self.clock = clock
        config.check()
        self._given_context = context
        self._context = context or zmq.Context.instance()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self.feed = PipelineFeed(
            config.receive_queue_bytes, on_message, on_tick, clock, TICK_S
        )
        self._error = ""
        self._internal_errors = 0
        # Counters below are written by the zmq-subscriber thread only.
        self._drops_reported = (0, 0)  # (messages, bytes) in the last report
        self._drop_report_at = -math.inf  # monotonic
        self.refused = 0
        self.handshakes = 0
        self.revived = 0
        self._refusals: dict[str, tuple[float, int]] = {}  # endpoint: (last, n)
        self._resets: dict[str, tuple[float, int]] = {}  # endpoint: (last, n)
        # Endpoint -> (monotonic time of its disconnect, refused before it).
        self._silent: dict[str, tuple[float, bool]] = {}
        self._refused_last: set[str] = set()
        # Distinct unknown keys since the last report (bounded).
        self._refused_keys: set[bytes] = set()
        # (z85 key, peer address) of publishers the ZAP handler refused: put
        # by the authenticator thread, reported by the zmq-subscriber thread.
        self._zap_refusals: queue.SimpleQueue[tuple[bytes, str]] = queue.SimpleQueue()
        self.listening_on: list[str] = []  # resolved endpoints, once started

    @property
    def on_message(self) -> MessageHandler:
        """The handler the ``telemetry-pipeline`` thread calls per message."""
        return self.feed.on_message

    @property
    def on_tick(self) -> TickHandler | None:
        """The watchdog the ``telemetry-pipeline`` thread calls every ``TICK_S``."""
        return self.feed.on_tick

    @property
    def received(self) -> int:
        """Messages the pipeline has processed (dropped ones are not counted)."""
        return self.feed.processed

    @property
    def dropped(self) -> int:
        """Messages received but dropped by this console (receive queue full)."""
        return self.feed.dropped + self.feed.dropped_at_stop

    def loss(self) -> ReceiveLoss:
        """Return what this console received and never processed; any thread."""
        return self.feed.loss()

    @property
    def internal_errors(self) -> int:
        return self._internal_errors + self.feed.internal_errors

    @property
    def error(self) -> str:
        """The last internal error (a bug, logged with its traceback), or ""."""
        return self.feed.error or self._error

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("subscriber already started")
        self.feed.start()
        self._thread = threading.Thread(
            target=self._run, name="zmq-subscriber", daemon=True
        )
        self._thread.start()
        self._ready.wait(5.0)
        if self._error:
            self.feed.stop()
            raise RuntimeError(self._error)

    def stop(self, timeout: float = 5.0, drain_s: float = DRAIN_ON_STOP_S) -> None:
        """Stop receiving, let the pipeline finish what is queued, join (idempotent).

        The receive thread stops first (no new message enters); the pipeline
        then processes what was received, for up to ``drain_s``: data already
        received is not lost on a normal stop. What is left at that deadline
        is counted in :meth:`loss` and reported.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if not self.feed.running:
            return
        self.feed.stop(drain_s)
        if self.feed.dropped_at_stop:
            loss = self.feed.loss()
            self._report(
                self.clock(),
                RECEIVE_QUEUE_FULL,
                f"stopped with {loss.at_stop} messages received but not processed "
                f"within {drain_s:.0f} s: dropped by this console",
            )

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _open(self, context: zmq.Context[zmq.Socket[bytes]], listening: bool) -> _Link:
        """Return a connected or a bound SUB socket with its monitor."""
        sock = context.socket(zmq.SUB)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, self.config.rcvhwm)
            sock.setsockopt(zmq.MAXMSGSIZE, self.config.max_message_bytes)
            sock.setsockopt(zmq.RECONNECT_IVL, _RECONNECT_IVL_MS)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, _RECONNECT_IVL_MAX_MS)
            for option, value in self.config.extra.items():
                sock.setsockopt(getattr(zmq, option), value)
            curve = self.config.curve
            if curve is not None:
                sock.curve_secretkey = curve.secret_key
                sock.curve_publickey = curve.public_key
                if listening:
                    # CURVE server: the ZAP allow-list decides who may publish.
                    sock.curve_server = True
                else:
                    assert curve.server_key is not None  # SubscriberConfig.check
                    sock.curve_serverkey = curve.server_key
            for topic in self.config.topics:
                sock.setsockopt(zmq.SUBSCRIBE, topic.encode("ascii"))
            # Monitor first, connect after: a handshake refused at once was
            # otherwise missed (1 run in ~70), and libzmq never retries it.
            monitor = sock.get_monitor_socket(_MONITORED)
        except BaseException:
            sock.close(linger=0)
            raise
        link = _Link(sock, monitor, listening)
        try:
            if listening:
                for endpoint in self.config.listen_endpoints:
                    sock.bind(endpoint)
                    # A ``tcp://host:*`` endpoint resolves to the port picked.
                    link.bound.append(sock.getsockopt_string(zmq.LAST_ENDPOINT))
            else:
                for endpoint in self.config.connect_endpoints:
                    sock.connect(endpoint)
        except BaseException:
            link.close()
            raise
        return link

    def _allow_list(
        self, context: zmq.Context[zmq.Socket[bytes]], curve: CurveConfig
    ) -> ClientAllowList:
        """Return the ZAP allow-list of publisher keys a CURVE listener needs."""
        # Imported here: telemetry.bus.curve brings the publisher and the
        # simulator with it, which a console that only connects never needs.
        from telemetry.bus.curve import ClientAllowList

        return ClientAllowList(
            context,
            curve.allowed_publishers,
            peer="publisher",
            on_refused=lambda key, address: self._zap_refusals.put((key, address)),
        )

    def _describe_refusal(self, event: int, value: int, listening: bool) -> str:
        if listening and self.config.curve is not None:
            return (
                "a publisher failed the CURVE handshake: it does not use CURVE, "
                "or its server key is not this console's public key"
            )
        if listening:
            return (
                "a publisher's handshake failed: it may use CURVE keys, but this "
                "console listens without them"
            )
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
        if kind == "publisher refused":
            log.warning("%s", detail)
        if self.on_event is None:
            return
        try:
            self.on_event(now, kind, detail)
        except Exception as exc:
            log.exception("internal error on a subscriber event")
            self._internal_errors += 1
            self._error = f"internal error on an event: {exc!r}"[:500]

    def _monitor_event(self, message: list[bytes], listening: bool = False) -> None:
        try:
            parsed = parse_monitor_message(message)
        except RuntimeError:  # a malformed monitor frame: libzmq's, not ours
            return
        event = int(parsed["event"])
        endpoint = parsed["endpoint"].decode("utf-8", "replace")
        if listening:
            self._listener_event(event, endpoint, int(parsed["value"]))
            return
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
        reason = self._describe_refusal(event, int(parsed["value"]), False)
        detail = f"{endpoint}: {reason}"
        if folded:
            detail += f" ({folded + 1} attempts since the last report)"
        self._report(now, "publisher refused", detail)

    def _listener_event(self, event: int, endpoint: str, value: int) -> None:
        """Count and report a handshake on a listening socket."""
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self.handshakes += 1
            return
        if not event & _HANDSHAKE_FAILED:
            return
        if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH and self.config.curve is not None:
            return  # the ZAP handler's refusal, reported with its key instead
        self.refused += 1
        now = self.clock()
        folded = self._fold(self._refusals, endpoint, now)
        if folded is None:
            return
        detail = f"{endpoint}: {self._describe_refusal(event, value, True)}"
        if folded:
            detail += f" ({folded + 1} attempts since the last report)"
        self._report(now, "publisher refused", detail)

    def _report_zap_refusals(self) -> None:
        """Count and report publishers the ZAP allow-list refused since last time.

        Folded over every unknown key, not per key: a flood of invented keys
        (each a new one) is one event per interval that says how many
        attempts and distinct keys it held, and the table stays one entry.
        """
        while True:
            try:
                key, address = self._zap_refusals.get_nowait()
            except queue.Empty:
                return
            self.refused += 1
            if len(self._refused_keys) < MAX_FOLDED_KEYS:
                self._refused_keys.add(key)
            now = self.clock()
            folded = self._fold(self._refusals, "unknown publisher keys", now)
            if folded is None:
                continue
            where = ", ".join(self.listening_on)
            detail = (
                f"{where}: publisher key {short_key(key)} from "
                f"{address or 'an unknown address'} is not on this console's "
                "allow-list"
            )
            if folded:
                distinct = len(self._refused_keys)
                more = "+" if distinct >= MAX_FOLDED_KEYS else ""
                detail += (
                    f" ({folded + 1} attempts from {distinct}{more} distinct "
                    "keys since the last report)"
                )
            self._refused_keys = {key}
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
            if endpoint not in self.config.connect_endpoints:  # not a name we connected
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

    def _report_drops(self, final: bool = False) -> None:
        """Report messages dropped since the last report, folded per interval."""
        feed = self.feed
        messages, nbytes = self._drops_reported
        if feed.dropped == messages:
            return
        mono = time.monotonic()
        if not final and mono - self._drop_report_at < DROP_EVENT_INTERVAL_S:
            return
        self._drop_report_at = mono
        self._drops_reported = (feed.dropped, feed.dropped_bytes)
        count, mib = feed.dropped - messages, (feed.dropped_bytes - nbytes) / 2**20
        self._report(
            self.clock(),
            RECEIVE_QUEUE_FULL,
            f"receive queue full: {count} message{'' if count == 1 else 's'} "
            f"({mib:.1f} MiB) dropped by "
            f"this console, the pipeline is behind ({feed.budget / 2**20:.0f} MiB "
            "waiting); the sequence gaps they leave are this console's loss, not "
            f"the publisher's ({feed.dropped} dropped this session)",
        )

    def _run(self) -> None:
        context = self._context
        own_context: zmq.Context[zmq.Socket[bytes]] | None = None
        allow: ClientAllowList | None = None
        links: list[_Link] = []
        try:
            if self.config.curve is not None and self.config.listen_endpoints:
                if self._given_context is None:
                    own_context = context = zmq.Context()
                allow = self._allow_list(context, self.config.curve)
                allow.start()  # before binding: no handshake goes unchecked
            if self.config.connect_endpoints or not self.config.listen_endpoints:
                links.append(self._open(context, listening=False))
            if self.config.listen_endpoints:
                links.append(self._open(context, listening=True))
                self.listening_on = links[-1].bound
        except (zmq.ZMQError, ValueError, AttributeError, RuntimeError) as exc:
            self._error = f"cannot open subscriber: {exc}"
            self._close(links, allow, own_context)
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop(links)
        finally:
            self._close(links, allow, own_context)
            # What was admitted goes to the pipeline; what was dropped is said.
            self.feed.flush()
            self._report_drops(final=True)

    @staticmethod
    def _close(
        links: list[_Link],
        allow: ClientAllowList | None,
        context: zmq.Context[zmq.Socket[bytes]] | None,
    ) -> None:
        for link in links:
            link.close()
        if allow is not None:
            allow.stop()
        if context is not None:
            context.term()

    def _loop(self, links: list[_Link]) -> None:
        poller = zmq.Poller()
        for link in links:
            poller.register(link.socket, zmq.POLLIN)
            poller.register(link.monitor, zmq.POLLIN)
        connected = next((link.socket for link in links if not link.listening), None)
        while not self._stop.is_set():
            ready = dict(poller.poll(POLL_MS))
            for link in links:
                if link.monitor not in ready:
                    continue
                while True:
                    try:
                        message = link.monitor.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    self._monitor_event(message, link.listening)
            self._report_zap_refusals()
            if connected is not None:
                self._revive(connected)
            got = 0
            for link in links:
                if link.socket in ready:
                    got += self._drain(link.socket)
            self._report_drops()
            if got:
                # Let a few ms of messages gather in libzmq before the next
                # drain: one GIL hand-off per batch, not per message, leaves
                # the pipeline thread its CPU (see RECEIVE_PAUSE_S).
                self._stop.wait(RECEIVE_PAUSE_S)

    def _drain(self, sock: zmq.Socket[bytes]) -> int:
        """Queue what libzmq holds for the pipeline; return how many were taken.

        Comes back to check stop, the monitors and the drop report at least
        every few thousand messages.
        """
        feed = self.feed
        got = 0
        try:
            for _ in range(5000):
                try:
                    parts = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                feed.admit(parts, self.clock())
                got += 1
        finally:
            feed.flush()
        return got


def short_key(key: bytes) -> str:
    """Return a Z85 public key shortened for an operator's event line."""
    text = key.decode("ascii", "replace")
    return f"{text[:8]}…{text[-4:]}"
