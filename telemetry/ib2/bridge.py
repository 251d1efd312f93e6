"""``kibo-console ib2-bridge``: Int-Ball2's UDP downlink in, protocol v1 out on ZeroMQ.

Listens where JAXA's ground software does (robot telemetry, and optionally
the docking station's record), decodes each datagram (restricted unpickler,
rosbags, the id table and frame transform of ``resources/ib2``) and
publishes every part at once as one protocol v1 message on an XPUB socket,
so every console and recorder on the bus sees the robot. Int-Ball2 has no
sequence number: the bridge numbers its own messages (seq +1 per message
per source) and shows loss as staleness per sending socket. Rejected
datagrams are counted by reason and reported, never executed. The bridge
thread owns the sockets and the decoder; ``stop()`` may come from any thread.
"""

from __future__ import annotations

import math
import selectors
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import zmq

from telemetry.bus.publisher import Publisher
from telemetry.core.wire import encode_frame
from telemetry.ib2.dock import decode_dock
from telemetry.ib2.downlink import ChannelBound, DownlinkDecoder, columns_of
from telemetry.ib2.reassembly import PartTracker
from telemetry.ib2.unpickler import PickleRefused

if TYPE_CHECKING:
    from collections.abc import Callable

#: Robot telemetry and dock ports of JAXA's ground software (params.yml).
ROBOT_PORT: Final = 34567
DOCK_PORT: Final = 49304
#: gui_config.ini: Int-Ball2 and dock loss timeouts.
STALE_AFTER_S: Final = 5.0
_RECV_SIZE: Final = 65536  # larger than any UDP payload: oversize is seen whole
_SAY_EVERY_S: Final = 5.0
_DRAIN_MAX: Final = 1000


def parse_udp(text: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` (``ValueError`` naming the text if it is not one)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"not a UDP HOST:PORT: {text!r}")
    return host.strip("[]"), int(port)


@dataclass(slots=True)
class SocketHealth:
    """Arrivals of one sending socket (robot port index, or the dock); bridge thread."""

    name: str
    datagrams: int = 0
    last_arrival: float = float("nan")
    stale: bool = False


@dataclass(slots=True)
class BridgeStats:
    """What the bridge did: written by its thread, read by the command's main thread."""

    received: int = 0
    published: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    sockets: dict[str, SocketHealth] = field(default_factory=dict)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


class Ib2Bridge:
    """UDP sockets -> decoder -> XPUB publisher; owned by its ``ib2-bridge`` thread."""

    def __init__(
        self,
        robot: tuple[str, int],
        bind: str,
        *,
        dock: tuple[str, int] | None = None,
        robot_source: str = "ib2",
        dock_source: str = "ib2-dock",
        stale_after_s: float = STALE_AFTER_S,
        on_status: Callable[[str], None] | None = None,
        context: zmq.Context[Any] | None = None,
        decoder: DownlinkDecoder | None = None,
    ) -> None:
        self.robot_source = robot_source
        self.dock_source = dock_source
        self.stale_after_s = stale_after_s
        self.on_status = on_status or (lambda text: None)
        self.decoder = decoder if decoder is not None else DownlinkDecoder()
        self.parts = PartTracker()
        self.bound = ChannelBound()
        self._last_said: dict[str, float] = {}
        self.stats = BridgeStats()
        self._seq: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._selector = selectors.DefaultSelector()
        self._sockets: list[socket.socket] = []
        try:
            self.robot_address = self._listen(robot, "robot")
            self.dock_address = self._listen(dock, "dock") if dock else None
            self.publisher = Publisher(bind, context=context)
        except OSError:
            self._close_sockets()
            raise
        except zmq.ZMQError as exc:
            self._close_sockets()
            raise OSError(f"cannot publish on {bind}: {exc}") from None
        self.endpoint = self.publisher.endpoint

    def _listen(self, address: tuple[str, int], kind: str) -> tuple[str, int]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sockets.append(sock)
        try:
            sock.bind(address)
        except OSError as exc:
            raise OSError(
                f"cannot listen for {kind} telemetry on UDP {address[0]}:"
                f"{address[1]}: {exc.strerror or exc}"
            ) from None
        sock.setblocking(False)
        self._selector.register(sock, selectors.EVENT_READ, kind)
        host, port = sock.getsockname()[:2]
        return str(host), int(port)

    def _close_sockets(self) -> None:
        self._selector.close()
        for sock in self._sockets:
            sock.close()

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="ib2-bridge", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (if started) and close every socket."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:
            self.close()

    def close(self) -> None:
        self._close_sockets()
        self.publisher.close()

    def run(self) -> None:
        """Receive and publish until ``stop()``; closes the sockets at the end."""
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(0.2):
                    self._drain(key.fileobj, str(key.data))  # type: ignore[arg-type]
                self._check_staleness(time.time())
        finally:
            self.close()

    def _drain(self, sock: socket.socket, kind: str) -> None:
        # Bounded, so a flood cannot hold off the staleness check and stop().
        for _ in range(_DRAIN_MAX):
            try:
                data, _ = sock.recvfrom(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP errors surface here on some systems
                self._reject("socket error", str(exc))
                return
            self.receive(data, kind, time.time())

    # ------------------------------------------------------------- decoding

    def receive(self, data: bytes, kind: str, arrival: float) -> None:
        """Decode one datagram received at ``arrival`` and publish it (or count it)."""
        self.stats.received += 1
        try:
            if kind == "dock":
                values = decode_dock(data)
                self._arrived("dock", arrival)
                # The record carries no time: stamped on arrival, as JAXA's bridge does.
                self._publish("dock", self.dock_source, {arrival: dict(values)})
                return
            part = self.decoder.part(data)
        except PickleRefused as exc:
            self._reject(exc.reason, exc.detail)
            return
        name = f"robot port {part.port_index}"
        self._arrived(name, arrival)
        missed = self.parts.add(part.port_index, part.split_number, part.split_index)
        if missed:
            self.on_status(f"{name}: {missed} split part(s) missed")
        try:
            rows = self.decoder.decode(part)
            self._publish("robot", self.robot_source, rows.rows)
        except Exception as exc:  # never let one datagram end the bridge thread
            self._reject("decode error", f"{type(exc).__name__}: {exc}")

    def _publish(self, family: str, source: str, rows: dict[float, Any]) -> None:
        self.bound.admit(source, rows)
        times, columns = columns_of(rows)
        self._seq[source] += 1
        self.publisher.send(
            encode_frame(family, source, self._seq[source], times, columns)
        )
        self.stats.published += 1

    def _reject(self, reason: str, detail: str) -> None:
        self.stats.rejected[reason] += 1
        # One line per reason per interval: a flood is counted, not printed.
        now = time.monotonic()
        if now - self._last_said.get(reason, -math.inf) >= _SAY_EVERY_S:
            self._last_said[reason] = now
            count = self.stats.rejected[reason]
            self.on_status(f"rejected datagram ({reason}, {count} so far): {detail}")

    def _arrived(self, name: str, arrival: float) -> None:
        health = self.stats.sockets.setdefault(name, SocketHealth(name))
        if health.stale:
            self.on_status(f"{name}: receiving again")
        health.datagrams += 1
        health.last_arrival = arrival
        health.stale = False

    def _check_staleness(self, now: float) -> None:
        for health in self.stats.sockets.values():
            if not health.stale and now - health.last_arrival > self.stale_after_s:
                health.stale = True
                self.on_status(
                    f"{health.name}: stale, nothing for "
                    f"{now - health.last_arrival:.0f} s"
                )
