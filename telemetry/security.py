"""CurveZMQ, publisher side: only consoles whose public key is listed may subscribe.

The publisher is the CURVE server. CURVE alone admits any client that knows the
server's public key; a ZAP handler (pyzmq's ``ThreadAuthenticator``) checks
each client's key against an allow-list as well. See README "Security".
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import zmq
from zmq.auth.thread import ThreadAuthenticator

from telemetry.dictionary import DEFAULT_DICTIONARY, TelemetryDictionary
from telemetry.publisher import (
    PublishStats,
    check_simulation,
    publish,
    read_curve_key,
    simulated_frames,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from telemetry.faults import FaultPlan

log = logging.getLogger(__name__)


def read_secret_key(path: str | Path) -> bytes:
    """Read a CURVE secret key file, refusing one that others may read.

    Like ssh with a private key: a secret readable by group or others may have
    leaked, so the link it protects cannot be trusted.

    Raises
    ------
    ValueError
        If the file's mode allows group or other access, or it is no key.
    """
    path = Path(path)
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ValueError(
            f"{path}: secret key is readable by others (mode {mode:o}); "
            f"run 'chmod 600 {path}' if it has not leaked, else make a new pair"
        )
    return read_curve_key(path)


def load_allowed_keys(
    paths: Iterable[str | Path], exclude: bytes | None = None
) -> dict[bytes, str]:
    """Read console public keys: files, or every ``*.key`` file in a directory.

    Returns ``{z85_key: name}`` (the file name without ``.key``, for the log).
    ``exclude`` (the server's own public key) is left out, so a key directory
    made with ``kibo-console keys`` can be passed as it is.

    Raises
    ------
    ValueError
        If a key file is not a 40-character Z85 key, or no key is found.
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
            key = read_curve_key(file)
            if key != exclude:
                keys[key] = file.stem
    if not keys:
        raise ValueError(
            f"no console public key (*.key) in {', '.join(searched)}: make one "
            "with 'kibo-console keys --name console --out DIR' and copy the "
            ".key file (never the .key_secret) next to the publisher's key"
        )
    return keys


class ClientAllowList:
    """A ZAP handler admitting only listed CURVE client keys.

    Created, started and stopped by the thread that owns the publishing
    socket; the key check itself runs on pyzmq's authenticator thread, which
    :meth:`start` starts and :meth:`stop` joins. It must share the context of
    the sockets it guards (ZAP is an ``inproc://`` endpoint). ``accepted`` and
    ``refused`` may be read from any thread.
    """

    def __init__(
        self, context: zmq.Context[zmq.Socket[bytes]], keys: Mapping[bytes, str]
    ) -> None:
        self._keys = dict(keys)
        self._auth = ThreadAuthenticator(context, log=log)
        self._lock = threading.Lock()
        self.accepted = 0
        self.refused = 0

    def callback(self, domain: str, key: bytes) -> bool:
        """Return whether the Z85 client ``key`` may connect (ZAP thread)."""
        name = self._keys.get(key)
        with self._lock:
            if name is None:
                self.refused += 1
            else:
                self.accepted += 1
        if name is None:
            log.warning("refused a console with an unknown key %s", key.decode())
            return False
        log.info("accepted console %r", name)
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


def run_secure_simulator(
    dictionary: TelemetryDictionary | Path | str = DEFAULT_DICTIONARY,
    *,
    bind: str,
    curve_secret: str | Path,
    allowed: Iterable[str | Path] = (),
    seed: int = 1,
    duration: float | None = None,
    rate_scale: float = 1.0,
    scenario: str = "nominal",
    stop_event: threading.Event | None = None,
    encoding: Literal["json", "msgpack"] = "msgpack",
    faults: str | Path | FaultPlan | None = None,
    wait_for_subscriber: float | None = None,
    on_bound: Callable[[str], None] | None = None,
) -> PublishStats:
    """Run the simulator as a CURVE server that admits only the ``allowed`` consoles.

    ``allowed`` lists key files or directories of ``*.key`` files; empty means
    the directory of ``curve_secret`` (where ``kibo-console keys`` put them).
    Otherwise as ``telemetry.publisher.run_simulator``.

    Raises
    ------
    ValueError
        For an unknown scenario, a bad rate_scale or key file, or no allowed key
        (all before binding).
    """
    dictionary, plan = check_simulation(dictionary, scenario, rate_scale, faults)
    secret = read_secret_key(curve_secret)
    server_public = zmq.curve_public(secret)
    keys = load_allowed_keys(
        list(allowed) or [Path(curve_secret).parent], exclude=server_public
    )
    log.info("CURVE server; %d console key(s) allowed", len(keys))
    frames = simulated_frames(
        dictionary, seed, duration, rate_scale, scenario, plan, encoding
    )
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        with ClientAllowList(context, keys):
            return publish(
                frames,
                bind,
                speed=rate_scale,
                stop_event=stop_event,
                wait_for_subscriber=wait_for_subscriber,
                encoding=encoding,
                on_bound=on_bound,
                context=context,
                curve_secret_key=secret,
            )
    finally:
        context.term()
