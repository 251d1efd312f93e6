"""CurveZMQ key files and allow-lists, and publishing with them.

CURVE alone admits any client that knows the server's public key, so the
CURVE server also runs a ZAP handler (pyzmq's ``ThreadAuthenticator``) that
checks each client's key against an allow-list. Two topologies (README
"Security"):

- the publisher binds and is the CURVE server; its allow-list holds console
  keys (``run_secure_simulator``, ``kibo-console replay --curve-secret``);
- the console listens and is the CURVE server; its allow-list holds publisher
  keys (``telemetry.bus.subscriber``), and publishers connect to it as CURVE
  clients (``--connect ENDPOINT --curve-server-key CONSOLE.key``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Unpack

import zmq
from zmq.auth.thread import ThreadAuthenticator

from telemetry.bus.keyfile import read_public_key, read_secret_key
from telemetry.bus.publisher import (
    PublishOptions,
    PublishStats,
    publish,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from telemetry.bus.publisher import FrameLike, RawMessage

log = logging.getLogger(__name__)

#: Seconds between two log lines about refused keys (the rest are counted).
REFUSAL_LOG_INTERVAL_S = 30.0

RefusalHandler = Callable[[bytes, str], None]
"""``(z85_key, peer_address)`` of a refused client, called on the ZAP thread."""


def load_allowed_keys(
    paths: Iterable[str | Path],
    exclude: bytes | None = None,
    peer: Literal["console", "publisher"] = "console",
) -> dict[bytes, str]:
    """Read the public keys of allowed peers: files, or every ``*.key`` in a directory.

    Returns ``{z85_key: name}`` (the file name without ``.key``, for the log).
    ``exclude`` (the CURVE server's own public key) is left out, so a key
    directory made with ``kibo-console keys`` can be passed as it is.
    ``peer`` names who the keys belong to, for the error message.

    Raises
    ------
    ValueError
        If a key file is not a 40-character Z85 key, or it or its directory
        is writable by others (``telemetry.bus.keyfile``), or no key is found.
    FileNotFoundError
        If a path does not exist.
    """
    keys: dict[bytes, str] = {}
    searched: list[str] = []
    for raw in paths:
        path = Path(raw)
        searched.append(str(path))
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such key file or directory")
        files = sorted(path.glob("*.key")) if path.is_dir() else [path]
        for file in files:
            key = read_public_key(file)
            if key != exclude:
                keys[key] = file.stem
    if not keys:
        server = "console" if peer == "publisher" else "publisher"
        raise ValueError(
            f"no {peer} public key (*.key) in {', '.join(searched)}: make one "
            f"with 'kibo-console keys --name {peer} --out DIR' and copy the "
            f".key file (never the .key_secret) next to the {server}'s key"
        )
    return keys


class _AddressedAuthenticator(ThreadAuthenticator):
    """pyzmq's ZAP handler, remembering the peer address of the request in hand.

    pyzmq passes a credentials callback only the domain and the key; the
    address is in the ZAP request. Written and read on the ZAP thread only.
    """

    address = ""

    async def handle_zap_message(self, msg: list[bytes]) -> None:
        self.address = msg[3].decode("utf-8", "replace") if len(msg) > 3 else ""
        await super().handle_zap_message(msg)


class ClientAllowList:
    """A ZAP handler admitting only listed CURVE client keys.

    Created, started and stopped by the thread that owns the CURVE server
    socket (the publisher's, or the listening console's ``zmq-subscriber``);
    the key check itself runs on pyzmq's authenticator thread, which
    :meth:`start` starts and :meth:`stop` joins. It must share the context of
    the sockets it guards (ZAP is an ``inproc://`` endpoint), and only one may
    run per context. ``accepted`` and ``refused`` may be read from any thread;
    ``on_refused(key, address)`` is called on the authenticator thread.
    """

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        keys: Mapping[bytes, str],
        *,
        peer: Literal["console", "publisher"] = "console",
        on_refused: RefusalHandler | None = None,
    ) -> None:
        self._keys = dict(keys)
        self._peer = peer
        self._on_refused = on_refused
        self._auth = _AddressedAuthenticator(context, log=log)
        self._lock = threading.Lock()
        self.accepted = 0
        self.refused = 0
        self._last_log = -math.inf  # monotonic time of the last refusal line
        self._logged = 0

    def callback(self, domain: str, key: bytes) -> bool:
        """Return whether the Z85 client ``key`` may connect (ZAP thread)."""
        name = self._keys.get(key)
        address = self._auth.address
        with self._lock:
            if name is None:
                self.refused += 1
            else:
                self.accepted += 1
        if name is None:
            now = time.monotonic()
            if now - self._last_log >= REFUSAL_LOG_INTERVAL_S:
                # One line per interval, whatever the number of keys tried.
                folded = self.refused - self._logged
                self._last_log, self._logged = now, self.refused
                log.warning(
                    "refused a %s with an unknown key %s from %s%s",
                    self._peer,
                    key.decode(),
                    address or "an unknown address",
                    f" ({folded} refusals since the last line)" if folded > 1 else "",
                )
            if self._on_refused is not None:
                self._on_refused(key, address)
            return False
        log.info("accepted %s %r from %s", self._peer, name, address)
        return True

    def start(self) -> None:
        """Start answering ZAP requests for every CURVE server in the context."""
        self._auth.start()
        self._auth.configure_curve_callback("*", credentials_provider=self)

    def stop(self) -> None:
        """Stop the authenticator thread (idempotent)."""
        self._auth.stop()

    def __enter__(self) -> ClientAllowList:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class PublisherCurve:
    """A publisher's CurveZMQ keys and role, loaded before any socket exists.

    With no ``server_key`` the publisher is the CURVE server and admits only
    the consoles in ``allowed``; with one it is a CURVE client of a listening
    console whose public key that is.
    """

    secret_key: bytes
    allowed: Mapping[bytes, str] = field(default_factory=dict)
    server_key: bytes | None = None


def load_publisher_curve(
    curve_secret: str | Path,
    allowed: Iterable[str | Path] = (),
    server_key: str | Path | None = None,
) -> PublisherCurve:
    """Read a publisher's keys: its secret, and the allow-list or the console's key.

    ``allowed`` lists key files or directories of ``*.key`` files; empty means
    the directory of ``curve_secret`` (where ``kibo-console keys`` put them).

    Raises
    ------
    ValueError
        For a bad or exposed key file, no allowed key, or an allow-list given
        with ``server_key`` (a CURVE client admits nobody).
    """
    secret = read_secret_key(curve_secret)
    allowed = list(allowed)
    if server_key is not None:
        if allowed:
            raise ValueError(
                "--curve-allow lists the consoles a publisher admits as CURVE "
                "server; with --curve-server-key the listening console is the "
                "server and keeps the allow-list"
            )
        return PublisherCurve(secret, server_key=read_public_key(server_key))
    keys = load_allowed_keys(
        allowed or [Path(curve_secret).parent], exclude=zmq.curve_public(secret)
    )
    return PublisherCurve(secret, allowed=keys)


def publish_with_curve(
    frames: Iterable[FrameLike | RawMessage],
    endpoint: str,
    curve: PublisherCurve | None,
    **options: Unpack[PublishOptions],
) -> PublishStats:
    """``publish`` with ``curve``'s keys: as a server with its allow-list, or a client.

    Without ``curve`` this is plain ``publish``. As a server, the ZAP
    allow-list runs for the length of the call in a context of its own.
    """
    if curve is None:
        return publish(frames, endpoint, **options)
    if curve.server_key is None:
        log.info("CURVE server; %d console key(s) allowed", len(curve.allowed))
    else:
        log.info("CURVE client of the console at %s", endpoint)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        with (
            ClientAllowList(context, curve.allowed)
            if curve.server_key is None
            else contextlib.nullcontext()
        ):
            return publish(
                frames,
                endpoint,
                context=context,
                curve_secret_key=curve.secret_key,
                curve_server_key=curve.server_key,
                **options,
            )
    finally:
        context.term()
