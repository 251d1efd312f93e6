"""CurveZMQ end to end with real sockets: who may talk to whom, and what is logged.

The publisher is a CURVE server with a ZAP allow-list of console keys
(``telemetry.security``); the console is a CURVE client that trusts one server
key (``console.config.curve_config``). Refusals on either side are logged.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import pytest
import zmq

from console.config import curve_config, generate_keys
from telemetry.archive import ArchiveReader
from telemetry.publisher import Publisher
from telemetry.security import ClientAllowList, load_allowed_keys
from telemetry.session import LiveSession, SessionConfig
from telemetry.subscriber import CurveConfig
from telemetry.wire import encode_frame

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from telemetry.dictionary import TelemetryDictionary

T0 = 1.75e9


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """A key directory as ``kibo-console keys`` makes it, for both sides."""
    directory = tmp_path / "keys"
    generate_keys(directory, "console")
    generate_keys(directory, "publisher")
    return directory


class CurvePublisher:
    """A CURVE-server XPUB with the allow-list, driven by the test thread."""

    def __init__(self, secret: bytes | None, allowed: dict[bytes, str]) -> None:
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.allow = ClientAllowList(self.context, allowed)
        self.allow.start()
        self.publisher = Publisher(
            "tcp://127.0.0.1:*",
            context=self.context,
            curve_secret_key=secret,
            linger_ms=0,
        )
        self.endpoint = self.publisher.endpoint
        self.sent = 0

    def send_until(
        self, done: Callable[[], bool], session: LiveSession, timeout: float = 20.0
    ) -> None:
        """Publish a 100 Hz robot stream until ``done()`` or the deadline."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while not done():
            sub = session.subscriber
            assert time.monotonic() < deadline, (
                f"condition not met in time: received {sub.received}, refused "
                f"{sub.refused}, handshakes {sub.handshakes}, error {sub.error!r}, "
                f"events {[(e.kind, e.detail) for e in session.store.events_since(0)]}"
            )
            t = T0 + self.sent * 0.1
            self.publisher.send(
                encode_frame("robot", "ib2-a", self.sent, [t], {"pos_x": [1.0]})
            )
            self.sent += 1
            pause.wait(0.01)  # pacing the stream, not waiting for a result

    def close(self) -> None:
        self.publisher.close()
        self.allow.stop()
        self.context.term()


@pytest.fixture
def publisher_for(keys: Path) -> Iterator[Callable[..., CurvePublisher]]:
    made: list[CurvePublisher] = []

    def make(
        secret: bytes | None = None, allowed: dict[bytes, str] | None = None
    ) -> CurvePublisher:
        if secret is None:
            secret = (keys / "publisher.key_secret").read_bytes().strip()
        if allowed is None:
            server = (keys / "publisher.key").read_bytes().strip()
            allowed = load_allowed_keys([keys], exclude=server)
        pub = CurvePublisher(secret, allowed)
        made.append(pub)
        return pub

    yield make
    for pub in made:
        pub.close()


def session_for(
    dictionary: TelemetryDictionary, endpoint: str, curve: CurveConfig, path: Path
) -> LiveSession:
    session = LiveSession(dictionary, SessionConfig([endpoint], path, curve=curve))
    session.start()
    return session


def refusals(session: LiveSession) -> list[str]:
    return [
        e.detail for e in session.store.events_since(0) if e.kind == "publisher refused"
    ]


def test_allowed_keys_come_from_key_files_but_never_the_servers_own(
    keys: Path,
) -> None:
    server = (keys / "publisher.key").read_bytes().strip()
    allowed = load_allowed_keys([keys], exclude=server)
    assert allowed == {(keys / "console.key").read_bytes().strip(): "console"}
    with pytest.raises(ValueError, match="no console public key"):
        load_allowed_keys([keys / "publisher.key"], exclude=server)


def test_trusted_pair_receives_encrypted_telemetry(
    keys: Path,
    publisher_for: Callable[..., CurvePublisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    pub = publisher_for()
    session = session_for(
        tiny_dictionary, pub.endpoint, curve_config(keys), tmp_path / "a.sqlite"
    )
    try:
        pub.send_until(lambda: session.store.sources.get("ib2-a") is not None, session)
        pub.send_until(lambda: session.store.sources["ib2-a"].messages >= 20, session)
    finally:
        session.stop()
    assert session.subscriber.refused == 0
    assert session.subscriber.handshakes == 1
    assert pub.allow.accepted == 1 and pub.allow.refused == 0
    assert refusals(session) == []


def test_console_refuses_a_publisher_with_another_key_and_logs_it(
    keys: Path,
    publisher_for: Callable[..., CurvePublisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    """An impostor publisher (a key the console does not trust) gets nowhere."""
    _, impostor_secret = zmq.curve_keypair()
    pub = publisher_for(secret=impostor_secret)
    path = tmp_path / "impostor.sqlite"
    session = session_for(tiny_dictionary, pub.endpoint, curve_config(keys), path)
    try:
        pub.send_until(lambda: session.subscriber.refused >= 3, session)
    finally:
        session.stop()
    assert session.subscriber.received == 0
    assert session.store.sources == {}
    # The handshake fails before the publisher's ZAP handler is even asked.
    assert pub.allow.accepted == 0
    (detail,) = refusals(session)  # repeats fold into one event
    assert pub.endpoint in detail
    assert "not the expected server key" in detail
    with ArchiveReader(path) as reader:
        archived = reader.events(kind="publisher refused")
    assert [e.detail for e in archived] == [detail]


def test_publisher_refuses_a_console_it_does_not_know(
    keys: Path,
    publisher_for: Callable[..., CurvePublisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A console with a valid server key but an unlisted key of its own."""
    caplog.set_level(logging.WARNING, logger="telemetry.security")
    pub = publisher_for()
    stranger_public, stranger_secret = zmq.curve_keypair()
    curve = CurveConfig(
        secret_key=stranger_secret,
        public_key=stranger_public,
        server_key=(keys / "publisher.key").read_bytes().strip(),
    )
    session = session_for(tiny_dictionary, pub.endpoint, curve, tmp_path / "s.sqlite")
    try:
        pub.send_until(lambda: bool(refusals(session)), session)
    finally:
        session.stop()
    assert session.subscriber.received == 0
    assert pub.allow.refused >= 1 and pub.allow.accepted == 0
    assert "refused this console's key (ZAP status 400)" in refusals(session)[0]
    assert stranger_public.decode() in caplog.text


def test_plain_console_gets_nothing_from_a_curve_publisher(
    publisher_for: Callable[..., CurvePublisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    pub = publisher_for()
    session = LiveSession(
        tiny_dictionary, SessionConfig([pub.endpoint], tmp_path / "p.sqlite")
    )
    session.start()
    try:
        pub.send_until(lambda: session.subscriber.refused >= 1, session)
    finally:
        session.stop()
    assert session.subscriber.received == 0
    assert "may require CURVE keys" in refusals(session)[0]


def test_curve_console_refuses_a_plain_publisher(
    keys: Path,
    publisher_for: Callable[..., CurvePublisher],
    tiny_dictionary: TelemetryDictionary,
    tmp_path: Path,
) -> None:
    """Nobody can downgrade the link by publishing without CURVE."""
    pub = CurvePublisher(None, {})
    try:
        session = session_for(
            tiny_dictionary, pub.endpoint, curve_config(keys), tmp_path / "d.sqlite"
        )
        try:
            pub.send_until(lambda: session.subscriber.refused >= 1, session)
        finally:
            session.stop()
    finally:
        pub.close()
    assert session.subscriber.received == 0
    assert refusals(session)


def test_key_files_are_private_and_never_overwritten_by_accident(
    keys: Path,
) -> None:
    assert (keys / "console.key_secret").stat().st_mode & 0o777 == 0o600
    assert keys.stat().st_mode & 0o777 == 0o700
    before = (keys / "console.key_secret").read_bytes()
    with pytest.raises(FileExistsError, match="--force"):
        generate_keys(keys, "console")
    assert (keys / "console.key_secret").read_bytes() == before
    (keys / "console.key_secret").chmod(0o644)
    generate_keys(keys, "console", force=True)
    assert (keys / "console.key_secret").stat().st_mode & 0o777 == 0o600
    assert (keys / "console.key_secret").read_bytes() != before
    with pytest.raises(ValueError, match="plain file name"):
        generate_keys(keys, "../elsewhere")


def test_a_secret_key_others_can_read_is_refused(keys: Path) -> None:
    curve_config(keys)
    (keys / "console.key_secret").chmod(0o640)
    with pytest.raises(ValueError, match="readable by others"):
        curve_config(keys)
